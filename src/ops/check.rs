//! The use case of `kseal check`: walk the files of a tree, run every rule of `crate::check` on
//! each, place each finding on a line, apply the `# kseal: ignore` comments and `--disable`, and
//! collect the findings with their file names. Reading files and finding `.sops.yaml` happen
//! behind `Tree`, which the binary implements; a file that cannot be read or parsed is a
//! finding (a gate fails on what it did not see).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::check::envelope::{self, Wanted};
use crate::check::{self, Finding, Inventory, Rbac, Severity};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::kube;
use crate::sops::rekey;
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
    /// `--max-age` and the structural-MAC requirement.
    pub envelope: envelope::Policy,
    /// Rule ids whose findings are dropped (`--disable`, the `check:` configuration).
    pub disabled: Vec<String>,
}

/// A finding in a named file.
#[derive(Debug, Clone)]
pub struct Located {
    /// The file as given, relative to the current directory (`./` dropped).
    pub file: String,
    /// The 1-based line of the object or field the finding is about (1 for a whole file).
    pub line: usize,
    pub finding: Finding,
}

/// Everything one check found.
#[derive(Debug, Default)]
pub struct Report {
    /// How many files were checked.
    pub files: usize,
    pub findings: Vec<Located>,
    /// Findings a `# kseal: ignore` comment suppressed (counted, listed on request).
    pub suppressed: Vec<Located>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    pub fn notes(&self) -> usize {
        self.count(Severity::Note)
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

/// What is gathered across files: the workloads' references and the RBAC roles and bindings.
#[derive(Default)]
struct Across {
    names: Vec<String>,
    inventory: Inventory,
    rbac: Rbac,
    /// The places of the files that hold references or bindings, by file index.
    places: HashMap<usize, Places>,
}

/// Checks every file and returns what was found. An error is returned only for what stops the
/// whole check (a `.sops.yaml` that cannot be read); a file's own problems are findings.
pub fn run(files: &[PathBuf], opts: &Options, tree: &mut dyn Tree) -> Result<Report> {
    let mut report = Report {
        files: files.len(),
        ..Report::default()
    };
    let mut across = Across::default();
    for path in files {
        let name = path.strip_prefix(".").unwrap_or(path).display().to_string();
        let file_index = across.names.len();
        across.names.push(name.clone());
        let text = match tree.read(path) {
            Ok(t) => t,
            Err(e) => {
                let f = unreadable(Severity::Error, &e.message);
                keep(&mut report, opts, &name, 1, f, false);
                continue;
            }
        };
        let stream = match tree::parse(&text) {
            Ok(s) => s,
            Err(e) => {
                keep(&mut report, opts, &name, 1, not_parsed(&text, e), false);
                continue;
            }
        };
        let before = across.inventory.refs.len() + across.rbac.len();
        let found = check_file(path, &stream, file_index, opts, tree, &mut across)?;
        let places = Places::new(&text, &stream);
        for f in found {
            let (line, ignored) = places.place(&f);
            keep(&mut report, opts, &name, line, f, ignored);
        }
        if across.inventory.refs.len() + across.rbac.len() > before {
            across.places.insert(file_index, places);
        }
    }
    let mut late = check::broad_bindings(&across.rbac);
    if opts.workloads {
        late.extend(check::missing_secrets(&across.inventory));
    }
    for (fi, f) in late {
        let (line, ignored) = across.places.get(&fi).map_or((1, false), |p| p.place(&f));
        keep(&mut report, opts, &across.names[fi], line, f, ignored);
    }
    Ok(report)
}

/// Every rule on one parsed file.
fn check_file(
    path: &Path,
    stream: &Stream,
    file_index: usize,
    opts: &Options,
    tree: &mut dyn Tree,
    across: &mut Across,
) -> Result<Vec<Finding>> {
    let kustomization = is_kustomization_name(path);
    let mut found = check::check_stream(stream, kustomization);
    found.extend(sops_rule(path, stream, tree)?);
    found.extend(envelope_rules(path, stream, opts, tree)?);
    found.extend(check::review_rbac(stream, file_index, &mut across.rbac));
    found.extend(check::review_encryption(stream));
    if opts.workloads {
        found.extend(check::review_workloads(
            stream,
            file_index,
            kustomization,
            &mut across.inventory,
        ));
    }
    Ok(found)
}

fn keep(report: &mut Report, opts: &Options, file: &str, line: usize, f: Finding, ignored: bool) {
    if opts.disabled.iter().any(|d| d == f.code) {
        return;
    }
    let l = Located {
        file: file.to_string(),
        line,
        finding: f,
    };
    if ignored {
        report.suppressed.push(l);
    } else {
        report.findings.push(l);
    }
}

/// Where findings are in one file: line numbers, each document's first and `kind:` lines, and
/// the `# kseal: ignore` comments. Owned, so that findings judged after the whole tree was
/// read (bindings, missing Secrets) are placed too.
struct Places {
    /// Byte offsets of the line breaks.
    breaks: Vec<usize>,
    /// Per document: the offset of its root and the line of its `kind:` key.
    docs: Vec<(Option<usize>, Option<usize>)>,
    /// `(line, ids)` of each ignore comment (no ids: every rule).
    ignores: Vec<(usize, Vec<String>)>,
}

impl Places {
    fn new(text: &str, stream: &Stream) -> Self {
        let breaks: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).collect();
        let mut p = Places {
            breaks,
            docs: Vec::new(),
            ignores: Vec::new(),
        };
        for d in &stream.docs {
            let root = d.root.as_ref().map(|r| r.start());
            let kind = d
                .root_mapping()
                .and_then(|m| m.entry("kind"))
                .map(|(k, _)| p.line(k.start()));
            p.docs.push((root, kind));
            for c in &d.comments {
                if let Some(ids) = ignore_ids(&c.text) {
                    p.ignores.push((p.line(c.start), ids));
                }
            }
        }
        p
    }

    fn line(&self, offset: usize) -> usize {
        self.breaks.partition_point(|&b| b < offset) + 1
    }

    /// The finding's line, and whether a comment on it or on its document's `kind:` line
    /// suppresses it.
    fn place(&self, f: &Finding) -> (usize, bool) {
        let (root, kind_line) = f
            .doc
            .and_then(|d| self.docs.get(d).copied())
            .unwrap_or_default();
        let line = match (f.at, root) {
            (Some(at), _) => self.line(at),
            (None, Some(r)) => self.line(r),
            (None, None) => 1,
        };
        let ignored = self.ignores.iter().any(|(l, ids)| {
            (*l == line || Some(*l) == kind_line)
                && (ids.is_empty() || ids.iter().any(|i| i == f.code))
        });
        (line, ignored)
    }
}

/// The rule ids of a `# kseal: ignore` or `# kseal: ignore=ID,ID` comment (text after `#`);
/// `None` for any other comment, `Some(empty)` for every rule.
fn ignore_ids(comment: &str) -> Option<Vec<String>> {
    let rest = comment.trim().strip_prefix("kseal:")?.trim_start();
    let rest = rest.strip_prefix("ignore")?;
    if rest.trim().is_empty() {
        return Some(Vec::new());
    }
    let ids = rest.trim_start().strip_prefix('=')?;
    let ids: Vec<String> = ids
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!ids.is_empty()).then_some(ids)
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

fn is_enveloped(stream: &Stream) -> bool {
    envelope::block(stream).is_some()
        || stream
            .docs
            .iter()
            .any(|d| d.root_mapping().is_some_and(|m| m.get("sops").is_some()))
}

/// `sops-rule-unencrypted`: a file with content and no envelope that a `.sops.yaml` rule naming
/// paths covers. Only rules with `path_regex`: a catch-all rule says how to encrypt, not what.
fn sops_rule(path: &Path, stream: &Stream, tree: &mut dyn Tree) -> Result<Option<Finding>> {
    let has_content = stream.docs.iter().any(|d| d.root.is_some());
    if is_enveloped(stream) || !has_content {
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

/// The envelope rules of an encrypted file (structural MAC, `--max-age`, recipients against
/// `.sops.yaml`). A `sops:` block that cannot be read is an error: the gate did not see it.
fn envelope_rules(
    path: &Path,
    stream: &Stream,
    opts: &Options,
    tree: &mut dyn Tree,
) -> Result<Vec<Finding>> {
    let Some(block) = envelope::block(stream) else {
        return Ok(Vec::new());
    };
    let meta = match rekey::inspect_stream(stream) {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(Vec::new()),
        Err(e) => {
            let f = unreadable(Severity::Error, &format!("not checked: {}", e.message));
            return Ok(vec![f.in_doc(block.0, "sops".into()).at(block.1.start)]);
        }
    };
    let wanted = match tree.config_for(path)? {
        Some((rel, config)) => wanted(config, &rel, stream),
        None => None,
    };
    Ok(envelope::review(
        block,
        &meta,
        &opts.envelope,
        wanted.as_ref(),
    ))
}

/// The envelope the `.sops.yaml` rule for a file asks for; `None` when no rule with age
/// recipients matches (nothing to compare with), or for key groups (compared by `status`).
fn wanted(config: &Config, rel: &str, stream: &Stream) -> Option<Wanted> {
    let rule = config.rule_for_file(rel, &kube::secret_namespaces(stream))?;
    if rule.age.is_empty() || rule.key_groups > 1 {
        return None;
    }
    let (crypt, mac_only_encrypted) = crate::ops::plan::rule_crypt(rule);
    Some(Wanted {
        recipients: rule.age.clone(),
        rule: crypt,
        mac_only_encrypted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_comments() {
        assert_eq!(ignore_ids(" kseal: ignore"), Some(vec![]));
        assert_eq!(
            ignore_ids(" kseal: ignore=rbac-secrets-get, secret-in-env"),
            Some(vec!["rbac-secrets-get".into(), "secret-in-env".into()])
        );
        assert_eq!(ignore_ids(" kseal:ignore "), Some(vec![]));
        assert_eq!(ignore_ids(" kseal: ignored"), None);
        assert_eq!(ignore_ids(" kseal: ignore="), None);
        assert_eq!(ignore_ids(" please kseal: ignore"), None);
    }
}
