//! `kseal edit`: the editor session. The plaintext lives only in a private temporary
//! directory (0700, on tmpfs when there is one, file 0600) that is removed on every exit path;
//! what a saved buffer means (and its re-encryption with the same data key, so unchanged
//! values keep their ciphertext) is `kseal::ops::edit`'s.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use zeroize::Zeroizing;

use kseal::error::{Error, Kind, Result};
use kseal::ops::edit::{self, Outcome, Target};

use super::{env_var, note, open_encrypted, write_back, write_guarded};
use crate::cli::EditArgs;
use crate::signals::Terminations;
use kseal::ops::seal::seal_new;

/// What the edited text is encrypted into: the file's own envelope, or a new one.
enum Source {
    Existing(Box<super::Opened>),
    New(kseal::ops::plan::Plan),
}

pub fn run(args: &EditArgs) -> Result<()> {
    let path = &args.file;
    let name = path.display().to_string();
    let (source, plain) = if path.exists() {
        let opened = open_encrypted(path, &args.identity.files)?;
        let plain = Zeroizing::new(opened.decrypted.text.to_string());
        (Source::Existing(Box::new(opened)), plain)
    } else {
        check_new_file_dir(path)?;
        let r = &args.recipients;
        let plan = super::planner(r)?
            .plan_for(Some(args.filename_override.as_deref().unwrap_or(path)))
            .map_err(|e| e.in_file(&name))?;
        (Source::New(plan), Zeroizing::new(edit::template(path)))
    };
    let seal_fn;
    let target = match &source {
        Source::Existing(o) => Target::Existing(o.envelope()),
        Source::New(plan) => {
            seal_fn = |p: &str| seal_new(&name, p, plan, false, &super::Process);
            Target::New(&seal_fn)
        }
    };
    let edit = edit::Session::start(&name, plain, target)?;
    let editor = editor_command()?;
    let session = Session::new(path)?;
    let mut buffer = edit.first_buffer();
    let mut problem: Option<String> = None;
    loop {
        let shown = edit::Session::shown(&buffer, problem.as_deref());
        session.write(&shown)?;
        session.run_editor(&editor)?;
        let saved = session.read()?;
        match edit.review(&shown, &saved, problem.is_some())? {
            Outcome::Unchanged => {
                note(&format!("{name}: no changes; the file was not rewritten"));
                return Ok(());
            }
            Outcome::Cancelled => {
                note(&format!(
                    "{name}: empty buffer: edit cancelled, the file was not changed"
                ));
                return Ok(());
            }
            Outcome::Sealed(out) => {
                return match &source {
                    Source::Existing(o) => write_back(path, &o.original, &out),
                    Source::New(_) => write_guarded(path, None, &out),
                };
            }
            Outcome::Invalid { problem: e, next } => {
                // Back to the editor with the error on top, but only when a person says so:
                // an editor that does not wait (or no terminal) would loop forever.
                ask_to_reopen(&name, &e, &session.stop)?;
                problem = Some(e.to_string());
                buffer = next;
            }
        }
    }
}

/// After an invalid edit: on a terminal, says what is wrong and waits for Enter (back to the
/// editor) or Ctrl-C / end of input (give up); without a terminal, gives up at once. Giving
/// up is exit 11 with the file untouched.
fn ask_to_reopen(name: &str, problem: &Error, stop: &Terminations) -> Result<()> {
    use std::io::IsTerminal;
    let invalid = |why: &str| {
        Error::new(
            Kind::Aborted,
            format!("{name}: the edited text is not valid ({problem}); {why}: nothing was written and the file was not changed"),
        )
    };
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(invalid("no terminal to ask whether to reopen the editor").with_hint(
            "run `kseal edit` in a terminal to correct the text, or change values with `kseal set`",
        ));
    }
    eprint!(
        "kseal: {name}: the edited text is not valid: {problem}\nPress Enter to return to the editor, or Ctrl-C to give up (nothing is written): "
    );
    if wait_for_enter(stop)? {
        Ok(())
    } else {
        eprintln!();
        Err(invalid("you gave up"))
    }
}

/// Waits for a line on stdin (a terminal); `false` on Ctrl-C (the session's signal flag) or
/// end of input. Polls, because the signal handler restarts a blocked read.
fn wait_for_enter(stop: &Terminations) -> Result<bool> {
    let mut buf = [0u8; 64];
    loop {
        if stop.received().is_some() {
            return Ok(false);
        }
        let mut pfd = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, 100) };
        if ready < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::new(
                Kind::Aborted,
                format!("cannot wait for an answer on the terminal: {e}"),
            ));
        }
        if ready == 0 {
            continue;
        }
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return Ok(false),
            n if n < 0 => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(Error::new(
                        Kind::Aborted,
                        format!("cannot read the answer from the terminal: {e}"),
                    ));
                }
            }
            n => {
                if buf[..n as usize].contains(&b'\n') {
                    return Ok(true);
                }
            }
        }
    }
}

