//! The editor session's machinery, shared by `kseal edit` and the sops command line's edit:
//! which editor to run, the private buffer file (0600 in a private directory, on tmpfs when
//! there is one, overwritten and removed on every exit path), running the editor while
//! signals are watched, and asking on the terminal after an invalid edit.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use zeroize::Zeroizing;

use kseal::error::{Error, Kind, Result};

use crate::commands::{env_var, without_identities};
use crate::signals::Terminations;

/// Where the editor comes from: the variables read in order (split like a shell), the
/// programs looked for on PATH when none is set, and the kind of error when none is found.
pub struct EditorChoice {
    pub vars: &'static [&'static str],
    pub fallbacks: &'static [&'static str],
    pub missing: Kind,
}

/// `kseal edit`'s editor: KSEAL_EDITOR, SOPS_EDITOR, VISUAL, EDITOR, else `vi`, else `nano`.
pub const KSEAL_EDITOR: EditorChoice = EditorChoice {
    vars: &["KSEAL_EDITOR", "SOPS_EDITOR", "VISUAL", "EDITOR"],
    fallbacks: &["vi", "nano"],
    missing: Kind::Config,
};

/// The editor to run, as words (the buffer's path is appended when it runs).
pub fn editor_command(choice: &EditorChoice) -> Result<Vec<String>> {
    for var in choice.vars {
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
    for candidate in choice.fallbacks {
        if find_in_path(candidate).is_some() {
            return Ok(vec![candidate.to_string()]);
        }
    }
    Err(Error::new(choice.missing, "no editor found")
        .with_hint("set EDITOR (for example EDITOR=\"code --wait\")"))
}

fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = env_var("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// The private place of the plaintext buffer; dropping it removes the directory.
pub struct Session {
    dir: tempfile::TempDir,
    file: PathBuf,
    /// The buffer as kseal wrote it, held open while the editor runs, as sops does: plugins
    /// (vim-sops) find the session that owns a buffer through /proc/PID/fd. Overwritten
    /// through this handle too at the end, in case the editor saved by rename.
    held: std::cell::RefCell<Option<fs::File>>,
    pub stop: Terminations,
}

impl Session {
    pub fn new(target: &Path) -> Result<Session> {
        // Every catchable terminating signal (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT...) stops the
        // session: the editor is ended and the directory removed by Drop, instead of the
        // process dying with plaintext on disk. Installed before the directory exists.
        let stop = Terminations::install()?;
        let dir = crate::fsio::private_tempdir("kseal-edit-", env_var("KSEAL_TMPDIR"))?;
        let base_name = target
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "secret.yaml".into());
        let file = dir.path().join(base_name);
        Ok(Session {
            dir,
            file,
            held: std::cell::RefCell::new(None),
            stop,
        })
    }

    pub fn write(&self, text: &str) -> Result<()> {
        // A fresh file each time (the last round's may be the editor's, or gone), created
        // exclusively and never through a link.
        let _ = fs::remove_file(&self.file);
        let mut f = crate::fsio::create_private_file(&self.file)
            .map_err(|e| Error::new(Kind::Output, format!("cannot write the edit buffer: {e}")))?;
        f.write_all(text.as_bytes())
            .map_err(|e| Error::new(Kind::Output, format!("cannot write the edit buffer: {e}")))?;
        if let Some(old) = self.held.replace(Some(f)) {
            wipe(old);
        }
        Ok(())
    }

    /// Re-reads the buffer by path: editors that save by rename leave the old file behind.
    pub fn read(&self) -> Result<Zeroizing<String>> {
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

    pub fn run_editor(&self, editor: &[String]) -> Result<()> {
        let mut child = without_identities(&mut Command::new(&editor[0]))
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

/// Overwrites an open buffer file with zeros (tmpfs pages may otherwise linger).
fn wipe(mut f: fs::File) {
    use std::io::{Seek, SeekFrom};
    if let Ok(meta) = f.metadata() {
        if f.seek(SeekFrom::Start(0)).is_ok() {
            let _ = f.write_all(&vec![0u8; meta.len() as usize]);
            let _ = f.sync_all();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(f) = self.held.get_mut().take() {
            wipe(f);
        }
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

/// After an invalid edit: on a terminal, says what is wrong and waits for Enter (back to the
/// editor) or Ctrl-C / end of input (give up); without a terminal, gives up at once. Giving
/// up is exit 11 with the file untouched.
pub fn ask_to_reopen(name: &str, problem: &Error, stop: &Terminations) -> Result<()> {
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
