//! Passphrase-protected identity files (`kseal keygen --passphrase`): a new identity file
//! encrypted with scrypt and armored, which is what `age -p -a` makes of an identity file, so
//! that age, rage, sops and kseal open it after asking for the passphrase.

use std::io::{self, Write};

use age::armor::{ArmoredWriter, Format};
use age::secrecy::{ExposeSecret, SecretString};

use super::age_error_text;
use super::prompt::{ask_passphrase, no_terminal};
use crate::error::{Error, Kind, Reason, Result};

/// Asks for a new passphrase twice through the installed `Ui` (the terminal in kseal).
pub fn ask_new_passphrase() -> Result<SecretString> {
    ask_new_passphrase_with(&ask_passphrase)
}

fn ask_new_passphrase_with(ask: &dyn Fn(&str) -> io::Result<SecretString>) -> Result<SecretString> {
    let terminal = |e: io::Error| {
        Error::new(
            Kind::Input,
            format!(
                "a passphrase-protected identity needs a passphrase, and {}",
                no_terminal(&e)
            ),
        )
        .with_reason(Reason::NoTerminalForNewPassphrase)
    };
    let first = ask("Enter a passphrase for the new identity").map_err(terminal)?;
    if first.expose_secret().is_empty() {
        return Err(Error::new(Kind::Usage, "the passphrase is empty"));
    }
    let second = ask("Enter the same passphrase again").map_err(terminal)?;
    if first.expose_secret() != second.expose_secret() {
        return Err(Error::new(Kind::Usage, "the two passphrases differ"));
    }
    Ok(first)
}

/// Encrypts an identity file's text with a passphrase (scrypt, the age crate's work factor of
/// about one second), armored.
pub fn protect_identity(text: &str, passphrase: SecretString) -> Result<String> {
    let encryptor = age::Encryptor::with_user_passphrase(passphrase);
    seal(encryptor, text)
}

fn seal(encryptor: age::Encryptor, text: &str) -> Result<String> {
    let internal = |e: io::Error| {
        Error::new(
            Kind::Internal,
            format!("encrypting the identity failed: {}", age_error_text(&e)),
        )
    };
    let mut out = Vec::with_capacity(1024);
    let armor = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(internal)?;
    let mut w = encryptor.wrap_output(armor).map_err(internal)?;
    w.write_all(text.as_bytes()).map_err(internal)?;
    w.finish().and_then(|a| a.finish()).map_err(internal)?;
    String::from_utf8(out).map_err(|_| Error::new(Kind::Internal, "the age armor is not UTF-8"))
}

/// A new X25519 identity, protected by `passphrase`: (armored encrypted identity file, recipient).
pub fn generate_protected_identity(passphrase: SecretString) -> Result<(String, String)> {
    let (text, recipient) = super::generate_identity();
    Ok((protect_identity(&text, passphrase)?, recipient))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::keys::testutil::MustFail;
    use crate::keys::{wrap, Identities, Recipient};
    use crate::secret::DataKey;

    fn answers(list: &[&str]) -> impl Fn(&str) -> io::Result<SecretString> {
        let queue = RefCell::new(list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        move |_prompt| {
            let mut q = queue.borrow_mut();
            if q.is_empty() {
                return Err(io::Error::from_raw_os_error(6));
            }
            Ok(SecretString::from(q.remove(0)))
        }
    }

    #[test]
    fn passphrase_is_asked_twice_and_must_match() {
        let p = ask_new_passphrase_with(&answers(&["horse", "horse"])).unwrap();
        assert_eq!(p.expose_secret(), "horse");
        let e = ask_new_passphrase_with(&answers(&["horse", "house"])).must_fail();
        assert_eq!(e.kind, Kind::Usage);
        assert!(!e.message.contains("horse") && !e.message.contains("house"));
        assert_eq!(
            ask_new_passphrase_with(&answers(&["", ""]))
                .must_fail()
                .kind,
            Kind::Usage
        );
        let e = ask_new_passphrase_with(&answers(&[])).must_fail();
        assert_eq!(e.kind, Kind::Input);
        assert!(e.message.contains("no terminal"), "{}", e.message);
    }

    #[test]
    fn protected_identity_opens_with_its_passphrase() {
        let (text, public) = super::super::generate_identity();
        // A low work factor keeps the test fast; the format is the same.
        let mut r = age::scrypt::Recipient::new(SecretString::from("pw".to_string()));
        r.set_work_factor(10);
        let enc =
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
        let file = seal(enc, &text).unwrap();
        assert!(file.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(!file.contains("AGE-SECRET-KEY"));
        let mut ids =
            Identities::new().with_passphrase_source(|_| Ok(SecretString::from("pw".to_string())));
        ids.add_identity_file_text(&file, "new.age").unwrap();
        let key = DataKey::generate().unwrap();
        let recipient = Recipient::parse(&public).unwrap();
        assert_eq!(
            ids.unwrap(&wrap(&key, &recipient).unwrap())
                .unwrap()
                .expose(),
            key.expose()
        );
    }

    /// Without an installed `Ui` (as in these tests), the new passphrase cannot be asked:
    /// an error that says so, never an empty passphrase.
    #[test]
    fn a_new_passphrase_needs_someone_to_ask() {
        let e = ask_new_passphrase().must_fail();
        assert_eq!(e.kind, Kind::Input);
        assert!(
            matches!(e.reason(), Some(Reason::NoTerminalForNewPassphrase)),
            "{:?}",
            e.reason()
        );
        assert!(e.message.contains("no terminal"), "{}", e.message);
    }

    /// `kseal keygen --passphrase`: the armored file opens with the passphrase, to the
    /// identity of the recipient returned with it; the identity's text is not in the file.
    #[test]
    fn generated_protected_identity_opens_with_its_passphrase() {
        let (file, public) =
            generate_protected_identity(SecretString::from("pw".to_string())).unwrap();
        assert!(file.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(!file.contains("AGE-SECRET-KEY"));
        let mut ids =
            Identities::new().with_passphrase_source(|_| Ok(SecretString::from("pw".to_string())));
        ids.add_identity_file_text(&file, "new.age").unwrap();
        assert_eq!(ids.len(), 1);
        let key = DataKey::generate().unwrap();
        let recipient = Recipient::parse(&public).unwrap();
        assert_eq!(
            ids.unwrap(&wrap(&key, &recipient).unwrap())
                .unwrap()
                .expose(),
            key.expose()
        );
    }
}
