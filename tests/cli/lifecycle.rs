//! Keys and recipients over a secret's life (issue 5): `.sops.yaml` rules with namespaces,
//! `updatekeys`, `rotate` and `status`; SSH keys, passphrase prompts on a pseudo-terminal, a
//! test age plugin found on PATH and `KSEAL_AGE_KEY_CMD`. The real sops decrypts every result.

use crate::common::*;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use kseal::keys::{self, Identities, Recipient};
use kseal::secret::DataKey;
use kseal::sops::file::{self, DecryptOptions, EncryptSettings};
use kseal::sops::metadata::AgeEntry;
use kseal::sops::rules::CryptRule;

/// Not a real key (a real age1pq1 recipient is ~1,950 characters): a damaged one.
const PQ: &str =
    "age1pq1ehusfwsvrente8p6gafr4jemv2urnqfm4c59ng5dgqqzlk2vv9rcekpjxws7tsy23geqnpy2zq";

fn secret(name: &str, ns: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n  password: czNjcjN0\nstringData:\n  user: admin # the login\n"
    )
}

/// An age key pair made by `kseal keygen`.
struct Key {
    file: PathBuf,
    recipient: String,
}

fn age_key(sb: &Sandbox, name: &str) -> Key {
    let file = sb.path(&format!("keys/{name}.txt"));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let o = run(sb.kseal().args(["keygen", "-o"]).arg(&file));
    assert!(o.status.success(), "{}", stderr(&o));
    let recipient = stderr(&o)
        .trim()
        .strip_prefix("Public key: ")
        .expect("recipient on stderr")
        .to_string();
    Key { file, recipient }
}

/// The recipients of a file's (first) `sops:` block, in order.
fn recipients(text: &str) -> Vec<String> {
    let start = text.find("\nsops:").expect("an encrypted file");
    let block = &text[start..];
    let end = block[1..].find("\n---").map_or(block.len(), |i| i + 1);
    block[..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- recipient: "))
        .map(String::from)
        .collect()
}

/// The `ENC[...]` values of the documents (the MAC excluded).
fn values(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("mac:"))
        .flat_map(|l| l.match_indices("ENC[").map(move |(i, _)| &l[i..]))
        .map(|s| s[..s.find(']').unwrap() + 1].to_string())
        .collect()
}

