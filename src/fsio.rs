//! File and stream I/O for the commands: bounded reads, atomic in-place writes that keep the
//! original mode, private new files, and directory expansion.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use kseal::error::{Error, Kind, Result};

/// The largest input kseal reads (a Secret is at most 1 MiB in Kubernetes).
pub const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// An input as the user named it.
#[derive(Clone, Debug)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_string(),
            Input::File(p) => p.display().to_string(),
        }
    }
}

/// An unreadable input; the caller names the file (`in_file`), so the message does not.
fn read_error(name: &str, e: io::Error) -> Error {
    let why = match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    Error::new(Kind::Input, format!("cannot read it: {why}"))
        .in_file(name)
        .with_source(e)
}

/// Reads an input completely as UTF-8 text, refusing directories, devices and huge inputs.
pub fn read_input(input: &Input) -> Result<String> {
    let name = input.name();
    let mut bytes = Vec::new();
    match input {
        Input::Stdin => {
            io::stdin()
                .lock()
                .take(MAX_INPUT + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| read_error(&name, e))?;
        }
        Input::File(p) => {
            let meta = fs::metadata(p).map_err(|e| read_error(&name, e))?;
            if meta.is_dir() {
                return Err(Error::new(Kind::Input, "it is a directory, not a file").in_file(&name));
            }
            if !meta.is_file() {
                // A device (/dev/zero, /dev/urandom) or a pipe could feed kseal forever.
                return Err(Error::new(
                    Kind::Input,
                    "it is not a regular file (a device, a socket or a pipe); pipe it to stdin instead",
                )
                .in_file(&name));
            }
            if meta.len() > MAX_INPUT {
                return Err(too_big(&name));
            }
            let f = fs::File::open(p).map_err(|e| read_error(&name, e))?;
            // Sized up front: growing by doubling would touch twice the memory.
            bytes.reserve_exact(meta.len() as usize + 1);
            f.take(MAX_INPUT + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| read_error(&name, e))?;
        }
    }
    if bytes.len() as u64 > MAX_INPUT {
        return Err(too_big(&name));
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::format(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
        .in_file(&name)
    })
}

fn too_big(name: &str) -> Error {
    Error::new(
        Kind::Input,
        format!(
            "larger than {} MiB, the most kseal reads (a Kubernetes Secret holds at most 1 MiB)",
            MAX_INPUT / 1024 / 1024
        ),
    )
    .in_file(name)
    .with_hint("split the manifest into several files")
}

/// Refuses to write an encrypted file kseal could not read back (above the input limit).
pub fn check_output_size(len: usize) -> Result<()> {
    if len as u64 > MAX_INPUT {
        return Err(Error::new(
            Kind::Output,
            format!(
                "the encrypted output would be {} MiB, above the {} MiB that kseal reads back; nothing was written",
                (len as u64).div_ceil(1024 * 1024),
                MAX_INPUT / 1024 / 1024
            ),
        )
        .with_hint("split the manifest into several files, or use fewer recipients"));
    }
    Ok(())
}

