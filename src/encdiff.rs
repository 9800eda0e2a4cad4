//! What changed between two versions of an encrypted file, without any key: documents added
//! or removed, keys added, removed or changed, recipients. kseal keeps the ciphertext of
//! unchanged values (same data key, same IV), so a different `ENC[...]` text means a changed
//! value — unless the data key itself changed, which the report says.

use crate::error::Result;
use crate::merge::identities;
use crate::sops::value;
use crate::yaml::scalar;
use crate::yaml::tree::{self, Mapping, Node};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

impl ChangeKind {
    pub fn symbol(self) -> char {
        match self {
            ChangeKind::Added => '+',
            ChangeKind::Removed => '-',
            ChangeKind::Changed => '~',
        }
    }
    pub fn word(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }
}

/// One changed key of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `Secret prod/db`, or `document N`.
    pub doc: String,
    /// `data.password`.
    pub path: String,
    pub kind: ChangeKind,
    /// Whether the value is encrypted on either side.
    pub encrypted: bool,
    /// Whether the value is a Secret value in clear text on the old / the new side.
    pub old_plaintext: bool,
    pub new_plaintext: bool,
}

#[derive(Debug, Default)]
pub struct Report {
    pub changes: Vec<Change>,
    pub docs_added: Vec<String>,
    pub docs_removed: Vec<String>,
    pub recipients_added: Vec<String>,
    pub recipients_removed: Vec<String>,
    /// No wrapped data key is the same on both sides: the data key was rotated (or re-wrapped),
    /// so a changed ciphertext may not mean a changed value.
    pub data_key_changed: bool,
    /// Secret values in clear text on each side (`Secret prod/db: data.password`), changed or
    /// not: what a review without keys must not let through.
    pub old_plaintext: Vec<String>,
    pub new_plaintext: Vec<String>,
}

impl Report {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.docs_added.is_empty()
            && self.docs_removed.is_empty()
            && self.recipients_added.is_empty()
            && self.recipients_removed.is_empty()
    }
}

/// The `data`/`stringData` values of the stream's Secrets that are not encrypted (empty
/// values hold nothing), as `Secret ns/name: data.key`.
fn plaintext_values(stream: &tree::Stream, ids: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (doc, id) in stream.docs.iter().zip(ids) {
        if !crate::kube::is_secret(doc) {
            continue;
        }
        let Some(root) = doc.root_mapping() else {
            continue;
        };
        for field in ["data", "stringData"] {
            let Some(m) = root.get(field).and_then(Node::as_mapping) else {
                continue;
            };
            for (k, v) in &m.entries {
                if is_plain_value(v) {
                    let key = k.as_scalar().map(|s| &*s.value).unwrap_or("?");
                    out.push(format!("{id}: {field}.{key}"));
                }
            }
        }
    }
    out
}

fn is_plain_value(n: &Node) -> bool {
    match n {
        Node::Scalar(s) => !s.value.is_empty() && !value::is_encrypted(&s.value),
        Node::Alias(t, ..) => is_plain_value(t),
        _ => true,
    }
}

/// The age entries (recipient, wrapped key) of a stream's first envelope.
fn age_entries(stream: &tree::Stream) -> Option<Vec<(String, String)>> {
    let sops = stream
        .docs
        .iter()
        .find_map(|d| d.root_mapping()?.get("sops")?.as_mapping())?;
    let mut out = Vec::new();
    if let Some(Node::Sequence(q)) = sops.get("age") {
        for item in &q.items {
            if let Some(m) = item.as_mapping() {
                out.push((
                    m.get_str("recipient").unwrap_or("").to_string(),
                    m.get_str("enc").unwrap_or("").trim().to_string(),
                ));
            }
        }
    }
    Some(out)
}

