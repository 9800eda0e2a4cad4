//! The use case of `kseal check`: walk the files of a tree, run every rule of `crate::check` on
//! each, and collect the findings with their file names. Reading files and finding `.sops.yaml`
//! happen behind `Tree`, which the binary implements; a file that cannot be read or parsed is
//! a finding (a gate fails on what it did not see).

use std::path::{Path, PathBuf};

use crate::check::{self, Finding, Inventory, Severity};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::yaml::tree::{self, Stream};

/// The files being checked, as the binary sees them.
pub trait Tree {
    /// The text of one file (`-`: standard input).
    fn read(&mut self, path: &Path) -> Result<String>;
    /// The `.sops.yaml` that governs a file and the file's path relative to that file's
    /// directory (what its `path_regex` rules match); `None` when there is none, or when the
    /// file is outside that directory.
    fn config_for(&mut self, path: &Path) -> Result<Option<(String, &Config)>>;
}

/// What to check besides the rules that always run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Review how workloads consume Secrets (`--workloads`).
    pub workloads: bool,
}

/// A finding in a named file.
#[derive(Debug, Clone)]
pub struct Located {
    /// The file as given, relative to the current directory (`./` dropped).
    pub file: String,
    pub finding: Finding,
}

/// Everything one check found.
#[derive(Debug, Default)]
pub struct Report {
    /// How many files were checked.
    pub files: usize,
    pub findings: Vec<Located>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|l| l.finding.severity == severity)
            .count()
    }

    /// The files the check could not read or parse (an error, not a template's warning).
    pub fn unread(&self) -> Vec<&str> {
        self.findings
            .iter()
            .filter(|l| l.finding.code == "unreadable" && l.finding.severity == Severity::Error)
            .map(|l| l.file.as_str())
            .collect()
    }
}

/// Checks every file and returns what was found. An error is returned only for what stops the
/// whole check (a `.sops.yaml` that cannot be read); a file's own problems are findings.
pub fn run(files: &[PathBuf], opts: &Options, tree: &mut dyn Tree) -> Result<Report> {
    let mut report = Report {
        files: files.len(),
        findings: Vec::new(),
    };
    let mut inventory = Inventory::default();
    let mut names: Vec<String> = Vec::new();
    for path in files {
        let name = path.strip_prefix(".").unwrap_or(path).display().to_string();
        let file_index = names.len();
        names.push(name.clone());
        let mut found = Vec::new();
        let text = match tree.read(path) {
            Ok(t) => t,
            Err(e) => {
                found.push(unreadable(Severity::Error, &e.message));
                push_all(&mut report, &name, found);
                continue;
            }
        };
        match tree::parse(&text) {
            Ok(stream) => {
                let kustomization = is_kustomization_name(path);
                found.extend(check::check_stream(&stream, kustomization));
                found.extend(sops_rule(path, &stream, tree)?);
                if opts.workloads {
                    found.extend(check::review_workloads(
                        &stream,
                        file_index,
                        kustomization,
                        &mut inventory,
                    ));
                }
            }
            Err(e) => found.push(not_parsed(&text, e)),
        }
        push_all(&mut report, &name, found);
    }
    if opts.workloads {
        for (fi, f) in check::missing_secrets(&inventory) {
            report.findings.push(Located {
                file: names[fi].clone(),
                finding: f,
            });
        }
    }
    Ok(report)
}

fn push_all(report: &mut Report, name: &str, found: Vec<Finding>) {
    report
        .findings
        .extend(found.into_iter().map(|finding| Located {
            file: name.to_string(),
            finding,
        }));
}

fn is_kustomization_name(p: &Path) -> bool {
    matches!(
        p.file_name().and_then(|n| n.to_str()),
        Some("kustomization.yaml" | "kustomization.yml" | "Kustomization")
    )
}

fn unreadable(severity: Severity, msg: &str) -> Finding {
    Finding::file(severity, "unreadable", msg.to_string())
}

/// A file that does not parse is an error, unless it is a template (Helm's `{{ }}`), which no
/// manifest reader takes as it is: a warning then.
fn not_parsed(text: &str, e: Error) -> Finding {
    let (severity, what) = if text.contains("{{") {
        (Severity::Warning, "not checked (a template?)")
    } else {
        (Severity::Error, "not checked: not valid YAML")
    };
    let e = Error { file: None, ..e };
    unreadable(severity, &format!("{what}: {e}"))
}

/// `sops-rule-unencrypted`: a file with content and no envelope that a `.sops.yaml` rule naming
/// paths covers. Only rules with `path_regex`: a catch-all rule says how to encrypt, not what.
fn sops_rule(path: &Path, stream: &Stream, tree: &mut dyn Tree) -> Result<Option<Finding>> {
    let enveloped = stream
        .docs
        .iter()
        .any(|d| d.root_mapping().is_some_and(|m| m.get("sops").is_some()));
    let has_content = stream.docs.iter().any(|d| d.root.is_some());
    if enveloped || !has_content {
        return Ok(None);
    }
    let Some((rel, config)) = tree.config_for(path)? else {
        return Ok(None);
    };
    let Some(re) = config.rule_for(&rel).and_then(|r| r.path_regex.as_ref()) else {
        return Ok(None);
    };
    Ok(Some(Finding::file(
        Severity::Error,
        "sops-rule-unencrypted",
        format!(
            "the file matches the .sops.yaml rule `path_regex: {}` but is not encrypted",
            re.as_str()
        ),
    )))
}
