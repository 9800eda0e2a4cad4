//! CLI tests of `kseal keygen` (file format, 0600, no overwrite, stdout), its interop with the
//! Go age CLI and the real sops, and the top-level `--version`, `help` and usage errors.

use crate::common::*;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

/// What an identity file says about itself.
struct Identity {
    created: String,
    public_key: String,
    secret: String,
}

/// Parses age's identity-file format as kseal writes it, asserting its shape.
fn parse_identity(text: &str) -> Identity {
    let lines: Vec<&str> = text.lines().collect();
    let created = lines
        .iter()
        .find_map(|l| l.strip_prefix("# created: "))
        .unwrap_or_else(|| panic!("no `# created: ` line"))
        .to_string();
    let public_key = lines
        .iter()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap_or_else(|| panic!("no `# public key: ` line"))
        .to_string();
    let secrets: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .collect();
    assert_eq!(secrets.len(), 1, "expected one AGE-SECRET-KEY-1 line");
    let secret = secrets[0].to_string();
    assert!(
        public_key.starts_with("age1") && public_key.len() == 62,
        "public key shape"
    );
    assert_eq!(secret.len(), 74, "secret key shape");
    assert!(
        secret[16..]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
        "secret key charset"
    );
    // RFC 3339, UTC: 2006-01-02T15:04:05Z
    let b = created.as_bytes();
    assert!(
        created.len() >= 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && created.ends_with('Z'),
        "created is not RFC 3339: {created}"
    );
    for l in &lines {
        assert!(
            l.starts_with('#') || l.starts_with("AGE-SECRET-KEY-1") || l.is_empty(),
            "unexpected line in the identity file"
        );
    }
    Identity {
        created,
        public_key,
        secret,
    }
}

/// The recipient printed as `Public key: age1...` on stderr.
fn public_key_on_stderr(o: &Output) -> String {
    let err = stderr(o);
    err.lines()
        .find_map(|l| l.strip_prefix("Public key: "))
        .unwrap_or_else(|| panic!("no `Public key:` line on stderr: {err}"))
        .trim()
        .to_string()
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// `kseal keygen -o FILE` in the sandbox; returns the file and its recipient.
fn kseal_keygen(sb: &Sandbox, name: &str) -> (PathBuf, String) {
    let file = sb.path(name);
    let o = run(sb.kseal().arg("keygen").arg("-o").arg(&file));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let r = public_key_on_stderr(&o);
    (file, r)
}

#[test]
fn keygen_writes_a_private_identity_file() {
    let sb = Sandbox::new();
    let file = sb.path("keys/kseal.txt");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    let o = run(sb.kseal().arg("keygen").arg("-o").arg(&file));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "the identity leaked to stdout");
    assert_eq!(mode(&file), 0o600);
    let text = read(&file);
    let id = parse_identity(&text);
    assert!(text.starts_with("# created: "), "{}", id.created);
    assert!(text.ends_with('\n'));
    assert_eq!(public_key_on_stderr(&o), id.public_key);
    assert!(
        !stderr(&o).contains(&id.secret),
        "the secret key is on stderr"
    );

    // Never overwritten: a second run fails and leaves the file as it was.
    let o = run(sb.kseal().arg("keygen").arg("-o").arg(&file));
    assert_ne!(code(&o), Some(0), "keygen overwrote an existing file");
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("kseal.txt"), "{}", stderr(&o));
    assert_eq!(read(&file), text);
    assert_eq!(mode(&file), 0o600);
}

/// A symlink at the output path (even a dangling one) is not followed.
#[test]
fn keygen_does_not_follow_a_symlink() {
    let sb = Sandbox::new();
    let target = sb.path("elsewhere.txt");
    let link = sb.path("k.txt");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = run(sb.kseal().arg("keygen").arg("-o").arg(&link));
    assert_ne!(code(&o), Some(0), "keygen wrote through a symlink");
    assert!(!target.exists(), "keygen created the symlink's target");
}

