//! The kseal CLI tests: one test binary, one module per area (as ripgrep lays out its tests).

#[path = "../common/mod.rs"]
mod common;

mod golden;
