//! Three-way merge of plain (decrypted) manifests, per document and per key: the result is
//! "ours" with the changes "theirs" made since the common base, spliced into our bytes.
//!
//! git's line merge cannot merge encrypted files (every changed value is a long opaque line,
//! and the `mac` line always conflicts). The merge driver decrypts the three versions, merges
//! here and re-encrypts; this module only sees plaintext and returns plaintext or the list of
//! conflicting key paths (never a value).

use zeroize::Zeroizing;

use crate::error::Result;
use crate::yaml::scalar::{self, Typed};
use crate::yaml::splice::{self, Edit};
use crate::yaml::tree::{self, Document, Mapping, Node, Stream};

/// The result of a merge.
pub enum Outcome {
    /// The merged text (our bytes with their changes).
    Merged(Zeroizing<String>),
    /// Where both sides changed the same thing differently: "Secret db: data.password".
    Conflicts(Vec<String>),
}

/// How a document is told apart from the others of its stream: `Kind namespace/name`, or its
/// position when it has no name (or when names repeat).
pub fn describe_doc(doc: &Document) -> Option<String> {
    let root = doc.root_mapping()?;
    let kind = root.get_str("kind")?;
    let meta = root.get("metadata")?.as_mapping()?;
    let name = meta.get_str("name")?;
    Some(match meta.get_str("namespace") {
        Some(ns) if !ns.is_empty() => format!("{kind} {ns}/{name}"),
        _ => format!("{kind} {name}"),
    })
}

/// A document with no content (`---` followed by nothing parses as a null scalar).
pub fn is_empty_doc(d: &Document) -> bool {
    match &d.root {
        None => true,
        Some(Node::Scalar(s)) => matches!(
            scalar::resolve(&s.value, s.style, s.tag.as_deref()),
            Ok(Typed::Null)
        ),
        Some(_) => false,
    }
}

/// The identity of every document of a stream; position-based for all of them when any
/// name is missing or repeated, so that matching stays unambiguous.
pub fn identities(stream: &Stream) -> Vec<String> {
    let named: Vec<Option<String>> = stream.docs.iter().map(describe_doc).collect();
    let mut seen = std::collections::HashSet::new();
    let unique = named
        .iter()
        .zip(&stream.docs)
        .all(|(n, d)| is_empty_doc(d) || n.as_ref().is_some_and(|n| seen.insert(n.clone())));
    named
        .into_iter()
        .zip(&stream.docs)
        .enumerate()
        .map(|(i, (n, d))| match n {
            _ if is_empty_doc(d) => format!("(empty document {})", i + 1),
            Some(n) if unique => n,
            _ => format!("document {}", i + 1),
        })
        .collect()
}

/// A canonical form of a node's data (comments, quoting and key order ignored), used to
/// compare the three versions. It holds plaintext, so it is zeroed on drop.
fn canon(node: Option<&Node>) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    if let Some(n) = node {
        canon_into(n, &mut out, 0);
    } else {
        out.push('~');
    }
    out
}

fn push_len_prefixed(out: &mut String, tag: char, s: &str) {
    out.push(tag);
    out.push_str(&s.len().to_string());
    out.push(':');
    out.push_str(s);
}

