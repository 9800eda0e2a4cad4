//! Hardening tests, part 3: leaks. A canary secret goes through the error paths of every
//! command `kseal --help` lists; it must never appear on stderr, in a panic message, in the
//! private temporary directory after exit, or in any file kseal wrote. Also: core dumps are off
//! while kseal runs.

use crate::common::*;

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

const CANARY: &str = "Kanary-9q7Zx3-d0NotLeak";
const RECIPIENT: &str = "age1yefmw2mymmswqe58lrf4a2h4r5u0q23a9vn45kvenu43v7gdqa4s24vzqd";
const RECIPIENT2: &str = "age1gc0axxjszfp2d2avzaugajrn3yp4t5wxnck74r5vdc774ak5wvssvhx3an";

/// Every form in which the canary could leak: as is, base64-encoded (a `data` value), and
/// the base64 of its middle (in case of a shifted encoding).
fn forms() -> Vec<String> {
    vec![
        CANARY.to_string(),
        STANDARD.encode(CANARY),
        STANDARD.encode(&CANARY[3..]),
        CANARY.to_lowercase(),
    ]
}

fn leaks(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    forms().into_iter().find(|f| text.contains(f.as_str()))
}

fn plain_secret() -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\ndata:\n  token: {}\nstringData:\n  password: {CANARY}\n",
        STANDARD.encode(CANARY)
    )
}

/// Files that hold the canary on purpose (inputs).
const INPUTS: &[&str] = &[
    "plain.yaml",
    "badb64.yaml",
    "unclosed.yaml",
    "tagged.yaml",
    "dup.yaml",
    "env.txt",
    "cert.pem",
    "tls.key",
    "value.bin",
    "garbage.yaml",
    "editor-breaks.sh",
    "editor-races.sh",
];

