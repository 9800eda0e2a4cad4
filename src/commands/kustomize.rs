//! kustomize integration: `kseal kustomize fn` (KRM function, for kustomize and kpt),
//! `kseal kustomize plugin CONFIG` (legacy exec plugin), `kseal kustomize decrypt` (a build's
//! output stream) and `kseal kustomize preflight` (refuses KRM exec functions that kustomize
//! would skip), with the generator's files kept inside the kustomization root or kpt
//! package. Installed as a symlink named `KsealGenerator`, `KsealTransformer` or `kseal-krm`,
//! the binary speaks the matching protocol directly, because kustomize passes no subcommand.

use std::path::{Path, PathBuf};

use kseal::error::{Error, Kind, Result};
use kseal::keys::Identities;
use kseal::krm::{self, PluginKind};
use kseal::ops::krm::{self as op, Host, Source};
use kseal::sops::file::DecryptOptions;

use super::load_identities;
use crate::cli::KustomizeCommand;
use crate::fsio::{self, Input};

pub fn run(c: &KustomizeCommand) -> Result<()> {
    match c {
        KustomizeCommand::Fn(a) => krm_function(a.package.as_deref()),
        KustomizeCommand::Plugin(a) => legacy_plugin(&a.config),
        KustomizeCommand::Decrypt(a) => {
            let input = match &a.file {
                Some(p) if p.as_os_str() != "-" => Input::File(p.clone()),
                _ => Input::Stdin,
            };
            let text = fsio::read_input(&input).map_err(|e| e.in_file(input.name()))?;
            let out = op::decrypt_stream(&text, &Machine)?;
            fsio::write_stdout(out.as_bytes())
        }
        KustomizeCommand::Preflight(a) => preflight(&a.dir),
        // main dispatches `install` to `kustomize_install` (commands do not call each other).
        KustomizeCommand::Install(_) => Err(Error::new(
            Kind::Internal,
            "kseal kustomize install is dispatched by main",
        )),
    }
}

/// The protocol to speak when the binary was invoked under a plugin's name.
pub fn from_argv0() -> Option<Result<()>> {
    let mut args = std::env::args_os();
    let argv0 = PathBuf::from(args.next()?);
    let name = argv0.file_name()?.to_string_lossy().into_owned();
    match name.as_str() {
        krm::GENERATOR_KIND | krm::TRANSFORMER_KIND => Some(match args.next() {
            Some(config) => legacy_plugin(Path::new(&config)),
            None => Err(Error::new(
                Kind::Usage,
                format!("{name}: kustomize passes the plugin's config file as the only argument"),
            )),
        }),
        "kseal-krm" => Some(krm_function(None)),
        _ => None,
    }
}

/// The machine a KRM function or plugin runs on: identities from the default places (kustomize
/// passes no flags), the process's read policy, files on disk.
struct Machine;

impl Host for Machine {
    fn identities(&self) -> Result<Identities> {
        load_identities(&[])
    }

    fn read_options(&self) -> DecryptOptions {
        super::read_options()
    }

    fn confine(&self, root: &Path, file: &str) -> Result<PathBuf> {
        confined(root, file)
    }

    fn read(&self, path: &Path) -> Result<String> {
        let name = path.display().to_string();
        fsio::read_input(&Input::File(path.to_path_buf())).map_err(|e| e.in_file(&name))
    }

    fn check_in_package(&self, dir: Option<&Path>, file: &str, want: &str) -> Result<()> {
        if root_only()? {
            inside_package(dir, file, want)?;
        }
        Ok(())
    }
}

/// KRM function: a ResourceList on stdin, the result on stdout.
fn krm_function(package_dir: Option<&Path>) -> Result<()> {
    let text = fsio::read_input(&Input::Stdin).map_err(|e| e.in_file("<stdin>"))?;
    let out = op::function(&text, package_dir, &Machine)?;
    fsio::write_stdout(out.as_bytes())
}

