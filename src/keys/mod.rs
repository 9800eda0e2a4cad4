//! age recipients and identities: parsing, wrapping and unwrapping one data key, identity
//! discovery, passphrase prompts, plugins and key generation.
//!
//! This module knows nothing of YAML or of the sops format: it deals in recipient strings,
//! identity files and age envelopes (the armored age file that sops stores in `enc`). Secret
//! material (identity text, data keys, passphrases) never reaches an error message, a panic or
//! a `Debug` output.

mod discover;
mod identity;
mod keycmd;
mod keygen;
mod passphrase;
mod prompt;
mod recipient;
mod sshtag;

pub use discover::{discover, IDENTITY_VARS};
pub use identity::Identities;
pub use keygen::{generate_identity, generate_pq_identity};
pub use passphrase::{ask_new_passphrase, generate_protected_identity, protect_identity};
pub use prompt::{set_ui, NoUi, Ui};
pub use recipient::{
    parse_recipient_list, shorten as shorten_recipient, wrap, wrap_payload, Recipient,
};
pub use sshtag::{check_envelope_owner, ssh_stanza_tag};

/// Renders an age error for a message of ours.
///
/// The age crate localises its messages with Fluent, which wraps every interpolated value in
/// Unicode isolation marks (U+2068, U+2069); they are invisible in a terminal but break
/// `grep` and test assertions, so they are removed.
pub(crate) fn age_error_text(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .chars()
        .filter(|c| *c != '\u{2068}' && *c != '\u{2069}')
        .collect::<String>()
        .trim_end()
        .to_string()
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Fixtures shared by the tests of this module.

    use std::path::PathBuf;

    pub fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/keys")
            .join(name)
    }

    pub fn read_fixture(name: &str) -> String {
        std::fs::read_to_string(fixture(name))
            .unwrap_or_else(|e| panic!("cannot read fixture {name}: {e}"))
    }

    /// `unwrap_err` for results whose value (a data key) rightly has no `Debug`.
    pub trait MustFail {
        fn must_fail(self) -> crate::error::Error;
    }

    impl<T> MustFail for crate::error::Result<T> {
        fn must_fail(self) -> crate::error::Error {
            match self {
                Ok(_) => panic!("expected an error"),
                Err(e) => e,
            }
        }
    }

    pub fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The binary at `path` if it is installed, for interop tests that skip otherwise.
    pub fn tool(path: &str) -> Option<PathBuf> {
        let p = PathBuf::from(path);
        p.is_file().then_some(p)
    }

    /// An environment built from pairs, for `discover`.
    pub fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::age_error_text;

    #[test]
    fn age_error_text_drops_the_isolation_marks_around_interpolated_values() {
        // A real age error whose Fluent message interpolates a number: the crate wraps it in
        // U+2068/U+2069, which must not reach a message of ours.
        let e = age::DecryptError::ExcessiveWork {
            required: 20,
            target: 18,
        };
        assert!(e.to_string().contains('\u{2068}'), "{e}");
        assert_eq!(
            age_error_text(&e),
            "Excessive work parameter for passphrase.\nDecryption would take around 4 seconds."
        );
    }

    #[test]
    fn age_error_text_keeps_other_text_and_trims_the_end() {
        let text = "\u{2068}a\u{2069} \u{2069}b\u{2068}\n\n";
        assert_eq!(age_error_text(&text), "a b");
        assert_eq!(age_error_text(&"  indented\tline  "), "  indented\tline");
    }
}
