//! The Kubernetes-friendly editing view of a plain manifest: `data` values shown decoded
//! (binary ones as `!!binary`), and the way back to base64 that restores every unchanged
//! value's original text exactly, so its ciphertext stays stable.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::kube;
use crate::secrets;
use crate::yaml::json;
use crate::yaml::scalar::{self, double_quoted, plain_is_safe, Style, Typed};
use crate::yaml::splice::{self, Edit, RenderContext};
use crate::yaml::tree::{self, Mapping, Node, Scalar};

const BINARY_TAG: &str = "tag:yaml.org,2002:binary";

/// Lines of the buffer that kseal writes and removes: they start with this marker.
pub const MARK: &str = "#|";

/// What the view replaced, to restore unchanged values byte for byte.
#[derive(Default)]
pub struct ViewState {
    /// (document index, List item index, key) -> (decoded bytes, the original value text).
    originals: HashMap<(usize, Option<usize>, String), Original>,
}

struct Original {
    bytes: Zeroizing<Vec<u8>>,
    /// The original source text of the value region.
    text: Zeroizing<String>,
}

/// A value region: where a scalar's text starts and ends, block scalars included from their
/// header to their last content line (line break included).
fn value_region(src: &str, s: &Scalar) -> (usize, usize) {
    match s.style {
        Style::Literal | Style::Folded => match splice::block_layout(src, s) {
            Some(l) => (l.header, l.content_end),
            None => (s.start, s.end),
        },
        _ => (s.start, s.end),
    }
}

/// The `data` mapping of a Secret: block YAML, or any mapping of a JSON document (a flow
/// mapping in YAML keeps its base64, which kseal cannot re-encode in place).
fn data_mapping<'a>(secret: &'a Mapping<'a>, json: bool) -> Option<&'a Mapping<'a>> {
    secret.get("data")?.as_mapping().filter(|m| json || !m.flow)
}

/// In a JSON buffer there are no tags: a value that is not text is shown as this prefix and
/// its base64, and read back from that form.
const JSON_BINARY: &str = "!!binary ";

fn key_of(k: &Node) -> String {
    k.as_scalar()
        .map(|s| s.value.to_string())
        .unwrap_or_default()
}

/// Text that reads well in an editor and survives a round trip through YAML.
fn is_text(bytes: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(bytes).ok()?;
    let ok =
        s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control()) && !s.contains('\u{feff}');
    ok.then_some(s)
}

/// Builds the editing view of a plain manifest.
pub fn to_view(plain: &str) -> Result<(Zeroizing<String>, ViewState)> {
    let stream = tree::parse(plain)?;
    let mut state = ViewState::default();
    let mut edits = Vec::new();
    for secret in secrets::all(&stream) {
        let di = secret.doc;
        let json = json::is_json_doc(plain, &stream.docs[di]);
        let Some(data) = data_mapping(secret.map, json) else {
            continue;
        };
        let unit = indent_unit_of(plain, data);
        for (k, v) in &data.entries {
            let Node::Scalar(s) = v else { continue };
            if matches!(
                scalar::resolve(&s.value, s.style, s.tag.as_deref()),
                Ok(Typed::Null)
            ) {
                continue;
            }
            let compact: String = s
                .value
                .chars()
                .filter(|c| *c != '\n' && *c != '\r')
                .collect();
            let Ok(bytes) = STANDARD.decode(compact.as_bytes()) else {
                continue;
            };
            let bytes = Zeroizing::new(bytes);
            let (start, end) = value_region(plain, s);
            let key = key_of(k);
            let text = Zeroizing::new(plain[start..end].to_string());
            match is_text(&bytes) {
                Some(t) if json => edits.push(Edit::new(start, end, json::string(t))),
                None if json => edits.push(Edit::new(
                    start,
                    end,
                    json::string(&format!("{JSON_BINARY}{compact}")),
                )),
                Some(t) => {
                    let ctx = RenderContext {
                        src: plain,
                        unit,
                        json: false,
                    };
                    // Render as if the slot were plain, whatever the base64's own style was.
                    let mut plain_slot = s.clone();
                    plain_slot.style = Style::Plain;
                    let rendered =
                        splice::decrypted_edit(&ctx, &plain_slot, &Typed::Str(t.to_string()));
                    let mut out = rendered.text.to_string();
                    if plain[start..end].ends_with('\n') && !out.ends_with('\n') {
                        out.push_str(splice::eol_of(plain));
                    }
                    edits.push(Edit::new(start, end, out));
                }
                None => {
                    let mut out = format!("!!binary {compact}");
                    if plain[start..end].ends_with('\n') {
                        out.push_str(splice::eol_of(plain));
                    }
                    edits.push(Edit::new(start, end, out));
                }
            }
            state
                .originals
                .insert((di, secret.item, key), Original { bytes, text });
        }
    }
    Ok((splice::apply(plain, edits)?, state))
}

