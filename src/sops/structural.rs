//! kseal's structural MAC (`kseal_mac`, a kseal extension of the `sops:` block): HMAC-SHA-256,
//! keyed from the data key by HKDF-SHA-256, over a length-prefixed encoding of every document
//! of the envelope (every key, every value of every type, empty and null ones included, the
//! document boundaries) and of the `sops:` fields that decide what is encrypted and who opens
//! the file. The sops MAC hashes the values only, run together: it misses key names, where
//! one value ends, empty and null values, and the whole `sops:` block. Specified in
//! docs/format.md ("The structural MAC").

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::metadata::Metadata;
use crate::error::{Error, Kind, Reason, Result};
use crate::secret::DataKey;
use crate::yaml::scalar;
use crate::yaml::tree::{Node, Stream};

/// The field's name in the `sops:` block.
pub const FIELD: &str = "kseal_mac";
/// The version prefix of the field's value.
pub const PREFIX: &str = "v1:";
/// What kseal writes before it knows the digest; replaced in place (same length).
pub const PLACEHOLDER: &str = "v1:0000000000000000000000000000000000000000000000000000000000000000";
/// HKDF-SHA-256 `info` for the MAC key (no salt: the data key is uniformly random).
const HKDF_INFO: &[u8] = b"kseal structural mac v1";
/// The first bytes of the MAC input (domain separation from any other use of the key).
const DOMAIN: &[u8] = b"kseal-structural-mac-v1";

/// Nodes the encoding may visit through aliases before the input is called hostile.
const BUDGET: u64 = 10_000_000;

struct Encoder {
    mac: Hmac<Sha256>,
    budget: u64,
}

impl Encoder {
    fn new(key: &DataKey) -> Self {
        let hk = Hkdf::<Sha256>::new(None, key.expose());
        let mut k = Zeroizing::new([0u8; 32]);
        hk.expand(HKDF_INFO, &mut *k)
            .expect("32 bytes is a valid HKDF-SHA-256 output length");
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&*k).expect("HMAC takes any key length");
        Encoder {
            mac,
            budget: BUDGET,
        }
    }

    fn tag(&mut self, t: u8) {
        self.mac.update(&[t]);
    }

    fn count(&mut self, n: usize) {
        self.mac.update(&(n as u64).to_be_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.count(b.len());
        self.mac.update(b);
    }

    /// One node; `skip_sops` leaves out the `sops` key of a document's root mapping.
    fn node(&mut self, node: &Node, skip_sops: bool) -> Result<()> {
        if self.budget == 0 {
            return Err(Error::format(
                "the document expands to too many values (an alias bomb?)",
            ));
        }
        self.budget -= 1;
        match node {
            Node::Alias(target, ..) => self.node(target, false),
            Node::Sequence(q) => {
                self.tag(b'S');
                self.count(q.items.len());
                for item in &q.items {
                    self.node(item, false)?;
                }
                Ok(())
            }
            Node::Mapping(m) => {
                let is_sops =
                    |k: &Node| skip_sops && k.as_scalar().is_some_and(|s| s.value == "sops");
                let entries: Vec<_> = m.entries.iter().filter(|(k, _)| !is_sops(k)).collect();
                self.tag(b'M');
                self.count(entries.len());
                for (k, v) in entries {
                    let key = match k {
                        Node::Scalar(s) => s,
                        _ => return Err(Error::format("a mapping key is a mapping or a list")),
                    };
                    self.bytes(key.value.as_bytes());
                    self.node(v, false)?;
                }
                Ok(())
            }
            Node::Scalar(s) => {
                let text = s.value.trim_end_matches('\n');
                if text.starts_with(super::value::PREFIX) {
                    // The ciphertext as stored, however it is quoted or blocked.
                    self.tag(b'E');
                    self.bytes(text.as_bytes());
                    return Ok(());
                }
                match scalar::resolve(&s.value, s.style, s.tag.as_deref()) {
                    Ok(scalar::Typed::Null) => self.tag(b'N'),
                    Ok(t) => {
                        self.tag(b'V');
                        self.bytes(t.sops_type().as_bytes());
                        self.bytes(&t.to_sops_bytes());
                    }
                    // A value YAML cannot type (a local tag): its tag and text as written.
                    Err(_) => {
                        self.tag(b'R');
                        self.bytes(s.tag.as_deref().unwrap_or("").as_bytes());
                        self.bytes(s.value.as_bytes());
                    }
                }
                Ok(())
            }
        }
    }

    fn metadata(&mut self, meta: &Metadata) {
        let (rk, rv) = meta.rule.key_value();
        self.bytes(rk.as_bytes());
        self.bytes(rv.as_bytes());
        self.tag(u8::from(meta.mac_only_encrypted));
        self.count(meta.age.len());
        // The recipients, not their wrapped keys: a stanza can only be replaced by one that
        // wraps the same data key (else no value opens), which another age may rewrap.
        for a in &meta.age {
            self.bytes(a.recipient.as_bytes());
        }
        // Key groups only add to the input when there are some, so the value of a file with
        // one group is what it was before kseal knew groups.
        if let Some(g) = &meta.key_groups {
            self.tag(b'G');
            self.count(g.threshold);
            self.count(g.groups.len());
            for group in &g.groups {
                self.count(group.len());
                for a in group {
                    self.bytes(a.recipient.as_bytes());
                }
            }
        }
        self.count(meta.other_key_sources.len());
        for k in &meta.other_key_sources {
            self.bytes(k.as_bytes());
        }
        self.bytes(meta.lastmodified.as_bytes());
        self.bytes(meta.mac.as_bytes());
    }
}

