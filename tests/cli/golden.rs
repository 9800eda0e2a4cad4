//! Golden outputs: kseal run over the repository's corpus, every byte of stdout, stderr and the
//! exit code compared with `tests/fixtures/golden/` (recorded before the issue 14 redesign), so a
//! refactoring that changes any output fails here. Randomness is masked, nothing else: new
//! ciphertext (`ENC[...]` payloads, age stanzas, `kseal_mac`, `lastmodified`) keeps its length
//! but its characters become `*`, while ciphertext already present in an input file is kept as
//! it is, which proves that `set`/`edit`/`encrypt --previous` leave unchanged values alone.
//! `KSEAL_BLESS=1 cargo test --test cli golden` rewrites the files when a change is intended.

use crate::common::*;
use sha2::Digest;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The demo recipient (keys-example/demo.agekey): encryptions in the corpus are for it.
const DEMO: &str = "age1t4jp0g7e5uuq5qy2djfmv90s0t5m60vnlmm0lfgd7nl884tqu52qsc2h4z";

/// Outputs larger than this are recorded as their SHA-256 and their first `BIG_HEAD` bytes.
const BIG: usize = 64 * 1024;
const BIG_HEAD: usize = 4096;

/// One kseal run: arguments, optional stdin, and the files whose contents after the run are part
/// of the recorded output (for `-o`, `-i`, `set`).
struct Case {
    name: String,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    env: Vec<(String, String)>,
    show: Vec<String>,
    /// A sandbox file copied to another name before the run (the copy is what `set` edits).
    copy: Option<(String, String)>,
    /// Reads what the case before it wrote: runs right after it, on the same thread.
    follows: bool,
}

impl Case {
    fn new(name: &str, args: &str) -> Case {
        Case {
            name: name.to_string(),
            args: args.split_whitespace().map(str::to_string).collect(),
            stdin: None,
            env: Vec::new(),
            show: Vec::new(),
            copy: None,
            follows: false,
        }
    }
    fn arg(mut self, a: &str) -> Case {
        self.args.push(a.to_string());
        self
    }
    fn stdin(mut self, bytes: impl AsRef<[u8]>) -> Case {
        self.stdin = Some(bytes.as_ref().to_vec());
        self
    }
    fn env(mut self, k: &str, v: &str) -> Case {
        self.env.push((k.to_string(), v.to_string()));
        self
    }
    fn copy(mut self, from: &str, to: &str) -> Case {
        self.copy = Some((from.to_string(), to.to_string()));
        self
    }
    fn follows(mut self) -> Case {
        self.follows = true;
        self
    }
    fn show(mut self, rel: &str) -> Case {
        self.show.push(rel.to_string());
        self
    }
}

