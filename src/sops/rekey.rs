//! Changing who can open a file: re-wrapping its data key for a new recipient set (values, MAC
//! and `lastmodified` untouched), rotating the data key (every value sealed again), and what a
//! file's envelope says without opening it, for `kseal status`.
//!
//! Like the rest of the library this is bytes in, bytes out: the caller unwraps and wraps data
//! keys (the `keys` module) and decides where the recipients come from (`.sops.yaml`, flags).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::file::{self, DecryptOptions, EncryptSettings, EnvelopePolicy, KeyOpener};

/// Re-keying reads and checks plaintext; it never re-encrypts with the old IVs.
const PLAIN: DecryptOptions = DecryptOptions {
    ignore_mac: false,
    plain_only: true,
    policy: None,
    require_structural_mac: false,
};

/// `PLAIN` under the caller's policy.
fn plain(policy: Option<&'static dyn EnvelopePolicy>) -> DecryptOptions {
    DecryptOptions { policy, ..PLAIN }
}
use super::metadata::{self, AgeEntry, KeyGroups, Metadata};
use crate::error::{Error, Kind, Reason, Result};
use crate::secret::DataKey;
use crate::yaml::json;
use crate::yaml::splice::{self, Edit};
use crate::yaml::tree::{self, Document, Node, Stream};

/// The `sops:` metadata of a file, read without opening anything (`None`: a plain file).
pub fn inspect(src: &str) -> Result<Option<Metadata>> {
    inspect_stream(&tree::parse(src)?)
}

/// `inspect` for a parsed file: the block of the first document that carries one.
pub fn inspect_stream(stream: &Stream) -> Result<Option<Metadata>> {
    for (i, doc) in stream.docs.iter().enumerate() {
        let Some((_, node)) = doc.root_mapping().and_then(|m| m.entry("sops")) else {
            continue;
        };
        let m = node
            .as_mapping()
            .ok_or_else(|| Error::format("the `sops` entry is not a mapping").in_doc(i))?;
        return Metadata::from_mapping(m).map(Some).map_err(|e| e.in_doc(i));
    }
    Ok(None)
}

/// The form in which two recipient strings are compared: an SSH key without its comment, an
/// age recipient in lower case (Bech32 is case-insensitive). sops compares the raw strings;
/// kseal does not re-wrap a file because a key's comment changed in `.sops.yaml`.
pub fn recipient_id(s: &str) -> String {
    let t = s.trim();
    if t.starts_with("ssh-") {
        t.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    } else if t.len() > 4 && t[..4].eq_ignore_ascii_case("age1") {
        t.to_ascii_lowercase()
    } else {
        t.to_string()
    }
}

/// How a file's recipients differ from the wanted set (by `recipient_id`, in the order given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientDiff {
    /// Wanted recipients the file is not wrapped for.
    pub added: Vec<String>,
    /// Recipients of the file that are no longer wanted: they hold the current data key.
    pub removed: Vec<String>,
}

impl RecipientDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

pub fn diff_recipients(current: &[String], wanted: &[String]) -> RecipientDiff {
    let cur: Vec<String> = current.iter().map(|r| recipient_id(r)).collect();
    let want: Vec<String> = wanted.iter().map(|r| recipient_id(r)).collect();
    let mut diff = RecipientDiff::default();
    let mut seen = Vec::new();
    for (r, id) in wanted.iter().zip(&want) {
        if !cur.contains(id) && !seen.contains(id) {
            diff.added.push(r.trim().to_string());
            seen.push(id.clone());
        }
    }
    for (r, id) in current.iter().zip(&cur) {
        if !want.contains(id) && !seen.contains(id) {
            diff.removed.push(r.trim().to_string());
            seen.push(id.clone());
        }
    }
    diff
}

/// How a file's envelope differs from what its `.sops.yaml` rule wants: the recipients, and
/// the crypt rule with `mac_only_encrypted` (someone who can push may have changed either;
/// `status` shows it, `status --fail-stale` fails on it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvelopeDiff {
    pub recipients: RecipientDiff,
    /// How the stored crypt rule or `mac_only_encrypted` differs, for people.
    pub rule: Option<String>,
}

impl EnvelopeDiff {
    pub fn is_empty(&self) -> bool {
        self.recipients.is_empty() && self.rule.is_none()
    }
}

