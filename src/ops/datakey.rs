//! Data keys and their wrapping: the one place a data key is created and wrapped for every
//! recipient of a file (encrypt, create, edit of a new file, rotate, updatekeys after a
//! removal), and where an existing data key is wrapped again (updatekeys' re-wrap).

use crate::error::{Error, Kind, Result};
use crate::keys::{self, Recipient};
use crate::secret::DataKey;
use crate::sops::metadata::AgeEntry;

/// A fresh random data key, wrapped for each recipient (the file's `age` entries, in the
/// recipients' order).
pub fn new_data_key(recipients: &[Recipient]) -> Result<(DataKey, Vec<AgeEntry>)> {
    let key = DataKey::generate()
        .map_err(|e| Error::new(Kind::Internal, format!("no randomness: {e}")).with_source(e))?;
    let age = wrap_data_key(&key, recipients)?;
    Ok((key, age))
}

/// A fresh data key wrapped as a plan says: for each recipient, or, when the plan's rule has
/// several key groups, split into one share per group (`ops::groupkeys`).
pub fn new_data_key_for_plan(
    plan: &crate::ops::plan::Plan,
) -> Result<(
    DataKey,
    Vec<AgeEntry>,
    Option<crate::sops::metadata::KeyGroups>,
)> {
    if plan.key_groups.len() < 2 {
        let (key, age) = new_data_key(&plan.recipients)?;
        return Ok((key, age, None));
    }
    let key = DataKey::generate()
        .map_err(|e| Error::new(Kind::Internal, format!("no randomness: {e}")).with_source(e))?;
    let groups = super::groupkeys::wrap_for_groups(&key, &plan.key_groups, plan.shamir_threshold)?;
    Ok((key, Vec::new(), Some(groups)))
}

/// A fresh data key wrapped for `keys`: for each recipient, or split into one share per key
/// group (`ops::groupkeys`).
pub fn new_data_key_for_keys(
    keys: &super::groupkeys::Keys,
) -> Result<(DataKey, crate::sops::rekey::Wrapped)> {
    let key = DataKey::generate()
        .map_err(|e| Error::new(Kind::Internal, format!("no randomness: {e}")))?;
    let wrapped = super::groupkeys::wrap(&key, keys)?;
    Ok((key, wrapped))
}

/// Wraps a data key for each recipient, as the file's `age` entries.
pub fn wrap_data_key(key: &DataKey, recipients: &[Recipient]) -> Result<Vec<AgeEntry>> {
    recipients
        .iter()
        .map(|r| {
            Ok(AgeEntry {
                recipient: r.text().to_string(),
                enc: keys::wrap(key, r)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Identities;

    /// A new identity: its file text and its recipient.
    fn identity() -> (Identities, Recipient) {
        let (file, public) = keys::generate_identity();
        let mut ids = Identities::new();
        ids.add_identity_file_text(&file, "test").unwrap();
        (ids, Recipient::parse(&public).unwrap())
    }

    #[test]
    fn a_new_data_key_opens_for_every_recipient_in_order() {
        let (ids_a, a) = identity();
        let (ids_b, b) = identity();
        let (key, age) = new_data_key(&[a.clone(), b.clone()]).unwrap();
        let names: Vec<&str> = age.iter().map(|e| e.recipient.as_str()).collect();
        assert_eq!(names, [a.text(), b.text()]);
        for (ids, entry) in [(&ids_a, &age[0]), (&ids_b, &age[1])] {
            assert!(entry.enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
            assert_eq!(ids.unwrap(&entry.enc).unwrap().expose(), key.expose());
        }
        // Each recipient's entry opens only for its own identity.
        assert!(ids_a.unwrap(&age[1].enc).is_err());
    }

    #[test]
    fn each_new_data_key_is_different() {
        let (_, a) = identity();
        let (k1, _) = new_data_key(std::slice::from_ref(&a)).unwrap();
        let (k2, _) = new_data_key(&[a]).unwrap();
        assert_ne!(k1.expose(), k2.expose());
    }

    #[test]
    fn rewrapping_keeps_the_key() {
        let (ids, a) = identity();
        let key = DataKey::from_bytes(&[7u8; 32]).unwrap();
        let age = wrap_data_key(&key, &[a]).unwrap();
        assert_eq!(age.len(), 1);
        assert_eq!(ids.unwrap(&age[0].enc).unwrap().expose(), &[7u8; 32]);
        assert!(wrap_data_key(&key, &[]).unwrap().is_empty());
    }
}
