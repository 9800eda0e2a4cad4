//! `kseal git setup`: the `.gitattributes` lines (versioned) and the local git config (not
//! versioned, so each clone runs it once) for the decrypting diff and the per-key merge driver.

use std::path::{Path, PathBuf};
use std::process::Command;

use kseal::error::{Error, Kind, Result};

use super::{note, warn};
use crate::cli::{GitCommand, GitSetupArgs};
use crate::fsio;

pub const DEFAULT_PATTERNS: [&str; 3] = ["*.enc.yaml", "*.enc.yml", "*.enc.json"];

pub fn run(c: &GitCommand) -> Result<()> {
    match c {
        GitCommand::Setup(a) => setup(a),
    }
}

/// Runs git and returns its trimmed stdout (None when git exits non-zero).
fn git(args: &[&str]) -> Result<Option<String>> {
    let out = Command::new("git").args(args).output().map_err(|e| {
        Error::new(Kind::Input, format!("cannot run git: {e}"))
            .with_hint("install git, or put it on PATH")
    })?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
}

fn git_set(key: &str, value: &str) -> Result<()> {
    match git(&["config", "--local", key, value])? {
        Some(_) => Ok(()),
        None => Err(Error::new(
            Kind::Output,
            format!("git config --local {key} failed"),
        )),
    }
}

/// How git should call kseal: `kseal` when that is this binary, else this binary's path.
fn kseal_command(flag: Option<&str>) -> String {
    if let Some(f) = flag {
        return f.to_string();
    }
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::canonicalize(p).ok());
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("kseal"))
            .find(|c| c.is_file())
            .and_then(|c| std::fs::canonicalize(c).ok())
    });
    match me {
        Some(me) if on_path.as_ref() != Some(&me) => {
            let s = me.to_string_lossy().into_owned();
            shlex::try_quote(&s).map(|q| q.into_owned()).unwrap_or(s)
        }
        _ => "kseal".to_string(),
    }
}

fn setup(a: &GitSetupArgs) -> Result<()> {
    // The repository is what this command reads: outside one there is no input (exit 3).
    let root = git(&["rev-parse", "--show-toplevel"])?.ok_or_else(|| {
        Error::new(Kind::Input, "not inside a git repository")
            .with_hint("run `kseal git setup` from a clone of the repository")
    })?;
    let root = PathBuf::from(root);
    let patterns: Vec<String> = if a.patterns.is_empty() {
        DEFAULT_PATTERNS.iter().map(|s| s.to_string()).collect()
    } else {
        a.patterns.clone()
    };
    let mut attrs = Vec::new();
    if !a.no_diff {
        attrs.push("diff=kseal");
    }
    if !a.no_merge {
        attrs.push("merge=kseal");
    }
    if attrs.is_empty() {
        return Err(Error::new(
            Kind::Usage,
            "--no-diff and --no-merge together leave nothing to set up",
        ));
    }
    write_attributes(&root.join(".gitattributes"), &patterns, &attrs)?;
    let kseal = kseal_command(a.kseal.as_deref());
    if !a.no_diff {
        git_set(
            "diff.kseal.textconv",
            &format!("{kseal} decrypt --textconv"),
        )?;
        // The textconv cache is a notes ref inside .git: decrypted text on disk.
        let cached = git(&["config", "--bool", "--get", "diff.kseal.cachetextconv"])?;
        if cached.as_deref() == Some("true") {
            warn("diff.kseal.cachetextconv was true: git kept decrypted text in .git (refs/notes/textconv/kseal); it is now set to false");
        }
        git_set("diff.kseal.cachetextconv", "false")?;
        if git(&[
            "rev-parse",
            "--verify",
            "--quiet",
            "refs/notes/textconv/kseal",
        ])?
        .is_some_and(|s| !s.is_empty())
        {
            warn("refs/notes/textconv/kseal exists and holds decrypted text: delete it with `git update-ref -d refs/notes/textconv/kseal` and `git gc --prune=now`");
        }
    }
    if !a.no_merge {
        git_set(
            "merge.kseal.name",
            "kseal: per-key merge of encrypted Secrets",
        )?;
        git_set(
            "merge.kseal.driver",
            &format!("{kseal} merge-driver %O %A %B %P"),
        )?;
    }
    note(&format!(
        "git is set up for {} in {} (.gitattributes: commit it; the git config is local to this clone: run `kseal git setup` in every clone)",
        patterns.join(" "),
        root.display()
    ));
    note("never set diff.kseal.cachetextconv: git would store decrypted text under .git");
    report_coverage(&root, if a.no_diff { "merge" } else { "diff" })
}

