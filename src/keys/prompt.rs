//! The keys layer's only contact with the person at the keyboard: passphrase prompts and the
//! messages and questions of age plugins go through the [`Ui`] trait, which the binary
//! implements on the controlling terminal (as age's `cli_common` does with `UiCallbacks`).
//!
//! The library never opens a terminal itself. The binary installs its implementation once at
//! start ([`set_ui`]); a program that installs none gets [`NoUi`]: every prompt fails with
//! "no terminal" and plugin messages are dropped, so a library user is never asked anything.

use std::io;
use std::sync::{Arc, OnceLock};

use age::secrecy::SecretString;

/// Prompts and messages for key handling. Implementations must never echo a passphrase and
/// should not use stdin or stdout (kseal works in pipes: `kseal decrypt < a | kubectl apply`).
pub trait Ui: Send + Sync {
    /// Asks for a secret without echo; an error when nobody can be asked.
    fn passphrase(&self, prompt: &str) -> io::Result<SecretString>;
    /// Shows `prompt` and reads one line back (echoed: never a secret); `None` when nobody can
    /// be asked.
    fn read_line(&self, prompt: &str) -> Option<String>;
    /// Shows a message from an age plugin (touch your token, ...).
    fn message(&self, message: &str);
}

/// The [`Ui`] of a program that installed none: nothing is asked, nothing is shown.
pub struct NoUi;

impl Ui for NoUi {
    fn passphrase(&self, _prompt: &str) -> io::Result<SecretString> {
        Err(io::Error::new(
            io::ErrorKind::NotConnected,
            "the program has no way to ask",
        ))
    }
    fn read_line(&self, _prompt: &str) -> Option<String> {
        None
    }
    fn message(&self, _message: &str) {}
}

static UI: OnceLock<Arc<dyn Ui>> = OnceLock::new();

/// Installs the program's [`Ui`] (once, at start; later calls are ignored).
pub fn set_ui(ui: Arc<dyn Ui>) {
    let _ = UI.set(ui);
}

/// The installed [`Ui`], else [`NoUi`].
pub(crate) fn ui() -> Arc<dyn Ui> {
    UI.get().cloned().unwrap_or_else(|| Arc::new(NoUi))
}

/// Where passphrases come from: the installed [`Ui`], or a closure in tests.
pub(crate) type AskPassphrase = dyn Fn(&str) -> io::Result<SecretString> + Send + Sync;

/// Asks the installed [`Ui`] for a passphrase.
pub(crate) fn ask_passphrase(prompt: &str) -> io::Result<SecretString> {
    ui().passphrase(&format!("{prompt}: "))
}

/// The sentence used when a prompt could not reach the user.
pub(crate) fn no_terminal(e: &io::Error) -> String {
    format!("there is no terminal to ask for the passphrase ({e})")
}

/// age's callbacks for plugins (hardware tokens and the like), forwarded to the installed
/// [`Ui`]. Without one every request answers "cannot ask", which the plugin reports as its
/// own error.
#[derive(Clone, Copy)]
pub(crate) struct UiCallbacks;

impl age::Callbacks for UiCallbacks {
    fn display_message(&self, message: &str) {
        ui().message(message);
    }

    fn confirm(&self, message: &str, yes_string: &str, no_string: Option<&str>) -> Option<bool> {
        let no = no_string.unwrap_or("no");
        let answer = ui().read_line(&format!("{message} [{yes_string}/{no}]: "))?;
        let answer = answer.trim();
        Some(
            answer.eq_ignore_ascii_case(yes_string)
                || answer.eq_ignore_ascii_case("y")
                || answer.eq_ignore_ascii_case("yes"),
        )
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        ui().read_line(&format!("{description}: "))
            .map(|s| s.trim_end().to_string())
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        ask_passphrase(description).ok()
    }
}