fn canon_into(node: &Node, out: &mut String, depth: usize) {
    // Aliases are expanded; the tree already bounded their total size.
    if depth > 300 {
        out.push('!');
        return;
    }
    match node {
        Node::Scalar(s) => match scalar::resolve(&s.value, s.style, s.tag.as_deref()) {
            Ok(Typed::Null) => out.push('n'),
            Ok(t) => {
                let bytes = t.to_sops_bytes();
                push_len_prefixed(out, 's', t.sops_type());
                push_len_prefixed(out, 'v', &String::from_utf8_lossy(&bytes));
            }
            Err(_) => push_len_prefixed(out, 'r', &s.value),
        },
        Node::Alias(target, ..) => canon_into(target, out, depth + 1),
        Node::Sequence(q) => {
            out.push('[');
            for item in &q.items {
                canon_into(item, out, depth + 1);
            }
            out.push(']');
        }
        Node::Mapping(m) => {
            let mut entries: Vec<(Zeroizing<String>, Zeroizing<String>)> = m
                .entries
                .iter()
                .map(|(k, v)| {
                    let mut ks = Zeroizing::new(String::new());
                    canon_into(k, &mut ks, depth + 1);
                    let mut vs = Zeroizing::new(String::new());
                    canon_into(v, &mut vs, depth + 1);
                    (ks, vs)
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (k, v) in &entries {
                out.push_str(k);
                out.push_str(v);
            }
            out.push('}');
        }
    }
}

fn same(a: Option<&Node>, b: Option<&Node>) -> bool {
    *canon(a) == *canon(b)
}

fn has_alias(node: &Node) -> bool {
    match node {
        Node::Alias(..) => true,
        Node::Scalar(_) => false,
        Node::Sequence(q) => q.items.iter().any(has_alias),
        Node::Mapping(m) => m.entries.iter().any(|(k, v)| has_alias(k) || has_alias(v)),
    }
}

fn key_of<'a>(k: &'a Node<'a>) -> Option<&'a str> {
    k.as_scalar().map(|s| &*s.value)
}

/// One side of the merge: its text and parsed stream.
struct Side<'a> {
    src: &'a str,
    stream: Stream<'a>,
    ids: Vec<String>,
}

impl<'a> Side<'a> {
    fn new(src: &'a str) -> Result<Side<'a>> {
        let stream = tree::parse(src)?;
        let ids = identities(&stream);
        Ok(Side { src, stream, ids })
    }
    fn find(&self, id: &str) -> Option<&Document<'_>> {
        self.ids
            .iter()
            .position(|i| i == id)
            .map(|i| &self.stream.docs[i])
    }
    /// Byte range of document `i`, from its start to the next document's start.
    fn doc_range(&self, i: usize) -> (usize, usize) {
        let start = if i == 0 { 0 } else { self.stream.docs[i].start };
        let end = self
            .stream
            .docs
            .get(i + 1)
            .map(|d| d.start)
            .unwrap_or(self.src.len());
        (start, end.max(start))
    }
}

struct Merger<'a> {
    ours: &'a str,
    theirs: &'a str,
    eol: &'static str,
    edits: Vec<Edit>,
    conflicts: Vec<String>,
}

/// Merges `theirs`' changes since `base` into `ours`. `base` is empty when the file was added
/// on both sides.
pub fn merge3(base: &str, ours: &str, theirs: &str) -> Result<Outcome> {
    let b = Side::new(base)?;
    let o = Side::new(ours)?;
    let t = Side::new(theirs)?;
    let mut m = Merger {
        ours,
        theirs,
        eol: splice::eol_of(ours),
        edits: Vec::new(),
        conflicts: Vec::new(),
    };
    for (oi, od) in o.stream.docs.iter().enumerate() {
        if is_empty_doc(od) {
            continue;
        }
        let id = &o.ids[oi];
        let bd = b.find(id);
        match t.find(id) {
            Some(td) => m.merge_doc(id, bd, od, td, &o, oi),
            None => match bd {
                // Added on our side only: keep.
                None => {}
                Some(bd) if same(bd.root.as_ref(), od.root.as_ref()) => {
                    // They removed it and we did not change it.
                    let (s, e) = o.doc_range(oi);
                    m.edits.push(Edit::new(s, e, ""));
                }
                Some(_) => m
                    .conflicts
                    .push(format!("{id}: removed on their side, changed on ours")),
            },
        }
    }
    let mut appended = String::new();
    for (ti, td) in t.stream.docs.iter().enumerate() {
        let id = &t.ids[ti];
        if o.find(id).is_some() || is_empty_doc(td) {
            continue;
        }
        match b.find(id) {
            None => {
                // Added on their side: append their document.
                let (s, e) = t.doc_range(ti);
                let text = t.src[s..e].trim_start_matches(['\n', '\r']);
                let text = text.strip_prefix("---").map_or(text, |r| {
                    r.strip_prefix("\r\n")
                        .or_else(|| r.strip_prefix('\n'))
                        .unwrap_or(r)
                });
                appended.push_str("---");
                appended.push_str(m.eol);
                appended.push_str(text);
                if !text.ends_with('\n') {
                    appended.push_str(m.eol);
                }
            }
            Some(bd) if same(bd.root.as_ref(), td.root.as_ref()) => {}
            Some(_) => m
                .conflicts
                .push(format!("{id}: removed on our side, changed on theirs")),
        }
    }
    if !m.conflicts.is_empty() {
        return Ok(Outcome::Conflicts(m.conflicts));
    }
    if !appended.is_empty() {
        let at = ours.len();
        let lead = if ours.is_empty() || ours.ends_with('\n') {
            ""
        } else {
            m.eol
        };
        let text = if ours.trim().is_empty() {
            appended
                .strip_prefix(&format!("---{}", m.eol))
                .unwrap_or(&appended)
                .to_string()
        } else {
            format!("{lead}{appended}")
        };
        m.edits.push(Edit::new(at, at, text));
    }
    let merged = splice::apply(ours, m.edits)?;
    Ok(Outcome::Merged(merged))
}

