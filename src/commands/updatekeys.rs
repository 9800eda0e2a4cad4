//! `kseal updatekeys`: bring encrypted files in line with the recipients `.sops.yaml` names
//! now. Added recipients only: the data key is re-wrapped (values, MAC and `lastmodified`
//! unchanged). A removed recipient still knows the data key, so then a new one is generated
//! and every value re-encrypted, unless `--keep-data-key`.
//!
//! Three phases: plan every file from its metadata (no key needed) and show the differences;
//! ask once; then apply file by file, each written atomically. A failing file does not stop
//! the others; the summary counts them and the exit code says something failed.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use kseal::error::{Error, Kind, Result};
use kseal::keys::Recipient;
use kseal::kube;
use kseal::ops::datakey;
use kseal::ops::plan::Planner;
use kseal::sops::file::KeyOpener;
use kseal::sops::metadata::{self, Metadata};
use kseal::sops::rekey::{self, RecipientDiff};
use kseal::yaml::tree;

use super::{load_identities, parallel_map, warn, write_back, IdentityOpener};
use crate::cli::UpdatekeysArgs;
use crate::fsio::{self, Input};

/// A file to work on, and whether it was found by walking a directory (where plain files are
/// expected and skipped) rather than named (where a plain file is a mistake).
pub struct Target {
    pub path: PathBuf,
    pub from_dir: bool,
}

/// Expands the command line's files and directories (default: the current directory); stdin
/// is refused, as these commands replace files.
pub fn targets(args: &[PathBuf]) -> Result<Vec<Target>> {
    let default = [PathBuf::from(".")];
    let implicit = args.is_empty();
    let args = if implicit { &default[..] } else { args };
    let mut out = Vec::new();
    for a in args {
        let from_dir = a.is_dir();
        for input in fsio::expand_inputs(std::slice::from_ref(a))? {
            match input {
                Input::File(path) => {
                    // `dev/db.yaml`, not `./dev/db.yaml`, when no path was given.
                    let path = match path.strip_prefix(".") {
                        Ok(rel) if implicit => rel.to_path_buf(),
                        _ => path,
                    };
                    out.push(Target { path, from_dir })
                }
                Input::Stdin => {
                    return Err(Error::new(
                        Kind::Usage,
                        "this command changes files in place: name files or directories, not stdin",
                    ))
                }
            }
        }
    }
    Ok(out)
}

/// A file read for a change: its text, parsed metadata and the namespaces of its Secrets.
pub struct Loaded {
    pub text: String,
    pub meta: Metadata,
    pub namespaces: Vec<Option<String>>,
}

/// Reads a file and its `sops:` metadata. `Ok(None)`: the file is not encrypted.
pub fn load(path: &Path) -> Result<Option<Loaded>> {
    let text = fsio::read_input(&Input::File(path.to_path_buf()))?;
    let stream = tree::parse(&text)?;
    let Some(meta) = rekey::inspect_stream(&stream)? else {
        return Ok(None);
    };
    let namespaces = kube::secret_namespaces(&stream);
    drop(stream);
    Ok(Some(Loaded {
        text,
        meta,
        namespaces,
    }))
}

/// The recipient strings a file's data key is wrapped for.
pub fn recipients_of(meta: &Metadata) -> Vec<String> {
    let groups = meta
        .key_groups
        .iter()
        .flat_map(|g| g.groups.iter().flatten());
    meta.age
        .iter()
        .chain(groups)
        .map(|a| a.recipient.clone())
        .collect()
}

/// Prints a report line on stdout (a closed pipe is not an error: `kseal updatekeys | head`).
pub fn say(line: &str) -> Result<()> {
    fsio::write_stdout(format!("{line}\n").as_bytes())
}

/// Reports one failed file on stderr, like `main` reports an error.
pub fn report_failure(e: &Error) {
    let show = |s: &str| kseal::error::escape_controls(s, false).into_owned();
    eprintln!("kseal: error: {}", show(&e.to_string()));
    if let Some(h) = crate::hints::hint(e) {
        eprintln!("  hint: {}", show(&h));
    }
}