/// Compares two versions of a file (encrypted or not).
pub fn diff(old: &str, new: &str) -> Result<Report> {
    let a = tree::parse(old)?;
    let b = tree::parse(new)?;
    let (ia, ib) = (identities(&a), identities(&b));
    let mut r = Report {
        old_plaintext: plaintext_values(&a, &ia),
        new_plaintext: plaintext_values(&b, &ib),
        ..Report::default()
    };
    for (i, id) in ia.iter().enumerate() {
        if crate::merge::is_empty_doc(&a.docs[i]) {
            continue;
        }
        match ib.iter().position(|x| x == id) {
            None => r.docs_removed.push(id.clone()),
            Some(j) => {
                let (ra, rb) = (a.docs[i].root.as_ref(), b.docs[j].root.as_ref());
                match (ra.and_then(Node::as_mapping), rb.and_then(Node::as_mapping)) {
                    (Some(ma), Some(mb)) => {
                        compare_mappings(id, &mut Vec::new(), ma, mb, true, &mut r.changes)
                    }
                    _ => {
                        if !nodes_equal(ra, rb) {
                            r.changes.push(Change {
                                doc: id.clone(),
                                path: "(document)".into(),
                                kind: ChangeKind::Changed,
                                encrypted: false,
                                old_plaintext: false,
                                new_plaintext: false,
                            });
                        }
                    }
                }
            }
        }
    }
    for (j, id) in ib.iter().enumerate() {
        if !crate::merge::is_empty_doc(&b.docs[j]) && !ia.contains(id) {
            r.docs_added.push(id.clone());
        }
    }
    for c in &mut r.changes {
        let at = format!("{}: {}", c.doc, c.path);
        c.old_plaintext = r.old_plaintext.contains(&at);
        c.new_plaintext = r.new_plaintext.contains(&at);
    }
    let (ea, eb) = (age_entries(&a), age_entries(&b));
    if let (Some(ea), Some(eb)) = (&ea, &eb) {
        let ra: Vec<&String> = ea.iter().map(|(r, _)| r).collect();
        let rb: Vec<&String> = eb.iter().map(|(r, _)| r).collect();
        r.recipients_added = rb
            .iter()
            .filter(|x| !ra.contains(x))
            .map(|x| x.to_string())
            .collect();
        r.recipients_removed = ra
            .iter()
            .filter(|x| !rb.contains(x))
            .map(|x| x.to_string())
            .collect();
        r.data_key_changed = !ea.iter().any(|e| eb.contains(e));
    }
    Ok(r)
}

fn is_enc(n: &Node) -> bool {
    n.as_scalar().is_some_and(|s| value::is_encrypted(&s.value))
}

fn nodes_equal(a: Option<&Node>, b: Option<&Node>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => match (a, b) {
            (Node::Alias(t, ..), _) => nodes_equal(Some(t), Some(b)),
            (_, Node::Alias(t, ..)) => nodes_equal(Some(a), Some(t)),
            (Node::Scalar(x), Node::Scalar(y)) => {
                let tx = scalar::resolve(&x.value, x.style, x.tag.as_deref());
                let ty = scalar::resolve(&y.value, y.style, y.tag.as_deref());
                match (tx, ty) {
                    (Ok(tx), Ok(ty)) => tx == ty,
                    _ => x.value == y.value,
                }
            }
            (Node::Sequence(x), Node::Sequence(y)) => {
                x.items.len() == y.items.len()
                    && x.items
                        .iter()
                        .zip(&y.items)
                        .all(|(p, q)| nodes_equal(Some(p), Some(q)))
            }
            (Node::Mapping(x), Node::Mapping(y)) => {
                x.entries.len() == y.entries.len()
                    && x.entries.iter().all(|(k, v)| {
                        k.as_scalar()
                            .is_some_and(|k| nodes_equal(Some(v), y.get(&k.value)))
                    })
            }
            _ => false,
        },
        _ => false,
    }
}

