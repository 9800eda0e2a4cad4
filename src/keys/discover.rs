//! Identity discovery: every place kseal takes age identities from, combined like sops >= 3.11
//! does (no precedence; any identity that opens the data key wins).
//!
//! The environment is injected so that tests never read the real variables or `$HOME`.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::Identities;
use crate::error::Result;

/// Every variable through which identities reach kseal (and sops): the key itself, a file
/// holding one, or a command printing one. Programs kseal starts for the user (the editor,
/// `exec-env`/`exec-file` commands) get none of them: the application needs its Secret's
/// values, not the key that opens every Secret of the repository.
pub const IDENTITY_VARS: &[&str] = &[
    "KSEAL_AGE_KEY",
    "KSEAL_AGE_KEY_FILE",
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "KSEAL_AGE_SSH_PRIVATE_KEY_FILE",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "KSEAL_AGE_KEY_CMD",
    "SOPS_AGE_KEY_CMD",
    "KSEAL_AGE_SSH_PRIVATE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_CMD",
];

/// Loads identities from, in order:
///
/// 1. every `--identity FILE` flag (the file must exist);
/// 2. `KSEAL_AGE_KEY` (inline identities; several per line, separated by whitespace);
/// 3. `KSEAL_AGE_KEY_FILE`;
/// 4. `SOPS_AGE_KEY`;
/// 5. `SOPS_AGE_KEY_FILE`;
/// 6. `KSEAL_AGE_SSH_PRIVATE_KEY_FILE`, `SOPS_AGE_SSH_PRIVATE_KEY_FILE`;
/// 7. the output of `KSEAL_AGE_KEY_CMD`, `SOPS_AGE_KEY_CMD`, `KSEAL_AGE_SSH_PRIVATE_KEY_CMD`
///    and `SOPS_AGE_SSH_PRIVATE_KEY_CMD` (commands that print an identity file or an SSH key,
///    for password managers; a failing command is reported only if no identity opens a file);
/// 8. the default files: `$XDG_CONFIG_HOME/kseal/keys.txt` (else `~/.config/kseal/keys.txt`),
///    sops's `$XDG_CONFIG_HOME/sops/age/keys.txt` (else `~/.config/sops/age/keys.txt`; on
///    macOS also `~/Library/Application Support/sops/age/keys.txt`), `~/.ssh/id_ed25519` and
///    `~/.ssh/id_rsa`.
///
/// A missing default file is fine (recorded as searched). A file named by a flag or variable
/// that cannot be read is a `Kind::Input` error naming the variable and path; an identity file
/// with a bad line is a `Kind::Format` error. Problems with the default SSH keys (a format age
/// does not support, a key that cannot be read) do not stop discovery: they are only reported
/// if no identity opens a file, because those keys often exist for other reasons.
pub fn discover(
    identity_flags: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Identities> {
    let mut ids = Identities::new();
    // Empty variables count as unset, as in sops (`SOPS_AGE_KEY= kseal ...`).
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());

    for path in identity_flags {
        ids.add_file_via(path, true, Some("--identity"))?;
    }
    for (inline, file) in [
        ("KSEAL_AGE_KEY", "KSEAL_AGE_KEY_FILE"),
        ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE"),
    ] {
        if let Some(text) = var(inline) {
            let text = Zeroizing::new(text);
            ids.add_inline(&text, inline)?;
        }
        if let Some(path) = var(file) {
            ids.add_file_via(Path::new(&path), true, Some(file))?;
        }
    }
    for name in [
        "KSEAL_AGE_SSH_PRIVATE_KEY_FILE",
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    ] {
        if let Some(path) = var(name) {
            ids.add_file_via(Path::new(&path), true, Some(name))?;
        }
    }

    for name in [
        "KSEAL_AGE_KEY_CMD",
        "SOPS_AGE_KEY_CMD",
        "KSEAL_AGE_SSH_PRIVATE_KEY_CMD",
        "SOPS_AGE_SSH_PRIVATE_KEY_CMD",
    ] {
        if let Some(command) = var(name) {
            super::keycmd::add_from_command(&mut ids, &command, name);
        }
    }

    let home = var("HOME").map(PathBuf::from);
    // XDG says relative values are invalid and must be ignored.
    let config = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    if let Some(config) = &config {
        ids.add_file(&config.join("kseal").join("keys.txt"), false)?;
        ids.add_file(&config.join("sops").join("age").join("keys.txt"), false)?;
    }
    if let Some(home) = &home {
        if cfg!(target_os = "macos") && var("XDG_CONFIG_HOME").is_none() {
            let mac = home.join("Library/Application Support/sops/age/keys.txt");
            ids.add_file(&mac, false)?;
        }
        for name in ["id_ed25519", "id_rsa"] {
            let path = home.join(".ssh").join(name);
            if let Err(e) = ids.add_file(&path, false) {
                ids.note_problem(format!("{} (skipped)", e.message));
            }
        }
    }
    if config.is_none() && home.is_none() {
        ids.note_searched("no default identity files ($HOME is not set)");
    }
    Ok(ids)
}

