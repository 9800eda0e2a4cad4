//! `kseal create generic|tls|docker-registry`: builds the Secret in memory exactly as
//! `kubectl create secret ... --dry-run=client -o yaml` prints it, and seals it with a fresh
//! data key, so the plaintext never touches the disk.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use kseal::error::{Error, Kind, Result};
use kseal::yaml::goyaml_v2;

use super::encrypt::seal_new;
use super::read_bytes;
use crate::cli::{CreateCommand, CreateCommon, CreateDockerArgs, CreateGenericArgs, CreateTlsArgs};
use crate::fsio;
use kseal::ops::set::secret_key_problem;

pub fn run(c: &CreateCommand) -> Result<()> {
    let common = match c {
        CreateCommand::Generic(a) => &a.common,
        CreateCommand::Tls(a) => &a.common,
        CreateCommand::DockerRegistry(a) => &a.common,
    };
    check_output(common)?;
    let target = common
        .filename_override
        .as_deref()
        .or(common.output.as_deref());
    let r = &common.recipients;
    let planner = super::planner(r)?;
    // Plan before reading any input, so that a missing recipient fails first, unless a
    // `.sops.yaml` rule depends on the Secret's namespace.
    let early = if planner.needs_namespaces() {
        None
    } else {
        Some(planner.plan_for(target)?)
    };
    let secret = match c {
        CreateCommand::Generic(a) => generic(a)?,
        CreateCommand::Tls(a) => tls(a)?,
        CreateCommand::DockerRegistry(a) => docker_registry(a)?,
    };
    let text = render(&common.name, common.namespace.as_deref(), &secret)?;
    let plan = match early {
        Some(p) => p,
        None => planner.plan_for_text(target, &text)?,
    };
    let output = common.output.as_deref();
    let shown = output.map_or_else(|| "<stdout>".to_string(), |p| p.display().to_string());
    let out = seal_new(&shown, &text, &plan, false)?;
    match output {
        Some(o) if common.force => fsio::write_atomic(o, out.as_bytes(), 0o644),
        // Checked again at the rename, under fsio's lock: a file that appeared meanwhile
        // is not replaced either.
        Some(o) => {
            match fsio::replace_if_unchanged(o, fsio::Expect::Absent, out.as_bytes(), 0o644)? {
                true => Ok(()),
                false => Err(exists(o)),
            }
        }
        None => fsio::write_stdout(out.as_bytes()),
    }
}

/// `-o` names a file that exists: replacing it would drop a Secret without a word.
fn exists(path: &Path) -> Error {
    Error::new(
        Kind::Refused,
        format!(
            "{} already exists; kseal create does not replace it",
            path.display()
        ),
    )
    .with_hint("--force replaces it; `kseal set` or `kseal edit` change one key of it instead")
}

/// `kubectl create secret ... -o yaml` names an output format; here `-o` names a file. A
/// bare `yaml` or `json` is that habit, not a file name the user wants.
fn check_output(common: &CreateCommon) -> Result<()> {
    if let Some(o) = &common.output {
        if matches!(o.to_str(), Some("yaml" | "json" | "name" | "wide")) {
            return Err(Error::new(
                Kind::Usage,
                format!(
                    "-o {}: kseal create always writes YAML; -o takes a file name",
                    o.display()
                ),
            )
            .with_hint(
                "leave out -o to print to stdout, or give a file such as -o secret.enc.yaml",
            ));
        }
        // Before any input is read or a passphrase asked.
        if !common.force && std::fs::symlink_metadata(o).is_ok() {
            return Err(exists(o));
        }
    }
    Ok(())
}

/// A Secret's content before it is written out.
pub struct SecretSpec {
    pub secret_type: String,
    /// Keys and values in the order they were given (sorted when written).
    pub data: Vec<(String, Zeroizing<Vec<u8>>)>,
}

impl SecretSpec {
    fn new(secret_type: &str) -> Self {
        SecretSpec {
            secret_type: secret_type.to_string(),
            data: Vec::new(),
        }
    }

