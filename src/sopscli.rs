//! The sops command line that editor plugins run (`sops -d FILE`, `sops --encrypt /dev/stdin`,
//! `EDITOR=script sops FILE`, `sops --version`...): when kseal answers it (called through a
//! link named `sops`, or with a first argument only sops has), and what it asks for. Parsed by
//! hand, without clap, so that `kseal --version` and every kseal command start as fast as before.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use kseal::error::{Error, Kind, Result};

use crate::cli::{
    Command, ConfigArgs, DocSelector, FilenameOverrideArgs, IdentityArgs, RotateArgs, SetArgs,
    UnsetArgs, UpdatekeysArgs,
};

/// The sops version kseal answers for (plugins parse `--version` and want >= 3.9).
pub const SOPS_VERSION: &str = "3.11.0";

/// What the sops command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Decrypt,
    Encrypt,
    Edit,
    Set,
    Unset,
    Updatekeys,
    Rotate,
    Filestatus,
    Version,
    Help,
}

/// One sops command line, as far as kseal acts on it.
#[derive(Debug, Default)]
pub struct SopsArgs {
    pub verb: Option<Verb>,
    /// The positional arguments: the file, then `set`'s path and value, `unset`'s path.
    pub positional: Vec<String>,
    pub in_place: bool,
    pub input_type: Option<String>,
    pub output_type: Option<String>,
    pub filename_override: Option<PathBuf>,
    pub extract: Option<String>,
    pub ignore_mac: bool,
    pub age: Vec<String>,
    pub config: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub verbose: bool,
    pub yes: bool,
    pub idempotent: bool,
    pub value_stdin: bool,
    pub value_file: Option<PathBuf>,
    /// The crypt-rule flags (`--encrypted-regex` and family) with their values.
    pub crypt_rule: Vec<(String, String)>,
}

/// Flags kseal acts on or accepts; `true`: the flag takes a value.
const KNOWN: &[(&str, bool)] = &[
    ("-d", false),
    ("--decrypt", false),
    ("-e", false),
    ("--encrypt", false),
    ("-r", false),
    ("--rotate", false),
    ("-i", false),
    ("--in-place", false),
    ("--input-type", true),
    ("--output-type", true),
    ("--filename-override", true),
    ("--extract", true),
    ("--ignore-mac", false),
    ("-a", true),
    ("--age", true),
    ("--config", true),
    ("--output", true),
    ("--verbose", false),
    ("--disable-version-check", false),
    ("--check-for-updates", false),
    ("--aws-profile", true),
    ("--mac-only-encrypted", false),
    ("--indent", true),
    ("-y", false),
    ("--yes", false),
    ("--idempotent", false),
    ("--value-stdin", false),
    ("--value-file", true),
    ("--enable-local-keyservice", false),
    ("--encrypted-regex", true),
    ("--unencrypted-regex", true),
    ("--encrypted-suffix", true),
    ("--unencrypted-suffix", true),
    ("--encrypted-comment-regex", true),
    ("--unencrypted-comment-regex", true),
    ("-v", false),
    ("--version", false),
    ("-h", false),
    ("--help", false),
];

/// Key sources kseal does not have: accepted only when empty (plugins pass `--pgp ''`).
const OTHER_KEY_SOURCES: &[&str] = &[
    "-k",
    "--kms",
    "--gcp-kms",
    "--azure-kv",
    "--hc-vault-transit",
    "--hckms",
    "-p",
    "--pgp",
    "--add-kms",
    "--rm-kms",
    "--add-gcp-kms",
    "--rm-gcp-kms",
    "--add-azure-kv",
    "--rm-azure-kv",
    "--add-hc-vault-transit",
    "--rm-hc-vault-transit",
    "--add-pgp",
    "--rm-pgp",
    "--add-hckms",
    "--rm-hckms",
    "--encryption-context",
    "--keyservice",
    "--decryption-order",
];

/// sops features kseal refuses, with why (value-taking flags).
const REFUSED: &[(&str, &str)] = &[
    (
        "--shamir-secret-sharing-threshold",
        "new key groups are made by .sops.yaml rules (key_groups)",
    ),
    (
        "--set",
        "use `kseal set FILE KEY` (or the sops form `set FILE PATH VALUE`)",
    ),
    ("--add-age", "use `kseal rotate --add-age`"),
    ("--rm-age", "use `kseal rotate --rm-age`"),
];

