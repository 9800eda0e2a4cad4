//! Vectors and branch tests for the file MAC (`mac.rs`): the `mac_only_encrypted` seed and
//! filter, the hex rendering, and the constant-time comparison.

use super::*;

/// SHA-512 of nothing, in the uppercase hex sops stores.
const SHA512_EMPTY: &str = "CF83E1357EEFB8BDF1542850D66D8007D620E4050B5715DC83F4A921D36CE9CE47D0D13C5D85F2B0FF8318D2877EEC2F63B931BD47417A81A538327AF927DA3E";

#[test]
fn only_encrypted_seeds_the_hash_and_skips_clear_values() {
    // python3: sha512(sha256(b"sops").digest() + b"enc1" + b"enc2")
    let expected = "159D7DAA70B0BF5D5AB8FB47F02EF360E577D30F7A479F9DD9A6CE48F3CE6174607EB494A5AEF2AE177406FE741C869D7E0A88AD5AB4E1A005017FF5A3893BC5";
    let mut m = MacHasher::new(true);
    m.value(b"clear", false);
    m.value(b"enc1", true);
    m.value(b"", false);
    m.value(b"enc2", true);
    assert_eq!(m.finish(), expected);
}

#[test]
fn without_the_option_every_value_counts_and_nothing_is_seeded() {
    assert_eq!(MacHasher::new(false).finish(), SHA512_EMPTY);
    let mut a = MacHasher::new(false);
    a.value(b"x", false);
    a.value(b"y", true);
    let mut b = MacHasher::new(false);
    b.value(b"xy", true);
    assert_eq!(a.finish(), b.finish());
    let mut c = MacHasher::new(false);
    c.value(b"x", false);
    assert_ne!(c.finish(), SHA512_EMPTY, "a clear value is part of the MAC");
}

#[test]
fn finish_renders_both_nibbles_of_every_byte() {
    // python3: sha512(b"\x0f\xf0"), whose digest has bytes with one nibble set either way.
    let mut m = MacHasher::new(false);
    m.value(&[0x0f, 0xf0], false);
    assert_eq!(m.finish(), "9E95DED1EE2208C3E583D3E67C55FED774B0A7692AE5C45306E40CBE8CB3E71F4E847B13969FFB043835502781A9E8879989A63F12CD8D0A53B4A45A584F98AB");
}

#[test]
fn equal_needs_the_same_length_and_bytes() {
    assert!(equal(b"ABCD", b"ABCD"));
    assert!(equal(b"", b""));
    assert!(!equal(b"ABCD", b"ABCE"));
    assert!(!equal(b"XBCD", b"ABCD"));
    assert!(!equal(b"ABC", b"ABCD"));
    assert!(!equal(b"ABCD", b"ABC"));
    assert!(!equal(b"", b"A"));
}

/// The structural MAC's version check: only `v<something>:` is another version (refused, so
/// a newer file is not silently treated as unsealed); anything else is simply not a MAC.
#[test]
fn structural_mac_of_another_version_is_refused_and_junk_is_no_mac() {
    use crate::sops::metadata::Metadata;
    use crate::sops::structural::verify;
    let text = "a: 1\nsops:\n  age:\n    - recipient: age1x\n      enc: e\n  lastmodified: \"2024-01-02T03:04:05Z\"\n";
    let st = crate::yaml::tree::parse(text).unwrap();
    let sops = st.docs[0].root_mapping().unwrap().get("sops").unwrap();
    let meta = Metadata::from_mapping(sops.as_mapping().unwrap()).unwrap();
    let key = crate::secret::DataKey::from_bytes(&[7; 32]).unwrap();
    let check = |stored: &str| verify(stored, &st, &[0], &meta, &key);
    let e = check(" v2:abc ").err().unwrap();
    assert_eq!(e.kind, crate::error::Kind::Unsupported);
    for junk in ["", "v", "x:y", "v2", "abc"] {
        assert!(!check(junk).unwrap(), "{junk:?}");
    }
}
