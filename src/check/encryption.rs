//! Encryption at rest: the API server's `EncryptionConfiguration`
//! (`apiserver.config.k8s.io/v1`) committed in the repository. Secrets must be listed, the first
//! provider that covers them (the one new Secrets are written with) must encrypt, key material
//! must not be in clear text, and `aescbc` is the weakest choice.

use super::Finding;
use crate::sops::value;
use crate::yaml::tree::{Mapping, Node, Stream};

/// The resource names under which an entry covers Secrets (`*.` is every core resource).
const COVERS_SECRETS: [&str; 4] = ["secrets", "secrets.", "*.", "*.*"];

/// The providers whose `keys[].secret` is key material.
const KEYED: [&str; 3] = ["aescbc", "aesgcm", "secretbox"];

/// Reviews the EncryptionConfigurations of one file.
pub fn review(stream: &Stream) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, doc) in stream.docs.iter().enumerate() {
        let Some(root) = doc.root_mapping() else {
            continue;
        };
        if root.get_str("kind") != Some("EncryptionConfiguration")
            || !root
                .get_str("apiVersion")
                .is_some_and(|v| v.starts_with("apiserver.config.k8s.io/"))
        {
            continue;
        }
        config(root, i, &mut out);
    }
    out
}

fn config(root: &Mapping, doc: usize, out: &mut Vec<Finding>) {
    let entries: Vec<&Mapping> = match root.get("resources") {
        Some(Node::Sequence(q)) => q.items.iter().filter_map(Node::as_mapping).collect(),
        _ => Vec::new(),
    };
    let covering = entries
        .iter()
        .enumerate()
        .find(|(_, e)| match e.get("resources") {
            Some(Node::Sequence(q)) => q.items.iter().any(|r| {
                r.as_scalar()
                    .is_some_and(|s| COVERS_SECRETS.contains(&&*s.value))
            }),
            _ => false,
        });
    match covering {
        None => out.push(
            Finding::error(
                "encryption-secrets-missing",
                doc,
                Some("resources".into()),
                "EncryptionConfiguration: no resources entry lists secrets, so Secrets are stored unencrypted in etcd".into(),
            )
            .at(root.start),
        ),
        Some((ei, e)) => {
            if let Some((name, node)) = providers(e).first() {
                if name == "identity" {
                    out.push(
                        Finding::error(
                            "encryption-identity-first",
                            doc,
                            Some(format!("resources[{ei}].providers[0]")),
                            "EncryptionConfiguration: the first provider for secrets is identity: new Secrets are written to etcd unencrypted".into(),
                        )
                        .at(node.start()),
                    );
                }
            }
        }
    }
    for (ei, e) in entries.iter().enumerate() {
        for (pi, (name, node)) in providers(e).iter().enumerate() {
            let at = format!("resources[{ei}].providers[{pi}].{name}");
            if name == "aescbc" {
                out.push(
                    Finding::file(
                        super::Severity::Note,
                        "encryption-aescbc",
                        "EncryptionConfiguration: aescbc is the weakest provider; prefer KMS v2 (or secretbox, aesgcm with rotation)".into(),
                    )
                    .in_doc(doc, at.clone())
                    .at(node.start()),
                );
            }
            if KEYED.contains(&name.as_str()) {
                clear_keys(node, doc, &at, out);
            }
        }
    }
}

/// The providers of a resources entry, in order: (name, the provider's mapping node).
fn providers<'a>(entry: &'a Mapping<'a>) -> Vec<(String, &'a Node<'a>)> {
    let Some(Node::Sequence(q)) = entry.get("providers") else {
        return Vec::new();
    };
    q.items
        .iter()
        .filter_map(Node::as_mapping)
        .filter_map(|p| {
            let (k, v) = p.entries.first()?;
            Some((k.as_scalar()?.value.to_string(), v))
        })
        .collect()
}

fn clear_keys(provider: &Node, doc: usize, at: &str, out: &mut Vec<Finding>) {
    let Some(Node::Sequence(keys)) = provider.as_mapping().and_then(|m| m.get("keys")) else {
        return;
    };
    for (ki, k) in keys.items.iter().enumerate() {
        let Some(k) = k.as_mapping() else { continue };
        let Some(Node::Scalar(s)) = k.get("secret") else {
            continue;
        };
        if s.value.is_empty() || value::is_encrypted(&s.value) {
            continue;
        }
        out.push(
            Finding::error(
                "encryption-key-in-clear",
                doc,
                Some(format!("{at}.keys[{ki}].secret")),
                format!(
                    "EncryptionConfiguration: the key {} is committed in clear text: whoever reads the repository can decrypt etcd and its backups",
                    k.get_str("name").unwrap_or("?")
                ),
            )
            .at(s.start),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree::parse;

    fn codes(src: &str) -> Vec<&'static str> {
        review(&parse(src).unwrap())
            .iter()
            .map(|f| f.code)
            .collect()
    }

    const HEAD: &str =
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n";

    #[test]
    fn identity_first_missing_secrets_clear_keys_and_aescbc() {
        let f = format!("{HEAD}- resources: [secrets]\n  providers:\n  - identity: {{}}\n  - aescbc:\n      keys:\n      - name: key1\n        secret: c2VjcmV0IGlzIHNlY3VyZSwgb3IgaXMgaXQ/Cg==\n");
        let found = review(&parse(&f).unwrap());
        let c: Vec<_> = found.iter().map(|f| f.code).collect();
        assert_eq!(
            c,
            [
                "encryption-identity-first",
                "encryption-aescbc",
                "encryption-key-in-clear"
            ]
        );
        assert!(!found[2].message.contains("c2Vj"));
        assert_eq!(
            found[2].path.as_deref(),
            Some("resources[0].providers[1].aescbc.keys[0].secret")
        );
        assert_eq!(
            codes(&format!(
                "{HEAD}- resources: [configmaps]\n  providers:\n  - identity: {{}}\n"
            )),
            ["encryption-secrets-missing"]
        );
    }

    #[test]
    fn kms_first_and_encrypted_keys_pass() {
        let enc = "ENC[AES256_GCM,data:AA==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]";
        let f = format!("{HEAD}- resources: [secrets, configmaps]\n  providers:\n  - kms:\n      apiVersion: v2\n      name: vault\n      endpoint: unix:///var/run/kms.sock\n  - secretbox:\n      keys:\n      - name: k\n        secret: {enc}\n  - identity: {{}}\n");
        assert!(codes(&f).is_empty(), "{:?}", codes(&f));
        // `*.` covers every core resource, Secrets included.
        assert!(codes(&format!(
            "{HEAD}- resources: ['*.']\n  providers:\n  - kms: {{apiVersion: v2, name: k}}\n"
        ))
        .is_empty());
        // Not an EncryptionConfiguration of the API server.
        assert!(codes("apiVersion: v1\nkind: EncryptionConfiguration\nresources: []\n").is_empty());
    }
}
