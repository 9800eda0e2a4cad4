//! CLI tests of `kseal decrypt`: real sops files (shared interop files, sops-made fixtures, files
//! the sops CLI encrypts here) compared with the independent checker, tampering, streams,
//! directories and in-place, identity sources, error exit codes, and a closed stdout pipe.

use crate::common::*;

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn made(name: &str) -> PathBuf {
    fixture(&format!("sops-made/{name}"))
}

/// The recipient of `key()`, from its `# public key:` comment.
fn recipient_of(identity_file: &Path) -> String {
    read(identity_file)
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("a `# public key:` line")
        .trim()
        .to_string()
}

/// The `AGE-SECRET-KEY-1...` line of an identity file.
fn secret_line(identity_file: &Path) -> String {
    read(identity_file)
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .expect("an AGE-SECRET-KEY-1 line")
        .to_string()
}

fn support(script: &str) -> PathBuf {
    repo().join("tests/support").join(script)
}

/// `kseal decrypt --identity KEY ARGS...`
fn decrypt_with(sb: &Sandbox, identity: &Path, args: &[&OsStr]) -> Output {
    run(sb
        .kseal()
        .arg("decrypt")
        .arg("--identity")
        .arg(identity)
        .args(args))
}

/// Runs one of the Python helpers of tests/support/; Err carries its report (key paths only).
fn python(sb: &Sandbox, script: &str, args: &[&OsStr]) -> Result<(), String> {
    require("python3");
    let o = run(sb.tool("python3").arg(support(script)).args(args));
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{script} exit {:?}: {}{}",
            code(&o),
            stdout(&o),
            stderr(&o)
        ))
    }
}

fn slug(p: &Path) -> String {
    p.to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// kseal's plaintext equals the plaintext that `sops_check.py ENC KEY --dump` reports.
fn same_as_checker(sb: &Sandbox, plain: &[u8], enc: &Path, identity: &Path) -> Result<(), String> {
    let out = sb.write(&format!("out/{}.yaml", slug(enc)), plain);
    python(
        sb,
        "compare_dump.py",
        &[out.as_os_str(), enc.as_os_str(), identity.as_os_str()],
    )
}

/// kseal's plaintext equals EXPECTED (a `*.expected.json` array or a plain manifest), as data.
fn same_as_expected(
    sb: &Sandbox,
    plain: &[u8],
    expected: &Path,
    extra: &[String],
) -> Result<(), String> {
    let json = extra.iter().any(|a| a == "--json");
    let ext = if json { "json" } else { "yaml" };
    let out = sb.write(&format!("out/{}.{ext}", slug(expected)), plain);
    let mut args: Vec<&OsStr> = vec![out.as_os_str(), expected.as_os_str()];
    args.extend(extra.iter().map(OsStr::new));
    python(sb, "compare_expected.py", &args)
}

// ------------------------------------------------------------------------------------------
// 1. The shared interop files (written by real sops versions) against the checker.

fn interop_case(file: &str, identity: &str) {
    let sb = Sandbox::new();
    let enc = interop(file);
    let key = interop(identity);
    let o = decrypt_with(&sb, &key, &[enc.as_os_str()]);
    assert_eq!(code(&o), Some(0), "{file}: {}", stderr(&o));
    assert!(!o.stdout.is_empty(), "{file}: empty output");
    assert!(
        !stdout(&o).lines().any(|l| l.starts_with("sops:")),
        "{file}: the sops block was not removed"
    );
    same_as_checker(&sb, &o.stdout, &enc, &key).unwrap_or_else(|e| panic!("{file}: {e}"));
}

#[test]
fn interop_flux_age() {
    interop_case("flux/age.yaml", "flux/keys/age.txt");
}

#[test]
fn interop_flux_global_secret() {
    interop_case("flux/global-secret.yaml", "flux/keys/age-global.txt");
}

#[test]
fn interop_flux_merge1() {
    interop_case("flux/merge1.yaml", "flux/keys/age.txt");
}

#[test]
fn interop_flux_merge2() {
    interop_case("flux/merge2.yaml", "flux/keys/age.txt");
}

#[test]
fn interop_metalkast_secret() {
    interop_case("metalkast/secret.enc.yaml", "metalkast/age-key.txt");
}

#[test]
fn interop_metalkast_two_secrets() {
    interop_case("metalkast/two-secrets.enc.yaml", "metalkast/age-key.txt");
}

#[test]
fn interop_metalkast_four_secrets() {
    interop_case("metalkast/four-secrets.enc.yaml", "metalkast/age-key.txt");
}

#[test]
fn interop_sops_example() {
    interop_case("sops/example.yaml", "sops/keys.txt");
}

/// A plain Secret (its data happens to hold a sops file) passes through byte for byte, and
/// needs no identity at all.
#[test]
fn interop_flux_inside_secret_passes_through_unchanged() {
    let sb = Sandbox::new();
    let plain = interop("flux/inside-secret.yaml");
    let o = run(sb.kseal().arg("decrypt").arg(&plain));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(o.stdout, fs::read(&plain).unwrap());
    let o = decrypt_with(&sb, &interop("flux/keys/age.txt"), &[plain.as_os_str()]);
    assert_eq!(o.stdout, fs::read(&plain).unwrap());
}

// 2. four-secrets.enc.yaml against the plaintext published beside it.
#[test]
fn interop_four_secrets_equals_published_plaintext() {
    let sb = Sandbox::new();
    let o = decrypt_with(
        &sb,
        &interop("metalkast/age-key.txt"),
        &[interop("metalkast/four-secrets.enc.yaml").as_os_str()],
    );
    let out = ok(o);
    same_as_expected(
        &sb,
        out.as_bytes(),
        &interop("metalkast/four-secrets.plain.yaml"),
        &[],
    )
    .unwrap();
}

// 3. Post-quantum recipients (sops 3.12.1 wrote flux/age-pq.yaml): the PQ identity opens it,
// with the same plaintext as the independent checker unwrapping with typage; an X25519
// identity alone is refused with nothing on stdout.
#[test]
fn interop_flux_age_pq() {
    let sb = Sandbox::new();
    let enc = interop("flux/age-pq.yaml");
    let key = interop("flux/keys/age-pq.txt");
    let o = decrypt_with(&sb, &key, &[enc.as_os_str()]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(!stdout(&o).contains("sops:"));
    if let Some((check_age, module)) = typage_check_age() {
        let out = sb.write("out/age-pq.yaml", &o.stdout);
        let c = run(sb
            .tool("python3")
            .arg(support("compare_dump.py"))
            .args([out.as_os_str(), enc.as_os_str(), key.as_os_str()])
            .env("SOPS_CHECK_AGE", check_age)
            .env("TYPAGE_MODULE", module));
        assert!(c.status.success(), "{}{}", stdout(&c), stderr(&c));
    }

    let o = decrypt_with(&sb, &interop("flux/keys/age.txt"), &[enc.as_os_str()]);
    assert_eq!(code(&o), Some(5), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("age-pq.yaml"), "{}", stderr(&o));
    // The ~2,000-character recipient is shortened in the message.
    assert!(
        stderr(&o).contains("age1pq1") && stderr(&o).contains("..."),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).len() < 2000, "{}", stderr(&o));
}

// ------------------------------------------------------------------------------------------
// 4. Every sops-made fixture (sops 3.11.0) with an `.expected.json`.

/// Fixtures that kseal currently gets wrong; each has its own (ignored) test below, so the
/// loop keeps guarding all the others.
const KNOWN_BUGS: &[&str] = &["default-rule-config.yaml", "derived/literal-clip-enc.yaml"];

/// `(relative name, file, expected.json)` of every fixture under sops-made/, derived/ included.
fn sops_made_fixtures() -> Vec<(String, PathBuf, PathBuf)> {
    let root = fixture("sops-made");
    let mut out = Vec::new();
    for sub in ["", "derived"] {
        let dir = root.join(sub);
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            if name.ends_with(".expected.json")
                || !(name.ends_with(".yaml") || name.ends_with(".json"))
            {
                continue;
            }
            let stem = name.rsplit_once('.').unwrap().0;
            let expected = dir.join(format!("{stem}.expected.json"));
            if expected.is_file() {
                let rel = if sub.is_empty() {
                    name.clone()
                } else {
                    format!("{sub}/{name}")
                };
                out.push((rel, dir.join(&name), expected));
            }
        }
    }
    out
}

