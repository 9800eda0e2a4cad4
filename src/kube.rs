//! Kubernetes knowledge: which documents are Secrets, what `data` and `stringData` must hold,
//! and which fields of a Secret leak its plaintext or only carry server state.

pub mod create;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::{Error, Kind, Reason, Result};
use crate::secrets;
pub use crate::secrets::list_items_of as list_items;
use crate::sops::file::EnvelopePolicy;
use crate::sops::metadata::Metadata;
use crate::sops::rules::CryptRule;
use crate::yaml::merge::MAX_NESTING;
pub use crate::yaml::merge::{effective_entries, effective_get, has_merge_key, is_merge_key};
use crate::yaml::scalar::{self, Typed};
use crate::yaml::splice::{self, Edit};
use crate::yaml::tree::{Document, Mapping, Node, Stream};

/// `kubectl apply` (client side) stores the whole object, values included, in this annotation.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Fields the API server fills in; `kubectl get -o yaml` shows them, Git does not need them.
pub const SERVER_FIELDS: [&str; 6] = [
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "generation",
];

pub fn is_secret(doc: &Document) -> bool {
    doc.root_mapping().and_then(|m| m.get_str("kind")) == Some("Secret")
}

/// Why a manifest file is not something to `kubectl apply`, if it is not: none of its
/// documents is a Kubernetes object (`apiVersion` and `kind`) other than build configuration
/// (a kustomization or component, a KRM function config such as a KsealGenerator, a Kptfile,
/// or a resource marked `config.kubernetes.io/local-config: "true"`). Text without any of
/// these words is taken as objects without parsing (decrypting a directory stays fast).
pub fn not_an_object(text: &str) -> Option<String> {
    const MARKS: [&str; 4] = [
        "kustomize.config.k8s.io",
        "kseal.dev/",
        "kpt.dev/",
        "config.kubernetes.io/",
    ];
    if text.contains("apiVersion")
        && text.contains("kind")
        && !MARKS.iter().any(|m| text.contains(m))
    {
        return None;
    }
    let stream = crate::yaml::tree::parse(text).ok()?;
    let mut reasons = Vec::new();
    for doc in stream.docs.iter().filter(|d| d.root.is_some()) {
        match build_config(doc) {
            Some(why) => reasons.push(why),
            None => return None,
        }
    }
    reasons.dedup();
    (!reasons.is_empty()).then(|| reasons.join(", "))
}

/// What a document is when it is build configuration rather than an object to apply.
fn build_config(doc: &Document) -> Option<String> {
    let Some(m) = doc.root_mapping() else {
        return Some("not a mapping".into());
    };
    let (api, kind) = match (m.get_str("apiVersion"), m.get_str("kind")) {
        (Some(a), Some(k)) if !a.is_empty() && !k.is_empty() => (a, k),
        _ if m.get("resources").is_some()
            || m.get("generators").is_some()
            || m.get("secretGenerator").is_some() =>
        {
            return Some("a kustomization".into())
        }
        _ => return Some("no apiVersion and kind".into()),
    };
    if api.starts_with("kustomize.config.k8s.io/") {
        return Some(format!("a kustomize {kind}"));
    }
    if api.starts_with("kseal.dev/") || api.starts_with("fn.kpt.dev/") {
        return Some(format!("a KRM function config ({kind})"));
    }
    if api.starts_with("kpt.dev/") {
        return Some(format!("kpt's {kind}"));
    }
    let annotations = m
        .get("metadata")
        .and_then(Node::as_mapping)
        .and_then(|md| md.get("annotations"))
        .and_then(Node::as_mapping);
    if annotations.is_some_and(|a| a.get("config.kubernetes.io/function").is_some()) {
        return Some(format!("a KRM function config ({kind})"));
    }
    if annotations.and_then(|a| a.get_str("config.kubernetes.io/local-config")) == Some("true") {
        return Some(format!("local configuration ({kind})"));
    }
    None
}

