//! The sops command line that editor plugins run, answered by kseal: `-d` (with `--extract`,
//! `--in-place`, `--output`), `-e` (stdin through `/dev/stdin` and `--filename-override`), the
//! edit protocol (`EDITOR=script sops FILE`: the buffer is exactly what `-d` prints, saved
//! text re-encrypted with stable ciphertext, exit 200 when nothing changed and 201 when no
//! editor is found), `filestatus` and `--version`. Quiet on stderr when it succeeds, as sops
//! is: plugins read stderr as a failure (IntelliJ) or mix it into the file (Emacs).

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use kseal::error::{Error, Kind, Result};
use kseal::ops::edit::{self, Outcome, Target};
use kseal::ops::plan::{self, Planner, RecipientFlags};
use kseal::ops::seal::{self, Recipients};
use kseal::sops::file::{self, DecryptOptions};

use super::{load_identities, read_options, IdentityOpener, Process};
use crate::editbuf::{ask_to_reopen, editor_command, EditorChoice, Session};
use crate::fsio::{self, Input};
use crate::sopscli::{self, SopsArgs, Verb};

/// sops's editor: SOPS_EDITOR, EDITOR, else vim, nano, vi; none: exit 201.
const SOPS_EDITOR: EditorChoice = EditorChoice {
    vars: &["SOPS_EDITOR", "EDITOR"],
    fallbacks: &["vim", "nano", "vi"],
    missing: Kind::SopsNoEditor,
};

/// The crypt rule kseal writes (`encrypted_regex`): the only one the sops flags may name.
const KSEAL_RULE: &str = "^(data|stringData)$";

pub fn run(a: &SopsArgs) -> Result<()> {
    match a.verb {
        Some(Verb::Version) => fsio::write_stdout(sopscli::version_text().as_bytes()),
        Some(Verb::Help) => fsio::write_stdout(HELP.as_bytes()),
        Some(Verb::Decrypt) => decrypt(a),
        Some(Verb::Encrypt) => encrypt(a),
        Some(Verb::Filestatus) => filestatus(a),
        Some(Verb::Edit) | None => edit_file(a),
        // main.rs runs kseal's own commands for the others.
        Some(v) => Err(Error::new(
            Kind::Internal,
            format!("sops {v:?} reached the wrong handler"),
        )),
    }
}

const HELP: &str = "\
kseal answers the sops command line that editor plugins run (editors.md in kseal's
documentation):
  sops -d [--extract PATH] [-i | --output OUT] FILE     decrypt (MAC verified)
  sops -e [--filename-override PATH] [-i | --output OUT] FILE|/dev/stdin
  sops [edit] FILE                                      edit in $SOPS_EDITOR or $EDITOR
  sops filestatus FILE, set, unset, updatekeys, rotate -i, --version
Types: yaml and json (Kubernetes manifests); age recipients only.
Exit codes: kseal's (kseal --help), and 200 (edit: no change), 201 (no editor found).
";

/// The one file the command line names (`/dev/stdin` and `-` are stdin).
fn the_file(a: &SopsArgs) -> Result<Input> {
    match a.positional.as_slice() {
        [f] if f == "-" || f == "/dev/stdin" => Ok(Input::Stdin),
        [f] => Ok(Input::File(PathBuf::from(f))),
        [] => Err(Error::new(Kind::Usage, "sops: no file given")),
        _ => Err(Error::new(Kind::Usage, "sops: give one file")),
    }
}

/// The name messages use: `--filename-override` for stdin, else the file.
fn name_of(a: &SopsArgs, input: &Input) -> String {
    match (input, &a.filename_override) {
        (Input::Stdin, Some(o)) => o.display().to_string(),
        _ => input.name(),
    }
}

/// Refuses an output type other than the file's own: kseal does not convert YAML and JSON.
fn check_output_type(a: &SopsArgs, text: &str) -> Result<()> {
    let is_json = text.trim_start().starts_with('{');
    match a.output_type.as_deref() {
        Some("json") if !is_json => Err(Error::new(
            Kind::Unsupported,
            "--output-type json for a YAML file: kseal does not convert between YAML and JSON",
        )),
        Some("yaml") if is_json => Err(Error::new(
            Kind::Unsupported,
            "--output-type yaml for a JSON file: kseal does not convert between YAML and JSON",
        )),
        _ => Ok(()),
    }
}

