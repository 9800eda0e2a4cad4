//! A repository's `kseal check` settings: the `check:` section of its `.sops.yaml` (sops ignores
//! keys it does not know). Command-line flags win over it. A typo is an error, not a rule
//! silently left on or off.
//!
//! ```yaml
//! check:
//!   disable: [rbac-escalation, encryption-aescbc]
//!   fail-on: warning        # error (default), warning or never
//!   max-age: 90d
//!   workloads: true
//! ```

use super::rules;
use super::Severity;
use crate::error::{Error, Kind, Result};
use crate::sops::rekey;
use crate::yaml::tree::{self, Node};

/// When the check fails (exit 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailOn {
    /// On an error (the default).
    #[default]
    Error,
    /// On an error or a warning (notes never fail).
    Warning,
    /// Never: a report only (for a job that uploads SARIF).
    Never,
}

impl FailOn {
    pub fn parse(s: &str) -> Result<FailOn> {
        match s {
            "error" => Ok(FailOn::Error),
            "warning" => Ok(FailOn::Warning),
            "never" => Ok(FailOn::Never),
            _ => Err(Error::new(
                Kind::Config,
                format!("fail-on `{s}`: expected error, warning or never"),
            )),
        }
    }

    /// Whether a finding of this severity fails the check.
    pub fn fails_on(self, s: Severity) -> bool {
        match self {
            FailOn::Error => s == Severity::Error,
            FailOn::Warning => matches!(s, Severity::Error | Severity::Warning),
            FailOn::Never => false,
        }
    }
}

/// The `check:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub disable: Vec<String>,
    pub fail_on: Option<FailOn>,
    /// Seconds.
    pub max_age: Option<u64>,
    pub workloads: bool,
}

/// Checks that every id names a rule (`--disable`, `disable:`).
pub fn known_rules(ids: &[String]) -> Result<()> {
    for id in ids {
        if rules::find(id).is_none() {
            return Err(Error::new(
                Kind::Usage,
                format!("`{id}` is not a kseal check rule (the rules are listed by `kseal check --help`)"),
            ));
        }
    }
    Ok(())
}

/// The `check:` section of a `.sops.yaml` text (defaults when there is none).
pub fn from_sops_yaml(text: &str) -> Result<Settings> {
    let stream = tree::parse(text)?;
    let mut s = Settings::default();
    let Some(section) = stream
        .docs
        .first()
        .and_then(|d| d.root_mapping())
        .and_then(|m| m.get("check"))
    else {
        return Ok(s);
    };
    let bad = |what: String| Error::new(Kind::Config, format!("the check section: {what}"));
    let Some(m) = section.as_mapping() else {
        return Err(bad(
            "expected a mapping (disable, fail-on, max-age, workloads)".into(),
        ));
    };
    for (k, v) in &m.entries {
        let key = k.as_scalar().map(|s| &*s.value).unwrap_or("?");
        let text = v.as_scalar().map(|s| s.value.trim().to_string());
        match key {
            "disable" => {
                s.disable = match v {
                    Node::Sequence(q) => q
                        .items
                        .iter()
                        .filter_map(|i| i.as_scalar().map(|s| s.value.trim().to_string()))
                        .collect(),
                    _ => text
                        .unwrap_or_default()
                        .split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect(),
                };
                known_rules(&s.disable).map_err(|e| bad(e.message))?;
            }
            "fail-on" => {
                s.fail_on =
                    Some(FailOn::parse(&text.unwrap_or_default()).map_err(|e| bad(e.message))?)
            }
            "max-age" => {
                s.max_age = Some(
                    rekey::parse_duration(&text.unwrap_or_default()).map_err(|e| bad(e.message))?,
                )
            }
            "workloads" => {
                s.workloads = match text.as_deref() {
                    Some("true") => true,
                    Some("false") => false,
                    _ => return Err(bad("workloads: expected true or false".into())),
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown key `{other}` (expected disable, fail-on, max-age, workloads)"
                )))
            }
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_section() {
        let s = from_sops_yaml("creation_rules: []\ncheck:\n  disable: [rbac-escalation, encryption-aescbc]\n  fail-on: warning\n  max-age: 90d\n  workloads: true\n").unwrap();
        assert_eq!(s.disable, ["rbac-escalation", "encryption-aescbc"]);
        assert_eq!(s.fail_on, Some(FailOn::Warning));
        assert_eq!(s.max_age, Some(90 * 86_400));
        assert!(s.workloads);
        assert_eq!(
            from_sops_yaml("creation_rules: []\n").unwrap(),
            Settings::default()
        );
        assert_eq!(
            from_sops_yaml("check:\n  disable: merge-key, unreadable\n")
                .unwrap()
                .disable,
            ["merge-key", "unreadable"]
        );
        for bad in [
            "check:\n  disable: [nope]\n",
            "check:\n  fail-on: sometimes\n",
            "check:\n  max-age: soon\n",
            "check:\n  colour: red\n",
            "check: [a]\n",
        ] {
            let e = from_sops_yaml(bad).unwrap_err();
            assert_eq!(e.kind, Kind::Config, "{bad}");
            assert!(e.message.starts_with("the check section"), "{}", e.message);
        }
    }

    #[test]
    fn fail_on_levels() {
        assert!(
            FailOn::Error.fails_on(Severity::Error) && !FailOn::Error.fails_on(Severity::Warning)
        );
        assert!(
            FailOn::Warning.fails_on(Severity::Warning)
                && !FailOn::Warning.fails_on(Severity::Note)
        );
        assert!(!FailOn::Never.fails_on(Severity::Error));
    }
}
