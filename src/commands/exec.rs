//! `kseal exec-env FILE -- CMD...` and `kseal exec-file FILE -- CMD {}`: run a command with
//! one Secret's keys as environment variables (like `envFrom`) or as files in a private
//! directory (like a volume mount: 0700 on tmpfs when there is one, files 0600, overwritten
//! and removed when the command ends). kseal exits with the command's exit code.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use kseal::envfrom::{self, SecretEntries};
use kseal::error::{Error, Kind, Result};

use super::warn;
use crate::cli::ExecArgs;
use crate::fsio;
use crate::signals::Terminations;

fn entries(a: &ExecArgs) -> Result<SecretEntries> {
    let (name, d) = super::open_file(&a.file, &a.identity.files)?;
    envfrom::secret_entries(&d.text, a.select.doc, a.select.name.as_deref())
        .map_err(|e| e.in_file(&name))
}

#[cfg(unix)]
fn os_value(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes).to_os_string()
}

#[cfg(not(unix))]
fn os_value(bytes: &[u8]) -> OsString {
    OsString::from(String::from_utf8_lossy(bytes).into_owned())
}

pub fn run_env(a: &ExecArgs) -> Result<()> {
    let secret = entries(a)?;
    let mut cmd = Command::new(&a.command[0]);
    // The Secret's own keys come after: a Secret may hold a variable of that name on purpose.
    super::without_identities(&mut cmd).args(&a.command[1..]);
    for (k, v) in &secret.entries {
        if !envfrom::valid_env_name(k) {
            warn(&format!(
                "{}: {}: key {k} is not a valid environment variable name: skipped",
                a.file.display(),
                secret.name
            ));
            continue;
        }
        if v.contains(&0) {
            return Err(Error::new(
                Kind::Format,
                format!(
                    "{}: the value of {k} contains a NUL byte, which an environment variable cannot hold",
                    secret.name
                ),
            )
            .with_hint("use `kseal exec-file` for binary values"));
        }
        cmd.env(k, os_value(v));
    }
    let term = Terminations::install()?;
    let code = supervise(&mut cmd, &a.command[0], &term)?;
    std::process::exit(code)
}

pub fn run_file(a: &ExecArgs) -> Result<()> {
    let secret = entries(a)?;
    for (k, _) in &secret.entries {
        if !envfrom::valid_key(k) {
            return Err(Error::new(
                Kind::Format,
                format!("{}: key {k} cannot be a file name", secret.name),
            ));
        }
    }
    // Before the directory exists: from then on no catchable signal ends kseal untidily.
    let term = Terminations::install()?;
    let dir = PrivateDir::new()?;
    for (k, v) in &secret.entries {
        dir.write(k, v)?;
    }
    let path = dir.path().to_string_lossy().into_owned();
    let args: Vec<String> = a.command.iter().map(|s| s.replace("{}", &path)).collect();
    let mut cmd = Command::new(&args[0]);
    super::without_identities(&mut cmd)
        .args(&args[1..])
        .env("KSEAL_SECRET_DIR", dir.path());
    let result = supervise(&mut cmd, &args[0], &term);
    // Remove the files before exiting: process::exit skips destructors.
    drop(dir);
    std::process::exit(result?)
}

/// How long a command may take to end after kseal passed it a terminating signal, before it
/// is killed (so that kseal itself ends and removes the files before a supervisor's SIGKILL).
const GRACE: Duration = Duration::from_secs(5);

/// Runs the command and returns its exit code (128 + signal when it was killed). Every
/// terminating signal kseal catches (`signals`) is passed on to the command, and kseal waits
/// for it to end (killing it after [`GRACE`]) so that the cleanup still happens; SIGINT is
/// not passed on (the terminal sends Ctrl-C to the command itself) and kseal waits for it.
fn supervise(cmd: &mut Command, name: &str, term: &Terminations) -> Result<i32> {
    if let Some(sig) = term.received() {
        return Ok(128 + sig);
    }
    let mut child: Child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Ok(not_started(name, &e)),
    };
    let mut deadline: Option<Instant> = None;
    loop {
        if let Some(sig) = term.received() {
            term.clear();
            #[cfg(unix)]
            if sig != libc::SIGINT {
                // SAFETY: kill takes plain integers; the child is not reaped yet, so its pid
                // still names it.
                unsafe {
                    libc::kill(child.id() as libc::pid_t, sig);
                }
                deadline.get_or_insert_with(|| Instant::now() + GRACE);
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
        }
        match child.try_wait() {
            Ok(Some(status)) => return Ok(exit_code(status)),
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                return Err(Error::new(
                    Kind::Internal,
                    format!("cannot wait for `{name}`: {e}"),
                ))
            }
        }
    }
}

/// A command that could not be started gets a shell's codes, so scripts tell it from the
/// command's own failures: 127 when it does not exist, 126 when it cannot be executed.
fn not_started(name: &str, e: &std::io::Error) -> i32 {
    let (code, what, hint) = match e.kind() {
        std::io::ErrorKind::NotFound => (
            127,
            "command not found".to_string(),
            "is it installed, and on PATH? (a shell built-in needs `-- sh -c '...'`)",
        ),
        _ => (
            126,
            format!("cannot execute it: {e}"),
            "check that it is an executable file (mode +x, a valid interpreter line)",
        ),
    };
    let line = format!("cannot run `{name}`: {what}");
    eprintln!(
        "kseal: error: {}",
        kseal::error::escape_controls(&line, false)
    );
    eprintln!("  hint: {hint}");
    code
}

#[cfg(unix)]
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

#[cfg(not(unix))]
fn exit_code(status: std::process::ExitStatus) -> i32 {
    status.code().unwrap_or(1)
}

/// A private directory for the key files, removed (files overwritten first) on drop.
struct PrivateDir {
    dir: tempfile::TempDir,
}

impl PrivateDir {
    fn new() -> Result<PrivateDir> {
        let dir = crate::fsio::private_tempdir("kseal-exec-", super::env_var("KSEAL_TMPDIR"))?;
        Ok(PrivateDir { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, key: &str, value: &[u8]) -> Result<()> {
        let err = |e: std::io::Error| {
            Error::new(
                Kind::Output,
                format!("cannot write the file for key {key}: {e}"),
            )
        };
        let mut f = fsio::create_private_file(&self.dir.path().join(key)).map_err(err)?;
        f.write_all(value).map_err(err)
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        // Overwrite before unlinking: tmpfs pages may otherwise linger with the plaintext.
        if let Ok(rd) = fs::read_dir(self.dir.path()) {
            for entry in rd.flatten() {
                let p = entry.path();
                if let Ok(meta) = fs::symlink_metadata(&p) {
                    if meta.is_file() {
                        if let Ok(mut f) = fs::OpenOptions::new().write(true).open(&p) {
                            let _ = f.write_all(&vec![0u8; meta.len() as usize]);
                            let _ = f.sync_all();
                        }
                    }
                }
            }
        }
        let _ = fs::remove_dir_all(self.dir.path());
    }
}
