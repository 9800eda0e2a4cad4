//! `set` and `unset`: change one key of one Secret in a decrypted file and seal the result
//! into the file's own envelope, so that every other byte and every unchanged `ENC[...]`
//! stays as it was and the Git diff shows only that value. The Kubernetes meaning lives here
//! (`data` vs `stringData`, the key rule); the byte-level edits are `yaml::mapping_edit`'s.

use crate::error::{Error, Kind, Reason, Result};
use crate::kube::{self, secret_key_problem};
use crate::secrets;
use crate::sops::file::{self, Envelope};
use crate::yaml::json;
use crate::yaml::mapping_edit::{self as me, Layout};
use crate::yaml::splice::{self, Edit};
use crate::yaml::tree::{self, Document, Mapping, Node};

/// Which Secret of the file: `doc` (1-based) and/or `name`; neither when there is one.
#[derive(Clone, Copy, Default)]
pub struct Which<'a> {
    pub doc: Option<usize>,
    pub name: Option<&'a str>,
}

/// The entry `set` writes: `value` is already base64 for `data`; `string` puts it under
/// `stringData`.
#[derive(Clone, Copy)]
pub struct Entry<'a> {
    pub key: &'a str,
    pub value: &'a str,
    pub string: bool,
}

/// A file changed by `set` or `unset`, sealed again.
pub struct Resealed {
    /// The whole new file text.
    pub text: String,
    /// 0-based index of the changed document.
    pub doc: usize,
    /// The mapping (`data` or `stringData`) a stale copy of the key was taken out of.
    pub removed_from: Option<&'static str>,
}

/// What `unset` did: the file changed, or the key was not there (then `secret` describes
/// where it was looked for).
pub enum Unset {
    Changed(Resealed),
    Absent { secret: String, doc: usize },
}

/// The documents re-encryption covers: all of them for sops files that enveloped every
/// document, else the Secrets.
pub fn scope(env: &Envelope) -> impl Fn(&Document) -> bool {
    let all = env.covers_all();
    move |d| all || secrets::holds_secrets(d)
}

/// Sets the entry in the chosen Secret of `plain`, the decrypted text of file `name`, sealed
/// into `env`. `warn` receives the Kubernetes warnings about the changed Secret.
pub fn set(
    name: &str,
    plain: &str,
    env: &Envelope,
    which: Which,
    entry: Entry,
    warn: &mut dyn FnMut(&str),
) -> Result<Resealed> {
    let Entry { key, value, string } = entry;
    let stream = tree::parse(plain).map_err(|e| e.in_file(name))?;
    let secret = secrets::select(&stream, which.doc, which.name).map_err(|e| e.in_file(name))?;
    let di = secret.doc;
    let change = set_edits(plain, &stream.docs[di], secret.map, key, value, string)
        .map_err(|e| e.in_doc(di).in_file(name))?;
    let text = reseal(name, plain, env, change.edits, di, warn)?;
    Ok(Resealed {
        text,
        doc: di,
        removed_from: change.removed_from,
    })
}

/// Removes `key` from `data` and `stringData` of the chosen Secret (see `set`).
pub fn unset(
    name: &str,
    plain: &str,
    env: &Envelope,
    which: Which,
    key: &str,
    warn: &mut dyn FnMut(&str),
) -> Result<Unset> {
    let stream = tree::parse(plain).map_err(|e| e.in_file(name))?;
    let secret = secrets::select(&stream, which.doc, which.name).map_err(|e| e.in_file(name))?;
    let di = secret.doc;
    let edits = unset_edits(plain, secret.map, key).map_err(|e| e.in_doc(di).in_file(name))?;
    if edits.is_empty() {
        return Ok(Unset::Absent {
            secret: secret.describe(),
            doc: di,
        });
    }
    let text = reseal(name, plain, env, edits, di, warn)?;
    Ok(Unset::Changed(Resealed {
        text,
        doc: di,
        removed_from: None,
    }))
}

/// Applies the edits to the plaintext, checks the changed Secret and seals the result into
/// the file's own envelope.
fn reseal(
    name: &str,
    plain: &str,
    env: &Envelope,
    edits: Vec<Edit>,
    di: usize,
    warn: &mut dyn FnMut(&str),
) -> Result<String> {
    let new_plain = splice::apply(plain, edits)?;
    let stream = tree::parse(&new_plain).map_err(|e| {
        Error::new(
            Kind::Internal,
            format!(
                "the changed manifest does not parse ({}); nothing was written",
                e.message
            ),
        )
    })?;
    if let Some(doc) = stream.docs.get(di) {
        for w in kube::check_secret(doc, di).map_err(|e| e.in_file(name))? {
            warn(&format!("{name}: {w}"));
        }
    }
    file::reencrypt(&new_plain, env, &scope(env)).map_err(|e| e.in_file(name))
}

