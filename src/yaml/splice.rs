//! Replacing text in the original bytes: where a scalar really ends, how a value is written
//! back in the style the user chose, and applying a set of non-overlapping edits.

use zeroize::Zeroizing;

pub use super::layout::{end_of_line, eol_of, start_of_line, BlockLayout};
use super::scalar::{
    double_quoted, format_float, plain_is_safe, plain_is_safe_in_flow, single_quoted, Style, Typed,
};
use super::tree::{Mapping, Node, Scalar};
use crate::error::{Error, Kind, Result};

/// One replacement of `src[start..end]`.
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: Zeroizing<String>,
}

impl Edit {
    pub fn new(start: usize, end: usize, text: impl Into<String>) -> Self {
        Edit {
            start,
            end,
            text: Zeroizing::new(text.into()),
        }
    }
}

/// Applies edits (in any order) to `src`. Overlapping edits are a bug in the caller.
pub fn apply(src: &str, edits: Vec<Edit>) -> Result<Zeroizing<String>> {
    apply_refs(src, edits.iter().collect())
}

/// [`apply`] for edits the caller keeps.
pub fn apply_refs(src: &str, mut edits: Vec<&Edit>) -> Result<Zeroizing<String>> {
    edits.sort_by_key(|e| (e.start, e.end));
    // The exact output size: a growing Zeroizing buffer would leave copies behind unwiped.
    let added: usize = edits.iter().map(|e| e.text.len()).sum();
    let removed: usize = edits.iter().map(|e| e.end.saturating_sub(e.start)).sum();
    let mut out = Zeroizing::new(String::with_capacity(
        (src.len() + added).saturating_sub(removed),
    ));
    let mut pos = 0;
    for e in edits {
        if e.start < pos || e.end < e.start || e.end > src.len() {
            return Err(Error::new(
                Kind::Internal,
                "overlapping edits (this is a kseal bug)",
            ));
        }
        out.push_str(&src[pos..e.start]);
        out.push_str(&e.text);
        pos = e.end;
    }
    out.push_str(&src[pos..]);
    Ok(out)
}

/// Where a block scalar's header and content lines sit.
pub fn block_layout(src: &str, s: &Scalar) -> Option<BlockLayout> {
    super::layout::block_layout(src, s.span())
}

/// Where the text of a node really ends (block scalars end after their last content line).
pub fn node_end(src: &str, node: &Node) -> usize {
    match node {
        Node::Scalar(s) => match s.style {
            Style::Literal | Style::Folded => {
                block_layout(src, s).map(|l| l.content_end).unwrap_or(s.end)
            }
            _ => s.end,
        },
        Node::Mapping(m) => {
            if m.flow {
                m.end
            } else {
                m.entries
                    .last()
                    .map(|(k, v)| node_end(src, v).max(k_end(k)))
                    .unwrap_or(m.end)
            }
        }
        Node::Sequence(q) => {
            if q.flow {
                q.end
            } else {
                q.items.last().map(|n| node_end(src, n)).unwrap_or(q.end)
            }
        }
        Node::Alias(_, _, end, _) => *end,
    }
}

/// Whether the last value of `node` (in source order) is a block scalar with keep chomping
/// (`|+`, `>+`): the blank lines after its content are part of its value.
pub fn ends_with_keep_block(src: &str, node: &Node) -> bool {
    match node {
        Node::Scalar(s) => {
            matches!(s.style, Style::Literal | Style::Folded)
                && block_layout(src, s).is_some_and(|l| {
                    src[l.header..l.content_start]
                        .split('#')
                        .next()
                        .is_some_and(|h| h.contains('+'))
                })
        }
        Node::Mapping(m) if !m.flow => m
            .entries
            .last()
            .is_some_and(|(_, v)| ends_with_keep_block(src, v)),
        Node::Sequence(q) if !q.flow => {
            q.items.last().is_some_and(|v| ends_with_keep_block(src, v))
        }
        _ => false,
    }
}

/// Moves `at` (a line start) past the blank lines that follow it.
pub fn after_blank_lines(src: &str, at: usize) -> usize {
    let mut pos = at;
    while pos < src.len() {
        let line_end = end_of_line(src, pos);
        if !src[pos..line_end].trim().is_empty() {
            break;
        }
        pos = line_end;
    }
    pos
}

