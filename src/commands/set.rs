//! `kseal set` and `kseal unset`: change one key of one Secret in an encrypted file by splicing
//! its decrypted text and re-encrypting it into the same envelope, so that every other byte
//! and every unchanged `ENC[...]` stays as it was and the Git diff shows only that value.

use std::io::Read;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use kseal::error::{Error, Kind, Result};
use kseal::kube;
use kseal::secrets;
use kseal::yaml::scalar::{self, double_quoted, plain_is_safe, single_quoted, Style, Typed};
use kseal::yaml::splice::{self, Edit};
use kseal::yaml::tree::{self, Document, Mapping, Node, Scalar};

use super::{note, open_encrypted, warn, write_back};
use crate::cli::{SetArgs, UnsetArgs};
use crate::fsio::MAX_INPUT;

pub fn run_set(a: &SetArgs) -> Result<()> {
    let name = a.file.display().to_string();
    check_key(&a.key)?;
    let value = read_value(a)?;
    let value: Zeroizing<String> = if a.string {
        match std::str::from_utf8(&value) {
            Ok(s) => Zeroizing::new(s.to_string()),
            Err(_) => {
                return Err(Error::format(
                    "the value is not UTF-8 text, so it cannot go under stringData",
                )
                .with_hint(
                    "leave out --string: the bytes are then stored base64-encoded under data",
                ))
            }
        }
    } else {
        Zeroizing::new(STANDARD.encode(&*value))
    };
    let opened = open_encrypted(&a.file, &a.identity)?;
    let plain: &str = &opened.decrypted.text;
    let stream = tree::parse(plain).map_err(|e| e.in_file(&name))?;
    let secret = secrets::select(&stream, a.select.doc, a.select.name.as_deref())
        .map_err(|e| e.in_file(&name))?;
    let di = secret.doc;
    let change = set_edits(
        plain,
        &stream.docs[di],
        secret.map,
        &a.key,
        &value,
        a.string,
    )
    .map_err(|e| e.in_doc(di).in_file(&name))?;
    seal_and_write(&a.file, &opened, change.edits, di)?;
    if let Some(other) = change.removed_from {
        // Kubernetes merges stringData over data: a copy left in the other mapping would hide
        // the new value or be hidden by it.
        let target = if a.string { "stringData" } else { "data" };
        note(&format!(
            "{name}: document {}: removed {other}.{}: the key is now in {target}",
            di + 1,
            a.key
        ));
    }
    Ok(())
}

pub fn run_unset(a: &UnsetArgs) -> Result<()> {
    let name = a.file.display().to_string();
    let opened = open_encrypted(&a.file, &a.identity)?;
    let plain: &str = &opened.decrypted.text;
    let stream = tree::parse(plain).map_err(|e| e.in_file(&name))?;
    let secret = secrets::select(&stream, a.select.doc, a.select.name.as_deref())
        .map_err(|e| e.in_file(&name))?;
    let di = secret.doc;
    let edits = unset_edits(plain, secret.map, &a.key).map_err(|e| e.in_doc(di).in_file(&name))?;
    if edits.is_empty() {
        if a.idempotent {
            return Ok(());
        }
        return Err(Error::format(format!(
            "{} has no key `{}` in data or stringData",
            secret.describe(),
            a.key
        ))
        .in_file(&name)
        .with_hint("--idempotent succeeds without changing the file when the key is absent"));
    }
    seal_and_write(&a.file, &opened, edits, di)
}

/// Applies the edits to the plaintext, checks the changed Secret, seals the result into the
/// file's own envelope and replaces the file (unless it changed on disk meanwhile).
fn seal_and_write(path: &Path, opened: &super::Opened, edits: Vec<Edit>, di: usize) -> Result<()> {
    let name = path.display().to_string();
    let plain: &str = &opened.decrypted.text;
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
        for w in kube::check_secret(doc, di).map_err(|e| e.in_file(&name))? {
            warn(&format!("{name}: {w}"));
        }
    }
    let out = kseal::sops::file::reencrypt(&new_plain, opened.envelope(), &opened.selector())
        .map_err(|e| e.in_file(&name))?;
    write_back(path, &opened.original, &out)
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

/// Why Kubernetes would refuse `key` as a Secret key (`IsConfigMapKey`), if it would.
pub fn secret_key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Some("a valid key consists of alphanumeric characters, '-', '_' or '.'");
    }
    if key.len() > 253 {
        return Some("it must be no more than 253 characters");
    }
    if key == "." || key == ".." {
        return Some("it must not be '.' or '..'");
    }
    if key.starts_with("..") {
        return Some("it must not start with '..'");
    }
    None
}