/// Says which encrypted files of the repository the patterns leave out (their diffs would
/// show ciphertext, their merges conflict on every line), with a `--pattern` that covers them.
/// Files are those git tracks or would track; "encrypted" is the sops envelope in the text.
fn report_coverage(root: &Path, attr: &str) -> Result<()> {
    let encrypted = encrypted_files(root)?;
    if encrypted.is_empty() {
        return Ok(());
    }
    let covered = attribute_is_kseal(root, attr, &encrypted)?;
    let left: Vec<&String> = encrypted
        .iter()
        .zip(&covered)
        .filter(|(_, c)| !**c)
        .map(|(f, _)| f)
        .collect();
    if left.is_empty() {
        return Ok(());
    }
    let how_many = if left.len() == encrypted.len() {
        format!(
            "cover none of the {} found",
            super::count(encrypted.len(), "encrypted file")
        )
    } else {
        format!(
            "leave out {} of the {} found",
            left.len(),
            super::count(encrypted.len(), "encrypted file")
        )
    };
    let mut msg = format!(
        "the patterns {how_many}: git diff shows their ciphertext and merges conflict on them:"
    );
    const SHOWN: usize = 20;
    for f in left.iter().take(SHOWN) {
        msg.push_str(&format!("\n  {f}"));
    }
    if left.len() > SHOWN {
        msg.push_str(&format!("\n  ... and {} more", left.len() - SHOWN));
    }
    warn(&msg);
    let mut suggested: Vec<String> = left.iter().map(|f| suggest_pattern(f)).collect();
    suggested.sort();
    suggested.dedup();
    let flags: Vec<String> = suggested
        .iter()
        .map(|p| format!("--pattern {}", shlex::try_quote(p).unwrap_or_default()))
        .collect();
    eprintln!("  hint: kseal git setup {}", flags.join(" "));
    Ok(())
}

/// A .gitattributes pattern for the file's directory and extension: `secrets/*.yaml`.
fn suggest_pattern(file: &str) -> String {
    let (dir, name) = match file.rfind('/') {
        Some(i) => (&file[..=i], &file[i + 1..]),
        None => ("", file),
    };
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{dir}*{}", &name[i..]),
        _ => file.to_string(),
    }
}

/// The YAML and JSON files git tracks or would track (not ignored) that hold a sops envelope,
/// relative to the repository's root.
fn encrypted_files(root: &Path) -> Result<Vec<String>> {
    let root_s = root.to_string_lossy();
    let Some(list) = git(&["-C", &root_s, "ls-files", "-z", "-co", "--exclude-standard"])? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for f in list.split('\0').filter(|f| !f.is_empty()) {
        let yaml = [".yaml", ".yml", ".json"].iter().any(|e| f.ends_with(e));
        if !yaml {
            continue;
        }
        // What kseal would not decrypt (too large) is not worth reading.
        let path = root.join(f);
        if std::fs::metadata(&path).map_or(true, |m| m.len() > fsio::MAX_INPUT) {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        if text.contains("ENC[AES256_GCM,") && text.contains("sops") {
            out.push(f.to_string());
        }
    }
    out.sort();
    Ok(out)
}

/// For each file, whether its `attr` attribute is `kseal` (what .gitattributes says now).
fn attribute_is_kseal(root: &Path, attr: &str, files: &[String]) -> Result<Vec<bool>> {
    let mut result = Vec::with_capacity(files.len());
    for chunk in files.chunks(200) {
        let out = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["check-attr", "-z", attr, "--"])
            .args(chunk)
            .output()
            .map_err(|e| Error::new(Kind::Input, format!("cannot run git: {e}")))?;
        if !out.status.success() {
            return Err(Error::new(Kind::Input, "git check-attr failed"));
        }
        // -z: path NUL attribute NUL value NUL, in the order asked.
        let text = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<&str> = text.split('\0').collect();
        for triple in fields.chunks(3).filter(|t| t.len() == 3) {
            result.push(triple[2] == "kseal");
        }
    }
    if result.len() != files.len() {
        return Err(Error::new(
            Kind::Internal,
            "git check-attr answered for other files",
        ));
    }
    Ok(result)
}

/// Appends `PATTERN diff=kseal merge=kseal` lines that are not there yet.
fn write_attributes(path: &Path, patterns: &[String], attrs: &[&str]) -> Result<()> {
    let existing = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Error::new(
                Kind::Input,
                format!("cannot read {}: {e}", path.display()),
            ))
        }
    };
    let mut add = String::new();
    for p in patterns {
        if p.chars().any(char::is_whitespace) {
            return Err(Error::new(
                Kind::Usage,
                format!("the pattern `{p}` contains a space, which .gitattributes cannot hold"),
            ));
        }
        let missing: Vec<&str> = attrs
            .iter()
            .copied()
            .filter(|attr| {
                !existing.lines().any(|l| {
                    let mut w = l.split_whitespace();
                    w.next() == Some(p.as_str()) && w.any(|x| x == *attr)
                })
            })
            .collect();
        if !missing.is_empty() {
            add.push_str(&format!("{p} {}\n", missing.join(" ")));
        }
    }
    if add.is_empty() {
        return Ok(());
    }
    let mut text = existing.clone();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if !existing.contains("# kseal") {
        text.push_str(
            "# kseal: decrypted diffs and per-key merges of encrypted Secrets (kseal git setup)\n",
        );
    }
    text.push_str(&add);
    fsio::write_atomic(path, text.as_bytes(), 0o644)
}
