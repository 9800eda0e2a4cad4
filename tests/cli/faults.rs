//! Hardening tests, part 2: faults. SIGKILL at random moments during in-place writes (the file
//! is always the complete old or the complete new content, with its mode, through symlinks,
//! with no temporary file left behind), two kseal processes writing one file (no update is
//! lost silently), a full disk and a read-only directory (an error, the original intact).

use crate::common::*;

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kseal::error::{Error, Kind, Result};
use kseal::keys::Identities;
use kseal::secret::DataKey;
use kseal::sops::file::{self, DecryptOptions, KeyOpener};
use kseal::sops::metadata::Metadata;

const RECIPIENT: &str = "age1yefmw2mymmswqe58lrf4a2h4r5u0q23a9vn45kvenu43v7gdqa4s24vzqd";
const RECIPIENT2: &str = "age1gc0axxjszfp2d2avzaugajrn3yp4t5wxnck74r5vdc774ak5wvssvhx3an";

/// Opens files in-process with the test identities (faster than a kseal process per check).
struct Opener(Identities);

impl KeyOpener for Opener {
    fn open(&self, meta: &Metadata) -> Result<DataKey> {
        for e in &meta.age {
            if let Ok(k) = self.0.unwrap(&e.enc) {
                return Ok(k);
            }
        }
        Err(Error::new(Kind::NoIdentity, "no test identity opens it"))
    }
}

fn opener() -> Opener {
    let mut ids = Identities::new();
    ids.add_identity_file_text(&read(&key()), "key.txt")
        .unwrap();
    ids.add_identity_file_text(&read(&key2()), "key2.txt")
        .unwrap();
    Opener(ids)
}

/// The plaintext of an encrypted file, MAC verified; `None` if it does not open.
fn plaintext(opener: &Opener, bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let d = file::decrypt(text, opener, &DecryptOptions::default()).ok()?;
    d.envelope.as_ref()?;
    Some(d.text.to_string())
}

/// A 1 MiB manifest: a Secret with 20 values of 5 KiB (the encryption work) and a large
/// ConfigMap (bytes that must be written completely or not at all).
fn one_mib_manifest() -> String {
    let mut s = String::from("apiVersion: v1\nkind: Secret\nmetadata:\n  name: big\ndata:\n");
    let mut seed = 1u64;
    for i in 0..20 {
        let raw: Vec<u8> = (0..3800)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) as u8
            })
            .collect();
        use base64::Engine;
        let v = base64::engine::general_purpose::STANDARD.encode(raw);
        s.push_str(&format!("  k{i}: {v}\n"));
    }
    s.push_str("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: filler\ndata:\n");
    let mut i = 0;
    while s.len() < 1 << 20 {
        s.push_str(&format!("  c{i}: {}\n", "x".repeat(1000)));
        i += 1;
    }
    s
}

/// Names in `dir` other than `keep`.
fn extra_files(dir: &Path, keep: &[&str]) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

/// Waits until `child` has written its first byte (by `/proc/PID/io`; stderr stays empty in
/// these runs, so that is the new file), has exited, or `limit` has passed. Where the counter
/// cannot be read (kseal is not dumpable, so only root may), it waits 90 % of `limit` / 4.
fn wait_for_first_write(child: &mut std::process::Child, limit: Duration) {
    let io = format!("/proc/{}/io", child.id());
    let written = || {
        fs::read_to_string(&io).ok().and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("wchar: "))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
    };
    if written().is_none() {
        std::thread::sleep(limit * 9 / 40);
        return;
    }
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().ok().flatten().is_some() || written().is_none_or(|w| w > 0) {
            return;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// What the crash loop saw.
#[derive(Default, Debug)]
struct Tally {
    /// Runs killed right after their first write.
    aimed: usize,
    old: usize,
    new: usize,
    finished: usize,
    /// `.kseal-*.tmp` files found after a kill (named only between link and rename).
    orphans: usize,
}

/// Where a crash loop runs.
struct Target<'a> {
    /// The directory of the file: nothing else may appear in it.
    dir: &'a Path,
    /// The file itself.
    target: &'a Path,
    /// The path given to kseal: the file, or a symlink to it.
    write_to: &'a Path,
    /// The content restored before each run.
    old: &'a [u8],
}