fn read_value(a: &SetArgs) -> Result<Zeroizing<Vec<u8>>> {
    match (&a.value, &a.from_file, a.stdin) {
        (Some(v), None, false) => Ok(Zeroizing::new(v.as_bytes().to_vec())),
        (None, Some(p), false) => read_bytes(p),
        (None, None, true) => {
            let mut buf = Zeroizing::new(Vec::new());
            std::io::stdin()
                .lock()
                .take(MAX_INPUT + 1)
                .read_to_end(&mut buf)
                .map_err(|e| Error::new(Kind::Input, format!("cannot read stdin: {e}")))?;
            if buf.len() as u64 > MAX_INPUT {
                return Err(Error::new(
                    Kind::Input,
                    format!("stdin is larger than {} MiB", MAX_INPUT / 1024 / 1024),
                ));
            }
            Ok(buf)
        }
        (None, None, false) => Err(Error::new(
            Kind::Usage,
            "no value given: use --stdin, --from-file PATH or --value V",
        )),
        _ => Err(Error::new(
            Kind::Usage,
            "give the value once: --value, --from-file and --stdin exclude each other",
        )),
    }
}

/// Reads a file's bytes (a value, a certificate), refusing directories and huge files.
pub fn read_bytes(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let name = path.display().to_string();
    let fail = |e: std::io::Error| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        Error::new(Kind::Input, format!("cannot read {name}: {why}"))
    };
    let meta = std::fs::metadata(path).map_err(fail)?;
    if meta.is_dir() {
        return Err(Error::new(Kind::Input, format!("{name} is a directory")));
    }
    if meta.len() > MAX_INPUT {
        return Err(Error::new(
            Kind::Input,
            format!("{name} is larger than {} MiB", MAX_INPUT / 1024 / 1024),
        ));
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut buf))
        .map_err(fail)?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(Error::new(
            Kind::Input,
            format!("{name} is larger than {} MiB", MAX_INPUT / 1024 / 1024),
        ));
    }
    Ok(buf)
}

/// The edits of `kseal set`, and the mapping the key was taken out of, if any.
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

