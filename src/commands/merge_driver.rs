//! `kseal merge-driver %O %A %B %P`: git's merge driver for encrypted files. The three
//! versions are decrypted in memory (MACs verified), merged per key, and the result is
//! re-encrypted into our envelope with the ciphertext of every unchanged value kept, then
//! written over %A. On a conflict nothing is written: %A keeps our ciphertext, git marks the
//! file conflicted, and no plaintext ever reaches the working tree or `.git`. Like `set`, it
//! refuses to reuse a data key whose recipients differ from the `.sops.yaml` rule for %P.

use std::path::Path;
use std::process::Command;

use zeroize::Zeroizing;

use kseal::error::{Error, Kind, Result};
use kseal::keys::Identities;
use kseal::merge::{self, Outcome};
use kseal::sops::file::{self, Envelope};

use super::{load_identities, note, IdentityOpener};
use crate::cli::MergeDriverArgs;
use crate::fsio::{self, Input};

struct Version {
    raw: String,
    plain: Zeroizing<String>,
    envelope: Option<Envelope>,
}

fn read(path: &Path) -> Result<String> {
    // git passes an empty file for %O when the file was added on both sides.
    if std::fs::metadata(path)
        .map(|m| m.len() == 0)
        .unwrap_or(false)
    {
        return Ok(String::new());
    }
    fsio::read_input(&Input::File(path.to_path_buf()))
}

fn open(raw: String, ids: &Identities, name: &str) -> Result<Version> {
    let d = file::decrypt(&raw, &IdentityOpener { ids }, &super::read_options())
        .map_err(|e| e.in_file(name))?;
    Ok(Version {
        plain: d.text,
        envelope: d.envelope,
        raw,
    })
}

fn recipients(env: &Envelope) -> Vec<&str> {
    let mut r: Vec<&str> = env.meta.age.iter().map(|a| a.recipient.as_str()).collect();
    r.sort_unstable();
    r
}

pub fn run(args: &MergeDriverArgs) -> Result<()> {
    let shown = args
        .path
        .clone()
        .unwrap_or_else(|| args.ours.display().to_string());
    let (base, ours, theirs) = (read(&args.base)?, read(&args.ours)?, read(&args.theirs)?);
    let encrypted = |t: &str| t.contains("sops");
    if !encrypted(&base) && !encrypted(&ours) && !encrypted(&theirs) {
        // Not (or no longer) encrypted: git's own line merge is the right tool.
        return line_merge(args, &shown);
    }
    let ids = load_identities(&args.identity.files)?;
    let base = open(base, &ids, &format!("{shown} (base)"))?;
    let ours = open(ours, &ids, &format!("{shown} (ours)"))?;
    let theirs = open(theirs, &ids, &format!("{shown} (theirs)"))?;

    let merged = match merge::merge3(&base.plain, &ours.plain, &theirs.plain)
        .map_err(|e| e.in_file(&shown))?
    {
        Outcome::Merged(t) => t,
        Outcome::Conflicts(list) => {
            for c in &list {
                let line = format!("{shown}: {c}");
                eprintln!(
                    "kseal: merge conflict: {}",
                    kseal::error::escape_controls(&line, false)
                );
            }
            return Err(Error::new(
                Kind::Refused,
                format!(
                    "{shown}: {}; the file keeps our encrypted version",
                    super::count(list.len(), "conflicting change")
                ),
            )
            .with_hint(format!(
                "resolve with `git checkout --ours {shown}` or `git checkout --theirs {shown}`, then `kseal edit {shown}` to apply the other side's change, and `git add {shown}`"
            )));
        }
    };
    let (side, envelope) = choose_envelope(base.envelope, ours.envelope, theirs.envelope, &shown)?;
    check_recipients(args, &side, &envelope, &merged, &shown)?;
    // When the result is one side's content in that side's envelope, keep its exact bytes.
    match side {
        Side::Ours if *merged == *ours.plain => return Ok(()),
        Side::Theirs if *merged == *theirs.plain => {
            return fsio::write_atomic(&args.ours, theirs.raw.as_bytes(), 0o644)
        }
        _ => {}
    }
    let out = file::reencrypt(&merged, &envelope, &kseal::ops::set::scope(&envelope))
        .map_err(|e| e.in_file(&shown))?;
    fsio::write_atomic(&args.ours, out.as_bytes(), 0o644)?;
    note(&format!("{shown}: merged per key and re-encrypted"));
    Ok(())
}

