//! `kseal keygen`: a new X25519 identity in age's identity-file format.

use kseal::error::Result;

use crate::cli::KeygenArgs;
use crate::fsio;

pub fn run(args: &KeygenArgs) -> Result<()> {
    let (text, recipient) = kseal::keys::generate_identity();
    match &args.output {
        Some(path) => fsio::write_new_private(path, text.as_bytes())?,
        None => fsio::write_stdout(text.as_bytes())?,
    }
    eprintln!("Public key: {recipient}");
    Ok(())
}
