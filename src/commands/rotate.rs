//! `kseal rotate`: a new data key for each file, every value re-encrypted, recipients adjusted
//! with `--add-age` / `--rm-age`, each file replaced atomically. The old data key, which past
//! recipients and old copies of the file share, opens nothing of the new version.

use kseal::error::{Error, Kind, Result};
use kseal::keys::{self, Identities, Recipient};
use kseal::ops::datakey;
use kseal::ops::plan::Planner;
use kseal::sops::file::KeyOpener;
use kseal::sops::metadata;
use kseal::sops::rekey;

use super::updatekeys::{
    failed_files, load, plural, recipients_of, report_failure, say, targets, Target,
};
use super::{load_identities, warn, write_back, IdentityOpener};
use crate::cli::RotateArgs;

fn recipient_flags(values: &[String]) -> Result<Vec<Recipient>> {
    let mut out = Vec::new();
    for v in values {
        out.extend(keys::parse_recipient_list(v)?);
    }
    Ok(out)
}

/// What to do with each file's recipients, and the identities (loaded on first use).
struct Job<'a> {
    add: Vec<Recipient>,
    /// `recipient_id`s to remove. They are only compared, never parsed: a key type kseal
    /// cannot wrap for (a plugin that is not installed) can still be removed.
    remove: Vec<String>,
    identity_flags: &'a [std::path::PathBuf],
    ids: Option<Identities>,
    planner: Planner,
    keep_unknown: bool,
}

pub fn run(args: &RotateArgs) -> Result<()> {
    let mut job = Job {
        add: recipient_flags(&args.add_age)?,
        remove: args
            .rm_age
            .iter()
            .flat_map(|v| v.split([',', '\n']))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(rekey::recipient_id)
            .collect(),
        identity_flags: &args.identity.files,
        ids: None,
        planner: Planner::from_config(args.config.as_deref(), &super::Process)?,
        keep_unknown: args.keep_unknown_recipients,
    };
    let targets = targets(&args.files)?;
    let (mut done, mut plain, mut failed) = (0, 0, 0);
    let mut first_failure = None;
    for t in &targets {
        let name = t.path.display().to_string();
        match rotate_file(t, &mut job) {
            Ok(Some(n)) => {
                done += 1;
                say(&format!(
                    "{name}: new data key for {n} recipient{}, every value re-encrypted",
                    plural(n)
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

/// The recipients the new data key is wrapped for, before `--rm-age`/`--add-age`: those of the
/// `.sops.yaml` rule that matches the file, not the file's own (someone who can push may have
/// appended a recipient to harvest the next data key). The file's others are dropped and
/// named, unless `--keep-unknown-recipients`. Without a rule the file's recipients are used,
/// except plugin recipients no flag names: wrapping for them would run a binary from PATH
/// chosen by whoever wrote the file.
fn base_recipients(
    t: &Target,
    loaded: &super::updatekeys::Loaded,
    job: &Job<'_>,
) -> Result<Vec<Recipient>> {
    let name = t.path.display();
    let current = recipients_of(&loaded.meta);
    let named_by_flag = |c: &str| {
        job.add
            .iter()
            .any(|a| rekey::recipient_id(a.text()) == rekey::recipient_id(c))
    };
    let plan = match job.planner.has_config() {
        true => match job
            .planner
            .plan_for_namespaces(Some(&t.path), &loaded.namespaces)
        {
            Ok(p) => Some(p),
            Err(e) if e.kind == Kind::Config => None,
            Err(e) => return Err(e),
        },
        false => None,
    };
    if loaded.meta.key_groups.is_some() {
        return Err(kseal::ops::plan::key_groups_unsupported("the file"));
    }
    if plan.as_ref().is_some_and(|p| !p.key_groups.is_empty()) {
        return Err(kseal::ops::plan::key_groups_unsupported(
            "its creation rule",
        ));
    }
    let Some(plan) = plan else {
        let mut out = Vec::new();
        for c in &current {
            let r = Recipient::parse(c)?;
            if r.is_plugin() && !job.keep_unknown && !named_by_flag(c) {
                return Err(Error::new(
                    Kind::Config,
                    format!("the file names the plugin recipient {c}, which no .sops.yaml rule names: wrapping for it would run its plugin"),
                )
                .with_hint("name it with --add-age (or --keep-unknown-recipients) if it is yours, or remove it with --rm-age"));
            }
            out.push(r);
        }
        return Ok(out);
    };
    let wanted: Vec<String> = plan
        .recipients
        .iter()
        .map(|r| r.text().to_string())
        .collect();
    for c in rekey::diff_recipients(&current, &wanted).removed {
        if named_by_flag(&c) || job.remove.contains(&rekey::recipient_id(&c)) {
            continue;
        }
        if job.keep_unknown {
            warn(&format!(
                "{name}: keeping {c}, which no .sops.yaml rule names (--keep-unknown-recipients)"
            ));
        } else {
            warn(&format!("{name}: {c} is a recipient of the file but no .sops.yaml rule names it: it does not get the new data key (--keep-unknown-recipients keeps it)"));
        }
    }
    let mut out = plan.recipients;
    if job.keep_unknown {
        for c in &current {
            if !wanted
                .iter()
                .any(|w| rekey::recipient_id(w) == rekey::recipient_id(c))
            {
                out.push(Recipient::parse(c)?);
            }
        }
    }
    Ok(out)
}

/// Rotates one file. `Ok(None)`: a plain file found in a directory (skipped); otherwise the
/// number of recipients of the new version.
fn rotate_file(t: &Target, job: &mut Job<'_>) -> Result<Option<usize>> {
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
    let current = recipients_of(&loaded.meta);
    for r in &job.remove {
        if !current.iter().any(|c| rekey::recipient_id(c) == *r) {
            warn(&format!(
                "{}: {r} is not a recipient of this file",
                t.path.display()
            ));
        }
    }
    let mut wanted = base_recipients(t, &loaded, job)?;
    wanted.retain(|r| !job.remove.contains(&rekey::recipient_id(r.text())));
    wanted.extend(job.add.iter().cloned());
    let mut seen = Vec::new();
    wanted.retain(|r| {
        let id = rekey::recipient_id(r.text());
        let new = !seen.contains(&id);
        seen.push(id);
        new
    });
    if wanted.is_empty() {
        return Err(Error::new(
            Kind::Config,
            "no recipient would be left: the file would open for nobody",
        ));
    }
    let ids = match &mut job.ids {
        Some(ids) => ids,
        None => job.ids.insert(load_identities(job.identity_flags)?),
    };
    let key = IdentityOpener { ids }.open(&loaded.meta)?;
    let (new_key, age) = datakey::new_data_key(&wanted)?;
    let out = rekey::rotate(
        &loaded.text,
        &key,
        &new_key,
        age,
        metadata::now_lastmodified(),
        super::read_options().policy,
    )?;
    write_back(&t.path, &loaded.text, &out)?;
    Ok(Some(wanted.len()))
}
