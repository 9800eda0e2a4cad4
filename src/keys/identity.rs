//! Identities (private keys): parsing identity files, inline identities, SSH private keys and
//! passphrase-encrypted identity files once, and opening `enc` envelopes with them.
//!
//! Identities are parsed when loaded, never per envelope: `unwrap` may run 10,000 times per
//! run, from several threads at once, so everything here is `Send + Sync` and the hot path is
//! one header parse plus one key agreement per identity tried.

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use age::armor::ArmoredReader;
use age::DecryptError;
use base64::prelude::{Engine, BASE64_STANDARD, BASE64_STANDARD_NO_PAD};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::age_error_text;
use super::prompt::{ask_passphrase, no_terminal, AskPassphrase, UiCallbacks};
use super::recipient::plugin_missing;
use crate::error::{Error, Kind, Reason, Result};
use crate::secret::DataKey;

/// The age crate's own limit for identity files; anything bigger is a wrong path.
const IDENTITY_FILE_LIMIT: u64 = 1 << 24;

const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
const BINARY_BEGIN: &str = "age-encryption.org/";

/// The stanza type of the hybrid post-quantum recipients (`age1pq1...`, sops >= 3.12).
const PQ_STANZA: &str = "mlkem768x25519";

/// A set of identities (private keys) loaded from all sources, plus a record of where kseal
/// looked, for error messages.
///
/// No `Debug` derive: the manual impl below shows counts and places, never key material.
pub struct Identities {
    /// X25519, post-quantum and unencrypted SSH identities: cheap to try, tried first on every
    /// unwrap.
    native: Vec<Box<dyn age::Identity + Send + Sync>>,
    /// Passphrase-protected SSH keys: unlocked on first use by an envelope that names them.
    locked_ssh: Vec<LockedSsh>,
    /// Plugin identities (one entry per plugin and source); each attempt starts the plugin
    /// process, so they come last.
    plugins: Vec<Box<dyn age::Identity + Send + Sync>>,
    plugin_count: usize,
    /// Public keys of the identities already loaded, so that the same key found in several
    /// places (a flag and the default file) is tried once.
    seen: HashSet<String>,
    searched: Vec<String>,
    /// Problems that did not stop loading (a missing plugin, an unusable default SSH key);
    /// reported only if no identity opens an envelope.
    notes: Vec<Problem>,
    ask: Arc<AskPassphrase>,
    /// Key commands (`*_KEY_CMD`), run only when the identities above open nothing, once per
    /// recipient tried, with `SOPS_AGE_RECIPIENT` naming it (as sops >= 3.12 does).
    commands: Vec<super::keycmd::KeyCommand>,
    /// What the key commands printed for each recipient (so a password manager is asked once
    /// per recipient and run, not once per file).
    from_commands: Mutex<BTreeMap<String, Arc<Identities>>>,
}

/// A passphrase-protected OpenSSH key. Asking for the passphrase when loading would prompt on
/// every run of every user with an encrypted `~/.ssh/id_ed25519`, even for files wrapped to an
/// X25519 key; so the key is unlocked, once for the whole run, only when an envelope carries a
/// stanza for it.
struct LockedSsh {
    key: age::ssh::EncryptedKey,
    /// `ssh-ed25519` or `ssh-rsa`.
    stanza_type: String,
    /// The stanza's first argument for this key: the first 4 bytes of SHA-256 of the SSH public
    /// key, unpadded base64. `None` if it could not be computed: then any stanza of the type
    /// may be for this key.
    stanza_tag: Option<String>,
    origin: String,
    /// Filled once, by the first thread that needs the key; the others wait for it.
    unlocked: OnceLock<std::result::Result<age::ssh::Identity, String>>,
}

/// Identities parsed from one source, committed only if the whole source parsed.
#[derive(Default)]
struct Batch {
    native: Vec<(String, Box<dyn age::Identity + Send + Sync>)>,
    locked_ssh: Vec<LockedSsh>,
    plugin_ids: Vec<age::plugin::Identity>,
}

impl Default for Identities {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identities")
            .field("len", &self.len())
            .field("searched", &self.searched)
            .finish_non_exhaustive()
    }
}

impl Identities {
    pub fn new() -> Self {
        Identities {
            native: Vec::new(),
            locked_ssh: Vec::new(),
            plugins: Vec::new(),
            plugin_count: 0,
            seen: HashSet::new(),
            searched: Vec::new(),
            notes: Vec::new(),
            ask: Arc::new(ask_passphrase),
            commands: Vec::new(),
            from_commands: Mutex::new(BTreeMap::new()),
        }
    }

    /// An empty set that asks passphrases the way this one does and remembers where this one
    /// looked (for a key command's output: its messages then name every place).
    pub(crate) fn sibling(&self) -> Identities {
        Identities {
            ask: Arc::clone(&self.ask),
            searched: self.searched.clone(),
            notes: self.notes.clone(),
            ..Identities::new()
        }
    }

    /// Registers a key command, run later for each recipient tried (see `unwrap_for`).
    pub(crate) fn add_command(&mut self, command: super::keycmd::KeyCommand) {
        self.commands.push(command);
    }

    /// The identities the key commands print for `recipient` (run once per recipient).
    fn command_identities(&self, recipient: &str) -> Arc<Identities> {
        let mut cache = self
            .from_commands
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = cache.entry(recipient.to_string()).or_insert_with(|| {
            let mut ids = self.sibling();
            for c in &self.commands {
                super::keycmd::run_for(&mut ids, c, recipient);
            }
            Arc::new(ids)
        });
        Arc::clone(entry)
    }

    /// Whether key commands wait to be run for a recipient.
    pub fn has_commands(&self) -> bool {
        !self.commands.is_empty()
    }

    /// Identities loaded so far from key commands, and the problems they had (for messages).
    fn command_results(&self) -> (usize, Vec<Problem>) {
        let cache = self
            .from_commands
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut n = 0;
        let mut notes: Vec<Problem> = Vec::new();
        for ids in cache.values() {
            n += ids.len();
            for p in &ids.notes {
                if !notes.iter().any(|q| q.text == p.text) {
                    notes.push(p.clone());
                }
            }
        }
        (n, notes)
    }

    /// Opens an envelope wrapped for `recipient` and returns its payload, which must be `len`
    /// bytes (32 for a data key, 33 for a key group's Shamir share). The loaded identities are
    /// tried first; the key commands only if they open nothing, with `SOPS_AGE_RECIPIENT` and
    /// `KSEAL_AGE_RECIPIENT` set to `recipient`.
    pub fn unwrap_for(
        &self,
        recipient: &str,
        enc: &[u8],
        len: usize,
    ) -> Result<Zeroizing<Vec<u8>>> {
        match self.unwrap_loaded(enc, len) {
            Err(e) if e.kind == Kind::NoIdentity && self.has_commands() => self
                .command_identities(recipient.trim())
                .unwrap_loaded(enc, len),
            r => r,
        }
    }

    /// Replaces the installed `Ui`'s prompt (tests answer passphrases without a terminal).
    #[cfg(test)]
    pub(crate) fn with_passphrase_source(
        mut self,
        ask: impl Fn(&str) -> io::Result<age::secrecy::SecretString> + Send + Sync + 'static,
    ) -> Self {
        self.ask = Arc::new(ask);
        self
    }

