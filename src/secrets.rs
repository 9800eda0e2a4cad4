//! Where the Secrets of a manifest stream are: whole `kind: Secret` documents and the Secret
//! items of a `kind: List` document (what `kubectl get secret a b -o yaml` prints), and how a
//! command picks one of them (`--doc N`, `--name NAME`).

use crate::error::{Error, Kind, Reason, Result};
use crate::yaml::tree::{Document, Mapping, Node, Sequence, Stream};

/// One Secret of a stream: its document, its position in a List's `items`, and its mapping.
pub struct SecretAt<'t> {
    /// 0-based document index.
    pub doc: usize,
    /// 0-based index in the document's `items` when the document is a `kind: List`.
    pub item: Option<usize>,
    pub map: &'t Mapping<'t>,
}

impl SecretAt<'_> {
    /// The Secret's `metadata.name`.
    pub fn name(&self) -> Option<&str> {
        self.map.get("metadata")?.as_mapping()?.get_str("name")
    }

    /// `document 2 (Secret db)` or `document 1, items[3] (Secret db)`, for messages.
    pub fn describe(&self) -> String {
        let what = match self.name() {
            Some(n) => format!("Secret {n}"),
            None => "Secret".to_string(),
        };
        match self.item {
            Some(i) => format!("document {}, items[{i}] ({what})", self.doc + 1),
            None => format!("document {} ({what})", self.doc + 1),
        }
    }

    /// The key path prefix of the Secret's fields in its document (`items.3.` in a List).
    pub fn path_prefix(&self) -> String {
        match self.item {
            Some(i) => format!("items[{i}]."),
            None => String::new(),
        }
    }
}

fn is_secret_mapping(m: &Mapping) -> bool {
    m.get_str("kind") == Some("Secret")
}

/// The `items` of a list document (`kind: List`, or any object with an `items` list, as
/// kubectl's decoder reads it: `list_items_of`).
pub fn list_items<'t>(doc: &'t Document<'t>) -> Option<&'t Sequence<'t>> {
    list_items_of(doc.root_mapping()?)
}

/// Whether a document holds Secrets: a Secret, or a List with at least one Secret item.
pub fn holds_secrets(doc: &Document) -> bool {
    match doc.root_mapping() {
        Some(m) if is_secret_mapping(m) => true,
        Some(_) => list_items(doc).is_some_and(|q| {
            q.items
                .iter()
                .any(|n| n.as_mapping().is_some_and(is_secret_mapping))
        }),
        None => false,
    }
}

/// The Secrets of one document, in order.
pub fn in_document<'t>(doc: &'t Document<'t>, index: usize) -> Vec<SecretAt<'t>> {
    let Some(root) = doc.root_mapping() else {
        return Vec::new();
    };
    if is_secret_mapping(root) {
        return vec![SecretAt {
            doc: index,
            item: None,
            map: root,
        }];
    }
    let Some(items) = list_items(doc) else {
        return Vec::new();
    };
    items
        .items
        .iter()
        .enumerate()
        .filter_map(|(i, n)| match n {
            Node::Mapping(m) if is_secret_mapping(m) => Some(SecretAt {
                doc: index,
                item: Some(i),
                map: m,
            }),
            _ => None,
        })
        .collect()
}

/// Every Secret of a stream, documents and List items, in order.
pub fn all<'t>(stream: &'t Stream<'t>) -> Vec<SecretAt<'t>> {
    stream
        .docs
        .iter()
        .enumerate()
        .flat_map(|(i, d)| in_document(d, i))
        .collect()
}