fn k_end(k: &Node) -> usize {
    match k {
        Node::Scalar(s) => s.end,
        other => other.start(),
    }
}

/// From a line start, skips the comment lines that follow (and blank lines between them), so
/// that nothing is inserted between a mapping and its trailing comments.
pub fn after_trailing_comments(src: &str, at: usize) -> usize {
    let mut pos = at;
    let mut end = at;
    while pos < src.len() {
        let line_end = end_of_line(src, pos);
        let line = src[pos..line_end].trim();
        if line.starts_with('#') {
            end = line_end;
        } else if !line.is_empty() {
            break;
        }
        pos = line_end;
    }
    end
}

/// The edit that removes entry `idx` of a mapping: whole lines in a block mapping, the entry
/// and one separator in a flow mapping.
pub fn remove_entry(src: &str, m: &Mapping, idx: usize) -> Edit {
    let (k, v) = &m.entries[idx];
    let v_end = node_end(src, v);
    if m.flow {
        let start = if idx > 0 {
            node_end(src, &m.entries[idx - 1].1)
        } else {
            k.start()
        };
        let mut end = v_end;
        if idx == 0 {
            let rest = &src[end..];
            let skip = rest.len() - rest.trim_start().len();
            if rest[skip..].starts_with(',') {
                end += skip + 1;
                let rest = &src[end..];
                end += rest.len() - rest.trim_start_matches([' ', '\t']).len();
            }
        }
        return Edit::new(start, end, "");
    }
    let key_start = k.start();
    let line_start = start_of_line(src, key_start);
    let start = if src[line_start..key_start].trim().is_empty() {
        line_start
    } else {
        key_start
    };
    let end = if src[..v_end].ends_with('\n') {
        v_end
    } else {
        end_of_line(src, v_end)
    };
    Edit::new(start, end, "")
}

/// The edit that puts an `ENC[...]` string where a plaintext scalar was, keeping its quotes
/// or block header so that decryption can restore the original style.
pub fn encrypted_edit(src: &str, s: &Scalar, enc: impl Into<String> + AsRef<str>) -> Edit {
    // An owned text is moved into the edit when it goes in as it is (a plain value: the
    // common case, and megabytes for a large one); the other forms are written around it.
    match s.style {
        Style::Plain if !s.in_flow => Edit::new(s.start, s.end, enc),
        _ => decorated_encrypted_edit(src, s, enc.as_ref()),
    }
}

fn decorated_encrypted_edit(src: &str, s: &Scalar, enc: &str) -> Edit {
    match s.style {
        Style::Plain => {
            if s.in_flow {
                Edit::new(s.start, s.end, format!("\"{enc}\""))
            } else {
                Edit::new(s.start, s.end, enc)
            }
        }
        Style::SingleQuoted => Edit::new(s.start, s.end, format!("'{enc}'")),
        Style::DoubleQuoted => Edit::new(s.start, s.end, format!("\"{enc}\"")),
        Style::Literal | Style::Folded => match block_layout(src, s) {
            Some(l) if l.content_end > l.content_start => {
                let eol = if l.no_final_break { "" } else { eol_of(src) };
                Edit::new(
                    l.content_start,
                    l.content_end,
                    format!("{}{enc}{eol}", " ".repeat(l.indent)),
                )
            }
            _ => Edit::new(s.start, s.start, enc),
        },
    }
}

/// The edit that puts an `ENC[...]` string on its key's line in place of a block scalar
/// (header and content), as sops wrote it.
pub fn inline_encrypted_edit(src: &str, s: &Scalar, enc: &str) -> Edit {
    match block_layout(src, s) {
        Some(l) if l.content_end > l.content_start => {
            let eol = if l.no_final_break { "" } else { eol_of(src) };
            Edit::new(l.header, l.content_end, format!("{enc}{eol}"))
        }
        _ => encrypted_edit(src, s, enc),
    }
}

/// Context for writing a decrypted value back.
pub struct RenderContext<'a> {
    pub src: &'a str,
    /// The document's indentation step: a multi-line value that replaces a plain scalar is
    /// written as a block one step deeper than the line holding its key.
    pub unit: usize,
    /// The document is JSON: strings are written as JSON strings.
    pub json: bool,
}

