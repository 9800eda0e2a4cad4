//! The use cases of `kseal kustomize`: a KRM function (ResourceList in, ResourceList out, for
//! kustomize and kpt), a generator's output (the listed files decrypted, MACs verified, with
//! the configuration's annotations) and a transformer's (every encrypted resource decrypted).
//! What touches the machine (identities, the read policy, reading and confining the listed
//! files) goes through `Host`, which the binary implements.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, Kind, Result};
use crate::keys::Identities;
use crate::krm::{self, PluginConfig, PluginKind};
use crate::ops::keyopen::IdentityOpener;
use crate::sops::file::{self, DecryptOptions};

/// What a KRM function or plugin needs from the machine it runs on.
pub trait Host {
    /// The identities found on this machine (flags, variables, default files).
    fn identities(&self) -> Result<Identities>;
    /// How encrypted files are read (the process's read policy).
    fn read_options(&self) -> DecryptOptions;
    /// The file a generator's `files:` entry names, in or below `root` unless the operator
    /// lifted the restriction (kustomize's LoadRestrictionsRootOnly).
    fn confine(&self, root: &Path, file: &str) -> Result<PathBuf>;
    /// The text of a file (the error names it).
    fn read(&self, path: &Path) -> Result<String>;
    /// Refuses a kpt package file `want` (the `files:` entry `file`) that is a symbolic link
    /// out of the package directory `dir`, unless the operator lifted the restriction.
    fn check_in_package(&self, dir: Option<&Path>, file: &str, want: &str) -> Result<()>;
}

/// Decrypts a manifest stream: every encrypted resource, MACs verified per envelope.
pub fn decrypt_stream(text: &str, host: &dyn Host) -> Result<Zeroizing<String>> {
    let docs = krm::split_stream(text)?;
    let ids = host.identities()?;
    let out = krm::decrypt_resources(&docs, &IdentityOpener { ids: &ids })?;
    Ok(krm::join_stream(&out))
}

/// Where a generator reads the files it lists.
pub enum Source<'a> {
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
pub fn generate(
    cfg: &PluginConfig,
    source: &Source,
    host: &dyn Host,
) -> Result<(Vec<Zeroizing<String>>, Vec<usize>)> {
    let ids = host.identities()?;
    let mut out = Vec::new();
    let mut used = Vec::new();
    for f in &cfg.files {
        let (name, text) = match source {
            Source::Disk(root) => {
                let path = host
                    .confine(root, f)
                    .map_err(|e| e.in_file(format!("{} {}", krm::GENERATOR_KIND, cfg.name)))?;
                let name = path.display().to_string();
                let text = host.read(&path)?;
                (name, Zeroizing::new(text))
            }
            Source::Package { items, base, dir } => {
                let (name, text, idx) = package_file(items, base, dir.as_deref(), f, host)
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
                ..host.read_options()
            },
        )
        .map_err(|e| e.in_file(&name))?;
        for doc in krm::split_stream(&d.text).map_err(|e| e.in_file(&name))? {
            out.push(krm::add_annotations(&doc, &cfg.annotations).map_err(|e| e.in_file(&name))?);
        }
    }
    Ok((out, used))
}

/// The text of a package file made of the items kpt read from it, in their order in the
/// file, without kpt's annotations (they are not part of the MAC), and those items' indices.
fn package_file(
    items: &[Zeroizing<String>],
    base: &str,
    dir: Option<&Path>,
    file: &str,
    host: &dyn Host,
) -> Result<(String, Zeroizing<String>, Vec<usize>)> {
    let want = krm::package_join(base, file).map_err(|e| {
        e.with_hint(
            "kpt passes only the package's resources: a file outside the package cannot be read",
        )
    })?;
    host.check_in_package(dir, file, &want)?;
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

/// The items after a generator: those it read (a kpt package's encrypted file) replaced by
/// what it generated, at the end; and the indices of the generated ones.
pub fn apply_generator(
    cfg: &PluginConfig,
    items: &[Zeroizing<String>],
    package: bool,
    package_dir: Option<&Path>,
    host: &dyn Host,
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
    let (docs, used) = generate(cfg, &source, host)?;
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
pub fn function(
    text: &str,
    package_dir: Option<&Path>,
    host: &dyn Host,
) -> Result<Zeroizing<String>> {
    let rl = krm::parse_resource_list(text)?;
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
            PluginKind::Generator => apply_generator(cfg, &items, package, package_dir, host)?,
            PluginKind::Transformer => {
                let ids = host.identities()?;
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
    Ok(krm::render_resource_list(&rl.api_version, &items))
}
