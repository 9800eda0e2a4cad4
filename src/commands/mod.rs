//! One module per verb: read inputs, find keys, call the library, write outputs.

pub mod decrypt;
pub mod encrypt;
pub mod keygen;

use std::path::PathBuf;

use kseal::error::{Error, Kind, Result};
use kseal::keys::Identities;
use kseal::secret::DataKey;
use kseal::sops::file::KeyOpener;
use kseal::sops::metadata::Metadata;

/// The process environment, read through one function so the commands never reach for
/// variables in scattered places.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Prints a warning or note on stderr (never a value).
pub fn warn(msg: &str) {
    eprintln!("kseal: warning: {msg}");
}

pub fn note(msg: &str) {
    eprintln!("kseal: {msg}");
}

/// Opens a file's data key with the identities found on this machine.
pub struct IdentityOpener<'a> {
    pub ids: &'a Identities,
}

impl KeyOpener for IdentityOpener<'_> {
    fn open(&self, meta: &Metadata) -> Result<DataKey> {
        let mut last: Option<Error> = None;
        for entry in &meta.age {
            match self.ids.unwrap(&entry.enc) {
                Ok(k) => return Ok(k),
                Err(e) if e.kind == Kind::NoIdentity => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        let recipients: Vec<&str> = meta.age.iter().map(|a| a.recipient.as_str()).collect();
        if recipients.iter().all(|r| r.starts_with("age1pq1")) {
            return Err(Error::new(
                Kind::Unsupported,
                "the data key is wrapped only for post-quantum age recipients (age1pq1...), which kseal does not support yet",
            )
            .with_hint("decrypt it with sops >= 3.12, or add an X25519 recipient with `sops updatekeys`"));
        }
        let detail = last.map(|e| e.message).unwrap_or_default();
        let mut msg = if self.ids.is_empty() {
            "no age identity found to open the data key".to_string()
        } else {
            format!(
                "none of the {} identities found opens the data key",
                self.ids.len()
            )
        };
        msg.push_str(&format!(
            "; the file is encrypted to: {}",
            recipients.join(", ")
        ));
        if !detail.is_empty() && !self.ids.is_empty() {
            msg.push_str(&format!(" ({detail})"));
        }
        let looked = self.ids.searched().join(", ");
        Err(Error::new(Kind::NoIdentity, msg).with_hint(format!(
            "give the matching identity with --identity FILE or KSEAL_AGE_KEY_FILE; kseal looked in: {looked}"
        )))
    }
}

/// Loads identities from flags, variables and default files.
pub fn load_identities(flags: &[PathBuf]) -> Result<Identities> {
    kseal::keys::discover(flags, &env_var)
}

/// Refuses `-i` with stdin, where there is no file to replace.
pub fn check_in_place(inputs: &[crate::fsio::Input]) -> Result<()> {
    if inputs
        .iter()
        .any(|i| matches!(i, crate::fsio::Input::Stdin))
    {
        return Err(Error::new(Kind::Usage, "--in-place needs files, not stdin"));
    }
    Ok(())
}
