//! `kseal get FILE KEY`: prints one value of one Secret of an encrypted file, decoded (the read
//! side of `kseal set`), after the file's MAC was verified. Nothing is added to the value's
//! bytes except a final line break when stdout is a terminal.

use std::io::IsTerminal;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use kseal::error::{Error, Kind, Result};
use kseal::secrets::{self, SecretAt};
use kseal::yaml::scalar::{self, Typed};
use kseal::yaml::tree::{self, Node};

use crate::cli::GetArgs;
use crate::fsio;

pub fn run(a: &GetArgs) -> Result<()> {
    // The MAC is verified here, before any value is looked at.
    let (name, d) = super::open_file(&a.file, &a.identity.files)?;
    if d.envelope.is_none() {
        // A plain file has no MAC: its values could be anyone's.
        return Err(Error::new(
            Kind::Refused,
            "the file is not encrypted (it has no `sops:` block)",
        )
        .in_file(&name)
        .with_hint(
            "kseal get reads encrypted files only; read a plain manifest with kubectl or yq",
        ));
    }
    let stream = tree::parse(&d.text).map_err(|e| e.in_file(&name))?;
    let secret = secrets::select(&stream, a.select.doc, a.select.name.as_deref())
        .map_err(|e| e.in_file(&name))?;
    let value = lookup(&secret, &a.key, a.raw).map_err(|e| e.in_doc(secret.doc).in_file(&name))?;
    let mut parts: Vec<&[u8]> = vec![&value];
    // A terminal gets a line break so the prompt does not run into the value; a pipe or a
    // file gets the bytes exactly (`$(kseal get ...)` and `> file` stay byte-exact).
    if std::io::stdout().is_terminal() && !value.ends_with(b"\n") {
        parts.push(b"\n");
    }
    fsio::write_stdout_parts(&parts)
}

/// The value of `key`: `stringData` text wins over `data` (as the API server merges them);
/// a `data` value is decoded from base64, or returned as stored with `raw`.
fn lookup(secret: &SecretAt, key: &str, raw: bool) -> Result<Zeroizing<Vec<u8>>> {
    let prefix = secret.path_prefix();
    let entry = |field: &str| {
        secret
            .map
            .get(field)
            .and_then(Node::as_mapping)
            .and_then(|m| m.get(key))
    };
    if let Some(v) = entry("stringData") {
        let path = format!("{prefix}stringData.{key}");
        if raw {
            return Err(Error::new(
                Kind::Usage,
                format!("{path} is stored as text, not base64: --raw applies to data keys"),
            )
            .with_hint("leave out --raw"));
        }
        let s = v
            .as_scalar()
            .ok_or_else(|| Error::format("the value is not a string").at_path(path.clone()))?;
        if is_null(s) {
            return Ok(Zeroizing::new(Vec::new()));
        }
        return Ok(Zeroizing::new(s.value.as_bytes().to_vec()));
    }
    if let Some(v) = entry("data") {
        let path = format!("{prefix}data.{key}");
        let s = v
            .as_scalar()
            .ok_or_else(|| Error::format("the value is not a string").at_path(path.clone()))?;
        if is_null(s) {
            return Ok(Zeroizing::new(Vec::new()));
        }
        // Kubernetes ignores line breaks in base64; so does the stored form printed here.
        let compact: Zeroizing<String> = Zeroizing::new(
            s.value
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect(),
        );
        if raw {
            return Ok(Zeroizing::new(compact.as_bytes().to_vec()));
        }
        let bytes = STANDARD.decode(compact.as_bytes()).map_err(|_| {
            Error::format("not valid base64")
                .at_path(path)
                .with_hint("--raw prints the stored text")
        })?;
        return Ok(Zeroizing::new(bytes));
    }
    let mut keys: Vec<String> = Vec::new();
    for field in ["data", "stringData"] {
        if let Some(m) = secret.map.get(field).and_then(Node::as_mapping) {
            keys.extend(
                m.entries
                    .iter()
                    .filter_map(|(k, _)| k.as_scalar().map(|s| format!("{field}.{}", s.value))),
            );
        }
    }
    let shown: String = key.chars().take(80).collect();
    let hint = if keys.is_empty() {
        "the Secret has no data or stringData keys".to_string()
    } else {
        format!("its keys: {}", keys.join(", "))
    };
    Err(Error::new(
        Kind::Usage,
        format!(
            "{} has no key `{shown}` in data or stringData",
            secret.describe()
        ),
    )
    .with_hint(hint))
}

fn is_null(s: &tree::Scalar) -> bool {
    matches!(
        scalar::resolve(&s.value, s.style, s.tag.as_deref()),
        Ok(Typed::Null)
    )
}