/// How `files:` entries are confined, from KSEAL_LOAD_RESTRICTOR (kustomize's names): the
/// operator's choice, never the configuration's, since in a shared Argo CD the author of an
/// Application writes the configuration.
fn root_only() -> Result<bool> {
    match super::env_var("KSEAL_LOAD_RESTRICTOR").as_deref() {
        None | Some("") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("LoadRestrictionsRootOnly") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("LoadRestrictionsNone") => Ok(false),
        Some(v) => Err(Error::new(
            Kind::Usage,
            format!("KSEAL_LOAD_RESTRICTOR is {v:?}: LoadRestrictionsRootOnly (the default) or LoadRestrictionsNone expected"),
        )),
    }
}

/// The file a `files:` entry names, in or below `root` after following symbolic links, like
/// kustomize's LoadRestrictionsRootOnly; the canonical path is what gets read.
fn confined(root: &Path, file: &str) -> Result<PathBuf> {
    let joined = root.join(file);
    if !root_only()? {
        return Ok(joined);
    }
    if Path::new(file).is_absolute() {
        return Err(krm::outside_root(file, "is an absolute path"));
    }
    // `..` that climbs above the root, whether or not the target exists.
    krm::package_join("", file)?;
    let croot = root.canonicalize().map_err(|e| {
        Error::new(
            Kind::Input,
            format!(
                "cannot resolve the kustomization root {}: {e}",
                root.display()
            ),
        )
    })?;
    match joined.canonicalize() {
        Ok(real) if real.starts_with(&croot) => Ok(real),
        Ok(_) => Err(krm::outside_root(
            file,
            "resolves (through a symbolic link) to a file outside the root",
        )),
        // Missing (or a dangling link): reading it reports the error with the path.
        Err(_) => Ok(joined),
    }
}

/// Refuses a package file that is a symbolic link out of the package: kpt follows links
/// when it reads a package, so the resources it passes may come from anywhere.
fn inside_package(dir: Option<&Path>, file: &str, want: &str) -> Result<()> {
    let Some(dir) = dir else {
        return Err(Error::new(
            Kind::Usage,
            format!("kpt did not say where the package is, so kseal cannot check that `files` entry {file} is not a symbolic link out of it"),
        )
        .with_hint("name the package: kpt fn eval DIR --exec \"kseal kustomize fn --package DIR\" (kpt fn render says it itself)"));
    };
    let croot = dir.canonicalize().map_err(|e| {
        Error::new(
            Kind::Input,
            format!(
                "cannot resolve the package directory {}: {e}",
                dir.display()
            ),
        )
    })?;
    let path = dir.join(want);
    let real = path.canonicalize().map_err(|e| {
        Error::new(
            Kind::Input,
            format!(
                "`files` entry {file}: cannot resolve {}: {e}",
                path.display()
            ),
        )
        .with_hint("is --package the directory kpt runs on?")
    })?;
    if real.starts_with(&croot) {
        Ok(())
    } else {
        Err(krm::outside_root(
            file,
            "resolves (through a symbolic link) to a file outside the package",
        ))
    }
}

