//! Least privilege for Secrets in RBAC manifests: Roles and ClusterRoles that read every Secret
//! (`list`/`watch` return their contents), the verbs that step around RBAC, `pods/exec`, and
//! bindings that give a Secret-reading role to everyone. A rule narrowed with `resourceNames`
//! is fine. Bindings are judged after the whole tree is read: the role may be in another file.

use std::collections::HashSet;

use super::Finding;
use crate::yaml::tree::{Mapping, Node, Stream};

/// Roles read and bindings seen across the tree.
#[derive(Debug, Default)]
pub struct Rbac {
    /// `(kind, name)` of the roles that can read Secrets (`Role`/`ClusterRole`).
    readers: HashSet<(String, String)>,
    /// `(file index, binding)`.
    bindings: Vec<(usize, Binding)>,
}

impl Rbac {
    /// How many bindings were recorded.
    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }
}

/// A binding of a role to subjects that are everyone (all users, all Pods).
#[derive(Debug)]
struct Binding {
    doc: usize,
    at: usize,
    name: String,
    role: (String, String),
    subject: String,
}

/// The ClusterRoles every cluster has that read Secrets.
const BUILT_IN_READERS: [&str; 3] = ["cluster-admin", "admin", "edit"];

fn strings(m: &Mapping, key: &str) -> Vec<String> {
    match m.get(key) {
        Some(Node::Sequence(q)) => q
            .items
            .iter()
            .filter_map(|i| i.as_scalar().map(|s| s.value.to_string()))
            .collect(),
        Some(Node::Scalar(s)) if !s.value.is_empty() => vec![s.value.to_string()],
        _ => Vec::new(),
    }
}

fn has(list: &[String], any: &[&str]) -> bool {
    list.iter().any(|v| any.contains(&v.as_str()))
}

/// `Role web (namespace prod)`, `ClusterRole reader`.
fn describe(kind: &str, root: &Mapping) -> (String, String) {
    let md = root.get("metadata").and_then(Node::as_mapping);
    let name = md
        .and_then(|m| m.get_str("name"))
        .unwrap_or("?")
        .to_string();
    let text = match md.and_then(|m| m.get_str("namespace")) {
        Some(ns) if !ns.is_empty() => format!("{kind} {ns}/{name}"),
        _ => format!("{kind} {name}"),
    };
    (name, text)
}

/// Reviews the Roles, ClusterRoles and bindings of one file.
pub fn review(stream: &Stream, file: usize, rbac: &mut Rbac) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, doc) in stream.docs.iter().enumerate() {
        let Some(root) = doc.root_mapping() else {
            continue;
        };
        if !root
            .get_str("apiVersion")
            .is_some_and(|v| v.starts_with("rbac.authorization.k8s.io/"))
        {
            continue;
        }
        match root.get_str("kind") {
            Some(kind @ ("Role" | "ClusterRole")) if role(kind, root, i, &mut out) => {
                let (name, _) = describe(kind, root);
                rbac.readers.insert((kind.to_string(), name));
            }
            Some(kind @ ("RoleBinding" | "ClusterRoleBinding")) => {
                binding(kind, root, i, file, rbac)
            }
            _ => {}
        }
    }
    out
}

