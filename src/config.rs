//! `.sops.yaml` creation rules: which recipients and crypt rule apply to a file path (and,
//! with kseal's `namespace_regex` extension, to the namespace of the file's Secrets).

use regex::Regex;

use crate::error::{Error, Kind, Result};
use crate::sops::rules::CryptRule;
use crate::yaml::tree::{self, Mapping, Node};

/// One `creation_rules` entry.
#[derive(Clone, Debug)]
pub struct CreationRule {
    pub path_regex: Option<Regex>,
    /// kseal extension, ignored by sops: the rule applies only to files whose Secrets all have
    /// a `metadata.namespace` this regex matches (unanchored, like `path_regex`; a Secret
    /// without a namespace is matched as the empty string).
    pub namespace_regex: Option<Regex>,
    /// age recipient strings, as written.
    pub age: Vec<String>,
    pub crypt_rule: Option<CryptRule>,
    pub mac_only_encrypted: bool,
    /// Key kinds kseal cannot use (pgp, kms, ...), for a clear message.
    pub other_keys: Vec<String>,
    /// Number of key groups; more than one means Shamir secret sharing, which kseal refuses
    /// when the rule is used (not when the config is read: other rules may still apply).
    pub key_groups: usize,
    /// The age recipients of each key group when there are several (empty otherwise; `age`
    /// then holds the first group's).
    pub groups: Vec<Vec<String>>,
    /// `shamir_threshold` (0: absent, every group is needed).
    pub shamir_threshold: usize,
}

#[derive(Clone, Debug, Default)]
pub struct Config {
    pub rules: Vec<CreationRule>,
}

fn strings(node: Option<&Node>) -> Result<Vec<String>> {
    match node {
        None => Ok(Vec::new()),
        Some(Node::Sequence(q)) => q
            .items
            .iter()
            .map(|n| {
                n.as_scalar()
                    .map(|s| s.value.trim().to_string())
                    .ok_or_else(|| {
                        Error::new(
                            Kind::Config,
                            "a recipient list holds something other than strings",
                        )
                    })
            })
            .collect(),
        Some(n) => match n.as_scalar() {
            Some(s) => Ok(s
                .value
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()),
            None => Err(Error::new(
                Kind::Config,
                "a recipient entry must be a string or a list",
            )),
        },
    }
}

const OTHER_KEYS: [&str; 6] = [
    "pgp",
    "kms",
    "gcp_kms",
    "azure_keyvault",
    "hc_vault_transit_uri",
    "hckms",
];

/// A config value read as a list: absent values are `Null` (`~`, `null`, empty).
enum Items<'n, 'a> {
    Null,
    List(&'n [Node<'a>]),
    Other,
}

fn items<'n, 'a>(node: &'n Node<'a>) -> Items<'n, 'a> {
    match node {
        Node::Sequence(q) => Items::List(&q.items),
        Node::Alias(target, ..) => items(target),
        Node::Scalar(s) if matches!(&*s.value, "" | "~" | "null" | "Null" | "NULL") => Items::Null,
        _ => Items::Other,
    }
}

/// How deep `merge` may nest key groups (sops has no limit; a config file deeper than this
/// is a mistake or an attack on the stack).
const MAX_MERGE_DEPTH: usize = 16;

