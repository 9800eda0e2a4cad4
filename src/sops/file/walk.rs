//! The walk over a document's values in sops's order, with each value's key path (its AAD)
//! and where it sits, and the small readers of a document that encryption and decryption share.

use crate::error::{display_path, Error, Result};
use crate::yaml::json;
use crate::yaml::scalar::{self, Style, Typed};
use crate::yaml::tree::{Document, Mapping, Node, Scalar};

/// Nodes a walk may visit through aliases before the input is called hostile.
pub(super) const WALK_BUDGET: u64 = 10_000_000;

/// The AAD of a value: its key path, each key followed by `:` (the root alone is `:`).
pub(super) fn aad_of(path: &[String]) -> String {
    let mut s = String::with_capacity(path.iter().map(|p| p.len() + 1).sum::<usize>() + 1);
    for p in path {
        s.push_str(p);
        s.push(':');
    }
    if s.is_empty() {
        s.push(':');
    }
    s
}

/// Where a leaf sits: reached through an alias, or an element of a list.
#[derive(Clone, Copy)]
pub(super) struct Place {
    pub in_alias: bool,
    pub in_seq: bool,
}

impl Place {
    /// A value of the root mapping.
    pub const TOP: Place = Place {
        in_alias: false,
        in_seq: false,
    };
}

/// What a walk calls for every scalar leaf: its key path, the scalar, where it sits.
pub(super) type LeafFn<'n, 'f> = dyn FnMut(&[String], &'n Scalar, Place) -> Result<()> + 'f;

/// Calls `f` for every scalar leaf under `node` in sops's walk order, with its key path and
/// whether it was reached through an alias or sits in a list.
pub(super) fn walk<'n>(
    node: &'n Node,
    path: &mut Vec<String>,
    place: Place,
    budget: &mut u64,
    f: &mut LeafFn<'n, '_>,
) -> Result<()> {
    if *budget == 0 {
        return Err(Error::format(
            "the document expands to too many values (an alias bomb?)",
        ));
    }
    *budget -= 1;
    match node {
        // Errors name the leaf's own path (the key of the value, not its top-level ancestor).
        Node::Scalar(s) => f(path, s, place).map_err(|e| e.at_path(display_path(path))),
        Node::Alias(target, ..) => walk(
            target,
            path,
            Place {
                in_alias: true,
                ..place
            },
            budget,
            f,
        ),
        Node::Sequence(q) => {
            for item in &q.items {
                walk(
                    item,
                    path,
                    Place {
                        in_seq: true,
                        ..place
                    },
                    budget,
                    f,
                )?;
            }
            Ok(())
        }
        Node::Mapping(m) => {
            for (k, v) in &m.entries {
                path.push(key_string(k, path)?);
                let r = walk(
                    v,
                    path,
                    Place {
                        in_seq: false,
                        ..place
                    },
                    budget,
                    f,
                );
                path.pop();
                r?;
            }
            Ok(())
        }
    }
}

/// Walks every value of an encrypted document (index `di`) except its `sops` entry.
pub(super) fn walk_enveloped<'n>(
    root: &'n Mapping<'n>,
    di: usize,
    budget: &mut u64,
    f: &mut LeafFn<'n, '_>,
) -> Result<()> {
    let mut path = Vec::new();
    for (k, v) in &root.entries {
        let name = key_string(k, &path).map_err(|e| e.in_doc(di))?;
        if name == "sops" {
            continue;
        }
        path.push(name);
        let r = walk(v, &mut path, Place::TOP, budget, f);
        path.pop();
        r.map_err(|e| e.in_doc(di))?;
    }
    Ok(())
}

/// A mapping key as sops sees it: it must decode to a string.
pub(super) fn key_string(k: &Node, path: &[String]) -> Result<String> {
    let s = k.as_scalar().ok_or_else(|| {
        Error::format("a mapping key is a mapping or a list; sops only supports string keys")
            .at_path(display_path(path))
    })?;
    match scalar::resolve(&s.value, s.style, s.tag.as_deref()) {
        Ok(Typed::Str(_)) => Ok(s.value.to_string()),
        _ => Err(Error::format(format!(
            "the key `{}` is not a string for YAML (quote it); sops only supports string keys",
            s.value.chars().take(40).collect::<String>()
        ))
        .at_path(display_path(path))),
    }
}

/// The `sops` entry of a document's root mapping, if it has one.
pub(super) fn sops_entry<'a>(doc: &'a Document<'a>) -> Option<&'a (Node<'a>, Node<'a>)> {
    doc.root_mapping()?.entry("sops")
}

/// A document's root mapping (None for an empty document); any other root is an error.
pub(super) fn root_mapping_of<'a>(
    doc: &'a Document<'a>,
    index: usize,
) -> Result<Option<&'a Mapping<'a>>> {
    match &doc.root {
        None => Ok(None),
        Some(n) => match n.as_mapping() {
            Some(m) => Ok(Some(m)),
            None => Err(
                Error::format("the document is not a mapping (a list or a single value)")
                    .in_doc(index),
            ),
        },
    }
}

/// Detects the document's indentation step from its first nested block mapping or list.
pub(super) fn indent_unit(doc: &Document) -> usize {
    fn find(node: &Node, parent_col: usize) -> Option<usize> {
        match node {
            Node::Mapping(m) if !m.flow => {
                if m.col > parent_col {
                    return Some(m.col - parent_col);
                }
                m.entries.iter().find_map(|(_, v)| find(v, m.col))
            }
            Node::Sequence(q) if !q.flow => q.items.iter().find_map(|v| find(v, q.col)),
            _ => None,
        }
    }
    match doc.root_mapping() {
        Some(m) if !m.flow => m
            .entries
            .iter()
            .find_map(|(_, v)| find(v, m.col))
            .unwrap_or(2),
        _ => 2,
    }
}

/// A value typed as sops types it: by its JSON store in a JSON document (every number a
/// float), else as go-yaml v3 does.
pub(super) fn typed_leaf(s: &Scalar, json: bool) -> Result<Typed> {
    if json && s.style == Style::Plain {
        if let Ok(t) = json::typed(s) {
            return Ok(t);
        }
    }
    scalar::resolve(&s.value, s.style, s.tag.as_deref())
        .map_err(|e| Error::format(e.to_string()).with_source(e))
}