fn decrypt(a: &SopsArgs) -> Result<()> {
    let input = the_file(a)?;
    let name = name_of(a, &input);
    let text = fsio::read_input(&input).map_err(|e| e.in_file(&name))?;
    check_output_type(a, &text).map_err(|e| e.in_file(&name))?;
    let ids = load_identities(&[])?;
    let opts = DecryptOptions {
        ignore_mac: a.ignore_mac,
        plain_only: true,
        ..read_options()
    };
    let d =
        file::decrypt(&text, &IdentityOpener { ids: &ids }, &opts).map_err(|e| e.in_file(&name))?;
    // sops fails on a file without metadata; plugins rely on it to tell encrypted files.
    let Some(env) = &d.envelope else {
        return Err(not_encrypted(&name));
    };
    if !env.mac_ok {
        super::warn(&format!(
            "{name}: MAC mismatch ignored (--ignore-mac): this file may have been tampered with"
        ));
    }
    let out = match &a.extract {
        Some(path) => kseal::ops::extract::extract(&d.text, path).map_err(|e| e.in_file(&name))?,
        None => Zeroizing::new(d.text.to_string()),
    };
    match (&input, a.in_place, &a.output) {
        (Input::File(p), true, _) => {
            let expected = fsio::Expect::Content(text.as_bytes());
            if !fsio::replace_private_if_unchanged(p, expected, out.as_bytes())? {
                return Err(fsio::changed_on_disk(p));
            }
            Ok(())
        }
        (Input::Stdin, true, _) => Err(Error::new(
            Kind::Usage,
            "--in-place needs a file, not stdin",
        )),
        (_, false, Some(o)) => fsio::write_private(o, out.as_bytes()),
        _ => fsio::write_stdout(out.as_bytes()),
    }
}

fn not_encrypted(name: &str) -> Error {
    Error::new(
        Kind::Refused,
        "sops metadata not found: the file is not encrypted",
    )
    .in_file(name)
}

/// The `.sops.yaml` rules of the command line (`--config`, else the search from the working
/// directory), with `--age` recipients first.
fn planner(a: &SopsArgs) -> Result<Planner> {
    let flags = RecipientFlags {
        age: &a.age,
        recipients_files: &[],
        config: a.config.as_deref(),
    };
    Planner::new(&flags, &Process)
}

/// The `--encrypted-regex` family may only name what kseal encrypts anyway.
fn check_crypt_rule(a: &SopsArgs) -> Result<()> {
    for (flag, v) in &a.crypt_rule {
        if !(flag == "--encrypted-regex" && v == KSEAL_RULE) {
            return Err(Error::new(
                Kind::Unsupported,
                format!("sops flag {flag} {v:?}: kseal encrypts the values of data and stringData of Secrets (encrypted_regex {KSEAL_RULE}), nothing else"),
            ));
        }
    }
    Ok(())
}

fn encrypt(a: &SopsArgs) -> Result<()> {
    check_crypt_rule(a)?;
    let input = the_file(a)?;
    let name = name_of(a, &input);
    let file = match &input {
        Input::File(p) => Some(p.as_path()),
        Input::Stdin => None,
    };
    let planner = planner(a)?;
    let target = plan::rules_target(a.filename_override.as_deref(), a.output.as_deref(), file);
    let early = planner.plan_early(target).map_err(|e| e.in_file(&name))?;
    let text = Zeroizing::new(fsio::read_input(&input).map_err(|e| e.in_file(&name))?);
    check_output_type(a, &text).map_err(|e| e.in_file(&name))?;
    let recipients = match &early {
        Some(p) => Recipients::Plan(p),
        None => Recipients::Rules(&planner, target),
    };
    let host = Quiet { verbose: a.verbose };
    let out = seal::seal(&name, &text, recipients, false, &host).map_err(|e| e.in_file(&name))?;
    fsio::check_output_size(out.len()).map_err(|e| e.in_file(&name))?;
    match (file, a.in_place, &a.output) {
        (Some(p), true, _) => {
            let expected = fsio::Expect::Content(text.as_bytes());
            if !fsio::replace_if_unchanged(p, expected, out.as_bytes(), 0o644)? {
                return Err(fsio::changed_on_disk(p));
            }
            Ok(())
        }
        (None, true, _) => Err(Error::new(
            Kind::Usage,
            "--in-place needs a file, not stdin",
        )),
        (_, false, Some(o)) => fsio::write_atomic(o, out.as_bytes(), 0o644),
        _ => fsio::write_stdout(out.as_bytes()),
    }
}

/// sops's `filestatus`: `{"encrypted":true}` or `{"encrypted":false}`.
fn filestatus(a: &SopsArgs) -> Result<()> {
    let input = the_file(a)?;
    let name = input.name();
    let text = fsio::read_input(&input).map_err(|e| e.in_file(&name))?;
    let encrypted = kseal::ops::rekey::load(text)
        .map_err(|e| e.in_file(&name))?
        .is_some();
    fsio::write_stdout(format!("{{\"encrypted\":{encrypted}}}\n").as_bytes())
}

