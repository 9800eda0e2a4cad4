//! CLI tests of `kseal set`, `kseal unset`, `kseal encrypt --previous` and `kseal create`:
//! minimal diffs (only the changed value, `lastmodified` and `mac` lines), results the real
//! sops CLI opens, document selection and error exits, and `create` output that decrypts to
//! exactly what `kubectl create secret ... --dry-run=client -o yaml` prints.

use crate::common::*;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Encrypts `plain` with kseal into `name` in the sandbox and returns its path.
fn encrypted(sb: &Sandbox, name: &str, plain: &str) -> PathBuf {
    let src = sb.write(&format!("{name}.plain"), plain);
    let out = sb.path(name);
    ok(run(sb
        .kseal()
        .args(["encrypt", "--age", &recipient()])
        .arg(&src)
        .arg("-o")
        .arg(&out)));
    fs::remove_file(src).unwrap();
    out
}

/// `kseal <args> --identity KEY` (set, unset, decrypt, encrypt --previous).
fn kseal_id(sb: &Sandbox, args: &[&str]) -> Output {
    run(sb.kseal().args(args).arg("--identity").arg(key()))
}

fn kseal_stdin(sb: &Sandbox, args: &[&str], input: &[u8]) -> Output {
    let mut child = sb
        .kseal()
        .args(args)
        .arg("--identity")
        .arg(key())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().expect("wait")
}

fn decrypt(sb: &Sandbox, file: &Path) -> String {
    ok(run(sb
        .kseal()
        .arg("decrypt")
        .arg("--identity")
        .arg(key())
        .arg(file)))
}

/// The real sops CLI decrypts (and so verifies the MAC of) `file`.
fn sops_decrypt(sb: &Sandbox, file: &Path) -> String {
    require("sops");
    ok(run(sb
        .tool("sops")
        .env("SOPS_AGE_KEY_FILE", key())
        .args(["--disable-version-check", "decrypt"])
        .arg(file)))
}

/// Runs `kseal set FILE ARGS...` and asserts success with nothing on stdout.
fn set(sb: &Sandbox, file: &Path, args: &[&str]) {
    let o = run(sb
        .kseal()
        .arg("set")
        .arg(file)
        .args(args)
        .arg("--identity")
        .arg(key()));
    assert_eq!(stdout(&o), "", "set printed on stdout");
    ok(o);
}

/// The lines that differ between two texts of the same number of lines.
fn changed_lines(before: &str, after: &str) -> Vec<(String, String)> {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    assert_eq!(
        a.len(),
        b.len(),
        "line counts differ:\n{before}\n---\n{after}"
    );
    a.iter()
        .zip(&b)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| (x.to_string(), y.to_string()))
        .collect()
}

/// The key of a `key: value` line (`lastmodified`, `mac`, `c`).
fn line_key(line: &str) -> &str {
    line.trim_start().split(':').next().unwrap_or("")
}

/// Every `ENC[...]` value of a file (the MAC excluded).
fn enc_tokens(text: &str) -> Vec<String> {
    enc_lines(text)
        .iter()
        .filter_map(|l| {
            let i = l.find("ENC[")?;
            Some(l[i..i + l[i..].find(']')? + 1].to_string())
        })
        .collect()
}

/// Every `ENC[...]` line of a file, with its key.
fn enc_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("ENC[") && !l.trim_start().starts_with("mac:"))
        .map(str::to_string)
        .collect()
}

fn secret(name: &str, data: &[(&str, &str)]) -> String {
    let mut s =
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\ntype: Opaque\ndata:\n");
    for (k, v) in data {
        s.push_str(&format!("  {k}: {}\n", b64(v)));
    }
    s
}

const FIVE: [(&str, &str); 5] = [
    ("alpha", "one"),
    ("bravo", "two"),
    ("charlie", "three"),
    ("delta", "four"),
    ("echo", "five"),
];

// ---------------------------------------------------------------------------------------------
// kseal set
// ---------------------------------------------------------------------------------------------

#[test]
fn set_changes_only_the_value_lastmodified_and_mac() {
    let sb = Sandbox::new();
    let plain = secret("db", &FIVE);
    let file = encrypted(&sb, "db.enc.yaml", &plain);
    let before = read(&file);
    set(&sb, &file, &["charlie", "--value", "n3w-v4lue"]);
    let after = read(&file);
    let changed = changed_lines(&before, &after);
    assert!(
        changed.iter().any(|(b, _)| line_key(b) == "charlie"),
        "the value's line did not change: {changed:?}"
    );
    for (b, a) in &changed {
        assert_eq!(line_key(b), line_key(a));
        assert!(
            // kseal_mac: the structural MAC covers lastmodified and the sops MAC.
            ["charlie", "lastmodified", "mac", "kseal_mac"].contains(&line_key(b)),
            "unexpected change: {b} -> {a}"
        );
    }
    assert!(!after.contains("n3w-v4lue") && !after.contains(&b64("n3w-v4lue")));
    let expected = plain.replace(&b64("three"), &b64("n3w-v4lue"));
    assert_eq!(decrypt(&sb, &file), expected);
    let by_sops = sops_decrypt(&sb, &file);
    assert!(
        by_sops.contains(&format!("charlie: {}", b64("n3w-v4lue"))),
        "{by_sops}"
    );
    assert!(
        by_sops.contains(&format!("alpha: {}", b64("one"))),
        "{by_sops}"
    );
}

#[test]
fn set_to_the_same_value_keeps_its_ciphertext() {
    let sb = Sandbox::new();
    let file = encrypted(&sb, "db.enc.yaml", &secret("db", &FIVE));
    let before = read(&file);
    set(&sb, &file, &["bravo", "--value", "two"]);
    let after = read(&file);
    assert_eq!(enc_lines(&before), enc_lines(&after));
    sops_decrypt(&sb, &file);
}

#[test]
fn set_adds_keys_to_data_and_string_data() {
    let sb = Sandbox::new();
    let plain = secret("db", &FIVE);
    let file = encrypted(&sb, "db.enc.yaml", &plain);
    let before = read(&file);
    set(&sb, &file, &["foxtrot", "--value", "six"]);
    // Every existing value keeps its ciphertext; one line is added after the last entry.
    let after = read(&file);
    let old = enc_lines(&before);
    let new = enc_lines(&after);
    assert_eq!(new.len(), old.len() + 1);
    assert_eq!(&new[..old.len()], &old[..]);
    assert!(
        new[old.len()].starts_with("  foxtrot: ENC["),
        "{}",
        new[old.len()]
    );

    set(
        &sb,
        &file,
        &["conf.ini", "--string", "--value", "[db]\nport = 5432\n"],
    );
    set(&sb, &file, &["port", "--string", "--value", "5432"]);
    set(&sb, &file, &["token", "--string", "--value", "plain-text"]);
    let expected = format!(
        "{plain}  foxtrot: {}\nstringData:\n  conf.ini: |\n    [db]\n    port = 5432\n  port: \"5432\"\n  token: plain-text\n",
        b64("six")
    );
    assert_eq!(decrypt(&sb, &file), expected);
    let by_sops = sops_decrypt(&sb, &file);
    assert!(by_sops.contains("token: plain-text"), "{by_sops}");
    assert!(by_sops.contains("port: \"5432\""), "{by_sops}");
}

