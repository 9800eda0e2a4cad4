//! Key groups (sops's Shamir secret sharing): recovering a file's data key from the shares
//! that enough groups open, and splitting a data key into one share per group.
//!
//! Which identities open a group's envelopes is the caller's business (a closure), as for
//! files with one group (`file::KeyOpener`).

use super::metadata::{AgeEntry, KeyGroups};
use super::shamir::{self, Bytes};
use crate::error::{Error, Kind, Result};
use crate::secret::DataKey;

/// The length of a share of a 32-byte data key.
pub const SHARE_LEN: usize = 32 + shamir::SHARE_OVERHEAD;

/// How many groups must open: the threshold, but at least two (combining needs two shares,
/// and sops never writes a threshold of one with several groups).
pub fn needed(groups: &KeyGroups) -> usize {
    groups.threshold.max(2)
}

/// Opens the file's data key: `open_group(i, entries)` returns group `i`'s share (any entry of
/// the group opening it). Every group is tried, as sops does; the shares of the groups that
/// open are combined.
///
/// Errors: a threshold larger than the number of groups (the file was altered) ->
/// `Kind::Integrity`; fewer groups open than needed -> the kind of the groups' failures
/// (`NoIdentity`, or `Integrity`/`Format` when an envelope was damaged), with a message naming
/// how many groups opened, how many are needed and why each other group did not open.
pub fn recover(
    groups: &KeyGroups,
    open_group: &mut dyn FnMut(usize, &[AgeEntry]) -> Result<Bytes>,
) -> Result<DataKey> {
    let total = groups.groups.len();
    let need = needed(groups);
    if need > total {
        return Err(Error::integrity(format!(
            "the file says {need} of its {total} key groups are needed to open it, more than it has: its `shamir_threshold` or `key_groups` were altered"
        )));
    }
    let mut shares: Vec<Bytes> = Vec::with_capacity(total);
    let mut failures: Vec<(usize, Error)> = Vec::new();
    for (i, entries) in groups.groups.iter().enumerate() {
        match open_group(i, entries) {
            Ok(share) => shares.push(share),
            Err(e) => failures.push((i, e)),
        }
    }
    if shares.len() < need {
        return Err(not_enough(shares.len(), need, total, failures));
    }
    let parts: Vec<&[u8]> = shares.iter().map(|s| s.as_slice()).collect();
    let key = shamir::combine(&parts)?;
    DataKey::from_bytes(&key).ok_or_else(|| {
        Error::format(format!(
            "the key groups' shares give a {}-byte data key, not 32 bytes",
            key.len()
        ))
    })
}

fn not_enough(opened: usize, need: usize, total: usize, failures: Vec<(usize, Error)>) -> Error {
    // A damaged envelope says more than a missing identity.
    let kind = failures
        .iter()
        .map(|(_, e)| e.kind)
        .find(|k| *k != Kind::NoIdentity)
        .unwrap_or(Kind::NoIdentity);
    let why: Vec<String> = failures
        .iter()
        .map(|(i, e)| format!("group {}: {}", i + 1, e.message))
        .collect();
    let e = Error::new(
        kind,
        format!(
            "the data key is split over {total} key groups and any {need} of them open it; {opened} opened ({})",
            why.join("; ")
        ),
    );
    // The failure that gave the kind stays reachable through `source()`.
    match failures.into_iter().find(|(_, f)| f.kind == kind) {
        Some((_, first)) => e.with_source(first),
        None => e,
    }
}

/// Splits `key` into one share per group, any `threshold` of which give it back.
pub fn split(key: &DataKey, groups: usize, threshold: usize) -> Result<Vec<Bytes>> {
    shamir::split(key.expose(), groups, threshold)
}

