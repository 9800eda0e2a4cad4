//! `kseal encrypt`: seal the Secrets of a manifest for their recipients, keeping every other
//! byte, and check the result reads back as what was sealed before writing it.

use std::path::Path;

use kseal::error::{Error, Kind, Result};
use kseal::keys;
use kseal::kube;
use kseal::ops::plan::{self, Plan};
use kseal::secret::DataKey;
use kseal::sops::file::{self, EncryptSettings};
use kseal::sops::metadata::{self, AgeEntry};
use kseal::yaml::{splice, tree};

use super::{check_in_place, note, warn};
use crate::cli::EncryptArgs;
use crate::fsio::{self, Input};

/// Encrypts a new manifest with a fresh data key (after the Kubernetes checks and the removal
/// of fields that must not be committed). `name` is the file the warnings and notes name.
pub fn seal_new(name: &str, text: &str, plan: &Plan, clean: bool) -> Result<String> {
    encrypt_text(name, text, plan, clean)
}

pub fn run(args: &EncryptArgs) -> Result<()> {
    if let Some(previous) = &args.previous {
        return run_previous(args, previous);
    }
    let inputs = fsio::expand_inputs(&args.files)?;
    if inputs.is_empty() {
        // Only an empty directory gets here: succeeding silently would look like a sealed file.
        return Err(
            Error::new(Kind::Input, "no *.yaml, *.yml or *.json file to encrypt")
                .with_hint("name the files to encrypt"),
        );
    }
    if args.out.in_place {
        check_in_place(&inputs)?;
    } else if inputs.len() > 1 {
        return Err(Error::new(
            Kind::Usage,
            "several inputs need --in-place: each file is its own envelope",
        )
        .with_hint("encrypt one file at a time to stdout or -o, or use -i"));
    }
    if args.filename_override.is_some() && inputs.len() > 1 {
        return Err(Error::new(
            Kind::Usage,
            "--filename-override names one file: give one input",
        ));
    }
    let planner = super::planner(&args.recipients)?;
    for input in &inputs {
        let name = match (input, &args.filename_override) {
            (Input::Stdin, Some(o)) => o.display().to_string(),
            _ => input.name(),
        };
        let target = plan::rules_target(
            args.filename_override.as_deref(),
            args.out.output.as_deref(),
            match input {
                Input::File(p) => Some(p),
                Input::Stdin => None,
            },
        );
        // Plan before reading, so that a missing recipient fails before stdin is read, unless
        // a namespace rule needs the manifest.
        let early = planner.plan_early(target).map_err(|e| e.in_file(&name))?;
        let text = zeroize::Zeroizing::new(fsio::read_input(input).map_err(|e| e.in_file(&name))?);
        let plan = match early {
            Some(p) => p,
            None => planner
                .plan_for_text(target, &text)
                .map_err(|e| e.in_file(&name))?,
        };
        let out = encrypt_text(&name, &text, &plan, args.clean).map_err(|e| e.in_file(&name))?;
        fsio::check_output_size(out.len()).map_err(|e| e.in_file(&name))?;
        match (input, &args.out.output, args.out.in_place) {
            // Compare-before-rename: a file changed (or encrypted by another kseal) since it
            // was read is not overwritten with the encryption of its old content.
            (Input::File(p), _, true) => {
                let expected = fsio::Expect::Content(text.as_bytes());
                if !fsio::replace_if_unchanged(p, expected, out.as_bytes(), 0o644)? {
                    return Err(fsio::changed_on_disk(p));
                }
            }
            (_, Some(o), _) => fsio::write_atomic(o, out.as_bytes(), 0o644)?,
            _ => fsio::write_stdout(out.as_bytes())?,
        }
    }
    Ok(())
}

