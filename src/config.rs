//! `.sops.yaml` creation rules: which recipients and crypt rule apply to a file path.

use regex::Regex;

use crate::error::{Error, Kind, Result};
use crate::sops::rules::CryptRule;
use crate::yaml::tree::{self, Mapping, Node};

/// One `creation_rules` entry.
#[derive(Clone, Debug)]
pub struct CreationRule {
    pub path_regex: Option<Regex>,
    /// age recipient strings, as written.
    pub age: Vec<String>,
    pub crypt_rule: Option<CryptRule>,
    pub mac_only_encrypted: bool,
    /// Key kinds kseal cannot use (pgp, kms, ...), for a clear message.
    pub other_keys: Vec<String>,
    /// Number of key groups; more than one means Shamir secret sharing, which kseal refuses
    /// when the rule is used (not when the config is read: other rules may still apply).
    pub key_groups: usize,
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
        })?),
        _ => None,
    };
    let age;
    let mut other = Vec::new();
    let mut key_groups = 1;
    match m.get("key_groups") {
        Some(Node::Sequence(groups)) if !groups.items.is_empty() => {
            key_groups = groups.items.len();
            let g = groups.items[0].as_mapping().ok_or_else(|| {
                Error::new(
                    Kind::Config,
                    format!("creation rule {n}: a key group is not a mapping"),
                )
            })?;
            age = strings(g.get("age")).map_err(ctx)?;
            other.extend(
                OTHER_KEYS
                    .iter()
                    .filter(|k| g.get(k).is_some())
                    .map(|k| k.to_string()),
            );
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
        age,
        crypt_rule,
        mac_only_encrypted,
        other_keys: other,
        key_groups,
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
    /// the config file's directory), like sops.
    pub fn rule_for(&self, rel_path: &str) -> Option<&CreationRule> {
        self.rules
            .iter()
            .find(|r| r.path_regex.as_ref().is_none_or(|re| re.is_match(rel_path)))
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
        let text = std::fs::read_to_string("../shared/interop/flux/sops-config.yaml").unwrap();
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
    fn shamir_groups_are_counted() {
        let c =
            Config::parse("creation_rules:\n  - key_groups:\n      - age: [a]\n      - age: [b]\n")
                .unwrap();
        assert_eq!(c.rule_for("x.yaml").unwrap().key_groups, 2);
    }
}
