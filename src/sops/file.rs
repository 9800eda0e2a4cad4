//! Whole files: decrypting or encrypting every value of the documents that share one
//! envelope, with the MAC over all of them, by splicing text into the original bytes.

use std::borrow::Cow;
use std::collections::HashMap;

use zeroize::Zeroizing;

use super::mac::{self, MacHasher};
use super::metadata::{self, AgeEntry, KeyGroups, Metadata};
use super::rules::CryptRule;
use super::structural;
use super::value::{self, IV_LEN};
use crate::error::{display_path, Error, Kind, Result};
use crate::secret::DataKey;
use crate::yaml::json;
use crate::yaml::scalar::{self, Style, Typed};
use crate::yaml::splice::{self, Edit, RenderContext};
use crate::yaml::tree::{self, CommentOwner, Document, Mapping, Node, Scalar, Stream};

/// Recovers a file's data key from its metadata (the caller decides where identities come from).
pub trait KeyOpener {
    fn open(&self, meta: &Metadata) -> Result<DataKey>;
}

impl KeyOpener for DataKey {
    fn open(&self, _meta: &Metadata) -> Result<DataKey> {
        Ok(self.clone())
    }
}

/// Remembers how every value was sealed on decryption so that re-encrypting an unchanged
/// value reproduces its ciphertext exactly (sops's stash; spec 1.3).
///
/// It keeps the ciphertext, not a digest of the plaintext: a recorded IV is reused only when
/// sealing the new plaintext with it gives back the recorded ciphertext and tag, which proves
/// the plaintext is the same. An IV is therefore never reused for a different plaintext, and
/// decryption pays nothing beyond keeping bytes it already has.
#[derive(Default, Clone)]
pub struct IvStash(HashMap<(String, String), Vec<Sealed>>);

#[derive(Clone)]
struct Sealed {
    iv: [u8; IV_LEN],
    data: Vec<u8>,
    tag: Vec<u8>,
    /// The encrypted text stood on its key's line (sops writes it so), not in a block scalar:
    /// an unchanged value goes back there even if decryption showed it as a `|` block.
    inline: bool,
}

impl IvStash {
    /// Records a value that opened with `aad`.
    pub fn record(&mut self, aad: &str, v: value::EncValue) {
        self.record_value(aad, v, true);
    }

    /// Records a value and whether its encrypted text stood inline (not in a block scalar).
    pub fn record_value(&mut self, aad: &str, v: value::EncValue, inline: bool) {
        let Ok(iv) = <[u8; IV_LEN]>::try_from(v.iv.as_slice()) else {
            return;
        };
        let sealed = Sealed {
            iv,
            data: v.data,
            tag: v.tag,
            inline,
        };
        self.0
            .entry((aad.to_string(), v.ty))
            .or_default()
            .push(sealed);
    }

    /// Seals a value, with its recorded IV when the plaintext is unchanged, else a fresh one.
    pub fn seal(&self, key: &DataKey, plaintext: &[u8], aad: &str, ty: &str) -> Result<String> {
        self.seal_value(key, plaintext, aad, ty).map(|(s, _)| s)
    }

    /// `seal`, also saying whether an unchanged value was recorded inline.
    pub fn seal_value(
        &self,
        key: &DataKey,
        plaintext: &[u8],
        aad: &str,
        ty: &str,
    ) -> Result<(String, Option<bool>)> {
        if let Some(candidates) = self.0.get(&(aad.to_string(), ty.to_string())) {
            for c in candidates
                .iter()
                .filter(|c| c.data.len() == plaintext.len())
            {
                let (data, tag) = value::seal_raw(key, plaintext, aad.as_bytes(), &c.iv)?;
                if data == c.data && tag == c.tag {
                    return Ok((value::render(&data, &c.iv, &tag, ty), Some(c.inline)));
                }
            }
        }
        Ok((
            value::seal(key, plaintext, aad.as_bytes(), &value::random_iv()?, ty)?,
            None,
        ))
    }

