//! Opening a file's data key with the identities found on this machine: the recipients of a
//! file with one key group, or enough key groups' shares of a file with several (Shamir).
//!
//! Within a group the loaded identities are tried on every entry before any key command runs,
//! so a password manager is asked only when nothing else opens the group; a key command then
//! runs once for each recipient tried (`SOPS_AGE_RECIPIENT`, as in sops >= 3.12).

use zeroize::Zeroizing;

use crate::error::{Error, Kind, Reason, Result};
use crate::keys::{self, shorten_recipient, Identities};
use crate::secret::DataKey;
use crate::sops::file::KeyOpener;
use crate::sops::keygroups::{self, SHARE_LEN};
use crate::sops::metadata::{AgeEntry, Metadata};

/// Opens a file's data key with the identities found on this machine.
pub struct IdentityOpener<'a> {
    pub ids: &'a Identities,
}

impl KeyOpener for IdentityOpener<'_> {
    fn open(&self, meta: &Metadata) -> Result<DataKey> {
        check_owners(meta)?;
        let result = match &meta.key_groups {
            None => self.open_entries(&meta.age, 32).and_then(|k| {
                DataKey::from_bytes(&k)
                    .ok_or_else(|| Error::new(Kind::Internal, "a data key is 32 bytes"))
            }),
            Some(groups) => keygroups::recover(groups, &mut |_, entries| {
                self.open_entries(entries, SHARE_LEN)
            }),
        };
        result.map_err(|e| match (&meta.key_groups, e.kind) {
            (None, Kind::NoIdentity) => self.no_identity(&meta.age, e),
            (Some(_), Kind::NoIdentity) => {
                let problems = self.ids.problems();
                let mut e = e;
                if !problems.is_empty() {
                    e.message.push_str(&format!("; {}", problems.join("; ")));
                }
                self.with_hint(e)
            }
            _ => e,
        })
    }
}

/// Every envelope of the file fits the recipient listed beside it (SSH stanzas carry their
/// key's tag): checked before any key is opened, so that a data key an outsider wrapped for
/// themselves under a team member's name is never reused or re-wrapped. Needs no key:
/// `updatekeys`, `rotate` and `status` check it when they read the `sops:` block.
pub fn check_owners(meta: &Metadata) -> Result<()> {
    for entry in meta.entries() {
        keys::check_envelope_owner(&entry.recipient, entry.enc.as_bytes())?;
    }
    Ok(())
}

impl IdentityOpener<'_> {
    /// The payload (`len` bytes) of the first entry that opens: every entry with the loaded
    /// identities, then every entry with what the key commands print for its recipient.
    fn open_entries(&self, entries: &[AgeEntry], len: usize) -> Result<Zeroizing<Vec<u8>>> {
        let mut last: Option<Error> = None;
        for pass_commands in [false, true] {
            if pass_commands && !self.ids.has_commands() {
                break;
            }
            for entry in entries {
                let tried = if pass_commands {
                    self.ids
                        .unwrap_for(&entry.recipient, entry.enc.as_bytes(), len)
                } else {
                    self.ids.unwrap_loaded(entry.enc.as_bytes(), len)
                };
                match tried {
                    Ok(k) => return Ok(k),
                    Err(e) if e.kind == Kind::NoIdentity => last = Some(e),
                    Err(e) => return Err(e),
                }
            }
        }
        let recipients: Vec<String> = entries
            .iter()
            .map(|a| shorten_recipient(&a.recipient))
            .collect();
        let mut e = last.unwrap_or_else(|| Error::new(Kind::NoIdentity, ""));
        // Kept for `no_identity`; a key group's failure is named by its recipients.
        e.message = if len == 32 {
            e.message
        } else {
            format!("no identity for {}", recipients.join(", "))
        };
        Err(e)
    }

    /// The message for a file with one key group that no identity opens.
    fn no_identity(&self, age: &[AgeEntry], last: Error) -> Error {
        // Post-quantum recipients are ~2,000 characters: shown as prefix...suffix.
        let recipients: Vec<String> = age
            .iter()
            .map(|a| shorten_recipient(&a.recipient))
            .collect();
        let detail = last.message;
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
        let problems = self.ids.problems();
        if !detail.is_empty() && !self.ids.is_empty() {
            msg.push_str(&format!(" ({detail})"));
        } else if !problems.is_empty() {
            // No identity at all, but something went wrong looking for one (a failing
            // KSEAL_AGE_KEY_CMD, a missing plugin): that is the useful part.
            msg.push_str(&format!(" ({})", problems.join("; ")));
        }
        let e = Error::new(Kind::NoIdentity, msg);
        // The error behind a problem (a key command that could not start) stays reachable.
        self.with_hint(match self.ids.problem_source() {
            Some(source) => e.with_source(source),
            None => e,
        })
    }

    fn with_hint(&self, e: Error) -> Error {
        let looked = self.ids.searched().join(", ");
        e.with_reason(Reason::NoIdentityForFile { looked })
    }
}