/// The `kind` of an object as kubectl sees it (through merge keys).
pub fn effective_kind<'m>(m: &'m Mapping<'m>) -> Option<&'m str> {
    effective_get(m, "kind")
        .and_then(Node::as_scalar)
        .map(|s| &*s.value)
}

/// Every object kubectl would apply from a document, with its location for messages: the
/// root (`""`), or, for a list, each mapping item (`items[2]`, nested lists included).
pub fn objects<'m>(doc: &'m Document<'m>) -> Vec<(String, &'m Mapping<'m>)> {
    let mut out = Vec::new();
    if let Some(root) = doc.root_mapping() {
        collect_objects(root, String::new(), 0, &mut out);
    }
    out
}

fn collect_objects<'m>(
    m: &'m Mapping<'m>,
    at: String,
    depth: usize,
    out: &mut Vec<(String, &'m Mapping<'m>)>,
) {
    match list_items(m) {
        Some(items) if depth <= MAX_NESTING => {
            for (i, item) in items.items.iter().enumerate() {
                if let Some(im) = item.as_mapping() {
                    let path = if at.is_empty() {
                        format!("items[{i}]")
                    } else {
                        format!("{at}.items[{i}]")
                    };
                    collect_objects(im, path, depth + 1, out);
                }
            }
        }
        _ => out.push((at, m)),
    }
}

/// Why kubectl would see a Secret in this document that kseal's Secret handling (which looks
/// at a plain `kind: Secret` at the root, and `data`/`stringData` entries written out) does
/// not: a kind or a data section brought in by a merge key, or a Secret inside a list.
/// `None` when kseal sees the document as kubectl does.
pub fn hidden_secret(doc: &Document) -> Option<String> {
    doc.root_mapping()?;
    for (at, m) in objects(doc) {
        if effective_kind(m) != Some("Secret") {
            continue;
        }
        // The Secrets of a list document's own `items` are encrypted like a Secret document
        // (`secrets::in_document`); one in a list nested inside an item is not.
        if at.contains('.') {
            return Some(format!(
                "{at} is a Secret inside a nested list (kubectl applies every item of `items`)"
            ));
        }
        if m.get_str("kind") != Some("Secret") {
            return Some("its `kind: Secret` comes from a YAML merge key (`<<`)".to_string());
        }
        if has_merge_key(m) {
            return Some("the Secret has a YAML merge key (`<<`) at its top level".to_string());
        }
        for section in ["data", "stringData"] {
            if m.get(section)
                .and_then(Node::as_mapping)
                .is_some_and(has_merge_key)
            {
                return Some(format!(
                    "its `{section}` has a YAML merge key (`<<`) that brings in entries from elsewhere"
                ));
            }
        }
    }
    None
}

fn metadata<'a>(doc: &'a Document<'a>) -> Option<&'a Mapping<'a>> {
    doc.root_mapping()?.get("metadata")?.as_mapping()
}

