//! Nonce and key freshness: no IV repeats across the values and files kseal seals (a repeated
//! GCM nonce under one data key leaks the XOR of plaintexts and lets tags be forged), and no
//! two data keys are the same.

use std::collections::HashSet;

use super::file::{decrypt, encrypt, DecryptOptions, EncryptSettings};
use super::test_support::test_settings;
use super::value;
use crate::secret::DataKey;

/// A Secret with `n` values under `data` and `n` under `stringData`, all the same plaintext.
fn secret(n: usize) -> String {
    let mut s = String::from("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n");
    for i in 0..n {
        s.push_str(&format!("  k{i}: c2FtZQ==\n"));
    }
    s.push_str("stringData:\n");
    for i in 0..n {
        s.push_str(&format!("  s{i}: same\n"));
    }
    s
}

/// The IV of every `ENC[...]` of a file (values and the MAC), in order.
fn ivs(text: &str) -> Vec<Vec<u8>> {
    text.match_indices(value::PREFIX)
        .map(|(at, _)| {
            let end = at + text[at..].find(']').unwrap() + 1;
            value::parse(&text[at..end]).unwrap().iv
        })
        .collect()
}

fn encrypt_secret(src: &str, settings: &EncryptSettings<'_>) -> String {
    encrypt(src, settings, &|_| true).unwrap()
}

#[test]
fn no_iv_repeats_across_values_or_files() {
    let key = DataKey::generate().unwrap();
    let src = secret(32);
    let mut seen = HashSet::new();
    // Two files from the same plaintext under the same key (the worst case for a nonce).
    for _ in 0..2 {
        let out = encrypt_secret(&src, &test_settings(&key));
        let found = ivs(&out);
        assert_eq!(found.len(), 65, "64 values and the MAC");
        for iv in found {
            assert_eq!(iv.len(), value::IV_LEN);
            assert!(seen.insert(iv), "an IV was used twice");
        }
    }
}

/// Re-encrypting keeps the IV of an unchanged value (sops does, so diffs stay small) but
/// a changed value, and the MAC over it, get IVs never seen before.
#[test]
fn a_changed_value_gets_a_fresh_iv() {
    let key = DataKey::generate().unwrap();
    let src = secret(8);
    let first = encrypt_secret(&src, &test_settings(&key));
    let dec = decrypt(&first, &key, &DecryptOptions::default()).unwrap();
    let env = dec.envelope.unwrap();
    let changed = dec.text.replace("  s3: same\n", "  s3: other\n");
    let second = encrypt_secret(
        &changed,
        &EncryptSettings {
            key_groups: None,
            stash: Some(&env.stash),
            ..test_settings(&key)
        },
    );
    let (before, after) = (ivs(&first), ivs(&second));
    assert_eq!(before.len(), after.len());
    let old: HashSet<_> = before.iter().collect();
    let fresh: Vec<usize> = (0..after.len())
        .filter(|&i| !old.contains(&after[i]))
        .collect();
    // Value 11 is `s3` (8 under data first); the last is the MAC.
    assert_eq!(fresh, [11, after.len() - 1]);
    for i in (0..after.len()).filter(|i| !fresh.contains(i)) {
        assert_eq!(after[i], before[i], "unchanged value {i} keeps its IV");
    }
}

#[test]
fn data_keys_never_repeat() {
    let keys: Vec<[u8; 32]> = (0..64)
        .map(|_| *DataKey::generate().unwrap().expose())
        .collect();
    let distinct: HashSet<_> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len());
    assert!(keys.iter().all(|k| k.iter().any(|&b| b != k[0])));
}
