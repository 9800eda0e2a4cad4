//! Checks that an envelope's SSH stanzas belong to the recipient the sops block lists for it.
//!
//! age's `ssh-ed25519` and `ssh-rsa` stanzas start with a tag: the first 4 bytes of SHA-256
//! over the SSH wire encoding of the recipient's public key (base64 without padding), so that
//! an identity can skip stanzas that are not for it. The `recipient:` beside an `enc` in a
//! sops file is only a label: someone who can push but holds no key can relabel an envelope
//! made for their own key with a team member's, so that the recipients look like the rules'
//! and the next write reuses a data key they can open. For SSH recipients the tag shows the
//! lie without any secret; X25519 stanzas carry nothing that names their recipient.

use base64::prelude::{Engine, BASE64_STANDARD, BASE64_STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

use super::identity::{decode_envelope, stanza_heads};
use super::recipient::shorten;
use crate::error::{Error, Kind, Result};

const SSH_TYPES: [&str; 2] = ["ssh-ed25519", "ssh-rsa"];

/// The stanza type and tag age writes for an SSH recipient line (`ssh-ed25519 AAAA... comment`);
/// `None` when the line is not an SSH recipient or its key is not base64.
pub fn ssh_stanza_tag(recipient: &str) -> Option<(&'static str, String)> {
    let mut parts = recipient.split_ascii_whitespace();
    let kind = parts.next()?;
    let kind = SSH_TYPES.into_iter().find(|t| *t == kind)?;
    let wire = BASE64_STANDARD.decode(parts.next()?).ok()?;
    Some((
        kind,
        BASE64_STANDARD_NO_PAD.encode(&Sha256::digest(&wire)[..4]),
    ))
}

/// Refuses (exit 6) an envelope whose stanzas do not fit its listed recipient: an SSH
/// recipient's envelope must hold only stanzas of its type with its tag, and an envelope
/// listed under any other recipient must hold no SSH stanza.
pub fn check_envelope_owner(recipient: &str, enc: &[u8]) -> Result<()> {
    let file = decode_envelope(enc)?;
    let stanzas = stanza_heads(&file);
    let listed = || shorten(recipient);
    match ssh_stanza_tag(recipient) {
        Some((kind, tag)) => {
            if stanzas.is_empty() {
                return Err(mislabelled(format!(
                    "the envelope listed for {} holds no {kind} stanza",
                    listed()
                )));
            }
            for (t, arg) in &stanzas {
                if t != kind || *arg != tag {
                    return Err(mislabelled(format!(
                        "the envelope listed for {} is for another key: its stanza is `{} {}`, the listed key's is `{kind} {tag}`",
                        listed(),
                        short(t),
                        short(arg)
                    )));
                }
            }
        }
        None if recipient.starts_with("ssh-") => {
            // An SSH recipient kseal cannot read a key from: nothing to compare with.
            return Err(Error::format(format!(
                "the recipient {} in the sops block is not a valid SSH public key",
                listed()
            )));
        }
        None => {
            if let Some((t, arg)) = stanzas
                .iter()
                .find(|(t, _)| SSH_TYPES.contains(&t.as_str()))
            {
                return Err(mislabelled(format!(
                    "the envelope listed for {} is for an SSH key (`{} {}`)",
                    listed(),
                    short(t),
                    short(arg)
                )));
            }
        }
    }
    Ok(())
}

fn mislabelled(msg: String) -> Error {
    Error::new(
        Kind::Integrity,
        format!("{msg}; the sops block was edited (a recipient label moved to an envelope made for someone else?)"),
    )
}

/// Stanza words come from the file: bounded, so a crafted header cannot flood a message.
fn short(s: &str) -> String {
    if s.chars().count() <= 48 {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(48).collect::<String>())
    }
}

#[cfg(test)]
#[allow(deprecated)] // SSH recipients are not quantum-safe, and still supported.
mod tests {
    use super::*;
    use crate::keys::{wrap, Recipient};
    use crate::secret::DataKey;