/// The age recipients of one key group, as sops 3.9+ collects them: the keys of the groups
/// listed under `merge` first (recursively, in order), then the group's own `age` entries
/// (each list item may hold several, comma-separated); each recipient once. Key kinds kseal
/// cannot use (pgp, kms, ...) anywhere in the group go to `other`.
fn group_keys(
    node: &Node,
    depth: usize,
    out: &mut Vec<String>,
    other: &mut Vec<String>,
) -> Result<()> {
    let config = |msg: &str| Error::new(Kind::Config, msg.to_string());
    let g = node
        .as_mapping()
        .ok_or_else(|| config("a key group is not a mapping"))?;
    if depth > MAX_MERGE_DEPTH {
        return Err(config(
            "key groups nest more than 16 levels deep through `merge`",
        ));
    }
    match g.get("merge").map(items) {
        None | Some(Items::Null) => {}
        Some(Items::List(list)) => {
            for item in list {
                group_keys(item, depth + 1, out, other)?;
            }
        }
        Some(Items::Other) => {
            return Err(config(
                "a key group's `merge` is not a list of key groups (sops refuses it too)",
            ))
        }
    }
    for entry in strings(g.get("age"))? {
        for r in entry.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            if !out.iter().any(|o| o == r) {
                out.push(r.to_string());
            }
        }
    }
    for k in OTHER_KEYS.iter().chain(&["hc_vault", "plugins"]) {
        let used = match g.get(k).map(items) {
            None | Some(Items::Null) => false,
            Some(Items::List(list)) => !list.is_empty(),
            Some(Items::Other) => true,
        };
        if used && !other.iter().any(|o| o == k) {
            other.push(k.to_string());
        }
    }
    Ok(())
}

fn parse_rule(m: &Mapping, n: usize) -> Result<CreationRule> {
    let ctx = |e: Error| Error {
        message: format!("creation rule {n}: {}", e.message),
        ..e
    };
    let path_regex = match m.get_str("path_regex") {
        Some(r) if !r.is_empty() => Some(Regex::new(r).map_err(|e| {
            Error::new(
                Kind::Config,
                format!("creation rule {n}: invalid path_regex: {e}"),
            )
            .with_source(e)
        })?),
        _ => None,
    };
    let namespace_regex = match m.get_str("namespace_regex") {
        Some(r) if !r.is_empty() => Some(Regex::new(r).map_err(|e| {
            Error::new(
                Kind::Config,
                format!("creation rule {n}: invalid namespace_regex: {e}"),
            )
            .with_source(e)
        })?),
        _ => None,
    };
    let age;
    let mut other = Vec::new();
    let mut groups = Vec::new();
    let mut key_groups = 1;
    match m.get("key_groups") {
        Some(Node::Sequence(list)) if !list.items.is_empty() => {
            key_groups = list.items.len();
            for item in &list.items {
                let mut group = Vec::new();
                group_keys(item, 0, &mut group, &mut other).map_err(ctx)?;
                groups.push(group);
            }
            age = groups[0].clone();
            if key_groups == 1 {
                groups.clear();
            }
        }
        _ => {
            age = strings(m.get("age")).map_err(ctx)?;
            other.extend(
                OTHER_KEYS
                    .iter()
                    .filter(|k| m.get(k).is_some())
                    .map(|k| k.to_string()),
            );
        }
    }
    let shamir_threshold = match m.get_str("shamir_threshold").map(str::trim) {
        None | Some("") => 0,
        Some(v) => v.parse::<usize>().map_err(|_| {
            Error::new(
                Kind::Config,
                format!("creation rule {n}: shamir_threshold is not a whole number"),
            )
        })?,
    };
    let mut crypt_rule = None;
    for k in CryptRule::KEYS {
        if let Some(v) = m.get_str(k) {
            if crypt_rule.is_some() {
                return Err(Error::new(
                    Kind::Config,
                    format!("creation rule {n} sets more than one crypt rule"),
                ));
            }
            crypt_rule = Some(CryptRule::from_key(k, v).map_err(|e| Error {
                kind: Kind::Config,
                ..ctx(e)
            })?);
        }
    }
    let mac_only_encrypted = matches!(
        m.get_str("mac_only_encrypted"),
        Some("true" | "True" | "TRUE")
    );
    Ok(CreationRule {
        path_regex,
        namespace_regex,
        age,
        crypt_rule,
        mac_only_encrypted,
        other_keys: other,
        key_groups,
        groups,
        shamir_threshold,
    })
}