/// How a file's key groups differ from the groups a rule wants (`wanted` empty: one group;
/// `wanted_threshold` 0: every group), for people; `None` when they agree. Recipients are
/// compared by `rekey::recipient_id`, in any order within a group.
pub fn compare(
    file: Option<&KeyGroups>,
    wanted: &[Vec<String>],
    wanted_threshold: usize,
) -> Option<String> {
    let ids = |g: &mut dyn Iterator<Item = &str>| {
        let mut v: Vec<String> = g.map(super::rekey::recipient_id).collect();
        v.sort();
        v.dedup();
        v
    };
    match (file, wanted.len() > 1) {
        (None, false) => None,
        (Some(g), false) => Some(format!(
            "the file splits its data key over {} key groups, .sops.yaml names one",
            g.groups.len()
        )),
        (None, true) => Some(format!(
            "the file has one key group, .sops.yaml names {}",
            wanted.len()
        )),
        (Some(g), true) => {
            let threshold = if wanted_threshold == 0 {
                wanted.len()
            } else {
                wanted_threshold
            };
            let have: Vec<Vec<String>> = g
                .groups
                .iter()
                .map(|e| ids(&mut e.iter().map(|a| a.recipient.as_str())))
                .collect();
            let want: Vec<Vec<String>> = wanted
                .iter()
                .map(|w| ids(&mut w.iter().map(String::as_str)))
                .collect();
            if have != want {
                Some(format!(
                    "the file's {} key groups differ from the {} .sops.yaml names",
                    have.len(),
                    want.len()
                ))
            } else if g.threshold != threshold {
                Some(format!(
                    "the file's shamir_threshold is {}, .sops.yaml says {threshold}",
                    g.threshold
                ))
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparing_groups_with_a_rule() {
        let file = groups(2, 2);
        let s = |v: &[&[&str]]| -> Vec<Vec<String>> {
            v.iter()
                .map(|g| g.iter().map(|r| r.to_string()).collect())
                .collect()
        };
        assert_eq!(compare(None, &[], 0), None);
        assert_eq!(
            compare(Some(&file), &s(&[&["AGE1GROUP0"], &["age1group1"]]), 0),
            None
        );
        assert_eq!(
            compare(Some(&file), &s(&[&["age1group0"], &["age1group1"]]), 2),
            None
        );
        let t = compare(Some(&file), &s(&[&["age1group0"], &["age1group1"]]), 3).unwrap();
        assert!(t.contains("shamir_threshold is 2"), "{t}");
        let t = compare(Some(&file), &s(&[&["age1group0"], &["age1x"]]), 2).unwrap();
        assert!(t.contains("differ"), "{t}");
        assert!(compare(Some(&file), &s(&[&["age1group0"]]), 0).is_some());
        assert!(compare(None, &s(&[&["a"], &["b"]]), 0).is_some());
    }

    /// A rule with one group of recipients is a file with one key group (no `key_groups`):
    /// nothing to report for such a file, and a file split over groups is named as such.
    #[test]
    fn one_wanted_group_means_no_key_groups() {
        let one = vec![vec!["age1group0".to_string(), "age1other".to_string()]];
        assert_eq!(compare(None, &one, 0), None);
        assert_eq!(compare(None, &one, 1), None);
        assert_eq!(
            compare(Some(&groups(2, 2)), &one, 0).as_deref(),
            Some("the file splits its data key over 2 key groups, .sops.yaml names one")
        );
        assert_eq!(
            compare(None, &[one[0].clone(), vec!["age1b".to_string()]], 0).as_deref(),
            Some("the file has one key group, .sops.yaml names 2")
        );
    }

    fn groups(n: usize, threshold: usize) -> KeyGroups {
        KeyGroups {
            groups: (0..n)
                .map(|i| {
                    vec![AgeEntry {
                        recipient: format!("age1group{i}"),
                        enc: String::new(),
                    }]
                })
                .collect(),
            threshold,
        }
    }

    fn no_identity() -> Error {
        Error::new(Kind::NoIdentity, "no identity")
    }

    #[test]
    fn any_threshold_of_groups_opens() {
        let key = DataKey::generate().unwrap();
        let shares = split(&key, 3, 2).unwrap();
        for closed in 0..3 {
            let got = recover(&groups(3, 2), &mut |i, _| {
                if i == closed {
                    Err(no_identity())
                } else {
                    Ok(shares[i].clone())
                }
            })
            .unwrap();
            assert_eq!(got.expose(), key.expose());
        }
    }

    #[test]
    fn fewer_groups_than_needed_name_the_counts() {
        let key = DataKey::generate().unwrap();
        let shares = split(&key, 3, 3).unwrap();
        let e = match recover(&groups(3, 3), &mut |i, _| {
            if i == 1 {
                Err(no_identity())
            } else {
                Ok(shares[i].clone())
            }
        }) {
            Ok(_) => panic!("opened with two of three groups"),
            Err(e) => e,
        };
        assert_eq!(e.kind, Kind::NoIdentity);
        assert!(
            e.message
                .contains("split over 3 key groups and any 3 of them open it; 2 opened"),
            "{}",
            e.message
        );
        assert!(e.message.contains("group 2: no identity"), "{}", e.message);
        // A damaged envelope gives its own kind.
        let e = match recover(&groups(2, 2), &mut |i, _| {
            if i == 0 {
                Err(Error::integrity("modified"))
            } else {
                Ok(shares[i].clone())
            }
        }) {
            Ok(_) => panic!("opened"),
            Err(e) => e,
        };
        assert_eq!(e.kind, Kind::Integrity);
        let source = std::error::Error::source(&e).expect("the group's error as source");
        assert_eq!(source.to_string(), Error::integrity("modified").to_string());
    }

    #[test]
    fn an_altered_threshold_or_group_is_refused() {
        let key = DataKey::generate().unwrap();
        let shares = split(&key, 2, 2).unwrap();
        let mut calls = 0;
        let e = match recover(&groups(2, 3), &mut |i, _| {
            calls += 1;
            Ok(shares[i].clone())
        }) {
            Ok(_) => panic!("opened"),
            Err(e) => e,
        };
        assert_eq!(e.kind, Kind::Integrity);
        assert!(e.message.contains("altered"), "{}", e.message);
        assert_eq!(calls, 0, "nothing is opened for an impossible threshold");
        // The same share in two groups (a group copied over another).
        let e = match recover(&groups(2, 2), &mut |_, _| Ok(shares[0].clone())) {
            Ok(_) => panic!("opened"),
            Err(e) => e,
        };
        assert_eq!(e.kind, Kind::Integrity);
    }
}
