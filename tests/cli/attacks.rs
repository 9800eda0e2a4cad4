//! An attacker's replay of the surfaces that landed with issue 15 (the sops command line, the
//! Vim/Neovim plugin, `encrypt --previous FILE -o FILE`) and the merge driver's recipients
//! check, as issue 19 defines the attackers: someone who can push but holds no key, a local
//! user sharing the machine, and a malicious file handed to an editor plugin. Each finding
//! fails before its fix; the other tests pin defences that held.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::*;

#[derive(Clone, Copy)]
enum Editor {
    Vim,
    Nvim,
}

/// PATH with the kseal under test first (the plugin runs `kseal`).
fn path_with_kseal() -> std::ffi::OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_kseal")).parent().unwrap();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.to_path_buf()];
    dirs.extend(std::env::split_paths(&rest));
    std::env::join_paths(dirs).unwrap()
}

/// A Secret the attacker encrypted for the team's (public) recipient, with `extra` lines
/// in the clear part of the file: `kseal encrypt` is all it takes, no identity.
fn attacker_secret(sb: &Sandbox, rel: &str, canary: &str, extra: &str) -> PathBuf {
    let plain = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n{extra}type: Opaque\nstringData:\n  password: {canary}\n"
    );
    let file = sb.write(rel, &plain);
    ok(run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", &recipient()])
        .arg(&file)));
    file
}

/// Runs `script` headless in the editor with HOME, XDG dirs and TMPDIR in the sandbox.
fn run_editor(sb: &Sandbox, ed: Editor, script: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.vim");
    std::fs::write(&path, script).unwrap();
    let mut cmd = match ed {
        Editor::Vim => Command::new(require("vim")),
        Editor::Nvim => Command::new(require("nvim")),
    };
    match ed {
        Editor::Vim => cmd.args(["-N", "-u", "NONE", "-i", "NONE", "-es", "-S"]),
        Editor::Nvim => cmd.args(["--headless", "-u", "NONE", "-i", "NONE", "-S"]),
    };
    cmd.arg(&path);
    sb.isolate(&mut cmd);
    let home = sb.dir.path();
    std::fs::create_dir_all(sb.path("tmp")).unwrap();
    cmd.env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("TMPDIR", sb.path("tmp"))
        .env("SOPS_AGE_KEY_FILE", key())
        .env("PATH", path_with_kseal())
        .current_dir(home)
        .stdin(Stdio::null());
    run(&mut cmd)
}

/// Attacker (a)/(c): a Secret whose clear part carries a modeline turning the swap and undo
/// files back on. The plugin turns them off before Vim reads the file, but modelines run
/// after BufReadPost, on the decrypted text: before the fix the plaintext went to the swap
/// file (next to the file by default) as soon as Vim synced it. The user has 'modeline' on
/// (Vim's and Neovim's default, except for root in Vim).
fn modeline_in_the_secret(ed: Editor, tag: &str) {
    let sb = Sandbox::new();
    let canary = format!("ModelineCanary{}{tag}", std::process::id());
    let file = attacker_secret(
        &sb,
        "repo/s.yaml",
        &canary,
        "# vim: set swapfile undofile:\n",
    );
    let swp = sb.path("swp");
    std::fs::create_dir_all(&swp).unwrap();
    let result = sb.path("result");
    let script = format!(
        "set modeline directory={swp}// undodir={swp}//\n\
         set runtimepath^={rtp}\nruntime plugin/kseal.vim\nedit {file}\n\
         normal! Go# edited\n\
         silent! preserve\n\
         let s:hits = filter(glob('{swp}/*', 1, 1), 'join(readfile(v:val, \"b\"), \"\") =~# \"{canary}\"')\n\
         call writefile(['decrypted=' . (search('{canary}', 'nw') > 0), 'swapfile=' . &l:swapfile, 'undofile=' . &l:undofile, 'plaintext=' . len(s:hits)], '{result}')\n\
         qa!\n",
        swp = swp.display(),
        rtp = repo().join("contrib/vim").display(),
        file = file.display(),
        result = result.display(),
    );
    let out = run_editor(&sb, ed, &script);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        read(&result).lines().collect::<Vec<_>>(),
        ["decrypted=1", "swapfile=0", "undofile=0", "plaintext=0"]
    );
}

#[test]
fn vim_modeline_in_a_secret_does_not_turn_the_swap_file_back_on() {
    modeline_in_the_secret(Editor::Vim, "vim");
}

#[test]
fn nvim_modeline_in_a_secret_does_not_turn_the_swap_file_back_on() {
    modeline_in_the_secret(Editor::Nvim, "nvim");
}