/// A field of the `sops:` block (`mac`, `lastmodified`).
fn field(text: &str, name: &str) -> String {
    let prefix = format!("{name}: ");
    text.lines()
        .find_map(|l| l.trim().strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {name}"))
        .to_string()
}

/// The armored envelope wrapped for `recipient`.
fn enc_for(text: &str, recipient: &str) -> String {
    let at = text
        .find(&format!("- recipient: {recipient}"))
        .expect("recipient present");
    let rest = &text[at..];
    let begin = rest.find("-----BEGIN").unwrap();
    let end = rest.find("-----END AGE ENCRYPTED FILE-----").unwrap();
    rest[begin..end + "-----END AGE ENCRYPTED FILE-----".len()]
        .lines()
        .map(|l| format!("{}\n", l.trim()))
        .collect()
}

fn kseal_decrypt(sb: &Sandbox, identity: &Path, file: &str) -> Output {
    run(sb
        .kseal()
        .args(["decrypt", "--identity"])
        .arg(identity)
        .arg(file))
}

/// `sops decrypt FILE` with an identity from `var` (SOPS_AGE_KEY_FILE, ...).
fn sops_decrypt(sb: &Sandbox, var: &str, identity: &Path, file: &str) -> Output {
    require("sops");
    run(sb.tool("sops").env(var, identity).args(["decrypt", file]))
}

fn write_config(sb: &Sandbox, rules: &str) {
    sb.write(".sops.yaml", format!("creation_rules:\n{rules}"));
}

/// Runs a shell command line on a pseudo-terminal (`script`). Each `(prompt, answer)` is typed
/// once `prompt` has appeared after the previous answer. Returns the exit code and everything
/// the terminal showed.
fn on_terminal(
    sb: &Sandbox,
    envs: &[(&str, &str)],
    line: &str,
    answers: &[(&str, &str)],
) -> (Option<i32>, String) {
    on_terminal_with(sb, envs, line, answers, &|_| {})
}

/// `on_terminal`, calling `before_answer(i)` once the `i`-th prompt showed, before answering it.
fn on_terminal_with(
    sb: &Sandbox,
    envs: &[(&str, &str)],
    line: &str,
    answers: &[(&str, &str)],
    before_answer: &dyn Fn(usize),
) -> (Option<i32>, String) {
    let mut cmd = sb.tool("script");
    cmd.args(["-qec", line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("script (util-linux) is installed");
    let mut stdin = child.stdin.take().unwrap();
    let mut out = child.stdout.take().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let shown =
        |seen: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let mut from = 0;
    for (n, (prompt, answer)) in answers.iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = shown(&seen);
            if let Some(i) = text.get(from..).and_then(|t| t.find(prompt)) {
                from += i + prompt.len();
                break;
            }
            if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                panic!("no prompt {prompt:?} on the terminal: {text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        before_answer(n);
        // The prompt is printed just before echo is turned off: a person types later than that.
        std::thread::sleep(Duration::from_millis(300));
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("timed out: {}", shown(&seen));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    reader.join().unwrap();
    (status.code(), shown(&seen).replace('\r', ""))
}

/// kseal without a controlling terminal (a new session), stdin closed.
fn kseal_without_terminal(sb: &Sandbox) -> Command {
    let mut c = sb.tool("setsid");
    c.arg("-w")
        .arg(env!("CARGO_BIN_EXE_kseal"))
        .stdin(Stdio::null());
    c
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display())
}

fn kseal_bin() -> String {
    format!("'{}'", env!("CARGO_BIN_EXE_kseal"))
}

/// An encrypted file made with the library, for a chosen `lastmodified` (the CLI always
/// writes the current time).
fn encrypt_at(plain: &str, recipients: &[&str], lastmodified: &str) -> String {
    let key = DataKey::generate().unwrap();
    let age = recipients
        .iter()
        .map(|r| {
            let r = Recipient::parse(r).unwrap();
            AgeEntry {
                recipient: r.text().to_string(),
                enc: keys::wrap(&key, &r).unwrap(),
            }
        })
        .collect();
    let settings = EncryptSettings {
        key_groups: None,
        rule: CryptRule::kubernetes(),
        mac_only_encrypted: false,
        key: &key,
        age,
        lastmodified: lastmodified.to_string(),
        version: "3.11.0".to_string(),
        stash: None,
        policy: None,
    };
    file::encrypt(plain, &settings, &kseal::kube::is_secret).unwrap()
}

fn days_ago(days: i64) -> String {
    kseal::sops::metadata::format_go_rfc3339(
        time::OffsetDateTime::now_utc() - time::Duration::days(days),
    )
}

// ---------------------------------------------------------------------------------------------
// Rules, updatekeys, rotate

struct Repo {
    sb: Sandbox,
    alice: Key,
    bob: Key,
    ops: Key,
    pay: Key,
}

const FILES: [&str; 6] = [
    "apps/mixed.yaml",
    "apps/pay.yaml",
    "apps/web.yaml",
    "dev/api.yaml",
    "dev/db.yaml",
    "prod/db.yaml",
];

fn repo_rules(r: &Repo, dev: &[&Key], prod: &[&Key]) {
    let list = |ks: &[&Key]| {
        ks.iter()
            .map(|k| format!("          - {}\n", k.recipient))
            .collect::<String>()
    };
    write_config(
        &r.sb,
        &format!(
            "  # kseal extension: only when every Secret of the file is in `payments`\n  - path_regex: ^apps/\n    namespace_regex: ^payments$\n    age: {pay}\n  - path_regex: ^apps/\n    age: [{alice}]\n  - path_regex: ^dev/\n    key_groups:\n      - age:\n{dev}  - path_regex: ^prod/\n    key_groups:\n      - age:\n{prod}",
            pay = r.pay.recipient,
            alice = r.alice.recipient,
            dev = list(dev),
            prod = list(prod),
        ),
    );
}

/// A repository with rules for dev/, prod/ and a namespace rule for apps/, every Secret
/// encrypted with `kseal encrypt -i` and a plain ConfigMap beside them.
fn repo() -> Repo {
    let sb = Sandbox::new();
    let r = Repo {
        alice: age_key(&sb, "alice"),
        bob: age_key(&sb, "bob"),
        ops: age_key(&sb, "ops"),
        pay: age_key(&sb, "pay"),
        sb,
    };
    repo_rules(&r, &[&r.alice, &r.bob], &[&r.alice, &r.ops]);
    let sb = &r.sb;
    sb.write("dev/db.yaml", secret("db", "dev"));
    sb.write("dev/api.yaml", secret("api", "dev"));
    sb.write("prod/db.yaml", secret("db", "prod"));
    sb.write("apps/pay.yaml", secret("pay", "payments"));
    sb.write("apps/web.yaml", secret("web", "web"));
    sb.write(
        "apps/mixed.yaml",
        format!("{}---\n{}", secret("a", "payments"), secret("b", "web")),
    );
    sb.write(
        "dev/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n",
    );
    for f in FILES {
        ok(run(sb.kseal().args(["encrypt", "-i", f])));
    }
    r
}

fn snapshot(sb: &Sandbox) -> Vec<(String, String)> {
    FILES
        .iter()
        .chain(&["dev/cm.yaml"])
        .map(|f| (f.to_string(), read(&sb.path(f))))
        .collect()
}

#[test]
fn rules_pick_recipients_and_updatekeys_rewraps_exactly_the_affected_files() {
    let r = repo();
    let sb = &r.sb;
    let (a, b, ops, p) = (
        r.alice.recipient.as_str(),
        r.bob.recipient.as_str(),
        r.ops.recipient.as_str(),
        r.pay.recipient.as_str(),
    );
    let text = |f: &str| read(&sb.path(f));
    assert_eq!(recipients(&text("dev/db.yaml")), [a, b]);
    assert_eq!(recipients(&text("prod/db.yaml")), [a, ops]);
    assert_eq!(recipients(&text("apps/pay.yaml")), [p]);
    // Not every Secret is in `payments`: the broader rule applies.
    assert_eq!(recipients(&text("apps/web.yaml")), [a]);
    assert_eq!(recipients(&text("apps/mixed.yaml")), [a]);
    // The real sops decrypts every file with a recipient's key.
    for (f, k) in [
        ("dev/db.yaml", &r.bob),
        ("prod/db.yaml", &r.ops),
        ("apps/pay.yaml", &r.pay),
        ("apps/mixed.yaml", &r.alice),
    ] {
        let out = ok(sops_decrypt(sb, "SOPS_AGE_KEY_FILE", &k.file, f));
        assert!(out.contains("password: czNjcjN0"), "{f}: {out}");
    }

    // The team changes: bob leaves dev and joins prod.
    repo_rules(&r, &[&r.alice], &[&r.alice, &r.ops, &r.bob]);
    let before = snapshot(sb);

    let o = run(sb.kseal().args(["updatekeys", "--dry-run"]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let shown = stdout(&o);
    assert!(
        shown.contains(&format!("prod/db.yaml:\n  + {b}\n")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("dev/db.yaml:\n  - {b}\n")),
        "{shown}"
    );
    assert!(
        shown.contains("a new data key will be generated"),
        "{shown}"
    );
    assert!(
        shown.contains("apps/pay.yaml: already up to date"),
        "{shown}"
    );
    assert!(
        shown.contains(
            "dry run: 3 would change, 3 already up to date, 1 not encrypted (skipped), 0 failed"
        ),
        "{shown}"
    );
    assert_eq!(snapshot(sb), before, "--dry-run changed a file");

    // Without -y and without a terminal: nothing happens, and the error says why.
    let o = run(kseal_without_terminal(sb).arg("updatekeys"));
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no terminal"), "{}", stderr(&o));
    assert_eq!(snapshot(sb), before);

    let o = run(sb
        .kseal()
        .env("SOPS_AGE_KEY_FILE", &r.alice.file)
        .args(["updatekeys", "-y", "."]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let shown = stdout(&o);
    assert!(
        shown.contains(
            "updatekeys: 3 changed, 3 already up to date, 1 not encrypted (skipped), 0 failed"
        ),
        "{shown}"
    );
    assert!(shown.contains("./prod/db.yaml: data key re-wrapped for 3 recipients (values, MAC and lastmodified unchanged)"), "{shown}");
    assert!(
        shown.contains("./dev/db.yaml: new data key for 1 recipient, every value re-encrypted"),
        "{shown}"
    );

    // Exactly the affected files changed.
    for (f, old) in &before {
        let new = text(f);
        match f.as_str() {
            "prod/db.yaml" => {
                assert_eq!(recipients(&new), [a, ops, b]);
                assert_eq!(values(&new), values(old), "re-wrap keeps every value");
                assert_eq!(field(&new, "mac"), field(old, "mac"));
                assert_eq!(field(&new, "lastmodified"), field(old, "lastmodified"));
                let cut = old.find("\nsops:").unwrap();
                assert_eq!(&new[..cut], &old[..cut]);
            }
            "dev/db.yaml" | "dev/api.yaml" => {
                assert_eq!(recipients(&new), [a]);
                let (vo, vn) = (values(old), values(&new));
                assert_eq!(vo.len(), vn.len());
                assert!(
                    vo.iter().zip(&vn).all(|(x, y)| x != y),
                    "{f}: all values re-encrypted"
                );
                assert_ne!(field(&new, "mac"), field(old, "mac"));
            }
            _ => assert_eq!(&new, old, "{f} must not change"),
        }
    }

    // The removed recipient cannot open the new dev files, with kseal or sops, while the
    // others can; it opens prod now.
    let o = kseal_decrypt(sb, &r.bob.file, "dev/db.yaml");
    assert_eq!(code(&o), Some(5), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    assert!(
        !sops_decrypt(sb, "SOPS_AGE_KEY_FILE", &r.bob.file, "dev/db.yaml")
            .status
            .success()
    );
    assert_eq!(
        ok(kseal_decrypt(sb, &r.alice.file, "dev/db.yaml")),
        secret("db", "dev")
    );
    for (f, k) in [
        ("dev/db.yaml", &r.alice),
        ("dev/api.yaml", &r.alice),
        ("prod/db.yaml", &r.bob),
        ("prod/db.yaml", &r.ops),
    ] {
        let out = ok(sops_decrypt(sb, "SOPS_AGE_KEY_FILE", &k.file, f));
        assert!(out.contains("password: czNjcjN0"), "{f}: {out}");
    }
    assert_eq!(
        ok(kseal_decrypt(sb, &r.bob.file, "prod/db.yaml")),
        secret("db", "prod")
    );
    // Even the data key bob could have kept from the old file opens nothing of the new one.
    let mut bob_ids = Identities::new();
    bob_ids.add_file(&r.bob.file, true).unwrap();
    let old_dev = &before.iter().find(|(f, _)| f == "dev/db.yaml").unwrap().1;
    let old_key = bob_ids.unwrap(&enc_for(old_dev, b)).unwrap();
    assert!(file::decrypt(&text("dev/db.yaml"), &old_key, &DecryptOptions::default()).is_err());

    // Everything is up to date now.
    let o = ok(run(sb.kseal().args(["updatekeys", "-y"])));
    assert!(
        o.contains("updatekeys: 0 changed, 6 already up to date"),
        "{o}"
    );
}

#[test]
fn keep_data_key_only_rewraps_and_warns() {
    let r = repo();
    let sb = &r.sb;
    repo_rules(&r, &[&r.alice, &r.bob], &[&r.alice]);
    let old = read(&sb.path("prod/db.yaml"));
    let o = run(sb.kseal().env("KSEAL_AGE_KEY_FILE", &r.alice.file).args([
        "updatekeys",
        "-y",
        "--keep-data-key",
        "prod",
    ]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("--keep-data-key: the removed recipient still knows"));
    assert!(
        stderr(&o).contains("still knows the data key"),
        "{}",
        stderr(&o)
    );
    let new = read(&sb.path("prod/db.yaml"));
    assert_eq!(recipients(&new), [r.alice.recipient.as_str()]);
    assert_eq!(values(&new), values(&old));
    assert_eq!(field(&new, "mac"), field(&old, "mac"));
    ok(sops_decrypt(
        sb,
        "SOPS_AGE_KEY_FILE",
        &r.alice.file,
        "prod/db.yaml",
    ));
    // ops is no longer a recipient, although the data key is the same.
    assert_eq!(
        code(&kseal_decrypt(sb, &r.ops.file, "prod/db.yaml")),
        Some(5)
    );
}

#[test]
fn rotate_changes_the_data_key_and_the_recipients() {
    let r = repo();
    let sb = &r.sb;
    let old = read(&sb.path("prod/db.yaml"));
    let o = run(sb
        .kseal()
        .args(["rotate", "prod/db.yaml", "--identity"])
        .arg(&r.ops.file)
        .args(["--add-age", &r.pay.recipient, "--rm-age", &r.ops.recipient]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("prod/db.yaml: new data key for 2 recipients"));
    let new = read(&sb.path("prod/db.yaml"));
    assert_eq!(
        recipients(&new),
        [r.alice.recipient.as_str(), r.pay.recipient.as_str()]
    );
    let (vo, vn) = (values(&old), values(&new));
    assert_eq!(vo.len(), vn.len());
    assert!(vo.iter().zip(&vn).all(|(x, y)| x != y));
    assert_ne!(field(&new, "mac"), field(&old, "mac"));
    assert_eq!(
        &new[..new.find("data:").unwrap()],
        &old[..old.find("data:").unwrap()]
    );
    for k in [&r.alice, &r.pay] {
        assert_eq!(
            ok(kseal_decrypt(sb, &k.file, "prod/db.yaml")),
            secret("db", "prod")
        );
        ok(sops_decrypt(
            sb,
            "SOPS_AGE_KEY_FILE",
            &k.file,
            "prod/db.yaml",
        ));
    }
    assert_eq!(
        code(&kseal_decrypt(sb, &r.ops.file, "prod/db.yaml")),
        Some(5)
    );
    assert!(
        !sops_decrypt(sb, "SOPS_AGE_KEY_FILE", &r.ops.file, "prod/db.yaml")
            .status
            .success()
    );
    // status sees the file is no longer what the rules say.
    let st = stdout(&run(sb.kseal().args([
        "status",
        "--no-verify",
        "prod/db.yaml",
    ])));
    assert!(st.contains("STALE"), "{st}");
    // Issue 13: the reason the MAC was not checked is the flag, not a missing identity.
    assert!(st.contains("  MAC: not checked (--no-verify)\n"), "{st}");
    assert!(!st.contains("no identity"), "{st}");
    let st = stdout(&run(sb.kseal().args(["status", "prod/db.yaml"])));
    assert!(
        st.contains("  MAC: not checked (no identity opens the file)\n"),
        "{st}"
    );

    // Refusals leave files alone.
    let before = read(&sb.path("dev/db.yaml"));
    let o = run(sb.kseal().args(["rotate", "dev/db.yaml"]));
    assert_eq!(code(&o), Some(5), "no identity: {}", stderr(&o));
    let o = run(sb
        .kseal()
        .args(["rotate", "dev/db.yaml", "--identity"])
        .arg(&r.alice.file)
        .args(["--rm-age", &r.alice.recipient, "--rm-age", &r.bob.recipient]));
    assert_eq!(code(&o), Some(8), "{}", stderr(&o));
    let o = run(sb.kseal().args(["rotate", "dev/cm.yaml"]));
    assert_eq!(code(&o), Some(10), "{}", stderr(&o));
    assert_eq!(read(&sb.path("dev/db.yaml")), before);
    let o = run(sb
        .kseal()
        .args(["rotate", "dev/db.yaml", "--identity"])
        .arg(&r.alice.file)
        .args(["--add-age", PQ]));
    assert_eq!(
        code(&o),
        Some(8),
        "a damaged age1pq1 recipient: {}",
        stderr(&o)
    );
    assert_eq!(read(&sb.path("dev/db.yaml")), before);

    // No path: the current directory, like status, check and updatekeys (plain files skipped).
    let o = run(sb
        .kseal()
        .current_dir(sb.path("dev"))
        .args(["rotate", "--identity"])
        .arg(&r.alice.file));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("db.yaml: new data key for "),
        "{}",
        stdout(&o)
    );
    assert_ne!(read(&sb.path("dev/db.yaml")), before);
    assert_eq!(
        ok(kseal_decrypt(sb, &r.alice.file, "dev/db.yaml")),
        secret("db", "dev")
    );
}

#[test]
fn updatekeys_asks_once_on_the_terminal() {
    let r = repo();
    let sb = &r.sb;
    repo_rules(&r, &[&r.alice], &[&r.alice, &r.ops, &r.bob]);
    let before = snapshot(sb);
    let key = r.alice.file.to_str().unwrap();
    let line = format!("{} updatekeys > report.txt", kseal_bin());
    let question = "Apply these changes to 3 files? [y/N]";
    let (rc, shown) = on_terminal(sb, &[("SOPS_AGE_KEY_FILE", key)], &line, &[(question, "n")]);
    assert_eq!(rc, Some(0), "{shown}");
    assert!(read(&sb.path("report.txt")).contains("nothing was changed"));
    assert_eq!(snapshot(sb), before);
    let (rc, shown) = on_terminal(sb, &[("SOPS_AGE_KEY_FILE", key)], &line, &[(question, "y")]);
    assert_eq!(rc, Some(0), "{shown}");
    assert_eq!(shown.matches("[y/N]").count(), 1, "{shown}");
    let report = read(&sb.path("report.txt"));
    assert!(report.contains("updatekeys: 3 changed"), "{report}");
    assert_eq!(
        recipients(&read(&sb.path("prod/db.yaml"))),
        [
            r.alice.recipient.as_str(),
            r.ops.recipient.as_str(),
            r.bob.recipient.as_str()
        ]
    );
}

/// The plan (and the question) is about the files as they were read; a file changed before the
/// answer is not rewritten from the old version: that file fails, the others are changed.
#[test]
fn updatekeys_leaves_a_file_changed_while_it_asked() {
    let r = repo();
    let sb = &r.sb;
    repo_rules(&r, &[&r.alice], &[&r.alice, &r.ops, &r.bob]);
    let key = r.alice.file.to_str().unwrap();
    let line = format!("{} updatekeys > report.txt", kseal_bin());
    let question = "Apply these changes to 3 files? [y/N]";
    let changed = format!("{}# edited meanwhile\n", read(&sb.path("prod/db.yaml")));
    let (rc, shown) = on_terminal_with(
        sb,
        &[("SOPS_AGE_KEY_FILE", key)],
        &line,
        &[(question, "y")],
        &|_| {
            sb.write("prod/db.yaml", &changed);
        },
    );
    assert_eq!(rc, Some(10), "{shown}");
    assert!(shown.contains("changed on disk"), "{shown}");
    assert_eq!(read(&sb.path("prod/db.yaml")), changed);
    let report = read(&sb.path("report.txt"));
    assert!(report.contains("updatekeys: 2 changed"), "{report}");
    assert!(report.contains("1 failed"), "{report}");
    assert_eq!(
        recipients(&read(&sb.path("dev/db.yaml"))),
        [r.alice.recipient.as_str()]
    );
}

#[test]
fn updatekeys_reports_failures_and_goes_on() {
    let r = repo();
    let sb = &r.sb;
    repo_rules(&r, &[&r.alice], &[&r.alice, &r.ops, &r.bob]);
    // A tampered file (a clear field changed) is not re-keyed; the others are.
    let dev = read(&sb.path("dev/api.yaml"));
    let tampered = dev.replace("name: api", "name: evil");
    sb.write("dev/api.yaml", &tampered);
    let o = run(sb.kseal().env("SOPS_AGE_KEY_FILE", &r.alice.file).args([
        "updatekeys",
        "-y",
        "dev",
        "prod",
    ]));
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    // kseal's own files fail the structural MAC first (checked before any value is opened).
    assert!(
        stderr(&o).contains("dev/api.yaml: structural MAC mismatch"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains(
            "updatekeys: 2 changed, 0 already up to date, 1 not encrypted (skipped), 1 failed"
        ),
        "{}",
        stdout(&o)
    );
    assert_eq!(read(&sb.path("dev/api.yaml")), tampered);
    assert_eq!(
        recipients(&read(&sb.path("dev/db.yaml"))),
        [r.alice.recipient.as_str()]
    );

    // A plain file named explicitly is a failure; no .sops.yaml is a configuration error.
    let o = run(sb.kseal().args(["updatekeys", "-y", "dev/cm.yaml"]));
    assert_eq!(code(&o), Some(10), "{}", stderr(&o));
    std::fs::remove_file(sb.path(".sops.yaml")).unwrap();
    let o = run(sb.kseal().args(["updatekeys", "-y"]));
    assert_eq!(code(&o), Some(8), "{}", stderr(&o));
}

#[test]
fn unsupported_rules_are_refused_clearly() {
    let sb = Sandbox::new();
    let k = age_key(&sb, "k");
    sb.write("s.yaml", secret("s", "x"));
    // Key groups naming a pgp key (kseal wraps for age only), and a threshold sops refuses.
    for (rule, code_want, says) in [
        (
            format!("  - shamir_threshold: 2\n    key_groups:\n      - age: [{0}]\n      - pgp: [ABCDEF]\n        age: [{0}]\n", k.recipient),
            9,
            "pgp",
        ),
        (
            format!("  - shamir_threshold: 1\n    key_groups:\n      - age: [{0}]\n      - age: [{0}]\n", k.recipient),
            8,
            "at least 2",
        ),
        (
            format!("  - shamir_threshold: 3\n    key_groups:\n      - age: [{0}]\n      - age: [{0}]\n", k.recipient),
            8,
            "larger than the number of key groups",
        ),
    ] {
        write_config(&sb, &rule);
        let o = run(sb.kseal().args(["encrypt", "-i", "s.yaml"]));
        assert_eq!(code(&o), Some(code_want), "{}", stderr(&o));
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
        assert!(o.stdout.is_empty());
        assert_eq!(read(&sb.path("s.yaml")), secret("s", "x"));
    }
}

// ---------------------------------------------------------------------------------------------
// status

#[test]
fn status_json_is_stable_and_max_age_fails_exactly_on_old_files() {
    let sb = Sandbox::new();
    let alice = age_key(&sb, "alice");
    let bob = age_key(&sb, "bob");
    let (a, b) = (alice.recipient.as_str(), bob.recipient.as_str());
    write_config(
        &sb,
        &format!("  - path_regex: ^old/\n    age: {a}\n  - path_regex: ^new/\n    age: {a},{b}\n"),
    );
    let older = days_ago(91);
    let younger = days_ago(89);
    sb.write(
        "old/a.yaml",
        encrypt_at(&secret("a", "x"), &[a], "2020-01-02T03:04:05Z"),
    );
    sb.write("old/b.yaml", encrypt_at(&secret("b", "x"), &[a], &older));
    sb.write(
        "new/d.yaml",
        encrypt_at(&secret("d", "x"), &[a, b], &younger),
    );
    sb.write("new/c.yaml", secret("c", "x"));
    ok(run(sb.kseal().args([
        "encrypt",
        "-i",
        "--age",
        a,
        "new/c.yaml",
    ])));
    sb.write(
        "plain/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    // The library-made files are real sops files.
    for f in ["old/a.yaml", "old/b.yaml", "new/d.yaml"] {
        ok(sops_decrypt(&sb, "SOPS_AGE_KEY_FILE", &alice.file, f));
    }
    let c_modified = field(&read(&sb.path("new/c.yaml")), "lastmodified")
        .trim_matches('"')
        .to_string();

    let o = run(sb.kseal().env("SOPS_AGE_KEY_FILE", &alice.file).args([
        "status",
        "--json",
        "--max-age",
        "90d",
    ]));
    assert_eq!(code(&o), Some(10), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2 files were last encrypted more than 90d ago"),
        "{}",
        stderr(&o)
    );
    // Variable parts: the current time and the ages.
    let mut ages = Vec::new();
    let normalized: String = stdout(&o)
        .lines()
        .map(|l| {
            if let Some(v) = l.trim().strip_prefix("\"age_seconds\": ") {
                if v != "null," {
                    ages.push(v.trim_end_matches(',').parse::<i64>().unwrap());
                    return l.replace(v.trim_end_matches(','), "AGE");
                }
            }
            if l.starts_with("  \"now\": ") {
                return "  \"now\": NOW,".to_string();
            }
            l.to_string()
        })
        .map(|l| l + "\n")
        .collect();
    let file =
        |path: &str, rec: &str, modified: &str, too_old: bool, rules: &str, missing: &str| {
            format!(
                r#"    {{
      "path": "{path}",
      "encrypted": true,
      "secrets": 1,
      "recipients": [{rec}],
      "lastmodified": "{modified}",
      "age_seconds": AGE,
      "too_old": {too_old},
      "sops_version": "3.11.0",
      "rules": "{rules}",
      "rules_message": null,
      "missing_recipients": [{missing}],
      "extra_recipients": [],
      "mac": "verified",
      "error": null,
      "structural_mac": "verified"
    }}"#
            )
        };
    let qa = format!("\"{a}\"");
    let qab = format!("\"{a}\", \"{b}\"");
    let qb = format!("\"{b}\"");
    let expected = format!(
        r#"{{
  "schema": 1,
  "now": NOW,
  "max_age_seconds": 7776000,
  "files": [
{},
{},
{},
{},
    {{
      "path": "plain/cm.yaml",
      "encrypted": false,
      "secrets": 0,
      "recipients": [],
      "lastmodified": null,
      "age_seconds": null,
      "too_old": false,
      "sops_version": null,
      "rules": null,
      "rules_message": null,
      "missing_recipients": [],
      "extra_recipients": [],
      "mac": null,
      "error": null,
      "structural_mac": null
    }}
  ],
  "summary": {{
    "files": 5,
    "encrypted": 4,
    "plain": 1,
    "stale": 1,
    "too_old": 2,
    "mac_failed": 0,
    "errors": 0
  }}
}}
"#,
        file("new/c.yaml", &qa, &c_modified, false, "stale", &qb),
        file("new/d.yaml", &qab, &younger, false, "match", ""),
        file("old/a.yaml", &qa, "2020-01-02T03:04:05Z", true, "match", ""),
        file("old/b.yaml", &qa, &older, true, "match", ""),
    );
    assert_eq!(normalized, expected);
    assert!(
        ages[0] < 600 && (ages[1] - 89 * 86_400).abs() < 600,
        "{ages:?}"
    );
    assert!(ages[2] > 5 * 365 * 86_400 && (ages[3] - 91 * 86_400).abs() < 600);

    // A longer limit: only the file from 2020 is too old; for new/ nothing is (exit 0).
    let o = run(sb.kseal().args([
        "status",
        "--no-verify",
        "--json",
        "--max-age",
        "92d",
        "new",
        "old",
    ]));
    assert_eq!(code(&o), Some(10), "{}", stdout(&o));
    assert_eq!(stdout(&o).matches("\"too_old\": true").count(), 1);
    let o = run(sb.kseal().args(["status", "--max-age", "100d", "new"]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    {
        // --fail-stale: new/c.yaml lacks a recipient of its rule (exit 10, the report printed);
        // old/ follows its rule (exit 0); with no .sops.yaml there is nothing to compare (exit 8).
        let o = run(sb
            .kseal()
            .args(["status", "--no-verify", "--fail-stale", "new"]));
        assert_eq!(code(&o), Some(10), "{}", stderr(&o));
        assert!(
            stdout(&o).contains("new/c.yaml: encrypted"),
            "{}",
            stdout(&o)
        );
        assert!(
            stderr(&o).contains(
                "1 file is not encrypted to the recipients .sops.yaml names (--fail-stale)"
            ),
            "{}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("kseal updatekeys"), "{}", stderr(&o));
        let o = run(sb
            .kseal()
            .args(["status", "--no-verify", "--fail-stale", "old"]));
        assert_eq!(code(&o), Some(0), "{}", stderr(&o));
        let o = run(sb
            .kseal()
            .args(["status", "--no-verify", "--fail-stale", "new"])
            .env("KSEAL_CONFIG", sb.path("none.yaml")));
        assert_ne!(code(&o), Some(0), "{}", stderr(&o));
        let bare = Sandbox::new();
        bare.write("c.yaml", read(&sb.path("new/c.yaml")));
        let o = run(bare.kseal().args(["status", "--no-verify", "--fail-stale"]));
        assert_eq!(code(&o), Some(8), "{}", stderr(&o));
        let o = run(bare.kseal().args(["status", "--no-verify", "c.yaml"]));
        assert_eq!(code(&o), Some(0), "{}", stderr(&o));
        assert!(
            stdout(&o).contains(
                "status: 1 file: 1 encrypted, 0 plain; 0 stale; 0 MAC failures; 0 errors"
            ),
            "{}",
            stdout(&o)
        );
    }
    let text = stdout(&o);
    assert!(
        text.contains("new/c.yaml: encrypted, last encrypted"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "  rules: STALE (run `kseal updatekeys`)\n    + {b}\n"
        )),
        "{text}"
    );
    assert!(text.contains("  MAC: not checked"), "{text}");
    assert!(text.contains("status: 2 files: 2 encrypted, 0 plain; 1 stale; 0 older than 100d; 0 MAC failures; 0 errors"), "{text}");
    let o = run(sb.kseal().args(["status", "--max-age", "90x"]));
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));

    // A tampered file: the MAC check fails (exit 6); a file that is not YAML is an error.
    let c = read(&sb.path("new/c.yaml"));
    sb.write("bad/c.yaml", c.replace("name: c", "name: evil"));
    let o = run(sb
        .kseal()
        .env("SOPS_AGE_KEY_FILE", &alice.file)
        .args(["status", "--json", "bad"]));
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    assert!(stdout(&o).contains("\"mac\": \"failed\""), "{}", stdout(&o));
    sb.write("bad/c.yaml", "a: [\n");
    let o = run(sb.kseal().args(["status", "bad"]));
    assert_eq!(code(&o), Some(4), "{}", stderr(&o));
    assert!(stdout(&o).contains("bad/c.yaml: ERROR:"), "{}", stdout(&o));
}

// ---------------------------------------------------------------------------------------------
// SSH keys

/// `ssh-keygen` a key pair: (private key path, public key line).
fn ssh_keygen(sb: &Sandbox, name: &str, kind: &str, passphrase: &str) -> (PathBuf, String) {
    let path = sb.path(&format!("ssh/{name}"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut cmd = sb.tool(require("ssh-keygen").to_str().unwrap());
    cmd.args(["-q", "-t", kind, "-N", passphrase, "-C", "kseal-test", "-f"])
        .arg(&path)
        .stdin(Stdio::null());
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    ok(run(&mut cmd));
    let public = read(&path.with_extension("pub")).trim().to_string();
    (path, public)
}

/// Runs the Go age CLI with `input` on stdin.
fn go_age(sb: &Sandbox, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = sb
        .tool(require("age").to_str().unwrap())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "age {args:?}: {}", stderr(&o));
    o.stdout
}

#[test]
fn ssh_ed25519_and_rsa_keys_work_with_sops_and_go_age() {
    let sb = Sandbox::new();
    let (ed, ed_pub) = ssh_keygen(&sb, "id_ed25519", "ed25519", "");
    let (rsa, rsa_pub) = ssh_keygen(&sb, "id_rsa", "rsa", "");
    sb.write("s.yaml", secret("s", "x"));
    ok(run(sb.kseal().args([
        "encrypt", "-i", "--age", &ed_pub, "--age", &rsa_pub, "s.yaml",
    ])));
    let enc = read(&sb.path("s.yaml"));
    assert_eq!(
        recipients(&enc),
        [ed_pub.as_str(), rsa_pub.as_str()],
        "stored verbatim"
    );
    // kseal opens it with either key, from a flag, a variable or ~/.ssh.
    assert_eq!(ok(kseal_decrypt(&sb, &rsa, "s.yaml")), secret("s", "x"));
    let o = run(sb
        .kseal()
        .env("KSEAL_AGE_SSH_PRIVATE_KEY_FILE", &ed)
        .args(["decrypt", "s.yaml"]));
    assert_eq!(ok(o), secret("s", "x"));
    std::fs::create_dir_all(sb.path(".ssh")).unwrap();
    std::fs::copy(&ed, sb.path(".ssh/id_ed25519")).unwrap();
    assert_eq!(
        ok(run(sb.kseal().args(["decrypt", "s.yaml"]))),
        secret("s", "x")
    );
    std::fs::remove_file(sb.path(".ssh/id_ed25519")).unwrap();
    // sops opens it with either key.
    for key in [&ed, &rsa] {
        let out = ok(sops_decrypt(
            &sb,
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            key,
            "s.yaml",
        ));
        assert!(out.contains("password: czNjcjN0"), "{out}");
    }
    // Go age opens the data key kseal wrapped for each key...
    let key = go_age(
        &sb,
        &["-d", "-i", ed.to_str().unwrap()],
        enc_for(&enc, &ed_pub).as_bytes(),
    );
    assert_eq!(key.len(), 32);
    let key2 = go_age(
        &sb,
        &["-d", "-i", rsa.to_str().unwrap()],
        enc_for(&enc, &rsa_pub).as_bytes(),
    );
    assert_eq!(key, key2);
    // ...and what Go age wraps for the SSH key, kseal opens (spliced into the file).
    let pubfile = ed.with_extension("pub");
    let go_enc =
        String::from_utf8(go_age(&sb, &["-a", "-R", pubfile.to_str().unwrap()], &key)).unwrap();
    let ours = enc_for(&enc, &ed_pub);
    let pad = pad_of(&ours, &enc);
    let spliced = enc.replace(&reindent(&ours, &pad), &reindent(&go_enc, &pad));
    assert_ne!(spliced, enc);
    sb.write("go.yaml", &spliced);
    assert_eq!(ok(kseal_decrypt(&sb, &ed, "go.yaml")), secret("s", "x"));
    // And a file sops encrypted for the SSH key.
    sb.write("s2.yaml", secret("s2", "x"));
    let o = run(sb.tool("sops").args([
        "encrypt",
        "--age",
        &rsa_pub,
        "--encrypted-regex",
        "^(data|stringData)$",
        "s2.yaml",
    ]));
    let sops_made = ok(o);
    sb.write("s2.enc.yaml", &sops_made);
    let out = ok(kseal_decrypt(&sb, &rsa, "s2.enc.yaml"));
    assert!(out.contains("password: czNjcjN0"), "{out}");
}

/// Issue 19: the `recipient:` beside an `enc` is only a label. An outsider (who holds no team
/// key) encrypts a file for the team's first SSH key and for their own, then edits the text:
/// their envelope relabelled with the second team member's key, `kseal_mac` removed (sops-made
/// files have none). The recipients now match `.sops.yaml`, so the next `set` would reuse a
/// data key the outsider holds. The SSH stanza's tag names the real key: every command that
/// opens or re-wraps the data key refuses (exit 6), prints nothing and changes nothing.
#[test]
fn attack_ssh_envelope_relabelled_with_a_team_members_key_is_refused() {
    let sb = Sandbox::new();
    let (alice, alice_pub) = ssh_keygen(&sb, "alice", "ed25519", "");
    let (_, carol_pub) = ssh_keygen(&sb, "carol", "rsa", "");
    let (_, evil_pub) = ssh_keygen(&sb, "evil", "ed25519", "");
    let x = age_key(&sb, "x");
    let (x_key, x_pub) = (x.file, x.recipient);
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - path_regex: \\.yaml$\n    age:\n      - {alice_pub}\n      - {carol_pub}\n      - {x_pub}\n"),
    );
    for (label, made_for) in [("ssh", carol_pub.as_str()), ("x25519", x_pub.as_str())] {
        let file = format!("{label}.yaml");
        sb.write(&file, secret("s", "x"));
        ok(run(sb.kseal().args([
            "encrypt", "-i", "--age", &alice_pub, "--age", &evil_pub, &file,
        ])));
        let text = read(&sb.path(&file));
        assert!(text.contains("kseal_mac: v1:"));
        let evil: String = text
            .replace(&evil_pub, made_for)
            .split_inclusive('\n')
            .filter(|l| !l.trim_start().starts_with("kseal_mac:"))
            .collect();
        sb.write(&file, &evil);
        let alice_s = alice.to_str().unwrap();
        for args in [
            vec!["decrypt", "--identity", alice_s, &file],
            vec![
                "set",
                "--identity",
                alice_s,
                &file,
                "token",
                "--value",
                "bmV3",
            ],
            vec!["updatekeys", "-y", "--identity", alice_s, &file],
            vec!["rotate", "--identity", alice_s, &file],
            vec!["exec-env", "--identity", alice_s, &file, "--", "true"],
        ] {
            let o = run(sb.kseal().args(&args));
            assert_eq!(code(&o), Some(6), "{label}: {args:?}: {}", stderr(&o));
            // updatekeys and rotate print their per-file summary; no value anywhere.
            let out = stdout(&o);
            assert!(
                out.is_empty() || matches!(args[0], "updatekeys" | "rotate"),
                "{label}: {args:?}: {out}"
            );
            assert!(!out.contains("czNjcjN0") && !out.contains("admin"), "{out}");
            let e = stderr(&o);
            let says = if label == "ssh" {
                "is for another key"
            } else {
                "is for an SSH key"
            };
            assert!(
                e.contains(&file) && e.contains(says),
                "{label}: {args:?}: {e}"
            );
            assert!(!e.contains("czNjcjN0") && !e.contains("admin"), "{e}");
            assert_eq!(read(&sb.path(&file)), evil, "{label}: {args:?} wrote");
        }
        let o = run(sb.kseal().args(["status", "--identity", alice_s, &file]));
        assert_eq!(code(&o), Some(6), "{label}: status: {}", stdout(&o));
        // The policy gate says so too, without any key.
        let o = run(sb.kseal().args(["check", &file]));
        assert_eq!(code(&o), Some(10), "{label}: check: {}", stdout(&o));
        let out = stdout(&o);
        assert!(
            out.contains("envelope-mislabelled") && out.contains(says_of(label)),
            "{label}: check: {out}"
        );
        // The X25519 key's own identity is refused the same way: the check needs no key.
        let o = run(sb
            .kseal()
            .args(["decrypt", "--identity", x_key.to_str().unwrap(), &file]));
        assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    }
}

/// What the refusal of a relabelled envelope says, by the kind of key it was made for.
fn says_of(label: &str) -> &'static str {
    if label == "ssh" {
        "is for another key"
    } else {
        "is for an SSH key"
    }
}

/// The indentation of an envelope's lines in `file`.
fn pad_of(envelope: &str, file: &str) -> String {
    let second = envelope.lines().nth(1).unwrap();
    let at = file.find(second).unwrap();
    let line_start = file[..at].rfind('\n').unwrap() + 1;
    file[line_start..at].to_string()
}

/// An envelope as it appears in a YAML block, from its first character on.
fn reindent(envelope: &str, pad: &str) -> String {
    envelope
        .lines()
        .map(|l| format!("{pad}{l}\n"))
        .collect::<String>()
        .trim_start()
        .to_string()
}

#[test]
fn passphrase_protected_ssh_keys_prompt_once_on_the_terminal() {
    let sb = Sandbox::new();
    let (ed, ed_pub) = ssh_keygen(&sb, "id_ed25519", "ed25519", "ssh pass 1");
    let (rsa, rsa_pub) = ssh_keygen(&sb, "id_rsa", "rsa", "ssh pass 2");
    for f in ["dir/a.yaml", "dir/b.yaml"] {
        sb.write(f, secret("s", "x"));
        ok(run(sb.kseal().args(["encrypt", "-i", "--age", &ed_pub, f])));
    }
    sb.write("r.yaml", secret("r", "x"));
    ok(run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", &rsa_pub, "r.yaml"])));

    // Two files for the same key: one prompt for the whole run.
    let (rc, shown) = on_terminal(
        &sb,
        &[("KSEAL_AGE_SSH_PRIVATE_KEY_FILE", ed.to_str().unwrap())],
        &format!("{} decrypt dir > out.yaml", kseal_bin()),
        &[("Enter passphrase for SSH key", "ssh pass 1")],
    );
    assert_eq!(rc, Some(0), "{shown}");
    assert_eq!(shown.matches("Enter passphrase").count(), 1, "{shown}");
    assert!(
        !shown.contains("ssh pass"),
        "the passphrase was echoed: {shown}"
    );
    assert_eq!(
        read(&sb.path("out.yaml")),
        format!("{}---\n{}", secret("s", "x"), secret("s", "x"))
    );
    let (rc, shown) = on_terminal(
        &sb,
        &[],
        &format!(
            "{} decrypt --identity {} r.yaml > r.out",
            kseal_bin(),
            q(&rsa)
        ),
        &[("Enter passphrase for SSH key", "ssh pass 2")],
    );
    assert_eq!(rc, Some(0), "{shown}");
    assert_eq!(read(&sb.path("r.out")), secret("r", "x"));

    // Without a terminal: a clear error, nothing on stdout.
    let o = run(kseal_without_terminal(&sb)
        .args(["decrypt", "--identity"])
        .arg(&rsa)
        .arg("r.yaml"));
    assert_eq!(code(&o), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("passphrase-protected") && stderr(&o).contains("no terminal"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}

#[test]
fn passphrase_protected_identity_file_from_keygen() {
    let sb = Sandbox::new();
    let id = sb.path("prot.age");
    let (rc, shown) = on_terminal(
        &sb,
        &[],
        &format!("{} keygen --passphrase -o {}", kseal_bin(), q(&id)),
        &[
            ("Enter a passphrase for the new identity", "correct horse"),
            ("Enter the same passphrase again", "correct horse"),
        ],
    );
    assert_eq!(rc, Some(0), "{shown}");
    let recipient = shown
        .lines()
        .find_map(|l| l.strip_prefix("Public key: "))
        .expect("recipient shown")
        .trim()
        .to_string();
    let text = read(&id);
    assert!(
        text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"),
        "{text}"
    );
    assert!(!text.contains("AGE-SECRET-KEY"));
    assert_eq!(
        std::fs::metadata(&id).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Go age decrypts the identity file with the passphrase: it is `age -p` format.
    let (rc, shown) = on_terminal(
        &sb,
        &[],
        &format!("{} -d {} > plain-id.txt", require("age").display(), q(&id)),
        &[("passphrase", "correct horse")],
    );
    assert_eq!(rc, Some(0), "{shown}");
    assert!(read(&sb.path("plain-id.txt")).contains(&format!("# public key: {recipient}")));

    sb.write("s.yaml", secret("s", "x"));
    ok(run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", &recipient, "s.yaml"])));
    let (rc, shown) = on_terminal(
        &sb,
        &[],
        &format!(
            "{} decrypt --identity {} s.yaml > out.yaml",
            kseal_bin(),
            q(&id)
        ),
        &[("Enter passphrase for identity file", "correct horse")],
    );
    assert_eq!(rc, Some(0), "{shown}");
    assert_eq!(read(&sb.path("out.yaml")), secret("s", "x"));
    // sops asks for the passphrase too, and opens the file.
    let (rc, shown) = on_terminal(
        &sb,
        &[("SOPS_AGE_KEY_FILE", id.to_str().unwrap())],
        "sops decrypt s.yaml > sops-out.yaml",
        &[("passphrase", "correct horse")],
    );
    assert_eq!(rc, Some(0), "{shown}");
    assert!(read(&sb.path("sops-out.yaml")).contains("password: czNjcjN0"));

    // A wrong passphrase, and no terminal: clear errors, no output.
    let (rc, shown) = on_terminal(
        &sb,
        &[],
        &format!(
            "{} decrypt --identity {} s.yaml > wrong.yaml",
            kseal_bin(),
            q(&id)
        ),
        &[("Enter passphrase for identity file", "wrong horse")],
    );
    assert_eq!(rc, Some(5), "{shown}");
    assert!(shown.contains("wrong passphrase"), "{shown}");
    assert_eq!(read(&sb.path("wrong.yaml")), "");
    let o = run(kseal_without_terminal(&sb)
        .args(["decrypt", "--identity"])
        .arg(&id)
        .arg("s.yaml"));
    assert_eq!(code(&o), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("passphrase-protected identity file")
            && stderr(&o).contains("no terminal"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
    let o = run(kseal_without_terminal(&sb).args(["keygen", "--passphrase", "-o", "x.age"]));
    assert_eq!(code(&o), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("no terminal"), "{}", stderr(&o));
    assert!(!sb.path("x.age").exists());
    // Two different answers: nothing is written.
    let (rc, shown) = on_terminal(
        &sb,
        &[],
        &format!("{} keygen --passphrase -o y.age", kseal_bin()),
        &[
            ("Enter a passphrase for the new identity", "one"),
            ("Enter the same passphrase again", "two"),
        ],
    );
    assert_eq!(rc, Some(2), "{shown}");
    assert!(shown.contains("the two passphrases differ"), "{shown}");
    assert!(!sb.path("y.age").exists());
}

// ---------------------------------------------------------------------------------------------
// Plugins and key commands

/// Builds the test plugin (an example of this package) once and returns its path.
fn test_plugin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            // target/<profile>/deps/lifecycle-HASH -> target/<profile>/examples/
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
            let bin = profile_dir.join("examples/age-plugin-ksealtest");
            let mut cmd = Command::new(env!("CARGO"));
            cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
                .args([
                    "build",
                    "--quiet",
                    "--offline",
                    "--example",
                    "age-plugin-ksealtest",
                ])
                .arg("--target-dir")
                .arg(profile_dir.parent().unwrap());
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let o = cmd.output().expect("cargo");
            assert!(
                o.status.success(),
                "building the test plugin: {}",
                stderr(&o)
            );
            assert!(bin.is_file(), "{} was not built", bin.display());
            bin
        })
        .clone()
}

/// A PATH with the test plugin's directory first.
fn path_with_plugin(sb: &Sandbox) -> String {
    let dir = sb.path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("age-plugin-ksealtest");
    if !link.exists() {
        std::os::unix::fs::symlink(test_plugin(), &link).unwrap();
    }
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn a_plugin_on_path_works_as_recipient_and_identity() {
    let sb = Sandbox::new();
    let path = path_with_plugin(&sb);
    let new_identity = || {
        let o = run(&mut sb.tool(sb.path("bin/age-plugin-ksealtest").to_str().unwrap()));
        let text = ok(o);
        let recipient = text
            .lines()
            .find_map(|l| l.strip_prefix("# recipient: "))
            .unwrap()
            .to_string();
        (text, recipient)
    };
    let (id_text, recipient) = new_identity();
    assert!(recipient.starts_with("age1ksealtest1"), "{recipient}");
    let id = sb.write("plugin-id.txt", &id_text);
    let (other_text, _) = new_identity();
    let other = sb.write("other-id.txt", &other_text);
    let x = age_key(&sb, "x");

    sb.write("s.yaml", secret("s", "x"));
    let o = run(sb.kseal().env("PATH", &path).args([
        "encrypt",
        "-i",
        "--age",
        &format!("{recipient},{}", x.recipient),
        "s.yaml",
    ]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let enc = read(&sb.path("s.yaml"));
    assert_eq!(recipients(&enc), [recipient.as_str(), x.recipient.as_str()]);
    let o = run(sb
        .kseal()
        .env("PATH", &path)
        .args(["decrypt", "--identity"])
        .arg(&id)
        .arg("s.yaml"));
    assert_eq!(ok(o), secret("s", "x"));
    // sops and Go age use the same plugin and identity.
    let o = run(sb
        .tool("sops")
        .env("PATH", &path)
        .env("SOPS_AGE_KEY_FILE", &id)
        .args(["decrypt", "s.yaml"]));
    assert!(ok(o).contains("password: czNjcjN0"));
    let key = {
        let mut child = sb
            .tool("age")
            .env("PATH", &path)
            .args(["-d", "-i"])
            .arg(&id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(enc_for(&enc, &recipient).as_bytes())
            .unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        o.stdout
    };
    assert_eq!(key.len(), 32);
    // Another identity of the same plugin does not open it.
    let o = run(sb
        .kseal()
        .env("PATH", &path)
        .args(["decrypt", "--identity"])
        .arg(&other)
        .arg("s.yaml"));
    assert_eq!(code(&o), Some(5), "{}", stderr(&o));
    // Rotating wraps the new data key through the plugin once a flag names it (issue 19: a
    // plugin recipient found only in the file, with no .sops.yaml rule, is refused).
    let rotate = |extra: &[&str]| {
        run(sb
            .kseal()
            .env("PATH", &path)
            .args(["rotate", "s.yaml", "--identity"])
            .arg(&x.file)
            .args(["--rm-age", &x.recipient])
            .args(extra))
    };
    let o = rotate(&[]);
    assert_eq!(code(&o), Some(8), "{}", stderr(&o));
    // The way out names rotate's flags (worded by the binary, src/hints.rs).
    assert!(
        stderr(&o).contains("hint: name it with --add-age (or --keep-unknown-recipients)"),
        "{}",
        stderr(&o)
    );
    let o = rotate(&["--add-age", recipient.as_str()]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(recipients(&read(&sb.path("s.yaml"))), [recipient.as_str()]);
    let o = run(sb
        .kseal()
        .env("PATH", &path)
        .args(["decrypt", "--identity"])
        .arg(&id)
        .arg("s.yaml"));
    assert_eq!(ok(o), secret("s", "x"));

    // Without the plugin on PATH: a clear error naming it.
    sb.write("t.yaml", secret("t", "x"));
    let o = run(sb
        .kseal()
        .env("PATH", "/usr/bin:/bin")
        .args(["encrypt", "--age", &recipient, "t.yaml"]));
    assert_eq!(code(&o), Some(8), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("age-plugin-ksealtest is not installed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn key_commands_print_identities() {
    let sb = Sandbox::new();
    let k = age_key(&sb, "alice");
    let spaced = sb.path("my keys/alice.txt");
    std::fs::create_dir_all(spaced.parent().unwrap()).unwrap();
    std::fs::rename(&k.file, &spaced).unwrap();
    sb.write("s.yaml", secret("s", "x"));
    ok(run(sb.kseal().args([
        "encrypt",
        "-i",
        "--age",
        &k.recipient,
        "s.yaml",
    ])));
    let cmd = format!("cat '{}'", spaced.display());
    for var in ["KSEAL_AGE_KEY_CMD", "SOPS_AGE_KEY_CMD"] {
        let o = run(sb.kseal().env(var, &cmd).args(["decrypt", "s.yaml"]));
        assert_eq!(ok(o), secret("s", "x"), "{var}");
    }
    // sops reads the same variable.
    let o = run(sb
        .tool("sops")
        .env("SOPS_AGE_KEY_CMD", &cmd)
        .args(["decrypt", "s.yaml"]));
    assert!(ok(o).contains("password: czNjcjN0"));
    // A failing command is reported (by program name only) when nothing else opens the file.
    let o = run(sb
        .kseal()
        .env(
            "KSEAL_AGE_KEY_CMD",
            "sh -c 'exit 7' AGE-SECRET-KEY-1NOTREALLYSECRET",
        )
        .args(["decrypt", "s.yaml"]));
    assert_eq!(code(&o), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("KSEAL_AGE_KEY_CMD (sh) failed (exit status 7)"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("NOTREALLYSECRET"));
    // ...and does not matter when another identity opens it.
    let o = run(sb
        .kseal()
        .env("KSEAL_AGE_KEY_CMD", "false")
        .env("SOPS_AGE_KEY_CMD", &cmd)
        .args(["decrypt", "s.yaml"]));
    assert_eq!(ok(o), secret("s", "x"));
}

/// A `.sops.yaml` rule naming a post-quantum recipient (a ~2,000-character line, as a string or
/// in a list) is used by `encrypt` and `updatekeys`; the PQ identity then opens the file.
#[test]
fn post_quantum_recipient_in_a_rule() {
    let sb = Sandbox::new();
    let x = age_key(&sb, "x");
    let pq_file = sb.path("keys/pq.txt");
    let o = run(sb.kseal().args(["keygen", "--pq", "-o"]).arg(&pq_file));
    assert!(o.status.success(), "{}", stderr(&o));
    let pq = stderr(&o)
        .trim()
        .strip_prefix("Public key: ")
        .unwrap()
        .to_string();
    assert!(pq.starts_with("age1pq1"));
    write_config(&sb, &format!("  - age: {pq}\n"));
    sb.write("s.yaml", secret("s", "x"));
    let o = run(sb.kseal().args(["encrypt", "-i", "s.yaml"]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(recipients(&read(&sb.path("s.yaml"))), [pq.as_str()]);

    write_config(
        &sb,
        &format!("  - age:\n      - {pq}\n      - {}\n", x.recipient),
    );
    let o = run(sb
        .kseal()
        .args(["updatekeys", "-y", "s.yaml", "--identity"])
        .arg(&pq_file));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(
        recipients(&read(&sb.path("s.yaml"))),
        [pq.as_str(), x.recipient.as_str()]
    );
    for key in [&pq_file, &x.file] {
        let o = run(sb
            .kseal()
            .args(["decrypt", "s.yaml", "--identity"])
            .arg(key));
        assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    }
    // status shortens the PQ recipient; --json gives it whole.
    let o = run(sb.kseal().args(["status", "--no-verify", "s.yaml"]));
    assert!(!stdout(&o).contains(&pq), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!("{}...", &pq[..23])),
        "{}",
        stdout(&o)
    );
    let o = run(sb
        .kseal()
        .args(["status", "--no-verify", "--json", "s.yaml"]));
    assert!(stdout(&o).contains(&pq), "{}", stdout(&o));
}

// ---------------------------------------------------------------------------------------------
// key groups (Shamir secret sharing)

/// Identity flags for the keys of `pick`.
fn identity_args(keys: &[Key], pick: &[usize]) -> Vec<String> {
    pick.iter()
        .flat_map(|&i| ["--identity".to_string(), keys[i].file.display().to_string()])
        .collect()
}

/// A `.sops.yaml` rule splitting the data key over `groups` (indexes into `keys`).
fn group_rule(keys: &[Key], groups: &[&[usize]], threshold: usize) -> String {
    let mut rule = format!("  - shamir_threshold: {threshold}\n    key_groups:\n");
    for g in groups {
        let list: Vec<&str> = g.iter().map(|&i| keys[i].recipient.as_str()).collect();
        rule.push_str(&format!("      - age: [{}]\n", list.join(", ")));
    }
    rule
}

/// Files the real sops wrote with 2 and 3 key groups and thresholds 2 and 3 open in kseal
/// with the keys of enough groups (the same text as sops prints), and fail with fewer: exit 5,
/// nothing on stdout, a message naming how many groups opened and how many are needed.
#[test]
fn sops_key_group_files_open_with_enough_groups() {
    let sb = Sandbox::new();
    let keys: Vec<Key> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| age_key(&sb, n))
        .collect();
    sb.write("s.yaml", secret("s", "x"));
    // (groups, threshold); key 3 (d) shares the second group of the first file with b.
    let cases: [(&[&[usize]], usize); 3] = [
        (&[&[0], &[1, 3]], 2),
        (&[&[0], &[1], &[2]], 2),
        (&[&[0], &[1], &[2]], 3),
    ];
    for (groups, threshold) in cases {
        write_config(&sb, &group_rule(&keys, groups, threshold));
        let enc = ok(run(sb.tool("sops").args(["encrypt", "s.yaml"])));
        assert!(
            enc.contains(&format!("shamir_threshold: {threshold}")),
            "{enc}"
        );
        sb.write("g.yaml", &enc);
        let all: Vec<usize> = (0..keys.len()).collect();
        let expected = ok(run(sb
            .tool("sops")
            .env("SOPS_AGE_KEY", all_keys(&keys))
            .args(["decrypt", "g.yaml"])));
        // Every subset of the keys.
        for mask in 1u32..(1 << keys.len()) {
            let pick: Vec<usize> = all
                .iter()
                .copied()
                .filter(|i| mask & (1 << i) != 0)
                .collect();
            let opened = groups
                .iter()
                .filter(|g| g.iter().any(|k| pick.contains(k)))
                .count();
            let o = run(sb
                .kseal()
                .arg("decrypt")
                .args(identity_args(&keys, &pick))
                .arg("g.yaml"));
            let case = format!("{groups:?} threshold {threshold}, keys {pick:?}");
            if opened >= threshold {
                assert_eq!(ok(o), expected, "{case}");
            } else {
                assert_eq!(code(&o), Some(5), "{case}: {}", stderr(&o));
                assert!(o.stdout.is_empty(), "{case}");
                let want = format!(
                    "split over {} key groups and any {threshold} of them open it; {opened} opened",
                    groups.len()
                );
                assert!(stderr(&o).contains(&want), "{case}: {}", stderr(&o));
            }
        }
    }
    // sops refuses a threshold of 1 with several groups (one share would be the key).
    write_config(&sb, &group_rule(&keys, &[&[0], &[1]], 1));
    let o = run(sb.tool("sops").args(["encrypt", "s.yaml"]));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("threshold must be at least 2"),
        "{}",
        stderr(&o)
    );
}

/// Every key's identity, one per line (for `SOPS_AGE_KEY`).
fn all_keys(keys: &[Key]) -> String {
    keys.iter()
        .map(|k| read(&k.file))
        .collect::<Vec<_>>()
        .join("\n")
}

/// sops >= 3.12: a key command runs for each recipient tried with `SOPS_AGE_RECIPIENT` (and
/// kseal's `KSEAL_AGE_RECIPIENT`) naming it. A command that prints the key of the recipient it
/// is asked for opens a file whose two key groups need two different keys; one that ignores
/// the variable and prints one key opens only one group.
#[test]
fn key_commands_are_told_the_recipient() {
    let sb = Sandbox::new();
    let keys: Vec<Key> = ["a", "b"].iter().map(|n| age_key(&sb, n)).collect();
    sb.write("s.yaml", secret("s", "x"));
    write_config(&sb, &group_rule(&keys, &[&[0], &[1]], 2));
    let enc = ok(run(sb.tool("sops").args(["encrypt", "s.yaml"])));
    sb.write("g.yaml", &enc);
    let expected = ok(run(sb
        .tool("sops")
        .env("SOPS_AGE_KEY", all_keys(&keys))
        .args(["decrypt", "g.yaml"])));
    let script = sb.write(
        "pass.sh",
        format!(
            "echo \"$SOPS_AGE_RECIPIENT=$KSEAL_AGE_RECIPIENT\" >> asked.log\ncase \"$SOPS_AGE_RECIPIENT\" in\n  {}) cat '{}' ;;\n  {}) cat '{}' ;;\nesac\n",
            keys[0].recipient,
            keys[0].file.display(),
            keys[1].recipient,
            keys[1].file.display()
        ),
    );
    for var in ["SOPS_AGE_KEY_CMD", "KSEAL_AGE_KEY_CMD"] {
        let _ = std::fs::remove_file(sb.path("asked.log"));
        let o = run(sb
            .kseal()
            .env(var, format!("sh {}", script.display()))
            .args(["decrypt", "g.yaml"]));
        assert_eq!(ok(o), expected, "{var}");
        let asked = read(&sb.path("asked.log"));
        let want: Vec<String> = keys
            .iter()
            .map(|k| format!("{0}={0}", k.recipient))
            .collect();
        assert_eq!(asked.lines().collect::<Vec<_>>(), want, "{var}");
    }
    // A command printing one key whatever it is asked opens one group of two.
    let o = run(sb
        .kseal()
        .env(
            "SOPS_AGE_KEY_CMD",
            format!("cat {}", keys[0].file.display()),
        )
        .args(["decrypt", "g.yaml"]));
    assert_eq!(code(&o), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 opened"), "{}", stderr(&o));
    // With a file with one group, the command is asked for each recipient until one opens.
    let _ = std::fs::remove_file(sb.path("asked.log"));
    let o = run(sb.kseal().args([
        "encrypt",
        "--age",
        &format!("{},{}", keys[1].recipient, keys[0].recipient),
        "s.yaml",
    ]));
    sb.write("one.yaml", ok(o));
    let o = run(sb
        .kseal()
        .env("KSEAL_AGE_KEY_CMD", format!("sh {}", script.display()))
        .args(["decrypt", "one.yaml"]));
    assert_eq!(ok(o), secret("s", "x"));
    assert_eq!(
        read(&sb.path("asked.log")).lines().count(),
        1,
        "the first recipient's key opens: the command is not asked again"
    );
}

// ---------------------------------------------------------------------------------------------
// post-quantum keys: new files from a rule, passphrase-protected PQ identities

/// A `kseal keygen --pq` identity: its file and its `age1pq1...` recipient.
fn pq_key(sb: &Sandbox, name: &str) -> Key {
    let file = sb.path(&format!("keys/{name}.txt"));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let o = run(sb.kseal().args(["keygen", "--pq", "-o"]).arg(&file));
    assert!(o.status.success(), "{}", stderr(&o));
    let recipient = stderr(&o)
        .trim()
        .strip_prefix("Public key: ")
        .expect("recipient on stderr")
        .to_string();
    assert!(recipient.starts_with("age1pq1"));
    Key { file, recipient }
}

/// A `.sops.yaml` rule naming a post-quantum recipient is used by `create` and by `edit` of a
/// new file; the real sops opens both with the PQ identity.
#[test]
fn post_quantum_rule_for_create_and_edit_of_a_new_file() {
    let sb = Sandbox::new();
    let pq = pq_key(&sb, "pq");
    write_config(
        &sb,
        &format!("  - path_regex: \\.yaml$\n    age: {}\n", pq.recipient),
    );
    ok(run(sb.kseal().args([
        "create",
        "generic",
        "db",
        "--from-literal=password=s3cr3t",
        "-o",
        "created.yaml",
    ])));
    std::fs::create_dir(sb.path("buf")).unwrap();
    let ed = sb.write(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/password: change-me/password: n3w-pass/' \"$1\"\n",
    );
    std::fs::set_permissions(&ed, std::fs::Permissions::from_mode(0o755)).unwrap();
    ok(run(sb
        .kseal()
        .args(["edit", "edited.yaml"])
        .env("EDITOR", &ed)
        .env("KSEAL_TMPDIR", sb.path("buf"))));
    for (file, want) in [
        ("created.yaml", "password: czNjcjN0"),
        ("edited.yaml", "password: n3w-pass"),
    ] {
        let text = read(&sb.path(file));
        assert_eq!(recipients(&text), [pq.recipient.as_str()], "{file}");
        let o = run(sb
            .kseal()
            .args(["decrypt", file, "--identity"])
            .arg(&pq.file));
        assert!(ok(o).contains(want), "{file}");
        let o = run(sb
            .tool("sops")
            .env("SOPS_AGE_KEY_FILE", &pq.file)
            .args(["decrypt", file]));
        assert!(ok(o).contains(want), "sops {file}");
    }
}

/// A passphrase-protected identity file holding a post-quantum identity (`keygen --pq
/// --passphrase`) opens a PQ file after the passphrase is typed, in kseal and in sops.
#[test]
fn passphrase_protected_post_quantum_identity() {
    let sb = Sandbox::new();
    let id = sb.path("pq.age");
    let (rc, shown) = on_terminal(
        &sb,
        &[],
        &format!("{} keygen --pq --passphrase -o {}", kseal_bin(), q(&id)),
        &[
            ("Enter a passphrase for the new identity", "pq horse"),
            ("Enter the same passphrase again", "pq horse"),
        ],
    );
    assert_eq!(rc, Some(0), "{shown}");
    let recipient: String = shown
        .split("Public key: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("recipient shown")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    assert!(recipient.starts_with("age1pq1"), "{shown}");
    let text = read(&id);
    assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
    assert!(!text.contains("AGE-SECRET-KEY"));

    sb.write("s.yaml", secret("s", "x"));
    let o = run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", &recipient, "s.yaml"]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let (rc, shown) = on_terminal(
        &sb,
        &[],
        &format!(
            "{} decrypt --identity {} s.yaml > out.yaml",
            kseal_bin(),
            q(&id)
        ),
        &[("Enter passphrase for identity file", "pq horse")],
    );
    assert_eq!(rc, Some(0), "{shown}");
    assert_eq!(read(&sb.path("out.yaml")), secret("s", "x"));
    let (rc, shown) = on_terminal(
        &sb,
        &[("SOPS_AGE_KEY_FILE", id.to_str().unwrap())],
        "sops decrypt s.yaml > sops-out.yaml",
        &[("passphrase", "pq horse")],
    );
    assert_eq!(rc, Some(0), "{shown}");
    assert!(read(&sb.path("sops-out.yaml")).contains("password: czNjcjN0"));
}

/// The `key_groups` of a file kseal wrote (two-space indentation): the text before the first
/// group, each group's lines, and the text after the last.
fn split_groups(text: &str) -> (String, Vec<String>, String) {
    let start = text.find("  key_groups:\n").expect("key groups") + "  key_groups:\n".len();
    let rest = &text[start..];
    let end = rest
        .lines()
        .scan(0, |at, l| {
            let here = *at;
            *at += l.len() + 1;
            Some((here, l))
        })
        .find(|(_, l)| !l.starts_with("    "))
        .map(|(at, _)| at)
        .unwrap();
    let mut groups: Vec<String> = Vec::new();
    for l in rest[..end].lines() {
        if l == "    - hc_vault: []" {
            groups.push(String::new());
        }
        groups.last_mut().unwrap().push_str(&format!("{l}\n"));
    }
    (text[..start].to_string(), groups, rest[end..].to_string())
}

/// A group's `enc` text (its lines after `enc: |`).
fn group_enc(group: &str) -> &str {
    &group[group.find("enc: |\n").unwrap() + "enc: |\n".len()..]
}

/// kseal writes key groups from a `.sops.yaml` rule (encrypt and create): the real sops opens
/// the result with the keys of any two of three groups and not with one; the tamper rows for
/// group files fail cleanly.
#[test]
fn kseal_key_group_files_open_in_sops_exactly_when_they_should() {
    let sb = Sandbox::new();
    let keys: Vec<Key> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| age_key(&sb, n))
        .collect();
    sb.write("s.yaml", secret("s", "x"));
    write_config(&sb, &group_rule(&keys, &[&[0, 3], &[1], &[2]], 2));
    let enc = ok(run(sb.kseal().args(["encrypt", "s.yaml"])));
    assert!(
        enc.contains("  shamir_threshold: 2\n  key_groups:\n"),
        "{enc}"
    );
    sb.write("g.yaml", &enc);
    ok(run(sb.kseal().args([
        "create",
        "generic",
        "db",
        "--from-literal=password=s3cr3t",
        "-o",
        "created.yaml",
    ])));
    let groups = [[0, 3].as_slice(), &[1], &[2]];
    for (file, want) in [
        ("g.yaml", "password: czNjcjN0"),
        ("created.yaml", "password: czNjcjN0"),
    ] {
        for mask in 1u32..(1 << keys.len()) {
            let pick: Vec<usize> = (0..keys.len()).filter(|i| mask & (1 << i) != 0).collect();
            let opened = groups
                .iter()
                .filter(|g| g.iter().any(|k| pick.contains(k)))
                .count();
            let ids: Vec<String> = pick.iter().map(|&i| read(&keys[i].file)).collect();
            let o = run(sb
                .tool("sops")
                .env("SOPS_AGE_KEY", ids.join("\n"))
                .args(["decrypt", file]));
            assert_eq!(
                o.status.success(),
                opened >= 2,
                "sops {file} {pick:?}: {}",
                stderr(&o)
            );
            let k = run(sb
                .kseal()
                .arg("decrypt")
                .args(identity_args(&keys, &pick))
                .arg(file));
            assert_eq!(
                code(&k) == Some(0),
                opened >= 2,
                "kseal {file} {pick:?}: {}",
                stderr(&k)
            );
            if opened >= 2 {
                assert!(
                    stdout(&o).contains(want) && stdout(&k).contains(want),
                    "{file}"
                );
            }
        }
    }

    // Tamper rows. Every key is given: only the file's own checks can refuse it.
    let all = identity_args(&keys, &[0, 1, 2, 3]);
    let (head, g, tail) = split_groups(&enc);
    let decrypt = |name: &str, text: &str| {
        sb.write(name, text);
        run(sb.kseal().arg("decrypt").args(&all).arg(name))
    };
    // The threshold changed (lowered or raised): the structural MAC covers it.
    for t in ["1", "3"] {
        let text = enc.replace("shamir_threshold: 2", &format!("shamir_threshold: {t}"));
        let o = decrypt("t.yaml", &text);
        assert_eq!(code(&o), Some(6), "threshold {t}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    // More groups needed than the file has.
    let o = decrypt(
        "t.yaml",
        &enc.replace("shamir_threshold: 2", "shamir_threshold: 4"),
    );
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    assert!(stderr(&o).contains("more than it has"), "{}", stderr(&o));
    // A group removed.
    let o = decrypt("t.yaml", &format!("{head}{}{}{tail}", g[0], g[1]));
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    // One group's share copied over another's: the same share twice.
    let copied = g[2].replace(group_enc(&g[2]), group_enc(&g[1]));
    let o = decrypt("t.yaml", &format!("{head}{}{}{copied}{tail}", g[0], g[1]));
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    assert!(stderr(&o).contains("same Shamir share"), "{}", stderr(&o));
    // A share from another file's data key in one group: a wrong key, refused.
    let other = ok(run(sb.kseal().args(["encrypt", "s.yaml"])));
    let (_, og, _) = split_groups(&other);
    let foreign = g[1].replace(group_enc(&g[1]), group_enc(&og[1]));
    let o = decrypt("t.yaml", &format!("{head}{}{foreign}{}{tail}", g[0], g[2]));
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    // Two groups' shares swapped: each share carries its own x coordinate, so the data key
    // and the file are unchanged; kseal and sops both open it.
    let a = g[1].replace(group_enc(&g[1]), group_enc(&g[2]));
    let b = g[2].replace(group_enc(&g[2]), group_enc(&g[1]));
    let o = decrypt("t.yaml", &format!("{head}{}{a}{b}{tail}", g[0]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));

    // status shows the groups and the threshold (--json too) and compares them with the rule.
    let o = run(sb.kseal().args(["status", "--no-verify", "g.yaml"]));
    let text = ok(o);
    assert!(text.contains("  key groups: any 2 of 3: ["), "{text}");
    assert!(text.contains("rules: up to date"), "{text}");
    let o = run(sb
        .kseal()
        .args(["status", "--no-verify", "--json", "g.yaml"]));
    let json = ok(o);
    assert!(json.contains("\"shamir_threshold\": 2"), "{json}");
    assert!(
        json.contains(&format!(
            "\"key_groups\": [[\"{}\", \"{}\"], [\"{}\"], [\"{}\"]]",
            keys[0].recipient, keys[3].recipient, keys[1].recipient, keys[2].recipient
        )),
        "{json}"
    );
    write_config(&sb, &group_rule(&keys, &[&[0, 3], &[1], &[2]], 3));
    let text = ok(run(sb.kseal().args(["status", "--no-verify", "g.yaml"])));
    assert!(
        text.contains("shamir_threshold is 2, .sops.yaml says 3"),
        "{text}"
    );
    // updatekeys and rotate keep the groups: tests/cli/keygroups.rs.
}

/// The key-group recipe of docs/keys.md, as written (placeholders replaced by real keys): kseal
/// encrypts a file under `prod/` to it; sops opens it with two owners' keys and not with one.
#[test]
fn docs_key_group_recipe() {
    let sb = Sandbox::new();
    let doc = read(&crate::common::repo().join("docs/keys.md"));
    let at = doc
        .find("### Key groups: any two of three owners")
        .expect("the recipe in docs/keys.md");
    let block = &doc[at..];
    let start = block.find("```yaml\n").unwrap() + "```yaml\n".len();
    let mut config = block[start..start + block[start..].find("```").unwrap()].to_string();
    let keys: Vec<Key> = ["alice", "bob", "bob-laptop", "carol"]
        .iter()
        .map(|n| age_key(&sb, n))
        .collect();
    // Longest placeholder first (`age1bob-laptop...` contains `age1bob`).
    for (i, name) in [(2, "bob-laptop"), (0, "alice"), (1, "bob"), (3, "carol")] {
        config = config.replace(&format!("age1{name}..."), &keys[i].recipient);
    }
    assert!(!config.contains("..."), "{config}");
    sb.write(".sops.yaml", &config);
    sb.write("prod/s.yaml", secret("s", "x"));
    let o = run(sb.kseal().args(["encrypt", "-i", "prod/s.yaml"]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    for (pick, opens) in [(vec![0, 3], true), (vec![2, 3], true), (vec![1, 2], false)] {
        let ids: Vec<String> = pick.iter().map(|&i: &usize| read(&keys[i].file)).collect();
        let o = run(sb
            .tool("sops")
            .env("SOPS_AGE_KEY", ids.join("\n"))
            .args(["decrypt", "prod/s.yaml"]));
        assert_eq!(o.status.success(), opens, "{pick:?}: {}", stderr(&o));
    }
}
