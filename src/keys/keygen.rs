//! `kseal keygen`: a new X25519 or post-quantum identity in the age identity-file format, as
//! age-keygen writes it, so that age, rage and sops read it unchanged.

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
    // Deprecated by the age crate as not quantum-safe; still what most peers read.
    #[allow(deprecated)]
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    identity_file(&public, identity.to_string().expose_secret(), 256)
}

/// Generates a new hybrid post-quantum identity (ML-KEM-768 + X25519, `age-keygen -pq`):
/// `# public key: age1pq1...` (about 1,950 characters) above `AGE-SECRET-KEY-PQ-1...`.
pub fn generate_pq_identity() -> (Zeroizing<String>, String) {
    let identity = age::pq::Identity::generate();
    let public = identity.to_public().to_string();
    identity_file(&public, identity.to_string().expose_secret(), 2304)
}

/// The identity file in age-keygen's layout. `capacity` is reserved up front: growing the
/// String would leave copies of the secret behind in freed memory that Zeroizing cannot
/// reach.
fn identity_file(public: &str, secret: &str, capacity: usize) -> (Zeroizing<String>, String) {
    let created = OffsetDateTime::now_utc()
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        // Formatting a UTC date into a String cannot fail; an empty date is harmless anyway.
        .unwrap_or_default();
    let mut text = Zeroizing::new(String::with_capacity(capacity));
    text.push_str("# created: ");
    text.push_str(&created);
    text.push_str("\n# public key: ");
    text.push_str(public);
    text.push('\n');
    text.push_str(secret);
    text.push('\n');
    (text, public.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{wrap, Identities, Recipient};
    use crate::secret::DataKey;

    /// The generated identity text loads as one identity that opens a data key wrapped for
    /// `public`; the envelope is returned.
    fn opens_what_is_wrapped_for(text: &str, public: &str) -> String {
        let recipient = Recipient::parse(public).unwrap();
        let mut ids = Identities::new();
        ids.add_identity_file_text(text, "generated").unwrap();
        assert_eq!(ids.len(), 1);
        let key = DataKey::generate().unwrap();
        let enc = wrap(&key, &recipient).unwrap();
        assert_eq!(ids.unwrap(&enc).unwrap().expose(), key.expose());
        enc
    }

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

        opens_what_is_wrapped_for(&text, &public);

        // The same public key as the age crate derives from the secret line.
        #[allow(deprecated)]
        let parsed: age::x25519::Identity = lines[2].parse().unwrap();
        assert_eq!(parsed.to_public().to_string(), public);
    }

    #[test]
    fn generated_pq_identity_parses_back_and_matches_its_recipient() {
        let (text, public) = generate_pq_identity();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("# created: "));
        assert_eq!(lines[1], format!("# public key: {public}"));
        assert!(public.starts_with("age1pq1"), "{public}");
        assert!(lines[2].starts_with("AGE-SECRET-KEY-PQ-1"));
        assert!(text.ends_with('\n'));
        assert_eq!(
            text.capacity(),
            2304,
            "the text must not have been reallocated"
        );

        let enc = opens_what_is_wrapped_for(&text, &public);
        assert!(enc.contains("-----BEGIN AGE ENCRYPTED FILE-----"));
        let parsed: age::pq::Identity = lines[2].parse().unwrap();
        assert_eq!(parsed.to_public().to_string(), public);
        assert_ne!(generate_pq_identity().1, public);
    }

    #[test]
    fn two_identities_differ() {
        assert_ne!(generate_identity().1, generate_identity().1);
    }
}
