//! One module per verb: read inputs, find keys, call the library, write outputs.

pub mod create;
pub mod decrypt;
pub mod edit;
pub mod encrypt;
pub mod get;
pub mod keygen;
pub mod rotate;
pub mod set;
pub mod sops;
pub mod sops_link;
pub mod status;
pub mod updatekeys;

pub mod check;
pub mod completions;
pub mod diff;
pub mod exec;
pub mod git;
pub mod kustomize;
pub mod kustomize_install;
pub mod merge_driver;
pub mod textconv;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use kseal::error::{escape_controls, Error, Kind, Result};
use kseal::keys::Identities;
use kseal::sops::file::DecryptOptions;

/// The process environment, read through one function so the commands never reach for
/// variables in scattered places.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The `.sops.yaml` that applies from `dir` (see `kseal::config_search`), with a warning for
/// each one passed over because other users can write it (once per file and process).
pub fn find_sops_yaml(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    static WARNED: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());
    let home = env_var("HOME")
        .filter(|h| !h.is_empty())
        .map(std::path::PathBuf::from);
    let found = kseal::config_search::find(dir, home.as_deref());
    for (path, why) in &found.ignored {
        if let Ok(mut warned) = WARNED.lock() {
            if warned.contains(path) {
                continue;
            }
            warned.push(path.clone());
        }
        warn(&format!(
            "{}: ignored: {why}, so someone else may have written it (its rules pick the recipients)",
            path.display()
        ));
    }
    found.path
}

