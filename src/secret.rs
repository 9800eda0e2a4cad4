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

/// Plaintext bytes of a decrypted value: zeroized on drop, no `Debug` (`Zeroizing` alone
/// would print the bytes with `{:?}`).
pub struct Plaintext(zeroize::Zeroizing<Vec<u8>>);

impl Plaintext {
    pub fn new(bytes: Vec<u8>) -> Self {
        Plaintext(zeroize::Zeroizing::new(bytes))
    }
}

impl std::ops::Deref for Plaintext {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for Plaintext {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `impls`-style check: the inherent constant exists only for `Debug` types, otherwise the
    /// trait's `false` is found.
    struct Probe<T: ?Sized>(std::marker::PhantomData<T>);
    trait NotDebug {
        const DEBUG: bool = false;
    }
    impl<T: ?Sized> NotDebug for Probe<T> {}
    impl<T: ?Sized + std::fmt::Debug> Probe<T> {
        const DEBUG: bool = true;
    }

    #[test]
    fn secret_types_have_no_debug() {
        const { assert!(!Probe::<DataKey>::DEBUG) };
        const { assert!(!Probe::<Plaintext>::DEBUG) };
        // The probe itself works.
        const { assert!(Probe::<Vec<u8>>::DEBUG) };
    }

    #[test]
    fn plaintext_derefs_to_its_bytes() {
        let mut p = Plaintext::new(b"abc".to_vec());
        p.push(b'd');
        assert_eq!(&p[..], b"abcd");
    }
}
