//! sops's JSON layout: which streams are JSON documents, how sops types their values (every
//! number is a float), and writing a document, values and the `sops` object back the way sops
//! does (Go's `encoding/json` with tab indentation, strings HTML-escaped, Go number text).

use zeroize::Zeroizing;

use super::scalar::{Style, Typed};
use super::tree::{Document, Node, Scalar, Stream};
use crate::error::{Error, Kind, Result};

/// Whether a document is written as JSON: its root is a flow mapping opening with `{`.
pub fn is_json_doc(src: &str, doc: &Document) -> bool {
    doc.root_mapping()
        .is_some_and(|m| m.flow && src[m.start..].starts_with('{'))
}

/// Whether the whole stream is one JSON document (what sops's JSON store reads).
pub fn is_json_stream(src: &str, stream: &Stream) -> bool {
    stream.docs.len() == 1 && is_json_doc(src, &stream.docs[0])
}

/// How sops's JSON store types a value: strings, `true`/`false`, `null`, and every number as
/// a 64-bit float (sops 3.7-3.13.1 decode JSON numbers as floats).
pub fn typed(s: &Scalar) -> Result<Typed> {
    match s.style {
        Style::DoubleQuoted => Ok(Typed::Str(s.value.to_string())),
        Style::Plain => match &*s.value {
            "true" => Ok(Typed::Bool(true)),
            "false" => Ok(Typed::Bool(false)),
            "null" => Ok(Typed::Null),
            v if is_number(v) => v
                .parse::<f64>()
                .map(Typed::Float)
                .map_err(|_| not_json("a number out of range")),
            _ => Err(not_json(
                "a value that is not a JSON string, number, boolean or null",
            )),
        },
        _ => Err(not_json("a quoted or block YAML scalar")),
    }
}

fn not_json(what: &str) -> Error {
    Error::format(format!("the document starts like JSON but holds {what}"))
        .with_hint("write strict JSON, or the manifest as YAML")
}

/// JSON's number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn is_number(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let s = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    if b.get(i) == Some(&b'0') {
        i += 1;
    } else if !digits(&mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// A float as Go's `encoding/json` writes it: shortest round-trip digits, positional unless
/// the magnitude is below 1e-6 or at least 1e21 (`7`, `1000`, `0.5`, `1e+21`, `1e-7`).
pub fn number(f: f64) -> String {
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

/// How `quote` escapes beyond JSON's must (`"`, `\\` and the C0 controls, always written the
/// way Go's `encoding/json` writes them: `\b`, `\f`, `\n`, `\r`, `\t` short, the others as
/// `\u00XX`; U+2028 and U+2029 escaped as well, as Go always does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escape {
    /// `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`: Go's default (`SetEscapeHTML(true)`),
    /// which sops's JSON files have.
    pub html: bool,
    /// DEL, the C1 controls and the bidirectional overrides as `\uXXXX`: JSON allows them raw,
    /// but a terminal may act on them, and file and key names in kseal's reports are chosen
    /// by whoever wrote the repository.
    pub terminal: bool,
}

impl Escape {
    /// What sops writes (Go's `encoding/json` defaults).
    pub const GO: Escape = Escape {
        html: true,
        terminal: false,
    };
}

/// A JSON string literal of `s`, escaped as `e` says. The one JSON string escaper of kseal.
pub fn quote(s: &str, e: Escape) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20
                || matches!(c, '\u{2028}' | '\u{2029}')
                || (e.html && matches!(c, '<' | '>' | '&'))
                || (e.terminal && unsafe_on_terminal(c)) =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters a terminal may act on: every control character and the bidirectional
/// overrides and isolates.
fn unsafe_on_terminal(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A string as Go's `encoding/json` writes it (HTML-safe: `<`, `>`, `&` escaped; U+2028 and
/// U+2029 escaped; `\b`, `\f`, `\n`, `\r`, `\t` short; other controls as `\u00XX`): sops's
/// files, `quote` with `Escape::GO`.
pub fn string(s: &str) -> String {
    quote(s, Escape::GO)
}

/// The JSON text of a decrypted value (sops writes numbers, booleans and null bare).
pub fn value_text(t: &Typed) -> String {
    match t {
        Typed::Str(s) | Typed::Time(s) => string(s),
        Typed::Binary(b) => string(&String::from_utf8_lossy(b)),
        Typed::Null => "null".into(),
        Typed::Bool(b) => b.to_string(),
        Typed::Int(i) => i.to_string(),
        Typed::Float(f) => number(*f),
    }
}

/// The document re-written in sops's layout (tab indentation, one entry per line, a final
/// line break), so that what kseal writes for a JSON file is what sops writes for it.
pub fn canonical(doc: &Document) -> Result<Zeroizing<String>> {
    let root = doc
        .root
        .as_ref()
        .ok_or_else(|| Error::format("the JSON document is empty"))?;
    let mut out = Zeroizing::new(String::new());
    emit(root, 0, &mut out)?;
    out.push('\n');
    Ok(out)
}

fn indent(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push('\t');
    }
}

fn emit(node: &Node, depth: usize, out: &mut String) -> Result<()> {
    match node {
        Node::Scalar(s) => out.push_str(&value_text(&typed(s)?)),
        Node::Mapping(m) if m.entries.is_empty() => out.push_str("{}"),
        Node::Mapping(m) => {
            out.push('{');
            for (i, (k, v)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                let key = k
                    .as_scalar()
                    .filter(|k| k.style == Style::DoubleQuoted)
                    .ok_or_else(|| not_json("a key that is not a JSON string"))?;
                out.push_str(&string(&key.value));
                out.push_str(": ");
                emit(v, depth + 1, out)?;
            }
            indent(out, depth);
            out.push('}');
        }
        Node::Sequence(q) if q.items.is_empty() => out.push_str("[]"),
        Node::Sequence(q) => {
            out.push('[');
            for (i, v) in q.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                emit(v, depth + 1, out)?;
            }
            indent(out, depth);
            out.push(']');
        }
        Node::Alias(..) => return Err(not_json("a YAML alias")),
    }
    Ok(())
}