impl Config {
    pub fn parse(text: &str) -> Result<Config> {
        let stream = tree::parse(text).map_err(|e| Error {
            kind: Kind::Config,
            ..e
        })?;
        let Some(root) = stream.docs.first().and_then(|d| d.root_mapping()) else {
            return Ok(Config::default());
        };
        let mut rules = Vec::new();
        if let Some(Node::Sequence(q)) = root.get("creation_rules") {
            for (i, item) in q.items.iter().enumerate() {
                let m = item.as_mapping().ok_or_else(|| {
                    Error::new(
                        Kind::Config,
                        format!("creation rule {} is not a mapping", i + 1),
                    )
                })?;
                rules.push(parse_rule(m, i + 1)?);
            }
        }
        Ok(Config { rules })
    }

    /// The first rule whose `path_regex` matches `rel_path` (the target's path relative to
    /// the config file's directory), like sops. Rules with a `namespace_regex` are skipped:
    /// without the file's content, its namespaces are unknown.
    pub fn rule_for(&self, rel_path: &str) -> Option<&CreationRule> {
        self.rule_for_file(rel_path, &[])
    }

    /// The first rule that matches a file: its `path_regex` matches `rel_path` and, if it has
    /// a `namespace_regex`, the file has at least one Secret and the regex matches the
    /// `metadata.namespace` of every one of them (`namespaces`: one entry per Secret document,
    /// `None` for a Secret without a namespace, matched as the empty string).
    ///
    /// "Every Secret" because one file is one envelope: a file mixing namespaces gets the
    /// recipients of a rule that covers all of them, or of a later, broader rule.
    pub fn rule_for_file(
        &self,
        rel_path: &str,
        namespaces: &[Option<String>],
    ) -> Option<&CreationRule> {
        self.rules.iter().find(|r| {
            r.path_regex.as_ref().is_none_or(|re| re.is_match(rel_path))
                && r.namespace_regex.as_ref().is_none_or(|re| {
                    !namespaces.is_empty()
                        && namespaces
                            .iter()
                            .all(|ns| re.is_match(ns.as_deref().unwrap_or("")))
                })
        })
    }