/// Attacker (a): a Secret pushed with two key groups that both list the team's recipient and
/// the attacker's (the real sops makes it from public keys alone: threshold 2, both shares
/// wrapped for both). The recipients check before a write skipped files with key groups, so
/// the victim's `set` (and `edit`, `encrypt --previous`, the sops edit, the merge driver, all
/// through the same check) wrote a new secret under a data key the attacker holds. Now the
/// file's recipients, group by group, are compared with the rule's.
#[test]
fn key_groups_do_not_bypass_the_recipients_check() {
    require("sops");
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("repo/.git")).unwrap();
    let (team, evil) = (recipient(), public_key(&key2()));
    sb.write(
        "att/.sops.yaml",
        format!("creation_rules:\n  - encrypted_regex: ^(data|stringData)$\n    key_groups:\n      - age: [{team}, {evil}]\n      - age: [{team}, {evil}]\n"),
    );
    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\nstringData:\n  password: x\n";
    let att = sb.write("att/s.yaml", plain);
    ok(run(sb
        .tool("sops")
        .args(["--disable-version-check", "encrypt", "-i"])
        .arg(&att)
        .current_dir(sb.path("att"))));
    sb.write(
        "repo/.sops.yaml",
        format!("creation_rules:\n  - encrypted_regex: ^(data|stringData)$\n    age: {team}\n"),
    );
    let file = sb.write("repo/s.yaml", read(&att));
    let before = read(&file);
    let mut set = sb.kseal();
    set.args(["set", "--identity"])
        .arg(key())
        .arg(&file)
        .args(["stringData.token", "--stdin"])
        .current_dir(sb.path("repo"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = set.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"VictimsNewToken")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), Some(10), "{}", stderr(&out));
    assert!(stderr(&out).contains(&evil), "{}", stderr(&out));
    assert_eq!(read(&file), before, "nothing written");
    // A file whose groups match the rule's groups is still written.
    sb.write(
        "repo/.sops.yaml",
        format!("creation_rules:\n  - encrypted_regex: ^(data|stringData)$\n    key_groups:\n      - age: [{team}, {evil}]\n      - age: [{evil}, {team}]\n"),
    );
    ok(run(sb
        .kseal()
        .args(["set", "--identity"])
        .arg(key())
        .arg(&file)
        .args(["stringData.user", "--value", "admin"])
        .current_dir(sb.path("repo"))));
}

/// A Secret of the team (encrypted for `recipient()`) at `rel`, its password `canary`.
fn team_secret(sb: &Sandbox, rel: &str, canary: &str) -> PathBuf {
    attacker_secret(sb, rel, canary, "")
}

/// Held: a file tampered with by someone without the key (a clear value changed) gives no
/// byte of plaintext on stdout through the sops command line, with or without `--extract`.
#[test]
fn sops_decrypt_of_a_tampered_file_prints_nothing() {
    let sb = Sandbox::new();
    let file = team_secret(&sb, "s.yaml", "TamperCanary");
    let text = read(&file).replace("type: Opaque", "type: kubernetes.io/tls");
    std::fs::write(&file, text).unwrap();
    for extract in [None, Some(r#"["stringData"]["password"]"#)] {
        let mut cmd = sb.kseal();
        cmd.arg("-d").env("SOPS_AGE_KEY_FILE", key());
        if let Some(p) = extract {
            cmd.args(["--extract", p]);
        }
        let out = run(cmd.arg(&file));
        assert_eq!(code(&out), Some(6), "{}", stderr(&out));
        assert!(out.stdout.is_empty(), "partial output with {extract:?}");
        assert!(!stderr(&out).contains("TamperCanary"));
    }
}

/// Held: `sops -d --output` onto a symbolic link a local user planted (in a shared directory)
/// is refused; the link's target keeps its content and no plaintext is written anywhere.
#[test]
fn sops_decrypt_output_does_not_follow_a_planted_link() {
    let sb = Sandbox::new();
    let file = team_secret(&sb, "s.yaml", "LinkCanary");
    let victim = sb.write("attacker/collect.txt", "attacker's file\n");
    let link = sb.path("shared/out.yaml");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let out = run(sb
        .kseal()
        .args(["-d", "--output"])
        .arg(&link)
        .arg(&file)
        .env("SOPS_AGE_KEY_FILE", key()));
    assert_eq!(code(&out), Some(10), "{}", stderr(&out));
    assert_eq!(read(&victim), "attacker's file\n");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
}

/// Held: `sops -e --filename-override PATH /dev/stdin` (VS Code's and IntelliJ's save) does
/// not take its recipients from a `.sops.yaml` every user can write, planted beside PATH.
#[test]
fn sops_encrypt_from_stdin_ignores_a_planted_sops_yaml() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let planted = sb.write(
        "shared/.sops.yaml",
        format!("creation_rules:\n  - age: {}\n", public_key(&key2())),
    );
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666)).unwrap();
    let target = sb.path("shared/new.yaml");
    let mut cmd = sb.kseal();
    cmd.args(["-e", "--filename-override"])
        .arg(&target)
        .arg("/dev/stdin")
        .current_dir(sb.path("shared"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  p: x\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ne!(code(&out), Some(0), "encrypted for the planted rule");
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("ignored"), "{}", stderr(&out));
}

