//! Re-keying encrypted files, the use cases of `updatekeys` and `rotate`: which recipients a
//! file should be wrapped for now (its `.sops.yaml` rule, flags that add or remove some), and
//! the new text (the data key re-wrapped, or a new data key with every value re-encrypted).
//! The commands find the files, ask, open the data key and write; the decisions are here.

use std::path::Path;

use crate::error::{Error, Kind, Reason, Result};
use crate::keys::Recipient;
use crate::kube;
use crate::ops::datakey;
use crate::ops::plan::{key_groups_unsupported, Planner};
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
    let groups = meta
        .key_groups
        .iter()
        .flat_map(|g| g.groups.iter().flatten());
    meta.age
        .iter()
        .chain(groups)
        .map(|a| a.recipient.clone())
        .collect()
}

/// What `updatekeys` would change in one file.
pub struct Update {
    /// The recipients of the file's creation rule.
    pub wanted: Vec<Recipient>,
    pub diff: RecipientDiff,
    /// A recipient is removed.
    pub removal: bool,
    /// A new data key and full re-encryption (a removal, without `keep_data_key`).
    pub new_key: bool,
}

/// Compares a file's recipients with those of its creation rule.
pub fn plan_update(
    planner: &Planner,
    path: &Path,
    loaded: &Loaded,
    keep_data_key: bool,
) -> Result<Update> {
    let plan = planner.plan_for_namespaces(Some(path), &loaded.namespaces)?;
    if loaded.meta.key_groups.is_some() {
        return Err(key_groups_unsupported("the file"));
    }
    if !plan.key_groups.is_empty() {
        return Err(key_groups_unsupported("its creation rule"));
    }
    let wanted: Vec<String> = plan
        .recipients
        .iter()
        .map(|r| r.text().to_string())
        .collect();
    let diff = rekey::diff_recipients(&recipients_of(&loaded.meta), &wanted);
    let removal = !diff.removed.is_empty();
    Ok(Update {
        wanted: plan.recipients,
        diff,
        removal,
        new_key: removal && !keep_data_key,
    })
}

/// The file's new text for an update: its data key `key` re-wrapped for `wanted` (values, MAC
/// and `lastmodified` unchanged), or with `new_key` a new data key and every value
/// re-encrypted.
pub fn apply_update(
    loaded: &Loaded,
    key: &DataKey,
    wanted: &[Recipient],
    new_key: bool,
    policy: Option<&'static dyn EnvelopePolicy>,
) -> Result<String> {
    if new_key {
        return rotate(&loaded.text, key, wanted, policy);
    }
    let age = datakey::wrap_data_key(key, wanted)?;
    rekey::rewrap(&loaded.text, key, age, policy)
}

