//! Re-keying encrypted files, the use cases of `updatekeys` and `rotate`: which recipients a
//! file should be wrapped for now (its `.sops.yaml` rule, flags that add or remove some), and
//! the new text (the data key re-wrapped, or a new data key with every value re-encrypted).
//! The commands find the files, ask, open the data key and write; the decisions are here.

use std::path::Path;

use crate::error::{Error, Kind, Reason, Result};
use crate::keys::Recipient;
use crate::kube;
use crate::ops::datakey;
use crate::ops::groupkeys::{self, Keys};
use crate::ops::plan::Planner;
use crate::secret::DataKey;
use crate::sops::file::EnvelopePolicy;
use crate::sops::metadata::{self, Metadata};
use crate::sops::rekey::{self, RecipientDiff};
use crate::yaml::tree;

/// An encrypted file read for a change: its text, parsed metadata and the namespaces of its
/// Secrets (for `namespace_regex` rules).
pub struct Loaded {
    pub text: String,
    pub meta: Metadata,
    pub namespaces: Vec<Option<String>>,
}

/// Reads a file's `sops:` metadata and its Secrets' namespaces. `Ok(None)`: not encrypted.
pub fn load(text: String) -> Result<Option<Loaded>> {
    let stream = tree::parse(&text)?;
    let Some(meta) = rekey::inspect_stream(&stream)? else {
        return Ok(None);
    };
    crate::ops::keyopen::check_owners(&meta)?;
    let namespaces = kube::secret_namespaces(&stream);
    drop(stream);
    Ok(Some(Loaded {
        text,
        meta,
        namespaces,
    }))
}

/// The recipient strings a file's data key is wrapped for.
pub fn recipients_of(meta: &Metadata) -> Vec<String> {
    meta.entries().map(|a| a.recipient.clone()).collect()
}

/// What `updatekeys` would change in one file.
pub struct Update {
    /// The recipients (or key groups) of the file's creation rule.
    pub wanted: Keys,
    /// Every recipient added or removed, all groups together.
    pub diff: RecipientDiff,
    /// When the file or its rule has several key groups: what the rule adds to and removes from
    /// each group, by position (empty otherwise).
    pub groups: Vec<RecipientDiff>,
    /// The file's (groups, groups needed) and the rule's, when they differ.
    pub layout: Option<((usize, usize), (usize, usize))>,
    /// Someone who could open the data key may no longer be meant to: a recipient removed from
    /// a group, a group removed, or more groups needed.
    pub removal: bool,
    /// A new data key and full re-encryption (a removal, without `keep_data_key`).
    pub new_key: bool,
}

impl Update {
    /// The file already matches its rule.
    pub fn is_empty(&self) -> bool {
        self.diff.is_empty()
            && self.groups.iter().all(RecipientDiff::is_empty)
            && self.layout.is_none()
    }

    /// The changes, one line each for people: `+ age1...`, `- age1...`, `group 2: + age1...`,
    /// `key groups: 2, any 2 -> 3, any 2`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(((hg, ht), (wg, wt))) = self.layout {
            out.push(format!("key groups: {hg}, any {ht} -> {wg}, any {wt}"));
        }
        if self.groups.is_empty() {
            out.extend(self.diff.added.iter().map(|r| format!("+ {r}")));
            out.extend(self.diff.removed.iter().map(|r| format!("- {r}")));
        }
        for (i, g) in self.groups.iter().enumerate() {
            out.extend(g.added.iter().map(|r| format!("group {}: + {r}", i + 1)));
            out.extend(g.removed.iter().map(|r| format!("group {}: - {r}", i + 1)));
        }
        out
    }
}

/// A file's key groups as recipient strings (one group without `key_groups`) and how many
/// of them open it.
pub fn layout_of(meta: &Metadata) -> (Vec<Vec<String>>, usize) {
    let names = |g: &[crate::sops::metadata::AgeEntry]| -> Vec<String> {
        g.iter().map(|a| a.recipient.clone()).collect()
    };
    match &meta.key_groups {
        None => (vec![names(&meta.age)], 1),
        Some(g) => {
            let groups: Vec<Vec<String>> = g.groups.iter().map(|e| names(e)).collect();
            let needed = if g.threshold == 0 {
                groups.len()
            } else {
                g.threshold
            };
            (groups, needed)
        }
    }
}