/// A fresh machine has no `~/.config/sops/age/`: keygen creates it (0700), and the identity
/// written there is found by kseal's default search (and by sops, which reads the same file).
#[test]
fn keygen_creates_the_sops_key_directory_on_a_fresh_machine() {
    let sb = Sandbox::new();
    let file = sb.path(".config/sops/age/keys.txt");
    let o = run(sb.kseal().arg("keygen").arg("-o").arg(&file));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(mode(&file), 0o600);
    for d in [".config", ".config/sops", ".config/sops/age"] {
        assert_eq!(mode(&sb.path(d)), 0o700, "{d}");
    }
    let recipient = public_key_on_stderr(&o);
    let enc = ok(run(sb
        .kseal()
        .args(["encrypt", "--age", &recipient])
        .arg(repo().join("keys-example/secret.yaml"))));
    let enc_file = sb.write("s.enc.yaml", enc);
    let o = run(sb.kseal().arg("decrypt").arg(&enc_file));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let o = run(sb.tool("sops").args(["decrypt"]).arg(&enc_file));
    assert_eq!(code(&o), Some(0), "sops: {}", stderr(&o));

    // An existing directory keeps its mode; a parent that is a file fails with exit 7.
    fs::create_dir(sb.path("shared")).unwrap();
    fs::set_permissions(sb.path("shared"), fs::Permissions::from_mode(0o755)).unwrap();
    ok(run(sb
        .kseal()
        .arg("keygen")
        .arg("-o")
        .arg(sb.path("shared/k.txt"))));
    assert_eq!(mode(&sb.path("shared")), 0o755);
    sb.write("plain", "x");
    let o = run(sb
        .kseal()
        .arg("keygen")
        .arg("-o")
        .arg(sb.path("plain/sub/k.txt")));
    assert_eq!(code(&o), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("plain/sub"), "{}", stderr(&o));
}

#[test]
fn keygen_without_output_prints_the_identity_on_stdout() {
    let sb = Sandbox::new();
    let o = run(sb.kseal().arg("keygen"));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let id = parse_identity(&stdout(&o));
    assert_eq!(public_key_on_stderr(&o), id.public_key);
    // Fresh every time.
    let again = parse_identity(&ok(run(sb.kseal().arg("keygen"))));
    assert_ne!(again.secret, id.secret);
    assert_ne!(again.public_key, id.public_key);
    // Nothing was written in the sandbox (no default key file created).
    assert!(fs::read_dir(sb.dir.path()).unwrap().next().is_none());
}

// ------------------------------------------------------------------------------------------
// Interop with the Go age CLI and the real sops.

#[test]
fn kseal_identity_works_with_the_age_cli() {
    require("age");
    require("age-keygen");
    let sb = Sandbox::new();
    let (key, recipient) = kseal_keygen(&sb, "kseal.txt");
    // age-keygen -y derives the same recipient from kseal's file.
    let y = ok(run(sb.tool("age-keygen").arg("-y").arg(&key)));
    assert_eq!(y.trim(), recipient);

    let plain = sb.write("plain.txt", "attack at dawn\n\u{1F512} binary-safe? yes\n");
    let enc = sb.path("x.age");
    ok(run(sb
        .tool("age")
        .arg("-r")
        .arg(&recipient)
        .arg("-o")
        .arg(&enc)
        .arg(&plain)));
    let back = run(sb.tool("age").arg("-d").arg("-i").arg(&key).arg(&enc));
    assert_eq!(code(&back), Some(0), "{}", stderr(&back));
    assert_eq!(back.stdout, fs::read(&plain).unwrap());
}

/// A small manifest, encrypted by the real sops to `recipient`; returns (plain, encrypted).
fn sops_encrypt(sb: &Sandbox, recipient: &str) -> (PathBuf, PathBuf) {
    require("sops");
    let plain = sb.write(
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  # rotated monthly\n  password: correct-horse-battery-staple\n  port: 5432\ndata:\n  token: dG9rZW4=\n",
    );
    let o = run(sb
        .tool("sops")
        .args(["--disable-version-check", "encrypt", "--age", recipient])
        .args(["--encrypted-regex", "^(data|stringData)$"])
        .arg(&plain));
    let enc = ok(o);
    assert!(enc.contains("ENC[AES256_GCM") && !enc.contains("correct-horse"));
    let enc_file = sb.write("secret.enc.yaml", enc);
    (plain, enc_file)
}

/// kseal decrypts ENC with IDENTITY, and its plaintext equals PLAIN as data.
fn kseal_opens(sb: &Sandbox, identity: &Path, enc: &Path, plain: &Path) {
    let o = run(sb
        .kseal()
        .args(["decrypt", "--identity"])
        .arg(identity)
        .arg(enc));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    require("python3");
    let out = sb.write("kseal-out.yaml", &o.stdout);
    let cmp = run(sb
        .tool("python3")
        .arg(repo().join("tests/support/compare_expected.py"))
        .args([out.as_os_str(), plain.as_os_str()]));
    assert!(
        cmp.status.success(),
        "plaintext differs: {}{}",
        stdout(&cmp),
        stderr(&cmp)
    );
}

