//! Whole files: decrypting or encrypting every value of the documents that share one
//! envelope, with the MAC over all of them, by splicing text into the original bytes.
//!
//! The steps live in their own modules: `discover` finds the envelope, `walk` visits values
//! in sops's order, `open` decrypts, `seal` encrypts, `verify` reads kseal's own output back,
//! `stash` keeps the IVs that make unchanged values keep their ciphertext.

use zeroize::Zeroizing;

use super::metadata::{self, AgeEntry, KeyGroups, Metadata};
use super::rules::CryptRule;
use crate::error::Result;
use crate::secret::DataKey;
use crate::yaml::tree::{self, Document, Stream};

mod discover;
mod open;
mod seal;
mod stash;
mod verify;
mod walk;

pub use discover::other_sops_format;
pub use open::{decrypt, decrypt_stream};
pub use seal::{encrypt, encrypt_stream, refuse_encrypted};
pub use stash::IvStash;
pub use verify::encrypt_checked;

/// Recovers a file's data key from its metadata (the caller decides where identities come from).
pub trait KeyOpener {
    fn open(&self, meta: &Metadata) -> Result<DataKey>;
}

impl KeyOpener for DataKey {
    fn open(&self, _meta: &Metadata) -> Result<DataKey> {
        Ok(self.clone())
    }
}

/// What a caller knows about the documents that the format does not (kseal: the rules of
/// Kubernetes Secrets, `kube::SecretPolicy`). sops itself has no such checks: a file passes
/// them or is refused before anything is decrypted or written.
pub trait EnvelopePolicy: Sync {
    /// Called with every encrypted file as soon as its envelope is found (`docs`: the
    /// documents inside it): refuses a document outside the envelope that belongs inside
    /// (kseal: a Secret added after encryption would be applied unverified).
    fn check_outside(&self, stream: &Stream, docs: &[usize]) -> Result<()>;
    /// Called with every encrypted file before its data key is opened (`docs`: the
    /// documents inside the envelope).
    /// Returns warnings for what it accepts only because the caller relaxed it.
    fn check_read(&self, stream: &Stream, docs: &[usize], meta: &Metadata) -> Result<Vec<String>>;
    /// Called with every file about to be written, as it will be written.
    fn check_write(&self, stream: &Stream, docs: &[usize], meta: &Metadata) -> Result<()>;
}

#[derive(Default, Clone, Copy)]
pub struct DecryptOptions {
    pub ignore_mac: bool,
    /// The caller's checks, run on the encrypted file before it is opened, and kept in the
    /// envelope for the writes that re-encrypt it.
    pub policy: Option<&'static dyn EnvelopePolicy>,
    /// Refuse a file without a structural MAC (`kseal_mac`): a policy from outside the
    /// repository (CI, a deployment), since whoever can push can also remove the field.
    pub require_structural_mac: bool,
    /// The caller wants the plaintext only: no IV stash is kept (each ciphertext becomes its
    /// plaintext in place instead of being copied), so the envelope cannot re-encrypt
    /// unchanged values to the same ciphertext.
    pub plain_only: bool,
}

/// What an encrypted file carried, for commands that re-encrypt it (edit, set, updatekeys).
pub struct Envelope {
    pub meta: Metadata,
    pub key: DataKey,
    pub stash: IvStash,
    /// False only with `ignore_mac` and a MAC that did not match.
    pub mac_ok: bool,
    /// 0-based indexes of the documents inside the envelope.
    pub docs: Vec<usize>,
    /// Number of documents in the file.
    pub doc_count: usize,
    /// The policy the file was read under, applied again to what re-encryption writes.
    pub policy: Option<&'static dyn EnvelopePolicy>,
    /// What the policy accepted only because it was relaxed (`--allow-narrow-rule`).
    pub warnings: Vec<String>,
    /// The file carries kseal's structural MAC and it verified (`sops::structural`).
    pub structural: bool,
}

pub struct Decrypted {
    pub text: Zeroizing<String>,
    /// None when the input had no `sops:` block at all (plain manifests pass through).
    pub envelope: Option<Envelope>,
}

/// How to encrypt a file.
pub struct EncryptSettings<'a> {
    pub rule: CryptRule,
    pub mac_only_encrypted: bool,
    /// The data key, already wrapped for every recipient.
    pub key: &'a DataKey,
    pub age: Vec<AgeEntry>,
    /// Several key groups, each entry wrapping its group's share of `key` (then `age` is
    /// empty; see `sops::keygroups`).
    pub key_groups: Option<KeyGroups>,
    pub lastmodified: String,
    pub version: String,
    /// IVs to reuse for unchanged values (empty for a fresh encryption).
    pub stash: Option<&'a IvStash>,
    /// The caller's checks on the output (`EnvelopePolicy::check_write`), in `encrypt_checked`.
    pub policy: Option<&'static dyn EnvelopePolicy>,
}

/// Encrypts edited plaintext into an existing envelope: same data key, same wrapped keys,
/// same crypt rule and version (a valid one), the IVs of unchanged values reused, a new `lastmodified` and MAC.
/// `select` picks the documents to encrypt.
pub fn reencrypt(
    plain: &str,
    env: &Envelope,
    select: &dyn Fn(&Document) -> bool,
) -> Result<String> {
    let stream = tree::parse(plain)?;
    let settings = EncryptSettings {
        key_groups: env.meta.key_groups.clone(),
        rule: env.meta.rule.clone(),
        mac_only_encrypted: env.meta.mac_only_encrypted,
        key: &env.key,
        age: env.meta.age.clone(),
        lastmodified: metadata::now_lastmodified(),
        // A version sops cannot parse (a file opened with a warning) is replaced, so the
        // written file is one sops reads again.
        version: if discover::is_semver(&env.meta.version) {
            env.meta.version.clone()
        } else {
            metadata::SOPS_FORMAT_VERSION.to_string()
        },
        stash: Some(&env.stash),
        policy: env.policy,
    };
    encrypt_checked(plain, &stream, &settings, select)
}

impl Envelope {
    /// Whether every document of the original file was inside the envelope (sops files are):
    /// then re-encryption covers every document, not only Secrets.
    pub fn covers_all(&self) -> bool {
        self.docs.len() == self.doc_count
    }
}

#[cfg(test)]
mod tests;
