//! Edits to one entry of a mapping (block YAML, or a JSON object), written in the document's
//! own layout (its indentation step, line breaks, the user's quoting, sorted keys kept
//! sorted): adding a key, replacing a value, filling an empty (`key:` / `key: ~`) mapping,
//! adding a nested mapping.

use super::json;
use super::scalar::{self, double_quoted, plain_is_safe, single_quoted, Style, Typed};
use super::splice::{self, Edit};
use super::tree::{Document, Mapping, Node, Scalar};

/// The index of `key` among the entries of `m`.
pub fn position(m: &Mapping, key: &str) -> Option<usize> {
    m.entries
        .iter()
        .position(|(k, _)| k.as_scalar().is_some_and(|s| s.value == key))
}

/// Whether a scalar is YAML's null (`key:`, `key: ~`, `key: null`).
pub fn is_null(s: &Scalar) -> bool {
    matches!(
        scalar::resolve(&s.value, s.style, s.tag.as_deref()),
        Ok(Typed::Null)
    )
}

/// Whether a mapping belongs to a JSON text: a flow mapping in a text that opens with `{`.
pub fn in_json_text(src: &str, m: &Mapping) -> bool {
    m.flow && src.trim_start().starts_with('{')
}

/// One `"key": value` member of a JSON object (`value` is JSON text already).
pub fn json_member(key: &str, value: &str) -> String {
    format!("{}: {}", json::string(key), value)
}

/// The edit that adds `"key": value` to the JSON object `m` (`value` is JSON text already):
/// where it sorts when the keys are sorted (kubectl writes them so), else last. The result
/// need not be pretty: sops's layout is written when the document is encrypted again.
pub fn json_add_member(src: &str, m: &Mapping, key: &str, value: &str) -> Edit {
    let keys: Vec<&str> = m
        .entries
        .iter()
        .filter_map(|(k, _)| k.as_scalar().map(|s| &*s.value))
        .collect();
    let text = json_member(key, value);
    if keys.is_empty() {
        let open = m.start + src[m.start..].find('{').unwrap_or(0) + 1;
        return Edit::new(open, open, text);
    }
    if keys.windows(2).all(|w| w[0] <= w[1]) {
        if let Some(i) = keys.iter().position(|k| *k > key) {
            let at = m.entries[i].0.start();
            return Edit::new(at, at, format!("{text}, "));
        }
    }
    let (_, last) = m.entries.last().expect("not empty");
    let at = splice::node_end(src, last);
    Edit::new(at, at, format!(", {text}"))
}

/// A document's block layout: the text, its line break and its indentation step. `literal`
/// in the methods below allows a multi-line value to be written as a literal block (`|`).
pub struct Layout<'s> {
    src: &'s str,
    eol: &'static str,
    unit: usize,
}

impl<'s> Layout<'s> {
    pub fn of(src: &'s str, doc: &Document) -> Self {
        Layout {
            src,
            eol: splice::eol_of(src),
            unit: indent_unit(src, doc),
        }
    }

    /// The edit that adds `field:` holding the one entry `key: value` to the non-empty
    /// mapping `parent`: where `field` sorts when the keys are sorted, at the end otherwise.
    /// `None` when `parent` is empty.
    pub fn add_mapping(
        &self,
        parent: &Mapping,
        field: &str,
        key: &str,
        value: &str,
        literal: bool,
    ) -> Option<Edit> {
        let (src, eol) = (self.src, self.eol);
        let last = parent.entries.len().checked_sub(1)?;
        let indent = parent
            .entries
            .first()
            .map(|(k, _)| line_indent(src, k.start()))
            .unwrap_or(0);
        let at = sorted_slot(src, parent, field)
            .unwrap_or_else(|| splice::after_entry(src, parent, last));
        let inner = indent + self.unit;
        let v = fresh_value(value, literal, inner + self.unit, eol);
        let lines = format!(
            "{}{field}:{eol}{}{}: {v}{eol}",
            " ".repeat(indent),
            " ".repeat(inner),
            key_text(key)
        );
        Some(insertion(src, at, lines, eol))
    }

    /// The edit that adds `key: value` to the non-empty block mapping `m`: where it sorts
    /// when the keys are sorted (kubectl writes them so), at the end otherwise.
    pub fn add_key(&self, m: &Mapping, key: &str, value: &str, literal: bool) -> Edit {
        let (src, eol) = (self.src, self.eol);
        let last = m.entries.len() - 1;
        let at = sorted_slot(src, m, key).unwrap_or_else(|| splice::after_entry(src, m, last));
        let indent = line_indent(src, m.entries[0].0.start());
        let v = fresh_value(value, literal, indent + self.unit, eol);
        let lines = format!("{}{}: {v}{eol}", " ".repeat(indent), key_text(key));
        insertion(src, at, lines, eol)
    }

    /// The edit that replaces the scalar `s`, the value of key `k`: the user's quotes are
    /// kept, any other style is replaced by a fresh rendering.
    pub fn replace(&self, k: &Node, s: &Scalar, value: &str, literal: bool) -> Edit {
        let (src, eol) = (self.src, self.eol);
        let k_end = k.as_scalar().map(|ks| ks.end).unwrap_or(s.start);
        let indent = line_indent(src, k.start()) + self.unit;
        let slot = splice::value_slot(src, k_end, s);
        let mut text = replacement_value(value, literal, s.style, indent, eol);
        if slot.empty {
            text.insert(0, ' ');
        }
        if slot.needs_break {
            text.push_str(eol);
        }
        Edit::new(slot.start, slot.end, text)
    }

