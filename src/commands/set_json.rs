//! `kseal set` and `kseal unset` on a JSON document: the edits are written in JSON syntax and
//! need not be pretty, since re-encryption writes the document in sops's JSON layout.

use kseal::error::{Error, Result};
use kseal::yaml::json;
use kseal::yaml::splice::{self, Edit};
use kseal::yaml::tree::{Mapping, Node};

use super::set::SetChange;

/// Whether the Secret mapping belongs to a JSON document (every mapping of it is `{...}`).
pub fn is_json(src: &str, root: &Mapping) -> bool {
    root.flow && src.trim_start().starts_with('{')
}

fn position(m: &Mapping, key: &str) -> Option<usize> {
    m.entries
        .iter()
        .position(|(k, _)| k.as_scalar().is_some_and(|s| s.value == key))
}

fn entry(key: &str, value: &str) -> String {
    format!("{}: {}", json::string(key), value)
}

/// The edit that adds `"key": value` to the object `m`: where it sorts when the keys are
/// sorted (kubectl writes them so), else last.
fn add_entry(src: &str, m: &Mapping, key: &str, value: &str) -> Result<Edit> {
    let keys: Vec<&str> = m
        .entries
        .iter()
        .filter_map(|(k, _)| k.as_scalar().map(|s| &*s.value))
        .collect();
    let text = entry(key, value);
    if keys.is_empty() {
        let open = m.start + src[m.start..].find('{').unwrap_or(0) + 1;
        return Ok(Edit::new(open, open, text));
    }
    if keys.windows(2).all(|w| w[0] <= w[1]) {
        if let Some(i) = keys.iter().position(|k| *k > key) {
            let at = m.entries[i].0.start();
            return Ok(Edit::new(at, at, format!("{text}, ")));
        }
    }
    let (_, last) = m.entries.last().expect("not empty");
    let at = splice::node_end(src, last);
    Ok(Edit::new(at, at, format!(", {text}")))
}

/// The edits that set `key` to `value` (already base64 for `data`) in the Secret object `root`.
pub fn set_edits(
    src: &str,
    root: &Mapping,
    key: &str,
    value: &str,
    string: bool,
) -> Result<SetChange> {
    let (target, other) = if string {
        ("stringData", "data")
    } else {
        ("data", "stringData")
    };
    let mut edits = unset_in(src, root, key, other);
    let removed_from = (!edits.is_empty()).then_some(other);
    let v = json::string(value);
    match position(root, target).map(|i| &root.entries[i].1) {
        None => edits.push(add_entry(
            src,
            root,
            target,
            &format!("{{{}}}", entry(key, &v)),
        )?),
        Some(Node::Mapping(m)) => match position(m, key).map(|i| &m.entries[i].1) {
            Some(Node::Scalar(s)) => edits.push(Edit::new(s.start, s.end, v)),
            Some(_) => {
                return Err(Error::format("the value is not a string")
                    .at_path(format!("{target}.{key}"))
                    .with_hint("use `kseal edit` to change it"))
            }
            None => edits.push(add_entry(src, m, key, &v)?),
        },
        Some(Node::Scalar(s)) if &*s.value == "null" => {
            edits.push(Edit::new(s.start, s.end, format!("{{{}}}", entry(key, &v))))
        }
        Some(_) => {
            return Err(Error::format(format!("`{target}` is not an object"))
                .with_hint("use `kseal edit` to fix the Secret"))
        }
    }
    Ok(SetChange {
        edits,
        removed_from,
    })
}

/// The edits that remove `key` from `field` of the Secret object `root`; the object goes too
/// when it is left empty.
fn unset_in(src: &str, root: &Mapping, key: &str, field: &str) -> Vec<Edit> {
    let Some(fi) = position(root, field) else {
        return Vec::new();
    };
    let Some(m) = root.entries[fi].1.as_mapping() else {
        return Vec::new();
    };
    match position(m, key) {
        Some(_) if m.entries.len() == 1 => vec![splice::remove_entry(src, root, fi)],
        Some(ki) => vec![splice::remove_entry(src, m, ki)],
        None => Vec::new(),
    }
}

/// The edits that remove `key` from `data` and `stringData` of the Secret object `root`.
pub fn unset_edits(src: &str, root: &Mapping, key: &str) -> Vec<Edit> {
    let mut edits = unset_in(src, root, key, "data");
    edits.extend(unset_in(src, root, key, "stringData"));
    edits
}
