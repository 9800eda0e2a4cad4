//! The encrypt pipeline: a manifest in, its sealed text out. Refuses encrypted input and
//! Secrets kseal could not encrypt, removes what must not be committed (the last-applied
//! annotation; server fields with `clean`), warns about values Kubernetes would type
//! differently, creates and wraps the data key, and encrypts with the read-back check of
//! `sops::file::encrypt_checked`. `reseal` seals edited plaintext into an existing envelope.
//!
//! Notes and warnings go to the caller's [`Host`] as they happen, so they come before a later
//! error exactly as the user would see them printed.

use std::path::Path;

use crate::error::{Error, Kind, Result};
use crate::kube;
use crate::ops::datakey;
use crate::ops::plan::{Plan, Planner};
use crate::secrets::holds_secrets;
use crate::sops::file::{self, EncryptSettings, Envelope};
use crate::sops::metadata;
use crate::yaml::splice;
use crate::yaml::tree::{self, Document, Stream};

/// What the pipeline needs from the program that runs it.
pub trait Host {
    /// A note about a change kseal made to the input (`FILE: ...`).
    fn note(&self, msg: &str);
    /// A warning about the input (`FILE: document N: PATH ...`).
    fn warn(&self, msg: &str);
    /// Refuses an output the program could not read back (its input size limit).
    fn check_output_size(&self, len: usize) -> Result<()>;
}

/// Where an input's recipients come from.
pub enum Recipients<'a> {
    /// A plan made before the input was read.
    Plan(&'a Plan),
    /// The planner, when a `.sops.yaml` rule depends on the namespaces of the input's Secrets:
    /// the input is parsed once, for the plan and the encryption.
    Rules(&'a Planner, Option<&'a Path>),
}

/// Encrypts a new manifest with a fresh data key (after the Kubernetes checks and the removal
/// of fields that must not be committed). `name` is the file the warnings and notes name.
pub fn seal_new(
    name: &str,
    text: &str,
    plan: &Plan,
    clean: bool,
    host: &dyn Host,
) -> Result<String> {
    seal(name, text, Recipients::Plan(plan), clean, host)
}

/// [`seal_new`], with the plan made from the parsed input when `recipients` asks for it.
pub fn seal(
    name: &str,
    text: &str,
    recipients: Recipients<'_>,
    clean: bool,
    host: &dyn Host,
) -> Result<String> {
    let sanitized;
    let planned;
    let (plan, mut stream) = match recipients {
        Recipients::Plan(plan) => {
            refuse_empty(text)?;
            (plan, tree::parse(text)?)
        }
        Recipients::Rules(planner, target) => {
            let stream = tree::parse(text)?;
            planned = planner.plan_for_stream(target, &stream)?;
            refuse_empty(text)?;
            (&planned, stream)
        }
    };
    refuse_encrypted(&stream)?;
    refuse_hidden_secrets(&stream)?;
    let (edits, notes) = kube::sanitize(text, &stream, clean);
    let text = if edits.is_empty() {
        text
    } else {
        sanitized = splice::apply(text, edits)?;
        stream = tree::parse(&sanitized)?;
        sanitized.as_str()
    };
    for n in notes {
        host.note(&format!("{name}: {n}"));
    }
    warn_secrets(name, &stream, host)?;
    let (key, age, key_groups) = datakey::new_data_key_for_plan(plan)?;
    // Every Secret carries the whole `sops:` block with every wrapped key: an output too big to
    // be read back is refused here, before any value is encrypted.
    let secrets = stream.docs.iter().filter(|d| holds_secrets(d)).count();
    let per_block: usize = age
        .iter()
        .chain(key_groups.iter().flat_map(|g| g.groups.iter().flatten()))
        .map(|a| a.enc.len() + a.recipient.len())
        .sum();
    host.check_output_size(text.len().saturating_add(secrets.saturating_mul(per_block)))?;
    let settings = EncryptSettings {
        key_groups,
        rule: plan.rule.clone(),
        mac_only_encrypted: plan.mac_only_encrypted,
        key: &key,
        age,
        lastmodified: metadata::now_lastmodified(),
        version: metadata::SOPS_FORMAT_VERSION.to_string(),
        stash: None,
        policy: Some(&kube::STRICT),
    };
    file::encrypt_checked(text, &stream, &settings, &holds_secrets)
}

/// Seals the edited plaintext of an encrypted file into that file's envelope (same data key,
/// recipients and crypt rule; unchanged values keep their `ENC[...]` text through the IV
/// stash), after the same Kubernetes side as [`seal`]: the last-applied annotation goes
/// (`clean` also drops server fields), `data` must be base64, typing warnings are reported.
pub fn reseal(
    name: &str,
    text: &str,
    envelope: &Envelope,
    select: &dyn Fn(&Document) -> bool,
    clean: bool,
    host: &dyn Host,
) -> Result<String> {
    refuse_empty(text)?;
    let stream = tree::parse(text)?;
    let (edits, notes) = kube::sanitize(text, &stream, clean);
    for n in notes {
        host.note(&format!("{name}: {n}"));
    }
    if edits.is_empty() {
        warn_secrets(name, &stream, host)?;
        drop(stream);
        return file::reencrypt(text, envelope, select);
    }
    drop(stream);
    let sanitized = splice::apply(text, edits)?;
    warn_secrets(name, &tree::parse(&sanitized)?, host)?;
    file::reencrypt(&sanitized, envelope, select)
}

fn refuse_empty(text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::new(
            Kind::Refused,
            "the input is empty: nothing to encrypt",
        ));
    }
    Ok(())
}

/// Refuses encrypted input before any other check: its `data` values are not base64.
fn refuse_encrypted(stream: &Stream<'_>) -> Result<()> {
    crate::sops::file::refuse_encrypted(stream)
}

/// Refuses a document that kubectl applies as a Secret but kseal would leave in plain text (a
/// kind or values brought in by a YAML merge key, a Secret among a list's items).
fn refuse_hidden_secrets(stream: &Stream<'_>) -> Result<()> {
    for (i, doc) in stream.docs.iter().enumerate() {
        if let Some(why) = kube::hidden_secret(doc) {
            return Err(Error::new(
                Kind::Unsupported,
                format!("kubectl applies this document as a Secret, but kseal cannot encrypt it: {why}"),
            )
            .in_doc(i)
            .with_hint("write each Secret as its own document with `kind: Secret` and its keys spelled out (no `<<`)"));
        }
    }
    Ok(())
}

/// Reports the typing warnings of every Secret of the stream (`kube::check_secret`), as
/// `FILE: document N: PATH ...`.
fn warn_secrets(name: &str, stream: &Stream<'_>, host: &dyn Host) -> Result<()> {
    for (i, doc) in stream.docs.iter().enumerate() {
        if holds_secrets(doc) {
            for w in kube::check_secret(doc, i)? {
                host.warn(&format!("{name}: {w}"));
            }
        }
    }
    Ok(())
}
