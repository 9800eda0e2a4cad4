//! `kseal kustomize install`: kseal as kustomize's legacy exec plugins, from the binary alone
//! (what contrib/kustomize/install-plugins.sh does in a source checkout): a symlink named
//! after each Kind in kustomize's plugin directory, `kseal.dev/v1alpha1/<kind lowercased>/<Kind>`.

use std::path::{Path, PathBuf};

use kseal::error::{Error, Kind, Result};
use kseal::krm::{GENERATOR_KIND, TRANSFORMER_KIND};

use super::{env_var, note};
use crate::cli::KustomizeInstallArgs;

/// The plugins' version directory under the plugin home (the `apiVersion` of their configs).
const VERSION_DIR: &str = "kseal.dev/v1alpha1";

pub fn run(a: &KustomizeInstallArgs) -> Result<()> {
    let home = match &a.plugin_home {
        Some(d) => d.clone(),
        None => default_plugin_home()?,
    };
    let target = kseal_binary(a.kseal.as_deref())?;
    for kind in [GENERATOR_KIND, TRANSFORMER_KIND] {
        let dir = home.join(VERSION_DIR).join(kind.to_lowercase());
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::new(
                Kind::Output,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
        let link = dir.join(kind);
        replace_symlink(&target, &link)?;
        note(&format!(
            "installed {} -> {}",
            link.display(),
            target.display()
        ));
    }
    Ok(())
}

/// Where kustomize looks for plugins: `$KUSTOMIZE_PLUGIN_HOME`, else
/// `$XDG_CONFIG_HOME/kustomize/plugin`, else `~/.config/kustomize/plugin`.
fn default_plugin_home() -> Result<PathBuf> {
    let set = |name: &str| env_var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = set("KUSTOMIZE_PLUGIN_HOME") {
        return Ok(d);
    }
    if let Some(d) = set("XDG_CONFIG_HOME") {
        return Ok(d.join("kustomize/plugin"));
    }
    match set("HOME") {
        Some(h) => Ok(h.join(".config/kustomize/plugin")),
        None => Err(Error::new(
            Kind::Usage,
            "$HOME is not set: cannot tell where kustomize's plugin directory is",
        )
        .with_hint("name it with --plugin-home DIR")),
    }
}

/// The binary the links point to, absolute: kustomize runs them from other directories.
fn kseal_binary(flag: Option<&Path>) -> Result<PathBuf> {
    let path = match flag {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe().map_err(|e| {
            Error::new(
                Kind::Internal,
                format!("cannot find this binary's path: {e}"),
            )
        })?,
    };
    let abs = std::fs::canonicalize(&path).map_err(|e| {
        Error::new(
            Kind::Input,
            format!("cannot find the kseal binary {}: {e}", path.display()),
        )
    })?;
    if !abs.is_file() {
        return Err(Error::new(
            Kind::Input,
            format!("{} is not a file", abs.display()),
        ));
    }
    Ok(abs)
}

/// Points `link` at `target`: a new link, or an old link replaced atomically (a temporary
/// link renamed over it). Anything else already there is not kseal's to replace.
fn replace_symlink(target: &Path, link: &Path) -> Result<()> {
    match std::fs::symlink_metadata(link) {
        Ok(m) if !m.file_type().is_symlink() => {
            return Err(Error::new(
                Kind::Refused,
                format!(
                    "{} exists and is not a symbolic link; kseal does not replace it",
                    link.display()
                ),
            )
            .with_hint("move it away (another plugin of the same name?), then run this again"))
        }
        _ => {}
    }
    let tmp = link.with_file_name(format!(
        ".{}.kseal-{}",
        link.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let failed = |e: std::io::Error| {
        Error::new(Kind::Output, format!("cannot link {}: {e}", link.display()))
    };
    symlink(target, &tmp).map_err(failed)?;
    std::fs::rename(&tmp, link).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        failed(e)
    })
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_target: &Path, _link: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}