    pub fn len(&self) -> usize {
        self.0.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds what another decryption recorded (the merge driver: values taken from "theirs"
    /// keep their ciphertext). Safe under any key: an IV is only reused when it reproduces
    /// the recorded ciphertext.
    pub fn absorb(&mut self, other: &IvStash) {
        for (k, v) in &other.0 {
            self.0
                .entry(k.clone())
                .or_default()
                .extend(v.iter().cloned());
        }
    }
}

/// What a caller knows about the documents that the format does not (kseal: the rules of
/// Kubernetes Secrets, `kube::SecretPolicy`). sops itself has no such checks: a file passes
/// them or is refused before anything is decrypted or written.
pub trait EnvelopePolicy: Sync {
    /// Called with every encrypted file before its data key is opened (`docs`: the
    /// documents inside the envelope).
    /// Returns warnings for what it accepts only because the caller relaxed it.
    fn check_read(&self, stream: &Stream, docs: &[usize], meta: &Metadata) -> Result<Vec<String>>;
    /// Called with every file about to be written, as it will be written.
    fn check_write(&self, stream: &Stream, docs: &[usize], meta: &Metadata) -> Result<()>;
}

#[derive(Default, Clone, Copy)]
pub struct DecryptOptions {
    pub ignore_mac: bool,
    /// The caller's checks, run on the encrypted file before it is opened, and kept in the
    /// envelope for the writes that re-encrypt it.
    pub policy: Option<&'static dyn EnvelopePolicy>,
    /// Refuse a file without a structural MAC (`kseal_mac`): a policy from outside the
    /// repository (CI, a deployment), since whoever can push can also remove the field.
    pub require_structural_mac: bool,
    /// The caller wants the plaintext only: no IV stash is kept (each ciphertext becomes its
    /// plaintext in place instead of being copied), so the envelope cannot re-encrypt
    /// unchanged values to the same ciphertext.
    pub plain_only: bool,
}

/// What an encrypted file carried, for commands that re-encrypt it (edit, set, updatekeys).
pub struct Envelope {
    pub meta: Metadata,
    pub key: DataKey,
    pub stash: IvStash,
    /// False only with `ignore_mac` and a MAC that did not match.
    pub mac_ok: bool,
    /// 0-based indexes of the documents inside the envelope.
    pub docs: Vec<usize>,
    /// Number of documents in the file.
    pub doc_count: usize,
    /// The policy the file was read under, applied again to what re-encryption writes.
    pub policy: Option<&'static dyn EnvelopePolicy>,
    /// What the policy accepted only because it was relaxed (`--allow-narrow-rule`).
    pub warnings: Vec<String>,
    /// The file carries kseal's structural MAC and it verified (`sops::structural`).
    pub structural: bool,
}

pub struct Decrypted {
    pub text: Zeroizing<String>,
    /// None when the input had no `sops:` block at all (plain manifests pass through).
    pub envelope: Option<Envelope>,
}

/// Nodes a walk may visit through aliases before the input is called hostile.
const WALK_BUDGET: u64 = 10_000_000;

fn aad_of(path: &[String]) -> String {
    let mut s = String::with_capacity(path.iter().map(|p| p.len() + 1).sum::<usize>() + 1);
    for p in path {
        s.push_str(p);
        s.push(':');
    }
    if s.is_empty() {
        s.push(':');
    }
    s
}

/// Calls `f` for every scalar leaf of a document's root mapping in sops's walk order, with
/// its key path and whether it was reached through an alias. `mappings` collects the path of
/// every mapping (for comment AADs).
/// Where a leaf sits: reached through an alias, or an element of a list.
#[derive(Clone, Copy)]
struct Place {
    in_alias: bool,
    in_seq: bool,
}

type LeafFn<'n, 'f> = dyn FnMut(&[String], &'n Scalar, Place) -> Result<()> + 'f;

fn walk<'n>(
    node: &'n Node,
    path: &mut Vec<String>,
    place: Place,
    budget: &mut u64,
    mappings: &mut Vec<Vec<String>>,
    f: &mut LeafFn<'n, '_>,
) -> Result<()> {
    if *budget == 0 {
        return Err(Error::format(
            "the document expands to too many values (an alias bomb?)",
        ));
    }
    *budget -= 1;
    match node {
        // Errors name the leaf's own path (the key of the value, not its top-level ancestor).
        Node::Scalar(s) => f(path, s, place).map_err(|e| e.at_path(display_path(path))),
        Node::Alias(target, ..) => walk(
            target,
            path,
            Place {
                in_alias: true,
                ..place
            },
            budget,
            mappings,
            f,
        ),
        Node::Sequence(q) => {
            for item in &q.items {
                walk(
                    item,
                    path,
                    Place {
                        in_seq: true,
                        ..place
                    },
                    budget,
                    mappings,
                    f,
                )?;
            }
            Ok(())
        }
        Node::Mapping(m) => {
            mappings.push(path.clone());
            for (k, v) in &m.entries {
                path.push(key_string(k, path)?);
                let r = walk(
                    v,
                    path,
                    Place {
                        in_seq: false,
                        ..place
                    },
                    budget,
                    mappings,
                    f,
                );
                path.pop();
                r?;
            }
            Ok(())
        }
    }
}

/// A mapping key as sops sees it: it must decode to a string.
fn key_string(k: &Node, path: &[String]) -> Result<String> {
    let s = k.as_scalar().ok_or_else(|| {
        Error::format("a mapping key is a mapping or a list; sops only supports string keys")
            .at_path(display_path(path))
    })?;
    match scalar::resolve(&s.value, s.style, s.tag.as_deref()) {
        Ok(Typed::Str(_)) => Ok(s.value.to_string()),
        _ => Err(Error::format(format!(
            "the key `{}` is not a string for YAML (quote it); sops only supports string keys",
            s.value.chars().take(40).collect::<String>()
        ))
        .at_path(display_path(path))),
    }
}

fn sops_entry<'a>(doc: &'a Document<'a>) -> Option<&'a (Node<'a>, Node<'a>)> {
    doc.root_mapping()?.entry("sops")
}

fn root_mapping_of<'a>(doc: &'a Document<'a>, index: usize) -> Result<Option<&'a Mapping<'a>>> {
    match &doc.root {
        None => Ok(None),
        Some(n) => match n.as_mapping() {
            Some(m) => Ok(Some(m)),
            None => Err(
                Error::format("the document is not a mapping (a list or a single value)")
                    .in_doc(index),
            ),
        },
    }
}

/// Detects the document's indentation step from its first nested block mapping or list.
fn indent_unit(doc: &Document) -> usize {
    fn find(node: &Node, parent_col: usize) -> Option<usize> {
        match node {
            Node::Mapping(m) if !m.flow => {
                if m.col > parent_col {
                    return Some(m.col - parent_col);
                }
                m.entries.iter().find_map(|(_, v)| find(v, m.col))
            }
            Node::Sequence(q) if !q.flow => q.items.iter().find_map(|v| find(v, q.col)),
            _ => None,
        }
    }
    match doc.root_mapping() {
        Some(m) if !m.flow => m
            .entries
            .iter()
            .find_map(|(_, v)| find(v, m.col))
            .unwrap_or(2),
        _ => 2,
    }
}

/// The sops formats kseal does not read: dotenv (`sops_mac=` lines) and INI (a `[sops]`
/// section). Their ciphertext must never be handed on as if it were plaintext (a dotenv file
/// is valid YAML: one plain scalar) or reported as a YAML syntax error.
pub fn other_sops_format(src: &str) -> Option<&'static str> {
    let line_starts =
        |prefix: &str| src.starts_with(prefix) || src.contains(&format!("\n{prefix}"));
    if line_starts("sops_mac=") || line_starts("sops_version=") {
        Some("dotenv")
    } else if src.contains("[sops]")
        && src.contains("\nmac")
        && src.lines().any(|l| l.trim_end() == "[sops]")
    {
        Some("INI")
    } else {
        None
    }
}

fn refuse_other_format(src: &str) -> Result<()> {
    match other_sops_format(src) {
        Some(kind) => Err(Error::new(
            Kind::Unsupported,
            format!("this is a sops {kind} file: kseal reads sops YAML and JSON files only"),
        )
        .with_hint("decrypt it with sops (`sops decrypt FILE`)")),
        None => Ok(()),
    }
}

fn is_json(src: &str, doc: &Document) -> bool {
    json::is_json_doc(src, doc)
}

/// Decrypts a file. Plain files (no `sops:` block) come back unchanged. The MAC is verified
/// before anything is returned unless `ignore_mac`.
pub fn decrypt(src: &str, opener: &dyn KeyOpener, opts: &DecryptOptions) -> Result<Decrypted> {
    // An INI file is no YAML: say what it is rather than report a syntax error. (A dotenv
    // file parses; it is caught where no envelope is found.) Encrypted files pay nothing.
    let stream = tree::parse(src).map_err(|e| match refuse_other_format(src) {
        Err(other) => other,
        Ok(()) => e,
    })?;
    decrypt_stream(src, &stream, opener, opts)
}

pub fn decrypt_stream(
    src: &str,
    stream: &Stream,
    opener: &dyn KeyOpener,
    opts: &DecryptOptions,
) -> Result<Decrypted> {
    decrypt_inner(src, stream, opener, opts, None)
}

/// The MAC of a decryption, or, when kseal checks its own encryption, a comparison of every
/// value read back with the value that was encrypted (what the MAC would hash, without
/// hashing or decrypting it again).
enum MacCheck<'k> {
    Hash(Box<MacHasher>),
    Compare {
        leaves: &'k [Leaf<'k>],
        pos: usize,
        ok: bool,
    },
}

impl MacCheck<'_> {
    fn value(&mut self, bytes: &[u8], encrypted: bool) {
        match self {
            MacCheck::Hash(h) => h.value(bytes, encrypted),
            MacCheck::Compare { leaves, pos, ok } => {
                let same = leaves
                    .get(*pos)
                    .is_some_and(|l| l.enc == encrypted && *l.bytes.0 == *bytes);
                *ok &= same;
                *pos += 1;
            }
        }
    }

    fn pos(&self) -> usize {
        match self {
            MacCheck::Hash(_) => 0,
            MacCheck::Compare { pos, .. } => *pos,
        }
    }
}

/// A value typed as sops types it: by its JSON store in a JSON document (every number a
/// float), else as go-yaml v3 does.
fn typed_leaf(s: &Scalar, json: bool) -> Result<Typed> {
    if json && s.style == Style::Plain {
        if let Ok(t) = json::typed(s) {
            return Ok(t);
        }
    }
    scalar::resolve(&s.value, s.style, s.tag.as_deref()).map_err(|e| Error::format(format!("{e}")))
}

