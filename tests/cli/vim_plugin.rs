//! The Vim/Neovim plugin (contrib/vim) in the real `vim` and `nvim`, headless: open an encrypted
//! Secret, edit, write; the minimal diff, kseal's errors in the command line with the file
//! untouched, `:e!`, the refusals, and no plaintext left under HOME, TMPDIR or /dev/shm (nor
//! any file created in TMPDIR while the editor runs, watched with inotify).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::common::*;

#[derive(Clone, Copy, PartialEq)]
enum Editor {
    Vim,
    Nvim,
}

/// A sandbox (HOME, with the editor's own state dirs in it), a private TMPDIR inside it, the
/// encrypted Secret `repo/s.yaml`, and canaries for the old and the new password.
struct Setup {
    sb: Sandbox,
    file: PathBuf,
    old: String,
    new: String,
    /// The test's own Vim scripts: outside HOME and TMPDIR, as they name the canaries.
    scripts: tempfile::TempDir,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let sb = Sandbox::new();
        std::fs::create_dir_all(sb.path("tmp")).unwrap();
        let id = format!("{}-{tag}", std::process::id());
        let (old, new) = (format!("OldCanary-{id}-x"), format!("NewCanary-{id}-y"));
        let plain = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\ntype: Opaque\ndata:\n  user: {}\n  password: {}\n  token: {}\nstringData:\n  note: hello\n",
            b64("admin"),
            b64(&old),
            b64("tok-123")
        );
        let file = sb.write("repo/s.yaml", &plain);
        ok(run(sb
            .kseal()
            .args(["encrypt", "-i", "--age", &recipient()])
            .arg(&file)));
        let scripts = tempfile::tempdir().unwrap();
        Setup {
            sb,
            file,
            old,
            new,
            scripts,
        }
    }

    /// The strings that must not be found on disk: the values and their base64 (the buffer
    /// shows `data` values as base64).
    fn canaries(&self) -> Vec<String> {
        vec![
            self.old.clone(),
            self.new.clone(),
            b64(&self.old),
            b64(&self.new),
        ]
    }

    /// Runs `body` (Vim script) in the editor after loading contrib/vim and opening the file.
    fn edit(&self, ed: Editor, body: &str) -> Output {
        let rtp = repo().join("contrib/vim");
        self.script(
            ed,
            &format!(
                "set runtimepath^={}\nruntime plugin/kseal.vim\nedit {}\n{body}\n",
                rtp.display(),
                self.file.display()
            ),
        )
    }

    /// Runs a Vim script in the editor, headless, with HOME and TMPDIR in the sandbox.
    fn script(&self, ed: Editor, text: &str) -> Output {
        run_with_deadline(self.script_cmd(ed, text))
    }

    fn script_cmd(&self, ed: Editor, text: &str) -> Command {
        let script = self.scripts.path().join("test.vim");
        std::fs::write(&script, text).unwrap();
        // Without -i NONE or --clean: the viminfo/ShaDa file is written at exit, so the
        // canary search also checks the plugin kept registers and history out of it.
        let mut cmd = match ed {
            Editor::Vim => Command::new(require("vim")),
            Editor::Nvim => Command::new(require("nvim")),
        };
        match ed {
            Editor::Vim => cmd.args(["-N", "-u", "NONE", "-es", "-S"]),
            Editor::Nvim => cmd.args(["--headless", "-u", "NONE", "-S"]),
        };
        cmd.arg(&script);
        self.env(&mut cmd);
        cmd
    }

    /// HOME, the XDG dirs inside it, TMPDIR, the key, and kseal first on PATH.
    fn env(&self, cmd: &mut Command) {
        self.sb.isolate(cmd);
        let home = self.sb.dir.path();
        cmd.env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("TMPDIR", self.sb.path("tmp"))
            .env("SOPS_AGE_KEY_FILE", key())
            .env("PATH", path_with_kseal())
            .current_dir(self.file.parent().unwrap());
    }

    fn decrypt(&self) -> String {
        ok(run(self
            .sb
            .kseal()
            .args(["decrypt", "--identity"])
            .arg(key())
            .arg(&self.file)))
    }

    /// The files under HOME (TMPDIR is inside it) and /dev/shm holding a canary.
    fn plaintext_found(&self) -> Vec<PathBuf> {
        let canaries = self.canaries();
        let mut found = Vec::new();
        for root in [self.sb.dir.path(), Path::new("/dev/shm")] {
            for f in walk(root) {
                let Ok(bytes) = std::fs::read(&f) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&bytes);
                if canaries.iter().any(|c| text.contains(c.as_str())) {
                    found.push(f);
                }
            }
        }
        found
    }

    /// No canary on disk, and TMPDIR empty after the editor exited.
    fn assert_no_plaintext_left(&self) {
        assert_eq!(
            self.plaintext_found(),
            Vec::<PathBuf>::new(),
            "plaintext left"
        );
        let left: Vec<_> = std::fs::read_dir(self.sb.path("tmp")).unwrap().collect();
        assert!(left.is_empty(), "TMPDIR not empty after exit: {left:?}");
    }
}