#[test]
fn set_creates_the_mapping_with_the_documents_indentation() {
    let sb = Sandbox::new();
    // Top-level keys not in order: the new mapping goes after the last entry.
    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n    name: four\n    namespace: ns\ntype: Opaque\nimmutable: false\n";
    let file = encrypted(&sb, "four.enc.yaml", plain);
    set(&sb, &file, &["password", "--value", "pw"]);
    assert_eq!(
        decrypt(&sb, &file),
        format!("{plain}data:\n    password: {}\n", b64("pw"))
    );
    sops_decrypt(&sb, &file);

    // Sorted top-level keys (as kubectl writes them): the mapping goes where it sorts.
    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  user: admin\n";
    let file = encrypted(&sb, "s.enc.yaml", plain);
    set(&sb, &file, &["password", "--value", "pw"]);
    assert_eq!(
        decrypt(&sb, &file),
        format!(
            "apiVersion: v1\ndata:\n  password: {}\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  user: admin\n",
            b64("pw")
        )
    );
    sops_decrypt(&sb, &file);
}

/// Issue 13: `set` appended a new key after the last one; kustomize sorts keys, and the
/// KsealTransformer then failed the MAC. In a sorted mapping (kubectl writes them sorted) the
/// key goes where it sorts, above the comment that leads into the next key; elsewhere at the
/// end. The result goes through `kubectl kustomize` with the transformer.
#[test]
fn set_puts_a_new_key_where_it_sorts() {
    let sb = Sandbox::new();
    let plain = "apiVersion: v1\ndata:\n  alpha: b25l\n  # the next one\n  delta: Zm91cg==\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\n";
    let file = encrypted(&sb, "db.enc.yaml", plain);
    set(&sb, &file, &["charlie", "--value", "three"]);
    set(&sb, &file, &["echo", "--value", "five"]);
    set(&sb, &file, &["Zulu", "--value", "z"]);
    set(&sb, &file, &["host", "--string", "--value", "db.local"]);
    assert_eq!(
        decrypt(&sb, &file),
        format!(
            "apiVersion: v1\ndata:\n  Zulu: {}\n  alpha: b25l\n  charlie: {}\n  # the next one\n  delta: Zm91cg==\n  echo: {}\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  host: db.local\ntype: Opaque\n",
            b64("z"),
            b64("three"),
            b64("five")
        )
    );
    sops_decrypt(&sb, &file);
    // Not sorted: at the end, as before.
    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: u\ndata:\n  zeta: b25l\n  alpha: Zm91cg==\n";
    let file = encrypted(&sb, "u.enc.yaml", plain);
    set(&sb, &file, &["beta", "--value", "two"]);
    assert!(decrypt(&sb, &file).ends_with(&format!("  alpha: Zm91cg==\n  beta: {}\n", b64("two"))));
    // Through kustomize's sorting, the transformer verifies the MAC.
    kustomize_transformer_verifies(&sb, "db.enc.yaml");
}

/// `kubectl kustomize` with the file as a resource and kseal's legacy transformer plugin:
/// the build sorts every mapping; the plugin must verify the MAC and decrypt.
fn kustomize_transformer_verifies(sb: &Sandbox, rel: &str) {
    let plugin_home = sb.path(".config/kustomize/plugin");
    let dir = plugin_home.join("kseal.dev/v1alpha1/ksealtransformer");
    fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kseal"), dir.join("KsealTransformer")).unwrap();
    sb.write(
        "transformer.yaml",
        "apiVersion: kseal.dev/v1alpha1\nkind: KsealTransformer\nmetadata:\n  name: decrypt\n",
    );
    sb.write(
        "kustomization.yaml",
        format!("resources:\n  - {rel}\ntransformers:\n  - transformer.yaml\n"),
    );
    let out = run(sb
        .tool("kubectl")
        .args(["kustomize", "--enable-alpha-plugins", "."])
        .env("KSEAL_AGE_KEY_FILE", key()));
    let text = ok(out);
    assert!(text.contains("  host: db.local\n"), "{text}");
    assert!(!text.contains("ENC["), "{text}");
}

#[test]
fn set_moves_a_key_between_data_and_string_data() {
    let sb = Sandbox::new();
    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: m\ndata:\n  user: YWRtaW4=\n  password: b2xk\n";
    let file = encrypted(&sb, "m.enc.yaml", plain);
    let o = run(sb
        .kseal()
        .args(["set"])
        .arg(&file)
        .args(["password", "--string", "--value", "new"])
        .arg("--identity")
        .arg(key()));
    let err = stderr(&ok_output(o));
    assert!(err.contains("removed data.password"), "{err}");
    assert_eq!(
        decrypt(&sb, &file),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: m\ndata:\n  user: YWRtaW4=\nstringData:\n  password: new\n"
    );
}

fn ok_output(o: Output) -> Output {
    assert!(o.status.success(), "failed: {}", stderr(&o));
    o
}