/// `decrypt_stream`; with `known`, the check of kseal's own encryption: each encrypted value
/// must be exactly the `ENC[...]` text sealed for its path, each value must be what was
/// hashed, the `sops:` blocks must say what was written; nothing is decrypted but comments,
/// and no text is produced.
fn decrypt_inner(
    src: &str,
    stream: &Stream,
    opener: &dyn KeyOpener,
    opts: &DecryptOptions,
    known: Option<&Encrypted<'_>>,
) -> Result<Decrypted> {
    let enveloped: Vec<usize> = stream
        .docs
        .iter()
        .enumerate()
        .filter(|(_, d)| sops_entry(d).is_some())
        .map(|(i, _)| i)
        .collect();
    let Some(&first) = enveloped.first() else {
        // A sops dotenv file parses as one plain YAML scalar: it must not pass as plain text.
        refuse_other_format(src)?;
        // An `ENC[...]` value without any `sops:` block is an encrypted file that lost its
        // metadata (truncated, or the block deleted): passing it through as "plain" would hand
        // ciphertext to kubectl with exit 0.
        for (i, d) in stream.docs.iter().enumerate() {
            if let Some(path) = d
                .root
                .as_ref()
                .and_then(|r| find_encrypted(r, &mut Vec::new()))
            {
                return Err(Error::integrity(
                    "an encrypted value sits in a file without a `sops:` block: the file was truncated or its metadata removed",
                )
                .at_path(display_path(&path))
                .in_doc(i)
                .with_hint("restore the file from version control"));
            }
        }
        return Ok(Decrypted {
            text: Zeroizing::new(src.to_string()),
            envelope: None,
        });
    };
    let meta_node = &sops_entry(&stream.docs[first]).expect("checked").1;
    let meta = Metadata::from_mapping(
        meta_node
            .as_mapping()
            .ok_or_else(|| Error::format("the `sops` entry is not a mapping").in_doc(first))?,
    )
    .map_err(|e| e.in_doc(first))?;
    for &i in &enveloped[1..] {
        let m = sops_entry(&stream.docs[i]).and_then(|(_, v)| v.as_mapping());
        let same = m
            .and_then(|m| Metadata::from_mapping(m).ok())
            .is_some_and(|o| {
                o.mac == meta.mac
                    && o.lastmodified == meta.lastmodified
                    && o.age == meta.age
                    && o.key_groups == meta.key_groups
                    && o.kseal_mac == meta.kseal_mac
            });
        if !same {
            return Err(Error::integrity(
                "its `sops:` block differs from the first document's: documents of different files were concatenated or the file was tampered with",
            )
            .in_doc(i)
            .with_hint("decrypt each original file separately; one file is one envelope"));
        }
    }
    // kseal and sops never write a Secret without the envelope into an encrypted file: one
    // that appears there was added behind their back and would be applied unverified.
    for (i, d) in stream.docs.iter().enumerate() {
        if sops_entry(d).is_none()
            && (crate::secrets::holds_secrets(d) || crate::kube::hidden_secret(d).is_some())
        {
            return Err(Error::integrity(
                "a Secret without the file's `sops:` block sits in an encrypted file: it was added after encryption",
            )
            .in_doc(i)
            .with_hint("remove that document, or encrypt it with `kseal encrypt` in its own file"));
        }
    }
    if meta.age.is_empty() && meta.key_groups.is_none() {
        return Err(Error::new(
            Kind::Unsupported,
            format!(
                "the data key is wrapped only for {} keys; kseal supports age",
                meta.other_key_sources.join(", ")
            ),
        )
        .with_hint("decrypt it with sops, or add an age recipient with `sops updatekeys`"));
    }
    if known.is_some_and(|k| k.docs != enveloped) {
        return Err(Error::new(
            Kind::Internal,
            "the documents carrying a `sops:` block are not the encrypted ones",
        ));
    }
    if opts.require_structural_mac && meta.kseal_mac.is_none() {
        return Err(Error::integrity(
            "the file has no structural MAC (`kseal_mac`), which this run requires: it was written by sops or another tool, or the field was removed",
        )
        .with_hint("if the file is genuine, rewrite it with kseal (`kseal updatekeys -y` or `kseal rotate`) to add the field"));
    }
    let warnings = match (known, opts.policy) {
        (None, Some(policy)) => policy.check_read(stream, &enveloped, &meta)?,
        _ => Vec::new(),
    };
    let key = opener.open(&meta)?;
    // Checked before any value is opened: it needs only the data key and the text.
    let structural_ok = match (&meta.kseal_mac, known) {
        (Some(stored), None) => structural::verify(stored, stream, &enveloped, &meta, &key)?,
        _ => true,
    };
    if !structural_ok && !opts.ignore_mac {
        return Err(Error::integrity(
            "structural MAC mismatch: the file was modified after kseal encrypted it (key names, empty or null values, documents, the crypt rule or the recipients)",
        )
        .with_hint("restore the file from version control; --ignore-mac decrypts anyway, for rescue only"));
    }
    let mut stash = IvStash::default();
    let mut hasher = match known {
        Some(k) => MacCheck::Compare {
            leaves: &k.leaves,
            pos: 0,
            ok: true,
        },
        None => MacCheck::Hash(Box::new(MacHasher::new(meta.mac_only_encrypted))),
    };
    let mut sealed_seen = 0;
    let mut edits: Vec<Edit> = Vec::new();
    let comment_rule = meta.rule.is_comment_rule();
    let mut budget = WALK_BUDGET;

    for &di in &enveloped {
        let doc = &stream.docs[di];
        let Some(root) = root_mapping_of(doc, di)? else {
            continue;
        };
        let json = is_json(src, doc);
        let unit = indent_unit(doc);
        let block_gaps = missing_block_fields(root);
        let removal = remove_sops_edit(src, root)?;
        // Values are rendered against the text as it will be once the `sops:` block is gone:
        // a block scalar that ends the file then ends it again, without the line break kseal
        // added before the block when the file had none.
        let render_src = if removal.end == src.len() {
            &src[..removal.start]
        } else {
            src
        };
        let mut mappings = Vec::new();
        let mut path = Vec::new();
        for (k, v) in &root.entries {
            let name = key_string(k, &path).map_err(|e| e.in_doc(di))?;
            if name == "sops" {
                continue;
            }
            path.push(name);
            let mut f = |p: &[String], s: &Scalar, place: Place| -> Result<()> {
                // An `ENC[...]` text is a string however it is quoted: no typing (and no copy
                // of a possibly large value) is needed to know it.
                let looks_encrypted = value::is_encrypted(&s.value)
                    && s.tag
                        .as_deref()
                        .is_none_or(|t| t == "tag:yaml.org,2002:str");
                let should = if comment_rule {
                    looks_encrypted
                } else {
                    meta.rule.should_encrypt(p)
                };
                if !(should && looks_encrypted) {
                    let typed = typed_leaf(s, json)?;
                    if typed == Typed::Null {
                        return Ok(());
                    }
                    if !should {
                        hasher.value(&typed.to_sops_bytes(), false);
                        return Ok(());
                    }
                    return match &typed {
                        Typed::Str(v) if v.is_empty() => {
                            hasher.value(b"", true);
                            Ok(())
                        }
                        Typed::Str(v) if v.starts_with("ENC[") => {
                            Err(Error::format("malformed encrypted value: it is not an AES256_GCM sops value"))
                        }
                        // Without a stated crypt rule, sops's default (every value) applies:
                        // a clear value then says the block lost its last lines, not that a
                        // value was replaced.
                        _ if !block_gaps.is_empty() => Err(Error::format(format!(
                            "the `sops:` block is incomplete: it has no {}, so which values are encrypted is unknown; the file was probably cut short",
                            block_gaps.join(" and no ")
                        ))
                        .at_path("sops")
                        .with_hint("restore the file from version control")),
                        _ => Err(Error::integrity(
                            "the value is not encrypted although the file's crypt rule says it must be",
                        )
                        .with_hint("someone replaced an encrypted value with clear text: restore the file from version control")),
                    };
                }
                if place.in_alias {
                    return Err(Error::format(
                        "an encrypted value is reached through a YAML alias",
                    ));
                }
                let aad = aad_of(p);
                if let Some(k) = known {
                    // A value kept in a block (`|`, `|+`) reads back with the block's final
                    // breaks; decryption reads the first line.
                    let text = s.value.trim_end_matches('\n');
                    let leaf = k.leaves.get(hasher.pos()).filter(|l| {
                        l.seal.as_ref().is_some_and(|t| t.aad == aad)
                            && k.sealed_text(sealed_seen) == Some(text)
                    });
                    sealed_seen += 1;
                    let Some(leaf) = leaf else {
                        return Err(Error::new(
                            Kind::Internal,
                            "a value read back is not the ciphertext sealed for its path",
                        ));
                    };
                    hasher.value(&leaf.bytes.0, true);
                    return Ok(());
                }
                let mut ev = value::parse(&s.value)?;
                if ev.ty == "comment" {
                    // sops writes a comment inside a list as a list element; it is a comment
                    // again here, written back as one, and never part of the MAC.
                    let pt = value::open(&key, &ev, aad.as_bytes())?;
                    let comment = String::from_utf8_lossy(&pt).replace(['\n', '\r'], " ");
                    edits.push(splice::comment_for_item(src, s, &comment, place.in_seq));
                    stash.record(&aad, ev);
                    return Ok(());
                }
                let mut pt = if opts.plain_only {
                    value::open_taking(&key, &mut ev, aad.as_bytes())?
                } else {
                    value::open(&key, &ev, aad.as_bytes())?
                };
                let t = if ev.ty == "str" {
                    // Move the plaintext into the typed value instead of copying it.
                    match String::from_utf8(std::mem::take(&mut *pt)) {
                        Ok(v) => Typed::Str(v),
                        Err(e) => Typed::Binary(e.into_bytes()),
                    }
                } else {
                    scalar::from_sops(&pt, &ev.ty).map_err(|e| Error::format(format!("{e}")))?
                };
                hasher.value(&t.to_sops_bytes(), true);
                if !opts.plain_only {
                    stash.record_value(
                        &aad,
                        ev,
                        !matches!(s.style, Style::Literal | Style::Folded),
                    );
                }
                let ctx = RenderContext {
                    src: render_src,
                    unit,
                    json,
                };
                edits.push(splice::decrypted_edit_owned(&ctx, s, t));
                Ok(())
            };
            let start = Place {
                in_alias: false,
                in_seq: false,
            };
            let r = walk(v, &mut path, start, &mut budget, &mut mappings, &mut f);
            path.pop();
            r.map_err(|e| e.in_doc(di))?;
        }
        decrypt_comments(doc, &key, &mut edits, &mut stash).map_err(|e| e.in_doc(di))?;
        edits.push(removal);
    }

    let mac_ok = match (hasher, known) {
        (MacCheck::Hash(h), _) => verify_mac(&meta, &key, &h.finish(), &mut stash)?,
        (MacCheck::Compare { leaves, pos, ok }, Some(k)) => {
            ok && pos == leaves.len()
                && sealed_seen == k.sealed.len()
                && meta.mac == k.meta.mac
                && meta.lastmodified == k.meta.lastmodified
                && meta.age == k.meta.age
                && meta.key_groups == k.meta.key_groups
                && meta.mac_only_encrypted == k.meta.mac_only_encrypted
                && meta.rule.key_value() == k.meta.rule.key_value()
                && meta.version == k.meta.version
                && meta.kseal_mac == k.meta.kseal_mac
        }
        (MacCheck::Compare { .. }, None) => false,
    };
    let mac_ok = mac_ok && structural_ok;
    if !mac_ok && !opts.ignore_mac {
        return Err(Error::integrity(
            "MAC mismatch: the file was modified after it was encrypted (values, keys, documents or clear-text fields)",
        )
        .with_hint("restore the file from version control; --ignore-mac decrypts anyway, for rescue only"));
    }
    let text = if known.is_some() {
        Zeroizing::new(String::new())
    } else {
        splice::apply(src, edits)?
    };
    Ok(Decrypted {
        text,
        envelope: Some(Envelope {
            structural: meta.kseal_mac.is_some() && structural_ok,
            meta,
            key,
            stash,
            mac_ok,
            docs: enveloped,
            doc_count: stream.docs.len(),
            policy: opts.policy,
            warnings,
        }),
    })
}