/// Compares a file's `sops:` block with the recipients, crypt rule and `mac_only_encrypted`
/// its rule wants.
pub fn compare_with_rule(
    meta: &Metadata,
    wanted_recipients: &[String],
    wanted_rule: &super::rules::CryptRule,
    wanted_mac_only_encrypted: bool,
) -> EnvelopeDiff {
    // Every recipient of every key group (the groups themselves: `keygroups::compare`).
    let current: Vec<String> = meta.entries().map(|a| a.recipient.clone()).collect();
    let recipients = diff_recipients(&current, wanted_recipients);
    let (sk, sv) = meta.rule.key_value();
    let (wk, wv) = wanted_rule.key_value();
    let rule = if (sk, sv) != (wk, wv) {
        Some(format!(
            "the stored crypt rule is `{sk}: {sv}`, .sops.yaml says `{wk}: {wv}`"
        ))
    } else if meta.mac_only_encrypted != wanted_mac_only_encrypted {
        Some(format!(
            "the file stores mac_only_encrypted: {}, .sops.yaml says {}",
            meta.mac_only_encrypted, wanted_mac_only_encrypted
        ))
    } else {
        None
    };
    EnvelopeDiff { recipients, rule }
}

/// A data key wrapped for a file: one entry per recipient (one key group), or, with several key
/// groups, each group's share wrapped for its recipients (`age` then empty).
#[derive(Clone, Default)]
pub struct Wrapped {
    pub age: Vec<AgeEntry>,
    pub key_groups: Option<KeyGroups>,
}

impl Wrapped {
    fn is_empty(&self) -> bool {
        self.age.is_empty() && self.key_groups.is_none()
    }
}

impl From<Vec<AgeEntry>> for Wrapped {
    fn from(age: Vec<AgeEntry>) -> Self {
        Wrapped {
            age,
            key_groups: None,
        }
    }
}

fn refuse_foreign_keys(meta: &Metadata) -> Result<()> {
    if meta.other_key_sources.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        Kind::Unsupported,
        format!(
            "the data key is also wrapped for {} keys, which kseal cannot re-wrap or keep",
            meta.other_key_sources.join(", ")
        ),
    )
    .with_hint("change the recipients of this file with `sops updatekeys` or `sops rotate`"))
}

fn no_recipients() -> Error {
    Error::new(
        Kind::Config,
        "no recipient left: the file would open for nobody",
    )
}

/// Re-wraps a file's data key: every `sops:` block gets `wrapped` as its recipients (or key
/// groups), while the values, the MAC, `lastmodified`, the crypt rule and the version stay byte
/// for byte (what `sops updatekeys` does). `key` must be the file's data key and `wrapped` that
/// key wrapped for each new recipient (or split into new shares, one per group).
///
/// The file must decrypt with `key` and its MAC verify, before and after: a file that was
/// tampered with is not re-wrapped, and the result is checked to open to the same plaintext.
pub fn rewrap(
    src: &str,
    key: &DataKey,
    wrapped: impl Into<Wrapped>,
    policy: Option<&'static dyn EnvelopePolicy>,
) -> Result<String> {
    let wrapped = wrapped.into();
    if wrapped.is_empty() {
        return Err(no_recipients());
    }
    let before = file::decrypt(src, key, &plain(policy))?;
    let Some(env) = before.envelope.as_ref() else {
        return Err(not_encrypted());
    };
    refuse_foreign_keys(&env.meta)?;
    let mut meta = env.meta.clone();
    meta.age = wrapped.age;
    meta.key_groups = wrapped.key_groups;
    // The recipients are in the structural MAC: it is computed again (and added to files
    // that had none, such as those sops wrote).
    meta.kseal_mac = Some(super::structural::PLACEHOLDER.to_string());
    let stream = tree::parse(src)?;
    let eol = splice::eol_of(src);
    let mut edits = Vec::new();
    for (i, doc) in stream.docs.iter().enumerate() {
        if let Some(edit) = replace_block(src, doc, &meta, eol).map_err(|e| e.in_doc(i))? {
            edits.push(edit);
        }
    }
    let out = splice::apply(src, edits)?.to_string();
    let out = super::structural::seal_text(&out, key)?;
    if let Some(policy) = policy {
        policy.check_write(&tree::parse(&out)?, &env.docs, &meta)?;
    }

    let after = file::decrypt(&out, key, &PLAIN).map_err(|e| {
        Error::new(
            Kind::Internal,
            format!(
                "the re-wrapped file does not verify ({}); nothing was written",
                e.message
            ),
        )
    })?;
    let same = after.envelope.as_ref().is_some_and(|a| {
        a.meta.age == meta.age
            && a.meta.key_groups == meta.key_groups
            && a.meta.mac == meta.mac
            && a.meta.lastmodified == meta.lastmodified
            && a.docs == env.docs
            && a.structural
    }) && after.text.as_str() == before.text.as_str();
    if !same {
        return Err(Error::new(
            Kind::Internal,
            "the re-wrapped file differs from the original in more than its recipients; nothing was written",
        ));
    }
    Ok(out)
}