fn non_string_text(t: &Typed) -> Option<String> {
    Some(match t {
        Typed::Null => "null".to_string(),
        Typed::Bool(b) => b.to_string(),
        Typed::Int(i) => i.to_string(),
        Typed::Float(f) => {
            if f.is_nan() {
                ".nan".to_string()
            } else if f.is_infinite() {
                if *f > 0.0 { ".inf" } else { "-.inf" }.to_string()
            } else {
                let s = format_float(*f);
                // Keep it a float for YAML readers: `1` alone would come back as an integer.
                if s.contains(['.', 'e', 'E']) {
                    s
                } else {
                    format!("{s}.0")
                }
            }
        }
        Typed::Time(t) => t.clone(),
        Typed::Str(_) | Typed::Binary(_) => return None,
    })
}

fn json_string(s: &str) -> String {
    super::json::string(s)
}

/// Whether a string can be the content of a literal block scalar without an indentation
/// indicator and read back unchanged.
fn literal_ok(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with([' ', '\n', '\t'])
        && s.chars()
            .all(|c| c == '\n' || c == '\t' || (!c.is_control() && c != '\u{feff}'))
        && !s.split('\n').any(|l| l.ends_with([' ', '\t']))
        && !s.contains('\r')
}

/// Whether a value can be the content of an existing literal block and read back unchanged:
/// looser than `literal_ok` (which decides whether to create a block), because the user's own
/// header is kept: trailing spaces and leading empty lines are content there, and with an
/// indentation indicator so are leading spaces.
fn block_content_ok(s: &str, explicit_indent: bool) -> bool {
    let first_text = s.split('\n').find(|l| !l.is_empty()).unwrap_or("");
    !first_text.is_empty()
        && (explicit_indent || !first_text.starts_with([' ', '\t']))
        && !s.contains('\r')
        && s.chars()
            .all(|c| c == '\n' || c == '\t' || (!c.is_control() && c != '\u{feff}'))
        && !s.split('\n').any(|l| !l.is_empty() && l.trim().is_empty())
}

/// `decrypted_edit` that moves a plain-safe string into the edit instead of copying it.
pub fn decrypted_edit_owned(ctx: &RenderContext<'_>, s: &Scalar, mut t: Typed) -> Edit {
    if let Typed::Str(v) = &mut t {
        let plain_slot = s.style == Style::Plain || (s.style == Style::DoubleQuoted && s.in_flow);
        let safe = if s.in_flow {
            plain_is_safe_in_flow(v)
        } else {
            plain_is_safe(v)
        };
        if !ctx.json && plain_slot && safe {
            return Edit::new(s.start, s.end, std::mem::take(v));
        }
    }
    decrypted_edit(ctx, s, &t)
}

/// The edit that writes a decrypted value `t` where the encrypted scalar `s` was.
pub fn decrypted_edit(ctx: &RenderContext<'_>, s: &Scalar, t: &Typed) -> Edit {
    let src = ctx.src;
    let eol = eol_of(src);
    let text: String = match t {
        Typed::Binary(b) => match std::str::from_utf8(b) {
            Ok(st) => return decrypted_edit(ctx, s, &Typed::Str(st.to_string())),
            Err(_) => {
                use base64::Engine;
                format!(
                    "!!binary {}",
                    base64::engine::general_purpose::STANDARD.encode(b)
                )
            }
        },
        Typed::Str(v) => {
            if ctx.json {
                json_string(v)
            } else {
                match s.style {
                    Style::Literal | Style::Folded => {
                        if let Some(e) = block_content_edit(src, s, v, eol) {
                            return e;
                        }
                        // Not representable in that block: replace header and content.
                        if let Some(l) = block_layout(src, s) {
                            let brk = if l.no_final_break { "" } else { eol };
                            return Edit::new(
                                l.header,
                                l.content_end,
                                format!("{}{brk}", double_quoted(v)),
                            );
                        }
                        double_quoted(v)
                    }
                    Style::SingleQuoted => single_quoted(v).unwrap_or_else(|| double_quoted(v)),
                    // kseal writes a plain value of a flow collection as "ENC[...]" (plain
                    // text cannot hold its commas and brackets), so plain is restored here.
                    Style::DoubleQuoted if s.in_flow && plain_is_safe_in_flow(v) => v.clone(),
                    Style::DoubleQuoted => double_quoted(v),
                    Style::Plain => {
                        let safe = if s.in_flow {
                            plain_is_safe_in_flow(v)
                        } else {
                            plain_is_safe(v)
                        };
                        if safe {
                            v.clone()
                        } else if !s.in_flow && v.contains('\n') && literal_ok(v) {
                            let ls = start_of_line(src, s.start);
                            let lead = src[ls..s.start].len()
                                - src[ls..s.start].trim_start_matches(' ').len();
                            literal_block(v, lead + ctx.unit, eol)
                        } else {
                            double_quoted(v)
                        }
                    }
                }
            }
        }
        other if ctx.json => super::json::value_text(other),
        other => {
            let text = non_string_text(other).unwrap_or_default();
            if let (Style::Literal | Style::Folded, Some(l)) = (s.style, block_layout(src, s)) {
                let brk = if l.no_final_break { "" } else { eol };
                return Edit::new(l.header, l.content_end, format!("{text}{brk}"));
            }
            text
        }
    };
    Edit::new(s.start, s.end, text)
}