/// Takes the identity variables out of the environment of a program kseal starts for the
/// user (editor, `exec-env`, `exec-file`): see `keys::IDENTITY_VARS`.
pub fn without_identities(cmd: &mut std::process::Command) -> &mut std::process::Command {
    for var in kseal::keys::IDENTITY_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// Prints a warning or note on stderr (never a value).
/// Control characters in them (from file and key names) are shown escaped.
pub fn warn(msg: &str) {
    eprintln!("kseal: warning: {}", escape_controls(msg, false));
}

pub fn note(msg: &str) {
    eprintln!("kseal: {}", escape_controls(msg, false));
}

/// `1 file`, `2 files`: a count and its noun, in the right number.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// How encrypted files are read in this process: the global `--allow-narrow-rule` and
/// `--require-structural-mac` flags (set once by `main`, before any command runs).
static READ_POLICY: std::sync::OnceLock<(bool, bool)> = std::sync::OnceLock::new();

pub fn set_read_policy(allow_narrow_rule: bool, require_structural_mac: bool) {
    let _ = READ_POLICY.set((allow_narrow_rule, require_structural_mac));
}

/// The options every command reads encrypted files with: the Kubernetes checks of
/// `kube::SecretPolicy` and the structural-MAC requirement.
pub fn read_options() -> DecryptOptions {
    let (allow_narrow, require_mac) = READ_POLICY.get().copied().unwrap_or_default();
    DecryptOptions {
        policy: Some(if allow_narrow {
            &kseal::kube::ALLOW_NARROW_RULE
        } else {
            &kseal::kube::STRICT
        }),
        require_structural_mac: require_mac,
        ..DecryptOptions::default()
    }
}

/// Reads one named file and decrypts it under the read policy (Kubernetes refusals, a
/// required structural MAC), MAC verified, with `--allow-narrow-rule`'s warnings printed: what
/// every command that reads values out of one file (`get`, `exec-env`, `exec-file`) starts with.
pub fn open_file(
    path: &Path,
    identity: &[PathBuf],
) -> Result<(String, kseal::sops::file::Decrypted)> {
    let name = path.display().to_string();
    let text = crate::fsio::read_input(&crate::fsio::Input::File(path.to_path_buf()))
        .map_err(|e| e.in_file(&name))?;
    let ids = load_identities(identity)?;
    let opts = DecryptOptions {
        plain_only: true,
        ..read_options()
    };
    let d = kseal::sops::file::decrypt(&text, &IdentityOpener { ids: &ids }, &opts)
        .map_err(|e| e.in_file(&name))?;
    if let Some(env) = &d.envelope {
        warn_narrow(&name, env);
    }
    Ok((name, d))
}

/// Warns about what a file was read with only because of `--allow-narrow-rule`.
pub fn warn_narrow(name: &str, env: &kseal::sops::file::Envelope) {
    for w in &env.warnings {
        warn(&format!("{name}: read with --allow-narrow-rule: {w}"));
    }
}

pub use kseal::ops::keyopen::IdentityOpener;

/// Loads identities from flags, variables and default files.
pub fn load_identities(flags: &[PathBuf]) -> Result<Identities> {
    kseal::keys::discover(flags, &env_var)
}

/// Refuses `-i` with stdin, where there is no file to replace.
pub fn check_in_place(inputs: &[crate::fsio::Input]) -> Result<()> {
    if inputs
        .iter()
        .any(|i| matches!(i, crate::fsio::Input::Stdin))
    {
        return Err(Error::new(Kind::Usage, "--in-place needs files, not stdin"));
    }
    Ok(())
}

/// An encrypted file opened for change: its bytes as read, and its decrypted content with the
/// envelope (data key, recipients, IV stash).
pub struct Opened {
    pub original: String,
    pub decrypted: kseal::sops::file::Decrypted,
}

impl Opened {
    pub fn envelope(&self) -> &kseal::sops::file::Envelope {
        self.decrypted.envelope.as_ref().expect("checked on open")
    }

    /// Which documents re-encryption covers: all of them for sops files that enveloped every
    /// document, else the Secrets.
    pub fn selector(&self) -> impl Fn(&kseal::yaml::tree::Document) -> bool {
        kseal::ops::set::scope(self.envelope())
    }
}

/// Reads and decrypts an encrypted file (MAC verified); a plain file is refused.
pub fn open_encrypted(path: &Path, identity_flags: &[PathBuf]) -> Result<Opened> {
    open_encrypted_as(path, path, identity_flags)
}

/// `open_encrypted`, with the recipients checked against the `.sops.yaml` rule for `rules_as`
/// (`--filename-override`) instead of the file's own path.
pub fn open_encrypted_as(
    path: &Path,
    rules_as: &Path,
    identity_flags: &[PathBuf],
) -> Result<Opened> {
    let name = path.display().to_string();
    let original = crate::fsio::read_input(&crate::fsio::Input::File(path.to_path_buf()))
        .map_err(|e| e.in_file(&name))?;
    let ids = load_identities(identity_flags)?;
    let decrypted =
        kseal::sops::file::decrypt(&original, &IdentityOpener { ids: &ids }, &read_options())
            .map_err(|e| e.in_file(&name))?;
    if let Some(env) = &decrypted.envelope {
        warn_narrow(&name, env);
        // A write reuses the data key: refused when the recipients differ from `.sops.yaml`.
        let planner = kseal::ops::plan::Planner::from_config(None, &Process)?;
        kseal::ops::rekey::check_write_recipients(&planner, rules_as, &env.meta, &decrypted.text)
            .map_err(|e| e.in_file(&name))?;
    }
    if decrypted.envelope.is_none() {
        return Err(Error::new(
            Kind::Refused,
            "the file is not encrypted (it has no `sops:` block)",
        )
        .in_file(&name)
        .with_hint("encrypt it first with `kseal encrypt -i`"));
    }
    Ok(Opened {
        original,
        decrypted,
    })
}

/// Writes a re-encrypted file atomically, unless it changed on disk since it was read: then
/// the new content goes to a sibling file and the error says how to reconcile.
pub fn write_back(path: &Path, original: &str, new_content: &str) -> Result<()> {
    write_guarded(path, Some(original), new_content)
}

/// `write_back` for a file that did not exist when kseal started (`expected` is `None`).
pub fn write_guarded(path: &Path, expected: Option<&str>, new_content: &str) -> Result<()> {
    let name = path.display().to_string();
    crate::fsio::check_output_size(new_content.len()).map_err(|e| e.in_file(&name))?;
    let expect = match expected {
        Some(text) => crate::fsio::Expect::Content(text.as_bytes()),
        None => crate::fsio::Expect::Absent,
    };
    // The comparison and the rename happen under fsio's directory lock: of two kseal processes
    // that started from the same version, only one replaces it.
    if !crate::fsio::replace_if_unchanged(path, expect, new_content.as_bytes(), 0o644)? {
        let sibling = sibling_path(path);
        crate::fsio::write_new_private(&sibling, new_content.as_bytes())?;
        return Err(Error::new(
            Kind::Refused,
            format!("{name} changed on disk while kseal was working on it; it was not overwritten"),
        )
        .with_hint(format!(
            "your change is saved, encrypted, in {}: compare with `kseal decrypt`, then move it over {name} or edit again",
            sibling.display()
        )));
    }
    Ok(())
}

fn sibling_path(path: &Path) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "secret.yaml".into());
    // The process id keeps two conflicts within one second apart.
    path.with_file_name(format!("{file}.kseal-{stamp}-{}", std::process::id()))
}

