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
        let script = self.scripts.path().join("test.vim");
        let rtp = repo().join("contrib/vim");
        std::fs::write(
            &script,
            format!(
                "set runtimepath^={}\nruntime plugin/kseal.vim\nedit {}\n{body}\n",
                rtp.display(),
                self.file.display()
            ),
        )
        .unwrap();
        let mut cmd = match ed {
            // Without -i NONE or --clean: the viminfo/ShaDa file is written at exit, so the
            // canary search also checks the plugin kept registers and history out of it.
            Editor::Vim => Command::new(require("vim")),
            Editor::Nvim => Command::new(require("nvim")),
        };
        match ed {
            Editor::Vim => cmd.args(["-N", "-u", "NONE", "-es", "-S"]),
            Editor::Nvim => cmd.args(["--headless", "-u", "NONE", "-S"]),
        };
        cmd.arg(&script);
        self.env(&mut cmd);
        run_with_deadline(cmd)
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

    /// No canary in any file under HOME (TMPDIR is inside it) or /dev/shm, and TMPDIR empty.
    fn assert_no_plaintext_left(&self) {
        let canaries = self.canaries();
        for root in [self.sb.dir.path(), Path::new("/dev/shm")] {
            for f in walk(root) {
                let Ok(bytes) = std::fs::read(&f) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&bytes);
                for c in &canaries {
                    assert!(!text.contains(c), "{c} found in {}", f.display());
                }
            }
        }
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