/// The key path of the first `ENC[AES256_GCM...` scalar under `node`. Any key is accepted
/// (this runs on plain files too); aliases are not followed, their anchors are visited where
/// they stand.
fn find_encrypted(node: &Node, path: &mut Vec<String>) -> Option<Vec<String>> {
    match node {
        // The prefix alone: a value cut inside `ENC[AES256_GCM,data:` is just as broken.
        Node::Scalar(s) => s.value.starts_with("ENC[AES256_GCM").then(|| path.clone()),
        Node::Alias(..) => None,
        Node::Sequence(q) => q.items.iter().find_map(|n| find_encrypted(n, path)),
        Node::Mapping(m) => m.entries.iter().find_map(|(k, v)| {
            path.push(
                k.as_scalar()
                    .map(|s| s.value.to_string())
                    .unwrap_or_else(|| "?".into()),
            );
            let found = find_encrypted(v, path);
            path.pop();
            found
        }),
    }
}

fn verify_mac(meta: &Metadata, key: &DataKey, computed: &str, stash: &mut IvStash) -> Result<bool> {
    if meta.mac.is_empty() {
        return Ok(false);
    }
    let ev = value::parse(&meta.mac)
        .map_err(|e| Error::integrity(format!("the stored MAC is unreadable: {}", e.message)))?;
    let aad = meta.mac_aad()?;
    let stored = match value::open(key, &ev, aad.as_bytes()) {
        Ok(p) => p,
        Err(_) => return Ok(false),
    };
    let ok = mac::equal(&stored, computed.as_bytes());
    stash.record(&aad, ev);
    Ok(ok)
}

fn decrypt_comments(
    doc: &Document,
    key: &DataKey,
    edits: &mut Vec<Edit>,
    stash: &mut IvStash,
) -> Result<()> {
    for c in &doc.comments {
        let text = c.text.as_str();
        if !value::is_encrypted(text) {
            continue;
        }
        let ev = value::parse(text)?;
        let owner = match &c.owner {
            CommentOwner::Mapping(p) | CommentOwner::Sequence(p) => p,
        };
        // Only the owner's path: trying other mappings' paths let a comment moved out of
        // `data` (into `metadata`, where encryption leaves comments clear) still open, and the
        // next write then put its plaintext there in clear.
        let aad = aad_of(owner);
        let pt = value::open(key, &ev, aad.as_bytes()).map_err(|_| {
            Error::integrity(
                "an encrypted comment failed authentication (altered, or moved from another mapping)",
            )
            .at_path(display_path(owner))
            .with_hint("restore the file from version control")
        })?;
        let s = String::from_utf8_lossy(&pt).replace(['\n', '\r'], " ");
        edits.push(Edit::new(c.start + 1, c.end, s));
        stash.record(&aad, ev);
    }
    Ok(())
}