/// Refuses a file without the field when a policy from outside the repository requires it
/// (`--require-structural-mac`): every read checks it before the data key is opened, and so
/// must `rotate` and `updatekeys`, whose output would carry a new `kseal_mac` over a content
/// nothing authenticated.
pub fn require(meta: &Metadata, required: bool) -> Result<()> {
    if required && meta.kseal_mac.is_none() {
        return Err(Error::integrity(
            "the file has no structural MAC (`kseal_mac`), which this run requires: it was written by sops or another tool, or the field was removed",
        )
        .with_reason(Reason::StructuralMacMissing));
    }
    Ok(())
}

/// The field's value for the documents `docs` of `stream` (the envelope) and `meta`.
pub fn compute(stream: &Stream, docs: &[usize], meta: &Metadata, key: &DataKey) -> Result<String> {
    let mut e = Encoder::new(key);
    e.mac.update(DOMAIN);
    e.count(docs.len());
    for &i in docs {
        let root = stream
            .docs
            .get(i)
            .and_then(|d| d.root.as_ref())
            .ok_or_else(|| Error::new(Kind::Internal, "an enveloped document is empty"))?;
        e.tag(b'D');
        e.node(root, true).map_err(|err| err.in_doc(i))?;
    }
    e.metadata(meta);
    let digest = e.mac.finalize().into_bytes();
    let mut out = String::with_capacity(PREFIX.len() + 64);
    out.push_str(PREFIX);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    Ok(out)
}

/// Checks a stored value against the file: `Ok(true)` when it matches.
pub fn verify(
    stored: &str,
    stream: &Stream,
    docs: &[usize],
    meta: &Metadata,
    key: &DataKey,
) -> Result<bool> {
    let stored = stored.trim();
    if !stored.starts_with(PREFIX) {
        if stored.len() > 1 && stored.starts_with('v') && stored.contains(':') {
            return Err(Error::new(
                Kind::Unsupported,
                "the structural MAC (`kseal_mac`) has a version this kseal does not know",
            )
            .with_hint("upgrade kseal"));
        }
        return Ok(false);
    }
    let computed = compute(stream, docs, meta, key)?;
    Ok(super::mac::equal(stored.as_bytes(), computed.as_bytes()))
}

/// `src` (an encrypted file kseal just wrote, parsed as `stream`, with the placeholder in every
/// `sops:` block) with the placeholder replaced by the structural MAC.
pub fn seal(src: &str, stream: &Stream, docs: &[usize], key: &DataKey) -> Result<String> {
    let (value, spans) = seal_spans(src, stream, docs, key)?;
    Ok(fill(src.to_owned(), &value, &spans))
}

