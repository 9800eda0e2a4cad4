//! GitOps integrations that run here for real: `kseal git setup` with git's diff textconv and
//! merge driver, `kseal diff`, `kseal check` and its pre-commit hook, `kseal exec-env` /
//! `exec-file`, shell completions and the man page.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// A sandbox with an age identity, its recipient, and a git repository `repo/`.
struct Repo {
    sb: Sandbox,
    key: PathBuf,
    recipient: String,
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\ndata:\n  user: YWRtaW4=\n  password: czNjcjN0\nstringData:\n  host: db.local\n";

impl Repo {
    fn new() -> Repo {
        let sb = Sandbox::new();
        let key = sb.path("key.txt");
        let out = run(sb.kseal().args(["keygen", "-o"]).arg(&key));
        assert!(out.status.success(), "{}", stderr(&out));
        let recipient = stderr(&out)
            .lines()
            .find_map(|l| l.strip_prefix("Public key: "))
            .expect("recipient")
            .trim()
            .to_string();
        std::fs::create_dir_all(sb.path("repo")).unwrap();
        let r = Repo { sb, key, recipient };
        r.git(&["init", "-q", "-b", "main"]);
        r.git(&["config", "user.name", "Test"]);
        r.git(&["config", "user.email", "test@example.com"]);
        r.git(&["config", "commit.gpgsign", "false"]);
        r
    }
    fn dir(&self) -> PathBuf {
        self.sb.path("repo")
    }
    /// A command in the repository with the identity available (git passes the environment
    /// on to the textconv and the merge driver).
    fn cmd(&self, program: &str) -> Command {
        let mut c = if program == "kseal" {
            self.sb.kseal()
        } else {
            self.sb.tool(program)
        };
        c.current_dir(self.dir())
            .env("KSEAL_AGE_KEY_FILE", &self.key)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("EDITOR", self.sb.path("editor.sh"));
        c
    }
    fn git(&self, args: &[&str]) -> String {
        ok(run(self.cmd("git").args(args)))
    }
    fn kseal(&self, args: &[&str]) -> std::process::Output {
        run(self.cmd("kseal").args(args))
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        self.sb.write(&format!("repo/{rel}"), text)
    }
    fn read(&self, rel: &str) -> String {
        read(&self.dir().join(rel))
    }
    fn encrypt_new(&self, rel: &str, text: &str) {
        self.write(rel, text);
        ok(self.kseal(&["encrypt", "-i", "--age", &self.recipient, rel]));
    }
    /// `kseal edit` with a sed expression as the editor.
    fn edit(&self, rel: &str, sed: &str) {
        self.sb.write(
            "editor.sh",
            format!("#!/bin/sh\nsed -i -e '{sed}' \"$1\"\n"),
        );
        make_executable(&self.sb.path("editor.sh"));
        ok(self.kseal(&["edit", rel]));
    }
    fn plain(&self, rel: &str) -> String {
        ok(self.kseal(&["decrypt", rel]))
    }
    /// Every object git stores (blobs, trees, commits), uncompressed.
    fn all_objects(&self) -> String {
        let out = run(self
            .cmd("git")
            .args(["cat-file", "--batch-all-objects", "--batch"]));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn enc_line<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find(|l| l.trim_start().starts_with(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

/// Recursively lists every file under `dir` with its content (for "no plaintext" checks).
fn tree_text(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.push_str(&tree_text(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push_str(&String::from_utf8_lossy(&b));
        }
    }
    out
}

#[test]
fn git_setup_writes_attributes_and_local_config_idempotently() {
    let r = Repo::new();
    r.write(".gitattributes", "*.png binary\n");
    r.git(&["config", "diff.kseal.cachetextconv", "true"]);
    let out = r.kseal(&["git", "setup"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cachetextconv was true"),
        "{}",
        stderr(&out)
    );
    let attrs = r.read(".gitattributes");
    assert!(attrs.starts_with("*.png binary\n"));
    assert!(
        attrs.contains("*.enc.yaml diff=kseal merge=kseal\n"),
        "{attrs}"
    );
    assert!(attrs.contains("*.enc.json diff=kseal merge=kseal\n"));
    ok(r.kseal(&["git", "setup", "--pattern", "secrets/*.yaml"]));
    let again = r.read(".gitattributes");
    assert_eq!(again.matches("*.enc.yaml").count(), 1, "{again}");
    assert!(again.contains("secrets/*.yaml diff=kseal merge=kseal\n"));
    let cfg = r.git(&["config", "--local", "--list"]);
    assert!(cfg.contains("diff.kseal.cachetextconv=false"), "{cfg}");
    assert!(cfg.contains("decrypt --textconv"), "{cfg}");
    assert!(cfg.contains("merge-driver %O %A %B %P"), "{cfg}");
    // Outside a repository there is nothing to read: exit 3 (not a .sops.yaml code).
    let outside = Sandbox::new();
    let out = run(outside.kseal().args(["git", "setup"]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not inside a git repository"),
        "{}",
        stderr(&out)
    );
}

/// Encrypted files that the patterns do not cover are named, with a `--pattern` that would;
/// once covered, setup says nothing more.
#[test]
fn git_setup_names_encrypted_files_its_patterns_leave_out() {
    let r = Repo::new();
    r.encrypt_new("secrets/db.yaml", SECRET);
    r.encrypt_new("secrets/api.yaml", SECRET);
    r.encrypt_new("apps/web/tls.yml", SECRET);
    r.write(
        "apps/web/deploy.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    let out = r.kseal(&["git", "setup"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the patterns cover none of the 3 encrypted files found: git diff shows their ciphertext"),
        "{err}"
    );
    assert!(
        err.contains("\n  apps/web/tls.yml\n  secrets/api.yaml\n  secrets/db.yaml\n"),
        "{err}"
    );
    assert!(!err.contains("deploy.yaml"), "{err}");
    assert!(
        err.contains(
            "hint: kseal git setup --pattern 'apps/web/*.yml' --pattern 'secrets/*.yaml'\n"
        ),
        "{err}"
    );
    // The suggestion, as given, covers them.
    let out = r.kseal(&["git", "setup", "--pattern", "secrets/*.yaml"]);
    assert!(
        stderr(&out).contains("the patterns leave out 1 of the 3 encrypted files found"),
        "{}",
        stderr(&out)
    );
    let out = r.kseal(&["git", "setup", "--pattern", "apps/web/*.yml"]);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", "init"]);
    r.edit("secrets/db.yaml", "s/host: db.local/host: db.prod/");
    assert!(r.git(&["diff"]).contains("+  host: db.prod\n"));
}

#[test]
fn textconv_shows_plaintext_and_never_fails_the_diff() {
    let r = Repo::new();
    ok(r.kseal(&["git", "setup"]));
    r.encrypt_new("db.enc.yaml", SECRET);
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", "init"]);
    r.edit("db.enc.yaml", "s/host: db.local/host: db.prod/");
    let diff = r.git(&["diff"]);
    assert!(
        diff.contains("-  host: db.local\n+  host: db.prod\n"),
        "{diff}"
    );
    // `data` values read decoded, as in `kseal edit`, not as base64.
    ok(r.kseal(&["set", "db.enc.yaml", "password", "--value", "n3w-pass"]));
    let diff = r.git(&["diff"]);
    assert!(
        diff.contains("-  password: s3cr3t\n+  password: n3w-pass\n"),
        "{diff}"
    );
    assert!(diff.contains("   user: admin\n"), "{diff}");
    assert!(!diff.contains("czNjcjN0"), "{diff}");
    // Without a key: the ciphertext and a note, exit 0.
    let out = run(r.cmd("git").env_remove("KSEAL_AGE_KEY_FILE").args(["diff"]));
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("host: ENC[AES256_GCM"), "{text}");
    assert!(!text.contains("db.prod"));
    let direct = run(r.cmd("kseal").env_remove("KSEAL_AGE_KEY_FILE").args([
        "decrypt",
        "--textconv",
        "db.enc.yaml",
    ]));
    assert!(direct.status.success());
    assert!(stdout(&direct).starts_with("# kseal: not decrypted for this diff ("));
    // Plain, tampered and binary files pass through.
    r.write("plain.yaml", "a: 1\n");
    assert_eq!(
        ok(r.kseal(&["decrypt", "--textconv", "plain.yaml"])),
        "a: 1\n"
    );
    let tampered = r
        .read("db.enc.yaml")
        .replace("namespace: prod", "namespace: dev");
    r.write("t.enc.yaml", &tampered);
    let t = ok(r.kseal(&["decrypt", "--textconv", "t.enc.yaml"]));
    assert!(
        t.starts_with("# kseal: not decrypted") && t.contains("MAC"),
        "{t}"
    );
    std::fs::write(
        r.dir().join("bin.enc.yaml"),
        [0xffu8, 0xfe, 0x00, b's', b'o', b'p', b's'],
    )
    .unwrap();
    let out = r.kseal(&["decrypt", "--textconv", "bin.enc.yaml"]);
    assert!(out.status.success());
    assert_eq!(out.stdout, vec![0xffu8, 0xfe, 0x00, b's', b'o', b'p', b's']);
}

/// main changes one key, a branch changes another: git merges through the driver, the
/// result decrypts to both changes, and every value keeps the ciphertext of its side.
#[test]
fn merge_driver_merges_disjoint_changes_with_stable_ciphertext() {
    let r = Repo::new();
    ok(r.kseal(&["git", "setup"]));
    r.encrypt_new("db.enc.yaml", SECRET);
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", "init"]);
    r.git(&["checkout", "-qb", "feature"]);
    r.edit("db.enc.yaml", "s/user: admin/user: root/");
    r.git(&["commit", "-qam", "feature: user"]);
    let feature = r.read("db.enc.yaml");
    r.git(&["checkout", "-q", "main"]);
    r.edit(
        "db.enc.yaml",
        "s/host: db.local/host: db.prod/; s/^  name: db$/  name: db\\n  labels:\\n    app: db/",
    );
    r.git(&["commit", "-qam", "main: host"]);
    let main = r.read("db.enc.yaml");
    let out = run(r.cmd("git").args(["merge", "--no-edit", "feature"]));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let merged = r.read("db.enc.yaml");
    let plain = r.plain("db.enc.yaml");
    assert!(plain.contains("  user: cm9vdA==\n"), "{plain}");
    assert!(plain.contains("  host: db.prod\n"));
    assert!(plain.contains("  labels:\n    app: db\n"));
    assert_eq!(enc_line(&merged, "user"), enc_line(&feature, "user"));
    assert_eq!(enc_line(&merged, "host"), enc_line(&main, "host"));
    assert_eq!(enc_line(&merged, "password"), enc_line(&main, "password"));
    assert!(r.git(&["status", "--porcelain"]).is_empty());
    // sops reads the merged file too.
    let sops = run(r
        .cmd(require("sops").to_str().unwrap())
        .env("SOPS_AGE_KEY_FILE", &r.key)
        .args(["decrypt", "db.enc.yaml"]));
    assert!(sops.status.success(), "{}", stderr(&sops));
}

#[test]
fn merge_conflict_exits_non_zero_and_leaves_no_plaintext() {
    let r = Repo::new();
    ok(r.kseal(&["git", "setup"]));
    r.encrypt_new("db.enc.yaml", SECRET);
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", "init"]);
    r.git(&["checkout", "-qb", "feature"]);
    r.edit(
        "db.enc.yaml",
        "s/password: s3cr3t/password: theirs-pw-4711/",
    );
    r.git(&["commit", "-qam", "feature"]);
    r.git(&["checkout", "-q", "main"]);
    r.edit("db.enc.yaml", "s/password: s3cr3t/password: ours-pw-0815/");
    r.git(&["commit", "-qam", "main"]);
    let ours = r.read("db.enc.yaml");
    let out = run(r.cmd("git").args(["merge", "--no-edit", "feature"]));
    assert!(!out.status.success());
    let err = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        err.contains("Secret prod/db: data.password: changed on both sides"),
        "{err}"
    );
    assert!(!err.contains("pw-"), "{err}");
    assert!(r.git(&["status", "--porcelain"]).contains("UU db.enc.yaml"));
    assert_eq!(r.read("db.enc.yaml"), ours, "our ciphertext stays");
    let everything = format!("{}{}", tree_text(&r.dir()), r.all_objects());
    for secret in ["theirs-pw-4711", "ours-pw-0815", "s3cr3t", "db.local"] {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        assert!(!everything.contains(secret), "plaintext {secret} on disk");
        assert!(!everything.contains(&b64), "base64 of {secret} on disk");
    }
    // The documented resolution works.
    r.git(&["checkout", "--theirs", "db.enc.yaml"]);
    r.git(&["add", "db.enc.yaml"]);
    r.git(&["commit", "-qm", "resolved"]);
    assert!(r
        .plain("db.enc.yaml")
        .contains("password: dGhlaXJzLXB3LTQ3MTE=\n"));
}

#[test]
fn merge_driver_without_key_fails_and_keeps_ours() {
    let r = Repo::new();
    r.encrypt_new("s.enc.yaml", SECRET);
    r.write("base", &r.read("s.enc.yaml"));
    r.write("theirs", &r.read("s.enc.yaml"));
    let before = r.read("s.enc.yaml");
    let out = run(r.cmd("kseal").env_remove("KSEAL_AGE_KEY_FILE").args([
        "merge-driver",
        "base",
        "s.enc.yaml",
        "theirs",
        "s.enc.yaml",
    ]));
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(r.read("s.enc.yaml"), before);
    // Added on both sides (empty base) with different keys: merged.
    r.write("empty", "");
    r.encrypt_new(
        "a.enc.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: \"1\"\n",
    );
    r.encrypt_new(
        "b.enc.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  b: \"2\"\n",
    );
    ok(r.kseal(&[
        "merge-driver",
        "empty",
        "a.enc.yaml",
        "b.enc.yaml",
        "x.enc.yaml",
    ]));
    assert_eq!(
        r.plain("a.enc.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: \"1\"\n  b: \"2\"\n"
    );
}

/// Issue 19, attack 5 through git: someone who can push but holds no key adds their recipient to
/// an encrypted file in a branch (by editing its text: a copy of a stanza, the `kseal_mac`
/// line removed so the file reads like a sops-made one), or replaces the file by one they
/// encrypted for the team and for themselves. Merging that branch would re-encrypt our changes
/// under that envelope: the driver compares its recipients with the `.sops.yaml` rule for the
/// real path (%P, not git's temporary file), refuses like `set` (exit 10), and nothing is
/// written: git marks the file conflicted and it keeps our ciphertext.
#[test]
fn attack_merge_driver_refuses_a_branch_that_added_a_recipient() {
    let intruder = public_key(&key2());
    for variant in ["text-edited", "outsider-encrypted"] {
        let r = Repo::new();
        r.write(
            ".sops.yaml",
            &format!(
                "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    age: {}\n",
                r.recipient
            ),
        );
        ok(r.kseal(&["git", "setup"]));
        r.write("secrets/db.enc.yaml", SECRET);
        ok(r.kseal(&["encrypt", "-i", "secrets/db.enc.yaml"]));
        r.git(&["add", "-A"]);
        r.git(&["commit", "-qm", "init"]);
        r.git(&["checkout", "-qb", "outsider"]);
        let text = r.read("secrets/db.enc.yaml");
        let evil = if variant == "text-edited" {
            let start = text.find("    - recipient: ").unwrap();
            let end = text.find("  lastmodified:").unwrap();
            let entry = text[start..end].replace(&r.recipient, &intruder);
            let with_entry = format!("{}{entry}{}", &text[..end], &text[end..]);
            with_entry
                .split_inclusive('\n')
                .filter(|l| !l.trim_start().starts_with("kseal_mac:"))
                .collect::<String>()
        } else {
            let plain = SECRET.replace("host: db.local", "host: db.outsider");
            r.write("outsider.plain", &plain);
            let o = run(r.cmd("kseal").env_remove("KSEAL_AGE_KEY_FILE").args([
                "encrypt",
                "--age",
                &format!("{},{intruder}", r.recipient),
                "outsider.plain",
            ]));
            std::fs::remove_file(r.dir().join("outsider.plain")).unwrap();
            ok(o)
        };
        r.write("secrets/db.enc.yaml", &evil);
        r.git(&["commit", "-qam", "outsider"]);
        r.git(&["checkout", "-q", "main"]);
        r.edit(
            "secrets/db.enc.yaml",
            "s/password: s3cr3t/password: next-pw-9731/",
        );
        r.git(&["commit", "-qam", "main: new password"]);
        let ours = r.read("secrets/db.enc.yaml");
        let out = run(r.cmd("git").args(["merge", "--no-edit", "outsider"]));
        assert!(!out.status.success(), "{variant}: the merge went through");
        let err = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            err.contains("secrets/db.enc.yaml (theirs): the file's recipients differ from its .sops.yaml rule"),
            "{variant}: {err}"
        );
        assert!(
            err.contains(&format!("not in the rule: {intruder}")),
            "{variant}: {err}"
        );
        for secret in ["next-pw-9731", "s3cr3t", "db.local", "db.outsider"] {
            assert!(!err.contains(secret), "{variant}: {secret} in {err}");
        }
        assert!(
            r.git(&["status", "--porcelain"])
                .contains("UU secrets/db.enc.yaml"),
            "{variant}"
        );
        assert_eq!(
            r.read("secrets/db.enc.yaml"),
            ours,
            "{variant}: ours changed"
        );
        let everything = format!("{}{}", tree_text(&r.dir()), r.all_objects());
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode("next-pw-9731");
        assert!(
            !everything.contains("next-pw-9731"),
            "{variant}: plaintext on disk"
        );
        assert!(!everything.contains(&b64), "{variant}: base64 on disk");
        // The driver run by hand on the same three versions, with git's temporary names:
        // the rule is matched against the PATH argument, not the temporary file.
        r.git(&["merge", "--abort"]);
        r.write(".merge_base", &text);
        r.write(".merge_theirs", &evil);
        r.write(".merge_ours", &ours);
        let o = r.kseal(&[
            "merge-driver",
            ".merge_base",
            ".merge_ours",
            ".merge_theirs",
            "secrets/db.enc.yaml",
        ]);
        assert_eq!(code(&o), Some(10), "{variant}: {}", stderr(&o));
        assert_eq!(r.read(".merge_ours"), ours, "{variant}: %A written");
        assert!(stderr(&o).contains("git checkout -m"), "{}", stderr(&o));
    }
}

/// The way out the refusal names, for a branch that changed `.sops.yaml` and ran `updatekeys`
/// (a legitimate recipient change): git runs the driver while the working tree still has our
/// rule, so the file stops as conflicted; once the merged rule is in the working tree,
/// `git checkout -m FILE` merges it again, and it goes through with both changes.
#[test]
fn merge_of_a_branch_that_changed_the_rule_and_the_recipients() {
    let r = Repo::new();
    let bob = public_key(&key2());
    let rule =
        |age: &str| format!("creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    age: {age}\n");
    r.write(".sops.yaml", &rule(&r.recipient));
    ok(r.kseal(&["git", "setup"]));
    r.write("db.enc.yaml", SECRET);
    ok(r.kseal(&["encrypt", "-i", "db.enc.yaml"]));
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", "init"]);
    r.git(&["checkout", "-qb", "add-bob"]);
    r.write(".sops.yaml", &rule(&format!("{},{bob}", r.recipient)));
    ok(r.kseal(&["updatekeys", "-y", "db.enc.yaml"]));
    r.git(&["commit", "-qam", "bob"]);
    r.git(&["checkout", "-q", "main"]);
    r.edit("db.enc.yaml", "s/host: db.local/host: db.prod/");
    r.git(&["commit", "-qam", "host"]);
    let out = run(r.cmd("git").args(["merge", "--no-edit", "add-bob"]));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("git checkout -m db.enc.yaml"),
        "{}",
        stderr(&out)
    );
    assert!(r.read(".sops.yaml").contains(&bob));
    r.git(&["checkout", "-m", "db.enc.yaml"]);
    r.git(&["add", "db.enc.yaml"]);
    r.git(&["commit", "-qm", "merged"]);
    let merged = r.read("db.enc.yaml");
    assert!(merged.contains(&bob), "{merged}");
    assert!(r.plain("db.enc.yaml").contains("host: db.prod"));
    ok(r.kseal(&["set", "db.enc.yaml", "user", "--value", "cm9vdA=="]));
}

#[test]
fn diff_without_keys_names_changed_keys() {
    let r = Repo::new();
    r.encrypt_new("db.enc.yaml", SECRET);
    r.git(&["add", "-A"]);
    r.git(&["commit", "-qm", "init"]);
    r.edit(
        "db.enc.yaml",
        "s/password: s3cr3t/password: n3w/; s/^  host: db.local$/  host: db.local\\n  port: \"5432\"/",
    );
    let out = run(r.cmd("kseal").env_remove("KSEAL_AGE_KEY_FILE").args([
        "diff",
        "db.enc.yaml",
        "--rev",
        "HEAD",
    ]));
    let text = ok(out);
    assert!(text.contains("Secret prod/db:\n"), "{text}");
    assert!(text.contains("  ~ data.password (encrypted)\n"), "{text}");
    assert!(text.contains("  + stringData.port (encrypted)\n"), "{text}");
    assert!(!text.contains("data.user"), "{text}");
    assert!(!text.contains("n3w") && !text.contains("5432"));
    r.git(&["show", "HEAD:db.enc.yaml"]);
    let old = r.write("old.enc.yaml", &r.git(&["show", "HEAD:db.enc.yaml"]));
    let json = ok(r.kseal(&["diff", old.to_str().unwrap(), "db.enc.yaml", "--json"]));
    assert!(json.starts_with("{\"changes\":[{\"document\":\"Secret prod/db\",\"path\":\"data.password\",\"change\":\"changed\",\"encrypted\":true,\"plaintext\":null}"), "{json}");
    let same = run(r
        .cmd("kseal")
        .args(["diff", "db.enc.yaml", "db.enc.yaml", "--exit-code"]));
    assert_eq!(same.status.code(), Some(0));
    let differ =
        run(r
            .cmd("kseal")
            .args(["diff", old.to_str().unwrap(), "db.enc.yaml", "--exit-code"]));
    assert_eq!(differ.status.code(), Some(1));
}

/// Issue 13: `kseal diff a.enc.yaml a-plain.yaml` printed `~ data.password (encrypted)`; a side
/// in clear text is named loudly, in the text and in --json, and fails --exit-code.
#[test]
fn diff_names_a_plaintext_side_and_fails_exit_code() {
    let r = Repo::new();
    r.encrypt_new("a.enc.yaml", SECRET);
    r.write("a-plain.yaml", &r.plain("a.enc.yaml"));
    let keyless = |args: &[&str]| run(r.cmd("kseal").env_remove("KSEAL_AGE_KEY_FILE").args(args));
    let out = keyless(&["diff", "a.enc.yaml", "a-plain.yaml"]);
    let text = ok(out);
    assert!(
        text.starts_with("!!! PLAINTEXT: a-plain.yaml is not encrypted: 3 Secret values in clear text (Secret prod/db: data.user, Secret prod/db: data.password, Secret prod/db: stringData.host)\n"),
        "{text}"
    );
    assert!(
        text.contains("  ~ data.password (encrypted -> PLAINTEXT)\n"),
        "{text}"
    );
    assert!(
        !text.contains("s3cr3t") && !text.contains("czNjcjN0"),
        "{text}"
    );
    // The other way: the plaintext side is the old one.
    let text = ok(keyless(&["diff", "a-plain.yaml", "a.enc.yaml"]));
    assert!(text.starts_with("!!! PLAINTEXT: a-plain.yaml"), "{text}");
    assert!(
        text.contains("  ~ data.user (PLAINTEXT -> encrypted)\n"),
        "{text}"
    );
    let json = ok(keyless(&["diff", "a.enc.yaml", "a-plain.yaml", "--json"]));
    assert!(
        json.contains("\"path\":\"data.password\",\"change\":\"changed\",\"encrypted\":true,\"plaintext\":\"new\"}"),
        "{json}"
    );
    assert!(
        json.contains("\"plaintext_old\":[],\"plaintext_new\":[\"Secret prod/db: data.user\","),
        "{json}"
    );
    // --exit-code fails (10, not diff's 1), also when the two sides are the same plaintext.
    for pair in [
        ["a.enc.yaml", "a-plain.yaml"],
        ["a-plain.yaml", "a-plain.yaml"],
    ] {
        let out = keyless(&["diff", pair[0], pair[1], "--exit-code"]);
        assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("a-plain.yaml holds Secret values in PLAINTEXT"),
            "{}",
            stderr(&out)
        );
    }
    let same = keyless(&["diff", "a.enc.yaml", "a.enc.yaml", "--exit-code", "--json"]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    assert!(stdout(&same).contains("\"plaintext_old\":[],\"plaintext_new\":[]"));
}

#[test]
fn check_finds_plain_secrets_literals_leaks_and_rules() {
    let r = Repo::new();
    r.encrypt_new("ok/db.enc.yaml", SECRET);
    r.write(
        "bad/stream.yaml",
        &format!("{}---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: api\nstringData:\n  token: hunter2\n", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n"),
    );
    r.write(
        "bad/kustomization.yaml",
        "secretGenerator:\n- name: gen\n  literals:\n  - password=hunter3\n",
    );
    r.write(
        "bad/leak.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: l\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{}'\n",
    );
    let mut broken = r.read("ok/db.enc.yaml");
    let at = broken.find("iv:").unwrap();
    broken.replace_range(at..at + 3, "IV:");
    r.write("bad/broken.enc.yaml", &broken);
    r.write(
        ".sops.yaml",
        "creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: age1xyz\n",
    );
    r.write("secrets/values.yaml", "password: hunter4\n");
    let out = r.kseal(&["check"]);
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "bad/stream.yaml: document 2: stringData.token",
        "[unencrypted-secret]",
        "[generator-literals]",
        "[last-applied]",
        "bad/broken.enc.yaml: document 1: data.user: malformed ENC",
        "secrets/values.yaml: the file matches the .sops.yaml rule",
    ] {
        assert!(text.contains(want), "{want} missing in {text}");
    }
    for secret in ["hunter2", "hunter3", "hunter4"] {
        assert!(!text.contains(secret));
    }
    // Issue 13: the hint points at what an installed kseal has (its help), not at a file of
    // the source checkout such as docs/gitops.md.
    let err = stderr(&out);
    assert!(err.contains("`kseal check --help` says"), "{err}");
    assert!(!err.contains("docs/"), "{err}");
    let ok_run = r.kseal(&["check", "ok"]);
    assert!(ok_run.status.success(), "{}", stdout(&ok_run));
    // Counts in the right number: "1 problem found in 1 file", never "1 file(s)".
    let one = r.kseal(&["check", "bad/leak.yaml"]);
    assert!(
        stderr(&one).contains("kseal check: 1 problem found in 1 file\n"),
        "{}",
        stderr(&one)
    );
    let one = r.kseal(&["check", "ok/db.enc.yaml"]);
    assert!(
        stderr(&one).contains("kseal check: 1 file checked, no problem\n"),
        "{}",
        stderr(&one)
    );
    let json = stdout(&r.kseal(&["check", "--json", "bad/leak.yaml"]));
    assert!(json.starts_with("{\"files\":1,\"errors\":1,\"warnings\":0,\"findings\":[{\"severity\":\"error\",\"code\":\"last-applied\""), "{json}");
}

/// Issue 13: a gate fails on what it could not read (it used to warn and pass); the file is
/// named once per line and again in the summary.
#[test]
fn check_fails_on_files_it_could_not_read() {
    let r = Repo::new();
    r.encrypt_new("ok/db.enc.yaml", SECRET);
    std::fs::write(r.dir().join("ok/latin1.yaml"), b"password: caf\xe9\n").unwrap();
    let out = r.kseal(&["check", "ok"]);
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("error: ok/latin1.yaml: not UTF-8 text") && text.contains("[unreadable]"),
        "{text}"
    );
    assert!(!text.contains("ok/latin1.yaml: ok/latin1.yaml"), "{text}");
    assert!(
        stderr(&out).contains("not checked: ok/latin1.yaml"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(r.dir().join("ok/latin1.yaml")).unwrap();
    // Not YAML: an error too; a Helm template that does not parse is a warning.
    r.write("ok/broken.yaml", "a: [1, 2\n");
    let out = r.kseal(&["check", "ok"]);
    assert_eq!(out.status.code(), Some(10), "{}", stdout(&out));
    assert!(stdout(&out).contains("error: ok/broken.yaml: not checked: not valid YAML"));
    std::fs::remove_file(r.dir().join("ok/broken.yaml")).unwrap();
    r.write(
        "ok/templates/secret.yaml",
        "data:\n  {{- range .Values.keys }}\n  {{ . }}: x\n{{- end }}\n: [\n",
    );
    let out = r.kseal(&["check", "ok"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("warning: ok/templates/secret.yaml: not checked (a template?)"));
    #[cfg(unix)]
    if !is_root() {
        use std::os::unix::fs::PermissionsExt;
        let p = r.write("ok/locked.yaml", "a: 1\n");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
        let out = r.kseal(&["check", "--json", "ok"]);
        assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
        assert!(
            stdout(&out).contains("\"code\":\"unreadable\",\"file\":\"ok/locked.yaml\""),
            "{}",
            stdout(&out)
        );
    }
}

#[test]
fn check_workloads_warns_on_env_and_missing_secrets() {
    let r = Repo::new();
    r.encrypt_new("db.enc.yaml", SECRET);
    r.write(
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        env:\n        - name: DB_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: db\n              key: password\n      volumes:\n      - name: tls\n        secret:\n          secretName: web-tls\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: backup\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n          - name: b\n            envFrom:\n            - secretRef:\n                name: db\n",
    );
    let out = r.kseal(&["check", "--workloads"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("warning: deploy.yaml: document 1: spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef: Deployment web: container app gets env DB_PASSWORD from Secret db"), "{text}");
    assert!(
        text.contains("[secret-envfrom]") && text.contains("CronJob backup"),
        "{text}"
    );
    assert!(
        text.contains("references Secret web-tls, which no file"),
        "{text}"
    );
    assert!(!text.contains("references Secret db,"), "{text}");
}

/// The hook in .pre-commit-hooks.yaml, run by the real pre-commit from a throwaway repository
/// that uses this repository's hook definition (offline: `language: system`).
#[test]
fn pre_commit_hook_blocks_plain_secrets() {
    let pre_commit = require("pre-commit");
    let r = Repo::new();
    // A hooks repository holding kseal's .pre-commit-hooks.yaml.
    let hooks = r.sb.path("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::copy(
        repo().join(".pre-commit-hooks.yaml"),
        hooks.join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    for args in [
        vec!["init", "-q", "-b", "main"],
        vec!["add", "-A"],
        vec![
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "hooks",
        ],
    ] {
        ok(run(r.sb.tool("git").current_dir(&hooks).args(&args)));
    }
    let rev = ok(run(r
        .sb
        .tool("git")
        .current_dir(&hooks)
        .args(["rev-parse", "HEAD"])));
    r.write(
        ".pre-commit-config.yaml",
        &format!(
            "repos:\n- repo: {}\n  rev: {}\n  hooks:\n  - id: kseal-check\n",
            hooks.display(),
            rev.trim()
        ),
    );
    let bin = r.sb.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kseal"), bin.join("kseal")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    r.encrypt_new("db.enc.yaml", SECRET);
    r.write(
        "plain.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: p\nstringData:\n  k: hunter2\n",
    );
    r.git(&["add", "-A"]);
    let hook = |files: &[&str]| {
        run(r
            .cmd(pre_commit.to_str().unwrap())
            .env("PATH", &path)
            .env("PRE_COMMIT_HOME", r.sb.path("pre-commit-cache"))
            .args(["run", "kseal-check", "--files"])
            .args(files))
    };
    let bad = hook(&["db.enc.yaml", "plain.yaml"]);
    assert!(!bad.status.success(), "{}", stdout(&bad));
    assert!(
        stdout(&bad).contains("plain.yaml: document 1: stringData.k"),
        "{}",
        stdout(&bad)
    );
    assert!(!stdout(&bad).contains("hunter2"));
    let good = hook(&["db.enc.yaml", ".pre-commit-config.yaml"]);
    assert!(good.status.success(), "{}{}", stdout(&good), stderr(&good));
}

#[test]
fn exec_env_and_exec_file_run_commands_with_the_secret() {
    let r = Repo::new();
    r.encrypt_new("db.enc.yaml", SECRET);
    let out = r.kseal(&[
        "exec-env",
        "db.enc.yaml",
        "--",
        "sh",
        "-c",
        "printf '%s|%s|%s' \"$user\" \"$password\" \"$host\"; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "admin|s3cr3t|db.local");
    let out = r.kseal(&[
        "exec-file",
        "db.enc.yaml",
        "--",
        "sh",
        "-c",
        "cat {}/password; stat -c %a {} {}/user; echo \"$KSEAL_SECRET_DIR\" > where",
        "x",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "s3cr3t700\n600\n");
    let dir = r.read("where");
    assert!(!Path::new(dir.trim()).exists(), "the directory is removed");
    let failing = r.kseal(&["exec-file", "db.enc.yaml", "--", "false"]);
    assert_eq!(failing.status.code(), Some(1));
    let nokey = run(r.cmd("kseal").env_remove("KSEAL_AGE_KEY_FILE").args([
        "exec-env",
        "db.enc.yaml",
        "--",
        "true",
    ]));
    assert_eq!(nokey.status.code(), Some(5));
}

/// A command that cannot be started exits like a shell: 127 not found, 126 not executable;
/// the help of exec-env says how keys become variables and does not speak of `{}`.
#[test]
fn exec_commands_that_cannot_start_exit_126_or_127() {
    let r = Repo::new();
    r.encrypt_new("db.enc.yaml", SECRET);
    r.write("not-executable.sh", "#!/bin/sh\necho hi\n");
    for verb in ["exec-env", "exec-file"] {
        let out = r.kseal(&[verb, "db.enc.yaml", "--", "no-such-command-kseal"]);
        assert_eq!(out.status.code(), Some(127), "{verb}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot run `no-such-command-kseal`: command not found"),
            "{verb}: {}",
            stderr(&out)
        );
        let out = r.kseal(&[verb, "db.enc.yaml", "--", "./not-executable.sh"]);
        assert_eq!(out.status.code(), Some(126), "{verb}: {}", stderr(&out));
        let out = r.kseal(&[verb, "db.enc.yaml", "--", "."]);
        assert_eq!(out.status.code(), Some(126), "{verb}: {}", stderr(&out));
    }
    // Words, not lines: clap wraps to the terminal's width.
    let words =
        |o: std::process::Output| stdout(&o).split_whitespace().collect::<Vec<_>>().join(" ");
    let help = words(r.kseal(&["exec-env", "--help"]));
    assert!(!help.contains("{}"), "{help}");
    assert!(
        help.contains("each key becomes a variable of exactly the same name"),
        "{help}"
    );
    assert!(help.contains("127 when it is not found"), "{help}");
    let help = words(r.kseal(&["exec-file", "--help"]));
    assert!(
        help.contains("`{}` in them stands for the directory"),
        "{help}"
    );
}

/// README's `make install PREFIX=~/.local`, as written (the binary under test stands in for
/// the release build through KSEAL_BIN): everything lands where its tool looks for it, and
/// `make uninstall` takes it away again.
#[test]
fn make_install_puts_binary_man_page_completions_and_docs_in_place() {
    let sb = Sandbox::new();
    let make = |recipe: &str| {
        let mut c = sb.tool("sh");
        c.arg("-c")
            .arg(recipe)
            .current_dir(repo())
            .env("KSEAL_BIN", env!("CARGO_BIN_EXE_kseal"))
            .env_remove("MAKEFLAGS")
            .env_remove("MAKELEVEL")
            .env_remove("MFLAGS");
        run(&mut c)
    };
    let readme = read(&repo().join("README.md"));
    assert!(
        readme.contains("\nmake install PREFIX=~/.local "),
        "README recipe changed"
    );
    let walkthrough = read(&repo().join("docs/gitops.md"));
    assert!(
        walkthrough.contains("\nmake install PREFIX=~/.local "),
        "gitops.md step 0 changed"
    );
    let out = make("make install PREFIX=~/.local");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let local = sb.path(".local");
    let bin = local.join("bin/kseal");
    let version = ok(run(std::process::Command::new(&bin).arg("--version")));
    assert_eq!(version, ok(run(sb.kseal().arg("--version"))));
    // man-db finds the page through PATH (PREFIX/bin -> PREFIX/share/man).
    let path = format!("{}:/usr/bin:/bin", local.join("bin").display());
    let man = run(sb
        .tool("man")
        .args(["-w", "kseal"])
        .env("PATH", &path)
        .env_remove("MANPATH"));
    assert_eq!(
        stdout(&man).trim(),
        local.join("share/man/man1/kseal.1").display().to_string(),
        "{}",
        stderr(&man)
    );
    let bash = local.join("share/bash-completion/completions/kseal");
    let out = run(sb
        .tool("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p kseal", bash.display())));
    assert!(stdout(&out).contains("kseal"), "{}", stderr(&out));
    assert!(read(&local.join("share/zsh/site-functions/_kseal")).starts_with("#compdef kseal"));
    assert!(
        read(&local.join("share/fish/vendor_completions.d/kseal.fish"))
            .contains("complete -c kseal")
    );
    for doc in [
        "README.md",
        "docs/status.md",
        "docs/integrations/git.md",
        "contrib/kustomize/install-plugins.sh",
    ] {
        assert!(local.join("share/doc/kseal").join(doc).is_file(), "{doc}");
    }
    let out = make("make uninstall PREFIX=~/.local");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!bin.exists() && !local.join("share/man/man1/kseal.1").exists());
    assert!(!local.join("share/doc/kseal").exists());
}

/// Where the installing cargo builds. Under CI a fresh directory: the install is what a user
/// gets (release profile as Cargo.toml sets it: fat LTO, one codegen unit; minutes on CI's two
/// cores). Locally a directory kept under target/, so that a second `make test` rebuilds only
/// kseal itself.
fn install_target_dir(sb: &Sandbox, ci: bool) -> PathBuf {
    if ci {
        sb.path("cargo-target")
    } else {
        repo().join("target/install-test/dev")
    }
}

/// README's `cargo install --locked --path .`, run for real: the exact line, from the
/// repository, into a temporary `--root` with its own CARGO_TARGET_DIR; the installed binary
/// names the same version and commit as the one under test and encrypts and decrypts a Secret.
/// Under CI (`CI=true`, as `.ci/run` sets it) the release profile is Cargo.toml's own. Locally
/// (no CI) the same command runs with the release profile overridden through cargo's
/// environment (CARGO_PROFILE_RELEASE_OPT_LEVEL=0, LTO off, 16 codegen units, incremental),
/// which builds in a fraction of the time, so `make test` stays bearable (see the Makefile).
#[test]
fn cargo_install_recipe_installs_a_working_kseal() {
    let readme = read(&repo().join("README.md"));
    let recipe = readme
        .lines()
        .find(|l| l.starts_with("cargo install "))
        .expect("README's cargo install line");
    let recipe = recipe.split('#').next().unwrap().trim();
    assert_eq!(recipe, "cargo install --locked --path .");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let sb = Sandbox::new();
    let root = sb.path("root");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The user's environment (HOME, CARGO_HOME: the registry cache), not the sandbox's.
    let mut install = Command::new(&cargo);
    install
        .args(recipe.split_whitespace().skip(1))
        .arg("--root")
        .arg(&root)
        .current_dir(repo())
        .env("CARGO_TARGET_DIR", install_target_dir(&sb, ci))
        .env_remove("CARGO_BUILD_TARGET_DIR");
    if !ci {
        install
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "true");
    }
    let out = run(&mut install);
    assert!(out.status.success(), "{recipe}: {}", stderr(&out));
    let bin = root.join("bin/kseal");
    assert!(bin.is_file(), "{}", stderr(&out));
    let kseal = bin.to_str().unwrap();
    let version = ok(run(sb.tool(kseal).arg("--version")));
    assert_eq!(version, ok(run(sb.kseal().arg("--version"))));
    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: installed-p1\n";
    sb.write("db.yaml", plain);
    let enc = ok(run(sb.tool(kseal).args([
        "encrypt",
        "--age",
        &recipient(),
        "db.yaml",
    ])));
    assert!(
        !enc.contains("installed-p1") && enc.contains("ENC[AES256_GCM"),
        "{enc}"
    );
    sb.write("db.enc.yaml", &enc);
    let back = ok(run(sb
        .tool(kseal)
        .arg("decrypt")
        .arg("--identity")
        .arg(key())
        .arg("db.enc.yaml")));
    assert_eq!(back, plain);
}

#[test]
fn completions_and_man_page_come_from_the_cli() {
    let sb = Sandbox::new();
    let bash = ok(run(sb.kseal().args(["completions", "bash"])));
    assert!(bash.contains("merge-driver") && bash.contains("--textconv"));
    let script = sb.write("kseal.bash", &bash);
    let out = run(sb
        .tool("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p kseal", script.display())));
    assert!(stdout(&out).contains("kseal"), "{}", stderr(&out));
    let zsh = ok(run(sb.kseal().args(["completions", "zsh"])));
    assert!(zsh.starts_with("#compdef kseal"));
    let fish = ok(run(sb.kseal().args(["completions", "fish"])));
    assert!(fish.contains("complete -c kseal"));
    let man = ok(run(sb.kseal().arg("man")));
    assert!(
        man.contains(".TH kseal") && man.contains("merge\\-driver"),
        "{}",
        &man[..200.min(man.len())]
    );
}

// ---------------------------------------------------------------------------------------------
// The docs' walkthroughs, run as written
// ---------------------------------------------------------------------------------------------

/// The fenced blocks of a markdown file with their language, each under the `## ` heading it
/// appears in.
fn fenced_blocks(md: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut heading = String::new();
    let mut open: Option<(String, String)> = None;
    for line in md.lines() {
        if let Some((lang, body)) = &mut open {
            if line.trim_start().starts_with("```") {
                out.push((heading.clone(), lang.clone(), std::mem::take(body)));
                open = None;
            } else {
                body.push_str(line);
                body.push('\n');
            }
        } else if let Some(lang) = line.trim_start().strip_prefix("```") {
            open = Some((lang.trim().to_string(), String::new()));
        } else if let Some(h) = line.strip_prefix("## ") {
            heading = h.trim().to_string();
        }
    }
    out
}

/// The `sh` blocks of the sections whose heading starts with one of `steps` (`"1."`).
fn sh_blocks(md: &str, steps: &[&str]) -> Vec<String> {
    fenced_blocks(md)
        .into_iter()
        .filter(|(h, lang, _)| lang == "sh" && steps.iter().any(|s| h.starts_with(s)))
        .map(|(_, _, b)| b)
        .collect()
}

/// A sandbox where the docs' commands run as a user's shell would: `kseal` on PATH (this
/// build), HOME the sandbox (so `~/.config/sops/age/keys.txt` is the sandbox's), git configured
/// with a name and `main` as the first branch, EDITOR a script standing in for the person
/// (`edits` lists, in order, the sed expression of each `kseal edit`).
fn docs_shell<'a>(sb: &'a Sandbox, edits: &[&str]) -> impl Fn(&str) -> std::process::Output + 'a {
    let bin = sb.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let _ = std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kseal"), bin.join("kseal"));
    sb.write(
        ".gitconfig",
        "[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n",
    );
    let mut script = String::from(
        "#!/bin/sh\nn=$(cat \"$HOME/edits\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$HOME/edits\"\ncase $n in\n",
    );
    for (i, e) in edits.iter().enumerate() {
        script.push_str(&format!("{}) sed -i -e '{e}' \"$1\" ;;\n", i + 1));
    }
    script.push_str("esac\n");
    let editor = sb.write("editor.sh", script);
    make_executable(&editor);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    move |script: &str| {
        run(sb
            .tool("bash")
            .args(["-euo", "pipefail", "-c", script])
            .env("PATH", &path)
            .env("EDITOR", &editor)
            .env("GIT_CONFIG_NOSYSTEM", "1"))
    }
}

/// docs/gitops.md from the key (step 1) to `kubectl kustomize` and `kseal decrypt base/`
/// (step 7), the commands exactly as written; the only changes: the placeholder `age1...`
/// becomes the key made in step 1, and `| kubectl apply --server-side -f -` (which needs a
/// cluster) becomes a file the test reads. The editor steps change what their comments say.
#[test]
fn gitops_walkthrough_runs_as_written() {
    require("kubectl");
    let md = read(&repo().join("docs/gitops.md"));
    let sb = Sandbox::new();
    let shell = docs_shell(
        &sb,
        &[
            "s/^  password: s3cr3t$/  password: n3w-pass/",
            "s/^  user: admin$/  user: app/",
            "s/^  password: n3w-pass$/  password: n3w-pass\\n  host: db.local/",
        ],
    );
    let step1 = sh_blocks(&md, &["1."]);
    assert_eq!(step1.len(), 1, "step 1 has one command block");
    let out = shell(&step1[0]);
    assert!(out.status.success(), "step 1: {}", stderr(&out));
    assert!(
        stderr(&out).contains("Public key: age1"),
        "{}",
        stderr(&out)
    );
    let recipient = public_key(&sb.path(".config/sops/age/keys.txt"));

    let steps = sh_blocks(&md, &["2.", "3.", "4.", "5.", "6.", "7."]);
    assert!(steps.len() >= 7, "{} blocks", steps.len());
    let mut script = String::new();
    let mut applied = 0;
    for block in &steps {
        let mut b = block.replace("age1...", &recipient);
        while let Some(at) = b.find(" | kubectl apply --server-side -f -") {
            applied += 1;
            b.replace_range(
                at..at + " | kubectl apply --server-side -f -".len(),
                &format!(" > \"$HOME/apply-{applied}.yaml\""),
            );
        }
        script.push_str(&b);
        script.push('\n');
    }
    assert_eq!(applied, 2, "the kustomize and the decrypt deploy lines");
    assert!(
        script.contains("kseal encrypt -o base/db.enc.yaml")
            && script.contains("kubectl kustomize --enable-alpha-plugins base"),
        "{script}"
    );
    let out = shell(&script);
    assert!(
        out.status.success(),
        "steps 2-7 failed ({:?}):\n{}\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(read(&sb.path("edits")).trim(), "3", "three edits ran");
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    // kustomize: the merged Secret, decrypted (both branches' changes and step 4's).
    let built = read(&sb.path("apply-1.yaml"));
    for want in [
        format!("  password: {}\n", b64("n3w-pass")),
        format!("  user: {}\n", b64("app")),
        format!("  host: {}\n", b64("db.local")),
        "  name: db\n".to_string(),
    ] {
        assert!(built.contains(&want), "{want} missing in {built}");
    }
    assert!(
        !built.contains("ENC[") && !built.contains("KsealGenerator"),
        "{built}"
    );
    // Without kustomize: the same Secret, and only it (no kustomization, no generator config).
    let direct = read(&sb.path("apply-2.yaml"));
    assert!(
        direct.contains(&format!("  user: {}\n", b64("app"))),
        "{direct}"
    );
    assert!(
        !direct.contains("generators:") && !direct.contains("KsealGenerator"),
        "{direct}"
    );
    assert!(
        stderr(&out).contains("base/kustomization.yaml: skipped"),
        "{}",
        stderr(&out)
    );
    // The repository holds no plaintext.
    let repo_text = tree_text(&sb.path("deploy"));
    assert!(!repo_text.contains("s3cr3t") && !repo_text.contains("n3w-pass"));
}

/// docs/integrations/flux.md's commands up to what needs a cluster: the key, the `sops-age`
/// Secret (with the `--dry-run=client -o yaml` the page gives for looking at it), the
/// `.sops.yaml` and the encryption into `clusters/prod/`, in a repository that has that
/// directory; then sops decrypts the file with the key, as the controller does.
#[test]
fn flux_commands_run_as_written() {
    require("kubectl");
    require("sops");
    let md = read(&repo().join("docs/integrations/flux.md"));
    let sb = Sandbox::new();
    let shell = docs_shell(&sb, &[]);
    let blocks = fenced_blocks(&md);
    let sh: Vec<&str> = blocks
        .iter()
        .filter(|(_, l, _)| l == "sh")
        .map(|(_, _, b)| b.as_str())
        .collect();
    assert!(sh.len() >= 3, "{sh:?}");
    std::fs::create_dir_all(sb.path("clusters/prod")).unwrap();
    let out = shell(sh[0]);
    assert!(out.status.success(), "keygen: {}", stderr(&out));
    let recipient = public_key(&sb.path("age.agekey"));
    // The Secret for the cluster, shown instead of created (no cluster here).
    assert!(sh[1].contains("kubectl -n flux-system create secret generic sops-age"));
    let shown = shell(&sh[1].replace(
        "create secret generic sops-age",
        "create secret generic sops-age --dry-run=client -o yaml",
    ));
    let shown_text = ok(shown);
    assert!(shown_text.contains("  age.agekey: "), "{shown_text}");
    // .sops.yaml from the yaml block whose comment names it.
    let config = blocks
        .iter()
        .find(|(_, l, b)| l == "yaml" && b.contains("creation_rules"))
        .map(|(_, _, b)| b.replace("age1...", &recipient))
        .expect("the .sops.yaml block");
    sb.write(".sops.yaml", config);
    let out = shell(sh[2]);
    assert!(out.status.success(), "encrypt: {}", stderr(&out));
    let enc = sb.path("clusters/prod/db.enc.yaml");
    assert!(read(&enc).contains("ENC[AES256_GCM"));
    let plain = ok(run(sb
        .tool("sops")
        .env("SOPS_AGE_KEY_FILE", sb.path("age.agekey"))
        .args(["--disable-version-check", "decrypt"])
        .arg(&enc)));
    assert!(plain.contains("  password: czNjcjN0\n"), "{plain}");
}

/// The README's command examples for encrypt, decrypt, get, updatekeys and status, run as
/// written in one repository where the files they name exist (`secret.yaml`, `deploy/`,
/// `db.enc.yaml`, a `.sops.yaml` whose rules cover them); only `age1...` becomes a real key
/// and `| kubectl apply --server-side -f -` (a cluster) a file.
#[test]
fn readme_command_examples_run_as_written() {
    require("kubectl");
    let md = read(&repo().join("README.md"));
    let sb = Sandbox::new();
    let shell = docs_shell(&sb, &[]);
    ok(shell("kseal keygen -o ~/.config/sops/age/keys.txt"));
    let recipient = public_key(&sb.path(".config/sops/age/keys.txt"));
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - path_regex: .*\\.yaml$\n    age: {recipient}\n"),
    );
    sb.write("secret.yaml", SECRET);
    sb.write(
        "deploy/prod/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    let wanted = [
        "kseal encrypt",
        "kseal decrypt",
        "kseal get",
        "kseal updatekeys",
        "kseal status",
    ];
    let blocks: Vec<(String, String, String)> = fenced_blocks(&md)
        .into_iter()
        .filter(|(h, l, _)| l == "sh" && h == "Commands")
        .collect();
    let mut ran = 0;
    for (_, _, block) in &blocks {
        if !wanted.iter().any(|w| block.trim_start().starts_with(w)) {
            continue;
        }
        let mut b = block.replace("age1...", &recipient);
        b = b.replace(
            " | kubectl apply --server-side -f -",
            " > \"$HOME/applied.yaml\"",
        );
        if b.contains("kseal decrypt deploy/") {
            // Something encrypted to deploy: the file the encrypt examples made.
            ok(shell("cp db.enc.yaml deploy/prod/db.enc.yaml"));
        }
        let out = shell(&b);
        assert!(
            out.status.success(),
            "README block failed ({:?}):\n{b}\n{}",
            out.status.code(),
            stderr(&out)
        );
        ran += 1;
    }
    assert_eq!(ran, wanted.len(), "README blocks run");
    let applied = read(&sb.path("applied.yaml"));
    assert!(
        applied.contains("  password: czNjcjN0\n") && applied.contains("name: c\n"),
        "{applied}"
    );
}

/// Copies a directory tree (the check fixture repository) into the sandbox.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// `kseal check` output through tests/support/check_report.py: one `RULE FILE:LINE LEVEL` line
/// per finding (SARIF validated against the official 2.1.0 schema first).
fn check_report(r: &Repo, args: &[&str]) -> (Option<i32>, String) {
    let out = r.kseal(args);
    let mut py = r.cmd("python3");
    py.arg(repo().join("tests/support/check_report.py"))
        .arg(fixture("check/sarif-schema-2.1.0.json"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = py.spawn().expect("python3");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}\n{}",
        stderr(&o),
        stdout(&out)
    );
    (out.status.code(), stdout(&o))
}

/// The check fixture repository plus the envelope cases made here with a key: a fresh kseal
/// file, one last encrypted in 2020, one for the wrong recipients, one with a clear value added
/// by hand, a sops-written one (no structural MAC), a plain file a path rule covers.
fn check_repo() -> Repo {
    require("python3");
    let r = Repo::new();
    copy_tree(&fixture("check/repo"), &r.dir());
    r.encrypt_new("envelopes/fresh.enc.yaml", SECRET);
    r.encrypt_new("envelopes/stale.enc.yaml", SECRET);
    r.encrypt_new("envelopes/added.enc.yaml", SECRET);
    let added = r
        .read("envelopes/added.enc.yaml")
        .replace("data:\n", "data:\n  extra: aGVsbG8=\n");
    r.write("envelopes/added.enc.yaml", &added);
    r.encrypt_new("old/old.enc.yaml", SECRET);
    let old = r.read("old/old.enc.yaml");
    let at = old.find("lastmodified: \"").unwrap() + "lastmodified: \"".len();
    let old = format!("{}2020-01-01T00:00:00Z{}", &old[..at], &old[at + 20..]);
    r.write("old/old.enc.yaml", &old);
    std::fs::create_dir_all(r.dir().join("sops")).unwrap();
    std::fs::copy(
        fixture("sops-made/basic-auth.yaml"),
        r.dir().join("sops/basic-auth.yaml"),
    )
    .unwrap();
    r.write("envelopes/forgot.yaml", "password: hunter4\n");
    r.write(
        ".sops.yaml",
        &format!("creation_rules:\n  - path_regex: envelopes/stale\\.enc\\.yaml$\n    age: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n  - path_regex: envelopes/.*\\.yaml$\n    age: {}\n", r.recipient),
    );
    r
}

/// Issue 17: every rule found where it should be (file and start line) in JSON and in SARIF,
/// and nowhere in the near misses (narrowed RBAC, a KMS-first configuration, a fresh file);
/// the SARIF log of the whole repository validates against the SARIF 2.1.0 schema.
#[test]
fn check_rules_json_and_sarif_on_the_fixture_repository() {
    let r = check_repo();
    let want = [
        "encryption-aescbc encryption/identity-first.yaml:9 note",
        "encryption-identity-first encryption/identity-first.yaml:7 error",
        "encryption-key-in-clear encryption/identity-first.yaml:11 error",
        "encryption-secrets-missing encryption/no-secrets.yaml:1 error",
        "generator-literals secrets/kustomization.yaml:5 error",
        "last-applied secrets/plain.yaml:6 error",
        "malformed-enc secrets/merged.yaml:8 error",
        "merge-key secrets/merged.yaml:1 warning",
        "rbac-broad-binding rbac/bindings.yaml:10 error",
        "rbac-broad-binding rbac/bindings.yaml:24 error",
        "rbac-escalation rbac/roles.yaml:20 warning",
        "rbac-pod-exec rbac/roles.yaml:23 warning",
        "rbac-secrets-get rbac/roles.yaml:17 warning",
        "rbac-secrets-list rbac/roles.yaml:32 error",
        "rbac-secrets-list rbac/roles.yaml:7 error",
        "recipients-stale envelopes/stale.enc.yaml:",
        "secret-too-old old/old.enc.yaml:",
        "sops-rule-unencrypted envelopes/forgot.yaml:1 error",
        "structural-mac-missing sops/basic-auth.yaml:",
        "unencrypted-secret secrets/plain.yaml:8 error",
        "unencrypted-value envelopes/added.enc.yaml:8 error",
    ];
    let (code, json) = check_report(&r, &["check", "--format", "json", "--max-age", "30d"]);
    assert_eq!(code, Some(10));
    let (_, sarif) = check_report(&r, &["check", "--format", "sarif", "--max-age", "30d"]);
    for w in want {
        assert!(json.contains(w), "{w} missing in JSON:\n{json}");
        // The same severities are SARIF's levels (error, warning, note).
        assert!(sarif.contains(w), "{w} missing in SARIF:\n{sarif}");
    }
    // Every finding is one of those (no near miss is reported), plus the suppressed ones.
    let found: Vec<&str> = json.lines().skip(1).collect();
    assert_eq!(found.len(), want.len(), "{json}");
    for near in [
        "near-misses/",
        "fresh.enc.yaml",
        "rbac-secrets-get secrets/suppressed.yaml",
    ] {
        assert!(!json.contains(near), "{near} reported:\n{json}");
    }
    assert!(
        json.starts_with("counts errors=15 warnings=5 notes=1 suppressed=2\n"),
        "{json}"
    );
    // The suppressed findings: listed in SARIF with a suppression, in JSON on request.
    assert!(
        sarif.contains("rbac-secrets-get secrets/suppressed.yaml:13 warning suppressed"),
        "{sarif}"
    );
    assert!(
        sarif.contains("unencrypted-secret secrets/suppressed.yaml:6 error suppressed"),
        "{sarif}"
    );
    let (_, shown) = check_report(&r, &["check", "--format", "json", "--show-suppressed"]);
    assert!(
        shown.contains("rbac-secrets-get secrets/suppressed.yaml:13 warning suppressed"),
        "{shown}"
    );
    // The rules of the catalogue, in SARIF's driver.
    assert!(
        sarif.starts_with("rules unencrypted-secret,unencrypted-value,"),
        "{sarif}"
    );
    // Secrets never appear in any output.
    for f in ["text", "json", "sarif"] {
        let out = stdout(&r.kseal(&["check", "--format", f]));
        for secret in [
            "hunter2",
            "hunter3",
            "hunter4",
            "c2VjcmV0IGlz",
            "not-a-real-password",
        ] {
            assert!(!out.contains(secret), "{f}: {secret}");
        }
    }
}

/// Issue 17: `--fail-on`, `--disable`, the `check:` section of .sops.yaml, a structural MAC
/// the repository requires (issue 19), and `--max-age` near misses.
#[test]
fn check_fail_on_disable_and_repository_settings() {
    let r = check_repo();
    // Warnings only: passes by default, fails with --fail-on warning; notes never fail.
    let only = |args: &[&str]| r.kseal(&[&["check"], args].concat()).status.code();
    assert_eq!(
        only(&["sops", "rbac/roles.yaml", "--disable", "rbac-secrets-list"]),
        Some(0)
    );
    assert_eq!(only(&["sops", "--fail-on", "warning"]), Some(10));
    assert_eq!(
        only(&[
            "encryption/identity-first.yaml",
            "--disable",
            "encryption-identity-first,encryption-key-in-clear",
            "--fail-on",
            "warning"
        ]),
        Some(0)
    );
    assert_eq!(only(&["--fail-on", "never"]), Some(0));
    let out = r.kseal(&["check", "--fail-on", "never", "secrets"]);
    assert!(
        stderr(&out).contains(
            "kseal check: 4 files checked, 4 errors (--fail-on never), 1 warning, 2 suppressed"
        ),
        "{}",
        stderr(&out)
    );
    // A rule that does not exist is a usage error, not a silently ignored typo.
    assert_eq!(only(&["--disable", "rbac-secret-list"]), Some(2));
    // The structural MAC: a warning, an error when required (flag or environment).
    assert_eq!(only(&["sops"]), Some(0));
    assert_eq!(only(&["--require-structural-mac", "sops"]), Some(10));
    let o = run(r
        .cmd("kseal")
        .env("KSEAL_REQUIRE_STRUCTURAL_MAC", "1")
        .args(["check", "sops"]));
    assert_eq!(o.status.code(), Some(10), "{}", stdout(&o));
    assert!(
        stdout(&o).starts_with(
            "error: sops/basic-auth.yaml: document 1: sops: the file has no structural MAC"
        ),
        "{}",
        stdout(&o)
    );
    // --max-age: the 2020 file only; the fresh ones pass.
    assert_eq!(only(&["old", "--max-age", "36500d"]), Some(0));
    assert_eq!(only(&["old", "--max-age", "30d"]), Some(10));
    assert_eq!(
        only(&["envelopes/fresh.enc.yaml", "--max-age", "1d"]),
        Some(0)
    );
    // The check: section of .sops.yaml configures the repository; flags still win.
    let rules = r.read(".sops.yaml");
    r.write(
        ".sops.yaml",
        &format!(
            "{rules}check:\n  fail-on: warning\n  disable: [rbac-secrets-list]\n  max-age: 30d\n"
        ),
    );
    assert_eq!(only(&["sops"]), Some(10));
    assert_eq!(only(&["sops", "--fail-on", "error"]), Some(0));
    assert_eq!(only(&["old", "--fail-on", "error"]), Some(10));
    let text = stdout(&r.kseal(&["check", "rbac/roles.yaml"]));
    assert!(
        !text.contains("rbac-secrets-list") && text.contains("[rbac-secrets-get]"),
        "{text}"
    );
    r.write(
        ".sops.yaml",
        &format!("{rules}check:\n  disable: [no-such-rule]\n"),
    );
    let o = r.kseal(&["check", "sops"]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains(".sops.yaml: the check section: `no-such-rule` is not a kseal check rule"),
        "{}",
        stderr(&o)
    );
}

/// Runs `kseal` command lines from the docs in `dir` (kseal on PATH, HOME the sandbox); returns
/// each line's exit code.
fn run_doc_lines(r: &Repo, lines: &[String]) -> Vec<(String, Option<i32>)> {
    let bin = r.sb.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let _ = std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kseal"), bin.join("kseal"));
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    lines
        .iter()
        .map(|l| {
            let o = run(r.cmd("bash").args(["-c", l]).env("PATH", &path));
            (l.clone(), o.status.code())
        })
        .collect()
}

/// The `run:`/`script:` commands of a CI job block in docs/integrations/git.md, as written,
/// without `cargo install` (the test runs this build).
fn ci_commands(block: &str) -> Vec<String> {
    block
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("run: ").or_else(|| {
                l.strip_prefix("- ")
                    .filter(|c| c.starts_with("kseal ") || c.starts_with("cargo "))
            })
        })
        .filter(|c| !c.starts_with("cargo install"))
        .map(str::to_string)
        .collect()
}

/// The fields GitLab's SAST report schema (15.x) requires, checked with Python: version, scan
/// (analyzer, scanner, type sast, times, status), and per vulnerability an id, a severity of
/// the schema's, a location with file and start line, and at least one identifier.
fn gitlab_report(r: &Repo, file: &str, rule: &str) {
    let script = format!(
        "import json,sys,re\nd=json.load(open(sys.argv[1]))\nassert re.fullmatch(r'15\\.\\d+\\.\\d+',d['version'])\ns=d['scan']\nassert s['type']=='sast' and s['status']=='success'\nfor k in ('analyzer','scanner'):\n  assert all(s[k][f] for f in ('id','name','version')) and s[k]['vendor']['name']\nfor k in ('start_time','end_time'):\n  assert re.fullmatch(r'\\d{{4}}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d',s[k])\nv=d['vulnerabilities']\nassert len({{x['id'] for x in v}})==len(v)\nfor x in v:\n  assert x['severity'] in ('Critical','High','Medium','Low','Info','Unknown')\n  assert x['location']['file'] and x['location']['start_line']>=1\n  assert x['identifiers'] and all(i['type'] and i['name'] and i['value'] for i in x['identifiers'])\nassert any(i['value']=='{rule}' for x in v for i in x['identifiers'])\n"
    );
    let o = run(r
        .cmd("python3")
        .args(["-c", &script])
        .arg(r.dir().join(file)));
    assert!(o.status.success(), "{file}: {}", stderr(&o));
}

/// Issue 17: the CI jobs of docs/integrations/git.md (GitHub Actions with upload-sarif, GitLab)
/// and the recipes of docs/check.md run as written: on a clean repository every step passes and
/// the SARIF log validates; with a plain Secret the report steps still pass and the gate fails.
#[test]
fn check_docs_and_ci_jobs_run_as_written() {
    require("python3");
    let git_md = read(&repo().join("docs/integrations/git.md"));
    let blocks = fenced_blocks(&git_md);
    let jobs: Vec<&String> = blocks
        .iter()
        .filter(|(_, lang, b)| {
            lang == "yaml" && (b.contains("upload-sarif") || b.contains(".gitlab-ci.yml"))
        })
        .map(|(_, _, b)| b)
        .collect();
    assert_eq!(jobs.len(), 2, "the GitHub and GitLab jobs");
    let validate = |r: &Repo, file: &str| {
        let o = run(r
            .cmd("python3")
            .arg(repo().join("tests/support/check_report.py"))
            .arg(fixture("check/sarif-schema-2.1.0.json"))
            .stdin(std::fs::File::open(r.dir().join(file)).unwrap()));
        assert!(o.status.success(), "{file}: {}", stderr(&o));
    };
    for job in jobs {
        let cmds = ci_commands(job);
        assert!(
            cmds.len() >= 2 && cmds.last().unwrap() == "kseal check",
            "{cmds:?}"
        );
        let r = Repo::new();
        r.encrypt_new("deploy/db.enc.yaml", SECRET);
        r.write(
            ".sops.yaml",
            &format!(
                "creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n    age: {}\n",
                r.recipient
            ),
        );
        for (cmd, code) in run_doc_lines(&r, &cmds) {
            assert_eq!(code, Some(0), "clean repository: {cmd}");
        }
        validate(&r, "kseal.sarif");
        r.write("deploy/plain.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: p\nstringData:\n  password: hunter2\n");
        let codes = run_doc_lines(&r, &cmds);
        let (gate, report) = codes.split_last().unwrap();
        assert_eq!(gate.1, Some(10), "the gate fails: {}", gate.0);
        assert!(report.iter().all(|(_, c)| *c == Some(0)), "{report:?}");
        validate(&r, "kseal.sarif");
        assert!(r
            .read("kseal.sarif")
            .contains("\"ruleId\": \"unencrypted-secret\""));
        if job.contains("gl-sast-report.json") {
            gitlab_report(&r, "gl-sast-report.json", "unencrypted-secret");
        }
    }

    // docs/check.md: the command block on the fixture repository (errors there: exit 10, a
    // report to a file or --fail-on aside), the suppression example, the check: section.
    let check_md = read(&repo().join("docs/check.md"));
    let blocks = fenced_blocks(&check_md);
    let r = check_repo();
    let lines: Vec<String> = blocks
        .iter()
        .find(|(_, lang, _)| lang == "sh")
        .unwrap()
        .2
        .lines()
        .map(|l| l.split("  #").next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    assert!(lines.len() >= 6, "{lines:?}");
    for (cmd, code) in run_doc_lines(&r, &lines) {
        // deploy/ holds a workload only: warnings (env, a Secret defined elsewhere), exit 0.
        let want = if cmd.contains("deploy/") { 0 } else { 10 };
        assert_eq!(code, Some(want), "{cmd}: the fixture repository has errors");
    }
    let o = r.kseal(&["check", "deploy/", "--workloads"]);
    let text = stdout(&o);
    assert!(
        text.contains("[secret-in-env]") && text.contains("[missing-secret]"),
        "{text}"
    );
    validate(&r, "kseal.sarif");
    assert!(r.read("check.json").starts_with("{\"files\":"));
    let yaml: Vec<&String> = blocks
        .iter()
        .filter(|(_, l, _)| l == "yaml")
        .map(|(_, _, b)| b)
        .collect();
    assert_eq!(yaml.len(), 2);
    let clean = Repo::new();
    clean.write("example.yaml", yaml[0]);
    let o = clean.kseal(&["check", "example.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("1 file checked, no problem, 1 suppressed"),
        "{}",
        stderr(&o)
    );
    clean.write(".sops.yaml", &yaml[1].replace("age1...", &clean.recipient));
    clean.encrypt_new("db.enc.yaml", SECRET);
    let o = clean.kseal(&["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    clean.write("rbac.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\nrules:\n- {apiGroups: [\"\"], resources: [secrets], verbs: [get]}\n");
    // fail-on: warning from the section: a warning now fails.
    assert_eq!(clean.kseal(&["check"]).status.code(), Some(10));
}
