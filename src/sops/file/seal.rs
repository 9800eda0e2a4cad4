//! Encryption: the documents a caller selects become one envelope. Their values are collected
//! in sops's walk order, the ones the crypt rule covers are sealed, the MAC hashes them all,
//! and the `sops:` block is rendered after each document, all spliced into the original bytes.

use std::borrow::Cow;

use super::walk::WALK_BUDGET;
use super::walk::{aad_of, indent_unit, root_mapping_of, sops_entry, typed_leaf, walk, Place};
use super::{EncryptSettings, IvStash};
use crate::error::{Error, Kind, Reason, Result};
use crate::secret::DataKey;
use crate::sops::mac::MacHasher;
use crate::sops::metadata::{self, Metadata};
use crate::sops::rules::CryptRule;
use crate::sops::structural;
use crate::sops::value;
use crate::yaml::json;
use crate::yaml::scalar::{self, Style, Typed};
use crate::yaml::splice::{self, Edit};
use crate::yaml::tree::{self, CommentOwner, Document, Mapping, Scalar, Stream};

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

/// `encrypt` of a file already parsed into `stream`.
pub fn encrypt_stream(
    src: &str,
    stream: &Stream,
    settings: &EncryptSettings<'_>,
    select: &dyn Fn(&Document) -> bool,
) -> Result<String> {
    let enc = encrypt_inner(src, stream, settings, select)?;
    structural::seal_text(&enc.out, settings.key)
}

/// Below this many bytes of values the MAC is computed inline: a thread costs more than it saves.
const PARALLEL_MAC_BYTES: usize = 256 * 1024;

/// One value of the input in walk order, as the MAC sees it, and how to seal it.
pub(super) struct Leaf<'n> {
    pub bytes: LeafBytes<'n>,
    pub enc: bool,
    pub seal: Option<ToSeal<'n>>,
}

pub(super) struct ToSeal<'n> {
    pub aad: String,
    ty: &'static str,
    scalar: &'n Scalar<'n>,
}

/// A value's bytes, borrowed from the tree or typed into a copy that is wiped when dropped.
pub(super) struct LeafBytes<'n>(pub Cow<'n, [u8]>);

impl Drop for LeafBytes<'_> {
    fn drop(&mut self) {
        if let Cow::Owned(v) = &mut self.0 {
            zeroize::Zeroize::zeroize(v);
        }
    }
}

/// An encryption and what it is made of, for the read-back check (`verify`).
pub(super) struct Encrypted<'n> {
    pub out: String,
    /// Every value in walk order, as the MAC saw it.
    pub leaves: Vec<Leaf<'n>>,
    /// The edit of each sealed value (in the order of the sealed leaves) and the length of
    /// its `ENC[...]` text inside the edit.
    pub sealed: Vec<(Edit, usize)>,
    pub meta: Metadata,
    pub docs: Vec<usize>,
}

impl Encrypted<'_> {
    /// The `ENC[...]` text of the `j`-th sealed value.
    pub fn sealed_text(&self, j: usize) -> Option<&str> {
        let (edit, len) = self.sealed.get(j)?;
        let at = edit.text.find(value::PREFIX)?;
        edit.text.get(at..at + len)
    }
}

/// Where a document's `sops:` block goes: a YAML block after its last line, or a JSON entry
/// before the root's closing brace.
enum BlockAt {
    Yaml {
        at: usize,
        col: usize,
        unit: usize,
        needs_break: bool,
    },
    Json(usize),
}

/// Encrypts without the structural MAC (its placeholder stays) and keeps what the read-back
/// check compares.
pub(super) fn encrypt_inner<'n>(
    src: &'n str,
    stream: &'n Stream,
    settings: &EncryptSettings<'_>,
    select: &dyn Fn(&Document) -> bool,
) -> Result<Encrypted<'n>> {
    let docs = select_documents(stream, select)?;
    let empty_stash = IvStash::default();
    let stash = settings.stash.unwrap_or(&empty_stash);
    let mut edits: Vec<Edit> = Vec::new();
    let mut blocks: Vec<BlockAt> = Vec::new();
    let mut leaves: Vec<Leaf<'_>> = Vec::new();
    let mut budget = WALK_BUDGET;
    for &di in &docs {
        let doc = &stream.docs[di];
        let Some(root) = root_mapping_of(doc, di)? else {
            continue;
        };
        let json = json::is_json_doc(src, doc);
        if root.flow {
            refuse_flow(doc, di, json)?;
        }
        collect_leaves(src, doc, di, json, &settings.rule, &mut budget, &mut leaves)?;
        seal_comments(doc, di, settings, stash, &mut edits)?;
        blocks.push(block_at(src, doc, root, json)?);
    }
    let (sealed, mac_text) = seal_and_hash(src, &leaves, settings, stash)?;
    let mac = stash.seal(
        settings.key,
        mac_text.as_bytes(),
        &settings.lastmodified,
        "str",
    )?;
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
    edits.extend(render_blocks(src, &meta, blocks));
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
        docs,
    })
}

