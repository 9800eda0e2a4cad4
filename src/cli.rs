//! Command-line definitions and help text (clap); no I/O happens here.

use std::path::PathBuf;

use clap::{Arg, Args, Parser, Subcommand};

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
  9   unsupported: key types or features kseal does not support (pgp/kms)
  10  refused: already encrypted, nothing to encrypt, or the file changed during an edit;
      `set`, `unset`, `edit`, `merge-driver`: the recipients differ from the .sops.yaml
      rule; `status --max-age`: a secret is older than the limit; `status --fail-stale`:
      recipients differ from .sops.yaml; `check`: problems found; `diff --exit-code`:
      Secret values in plaintext; `merge-driver`: conflicting changes (the encrypted file
      is left as it was)
  11  the editor failed or the edit was interrupted (or an invalid edit with no terminal
      to ask): nothing was written
  exec-env, exec-file: the command's own exit code (128+N when killed by signal N);
  126 when it cannot be executed, 127 when it is not found (as in a shell)";

/// `kseal check --help`'s list of rules, from the rule catalogue (ids, severities, what each
/// finds; docs/check.md says why each matters and how to fix it).
pub fn check_findings() -> String {
    let mut s = String::from(
        "Rules (`--fail-on` decides which severities exit 10; default: errors; notes never fail):\n",
    );
    for r in kseal::check::rules::RULES {
        s.push_str(&format!(
            "  {} ({})\n      {}\n",
            r.id,
            r.severity.word(),
            r.short
        ));
    }
    s.push_str(
        "Suppress a finding with a comment `# kseal: ignore` or `# kseal: ignore=ID,ID` on its line\n\
         or on its document's `kind:` line; configure rules per repository in the `check:`\n\
         section of .sops.yaml (disable, fail-on, max-age, workloads).",
    );
    s
}

pub const ENVIRONMENT: &str = "\
Environment:
  KSEAL_AGE_KEY, SOPS_AGE_KEY                 age identities, inline
  KSEAL_AGE_KEY_FILE, SOPS_AGE_KEY_FILE       a file of age identities
  KSEAL_AGE_SSH_PRIVATE_KEY_FILE,
  SOPS_AGE_SSH_PRIVATE_KEY_FILE               an OpenSSH private key (ssh-ed25519, ssh-rsa)
  KSEAL_AGE_KEY_CMD, SOPS_AGE_KEY_CMD         a command that prints age identities (run
                                              without a shell; for password managers)
  KSEAL_AGE_SSH_PRIVATE_KEY_CMD,
  SOPS_AGE_SSH_PRIVATE_KEY_CMD                a command that prints an OpenSSH private key
  KSEAL_AGE_RECIPIENTS, SOPS_AGE_RECIPIENTS   recipients for encrypt (comma-separated)
  KSEAL_CONFIG, SOPS_CONFIG                   the .sops.yaml to use
  KSEAL_EDITOR, SOPS_EDITOR, VISUAL, EDITOR   the editor for `kseal edit` (split like a shell)
  KSEAL_TMPDIR                                where `kseal edit` keeps its private buffer
                                              (default /dev/shm, else $TMPDIR)
  KSEAL_REQUIRE_STRUCTURAL_MAC=1              --require-structural-mac for every command
  KSEAL_LOAD_RESTRICTOR                       LoadRestrictionsNone lets a KsealGenerator read
                                              files outside its kustomization (default:
                                              LoadRestrictionsRootOnly)
Default identity files: $XDG_CONFIG_HOME/kseal/keys.txt (else ~/.config/kseal/keys.txt),
$XDG_CONFIG_HOME/sops/age/keys.txt (else ~/.config/sops/age/keys.txt: the one sops also
reads, so the one to use: `kseal keygen -o ~/.config/sops/age/keys.txt`), ~/.ssh/id_ed25519,
~/.ssh/id_rsa.";

