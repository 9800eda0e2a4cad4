//! The Secrets `kubectl create secret generic|tls|docker-registry` builds, from bytes the
//! caller has read: keys checked as the API server checks them, kubectl's readings of its
//! `--from-*` arguments (comma lists, `[key=]path`, env files), the TLS key-pair check and the
//! docker config JSON, and the text kubectl prints with `--dry-run=client -o yaml`. No file
//! I/O happens here; error texts name kubectl's flags because they describe those arguments.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use super::secret_key_problem;
use crate::error::{Error, Kind, Result};
use crate::yaml::{goyaml_v2, json};

/// A Secret's content before it is written out.
pub struct SecretSpec {
    pub secret_type: String,
    /// Keys and values in the order they were given (sorted when written).
    pub data: Vec<(String, Zeroizing<Vec<u8>>)>,
}

impl SecretSpec {
    pub fn new(secret_type: &str) -> Self {
        SecretSpec {
            secret_type: secret_type.to_string(),
            data: Vec::new(),
        }
    }

    /// Adds a key as kubectl does: the key must be valid and new.
    pub fn add(&mut self, key: &str, value: Zeroizing<Vec<u8>>) -> Result<()> {
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

    /// `--from-literal KEY=VALUE` arguments, in order.
    pub fn add_literals(&mut self, literals: &[String]) -> Result<()> {
        for (n, lit) in literals.iter().enumerate() {
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
            self.add(k, Zeroizing::new(v.as_bytes().to_vec()))?;
        }
        Ok(())
    }

    /// An env file as kubectl reads it: `KEY=VALUE` lines taken literally (no quotes, no
    /// first line dropped, `KEY` alone taking the value `env` gives that variable. `name`
    /// names the file in errors.
    pub fn add_env_file(
        &mut self,
        name: &str,
        bytes: &[u8],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<()> {
        let mut rest: &[u8] = bytes;
        let mut n = 0usize;
        while !rest.is_empty() {
            let (line, next) = match rest.iter().position(|b| *b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = next;
            n += 1;
            let Some((key, value)) = env_line(line, n, &env).map_err(|e| e.in_file(name))? else {
                continue;
            };
            self.add(key, value).map_err(|e| e.in_file(name))?;
        }
        Ok(())
    }

    /// The Secret as `kubectl create secret ... --dry-run=client -o yaml` prints it: keys in
    /// go-yaml v2's order, `creationTimestamp: null`, no `data` or `type` when empty.
    pub fn render(&self, name: &str, namespace: Option<&str>) -> Result<Zeroizing<String>> {
        if name.is_empty() {
            return Err(Error::new(
                Kind::Usage,
                "the Secret's name must not be empty",
            ));
        }
        let mut out = Zeroizing::new(String::from("apiVersion: v1\n"));
        if !self.data.is_empty() {
            out.push_str("data:\n");
            let mut order: Vec<usize> = (0..self.data.len()).collect();
            goyaml_v2::sort_keys(&mut order, |i| &self.data[*i].0);
            for i in order {
                let (k, v) = &self.data[i];
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
        if !self.secret_type.is_empty() {
            out.push_str(&format!(
                "type: {}\n",
                named("type", &self.secret_type, 6, 2)?
            ));
        }
        Ok(out)
    }
}

/// Go's `bufio.Scanner` refuses longer lines; kubectl then silently ignores the rest of the
/// file, kseal says so instead.
const ENV_LINE_MAX: usize = 64 * 1024 - 1;

/// A key and its value.
type Entry<'k> = (&'k str, Zeroizing<Vec<u8>>);

/// Line `n` of an env file: `None` for a blank or comment line, else its key and value.
fn env_line<'l>(
    line: &'l [u8],
    n: usize,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Entry<'l>>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > ENV_LINE_MAX {
        return Err(Error::format(format!(
            "line {n} is longer than 64 KiB, which kubectl cannot read either"
        )));
    }
    let line = std::str::from_utf8(line)
        .map_err(|_| Error::format(format!("line {n} is not valid UTF-8")))?;
    let line = if n == 1 {
        line.strip_prefix('\u{feff}').unwrap_or(line)
    } else {
        line
    };
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (key, value) = match line.split_once('=') {
        Some((k, v)) => (k, Zeroizing::new(v.as_bytes().to_vec())),
        None => (
            line,
            Zeroizing::new(env(line).unwrap_or_default().into_bytes()),
        ),
    };
    if !is_env_var_name(key) {
        // The line may be a stray secret rather than a key: only its number is shown.
        return Err(Error::format(format!(
            "line {n} does not start with a valid variable name (letters, digits, '_', '-', '.', not starting with a digit) before `=`"
        )));
    }
    Ok(Some((key, value)))
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

/// kubectl reads `--from-file` and `--from-env-file` as comma-separated lists (CSV fields,
/// `"` quotes a field holding a comma).
pub fn split_lists<'a>(args: impl Iterator<Item = &'a str>, flag: &str) -> Result<Vec<String>> {
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

/// `--from-file [key=]path` as kubectl's `ParseFileSource` reads it: the key given, if
/// any, and the path.
pub fn file_source(source: &str) -> Result<(Option<&str>, &str)> {
    let usage = |why: &str| Error::new(Kind::Usage, format!("--from-file {source}: {why}"));
    match source.matches('=').count() {
        0 => Ok((None, source)),
        1 if source.starts_with('=') => Err(usage("the key name is missing before `=`")),
        1 if source.ends_with('=') => Err(usage("the file path is missing after `=`")),
        1 => {
            let (k, p) = source.split_once('=').expect("one `=`");
            Ok((Some(k), p))
        }
        _ => Err(usage("key names or file paths cannot contain `=`")),
    }
}

/// Go's `path.Base`: the last element, trailing slashes ignored (a file's key when
/// `--from-file` gives none).
pub fn base_name(path: &str) -> String {
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

/// A `kubernetes.io/tls` Secret. kubectl checks the pair with Go's `tls.X509KeyPair`: the
/// blocks must be a certificate and a private key, and the key must be the certificate's.
/// `pair` names the two inputs in the error.
pub fn tls(cert: Zeroizing<Vec<u8>>, key: Zeroizing<Vec<u8>>, pair: &str) -> Result<SecretSpec> {
    crate::tls::check_pair(&cert, &key).map_err(|why| Error::format(format!("{pair}: {why}")))?;
    let mut spec = SecretSpec::new("kubernetes.io/tls");
    spec.add("tls.crt", cert)?;
    spec.add("tls.key", key)?;
    Ok(spec)
}

/// A `kubernetes.io/dockerconfigjson` Secret for one registry (Docker Hub by default).
pub fn docker_registry(
    server: Option<&str>,
    username: &str,
    password: &str,
    email: Option<&str>,
) -> Result<SecretSpec> {
    let server = server.unwrap_or("https://index.docker.io/v1/");
    if username.is_empty() || password.is_empty() || server.is_empty() {
        return Err(Error::new(
            Kind::Usage,
            "--docker-username, --docker-password and --docker-server must not be empty",
        ));
    }
    let auth = Zeroizing::new(STANDARD.encode(format!("{username}:{password}")));
    // The field order and the escaping of Go's encoding/json, as kubectl writes it.
    let mut text = Zeroizing::new(String::new());
    text.push_str("{\"auths\":{");
    text.push_str(&json::string(server));
    text.push_str(":{\"username\":");
    text.push_str(&json::string(username));
    text.push_str(",\"password\":");
    text.push_str(&json::string(password));
    if let Some(email) = email.filter(|e| !e.is_empty()) {
        text.push_str(",\"email\":");
        text.push_str(&json::string(email));
    }
    text.push_str(",\"auth\":");
    text.push_str(&json::string(&auth));
    text.push_str("}}}");
    let mut spec = SecretSpec::new("kubernetes.io/dockerconfigjson");
    spec.add(
        ".dockerconfigjson",
        Zeroizing::new(text.as_bytes().to_vec()),
    )?;
    Ok(spec)
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
    fn csv_lists() {
        assert_eq!(csv_fields("a,b").unwrap(), vec!["a", "b"]);
        assert_eq!(csv_fields("\"a,b\",c").unwrap(), vec!["a,b", "c"]);
        assert!(csv_fields("a\"b").is_none());
        assert_eq!(base_name("dir/a.txt/"), "a.txt");
    }

    #[test]
    fn docker_config_is_go_json() {
        let spec = docker_registry(None, "u", "p@ss\"<>&\u{8}\té\u{2028}\\", Some("")).unwrap();
        assert_eq!(spec.secret_type, "kubernetes.io/dockerconfigjson");
        let (key, value) = &spec.data[0];
        assert_eq!(key, ".dockerconfigjson");
        let auth = STANDARD.encode("u:p@ss\"<>&\u{8}\té\u{2028}\\");
        assert_eq!(
            std::str::from_utf8(value).unwrap(),
            format!(
                "{{\"auths\":{{\"https://index.docker.io/v1/\":{{\"username\":\"u\",\"password\":\"p@ss\\\"\\u003c\\u003e\\u0026\\b\\té\\u2028\\\\\",\"auth\":\"{auth}\"}}}}}}"
            )
        );
    }

    #[test]
    fn env_files_read_like_kubectl() {
        let mut spec = SecretSpec::new("");
        let env = |k: &str| (k == "FROM_ENV").then(|| "e".to_string());
        spec.add_env_file(
            "f",
            b"\xef\xbb\xbfA=1\r\n  # c\n\nB= two \nFROM_ENV\nUNSET\n",
            env,
        )
        .unwrap();
        let got: Vec<(&str, &[u8])> = spec
            .data
            .iter()
            .map(|(k, v)| (k.as_str(), &v[..]))
            .collect();
        assert_eq!(
            got,
            [
                ("A", &b"1"[..]),
                ("B", b" two "),
                ("FROM_ENV", b"e"),
                ("UNSET", b"")
            ]
        );
        let err = SecretSpec::new("")
            .add_env_file("f", b"A=1\n1x=secret\n", env)
            .unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