/// The structural MAC of `src` (parsed into `stream`) and the spans of its placeholders, in
/// order: what `fill` writes.
pub fn seal_spans(
    src: &str,
    stream: &Stream,
    docs: &[usize],
    key: &DataKey,
) -> Result<(String, Vec<std::ops::Range<usize>>)> {
    let internal = |m: &str| Error::new(Kind::Internal, m.to_string());
    let blocks: Vec<&crate::yaml::tree::Mapping> = docs
        .iter()
        .filter_map(|&i| {
            stream
                .docs
                .get(i)?
                .root_mapping()?
                .get("sops")?
                .as_mapping()
        })
        .collect();
    let first = blocks
        .first()
        .ok_or_else(|| internal("no `sops:` block to seal"))?;
    let meta = Metadata::from_mapping(first)?;
    let value = compute(stream, docs, &meta, key)?;
    let mut spans = Vec::with_capacity(blocks.len());
    for b in &blocks {
        // Plain in YAML, a quoted string in a JSON file.
        let span = b
            .get(FIELD)
            .and_then(Node::as_scalar)
            .filter(|s| s.value == PLACEHOLDER)
            .and_then(|s| {
                [s.start..s.end, s.start + 1..s.end.saturating_sub(1)]
                    .into_iter()
                    .find(|r| src.get(r.clone()) == Some(PLACEHOLDER))
            })
            .ok_or_else(|| internal("a `sops:` block lacks the structural MAC placeholder"))?;
        spans.push(span);
    }
    spans.sort_by_key(|r| r.start);
    Ok((value, spans))
}