fn indent_unit_of(src: &str, data: &Mapping) -> usize {
    let ls = splice::start_of_line(src, data.start);
    let line = &src[ls..];
    let key_line_indent = line.len() - line.trim_start_matches(' ').len();
    data.col.saturating_sub(key_line_indent).max(2)
}

/// The header kseal puts at the top of the editor buffer.
pub fn header(file: &str) -> String {
    format!(
        "{MARK} kseal edit {file}\n\
         {MARK} Values under `data` are shown decoded; kseal encodes them to base64 when you save.\n\
         {MARK} Values tagged !!binary (in JSON: \"!!binary ...\") are not text and stay base64. Unchanged values keep their ciphertext.\n\
         {MARK} Lines starting with {MARK} are removed on save. Save an empty file to cancel.\n"
    )
}

/// Removes kseal's marker lines from the top of a buffer.
pub fn strip_header(buffer: &str) -> &str {
    let mut rest = buffer;
    while rest.starts_with(MARK) {
        rest = match rest.find('\n') {
            Some(i) => &rest[i + 1..],
            None => "",
        };
    }
    rest
}

/// Turns an edited view back into a plain manifest: text values of `data` are base64-encoded
/// again, `!!binary` ones lose their tag; a value whose bytes did not change gets its original
/// text back.
pub fn from_view(view: &str, state: &ViewState) -> Result<Zeroizing<String>> {
    let stream = tree::parse(view)?;
    let mut edits = Vec::new();
    for secret in secrets::all(&stream) {
        let di = secret.doc;
        let prefix = secret.path_prefix();
        let Some(data) = secret.map.get("data") else {
            continue;
        };
        let Some(data) = data.as_mapping() else {
            return Err(Error::format("`data` must be a mapping of keys to values")
                .at_path(format!("{prefix}data"))
                .in_doc(di));
        };
        let json = json::is_json_doc(view, &stream.docs[di]);
        if data.flow && !json {
            continue;
        }
        for (k, v) in &data.entries {
            let key = key_of(k);
            let Node::Scalar(s) = v else {
                return Err(
                    Error::format("the value must be text, or base64 tagged !!binary")
                        .at_path(format!("{prefix}data.{key}"))
                        .in_doc(di),
                );
            };
            let typed = scalar::resolve(&s.value, s.style, s.tag.as_deref());
            if matches!(typed, Ok(Typed::Null)) {
                continue;
            }
            let (mut start, end) = value_region(view, s);
            let binary = s.tag.as_deref() == Some(BINARY_TAG);
            let json_binary = json.then(|| s.value.strip_prefix(JSON_BINARY)).flatten();
            let bytes: Zeroizing<Vec<u8>> = if let Some(b64) = json_binary {
                let compact: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
                Zeroizing::new(STANDARD.decode(compact.as_bytes()).map_err(|_| {
                    Error::format(format!("the {JSON_BINARY}value is not valid base64"))
                        .at_path(format!("{prefix}data.{key}"))
                        .in_doc(di)
                })?)
            } else if binary {
                // The tag sits before the value: replace it too.
                if let Some(i) = view[s.prev_end.min(start)..start].find("!!binary") {
                    start = s.prev_end.min(start) + i;
                }
                let compact: String = s.value.chars().filter(|c| !c.is_whitespace()).collect();
                Zeroizing::new(STANDARD.decode(compact.as_bytes()).map_err(|_| {
                    Error::format("the !!binary value is not valid base64")
                        .at_path(format!("{prefix}data.{key}"))
                        .in_doc(di)
                })?)
            } else {
                Zeroizing::new(s.value.as_bytes().to_vec())
            };
            let block_break = view[start..end].ends_with('\n');
            let mut text = match state.originals.get(&(di, secret.item, key.clone())) {
                Some(o) if *o.bytes == *bytes => o.text.to_string(),
                _ if json => json::string(&STANDARD.encode(&bytes[..])),
                _ => {
                    let b64 = STANDARD.encode(&bytes[..]);
                    if plain_is_safe(&b64) {
                        b64
                    } else {
                        double_quoted(&b64)
                    }
                }
            };
            if block_break && !text.ends_with('\n') {
                text.push_str(splice::eol_of(view));
            } else if !block_break && text.ends_with('\n') {
                // The original was a block scalar but the edited slot is inline: inline base64.
                text = STANDARD.encode(&bytes[..]);
            }
            edits.push(Edit::new(start, end, text));
        }
    }
    splice::apply(view, edits)
}

