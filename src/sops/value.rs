//! One encrypted value: the `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` grammar and
//! AES-256-GCM with sops's 32-byte IV and separate 16-byte tag.

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::AesGcm;
// SIMD base64 (docs/dependencies.md): a sealed value is its ciphertext in base64, megabytes
// for a keystore. Same strict reading as the base64 crate's STANDARD (padding required, no stray
// bits before it; `b64_tests` compares the two).
use base64_simd::STANDARD;

use crate::error::{Error, Result};
use crate::secret::{DataKey, Plaintext};

/// sops derives the GCM nonce from a 32-byte IV (GHASH path), unlike the common 12 bytes.
type SopsGcm = AesGcm<Aes256, U32>;

pub const IV_LEN: usize = 32;
pub(crate) const TAG_LEN: usize = 16;
pub const PREFIX: &str = "ENC[AES256_GCM,data:";

/// The parts of an `ENC[...]` string, base64-decoded.
pub struct EncValue {
    pub data: Vec<u8>,
    pub iv: Vec<u8>,
    pub tag: Vec<u8>,
    pub ty: String,
}

/// Whether a string looks like a sops encrypted value (what sops's parser would try).
pub fn is_encrypted(s: &str) -> bool {
    s.starts_with(PREFIX)
}

/// The four fields of an `ENC[...]` text, still base64 (but the type).
pub struct Fields<'a> {
    pub data: &'a str,
    pub iv: &'a str,
    pub tag: &'a str,
    pub ty: &'a str,
}

/// The error of a malformed `ENC[...]` text; it never quotes the value.
pub(crate) fn malformed(what: &str) -> Error {
    Error::format(format!("malformed encrypted value: {what}"))
}

/// Parses the grammar as sops does: the regex `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`
/// (anchored at the start only, greedy groups). Errors never quote the value.
pub fn parse(s: &str) -> Result<EncValue> {
    let Fields { data, iv, tag, ty } = fields(s)?;
    let bad = malformed;
    let dec = |field: &str, name: &str| {
        STANDARD
            .decode_to_vec(field)
            .map_err(|_| bad(&format!("the {name} field is not valid base64")))
    };
    let v = EncValue {
        data: dec(data, "data")?,
        iv: dec(iv, "iv")?,
        tag: dec(tag, "tag")?,
        ty: ty.to_string(),
    };
    if v.iv.is_empty() {
        return Err(bad("empty IV"));
    }
    if v.tag.len() != TAG_LEN {
        return Err(bad("the tag is not 16 bytes"));
    }
    Ok(v)
}

/// The fields of `parse`'s grammar, not decoded.
pub fn fields(s: &str) -> Result<Fields<'_>> {
    let bad = malformed;
    // Greedy groups: each separator is the LAST occurrence that still leaves the later ones.
    let line = s.split('\n').next().unwrap_or("");
    let rest = line
        .strip_prefix(PREFIX)
        .ok_or_else(|| bad("it does not start with ENC[AES256_GCM,data:"))?;
    let close = rest.rfind(']').ok_or_else(|| bad("no closing bracket"))?;
    let body = &rest[..close];
    let t = body.rfind(",type:").ok_or_else(|| bad("no type field"))?;
    let (before_type, ty) = (&body[..t], &body[t + 6..]);
    let g = before_type
        .rfind(",tag:")
        .ok_or_else(|| bad("no tag field"))?;
    let (before_tag, tag) = (&before_type[..g], &before_type[g + 5..]);
    let i = before_tag.rfind(",iv:").ok_or_else(|| bad("no iv field"))?;
    let (data, iv) = (&before_tag[..i], &before_tag[i + 4..]);
    if data.is_empty() || iv.is_empty() || tag.is_empty() || ty.is_empty() {
        return Err(bad("an empty field"));
    }
    Ok(Fields { data, iv, tag, ty })
}

/// Decrypts and authenticates one value against its AAD (the key path, or `lastmodified`).
pub fn open(key: &DataKey, v: &EncValue, aad: &[u8]) -> Result<Plaintext> {
    // One copy: the ciphertext stays for the IV stash, the plaintext is made in place.
    open_buf(key, v, Plaintext::new(v.data.clone()), aad)
}

