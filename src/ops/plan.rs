//! The recipient plan: which age recipients and which crypt rule a file is encrypted with,
//! from recipient flags, the `KSEAL_AGE_RECIPIENTS`/`SOPS_AGE_RECIPIENTS` variables, or the
//! `.sops.yaml` creation rule that matches the file (by path and, when a rule asks, by the
//! namespaces of its Secrets).
//!
//! What the plan reads from outside (variables, recipient files, the `.sops.yaml` search) comes
//! through the [`Environment`] the caller passes, so the rules are testable without a process
//! environment; only paths are resolved (`canonicalize`) here, to match them against the
//! rules.

use std::path::{Path, PathBuf};

use crate::config::{Config, CreationRule};
use crate::error::{Error, Kind, Reason, Result};
use crate::keys::{self, Recipient};
use crate::kube;
use crate::sops::rules::CryptRule;
use crate::yaml::tree;

/// Recipients and crypt rule for one file.
pub struct Plan {
    /// The recipients of a file with one key group (each gets the data key). Every recipient
    /// of every group when the rule has several key groups.
    pub recipients: Vec<Recipient>,
    /// A rule's key groups when it has several (Shamir secret sharing; empty otherwise): each
    /// group's recipients get that group's share of the data key.
    pub key_groups: Vec<Vec<Recipient>>,
    /// The rule's `shamir_threshold` (0: every group).
    pub shamir_threshold: usize,
    pub rule: CryptRule,
    pub mac_only_encrypted: bool,
}

/// What the plan needs from the process: the binary reads the real environment and files;
/// tests pass a fake.
pub trait Environment {
    /// An environment variable (`None`: unset or not Unicode).
    fn var(&self, name: &str) -> Option<String>;
    /// The text of a file (recipient files, `.sops.yaml`).
    fn read_file(&self, path: &Path) -> std::io::Result<String>;
    /// The working directory, where the `.sops.yaml` search starts.
    fn current_dir(&self) -> std::io::Result<PathBuf>;
    /// The `.sops.yaml` that applies from `dir` (see `crate::config_search`), if any.
    fn find_config(&self, dir: &Path) -> Option<PathBuf>;
}

/// The recipient flags of a command line: `--age`, `--recipients-file`, `--config`.
#[derive(Clone, Copy, Default)]
pub struct RecipientFlags<'a> {
    pub age: &'a [String],
    pub recipients_files: &'a [PathBuf],
    pub config: Option<&'a Path>,
}

/// Where recipients come from: flags and variables first, else `.sops.yaml` (read once).
pub struct Planner {
    flags: Vec<Recipient>,
    config: Option<(PathBuf, Config)>,
}

impl Planner {
    pub fn new(flags: &RecipientFlags<'_>, env: &dyn Environment) -> Result<Planner> {
        let recipients = recipients_from_flags(flags.age, flags.recipients_files, env)?;
        let config = if recipients.is_empty() {
            load_config(flags.config, env)?
        } else {
            None
        };
        Ok(Planner {
            flags: recipients,
            config,
        })
    }

    /// A planner that takes recipients from `.sops.yaml` only (updatekeys, status): recipient
    /// flags and variables are for new files, not for files that already exist.
    pub fn from_config(config: Option<&Path>, env: &dyn Environment) -> Result<Planner> {
        Ok(Planner {
            flags: Vec::new(),
            config: load_config(config, env)?,
        })
    }