    /// The edits that turn `field:` (key `k`, null value `s`, such as `data:` with no entries
    /// yet) into a mapping holding `key: value`, starting on the next line.
    pub fn fill_null(
        &self,
        k: &Node,
        s: &Scalar,
        key: &str,
        value: &str,
        literal: bool,
    ) -> Vec<Edit> {
        let (src, eol) = (self.src, self.eol);
        let mut edits = Vec::new();
        let k_end = k.as_scalar().map(|ks| ks.end).unwrap_or(s.start);
        let slot = splice::value_slot(src, k_end, s);
        if !slot.empty && slot.end > slot.start {
            let colon = src[k_end..]
                .find(':')
                .map(|i| k_end + i + 1)
                .unwrap_or(slot.start);
            edits.push(Edit::new(colon, slot.end, ""));
        }
        let at = splice::end_of_line(src, slot.end.max(k_end));
        let inner = line_indent(src, k.start()) + self.unit;
        let v = fresh_value(value, literal, inner + self.unit, eol);
        let lines = format!("{}{}: {v}{eol}", " ".repeat(inner), key_text(key));
        edits.push(insertion(src, at, lines, eol));
        edits
    }
}

/// Spaces before the text on the line holding `pos` (the indentation of a key; for a `? key`
/// line, the column of the `?`; for the first key of a list item, `- key`, the key's column).
fn line_indent(src: &str, pos: usize) -> usize {
    let ls = splice::start_of_line(src, pos);
    let line = &src[ls..];
    let spaces = line.len() - line.trim_start_matches(' ').len();
    let before = &src[ls..pos];
    if before[spaces..].starts_with('-') && before.trim_start_matches([' ', '-']).is_empty() {
        return before.chars().count();
    }
    spaces
}

/// The document's indentation step, from its first nested block collection (2 if none).
fn indent_unit(src: &str, doc: &Document) -> usize {
    fn find(src: &str, node: &Node, parent: usize) -> Option<usize> {
        match node {
            Node::Mapping(m) if !m.flow => {
                let col = m
                    .entries
                    .first()
                    .map(|(k, _)| line_indent(src, k.start()))
                    .unwrap_or(m.col);
                if col > parent {
                    return Some(col - parent);
                }
                m.entries.iter().find_map(|(_, v)| find(src, v, col))
            }
            Node::Sequence(q) if !q.flow => q.items.iter().find_map(|v| find(src, v, q.col)),
            _ => None,
        }
    }
    match doc.root_mapping() {
        Some(m) if !m.flow => {
            let col = m
                .entries
                .first()
                .map(|(k, _)| line_indent(src, k.start()))
                .unwrap_or(0);
            m.entries
                .iter()
                .find_map(|(_, v)| find(src, v, col))
                .unwrap_or(2)
        }
        _ => 2,
    }
}

fn key_text(key: &str) -> String {
    if plain_is_safe(key) {
        key.to_string()
    } else {
        double_quoted(key)
    }
}

/// A value written fresh: plain when YAML reads it back as the same string, a literal block
/// for multi-line text when allowed, else double-quoted.
fn fresh_value(v: &str, literal: bool, indent: usize, eol: &str) -> String {
    if !v.is_empty() && plain_is_safe(v) {
        return v.to_string();
    }
    if literal {
        if let Some(block) = splice::literal_text(v, indent, eol) {
            return block;
        }
    }
    double_quoted(v)
}

/// A value written where another was: the user's quotes are kept, any other style is
/// replaced by a fresh rendering.
fn replacement_value(v: &str, literal: bool, old: Style, indent: usize, eol: &str) -> String {
    match old {
        Style::DoubleQuoted => double_quoted(v),
        Style::SingleQuoted => single_quoted(v).unwrap_or_else(|| double_quoted(v)),
        _ => fresh_value(v, literal, indent, eol),
    }
}

/// Text to insert at `at`: when the file ends there without a line break, the break goes
/// first and none is added at the end, so that the file keeps its missing final newline.
fn insertion(src: &str, at: usize, lines: String, eol: &str) -> Edit {
    if src[..at].ends_with('\n') || at == 0 {
        Edit::new(at, at, lines)
    } else {
        let body = lines.strip_suffix(eol).unwrap_or(&lines).to_string();
        Edit::new(at, at, format!("{eol}{body}"))
    }
}

/// Where a new `key` goes in a block mapping whose keys are sorted (kubectl writes them so,
/// and kustomize sorts them, which would reorder the values the MAC covers): at the start of
/// the first greater key's line, above the comment lines that lead into it. `None` when the
/// keys are not sorted or every key sorts before `key`: the new key then goes at the end.
fn sorted_slot(src: &str, m: &Mapping, key: &str) -> Option<usize> {
    let keys: Vec<&str> = m
        .entries
        .iter()
        .map(|(k, _)| k.as_scalar().map(|s| &*s.value))
        .collect::<Option<_>>()?;
    if !keys.windows(2).all(|w| w[0] <= w[1]) {
        return None;
    }
    let next = keys.iter().position(|k| *k > key)?;
    let mut at = splice::start_of_line(src, m.entries[next].0.start());
    while at > 0 {
        let prev = splice::start_of_line(src, at - 1);
        if !src[prev..at].trim_start().starts_with('#') {
            break;
        }
        at = prev;
    }
    Some(at)
}