    /// Adds the identities of an identity file's text. `origin` (a path or a variable name)
    /// names the source in error messages.
    ///
    /// Accepted: the age identity-file format (`#` comments, blank lines, `AGE-SECRET-KEY-1...`,
    /// `AGE-SECRET-KEY-PQ-1...`, `AGE-PLUGIN-...`), a
    /// passphrase-encrypted identity file (armored or binary; the passphrase is asked on the
    /// terminal), or an OpenSSH private key (ed25519 or RSA, also the old RSA PEM format).
    pub fn add_identity_file_text(&mut self, text: &str, origin: &str) -> Result<()> {
        self.add_bytes(text.as_bytes(), origin, false)
    }

    /// `add_identity_file_text` for bytes that may not be text (a binary passphrase-encrypted
    /// identity file printed by a key command).
    pub(crate) fn add_identity_bytes(&mut self, data: &[u8], origin: &str) -> Result<()> {
        self.add_bytes(data, origin, false)
    }

    /// Adds inline identities from a variable (`KSEAL_AGE_KEY`, `SOPS_AGE_KEY`): like an
    /// identity file, but several identities may share a line, separated by whitespace
    /// (sops >= 3.13).
    pub fn add_inline(&mut self, text: &str, origin: &str) -> Result<()> {
        self.searched.push(origin.to_string());
        self.add_bytes(text.as_bytes(), origin, true)
    }

    /// Reads an identity file. A missing file is an error only if `required`; the path is
    /// recorded in `searched` either way.
    pub fn add_file(&mut self, path: &Path, required: bool) -> Result<()> {
        self.add_file_via(path, required, None)
    }

    /// `add_file` for a path that came from a flag or a variable, named in messages as
    /// `VAR (path)`.
    pub(crate) fn add_file_via(
        &mut self,
        path: &Path,
        required: bool,
        via: Option<&str>,
    ) -> Result<()> {
        let shown = path.display().to_string();
        let label = match via {
            Some(v) => format!("{v} ({shown})"),
            None => shown.clone(),
        };
        match read_limited(path) {
            Ok(data) => {
                self.searched.push(label.clone());
                self.add_bytes(&data, &label, false)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && !required => {
                self.searched.push(format!("{label} (not found)"));
                Ok(())
            }
            Err(e) => {
                self.searched.push(format!("{label} (unreadable)"));
                let message = format!("cannot read the identity file {label}: {e}");
                Err(Error::new(Kind::Input, message).with_source(e))
            }
        }
    }

    /// Records a place kseal looked at (shown when no identity opens a file).
    pub fn note_searched(&mut self, what: &str) {
        self.searched.push(what.to_string());
    }

    /// Records a problem that did not stop loading; shown only if no identity opens a file.
    pub(crate) fn note_problem(&mut self, what: String) {
        self.notes.push(Problem {
            text: what,
            source: None,
        });
    }

    /// `note_problem` for a problem an error caused, kept as the no-identity error's `source()`.
    pub(crate) fn note_problem_error(&mut self, what: String, source: Error) {
        self.notes.push(Problem {
            text: what,
            source: Some(Arc::new(source)),
        });
    }

    pub fn searched(&self) -> &[String] {
        &self.searched
    }

    /// Problems met while loading that did not stop it (a failing key command, a missing
    /// plugin, an unusable default SSH key), for the no-identity message.
    pub fn problems(&self) -> Vec<String> {
        let mut all: Vec<String> = self.notes.iter().map(|p| p.text.clone()).collect();
        for p in self.command_results().1 {
            if !all.contains(&p.text) {
                all.push(p.text);
            }
        }
        all
    }

    /// The error behind the first problem that had one (a key command that could not be
    /// started, a plugin that is missing), for the no-identity error's `source()`.
    pub fn problem_source(&self) -> Option<Arc<Error>> {
        let commands = self.command_results().1;
        self.notes
            .iter()
            .chain(commands.iter())
            .find_map(|p| p.source.clone())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of usable identities (post-quantum ones, which are skipped, not counted).
    pub fn len(&self) -> usize {
        self.native.len() + self.locked_ssh.len() + self.plugin_count + self.command_results().0
    }

    fn add_bytes(&mut self, data: &[u8], origin: &str, inline: bool) -> Result<()> {
        let mut batch = Batch::default();
        self.parse_into(&mut batch, data, origin, inline, true)?;
        self.commit(batch, origin);
        Ok(())
    }

    fn parse_into(
        &self,
        batch: &mut Batch,
        data: &[u8],
        origin: &str,
        inline: bool,
        allow_encrypted: bool,
    ) -> Result<()> {
        let start = data.trim_ascii_start();
        if start.starts_with(BINARY_BEGIN.as_bytes()) || start.starts_with(ARMOR_BEGIN.as_bytes()) {
            if !allow_encrypted {
                return Err(Error::format(format!(
                    "{origin}: the decrypted identity file is itself encrypted"
                )));
            }
            let plain = self.decrypt_identity_file(start, origin)?;
            return self.parse_into(batch, &plain, origin, false, false);
        }
        if start.starts_with(b"-----BEGIN OPENSSH PRIVATE KEY-----")
            || start.starts_with(b"-----BEGIN RSA PRIVATE KEY-----")
        {
            return parse_ssh_key(batch, start, origin);
        }
        if start.starts_with(b"-----BEGIN") {
            return Err(Error::new(
                Kind::Unsupported,
                format!(
                    "{origin}: this key format is not supported \
                     (expected an age identity file or an OpenSSH ed25519/RSA private key)"
                ),
            ));
        }
        let text = std::str::from_utf8(data).map_err(|_| {
            Error::format(format!(
                "{origin}: not an age identity file (not UTF-8 text)"
            ))
        })?;
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if inline {
                for item in line.split_whitespace() {
                    parse_line(batch, item, origin, index + 1)?;
                }
            } else {
                parse_line(batch, line, origin, index + 1)?;
            }
        }
        Ok(())
    }

    fn commit(&mut self, batch: Batch, origin: &str) {
        for (public, identity) in batch.native {
            if self.seen.insert(public) {
                self.native.push(identity);
            }
        }
        for locked in batch.locked_ssh {
            let key = format!(
                "{} {}",
                locked.stanza_type,
                locked.stanza_tag.as_deref().unwrap_or(&locked.origin)
            );
            if self.seen.insert(key) {
                self.locked_ssh.push(locked);
            }
        }
        // One plugin process serves all identities of its plugin from this source.
        let mut names: Vec<&str> = batch.plugin_ids.iter().map(|i| i.plugin()).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            match age::plugin::IdentityPluginV1::new(name, &batch.plugin_ids, UiCallbacks) {
                Ok(p) => {
                    self.plugin_count += batch
                        .plugin_ids
                        .iter()
                        .filter(|i| i.plugin() == name)
                        .count();
                    self.plugins.push(Box::new(p));
                }
                Err(e) => {
                    let e = plugin_missing(&e, origin);
                    self.note_problem_error(e.message.clone(), e);
                }
            }
        }
    }

