//! `kseal keygen`: a new X25519 identity in age's identity-file format, optionally protected
//! by a passphrase (scrypt, armored, as `age -p` writes it).

use kseal::error::Result;

use crate::cli::KeygenArgs;
use crate::fsio;

pub fn run(args: &KeygenArgs) -> Result<()> {
    let (text, recipient) = if args.passphrase {
        // Asked before anything is generated or written: a typo leaves nothing behind.
        let passphrase = kseal::keys::ask_new_passphrase()?;
        let (file, recipient) = kseal::keys::generate_protected_identity(passphrase)?;
        (zeroize::Zeroizing::new(file), recipient)
    } else {
        kseal::keys::generate_identity()
    };
    match &args.output {
        Some(path) => fsio::write_new_private(path, text.as_bytes())?,
        None => fsio::write_stdout(text.as_bytes())?,
    }
    eprintln!("Public key: {recipient}");
    Ok(())
}