    /// Adds a key as kubectl does: the key must be valid and new.
    fn add(&mut self, key: &str, value: Zeroizing<Vec<u8>>) -> Result<()> {
        if let Some(why) = secret_key_problem(key) {
            let shown: String = key.chars().take(80).collect();
            return Err(Error::new(
                Kind::Usage,
                format!("`{shown}` is not a valid Secret key: {why}"),
            ));
        }
        if self.data.iter().any(|(k, _)| k == key) {
            return Err(Error::new(
                Kind::Usage,
                format!("cannot add key {key}: another key by that name already exists"),
            ));
        }
        self.data.push((key.to_string(), value));
        Ok(())
    }
}

fn generic(a: &CreateGenericArgs) -> Result<SecretSpec> {
    let files = split_slices(a.from_file.iter().map(String::as_str), "--from-file")?;
    let env_files = split_slices(
        a.from_env_file.iter().map(|p| p.to_str().unwrap_or("")),
        "--from-env-file",
    )?;
    // A path that is not UTF-8 cannot hold a comma; use it as given.
    let env_files: Vec<PathBuf> = if a.from_env_file.iter().any(|p| p.to_str().is_none()) {
        a.from_env_file.clone()
    } else {
        env_files.into_iter().map(PathBuf::from).collect()
    };
    if !env_files.is_empty() && (!files.is_empty() || !a.from_literal.is_empty()) {
        return Err(Error::new(
            Kind::Usage,
            "--from-env-file cannot be combined with --from-file or --from-literal",
        ));
    }
    let mut spec = SecretSpec::new(a.secret_type.as_deref().unwrap_or(""));
    for (n, lit) in a.from_literal.iter().enumerate() {
        // The text of a bad argument may be the secret itself: only its position is shown.
        let bad = || {
            Error::new(
                Kind::Usage,
                format!(
                    "--from-literal number {} is not KEY=VALUE (with a key before the first `=`)",
                    n + 1
                ),
            )
        };
        let (k, v) = lit.split_once('=').ok_or_else(bad)?;
        if k.is_empty() {
            return Err(bad());
        }
        spec.add(k, Zeroizing::new(v.as_bytes().to_vec()))?;
    }
    for source in &files {
        add_file_source(&mut spec, source)?;
    }
    for f in &env_files {
        add_env_file(&mut spec, f)?;
    }
    Ok(spec)
}

/// kubectl reads `--from-file` and `--from-env-file` as comma-separated lists (CSV fields,
/// `"` quotes a field holding a comma).
fn split_slices<'a>(args: impl Iterator<Item = &'a str>, flag: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for a in args {
        if a.is_empty() {
            continue;
        }
        out.extend(csv_fields(a).ok_or_else(|| {
            Error::new(
                Kind::Usage,
                format!("{flag} {a}: bad quoting in the comma-separated list"),
            )
        })?);
    }
    Ok(out)
}

/// One CSV record as Go's `encoding/csv` reads it (no lazy quotes); `None` on bad quoting.
fn csv_fields(s: &str) -> Option<Vec<String>> {
    if s.contains(['\n', '\r']) {
        return None;
    }
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return None,
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Some(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return None,
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Some(fields);
                    }
                    Some(',') => {
                        fields.push(field);
                        break;
                    }
                    Some('"') => return None,
                    Some(c) => field.push(c),
                }
            }
        }
    }
}

