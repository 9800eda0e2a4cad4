//! Build script: `kseal --version` names the commit the binary was built from, as a
//! compile-time constant (`KSEAL_VERSION`), so printing it costs nothing at start-up.
//!
//! The commit comes from `git rev-parse` when the package is the top of a git work tree, else
//! from `.cargo_vcs_info.json` (what `cargo package` records for a crates.io download), else
//! there is none and the version is the package version alone. No failure here stops a build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let commit = git_commit(&dir).or_else(|| packaged_commit(&dir));
    let full = match commit {
        Some(c) => format!("{version} (commit {c})"),
        None => version,
    };
    println!("cargo:rustc-env=KSEAL_VERSION={full}");
    println!("cargo:rerun-if-changed=build.rs");
    if dir.join(".cargo_vcs_info.json").exists() {
        println!("cargo:rerun-if-changed=.cargo_vcs_info.json");
    }
}

/// Runs git in `dir`; its trimmed stdout when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

/// The commit checked out, when the package directory is the top of a git work tree (not a
/// crate vendored inside some other repository). Cargo is told to build again when HEAD moves.
fn git_commit(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    };
    if !same(Path::new(&top), dir) {
        return None;
    }
    let commit = git(dir, &["rev-parse", "--short=12", "HEAD"])?;
    // HEAD itself (a checkout), its reflog (every commit, reset or rebase of this work tree,
    // also for a branch that so far lived only in packed-refs), the branch it names and packed
    // refs (for repositories without reflogs).
    let mut watched = vec![
        "HEAD".to_string(),
        "logs/HEAD".to_string(),
        "packed-refs".to_string(),
    ];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for w in watched {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", &w]) {
            let p = Path::new(&p);
            let p = if p.is_absolute() {
                p.to_path_buf()
            } else {
                dir.join(p)
            };
            // A path that does not exist would make cargo run this script on every build.
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    Some(commit)
}

/// The commit `cargo package` recorded: `{"git": {"sha1": "..."}}`.
fn packaged_commit(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let at = text.find("\"sha1\"")?;
    let rest = &text[at + 6..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    let sha = &rest[start..start + len];
    (sha.len() >= 12 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then(|| sha[..12].to_string())
}