fn encrypt_text(name: &str, text: &str, plan: &Plan, clean: bool) -> Result<String> {
    if text.trim().is_empty() {
        return Err(Error::new(
            Kind::Refused,
            "the input is empty: nothing to encrypt",
        ));
    }
    let sanitized;
    let mut stream = tree::parse(text)?;
    // Refuse encrypted input before any other check: its `data` values are not base64.
    for (i, doc) in stream.docs.iter().enumerate() {
        if doc
            .root_mapping()
            .is_some_and(|m| m.entry("sops").is_some())
        {
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
        note(&format!("{name}: {n}"));
    }
    warn_secrets(name, &stream)?;
    let key = DataKey::generate()
        .map_err(|e| Error::new(Kind::Internal, format!("no randomness: {e}")))?;
    let mut age = Vec::with_capacity(plan.recipients.len());
    for r in &plan.recipients {
        age.push(AgeEntry {
            recipient: r.text().to_string(),
            enc: keys::wrap(&key, r)?,
        });
    }
    // Every Secret carries the whole `sops:` block with every wrapped key: an output too big to
    // be read back is refused here, before any value is encrypted.
    let secrets = stream
        .docs
        .iter()
        .filter(|d| kseal::secrets::holds_secrets(d))
        .count();
    let per_block: usize = age.iter().map(|a| a.enc.len() + a.recipient.len()).sum();
    fsio::check_output_size(text.len().saturating_add(secrets.saturating_mul(per_block)))?;
    let settings = EncryptSettings {
        key_groups: None,
        rule: plan.rule.clone(),
        mac_only_encrypted: plan.mac_only_encrypted,
        key: &key,
        age,
        lastmodified: metadata::now_lastmodified(),
        version: metadata::SOPS_FORMAT_VERSION.to_string(),
        stash: None,
        policy: Some(&kseal::kube::STRICT),
    };
    file::encrypt_checked(text, &stream, &settings, &kseal::secrets::holds_secrets)
}

/// Refuses a document that kubectl applies as a Secret but kseal would leave in plain text (a
/// kind or values brought in by a YAML merge key, a Secret among a list's items).
fn refuse_hidden_secrets(stream: &tree::Stream) -> Result<()> {
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

/// `--previous FILE`, for editor plugins: the input is the edited plaintext of FILE, sealed
/// into FILE's own envelope (same data key, recipients and crypt rule; unchanged values keep
/// their `ENC[...]` text through the IV stash), so the Git diff shows only what was edited.
fn run_previous(args: &EncryptArgs, previous: &Path) -> Result<()> {
    if args.out.in_place {
        return Err(Error::new(
            Kind::Usage,
            "--previous writes to stdout or -o, not --in-place",
        )
        .with_hint("the plaintext comes from stdin or a file; FILE itself is only read"));
    }
    let inputs = fsio::expand_inputs(&args.files)?;
    let [input] = inputs.as_slice() else {
        return Err(Error::new(
            Kind::Usage,
            "--previous takes one input: the edited plaintext (stdin or a file)",
        ));
    };
    if !args.recipients.age.is_empty()
        || !args.recipients.recipients_file.is_empty()
        || args.recipients.config.is_some()
        || args.filename_override.is_some()
    {
        warn(&format!(
            "--age, --recipients-file, --config and --filename-override are ignored with --previous: the recipients are those of {}",
            previous.display()
        ));
    }
    let opened = super::open_encrypted(previous, &args.identity.files)?;
    let name = input.name();
    let text = zeroize::Zeroizing::new(fsio::read_input(input).map_err(|e| e.in_file(&name))?);
    let text = sanitized_checked(&name, &text, args.clean).map_err(|e| e.in_file(&name))?;
    let out = file::reencrypt(&text, opened.envelope(), &opened.selector())
        .map_err(|e| e.in_file(&name))?;
    fsio::check_output_size(out.len()).map_err(|e| e.in_file(&name))?;
    match &args.out.output {
        Some(o) => fsio::write_atomic(o, out.as_bytes(), 0o644),
        None => fsio::write_stdout(out.as_bytes()),
    }
}

/// The Kubernetes side of `encrypt` for `--previous`: the last-applied annotation goes
/// (`--clean` also drops server fields), `data` must be base64, typing warnings are printed.
fn sanitized_checked(name: &str, text: &str, clean: bool) -> Result<zeroize::Zeroizing<String>> {
    if text.trim().is_empty() {
        return Err(Error::new(
            Kind::Refused,
            "the input is empty: nothing to encrypt",
        ));
    }
    let stream = tree::parse(text)?;
    let (edits, notes) = kube::sanitize(text, &stream, clean);
    for n in notes {
        note(&format!("{name}: {n}"));
    }
    if edits.is_empty() {
        warn_secrets(name, &stream)?;
        return Ok(zeroize::Zeroizing::new(text.to_string()));
    }
    drop(stream);
    let sanitized = splice::apply(text, edits)?;
    warn_secrets(name, &tree::parse(&sanitized)?)?;
    Ok(sanitized)
}

/// Prints the typing warnings of every Secret of the stream (`kube::check_secret`), as
/// `FILE: document N: PATH ...`.
fn warn_secrets(name: &str, stream: &tree::Stream<'_>) -> Result<()> {
    for (i, doc) in stream.docs.iter().enumerate() {
        if kseal::secrets::holds_secrets(doc) {
            for w in kube::check_secret(doc, i)? {
                warn(&format!("{name}: {w}"));
            }
        }
    }
    Ok(())
}
