//! kustomize integration: `kseal kustomize fn` (KRM function, for kustomize and kpt),
//! `kseal kustomize plugin CONFIG` (legacy exec plugin), `kseal kustomize decrypt` (a build's
//! output stream) and `kseal kustomize preflight` (refuses KRM exec functions that kustomize
//! would skip), with the generator's files kept inside the kustomization root or kpt
//! package. Installed as a symlink named `KsealGenerator`, `KsealTransformer` or `kseal-krm`,
//! the binary speaks the matching protocol directly, because kustomize passes no subcommand.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use kseal::error::{Error, Kind, Result};
use kseal::krm::{self, PluginConfig, PluginKind};
use kseal::sops::file::{self, DecryptOptions};

use super::{load_identities, IdentityOpener};
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
            let out = decrypt_stream(&text)?;
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

/// Decrypts a manifest stream: every encrypted resource, MACs verified per envelope.
fn decrypt_stream(text: &str) -> Result<Zeroizing<String>> {
    let docs = krm::split_stream(text)?;
    let ids = load_identities(&[])?;
    let out = krm::decrypt_resources(&docs, &IdentityOpener { ids: &ids })?;
    Ok(krm::join_stream(&out))
}

/// Where a generator reads the files it lists.
enum Source<'a> {
    /// From disk, in or below the kustomization root (kustomize runs the plugin there).
    Disk(&'a Path),
    /// From the package resources kpt passed in, whose paths are relative to the package
    /// root; `files:` are relative to the configuration's directory in the package.
    Package {
        items: &'a [Zeroizing<String>],
        base: String,
        dir: Option<PathBuf>,
    },
}

/// A generator's output: the documents of every listed file, decrypted (MAC verified), with
/// the configuration's `needs-hash` and `behavior` annotations; and, from a kpt package, the
/// indices of the items that were those files (the encrypted twins, left out of the output).
fn generate(cfg: &PluginConfig, source: &Source) -> Result<(Vec<Zeroizing<String>>, Vec<usize>)> {
    let ids = load_identities(&[])?;
    let mut out = Vec::new();
    let mut used = Vec::new();
    for f in &cfg.files {
        let (name, text) = match source {
            Source::Disk(root) => {
                let path = confined(root, f)
                    .map_err(|e| e.in_file(format!("{} {}", krm::GENERATOR_KIND, cfg.name)))?;
                let name = path.display().to_string();
                let text = fsio::read_input(&Input::File(path)).map_err(|e| e.in_file(&name))?;
                (name, Zeroizing::new(text))
            }
            Source::Package { items, base, dir } => {
                let (name, text, idx) = package_file(items, base, dir.as_deref(), f)
                    .map_err(|e| e.in_file(format!("{} {}", krm::GENERATOR_KIND, cfg.name)))?;
                used.extend(idx);
                (name, text)
            }
        };
        let d = file::decrypt(
            &text,
            &IdentityOpener { ids: &ids },
            &DecryptOptions {
                plain_only: true,
                ..super::read_options()
            },
        )
        .map_err(|e| e.in_file(&name))?;
        for doc in krm::split_stream(&d.text).map_err(|e| e.in_file(&name))? {
            out.push(krm::add_annotations(&doc, &cfg.annotations).map_err(|e| e.in_file(&name))?);
        }
    }
    Ok((out, used))
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

/// The text of a package file made of the items kpt read from it, in their order in the
/// file, without kpt's annotations (they are not part of the MAC), and those items' indices.
fn package_file(
    items: &[Zeroizing<String>],
    base: &str,
    dir: Option<&Path>,
    file: &str,
) -> Result<(String, Zeroizing<String>, Vec<usize>)> {
    let want = krm::package_join(base, file).map_err(|e| {
        e.with_hint(
            "kpt passes only the package's resources: a file outside the package cannot be read",
        )
    })?;
    if root_only()? {
        inside_package(dir, file, &want)?;
    }
    let mut parts: Vec<(usize, usize)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let (path, index) = krm::package_location(t)?;
            (krm::package_join("", &path).ok()? == want).then_some((index, i))
        })
        .collect();
    if parts.is_empty() {
        return Err(Error::new(
            Kind::Input,
            format!("`files` entry {file} ({want} in the package) is not a resource of the kpt package"),
        )
        .with_hint(
            "with kpt, `files:` name package files: relative to the function config's directory (kpt fn render) or to the package root (kpt fn eval --fn-config)",
        ));
    }
    parts.sort();
    let docs: Vec<Zeroizing<String>> = parts
        .iter()
        .map(|&(_, i)| krm::strip_orchestrator_annotations(&items[i]))
        .collect::<Result<_>>()?;
    Ok((
        want,
        krm::join_stream(&docs),
        parts.iter().map(|&(_, i)| i).collect(),
    ))
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
            krm::join_stream(&generate(&cfg, &Source::Disk(&plugin_root()))?.0)
        }
        PluginKind::Transformer => {
            let input = fsio::read_input(&Input::Stdin).map_err(|e| e.in_file("<stdin>"))?;
            decrypt_stream(&input)?
        }
    };
    fsio::write_stdout(out.as_bytes())
}