    /// The plan for a target file (`None`: stdin or a file that has no path yet).
    pub fn plan_for(&self, target: Option<&Path>) -> Result<Plan> {
        plan_for(target, &self.flags, self.config.as_ref(), &[])
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

    /// `plan_for` for a parsed manifest: its Secrets' namespaces are read when a rule needs
    /// them.
    pub fn plan_for_stream(
        &self,
        target: Option<&Path>,
        stream: &tree::Stream<'_>,
    ) -> Result<Plan> {
        if !self.needs_namespaces() {
            return self.plan_for(target);
        }
        self.plan_for_namespaces(target, &kube::secret_namespaces(stream))
    }

    /// `plan_for` for a manifest's text: its Secrets' namespaces are read when a rule needs them.
    pub fn plan_for_text(&self, target: Option<&Path>, text: &str) -> Result<Plan> {
        if !self.needs_namespaces() {
            return self.plan_for(target);
        }
        self.plan_for_stream(target, &tree::parse(text)?)
    }

    /// The plan when it can be made before the input is read (so that a missing recipient
    /// fails before stdin is read); `None` when a namespace rule needs the manifest.
    pub fn plan_early(&self, target: Option<&Path>) -> Result<Option<Plan>> {
        if self.needs_namespaces() {
            return Ok(None);
        }
        self.plan_for(target).map(Some)
    }
}

/// The path `.sops.yaml` rules are matched against: `--filename-override`, else the file
/// being written (`-o OUT`: where the encrypted file will live is what the rules describe),
/// else the input file (`None`: stdin to stdout).
pub fn rules_target<'a>(
    filename_override: Option<&'a Path>,
    output: Option<&'a Path>,
    input: Option<&'a Path>,
) -> Option<&'a Path> {
    filename_override.or(output).or(input)
}

fn recipients_from_flags(
    age: &[String],
    recipients_files: &[PathBuf],
    env: &dyn Environment,
) -> Result<Vec<Recipient>> {
    let mut out = Vec::new();
    for a in age {
        out.extend(keys::parse_recipient_list(a)?);
    }
    for f in recipients_files {
        let text = env.read_file(f).map_err(|e| {
            Error::new(
                Kind::Input,
                format!("cannot read recipients file {}: {e}", f.display()),
            )
            .with_source(e)
        })?;
        out.extend(
            keys::parse_recipient_list(&text).map_err(|e| e.in_file(f.display().to_string()))?,
        );
    }
    if out.is_empty() {
        for var in ["KSEAL_AGE_RECIPIENTS", "SOPS_AGE_RECIPIENTS"] {
            if let Some(v) = env.var(var).filter(|v| !v.trim().is_empty()) {
                out.extend(keys::parse_recipient_list(&v).map_err(|e| e.in_file(var))?);
                break;
            }
        }
    }
    Ok(out)
}

/// The `.sops.yaml` in effect: `--config`, `KSEAL_CONFIG`/`SOPS_CONFIG`, or the first one found
/// from the working directory upward (to the repository's top or `$HOME`; see
/// `crate::config_search`).
fn load_config(flag: Option<&Path>, env: &dyn Environment) -> Result<Option<(PathBuf, Config)>> {
    let explicit = flag.map(Path::to_path_buf).or_else(|| {
        env.var("KSEAL_CONFIG")
            .or_else(|| env.var("SOPS_CONFIG"))
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let path = match explicit {
        Some(p) => p,
        None => {
            let cwd = env.current_dir().map_err(|e| {
                Error::new(Kind::Config, format!("no working directory: {e}")).with_source(e)
            })?;
            match env.find_config(&cwd) {
                Some(p) => p,
                None => return Ok(None),
            }
        }
    };
    let text = env.read_file(&path).map_err(|e| {
        Error::new(Kind::Config, format!("cannot read {}: {e}", path.display())).with_source(e)
    })?;
    let config = Config::parse(&text).map_err(|e| e.in_file(path.display().to_string()))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(Some((std::fs::canonicalize(&dir).unwrap_or(dir), config)))
}

fn no_recipient() -> Error {
    Error::new(Kind::Config, "no recipient to encrypt to").with_reason(Reason::NoRecipient)
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
        .with_reason(Reason::NoRuleWithoutFileName),
        Some(rel) => Error::new(
            Kind::Config,
            format!(
                "no creation rule of {} matches {rel}",
                config.display()
            ),
        )
        .with_reason(Reason::NoRuleMatches),
    }
}

/// The target's path relative to the config's directory (absolute when it lies outside); a
/// file that does not exist yet (`kseal edit NEW.yaml`) is placed by its directory.
fn relative_to(p: &Path, dir: &Path) -> String {
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
            key_groups: Vec::new(),
            shamir_threshold: 0,
            rule: CryptRule::kubernetes(),
            mac_only_encrypted: false,
        });
    }
    let Some((dir, config)) = config else {
        return Err(no_recipient());
    };
    let rel = target.map(|p| relative_to(p, dir)).unwrap_or_default();
    let rule: &CreationRule = config
        .rule_for_file(&rel, namespaces)
        .ok_or_else(|| no_rule(target.map(|_| rel.as_str()), dir))?;
    if rule.key_groups > 1 {
        let key_groups = group_recipients(rule)?;
        let recipients = key_groups.iter().flatten().cloned().collect();
        return Ok(Plan::from_rule(rule, recipients, key_groups));
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
    Ok(Plan::from_rule(rule, recipients, Vec::new()))
}

