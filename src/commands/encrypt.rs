//! `kseal encrypt`: seal the Secrets of a manifest for their recipients, keeping every other
//! byte, and check the result reads back as what was sealed before writing it.

use std::path::{Path, PathBuf};

use kseal::config::{Config, CreationRule};
use kseal::error::{Error, Kind, Result};
use kseal::keys::{self, Recipient};
use kseal::kube;
use kseal::secret::DataKey;
use kseal::sops::file::{self, EncryptSettings};
use kseal::sops::metadata::{self, AgeEntry};
use kseal::sops::rules::CryptRule;
use kseal::yaml::{splice, tree};

use super::{check_in_place, env_var, note, warn};
use crate::cli::EncryptArgs;
use crate::fsio::{self, Input};

/// Recipients and crypt rule for one file.
pub struct Plan {
    pub recipients: Vec<Recipient>,
    pub rule: CryptRule,
    pub mac_only_encrypted: bool,
}

/// Where recipients come from: flags and variables first, else `.sops.yaml` (read once).
pub struct Planner {
    flags: Vec<Recipient>,
    config: Option<(PathBuf, Config)>,
}

impl Planner {
    pub fn new(
        age: &[String],
        recipients_files: &[PathBuf],
        config: Option<&Path>,
    ) -> Result<Planner> {
        let flags = recipients_from_flags(age, recipients_files)?;
        let config = if flags.is_empty() {
            load_config(config)?
        } else {
            None
        };
        Ok(Planner { flags, config })
    }

    /// The plan for a target file (`None`: stdin or a file that has no path yet).
    pub fn plan_for(&self, target: Option<&Path>) -> Result<Plan> {
        plan_for(target, &self.flags, self.config.as_ref(), &[])
    }

    /// A planner that takes recipients from `.sops.yaml` only (updatekeys, status): recipient
    /// flags and variables are for new files, not for files that already exist.
    pub fn from_config(config: Option<&Path>) -> Result<Planner> {
        Ok(Planner {
            flags: Vec::new(),
            config: load_config(config)?,
        })
    }

    /// Whether a `.sops.yaml` was found (or named).
    pub fn has_config(&self) -> bool {
        self.config.is_some()
    }

    /// Whether the plan depends on the namespaces of the file's Secrets (a `namespace_regex`
    /// rule is in effect), so that callers parse the manifest only when it matters.
    pub fn needs_namespaces(&self) -> bool {
        self.flags.is_empty()
            && self
                .config
                .as_ref()
                .is_some_and(|(_, c)| c.has_namespace_rules())
    }

    /// `plan_for` with the `metadata.namespace` of each Secret of the file (see
    /// `Config::rule_for_file`).
    pub fn plan_for_namespaces(
        &self,
        target: Option<&Path>,
        namespaces: &[Option<String>],
    ) -> Result<Plan> {
        plan_for(target, &self.flags, self.config.as_ref(), namespaces)
    }

    /// `plan_for` for a manifest's text: its Secrets' namespaces are read when a rule needs them.
    pub fn plan_for_text(&self, target: Option<&Path>, text: &str) -> Result<Plan> {
        if !self.needs_namespaces() {
            return self.plan_for(target);
        }
        let stream = tree::parse(text)?;
        self.plan_for_namespaces(target, &kube::secret_namespaces(&stream))
    }
}

/// Encrypts a new manifest with a fresh data key (after the Kubernetes checks and the removal
/// of fields that must not be committed). `name` is the file the warnings and notes name.
pub fn seal_new(name: &str, text: &str, plan: &Plan, clean: bool) -> Result<String> {
    encrypt_text(name, text, plan, clean)
}

