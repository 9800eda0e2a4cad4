//! Crypt rules: which values of a document sops encrypts, decided from the key path alone.

use std::sync::Arc;

use regex::Regex;

use crate::error::{Error, Result};

/// The one crypt rule a file stores in its `sops:` block.
#[derive(Clone, Debug)]
pub enum CryptRule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    // Shared, not cloned: a `Regex` clone gets its own matching cache (kilobytes per file when
    // thousands of files are loaded at once, as updatekeys does).
    UnencryptedRegex(Arc<Pattern>),
    EncryptedRegex(Arc<Pattern>),
    /// Comment-driven rules select by the comments above a value; kseal reads their values
    /// by trying each value as encrypted or clear (see `sops::file`).
    UnencryptedCommentRegex(Arc<Pattern>),
    EncryptedCommentRegex(Arc<Pattern>),
}

/// The rule Kubernetes users (and Flux) store: only values under `data` and `stringData`.
pub const KUBERNETES_REGEX: &str = "^(data|stringData)$";

/// A crypt rule's regular expression. The Kubernetes rule, which nearly every file stores, is
/// the two key names it matches: compiling it cost a small decrypt 6 % of its instructions.
pub enum Pattern {
    Kubernetes,
    Compiled(Regex),
}

impl Pattern {
    /// Whether the key matches (an unanchored search, as sops's Go regexp does).
    pub fn is_match(&self, key: &str) -> bool {
        match self {
            // `^(data|stringData)$`: `$` is the end of the text in Go and in `regex`.
            Pattern::Kubernetes => key == "data" || key == "stringData",
            Pattern::Compiled(r) => r.is_match(key),
        }
    }

    /// The expression as written in the file.
    pub fn as_str(&self) -> &str {
        match self {
            Pattern::Kubernetes => KUBERNETES_REGEX,
            Pattern::Compiled(r) => r.as_str(),
        }
    }
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Regex").field(&self.as_str()).finish()
    }
}

/// The Kubernetes rule, shared by every file of the process.
fn kubernetes_regex() -> Arc<Pattern> {
    static RE: std::sync::OnceLock<Arc<Pattern>> = std::sync::OnceLock::new();
    RE.get_or_init(|| Arc::new(Pattern::Kubernetes)).clone()
}

impl CryptRule {
    /// sops's default when a file stores no rule.
    pub fn default_rule() -> Self {
        CryptRule::UnencryptedSuffix("_unencrypted".to_string())
    }

    pub fn kubernetes() -> Self {
        CryptRule::EncryptedRegex(kubernetes_regex())
    }

    /// Builds a rule from its metadata key and value; regexes are compiled once here.
    pub fn from_key(key: &str, value: &str) -> Result<Self> {
        let re = || {
            // Nearly every file stores the Kubernetes rule: matched without a regex.
            if value == KUBERNETES_REGEX {
                return Ok(kubernetes_regex());
            }
            Regex::new(value)
                .map(|r| Arc::new(Pattern::Compiled(r)))
                .map_err(|e| {
                    Error::format(format!("invalid `{key}` regular expression: {e}")).with_source(e)
                })
        };
        Ok(match key {
            "unencrypted_suffix" => CryptRule::UnencryptedSuffix(value.to_string()),
            "encrypted_suffix" => CryptRule::EncryptedSuffix(value.to_string()),
            "unencrypted_regex" => CryptRule::UnencryptedRegex(re()?),
            "encrypted_regex" => CryptRule::EncryptedRegex(re()?),
            "unencrypted_comment_regex" => CryptRule::UnencryptedCommentRegex(re()?),
            "encrypted_comment_regex" => CryptRule::EncryptedCommentRegex(re()?),
            _ => return Err(Error::format(format!("unknown crypt rule `{key}`"))),
        })
    }

    pub const KEYS: [&'static str; 6] = [
        "unencrypted_suffix",
        "encrypted_suffix",
        "unencrypted_regex",
        "encrypted_regex",
        "unencrypted_comment_regex",
        "encrypted_comment_regex",
    ];

    /// The metadata key and value this rule is stored as.
    pub fn key_value(&self) -> (&'static str, &str) {
        match self {
            CryptRule::UnencryptedSuffix(s) => ("unencrypted_suffix", s),
            CryptRule::EncryptedSuffix(s) => ("encrypted_suffix", s),
            CryptRule::UnencryptedRegex(r) => ("unencrypted_regex", r.as_str()),
            CryptRule::EncryptedRegex(r) => ("encrypted_regex", r.as_str()),
            CryptRule::UnencryptedCommentRegex(r) => ("unencrypted_comment_regex", r.as_str()),
            CryptRule::EncryptedCommentRegex(r) => ("encrypted_comment_regex", r.as_str()),
        }
    }

    /// Whether the rule depends on comments, so the path alone cannot decide.
    pub fn is_comment_rule(&self) -> bool {
        matches!(
            self,
            CryptRule::UnencryptedCommentRegex(_) | CryptRule::EncryptedCommentRegex(_)
        )
    }