impl Plan {
    /// The plan a matching creation rule makes: the recipients (and key groups) taken from it,
    /// with its crypt rule and `mac_only_encrypted`.
    fn from_rule(
        rule: &CreationRule,
        recipients: Vec<Recipient>,
        key_groups: Vec<Vec<Recipient>>,
    ) -> Plan {
        let (crypt, mac_only_encrypted) = rule_crypt(rule);
        Plan {
            recipients,
            shamir_threshold: if key_groups.is_empty() {
                0
            } else {
                rule.shamir_threshold
            },
            key_groups,
            rule: crypt,
            mac_only_encrypted,
        }
    }
}

/// A matching creation rule's crypt rule (kseal's Kubernetes default when it names none) and
/// its `mac_only_encrypted`: what a plan encrypts with, and what `check` compares a file with.
pub fn rule_crypt(rule: &CreationRule) -> (CryptRule, bool) {
    let crypt = rule
        .crypt_rule
        .clone()
        .unwrap_or_else(CryptRule::kubernetes);
    (crypt, rule.mac_only_encrypted)
}

/// The recipients of each key group of a rule with several. A group naming pgp, kms or other
/// keys kseal cannot use is refused: dropping them would let fewer people open the file.
fn group_recipients(rule: &CreationRule) -> Result<Vec<Vec<Recipient>>> {
    if !rule.other_keys.is_empty() {
        return Err(Error::new(
            Kind::Unsupported,
            format!(
                "the matching creation rule's key groups name {} keys; kseal encrypts to age recipients only",
                rule.other_keys.join(", ")
            ),
        ));
    }
    rule.groups
        .iter()
        .map(|g| g.iter().map(|r| Recipient::parse(r)).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A fake process: variables from a map, files from the disk, a fixed working directory.
    struct Fake {
        vars: HashMap<&'static str, String>,
        cwd: PathBuf,
    }

    impl Environment for Fake {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).cloned()
        }
        fn read_file(&self, path: &Path) -> std::io::Result<String> {
            std::fs::read_to_string(path)
        }
        fn current_dir(&self) -> std::io::Result<PathBuf> {
            Ok(self.cwd.clone())
        }
        fn find_config(&self, dir: &Path) -> Option<PathBuf> {
            crate::config_search::find(dir, None).path
        }
    }

    #[allow(deprecated)] // x25519 keeps the test fast; the plan does not care about the key type
    fn recipient() -> String {
        age::x25519::Identity::generate().to_public().to_string()
    }

    fn rule_text(r: &CryptRule) -> String {
        format!("{r:?}")
    }

    fn rule(plan: &Plan) -> String {
        rule_text(&plan.rule)
    }

    fn texts(plan: &Plan) -> Vec<&str> {
        plan.recipients.iter().map(|r| r.text()).collect()
    }

    /// A repository with a `.git` marker and a `.sops.yaml` whose rules send `prod/` and
    /// `dev/` files to different recipients; `ns` Secrets in namespace `team-a` to a third.
    struct Repo {
        dir: tempfile::TempDir,
        prod: String,
        dev: String,
        team: String,
    }

    fn repo() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::create_dir(dir.path().join("prod")).unwrap();
        let (prod, dev, team) = (recipient(), recipient(), recipient());
        let config = format!(
            "creation_rules:\n  - path_regex: ^ns/.*\n    namespace_regex: ^team-a$\n    age: {team}\n  - path_regex: ^prod/.*\\.yaml$\n    age: {prod}\n  - path_regex: ^dev/\n    mac_only_encrypted: true\n    encrypted_regex: ^data$\n    age: {dev}\n"
        );
        std::fs::write(dir.path().join(".sops.yaml"), config).unwrap();
        Repo {
            dir,
            prod,
            dev,
            team,
        }
    }

    fn env_in(dir: &Path, vars: &[(&'static str, &str)]) -> Fake {
        Fake {
            vars: vars.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            cwd: dir.to_path_buf(),
        }
    }

    #[test]
    fn rules_target_prefers_override_then_output_then_input() {
        let (o, out, input) = (
            Path::new("o.yaml"),
            Path::new("out.yaml"),
            Path::new("in.yaml"),
        );
        assert_eq!(rules_target(Some(o), Some(out), Some(input)), Some(o));
        assert_eq!(rules_target(None, Some(out), Some(input)), Some(out));
        assert_eq!(rules_target(None, None, Some(input)), Some(input));
        assert_eq!(rules_target(None, Some(out), None), Some(out));
        assert_eq!(rules_target(Some(o), None, None), Some(o));
        assert_eq!(rules_target(None, None, None), None);
    }

    #[test]
    fn config_rules_match_the_target_path() {
        let r = repo();
        let root = r.dir.path();
        let planner = Planner::new(&RecipientFlags::default(), &env_in(root, &[])).unwrap();
        assert!(planner.has_config() && planner.needs_namespaces());
        // The output (-o) names a prod file although the input is elsewhere: prod's recipient.
        let input = root.join("plain.yaml");
        let out = root.join("prod/db.yaml");
        let target = rules_target(None, Some(&out), Some(&input));
        let plan = planner.plan_for(target).unwrap();
        assert_eq!(texts(&plan), [r.prod.as_str()]);
        assert_eq!(rule(&plan), rule_text(&CryptRule::kubernetes()));
        assert!(!plan.mac_only_encrypted);
        // --filename-override wins over -o; a file that does not exist yet is placed by its
        // directory; the rule's crypt rule and mac_only_encrypted come with it.
        let over = root.join("dev/new.yaml");
        let plan = planner
            .plan_for(rules_target(Some(&over), Some(&out), None))
            .unwrap();
        assert_eq!(texts(&plan), [r.dev.as_str()]);
        assert!(plan.mac_only_encrypted);
        assert_eq!(rule(&plan), r#"EncryptedRegex(Regex("^data$"))"#);
    }

    #[test]
    fn stdin_without_a_name_matches_no_path_rule() {
        let r = repo();
        let planner = Planner::new(&RecipientFlags::default(), &env_in(r.dir.path(), &[])).unwrap();
        let e = planner
            .plan_for(rules_target(None, None, None))
            .err()
            .unwrap();
        assert_eq!(e.kind, Kind::Config);
        assert!(e.message.contains("without a file name"), "{}", e.message);
        assert_eq!(e.reason(), Some(&Reason::NoRuleWithoutFileName));
        let e = planner
            .plan_for(Some(&r.dir.path().join("other/x.yaml")))
            .err()
            .unwrap();
        assert!(e.message.ends_with("matches other/x.yaml"), "{}", e.message);
    }

    #[test]
    fn namespace_rules_read_the_secrets_of_the_manifest() {
        let r = repo();
        let planner = Planner::new(&RecipientFlags::default(), &env_in(r.dir.path(), &[])).unwrap();
        let target = r.dir.path().join("ns/s.yaml");
        let text = "kind: Secret\nmetadata:\n  namespace: team-a\ndata:\n  a: YQ==\n";
        let plan = planner.plan_for_text(Some(&target), text).unwrap();
        assert_eq!(texts(&plan), [r.team.as_str()]);
        assert!(planner.plan_early(Some(&target)).unwrap().is_none());
        let other = text.replace("team-a", "team-b");
        assert!(planner.plan_for_text(Some(&target), &other).is_err());
    }

    #[test]
    fn flags_win_over_variables_and_config() {
        let r = repo();
        let (flag, var) = (recipient(), recipient());
        let env = env_in(r.dir.path(), &[("KSEAL_AGE_RECIPIENTS", &var)]);
        let age = [flag.clone()];
        let flags = RecipientFlags {
            age: &age,
            ..Default::default()
        };
        let planner = Planner::new(&flags, &env).unwrap();
        assert!(!planner.has_config() && !planner.needs_namespaces());
        let plan = planner
            .plan_early(Some(&r.dir.path().join("prod/db.yaml")))
            .unwrap()
            .unwrap();
        assert_eq!(texts(&plan), [flag.as_str()]);
        assert_eq!(rule(&plan), rule_text(&CryptRule::kubernetes()));
    }

    #[test]
    fn kseal_variable_wins_over_sops_variable_and_config() {
        let r = repo();
        let (k, s) = (recipient(), recipient());
        let both = env_in(
            r.dir.path(),
            &[("KSEAL_AGE_RECIPIENTS", &k), ("SOPS_AGE_RECIPIENTS", &s)],
        );
        let plan = Planner::new(&RecipientFlags::default(), &both)
            .unwrap()
            .plan_for(None)
            .unwrap();
        assert_eq!(texts(&plan), [k.as_str()]);
        // A blank KSEAL_ variable does not hide SOPS_'s.
        let blank = env_in(
            r.dir.path(),
            &[("KSEAL_AGE_RECIPIENTS", " "), ("SOPS_AGE_RECIPIENTS", &s)],
        );
        let plan = Planner::new(&RecipientFlags::default(), &blank)
            .unwrap()
            .plan_for(None)
            .unwrap();
        assert_eq!(texts(&plan), [s.as_str()]);
    }

    #[test]
    fn recipients_files_are_read_through_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (recipient(), recipient());
        let file = dir.path().join("recipients.txt");
        std::fs::write(&file, format!("# team\n{a}\n\n{b}\n")).unwrap();
        let files = [file, dir.path().join("missing.txt")];
        let env = env_in(dir.path(), &[]);
        let flags = RecipientFlags {
            recipients_files: &files[..1],
            ..Default::default()
        };
        let plan = Planner::new(&flags, &env).unwrap().plan_for(None).unwrap();
        assert_eq!(texts(&plan), [a.as_str(), b.as_str()]);
        let flags = RecipientFlags {
            recipients_files: &files,
            ..Default::default()
        };
        let e = Planner::new(&flags, &env).err().unwrap();
        assert_eq!(e.kind, Kind::Input);
        assert!(
            e.message.contains("cannot read recipients file"),
            "{}",
            e.message
        );
    }

    #[test]
    fn no_recipient_and_no_config_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let planner = Planner::new(&RecipientFlags::default(), &env_in(dir.path(), &[])).unwrap();
        assert!(!planner.has_config());
        let e = planner.plan_for(None).err().unwrap();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (Kind::Config, "no recipient to encrypt to")
        );
        // The variable names a config file explicitly, read through the environment.
        let named = dir.path().join("elsewhere.yaml");
        let env = env_in(dir.path(), &[("SOPS_CONFIG", named.to_str().unwrap())]);
        let e = Planner::from_config(None, &env).err().unwrap();
        assert_eq!(e.kind, Kind::Config);
        assert!(e.message.starts_with("cannot read "), "{}", e.message);
    }
}