/// sops subcommands and the verb each maps to.
const SUBCOMMANDS: &[(&str, Verb)] = &[
    ("decrypt", Verb::Decrypt),
    ("encrypt", Verb::Encrypt),
    ("edit", Verb::Edit),
    ("set", Verb::Set),
    ("unset", Verb::Unset),
    ("updatekeys", Verb::Updatekeys),
    ("rotate", Verb::Rotate),
    ("filestatus", Verb::Filestatus),
];

/// Whether this process answers the sops command line: called through a link named `sops`,
/// or as kseal with a first argument only sops has (a sops flag such as `-d` or
/// `--input-type`, `filestatus`, or an existing file that is no kseal subcommand). Looks at
/// the first argument only, so kseal's own command lines cost nothing more.
pub fn wanted(
    argv0: &std::ffi::OsStr,
    first: Option<&OsString>,
    kseal_verb: &dyn Fn(&str) -> bool,
) -> bool {
    if Path::new(argv0).file_name().is_some_and(|n| n == "sops") {
        return true;
    }
    let Some(first) = first.and_then(|f| f.to_str()) else {
        return false;
    };
    if first.starts_with('-') {
        let flag = first.split('=').next().unwrap_or(first);
        // kseal's own --version/--help and global flags stay kseal's.
        if matches!(flag, "-v" | "--version" | "-h" | "--help" | "-V") {
            return false;
        }
        return KNOWN.iter().any(|(f, _)| *f == flag)
            || OTHER_KEY_SOURCES.contains(&flag)
            || REFUSED.iter().any(|(f, _)| *f == flag);
    }
    if first == "filestatus" {
        return true;
    }
    // A stat first: clap's command tree is built only when such a file exists.
    Path::new(first).is_file() && !kseal_verb(first)
}

/// Parses the sops command line (the arguments after the program name).
pub fn parse(args: &[OsString]) -> Result<SopsArgs> {
    let mut out = SopsArgs::default();
    let mut it = args.iter();
    let mut only_positional = false;
    while let Some(arg) = it.next() {
        let arg = arg
            .to_str()
            .ok_or_else(|| Error::new(Kind::Usage, "an argument is not valid UTF-8 text"))?;
        if only_positional || !arg.starts_with('-') || arg == "-" {
            positional(&mut out, arg)?;
            continue;
        }
        if arg == "--" {
            only_positional = true;
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg, None),
        };
        let takes_value = value_flag(flag)?;
        let value = if takes_value {
            match inline {
                Some(v) => Some(v),
                None => Some(
                    it.next()
                        .and_then(|v| v.to_str())
                        .ok_or_else(|| {
                            Error::new(Kind::Usage, format!("sops flag {flag} needs a value"))
                        })?
                        .to_string(),
                ),
            }
        } else {
            None
        };
        apply(&mut out, flag, value)?;
    }
    Ok(out)
}

/// Whether a flag takes a value; an unknown flag is a usage error, naming the flag.
fn value_flag(flag: &str) -> Result<bool> {
    if let Some((_, v)) = KNOWN.iter().find(|(f, _)| *f == flag) {
        return Ok(*v);
    }
    if OTHER_KEY_SOURCES.contains(&flag) || REFUSED.iter().any(|(f, _)| *f == flag) {
        return Ok(true);
    }
    Err(Error::new(
        Kind::Usage,
        format!("sops flag {flag} is not one kseal knows"),
    )
    .with_hint("kseal answers the sops command lines of editor plugins (editors.md in kseal's documentation)"))
}

/// sops subcommands kseal does not answer, with where to go instead.
const OTHER_SUBCOMMANDS: &[(&str, &str)] = &[
    (
        "exec-env",
        "use `kseal exec-env FILE -- CMD` (the Secret's keys as variables, as envFrom)",
    ),
    (
        "exec-file",
        "use `kseal exec-file FILE -- CMD` (the Secret's keys as files, as a volume)",
    ),
    ("publish", "kseal has no publish"),
    ("keyservice", "kseal has no key service: age keys only"),
    (
        "groups",
        "key groups come from .sops.yaml rules (key_groups)",
    ),
    ("completion", "use `kseal completions SHELL`"),
];

