//! Fuzz target: YAML parse and the encrypt/decrypt splice round trip.
//!
//! Any input must parse or fail cleanly. When kseal encrypts it (with a fixed data key), the
//! result must decrypt with a good MAC, and a second round trip must give back exactly the
//! text of the first: the splicing is stable even where the first pass canonicalises a value
//! (documented exceptions in docs/format.md: folded blocks, non-canonical numbers). An
//! internal error (kseal's own output does not verify) is a finding too.
#![no_main]

use kseal::error::Kind;
use kseal::secret::DataKey;
use kseal::sops::file::{self, DecryptOptions, EncryptSettings};
use kseal::sops::metadata::AgeEntry;
use kseal::sops::rules::CryptRule;
use kseal::yaml::tree;
use libfuzzer_sys::fuzz_target;

fn settings(key: &DataKey) -> EncryptSettings<'_> {
    EncryptSettings {
        rule: CryptRule::kubernetes(),
        mac_only_encrypted: false,
        key,
        age: vec![AgeEntry {
            recipient: "age1fuzz".into(),
            enc: "-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n-----END AGE ENCRYPTED FILE-----\n"
                .into(),
        }],
        lastmodified: "2026-01-01T00:00:00Z".into(),
        version: "3.11.0".into(),
        stash: None,
        policy: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(stream) = tree::parse(src) else {
        return;
    };
    let key = DataKey::from_bytes(&[7u8; 32]).unwrap();
    let enc = match file::encrypt_checked(src, &stream, &settings(&key), &kseal::kube::is_secret) {
        Ok(enc) => enc,
        // Refusing an input is fine; an internal error (output that does not verify,
        // overlapping edits) is a kseal bug.
        Err(e) => {
            assert_ne!(e.kind, Kind::Internal, "internal error: {e}");
            return;
        }
    };
    let dec = file::decrypt(&enc, &key, &DecryptOptions::default())
        .unwrap_or_else(|e| panic!("kseal's own output does not decrypt: {e}"));
    assert!(dec.envelope.as_ref().is_some_and(|e| e.mac_ok));
    // Second pass: encrypt what came out, decrypt again, compare.
    let plain1: &str = &dec.text;
    let stream1 = tree::parse(plain1).expect("decrypted text parses");
    let enc2 = file::encrypt_checked(plain1, &stream1, &settings(&key), &kseal::kube::is_secret)
        .unwrap_or_else(|e| panic!("decrypted text does not encrypt again: {e}"));
    let dec2 = file::decrypt(&enc2, &key, &DecryptOptions::default()).expect("decrypts");
    assert_eq!(plain1, dec2.text.as_str(), "the round trip is not stable");
});