fn listing(found: &[SecretAt]) -> String {
    found
        .iter()
        .map(SecretAt::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The Secret a command works on: the one in document `doc` (1-based), the one named `name`
/// (both may be given: a List document holds several), or the stream's only Secret.
pub fn select<'t>(
    stream: &'t Stream<'t>,
    doc: Option<usize>,
    name: Option<&str>,
) -> Result<SecretAt<'t>> {
    let every = all(stream);
    let mut found: Vec<SecretAt> = Vec::new();
    for s in all(stream) {
        if doc.is_none_or(|n| s.doc + 1 == n) && name.is_none_or(|w| s.name() == Some(w)) {
            found.push(s);
        }
    }
    if let Some(n) = doc {
        if n == 0 || n > stream.docs.len() {
            return Err(Error::new(
                Kind::Usage,
                format!(
                    "--doc {n}: the file has {} document(s), numbered from 1",
                    stream.docs.len()
                ),
            ));
        }
    }
    let hint = || format!("the Secrets of the file: {}", listing(&every));
    if found.len() == 1 {
        return Ok(found.remove(0));
    }
    if found.len() > 1 {
        let msg = match (doc, name) {
            (_, Some(w)) => format!("several Secrets are named `{w}`: {}", listing(&found)),
            (Some(n), None) => format!("document {n} holds several Secrets: {}", listing(&found)),
            (None, None) => format!("the file has several Secrets: {}", listing(&found)),
        };
        let named = name.is_some();
        return Err(Error::new(Kind::Usage, msg).with_reason(Reason::SeveralSecrets { named }));
    }
    match (doc, name) {
        (None, None) => Err(Error::format("the file has no Secret")),
        (Some(n), None) => {
            Err(Error::new(Kind::Usage, format!("document {n} is not a Secret")).with_hint(hint()))
        }
        (_, Some(w)) => {
            let whr = doc.map(|n| format!(" in document {n}")).unwrap_or_default();
            Err(Error::new(Kind::Usage, format!("no Secret named `{w}`{whr}")).with_hint(hint()))
        }
    }
}

/// The items of a list object. kubectl's decoder takes any object with an `items` field for a
/// list (`kind: List`, `SecretList`, or no kind at all) and applies each item as an object of
/// its own, so a Secret can hide there from a check that looks only at each document's root.
pub fn list_items_of<'m>(m: &'m Mapping<'m>) -> Option<&'m Sequence<'m>> {
    match crate::yaml::merge::effective_get(m, "items")? {
        Node::Sequence(s) => Some(s),
        Node::Alias(target, ..) => match &**target {
            Node::Sequence(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree;

    const LIST: &str = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: a\n  data:\n    k: YQ==\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n- kind: Secret\n  metadata:\n    name: b\n---\nkind: Secret\nmetadata:\n  name: b\n";

    #[test]
    fn list_items_are_secrets() {
        let s = tree::parse(LIST).unwrap();
        let found: Vec<String> = all(&s).iter().map(SecretAt::describe).collect();
        assert_eq!(
            found,
            [
                "document 1, items[0] (Secret a)",
                "document 1, items[2] (Secret b)",
                "document 2 (Secret b)"
            ]
        );
        assert!(holds_secrets(&s.docs[0]) && holds_secrets(&s.docs[1]));
        let cm = tree::parse("kind: List\nitems:\n- kind: ConfigMap\n").unwrap();
        assert!(!holds_secrets(&cm.docs[0]));
    }

    #[test]
    fn selection() {
        let s = tree::parse(LIST).unwrap();
        assert_eq!(select(&s, None, Some("a")).unwrap().item, Some(0));
        let e = select(&s, None, Some("b")).err().unwrap();
        assert!(e.message.contains("several Secrets are named `b`"), "{e}");
        assert_eq!(select(&s, Some(2), Some("b")).unwrap().doc, 1);
        assert_eq!(select(&s, Some(1), Some("b")).unwrap().item, Some(2));
        assert_eq!(select(&s, Some(2), None).unwrap().doc, 1);
        let e = select(&s, Some(1), None).err().unwrap();
        assert!(
            e.message.contains("document 1 holds several Secrets"),
            "{e}"
        );
        assert!(select(&s, None, None).is_err());
        assert!(select(&s, Some(3), None).is_err());
        let e = select(&s, None, Some("zz")).err().unwrap();
        assert_eq!(e.kind, Kind::Usage);
    }
}
