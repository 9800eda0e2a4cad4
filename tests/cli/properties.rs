//! Property tests of the round trip: generated Secret manifests (random keys, values, comments,
//! quoting and block styles, indentation, line ends, extra documents) come back byte for byte
//! from decrypt(encrypt(x)), in-process for many cases; a sample also goes through the kseal
//! binary and the real `sops decrypt`, which must read the same data.

use crate::common::*;

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::strategy::ValueTree;

use kseal::secret::DataKey;
use kseal::sops::file::{self, DecryptOptions, EncryptSettings};
use kseal::sops::metadata::AgeEntry;
use kseal::sops::rules::CryptRule;
use kseal::yaml::tree;

#[derive(Clone, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
    LiteralStrip,
    LiteralKeep,
}

#[derive(Clone, Debug)]
struct Entry {
    style: Style,
    value: String,
    /// A full-line comment before the entry.
    comment_before: Option<String>,
    /// A comment after the value on the same line (not for block scalars).
    inline_comment: Option<String>,
}

#[derive(Clone, Debug)]
struct Manifest {
    indent: usize,
    crlf: bool,
    head_comment: Option<String>,
    data: BTreeMap<String, Vec<u8>>,
    string_data: BTreeMap<String, Entry>,
    configmap_after: bool,
    final_newline: bool,
}

fn word() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,8}"
}

fn text_value() -> impl Strategy<Value = String> {
    // Starts with a letter (never a number, bool, null or timestamp for YAML), no tabs, no
    // backslashes or quotes: the exceptions docs/format.md lists are not generated here.
    prop_oneof![
        "v[A-Za-z0-9 _./@=+-]{0,30}[A-Za-z0-9]",
        // Not `y`, `no`, `on`...: YAML 1.1 booleans come back quoted (safer for kubectl).
        "k[a-z]{0,11}",
        (0u32..100_000).prop_map(|n| n.to_string()),
    ]
}

fn comment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 ,.:-]{0,20}"
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        prop_oneof![
            Just(Style::Plain),
            Just(Style::Single),
            Just(Style::Double),
            Just(Style::Literal),
            Just(Style::LiteralStrip),
            Just(Style::LiteralKeep),
        ],
        text_value(),
        proptest::option::weighted(0.3, comment()),
        proptest::option::weighted(0.3, comment()),
    )
        .prop_map(|(style, value, comment_before, inline_comment)| Entry {
            style,
            value,
            comment_before,
            inline_comment,
        })
}

fn manifest() -> impl Strategy<Value = Manifest> {
    (
        prop_oneof![Just(2usize), Just(4usize)],
        any::<bool>(),
        proptest::option::weighted(0.3, comment()),
        proptest::collection::btree_map(
            word(),
            proptest::collection::vec(any::<u8>(), 0..40),
            0..4,
        ),
        proptest::collection::btree_map(word(), entry(), 1..6),
        any::<bool>(),
        prop_oneof![Just(true), Just(true), Just(false)],
    )
        .prop_map(
            |(indent, crlf, head_comment, data, string_data, configmap_after, final_newline)| {
                Manifest {
                    indent,
                    crlf,
                    head_comment,
                    data,
                    string_data,
                    configmap_after,
                    final_newline,
                }
            },
        )
}

fn render(m: &Manifest) -> String {
    use base64::Engine;
    let pad = " ".repeat(m.indent);
    let mut s = String::new();
    if let Some(c) = &m.head_comment {
        s.push_str(&format!("#{c}\n"));
    }
    s.push_str(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n{pad}name: generated\ntype: Opaque\n"
    ));
    if !m.data.is_empty() {
        s.push_str("data:\n");
        for (k, v) in &m.data {
            let b64 = base64::engine::general_purpose::STANDARD.encode(v);
            if b64.is_empty() {
                s.push_str(&format!("{pad}{k}: \"\"\n"));
            } else {
                s.push_str(&format!("{pad}{k}: {b64}\n"));
            }
        }
    }
    s.push_str("stringData:\n");
    for (k, e) in &m.string_data {
        if let Some(c) = &e.comment_before {
            s.push_str(&format!("{pad}#{c}\n"));
        }
        let inline = e
            .inline_comment
            .as_ref()
            .map(|c| format!(" #{c}"))
            .unwrap_or_default();
        let v = &e.value;
        match e.style {
            Style::Plain => s.push_str(&format!("{pad}{k}: {v}{inline}\n")),
            Style::Single => s.push_str(&format!("{pad}{k}: '{v}'{inline}\n")),
            Style::Double => s.push_str(&format!("{pad}{k}: \"{v}\"{inline}\n")),
            Style::Literal | Style::LiteralStrip | Style::LiteralKeep => {
                let ind = match e.style {
                    Style::Literal => "|",
                    Style::LiteralStrip => "|-",
                    _ => "|+",
                };
                s.push_str(&format!(
                    "{pad}{k}: {ind}\n{pad}{pad}{v}\n{pad}{pad}second line\n"
                ));
            }
        }
    }
    if m.configmap_after {
        s.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n{pad}name: cm\ndata:\n{pad}clear: value # kept\n"
        ));
    }
    if !m.final_newline {
        s.pop();
    }
    if m.crlf {
        s = s.replace('\n', "\r\n");
    }
    s
}

