//! The IV stash: how each value was sealed when a file was opened, so that re-encrypting an
//! unchanged value reproduces its ciphertext exactly.

use std::collections::HashMap;

use crate::error::Result;
use crate::secret::DataKey;
use crate::sops::value::{self, IV_LEN};

/// Remembers how every value was sealed on decryption so that re-encrypting an unchanged
/// value reproduces its ciphertext exactly (sops's stash; spec 1.3).
///
/// It keeps the ciphertext, not a digest of the plaintext: a recorded IV is reused only when
/// sealing the new plaintext with it gives back the recorded ciphertext and tag, which proves
/// the plaintext is the same. An IV is therefore never reused for a different plaintext, and
/// decryption pays nothing beyond keeping bytes it already has.
#[derive(Default, Clone)]
pub struct IvStash(HashMap<(String, String), Vec<Sealed>>);

#[derive(Clone)]
struct Sealed {
    iv: [u8; IV_LEN],
    data: Vec<u8>,
    tag: Vec<u8>,
    /// The encrypted text stood on its key's line (sops writes it so), not in a block scalar:
    /// an unchanged value goes back there even if decryption showed it as a `|` block.
    inline: bool,
}

impl IvStash {
    /// Records a value that opened with `aad`.
    pub fn record(&mut self, aad: &str, v: value::EncValue) {
        self.record_value(aad, v, true);
    }

    /// Records a value and whether its encrypted text stood inline (not in a block scalar).
    pub fn record_value(&mut self, aad: &str, v: value::EncValue, inline: bool) {
        let Ok(iv) = <[u8; IV_LEN]>::try_from(v.iv.as_slice()) else {
            return;
        };
        let sealed = Sealed {
            iv,
            data: v.data,
            tag: v.tag,
            inline,
        };
        self.0
            .entry((aad.to_string(), v.ty))
            .or_default()
            .push(sealed);
    }

    /// Seals a value, with its recorded IV when the plaintext is unchanged, else a fresh one.
    pub fn seal(&self, key: &DataKey, plaintext: &[u8], aad: &str, ty: &str) -> Result<String> {
        self.seal_value(key, plaintext, aad, ty).map(|(s, _)| s)
    }

    /// `seal`, also saying whether an unchanged value was recorded inline.
    pub fn seal_value(
        &self,
        key: &DataKey,
        plaintext: &[u8],
        aad: &str,
        ty: &str,
    ) -> Result<(String, Option<bool>)> {
        if let Some(candidates) = self.0.get(&(aad.to_string(), ty.to_string())) {
            for c in candidates
                .iter()
                .filter(|c| c.data.len() == plaintext.len())
            {
                let (data, tag) = value::seal_raw(key, plaintext, aad.as_bytes(), &c.iv)?;
                if data == c.data && tag == c.tag {
                    return Ok((value::render(&data, &c.iv, &tag, ty), Some(c.inline)));
                }
            }
        }
        Ok((
            value::seal(key, plaintext, aad.as_bytes(), &value::random_iv()?, ty)?,
            None,
        ))
    }

    pub fn len(&self) -> usize {
        self.0.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds what another decryption recorded (the merge driver: values taken from "theirs"
    /// keep their ciphertext). Safe under any key: an IV is only reused when it reproduces
    /// the recorded ciphertext.
    pub fn absorb(&mut self, other: &IvStash) {
        for (k, v) in &other.0 {
            self.0
                .entry(k.clone())
                .or_default()
                .extend(v.iter().cloned());
        }
    }
}
