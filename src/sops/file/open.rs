//! Decryption: the checks before the data key is used, each value opened and typed, the
//! comments opened, the MAC verified, and the plaintext spliced into the original bytes.

use zeroize::Zeroizing;

use super::discover::{self, missing_block_fields, Found};
use super::walk::WALK_BUDGET;
use super::walk::{aad_of, indent_unit, root_mapping_of, typed_leaf, walk_enveloped, Place};
use super::{DecryptOptions, Decrypted, Envelope, IvStash, KeyOpener};
use crate::error::{display_path, Error, Reason, Result};
use crate::secret::DataKey;
use crate::sops::chunked;
use crate::sops::mac::{self, MacHasher};
use crate::sops::metadata::Metadata;
use crate::sops::rules::CryptRule;
use crate::sops::structural;
use crate::sops::value;
use crate::yaml::json;
use crate::yaml::scalar::{self, Style, Typed};
use crate::yaml::splice::{self, Edit, RenderContext};
use crate::yaml::tree::{self, CommentOwner, Document, Mapping, Scalar, Stream};

/// Decrypts a file. Plain files (no `sops:` block) come back unchanged. The MAC is verified
/// before anything is returned unless `ignore_mac`.
pub fn decrypt(src: &str, opener: &dyn KeyOpener, opts: &DecryptOptions) -> Result<Decrypted> {
    // An INI file is no YAML: say what it is rather than report a syntax error. (A dotenv
    // file parses; it is caught where no envelope is found.) Encrypted files pay nothing.
    let stream = tree::parse(src).map_err(|e| match discover::refuse_other_format(src) {
        Err(other) => other,
        Ok(()) => e,
    })?;
    decrypt_stream(src, &stream, opener, opts)
}

/// `decrypt` of a file already parsed into `stream`.
pub fn decrypt_stream(
    src: &str,
    stream: &Stream,
    opener: &dyn KeyOpener,
    opts: &DecryptOptions,
) -> Result<Decrypted> {
    let Some(Found { docs, meta }) = discover::discover(stream, opts.policy)? else {
        discover::refuse_stray_ciphertext(src, stream)?;
        return Ok(Decrypted {
            text: Zeroizing::new(src.to_string()),
            envelope: None,
        });
    };
    let warnings = check_before_opening(stream, &docs, &meta, opts)?;
    let key = opener.open(&meta)?;
    // Checked before any value is opened: it needs only the data key and the text.
    let structural_ok = match &meta.kseal_mac {
        Some(stored) => structural::verify(stored, stream, &docs, &meta, &key)?,
        None => true,
    };
    if !structural_ok && !opts.ignore_mac {
        return Err(Error::integrity(
            "structural MAC mismatch: the file was modified after kseal encrypted it (key names, empty or null values, documents, the crypt rule or the recipients)",
        )
        .with_reason(Reason::MacMismatch));
    }
    let mut opening = Opening::new(src, &key, &meta, opts.plain_only);
    let mut budget = WALK_BUDGET;
    for &di in &docs {
        opening.document(stream, di, &mut budget)?;
    }
    let Opening {
        hasher,
        mut stash,
        edits,
        ..
    } = opening;
    let mac_ok = verify_mac(&meta, &key, &hasher.finish(), &mut stash)? && structural_ok;
    if !mac_ok && !opts.ignore_mac {
        return Err(mac_mismatch());
    }
    Ok(Decrypted {
        text: splice::apply(src, edits)?,
        envelope: Some(Envelope {
            structural: meta.kseal_mac.is_some() && structural_ok,
            meta,
            key,
            stash,
            mac_ok,
            docs,
            doc_count: stream.docs.len(),
            policy: opts.policy,
            warnings,
        }),
    })
}

/// The caller's requirements on an envelope, before its data key is opened: a structural MAC
/// when one is required, and the policy's read checks (returning what it only warns about).
fn check_before_opening(
    stream: &Stream,
    docs: &[usize],
    meta: &Metadata,
    opts: &DecryptOptions,
) -> Result<Vec<String>> {
    crate::sops::structural::require(meta, opts.require_structural_mac)?;
    let mut warnings = match opts.policy {
        Some(policy) => policy.check_read(stream, docs, meta)?,
        None => Vec::new(),
    };
    warnings.extend(discover::version_warning(stream, docs[0], meta));
    Ok(warnings)
}

/// The error of a MAC that does not match.
pub(super) fn mac_mismatch() -> Error {
    Error::integrity(
        "MAC mismatch: the file was modified after it was encrypted (values, keys, documents or clear-text fields)",
    )
    .with_reason(Reason::MacMismatch)
}