fn settings(key: &DataKey) -> EncryptSettings<'_> {
    EncryptSettings {
        key_groups: None,
        rule: CryptRule::kubernetes(),
        mac_only_encrypted: false,
        key,
        age: vec![AgeEntry {
            recipient: "age1property".into(),
            enc: "-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n-----END AGE ENCRYPTED FILE-----\n"
                .into(),
        }],
        lastmodified: "2026-01-01T00:00:00Z".into(),
        version: "3.11.0".into(),
        stash: None,
        policy: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        max_shrink_iters: 500,
        ..ProptestConfig::default()
    })]

    /// decrypt(encrypt(x)) == x byte for byte, and no plaintext value survives encryption.
    #[test]
    fn generated_secrets_round_trip_byte_for_byte(m in manifest()) {
        let src = render(&m);
        let key = DataKey::generate().unwrap();
        let stream = tree::parse(&src).map_err(|e| TestCaseError::fail(format!("generator: {e}\n{src}")))?;
        let enc = file::encrypt_checked(&src, &stream, &settings(&key), &kseal::kube::is_secret)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{src}")))?;
        for (k, e) in &m.string_data {
            if e.value.len() >= 8 {
                prop_assert!(!enc.contains(&e.value), "{k} is in clear:\n{enc}");
            }
            if let Some(c) = &e.comment_before {
                if c.trim().len() >= 8 {
                    prop_assert!(!enc.contains(c.as_str()), "a comment of stringData is in clear:\n{enc}");
                }
            }
        }
        let dec = file::decrypt(&enc, &key, &DecryptOptions::default())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{enc}")))?;
        prop_assert!(dec.envelope.as_ref().unwrap().mac_ok);
        prop_assert_eq!(dec.text.as_str(), src.as_str());
    }
}

/// A sample of the generated manifests through the kseal binary and the real sops: sops
/// decrypts kseal's output to the same data as kseal does.
#[test]
fn sops_decrypts_a_sample_of_generated_secrets() {
    require("sops");
    require("python3");
    let sb = Sandbox::new();
    let key = fixture("sops-made/key.txt");
    let recipient = "age1yefmw2mymmswqe58lrf4a2h4r5u0q23a9vn45kvenu43v7gdqa4s24vzqd";
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut checked = 0;
    for i in 0..8 {
        let mut m = manifest().new_tree(&mut runner).unwrap().current();
        // sops reads every document with the file's rule: all-Secret files only.
        m.configmap_after = false;
        let src = render(&m);
        let input = sb.write(&format!("in{i}.yaml"), &src);
        let enc = ok(run(sb
            .kseal()
            .args(["encrypt", "--age", recipient])
            .arg(&input)));
        let enc_file = sb.write(&format!("enc{i}.yaml"), &enc);
        let by_kseal = ok(run(sb
            .kseal()
            .arg("decrypt")
            .arg("--identity")
            .arg(&key)
            .arg(&enc_file)));
        assert_eq!(by_kseal, src, "kseal round trip {i}");
        let by_sops = ok(run(sb
            .tool("sops")
            .env("SOPS_AGE_KEY_FILE", &key)
            .args(["--disable-version-check", "decrypt"])
            .arg(&enc_file)));
        let a = sb.write(&format!("kseal{i}.yaml"), &by_kseal);
        let b = sb.write(&format!("sops{i}.yaml"), &by_sops);
        let o = run(sb
            .tool("python3")
            .args([
                "-c",
                "import sys, yaml\n\
             a = list(yaml.safe_load_all(open(sys.argv[1], newline='')))\n\
             b = list(yaml.safe_load_all(open(sys.argv[2], newline='')))\n\
             sys.exit(0) if a == b else sys.exit(repr(a) + '\\n' + repr(b))",
            ])
            .arg(&a)
            .arg(&b));
        assert!(
            o.status.success(),
            "sample {i}: sops reads other data:\n--- kseal\n{by_kseal}\n--- sops\n{by_sops}{}",
            stderr(&o)
        );
        checked += 1;
    }
    assert_eq!(checked, 8);
}