/// Refuses input that already carries a `sops:` block (in any document).
pub fn refuse_encrypted(stream: &Stream) -> Result<()> {
    for (i, d) in stream.docs.iter().enumerate() {
        refuse_encrypted_doc(d, i)?;
    }
    Ok(())
}

fn refuse_encrypted_doc(doc: &Document, i: usize) -> Result<()> {
    if sops_entry(doc).is_some() {
        return Err(Error::new(
            Kind::Refused,
            "the input is already encrypted (it has a `sops:` block)",
        )
        .in_doc(i)
        .with_reason(Reason::AlreadyEncrypted));
    }
    Ok(())
}

/// The documents to encrypt: the input must not be encrypted already, every document must
/// be a mapping, and `select` must pick at least one.
fn select_documents(stream: &Stream, select: &dyn Fn(&Document) -> bool) -> Result<Vec<usize>> {
    for (i, d) in stream.docs.iter().enumerate() {
        root_mapping_of(d, i)?;
        refuse_encrypted_doc(d, i)?;
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
    Ok(selected)
}

/// A flow-style root (`{...}`) is encrypted only as JSON.
fn refuse_flow(doc: &Document, di: usize, json: bool) -> Result<()> {
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
    json::require_json(doc, di)
}

/// Appends every value of document `di` in walk order to `leaves`.
fn collect_leaves<'n>(
    src: &str,
    doc: &'n Document<'n>,
    di: usize,
    json: bool,
    rule: &CryptRule,
    budget: &mut u64,
    leaves: &mut Vec<Leaf<'n>>,
) -> Result<()> {
    let mut path = Vec::new();
    let mut f = |p: &[String], s: &'n Scalar, place: Place| -> Result<()> {
        if let Some(leaf) = leaf_of(src, s, p, place, json, rule)? {
            leaves.push(leaf);
        }
        Ok(())
    };
    walk(
        doc.root.as_ref().expect("root"),
        &mut path,
        Place::TOP,
        budget,
        &mut f,
    )
    .map_err(|e| e.in_doc(di))
}

/// A value at path `p` as the MAC hashes it, and whether and how to seal it (None: a null).
fn leaf_of<'n>(
    src: &str,
    s: &'n Scalar<'n>,
    p: &[String],
    place: Place,
    json: bool,
    rule: &CryptRule,
) -> Result<Option<Leaf<'n>>> {
    // Quoted and block scalars, and plain text that can only be a string, are strings:
    // skip typing, which would copy a possibly large value.
    let (bytes, ty): (Cow<'n, [u8]>, &'static str) = if s.tag.is_none()
        && (s.style != Style::Plain || !json && scalar::plain_is_safe(&s.value))
    {
        (Cow::Borrowed(s.value.as_bytes()), "str")
    } else {
        let typed = typed_leaf(s, json)?;
        if typed == Typed::Null {
            return Ok(None);
        }
        (
            Cow::Owned(typed.to_sops_bytes().into_owned()),
            typed.sops_type(),
        )
    };
    let enc = rule.should_encrypt(p);
    if !enc && tree::final_break_dropped(src, s) {
        // A clear block that ends the input without a line break is followed by one (and
        // the `sops:` block) in the output: its readers, sops included, and so the MAC, see
        // the value with the final `\n`.
        let mut with_break = bytes.into_owned();
        with_break.push(b'\n');
        return Ok(Some(Leaf {
            bytes: LeafBytes(Cow::Owned(with_break)),
            enc: false,
            seal: None,
        }));
    }
    // Empty strings stay `""` (sops never encrypts them).
    if !enc || bytes.is_empty() && ty == "str" {
        return Ok(Some(Leaf {
            bytes: LeafBytes(bytes),
            enc,
            seal: None,
        }));
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
    Ok(Some(Leaf {
        bytes: LeafBytes(bytes),
        enc: true,
        seal: Some(ToSeal {
            aad: aad_of(p),
            ty,
            scalar: s,
        }),
    }))
}

/// Queues the edits that seal the comments the crypt rule covers in document `di`.
fn seal_comments(
    doc: &Document,
    di: usize,
    settings: &EncryptSettings<'_>,
    stash: &IvStash,
    edits: &mut Vec<Edit>,
) -> Result<()> {
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
        let sealed = stash.seal(settings.key, c.text.as_bytes(), &aad, "comment")?;
        edits.push(Edit::new(c.start + 1, c.end, sealed));
    }
    Ok(())
}