/// Decrypts `pt` (holding the ciphertext of `v`) in place.
fn open_buf(key: &DataKey, v: &EncValue, mut pt: Plaintext, aad: &[u8]) -> Result<Plaintext> {
    if v.iv.len() != IV_LEN {
        // sops derives the nonce size from the IV; every sops version writes 32 bytes.
        return Err(Error::format(format!(
            "unsupported IV length {} (sops writes 32)",
            v.iv.len()
        )));
    }
    let cipher = SopsGcm::new(GenericArray::from_slice(key.expose()));
    cipher
        .decrypt_in_place_detached(
            GenericArray::from_slice(&v.iv),
            aad,
            &mut pt,
            GenericArray::from_slice(&v.tag),
        )
        .map_err(|_| {
            Error::integrity("value failed authentication (wrong key, moved or tampered value)")
        })?;
    Ok(pt)
}

/// As [`open`], but the ciphertext is taken out of `v` and decrypted in place: no copy, for
/// callers that do not keep the ciphertext.
pub fn open_taking(key: &DataKey, v: &mut EncValue, aad: &[u8]) -> Result<Plaintext> {
    let data = std::mem::take(&mut v.data);
    open_buf(key, v, Plaintext::new(data), aad)
}

/// Encrypts `plaintext` with the given IV and renders the `ENC[...]` string.
pub fn seal(
    key: &DataKey,
    plaintext: &[u8],
    aad: &[u8],
    iv: &[u8; IV_LEN],
    ty: &str,
) -> Result<String> {
    let (data, tag) = seal_raw(key, plaintext, aad, iv)?;
    Ok(render(&data, iv, &tag, ty))
}

/// AES-256-GCM with sops's 32-byte IV: the ciphertext and the 16-byte tag, apart.
pub fn seal_raw(
    key: &DataKey,
    plaintext: &[u8],
    aad: &[u8],
    iv: &[u8; IV_LEN],
) -> Result<(Vec<u8>, Vec<u8>)> {
    let cipher = SopsGcm::new(GenericArray::from_slice(key.expose()));
    let mut out = cipher
        .encrypt(
            GenericArray::from_slice(iv),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Error::new(crate::error::Kind::Internal, "AES-GCM encryption failed"))?;
    let tag = out.split_off(out.len() - TAG_LEN);
    Ok((out, tag))
}

/// The `ENC[...]` text of a sealed value.
pub fn render(data: &[u8], iv: &[u8], tag: &[u8], ty: &str) -> String {
    let mut s = String::with_capacity(data.len() * 4 / 3 + 120);
    s.push_str(PREFIX);
    STANDARD.encode_append(data, &mut s);
    s.push_str(",iv:");
    STANDARD.encode_append(iv, &mut s);
    s.push_str(",tag:");
    STANDARD.encode_append(tag, &mut s);
    s.push_str(",type:");
    s.push_str(ty);
    s.push(']');
    s
}