fn setup(sb: &Sandbox) {
    let plain = plain_secret();
    sb.write("plain.yaml", &plain);
    let head = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n";
    sb.write("badb64.yaml", format!("{head}data:\n  token: {CANARY}!\n"));
    sb.write(
        "unclosed.yaml",
        format!("{head}stringData:\n  password: \"{CANARY}\n  x: y\n"),
    );
    sb.write(
        "tagged.yaml",
        format!("{head}stringData:\n  password: !!int {CANARY}\n"),
    );
    sb.write(
        "dup.yaml",
        format!("{head}stringData:\n  password: {CANARY}\n  password: {CANARY}2\n"),
    );
    sb.write(
        "env.txt",
        format!("GOOD=1\n{CANARY} without an equals sign\n"),
    );
    sb.write(
        "cert.pem",
        format!("-----BEGIN CERTIFICATE-----\n{CANARY}\n-----END CERTIFICATE-----\n"),
    );
    sb.write(
        "tls.key",
        format!("-----BEGIN PRIVATE KEY-----\n{CANARY}\n-----END PRIVATE KEY-----\n"),
    );
    let mut bin = vec![0xff, 0xfe];
    bin.extend_from_slice(CANARY.as_bytes());
    sb.write("value.bin", bin);
    let mut garbage = plain.clone().into_bytes();
    garbage.extend_from_slice(b"\xff\xfe\n");
    sb.write("garbage.yaml", garbage);
    // The encrypted file, and damaged copies of it.
    sb.write("enc.yaml", &plain);
    let o = run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", RECIPIENT, "enc.yaml"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let enc = read(&sb.path("enc.yaml"));
    assert!(leaks(enc.as_bytes()).is_none());
    let mac_at = enc.find("  mac: ENC[AES256_GCM,data:").unwrap() + 30;
    let flipped = if &enc[mac_at..=mac_at] == "A" {
        "B"
    } else {
        "A"
    };
    sb.write(
        "tampered.yaml",
        format!("{}{flipped}{}", &enc[..mac_at], &enc[mac_at + 1..]),
    );
    // The password's type changed: it opens, and its text is not an integer.
    let pw = enc.find("  password: ENC[").unwrap();
    let ty = pw + enc[pw..].find(",type:str]").unwrap();
    // Without kseal's structural MAC (which covers the type word: exit 6), so that the path
    // that types the opened value (exit 4) is the one exercised.
    let typed: String = format!("{},type:int]{}", &enc[..ty], &enc[ty + 10..])
        .split_inclusive('\n')
        .filter(|l| !l.trim_start().starts_with("kseal_mac:"))
        .collect();
    sb.write("typed.yaml", typed);
    // A copy where another value was set (theirs), and ours: for the merge driver.
    fs::copy(sb.path("enc.yaml"), sb.path("base.yaml")).unwrap();
    fs::copy(sb.path("enc.yaml"), sb.path("ours.yaml")).unwrap();
    fs::copy(sb.path("enc.yaml"), sb.path("theirs.yaml")).unwrap();
    for (f, v) in [("ours.yaml", "ours"), ("theirs.yaml", "theirs")] {
        let o = run(sb
            .kseal()
            .args(["set", "--identity"])
            .arg(key())
            .args([f, "password", "--string", "--value"])
            .arg(format!("{CANARY}-{v}")));
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // A repository with a .sops.yaml for updatekeys.
    fs::create_dir_all(sb.path("repo")).unwrap();
    sb.write(
        "repo/.sops.yaml",
        // A second recipient: updatekeys has to open the file to re-wrap its key.
        format!("creation_rules:\n  - path_regex: .*\n    age: {RECIPIENT},{RECIPIENT2}\n"),
    );
    fs::copy(sb.path("tampered.yaml"), sb.path("repo/tampered.yaml")).unwrap();
    // An editor that breaks the buffer with the canary once, then gives up.
    let ed = sb.write(
        "editor-breaks.sh",
        format!(
            "#!/bin/sh\nif [ -e \"$HOME/edited-once\" ]; then exit 3; fi\ntouch \"$HOME/edited-once\"\nprintf '  broken: [{CANARY}\\n' >> \"$1\"\n"
        ),
    );
    fs::set_permissions(&ed, fs::Permissions::from_mode(0o755)).unwrap();
    let ed = sb.write("editor-fails.sh", "#!/bin/sh\nexit 1\n");
    fs::set_permissions(&ed, fs::Permissions::from_mode(0o755)).unwrap();
    // An editor that saves a change while the file changes behind kseal's back.
    let ed = sb.write(
        "editor-races.sh",
        format!(
            "#!/bin/sh\nsed -i 's/^  note:.*//' \"$1\"\nprintf '  extra: {CANARY}-edited\\n' >> \"$1\"\ncp \"$HOME/typed.yaml\" \"$HOME/race.yaml\"\n"
        ),
    );
    fs::set_permissions(&ed, fs::Permissions::from_mode(0o755)).unwrap();
    fs::copy(sb.path("enc.yaml"), sb.path("race.yaml")).unwrap();
    fs::create_dir_all(sb.path("tmp")).unwrap();
}

struct Scenario {
    label: &'static str,
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    env: Vec<(&'static str, OsString)>,
    /// `None`: any failure (exit != 0) is fine; `Some(c)`: exactly this exit code.
    code: Option<i32>,
    /// stdout may hold the plaintext (an intended output, e.g. --ignore-mac).
    stdout_may_hold_plaintext: bool,
    stdout_full: bool,
}

fn sc(label: &'static str, args: &[&str]) -> Scenario {
    Scenario {
        label,
        args: args.iter().map(OsString::from).collect(),
        stdin: None,
        env: Vec::new(),
        code: None,
        stdout_may_hold_plaintext: false,
        stdout_full: false,
    }
}

impl Scenario {
    fn code(mut self, c: i32) -> Self {
        self.code = Some(c);
        self
    }
    fn stdin(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(b.into());
        self
    }
    fn env(mut self, k: &'static str, v: impl Into<OsString>) -> Self {
        self.env.push((k, v.into()));
        self
    }
    fn identity(mut self, p: PathBuf) -> Self {
        self.args.push("--identity".into());
        self.args.push(p.into());
        self
    }
}

fn scenarios() -> Vec<Scenario> {
    let canary_arg = format!("{CANARY}-arg");
    vec![
        // encrypt
        sc(
            "encrypt: data not base64",
            &["encrypt", "--age", RECIPIENT, "badb64.yaml"],
        )
        .code(4),
        sc(
            "encrypt: unclosed quote",
            &["encrypt", "--age", RECIPIENT, "unclosed.yaml"],
        )
        .code(4),
        sc(
            "encrypt: tagged value",
            &["encrypt", "--age", RECIPIENT, "tagged.yaml"],
        )
        .code(4),
        sc(
            "encrypt: duplicate key",
            &["encrypt", "--age", RECIPIENT, "dup.yaml"],
        )
        .code(4),
        sc(
            "encrypt: invalid UTF-8",
            &["encrypt", "--age", RECIPIENT, "garbage.yaml"],
        )
        .code(4),
        sc("encrypt: no recipient", &["encrypt", "plain.yaml"]).code(8),
        sc(
            "encrypt: bad recipient",
            &["encrypt", "--age", "age1nope", "plain.yaml"],
        )
        .code(8),
        sc(
            "encrypt: already encrypted",
            &["encrypt", "--age", RECIPIENT, "enc.yaml"],
        )
        .code(10),
        sc(
            "encrypt: unwritable -o",
            &[
                "encrypt",
                "--age",
                RECIPIENT,
                "plain.yaml",
                "-o",
                "no/such/dir/x.yaml",
            ],
        )
        .code(7),
        sc(
            "encrypt: stdout full",
            &["encrypt", "--age", RECIPIENT, "plain.yaml"],
        )
        .code(7)
        .full(),
        sc(
            "encrypt: stdin syntax error",
            &["encrypt", "--age", RECIPIENT],
        )
        .stdin(format!("{}  broken: [{CANARY}\n", plain_secret()))
        .code(4),
        sc(
            "encrypt --previous: broken stdin",
            &["encrypt", "--previous", "enc.yaml", "-"],
        )
        .identity(key())
        .stdin(format!("{}  broken: [{CANARY}\n", plain_secret()))
        .code(4),
        sc(
            "encrypt --previous: wrong identity",
            &["encrypt", "--previous", "enc.yaml", "plain.yaml"],
        )
        .identity(key2())
        .code(5),
        // decrypt
        sc("decrypt: MAC tampered", &["decrypt", "tampered.yaml"])
            .identity(key())
            .code(6),
        sc("decrypt: type changed", &["decrypt", "typed.yaml"])
            .identity(key())
            .code(4),
        sc("decrypt: wrong identity", &["decrypt", "enc.yaml"])
            .identity(key2())
            .code(5),
        sc("decrypt: no identity", &["decrypt", "enc.yaml"]).code(5),
        // A key command's stdout is a private key: never quoted, whether it fails or prints
        // something that is no identity.
        sc("decrypt: key command fails", &["decrypt", "enc.yaml"])
            .env(
                "KSEAL_AGE_KEY_CMD",
                format!("sh -c 'echo {CANARY}; exit 1'"),
            )
            .code(5),
        sc(
            "decrypt: key command prints garbage",
            &["decrypt", "enc.yaml"],
        )
        .env(
            "KSEAL_AGE_KEY_CMD",
            format!("sh -c 'echo AGE-SECRET-KEY-1{CANARY}'"),
        )
        .code(5),
        sc(
            "decrypt: unwritable -o",
            &["decrypt", "enc.yaml", "-o", "no/such/dir/x.yaml"],
        )
        .identity(key())
        .code(7),
        sc("decrypt: stdout full", &["decrypt", "enc.yaml"])
            .identity(key())
            .code(7)
            .full(),
        sc(
            "decrypt -i: MAC tampered",
            &["decrypt", "-i", "tampered.yaml"],
        )
        .identity(key())
        .code(6),
        sc(
            "decrypt: --ignore-mac warning",
            &["decrypt", "--ignore-mac", "tampered.yaml"],
        )
        .identity(key())
        .code(0)
        .plaintext_out(),
        // edit
        sc(
            "edit: broken buffer, then the editor fails",
            &["edit", "enc.yaml"],
        )
        .identity(key())
        .editor("editor-breaks.sh")
        .code(11),
        sc("edit: editor fails", &["edit", "enc.yaml"])
            .identity(key())
            .editor("editor-fails.sh")
            .code(11),
        sc("edit: wrong identity", &["edit", "enc.yaml"])
            .identity(key2())
            .editor("editor-fails.sh")
            .code(5),
        sc("edit: MAC tampered", &["edit", "tampered.yaml"])
            .identity(key())
            .editor("editor-fails.sh")
            .code(6),
        sc("edit: file changed meanwhile", &["edit", "race.yaml"])
            .identity(key())
            .editor("editor-races.sh")
            .code(10),
        // set / unset
        sc(
            "set: invalid key",
            &["set", "enc.yaml", "bad key!", "--value", &canary_arg],
        )
        .identity(key())
        .code(2),
        sc(
            "set: MAC tampered",
            &["set", "tampered.yaml", "k", "--value", &canary_arg],
        )
        .identity(key())
        .code(6),
        sc(
            "set: wrong identity",
            &["set", "enc.yaml", "k", "--value", &canary_arg],
        )
        .identity(key2())
        .code(5),
        sc(
            "set: no such document",
            &["set", "enc.yaml", "k", "--doc", "5", "--value", &canary_arg],
        )
        .identity(key()),
        sc(
            "set: --string with binary stdin",
            &["set", "enc.yaml", "k", "--string", "--stdin"],
        )
        .identity(key())
        .stdin(fs_bytes_placeholder())
        .code(4),
        sc(
            "set: missing --from-file",
            &["set", "enc.yaml", "k", "--from-file", "no-such-file"],
        )
        .identity(key())
        .code(3),
        sc(
            "set: type-changed file",
            &["set", "typed.yaml", "k", "--value", &canary_arg],
        )
        .identity(key())
        .code(4),
        sc("get: missing key", &["get", "enc.yaml", "nope"])
            .identity(key())
            .code(2),
        sc("get: MAC tampered", &["get", "tampered.yaml", "password"])
            .identity(key())
            .code(6),
        sc("get: wrong identity", &["get", "enc.yaml", "password"])
            .identity(key2())
            .code(5),
        sc("unset: missing key", &["unset", "enc.yaml", "nope"])
            .identity(key())
            .code(4),
        sc(
            "unset: MAC tampered",
            &["unset", "tampered.yaml", "password"],
        )
        .identity(key())
        .code(6),
        // create
        sc(
            "create: literal without =",
            &[
                "create",
                "generic",
                "x",
                "--age",
                RECIPIENT,
                "--from-literal",
                &canary_arg,
            ],
        ),
        sc(
            "create: invalid key",
            &[
                "create",
                "generic",
                "x",
                "--age",
                RECIPIENT,
                "--from-literal",
                &format!("bad/key={CANARY}"),
            ],
        ),
        sc(
            "create: duplicate key",
            &[
                "create",
                "generic",
                "x",
                "--age",
                RECIPIENT,
                "--from-literal",
                &format!("k={CANARY}"),
                "--from-literal",
                "k=other",
            ],
        ),
        sc(
            "create: no recipient",
            &[
                "create",
                "generic",
                "x",
                "--from-literal",
                &format!("k={CANARY}"),
            ],
        )
        .code(8),
        sc(
            "create: bad env file",
            &[
                "create",
                "generic",
                "x",
                "--age",
                RECIPIENT,
                "--from-env-file",
                "env.txt",
            ],
        ),
        sc(
            "create: unwritable -o",
            &[
                "create",
                "generic",
                "x",
                "--age",
                RECIPIENT,
                "--from-literal",
                &format!("k={CANARY}"),
                "-o",
                "no/such/dir/x.yaml",
            ],
        )
        .code(7),
        // kseal does not validate the PEM (kubectl does): success, but nothing may leak.
        sc(
            "create tls: garbage PEM",
            &[
                "create", "tls", "x", "--age", RECIPIENT, "--cert", "cert.pem", "--key", "tls.key",
            ],
        )
        .any(),
        sc(
            "create docker-registry: no recipient",
            &[
                "create",
                "docker-registry",
                "x",
                "--docker-username",
                "u",
                "--docker-password",
                &canary_arg,
            ],
        )
        .code(8),
        // keygen (the new key is the secret here: checked separately below)
        sc("keygen: existing file", &["keygen", "-o", "plain.yaml"]).code(7),
        // updatekeys, rotate, status
        sc(
            "updatekeys: no .sops.yaml",
            &["updatekeys", "-y", "enc.yaml"],
        )
        .identity(key())
        .code(8),
        sc(
            "updatekeys: MAC tampered",
            &[
                "updatekeys",
                "-y",
                "repo/tampered.yaml",
                "--config",
                "repo/.sops.yaml",
            ],
        )
        .identity(key()),
        sc("rotate: MAC tampered", &["rotate", "tampered.yaml"]).identity(key()),
        sc("rotate: wrong identity", &["rotate", "enc.yaml"]).identity(key2()),
        sc("status: MAC tampered", &["status", "tampered.yaml"]).identity(key()),
        // git integration
        sc("git setup: not a repository", &["git", "setup"]),
        sc(
            "merge-driver: conflict",
            &[
                "merge-driver",
                "base.yaml",
                "ours.yaml",
                "theirs.yaml",
                "s.yaml",
            ],
        )
        .identity(key()),
        sc(
            "merge-driver: MAC tampered",
            &[
                "merge-driver",
                "base.yaml",
                "ours.yaml",
                "tampered.yaml",
                "s.yaml",
            ],
        )
        .identity(key()),
        sc(
            "diff: tampered file",
            &["diff", "enc.yaml", "tampered.yaml"],
        )
        .any(),
        sc(
            "decrypt --textconv: tampered",
            &["decrypt", "--textconv", "tampered.yaml"],
        )
        .identity(key())
        .any(),
        // kustomize
        sc(
            "kustomize decrypt: tampered",
            &["kustomize", "decrypt", "tampered.yaml"],
        )
        .env_key()
        .code(6),
        sc("kustomize fn: tampered resource", &["kustomize", "fn"])
            .env_key()
            .stdin_resource_list(),
        sc(
            "kustomize plugin: missing config",
            &["kustomize", "plugin", "no-such-config.yaml"],
        )
        .env_key(),
        // check (reports plaintext Secrets: by key, never by value)
        sc("check: plain Secret", &["check", "plain.yaml"]),
        // exec
        sc(
            "exec-env: MAC tampered",
            &["exec-env", "tampered.yaml", "--", "true"],
        )
        .env_key()
        .code(6),
        sc(
            "exec-env: command not found",
            &["exec-env", "enc.yaml", "--", "no-such-command-kseal"],
        )
        .env_key(),
        sc(
            "exec-file: command not found",
            &["exec-file", "enc.yaml", "--", "no-such-command-kseal", "{}"],
        )
        .env_key(),
        sc(
            "exec-file: command fails",
            &["exec-file", "enc.yaml", "--", "false"],
        )
        .env_key(),
    ]
}

/// `set --stdin --string`: bytes that are not UTF-8, around the canary.
fn fs_bytes_placeholder() -> Vec<u8> {
    let mut b = vec![0xff, 0xfe];
    b.extend_from_slice(CANARY.as_bytes());
    b
}

impl Scenario {
    fn full(mut self) -> Self {
        self.stdout_full = true;
        self
    }
    fn plaintext_out(mut self) -> Self {
        self.stdout_may_hold_plaintext = true;
        self
    }
    fn any(mut self) -> Self {
        self.code = Some(-1);
        self
    }
    fn editor(self, script: &'static str) -> Self {
        self.env("EDITOR", script)
    }
    fn env_key(self) -> Self {
        self.env("KSEAL_AGE_KEY_FILE", key())
    }
    fn stdin_resource_list(self) -> Self {
        self.stdin(Vec::new()).env("KSEAL_TEST_RESOURCE_LIST", "1")
    }
}

/// A ResourceList with the tampered Secret, for `kustomize fn`.
fn resource_list(sb: &Sandbox) -> Vec<u8> {
    let t = read(&sb.path("tampered.yaml"));
    let indented: String = t.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: kseal.dev/v1alpha1\n  kind: KsealTransformer\n  metadata:\n    name: decrypt\nitems:\n  - {}",
        &indented[4..]
    )
    .into_bytes()
}

/// Every file under `dir` with its modification time, for "what did kseal write".
fn snapshot(dir: &Path) -> Vec<(PathBuf, SystemTime, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else {
                out.push((p, m.modified().unwrap(), m.len()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_canary_never_leaks_on_error_paths() {
    let sb = Sandbox::new();
    setup(&sb);
    let tmp = sb.path("tmp");
    let mut failures = Vec::new();
    let all = scenarios();
    assert!(all.len() >= 50, "{} scenarios", all.len());
    for s in all {
        let before = snapshot(sb.dir.path());
        let mut cmd = sb.kseal();
        cmd.args(&s.args)
            .env("KSEAL_TMPDIR", &tmp)
            .env("TMPDIR", &tmp)
            .env("RUST_BACKTRACE", "1");
        for (k, v) in &s.env {
            if *k == "EDITOR" {
                cmd.env(k, sb.path(v.to_str().unwrap()));
            } else if *k != "KSEAL_TEST_RESOURCE_LIST" {
                cmd.env(k, v);
            }
        }
        let stdin = if s.env.iter().any(|(k, _)| *k == "KSEAL_TEST_RESOURCE_LIST") {
            Some(resource_list(&sb))
        } else {
            s.stdin.clone()
        };
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped());
        if s.stdout_full {
            cmd.stdout(
                fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            );
        } else {
            cmd.stdout(Stdio::piped());
        }
        let mut child = cmd.spawn().unwrap();
        if let Some(data) = stdin {
            use std::io::Write;
            let mut w = child.stdin.take().unwrap();
            let _ = w.write_all(&data);
        }
        let start = Instant::now();
        let o: Output = child.wait_with_output().unwrap();
        let label = s.label;
        let err = stderr(&o);
        let c = o.status.code();
        // Shown with --nocapture: what each scenario answered.
        eprintln!("{label}: exit {c:?}: {}", err.lines().next().unwrap_or(""));
        match s.code {
            Some(-1) => {}
            Some(want) if c != Some(want) => {
                failures.push(format!("{label}: exit {c:?}, expected {want}: {err}"))
            }
            None if c == Some(0) || c.is_none() => {
                failures.push(format!("{label}: expected a failure, got {c:?}: {err}"))
            }
            _ => {}
        }
        if err.contains("panicked") || c == Some(101) {
            failures.push(format!("{label}: panic: {err}"));
        }
        if let Some(f) = leaks(&o.stderr) {
            failures.push(format!("{label}: stderr shows {f:?}: {err}"));
        }
        if !s.stdout_may_hold_plaintext {
            if let Some(f) = leaks(&o.stdout) {
                failures.push(format!("{label}: stdout shows {f:?}"));
            }
        }
        let left: Vec<_> = fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        if !left.is_empty() {
            failures.push(format!(
                "{label}: left in the temporary directory: {left:?}"
            ));
            for p in left {
                let _ = fs::remove_dir_all(&p).or_else(|_| fs::remove_file(&p));
            }
        }
        for (p, mtime, len) in snapshot(sb.dir.path()) {
            let name = p
                .strip_prefix(sb.dir.path())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if INPUTS.contains(&name.as_str()) {
                continue;
            }
            let changed = !before
                .iter()
                .any(|(q, m, l)| *q == p && *m == mtime && *l == len);
            if changed {
                if let Some(f) = leaks(&fs::read(&p).unwrap_or_default()) {
                    failures.push(format!("{label}: {name} holds {f:?}"));
                }
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{label}: too slow"
        );
        // Undo what the scenario may have legitimately changed, for the next one.
        let _ = fs::remove_file(sb.path("edited-once"));
        fs::copy(sb.path("enc.yaml"), sb.path("race.yaml")).unwrap();
    }
    // Nothing anywhere in the sandbox holds the plaintext, except the inputs.
    for (p, ..) in snapshot(sb.dir.path()) {
        let name = p
            .strip_prefix(sb.dir.path())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if !INPUTS.contains(&name.as_str()) {
            if let Some(f) = leaks(&fs::read(&p).unwrap()) {
                failures.push(format!("at the end: {name} holds {f:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `kseal --help` lists no command that the canary test does not run.
#[test]
fn the_canary_test_covers_every_command() {
    let sb = Sandbox::new();
    let help = ok(run(sb.kseal().arg("--help")));
    let commands: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("    "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(commands.len() >= 10, "{commands:?}");
    let covered: Vec<String> = scenarios()
        .iter()
        .map(|s| s.args[0].to_string_lossy().into_owned())
        .collect();
    // Commands without secret input: help, completions, sops-link (a symbolic link) and the
    // hidden man page. The sops command line has its own no-plaintext-left checks
    // (sops_cli.rs).
    let exempt = ["help", "completions", "sops-link"];
    let missing: Vec<&String> = commands
        .iter()
        .filter(|c| !covered.contains(c) && !exempt.contains(&c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "commands without a canary scenario: {missing:?}"
    );
}

/// A refused `keygen -o` prints neither the new identity nor writes it anywhere.
#[test]
fn keygen_failure_shows_no_key() {
    let sb = Sandbox::new();
    sb.write("taken.txt", "x");
    let o = run(sb.kseal().args(["keygen", "-o", "taken.txt"]));
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains("AGE-SECRET-KEY-"), "{all}");
    assert_eq!(read(&sb.path("taken.txt")), "x");
    let files: Vec<_> = fs::read_dir(sb.dir.path()).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
}

/// While kseal waits for stdin (plaintext may already be in memory for other commands), its
/// core-file limit is 0; a command it runs inherits that limit.
#[test]
fn core_dumps_are_disabled() {
    let sb = Sandbox::new();
    let mut child = sb
        .kseal()
        .args(["encrypt", "--age", RECIPIENT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let limits = format!("/proc/{}/limits", child.id());
    let mut seen = None;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(t) = fs::read_to_string(&limits) {
            let line = t
                .lines()
                .find(|l| l.starts_with("Max core file size"))
                .map(str::to_string);
            // Soft and hard limit (the soft one may be 0 already in the environment).
            let fields = |l: &str| {
                l.split_whitespace()
                    .skip(4)
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            if line.as_deref().is_some_and(|l| fields(l) == "0 0") {
                seen = line;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(child.stdin.take());
    let _ = child.wait_with_output();
    let line = seen.expect("the core file limit never became 0");
    assert_eq!(
        line.split_whitespace().skip(4).take(2).collect::<Vec<_>>(),
        ["0", "0"],
        "{line}"
    );
    // exec-env's command runs with the same limit.
    sb.write("p.yaml", plain_secret());
    ok(run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", RECIPIENT, "p.yaml"])));
    let o = run(sb
        .kseal()
        .args(["exec-env", "--identity"])
        .arg(key())
        .args(["p.yaml", "--", "sh", "-c", "ulimit -c"]));
    assert_eq!(stdout(&o).trim(), "0", "{}", stderr(&o));
}

/// `impls`-style probe: `Probe::<T>::DEBUG` is true only when `T: Debug`.
struct Probe<T: ?Sized>(std::marker::PhantomData<T>);
trait NotDebug {
    const DEBUG: bool = false;
}
impl<T: ?Sized> NotDebug for Probe<T> {}
impl<T: ?Sized + std::fmt::Debug> Probe<T> {
    const DEBUG: bool = true;
}

/// Types that hold data keys or plaintext cannot be printed with `{:?}`; those that can show
/// no content.
#[test]
fn secret_holding_types_do_not_debug_print_secrets() {
    const { assert!(!Probe::<kseal::secret::DataKey>::DEBUG) };
    const { assert!(!Probe::<kseal::secret::Plaintext>::DEBUG) };
    const { assert!(!Probe::<kseal::sops::file::Decrypted>::DEBUG) };
    const { assert!(!Probe::<kseal::sops::file::Envelope>::DEBUG) };
    const { assert!(!Probe::<kseal::sops::file::IvStash>::DEBUG) };
    const { assert!(!Probe::<kseal::view::ViewState>::DEBUG) };
    const { assert!(!Probe::<kseal::envfrom::SecretEntries>::DEBUG) };
    const { assert!(Probe::<Vec<u8>>::DEBUG, "the probe works") };

    let text = read(&key());
    let secret_line = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    let mut ids = kseal::keys::Identities::new();
    ids.add_identity_file_text(&text, "key.txt").unwrap();
    let shown = format!("{ids:?} {ids:#?}");
    assert!(
        !shown.contains(secret_line) && !shown.contains("AGE-SECRET-KEY"),
        "{shown}"
    );

    let typed = kseal::yaml::scalar::Typed::Str(CANARY.to_string());
    assert!(!format!("{typed:?}").contains(CANARY));

    let e = kseal::sops::value::parse("ENC[AES256_GCM,data:!!!,iv:a,tag:b,type:str]")
        .err()
        .unwrap();
    assert!(!format!("{e:?}").contains("!!!"));
}

// Issue 19, attacks 7 and 8: plaintext handed to another user, and local leaks.

/// A Secret hidden from a check that reads only each document's root: its kind from a merge
/// key, or among the items of a List. kubectl applies both as Secrets.
#[test]
fn merge_key_and_list_item_secrets_are_flagged_by_check_and_refused_by_encrypt() {
    let sb = Sandbox::new();
    sb.write(
        "merged.yaml",
        format!("base: &s {{kind: Secret, apiVersion: v1}}\n<<: *s\nmetadata: {{name: merged}}\nstringData: {{password: {CANARY}}}\n"),
    );
    sb.write(
        "list.yaml",
        format!("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: c}}\n- apiVersion: v1\n  kind: Secret\n  metadata: {{name: listed}}\n  stringData: {{password: {CANARY}}}\n"),
    );
    for (file, path) in [
        ("merged.yaml", "stringData.password"),
        ("list.yaml", "items[1].stringData.password"),
    ] {
        let o = run(sb.kseal().args(["check", file]));
        assert_eq!(o.status.code(), Some(10), "{file}: {}", stderr(&o));
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(all.contains(path), "{file}: {all}");
        assert!(leaks(all.as_bytes()).is_none(), "{file}: {all}");
        let o = run(sb.kseal().args(["encrypt", "--age", RECIPIENT, file]));
        if file == "list.yaml" {
            // The Secrets of a List's items are encrypted (issue 13): none passes in clear.
            assert_eq!(o.status.code(), Some(0), "{file}: {}", stderr(&o));
            assert!(leaks(&o.stdout).is_none(), "{}", stdout(&o));
            assert!(
                stdout(&o).contains("password: \"ENC[AES256_GCM,"),
                "{}",
                stdout(&o)
            );
            continue;
        }
        // encrypt refuses instead of passing the Secret through in plain text.
        assert_eq!(o.status.code(), Some(9), "{file}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
        assert!(
            stderr(&o).contains("kubectl applies this document as a Secret"),
            "{}",
            stderr(&o)
        );
    }
}

/// Attack 7: a root `decrypt -o` (or `-i`) onto a file another user owns, in a 1777 directory,
/// or through a symlink, used to keep that owner on the plaintext.
#[test]
fn plaintext_is_never_written_to_another_users_file_or_through_a_link() {
    let sb = Sandbox::new();
    setup(&sb);
    let shared = sb.path("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    let decrypt = |args: &[&str]| {
        run(sb
            .kseal()
            .args(["decrypt", "--identity"])
            .arg(key())
            .args(args))
    };
    // Through a symlink (planted by anyone): refused, whatever it points at.
    let victim = sb.write("shared/victim.txt", "someone's file\n");
    std::os::unix::fs::symlink(&victim, shared.join("out.yaml")).unwrap();
    std::os::unix::fs::symlink(shared.join("nowhere"), shared.join("dangling.yaml")).unwrap();
    for target in ["shared/out.yaml", "shared/dangling.yaml"] {
        let o = decrypt(&["enc.yaml", "-o", target]);
        assert_eq!(o.status.code(), Some(10), "{target}: {}", stderr(&o));
        assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
        assert!(leaks(&o.stderr).is_none() && o.stdout.is_empty());
    }
    assert_eq!(read(&victim), "someone's file\n");
    assert!(!shared.join("nowhere").exists());
    // decrypt -i on a symlinked encrypted file: refused too.
    std::os::unix::fs::symlink(sb.path("enc.yaml"), sb.path("link.enc.yaml")).unwrap();
    let before = read(&sb.path("enc.yaml"));
    let o = decrypt(&["-i", "link.enc.yaml"]);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert_eq!(read(&sb.path("enc.yaml")), before);
    // The same output to a new name works, and is the writer's, 0600.
    let o = decrypt(&["enc.yaml", "-o", "shared/mine.yaml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = fs::metadata(shared.join("mine.yaml")).unwrap();
    assert_eq!(m.permissions().mode() & 0o777, 0o600);
    // And /dev/stdout (a kernel link to this process's own descriptor) still works.
    let o = decrypt(&["enc.yaml", "-o", "/dev/stdout"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(CANARY));
    if !is_root() {
        return;
    }
    use std::os::unix::fs::{chown, MetadataExt};
    let theirs = sb.write("shared/theirs.yaml", "nobody's\n");
    chown(&theirs, Some(65534), Some(65534)).unwrap();
    let o = decrypt(&["enc.yaml", "-o", "shared/theirs.yaml"]);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("belongs to another user (uid 65534"),
        "{}",
        stderr(&o)
    );
    assert!(leaks(&o.stderr).is_none() && o.stdout.is_empty());
    assert_eq!(read(&theirs), "nobody's\n");
    assert_eq!(fs::metadata(&theirs).unwrap().uid(), 65534);
    // decrypt -i of an encrypted file that another user owns: refused, file unchanged.
    let enc = sb.path("shared/theirs.enc.yaml");
    fs::copy(sb.path("enc.yaml"), &enc).unwrap();
    chown(&enc, Some(65534), Some(65534)).unwrap();
    let o = decrypt(&["-i", "shared/theirs.enc.yaml"]);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert_eq!(read(&enc), before);
    let leftovers: Vec<_> = fs::read_dir(&shared)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".kseal-"))
        .collect();
    assert!(leftovers.is_empty());
}

/// Attack 8: with umask 000, the private directory used to be 0777 until kseal chmodded it.
#[test]
fn private_dirs_and_the_edit_buffer_are_private_under_umask_000() {
    let sb = Sandbox::new();
    setup(&sb);
    fs::create_dir(sb.path("buf")).unwrap();
    let kseal = env!("CARGO_BIN_EXE_kseal");
    let o = run(sb
        .tool("sh")
        .env("KSEAL_TMPDIR", sb.path("buf"))
        .env("KSEAL_BIN", kseal)
        .env("KEY", key())
        .args([
            "-c",
            "umask 000; exec \"$KSEAL_BIN\" exec-file --identity \"$KEY\" enc.yaml -- sh -c 'stat -c %a {} {}/password'",
        ]));
    assert_eq!(ok(o), "700\n600\n");
    // The edit buffer: the editor reports the modes it sees.
    let editor = sb.write(
        "editor.sh",
        format!(
            "#!/bin/sh\nstat -c %a \"$(dirname \"$1\")\" \"$1\" > {}\n",
            sb.path("modes").display()
        ),
    );
    fs::set_permissions(&editor, fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(sb
        .tool("sh")
        .env("KSEAL_TMPDIR", sb.path("buf"))
        .env("KSEAL_BIN", kseal)
        .env("KEY", key())
        .env("EDITOR", &editor)
        .args([
            "-c",
            "umask 000; exec \"$KSEAL_BIN\" edit --identity \"$KEY\" enc.yaml",
        ]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read(&sb.path("modes")), "700\n600\n");
    assert_eq!(fs::read_dir(sb.path("buf")).unwrap().count(), 0);
}

/// Attack 8: SIGQUIT (and any terminating signal but KILL) left exec-file's files behind.
#[test]
fn terminating_signals_during_exec_file_leave_nothing_behind() {
    let sb = Sandbox::new();
    setup(&sb);
    let buf = sb.path("buf");
    fs::create_dir(&buf).unwrap();
    let ready = sb.path("ready");
    let go = sb.path("go");
    let script = format!(
        "touch {r}; while [ ! -e {g} ]; do sleep 0.02; done; rm -f {g}",
        r = ready.display(),
        g = go.display()
    );
    let rtmin1 = libc::SIGRTMIN() + 1;
    // (signal, what the command does with it, expected exit code)
    for (sig, pass) in [
        (libc::SIGQUIT, true),
        (libc::SIGTERM, true),
        (libc::SIGHUP, true),
        (libc::SIGUSR1, true),
        (libc::SIGUSR2, true),
        (libc::SIGALRM, true),
        (libc::SIGXCPU, true),
        (rtmin1, true),
        // kseal ignores SIGPIPE (a closed pipe is an error, not a death): the command goes
        // on, and the cleanup happens when it ends.
        (libc::SIGPIPE, false),
    ] {
        let mut child = sb
            .kseal()
            .env("KSEAL_TMPDIR", &buf)
            .args(["exec-file", "--identity"])
            .arg(key())
            .args(["enc.yaml", "--", "sh", "-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !ready.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "command did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(fs::read_dir(&buf).unwrap().count(), 1);
        // SAFETY: kill takes plain integers.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        if !pass {
            // Only the command's end ends kseal.
            std::thread::sleep(Duration::from_millis(200));
            assert!(
                child.try_wait().unwrap().is_none(),
                "signal {sig} ended kseal"
            );
            fs::write(&go, "").unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let expected = if pass { 128 + sig } else { 0 };
        assert_eq!(
            out.status.code(),
            Some(expected),
            "signal {sig}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::remove_file(&ready).unwrap();
        let _ = fs::remove_file(&go);
        let left: Vec<_> = fs::read_dir(&buf)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "signal {sig} left {left:?}");
    }
}

/// Attack 8: the command of exec-env / exec-file and the editor inherited the identity.
#[test]
fn children_do_not_inherit_identity_variables() {
    let sb = Sandbox::new();
    setup(&sb);
    let inline = read(&key());
    let with_keys = |args: &[&str]| {
        let mut c = sb.kseal();
        c.env("SOPS_AGE_KEY", &inline)
            .env("KSEAL_AGE_KEY", &inline)
            .env("KSEAL_AGE_KEY_FILE", key())
            .env("SOPS_AGE_KEY_CMD", format!("cat {}", key().display()))
            .env("KSEAL_AGE_RECIPIENTS", RECIPIENT)
            .args(args);
        c
    };
    for args in [
        &["exec-env", "enc.yaml", "--", "env"][..],
        &["exec-file", "enc.yaml", "--", "env"][..],
    ] {
        let out = ok(run(&mut with_keys(args)));
        assert!(!out.contains("AGE-SECRET-KEY"), "{args:?}: {out}");
        for var in [
            "SOPS_AGE_KEY=",
            "KSEAL_AGE_KEY=",
            "KSEAL_AGE_KEY_FILE=",
            "SOPS_AGE_KEY_CMD=",
        ] {
            assert!(!out.contains(var), "{args:?}: {var}");
        }
        // Public variables stay.
        assert!(out.contains("KSEAL_AGE_RECIPIENTS="), "{args:?}");
    }
    let editor = sb.write(
        "editor.sh",
        format!("#!/bin/sh\nenv > {}\n", sb.path("editor-env").display()),
    );
    fs::set_permissions(&editor, fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir(sb.path("buf")).unwrap();
    let o = run(with_keys(&["edit", "enc.yaml"])
        .env("EDITOR", &editor)
        .env("KSEAL_TMPDIR", sb.path("buf")));
    assert!(o.status.success(), "{}", stderr(&o));
    let env = read(&sb.path("editor-env"));
    assert!(
        !env.contains("AGE-SECRET-KEY") && !env.contains("SOPS_AGE_KEY_CMD="),
        "{env}"
    );
}

/// Attack 8: an attacker-chosen key name with terminal escape sequences reached the terminal
/// raw (clear the screen, rewrite lines, set the title).
#[test]
fn escape_sequences_in_key_names_are_shown_escaped() {
    let sb = Sandbox::new();
    let evil = "\"x\\e[2J\\e]0;pwned\\a\\u009b31m\\u202e\"";
    let secret = |v: &str| {
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n  {evil}: {v}\n  ok: fine\n")
    };
    sb.write("old.yaml", secret("one"));
    sb.write("new.yaml", secret("two"));
    for f in ["old.yaml", "new.yaml"] {
        ok(run(sb
            .kseal()
            .args(["encrypt", "-i", "--age", RECIPIENT, f])));
    }
    let raw = |b: &[u8]| {
        b.iter().any(|&c| c == 0x1b || c == 0x07)
            || String::from_utf8_lossy(b).contains(['\u{9b}', '\u{202e}'])
    };
    let o = run(sb.kseal().args(["diff", "old.yaml", "new.yaml"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!raw(&o.stdout), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("x\\x1b[2J\\x1b]0;pwned\\x07\\u{9b}31m\\u{202e}"),
        "{}",
        stdout(&o)
    );
    let o = run(sb.kseal().args(["diff", "--json", "old.yaml", "new.yaml"]));
    assert!(!raw(&o.stdout), "{}", stdout(&o));
    // In an error message: a data value that is not base64, under the evil key.
    sb.write(
        "bad.yaml",
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ndata:\n  {evil}: not base64!\n"
        ),
    );
    let o = run(sb.kseal().args(["encrypt", "--age", RECIPIENT, "bad.yaml"]));
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(!raw(&o.stderr), "{}", stderr(&o));
    assert!(stderr(&o).contains("data.x\\x1b[2J"), "{}", stderr(&o));
    // In check's findings (stdout) and a warning (stderr).
    sb.write("plain.yaml", secret("three"));
    let o = run(sb.kseal().args(["check", "plain.yaml"]));
    assert_eq!(o.status.code(), Some(10));
    assert!(
        !raw(&o.stdout) && !raw(&o.stderr),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("stringData.x\\x1b[2J"),
        "{}",
        stdout(&o)
    );
}

/// Attack 8: a `.sops.yaml` planted in a world-writable parent directory, or sitting above the
/// repository, picked the recipients of new secrets.
#[test]
fn planted_sops_yaml_files_are_ignored() {
    let sb = Sandbox::new();
    let rules = format!("creation_rules:\n  - age: {RECIPIENT2}\n");
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  p: x\n";
    // World-writable parent (like /tmp): the file is ignored, with a warning naming it.
    let ww = sb.path("shared");
    fs::create_dir_all(ww.join("app")).unwrap();
    fs::set_permissions(&ww, fs::Permissions::from_mode(0o1777)).unwrap();
    let planted = sb.write("shared/.sops.yaml", &rules);
    sb.write("shared/app/s.yaml", secret);
    let o = run(sb
        .kseal()
        .current_dir(ww.join("app"))
        .args(["encrypt", "s.yaml"]));
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{}: ignored", planted.display())),
        "{err}"
    );
    assert!(err.contains("writable by every user"), "{err}");
    // check does not take its path rules either.
    let o = run(sb
        .kseal()
        .current_dir(ww.join("app"))
        .args(["check", "s.yaml"]));
    assert!(stderr(&o).contains("ignored"), "{}", stderr(&o));
    // Above the repository's top: not looked at.
    sb.write(".sops.yaml", &rules);
    fs::create_dir_all(sb.path("repo/.git")).unwrap();
    sb.write("repo/s.yaml", secret);
    let o = run(sb
        .kseal()
        .current_dir(sb.path("repo"))
        .args(["encrypt", "s.yaml"]));
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    // The repository's own file is used.
    sb.write(
        "repo/.sops.yaml",
        format!("creation_rules:\n  - age: {RECIPIENT}\n"),
    );
    let out = ok(run(sb
        .kseal()
        .current_dir(sb.path("repo"))
        .args(["encrypt", "s.yaml"])));
    assert!(out.contains(RECIPIENT) && !out.contains(RECIPIENT2));
}
