//! Identities from a command (`KSEAL_AGE_KEY_CMD`, `SOPS_AGE_KEY_CMD`, and the SSH variants):
//! a password manager prints an identity file on stdout and kseal reads it from memory.
//!
//! The command is split like a shell would (`shlex`) but run without one, so no quoting or
//! expansion surprises; its stdin is closed (kseal may be reading a manifest from it) and its
//! stderr goes to the user, since a password manager may need to say something.
//!
//! As in sops >= 3.12, a command runs for one recipient at a time, with `SOPS_AGE_RECIPIENT`
//! (and kseal's `KSEAL_AGE_RECIPIENT`) set to it, so that a password manager can print the one
//! key that recipient needs; it runs only when the identities from files and variables open
//! nothing, and once per recipient and run.

use std::io::Read;
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use super::Identities;
use crate::error::{Error, Kind};

/// The variables that hold key material itself, or run a key command (which a key command of
/// its own must not see: it would run itself again). Key commands keep the `*_FILE` ones and
/// the recipient variables, which a password-manager wrapper may use.
pub const KEY_COMMAND_HIDDEN_VARS: &[&str] = &[
    "KSEAL_AGE_KEY",
    "SOPS_AGE_KEY",
    "KSEAL_AGE_KEY_CMD",
    "SOPS_AGE_KEY_CMD",
    "KSEAL_AGE_SSH_PRIVATE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_CMD",
];

/// Output beyond this is not an identity file: the command is wrong.
const OUTPUT_LIMIT: usize = 1 << 20;

/// The variables a key command finds the recipient being tried in.
pub const RECIPIENT_VARS: [&str; 2] = ["SOPS_AGE_RECIPIENT", "KSEAL_AGE_RECIPIENT"];

/// A key command as the user set it: the variable's name and the split command line.
pub(crate) struct KeyCommand {
    var: String,
    argv: Vec<String>,
}

impl KeyCommand {
    /// How messages name the command: the variable and the program, never its arguments
    /// (which could hold a secret).
    fn label(&self) -> String {
        format!("{} ({})", self.var, self.argv[0])
    }
}

/// Registers `command` (the value of the variable `var`), to be run for each recipient tried.
///
/// A command line kseal cannot split is reported only if no identity opens a file, like any
/// failure of the command (sops >= 3.11: another identity may open the file).
pub(crate) fn add_from_command(ids: &mut Identities, command: &str, var: &str) {
    let Some(argv) = shlex::split(command).filter(|a| !a.is_empty()) else {
        ids.note_searched(&format!("{var} (unusable)"));
        ids.note_problem(format!(
            "{var} is not a command line kseal can split (unbalanced quotes?)"
        ));
        return;
    };
    let c = KeyCommand {
        var: var.to_string(),
        argv,
    };
    ids.note_searched(&c.label());
    ids.add_command(c);
}

/// Runs `c` for `recipient` and adds the identities it prints to `ids` (problems are noted
/// there, for the message shown when nothing opens the file).
pub(crate) fn run_for(ids: &mut Identities, c: &KeyCommand, recipient: &str) {
    let label = c.label();
    match run(&c.argv, recipient) {
        Ok(output) => {
            if output.iter().all(u8::is_ascii_whitespace) {
                ids.note_problem(format!("{label} printed no identity"));
            } else if let Err(e) = ids.add_identity_bytes(&output, &label) {
                ids.note_problem_error(e.message.clone(), e);
            }
        }
        Err(Failure { why, source: None }) => ids.note_problem(format!("{label} {why}")),
        Err(Failure {
            why,
            source: Some(e),
        }) => {
            let what = format!("{label} {why}");
            ids.note_problem_error(
                what.clone(),
                Error::new(Kind::NoIdentity, what).with_source(e),
            );
        }
    }
}

/// Why a key command gave nothing: what to say after its label, and the I/O error behind it.
struct Failure {
    why: String,
    source: Option<std::io::Error>,
}

impl From<&str> for Failure {
    fn from(why: &str) -> Failure {
        Failure {
            why: why.to_string(),
            source: None,
        }
    }
}

impl Failure {
    fn io(what: &str, e: std::io::Error) -> Failure {
        Failure {
            why: format!("{what}: {e}"),
            source: Some(e),
        }
    }
}