#[derive(Parser, Debug)]
#[command(
    name = "kseal",
    // The package version and, when built from git, the commit (build.rs).
    version = env!("KSEAL_VERSION"),
    about = "Encrypt Kubernetes Secrets for Git: only the values of data and stringData are sealed,\n\
             in the SOPS v3 format (age recipients), so sops and Flux read what kseal writes.",
    after_help = format!("{EXIT_CODES}\n\n{ENVIRONMENT}"),
    disable_help_subcommand = false,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub policy: ReadPolicyArgs,
}

/// How strictly encrypted files are read (global: every subcommand takes them).
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct ReadPolicyArgs {
    /// Read encrypted Secrets whose stored crypt rule does not encrypt every value under data
    /// and stringData (and the clear values such a rule left), with a warning; refused by
    /// default, because someone who can push but holds no key can narrow the rule. Never
    /// applies to what kseal writes.
    #[arg(long, global = true)]
    pub allow_narrow_rule: bool,
    /// Refuse encrypted files without kseal's structural MAC (`kseal_mac`, which sops drops
    /// when it rewrites a file): for CI and deployment, where the policy must not come from
    /// the repository
    #[arg(long, global = true, env = "KSEAL_REQUIRE_STRUCTURAL_MAC", action = clap::ArgAction::SetTrue, value_parser = clap::builder::FalseyValueParser::new())]
    pub require_structural_mac: bool,
}

// `defer`: a subcommand's arguments are built only when it runs (or for help, completions and
// the man page), not on every start: building all of them was most of `kseal --version`'s
// work (issue 16). Args structs therefore carry no doc comment (see IdentityArgs), and a
// variant's own methods run before its arguments exist: adjust arguments (`mut_arg(s)`) in
// the Args struct, as ExecArgs and EncryptArgs do.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Encrypt the data and stringData values of every Secret in a manifest
    #[command(after_help = EXIT_CODES)]
    Encrypt(EncryptArgs),
    /// Decrypt kseal or sops files (MAC verified) into plain manifests
    #[command(after_help = EXIT_CODES)]
    Decrypt(DecryptArgs),
    /// Edit an encrypted file in $EDITOR: data values shown decoded, unchanged values keep
    /// their ciphertext
    #[command(after_help = EXIT_CODES)]
    Edit(EditArgs),
    /// Set one key of a Secret in an encrypted file (same data key, minimal diff)
    #[command(after_help = EXIT_CODES)]
    Set(SetArgs),
    /// Remove one key from a Secret in an encrypted file
    #[command(after_help = EXIT_CODES)]
    Unset(UnsetArgs),
    /// Print one value of a Secret in an encrypted file, decoded (MAC verified first)
    #[command(after_help = GET_HELP)]
    Get(GetArgs),
    /// Create an encrypted Secret directly, like `kubectl create secret` (plaintext never on disk)
    #[command(subcommand, after_help = EXIT_CODES)]
    Create(CreateCommand),
    /// Generate a new age identity (X25519) for kseal, age and sops
    #[command(after_help = EXIT_CODES)]
    Keygen(KeygenArgs),
    /// Re-wrap encrypted files for the recipients .sops.yaml now names (a removed recipient:
    /// new data key)
    #[command(after_help = EXIT_CODES)]
    Updatekeys(UpdatekeysArgs),
    /// New data key for encrypted files: every value re-encrypted, recipients adjusted
    #[command(after_help = EXIT_CODES)]
    Rotate(RotateArgs),
    /// Audit encrypted files: recipients, age, sops version, stale rules, MAC
    #[command(after_help = EXIT_CODES)]
    Status(StatusArgs),
    /// Git integration: `kseal git setup` writes .gitattributes and the local diff/merge config
    #[command(subcommand, after_help = EXIT_CODES)]
    Git(GitCommand),
    /// Git merge driver: three-way merge per key of encrypted Secrets (%O %A %B %P)
    #[command(after_help = EXIT_CODES)]
    MergeDriver(MergeDriverArgs),
    /// kustomize integration: KRM function, legacy exec plugin, build-stream decryption
    #[command(subcommand, after_help = EXIT_CODES)]
    Kustomize(KustomizeCommand),
    /// Which Secrets and keys changed between two encrypted files (no keys needed)
    #[command(after_help = EXIT_CODES)]
    Diff(DiffArgs),
    /// Policy gate for Secrets: plain values, leaks, RBAC, encryption at rest, envelopes
    #[command(after_help = format!("{}\n\n{EXIT_CODES}", check_findings()))]
    Check(CheckArgs),
    /// Run a command with a Secret's keys as environment variables (like envFrom)
    #[command(
        after_help = EXIT_CODES,
        long_about = "Run a command with a Secret's keys as environment variables, as a Pod's \
            envFrom does: each key becomes a variable of exactly the same name (no upper-casing, \
            `.` and `-` kept: read `db.password` with `printenv db.password`), its value the \
            decoded bytes; stringData wins over data. A key no variable can be named after \
            (with `=` or a non-printable character) is skipped with a warning; a value with a \
            NUL byte is refused (use exec-file)."
    )]
    ExecEnv(ExecArgs),
    /// Run a command with a Secret's keys as files in a private directory (like a volume)
    #[command(after_help = EXIT_CODES)]
    ExecFile(ExecArgs),
    /// Create DIR/sops, a link to kseal: editor plugins made for sops that run `sops` (or
    /// parse `sops --version`) then use kseal
    #[command(after_help = EXIT_CODES)]
    SopsLink(SopsLinkArgs),
    /// Print a shell completion script (bash, zsh, fish)
    #[command(after_help = EXIT_CODES)]
    Completions(CompletionsArgs),
    /// Print the man page (roff) generated from the command definitions
    #[command(hide = true)]
    Man,
}