/// PATH with the kseal under test first.
fn path_with_kseal() -> std::ffi::OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_kseal")).parent().unwrap();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.to_path_buf()];
    dirs.extend(std::env::split_paths(&rest));
    std::env::join_paths(dirs).unwrap()
}

/// Runs an editor with no terminal; a generous deadline only stops a hung editor.
fn run_with_deadline(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn the editor");
    let pid = child.id() as libc::pid_t;
    let (done, wait) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if wait.recv_timeout(Duration::from_secs(300)).is_err() {
            // SAFETY: kill has no memory preconditions; the pid is our unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let out = child.wait_with_output().expect("wait for the editor");
    let _ = done.send(());
    watchdog.join().unwrap();
    assert!(out.status.code().is_some(), "the editor was killed (hung?)");
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => out.extend(walk(&p)),
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
    out
}

/// The keys of the lines that differ, as `git diff` would show them (same line count).
fn changed_keys(a: &str, b: &str) -> Vec<String> {
    assert_eq!(a.lines().count(), b.lines().count(), "line count changed");
    let mut keys: Vec<String> = a
        .lines()
        .zip(b.lines())
        .filter(|(x, y)| x != y)
        .map(|(_, y)| y.trim_start().split(':').next().unwrap().to_string())
        .collect();
    keys.sort();
    keys
}

/// Every entry created directly in a directory while it is watched (inotify).
struct Created {
    fd: libc::c_int,
}

impl Created {
    fn watch(dir: &Path) -> Created {
        // SAFETY: plain syscalls on a fresh descriptor and a NUL-terminated path.
        unsafe {
            let fd = libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC);
            assert!(fd >= 0, "inotify_init1");
            let c = CString::new(dir.as_os_str().as_bytes()).unwrap();
            let mask = libc::IN_CREATE | libc::IN_MOVED_TO;
            assert!(libc::inotify_add_watch(fd, c.as_ptr(), mask) >= 0);
            Created { fd }
        }
    }

    /// (name, is a directory) of each entry created since `watch`.
    fn entries(&self) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: reads into a buffer of the given length.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return out;
            }
            let mut at = 0;
            while at < n as usize {
                let mask = u32::from_ne_bytes(buf[at + 4..at + 8].try_into().unwrap());
                let len = u32::from_ne_bytes(buf[at + 12..at + 16].try_into().unwrap()) as usize;
                let name = &buf[at + 16..at + 16 + len];
                let name = String::from_utf8_lossy(name)
                    .trim_end_matches('\0')
                    .to_string();
                out.push((name, mask & libc::IN_ISDIR != 0));
                at += 16 + len;
            }
        }
    }
}

impl Drop for Created {
    fn drop(&mut self) {
        // SAFETY: closes the descriptor this value owns.
        unsafe { libc::close(self.fd) };
    }
}

/// Vim creates nothing in TMPDIR (its system() would: the plugin uses jobs); Neovim only its
/// own private, empty-at-exit directory, made at start-up.
fn assert_nothing_created_in_tmpdir(ed: Editor, created: &Created) {
    for (name, dir) in created.entries() {
        assert!(
            ed == Editor::Nvim && dir && name.starts_with("nvim"),
            "{name} was created in TMPDIR while the editor ran"
        );
    }
}

