//! The `sops:` block: reading it from any sops 3.x layout and writing it in the layout of
//! sops 3.10-3.12, indented like the document it ends.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::rules::CryptRule;
use crate::error::{Error, Kind, Result};
use crate::yaml::scalar::{double_quoted, plain_is_safe, single_quoted};
use crate::yaml::tree::{Mapping, Node};

/// The sops version whose metadata layout kseal writes (struct order, empty lists omitted).
pub const SOPS_FORMAT_VERSION: &str = "3.11.0";

/// One age recipient and the data key wrapped for it (an armored age file).
#[derive(Clone, PartialEq, Eq)]
pub struct AgeEntry {
    pub recipient: String,
    pub enc: String,
}

/// What a file's `sops:` block says.
#[derive(Clone)]
pub struct Metadata {
    pub age: Vec<AgeEntry>,
    pub lastmodified: String,
    pub mac: String,
    pub rule: CryptRule,
    pub mac_only_encrypted: bool,
    pub version: String,
    /// Non-age key sources that hold entries (pgp, kms, ...): kseal cannot use them.
    pub other_key_sources: Vec<String>,
    /// kseal's structural MAC (`kseal_mac`, a kseal extension that sops ignores and drops
    /// when it rewrites a file; see `sops::structural`).
    pub kseal_mac: Option<String>,
}

fn scalar_str<'a>(m: &'a Mapping, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Node::as_scalar).map(|s| &*s.value)
}

fn is_empty_list(node: Option<&Node>) -> bool {
    match node {
        None => true,
        Some(Node::Sequence(s)) => s.items.is_empty(),
        Some(n) => n
            .as_scalar()
            .is_some_and(|s| matches!(&*s.value, "" | "~" | "null" | "Null" | "NULL")),
    }
}

fn age_entries(node: Option<&Node>, out: &mut Vec<AgeEntry>) -> Result<()> {
    let Some(Node::Sequence(seq)) = node else {
        if is_empty_list(node) {
            return Ok(());
        }
        return Err(Error::format("the sops `age` entry is not a list"));
    };
    for item in &seq.items {
        let m = item
            .as_mapping()
            .ok_or_else(|| Error::format("an sops `age` entry is not a mapping"))?;
        let recipient = scalar_str(m, "recipient")
            .unwrap_or_default()
            .trim()
            .to_string();
        let enc = scalar_str(m, "enc")
            .ok_or_else(|| Error::format("an sops `age` entry has no `enc` field"))?
            .to_string();
        out.push(AgeEntry { recipient, enc });
    }
    Ok(())
}

const OTHER_SOURCES: [&str; 7] = [
    "pgp",
    "kms",
    "gcp_kms",
    "azure_kv",
    "hc_vault",
    "hckms",
    "hc_vault_transit",
];

impl Metadata {
    /// Reads the block from the mapping under a document's `sops` key.
    pub fn from_mapping(m: &Mapping) -> Result<Metadata> {
        let mut age = Vec::new();
        let mut other = Vec::new();
        match m.get("key_groups") {
            Some(Node::Sequence(groups)) if !groups.items.is_empty() => {
                if groups.items.len() > 1 {
                    return Err(Error::new(
                        Kind::Unsupported,
                        format!(
                            "the file splits its data key over {} key groups (Shamir secret sharing), which kseal does not support",
                            groups.items.len()
                        ),
                    )
                    .with_hint("decrypt it with sops, or re-encrypt it with a single key group"));
                }
                let g = groups.items[0]
                    .as_mapping()
                    .ok_or_else(|| Error::format("a sops key group is not a mapping"))?;
                age_entries(g.get("age"), &mut age)?;
                for k in OTHER_SOURCES {
                    if !is_empty_list(g.get(k)) {
                        other.push(k.to_string());
                    }
                }
            }
            _ => {
                age_entries(m.get("age"), &mut age)?;
                for k in OTHER_SOURCES {
                    if !is_empty_list(m.get(k)) {
                        other.push(k.to_string());
                    }
                }
            }
        }
        let lastmodified = scalar_str(m, "lastmodified")
            .ok_or_else(|| Error::format("the sops block has no `lastmodified`"))?
            .to_string();
        let mac = scalar_str(m, "mac").unwrap_or_default().to_string();
        let mut rule = None;
        for k in CryptRule::KEYS {
            if let Some(v) = scalar_str(m, k) {
                if rule.is_some() {
                    return Err(Error::format(
                        "the sops block stores more than one crypt rule",
                    ));
                }
                rule = Some(CryptRule::from_key(k, v)?);
            }
        }
        let mac_only_encrypted = matches!(
            scalar_str(m, "mac_only_encrypted"),
            Some("true" | "True" | "TRUE")
        );
        let version = scalar_str(m, "version").unwrap_or_default().to_string();
        if age.is_empty() && other.is_empty() {
            return Err(Error::format("the sops block lists no keys"));
        }
        Ok(Metadata {
            age,
            lastmodified,
            mac,
            rule: rule.unwrap_or_else(CryptRule::default_rule),
            mac_only_encrypted,
            version,
            other_key_sources: other,
            kseal_mac: scalar_str(m, "kseal_mac").map(str::to_string),
        })
    }

    /// The MAC's AAD: `lastmodified` parsed as RFC 3339 and formatted again as Go does
    /// (second precision, `Z` for UTC).
    pub fn mac_aad(&self) -> Result<String> {
        let t = OffsetDateTime::parse(self.lastmodified.trim(), &Rfc3339).map_err(|_| {
            Error::format("`lastmodified` in the sops block is not an RFC 3339 time")
        })?;
        Ok(format_go_rfc3339(t))
    }
}