/// What a `sops:` block that sops wrote always has and this one lacks: a crypt rule (sops
/// writes one, even its default) and the `mac`, the fields a file cut short loses first.
fn missing_block_fields(root: &Mapping) -> Vec<&'static str> {
    let Some(block) = root.get("sops").and_then(Node::as_mapping) else {
        return Vec::new();
    };
    let mut gaps = Vec::new();
    if !CryptRule::KEYS.iter().any(|k| block.get(k).is_some()) {
        gaps.push("crypt rule (encrypted_regex, unencrypted_suffix, ...)");
    }
    if block.get("mac").is_none() {
        gaps.push("`mac`");
    }
    gaps
}

/// The edit that removes a document's `sops` entry, so that the output is the text before
/// encryption.
fn remove_sops_edit(src: &str, root: &Mapping) -> Result<Edit> {
    let idx = root
        .entries
        .iter()
        .position(|(k, _)| k.as_scalar().is_some_and(|s| s.value == "sops"))
        .ok_or_else(|| Error::new(Kind::Internal, "sops entry vanished"))?;
    let e = splice::remove_entry(src, root, idx);
    if !root.flow && e.end == src.len() && !src.ends_with('\n') && e.start > 0 {
        // kseal wrote a line break before a block at the end of a file that had none.
        let mut s = e.start - 1;
        if s > 0 && src.as_bytes()[s - 1] == b'\r' {
            s -= 1;
        }
        return Ok(Edit::new(s, e.end, ""));
    }
    Ok(e)
}

/// Where the closing `}` of a JSON root object stands, less the line break before it.
fn root_close(src: &str, root: &Mapping) -> Result<usize> {
    let close = src[..root.end.min(src.len())]
        .rfind('}')
        .filter(|&c| c > root.start)
        .ok_or_else(|| Error::new(Kind::Internal, "no closing brace for the JSON object"))?;
    Ok(src[..close].trim_end_matches(['\n', '\r', ' ', '\t']).len())
}

/// Below this many bytes of values the MAC is computed inline: a thread costs more than it saves.
const PARALLEL_MAC_BYTES: usize = 256 * 1024;

/// One value of the input in walk order, as the MAC sees it, and how to seal it.
struct Leaf<'n> {
    bytes: LeafBytes<'n>,
    enc: bool,
    seal: Option<ToSeal<'n>>,
}

struct ToSeal<'n> {
    aad: String,
    ty: &'static str,
    scalar: &'n Scalar<'n>,
}

/// A value's bytes, borrowed from the tree or typed into a copy that is wiped when dropped.
struct LeafBytes<'n>(Cow<'n, [u8]>);

impl Drop for LeafBytes<'_> {
    fn drop(&mut self) {
        if let Cow::Owned(v) = &mut self.0 {
            zeroize::Zeroize::zeroize(v);
        }
    }
}

/// How to encrypt a file.
pub struct EncryptSettings<'a> {
    pub rule: CryptRule,
    pub mac_only_encrypted: bool,
    /// The data key, already wrapped for every recipient.
    pub key: &'a DataKey,
    pub age: Vec<AgeEntry>,
    /// Several key groups, each entry wrapping its group's share of `key` (then `age` is
    /// empty; see `sops::keygroups`).
    pub key_groups: Option<KeyGroups>,
    pub lastmodified: String,
    pub version: String,
    /// IVs to reuse for unchanged values (empty for a fresh encryption).
    pub stash: Option<&'a IvStash>,
    /// The caller's checks on the output (`EnvelopePolicy::check_write`), in `encrypt_checked`.
    pub policy: Option<&'static dyn EnvelopePolicy>,
}

/// Encrypts the documents `select` picks (kseal: the Secrets) as one envelope. Other
/// documents pass through byte for byte.
pub fn encrypt(
    src: &str,
    settings: &EncryptSettings<'_>,
    select: &dyn Fn(&Document) -> bool,
) -> Result<String> {
    let stream = tree::parse(src)?;
    encrypt_stream(src, &stream, settings, select)
}

pub fn encrypt_stream(
    src: &str,
    stream: &Stream,
    settings: &EncryptSettings<'_>,
    select: &dyn Fn(&Document) -> bool,
) -> Result<String> {
    let enc = encrypt_inner(src, stream, settings, select)?;
    structural::seal_text(&enc.out, settings.key)
}

/// An encryption and what it is made of, for the check in [`encrypt_checked`].
struct Encrypted<'n> {
    out: String,
    /// Every value in walk order, as the MAC saw it.
    leaves: Vec<Leaf<'n>>,
    /// The edit of each sealed value (in the order of the sealed leaves) and the length of
    /// its `ENC[...]` text inside the edit.
    sealed: Vec<(Edit, usize)>,
    meta: Metadata,
    docs: Vec<usize>,
}

impl Encrypted<'_> {
    /// The `ENC[...]` text of the `j`-th sealed value.
    fn sealed_text(&self, j: usize) -> Option<&str> {
        let (edit, len) = self.sealed.get(j)?;
        let at = edit.text.find(value::PREFIX)?;
        edit.text.get(at..at + len)
    }
}

