//! `kseal edit`: the editor session. The plaintext lives only in a private temporary
//! directory (0700, on tmpfs when there is one, file 0600) that is removed on every exit path;
//! what a saved buffer means (and its re-encryption with the same data key, so unchanged
//! values keep their ciphertext) is `kseal::ops::edit`'s.

use zeroize::Zeroizing;

use kseal::error::Result;
use kseal::ops::edit::{self, Outcome, Target};

use super::{note, open_encrypted, write_back, write_guarded};
use crate::cli::EditArgs;
use crate::editbuf::{ask_to_reopen, editor_command, Session, KSEAL_EDITOR};
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
        crate::fsio::check_new_file_dir(path)?;
        let r = &args.recipients;
        let plan = super::planner(r)?
            .plan_for(Some(args.filename_override.path.as_deref().unwrap_or(path)))
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
    let editor = editor_command(&KSEAL_EDITOR)?;
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