/// The inputs, copied into the sandbox so that paths in messages are short and relative and
/// writing commands never touch the repository.
const INPUT_DIRS: &[(&str, &str)] = &[
    ("tests/fixtures/corpus", "corpus"),
    ("tests/fixtures/invalid", "invalid"),
    ("tests/fixtures/sops-made", "sops-made"),
    ("tests/fixtures/structural", "structural"),
    ("tests/fixtures/interop", "interop"),
    ("keys-example", "keys-example"),
];

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    let mut entries: Vec<_> = fs::read_dir(from).unwrap().map(|e| e.unwrap()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().unwrap().is_dir() {
            copy_dir(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

fn files_under(root: &Path, rel: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![rel.to_string()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(root.join(&d)).unwrap() {
            let e = e.unwrap();
            let r = format!("{d}/{}", e.file_name().to_string_lossy());
            if e.file_type().unwrap().is_dir() {
                stack.push(r);
            } else {
                out.push(r);
            }
        }
    }
    out.sort();
    out
}

fn is_encrypted(text: &str) -> bool {
    text.contains("ENC[AES256_GCM") && text.contains("BEGIN AGE ENCRYPTED FILE")
}

/// A readable golden name from a path: `sops-made/derived/x.yaml` -> `sops-made.derived.x.yaml`.
fn flat(rel: &str) -> String {
    rel.replace('/', ".")
}

/// The sandbox: inputs copied, one identity file holding every test key, `out/` for results.
fn workspace(sb: &Sandbox) -> String {
    let repo = repo();
    for (from, to) in INPUT_DIRS {
        copy_dir(&repo.join(from), &sb.path(to));
    }
    fs::create_dir_all(sb.path("out")).unwrap();
    sb.write("inputs/app.env", "A=1\nB=two words\n# a comment\nEMPTY=\n");
    let mut keys = String::new();
    for k in [
        "sops-made/key.txt",
        "sops-made/key2.txt",
        "interop/flux/keys/age.txt",
        "interop/flux/keys/age-global.txt",
        "interop/metalkast/age-key.txt",
        "interop/sops/keys.txt",
        "keys-example/demo.agekey",
    ] {
        keys.push_str(&read(&sb.path(k)));
        keys.push('\n');
    }
    sb.write("all-keys.txt", keys);
    // Every ciphertext that exists before kseal runs: kept verbatim by the mask.
    let mut reference = String::new();
    for (_, d) in INPUT_DIRS {
        for f in files_under(sb.dir.path(), d) {
            reference.push_str(&String::from_utf8_lossy(&fs::read(sb.path(&f)).unwrap()));
        }
    }
    reference
}

/// The files also decrypted without any identity (the error and textconv's fallback).
const NO_KEY: &[&str] = &[
    "sops-made/basic-auth.yaml",
    "sops-made/kubectl-secret.json",
    "interop/sops/example.yaml",
    "interop/metalkast/four-secrets.enc.yaml",
];

fn decrypt_cases(sb: &Sandbox, cases: &mut Vec<Case>) {
    for d in ["sops-made", "interop", "structural"] {
        for f in files_under(sb.dir.path(), d) {
            let text = String::from_utf8_lossy(&fs::read(sb.path(&f)).unwrap()).into_owned();
            if !is_encrypted(&text) {
                continue;
            }
            let n = flat(&f);
            let id = "--identity all-keys.txt";
            cases.push(Case::new(
                &format!("decrypt/{n}"),
                &format!("decrypt {id} {f}"),
            ));
            cases.push(Case::new(
                &format!("textconv/{n}"),
                &format!("decrypt --textconv {id} {f}"),
            ));
            if NO_KEY.contains(&f.as_str()) {
                cases.push(Case::new(
                    &format!("decrypt-no-key/{n}"),
                    &format!("decrypt {f}"),
                ));
                cases.push(Case::new(
                    &format!("textconv-no-key/{n}"),
                    &format!("decrypt --textconv {f}"),
                ));
            }
        }
    }
}

/// Every corpus manifest encrypted for the demo key (masked), then decrypted again.
fn encrypt_cases(sb: &Sandbox, cases: &mut Vec<Case>) {
    for f in files_under(sb.dir.path(), "corpus") {
        if !f.ends_with(".yaml") {
            continue;
        }
        let n = flat(&f);
        let out = format!("out/{n}");
        cases.push(
            Case::new(
                &format!("encrypt/{n}"),
                &format!("encrypt --age {DEMO} -o {out} {f}"),
            )
            .show(&out),
        );
        cases.push(
            Case::new(
                &format!("roundtrip/{n}"),
                &format!("decrypt --identity keys-example/demo.agekey {out}"),
            )
            .follows(),
        );
        if ["kubectl-get-output", "multi-doc-mixed", "kubectl-generic"]
            .iter()
            .any(|c| f == format!("corpus/{c}.yaml"))
        {
            cases.push(Case::new(
                &format!("encrypt-clean/{n}"),
                &format!("encrypt --clean --age {DEMO} {f}"),
            ));
        }
    }
    for f in files_under(sb.dir.path(), "invalid") {
        let n = flat(&f);
        cases.push(Case::new(
            &format!("encrypt-invalid/{n}"),
            &format!("encrypt --age {DEMO} {f}"),
        ));
        cases.push(Case::new(
            &format!("decrypt-invalid/{n}"),
            &format!("decrypt --identity all-keys.txt {f}"),
        ));
    }
    for f in ["keys-example/secret.yaml", "keys-example/app.yaml"] {
        let n = flat(f);
        // The .sops.yaml rule of keys-example picks the recipient.
        cases.push(Case::new(
            &format!("encrypt-config/{n}"),
            &format!("encrypt --config keys-example/.sops.yaml {f}"),
        ));
        let stdin = fs::read(sb.path(f)).unwrap();
        cases.push(
            Case::new(
                &format!("encrypt-stdin/{n}"),
                &format!("encrypt --filename-override {f} --config keys-example/.sops.yaml"),
            )
            .stdin(stdin),
        );
    }
}

/// Commands that read many files at once: status, check, diff, kustomize decrypt.
fn report_cases(cases: &mut Vec<Case>) {
    let id = "--identity all-keys.txt";
    for d in [
        "sops-made",
        "interop",
        "corpus",
        "invalid",
        "keys-example",
        "structural",
    ] {
        cases.push(Case::new(
            &format!("status-json/{d}"),
            &format!("status --json {id} {d}"),
        ));
        cases.push(Case::new(
            &format!("status/{d}"),
            &format!("status {id} {d}"),
        ));
        cases.push(Case::new(
            &format!("status-no-verify/{d}"),
            &format!("status --no-verify --json {d}"),
        ));
        cases.push(Case::new(&format!("check/{d}"), &format!("check {d}")));
        cases.push(Case::new(
            &format!("check-json/{d}"),
            &format!("check --json {d}"),
        ));
        cases.push(Case::new(
            &format!("check-workloads/{d}"),
            &format!("check --workloads {d}"),
        ));
        cases.push(Case::new(
            &format!("decrypt-dir/{d}"),
            &format!("decrypt {id} {d}"),
        ));
    }
    let pairs = [
        ("sops-made/basic-auth.yaml", "sops-made/basic-auth.yaml"),
        (
            "sops-made/basic-auth.yaml",
            "sops-made/kubectl-generic.yaml",
        ),
        (
            "sops-made/multi-secrets.yaml",
            "sops-made/kustomize-secrets.yaml",
        ),
        ("sops-made/basic-auth.yaml", "corpus/basic-auth.yaml"),
        ("corpus/basic-auth.yaml", "corpus/kubectl-generic.yaml"),
        (
            "interop/metalkast/two-secrets.enc.yaml",
            "interop/metalkast/four-secrets.enc.yaml",
        ),
        ("interop/flux/merge1.yaml", "interop/flux/merge2.yaml"),
        ("sops-made/indent-2.yaml", "sops-made/indent-4.yaml"),
        (
            "invalid/yaml-syntax-error.yaml",
            "sops-made/basic-auth.yaml",
        ),
        ("sops-made/basic-auth.yaml", "missing.yaml"),
    ];
    for (i, (a, b)) in pairs.iter().enumerate() {
        cases.push(Case::new(&format!("diff/{i:02}"), &format!("diff {a} {b}")));
        cases.push(Case::new(
            &format!("diff-json/{i:02}"),
            &format!("diff --json {a} {b}"),
        ));
        cases.push(Case::new(
            &format!("diff-exit-code/{i:02}"),
            &format!("diff --exit-code {a} {b}"),
        ));
    }
    let stream: Vec<u8> = [
        "sops-made/basic-auth.yaml",
        "interop/metalkast/two-secrets.enc.yaml",
        "corpus/multi-doc-mixed.yaml",
    ]
    .iter()
    .flat_map(|f| {
        let mut b = read(&repo_input(f)).into_bytes();
        b.splice(0..0, b"---\n".iter().copied());
        b
    })
    .collect();
    cases.push(
        Case::new(
            "kustomize-decrypt/stream",
            &format!("kustomize decrypt {id}"),
        )
        .stdin(stream),
    );
}

/// The repository path of a sandbox input (for building stdin before the sandbox exists).
fn repo_input(rel: &str) -> PathBuf {
    for (from, to) in INPUT_DIRS {
        if let Some(rest) = rel.strip_prefix(&format!("{to}/")) {
            return repo().join(from).join(rest);
        }
    }
    panic!("{rel} is not an input")
}

/// get, set, unset, create: single values in and out.
fn value_cases(cases: &mut Vec<Case>) {
    let id = "--identity all-keys.txt";
    for (f, key, extra) in [
        ("sops-made/basic-auth.yaml", "username", ""),
        ("sops-made/basic-auth.yaml", "password", "--raw"),
        ("sops-made/basic-auth.yaml", "nope", ""),
        ("sops-made/big-binary.yaml", "blob", ""),
        ("sops-made/multi-secrets.yaml", "password", ""),
        ("sops-made/multi-secrets.yaml", "password", "--doc 2"),
        ("sops-made/stringdata-typed.yaml", "port", ""),
        ("sops-made/unicode.yaml", "greeting", ""),
        ("interop/flux/age.yaml", "key", ""),
        (
            "interop/metalkast/four-secrets.enc.yaml",
            "password",
            "--doc 4",
        ),
        ("interop/sops/example.yaml", "hello", ""),
        ("corpus/basic-auth.yaml", "username", ""),
    ] {
        let n = format!("{}.{key}{}", flat(f), extra.replace(' ', ""));
        cases.push(Case::new(
            &format!("get/{n}"),
            &format!("get {id} {extra} {f} {key}"),
        ));
    }
    // set/unset edit a copy in out/; ciphertext of untouched values must stay as it was.
    let edits: &[(&str, &str, &str)] = &[
        ("sops-made/basic-auth.yaml", "set", "newkey --value hello"),
        (
            "sops-made/basic-auth.yaml",
            "set",
            "username --value changed",
        ),
        (
            "sops-made/basic-auth.yaml",
            "set",
            "note --string --value text",
        ),
        (
            "sops-made/multi-secrets.yaml",
            "set",
            "--doc 2 extra --value x",
        ),
        ("sops-made/indent-2.yaml", "set", "aaa --value first"),
        ("sops-made/comments-everywhere.yaml", "unset", "password"),
        ("sops-made/basic-auth.yaml", "unset", "missing"),
        (
            "interop/metalkast/secret.enc.yaml",
            "set",
            "zz --value added",
        ),
        ("interop/flux/age.yaml", "set", "key --string --value v2"),
        ("interop/sops/example.yaml", "set", "hello --value x"),
    ];
    for (i, (f, verb, rest)) in edits.iter().enumerate() {
        let copy = format!("out/{verb}-{i:02}-{}", flat(f));
        cases.push(
            Case::new(
                &format!("{verb}/{i:02}.{}", flat(f)),
                &format!("{verb} {id} {copy} {rest}"),
            )
            .copy(f, &copy)
            .show(&copy),
        );
        cases.push(
            Case::new(
                &format!("{verb}-roundtrip/{i:02}.{}", flat(f)),
                &format!("decrypt {id} {copy}"),
            )
            .follows(),
        );
    }
    cases.push(
        Case::new(
            "set/stdin",
            &format!("set {id} out/set-stdin.yaml fromstdin --stdin"),
        )
        .stdin("line1\nline2\n")
        .copy("sops-made/basic-auth.yaml", "out/set-stdin.yaml")
        .show("out/set-stdin.yaml"),
    );
    let creates = [
        ("generic", "generic db --from-literal=user=admin --from-literal=password=s3cret -n prod"),
        ("generic-file", "generic files --from-file=corpus/basic-auth.yaml --from-file=k=keys-example/secret.yaml"),
        ("generic-env", "generic env --from-env-file=inputs/app.env"),
        ("generic-type", "generic typed --type example.com/x --from-literal=a=b"),
        ("generic-dup", "generic dup --from-literal=a=b --from-literal=a=c"),
        ("generic-badkey", "generic bad --from-literal=a/b=c"),
        ("docker", "docker-registry reg --docker-server=r.example.com --docker-username=u --docker-password=p --docker-email=u@example.com"),
        ("tls-missing", "tls web --cert missing.crt --key missing.key"),
    ];
    for (n, args) in creates {
        let out = format!("out/create-{n}.yaml");
        cases.push(
            Case::new(
                &format!("create/{n}"),
                &format!("create {args} --age {DEMO} -o {out}"),
            )
            .show(&out),
        );
        cases.push(
            Case::new(
                &format!("create-roundtrip/{n}"),
                &format!("decrypt --identity keys-example/demo.agekey {out}"),
            )
            .follows(),
        );
    }
}

/// Bad input typed by hand: wrong keys, tampering, truncation, usage errors.
fn error_cases(cases: &mut Vec<Case>) {
    for (n, args) in [
        ("no-args", ""),
        ("unknown-command", "frobnicate"),
        ("unknown-flag", "decrypt --frob x"),
        (
            "missing-file",
            "decrypt --identity all-keys.txt missing.yaml",
        ),
        (
            "missing-identity",
            "decrypt --identity missing.txt sops-made/basic-auth.yaml",
        ),
        (
            "wrong-key",
            "decrypt --identity interop/metalkast/age-key.txt sops-made/basic-auth.yaml",
        ),
        (
            "key-not-a-key",
            "decrypt --identity corpus/basic-auth.yaml sops-made/basic-auth.yaml",
        ),
        ("encrypt-no-recipient", "encrypt corpus/basic-auth.yaml"),
        (
            "encrypt-bad-recipient",
            "encrypt --age age1nope corpus/basic-auth.yaml",
        ),
        (
            "encrypt-already",
            "encrypt --age AGE sops-made/basic-auth.yaml",
        ),
        ("encrypt-missing", "encrypt --age AGE missing.yaml"),
        (
            "set-missing-value",
            "set --identity all-keys.txt sops-made/basic-auth.yaml k",
        ),
        ("get-plain", "get corpus/basic-auth.yaml username"),
        (
            "get-bad-doc",
            "get --identity all-keys.txt --doc 9 sops-made/basic-auth.yaml username",
        ),
        ("diff-one-arg", "diff sops-made/basic-auth.yaml"),
        ("status-max-age-bad", "status --max-age soon sops-made"),
        (
            "status-max-age",
            "status --no-verify --max-age 1d sops-made/basic-auth.yaml",
        ),
        (
            "status-fail-stale",
            "status --no-verify --fail-stale keys-example",
        ),
        (
            "require-structural-mac",
            "decrypt --require-structural-mac --identity all-keys.txt sops-made/basic-auth.yaml",
        ),
        (
            "ignore-mac-ok",
            "decrypt --ignore-mac --identity all-keys.txt sops-made/basic-auth.yaml",
        ),
        ("help-exit", "help exit-codes"),
    ] {
        cases.push(Case::new(&format!("error/{n}"), &args.replace("AGE", DEMO)));
    }
    cases.push(
        Case::new("error/env-key-file", "decrypt sops-made/basic-auth.yaml")
            .env("KSEAL_AGE_KEY_FILE", "all-keys.txt"),
    );
    cases.push(
        Case::new(
            "set/spaces",
            "set --identity all-keys.txt out/set-spaces.yaml sp --value",
        )
        .arg("two words, one value")
        .copy("sops-made/basic-auth.yaml", "out/set-spaces.yaml")
        .show("out/set-spaces.yaml"),
    );
    type Tamper = fn(&str) -> String;
    let tamper: &[(&str, Tamper)] = &[
        ("truncated-2-lines", |t| {
            let lines: Vec<&str> = t.lines().collect();
            lines[..lines.len() - 2].join("\n") + "\n"
        }),
        ("half", |t| t[..t.len() / 2].to_string()),
        ("value-swapped", |t| {
            // The ciphertexts of username and password exchanged: the MAC must catch it.
            let u = t
                .lines()
                .find(|l| l.trim_start().starts_with("username:"))
                .unwrap();
            let p = t
                .lines()
                .find(|l| l.trim_start().starts_with("password:"))
                .unwrap();
            let (uv, pv) = (u.split_once(": ").unwrap().1, p.split_once(": ").unwrap().1);
            t.replace(uv, "@U@").replace(pv, uv).replace("@U@", pv)
        }),
        ("value-cleartext", |t| {
            let u = t
                .lines()
                .find(|l| l.trim_start().starts_with("username:"))
                .unwrap();
            t.replace(u, "    username: YWRtaW4=")
        }),
        ("mac-removed", |t| {
            t.lines()
                .filter(|l| !l.trim_start().starts_with("mac:"))
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        }),
        ("name-changed", |t| t.replacen("name: ", "name: x", 1)),
    ];
    for (n, f) in tamper {
        let text = read(&repo_input("sops-made/basic-auth.yaml"));
        let bad = f(&text);
        assert_ne!(bad, text, "tampering {n} changed nothing");
        cases.push(
            Case::new(&format!("tamper/{n}"), "decrypt --identity all-keys.txt -")
                .stdin(bad.clone()),
        );
        cases.push(Case::new(&format!("tamper-check/{n}"), "check -").stdin(bad));
    }
}

/// `--help` of every subcommand whose options come from the shared argument groups of cli.rs
/// (identity, recipients, config, filename-override), at a fixed width: regrouping arguments
/// must not move, rename or reword any of them.
fn help_cases(cases: &mut Vec<Case>) {
    for sub in [
        "encrypt",
        "decrypt",
        "edit",
        "set",
        "unset",
        "get",
        "create generic",
        "create tls",
        "create docker-registry",
        "check",
        "updatekeys",
        "rotate",
        "status",
        "merge-driver",
        "exec-env",
        "exec-file",
    ] {
        cases.push(
            Case::new(&format!("help/{}", sub.replace(' ', "-")), sub)
                .arg("--help")
                .env("COLUMNS", "100"),
        );
    }
}

/// The masked, byte-exact record of one run.
fn record(sb: &Sandbox, case: &Case, reference: &str) -> Vec<u8> {
    if let Some((from, to)) = &case.copy {
        fs::copy(sb.path(from), sb.path(to)).unwrap();
    }
    let mut cmd = sb.kseal();
    cmd.args(&case.args);
    for (k, v) in &case.env {
        cmd.env(k, v);
    }
    cmd.stdin(if case.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn kseal");
    if let Some(input) = &case.stdin {
        use std::io::Write;
        let mut w = child.stdin.take().unwrap();
        let _ = w.write_all(input);
    }
    let o = child.wait_with_output().unwrap();
    let mut rec = Vec::new();
    rec.extend_from_slice(
        format!(
            "$ kseal {}\nexit: {:?}\n",
            case.args.join(" "),
            o.status.code()
        )
        .as_bytes(),
    );
    let sandbox = sb.dir.path().to_string_lossy().into_owned();
    let mut section = |title: &str, bytes: &[u8]| {
        let masked = mask(bytes, reference, &sandbox);
        rec.extend_from_slice(format!("--- {title} ({} bytes", masked.len()).as_bytes());
        if masked.len() > BIG {
            // Megabytes of base64 in the repository prove no more than their digest does.
            let digest = sha2::Sha256::digest(&masked);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            rec.extend_from_slice(
                format!(", sha256 {hex}, the first {BIG_HEAD} shown)\n").as_bytes(),
            );
            rec.extend_from_slice(&masked[..BIG_HEAD]);
        } else {
            rec.extend_from_slice(b")\n");
            rec.extend_from_slice(&masked);
        }
        rec.push(b'\n');
    };
    section("stdout", &o.stdout);
    section("stderr", &o.stderr);
    for f in &case.show {
        match fs::read(sb.path(f)) {
            Ok(b) => section(&format!("file {f}"), &b),
            Err(_) => section(&format!("file {f} (absent)"), b""),
        }
    }
    rec
}

/// Hides what is random or depends on the clock and nothing else (see the module comment).
fn mask(bytes: &[u8], reference: &str, sandbox: &str) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    let text = text.replace(sandbox, "$SANDBOX");
    let text = mask_enc(&text, reference);
    let text = mask_armor(&text, reference);
    let text = mask_after(&text, "v1:", reference, |c| c.is_ascii_hexdigit());
    let text = mask_quoted_after(&text, "lastmodified", reference);
    let text = mask_quoted_after(&text, "\"now\"", "");
    let text = mask_after(&text, "\"age_seconds\": ", "", |c| c.is_ascii_digit());
    mask_ago(&text).into_bytes()
}

fn stars(s: &str) -> String {
    "*".repeat(s.chars().count())
}

/// `ENC[AES256_GCM,data:..,iv:..,tag:..,type:..]` not found in the inputs: payloads starred.
fn mask_enc(text: &str, reference: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("ENC[") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(']').map(|e| e + 1).unwrap_or(tail.len());
        let token = &tail[..end];
        if reference.contains(token) {
            out.push_str(token);
        } else {
            let parts: Vec<String> = token[4..token.len().saturating_sub(1).max(4)]
                .split(',')
                .map(|p| match p.split_once(':') {
                    Some((k @ ("data" | "iv" | "tag"), v)) => format!("{k}:{}", stars(v)),
                    _ => p.to_string(),
                })
                .collect();
            out.push_str(&format!("ENC[{}]", parts.join(",")));
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// An age armor body not found in the inputs becomes one placeholder line: age-rs adds "grease"
/// stanzas of random size, so even the number of lines is random.
fn mask_armor(text: &str, reference: &str) -> String {
    const BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
    const END: &str = "-----END AGE ENCRYPTED FILE-----";
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(BEGIN) {
        let start = i + BEGIN.len();
        out.push_str(&rest[..start]);
        let body_len = rest[start..].find(END).unwrap_or(rest.len() - start);
        let body = &rest[start..start + body_len];
        let known = body
            .split(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c)))
            .filter(|run| run.len() >= 16)
            .all(|run| reference.contains(run));
        if known {
            out.push_str(body);
        } else {
            // Keep the line break and indentation (YAML) or the `\n` escape (JSON) around it.
            let head = match (body.find('\n'), body.find("\\n")) {
                (Some(a), Some(b)) if b < a => b + 2,
                (Some(a), _) => {
                    a + 1 + body[a + 1..].len() - body[a + 1..].trim_start_matches(' ').len()
                }
                (None, Some(b)) => b + 2,
                (None, None) => 0,
            };
            let tail = match (body.rfind('\n'), body.rfind("\\n")) {
                (Some(a), Some(b)) => a.max(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => body.len(),
            };
            out.push_str(&body[..head]);
            out.push_str("<age header and wrapped data key>");
            out.push_str(&body[tail.max(head)..]);
        }
        rest = &rest[start + body_len..];
    }
    out.push_str(rest);
    out
}

/// After each `marker`, the run of characters `keep` accepts is starred unless the inputs hold it.
fn mask_after(text: &str, marker: &str, reference: &str, keep: fn(char) -> bool) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        let start = i + marker.len();
        out.push_str(&rest[..start]);
        let len = rest[start..]
            .find(|c: char| !keep(c))
            .unwrap_or(rest.len() - start);
        let v = &rest[start..start + len];
        if !v.is_empty() && !reference.is_empty() && reference.contains(v) {
            out.push_str(v);
        } else {
            out.push_str(&stars(v));
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// `lastmodified: "2026-..."` / `"now": "..."`: the quoted value after the marker on its line.
fn mask_quoted_after(text: &str, marker: &str, reference: &str) -> String {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let Some(i) = line.find(marker) else {
            out.push(line.to_string());
            continue;
        };
        let after = &line[i + marker.len()..];
        let (Some(q1), true) = (
            after.find('"'),
            after.starts_with([':', '"']) || after.starts_with(": "),
        ) else {
            out.push(line.to_string());
            continue;
        };
        let Some(q2) = after[q1 + 1..].find('"') else {
            out.push(line.to_string());
            continue;
        };
        let v = &after[q1 + 1..q1 + 1 + q2];
        if !reference.is_empty() && reference.contains(&format!("\"{v}\"")) {
            out.push(line.to_string());
        } else {
            let cut = i + marker.len() + q1 + 1;
            out.push(format!("{}{}{}", &line[..cut], stars(v), &line[cut + q2..]));
        }
    }
    out.join("\n")
}

/// `(3s ago)`, `(2y ago)`: the age of a file depends on today's date.
fn mask_ago(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(" ago)") {
        let head = &rest[..i];
        let open = head.rfind('(').unwrap_or(i);
        out.push_str(&head[..open]);
        out.push_str("(<age>");
        out.push_str(" ago)");
        rest = &rest[i + " ago)".len()..];
    }
    out.push_str(rest);
    out
}

/// Runs the cases on a few threads (each chain of `follows` cases in order on one thread) and
/// returns the records in case order.
fn run_all(sb: &Sandbox, cases: &[Case], reference: &str) -> Vec<Vec<u8>> {
    let mut chains: Vec<Vec<usize>> = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        match chains.last_mut() {
            Some(last) if c.follows => last.push(i),
            _ => chains.push(vec![i]),
        }
    }
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Vec<u8>>> = cases.iter().map(|_| Mutex::new(Vec::new())).collect();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while let Some(chain) = chains.get(next.fetch_add(1, Ordering::SeqCst)) {
                    for &i in chain {
                        *results[i].lock().unwrap() = record(sb, &cases[i], reference);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| m.into_inner().unwrap())
        .collect()
}

fn golden_dir() -> PathBuf {
    repo().join("tests/fixtures/golden")
}

#[test]
fn outputs_are_byte_identical_to_the_golden_files() {
    let sb = Sandbox::new();
    let reference = workspace(&sb);
    let mut cases = Vec::new();
    decrypt_cases(&sb, &mut cases);
    encrypt_cases(&sb, &mut cases);
    report_cases(&mut cases);
    value_cases(&mut cases);
    error_cases(&mut cases);
    help_cases(&mut cases);
    let names: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), cases.len(), "two golden cases share a name");

    let bless = std::env::var_os("KSEAL_BLESS").is_some_and(|v| v == "1");
    let outputs = run_all(&sb, &cases, &reference);
    let mut failures = Vec::new();
    for (case, got) in cases.iter().zip(outputs) {
        let path = golden_dir().join(format!("{}.txt", case.name));
        if bless {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, &got).unwrap();
            continue;
        }
        match fs::read(&path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{}: output differs from the golden file\n{}",
                case.name,
                first_difference(&want, &got)
            )),
            Err(_) => failures.push(format!("{}: no golden file {}", case.name, path.display())),
        }
    }
    if !bless && golden_dir().is_dir() {
        // A golden file no case produces is a case that was dropped.
        for f in files_under(&golden_dir(), ".") {
            let name = f.trim_start_matches("./").trim_end_matches(".txt");
            if f.ends_with(".txt") && !names.contains(name) {
                failures.push(format!("{f}: golden file without a case"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases differ (KSEAL_BLESS=1 rewrites them when the change is intended):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn first_difference(want: &[u8], got: &[u8]) -> String {
    let (w, g) = (String::from_utf8_lossy(want), String::from_utf8_lossy(got));
    for (i, (a, b)) in w.lines().zip(g.lines()).enumerate() {
        if a != b {
            return format!("  line {}:\n  - {a}\n  + {b}", i + 1);
        }
    }
    format!("  lengths {} (golden) vs {} (now)", want.len(), got.len())
}
