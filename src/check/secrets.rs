//! The rules about Secrets themselves: clear values (`unencrypted-secret`,
//! `unencrypted-value`), Secrets built with merge keys, the last-applied annotation, malformed
//! `ENC[...]` values and `secretGenerator` literals.

use super::{is_kustomization, Finding};
use crate::kube::{self, LAST_APPLIED};
use crate::sops::value;
use crate::yaml::scalar::{self, Typed};
use crate::yaml::tree::{Mapping, Node, Stream};

fn is_empty_value(n: &Node) -> bool {
    match n.as_scalar() {
        Some(s) => {
            matches!(
                scalar::resolve(&s.value, s.style, s.tag.as_deref()),
                Ok(Typed::Null)
            ) || (s.value.is_empty())
        }
        None => false,
    }
}

/// Checks one parsed file. `kustomization` says whether its name is kustomization.yaml.
pub fn check_stream(stream: &Stream, kustomization: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, doc) in stream.docs.iter().enumerate() {
        let Some(root) = doc.root_mapping() else {
            continue;
        };
        malformed_enc(
            doc.root.as_ref().expect("root"),
            &mut Vec::new(),
            i,
            &mut out,
        );
        if is_kustomization(doc, kustomization) {
            generator_literals(root, i, &mut out);
        }
        let enveloped = root.get("sops").is_some();
        for (at, m) in kube::objects(doc) {
            check_secret_object(m, &at, i, enveloped, &mut out);
        }
    }
    out
}

/// Checks one object kubectl would apply (a document's root or a list item at `at`) if it is
/// a Secret, looking through YAML merge keys as kubectl does.
fn check_secret_object(m: &Mapping, at: &str, i: usize, enveloped: bool, out: &mut Vec<Finding>) {
    if kube::effective_kind(m) != Some("Secret") || kube::effective_get(m, "$patch").is_some() {
        return;
    }
    let prefix = if at.is_empty() {
        String::new()
    } else {
        format!("{at}.")
    };
    let name = match kube::effective_get(m, "metadata")
        .and_then(Node::as_mapping)
        .and_then(|md| kube::effective_get(md, "name"))
        .and_then(Node::as_scalar)
    {
        Some(n) => format!("Secret {}", n.value),
        None => "a Secret".to_string(),
    };
    let name = if at.is_empty() {
        name
    } else {
        format!("{name} ({at})")
    };
    let merged = kube::has_merge_key(m)
        || ["data", "stringData"].iter().any(|s| {
            kube::effective_get(m, s)
                .and_then(Node::as_mapping)
                .is_some_and(kube::has_merge_key)
        });
    if merged || m.get_str("kind") != Some("Secret") {
        out.push(Finding::warning(
            "merge-key",
            i,
            (!at.is_empty()).then(|| at.to_string()),
            format!("{name} is built with YAML merge keys (`<<`), which kubectl follows; kseal does not encrypt through them: write the Secret out in full"),
        ).at(m.start));
    }
    if let Some(ann) = kube::effective_get(m, "metadata")
        .and_then(Node::as_mapping)
        .and_then(|md| kube::effective_get(md, "annotations"))
        .and_then(Node::as_mapping)
    {
        if let Some(v) = kube::effective_get(ann, LAST_APPLIED) {
            out.push(Finding::error(
                "last-applied",
                i,
                Some(format!("{prefix}metadata.annotations.{LAST_APPLIED}")),
                format!("{name} carries the last-applied-configuration annotation, which holds its values in plain text; remove it (kseal encrypt does)"),
            ).at(v.start()));
        }
    }
    for section in ["data", "stringData"] {
        let Some(sm) = kube::effective_get(m, section).and_then(Node::as_mapping) else {
            continue;
        };
        for (k, v) in kube::effective_entries(sm) {
            let key = k.as_scalar().map(|s| &*s.value).unwrap_or("?");
            if is_empty_value(v) || is_enc(v) {
                continue;
            }
            let (code, msg) = if enveloped {
                (
                    "unencrypted-value",
                    format!("{name}: the value of {prefix}{section}.{key} is not encrypted although the file is"),
                )
            } else {
                (
                    "unencrypted-secret",
                    format!("{name}: {prefix}{section}.{key} is not encrypted; run `kseal encrypt -i` on the file"),
                )
            };
            out.push(
                Finding::error(code, i, Some(format!("{prefix}{section}.{key}")), msg)
                    .at(k.start()),
            );
        }
    }
}

fn is_enc(n: &Node) -> bool {
    n.as_scalar().is_some_and(|s| value::is_encrypted(&s.value))
}