fn position(m: &Mapping, key: &str) -> Option<usize> {
    m.entries
        .iter()
        .position(|(k, _)| k.as_scalar().is_some_and(|s| s.value == key))
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
/// for multi-line text under stringData, else double-quoted.
fn fresh_value(v: &str, string: bool, indent: usize, eol: &str) -> String {
    if !v.is_empty() && plain_is_safe(v) {
        return v.to_string();
    }
    if string {
        if let Some(block) = splice::literal_text(v, indent, eol) {
            return block;
        }
    }
    double_quoted(v)
}

/// A value written where another was: the user's quotes are kept, any other style is
/// replaced by a fresh rendering.
fn replacement_value(v: &str, string: bool, old: Style, indent: usize, eol: &str) -> String {
    match old {
        Style::DoubleQuoted => double_quoted(v),
        Style::SingleQuoted => single_quoted(v).unwrap_or_else(|| double_quoted(v)),
        _ => fresh_value(v, string, indent, eol),
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
    if super::set_json::is_json(src, root) {
        return super::set_json::set_edits(src, root, key, value, string);
    }
    block_mapping(root)?;
    let (target, other) = if string {
        ("stringData", "data")
    } else {
        ("data", "stringData")
    };
    let eol = splice::eol_of(src);
    let unit = indent_unit(src, doc);
    let root_indent = root
        .entries
        .first()
        .map(|(k, _)| line_indent(src, k.start()))
        .unwrap_or(0);
    let mut edits = Vec::new();
    let mut removed_from = None;

    // Kubernetes merges stringData over data: a stale copy of the key in the other mapping
    // would hide (or be hidden by) the new value.
    if let Some(oi) = position(root, other) {
        if let Some(m) = root.entries[oi].1.as_mapping() {
            if let Some(ki) = position(m, key) {
                edits.push(if m.entries.len() == 1 && !m.flow {
                    splice::remove_entry(src, root, oi)
                } else {
                    splice::remove_entry(src, m, ki)
                });
                removed_from = Some(other);
            }
        }
    }

    let Some(ti) = position(root, target) else {
        let last = root
            .entries
            .len()
            .checked_sub(1)
            .ok_or_else(|| Error::format("the Secret is an empty mapping"))?;
        let at =
            sorted_slot(src, root, target).unwrap_or_else(|| splice::after_entry(src, root, last));
        let inner = root_indent + unit;
        let v = fresh_value(value, string, inner + unit, eol);
        let lines = format!(
            "{}{target}:{eol}{}{}: {v}{eol}",
            " ".repeat(root_indent),
            " ".repeat(inner),
            key_text(key)
        );
        edits.push(insertion(src, at, lines, eol));
        return Ok(SetChange {
            edits,
            removed_from,
        });
    };

    let (tk, tv) = &root.entries[ti];
    let target_indent = line_indent(src, tk.start());
    match tv {
        Node::Mapping(m) if m.flow => Err(Error::new(
            Kind::Unsupported,
            format!(
                "`{target}` is a flow-style mapping ({{...}}), which kseal set does not change"
            ),
        )
        .with_hint("use `kseal edit` to change it, or rewrite it as a block mapping")),
        Node::Mapping(m) => {
            if let Some(ki) = position(m, key) {
                let (k, v) = &m.entries[ki];
                let s = match v {
                    Node::Scalar(s) => s,
                    _ => {
                        return Err(Error::format("the value is not a string")
                            .at_path(format!("{target}.{key}"))
                            .with_hint("use `kseal edit` to change it"))
                    }
                };
                let k_end = k.as_scalar().map(|ks| ks.end).unwrap_or(s.start);
                let indent = line_indent(src, k.start()) + unit;
                edits.push(replace_edit(src, k_end, s, value, string, indent, eol));
            } else {
                let last = m.entries.len() - 1;
                let at =
                    sorted_slot(src, m, key).unwrap_or_else(|| splice::after_entry(src, m, last));
                let indent = line_indent(src, m.entries[0].0.start());
                let v = fresh_value(value, string, indent + unit, eol);
                let lines = format!("{}{}: {v}{eol}", " ".repeat(indent), key_text(key));
                edits.push(insertion(src, at, lines, eol));
            }
            Ok(SetChange {
                edits,
                removed_from,
            })
        }
        Node::Scalar(s) if is_null(s) => {
            // `data:` with no entries yet: the mapping starts on the next line.
            let k_end = tk.as_scalar().map(|ks| ks.end).unwrap_or(s.start);
            let slot = splice::value_slot(src, k_end, s);
            if !slot.empty && slot.end > slot.start {
                let colon = src[k_end..]
                    .find(':')
                    .map(|i| k_end + i + 1)
                    .unwrap_or(slot.start);
                edits.push(Edit::new(colon, slot.end, ""));
            }
            let at = splice::end_of_line(src, slot.end.max(k_end));
            let inner = target_indent + unit;
            let v = fresh_value(value, string, inner + unit, eol);
            let lines = format!("{}{}: {v}{eol}", " ".repeat(inner), key_text(key));
            edits.push(insertion(src, at, lines, eol));
            Ok(SetChange {
                edits,
                removed_from,
            })
        }
        _ => Err(Error::format(format!("`{target}` is not a mapping"))
            .with_hint("use `kseal edit` to fix the Secret")),
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

fn is_null(s: &Scalar) -> bool {
    matches!(
        scalar::resolve(&s.value, s.style, s.tag.as_deref()),
        Ok(Typed::Null)
    )
}

fn replace_edit(
    src: &str,
    k_end: usize,
    s: &Scalar,
    value: &str,
    string: bool,
    indent: usize,
    eol: &str,
) -> Edit {
    let slot = splice::value_slot(src, k_end, s);
    let mut text = replacement_value(value, string, s.style, indent, eol);
    if slot.empty {
        text.insert(0, ' ');
    }
    if slot.needs_break {
        text.push_str(eol);
    }
    Edit::new(slot.start, slot.end, text)
}

/// The edits that remove `key` from `data` and `stringData` of the Secret mapping `root` (a
/// document's root, or a List item); none when it is absent. A mapping left empty is removed
/// with its key.
pub fn unset_edits(src: &str, root: &Mapping, key: &str) -> Result<Vec<Edit>> {
    if super::set_json::is_json(src, root) {
        return Ok(super::set_json::unset_edits(src, root, key));
    }
    block_mapping(root)?;
    let mut edits = Vec::new();
    for field in ["data", "stringData"] {
        let Some(fi) = position(root, field) else {
            continue;
        };
        let Some(m) = root.entries[fi].1.as_mapping() else {
            continue;
        };
        if let Some(ki) = position(m, key) {
            edits.push(if m.entries.len() == 1 && !m.flow {
                splice::remove_entry(src, root, fi)
            } else {
                splice::remove_entry(src, m, ki)
            });
        }
    }
    Ok(edits)
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
        assert!(e.hint.unwrap().contains("kseal edit"));
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
