//! `kseal check [PATH]... [--json] [--workloads]`: fails when something secret would be
//! committed in plain text; warns about Secrets exposed to workloads as environment variables.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kseal::check::{self, Finding, Inventory, Severity};
use kseal::config::Config;
use kseal::error::{Error, Kind, Result};
use kseal::yaml::tree;

use super::diff::json_string;
use crate::cli::CheckArgs;
use crate::fsio::{self, Input};

struct Located {
    file: String,
    finding: Finding,
}

/// The `.sops.yaml` for a file: `--config`, else the nearest one above it, up to the
/// repository's top or `$HOME` (cached per dir).
struct Configs {
    explicit: Option<(PathBuf, Config)>,
    found: HashMap<PathBuf, Option<(PathBuf, Config)>>,
}

impl Configs {
    fn for_file(&mut self, path: &Path) -> Result<Option<&(PathBuf, Config)>> {
        if self.explicit.is_some() {
            return Ok(self.explicit.as_ref());
        }
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
        if !self.found.contains_key(&dir) {
            let hit = match super::find_sops_yaml(&dir) {
                Some(c) => Some(load(&c)?),
                None => None,
            };
            self.found.insert(dir.clone(), hit);
        }
        Ok(self.found.get(&dir).and_then(|c| c.as_ref()))
    }
}

fn load(path: &Path) -> Result<(PathBuf, Config)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(Kind::Config, format!("cannot read {}: {e}", path.display())))?;
    let config = Config::parse(&text).map_err(|e| e.in_file(path.display().to_string()))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((std::fs::canonicalize(&dir).unwrap_or(dir), config))
}

fn is_kustomization_name(p: &Path) -> bool {
    matches!(
        p.file_name().and_then(|n| n.to_str()),
        Some("kustomization.yaml" | "kustomization.yml" | "Kustomization")
    )
}