fn encrypt_inner<'n>(
    src: &'n str,
    stream: &'n Stream,
    settings: &EncryptSettings<'_>,
    select: &dyn Fn(&Document) -> bool,
) -> Result<Encrypted<'n>> {
    for (i, d) in stream.docs.iter().enumerate() {
        root_mapping_of(d, i)?;
        if sops_entry(d).is_some() {
            return Err(Error::new(
                Kind::Refused,
                "the input is already encrypted (it has a `sops:` block)",
            )
            .in_doc(i)
            .with_hint(
                "use `kseal edit` to change values or `kseal updatekeys` to change recipients",
            ));
        }
    }
    let selected: Vec<usize> = stream
        .docs
        .iter()
        .enumerate()
        .filter(|(_, d)| select(d))
        .map(|(i, _)| i)
        .collect();
    if selected.is_empty() {
        return Err(Error::new(
            Kind::Refused,
            "nothing to encrypt: the input has no Secret document",
        )
        .with_hint("kseal encrypts the data and stringData of `kind: Secret` documents"));
    }
    let empty_stash = IvStash::default();
    let stash = settings.stash.unwrap_or(&empty_stash);
    let key = settings.key;
    let mut edits: Vec<Edit> = Vec::new();
    let mut budget = WALK_BUDGET;
    let eol = splice::eol_of(src);
    let mut inserts: Vec<(usize, usize, usize, bool)> = Vec::new();
    let mut json_inserts: Vec<usize> = Vec::new();
    let mut leaves: Vec<Leaf<'_>> = Vec::new();

    for &di in &selected {
        let doc = &stream.docs[di];
        let Some(root) = root_mapping_of(doc, di)? else {
            continue;
        };
        let json = is_json(src, doc);
        if root.flow {
            if !json {
                return Err(Error::new(
                    Kind::Unsupported,
                    "encrypting flow-style YAML documents ({...} at the top) is not supported",
                )
                .in_doc(di)
                .with_hint(
                    "write the manifest as JSON or as block YAML (for example `kubectl create ... -o yaml`)",
                ));
            }
            json::require_json(doc, di)?;
        }
        let mut mappings = Vec::new();
        let mut path = Vec::new();
        let mut f = |p: &[String], s: &'n Scalar, place: Place| -> Result<()> {
            // Quoted and block scalars, and plain text that can only be a string, are strings:
            // skip typing, which would copy a possibly large value.
            let (bytes, ty): (Cow<'n, [u8]>, &'static str) = if s.tag.is_none()
                && (s.style != Style::Plain || !json && scalar::plain_is_safe(&s.value))
            {
                (Cow::Borrowed(s.value.as_bytes()), "str")
            } else {
                let typed = typed_leaf(s, json)?;
                if typed == Typed::Null {
                    return Ok(());
                }
                (
                    Cow::Owned(typed.to_sops_bytes().into_owned()),
                    typed.sops_type(),
                )
            };
            let enc = settings.rule.should_encrypt(p);
            if !enc && tree::final_break_dropped(src, s) {
                // A clear block that ends the input without a line break is followed by one
                // (and the `sops:` block) in the output: its readers, sops included, and so
                // the MAC, see the value with the final `\n`.
                let mut with_break = bytes.into_owned();
                with_break.push(b'\n');
                leaves.push(Leaf {
                    bytes: LeafBytes(Cow::Owned(with_break)),
                    enc: false,
                    seal: None,
                });
                return Ok(());
            }
            // Empty strings stay `""` (sops never encrypts them).
            if !enc || bytes.is_empty() && ty == "str" {
                leaves.push(Leaf {
                    bytes: LeafBytes(bytes),
                    enc,
                    seal: None,
                });
                return Ok(());
            }
            if place.in_alias {
                return Err(Error::format(
                    "a value to encrypt is a YAML alias; write the value out in full",
                ));
            }
            // The tag would stay in front of `ENC[...]` and retype it for every reader.
            if s.tag
                .as_deref()
                .is_some_and(|t| t != "tag:yaml.org,2002:str")
            {
                return Err(Error::format(
                    "a value to encrypt carries an explicit YAML tag (such as !!int or !!binary); write it untagged",
                ));
            }
            leaves.push(Leaf {
                bytes: LeafBytes(bytes),
                enc: true,
                seal: Some(ToSeal {
                    aad: aad_of(p),
                    ty,
                    scalar: s,
                }),
            });
            Ok(())
        };
        let start = Place {
            in_alias: false,
            in_seq: false,
        };
        walk(
            doc.root.as_ref().expect("root"),
            &mut path,
            start,
            &mut budget,
            &mut mappings,
            &mut f,
        )
        .map_err(|e| e.in_doc(di))?;
        for c in &doc.comments {
            let encrypted = match &c.owner {
                CommentOwner::Mapping(p) => !c.text.is_empty() && settings.rule.should_encrypt(p),
                CommentOwner::Sequence(_) => false,
            };
            if !encrypted {
                // Decryption opens every `#ENC[AES256_GCM,...` comment (as sops does): a clear
                // comment written that way would make the file impossible to decrypt.
                if value::is_encrypted(&c.text) {
                    return Err(Error::format(
                        "a comment outside data and stringData starts like an encrypted value (`#ENC[AES256_GCM,data:`); it could not be told apart when decrypting",
                    )
                    .in_doc(di)
                    .with_hint("add a space after `#` or reword the comment"));
                }
                continue;
            }
            let CommentOwner::Mapping(p) = &c.owner else {
                continue;
            };
            let aad = aad_of(p);
            let sealed = stash.seal(key, c.text.as_bytes(), &aad, "comment")?;
            edits.push(Edit::new(c.start + 1, c.end, sealed));
        }
        if json {
            // Before the root's closing brace: the `sops` object is its last entry.
            json_inserts.push(root_close(src, root)?);
            continue;
        }
        let end = splice::node_end(src, doc.root.as_ref().expect("root"));
        let at = if src[..end].ends_with('\n') {
            end
        } else {
            splice::end_of_line(src, end)
        };
        // The blank lines after a keep-chomped block (`|+`) are part of its value: the block
        // goes after them, or the value would lose them.
        let at = if splice::ends_with_keep_block(src, doc.root.as_ref().expect("root")) {
            splice::after_blank_lines(src, at)
        } else {
            at
        };
        // Comments that trail the last value belong to its mapping: the block goes after
        // them, where sops puts it, or sops would read them as part of its metadata.
        let at = splice::after_trailing_comments(src, at);
        let needs_break = !src[..at].ends_with('\n');
        inserts.push((at, root.col, indent_unit(doc), needs_break));
    }

    // The MAC is over every value in order, the sealing over the encrypted ones: for a
    // large file the two run side by side on two cores.
    let only_encrypted = settings.mac_only_encrypted;
    let hash_all = |leaves: &[Leaf<'_>]| {
        let mut hasher = MacHasher::new(only_encrypted);
        for l in leaves {
            hasher.value(&l.bytes.0, l.enc);
        }
        hasher.finish()
    };
    let seal_all = |leaves: &[Leaf<'_>], sealed: &mut Vec<(Edit, usize)>| -> Result<()> {
        for l in leaves {
            let Some(t) = &l.seal else { continue };
            let (text, inline) = stash.seal_value(key, &l.bytes.0, &t.aad, t.ty)?;
            let block = matches!(t.scalar.style, Style::Literal | Style::Folded);
            let edit = if block && inline == Some(true) {
                splice::inline_encrypted_edit(src, t.scalar, &text)
            } else {
                splice::encrypted_edit(src, t.scalar, &text)
            };
            sealed.push((edit, text.len()));
        }
        Ok(())
    };
    let mut sealed = Vec::new();
    let hashed: usize = leaves.iter().map(|l| l.bytes.0.len()).sum();
    let mac_text = if hashed >= PARALLEL_MAC_BYTES {
        std::thread::scope(|sc| {
            let hasher = sc.spawn(|| hash_all(&leaves));
            let done = seal_all(&leaves, &mut sealed);
            let mac = hasher
                .join()
                .map_err(|_| Error::new(Kind::Internal, "the MAC thread failed"));
            done.and(mac)
        })?
    } else {
        seal_all(&leaves, &mut sealed)?;
        hash_all(&leaves)
    };
    let mac = stash.seal(key, mac_text.as_bytes(), &settings.lastmodified, "str")?;
    let meta = Metadata {
        age: settings.age.clone(),
        key_groups: settings.key_groups.clone(),
        lastmodified: settings.lastmodified.clone(),
        mac,
        rule: settings.rule.clone(),
        mac_only_encrypted: settings.mac_only_encrypted,
        version: settings.version.clone(),
        other_key_sources: Vec::new(),
        kseal_mac: Some(structural::PLACEHOLDER.to_string()),
    };
    for at in json_inserts {
        edits.push(Edit::new(at, at, json::render_metadata(&meta)));
    }
    for (at, col, unit, needs_break) in inserts {
        let block = metadata::render(&meta, col, unit, eol);
        let text = if needs_break {
            format!("{eol}{}", block.trim_end_matches(['\n', '\r']))
        } else {
            block
        };
        edits.push(Edit::new(at, at, text));
    }
    // Ciphertext and clear text only: the string leaves its wiping wrapper without a copy.
    let out = std::mem::take(&mut *splice::apply_refs(
        src,
        edits.iter().chain(sealed.iter().map(|(e, _)| e)).collect(),
    )?);
    Ok(Encrypted {
        out,
        leaves,
        sealed,
        meta,
        docs: selected,
    })
}

