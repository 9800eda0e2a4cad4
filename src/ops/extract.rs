//! sops's `--extract '["data"]["password"]'`: one value of a decrypted file, found by a sops
//! index path (`["key"]` for a mapping key, `[N]` for a sequence item), in the first document
//! as sops reads it.

use zeroize::Zeroizing;

use crate::error::{Error, Kind, Result};
use crate::yaml::tree::{self, Node};

/// One step of a sops index path.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Item(usize),
}

/// Parses `["data"]["password"]` or `["items"][0]`.
pub fn parse_path(path: &str) -> Result<Vec<Step>> {
    let bad = || {
        Error::new(
            Kind::Usage,
            format!("{path:?} is not a sops path: write it like [\"data\"][\"password\"]"),
        )
    };
    let mut steps = Vec::new();
    let mut rest = path.trim();
    while !rest.is_empty() {
        rest = rest.strip_prefix('[').ok_or_else(bad)?;
        if let Some(quoted) = rest.strip_prefix('"') {
            let (key, after) = quoted_key(quoted).ok_or_else(bad)?;
            steps.push(Step::Key(key));
            rest = after.strip_prefix(']').ok_or_else(bad)?;
        } else {
            let end = rest.find(']').ok_or_else(bad)?;
            let n = rest[..end].trim().parse().map_err(|_| bad())?;
            steps.push(Step::Item(n));
            rest = &rest[end + 1..];
        }
    }
    if steps.is_empty() {
        return Err(bad());
    }
    Ok(steps)
}

/// A key up to its closing quote (`\"` and `\\` escaped), and the text after the quote.
fn quoted_key(s: &str) -> Option<(String, &str)> {
    let mut key = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((key, &s[i + 1..])),
            '\\' => key.push(chars.next()?.1),
            c => key.push(c),
        }
    }
    None
}

/// The value at `path` in the first document of `plain`: a scalar's text, as sops prints it
/// (no line break added). Mappings and sequences are refused: kseal prints single values.
pub fn extract(plain: &str, path: &str) -> Result<Zeroizing<String>> {
    let steps = parse_path(path)?;
    let stream = tree::parse(plain)?;
    let missing = || Error::new(Kind::Usage, format!("the path {path} is not in the file"));
    let mut node = stream
        .docs
        .first()
        .and_then(|d| d.root.as_ref())
        .ok_or_else(missing)?;
    for step in &steps {
        node = match (step, resolve(node)) {
            (Step::Key(k), Node::Mapping(m)) => m.get(k).ok_or_else(missing)?,
            (Step::Item(i), Node::Sequence(s)) => s.items.get(*i).ok_or_else(missing)?,
            _ => return Err(missing()),
        };
    }
    match node.as_scalar() {
        Some(s) => Ok(Zeroizing::new(s.value.to_string())),
        None => Err(Error::new(
            Kind::Unsupported,
            format!("{path} is a mapping or a sequence: kseal extracts single values only"),
        )),
    }
}

fn resolve<'n, 'a>(node: &'n Node<'a>) -> &'n Node<'a> {
    match node {
        Node::Alias(target, ..) => resolve(target),
        n => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "kind: Secret\ndata:\n  password: cGFzcw==\nlist:\n  - a\n  - \"b\"\n";

    #[test]
    fn paths_find_values() {
        assert_eq!(
            extract(DOC, r#"["data"]["password"]"#).unwrap().as_str(),
            "cGFzcw=="
        );
        assert_eq!(extract(DOC, r#"["list"][1]"#).unwrap().as_str(), "b");
        assert_eq!(
            extract(DOC, r#"["data"]["nope"]"#).unwrap_err().kind,
            Kind::Usage
        );
        assert_eq!(
            extract(DOC, r#"["data"]"#).unwrap_err().kind,
            Kind::Unsupported
        );
    }

    #[test]
    fn bad_paths_are_usage_errors() {
        for p in ["data", "[data]", r#"["data""#, "", r#"["a"]x"#] {
            assert_eq!(parse_path(p).unwrap_err().kind, Kind::Usage, "{p}");
        }
        assert_eq!(
            parse_path(r#"["a\"b"][2]"#).unwrap(),
            vec![Step::Key("a\"b".into()), Step::Item(2)]
        );
    }
}
