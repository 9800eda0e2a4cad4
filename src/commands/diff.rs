//! `kseal diff OLD NEW` / `kseal diff FILE --rev REV`: which Secrets and keys changed, from
//! the ciphertext alone (no key needed).

use std::process::Command;

use kseal::encdiff::{self, Report};
use kseal::error::{Error, Kind, Result};

use crate::cli::DiffArgs;
use crate::fsio::{self, Input};

fn git_show(rev: &str, path: &std::path::Path) -> Result<String> {
    // `./` makes the path relative to the working directory, like the user typed it.
    let spec = format!("{rev}:./{}", path.display());
    let out = Command::new("git")
        .args(["show", &spec])
        .output()
        .map_err(|e| Error::new(Kind::Input, format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(Error::new(
            Kind::Input,
            format!(
                "git show {spec} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| Error::format(format!("{spec} is not UTF-8 text")))
}

pub fn run(a: &DiffArgs) -> Result<()> {
    let (old, new, old_name, new_name) = match (&a.new, &a.rev) {
        (Some(n), _) => (
            fsio::read_input(&Input::File(a.old.clone()))
                .map_err(|e| e.in_file(a.old.display().to_string()))?,
            fsio::read_input(&Input::File(n.clone()))
                .map_err(|e| e.in_file(n.display().to_string()))?,
            a.old.display().to_string(),
            n.display().to_string(),
        ),
        (None, Some(rev)) => (
            git_show(rev, &a.old)?,
            fsio::read_input(&Input::File(a.old.clone()))
                .map_err(|e| e.in_file(a.old.display().to_string()))?,
            format!("{rev}:{}", a.old.display()),
            a.old.display().to_string(),
        ),
        (None, None) => return Err(Error::new(Kind::Usage, "give NEW or --rev REV")),
    };
    let report = encdiff::diff(&old, &new)?;
    let text = if a.json {
        json(&report)
    } else {
        // Key and document names come from the files: no raw escape sequence reaches the
        // terminal.
        kseal::error::escape_controls(&human(&report, &old_name, &new_name), true).into_owned()
    };
    fsio::write_stdout(text.as_bytes())?;
    if a.exit_code {
        if let Some(side) = plaintext_side(&report, &old_name, &new_name) {
            // A review without keys must not pass a Secret in clear text, changed or not.
            return Err(Error::new(
                Kind::Refused,
                format!("{side} holds Secret values in PLAINTEXT (not encrypted)"),
            )
            .with_hint("encrypt it with `kseal encrypt -i FILE`; a value that was committed in clear text must be rotated"));
        }
    }
    if a.exit_code && !report.is_empty() {
        // diff(1) convention: 1 means "different", which is not an error to report.
        std::process::exit(1);
    }
    Ok(())
}

/// The side(s) holding Secret values in clear text, for the `--exit-code` error.
fn plaintext_side(r: &Report, old: &str, new: &str) -> Option<String> {
    match (r.old_plaintext.is_empty(), r.new_plaintext.is_empty()) {
        (true, true) => None,
        (false, true) => Some(old.to_string()),
        (true, false) => Some(new.to_string()),
        (false, false) => Some(format!("{old} and {new}")),
    }
}

/// The loud line naming a side whose Secret values are in clear text (at most 10 listed).
fn plaintext_line(name: &str, values: &[String]) -> String {
    let shown: Vec<&str> = values.iter().take(10).map(String::as_str).collect();
    let more = if values.len() > shown.len() {
        format!(", and {} more", values.len() - shown.len())
    } else {
        String::new()
    };
    format!(
        "!!! PLAINTEXT: {name} is not encrypted: {} Secret value{} in clear text ({}{more})\n",
        values.len(),
        if values.len() == 1 { "" } else { "s" },
        shown.join(", ")
    )
}

/// How a changed value is stored on each side: `encrypted`, or PLAINTEXT where a Secret value
/// is in clear text.
fn change_tag(c: &kseal::encdiff::Change) -> &'static str {
    match (c.old_plaintext, c.new_plaintext, c.encrypted) {
        (false, true, true) => " (encrypted -> PLAINTEXT)",
        (true, false, true) => " (PLAINTEXT -> encrypted)",
        (true, _, _) | (_, true, _) => " (PLAINTEXT)",
        (false, false, true) => " (encrypted)",
        (false, false, false) => "",
    }
}

fn human(r: &Report, old: &str, new: &str) -> String {
    let mut s = String::new();
    if !r.old_plaintext.is_empty() {
        s.push_str(&plaintext_line(old, &r.old_plaintext));
    }
    if !r.new_plaintext.is_empty() {
        s.push_str(&plaintext_line(new, &r.new_plaintext));
    }
    if r.is_empty() {
        s.push_str(&format!("no changes between {old} and {new}\n"));
        return s;
    }
    s.push_str(&format!("--- {old}\n+++ {new}\n"));
    for d in &r.docs_added {
        s.push_str(&format!("+ {d} (new document)\n"));
    }
    for d in &r.docs_removed {
        s.push_str(&format!("- {d} (document removed)\n"));
    }
    let mut current = "";
    for c in &r.changes {
        if c.doc != current {
            s.push_str(&format!("{}:\n", c.doc));
            current = &c.doc;
        }
        let tag = change_tag(c);
        s.push_str(&format!("  {} {}{tag}\n", c.kind.symbol(), c.path));
    }
    for rcp in &r.recipients_added {
        s.push_str(&format!("+ recipient {rcp}\n"));
    }
    for rcp in &r.recipients_removed {
        s.push_str(&format!("- recipient {rcp}\n"));
    }
    if r.data_key_changed {
        s.push_str("note: the wrapped data key changed on every recipient: if the data key was rotated, every ciphertext changed and a `~` on an encrypted value does not prove the value changed\n");
    }
    s
}

/// kseal's own report: no HTML escaping, terminal-safe (names come from the repository).
fn json_string(s: &str) -> String {
    kseal::yaml::json::quote(
        s,
        kseal::yaml::json::Escape {
            html: false,
            terminal: true,
        },
    )
}

fn json_list(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|s| json_string(s))
            .collect::<Vec<_>>()
            .join(",")
    )
}

fn json(r: &Report) -> String {
    let changes: Vec<String> = r
        .changes
        .iter()
        .map(|c| {
            format!(
                "{{\"document\":{},\"path\":{},\"change\":\"{}\",\"encrypted\":{},\"plaintext\":{}}}",
                json_string(&c.doc),
                json_string(&c.path),
                c.kind.word(),
                c.encrypted,
                match (c.old_plaintext, c.new_plaintext) {
                    (false, false) => "null",
                    (true, false) => "\"old\"",
                    (false, true) => "\"new\"",
                    (true, true) => "\"both\"",
                }
            )
        })
        .collect();
    format!(
        "{{\"changes\":[{}],\"documents_added\":{},\"documents_removed\":{},\"recipients_added\":{},\"recipients_removed\":{},\"data_key_changed\":{},\"plaintext_old\":{},\"plaintext_new\":{}}}\n",
        changes.join(","),
        json_list(&r.docs_added),
        json_list(&r.docs_removed),
        json_list(&r.recipients_added),
        json_list(&r.recipients_removed),
        r.data_key_changed,
        json_list(&r.old_plaintext),
        json_list(&r.new_plaintext)
    )
}
