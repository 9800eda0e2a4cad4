//! `kseal check [PATH]... [--format text|json|sarif] [--workloads] [--fail-on LEVEL]...`: the
//! policy gate for a GitOps repository (plain Secrets, RBAC, encryption at rest, envelopes).
//! The rules and the walk are `kseal::ops::check`; this file reads the files, finds each one's
//! `.sops.yaml`, prints the report and turns errors into the exit code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use kseal::check::envelope;
use kseal::check::report;
use kseal::check::settings::{self, FailOn, Settings};
use kseal::config::Config;
use kseal::error::{Error, Kind, Result};
use kseal::ops::check::{self, Options, Report};
use kseal::sops::rekey;

use crate::cli::{CheckArgs, CheckFailOn, CheckFormat};
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
    let settings = repository_settings(a.config.file.as_deref())?;
    let opts = options(a, &settings)?;
    let fail_on = match a.fail_on {
        Some(CheckFailOn::Error) => FailOn::Error,
        Some(CheckFailOn::Warning) => FailOn::Warning,
        Some(CheckFailOn::Never) => FailOn::Never,
        None => settings.fail_on.unwrap_or_default(),
    };
    let files: Vec<PathBuf> = fsio::expand_inputs(&paths)?
        .into_iter()
        .map(|i| match i {
            Input::File(p) => p,
            Input::Stdin => PathBuf::from("-"),
        })
        .collect();
    let mut tree = Files {
        explicit: a.config.file.as_deref().map(load).transpose()?,
        found: HashMap::new(),
    };
    let start = OffsetDateTime::now_utc();
    let report = check::run(&files, &opts, &mut tree)?;
    let format = if a.json { CheckFormat::Json } else { a.format };
    let out = match format {
        CheckFormat::Json => report::json(&report, a.show_suppressed),
        CheckFormat::Sarif => kseal::check::sarif::render(&report),
        CheckFormat::GitlabSast => {
            kseal::check::gitlab::render(&report, start, OffsetDateTime::now_utc())
        }
        // Findings quote key and file names: control characters are shown escaped.
        CheckFormat::Text => {
            let text = report::text(&report, a.show_suppressed);
            kseal::error::escape_controls(&text, true).into_owned()
        }
    };
    fsio::write_stdout(out.as_bytes())?;
    verdict(&report, fail_on, format == CheckFormat::Text)
}

/// The `check:` section of the `.sops.yaml` named by `--config` or found from the current
/// directory (defaults without one).
fn repository_settings(config: Option<&Path>) -> Result<Settings> {
    let path = match config {
        Some(p) => Some(p.to_path_buf()),
        None => std::env::current_dir()
            .ok()
            .and_then(|d| super::find_sops_yaml(&d)),
    };
    let Some(path) = path else {
        return Ok(Settings::default());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::new(Kind::Config, format!("cannot read {}: {e}", path.display())))?;
    settings::from_sops_yaml(&text).map_err(|e| e.in_file(path.display().to_string()))
}

/// The options of the run: flags win over the repository's settings.
fn options(a: &CheckArgs, settings: &Settings) -> Result<Options> {
    settings::known_rules(&a.disable)?;
    let max_age = match &a.max_age {
        Some(d) => Some(rekey::parse_duration(d)?),
        None => settings.max_age,
    };
    let mut disabled = settings.disable.clone();
    disabled.extend(a.disable.iter().cloned());
    Ok(Options {
        workloads: a.workloads || settings.workloads,
        envelope: envelope::Policy {
            max_age: max_age.map(|m| (m, OffsetDateTime::now_utc())),
            require_structural_mac: super::read_options().require_structural_mac,
        },
        disabled,
    })
}

/// Exit 10 when a finding at the `--fail-on` level was found (naming the files not checked);
/// a summary on stderr.
fn verdict(report: &Report, fail_on: FailOn, text: bool) -> Result<()> {
    let failing = report
        .findings
        .iter()
        .filter(|l| fail_on.fails_on(l.finding.severity))
        .count();
    if failing > 0 {
        let mut msg = format!(
            "kseal check: {} found in {}",
            super::count(failing, "problem"),
            super::count(report.files, "file")
        );
        let unread = report.unread();
        if !unread.is_empty() {
            msg.push_str(&format!("; not checked: {}", unread.join(", ")));
        }
        return Err(Error::new(Kind::Refused, msg)
            .with_hint("encrypt Secrets with `kseal encrypt -i FILE`; `kseal check --help` says what each finding means"));
    }
    if text {
        let mut extra = String::new();
        let errors = report.errors();
        if errors > 0 {
            extra.push_str(&format!(
                ", {} (--fail-on never)",
                super::count(errors, "error")
            ));
        }
        for (n, what) in [(report.warnings(), "warning"), (report.notes(), "note")] {
            if n > 0 {
                extra.push_str(&format!(", {}", super::count(n, what)));
            }
        }
        if !report.suppressed.is_empty() {
            extra.push_str(&format!(", {} suppressed", report.suppressed.len()));
        }
        let problem = if errors > 0 { "" } else { ", no problem" };
        eprintln!(
            "kseal check: {} checked{problem}{extra}",
            super::count(report.files, "file"),
        );
    }
    Ok(())
}
