//! Envelope discovery: which documents of a parsed file carry the `sops:` block, what the
//! block says, and the refusals that need nothing but the text (one file is one envelope; a
//! file without one holds no ciphertext; sops formats kseal does not read).

use super::walk::sops_entry;
use super::EnvelopePolicy;
use crate::error::{display_path, Error, Kind, Result};
use crate::sops::metadata::Metadata;
use crate::sops::rules::CryptRule;
use crate::yaml::tree::{Mapping, Node, Stream};

/// The envelope of a file: the documents inside it and their (identical) `sops:` block.
pub(super) struct Found {
    /// 0-based indexes of the documents that carry the block.
    pub docs: Vec<usize>,
    pub meta: Metadata,
}

/// Finds the envelope of a file, None when no document carries a `sops:` block. The blocks
/// must agree, the caller's `policy` must accept what stands outside them, and some key must
/// be one kseal can open (age).
pub(super) fn discover(
    stream: &Stream,
    policy: Option<&dyn EnvelopePolicy>,
) -> Result<Option<Found>> {
    let docs: Vec<usize> = stream
        .docs
        .iter()
        .enumerate()
        .filter(|(_, d)| sops_entry(d).is_some())
        .map(|(i, _)| i)
        .collect();
    let Some(&first) = docs.first() else {
        return Ok(None);
    };
    let meta_node = &sops_entry(&stream.docs[first]).expect("checked").1;
    let meta = Metadata::from_mapping(
        meta_node
            .as_mapping()
            .ok_or_else(|| Error::format("the `sops` entry is not a mapping").in_doc(first))?,
    )
    .map_err(|e| e.in_doc(first))?;
    same_block_everywhere(stream, &docs[1..], &meta)?;
    if let Some(policy) = policy {
        policy.check_outside(stream, &docs)?;
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
    Ok(Some(Found { docs, meta }))
}

/// sops (3.7 to 3.13) refuses a block whose `version` is missing or not MAJOR.MINOR.PATCH
/// ("Version string empty", "No Major.Minor.Patch elements found"), even with --ignore-mac.
/// kseal opens it (the MACs still decide whether the file is intact) but says so, since the
/// file cannot go back to sops as it is; a block cut short is named as such where the walk
/// finds it (`missing_block_fields`), so it gets no second message here.
pub(super) fn version_warning(stream: &Stream, first: usize, meta: &Metadata) -> Option<String> {
    let cut_short = stream.docs[first]
        .root_mapping()
        .is_some_and(|m| !missing_block_fields(m).is_empty());
    if cut_short || is_semver(&meta.version) {
        return None;
    }
    let what = if meta.version.is_empty() {
        "has no `version`".to_string()
    } else {
        let shown: String = meta.version.chars().take(40).collect();
        format!("has the `version` {shown:?}, which is not MAJOR.MINOR.PATCH")
    };
    Some(format!(
        "document {}: the `sops` block {what}: sops refuses such a file (kseal's next write adds one; or restore the file from Git)",
        first + 1
    ))
}

/// Semantic version syntax as sops parses it: three numbers without leading zeros, then an
/// optional `-prerelease` and `+build`.
pub(super) fn is_semver(v: &str) -> bool {
    let core = v.split_once('+').map_or(v, |(c, _)| c);
    let core = core.split_once('-').map_or(core, |(c, _)| c);
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

/// Every document after the first carries the first one's block: what sops writes.
fn same_block_everywhere(stream: &Stream, rest: &[usize], meta: &Metadata) -> Result<()> {
    for &i in rest {
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
    Ok(())
}

/// A file without an envelope passes as plain text only when nothing in it is ciphertext.
pub(super) fn refuse_stray_ciphertext(src: &str, stream: &Stream) -> Result<()> {
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
    Ok(())
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

pub(super) fn refuse_other_format(src: &str) -> Result<()> {
    match other_sops_format(src) {
        Some(kind) => Err(Error::new(
            Kind::Unsupported,
            format!("this is a sops {kind} file: kseal reads sops YAML and JSON files only"),
        )
        .with_hint("decrypt it with sops (`sops decrypt FILE`)")),
        None => Ok(()),
    }
}

/// What a `sops:` block that sops wrote always has and this one lacks: a crypt rule (sops
/// writes one, even its default) and the `mac`, the fields a file cut short loses first.
pub(super) fn missing_block_fields(root: &Mapping) -> Vec<&'static str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_as_sops_parses_them() {
        for ok in ["3.11.0", "3.7.3", "0.0.1", "3.9.0-rc.1", "3.10.0+build"] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in ["", "3", "3.11", "abc", "3.011.0", "3.11.0.1", "v3.11.0"] {
            assert!(!is_semver(bad), "{bad}");
        }
    }
}