enum Side {
    Ours,
    Theirs,
}

/// The merged file reuses the chosen side's data key, so, as for `set`, its recipients must
/// be those of the `.sops.yaml` rule: else a recipient pushed into one branch (or a file an
/// outsider encrypted for themselves too) would receive the secrets of the other. The rules
/// are matched against the real path (%P): %A is a temporary file git names itself.
fn check_recipients(
    args: &MergeDriverArgs,
    side: &Side,
    envelope: &Envelope,
    merged: &str,
    shown: &str,
) -> Result<()> {
    let target = args.path.as_deref().map(Path::new).unwrap_or(&args.ours);
    let planner = kseal::ops::plan::Planner::from_config(None, &super::Process)?;
    let which = match side {
        Side::Ours => "ours",
        Side::Theirs => "theirs",
    };
    kseal::ops::rekey::check_write_recipients(&planner, target, &envelope.meta, merged).map_err(
        |e| {
            // git runs drivers before it writes the merged `.sops.yaml`: a branch that changed the
            // rule and the recipients together passes once the rule is in the working tree.
            e.in_file(format!("{shown} ({which})")).with_hint(format!(
                "check the recipients (someone may have added one to receive the next secrets); if the merged .sops.yaml names them, `git checkout -m {shown}` merges the file again under it; else keep our version (`git checkout --ours {shown}`) and run `kseal updatekeys {shown}` on the other branch"
            ))
        },
    )
}

/// Our envelope, unless only their side changed the recipients (updatekeys, rotation): then
/// theirs, so a merge never drops a recipient they added. The other side's recorded values
/// are added to the stash so that values taken from either side keep their ciphertext.
fn choose_envelope(
    base: Option<Envelope>,
    ours: Option<Envelope>,
    theirs: Option<Envelope>,
    shown: &str,
) -> Result<(Side, Envelope)> {
    match (ours, theirs) {
        (Some(mut o), Some(mut t)) => {
            let base_r = base.as_ref().map(recipients);
            if recipients(&o) == recipients(&t)
                || base_r.as_deref() == Some(recipients(&t).as_slice())
            {
                o.stash.absorb(&t.stash);
                Ok((Side::Ours, o))
            } else if base_r.as_deref() == Some(recipients(&o).as_slice()) {
                t.stash.absorb(&o.stash);
                Ok((Side::Theirs, t))
            } else {
                Err(Error::new(
                    Kind::Refused,
                    format!("{shown}: both sides changed the recipients differently"),
                )
                .with_hint(
                    "merge the recipient change by hand (`kseal updatekeys`), then merge again",
                ))
            }
        }
        (Some(o), None) => Ok((Side::Ours, o)),
        (None, Some(t)) => Ok((Side::Theirs, t)),
        (None, None) => Err(Error::new(Kind::Internal, "no envelope to re-encrypt into")),
    }
}

/// git's own three-way line merge, for files that are not encrypted on any side.
fn line_merge(args: &MergeDriverArgs, shown: &str) -> Result<()> {
    let status = Command::new("git")
        .arg("merge-file")
        .args(["-L", "ours", "-L", "base", "-L", "theirs"])
        .arg(&args.ours)
        .arg(&args.base)
        .arg(&args.theirs)
        .status()
        .map_err(|e| Error::new(Kind::Internal, format!("cannot run git merge-file: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(
            Kind::Refused,
            format!("{shown}: conflicting changes (plain file, conflict markers written)"),
        ))
    }
}