/// The help of exec-env's and exec-file's `command` argument, which share `ExecArgs`. Applied
/// by `ExecArgs` itself because subcommands are built only when they run (`defer`): a
/// variant-level `mut_arg` would find no argument yet.
trait ExecCommandHelp {
    fn exec_command_help(self) -> Self;
}

impl ExecCommandHelp for clap::Command {
    fn exec_command_help(self) -> Self {
        let help = if self.get_name() == "exec-file" {
            "The command and its arguments, after --; `{}` in them stands for the directory \
             (also in $KSEAL_SECRET_DIR), where each key is a file"
        } else {
            "The command and its arguments, after --; run without a shell (use `-- sh -c '...'` \
             for $variables)"
        };
        self.mut_arg("command", |a| a.help(help))
    }
}

// Which identities open an encrypted file (besides the environment and the default files).
// (A plain comment, not a doc comment: clap would make a flattened struct's doc comment the
// about text of the subcommand, since subcommands are built after their own about; see `defer`.)
#[derive(Args, Debug, Clone, Default)]
pub struct IdentityArgs {
    /// An age identity file (repeatable)
    // The id stays `identity`: subcommands adjust its help and requirements by that name.
    #[arg(id = "identity", long = "identity", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// A subcommand's own help for --identity (and the flag it needs).
fn identity_help(help: &'static str, requires: Option<&'static str>) -> impl FnMut(Arg) -> Arg {
    let mut with_help = help_for("identity", help);
    move |a| {
        let a = with_help(a);
        match requires {
            Some(other) if a.get_id() == "identity" => a.requires(other),
            _ => a,
        }
    }
}

/// A subcommand's own help for the argument `id` of a shared group: `Command::mut_args` keeps
/// the argument in place, so completions list it where the help does (`mut_arg` moves it last).
fn help_for(id: &'static str, help: &'static str) -> impl FnMut(Arg) -> Arg {
    move |a| if a.get_id() == id { a.help(help) } else { a }
}

// The .sops.yaml a command reads creation rules from, when not the one found by searching.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// The .sops.yaml to read creation rules from (default: search upward from the current directory, up to the repository top or $HOME)
    // The id stays `config`: subcommands adjust its help by that name.
    #[arg(id = "config", long = "config", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

// The path whose name .sops.yaml path rules are matched against instead of the file's own
// (sops's flag): for stdin, or a file whose name the rules do not describe.
#[derive(Args, Debug, Clone, Default)]
pub struct FilenameOverrideArgs {
    /// Match .sops.yaml path rules as if the file were at PATH (sops's flag)
    // The id stays `filename_override`: subcommands adjust its help by that name.
    #[arg(
        id = "filename_override",
        long = "filename-override",
        value_name = "PATH"
    )]
    pub path: Option<PathBuf>,
}

