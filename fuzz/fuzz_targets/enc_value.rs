//! Fuzz target: the `ENC[AES256_GCM,...]` parser.
//!
//! Any string parses or fails cleanly; a parsed value renders back to a string that parses to
//! the same fields, and opening it with a fixed key fails or succeeds without panicking.
#![no_main]

use kseal::secret::DataKey;
use kseal::sops::value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = value::is_encrypted(s);
    let Ok(v) = value::parse(s) else {
        return;
    };
    let key = DataKey::from_bytes(&[1u8; 32]).unwrap();
    let _ = value::open(&key, &v, b"data:password:");
    if v.ty.contains(']') || v.ty.contains('\n') {
        return;
    }
    let again = value::parse(&value::render(&v.data, &v.iv, &v.tag, &v.ty))
        .expect("a rendered value parses");
    assert_eq!(again.data, v.data);
    assert_eq!(again.iv, v.iv);
    assert_eq!(again.tag, v.tag);
    assert_eq!(again.ty, v.ty);
});
