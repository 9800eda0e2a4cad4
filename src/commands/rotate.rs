//! `kseal rotate`: a new data key for each file, every value re-encrypted, recipients adjusted
//! with `--add-age` / `--rm-age`, each file replaced atomically. The old data key, which past
//! recipients and old copies of the file share, opens nothing of the new version.

use kseal::error::{Error, Kind, Result};
use kseal::keys::{self, Identities, Recipient};
use kseal::ops::plan::Planner;
use kseal::ops::rekey::{self as ops_rekey, Rotation};
use kseal::sops::file::KeyOpener;
use kseal::sops::rekey;

use super::{failed_files, load, report_failure, say};
use super::{load_identities, warn, write_back, IdentityOpener};
use crate::cli::RotateArgs;
use crate::fsio::{targets, Target};

fn recipient_flags(values: &[String]) -> Result<Vec<Recipient>> {
    let mut out = Vec::new();
    for v in values {
        out.extend(keys::parse_recipient_list(v)?);
    }
    Ok(out)
}

/// How each file's recipients change, and the identities (loaded on first use).
struct Job<'a> {
    rotation: Rotation<'a>,
    identity_flags: &'a [std::path::PathBuf],
    ids: Option<Identities>,
}

pub fn run(args: &RotateArgs) -> Result<()> {
    let planner = Planner::from_config(args.config.file.as_deref(), &super::Process)?;
    let mut job = Job {
        rotation: Rotation {
            add: recipient_flags(&args.add_age)?,
            remove: args
                .rm_age
                .iter()
                .flat_map(|v| v.split([',', '\n']))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(rekey::recipient_id)
                .collect(),
            planner: &planner,
            keep_unknown: args.keep_unknown_recipients,
        },
        identity_flags: &args.identity.files,
        ids: None,
    };
    let targets = targets(&args.files)?;
    let (mut done, mut plain, mut failed) = (0, 0, 0);
    let mut first_failure = None;
    for t in &targets {
        let name = t.path.display().to_string();
        match rotate_file(t, &mut job) {
            Ok(Some(keys)) => {
                done += 1;
                say(&format!(
                    "{name}: new data key for {keys}, every value re-encrypted"
                ))?;
            }
            Ok(None) => plain += 1,
            Err(e) => {
                let e = e.in_file(&name);
                report_failure(&e);
                failed += 1;
                first_failure.get_or_insert(e.kind);
            }
        }
    }
    if targets.len() > 1 || failed > 0 {
        say(&format!(
            "rotate: {done} rotated, {plain} not encrypted (skipped), {failed} failed"
        ))?;
    }
    match first_failure {
        Some(k) => Err(failed_files(k, failed)),
        None => Ok(()),
    }
}

/// Rotates one file. `Ok(None)`: a plain file found in a directory (skipped); otherwise whom
/// the new version is for (`2 recipients`, or the key groups).
fn rotate_file(t: &Target, job: &mut Job<'_>) -> Result<Option<String>> {
    let Some(loaded) = load(&t.path)? else {
        if t.from_dir {
            return Ok(None);
        }
        return Err(Error::new(
            Kind::Refused,
            "the file is not encrypted (it has no `sops:` block)",
        )
        .with_hint("encrypt it with `kseal encrypt -i`"));
    };
    let wanted = job
        .rotation
        .recipients(&t.path, &loaded, &|w: &str| warn(w))?;
    let ids = match &mut job.ids {
        Some(ids) => ids,
        None => job.ids.insert(load_identities(job.identity_flags)?),
    };
    let opts = super::read_options();
    kseal::sops::structural::require(&loaded.meta, opts.require_structural_mac)?;
    let key = IdentityOpener { ids }.open(&loaded.meta)?;
    let out = ops_rekey::rotate(&loaded.text, &key, &wanted, super::read_options().policy)?;
    write_back(&t.path, &loaded.text, &out)?;
    Ok(Some(wanted.summary()))
}
