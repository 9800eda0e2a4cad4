//! `kseal create generic|tls|docker-registry`: builds the Secret in memory exactly as
//! `kubectl create secret ... --dry-run=client -o yaml` prints it, and seals it with a fresh
//! data key, so the plaintext never touches the disk.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use regex::Regex;
use zeroize::Zeroizing;

use kseal::error::{Error, Kind, Result};

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
        insertion_sort(&mut order, |a, b| {
            go_yaml_key_less(&spec.data[*a].0, &spec.data[*b].0)
        });
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
    v2_scalar(s, 4, 4, allow_breaks).map_err(|_| {
        Error::new(
            Kind::Internal,
            "a Secret key or value has no YAML rendering",
        )
    })
}

fn named(what: &str, s: &str, col: usize, indent: usize) -> Result<String> {
    v2_scalar(s, col, indent, true).map_err(|_| {
        Error::new(
            Kind::Usage,
            format!("the {what} has line breaks or control characters, which Kubernetes refuses"),
        )
    })
}

/// Go's `sort.Sort` on up to 12 elements (an insertion sort); also safe with a comparison
/// that is not a strict order, which go-yaml's key order is not always.
fn insertion_sort<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// go-yaml v2's map key order (`keyList.Less`): letters by code point and after other
/// characters, runs of digits by their number.
fn go_yaml_key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let digit = |c: char| c.is_ascii_digit();
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && digit(ar[j - 1]) {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && digit(ar[ai]) {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && digit(br[bi]) {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// The emitter's line width: plain and quoted scalars fold at a space past this column.
const BEST_WIDTH: usize = 80;

/// A string scalar as go-yaml v2 (kubectl's printer) writes it at column `col`, continuation
/// lines indented by `indent`: plain when it reads back as the same string, else
/// single-quoted, double-quoted when it would read as another type. `Err` for text that needs
/// escapes or a block (line breaks, control characters), which no Secret name or key holds.
fn v2_scalar(s: &str, col: usize, indent: usize, allow_breaks: bool) -> Result<String, ()> {
    if s.chars()
        .any(|c| !v2_printable(c) || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err(());
    }
    let mut out = String::with_capacity(s.len() + 2);
    let mut column = col;
    let chars: Vec<char> = s.chars().collect();
    let last = chars.len().saturating_sub(1);
    let mut spaces = false;
    let quote = if !v2_is_str(s) {
        Some('"')
    } else if !v2_block_plain_allowed(s) {
        Some('\'')
    } else {
        None
    };
    if let Some(q) = quote {
        out.push(q);
        column += 1;
    }
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let next_space = chars.get(i + 1) == Some(&' ');
            let inside = quote.is_none() || (i != 0 && i != last);
            if allow_breaks && !spaces && column > BEST_WIDTH && inside && !next_space {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                column = indent;
            } else {
                out.push(' ');
                column += 1;
            }
            spaces = true;
            continue;
        }
        match (quote, c) {
            (Some('\''), '\'') => {
                out.push_str("''");
                column += 2;
            }
            (Some('"'), '"' | '\\') => {
                out.push('\\');
                out.push(c);
                column += 2;
            }
            _ => {
                out.push(c);
                column += 1;
            }
        }
        spaces = false;
    }
    if let Some(q) = quote {
        out.push(q);
    }
    Ok(out)
}

/// libyaml's `is_printable` (tab, line breaks and characters above U+FFFF are not).
fn v2_printable(c: char) -> bool {
    matches!(c as u32, 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{feff}'
}

/// Whether the emitter allows `s` as a plain scalar in block context (`yaml_emitter_analyze_scalar`).
fn v2_block_plain_allowed(s: &str) -> bool {
    let b: Vec<char> = s.chars().collect();
    if b.is_empty() {
        return true;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if b[0] == ' ' || b[b.len() - 1] == ' ' {
        return false;
    }
    let blank = |i: usize| i >= b.len() || b[i] == ' ' || b[i] == '\t';
    let mut preceded_by_ws = true;
    for i in 0..b.len() {
        let followed_by_ws = blank(i + 1);
        if i == 0 {
            match b[0] {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => return false,
                '?' | ':' | '-' if followed_by_ws => return false,
                _ => {}
            }
        } else {
            match b[i] {
                ':' if followed_by_ws => return false,
                '#' if preceded_by_ws => return false,
                _ => {}
            }
        }
        preceded_by_ws = b[i] == ' ' || b[i] == '\t';
    }
    true
}

/// Whether go-yaml v2 reads the plain text `s` back as a string (`resolve` gives `!!str` and
/// it is not a YAML 1.1 base 60 float).
fn v2_is_str(s: &str) -> bool {
    const SPECIAL: [&str; 39] = [
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
        "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    if base60_float(s) {
        return false;
    }
    let hint = match s.as_bytes().first() {
        None => return false,
        Some(b'+' | b'-') => 'S',
        Some(b'0'..=b'9') => 'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => 'M',
        Some(b'.') => '.',
        Some(_) => return true,
    };
    if SPECIAL.contains(&s) {
        return false;
    }
    match hint {
        '.' => !(go_float_syntax(s) && underscores_ok(s)),
        'D' | 'S' => {
            if go_timestamp(s) {
                return false;
            }
            let plain: String = s.chars().filter(|c| *c != '_').collect();
            if go_parse_int(&plain, true).is_some() || go_parse_int(&plain, false).is_some() {
                return false;
            }
            if yaml_float(&plain) {
                return false;
            }
            if let Some(rest) = plain.strip_prefix("0b") {
                return go_parse_radix(rest, 2, true).is_none();
            }
            if let Some(rest) = plain.strip_prefix("-0b") {
                return go_parse_radix(rest, 2, true).is_none();
            }
            true
        }
        _ => true,
    }
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid regex"))
}

fn base60_float(s: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    matches!(s.as_bytes().first(), Some(b'+' | b'-' | b'0'..=b'9'))
        && s.contains(':')
        && regex(&RE, r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$").is_match(s)
}

/// go-yaml's `yamlStyleFloat` check followed by a `ParseFloat` that must not overflow.
fn yaml_float(plain: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    regex(
        &RE,
        r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$",
    )
    .is_match(plain)
        && plain.parse::<f64>().is_ok_and(f64::is_finite)
}

/// `strconv.ParseFloat` for text starting with `.`: digits (underscores between them), an
/// optional exponent, and a finite result.
fn go_float_syntax(s: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    let plain: String = s.chars().filter(|c| *c != '_').collect();
    regex(&RE, r"^\.[0-9]+([eE][-+]?[0-9]+)?$").is_match(&plain)
        && plain.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Go's `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut saw = b'^';
    let body = match b.first() {
        Some(b'+' | b'-') => &b[1..],
        _ => b,
    };
    let mut hex = false;
    if body.len() >= 2 && body[0] == b'0' && matches!(body[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = body[1] | 0x20 == b'x';
    }
    while i < body.len() {
        let c = body[i];
        if c.is_ascii_digit() || hex && (c | 0x20).is_ascii_hexdigit() {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// `strconv.ParseInt(s, 0, 64)` (`signed`) or `ParseUint(s, 0, 64)` succeeding.
fn go_parse_int(s: &str, signed: bool) -> Option<()> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') if signed => (false, &s[1..]),
        Some(b'-') if signed => (true, &s[1..]),
        _ => (false, s),
    };
    let b = body.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (radix, digits) = if b[0] == b'0' {
        match b.get(1).map(|c| c | 0x20) {
            Some(b'b') if b.len() >= 3 => (2, &body[2..]),
            Some(b'o') if b.len() >= 3 => (8, &body[2..]),
            Some(b'x') if b.len() >= 3 => (16, &body[2..]),
            _ => (8, &body[1..]),
        }
    } else {
        (10, body)
    };
    let n = if digits.is_empty() {
        0
    } else {
        u64_digits(digits, radix)?
    };
    if signed {
        let limit = if neg { 1u64 << 63 } else { (1u64 << 63) - 1 };
        (n <= limit).then_some(())
    } else {
        Some(())
    }
}

/// `strconv.ParseInt(s, radix, 64)` succeeding (a sign allowed, no prefix).
fn go_parse_radix(s: &str, radix: u32, signed: bool) -> Option<()> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') if signed => (false, &s[1..]),
        Some(b'-') if signed => (true, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let n = u64_digits(body, radix)?;
    let limit = if neg { 1u64 << 63 } else { (1u64 << 63) - 1 };
    (n <= limit).then_some(())
}

fn u64_digits(digits: &str, radix: u32) -> Option<u64> {
    let mut n: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix)?;
        n = n.checked_mul(radix as u64)?.checked_add(d as u64)?;
    }
    Some(n)
}

/// go-yaml v2's `parseTimestamp`: Go's `time.Parse` with `2006-1-2T15:4:5.999999999Z07:00`
/// (or a `t`), `2006-1-2 15:4:5.999999999` or `2006-1-2`.
fn go_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let year: i32 = s[..4].parse().unwrap_or(0);
    let mut rest = &b[5..];
    let Some(month) = getnum(&mut rest) else {
        return false;
    };
    if rest.first() != Some(&b'-') {
        return false;
    }
    rest = &rest[1..];
    let Some(day) = getnum(&mut rest) else {
        return false;
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in(month, year) {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    let zone = match rest[0] {
        b'T' | b't' => true,
        b' ' => false,
        _ => return false,
    };
    rest = &rest[1..];
    let Some(hour) = getnum(&mut rest) else {
        return false;
    };
    if rest.first() != Some(&b':') {
        return false;
    }
    rest = &rest[1..];
    let Some(min) = getnum(&mut rest) else {
        return false;
    };
    if rest.first() != Some(&b':') {
        return false;
    }
    rest = &rest[1..];
    let Some(sec) = getnum(&mut rest) else {
        return false;
    };
    if hour >= 24 || min >= 60 || sec >= 60 {
        return false;
    }
    if rest.len() >= 2 && matches!(rest[0], b'.' | b',') && rest[1].is_ascii_digit() {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        rest = &rest[1 + n..];
    }
    if !zone {
        return rest.is_empty();
    }
    match rest {
        [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
                && (h1 - b'0') * 10 + (h2 - b'0') <= 24
                && (m1 - b'0') * 10 + (m2 - b'0') <= 60
        }
        _ => false,
    }
}

/// Go's `getnum(s, false)`: one or two digits.
fn getnum(rest: &mut &[u8]) -> Option<u32> {
    let b = *rest;
    if !b.first()?.is_ascii_digit() {
        return None;
    }
    if b.get(1).is_some_and(u8::is_ascii_digit) {
        *rest = &b[2..];
        Some(((b[0] - b'0') * 10 + (b[1] - b'0')) as u32)
    } else {
        *rest = &b[1..];
        Some((b[0] - b'0') as u32)
    }
}

fn days_in(month: u32, year: i32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_yaml_quoting() {
        for (s, want) in [
            ("abc", "abc"),
            ("true", "\"true\""),
            ("1", "\"1\""),
            ("-", "'-'"),
            ("1.5", "\"1.5\""),
            (".inf", "\".inf\""),
            ("y", "\"y\""),
            ("0o17", "\"0o17\""),
            ("1e3", "\"1e3\""),
            ("1e999", "1e999"),
            ("-a", "-a"),
            ("a.", "a."),
            ("0x1F", "\"0x1F\""),
            ("1_0", "\"1_0\""),
            ("09", "\"09\""),
            ("2001-12-14", "\"2001-12-14\""),
            ("2001-02-30", "2001-02-30"),
            ("0.1.2", "0.1.2"),
            ("x: y", "'x: y'"),
            ("#x", "'#x'"),
            ("a'b", "a'b"),
            ("'q'", "'''q'''"),
            (" lead", "' lead'"),
            (".5_0", "\".5_0\""),
            ("._5", "._5"),
            ("", "\"\""),
        ] {
            assert_eq!(v2_scalar(s, 2, 2, false).unwrap(), want, "{s}");
        }
        assert!(v2_scalar("a\nb", 2, 2, true).is_err());
        assert!(v2_scalar("a\tb", 2, 2, true).is_err());
    }

    #[test]
    fn long_plain_text_folds_like_kubectl() {
        let name = "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p q r";
        assert_eq!(
            v2_scalar(name, 8, 4, true).unwrap(),
            "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k\n    l m n o p q r"
        );
    }

    /// kubectl's order (this set is consistent: with keys such as a1b, a9 and a10 together
    /// go-yaml's comparison has cycles and kubectl's own output changes from run to run).
    #[test]
    fn key_order_is_go_yamls() {
        let mut keys = vec![
            "a10", "a9", "a_1", "a-1", "a.1", "A", "a", "1", "10", "9", "_", "-x", "b0", "a01",
            "a1", "a001", "Z", "a1_", "x9y", "x10y", "09", "9a", "_a", ".a", "1.5", "1.10", "aB",
            "ab", "a0", "a00", "z-9", "z-10", "zz",
        ];
        insertion_sort(&mut keys, |a, b| go_yaml_key_less(a, b));
        assert_eq!(
            keys.join(" "),
            "-x .a _ _a 1 1.5 1.10 9 9a 09 10 A Z a a-1 a.1 a_1 a0 a00 a1 a1_ a01 a001 a9 a10 aB ab b0 x9y x10y z-9 z-10 zz"
        );
    }

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