/// The `metadata.namespace` of every Secret document of a stream, in order (`None`: the Secret
/// names no namespace), for `.sops.yaml` rules with a `namespace_regex`.
pub fn secret_namespaces(stream: &Stream) -> Vec<Option<String>> {
    secrets::all(stream)
        .iter()
        .map(|s| {
            s.map
                .get("metadata")
                .and_then(Node::as_mapping)
                .and_then(|m| m.get_str("namespace"))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .collect()
}

/// Secret names for messages: `Secret db-credentials`.
pub fn describe(doc: &Document) -> String {
    match metadata(doc).and_then(|m| m.get_str("name")) {
        Some(n) => format!("Secret {n}"),
        None => "Secret".to_string(),
    }
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

/// Kubernetes decodes `data` values as standard base64, ignoring line breaks.
pub fn is_valid_base64(s: &str) -> bool {
    // Most values have no line break: validate in place instead of copying megabytes. (Byte
    // searches run as memchr; a `contains(['\n', '\r'])` walked a megabyte value char by char.)
    let b = s.as_bytes();
    if !b.contains(&b'\n') && !b.contains(&b'\r') {
        return canonical_base64(s.as_bytes());
    }
    let compact: String = s.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    STANDARD.decode(compact.as_bytes()).is_ok()
}

/// Standard base64 with canonical padding, checked without decoding (what the STANDARD
/// engine accepts: length a multiple of 4, `=` only at the end, no stray bits before it), with
/// SIMD: a `data` value can be megabytes (`base64_validation_matches_the_decoder`).
fn canonical_base64(b: &[u8]) -> bool {
    base64_simd::STANDARD.check(b).is_ok()
}

/// Checks the Secrets of a document (the document itself, or the items of a `kind: List`):
/// every `data` value must be base64. Returns warnings for `stringData` values that YAML types
/// as something other than a string, and for List items that are not Secrets but carry `data`
/// (the crypt rule covers the whole List document, so their values are encrypted too).
pub fn check_secret(doc: &Document, index: usize) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    // A JSON document (kseal writes one back as JSON when its root is `{...}`) is typed as
    // sops's JSON store types it, so the warnings speak JSON.
    let json = doc.root_mapping().is_some_and(|m| m.flow);
    for secret in secrets::in_document(doc, index) {
        check_one(
            secret.map,
            &secret.path_prefix(),
            index,
            json,
            &mut warnings,
        )?;
    }
    if let Some(items) = secrets::list_items(doc) {
        for (i, item) in items.items.iter().enumerate() {
            let Some(m) = item.as_mapping() else { continue };
            let kind = m.get_str("kind").unwrap_or("an object without kind");
            if kind != "Secret" && (m.get("data").is_some() || m.get("stringData").is_some()) {
                warnings.push(format!(
                    "document {}: items[{i}] is a {kind}, not a Secret: the List is one document, so its data is encrypted too (decrypt the file before applying it)",
                    index + 1
                ));
            }
        }
    }
    Ok(warnings)
}

fn check_one(
    root: &Mapping,
    prefix: &str,
    index: usize,
    json: bool,
    warnings: &mut Vec<String>,
) -> Result<()> {
    if let Some(data) = root.get("data") {
        if let Some(m) = data.as_mapping() {
            for (k, v) in &m.entries {
                let key = k.as_scalar().map(|s| &*s.value).unwrap_or("?");
                let Some(s) = v.as_scalar() else {
                    return Err(Error::format("the value is not a string")
                        .at_path(format!("{prefix}data.{key}"))
                        .in_doc(index));
                };
                // Only a null is skipped. Nulls are at most 4 characters (`~`, `null`, `NULL`,
                // ...): typing a megabyte value would copy it for nothing.
                let null = s.value.len() <= 4
                    && matches!(
                        scalar::resolve(&s.value, s.style, s.tag.as_deref()),
                        Ok(Typed::Null)
                    );
                if null {
                    continue;
                }
                if !is_valid_base64(&s.value) {
                    return Err(Error::format("not valid base64")
                        .at_path(format!("{prefix}data.{key}"))
                        .in_doc(index)
                        .with_hint("Kubernetes requires base64 under `data`; put plain text under `stringData` instead"));
                }
            }
        }
    }
    if let Some(m) = root.get("stringData").and_then(Node::as_mapping) {
        for (k, v) in &m.entries {
            let key = k.as_scalar().map(|s| &*s.value).unwrap_or("?");
            let Some(s) = v.as_scalar() else { continue };
            if json {
                let what = match crate::yaml::json::typed(s) {
                    Ok(Typed::Float(_)) => "number",
                    Ok(Typed::Bool(_)) => "boolean",
                    _ => continue,
                };
                warnings.push(format!(
                    "document {}: {prefix}stringData.{key}: a JSON {what} (kept as sops types it); Kubernetes expects a string: write it in double quotes",
                    index + 1
                ));
            } else if let Ok(t) = scalar::resolve(&s.value, s.style, s.tag.as_deref()) {
                if !matches!(t, Typed::Str(_) | Typed::Null | Typed::Binary(_)) {
                    warnings.push(format!(
                        "document {}: {prefix}stringData.{key}: a YAML {} (kept as sops types it); Kubernetes expects a string: quote it",
                        index + 1,
                        t.sops_type()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The Kubernetes rules kseal adds to the sops format, checked on every encrypted file it
/// reads and on every file it writes (issue 19): the API server reads `data` and
/// `stringData` whatever the stored crypt rule says, so someone who can push but holds no key
/// must not be able to put a clear value there, shadow a `data` key with `stringData`, or
/// narrow the rule so that the next write leaves a new value in clear.
pub struct SecretPolicy {
    /// Reads files whose crypt rule does not cover `data` and `stringData` (and the clear
    /// values such a rule left), for files written that way before kseal refused them.
    pub allow_narrow_rule: bool,
}

/// The default policy: every check enforced.
pub static STRICT: SecretPolicy = SecretPolicy {
    allow_narrow_rule: false,
};

/// `--allow-narrow-rule`: older files with a narrow crypt rule are read (never written).
pub static ALLOW_NARROW_RULE: SecretPolicy = SecretPolicy {
    allow_narrow_rule: true,
};

/// The sections of a Secret the API server takes values from.
pub const VALUE_SECTIONS: [&str; 2] = ["data", "stringData"];

/// Whether a crypt rule encrypts every value under `data` and `stringData`, whatever its key:
/// checked on a probe key and on each key the documents use.
/// True when the envelope holds no Secret.
pub fn rule_covers(rule: &CryptRule, stream: &Stream, docs: &[usize]) -> bool {
    // A List item's values sit under `items` (sequence indexes are not part of sops paths).
    let covers = |item: bool, section: &str, key: &str| {
        let mut path = Vec::with_capacity(3);
        if item {
            path.push("items".to_string());
        }
        path.extend([section.to_string(), key.to_string()]);
        rule.should_encrypt(&path)
    };
    let secrets: Vec<secrets::SecretAt> = docs
        .iter()
        .filter_map(|&i| Some(secrets::in_document(stream.docs.get(i)?, i)))
        .flatten()
        .collect();
    if secrets.is_empty() {
        return true;
    }
    let probe = |item: bool| VALUE_SECTIONS.iter().all(|s| covers(item, s, "x"));
    if !probe(false) || (secrets.iter().any(|s| s.item.is_some()) && !probe(true)) {
        return false;
    }
    secrets.iter().all(|sec| {
        VALUE_SECTIONS.iter().all(|s| {
            section(sec.map, s).is_none_or(|m| {
                m.entries.iter().all(|(k, _)| {
                    k.as_scalar()
                        .is_none_or(|k| covers(sec.item.is_some(), s, &k.value))
                })
            })
        })
    })
}

fn deref<'a>(node: &'a Node<'a>) -> &'a Node<'a> {
    match node {
        Node::Alias(target, ..) => deref(target),
        n => n,
    }
}

fn section<'a>(secret: &'a Mapping<'a>, name: &str) -> Option<&'a Mapping<'a>> {
    deref(secret.get(name)?).as_mapping()
}

fn looks_sealed(node: &Node) -> bool {
    deref(node)
        .as_scalar()
        .is_some_and(|s| s.value.starts_with("ENC["))
}

/// Whether a value under `data`/`stringData` is one kseal could have written: an `ENC[...]`
/// text, an empty string or null (sops never encrypts those).
fn sealed_or_empty(node: &Node) -> bool {
    let Some(s) = deref(node).as_scalar() else {
        return false;
    };
    // Anything written like an encrypted value is left to decryption, which refuses a
    // malformed one as such.
    if looks_sealed(node) {
        return true;
    }
    match scalar::resolve(&s.value, s.style, s.tag.as_deref()) {
        Ok(Typed::Null) => true,
        Ok(Typed::Str(ref v)) => v.is_empty(),
        _ => false,
    }
}

/// Checks the Secrets of an encrypted stream (`docs`: the documents inside the envelope).
/// `strict: false` (`--allow-narrow-rule`) accepts a narrow rule and the clear values it left,
/// never a key present in both `data` and `stringData`.
pub fn check_encrypted_secrets(
    stream: &Stream,
    docs: &[usize],
    rule: &CryptRule,
    strict: bool,
) -> Result<()> {
    let secrets = docs
        .iter()
        .filter_map(|&i| Some(secrets::in_document(stream.docs.get(i)?, i)))
        .flatten();
    for secret in secrets {
        let (i, prefix) = (secret.doc, secret.path_prefix());
        if let (Some(data), Some(string_data)) = (
            section(secret.map, "data"),
            section(secret.map, "stringData"),
        ) {
            // Both encrypted: the author wrote both (only the data key seals a value for these
            // paths). One of them clear or empty: a shadow added without the key.
            for (k, v) in &string_data.entries {
                let Some(k) = k.as_scalar() else { continue };
                let shadow = data
                    .get(&k.value)
                    .is_some_and(|d| !looks_sealed(d) || !looks_sealed(v));
                if shadow {
                    return Err(Error::integrity(
                        "the key is in both data and stringData, one of them not encrypted: the API server would let the stringData value replace the data value",
                    )
                    .at_path(format!("{prefix}stringData.{}", k.value))
                    .in_doc(i)
                    .with_hint("someone who cannot decrypt the file added it: restore the file from version control"));
                }
            }
        }
        if !strict {
            continue;
        }
        for name in VALUE_SECTIONS {
            let Some(m) = section(secret.map, name) else {
                continue;
            };
            for (k, v) in &m.entries {
                if !sealed_or_empty(v) {
                    let key = k
                        .as_scalar()
                        .map(|s| s.value.to_string())
                        .unwrap_or_default();
                    return Err(Error::integrity(format!(
                        "a clear value under {name} of a Secret: kseal never writes one, whatever the stored crypt rule says"
                    ))
                    .at_path(format!("{prefix}{name}.{key}"))
                    .in_doc(i)
                    .with_reason(Reason::NarrowRuleClearValue));
                }
            }
        }
    }
    if strict && !rule_covers(rule, stream, docs) {
        let (k, v) = rule.key_value();
        return Err(Error::integrity(format!(
            "the stored crypt rule `{k}: {v}` does not encrypt every value under data and stringData: the next write would leave a new value in clear"
        ))
        .with_reason(Reason::NarrowRule));
    }
    Ok(())
}

impl EnvelopePolicy for SecretPolicy {
    fn check_outside(&self, stream: &Stream, docs: &[usize]) -> Result<()> {
        // kseal and sops never write a Secret without the envelope into an encrypted file: one
        // that appears there was added behind their back and would be applied unverified.
        for (i, d) in stream.docs.iter().enumerate() {
            if docs.binary_search(&i).is_err()
                && (secrets::holds_secrets(d) || hidden_secret(d).is_some())
            {
                return Err(Error::integrity(
                    "a Secret without the file's `sops:` block sits in an encrypted file: it was added after encryption",
                )
                .in_doc(i)
                .with_reason(Reason::SecretOutsideEnvelope));
            }
        }
        Ok(())
    }

    fn check_read(&self, stream: &Stream, docs: &[usize], meta: &Metadata) -> Result<Vec<String>> {
        if !self.allow_narrow_rule {
            check_encrypted_secrets(stream, docs, &meta.rule, true)?;
            return Ok(Vec::new());
        }
        check_encrypted_secrets(stream, docs, &meta.rule, false)?;
        Ok(check_encrypted_secrets(stream, docs, &meta.rule, true)
            .err()
            .map(|e| e.to_string())
            .into_iter()
            .collect())
    }

    fn check_write(&self, stream: &Stream, docs: &[usize], meta: &Metadata) -> Result<()> {
        if !rule_covers(&meta.rule, stream, docs) {
            let (k, v) = meta.rule.key_value();
            return Err(Error::new(
                Kind::Refused,
                format!("kseal does not write a Secret under the crypt rule `{k}: {v}`: it leaves values under data or stringData in clear"),
            )
            .with_reason(Reason::NarrowRuleOnWrite));
        }
        check_encrypted_secrets(stream, docs, &meta.rule, true)
    }
}

/// Edits that take out what must not be committed: the last-applied annotation always, and
/// the server-populated fields when `clean` is set. Returns the edits and a note for each.
pub fn sanitize(src: &str, stream: &Stream, clean: bool) -> (Vec<Edit>, Vec<String>) {
    let mut edits = Vec::new();
    let mut notes = Vec::new();
    for secret in secrets::all(stream) {
        let i = secret.doc;
        let Some(meta) = secret.map.get("metadata").and_then(Node::as_mapping) else {
            continue;
        };
        if let Some(idx) = meta
            .entries
            .iter()
            .position(|(k, _)| k.as_scalar().is_some_and(|s| s.value == "annotations"))
        {
            if let Some(ann) = meta.entries[idx].1.as_mapping() {
                if let Some(a) = ann
                    .entries
                    .iter()
                    .position(|(k, _)| k.as_scalar().is_some_and(|s| s.value == LAST_APPLIED))
                {
                    if ann.entries.len() == 1 && !meta.flow {
                        edits.push(splice::remove_entry(src, meta, idx));
                    } else {
                        edits.push(splice::remove_entry(src, ann, a));
                    }
                    let what = match secret.name() {
                        Some(n) => format!("Secret {n}"),
                        None => "the Secret".to_string(),
                    };
                    let item = secret
                        .item
                        .map(|n| format!("items[{n}]: "))
                        .unwrap_or_default();
                    notes.push(format!(
                        "document {}: {item}removed the {LAST_APPLIED} annotation of {what}: it holds the Secret's plaintext",
                        i + 1
                    ));
                }
            }
        }
        if clean && !meta.flow {
            for (idx, (k, _)) in meta.entries.iter().enumerate() {
                let Some(name) = k.as_scalar().map(|s| &*s.value) else {
                    continue;
                };
                if SERVER_FIELDS.contains(&name) {
                    edits.push(splice::remove_entry(src, meta, idx));
                    notes.push(format!(
                        "document {}: dropped {}metadata.{name} (--clean)",
                        i + 1,
                        secret.path_prefix()
                    ));
                }
            }
        }
    }
    (edits, notes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_configuration_is_not_an_object() {
        let cases = [
            ("generators:\n  - generator.yaml\n", Some("a kustomization")),
            ("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n", Some("a kustomize Kustomization")),
            ("apiVersion: kseal.dev/v1alpha1\nkind: KsealGenerator\nmetadata:\n  name: s\nfiles: [db.enc.yaml]\n", Some("a KRM function config (KsealGenerator)")),
            ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fn\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\n", Some("local configuration (ConfigMap)")),
            ("a: 1\n", Some("no apiVersion and kind")),
            ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n", None),
            // One object among configuration: the file is applied as it is.
            ("generators: []\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    config.kubernetes.io/index: '0'\n", None),
            ("", None),
            ("a: [unclosed\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(not_an_object(text).as_deref(), want, "{text}");
        }
    }

    use super::*;
    use crate::yaml::tree::parse;

    #[test]
    fn base64_checks_name_the_key() {
        let src = "kind: Secret\ndata:\n  ok: YWJj\n  bad: not base64!\n";
        let st = parse(src).unwrap();
        let e = check_secret(&st.docs[0], 0).err().unwrap();
        assert_eq!(e.to_string(), "document 1: data.bad: not valid base64");
        assert!(!e.to_string().contains("not base64!"));
    }

    #[test]
    fn base64_validation_matches_the_decoder() {
        for s in [
            "",
            "YQ==",
            "YWI=",
            "YWJj",
            "YR==",
            "YWJ=",
            "YQ=",
            "Y===",
            "YWJj\nZGVm",
            "ab$d",
            "=YWJ",
            "YW=j",
        ] {
            let compact: String = s.chars().filter(|c| *c != '\n').collect();
            assert_eq!(
                is_valid_base64(s),
                STANDARD.decode(compact.as_bytes()).is_ok(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn string_data_numbers_warn() {
        let st = parse("kind: Secret\nstringData:\n  port: 5432\n  name: x\n").unwrap();
        let w = check_secret(&st.docs[0], 0).unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("stringData.port"));
    }

    #[test]
    fn string_data_numbers_in_json_warn_in_json_terms() {
        let src = "{\"kind\": \"Secret\", \"stringData\": {\"port\": 5432, \"tls\": true, \"n\": null, \"name\": \"x\"}}\n";
        let st = parse(src).unwrap();
        let w = check_secret(&st.docs[0], 0).unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(
            w[0],
            "document 1: stringData.port: a JSON number (kept as sops types it); Kubernetes expects a string: write it in double quotes"
        );
        assert!(w[1].contains("stringData.tls: a JSON boolean"));
        assert!(!w.iter().any(|w| w.contains("YAML")));
    }

    #[test]
    fn sanitize_removes_last_applied_and_server_fields() {
        let src = "apiVersion: v1\nkind: Secret\nmetadata:\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n      {\"data\":{\"p\":\"czNj\"}}\n  name: db\n  uid: 123\n  resourceVersion: \"5\"\ndata:\n  p: czNj\n";
        let st = parse(src).unwrap();
        let (edits, notes) = sanitize(src, &st, true);
        let out = splice::apply(src, edits).unwrap();
        assert_eq!(
            out.as_str(),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  p: czNj\n"
        );
        assert_eq!(notes.len(), 3);
        let (edits, _) = sanitize(src, &st, false);
        let out = splice::apply(src, edits).unwrap();
        assert!(out.contains("uid: 123") && !out.contains("last-applied"));
    }

    #[test]
    fn merge_keys_are_seen_as_kubectl_sees_them() {
        let st = parse("<<: {kind: Secret}\nmetadata: {name: a}\nstringData: {p: x}\n").unwrap();
        let root = st.docs[0].root_mapping().unwrap();
        assert!(!is_secret(&st.docs[0]));
        assert_eq!(effective_kind(root), Some("Secret"));
        assert!(hidden_secret(&st.docs[0]).unwrap().contains("merge key"));
        // An explicit key wins over a merged one; the first merged mapping wins over later ones.
        let st = parse("base: &b {kind: Secret}\nother: &o {kind: Other, x: 1}\nkind: ConfigMap\n<<: [*o, *b]\n").unwrap();
        let root = st.docs[0].root_mapping().unwrap();
        assert_eq!(effective_kind(root), Some("ConfigMap"));
        assert!(hidden_secret(&st.docs[0]).is_none());
        let st = parse("base: &b {kind: Secret}\nother: &o {x: 1}\n<<: [*o, *b]\n").unwrap();
        assert_eq!(
            effective_kind(st.docs[0].root_mapping().unwrap()),
            Some("Secret")
        );
        // A quoted "<<" is an ordinary key.
        let st = parse("'<<': {kind: Secret}\n").unwrap();
        assert_eq!(effective_kind(st.docs[0].root_mapping().unwrap()), None);
        // Merged data entries.
        let st = parse("plain: &p {password: hunter2}\nkind: Secret\ndata:\n  <<: *p\n").unwrap();
        let data = st.docs[0]
            .root_mapping()
            .unwrap()
            .get("data")
            .unwrap()
            .as_mapping()
            .unwrap();
        let keys: Vec<&str> = effective_entries(data)
            .iter()
            .map(|(k, _)| &*k.as_scalar().unwrap().value)
            .collect();
        assert_eq!(keys, ["password"]);
        assert!(hidden_secret(&st.docs[0]).unwrap().contains("`data`"));
    }

    #[test]
    fn list_items_are_objects() {
        let src = "apiVersion: v1\nkind: List\nitems:\n- kind: ConfigMap\n- kind: SecretList\n  items:\n  - kind: Secret\n    stringData: {p: x}\n- plain scalar\n";
        let st = parse(src).unwrap();
        let objs: Vec<(String, Option<&str>)> = objects(&st.docs[0])
            .into_iter()
            .map(|(at, m)| (at, m.get_str("kind")))
            .collect();
        assert_eq!(
            objs,
            [
                ("items[0]".to_string(), Some("ConfigMap")),
                ("items[1].items[0]".to_string(), Some("Secret")),
            ]
        );
        assert!(hidden_secret(&st.docs[0])
            .unwrap()
            .contains("items[1].items[0]"));
        let plain = parse("kind: Secret\nstringData: {p: x}\n").unwrap();
        assert_eq!(objects(&plain.docs[0]).len(), 1);
        assert!(hidden_secret(&plain.docs[0]).is_none());
    }

    fn policy_check(src: &str, rule: &str, strict: bool) -> Result<()> {
        let st = parse(src).unwrap();
        let rule = CryptRule::from_key("encrypted_regex", rule).unwrap();
        check_encrypted_secrets(&st, &[0], &rule, strict)
    }

    const ENC: &str = "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]";

    #[test]
    fn secret_policy_refuses_clear_shadowing_and_narrow_rules() {
        let k8s = "^(data|stringData)$";
        let ok = format!(
            "kind: Secret\ndata:\n  a: {ENC}\n  e: \"\"\n  n: null\nstringData:\n  b: {ENC}\n"
        );
        assert!(policy_check(&ok, k8s, true).is_ok());
        // A key in both sections, both encrypted: the author wrote both.
        let both = format!("kind: Secret\ndata:\n  a: {ENC}\nstringData:\n  a: {ENC}\n");
        assert!(policy_check(&both, k8s, true).is_ok());
        for (what, src, rule, lenient_ok) in [
            (
                "clear data",
                "kind: Secret\ndata:\n  a: YQ==\n".to_string(),
                k8s,
                true,
            ),
            (
                "clear stringData",
                "kind: Secret\nstringData:\n  a: x\n".to_string(),
                k8s,
                true,
            ),
            (
                "shadow",
                format!("kind: Secret\ndata:\n  a: {ENC}\nstringData:\n  a: \"\"\n"),
                k8s,
                false,
            ),
            (
                "shadow by null",
                format!("kind: Secret\ndata:\n  a: {ENC}\nstringData:\n  a: null\n"),
                k8s,
                false,
            ),
            (
                "narrow",
                format!("kind: Secret\ndata:\n  a: {ENC}\n"),
                "^data$",
                true,
            ),
            (
                "per key",
                format!("kind: Secret\ndata:\n  password: {ENC}\n"),
                "^password$",
                true,
            ),
        ] {
            let e = policy_check(&src, rule, true).unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::Integrity, "{what}");
            assert!(!e.to_string().contains("YQ=="), "{what}: {e}");
            assert_eq!(
                policy_check(&src, rule, false).is_ok(),
                lenient_ok,
                "{what}"
            );
        }
        // Not a Secret: nothing to check, whatever the rule.
        let cm = "kind: ConfigMap\ndata:\n  a: b\n";
        assert!(policy_check(cm, "^x$", true).is_ok());
        // Malformed ENC values are left to decryption (exit 4 there, not 6 here).
        let bad = "kind: Secret\ndata:\n  a: ENC[garbage]\n";
        assert!(policy_check(bad, k8s, true).is_ok());
    }

    #[test]
    fn rule_coverage_uses_a_probe_and_every_key() {
        let st = parse("kind: Secret\ndata:\n  x_unencrypted: a\n").unwrap();
        let suffix = CryptRule::default_rule();
        assert!(!rule_covers(&suffix, &st, &[0]));
        let st = parse("kind: Secret\ndata:\n  x: a\n").unwrap();
        assert!(rule_covers(&suffix, &st, &[0]));
        assert!(rule_covers(&CryptRule::kubernetes(), &st, &[0]));
        let only_data = CryptRule::from_key("encrypted_regex", "^data$").unwrap();
        assert!(!rule_covers(&only_data, &st, &[0]));
        // No Secret in the envelope: any rule.
        assert!(rule_covers(&only_data, &st, &[]));
    }
}
