//! `kseal edit` driven by editor scripts and by real vim under tmux: minimal diffs, the
//! decoded view, the error loop, signals, files changed behind kseal's back, and no plaintext
//! left anywhere.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const CANARY: &str = "Canary-7f3a91";

/// A sandbox with an encrypted 5-key Secret `s.yaml` and a private buffer directory.
fn setup() -> (Sandbox, PathBuf) {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.path("buf")).unwrap();
    let plain = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\ntype: Opaque\ndata:\n  user: {}\n  password: {}\n  token: {}\n  blob: /wD+AQ==\nstringData:\n  note: hello\n",
        b64("admin"),
        b64(CANARY),
        b64("tok-123")
    );
    let f = sb.write("s.yaml", &plain);
    ok(run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", &recipient()])
        .arg(&f)));
    (sb, f)
}

/// `kseal edit` with an editor script (a shell snippet run as `sh -c SCRIPT sh FILE`).
fn edit(sb: &Sandbox, file: &Path, script: &str) -> std::process::Output {
    let ed = sb.write(
        "editor.sh",
        format!("#!/bin/sh\nset -e\nf=\"$1\"\n{script}\n"),
    );
    std::fs::set_permissions(&ed, std::fs::Permissions::from_mode(0o755)).unwrap();
    run(sb
        .kseal()
        .arg("edit")
        .arg(file)
        .env("EDITOR", &ed)
        .env("SOPS_AGE_KEY_FILE", key())
        .env("KSEAL_TMPDIR", sb.path("buf")))
}

fn decrypt(sb: &Sandbox, file: &Path) -> String {
    ok(run(sb
        .kseal()
        .args(["decrypt", "--identity"])
        .arg(key())
        .arg(file)))
}

