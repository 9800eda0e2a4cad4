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
