//! kustomize and KRM functions: ResourceList and manifest-stream handling, the kseal
//! generator/transformer configuration, kpt's package locations and the rule that keeps
//! `files:` inside the package, finding KRM exec functions, and decrypting the resources of a
//! build with each file's MAC verified over the documents that share its envelope.
//!
//! Pure text in, text out; the command layer reads the listed files and finds the keys.

use std::collections::HashMap;

use zeroize::Zeroizing;

use crate::error::{Error, Kind, Reason, Result};
use crate::sops::file::{self, DecryptOptions, KeyOpener};
use crate::yaml::scalar::{double_quoted, plain_is_safe};
use crate::yaml::splice::{self, Edit};
use crate::yaml::tree::{self, Mapping, Node};

/// The API group of kseal's plugin configuration objects.
pub const GROUP: &str = "kseal.dev";
pub const GENERATOR_KIND: &str = "KsealGenerator";
pub const TRANSFORMER_KIND: &str = "KsealTransformer";

/// The annotations kustomize reads from generated resources (and strips afterwards).
pub const NEEDS_HASH: &str = "kustomize.config.k8s.io/needs-hash";
pub const BEHAVIOR: &str = "kustomize.config.k8s.io/behavior";

/// A ResourceList as read from a KRM function's stdin.
pub struct ResourceList {
    pub api_version: String,
    /// Each item's YAML text, dedented to stand alone as a document.
    pub items: Vec<String>,
    pub function_config: Option<String>,
}

/// What a kseal plugin configuration asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginKind {
    Generator,
    Transformer,
}

#[derive(Debug, Clone)]
pub struct PluginConfig {
    pub kind: PluginKind,
    pub name: String,
    /// Files to decrypt (generator), relative to the kustomization root.
    pub files: Vec<String>,
    /// `needs-hash` and `behavior` annotations to put on every generated resource.
    pub annotations: Vec<(String, String)>,
    /// Where kpt found the configuration in the package (`kpt fn render`), if it says so.
    pub package_path: Option<String>,
    /// The package's directory on disk, when kpt says it (`kpt fn render`).
    pub package_dir: Option<String>,
}

