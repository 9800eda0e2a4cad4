//! How workloads consume Secrets (`kseal check --workloads`): Secrets in environment variables
//! and references to Secrets that no checked file defines.

use std::collections::HashSet;

use super::{is_kustomization, Finding};
use crate::merge::describe_doc;
use crate::yaml::tree::{Document, Mapping, Node, Stream};

/// A reference from a workload to a Secret.
#[derive(Debug, Clone)]
pub struct SecretRef {
    pub doc: usize,
    pub workload: String,
    pub secret: String,
    pub path: String,
    /// Byte offset of the reference in its file.
    pub at: usize,
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
        record_definitions(doc, root, kustomization, inv);
        let Some((spec, base)) = pod_spec(root) else {
            continue;
        };
        let mut w = Workload {
            file,
            doc: i,
            name: describe_doc(doc).unwrap_or_else(|| "a workload".into()),
            base,
            inv,
            out: &mut out,
        };
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            let Some(Node::Sequence(cs)) = spec.get(list) else {
                continue;
            };
            for (ci, c) in cs.items.iter().enumerate() {
                let Some(c) = c.as_mapping() else { continue };
                w.env(c, list, ci);
                w.env_from(c, list, ci);
            }
        }
        w.volumes(spec);
        w.image_pull_secrets(spec);
    }
    out
}

/// The Secrets a document defines: a Secret's name, a kustomization's `secretGenerator` names.
fn record_definitions(doc: &Document, root: &Mapping, kustomization: bool, inv: &mut Inventory) {
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
}

/// One workload's pod spec under review: where its findings and references go.
struct Workload<'a> {
    file: usize,
    doc: usize,
    /// `Deployment web`, or `a workload`.
    name: String,
    /// The path of the pod spec in the document (`spec.template.spec`).
    base: &'static str,
    inv: &'a mut Inventory,
    out: &'a mut Vec<Finding>,
}

impl Workload<'_> {
    fn add_ref(&mut self, secret: &str, path: String, at: usize) {
        self.inv.refs.push((
            self.file,
            SecretRef {
                doc: self.doc,
                workload: self.name.clone(),
                secret: secret.to_string(),
                path,
                at,
            },
        ));
    }

    /// `env[].valueFrom.secretKeyRef`: a warning each, and a reference unless optional.
    fn env(&mut self, c: &Mapping, list: &str, ci: usize) {
        let Some(Node::Sequence(env)) = c.get("env") else {
            return;
        };
        let cname = c.get_str("name").unwrap_or("?");
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
            let path = format!(
                "{}.{list}[{ci}].env[{ei}].valueFrom.secretKeyRef",
                self.base
            );
            self.out.push(
                Finding::warning(
                    "secret-in-env",
                    self.doc,
                    Some(path.clone()),
                    format!(
                        "{}: container {cname} gets env {} from Secret {secret} (key {}): values in environment variables leak into logs, crash dumps and child processes; mount the Secret as a volume instead",
                        self.name,
                        e.get_str("name").unwrap_or("?"),
                        r.get_str("key").unwrap_or("?")
                    ),
                )
                .at(r.start),
            );
            if !optional(r) {
                self.add_ref(secret, path, r.start);
            }
        }
    }

    /// `envFrom[].secretRef`: a warning each, and a reference unless optional.
    fn env_from(&mut self, c: &Mapping, list: &str, ci: usize) {
        let Some(Node::Sequence(ef)) = c.get("envFrom") else {
            return;
        };
        let cname = c.get_str("name").unwrap_or("?");
        for (ei, e) in ef.items.iter().enumerate() {
            let Some(r) = e
                .as_mapping()
                .and_then(|m| m.get("secretRef"))
                .and_then(Node::as_mapping)
            else {
                continue;
            };
            let secret = r.get_str("name").unwrap_or("?");
            let path = format!("{}.{list}[{ci}].envFrom[{ei}].secretRef", self.base);
            self.out.push(
                Finding::warning(
                    "secret-envfrom",
                    self.doc,
                    Some(path.clone()),
                    format!("{}: container {cname} loads every key of Secret {secret} as environment variables (envFrom): they leak into logs, crash dumps and child processes; mount the Secret as a volume instead", self.name),
                )
                .at(r.start),
            );
            if !optional(r) {
                self.add_ref(secret, path, r.start);
            }
        }
    }

    /// Secret volumes and projected volume sources (references only).
    fn volumes(&mut self, spec: &Mapping) {
        let Some(Node::Sequence(vols)) = spec.get("volumes") else {
            return;
        };
        let base = self.base;
        for (vi, v) in vols.items.iter().enumerate() {
            let Some(v) = v.as_mapping() else { continue };
            if let Some(s) = v.get("secret").and_then(Node::as_mapping) {
                if let (Some(n), false) = (s.get_str("secretName"), optional(s)) {
                    self.add_ref(n, format!("{base}.volumes[{vi}].secret"), s.start);
                }
            }
            let Some(Node::Sequence(srcs)) = v
                .get("projected")
                .and_then(Node::as_mapping)
                .and_then(|p| p.get("sources"))
            else {
                continue;
            };
            for (si, src) in srcs.items.iter().enumerate() {
                if let Some(s) = src
                    .as_mapping()
                    .and_then(|m| m.get("secret"))
                    .and_then(Node::as_mapping)
                {
                    if let (Some(n), false) = (s.get_str("name"), optional(s)) {
                        self.add_ref(
                            n,
                            format!("{base}.volumes[{vi}].projected.sources[{si}].secret"),
                            s.start,
                        );
                    }
                }
            }
        }
    }

    fn image_pull_secrets(&mut self, spec: &Mapping) {
        let Some(Node::Sequence(ips)) = spec.get("imagePullSecrets") else {
            return;
        };
        for (pi, p) in ips.items.iter().enumerate() {
            if let Some(n) = p.as_mapping().and_then(|m| m.get_str("name")) {
                self.add_ref(
                    n,
                    format!("{}.imagePullSecrets[{pi}]", self.base),
                    p.start(),
                );
            }
        }
    }
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
                )
                .at(r.at),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree::parse;

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
}