/// The edit that replaces a document's `sops:` block by `meta` rendered in kseal's layout,
/// with the block's own indentation step (`None`: the document has no block).
fn replace_block(src: &str, doc: &Document, meta: &Metadata, eol: &str) -> Result<Option<Edit>> {
    let Some(root) = doc.root_mapping() else {
        return Ok(None);
    };
    let Some(idx) = root
        .entries
        .iter()
        .position(|(k, _)| k.as_scalar().is_some_and(|s| s.value == "sops"))
    else {
        return Ok(None);
    };
    if root.flow {
        return Err(Error::new(
            Kind::Unsupported,
            "changing the recipients of JSON or flow-style files is not supported yet",
        )
        .with_hint("use `sops updatekeys` or `sops rotate` for this file"));
    }
    let unit = match &root.entries[idx].1 {
        Node::Mapping(m) if !m.flow && m.col > root.col => m.col - root.col,
        _ => 2,
    };
    let removal = splice::remove_entry(src, root, idx);
    let mut block = metadata::render(meta, root.col, unit, eol);
    if !src[..removal.end].ends_with('\n') {
        // The block ended the file without a line break: keep it that way.
        block.truncate(block.trim_end_matches(['\n', '\r']).len());
    }
    if removal.start != splice::start_of_line(src, removal.start) {
        // The key shares its line with something before it (`--- sops:`): no indentation.
        block = block.trim_start_matches(' ').to_string();
    }
    Ok(Some(Edit::new(removal.start, removal.end, block)))
}

fn not_encrypted() -> Error {
    Error::new(
        Kind::Refused,
        "the file is not encrypted (it has no `sops:` block)",
    )
    .with_reason(Reason::NotEncrypted)
}

/// Rotates a file's data key: decrypts it with `opener` (MAC verified), then seals every
/// value again under `new_key` (fresh IVs), wrapped as `wrapped` says (recipients or key
/// groups), with `lastmodified` and a new MAC. The crypt rule, `mac_only_encrypted`, the
/// version, the documents inside the envelope and every clear byte stay. The result is checked
/// to open to the same plaintext.
pub fn rotate(
    src: &str,
    opener: &dyn KeyOpener,
    new_key: &DataKey,
    wrapped: impl Into<Wrapped>,
    lastmodified: String,
    policy: Option<&'static dyn EnvelopePolicy>,
) -> Result<String> {
    let wrapped = wrapped.into();
    if wrapped.is_empty() {
        return Err(no_recipients());
    }
    let before = file::decrypt(src, opener, &plain(policy))?;
    let Some(env) = before.envelope.as_ref() else {
        return Err(not_encrypted());
    };
    refuse_foreign_keys(&env.meta)?;
    let parsed = tree::parse(&before.text)?;
    // A JSON file is written in sops's layout, whatever its layout was (as `encrypt` writes
    // it): that text is what is sealed again and what the result must decrypt to.
    let canonical = match json::is_json_stream(&before.text, &parsed) {
        true => Some(json::canonical(&parsed.docs[0])?).filter(|c| **c != *before.text),
        false => None,
    };
    let (text, stream): (&str, Stream) = match canonical.as_deref() {
        Some(c) => (c, tree::parse(c)?),
        None => (&before.text, parsed),
    };
    if stream.docs.len() != env.doc_count {
        return Err(Error::new(
            Kind::Internal,
            "the decrypted file has a different number of documents; nothing was written",
        ));
    }
    // The same documents as before go into the new envelope, found by position.
    let select = |d: &Document| {
        stream
            .docs
            .iter()
            .position(|x| std::ptr::eq(x, d))
            .is_some_and(|i| env.docs.contains(&i))
    };
    let settings = EncryptSettings {
        key_groups: wrapped.key_groups,
        rule: env.meta.rule.clone(),
        mac_only_encrypted: env.meta.mac_only_encrypted,
        key: new_key,
        age: wrapped.age,
        lastmodified,
        version: env.meta.version.clone(),
        stash: None,
        policy,
    };
    let out = file::encrypt_checked(text, &stream, &settings, &select)?;
    let after = file::decrypt(&out, new_key, &PLAIN)?;
    if !same_content(&after, &env.docs, text) {
        return Err(Error::new(
            Kind::Internal,
            "the rotated file would not decrypt to the same content; nothing was written",
        ));
    }
    Ok(out)
}

