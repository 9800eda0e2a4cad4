//! The audit behind `kseal status`: for each encrypted file its recipients, when it was last
//! encrypted, the sops version that wrote it, whether its recipients and crypt rule still match
//! `.sops.yaml`, whether its MAC verifies (when an identity opens it), and the text and
//! `--json` reports (docs/status.md). The command finds the files, loads identities and turns
//! the findings into an exit code.

use std::path::Path;

use time::OffsetDateTime;

use crate::error::{Error, Kind, Result};
use crate::keys::Identities;
use crate::kube;
use crate::ops::keyopen::IdentityOpener;
use crate::ops::plan::Planner;
use crate::ops::rekey::recipients_of;
use crate::sops::file::{self, DecryptOptions};
use crate::sops::metadata;
use crate::sops::rekey;
use crate::yaml::tree;

/// The version of the `--json` output; bumped only for incompatible changes.
pub const SCHEMA: u32 = 1;

/// What `status` found about one file (`--json` has every field; docs/status.md).
#[derive(Default)]
pub struct FileStatus {
    pub path: String,
    pub encrypted: bool,
    pub secrets: usize,
    pub recipients: Vec<String>,
    /// A file with several key groups: its threshold and each group's recipients.
    pub key_groups: Option<(usize, Vec<Vec<String>>)>,
    pub lastmodified: Option<String>,
    pub age_seconds: Option<u64>,
    pub too_old: bool,
    pub sops_version: Option<String>,
    /// `match`, `stale`, `no-rule`, `no-config`, `error` (`None`: not encrypted).
    pub rules: Option<&'static str>,
    pub rules_message: Option<String>,
    /// How the file's key groups or threshold differ from the rule's (`updatekeys` fixes it;
    /// `rules_message` too when the crypt rule agrees).
    pub groups_message: Option<String>,
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    /// `verified`, `failed`, `unchecked` (`None`: not encrypted).
    pub mac: Option<&'static str>,
    /// Why the MAC is `unchecked`.
    pub mac_unchecked: Option<&'static str>,
    /// kseal's structural MAC (`kseal_mac`): `verified`, `present` (not checked), `missing`
    /// (sops rewrote the file, or the field was removed); `None`: not encrypted. A mismatch
    /// makes `mac` `failed`.
    pub structural: Option<&'static str>,
    pub error: Option<Error>,
}

/// Loads the identities once, on first use (`None`: none could be loaded).
pub type LoadIds<'a> = dyn Fn() -> Option<&'a Identities> + Sync + 'a;

/// What `status` checks each file against.
pub struct Audit<'a> {
    pub planner: &'a Planner,
    pub now: OffsetDateTime,
    /// `--max-age`, in seconds.
    pub max_age: Option<u64>,
    /// The identities that check MACs, loaded on first use (`None`: `--no-verify`).
    pub ids: Option<&'a LoadIds<'a>>,
    /// The options encrypted files are read with (the process's read policy).
    pub read_options: fn() -> DecryptOptions,
}

/// The status of one file, from its text (or the error reading it).
pub fn inspect(path: &Path, text: Result<String>, audit: &Audit<'_>) -> FileStatus {
    let name = path.display().to_string();
    let mut st = FileStatus {
        path: name.clone(),
        ..Default::default()
    };
    if let Err(e) = text.and_then(|text| fill(&mut st, path, &text, audit)) {
        st.error = Some(e.in_file(&name));
    }
    st
}