/// Held: the sops edit protocol under a local user's eyes. With umask 000 the buffer's
/// directory is 0700 and the buffer 0600, kseal holds the buffer open while the editor runs,
/// the editor gets no identity variable, and SIGQUIT (not only INT/TERM/HUP) ends the session
/// with the buffer removed and the file untouched.
#[test]
fn sops_edit_buffer_is_private_and_removed_on_sigquit() {
    let sb = Sandbox::new();
    let file = team_secret(&sb, "s.yaml", "EditCanary");
    let before = read(&file);
    let info = sb.path("edinfo");
    let editor = sb.write(
        "ed.sh",
        format!(
            "#!/bin/sh\nd=$(dirname \"$1\")\n{{ stat -c '%a' \"$d\" \"$1\"; env | grep -c -E 'AGE_KEY|KSEAL_AGE|SOPS_AGE'; ls -l /proc/$PPID/fd | grep -c \"$1\"; echo \"$d\"; }} > {}\nkill -QUIT $PPID\nsleep 2\n",
            info.display()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let kseal = sb.kseal().get_program().to_owned();
    let mut sh = Command::new("sh");
    sb.isolate(&mut sh);
    sh.arg("-c")
        .arg("umask 000; exec \"$0\" \"$1\"")
        .arg(kseal)
        .arg(&file)
        .env("EDITOR", &editor)
        .env("SOPS_AGE_KEY_FILE", key())
        .env("KSEAL_AGE_KEY", read(&key()));
    let out = run(&mut sh);
    assert_eq!(code(&out), Some(11), "{}", stderr(&out));
    let lines: Vec<String> = read(&info).lines().map(str::to_string).collect();
    assert_eq!(lines[..4], ["700", "600", "0", "1"], "{lines:?}");
    assert!(!Path::new(&lines[4]).exists(), "buffer left behind");
    assert_eq!(read(&file), before);
}

/// Held: a Secret handed over under a hostile name (leading `-`, quotes, `;`, `$(...)`,
/// backquotes) is decrypted and written back by the plugin without any shell seeing the
/// name: kseal runs as a job with an argument list, and the name is absolute.
fn hostile_file_name(ed: Editor, tag: &str) {
    let sb = Sandbox::new();
    let marker = sb.path(&format!("pwned-{tag}"));
    let name = format!(
        "-x';touch {m};'\"$(touch {m})`touch {m}`.yaml",
        m = marker.display()
    );
    let file = team_secret(&sb, &format!("repo/{name}"), "NameCanary");
    let result = sb.path("result");
    let script = format!(
        "set runtimepath^={rtp}\nruntime plugin/kseal.vim\n\
         execute 'edit' fnameescape('{file}')\n\
         let s:dec = search('NameCanary', 'nw') > 0\n\
         %s/NameCanary/NameCanary2/\n\
         write\n\
         call writefile(['decrypted=' . s:dec, 'modified=' . &modified], '{result}')\n\
         qa!\n",
        rtp = repo().join("contrib/vim").display(),
        file = file.display().to_string().replace('\'', "''"),
        result = result.display(),
    );
    let out = run_editor(&sb, ed, &script);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        read(&result).lines().collect::<Vec<_>>(),
        ["decrypted=1", "modified=0"]
    );
    assert!(!marker.exists(), "a shell ran the file name");
    let plain = ok(run(sb
        .kseal()
        .args(["decrypt", "--identity"])
        .arg(key())
        .arg(&file)));
    assert!(plain.contains("password: NameCanary2"), "{plain}");
}

#[test]
fn vim_hostile_file_name_reaches_no_shell() {
    hostile_file_name(Editor::Vim, "vim");
}

#[test]
fn nvim_hostile_file_name_reaches_no_shell() {
    hostile_file_name(Editor::Nvim, "nvim");
}