    /// sops's decision for a value at `path` (regexes are unanchored searches on each key).
    /// Comment rules answer from the path alone as if no comment matched.
    pub fn should_encrypt(&self, path: &[String]) -> bool {
        match self {
            CryptRule::UnencryptedSuffix(s) => !path.iter().any(|k| k.ends_with(s.as_str())),
            CryptRule::EncryptedSuffix(s) => path.iter().any(|k| k.ends_with(s.as_str())),
            CryptRule::UnencryptedRegex(r) => !path.iter().any(|k| r.is_match(k)),
            CryptRule::EncryptedRegex(r) => path.iter().any(|k| r.is_match(k)),
            CryptRule::UnencryptedCommentRegex(_) => true,
            CryptRule::EncryptedCommentRegex(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split('.')
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect()
    }

    /// The Kubernetes rule answers as its compiled regex on every kind of key, and is written
    /// back as the same text.
    #[test]
    fn kubernetes_pattern_is_its_regex() {
        let re = Regex::new(KUBERNETES_REGEX).unwrap();
        let rule = CryptRule::from_key("encrypted_regex", KUBERNETES_REGEX).unwrap();
        let CryptRule::EncryptedRegex(pat) = &rule else {
            panic!("{rule:?}")
        };
        for k in [
            "data",
            "stringData",
            "Data",
            "DATA",
            "stringdata",
            "xdata",
            "datax",
            "data ",
            " data",
            "data\n",
            "\ndata",
            "stringData\n",
            "string",
            "",
            "data|stringData",
            "metadata",
            "stringDatastringData",
            "données",
        ] {
            assert_eq!(pat.is_match(k), re.is_match(k), "{k:?}");
        }
        assert_eq!(pat.as_str(), KUBERNETES_REGEX);
        assert_eq!(rule.key_value(), ("encrypted_regex", KUBERNETES_REGEX));
        assert_eq!(format!("{pat:?}"), format!("Regex({KUBERNETES_REGEX:?})"));
        // Another expression is compiled, and answers as written.
        let other = CryptRule::from_key("encrypted_regex", "^data$").unwrap();
        assert!(other.should_encrypt(&p("data.x")) && !other.should_encrypt(&p("stringData.x")));
        assert!(CryptRule::from_key("encrypted_regex", "(").is_err());
    }

    #[test]
    fn kubernetes_rule_matches_data_anywhere() {
        let r = CryptRule::kubernetes();
        assert!(r.should_encrypt(&p("data.password")));
        assert!(r.should_encrypt(&p("stringData.x")));
        assert!(r.should_encrypt(&p("spec.template.data.x")));
        assert!(!r.should_encrypt(&p("metadata.name")));
        assert!(!r.should_encrypt(&p("metadata.database")));
        assert!(!r.should_encrypt(&p("")));
    }

    #[test]
    fn suffix_rules() {
        let d = CryptRule::default_rule();
        assert!(d.should_encrypt(&p("a.b")));
        assert!(!d.should_encrypt(&p("a_unencrypted.b")));
        assert!(d.should_encrypt(&p("")));
        let e = CryptRule::from_key("encrypted_suffix", "Templates").unwrap();
        assert!(e.should_encrypt(&p("spec.secretTemplates.x")));
        assert!(!e.should_encrypt(&p("spec.x")));
        let u = CryptRule::from_key("unencrypted_regex", "^meta").unwrap();
        assert!(!u.should_encrypt(&p("metadata.name")));
        assert!(u.should_encrypt(&p("data.x")));
    }

    /// Every stored key builds its own rule, which is stored back under the same key and
    /// value and decides as that rule does.
    #[test]
    fn every_rule_key_round_trips_and_decides() {
        for key in CryptRule::KEYS {
            let r = CryptRule::from_key(key, "^x$").unwrap();
            assert_eq!(r.key_value(), (key, "^x$"), "{key}");
            assert_eq!(r.is_comment_rule(), key.contains("comment"), "{key}");
        }
        let rule = |k: &str, v: &str| CryptRule::from_key(k, v).unwrap();
        let (x, y) = (p("a.x"), p("a.y"));
        // Suffixes compare the end of each key; regexes search each key.
        assert!(!rule("unencrypted_suffix", "x").should_encrypt(&x));
        assert!(rule("unencrypted_suffix", "x").should_encrypt(&y));
        assert!(rule("encrypted_suffix", "x").should_encrypt(&x));
        assert!(!rule("encrypted_suffix", "x").should_encrypt(&y));
        assert!(!rule("unencrypted_regex", "^x$").should_encrypt(&x));
        assert!(rule("unencrypted_regex", "^x$").should_encrypt(&y));
        assert!(rule("encrypted_regex", "^x$").should_encrypt(&x));
        assert!(!rule("encrypted_regex", "^x$").should_encrypt(&y));
        // Comment rules, with no comment to look at: sops encrypts unless told otherwise.
        for path in [&x, &y] {
            assert!(rule("unencrypted_comment_regex", "x").should_encrypt(path));
            assert!(!rule("encrypted_comment_regex", "x").should_encrypt(path));
        }
    }

    #[test]
    fn rule_constructors_and_errors() {
        assert_eq!(
            CryptRule::default_rule().key_value(),
            ("unencrypted_suffix", "_unencrypted")
        );
        assert!(!CryptRule::default_rule().is_comment_rule());
        assert_eq!(
            CryptRule::kubernetes().key_value(),
            ("encrypted_regex", KUBERNETES_REGEX)
        );
        assert!(!CryptRule::kubernetes().is_comment_rule());
        // The shared Kubernetes regex is used only for that exact text.
        let k = CryptRule::from_key("encrypted_regex", KUBERNETES_REGEX).unwrap();
        assert!(k.should_encrypt(&p("data.a")) && !k.should_encrypt(&p("spec.a")));
        let other = CryptRule::from_key("encrypted_regex", "^spec$").unwrap();
        assert!(other.should_encrypt(&p("spec.a")) && !other.should_encrypt(&p("data.a")));
        for key in CryptRule::KEYS.iter().filter(|k| k.contains("regex")) {
            let e = CryptRule::from_key(key, "(").err().unwrap();
            assert_eq!(e.kind, crate::error::Kind::Format);
            assert!(e.to_string().contains(&format!("invalid `{key}`")), "{e}");
        }
        let e = CryptRule::from_key("encrypted_prefix", "x").err().unwrap();
        assert!(e
            .to_string()
            .contains("unknown crypt rule `encrypted_prefix`"));
    }
}