fn fill(st: &mut FileStatus, path: &Path, text: &str, audit: &Audit<'_>) -> Result<()> {
    let (planner, now, max_age, ids) = (audit.planner, audit.now, audit.max_age, audit.ids);
    let stream = tree::parse(text)?;
    st.secrets = crate::secrets::all(&stream).len();
    let Some(meta) = rekey::inspect_stream(&stream)? else {
        return Ok(());
    };
    st.encrypted = true;
    st.recipients = recipients_of(&meta);
    st.key_groups = meta.key_groups.as_ref().map(|g| {
        let names = g
            .groups
            .iter()
            .map(|e| e.iter().map(|a| a.recipient.clone()).collect());
        (g.threshold, names.collect())
    });
    st.lastmodified = Some(meta.lastmodified.clone());
    st.sops_version = Some(meta.version.clone()).filter(|v| !v.is_empty());
    let age = (now - rekey::modified_at(&meta)?).whole_seconds().max(0) as u64;
    st.age_seconds = Some(age);
    st.too_old = max_age.is_some_and(|m| age > m);
    st.structural = Some(if meta.kseal_mac.is_some() {
        "present"
    } else {
        "missing"
    });

    if !planner.has_config() {
        st.rules = Some("no-config");
    } else {
        let namespaces = kube::secret_namespaces(&stream);
        match planner.plan_for_namespaces(Some(path), &namespaces) {
            Ok(plan) => {
                let wanted: Vec<String> = plan
                    .recipients
                    .iter()
                    .map(|r| r.text().to_string())
                    .collect();
                let diff =
                    rekey::compare_with_rule(&meta, &wanted, &plan.rule, plan.mac_only_encrypted);
                let wanted_groups: Vec<Vec<String>> = plan
                    .key_groups
                    .iter()
                    .map(|g| g.iter().map(|r| r.text().to_string()).collect())
                    .collect();
                let groups = crate::sops::keygroups::compare(
                    meta.key_groups.as_ref(),
                    &wanted_groups,
                    plan.shamir_threshold,
                );
                let stale = !diff.is_empty() || groups.is_some();
                st.rules = Some(if stale { "stale" } else { "match" });
                st.rules_message = diff.rule.or(groups.clone());
                st.groups_message = groups;
                st.missing = diff.recipients.added;
                st.extra = diff.recipients.removed;
            }
            Err(e) => {
                st.rules = Some(if e.kind == Kind::Config {
                    "no-rule"
                } else {
                    "error"
                });
                st.rules_message = Some(e.message);
            }
        }
    }

    st.mac = Some("unchecked");
    st.mac_unchecked = Some(match ids {
        None => "--no-verify",
        Some(_) => "no identity opens the file",
    });
    if ids.is_some_and(|f| f().is_none()) {
        st.mac_unchecked = Some("no identity could be loaded");
    }
    if let Some(ids) = ids.and_then(|f| f()) {
        let opts = DecryptOptions {
            ignore_mac: true,
            plain_only: true,
            ..(audit.read_options)()
        };
        match file::decrypt(text, &IdentityOpener { ids }, &opts) {
            Ok(d) => {
                let ok = d.envelope.as_ref().is_some_and(|e| e.mac_ok);
                st.mac = Some(if ok { "verified" } else { "failed" });
                if d.envelope.as_ref().is_some_and(|e| e.structural) {
                    st.structural = Some("verified");
                }
            }
            Err(e) if e.kind == Kind::Integrity => st.mac = Some("failed"),
            Err(e) if e.kind == Kind::NoIdentity => {}
            Err(e) if e.kind == Kind::Unsupported => {
                st.mac_unchecked = Some("kseal cannot open its data key");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The `rules:` line of the text report: up to date, or stale with what differs.
fn rules_text(s: &FileStatus) -> String {
    match s.rules {
        Some("match") => "up to date".to_string(),
        Some("stale") => {
            let mut r = "STALE (run `kseal updatekeys`)".to_string();
            for m in &s.missing {
                r.push_str(&format!("\n    + {m}"));
            }
            for x in &s.extra {
                r.push_str(&format!("\n    - {x}"));
            }
            // A crypt rule differing needs the plaintext encrypted again; key groups
            // differing, `updatekeys`.
            if let Some(m) = s
                .rules_message
                .as_ref()
                .filter(|m| Some(*m) != s.groups_message.as_ref())
            {
                r.push_str(&format!(
                    "\n    {m} (changed by hand or by someone without the key? restore the file, or decrypt and encrypt it again)"
                ));
            }
            if let Some(m) = &s.groups_message {
                r.push_str(&format!(
                    "\n    {m} (`kseal updatekeys` splits the data key as .sops.yaml says)"
                ));
            }
            r
        }
        Some("no-config") => "no .sops.yaml found".to_string(),
        _ => s.rules_message.clone().unwrap_or_default(),
    }
}

pub fn render_text(statuses: &[FileStatus], max_age: Option<u64>) -> String {
    let mut out = String::new();
    for s in statuses {
        if let Some(e) = &s.error {
            out.push_str(&format!("{}: ERROR: {}\n", s.path, e.message));
            continue;
        }
        if !s.encrypted {
            match s.secrets {
                0 => out.push_str(&format!("{}: not encrypted (no Secret)\n", s.path)),
                n => out.push_str(&format!(
                    "{}: NOT ENCRYPTED: {n} Secret{} in clear text\n",
                    s.path,
                    plural(n)
                )),
            }
            continue;
        }
        let age = s.age_seconds.unwrap_or(0);
        let mut head = format!(
            "{}: encrypted, last encrypted {} ({} ago)",
            s.path,
            s.lastmodified.as_deref().unwrap_or("?"),
            rekey::format_duration(age)
        );
        if let Some(v) = &s.sops_version {
            head.push_str(&format!(", sops {v}"));
        }
        if s.too_old {
            head.push_str(&format!(
                ", OLDER THAN {}",
                rekey::format_duration(max_age.unwrap_or(0))
            ));
        }
        out.push_str(&head);
        out.push('\n');
        // Post-quantum recipients (~2,000 characters) as prefix...suffix; --json has them whole.
        let shown: Vec<String> = s
            .recipients
            .iter()
            .map(|r| crate::keys::shorten_recipient(r))
            .collect();
        out.push_str(&format!("  recipients: {}\n", shown.join(", ")));
        if let Some((threshold, groups)) = &s.key_groups {
            let shown: Vec<String> = groups
                .iter()
                .map(|g| {
                    let g: Vec<String> = g
                        .iter()
                        .map(|r| crate::keys::shorten_recipient(r))
                        .collect();
                    format!("[{}]", g.join(", "))
                })
                .collect();
            out.push_str(&format!(
                "  key groups: any {threshold} of {}: {}\n",
                groups.len(),
                shown.join(", ")
            ));
        }
        let rules = rules_text(s);
        out.push_str(&format!("  rules: {rules}\n"));
        let mac = match s.mac {
            Some("verified") => "verified".to_string(),
            Some("failed") => "FAILED: the file was modified after encryption".to_string(),
            _ => format!(
                "not checked ({})",
                s.mac_unchecked.unwrap_or("no identity opens the file")
            ),
        };
        out.push_str(&format!("  MAC: {mac}\n"));
        let structural = match s.structural {
            Some("verified") => "verified",
            Some("present") if s.mac == Some("failed") => "FAILED (see MAC)",
            Some("present") => "present, not checked",
            _ => "MISSING: written or rewritten by another tool (sops drops it), or removed; key names, empty values and the sops: block are not authenticated (`kseal rotate` adds it)",
        };
        out.push_str(&format!("  structural MAC: {structural}\n"));
    }
    let count = |f: &dyn Fn(&FileStatus) -> bool| statuses.iter().filter(|s| f(s)).count();
    let encrypted = count(&|s| s.encrypted);
    let old = match max_age {
        Some(m) => format!(
            "; {} older than {}",
            count(&|s| s.too_old),
            rekey::format_duration(m)
        ),
        None => String::new(),
    };
    out.push_str(&format!(
        "status: {}: {} encrypted, {} plain; {} stale{old}; {}; {}\n",
        counted(statuses.len(), "file"),
        encrypted,
        count(&|s| !s.encrypted && s.error.is_none()),
        count(&|s| s.rules == Some("stale")),
        counted(count(&|s| s.mac == Some("failed")), "MAC failure"),
        counted(count(&|s| s.error.is_some()), "error"),
    ));
    out
}

/// A JSON string literal (RFC 8259 escaping, no HTML escaping).
fn js(s: &str) -> String {
    crate::yaml::json::quote(
        s,
        crate::yaml::json::Escape {
            html: false,
            terminal: false,
        },
    )
}

fn js_opt(s: Option<&str>) -> String {
    s.map(js).unwrap_or_else(|| "null".to_string())
}

fn js_list(items: &[String]) -> String {
    if items.is_empty() {
        return "[]".to_string();
    }
    let inner: Vec<String> = items.iter().map(|s| js(s)).collect();
    format!("[{}]", inner.join(", "))
}

fn js_num(n: Option<u64>) -> String {
    n.map(|v| v.to_string())
        .unwrap_or_else(|| "null".to_string())
}

/// The `--json` document: fixed key order, two-space indentation, one file per entry, in
/// the order the files were named (directories sorted). See docs/status.md.
pub fn render_json(statuses: &[FileStatus], now: OffsetDateTime, max_age: Option<u64>) -> String {
    let mut out = String::new();
    out.push_str("{\n");
    out.push_str(&format!("  \"schema\": {SCHEMA},\n"));
    out.push_str(&format!(
        "  \"now\": {},\n",
        js(&metadata::format_go_rfc3339(now))
    ));
    out.push_str(&format!("  \"max_age_seconds\": {},\n", js_num(max_age)));
    out.push_str("  \"files\": [");
    for (i, s) in statuses.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        let mut fields: Vec<(&str, String)> = vec![
            ("path", js(&s.path)),
            ("encrypted", s.encrypted.to_string()),
            ("secrets", s.secrets.to_string()),
            ("recipients", js_list(&s.recipients)),
            ("lastmodified", js_opt(s.lastmodified.as_deref())),
            ("age_seconds", js_num(s.age_seconds)),
            ("too_old", s.too_old.to_string()),
            ("sops_version", js_opt(s.sops_version.as_deref())),
            ("rules", js_opt(s.rules)),
            ("rules_message", js_opt(s.rules_message.as_deref())),
            ("missing_recipients", js_list(&s.missing)),
            ("extra_recipients", js_list(&s.extra)),
            ("mac", js_opt(s.mac)),
            (
                "error",
                js_opt(s.error.as_ref().map(|e| e.message.as_str())),
            ),
            ("structural_mac", js_opt(s.structural)),
        ];
        // Only for files with several key groups, so other files' entries stay as they were.
        if let Some((threshold, groups)) = &s.key_groups {
            let lists: Vec<String> = groups.iter().map(|g| js_list(g)).collect();
            fields.insert(4, ("shamir_threshold", threshold.to_string()));
            fields.insert(4, ("key_groups", format!("[{}]", lists.join(", "))));
        }
        out.push_str("    {\n");
        let n = fields.len();
        for (j, (k, v)) in fields.into_iter().enumerate() {
            out.push_str(&format!(
                "      \"{k}\": {v}{}\n",
                if j + 1 < n { "," } else { "" }
            ));
        }
        out.push_str("    }");
    }
    out.push_str(if statuses.is_empty() {
        "],\n"
    } else {
        "\n  ],\n"
    });
    let count = |f: &dyn Fn(&FileStatus) -> bool| statuses.iter().filter(|s| f(s)).count();
    out.push_str("  \"summary\": {\n");
    out.push_str(&format!("    \"files\": {},\n", statuses.len()));
    out.push_str(&format!(
        "    \"encrypted\": {},\n",
        count(&|s| s.encrypted)
    ));
    out.push_str(&format!(
        "    \"plain\": {},\n",
        count(&|s| !s.encrypted && s.error.is_none())
    ));
    out.push_str(&format!(
        "    \"stale\": {},\n",
        count(&|s| s.rules == Some("stale"))
    ));
    out.push_str(&format!("    \"too_old\": {},\n", count(&|s| s.too_old)));
    out.push_str(&format!(
        "    \"mac_failed\": {},\n",
        count(&|s| s.mac == Some("failed"))
    ));
    out.push_str(&format!(
        "    \"errors\": {}\n",
        count(&|s| s.error.is_some())
    ));
    out.push_str("  }\n}\n");
    out
}

/// `1 file`, `2 files`: a count and its noun, in the right number.
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