/// Expands the command line's inputs: `-` is stdin, directories are walked recursively for
/// `*.yaml`, `*.yml` and `*.json` in sorted order, no inputs means stdin.
pub fn expand_inputs(args: &[PathBuf]) -> Result<Vec<Input>> {
    if args.is_empty() {
        return Ok(vec![Input::Stdin]);
    }
    let mut out = Vec::new();
    for a in args {
        if a.as_os_str() == "-" {
            out.push(Input::Stdin);
        } else if a.is_dir() {
            let mut files = Vec::new();
            walk_dir(a, &mut files)?;
            if files.is_empty() {
                let msg = format!("{}: no *.yaml, *.yml or *.json files found", a.display());
                eprintln!(
                    "kseal: warning: {}",
                    kseal::error::escape_controls(&msg, false)
                );
            }
            files.sort();
            out.extend(files.into_iter().map(Input::File));
        } else {
            out.push(Input::File(a.clone()));
        }
    }
    Ok(out)
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let rd = fs::read_dir(dir).map_err(|e| read_error(&dir.display().to_string(), e))?;
    for entry in rd {
        let entry = entry.map_err(|e| read_error(&dir.display().to_string(), e))?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = entry
            .file_type()
            .map_err(|e| read_error(&path.display().to_string(), e))?;
        if ft.is_dir() {
            walk_dir(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

fn write_error(name: &str, e: io::Error) -> Error {
    let why = match e.kind() {
        io::ErrorKind::StorageFull => "no space left on the device".to_string(),
        io::ErrorKind::QuotaExceeded => "disk quota exceeded".to_string(),
        io::ErrorKind::ReadOnlyFilesystem => "read-only file system".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        // The temporary file's path (in tempfile's message) would only confuse.
        io::ErrorKind::NotFound => "its directory does not exist".to_string(),
        _ => e.to_string(),
    };
    Error::new(Kind::Output, format!("cannot write {name}: {why}"))
        .with_hint("nothing was changed: the original file, if any, is intact")
        .with_source(e)
}

/// The error for a file that changed on disk between kseal's read and its write.
pub fn changed_on_disk(path: &Path) -> Error {
    Error::new(
        Kind::Refused,
        format!(
            "{} changed on disk while kseal was working on it; it was not overwritten",
            path.display()
        ),
    )
    .with_hint(
        "another program or kseal process wrote it meanwhile: check it and run the command again",
    )
}

/// What the target must hold right before it is replaced (compare-before-rename).
#[derive(Clone, Copy)]
pub enum Expect<'a> {
    /// Replace whatever is there.
    Anything,
    /// Replace only if the file still holds exactly these bytes.
    Content(&'a [u8]),
    /// Create only if no file exists yet.
    Absent,
}

/// Writes plaintext: atomically, always mode 0600 and owned by the effective user, even over
/// an existing file. Refused (nothing written) when the target is a symbolic link or belongs
/// to another user: see [`check_private_target`].
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    write_file(path, contents, 0o600, Private::New, Expect::Anything).map(|_| ())
}

/// `replace_if_unchanged` for plaintext (`decrypt -i`): the rules of [`write_private`], except
/// that the file keeps its mode (as with sops; the owner is the writer's anyway).
pub fn replace_private_if_unchanged(
    path: &Path,
    expected: Expect<'_>,
    contents: &[u8],
) -> Result<bool> {
    write_file(path, contents, 0o600, Private::KeepMode, expected)
}

/// Names through which a process reaches its own open descriptors (`-o /dev/stdout`): links
/// the kernel makes, which an attacker cannot plant.
fn is_own_descriptor(path: &Path) -> bool {
    let s = path.to_string_lossy();
    matches!(&*s, "/dev/stdout" | "/dev/stderr")
        || ["/dev/fd/", "/proc/self/fd/"].iter().any(|p| {
            s.strip_prefix(p)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

fn refused_target(name: &str, why: String) -> Error {
    Error::new(
        Kind::Refused,
        format!(
            "{name}: {why}; kseal does not hand plaintext to another user, nothing was written"
        ),
    )
    .with_hint("write the plaintext to a new file of your own (or to stdout)")
}

/// The checks before plaintext goes to `path`: a symbolic link is not followed (a link
/// planted in a shared directory would send the plaintext wherever its owner wants; only the
/// kernel's `/dev/stdout`-style links are), and an existing file, FIFO or socket must belong
/// to the effective user, even for root (a root `decrypt -o` onto another user's file in a
/// 1777 directory must not leave that user's name on the plaintext).
#[cfg(unix)]
pub fn check_private_target(path: &Path) -> Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let name = path.display().to_string();
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(write_error(&name, e)),
    };
    let meta = if meta.file_type().is_symlink() {
        if !is_own_descriptor(path) {
            return Err(refused_target(
                &name,
                "it is a symbolic link, which kseal does not follow for plaintext".to_string(),
            ));
        }
        match fs::metadata(path) {
            Ok(m) => m,
            Err(e) => return Err(write_error(&name, e)),
        }
    } else {
        meta
    };
    // Character devices (a terminal, /dev/null) cannot be planted by other users.
    if meta.file_type().is_char_device() {
        return Ok(());
    }
    // SAFETY: geteuid has no arguments and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(refused_target(
            &name,
            format!(
                "it belongs to another user (uid {}, you are uid {me})",
                meta.uid()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_private_target(_path: &Path) -> Result<()> {
    Ok(())
}

/// [`check_private_target`]'s owner rule on what was really opened (a FIFO swapped in between
/// the check and the open).
#[cfg(unix)]
fn check_private_open(f: &fs::File, name: &str) -> Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = f.metadata().map_err(|e| write_error(name, e))?;
    // SAFETY: geteuid has no arguments and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.file_type().is_char_device() && meta.uid() != me {
        return Err(refused_target(
            name,
            format!(
                "it belongs to another user (uid {}, you are uid {me})",
                meta.uid()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_open(_f: &fs::File, _name: &str) -> Result<()> {
    Ok(())
}

/// Replaces `path` atomically: the new content is written and fsynced in the target's
/// directory (as an unnamed `O_TMPFILE` inode on Linux, else a `.kseal-*.tmp` file), given the
/// original's mode and owner, then renamed over the target, and the directory is fsynced. A
/// symlink is followed: its target is replaced and the link stays. On any error or crash the
/// original is untouched.
pub fn write_atomic(path: &Path, contents: &[u8], new_mode: u32) -> Result<()> {
    write_file(path, contents, new_mode, Private::No, Expect::Anything).map(|_| ())
}

/// `write_atomic`, but only if the file still holds what kseal read (`Expect::Content`) or
/// still does not exist (`Expect::Absent`). The check and the rename happen under an advisory
/// lock on the target's directory, so two kseal processes cannot both replace the same
/// version: the second one sees the first one's content and gets `Ok(false)` (nothing
/// written). Other programs do not take the lock; their writes are caught by the comparison,
/// which runs right before the rename.
pub fn replace_if_unchanged(
    path: &Path,
    expected: Expect<'_>,
    contents: &[u8],
    new_mode: u32,
) -> Result<bool> {
    write_file(path, contents, new_mode, Private::No, expected)
}

/// The file a write really replaces: a symlink's final target (the link stays a link).
fn resolve_target(path: &Path) -> io::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => match fs::canonicalize(path) {
            Ok(t) => Ok(t),
            // A dangling link: write where it points, relative to the link's directory.
            Err(_) => {
                let to = fs::read_link(path)?;
                Ok(match path.parent() {
                    Some(d) if to.is_relative() => d.join(to),
                    _ => to,
                })
            }
        },
        _ => Ok(path.to_path_buf()),
    }
}

/// What a write is: ciphertext (the original's mode and owner are kept), or plaintext (see
/// [`write_private`]) given mode `new_mode` or keeping the original's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Private {
    No,
    New,
    KeepMode,
}

fn write_file(
    path: &Path,
    contents: &[u8],
    new_mode: u32,
    private: Private,
    expected: Expect<'_>,
) -> Result<bool> {
    let name = path.display().to_string();
    let private_mode = private;
    let private = private != Private::No;
    if private {
        check_private_target(path)?;
    }
    let target = resolve_target(path).map_err(|e| write_error(&name, e))?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let existing = fs::metadata(&target).ok();
    if let Some(m) = &existing {
        if m.is_dir() {
            return Err(Error::new(
                Kind::Output,
                format!("cannot write {name}: it is a directory"),
            ));
        }
        if !m.is_file() && matches!(expected, Expect::Anything) {
            // A device or a pipe (`-o /dev/stdout`): there is nothing to replace atomically.
            let mut opts = fs::OpenOptions::new();
            opts.write(true);
            #[cfg(unix)]
            if private && !is_own_descriptor(path) {
                // The name was checked above; a link swapped in since must not be followed.
                use std::os::unix::fs::OpenOptionsExt;
                opts.custom_flags(libc::O_NOFOLLOW);
            }
            let mut f = opts.open(&target).map_err(|e| write_error(&name, e))?;
            if private {
                check_private_open(&f, &name)?;
            }
            f.write_all(contents).map_err(|e| write_error(&name, e))?;
            return Ok(true);
        }
    }
    let mode = match &existing {
        Some(m) if private_mode != Private::New => permissions_mode(m),
        _ => new_mode,
    };
    // Plaintext keeps no owner but the effective user's: no chown to the original's.
    let original = if private { None } else { existing.as_ref() };
    let lock = DirLock::acquire(&dir, &name)?;
    if lock.is_held() && first_write_in(&dir) {
        remove_orphans(&dir);
    }
    let mut tmp = TempOut::create(&dir).map_err(|e| write_error(&name, e))?;
    tmp.fill(contents, mode, original)
        .map_err(|e| write_error(&name, e))?;
    let unchanged = match expected {
        Expect::Anything => true,
        Expect::Absent => fs::symlink_metadata(&target).is_err(),
        Expect::Content(bytes) => match fs::read(&target) {
            Ok(now) => now == bytes,
            Err(_) => false,
        },
    };
    if !unchanged {
        return Ok(false);
    }
    tmp.replace(&target, contents, mode, original)
        .map_err(|e| write_error(&name, e))?;
    sync_dir_now_or_later(&dir);
    drop(lock);
    Ok(true)
}

/// Directories this process already cleaned of orphaned temporary files: once per directory
/// is enough (listing a directory of 1,000 files before each of 1,000 writes was quadratic).
static CLEANED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn first_write_in(dir: &Path) -> bool {
    let Ok(mut cleaned) = CLEANED.lock() else {
        return true;
    };
    if cleaned.iter().any(|d| d == dir) {
        return false;
    }
    cleaned.push(dir.to_path_buf());
    true
}

/// Directories whose renames still need an fsync, while a [`DirSyncBatch`] is open.
static DEFERRED: std::sync::Mutex<Option<Vec<PathBuf>>> = std::sync::Mutex::new(None);

fn sync_dir_now_or_later(dir: &Path) {
    if let Ok(mut deferred) = DEFERRED.lock() {
        if let Some(dirs) = deferred.as_mut() {
            if !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.to_path_buf());
            }
            return;
        }
    }
    sync_dir(dir);
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// While it lives, in-place writes fsync their directory once at the end instead of after
/// every rename: a command rewriting many files in one directory (updatekeys) pays one
/// directory fsync, not one per file. Each file is still written, fsynced and renamed
/// atomically; only the durability of the renames waits for the batch to end (a power loss
/// meanwhile leaves some files at their complete old content).
pub struct DirSyncBatch(());

impl DirSyncBatch {
    pub fn begin() -> DirSyncBatch {
        if let Ok(mut deferred) = DEFERRED.lock() {
            deferred.get_or_insert_with(Vec::new);
        }
        DirSyncBatch(())
    }
}

impl Drop for DirSyncBatch {
    fn drop(&mut self) {
        let dirs = DEFERRED.lock().ok().and_then(|mut d| d.take());
        for dir in dirs.unwrap_or_default() {
            sync_dir(&dir);
        }
    }
}

/// Name prefix and suffix of kseal's named temporary files (`.kseal-XXXXXXXX.tmp`).
const TMP_PREFIX: &str = ".kseal-";
const TMP_SUFFIX: &str = ".tmp";

/// How long a write waits for another kseal process that writes in the same directory.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// An advisory `flock` on a directory, held while kseal creates, checks and renames a file in
/// it. Locking the directory rather than the file survives the rename (a lock on the old
/// inode would protect nothing) and leaves no lock file behind. Filesystems without `flock`
/// on directories (some network ones) get no lock: the comparison before the rename remains.
struct DirLock(Option<fs::File>);

impl DirLock {
    fn acquire(dir: &Path, name: &str) -> Result<DirLock> {
        let Ok(f) = fs::File::open(dir) else {
            return Ok(DirLock(None));
        };
        let start = std::time::Instant::now();
        loop {
            match try_lock(&f) {
                Ok(()) => return Ok(DirLock(Some(f))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if start.elapsed() > LOCK_WAIT {
                        return Err(Error::new(
                            Kind::Output,
                            format!(
                                "cannot write {name}: another kseal process has been writing in {} for {} seconds",
                                dir.display(),
                                LOCK_WAIT.as_secs()
                            ),
                        )
                        .with_hint("wait for it to finish, then run the command again"));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Ok(DirLock(None)),
            }
        }
    }

    fn is_held(&self) -> bool {
        self.0.is_some()
    }
}

/// An exclusive lock without waiting (`WouldBlock` while another process holds it); released
/// when the descriptor is closed.
#[cfg(unix)]
fn try_lock(f: &fs::File) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a descriptor this process owns; no memory is passed.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn try_lock(_f: &fs::File) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Removes the named temporary files of kseal processes that died (SIGKILL, power loss)
/// between creating and renaming them. Called with the directory lock held: every live kseal
/// creates its temporary file under that lock, so any left-over one is an orphan.
fn remove_orphans(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for entry in rd.flatten() {
        let n = entry.file_name();
        let n = n.to_string_lossy();
        if n.starts_with(TMP_PREFIX)
            && n.ends_with(TMP_SUFFIX)
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The new content on its way to the target.
enum TempOut {
    /// Linux `O_TMPFILE`: an inode without a name, which vanishes if kseal dies before the
    /// rename; it gets a name only for the instant between `linkat` and `rename`.
    Anonymous { file: fs::File, dir: PathBuf },
    /// Elsewhere (or where the filesystem refuses `O_TMPFILE`): a `.kseal-*.tmp` file.
    Named(tempfile::NamedTempFile),
}

impl TempOut {
    fn create(dir: &Path) -> io::Result<TempOut> {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::OpenOptionsExt;
            let anon = fs::OpenOptions::new()
                .write(true)
                .mode(0o600)
                .custom_flags(libc::O_TMPFILE)
                .open(dir);
            if let Ok(file) = anon {
                return Ok(TempOut::Anonymous {
                    file,
                    dir: dir.to_path_buf(),
                });
            }
        }
        let named = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .suffix(TMP_SUFFIX)
            .permissions(private_permissions())
            .tempfile_in(dir)?;
        Ok(TempOut::Named(named))
    }

    fn file(&self) -> &fs::File {
        match self {
            TempOut::Anonymous { file, .. } => file,
            TempOut::Named(t) => t.as_file(),
        }
    }

    /// Writes the content, sets the mode (and, best effort, the original owner) and fsyncs.
    fn fill(
        &mut self,
        contents: &[u8],
        mode: u32,
        original: Option<&fs::Metadata>,
    ) -> io::Result<()> {
        let mut f = self.file();
        f.write_all(contents)?;
        #[cfg(unix)]
        if let Some(m) = original {
            use std::os::unix::fs::MetadataExt;
            // Only root can give a file away; for others this keeps their own ids (and the
            // group, if they are in it). Before the mode: a chown clears set-id bits.
            let _ = std::os::unix::fs::fchown(f, Some(m.uid()), Some(m.gid()));
        }
        set_mode(f, mode)?;
        f.sync_all()
    }

    /// Moves the content over the target. If the unnamed inode cannot be linked (no `/proc`,
    /// a filesystem that refuses), the content goes through a named temporary file instead.
    fn replace(
        self,
        target: &Path,
        contents: &[u8],
        mode: u32,
        original: Option<&fs::Metadata>,
    ) -> io::Result<()> {
        match self {
            TempOut::Named(t) => t.persist(target).map(|_| ()).map_err(|e| e.error),
            TempOut::Anonymous { file, dir } => {
                let name = dir.join(random_tmp_name()?);
                if link_anonymous(&file, &name).is_err() {
                    let named = named_temp(&dir, contents, mode, original)?;
                    return named.persist(target).map(|_| ()).map_err(|e| e.error);
                }
                fs::rename(&name, target).inspect_err(|_| {
                    let _ = fs::remove_file(&name);
                })
            }
        }
    }
}

/// A filled `.kseal-*.tmp` file in `dir` (removed again if it is dropped unpersisted).
fn named_temp(
    dir: &Path,
    contents: &[u8],
    mode: u32,
    original: Option<&fs::Metadata>,
) -> io::Result<tempfile::NamedTempFile> {
    let mut t = TempOut::Named(
        tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .suffix(TMP_SUFFIX)
            .permissions(private_permissions())
            .tempfile_in(dir)?,
    );
    t.fill(contents, mode, original)?;
    match t {
        TempOut::Named(n) => Ok(n),
        TempOut::Anonymous { .. } => unreachable!("made named above"),
    }
}

#[cfg(unix)]
fn raw_fd(f: &fs::File) -> i32 {
    use std::os::unix::io::AsRawFd;
    f.as_raw_fd()
}

/// Gives an `O_TMPFILE` inode a name. `linkat` with `AT_EMPTY_PATH` needs a capability, the
/// `/proc/self/fd` route does not.
#[cfg(target_os = "linux")]
fn link_anonymous(file: &fs::File, name: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let from = CString::new(format!("/proc/self/fd/{}", raw_fd(file)))?;
    let to = CString::new(name.as_os_str().as_bytes())?;
    // SAFETY: two NUL-terminated paths that live across the call.
    let r = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn link_anonymous(_file: &fs::File, _name: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

fn random_tmp_name() -> io::Result<String> {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).map_err(io::Error::other)?;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{TMP_PREFIX}{hex}{TMP_SUFFIX}"))
}

#[cfg(unix)]
fn private_permissions() -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    fs::Permissions::from_mode(0o600)
}

#[cfg(unix)]
fn permissions_mode(m: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn permissions_mode(_m: &fs::Metadata) -> u32 {
    0o644
}

#[cfg(unix)]
fn set_mode(f: &fs::File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_f: &fs::File, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Creates a new file with mode 0600, refusing to overwrite an existing one. The file appears
/// complete or not at all: the content is written to an unnamed (or temporary) file first and
/// linked to its name only once it is on disk, so a full disk or a crash leaves no half key.
pub fn write_new_private(path: &Path, contents: &[u8]) -> Result<()> {
    let name = path.display().to_string();
    let exists = || {
        Error::new(
            Kind::Output,
            format!("{name} already exists; kseal does not overwrite it"),
        )
        .with_hint("choose another file name or remove the old file yourself")
    };
    if fs::symlink_metadata(path).is_ok() {
        return Err(exists());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = TempOut::create(&dir).map_err(|e| write_error(&name, e))?;
    let linked = match tmp {
        TempOut::Anonymous { mut file, .. } => {
            let filled = file
                .write_all(contents)
                .and_then(|_| set_mode(&file, 0o600))
                .and_then(|_| file.sync_all());
            match filled {
                Ok(()) => link_anonymous(&file, path),
                Err(e) => return Err(write_error(&name, e)),
            }
        }
        TempOut::Named(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
    };
    let r = match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        // No O_TMPFILE or no way to link it: a named temporary file, linked without clobbering.
        Err(_) => named_temp(&dir, contents, 0o600, None)
            .and_then(|t| t.persist_noclobber(path).map(|_| ()).map_err(|e| e.error)),
    };
    match r {
        Ok(()) => {
            if let Ok(d) = fs::File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(exists()),
        Err(e) => Err(write_error(&name, e)),
    }
}

/// Writes to stdout; a closed pipe (`kseal decrypt | head`) is not an error.
pub fn write_stdout(contents: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(contents).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(write_error("stdout", e)),
    }
}

/// Writes `parts` to stdout one after the other, unbuffered, with vectored writes: a stream
/// of many files goes out in a few system calls without being copied into one buffer first.
#[cfg(unix)]
pub fn write_stdout_parts(parts: &[&[u8]]) -> Result<()> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // Whatever went through Rust's stdout buffer before must come first.
    io::stdout()
        .lock()
        .flush()
        .map_err(|e| write_error("stdout", e))?;
    // SAFETY: fd 1 stays open for the whole process; ManuallyDrop never closes it.
    let mut out =
        std::mem::ManuallyDrop::new(unsafe { fs::File::from_raw_fd(io::stdout().as_raw_fd()) });
    let mut slices: Vec<io::IoSlice<'_>> = parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| io::IoSlice::new(p))
        .collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        // The kernel takes at most IOV_MAX (1024) slices per call.
        let n = rest.len().min(1024);
        match out.write_vectored(&rest[..n]) {
            Ok(0) => {
                return Err(write_error(
                    "stdout",
                    io::Error::from(io::ErrorKind::WriteZero),
                ))
            }
            Ok(written) => io::IoSlice::advance_slices(&mut rest, written),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(write_error("stdout", e)),
        }
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn write_stdout_parts(parts: &[&[u8]]) -> Result<()> {
    write_stdout(&parts.concat())
}

/// Creates a new file for plaintext in a private directory: `O_CREAT|O_EXCL|O_NOFOLLOW`, mode
/// 0600 (an existing name, or a link planted there, is an error, never opened).
pub fn create_private_file(path: &Path) -> io::Result<fs::File> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    opts.open(path)
}

/// A private directory for plaintext (edit buffers, exec-file): created with mode 0700 by the
/// `mkdir` itself (never wider for an instant, whatever the umask), on tmpfs (`/dev/shm`) when
/// there is one so the plaintext stays off persistent storage, else in `override_dir`
/// (KSEAL_TMPDIR) or the system temporary directory. Dropping it removes it.
pub fn private_tempdir(prefix: &str, override_dir: Option<String>) -> Result<tempfile::TempDir> {
    let create = |base: &Path| {
        let mut b = tempfile::Builder::new();
        b.prefix(prefix);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            b.permissions(fs::Permissions::from_mode(0o700));
        }
        b.tempdir_in(base)
    };
    let made = match override_dir.filter(|v| !v.is_empty()) {
        Some(d) => create(Path::new(&d)),
        None => {
            let shm = Path::new("/dev/shm");
            match shm.is_dir().then(|| create(shm)) {
                Some(Ok(dir)) => Ok(dir),
                _ => create(&std::env::temp_dir()),
            }
        }
    };
    let dir = made.map_err(|e| {
        Error::new(
            Kind::Output,
            format!("cannot create a private temporary directory: {e}"),
        )
        .with_source(e)
    })?;
    check_private_dir(dir.path())?;
    Ok(dir)
}

/// A umask can only take bits away from 0700; one that took the owner's own bits leaves a
/// directory nobody can use, which is refused rather than widened after the fact.
#[cfg(unix)]
fn check_private_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let m = fs::symlink_metadata(path).map_err(|e| {
        Error::new(
            Kind::Output,
            format!("cannot inspect the temporary directory: {e}"),
        )
        .with_source(e)
    })?;
    // SAFETY: geteuid has no arguments and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !m.is_dir() || m.uid() != me || m.permissions().mode() & 0o777 != 0o700 {
        return Err(Error::new(
            Kind::Output,
            format!(
                "the private temporary directory {} is not a directory of yours with mode 0700 (the umask removes the owner's permissions?)",
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_dir(_path: &Path) -> Result<()> {
    Ok(())
}

/// Reads a file's bytes (a value, a certificate), refusing directories and huge files.
pub fn read_bytes(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let name = path.display().to_string();
    let fail = |e: std::io::Error| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        Error::new(Kind::Input, format!("cannot read {name}: {why}")).with_source(e)
    };
    let meta = std::fs::metadata(path).map_err(fail)?;
    if meta.is_dir() {
        return Err(Error::new(Kind::Input, format!("{name} is a directory")));
    }
    if meta.len() > MAX_INPUT {
        return Err(Error::new(
            Kind::Input,
            format!("{name} is larger than {} MiB", MAX_INPUT / 1024 / 1024),
        ));
    }
    let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut buf))
        .map_err(fail)?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(Error::new(
            Kind::Input,
            format!("{name} is larger than {} MiB", MAX_INPUT / 1024 / 1024),
        ));
    }
    Ok(buf)
}

/// A file to work on, and whether it was found by walking a directory (where plain files are
/// expected and skipped) rather than named (where a plain file is a mistake).
pub struct Target {
    pub path: PathBuf,
    pub from_dir: bool,
}

/// Expands the command line's files and directories (default: the current directory); stdin
/// is refused, as these commands replace files.
pub fn targets(args: &[PathBuf]) -> Result<Vec<Target>> {
    let default = [PathBuf::from(".")];
    let implicit = args.is_empty();
    let args = if implicit { &default[..] } else { args };
    let mut out = Vec::new();
    for a in args {
        let from_dir = a.is_dir();
        for input in expand_inputs(std::slice::from_ref(a))? {
            match input {
                Input::File(path) => {
                    // `dev/db.yaml`, not `./dev/db.yaml`, when no path was given.
                    let path = match path.strip_prefix(".") {
                        Ok(rel) if implicit => rel.to_path_buf(),
                        _ => path,
                    };
                    out.push(Target { path, from_dir })
                }
                Input::Stdin => {
                    return Err(Error::new(
                        Kind::Usage,
                        "this command changes files in place: name files or directories, not stdin",
                    ))
                }
            }
        }
    }
    Ok(out)
}

/// A new file goes into a directory that must exist before the editor opens: found missing
/// only at the write, what was typed would be lost.
pub fn check_new_file_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        return Ok(());
    }
    let what = if dir.exists() {
        "is not a directory"
    } else {
        "does not exist"
    };
    Err(Error::new(
        Kind::Output,
        format!(
            "cannot create {}: the directory {} {what}; the editor was not opened",
            path.display(),
            dir.display()
        ),
    )
    .with_hint(format!("create it first: mkdir -p {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_keeps_mode_and_follows_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.yaml");
        fs::write(&f, "old").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        write_atomic(&link, b"new", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&f).unwrap(), "new");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".kseal-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replace_if_unchanged_compares_before_renaming() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.yaml");
        fs::write(&f, "v1").unwrap();
        assert!(replace_if_unchanged(&f, Expect::Content(b"v1"), b"v2", 0o644).unwrap());
        assert_eq!(fs::read_to_string(&f).unwrap(), "v2");
        // Someone else wrote v2 meanwhile: a writer that read v1 must not overwrite it.
        assert!(!replace_if_unchanged(&f, Expect::Content(b"v1"), b"v3", 0o644).unwrap());
        assert_eq!(fs::read_to_string(&f).unwrap(), "v2");
        assert!(!replace_if_unchanged(&f, Expect::Absent, b"v3", 0o644).unwrap());
        let g = dir.path().join("new.yaml");
        assert!(replace_if_unchanged(&g, Expect::Absent, b"n", 0o600).unwrap());
        assert_eq!(names(dir.path()), ["a.yaml", "new.yaml"]);
    }

    #[test]
    fn writes_wait_for_the_directory_lock() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.yaml");
        fs::write(&f, "old").unwrap();
        let held = fs::File::open(dir.path()).unwrap();
        try_lock(&held).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let f2 = f.clone();
        let writer = std::thread::spawn(move || {
            write_atomic(&f2, b"new", 0o644).unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err());
        assert_eq!(fs::read_to_string(&f).unwrap(), "old");
        drop(held);
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        writer.join().unwrap();
        assert_eq!(fs::read_to_string(&f).unwrap(), "new");
    }

    #[test]
    fn orphaned_temporary_files_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(".kseal-0123456789abcdef.tmp"),
            "half a file",
        )
        .unwrap();
        fs::write(dir.path().join(".kseal-keep.txt"), "not ours").unwrap();
        write_atomic(&dir.path().join("a.yaml"), b"x", 0o644).unwrap();
        assert_eq!(names(dir.path()), [".kseal-keep.txt", "a.yaml"]);
    }

    #[test]
    fn named_fallback_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let t = named_temp(dir.path(), b"content", 0o640, None).unwrap();
        let target = dir.path().join("a.yaml");
        t.persist(&target).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "content");
        assert_eq!(names(dir.path()), ["a.yaml"]);
        // Dropped unpersisted: removed.
        drop(named_temp(dir.path(), b"x", 0o600, None).unwrap());
        assert_eq!(names(dir.path()), ["a.yaml"]);
    }

    #[test]
    fn dangling_symlink_and_devices() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink("target.yaml", &link).unwrap();
        write_atomic(&link, b"t", 0o600).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("target.yaml")).unwrap(),
            "t"
        );
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        // A device is written to, not replaced.
        write_atomic(Path::new("/dev/null"), b"x", 0o600).unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
        // A directory is refused.
        let e = write_atomic(dir.path(), b"x", 0o600).err().unwrap();
        assert_eq!(e.kind, Kind::Output);
    }

    #[test]
    fn output_size_limit() {
        assert!(check_output_size(MAX_INPUT as usize).is_ok());
        let e = check_output_size(MAX_INPUT as usize + 1).err().unwrap();
        assert_eq!(e.kind, Kind::Output);
    }

    #[test]
    fn new_private_refuses_to_overwrite() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("k.txt");
        write_new_private(&f, b"x").unwrap();
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(write_new_private(&f, b"y").is_err());
        assert_eq!(fs::read_to_string(&f).unwrap(), "x");
        // A dangling symlink is not followed to create a file elsewhere.
        let link = dir.path().join("l.txt");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
        assert!(write_new_private(&link, b"y").is_err());
        assert!(!dir.path().join("elsewhere").exists());
        assert_eq!(names(dir.path()), ["k.txt", "l.txt"]);
    }

    #[test]
    fn plaintext_targets_are_not_links_or_other_users_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.yaml");
        fs::write(&f, "old").unwrap();
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        let e = write_private(&link, b"plain").err().unwrap();
        assert_eq!(e.kind, Kind::Refused);
        assert_eq!(fs::read_to_string(&f).unwrap(), "old");
        write_private(&f, b"plain").unwrap();
        assert_eq!(fs::read_to_string(&f).unwrap(), "plain");
        assert!(check_private_target(Path::new("/dev/stdout")).is_ok());
        assert!(check_private_target(Path::new("/dev/null")).is_ok());
        assert!(is_own_descriptor(Path::new("/proc/self/fd/1")));
        assert!(!is_own_descriptor(Path::new("/proc/self/fd/")));
        assert!(!is_own_descriptor(Path::new("/dev/shm/x")));
        // Files kseal creates for plaintext: exclusive, never through a link.
        let p = dir.path().join("buf");
        create_private_file(&p).unwrap();
        assert!(create_private_file(&p).is_err());
        assert!(create_private_file(&link).is_err());
    }
}
