//! Process hardening at start-up: no core dumps, no ptrace by other processes of the user, and
//! panic messages that never print their payload (which may quote a secret value).
//!
//! kseal holds data keys, identities and plaintext in memory for its whole (short) life, so
//! this runs first thing in `main`, for every command.

/// Applies every protection; failures are ignored (an unusual kernel must not stop kseal).
pub fn process() {
    no_core_dumps();
    quiet_panics();
}

/// `RLIMIT_CORE` 0 stops the kernel writing a core file (with the plaintext pages) on a crash;
/// `PR_SET_DUMPABLE` 0 also stops core dumps through a `core_pattern` pipe (systemd-coredump,
/// apport), which ignores the rlimit, and keeps other processes of the same user from
/// attaching with ptrace or reading `/proc/PID/mem`. Child processes (the editor, `exec-env`
/// commands) inherit the core limit; `execve` makes them dumpable again.
pub fn no_core_dumps() {
    #[cfg(unix)]
    {
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads a valid struct that lives across the call.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
        }
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_DUMPABLE takes plain integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Replaces the default panic message: a panic's payload can quote the data it choked on (a
/// string slice out of bounds prints the string), so only the location is printed; `main`
/// turns the panic into exit code 1. `KSEAL_PANIC_DETAILS=1` shows the payload, for debugging on test data.
fn quiet_panics() {
    let details = std::env::var_os("KSEAL_PANIC_DETAILS").is_some_and(|v| v == "1");
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_else(|| "an unknown place".into());
        let payload = details.then(|| {
            info.payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default()
        });
        eprintln!("{}", panic_text(&location, payload.as_deref()));
    }));
}

/// The text printed for a panic.
fn panic_text(location: &str, payload: Option<&str>) -> String {
    let mut s = format!(
        "kseal: internal error: kseal panicked at {location} (a bug: please report it); \
         nothing was written"
    );
    match payload {
        Some(p) => {
            s.push_str("\n  panic message: ");
            s.push_str(p);
        }
        None => s.push_str(
            "\n  the panic message is not shown because it may contain secret data \
             (KSEAL_PANIC_DETAILS=1 shows it: use test data only)",
        ),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_text_leaves_out_the_payload_by_default() {
        let t = panic_text("src/x.rs:1", None);
        assert!(t.contains("src/x.rs:1"));
        assert!(!t.contains("panic message:"));
        let t = panic_text("src/x.rs:1", Some("byte index 3 of `s3cr3t`"));
        assert!(t.contains("s3cr3t"));
    }

    /// Runs in this test process: afterwards it has no core limit and is not dumpable, which
    /// harms no other test.
    #[cfg(target_os = "linux")]
    #[test]
    fn core_dumps_are_off_after_hardening() {
        no_core_dumps();
        let mut lim = libc::rlimit {
            rlim_cur: 1,
            rlim_max: 1,
        };
        // SAFETY: getrlimit writes into a valid struct; prctl takes integers.
        let (r, dumpable) = unsafe {
            (
                libc::getrlimit(libc::RLIMIT_CORE, &mut lim),
                libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0),
            )
        };
        assert_eq!(r, 0);
        assert_eq!((lim.rlim_cur, lim.rlim_max), (0, 0));
        assert_eq!(dumpable, 0);
    }
}
