//! The one error type of the library, its kinds and the process exit code of each kind.
//!
//! Messages never contain a secret value: they name the file, the document and the key path,
//! never the text of a value. The binary prints `kseal: error: <message>` and the hint.

use std::fmt;

/// What went wrong, coarsely: each kind has its own documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A bug or an unexpected failure (exit 1).
    Internal,
    /// Bad command line (exit 2; clap uses the same code).
    Usage,
    /// An input file or stdin could not be read (exit 3).
    Input,
    /// The input is not valid YAML/JSON, not a valid sops file or not a valid manifest (exit 4).
    Format,
    /// No identity could open the file's data key (exit 5).
    NoIdentity,
    /// MAC mismatch or a value that fails authentication: the file was tampered with (exit 6).
    Integrity,
    /// The output could not be written (exit 7).
    Output,
    /// Recipients or `.sops.yaml` configuration missing or invalid (exit 8).
    Config,
    /// A valid input that uses something kseal does not support (exit 9).
    Unsupported,
    /// The input was refused: already encrypted, or nothing to encrypt (exit 10).
    Refused,
    /// The editor failed or the session was interrupted; nothing was written (exit 11).
    Aborted,
    /// The sops command line's edit saved no change (exit 200, sops's code: plugins test it).
    SopsUnchanged,
    /// The sops command line's edit found no editor (exit 201, sops's code).
    SopsNoEditor,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Internal => 1,
            Kind::Usage => 2,
            Kind::Input => 3,
            Kind::Format => 4,
            Kind::NoIdentity => 5,
            Kind::Integrity => 6,
            Kind::Output => 7,
            Kind::Config => 8,
            Kind::Unsupported => 9,
            Kind::Refused => 10,
            Kind::Aborted => 11,
            Kind::SopsUnchanged => 200,
            Kind::SopsNoEditor => 201,
        }
    }
}

/// Why an error happened, where the way out is something kseal's command line offers (a flag,
/// another verb). The library names no flag: the binary turns a reason into the hint it
/// prints (`hints.rs`), and a hint a command sets itself wins.
// Not `non_exhaustive`: a new reason does not compile until the binary words its hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The MAC does not match (the way out for rescue: `--ignore-mac`).
    MacMismatch,
    /// An encrypted file without the structural MAC that its `sops:` block says it has.
    StructuralMacMissing,
    /// A Secret without the envelope inside an encrypted file.
    SecretOutsideEnvelope,
    /// Encrypting a file that already is encrypted.
    AlreadyEncrypted,
    /// A clear value that a narrowed crypt rule left (`--allow-narrow-rule`).
    NarrowRuleClearValue,
    /// A stored crypt rule that leaves values of `data`/`stringData` clear (`--allow-narrow-rule`).
    NarrowRule,
    /// Writing under a crypt rule that leaves values of `data`/`stringData` clear.
    NarrowRuleOnWrite,
    /// No identity opens the data key; `looked` says where kseal looked (`--identity`).
    NoIdentity { looked: String },
    /// No identity opens a file's envelope; `looked` lists the places kseal looked.
    NoIdentityForFile { looked: String },
    /// Encrypting with no recipient from flags, environment or `.sops.yaml` (`--age`).
    NoRecipient,
    /// A `.sops.yaml` exists but stdin has no path for its rules to match (`-o`,
    /// `--filename-override`).
    NoRuleWithoutFileName,
    /// No `.sops.yaml` creation rule matches the file (`--filename-override`, `--age`).
    NoRuleMatches,
    /// A write would reuse a data key whose recipients differ from `.sops.yaml` (`updatekeys`).
    RecipientsDifferFromRule,
    /// Several Secrets match; `named` is whether the name was given already (`--name`, `--doc`).
    SeveralSecrets { named: bool },
    /// A new passphrase and no terminal to ask it on (`keygen --passphrase`).
    NoTerminalForNewPassphrase,
    /// The file must be encrypted first (`encrypt -i`).
    NotEncrypted,
    /// `kustomize fn` was given something that is not a ResourceList.
    NotResourceList,
    /// A kustomize build changed the resources of an envelope.
    BuildChangedEnvelope,
    /// `set` cannot change this value in place: a flow-style mapping (`kseal edit`).
    SetFlowMapping,
    /// `set` met a value that is not a string (`kseal edit`).
    SetNotAString,
    /// `set` met a Secret whose `data`/`stringData` is not a mapping (`kseal edit`).
    SetNotAMapping,
    /// `rotate` without a `.sops.yaml` rule met a plugin recipient that no flag names
    /// (`--add-age`, `--keep-unknown-recipients`, `--rm-age`).
    PluginRecipientNotNamed,
    /// `rotate --add-age` on a file with several key groups: the rule's `key_groups` say which
    /// group a recipient joins (`updatekeys`).
    AddToKeyGroups,
}

/// A kseal error: a kind, a message without secret values, where it happened (file, 1-based
/// document number, key path), and optionally a hint (or the reason the binary turns into
/// one) and the error it wraps.
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub file: Option<String>,
    pub doc: Option<usize>,
    pub path: Option<String>,
    /// What most errors lack, behind one pointer so that every `Result` stays small.
    pub(crate) more: Option<Box<More>>,
}