/// Kubernetes refuses other keys in `data` and `stringData` (the rule of `kubectl create
/// secret`), so a key it would refuse is a usage error here rather than a failed apply later.
pub fn check_key(key: &str) -> Result<()> {
    if let Some(why) = secret_key_problem(key) {
        let shown: String = key.chars().take(80).collect();
        return Err(Error::new(
            Kind::Usage,
            format!("`{shown}` is not a valid Secret key: {why}"),
        ));
    }
    Ok(())
}

/// The edits of `set`, and the mapping the key was taken out of, if any.
pub struct SetChange {
    pub edits: Vec<Edit>,
    pub removed_from: Option<&'static str>,
}

fn block_mapping(root: &Mapping) -> Result<()> {
    if root.flow {
        return Err(Error::new(
            Kind::Unsupported,
            "the document is JSON or flow-style YAML, which kseal cannot re-encrypt yet",
        )
        .with_hint("change it with sops, or convert it to block YAML"));
    }
    Ok(())
}

/// `data` and `stringData`: where the value goes, and the other one.
fn target_of(string: bool) -> (&'static str, &'static str) {
    if string {
        ("stringData", "data")
    } else {
        ("data", "stringData")
    }
}

/// The edits that set `key` to `value` (already base64 for `data`) in the Secret mapping
/// `root` of `doc` (the document's root, or a List item).
pub fn set_edits(
    src: &str,
    doc: &Document,
    root: &Mapping,
    key: &str,
    value: &str,
    string: bool,
) -> Result<SetChange> {
    if me::in_json_text(src, root) {
        return json_set_edits(src, root, key, value, string);
    }
    block_mapping(root)?;
    let (target, other) = target_of(string);
    let layout = Layout::of(src, doc);
    // Kubernetes merges stringData over data: a stale copy of the key in the other mapping
    // would hide (or be hidden by) the new value.
    let mut edits = remove_from(src, root, key, other);
    let removed_from = (!edits.is_empty()).then_some(other);
    let Some(ti) = me::position(root, target) else {
        let edit = layout
            .add_mapping(root, target, key, value, string)
            .ok_or_else(|| Error::format("the Secret is an empty mapping"))?;
        edits.push(edit);
        return Ok(SetChange {
            edits,
            removed_from,
        });
    };
    let (tk, tv) = &root.entries[ti];
    match tv {
        Node::Mapping(m) if m.flow => {
            return Err(Error::new(
                Kind::Unsupported,
                format!(
                    "`{target}` is a flow-style mapping ({{...}}), which kseal set does not change"
                ),
            )
            .with_reason(Reason::SetFlowMapping))
        }
        Node::Mapping(m) => match me::position(m, key) {
            Some(ki) => {
                let (k, v) = &m.entries[ki];
                let Node::Scalar(s) = v else {
                    return Err(not_a_string(target, key));
                };
                edits.push(layout.replace(k, s, value, string));
            }
            None => edits.push(layout.add_key(m, key, value, string)),
        },
        // `data:` with no entries yet: the mapping starts on the next line.
        Node::Scalar(s) if me::is_null(s) => {
            edits.extend(layout.fill_null(tk, s, key, value, string))
        }
        _ => {
            return Err(Error::format(format!("`{target}` is not a mapping"))
                .with_reason(Reason::SetNotAMapping))
        }
    }
    Ok(SetChange {
        edits,
        removed_from,
    })
}

fn not_a_string(target: &str, key: &str) -> Error {
    Error::format("the value is not a string")
        .at_path(format!("{target}.{key}"))
        .with_reason(Reason::SetNotAString)
}

/// The edit that removes `key` from `field` of the Secret mapping `root` (a block mapping
/// left empty goes with its key; so does a JSON object); none when it is absent.
fn remove_from(src: &str, root: &Mapping, key: &str, field: &str) -> Vec<Edit> {
    let Some(fi) = me::position(root, field) else {
        return Vec::new();
    };
    let Some(m) = root.entries[fi].1.as_mapping() else {
        return Vec::new();
    };
    let json = me::in_json_text(src, root);
    match me::position(m, key) {
        Some(_) if m.entries.len() == 1 && (json || !m.flow) => {
            vec![splice::remove_entry(src, root, fi)]
        }
        Some(ki) => vec![splice::remove_entry(src, m, ki)],
        None => Vec::new(),
    }
}

/// The edits that remove `key` from `data` and `stringData` of the Secret mapping `root` (a
/// document's root, or a List item); none when it is absent. A mapping left empty is removed
/// with its key.
pub fn unset_edits(src: &str, root: &Mapping, key: &str) -> Result<Vec<Edit>> {
    if !me::in_json_text(src, root) {
        block_mapping(root)?;
    }
    let mut edits = remove_from(src, root, key, "data");
    edits.extend(remove_from(src, root, key, "stringData"));
    Ok(edits)
}

