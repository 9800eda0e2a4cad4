//! `edit` without the terminal: the buffer a person edits (a header and the decoded view of
//! the plaintext), and what a saved buffer means: no change, cancelled (emptied), invalid (to
//! show again with the problem on top), or the new file text sealed with stable ciphertext
//! (the file's own envelope: unchanged values keep their `ENC[...]` text). The editor process,
//! the private temporary file and the questions on the terminal belong to the command.

use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::sops::file::{self, Envelope};
use crate::view::{self, ViewState};

/// What the edited text is sealed into.
pub enum Target<'a> {
    /// The file's own envelope: data key, recipients and IV stash.
    Existing(&'a Envelope),
    /// A new file, sealed by the caller (with the recipients it planned for the file).
    New(&'a dyn Fn(&str) -> Result<String>),
}

/// What a saved buffer means.
pub enum Outcome {
    /// Nothing changed: the file is not rewritten.
    Unchanged,
    /// The buffer was emptied: the edit is cancelled.
    Cancelled,
    /// The new file text, sealed.
    Sealed(String),
    /// The text is not valid: `next` is the buffer to show again (without the problem line).
    Invalid {
        problem: Error,
        next: Zeroizing<String>,
    },
}

/// One edit of one file's plaintext.
pub struct Session<'a> {
    plain: Zeroizing<String>,
    state: ViewState,
    header: String,
    view: Zeroizing<String>,
    target: Target<'a>,
    /// The buffer is the plaintext itself (sops's edit protocol): no header, no decoded view.
    raw: bool,
}

impl<'a> Session<'a> {
    /// Starts editing `plain` (the decrypted file, or a new file's template) of file `name`.
    pub fn start(name: &str, plain: Zeroizing<String>, target: Target<'a>) -> Result<Self> {
        let (view, state) = view::to_view(&plain).map_err(|e| e.in_file(name))?;
        Ok(Session {
            plain,
            state,
            header: view::header(name),
            view,
            target,
            raw: false,
        })
    }

    /// Starts editing as sops does: the buffer is `plain` exactly as `decrypt` prints it (no
    /// header, `data` values as stored), which editor plugins overwrite with their own buffer.
    pub fn start_plain(plain: Zeroizing<String>, target: Target<'a>) -> Self {
        let view = plain.clone();
        Session {
            plain,
            state: ViewState::default(),
            header: String::new(),
            view,
            target,
            raw: true,
        }
    }

    /// The first buffer shown: the header and the decoded view.
    pub fn first_buffer(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("{}{}", self.header, self.view.as_str()))
    }

    /// What the editor shows: the buffer, with the last problem on top when there is one.
    pub fn shown(buffer: &str, problem: Option<&str>) -> Zeroizing<String> {
        match problem {
            Some(p) => Zeroizing::new(format!("{} kseal: error: {p}\n{buffer}", view::MARK)),
            None => Zeroizing::new(buffer.to_string()),
        }
    }

    /// What the buffer saved from the editor means; `shown` is what the editor was given and
    /// `had_problem` whether it carried a problem line (then an unchanged buffer is still
    /// checked, since the person may want to save it as it is).
    pub fn review(&self, shown: &str, saved: &str, had_problem: bool) -> Result<Outcome> {
        if !had_problem && saved == shown {
            return Ok(Outcome::Unchanged);
        }
        let body = if self.raw {
            saved
        } else {
            view::strip_header(saved)
        };
        if body.trim().is_empty() {
            return Ok(Outcome::Cancelled);
        }
        match self.seal(body) {
            Ok(None) => Ok(Outcome::Unchanged),
            Ok(Some(out)) => Ok(Outcome::Sealed(out)),
            Err(problem) => Ok(Outcome::Invalid {
                problem,
                next: Zeroizing::new(format!("{}{body}", self.header)),
            }),
        }
    }

    /// Validates and seals the edited view; `None` when the plaintext did not change.
    fn seal(&self, body: &str) -> Result<Option<String>> {
        let new_plain = if self.raw {
            Zeroizing::new(body.to_string())
        } else {
            view::from_view(body, &self.state)?
        };
        if new_plain.as_str() == self.plain.as_str() {
            return Ok(None);
        }
        match self.target {
            Target::Existing(env) => {
                let all = env.covers_all();
                let was_secret: Vec<usize> = env.docs.clone();
                view::check_secrets(&new_plain, &|i| !all && was_secret.contains(&i))?;
                file::reencrypt(&new_plain, env, &super::set::scope(env)).map(Some)
            }
            Target::New(seal_new) => {
                view::check_secrets(&new_plain, &|_| false)?;
                seal_new(&new_plain).map(Some)
            }
        }
    }
}

/// The starting point for a new file: a Secret named after the file.
pub fn template(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem.split('.').next().unwrap_or_default().to_lowercase();
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    let name = if name.is_empty() { "my-secret" } else { name };
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: default\ntype: Opaque\nstringData:\n  # key: value pairs in plain text; kseal encrypts the values\n  username: admin\n  password: change-me\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_names_the_secret_after_the_file() {
        let t = template(Path::new("deploy/db_creds.enc.yaml"));
        assert!(t.contains("name: db-creds\n"));
        assert!(crate::yaml::tree::parse(&t).is_ok());
    }

    /// sops's buffer: the plaintext itself, nothing stripped or decoded, sealed as saved.
    #[test]
    fn plain_buffers_are_the_text_itself() {
        let plain = "kind: Secret\nmetadata:\n  name: a\ndata:\n  k: YQ==\n";
        let seal = |t: &str| Ok(format!("sealed:{t}"));
        let s = Session::start_plain(Zeroizing::new(plain.into()), Target::New(&seal));
        assert_eq!(s.first_buffer().as_str(), plain);
        assert!(matches!(
            s.review(plain, plain, false).unwrap(),
            Outcome::Unchanged
        ));
        // A `#|` line is the user's text here, not kseal's header: kept.
        let saved = format!("#| mine\n{plain}");
        match s.review(plain, &saved, false).unwrap() {
            Outcome::Sealed(out) => assert_eq!(out, format!("sealed:{saved}")),
            _ => panic!("not sealed"),
        }
        match s.review(plain, "kind: [", false).unwrap() {
            Outcome::Invalid { next, .. } => assert_eq!(next.as_str(), "kind: ["),
            _ => panic!("not invalid"),
        }
    }
}