fn positional(out: &mut SopsArgs, arg: &str) -> Result<()> {
    if out.verb.is_none() && out.positional.is_empty() {
        if let Some((_, verb)) = SUBCOMMANDS.iter().find(|(n, _)| *n == arg) {
            out.verb = Some(*verb);
            return Ok(());
        }
        if let Some((name, instead)) = OTHER_SUBCOMMANDS.iter().find(|(n, _)| *n == arg) {
            return Err(unsupported(format!(
                "sops {name} is not supported: {instead}"
            )));
        }
    }
    out.positional.push(arg.to_string());
    Ok(())
}

fn set_verb(out: &mut SopsArgs, verb: Verb) {
    // `sops decrypt -d FILE` and the like: the subcommand already says it.
    if out.verb.is_none() {
        out.verb = Some(verb);
    }
}

fn apply(out: &mut SopsArgs, flag: &str, value: Option<String>) -> Result<()> {
    let v = value.unwrap_or_default();
    match flag {
        "-d" | "--decrypt" => set_verb(out, Verb::Decrypt),
        "-e" | "--encrypt" => set_verb(out, Verb::Encrypt),
        "-r" | "--rotate" => set_verb(out, Verb::Rotate),
        "-v" | "--version" => out.verb = Some(Verb::Version),
        "-h" | "--help" => out.verb = Some(Verb::Help),
        "-i" | "--in-place" => out.in_place = true,
        "--input-type" => out.input_type = Some(file_type(&v)?),
        "--output-type" => out.output_type = Some(file_type(&v)?),
        "--filename-override" => out.filename_override = Some(PathBuf::from(v)),
        "--extract" => out.extract = Some(v),
        "--ignore-mac" => out.ignore_mac = true,
        "-a" | "--age" => out.age.push(v),
        "--config" => out.config = Some(PathBuf::from(v)),
        "--output" => out.output = Some(PathBuf::from(v)),
        "--verbose" => out.verbose = true,
        "-y" | "--yes" => out.yes = true,
        "--idempotent" => out.idempotent = true,
        "--value-stdin" => out.value_stdin = true,
        "--value-file" => out.value_file = Some(PathBuf::from(v)),
        f if f.contains("crypted-") => out.crypt_rule.push((f.to_string(), v)),
        f if OTHER_KEY_SOURCES.contains(&f) => {
            if !v.trim().is_empty() {
                return Err(unsupported(format!(
                    "sops flag {f}: kseal encrypts for age recipients only (no pgp, KMS or Vault keys)"
                )));
            }
        }
        f => {
            if let Some((_, why)) = REFUSED.iter().find(|(r, _)| *r == f) {
                return Err(unsupported(format!(
                    "sops flag {f} is not supported: {why}"
                )));
            }
            // Accepted and ignored: they configure sops itself (--disable-version-check,
            // --aws-profile, --indent, --mac-only-encrypted...).
        }
    }
    Ok(())
}

/// `--input-type`/`--output-type`: kseal reads and writes YAML and JSON.
fn file_type(v: &str) -> Result<String> {
    match v {
        "yaml" | "json" => Ok(v.to_string()),
        other => Err(unsupported(format!(
            "sops file type {other:?} is not supported: kseal reads and writes Kubernetes manifests in YAML and JSON (no ini, dotenv or binary)"
        ))),
    }
}

fn unsupported(msg: String) -> Error {
    Error::new(Kind::Unsupported, msg)
}

/// The kseal command a sops subcommand maps to (`updatekeys`, `rotate -i`, `set`, `unset`);
/// `None`: the sops front-end answers it itself (`commands::sops`).
pub fn to_kseal(a: &SopsArgs) -> Option<Result<Command>> {
    let verb = a.verb?;
    if !matches!(
        verb,
        Verb::Updatekeys | Verb::Rotate | Verb::Set | Verb::Unset
    ) {
        return None;
    }
    Some(kseal_command(verb, a))
}