/// `set_edits` on a JSON document: the edits are written in JSON syntax and need not be
/// pretty, since re-encryption writes the document in sops's JSON layout.
fn json_set_edits(
    src: &str,
    root: &Mapping,
    key: &str,
    value: &str,
    string: bool,
) -> Result<SetChange> {
    let (target, other) = target_of(string);
    let mut edits = remove_from(src, root, key, other);
    let removed_from = (!edits.is_empty()).then_some(other);
    let v = json::string(value);
    let object = || format!("{{{}}}", me::json_member(key, &v));
    match me::position(root, target).map(|i| &root.entries[i].1) {
        None => edits.push(me::json_add_member(src, root, target, &object())),
        Some(Node::Mapping(m)) => match me::position(m, key).map(|i| &m.entries[i].1) {
            Some(Node::Scalar(s)) => edits.push(Edit::new(s.start, s.end, v)),
            Some(_) => return Err(not_a_string(target, key)),
            None => edits.push(me::json_add_member(src, m, key, &v)),
        },
        Some(Node::Scalar(s)) if &*s.value == "null" => {
            edits.push(Edit::new(s.start, s.end, object()))
        }
        Some(_) => {
            return Err(Error::format(format!("`{target}` is not an object"))
                .with_reason(Reason::SetNotAMapping))
        }
    }
    Ok(SetChange {
        edits,
        removed_from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(src: &str, key: &str, value: &str, string: bool) -> String {
        let st = tree::parse(src).unwrap();
        let root = st.docs[0].root_mapping().unwrap();
        let c = set_edits(src, &st.docs[0], root, key, value, string).unwrap();
        splice::apply(src, c.edits).unwrap().to_string()
    }

    fn unset(src: &str, key: &str) -> String {
        let st = tree::parse(src).unwrap();
        let e = unset_edits(src, st.docs[0].root_mapping().unwrap(), key).unwrap();
        splice::apply(src, e).unwrap().to_string()
    }

    const BASE: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  a: YQ==  # first\n  b: \"Yg==\"\n  c: |\n    Yw==\ntype: Opaque\n";

    #[test]
    fn replaces_values_of_any_style() {
        assert_eq!(
            set(BASE, "a", "eA==", false),
            BASE.replace("a: YQ==", "a: eA==")
        );
        assert_eq!(
            set(BASE, "b", "eA==", false),
            BASE.replace("\"Yg==\"", "\"eA==\"")
        );
        assert_eq!(
            set(BASE, "c", "eA==", false),
            BASE.replace("c: |\n    Yw==\n", "c: eA==\n")
        );
    }

    #[test]
    fn adds_keys_and_mappings() {
        assert_eq!(
            set(BASE, "d", "ZA==", false),
            BASE.replace("    Yw==\n", "    Yw==\n  d: ZA==\n")
        );
        assert_eq!(
            set(BASE, "s", "two\nlines\n", true),
            format!("{BASE}stringData:\n  s: |\n    two\n    lines\n")
        );
        assert_eq!(
            set(BASE, "port", "5432", true),
            format!("{BASE}stringData:\n  port: \"5432\"\n")
        );
        let four = "kind: Secret\nmetadata:\n    name: x\ndata:\n";
        assert_eq!(
            set(four, "k", "dg==", false),
            "kind: Secret\nmetadata:\n    name: x\ndata:\n    k: dg==\n"
        );
        let null = "kind: Secret\ndata: ~\nstringData:\n  k: v";
        assert_eq!(
            set(null, "k", "dg==", false),
            "kind: Secret\ndata:\n  k: dg==\n"
        );
        let no_eol = "kind: Secret\ndata:\n  a: YQ==";
        assert_eq!(
            set(no_eol, "b", "Yg==", false),
            "kind: Secret\ndata:\n  a: YQ==\n  b: Yg=="
        );
    }

    #[test]
    fn flow_mappings_are_refused() {
        let src = "kind: Secret\ndata: {a: YQ==}\n";
        let st = tree::parse(src).unwrap();
        let root = st.docs[0].root_mapping().unwrap();
        let e = set_edits(src, &st.docs[0], root, "a", "eA==", false)
            .err()
            .unwrap();
        assert_eq!(e.kind, Kind::Unsupported);
        assert_eq!(e.reason(), Some(&Reason::SetFlowMapping));
    }

    #[test]
    fn unset_removes_the_key_and_emptied_mappings() {
        assert_eq!(unset(BASE, "b"), BASE.replace("  b: \"Yg==\"\n", ""));
        let one = "kind: Secret\ndata:\n  a: YQ==\nstringData:\n  a: x\n  b: y\ntype: Opaque\n";
        assert_eq!(
            unset(one, "a"),
            "kind: Secret\nstringData:\n  b: y\ntype: Opaque\n"
        );
        assert_eq!(unset(one, "zz"), one);
    }

    #[test]
    fn keys_follow_the_kubernetes_rule() {
        assert!(secret_key_problem("tls.crt").is_none());
        assert!(secret_key_problem(".dockerconfigjson").is_none());
        assert!(secret_key_problem("a b").is_some());
        assert!(secret_key_problem("..x").is_some());
        assert!(secret_key_problem("").is_some());
    }
}
