//! Opening one large `ENC[...]` value chunk by chunk (issue 16): base64 decoding, GHASH and
//! AES-CTR run over 64 KiB at a time and each chunk of plaintext goes to the file MAC on a
//! second core while the next one is decrypted, instead of hashing the whole value after the
//! whole value was decrypted. The same AES-256-GCM with sops's 32-byte IV as `value::open`,
//! built from the primitives aes-gcm itself is made of; the plaintext is returned only once
//! the tag verified (after the last chunk). On any error the caller falls back to
//! `value::open`, which reports it as it always did.

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aes::cipher::{BlockEncrypt, KeyInit};
use aes_gcm::aes::Aes256;
use base64_simd::STANDARD;
use ctr::cipher::{KeyIvInit, StreamCipher};
use ghash::universal_hash::UniversalHash;
use ghash::GHash;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::mac::MacHasher;
use super::value::{self, IV_LEN, TAG_LEN};
use crate::error::{Error, Result};
use crate::secret::{DataKey, Plaintext};

/// Ciphertext bytes per chunk: a multiple of 16 (GHASH blocks, whole counter blocks) and of 3
/// (whole base64 quanta), about 64 KiB.
const CHUNK: usize = 48 * 1365;

/// `ENC[...]` texts at least this long are worth a second thread.
pub const MIN_LEN: usize = 256 * 1024;

/// Opens `text`, an `ENC[...]` value, under `aad`, and feeds its plaintext to `hasher` (as
/// an encrypted value's bytes) on a second thread as it is decrypted. Only for type `str`,
/// whose plaintext is what the MAC hashes; the caller checks the type (`value::fields`).
pub fn open_hashing(
    key: &DataKey,
    text: &str,
    aad: &[u8],
    hasher: &mut MacHasher,
) -> Result<Plaintext> {
    let f = value::fields(text)?;
    let bad = || value::malformed("a field is not valid base64");
    let iv = STANDARD.decode_to_vec(f.iv).map_err(|_| bad())?;
    let tag = STANDARD.decode_to_vec(f.tag).map_err(|_| bad())?;
    if iv.len() != IV_LEN || tag.len() != TAG_LEN {
        return Err(value::malformed("unexpected IV or tag length"));
    }
    let b64 = f.data.as_bytes();
    let len = decoded_len(b64).ok_or_else(bad)?;
    let mut pt = Plaintext::new(vec![0u8; len]);
    let mut gcm = Gcm::new(key, &iv, aad);
    let out: &mut [u8] = &mut pt;
    let decoded = std::thread::scope(|sc| {
        let (tx, rx) = std::sync::mpsc::channel::<&[u8]>();
        let hashing = sc.spawn(move || rx.into_iter().for_each(|c| hasher.value(c, true)));
        let decoded = gcm.open_chunks(b64, out, &mut |c| {
            // The receiver lives until every chunk is sent (it stops only by panicking).
            let _ = tx.send(c);
        });
        drop(tx);
        hashing.join().map(|()| decoded)
    })
    .map_err(|_| Error::new(crate::error::Kind::Internal, "the MAC thread failed"))?;
    if !decoded {
        return Err(bad());
    }
    if !gcm.tag_matches(aad.len(), len, &tag) {
        return Err(Error::integrity(
            "value failed authentication (wrong key, moved or tampered value)",
        ));
    }
    Ok(pt)
}

/// The length of the bytes that canonical standard base64 `b64` decodes to, if its length
/// and padding allow one (the decoding itself checks the rest).
fn decoded_len(b64: &[u8]) -> Option<usize> {
    if !b64.len().is_multiple_of(4) {
        return None;
    }
    let pad = b64.iter().rev().take_while(|c| **c == b'=').count();
    (pad <= 2).then(|| b64.len() / 4 * 3 - pad)
}

/// AES-256-GCM decryption in steps: the counter stream, the running GHASH over the AAD and
/// the ciphertext so far, and the mask (the first counter block) that turns it into the tag.
struct Gcm {
    ctr: ctr::Ctr32BE<Aes256>,
    ghash: GHash,
    mask: [u8; 16],
}