/// The findings of one role's rules; whether it can read Secrets.
fn role(kind: &str, root: &Mapping, doc: usize, out: &mut Vec<Finding>) -> bool {
    let (_, name) = describe(kind, root);
    let scope = if kind == "ClusterRole" {
        "in every namespace"
    } else {
        "in its namespace"
    };
    let Some(Node::Sequence(rules)) = root.get("rules") else {
        return false;
    };
    let mut reads = false;
    for (ri, r) in rules.items.iter().enumerate() {
        let Some(m) = r.as_mapping() else { continue };
        let (groups, resources, verbs) = (
            strings(m, "apiGroups"),
            strings(m, "resources"),
            strings(m, "verbs"),
        );
        let path = Some(format!("rules[{ri}]"));
        let core = has(&groups, &["", "*"]);
        let narrowed = !strings(m, "resourceNames").is_empty();
        if core && has(&resources, &["secrets", "*"]) && !narrowed {
            let listing: Vec<&str> = ["list", "watch", "*"]
                .into_iter()
                .filter(|v| verbs.iter().any(|x| x == v))
                .collect();
            if !listing.is_empty() {
                reads = true;
                out.push(Finding::error("rbac-secrets-list", doc, path.clone(), format!(
                    "{name}: rules[{ri}] grants {} on secrets {scope} without resourceNames: list and watch return every Secret's contents, not just names",
                    listing.join(", ")
                )).at(m.start));
            } else if has(&verbs, &["get"]) {
                reads = true;
                out.push(
                    Finding::warning(
                        "rbac-secrets-get",
                        doc,
                        path.clone(),
                        format!(
                    "{name}: rules[{ri}] grants get on every Secret {scope} (no resourceNames)"
                ),
                    )
                    .at(m.start),
                );
            }
        } else if core
            && has(&resources, &["secrets", "*"])
            && has(&verbs, &["get", "list", "watch", "*"])
        {
            reads = true;
        }
        let escalating: Vec<&str> = ["escalate", "bind", "impersonate"]
            .into_iter()
            .filter(|v| verbs.iter().any(|x| x == v))
            .collect();
        if !escalating.is_empty() {
            out.push(Finding::warning("rbac-escalation", doc, path.clone(), format!(
                "{name}: rules[{ri}] grants {}, which step around RBAC (a holder can grant itself access to Secrets)",
                escalating.join(", ")
            )).at(m.start));
        }
        if core && has(&resources, &["pods/exec"]) && has(&verbs, &["create", "*"]) {
            out.push(Finding::warning("rbac-pod-exec", doc, path, format!(
                "{name}: rules[{ri}] grants create on pods/exec: a shell in a Pod reads the Secrets it mounts and its environment"
            )).at(m.start));
        }
    }
    reads
}

/// Records a binding whose subjects include everyone (judged at the end of the tree).
fn binding(kind: &str, root: &Mapping, doc: usize, file: usize, rbac: &mut Rbac) {
    let (_, name) = describe(kind, root);
    let Some(role_ref) = root.get("roleRef").and_then(Node::as_mapping) else {
        return;
    };
    let role = (
        role_ref.get_str("kind").unwrap_or("").to_string(),
        role_ref.get_str("name").unwrap_or("").to_string(),
    );
    let Some(Node::Sequence(subjects)) = root.get("subjects") else {
        return;
    };
    for (si, s) in subjects.items.iter().enumerate() {
        let Some(s) = s.as_mapping() else { continue };
        let Some(who) = broad_subject(s) else {
            continue;
        };
        rbac.bindings.push((
            file,
            Binding {
                doc,
                at: s.start,
                name: format!("{name}: subjects[{si}]"),
                role: role.clone(),
                subject: who,
            },
        ));
    }
}

/// The description of a subject that stands for every user or every Pod, if it is one.
fn broad_subject(s: &Mapping) -> Option<String> {
    let name = s.get_str("name")?;
    match s.get_str("kind")? {
        "Group"
            if matches!(
                name,
                "system:authenticated" | "system:unauthenticated" | "system:serviceaccounts"
            ) || name.starts_with("system:serviceaccounts:") =>
        {
            Some(format!("group {name}"))
        }
        "User" if name == "system:anonymous" => Some(format!("user {name}")),
        "ServiceAccount" if name == "default" => Some(format!(
            "the default ServiceAccount{} (every Pod that names no other)",
            s.get_str("namespace")
                .map(|n| format!(" of namespace {n}"))
                .unwrap_or_default()
        )),
        _ => None,
    }
}

