//! `kseal exec-env FILE -- CMD...` and `kseal exec-file FILE -- CMD {}`: run a command with
//! one Secret's keys as environment variables (like `envFrom`) or as files in a private
//! directory (like a volume mount: 0700 on tmpfs when there is one, files 0600, overwritten
//! and removed when the command ends). kseal exits with the command's exit code.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kseal::envfrom::{self, SecretEntries};
use kseal::error::{Error, Kind, Result};
use kseal::sops::file::{self, DecryptOptions};

use super::{load_identities, warn, IdentityOpener};
use crate::cli::ExecArgs;
use crate::fsio::{self, Input};

fn entries(a: &ExecArgs) -> Result<SecretEntries> {
    let name = a.file.display().to_string();
    let text = fsio::read_input(&Input::File(a.file.clone())).map_err(|e| e.in_file(&name))?;
    let ids = load_identities(&a.identity)?;
    let d = file::decrypt(
        &text,
        &IdentityOpener { ids: &ids },
        &DecryptOptions {
            plain_only: true,
            ..super::read_options()
        },
    )
    .map_err(|e| e.in_file(&name))?;
    if let Some(env) = &d.envelope {
        super::warn_narrow(&name, env);
    }
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
    cmd.args(&a.command[1..]);
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
    let code = supervise(&mut cmd, &a.command[0])?;
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
    let dir = PrivateDir::new()?;
    for (k, v) in &secret.entries {
        dir.write(k, v)?;
    }
    let path = dir.path().to_string_lossy().into_owned();
    let args: Vec<String> = a.command.iter().map(|s| s.replace("{}", &path)).collect();
    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..]).env("KSEAL_SECRET_DIR", dir.path());
    let result = supervise(&mut cmd, &args[0]);
    // Remove the files before exiting: process::exit skips destructors.
    drop(dir);
    std::process::exit(result?)
}

/// Runs the command and returns its exit code (128 + signal when it was killed). SIGTERM
/// and SIGHUP sent to kseal end the command, so that the cleanup still happens; SIGINT
/// reaches the command through the terminal and kseal waits for it.
fn supervise(cmd: &mut Command, name: &str) -> Result<i32> {
    let stop = Arc::new(AtomicBool::new(false));
    let ignore = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(|e| {
            Error::new(
                Kind::Internal,
                format!("cannot install a signal handler: {e}"),
            )
        })?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&ignore)).map_err(|e| {
        Error::new(
            Kind::Internal,
            format!("cannot install a signal handler: {e}"),
        )
    })?;
    let mut child: Child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Ok(not_started(name, &e)),
    };
    loop {
        if stop.load(Ordering::SeqCst) {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(143);
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
    eprintln!("kseal: error: cannot run `{name}`: {what}");
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