/// Runs `f` over the items on all cores; results keep the items' order.
pub fn parallel_map<I: Sync, T: Send>(
    inputs: &[I],
    f: impl Fn(&I) -> Result<T> + Sync,
) -> Vec<Result<T>> {
    if inputs.len() <= 1 {
        return inputs.iter().map(&f).collect();
    }
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(inputs.len());
    if workers <= 1 {
        return inputs.iter().map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<Result<T>>> = (0..inputs.len()).map(|_| None).collect();
    let chunks: Vec<Vec<(usize, Result<T>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= inputs.len() {
                            break;
                        }
                        mine.push((i, f(&inputs[i])));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (i, r) in chunks.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::new(Kind::Internal, "a worker thread failed"))))
        .collect()
}

/// The recipient planner of a command line's `--age`, `--recipients-file` and `--config`.
pub fn planner(r: &crate::cli::RecipientArgs) -> Result<kseal::ops::plan::Planner> {
    let flags = kseal::ops::plan::RecipientFlags {
        age: &r.age,
        recipients_files: &r.recipients_file,
        config: r.config.file.as_deref(),
    };
    kseal::ops::plan::Planner::new(&flags, &Process)
}

/// The process as the library's use cases see it: the real environment variables, files and
/// working directory, and the `.sops.yaml` search with its warnings.
pub struct Process;

impl kseal::ops::plan::Environment for Process {
    fn var(&self, name: &str) -> Option<String> {
        env_var(name)
    }
    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn current_dir(&self) -> std::io::Result<PathBuf> {
        std::env::current_dir()
    }
    fn find_config(&self, dir: &Path) -> Option<PathBuf> {
        find_sops_yaml(dir)
    }
}

impl kseal::ops::seal::Host for Process {
    fn note(&self, msg: &str) {
        note(msg)
    }
    fn warn(&self, msg: &str) {
        warn(msg)
    }
    fn check_output_size(&self, len: usize) -> Result<()> {
        crate::fsio::check_output_size(len)
    }
}

/// Reads a file and its `sops:` metadata for `updatekeys` and `rotate`. `Ok(None)`: the file
/// is not encrypted.
pub fn load(path: &Path) -> Result<Option<kseal::ops::rekey::Loaded>> {
    let text = crate::fsio::read_input(&crate::fsio::Input::File(path.to_path_buf()))?;
    kseal::ops::rekey::load(text)
}

/// Prints a report line on stdout (a closed pipe is not an error: `kseal updatekeys | head`).
pub fn say(line: &str) -> Result<()> {
    crate::fsio::write_stdout(format!("{line}\n").as_bytes())
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