/// The items after a generator: those it read (a kpt package's encrypted file) replaced by
/// what it generated, at the end; and the indices of the generated ones.
fn apply_generator(
    cfg: &PluginConfig,
    items: &[Zeroizing<String>],
    package: bool,
    package_dir: Option<&Path>,
) -> Result<(Vec<Zeroizing<String>>, Vec<usize>)> {
    let source = if package {
        // kpt fn render names the config's file in the package: `files:` are relative to
        // its directory; with kpt fn eval, to the package root.
        let base = cfg
            .package_path
            .as_deref()
            .and_then(|p| p.rsplit_once('/'))
            .map(|(dir, _)| dir.to_string())
            .unwrap_or_default();
        let dir = package_dir
            .map(Path::to_path_buf)
            .or_else(|| cfg.package_dir.as_ref().map(PathBuf::from));
        Source::Package { items, base, dir }
    } else {
        // kustomize runs an exec function in the kustomization's directory.
        Source::Disk(Path::new("."))
    };
    let (docs, used) = generate(cfg, &source)?;
    let mut next: Vec<Zeroizing<String>> = (0..items.len())
        .filter(|i| !used.contains(i))
        .map(|i| items[i].clone())
        .collect();
    let first = next.len();
    next.extend(docs);
    let generated = (first..next.len()).collect();
    Ok((next, generated))
}

/// Whether the ResourceList comes from kpt: kpt says where each package resource lives,
/// and (unlike kustomize) does not pass a generator its own configuration as an item.
fn from_kpt(rl: &krm::ResourceList) -> bool {
    rl.items.iter().any(|i| krm::package_location(i).is_some())
        || !rl.items.iter().any(|i| krm::is_plugin_config(i))
}

/// KRM function: ResourceList in, ResourceList out. The configuration comes as
/// `functionConfig` and, from kustomize generators, also as the only item; it is used once.
fn krm_function(package_dir: Option<&Path>) -> Result<()> {
    let text = fsio::read_input(&Input::Stdin).map_err(|e| e.in_file("<stdin>"))?;
    let rl = krm::parse_resource_list(&text)?;
    let mut configs: Vec<PluginConfig> = Vec::new();
    match &rl.function_config {
        Some(fc) if krm::is_plugin_config(fc) => configs.push(krm::parse_config(fc)?),
        _ => {
            for item in rl.items.iter().filter(|i| krm::is_plugin_config(i)) {
                configs.push(krm::parse_config(item)?);
            }
        }
    }
    if configs.is_empty() {
        return Err(Error::format(
            "no KsealGenerator or KsealTransformer configuration in the ResourceList",
        )
        .with_hint("pass one as the function config (kpt: --fn-config FILE)"));
    }
    // Every item goes back: kpt deletes what a function does not return, and kustomize
    // itself drops the generator's config (annotated config.kubernetes.io/local-config).
    // The exception is a kpt package's own encrypted file that a generator decrypts: its
    // decrypted documents replace it instead of coming out next to it.
    let mut items: Vec<Zeroizing<String>> =
        rl.items.iter().map(|i| Zeroizing::new(i.clone())).collect();
    let package = from_kpt(&rl);
    let mut marked = 0;
    for cfg in &configs {
        let (plain, changed) = match cfg.kind {
            PluginKind::Generator => apply_generator(cfg, &items, package, package_dir)?,
            PluginKind::Transformer => {
                let ids = load_identities(&[])?;
                let out = krm::decrypt_resources(&items, &IdentityOpener { ids: &ids })?;
                let changed = (0..out.len()).filter(|&i| out[i] != items[i]).collect();
                (out, changed)
            }
        };
        items = plain;
        if package {
            for i in changed {
                marked += 1;
                items[i] = krm::mark_not_for_the_package(&items[i], marked)?;
            }
        }
    }
    let out = krm::render_resource_list(&rl.api_version, &items);
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
