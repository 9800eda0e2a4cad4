//! The file MAC: SHA-512 over the typed plaintext of every value of every document, in order.

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// sha256("sops"): the seed sops feeds first when `mac_only_encrypted` is set.
const MAC_ONLY_ENCRYPTED_SEED: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// A running MAC over a file's values.
#[derive(Clone)]
pub struct MacHasher {
    hash: Sha512,
    only_encrypted: bool,
}

impl MacHasher {
    pub fn new(only_encrypted: bool) -> Self {
        let mut hash = Sha512::new();
        if only_encrypted {
            hash.update(MAC_ONLY_ENCRYPTED_SEED);
        }
        MacHasher {
            hash,
            only_encrypted,
        }
    }

    /// Feeds one value's bytes; `encrypted` says whether the value is (or will be) encrypted.
    pub fn value(&mut self, bytes: &[u8], encrypted: bool) {
        if encrypted || !self.only_encrypted {
            self.hash.update(bytes);
        }
    }

    /// The 128-character uppercase hex digest sops stores.
    pub fn finish(self) -> String {
        let digest = self.hash.finalize();
        let mut out = String::with_capacity(128);
        for b in digest {
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
        out
    }
}

/// Compares a stored MAC with a computed one without leaking where they differ.
pub fn equal(stored: &[u8], computed: &[u8]) -> bool {
    stored.len() == computed.len() && bool::from(stored.ct_eq(computed))
}

#[cfg(test)]
#[path = "mac_tests.rs"]
mod mac_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_example_mac() {
        // spec 5.1: SHA512("v1" + "Secret" + "age" + "value")
        let mut m = MacHasher::new(false);
        for v in ["v1", "Secret", "age", "value"] {
            m.value(v.as_bytes(), false);
        }
        assert_eq!(m.finish(), "5E6C78D06EF2D302C2DBC6DE95E8050A5DC5D24A5EE3F394BEC133BC432257EAD15A476AE609FE74379E7120853F13A1B080772BE5F162AD6945A25113B48862");
    }

    #[test]
    fn seed_matches_sha256_of_sops() {
        use sha2::Sha256;
        assert_eq!(Sha256::digest(b"sops").as_slice(), &MAC_ONLY_ENCRYPTED_SEED);
    }
}