impl Merger<'_> {
    fn merge_doc(
        &mut self,
        id: &str,
        bd: Option<&Document>,
        od: &Document,
        td: &Document,
        o: &Side<'_>,
        oi: usize,
    ) {
        let (br, or, tr) = (
            bd.and_then(|d| d.root.as_ref()),
            od.root.as_ref(),
            td.root.as_ref(),
        );
        if same(or, tr) || (bd.is_some() && same(br, tr)) {
            return;
        }
        fn block<'a>(n: Option<&'a Node<'a>>) -> Option<&'a Mapping<'a>> {
            n.and_then(Node::as_mapping).filter(|m| !m.flow)
        }
        if let (Some(om), Some(tm)) = (block(or), block(tr)) {
            let bm = match br {
                None => None,
                Some(n) => match block(Some(n)) {
                    Some(m) => Some(m),
                    None => {
                        self.conflicts
                            .push(format!("{id}: the document changed shape"));
                        return;
                    }
                },
            };
            self.merge_mapping(id, &mut Vec::new(), bm, om, tm);
            return;
        }
        if bd.is_some() && same(br, or) && tr.is_none_or(|n| !has_alias(n)) {
            // Only they changed it, and it is not a mapping we can merge key by key: take theirs.
            // Replace the content of our document with their root node's text.
            let (s, e) = o.doc_range(oi);
            let start = od.root.as_ref().map(Node::start).unwrap_or(s);
            let end = od
                .root
                .as_ref()
                .map(|n| splice::end_of_line(self.ours, splice::node_end(self.ours, n)))
                .unwrap_or(e);
            let text = td
                .root
                .as_ref()
                .map(|n| {
                    let te = splice::end_of_line(self.theirs, splice::node_end(self.theirs, n));
                    self.theirs[n.start()..te].to_string()
                })
                .unwrap_or_default();
            self.edits.push(Edit::new(start, end.max(start), text));
            return;
        }
        self.conflicts
            .push(format!("{id}: both sides changed the document"));
    }

    fn merge_mapping(
        &mut self,
        id: &str,
        path: &mut Vec<String>,
        bm: Option<&Mapping>,
        om: &Mapping,
        tm: &Mapping,
    ) {
        let at = |path: &[String], k: &str| {
            let mut p = path.join(".");
            if !p.is_empty() {
                p.push('.');
            }
            p.push_str(k);
            format!("{id}: {p}")
        };
        for (idx, (ok, ov)) in om.entries.iter().enumerate() {
            let Some(key) = key_of(ok) else {
                continue;
            };
            let bv = bm.and_then(|m| m.get(key));
            match tm.get(key) {
                Some(tv) => {
                    if same(Some(ov), Some(tv)) || (bv.is_some() && same(bv, Some(tv))) {
                        continue;
                    }
                    if bv.is_some() && same(bv, Some(ov)) && !has_alias(tv) {
                        let tidx = tm
                            .entries
                            .iter()
                            .position(|(k, _)| key_of(k) == Some(key))
                            .expect("found above");
                        self.replace_entry(om, idx, tm, tidx);
                        continue;
                    }
                    let block = |n: &Node| n.as_mapping().filter(|m| !m.flow).is_some();
                    let base_ok = bv.is_none_or(block);
                    if block(ov) && block(tv) && base_ok {
                        path.push(key.to_string());
                        self.merge_mapping(
                            id,
                            path,
                            bv.and_then(Node::as_mapping),
                            ov.as_mapping().expect("checked"),
                            tv.as_mapping().expect("checked"),
                        );
                        path.pop();
                        continue;
                    }
                    self.conflicts
                        .push(format!("{}: changed on both sides", at(path, key)));
                }
                None => match bv {
                    None => {}
                    Some(bv) if same(Some(bv), Some(ov)) => {
                        self.edits.push(splice::remove_entry(self.ours, om, idx));
                    }
                    Some(_) => self.conflicts.push(format!(
                        "{}: removed on their side, changed on ours",
                        at(path, key)
                    )),
                },
            }
        }
        for (tidx, (tk, tv)) in tm.entries.iter().enumerate() {
            let Some(key) = key_of(tk) else {
                continue;
            };
            if om.get(key).is_some() {
                continue;
            }
            match bm.and_then(|m| m.get(key)) {
                None => {
                    if has_alias(tv) {
                        self.conflicts.push(format!(
                            "{}: added on their side with a YAML alias",
                            at(path, key)
                        ));
                        continue;
                    }
                    self.insert_entry(om, tm, tidx);
                }
                Some(bv) if same(Some(bv), Some(tv)) => {}
                Some(_) => self.conflicts.push(format!(
                    "{}: removed on our side, changed on theirs",
                    at(path, key)
                )),
            }
        }
    }

    /// The byte range of a block mapping's entry: whole lines, from its key's line to the end
    /// of its value's last line.
    fn entry_range(src: &str, m: &Mapping, idx: usize) -> (usize, usize) {
        let (k, v) = &m.entries[idx];
        let start = splice::start_of_line(src, k.start());
        let v_end = splice::node_end(src, v);
        let end = if src[..v_end].ends_with('\n') {
            v_end
        } else {
            splice::end_of_line(src, v_end)
        };
        (start, end)
    }

    /// Their entry's text, re-indented from their mapping's column to ours.
    fn their_entry_text(&self, om: &Mapping, tm: &Mapping, tidx: usize) -> String {
        let (s, e) = Self::entry_range(self.theirs, tm, tidx);
        let text = &self.theirs[s..e];
        let mut out = String::with_capacity(text.len() + 16);
        for line in text.split_inclusive('\n') {
            if om.col >= tm.col {
                if !line.trim().is_empty() {
                    out.push_str(&" ".repeat(om.col - tm.col));
                }
                out.push_str(line);
            } else {
                let lead = line.len() - line.trim_start_matches(' ').len();
                out.push_str(&line[lead.min(tm.col - om.col)..]);
            }
        }
        if !out.ends_with('\n') {
            out.push_str(self.eol);
        }
        out
    }

    fn replace_entry(&mut self, om: &Mapping, idx: usize, tm: &Mapping, tidx: usize) {
        let (s, e) = Self::entry_range(self.ours, om, idx);
        let mut text = self.their_entry_text(om, tm, tidx);
        if !self.ours[..e].ends_with('\n') {
            // Our entry ended the file without a line break: keep it that way.
            text.truncate(text.trim_end_matches(['\n', '\r']).len());
        }
        self.edits.push(Edit::new(s, e, text));
    }

    /// Inserts their new entry after the entry that precedes it on their side (if we have
    /// it), else before our first entry.
    fn insert_entry(&mut self, om: &Mapping, tm: &Mapping, tidx: usize) {
        let text = self.their_entry_text(om, tm, tidx);
        let prev = tm.entries[..tidx].iter().rev().find_map(|(k, _)| {
            let key = key_of(k)?;
            om.entries
                .iter()
                .position(|(ok, _)| key_of(ok) == Some(key))
        });
        let next = tm.entries[tidx + 1..].iter().find_map(|(k, _)| {
            let key = key_of(k)?;
            om.entries
                .iter()
                .position(|(ok, _)| key_of(ok) == Some(key))
        });
        let last = om.entries.len().checked_sub(1);
        // Both sides sorted (kubectl's order, which kustomize restores): keep ours sorted, or
        // a build reorders the values the MAC covers.
        let (prev, next) = match sorted_position(om, tm, tidx) {
            Some(i) => (None, Some(i)),
            None => (prev, next),
        };
        let at = match (prev, next, last) {
            (Some(i), _, _) => Self::entry_range(self.ours, om, i).1,
            (None, Some(i), _) => splice::start_of_line(self.ours, om.entries[i].0.start()),
            (None, None, Some(i)) => Self::entry_range(self.ours, om, i).1,
            (None, None, None) => self.ours.len(),
        };
        let text = if self.ours[..at].ends_with('\n') || at == 0 {
            text
        } else {
            let body = text.trim_end_matches(['\n', '\r']);
            format!("{}{body}", self.eol)
        };
        self.edits.push(Edit::new(at, at, text));
    }
}