pub fn run(args: &EncryptArgs) -> Result<()> {
    if let Some(previous) = &args.previous {
        return run_previous(args, previous);
    }
    let inputs = fsio::expand_inputs(&args.files)?;
    if inputs.is_empty() {
        // Only an empty directory gets here: succeeding silently would look like a sealed file.
        return Err(
            Error::new(Kind::Input, "no *.yaml, *.yml or *.json file to encrypt")
                .with_hint("name the files to encrypt"),
        );
    }
    if args.out.in_place {
        check_in_place(&inputs)?;
    } else if inputs.len() > 1 {
        return Err(Error::new(
            Kind::Usage,
            "several inputs need --in-place: each file is its own envelope",
        )
        .with_hint("encrypt one file at a time to stdout or -o, or use -i"));
    }
    if args.filename_override.is_some() && inputs.len() > 1 {
        return Err(Error::new(
            Kind::Usage,
            "--filename-override names one file: give one input",
        ));
    }
    let r = &args.recipients;
    let planner = Planner::new(&r.age, &r.recipients_file, r.config.as_deref())?;
    for input in &inputs {
        let name = match (input, &args.filename_override) {
            (Input::Stdin, Some(o)) => o.display().to_string(),
            _ => input.name(),
        };
        let target = rules_target(input, args);
        // Plan before reading, so that a missing recipient fails before stdin is read, unless
        // a namespace rule needs the manifest.
        let early = if planner.needs_namespaces() {
            None
        } else {
            Some(planner.plan_for(target).map_err(|e| e.in_file(&name))?)
        };
        let text = zeroize::Zeroizing::new(fsio::read_input(input).map_err(|e| e.in_file(&name))?);
        let plan = match early {
            Some(p) => p,
            None => planner
                .plan_for_text(target, &text)
                .map_err(|e| e.in_file(&name))?,
        };
        let out = encrypt_text(&name, &text, &plan, args.clean).map_err(|e| e.in_file(&name))?;
        fsio::check_output_size(out.len()).map_err(|e| e.in_file(&name))?;
        match (input, &args.out.output, args.out.in_place) {
            // Compare-before-rename: a file changed (or encrypted by another kseal) since it
            // was read is not overwritten with the encryption of its old content.
            (Input::File(p), _, true) => {
                let expected = fsio::Expect::Content(text.as_bytes());
                if !fsio::replace_if_unchanged(p, expected, out.as_bytes(), 0o644)? {
                    return Err(fsio::changed_on_disk(p));
                }
            }
            (_, Some(o), _) => fsio::write_atomic(o, out.as_bytes(), 0o644)?,
            _ => fsio::write_stdout(out.as_bytes())?,
        }
    }
    Ok(())
}

/// The path `.sops.yaml` rules are matched against: `--filename-override`, else the file
/// being written (`-o OUT`: where the encrypted file will live is what the rules describe),
/// else the input file; `None` for stdin to stdout.
fn rules_target<'a>(input: &'a Input, args: &'a EncryptArgs) -> Option<&'a Path> {
    if let Some(o) = &args.filename_override {
        return Some(o);
    }
    if let Some(o) = &args.out.output {
        return Some(o);
    }
    match input {
        Input::File(p) => Some(p),
        Input::Stdin => None,
    }
}

fn encrypt_text(name: &str, text: &str, plan: &Plan, clean: bool) -> Result<String> {
    if text.trim().is_empty() {
        return Err(Error::new(
            Kind::Refused,
            "the input is empty: nothing to encrypt",
        ));
    }
    let sanitized;
    let mut stream = tree::parse(text)?;
    // Refuse encrypted input before any other check: its `data` values are not base64.
    for (i, doc) in stream.docs.iter().enumerate() {
        if doc
            .root_mapping()
            .is_some_and(|m| m.entry("sops").is_some())
        {
            return Err(Error::new(
                Kind::Refused,
                "the input is already encrypted (it has a `sops:` block)",
            )
            .in_doc(i)
            .with_hint(
                "use `kseal edit` to change values or `kseal updatekeys` to change recipients",
            ));
        }
    }
    refuse_hidden_secrets(&stream)?;
    let (edits, notes) = kube::sanitize(text, &stream, clean);
    let text = if edits.is_empty() {
        text
    } else {
        sanitized = splice::apply(text, edits)?;
        stream = tree::parse(&sanitized)?;
        sanitized.as_str()
    };
    for n in notes {
        note(&format!("{name}: {n}"));
    }
    warn_secrets(name, &stream)?;
    let key = DataKey::generate()
        .map_err(|e| Error::new(Kind::Internal, format!("no randomness: {e}")))?;
    let mut age = Vec::with_capacity(plan.recipients.len());
    for r in &plan.recipients {
        age.push(AgeEntry {
            recipient: r.text().to_string(),
            enc: keys::wrap(&key, r)?,
        });
    }
    // Every Secret carries the whole `sops:` block with every wrapped key: an output too big to
    // be read back is refused here, before any value is encrypted.
    let secrets = stream
        .docs
        .iter()
        .filter(|d| kseal::secrets::holds_secrets(d))
        .count();
    let per_block: usize = age.iter().map(|a| a.enc.len() + a.recipient.len()).sum();
    fsio::check_output_size(text.len().saturating_add(secrets.saturating_mul(per_block)))?;
    let settings = EncryptSettings {
        key_groups: None,
        rule: plan.rule.clone(),
        mac_only_encrypted: plan.mac_only_encrypted,
        key: &key,
        age,
        lastmodified: metadata::now_lastmodified(),
        version: metadata::SOPS_FORMAT_VERSION.to_string(),
        stash: None,
        policy: Some(&kseal::kube::STRICT),
    };
    file::encrypt_checked(text, &stream, &settings, &kseal::secrets::holds_secrets)
}

