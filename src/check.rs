//! Review of a manifest tree before it is committed: Secrets whose values are not encrypted,
//! `secretGenerator` literals, leaked last-applied annotations, malformed `ENC[...]` values,
//! and (optionally) how workloads consume Secrets. Findings name files, documents and key
//! paths, never values.

use std::collections::HashSet;

use crate::kube::{self, LAST_APPLIED};
use crate::merge::describe_doc;
use crate::sops::value;
use crate::yaml::scalar::{self, Typed};
use crate::yaml::tree::{Document, Mapping, Node, Stream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: Severity,
    /// A stable identifier: `unencrypted-secret`, `secret-in-env`, ...
    pub code: &'static str,
    /// 0-based document index.
    pub doc: Option<usize>,
    pub path: Option<String>,
    pub message: String,
}

impl Finding {
    fn error(code: &'static str, doc: usize, path: Option<String>, message: String) -> Self {
        Finding {
            severity: Severity::Error,
            code,
            doc: Some(doc),
            path,
            message,
        }
    }
    fn warning(code: &'static str, doc: usize, path: Option<String>, message: String) -> Self {
        Finding {
            severity: Severity::Warning,
            code,
            doc: Some(doc),
            path,
            message,
        }
    }
}

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

/// Whether a document is a kustomize Kustomization (not Flux's Kustomization of the same kind).
fn is_kustomization(doc: &Document, by_name: bool) -> bool {
    let Some(root) = doc.root_mapping() else {
        return false;
    };
    match (root.get_str("kind"), root.get_str("apiVersion")) {
        (Some("Kustomization"), Some(v)) => v.starts_with("kustomize.config.k8s.io/"),
        (None, _) => by_name,
        _ => false,
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
        ));
    }
    if let Some(ann) = kube::effective_get(m, "metadata")
        .and_then(Node::as_mapping)
        .and_then(|md| kube::effective_get(md, "annotations"))
        .and_then(Node::as_mapping)
    {
        if kube::effective_get(ann, LAST_APPLIED).is_some() {
            out.push(Finding::error(
                "last-applied",
                i,
                Some(format!("{prefix}metadata.annotations.{LAST_APPLIED}")),
                format!("{name} carries the last-applied-configuration annotation, which holds its values in plain text; remove it (kseal encrypt does)"),
            ));
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
            out.push(Finding::error(
                code,
                i,
                Some(format!("{prefix}{section}.{key}")),
                msg,
            ));
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
                ));
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
                ));
            }
        }
    }
}

/// A reference from a workload to a Secret.
#[derive(Debug, Clone)]
pub struct SecretRef {
    pub doc: usize,
    pub workload: String,
    pub secret: String,
    pub path: String,
}

/// Secrets defined and referenced across a tree.
#[derive(Debug, Default)]
pub struct Inventory {
    pub defined: HashSet<String>,
    /// (file index, reference)
    pub refs: Vec<(usize, SecretRef)>,
}

fn pod_spec<'a>(root: &'a Mapping) -> Option<(&'a Mapping<'a>, &'static str)> {
    let get = |m: &'a Mapping, k: &str| m.get(k).and_then(Node::as_mapping);
    let spec = get(root, "spec")?;
    match root.get_str("kind")? {
        "Pod" => Some((spec, "spec")),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => {
            Some((get(get(spec, "template")?, "spec")?, "spec.template.spec"))
        }
        "CronJob" => Some((
            get(
                get(get(get(spec, "jobTemplate")?, "spec")?, "template")?,
                "spec",
            )?,
            "spec.jobTemplate.spec.template.spec",
        )),
        _ => None,
    }
}

fn optional(m: &Mapping) -> bool {
    m.get_str("optional") == Some("true")
}

