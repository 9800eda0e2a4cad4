//! sops.
