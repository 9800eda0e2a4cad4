//! `kseal create generic|tls|docker-registry`: builds the Secret in memory exactly as
//! `kubectl create secret ... --dry-run=client -o yaml` prints it, and seals it with a fresh
//! data key, so the plaintext never touches the disk.

use std::path::{Path, PathBuf};

use kseal::error::{Error, Kind, Result};
use kseal::kube::create::{self as build, SecretSpec};

use crate::cli::{CreateCommand, CreateCommon, CreateDockerArgs, CreateGenericArgs, CreateTlsArgs};
use crate::fsio;
use crate::fsio::read_bytes;
use kseal::ops::seal::seal_new;

pub fn run(c: &CreateCommand) -> Result<()> {
    let common = match c {
        CreateCommand::Generic(a) => &a.common,
        CreateCommand::Tls(a) => &a.common,
        CreateCommand::DockerRegistry(a) => &a.common,
    };
    check_output(common)?;
    let target = common
        .filename_override
        .path
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
    let text = secret.render(&common.name, common.namespace.as_deref())?;
    let plan = match early {
        Some(p) => p,
        None => planner.plan_for_text(target, &text)?,
    };
    let output = common.output.as_deref();
    let shown = output.map_or_else(|| "<stdout>".to_string(), |p| p.display().to_string());
    let out = seal_new(&shown, &text, &plan, false, &super::Process)?;
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

fn generic(a: &CreateGenericArgs) -> Result<SecretSpec> {
    let files = build::split_lists(a.from_file.iter().map(String::as_str), "--from-file")?;
    let env_files = build::split_lists(
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
    spec.add_literals(&a.from_literal)?;
    for source in &files {
        add_file_source(&mut spec, source)?;
    }
    for f in &env_files {
        add_env_file(&mut spec, f)?;
    }
    Ok(spec)
}

/// `[key=]path`: a file (its base name is the key) or a directory (each regular file, not
/// following symlinks, under its own name).
fn add_file_source(spec: &mut SecretSpec, source: &str) -> Result<()> {
    let (key, path) = build::file_source(source)?;
    let p = Path::new(path);
    let meta = std::fs::metadata(p).map_err(|e| unreadable("read", path, &e))?;
    if !meta.is_dir() {
        let key = key.map_or_else(|| build::base_name(path), str::to_string);
        return spec.add(&key, read_bytes(p)?);
    }
    if key.is_some() {
        return Err(Error::new(
            Kind::Usage,
            format!("--from-file {source}: cannot give a key name for a directory"),
        ));
    }
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(p).map_err(|e| unreadable("list", path, &e))? {
        let entry = entry.map_err(|e| unreadable("list", path, &e))?;
        let regular = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if regular {
            let name = entry.file_name().to_string_lossy().into_owned();
            entries.push((name, entry.path()));
        }
    }
    entries.sort();
    for (name, file) in entries {
        spec.add(&name, read_bytes(&file)?)?;
    }
    Ok(())
}

fn unreadable(what: &str, path: &str, e: &std::io::Error) -> Error {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    Error::new(Kind::Input, format!("cannot {what} {path}: {why}"))
}

fn add_env_file(spec: &mut SecretSpec, path: &Path) -> Result<()> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| unreadable("read", &name, &e))?;
    if meta.is_dir() {
        return Err(Error::new(
            Kind::Usage,
            format!("--from-env-file {name}: an env file cannot be a directory"),
        ));
    }
    let bytes = read_bytes(path)?;
    spec.add_env_file(&name, &bytes, super::env_var)
}

fn tls(a: &CreateTlsArgs) -> Result<SecretSpec> {
    let cert = read_bytes(&a.cert)?;
    let key = read_bytes(&a.key)?;
    let pair = format!("--cert {} --key {}", a.cert.display(), a.key.display());
    build::tls(cert, key, &pair)
}

fn docker_registry(a: &CreateDockerArgs) -> Result<SecretSpec> {
    build::docker_registry(
        a.server.as_deref(),
        &a.username,
        &a.password,
        a.email.as_deref(),
    )
}
