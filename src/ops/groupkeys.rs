//! Wrapping a data key for several key groups (sops's Shamir secret sharing): the key is split
//! into one share per group and every recipient of a group gets that group's share, so that
//! any `threshold` groups together open the file, as sops writes it.

use crate::error::{Error, Kind, Result};
use crate::keys::{self, Recipient};
use crate::ops::plan::Plan;
use crate::secret::DataKey;
use crate::sops::keygroups;
use crate::sops::metadata::{AgeEntry, KeyGroups};
use crate::sops::rekey::Wrapped;

/// Whom a file's data key is for: its recipients, or several key groups of recipients of which
/// any `threshold` open it (the layout of a `.sops.yaml` rule, or of a file).
#[derive(Clone, Debug)]
pub struct Keys {
    /// Every recipient (with several groups: all groups' recipients, in order).
    pub recipients: Vec<Recipient>,
    /// At least two groups, or empty (one group: `recipients`).
    pub groups: Vec<Vec<Recipient>>,
    /// The groups needed (0: every group).
    pub threshold: usize,
}

impl Keys {
    /// One group of recipients.
    pub fn flat(recipients: Vec<Recipient>) -> Keys {
        Keys {
            recipients,
            groups: Vec::new(),
            threshold: 0,
        }
    }

    /// Several groups (one group: `flat`).
    pub fn grouped(groups: Vec<Vec<Recipient>>, threshold: usize) -> Keys {
        if groups.len() < 2 {
            return Keys::flat(groups.into_iter().flatten().collect());
        }
        Keys {
            recipients: groups.iter().flatten().cloned().collect(),
            groups,
            threshold,
        }
    }

    /// The keys a plan wraps a new data key for.
    pub fn of_plan(plan: &Plan) -> Keys {
        match plan.key_groups.len() {
            0 | 1 => Keys::flat(plan.recipients.clone()),
            _ => Keys::grouped(plan.key_groups.clone(), plan.shamir_threshold),
        }
    }

    /// The groups, a flat list counting as one.
    pub fn as_groups(&self) -> Vec<Vec<Recipient>> {
        match self.groups.is_empty() {
            true => vec![self.recipients.clone()],
            false => self.groups.clone(),
        }
    }

    /// For people: `2 recipients`, or `3 recipients in 2 key groups (any 2)`.
    pub fn summary(&self) -> String {
        let n = self.recipients.len();
        let s = if n == 1 { "" } else { "s" };
        match self.groups.len() {
            0 => format!("{n} recipient{s}"),
            g => format!("{n} recipient{s} in {g} key groups (any {})", self.needed()),
        }
    }

    /// The threshold in effect (0 and one group: every group).
    pub fn needed(&self) -> usize {
        match self.threshold {
            0 => self.as_groups().len(),
            t => t,
        }
    }
}

/// `key` wrapped for `keys`: for each recipient, or split into one share per group.
pub fn wrap(key: &DataKey, keys: &Keys) -> Result<Wrapped> {
    if keys.groups.len() < 2 {
        return Ok(super::datakey::wrap_data_key(key, &keys.recipients)?.into());
    }
    Ok(Wrapped {
        age: Vec::new(),
        key_groups: Some(wrap_for_groups(key, &keys.groups, keys.threshold)?),
    })
}

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