/// What the crypt rule says about the values of one encrypted document.
pub(super) struct DocRules<'m> {
    pub rule: &'m CryptRule,
    /// The rule is a comment rule: what is encrypted is what looks encrypted.
    pub comment_rule: bool,
    /// The document is JSON (values typed by sops's JSON store).
    pub json: bool,
    /// What the `sops:` block lacks (a file cut short), for the error on a clear value.
    pub block_gaps: Vec<&'static str>,
}

impl<'m> DocRules<'m> {
    pub fn new(src: &str, doc: &Document, root: &Mapping, meta: &'m Metadata) -> Self {
        DocRules {
            rule: &meta.rule,
            comment_rule: meta.rule.is_comment_rule(),
            json: json::is_json_doc(src, doc),
            block_gaps: missing_block_fields(root),
        }
    }
}

/// A value of an encrypted document as stored, before anything is decrypted.
pub(super) enum Stored {
    /// A null: sops leaves it out of the MAC.
    Null,
    /// A value the crypt rule leaves in clear, typed as the MAC hashes it.
    Clear(Typed),
    /// An empty string where the rule encrypts: sops never encrypts it.
    Empty,
    /// An `ENC[...]` value where the rule encrypts.
    Sealed,
}

/// Classifies a stored value at path `p`; a clear value where the rule encrypts, or an
/// encrypted one reached through an alias, is an error.
pub(super) fn stored_value(s: &Scalar, p: &[String], place: Place, d: &DocRules) -> Result<Stored> {
    // An `ENC[...]` text is a string however it is quoted: no typing (and no copy of a
    // possibly large value) is needed to know it.
    let looks_encrypted = value::is_encrypted(&s.value)
        && s.tag
            .as_deref()
            .is_none_or(|t| t == "tag:yaml.org,2002:str");
    let should = if d.comment_rule {
        looks_encrypted
    } else {
        d.rule.should_encrypt(p)
    };
    if should && looks_encrypted {
        if place.in_alias {
            return Err(Error::format(
                "an encrypted value is reached through a YAML alias",
            ));
        }
        return Ok(Stored::Sealed);
    }
    let typed = typed_leaf(s, d.json)?;
    if typed == Typed::Null {
        return Ok(Stored::Null);
    }
    if !should {
        return Ok(Stored::Clear(typed));
    }
    match &typed {
        Typed::Str(v) if v.is_empty() => Ok(Stored::Empty),
        Typed::Str(v) if v.starts_with("ENC[") => Err(Error::format(
            "malformed encrypted value: it is not an AES256_GCM sops value",
        )),
        // Without a stated crypt rule, sops's default (every value) applies: a clear value
        // then says the block lost its last lines, not that a value was replaced.
        _ if !d.block_gaps.is_empty() => Err(Error::format(format!(
            "the `sops:` block is incomplete: it has no {}, so which values are encrypted is unknown; the file was probably cut short",
            d.block_gaps.join(" and no ")
        ))
        .at_path("sops")
        .with_hint("restore the file from version control")),
        _ => Err(Error::integrity(
            "the value is not encrypted although the file's crypt rule says it must be",
        )
        .with_hint("someone replaced an encrypted value with clear text: restore the file from version control")),
    }
}

/// A decryption in progress: the MAC so far, the IVs seen, the edits that put plaintext in.
struct Opening<'a> {
    src: &'a str,
    key: &'a DataKey,
    meta: &'a Metadata,
    plain_only: bool,
    hasher: MacHasher,
    stash: IvStash,
    edits: Vec<Edit>,
}

impl<'a> Opening<'a> {
    fn new(src: &'a str, key: &'a DataKey, meta: &'a Metadata, plain_only: bool) -> Self {
        Opening {
            src,
            key,
            meta,
            plain_only,
            hasher: MacHasher::new(meta.mac_only_encrypted),
            stash: IvStash::default(),
            edits: Vec::new(),
        }
    }

    /// Opens every value and comment of document `di` and takes out its `sops` entry.
    fn document(&mut self, stream: &Stream, di: usize, budget: &mut u64) -> Result<()> {
        let doc = &stream.docs[di];
        let Some(root) = root_mapping_of(doc, di)? else {
            return Ok(());
        };
        let src = self.src;
        let rules = DocRules::new(src, doc, root, self.meta);
        let removal = remove_sops_edit(src, root)?;
        // Values are rendered against the text as it will be once the `sops:` block is gone:
        // a block scalar that ends the file then ends it again, without the line break kseal
        // added before the block when the file had none.
        let ctx = RenderContext {
            src: if removal.end == src.len() {
                &src[..removal.start]
            } else {
                src
            },
            unit: indent_unit(doc),
            json: rules.json,
        };
        walk_enveloped(
            root,
            di,
            budget,
            &mut |p, s, place| match stored_value(s, p, place, &rules)? {
                Stored::Null => Ok(()),
                Stored::Clear(typed) => {
                    self.hasher.value(&typed.to_sops_bytes(), false);
                    Ok(())
                }
                Stored::Empty => {
                    self.hasher.value(b"", true);
                    Ok(())
                }
                Stored::Sealed => self.value(&ctx, s, p, place),
            },
        )?;
        open_comments(doc, self.key, &mut self.edits, &mut self.stash).map_err(|e| e.in_doc(di))?;
        self.edits.push(removal);
        Ok(())
    }