    /// Decrypts a passphrase-encrypted identity file (as `age -p` writes it), asking for the
    /// passphrase on the terminal.
    fn decrypt_identity_file(&self, data: &[u8], origin: &str) -> Result<Zeroizing<Vec<u8>>> {
        let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(data)).map_err(|e| {
            Error::format(format!(
                "{origin}: not a valid age-encrypted identity file: {}",
                age_error_text(&e)
            ))
        })?;
        if !decryptor.is_scrypt() {
            return Err(Error::new(
                Kind::Unsupported,
                format!(
                    "{origin} is an age-encrypted file, but not encrypted with a passphrase: \
                     it cannot be used as an identity file"
                ),
            ));
        }
        let passphrase = (self.ask)(&format!("Enter passphrase for identity file {origin}"))
            .map_err(|e| {
                Error::new(
                    Kind::Input,
                    format!(
                        "{origin} is a passphrase-protected identity file, and {}",
                        no_terminal(&e)
                    ),
                )
                .with_hint(
                    "run kseal from a terminal, or give an unencrypted identity \
                     (KSEAL_AGE_KEY, or decrypt the file with `age -d`)",
                )
            })?;
        let identity = age::scrypt::Identity::new(passphrase);
        let mut reader = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .map_err(|e| match e {
                DecryptError::DecryptionFailed
                | DecryptError::KeyDecryptionFailed
                | DecryptError::NoMatchingKeys => Error::new(
                    Kind::NoIdentity,
                    format!("wrong passphrase for the identity file {origin}"),
                ),
                DecryptError::ExcessiveWork { .. } => Error::new(
                    Kind::Unsupported,
                    format!("{origin}: {}", age_error_text(&e)),
                ),
                other => Error::format(format!(
                    "{origin}: cannot decrypt the identity file: {}",
                    age_error_text(&other)
                )),
            })?;
        let mut plain = Zeroizing::new(Vec::with_capacity(4096));
        reader
            .by_ref()
            .take(IDENTITY_FILE_LIMIT)
            .read_to_end(&mut plain)
            .map_err(|e| {
                Error::integrity(format!(
                    "{origin}: the encrypted identity file is corrupt: {e}"
                ))
                .with_source(e)
            })?;
        Ok(plain)
    }

    /// Opens an `enc` envelope (armored, or binary as written by sops <= 3.6) and returns the
    /// 32-byte data key.
    ///
    /// Errors: no identity matches -> `Kind::NoIdentity` (the message names unsupported stanza
    /// types such as post-quantum ones, skipped identities and problems met while loading; the
    /// hint lists where kseal looked); the envelope does not authenticate -> `Kind::Integrity`;
    /// malformed envelope or a payload that is not 32 bytes -> `Kind::Format`.
    pub fn unwrap(&self, enc: &str) -> Result<DataKey> {
        self.unwrap_bytes(enc.as_bytes())
    }

    /// `unwrap` for an envelope held as bytes: a binary age file (sops <= 3.6) is not UTF-8
    /// text, and YAML carries it as `!!binary`.
    pub fn unwrap_bytes(&self, enc: &[u8]) -> Result<DataKey> {
        let payload = self.unwrap_loaded(enc, 32)?;
        DataKey::from_bytes(&payload).ok_or_else(|| Error::new(Kind::Internal, "a 32-byte payload"))
    }

    /// `unwrap_bytes` for a payload of `len` bytes (33 for a key group's Shamir share), with the
    /// loaded identities only (no key command runs).
    pub fn unwrap_loaded(&self, enc: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
        let file = decode_envelope(enc)?;

        // 1. Identities that need no interaction.
        let unlocked = self
            .locked_ssh
            .iter()
            .filter_map(|l| l.unlocked.get().and_then(|r| r.as_ref().ok()));
        let cheap = self
            .native
            .iter()
            .map(|i| i.as_ref() as &dyn age::Identity)
            .chain(unlocked.map(|i| i as &dyn age::Identity));
        if let Some(key) = try_decrypt(&file, cheap, len)? {
            return Ok(key);
        }

        // 2. Passphrase-protected SSH keys this envelope is wrapped for.
        let stanzas = stanza_heads(&file);
        for locked in &self.locked_ssh {
            let named = stanzas.iter().any(|(t, arg)| {
                *t == locked.stanza_type
                    && locked.stanza_tag.as_deref().is_none_or(|tag| tag == *arg)
            });
            if !named {
                continue;
            }
            if let Ok(identity) = self.unlock(locked) {
                if let Some(key) = try_decrypt(&file, std::iter::once(identity as _), len)? {
                    return Ok(key);
                }
            }
        }

        // 3. Plugins (a process per attempt).
        if !self.plugins.is_empty() {
            let plugins = self
                .plugins
                .iter()
                .map(|i| i.as_ref() as &dyn age::Identity);
            if let Some(key) = try_decrypt(&file, plugins, len)? {
                return Ok(key);
            }
        }

        Err(self.no_identity_error(&stanzas))
    }

    fn unlock<'a>(
        &self,
        locked: &'a LockedSsh,
    ) -> std::result::Result<&'a age::ssh::Identity, &'a String> {
        locked
            .unlocked
            .get_or_init(|| {
                let origin = &locked.origin;
                let passphrase = (self.ask)(&format!("Enter passphrase for SSH key {origin}"))
                    .map_err(|e| {
                        format!(
                            "the SSH key {origin} is passphrase-protected, and {}",
                            no_terminal(&e)
                        )
                    })?;
                locked
                    .key
                    .decrypt(passphrase)
                    .map(age::ssh::Identity::Unencrypted)
                    .map_err(|_| format!("wrong passphrase for the SSH key {origin}"))
            })
            .as_ref()
    }

    fn no_identity_error(&self, stanzas: &[(String, String)]) -> Error {
        let n = self.len();
        let mut msg = match n {
            0 => "no age identity found to open the data key".to_string(),
            1 => "the age identity kseal found cannot open the data key".to_string(),
            _ => format!("none of the {n} age identities kseal found can open the data key"),
        };
        let mut types: Vec<&str> = stanzas.iter().map(|(t, _)| t.as_str()).collect();
        types.sort_unstable();
        types.dedup();
        if !types.is_empty() {
            msg.push_str(&format!(" (it is wrapped for: {})", types.join(", ")));
        }
        let unknown: Vec<&str> = types
            .iter()
            .copied()
            .filter(|t| !is_builtin_stanza(t))
            .collect();
        if !unknown.is_empty() && self.plugins.is_empty() {
            msg.push_str(&format!(
                "; stanza type {} is not supported without an age plugin identity",
                unknown.join(", ")
            ));
        }
        for locked in &self.locked_ssh {
            if let Some(Err(problem)) = locked.unlocked.get() {
                msg.push_str("; ");
                msg.push_str(problem);
            }
        }
        for note in &self.notes {
            msg.push_str("; ");
            msg.push_str(&note.text);
        }
        let looked = if self.searched.is_empty() {
            "kseal looked nowhere".to_string()
        } else {
            format!("kseal looked in: {}", self.searched.join(", "))
        };
        let e = Error::new(Kind::NoIdentity, msg).with_reason(Reason::NoIdentity { looked });
        match self.notes.iter().find_map(|p| p.source.clone()) {
            Some(source) => e.with_source(source),
            None => e,
        }
    }
}

/// A problem met while loading identities, and the error behind it when there is one.
#[derive(Clone)]
pub(crate) struct Problem {
    text: String,
    source: Option<Arc<Error>>,
}

/// Reads an identity file into a zeroizing buffer, refusing huge files (a wrong path).
fn read_limited(path: &Path) -> io::Result<Zeroizing<Vec<u8>>> {
    let file = File::open(path)?;
    let mut data = Zeroizing::new(Vec::with_capacity(4096));
    file.take(IDENTITY_FILE_LIMIT + 1).read_to_end(&mut data)?;
    if data.len() as u64 > IDENTITY_FILE_LIMIT {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "larger than 16 MiB, not an identity file",
        ));
    }
    Ok(data)
}