fn literal_block(v: &str, indent: usize, eol: &str) -> String {
    let trailing = v.len() - v.trim_end_matches('\n').len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let pad = " ".repeat(indent);
    let mut out = format!("|{chomp}");
    let body = v.trim_end_matches('\n');
    for line in body.split('\n') {
        out.push_str(eol);
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    for _ in 1..trailing {
        out.push_str(eol);
    }
    out
}

/// Rewrites only the content lines of a block scalar, keeping its header and trailing
/// blank lines, when the value can be written in that block's style.
fn block_content_edit(src: &str, s: &Scalar, v: &str, eol: &str) -> Option<Edit> {
    let l = block_layout(src, s)?;
    if l.content_end <= l.content_start {
        return None;
    }
    let body = v.trim_end_matches('\n');
    let folded = s.style == Style::Folded;
    // A folded block folds line breaks; one line reads the same as in a literal block.
    let multi_line_fold = folded && body.contains('\n');
    let ok = if multi_line_fold {
        literal_ok(body)
    } else {
        block_content_ok(body, l.explicit_indent)
    };
    if body.is_empty() || !ok {
        return None;
    }
    // The header's chomping decides how many line breaks end the value: only write into this
    // block when that gives back exactly the value's own.
    let trailing = v.len() - body.len();
    let header = &src[l.header..l.content_start];
    let chomp = header
        .trim_end()
        .chars()
        .skip(1)
        .find(|c| *c == '-' || *c == '+');
    let blank_after = src[l.content_end..]
        .split_inclusive('\n')
        .take_while(|line| line.trim().is_empty() && line.ends_with('\n'))
        .count();
    let consistent = match (chomp, l.no_final_break) {
        (Some('-'), _) | (_, true) => trailing == 0,
        (Some(_), false) => trailing >= 1 && trailing - 1 == blank_after,
        (None, false) => trailing == 1,
    };
    if !consistent {
        return None;
    }
    let pad = " ".repeat(l.indent);
    let mut out = String::with_capacity(body.len() + 16);
    let lines: Vec<&str> = body.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        if multi_line_fold && line.starts_with([' ', '\t']) {
            return None;
        }
        if i > 0 {
            out.push_str(eol);
            // In a folded block a single line break reads as a space: a break in the
            // value needs an empty line.
            if folded {
                out.push_str(eol);
            }
        }
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    if !l.no_final_break {
        out.push_str(eol);
    }
    Some(Edit::new(l.content_start, l.content_end, out))
}

/// The edit that turns a list element holding an encrypted comment (how sops stores a
/// comment inside a list) back into a comment line: `- ENC[...]` becomes `#text`.
pub fn comment_for_item(src: &str, s: &Scalar, text: &str, in_seq: bool) -> Edit {
    if in_seq && !s.in_flow {
        let before = &src[..s.start];
        let trimmed = before.trim_end_matches([' ', '\t']);
        if let Some(dash) = trimmed.strip_suffix('-') {
            return Edit::new(dash.len(), s.end, format!("#{text}"));
        }
    }
    // Nowhere to put a comment (a flow list or a mapping value): keep an empty string.
    Edit::new(s.start, s.end, "\"\"")
}

/// Where the text of a block mapping's scalar value lies, for replacing it whole (`kseal set`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueSlot {
    /// From the value's tag (`!!binary`) or block header, else its first character.
    pub start: usize,
    /// After its last character; a block scalar's range ends after its last content line.
    pub end: usize,
    /// The range ends with a line break, so the replacement must end with one too.
    pub needs_break: bool,
    /// The value is empty (`key:`): the range is empty, just after the colon, and the
    /// replacement needs a leading space.
    pub empty: bool,
}