/// Refuses a flow-style YAML root that is not strict JSON (kseal writes JSON or block YAML).
pub fn require_json(doc: &Document, index: usize) -> Result<()> {
    canonical(doc).map(|_| ()).map_err(|e| {
        Error::new(Kind::Unsupported, e.message)
            .in_doc(index)
            .with_hint("write the manifest as strict JSON or as block YAML")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree::parse;

    #[test]
    fn numbers_as_go_writes_them() {
        for (f, want) in [
            (7.0, "7"),
            (1000.0, "1000"),
            (0.5, "0.5"),
            (-0.0, "-0"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (12345678901234567890.0, "12345678901234567000"),
            (1.2345678901234569e23, "1.2345678901234569e+23"),
            (1e100, "1e+100"),
        ] {
            assert_eq!(number(f), want, "{f}");
        }
        for ok in ["0", "-1", "1.5", "1e3", "1E-3", "-0.0e+1"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in ["01", "1.", ".5", "+1", "1e", "0x1", "NaN", ""] {
            assert!(!is_number(bad), "{bad}");
        }
    }

    #[test]
    fn escaping_options_add_to_go_rules() {
        let s = "<&>\u{8}\u{7f}\u{85}\u{202e}\u{2028}é";
        let report = Escape {
            html: false,
            terminal: true,
        };
        assert_eq!(quote(s, report), "\"<&>\\b\\u007f\\u0085\\u202e\\u2028é\"");
        assert_eq!(
            quote(s, Escape::GO),
            "\"\\u003c\\u0026\\u003e\\b\u{7f}\u{85}\u{202e}\\u2028é\""
        );
    }

    #[test]
    fn strings_as_go_writes_them() {
        assert_eq!(
            string("a<b>&c\u{2028}\u{1}\u{8}\u{c}\"\\é\t\u{7f}"),
            "\"a\\u003cb\\u003e\\u0026c\\u2028\\u0001\\b\\f\\\"\\\\é\\t\u{7f}\""
        );
    }

    /// What sops 3.11 wrote for the same input (tab indentation, numbers as floats).
    #[test]
    fn canonical_layout_is_sops_layout() {
        let src = r#"{"kind":"Secret","metadata":{"name":"a<b","labels":{},"f":[]},"spec":{"n":7,"big":1e3,"one":1.0,"arr":[1,"a",true,null,{"k":[]}]},"data":{"a":"YQ=="}}"#;
        let st = parse(src).unwrap();
        assert!(is_json_stream(src, &st));
        let want = "{\n\t\"kind\": \"Secret\",\n\t\"metadata\": {\n\t\t\"name\": \"a\\u003cb\",\n\t\t\"labels\": {},\n\t\t\"f\": []\n\t},\n\t\"spec\": {\n\t\t\"n\": 7,\n\t\t\"big\": 1000,\n\t\t\"one\": 1,\n\t\t\"arr\": [\n\t\t\t1,\n\t\t\t\"a\",\n\t\t\ttrue,\n\t\t\tnull,\n\t\t\t{\n\t\t\t\t\"k\": []\n\t\t\t}\n\t\t]\n\t},\n\t\"data\": {\n\t\t\"a\": \"YQ==\"\n\t}\n}\n";
        assert_eq!(&*canonical(&st.docs[0]).unwrap(), want);
        // Flow YAML is not JSON.
        let st = parse("{kind: Secret, data: {a: YQ==}}").unwrap();
        assert!(require_json(&st.docs[0], 0).is_err());
    }
}
