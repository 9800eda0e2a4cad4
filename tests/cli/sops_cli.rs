//! The sops command line that editor plugins run, replayed against kseal exactly as each
//! plugin's source runs it (signageos/vscode-sops, Blarc/sops-intellij-plugin, djgoku/sops for
//! Emacs, trixnz/sops.nvim, lucidph3nx/nvim-sops, jsecchiero/vim-sops): arguments, stdin,
//! editor scripts, `--version` parsing and exit codes; the real sops opens every result.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::*;

const CANARY: &str = "Canary-sx15-9d1e";

/// A sandbox with an encrypted Secret `secret.yaml` (from `plain`), a `.sops.yaml` rule for
/// `*.yaml` with the test recipient, and `bin/sops`, the link `kseal sops-link` makes.
struct Env {
    sb: Sandbox,
    file: PathBuf,
    link: PathBuf,
}

fn plain() -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\ntype: Opaque\ndata:\n  password: {}\n  user: {}\nstringData:\n  note: hello\n",
        b64(CANARY),
        b64("admin")
    )
}

fn setup() -> Env {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: .*\\.yaml$\n    age: {}\n",
            recipient()
        ),
    );
    let file = sb.write("secret.yaml", plain());
    ok(run(sb.kseal().args(["encrypt", "-i"]).arg(&file)));
    std::fs::create_dir(sb.path("bin")).unwrap();
    let said = ok(run(sb.kseal().arg("sops-link").arg(sb.path("bin"))));
    assert!(said.contains("bin/sops -> "), "{said}");
    let link = sb.path("bin/sops");
    Env { sb, file, link }
}

impl Env {
    /// A command as a plugin starts it: the program it was configured with, the user's key
    /// in SOPS_AGE_KEY_FILE (as the plugins' settings set it), `bin/` first in PATH.
    fn cmd(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        self.sb.isolate(&mut c);
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.sb.path("bin")];
        dirs.extend(std::env::split_paths(&path));
        c.env("PATH", std::env::join_paths(dirs).unwrap());
        c.env("SOPS_AGE_KEY_FILE", key());
        c
    }
    fn kseal_bin(&self) -> PathBuf {
        PathBuf::from(env!("CARGO_BIN_EXE_kseal"))
    }
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.sb.write(name, body);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

/// What the real sops decrypts a file to, each line without its indentation (sops writes
/// YAML with its own indent of 4).
fn real_sops_decrypt(sb: &Sandbox, file: &Path) -> String {
    require("sops");
    unindent(&ok(run(sb
        .tool("sops")
        .args(["--decrypt", "--input-type", "yaml", "--output-type", "yaml"])
        .arg(file)
        .env("SOPS_AGE_KEY_FILE", key()))))
}

fn unindent(text: &str) -> String {
    text.lines()
        .map(|l| format!("{}\n", l.trim_start()))
        .collect()
}

fn decrypted(sb: &Sandbox, file: &Path) -> String {
    ok(run(sb
        .kseal()
        .arg("decrypt")
        .arg("--identity")
        .arg(key())
        .arg(file)))
}

/// The keys of the lines that differ between two versions of a file (`password`,
/// `lastmodified`...), each side's lines compared as a set.
fn changed_keys(before: &str, after: &str) -> Vec<String> {
    let b: Vec<&str> = before.lines().collect();
    let a: Vec<&str> = after.lines().collect();
    let mut keys: Vec<String> = b
        .iter()
        .filter(|l| !a.contains(l))
        .chain(a.iter().filter(|l| !b.contains(l)))
        .map(|l| l.trim().split(':').next().unwrap_or("").to_string())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Only the edited value, `lastmodified` (unless the second is the same), the MAC and
/// kseal's structural MAC changed.
fn assert_minimal(before: &str, after: &str, edited: &str) {
    let mut keys = changed_keys(before, after);
    keys.retain(|k| k != "lastmodified");
    let mut expected = vec![edited, "kseal_mac", "mac"];
    expected.sort();
    assert_eq!(keys, expected, "{after}");
}

/// No file under `dir` holds any of `needles`.
fn assert_nowhere(dir: &Path, needles: &[&str]) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            assert_nowhere(&p, needles);
        } else if let Ok(bytes) = std::fs::read(&p) {
            let text = String::from_utf8_lossy(&bytes);
            for n in needles {
                assert!(!text.contains(n), "plaintext {n:?} left in {}", p.display());
            }
        }
    }
}