/// Refuses a document that kubectl applies as a Secret but kseal would leave in plain text (a
/// kind or values brought in by a YAML merge key, a Secret among a list's items).
fn refuse_hidden_secrets(stream: &tree::Stream) -> Result<()> {
    for (i, doc) in stream.docs.iter().enumerate() {
        if let Some(why) = kube::hidden_secret(doc) {
            return Err(Error::new(
                Kind::Unsupported,
                format!("kubectl applies this document as a Secret, but kseal cannot encrypt it: {why}"),
            )
            .in_doc(i)
            .with_hint("write each Secret as its own document with `kind: Secret` and its keys spelled out (no `<<`)"));
        }
    }
    Ok(())
}

fn recipients_from_flags(age: &[String], recipients_files: &[PathBuf]) -> Result<Vec<Recipient>> {
    let mut out = Vec::new();
    for a in age {
        out.extend(keys::parse_recipient_list(a)?);
    }
    for f in recipients_files {
        let text = std::fs::read_to_string(f).map_err(|e| {
            Error::new(
                Kind::Input,
                format!("cannot read recipients file {}: {e}", f.display()),
            )
        })?;
        out.extend(
            keys::parse_recipient_list(&text).map_err(|e| e.in_file(f.display().to_string()))?,
        );
    }
    if out.is_empty() {
        for var in ["KSEAL_AGE_RECIPIENTS", "SOPS_AGE_RECIPIENTS"] {
            if let Some(v) = env_var(var).filter(|v| !v.trim().is_empty()) {
                out.extend(keys::parse_recipient_list(&v).map_err(|e| e.in_file(var))?);
                break;
            }
        }
    }
    Ok(out)
}