/// For mappings sorted by key on both sides: the index of our first key greater than their
/// new key `tm[tidx]` (`None`: not sorted, or the key sorts last).
fn sorted_position(om: &Mapping, tm: &Mapping, tidx: usize) -> Option<usize> {
    let keys = |m: &Mapping| -> Option<Vec<String>> {
        m.entries
            .iter()
            .map(|(k, _)| key_of(k).map(str::to_string))
            .collect()
    };
    let (ours, theirs) = (keys(om)?, keys(tm)?);
    let sorted = |v: &[String]| v.windows(2).all(|w| w[0] <= w[1]);
    if !sorted(&ours) || !sorted(&theirs) {
        return None;
    }
    let new = &theirs[tidx];
    ours.iter().position(|k| k > new)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  labels:\n    app: db\ndata:\n  user: YWRtaW4=\n  password: czNjcjN0\nstringData:\n  host: db.local\n";

    fn merged(base: &str, ours: &str, theirs: &str) -> String {
        match merge3(base, ours, theirs).unwrap() {
            Outcome::Merged(t) => t.to_string(),
            Outcome::Conflicts(c) => panic!("conflicts: {c:?}"),
        }
    }

    #[test]
    fn keys_added_on_both_sides_stay_sorted() {
        let base = "kind: Secret\ndata:\n  a: MQ==\n  d: NA==\n";
        let ours = "kind: Secret\ndata:\n  a: MQ==\n  b: Mg==\n  d: NA==\n";
        let theirs = "kind: Secret\ndata:\n  a: MQ==\n  c: Mw==\n  d: NA==\n";
        assert_eq!(
            merged(base, ours, theirs),
            "kind: Secret\ndata:\n  a: MQ==\n  b: Mg==\n  c: Mw==\n  d: NA==\n"
        );
        // Not sorted on our side: after their predecessor, as before.
        let ours = "kind: Secret\ndata:\n  a: MQ==\n  z: Mg==\n  d: NA==\n";
        assert_eq!(
            merged(base, ours, theirs),
            "kind: Secret\ndata:\n  a: MQ==\n  c: Mw==\n  z: Mg==\n  d: NA==\n"
        );
    }

    #[test]
    fn disjoint_changes_merge() {
        let ours = BASE.replace("user: YWRtaW4=", "user: cm9vdA==");
        let theirs = BASE
            .replace("password: czNjcjN0", "password: bmV3")
            .replace("  host: db.local\n", "  host: db.local\n  port: \"5432\"\n");
        let out = merged(BASE, &ours, &theirs);
        assert_eq!(
            out,
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  labels:\n    app: db\ndata:\n  user: cm9vdA==\n  password: bmV3\nstringData:\n  host: db.local\n  port: \"5432\"\n"
        );
    }

    #[test]
    fn same_key_changed_differently_conflicts_without_values() {
        let ours = BASE.replace("password: czNjcjN0", "password: b3Vycw==");
        let theirs = BASE.replace("password: czNjcjN0", "password: dGhlaXJz");
        match merge3(BASE, &ours, &theirs).unwrap() {
            Outcome::Conflicts(c) => {
                assert_eq!(c, vec!["Secret db: data.password: changed on both sides"]);
                assert!(!c.concat().contains("b3Vycw"));
            }
            Outcome::Merged(_) => panic!("expected a conflict"),
        }
    }

    #[test]
    fn same_change_on_both_sides_is_clean() {
        let both = BASE.replace("password: czNjcjN0", "password: bmV3");
        assert_eq!(merged(BASE, &both, &both), both);
    }

    #[test]
    fn removals_and_nested_changes() {
        let ours = BASE.replace("    app: db\n", "    app: db\n    tier: backend\n");
        let theirs = BASE
            .replace("  user: YWRtaW4=\n", "")
            .replace("app: db", "app: database");
        let out = merged(BASE, &ours, &theirs);
        assert!(
            out.contains("    app: database\n    tier: backend\n"),
            "{out}"
        );
        assert!(!out.contains("user:"), "{out}");
        let theirs2 = BASE.replace("  user: YWRtaW4=\n", "");
        let ours2 = BASE.replace("user: YWRtaW4=", "user: cm9vdA==");
        assert!(matches!(
            merge3(BASE, &ours2, &theirs2).unwrap(),
            Outcome::Conflicts(_)
        ));
    }

    #[test]
    fn documents_added_and_removed() {
        let other =
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: api\nstringData:\n  token: t\n";
        let theirs = format!("{BASE}{other}");
        let out = merged(BASE, BASE, &theirs);
        assert_eq!(out, theirs);
        // They removed the document we changed: a conflict.
        assert!(matches!(
            merge3(&theirs, &theirs.replace("token: t", "token: u"), BASE).unwrap(),
            Outcome::Conflicts(_)
        ));
        // They removed a document we did not touch: it goes.
        let out = merged(&theirs, &theirs.replace("app: db", "app: x"), BASE);
        assert_eq!(out, BASE.replace("app: db", "app: x"));
    }

    #[test]
    fn block_scalars_and_indentation_are_reindented() {
        let base = "kind: Secret\nmetadata:\n  name: x\nstringData:\n  a: \"1\"\n";
        let ours = "kind: Secret\nmetadata:\n  name: x\nstringData:\n  a: \"2\"\n";
        let theirs = "kind: Secret\nmetadata:\n    name: x\nstringData:\n    a: \"1\"\n    cert: |\n      l1\n      l2\n";
        let out = merged(base, ours, theirs);
        assert_eq!(
            out,
            "kind: Secret\nmetadata:\n  name: x\nstringData:\n  a: \"2\"\n  cert: |\n    l1\n    l2\n"
        );
    }

    #[test]
    fn added_on_both_sides_from_empty_base() {
        let ours = "kind: Secret\nmetadata:\n  name: x\nstringData:\n  a: \"1\"\n";
        let theirs = "kind: Secret\nmetadata:\n  name: x\nstringData:\n  b: \"2\"\n";
        let out = merged("", ours, theirs);
        assert_eq!(
            out,
            "kind: Secret\nmetadata:\n  name: x\nstringData:\n  a: \"1\"\n  b: \"2\"\n"
        );
    }
}
