//! Review of a manifest tree before it is committed: the rules of `kseal check` and their
//! findings. Each rule looks at parsed documents only (no I/O); `ops::check` walks the files.
//! Findings name files, documents and key paths, never values.
//!
//! - `secrets`: Secrets whose values are not encrypted, `secretGenerator` literals, leaked
//!   last-applied annotations, malformed `ENC[...]` values;
//! - `workloads`: how workloads consume Secrets (`--workloads`).

pub mod encryption;
pub mod envelope;
pub mod gitlab;
mod rbac;
pub mod report;
pub mod rules;
pub mod sarif;
mod secrets;
pub mod settings;
mod workloads;

pub use encryption::review as review_encryption;
pub use rbac::{broad_bindings, review as review_rbac, Rbac};
pub use secrets::check_stream;
pub use workloads::{missing_secrets, review_workloads, Inventory, SecretRef};

use crate::yaml::tree::Document;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    /// Advice: never fails the check (`--fail-on` counts errors and warnings only).
    Note,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: Severity,
    /// A stable identifier: `unencrypted-secret`, `secret-in-env`, ...
    pub code: &'static str,
    /// 0-based document index.
    pub doc: Option<usize>,
    pub path: Option<String>,
    pub message: String,
    /// Byte offset in the file of the object or field the finding is about (its line).
    pub at: Option<usize>,
}

impl Finding {
    pub fn error(code: &'static str, doc: usize, path: Option<String>, message: String) -> Self {
        Finding {
            severity: Severity::Error,
            code,
            doc: Some(doc),
            path,
            message,
            at: None,
        }
    }
    pub fn warning(code: &'static str, doc: usize, path: Option<String>, message: String) -> Self {
        Finding {
            severity: Severity::Warning,
            code,
            doc: Some(doc),
            path,
            message,
            at: None,
        }
    }
    /// A finding about a whole file (no document, no path).
    pub fn file(severity: Severity, code: &'static str, message: String) -> Self {
        Finding {
            severity,
            code,
            doc: None,
            path: None,
            message,
            at: None,
        }
    }
    /// The same finding placed in a document, at a key path.
    pub fn in_doc(mut self, doc: usize, path: String) -> Self {
        self.doc = Some(doc);
        self.path = Some(path);
        self
    }
    /// The byte offset of what the finding is about.
    pub fn at(mut self, offset: usize) -> Self {
        self.at = Some(offset);
        self
    }
}

/// Whether a document is a kustomize Kustomization (not Flux's Kustomization of the same kind).
pub(crate) fn is_kustomization(doc: &Document, by_name: bool) -> bool {
    let Some(root) = doc.root_mapping() else {
        return false;
    };
    match (root.get_str("kind"), root.get_str("apiVersion")) {
        (Some("Kustomization"), Some(v)) => v.starts_with("kustomize.config.k8s.io/"),
        (None, _) => by_name,
        _ => false,
    }
}
