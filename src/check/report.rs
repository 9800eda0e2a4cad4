//! How a check's findings are written: the text report for people and the `--format json`
//! object (SARIF is `sarif`).

use crate::ops::check::{Located, Report};

/// One line per finding: `error: FILE: document N: PATH: MESSAGE [CODE]`; with
/// `show_suppressed`, the suppressed findings after them, marked `suppressed`. Not escaped: the
/// caller escapes control characters for the terminal.
pub fn text(report: &Report, show_suppressed: bool) -> String {
    let mut s = String::new();
    for l in &report.findings {
        text_line(&mut s, l, "");
    }
    if show_suppressed {
        for l in &report.suppressed {
            text_line(&mut s, l, "suppressed ");
        }
    }
    s
}

fn text_line(s: &mut String, l: &Located, mark: &str) {
    let f = &l.finding;
    s.push_str(&format!("{mark}{}: {}", f.severity.word(), l.file));
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

/// `{"files":N,"errors":N,"warnings":N,"findings":[...],"notes":N,"suppressed":N}` on one line
/// (the fields after `findings` were added later: older readers keep working); with
/// `show_suppressed`, also `"suppressed_findings":[...]`.
pub fn json(report: &Report, show_suppressed: bool) -> String {
    let items: Vec<String> = report.findings.iter().map(json_finding).collect();
    let hidden = if show_suppressed {
        let items: Vec<String> = report.suppressed.iter().map(json_finding).collect();
        format!(",\"suppressed_findings\":[{}]", items.join(","))
    } else {
        String::new()
    };
    format!(
        "{{\"files\":{},\"errors\":{},\"warnings\":{},\"findings\":[{}],\"notes\":{},\"suppressed\":{}{hidden}}}\n",
        report.files,
        report.errors(),
        report.warnings(),
        items.join(","),
        report.notes(),
        report.suppressed.len(),
    )
}

fn json_finding(l: &Located) -> String {
    let f = &l.finding;
    format!(
        "{{\"severity\":\"{}\",\"code\":\"{}\",\"file\":{},\"document\":{},\"path\":{},\"message\":{},\"line\":{}}}",
        f.severity.word(),
        f.code,
        string(&l.file),
        f.doc
            .map(|d| (d + 1).to_string())
            .unwrap_or_else(|| "null".into()),
        f.path.as_deref().map(string).unwrap_or_else(|| "null".into()),
        string(&f.message),
        l.line
    )
}

/// A JSON string that is also safe on a terminal: the crate's JSON escaper, plus DEL, the C1
/// controls and the bidirectional overrides as `\uXXXX` (JSON allows them raw; a terminal may
/// act on them, and file and key names are chosen by whoever wrote the repository).
pub(crate) fn string(s: &str) -> String {
    use crate::yaml::json::{quote, Escape};
    quote(
        s,
        Escape {
            html: true,
            terminal: true,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::string;

    #[test]
    fn strings_are_json_and_terminal_safe() {
        assert_eq!(string("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(
            string("x\u{9b}y\u{202e}z\u{7f}"),
            "\"x\\u009by\\u202ez\\u007f\""
        );
        assert_eq!(string("\u{1b}[31m"), "\"\\u001b[31m\"");
    }
}
