//! Identities from a command (`KSEAL_AGE_KEY_CMD`, `SOPS_AGE_KEY_CMD`, and the SSH variants):
//! a password manager prints an identity file on stdout and kseal reads it from memory.
//!
//! The command is split like a shell would (`shlex`) but run without one, so no quoting or
//! expansion surprises; its stdin is closed (kseal may be reading a manifest from it) and its
//! stderr goes to the user, since a password manager may need to say something.

use std::io::Read;
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use super::Identities;

/// Output beyond this is not an identity file: the command is wrong.
const OUTPUT_LIMIT: usize = 1 << 20;

/// Runs `command` (the value of the variable `var`) and adds the identities it prints.
///
/// Failures do not stop discovery, as in sops >= 3.11: another identity may open the file. They
/// are reported only if none does. Messages name the variable and the program, never its
/// arguments (which could hold a secret) or its output.
pub(crate) fn add_from_command(ids: &mut Identities, command: &str, var: &str) {
    let Some(argv) = shlex::split(command).filter(|a| !a.is_empty()) else {
        ids.note_searched(&format!("{var} (unusable)"));
        ids.note_problem(format!(
            "{var} is not a command line kseal can split (unbalanced quotes?)"
        ));
        return;
    };
    let program = argv[0].clone();
    let label = format!("{var} ({program})");
    ids.note_searched(&label);
    match run(&argv) {
        Ok(output) => {
            if output.iter().all(u8::is_ascii_whitespace) {
                ids.note_problem(format!("{label} printed no identity"));
            } else if let Err(e) = ids.add_identity_bytes(&output, &label) {
                ids.note_problem(e.message);
            }
        }
        Err(why) => ids.note_problem(format!("{label} {why}")),
    }
}

/// Runs the command and returns its stdout, kept in zeroizing memory.
fn run(argv: &[String]) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut cmd = Command::new(&argv[0]);
    for var in super::discover::KEY_COMMAND_HIDDEN_VARS {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("could not be started: {e}"))?;
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
        .map_err(|e| format!("could not be waited for: {e}"))?;
    read_result.map_err(str::to_string)?;
    if !status.success() {
        return Err(match status.code() {
            Some(c) => format!("failed (exit status {c})"),
            None => "was killed by a signal".to_string(),
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
        assert_eq!(ids.len(), 1);
        assert_eq!(ids.searched(), ["KSEAL_AGE_KEY_CMD (cat)"]);
        assert_eq!(
            hex(ids.unwrap(&read_fixture("flux-age.enc")).unwrap().expose()),
            FLUX_KEY
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
            let e = ids.unwrap(&read_fixture("flux-age.enc")).must_fail();
            assert_eq!(e.kind, Kind::NoIdentity);
            assert!(e.message.contains("SOPS_AGE_KEY_CMD"), "{}", e.message);
            assert!(e.message.contains(expect), "{cmd}: {}", e.message);
            assert!(!e.message.contains("SOMETHINGSECRET"), "{}", e.message);
        }
    }
}