fn kseal_command(verb: Verb, a: &SopsArgs) -> Result<Command> {
    let files: Vec<PathBuf> = a.positional.iter().take(1).map(PathBuf::from).collect();
    let Some(file) = files.first().cloned() else {
        return Err(Error::new(Kind::Usage, "sops: no file given"));
    };
    let identity = IdentityArgs::default();
    Ok(match verb {
        Verb::Updatekeys => Command::Updatekeys(UpdatekeysArgs {
            files,
            dry_run: false,
            yes: a.yes,
            keep_data_key: false,
            config: ConfigArgs {
                file: a.config.clone(),
            },
            identity,
        }),
        Verb::Rotate if !a.in_place => {
            return Err(Error::new(
                Kind::Unsupported,
                "sops rotate without --in-place prints the file: kseal rotate writes it in place (add -i)",
            ))
        }
        Verb::Rotate => Command::Rotate(RotateArgs {
            files,
            add_age: Vec::new(),
            rm_age: Vec::new(),
            keep_unknown_recipients: false,
            config: ConfigArgs {
                file: a.config.clone(),
            },
            identity,
        }),
        Verb::Unset => {
            let (_, key) = secret_key(a.positional.get(1))?;
            Command::Unset(UnsetArgs {
                file,
                key,
                select: DocSelector::default(),
                idempotent: a.idempotent,
                filename_override: FilenameOverrideArgs::default(),
                identity,
            })
        }
        _ => set_command(file, a, identity)?,
    })
}

/// `sops set FILE '["data"]["key"]' '"value"'` (the value JSON; under `data`, base64 as
/// stored), or the value from `--value-stdin` / `--value-file`.
fn set_command(file: PathBuf, a: &SopsArgs, identity: IdentityArgs) -> Result<Command> {
    let (string, key) = secret_key(a.positional.get(1))?;
    let from_flag = a.value_stdin || a.value_file.is_some();
    let value =
        match (a.positional.get(2), from_flag) {
            (Some(v), false) => Some(stored_value(&json_string(v)?, string)?),
            (None, true) => None,
            _ => return Err(Error::new(
                Kind::Usage,
                "sops set takes FILE PATH VALUE, or FILE PATH with --value-stdin or --value-file",
            )),
        };
    Ok(Command::Set(SetArgs {
        file,
        key,
        select: DocSelector::default(),
        value,
        from_file: a.value_file.clone(),
        stdin: a.value_stdin,
        string,
        filename_override: FilenameOverrideArgs::default(),
        identity,
    }))
}

/// A sops path naming one key of a Secret: `["data"]["k"]` or `["stringData"]["k"]`;
/// `true` for stringData.
fn secret_key(path: Option<&String>) -> Result<(bool, String)> {
    use kseal::ops::extract::{parse_path, Step};
    let path = path.ok_or_else(|| Error::new(Kind::Usage, "sops: no path given"))?;
    match parse_path(path)?.as_slice() {
        [Step::Key(top), Step::Key(key)] if top == "data" || top == "stringData" => {
            Ok((top == "stringData", key.clone()))
        }
        _ => Err(Error::new(
            Kind::Unsupported,
            format!("sops path {path}: kseal sets and unsets keys of a Secret only, [\"data\"][\"KEY\"] or [\"stringData\"][\"KEY\"]"),
        )),
    }
}

/// The value bytes `kseal set` takes: a `data` value is stored base64, so it is decoded.
fn stored_value(v: &str, string: bool) -> Result<String> {
    use base64::Engine;
    if string {
        return Ok(v.to_string());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v)
        .map_err(|_| Error::new(Kind::Format, "a value under data must be base64"))?;
    String::from_utf8(bytes).map_err(|_| {
        Error::new(
            Kind::Unsupported,
            "a binary value: set it with `kseal set FILE KEY --from-file PATH`",
        )
    })
}

/// A JSON string literal's text (`"a\nb"` -> a, line break, b); other JSON values are refused:
/// Secret values are strings.
fn json_string(v: &str) -> Result<String> {
    let bad = || {
        Error::new(
            Kind::Usage,
            "the value must be a JSON string, in double quotes",
        )
    };
    let inner = v
        .trim()
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(bad)?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next().ok_or_else(bad)? {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(bad)?
            }
            c => c,
        });
    }
    Ok(out)
}

