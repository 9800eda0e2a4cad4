//! The terminating signals kseal catches while plaintext sits in a private directory (the edit
//! buffer, exec-file's files), so that every way to end kseal but SIGKILL removes it.
//!
//! Caught: every signal whose default action ends the process and that another process can
//! send: HUP, INT, QUIT, ABRT, USR1, USR2, ALRM, TERM, STKFLT, XCPU, XFSZ, VTALRM, PROF, IO,
//! PWR and the real-time signals. Not caught: KILL and STOP (they cannot be), PIPE (Rust
//! programs ignore it: a closed pipe is an EPIPE error, never a death), and the fault
//! signals SEGV, BUS, ILL, FPE, TRAP and SYS: raised by a fault, a handler that returns would
//! run the faulting instruction again, forever; they mean a bug, and the core dump they would
//! write is off (`harden`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kseal::error::{Error, Kind, Result};

/// The signals [`Terminations`] catches (the real-time ones are added at run time).
#[cfg(unix)]
const CAUGHT: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGABRT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGTERM,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    libc::SIGSTKFLT,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGIO,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    libc::SIGPWR,
];

/// Every signal caught, real-time ones included.
#[cfg(unix)]
pub fn caught() -> Vec<i32> {
    let mut all = CAUGHT.to_vec();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    all.extend(libc::SIGRTMIN()..=libc::SIGRTMAX());
    all
}

/// Records the last terminating signal received; the process goes on, and the code that owns
/// the private directory looks at [`Terminations::received`] and winds down (which removes
/// the directory). Installed once per process, before the directory is created.
#[derive(Clone)]
pub struct Terminations(Arc<AtomicUsize>);

impl Terminations {
    pub fn install() -> Result<Terminations> {
        let got = Arc::new(AtomicUsize::new(0));
        #[cfg(unix)]
        for sig in caught() {
            signal_hook::flag::register_usize(sig, Arc::clone(&got), sig as usize).map_err(
                |e| {
                    Error::new(
                        Kind::Internal,
                        format!("cannot install a handler for signal {sig}: {e}"),
                    )
                    .with_source(e)
                },
            )?;
        }
        Ok(Terminations(got))
    }

    /// The last terminating signal received, if any.
    pub fn received(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s as i32),
        }
    }

    /// Forgets the signal received (after it was passed on).
    pub fn clear(&self) {
        self.0.store(0, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_terminating_signal_but_faults_and_pipe_is_caught() {
        let all = caught();
        for s in [
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGALRM,
            libc::SIGTERM,
            libc::SIGHUP,
        ] {
            assert!(all.contains(&s), "{s}");
        }
        for s in [
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGPIPE,
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGCHLD,
        ] {
            assert!(!all.contains(&s), "{s}");
        }
        assert!(all.contains(&libc::SIGRTMAX()));
    }
}