// Where new recipients come from (for new files).
#[derive(Args, Debug, Clone, Default)]
pub struct RecipientArgs {
    /// age recipient: age1..., "ssh-ed25519 ...", "ssh-rsa ..." (repeatable, or comma-separated)
    #[arg(short = 'a', long = "age", value_name = "RECIPIENT")]
    pub age: Vec<String>,
    /// A file of recipients, one per line (# comments allowed)
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    pub recipients_file: Vec<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Args, Debug)]
#[command(mut_args(help_for(
    "filename_override",
    "For a new file: match .sops.yaml path rules as if it were at PATH (sops's flag)",
)))]
pub struct EditArgs {
    /// The encrypted file to edit (a new file starts from a Secret template)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Recipients for a new file
    #[command(flatten)]
    pub recipients: RecipientArgs,
    #[command(flatten)]
    pub filename_override: FilenameOverrideArgs,
}

/// `--filename-override` of `set` and `unset`, which write into the file's envelope.
const WRITE_OVERRIDE_HELP: &str = "Match .sops.yaml path rules as if the file were at PATH (sops's flag): the file's recipients must be those of the rule for PATH, else the write is refused (exit 10)";

// Which Secret of a multi-document file.
#[derive(Args, Debug, Clone, Default)]
pub struct DocSelector {
    /// The document number (1-based)
    #[arg(long, value_name = "N")]
    pub doc: Option<usize>,
    /// The Secret's metadata.name (with --doc: in that document, e.g. a `kind: List`)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Args, Debug)]
#[command(mut_args(help_for("filename_override", WRITE_OVERRIDE_HELP)))]
pub struct SetArgs {
    /// The encrypted file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The key to set
    #[arg(value_name = "KEY")]
    pub key: String,
    #[command(flatten)]
    pub select: DocSelector,
    /// The value (visible in the process list and shell history: prefer --stdin or --from-file)
    #[arg(long, value_name = "V", group = "source")]
    pub value: Option<String>,
    /// Read the value from a file (bytes as they are)
    #[arg(long = "from-file", value_name = "PATH", group = "source")]
    pub from_file: Option<PathBuf>,
    /// Read the value from stdin (bytes as they are)
    #[arg(long, group = "source")]
    pub stdin: bool,
    /// Store the value as text under stringData instead of base64 under data
    #[arg(long)]
    pub string: bool,
    #[command(flatten)]
    pub filename_override: FilenameOverrideArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

pub const GET_HELP: &str = "\
Output: the value's bytes exactly as Kubernetes would hand them to a Pod (a data value decoded
from base64; a stringData value as text; stringData wins when a key is in both). A line break is
added only when stdout is a terminal, so `$(kseal get ...)` and `> FILE` get the value as it is.
--raw prints the stored base64 of a data key instead (one line).

Examples:
  kseal get db.enc.yaml password
  kseal get secrets.enc.yaml tls.crt --name web-tls > tls.crt
  PGPASSWORD=\"$(kseal get db.enc.yaml password)\" psql ...

Exit codes:
  0   success
  2   usage error: no such key or Secret, several Secrets and no --name/--doc, --raw on stringData
  3   the file could not be read
  4   invalid input: not YAML/JSON, not a valid sops file, a data value that is not base64
  5   no identity opens the file's data key
  6   MAC mismatch or tampering: nothing is printed
  10  the file is not encrypted (a plain file has no MAC: nothing is printed)";

#[derive(Args, Debug)]
pub struct GetArgs {
    /// The encrypted file (YAML or JSON; a `kind: List` of Secrets too)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The key, under data or stringData
    #[arg(value_name = "KEY")]
    pub key: String,
    #[command(flatten)]
    pub select: DocSelector,
    /// Print the stored base64 of a data key instead of the decoded bytes
    #[arg(long)]
    pub raw: bool,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

#[derive(Args, Debug)]
#[command(mut_args(help_for("filename_override", WRITE_OVERRIDE_HELP)))]
pub struct UnsetArgs {
    /// The encrypted file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The key to remove (from data and stringData)
    #[arg(value_name = "KEY")]
    pub key: String,
    #[command(flatten)]
    pub select: DocSelector,
    /// Succeed without writing when the key is absent
    #[arg(long)]
    pub idempotent: bool,
    #[command(flatten)]
    pub filename_override: FilenameOverrideArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum CreateCommand {
    /// A generic Secret from literals, files and env files
    #[command(after_help = EXIT_CODES)]
    Generic(CreateGenericArgs),
    /// A kubernetes.io/tls Secret from a certificate and a key
    #[command(after_help = EXIT_CODES)]
    Tls(CreateTlsArgs),
    /// A kubernetes.io/dockerconfigjson Secret for a registry
    #[command(after_help = EXIT_CODES)]
    DockerRegistry(CreateDockerArgs),
}

#[derive(Args, Debug)]
#[command(mut_args(help_for(
    "filename_override",
    "Match .sops.yaml path rules as if the Secret were written to PATH (default: OUT; sops's flag, for stdout)",
)))]
pub struct CreateCommon {
    /// The Secret's name
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The Secret's namespace
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Write the encrypted Secret to this file instead of stdout (an existing file is
    /// refused, exit 10, unless --force)
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Replace the file given with -o if it exists
    #[arg(long, requires = "output")]
    pub force: bool,
    #[command(flatten)]
    pub filename_override: FilenameOverrideArgs,
    #[command(flatten)]
    pub recipients: RecipientArgs,
}

#[derive(Args, Debug)]
pub struct CreateGenericArgs {
    #[command(flatten)]
    pub common: CreateCommon,
    /// The Secret type (default: Opaque)
    #[arg(long = "type", value_name = "T")]
    pub secret_type: Option<String>,
    /// key=value (repeatable)
    #[arg(long = "from-literal", value_name = "K=V")]
    pub from_literal: Vec<String>,
    /// [key=]path: a file, or a directory's regular files (repeatable)
    #[arg(long = "from-file", value_name = "[K=]PATH")]
    pub from_file: Vec<String>,
    /// A file of KEY=VALUE lines (repeatable)
    #[arg(long = "from-env-file", value_name = "FILE")]
    pub from_env_file: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CreateTlsArgs {
    #[command(flatten)]
    pub common: CreateCommon,
    /// PEM certificate file
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// PEM private key file
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
}

#[derive(Args, Debug)]
pub struct CreateDockerArgs {
    #[command(flatten)]
    pub common: CreateCommon,
    /// Registry server (default: https://index.docker.io/v1/)
    #[arg(long = "docker-server", visible_alias = "server", value_name = "URL")]
    pub server: Option<String>,
    #[arg(
        long = "docker-username",
        visible_alias = "username",
        value_name = "USER"
    )]
    pub username: String,
    #[arg(
        long = "docker-password",
        visible_alias = "password",
        value_name = "PASSWORD"
    )]
    pub password: String,
    #[arg(long = "docker-email", visible_alias = "email", value_name = "EMAIL")]
    pub email: Option<String>,
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
// --identity only opens --previous here.
#[command(
    mut_args(identity_help(
        "An age identity file to open --previous (repeatable)",
        Some("previous"),
    )),
    mut_args(help_for(
        "filename_override",
        "Match .sops.yaml path rules (and name the input in messages) as if the file were at PATH: for stdin, or a file whose name the rules do not describe (sops's flag)",
    ))
)]
pub struct EncryptArgs {
    /// Manifests to encrypt ("-" or nothing: stdin)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub recipients: RecipientArgs,
    #[command(flatten)]
    pub filename_override: FilenameOverrideArgs,
    /// Drop server-populated fields (resourceVersion, uid, creationTimestamp, managedFields, ...)
    #[arg(long)]
    pub clean: bool,
    /// Re-encrypt into the envelope of this encrypted file: same data key and recipients,
    /// unchanged values keep their ciphertext (for editor plugins: decrypt, edit in memory,
    /// `kseal encrypt --previous FILE -`)
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

#[derive(Args, Debug)]
#[command(
    mut_args(identity_help(
        "An age identity file (repeatable); also KSEAL_AGE_KEY_FILE and the default files",
        None,
    )),
    mut_args(help_for(
        "filename_override",
        "The name of stdin in messages (sops's flag; kseal recognizes YAML and JSON by content)",
    ))
)]
pub struct DecryptArgs {
    /// Files or directories to decrypt ("-" or nothing: stdin). Directories are read
    /// recursively (*.yaml, *.yml, *.json, sorted); plain files pass through, and a
    /// directory's files that are not Kubernetes objects (a kustomization, a KRM function
    /// config) are skipped with a note.
    #[arg(value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Decrypt even if the MAC does not match (for rescue only; prints a warning)
    #[arg(long = "ignore-mac")]
    pub ignore_mac: bool,
    /// For git's diff textconv: `data` values shown decoded (as `kseal edit` shows them);
    /// never fails: a file that cannot be decrypted (no key, bad MAC) is printed as it is,
    /// with a note on top
    #[arg(long, conflicts_with_all = ["in_place", "output", "ignore_mac"])]
    pub textconv: bool,
    #[command(flatten)]
    pub filename_override: FilenameOverrideArgs,
}