fn changes_one_value(ed: Editor, tag: &str) {
    let s = Setup::new(tag);
    let before = read(&s.file);
    std::thread::sleep(Duration::from_millis(1100)); // a new lastmodified second
    let created = Created::watch(&s.sb.path("tmp"));
    // The yank fills registers and the :s the search history: neither may reach the
    // viminfo/ShaDa file.
    let out = s.edit(
        ed,
        &format!("/password:/yank\n%s/{}/{}/\nwq\n", b64(&s.old), b64(&s.new)),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_nothing_created_in_tmpdir(ed, &created);
    let after = read(&s.file);
    assert_eq!(
        changed_keys(&before, &after),
        ["kseal_mac", "lastmodified", "mac", "password"]
    );
    let plain = s.decrypt();
    assert!(plain.contains(&format!("  password: {}\n", b64(&s.new))));
    assert!(plain.contains(&format!("  user: {}\n", b64("admin"))));
    // The real sops opens the result, MAC verified.
    require("sops");
    let sops = ok(run(s
        .sb
        .tool("sops")
        .args(["--disable-version-check", "decrypt"])
        .arg(&s.file)
        .env("SOPS_AGE_KEY_FILE", key())));
    assert!(sops.contains(&b64(&s.new)));
    s.assert_no_plaintext_left();
}

#[test]
fn vim_changes_one_value_and_leaves_no_plaintext() {
    changes_one_value(Editor::Vim, "vim-one");
}

#[test]
fn nvim_changes_one_value_and_leaves_no_plaintext() {
    changes_one_value(Editor::Nvim, "nvim-one");
}

/// What the script leaves in `result` (never a value: only flags and kseal's messages).
fn result(s: &Setup) -> Vec<String> {
    read(&s.file.parent().unwrap().join("result"))
        .lines()
        .map(str::to_string)
        .collect()
}

fn invalid_edit_is_refused(ed: Editor, tag: &str) {
    let s = Setup::new(tag);
    let before = std::fs::read(&s.file).unwrap();
    let out = s.edit(
        ed,
        "%s/^kind: Secret$/kind: [broken/\nwq\n\
         call writefile([&modified, v:errmsg] + split(execute('messages'), \"\\n\"), 'result')\nqa!\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&s.file).unwrap(), before, "the file changed");
    let r = result(&s);
    assert_eq!(r[0], "1", "the buffer is no longer modified");
    // v:errmsg, and the same line in the message history (what the command line showed).
    assert!(
        r[1].starts_with("kseal: not written, s.yaml is unchanged: kseal: error:")
            && r[1].contains("YAML syntax error at line 3"),
        "{r:?}"
    );
    assert!(r[2..].contains(&r[1]), "{r:?}");
    std::fs::remove_file(s.file.parent().unwrap().join("result")).unwrap();
    s.assert_no_plaintext_left();
}

#[test]
fn vim_invalid_edit_leaves_the_file_and_shows_the_error() {
    invalid_edit_is_refused(Editor::Vim, "vim-bad");
}

#[test]
fn nvim_invalid_edit_leaves_the_file_and_shows_the_error() {
    invalid_edit_is_refused(Editor::Nvim, "nvim-bad");
}

/// `:e!` decrypts again; `:w` of an unchanged buffer writes nothing; writing the plaintext to
/// another file is refused; a file changed on disk is not overwritten by `:w`, but by `:w!`.
fn reload_and_refusals(ed: Editor, tag: &str) {
    let s = Setup::new(tag);
    let before = std::fs::read(&s.file).unwrap();
    let (old, new) = (b64(&s.old), b64(&s.new));
    let out = s.edit(
        ed,
        &format!(
            "let r = [&swapfile, &undofile, &filetype]\n\
             %s/{old}/{new}/\n\
             edit!\n\
             let r += [search('password: {old}$', 'nw') > 0, &modified]\n\
             let h = readfile('{file}', 'b')\n\
             write\n\
             let r += [v:errmsg, readfile('{file}', 'b') ==# h && execute('messages') =~# 'kseal: no changes, s.yaml left as it was']\n\
             %s/{old}/{new}/\n\
             write ../other.yaml\n\
             let r += [v:errmsg]\n\
             let v:errmsg = ''\n\
             1,3write ../other3.yaml\n\
             let r += [v:errmsg]\n\
             call writefile(readfile('{file}') + ['# touched'], '{file}')\n\
             write\n\
             let r += [v:errmsg, &modified]\n\
             write!\n\
             let r += [&modified]\n\
             let v:errmsg = ''\n\
             saveas ../other2.yaml\n\
             let r += [v:errmsg]\n\
             call writefile(r, '../result')\n\
             qa!\n",
            file = s.file.display()
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let r = read(&s.sb.path("result"));
    let r: Vec<&str> = r.lines().collect();
    assert_eq!(r[..5], ["0", "0", "yaml", "1", "0"], "{r:?}");
    assert_eq!(r[5..7], ["", "1"], "an unchanged :w writes nothing: {r:?}");
    let r = &r[1..];
    assert!(
        r[6].starts_with("kseal: refusing to write the plaintext of"),
        "{r:?}"
    );
    assert!(
        r[7].starts_with("kseal: refusing to write the plaintext of"),
        "{r:?}"
    );
    assert!(
        r[8].contains("changed on disk since it was decrypted"),
        "{r:?}"
    );
    assert_eq!(r[9..11], ["1", "0"], "{r:?}");
    assert!(
        r[11].starts_with("kseal: refusing to write the plaintext of"),
        "{r:?}"
    );
    for other in ["other.yaml", "other2.yaml", "other3.yaml"] {
        assert!(!s.sb.path(other).exists(), "{other} was written");
    }
    // :w! re-encrypted into the changed file's envelope; the comment added on disk is gone.
    assert_ne!(std::fs::read(&s.file).unwrap(), before);
    assert!(s.decrypt().contains(&format!("  password: {new}\n")));
    assert!(!read(&s.file).contains("# touched"));
    std::fs::remove_file(s.sb.path("result")).unwrap();
    s.assert_no_plaintext_left();
}

#[test]
fn vim_reloads_and_refuses_unsafe_writes() {
    reload_and_refusals(Editor::Vim, "vim-refuse");
}

#[test]
fn nvim_reloads_and_refuses_unsafe_writes() {
    reload_and_refusals(Editor::Nvim, "nvim-refuse");
}

/// A new file matching g:kseal_patterns is encrypted on :w for its .sops.yaml rule.
fn new_file_by_pattern(ed: Editor, tag: &str) {
    let s = Setup::new(tag);
    s.sb.write(
        "repo/.sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: {}\n",
            recipient()
        ),
    );
    let new = s.sb.path("repo/new.enc.yaml");
    let out = s.script(
        ed,
        &format!(
            "let g:kseal_patterns = ['*.enc.yaml']\n\
             set runtimepath^={}\nruntime plugin/kseal.vim\n\
             edit {}\n\
             call setline(1, ['apiVersion: v1', 'kind: Secret', 'metadata:', '  name: new', 'stringData:', '  token: {}'])\n\
             wq\n",
            repo().join("contrib/vim").display(),
            new.display(),
            s.new
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = read(&new);
    assert!(text.contains("token: ENC[AES256_GCM,"), "{text}");
    let plain = ok(run(s
        .sb
        .kseal()
        .args(["decrypt", "--identity"])
        .arg(key())
        .arg(&new)));
    assert!(plain.contains(&format!("  token: {}\n", s.new)), "{plain}");
    s.assert_no_plaintext_left();
}

#[test]
fn vim_encrypts_a_new_file_matching_the_patterns() {
    new_file_by_pattern(Editor::Vim, "vim-new");
}

#[test]
fn nvim_encrypts_a_new_file_matching_the_patterns() {
    new_file_by_pattern(Editor::Nvim, "nvim-new");
}

/// The control for the canary search: with g:kseal_keep_viminfo the yanked plaintext does
/// reach the viminfo/ShaDa file under HOME, and the search finds it there.
fn kept_viminfo_holds_the_yank(ed: Editor, tag: &str) {
    let s = Setup::new(tag);
    let out = s.script(
        ed,
        &format!(
            "let g:kseal_keep_viminfo = 1\n\
             set runtimepath^={}\nruntime plugin/kseal.vim\n\
             edit {}\n/password:/yank\nqa!\n",
            repo().join("contrib/vim").display(),
            s.file.display()
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let found = s.plaintext_found();
    let name = match ed {
        Editor::Vim => ".viminfo",
        Editor::Nvim => "main.shada",
    };
    assert!(
        found.iter().any(|f| f.ends_with(name)),
        "no canary in {name}: {found:?}"
    );
}

#[test]
fn vim_control_kept_viminfo_holds_the_yank() {
    kept_viminfo_holds_the_yank(Editor::Vim, "vim-ctl");
}

#[test]
fn nvim_control_kept_shada_holds_the_yank() {
    kept_viminfo_holds_the_yank(Editor::Nvim, "nvim-ctl");
}

/// The fenced blocks of docs/editors.md's plugin section, as (language, text), with the
/// repository's real path for `/path/to/kseal`.
fn doc_blocks() -> Vec<(String, String)> {
    let doc = read(&repo().join("docs/editors.md"));
    let start = doc
        .find("## Vim and Neovim: the kseal plugin")
        .expect("the plugin section");
    let section = &doc[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let nl = after.find('\n').unwrap();
        let body = &after[nl + 1..];
        let close = body.find("```").unwrap();
        let text = body[..close].replace("/path/to/kseal", repo().to_str().unwrap());
        blocks.push((after[..nl].to_string(), text));
        rest = &body[close + 3..];
    }
    blocks
}

/// The install recipes as written: the runtimepath line in vimrc/init.vim, or the package
/// links made by the shell block; with the options block, whose identity file opens the
/// Secret (no SOPS_AGE_KEY_FILE). Vim and Neovim start with the user's configuration.
fn doc_install(ed: Editor, package: bool) {
    let blocks = doc_blocks();
    let langs: Vec<&str> = blocks.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        langs,
        ["vim", "sh", "vim"],
        "the section's code blocks changed"
    );
    let s = Setup::new(if package { "doc-pack" } else { "doc-rtp" });
    let home = s.sb.dir.path();
    std::fs::create_dir_all(home.join(".age")).unwrap();
    std::fs::copy(key(), home.join(".age/kseal.txt")).unwrap();
    let vimrc = if package {
        ok(run(s.sb.tool("sh").args(["-ec", &blocks[1].1])));
        blocks[2].1.clone()
    } else {
        format!("{}{}", blocks[0].1, blocks[2].1)
    };
    s.sb.write(".vimrc", &vimrc);
    s.sb.write(".config/nvim/init.vim", &vimrc);
    let script = s.scripts.path().join("doc.vim");
    std::fs::write(
        &script,
        format!(
            "edit {}\n\
             let r = [exists('g:loaded_kseal'), search('^  note: hello$', 'nw') > 0]\n\
             help kseal\n\
             let r += [expand('%:t')]\n\
             call writefile(r, '{}')\n\
             qa!\n",
            s.file.display(),
            s.sb.path("result").display()
        ),
    )
    .unwrap();
    let mut cmd = match ed {
        Editor::Vim => Command::new(require("vim")),
        Editor::Nvim => Command::new(require("nvim")),
    };
    match ed {
        Editor::Vim => cmd.arg("--not-a-term"),
        Editor::Nvim => cmd.arg("--headless"),
    };
    cmd.arg("-S").arg(&script);
    s.env(&mut cmd);
    cmd.env_remove("SOPS_AGE_KEY_FILE");
    let out = run_with_deadline(cmd);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = read(&s.sb.path("result"));
    assert_eq!(r.lines().collect::<Vec<_>>(), ["1", "1", "kseal.txt"]);
}

#[test]
fn doc_recipe_runtimepath_in_vim() {
    doc_install(Editor::Vim, false);
}

#[test]
fn doc_recipe_runtimepath_in_nvim() {
    doc_install(Editor::Nvim, false);
}

#[test]
fn doc_recipe_package_in_vim() {
    doc_install(Editor::Vim, true);
}

#[test]
fn doc_recipe_package_in_nvim() {
    doc_install(Editor::Nvim, true);
}

/// contrib/vim/doc/tags is what `:helptags` makes of doc/kseal.txt today.
#[test]
fn help_tags_are_current() {
    let dir = tempfile::tempdir().unwrap();
    let doc = repo().join("contrib/vim/doc");
    std::fs::copy(doc.join("kseal.txt"), dir.path().join("kseal.txt")).unwrap();
    let mut cmd = Command::new(require("vim"));
    cmd.args(["-N", "-u", "NONE", "-i", "NONE", "-es", "-c"])
        .arg(format!("helptags {}", dir.path().display()))
        .args(["-c", "qa!"]);
    let out = run_with_deadline(cmd);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        read(&dir.path().join("tags")),
        read(&doc.join("tags")),
        "run :helptags contrib/vim/doc"
    );
}

/// No identity opens the file: kseal's error in the command line, the ciphertext kept in a
/// normal buffer.
fn undecryptable_file_shows_the_error(ed: Editor, tag: &str) {
    let s = Setup::new(tag);
    let script = format!(
        "set runtimepath^={}\nruntime plugin/kseal.vim\nedit {}\n\
         call writefile([v:errmsg, getline(9) =~# '^  password: ENC\\[', exists('b:kseal_file')], '{}')\nqa!\n",
        repo().join("contrib/vim").display(),
        s.file.display(),
        s.sb.path("result").display()
    );
    let mut cmd = s.script_cmd(ed, &script);
    cmd.env("SOPS_AGE_KEY_FILE", key2());
    let out = run_with_deadline(cmd);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = read(&s.sb.path("result"));
    let r: Vec<&str> = r.lines().collect();
    assert!(
        r[0].starts_with("kseal: cannot decrypt s.yaml: kseal: error:")
            && r[0].contains("opens the data key"),
        "{r:?}"
    );
    assert_eq!(r[1..], ["1", "0"], "{r:?}");
}

#[test]
fn vim_shows_why_a_file_cannot_be_decrypted() {
    undecryptable_file_shows_the_error(Editor::Vim, "vim-nokey");
}

#[test]
fn nvim_shows_why_a_file_cannot_be_decrypted() {
    undecryptable_file_shows_the_error(Editor::Nvim, "nvim-nokey");
}

/// A JSON Secret: the buffer is JSON with filetype json, and the write changes only the
/// edited value's line, lastmodified, mac and kseal_mac.
fn json_secret(ed: Editor, tag: &str) {
    let s = Setup::new(tag);
    let json = s.sb.write(
        "repo/j.json",
        format!(
            "{{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Secret\",\n  \"metadata\": {{\"name\": \"j\"}},\n  \"data\": {{\n    \"a\": \"{}\",\n    \"b\": \"{}\"\n  }}\n}}\n",
            b64(&s.old),
            b64("other")
        ),
    );
    ok(run(s
        .sb
        .kseal()
        .args(["encrypt", "-i", "--age", &recipient()])
        .arg(&json)));
    let before = read(&json);
    std::thread::sleep(Duration::from_millis(1100)); // a new lastmodified second
    let out = s.script(
        ed,
        &format!(
            "set runtimepath^={}\nruntime plugin/kseal.vim\nedit {}\n\
             call writefile([&filetype, getline(1)], '{}')\n%s/{}/{}/\nwq\n\
             call writefile(['not written: ' . v:errmsg], '{}', 'a')\nqa!\n",
            repo().join("contrib/vim").display(),
            json.display(),
            s.sb.path("result").display(),
            b64(&s.old),
            b64(&s.new),
            s.sb.path("result").display()
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read(&s.sb.path("result")), "json\n{\n");
    std::fs::remove_file(s.sb.path("result")).unwrap();
    let after = read(&json);
    let keys: Vec<String> = changed_keys(&before, &after)
        .iter()
        .map(|k| k.trim_matches('"').to_string())
        .collect();
    assert_eq!(keys, ["a", "kseal_mac", "lastmodified", "mac"]);
    let plain = ok(run(s
        .sb
        .kseal()
        .args(["decrypt", "--identity"])
        .arg(key())
        .arg(&json)));
    assert!(
        plain.contains(&format!("\"a\": \"{}\"", b64(&s.new))),
        "{plain}"
    );
    s.assert_no_plaintext_left();
}

#[test]
fn vim_edits_a_json_secret() {
    json_secret(Editor::Vim, "vim-json");
}

#[test]
fn nvim_edits_a_json_secret() {
    json_secret(Editor::Nvim, "nvim-json");
}

/// The plugin's save, `kseal encrypt --previous FILE -o FILE -`, does not overwrite a change
/// made on disk after kseal read FILE: the identity comes from a FIFO, which kseal opens only
/// after reading FILE, so the test changes FILE in between without any timing.
#[test]
fn save_over_a_file_changed_meanwhile_keeps_the_change() {
    let s = Setup::new("race");
    let fifo = s.sb.path("id.fifo");
    let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let plain = s.decrypt().replace(&b64(&s.old), &b64(&s.new));
    let mut child =
        s.sb.kseal()
            .args(["encrypt", "--previous"])
            .arg(&s.file)
            .arg("--identity")
            .arg(&fifo)
            .arg("-o")
            .arg(&s.file)
            .arg("-")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(plain.as_bytes())
        .unwrap();
    // Opening the FIFO for writing returns once kseal opened it: FILE has been read.
    let mut id = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let touched = format!("{}# touched\n", read(&s.file));
    std::fs::write(&s.file, &touched).unwrap();
    id.write_all(read(&key()).as_bytes()).unwrap();
    drop(id);
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), Some(10), "{}", stderr(&out));
    assert!(stderr(&out).contains("changed on disk while kseal was working on it"));
    assert_eq!(read(&s.file), touched, "the change on disk was overwritten");
    let sibling = walk(&s.sb.path("repo"))
        .into_iter()
        .find(|p| p.file_name().unwrap().to_string_lossy().contains(".kseal-"))
        .expect("the result saved beside the file");
    let saved = ok(run(s
        .sb
        .kseal()
        .args(["decrypt", "--identity"])
        .arg(key())
        .arg(&sibling)));
    assert!(saved.contains(&b64(&s.new)));
}

/// g:kseal_detect = 0: an encrypted file is shown as it is until :KsealDecrypt; and a file
/// that is plain after :e! (decrypted on disk meanwhile) is an ordinary buffer again.
fn detect_off_and_kseal_decrypt(ed: Editor, tag: &str) {
    let s = Setup::new(tag);
    let out = s.script(
        ed,
        &format!(
            "let g:kseal_detect = 0\n\
             set runtimepath^={}\nruntime plugin/kseal.vim\nedit {file}\n\
             let r = [getline(9) =~# '^  password: ENC\\[', exists('b:kseal_file')]\n\
             KsealDecrypt\n\
             let r += [getline(9) =~# '^  password: [A-Za-z0-9+/=]*$', exists('b:kseal_file')]\n\
             call writefile(['apiVersion: v1'], '{file}')\n\
             let g:kseal_detect = 1\n\
             edit!\n\
             let r += [getline(1), exists('b:kseal_file'), &swapfile]\n\
             call writefile(r, '{}')\nqa!\n",
            repo().join("contrib/vim").display(),
            s.sb.path("result").display(),
            file = s.file.display(),
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let r = read(&s.sb.path("result"));
    assert_eq!(
        r.lines().collect::<Vec<_>>(),
        ["1", "0", "1", "1", "apiVersion: v1", "0", "0"]
    );
}

#[test]
fn vim_detect_off_then_kseal_decrypt() {
    detect_off_and_kseal_decrypt(Editor::Vim, "vim-detect");
}

#[test]
fn nvim_detect_off_then_kseal_decrypt() {
    detect_off_and_kseal_decrypt(Editor::Nvim, "nvim-detect");
}