    /// Whether some rule selects on namespaces (then callers read the file's Secrets first).
    pub fn has_namespace_rules(&self) -> bool {
        self.rules.iter().any(|r| r.namespace_regex.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins() {
        let c = Config::parse(
            "creation_rules:\n  - path_regex: prod/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: age1a, age1b\n  - key_groups:\n      - age:\n          - age1c\n    mac_only_encrypted: true\n",
        )
        .unwrap();
        let r = c.rule_for("prod/db.yaml").unwrap();
        assert_eq!(r.age, vec!["age1a", "age1b"]);
        assert!(r.crypt_rule.is_some());
        let r = c.rule_for("dev/db.yaml").unwrap();
        assert_eq!(r.age, vec!["age1c"]);
        assert!(r.mac_only_encrypted);
    }

    #[test]
    fn flux_config_parses() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/interop/flux/sops-config.yaml"
        ))
        .unwrap();
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.rules.len(), 5);
        let r = c.rule_for("secret.yaml").unwrap();
        assert_eq!(
            r.age,
            vec!["age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29"]
        );
        assert_eq!(
            r.crypt_rule.as_ref().unwrap().key_value().1,
            "^(data|stringData)$"
        );
    }

    #[test]
    fn namespace_rules_need_every_secret_to_match() {
        let c = Config::parse(
            "creation_rules:\n  - path_regex: apps/\n    namespace_regex: ^payments$\n    age: age1pay\n  - namespace_regex: '^$'\n    age: age1none\n  - path_regex: apps/\n    age: age1apps\n",
        )
        .unwrap();
        assert!(c.has_namespace_rules());
        let ns = |v: &[Option<&str>]| v.iter().map(|s| s.map(String::from)).collect::<Vec<_>>();
        let age =
            |rel: &str, v: &[Option<&str>]| c.rule_for_file(rel, &ns(v)).map(|r| r.age[0].clone());
        assert_eq!(
            age("apps/a.yaml", &[Some("payments")]).as_deref(),
            Some("age1pay")
        );
        assert_eq!(
            age("apps/a.yaml", &[Some("payments"), Some("payments")]).as_deref(),
            Some("age1pay")
        );
        // One Secret elsewhere: the namespace rule does not apply to the file.
        assert_eq!(
            age("apps/a.yaml", &[Some("payments"), Some("web")]).as_deref(),
            Some("age1apps")
        );
        // The path must match too.
        assert_eq!(age("other/a.yaml", &[Some("payments")]), None);
        // A Secret without a namespace is matched as "".
        assert_eq!(age("other/a.yaml", &[None]).as_deref(), Some("age1none"));
        // No Secret known (a new file): namespace rules are skipped.
        assert_eq!(age("apps/a.yaml", &[]).as_deref(), Some("age1apps"));
        assert_eq!(c.rule_for("apps/a.yaml").unwrap().age, vec!["age1apps"]);
        let e =
            Config::parse("creation_rules:\n  - namespace_regex: '('\n    age: a\n").unwrap_err();
        assert!(
            e.message.contains("invalid namespace_regex"),
            "{}",
            e.message
        );
    }

    #[test]
    fn nested_key_groups_merge_as_sops_does() {
        // sops 3.9+: the merged groups' keys first (recursively, in order), then the group's
        // own; comma-separated entries split; each recipient once per group.
        let c = Config::parse(
            "creation_rules:\n  - key_groups:\n      - merge:\n          - age: [a]\n          - merge:\n              - age: [\"b, c\"]\n        age: [d, a]\n      - age: [e]\n        merge: []\n        hc_vault: []\n",
        )
        .unwrap();
        let r = c.rule_for("x.yaml").unwrap();
        assert_eq!(r.groups, [vec!["a", "b", "c", "d"], vec!["e"]]);
        assert!(r.other_keys.is_empty(), "{:?}", r.other_keys);
        // A pgp key inside a merged group is named; `merge` that is not a list is refused.
        let c = Config::parse(
            "creation_rules:\n  - key_groups:\n      - merge:\n          - pgp: [F]\n        age: [a]\n      - age: [b]\n",
        )
        .unwrap();
        assert_eq!(c.rule_for("x.yaml").unwrap().other_keys, ["pgp"]);
        let e = Config::parse(
            "creation_rules:\n  - key_groups:\n      - merge:\n          age: [a]\n      - age: [b]\n",
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(
            e.message
                .contains("creation rule 1: a key group's `merge` is not a list"),
            "{}",
            e.message
        );
        let deep = format!(
            "creation_rules:\n  - key_groups:\n      - {}{{age: [a]}}{}\n      - age: [b]\n",
            "{merge: [".repeat(20),
            "]}".repeat(20)
        );
        let e = Config::parse(&deep).unwrap_err();
        assert!(e.message.contains("16 levels"), "{}", e.message);
    }

    #[test]
    fn shamir_groups_are_counted() {
        let c =
            Config::parse("creation_rules:\n  - key_groups:\n      - age: [a]\n      - age: [b]\n")
                .unwrap();
        let r = c.rule_for("x.yaml").unwrap();
        assert_eq!(r.key_groups, 2);
        assert_eq!(r.groups, [["a"], ["b"]]);
        assert_eq!(r.shamir_threshold, 0);
        let c = Config::parse(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [a, b]\n      - age: c\n      - pgp: [F]\n        age: [d]\n",
        )
        .unwrap();
        let r = c.rule_for("x.yaml").unwrap();
        assert_eq!(r.groups, [vec!["a", "b"], vec!["c"], vec!["d"]]);
        assert_eq!(r.shamir_threshold, 2);
        assert_eq!(r.other_keys, ["pgp"], "a pgp key in any group is named");
        // One group is the plain case.
        let c = Config::parse("creation_rules:\n  - key_groups:\n      - age: [a]\n").unwrap();
        assert!(c.rule_for("x.yaml").unwrap().groups.is_empty());
        let e = Config::parse(
            "creation_rules:\n  - shamir_threshold: x\n    key_groups:\n      - age: [a]\n",
        )
        .unwrap_err();
        assert!(e.message.contains("not a whole number"), "{}", e.message);
    }
}