/// Checks that the documents re-encryption will cover are still valid Secrets.
pub fn check_secrets(plain: &str, expect_secret: &dyn Fn(usize) -> bool) -> Result<()> {
    let stream = tree::parse(plain)?;
    for (i, doc) in stream.docs.iter().enumerate() {
        if doc.root.is_none() {
            continue;
        }
        if doc.root_mapping().is_none() {
            return Err(Error::format("the document is not a mapping").in_doc(i));
        }
        if expect_secret(i) && !secrets::holds_secrets(doc) {
            return Err(Error::format("the document is no longer a `kind: Secret`").in_doc(i));
        }
        for secret in secrets::in_document(doc, i) {
            if secret.name().is_none_or(str::is_empty) {
                return Err(Error::format("the Secret has no metadata.name")
                    .at_path(format!("{}metadata", secret.path_prefix()))
                    .in_doc(i));
            }
        }
        if secrets::holds_secrets(doc) {
            kube::check_secret(doc, i)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  user: YWRtaW4=\n  quoted: \"czNjcjN0\"\n  bin: /wD+\n  cert: bGluZTEKbGluZTIK\n  t: dHJ1ZQ==\nstringData:\n  x: y\n";

    #[test]
    fn view_decodes_text_and_tags_binary() {
        let (view, _) = to_view(PLAIN).unwrap();
        assert!(view.contains("  user: admin\n"), "{}", view.as_str());
        assert!(view.contains("  quoted: s3cr3t\n"));
        assert!(view.contains("  bin: !!binary /wD+\n"));
        assert!(view.contains("  cert: |\n    line1\n    line2\n"));
        assert!(view.contains("  t: \"true\"\n"));
    }

    #[test]
    fn unchanged_view_restores_every_byte() {
        let (view, state) = to_view(PLAIN).unwrap();
        assert_eq!(from_view(&view, &state).unwrap().as_str(), PLAIN);
    }

    #[test]
    fn changed_values_are_reencoded() {
        let (view, state) = to_view(PLAIN).unwrap();
        let edited = view
            .replace("user: admin", "user: root")
            .replace("  t: \"true\"\n", "  t: \"true\"\n  new: hello world\n");
        let back = from_view(&edited, &state).unwrap();
        assert!(back.contains("  user: cm9vdA==\n"));
        assert!(back.contains("  new: aGVsbG8gd29ybGQ=\n"));
        assert!(back.contains("  quoted: \"czNjcjN0\"\n"));
    }

    #[test]
    fn header_is_stripped() {
        let buf = format!("{}{}", header("x.yaml"), PLAIN);
        assert_eq!(strip_header(&buf), PLAIN);
    }

    #[test]
    fn secrets_are_checked() {
        assert!(check_secrets(PLAIN, &|_| true).is_ok());
        let e = check_secrets(&PLAIN.replace("kind: Secret", "kind: ConfigMap"), &|_| true)
            .err()
            .unwrap();
        assert!(e.to_string().contains("no longer"));
        let e = check_secrets(&PLAIN.replace("user: YWRtaW4=", "user: nope!"), &|_| true)
            .err()
            .unwrap();
        assert!(e.to_string().contains("data.user"));
    }
}