#[derive(Debug, Default)]
pub(crate) struct More {
    hint: Option<String>,
    reason: Option<Reason>,
    /// The underlying error (I/O, age, regex...), for `source()`; the message already says
    /// what it means in kseal's words.
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            file: None,
            doc: None,
            path: None,
            more: None,
        }
    }
    pub fn format(message: impl Into<String>) -> Self {
        Self::new(Kind::Format, message)
    }
    pub fn integrity(message: impl Into<String>) -> Self {
        Self::new(Kind::Integrity, message)
    }
    fn more(&mut self) -> &mut More {
        self.more.get_or_insert_with(Box::default)
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.more().hint = Some(hint.into());
        self
    }
    /// Says why, for a hint the binary words (see [`Reason`]).
    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.more().reason = Some(reason);
        self
    }
    /// Keeps the error this one wraps, for `source()`.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.more().source = Some(Box::new(source));
        self
    }
    /// The hint set where the error was made (the binary's `hints::hint` also words reasons).
    pub fn hint(&self) -> Option<&str> {
        self.more.as_ref()?.hint.as_deref()
    }
    pub fn reason(&self) -> Option<&Reason> {
        self.more.as_ref()?.reason.as_ref()
    }
    /// Sets the file name unless a more precise one is already set.
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        if self.file.is_none() {
            self.file = Some(file.into());
        }
        self
    }
    /// Sets the 0-based document index (displayed 1-based) unless already set.
    pub fn in_doc(mut self, index: usize) -> Self {
        if self.doc.is_none() {
            self.doc = Some(index + 1);
        }
        self
    }
    pub fn at_path(mut self, path: impl Into<String>) -> Self {
        if self.path.is_none() {
            self.path = Some(path.into());
        }
        self
    }
    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if let Some(doc) = self.doc {
            write!(f, "document {doc}: ")?;
        }
        if let Some(path) = &self.path {
            write!(f, "{path}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let source = self.more.as_ref()?.source.as_deref()?;
        Some(source as &(dyn std::error::Error + 'static))
    }
}

/// Makes text from a file safe to show on a terminal: control characters (C0 but tab, DEL,
/// C1, which start escape sequences that could clear the screen, rewrite earlier lines or set
/// the window title) and the bidirectional overrides (which reorder what is shown) become
/// visible escapes (`\x1b`, `\u{9b}`). A line break is shown as `\n` unless `lines` is set
/// (multi-line output whose own lines are kseal's, like `kseal diff`), so a key name cannot
/// fake a line of kseal's own. Key names and file names are attacker-chosen in a repository.
pub fn escape_controls(s: &str, lines: bool) -> std::borrow::Cow<'_, str> {
    // Without `lines`, a break followed by an indent stays: kseal's own continuation lines
    // (lists in a warning) look like that, and an indented line cannot pass for a `kseal:` one.
    let kept_break = |i: usize| s[i + 1..].starts_with("  ");
    let unsafe_at = |i: usize, c: char| {
        (c.is_control() && c != '\t' && !(c == '\n' && (lines || kept_break(i))))
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.char_indices().any(|(i, c)| unsafe_at(i, c)) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.char_indices() {
        if !unsafe_at(i, c) {
            out.push(c);
        } else if c == '\n' {
            out.push_str("\\n");
        } else if c == '\r' {
            out.push_str("\\r");
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Renders a key path the way users read it: `data.password`, `metadata.name`.
pub fn display_path(path: &[String]) -> String {
    if path.is_empty() {
        "(top level)".to_string()
    } else {
        path.join(".")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_document_and_path() {
        let e = Error::integrity("value failed authentication")
            .at_path("data.password")
            .in_doc(1)
            .in_file("s.yaml");
        assert_eq!(
            e.to_string(),
            "s.yaml: document 2: data.password: value failed authentication"
        );
        assert_eq!(e.exit_code(), 6);
    }

    #[test]
    fn wrapped_errors_keep_their_source_and_stay_small() {
        use std::error::Error as _;
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let shown = io.to_string();
        let e = Error::new(Kind::Input, "cannot read it: no such file").with_source(io);
        assert_eq!(e.source().unwrap().to_string(), shown);
        assert!(e.hint().is_none() && e.reason().is_none());
        let e = e.with_reason(Reason::NotEncrypted).with_hint("h");
        assert_eq!(
            (e.hint(), e.reason()),
            (Some("h"), Some(&Reason::NotEncrypted))
        );
        assert!(e.source().is_some());
        assert!(Error::format("x").source().is_none());
        // Hint, reason and source live behind one pointer: every `Result` stays small.
        assert!(std::mem::size_of::<Error>() <= 104);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("plain key\ttab", false), "plain key\ttab");
        assert_eq!(
            escape_controls("a\x1b[2Jb\x07\x7f\u{9b}31m\u{202e}x\r\ny", false),
            "a\\x1b[2Jb\\x07\\x7f\\u{9b}31m\\u{202e}x\\r\\ny"
        );
        assert_eq!(escape_controls("l1\nl2\x1b", true), "l1\nl2\\x1b");
        assert_eq!(escape_controls("list:\n  a\n  b", false), "list:\n  a\n  b");
        assert_eq!(escape_controls("k\nkseal: ok", false), "k\\nkseal: ok");
        assert_eq!(escape_controls("été ✓", false), "été ✓");
    }
}