fn with_stdin(cmd: &mut Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// signageos/vscode-sops (src/extension.ts), `sops.binPath` set to kseal: decrypt a private
/// copy named by a hash, save through the fake editor `cat $VSCODE_SOPS_DECRYPTED_FILE_PATH >
/// $1`, and create a new file with a copied `.sops.yaml` after `--config /dev/null`.
#[test]
fn vscode_sops() {
    let e = setup();
    let kseal = e.kseal_bin();
    let general = [
        "--aws-profile",
        "default",
        "--ignore-mac",
        "--config",
        "/dev/null",
    ];
    let tmp = e.sb.path("tmp/9f86d081884c7d659a2feaa0c55ad015");
    std::fs::create_dir(e.sb.path("tmp")).unwrap();
    std::fs::copy(&e.file, &tmp).unwrap();
    let o = run(e
        .cmd(&kseal)
        .args(general)
        .args(["--output-type", "yaml", "--input-type", "yaml", "--decrypt"])
        .arg(&tmp));
    assert_eq!(stdout(&o), plain(), "{}", stderr(&o));
    assert_eq!(code(&o), Some(0));

    // The save: the edited buffer goes in through the fake editor.
    let editor = e.script(
        "tmp/3c59dc048e8850243be8079a5c74d079",
        "#!/bin/sh\ncat $VSCODE_SOPS_DECRYPTED_FILE_PATH > $1\n",
    );
    let before = read(&e.file);
    let save = |buffer: &str| {
        let dec = e.sb.write("tmp/b6d767d2f8ed5d21a44b0e5886680cb9", buffer);
        std::fs::set_permissions(&dec, std::fs::Permissions::from_mode(0o600)).unwrap();
        let enc = e.sb.path("tmp/37693cfc748049e45d87b8c7d8b9aacd");
        std::fs::write(&enc, &before).unwrap();
        let o = run(e
            .cmd(&kseal)
            .args(general)
            .args(["--output-type", "yaml", "--input-type", "yaml"])
            .arg(&enc)
            .env("EDITOR", &editor)
            .env("VSCODE_SOPS_DECRYPTED_FILE_PATH", &dec));
        (o, read(&enc))
    };
    let edited = plain().replace(&b64(CANARY), &b64("new-pass"));
    let (o, after) = save(&edited);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert_minimal(&before, &after, "password");
    let enc = e.sb.path("tmp/37693cfc748049e45d87b8c7d8b9aacd");
    assert_eq!(real_sops_decrypt(&e.sb, &enc), unindent(&edited));
    // Saved unchanged: sops's 200, the file as it was.
    let (o, after) = save(&plain());
    assert_eq!(code(&o), Some(200), "{}", stderr(&o));
    assert_eq!(after, before);

    // A new file: the .sops.yaml copied into a private directory, the file at its relative path.
    let dir = e.sb.path("tmp/0cc175b9c0f1b6a831c399e269772661");
    std::fs::create_dir_all(dir.join("apps")).unwrap();
    std::fs::copy(e.sb.path(".sops.yaml"), dir.join(".sops.yaml")).unwrap();
    let new = dir.join("apps/new.yaml");
    std::fs::write(&new, plain()).unwrap();
    let o = run(e
        .cmd(&kseal)
        .args(general)
        .arg("--config")
        .arg(dir.join(".sops.yaml"))
        .args(["--output-type", "yaml", "--input-type", "yaml", "--encrypt"])
        .arg(&new));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let made = e.sb.write("made.yaml", stdout(&o));
    assert_eq!(real_sops_decrypt(&e.sb, &made), unindent(&plain()));
}

/// The VS Code save trick on a file the real sops wrote: kseal's minimal diff there too.
#[test]
fn vscode_save_trick_on_a_sops_made_file() {
    let e = setup();
    let file = e.sb.path("basic-auth.yaml");
    std::fs::copy(fixture("sops-made/basic-auth.yaml"), &file).unwrap();
    let before = read(&file);
    let buffer = decrypted(&e.sb, &file).replace("username: ", "username: x");
    let dec = e.sb.write("dec", &buffer);
    let editor = e.script(
        "fake",
        "#!/bin/sh\ncat $VSCODE_SOPS_DECRYPTED_FILE_PATH > $1\n",
    );
    let o = run(e
        .cmd(&e.kseal_bin())
        .args([
            "--config",
            "/dev/null",
            "--output-type",
            "yaml",
            "--input-type",
            "yaml",
        ])
        .arg(&file)
        .env("EDITOR", &editor)
        .env("VSCODE_SOPS_DECRYPTED_FILE_PATH", &dec));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let after = read(&file);
    assert_eq!(real_sops_decrypt(&e.sb, &file), unindent(&buffer));
    // sops's own file gains kseal's structural MAC line; nothing else but the value moves.
    let mut keys = changed_keys(&before, &after);
    keys.retain(|k| k != "kseal_mac" && k != "lastmodified");
    assert_eq!(keys, ["mac", "username"]);
}

/// Blarc/sops-intellij-plugin (SopsWrapper.kt, ScriptUtil.kt), the sops path set to the link:
/// `--version` (first line shown), `decrypt FILE` from the file's directory, `decrypt` of a
/// `sopsIntellijPlugin*.yaml` copy, `encrypt [--in-place] FILE`, and the edit whose EDITOR
/// script prints a marker and takes the new text on stdin; stderr output means failure.
#[test]
fn intellij_sops() {
    let e = setup();
    let o = run(e.cmd(&e.link).arg("--version"));
    let first = stdout(&o).lines().next().unwrap_or_default().to_string();
    assert!(first.starts_with("sops 3.11.0 (kseal "), "{first}");
    for program in [&e.link, &e.kseal_bin()] {
        let o = run(e.cmd(program).args(["decrypt", "secret.yaml"]));
        assert_eq!((code(&o), stdout(&o)), (Some(0), plain()), "{}", stderr(&o));
    }
    let copy = e.sb.path("sopsIntellijPlugin4711.yaml");
    std::fs::copy(&e.file, &copy).unwrap();
    let o = run(e.cmd(&e.link).arg("decrypt").arg(&copy));
    assert_eq!(stdout(&o), plain(), "{}", stderr(&o));

    // The edit: EDITOR is the script's path with spaces escaped by a backslash.
    let marker = "8aa203fd-cc7d-4e00-9c2f-af32b872e4c3";
    let script = e.script(
        "simple sops edit/123.sh",
        &format!("#!/usr/bin/env sh\nset -eu\nprintf \"{marker}\"\ncat - > \"$1\"\n"),
    );
    let escaped = script.display().to_string().replace(' ', "\\ ");
    let before = read(&e.file);
    let edited = plain().replace("note: hello", "note: bye");
    std::fs::create_dir(e.sb.path("buf")).unwrap();
    let o = with_stdin(
        e.cmd(&e.link)
            .arg("secret.yaml")
            .env("EDITOR", &escaped)
            .env("KSEAL_TMPDIR", e.sb.path("buf")),
        &edited,
    );
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!((stdout(&o).as_str(), stderr(&o).as_str()), (marker, ""));
    assert_minimal(&before, &read(&e.file), "note");
    assert_eq!(real_sops_decrypt(&e.sb, &e.file), unindent(&edited));
    // The plaintext came on stdin and went into kseal's buffer only: nothing is left.
    assert_eq!(std::fs::read_dir(e.sb.path("buf")).unwrap().count(), 0);
    assert_nowhere(e.sb.dir.path(), &[&b64(CANARY), "note: bye"]);

    // Encrypt to stdout and in place, recipients from .sops.yaml.
    let new = e.sb.write("new.yaml", plain());
    let o = run(e.cmd(&e.link).args(["encrypt", "new.yaml"]));
    let out = e.sb.write("out.yaml", ok(o));
    assert_eq!(real_sops_decrypt(&e.sb, &out), unindent(&plain()));
    ok(run(e.cmd(&e.link).args([
        "encrypt",
        "--in-place",
        "new.yaml",
    ])));
    assert_eq!(real_sops_decrypt(&e.sb, &new), unindent(&plain()));
}

/// djgoku/sops (sops.el), `sops-executable` set to the link: `--version` parsed for >= 3.9,
/// `-d FILE`, and the save `--filename-override FILE --encrypt /dev/stdin` whose output (and
/// stderr, mixed in) replaces the buffer that is saved as the file.
#[test]
fn emacs_sops_mode() {
    let e = setup();
    let version = ok(run(e.cmd(&e.link).arg("--version")));
    let re = regex::Regex::new(r"\d+(\.\d+)+").unwrap();
    assert_eq!(re.find(&version).unwrap().as_str(), "3.11.0");
    // kseal's own --version names kseal's version: Emacs would take its pre-3.9 path.
    let own = ok(run(e.cmd(&e.kseal_bin()).arg("--version")));
    assert!(own.starts_with("kseal "), "{own}");

    let o = run(e.cmd(&e.link).arg("-d").arg(&e.file));
    assert_eq!((code(&o), stdout(&o)), (Some(0), plain()));
    let edited = plain().replace(&b64("admin"), &b64("root"));
    let o = with_stdin(
        e.cmd(&e.link)
            .arg("--filename-override")
            .arg(&e.file)
            .args(["--encrypt", "/dev/stdin"]),
        &edited,
    );
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "stderr would land in the saved file");
    let saved = e.sb.write("saved.yaml", stdout(&o));
    assert_eq!(real_sops_decrypt(&e.sb, &saved), unindent(&edited));

    // The pre-3.9 path: plaintext saved over the file, then `-e -i FILE`.
    let old = e.sb.write("old.yaml", plain());
    ok(run(e.cmd(&e.link).args(["-e", "-i"]).arg(&old)));
    assert_eq!(real_sops_decrypt(&e.sb, &old), unindent(&plain()));
}

