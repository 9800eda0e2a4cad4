//! `kseal set` and `kseal unset` (being written).
use kseal::error::{Error, Kind, Result};
pub fn run_set(_a: &crate::cli::SetArgs) -> Result<()> {
    Err(Error::new(Kind::Unsupported, "set: being written"))
}
pub fn run_unset(_a: &crate::cli::UnsetArgs) -> Result<()> {
    Err(Error::new(Kind::Unsupported, "unset: being written"))
}
