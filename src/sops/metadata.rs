//! The `sops:` block: reading it from any sops 3.x layout and writing it in the layout of
//! sops 3.10-3.12, indented like the document it ends.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::rules::CryptRule;
use crate::error::{Error, Result};
use crate::yaml::json;
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

/// Several key groups (sops's Shamir secret sharing): the data key is split into one share
/// per group, any `threshold` shares give it back, and each entry of a group wraps that
/// group's share (33 bytes) instead of the data key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyGroups {
    /// The groups in file order (at least two); a group's share has x = its index + 1 when
    /// sops or kseal wrote it, but the x coordinate travels inside the share.
    pub groups: Vec<Vec<AgeEntry>>,
    /// `shamir_threshold` (absent or 0 in the file: every group is needed).
    pub threshold: usize,
}

/// What a file's `sops:` block says.
#[derive(Clone)]
pub struct Metadata {
    /// The recipients of a file with one key group (`None` in `key_groups`): each entry wraps
    /// the data key. Empty when the file has several key groups.
    pub age: Vec<AgeEntry>,
    /// Several key groups (then `age` is empty).
    pub key_groups: Option<KeyGroups>,
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

/// One mapping of `key_groups`: its age entries, and the other key sources it names.
fn group_entries(g: &Node, age: &mut Vec<AgeEntry>, other: &mut Vec<String>) -> Result<()> {
    let g = g
        .as_mapping()
        .ok_or_else(|| Error::format("a sops key group is not a mapping"))?;
    age_entries(g.get("age"), age)?;
    for k in OTHER_SOURCES {
        if !is_empty_list(g.get(k)) && !other.iter().any(|o| o == k) {
            other.push(k.to_string());
        }
    }
    Ok(())
}

/// `shamir_threshold` of a file with `groups` key groups: absent or 0 means all of them (sops
/// writes the number whenever it splits a key).
fn threshold(m: &Mapping, groups: usize) -> Result<usize> {
    match scalar_str(m, "shamir_threshold").map(str::trim) {
        None | Some("" | "0" | "~" | "null") => Ok(groups),
        Some(v) => v.parse::<usize>().map_err(|_| {
            Error::format("`shamir_threshold` in the sops block is not a whole number")
        }),
    }
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
    /// Every envelope of the file: the plain list, then each key group's, in order.
    pub fn entries(&self) -> impl Iterator<Item = &AgeEntry> {
        let groups = self
            .key_groups
            .iter()
            .flat_map(|g| g.groups.iter().flatten());
        self.age.iter().chain(groups)
    }

    /// Reads the block from the mapping under a document's `sops` key.
    pub fn from_mapping(m: &Mapping) -> Result<Metadata> {
        let mut age = Vec::new();
        let mut other = Vec::new();
        let mut key_groups = None;
        match m.get("key_groups") {
            Some(Node::Sequence(groups)) if groups.items.len() > 1 => {
                let mut all = Vec::with_capacity(groups.items.len());
                for g in &groups.items {
                    let mut entries = Vec::new();
                    group_entries(g, &mut entries, &mut other)?;
                    all.push(entries);
                }
                key_groups = Some(KeyGroups {
                    threshold: threshold(m, all.len())?,
                    groups: all,
                });
            }
            Some(Node::Sequence(groups)) if groups.items.len() == 1 => {
                group_entries(&groups.items[0], &mut age, &mut other)?;
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
        if age.is_empty() && other.is_empty() && key_groups.is_none() {
            return Err(Error::format("the sops block lists no keys"));
        }
        Ok(Metadata {
            age,
            key_groups,
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

/// `shamir_threshold` and `key_groups` as sops writes them, the keys at column `k1`: each group
/// a mapping with `hc_vault: []` then its `age` list (deeper levels at the next multiple of
/// `unit`, as go-yaml indents them).
fn render_groups(out: &mut String, g: &KeyGroups, k1: usize, unit: usize, eol: &str) {
    let pad = |n: usize| " ".repeat(n);
    let next = |c: usize| unit * ((c + unit) / unit);
    let dash = k1 + unit;
    let keys = dash + 2;
    let inner = next(keys);
    let item = inner + 2;
    let body = next(item);
    out.push_str(&format!(
        "{}shamir_threshold: {}{eol}",
        pad(k1),
        g.threshold
    ));
    out.push_str(&format!("{}key_groups:{eol}", pad(k1)));
    for group in &g.groups {
        out.push_str(&format!("{}- hc_vault: []{eol}", pad(dash)));
        if group.is_empty() {
            out.push_str(&format!("{}age: []{eol}", pad(keys)));
            continue;
        }
        out.push_str(&format!("{}age:{eol}", pad(keys)));
        for a in group {
            out.push_str(&format!(
                "{}- recipient: {}{eol}",
                pad(inner),
                yaml_string(&a.recipient)
            ));
            out.push_str(&format!("{}enc: |{eol}", pad(item)));
            for line in a.enc.lines() {
                out.push_str(&format!("{}{}{eol}", pad(body), line));
            }
        }
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
    if let Some(g) = &meta.key_groups {
        render_groups(&mut out, g, k1, unit, eol);
    }
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

/// The `sops` entry as sops 3.10-3.12 writes it in a JSON file, for the end of the root
/// object: it starts with the `,` after the previous entry and ends before the root's `}`.
pub fn render_json(meta: &Metadata) -> String {
    let mut out = String::from(",\n\t\"sops\": {");
    let mut first = true;
    let mut field = |out: &mut String, name: &str, value: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str("\n\t\t");
        out.push_str(&json::string(name));
        out.push_str(": ");
        out.push_str(value);
    };
    if let Some(g) = &meta.key_groups {
        field(&mut out, "shamir_threshold", &g.threshold.to_string());
        let mut list = String::from("[");
        for (i, group) in g.groups.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            list.push_str("\n\t\t\t{\n\t\t\t\t\"hc_vault\": null,\n\t\t\t\t\"age\": ");
            list.push_str(&age_list(group, "\t\t\t\t"));
            list.push_str("\n\t\t\t}");
        }
        list.push_str("\n\t\t]");
        field(&mut out, "key_groups", &list);
    }
    if !meta.age.is_empty() {
        field(&mut out, "age", &age_list(&meta.age, "\t\t"));
    }
    field(&mut out, "lastmodified", &json::string(&meta.lastmodified));
    field(&mut out, "mac", &json::string(&meta.mac));
    let (rk, rv) = meta.rule.key_value();
    field(&mut out, rk, &json::string(rv));
    if meta.mac_only_encrypted {
        field(&mut out, "mac_only_encrypted", "true");
    }
    field(&mut out, "version", &json::string(&meta.version));
    if let Some(m) = &meta.kseal_mac {
        field(&mut out, "kseal_mac", &json::string(m));
    }
    out.push_str("\n\t}");
    out
}

/// A JSON list of age entries whose key stands at indentation `ind` (tabs, as sops writes).
fn age_list(entries: &[AgeEntry], ind: &str) -> String {
    if entries.is_empty() {
        return "[]".to_string();
    }
    let mut list = String::from("[");
    for (i, a) in entries.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        list.push_str(&format!(
            "\n{ind}\t{{\n{ind}\t\t\"recipient\": {},\n{ind}\t\t\"enc\": {}\n{ind}\t}}",
            json::string(&a.recipient),
            json::string(&a.enc)
        ));
    }
    list.push_str(&format!("\n{ind}]"));
    list
}

#[cfg(test)]
#[path = "metadata_tests.rs"]
mod metadata_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sops::test_support::interop;
    use crate::yaml::tree::parse;

    /// The `sops:` block of an interop fixture.
    fn meta_of(name: &str) -> Metadata {
        let text = interop(name);
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
        let m = meta_of("flux/age.yaml");
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
        let m = meta_of("metalkast/secret.enc.yaml");
        let text = render(&m, 0, 4, "\n");
        let original = interop("metalkast/secret.enc.yaml");
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