/// trixnz/sops.nvim (lua/sops.lua, scripts/sops-editor.sh), which runs `sops` from PATH:
/// `--decrypt --input-type FT --output-type FT PATH` from the file's directory, and the save
/// `sops edit PATH` with SOPS_EDITOR the plugin's script copying SOPS_NVIM_TEMP_FILE over $1.
#[test]
fn trixnz_sops_nvim() {
    let e = setup();
    let o = run(e
        .cmd(Path::new("sops"))
        .args(["--decrypt", "--input-type", "yaml", "--output-type", "yaml"])
        .arg(&e.file)
        .current_dir(e.sb.path(".")));
    assert_eq!((code(&o), stdout(&o)), (Some(0), plain()), "{}", stderr(&o));
    let script = e.script(
        "plugin/scripts/sops-editor.sh",
        "#!/bin/sh\nif [ -z \"$SOPS_NVIM_TEMP_FILE\" ]; then exit 1; fi\n\
         if [ ! -f \"$SOPS_NVIM_TEMP_FILE\" ]; then exit 1; fi\n\
         if [ -z \"$1\" ]; then exit 1; fi\ncat \"$SOPS_NVIM_TEMP_FILE\" >\"$1\"\n",
    );
    // writefile() of the buffer's lines: each line ends with a line break.
    let edited = plain().replace("note: hello", "note: from-nvim");
    let temp = e.sb.write("nvim-temp", &edited);
    let before = read(&e.file);
    let o = run(e
        .cmd(Path::new("sops"))
        .arg("edit")
        .arg(&e.file)
        .env("SOPS_EDITOR", &script)
        .env("SOPS_NVIM_TEMP_FILE", &temp));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_minimal(&before, &read(&e.file), "note");
    assert_eq!(real_sops_decrypt(&e.sb, &e.file), unindent(&edited));
}

