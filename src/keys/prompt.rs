//! Talking to the user on the terminal: passphrase prompts, and the callbacks that age plugins
//! use to show messages and ask questions.
//!
//! Everything goes through the controlling terminal (`/dev/tty`), never stdin or stdout, so
//! that kseal keeps working in pipes (`kseal decrypt < a.yaml | kubectl apply -f -`). Without a
//! terminal the prompts fail and the caller turns that into a clear error.

use std::io;

use age::secrecy::SecretString;

/// Where passphrases come from: the terminal in production, a closure in tests.
pub(crate) type AskPassphrase = dyn Fn(&str) -> io::Result<SecretString> + Send + Sync;

/// Prompts for a passphrase on the terminal without echo.
pub(crate) fn ask_on_terminal(prompt: &str) -> io::Result<SecretString> {
    // rpassword opens /dev/tty for both the prompt and the answer; without a controlling
    // terminal that fails with ENXIO ("No such device or address").
    let pass = rpassword::prompt_password(format!("{prompt}: "))?;
    Ok(SecretString::from(pass))
}

/// The sentence used when a prompt could not reach the user.
pub(crate) fn no_terminal(e: &io::Error) -> String {
    format!("there is no terminal to ask for the passphrase ({e})")
}

/// Callbacks for age plugins (hardware tokens and the like): messages go to stderr, questions
/// to the terminal. Without a terminal every request answers "cannot ask", which the plugin
/// reports as its own error.
#[derive(Clone, Copy)]
pub(crate) struct TerminalCallbacks;

impl age::Callbacks for TerminalCallbacks {
    fn display_message(&self, message: &str) {
        eprintln!("kseal: {message}");
    }

    fn confirm(&self, message: &str, yes_string: &str, no_string: Option<&str>) -> Option<bool> {
        let no = no_string.unwrap_or("no");
        let answer = read_terminal_line(&format!("{message} [{yes_string}/{no}]: "))?;
        let answer = answer.trim();
        Some(
            answer.eq_ignore_ascii_case(yes_string)
                || answer.eq_ignore_ascii_case("y")
                || answer.eq_ignore_ascii_case("yes"),
        )
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        read_terminal_line(&format!("{description}: ")).map(|s| s.trim_end().to_string())
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        ask_on_terminal(description).ok()
    }
}

/// Shows `prompt` on the terminal and reads one line back (echoed: not for secrets).
#[cfg(unix)]
fn read_terminal_line(prompt: &str) -> Option<String> {
    use std::io::{BufRead, Write};

    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let mut out = &tty;
    out.write_all(prompt.as_bytes()).ok()?;
    out.flush().ok()?;
    let mut line = String::new();
    io::BufReader::new(&tty).read_line(&mut line).ok()?;
    Some(line)
}

#[cfg(not(unix))]
fn read_terminal_line(_prompt: &str) -> Option<String> {
    None
}
