//! `age-plugin-ksealtest`: a test age plugin for tests/cli/lifecycle.rs, built with the
//! `age-plugin` crate as a Cargo example (never shipped with kseal).
//!
//! It offers NO SECURITY: the file key is stored in the stanza body in clear. It exists to
//! drive kseal (and sops, and the Go age CLI) through the real plugin protocol over PATH:
//! recipients `age1ksealtest1...` and identities `AGE-PLUGIN-KSEALTEST-1...` carry the same
//! random 16-byte tag, and an identity opens only stanzas that carry its tag, so that a
//! removed recipient really loses access in tests.
//!
//! Run without arguments it prints a new identity file (`# recipient: age1ksealtest1...`).

use std::collections::{HashMap, HashSet};
use std::io;

use age_core::format::{FileKey, Stanza};
use age_core::secrecy::ExposeSecret;
use age_plugin::identity::{self, IdentityPluginV1};
use age_plugin::recipient::{self, RecipientPluginV1};
use age_plugin::{print_new_identity, run_state_machine, Callbacks, PluginHandler};
use base64::prelude::{Engine, BASE64_STANDARD_NO_PAD};

const NAME: &str = "ksealtest";

struct Handler;

impl PluginHandler for Handler {
    type RecipientV1 = Wrapper;
    type IdentityV1 = Unwrapper;

    fn recipient_v1(self) -> io::Result<Self::RecipientV1> {
        Ok(Wrapper { tags: Vec::new() })
    }

    fn identity_v1(self) -> io::Result<Self::IdentityV1> {
        Ok(Unwrapper { tags: Vec::new() })
    }
}

/// A recipient or identity payload is the 16-byte tag.
fn tag_of(bytes: &[u8]) -> Option<String> {
    (bytes.len() == 16).then(|| BASE64_STANDARD_NO_PAD.encode(bytes))
}

struct Wrapper {
    tags: Vec<String>,
}

impl RecipientPluginV1 for Wrapper {
    fn add_recipient(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        match tag_of(bytes).filter(|_| plugin_name == NAME) {
            Some(tag) => {
                self.tags.push(tag);
                Ok(())
            }
            None => Err(recipient::Error::Recipient {
                index,
                message: "not a ksealtest recipient".to_owned(),
            }),
        }
    }

    fn add_identity(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        match tag_of(bytes).filter(|_| plugin_name == NAME) {
            Some(tag) => {
                self.tags.push(tag);
                Ok(())
            }
            None => Err(recipient::Error::Identity {
                index,
                message: "not a ksealtest identity".to_owned(),
            }),
        }
    }

    fn labels(&mut self) -> HashSet<String> {
        HashSet::new()
    }

    fn wrap_file_keys(
        &mut self,
        file_keys: Vec<FileKey>,
        _callbacks: impl Callbacks<recipient::Error>,
    ) -> io::Result<Result<Vec<Vec<Stanza>>, Vec<recipient::Error>>> {
        Ok(Ok(file_keys
            .iter()
            .map(|key| {
                self.tags
                    .iter()
                    .map(|tag| Stanza {
                        tag: NAME.to_owned(),
                        args: vec![tag.clone()],
                        body: key.expose_secret().to_vec(),
                    })
                    .collect()
            })
            .collect()))
    }
}

struct Unwrapper {
    tags: Vec<String>,
}

impl IdentityPluginV1 for Unwrapper {
    fn add_identity(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), identity::Error> {
        match tag_of(bytes).filter(|_| plugin_name == NAME) {
            Some(tag) => {
                self.tags.push(tag);
                Ok(())
            }
            None => Err(identity::Error::Identity {
                index,
                message: "not a ksealtest identity".to_owned(),
            }),
        }
    }

    fn unwrap_file_keys(
        &mut self,
        files: Vec<Vec<Stanza>>,
        _callbacks: impl Callbacks<identity::Error>,
    ) -> io::Result<HashMap<usize, Result<FileKey, Vec<identity::Error>>>> {
        let mut keys = HashMap::new();
        for (index, stanzas) in files.into_iter().enumerate() {
            let mine = stanzas.iter().find(|s| {
                s.tag == NAME
                    && s.args.len() == 1
                    && self.tags.contains(&s.args[0])
                    && s.body.len() == 16
            });
            if let Some(s) = mine {
                let key = FileKey::try_init_with_mut(|k| {
                    k.copy_from_slice(&s.body);
                    Ok::<(), Vec<identity::Error>>(())
                });
                keys.insert(index, key);
            }
        }
        Ok(keys)
    }
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next() {
        Some(a) if a.starts_with("--age-plugin=") => {
            run_state_machine(&a["--age-plugin=".len()..], Handler)
        }
        Some(a) if a == "--age-plugin" => {
            let machine = args.next().unwrap_or_default();
            run_state_machine(&machine, Handler)
        }
        None => {
            let mut tag = [0u8; 16];
            getrandom::getrandom(&mut tag).map_err(io::Error::other)?;
            print_new_identity(NAME, &tag, &tag);
            Ok(())
        }
        Some(other) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown argument {other}; run without arguments for a new identity"),
        )),
    }
}