/// The error returned after per-file failures were reported: the first failure's kind.
pub fn failed_files(first: Kind, failed: usize) -> Error {
    let files = if failed == 1 { "file" } else { "files" };
    Error::new(first, format!("{failed} {files} failed (see above)"))
}

/// A planned change. The file's text is not kept (a repository of thousands of files would
/// be held in memory at once): it is read again when the change is applied and must still
/// hash to `digest`, the version the plan and the confirmation were about.
struct Pending {
    path: PathBuf,
    digest: [u8; 32],
    wanted: Vec<Recipient>,
    /// A recipient is removed.
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
    let planner = Planner::from_config(args.config.as_deref(), &super::Process)?;
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
            Ok(Some((p, diff))) => {
                if diff.is_empty() {
                    counts.up_to_date += 1;
                    out.push_str(&format!("{name}: already up to date\n"));
                    continue;
                }
                show_diff(&mut out, &name, &diff, p.new_key);
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

/// Reads a file's metadata and compares its recipients with its creation rule's.
fn plan_file(
    planner: &Planner,
    t: &Target,
    keep_data_key: bool,
) -> Result<Option<(Pending, RecipientDiff)>> {
    let Some(loaded) = load(&t.path)? else {
        return Ok(None);
    };
    let plan = planner.plan_for_namespaces(Some(&t.path), &loaded.namespaces)?;
    if loaded.meta.key_groups.is_some() {
        return Err(kseal::ops::plan::key_groups_unsupported("the file"));
    }
    if !plan.key_groups.is_empty() {
        return Err(kseal::ops::plan::key_groups_unsupported(
            "its creation rule",
        ));
    }
    let wanted: Vec<String> = plan
        .recipients
        .iter()
        .map(|r| r.text().to_string())
        .collect();
    let diff = rekey::diff_recipients(&recipients_of(&loaded.meta), &wanted);
    let removal = !diff.removed.is_empty();
    Ok(Some((
        Pending {
            path: t.path.clone(),
            digest: digest(&loaded.text),
            wanted: plan.recipients,
            removal,
            new_key: removal && !keep_data_key,
        },
        diff,
    )))
}

fn show_diff(out: &mut String, name: &str, diff: &RecipientDiff, new_key: bool) {
    out.push_str(&format!("{name}:\n"));
    for r in &diff.added {
        out.push_str(&format!("  + {r}\n"));
    }
    for r in &diff.removed {
        out.push_str(&format!("  - {r}\n"));
    }
    if new_key {
        out.push_str(
            "  a recipient is removed and still knows the current data key: a new data key will be generated and every value re-encrypted\n",
        );
    } else if !diff.removed.is_empty() {
        out.push_str(
            "  --keep-data-key: the removed recipient still knows the current data key (rotate it with `kseal rotate` soon)\n",
        );
    }
}

/// Re-wraps or rotates one file and writes it back (unless it changed on disk meanwhile).
fn apply(p: &Pending, opener: &IdentityOpener<'_>) -> Result<String> {
    let loaded = match load(&p.path)? {
        Some(l) if digest(&l.text) == p.digest => l,
        _ => return Err(fsio::changed_on_disk(&p.path)),
    };
    let key = opener.open(&loaded.meta)?;
    let n = p.wanted.len();
    let (text, msg) = if p.new_key {
        let (new_key, age) = datakey::new_data_key(&p.wanted)?;
        let out = rekey::rotate(
            &loaded.text,
            &key,
            &new_key,
            age,
            metadata::now_lastmodified(),
            super::read_options().policy,
        )?;
        (
            out,
            format!(
                "new data key for {n} recipient{}, every value re-encrypted (a recipient was removed)",
                plural(n)
            ),
        )
    } else {
        let age = datakey::wrap_data_key(&key, &p.wanted)?;
        let out = rekey::rewrap(&loaded.text, &key, age, super::read_options().policy)?;
        (
            out,
            format!(
                "data key re-wrapped for {n} recipient{} (values, MAC and lastmodified unchanged)",
                plural(n)
            ),
        )
    };
    write_back(&p.path, &loaded.text, &text)?;
    Ok(msg)
}

fn digest(text: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).into()
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
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