fn check_sops_made(sb: &Sandbox, rel: &str, file: &Path, expected: &Path) -> Result<(), String> {
    let o = decrypt_with(sb, &key(), &[file.as_os_str()]);
    if !o.status.success() {
        return Err(format!("{rel}: exit {:?}: {}", code(&o), stderr(&o)));
    }
    let mut extra = vec![format!("--enc={}", file.display())];
    if rel.ends_with(".json") {
        extra.push("--json".into());
    }
    same_as_expected(sb, &o.stdout, expected, &extra).map_err(|e| format!("{rel}: {e}"))
}

#[test]
fn sops_made_fixtures_decrypt_to_expected_json() {
    let sb = Sandbox::new();
    let all = sops_made_fixtures();
    assert!(all.len() >= 40, "only {} fixtures found", all.len());
    for bug in KNOWN_BUGS {
        assert!(
            all.iter().any(|(rel, ..)| rel == bug),
            "{bug} is gone: update KNOWN_BUGS"
        );
    }
    let mut failures = Vec::new();
    for (rel, file, expected) in &all {
        if KNOWN_BUGS.contains(&rel.as_str()) {
            continue;
        }
        if let Err(e) = check_sops_made(&sb, rel, file, expected) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// sops 3.11 writes a comment inside a sequence as a list element `ENC[...,type:comment]`
/// (spec section 5.5); sops decrypts it back to a comment. kseal must accept it.
#[test]
fn sops_made_sequence_comment_fixture_decrypts() {
    let sb = Sandbox::new();
    let file = made("default-rule-config.yaml");
    check_sops_made(
        &sb,
        "default-rule-config.yaml",
        &file,
        &made("default-rule-config.expected.json"),
    )
    .unwrap();
}

/// `password: |` + ENC string on the next line: the ENC value is `ENC[...]\n`, sops decrypts it
/// to the plain value (no trailing newline); kseal keeps the `|` block and so adds a `\n`.
#[test]
fn sops_made_literal_clip_enc_value_has_no_trailing_newline() {
    let sb = Sandbox::new();
    check_sops_made(
        &sb,
        "derived/literal-clip-enc.yaml",
        &made("derived/literal-clip-enc.yaml"),
        &made("derived/literal-clip-enc.expected.json"),
    )
    .unwrap();
}

/// The comment lines of a manifest, trimmed (indentation and CR aside).
fn comment_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim())
        .filter(|l| l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Encrypted comments (`#ENC[...,type:comment]`) decrypt to the same comments as with
/// `sops decrypt`, clear ones are kept, and nothing encrypted is left in the output.
#[test]
fn sops_made_comments_decrypt_like_sops() {
    require("sops");
    let sb = Sandbox::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (rel, file, _) in sops_made_fixtures() {
        if KNOWN_BUGS.contains(&rel.as_str()) || !rel.ends_with(".yaml") {
            continue;
        }
        let o = decrypt_with(&sb, &key(), &[file.as_os_str()]);
        if !o.status.success() {
            failures.push(format!("{rel}: exit {:?}", code(&o)));
            continue;
        }
        let mine = stdout(&o);
        if mine.contains("ENC[") || mine.lines().any(|l| l.starts_with("sops:")) {
            failures.push(format!("{rel}: ENC[ or sops: left in the output"));
        }
        let s = run(sb
            .tool("sops")
            .args(["--disable-version-check", "decrypt"])
            .arg(&file)
            .env("SOPS_AGE_KEY_FILE", key()));
        assert!(s.status.success(), "sops decrypt {rel}: {}", stderr(&s));
        let (a, b) = (comment_lines(&mine), comment_lines(&stdout(&s)));
        if a != b {
            let first = a.iter().zip(&b).position(|(x, y)| x != y);
            failures.push(format!(
                "{rel}: {} comment lines, sops has {}; first difference at comment {:?}",
                a.len(),
                b.len(),
                first
            ));
        }
        checked += 1;
    }
    assert!(checked >= 35, "only {checked} files checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A clear-text timestamp is in the MAC as its RFC 3339 text (FINDINGS.md section 2): edits of
/// `metadata.annotations.rotated` that sops accepts, kseal accepts, and the others are a MAC
/// mismatch for both. The real sops is the oracle; the table records what sops 3.11.0 says.
#[test]
fn timestamp_mac_agrees_with_sops() {
    require("sops");
    let sb = Sandbox::new();
    let src = read(&made("timestamp-annotation.yaml"));
    let original = "rotated: 2024-01-01T00:00:00Z";
    let cases: &[(&str, bool)] = &[
        ("2024-01-01", true),
        ("2024-1-1", true),
        ("2024-01-01 00:00:00", true),
        ("2024-01-01 0:0:0", true),
        ("2024-01-01t00:00:00Z", true),
        ("2024-01-01T00:00:00.000Z", true),
        ("2024-01-01T00:00:00+00:00", true),
        ("2024-01-01T00:00:00-00:00", true),
        ("\"2024-01-01T00:00:00Z\"", true),
        ("'2024-01-01T00:00:00Z'", true),
        ("!!timestamp 2024-01-01", true),
        ("2024-01-01 # a comment", true),
        ("2024-01-01T01:00:00+01:00", false),
        ("2024-01-01T00:00:00.5Z", false),
        ("2024-01-01T00:00:00.100Z", false),
        ("2024-01-01T00:00:00.123456789Z", false),
        ("2024-01-01 00:00:00.5", false),
        ("2024-01-01 00:00:00Z", false),
        ("2024-01-01t00:00:00z", false),
        ("2024-02-30", false),
        ("!!str 2024-01-01", false),
    ];
    let mut failures = Vec::new();
    for (i, (text, accepted)) in cases.iter().enumerate() {
        let file = sb.write(
            &format!("ts-{i}.yaml"),
            replace_once(&src, original, &format!("rotated: {text}")),
        );
        let s = run(sb
            .tool("sops")
            .args(["--disable-version-check", "decrypt"])
            .arg(&file)
            .env("SOPS_AGE_KEY_FILE", key()));
        if s.status.success() != *accepted {
            failures.push(format!(
                "{text}: sops now says {:?} (the table says {accepted})",
                code(&s)
            ));
        }
        let o = decrypt_with(&sb, &key(), &[file.as_os_str()]);
        let want = if s.status.success() { 0 } else { 6 };
        if code(&o) != Some(want) {
            failures.push(format!(
                "{text}: kseal exit {:?}, sops exit {:?}: {}",
                code(&o),
                code(&s),
                stderr(&o)
            ));
        }
    }
    // The derived fixture of the rejected case.
    let o = decrypt_with(
        &sb,
        &key(),
        &[made("derived/timestamp-offset-mismatch.yaml").as_os_str()],
    );
    if code(&o) != Some(6) || !o.stdout.is_empty() {
        failures.push(format!(
            "timestamp-offset-mismatch.yaml: exit {:?}",
            code(&o)
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn two_recipients_file_opens_with_either_identity() {
    let sb = Sandbox::new();
    for k in [key(), key2()] {
        let o = decrypt_with(&sb, &k, &[made("two-recipients.yaml").as_os_str()]);
        assert_eq!(code(&o), Some(0), "{}", stderr(&o));
        same_as_expected(&sb, &o.stdout, &made("two-recipients.expected.json"), &[]).unwrap();
    }
}

// ------------------------------------------------------------------------------------------
// 5. Tampering.

/// Plaintexts of kubectl-generic.yaml and multi-secrets.yaml (base64 and decoded): none may
/// ever appear on stderr.
const PLAINTEXTS: &[&str] = &[
    "Z2hwXzEyMzQ1Njc4OTBhYmNkZWZBQkNERUY=",
    "ghp_1234567890abcdefABCDEF",
    "cEBzc3cwcmQhIyQ=",
    "p@ssw0rd!#$",
    "YWRtaW4=",
    "U3VwM3ItUzNjcmV0",
    "Sup3r-S3cret",
    "hooks.slack.example",
    "AKIAIOSFODNN7EXAMPLE",
];

/// The byte range of one field (`data`, `iv` or `tag`) of the ENC value of `key:`.
fn enc_field(text: &str, key: &str, field: &str) -> std::ops::Range<usize> {
    let start = text
        .find(&format!(" {key}: ENC[AES256_GCM,"))
        .unwrap_or_else(|| panic!("no ENC value for {key}"));
    let end = start + text[start..].find(']').unwrap();
    let label = format!("{field}:");
    let f = start + text[start..end].find(&label).unwrap() + label.len();
    let fend = f + text[f..end].find(',').unwrap();
    f..fend
}

/// The whole `ENC[...]` string of `key:`.
fn enc_value(text: &str, key: &str) -> String {
    let start = text.find(&format!(" {key}: ENC[")).unwrap() + key.len() + 3;
    let end = start + text[start..].find(']').unwrap() + 1;
    text[start..end].to_string()
}

/// Flips the first base64 character of a field (its 6 bits are all significant).
fn flip_field(text: &str, key: &str, field: &str) -> String {
    let r = enc_field(text, key, field);
    let c = &text[r.start..r.start + 1];
    let new = if c == "A" { "B" } else { "A" };
    format!("{}{new}{}", &text[..r.start], &text[r.start + 1..])
}

/// Flips a base64 character of the `mac:` value's data.
fn flip_mac(text: &str) -> String {
    let at = text.find("    mac: ENC[AES256_GCM,data:").unwrap()
        + "    mac: ENC[AES256_GCM,data:".len()
        + 5;
    let c = &text[at..at + 1];
    let new = if c == "A" { "B" } else { "A" };
    format!("{}{new}{}", &text[..at], &text[at + 1..])
}

fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the fixture");
    text.replacen(from, to, 1)
}

/// The documents of a sops-written multi-document file (`---` lines between them).
fn split_docs(text: &str) -> Vec<String> {
    text.split("\n---\n").map(|d| d.to_string()).collect()
}

struct Tamper {
    name: &'static str,
    text: String,
    code: i32,
    /// The key path the error must name (value tampering only).
    path: Option<&'static str>,
}

fn tamper_cases() -> Vec<Tamper> {
    let generic = read(&made("kubectl-generic.yaml"));
    let multi = read(&made("multi-secrets.yaml"));
    let docs = split_docs(&multi);
    assert_eq!(docs.len(), 3, "multi-secrets.yaml has 3 documents");
    let lastmodified = generic
        .lines()
        .find(|l| l.trim_start().starts_with("lastmodified: "))
        .unwrap()
        .to_string();
    let pw = enc_value(&generic, "password");
    let user = enc_value(&generic, "username");
    let swapped = generic
        .replace(&pw, "@PW@")
        .replace(&user, &pw)
        .replace("@PW@", &user);
    let second_without_sops = {
        let d = &docs[1];
        d[..d.find("\nsops:\n").unwrap()].to_string()
    };
    vec![
        Tamper {
            name: "value-data",
            text: flip_field(&generic, "password", "data"),
            code: 6,
            path: Some("data.password"),
        },
        Tamper {
            name: "value-iv",
            text: flip_field(&generic, "password", "iv"),
            code: 6,
            path: Some("data.password"),
        },
        Tamper {
            name: "value-tag",
            text: flip_field(&generic, "password", "tag"),
            code: 6,
            path: Some("data.password"),
        },
        Tamper {
            name: "mac",
            text: flip_mac(&generic),
            code: 6,
            path: None,
        },
        Tamper {
            name: "mac-removed",
            text: generic
                .lines()
                .filter(|l| !l.starts_with("    mac: "))
                .map(|l| format!("{l}\n"))
                .collect(),
            code: 6,
            path: None,
        },
        Tamper {
            name: "mac-empty",
            text: {
                let line = generic.lines().find(|l| l.starts_with("    mac: ")).unwrap();
                replace_once(&generic, line, "    mac: \"\"")
            },
            code: 6,
            path: None,
        },
        Tamper {
            name: "lastmodified",
            text: replace_once(
                &generic,
                &lastmodified,
                &lastmodified.replace(":02Z", ":03Z").replace("2026-", "2025-"),
            ),
            code: 6,
            path: None,
        },
        Tamper {
            name: "metadata-name",
            text: replace_once(&generic, "name: app-credentials", "name: app-credential5"),
            code: 6,
            path: None,
        },
        Tamper {
            name: "namespace",
            text: replace_once(&multi, "namespace: monitoring", "namespace: default"),
            code: 6,
            path: None,
        },
        Tamper {
            name: "added-clear-field",
            text: replace_once(&generic, "kind: Secret\n", "kind: Secret\ntype: Opaque\n"),
            code: 6,
            path: None,
        },
        Tamper {
            name: "swapped-values",
            text: swapped,
            code: 6,
            path: Some("data.password"),
        },
        Tamper {
            name: "document-removed",
            text: [docs[0].as_str(), docs[2].as_str()].join("\n---\n"),
            code: 6,
            path: None,
        },
        Tamper {
            name: "last-document-removed",
            text: format!("{}\n", [docs[0].as_str(), docs[1].as_str()].join("\n---\n")),
            code: 6,
            path: None,
        },
        Tamper {
            name: "documents-swapped",
            text: [docs[1].as_str(), docs[0].as_str(), docs[2].as_str()].join("\n---\n"),
            code: 6,
            path: None,
        },
        Tamper {
            name: "document-duplicated",
            text: [
                docs[0].as_str(),
                docs[0].as_str(),
                docs[1].as_str(),
                docs[2].as_str(),
            ]
            .join("\n---\n"),
            code: 6,
            path: None,
        },
        Tamper {
            name: "sops-block-removed-from-second-document",
            text: [
                docs[0].as_str(),
                second_without_sops.as_str(),
                docs[2].as_str(),
            ]
            .join("\n---\n"),
            code: 6,
            path: None,
        },
        Tamper {
            name: "enc-data-not-base64",
            text: replace_once(
                &generic,
                &pw,
                "ENC[AES256_GCM,data:%%%notbase64,iv:rK1WJgU8iOZWGw9Hd956gaGwqsexNTyx77frIsAHE0k=,tag:SPS7bWiUI/xNhCXl4evuyw==,type:str]",
            ),
            code: 4,
            path: Some("data.password"),
        },
        Tamper {
            name: "enc-truncated",
            text: replace_once(&generic, &pw, "ENC[AES256_GCM,data:syB/3"),
            code: 4,
            path: Some("data.password"),
        },
        Tamper {
            name: "enc-unknown-type",
            text: replace_once(&generic, &pw, &pw.replace("type:str]", "type:wat]")),
            code: 4,
            path: Some("data.password"),
        },
        Tamper {
            name: "enc-short-iv",
            text: {
                let r = enc_field(&generic, "password", "iv");
                format!("{}AAAA{}", &generic[..r.start], &generic[r.end..])
            },
            code: 4,
            path: Some("data.password"),
        },
    ]
}

#[test]
fn tampered_files_fail_without_output_and_in_place_leaves_them_unchanged() {
    let sb = Sandbox::new();
    let mut failures = Vec::new();
    for t in tamper_cases() {
        let file = sb.write(&format!("tampered-{}.yaml", t.name), &t.text);
        let o = decrypt_with(&sb, &key(), &[file.as_os_str()]);
        let err = stderr(&o);
        if code(&o) != Some(t.code) {
            failures.push(format!(
                "{}: exit {:?}, expected {}: {err}",
                t.name,
                code(&o),
                t.code
            ));
        }
        if !o.stdout.is_empty() {
            failures.push(format!("{}: {} bytes on stdout", t.name, o.stdout.len()));
        }
        if !err.contains(&format!("tampered-{}.yaml", t.name)) {
            failures.push(format!("{}: stderr does not name the file: {err}", t.name));
        }
        if let Some(p) = PLAINTEXTS.iter().find(|p| err.contains(*p)) {
            failures.push(format!("{}: stderr shows the plaintext {p:?}", t.name));
        }
        // -i: the same refusal, and the file is left as it was.
        let o = run(sb
            .kseal()
            .args(["decrypt", "-i", "--identity"])
            .arg(key())
            .arg(&file));
        if code(&o) != Some(t.code) || !o.stdout.is_empty() {
            failures.push(format!(
                "{}: -i: exit {:?}, {} bytes on stdout",
                t.name,
                code(&o),
                o.stdout.len()
            ));
        }
        if read(&file) != t.text {
            failures.push(format!("{}: -i changed the tampered file", t.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A kseal file whose last lines were cut off (its crypt rule, then its MAC): the error names
/// the incomplete `sops:` block (exit 4), not a value replaced with clear text.
#[test]
fn a_file_cut_short_names_the_incomplete_sops_block() {
    let sb = Sandbox::new();
    let plain =
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: czNjcjN0\n";
    let src = sb.write("s.yaml", plain);
    let enc = ok(run(sb
        .kseal()
        .args(["encrypt", "--age", &recipient_of(&key())])
        .arg(&src)));
    let lines: Vec<&str> = enc.lines().collect();
    // The block ends `mac`, `encrypted_regex`, `version`, `kseal_mac`: cutting the file just
    // before the crypt rule, then before the `mac`, leaves an incomplete block.
    let rule = lines
        .iter()
        .rposition(|l| l.starts_with("  encrypted_regex: "))
        .expect("crypt rule line");
    assert!(lines[rule - 1].starts_with("  mac: ENC["), "{enc}");
    for (cut, missing) in [
        (
            lines.len() - rule,
            "crypt rule (encrypted_regex, unencrypted_suffix, ...),",
        ),
        (lines.len() - rule + 1, "and no `mac`"),
    ] {
        let text = lines[..lines.len() - cut].join("\n") + "\n";
        let file = sb.write(&format!("cut-{cut}.yaml"), &text);
        let o = decrypt_with(&sb, &key(), &[file.as_os_str()]);
        let err = stderr(&o);
        assert_eq!(code(&o), Some(4), "cut {cut}: {err}");
        assert!(o.stdout.is_empty());
        assert!(
            err.contains(&format!(
                "cut-{cut}.yaml: document 1: sops: the `sops:` block is incomplete: it has no "
            )),
            "cut {cut}: {err}"
        );
        assert!(err.contains(missing), "cut {cut}: {err}");
        assert!(err.contains("cut short"), "cut {cut}: {err}");
        assert!(!err.contains("replaced"), "cut {cut}: {err}");
    }
    // A value really replaced with clear text, in a complete file, is a tampering (exit 6),
    // not an incomplete block.
    let start = enc.find("password: ENC[").unwrap() + "password: ".len();
    let end = start + enc[start..].find('\n').unwrap();
    let file = sb.write(
        "replaced.yaml",
        format!("{}czNjcjN0{}", &enc[..start], &enc[end..]),
    );
    let o = decrypt_with(&sb, &key(), &[file.as_os_str()]);
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    assert!(!stderr(&o).contains("incomplete"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("restore the file from version control"),
        "{}",
        stderr(&o)
    );
}

const INJECTED: &str =
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: injected\nstringData:\n  password: attacker-chosen\n";

/// A plain Secret document added to an encrypted file (before or after the encrypted ones) is
/// not covered by the MAC: neither kseal nor sops ever writes a Secret without a `sops:` block
/// into an encrypted file, and `sops decrypt` refuses both files. kseal must refuse them too
/// instead of printing the attacker's Secret with exit 0.
#[test]
fn injected_plain_secret_document_is_refused() {
    let sb = Sandbox::new();
    let generic = read(&made("kubectl-generic.yaml"));
    let mut failures = Vec::new();
    for (name, text) in [
        ("appended", format!("{generic}---\n{INJECTED}")),
        ("prepended", format!("{INJECTED}---\n{generic}")),
    ] {
        let file = sb.write(&format!("{name}.yaml"), &text);
        let o = decrypt_with(&sb, &key(), &[file.as_os_str()]);
        if code(&o) != Some(6) || !o.stdout.is_empty() {
            failures.push(format!(
                "{name}: exit {:?} (expected 6), {} bytes on stdout",
                code(&o),
                o.stdout.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tampered_value_errors_name_the_key_path() {
    let sb = Sandbox::new();
    let mut failures = Vec::new();
    for t in tamper_cases() {
        let Some(path) = t.path else { continue };
        let file = sb.write(&format!("tampered-{}.yaml", t.name), &t.text);
        let o = decrypt_with(&sb, &key(), &[file.as_os_str()]);
        let err = stderr(&o);
        let ok_path = err.contains(&format!("{path}:"))
            || (t.name == "swapped-values" && err.contains("data.username:"));
        if !ok_path {
            failures.push(format!("{}: stderr does not name {path}: {err}", t.name));
        }
        if !err.contains("document 1") {
            failures.push(format!(
                "{}: stderr does not name document 1: {err}",
                t.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A value tampered in the second document: the error names document 2.
#[test]
fn tampered_value_in_second_document_names_the_document() {
    let sb = Sandbox::new();
    let multi = read(&made("multi-secrets.yaml"));
    let text = flip_field(&multi, "slack-webhook", "tag");
    let file = sb.write("second.yaml", &text);
    let o = decrypt_with(&sb, &key(), &[file.as_os_str()]);
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("document 2"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("hooks.slack.example"));
}

// 6. --ignore-mac: for rescue, with a warning; it never skips value authentication.
#[test]
fn ignore_mac_decrypts_a_mac_tampered_file_with_a_warning() {
    let sb = Sandbox::new();
    let generic = read(&made("kubectl-generic.yaml"));
    let file = sb.write("mac.yaml", flip_mac(&generic));
    let o = run(sb
        .kseal()
        .args(["decrypt", "--ignore-mac", "--identity"])
        .arg(key())
        .arg(&file));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("MAC"), "no MAC warning: {}", stderr(&o));
    assert!(stderr(&o).contains("mac.yaml"), "{}", stderr(&o));
    same_as_expected(&sb, &o.stdout, &made("kubectl-generic.expected.json"), &[]).unwrap();

    // A value that fails authentication is still refused.
    let file = sb.write("value.yaml", flip_field(&generic, "password", "tag"));
    let o = run(sb
        .kseal()
        .args(["decrypt", "--ignore-mac", "--identity"])
        .arg(key())
        .arg(&file));
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

// ------------------------------------------------------------------------------------------
// 7. Several inputs, directories, stdin, -o and -i.

/// The documented stream rule: a `---\n` between files unless the next one starts with `---`.
fn join_stream(parts: &[&str]) -> String {
    let mut s = String::new();
    for p in parts {
        if p.trim().is_empty() {
            continue;
        }
        if !s.is_empty() {
            if !s.ends_with('\n') {
                s.push('\n');
            }
            if !p.starts_with("---") {
                s.push_str("---\n");
            }
        }
        s.push_str(p);
    }
    s
}

const CONFIGMAP: &str = "---\n# a plain ConfigMap: passes through\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: \"fast\"   # kept as written\n";

/// A directory with two encrypted files, a plain ConfigMap, a file in a subdirectory, and files
/// kseal must skip (a dot-file that is not even YAML, a .txt file).
fn make_tree(sb: &Sandbox, dir: &str) -> PathBuf {
    fs::create_dir_all(sb.path(dir)).unwrap();
    fs::copy(
        made("kubectl-generic.yaml"),
        sb.path(&format!("{dir}/10-app.yaml")),
    )
    .unwrap();
    sb.write(&format!("{dir}/20-config.yaml"), CONFIGMAP);
    fs::copy(
        made("basic-auth.yaml"),
        sb.path(&format!("{dir}/30-db.yaml")),
    )
    .unwrap();
    fs::create_dir_all(sb.path(&format!("{dir}/sub"))).unwrap();
    fs::copy(
        made("multi-secrets.yaml"),
        sb.path(&format!("{dir}/sub/40-more.yml")),
    )
    .unwrap();
    sb.write(&format!("{dir}/.hidden.yaml"), "not: [yaml\n");
    sb.write(&format!("{dir}/notes.txt"), "not: [yaml\n");
    sb.path(dir)
}

fn decrypt_one(sb: &Sandbox, file: &Path) -> String {
    ok(decrypt_with(sb, &key(), &[file.as_os_str()]))
}

#[test]
fn directory_is_one_sorted_stream_with_separators() {
    let sb = Sandbox::new();
    let dir = make_tree(&sb, "tree");
    let app = decrypt_one(&sb, &made("kubectl-generic.yaml"));
    let db = decrypt_one(&sb, &made("basic-auth.yaml"));
    let more = decrypt_one(&sb, &made("multi-secrets.yaml"));
    assert!(!app.starts_with("---") && !db.starts_with("---") && !more.starts_with("---"));
    let expected = join_stream(&[&app, CONFIGMAP, &db, &more]);
    assert!(expected.contains(&format!("{app}{CONFIGMAP}---\n{db}---\n")));

    let o = decrypt_with(&sb, &key(), &[dir.as_os_str()]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), expected);

    // Files on the command line keep their order (no sorting), and plain files pass through.
    let cm = dir.join("20-config.yaml");
    let db_file = dir.join("30-db.yaml");
    let app_file = dir.join("10-app.yaml");
    let o = decrypt_with(
        &sb,
        &key(),
        &[db_file.as_os_str(), cm.as_os_str(), app_file.as_os_str()],
    );
    assert_eq!(stdout(&o), join_stream(&[&db, CONFIGMAP, &app]));
}

/// Issue 13: `kseal decrypt base/ | kubectl apply -f -` with the walkthrough's layout piped
/// `kustomization.yaml` and the generator config into kubectl. A directory's files that are
/// not Kubernetes objects stay out of the stream, with a note; named files pass as before.
#[test]
fn directory_skips_build_configuration_with_a_note() {
    let sb = Sandbox::new();
    let dir = make_tree(&sb, "tree");
    let expected = ok(decrypt_with(&sb, &key(), &[dir.as_os_str()]));
    let kustomization = sb.write(
        "tree/kustomization.yaml",
        "generators:\n  - generator.yaml\n",
    );
    sb.write(
        "tree/generator.yaml",
        "apiVersion: kseal.dev/v1alpha1\nkind: KsealGenerator\nmetadata:\n  name: secrets\nfiles:\n  - 10-app.yaml\n",
    );
    sb.write(
        "tree/sub/Kptfile.yaml",
        "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n",
    );
    let o = decrypt_with(&sb, &key(), &[dir.as_os_str()]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), expected);
    let err = stderr(&o);
    for want in [
        "tree/kustomization.yaml: skipped, not a Kubernetes object to apply (a kustomization)",
        "tree/generator.yaml: skipped, not a Kubernetes object to apply (a KRM function config (KsealGenerator))",
        "tree/sub/Kptfile.yaml: skipped, not a Kubernetes object to apply (kpt's Kptfile)",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    // Named on the command line: passes through as before.
    let o = decrypt_with(&sb, &key(), &[kustomization.as_os_str()]);
    assert_eq!(stdout(&o), "generators:\n  - generator.yaml\n");
}

/// No newline at the end of a file: one is added before the separator; a file that starts with
/// `---` gets no second separator; an empty file adds nothing.
#[test]
fn stream_separators_between_files() {
    let sb = Sandbox::new();
    let a = sb.write("a.yaml", "kind: A");
    let empty = sb.write("b.yaml", "");
    let c = sb.write("c.yaml", CONFIGMAP);
    let d = sb.write("d.yaml", "kind: D\n");
    let o = run(sb.kseal().arg("decrypt").args([&a, &empty, &c, &d, &a]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("kind: A\n{CONFIGMAP}---\nkind: D\n---\nkind: A")
    );
}

#[test]
fn stdin_is_read_with_dash_or_without_arguments() {
    let sb = Sandbox::new();
    let expected = decrypt_one(&sb, &made("kubectl-generic.yaml"));
    for args in [vec!["decrypt", "-"], vec!["decrypt"]] {
        let o = run(sb
            .kseal()
            .args(&args)
            .arg("--identity")
            .arg(key())
            .stdin(fs::File::open(made("kubectl-generic.yaml")).unwrap()));
        assert_eq!(code(&o), Some(0), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), expected, "{args:?}");
    }
    // stdin between two files.
    let db = made("basic-auth.yaml");
    let o = run(sb
        .kseal()
        .args(["decrypt", "--identity"])
        .arg(key())
        .arg(&db)
        .arg("-")
        .stdin(fs::File::open(made("kubectl-generic.yaml")).unwrap()));
    assert_eq!(
        stdout(&o),
        join_stream(&[&decrypt_one(&sb, &db), &expected])
    );
}

#[test]
fn output_file_is_private() {
    let sb = Sandbox::new();
    let dir = make_tree(&sb, "tree");
    let expected = ok(decrypt_with(&sb, &key(), &[dir.as_os_str()]));
    let out = sb.path("plain.yaml");
    let o = run(sb
        .kseal()
        .args(["decrypt", "--identity"])
        .arg(key())
        .arg("-o")
        .arg(&out)
        .arg(&dir));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert_eq!(read(&out), expected);
    assert_eq!(
        fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn in_place_rewrites_encrypted_files_only() {
    let sb = Sandbox::new();
    let dir = make_tree(&sb, "tree");
    let app = dir.join("10-app.yaml");
    let cm = dir.join("20-config.yaml");
    fs::set_permissions(&app, fs::Permissions::from_mode(0o640)).unwrap();
    let cm_inode = fs::metadata(&cm).unwrap().ino();
    let hidden = read(&dir.join(".hidden.yaml"));
    let expected_app = decrypt_one(&sb, &made("kubectl-generic.yaml"));
    let expected_db = decrypt_one(&sb, &made("basic-auth.yaml"));
    let expected_more = decrypt_one(&sb, &made("multi-secrets.yaml"));

    let o = run(sb
        .kseal()
        .args(["decrypt", "-i", "--identity"])
        .arg(key())
        .arg(&dir));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "-i wrote to stdout");
    assert_eq!(read(&app), expected_app);
    assert_eq!(read(&dir.join("30-db.yaml")), expected_db);
    assert_eq!(read(&dir.join("sub/40-more.yml")), expected_more);
    assert_eq!(
        fs::metadata(&app).unwrap().permissions().mode() & 0o777,
        0o640
    );
    // The plain file is not rewritten at all (same inode), the skipped ones untouched.
    assert_eq!(read(&cm), CONFIGMAP);
    assert_eq!(fs::metadata(&cm).unwrap().ino(), cm_inode);
    assert_eq!(read(&dir.join(".hidden.yaml")), hidden);
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".kseal-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Again: everything is plain now, nothing changes.
    let o = run(sb.kseal().args(["decrypt", "-i"]).arg(&dir));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(read(&app), expected_app);
}

#[test]
fn in_place_with_stdin_is_a_usage_error() {
    let sb = Sandbox::new();
    for args in [vec!["decrypt", "-i", "-"], vec!["decrypt", "-i"]] {
        let o = run(sb
            .kseal()
            .args(&args)
            .arg("--identity")
            .arg(key())
            .stdin(fs::File::open(made("kubectl-generic.yaml")).unwrap()));
        assert_eq!(code(&o), Some(2), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    let o = run(sb
        .kseal()
        .args(["decrypt", "-i", "-o", "x.yaml"])
        .arg(made("kubectl-generic.yaml")));
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    assert!(!sb.path("x.yaml").exists());
}

// ------------------------------------------------------------------------------------------
// 8. Identity sources.

/// Decrypts kubectl-generic.yaml with no --identity, after `setup` placed the key somewhere.
fn opens_via(setup: impl FnOnce(&Sandbox, &mut Command)) -> Output {
    let sb = Sandbox::new();
    let mut cmd = sb.kseal();
    cmd.arg("decrypt").arg(made("kubectl-generic.yaml"));
    setup(&sb, &mut cmd);
    let o = run(&mut cmd);
    if o.status.success() {
        same_as_expected(&sb, &o.stdout, &made("kubectl-generic.expected.json"), &[]).unwrap();
    }
    o
}

fn assert_opens(label: &str, o: Output) {
    assert_eq!(code(&o), Some(0), "{label}: {}", stderr(&o));
}

#[test]
fn identity_from_kseal_age_key_inline() {
    let o = opens_via(|_, c| {
        c.env("KSEAL_AGE_KEY", secret_line(&key()));
    });
    assert_opens("KSEAL_AGE_KEY", o);
}

#[test]
fn identity_from_sops_age_key_inline_with_comments() {
    let o = opens_via(|_, c| {
        c.env("SOPS_AGE_KEY", read(&key()));
    });
    assert_opens("SOPS_AGE_KEY", o);
}

#[test]
fn identity_from_kseal_age_key_file() {
    let o = opens_via(|_, c| {
        c.env("KSEAL_AGE_KEY_FILE", key());
    });
    assert_opens("KSEAL_AGE_KEY_FILE", o);
}

#[test]
fn identity_from_sops_age_key_file() {
    let o = opens_via(|_, c| {
        c.env("SOPS_AGE_KEY_FILE", key());
    });
    assert_opens("SOPS_AGE_KEY_FILE", o);
}

#[test]
fn identity_from_default_sops_file() {
    let o = opens_via(|sb, _| {
        sb.write(".config/sops/age/keys.txt", read(&key()));
    });
    assert_opens("~/.config/sops/age/keys.txt", o);
}

#[test]
fn identity_from_default_kseal_file() {
    let o = opens_via(|sb, _| {
        sb.write(".config/kseal/keys.txt", read(&key()));
    });
    assert_opens("~/.config/kseal/keys.txt", o);
}

#[test]
fn identity_from_xdg_config_home_kseal_file() {
    let o = opens_via(|sb, c| {
        sb.write("xdg/kseal/keys.txt", read(&key()));
        // A wrong key in the ~/.config location: XDG_CONFIG_HOME replaces it.
        sb.write(".config/kseal/keys.txt", read(&key2()));
        c.env("XDG_CONFIG_HOME", sb.path("xdg"));
    });
    assert_opens("$XDG_CONFIG_HOME/kseal/keys.txt", o);
}

#[test]
fn identity_from_xdg_config_home_sops_file() {
    let o = opens_via(|sb, c| {
        sb.write("xdg/sops/age/keys.txt", read(&key()));
        c.env("XDG_CONFIG_HOME", sb.path("xdg"));
    });
    assert_opens("$XDG_CONFIG_HOME/sops/age/keys.txt", o);
}

/// A PUBLIC TEST KEY (ssh-ed25519, no passphrase), made for this test only.
const SSH_TEST_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBgs+pGltdGfYD3eUcJ4h91S5NIAKN6xF9FXKrIoXJiiAAAAJBKrl1uSq5d
bgAAAAtzc2gtZWQyNTUxOQAAACBgs+pGltdGfYD3eUcJ4h91S5NIAKN6xF9FXKrIoXJiiA
AAAEAK+y/91gWP7IZSVo1DjAOJ6DA///1c3r0bTC5VHy7DjGCz6kaW10Z9gPd5RwniH3VL
k0gAo3rEX0VcqsihcmKIAAAACmtzZWFsLXRlc3QBAgM=
-----END OPENSSH PRIVATE KEY-----
";
const SSH_TEST_RECIPIENT: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGCz6kaW10Z9gPd5RwniH3VLk0gAo3rEX0VcqsihcmKI kseal-test";

/// sops encrypts to an ssh-ed25519 recipient; kseal finds ~/.ssh/id_ed25519 by default.
#[test]
fn identity_from_default_ssh_ed25519_key() {
    require("sops");
    let sb = Sandbox::new();
    let input = sb.write("in.yaml", read(&fixture("corpus/kubectl-generic.yaml")));
    let enc = ok(run(sb
        .tool("sops")
        .args([
            "--disable-version-check",
            "encrypt",
            "--age",
            SSH_TEST_RECIPIENT,
        ])
        .args(["--encrypted-regex", "^(data|stringData)$"])
        .arg(&input)));
    let enc_file = sb.write("enc.yaml", enc);
    let o = run(sb.kseal().arg("decrypt").arg(&enc_file));
    assert_eq!(code(&o), Some(5), "no key yet: {}", stderr(&o));
    let id = sb.write(".ssh/id_ed25519", SSH_TEST_KEY);
    fs::set_permissions(&id, fs::Permissions::from_mode(0o600)).unwrap();
    let o = run(sb.kseal().arg("decrypt").arg(&enc_file));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    same_as_expected(&sb, &o.stdout, &input, &[]).unwrap();
}

#[test]
fn identity_file_variable_naming_a_missing_file_exits_3() {
    for var in ["KSEAL_AGE_KEY_FILE", "SOPS_AGE_KEY_FILE"] {
        let sb = Sandbox::new();
        let o = run(sb
            .kseal()
            .arg("decrypt")
            .arg(made("kubectl-generic.yaml"))
            .env(var, sb.path("missing-keys.txt")));
        assert_eq!(code(&o), Some(3), "{var}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
        assert!(stderr(&o).contains("missing-keys.txt"), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(var),
            "does not name {var}: {}",
            stderr(&o)
        );
    }
}

/// Identities from all sources are combined: a wrong --identity does not hide the right key.
#[test]
fn identities_from_several_sources_are_combined() {
    let o = opens_via(|_, c| {
        c.arg("--identity").arg(key2());
        c.env("SOPS_AGE_KEY_FILE", key());
    });
    assert_opens("--identity key2 + SOPS_AGE_KEY_FILE", o);
}

#[test]
fn no_identity_exits_5_listing_recipients_and_places_searched() {
    let sb = Sandbox::new();
    let o = run(sb.kseal().arg("decrypt").arg(made("kubectl-generic.yaml")));
    let err = stderr(&o);
    assert_eq!(code(&o), Some(5), "{err}");
    assert!(o.stdout.is_empty());
    assert!(err.contains("kubectl-generic.yaml"), "{err}");
    assert!(err.contains(&recipient_of(&key())), "no recipient: {err}");
    let home = sb.dir.path().display().to_string();
    assert!(
        err.contains(&format!("{home}/.config/sops/age/keys.txt")),
        "does not say where it looked: {err}"
    );
    assert!(
        err.contains(&format!("{home}/.config/kseal/keys.txt")),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");

    // Both recipients of a two-recipient file are listed.
    let o = run(sb.kseal().arg("decrypt").arg(made("two-recipients.yaml")));
    assert_eq!(code(&o), Some(5));
    assert!(stderr(&o).contains(&recipient_of(&key())), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&recipient_of(&key2())),
        "{}",
        stderr(&o)
    );
}

#[test]
fn wrong_identity_exits_5() {
    let sb = Sandbox::new();
    let o = decrypt_with(&sb, &key2(), &[made("kubectl-generic.yaml").as_os_str()]);
    assert_eq!(code(&o), Some(5), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains(&recipient_of(&key())), "{}", stderr(&o));
    // The same from a default file.
    sb.write(".config/sops/age/keys.txt", read(&key2()));
    let o = run(sb.kseal().arg("decrypt").arg(made("kubectl-generic.yaml")));
    assert_eq!(code(&o), Some(5), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

// ------------------------------------------------------------------------------------------
// 9. Errors.

#[test]
fn missing_file_exits_3_and_nothing_is_written() {
    let sb = Sandbox::new();
    let missing = sb.path("does-not-exist.yaml");
    let o = decrypt_with(&sb, &key(), &[missing.as_os_str()]);
    assert_eq!(code(&o), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("does-not-exist.yaml"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());

    // One good input and one missing one: no partial output.
    let good = made("kubectl-generic.yaml");
    let o = decrypt_with(&sb, &key(), &[good.as_os_str(), missing.as_os_str()]);
    assert_eq!(code(&o), Some(3), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "partial output");

    // A missing --identity file is an input error too.
    let o = decrypt_with(&sb, &sb.path("no-key.txt"), &[good.as_os_str()]);
    assert_eq!(code(&o), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("no-key.txt"), "{}", stderr(&o));
    // ...and so is a directory given as the identity file.
    let o = decrypt_with(&sb, sb.dir.path(), &[good.as_os_str()]);
    assert_eq!(code(&o), Some(3), "{}", stderr(&o));
}

#[test]
fn one_bad_input_means_no_output_at_all() {
    let sb = Sandbox::new();
    let good = sb.write("good.yaml", read(&made("kubectl-generic.yaml")));
    let bad = sb.write("bad.yaml", flip_mac(&read(&made("kubectl-generic.yaml"))));
    let o = decrypt_with(&sb, &key(), &[good.as_os_str(), bad.as_os_str()]);
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "partial output");

    // -o: the output file is not created.
    let out = sb.path("out.yaml");
    let o = run(sb
        .kseal()
        .args(["decrypt", "--identity"])
        .arg(key())
        .arg("-o")
        .arg(&out)
        .arg(&good)
        .arg(&bad));
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    assert!(!out.exists(), "-o wrote a partial result");

    // -i on a directory holding a good and a tampered file: neither is rewritten.
    let o = run(sb
        .kseal()
        .args(["decrypt", "-i", "--identity"])
        .arg(key())
        .arg(sb.dir.path()));
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    assert_eq!(read(&good), read(&made("kubectl-generic.yaml")));
}

#[test]
fn output_to_a_directory_exits_7() {
    let sb = Sandbox::new();
    let dir = sb.path("outdir");
    fs::create_dir(&dir).unwrap();
    let o = run(sb
        .kseal()
        .args(["decrypt", "--identity"])
        .arg(key())
        .arg("-o")
        .arg(&dir)
        .arg(made("kubectl-generic.yaml")));
    assert_eq!(code(&o), Some(7), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(
        fs::read_dir(&dir).unwrap().next().is_none(),
        "left files in the directory"
    );
}

#[test]
fn invalid_yaml_exits_4_with_a_line_number_and_no_value() {
    let sb = Sandbox::new();
    // A plain file: an unclosed quote on line 7 around a value.
    let o = run(sb
        .kseal()
        .arg("decrypt")
        .arg(fixture("invalid/yaml-syntax-error.yaml")));
    let err = stderr(&o);
    assert_eq!(code(&o), Some(4), "{err}");
    assert!(o.stdout.is_empty());
    assert!(err.contains("yaml-syntax-error.yaml"), "{err}");
    assert!(err.contains("line 7"), "no line number: {err}");
    assert!(
        !err.contains("U3VwM3ItUzNjcmV0"),
        "the value is shown: {err}"
    );

    // An encrypted file broken on line 3 (an unclosed quote inside the data mapping).
    let text = read(&made("kubectl-generic.yaml"));
    let broken = replace_once(&text, "    api-token: ENC[", "    api-token: \"ENC[");
    let file = sb.write("broken.yaml", broken);
    let o = decrypt_with(&sb, &key(), &[file.as_os_str()]);
    let err = stderr(&o);
    assert_eq!(code(&o), Some(4), "{err}");
    assert!(o.stdout.is_empty());
    assert!(
        err.contains("broken.yaml") && err.contains("line "),
        "{err}"
    );
    assert!(!PLAINTEXTS.iter().any(|p| err.contains(p)), "{err}");
}

#[test]
fn garbage_enc_value_exits_4() {
    garbage_enc_cases(&[
        (
            "not-base64",
            "ENC[AES256_GCM,data:!!!!,iv:!!!!,tag:!!!!,type:str]".to_string(),
        ),
        (
            "no-type",
            "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA]".to_string(),
        ),
        (
            "empty-fields",
            "ENC[AES256_GCM,data:,iv:,tag:,type:str]".to_string(),
        ),
    ]);
}

/// A value that starts with `ENC[` but not `ENC[AES256_GCM,data:` is a malformed encrypted
/// value (sops: "does not match sops' data format"), not a plaintext value.
#[test]
fn garbage_enc_value_with_another_prefix_exits_4() {
    let pw = enc_value(&read(&made("kubectl-generic.yaml")), "password");
    garbage_enc_cases(&[
        ("no-fields", "ENC[garbage]".to_string()),
        ("unknown-cipher", pw.replace("AES256_GCM", "AES128_CBC")),
    ]);
}

fn garbage_enc_cases(cases: &[(&str, String)]) {
    let sb = Sandbox::new();
    let text = read(&made("kubectl-generic.yaml"));
    let pw = enc_value(&text, "password");
    let mut failures = Vec::new();
    for (name, garbage) in cases {
        let file = sb.write(&format!("{name}.yaml"), replace_once(&text, &pw, garbage));
        let o = decrypt_with(&sb, &key(), &[file.as_os_str()]);
        let err = stderr(&o);
        if code(&o) != Some(4) || !o.stdout.is_empty() || !err.contains(&format!("{name}.yaml")) {
            failures.push(format!(
                "{name}: exit {:?} (expected 4), {} bytes on stdout: {err}",
                code(&o),
                o.stdout.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn non_utf8_input_exits_4() {
    let sb = Sandbox::new();
    let file = sb.write(
        "latin1.yaml",
        b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: caf\xe9\n",
    );
    let o = run(sb.kseal().arg("decrypt").arg(&file));
    assert_eq!(code(&o), Some(4), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("latin1.yaml"), "{}", stderr(&o));
}

// ------------------------------------------------------------------------------------------
// 10. The real sops CLI encrypts, kseal decrypts.

const SOPS_INPUT: &str = r#"# Made for this test: two Secrets, comments, block scalars, typed stringData.
apiVersion: v1
kind: Secret
metadata:
  name: web # inline comment
  namespace: shop
  labels:
    app: web
type: Opaque
stringData:
  # the database password
  DB_PASSWORD: "s3cr3t: with a colon"
  config.yaml: |
    server:
      port: 8080
    # a comment inside a block scalar is text
    features: [a, b]
  folded: >-
    one
    two
  port: 5432
  enabled: true
  ratio: 1.5
  unicode: "pässwörd ✓"
  empty: ""
---
# second document
apiVersion: v1
kind: Secret
metadata:
  name: tls
type: kubernetes.io/tls
data:
  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
  tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCg== # inline
"#;

#[test]
fn sops_encrypted_manifest_decrypts_to_the_input() {
    require("sops");
    let sb = Sandbox::new();
    let input = sb.write("secrets.yaml", SOPS_INPUT);
    let o = run(sb
        .tool("sops")
        .args(["--disable-version-check", "encrypt", "--age"])
        .arg(recipient_of(&key()))
        .args(["--encrypted-regex", "^(data|stringData)$"])
        .arg(&input));
    let enc = ok(o);
    assert!(enc.contains("ENC[AES256_GCM") && !enc.contains("s3cr3t"));
    let enc_file = sb.write("secrets.enc.yaml", &enc);
    let o = decrypt_with(&sb, &key(), &[enc_file.as_os_str()]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    same_as_expected(&sb, &o.stdout, &input, &[]).unwrap();
    same_as_checker(&sb, &o.stdout, &enc_file, &key()).unwrap();
}

// ------------------------------------------------------------------------------------------
// 11. A reader that closes the pipe early is not an error.

#[test]
fn closed_stdout_pipe_is_not_an_error() {
    let sb = Sandbox::new();
    let big = made("big-binary.yaml");
    let mut child = sb
        .kseal()
        .args(["decrypt", "--identity"])
        .arg(key())
        .arg(&big)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut pipe = child.stdout.take().unwrap();
    let mut head = [0u8; 10];
    pipe.read_exact(&mut head).unwrap();
    drop(pipe); // like `| head -c 10`
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    assert_eq!(&head, &fs::read(&big).unwrap()[..10]);
}

/// A post-quantum identity opens flux/age-pq.yaml from every identity source: a key file with
/// X25519 keys beside it, SOPS_/KSEAL_AGE_KEY (several keys, separated by spaces or newlines),
/// a key command, the default key file.
#[test]
fn post_quantum_identity_from_every_source() {
    let sb = Sandbox::new();
    let enc = interop("flux/age-pq.yaml");
    let pq_text = read(&interop("flux/keys/age-pq.txt"));
    let pq_line = pq_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-PQ-1"))
        .unwrap()
        .to_string();
    let x_line = secret_line(&interop("flux/keys/age.txt"));
    let mixed = sb.write(
        "keys/mixed.txt",
        format!("# x\n{x_line}\n# pq\n{pq_line}\n"),
    );
    let cases: Vec<(&str, String)> = vec![
        ("KSEAL_AGE_KEY_FILE", mixed.display().to_string()),
        ("SOPS_AGE_KEY_FILE", mixed.display().to_string()),
        ("SOPS_AGE_KEY", format!("{x_line} {pq_line}")),
        ("KSEAL_AGE_KEY", format!("{x_line}\n{pq_line}\n")),
        ("SOPS_AGE_KEY_CMD", format!("cat {}", mixed.display())),
        ("KSEAL_AGE_KEY_CMD", format!("cat {}", mixed.display())),
    ];
    for (var, value) in cases {
        let o = run(sb.kseal().arg("decrypt").arg(&enc).env(var, &value));
        assert_eq!(code(&o), Some(0), "{var}: {}", stderr(&o));
        assert!(stdout(&o).contains("kind: Secret"), "{var}");
    }
    // The default key file (HOME is the sandbox).
    sb.write(
        ".config/sops/age/keys.txt",
        format!("{x_line}\n{pq_line}\n"),
    );
    let o = run(sb.kseal().arg("decrypt").arg(&enc));
    assert_eq!(code(&o), Some(0), "default file: {}", stderr(&o));
}

/// A `sops:` block without a `version` (or with one that is not MAJOR.MINOR.PATCH), which sops
/// 3.11 refuses ("Version string empty"), is opened with a warning naming the file (issue 12:
/// not silently, and not lost to the user); the MAC still decides; the next write adds one.
#[test]
fn a_block_without_a_valid_version_opens_with_a_warning() {
    let sb = Sandbox::new();
    sb.write(
        "s.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  p: s3cr3t\n",
    );
    let enc = ok(run(sb.kseal().args([
        "encrypt",
        "--age",
        &recipient(),
        "s.yaml",
    ])));
    assert!(enc.contains("\n  version: "), "{enc}");
    let cases = [
        ("none.enc.yaml", "no `version`", String::new()),
        (
            "short.enc.yaml",
            "\"3.11\"",
            "  version: \"3.11\"\n".to_string(),
        ),
    ];
    for (name, says, line) in cases {
        let text: String = enc
            .lines()
            .map(|l| {
                if l.starts_with("  version: ") {
                    line.clone()
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        sb.write(name, &text);
        let o = run(sb
            .kseal()
            .args(["decrypt", name])
            .env("SOPS_AGE_KEY_FILE", key()));
        assert_eq!(code(&o), Some(0), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(name) && err.contains(says), "{err}");
        assert!(
            err.contains("warning") && err.contains("sops refuses such a file"),
            "{err}"
        );
        assert!(stdout(&o).contains("p: s3cr3t"), "{}", stdout(&o));
        // Tampering is still caught: the MAC does not depend on the version.
        let tampered = text.replace("  name: db\n", "  name: dc\n");
        sb.write("t.enc.yaml", &tampered);
        let o = run(sb
            .kseal()
            .args(["decrypt", "t.enc.yaml"])
            .env("SOPS_AGE_KEY_FILE", key()));
        assert_ne!(code(&o), Some(0), "tampered {name} opened");
        assert!(stdout(&o).is_empty());
        // `set` writes the version back.
        let o = run(sb
            .kseal()
            .args(["set", name, "p", "--value", "n3w"])
            .env("SOPS_AGE_KEY_FILE", key()));
        assert_eq!(code(&o), Some(0), "{}", stderr(&o));
        let now = read(&sb.path(name));
        assert!(now.contains("\n  version: 3."), "{now}");
        sb.write(name, &text);
        let mut sops = sb.tool("sops");
        let o = run(sops.args(["decrypt", name]).env("SOPS_AGE_KEY_FILE", key()));
        assert_ne!(code(&o), Some(0), "sops accepted {name}");
    }
}