/// Runs `cmd_for(path)` `runs` times, each killed with SIGKILL after a random delay (up to a
/// little more than the command's normal duration), restoring `old` before each run. After
/// every kill the target must hold `old` or content that `is_new` accepts, with mode 0640;
/// nothing but `.kseal-*.tmp` orphans may appear beside it, and the next write removes those.
fn crash_loop(
    t: &Target<'_>,
    runs: usize,
    seed: u64,
    cmd_for: &dyn Fn(&Path) -> Command,
    is_new: &dyn Fn(&[u8]) -> bool,
) -> Tally {
    let Target {
        dir,
        target,
        write_to,
        old,
    } = *t;
    let restore = || {
        fs::write(target, old).unwrap();
        fs::set_permissions(target, fs::Permissions::from_mode(0o640)).unwrap();
    };
    let keep: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
    // Calibrate: the shortest of three uninterrupted runs.
    let mut full = Duration::MAX;
    for _ in 0..3 {
        restore();
        let start = Instant::now();
        let o = cmd_for(write_to).output().unwrap();
        assert!(o.status.success(), "calibration run failed: {}", stderr(&o));
        full = full.min(start.elapsed());
        assert!(
            is_new(&fs::read(target).unwrap()),
            "calibration output is not new"
        );
    }
    let full_us = full.as_micros() as u64;
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    for run in 0..runs {
        restore();
        let mut child = cmd_for(write_to)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let r = rng.next();
        let delay = if run % 2 == 0 {
            // Anywhere in the run.
            let d = Duration::from_micros(r % (full_us * 6 / 5 + 1));
            std::thread::sleep(d);
            d
        } else {
            // In the write: once the process has started writing the new content (its
            // /proc/PID/io write count moves), within the next few milliseconds.
            let t0 = Instant::now();
            wait_for_first_write(&mut child, full * 4);
            std::thread::sleep(Duration::from_micros(r % 3000));
            tally.aimed += 1;
            t0.elapsed()
        };
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if status.success() {
            tally.finished += 1;
        }
        let now = fs::read(target).unwrap();
        if now == old {
            tally.old += 1;
        } else if is_new(&now) {
            tally.new += 1;
        } else {
            panic!(
                "run {run} (killed after {delay:?}): the file is neither the old nor a complete new version ({} bytes)",
                now.len()
            );
        }
        let meta = fs::metadata(target).unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o640,
            "run {run}: mode changed"
        );
        assert!(meta.is_file());
        if write_to != target {
            assert!(
                fs::symlink_metadata(write_to)
                    .unwrap()
                    .file_type()
                    .is_symlink(),
                "run {run}: the symlink was replaced"
            );
        }
        for extra in extra_files(dir, &keep) {
            assert!(
                extra.starts_with(".kseal-") && extra.ends_with(".tmp"),
                "run {run}: unexpected file {extra} left beside the target"
            );
            tally.orphans += 1;
        }
    }
    // One complete write cleans up whatever a killed run may have left.
    restore();
    let o = cmd_for(write_to).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        extra_files(dir, &keep),
        Vec::<String>::new(),
        "files left behind"
    );
    tally
}

fn encrypt_in_place(sb: &Sandbox) -> impl Fn(&Path) -> Command + '_ {
    move |p: &Path| {
        let mut c = sb.kseal();
        c.args(["encrypt", "-i", "--age", RECIPIENT]).arg(p);
        c
    }
}