/// `[key=]path`: a file (its base name is the key) or a directory (each regular file, not
/// following symlinks, under its own name), as kubectl's `ParseFileSource` reads it.
fn add_file_source(spec: &mut SecretSpec, source: &str) -> Result<()> {
    let (key, path) = match source.matches('=').count() {
        0 => (None, source),
        1 if source.starts_with('=') => {
            return Err(Error::new(
                Kind::Usage,
                format!("--from-file {source}: the key name is missing before `=`"),
            ))
        }
        1 if source.ends_with('=') => {
            return Err(Error::new(
                Kind::Usage,
                format!("--from-file {source}: the file path is missing after `=`"),
            ))
        }
        1 => {
            let (k, p) = source.split_once('=').expect("one `=`");
            (Some(k), p)
        }
        _ => {
            return Err(Error::new(
                Kind::Usage,
                format!("--from-file {source}: key names or file paths cannot contain `=`"),
            ))
        }
    };
    let p = Path::new(path);
    let meta = std::fs::metadata(p).map_err(|e| {
        Error::new(
            Kind::Input,
            format!("cannot read {path}: {}", io_reason(&e)),
        )
    })?;
    if meta.is_dir() {
        if key.is_some() {
            return Err(Error::new(
                Kind::Usage,
                format!("--from-file {source}: cannot give a key name for a directory"),
            ));
        }
        let mut entries: Vec<(String, PathBuf)> = Vec::new();
        let rd = std::fs::read_dir(p).map_err(|e| {
            Error::new(
                Kind::Input,
                format!("cannot list {path}: {}", io_reason(&e)),
            )
        })?;
        for entry in rd {
            let entry = entry.map_err(|e| {
                Error::new(
                    Kind::Input,
                    format!("cannot list {path}: {}", io_reason(&e)),
                )
            })?;
            let regular = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
            if !regular {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            entries.push((name, entry.path()));
        }
        entries.sort();
        for (name, file) in entries {
            let value = read_bytes(&file)?;
            spec.add(&name, value)?;
        }
        return Ok(());
    }
    let key = match key {
        Some(k) => k.to_string(),
        None => base_name(path),
    };
    let value = read_bytes(p)?;
    spec.add(&key, value)
}

/// Go's `path.Base`: the last element, trailing slashes ignored.
fn base_name(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() {
            ".".into()
        } else {
            "/".into()
        };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// Go's `bufio.Scanner` refuses longer lines; kubectl then silently ignores the rest of the
/// file, kseal says so instead.
const ENV_LINE_MAX: usize = 64 * 1024 - 1;

/// An env file as kubectl reads it: `KEY=VALUE` lines taken literally (no quotes, no
/// `export`), leading whitespace and `#` comment lines and blank lines skipped, a BOM on the
/// first line dropped, `KEY` alone taking the value of that environment variable.
fn add_env_file(spec: &mut SecretSpec, path: &Path) -> Result<()> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::new(
            Kind::Input,
            format!("cannot read {name}: {}", io_reason(&e)),
        )
    })?;
    if meta.is_dir() {
        return Err(Error::new(
            Kind::Usage,
            format!("--from-env-file {name}: an env file cannot be a directory"),
        ));
    }
    let bytes = read_bytes(path)?;
    let mut rest: &[u8] = &bytes;
    let mut n = 0usize;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        n += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > ENV_LINE_MAX {
            return Err(Error::format(format!(
                "line {n} is longer than 64 KiB, which kubectl cannot read either"
            ))
            .in_file(&name));
        }
        let line = std::str::from_utf8(line)
            .map_err(|_| Error::format(format!("line {n} is not valid UTF-8")).in_file(&name))?;
        let line = if n == 1 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k, Zeroizing::new(v.as_bytes().to_vec())),
            None => (
                line,
                Zeroizing::new(super::env_var(line).unwrap_or_default().into_bytes()),
            ),
        };
        if !is_env_var_name(key) {
            // The line may be a stray secret rather than a key: only its number is shown.
            return Err(Error::format(format!(
                "line {n} does not start with a valid variable name (letters, digits, '_', '-', '.', not starting with a digit) before `=`"
            ))
            .in_file(&name));
        }
        spec.add(key, value).map_err(|e| e.in_file(&name))?;
    }
    Ok(())
}

/// Kubernetes' `IsEnvVarName`.
fn is_env_var_name(k: &str) -> bool {
    let b = k.as_bytes();
    !b.is_empty()
        && !b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && k != "."
        && k != ".."
        && !k.starts_with("..")
}

fn tls(a: &CreateTlsArgs) -> Result<SecretSpec> {
    let cert = read_bytes(&a.cert)?;
    let key = read_bytes(&a.key)?;
    // kubectl checks the pair with Go's tls.X509KeyPair: the blocks must be a certificate
    // and a private key, and the key must be the certificate's.
    kseal::tls::check_pair(&cert, &key).map_err(|why| {
        Error::format(format!(
            "--cert {} --key {}: {why}",
            a.cert.display(),
            a.key.display()
        ))
    })?;
    let mut spec = SecretSpec::new("kubernetes.io/tls");
    spec.add("tls.crt", cert)?;
    spec.add("tls.key", key)?;
    Ok(spec)
}

