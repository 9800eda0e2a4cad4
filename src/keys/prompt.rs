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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use age::secrecy::ExposeSecret;
    use age::Callbacks;

    use super::*;

    /// In a program that installed no `Ui` (these tests), nobody is asked anything: prompts
    /// fail, and a plugin's questions get no answer rather than a made-up one.
    #[test]
    fn without_an_installed_ui_nothing_is_asked() {
        assert_eq!(NoUi.read_line("Continue?"), None);
        let e = NoUi.passphrase("Passphrase").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotConnected);
        assert_eq!(
            ask_passphrase("Passphrase").unwrap_err().kind(),
            io::ErrorKind::NotConnected
        );
        assert_eq!(UiCallbacks.confirm("Use the token?", "ok", None), None);
        assert_eq!(UiCallbacks.request_public_string("PIN"), None);
        assert!(UiCallbacks.request_passphrase("Passphrase").is_none());
    }

    /// A `Ui` that answers from a list and records what it was shown.
    struct Scripted {
        answers: Mutex<Vec<&'static str>>,
        shown: Mutex<Vec<String>>,
    }

    impl Ui for Scripted {
        fn passphrase(&self, prompt: &str) -> io::Result<SecretString> {
            self.shown.lock().unwrap().push(format!("secret: {prompt}"));
            Ok(SecretString::from(format!("answer to {prompt}")))
        }
        fn read_line(&self, prompt: &str) -> Option<String> {
            self.shown.lock().unwrap().push(prompt.to_string());
            let mut answers = self.answers.lock().unwrap();
            (!answers.is_empty()).then(|| answers.remove(0).to_string())
        }
        fn message(&self, message: &str) {
            self.shown
                .lock()
                .unwrap()
                .push(format!("message: {message}"));
        }
    }

    /// The installed `Ui` answers passphrase prompts and every callback of age plugins. The
    /// `Ui` is process-wide and set once, so this runs in a child test process (this test
    /// binary, this test only).
    #[test]
    fn the_installed_ui_answers_prompts_and_plugin_callbacks() {
        const CHILD: &str = "KSEAL_UNIT_UI_CHILD";
        if std::env::var_os(CHILD).is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "keys::prompt::tests::the_installed_ui_answers_prompts_and_plugin_callbacks",
                    "--exact",
                    "--test-threads=1",
                ])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains("1 passed"),
                "{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        let ui = Arc::new(Scripted {
            answers: Mutex::new(vec!["yes", " Y ", "ok", "no", "oui", "  123456 \n"]),
            shown: Mutex::new(Vec::new()),
        });
        set_ui(ui.clone());
        // Later installations are ignored.
        set_ui(Arc::new(NoUi));

        let p = ask_passphrase("Enter passphrase for identity file k.age").unwrap();
        assert_eq!(
            p.expose_secret(),
            "answer to Enter passphrase for identity file k.age: "
        );
        UiCallbacks.display_message("Touch your YubiKey");
        // "yes"/"y" in any case, or the plugin's own word for yes; anything else is no.
        assert_eq!(UiCallbacks.confirm("Use it?", "ok", None), Some(true));
        assert_eq!(UiCallbacks.confirm("Use it?", "ok", None), Some(true));
        assert_eq!(
            UiCallbacks.confirm("Use it?", "ok", Some("cancel")),
            Some(true)
        );
        assert_eq!(UiCallbacks.confirm("Use it?", "ok", None), Some(false));
        assert_eq!(UiCallbacks.confirm("Use it?", "ok", None), Some(false));
        assert_eq!(
            UiCallbacks.request_public_string("PIN").as_deref(),
            Some("  123456")
        );
        let p = UiCallbacks.request_passphrase("Token passphrase").unwrap();
        assert_eq!(p.expose_secret(), "answer to Token passphrase: ");
        assert_eq!(
            *ui.shown.lock().unwrap(),
            [
                "secret: Enter passphrase for identity file k.age: ",
                "message: Touch your YubiKey",
                "Use it? [ok/no]: ",
                "Use it? [ok/no]: ",
                "Use it? [ok/cancel]: ",
                "Use it? [ok/no]: ",
                "Use it? [ok/no]: ",
                "PIN: ",
                "secret: Token passphrase: ",
            ]
        );
    }
}
