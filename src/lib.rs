//! kseal: encrypt the values of Kubernetes Secrets in the SOPS v3 format (age recipients),
//! keeping every other byte of the manifest as the user wrote it.
//!
//! The library is pure: bytes in, bytes out. Reading files, finding keys on disk and printing
//! belong to the binary's `commands` layer.

pub mod config;
pub mod config_search;
pub mod error;
pub mod keys;
pub mod kube;
pub mod secret;
pub mod secrets;
pub mod sops;
pub mod tls;
pub mod view;
pub mod yaml;

pub mod check;
pub mod encdiff;
pub mod envfrom;
pub mod krm;
pub mod merge;
pub mod ops;
