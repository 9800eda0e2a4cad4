//! The hints that name kseal's flags and verbs: the library says why an error happened
//! (`error::Reason`), the binary, which owns the command line, says what to do about it.

use std::borrow::Cow;

use kseal::error::{Error, Reason};

/// The hint printed under an error: the one a command set, else the one for its reason.
pub fn hint(e: &Error) -> Option<Cow<'_, str>> {
    if let Some(h) = e.hint() {
        return Some(Cow::Borrowed(h));
    }
    e.reason().map(for_reason)
}

fn for_reason(reason: &Reason) -> Cow<'static, str> {
    let text = match reason {
        Reason::NoIdentity { looked } => {
            return Cow::Owned(format!(
                "{looked}. Give the matching identity with --identity FILE, KSEAL_AGE_KEY_FILE \
                 or SOPS_AGE_KEY_FILE"
            ))
        }
        Reason::NoIdentityForFile { looked } => {
            return Cow::Owned(format!(
                "give the matching identity with --identity FILE or KSEAL_AGE_KEY_FILE; kseal looked in: {looked}"
            ))
        }
        Reason::NoRecipient => {
            "give one with --age age1... (or --recipients-file, KSEAL_AGE_RECIPIENTS), or add a creation rule with `age:` to .sops.yaml"
        }
        Reason::NoRuleWithoutFileName => {
            "name the file it becomes with -o OUT (or --filename-override PATH when writing to stdout), or give recipients with --age"
        }
        Reason::RecipientsDifferFromRule => "check the recipients (someone may have added one to receive the next secrets), then run `kseal updatekeys FILE` (or `kseal rotate FILE` to replace the data key) and try again",
        Reason::NoRuleMatches => {
            "add a matching path_regex (and namespace_regex) to .sops.yaml, name the target with --filename-override PATH, or give recipients with --age"
        }
        Reason::MacMismatch => {
            "restore the file from version control; --ignore-mac decrypts anyway, for rescue only"
        }
        Reason::StructuralMacMissing => {
            "if the file is genuine, rewrite it with kseal (`kseal updatekeys -y` or `kseal rotate`) to add the field"
        }
        Reason::SecretOutsideEnvelope => {
            "remove that document, or encrypt it with `kseal encrypt` in its own file"
        }
        Reason::AlreadyEncrypted => {
            "use `kseal edit` to change values or `kseal updatekeys` to change recipients"
        }
        Reason::NarrowRuleClearValue => {
            "someone who cannot decrypt the file put it there: restore the file from version control (--allow-narrow-rule reads a file written that way on purpose)"
        }
        Reason::NarrowRule => {
            "restore the file from version control; if it was written that way on purpose, read it with --allow-narrow-rule and encrypt the plaintext again with `kseal encrypt`"
        }
        Reason::NarrowRuleOnWrite => {
            "use `encrypted_regex: ^(data|stringData)$` (the default of `kseal encrypt`); for an existing file, decrypt it and encrypt the plaintext again"
        }
        Reason::SeveralSecrets { named: true } => "choose one with --doc N",
        Reason::SeveralSecrets { named: false } => "choose one with --name NAME (and --doc N)",
        Reason::NoTerminalForNewPassphrase => "run `kseal keygen --passphrase` from a terminal",
        Reason::NotEncrypted => "encrypt it first with `kseal encrypt -i`",
        Reason::NotResourceList => {
            "kseal kustomize fn is a KRM function: run it through kpt or kustomize, or use `kseal kustomize plugin` / `kseal kustomize decrypt`"
        }
        Reason::BuildChangedEnvelope => {
            "likely causes: keys not in alphabetical order in the file (kustomize sorts them; `kubectl create secret ... -o yaml` and `kseal set` keep them sorted), an overlay's `namespace:`, `namePrefix`/`nameSuffix`, `commonLabels`/`labels` or `commonAnnotations`, or a patch of the Secret; use a KsealGenerator instead (it reads the files before kustomize touches them)"
        }
        Reason::SetFlowMapping => "use `kseal edit` to change it, or rewrite it as a block mapping",
        Reason::SetNotAString => "use `kseal edit` to change it",
        Reason::SetNotAMapping => "use `kseal edit` to fix the Secret",
        Reason::AddToKeyGroups => {
            "name it in a group of the key_groups of the file's .sops.yaml rule, then run `kseal updatekeys FILE`"
        }
        Reason::PluginRecipientNotNamed => {
            "name it with --add-age (or --keep-unknown-recipients) if it is yours, or remove it with --rm-age"
        }
    };
    Cow::Borrowed(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kseal::error::Kind;

    #[test]
    fn a_hint_set_by_a_command_wins_over_the_reason() {
        let e = Error::new(Kind::Integrity, "MAC mismatch").with_reason(Reason::MacMismatch);
        assert!(hint(&e).unwrap().contains("--ignore-mac"));
        let e = e.with_hint("own hint");
        assert_eq!(hint(&e).unwrap(), "own hint");
        assert!(hint(&Error::format("x")).is_none());
    }

    #[test]
    fn rotate_names_its_flags_for_an_unnamed_plugin_recipient() {
        let e = Error::new(Kind::Config, "plugin").with_reason(Reason::PluginRecipientNotNamed);
        let h = hint(&e).unwrap();
        assert!(h.contains("--add-age") && h.contains("--rm-age"), "{h}");
    }

    #[test]
    fn the_identity_hint_says_where_kseal_looked() {
        let e = Error::new(Kind::NoIdentity, "no").with_reason(Reason::NoIdentity {
            looked: "kseal looked in: KSEAL_AGE_KEY".into(),
        });
        assert_eq!(
            hint(&e).unwrap(),
            "kseal looked in: KSEAL_AGE_KEY. Give the matching identity with --identity FILE, \
             KSEAL_AGE_KEY_FILE or SOPS_AGE_KEY_FILE"
        );
    }
}