    /// Opens one `ENC[...]` value at path `p`: hashes its typed plaintext, records its IV and
    /// queues the edit that writes the plaintext in its place.
    fn value(&mut self, ctx: &RenderContext, s: &Scalar, p: &[String], place: Place) -> Result<()> {
        let aad = aad_of(p);
        if self.plain_only && s.value.len() >= chunked::MIN_LEN {
            if let Some(t) = self.large_str(s, &aad) {
                self.edits.push(splice::decrypted_edit_owned(ctx, s, t));
                return Ok(());
            }
        }
        let mut ev = value::parse(&s.value)?;
        if ev.ty == "comment" {
            // sops writes a comment inside a list as a list element; it is a comment again
            // here, written back as one, and never part of the MAC.
            let pt = value::open(self.key, &ev, aad.as_bytes())?;
            let comment = String::from_utf8_lossy(&pt).replace(['\n', '\r'], " ");
            self.edits.push(splice::comment_for_item(
                self.src,
                s,
                &comment,
                place.in_seq,
            ));
            self.stash.record(&aad, ev);
            return Ok(());
        }
        let mut pt = if self.plain_only {
            value::open_taking(self.key, &mut ev, aad.as_bytes())?
        } else {
            value::open(self.key, &ev, aad.as_bytes())?
        };
        let t = if ev.ty == "str" {
            // Move the plaintext into the typed value instead of copying it.
            match String::from_utf8(std::mem::take(&mut *pt)) {
                Ok(v) => Typed::Str(v),
                Err(e) => Typed::Binary(e.into_bytes()),
            }
        } else {
            scalar::from_sops(&pt, &ev.ty)
                .map_err(|e| Error::format(e.to_string()).with_source(e))?
        };
        self.hasher.value(&t.to_sops_bytes(), true);
        if !self.plain_only {
            self.stash
                .record_value(&aad, ev, !matches!(s.style, Style::Literal | Style::Folded));
        }
        self.edits.push(splice::decrypted_edit_owned(ctx, s, t));
        Ok(())
    }
}

impl Opening<'_> {
    /// A large `str` value opened in chunks while the MAC hashes them on a second core
    /// (`decrypt` keeps no IV stash, so nothing else needs the ciphertext). None when the
    /// value is of another type or fails to open: the caller then opens it as any other, and
    /// reports its error as it always did (the hasher is as it was before this value).
    fn large_str(&mut self, s: &Scalar, aad: &str) -> Option<Typed> {
        if value::fields(&s.value).ok()?.ty != "str" {
            return None;
        }
        let before = self.hasher.clone();
        match chunked::open_hashing(self.key, &s.value, aad.as_bytes(), &mut self.hasher) {
            // Move the plaintext into the typed value instead of copying it.
            Ok(mut pt) => Some(match String::from_utf8(std::mem::take(&mut *pt)) {
                Ok(v) => Typed::Str(v),
                Err(e) => Typed::Binary(e.into_bytes()),
            }),
            Err(_) => {
                self.hasher = before;
                None
            }
        }
    }
}

/// Whether the stored MAC opens and equals the computed one (recording its IV).
fn verify_mac(meta: &Metadata, key: &DataKey, computed: &str, stash: &mut IvStash) -> Result<bool> {
    if meta.mac.is_empty() {
        return Ok(false);
    }
    let ev = value::parse(&meta.mac).map_err(|e| {
        let message = format!("the stored MAC is unreadable: {}", e.message);
        Error::integrity(message).with_source(e)
    })?;
    let aad = meta.mac_aad()?;
    let stored = match value::open(key, &ev, aad.as_bytes()) {
        Ok(p) => p,
        Err(_) => return Ok(false),
    };
    let ok = mac::equal(&stored, computed.as_bytes());
    stash.record(&aad, ev);
    Ok(ok)
}

/// Opens every encrypted comment of a document (authenticated under its owner's path) and
/// queues the edits that write them back in clear.
pub(super) fn open_comments(
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

/// The edit that removes a document's `sops` entry, so that the output is the text before
/// encryption.
fn remove_sops_edit(src: &str, root: &Mapping) -> Result<Edit> {
    let idx = root
        .entries
        .iter()
        .position(|(k, _)| k.as_scalar().is_some_and(|s| s.value == "sops"))
        .ok_or_else(|| Error::new(crate::error::Kind::Internal, "sops entry vanished"))?;
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