// The tests make classic (X25519) keys, which the age crate marks deprecated.
#[cfg(test)]
#[allow(deprecated)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::keys::testutil::{env_of, fixture, hex, read_fixture, MustFail};
    use crate::keys::{wrap, Recipient};
    use crate::secret::DataKey;

    const FLUX_KEY: &str = "558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb";
    const SOPS_KEY: &str = "9ac088cf7029981341457c39dd56dde54600dfbce9b5ede23aa65c418900ab67";

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn empty_home_finds_nothing_and_says_where_it_looked() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().display().to_string();
        let ids = discover(&[], &env_of(&[("HOME", h.clone())])).unwrap();
        assert!(ids.is_empty());
        let mut expected = vec![
            format!("{h}/.config/kseal/keys.txt (not found)"),
            format!("{h}/.config/sops/age/keys.txt (not found)"),
            format!("{h}/.ssh/id_ed25519 (not found)"),
            format!("{h}/.ssh/id_rsa (not found)"),
        ];
        if cfg!(target_os = "macos") {
            expected.insert(
                2,
                format!("{h}/Library/Application Support/sops/age/keys.txt (not found)"),
            );
        }
        assert_eq!(ids.searched(), expected.as_slice());
        let e = ids.unwrap(&read_fixture("flux-age.enc")).must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
        let Some(crate::error::Reason::NoIdentity { looked }) = e.reason() else {
            panic!("{:?}", e.reason())
        };
        assert!(looked.contains(".config/sops/age/keys.txt (not found)"));
    }

    #[test]
    fn all_sources_are_combined() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        // The sops default file holds the sops example's identity.
        write(
            &h.join(".config/sops/age/keys.txt"),
            &read_fixture("sops-keys.txt"),
        );
        // KSEAL_AGE_KEY holds a fresh one inline; SOPS_AGE_KEY_FILE the flux one.
        let fresh = age::x25519::Identity::generate();
        let inline = {
            use age::secrecy::ExposeSecret;
            fresh.to_string().expose_secret().to_string()
        };
        let env = env_of(&[
            ("HOME", h.display().to_string()),
            ("KSEAL_AGE_KEY", format!("# a comment\n{inline}\n")),
            (
                "SOPS_AGE_KEY_FILE",
                fixture("flux-age.txt").display().to_string(),
            ),
            ("SOPS_AGE_KEY", "  ".to_string()),
        ]);
        let ids = discover(&[], &env).unwrap();
        assert_eq!(ids.len(), 3);
        let searched = ids.searched();
        assert_eq!(searched[0], "KSEAL_AGE_KEY");
        assert!(
            searched[1].starts_with("SOPS_AGE_KEY_FILE (")
                && searched[1].ends_with("flux-age.txt)")
        );
        assert_eq!(
            searched[2],
            format!("{}/.config/kseal/keys.txt (not found)", h.display())
        );
        assert_eq!(
            searched[3],
            format!("{}/.config/sops/age/keys.txt", h.display())
        );
        assert!(!searched.iter().any(|s| s.contains(&inline)));

        assert_eq!(
            hex(ids.unwrap(&read_fixture("flux-age.enc")).unwrap().expose()),
            FLUX_KEY
        );
        assert_eq!(
            hex(ids
                .unwrap(&read_fixture("sops-example-1.enc"))
                .unwrap()
                .expose()),
            SOPS_KEY
        );
        let key = DataKey::generate().unwrap();
        let r = Recipient::parse(&fresh.to_public().to_string()).unwrap();
        assert_eq!(
            ids.unwrap(&wrap(&key, &r).unwrap()).unwrap().expose(),
            key.expose()
        );
    }

    #[test]
    fn flags_and_xdg_config_home() {
        let home = tempfile::tempdir().unwrap();
        let xdg = tempfile::tempdir().unwrap();
        write(
            &xdg.path().join("kseal/keys.txt"),
            &read_fixture("flux-age.txt"),
        );
        let env = env_of(&[
            ("HOME", home.path().display().to_string()),
            ("XDG_CONFIG_HOME", xdg.path().display().to_string()),
        ]);
        let flag = fixture("sops-keys.txt");
        let ids = discover(std::slice::from_ref(&flag), &env).unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(
            ids.searched()[0],
            format!("--identity ({})", flag.display())
        );
        assert_eq!(
            ids.searched()[1],
            format!("{}/kseal/keys.txt", xdg.path().display())
        );
        assert_eq!(
            hex(ids.unwrap(&read_fixture("flux-age.enc")).unwrap().expose()),
            FLUX_KEY
        );

        // A relative XDG_CONFIG_HOME is ignored (XDG spec): back to ~/.config.
        let env = env_of(&[
            ("HOME", home.path().display().to_string()),
            ("XDG_CONFIG_HOME", "relative/dir".to_string()),
        ]);
        let ids = discover(&[], &env).unwrap();
        assert!(ids.searched()[0].starts_with(&format!("{}/.config/", home.path().display())));
    }

    #[test]
    fn named_files_must_exist() {
        let home = tempfile::tempdir().unwrap();
        let h = ("HOME", home.path().display().to_string());
        let e = discover(
            &[PathBuf::from("/nonexistent/id.txt")],
            &env_of(std::slice::from_ref(&h)),
        )
        .must_fail();
        assert_eq!(e.kind, Kind::Input);
        assert!(
            e.message.contains("--identity (/nonexistent/id.txt)"),
            "{}",
            e.message
        );

        for var in [
            "KSEAL_AGE_KEY_FILE",
            "SOPS_AGE_KEY_FILE",
            "KSEAL_AGE_SSH_PRIVATE_KEY_FILE",
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        ] {
            let env = env_of(&[h.clone(), (var, "/nonexistent/keys.txt".to_string())]);
            let e = discover(&[], &env).must_fail();
            assert_eq!(e.kind, Kind::Input, "{var}");
            assert!(
                e.message.contains(var) && e.message.contains("/nonexistent/keys.txt"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn bad_inline_identity_is_a_format_error_without_the_text() {
        let env = env_of(&[(
            "KSEAL_AGE_KEY",
            "AGE-SECRET-KEY-1NOTVALIDATALLXYZ".to_string(),
        )]);
        let e = discover(&[], &env).must_fail();
        assert_eq!(e.kind, Kind::Format);
        assert!(
            e.message.starts_with("KSEAL_AGE_KEY: line 1"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("NOTVALID"));
    }

    #[test]
    fn unusable_default_ssh_keys_do_not_stop_discovery() {
        let home = tempfile::tempdir().unwrap();
        write(
            &home.path().join(".ssh/id_rsa"),
            "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
        );
        write(&home.path().join(".ssh/id_ed25519"), "garbage\n");
        let env = env_of(&[
            ("HOME", home.path().display().to_string()),
            (
                "SOPS_AGE_KEY_FILE",
                fixture("sops-keys.txt").display().to_string(),
            ),
        ]);
        let ids = discover(&[], &env).unwrap();
        assert_eq!(ids.len(), 1);
        let e = ids.unwrap(&read_fixture("flux-age.enc")).must_fail();
        assert_eq!(e.kind, Kind::NoIdentity);
        assert!(e.message.contains("id_rsa"), "{}", e.message);
        assert!(e.message.contains("id_ed25519"), "{}", e.message);
        assert!(!e.message.contains("MIIB") && !e.message.contains("garbage"));
    }

    #[test]
    fn no_home_no_defaults() {
        let ids = discover(&[], &env_of(&[])).unwrap();
        assert!(ids.is_empty());
        assert_eq!(
            ids.searched(),
            ["no default identity files ($HOME is not set)"]
        );
    }

    #[test]
    fn xdg_config_home_without_home_is_searched_and_not_called_missing() {
        // Only `$HOME` unset: the XDG directory is still a default place, so discovery
        // searches it and must not claim that it had nowhere to look.
        let config = tempfile::tempdir().unwrap();
        let c = config.path().display().to_string();
        let ids = discover(&[], &env_of(&[("XDG_CONFIG_HOME", c.clone())])).unwrap();
        assert!(ids.is_empty());
        assert_eq!(
            ids.searched(),
            [
                format!("{c}/kseal/keys.txt (not found)"),
                format!("{c}/sops/age/keys.txt (not found)"),
            ]
        );
    }

    #[test]
    fn identity_vars_list_every_variable_discovery_reads() {
        let asked = std::cell::RefCell::new(Vec::<String>::new());
        let env = |name: &str| {
            asked.borrow_mut().push(name.to_string());
            None
        };
        let _ = discover(&[], &env);
        for name in asked.borrow().iter() {
            if name != "HOME" && name != "XDG_CONFIG_HOME" {
                assert!(IDENTITY_VARS.contains(&name.as_str()), "{name}");
            }
        }
        assert!(asked.borrow().len() > IDENTITY_VARS.len());
        for name in crate::keys::keycmd::KEY_COMMAND_HIDDEN_VARS {
            assert!(IDENTITY_VARS.contains(name), "{name}");
        }
    }
}
