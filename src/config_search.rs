//! Finding the `.sops.yaml` that applies: upward from a directory, but only as far as the
//! repository's top (the directory holding `.git`) or `$HOME`, and never a file that someone
//! else could have written (it picks the recipients every new secret is encrypted for).

use std::path::{Path, PathBuf};

/// The outcome of a search: the file to use, if any, and the candidates passed over because
/// other users can write them (each with the reason, for a warning).
#[derive(Debug, Default)]
pub struct Found {
    pub path: Option<PathBuf>,
    pub ignored: Vec<(PathBuf, String)>,
}

/// Looks for `.sops.yaml` in `start` and its parents. The search ends after the directory
/// holding `.git` (the repository's top: a `.sops.yaml` above it belongs to something else)
/// or after `home`; outside both it goes up to `/`. A candidate that fails [`trusted`] is
/// recorded in `ignored` and the search goes on.
pub fn find(start: &Path, home: Option<&Path>) -> Found {
    let mut found = Found::default();
    for dir in start.ancestors().take(100) {
        let candidate = dir.join(".sops.yaml");
        if candidate.is_file() {
            match trusted(&candidate) {
                Ok(()) => {
                    found.path = Some(candidate);
                    return found;
                }
                Err(why) => found.ignored.push((candidate, why)),
            }
        }
        let top = std::fs::symlink_metadata(dir.join(".git")).is_ok();
        if top || home.is_some_and(|h| h == dir) {
            break;
        }
    }
    found
}

/// Whether only the effective user (or root) can have written `file`: the file and the
/// directory holding it belong to one of them and are writable by neither group nor others
/// (a group that is the user's own, with no other members, is fine: the default with user
/// private groups and umask 002).
#[cfg(unix)]
pub fn trusted(file: &Path) -> Result<(), String> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let meta = |p: &Path| std::fs::metadata(p).map_err(|e| format!("cannot inspect it: {e}"));
    check_writers(&meta(file)?, "the file")?;
    check_writers(&meta(&dir)?, "its directory")
}

#[cfg(not(unix))]
pub fn trusted(_file: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(unix)]
fn check_writers(m: &std::fs::Metadata, what: &str) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no arguments and cannot fail.
    let me = unsafe { libc::geteuid() };
    if m.uid() != me && m.uid() != 0 {
        return Err(format!("{what} belongs to another user (uid {})", m.uid()));
    }
    if m.mode() & 0o002 != 0 {
        return Err(format!("{what} is writable by every user"));
    }
    if m.mode() & 0o020 != 0 && !own_private_group(m.gid()) {
        return Err(format!("{what} is writable by its group (gid {})", m.gid()));
    }
    Ok(())
}

/// Whether `gid` is the effective group and lists no member (user private groups: the user
/// belongs to it through the password file, nobody else does).
#[cfg(unix)]
fn own_private_group(gid: u32) -> bool {
    // SAFETY: getegid has no arguments and cannot fail.
    if gid != unsafe { libc::getegid() } {
        return false;
    }
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 64 * 1024];
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: getgrgid_r fills `grp` with pointers into `buf`, both alive for this function;
    // `result` is null unless the entry was found.
    let rc = unsafe { libc::getgrgid_r(gid, &mut grp, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return false;
    }
    // SAFETY: gr_mem is a null-terminated array of C strings inside `buf`.
    let first = unsafe { *grp.gr_mem };
    first.is_null()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path, m: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    }

    #[test]
    fn the_search_stops_at_the_repository_top_and_home() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        fs::write(root.join(".sops.yaml"), "creation_rules: []\n").unwrap();
        let repo = root.join("repo");
        fs::create_dir_all(repo.join(".git")).unwrap();
        fs::create_dir_all(repo.join("apps/web")).unwrap();
        // Above the repository's top: not used.
        let f = find(&repo.join("apps/web"), None);
        assert!(f.path.is_none() && f.ignored.is_empty(), "{f:?}");
        // Inside it: the nearest one.
        fs::write(repo.join(".sops.yaml"), "creation_rules: []\n").unwrap();
        fs::write(repo.join("apps/.sops.yaml"), "creation_rules: []\n").unwrap();
        assert_eq!(
            find(&repo.join("apps/web"), None).path,
            Some(repo.join("apps/.sops.yaml"))
        );
        // Without a repository, $HOME is the top.
        let home = root.join("home");
        fs::create_dir_all(home.join("work")).unwrap();
        assert!(find(&home.join("work"), Some(&home)).path.is_none());
        assert_eq!(
            find(&home.join("work"), None).path,
            Some(root.join(".sops.yaml"))
        );
    }

    #[test]
    fn files_others_can_write_are_ignored() {
        let t = tempfile::tempdir().unwrap();
        let open = t.path().join("open");
        fs::create_dir_all(open.join("sub/.git")).unwrap();
        mode(&open, 0o777);
        fs::write(open.join(".sops.yaml"), "creation_rules: []\n").unwrap();
        let f = find(&open, None);
        assert!(f.path.is_none());
        assert_eq!(f.ignored.len(), 1);
        assert!(
            f.ignored[0]
                .1
                .contains("directory is writable by every user"),
            "{f:?}"
        );
        // Sticky (like /tmp) or not: anyone may have created it.
        mode(&open, 0o1777);
        assert!(find(&open, None).path.is_none());
        mode(&open, 0o755);
        assert!(find(&open, None).path.is_some());
        mode(&open.join(".sops.yaml"), 0o666);
        assert!(find(&open, None).ignored[0]
            .1
            .contains("the file is writable by every user"));
        mode(&open.join(".sops.yaml"), 0o644);
        // The search goes on past an ignored one, up to the top.
        let sub = open.join("sub");
        fs::write(sub.join(".sops.yaml"), "creation_rules: []\n").unwrap();
        mode(&sub.join(".sops.yaml"), 0o646);
        let f = find(&sub, None);
        assert!(f.path.is_none(), "stops at the repository top");
        assert_eq!(f.ignored.len(), 1);
    }

    #[test]
    fn files_of_other_users_are_ignored() {
        // SAFETY: geteuid has no arguments and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("note: not root: the test of another user's .sops.yaml is skipped");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join(".sops.yaml");
        fs::write(&f, "creation_rules: []\n").unwrap();
        std::os::unix::fs::chown(&f, Some(65534), None).unwrap();
        let e = trusted(&f).unwrap_err();
        assert!(e.contains("another user (uid 65534)"), "{e}");
        std::os::unix::fs::chown(&f, Some(0), None).unwrap();
        assert!(trusted(&f).is_ok());
    }
}