#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Write the identity to this file (created 0600, never overwritten; missing directories
    /// are created 0700) instead of stdout. sops's default, ~/.config/sops/age/keys.txt, is
    /// read by kseal, sops and Flux tooling
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Protect the identity with a passphrase (asked twice on the terminal): an armored,
    /// scrypt-encrypted identity file, like `age -p` makes
    #[arg(short = 'p', long)]
    pub passphrase: bool,
    /// A hybrid post-quantum identity (ML-KEM-768 + X25519, `age1pq1...` recipient, about 2,000
    /// characters), as `age-keygen -pq` makes; read by sops >= 3.12, Flux >= 2.9, age >= 1.3
    #[arg(long)]
    pub pq: bool,
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum GitCommand {
    /// Write .gitattributes lines and the local git config for the kseal diff textconv and
    /// merge driver (run inside the repository)
    #[command(after_help = EXIT_CODES)]
    Setup(GitSetupArgs),
}

#[derive(Args, Debug)]
pub struct GitSetupArgs {
    /// File patterns of encrypted files, as in .gitattributes (repeatable;
    /// default: *.enc.yaml *.enc.yml *.enc.json)
    #[arg(long = "pattern", value_name = "GLOB")]
    pub patterns: Vec<String>,
    /// The kseal command git runs (default: `kseal` when it is this binary on PATH, else this
    /// binary's absolute path)
    #[arg(long, value_name = "CMD")]
    pub kseal: Option<String>,
    /// Do not configure the diff textconv
    #[arg(long)]
    pub no_diff: bool,
    /// Do not configure the merge driver
    #[arg(long)]
    pub no_merge: bool,
}

