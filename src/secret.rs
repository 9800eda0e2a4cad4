//! Secret material in memory: the file's data key and plaintext buffers, zeroized on drop and
//! never printable.

use secrecy::{ExposeSecret, SecretBox};

/// The 32-byte AES-256 key that encrypts every value of one file (sops calls it the data key).
pub struct DataKey(SecretBox<[u8; 32]>);

impl DataKey {
    /// A fresh random data key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut k = Box::new([0u8; 32]);
        getrandom::getrandom(&mut k[..])?;
        Ok(DataKey(SecretBox::new(k)))
    }

    /// Wraps key bytes that came out of an age envelope (or a test vector).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(DataKey(SecretBox::new(Box::new(arr))))
    }

    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }
}

impl Clone for DataKey {
    fn clone(&self) -> Self {
        DataKey(SecretBox::new(Box::new(*self.0.expose_secret())))
    }
}

/// Plaintext bytes of a decrypted value: zeroized on drop, no `Debug`.
pub type Plaintext = zeroize::Zeroizing<Vec<u8>>;