/// A new file goes into a directory that must exist before the editor opens: found missing
/// only at the write, what was typed would be lost.
fn check_new_file_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        return Ok(());
    }
    let what = if dir.exists() {
        "is not a directory"
    } else {
        "does not exist"
    };
    Err(Error::new(
        Kind::Output,
        format!(
            "cannot create {}: the directory {} {what}; the editor was not opened",
            path.display(),
            dir.display()
        ),
    )
    .with_hint(format!("create it first: mkdir -p {}", dir.display())))
}

/// The editor to run: KSEAL_EDITOR, SOPS_EDITOR, VISUAL, EDITOR (split like a shell), else
/// `vi`, else `nano`.
fn editor_command() -> Result<Vec<String>> {
    for var in ["KSEAL_EDITOR", "SOPS_EDITOR", "VISUAL", "EDITOR"] {
        if let Some(v) = env_var(var).filter(|v| !v.trim().is_empty()) {
            return match shlex::split(&v) {
                Some(words) if !words.is_empty() => Ok(words),
                _ => Err(Error::new(
                    Kind::Config,
                    format!("cannot split ${var} into words (unbalanced quotes?)"),
                )),
            };
        }
    }
    for candidate in ["vi", "nano"] {
        if find_in_path(candidate).is_some() {
            return Ok(vec![candidate.to_string()]);
        }
    }
    Err(Error::new(Kind::Config, "no editor found")
        .with_hint("set EDITOR (for example EDITOR=\"code --wait\")"))
}

fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = env_var("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// The private place of the plaintext buffer; dropping it removes the directory.
struct Session {
    dir: tempfile::TempDir,
    file: PathBuf,
    stop: Terminations,
}

impl Session {
    fn new(target: &Path) -> Result<Session> {
        // Every catchable terminating signal (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT...) stops the
        // session: the editor is ended and the directory removed by Drop, instead of the
        // process dying with plaintext on disk. Installed before the directory exists.
        let stop = Terminations::install()?;
        let dir = crate::fsio::private_tempdir("kseal-edit-", super::env_var("KSEAL_TMPDIR"))?;
        let base_name = target
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "secret.yaml".into());
        let file = dir.path().join(base_name);
        Ok(Session { dir, file, stop })
    }

    fn write(&self, text: &str) -> Result<()> {
        // A fresh file each time (the last round's may be the editor's, or gone), created
        // exclusively and never through a link.
        let _ = fs::remove_file(&self.file);
        let mut f = crate::fsio::create_private_file(&self.file)
            .map_err(|e| Error::new(Kind::Output, format!("cannot write the edit buffer: {e}")))?;
        f.write_all(text.as_bytes())
            .map_err(|e| Error::new(Kind::Output, format!("cannot write the edit buffer: {e}")))?;
        Ok(())
    }

    /// Re-reads the buffer by path: editors that save by rename leave the old file behind.
    fn read(&self) -> Result<Zeroizing<String>> {
        let bytes = fs::read(&self.file).map_err(|e| {
            Error::new(
                Kind::Aborted,
                format!("the edit buffer is gone ({e}); nothing was written"),
            )
        })?;
        String::from_utf8(bytes).map(Zeroizing::new).map_err(|_| {
            Error::new(
                Kind::Aborted,
                "the edit buffer is not UTF-8 text; nothing was written",
            )
        })
    }

    fn run_editor(&self, editor: &[String]) -> Result<()> {
        let mut child = super::without_identities(&mut Command::new(&editor[0]))
            .args(&editor[1..])
            .arg(&self.file)
            .spawn()
            .map_err(|e| {
                Error::new(
                    Kind::Aborted,
                    format!("cannot start the editor `{}`: {e}", editor[0]),
                )
                .with_hint(
                    "set KSEAL_EDITOR or EDITOR to an editor that waits until you close the file",
                )
            })?;
        loop {
            if self.stop.received().is_some() {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::new(
                    Kind::Aborted,
                    "interrupted: the edit was discarded and the file was not changed",
                ));
            }
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(Error::new(
                        Kind::Aborted,
                        format!("the editor failed ({status}); the edit was discarded and the file was not changed"),
                    ))
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(Error::new(Kind::Aborted, format!("cannot wait for the editor: {e}"))),
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Overwrite before unlinking: tmpfs pages may otherwise linger with the plaintext.
        if let Ok(meta) = fs::metadata(&self.file) {
            if let Ok(mut f) = fs::OpenOptions::new().write(true).open(&self.file) {
                let zeros = vec![0u8; meta.len() as usize];
                let _ = f.write_all(&zeros);
                let _ = f.sync_all();
            }
        }
        let _ = fs::remove_dir_all(self.dir.path());
    }
}
