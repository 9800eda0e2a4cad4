//! `kseal updatekeys`: bring encrypted files in line with the recipients `.sops.yaml` names
//! now. Added recipients only: the data key is re-wrapped (values, MAC and `lastmodified`
//! unchanged). A removed recipient still knows the data key, so then a new one is generated
//! and every value re-encrypted, unless `--keep-data-key`.
//!
//! Three phases: plan every file from its metadata (no key needed) and show the differences;
//! ask once; then apply file by file, each written atomically. A failing file does not stop
//! the others; the summary counts them and the exit code says something failed.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use kseal::error::{Error, Kind, Result};
use kseal::ops::groupkeys::Keys;
use kseal::ops::plan::Planner;
use kseal::ops::rekey;
use kseal::sops::file::KeyOpener;

use super::{failed_files, load, report_failure, say};
use super::{load_identities, parallel_map, warn, write_back, IdentityOpener};
use crate::cli::UpdatekeysArgs;
use crate::fsio;
use crate::fsio::{targets, Target};

/// A planned change. The file's text is not kept (a repository of thousands of files would
/// be held in memory at once): it is read again when the change is applied and must still
/// hash to `digest`, the version the plan and the confirmation were about.
struct Pending {
    path: PathBuf,
    digest: [u8; 32],
    wanted: Keys,
    /// A recipient is removed (or a key group, or more groups are needed).
    removal: bool,
    /// A new data key and full re-encryption (a removal, without `--keep-data-key`).
    new_key: bool,
}

#[derive(Default)]
struct Counts {
    changed: usize,
    up_to_date: usize,
    plain: usize,
    failed: usize,
    first_failure: Option<Kind>,
}

impl Counts {
    fn fail(&mut self, e: &Error) {
        report_failure(e);
        self.failed += 1;
        self.first_failure.get_or_insert(e.kind);
    }
}

pub fn run(args: &UpdatekeysArgs) -> Result<()> {
    let planner = Planner::from_config(args.config.file.as_deref(), &super::Process)?;
    if !planner.has_config() {
        return Err(Error::new(
            Kind::Config,
            "updatekeys needs a .sops.yaml with creation rules, and none was found",
        )
        .with_hint(
            "run kseal from the repository, or name the file with --config or KSEAL_CONFIG",
        ));
    }
    let mut counts = Counts::default();
    let mut pending = Vec::new();
    let mut out = String::new();
    // Files are read and planned on all cores; the report keeps the order of the files.
    let targets = targets(&args.files)?;
    let plans = parallel_map(&targets, |t| plan_file(&planner, t, args.keep_data_key));
    for (t, plan) in targets.iter().zip(plans) {
        let name = t.path.display().to_string();
        match plan {
            Ok(None) if t.from_dir => counts.plain += 1,
            Ok(None) => counts.fail(
                &Error::new(
                    Kind::Refused,
                    "the file is not encrypted (it has no `sops:` block)",
                )
                .in_file(&name)
                .with_hint("encrypt it first with `kseal encrypt -i`"),
            ),
            Ok(Some((p, changes))) => {
                if changes.is_empty() {
                    counts.up_to_date += 1;
                    out.push_str(&format!("{name}: already up to date\n"));
                    continue;
                }
                show_diff(&mut out, &name, &changes, &p);
                pending.push(p);
            }
            Err(e) => counts.fail(&e.in_file(&name)),
        }
    }
    fsio::write_stdout(out.as_bytes())?;

    if args.dry_run {
        say(&format!(
            "dry run: {} would change, {} already up to date, {} not encrypted (skipped), {} failed; nothing was written",
            pending.len(),
            counts.up_to_date,
            counts.plain,
            counts.failed
        ))?;
        return match counts.first_failure {
            Some(k) => Err(failed_files(k, counts.failed)),
            None => Ok(()),
        };
    }
    if !pending.is_empty() && !args.yes {
        let files = if pending.len() == 1 { "file" } else { "files" };
        if !confirm(&format!(
            "Apply these changes to {} {files}? [y/N] ",
            pending.len()
        ))? {
            say("nothing was changed")?;
            return Ok(());
        }
    }

    if !pending.is_empty() {
        let ids = load_identities(&args.identity.files)?;
        let opener = IdentityOpener { ids: &ids };
        // One directory fsync per directory at the end, not one per file.
        let batch = fsio::DirSyncBatch::begin();
        let results = parallel_map(&pending, |p| apply(p, &opener));
        drop(batch);
        for (p, result) in pending.iter().zip(results) {
            let name = p.path.display().to_string();
            if p.removal && !p.new_key {
                warn(&format!(
                    "{name}: the removed recipient still knows the data key (--keep-data-key)"
                ));
            }
            match result {
                Ok(msg) => {
                    counts.changed += 1;
                    say(&format!("{name}: {msg}"))?;
                }
                Err(e) => counts.fail(&e.in_file(&name)),
            }
        }
    }
    say(&format!(
        "updatekeys: {} changed, {} already up to date, {} not encrypted (skipped), {} failed",
        counts.changed, counts.up_to_date, counts.plain, counts.failed
    ))?;
    match counts.first_failure {
        Some(k) => Err(failed_files(k, counts.failed)),
        None => Ok(()),
    }
}