/// What `--version` prints through the `sops` link: sops's version first (plugins match the
/// first `N.N.N`), then kseal's.
pub fn version_text() -> String {
    format!(
        "sops {SOPS_VERSION} (kseal {})\n",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<SopsArgs> {
        let v: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse(&v)
    }

    #[test]
    fn flags_before_and_after_the_file() {
        let a = p(&[
            "--output-type",
            "yaml",
            "--input-type=yaml",
            "--decrypt",
            "f.yaml",
        ])
        .unwrap();
        assert_eq!(a.verb, Some(Verb::Decrypt));
        assert_eq!(a.positional, ["f.yaml"]);
        assert_eq!(a.output_type.as_deref(), Some("yaml"));
        let b = p(&["f.yaml", "-d", "--extract", "[\"data\"]"]).unwrap();
        assert_eq!(b.verb, Some(Verb::Decrypt));
        assert_eq!(b.extract.as_deref(), Some("[\"data\"]"));
    }

    #[test]
    fn subcommands_and_bare_files() {
        assert_eq!(p(&["edit", "f"]).unwrap().verb, Some(Verb::Edit));
        let bare = p(&["f"]).unwrap();
        assert_eq!((bare.verb, bare.positional.len()), (None, 1));
        let set = p(&["set", "f", "[\"data\"]", "\"x\""]).unwrap();
        assert_eq!(set.positional, ["f", "[\"data\"]", "\"x\""]);
    }

    #[test]
    fn refusals_are_unsupported_not_usage() {
        for args in [
            &["--pgp", "FPR", "-e", "f"][..],
            &["--input-type", "dotenv", "-d", "f"],
            &["--output-type", "binary", "-d", "f"],
            &["--kms", "arn:aws:kms:x", "-e", "f"],
        ] {
            assert_eq!(p(args).unwrap_err().kind, Kind::Unsupported, "{args:?}");
        }
        assert!(p(&["--pgp", "", "-e", "f"]).is_ok());
        assert_eq!(
            p(&["exec-env", "f", "env"]).unwrap_err().kind,
            Kind::Unsupported
        );
        assert!(p(&["--aws-profile", "dev", "--disable-version-check", "-d", "f"]).is_ok());
        assert_eq!(p(&["--frobnicate", "f"]).unwrap_err().kind, Kind::Usage);
    }

    #[test]
    fn wanted_only_for_sops_forms() {
        let kv = |s: &str| s == "decrypt" || s == "edit";
        let w = |a0: &str, first: Option<&str>| {
            let f = first.map(OsString::from);
            wanted(a0.as_ref(), f.as_ref(), &kv)
        };
        assert!(w("/usr/bin/sops", Some("--version")));
        assert!(!w("kseal", Some("--version")));
        assert!(!w("kseal", Some("decrypt")));
        assert!(w("kseal", Some("-d")));
        assert!(w("kseal", Some("--output-type")));
        assert!(w("kseal", Some("filestatus")));
        assert!(!w("kseal", None));
        assert!(w("kseal", Some("Cargo.toml")));
        assert!(!w("kseal", Some("no-such-file")));
    }

    #[test]
    fn set_maps_to_kseal_set() {
        let a = p(&["set", "f.yaml", r#"["data"]["k"]"#, r#""YWI=""#]).unwrap();
        let Some(Ok(Command::Set(s))) = to_kseal(&a) else {
            panic!("not a set")
        };
        assert_eq!(
            (s.key.as_str(), s.value.as_deref(), s.string),
            ("k", Some("ab"), false)
        );
        let a = p(&["set", "f.yaml", r#"["stringData"]["k"]"#, r#""a\"b\n""#]).unwrap();
        let Some(Ok(Command::Set(s))) = to_kseal(&a) else {
            panic!("not a set")
        };
        assert_eq!((s.value.as_deref(), s.string), (Some("a\"b\n"), true));
        let a = p(&["set", "f.yaml", r#"["metadata"]["name"]"#, r#""x""#]).unwrap();
        assert_eq!(to_kseal(&a).unwrap().unwrap_err().kind, Kind::Unsupported);
        let a = p(&["rotate", "f.yaml"]).unwrap();
        assert_eq!(to_kseal(&a).unwrap().unwrap_err().kind, Kind::Unsupported);
        assert!(to_kseal(&p(&["-d", "f.yaml"]).unwrap()).is_none());
    }

    #[test]
    fn version_names_sops_first() {
        assert!(version_text().starts_with("sops 3.11.0 (kseal "));
    }
}