/// Records the Secrets a file defines and, for workloads, warns about Secrets in environment
/// variables and records every reference.
pub fn review_workloads(
    stream: &Stream,
    file: usize,
    kustomization: bool,
    inv: &mut Inventory,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, doc) in stream.docs.iter().enumerate() {
        let Some(root) = doc.root_mapping() else {
            continue;
        };
        if root.get_str("kind") == Some("Secret") {
            if let Some(n) = root
                .get("metadata")
                .and_then(Node::as_mapping)
                .and_then(|m| m.get_str("name"))
            {
                inv.defined.insert(n.to_string());
            }
        }
        if is_kustomization(doc, kustomization) {
            if let Some(Node::Sequence(gens)) = root.get("secretGenerator") {
                for g in &gens.items {
                    if let Some(n) = g.as_mapping().and_then(|m| m.get_str("name")) {
                        inv.defined.insert(n.to_string());
                    }
                }
            }
        }
        let Some((spec, base)) = pod_spec(root) else {
            continue;
        };
        let workload = describe_doc(doc).unwrap_or_else(|| "a workload".into());
        let mut add_ref = |secret: &str, path: String| {
            inv.refs.push((
                file,
                SecretRef {
                    doc: i,
                    workload: workload.clone(),
                    secret: secret.to_string(),
                    path,
                },
            ));
        };
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            let Some(Node::Sequence(cs)) = spec.get(list) else {
                continue;
            };
            for (ci, c) in cs.items.iter().enumerate() {
                let Some(c) = c.as_mapping() else { continue };
                let cname = c.get_str("name").unwrap_or("?");
                if let Some(Node::Sequence(env)) = c.get("env") {
                    for (ei, e) in env.items.iter().enumerate() {
                        let Some(e) = e.as_mapping() else { continue };
                        let Some(r) = e
                            .get("valueFrom")
                            .and_then(Node::as_mapping)
                            .and_then(|v| v.get("secretKeyRef"))
                            .and_then(Node::as_mapping)
                        else {
                            continue;
                        };
                        let secret = r.get_str("name").unwrap_or("?");
                        let path = format!("{base}.{list}[{ci}].env[{ei}].valueFrom.secretKeyRef");
                        out.push(Finding::warning(
                            "secret-in-env",
                            i,
                            Some(path.clone()),
                            format!(
                                "{workload}: container {cname} gets env {} from Secret {secret} (key {}): values in environment variables leak into logs, crash dumps and child processes; mount the Secret as a volume instead",
                                e.get_str("name").unwrap_or("?"),
                                r.get_str("key").unwrap_or("?")
                            ),
                        ));
                        if !optional(r) {
                            add_ref(secret, path);
                        }
                    }
                }
                if let Some(Node::Sequence(ef)) = c.get("envFrom") {
                    for (ei, e) in ef.items.iter().enumerate() {
                        let Some(r) = e
                            .as_mapping()
                            .and_then(|m| m.get("secretRef"))
                            .and_then(Node::as_mapping)
                        else {
                            continue;
                        };
                        let secret = r.get_str("name").unwrap_or("?");
                        let path = format!("{base}.{list}[{ci}].envFrom[{ei}].secretRef");
                        out.push(Finding::warning(
                            "secret-envfrom",
                            i,
                            Some(path.clone()),
                            format!("{workload}: container {cname} loads every key of Secret {secret} as environment variables (envFrom): they leak into logs, crash dumps and child processes; mount the Secret as a volume instead"),
                        ));
                        if !optional(r) {
                            add_ref(secret, path);
                        }
                    }
                }
            }
        }
        if let Some(Node::Sequence(vols)) = spec.get("volumes") {
            for (vi, v) in vols.items.iter().enumerate() {
                let Some(v) = v.as_mapping() else { continue };
                if let Some(s) = v.get("secret").and_then(Node::as_mapping) {
                    if let (Some(n), false) = (s.get_str("secretName"), optional(s)) {
                        add_ref(n, format!("{base}.volumes[{vi}].secret"));
                    }
                }
                if let Some(Node::Sequence(srcs)) = v
                    .get("projected")
                    .and_then(Node::as_mapping)
                    .and_then(|p| p.get("sources"))
                {
                    for (si, src) in srcs.items.iter().enumerate() {
                        if let Some(s) = src
                            .as_mapping()
                            .and_then(|m| m.get("secret"))
                            .and_then(Node::as_mapping)
                        {
                            if let (Some(n), false) = (s.get_str("name"), optional(s)) {
                                add_ref(
                                    n,
                                    format!("{base}.volumes[{vi}].projected.sources[{si}].secret"),
                                );
                            }
                        }
                    }
                }
            }
        }
        if let Some(Node::Sequence(ips)) = spec.get("imagePullSecrets") {
            for (pi, p) in ips.items.iter().enumerate() {
                if let Some(n) = p.as_mapping().and_then(|m| m.get_str("name")) {
                    add_ref(n, format!("{base}.imagePullSecrets[{pi}]"));
                }
            }
        }
    }
    out
}

/// Warnings for references to Secrets that no file of the tree defines: (file index, finding).
pub fn missing_secrets(inv: &Inventory) -> Vec<(usize, Finding)> {
    inv.refs
        .iter()
        .filter(|(_, r)| !inv.defined.contains(&r.secret))
        .map(|(f, r)| {
            (
                *f,
                Finding::warning(
                    "missing-secret",
                    r.doc,
                    Some(r.path.clone()),
                    format!(
                        "{} references Secret {}, which no file in the checked tree defines",
                        r.workload, r.secret
                    ),
                ),
            )
        })
        .collect()
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
    fn workloads_env_and_missing_secrets() {
        let src = "kind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        env:\n        - name: PW\n          valueFrom:\n            secretKeyRef:\n              name: db\n              key: password\n        envFrom:\n        - secretRef:\n            name: api\n      volumes:\n      - name: tls\n        secret:\n          secretName: web-tls\n---\nkind: Secret\nmetadata:\n  name: db\n";
        let mut inv = Inventory::default();
        let w = review_workloads(&parse(src).unwrap(), 0, false, &mut inv);
        let c: Vec<_> = w.iter().map(|f| f.code).collect();
        assert_eq!(c, vec!["secret-in-env", "secret-envfrom"]);
        let missing: Vec<String> = missing_secrets(&inv)
            .into_iter()
            .map(|(_, f)| f.message)
            .collect();
        assert_eq!(missing.len(), 2);
        assert!(missing[0].contains("Secret api"));
        assert!(missing[1].contains("Secret web-tls"));
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