/// Reads a file's metadata and compares its recipients with its creation rule's: the pending
/// change and its lines for people (none: up to date).
fn plan_file(
    planner: &Planner,
    t: &Target,
    keep_data_key: bool,
) -> Result<Option<(Pending, Vec<String>)>> {
    let Some(loaded) = load(&t.path)? else {
        return Ok(None);
    };
    let u = rekey::plan_update(planner, &t.path, &loaded, keep_data_key)?;
    let changes = u.describe();
    Ok(Some((
        Pending {
            path: t.path.clone(),
            digest: digest(&loaded.text),
            wanted: u.wanted,
            removal: u.removal,
            new_key: u.new_key,
        },
        changes,
    )))
}

fn show_diff(out: &mut String, name: &str, changes: &[String], p: &Pending) {
    out.push_str(&format!("{name}:\n"));
    for c in changes {
        out.push_str(&format!("  {c}\n"));
    }
    let grouped =
        !p.wanted.groups.is_empty() || changes.iter().any(|c| c.starts_with("key groups:"));
    if p.new_key && grouped {
        out.push_str(
            "  a recipient or key group is removed, or more groups are needed: whoever holds a share of the current data key keeps it, so a new data key will be generated, split again and every value re-encrypted\n",
        );
    } else if p.new_key {
        out.push_str(
            "  a recipient is removed and still knows the current data key: a new data key will be generated and every value re-encrypted\n",
        );
    } else if p.removal {
        out.push_str(
            "  --keep-data-key: the removed recipient still knows the current data key (rotate it with `kseal rotate` soon)\n",
        );
    } else if grouped {
        out.push_str("  the data key will be split into new shares for these groups (values, MAC and lastmodified unchanged)\n");
    }
}

/// Re-wraps or rotates one file and writes it back (unless it changed on disk meanwhile).
fn apply(p: &Pending, opener: &IdentityOpener<'_>) -> Result<String> {
    let loaded = match load(&p.path)? {
        Some(l) if digest(&l.text) == p.digest => l,
        _ => return Err(fsio::changed_on_disk(&p.path)),
    };
    let opts = super::read_options();
    kseal::sops::structural::require(&loaded.meta, opts.require_structural_mac)?;
    let key = opener.open(&loaded.meta)?;
    let policy = opts.policy;
    let text = rekey::apply_update(&loaded, &key, &p.wanted, p.new_key, policy)?;
    write_back(&p.path, &loaded.text, &text)?;
    let keys = p.wanted.summary();
    Ok(match (p.new_key, p.wanted.groups.is_empty()) {
        (true, true) => {
            format!("new data key for {keys}, every value re-encrypted (a recipient was removed)")
        }
        (true, false) => format!("new data key for {keys}, every value re-encrypted"),
        (false, true) => {
            format!("data key re-wrapped for {keys} (values, MAC and lastmodified unchanged)")
        }
        (false, false) => format!(
            "data key split into new shares for {keys} (values, MAC and lastmodified unchanged)"
        ),
    })
}

fn digest(text: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).into()
}

/// Asks a yes/no question on the terminal (not stdin: kseal may be in a pipe).
fn confirm(question: &str) -> Result<bool> {
    let no_tty = |e: std::io::Error| {
        Error::new(
            Kind::Usage,
            format!("there is no terminal to ask for confirmation ({e})"),
        )
        .with_hint("review the changes with --dry-run, then apply them with -y")
    };
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(no_tty)?;
    let mut w = &tty;
    w.write_all(question.as_bytes()).map_err(no_tty)?;
    w.flush().map_err(no_tty)?;
    let mut line = String::new();
    std::io::BufReader::new(&tty)
        .read_line(&mut line)
        .map_err(no_tty)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
