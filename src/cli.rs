//! Command-line definitions and help text (clap); no I/O happens here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub const EXIT_CODES: &str = "\
Exit codes:
  0   success
  1   internal error (a bug: please report it)
  2   usage error (bad flags or arguments)
  3   an input could not be read
  4   invalid input: not YAML/JSON, not a valid sops file, not a valid Secret
  5   no identity opens the file's data key
  6   MAC mismatch or tampering: a value, the metadata or a document was changed
  7   the output could not be written
  8   recipients or .sops.yaml configuration missing or invalid
  9   unsupported: key types or features kseal does not support (post-quantum age, Shamir)
  10  refused: already encrypted, or nothing to encrypt";

pub const ENVIRONMENT: &str = "\
Environment:
  KSEAL_AGE_KEY, SOPS_AGE_KEY                 age identities, inline
  KSEAL_AGE_KEY_FILE, SOPS_AGE_KEY_FILE       a file of age identities
  KSEAL_AGE_SSH_PRIVATE_KEY_FILE,
  SOPS_AGE_SSH_PRIVATE_KEY_FILE               an OpenSSH private key (ssh-ed25519, ssh-rsa)
  KSEAL_AGE_RECIPIENTS, SOPS_AGE_RECIPIENTS   recipients for encrypt (comma-separated)
  KSEAL_CONFIG, SOPS_CONFIG                   the .sops.yaml to use
Default identity files: $XDG_CONFIG_HOME/kseal/keys.txt (else ~/.config/kseal/keys.txt),
~/.config/sops/age/keys.txt, ~/.ssh/id_ed25519, ~/.ssh/id_rsa.";

#[derive(Parser, Debug)]
#[command(
    name = "kseal",
    version,
    about = "Encrypt Kubernetes Secrets for Git: only the values of data and stringData are sealed,\n\
             in the SOPS v3 format (age recipients), so sops and Flux read what kseal writes.",
    after_help = format!("{EXIT_CODES}\n\n{ENVIRONMENT}"),
    disable_help_subcommand = false,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Encrypt the data and stringData values of every Secret in a manifest
    #[command(after_help = EXIT_CODES)]
    Encrypt(EncryptArgs),
    /// Decrypt kseal or sops files (MAC verified) into plain manifests
    #[command(after_help = EXIT_CODES)]
    Decrypt(DecryptArgs),
    /// Generate a new age identity (X25519) for kseal, age and sops
    #[command(after_help = EXIT_CODES)]
    Keygen(KeygenArgs),
}

#[derive(Args, Debug)]
pub struct OutputArgs {
    /// Write the result to this file instead of stdout
    #[arg(short = 'o', long, value_name = "OUT", conflicts_with = "in_place")]
    pub output: Option<PathBuf>,
    /// Replace each input file (atomically: temporary file, fsync, rename; mode kept)
    #[arg(short = 'i', long = "in-place")]
    pub in_place: bool,
}

#[derive(Args, Debug)]
pub struct EncryptArgs {
    /// Manifests to encrypt ("-" or nothing: stdin)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
    /// age recipient: age1..., "ssh-ed25519 ...", "ssh-rsa ..." (repeatable, or comma-separated)
    #[arg(short = 'a', long = "age", value_name = "RECIPIENT")]
    pub age: Vec<String>,
    /// A file of recipients, one per line (# comments allowed)
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    pub recipients_file: Vec<PathBuf>,
    /// The .sops.yaml to read creation rules from (default: search upward from the current directory)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Drop server-populated fields (resourceVersion, uid, creationTimestamp, managedFields, ...)
    #[arg(long)]
    pub clean: bool,
}

#[derive(Args, Debug)]
pub struct DecryptArgs {
    /// Files or directories to decrypt ("-" or nothing: stdin). Directories are read
    /// recursively (*.yaml, *.yml, *.json, sorted); plain files pass through.
    #[arg(value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
    /// An age identity file (repeatable); also KSEAL_AGE_KEY_FILE and the default files
    #[arg(long = "identity", value_name = "FILE")]
    pub identity: Vec<PathBuf>,
    /// Decrypt even if the MAC does not match (for rescue only; prints a warning)
    #[arg(long = "ignore-mac")]
    pub ignore_mac: bool,
}

#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Write the identity to this file (created 0600, never overwritten) instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}
