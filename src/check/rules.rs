//! The catalogue of `kseal check` rules: each rule's stable id, its default severity, a one-line
//! description and the help that says how to fix it. The SARIF output's `tool.driver.rules`,
//! `kseal check --help` and docs/check.md are written from (and tested against) this list.

use super::Severity;

/// One rule of `kseal check`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The stable id: what findings, suppressions and `--disable` name.
    pub id: &'static str,
    /// The severity of its findings (`unreadable` and `structural-mac-missing` vary: see docs).
    pub severity: Severity,
    /// What the rule finds, in one line.
    pub short: &'static str,
    /// Why it matters and how to fix it.
    pub help: &'static str,
}

const fn rule(
    id: &'static str,
    severity: Severity,
    short: &'static str,
    help: &'static str,
) -> Rule {
    Rule {
        id,
        severity,
        short,
        help,
    }
}

use Severity::{Error, Note, Warning};

/// Every rule, in the order the docs list them.
pub const RULES: &[Rule] = &[
    rule("unencrypted-secret", Error,
        "a Secret's data/stringData value in clear text",
        "Anyone who can read the repository reads the value. Encrypt the file: `kseal encrypt -i FILE`."),
    rule("unencrypted-value", Error,
        "a clear value inside an encrypted file",
        "A value added by hand next to encrypted ones is committed in clear. Re-encrypt it with `kseal set FILE KEY` or `kseal edit FILE`."),
    rule("sops-rule-unencrypted", Error,
        "a file a .sops.yaml path_regex rule covers is not encrypted",
        "The repository's own rules say this file holds secrets. Encrypt it: `kseal encrypt -i FILE`."),
    rule("last-applied", Error,
        "a Secret carrying the kubectl last-applied-configuration annotation",
        "The annotation holds the whole Secret, values included, in clear text. Remove it (kseal encrypt does)."),
    rule("malformed-enc", Error,
        "an ENC[...] value that is not well formed",
        "It cannot be decrypted: truncated, or edited by hand. Restore it from version control or set the value again."),
    rule("generator-literals", Error,
        "a kustomize secretGenerator with literals in the kustomization",
        "Literals are plain text in the repository. Move them to an encrypted Secret (KsealGenerator)."),
    rule("merge-key", Warning,
        "a Secret built with YAML merge keys (`<<`) or hidden in a List",
        "kubectl follows merge keys; kseal does not encrypt through them. Write the Secret out in full."),
    rule("unreadable", Error,
        "a file that could not be read or is not valid YAML",
        "A gate fails on what it did not see. Fix the file; a template with `{{` that does not parse is only a warning."),
    rule("structural-mac-missing", Warning,
        "an encrypted file without kseal's structural MAC (kseal_mac)",
        "sops drops kseal_mac when it rewrites a file; without it key names, empty values and the sops block are not authenticated. Re-encrypt with kseal (`kseal updatekeys FILE` or `kseal rotate FILE`). An error with --require-structural-mac or KSEAL_REQUIRE_STRUCTURAL_MAC."),
    rule("secret-too-old", Error,
        "an encrypted file last encrypted longer ago than --max-age",
        "Data keys and values should be rotated regularly. Rotate with `kseal rotate FILE` (a new data key) after changing the values."),
    rule("recipients-stale", Error,
        "an encrypted file whose recipients or crypt rule differ from its .sops.yaml rule",
        "A recipient removed from .sops.yaml can still open the file, a new one cannot. Run `kseal updatekeys FILE` (a removed recipient: `kseal rotate FILE`)."),
    rule("envelope-mislabelled", Error,
        "an SSH envelope that is not wrapped for the recipient listed beside it",
        "Someone without a key relabelled an envelope they wrapped for themselves with a team member's key: the next write would reuse that data key. Every read refuses the file; re-create it from a trusted copy with a new data key (`kseal rotate FILE` after restoring it)."),
    rule("rbac-secrets-list", Error,
        "a Role or ClusterRole that can list or watch every Secret",
        "list and watch return the contents of every Secret in scope, not just names. Grant get with resourceNames on the Secrets the workload needs."),
    rule("rbac-secrets-get", Warning,
        "a Role or ClusterRole that can get any Secret (no resourceNames)",
        "Least privilege: name the Secrets the workload needs in resourceNames."),
    rule("rbac-broad-binding", Error,
        "a RoleBinding or ClusterRoleBinding giving Secret access to broad subjects",
        "system:authenticated, system:unauthenticated, system:serviceaccounts and a namespace's default ServiceAccount are every user or every Pod. Bind the role to a dedicated ServiceAccount."),
    rule("rbac-escalation", Warning,
        "a Role or ClusterRole with escalate, bind or impersonate",
        "These verbs step around RBAC: a holder can grant itself any permission, Secrets included. Keep them to cluster administrators."),
    rule("rbac-pod-exec", Warning,
        "a Role or ClusterRole that can create pods/exec",
        "A shell in a Pod reads every Secret mounted or in the environment of that Pod. Keep exec to break-glass roles."),
    rule("encryption-identity-first", Error,
        "an EncryptionConfiguration whose first provider for secrets is identity",
        "The API server writes new Secrets to etcd with the first provider: identity means unencrypted. Put kms (v2) or aesgcm/secretbox first; keep identity last, for reading old data."),
    rule("encryption-secrets-missing", Error,
        "an EncryptionConfiguration that does not list secrets",
        "Secrets are then stored unencrypted in etcd. Add `secrets` to a resources entry with an encrypting provider."),
    rule("encryption-key-in-clear", Error,
        "an aescbc, aesgcm or secretbox key committed in clear text",
        "Whoever reads the repository can decrypt etcd backups. Encrypt the file with sops/kseal or keep the key out of Git, and rotate it."),
    rule("encryption-aescbc", Note,
        "an EncryptionConfiguration using aescbc",
        "aescbc is the weakest of the providers (vulnerable to padding-oracle attacks); KMS v2 is preferred, secretbox or aesgcm (with rotation) otherwise."),
    rule("secret-in-env", Warning,
        "a container env var from a Secret key (--workloads)",
        "Values in environment variables leak into logs, crash dumps and child processes. Mount the Secret as a volume."),
    rule("secret-envfrom", Warning,
        "a container loading a whole Secret as env vars with envFrom (--workloads)",
        "Every key becomes an environment variable, which leaks into logs, crash dumps and child processes. Mount the Secret as a volume."),
    rule("missing-secret", Warning,
        "a Secret referenced by a workload that no checked file defines (--workloads)",
        "The Pod will not start, or the Secret is managed outside the repository. Add it, or mark the reference optional."),
];

/// The rule with this id.
pub fn find(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES {
            assert!(seen.insert(r.id), "{} twice", r.id);
            assert!(r.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
            assert!(!r.short.is_empty() && !r.help.is_empty());
        }
        assert!(find("unencrypted-secret").is_some() && find("nope").is_none());
    }

    /// docs/check.md, the rules reference, has a section per rule with its severity and help.
    #[test]
    fn every_rule_is_documented() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/check.md")).unwrap();
        for r in RULES {
            let head = format!("### `{}` ({})\n", r.id, r.severity.word());
            let at = doc.find(&head).unwrap_or_else(|| panic!("{head} missing"));
            let body = &doc[at..];
            assert!(
                body.contains(r.help),
                "{}: help differs from the catalogue",
                r.id
            );
        }
    }
}