/// Regression (fuzz crasher, yaml_roundtrip): a *clear* block scalar (an annotation) that ends
/// the file without a line break. The output puts a line break after it, so the MAC must hash
/// the value with its final `\n`, as sops reads it from the output; kseal refused its own
/// output (MAC mismatch, exit 1) before.
#[test]
fn clear_block_scalar_ending_the_file_without_a_line_break() {
    require("sops");
    let sb = Sandbox::new();
    let key = fixture("sops-made/key.txt");
    let recipient = "age1yefmw2mymmswqe58lrf4a2h4r5u0q23a9vn45kvenu43v7gdqa4s24vzqd";
    for (i, header) in ["|", "|+", "|-", ">"].into_iter().enumerate() {
        let src = format!(
            "apiVersion: v1\nkind: Secret\nstringData:\n  a: b\nmetadata:\n  name: x\n  annotations:\n    note: {header}\n      first\n      last"
        );
        let input = sb.write(&format!("clear{i}.yaml"), &src);
        let enc = ok(run(sb
            .kseal()
            .args(["encrypt", "--age", recipient])
            .arg(&input)));
        let enc_file = sb.write(&format!("clear{i}.enc.yaml"), &enc);
        let back = ok(run(sb
            .kseal()
            .arg("decrypt")
            .arg("--identity")
            .arg(&key)
            .arg(&enc_file)));
        assert_eq!(back, src, "{header}: round trip");
        // sops checks the MAC over the file as kseal wrote it.
        ok(run(sb
            .tool("sops")
            .env("SOPS_AGE_KEY_FILE", &key)
            .args(["--disable-version-check", "decrypt", "--input-type", "yaml"])
            .args(["--output-type", "yaml"])
            .arg(&enc_file)));
    }
}

/// Regression (found by the property tests): a block scalar that ends the file without a line
/// break. kseal failed to decrypt its own output (overlapping edits), and encrypted the value
/// with a `\n` that YAML, sops and Flux do not see.
#[test]
fn block_scalar_ending_the_file_without_a_line_break() {
    require("sops");
    let sb = Sandbox::new();
    let key = fixture("sops-made/key.txt");
    let recipient = "age1yefmw2mymmswqe58lrf4a2h4r5u0q23a9vn45kvenu43v7gdqa4s24vzqd";
    let head = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: eof\nstringData:\n";
    for (i, (body, sops_reads)) in [
        (
            "  a: |\n    one\n    two",
            "a: |-\n        one\n        two\n",
        ),
        (
            "  a: |+\n    one\n    two",
            "a: |-\n        one\n        two\n",
        ),
        (
            "  a: |-\n    one\n    two",
            "a: |-\n        one\n        two\n",
        ),
        // (A folded block of several lines comes back as one line: docs/format.md.)
        ("  a: >\n    one two", "a: one two\n"),
        (
            "  a: |\n    one\n    two\n",
            "a: |\n        one\n        two\n",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        for crlf in [false, true] {
            let mut src = format!("{head}{body}");
            if crlf {
                src = src.replace('\n', "\r\n");
            }
            let input = sb.write(&format!("eof{i}-{crlf}.yaml"), &src);
            let enc = ok(run(sb
                .kseal()
                .args(["encrypt", "--age", recipient])
                .arg(&input)));
            let enc_file = sb.write(&format!("eof{i}-{crlf}.enc.yaml"), &enc);
            let back = ok(run(sb
                .kseal()
                .arg("decrypt")
                .arg("--identity")
                .arg(&key)
                .arg(&enc_file)));
            assert_eq!(back, src, "case {i} (crlf {crlf}): round trip");
            let by_sops = ok(run(sb
                .tool("sops")
                .env("SOPS_AGE_KEY_FILE", &key)
                .args(["--disable-version-check", "decrypt", "--input-type", "yaml"])
                .args(["--output-type", "yaml"])
                .arg(&enc_file)));
            assert!(
                by_sops.replace("\r\n", "\n").ends_with(sops_reads),
                "case {i} (crlf {crlf}): sops reads:\n{by_sops}"
            );
        }
    }
}

/// `make mutants` (docs/security.md, "Tested: mutation testing") is too slow for the suite, so
/// its dry run is checked instead: one job, the documented filter, the copied tree given the
/// original's node modules (the C2SP vectors); and every path `.cargo/mutants.toml` mutates
/// exists, so a rename cannot silently shrink what is mutated.
#[test]
fn make_mutants_recipe_runs_cargo_mutants_on_the_crypto_core() {
    let out = ok(run(std::process::Command::new("make")
        .current_dir(repo())
        .args(["-n", "mutants", r"MUTANTS_RE=^src/sops/value\.rs:"])));
    assert!(
        out.contains(r"cargo mutants -j 1 -o target/mutants -F '^src/sops/value\.rs:'"),
        "{out}"
    );
    assert!(out.contains("KSEAL_TEST_NODE_MODULES="), "{out}");
    assert!(
        out.contains("TMPDIR=") && out.contains("target/mutants/tmp"),
        "{out}"
    );
    let docs = read(&repo().join("docs/security.md"));
    assert!(docs.contains(r"`make mutants MUTANTS_RE='^src/sops/value\.rs:'`"));
    let config = read(&repo().join(".cargo/mutants.toml"));
    let globs = config
        .lines()
        .find_map(|l| l.strip_prefix("examine_globs = "))
        .expect("examine_globs");
    for (glob, path) in [
        ("src/sops/**/*.rs", "src/sops/value.rs"),
        ("src/sops/**/*.rs", "src/sops/file/open.rs"),
        ("src/yaml/splice.rs", "src/yaml/splice.rs"),
        ("src/keys/**/*.rs", "src/keys/identity.rs"),
    ] {
        assert!(globs.contains(&format!("\"{glob}\"")), "{globs}");
        assert!(repo().join(path).is_file(), "{path}");
    }
}
