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
fn read_error(name: &str, e: &io::Error) -> Error {
    let why = match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    Error::new(Kind::Input, format!("cannot read it: {why}")).in_file(name)
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
                .map_err(|e| read_error(&name, &e))?;
        }
        Input::File(p) => {
            let meta = fs::metadata(p).map_err(|e| read_error(&name, &e))?;
            if meta.is_dir() {
                return Err(Error::new(Kind::Input, format!("{name} is a directory")));
            }
            if !meta.is_file() {
                return Err(Error::new(
                    Kind::Input,
                    format!("{name} is not a regular file"),
                ));
            }
            if meta.len() > MAX_INPUT {
                return Err(too_big(&name));
            }
            let f = fs::File::open(p).map_err(|e| read_error(&name, &e))?;
            // Sized up front: growing by doubling would touch twice the memory.
            bytes.reserve_exact(meta.len() as usize + 1);
            f.take(MAX_INPUT + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| read_error(&name, &e))?;
        }
    }
    if bytes.len() as u64 > MAX_INPUT {
        return Err(too_big(&name));
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::format(format!(
            "{name} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn too_big(name: &str) -> Error {
    Error::new(
        Kind::Input,
        format!("{name} is larger than {} MiB", MAX_INPUT / 1024 / 1024),
    )
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
                eprintln!(
                    "kseal: warning: {}: no *.yaml, *.yml or *.json files found",
                    a.display()
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
    let rd = fs::read_dir(dir).map_err(|e| read_error(&dir.display().to_string(), &e))?;
    for entry in rd {
        let entry = entry.map_err(|e| read_error(&dir.display().to_string(), &e))?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = entry
            .file_type()
            .map_err(|e| read_error(&path.display().to_string(), &e))?;
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

fn write_error(name: &str, e: &io::Error) -> Error {
    Error::new(Kind::Output, format!("cannot write {name}: {e}"))
}

/// Writes plaintext: atomically, and always mode 0600, even over an existing file.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    write_file(path, contents, 0o600, true)
}

/// Replaces `path` atomically: a temporary file in the same directory, the original's mode,
/// fsync, rename, then fsync of the directory. A symlink is followed: its target is replaced
/// and the link stays. On any error the original is untouched and the temporary file is gone.
pub fn write_atomic(path: &Path, contents: &[u8], new_mode: u32) -> Result<()> {
    write_file(path, contents, new_mode, false)
}

fn write_file(path: &Path, contents: &[u8], new_mode: u32, force_mode: bool) -> Result<()> {
    let name = path.display().to_string();
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(path).map_err(|e| write_error(&name, &e))?
        }
        _ => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mode = match fs::metadata(&target) {
        Ok(m) if !force_mode => permissions_mode(&m),
        _ => new_mode,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".kseal-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| write_error(&name, &e))?;
    set_mode(tmp.as_file(), mode).map_err(|e| write_error(&name, &e))?;
    tmp.write_all(contents)
        .map_err(|e| write_error(&name, &e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| write_error(&name, &e))?;
    tmp.persist(&target)
        .map_err(|e| write_error(&name, &e.error))?;
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
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

/// Creates a new file with mode 0600, refusing to overwrite an existing one.
pub fn write_new_private(path: &Path, contents: &[u8]) -> Result<()> {
    let name = path.display().to_string();
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            Error::new(
                Kind::Output,
                format!("{name} already exists; kseal does not overwrite keys"),
            )
            .with_hint("choose another file name or remove the old file yourself")
        } else {
            write_error(&name, &e)
        }
    })?;
    f.write_all(contents).map_err(|e| write_error(&name, &e))?;
    f.sync_all().map_err(|e| write_error(&name, &e))?;
    Ok(())
}

/// Writes to stdout; a closed pipe (`kseal decrypt | head`) is not an error.
pub fn write_stdout(contents: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(contents).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(write_error("stdout", &e)),
    }
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
    }
}