/// The slot of the scalar value `s` whose key ends at `key_end`. An empty value is reported
/// by the parser at its key, before the colon: its slot is placed after the colon instead.
pub fn value_slot(src: &str, key_end: usize, s: &Scalar) -> ValueSlot {
    let colon = src[key_end..]
        .find(':')
        .map(|i| key_end + i + 1)
        .unwrap_or(key_end);
    if s.start == s.end && s.start <= colon {
        return ValueSlot {
            start: colon,
            end: colon,
            needs_break: false,
            empty: true,
        };
    }
    let mut start = s.start;
    let mut end = s.end;
    if s.tag.is_some() && colon <= s.start {
        if let Some(i) = src[colon..s.start].find('!') {
            start = colon + i;
        }
    }
    if matches!(s.style, Style::Literal | Style::Folded) {
        if let Some(l) = block_layout(src, s) {
            start = start.min(l.header);
            end = l.content_end.max(l.content_start);
        }
    }
    ValueSlot {
        start,
        end,
        needs_break: src[start..end].ends_with('\n'),
        empty: false,
    }
}

/// The position just after the line that ends entry `idx` of a block mapping: where a new
/// entry goes. A block scalar with keep chomping (`|+`) owns the blank lines after it, so
/// they are skipped rather than split from their value.
pub fn after_entry(src: &str, m: &Mapping, idx: usize) -> usize {
    let (k, v) = &m.entries[idx];
    let v_end = node_end(src, v).max(k_end(k));
    let mut at = if src[..v_end].ends_with('\n') {
        v_end
    } else {
        end_of_line(src, v_end)
    };
    if let Some(s) = last_leaf(v) {
        if let Some(l) = block_layout(src, s) {
            let header = src[l.header..l.content_start].lines().next().unwrap_or("");
            let indicators: String = header
                .chars()
                .skip(1)
                .take_while(|c| !c.is_whitespace())
                .collect();
            if indicators.contains('+') {
                while at < src.len() {
                    let next = end_of_line(src, at);
                    if !src[at..next].trim().is_empty() || !src[at..next].ends_with('\n') {
                        break;
                    }
                    at = next;
                }
            }
        }
    }
    at
}

/// The scalar that ends a node's text (the value of the last entry, the last list item).
fn last_leaf<'a>(node: &'a Node<'a>) -> Option<&'a Scalar<'a>> {
    match node {
        Node::Scalar(s) => Some(s),
        Node::Mapping(m) if !m.flow => m.entries.last().and_then(|(_, v)| last_leaf(v)),
        Node::Sequence(q) if !q.flow => q.items.last().and_then(last_leaf),
        _ => None,
    }
}

/// A multi-line string as a literal block (`|` or `|-`) whose content lines are indented by
/// `indent`, or `None` when a literal block cannot hold it exactly (leading blank or space,
/// trailing spaces, carriage returns, control characters) or would need keep chomping.
pub fn literal_text(v: &str, indent: usize, eol: &str) -> Option<String> {
    let trailing = v.len() - v.trim_end_matches('\n').len();
    if !v.contains('\n') || trailing > 1 || !literal_ok(v) {
        return None;
    }
    Some(literal_block(v, indent, eol))
}

