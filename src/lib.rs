//! kseal: encrypt the values of Kubernetes Secrets in the SOPS v3 format (age recipients),
//! keeping every other byte of the manifest as the user wrote it.
//!
//! Where I/O happens. The library works on bytes: reading manifests, writing results, printing
//! and exit codes belong to the binary (`commands`, `fsio`). Two stated exceptions, both about
//! finding keys and rules, where the answer lives on disk by definition:
//! - `keys` reads the identity files and runs the key commands (`*_AGE_KEY_CMD`) that the
//!   caller names; the caller passes the environment in as a function (`keys::discover`), and
//!   every prompt (passphrases, age plugins) goes through the [`keys::Ui`] trait, which the
//!   binary implements on the terminal (without one, nothing is ever asked);
//! - `config_search` looks for `.sops.yaml` upward from a directory and checks who may write it.
//!
//! Everything else (`yaml`, `sops`, `kube`, `ops`, ...) never touches the file system, the
//! environment or a terminal.

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

#[cfg(test)]
mod arch_tests;