fn malformed_enc(node: &Node, path: &mut Vec<String>, doc: usize, out: &mut Vec<Finding>) {
    match node {
        Node::Scalar(s) => {
            if s.value.starts_with("ENC[") && value::parse(&s.value).is_err() {
                out.push(Finding::error(
                    "malformed-enc",
                    doc,
                    Some(path.join(".")),
                    "malformed ENC[...] value: it cannot be decrypted (truncated or edited by hand?)"
                        .to_string(),
                ).at(s.start));
            }
        }
        Node::Alias(..) => {}
        Node::Sequence(q) => {
            for item in &q.items {
                malformed_enc(item, path, doc, out);
            }
        }
        Node::Mapping(m) => {
            for (k, v) in &m.entries {
                path.push(
                    k.as_scalar()
                        .map(|s| s.value.to_string())
                        .unwrap_or_else(|| "?".into()),
                );
                malformed_enc(v, path, doc, out);
                path.pop();
            }
        }
    }
}

fn generator_literals(root: &Mapping, doc: usize, out: &mut Vec<Finding>) {
    let Some(Node::Sequence(gens)) = root.get("secretGenerator") else {
        return;
    };
    for (gi, g) in gens.items.iter().enumerate() {
        let Some(m) = g.as_mapping() else { continue };
        let name = m.get_str("name").unwrap_or("?");
        if let Some(Node::Sequence(lits)) = m.get("literals") {
            if !lits.items.is_empty() {
                out.push(Finding::error(
                    "generator-literals",
                    doc,
                    Some(format!("secretGenerator[{gi}].literals")),
                    format!("secretGenerator {name} has {} plain-text literal{} in the kustomization; move them to an encrypted Secret (KsealGenerator)", lits.items.len(), if lits.items.len() == 1 { "" } else { "s" }),
                ).at(m.entry("literals").map_or(lits.start, |(k, _)| k.start())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree::parse;

    fn codes(src: &str, kustomization: bool) -> Vec<&'static str> {
        check_stream(&parse(src).unwrap(), kustomization)
            .iter()
            .map(|f| f.code)
            .collect()
    }

    #[test]
    fn plain_secret_in_a_stream_is_found() {
        let src = "kind: Secret\nmetadata:\n  name: a\ndata:\n  k: ENC[AES256_GCM,data:AA==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\nsops:\n  mac: x\n---\nkind: Secret\nmetadata:\n  name: b\nstringData:\n  p: hunter2\n  e: \"\"\n";
        let f = check_stream(&parse(src).unwrap(), false);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "unencrypted-secret");
        assert_eq!(f[0].doc, Some(1));
        assert!(!f[0].message.contains("hunter2"));
    }

    #[test]
    fn literals_last_applied_and_malformed() {
        assert_eq!(
            codes("secretGenerator:\n- name: x\n  literals:\n  - a=b\n", true),
            vec!["generator-literals"]
        );
        assert!(codes("secretGenerator:\n- name: x\n  literals:\n  - a=b\n", false).is_empty());
        assert_eq!(
            codes("kind: Secret\nmetadata:\n  name: a\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: x\n", false),
            vec!["last-applied"]
        );
        assert_eq!(
            codes("kind: Secret\nmetadata:\n  name: a\ndata:\n  k: ENC[AES256_GCM,data:AA==]\nsops:\n  mac: x\n", false),
            vec!["malformed-enc"]
        );
    }

    #[test]
    fn secrets_behind_merge_keys_and_in_lists_are_found() {
        // kind from a merge key, values written out.
        let f = check_stream(
            &parse("<<: {kind: Secret}\nmetadata: {name: m}\nstringData: {password: hunter2}\n")
                .unwrap(),
            false,
        );
        let c: Vec<_> = f.iter().map(|f| f.code).collect();
        assert_eq!(c, ["merge-key", "unencrypted-secret"]);
        assert_eq!(f[1].path.as_deref(), Some("stringData.password"));
        // Values brought into data by an alias merge.
        let f = codes(
            "x: &p {password: aHVudGVyMg==}\nkind: Secret\ndata:\n  <<: *p\n",
            false,
        );
        assert_eq!(f, ["merge-key", "unencrypted-secret"]);
        // A plain Secret among the items of a List, nested lists included.
        let src = "apiVersion: v1\nkind: List\nitems:\n- kind: ConfigMap\n  data: {a: b}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: hidden}\n  stringData: {password: hunter2}\n";
        let f = check_stream(&parse(src).unwrap(), false);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "unencrypted-secret");
        assert_eq!(f[0].path.as_deref(), Some("items[1].stringData.password"));
        assert!(
            f[0].message.contains("Secret hidden (items[1])"),
            "{}",
            f[0].message
        );
        assert!(!f[0].message.contains("hunter2"));
        // An encrypted value in a list item passes.
        let enc = "ENC[AES256_GCM,data:AA==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]";
        let src = format!(
            "kind: List\nitems:\n- kind: Secret\n  data: {{p: '{enc}'}}\nsops:\n  mac: x\n"
        );
        assert!(codes(&src, false).is_empty());
    }
}