pub fn run(a: &CheckArgs) -> Result<()> {
    let paths = if a.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        a.paths.clone()
    };
    let inputs = fsio::expand_inputs(&paths)?;
    let mut configs = Configs {
        explicit: a.config.as_deref().map(load).transpose()?,
        found: HashMap::new(),
    };
    let mut all: Vec<Located> = Vec::new();
    let mut inventory = Inventory::default();
    let mut names: Vec<String> = Vec::new();
    for input in &inputs {
        let Input::File(path) = input else { continue };
        let name = path.strip_prefix(".").unwrap_or(path).display().to_string();
        let file_index = names.len();
        names.push(name.clone());
        // A gate fails on what it could not see: an unreadable file is an error, and so is
        // one that does not parse, unless it is a template (Helm's `{{ }}`), which no
        // manifest reader takes as it is.
        let text = match fsio::read_input(input) {
            Ok(t) => t,
            Err(e) => {
                all.push(Located {
                    file: name,
                    finding: unreadable(Severity::Error, &e.message),
                });
                continue;
            }
        };
        let stream = match tree::parse(&text) {
            Ok(s) => s,
            Err(e) => {
                let severity = if text.contains("{{") {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                let what = if severity == Severity::Warning {
                    "not checked (a template?)"
                } else {
                    "not checked: not valid YAML"
                };
                let e = Error { file: None, ..e };
                all.push(Located {
                    file: name,
                    finding: unreadable(severity, &format!("{what}: {e}")),
                });
                continue;
            }
        };
        let kustomization = is_kustomization_name(path);
        for f in check::check_stream(&stream, kustomization) {
            all.push(Located {
                file: name.clone(),
                finding: f,
            });
        }
        let enveloped = stream
            .docs
            .iter()
            .any(|d| d.root_mapping().is_some_and(|m| m.get("sops").is_some()));
        let has_content = stream.docs.iter().any(|d| d.root.is_some());
        if !enveloped && has_content {
            if let Some((dir, config)) = configs.for_file(path)? {
                let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
                if let Ok(rel) = abs.strip_prefix(dir) {
                    let rel = rel.to_string_lossy();
                    // Only rules that name paths: a catch-all rule says how to encrypt, not what.
                    if let Some(rule) = config.rule_for(&rel) {
                        if let Some(re) = &rule.path_regex {
                            all.push(Located {
                                file: name.clone(),
                                finding: Finding {
                                    severity: Severity::Error,
                                    code: "sops-rule-unencrypted",
                                    doc: None,
                                    path: None,
                                    message: format!(
                                        "the file matches the .sops.yaml rule `path_regex: {}` but is not encrypted",
                                        re.as_str()
                                    ),
                                },
                            });
                        }
                    }
                }
            }
        }
        if a.workloads {
            for f in check::review_workloads(&stream, file_index, kustomization, &mut inventory) {
                all.push(Located {
                    file: name.clone(),
                    finding: f,
                });
            }
        }
    }
    if a.workloads {
        for (fi, f) in check::missing_secrets(&inventory) {
            all.push(Located {
                file: names[fi].clone(),
                finding: f,
            });
        }
    }
    let errors = all
        .iter()
        .filter(|l| l.finding.severity == Severity::Error)
        .count();
    let warnings = all.len() - errors;
    let out = if a.json {
        json(&all, errors, warnings, inputs.len())
    } else {
        // Findings quote key and file names: control characters are shown escaped.
        kseal::error::escape_controls(&human(&all), true).into_owned()
    };
    fsio::write_stdout(out.as_bytes())?;
    let unread: Vec<&str> = all
        .iter()
        .filter(|l| l.finding.code == "unreadable" && l.finding.severity == Severity::Error)
        .map(|l| l.file.as_str())
        .collect();
    if errors > 0 {
        let mut msg = format!(
            "kseal check: {} found in {}",
            super::count(errors, "problem"),
            super::count(inputs.len(), "file")
        );
        if !unread.is_empty() {
            msg.push_str(&format!("; not checked: {}", unread.join(", ")));
        }
        return Err(Error::new(Kind::Refused, msg)
            .with_hint("encrypt Secrets with `kseal encrypt -i FILE`; `kseal check --help` says what each finding means"));
    }
    if !a.json {
        eprintln!(
            "kseal check: {} checked, no problem{}",
            super::count(inputs.len(), "file"),
            if warnings > 0 {
                format!(", {}", super::count(warnings, "warning"))
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

fn unreadable(severity: Severity, msg: &str) -> Finding {
    Finding {
        severity,
        code: "unreadable",
        doc: None,
        path: None,
        message: msg.to_string(),
    }
}

fn human(all: &[Located]) -> String {
    let mut s = String::new();
    for l in all {
        let f = &l.finding;
        s.push_str(&format!("{}: {}", f.severity.word(), l.file));
        if let Some(d) = f.doc {
            s.push_str(&format!(": document {}", d + 1));
        }
        if let Some(p) = &f.path {
            if !p.is_empty() {
                s.push_str(&format!(": {p}"));
            }
        }
        s.push_str(&format!(": {} [{}]\n", f.message, f.code));
    }
    s
}

fn json(all: &[Located], errors: usize, warnings: usize, files: usize) -> String {
    let items: Vec<String> = all
        .iter()
        .map(|l| {
            let f = &l.finding;
            format!(
                "{{\"severity\":\"{}\",\"code\":\"{}\",\"file\":{},\"document\":{},\"path\":{},\"message\":{}}}",
                f.severity.word(),
                f.code,
                json_string(&l.file),
                f.doc.map(|d| (d + 1).to_string()).unwrap_or_else(|| "null".into()),
                f.path.as_deref().map(json_string).unwrap_or_else(|| "null".into()),
                json_string(&f.message)
            )
        })
        .collect();
    format!(
        "{{\"files\":{files},\"errors\":{errors},\"warnings\":{warnings},\"findings\":[{}]}}\n",
        items.join(",")
    )
}