/// A fresh random IV.
pub fn random_iv() -> Result<[u8; IV_LEN]> {
    let mut iv = [0u8; IV_LEN];
    getrandom::getrandom(&mut iv).map_err(|e| {
        Error::new(crate::error::Kind::Internal, format!("no randomness: {e}")).with_source(e)
    })?;
    Ok(iv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flux_key() -> DataKey {
        let hex = "558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb";
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        DataKey::from_bytes(&bytes).unwrap()
    }

    const FLUX_VALUE: &str = "ENC[AES256_GCM,data:mHeXsmQ=,iv:vUMpILz3xchORqkzDFvgwENY7EqIHHGJdEF6C8xqbFE=,tag:IroV7hykADvD0IUaq6kikA==,type:str]";

    #[test]
    fn opens_and_reproduces_a_real_sops_value() {
        let key = flux_key();
        let v = parse(FLUX_VALUE).unwrap();
        assert_eq!(v.ty, "str");
        let pt = open(&key, &v, b"stringData:key:").unwrap();
        assert_eq!(&pt[..], b"value");
        let iv: [u8; 32] = v.iv.clone().try_into().unwrap();
        assert_eq!(
            seal(&key, b"value", b"stringData:key:", &iv, "str").unwrap(),
            FLUX_VALUE
        );
    }

    #[test]
    fn wrong_aad_or_flipped_bit_fails() {
        let key = flux_key();
        let v = parse(FLUX_VALUE).unwrap();
        assert!(open(&key, &v, b"stringData:other:").is_err());
        let mut v2 = parse(FLUX_VALUE).unwrap();
        v2.data[0] ^= 1;
        assert_eq!(
            open(&key, &v2, b"stringData:key:").err().unwrap().kind,
            crate::error::Kind::Integrity
        );
    }

    #[test]
    fn malformed_values_are_format_errors() {
        for s in [
            "ENC[AES256_GCM,data:mHeXsmQ=,iv:vUMp,tag:IroV7hykADvD0IUaq6kikA==]",
            "ENC[AES256_GCM,data:!!!,iv:vUMpILz3xchORqkzDFvgwENY7EqIHHGJdEF6C8xqbFE=,tag:IroV7hykADvD0IUaq6kikA==,type:str]",
            "ENC[AES256_GCM,data:mHeXsmQ=,iv:vUMpILz3xchORqkzDFvgwENY7EqIHHGJdEF6C8xqbFE=,tag:IroV7hykA==,type:str]",
            "ENC[AES256_GCM,data:mHeXsmQ=,iv:vUMp",
        ] {
            assert_eq!(parse(s).err().unwrap().kind, crate::error::Kind::Format, "{s}");
        }
    }

    #[test]
    fn is_encrypted_wants_the_full_prefix() {
        assert!(is_encrypted(FLUX_VALUE));
        assert!(!is_encrypted("ENC[AES256_GCM,"));
        assert!(!is_encrypted("plain"));
    }

    /// Each field lands where it belongs, greedy like sops's regex (the last separator wins),
    /// and only the first line counts.
    #[test]
    fn parse_splits_every_field_exactly() {
        let v = parse(FLUX_VALUE).unwrap();
        assert_eq!(v.data, [0x98, 0x77, 0x97, 0xb2, 0x64]);
        assert_eq!(v.iv.len(), IV_LEN);
        assert_eq!(&v.iv[..4], &[0xbd, 0x43, 0x29, 0x20]);
        assert_eq!(&v.iv[28..], &[0xcc, 0x6a, 0x6c, 0x51]);
        assert_eq!(
            v.tag,
            [
                0x22, 0xba, 0x15, 0xee, 0x1c, 0xa4, 0x00, 0x3b, 0xc3, 0xd0, 0x85, 0x1a, 0xab, 0xa9,
                0x22, 0x90
            ]
        );
        let odd = "ENC[AES256_GCM,data:AA==,iv:AQ==,tag:IroV7hykADvD0IUaq6kikA==,type:s]t]\nu]";
        let v = parse(odd).unwrap();
        assert_eq!((v.data, v.iv, v.ty.as_str()), (vec![0], vec![1], "s]t"));
    }

    #[test]
    fn parse_refuses_each_empty_field() {
        let tag = "IroV7hykADvD0IUaq6kikA==";
        for s in [
            format!("ENC[AES256_GCM,data:,iv:AQ==,tag:{tag},type:str]"),
            format!("ENC[AES256_GCM,data:AA==,iv:,tag:{tag},type:str]"),
            "ENC[AES256_GCM,data:AA==,iv:AQ==,tag:,type:str]".to_string(),
            format!("ENC[AES256_GCM,data:AA==,iv:AQ==,tag:{tag},type:]"),
        ] {
            let e = parse(&s).err().unwrap();
            assert_eq!(e.kind, crate::error::Kind::Format, "{s}");
            assert!(e.to_string().contains("an empty field"), "{s}: {e}");
        }
        // Every field present, but the tag is one byte short or long.
        for tag in ["IroV7hykADvD0IUaq6ki", "IroV7hykADvD0IUaq6kikAAA"] {
            let s = format!("ENC[AES256_GCM,data:AA==,iv:AQ==,tag:{tag},type:str]");
            let e = parse(&s).err().unwrap();
            assert!(e.to_string().contains("not 16 bytes"), "{s}: {e}");
        }
        // An IV of another length parses (sops's grammar) but never opens.
        let short = "ENC[AES256_GCM,data:mHeXsmQ=,iv:AAAAAAAAAAAAAAAA,tag:IroV7hykADvD0IUaq6kikA==,type:str]";
        let e = open(&flux_key(), &parse(short).unwrap(), b"stringData:key:")
            .err()
            .unwrap();
        assert_eq!(e.kind, crate::error::Kind::Format);
        assert!(e.to_string().contains("unsupported IV length 12"), "{e}");
    }

    #[test]
    fn open_taking_decrypts_in_place() {
        let mut v = parse(FLUX_VALUE).unwrap();
        let pt = open_taking(&flux_key(), &mut v, b"stringData:key:").unwrap();
        assert_eq!(&pt[..], b"value");
        assert!(v.data.is_empty(), "the ciphertext was taken, not copied");
        let mut v = parse(FLUX_VALUE).unwrap();
        assert!(open_taking(&flux_key(), &mut v, b"stringData:other:").is_err());
    }

    #[test]
    fn seal_raw_splits_ciphertext_and_tag() {
        let v = parse(FLUX_VALUE).unwrap();
        let iv: [u8; 32] = v.iv.clone().try_into().unwrap();
        let (data, tag) = seal_raw(&flux_key(), b"value", b"stringData:key:", &iv).unwrap();
        assert_eq!((data, tag), (v.data.clone(), v.tag.clone()));
        let (data, tag) = seal_raw(&flux_key(), b"", b"", &iv).unwrap();
        assert!(data.is_empty());
        assert_eq!(tag.len(), TAG_LEN);
        // Long plaintexts render in full (the capacity guess is only a guess).
        let long = vec![7u8; 300];
        let s = seal(&flux_key(), &long, b"k:", &iv, "bytes").unwrap();
        let back = parse(&s).unwrap();
        assert_eq!(&open(&flux_key(), &back, b"k:").unwrap()[..], &long[..]);
        assert_eq!(back.ty, "bytes");
    }

    /// A constant IV would seal every value of every file under one GCM nonce: the XOR of
    /// the plaintexts leaks and tags can be forged. Each call must draw a fresh one.
    #[test]
    fn random_iv_never_repeats() {
        let ivs: Vec<[u8; IV_LEN]> = (0..256).map(|_| random_iv().unwrap()).collect();
        let distinct: std::collections::HashSet<_> = ivs.iter().collect();
        assert_eq!(distinct.len(), ivs.len());
        assert!(ivs.iter().all(|iv| iv.iter().any(|&b| b != 0)));
        assert!(ivs.iter().all(|iv| iv.iter().any(|&b| b != iv[0])));
    }
}

/// The SIMD base64 reads and writes exactly what the base64 crate's STANDARD engine does (the
/// engine kseal used before, strict like sops's readers need): same text, same bytes, same
/// refusals, at every length around the SIMD block sizes.
#[cfg(test)]
mod b64_tests {
    use base64::engine::general_purpose::STANDARD as REFERENCE;
    use base64::Engine;

    #[test]
    fn simd_base64_agrees_with_the_standard_engine() {
        for len in (0..200).chain([1023, 1024, 1025, 4095, 4096, 4097, 100_000]) {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 131 + len) as u8).collect();
            let text = super::STANDARD.encode_to_string(&bytes);
            assert_eq!(text, REFERENCE.encode(&bytes), "{len}");
            assert_eq!(super::STANDARD.decode_to_vec(&text).unwrap(), bytes);
            // Every single-byte change: both accept it (with the same bytes) or both refuse it.
            let step = (text.len() / 40).max(1);
            for at in (0..text.len())
                .step_by(step)
                .chain(text.len().saturating_sub(3)..text.len())
            {
                for c in [b'A', b'B', b'/', b'+', b'=', b'-', b'_', b' ', b'\n', 0x80] {
                    let mut t = text.clone().into_bytes();
                    t[at] = c;
                    let simd = super::STANDARD.decode_to_vec(&t).ok();
                    assert_eq!(simd, REFERENCE.decode(&t).ok(), "{len} {at} {c}");
                    assert_eq!(super::STANDARD.check(&t).is_ok(), simd.is_some());
                }
            }
        }
        for bad in [
            "Y", "YQ", "YQ=", "YR==", "YWJ=", "Y===", "=YWJ", "YW=j", "YQ==YQ==",
        ] {
            assert!(super::STANDARD.decode_to_vec(bad).is_err(), "{bad}");
            assert!(REFERENCE.decode(bad).is_err(), "{bad}");
        }
    }
}
