//! `kseal sops-link DIR`: a link named `sops` to kseal, for editor plugins that run `sops` by
//! name or read `sops --version` (the sops command line itself is answered in sops.rs).

use std::path::Path;

use kseal::error::{Error, Kind, Result};

/// `kseal sops-link DIR`: DIR/sops (DIR created if needed), a symbolic link to this kseal
/// (absolute). An existing DIR/sops is left alone unless it already is that link: it may be
/// the real sops.
pub fn run(dir: &Path) -> Result<()> {
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| {
            Error::new(
                Kind::Internal,
                format!("cannot find this binary's path: {e}"),
            )
        })?;
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::new(
            Kind::Output,
            format!("cannot create {}: {e}", dir.display()),
        )
    })?;
    let link = dir.join("sops");
    if let Ok(meta) = std::fs::symlink_metadata(&link) {
        let ours =
            meta.file_type().is_symlink() && std::fs::canonicalize(&link).is_ok_and(|t| t == exe);
        if ours {
            return super::say(&format!(
                "{} already links to {}",
                link.display(),
                exe.display()
            ));
        }
        return Err(Error::new(
            Kind::Refused,
            format!(
                "{} exists and is not a link to this kseal; it was not replaced",
                link.display()
            ),
        )
        .with_hint("it may be the real sops: choose another directory, or remove it first"));
    }
    std::os::unix::fs::symlink(&exe, &link).map_err(|e| {
        Error::new(
            Kind::Output,
            format!("cannot create {}: {e}", link.display()),
        )
    })?;
    super::say(&format!("{} -> {}", link.display(), exe.display()))
}