/// Parses one identity of an identity file. Errors name the line, never its text.
fn parse_line(batch: &mut Batch, item: &str, origin: &str, line: usize) -> Result<()> {
    let bad = |what: &str| Error::format(format!("{origin}: line {line}: {what}"));
    if starts_with_ignore_case(item, "AGE-SECRET-KEY-PQ-1") {
        let identity = item
            .parse::<age::pq::Identity>()
            .map_err(|_| bad("invalid AGE-SECRET-KEY-PQ-1 identity (bad encoding or checksum)"))?;
        batch.native.push((dedup_key(item), Box::new(identity)));
    } else if starts_with_ignore_case(item, "AGE-SECRET-KEY-1") {
        let identity = item
            .parse::<age::x25519::Identity>()
            .map_err(|_| bad("invalid AGE-SECRET-KEY-1 identity (bad encoding or checksum)"))?;
        batch.native.push((dedup_key(item), Box::new(identity)));
    } else if starts_with_ignore_case(item, "AGE-PLUGIN-") {
        let identity = item
            .parse::<age::plugin::Identity>()
            .map_err(|_| bad("invalid AGE-PLUGIN- identity (bad encoding or checksum)"))?;
        batch.plugin_ids.push(identity);
    } else if starts_with_ignore_case(item, "age1") || item.starts_with("ssh-") {
        return Err(bad(
            "this is a public key (recipient), not an identity (private key)",
        ));
    } else {
        return Err(bad(
            "not an age identity (expected AGE-SECRET-KEY-1..., AGE-SECRET-KEY-PQ-1... \
             or AGE-PLUGIN-..., or a # comment)",
        ));
    }
    Ok(())
}

/// What tells an age identity listed twice (in two files, or twice in one) from another: a
/// digest of its text (Bech32 is case-insensitive), never the text itself, which is secret.
/// Not its public key: deriving that is a scalar multiplication, a sixth of the CPU of a small
/// decrypt, and age derives it again when it unwraps.
fn dedup_key(item: &str) -> String {
    let upper = Zeroizing::new(item.to_ascii_uppercase());
    format!(
        "identity {}",
        BASE64_STANDARD_NO_PAD.encode(Sha256::digest(upper.as_bytes()))
    )
}

/// Parses an OpenSSH private key (or an old-style RSA PEM key).
fn parse_ssh_key(batch: &mut Batch, data: &[u8], origin: &str) -> Result<()> {
    use age::ssh::{Identity as Ssh, UnsupportedKey};

    let identity = Ssh::from_buffer(data, Some(origin.to_string()))
        .map_err(|_| Error::format(format!("{origin}: invalid or truncated SSH private key")))?;
    let (stanza_type, stanza_tag) = ssh_stanza_head(&identity);
    match identity {
        Ssh::Unencrypted(_) => {
            let public = format!("{stanza_type} {}", stanza_tag.as_deref().unwrap_or(origin));
            batch.native.push((public, Box::new(identity)));
            Ok(())
        }
        Ssh::Encrypted(key) => {
            batch.locked_ssh.push(LockedSsh {
                key,
                stanza_type,
                stanza_tag,
                origin: origin.to_string(),
                unlocked: OnceLock::new(),
            });
            Ok(())
        }
        Ssh::Unsupported(u) => {
            let why = match u {
                UnsupportedKey::EncryptedPem => "an encrypted PEM key; convert it to the \
                                                 OpenSSH format with `ssh-keygen -p -o -f FILE`"
                    .to_string(),
                UnsupportedKey::EncryptedSsh(cipher) => {
                    format!("encrypted with the unsupported cipher {cipher}")
                }
                UnsupportedKey::Hardware(t) => {
                    format!("a hardware key ({t}); use an age plugin for it")
                }
                UnsupportedKey::Type(t) => {
                    format!("key type {t}; age supports ssh-ed25519 and ssh-rsa")
                }
            };
            Err(Error::new(
                Kind::Unsupported,
                format!("{origin}: unsupported SSH key: {why}"),
            ))
        }
    }
}

/// The stanza type and tag argument that age writes for this SSH key's public half.
#[allow(deprecated)] // SSH recipients are not quantum-safe, and still supported.
fn ssh_stanza_head(identity: &age::ssh::Identity) -> (String, Option<String>) {
    let Ok(public) = age::ssh::Recipient::try_from(identity.clone()) else {
        return (String::new(), None);
    };
    // Display is "ssh-ed25519 <base64 of the SSH wire-format public key>".
    let text = public.to_string();
    let mut parts = text.split(' ');
    let stanza_type = parts.next().unwrap_or_default().to_string();
    let tag = parts
        .next()
        .and_then(|b64| BASE64_STANDARD.decode(b64).ok())
        .map(|wire| BASE64_STANDARD_NO_PAD.encode(&Sha256::digest(&wire)[..4]));
    (stanza_type, tag)
}

/// Turns an `enc` value into the binary age file: decodes the armor, or takes a binary file
/// (sops <= 3.6) as is.
pub(super) fn decode_envelope(enc: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    let trimmed = enc.trim_ascii_start();
    if trimmed.starts_with(ARMOR_BEGIN.as_bytes()) {
        let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
        ArmoredReader::new(trimmed)
            .read_to_end(&mut out)
            .map_err(|e| Error::format(format!("the age envelope's armor is invalid: {e}")))?;
        Ok(out.into())
    } else if enc.starts_with(BINARY_BEGIN.as_bytes()) {
        Ok(enc.into())
    } else {
        Err(Error::format(
            "the age envelope is neither armored (-----BEGIN AGE ENCRYPTED FILE-----) \
             nor a binary age file",
        ))
    }
}

/// Decrypts the envelope with the given identities. `Ok(None)`: none of them matches.
fn try_decrypt<'a>(
    file: &[u8],
    identities: impl Iterator<Item = &'a dyn age::Identity>,
    len: usize,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let decryptor = age::Decryptor::new_buffered(file).map_err(|e| {
        Error::format(format!(
            "the age envelope is not a valid age file: {}",
            age_error_text(&e)
        ))
    })?;
    let mut reader = match decryptor.decrypt(identities) {
        Ok(r) => r,
        Err(DecryptError::NoMatchingKeys) => return Ok(None),
        Err(e) => return Err(decrypt_error(e)),
    };
    let mut payload = Zeroizing::new(Vec::with_capacity(64));
    // A data key is 32 bytes; reading a little more is enough to tell a wrong payload.
    reader
        .by_ref()
        .take(1024)
        .read_to_end(&mut payload)
        .map_err(|_| {
            Error::integrity(
                "the age envelope's payload failed authentication: the envelope was \
                 modified or is corrupt",
            )
        })?;
    if payload.len() == len {
        return Ok(Some(payload));
    }
    let what = if len == 32 {
        "a 32-byte data key".to_string()
    } else {
        format!("a {len}-byte key share")
    };
    Err(Error::format(format!(
        "the age envelope holds {}{} bytes, not {what}",
        payload.len(),
        if payload.len() >= 1024 { "+" } else { "" }
    )))
}

fn decrypt_error(e: DecryptError) -> Error {
    match e {
        DecryptError::InvalidMac | DecryptError::DecryptionFailed => Error::integrity(format!(
            "the age envelope failed authentication ({}): it was modified or is corrupt",
            age_error_text(&e)
        )),
        DecryptError::KeyDecryptionFailed | DecryptError::Plugin(_) => Error::new(
            Kind::NoIdentity,
            format!("cannot open the data key: {}", age_error_text(&e)),
        ),
        DecryptError::PluginResolve(ref r) => plugin_missing(r, "age plugin"),
        DecryptError::ExcessiveWork { .. } => Error::new(
            Kind::Unsupported,
            format!("the age envelope: {}", age_error_text(&e)),
        ),
        other => Error::format(format!(
            "the age envelope is not a valid age file: {}",
            age_error_text(&other)
        )),
    }
}

