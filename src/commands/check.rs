//! `kseal check [PATH]... [--json] [--workloads]`: fails when something secret would be
//! committed in plain text; warns about Secrets exposed to workloads as environment variables.
//! The rules and the walk are `kseal::ops::check`; this file reads the files, finds each one's
//! `.sops.yaml`, prints the report and turns errors into the exit code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kseal::check::report;
use kseal::config::Config;
use kseal::error::{Error, Kind, Result};
use kseal::ops::check::{self, Options, Report};

use crate::cli::CheckArgs;
use crate::fsio::{self, Input};

/// The files as the binary sees them: read through `fsio`; the `.sops.yaml` for a file is
/// `--config`, else the nearest one above it, up to the repository's top or `$HOME` (cached
/// per directory).
struct Files {
    explicit: Option<(PathBuf, Config)>,
    found: HashMap<PathBuf, Option<(PathBuf, Config)>>,
}

impl check::Tree for Files {
    fn read(&mut self, path: &Path) -> Result<String> {
        if path.as_os_str() == "-" {
            return fsio::read_input(&Input::Stdin);
        }
        fsio::read_input(&Input::File(path.to_path_buf()))
    }

    fn config_for(&mut self, path: &Path) -> Result<Option<(String, &Config)>> {
        if path.as_os_str() == "-" {
            return Ok(None);
        }
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let found = match &self.explicit {
            Some(c) => Some(c),
            None => {
                let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
                if !self.found.contains_key(&dir) {
                    let hit = match super::find_sops_yaml(&dir) {
                        Some(c) => Some(load(&c)?),
                        None => None,
                    };
                    self.found.insert(dir.clone(), hit);
                }
                self.found.get(&dir).and_then(|c| c.as_ref())
            }
        };
        Ok(found.and_then(|(dir, config)| {
            let rel = abs.strip_prefix(dir).ok()?;
            Some((rel.to_string_lossy().into_owned(), config))
        }))
    }
}

fn load(path: &Path) -> Result<(PathBuf, Config)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(Kind::Config, format!("cannot read {}: {e}", path.display())))?;
    let config = Config::parse(&text).map_err(|e| e.in_file(path.display().to_string()))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((std::fs::canonicalize(&dir).unwrap_or(dir), config))
}

pub fn run(a: &CheckArgs) -> Result<()> {
    let paths = if a.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        a.paths.clone()
    };
    let files: Vec<PathBuf> = fsio::expand_inputs(&paths)?
        .into_iter()
        .map(|i| match i {
            Input::File(p) => p,
            Input::Stdin => PathBuf::from("-"),
        })
        .collect();
    let mut tree = Files {
        explicit: a.config.as_deref().map(load).transpose()?,
        found: HashMap::new(),
    };
    let opts = Options {
        workloads: a.workloads,
    };
    let report = check::run(&files, &opts, &mut tree)?;
    let out = if a.json {
        report::json(&report)
    } else {
        // Findings quote key and file names: control characters are shown escaped.
        kseal::error::escape_controls(&report::text(&report), true).into_owned()
    };
    fsio::write_stdout(out.as_bytes())?;
    verdict(&report, a.json)
}

/// Exit 10 when an error was found (naming the files not checked); a summary on stderr.
fn verdict(report: &Report, json: bool) -> Result<()> {
    let (errors, warnings) = (report.errors(), report.warnings());
    if errors > 0 {
        let mut msg = format!(
            "kseal check: {} found in {}",
            super::count(errors, "problem"),
            super::count(report.files, "file")
        );
        let unread = report.unread();
        if !unread.is_empty() {
            msg.push_str(&format!("; not checked: {}", unread.join(", ")));
        }
        return Err(Error::new(Kind::Refused, msg)
            .with_hint("encrypt Secrets with `kseal encrypt -i FILE`; `kseal check --help` says what each finding means"));
    }
    if !json {
        eprintln!(
            "kseal check: {} checked, no problem{}",
            super::count(report.files, "file"),
            if warnings > 0 {
                format!(", {}", super::count(warnings, "warning"))
            } else {
                String::new()
            }
        );
    }
    Ok(())
}