/// The text of a node, dedented so that it stands alone as a YAML document.
fn node_text(src: &str, node: &Node) -> String {
    let start = node.start();
    let end = splice::node_end(src, node);
    let end = if src[..end].ends_with('\n') {
        end
    } else {
        splice::end_of_line(src, end)
    };
    let col = start - splice::start_of_line(src, start);
    let text = &src[start..end];
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i == 0 {
            out.push_str(line);
            continue;
        }
        let lead = line.len() - line.trim_start_matches(' ').len();
        out.push_str(&line[lead.min(col)..]);
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Reads a ResourceList (YAML or JSON).
pub fn parse_resource_list(src: &str) -> Result<ResourceList> {
    let stream = tree::parse(src)?;
    let root = stream
        .docs
        .iter()
        .find_map(|d| d.root_mapping())
        .ok_or_else(|| Error::format("the input is not a ResourceList (no mapping)"))?;
    if root.get_str("kind") != Some("ResourceList") {
        return Err(
            Error::format("the input is not a ResourceList (kind: ResourceList expected)")
                .with_reason(Reason::NotResourceList),
        );
    }
    let api_version = root
        .get_str("apiVersion")
        .unwrap_or("config.kubernetes.io/v1")
        .to_string();
    let items = match root.get("items") {
        None => Vec::new(),
        Some(Node::Sequence(q)) => q.items.iter().map(|n| node_text(src, n)).collect(),
        Some(n) if n.as_scalar().is_some() => Vec::new(),
        Some(_) => return Err(Error::format("the ResourceList's `items` is not a list")),
    };
    let function_config = match root.get("functionConfig") {
        Some(n) if n.as_mapping().is_some() => Some(node_text(src, n)),
        _ => None,
    };
    Ok(ResourceList {
        api_version,
        items,
        function_config,
    })
}

/// Writes a ResourceList in YAML: each item's text indented under `items:`.
pub fn render_resource_list(api_version: &str, items: &[Zeroizing<String>]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(
        items
            .iter()
            .map(|i| i.len() + items.len() * 4)
            .sum::<usize>()
            + 64,
    ));
    out.push_str("apiVersion: ");
    out.push_str(&scalar_text(api_version));
    out.push_str("\nkind: ResourceList\n");
    if items.is_empty() {
        out.push_str("items: []\n");
        return out;
    }
    out.push_str("items:\n");
    for item in items {
        let body = strip_doc_markers(item);
        for (i, line) in body.split_inclusive('\n').enumerate() {
            if i == 0 {
                out.push_str("- ");
            } else if !line.trim_end_matches(['\n', '\r']).is_empty() {
                out.push_str("  ");
            }
            out.push_str(line);
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// A document's text without a leading `---` line or a trailing `...` line.
fn strip_doc_markers(text: &str) -> &str {
    let mut t = text.trim_start_matches(['\n', '\r']);
    if let Some(rest) = t.strip_prefix("---") {
        if rest.is_empty() || rest.starts_with(['\n', '\r', ' ', '\t']) {
            t = rest.trim_start_matches([' ', '\t']);
            t = t
                .strip_prefix("\r\n")
                .or_else(|| t.strip_prefix('\n'))
                .unwrap_or(t);
        }
    }
    let trimmed = t.trim_end();
    if let Some(body) = trimmed.strip_suffix("\n...") {
        return &t[..body.len() + 1];
    }
    t
}

fn scalar_text(s: &str) -> String {
    if plain_is_safe(s) {
        s.to_string()
    } else {
        double_quoted(s)
    }
}

/// The documents of a manifest stream, each as standalone text (empty documents dropped).
pub fn split_stream(src: &str) -> Result<Vec<Zeroizing<String>>> {
    let stream = tree::parse(src)?;
    let mut out = Vec::new();
    for (i, d) in stream.docs.iter().enumerate() {
        if crate::merge::is_empty_doc(d) {
            continue;
        }
        let start = if i == 0 { 0 } else { d.start };
        let end = stream.docs.get(i + 1).map(|n| n.start).unwrap_or(src.len());
        let text = strip_doc_markers(&src[start..end.max(start)]);
        let mut t = Zeroizing::new(text.to_string());
        if !t.ends_with('\n') {
            t.push('\n');
        }
        out.push(t);
    }
    Ok(out)
}

/// Joins documents into one stream.
pub fn join_stream(docs: &[Zeroizing<String>]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(strip_doc_markers(d));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Whether a document is a kseal plugin configuration (`kseal.dev/*`, KsealGenerator or
/// KsealTransformer).
pub fn is_plugin_config(text: &str) -> bool {
    let Ok(stream) = tree::parse(text) else {
        return false;
    };
    stream.docs.iter().any(|d| {
        d.root_mapping().is_some_and(|m| {
            m.get_str("apiVersion")
                .is_some_and(|v| v.split('/').next() == Some(GROUP))
                && matches!(m.get_str("kind"), Some(GENERATOR_KIND | TRANSFORMER_KIND))
        })
    })
}

/// Reads a kseal plugin configuration.
pub fn parse_config(text: &str) -> Result<PluginConfig> {
    let stream = tree::parse(text)?;
    let root = stream
        .docs
        .iter()
        .find_map(|d| d.root_mapping())
        .ok_or_else(|| Error::format("the plugin configuration is empty"))?;
    let kind = match root.get_str("kind") {
        Some(GENERATOR_KIND) => PluginKind::Generator,
        Some(TRANSFORMER_KIND) => PluginKind::Transformer,
        other => {
            return Err(Error::format(format!(
                "the plugin configuration's kind is {}, not {GENERATOR_KIND} or {TRANSFORMER_KIND}",
                other.unwrap_or("missing")
            )))
        }
    };
    let meta = root.get("metadata").and_then(Node::as_mapping);
    let name = meta
        .and_then(|m| m.get_str("name"))
        .unwrap_or("kseal")
        .to_string();
    let mut annotations = Vec::new();
    if let Some(ann) = meta
        .and_then(|m| m.get("annotations"))
        .and_then(Node::as_mapping)
    {
        for key in [NEEDS_HASH, BEHAVIOR] {
            if let Some(v) = ann.get_str(key) {
                annotations.push((key.to_string(), v.to_string()));
            }
        }
    }
    let files = match root.get("files") {
        None => Vec::new(),
        Some(Node::Sequence(q)) => q
            .items
            .iter()
            .map(|n| {
                n.as_scalar()
                    .map(|s| s.value.to_string())
                    .ok_or_else(|| Error::format("`files` must be a list of paths"))
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(Error::format("`files` must be a list of paths")),
    };
    if kind == PluginKind::Generator && files.is_empty() {
        return Err(Error::format(format!(
            "{GENERATOR_KIND} {name} lists no `files` to decrypt"
        )));
    }
    Ok(PluginConfig {
        kind,
        name,
        files,
        annotations,
        package_path: package_location(text).map(|(p, _)| p),
        package_dir: package_dir(text),
    })
}

/// The annotations under which kpt says where a resource lives in its package (the
/// `internal.` one first: kpt writes both, older versions only the other).
const PATH_ANNOTATIONS: [&str; 2] = [
    "internal.config.kubernetes.io/path",
    "config.kubernetes.io/path",
];
const INDEX_ANNOTATIONS: [&str; 2] = [
    "internal.config.kubernetes.io/index",
    "config.kubernetes.io/index",
];

/// A document's `metadata.annotations` mapping.
fn annotations_of<'a>(doc: &'a tree::Document<'a>) -> Option<&'a Mapping<'a>> {
    doc.root_mapping()?
        .get("metadata")?
        .as_mapping()?
        .get("annotations")?
        .as_mapping()
}

/// Where kpt read a resource from: its file inside the package and its document index in
/// that file. None for resources kpt did not read (kustomize's, or generated ones).
pub fn package_location(text: &str) -> Option<(String, usize)> {
    let stream = tree::parse(text).ok()?;
    let doc = stream.docs.iter().find(|d| d.root.is_some())?;
    let ann = annotations_of(doc)?;
    let path = PATH_ANNOTATIONS
        .iter()
        .find_map(|k| ann.get_str(k))
        .filter(|p| !p.is_empty())?;
    let index = INDEX_ANNOTATIONS
        .iter()
        .find_map(|k| ann.get_str(k))
        .and_then(|i| i.trim().parse().ok())
        .unwrap_or(0);
    Some((path.to_string(), index))
}

/// The package directory kpt fn render names on the resources it passes.
pub fn package_dir(text: &str) -> Option<String> {
    let stream = tree::parse(text).ok()?;
    let doc = stream.docs.iter().find(|d| d.root.is_some())?;
    annotations_of(doc)?
        .get_str("internal.config.kubernetes.io/package-path")
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

/// `file` taken relative to the package directory `base` (both `/`-separated and relative
/// to the package root), normalised; refused when it is absolute or leaves the package,
/// the rule kustomize applies to its own generators (LoadRestrictionsRootOnly).
pub fn package_join(base: &str, file: &str) -> Result<String> {
    if file.starts_with('/') {
        return Err(outside_root(file, "is an absolute path"));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in base.split('/').chain(file.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(outside_root(file, "climbs above the root through `..`"));
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// The refusal of a `files:` entry outside the kustomization root or kpt package.
pub fn outside_root(file: &str, why: &str) -> Error {
    Error::new(
        Kind::Refused,
        format!("`files` entry {file} {why}: it is not in or below the kustomization root (or kpt package)"),
    )
    .with_hint(
        "list files inside the directory of the kustomization, as kustomize's own generators require; where every Application is trusted, the operator may lift the rule with KSEAL_LOAD_RESTRICTOR=LoadRestrictionsNone",
    )
}

/// The annotations that declare a KRM function on a kustomize generator or transformer
/// configuration (the second is the older spelling kustomize still reads).
const FUNCTION_ANNOTATIONS: [&str; 2] = ["config.kubernetes.io/function", "config.k8s.io/function"];

/// The documents of `text` that declare an `exec:` KRM function, described for messages.
/// kustomize runs such a function only with `--enable-exec`; without it (kubectl kustomize,
/// the Argo CD plugin) it skips the function and succeeds, so its output silently goes
/// missing.
pub fn exec_functions(text: &str) -> Vec<String> {
    let Ok(stream) = tree::parse(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for doc in &stream.docs {
        let Some(ann) = annotations_of(doc) else {
            continue;
        };
        let Some(spec) = FUNCTION_ANNOTATIONS.iter().find_map(|k| ann.get_str(k)) else {
            continue;
        };
        let is_exec = tree::parse(spec).ok().is_some_and(|s| {
            s.docs
                .iter()
                .any(|d| d.root_mapping().is_some_and(|m| m.get("exec").is_some()))
        });
        if is_exec {
            found.push(
                crate::merge::describe_doc(doc).unwrap_or_else(|| "a configuration".to_string()),
            );
        }
    }
    found
}

/// Where a generated or decrypted resource claims to live when kpt would otherwise write
/// it into the package: a path that names a directory, which kpt refuses to write a
/// resource to ("config.kubernetes.io/path cannot be a directory"), so that `kpt fn eval` or
/// `kpt fn render` without `-o stdout|unwrap` fails, with the package left as it was,
/// instead of writing plaintext into it. (An absolute path is not enough: render writes it
/// below the package.) `-o unwrap` drops the annotation.
pub const NOT_WRITTEN_PATH: &str = "kseal-plaintext-is-not-written-to-the-package/..";

/// The document without the orchestrator's annotations and with NOT_WRITTEN_PATH as its
/// path; `n` is its index there (kpt wants path and index unique).
pub fn mark_not_for_the_package(text: &str, n: usize) -> Result<Zeroizing<String>> {
    let stripped = strip_orchestrator_annotations(text)?;
    let mut add: Vec<(String, String)> = PATH_ANNOTATIONS
        .iter()
        .map(|k| (k.to_string(), NOT_WRITTEN_PATH.to_string()))
        .collect();
    add.extend(
        INDEX_ANNOTATIONS
            .iter()
            .map(|k| (k.to_string(), n.to_string())),
    );
    add_annotations(&stripped, &add)
}

/// Adds annotations to a document's `metadata.annotations` unless it already has them.
pub fn add_annotations(text: &str, add: &[(String, String)]) -> Result<Zeroizing<String>> {
    if add.is_empty() {
        return Ok(Zeroizing::new(text.to_string()));
    }
    let stream = tree::parse(text)?;
    let Some(doc) = stream.docs.iter().find(|d| d.root.is_some()) else {
        return Ok(Zeroizing::new(text.to_string()));
    };
    let unsupported = || {
        Error::new(
            Kind::Unsupported,
            "cannot add the kustomize annotations to a resource whose metadata is in flow style",
        )
        .with_hint("put the annotations on the Secret itself (in block style) before encrypting")
    };
    let root = doc.root_mapping().ok_or_else(unsupported)?;
    if root.flow {
        return Err(unsupported());
    }
    let meta = root
        .get("metadata")
        .and_then(Node::as_mapping)
        .ok_or_else(|| Error::format("a generated resource has no metadata"))?;
    if meta.flow {
        return Err(unsupported());
    }
    let eol = splice::eol_of(text);
    let existing = meta.get("annotations");
    let missing: Vec<&(String, String)> = add
        .iter()
        .filter(|(k, _)| {
            existing
                .and_then(Node::as_mapping)
                .is_none_or(|m| m.get(k).is_none())
        })
        .collect();
    if missing.is_empty() {
        return Ok(Zeroizing::new(text.to_string()));
    }
    let edit = match existing {
        Some(Node::Mapping(ann)) if !ann.flow && !ann.entries.is_empty() => {
            let lines: String = missing
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}{}: {}{eol}",
                        " ".repeat(ann.col),
                        scalar_text(k),
                        scalar_text(v)
                    )
                })
                .collect();
            insert_after(
                text,
                splice::node_end(text, &Node::Mapping(ann.clone())),
                lines,
                eol,
            )
        }
        Some(n)
            if !n
                .as_scalar()
                .is_some_and(|s| s.value.is_empty() || s.value == "null") =>
        {
            return Err(unsupported())
        }
        Some(_) => {
            // `annotations:` with no value: replace that entry.
            let idx = meta
                .entries
                .iter()
                .position(|(k, _)| k.as_scalar().is_some_and(|s| s.value == "annotations"))
                .expect("found");
            let mut remove = splice::remove_entry(text, meta, idx);
            remove.text = Zeroizing::new(annotations_block(meta, &missing, eol));
            remove
        }
        None => insert_after(
            text,
            splice::node_end(text, &Node::Mapping(meta.clone())),
            annotations_block(meta, &missing, eol),
            eol,
        ),
    };
    splice::apply(text, vec![edit])
}

fn annotations_block(meta: &Mapping, add: &[&(String, String)], eol: &str) -> String {
    let ind = " ".repeat(meta.col);
    let mut s = format!("{ind}annotations:{eol}");
    for (k, v) in add {
        s.push_str(&format!(
            "{ind}  {}: {}{eol}",
            scalar_text(k),
            scalar_text(v)
        ));
    }
    s
}

/// An insertion of whole lines after the line holding `pos`.
fn insert_after(src: &str, pos: usize, lines: String, eol: &str) -> Edit {
    let at = if src[..pos].ends_with('\n') {
        pos
    } else {
        splice::end_of_line(src, pos)
    };
    if src[..at].ends_with('\n') || at == 0 {
        Edit::new(at, at, lines)
    } else {
        Edit::new(
            at,
            at,
            format!("{eol}{}", lines.trim_end_matches(['\n', '\r'])),
        )
    }
}

/// Annotations that kustomize and kpt add to resources on their way into a function; they
/// were not there when the file was encrypted, so they are left out of the MAC check.
fn is_orchestrator_annotation(key: &str) -> bool {
    key.starts_with("internal.config.kubernetes.io/")
        || matches!(
            key,
            "config.kubernetes.io/index"
                | "config.kubernetes.io/path"
                | "config.k8s.io/id"
                | "kustomize.config.k8s.io/id"
        )
}

/// The document without the annotations the orchestrator added (and without an
/// `annotations` mapping left empty by that).
pub fn strip_orchestrator_annotations(text: &str) -> Result<Zeroizing<String>> {
    let stream = tree::parse(text)?;
    let mut edits = Vec::new();
    for doc in &stream.docs {
        let Some(meta) = doc
            .root_mapping()
            .and_then(|r| r.get("metadata"))
            .and_then(Node::as_mapping)
        else {
            continue;
        };
        let Some(aidx) = meta
            .entries
            .iter()
            .position(|(k, _)| k.as_scalar().is_some_and(|s| s.value == "annotations"))
        else {
            continue;
        };
        let Some(ann) = meta.entries[aidx].1.as_mapping() else {
            continue;
        };
        let drop: Vec<usize> = ann
            .entries
            .iter()
            .enumerate()
            .filter(|(_, (k, _))| {
                k.as_scalar()
                    .is_some_and(|s| is_orchestrator_annotation(&s.value))
            })
            .map(|(i, _)| i)
            .collect();
        if drop.is_empty() {
            continue;
        }
        if drop.len() == ann.entries.len() {
            edits.push(splice::remove_entry(text, meta, aidx));
        } else {
            for i in drop {
                edits.push(splice::remove_entry(text, ann, i));
            }
        }
    }
    splice::apply(text, edits)
}

/// The envelope a document carries: its `sops.mac` and `sops.lastmodified` texts.
fn envelope_id(text: &str) -> Option<String> {
    let stream = tree::parse(text).ok()?;
    let doc = stream.docs.iter().find(|d| d.root.is_some())?;
    let sops = doc.root_mapping()?.get("sops")?.as_mapping()?;
    let mac = sops.get_str("mac").filter(|m| !m.is_empty())?;
    Some(format!(
        "{mac}\u{0}{}",
        sops.get_str("lastmodified").unwrap_or("")
    ))
}

/// Groups larger than this are checked only in the order they arrive.
const MAX_PERMUTED: usize = 6;

/// Decrypts every encrypted resource of a build. Documents that carry the same envelope
/// (one encrypted file) are checked together: their MAC must verify over the group, in the
/// order they arrive or, for small groups, in any order (kustomize may sort resources).
/// Resources without an envelope pass through unchanged.
pub fn decrypt_resources(
    docs: &[Zeroizing<String>],
    opener: &dyn KeyOpener,
) -> Result<Vec<Zeroizing<String>>> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        if let Some(id) = envelope_id(d) {
            let g = *index.entry(id.clone()).or_insert_with(|| {
                groups.push((id, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(i);
        }
    }
    let mut out: Vec<Zeroizing<String>> = docs.to_vec();
    let ignore = DecryptOptions {
        ignore_mac: true,
        plain_only: true,
        policy: Some(&crate::kube::STRICT),
        require_structural_mac: false,
    };
    for (_, members) in &groups {
        let stripped: Vec<Zeroizing<String>> = members
            .iter()
            .map(|&i| strip_orchestrator_annotations(&docs[i]))
            .collect::<Result<_>>()?;
        let first = file::decrypt(&join_stream(&stripped), opener, &ignore)
            .map_err(|e| e.in_file(describe(&docs[members[0]])))?;
        let env = first.envelope.expect("grouped by envelope");
        let mut verified = env.mac_ok;
        if !verified && members.len() <= MAX_PERMUTED {
            let mut order: Vec<usize> = (0..members.len()).collect();
            while next_permutation(&mut order) {
                let joined = join_stream(
                    &order
                        .iter()
                        .map(|&k| stripped[k].clone())
                        .collect::<Vec<_>>(),
                );
                if let Ok(d) = file::decrypt(&joined, &env.key, &ignore) {
                    if d.envelope.is_some_and(|e| e.mac_ok) {
                        verified = true;
                        break;
                    }
                }
            }
        }
        if !verified {
            let names: Vec<String> = members.iter().map(|&i| describe(&docs[i])).collect();
            return Err(Error::integrity(format!(
                "refusing to decrypt: the MAC of the encrypted file holding {} does not verify over the {} resource{} of the build that carry its envelope; the build changed them (namePrefix, namespace, labels, patches), left some out, or reordered their keys",
                names.join(", "),
                members.len(),
                if members.len() == 1 { "" } else { "s" }
            ))
            .with_reason(Reason::BuildChangedEnvelope));
        }
        for &i in members {
            let d = file::decrypt(&docs[i], &env.key, &ignore)
                .map_err(|e| e.in_file(describe(&docs[i])))?;
            out[i] = d.text;
        }
    }
    Ok(out)
}

/// `Secret namespace/name` of a resource, for messages.
fn describe(text: &str) -> String {
    tree::parse(text)
        .ok()
        .and_then(|s| {
            s.docs
                .iter()
                .find(|d| d.root.is_some())
                .and_then(crate::merge::describe_doc)
        })
        .unwrap_or_else(|| "a resource".to_string())
}

/// Advances to the next lexicographic permutation; false after the last one.
fn next_permutation(v: &mut [usize]) -> bool {
    if v.len() < 2 {
        return false;
    }
    let mut i = v.len() - 1;
    while i > 0 && v[i - 1] >= v[i] {
        i -= 1;
    }
    if i == 0 {
        return false;
    }
    let mut j = v.len() - 1;
    while v[j] <= v[i - 1] {
        j -= 1;
    }
    v.swap(i - 1, j);
    v[i..].reverse();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_list_round_trip() {
        let src = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: a\n  stringData:\n    cert: |\n      l1\n\n      l2\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\nfunctionConfig:\n  apiVersion: kseal.dev/v1alpha1\n  kind: KsealGenerator\n  files:\n  - s.yaml\n";
        let rl = parse_resource_list(src).unwrap();
        assert_eq!(rl.items.len(), 2);
        assert_eq!(
            rl.items[0],
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  cert: |\n    l1\n\n    l2\n"
        );
        let fc = parse_config(rl.function_config.as_ref().unwrap()).unwrap();
        assert_eq!(fc.kind, PluginKind::Generator);
        assert_eq!(fc.files, vec!["s.yaml"]);
        let items: Vec<Zeroizing<String>> =
            rl.items.iter().map(|s| Zeroizing::new(s.clone())).collect();
        let out = render_resource_list(&rl.api_version, &items);
        let again = parse_resource_list(&out).unwrap();
        assert_eq!(again.items, rl.items);
    }

    #[test]
    fn annotations_are_added_where_missing() {
        let add = vec![
            (NEEDS_HASH.to_string(), "true".to_string()),
            (BEHAVIOR.to_string(), "merge".to_string()),
        ];
        let plain = "kind: Secret\nmetadata:\n  name: a\ndata: {}\n";
        assert_eq!(
            add_annotations(plain, &add).unwrap().as_str(),
            "kind: Secret\nmetadata:\n  name: a\n  annotations:\n    kustomize.config.k8s.io/needs-hash: \"true\"\n    kustomize.config.k8s.io/behavior: merge\ndata: {}\n"
        );
        let with = "kind: Secret\nmetadata:\n  annotations:\n    x: y\n    kustomize.config.k8s.io/behavior: replace\n  name: a\n";
        assert_eq!(
            add_annotations(with, &add).unwrap().as_str(),
            "kind: Secret\nmetadata:\n  annotations:\n    x: y\n    kustomize.config.k8s.io/behavior: replace\n    kustomize.config.k8s.io/needs-hash: \"true\"\n  name: a\n"
        );
    }

    #[test]
    fn orchestrator_annotations_are_stripped() {
        let t = "kind: Secret\nmetadata:\n  name: a\n  annotations:\n    config.kubernetes.io/index: '0'\n    internal.config.kubernetes.io/path: a.yaml\n";
        assert_eq!(
            strip_orchestrator_annotations(t).unwrap().as_str(),
            "kind: Secret\nmetadata:\n  name: a\n"
        );
        let t2 = "kind: Secret\nmetadata:\n  annotations:\n    mine: x\n    kustomize.config.k8s.io/id: |\n      kind: Secret\n  name: a\n";
        assert_eq!(
            strip_orchestrator_annotations(t2).unwrap().as_str(),
            "kind: Secret\nmetadata:\n  annotations:\n    mine: x\n  name: a\n"
        );
    }

    #[test]
    fn streams_split_and_join() {
        let docs = split_stream("a: 1\n---\n# c\nb: 2\n---\n---\nc: 3").unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1].as_str(), "# c\nb: 2\n");
        assert_eq!(
            join_stream(&docs).as_str(),
            "a: 1\n---\n# c\nb: 2\n---\nc: 3\n"
        );
    }

    #[test]
    fn permutations_cover_every_order() {
        let mut v = vec![0, 1, 2];
        let mut n = 1;
        while next_permutation(&mut v) {
            n += 1;
        }
        assert_eq!(n, 6);
    }

    #[test]
    fn package_paths_stay_in_the_package() {
        assert_eq!(package_join("", "a.yaml").unwrap(), "a.yaml");
        assert_eq!(package_join("fn", "../s/./a.yaml").unwrap(), "s/a.yaml");
        assert_eq!(package_join("", "./s//x/../a.yaml").unwrap(), "s/a.yaml");
        for bad in ["../a.yaml", "s/../../a.yaml", "/etc/passwd"] {
            let e = package_join("", bad).unwrap_err();
            assert_eq!(e.kind, Kind::Refused, "{bad}");
            assert!(e.message.contains(bad));
        }
        assert!(package_join("fn", "../../a.yaml").is_err());
    }

    #[test]
    fn exec_functions_are_found_in_any_spelling() {
        let cfg = "apiVersion: kseal.dev/v1alpha1\nkind: KsealGenerator\nmetadata:\n  name: s\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: kseal-krm\n";
        assert_eq!(exec_functions(cfg), vec!["KsealGenerator s"]);
        let old = cfg.replace("config.kubernetes.io/function", "config.k8s.io/function");
        assert_eq!(exec_functions(&old).len(), 1);
        let container = cfg.replace(
            "exec:\n        path: kseal-krm",
            "container:\n        image: x",
        );
        assert!(exec_functions(&container).is_empty());
        assert!(exec_functions("kind: KsealGenerator\nmetadata:\n  name: s\n").is_empty());
    }

    #[test]
    fn kpt_locations_and_the_unwritable_mark() {
        let item = "kind: Secret\nmetadata:\n  name: a\n  annotations:\n    config.kubernetes.io/index: '1'\n    config.kubernetes.io/path: 'sub/s.yaml'\n    internal.config.kubernetes.io/path: 'sub/s.yaml'\n    internal.config.kubernetes.io/package-path: '/p'\n";
        assert_eq!(package_location(item), Some(("sub/s.yaml".to_string(), 1)));
        assert_eq!(package_dir(item).as_deref(), Some("/p"));
        assert_eq!(
            package_location("kind: Secret\nmetadata:\n  name: a\n"),
            None
        );
        let marked = mark_not_for_the_package(item, 3).unwrap();
        assert_eq!(
            package_location(&marked),
            Some((NOT_WRITTEN_PATH.to_string(), 3))
        );
        assert!(!marked.contains("sub/s.yaml") && !marked.contains("package-path"));
    }
}