/// Bindings that give a Secret-reading role (from the tree, or cluster-admin, admin, edit) to
/// everyone: (file index, finding).
pub fn broad_bindings(rbac: &Rbac) -> Vec<(usize, Finding)> {
    rbac.bindings
        .iter()
        .filter(|(_, b)| {
            rbac.readers.contains(&b.role)
                || (b.role.0 == "ClusterRole" && BUILT_IN_READERS.contains(&b.role.1.as_str()))
        })
        .map(|(file, b)| {
            let f = Finding::error(
                "rbac-broad-binding",
                b.doc,
                Some(b.name.rsplit(": ").next().unwrap_or_default().to_string()),
                format!(
                    "{} gives {} {}, which reads Secrets, to {}",
                    b.name, b.role.0, b.role.1, b.subject
                ),
            )
            .at(b.at);
            (*file, f)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree::parse;

    fn run(src: &str) -> Vec<Finding> {
        let mut rbac = Rbac::default();
        let mut f = review(&parse(src).unwrap(), 0, &mut rbac);
        f.extend(broad_bindings(&rbac).into_iter().map(|(_, f)| f));
        f
    }

    fn codes(src: &str) -> Vec<&'static str> {
        run(src).iter().map(|f| f.code).collect()
    }

    const HEAD: &str = "apiVersion: rbac.authorization.k8s.io/v1\n";

    #[test]
    fn list_watch_get_and_wildcards_on_secrets() {
        let role = |rule: &str| {
            format!("{HEAD}kind: ClusterRole\nmetadata:\n  name: r\nrules:\n- {rule}\n")
        };
        assert_eq!(
            codes(&role(
                "{apiGroups: [\"\"], resources: [secrets], verbs: [list]}"
            )),
            ["rbac-secrets-list"]
        );
        assert_eq!(
            codes(&role(
                "{apiGroups: [\"\"], resources: [secrets], verbs: [get]}"
            )),
            ["rbac-secrets-get"]
        );
        assert_eq!(
            codes(&role(
                "{apiGroups: [\"*\"], resources: [\"*\"], verbs: [\"*\"]}"
            )),
            ["rbac-secrets-list"]
        );
        // Near misses: narrowed, another group, another resource.
        assert!(codes(&role("{apiGroups: [\"\"], resources: [secrets], resourceNames: [db], verbs: [get, list, watch]}")).is_empty());
        assert!(codes(&role(
            "{apiGroups: [apps], resources: [\"*\"], verbs: [list]}"
        ))
        .is_empty());
        assert!(codes(&role(
            "{apiGroups: [\"\"], resources: [configmaps], verbs: [list]}"
        ))
        .is_empty());
        let f = run(&role(
            "{apiGroups: [\"\"], resources: [secrets], verbs: [get, watch]}",
        ));
        assert!(
            f[0].message
                .contains("grants watch on secrets in every namespace"),
            "{}",
            f[0].message
        );
        assert!(f[0].message.contains("every Secret's contents"));
    }

    #[test]
    fn escalation_and_exec() {
        let src = format!("{HEAD}kind: Role\nmetadata:\n  name: r\n  namespace: prod\nrules:\n- apiGroups: [rbac.authorization.k8s.io]\n  resources: [clusterroles]\n  verbs: [bind, escalate]\n- apiGroups: [\"\"]\n  resources: [pods/exec]\n  verbs: [create]\n- apiGroups: [\"\"]\n  resources: [pods/log]\n  verbs: [get]\n");
        let f = run(&src);
        let c: Vec<_> = f.iter().map(|f| f.code).collect();
        assert_eq!(c, ["rbac-escalation", "rbac-pod-exec"]);
        assert!(f[0]
            .message
            .starts_with("Role prod/r: rules[0] grants escalate, bind"));
        assert_eq!(f[1].path.as_deref(), Some("rules[1]"));
    }

    #[test]
    fn broad_bindings_of_secret_readers_only() {
        let roles = format!("{HEAD}kind: Role\nmetadata: {{name: reader}}\nrules:\n- {{apiGroups: [\"\"], resources: [secrets], resourceNames: [db], verbs: [get]}}\n---\n{HEAD}kind: Role\nmetadata: {{name: pods}}\nrules:\n- {{apiGroups: [\"\"], resources: [pods], verbs: [list]}}\n");
        let bind = |role: &str, kind: &str, subject: &str| {
            format!("---\n{HEAD}kind: RoleBinding\nmetadata: {{name: b}}\nroleRef: {{kind: {kind}, name: {role}, apiGroup: rbac.authorization.k8s.io}}\nsubjects:\n- {subject}\n")
        };
        let all = "{kind: Group, name: system:authenticated, apiGroup: rbac.authorization.k8s.io}";
        let sa = "{kind: ServiceAccount, name: default, namespace: prod}";
        assert_eq!(
            codes(&format!("{roles}{}", bind("reader", "Role", all))),
            ["rbac-broad-binding"]
        );
        assert_eq!(
            codes(&format!("{roles}{}", bind("reader", "Role", sa))),
            ["rbac-broad-binding"]
        );
        assert_eq!(
            codes(&format!("{roles}{}", bind("edit", "ClusterRole", all))),
            ["rbac-broad-binding"]
        );
        // A role that does not read Secrets; a dedicated ServiceAccount.
        assert!(codes(&format!("{roles}{}", bind("pods", "Role", all))).is_empty());
        assert!(codes(&format!(
            "{roles}{}",
            bind("reader", "Role", "{kind: ServiceAccount, name: app}")
        ))
        .is_empty());
        let f = run(&format!("{roles}{}", bind("reader", "Role", sa)));
        assert!(f[0].message.contains("RoleBinding b: subjects[0] gives Role reader, which reads Secrets, to the default ServiceAccount of namespace prod"), "{}", f[0].message);
        assert_eq!(f[0].doc, Some(2));
    }
}
