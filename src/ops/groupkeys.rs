//! Wrapping a data key for several key groups (sops's Shamir secret sharing): the key is split
//! into one share per group and every recipient of a group gets that group's share, so that
//! any `threshold` groups together open the file, as sops writes it.

use crate::error::{Error, Kind, Result};
use crate::keys::{self, Recipient};
use crate::secret::DataKey;
use crate::sops::keygroups;
use crate::sops::metadata::{AgeEntry, KeyGroups};

/// The key groups of a file for `groups` (each a list of recipients, at least two groups) and
/// `threshold` (0: every group, as sops does).
///
/// Errors (`Kind::Config`): a group without recipients, a threshold below 2 or above the number
/// of groups (sops refuses both).
pub fn wrap_for_groups(
    key: &DataKey,
    groups: &[Vec<Recipient>],
    threshold: usize,
) -> Result<KeyGroups> {
    if let Some(i) = groups.iter().position(Vec::is_empty) {
        return Err(Error::new(
            Kind::Config,
            format!("key group {} has no age recipient", i + 1),
        ));
    }
    let threshold = if threshold == 0 {
        groups.len()
    } else {
        threshold
    };
    let shares = keygroups::split(key, groups.len(), threshold)?;
    let mut out = Vec::with_capacity(groups.len());
    for (share, group) in shares.iter().zip(groups) {
        let mut entries = Vec::with_capacity(group.len());
        for r in group {
            entries.push(AgeEntry {
                recipient: r.text().to_string(),
                enc: keys::wrap_payload(share, r)?,
            });
        }
        out.push(entries);
    }
    Ok(KeyGroups {
        groups: out,
        threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Identities;
    use crate::ops::keyopen::IdentityOpener;
    use crate::sops::file::KeyOpener;
    use crate::sops::metadata::Metadata;

    fn identity() -> (String, Recipient) {
        let (file, public) = keys::generate_identity();
        (file.to_string(), Recipient::parse(&public).unwrap())
    }

    fn meta_for(groups: KeyGroups) -> Metadata {
        Metadata {
            age: Vec::new(),
            key_groups: Some(groups),
            lastmodified: String::new(),
            mac: String::new(),
            rule: crate::sops::rules::CryptRule::default_rule(),
            mac_only_encrypted: false,
            version: String::new(),
            other_key_sources: Vec::new(),
            kseal_mac: None,
        }
    }

    #[test]
    fn any_two_of_three_groups_open_the_key() {
        let ids: Vec<(String, Recipient)> = (0..4).map(|_| identity()).collect();
        let key = DataKey::generate().unwrap();
        let groups = vec![
            vec![ids[0].1.clone(), ids[3].1.clone()],
            vec![ids[1].1.clone()],
            vec![ids[2].1.clone()],
        ];
        let g = wrap_for_groups(&key, &groups, 2).unwrap();
        assert_eq!(g.threshold, 2);
        assert_eq!(g.groups[0][1].recipient, ids[3].1.text());
        let meta = meta_for(g);
        for (pick, opens) in [
            (vec![0, 1], true),
            (vec![3, 2], true),
            (vec![1, 2], true),
            (vec![0, 3], false),
            (vec![2], false),
        ] {
            let mut set = Identities::new();
            for &i in &pick {
                set.add_identity_file_text(&ids[i].0, "test").unwrap();
            }
            match (IdentityOpener { ids: &set }.open(&meta), opens) {
                (Ok(k), true) => assert_eq!(k.expose(), key.expose(), "{pick:?}"),
                (Err(e), false) => assert_eq!(e.kind, Kind::NoIdentity, "{pick:?}"),
                (r, _) => panic!("{pick:?}: opened = {}", r.is_ok()),
            }
        }
    }

    #[test]
    fn refusals() {
        let (_, a) = identity();
        let key = DataKey::generate().unwrap();
        let two = vec![vec![a.clone()], vec![a.clone()]];
        assert_eq!(wrap_for_groups(&key, &two, 0).unwrap().threshold, 2);
        for (groups, threshold) in [
            (two.clone(), 1),
            (two.clone(), 3),
            (vec![vec![a], vec![]], 2),
        ] {
            match wrap_for_groups(&key, &groups, threshold) {
                Ok(_) => panic!("threshold {threshold} accepted"),
                Err(e) => assert_eq!(e.kind, Kind::Config, "{}", e.message),
            }
        }
    }
}
