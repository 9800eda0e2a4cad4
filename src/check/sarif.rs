//! `kseal check --format sarif`: SARIF 2.1.0 (the format code-scanning services read), one run,
//! every rule of the catalogue in `tool.driver.rules`, each finding a result with its rule, level,
//! message and location (the file relative to the scanned root, the start line). Suppressed
//! findings are results with an `inSource` suppression, as SARIF says.

use super::report::string;
use super::rules::RULES;
use super::Severity;
use crate::ops::check::{Located, Report};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// The SARIF log of a report, pretty-printed, with a final line break.
pub fn render(report: &Report) -> String {
    let rules: Vec<String> = RULES
        .iter()
        .map(|r| {
            format!(
                "        {{\n          \"id\": {id},\n          \"name\": {id},\n          \"shortDescription\": {{ \"text\": {} }},\n          \"help\": {{ \"text\": {} }},\n          \"defaultConfiguration\": {{ \"level\": \"{}\" }},\n          \"helpUri\": \"https://github.com/kseal/kseal/blob/main/docs/check.md#{}\"\n        }}",
                string(r.short),
                string(r.help),
                level(r.severity),
                r.id,
                id = string(r.id),
            )
        })
        .collect();
    let results: Vec<String> = report
        .findings
        .iter()
        .map(|l| result(l, false))
        .chain(report.suppressed.iter().map(|l| result(l, true)))
        .collect();
    format!(
        "{{\n  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n  \"version\": \"2.1.0\",\n  \"runs\": [\n    {{\n      \"tool\": {{\n        \"driver\": {{\n          \"name\": \"kseal\",\n          \"version\": \"{}\",\n          \"informationUri\": \"https://github.com/kseal/kseal\",\n          \"rules\": [\n{}\n          ]\n        }}\n      }},\n      \"columnKind\": \"unicodeCodePoints\",\n      \"results\": [{}]\n    }}\n  ]\n}}\n",
        env!("CARGO_PKG_VERSION"),
        rules.join(",\n"),
        if results.is_empty() {
            String::new()
        } else {
            format!("\n{}\n      ", results.join(",\n"))
        }
    )
}

fn result(l: &Located, suppressed: bool) -> String {
    let f = &l.finding;
    let index = RULES.iter().position(|r| r.id == f.code).unwrap_or(0);
    let mut text = f.message.clone();
    if let Some(p) = f.path.as_deref().filter(|p| !p.is_empty()) {
        text = format!("{p}: {text}");
    }
    let suppressions = if suppressed {
        ",\n          \"suppressions\": [{ \"kind\": \"inSource\", \"justification\": \"# kseal: ignore\" }]"
    } else {
        ""
    };
    format!(
        "        {{\n          \"ruleId\": \"{}\",\n          \"ruleIndex\": {index},\n          \"level\": \"{}\",\n          \"message\": {{ \"text\": {} }},\n          \"locations\": [{{ \"physicalLocation\": {{ \"artifactLocation\": {{ \"uri\": {}, \"uriBaseId\": \"%SRCROOT%\" }}, \"region\": {{ \"startLine\": {} }} }} }}]{suppressions}\n        }}",
        f.code,
        level(f.severity),
        string(&text),
        string(&uri(&l.file)),
        l.line.max(1),
    )
}

/// A relative file path as a URI reference: `/` kept, everything outside RFC 3986's unreserved
/// characters percent-encoded (spaces, `#`, `%`, non-ASCII bytes).
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(uri("deploy/a b#1%.yaml"), "deploy/a%20b%231%25.yaml");
        assert_eq!(uri("é.yaml"), "%C3%A9.yaml");
    }
}
