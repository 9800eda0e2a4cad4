//! What the unit tests of the format layer share: real sops files from the interop fixtures
//! with their data keys, fixed encryption settings, and the `ENC[...]` tokens of a text.

use super::file::{EncryptSettings, Envelope};
use super::metadata::AgeEntry;
use super::rules::CryptRule;
use crate::secret::DataKey;

/// A data key from its 64 hex digits (the interop fixtures record theirs).
pub fn key_hex(hex: &str) -> DataKey {
    let b: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    DataKey::from_bytes(&b).unwrap()
}

/// A file of `tests/fixtures/interop` (what sops and Flux wrote).
pub fn interop(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/interop/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The Kubernetes rule, a fixed timestamp and a placeholder envelope.
pub fn test_settings(key: &DataKey) -> EncryptSettings<'_> {
    EncryptSettings {
        key_groups: None,
        rule: CryptRule::kubernetes(),
        mac_only_encrypted: false,
        key,
        age: vec![AgeEntry {
            recipient: "age1test".into(),
            enc: "-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n-----END AGE ENCRYPTED FILE-----\n"
                .into(),
        }],
        lastmodified: "2026-11-27T10:00:00Z".into(),
        version: "3.11.0".into(),
        stash: None,
        policy: None,
    }
}

/// Everything an opened file recorded, its `lastmodified` included: encrypting its plaintext
/// again with these reproduces it.
pub fn settings_of(env: &Envelope) -> EncryptSettings<'_> {
    EncryptSettings {
        key_groups: env.meta.key_groups.clone(),
        rule: env.meta.rule.clone(),
        mac_only_encrypted: env.meta.mac_only_encrypted,
        key: &env.key,
        age: env.meta.age.clone(),
        lastmodified: env.meta.lastmodified.clone(),
        version: env.meta.version.clone(),
        stash: Some(&env.stash),
        policy: None,
    }
}

/// The `ENC[...]` tokens of a text, in order.
pub fn enc_tokens(s: &str) -> Vec<&str> {
    s.match_indices("ENC[")
        .map(|(i, _)| &s[i..i + s[i..].find(']').unwrap() + 1])
        .collect()
}
