//! A Secret's keys and decoded values, the way a Pod sees them (`envFrom`, a volume): `data`
//! decoded from base64, `stringData` as text and winning over `data`, like the API server.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secrets;
use crate::yaml::scalar::{self, Typed};
use crate::yaml::tree::{self, Node};

pub struct SecretEntries {
    /// `Secret name`, for messages.
    pub name: String,
    pub entries: Vec<(String, Zeroizing<Vec<u8>>)>,
}

/// A Kubernetes Secret key: `[-._a-zA-Z0-9]+`, and not `.` or `..` (it becomes a file name).
pub fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k != "."
        && k != ".."
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// A name the environment can hold: printable ASCII without `=` (what Kubernetes accepts).
pub fn valid_env_name(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'=')
}

/// The scalar values of a `data` or `stringData` mapping with their keys, leaving out nulls
/// (`key:` or `key: ~`), which Kubernetes treats as absent.
fn present_values<'a>(
    m: &'a tree::Mapping<'a>,
) -> impl Iterator<Item = (&'a str, &'a tree::Scalar<'a>)> + 'a {
    m.entries.iter().filter_map(|(k, v)| {
        let key = k.as_scalar().map(|s| &*s.value).unwrap_or("");
        let s = v.as_scalar()?;
        let null = matches!(
            scalar::resolve(&s.value, s.style, s.tag.as_deref()),
            Ok(Typed::Null)
        );
        (!null).then_some((key, s))
    })
}

/// The entries of one Secret of a plain manifest: the only one, the `doc`-th document
/// (1-based) or the one named `name`.
pub fn secret_entries(
    plain: &str,
    doc: Option<usize>,
    name: Option<&str>,
) -> Result<SecretEntries> {
    let stream = tree::parse(plain)?;
    let secret = secrets::select(&stream, doc, name)?;
    let (di, root, prefix) = (secret.doc, secret.map, secret.path_prefix());
    let mut entries: Vec<(String, Zeroizing<Vec<u8>>)> = Vec::new();
    let mut put = |k: &str, v: Zeroizing<Vec<u8>>| {
        if let Some(e) = entries.iter_mut().find(|(ek, _)| ek == k) {
            e.1 = v;
        } else {
            entries.push((k.to_string(), v));
        }
    };
    if let Some(m) = root.get("data").and_then(Node::as_mapping) {
        for (key, s) in present_values(m) {
            let compact: Zeroizing<String> = Zeroizing::new(
                s.value
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect(),
            );
            let bytes = STANDARD.decode(compact.as_bytes()).map_err(|_| {
                Error::format("not valid base64")
                    .at_path(format!("{prefix}data.{key}"))
                    .in_doc(di)
            })?;
            put(key, Zeroizing::new(bytes));
        }
    }
    if let Some(m) = root.get("stringData").and_then(Node::as_mapping) {
        for (key, s) in present_values(m) {
            put(key, Zeroizing::new(s.value.as_bytes().to_vec()));
        }
    }
    Ok(SecretEntries {
        name: match secret.name() {
            Some(n) => format!("Secret {n}"),
            None => "Secret".to_string(),
        },
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_string_data() {
        let s = "kind: Secret\nmetadata:\n  name: a\ndata:\n  user: YWRtaW4=\n  pw: eA==\nstringData:\n  pw: s3cr3t\n  port: 5432\n";
        let e = secret_entries(s, None, None).unwrap();
        let got: Vec<(String, String)> = e
            .entries
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8(v.to_vec()).unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("user".into(), "admin".into()),
                ("pw".into(), "s3cr3t".into()),
                ("port".into(), "5432".into())
            ]
        );
        assert!(valid_key("tls.crt") && !valid_key("../x") && !valid_key(".."));
        assert!(valid_env_name("A_B") && !valid_env_name("A=B"));
    }

    #[test]
    fn several_secrets_need_a_choice() {
        let s = "kind: Secret\nmetadata:\n  name: a\n---\nkind: Secret\nmetadata:\n  name: b\nstringData:\n  k: v\n";
        assert!(secret_entries(s, None, None).is_err());
        assert_eq!(secret_entries(s, None, Some("b")).unwrap().entries.len(), 1);
        assert_eq!(secret_entries(s, Some(2), None).unwrap().name, "Secret b");
    }
}