/// lucidph3nx/nvim-sops (lua/nvim_sops/commands.lua), `binPath` set to kseal: shell command
/// lines `VAR=... BIN --decrypt --in-place FILE` and `BIN --encrypt --in-place FILE`.
#[test]
fn lucidph3nx_nvim_sops() {
    let e = setup();
    let line = |args: &str| {
        format!(
            "SOPS_AGE_KEY_FILE={} {} {args} {}",
            key().display(),
            e.kseal_bin().display(),
            e.file.display()
        )
    };
    let sh = |cmd: String| run(e.cmd(Path::new("sh")).arg("-c").arg(cmd));
    ok(sh(line("--decrypt --in-place")));
    assert_eq!(read(&e.file), plain());
    ok(sh(line("--encrypt --in-place")));
    assert!(read(&e.file).contains("mac: ENC["));
    assert_eq!(real_sops_decrypt(&e.sb, &e.file), unindent(&plain()));
}

/// jsecchiero/vim-sops (plugin/sops.vim), `sops` from PATH through the shell: `sops -d FILE`
/// tells encrypted files (a plain one must fail), and `EDITOR='vim --servername VIM
/// --remote-wait' sops FILE &`, whose buffer the plugin finds among the sops process's open
/// files (/proc/PID/fd): kseal holds the buffer open as sops does.
#[test]
fn jsecchiero_vim_sops() {
    let e = setup();
    let sh = |cmd: &str| run(e.cmd(Path::new("sh")).arg("-c").arg(cmd));
    let f = e.file.display().to_string();
    assert_eq!(code(&sh(&format!("sops -d {f}"))), Some(0));
    let plainfile = e.sb.write("plain-secret.yaml", plain());
    let o = sh(&format!("sops -d {}", plainfile.display()));
    assert_eq!(code(&o), Some(10), "a plain file must not look decryptable");

    // The editor stands in for `vim --remote-wait`: it finds its buffer the way the plugin
    // does, checks the name and mode, then saves a change.
    let editor = e.script(
        "vim",
        "#!/bin/sh\nfor last; do :; done\nfound=\nfor s in /proc/$PPID/fd/*; do\n  \
         [ \"$(readlink $s)\" = \"$last\" ] && found=yes\ndone\n[ -n \"$found\" ] || exit 3\n\
         [ \"$(basename \"$last\")\" = secret.yaml ] || exit 4\n\
         [ \"$(stat -c %a \"$last\")\" = 600 ] || exit 5\n\
         sed -i 's/note: hello/note: vim/' \"$last\"\n",
    );
    let before = read(&e.file);
    let o = sh(&format!(
        "EDITOR='{} --servername VIM --remote-wait' sops {f}",
        editor.display()
    ));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_minimal(&before, &read(&e.file), "note");
    assert!(real_sops_decrypt(&e.sb, &e.file).contains("note: vim"));
}