/// Encrypts, then decrypts the result with the same key and checks the MAC: what kseal
/// writes always opens. A failure here is a kseal bug, reported before anything is written.
pub fn encrypt_checked(
    src: &str,
    stream: &Stream,
    settings: &EncryptSettings<'_>,
    select: &dyn Fn(&Document) -> bool,
) -> Result<String> {
    // A JSON document is written in sops's JSON layout, whatever its input layout was, as sops
    // writes it: the same bytes for the same content.
    if json::is_json_stream(src, stream) && stream.docs.iter().any(select) {
        json::require_json(&stream.docs[0], 0)?;
        let canonical = json::canonical(&stream.docs[0])?;
        if *canonical != *src {
            let st = tree::parse(&canonical)?;
            return encrypt_checked_as_is(&canonical, &st, settings, select);
        }
    }
    encrypt_checked_as_is(src, stream, settings, select)
}

fn encrypt_checked_as_is(
    src: &str,
    stream: &Stream,
    settings: &EncryptSettings<'_>,
    select: &dyn Fn(&Document) -> bool,
) -> Result<String> {
    let enc = encrypt_inner(src, stream, settings, select)?;
    let opts = DecryptOptions {
        plain_only: true,
        ..DecryptOptions::default()
    };
    let internal = |what: &str, e: Error| {
        Error::new(
            Kind::Internal,
            format!(
                "the encrypted output {what} ({}); nothing was written",
                e.message
            ),
        )
    };
    let st = tree::parse(&enc.out).map_err(|e| internal("does not parse", e))?;
    if let Some(policy) = settings.policy {
        policy.check_write(&st, &enc.docs, &enc.meta)?;
    }
    let d = decrypt_inner(&enc.out, &st, settings.key, &opts, Some(&enc))
        .map_err(|e| internal("does not verify", e))?;
    if !d.envelope.as_ref().is_some_and(|e| e.mac_ok) {
        return Err(Error::new(
            Kind::Internal,
            "the encrypted output does not read back as what was encrypted; nothing was written",
        ));
    }
    // The structural MAC is over the output as checked; only its placeholder changes.
    structural::seal(&enc.out, &st, &enc.docs, settings.key)
}

/// Encrypts edited plaintext into an existing envelope: same data key, same wrapped keys,
/// same crypt rule and version, the IVs of unchanged values reused, a new `lastmodified` and MAC.
/// `select` picks the documents to encrypt.
pub fn reencrypt(
    plain: &str,
    env: &Envelope,
    select: &dyn Fn(&Document) -> bool,
) -> Result<String> {
    let stream = tree::parse(plain)?;
    let settings = EncryptSettings {
        key_groups: env.meta.key_groups.clone(),
        rule: env.meta.rule.clone(),
        mac_only_encrypted: env.meta.mac_only_encrypted,
        key: &env.key,
        age: env.meta.age.clone(),
        lastmodified: metadata::now_lastmodified(),
        version: env.meta.version.clone(),
        stash: Some(&env.stash),
        policy: env.policy,
    };
    encrypt_checked(plain, &stream, &settings, select)
}