/// Where relative `files:` are read from: the kustomization root (kustomize runs plugins
/// there, and also says so in KUSTOMIZE_PLUGIN_CONFIG_ROOT).
fn plugin_root() -> PathBuf {
    super::env_var("KUSTOMIZE_PLUGIN_CONFIG_ROOT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Legacy exec plugin: argv[1] is the config; a generator prints YAML, a transformer reads
/// the resources on stdin and prints them decrypted.
fn legacy_plugin(config: &Path) -> Result<()> {
    let name = config.display().to_string();
    let text =
        fsio::read_input(&Input::File(config.to_path_buf())).map_err(|e| e.in_file(&name))?;
    let cfg = krm::parse_config(&text).map_err(|e| e.in_file(&name))?;
    let out = match cfg.kind {
        PluginKind::Generator => {
            krm::join_stream(&op::generate(&cfg, &Source::Disk(&plugin_root()), &Machine)?.0)
        }
        PluginKind::Transformer => {
            let input = fsio::read_input(&Input::Stdin).map_err(|e| e.in_file("<stdin>"))?;
            op::decrypt_stream(&input, &Machine)?
        }
    };
    fsio::write_stdout(out.as_bytes())
}

/// The names kustomize looks for in a kustomization directory, in its order.
const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// `kseal kustomize preflight DIR`: refuses a kustomization that declares a KRM exec
/// function anywhere kustomize would run it (generators, transformers and validators, of
/// this kustomization and of every local one it includes).
fn preflight(dir: &Path) -> Result<()> {
    if !KUSTOMIZATION_FILES.iter().any(|f| dir.join(f).is_file()) {
        return Err(Error::new(
            Kind::Input,
            format!("no kustomization.yaml in {}", dir.display()),
        ));
    }
    let mut seen = Vec::new();
    let mut found = Vec::new();
    walk_kustomization(dir, false, &mut seen, &mut found)?;
    if found.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        Kind::Unsupported,
        format!(
            "{} declares a KRM exec function (config.kubernetes.io/function: exec): kustomize runs it only with --enable-exec, and without it skips it and succeeds, so the render would silently lack what it generates",
            found.join(", ")
        ),
    )
    .with_hint(
        "use the legacy plugin form (the same KsealGenerator configuration without the config.kubernetes.io/function annotation, kseal installed as the KsealGenerator exec plugin); it is the only form the Argo CD plugin runs",
    ))
}

/// Collects, into `found`, the exec functions a kustomization declares. `configs` is set for
/// a kustomization listed under `generators:`/`transformers:`/`validators:`, whose
/// resources are plugin configurations themselves.
fn walk_kustomization(
    dir: &Path,
    configs: bool,
    seen: &mut Vec<PathBuf>,
    found: &mut Vec<String>,
) -> Result<()> {
    let Some(file) = KUSTOMIZATION_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
    else {
        return Ok(());
    };
    let real = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    if seen.contains(&real) {
        return Ok(());
    }
    seen.push(real);
    let name = file.display().to_string();
    let text = fsio::read_input(&Input::File(file.clone())).map_err(|e| e.in_file(&name))?;
    let stream = kseal::yaml::tree::parse(&text).map_err(|e| e.in_file(&name))?;
    let Some(root) = stream.docs.iter().find_map(|d| d.root_mapping()) else {
        return Ok(());
    };
    let entries = |key: &str| -> Vec<String> {
        match root.get(key) {
            Some(kseal::yaml::tree::Node::Sequence(q)) => q
                .items
                .iter()
                .filter_map(|n| n.as_scalar().map(|s| s.value.to_string()))
                .collect(),
            _ => Vec::new(),
        }
    };
    for key in ["resources", "bases", "components"] {
        for entry in entries(key) {
            visit(dir, &entry, configs, seen, found)?;
        }
    }
    for key in ["generators", "transformers", "validators"] {
        for entry in entries(key) {
            visit(dir, &entry, true, seen, found)?;
        }
    }
    Ok(())
}

/// One entry of a kustomization list: inline YAML, a local file, or a local kustomization
/// directory. Remote ones (URLs) are left to kustomize: they cannot be read from here.
fn visit(
    dir: &Path,
    entry: &str,
    configs: bool,
    seen: &mut Vec<PathBuf>,
    found: &mut Vec<String>,
) -> Result<()> {
    if entry.contains('\n') {
        // kustomize also accepts a configuration written inline in the list.
        if configs {
            found.extend(
                krm::exec_functions(entry)
                    .into_iter()
                    .map(|d| format!("an inline configuration ({d})")),
            );
        }
        return Ok(());
    }
    if entry.contains("://") || entry.starts_with("github.com/") || entry.starts_with("git@") {
        return Ok(());
    }
    let path = dir.join(entry);
    if path.is_dir() {
        return walk_kustomization(&path, configs, seen, found);
    }
    if configs && path.is_file() {
        let name = path.display().to_string();
        let text = fsio::read_input(&Input::File(path)).map_err(|e| e.in_file(&name))?;
        found.extend(
            krm::exec_functions(&text)
                .into_iter()
                .map(|d| format!("{name}: {d}")),
        );
    }
    Ok(())
}