/// What the sops command line refuses (kseal's unsupported kind, exit 9; an unknown flag is a
/// usage error), no editor (201), and the other subcommands.
#[test]
fn sops_features_kseal_refuses_and_the_rest() {
    let e = setup();
    let f = e.file.display().to_string();
    for args in [
        vec![
            "--pgp",
            "85D77543B3D624B63CEA9E6DBC17301B491B3F21",
            "-e",
            "secret.yaml",
        ],
        vec![
            "--kms",
            "arn:aws:kms:us-east-1:1:key/x",
            "-e",
            "secret.yaml",
        ],
        vec![
            "--hc-vault-transit",
            "https://vault/v1/sops/keys/k",
            "-e",
            "secret.yaml",
        ],
        vec!["--input-type", "dotenv", "-d", &f],
        vec!["--output-type", "ini", "-d", &f],
        vec!["--input-type", "binary", "-d", &f],
        vec!["--output-type", "json", "-d", &f],
        vec!["--encrypted-regex", "^password$", "-e", "secret.yaml"],
    ] {
        let o = run(e.cmd(&e.link).args(&args));
        assert_eq!(code(&o), Some(9), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("not supported") || stderr(&o).contains("kseal "),
            "{}",
            stderr(&o)
        );
    }
    let o = run(e.cmd(&e.link).args(["--frobnicate", &f]));
    assert_eq!(code(&o), Some(2));
    // Empty key-source flags and sops's own settings are accepted.
    let o = run(e.cmd(&e.link).args([
        "--pgp",
        "",
        "--disable-version-check",
        "--verbose",
        "-d",
        &f,
    ]));
    assert_eq!(stdout(&o), plain());

    // No editor: exit 201, the file untouched.
    let before = read(&e.file);
    let o = run(e.cmd(&e.link).arg(&f).env("PATH", e.sb.path("bin")));
    assert_eq!(code(&o), Some(201), "{}", stderr(&o));
    assert_eq!(read(&e.file), before);

    let o = run(e
        .cmd(&e.link)
        .args(["--extract", r#"["data"]["password"]"#, "-d", &f]));
    assert_eq!(stdout(&o), b64(CANARY));
    assert_eq!(
        ok(run(e.cmd(&e.link).args(["filestatus", &f]))),
        "{\"encrypted\":true}\n"
    );
    ok(run(e.cmd(&e.link).args([
        "set",
        &f,
        r#"["stringData"]["note"]"#,
        r#""set by sops""#,
    ])));
    ok(run(e.cmd(&e.link).args([
        "unset",
        &f,
        r#"["data"]["user"]"#,
    ])));
    let now = real_sops_decrypt(&e.sb, &e.file);
    assert!(
        now.contains("note: set by sops") && !now.contains("user:"),
        "{now}"
    );

    let out = e.sb.path("out.yaml");
    ok(run(e
        .cmd(&e.link)
        .args(["-d", "--output"])
        .arg(&out)
        .arg(&f)));
    assert_eq!(read(&out), decrypted(&e.sb, &e.file));
    ok(run(e.cmd(&e.link).args(["updatekeys", "-y", &f])));
    let o = run(e.cmd(&e.link).args(["rotate", &f]));
    assert_eq!(code(&o), Some(9), "{}", stderr(&o));
    let before = read(&e.file);
    ok(run(e.cmd(&e.link).args(["rotate", "-i", &f])));
    let after = read(&e.file);
    assert!(
        !after.contains(before.lines().nth(7).unwrap()),
        "rotate kept the ciphertext"
    );
    assert_eq!(
        real_sops_decrypt(&e.sb, &e.file),
        unindent(&decrypted(&e.sb, &e.file))
    );

    // The link is made once; an existing sops that is not the link is left alone.
    ok(run(e.sb.kseal().arg("sops-link").arg(e.sb.path("bin"))));
    std::fs::create_dir(e.sb.path("other")).unwrap();
    e.sb.write("other/sops", "#!/bin/sh\n");
    let o = run(e.sb.kseal().arg("sops-link").arg(e.sb.path("other")));
    assert_eq!(code(&o), Some(10), "{}", stderr(&o));
}

/// docs/editors.md's "Editor plugins made for sops": the shell block runs as written, in a
/// HOME of its own with kseal on PATH, and `sops --version` is then kseal's answer.
#[test]
fn the_docs_link_recipe_runs_as_written() {
    let doc = read(&repo().join("docs/editors.md"));
    let start = doc
        .find("## Editor plugins made for sops")
        .expect("the section");
    let section = &doc[start..];
    let open = section.find("```sh\n").expect("a sh block") + 6;
    let block = &section[open..open + section[open..].find("```").unwrap()];
    let sb = Sandbox::new();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_kseal"));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.parent().unwrap().to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    let out = ok(run(sb
        .tool("sh")
        .args(["-ec", block])
        .env("PATH", std::env::join_paths(dirs).unwrap())));
    assert!(
        out.ends_with(&format!(
            "sops 3.11.0 (kseal {})\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{out}"
    );
    let link = sb.path(".local/bin/sops");
    assert_eq!(
        std::fs::canonicalize(link).unwrap(),
        std::fs::canonicalize(bin).unwrap()
    );
}

/// An invalid save (no terminal to ask on): exit 11, the file as it was, no buffer left.
#[test]
fn an_invalid_save_leaves_the_file_untouched() {
    let e = setup();
    let before = read(&e.file);
    std::fs::create_dir(e.sb.path("buf")).unwrap();
    let editor = e.script("ed.sh", "#!/bin/sh\nprintf 'kind: [unclosed\\n' > \"$1\"\n");
    let o = run(e
        .cmd(&e.link)
        .arg(&e.file)
        .env("EDITOR", &editor)
        .env("KSEAL_TMPDIR", e.sb.path("buf"))
        .stdin(Stdio::null()));
    assert_eq!(code(&o), Some(11), "{}", stderr(&o));
    assert_eq!(read(&e.file), before);
    assert_eq!(std::fs::read_dir(e.sb.path("buf")).unwrap().count(), 0);
    assert!(!stderr(&o).contains(&b64(CANARY)));
}

/// `sops NEW.yaml`, as in sops: the editor starts from an example (kseal's Secret template);
/// saved with a change, the file is encrypted for the `.sops.yaml` rule and the real sops opens
/// it; saved unchanged, nothing is written (200); a missing directory fails before the editor.
#[test]
fn sops_new_file_starts_from_the_template() {
    let e = setup();
    let fresh = e.sb.path("new.yaml");
    // The "editor" swaps the template's password for the canary.
    let editor = e.script(
        "ed-change.sh",
        &format!("#!/bin/sh\nsed -i 's/change-me/{CANARY}/' \"$1\"\n"),
    );
    let o = run(e.cmd(&e.link).arg(&fresh).env("EDITOR", &editor));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let enc = read(&fresh);
    assert!(enc.contains("\nsops:\n") && !enc.contains(CANARY), "{enc}");
    assert!(enc.contains(&recipient()), "{enc}");
    let back = real_sops_decrypt(&e.sb, &fresh);
    assert!(back.contains(&format!("password: {CANARY}")), "{back}");
    assert!(back.contains("name: new"), "{back}");

    // Saved unchanged: exit 200 and no file.
    let other = e.sb.path("untouched.yaml");
    let o = run(e.cmd(&e.link).arg(&other).env("EDITOR", "true"));
    assert_eq!(code(&o), Some(200), "{}", stderr(&o));
    assert!(!other.exists());

    // A directory that does not exist: refused before the editor runs.
    let marker = e.sb.path("editor-ran");
    let editor = e.script(
        "ed-mark.sh",
        &format!("#!/bin/sh\ntouch {}\n", marker.display()),
    );
    let o = run(e
        .cmd(&e.link)
        .arg(e.sb.path("nodir/x.yaml"))
        .env("EDITOR", &editor));
    assert_ne!(code(&o), Some(0));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert!(!marker.exists(), "the editor ran");
}