#[test]
fn set_reads_stdin_and_binary_files() {
    let sb = Sandbox::new();
    let plain = secret("db", &FIVE);
    let file = encrypted(&sb, "db.enc.yaml", &plain);

    let o = kseal_stdin(
        &sb,
        &[
            "set",
            file.to_str().unwrap(),
            "cert.pem",
            "--string",
            "--stdin",
        ],
        b"-----BEGIN X-----\nAAAA\n-----END X-----\n",
    );
    assert_eq!(stdout(&o), "");
    ok(o);
    let o = kseal_stdin(
        &sb,
        &["set", file.to_str().unwrap(), "raw", "--stdin"],
        b"line\n",
    );
    ok(o);

    let bytes: Vec<u8> = (0..=255u8).rev().collect();
    let bin = sb.write("blob.bin", &bytes);
    set(&sb, &file, &["blob", "--from-file", bin.to_str().unwrap()]);

    let out = decrypt(&sb, &file);
    assert!(
        out.contains(
            "stringData:\n  cert.pem: |\n    -----BEGIN X-----\n    AAAA\n    -----END X-----\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!("  raw: {}\n", b64("line\n"))),
        "{out}"
    );
    assert!(out.contains(&format!("  blob: {}\n", b64(&bytes))), "{out}");
    let by_sops = sops_decrypt(&sb, &file);
    assert!(by_sops.contains(&b64(&bytes)), "{by_sops}");

    // Binary bytes cannot go under stringData.
    let o = run(sb
        .kseal()
        .arg("set")
        .arg(&file)
        .args(["blob2", "--string", "--from-file"])
        .arg(&bin)
        .arg("--identity")
        .arg(key()));
    assert_eq!(code(&o), Some(4), "{}", stderr(&o));
}

const MULTI: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: first\ndata:\n  k: YQ==\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  k: plain\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: second\ndata:\n  k: Yg==\n";

#[test]
fn set_selects_the_document_by_number_or_name() {
    let sb = Sandbox::new();
    let file = encrypted(&sb, "multi.enc.yaml", MULTI);

    let o = kseal_id(&sb, &["set", file.to_str().unwrap(), "k", "--value", "x"]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("first") && err.contains("second"), "{err}");
    assert!(err.contains("--name"), "{err}");

    set(&sb, &file, &["k", "--value", "by-doc", "--doc", "3"]);
    set(
        &sb,
        &file,
        &["new", "--value", "by-name", "--name", "first"],
    );
    let expected = MULTI
        .replace("  k: Yg==\n", &format!("  k: {}\n", b64("by-doc")))
        .replace(
            "  k: YQ==\n",
            &format!("  k: YQ==\n  new: {}\n", b64("by-name")),
        );
    assert_eq!(decrypt(&sb, &file), expected);

    for bad in [
        vec!["--doc", "2"],
        vec!["--doc", "9"],
        vec!["--name", "nope"],
    ] {
        let mut args = vec!["set", file.to_str().unwrap(), "k", "--value", "x"];
        args.extend(bad.iter().copied());
        let o = kseal_id(&sb, &args);
        assert_eq!(code(&o), Some(2), "{bad:?}: {}", stderr(&o));
    }
    let o = kseal_id(&sb, &["unset", file.to_str().unwrap(), "k"]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
}

#[test]
fn set_refuses_plain_files_and_flow_mappings() {
    let sb = Sandbox::new();
    let plain = sb.write("plain.yaml", secret("db", &FIVE));
    let before = fs::read(&plain).unwrap();
    let o = kseal_id(
        &sb,
        &["set", plain.to_str().unwrap(), "alpha", "--value", "x"],
    );
    assert_eq!(code(&o), Some(10), "{}", stderr(&o));
    assert_eq!(fs::read(&plain).unwrap(), before);

    let flow = encrypted(
        &sb,
        "flow.enc.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: f\ndata: {a: YQ==}\n",
    );
    let before = fs::read(&flow).unwrap();
    let o = kseal_id(&sb, &["set", flow.to_str().unwrap(), "b", "--value", "x"]);
    assert_eq!(code(&o), Some(9), "{}", stderr(&o));
    assert!(stderr(&o).contains("kseal edit"), "{}", stderr(&o));
    assert_eq!(fs::read(&flow).unwrap(), before);

    // No value source, or a key Kubernetes refuses: usage errors.
    let file = encrypted(&sb, "db.enc.yaml", &secret("db", &FIVE));
    let o = kseal_id(&sb, &["set", file.to_str().unwrap(), "alpha"]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    let o = kseal_id(&sb, &["set", file.to_str().unwrap(), "a b", "--value", "x"]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
}

#[test]
fn errors_never_show_the_value() {
    let sb = Sandbox::new();
    let file = encrypted(&sb, "db.enc.yaml", &secret("db", &FIVE));
    let value = "t0p-s3cr3t-value";
    let plain = sb.write("plain.yaml", secret("db", &FIVE));
    for args in [
        vec!["set", plain.to_str().unwrap(), "alpha", "--value", value],
        vec!["set", file.to_str().unwrap(), "bad key", "--value", value],
        vec![
            "set",
            file.to_str().unwrap(),
            "k",
            "--value",
            value,
            "--doc",
            "7",
        ],
    ] {
        let o = kseal_id(&sb, &args);
        assert!(!o.status.success());
        assert!(!stderr(&o).contains(value) && !stdout(&o).contains(value));
    }
    let o = run(sb.kseal().args([
        "create",
        "generic",
        "x",
        "--age",
        &recipient(),
        &format!("--from-literal={value}"),
    ]));
    assert_eq!(code(&o), Some(2));
    assert!(!stderr(&o).contains(value), "{}", stderr(&o));
}

#[test]
fn set_and_unset_on_files_the_sops_cli_wrote() {
    let sb = Sandbox::new();
    let file = sb.write(
        "indent-4.yaml",
        fs::read(fixture("sops-made/indent-4.yaml")).unwrap(),
    );
    let before = read(&file);
    set(&sb, &file, &["password", "--value", "rotated"]);
    set(&sb, &file, &["api-key", "--value", "k3y"]);
    let after = read(&file);
    // Every other value keeps its ciphertext. (Lines are compared by their ENC text: the
    // multi-line config.ini, written plain by sops, comes back from decryption as a `|` block
    // and keeps that block header when it is sealed again.)
    let old = enc_tokens(&before);
    let new = enc_tokens(&after);
    assert_eq!(new.len(), old.len() + 1);
    let password = before
        .lines()
        .find(|l| l.trim_start().starts_with("password:"))
        .unwrap();
    for t in old.iter().filter(|t| !password.contains(t.as_str())) {
        assert!(new.contains(t), "changed: {t}");
    }
    assert!(after.contains("\n    api-key: ENC["), "{after}");
    let by_sops = sops_decrypt(&sb, &file);
    assert!(
        by_sops.contains(&format!("password: {}", b64("rotated"))),
        "{by_sops}"
    );
    assert!(
        by_sops.contains(&format!("api-key: {}", b64("k3y"))),
        "{by_sops}"
    );

    let o = kseal_id(&sb, &["unset", file.to_str().unwrap(), "config.ini"]);
    ok(o);
    let by_sops = sops_decrypt(&sb, &file);
    assert!(
        !by_sops.contains("config.ini") && !by_sops.contains("stringData"),
        "{by_sops}"
    );
}

// ---------------------------------------------------------------------------------------------
// kseal unset
// ---------------------------------------------------------------------------------------------

#[test]
fn unset_removes_the_key() {
    let sb = Sandbox::new();
    let plain = secret("db", &FIVE);
    let file = encrypted(&sb, "db.enc.yaml", &plain);
    let before = read(&file);
    let o = kseal_id(&sb, &["unset", file.to_str().unwrap(), "delta"]);
    assert_eq!(stdout(&o), "");
    ok(o);
    let after = read(&file);
    let removed: Vec<String> = enc_lines(&before)
        .into_iter()
        .filter(|l| !enc_lines(&after).contains(l))
        .collect();
    assert_eq!(removed.len(), 1);
    assert!(removed[0].starts_with("  delta: "));
    assert_eq!(enc_lines(&after).len(), 4);
    assert_eq!(
        decrypt(&sb, &file),
        plain.replace(&format!("  delta: {}\n", b64("four")), "")
    );
    let by_sops = sops_decrypt(&sb, &file);
    assert!(!by_sops.contains("delta"), "{by_sops}");
}

#[test]
fn unset_of_an_absent_key() {
    let sb = Sandbox::new();
    let file = encrypted(&sb, "db.enc.yaml", &secret("db", &FIVE));
    let before = fs::read(&file).unwrap();
    let o = kseal_id(&sb, &["unset", file.to_str().unwrap(), "zulu"]);
    assert_eq!(code(&o), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("zulu") && stderr(&o).contains("document 1"),
        "{}",
        stderr(&o)
    );
    let o = kseal_id(
        &sb,
        &["unset", file.to_str().unwrap(), "zulu", "--idempotent"],
    );
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read(&file).unwrap(), before);
}

// ---------------------------------------------------------------------------------------------
// kseal get
// ---------------------------------------------------------------------------------------------

/// `kseal get FILE ARGS... --identity KEY`.
fn get(sb: &Sandbox, file: &Path, args: &[&str]) -> Output {
    run(sb
        .kseal()
        .arg("get")
        .arg(file)
        .args(args)
        .arg("--identity")
        .arg(key()))
}

#[test]
fn get_prints_the_decoded_value_and_nothing_else() {
    let sb = Sandbox::new();
    // A value with no final line break, one with one, binary bytes, and a stringData key that
    // also sits in data (stringData wins, as in the API server).
    let binary: Vec<u8> = vec![0, 159, 146, 150, 255, b'\n'];
    let plain = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: {}\n  cert: {}\n  blob: {}\n  both: {}\nstringData:\n  both: from-string-data\n  port: \"5432\"\n",
        b64("s3cr3t"),
        b64("-----BEGIN-----\nabc\n"),
        b64(&binary),
        b64("from-data")
    );
    let file = encrypted(&sb, "db.enc.yaml", &plain);
    let value = |args: &[&str]| {
        let o = get(&sb, &file, args);
        assert_eq!(code(&o), Some(0), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{args:?}");
        o.stdout
    };
    // stdout is a pipe here: the bytes exactly, no line break added.
    assert_eq!(value(&["password"]), b"s3cr3t");
    assert_eq!(value(&["cert"]), b"-----BEGIN-----\nabc\n");
    assert_eq!(value(&["blob"]), binary);
    assert_eq!(value(&["both"]), b"from-string-data");
    assert_eq!(value(&["port"]), b"5432");
    assert_eq!(value(&["password", "--raw"]), b64("s3cr3t").as_bytes());

    // A missing key names the keys there are, never a value; --raw on a stringData key.
    let o = get(&sb, &file, &["nope"]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("no key `nope`") && err.contains("data.password"),
        "{err}"
    );
    assert!(
        !err.contains("s3cr3t") && !err.contains(&b64("s3cr3t")),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    let o = get(&sb, &file, &["port", "--raw"]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
}

/// On a terminal the value ends with a line break, so the shell prompt does not run into it,
/// unless it already ends with one; piped, the bytes are exact (the test above). `script` gives
/// kseal a pseudo-terminal as stdout, which turns each `\n` into `\r\n` on the way out.
#[test]
fn get_on_a_terminal_ends_the_value_with_one_line_break() {
    require("script");
    let sb = Sandbox::new();
    let plain = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: {}\n  cert: {}\n",
        b64("s3cr3t"),
        b64("abc\n")
    );
    let file = encrypted(&sb, "db.enc.yaml", &plain);
    let on_a_terminal = |key_name: &str| {
        let cmd = format!(
            "'{}' get '{}' {key_name} --identity '{}'",
            env!("CARGO_BIN_EXE_kseal"),
            file.display(),
            key().display()
        );
        let o = run(sb
            .tool("script")
            .args(["-q", "-e", "-c", &cmd, "/dev/null"])
            .stdin(Stdio::null()));
        assert_eq!(code(&o), Some(0), "{key_name}: {}", stderr(&o));
        o.stdout
    };
    assert_eq!(on_a_terminal("password"), b"s3cr3t\r\n");
    assert_eq!(on_a_terminal("cert"), b"abc\r\n", "no second line break");
}

/// The README's `kseal get` recipe, run as written (with kseal on PATH and the test key).
#[test]
fn get_readme_recipe_runs_as_written() {
    let sb = Sandbox::new();
    encrypted(&sb, "db.enc.yaml", &secret("db", &[("password", "s3cr3t")]));
    let readme = read(&repo().join("README.md"));
    let section = &readme[readme.find("### `kseal get").expect("get section")..];
    let block = &section[section.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_kseal"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut outputs = Vec::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let o = run(sb
            .tool("sh")
            .args(["-c", line])
            .env("PATH", &path)
            .env("KSEAL_AGE_KEY_FILE", key()));
        outputs.push(ok(o));
    }
    assert_eq!(outputs, ["s3cr3t".to_string(), b64("s3cr3t")]);
}

#[test]
fn get_verifies_the_mac_and_refuses_plain_files() {
    let sb = Sandbox::new();
    let file = encrypted(&sb, "db.enc.yaml", &secret("db", &FIVE));
    // A clear field changed after encryption: the MAC fails, nothing is printed.
    let text = read(&file).replace("name: db", "name: evil");
    let tampered = sb.write("tampered.enc.yaml", text);
    let o = get(&sb, &tampered, &["alpha"]);
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    // A plain file has no MAC: refused, nothing printed.
    let plain = sb.write("plain.yaml", secret("db", &FIVE));
    let o = get(&sb, &plain, &["alpha"]);
    assert_eq!(code(&o), Some(10), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    // No identity: exit 5.
    let o = run(sb.kseal().arg("get").arg(&file).arg("alpha"));
    assert_eq!(code(&o), Some(5), "{}", stderr(&o));
}

#[test]
fn get_selects_the_secret_and_reads_sops_files() {
    let sb = Sandbox::new();
    let file = encrypted(&sb, "multi.enc.yaml", MULTI);
    let o = get(&sb, &file, &["k"]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--name"), "{}", stderr(&o));
    assert_eq!(get(&sb, &file, &["k", "--name", "second"]).stdout, b"b");
    assert_eq!(get(&sb, &file, &["k", "--doc", "1"]).stdout, b"a");
    let o = get(&sb, &file, &["k", "--doc", "2"]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));

    // Files the real sops wrote, YAML and JSON.
    let o = get(
        &sb,
        &fixture("sops-made/kubectl-generic.yaml"),
        &["username"],
    );
    assert_eq!(ok(o), "admin");
    let o = get(&sb, &fixture("sops-made/kubectl-secret.json"), &["a"]);
    assert_eq!(ok(o), "b");
}

/// A `kind: List` of Secrets (what `kubectl get secret a b -o yaml` prints), and a Secret
/// document after it.
const LIST: &str = "apiVersion: v1\nitems:\n- apiVersion: v1\n  data:\n    password: czNjcjN0\n  kind: Secret\n  metadata:\n    name: a\n  type: Opaque\n- apiVersion: v1\n  data:\n    token: dG9r\n  kind: Secret\n  metadata:\n    name: b\n  type: Opaque\nkind: List\nmetadata:\n  resourceVersion: \"\"\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\ndata:\n  token: b3RoZXI=\n";

/// Before: a List was "no Secret document" for encrypt, and set/get could not reach its items.
#[test]
fn set_unset_and_get_reach_the_secrets_of_a_list() {
    let sb = Sandbox::new();
    let file = encrypted(&sb, "list.enc.yaml", LIST);
    assert_eq!(ok(get(&sb, &file, &["password", "--name", "a"])), "s3cr3t");
    // `b` is a List item and a document: --doc says which.
    let o = get(&sb, &file, &["token", "--name", "b"]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("document 1, items[1] (Secret b)") && err.contains("document 2 (Secret b)"),
        "{err}"
    );
    assert_eq!(
        ok(get(&sb, &file, &["token", "--doc", "1", "--name", "b"])),
        "tok"
    );
    assert_eq!(ok(get(&sb, &file, &["token", "--doc", "2"])), "other");
    let o = get(&sb, &file, &["token", "--doc", "1"]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));

    let before = read(&file);
    set(
        &sb,
        &file,
        &["token", "--value", "t2", "--doc", "1", "--name", "b"],
    );
    set(&sb, &file, &["extra", "--value", "x", "--name", "a"]);
    set(
        &sb,
        &file,
        &["note", "--string", "--value", "hi", "--name", "a"],
    );
    let expected = LIST
        .replace("    token: dG9r\n", &format!("    token: {}\n", b64("t2")))
        // kubectl's keys are sorted: new keys go where they sort, inside the item too.
        .replace(
            "    password: czNjcjN0\n",
            &format!("    extra: {}\n    password: czNjcjN0\n", b64("x")),
        )
        .replace(
            "    name: a\n  type: Opaque\n",
            "    name: a\n  stringData:\n    note: hi\n  type: Opaque\n",
        );
    assert_eq!(decrypt(&sb, &file), expected);
    // Unchanged values keep their ciphertext.
    let kept = enc_tokens(&before)
        .into_iter()
        .filter(|t| read(&file).contains(t.as_str()))
        .count();
    assert_eq!(kept, 2, "password and the document's token");
    let by_sops = sops_decrypt(&sb, &file);
    assert!(
        by_sops.contains(&format!("token: {}", b64("t2"))),
        "{by_sops}"
    );
    assert!(by_sops.contains("note: hi"), "{by_sops}");

    ok(kseal_id(
        &sb,
        &["unset", file.to_str().unwrap(), "extra", "--name", "a"],
    ));
    assert!(!decrypt(&sb, &file).contains("extra"));
    sops_decrypt(&sb, &file);
}

/// Before: `set` on a JSON file exited 9 ("JSON ... kseal cannot re-encrypt yet"). Now set and
/// unset work on the JSON file the real sops wrote, the result stays in sops's JSON layout,
/// unchanged values keep their ciphertext, and sops opens it.
#[test]
fn set_and_unset_on_a_json_file_the_sops_cli_wrote() {
    let sb = Sandbox::new();
    let file = sb.write(
        "secret.json",
        fs::read(fixture("sops-made/kubectl-secret.json")).unwrap(),
    );
    let before = read(&file);
    set(&sb, &file, &["token", "--value", "t0k"]);
    set(&sb, &file, &["note", "--string", "--value", "a<b>\n"]);
    let after = read(&file);
    // The value sops sealed keeps its ciphertext; the layout is sops's (tabs, sops last).
    let a_line = before.lines().find(|l| l.contains("\"a\": ")).unwrap();
    assert!(after.contains(a_line.trim_end_matches(',')), "{after}");
    assert!(
        after.contains("\n\t\"stringData\": {\n\t\t\"note\": \"ENC[AES256_GCM,"),
        "{after}"
    );
    assert!(
        after.contains("\n\t\"sops\": {\n\t\t\"age\": [\n"),
        "{after}"
    );
    assert!(after.ends_with("\n\t}\n}\n"), "{after}");
    let want = "{\n\t\"kind\": \"Secret\",\n\t\"apiVersion\": \"v1\",\n\t\"metadata\": {\n\t\t\"name\": \"x\",\n\t\t\"creationTimestamp\": null\n\t},\n\t\"data\": {\n\t\t\"a\": \"Yg==\",\n\t\t\"token\": \"dDBr\"\n\t},\n\t\"stringData\": {\n\t\t\"note\": \"a\\u003cb\\u003e\\n\"\n\t}\n}\n";
    assert_eq!(decrypt(&sb, &file), want);
    assert_eq!(sops_decrypt(&sb, &file), want);
    assert_eq!(ok(get(&sb, &file, &["note"])), "a<b>\n");

    ok(kseal_id(&sb, &["unset", file.to_str().unwrap(), "note"]));
    ok(kseal_id(&sb, &["unset", file.to_str().unwrap(), "token"]));
    let plain = decrypt(&sb, &file);
    assert!(
        !plain.contains("stringData") && !plain.contains("token"),
        "{plain}"
    );
    assert_eq!(sops_decrypt(&sb, &file), plain);
}

// ---------------------------------------------------------------------------------------------
// kseal encrypt --previous
// ---------------------------------------------------------------------------------------------

#[test]
fn encrypt_previous_keeps_unchanged_ciphertext() {
    let sb = Sandbox::new();
    let pairs: Vec<(String, String)> = (0..10)
        .map(|i| (format!("key{i}"), format!("value-{i}")))
        .collect();
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let plain = secret("ten", &refs);
    let file = encrypted(&sb, "ten.enc.yaml", &plain);
    let before = read(&file);

    let edited = plain.replace(&b64("value-4"), &b64("changed"));
    let o = kseal_stdin(
        &sb,
        &["encrypt", "--previous", file.to_str().unwrap(), "-"],
        edited.as_bytes(),
    );
    let out = ok(o);
    let old = enc_lines(&before);
    let new = enc_lines(&out);
    assert_eq!(new.len(), 10);
    let same = old.iter().zip(&new).filter(|(a, b)| a == b).count();
    assert_eq!(same, 9, "{old:#?}\n{new:#?}");
    assert_ne!(old[4], new[4]);
    // The envelope is the same: the same wrapped data key for the same recipient.
    let enc_block = |t: &str| {
        t[t.find("-----BEGIN AGE").unwrap()..]
            .lines()
            .take(6)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(enc_block(&before), enc_block(&out));

    let result = sb.write("result.enc.yaml", &out);
    assert_eq!(decrypt(&sb, &result), edited);
    assert!(sops_decrypt(&sb, &result).contains(&b64("changed")));

    // -o writes the file; recipients flags are ignored with a warning; -i is refused.
    let o = run(sb
        .kseal()
        .args(["encrypt", "--previous"])
        .arg(&file)
        .arg("--identity")
        .arg(key())
        .args(["--age", &recipient(), "-o"])
        .arg(sb.path("o.enc.yaml"))
        .arg(sb.write("edited.yaml", &edited)));
    let o = ok_output(o);
    assert!(stderr(&o).contains("ignored"), "{}", stderr(&o));
    assert_eq!(decrypt(&sb, &sb.path("o.enc.yaml")), edited);
    let o = kseal_id(
        &sb,
        &[
            "encrypt",
            "--previous",
            file.to_str().unwrap(),
            "-i",
            sb.path("edited.yaml").to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));

    // The Kubernetes checks still apply.
    let bad = plain.replace(&b64("value-1"), "not base64!");
    let o = kseal_stdin(
        &sb,
        &["encrypt", "--previous", file.to_str().unwrap()],
        bad.as_bytes(),
    );
    assert_eq!(code(&o), Some(4), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

// ---------------------------------------------------------------------------------------------
// kseal create
// ---------------------------------------------------------------------------------------------

/// `kubectl create secret ARGS --dry-run=client -o yaml` when kubectl is installed (CI does
/// not install it; the expected texts below were taken from kubectl 1.32).
fn kubectl(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Option<String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).find(|d| d.join("kubectl").is_file())?;
    let mut c = Command::new("kubectl");
    sb.isolate(&mut c);
    c.env("KUBECONFIG", sb.path("no-kubeconfig"));
    for (k, v) in env {
        c.env(k, v);
    }
    let o = run(c
        .args(["create", "secret"])
        .args(args)
        .args(["--dry-run=client", "-o", "yaml"]));
    assert!(o.status.success(), "kubectl: {}", stderr(&o));
    Some(stdout(&o))
}

/// `kseal create ARGS --age R` to stdout, decrypted by kseal (and checked by sops).
fn create(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut c = sb.kseal();
    for (k, v) in env {
        c.env(k, v);
    }
    let enc = ok(run(c
        .arg("create")
        .args(args)
        .args(["--age", &recipient()])));
    assert!(enc.contains("ENC[") && enc.contains("sops:"), "{enc}");
    let file = sb.write("created.enc.yaml", &enc);
    let by_sops = sops_decrypt(sb, &file);
    assert!(by_sops.contains("kind: Secret"), "{by_sops}");
    let plain = decrypt(sb, &file);
    fs::remove_file(file).unwrap();
    plain
}

/// Compares kseal's Secret with the expected text and, when installed, with kubectl's.
fn same_as_kubectl(sb: &Sandbox, args: &[&str], env: &[(&str, &str)], expected: &str) {
    let ours = create(sb, args, env);
    assert_eq!(ours, expected);
    if let Some(theirs) = kubectl(sb, args, env) {
        assert_eq!(ours, theirs, "kubectl prints otherwise");
    }
}

#[test]
fn create_generic_matches_kubectl() {
    let sb = Sandbox::new();
    sb.write("in/a.txt", "hello");
    sb.write("in/b.txt", "x\ny\n");
    sb.write("in/dir/one", "1");
    sb.write("in/dir/two", "2");
    fs::create_dir_all(sb.path("in/dir/sub")).unwrap();
    sb.write("in/dir/sub/three", "3");
    std::os::unix::fs::symlink(sb.path("in/a.txt"), sb.path("in/dir/link")).unwrap();
    let a = sb.path("in/a.txt");
    let b = sb.path("in/b.txt");
    let dir = sb.path("in/dir");
    same_as_kubectl(
        &sb,
        &[
            "generic",
            "app",
            "-n",
            "prod",
            "--type",
            "example.com/custom",
            "--from-literal=user=admin",
            "--from-literal=password=s3 cr=t",
            &format!("--from-file={}", a.display()),
            &format!("--from-file=renamed={}", b.display()),
            &format!("--from-file={}", dir.display()),
        ],
        &[],
        &format!(
            "apiVersion: v1\ndata:\n  a.txt: {}\n  one: MQ==\n  password: {}\n  renamed: {}\n  two: Mg==\n  user: {}\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: app\n  namespace: prod\ntype: example.com/custom\n",
            b64("hello"),
            b64("s3 cr=t"),
            b64("x\ny\n"),
            b64("admin")
        ),
    );
    // Without --type kubectl prints no type; an empty Secret has no data.
    same_as_kubectl(
        &sb,
        &["generic", "empty"],
        &[],
        "apiVersion: v1\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: empty\n",
    );
    // kubectl splits --from-file at commas.
    same_as_kubectl(
        &sb,
        &["generic", "two", &format!("--from-file={},k={}", a.display(), b.display())],
        &[],
        &format!(
            "apiVersion: v1\ndata:\n  a.txt: {}\n  k: {}\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: two\n",
            b64("hello"),
            b64("x\ny\n")
        ),
    );
}

#[test]
fn create_keys_are_ordered_and_quoted_like_kubectl() {
    let sb = Sandbox::new();
    // A set go-yaml orders consistently (with 09 and 0x1F beside 1, its comparison has
    // cycles and kubectl's own output changes from run to run).
    let keys = [
        "a10",
        "a9",
        "a_1",
        "true",
        "1",
        "1.5",
        "y",
        "-",
        "2001-12-14",
        "-x",
        ".a",
        "B",
        "a",
        "1e3",
        "on",
        "NULL",
        "z-10",
        "z-9",
        "0.1.2",
        "010",
    ];
    let mut args = vec!["generic".to_string(), "true".to_string()];
    args.extend(keys.iter().map(|k| format!("--from-literal={k}=v")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let order = [
        "'-'",
        "-x",
        ".a",
        "0.1.2",
        "\"1\"",
        "\"1.5\"",
        "\"1e3\"",
        "\"010\"",
        "\"2001-12-14\"",
        "B",
        "\"NULL\"",
        "a",
        "a_1",
        "a9",
        "a10",
        "\"on\"",
        "\"true\"",
        "\"y\"",
        "z-9",
        "z-10",
    ];
    let mut expected = String::from("apiVersion: v1\ndata:\n");
    for k in order {
        expected.push_str(&format!("  {k}: dg==\n"));
    }
    expected.push_str("kind: Secret\nmetadata:\n  creationTimestamp: null\n  name: \"true\"\n");
    same_as_kubectl(&sb, &args, &[], &expected);
}

/// Names and types that look like numbers or times to go-yaml v2 only in Go's reading: a
/// run of spaces is the timestamp layout's one space, `-0b-1` is no binary number, `0o-7` no
/// octal one (v2 has no `0o` fallback, unlike v3).
#[test]
fn create_quotes_names_as_go_yaml_v2_resolves_them() {
    let sb = Sandbox::new();
    same_as_kubectl(
        &sb,
        &["generic", "2001-12-14  21:59:43", "--type=-0b-1"],
        &[],
        "apiVersion: v1\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: \"2001-12-14  21:59:43\"\ntype: -0b-1\n",
    );
    same_as_kubectl(
        &sb,
        &["generic", "0b-1", "-n", "2001-1-2t3:4:5.6+24:00", "--type=0o-7"],
        &[],
        "apiVersion: v1\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: \"0b-1\"\n  namespace: \"2001-1-2t3:4:5.6+24:00\"\ntype: 0o-7\n",
    );
}

#[test]
fn create_generic_from_env_files_matches_kubectl() {
    let sb = Sandbox::new();
    let env = sb.write(
        "in/app.env",
        "\u{feff}# comment\n\n  FOO=bar\nQUOTED=\"kept\"\nSPACES=  both  \r\nFROM_ENV\nUNSET_VAR\nEMPTY=\nEQ=a=b\n\t# tabbed\nLAST=no-newline",
    );
    let env2 = sb.write("in/more.env", "OTHER=1\n");
    same_as_kubectl(
        &sb,
        &[
            "generic",
            "envs",
            &format!("--from-env-file={}", env.display()),
            &format!("--from-env-file={}", env2.display()),
        ],
        &[("FROM_ENV", "from-the-environment")],
        &format!(
            "apiVersion: v1\ndata:\n  EMPTY: \"\"\n  EQ: {}\n  FOO: {}\n  FROM_ENV: {}\n  LAST: {}\n  OTHER: MQ==\n  QUOTED: {}\n  SPACES: {}\n  UNSET_VAR: \"\"\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: envs\n",
            b64("a=b"),
            b64("bar"),
            b64("from-the-environment"),
            b64("no-newline"),
            b64("\"kept\""),
            b64("  both  ")
        ),
    );
    // `export KEY=...` is not a valid key for kubectl either.
    let bad = sb.write("in/bad.env", "export X=1\n");
    let o = run(sb
        .kseal()
        .args(["create", "generic", "x", "--age", &recipient()])
        .arg(format!("--from-env-file={}", bad.display())));
    assert_eq!(code(&o), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("line 1"), "{}", stderr(&o));
}

#[test]
fn create_tls_matches_kubectl() {
    let sb = Sandbox::new();
    let path = std::env::var_os("PATH").unwrap_or_default();
    if !std::env::split_paths(&path).any(|d| d.join("openssl").is_file()) {
        eprintln!("openssl is not installed: skipping the TLS case");
        return;
    }
    let o = run(sb.tool("openssl").args([
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=x", "-keyout", "k.pem",
        "-out", "c.pem", "-days", "1",
    ]));
    assert!(o.status.success(), "openssl: {}", stderr(&o));
    let cert = fs::read(sb.path("c.pem")).unwrap();
    let key = fs::read(sb.path("k.pem")).unwrap();
    same_as_kubectl(
        &sb,
        &["tls", "web", "-n", "ns", "--cert", "c.pem", "--key", "k.pem"],
        &[],
        &format!(
            "apiVersion: v1\ndata:\n  tls.crt: {}\n  tls.key: {}\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: web\n  namespace: ns\ntype: kubernetes.io/tls\n",
            b64(&cert),
            b64(&key)
        ),
    );
    // Swapped files are refused.
    let o = run(sb.kseal().args([
        "create",
        "tls",
        "web",
        "--cert",
        "k.pem",
        "--key",
        "c.pem",
        "--age",
        &recipient(),
    ]));
    assert_eq!(code(&o), Some(4), "{}", stderr(&o));
}

/// Issue 13: a key that does not match the certificate exited 0 (kubectl refuses it). The pair
/// is checked before anything is encrypted: RSA, EC (P-256, P-384, in PKCS#8 and SEC1) and
/// Ed25519 pairs made by openssl pass; mismatched pairs, swapped files, a certificate file
/// holding a key and an encrypted key are refused with exit 4 and nothing on stdout.
#[test]
fn create_tls_checks_the_pair() {
    require("openssl");
    let sb = Sandbox::new();
    let openssl = |args: &[&str]| {
        let o = run(sb.tool("openssl").args(args));
        assert!(o.status.success(), "openssl {args:?}: {}", stderr(&o));
    };
    let pair = |name: &str, newkey: &[&str]| {
        let (k, c) = (format!("{name}.key"), format!("{name}.crt"));
        let mut args = vec!["req", "-x509", "-nodes", "-subj", "/CN=x", "-days", "1"];
        args.extend_from_slice(newkey);
        args.extend_from_slice(&["-keyout", &k, "-out", &c]);
        openssl(&args);
        (k, c)
    };
    let rsa = pair("rsa", &["-newkey", "rsa:2048"]);
    let rsa2 = pair("rsa2", &["-newkey", "rsa:2048"]);
    let ec = pair(
        "ec",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let ec384 = pair(
        "ec384",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
    );
    let ed = pair("ed", &["-newkey", "ed25519"]);
    // The same keys in their traditional forms (PKCS#1, SEC1), and a P-256 SEC1 key without
    // its public part.
    openssl(&["pkey", "-in", "rsa.key", "-traditional", "-out", "rsa1.key"]);
    openssl(&["ec", "-in", "ec.key", "-out", "ec1.key"]);
    openssl(&["ec", "-in", "ec.key", "-no_public", "-out", "ec-nopub.key"]);
    openssl(&[
        "pkey",
        "-in",
        "rsa.key",
        "-aes256",
        "-passout",
        "pass:pw",
        "-out",
        "rsa-enc.key",
    ]);
    let both = format!("{}{}", read(&sb.path("rsa.crt")), read(&sb.path("rsa.key")));
    sb.write("both.pem", both);
    let create = |cert: &str, key: &str| {
        run(sb
            .kseal()
            .args(["create", "tls", "web", "--cert", cert, "--key", key])
            .args(["--age", &recipient()]))
    };
    for (cert, key) in [
        (&rsa.1, &rsa.0),
        (&rsa.1, &"rsa1.key".to_string()),
        (&ec.1, &ec.0),
        (&ec.1, &"ec1.key".to_string()),
        (&ec.1, &"ec-nopub.key".to_string()),
        (&ec384.1, &ec384.0),
        (&ed.1, &ed.0),
    ] {
        let o = create(cert, key);
        assert_eq!(code(&o), Some(0), "{cert} {key}: {}", stderr(&o));
        assert!(stdout(&o).contains("tls.key: ENC["));
    }
    for (cert, key, why) in [
        (&rsa.1, &rsa2.0, "does not match the certificate"),
        (&rsa.1, &ec.0, "does not match the certificate"),
        (&ec.1, &ec384.0, "does not match the certificate"),
        (&ed.1, &rsa.0, "does not match the certificate"),
        (&rsa.0, &rsa.1, "swapped"),
        (&rsa.1, &rsa.1, "swapped"),
        (&"both.pem".to_string(), &rsa.0, "also holds a private key"),
        (
            &rsa.1,
            &"rsa-enc.key".to_string(),
            "encrypted with a passphrase",
        ),
    ] {
        let o = create(cert, key);
        assert_eq!(code(&o), Some(4), "{cert} {key}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{cert} {key}: {}", stderr(&o));
        assert!(stderr(&o).contains(&format!("--cert {cert} --key {key}")));
        assert!(stdout(&o).is_empty());
        assert!(!stderr(&o).contains("PRIVATE KEY-----\n"));
    }
}

#[test]
fn create_docker_registry_matches_kubectl() {
    let sb = Sandbox::new();
    let config = "{\"auths\":{\"https://index.docker.io/v1/\":{\"username\":\"robot\",\"password\":\"p@ss\\\"\\u003c\\u003e\\u0026\\\\\",\"email\":\"r@example.com\",\"auth\":\"cm9ib3Q6cEBzcyI8PiZc\"}}}";
    assert_eq!(
        String::from_utf8(STANDARD.decode("cm9ib3Q6cEBzcyI8PiZc").unwrap()).unwrap(),
        "robot:p@ss\"<>&\\"
    );
    same_as_kubectl(
        &sb,
        &[
            "docker-registry",
            "pull",
            "--docker-username=robot",
            "--docker-password=p@ss\"<>&\\",
            "--docker-email=r@example.com",
        ],
        &[],
        &format!(
            "apiVersion: v1\ndata:\n  .dockerconfigjson: {}\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: pull\ntype: kubernetes.io/dockerconfigjson\n",
            b64(config)
        ),
    );
    same_as_kubectl(
        &sb,
        &["docker-registry", "reg", "-n", "ci", "--docker-server", "registry.example.com", "--docker-username", "u", "--docker-password", "p"],
        &[],
        &format!(
            "apiVersion: v1\ndata:\n  .dockerconfigjson: {}\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: reg\n  namespace: ci\ntype: kubernetes.io/dockerconfigjson\n",
            b64("{\"auths\":{\"registry.example.com\":{\"username\":\"u\",\"password\":\"p\",\"auth\":\"dTpw\"}}}")
        ),
    );
}

#[test]
fn create_refuses_what_kubectl_refuses() {
    let sb = Sandbox::new();
    sb.write("a.txt", "x");
    sb.write("e.env", "A=1\n");
    let r = recipient();
    for (args, want) in [
        (
            vec!["generic", "x", "--from-literal=a=1", "--from-literal=a=2"],
            2,
        ),
        (
            vec!["generic", "x", "--from-literal=a=1", "--from-file=a=a.txt"],
            2,
        ),
        (vec!["generic", "x", "--from-literal=bad key=1"], 2),
        (vec!["generic", "x", "--from-literal==1"], 2),
        (
            vec![
                "generic",
                "x",
                "--from-env-file=e.env",
                "--from-literal=b=1",
            ],
            2,
        ),
        (vec!["generic", "x", "--from-file=k=."], 2),
        (vec!["generic", "x", "--from-file=a=b=c"], 2),
        (vec!["generic", "x", "--from-file=missing.txt"], 3),
        (vec!["generic", "x", "--from-literal=a=1", "-o", "yaml"], 2),
        (
            vec![
                "docker-registry",
                "x",
                "--docker-username=",
                "--docker-password=p",
            ],
            2,
        ),
    ] {
        let o = run(sb.kseal().arg("create").args(&args).args(["--age", &r]));
        assert_eq!(code(&o), Some(want), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), "", "{args:?}");
    }
    // Without recipients nothing is read or written.
    let o = run(sb
        .kseal()
        .args(["create", "generic", "x", "--from-literal=a=1"]));
    assert_eq!(code(&o), Some(8), "{}", stderr(&o));
}

#[test]
fn create_output_file_and_sops_yaml_rules() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^secrets/.*\\.yaml$\n    age: {}\n",
            recipient()
        ),
    );
    fs::create_dir_all(sb.path("secrets")).unwrap();
    let out = sb.path("secrets/db.yaml");
    let o = run(sb
        .kseal()
        .args([
            "create",
            "generic",
            "db",
            "--from-literal=password=pw",
            "-o",
        ])
        .arg(&out));
    assert_eq!(stdout(&o), "");
    ok(o);
    assert_eq!(
        fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert!(decrypt(&sb, &out).contains(&format!("password: {}", b64("pw"))));
    // A path no rule matches has no recipients.
    let o = run(sb
        .kseal()
        .args([
            "create",
            "generic",
            "db",
            "--from-literal=password=pw",
            "-o",
        ])
        .arg(sb.path("elsewhere.yaml")));
    assert_eq!(code(&o), Some(8), "{}", stderr(&o));
}

/// `create -o` over an existing file refuses (exit 10) and leaves it as it was; `--force`
/// replaces it.
#[test]
fn create_refuses_to_replace_an_existing_output_without_force() {
    let sb = Sandbox::new();
    let out = sb.path("db.enc.yaml");
    let args = |v: &str| {
        vec![
            "create".to_string(),
            "generic".into(),
            "db".into(),
            format!("--from-literal=password={v}"),
            "--age".into(),
            recipient(),
            "-o".into(),
            out.display().to_string(),
        ]
    };
    ok(run(sb.kseal().args(args("first"))));
    let before = read(&out);
    let o = run(sb.kseal().args(args("second")));
    assert_eq!(code(&o), Some(10), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("db.enc.yaml already exists"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(read(&out), before, "the existing file changed");
    ok(run(sb.kseal().args(args("second")).arg("--force")));
    assert!(decrypt(&sb, &out).contains(&format!("password: {}", b64("second"))));
    // --force means nothing without -o.
    let o = run(sb
        .kseal()
        .args(["create", "generic", "x", "--from-literal=a=1", "--force"]));
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
}

/// Every byte under `dir`, file by file.
fn all_files(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            all_files(&e.path(), out);
        } else if t.is_file() {
            out.push((e.path(), fs::read(e.path()).unwrap()));
        }
    }
}

#[test]
fn create_never_writes_the_plaintext() {
    let sb = Sandbox::new();
    fs::create_dir_all(sb.path("tmp")).unwrap();
    let from_file = "f1le-s3cret-8d1e";
    let from_env = "env-s3cret-41c9";
    let literal = "l1teral-s3cret-5b7a";
    let password = "d0cker-s3cret-90fe";
    sb.write("inputs/value.txt", from_file);
    sb.write("inputs/app.env", format!("TOKEN={from_env}\n"));
    let r = recipient();
    let tmp = sb.path("tmp");
    let runs: Vec<Vec<String>> = vec![
        vec![
            "generic".into(),
            "a".into(),
            format!("--from-literal=lit={literal}"),
            "--from-file=inputs/value.txt".into(),
            "-o".into(),
            "out/a.enc.yaml".into(),
        ],
        vec![
            "generic".into(),
            "b".into(),
            "--from-env-file=inputs/app.env".into(),
            "-o".into(),
            "out/b.enc.yaml".into(),
        ],
        vec![
            "docker-registry".into(),
            "c".into(),
            "--docker-username=u".into(),
            format!("--docker-password={password}"),
            "-o".into(),
            "out/c.enc.yaml".into(),
        ],
    ];
    fs::create_dir_all(sb.path("out")).unwrap();
    for args in &runs {
        ok(run(sb
            .kseal()
            .env("TMPDIR", &tmp)
            .arg("create")
            .args(args)
            .args(["--age", &r])));
    }
    let mut files = Vec::new();
    all_files(sb.dir.path(), &mut files);
    let needles: Vec<Vec<u8>> = [from_file, from_env, literal, password]
        .iter()
        .flat_map(|v| [v.as_bytes().to_vec(), b64(v).into_bytes()])
        .collect();
    for (path, bytes) in &files {
        if path.starts_with(sb.path("inputs")) {
            continue;
        }
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_slice()),
                "{} holds a plaintext value",
                path.display()
            );
        }
    }
    assert!(files.iter().any(|(p, _)| p.ends_with("c.enc.yaml")));
    assert!(decrypt(&sb, &sb.path("out/b.enc.yaml")).contains(&b64(from_env)));
}

/// Issue 19, attack 5: someone who can push but holds no key adds their recipient to a file's
/// `sops:` block. `set` (and `unset`, `edit`, `encrypt --previous`) reuse the data key, so the
/// next secret would be readable by them: refused while the file's recipients differ from the
/// `.sops.yaml` rule, the file untouched; after `updatekeys` the write goes through.
#[test]
fn set_refuses_a_file_whose_recipients_differ_from_the_rules() {
    let sb = Sandbox::new();
    let mine = recipient();
    let intruder = public_key(&key2());
    let src = sb.write(
        "s.plain",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: b\n",
    );
    let file = sb.path("s.enc.yaml");
    ok(run(sb
        .kseal()
        .args(["encrypt", "--age", &format!("{mine},{intruder}")])
        .arg(&src)
        .arg("-o")
        .arg(&file)));
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    age: {mine}\n"),
    );
    let before = read(&file);
    let o = kseal_stdin(
        &sb,
        &["set", "s.enc.yaml", "token", "--stdin"],
        b"new-secret",
    );
    assert_eq!(code(&o), Some(10), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("s.enc.yaml"), "{e}");
    assert!(
        e.contains("recipients differ from its .sops.yaml rule"),
        "{e}"
    );
    assert!(e.contains(&format!("not in the rule: {intruder}")), "{e}");
    assert!(e.contains("kseal updatekeys"), "{e}");
    assert!(!e.contains("new-secret"));
    assert_eq!(read(&file), before, "the file was changed");
    let o = kseal_id(&sb, &["unset", "s.enc.yaml", "a"]);
    assert_eq!(code(&o), Some(10), "{}", stderr(&o));
    // The rule is the truth: updatekeys drops the intruder, then set works.
    ok(kseal_id(&sb, &["updatekeys", "-y", "s.enc.yaml"]));
    let o = kseal_stdin(
        &sb,
        &["set", "s.enc.yaml", "token", "--stdin", "--string"],
        b"new-secret",
    );
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(!read(&file).contains(&intruder));
    assert!(decrypt(&sb, &file).contains("token: new-secret"));
}

/// `set`/`unset --filename-override PATH` (sops's flag): the recipients check matches the
/// `.sops.yaml` rules against PATH, not the file's own name. A file the rules do not describe
/// is written as before; named as a path a rule covers, its extra recipient is refused and the
/// file is untouched; a file whose recipients are the rule's goes through.
#[test]
fn set_and_unset_match_the_rules_against_filename_override() {
    let sb = Sandbox::new();
    let mine = recipient();
    let intruder = public_key(&key2());
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - path_regex: ^prod/.*\\.enc\\.yaml$\n    age: {mine}\n"),
    );
    let src = sb.write(
        "s.plain",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  a: b\n",
    );
    let encrypt = |out: &str, recipients: &str| {
        ok(run(sb
            .kseal()
            .args(["encrypt", "--age", recipients])
            .arg(&src)
            .arg("-o")
            .arg(sb.path(out))));
    };
    encrypt("wide.yaml", &format!("{mine},{intruder}"));
    encrypt("own.yaml", &mine);
    let before = read(&sb.path("wide.yaml"));
    let override_args = ["--filename-override", "prod/db.enc.yaml"];
    let mut args = vec!["set", "wide.yaml", "token", "--stdin"];
    args.extend(override_args);
    let o = kseal_stdin(&sb, &args, b"new-secret");
    assert_eq!(code(&o), Some(10), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("wide.yaml") && e.contains("recipients differ"),
        "{e}"
    );
    assert!(e.contains(&format!("not in the rule: {intruder}")), "{e}");
    assert!(!e.contains("new-secret"), "{e}");
    let mut args = vec!["unset", "wide.yaml", "a"];
    args.extend(override_args);
    let o = kseal_id(&sb, &args);
    assert_eq!(code(&o), Some(10), "{}", stderr(&o));
    assert_eq!(read(&sb.path("wide.yaml")), before, "the file was changed");
    // Its own name matches no rule: nothing to compare with, the write goes through.
    ok(kseal_stdin(
        &sb,
        &["set", "wide.yaml", "token", "--stdin"],
        b"v1",
    ));
    // The rule's recipients: accepted under the override, for set and unset.
    let mut args = vec!["set", "own.yaml", "token", "--stdin", "--string"];
    args.extend(override_args);
    ok(kseal_stdin(&sb, &args, b"v2"));
    let mut args = vec!["unset", "own.yaml", "a"];
    args.extend(override_args);
    ok(kseal_id(&sb, &args));
    let plain = decrypt(&sb, &sb.path("own.yaml"));
    assert!(
        plain.contains("token: v2") && !plain.contains("a: b"),
        "{plain}"
    );
    for verb in ["set", "unset"] {
        let help = ok(run(sb.kseal().args([verb, "--help"])));
        assert!(help.contains("--filename-override <PATH>"), "{help}");
    }
}