#[test]
fn age_keygen_identity_opens_a_sops_file_in_kseal() {
    require("age-keygen");
    let sb = Sandbox::new();
    let key = sb.path("k.txt");
    let o = run(sb.tool("age-keygen").arg("-o").arg(&key));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let recipient = public_key_on_stderr(&o);
    let (plain, enc) = sops_encrypt(&sb, &recipient);
    kseal_opens(&sb, &key, &enc, &plain);
}

#[test]
fn kseal_identity_opens_a_sops_file_in_kseal_and_in_sops() {
    let sb = Sandbox::new();
    let (key, recipient) = kseal_keygen(&sb, "kseal.txt");
    let (plain, enc) = sops_encrypt(&sb, &recipient);
    kseal_opens(&sb, &key, &enc, &plain);
    // sops reads kseal's identity file too.
    let o = run(sb
        .tool("sops")
        .args(["--disable-version-check", "decrypt"])
        .arg(&enc)
        .env("SOPS_AGE_KEY_FILE", &key));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("correct-horse-battery-staple"));
}

// ------------------------------------------------------------------------------------------
// Version, help, usage errors.

#[test]
fn version_is_printed() {
    let sb = Sandbox::new();
    let o = run(sb.kseal().arg("--version"));
    assert_eq!(code(&o), Some(0));
    let version = stdout(&o);
    assert!(version.starts_with("kseal 0.1.0"), "{version}");
    // Built from a git checkout (as here and in CI): the commit, as `git` names it now.
    let head = std::process::Command::new("git")
        .arg("-C")
        .arg(repo())
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let expected = match head {
        Some(c) => format!("kseal {} (commit {c})\n", env!("CARGO_PKG_VERSION")),
        None => format!("kseal {}\n", env!("CARGO_PKG_VERSION")),
    };
    assert_eq!(version, expected);
    // Subcommands print the same.
    let o = run(sb.kseal().args(["status", "--version"]));
    assert_eq!(stdout(&o), expected.replace("kseal ", "kseal-status "));
}

#[test]
fn help_mentions_the_exit_codes() {
    let sb = Sandbox::new();
    let args: [&[&str]; 5] = [
        &["help"],
        &["--help"],
        &["decrypt", "--help"],
        &["keygen", "--help"],
        &["help", "decrypt"],
    ];
    for a in args {
        let o = run(sb.kseal().args(a));
        assert_eq!(code(&o), Some(0), "{a:?}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("Exit codes"), "{a:?}: no exit codes");
        for line in [
            "2   usage error",
            "5   no identity",
            "6   MAC mismatch",
            "9   unsupported",
        ] {
            assert!(out.contains(line), "{a:?}: missing {line:?}");
        }
    }
}

/// The subcommands a help text lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    let Some(at) = help.find("\nCommands:\n") else {
        return Vec::new();
    };
    help[at + 11..]
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// Every subcommand, nested ones included, ends its help with the exit codes; no help text
/// sends an installed user to a docs/ file that only a source checkout has.
#[test]
fn every_subcommand_help_has_the_exit_codes() {
    let sb = Sandbox::new();
    let top = ok(run(sb.kseal().arg("--help")));
    let mut todo: Vec<Vec<String>> = subcommands(&top).into_iter().map(|c| vec![c]).collect();
    let mut seen = 0;
    while let Some(path) = todo.pop() {
        let o = run(sb.kseal().args(&path).arg("--help"));
        assert_eq!(code(&o), Some(0), "{path:?}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(
            out.contains("\nExit codes:\n"),
            "{path:?}: no exit codes in\n{out}"
        );
        assert!(
            !out.contains("docs/"),
            "{path:?}: names a docs/ file:\n{out}"
        );
        for sub in subcommands(&out) {
            let mut p = path.clone();
            p.push(sub);
            todo.push(p);
        }
        seen += 1;
    }
    assert!(seen >= 25, "only {seen} help texts");
    let check = ok(run(sb.kseal().args(["check", "--help"])));
    assert!(check.contains("unencrypted-secret") && check.contains("missing-secret"));
}

#[test]
fn usage_errors_exit_2() {
    let sb = Sandbox::new();
    let args: [&[&str]; 6] = [
        &["--bogus"],
        &["decrypt", "--bogus"],
        &["keygen", "--bogus"],
        &["keygen", "extra-argument"],
        &["no-such-command"],
        &[],
    ];
    for a in args {
        let o = run(sb.kseal().args(a.iter().map(OsStr::new)));
        assert_eq!(code(&o), Some(2), "{a:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{a:?}: usage error on stdout");
        assert!(!stderr(&o).is_empty(), "{a:?}: no message");
    }
}
