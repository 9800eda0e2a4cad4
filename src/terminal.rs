//! The binary's terminal: kseal's implementation of the library's `keys::Ui` (passphrase
//! prompts, age plugin messages and questions).
//!
//! Everything goes through the controlling terminal (`/dev/tty`), never stdin or stdout, so
//! that kseal keeps working in pipes (`kseal decrypt < a.yaml | kubectl apply -f -`). Without a
//! terminal the prompts fail and the library turns that into a clear error.

use std::io;

use kseal::keys::Ui;
use secrecy::SecretString;

pub struct Terminal;

impl Ui for Terminal {
    fn passphrase(&self, prompt: &str) -> io::Result<SecretString> {
        // rpassword opens /dev/tty for both the prompt and the answer; without a controlling
        // terminal that fails with ENXIO ("No such device or address").
        Ok(SecretString::from(rpassword::prompt_password(prompt)?))
    }

    fn read_line(&self, prompt: &str) -> Option<String> {
        read_terminal_line(prompt)
    }

    fn message(&self, message: &str) {
        eprintln!("kseal: {message}");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrase_prompt_fails_cleanly_without_a_terminal() {
        // Only meaningful where there is no controlling terminal (CI, this sandbox).
        if std::fs::File::open("/dev/tty").is_ok() {
            return;
        }
        assert!(Terminal.passphrase("Passphrase: ").is_err());
        assert!(Terminal.read_line("Name: ").is_none());
    }
}