impl Gcm {
    fn new(key: &DataKey, iv: &[u8], aad: &[u8]) -> Self {
        let k = GenericArray::from_slice(key.expose());
        // H = E_K(0^128), the GHASH key.
        let mut h = ghash::Key::default();
        Aes256::new(k).encrypt_block(&mut h);
        let ghash = GHash::new(&h);
        h.zeroize();
        // A nonce of other than 12 bytes: J0 = GHASH_H(IV, padded, || 0^64 || [len(IV)]_64).
        let mut g = ghash.clone();
        g.update_padded(iv);
        let mut lens = ghash::Block::default();
        lens[8..].copy_from_slice(&(iv.len() as u64 * 8).to_be_bytes());
        g.update(&[lens]);
        let j0 = g.finalize();
        // The first counter block masks the tag; the data starts at inc32(J0).
        let mut ctr = ctr::Ctr32BE::<Aes256>::new(k, &j0);
        let mut mask = [0u8; 16];
        ctr.apply_keystream(&mut mask);
        let mut ghash = ghash;
        ghash.update_padded(aad);
        Gcm { ctr, ghash, mask }
    }

    /// Decodes, authenticates (GHASH) and decrypts `b64` into `out` chunk by chunk, handing
    /// each decrypted chunk to `sink`. False if `b64` does not decode to exactly `out`.
    fn open_chunks<'a>(
        &mut self,
        b64: &[u8],
        out: &'a mut [u8],
        sink: &mut dyn FnMut(&'a [u8]),
    ) -> bool {
        let step = CHUNK / 3 * 4;
        let mut from = 0;
        for o in out.chunks_mut(CHUNK) {
            let to = (from + step).min(b64.len());
            let len = o.len();
            match STANDARD.decode(&b64[from..to], base64_simd::Out::from_slice(o)) {
                Ok(d) if d.len() == len => {}
                _ => return false,
            }
            from = to;
            // Every chunk but the last is whole blocks, so padding happens only at the end.
            self.ghash.update_padded(o);
            self.ctr.apply_keystream(o);
            sink(o);
        }
        from == b64.len()
    }

    /// Whether the GHASH of everything so far, masked, is `tag` (in constant time).
    fn tag_matches(&mut self, aad_len: usize, ct_len: usize, tag: &[u8]) -> bool {
        let mut lens = ghash::Block::default();
        lens[..8].copy_from_slice(&(aad_len as u64 * 8).to_be_bytes());
        lens[8..].copy_from_slice(&(ct_len as u64 * 8).to_be_bytes());
        self.ghash.update(&[lens]);
        let mut t = self.ghash.clone().finalize();
        for (a, b) in t.iter_mut().zip(self.mask) {
            *a ^= b;
        }
        let ok = bool::from(t.as_slice().ct_eq(tag));
        t.zeroize();
        self.mask.zeroize();
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey::from_bytes(&[9u8; 32]).unwrap()
    }

    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// The chunked open gives what `value::open` gives, and the hasher what hashing the
    /// plaintext at once gives, for sizes around the chunk and block boundaries.
    #[test]
    fn same_plaintext_and_mac_as_value_open() {
        let key = key();
        let sizes = [
            0,
            1,
            15,
            16,
            17,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 7,
            300_001,
        ];
        for (i, &n) in sizes.iter().enumerate() {
            let pt = bytes(n, i as u64 + 1);
            let iv: [u8; IV_LEN] = bytes(IV_LEN, 99 + i as u64).try_into().unwrap();
            let text = value::seal(&key, &pt, b"data:k:", &iv, "str").unwrap();
            let mut h = MacHasher::new(false);
            h.value(b"before", false);
            let got = open_hashing(&key, &text, b"data:k:", &mut h);
            if n == 0 {
                // An empty ciphertext leaves `data:` empty, which the grammar refuses.
                assert!(got.is_err() && value::parse(&text).is_err());
                continue;
            }
            let expected = value::open(&key, &value::parse(&text).unwrap(), b"data:k:").unwrap();
            assert_eq!(&got.unwrap()[..], &expected[..], "size {n}");
            let mut whole = MacHasher::new(false);
            whole.value(b"before", false);
            whole.value(&pt, true);
            assert_eq!(h.finish(), whole.finish(), "size {n}");
        }
    }

