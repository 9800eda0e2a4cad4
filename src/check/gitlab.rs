//! `kseal check --format gitlab-sast`: the findings as a GitLab SAST report (security report
//! schema 15), which GitLab shows in merge requests and the vulnerability report
//! (`artifacts: reports: sast:`). Suppressed findings are left out. Each finding's `id` is a
//! digest of its rule, file, line and path, so the same finding keeps its id between pipelines.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::report::string;
use super::rules;
use super::Severity;
use crate::ops::check::{Located, Report};

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "High",
        Severity::Warning => "Medium",
        Severity::Note => "Info",
    }
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC), the time format of the schema.
fn timestamp(t: OffsetDateTime) -> String {
    let layout = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    t.to_offset(time::UtcOffset::UTC)
        .format(&layout)
        .unwrap_or_default()
}

/// The report, with the scan's start and end times.
pub fn render(report: &Report, start: OffsetDateTime, end: OffsetDateTime) -> String {
    let tool = format!(
        "{{\"id\":\"kseal\",\"name\":\"kseal check\",\"version\":\"{}\",\"vendor\":{{\"name\":\"kseal\"}}}}",
        env!("CARGO_PKG_VERSION")
    );
    let items: Vec<String> = report.findings.iter().map(vulnerability).collect();
    format!(
        "{{\"version\":\"15.0.7\",\"scan\":{{\"analyzer\":{tool},\"scanner\":{tool},\"type\":\"sast\",\"start_time\":\"{}\",\"end_time\":\"{}\",\"status\":\"success\"}},\"vulnerabilities\":[{}]}}\n",
        timestamp(start),
        timestamp(end),
        items.join(",")
    )
}

fn vulnerability(l: &Located) -> String {
    let f = &l.finding;
    let path = f.path.as_deref().unwrap_or("");
    let mut h = Sha256::new();
    for part in [f.code, &l.file, &l.line.to_string(), path] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let id: String = h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let short = rules::find(f.code).map_or("", |r| r.short);
    let help = rules::find(f.code).map_or("", |r| r.help);
    format!(
        "{{\"id\":\"{id}\",\"name\":{},\"description\":{},\"solution\":{},\"severity\":\"{}\",\"location\":{{\"file\":{},\"start_line\":{}}},\"identifiers\":[{{\"type\":\"kseal_check_rule\",\"name\":\"kseal check {}\",\"value\":\"{}\"}}]}}",
        string(short),
        string(&f.message),
        string(help),
        severity(f.severity),
        string(&l.file),
        l.line.max(1),
        f.code,
        f.code
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_without_zone_as_the_schema_wants() {
        let t = time::macros::datetime!(2026-12-07 09:05:03 +02:00);
        assert_eq!(timestamp(t), "2026-12-07T07:05:03");
    }
}