/// 100 SIGKILLs during `kseal encrypt -i` on a 1 MiB file, in two parallel loops: one on the
/// file itself, one through a symlink to it.
#[test]
fn sigkill_during_encrypt_in_place_leaves_old_or_new() {
    let plain = one_mib_manifest();
    assert!(plain.len() >= 1 << 20);
    let results: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = [false, true]
            .into_iter()
            .enumerate()
            .map(|(i, via_link)| {
                let plain = &plain;
                s.spawn(move || {
                    let sb = Sandbox::new();
                    let dir = sb.path("work");
                    fs::create_dir(&dir).unwrap();
                    let target = dir.join("secret.yaml");
                    fs::write(&target, plain).unwrap();
                    let write_to = if via_link {
                        let l = sb.path("link.yaml");
                        symlink(&target, &l).unwrap();
                        l
                    } else {
                        target.clone()
                    };
                    let op = opener();
                    let is_new = |b: &[u8]| plaintext(&op, b).as_deref() == Some(plain.as_str());
                    let cmd = encrypt_in_place(&sb);
                    let t = Target {
                        dir: &dir,
                        target: &target,
                        write_to: &write_to,
                        old: plain.as_bytes(),
                    };
                    // Bound first: as a tail expression (edition 2021) its temporaries would
                    // outlive `sb`, which they borrow.
                    #[allow(clippy::let_and_return)]
                    let tally = crash_loop(&t, 50, 0x1234_5678 + i as u64, &cmd, &is_new);
                    tally
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total_old: usize = results.iter().map(|t| t.old).sum();
    let total_new: usize = results.iter().map(|t| t.new).sum();
    eprintln!("crash loops: {results:?}");
    assert_eq!(total_old + total_new, 100);
    // The delays spread over the whole run: both outcomes must have been seen.
    assert!(total_old > 0 && total_new > 0, "{results:?}");
}

/// SIGKILL during `kseal updatekeys -y` (a re-encryption for a new recipient list).
#[test]
fn sigkill_during_updatekeys_leaves_old_or_new() {
    let sb = Sandbox::new();
    let dir = sb.path("repo");
    fs::create_dir(&dir).unwrap();
    fs::write(
        dir.join(".sops.yaml"),
        format!("creation_rules:\n  - path_regex: .*\n    age: {RECIPIENT},{RECIPIENT2}\n"),
    )
    .unwrap();
    let target = dir.join("secret.yaml");
    fs::write(&target, one_mib_manifest()).unwrap();
    let o = run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", RECIPIENT])
        .arg(&target));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let old = fs::read(&target).unwrap();
    let op = opener();
    let plain = plaintext(&op, &old).unwrap();
    let is_new = |b: &[u8]| {
        b != old.as_slice()
            && String::from_utf8_lossy(b).contains(RECIPIENT2)
            && plaintext(&op, b).as_deref() == Some(plain.as_str())
    };
    let cmd = |p: &Path| {
        let mut c = sb.kseal();
        c.current_dir(&dir)
            .args(["updatekeys", "-y", "--identity"])
            .arg(key())
            .arg(p);
        c
    };
    let place = Target {
        dir: &dir,
        target: &target,
        write_to: &target,
        old: &old,
    };
    let t = crash_loop(&place, 20, 99, &cmd, &is_new);
    eprintln!("updatekeys crash loop: {t:?}");
    assert_eq!(t.old + t.new, 20);
}

// ------------------------------------------------------------------------------------------
// Concurrency

fn spawn(mut c: Command) -> std::process::Child {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Two `encrypt -i` of one plain file at once: exactly one wins; the other sees the file
/// changed (or already encrypted) and writes nothing. The result opens to the original.
#[test]
fn two_concurrent_encrypts_of_one_file_never_both_write() {
    let sb = Sandbox::new();
    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: b\n";
    let f = sb.path("s.yaml");
    let op = opener();
    for round in 0..15 {
        fs::write(&f, plain).unwrap();
        let cmd = || {
            let mut c = sb.kseal();
            c.args(["encrypt", "-i", "--age", RECIPIENT]).arg(&f);
            c
        };
        let (a, b) = (spawn(cmd()), spawn(cmd()));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let codes = [code(&a), code(&b)];
        let wins = codes.iter().filter(|c| **c == Some(0)).count();
        assert_eq!(
            wins,
            1,
            "round {round}: exits {codes:?}: {} / {}",
            stderr(&a),
            stderr(&b)
        );
        assert!(codes.contains(&Some(10)), "round {round}: {codes:?}");
        assert_eq!(
            plaintext(&op, &fs::read(&f).unwrap()).as_deref(),
            Some(plain),
            "round {round}"
        );
    }
}

/// Two `kseal set` of different keys at once: every process that reports success has its key
/// in the final file; a loser fails with exit 10 and keeps its change in a sibling file.
#[test]
fn two_concurrent_sets_never_lose_an_update_silently() {
    let sb = Sandbox::new();
    let f = sb.write(
        "s.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: b\n",
    );
    let o = run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", RECIPIENT])
        .arg(&f));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let op = opener();
    let mut conflicts = 0;
    for round in 0..12 {
        let keys = [format!("ka{round}"), format!("kb{round}")];
        let children: Vec<_> = keys
            .iter()
            .map(|k| {
                let mut c = sb.kseal();
                c.args(["set", "--identity"])
                    .arg(key())
                    .arg(&f)
                    .args([k.as_str(), "--value", "v"]);
                spawn(c)
            })
            .collect();
        let outs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let text = plaintext(&op, &fs::read(&f).unwrap()).expect("the file still opens");
        for (k, o) in keys.iter().zip(&outs) {
            match code(o) {
                Some(0) => assert!(
                    text.contains(&format!("  {k}: ")),
                    "round {round}: `set {k}` succeeded but its key is missing:\n{text}"
                ),
                Some(10) => {
                    conflicts += 1;
                    assert!(stderr(o).contains("changed on disk"), "{}", stderr(o));
                }
                other => panic!("round {round}: set {k}: exit {other:?}: {}", stderr(o)),
            }
        }
        // Carry every key forward, as a user would after a conflict.
        for k in &keys {
            if !text.contains(&format!("  {k}: ")) {
                let o = run(sb
                    .kseal()
                    .args(["set", "--identity"])
                    .arg(key())
                    .arg(&f)
                    .args([k.as_str(), "--value", "v"]));
                assert_eq!(code(&o), Some(0), "{}", stderr(&o));
            }
        }
    }
    eprintln!("{conflicts} conflicts detected in 12 rounds");
    for sib in extra_files(sb.dir.path(), &["s.yaml"]) {
        // Siblings hold the losing change, encrypted.
        assert!(sib.starts_with("s.yaml.kseal-"), "{sib}");
        let bytes = fs::read(sb.path(&sib)).unwrap();
        assert!(
            plaintext(&op, &bytes).is_some(),
            "{sib} is not an encrypted file"
        );
    }
}

/// `kseal edit` while another kseal process changes the file: the edit is not written over
/// the other change (it is kept, encrypted, beside the file).
#[test]
fn edit_detects_a_concurrent_kseal_set() {
    let sb = Sandbox::new();
    let f = sb.write(
        "s.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: b\n",
    );
    ok(run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", RECIPIENT])
        .arg(&f)));
    fs::create_dir(sb.path("buf")).unwrap();
    // The "editor" changes the buffer, and meanwhile another kseal sets a key in the file.
    let editor = sb.write(
        "editor.sh",
        format!(
            "#!/bin/sh\nset -e\nsed -i 's/a: b/a: edited/' \"$1\"\n{} set --identity {} {} other --value v >/dev/null 2>&1\n",
            env!("CARGO_BIN_EXE_kseal"),
            key().display(),
            f.display()
        ),
    );
    fs::set_permissions(&editor, fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(sb
        .kseal()
        .env("EDITOR", &editor)
        .env("KSEAL_TMPDIR", sb.path("buf"))
        .args(["edit", "--identity"])
        .arg(key())
        .arg(&f));
    assert_eq!(code(&o), Some(10), "{}", stderr(&o));
    let op = opener();
    let text = plaintext(&op, &fs::read(&f).unwrap()).unwrap();
    assert!(text.contains("other:") && text.contains("a: b"), "{text}");
    let sibs = extra_files(sb.dir.path(), &["s.yaml", "editor.sh", "buf"]);
    assert_eq!(sibs.len(), 1, "{sibs:?}");
    let kept = plaintext(&op, &fs::read(sb.path(&sibs[0])).unwrap()).unwrap();
    assert!(kept.contains("a: edited"), "{kept}");
    assert_eq!(extra_files(&sb.path("buf"), &[]), Vec::<String>::new());
}

// ------------------------------------------------------------------------------------------
// Full disk, read-only directory

/// A tmpfs mounted for one test (root only), unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, options: &str) -> Option<Mount> {
        fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(at.to_path_buf()))
    }
    fn remount_ro(&self) -> bool {
        Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills a filesystem up to the last byte.
fn fill(dir: &Path) {
    use std::io::Write;
    let mut f = fs::File::create(dir.join("filler")).unwrap();
    let block = vec![0u8; 4096];
    while f.write_all(&block).is_ok() {}
    let mut one = [0u8; 1];
    while f.write_all(&one).is_ok() {
        one[0] = 1;
    }
}

fn assert_no_output_error(label: &str, o: &Output) {
    assert_eq!(code(o), Some(7), "{label}: {}", stderr(o));
    assert!(o.stdout.is_empty(), "{label}: stdout");
    assert!(!stderr(o).contains("panicked"), "{label}: {}", stderr(o));
}

#[test]
fn full_disk_is_an_output_error_and_the_original_stays() {
    if !is_root() {
        eprintln!(
            "skipped: mounting a small tmpfs needs root (stdout to /dev/full is tested below)"
        );
        return;
    }
    let sb = Sandbox::new();
    let Some(m) = Mount::tmpfs(&sb.path("small"), "size=64k") else {
        eprintln!("skipped: this machine does not allow mounting a tmpfs");
        return;
    };
    let dir = m.0.clone();
    // ~40 KiB of plain values: the encrypted file (~55 KiB) does not fit beside it.
    let mut plain =
        String::from("apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n");
    for i in 0..40 {
        plain.push_str(&format!("  k{i}: {}\n", "v".repeat(1000)));
    }
    let f = dir.join("s.yaml");
    fs::write(&f, &plain).unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
    let o = run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", RECIPIENT])
        .arg(&f));
    assert_no_output_error("encrypt -i", &o);
    assert!(stderr(&o).contains("no space left"), "{}", stderr(&o));
    assert_eq!(read(&f), plain);
    assert_eq!(extra_files(&dir, &["s.yaml"]), Vec::<String>::new());

    // A small encrypted file, then the disk fills up: set, decrypt -i, decrypt -o, keygen -o
    // all fail without damage or debris.
    fs::remove_file(&f).unwrap();
    let small = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: b\n";
    fs::write(&f, small).unwrap();
    ok(run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", RECIPIENT])
        .arg(&f)));
    let enc = fs::read(&f).unwrap();
    fill(&dir);
    let cases: Vec<(&str, Vec<std::ffi::OsString>)> = vec![
        (
            "set",
            vec![
                "set".into(),
                "--identity".into(),
                key().into(),
                f.clone().into(),
                "k".into(),
                "--value".into(),
                "v".into(),
            ],
        ),
        (
            "decrypt -i",
            vec![
                "decrypt".into(),
                "-i".into(),
                "--identity".into(),
                key().into(),
                f.clone().into(),
            ],
        ),
        (
            "decrypt -o",
            vec![
                "decrypt".into(),
                "--identity".into(),
                key().into(),
                f.clone().into(),
                "-o".into(),
                dir.join("out.yaml").into(),
            ],
        ),
        (
            "keygen -o",
            vec!["keygen".into(), "-o".into(), dir.join("key.txt").into()],
        ),
    ];
    for (label, args) in cases {
        let o = run(sb.kseal().args(&args));
        // `set` may also fail when saving its change beside the file (no space either).
        assert!(matches!(code(&o), Some(7 | 10)), "{label}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{label}");
        assert_eq!(fs::read(&f).unwrap(), enc, "{label}: the file changed");
        assert_eq!(
            extra_files(&dir, &["s.yaml", "filler"]),
            Vec::<String>::new(),
            "{label}: debris"
        );
    }
}

