//! Fuzz target: `decrypt` of arbitrary bytes with a fixed identity (the public test key of
//! tests/fixtures/sops-made, so that corpus entries made from those fixtures really open).
//!
//! Nothing may panic; errors are fine except internal ones. A file that decrypts must have a
//! verified MAC.
#![no_main]

use std::sync::OnceLock;

use kseal::error::{Error, Kind, Result};
use kseal::keys::Identities;
use kseal::secret::DataKey;
use kseal::sops::file::{self, DecryptOptions, KeyOpener};
use kseal::sops::metadata::Metadata;
use libfuzzer_sys::fuzz_target;

const KEY: &str = include_str!("../../tests/fixtures/sops-made/key.txt");

struct Opener(Identities);

impl KeyOpener for Opener {
    fn open(&self, meta: &Metadata) -> Result<DataKey> {
        for entry in &meta.age {
            if let Ok(k) = self.0.unwrap(&entry.enc) {
                return Ok(k);
            }
        }
        Err(Error::new(Kind::NoIdentity, "no identity"))
    }
}

fn opener() -> &'static Opener {
    static O: OnceLock<Opener> = OnceLock::new();
    O.get_or_init(|| {
        let mut ids = Identities::new();
        ids.add_identity_file_text(KEY, "fuzz")
            .expect("fixture key");
        Opener(ids)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match file::decrypt(src, opener(), &DecryptOptions::default()) {
        Ok(d) => assert!(d.envelope.as_ref().is_none_or(|e| e.mac_ok)),
        // Any input may be refused, but never with an internal error (a kseal bug).
        Err(e) => assert_ne!(e.kind, Kind::Internal, "internal error: {e}"),
    }
    // The rescue path must not panic either.
    let _ = file::decrypt(src, opener(), &DecryptOptions { ignore_mac: true, plain_only: true });
});
