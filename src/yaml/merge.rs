//! YAML 1.1 merge keys (`<<`) as go-yaml, and so kubectl, resolves them: the entries a mapping
//! really has once its merge keys are applied. kseal's own walks see the keys as written, so
//! every check that must see what the API server will see looks through these.

use crate::yaml::tree::{Mapping, Node};

/// How deep merge keys and nested lists are followed: go-yaml resolves any depth, but a
/// manifest that nests them deeper than this is refused by the callers as suspicious.
pub const MAX_NESTING: usize = 16;

/// Whether a mapping key is a YAML merge key: `<<` written plain (or tagged `!!merge`).
/// go-yaml, and so kubectl, copies the entries of the mapping(s) it names into the mapping
/// that holds it; kseal's own walks do not, so every check must look through it.
pub fn is_merge_key(k: &Node) -> bool {
    k.as_scalar().is_some_and(|s| {
        s.value == "<<"
            && (s.style == crate::yaml::scalar::Style::Plain
                || s.tag.as_deref() == Some("tag:yaml.org,2002:merge"))
    })
}

/// Whether a mapping has a merge key of its own (not counting those of merged mappings).
pub fn has_merge_key(m: &Mapping) -> bool {
    m.entries.iter().any(|(k, _)| is_merge_key(k))
}

/// The entries of a mapping as kubectl sees them: its own entries first, then those its merge
/// keys bring in (a mapping, or a sequence of mappings where the first one wins) for keys it
/// does not set itself, as YAML 1.1 merge keys work. Merge keys themselves are left out.
pub fn effective_entries<'m>(m: &'m Mapping<'m>) -> Vec<(&'m Node<'m>, &'m Node<'m>)> {
    let mut out = Vec::new();
    collect_entries(m, 0, &mut out);
    out
}

fn collect_entries<'m>(
    m: &'m Mapping<'m>,
    depth: usize,
    out: &mut Vec<(&'m Node<'m>, &'m Node<'m>)>,
) {
    if depth > MAX_NESTING {
        return;
    }
    let known = |out: &Vec<(&Node, &Node)>, k: &Node| {
        let Some(k) = k.as_scalar() else { return false };
        out.iter()
            .any(|(o, _)| o.as_scalar().is_some_and(|o| o.value == k.value))
    };
    for (k, v) in &m.entries {
        if !is_merge_key(k) && !known(out, k) {
            out.push((k, v));
        }
    }
    for (k, v) in &m.entries {
        if !is_merge_key(k) {
            continue;
        }
        let sources: Vec<&Node> = match v {
            Node::Sequence(s) => s.items.iter().collect(),
            Node::Alias(target, ..) if matches!(**target, Node::Sequence(_)) => match &**target {
                Node::Sequence(s) => s.items.iter().collect(),
                _ => Vec::new(),
            },
            other => vec![other],
        };
        for src in sources {
            if let Some(sm) = src.as_mapping() {
                let mut merged = Vec::new();
                collect_entries(sm, depth + 1, &mut merged);
                for (mk, mv) in merged {
                    if !known(out, mk) {
                        out.push((mk, mv));
                    }
                }
            }
        }
    }
}

/// The value of `key` as kubectl sees it (through merge keys).
pub fn effective_get<'m>(m: &'m Mapping<'m>, key: &str) -> Option<&'m Node<'m>> {
    if let Some(v) = m.get(key) {
        return Some(v);
    }
    if !has_merge_key(m) {
        return None;
    }
    effective_entries(m)
        .into_iter()
        .find(|(k, _)| k.as_scalar().is_some_and(|s| s.value == key))
        .map(|(_, v)| v)
}