/// The type and first argument of each recipient stanza in the header (`-> X25519 <share>`), for
/// diagnostics and to find the SSH key an envelope is for. The header is plain text up to the
/// `---` MAC line; anything unexpected just ends the scan.
pub(super) fn stanza_heads(file: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in file.split(|b| *b == b'\n').skip(1) {
        if line.starts_with(b"---") {
            break;
        }
        let Some(rest) = line.strip_prefix(b"-> ") else {
            continue;
        };
        let Ok(rest) = std::str::from_utf8(rest) else {
            break;
        };
        let mut parts = rest.split(' ');
        let tag = parts.next().unwrap_or_default().to_string();
        // The Rust age crate adds a random `<x>-grease` stanza to every file it writes (to
        // keep implementations tolerant of unknown stanzas): not a recipient, not worth naming.
        if tag.ends_with("-grease") {
            continue;
        }
        let arg = parts.next().unwrap_or_default().to_string();
        out.push((tag, arg));
    }
    out
}

/// Stanza types a plain age implementation handles without plugins.
fn is_builtin_stanza(stanza_type: &str) -> bool {
    stanza_type == PQ_STANZA
        || matches!(stanza_type, "X25519" | "ssh-ed25519" | "ssh-rsa" | "scrypt")
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

// Files are decrypted in parallel: the whole set must be shareable between threads.
const _: () = {
    const fn check<T: Send + Sync>() {}
    check::<Identities>();
};

// The tests make classic (X25519) keys, which the age crate marks deprecated.
#[cfg(test)]
#[allow(deprecated)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use age::secrecy::{ExposeSecret, SecretString};

    use super::*;
    use crate::keys::testutil::{fixture, hex, read_fixture, tool, MustFail};
    use crate::keys::{wrap, Recipient};

    const FLUX_KEY: &str = "558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb";
    const SOPS_KEY: &str = "9ac088cf7029981341457c39dd56dde54600dfbce9b5ede23aa65c418900ab67";

    fn loaded(fixture_name: &str) -> Identities {
        let mut ids = Identities::new();
        ids.add_file(&fixture(fixture_name), true).unwrap();
        ids
    }

    /// A fresh X25519 identity: (identity file text, recipient).
    fn fresh() -> (Zeroizing<String>, Recipient) {
        let id = age::x25519::Identity::generate();
        let text = Zeroizing::new(format!("{}\n", id.to_string().expose_secret()));
        (text, Recipient::parse(&id.to_public().to_string()).unwrap())
    }

    fn dearmor(enc: &str) -> Vec<u8> {
        let mut out = Vec::new();
        ArmoredReader::new(enc.as_bytes())
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn wrap_then_unwrap_round_trip() {
        let (text, recipient) = fresh();
        let mut ids = Identities::new();
        ids.add_identity_file_text(&text, "test").unwrap();
        assert_eq!(ids.len(), 1);
        for _ in 0..3 {
            let key = DataKey::generate().unwrap();
            let enc = wrap(&key, &recipient).unwrap();
            assert_eq!(ids.unwrap(&enc).unwrap().expose(), key.expose());
        }
    }

    #[test]
    fn unwraps_the_flux_envelope_written_by_sops() {
        let ids = loaded("flux-age.txt");
        let key = ids.unwrap(&read_fixture("flux-age.enc")).unwrap();
        assert_eq!(hex(key.expose()), FLUX_KEY);
        // Indented or CRLF text, as a careless caller may pass it, still opens.
        let crlf = read_fixture("flux-age.enc").replace('\n', "\r\n");
        assert_eq!(
            hex(ids.unwrap(&format!("\n  {crlf}")).unwrap().expose()),
            FLUX_KEY
        );
    }

    #[test]
    fn unwraps_the_sops_example_with_two_recipients() {
        let ids = loaded("sops-keys.txt");
        let key = ids.unwrap(&read_fixture("sops-example-1.enc")).unwrap();
        assert_eq!(hex(key.expose()), SOPS_KEY);
        // The second entry is for a recipient whose identity is not published.
        let e = ids.unwrap(&read_fixture("sops-example-2.enc")).must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
    }

    #[test]
    fn binary_envelopes_of_sops_3_6_open() {
        let ids = loaded("flux-age.txt");
        let binary = dearmor(&read_fixture("flux-age.enc"));
        assert!(binary.starts_with(b"age-encryption.org/v1\n"));
        assert_eq!(hex(ids.unwrap_bytes(&binary).unwrap().expose()), FLUX_KEY);
    }

    #[test]
    fn wrong_identity_is_no_identity_with_where_we_looked() {
        let mut ids = loaded("sops-keys.txt");
        ids.note_searched("KSEAL_AGE_KEY");
        let e = ids.unwrap(&read_fixture("flux-age.enc")).must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
        assert!(e.message.contains("X25519"), "{}", e.message);
        let Some(Reason::NoIdentity { looked }) = e.reason() else {
            panic!("{:?}", e.reason())
        };
        assert!(
            looked.contains("sops-keys.txt") && looked.contains("KSEAL_AGE_KEY"),
            "{looked}"
        );
        // Envelopes written by kseal carry a random `-grease` stanza: never named.
        let (_, other) = fresh();
        let key = DataKey::generate().unwrap();
        let e = ids.unwrap(&wrap(&key, &other).unwrap()).must_fail();
        assert!(!e.message.contains("grease"), "{}", e.message);
        assert!(
            e.message.contains("(it is wrapped for: X25519)"),
            "{}",
            e.message
        );
        // No identity at all.
        let e = Identities::new()
            .unwrap(&read_fixture("flux-age.enc"))
            .must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
        assert!(
            e.message.starts_with("no age identity found"),
            "{}",
            e.message
        );
    }

    #[test]
    fn garbage_line_is_a_format_error_naming_the_line_only() {
        let (text, _) = fresh();
        let secretish = "AGX-SECRET-KEY-1QQQQSOMETHINGSECRET";
        let file = format!("# comment\n\n{}{secretish}\n", text.as_str());
        let mut ids = Identities::new();
        let e = ids.add_identity_file_text(&file, "keys.txt").must_fail();
        assert_eq!(e.kind, Kind::Format);
        assert!(e.message.contains("keys.txt: line 4"), "{}", e.message);
        assert!(!e.message.contains("SOMETHINGSECRET"));
        // The whole source is refused: nothing was half-loaded.
        assert!(ids.is_empty());
        // A corrupted secret key is named by line too, without its text.
        // Flip the last character to a different one: replacing it with a fixed letter
        // changed nothing whenever the key already ended with it (one run in 32).
        let mut bad = text.trim_end().to_string();
        let last = bad.pop().expect("a key");
        bad.push(if last == 'Q' { 'P' } else { 'Q' });
        let e = ids.add_identity_file_text(&bad, "k").must_fail();
        assert_eq!(e.kind, Kind::Format);
        assert!(e.message.contains("line 1") && !e.message.contains(&bad[20..40]));
        // A recipient given as an identity.
        let e = ids
            .add_identity_file_text(
                "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29",
                "k",
            )
            .must_fail();
        assert!(e.message.contains("public key"), "{}", e.message);
    }

    #[test]
    fn pq_identities_open_the_flux_pq_envelope() {
        let ids = loaded("flux-age-pq.txt");
        assert_eq!(ids.len(), 1);
        let key = ids.unwrap(&read_fixture("flux-age-pq.enc")).unwrap();
        assert_eq!(key.expose().len(), 32);

        // An X25519 identity alone does not open it, and says what the key is wrapped for.
        let other = loaded("flux-age.txt");
        let e = other.unwrap(&read_fixture("flux-age-pq.enc")).must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
        assert!(e.message.contains("mlkem768x25519"), "{}", e.message);
        assert!(!e.message.contains("not supported"), "{}", e.message);

        // Both in one set: each envelope opens with its own identity.
        let mut both = loaded("flux-age-pq.txt");
        both.add_file(&fixture("flux-age.txt"), true).unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!(
            hex(both.unwrap(&read_fixture("flux-age.enc")).unwrap().expose()),
            FLUX_KEY
        );
        assert_eq!(
            both.unwrap(&read_fixture("flux-age-pq.enc"))
                .unwrap()
                .expose(),
            key.expose()
        );

        // A damaged PQ line names the line, never its text.
        let secret = read_fixture("flux-age-pq.txt");
        let line = secret
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-PQ-1"))
            .unwrap();
        let bad = format!("{}Q{}", &line[..40], &line[41..]);
        let e = Identities::new()
            .add_identity_file_text(&format!("# c\n{bad}\n"), "k")
            .must_fail();
        assert!(
            e.message.contains("line 2") && e.message.contains("PQ"),
            "{}",
            e.message
        );
        assert!(
            !e.message.contains(&line[20..40]),
            "secret text leaked: {}",
            e.message
        );
    }

    #[test]
    fn tampered_and_malformed_envelopes() {
        let ids = loaded("flux-age.txt");
        let enc = read_fixture("flux-age.enc");
        // Flip one payload byte (the last base64 line holds only payload).
        let mut lines: Vec<String> = enc.lines().map(String::from).collect();
        let n = lines.len();
        let last = &mut lines[n - 2];
        let flipped = if last.starts_with('A') { "B" } else { "A" };
        last.replace_range(0..1, flipped);
        let tampered = lines.join("\n") + "\n";
        let e = ids.unwrap(&tampered).must_fail();
        assert_eq!(e.kind, Kind::Integrity, "{}", e.message);

        for bad in [
            "",
            "hello",
            "-----BEGIN AGE ENCRYPTED FILE-----\n!!!\n-----END AGE ENCRYPTED FILE-----\n",
        ] {
            assert_eq!(ids.unwrap(bad).must_fail().kind, Kind::Format, "{bad:?}");
        }
    }

    #[test]
    fn payload_must_be_32_bytes() {
        let (text, recipient) = fresh();
        let mut ids = Identities::new();
        ids.add_identity_file_text(&text, "t").unwrap();
        let r: &dyn age::Recipient = &recipient.text().parse::<age::x25519::Recipient>().unwrap();
        let mut out = Vec::new();
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
                .unwrap();
        let mut w = age::Encryptor::with_recipients(std::iter::once(r))
            .unwrap()
            .wrap_output(armor)
            .unwrap();
        w.write_all(&[1u8; 31]).unwrap();
        w.finish().unwrap().finish().unwrap();
        let e = ids.unwrap(std::str::from_utf8(&out).unwrap()).must_fail();
        assert_eq!(e.kind, Kind::Format);
        assert_eq!(
            e.message,
            "the age envelope holds 31 bytes, not a 32-byte data key"
        );
    }

    /// The no-identity message names the stanza types an envelope is wrapped for, and says
    /// which of them need a plugin: not the ones age handles itself (X25519, post-quantum).
    #[test]
    fn stanza_types_that_need_a_plugin_are_named_and_builtin_ones_are_not() {
        let ids = loaded("sops-keys.txt");
        let start = "the age identity kseal found cannot open the data key";
        let e = ids.unwrap(&read_fixture("flux-age.enc")).must_fail();
        assert_eq!(e.message, format!("{start} (it is wrapped for: X25519)"));
        let e = ids.unwrap(&read_fixture("flux-age-pq.enc")).must_fail();
        assert_eq!(
            e.message,
            format!("{start} (it is wrapped for: mlkem768x25519)")
        );
        // The same envelope relabelled as a plugin's stanza (an edit of the header text).
        let binary = dearmor(&read_fixture("flux-age.enc"));
        let text = String::from_utf8_lossy(&binary).into_owned();
        assert!(text.contains("\n-> X25519 "));
        let mut relabelled = binary.clone();
        let at = text.find("\n-> X25519 ").unwrap() + 4;
        relabelled.splice(at..at + "X25519".len(), b"piv-p256".iter().copied());
        let e = ids.unwrap_bytes(&relabelled).must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
        assert_eq!(
            e.message,
            format!(
                "{start} (it is wrapped for: piv-p256); stanza type piv-p256 is not \
                 supported without an age plugin identity"
            )
        );
    }

    #[test]
    fn inline_identities_several_per_line_and_dedup() {
        let (a, ra) = fresh();
        let (b, rb) = fresh();
        let inline = format!("# from CI\n{}  {}\r\n", a.trim(), b.trim());
        let mut ids = Identities::new();
        ids.add_inline(&inline, "KSEAL_AGE_KEY").unwrap();
        assert_eq!(ids.len(), 2);
        // The same keys again from a file are not tried twice.
        ids.add_identity_file_text(&a, "file").unwrap();
        assert_eq!(ids.len(), 2);
        let key = DataKey::generate().unwrap();
        assert_eq!(
            ids.unwrap(&wrap(&key, &ra).unwrap()).unwrap().expose(),
            key.expose()
        );
        assert_eq!(
            ids.unwrap(&wrap(&key, &rb).unwrap()).unwrap().expose(),
            key.expose()
        );
        // In a file, two identities on one line are an error.
        let e = Identities::new()
            .add_identity_file_text(&format!("{} {}", a.trim(), b.trim()), "f")
            .must_fail();
        assert_eq!(e.kind, Kind::Format);
    }

    #[test]
    fn debug_shows_no_secret() {
        let (text, _) = fresh();
        let mut ids = Identities::new();
        ids.add_identity_file_text(&text, "origin").unwrap();
        let dbg = format!("{ids:?}");
        assert!(dbg.contains("len: 1"), "{dbg}");
        assert!(!dbg.contains("AGE-SECRET") && !dbg.contains(&text.trim()[16..40]));
    }

    #[test]
    fn identities_are_shared_by_threads() {
        let (text, recipient) = fresh();
        let mut ids = Identities::new();
        ids.add_identity_file_text(&text, "t").unwrap();
        let key = DataKey::generate().unwrap();
        let enc = wrap(&key, &recipient).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..25 {
                        assert_eq!(ids.unwrap(&enc).unwrap().expose(), key.expose());
                    }
                });
            }
        });
    }

    /// A passphrase-encrypted identity file, as `age -p` writes it (low work factor: tests).
    fn encrypted_identity_file(plain: &str, passphrase: &str, armor: bool) -> Vec<u8> {
        let mut r = age::scrypt::Recipient::new(SecretString::from(passphrase.to_string()));
        r.set_work_factor(10);
        let mut out = Vec::new();
        let format = if armor {
            age::armor::Format::AsciiArmor
        } else {
            age::armor::Format::Binary
        };
        let armor = age::armor::ArmoredWriter::wrap_output(&mut out, format).unwrap();
        let mut w = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
            .unwrap()
            .wrap_output(armor)
            .unwrap();
        w.write_all(plain.as_bytes()).unwrap();
        w.finish().unwrap().finish().unwrap();
        out
    }

    #[test]
    fn passphrase_encrypted_identity_files() {
        let (text, recipient) = fresh();
        let key = DataKey::generate().unwrap();
        let enc = wrap(&key, &recipient).unwrap();
        let asked = Arc::new(AtomicUsize::new(0));
        for armor in [true, false] {
            let file = encrypted_identity_file(&text, "correct horse", armor);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("keys.age");
            std::fs::write(&path, &file).unwrap();

            let counter = asked.clone();
            let mut ids = Identities::new().with_passphrase_source(move |prompt| {
                assert!(prompt.contains("keys.age"), "{prompt}");
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(SecretString::from("correct horse".to_string()))
            });
            ids.add_file(&path, true).unwrap();
            assert_eq!(ids.len(), 1);
            assert_eq!(ids.unwrap(&enc).unwrap().expose(), key.expose());

            let mut wrong = Identities::new()
                .with_passphrase_source(|_| Ok(SecretString::from("wrong".to_string())));
            let e = wrong.add_file(&path, true).must_fail();
            assert_eq!(e.kind, Kind::NoIdentity);
            assert!(e.message.contains("wrong passphrase"), "{}", e.message);

            let mut no_tty =
                Identities::new().with_passphrase_source(|_| Err(io::Error::from_raw_os_error(6)));
            let e = no_tty.add_file(&path, true).must_fail();
            assert_eq!(e.kind, Kind::Input);
            assert!(e.message.contains("no terminal"), "{}", e.message);
        }
        assert_eq!(asked.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn without_an_installed_ui_nothing_is_asked() {
        // The library's tests install no `Ui`: the passphrase cannot be asked, a clear error.
        let (text, _) = fresh();
        let file = encrypted_identity_file(&text, "pw", true);
        let e = Identities::new()
            .add_identity_file_text(std::str::from_utf8(&file).unwrap(), "keys.age")
            .must_fail();
        assert_eq!(e.kind, Kind::Input);
        assert!(e.message.contains("passphrase-protected"), "{}", e.message);
        assert!(e.message.contains("no terminal"), "{}", e.message);
    }

    fn ssh_keygen(
        dir: &Path,
        name: &str,
        kind: &str,
        passphrase: &str,
    ) -> Option<(PathBuf, String)> {
        let bin = tool("/usr/bin/ssh-keygen")?;
        let path = dir.join(name);
        let mut cmd = Command::new(bin);
        cmd.args(["-q", "-t", kind, "-N", passphrase, "-C", "kseal-test", "-f"])
            .arg(&path);
        if kind == "rsa" {
            cmd.args(["-b", "2048"]);
        }
        let status = cmd.stdin(Stdio::null()).status().ok()?;
        assert!(status.success());
        let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
        Some((path, public))
    }

    use std::path::PathBuf;

    #[test]
    fn ssh_ed25519_and_rsa_keys() {
        let dir = tempfile::tempdir().unwrap();
        for kind in ["ed25519", "rsa"] {
            let Some((path, public)) = ssh_keygen(dir.path(), &format!("id_{kind}"), kind, "")
            else {
                eprintln!("ssh-keygen not installed: skipped");
                return;
            };
            let recipient = Recipient::parse(&public).unwrap();
            assert_eq!(recipient.text(), public.trim());
            let key = DataKey::generate().unwrap();
            let enc = wrap(&key, &recipient).unwrap();
            assert!(!enc.is_empty());
            let mut ids = Identities::new();
            ids.add_file(&path, true).unwrap();
            assert_eq!(ids.len(), 1);
            assert_eq!(ids.unwrap(&enc).unwrap().expose(), key.expose());
            // An X25519 envelope is not for this key.
            let (_, other) = fresh();
            let e = ids.unwrap(&wrap(&key, &other).unwrap()).must_fail();
            assert_eq!(e.kind, Kind::NoIdentity);
        }
    }

    #[test]
    fn passphrase_protected_ssh_key_is_unlocked_once_and_only_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let Some((path, public)) = ssh_keygen(dir.path(), "id_ed25519", "ed25519", "s3cret pass")
        else {
            eprintln!("ssh-keygen not installed: skipped");
            return;
        };
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let (x_text, x_recipient) = fresh();
        let mut ids = Identities::new().with_passphrase_source(move |prompt| {
            assert!(prompt.contains("id_ed25519"), "{prompt}");
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(SecretString::from("s3cret pass".to_string()))
        });
        ids.add_file(&path, true).unwrap();
        ids.add_identity_file_text(&x_text, "x").unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(asked.load(Ordering::SeqCst), 0, "no prompt when loading");

        let key = DataKey::generate().unwrap();
        // An envelope for the X25519 key: no prompt.
        ids.unwrap(&wrap(&key, &x_recipient).unwrap()).unwrap();
        // An envelope for some other SSH key: no prompt either (the key tag differs).
        let other =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";
        let e = ids
            .unwrap(&wrap(&key, &Recipient::parse(other).unwrap()).unwrap())
            .must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
        assert_eq!(asked.load(Ordering::SeqCst), 0);

        // Envelopes for this key, opened from several threads: one prompt in all.
        let recipient = Recipient::parse(&public).unwrap();
        let envs: Vec<String> = (0..8).map(|_| wrap(&key, &recipient).unwrap()).collect();
        std::thread::scope(|s| {
            for enc in &envs {
                let ids = &ids;
                let key = &key;
                s.spawn(move || assert_eq!(ids.unwrap(enc).unwrap().expose(), key.expose()));
            }
        });
        assert_eq!(asked.load(Ordering::SeqCst), 1);

        // Without a terminal: a no-identity error that says why.
        let mut no_tty =
            Identities::new().with_passphrase_source(|_| Err(io::Error::from_raw_os_error(6)));
        no_tty.add_file(&path, true).unwrap();
        let e = no_tty.unwrap(&envs[0]).must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
        assert!(e.message.contains("passphrase-protected"), "{}", e.message);
        assert!(e.message.contains("no terminal"), "{}", e.message);
    }

    #[test]
    fn unsupported_ssh_key_types_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let Some((path, _)) = ssh_keygen(dir.path(), "id_ecdsa", "ecdsa", "") else {
            return;
        };
        let e = Identities::new().add_file(&path, true).must_fail();
        assert_eq!(e.kind, Kind::Unsupported, "{}", e.message);
        assert!(e.message.contains("unsupported SSH key"), "{}", e.message);
        assert!(!e.message.contains("PRIVATE KEY-----\n"));
    }

    #[test]
    fn plugin_identities_without_their_plugin_are_reported() {
        let plugin = age::plugin::Identity::default_for_plugin("kseal-test-nonexistent")
            .unwrap()
            .to_string();
        let mut ids = Identities::new();
        ids.add_identity_file_text(&format!("# yubikey\n{plugin}\n"), "keys.txt")
            .unwrap();
        assert!(ids.is_empty());
        let e = ids.unwrap(&read_fixture("flux-age.enc")).must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
        assert!(
            e.message
                .contains("age-plugin-kseal-test-nonexistent is not installed"),
            "{}",
            e.message
        );
    }

    #[test]
    fn only_loaded_identities_make_the_set_non_empty() {
        let mut ids = Identities::new();
        assert!(ids.is_empty());
        ids.add_file(Path::new("/nonexistent/kseal/keys.txt"), false)
            .unwrap();
        ids.note_searched("somewhere else");
        assert!(ids.is_empty());
        ids.add_file(&fixture("flux-age.txt"), true).unwrap();
        assert!(!ids.is_empty());
        assert_eq!(ids.len(), 1);
    }

    /// Set in the child test processes of `with_stand_in_plugin`.
    const PLUGIN_CHILD: &str = "KSEAL_UNIT_PLUGIN_CHILD";

    /// Runs the test `name` again in a child process (this test binary) whose `PATH` holds a
    /// stand-in `age-plugin-ksealunit`: `PATH` is process-wide, so it cannot change here. The
    /// stand-in logs how it was started to `$KSEAL_UNIT_PLUGIN_LOG` and answers the
    /// identity-v1 protocol with "done" (it opens nothing). Returns the log.
    fn with_stand_in_plugin(name: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("age-plugin-ksealunit");
        let log = dir.path().join("log");
        std::fs::write(
            &bin,
            "#!/bin/sh\necho \"$1\" >> \"$KSEAL_UNIT_PLUGIN_LOG\"\n\
             while read -r line; do [ \"$line\" = '-> done' ] && break; done\n\
             printf -- '-> done\\n\\n'\n",
        )
        .unwrap();
        std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let path = match std::env::var_os("PATH") {
            Some(p) => std::env::join_paths(
                std::iter::once(dir.path().to_path_buf()).chain(std::env::split_paths(&p)),
            )
            .unwrap(),
            None => dir.path().as_os_str().to_owned(),
        };
        let out = Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--test-threads=1"])
            .env(PLUGIN_CHILD, "1")
            .env("KSEAL_UNIT_PLUGIN_LOG", &log)
            .env("PATH", path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&log).unwrap_or_default()
    }

    fn stand_in_plugin_identity() -> String {
        let plugin = age::plugin::Identity::default_for_plugin("ksealunit")
            .unwrap()
            .to_string();
        format!("{plugin}\n")
    }

    /// Plugin identities count (`len`, `is_empty`) once their plugin is on `PATH`, one per
    /// identity, next to the native ones.
    #[test]
    fn plugin_identities_count_once_their_plugin_is_installed() {
        if std::env::var_os(PLUGIN_CHILD).is_some() {
            let mut ids = Identities::new();
            ids.add_identity_file_text(&stand_in_plugin_identity(), "plugin.txt")
                .unwrap();
            assert!(ids.problems().is_empty(), "{:?}", ids.problems());
            assert!(!ids.is_empty());
            assert_eq!(ids.len(), 1);
            ids.add_file(&fixture("flux-age.txt"), true).unwrap();
            assert_eq!(ids.len(), 2);
            return;
        }
        let log = with_stand_in_plugin(
            "keys::identity::tests::plugin_identities_count_once_their_plugin_is_installed",
        );
        // Loading an identity does not start its plugin.
        assert_eq!(log, "");
    }

    /// When the native identities open nothing, the plugin identities are tried: the plugin
    /// runs (identity-v1) and, as it opens nothing either, the error is "no identity".
    #[test]
    fn plugin_identities_are_tried_when_native_ones_fail() {
        if std::env::var_os(PLUGIN_CHILD).is_some() {
            let mut ids = loaded("sops-keys.txt");
            ids.add_identity_file_text(&stand_in_plugin_identity(), "plugin.txt")
                .unwrap();
            let e = ids.unwrap(&read_fixture("flux-age.enc")).must_fail();
            assert_eq!(e.kind, Kind::NoIdentity, "{}", e.message);
            assert!(
                e.message
                    .starts_with("none of the 2 age identities kseal found can open"),
                "{}",
                e.message
            );
            return;
        }
        let log = with_stand_in_plugin(
            "keys::identity::tests::plugin_identities_are_tried_when_native_ones_fail",
        );
        assert_eq!(log, "--age-plugin=identity-v1\n");
    }

    /// An identity file may be 16 MiB (the age crate's limit); one byte more is refused before
    /// parsing, as a wrong path. The identity comes last, so a file read short would lose it.
    #[test]
    fn identity_files_up_to_16_mib_are_read_and_bigger_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = read_fixture("flux-age.txt");
        let limit = IDENTITY_FILE_LIMIT as usize;
        for size in [limit, limit + 1] {
            let comment = format!("#{}\n", "x".repeat(size - key.len() - 2));
            let path = dir.path().join(format!("keys-{size}.txt"));
            std::fs::write(&path, format!("{comment}{key}")).unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, size);
            let mut ids = Identities::new();
            let added = ids.add_file(&path, true);
            if size == limit {
                added.unwrap();
                assert_eq!(
                    hex(ids.unwrap(&read_fixture("flux-age.enc")).unwrap().expose()),
                    FLUX_KEY
                );
            } else {
                let e = added.must_fail();
                assert_eq!(e.kind, Kind::Input);
                assert!(
                    e.message
                        .ends_with("larger than 16 MiB, not an identity file"),
                    "{}",
                    e.message
                );
            }
        }
    }

    #[test]
    fn missing_files() {
        let mut ids = Identities::new();
        ids.add_file(Path::new("/nonexistent/kseal/keys.txt"), false)
            .unwrap();
        assert_eq!(ids.searched(), ["/nonexistent/kseal/keys.txt (not found)"]);
        let e = ids
            .add_file(Path::new("/nonexistent/kseal/keys.txt"), true)
            .must_fail();
        assert_eq!(e.kind, Kind::Input);
        assert!(
            e.message.contains("/nonexistent/kseal/keys.txt"),
            "{}",
            e.message
        );
        // The I/O error stays reachable as the source.
        let source = std::error::Error::source(&e).unwrap();
        assert!(source.downcast_ref::<io::Error>().is_some(), "{source}");
        assert_eq!(ids.searched().len(), 2);
    }

    #[test]
    fn age_cli_interop_both_ways() {
        let Some(age_bin) = tool("/usr/bin/age") else {
            eprintln!("/usr/bin/age not installed: skipped");
            return;
        };
        let (text, recipient) = fresh();
        let dir = tempfile::tempdir().unwrap();
        let id_path = dir.path().join("keys.txt");
        std::fs::write(&id_path, text.as_bytes()).unwrap();
        let mut ids = Identities::new();
        ids.add_file(&id_path, true).unwrap();
        let key = DataKey::generate().unwrap();

        // Go age encrypts (armored and binary), kseal decrypts.
        for armor in [true, false] {
            let mut cmd = Command::new(&age_bin);
            if armor {
                cmd.arg("-a");
            }
            let mut child = cmd
                .args(["-r", recipient.text()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(key.expose()).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            assert_eq!(
                ids.unwrap_bytes(&out.stdout).unwrap().expose(),
                key.expose()
            );
        }

        // kseal wraps, Go age decrypts.
        let enc = wrap(&key, &recipient).unwrap();
        let mut child = Command::new(&age_bin)
            .args(["-d", "-i"])
            .arg(&id_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(enc.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, key.expose());

        // And the sops envelope opens with the Go CLI too (sanity of the fixture).
        let out = Command::new(&age_bin)
            .args(["-d", "-i"])
            .arg(fixture("flux-age.txt"))
            .arg(fixture("flux-age.enc"))
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(hex(&out.stdout), FLUX_KEY);
    }

    /// Without key commands, a failed unwrap reports the identities that were tried: nothing
    /// else runs, and the message counts what kseal loaded.
    #[test]
    fn without_key_commands_the_loaded_identities_answer_alone() {
        let ids = loaded("sops-keys.txt");
        assert!(!ids.has_commands());
        let e = ids
            .unwrap_for("age1flux", read_fixture("flux-age.enc").as_bytes(), 32)
            .must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
        assert!(
            e.message
                .starts_with("the age identity kseal found cannot open the data key"),
            "{}",
            e.message
        );
        assert_eq!(ids.len(), 1);
    }

    /// An identity that opens the envelope but finds the wrong payload is an answer, not a
    /// reason to try elsewhere: the format error stands, even with nothing else to try.
    #[test]
    fn a_wrong_payload_length_is_reported_as_such_by_unwrap_for() {
        let ids = loaded("flux-age.txt");
        let e = ids
            .unwrap_for("age1flux", read_fixture("flux-age.enc").as_bytes(), 33)
            .must_fail();
        assert_eq!(e.kind, Kind::Format);
        assert_eq!(
            e.message,
            "the age envelope holds 32 bytes, not a 33-byte key share"
        );
    }
}

#[cfg(test)]
#[path = "cctv_tests.rs"]
mod cctv_tests;
