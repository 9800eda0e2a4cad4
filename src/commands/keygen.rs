//! `kseal keygen`: a new X25519 (or, with `--pq`, hybrid post-quantum) identity in age's
//! identity-file format, optionally protected by a passphrase (scrypt, armored, as `age -p`
//! writes it).

use std::path::Path;

use kseal::error::{Error, Kind, Result};

use crate::cli::KeygenArgs;
use crate::fsio;

pub fn run(args: &KeygenArgs) -> Result<()> {
    if let Some(path) = &args.output {
        // Before a passphrase is asked: a path that cannot be written fails at once.
        create_parent(path)?;
    }
    let (text, recipient) = if args.passphrase {
        // Asked before anything is generated or written: a typo leaves nothing behind.
        let passphrase = kseal::keys::ask_new_passphrase()?;
        let (file, recipient) = if args.pq {
            let (plain, recipient) = kseal::keys::generate_pq_identity();
            (
                kseal::keys::protect_identity(&plain, passphrase)?,
                recipient,
            )
        } else {
            kseal::keys::generate_protected_identity(passphrase)?
        };
        (zeroize::Zeroizing::new(file), recipient)
    } else if args.pq {
        kseal::keys::generate_pq_identity()
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

/// Creates the missing directories above the identity file, 0700 like `~/.ssh`: on a fresh
/// machine `~/.config/sops/age/` (where sops and Flux tooling look) does not exist yet.
/// Directories that exist are left as they are.
fn create_parent(path: &Path) -> Result<()> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| {
        Error::new(
            Kind::Output,
            format!("cannot create the directory {}: {e}", dir.display()),
        )
    })
}