/// Runs the command and returns its stdout, kept in zeroizing memory.
fn run(argv: &[String], recipient: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut cmd = Command::new(&argv[0]);
    for var in KEY_COMMAND_HIDDEN_VARS {
        cmd.env_remove(var);
    }
    for var in RECIPIENT_VARS {
        cmd.env(var, recipient);
    }
    let mut child = cmd
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Failure::io("could not be started", e))?;
    let mut stdout = child.stdout.take().ok_or("has no stdout")?;
    let mut out = Zeroizing::new(Vec::with_capacity(16 * 1024));
    let mut chunk = Zeroizing::new([0u8; 8192]);
    let read_result = loop {
        match stdout.read(&mut chunk[..]) {
            Ok(0) => break Ok(()),
            Ok(n) if out.len() + n > OUTPUT_LIMIT => break Err("printed more than 1 MiB"),
            Ok(n) => {
                if out.len() + n > out.capacity() {
                    // Grow by hand: a reallocation by Vec would leave a copy of the key behind.
                    let mut bigger = Zeroizing::new(Vec::with_capacity(out.capacity() * 2 + n));
                    bigger.extend_from_slice(&out);
                    out = bigger;
                }
                out.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break Err("could not be read"),
        }
    };
    if read_result.is_err() {
        let _ = child.kill();
    }
    let status = child
        .wait()
        .map_err(|e| Failure::io("could not be waited for", e))?;
    read_result.map_err(Failure::from)?;
    if !status.success() {
        return Err(match status.code() {
            Some(c) => Failure::from(format!("failed (exit status {c})").as_str()),
            None => Failure::from("was killed by a signal"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::keys::testutil::{fixture, hex, read_fixture, MustFail};

    const FLUX_KEY: &str = "558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb";

    fn flux_recipient() -> String {
        let text = read_fixture("flux-age.txt");
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .unwrap();
        line.trim().to_string()
    }

    fn open(ids: &Identities, recipient: &str) -> crate::error::Result<Zeroizing<Vec<u8>>> {
        ids.unwrap_for(recipient, read_fixture("flux-age.enc").as_bytes(), 32)
    }

    #[test]
    fn a_command_that_prints_an_identity_file() {
        let dir = tempfile::tempdir().unwrap();
        let spaced = dir.path().join("my keys.txt");
        std::fs::copy(fixture("flux-age.txt"), &spaced).unwrap();
        let mut ids = Identities::new();
        // Quoted as in a shell, run without one.
        add_from_command(
            &mut ids,
            &format!("cat '{}'", spaced.display()),
            "KSEAL_AGE_KEY_CMD",
        );
        assert_eq!(ids.searched(), ["KSEAL_AGE_KEY_CMD (cat)"]);
        // Nothing runs before a recipient is tried.
        assert_eq!(ids.len(), 0);
        assert_eq!(hex(&open(&ids, &flux_recipient()).unwrap()), FLUX_KEY);
        assert_eq!(ids.len(), 1);
    }

    /// A key command that cannot be started: the no-identity error names it and keeps the
    /// I/O error as its source chain (error -> the command's problem -> io::Error), not only
    /// as text.
    #[test]
    fn a_command_that_cannot_start_keeps_the_io_error_as_source() {
        use std::error::Error as _;
        let mut ids = Identities::new();
        add_from_command(&mut ids, "/nonexistent/pass show age", "SOPS_AGE_KEY_CMD");
        let e = open(&ids, &flux_recipient()).must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
        assert!(e
            .message
            .contains("SOPS_AGE_KEY_CMD (/nonexistent/pass) could not be started"));
        let problem = e.source().expect("the command's problem");
        assert!(
            problem.to_string().contains("could not be started"),
            "{problem}"
        );
        let io = problem.source().expect("the I/O error");
        let io = io.downcast_ref::<std::io::Error>().expect("an io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        assert!(ids.problem_source().is_some());
    }

    /// sops >= 3.12: the command sees the recipient being tried in `SOPS_AGE_RECIPIENT`
    /// (kseal also sets `KSEAL_AGE_RECIPIENT`), and runs once per recipient and run.
    #[test]
    fn the_command_is_told_the_recipient_and_runs_once_per_recipient() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let key = fixture("flux-age.txt");
        let script = format!(
            "echo \"$SOPS_AGE_RECIPIENT $KSEAL_AGE_RECIPIENT\" >> '{}'; \
             test \"$SOPS_AGE_RECIPIENT\" = '{}' && cat '{}'",
            log.display(),
            flux_recipient(),
            key.display()
        );
        let mut ids = Identities::new();
        add_from_command(
            &mut ids,
            &format!("sh -c \"{}\"", script.replace('"', "\\\"")),
            "SOPS_AGE_KEY_CMD",
        );
        // Another recipient: the command prints nothing for it.
        let e = open(&ids, "age1other").must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
        assert_eq!(hex(&open(&ids, &flux_recipient()).unwrap()), FLUX_KEY);
        assert_eq!(hex(&open(&ids, &flux_recipient()).unwrap()), FLUX_KEY);
        let r = flux_recipient();
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            format!("age1other age1other\n{r} {r}\n")
        );
    }

    #[test]
    fn failures_are_reported_only_when_nothing_opens() {
        let secret_arg = "AGE-SECRET-KEY-1SOMETHINGSECRET";
        for (cmd, expect) in [
            (
                "/nonexistent/pass show age".to_string(),
                "could not be started",
            ),
            (format!("sh -c 'exit 3' {secret_arg}"), "exit status 3"),
            ("true".to_string(), "printed no identity"),
            ("echo not-a-key".to_string(), "line 1"),
            ("echo 'unbalanced".to_string(), "kseal can split"),
        ] {
            let mut ids = Identities::new();
            add_from_command(&mut ids, &cmd, "SOPS_AGE_KEY_CMD");
            assert!(ids.is_empty());
            let e = open(&ids, &flux_recipient()).must_fail();
            assert_eq!(e.kind, Kind::NoIdentity);
            assert!(ids.is_empty());
            let problems = ids.problems().join("; ");
            assert!(problems.contains("SOPS_AGE_KEY_CMD"), "{problems}");
            assert!(problems.contains(expect), "{cmd}: {problems}");
            assert!(!problems.contains("SOMETHINGSECRET"), "{problems}");
            assert!(!e.message.contains("SOMETHINGSECRET"), "{}", e.message);
        }
    }

    /// What a key command prints is read with the caller's passphrase prompt: a
    /// passphrase-protected identity file from a password manager opens with the answer the
    /// caller gives (here a test's, not the terminal's).
    #[test]
    fn a_command_that_prints_a_protected_identity_asks_the_callers_prompt() {
        use age::secrecy::SecretString;
        let dir = tempfile::tempdir().unwrap();
        let protected = dir.path().join("key.age");
        let text = crate::keys::protect_identity(
            &read_fixture("flux-age.txt"),
            SecretString::from("pw".to_string()),
        )
        .unwrap();
        std::fs::write(&protected, text).unwrap();
        let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&asked);
        let mut ids = Identities::new().with_passphrase_source(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(SecretString::from("pw".to_string()))
        });
        add_from_command(
            &mut ids,
            &format!("cat '{}'", protected.display()),
            "KSEAL_AGE_KEY_CMD",
        );
        assert_eq!(hex(&open(&ids, &flux_recipient()).unwrap()), FLUX_KEY);
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// When a key command's identities open nothing either, the error still says everywhere
    /// kseal looked and every problem met before the command ran, not only the command's.
    #[test]
    fn a_command_that_opens_nothing_keeps_the_places_and_problems_seen_before() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("keys.txt");
        let mut ids = Identities::new();
        ids.add_file(&missing, false).unwrap();
        ids.note_problem("~/.ssh/id_rsa: an unsupported key (skipped)".to_string());
        add_from_command(
            &mut ids,
            &format!("cat '{}'", fixture("sops-keys.txt").display()),
            "SOPS_AGE_KEY_CMD",
        );
        let e = open(&ids, &flux_recipient()).must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
        assert!(
            e.message
                .starts_with("the age identity kseal found cannot open the data key"),
            "{}",
            e.message
        );
        assert!(
            e.message
                .contains("~/.ssh/id_rsa: an unsupported key (skipped)"),
            "{}",
            e.message
        );
        let Some(crate::error::Reason::NoIdentity { looked }) = e.reason() else {
            panic!("{:?}", e.reason())
        };
        assert_eq!(
            looked,
            &format!(
                "kseal looked in: {} (not found), SOPS_AGE_KEY_CMD (cat)",
                missing.display()
            )
        );
    }

    /// Every recipient tried runs the command again: each distinct problem is reported once,
    /// whichever run met it, next to the problems seen before the commands ran.
    #[test]
    fn each_runs_problems_are_reported_once() {
        let mut ids = Identities::new();
        ids.note_problem("a default SSH key (skipped)".to_string());
        // The exit status is the length of the recipient: a different failure per recipient.
        add_from_command(
            &mut ids,
            "sh -c 'exit ${#SOPS_AGE_RECIPIENT}'",
            "SOPS_AGE_KEY_CMD",
        );
        for recipient in ["age1aa", "age1aaaa", "age1aa"] {
            assert_eq!(open(&ids, recipient).must_fail().kind, Kind::NoIdentity);
        }
        assert_eq!(
            ids.problems(),
            [
                "a default SSH key (skipped)",
                "SOPS_AGE_KEY_CMD (sh) failed (exit status 6)",
                "SOPS_AGE_KEY_CMD (sh) failed (exit status 8)",
            ]
        );
    }

    /// A command may print up to 1 MiB (an identity file padded with comments still opens);
    /// one byte more and its output is refused, not parsed.
    #[test]
    fn output_up_to_1_mib_is_read_and_more_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = read_fixture("flux-age.txt");
        for (size, opens) in [(OUTPUT_LIMIT, true), (OUTPUT_LIMIT + 1, false)] {
            // The identity comes last: a cut output would lose it.
            let comment = format!("#{}\n", "x".repeat(size - key.len() - 2));
            let path = dir.path().join(format!("keys-{size}.txt"));
            std::fs::write(&path, format!("{comment}{key}")).unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, size);
            let mut ids = Identities::new();
            add_from_command(
                &mut ids,
                &format!("cat '{}'", path.display()),
                "KSEAL_AGE_KEY_CMD",
            );
            let opened = open(&ids, &flux_recipient());
            if opens {
                assert_eq!(hex(&opened.unwrap()), FLUX_KEY);
            } else {
                assert_eq!(opened.must_fail().kind, Kind::NoIdentity);
                assert_eq!(
                    ids.problems(),
                    ["KSEAL_AGE_KEY_CMD (cat) printed more than 1 MiB"]
                );
            }
        }
    }

    /// A command that keeps printing is stopped once it passes 1 MiB (kseal does not wait
    /// for it to end), and one that closes its output but takes a moment to exit is waited
    /// for, not killed: its success counts.
    #[test]
    fn an_endless_command_is_stopped_and_a_slow_exit_is_awaited() {
        let mut ids = Identities::new();
        add_from_command(&mut ids, "yes AGE-SECRET-KEY-1", "KSEAL_AGE_KEY_CMD");
        assert_eq!(
            open(&ids, &flux_recipient()).must_fail().kind,
            Kind::NoIdentity
        );
        assert_eq!(
            ids.problems(),
            ["KSEAL_AGE_KEY_CMD (yes) printed more than 1 MiB"]
        );

        let key = fixture("flux-age.txt");
        let mut ids = Identities::new();
        add_from_command(
            &mut ids,
            &format!("sh -c \"cat '{}'; exec >&-; sleep 1\"", key.display()),
            "KSEAL_AGE_KEY_CMD",
        );
        assert_eq!(hex(&open(&ids, &flux_recipient()).unwrap()), FLUX_KEY);
    }

    /// The output buffer (grown by hand, to zeroize every copy) grows geometrically: a
    /// command that prints 1 MiB costs about 1.5 MiB of memory, not a gibibyte.
    #[test]
    fn the_output_buffer_stays_within_twice_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, vec![b'#'; OUTPUT_LIMIT]).unwrap();
        let argv = ["cat".to_string(), path.display().to_string()];
        let Ok(out) = run(&argv, "age1x") else {
            panic!("cat failed")
        };
        assert_eq!(out.len(), OUTPUT_LIMIT);
        assert!(out.iter().all(|b| *b == b'#'));
        assert!(
            out.capacity() <= 2 * OUTPUT_LIMIT + 16 * 1024,
            "{}",
            out.capacity()
        );
    }
}
