//! The read-back check of kseal's own encryption: the output is parsed again and every value
//! compared with what was sealed and hashed, so that what kseal writes always opens. Nothing
//! is decrypted but comments; a failure is a kseal bug, reported before anything is written.

use super::discover::{self, Found};
use super::open::{self, open_comments, stored_value, DocRules, Stored};
use super::seal::{encrypt_inner, Encrypted};
use super::walk::{aad_of, root_mapping_of, walk_enveloped, WALK_BUDGET};
use super::{EncryptSettings, IvStash};
use crate::error::{Error, Kind, Result};
use crate::sops::metadata::Metadata;
use crate::sops::structural;
use crate::yaml::json;
use crate::yaml::tree::{self, Document, Stream};

/// Encrypts, then checks that the output reads back as what was encrypted, with the same key
/// and MAC: what kseal writes always opens. A failure here is a kseal bug, reported before
/// anything is written.
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
            return checked(encrypt_inner(&canonical, &st, settings, select)?, settings);
        }
    }
    checked(encrypt_inner(src, stream, settings, select)?, settings)
}

/// The output of an encryption once it passed the caller's write checks and read back as
/// what was encrypted, with its structural MAC.
fn checked(enc: Encrypted<'_>, settings: &EncryptSettings<'_>) -> Result<String> {
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
    if !read_back(&st, &enc, settings).map_err(|e| internal("does not verify", e))? {
        return Err(Error::new(
            Kind::Internal,
            "the encrypted output does not read back as what was encrypted; nothing was written",
        ));
    }
    // The structural MAC is over the output as checked; only its placeholder changes, in place.
    let (value, spans) = structural::seal_spans(&enc.out, &st, &enc.docs, settings.key)?;
    drop(st);
    Ok(structural::fill(enc.out, &value, &spans))
}

/// Reads `enc`'s output (parsed into `st`) back: each encrypted value must be exactly the
/// `ENC[...]` text sealed for its path, each value what was hashed, the `sops:` blocks what was
/// written. False when the output has neither an envelope nor a value that looks encrypted;
/// an error for any difference.
pub(super) fn read_back(
    st: &Stream,
    enc: &Encrypted<'_>,
    settings: &EncryptSettings<'_>,
) -> Result<bool> {
    let Some(Found { docs, meta }) = discover::discover(st, settings.policy)? else {
        discover::refuse_stray_ciphertext(&enc.out, st)?;
        return Ok(false);
    };
    if docs != enc.docs {
        return Err(Error::new(
            Kind::Internal,
            "the documents carrying a `sops:` block are not the encrypted ones",
        ));
    }
    let mut cmp = Comparison {
        enc,
        pos: 0,
        sealed_seen: 0,
        ok: true,
    };
    let mut budget = WALK_BUDGET;
    for &di in &docs {
        let doc = &st.docs[di];
        let Some(root) = root_mapping_of(doc, di)? else {
            continue;
        };
        let rules = DocRules::new(&enc.out, doc, root, &meta);
        walk_enveloped(root, di, &mut budget, &mut |p, s, place| {
            match stored_value(s, p, place, &rules)? {
                Stored::Null => {}
                Stored::Clear(typed) => cmp.value(&typed.to_sops_bytes(), false),
                Stored::Empty => cmp.value(b"", true),
                Stored::Sealed => cmp.sealed(s.value.trim_end_matches('\n'), p)?,
            }
            Ok(())
        })?;
        // Comments are opened: they are authenticated under their owner's path only.
        open_comments(doc, settings.key, &mut Vec::new(), &mut IvStash::default())
            .map_err(|e| e.in_doc(di))?;
    }
    if !(cmp.complete() && same_block(&meta, &enc.meta)) {
        return Err(open::mac_mismatch());
    }
    Ok(true)
}

/// Every field of the `sops:` block read back is the one written.
fn same_block(read: &Metadata, written: &Metadata) -> bool {
    read.mac == written.mac
        && read.lastmodified == written.lastmodified
        && read.age == written.age
        && read.key_groups == written.key_groups
        && read.mac_only_encrypted == written.mac_only_encrypted
        && read.rule.key_value() == written.rule.key_value()
        && read.version == written.version
        && read.kseal_mac == written.kseal_mac
}

/// The values read back so far against the encryption's leaves, in walk order (what the MAC
/// would hash, without hashing or decrypting anything again).
struct Comparison<'e, 'n> {
    enc: &'e Encrypted<'n>,
    /// The next leaf to compare.
    pos: usize,
    /// The sealed values read back so far.
    sealed_seen: usize,
    ok: bool,
}

impl Comparison<'_, '_> {
    /// A value read back must be the next leaf, with the same bytes and encryption.
    fn value(&mut self, bytes: &[u8], encrypted: bool) {
        let same = self
            .enc
            .leaves
            .get(self.pos)
            .is_some_and(|l| l.enc == encrypted && *l.bytes.0 == *bytes);
        self.ok &= same;
        self.pos += 1;
    }

    /// An `ENC[...]` text read back at path `p` must be the one sealed for that path, in
    /// order. (A value kept in a block, `|` or `|+`, reads back with the block's final breaks:
    /// `text` has them trimmed.)
    fn sealed(&mut self, text: &str, p: &[String]) -> Result<()> {
        let aad = aad_of(p);
        let enc = self.enc;
        let leaf = enc.leaves.get(self.pos).filter(|l| {
            l.seal.as_ref().is_some_and(|t| t.aad == aad)
                && enc.sealed_text(self.sealed_seen) == Some(text)
        });
        self.sealed_seen += 1;
        let Some(leaf) = leaf else {
            return Err(Error::new(
                Kind::Internal,
                "a value read back is not the ciphertext sealed for its path",
            ));
        };
        self.value(&leaf.bytes.0, true);
        Ok(())
    }

    /// Every leaf and every sealed value was read back, and all matched.
    fn complete(&self) -> bool {
        self.ok && self.pos == self.enc.leaves.len() && self.sealed_seen == self.enc.sealed.len()
    }
}
