//! kustomize integration: `kseal kustomize fn` (KRM function), `kseal kustomize plugin CONFIG`
//! (legacy exec plugin) and `kseal kustomize decrypt` (a build's output stream). Installed
//! as a symlink named `KsealGenerator`, `KsealTransformer` or `kseal-krm`, the binary speaks
//! the matching protocol directly, because kustomize passes no subcommand.

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
        KustomizeCommand::Fn => krm_function(),
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
        "kseal-krm" => Some(krm_function()),
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

/// A generator's output: the documents of every listed file, decrypted (MAC verified), with
/// the configuration's `needs-hash` and `behavior` annotations.
fn generate(cfg: &PluginConfig, root: &Path) -> Result<Vec<Zeroizing<String>>> {
    let ids = load_identities(&[])?;
    let mut out = Vec::new();
    for f in &cfg.files {
        let path = root.join(f);
        let name = path.display().to_string();
        let text = fsio::read_input(&Input::File(path)).map_err(|e| e.in_file(&name))?;
        let d = file::decrypt(
            &text,
            &IdentityOpener { ids: &ids },
            &DecryptOptions {
                plain_only: true,
                ..DecryptOptions::default()
            },
        )
        .map_err(|e| e.in_file(&name))?;
        for doc in krm::split_stream(&d.text).map_err(|e| e.in_file(&name))? {
            out.push(krm::add_annotations(&doc, &cfg.annotations).map_err(|e| e.in_file(&name))?);
        }
    }
    Ok(out)
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
        PluginKind::Generator => krm::join_stream(&generate(&cfg, &plugin_root())?),
        PluginKind::Transformer => {
            let input = fsio::read_input(&Input::Stdin).map_err(|e| e.in_file("<stdin>"))?;
            decrypt_stream(&input)?
        }
    };
    fsio::write_stdout(out.as_bytes())
}

/// KRM function: ResourceList in, ResourceList out. The configuration comes as
/// `functionConfig` and, from kustomize generators, also as the only item; it is used once.
fn krm_function() -> Result<()> {
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
    let mut items: Vec<Zeroizing<String>> =
        rl.items.iter().map(|i| Zeroizing::new(i.clone())).collect();
    let root = PathBuf::from(".");
    for cfg in &configs {
        match cfg.kind {
            PluginKind::Generator => items.extend(generate(cfg, &root)?),
            PluginKind::Transformer => {
                let ids = load_identities(&[])?;
                items = krm::decrypt_resources(&items, &IdentityOpener { ids: &ids })?;
            }
        }
    }
    let out = krm::render_resource_list(&rl.api_version, &items);
    fsio::write_stdout(out.as_bytes())
}