    // Public halves only (made with `ssh-keygen -C ""`); no private key is needed to wrap.
    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE9c4rTjOhajPyRIKhDDAFkPr3dMZ6LAGhOXw6nHHwBp";
    const ED2: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN user@host";
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDjECasl4M0tmIFQXp2kcZNISr7rTylduGe9xBDTYa2w7xhEfkIBgfN9En1bYiqm08kmXAoYIAHYixQ5YsGtsmjLVKqtRlj9U3r/sD1nkvHMBBG0QGfVu0GTCznNVPk8aQ0LHmP7sGQYLwbvt+JaAE0nNXtIcLAR8ObJIU+R3JDDkTfDlGBz6ROfB+pVFsFouKrUr3PkGs3fzLerfvwuvijsxx3t3mW0pTyMo/Xvc4xN3ycB3OC1/6MU9kXa51a4SEzHcYRgZ2Qm70t1XENI9qvLuYvEXTyKbtrO0A+JSEDMpkckWbaSyX8NfEk0y+N+aLKEF/xkLalf28ELGrRD9zD";
    const X25519: &str = "age1dwcd6ctln66ku4y2994dmcycfgueqav08gg5vhetz95zz2hq7pfqueq0dr";

    fn envelope_for(recipient: &str) -> String {
        let key = DataKey::from_bytes(&[7u8; 32]).unwrap();
        wrap(&key, &Recipient::parse(recipient).unwrap()).unwrap()
    }

    /// The tag as age defines it, computed here independently from the key's bytes.
    #[test]
    fn tag_is_the_first_four_bytes_of_sha256_of_the_wire_key() {
        let (kind, tag) = ssh_stanza_tag(ED).unwrap();
        assert_eq!(kind, "ssh-ed25519");
        let wire = BASE64_STANDARD
            .decode(ED.split(' ').nth(1).unwrap())
            .unwrap();
        let digest = Sha256::digest(&wire);
        assert_eq!(BASE64_STANDARD_NO_PAD.decode(&tag).unwrap(), &digest[..4]);
        assert_eq!(tag.len(), 6);
        assert_eq!(ssh_stanza_tag(RSA).unwrap().0, "ssh-rsa");
        assert!(ssh_stanza_tag(X25519).is_none());
        assert!(ssh_stanza_tag("ssh-ed25519 !!!").is_none());
        assert!(ssh_stanza_tag("ssh-dss AAAA").is_none());
    }

    /// Each envelope age writes fits its own recipient (comment or none), and the tag of the
    /// stanza is the one computed from the listed key.
    #[test]
    fn envelopes_fit_their_own_recipient() {
        for r in [ED, ED2, RSA, X25519] {
            let enc = envelope_for(r);
            check_envelope_owner(r, enc.as_bytes()).unwrap_or_else(|e| panic!("{r}: {e}"));
            if let Some((kind, tag)) = ssh_stanza_tag(r) {
                let file = decode_envelope(enc.as_bytes()).unwrap();
                assert_eq!(stanza_heads(&file), vec![(kind.to_string(), tag)]);
            }
        }
        // The comment is not part of the key.
        let enc = envelope_for(ED);
        check_envelope_owner(&format!("{ED} someone@else"), enc.as_bytes()).unwrap();
    }

    /// An envelope relabelled with another recipient is refused whichever way round.
    #[test]
    fn relabelled_envelopes_are_refused() {
        let cases = [
            (ED, ED2, "is for another key"),
            (ED2, ED, "is for another key"),
            (RSA, ED, "is for another key"),
            (ED, RSA, "is for another key"),
            (X25519, ED, "is for another key"),
            (ED, X25519, "is for an SSH key"),
            (RSA, X25519, "is for an SSH key"),
        ];
        for (made_for, listed, says) in cases {
            let enc = envelope_for(made_for);
            let e = check_envelope_owner(listed, enc.as_bytes()).unwrap_err();
            assert_eq!(e.kind, Kind::Integrity, "{made_for} as {listed}");
            assert!(
                e.message.contains(says),
                "{made_for} as {listed}: {}",
                e.message
            );
        }
    }