#[cfg(test)]
#[path = "splice_tests.rs"]
mod splice_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree::parse;

    fn scalar<'a>(st: &'a crate::yaml::tree::Stream, key: &str) -> &'a Scalar<'a> {
        st.docs[0]
            .root_mapping()
            .unwrap()
            .get(key)
            .unwrap()
            .as_scalar()
            .unwrap()
    }

    #[test]
    fn block_layout_finds_header_and_content() {
        let src = "a: |-  # c\n  l1\n\n  l2\n\nb: x\n";
        let st = parse(src).unwrap();
        let l = block_layout(src, scalar(&st, "a")).unwrap();
        assert_eq!(&src[l.header..l.header + 2], "|-");
        assert_eq!(&src[l.content_start..l.content_end], "  l1\n\n  l2\n");
        assert_eq!(l.indent, 2);
    }

    #[test]
    fn encrypt_then_decrypt_edits_restore_each_style() {
        let src = "a: plain\nb: 'single'\nc: \"double\"\nd: |\n  l1\n  l2\ne: >\n  folded text\nf: {x: flow}\ng: |-\n  last\n";
        let st = parse(src).unwrap();
        let mut edits = Vec::new();
        let m = st.docs[0].root_mapping().unwrap();
        let mut values = Vec::new();
        for (_, v) in &m.entries {
            let s = match v {
                Node::Scalar(s) => s.clone(),
                Node::Mapping(f) => f.entries[0].1.as_scalar().unwrap().clone(),
                _ => unreachable!(),
            };
            edits.push(encrypted_edit(src, &s, "ENC[X]"));
            values.push(s.value.to_string());
        }
        let enc = apply(src, edits).unwrap();
        assert_eq!(
            enc.as_str(),
            "a: ENC[X]\nb: 'ENC[X]'\nc: \"ENC[X]\"\nd: |\n  ENC[X]\ne: >\n  ENC[X]\nf: {x: \"ENC[X]\"}\ng: |-\n  ENC[X]\n"
        );
        let st2 = parse(&enc).unwrap();
        let m2 = st2.docs[0].root_mapping().unwrap();
        let ctx = RenderContext {
            src: &enc,
            unit: 2,
            json: false,
        };
        let mut edits = Vec::new();
        for ((_, v), value) in m2.entries.iter().zip(&values) {
            let s = match v {
                Node::Scalar(s) => s.clone(),
                Node::Mapping(f) => f.entries[0].1.as_scalar().unwrap().clone(),
                _ => unreachable!(),
            };
            assert!(s.value.starts_with("ENC[X]"));
            edits.push(decrypted_edit(&ctx, &s, &Typed::Str(value.to_string())));
        }
        assert_eq!(apply(&enc, edits).unwrap().as_str(), src);
    }

    #[test]
    fn plain_slot_gets_quotes_or_a_block_when_needed() {
        let src = "k: ENC\n";
        let st = parse(src).unwrap();
        let s = scalar(&st, "k");
        let ctx = RenderContext {
            src,
            unit: 2,
            json: false,
        };
        let r = |t: Typed| {
            apply(src, vec![decrypted_edit(&ctx, s, &t)])
                .unwrap()
                .to_string()
        };
        assert_eq!(r(Typed::Str("true".into())), "k: \"true\"\n");
        assert_eq!(r(Typed::Str("a\nb\n".into())), "k: |\n  a\n  b\n");
        assert_eq!(r(Typed::Int(5)), "k: 5\n");
        assert_eq!(r(Typed::Float(1.0)), "k: 1.0\n");
        assert_eq!(r(Typed::Bool(true)), "k: true\n");
    }
}

#[cfg(test)]
mod entry_tests {
    use super::*;
    use crate::yaml::tree::parse;