/// `text` with the placeholder at each of `spans` (in order) replaced by `value`. The value
/// has the placeholder's length, so a large output is changed in place, not copied.
pub fn fill(mut text: String, value: &str, spans: &[std::ops::Range<usize>]) -> String {
    if value.len() == PLACEHOLDER.len() {
        for r in spans {
            text.replace_range(r.clone(), value);
        }
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in spans {
        out.push_str(&text[at..r.start]);
        out.push_str(value);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

/// `seal` for a text that still has to be parsed: every document with a `sops:` block is in
/// the envelope.
pub fn seal_text(src: &str, key: &DataKey) -> Result<String> {
    let stream = crate::yaml::tree::parse(src)?;
    let docs: Vec<usize> = stream
        .docs
        .iter()
        .enumerate()
        .filter(|(_, d)| d.root_mapping().and_then(|m| m.get("sops")).is_some())
        .map(|(i, _)| i)
        .collect();
    seal(src, &stream, &docs, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree::parse;

    const VECTOR: &str = "tests/fixtures/structural/vector.yaml";

    fn vector() -> String {
        std::fs::read_to_string(VECTOR).unwrap()
    }

    fn key() -> DataKey {
        DataKey::from_bytes(&(0u8..32).collect::<Vec<_>>()).unwrap()
    }

    fn mac_of(text: &str) -> String {
        let st = parse(text).unwrap();
        let sops = st.docs[0].root_mapping().unwrap().get("sops").unwrap();
        let meta = Metadata::from_mapping(sops.as_mapping().unwrap()).unwrap();
        compute(&st, &[0], &meta, &key()).unwrap()
    }

    /// The vector of docs/format.md: the stored value is what the key gives (an independent
    /// Python implementation of the specification gave the same value).
    #[test]
    fn test_vector() {
        let text = vector();
        let stored = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("kseal_mac: "))
            .unwrap();
        assert_eq!(
            stored,
            "v1:57fa9fc5d11b342a47bee5d82301032755ff6dc3bb7a1243ca4fed537355f87c"
        );
        assert_eq!(mac_of(&text), stored);
    }

    /// Every change the sops MAC cannot see changes the structural MAC; presentation does not.
    #[test]
    fn covers_what_the_sops_mac_misses() {
        let text = vector();
        let base = mac_of(&text);
        let changed = [
            (
                "swapped key names",
                "  name: app\n  namespace: prod\n",
                "  namespace: app\n  name: prod\n",
            ),
            (
                "folded values",
                "  name: app\n  namespace: prod\n",
                "  name: appprod\n",
            ),
            (
                "empty value added",
                "  empty: \"\"\n",
                "  empty: \"\"\n  more: \"\"\n",
            ),
            (
                "null value added",
                "  none: null\n",
                "  none: null\n  more: null\n",
            ),
            ("empty became null", "  empty: \"\"\n", "  empty: null\n"),
            (
                "annotation key renamed",
                "    note: \"\"\n",
                "    reflector: \"\"\n",
            ),
            ("value retyped", "    flag: true\n", "    flag: \"True\"\n"),
            ("list item moved out", "  - 1\n  - 1.5\n", "  - 1\n"),
            (
                "rule narrowed",
                "encrypted_regex: ^(data|stringData)$",
                "encrypted_regex: ^data$",
            ),
            (
                "mac_only_encrypted set",
                "  version: 3.11.0\n",
                "  version: 3.11.0\n  mac_only_encrypted: true\n",
            ),
            ("recipient changed", "age1yefmw2my", "age1yefmw2mz"),
            (
                "recipient added",
                "  lastmodified:",
                "    - recipient: age1evil\n      enc: x\n  lastmodified:",
            ),
            (
                "lastmodified changed",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:01Z",
            ),
            (
                "ciphertext changed",
                "password: ENC[AES256_GCM,data:AAAA",
                "password: ENC[AES256_GCM,data:AAAB",
            ),
        ];
        for (what, from, to) in changed {
            assert!(text.contains(from), "{what}");
            let other = text.replacen(from, to, 1);
            assert_ne!(mac_of(&other), base, "{what}");
        }
        let same = [
            ("quotes", "  name: app\n", "  name: 'app'\n"),
            ("flow list", "  - 1\n  - 1.5\n", "  - 1\n  - 1.50\n"),
            ("the field itself", "kseal_mac: v1:57", "kseal_mac: v1:00"),
            ("version", "version: 3.11.0", "version: 3.12.0"),
            ("wrapped key", "        AAAA\n", "        AAAB\n"),
        ];
        for (what, from, to) in same {
            assert!(text.contains(from), "{what}");
            assert_eq!(mac_of(&text.replacen(from, to, 1)), base, "{what}");
        }
        // Another data key gives another MAC.
        let st = parse(&text).unwrap();
        let sops = st.docs[0].root_mapping().unwrap().get("sops").unwrap();
        let meta = Metadata::from_mapping(sops.as_mapping().unwrap()).unwrap();
        let other = DataKey::from_bytes(&[7u8; 32]).unwrap();
        assert_ne!(compute(&st, &[0], &meta, &other).unwrap(), base);
    }

    #[test]
    fn verify_refuses_unknown_versions_and_garbage() {
        let text = vector();
        let st = parse(&text).unwrap();
        let sops = st.docs[0].root_mapping().unwrap().get("sops").unwrap();
        let meta = Metadata::from_mapping(sops.as_mapping().unwrap()).unwrap();
        let good = mac_of(&text);
        assert!(verify(&good, &st, &[0], &meta, &key()).unwrap());
        assert!(!verify(PLACEHOLDER, &st, &[0], &meta, &key()).unwrap());
        assert!(!verify("garbage", &st, &[0], &meta, &key()).unwrap());
        assert!(!verify(&good[..good.len() - 1], &st, &[0], &meta, &key()).unwrap());
        let e = verify("v2:00", &st, &[0], &meta, &key()).unwrap_err();
        assert_eq!(e.kind, Kind::Unsupported);
        // Only `v<version>:` is a version: a value with just one of the two is garbage.
        for garbage in ["version", "x:1", ":"] {
            assert!(
                !verify(garbage, &st, &[0], &meta, &key()).unwrap(),
                "{garbage}"
            );
        }
        assert_eq!(
            verify("v:", &st, &[0], &meta, &key()).unwrap_err().kind,
            Kind::Unsupported
        );
    }

    /// `fill` writes the value over each span, whatever its length (the spans are those of
    /// the original text, in order).
    #[test]
    fn fill_replaces_each_span_in_order() {
        let text = "a: XX\nb: XX\n".to_string();
        let spans = [3..5, 9..11];
        assert_eq!(fill(text.clone(), "12", &spans), "a: 12\nb: 12\n");
        assert_eq!(fill(text.clone(), "1", &spans), "a: 1\nb: 1\n");
        assert_eq!(fill(text.clone(), "123", &spans), "a: 123\nb: 123\n");
        assert_eq!(fill(text.clone(), "z", &[]), text);
    }
    /// The encoder's alias budget counts every node it visits, aliases and what they expand
    /// to included, and refuses at the first node past it (the parser's own limit is lower,
    /// so only a direct test reaches it).
    #[test]
    fn encoder_budget_counts_every_visited_node() {
        // root mapping, the list, its 2 items, the alias, the list again and its 2 items.
        let st = parse("a: &x [1, 2]\nb: *x\n").unwrap();
        let root = st.docs[0].root.as_ref().unwrap();
        for (budget, fits) in [(8, true), (7, false), (1, false), (100, true)] {
            let mut e = Encoder::new(&key());
            e.budget = budget;
            let r = e.node(root, true);
            assert_eq!(r.is_ok(), fits, "budget {budget}");
            if let Err(err) = r {
                assert!(err.message.contains("alias bomb"), "{}", err.message);
            } else {
                assert_eq!(e.budget, budget - 8, "budget {budget}");
            }
        }
    }

    /// `seal` replaces the placeholder's own bytes and nothing else: plain in YAML, inside
    /// its quotes in JSON, in every `sops:` block; a value that only decodes to the
    /// placeholder (an escape) is refused rather than guessed at.
    #[test]
    fn seal_replaces_exactly_the_placeholder() {
        let text = vector();
        let stored = mac_of(&text);
        let with_placeholder = text.replacen(&stored, PLACEHOLDER, 1);
        assert_ne!(with_placeholder, text);
        assert_eq!(seal_text(&with_placeholder, &key()).unwrap(), text);
        // Two documents, each with its block.
        let two = format!("{with_placeholder}---\n{with_placeholder}");
        let sealed = seal_text(&two, &key()).unwrap();
        assert_eq!(
            sealed.matches(stored.as_str()).count(),
            0,
            "one MAC over both"
        );
        assert_eq!(sealed.matches(PLACEHOLDER).count(), 0);
        assert_eq!(sealed.len(), two.len());
        // JSON: the quotes stay.
        let json = format!(
            "{{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"data\": {{\"a\": \"ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\"}}, \"sops\": {{\"age\": [{{\"recipient\": \"age1x\", \"enc\": \"x\"}}], \"lastmodified\": \"2026-01-01T00:00:00Z\", \"mac\": \"x\", \"kseal_mac\": \"{PLACEHOLDER}\", \"version\": \"3.11.0\"}}}}\n"
        );
        let sealed = seal_text(&json, &key()).unwrap();
        let mac = mac_of(&json);
        assert_eq!(sealed, json.replacen(PLACEHOLDER, &mac, 1));
        assert!(sealed.contains(&format!("\"kseal_mac\": \"{mac}\", ")));
        // An escaped spelling decodes to the placeholder but is not its bytes.
        let escaped = PLACEHOLDER.replacen("v1:0", "v1:\\x30", 1);
        let tricky = json.replacen(PLACEHOLDER, &escaped, 1);
        let e = seal_text(&tricky, &key()).unwrap_err();
        assert_eq!(e.kind, Kind::Internal);
        let tricky = with_placeholder.replacen(PLACEHOLDER, &format!("\"{escaped}\""), 1);
        assert_eq!(seal_text(&tricky, &key()).unwrap_err().kind, Kind::Internal);
        // No placeholder at all.
        assert_eq!(seal_text(&text, &key()).unwrap_err().kind, Kind::Internal);
    }

    #[test]
    fn require_refuses_a_missing_field_only_when_asked() {
        let text = vector();
        let without: String = text
            .split_inclusive('\n')
            .filter(|l| !l.trim_start().starts_with("kseal_mac:"))
            .collect();
        let meta_of = |t: &str| {
            let st = parse(t).unwrap();
            let sops = st.docs[0].root_mapping().unwrap().get("sops").unwrap();
            Metadata::from_mapping(sops.as_mapping().unwrap()).unwrap()
        };
        let (with, without) = (meta_of(&text), meta_of(&without));
        require(&with, true).unwrap();
        require(&with, false).unwrap();
        require(&without, false).unwrap();
        let e = require(&without, true).unwrap_err();
        assert_eq!(e.kind, Kind::Integrity);
        assert!(matches!(e.reason(), Some(Reason::StructuralMacMissing)));
    }
}