/// The file's new text under a new data key wrapped for `wanted`, every value re-encrypted
/// (opened with `key`, the current data key).
pub fn rotate(
    text: &str,
    key: &DataKey,
    wanted: &[Recipient],
    policy: Option<&'static dyn EnvelopePolicy>,
) -> Result<String> {
    let (new_key, age) = datakey::new_data_key(wanted)?;
    rekey::rotate(
        text,
        key,
        &new_key,
        age,
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
    /// The recipients a file's new data key is wrapped for: its base recipients (see
    /// `base_recipients`) minus the removed, plus the added, each once. Problems worth
    /// knowing (a removed recipient the file does not have, a recipient no rule names) go to
    /// `warn`, naming the file.
    pub fn recipients(
        &self,
        path: &Path,
        loaded: &Loaded,
        warn: &dyn Fn(&str),
    ) -> Result<Vec<Recipient>> {
        let current = recipients_of(&loaded.meta);
        for r in &self.remove {
            if !current.iter().any(|c| rekey::recipient_id(c) == *r) {
                warn(&format!(
                    "{}: {r} is not a recipient of this file",
                    path.display()
                ));
            }
        }
        let mut wanted = self.base_recipients(path, loaded, warn)?;
        wanted.retain(|r| !self.remove.contains(&rekey::recipient_id(r.text())));
        wanted.extend(self.add.iter().cloned());
        let mut seen = Vec::new();
        wanted.retain(|r| {
            let id = rekey::recipient_id(r.text());
            let new = !seen.contains(&id);
            seen.push(id);
            new
        });
        if wanted.is_empty() {
            return Err(Error::new(
                Kind::Config,
                "no recipient would be left: the file would open for nobody",
            ));
        }
        Ok(wanted)
    }

    fn named_by_flag(&self, c: &str) -> bool {
        self.add
            .iter()
            .any(|a| rekey::recipient_id(a.text()) == rekey::recipient_id(c))
    }

    /// The recipients before `--rm-age`/`--add-age`: those of the `.sops.yaml` rule that
    /// matches the file, not the file's own (someone who can push may have appended a
    /// recipient to harvest the next data key). The file's others are dropped and named,
    /// unless `keep_unknown`. Without a rule the file's recipients are used, except plugin
    /// recipients no flag names: wrapping for them would run a binary from PATH chosen by
    /// whoever wrote the file.
    fn base_recipients(
        &self,
        path: &Path,
        loaded: &Loaded,
        warn: &dyn Fn(&str),
    ) -> Result<Vec<Recipient>> {
        let name = path.display();
        let current = recipients_of(&loaded.meta);
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
        if loaded.meta.key_groups.is_some() {
            return Err(key_groups_unsupported("the file"));
        }
        if plan.as_ref().is_some_and(|p| !p.key_groups.is_empty()) {
            return Err(key_groups_unsupported("its creation rule"));
        }
        let Some(plan) = plan else {
            return self.file_recipients(&current);
        };
        let wanted: Vec<String> = plan
            .recipients
            .iter()
            .map(|r| r.text().to_string())
            .collect();
        for c in rekey::diff_recipients(&current, &wanted).removed {
            if self.named_by_flag(&c) || self.remove.contains(&rekey::recipient_id(&c)) {
                continue;
            }
            if self.keep_unknown {
                warn(&format!(
                    "{name}: keeping {c}, which no .sops.yaml rule names (--keep-unknown-recipients)"
                ));
            } else {
                warn(&format!("{name}: {c} is a recipient of the file but no .sops.yaml rule names it: it does not get the new data key (--keep-unknown-recipients keeps it)"));
            }
        }
        let mut out = plan.recipients;
        if self.keep_unknown {
            for c in &current {
                if !wanted
                    .iter()
                    .any(|w| rekey::recipient_id(w) == rekey::recipient_id(c))
                {
                    out.push(Recipient::parse(c)?);
                }
            }
        }
        Ok(out)
    }

    /// Without a rule: the file's own recipients, refusing plugin recipients no flag names.
    fn file_recipients(&self, current: &[String]) -> Result<Vec<Recipient>> {
        let mut out = Vec::new();
        for c in current {
            let r = Recipient::parse(c)?;
            if r.is_plugin() && !self.keep_unknown && !self.named_by_flag(c) {
                return Err(Error::new(
                    Kind::Config,
                    format!("the file names the plugin recipient {c}, which no .sops.yaml rule names: wrapping for it would run its plugin"),
                )
                .with_reason(Reason::PluginRecipientNotNamed));
            }
            out.push(r);
        }
        Ok(out)
    }
}

/// Before a write into an existing envelope (`set`, `unset`, `edit`, the merge driver): refuses a
/// file whose recipients differ from its `.sops.yaml` rule. The data key is reused by such a
/// write, so a recipient someone added to the file without a key (issue: "harvest the next data
/// key") would receive every new secret. No `.sops.yaml`, or no rule for the file: nothing to
/// compare with (the recipients came from flags). Files with key groups are compared by
/// `status`, not here.
pub fn check_write_recipients(
    planner: &Planner,
    path: &Path,
    meta: &Metadata,
    plain: &str,
) -> Result<()> {
    if !planner.has_config() || meta.key_groups.is_some() {
        return Ok(());
    }
    // The plaintext is parsed only when a rule reads the Secrets' namespaces.
    let plan = match planner.plan_for_text(Some(path), plain) {
        Ok(plan) => plan,
        Err(e) if matches!(e.reason(), Some(crate::error::Reason::NoRuleMatches)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let wanted: Vec<String> = plan
        .recipients
        .iter()
        .map(|r| r.text().to_string())
        .collect();
    let current: Vec<String> = meta.age.iter().map(|a| a.recipient.clone()).collect();
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
        assert_eq!(texts(&wanted), texts(&[a, c]));
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
        let rewrapped = load(apply_update(&loaded, &key, &both, false, None).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(recipients_of(&rewrapped.meta), texts(&both));
        let opened = crate::ops::keyopen::IdentityOpener { ids: &ids_b }
            .open(&rewrapped.meta)
            .unwrap();
        assert_eq!(opened.expose(), key.expose());
        assert_eq!(rewrapped.meta.lastmodified, loaded.meta.lastmodified);
        // A new data key: b opens it, and it is not the old one.
        let rotated = load(apply_update(&loaded, &key, &[b], true, None).unwrap())
            .unwrap()
            .unwrap();
        let new_key = crate::ops::keyopen::IdentityOpener { ids: &ids_b }
            .open(&rotated.meta)
            .unwrap();
        assert_ne!(new_key.expose(), key.expose());
    }
}