/// An encrypted file opened for the edit, its recipients checked against the rules as every
/// kseal write is (with `--config` when the command line names one).
fn open(path: &Path, a: &SopsArgs) -> Result<super::Opened> {
    let name = path.display().to_string();
    let original =
        fsio::read_input(&Input::File(path.to_path_buf())).map_err(|e| e.in_file(&name))?;
    let ids = load_identities(&[])?;
    let opts = DecryptOptions {
        ignore_mac: a.ignore_mac,
        ..read_options()
    };
    let decrypted = file::decrypt(&original, &IdentityOpener { ids: &ids }, &opts)
        .map_err(|e| e.in_file(&name))?;
    let Some(env) = &decrypted.envelope else {
        return Err(not_encrypted(&name));
    };
    let rules = Planner::from_config(a.config.as_deref(), &Process)?;
    kseal::ops::rekey::check_write_recipients(&rules, path, &env.meta, &decrypted.text)
        .map_err(|e| e.in_file(&name))?;
    Ok(super::Opened {
        original,
        decrypted,
    })
}

/// The sops edit protocol (a bare FILE or `edit FILE`). A file that does not exist starts, as
/// in sops, from an example (kseal's Secret template), sealed for the recipients the rules or
/// `--age` give its name; left unchanged, nothing is written (exit 200).
fn edit_file(a: &SopsArgs) -> Result<()> {
    let Input::File(path) = the_file(a)? else {
        return Err(Error::new(Kind::Usage, "sops edit needs a file, not stdin"));
    };
    let name = path.display().to_string();
    if !path.exists() {
        crate::fsio::check_new_file_dir(&path)?;
        let rules_path = a.filename_override.as_deref().unwrap_or(&path);
        let plan = planner(a)?
            .plan_for(Some(rules_path))
            .map_err(|e| e.in_file(&name))?;
        let quiet = Quiet { verbose: a.verbose };
        let seal_fn = |p: &str| seal::seal_new(&name, p, &plan, false, &quiet);
        let template = Zeroizing::new(edit::template(&path));
        let session_edit = edit::Session::start_plain(template.clone(), Target::New(&seal_fn));
        return edit_loop(&path, &session_edit, template, |out| {
            super::write_guarded(&path, None, out)
        });
    }
    let opened = open(&path, a)?;
    let plain = Zeroizing::new(opened.decrypted.text.to_string());
    let session_edit =
        edit::Session::start_plain(plain.clone(), Target::Existing(opened.envelope()));
    edit_loop(&path, &session_edit, plain, |out| {
        super::write_back(&path, &opened.original, out)
    })
}

/// Runs the editor on `buffer` until the saved text is unchanged (exit 200), emptied, or
/// sealed (then `write`); invalid text goes back to the editor only when a person says so.
fn edit_loop(
    path: &Path,
    session_edit: &edit::Session,
    mut buffer: Zeroizing<String>,
    write: impl FnOnce(&str) -> Result<()>,
) -> Result<()> {
    let name = path.display().to_string();
    let editor = editor_command(&SOPS_EDITOR)?;
    let session = Session::new(path)?;
    let mut had_problem = false;
    loop {
        session.write(&buffer)?;
        session.run_editor(&editor)?;
        let saved = session.read()?;
        match session_edit.review(&buffer, &saved, had_problem)? {
            Outcome::Unchanged => {
                return Err(Error::new(
                    Kind::SopsUnchanged,
                    "file has not changed; it was not rewritten",
                )
                .in_file(&name))
            }
            Outcome::Cancelled => {
                return Err(Error::new(
                    Kind::Aborted,
                    "the edited file is empty: nothing was written and the file was not changed",
                )
                .in_file(&name))
            }
            Outcome::Sealed(out) => return write(&out),
            Outcome::Invalid { problem, next } => {
                ask_to_reopen(&name, &problem, &session.stop)?;
                buffer = next;
                had_problem = true;
            }
        }
    }
}

/// The encrypt pipeline's notes and warnings, shown with `--verbose` only: sops prints
/// nothing when it succeeds, and Emacs's sops mode reads stderr into the encrypted file.
struct Quiet {
    verbose: bool,
}

impl seal::Host for Quiet {
    fn note(&self, msg: &str) {
        if self.verbose {
            super::note(msg)
        }
    }
    fn warn(&self, msg: &str) {
        if self.verbose {
            super::warn(msg)
        }
    }
    fn check_output_size(&self, len: usize) -> Result<()> {
        fsio::check_output_size(len)
    }
}
