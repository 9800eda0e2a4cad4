//! The rules about an encrypted file's `sops:` block: kseal's structural MAC is there, the file
//! was encrypted recently enough (`--max-age`), and its recipients and crypt rule are the ones
//! its `.sops.yaml` rule names. Read without opening anything: no key is needed.

use time::OffsetDateTime;

use super::{Finding, Severity};
use crate::sops::metadata::Metadata;
use crate::sops::rekey;
use crate::sops::rules::CryptRule;
use crate::yaml::tree::{Mapping, Node, Stream};

/// What the envelope rules compare with.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `--max-age` in seconds, with the time to measure from.
    pub max_age: Option<(u64, OffsetDateTime)>,
    /// A missing `kseal_mac` is an error (`--require-structural-mac`), not a warning.
    pub require_structural_mac: bool,
}

/// The envelope a file's `.sops.yaml` rule asks for.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub recipients: Vec<String>,
    pub rule: CryptRule,
    pub mac_only_encrypted: bool,
}

/// The `sops:` block of the first document that has one, with that document's index.
pub fn block<'a>(stream: &'a Stream<'a>) -> Option<(usize, &'a Mapping<'a>)> {
    stream.docs.iter().enumerate().find_map(|(i, d)| {
        d.root_mapping()
            .and_then(|m| m.get("sops"))
            .and_then(Node::as_mapping)
            .map(|m| (i, m))
    })
}

/// Reviews an encrypted file's envelope. `meta` is the parsed block of document `doc`.
pub fn review(
    sops: (usize, &Mapping),
    meta: &Metadata,
    policy: &Policy,
    wanted: Option<&Wanted>,
) -> Vec<Finding> {
    let (doc, block) = sops;
    let at = |key: &str| block.get(key).map_or(block.start, Node::start);
    let mut out = Vec::new();
    if meta.kseal_mac.is_none() {
        let severity = if policy.require_structural_mac {
            Severity::Error
        } else {
            Severity::Warning
        };
        out.push(
            Finding::file(severity, "structural-mac-missing", "the file has no structural MAC (kseal_mac): key names, empty values and the sops block are not authenticated (sops drops it when it rewrites a file); re-encrypt it with kseal".into())
                .in_doc(doc, "sops".into())
                .at(block.start),
        );
    }
    if let Some((max, now)) = policy.max_age {
        out.extend(too_old(meta, max, now, doc, at("lastmodified")));
    }
    out.extend(mislabelled(meta, doc, at("age")));
    if let Some(w) = wanted {
        let diff = rekey::compare_with_rule(meta, &w.recipients, &w.rule, w.mac_only_encrypted);
        if !diff.is_empty() {
            let mut parts = Vec::new();
            if !diff.recipients.added.is_empty() {
                parts.push(format!(
                    "not wrapped for {}",
                    diff.recipients.added.join(", ")
                ));
            }
            if !diff.recipients.removed.is_empty() {
                parts.push(format!(
                    "still wrapped for {}, which .sops.yaml no longer names",
                    diff.recipients.removed.join(", ")
                ));
            }
            parts.extend(diff.rule);
            out.push(
                Finding::error(
                    "recipients-stale",
                    doc,
                    Some("sops".into()),
                    format!(
                        "the envelope differs from its .sops.yaml rule: {}",
                        parts.join("; ")
                    ),
                )
                .at(at("age")),
            );
        }
    }
    out
}

/// Every envelope fits the recipient listed beside it: an SSH stanza carries its key's tag
/// (an X25519 stanza names no recipient, so nothing can be checked without the key).
fn mislabelled(meta: &Metadata, doc: usize, at: usize) -> Vec<Finding> {
    meta.entries()
        .filter_map(|e| crate::keys::check_envelope_owner(&e.recipient, e.enc.as_bytes()).err())
        // A relabelled stanza; an envelope that does not even decode is not this rule's.
        .filter(|e| e.kind == crate::error::Kind::Integrity)
        .map(|e| Finding::error("envelope-mislabelled", doc, Some("sops".into()), e.message).at(at))
        .collect()
}

fn too_old(
    meta: &Metadata,
    max: u64,
    now: OffsetDateTime,
    doc: usize,
    at: usize,
) -> Option<Finding> {
    let path = Some("sops.lastmodified".to_string());
    let Ok(when) = rekey::modified_at(meta) else {
        // A gate that cannot tell the age of a file does not pass it.
        return Some(
            Finding::error(
                "secret-too-old",
                doc,
                path,
                "`lastmodified` in the sops block is not an RFC 3339 time: the file's age is unknown".into(),
            )
            .at(at),
        );
    };
    let age = (now - when).whole_seconds().max(0) as u64;
    (age > max).then(|| {
        Finding::error(
            "secret-too-old",
            doc,
            path,
            format!(
                "last encrypted {} ago ({}), more than --max-age {}: rotate it",
                rekey::format_duration(age),
                meta.lastmodified.trim(),
                rekey::format_duration(max)
            ),
        )
        .at(at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree::parse;

    const FILE: &str = "kind: Secret\ndata:\n  a: x\nsops:\n  age:\n    - recipient: age1abc\n      enc: x\n  lastmodified: \"2026-01-01T00:00:00Z\"\n  mac: x\n  encrypted_regex: ^(data|stringData)$\n  version: 3.11.0\n";

    fn run(src: &str, policy: &Policy, wanted: Option<&Wanted>) -> Vec<Finding> {
        let stream = parse(src).unwrap();
        let meta = rekey::inspect_stream(&stream).unwrap().unwrap();
        review(block(&stream).unwrap(), &meta, policy, wanted)
    }

    #[test]
    fn missing_structural_mac_warns_or_fails() {
        let f = run(FILE, &Policy::default(), None);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].code, f[0].severity),
            ("structural-mac-missing", Severity::Warning)
        );
        let strict = Policy {
            require_structural_mac: true,
            ..Policy::default()
        };
        assert_eq!(run(FILE, &strict, None)[0].severity, Severity::Error);
        let with = FILE.replace("  version:", "  kseal_mac: x\n  version:");
        assert!(run(&with, &strict, None).is_empty());
    }

    #[test]
    fn max_age_and_stale_recipients() {
        let with = FILE.replace("  version:", "  kseal_mac: x\n  version:");
        let now = OffsetDateTime::parse(
            "2026-03-01T00:00:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let old = Policy {
            max_age: Some((30 * 86_400, now)),
            ..Policy::default()
        };
        let f = run(&with, &old, None);
        assert_eq!(f[0].code, "secret-too-old");
        assert!(
            f[0].message.contains("more than --max-age 30d"),
            "{}",
            f[0].message
        );
        let fresh = Policy {
            max_age: Some((90 * 86_400, now)),
            ..Policy::default()
        };
        assert!(run(&with, &fresh, None).is_empty());
        let same = Wanted {
            recipients: vec!["age1abc".into()],
            rule: CryptRule::kubernetes(),
            mac_only_encrypted: false,
        };
        assert!(run(&with, &Policy::default(), Some(&same)).is_empty());
        let other = Wanted {
            recipients: vec!["age1abc".into(), "age1new".into()],
            ..same
        };
        let f = run(&with, &Policy::default(), Some(&other));
        assert_eq!(f[0].code, "recipients-stale");
        assert!(
            f[0].message.contains("not wrapped for age1new"),
            "{}",
            f[0].message
        );
    }
}
