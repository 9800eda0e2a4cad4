//! `kseal keygen`: a new X25519 identity in the age identity-file format, as age-keygen
//! writes it, so that age, rage and sops read it unchanged.

use age::secrecy::ExposeSecret;
use time::macros::format_description;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Generates a new X25519 identity. Returns the identity file text and the recipient:
///
/// ```text
/// # created: 2026-11-27T17:19:42Z
/// # public key: age1...
/// AGE-SECRET-KEY-1...
/// ```
pub fn generate_identity() -> (Zeroizing<String>, String) {
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let created = OffsetDateTime::now_utc()
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        // Formatting a UTC date into a String cannot fail; an empty date is harmless anyway.
        .unwrap_or_default();

    // Reserve enough up front: growing the String would leave copies of the secret behind in
    // freed memory that Zeroizing cannot reach.
    let mut text = Zeroizing::new(String::with_capacity(256));
    text.push_str("# created: ");
    text.push_str(&created);
    text.push_str("\n# public key: ");
    text.push_str(&public);
    text.push('\n');
    text.push_str(identity.to_string().expose_secret());
    text.push('\n');
    (text, public)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{wrap, Identities, Recipient};
    use crate::secret::DataKey;

    #[test]
    fn generated_identity_parses_back_and_matches_its_recipient() {
        let (text, public) = generate_identity();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let created = lines[0].strip_prefix("# created: ").unwrap();
        assert_eq!(created.len(), 20, "{created}");
        assert!(created.ends_with('Z'));
        OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!(lines[1], format!("# public key: {public}"));
        assert!(lines[2].starts_with("AGE-SECRET-KEY-1"));
        assert!(text.ends_with('\n'));
        assert!(
            text.capacity() == 256,
            "the text must not have been reallocated"
        );

        let recipient = Recipient::parse(&public).unwrap();
        let mut ids = Identities::new();
        ids.add_identity_file_text(&text, "generated").unwrap();
        assert_eq!(ids.len(), 1);
        let key = DataKey::generate().unwrap();
        let enc = wrap(&key, &recipient).unwrap();
        assert_eq!(ids.unwrap(&enc).unwrap().expose(), key.expose());

        // The same public key as the age crate derives from the secret line.
        let parsed: age::x25519::Identity = lines[2].parse().unwrap();
        assert_eq!(parsed.to_public().to_string(), public);
    }

    #[test]
    fn two_identities_differ() {
        assert_ne!(generate_identity().1, generate_identity().1);
    }
}