fn texts(rs: &[Recipient]) -> Vec<String> {
    rs.iter().map(|r| r.text().to_string()).collect()
}

/// Compares a file's recipients (and key groups) with those of its creation rule.
pub fn plan_update(
    planner: &Planner,
    path: &Path,
    loaded: &Loaded,
    keep_data_key: bool,
) -> Result<Update> {
    let plan = planner.plan_for_namespaces(Some(path), &loaded.namespaces)?;
    let wanted = Keys::of_plan(&plan);
    let want: Vec<Vec<String>> = wanted.as_groups().iter().map(|g| texts(g)).collect();
    let (have, have_needed) = layout_of(&loaded.meta);
    let diff = rekey::diff_recipients(&recipients_of(&loaded.meta), &texts(&wanted.recipients));
    let per_group = |i: usize| {
        let none = Vec::new();
        rekey::diff_recipients(have.get(i).unwrap_or(&none), want.get(i).unwrap_or(&none))
    };
    let groups: Vec<RecipientDiff> = match have.len().max(want.len()) {
        1 => Vec::new(),
        n => (0..n).map(per_group).collect(),
    };
    let (have_shape, want_shape) = ((have.len(), have_needed), (want.len(), wanted.needed()));
    // Only recipients added to groups that stay, with no more groups needed, keep the data key
    // safe to reuse: anything else may leave someone holding what opens it.
    let removal = have.len() != want.len()
        || want_shape.1 > have_shape.1
        || (0..have.len()).any(|i| !per_group(i).removed.is_empty());
    Ok(Update {
        wanted,
        diff,
        groups,
        layout: (have_shape != want_shape).then_some((have_shape, want_shape)),
        removal,
        new_key: removal && !keep_data_key,
    })
}

/// The file's new text for an update: its data key `key` re-wrapped for `wanted` (split into new
/// shares for key groups; values, MAC and `lastmodified` unchanged), or with `new_key` a new
/// data key and every value re-encrypted.
pub fn apply_update(
    loaded: &Loaded,
    key: &DataKey,
    wanted: &Keys,
    new_key: bool,
    policy: Option<&'static dyn EnvelopePolicy>,
) -> Result<String> {
    if new_key {
        return rotate(&loaded.text, key, wanted, policy);
    }
    let wrapped = groupkeys::wrap(key, wanted)?;
    rekey::rewrap(&loaded.text, key, wrapped, policy)
}

/// The file's new text under a new data key wrapped for `wanted` (recipients or key groups),
/// every value re-encrypted (opened with `key`, the current data key).
pub fn rotate(
    text: &str,
    key: &DataKey,
    wanted: &Keys,
    policy: Option<&'static dyn EnvelopePolicy>,
) -> Result<String> {
    let (new_key, wrapped) = datakey::new_data_key_for_keys(wanted)?;
    rekey::rotate(
        text,
        key,
        &new_key,
        wrapped,
        metadata::now_lastmodified(),
        policy,
    )
}

/// How `rotate` adjusts each file's recipients.
pub struct Rotation<'a> {
    /// `--add-age`.
    pub add: Vec<Recipient>,
    /// `recipient_id`s to remove (`--rm-age`). They are only compared, never parsed: a key
    /// type kseal cannot wrap for (a plugin that is not installed) can still be removed.
    pub remove: Vec<String>,
    pub planner: &'a Planner,
    /// `--keep-unknown-recipients`.
    pub keep_unknown: bool,
}

