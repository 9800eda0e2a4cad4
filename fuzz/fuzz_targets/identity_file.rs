//! Fuzz target: identity-file parsing (age identity files, OpenSSH keys, inline lists).
//!
//! Nothing may panic, and no error message may quote the input: a line of an identity file
//! is a private key. Passphrase-protected inputs get no terminal here and fail cleanly.
#![no_main]

use kseal::keys::Identities;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for inline in [false, true] {
        let mut ids = Identities::new();
        let r = if inline {
            ids.add_inline(text, "fuzz")
        } else {
            ids.add_identity_file_text(text, "fuzz")
        };
        if let Err(e) = r {
            // A key-sized line never shows up in the message. (Shorter lines may: the
            // message's own `AGE-SECRET-KEY-PQ-1...` hint contains them; a real key is 74+
            // characters.)
            for line in text.lines().map(str::trim) {
                if line.len() >= 40 && line.starts_with("AGE-SECRET-KEY-") {
                    assert!(!e.to_string().contains(line), "error quotes a key line");
                }
            }
        }
    }
});