    fn data<'a>(st: &'a crate::yaml::tree::Stream<'a>) -> &'a Mapping<'a> {
        st.docs[0]
            .root_mapping()
            .unwrap()
            .get("data")
            .unwrap()
            .as_mapping()
            .unwrap()
    }

    fn slot_text(src: &str, key: &str) -> (String, ValueSlot) {
        let st = parse(src).unwrap();
        let (k, v) = data(&st).entry(key).unwrap();
        let slot = value_slot(src, k.as_scalar().unwrap().end, v.as_scalar().unwrap());
        (src[slot.start..slot.end].to_string(), slot)
    }

    #[test]
    fn value_slots_cover_quotes_tags_and_blocks() {
        let src = "data:\n  a: plain # c\n  b: \"dq\"\n  c: !!binary eHl6\n  d: |-\n    l1\n    l2\n\n  e:\n  f: 'x'\n";
        assert_eq!(slot_text(src, "a").0, "plain");
        assert_eq!(slot_text(src, "b").0, "\"dq\"");
        assert_eq!(slot_text(src, "c").0, "!!binary eHl6");
        let (t, s) = slot_text(src, "d");
        assert_eq!(t, "|-\n    l1\n    l2\n");
        assert!(s.needs_break && !s.empty);
        let (t, s) = slot_text(src, "e");
        assert_eq!(
            (t.as_str(), s.empty, s.start),
            ("", true, src.find("e:").unwrap() + 2)
        );
        assert_eq!(slot_text(src, "f").0, "'x'");
    }

    #[test]
    fn after_entry_is_past_the_line_and_keep_blocks() {
        let src = "data:\n  a: x # c\n  b: |+\n    l1\n\n\nkind: Secret\n";
        let st = parse(src).unwrap();
        let m = data(&st);
        assert_eq!(
            &src[after_entry(src, m, 0)..],
            "  b: |+\n    l1\n\n\nkind: Secret\n"
        );
        assert_eq!(&src[after_entry(src, m, 1)..], "kind: Secret\n");
        let src = "data:\n  a: x";
        let st = parse(src).unwrap();
        assert_eq!(after_entry(src, data(&st), 0), src.len());
    }

    #[test]
    fn literal_text_only_when_exact() {
        assert_eq!(literal_text("a\nb\n", 4, "\n").unwrap(), "|\n    a\n    b");
        assert_eq!(literal_text("a\n\nb", 2, "\n").unwrap(), "|-\n  a\n\n  b");
        assert!(literal_text("one line", 2, "\n").is_none());
        assert!(literal_text("a\n\n", 2, "\n").is_none());
        assert!(literal_text(" a\nb", 2, "\n").is_none());
        assert!(literal_text("a \nb", 2, "\n").is_none());
    }

    /// The colon of an entry whose key is followed by spaces (`a :`): an empty value's slot
    /// is after the colon, not inside the key's spacing.
    #[test]
    fn value_slots_after_a_spaced_colon() {
        let src = "data:\n  a :\n  b  : !!binary eHl6\n";
        let (t, s) = slot_text(src, "a");
        assert_eq!(
            (t.as_str(), s.empty, s.start),
            ("", true, src.find("a :").unwrap() + 3)
        );
        assert_eq!(slot_text(src, "b").0, "!!binary eHl6");
    }

    /// A keep block (`|+`) that ends an entry owns the blank lines after it, also when it is
    /// the last value of a nested block mapping or the last item of a block list.
    #[test]
    fn after_entry_finds_the_keep_block_that_ends_a_nested_value() {
        for src in [
            "data:\n  a:\n    b: |+\n      l1\n\n\nkind: Secret\n",
            "data:\n  a:\n    - x\n    - |+\n      l1\n\n\nkind: Secret\n",
            "data:\n  a:\n    - b: |+\n        l1\n\n\nkind: Secret\n",
        ] {
            let st = parse(src).unwrap();
            let root = st.docs[0].root_mapping().unwrap();
            assert_eq!(&src[after_entry(src, root, 0)..], "kind: Secret\n", "{src}");
        }
        // A flow collection holds no block scalar, even where a comment inside it shows a
        // `|+`: the blank lines after it stay after the new entry.
        for src in [
            "data:\n  a: {x: # |+\n    v}\n\n\nkind: Secret\n",
            "data:\n  a: [x, # |+\n    v]\n\n\nkind: Secret\n",
        ] {
            let st = parse(src).unwrap();
            let root = st.docs[0].root_mapping().unwrap();
            assert_eq!(
                &src[after_entry(src, root, 0)..],
                "\n\nkind: Secret\n",
                "{src}"
            );
        }
    }

    /// A tagged empty value is its tag (not an empty slot); an untagged value after a
    /// comment that holds a `!` starts at the value, not at the `!`.
    #[test]
    fn value_slots_of_tagged_empty_values_and_values_after_comments() {
        let src = "data:\n  g: !!str\n  h: # note!\n    v\n";
        let (t, s) = slot_text(src, "g");
        assert_eq!((t.as_str(), s.empty), ("!!str", false));
        assert_eq!(slot_text(src, "h").0, "v");
    }

    /// A literal block takes a value whose later lines are more indented, in place (only a
    /// folded block cannot hold such lines: they would not fold back).
    #[test]
    fn literal_blocks_keep_more_indented_lines() {
        let src = "k: |\n  E\nc: 1\n";
        let st = parse(src).unwrap();
        let s = st.docs[0]
            .root_mapping()
            .unwrap()
            .get("k")
            .unwrap()
            .as_scalar()
            .unwrap();
        let ctx = RenderContext {
            src,
            unit: 2,
            json: false,
        };
        let t = Typed::Str("x\n  y\n".into());
        let out = apply(src, vec![decrypted_edit(&ctx, s, &t)])
            .unwrap()
            .to_string();
        assert_eq!(out, "k: |\n  x\n    y\nc: 1\n");
    }
}