impl Envelope {
    /// Whether every document of the original file was inside the envelope (sops files are):
    /// then re-encryption covers every document, not only Secrets.
    pub fn covers_all(&self) -> bool {
        self.docs.len() == self.doc_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_hex(hex: &str) -> DataKey {
        let b: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        DataKey::from_bytes(&b).unwrap()
    }

    fn interop(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/interop/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn decrypts_real_sops_files_with_their_data_keys() {
        for (file, hex) in [
            (
                "flux/age.yaml",
                "558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb",
            ),
            (
                "flux/global-secret.yaml",
                "95c21ac70e00e7cfc9c33cbaf95451176e458a504fe665a77f28ba93ff46b595",
            ),
            (
                "flux/merge1.yaml",
                "1c15baa8e9b1775f5db7aabb0d1862485591ccd778c0ca2878992b64118325a7",
            ),
            (
                "flux/merge2.yaml",
                "bf03b7f435e6a4b2f8672d006a52fb3802c24bc294db237243ef09a9f7bda777",
            ),
            (
                "metalkast/secret.enc.yaml",
                "6ec5fc288565ee1142418e1f965b3a97576d585701a7ac01ffdf5426e8e7d02b",
            ),
            (
                "metalkast/two-secrets.enc.yaml",
                "ed93b3ca46c81a650cd93ca7f2026192ba0830462b67597078efbb9a8e1cbbff",
            ),
            (
                "metalkast/four-secrets.enc.yaml",
                "ee6c280fb84962220e51b1a7b9a59c63016c38466d65758af6dabda08741fa39",
            ),
            (
                "sops/example.yaml",
                "9ac088cf7029981341457c39dd56dde54600dfbce9b5ede23aa65c418900ab67",
            ),
        ] {
            let src = interop(file);
            let out = decrypt(&src, &key_hex(hex), &DecryptOptions::default())
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            let env = out.envelope.expect("encrypted");
            assert!(env.mac_ok, "{file}");
            assert!(!out.text.contains("ENC["), "{file}: {}", out.text.as_str());
            assert!(!out.text.contains("sops:"), "{file}");
        }
    }

    #[test]
    fn flux_age_plaintext_and_byte_exact_reencryption() {
        let src = interop("flux/age.yaml");
        let key = key_hex("558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb");
        let out = decrypt(&src, &key, &DecryptOptions::default()).unwrap();
        assert_eq!(
            out.text.as_str(),
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: age\nstringData:\n  key: value\n"
        );
        let env = out.envelope.unwrap();
        let settings = EncryptSettings {
            key_groups: None,
            rule: env.meta.rule.clone(),
            mac_only_encrypted: false,
            key: &env.key,
            age: env.meta.age.clone(),
            lastmodified: env.meta.lastmodified.clone(),
            version: env.meta.version.clone(),
            stash: Some(&env.stash),
            policy: None,
        };
        let again = encrypt(&out.text, &settings, &|_| true).unwrap();
        // sops 3.9 wrote empty key lists and `pgp: []`; kseal writes the 3.10+ layout, and
        // adds its structural MAC as the block's last line: all the rest is what sops wrote.
        let expected: String = src
            .lines()
            .filter(|l| !l.ends_with(": []"))
            .map(|l| format!("{l}\n"))
            .collect();
        let (body, last) = again.trim_end_matches('\n').rsplit_once('\n').unwrap();
        assert!(last.starts_with("  kseal_mac: v1:"), "{last}");
        assert_eq!(format!("{body}\n"), expected);
        let back = decrypt(&again, &key, &DecryptOptions::default()).unwrap();
        assert_eq!(back.text.as_str(), out.text.as_str());
    }

    fn enc_tokens(s: &str) -> Vec<&str> {
        s.match_indices("ENC[")
            .map(|(i, _)| &s[i..i + s[i..].find(']').unwrap() + 1])
            .collect()
    }

    /// Spec section 15: re-encrypting with the recorded data key, IVs, lastmodified and enc
    /// stanzas reproduces every ENC string and the MAC of a real sops file.
    #[test]
    fn byte_exact_reencryption_of_real_sops_files() {
        for (file, hex) in [
            (
                "flux/age.yaml",
                "558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb",
            ),
            (
                "metalkast/four-secrets.enc.yaml",
                "ee6c280fb84962220e51b1a7b9a59c63016c38466d65758af6dabda08741fa39",
            ),
            (
                "metalkast/two-secrets.enc.yaml",
                "ed93b3ca46c81a650cd93ca7f2026192ba0830462b67597078efbb9a8e1cbbff",
            ),
            (
                "sops/example.yaml",
                "9ac088cf7029981341457c39dd56dde54600dfbce9b5ede23aa65c418900ab67",
            ),
        ] {
            let src = interop(file);
            let key = key_hex(hex);
            let out = decrypt(&src, &key, &DecryptOptions::default()).unwrap();
            let env = out.envelope.unwrap();
            let settings = EncryptSettings {
                key_groups: None,
                rule: env.meta.rule.clone(),
                mac_only_encrypted: env.meta.mac_only_encrypted,
                key: &env.key,
                age: env.meta.age.clone(),
                lastmodified: env.meta.lastmodified.clone(),
                version: env.meta.version.clone(),
                stash: Some(&env.stash),
                policy: None,
            };
            let again = encrypt(&out.text, &settings, &|_| true).unwrap();
            assert_eq!(enc_tokens(&again), enc_tokens(&src), "{file}");
            // Outside the `sops:` blocks the file is byte for byte what sops wrote: values
            // that decryption showed as blocks go back on their key's line.
            let body = |t: &str| -> String {
                let mut out = String::new();
                let mut in_sops = false;
                for line in t.split_inclusive('\n') {
                    if line.starts_with("sops:") {
                        in_sops = true;
                    } else if in_sops && !line.starts_with(' ') {
                        in_sops = false;
                    }
                    if !in_sops {
                        out.push_str(line);
                    }
                }
                out
            };
            assert_eq!(body(&again), body(&src), "{file}");
        }
    }

    /// sops 3.13 writes the block in alphabetical order (`enc` before `recipient`), with
    /// empty key lists left out; readers must not care.
    #[test]
    fn reads_the_sops_313_alphabetical_layout() {
        let src = interop("flux/age.yaml");
        let key = key_hex("558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb");
        let (head, block) = src.split_at(src.find("sops:\n").unwrap());
        let enc_start = block.find("      enc: |\n").unwrap();
        let enc_end = block.find("  lastmodified:").unwrap();
        let enc = &block[enc_start..enc_end];
        let line = |k: &str| {
            block
                .lines()
                .find(|l| l.trim_start().starts_with(k))
                .unwrap()
                .to_string()
        };
        let reordered = format!(
            "{head}sops:\n  age:\n    - {}{}      {}\n  {}\n  {}\n  {}\n  {}\n",
            enc.trim_start(),
            "",
            line("- recipient:").trim_start().trim_start_matches("- "),
            line("encrypted_regex:").trim(),
            line("lastmodified:").trim(),
            line("mac:").trim(),
            line("version:").trim(),
        );
        let out = decrypt(&reordered, &key, &DecryptOptions::default())
            .unwrap_or_else(|e| panic!("{e}\n{reordered}"));
        assert!(out.envelope.unwrap().mac_ok);
        assert!(out.text.ends_with("stringData:\n  key: value\n"));
    }

    #[test]
    fn four_secrets_needs_every_document_for_the_mac() {
        let src = interop("metalkast/four-secrets.enc.yaml");
        let key = key_hex("ee6c280fb84962220e51b1a7b9a59c63016c38466d65758af6dabda08741fa39");
        let first_doc_end = src[1..].find("\n---").unwrap() + 2;
        let err = decrypt(&src[..first_doc_end], &key, &DecryptOptions::default())
            .err()
            .unwrap();
        assert_eq!(err.kind, Kind::Integrity);
        let tampered = src.replacen("namespace: test-ns", "namespace: prod-ns", 1);
        assert_eq!(
            decrypt(&tampered, &key, &DecryptOptions::default())
                .err()
                .unwrap()
                .kind,
            Kind::Integrity
        );
        let ignored = decrypt(
            &tampered,
            &key,
            &DecryptOptions {
                ignore_mac: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!ignored.envelope.unwrap().mac_ok);
    }

    /// The Kubernetes rule, a fixed timestamp and a placeholder envelope.
    fn test_settings(key: &DataKey) -> EncryptSettings<'_> {
        EncryptSettings {
            key_groups: None,
            rule: CryptRule::kubernetes(),
            mac_only_encrypted: false,
            key,
            age: vec![AgeEntry {
                recipient: "age1test".into(),
                enc: "-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n-----END AGE ENCRYPTED FILE-----\n"
                    .into(),
            }],
            lastmodified: "2026-11-27T10:00:00Z".into(),
            version: "3.11.0".into(),
            stash: None,
            policy: None,
        }
    }

    #[test]
    fn encrypt_round_trip_keeps_bytes() {
        let src = "# head\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db  # inline\ndata:\n  # note\n  password: czNjcjN0\n  empty: \"\"\n  cert: |\n    line1\n    line2\nstringData:\n  port: 5432\n  flag: 'yes'\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n";
        let key = DataKey::generate().unwrap();
        let settings = test_settings(&key);
        let enc = encrypt(src, &settings, &|d| {
            d.root_mapping().and_then(|m| m.get_str("kind")) == Some("Secret")
        })
        .unwrap();
        assert!(
            !enc.contains("czNjcjN0") && !enc.contains("line1") && !enc.contains(" note"),
            "{enc}"
        );
        assert!(enc.contains("kind: ConfigMap\ndata:\n  a: b\n"));
        let dec = decrypt(&enc, &key, &DecryptOptions::default()).unwrap();
        assert_eq!(dec.text.as_str(), src);
    }

    /// The check `encrypt_checked` runs instead of a full decryption must catch what a
    /// decryption would: values swapped or moved, a clear value changed, a sops block edited.
    #[test]
    fn the_encryption_check_catches_splicing_mistakes() {
        let src = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\ndata:\n  a: YWFh\n  b: YmJi\nstringData:\n  c: |\n    line\n---\nkind: Secret\nstringData:\n  d: dd\n";
        let key = DataKey::generate().unwrap();
        let settings = test_settings(&key);
        let select =
            |d: &Document| d.root_mapping().and_then(|m| m.get_str("kind")) == Some("Secret");
        let stream = tree::parse(src).unwrap();
        let enc = encrypt_inner(src, &stream, &settings, &select).unwrap();
        let check = |out: &str| {
            let st = tree::parse(out)?;
            let d = decrypt_inner(out, &st, &key, &DecryptOptions::default(), Some(&enc))?;
            Ok::<bool, Error>(d.envelope.unwrap().mac_ok)
        };
        assert!(check(&enc.out).unwrap(), "the untouched output must pass");
        // The real decryption agrees (once the structural MAC replaces its placeholder).
        assert_eq!(
            decrypt(
                &structural::seal_text(&enc.out, &key).unwrap(),
                &key,
                &DecryptOptions::default()
            )
            .unwrap()
            .text
            .as_str(),
            src
        );
        let enc_of = |k: &str| {
            let line = enc
                .out
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{k}: ENC[")))
                .unwrap();
            line.split_once(": ").unwrap().1.to_string()
        };
        let (a, b) = (enc_of("a"), enc_of("b"));
        let swapped = enc.out.replace(&a, "@").replace(&b, &a).replace('@', &b);
        let moved = enc.out.replace(&enc_of("d"), &a);
        let renamed = enc.out.replace("namespace: prod", "namespace: dev");
        let dropped_doc = enc.out.split("---\n").next().unwrap().to_string();
        let mac_line = enc
            .out
            .lines()
            .find(|l| l.trim_start().starts_with("mac: "))
            .unwrap();
        let other_mac = enc.out.replace(
            mac_line,
            "    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]",
        );
        for (name, bad) in [
            ("swapped", swapped),
            ("moved", moved),
            ("renamed", renamed),
            ("dropped", dropped_doc),
            ("mac", other_mac),
        ] {
            assert_ne!(bad, enc.out, "{name}: the tampering did not apply");
            assert!(!matches!(check(&bad), Ok(true)), "{name}: not caught");
        }
    }
}