fn docker_registry(a: &CreateDockerArgs) -> Result<SecretSpec> {
    let server = a.server.as_deref().unwrap_or("https://index.docker.io/v1/");
    if a.username.is_empty() || a.password.is_empty() || server.is_empty() {
        return Err(Error::new(
            Kind::Usage,
            "--docker-username, --docker-password and --docker-server must not be empty",
        ));
    }
    let auth = Zeroizing::new(STANDARD.encode(format!("{}:{}", a.username, a.password)));
    // The field order and the escaping of Go's encoding/json, as kubectl writes it.
    let mut json = Zeroizing::new(String::new());
    json.push_str("{\"auths\":{");
    json.push_str(&kseal::yaml::json::string(server));
    json.push_str(":{\"username\":");
    json.push_str(&kseal::yaml::json::string(&a.username));
    json.push_str(",\"password\":");
    json.push_str(&kseal::yaml::json::string(&a.password));
    if let Some(email) = a.email.as_deref().filter(|e| !e.is_empty()) {
        json.push_str(",\"email\":");
        json.push_str(&kseal::yaml::json::string(email));
    }
    json.push_str(",\"auth\":");
    json.push_str(&kseal::yaml::json::string(&auth));
    json.push_str("}}}");
    let mut spec = SecretSpec::new("kubernetes.io/dockerconfigjson");
    spec.add(
        ".dockerconfigjson",
        Zeroizing::new(json.as_bytes().to_vec()),
    )?;
    Ok(spec)
}

/// The Secret as `kubectl create secret ... --dry-run=client -o yaml` prints it: keys in
/// go-yaml v2's order, `creationTimestamp: null`, no `data` or `type` when empty.
pub fn render(name: &str, namespace: Option<&str>, spec: &SecretSpec) -> Result<Zeroizing<String>> {
    if name.is_empty() {
        return Err(Error::new(
            Kind::Usage,
            "the Secret's name must not be empty",
        ));
    }
    let mut out = Zeroizing::new(String::from("apiVersion: v1\n"));
    if !spec.data.is_empty() {
        out.push_str("data:\n");
        let mut order: Vec<usize> = (0..spec.data.len()).collect();
        goyaml_v2::sort_keys(&mut order, |i| &spec.data[*i].0);
        for i in order {
            let (k, v) = &spec.data[i];
            let value = Zeroizing::new(STANDARD.encode(&**v));
            // go-yaml writes keys longer than 128 bytes as explicit `? key` entries. Keys
            // were checked, so they always have a rendering.
            if k.len() > 128 {
                out.push_str(&format!("  ? {}\n  :", key_scalar(k, true)?));
            } else {
                out.push_str(&format!("  {}:", key_scalar(k, false)?));
            }
            out.push(' ');
            out.push_str(&key_scalar(&value, true)?);
            out.push('\n');
        }
    }
    out.push_str("kind: Secret\nmetadata:\n  creationTimestamp: null\n");
    out.push_str(&format!("  name: {}\n", named("name", name, 8, 4)?));
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        out.push_str(&format!(
            "  namespace: {}\n",
            named("namespace", ns, 13, 4)?
        ));
    }
    if !spec.secret_type.is_empty() {
        out.push_str(&format!(
            "type: {}\n",
            named("type", &spec.secret_type, 6, 2)?
        ));
    }
    Ok(out)
}

fn key_scalar(s: &str, allow_breaks: bool) -> Result<String> {
    goyaml_v2::scalar(s, 4, 4, allow_breaks).ok_or_else(|| {
        Error::new(
            Kind::Internal,
            "a Secret key or value has no YAML rendering",
        )
    })
}

fn named(what: &str, s: &str, col: usize, indent: usize) -> Result<String> {
    goyaml_v2::scalar(s, col, indent, true).ok_or_else(|| {
        Error::new(
            Kind::Usage,
            format!("the {what} has line breaks or control characters, which Kubernetes refuses"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_json_escapes() {
        assert_eq!(
            kseal::yaml::json::string("p@ss\"<>&\u{8}\u{c}\t\u{1}é\u{2028}\\"),
            "\"p@ss\\\"\\u003c\\u003e\\u0026\\b\\f\\t\\u0001é\\u2028\\\\\""
        );
    }

    #[test]
    fn csv_lists() {
        assert_eq!(csv_fields("a,b").unwrap(), vec!["a", "b"]);
        assert_eq!(csv_fields("\"a,b\",c").unwrap(), vec!["a,b", "c"]);
        assert!(csv_fields("a\"b").is_none());
        assert_eq!(base_name("dir/a.txt/"), "a.txt");
    }
}