impl Rotation<'_> {
    /// The recipients (or key groups) a file's new data key is wrapped for: its base keys (see
    /// `base_keys`) minus the removed, plus the added, each once per group. Problems worth
    /// knowing (a removed recipient the file does not have, a recipient no rule names) go to
    /// `warn`, naming the file. With several key groups a recipient to add has no group to go
    /// to (refused: the rule's `key_groups` place it), and a group left empty is refused.
    pub fn recipients(&self, path: &Path, loaded: &Loaded, warn: &dyn Fn(&str)) -> Result<Keys> {
        let current = recipients_of(&loaded.meta);
        for r in &self.remove {
            if !current.iter().any(|c| rekey::recipient_id(c) == *r) {
                warn(&format!(
                    "{}: {r} is not a recipient of this file",
                    path.display()
                ));
            }
        }
        let base = self.base_keys(path, loaded, warn)?;
        let grouped = !base.groups.is_empty();
        if grouped && !self.add.is_empty() {
            return Err(Error::new(
                Kind::Usage,
                format!(
                    "the file splits its data key over {} key groups: a recipient to add has no group to go to",
                    base.groups.len()
                ),
            )
            .with_reason(Reason::AddToKeyGroups));
        }
        let mut out = Vec::new();
        for mut group in base.as_groups() {
            group.retain(|r| !self.remove.contains(&rekey::recipient_id(r.text())));
            group.extend(self.add.iter().cloned());
            let mut seen = Vec::new();
            group.retain(|r| {
                let id = rekey::recipient_id(r.text());
                let new = !seen.contains(&id);
                seen.push(id);
                new
            });
            out.push(group);
        }
        if out.iter().all(Vec::is_empty) {
            return Err(Error::new(
                Kind::Config,
                "no recipient would be left: the file would open for nobody",
            ));
        }
        if let Some(i) = out.iter().position(Vec::is_empty) {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "key group {} would have no recipient left: its share would open for nobody",
                    i + 1
                ),
            ));
        }
        Ok(Keys::grouped(out, base.threshold))
    }

    fn named_by_flag(&self, c: &str) -> bool {
        self.add
            .iter()
            .any(|a| rekey::recipient_id(a.text()) == rekey::recipient_id(c))
    }

    /// The keys before `--rm-age`/`--add-age`: the recipients (or key groups) of the
    /// `.sops.yaml` rule that matches the file, not the file's own (someone who can push may
    /// have appended a recipient to harvest the next data key). The file's others are dropped
    /// and named, unless `keep_unknown` (then each stays in its own group, or the rule's last
    /// when the rule has fewer). Without a rule the file's recipients and groups are used,
    /// except plugin recipients no flag names: wrapping for them would run a binary from PATH
    /// chosen by whoever wrote the file.
    fn base_keys(&self, path: &Path, loaded: &Loaded, warn: &dyn Fn(&str)) -> Result<Keys> {
        let name = path.display();
        let plan = match self.planner.has_config() {
            true => match self
                .planner
                .plan_for_namespaces(Some(path), &loaded.namespaces)
            {
                Ok(p) => Some(p),
                Err(e) if e.kind == Kind::Config => None,
                Err(e) => return Err(e),
            },
            false => None,
        };
        let (have, threshold) = layout_of(&loaded.meta);
        let Some(plan) = plan else {
            return self.file_keys(&have, threshold);
        };
        let wanted = Keys::of_plan(&plan);
        let named = texts(&wanted.recipients);
        let mut out = wanted.as_groups();
        for (i, group) in have.iter().enumerate() {
            for c in rekey::diff_recipients(group, &named).removed {
                if self.named_by_flag(&c) || self.remove.contains(&rekey::recipient_id(&c)) {
                    continue;
                }
                if self.keep_unknown {
                    warn(&format!(
                        "{name}: keeping {c}, which no .sops.yaml rule names (--keep-unknown-recipients)"
                    ));
                    let last = out.len() - 1;
                    out[i.min(last)].push(Recipient::parse(&c)?);
                } else {
                    warn(&format!("{name}: {c} is a recipient of the file but no .sops.yaml rule names it: it does not get the new data key (--keep-unknown-recipients keeps it)"));
                }
            }
        }
        Ok(Keys::grouped(out, wanted.threshold))
    }

    /// Without a rule: the file's own recipients and groups, refusing plugin recipients no
    /// flag names.
    fn file_keys(&self, have: &[Vec<String>], threshold: usize) -> Result<Keys> {
        let mut out = Vec::new();
        for group in have {
            let mut g = Vec::new();
            for c in group {
                let r = Recipient::parse(c)?;
                if r.is_plugin() && !self.keep_unknown && !self.named_by_flag(c) {
                    return Err(Error::new(
                        Kind::Config,
                        format!("the file names the plugin recipient {c}, which no .sops.yaml rule names: wrapping for it would run its plugin"),
                    )
                    .with_reason(Reason::PluginRecipientNotNamed));
                }
                g.push(r);
            }
            out.push(g);
        }
        Ok(Keys::grouped(out, threshold))
    }
}