/// Whether a rotated file opened (`after`) with the same documents in its envelope and the
/// same text as the file it replaces.
fn same_content(after: &file::Decrypted, docs: &[usize], text: &str) -> bool {
    after.envelope.as_ref().is_some_and(|a| a.docs == docs) && after.text.as_str() == text
}

/// When the file was last encrypted (its `lastmodified`).
pub fn modified_at(meta: &Metadata) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(meta.lastmodified.trim(), &Rfc3339)
        .map_err(|_| Error::format("`lastmodified` in the sops block is not an RFC 3339 time"))
}

/// Parses a duration for `--max-age`: a sequence of numbers with units `w` (weeks), `d`,
/// `h`, `m`, `s`, like `90d`, `12h`, `30m`, `1d12h`. Returns seconds.
pub fn parse_duration(s: &str) -> Result<u64> {
    let bad = || {
        Error::new(
            Kind::Usage,
            format!("invalid duration `{s}`: expected a number and a unit (w, d, h, m, s), like 90d, 12h or 30m"),
        )
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            'w' => 7 * 86_400,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// A duration for people: the largest whole unit and, below ten of it, the next one
/// (`400d`, `3d 4h`, `12h`, `5m`, `40s`).
pub fn format_duration(secs: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    for (i, (size, name)) in UNITS.iter().enumerate() {
        if secs >= *size {
            let n = secs / size;
            let rest = secs % size;
            if n < 10 && i + 1 < UNITS.len() {
                let (next, next_name) = UNITS[i + 1];
                if rest / next > 0 {
                    return format!("{n}{name} {}{next_name}", rest / next);
                }
            }
            return format!("{n}{name}");
        }
    }
    "0s".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sops::rules::CryptRule;
    use crate::sops::test_support::{enc_tokens, interop, key_hex};

    const SRC: &str = "# head\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\ndata:\n  password: czNjcjN0\nstringData:\n  user: admin\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n";

    fn entry(r: &str) -> AgeEntry {
        // The envelope is opaque to this module: any text stands for a wrapped key.
        AgeEntry {
            recipient: r.into(),
            enc: format!(
                "-----BEGIN AGE ENCRYPTED FILE-----\n{}\n-----END AGE ENCRYPTED FILE-----\n",
                r.len()
            ),
        }
    }

    fn encrypted(key: &DataKey, unit_src: &str) -> String {
        let settings = EncryptSettings {
            key_groups: None,
            rule: CryptRule::kubernetes(),
            mac_only_encrypted: false,
            key,
            age: vec![entry("age1old"), entry("age1kept")],
            lastmodified: "2024-01-02T03:04:05Z".into(),
            version: "3.11.0".into(),
            stash: None,
            policy: None,
        };
        file::encrypt(unit_src, &settings, &|d| {
            d.root_mapping().and_then(|m| m.get_str("kind")) == Some("Secret")
        })
        .unwrap()
    }

    #[test]
    fn rewrap_changes_only_the_recipients() {
        let key = DataKey::generate().unwrap();
        let src = encrypted(&key, SRC);
        let out = rewrap(&src, &key, vec![entry("age1kept"), entry("age1new")], None).unwrap();
        assert_eq!(enc_tokens(&out), enc_tokens(&src));
        let meta = inspect(&out).unwrap().unwrap();
        let old = inspect(&src).unwrap().unwrap();
        assert_eq!(meta.mac, old.mac);
        assert_eq!(meta.lastmodified, "2024-01-02T03:04:05Z");
        let recipients: Vec<&str> = meta.age.iter().map(|a| a.recipient.as_str()).collect();
        assert_eq!(recipients, ["age1kept", "age1new"]);
        // Everything before the block is byte for byte the same; the ConfigMap too.
        let cut = src.find("sops:").unwrap();
        assert_eq!(&out[..cut], &src[..cut]);
        assert!(out.ends_with("kind: ConfigMap\ndata:\n  a: b\n"));
        let plain = file::decrypt(&out, &key, &DecryptOptions::default()).unwrap();
        assert_eq!(plain.text.as_str(), SRC);
        // Nobody left, or the wrong key: refused.
        assert_eq!(
            rewrap(&src, &key, vec![], None).unwrap_err().kind,
            Kind::Config
        );
        let other = DataKey::generate().unwrap();
        assert_eq!(
            rewrap(&src, &other, vec![entry("a")], None)
                .unwrap_err()
                .kind,
            Kind::Integrity
        );
        // A plain file.
        assert_eq!(
            rewrap(SRC, &key, vec![entry("a")], None).unwrap_err().kind,
            Kind::Refused
        );
    }

    /// The re-wrapped file is read back before it is returned: recipients that would not
    /// read back as given (here an envelope without its final line break, which a YAML block
    /// scalar cannot keep) are refused, nothing is returned.
    #[test]
    fn rewrap_refuses_recipients_that_do_not_read_back() {
        let key = DataKey::generate().unwrap();
        let src = encrypted(&key, SRC);
        let mut odd = entry("age1odd");
        odd.enc = odd.enc.trim_end().to_string();
        let e = rewrap(&src, &key, vec![entry("age1kept"), odd], None).unwrap_err();
        assert_eq!(e.kind, Kind::Internal);
        assert_eq!(
            e.message,
            "the re-wrapped file differs from the original in more than its recipients; \
             nothing was written"
        );
    }

    #[test]
    fn rewrap_keeps_four_space_blocks_and_a_missing_final_break() {
        let key = DataKey::generate().unwrap();
        let src = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: x\ndata:\n    k: dg==";
        let enc = encrypted(&key, src);
        assert!(enc.contains("\nsops:\n    age:\n"), "{enc}");
        let enc = enc.trim_end().to_string();
        let out = rewrap(&enc, &key, vec![entry("age1z")], None).unwrap();
        assert!(!out.ends_with('\n'));
        assert!(
            out.contains("\nsops:\n    age:\n        - recipient: age1z\n"),
            "{out}"
        );
        let plain = file::decrypt(&out, &key, &DecryptOptions::default()).unwrap();
        assert_eq!(plain.text.as_str(), src);
    }

    /// The new block is indented as the old one was, relative to its own document's root,
    /// wherever that root starts.
    #[test]
    fn rewrap_indents_relative_to_an_indented_root() {
        let key = DataKey::generate().unwrap();
        let src = "  apiVersion: v1\n  kind: Secret\n  data:\n      k: dg==\n";
        let enc = encrypted(&key, src);
        assert!(enc.contains("\n  sops:\n      age:\n"), "{enc}");
        let out = rewrap(&enc, &key, vec![entry("age1z")], None).unwrap();
        assert!(
            out.contains("\n  sops:\n      age:\n          - recipient: age1z\n"),
            "{out}"
        );
        let plain = file::decrypt(&out, &key, &DecryptOptions::default()).unwrap();
        assert_eq!(plain.text.as_str(), src);
    }

    #[test]
    fn rewrap_of_a_flow_block_writes_a_block_with_two_spaces() {
        let key = DataKey::generate().unwrap();
        let enc = encrypted(&key, SRC);
        let cut = enc.find("sops:").unwrap();
        // The same `sops:` block in flow style (JSON), as sops would have written it without
        // kseal's field: a flow mapping's column says nothing about the block's indentation.
        let mut meta = inspect(&enc).unwrap().unwrap();
        meta.kseal_mac = None;
        let json = metadata::render_json(&meta);
        let flow: Vec<&str> = json.trim_start_matches(',').split_whitespace().collect();
        let src = format!("{}{}\n", &enc[..cut], flow.join(" "));
        assert!(src.contains("\n\"sops\": {"), "{src}");
        assert!(file::decrypt(&src, &key, &DecryptOptions::default()).is_ok());
        let out = rewrap(&src, &key, vec![entry("age1z")], None).unwrap();
        assert!(
            out.contains("\nsops:\n  age:\n    - recipient: age1z\n"),
            "{out}"
        );
    }

    /// The re-wrapped file is read back before it is returned: a wrapped key that the block
    /// cannot carry as given (here without its final line break, which a YAML literal block
    /// adds back) is refused, not written as another key than the caller's.
    #[test]
    fn rewrap_refuses_a_block_that_does_not_read_back_as_given() {
        let key = DataKey::generate().unwrap();
        let src = encrypted(&key, SRC);
        let mut bare = entry("age1new");
        bare.enc.truncate(bare.enc.trim_end().len());
        let e = rewrap(&src, &key, vec![entry("age1kept"), bare], None).unwrap_err();
        assert_eq!(e.kind, Kind::Internal);
        assert!(
            e.message.contains("more than its recipients"),
            "{}",
            e.message
        );
    }

    #[test]
    fn rewrap_of_a_real_sops_file() {
        let src = interop("metalkast/four-secrets.enc.yaml");
        let key = key_hex("ee6c280fb84962220e51b1a7b9a59c63016c38466d65758af6dabda08741fa39");
        let out = rewrap(&src, &key, vec![entry("age1x"), entry("age1y")], None).unwrap();
        assert_eq!(enc_tokens(&out), enc_tokens(&src));
        assert_eq!(out.matches("- recipient: age1x").count(), 4);
    }

    #[test]
    fn rotate_seals_everything_under_a_new_key() {
        let key = DataKey::generate().unwrap();
        let src = encrypted(&key, SRC);
        let new_key = DataKey::generate().unwrap();
        let out = rotate(
            &src,
            &key,
            &new_key,
            vec![entry("age1kept")],
            "2025-05-06T07:08:09Z".into(),
            None,
        )
        .unwrap();
        let (a, b) = (enc_tokens(&src), enc_tokens(&out));
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x != y));
        assert!(file::decrypt(&out, &key, &DecryptOptions::default()).is_err());
        let plain = file::decrypt(&out, &new_key, &DecryptOptions::default()).unwrap();
        assert_eq!(plain.text.as_str(), SRC);
        let meta = inspect(&out).unwrap().unwrap();
        assert_eq!(meta.lastmodified, "2025-05-06T07:08:09Z");
        assert_eq!(meta.age.len(), 1);
        assert!(out.contains("kind: ConfigMap\ndata:\n  a: b\n"));
        // sops files envelope every document: so does the rotated one.
        let sops = interop("sops/example.yaml");
        let old = key_hex("9ac088cf7029981341457c39dd56dde54600dfbce9b5ede23aa65c418900ab67");
        let out = rotate(
            &sops,
            &old,
            &new_key,
            vec![entry("a")],
            "2025-01-01T00:00:00Z".into(),
            None,
        )
        .unwrap();
        let before = file::decrypt(&sops, &old, &DecryptOptions::default()).unwrap();
        let after = file::decrypt(&out, &new_key, &DecryptOptions::default()).unwrap();
        assert_eq!(before.text.as_str(), after.text.as_str());
    }

    /// A JSON file in another layout than sops's (reformatted by `jq`, say) is rotated into
    /// sops's layout, as `encrypt` writes JSON, with the same content.
    #[test]
    fn rotate_of_a_reformatted_json_file() {
        let key = DataKey::generate().unwrap();
        let plain = "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"data\": {\"a\": \"dg==\"}}\n";
        let st = tree::parse(plain).unwrap();
        let settings = EncryptSettings {
            age: vec![entry("age1old")],
            ..crate::sops::test_support::test_settings(&key)
        };
        let sops_layout = file::encrypt_checked(plain, &st, &settings, &|_| true).unwrap();
        assert!(
            sops_layout.starts_with("{\n\t\"apiVersion\": \"v1\",\n"),
            "{sops_layout}"
        );
        // Two spaces instead of tabs.
        let src = sops_layout.replace('\t', "  ");
        let before = file::decrypt(&src, &key, &DecryptOptions::default()).unwrap();
        assert!(before
            .text
            .contains("\n  \"data\": {\n    \"a\": \"dg==\"\n"));
        let new_key = DataKey::generate().unwrap();
        let out = rotate(
            &src,
            &key,
            &new_key,
            vec![entry("age1new")],
            "2025-05-06T07:08:09Z".into(),
            None,
        )
        .unwrap();
        let after = file::decrypt(&out, &new_key, &DecryptOptions::default()).unwrap();
        assert_eq!(
            after.text.as_str(),
            "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Secret\",\n\t\"data\": {\n\t\t\"a\": \"dg==\"\n\t}\n}\n"
        );
        assert!(out.contains("\n\t\t\"a\": \"ENC[AES256_GCM,"), "{out}");
    }

    /// The last check of `rotate`: the rotated file must hold the same documents in its
    /// envelope and open to the same text; either difference is refused.
    #[test]
    fn a_rotation_must_keep_the_documents_and_the_text() {
        let key = DataKey::generate().unwrap();
        let after = file::decrypt(&encrypted(&key, SRC), &key, &PLAIN).unwrap();
        assert_eq!(after.envelope.as_ref().unwrap().docs, [0]);
        assert!(same_content(&after, &[0], SRC));
        assert!(!same_content(&after, &[0, 1], SRC), "another envelope");
        assert!(
            !same_content(&after, &[0], &SRC.replace("admin", "root")),
            "another text"
        );
        assert!(!same_content(&after, &[1], "a: b\n"), "both");
        let plain = file::decrypt(SRC, &key, &PLAIN).unwrap();
        assert!(plain.envelope.is_none());
        assert!(!same_content(&plain, &[], SRC), "no envelope at all");
    }

    /// A caller policy that refuses on read or on write (`EnvelopePolicy`).
    struct Refuse {
        read: bool,
    }

    impl EnvelopePolicy for Refuse {
        fn check_outside(&self, _: &Stream, _: &[usize]) -> Result<()> {
            Ok(())
        }
        fn check_read(&self, _: &Stream, _: &[usize], _: &Metadata) -> Result<Vec<String>> {
            match self.read {
                true => Err(Error::new(Kind::Refused, "policy refuses to read")),
                false => Ok(Vec::new()),
            }
        }
        fn check_write(&self, _: &Stream, _: &[usize], _: &Metadata) -> Result<()> {
            Err(Error::new(Kind::Refused, "policy refuses to write"))
        }
    }

    static ON_READ: Refuse = Refuse { read: true };
    static ON_WRITE: Refuse = Refuse { read: false };

    #[test]
    fn rewrap_and_rotate_apply_the_callers_policy_before_and_after() {
        let key = DataKey::generate().unwrap();
        let src = encrypted(&key, SRC);
        let new_key = DataKey::generate().unwrap();
        for (policy, message) in [
            (&ON_READ, "policy refuses to read"),
            (&ON_WRITE, "policy refuses to write"),
        ] {
            let policy: &'static dyn EnvelopePolicy = policy;
            let e = rewrap(&src, &key, vec![entry("age1new")], Some(policy)).unwrap_err();
            assert_eq!(e.message, message);
            let e = rotate(
                &src,
                &key,
                &new_key,
                vec![entry("age1new")],
                "2025-05-06T07:08:09Z".into(),
                Some(policy),
            )
            .unwrap_err();
            assert_eq!(e.message, message);
        }
    }

    #[test]
    fn diff_and_ids() {
        let cur = vec![
            "age1AAA".to_string(),
            "ssh-ed25519 AAAAkey old-comment".to_string(),
            "age1gone".to_string(),
        ];
        let want = vec![
            "ssh-ed25519 AAAAkey new-comment".to_string(),
            "age1aaa".to_string(),
            "age1new".to_string(),
            "age1new".to_string(),
        ];
        let d = diff_recipients(&cur, &want);
        assert_eq!(d.added, ["age1new"]);
        assert_eq!(d.removed, ["age1gone"]);
        assert!(diff_recipients(&want[..2], &cur[..2]).is_empty());
    }

    #[test]
    fn recipient_ids_normalise_only_what_compares_equal() {
        // Bech32 is case-insensitive: an age recipient in capitals is the same recipient.
        assert_eq!(recipient_id("  AGE1QXYZ \n"), "age1qxyz");
        assert_eq!(recipient_id("Age1Tag1Q"), "age1tag1q");
        // An SSH key without its comment.
        assert_eq!(
            recipient_id("ssh-ed25519 AAAAC3key   user@host extra"),
            "ssh-ed25519 AAAAC3key"
        );
        // Anything else is compared as written: no prefix, or nothing after `age1`.
        assert_eq!(recipient_id("AGE1"), "AGE1");
        assert_eq!(recipient_id("Plugin-Key"), "Plugin-Key");
        assert_eq!(recipient_id("SSH-RSA AAAA c"), "SSH-RSA AAAA c");
        assert_eq!(recipient_id("Ab"), "Ab");
    }

    #[test]
    fn a_diff_is_empty_only_without_changes() {
        let s = |v: &[&str]| v.iter().map(|r| r.to_string()).collect::<Vec<_>>();
        let added = diff_recipients(&s(&["age1a"]), &s(&["age1a", "age1b"]));
        assert_eq!(added.added, ["age1b"]);
        assert!(added.removed.is_empty());
        assert!(!added.is_empty());
        let removed = diff_recipients(&s(&["age1a", "age1b"]), &s(&["age1a"]));
        assert_eq!(removed.removed, ["age1b"]);
        assert!(removed.added.is_empty());
        assert!(!removed.is_empty());
        assert!(diff_recipients(&s(&["age1a"]), &s(&["AGE1A"])).is_empty());
        // A recipient both added and already present elsewhere is listed once.
        let d = diff_recipients(&s(&["age1x", "age1x"]), &s(&["age1y", "age1y"]));
        assert_eq!(d.added, ["age1y"]);
        assert_eq!(d.removed, ["age1x"]);

        let rule_only = EnvelopeDiff {
            recipients: RecipientDiff::default(),
            rule: Some("narrowed".into()),
        };
        assert!(!rule_only.is_empty());
        let recipients_only = EnvelopeDiff {
            recipients: added,
            rule: None,
        };
        assert!(!recipients_only.is_empty());
        assert!(EnvelopeDiff::default().is_empty());
    }

    #[test]
    fn comparing_an_envelope_with_its_rule() {
        let key = DataKey::generate().unwrap();
        let meta = inspect(&encrypted(&key, SRC)).unwrap().unwrap();
        let wanted = vec!["AGE1OLD".to_string(), "age1kept".to_string()];
        let k8s = CryptRule::kubernetes();
        assert!(compare_with_rule(&meta, &wanted, &k8s, false).is_empty());
        // Another rule.
        let narrow = CryptRule::from_key("encrypted_regex", "^data$").unwrap();
        let d = compare_with_rule(&meta, &wanted, &narrow, false);
        assert!(d.recipients.is_empty());
        let t = d.rule.unwrap();
        assert!(t.contains("`encrypted_regex: ^data$`"), "{t}");
        // The same rule, but mac_only_encrypted differs.
        let d = compare_with_rule(&meta, &wanted, &k8s, true);
        assert_eq!(
            d.rule.as_deref(),
            Some("the file stores mac_only_encrypted: false, .sops.yaml says true")
        );
        // Recipients of key groups count as the file's recipients.
        let mut grouped = meta.clone();
        grouped.age.clear();
        grouped.key_groups = Some(KeyGroups {
            groups: vec![vec![entry("age1old")], vec![entry("age1kept")]],
            threshold: 2,
        });
        assert!(compare_with_rule(&grouped, &wanted, &k8s, false).is_empty());
        let d = compare_with_rule(&grouped, &wanted[..1], &k8s, false);
        assert_eq!(d.recipients.removed, ["age1kept"]);
    }

    #[test]
    fn keys_kseal_cannot_rewrap_are_refused() {
        let key = DataKey::generate().unwrap();
        // A file as sops writes it (no structural MAC) whose data key is also wrapped for KMS.
        let src: String = encrypted(&key, SRC)
            .split_inclusive('\n')
            .filter(|l| !l.trim_start().starts_with("kseal_mac:"))
            .map(|l| match l {
                "sops:\n" => {
                    "sops:\n  kms:\n    - arn: arn:aws:kms:eu-west-1:1:key/x\n      enc: AQID\n"
                        .to_string()
                }
                _ => l.to_string(),
            })
            .collect();
        assert_eq!(inspect(&src).unwrap().unwrap().other_key_sources, ["kms"]);
        let new_key = DataKey::generate().unwrap();
        for e in [
            rewrap(&src, &key, vec![entry("age1new")], None).unwrap_err(),
            rotate(
                &src,
                &key,
                &new_key,
                vec![entry("age1new")],
                "2025-05-06T07:08:09Z".into(),
                None,
            )
            .unwrap_err(),
        ] {
            assert_eq!(e.kind, Kind::Unsupported);
            assert!(e.message.contains("wrapped for kms keys"), "{}", e.message);
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d").unwrap(), 90 * 86_400);
        assert_eq!(parse_duration("12h").unwrap(), 12 * 3_600);
        assert_eq!(parse_duration("30m").unwrap(), 1_800);
        assert_eq!(parse_duration("1d12h").unwrap(), 36 * 3_600);
        assert_eq!(parse_duration("2w").unwrap(), 14 * 86_400);
        assert_eq!(parse_duration("45s").unwrap(), 45);
        for bad in ["", "90", "d", "9x", "1.5d", "-1d", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad).unwrap_err().kind, Kind::Usage, "{bad}");
        }
        assert_eq!(format_duration(400 * 86_400 + 5), "400d");
        assert_eq!(format_duration(3 * 86_400 + 4 * 3_600), "3d 4h");
        assert_eq!(format_duration(12 * 3_600 + 59), "12h");
        assert_eq!(format_duration(40), "40s");
        assert_eq!(format_duration(0), "0s");
        // Below ten of a unit, the next unit too, when there is some of it.
        assert_eq!(format_duration(5), "5s");
        assert_eq!(format_duration(9 * 60 + 59), "9m 59s");
        assert_eq!(format_duration(3 * 86_400), "3d");
        assert_eq!(format_duration(3 * 86_400 + 59), "3d");
        assert_eq!(format_duration(10 * 86_400 + 5 * 3_600), "10d");
        assert_eq!(format_duration(400 * 86_400 + 5 * 3_600), "400d");
        assert_eq!(format_duration(86_400 + 3_600), "1d 1h");
    }
}