fn assert_no_plaintext_left(sb: &Sandbox) {
    let leftovers: Vec<_> = std::fs::read_dir(sb.path("buf")).unwrap().collect();
    assert!(leftovers.is_empty(), "the buffer directory is not empty");
    for entry in walk(sb.dir.path()) {
        if let Ok(text) = std::fs::read(&entry) {
            let hay = String::from_utf8_lossy(&text);
            assert!(
                !hay.contains(CANARY),
                "plaintext canary found in {}",
                entry.display()
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn changed_lines(a: &str, b: &str) -> Vec<String> {
    assert_eq!(a.lines().count(), b.lines().count(), "line count changed");
    a.lines()
        .zip(b.lines())
        .filter(|(x, y)| x != y)
        .map(|(_, y)| y.trim_start().split(':').next().unwrap().to_string())
        .collect()
}

#[test]
fn changing_one_value_changes_only_its_line_lastmodified_and_mac() {
    let (sb, f) = setup();
    let before = read(&f);
    std::thread::sleep(Duration::from_millis(1100)); // a new lastmodified second
    let o = edit(&sb, &f, "sed -i 's/^  user: admin$/  user: root/' \"$f\"");
    ok(o);
    let after = read(&f);
    let mut changed = changed_lines(&before, &after);
    changed.sort();
    // kseal_mac: the structural MAC covers lastmodified and the MAC, so it changes with them.
    assert_eq!(changed, vec!["kseal_mac", "lastmodified", "mac", "user"]);
    let plain = decrypt(&sb, &f);
    assert!(plain.contains(&format!("  user: {}\n", b64("root"))));
    assert!(plain.contains(&format!("  password: {}\n", b64(CANARY))));
    // The real sops reads the result, MAC verified.
    require("sops");
    let out = ok(run(sb
        .tool("sops")
        .args(["--disable-version-check", "decrypt"])
        .arg(&f)
        .env("SOPS_AGE_KEY_FILE", key())));
    assert!(out.contains(&b64("root")));
    assert_no_plaintext_left(&sb);
}

#[test]
fn the_buffer_shows_decoded_data_in_a_private_place() {
    let (sb, f) = setup();
    let seen = sb.path("seen.txt");
    let script = format!(
        "stat -c '%a' \"$f\" > {s}; stat -c '%a' \"$(dirname \"$f\")\" >> {s}; grep -c '^  password: Canary-7f3a9[1]$' \"$f\" >> {s}; grep -c '^  blob: !!binary /wD+AQ==$' \"$f\" >> {s}; grep -c '^#|' \"$f\" >> {s}",
        s = seen.display()
    );
    let o = edit(&sb, &f, &script);
    ok(o);
    let lines: Vec<String> = read(&seen).lines().map(String::from).collect();
    assert_eq!(lines[0], "600", "buffer file mode");
    assert_eq!(lines[1], "700", "buffer directory mode");
    assert_eq!(lines[2], "1", "data values are shown decoded");
    assert_eq!(lines[3], "1", "binary values stay base64, tagged");
    assert!(
        lines[4].parse::<u32>().unwrap() >= 3,
        "a header explains the view"
    );
    std::fs::remove_file(&seen).unwrap();
    assert_no_plaintext_left(&sb);
}

#[test]
fn an_unchanged_buffer_leaves_the_file_alone() {
    let (sb, f) = setup();
    let before = read(&f);
    let mtime = std::fs::metadata(&f).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let o = edit(&sb, &f, "true");
    assert!(o.status.success());
    assert!(stderr(&o).contains("no changes"), "{}", stderr(&o));
    assert_eq!(read(&f), before);
    assert_eq!(std::fs::metadata(&f).unwrap().modified().unwrap(), mtime);
    assert_no_plaintext_left(&sb);
}

/// An editor script that breaks the YAML on its first run and, on later runs, saves the error
/// line kseal put on top into `second` and repairs the text; `count` counts the runs.
fn break_then_fix(count: &Path, second: &Path) -> String {
    format!(
        "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}\n\
         if [ $n -eq 1 ]; then sed -i 's/^  user: admin$/  user: [unclosed/' \"$f\"; \
         else grep '^#| kseal: error:' \"$f\" > {s}; sed -i 's/^  user: \\[unclosed$/  user: fixed/' \"$f\"; fi",
        c = count.display(),
        s = second.display()
    )
}

/// Issue 13: with no terminal to ask, an invalid save is not reopened (it used to loop
/// hundreds of times a second): exit 11, the file untouched, the editor run once.
#[test]
fn invalid_save_without_a_terminal_stops_with_exit_11() {
    let (sb, f) = setup();
    let before = read(&f);
    let count = sb.path("count");
    let o = edit(&sb, &f, &break_then_fix(&count, &sb.path("second.txt")));
    assert_eq!(o.status.code(), Some(11), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("the edited text is not valid") && err.contains("YAML syntax error"),
        "{err}"
    );
    assert!(err.contains("no terminal to ask"), "{err}");
    assert!(!err.contains(CANARY) && !err.contains("unclosed"), "{err}");
    assert_eq!(read(&count).trim(), "1");
    assert_eq!(read(&f), before);
    assert_no_plaintext_left(&sb);
    // An editor that exits at once without saving anything valid: same, once.
    std::fs::remove_file(&count).unwrap();
    let script = format!(
        "n=$(cat {c} 2>/dev/null || echo 0); echo $((n+1)) > {c}; sed -i 's/^kind: Secret$/kind: ConfigMap/' \"$f\"",
        c = count.display()
    );
    let o = edit(&sb, &f, &script);
    assert_eq!(o.status.code(), Some(11), "{}", stderr(&o));
    assert_eq!(read(&count).trim(), "1");
    assert_eq!(read(&f), before);
    assert_no_plaintext_left(&sb);
}

/// Before: the JSON file sops wrote showed base64 under a header saying values are decoded,
/// and any change reopened the editor with "encrypting JSON ... is not supported yet". Now the
/// buffer is JSON with `data` decoded (a binary value as "!!binary BASE64"), the file is
/// written back in sops's JSON layout, and sops opens it.
#[test]
fn a_json_file_the_sops_cli_wrote_is_edited_as_json() {
    require("sops");
    let sb = Sandbox::new();
    std::fs::create_dir(sb.path("buf")).unwrap();
    let f = sb.write(
        "secret.json",
        std::fs::read(fixture("sops-made/kubectl-secret.json")).unwrap(),
    );
    let seen = sb.path("seen.txt");
    let o = edit(
        &sb,
        &f,
        &format!(
            "cp \"$f\" {}\nsed -i 's/\"a\": \"b\"/\"a\": \"new value\", \"bin\": \"!!binary \\/wD+\"/' \"$f\"",
            seen.display()
        ),
    );
    ok(o);
    let buffer = read(&seen);
    std::fs::remove_file(&seen).unwrap();
    assert!(
        buffer.contains("\n\t\"data\": {\n\t\t\"a\": \"b\"\n\t}\n"),
        "{buffer}"
    );
    let want = "{\n\t\"kind\": \"Secret\",\n\t\"apiVersion\": \"v1\",\n\t\"metadata\": {\n\t\t\"name\": \"x\",\n\t\t\"creationTimestamp\": null\n\t},\n\t\"data\": {\n\t\t\"a\": \"bmV3IHZhbHVl\",\n\t\t\"bin\": \"/wD+\"\n\t}\n}\n";
    assert_eq!(decrypt(&sb, &f), want);
    let by_sops = ok(run(sb
        .tool("sops")
        .env("SOPS_AGE_KEY_FILE", key())
        .args(["decrypt"])
        .arg(&f)));
    assert_eq!(by_sops, want);
    assert!(read(&f).contains("\n\t\"sops\": {\n"));

    // The binary value is shown as "!!binary ..." the next time; unchanged, the file is left
    // alone.
    let before = read(&f);
    let o = edit(&sb, &f, &format!("cp \"$f\" {}", seen.display()));
    ok(o);
    assert!(
        read(&seen).contains("\"bin\": \"!!binary /wD+\""),
        "{}",
        read(&seen)
    );
    std::fs::remove_file(&seen).unwrap();
    assert_eq!(read(&f), before);
    assert_no_plaintext_left(&sb);
}

/// A `kind: List` of Secrets: the items' data is shown decoded, and a change re-encodes only
/// the changed value (before, a List could not even be encrypted).
#[test]
fn the_secrets_of_a_list_are_shown_decoded() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.path("buf")).unwrap();
    let plain = format!(
        "apiVersion: v1\nitems:\n- apiVersion: v1\n  data:\n    password: {}\n  kind: Secret\n  metadata:\n    name: a\n- apiVersion: v1\n  data:\n    token: {}\n  kind: Secret\n  metadata:\n    name: b\nkind: List\nmetadata:\n  resourceVersion: \"\"\n",
        b64(CANARY),
        b64("tok-123")
    );
    let f = sb.write("list.yaml", &plain);
    ok(run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", &recipient()])
        .arg(&f)));
    let before = read(&f);
    let o = edit(
        &sb,
        &f,
        &format!(
            "cp \"$f\" {}\nsed -i 's/token: tok-123/token: tok-456/' \"$f\"",
            sb.path("seen.txt").display()
        ),
    );
    ok(o);
    let seen = read(&sb.path("seen.txt"));
    assert!(
        seen.contains(&format!("    password: {CANARY}\n"))
            && seen.contains("    token: tok-123\n"),
        "{seen}"
    );
    std::fs::remove_file(sb.path("seen.txt")).unwrap();
    assert_eq!(
        decrypt(&sb, &f),
        plain.replace(&b64("tok-123"), &b64("tok-456"))
    );
    let changed = changed_lines(&before, &read(&f));
    assert!(changed.contains(&"token".to_string()), "{changed:?}");
    assert!(
        changed
            .iter()
            .all(|k| ["token", "lastmodified", "mac", "kseal_mac"].contains(&k.as_str())),
        "{changed:?}"
    );
}

/// A tmux server of the test's own (its socket in the sandbox): a session started on a shared
/// server would get that server's environment, not this test's EDITOR.
struct Tmux {
    socket: PathBuf,
    session: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket);
        c
    }
    fn capture(&self) -> String {
        let o = self
            .cmd()
            .args(["capture-pane", "-p", "-J", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
    /// Waits (20 s at most, not a timing assertion) until `ready` holds.
    fn wait_until(&self, what: &str, ready: impl Fn() -> bool) {
        let start = Instant::now();
        while !ready() {
            if start.elapsed() > Duration::from_secs(20) {
                panic!("{what}: {}", self.capture());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    fn send_keys(&self, keys: &str) {
        assert!(self
            .cmd()
            .args(["send-keys", "-t", &self.session, keys])
            .status()
            .unwrap()
            .success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// `kseal edit FILE` in a tmux session (a terminal) with `editor` as EDITOR; returns the
/// server and the file kseal's exit code is written to.
fn edit_in_tmux(sb: &Sandbox, f: &Path, editor: &str) -> (Tmux, PathBuf) {
    require("tmux");
    let t = Tmux {
        socket: sb.path("tmux.sock"),
        session: "kseal-test".to_string(),
    };
    let done = sb.path("done");
    let cmd = format!(
        "{} edit {} ; echo $? > {}",
        env!("CARGO_BIN_EXE_kseal"),
        f.display(),
        done.display()
    );
    let mut tmux = sb.tool("tmux");
    tmux.arg("-S").arg(&t.socket);
    tmux.args([
        "new-session",
        "-d",
        "-s",
        &t.session,
        "-x",
        "200",
        "-y",
        "50",
        &cmd,
    ])
    .env("EDITOR", editor)
    .env("SOPS_AGE_KEY_FILE", key())
    .env("KSEAL_TMPDIR", sb.path("buf"))
    .env("TERM", "xterm");
    assert!(tmux.status().unwrap().success());
    (t, done)
}

/// On a terminal kseal says what is wrong and asks: Enter goes back to the editor (the error
/// on top of the buffer), and the corrected text is saved.
#[test]
fn invalid_save_on_a_terminal_asks_and_enter_reopens() {
    let (sb, f) = setup();
    let count = sb.path("count");
    let second = sb.path("second.txt");
    let editor = sb.write(
        "editor.sh",
        format!(
            "#!/bin/sh\nset -e\nf=\"$1\"\n{}\n",
            break_then_fix(&count, &second)
        ),
    );
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (t, done) = edit_in_tmux(&sb, &f, editor.to_str().unwrap());
    t.wait_until("no prompt", || {
        t.capture()
            .contains("Press Enter to return to the editor, or Ctrl-C to give up")
    });
    let pane = t.capture();
    assert!(pane.contains("YAML syntax error"), "{pane}");
    assert!(!pane.contains(CANARY), "{pane}");
    t.send_keys("Enter");
    t.wait_until("kseal edit did not finish", || done.exists());
    assert_eq!(read(&done).trim(), "0");
    assert_eq!(read(&count).trim(), "2");
    let err = read(&second);
    assert!(err.contains("YAML syntax error"), "{err}");
    assert!(decrypt(&sb, &f).contains(&format!("  user: {}\n", b64("fixed"))));
    assert_no_plaintext_left(&sb);
}

/// Ctrl-C at the question gives up: exit 11, the file untouched, no buffer left.
#[test]
fn invalid_save_on_a_terminal_ctrl_c_gives_up() {
    let (sb, f) = setup();
    let before = read(&f);
    let count = sb.path("count");
    let editor = sb.write(
        "editor.sh",
        format!(
            "#!/bin/sh\nn=$(cat {c} 2>/dev/null || echo 0); echo $((n+1)) > {c}\nsed -i 's/^kind: Secret$/kind: ConfigMap/' \"$1\"\n",
            c = count.display()
        ),
    );
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (t, done) = edit_in_tmux(&sb, &f, editor.to_str().unwrap());
    t.wait_until("no prompt", || t.capture().contains("Ctrl-C to give up"));
    t.send_keys("C-c");
    t.wait_until("kseal edit did not finish", || done.exists());
    assert_eq!(read(&done).trim(), "11");
    assert_eq!(read(&count).trim(), "1");
    assert_eq!(read(&f), before);
    assert_no_plaintext_left(&sb);
}

#[test]
fn editor_killed_by_a_signal_leaves_the_original_and_no_buffer() {
    let (sb, f) = setup();
    let before = read(&f);
    let o = edit(&sb, &f, "sed -i 's/admin/root/' \"$f\"; kill -9 $$");
    assert_eq!(o.status.code(), Some(11), "{}", stderr(&o));
    assert_eq!(read(&f), before);
    assert!(stdout(&o).is_empty());
    assert_no_plaintext_left(&sb);
}

#[test]
fn sigterm_to_kseal_removes_the_buffer() {
    for sig in ["TERM", "HUP", "INT"] {
        let (sb, f) = setup();
        let before = read(&f);
        let ready = sb.path("ready");
        let ed = sb.write(
            "editor.sh",
            format!("#!/bin/sh\ntouch {}\nexec sleep 30\n", ready.display()),
        );
        std::fs::set_permissions(&ed, std::fs::Permissions::from_mode(0o755)).unwrap();
        let child = sb
            .kseal()
            .arg("edit")
            .arg(&f)
            .env("EDITOR", &ed)
            .env("SOPS_AGE_KEY_FILE", key())
            .env("KSEAL_TMPDIR", sb.path("buf"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !ready.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "editor did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string())
            .status()
            .unwrap()
            .success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(11),
            "SIG{sig}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(read(&f), before);
        std::fs::remove_file(&ready).unwrap();
        assert_no_plaintext_left(&sb);
    }
}

#[test]
fn a_file_changed_during_the_edit_is_not_overwritten() {
    let (sb, f) = setup();
    let script = format!(
        "sed -i 's/admin/root/' \"$f\"; echo '# touched' >> {}",
        f.display()
    );
    let o = edit(&sb, &f, &script);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert!(read(&f).ends_with("# touched\n"));
    let sibling = std::fs::read_dir(sb.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("s.yaml.kseal-")
        })
        .expect("the edit is kept in a sibling file");
    assert!(stderr(&o).contains(&sibling.file_name().unwrap().to_string_lossy().to_string()));
    assert!(decrypt(&sb, &sibling).contains(&b64("root")));
    assert_no_plaintext_left(&sb);
}

#[test]
fn a_new_file_starts_from_a_template() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.path("buf")).unwrap();
    let f = sb.path("db-creds.yaml");
    let ed = sb.write(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/password: change-me/password: n3w-pass/' \"$1\"\n",
    );
    std::fs::set_permissions(&ed, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(sb
        .kseal()
        .args(["edit", "--age", &recipient()])
        .arg(&f)
        .env("EDITOR", &ed)
        .env("KSEAL_TMPDIR", sb.path("buf")));
    ok(o);
    let text = read(&f);
    assert!(text.contains("name: db-creds") && !text.contains("n3w-pass"));
    assert!(decrypt(&sb, &f).contains("password: n3w-pass"));
}

/// `kseal edit NEW.yaml` in a directory that does not exist stops (exit 7) before the editor
/// opens, so nothing typed is lost; nothing is created.
#[test]
fn a_new_file_in_a_missing_directory_fails_before_the_editor_opens() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.path("buf")).unwrap();
    let marker = sb.path("editor-ran");
    let ed = sb.write(
        "editor.sh",
        format!("#!/bin/sh\ntouch '{}'\n", marker.display()),
    );
    std::fs::set_permissions(&ed, std::fs::Permissions::from_mode(0o755)).unwrap();
    let f = sb.path("overlays/prod/db.enc.yaml");
    let o = run(sb
        .kseal()
        .args(["edit", "--age", &recipient()])
        .arg(&f)
        .env("EDITOR", &ed)
        .env("KSEAL_TMPDIR", sb.path("buf")));
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("overlays/prod does not exist"), "{err}");
    assert!(err.contains("mkdir -p"), "{err}");
    assert!(!marker.exists(), "the editor was opened");
    assert!(!sb.path("overlays").exists());
}

#[test]
fn vim_under_tmux_edits_a_value() {
    require("vim");
    let (sb, f) = setup();
    let (t, done) = edit_in_tmux(&sb, &f, "vim -u NONE -i NONE -n");
    t.wait_until("vim did not show the buffer", || {
        t.capture().contains("user: admin")
    });
    for keys in [":%s/user: admin/user: vimuser/", "Enter", ":wq", "Enter"] {
        t.send_keys(keys);
    }
    t.wait_until("kseal edit did not finish", || done.exists());
    assert_eq!(read(&done).trim(), "0");
    assert!(decrypt(&sb, &f).contains(&format!("  user: {}\n", b64("vimuser"))));
    std::fs::remove_file(&done).unwrap();
    assert_no_plaintext_left(&sb);
}
