//! The kseal CLI tests: one test binary, one module per area (as ripgrep lays out its tests),
//! the shared helpers in tests/common/mod.rs. `cargo test --test cli decrypt::` runs one area.

#[path = "../common/mod.rs"]
mod common;

mod attacks;
mod decrypt;
mod differential;
mod edit;
mod encrypt;
mod faults;
mod gitops;
mod gitops_deploy;
mod golden;
mod hardening;
mod keygen;
mod keygroups;
mod leaks;
mod lifecycle;
mod properties;
mod set_create;
mod sops_cli;
mod vim_plugin;
