//! `kseal create` (being written).
use kseal::error::{Error, Kind, Result};
pub fn run(_c: &crate::cli::CreateCommand) -> Result<()> {
    Err(Error::new(Kind::Unsupported, "create: being written"))
}