/// Where the `sops:` block of a document goes.
fn block_at(src: &str, doc: &Document, root: &Mapping, json: bool) -> Result<BlockAt> {
    if json {
        // Before the root's closing brace: the `sops` object is its last entry.
        return Ok(BlockAt::Json(root_close(src, root)?));
    }
    let node = doc.root.as_ref().expect("root");
    let end = splice::node_end(src, node);
    let at = if src[..end].ends_with('\n') {
        end
    } else {
        splice::end_of_line(src, end)
    };
    // The blank lines after a keep-chomped block (`|+`) are part of its value: the block goes
    // after them, or the value would lose them.
    let at = if splice::ends_with_keep_block(src, node) {
        splice::after_blank_lines(src, at)
    } else {
        at
    };
    // Comments that trail the last value belong to its mapping: the block goes after them,
    // where sops puts it, or sops would read them as part of its metadata.
    let at = splice::after_trailing_comments(src, at);
    Ok(BlockAt::Yaml {
        at,
        col: root.col,
        unit: indent_unit(doc),
        needs_break: !src[..at].ends_with('\n'),
    })
}

/// Where the closing `}` of a JSON root object stands, less the line break before it.
fn root_close(src: &str, root: &Mapping) -> Result<usize> {
    let close = src[..root.end.min(src.len())]
        .rfind('}')
        .filter(|&c| c > root.start)
        .ok_or_else(|| Error::new(Kind::Internal, "no closing brace for the JSON object"))?;
    Ok(src[..close].trim_end_matches(['\n', '\r', ' ', '\t']).len())
}

/// The insertions of the `sops:` block: JSON entries first, then YAML blocks, in document
/// order (the order the edits were always queued in).
fn render_blocks(src: &str, meta: &Metadata, blocks: Vec<BlockAt>) -> Vec<Edit> {
    let eol = splice::eol_of(src);
    let (json, yaml): (Vec<_>, Vec<_>) = blocks
        .into_iter()
        .partition(|b| matches!(b, BlockAt::Json(_)));
    json.into_iter()
        .chain(yaml)
        .map(|b| match b {
            BlockAt::Json(at) => Edit::new(at, at, metadata::render_json(meta)),
            BlockAt::Yaml {
                at,
                col,
                unit,
                needs_break,
            } => {
                let block = metadata::render(meta, col, unit, eol);
                let text = if needs_break {
                    format!("{eol}{}", block.trim_end_matches(['\n', '\r']))
                } else {
                    block
                };
                Edit::new(at, at, text)
            }
        })
        .collect()
}

/// Seals the values the crypt rule covers and computes the MAC over every value. For a large
/// file the two run side by side on two cores.
fn seal_and_hash(
    src: &str,
    leaves: &[Leaf<'_>],
    settings: &EncryptSettings<'_>,
    stash: &IvStash,
) -> Result<(Vec<(Edit, usize)>, String)> {
    let mut sealed = Vec::new();
    let hashed: usize = leaves.iter().map(|l| l.bytes.0.len()).sum();
    let only_encrypted = settings.mac_only_encrypted;
    let mac_text = if hashed >= PARALLEL_MAC_BYTES {
        std::thread::scope(|sc| {
            let hasher = sc.spawn(|| hash_all(leaves, only_encrypted));
            let done = seal_all(src, leaves, settings.key, stash, &mut sealed);
            let mac = hasher
                .join()
                .map_err(|_| Error::new(Kind::Internal, "the MAC thread failed"));
            done.and(mac)
        })?
    } else {
        seal_all(src, leaves, settings.key, stash, &mut sealed)?;
        hash_all(leaves, only_encrypted)
    };
    Ok((sealed, mac_text))
}

/// The MAC over every value in order.
fn hash_all(leaves: &[Leaf<'_>], only_encrypted: bool) -> String {
    let mut hasher = MacHasher::new(only_encrypted);
    for l in leaves {
        hasher.value(&l.bytes.0, l.enc);
    }
    hasher.finish()
}

/// The edit of each value to seal, with its `ENC[...]` text's length, in walk order.
fn seal_all(
    src: &str,
    leaves: &[Leaf<'_>],
    key: &DataKey,
    stash: &IvStash,
    sealed: &mut Vec<(Edit, usize)>,
) -> Result<()> {
    for l in leaves {
        let Some(t) = &l.seal else { continue };
        let (text, inline) = stash.seal_value(key, &l.bytes.0, &t.aad, t.ty)?;
        let block = matches!(t.scalar.style, Style::Literal | Style::Folded);
        let len = text.len();
        let edit = if block && inline == Some(true) {
            splice::inline_encrypted_edit(src, t.scalar, &text)
        } else {
            splice::encrypted_edit(src, t.scalar, text)
        };
        sealed.push((edit, len));
    }
    Ok(())
}