#[derive(Args, Debug)]
pub struct MergeDriverArgs {
    /// The common ancestor's version (%O)
    #[arg(value_name = "BASE")]
    pub base: PathBuf,
    /// Our version (%A); the merged result is written here
    #[arg(value_name = "OURS")]
    pub ours: PathBuf,
    /// Their version (%B)
    #[arg(value_name = "THEIRS")]
    pub theirs: PathBuf,
    /// The path of the file in the repository (%P): named in messages, matched against the
    /// .sops.yaml rules
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum KustomizeCommand {
    /// KRM function: a ResourceList on stdin (KsealGenerator or KsealTransformer as
    /// functionConfig), a ResourceList on stdout
    #[command(after_help = EXIT_CODES)]
    Fn(KustomizeFnArgs),
    /// Legacy kustomize exec plugin: CONFIG is the plugin's config file; a generator prints
    /// the decrypted Secrets, a transformer decrypts the resources read on stdin
    #[command(after_help = EXIT_CODES)]
    Plugin(KustomizePluginArgs),
    /// Decrypt every encrypted resource of a manifest stream (`kustomize build` output),
    /// verifying each file's MAC over the documents that share its envelope
    #[command(after_help = EXIT_CODES)]
    Decrypt(KustomizeDecryptArgs),
    /// Fail when the kustomization in DIR, or one it includes, declares a KRM `exec:`
    /// function: kustomize without `--enable-exec` skips it and exits 0, so the build would
    /// silently lack what it generates (the Argo CD plugin runs this before the build)
    #[command(after_help = EXIT_CODES)]
    Preflight(KustomizePreflightArgs),
    /// Install kseal as kustomize's legacy exec plugins KsealGenerator and KsealTransformer:
    /// symlinks to kseal in kustomize's plugin directory, for `kustomize build
    /// --enable-alpha-plugins` and `kubectl kustomize --enable-alpha-plugins`
    #[command(after_help = EXIT_CODES)]
    Install(KustomizeInstallArgs),
}

#[derive(Args, Debug)]
pub struct KustomizeInstallArgs {
    /// kustomize's plugin directory (default: $KUSTOMIZE_PLUGIN_HOME, else
    /// $XDG_CONFIG_HOME/kustomize/plugin, else ~/.config/kustomize/plugin)
    #[arg(long, value_name = "DIR")]
    pub plugin_home: Option<PathBuf>,
    /// The kseal binary the plugins run (default: this one)
    #[arg(long, value_name = "PATH")]
    pub kseal: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct KustomizePreflightArgs {
    /// The kustomization directory
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct KustomizeFnArgs {
    /// The kpt package directory (`kpt fn eval DIR --exec "kseal kustomize fn --package
    /// DIR"`): kpt fn eval does not tell a function where the package is, and kseal needs it
    /// to refuse a listed file that is a symbolic link out of the package (kpt fn render
    /// says where it is)
    #[arg(long, value_name = "DIR")]
    pub package: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct KustomizePluginArgs {
    /// The plugin configuration file kustomize passes
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

#[derive(Args, Debug)]
pub struct KustomizeDecryptArgs {
    /// The stream to read ("-" or nothing: stdin)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The old file (or, with --rev, the file to compare with its version at REV)
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The new file
    #[arg(value_name = "NEW", required_unless_present = "rev")]
    pub new: Option<PathBuf>,
    /// Compare OLD in the working tree with its version at this git revision
    #[arg(long, value_name = "REV", conflicts_with = "new")]
    pub rev: Option<String>,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when the files differ (like diff(1)); exit 10 when either side holds Secret
    /// values in plaintext (not encrypted)
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Args, Debug)]
#[command(mut_args(help_for(
    "config",
    "The .sops.yaml whose path rules say which files must be encrypted and whose `check:` section configures the rules (default: search upward from each path, up to the repository top or $HOME; the `check:` section from the current directory)",
)))]
pub struct CheckArgs {
    /// Files or directories to check (default: the current directory)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output: text for people, json, sarif (SARIF 2.1.0 for code scanning), or gitlab-sast
    /// (a GitLab SAST report)
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Machine-readable output (the same as --format json)
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Also review how workloads consume Secrets (env vars, missing Secrets)
    #[arg(long)]
    pub workloads: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Exit 10 on findings of this severity or worse (never: report only) [default: error]
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<CheckFailOn>,
    /// Turn a rule off by its id (repeatable, or comma-separated)
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub disable: Vec<String>,
    /// Also list the findings a `# kseal: ignore` comment suppressed
    #[arg(long)]
    pub show_suppressed: bool,
    /// Report encrypted files last encrypted longer ago than this (90d, 12h, 1w; as
    /// `status --max-age`)
    #[arg(long, value_name = "DURATION")]
    pub max_age: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFormat {
    Text,
    Json,
    Sarif,
    GitlabSast,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFailOn {
    Error,
    Warning,
    Never,
}

#[derive(Args, Debug)]
#[command(exec_command_help())]
pub struct ExecArgs {
    /// The encrypted file holding the Secret
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub select: DocSelector,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// The command and its arguments (after --)
    #[arg(value_name = "CMD", last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct SopsLinkArgs {
    /// The directory for the link, created if needed (put it before the real sops in PATH,
    /// or point the plugin's sops path setting at DIR/sops); an existing DIR/sops that is not
    /// a link to this kseal is not replaced
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args, Debug)]
pub struct UpdatekeysArgs {
    /// Encrypted files, or directories to walk (*.yaml, *.yml, *.json; plain files are
    /// skipped); default: the current directory
    #[arg(value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,
    /// Show the differences, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Apply without asking for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// When a recipient is removed, only re-wrap the current data key instead of generating a
    /// new one (the removed recipient may still hold the current key)
    #[arg(long)]
    pub keep_data_key: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

#[derive(Args, Debug)]
#[command(mut_args(help_for(
    "config",
    "The .sops.yaml whose rules name the recipients (default: search upward from the current directory)",
)))]
pub struct RotateArgs {
    /// Encrypted files, or directories to walk (plain files are skipped); each is replaced
    /// atomically. Default: the current directory
    #[arg(value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,
    /// Add a recipient (repeatable, or comma-separated)
    #[arg(long = "add-age", value_name = "RECIPIENT")]
    pub add_age: Vec<String>,
    /// Remove a recipient (repeatable, or comma-separated)
    #[arg(long = "rm-age", value_name = "RECIPIENT")]
    pub rm_age: Vec<String>,
    /// Also give the new data key to the file's recipients that no .sops.yaml rule (or
    /// --add-age) names; without it they are dropped (and named on stderr) when a rule
    /// applies, and plugin recipients are refused when none does: recipients come from the
    /// rules, not from the file, which anyone who can push may have changed
    #[arg(long)]
    pub keep_unknown_recipients: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

#[derive(Args, Debug)]
#[command(mut_args(help_for(
    "config",
    "The .sops.yaml to compare recipients with (default: search upward from the current directory, up to the repository top or $HOME)",
)))]
pub struct StatusArgs {
    /// Files or directories to report on (default: the current directory)
    #[arg(value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,
    /// Machine-readable output: one JSON object, versioned by its `schema` key (described in
    /// status.md of kseal's documentation; `make install` puts it in share/doc/kseal/docs)
    #[arg(long)]
    pub json: bool,
    /// Fail (exit 10) when a file was last encrypted longer ago than this: 90d, 12h, 30m, 2w
    #[arg(long, value_name = "DURATION")]
    pub max_age: Option<String>,
    /// Do not open files to verify their MAC (no identity is loaded, nothing is asked)
    #[arg(long)]
    pub no_verify: bool,
    /// Fail (exit 10) when a file's recipients differ from its .sops.yaml creation rule
    /// (stale: `kseal updatekeys` fixes it); for CI. Without a .sops.yaml: exit 8
    #[arg(long)]
    pub fail_stale: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// (path, about, long_about) of every subcommand, recursively.
    fn abouts(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String, String)>) {
        for sc in cmd.get_subcommands() {
            let p = format!("{path} {}", sc.get_name());
            let text = |s: Option<&clap::builder::StyledStr>| s.map(|s| s.to_string());
            let (about, long) = (text(sc.get_about()), text(sc.get_long_about()));
            out.push((
                p.clone(),
                about.unwrap_or_default(),
                long.unwrap_or_default(),
            ));
            abouts(sc, &p, out);
        }
    }

    /// Subcommands are deferred: building one must not change its about text (a flattened
    /// Args struct with a doc comment would replace it), so --help, completions and the man
    /// page read as they did when the whole tree was built at start-up.
    #[test]
    fn deferred_subcommands_keep_their_about() {
        let before = Cli::command();
        let mut built = Cli::command();
        built.build();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        abouts(&before, "kseal", &mut a);
        abouts(&built, "kseal", &mut b);
        // Building adds the `help` subcommands.
        b.retain(|(p, _, _)| !p.split(' ').any(|w| w == "help"));
        assert!(a.len() > 20, "{a:?}");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y);
        }
        assert_eq!(a.len(), b.len());
    }
}