fn compare_mappings(
    doc: &str,
    path: &mut Vec<String>,
    a: &Mapping,
    b: &Mapping,
    top: bool,
    out: &mut Vec<Change>,
) {
    let shown = |path: &[String], k: &str| {
        let mut p = path.join(".");
        if !p.is_empty() {
            p.push('.');
        }
        p.push_str(k);
        p
    };
    for (k, va) in &a.entries {
        let Some(key) = k.as_scalar().map(|s| &*s.value) else {
            continue;
        };
        if top && key == "sops" {
            continue;
        }
        match b.get(key) {
            None => out.push(Change {
                doc: doc.to_string(),
                path: shown(path, key),
                kind: ChangeKind::Removed,
                encrypted: is_enc(va),
                old_plaintext: false,
                new_plaintext: false,
            }),
            Some(vb) => match (va.as_mapping(), vb.as_mapping()) {
                (Some(ma), Some(mb)) => {
                    path.push(key.to_string());
                    compare_mappings(doc, path, ma, mb, false, out);
                    path.pop();
                }
                _ => {
                    if !nodes_equal(Some(va), Some(vb)) {
                        out.push(Change {
                            doc: doc.to_string(),
                            path: shown(path, key),
                            kind: ChangeKind::Changed,
                            encrypted: is_enc(va) || is_enc(vb),
                            old_plaintext: false,
                            new_plaintext: false,
                        });
                    }
                }
            },
        }
    }
    for (k, vb) in &b.entries {
        let Some(key) = k.as_scalar().map(|s| &*s.value) else {
            continue;
        };
        if (top && key == "sops") || a.get(key).is_some() {
            continue;
        }
        out.push(Change {
            doc: doc.to_string(),
            path: shown(path, key),
            kind: ChangeKind::Added,
            encrypted: is_enc(vb),
            old_plaintext: false,
            new_plaintext: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_documents() {
        let old = "kind: Secret\nmetadata:\n  name: db\ndata:\n  a: ENC[AES256_GCM,data:AA==,iv:x,tag:y,type:str]\n  b: ENC[AES256_GCM,data:BB==,iv:x,tag:y,type:str]\nsops:\n  mac: m1\n";
        let new = "kind: Secret\nmetadata:\n  name: db\n  labels:\n    x: y\ndata:\n  a: ENC[AES256_GCM,data:AA==,iv:x,tag:y,type:str]\n  b: ENC[AES256_GCM,data:CC==,iv:x,tag:y,type:str]\n  c: ENC[AES256_GCM,data:DD==,iv:x,tag:y,type:str]\nsops:\n  mac: m2\n---\nkind: Secret\nmetadata:\n  name: api\n";
        let r = diff(old, new).unwrap();
        let got: Vec<(String, ChangeKind)> =
            r.changes.iter().map(|c| (c.path.clone(), c.kind)).collect();
        assert_eq!(
            got,
            vec![
                ("metadata.labels".to_string(), ChangeKind::Added),
                ("data.b".to_string(), ChangeKind::Changed),
                ("data.c".to_string(), ChangeKind::Added),
            ]
        );
        assert!(r.changes[1].encrypted);
        assert_eq!(r.changes.len(), 3);
        assert_eq!(r.docs_added, vec!["Secret api"]);
        assert!(r.old_plaintext.is_empty() && r.new_plaintext.is_empty());
    }

    #[test]
    fn plaintext_sides_are_named() {
        let enc = "kind: Secret\nmetadata:\n  name: db\ndata:\n  a: ENC[AES256_GCM,data:AA==,iv:x,tag:y,type:str]\n  e: \"\"\nsops:\n  mac: m1\n";
        let plain = "kind: Secret\nmetadata:\n  name: db\ndata:\n  a: czNjcjN0\n  e: \"\"\n---\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  x: y\n";
        let r = diff(enc, plain).unwrap();
        assert!(r.old_plaintext.is_empty());
        assert_eq!(r.new_plaintext, vec!["Secret db: data.a"]);
        let c = &r.changes[0];
        assert_eq!(c.path, "data.a");
        assert!(c.encrypted && !c.old_plaintext && c.new_plaintext);
        let r = diff(plain, plain).unwrap();
        assert!(r.changes.is_empty());
        assert_eq!(r.old_plaintext, r.new_plaintext);
    }
}