/// The `.sops.yaml` in effect: `--config`, `KSEAL_CONFIG`/`SOPS_CONFIG`, or the first one found
/// from the working directory upward (to the repository's top or `$HOME`; see
/// `kseal::config_search`).
fn load_config(flag: Option<&Path>) -> Result<Option<(PathBuf, Config)>> {
    let explicit = flag.map(Path::to_path_buf).or_else(|| {
        env_var("KSEAL_CONFIG")
            .or_else(|| env_var("SOPS_CONFIG"))
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let path = match explicit {
        Some(p) => p,
        None => {
            let cwd = std::env::current_dir()
                .map_err(|e| Error::new(Kind::Config, format!("no working directory: {e}")))?;
            match super::find_sops_yaml(&cwd) {
                Some(p) => p,
                None => return Ok(None),
            }
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::new(Kind::Config, format!("cannot read {}: {e}", path.display())))?;
    let config = Config::parse(&text).map_err(|e| e.in_file(path.display().to_string()))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Some((std::fs::canonicalize(&dir).unwrap_or(dir), config)))
}

fn no_recipient() -> Error {
    Error::new(Kind::Config, "no recipient to encrypt to").with_hint(
        "give one with --age age1... (or --recipients-file, KSEAL_AGE_RECIPIENTS), or add a creation rule with `age:` to .sops.yaml",
    )
}

/// No creation rule matches: for stdin, the rules had no path to match, so the hint says how
/// to give one.
fn no_rule(rel: Option<&str>, dir: &Path) -> Error {
    let config = dir.join(".sops.yaml");
    match rel {
        None => Error::new(
            Kind::Config,
            format!(
                "no creation rule of {} matches: without a file name there is no path for path_regex to match",
                config.display()
            ),
        )
        .with_hint(
            "name the file it becomes with -o OUT (or --filename-override PATH when writing to stdout), or give recipients with --age",
        ),
        Some(rel) => Error::new(
            Kind::Config,
            format!(
                "no creation rule of {} matches {rel}",
                config.display()
            ),
        )
        .with_hint(
            "add a matching path_regex (and namespace_regex) to .sops.yaml, name the target with --filename-override PATH, or give recipients with --age",
        ),
    }
}

fn plan_for(
    target: Option<&Path>,
    flags: &[Recipient],
    config: Option<&(PathBuf, Config)>,
    namespaces: &[Option<String>],
) -> Result<Plan> {
    if !flags.is_empty() {
        let recipients = flags
            .iter()
            .map(|r| Recipient::parse(r.text()))
            .collect::<Result<Vec<_>>>()?;
        return Ok(Plan {
            recipients,
            rule: CryptRule::kubernetes(),
            mac_only_encrypted: false,
        });
    }
    let Some((dir, config)) = config else {
        return Err(no_recipient());
    };
    let rel = match target {
        None => String::new(),
        Some(p) => {
            // A file that does not exist yet (`kseal edit NEW.yaml`) is placed by its directory.
            let abs = std::fs::canonicalize(p)
                .or_else(|e| match (p.parent(), p.file_name()) {
                    (Some(d), Some(n)) => std::fs::canonicalize(if d.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        d
                    })
                    .map(|d| d.join(n)),
                    _ => Err(e),
                })
                .unwrap_or_else(|_| p.to_path_buf());
            abs.strip_prefix(dir)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_else(|_| abs.to_string_lossy().into_owned())
        }
    };
    let rule: &CreationRule = config
        .rule_for_file(&rel, namespaces)
        .ok_or_else(|| no_rule(target.map(|_| rel.as_str()), dir))?;
    if rule.key_groups > 1 {
        return Err(Error::new(
            Kind::Unsupported,
            format!("the matching creation rule has {} key groups (Shamir secret sharing); kseal supports one", rule.key_groups),
        ));
    }
    if rule.age.is_empty() {
        if !rule.other_keys.is_empty() {
            return Err(Error::new(
                Kind::Unsupported,
                format!("the matching creation rule lists only {} keys; kseal encrypts to age recipients", rule.other_keys.join(", ")),
            ));
        }
        return Err(no_recipient());
    }
    let recipients = rule
        .age
        .iter()
        .map(|r| Recipient::parse(r))
        .collect::<Result<Vec<_>>>()?;
    Ok(Plan {
        recipients,
        rule: rule
            .crypt_rule
            .clone()
            .unwrap_or_else(CryptRule::kubernetes),
        mac_only_encrypted: rule.mac_only_encrypted,
    })
}

/// `--previous FILE`, for editor plugins: the input is the edited plaintext of FILE, sealed
/// into FILE's own envelope (same data key, recipients and crypt rule; unchanged values keep
/// their `ENC[...]` text through the IV stash), so the Git diff shows only what was edited.
fn run_previous(args: &EncryptArgs, previous: &Path) -> Result<()> {
    if args.out.in_place {
        return Err(Error::new(
            Kind::Usage,
            "--previous writes to stdout or -o, not --in-place",
        )
        .with_hint("the plaintext comes from stdin or a file; FILE itself is only read"));
    }
    let inputs = fsio::expand_inputs(&args.files)?;
    let [input] = inputs.as_slice() else {
        return Err(Error::new(
            Kind::Usage,
            "--previous takes one input: the edited plaintext (stdin or a file)",
        ));
    };
    if !args.recipients.age.is_empty()
        || !args.recipients.recipients_file.is_empty()
        || args.recipients.config.is_some()
        || args.filename_override.is_some()
    {
        warn(&format!(
            "--age, --recipients-file, --config and --filename-override are ignored with --previous: the recipients are those of {}",
            previous.display()
        ));
    }
    let opened = super::open_encrypted(previous, &args.identity.files)?;
    let name = input.name();
    let text = zeroize::Zeroizing::new(fsio::read_input(input).map_err(|e| e.in_file(&name))?);
    let text = sanitized_checked(&name, &text, args.clean).map_err(|e| e.in_file(&name))?;
    let out = file::reencrypt(&text, opened.envelope(), &opened.selector())
        .map_err(|e| e.in_file(&name))?;
    fsio::check_output_size(out.len()).map_err(|e| e.in_file(&name))?;
    match &args.out.output {
        Some(o) => fsio::write_atomic(o, out.as_bytes(), 0o644),
        None => fsio::write_stdout(out.as_bytes()),
    }
}

/// The Kubernetes side of `encrypt` for `--previous`: the last-applied annotation goes
/// (`--clean` also drops server fields), `data` must be base64, typing warnings are printed.
fn sanitized_checked(name: &str, text: &str, clean: bool) -> Result<zeroize::Zeroizing<String>> {
    if text.trim().is_empty() {
        return Err(Error::new(
            Kind::Refused,
            "the input is empty: nothing to encrypt",
        ));
    }
    let stream = tree::parse(text)?;
    let (edits, notes) = kube::sanitize(text, &stream, clean);
    for n in notes {
        note(&format!("{name}: {n}"));
    }
    if edits.is_empty() {
        warn_secrets(name, &stream)?;
        return Ok(zeroize::Zeroizing::new(text.to_string()));
    }
    drop(stream);
    let sanitized = splice::apply(text, edits)?;
    warn_secrets(name, &tree::parse(&sanitized)?)?;
    Ok(sanitized)
}

/// Prints the typing warnings of every Secret of the stream (`kube::check_secret`), as
/// `FILE: document N: PATH ...`.
fn warn_secrets(name: &str, stream: &tree::Stream<'_>) -> Result<()> {
    for (i, doc) in stream.docs.iter().enumerate() {
        if kseal::secrets::holds_secrets(doc) {
            for w in kube::check_secret(doc, i)? {
                warn(&format!("{name}: {w}"));
            }
        }
    }
    Ok(())
}