#[test]
fn stdout_to_a_full_device_is_an_output_error() {
    let sb = Sandbox::new();
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = sb
        .kseal()
        .arg("decrypt")
        .arg("--identity")
        .arg(key())
        .arg(fixture("sops-made/kubectl-generic.yaml"))
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(code(&o), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("no space left"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn read_only_directory_is_an_output_error_and_the_original_stays() {
    let sb = Sandbox::new();
    let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: b\n";
    // Root ignores permission bits, so root gets a read-only tmpfs; others a 0555 directory.
    let mut mount = None;
    let dir = if is_root() {
        mount = Mount::tmpfs(&sb.path("ro"), "size=1m");
        let Some(m) = &mount else {
            eprintln!("skipped: root, and this machine does not allow mounting a tmpfs");
            return;
        };
        m.0.clone()
    } else {
        let d = sb.path("ro");
        fs::create_dir(&d).unwrap();
        d
    };
    let plain_f = dir.join("plain.yaml");
    let enc_f = dir.join("enc.yaml");
    fs::write(&plain_f, plain).unwrap();
    fs::write(&enc_f, plain).unwrap();
    ok(run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", RECIPIENT])
        .arg(&enc_f)));
    let enc = fs::read(&enc_f).unwrap();
    if is_root() {
        assert!(mount.as_ref().unwrap().remount_ro(), "remount read-only");
    } else {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
    }
    let cases: Vec<(&str, Vec<std::ffi::OsString>)> = vec![
        (
            "encrypt -i",
            vec![
                "encrypt".into(),
                "-i".into(),
                "--age".into(),
                RECIPIENT.into(),
                plain_f.clone().into(),
            ],
        ),
        (
            "decrypt -i",
            vec![
                "decrypt".into(),
                "-i".into(),
                "--identity".into(),
                key().into(),
                enc_f.clone().into(),
            ],
        ),
        (
            "set",
            vec![
                "set".into(),
                "--identity".into(),
                key().into(),
                enc_f.clone().into(),
                "k".into(),
                "--value".into(),
                "v".into(),
            ],
        ),
        (
            "unset",
            vec![
                "unset".into(),
                "--identity".into(),
                key().into(),
                enc_f.clone().into(),
                "a".into(),
            ],
        ),
        (
            "decrypt -o",
            vec![
                "decrypt".into(),
                "--identity".into(),
                key().into(),
                enc_f.clone().into(),
                "-o".into(),
                dir.join("o.yaml").into(),
            ],
        ),
    ];
    for (label, args) in cases {
        let o = run(sb.kseal().args(&args));
        assert_no_output_error(label, &o);
        assert_eq!(read(&plain_f), plain, "{label}");
        assert_eq!(fs::read(&enc_f).unwrap(), enc, "{label}");
        assert_eq!(
            extra_files(&dir, &["plain.yaml", "enc.yaml"]),
            Vec::<String>::new(),
            "{label}"
        );
    }
    if !is_root() {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// The owner and group of a replaced file are kept (root rewriting a user's file).
#[test]
fn in_place_write_keeps_owner_when_root() {
    if !is_root() {
        eprintln!("skipped: only root can give files away");
        return;
    }
    let sb = Sandbox::new();
    let f = sb.write(
        "s.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  a: b\n",
    );
    std::os::unix::fs::chown(&f, Some(65534), Some(65534)).unwrap();
    ok(run(sb
        .kseal()
        .args(["encrypt", "-i", "--age", RECIPIENT])
        .arg(&f)));
    let m = fs::metadata(&f).unwrap();
    assert_eq!((m.uid(), m.gid()), (65534, 65534));
}