/// Before a write into an existing envelope (`set`, `unset`, `edit`, the merge driver): refuses a
/// file whose recipients differ from its `.sops.yaml` rule. The data key is reused by such a
/// write, so a recipient someone added to the file without a key (issue: "harvest the next data
/// key") would receive every new secret. No `.sops.yaml`, or no rule for the file: nothing to
/// compare with (the recipients came from flags). Files with key groups are compared too (a
/// pushed file whose groups all list an outsider hands them every share): group by group with
/// a rule that has groups, as one set of recipients with a rule that has one.
pub fn check_write_recipients(
    planner: &Planner,
    path: &Path,
    meta: &Metadata,
    plain: &str,
) -> Result<()> {
    if !planner.has_config() {
        return Ok(());
    }
    // The plaintext is parsed only when a rule reads the Secrets' namespaces.
    let plan = match planner.plan_for_text(Some(path), plain) {
        Ok(plan) => plan,
        Err(e) if matches!(e.reason(), Some(crate::error::Reason::NoRuleMatches)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let (current, wanted) = write_recipients(meta, &plan);
    let diff = rekey::diff_recipients(&current, &wanted);
    if diff.is_empty() {
        return Ok(());
    }
    let mut msg = String::from("the file's recipients differ from its .sops.yaml rule");
    for r in &diff.removed {
        msg.push_str(&format!(
            "\n  not in the rule: {}",
            crate::error::escape_controls(r, false)
        ));
    }
    for r in &diff.added {
        msg.push_str(&format!(
            "\n  missing: {}",
            crate::error::escape_controls(r, false)
        ));
    }
    Err(Error::new(Kind::Refused, msg).with_reason(crate::error::Reason::RecipientsDifferFromRule))
}

/// The file's recipients and the rule's, as lists to compare: plain recipients, or
/// `group N: recipient` when both sides have key groups (one group of the file listing a
/// recipient the rule puts elsewhere is a difference). Every group's recipients, together,
/// when only the file has groups.
fn write_recipients(meta: &Metadata, plan: &crate::ops::plan::Plan) -> (Vec<String>, Vec<String>) {
    let texts =
        |rs: &[Recipient]| -> Vec<String> { rs.iter().map(|r| r.text().to_string()).collect() };
    let Some(groups) = &meta.key_groups else {
        let current = meta.age.iter().map(|a| a.recipient.clone()).collect();
        return (current, texts(&plan.recipients));
    };
    if plan.key_groups.is_empty() {
        let current = groups
            .groups
            .iter()
            .flatten()
            .map(|a| a.recipient.clone())
            .collect();
        return (current, texts(&plan.recipients));
    }
    let tag = |i: usize, r: &str| format!("group {}: {}", i + 1, rekey::recipient_id(r));
    let current = (groups.groups.iter().enumerate())
        .flat_map(|(i, g)| g.iter().map(move |a| tag(i, &a.recipient)))
        .collect();
    let wanted = (plan.key_groups.iter().enumerate())
        .flat_map(|(i, g)| g.iter().map(move |r| tag(i, r.text())))
        .collect();
    (current, wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{self, Identities};
    use crate::ops::plan::{Environment, Plan};
    use crate::ops::seal::{self, Host};
    use crate::sops::file::KeyOpener;
    use std::cell::RefCell;
    use std::path::PathBuf;

    /// No variables, no `.sops.yaml`; notes and warnings kept for the assertions.
    #[derive(Default)]
    struct Quiet {
        said: RefCell<Vec<String>>,
    }

    impl Environment for Quiet {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
        fn read_file(&self, path: &Path) -> std::io::Result<String> {
            std::fs::read_to_string(path)
        }
        fn current_dir(&self) -> std::io::Result<PathBuf> {
            Ok(PathBuf::from("/"))
        }
        fn find_config(&self, _: &Path) -> Option<PathBuf> {
            None
        }
    }

    impl Host for Quiet {
        fn note(&self, msg: &str) {
            self.said.borrow_mut().push(msg.to_string());
        }
        fn warn(&self, msg: &str) {
            self.said.borrow_mut().push(msg.to_string());
        }
        fn check_output_size(&self, _: usize) -> Result<()> {
            Ok(())
        }
    }

    fn identity() -> (Identities, Recipient) {
        let (file, public) = keys::generate_identity();
        let mut ids = Identities::new();
        ids.add_identity_file_text(&file, "test").unwrap();
        (ids, Recipient::parse(&public).unwrap())
    }

    /// A Secret sealed for `recipients`, loaded for a re-key.
    fn sealed(recipients: &[Recipient]) -> Loaded {
        let plan = Plan {
            recipients: recipients.to_vec(),
            key_groups: Vec::new(),
            shamir_threshold: 0,
            rule: crate::sops::rules::CryptRule::kubernetes(),
            mac_only_encrypted: false,
        };
        let text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  a: YQ==\n";
        let out = seal::seal_new("s.yaml", text, &plan, false, &Quiet::default()).unwrap();
        load(out).unwrap().unwrap()
    }

    fn texts(rs: &[Recipient]) -> Vec<String> {
        rs.iter().map(|r| r.text().to_string()).collect()
    }
    /// A Secret sealed for key groups (any `threshold` of them), loaded for a re-key.
    fn sealed_groups(groups: &[Vec<Recipient>], threshold: usize) -> Loaded {
        let plan = Plan {
            recipients: groups.iter().flatten().cloned().collect(),
            key_groups: groups.to_vec(),
            shamir_threshold: threshold,
            rule: crate::sops::rules::CryptRule::kubernetes(),
            mac_only_encrypted: false,
        };
        let text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  a: YQ==\n";
        let out = seal::seal_new("s.yaml", text, &plan, false, &Quiet::default()).unwrap();
        load(out).unwrap().unwrap()
    }

    /// A new identity's file text and recipient.
    fn ident() -> (String, Recipient) {
        let (file, public) = keys::generate_identity();
        (file.to_string(), Recipient::parse(&public).unwrap())
    }

    /// The data key the identity files `ids` open in `loaded`.
    fn open_with(loaded: &Loaded, ids: &[&String]) -> Result<DataKey> {
        let mut all = Identities::new();
        for text in ids {
            all.add_identity_file_text(text, "test").unwrap();
        }
        crate::ops::keyopen::IdentityOpener { ids: &all }.open(&loaded.meta)
    }

    #[test]
    fn rotation_removes_adds_and_keeps_each_recipient_once() {
        let ((_, a), (_, b), (_, c)) = (identity(), identity(), identity());
        let loaded = sealed(&[a.clone(), b.clone()]);
        let planner = Planner::from_config(None, &Quiet::default()).unwrap();
        let rotation = Rotation {
            add: vec![c.clone(), a.clone()],
            remove: vec![rekey::recipient_id(b.text()), "age1notthere".to_string()],
            planner: &planner,
            keep_unknown: false,
        };
        let warned = RefCell::new(Vec::new());
        let wanted = rotation
            .recipients(Path::new("s.yaml"), &loaded, &|w: &str| {
                warned.borrow_mut().push(w.to_string())
            })
            .unwrap();
        assert_eq!(texts(&wanted.recipients), texts(&[a, c]));
        assert!(wanted.groups.is_empty());
        assert_eq!(
            warned.into_inner(),
            ["s.yaml: age1notthere is not a recipient of this file"]
        );
    }

    #[test]
    fn a_rotation_that_leaves_nobody_is_refused() {
        let (_, a) = identity();
        let loaded = sealed(std::slice::from_ref(&a));
        let planner = Planner::from_config(None, &Quiet::default()).unwrap();
        let rotation = Rotation {
            add: Vec::new(),
            remove: vec![rekey::recipient_id(a.text())],
            planner: &planner,
            keep_unknown: false,
        };
        let e = rotation
            .recipients(Path::new("s.yaml"), &loaded, &|_: &str| {})
            .err()
            .unwrap();
        assert_eq!(e.kind, Kind::Config);
        assert!(e.message.starts_with("no recipient would be left"));
    }

    #[test]
    fn updates_rewrap_or_replace_the_data_key() {
        let ((ids_a, a), (ids_b, b)) = (identity(), identity());
        let loaded = sealed(std::slice::from_ref(&a));
        let key = crate::ops::keyopen::IdentityOpener { ids: &ids_a }
            .open(&loaded.meta)
            .unwrap();
        let both = [a.clone(), b.clone()];
        // Re-wrap: the same data key, now also for b.
        let rewrapped =
            load(apply_update(&loaded, &key, &Keys::flat(both.to_vec()), false, None).unwrap())
                .unwrap()
                .unwrap();
        assert_eq!(recipients_of(&rewrapped.meta), texts(&both));
        let opened = crate::ops::keyopen::IdentityOpener { ids: &ids_b }
            .open(&rewrapped.meta)
            .unwrap();
        assert_eq!(opened.expose(), key.expose());
        assert_eq!(rewrapped.meta.lastmodified, loaded.meta.lastmodified);
        // A new data key: b opens it, and it is not the old one.
        let rotated = load(apply_update(&loaded, &key, &Keys::flat(vec![b]), true, None).unwrap())
            .unwrap()
            .unwrap();
        let new_key = crate::ops::keyopen::IdentityOpener { ids: &ids_b }
            .open(&rotated.meta)
            .unwrap();
        assert_ne!(new_key.expose(), key.expose());
    }

    /// A `.sops.yaml` in a temporary directory, and the planner reading it.
    fn planner_for(config: &str) -> (tempfile::TempDir, Planner) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".sops.yaml");
        std::fs::write(&file, config).unwrap();
        let planner = Planner::from_config(Some(&file), &Quiet::default()).unwrap();
        (dir, planner)
    }

    fn group_config(groups: &[&[&Recipient]], threshold: usize) -> String {
        let mut c =
            format!("creation_rules:\n  - shamir_threshold: {threshold}\n    key_groups:\n");
        for g in groups {
            let list: Vec<&str> = g.iter().map(|r| r.text()).collect();
            c.push_str(&format!("      - age: [{}]\n", list.join(", ")));
        }
        c
    }

    #[test]
    fn updates_of_key_groups_resplit_or_replace_the_data_key() {
        let ids: Vec<(String, Recipient)> = (0..4).map(|_| ident()).collect();
        let r = |i: usize| ids[i].1.clone();
        let loaded = sealed_groups(&[vec![r(0)], vec![r(1)], vec![r(2)]], 2);
        let key = open_with(&loaded, &[&ids[0].0, &ids[1].0]).unwrap();
        let path = Path::new("s.yaml");
        // d joins group 2: the same data key split into new shares; d and a open it.
        let (_dir, planner) = planner_for(&group_config(&[&[&r(0)], &[&r(1), &r(3)], &[&r(2)]], 2));
        let u = plan_update(&planner, path, &loaded, false).unwrap();
        assert!(!u.removal && !u.new_key && !u.is_empty());
        assert_eq!(u.describe(), [format!("group 2: + {}", r(3).text())]);
        let out = load(apply_update(&loaded, &key, &u.wanted, false, None).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(layout_of(&out.meta).0[1], texts(&[r(1), r(3)]));
        assert_eq!(
            open_with(&out, &[&ids[3].0, &ids[0].0]).unwrap().expose(),
            key.expose()
        );
        assert!(
            open_with(&out, &[&ids[3].0, &ids[1].0]).is_err(),
            "one group"
        );
        assert_eq!(out.meta.lastmodified, loaded.meta.lastmodified);
        // b leaves group 2 for d: a new data key that b cannot help open any more.
        let (_dir, planner) = planner_for(&group_config(&[&[&r(0)], &[&r(3)], &[&r(2)]], 2));
        let u = plan_update(&planner, path, &loaded, false).unwrap();
        assert!(u.removal && u.new_key);
        let out = load(apply_update(&loaded, &key, &u.wanted, true, None).unwrap())
            .unwrap()
            .unwrap();
        let new_key = open_with(&out, &[&ids[3].0, &ids[2].0]).unwrap();
        assert_ne!(new_key.expose(), key.expose());
        assert!(
            open_with(&out, &[&ids[1].0, &ids[0].0]).is_err(),
            "b is out"
        );
        // More groups needed, or a group fewer: a new data key too.
        for (config, line) in [
            (
                group_config(&[&[&r(0)], &[&r(1)], &[&r(2)]], 3),
                "key groups: 3, any 2 -> 3, any 3",
            ),
            (
                group_config(&[&[&r(0)], &[&r(1)]], 2),
                "key groups: 3, any 2 -> 2, any 2",
            ),
        ] {
            let (_dir, planner) = planner_for(&config);
            let u = plan_update(&planner, path, &loaded, true).unwrap();
            assert!(u.removal && !u.new_key, "{line}: --keep-data-key");
            assert_eq!(u.describe()[0], line);
        }
        // Fewer groups needed: the same key, new shares.
        let (_dir, planner) =
            planner_for(&group_config(&[&[&r(0)], &[&r(1)], &[&r(2)], &[&r(3)]], 2));
        let u = plan_update(&planner, path, &loaded, false).unwrap();
        assert!(u.removal, "a group added is a new layout");
        let (_dir, planner) = planner_for(&group_config(&[&[&r(0)], &[&r(1)], &[&r(2)]], 2));
        assert!(plan_update(&planner, path, &loaded, false)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn rotation_keeps_key_groups() {
        let ids: Vec<(String, Recipient)> = (0..4).map(|_| ident()).collect();
        let r = |i: usize| ids[i].1.clone();
        let loaded = sealed_groups(&[vec![r(0), r(3)], vec![r(1)], vec![r(2)]], 2);
        let planner = Planner::from_config(None, &Quiet::default()).unwrap();
        let rotation = |add: Vec<Recipient>, remove: Vec<String>| Rotation {
            add,
            remove,
            planner: &planner,
            keep_unknown: false,
        };
        // No rule: the file's groups, minus the removed recipient.
        let keys = rotation(Vec::new(), vec![rekey::recipient_id(r(3).text())])
            .recipients(Path::new("s.yaml"), &loaded, &|_: &str| {})
            .unwrap();
        assert_eq!(keys.groups.len(), 3);
        assert_eq!(keys.needed(), 2);
        assert_eq!(texts(&keys.groups[0]), texts(&[r(0)]));
        let key = open_with(&loaded, &[&ids[0].0, &ids[1].0]).unwrap();
        let out = load(rotate(&loaded.text, &key, &keys, None).unwrap())
            .unwrap()
            .unwrap();
        assert!(
            open_with(&out, &[&ids[3].0, &ids[1].0]).is_err(),
            "d is out"
        );
        assert!(open_with(&out, &[&ids[2].0, &ids[1].0]).is_ok());
        // A recipient to add has no group; a group left empty opens for nobody.
        let e = rotation(vec![r(3)], Vec::new())
            .recipients(Path::new("s.yaml"), &loaded, &|_: &str| {})
            .err()
            .unwrap();
        assert_eq!(e.reason(), Some(&Reason::AddToKeyGroups));
        let e = rotation(Vec::new(), vec![rekey::recipient_id(r(1).text())])
            .recipients(Path::new("s.yaml"), &loaded, &|_: &str| {})
            .err()
            .unwrap();
        assert!(
            e.message
                .starts_with("key group 2 would have no recipient left"),
            "{}",
            e.message
        );
    }
}