/// Go's `time.RFC3339` layout: `2006-01-02T15:04:05Z07:00`.
pub fn format_go_rfc3339(t: OffsetDateTime) -> String {
    let off = t.offset();
    let date = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if off.is_utc() {
        format!("{date}Z")
    } else {
        let secs = off.whole_seconds();
        let sign = if secs < 0 { '-' } else { '+' };
        let a = secs.unsigned_abs();
        format!("{date}{sign}{:02}:{:02}", a / 3600, (a / 60) % 60)
    }
}

/// `lastmodified` for now: UTC, second precision.
pub fn now_lastmodified() -> String {
    format_go_rfc3339(OffsetDateTime::now_utc())
}

fn yaml_string(s: &str) -> String {
    if plain_is_safe(s) {
        s.to_string()
    } else {
        single_quoted(s).unwrap_or_else(|| double_quoted(s))
    }
}

/// Renders the block as sops 3.10-3.12 writes it, with `unit` spaces per level, the `sops`
/// key at column `col`, and `eol` line ends. The text ends with `eol`.
pub fn render(meta: &Metadata, col: usize, unit: usize, eol: &str) -> String {
    let pad = |n: usize| " ".repeat(n);
    let k1 = col + unit;
    let dash = col + 2 * unit;
    let item = dash + 2;
    let body = unit * ((item + unit) / unit);
    let mut out = String::with_capacity(512 + meta.age.len() * 480);
    out.push_str(&format!("{}sops:{eol}", pad(col)));
    if !meta.age.is_empty() {
        out.push_str(&format!("{}age:{eol}", pad(k1)));
        for a in &meta.age {
            out.push_str(&format!(
                "{}- recipient: {}{eol}",
                pad(dash),
                yaml_string(&a.recipient)
            ));
            out.push_str(&format!("{}enc: |{eol}", pad(item)));
            for line in a.enc.lines() {
                out.push_str(&format!("{}{}{eol}", pad(body), line));
            }
        }
    }
    out.push_str(&format!(
        "{}lastmodified: \"{}\"{eol}",
        pad(k1),
        meta.lastmodified
    ));
    out.push_str(&format!("{}mac: {}{eol}", pad(k1), meta.mac));
    let (rk, rv) = meta.rule.key_value();
    out.push_str(&format!("{}{}: {}{eol}", pad(k1), rk, yaml_string(rv)));
    if meta.mac_only_encrypted {
        out.push_str(&format!("{}mac_only_encrypted: true{eol}", pad(k1)));
    }
    out.push_str(&format!(
        "{}version: {}{eol}",
        pad(k1),
        yaml_string(&meta.version)
    ));
    // Last, so that the rest of the block is exactly what sops writes.
    if let Some(m) = &meta.kseal_mac {
        out.push_str(&format!("{}kseal_mac: {}{eol}", pad(k1), yaml_string(m)));
    }
    out
}

#[cfg(test)]
#[path = "metadata_tests.rs"]
mod metadata_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree::parse;

    fn meta_of(path: &str) -> Metadata {
        let text = std::fs::read_to_string(path).unwrap();
        let st = parse(&text).unwrap();
        let m = st.docs[0]
            .root_mapping()
            .unwrap()
            .get("sops")
            .unwrap()
            .as_mapping()
            .unwrap()
            .clone();
        Metadata::from_mapping(&m).unwrap()
    }

    #[test]
    fn reads_sops_39_layout() {
        let m = meta_of(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/interop/flux/age.yaml"
        ));
        assert_eq!(m.age.len(), 1);
        assert!(m.age[0].recipient.starts_with("age1l44x"));
        assert!(m.age[0]
            .enc
            .starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert_eq!(m.lastmodified, "2024-11-12T13:33:42Z");
        assert_eq!(m.mac_aad().unwrap(), "2024-11-12T13:33:42Z");
        assert_eq!(
            m.rule.key_value(),
            ("encrypted_regex", "^(data|stringData)$")
        );
        assert_eq!(m.version, "3.9.0");
        assert!(m.other_key_sources.is_empty());
    }

    #[test]
    fn render_matches_sops_layout_and_reads_back() {
        let m = meta_of(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/interop/metalkast/secret.enc.yaml"
        ));
        let text = render(&m, 0, 4, "\n");
        let original = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/interop/metalkast/secret.enc.yaml"
        ))
        .unwrap();
        // The 3.7 layout adds empty lists and `pgp: []`; everything else is identical.
        let expected: String = original[original.find("sops:").unwrap()..]
            .lines()
            .filter(|l| !l.ends_with(": []"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(text, expected);
        let st = parse(&text).unwrap();
        let back = Metadata::from_mapping(
            st.docs[0]
                .root_mapping()
                .unwrap()
                .get("sops")
                .unwrap()
                .as_mapping()
                .unwrap(),
        )
        .unwrap();
        assert!(back.age == m.age && back.mac == m.mac);
    }

    #[test]
    fn go_rfc3339_reformatting() {
        let t = OffsetDateTime::parse("2024-01-02T03:04:05.678+00:00", &Rfc3339).unwrap();
        assert_eq!(format_go_rfc3339(t), "2024-01-02T03:04:05Z");
        let t = OffsetDateTime::parse("2024-01-02T03:04:05-05:30", &Rfc3339).unwrap();
        assert_eq!(format_go_rfc3339(t), "2024-01-02T03:04:05-05:30");
    }
}