    /// A header edited by hand: a tag changed, a stanza type changed, no stanza at all, a
    /// recipient whose key is not base64.
    #[test]
    fn edited_headers_are_refused() {
        let header = |stanza: &str| {
            let text = format!("age-encryption.org/v1\n{stanza}\n--- AAAA\n");
            let b64 = BASE64_STANDARD.encode(text.as_bytes());
            let lines: Vec<&str> = b64
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            format!(
                "-----BEGIN AGE ENCRYPTED FILE-----\n{}\n-----END AGE ENCRYPTED FILE-----\n",
                lines.join("\n")
            )
        };
        let (_, tag) = ssh_stanza_tag(ED).unwrap();
        let good = header(&format!("-> ssh-ed25519 {tag} AAAA\nAAAA"));
        check_envelope_owner(ED, good.as_bytes()).unwrap();
        for stanza in [
            "-> ssh-ed25519 AAAAAA AAAA\nAAAA".to_string(),
            format!("-> ssh-rsa {tag}\nAAAA"),
            "-> X25519 AAAA\nAAAA".to_string(),
            format!("-> ssh-ed25519 {tag} AAAA\nAAAA\n-> X25519 AAAA\nAAAA"),
        ] {
            let e = check_envelope_owner(ED, header(&stanza).as_bytes()).unwrap_err();
            assert_eq!(e.kind, Kind::Integrity, "{stanza}");
        }
        let e = check_envelope_owner(ED, header("").as_bytes()).unwrap_err();
        assert!(
            e.message.contains("holds no ssh-ed25519 stanza"),
            "{}",
            e.message
        );
        let e = check_envelope_owner("ssh-ed25519 !!!", good.as_bytes()).unwrap_err();
        assert_eq!(e.kind, Kind::Format);
        // A stanza of another kind under an X25519 label is not ours to judge; an SSH one is.
        check_envelope_owner(X25519, header("-> X25519 AAAA\nAAAA").as_bytes()).unwrap();
        let long = format!("-> ssh-rsa {}\nAAAA", "A".repeat(500));
        let e = check_envelope_owner(X25519, header(&long).as_bytes()).unwrap_err();
        assert!(e.message.len() < 400, "{}", e.message);
    }

    /// The message quotes the stanza it found, cut to 48 characters per word: a crafted
    /// header cannot flood the terminal.
    #[test]
    fn stanza_words_are_quoted_and_bounded() {
        let (kind, tag) = ssh_stanza_tag(ED).unwrap();
        let enc = envelope_for(ED);
        let e = check_envelope_owner(X25519, enc.as_bytes()).unwrap_err();
        assert!(
            e.message.starts_with(&format!(
                "the envelope listed for {X25519} is for an SSH key (`{kind} {tag}`); "
            )),
            "{}",
            e.message
        );
        // The same envelope, its stanza's tag replaced by a long word (binary form).
        let mut binary = Vec::new();
        std::io::Read::read_to_end(
            &mut age::armor::ArmoredReader::new(enc.as_bytes()),
            &mut binary,
        )
        .unwrap();
        let text = String::from_utf8_lossy(&binary).into_owned();
        let at = text.find(&format!("-> {kind} {tag} ")).unwrap() + 3 + kind.len() + 1;
        let long = "A".repeat(100);
        binary.splice(at..at + tag.len(), long.bytes());
        let e = check_envelope_owner(X25519, &binary).unwrap_err();
        assert!(
            e.message
                .contains(&format!("(`{kind} {}...`)", &long[..48])),
            "{}",
            e.message
        );
    }
}