    /// A whole file with a large value before and after small ones decrypts to the same bytes
    /// with the chunked open (`plain_only`) as without, and a tampered large value fails
    /// with the same error either way.
    #[test]
    fn file_decrypt_is_the_same_with_and_without_chunks() {
        use crate::sops::file::{self, DecryptOptions};
        use crate::sops::test_support::test_settings;
        use base64::engine::general_purpose::STANDARD as B64;
        use base64::Engine;
        let key = key();
        let big = B64.encode(bytes(400_000, 5));
        let src = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  a: YQ==\n  big: {big}\n  z: eg==\nstringData:\n  t: text\n"
        );
        let enc = file::encrypt(&src, &test_settings(&key), &|_| true).unwrap();
        let plain = DecryptOptions {
            plain_only: true,
            ..Default::default()
        };
        let stash = DecryptOptions::default();
        let a = file::decrypt(&enc, &key, &plain).unwrap();
        let b = file::decrypt(&enc, &key, &stash).unwrap();
        assert_eq!(*a.text, src);
        assert_eq!(*b.text, src);
        assert!(a.envelope.unwrap().mac_ok);
        let at = enc.find("big: ENC[").unwrap() + 200;
        let mut t = enc.into_bytes();
        t[at] = if t[at] == b'A' { b'B' } else { b'A' };
        let t = String::from_utf8(t).unwrap();
        let ea = file::decrypt(&t, &key, &plain).err().unwrap();
        let eb = file::decrypt(&t, &key, &stash).err().unwrap();
        assert_eq!(ea.to_string(), eb.to_string());
    }

    /// A wrong AAD, a flipped ciphertext, IV or tag bit, or a cut value: an error.
    #[test]
    fn an_iv_or_a_tag_of_another_length_is_malformed() {
        use base64::engine::general_purpose::STANDARD as B64;
        use base64::Engine;
        let key = key();
        let text = value::seal(
            &key,
            &bytes(CHUNK + 3, 4),
            b"data:k:",
            &[5u8; IV_LEN],
            "str",
        )
        .unwrap();
        let f = value::fields(&text).unwrap();
        // A 12-byte IV with a whole tag, and a whole IV with a 15-byte tag: either alone is
        // enough to refuse before any decryption (the caller then opens the value the
        // ordinary way, which reads any IV length as sops does).
        let short_iv = text.replacen(f.iv, &B64.encode([5u8; 12]), 1);
        let short_tag = text.replacen(f.tag, &B64.encode([6u8; 15]), 1);
        for t in [short_iv, short_tag] {
            let Err(e) = open_hashing(&key, &t, b"data:k:", &mut MacHasher::new(false)) else {
                panic!("opened")
            };
            assert!(
                e.message.contains("unexpected IV or tag length"),
                "{}",
                e.message
            );
        }
    }

    /// Padding inside the text (a chunk that decodes short) is malformed base64, refused
    /// before the tag is even computed.
    #[test]
    fn padding_inside_the_data_is_malformed() {
        let key = key();
        let text = value::seal(
            &key,
            &bytes(2 * CHUNK, 8),
            b"data:k:",
            &[5u8; IV_LEN],
            "str",
        )
        .unwrap();
        let at = value::PREFIX.len() + CHUNK / 3 * 4;
        let mut b = text.into_bytes();
        b[at - 4..at].copy_from_slice(b"AA==");
        let t = String::from_utf8(b).unwrap();
        let Err(e) = open_hashing(&key, &t, b"data:k:", &mut MacHasher::new(false)) else {
            panic!("opened")
        };
        assert!(e.message.contains("not valid base64"), "{}", e.message);
    }

    #[test]
    fn tampering_is_an_error() {
        let key = key();
        let pt = bytes(2 * CHUNK + 5, 7);
        let iv = [3u8; IV_LEN];
        let text = value::seal(&key, &pt, b"data:k:", &iv, "str").unwrap();
        let mut h = MacHasher::new(false);
        assert!(open_hashing(&key, &text, b"data:x:", &mut h).is_err());
        let f = value::fields(&text).unwrap();
        let flip = |s: &str, at: usize| {
            let mut b = s.as_bytes().to_vec();
            b[at] = if b[at] == b'A' { b'B' } else { b'A' };
            String::from_utf8(b).unwrap()
        };
        let data_at = value::PREFIX.len();
        for at in [
            data_at + 5,
            data_at + f.data.len() / 2,
            data_at + f.data.len() - 8,
        ] {
            assert!(open_hashing(&key, &flip(&text, at), b"data:k:", &mut h).is_err());
        }
        let iv_at = text.find(",iv:").unwrap() + 6;
        let tag_at = text.find(",tag:").unwrap() + 6;
        for at in [iv_at, tag_at] {
            assert!(open_hashing(&key, &flip(&text, at), b"data:k:", &mut h).is_err());
        }
        let cut = text.replacen(&f.data[f.data.len() - 8..], "", 1);
        assert!(open_hashing(&key, &cut, b"data:k:", &mut h).is_err());
        let other = DataKey::from_bytes(&[1u8; 32]).unwrap();
        assert!(open_hashing(&other, &text, b"data:k:", &mut h).is_err());
    }
}
