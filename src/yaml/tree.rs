//! The YAML document tree with byte spans: built from the event parser, it keeps where every
//! scalar, mapping and comment sits in the source so values can be replaced in place.

use std::borrow::Cow;
use std::collections::HashSet;
use std::rc::Rc;

use granit_parser::{Event, Parser, Placement, ScalarStyle, StructureStyle};

use super::layout::{self, ScalarSpan};
use super::scalar::Style;
use crate::error::{Error, Result};

/// One YAML stream: the documents of a file, in order.
pub struct Stream<'a> {
    pub docs: Vec<Document<'a>>,
}

/// One YAML document of a stream.
pub struct Document<'a> {
    /// Byte offset where the document starts (its `---` marker if explicit, else its content).
    pub start: usize,
    pub explicit_start: bool,
    pub root: Option<Node<'a>>,
    /// Comments of this document (and those before its start marker), in source order.
    pub comments: Vec<Comment>,
}

#[derive(Clone)]
pub enum Node<'a> {
    Scalar(Scalar<'a>),
    Mapping(Mapping<'a>),
    Sequence(Sequence<'a>),
    /// An alias: the anchored node it stands for, the byte range of the `*name` token, and
    /// the number of nodes it expands to (aliases inside it included).
    Alias(Rc<Node<'a>>, usize, usize, u64),
}

#[derive(Clone)]
pub struct Scalar<'a> {
    /// The scalar's content after escape processing and folding: borrowed from the source
    /// when it is written there as is (most values), else processed into a copy.
    pub value: Cow<'a, str>,
    pub style: Style,
    /// The resolved tag, e.g. `tag:yaml.org,2002:str` or `!local`.
    pub tag: Option<String>,
    /// Byte range reported by the parser. For quoted scalars it includes the quotes; for
    /// block scalars it starts at the first content character and runs into the next line.
    pub start: usize,
    pub end: usize,
    /// End of the previous token: a block scalar's header lies between this and `start`.
    pub prev_end: usize,
    /// 0-based character column of `start`.
    pub col: usize,
    /// Whether the scalar sits inside a flow collection (`{...}` or `[...]`).
    pub in_flow: bool,
}

#[derive(Clone)]
pub struct Mapping<'a> {
    pub entries: Vec<(Node<'a>, Node<'a>)>,
    pub flow: bool,
    pub start: usize,
    /// Where the parser closed the mapping (after trailing comments and blank lines).
    pub end: usize,
    /// Column of the keys of a block mapping.
    pub col: usize,
}

#[derive(Clone)]
pub struct Sequence<'a> {
    pub items: Vec<Node<'a>>,
    pub flow: bool,
    pub start: usize,
    pub end: usize,
    /// Column of the `- ` indicators of a block sequence.
    pub col: usize,
}

/// Who owns a comment: the innermost mapping (by its key path) or sequence it sits in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommentOwner {
    Mapping(Vec<String>),
    Sequence(Vec<String>),
}

#[derive(Clone)]
pub struct Comment {
    /// Text after the `#`.
    pub text: String,
    /// Byte range of the whole comment, `#` included.
    pub start: usize,
    pub end: usize,
    /// Written after content on the same line (`key: value # comment`).
    pub inline: bool,
    pub owner: CommentOwner,
}

// The tree of a decrypted manifest holds every plaintext value and comment: they are wiped
// when the tree goes (the parser's own buffers are not ours to wipe).
impl Drop for Scalar<'_> {
    fn drop(&mut self) {
        // A borrowed value is the caller's buffer, wiped (or not) by its owner.
        if let Cow::Owned(v) = &mut self.value {
            zeroize::Zeroize::zeroize(v);
        }
    }
}

impl Drop for Comment {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.text);
    }
}

impl<'a> Node<'a> {
    pub fn as_mapping(&self) -> Option<&Mapping<'_>> {
        match self {
            Node::Mapping(m) => Some(m),
            Node::Alias(target, ..) => target.as_mapping(),
            _ => None,
        }
    }
    pub fn as_scalar(&self) -> Option<&Scalar<'_>> {
        match self {
            Node::Scalar(s) => Some(s),
            Node::Alias(target, ..) => target.as_scalar(),
            _ => None,
        }
    }
    /// Byte offset where the node's own text starts.
    pub fn start(&self) -> usize {
        match self {
            Node::Scalar(s) => s.start,
            Node::Mapping(m) => m.start,
            Node::Sequence(s) => s.start,
            Node::Alias(_, start, ..) => *start,
        }
    }
}

impl Scalar<'_> {
    /// Where the scalar stands, for the layout helpers.
    pub fn span(&self) -> ScalarSpan {
        ScalarSpan {
            prev_end: self.prev_end,
            start: self.start,
            end: self.end,
            col: self.col,
        }
    }
}

impl Mapping<'_> {
    /// The value of the first entry whose key is the plain string `key`.
    pub fn get(&self, key: &str) -> Option<&Node<'_>> {
        self.entry(key).map(|(_, v)| v)
    }
    pub fn entry(&self, key: &str) -> Option<&(Node<'_>, Node<'_>)> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.value == key))
    }
    /// The string value of `key` if it is a scalar.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::as_scalar).map(|s| &*s.value)
    }
}

impl Document<'_> {
    pub fn root_mapping(&self) -> Option<&Mapping<'_>> {
        self.root.as_ref().and_then(Node::as_mapping)
    }
}

/// Limits that keep hostile input from exhausting memory or time.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Nodes an alias may stand for, summed over all aliases of the stream.
    pub alias_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            alias_nodes: 100_000,
        }
    }
}

enum Frame<'a> {
    Map {
        m: Mapping<'a>,
        key: Option<Node<'a>>,
        path: Vec<String>,
        anchor: usize,
        seen: HashSet<String>,
    },
    Seq {
        s: Sequence<'a>,
        path: Vec<String>,
        anchor: usize,
    },
}

impl Frame<'_> {
    fn path(&self) -> &Vec<String> {
        match self {
            Frame::Map { path, .. } | Frame::Seq { path, .. } => path,
        }
    }
    fn is_flow(&self) -> bool {
        match self {
            Frame::Map { m, .. } => m.flow,
            Frame::Seq { s, .. } => s.flow,
        }
    }
}

/// The string a key contributes to the path of the values under it.
fn key_text(key: &Node) -> String {
    match key.as_scalar() {
        Some(s) => s.value.to_string(),
        None => "?".to_string(),
    }
}

fn style_of(s: ScalarStyle) -> Style {
    match s {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted => Style::SingleQuoted,
        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        ScalarStyle::Literal => Style::Literal,
        ScalarStyle::Folded => Style::Folded,
    }
}

/// Nodes a walk visits when it expands every alias.
pub fn expanded_size(node: &Node) -> u64 {
    match node {
        Node::Scalar(_) => 1,
        Node::Alias(.., size) => *size,
        Node::Mapping(m) => m.entries.iter().fold(1u64, |acc, (k, v)| {
            acc.saturating_add(expanded_size(k))
                .saturating_add(expanded_size(v))
        }),
        Node::Sequence(s) => s
            .items
            .iter()
            .fold(1u64, |acc, n| acc.saturating_add(expanded_size(n))),
    }
}

/// Parses a whole YAML stream (JSON included) into documents with spans.
pub fn parse(src: &str) -> Result<Stream<'_>> {
    parse_with(src, Limits::default())
}

pub fn parse_with(src: &str, limits: Limits) -> Result<Stream<'_>> {
    check_line_ends(src)?;
    let mut builder = Builder::new(src, limits);
    for item in Parser::new(super::input::FastStr::new(src)) {
        let (event, span) = item.map_err(|e| {
            let m = e.marker();
            Error::format(format!(
                "YAML syntax error at line {} column {}: {}",
                m.line(),
                m.col() + 1,
                e.info()
            ))
        })?;
        let at = At {
            start: span
                .start
                .byte_offset()
                .unwrap_or_else(|| span.start.index()),
            end: span.end.byte_offset().unwrap_or_else(|| span.end.index()),
            col: span.start.col(),
        };
        builder.event(event, at)?;
    }
    Ok(builder.finish())
}

/// Where an event stands in the source: its byte range and the column it starts at.
#[derive(Clone, Copy)]
struct At {
    start: usize,
    end: usize,
    col: usize,
}

/// The tree under construction from the parser's events: finished documents, the one being
/// built, the collections still open, the anchors of the document, comments not yet placed.
struct Builder<'a> {
    src: &'a str,
    limits: Limits,
    docs: Vec<Document<'a>>,
    current: Option<Document<'a>>,
    stack: Vec<Frame<'a>>,
    anchors: Vec<(usize, Rc<Node<'a>>)>,
    pending_comments: Vec<Comment>,
    /// End of the previous token that is not a comment.
    prev_end: usize,
    /// Nodes aliases may still expand to.
    alias_budget: usize,
}

impl<'a> Builder<'a> {
    fn new(src: &'a str, limits: Limits) -> Self {
        Builder {
            src,
            limits,
            docs: Vec::new(),
            current: None,
            stack: Vec::new(),
            anchors: Vec::new(),
            pending_comments: Vec::new(),
            prev_end: 0,
            alias_budget: limits.alias_nodes,
        }
    }

    /// Takes one parser event: a node it completes is attached where it belongs.
    fn event(&mut self, event: Event<'a>, at: At) -> Result<()> {
        let mut completed: Option<(Node<'a>, usize)> = None;
        let mut is_comment = false;
        match event {
            Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart(explicit, _) => self.document_start(explicit, at),
            Event::DocumentEnd => self.document_end(),
            Event::Comment(text, placement) => {
                is_comment = true;
                let inline = placement == Placement::Right;
                let owner = comment_owner(&self.stack, at.col, inline);
                self.pending_comments.push(Comment {
                    text: text.into_owned(),
                    start: at.start,
                    end: at.end,
                    inline,
                    owner,
                });
            }
            Event::Alias(id) => completed = Some((self.alias(id, at)?, 0)),
            Event::Scalar(value, style, anchor, tag) => {
                let mut scalar = Scalar {
                    value,
                    style: style_of(style),
                    tag: tag.map(|t| t.to_string()),
                    start: at.start,
                    end: at.end,
                    prev_end: self.prev_end,
                    col: at.col,
                    in_flow: self.stack.last().is_some_and(Frame::is_flow),
                };
                fix_final_break(self.src, &mut scalar);
                completed = Some((Node::Scalar(scalar), anchor));
            }
            Event::MappingStart(style, anchor, _tag) => {
                self.mapping_start(style == StructureStyle::Flow, anchor, at)
            }
            Event::SequenceStart(style, anchor, _tag) => {
                self.sequence_start(style == StructureStyle::Flow, anchor, at)
            }
            Event::MappingEnd => completed = Some(self.mapping_end(at)?),
            Event::SequenceEnd => completed = Some(self.sequence_end(at)?),
            _ => {}
        }
        if let Some((node, anchor)) = completed {
            if anchor != 0 {
                self.anchors.push((anchor, Rc::new(node.clone())));
            }
            attach(self.src, &mut self.stack, &mut self.current, node)
                .map_err(|e| e.in_doc(self.docs.len()))?;
        }
        // Comments do not move `prev_end`: a block scalar header may carry one
        // (`key: | # note`), and the header search must start before it.
        if !is_comment {
            self.prev_end = self.prev_end.max(at.end);
        }
        Ok(())
    }

    fn document_start(&mut self, explicit: bool, at: At) {
        let mut doc = Document {
            start: at.start,
            explicit_start: explicit,
            root: None,
            comments: Vec::new(),
        };
        doc.comments.append(&mut self.pending_comments);
        self.current = Some(doc);
        self.anchors.clear();
    }

    fn document_end(&mut self) {
        if let Some(mut doc) = self.current.take() {
            doc.comments.append(&mut self.pending_comments);
            self.docs.push(doc);
        }
    }

    /// The node an alias stands for, within the stream's alias budget.
    fn alias(&mut self, id: usize, at: At) -> Result<Node<'a>> {
        let target = self
            .anchors
            .iter()
            .rev()
            .find(|(a, _)| *a == id)
            .map(|(_, n)| n.clone())
            .ok_or_else(|| Error::format("YAML alias refers to an unknown anchor"))?;
        let cost = expanded_size(&target);
        if cost > self.alias_budget as u64 {
            return Err(Error::format(format!(
                "YAML aliases expand to more than {} nodes (an alias bomb?)",
                self.limits.alias_nodes
            )));
        }
        self.alias_budget -= cost as usize;
        Ok(Node::Alias(target, at.start, at.end, cost))
    }

    fn mapping_start(&mut self, flow: bool, anchor: usize, at: At) {
        let path = child_path(&self.stack);
        let m = Mapping {
            entries: Vec::new(),
            flow,
            start: at.start,
            end: at.start,
            col: at.col,
        };
        self.stack.push(Frame::Map {
            m,
            key: None,
            path,
            anchor,
            seen: HashSet::new(),
        });
    }

    fn sequence_start(&mut self, flow: bool, anchor: usize, at: At) {
        let path = child_path(&self.stack);
        let s = Sequence {
            items: Vec::new(),
            flow,
            start: at.start,
            end: at.start,
            col: at.col,
        };
        self.stack.push(Frame::Seq { s, path, anchor });
    }

    fn mapping_end(&mut self, at: At) -> Result<(Node<'a>, usize)> {
        match self.stack.pop() {
            Some(Frame::Map { mut m, anchor, .. }) => {
                m.end = at.end.max(at.start);
                if !m.flow {
                    settle_col(self.src, &mut m);
                }
                Ok((Node::Mapping(m), anchor))
            }
            _ => Err(Error::format(
                "YAML parser returned unbalanced mapping events",
            )),
        }
    }

    fn sequence_end(&mut self, at: At) -> Result<(Node<'a>, usize)> {
        match self.stack.pop() {
            Some(Frame::Seq { mut s, anchor, .. }) => {
                s.end = at.end.max(at.start);
                Ok((Node::Sequence(s), anchor))
            }
            _ => Err(Error::format(
                "YAML parser returned unbalanced sequence events",
            )),
        }
    }

    /// The stream once the events ran out: an unfinished document and comments after the
    /// last one are kept.
    fn finish(mut self) -> Stream<'a> {
        if let Some(mut doc) = self.current.take() {
            doc.comments.append(&mut self.pending_comments);
            self.docs.push(doc);
        } else if !self.pending_comments.is_empty() {
            if let Some(last) = self.docs.last_mut() {
                last.comments.append(&mut self.pending_comments);
            }
        }
        Stream { docs: self.docs }
    }
}

/// A carriage return alone is a line break for YAML (old Mac OS line ends); kseal's byte
/// splicing knows LF and CRLF, so such input is refused rather than spliced wrongly.
fn check_line_ends(src: &str) -> Result<()> {
    let b = src.as_bytes();
    // `find` jumps between carriage returns with memchr: most files have none, CRLF files one
    // per line; a byte-by-byte scan cost a visible share of parsing a large Secret.
    let mut from = 0;
    let mut lone = None;
    while let Some(at) = src[from..].find('\r') {
        let i = from + at;
        if b.get(i + 1) != Some(&b'\n') {
            lone = Some(i);
            break;
        }
        from = i + 1;
    }
    match lone {
        None => Ok(()),
        Some(i) => {
            let line = 1 + b[..i].iter().filter(|&&c| c == b'\n').count();
            Err(Error::format(format!(
                "line {line}: a carriage return without a line feed (an old Mac OS line end); kseal reads LF and CRLF line ends"
            )))
        }
    }
}

/// A `|` or `>` block (clip or keep chomping) whose last line ends the input without a line
/// break has no final line break in its value (YAML 1.2, 8.1.1.2; go-yaml, which sops and Flux
/// use, and PyYAML agree); the parser adds one. Without this, kseal would encrypt a value one
/// `\n` longer than sops reads from the same file.
fn fix_final_break(src: &str, s: &mut Scalar) {
    if s.value.ends_with('\n') && final_break_dropped(src, s) {
        match &mut s.value {
            Cow::Borrowed(b) => *b = &b[..b.len() - 1],
            Cow::Owned(o) => {
                o.pop();
            }
        }
    }
}

/// Whether `s` is a clip or keep block scalar whose last line ends `src` without a line break:
/// its value has no final `\n` here, but gains one wherever a line break follows it (kseal's
/// encrypted output, which appends the `sops:` block after a line break).
pub fn final_break_dropped(src: &str, s: &Scalar) -> bool {
    if !matches!(s.style, Style::Literal | Style::Folded) || src.ends_with('\n') {
        return false;
    }
    if s.end < src.trim_end_matches([' ', '\t', '\r']).len() {
        return false;
    }
    match layout::block_layout(src, s.span()) {
        Some(l) if l.no_final_break => {
            // Strip chomping (`|-`, `>2-`) never has a final line break.
            !src[l.header + 1..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .any(|c| c == '-')
        }
        _ => false,
    }
}

/// The column of a block mapping, from its first key: where the key starts, or where the node
/// properties written before it start (`&a apiVersion: v1`, `- !t key: v`), since they belong
/// to the key and the mapping begins with them.
fn first_key_col(src: &str, key: &Scalar) -> usize {
    let line_start = src[..key.start].rfind('\n').map_or(0, |i| i + 1);
    let before = &src[line_start..key.start];
    let mut col = key.col;
    let mut rest = before.trim_end_matches(' ');
    // Peel property tokens off the end of the text before the key.
    loop {
        let i = rest.rfind(' ').map_or(0, |i| i + 1);
        let word = &rest[i..];
        if word.is_empty() || !(word.starts_with('&') || word.starts_with('!')) {
            break;
        }
        col = rest[..i].chars().count();
        rest = rest[..i].trim_end_matches(' ');
        if i == 0 {
            break;
        }
    }
    col
}

/// A complete block mapping's column is that of its keys that begin their line (after spaces
/// only; the least, since the content of a `? ` complex key sits deeper): odd first keys
/// (complex keys, empty keys, keys after node properties) do not give it reliably.
fn settle_col(src: &str, m: &mut Mapping) {
    let starts_line = |s: &Scalar| {
        let line_start = src[..s.start].rfind('\n').map_or(0, |i| i + 1);
        src[line_start..s.start].bytes().all(|b| b == b' ')
    };
    if let Some(col) = m
        .entries
        .iter()
        .filter_map(|(k, _)| match k {
            Node::Scalar(s) if !s.in_flow && !s.value.is_empty() && starts_line(s) => Some(s.col),
            _ => None,
        })
        .min()
    {
        m.col = col;
    }
}

fn child_path(stack: &[Frame]) -> Vec<String> {
    match stack.last() {
        Some(Frame::Map {
            key: Some(k), path, ..
        }) => {
            let mut p = path.clone();
            p.push(key_text(k));
            p
        }
        Some(f) => f.path().clone(),
        None => Vec::new(),
    }
}

fn comment_owner(stack: &[Frame], col: usize, inline: bool) -> CommentOwner {
    let owner_of = |f: &Frame| match f {
        Frame::Map { path, .. } => CommentOwner::Mapping(path.clone()),
        Frame::Seq { path, .. } => CommentOwner::Sequence(path.clone()),
    };
    if inline {
        return stack
            .last()
            .map(owner_of)
            .unwrap_or(CommentOwner::Mapping(Vec::new()));
    }
    // A full-line comment belongs to the innermost open block collection it is indented into;
    // the parser may report it before closing collections it visually follows.
    // A comment between a key and its (not yet started) block value, indented past the key,
    // opens that value: `data:` then `  # note` then `  password: ...`.
    if let Some(Frame::Map {
        m,
        key: Some(k),
        path,
        ..
    }) = stack.last()
    {
        if !m.flow && col > m.col {
            let mut p = path.clone();
            p.push(key_text(k));
            return CommentOwner::Mapping(p);
        }
    }
    for f in stack.iter().rev() {
        let fcol = match f {
            Frame::Map { m, .. } => m.col,
            Frame::Seq { s, .. } => s.col,
        };
        if f.is_flow() || col >= fcol {
            return owner_of(f);
        }
    }
    CommentOwner::Mapping(Vec::new())
}

fn attach<'a>(
    src: &str,
    stack: &mut [Frame<'a>],
    current: &mut Option<Document<'a>>,
    node: Node<'a>,
) -> Result<()> {
    match stack.last_mut() {
        Some(Frame::Map {
            m, key, path, seen, ..
        }) => {
            if let Some(k) = key.take() {
                m.entries.push((k, node));
            } else {
                if let Node::Scalar(s) = &node {
                    // Two values for one key are ambiguous: YAML forbids them and readers
                    // disagree on which one wins.
                    if !seen.insert(s.value.to_string()) {
                        let shown: String = s.value.chars().take(60).collect();
                        let at = if path.is_empty() {
                            String::new()
                        } else {
                            format!(" in {}", path.join("."))
                        };
                        return Err(Error::format(format!("duplicate key `{shown}`{at}")));
                    }
                }
                if m.entries.is_empty() && !m.flow {
                    m.col = match &node {
                        Node::Scalar(s) => first_key_col(src, s),
                        _ => m.col,
                    };
                }
                *key = Some(node);
            }
        }
        Some(Frame::Seq { s, .. }) => s.items.push(node),
        None => match current {
            Some(doc) => doc.root = Some(node),
            None => return Err(Error::format("YAML node outside a document")),
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> &'static str {
        "# head\napiVersion: v1\nkind: Secret\nmetadata:\n  name: x   # inline\ndata:\n  a: YWJj\n  # between\n  lit: |\n    l1\n  # trailing\n---\nkind: ConfigMap\nlist:\n  - a\n  - &x {b: c}\n  - *x\n"
    }

    #[test]
    fn documents_and_spans() {
        let s = src();
        let st = parse(s).unwrap();
        assert_eq!(st.docs.len(), 2);
        let root = st.docs[0].root_mapping().unwrap();
        assert_eq!(root.get_str("kind"), Some("Secret"));
        let data = root.get("data").unwrap().as_mapping().unwrap();
        let a = data.get("a").unwrap().as_scalar().unwrap();
        assert_eq!(&s[a.start..a.end], "YWJj");
        assert_eq!(data.col, 2);
        assert!(st.docs[1].explicit_start);
    }

    #[test]
    fn comment_owners_follow_indentation() {
        let st = parse(src()).unwrap();
        let owners: Vec<(String, CommentOwner)> = st.docs[0]
            .comments
            .iter()
            .map(|c| (c.text.clone(), c.owner.clone()))
            .collect();
        let data = CommentOwner::Mapping(vec!["data".into()]);
        assert_eq!(owners[0], (" head".into(), CommentOwner::Mapping(vec![])));
        assert_eq!(
            owners[1],
            (
                " inline".into(),
                CommentOwner::Mapping(vec!["metadata".into()])
            )
        );
        assert_eq!(owners[2], (" between".into(), data.clone()));
        assert_eq!(owners[3], (" trailing".into(), data));
    }

    #[test]
    fn aliases_expand_with_a_budget() {
        let st = parse(src()).unwrap();
        let list = st.docs[1].root_mapping().unwrap().get("list").unwrap();
        match list {
            Node::Sequence(s) => assert!(matches!(s.items[2], Node::Alias(..))),
            _ => panic!("not a sequence"),
        }
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        let err = parse(bomb).err().unwrap();
        assert!(err.to_string().contains("alias"));
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let err = parse("a: 1\nb:\n  x: 1\n  x: 2\n").err().unwrap();
        assert_eq!(err.to_string(), "document 1: duplicate key `x` in b");
    }

    /// YAML (and go-yaml, which sops uses) has no final line break in a block scalar whose
    /// last line ends the input without one; the parser adds one, kseal takes it away.
    #[test]
    fn block_scalar_at_the_end_without_a_line_break() {
        let value = |src: &str| {
            let st = parse(src).unwrap();
            let m = st.docs[0].root_mapping().unwrap();
            m.get_str("a").unwrap().to_string()
        };
        assert_eq!(value("a: |\n  x\n  y"), "x\ny");
        assert_eq!(value("a: |+\n  x\n  y"), "x\ny");
        assert_eq!(value("a: >\n  x\n  y"), "x y");
        assert_eq!(value("a: |-\n  x\n  y"), "x\ny");
        assert_eq!(value("a: |\r\n  x\r\n  y"), "x\ny");
        // With the line break, or followed by a comment: unchanged.
        assert_eq!(value("a: |\n  x\n  y\n"), "x\ny\n");
        assert_eq!(value("a: |\n  x\n# c"), "x\n");
        assert_eq!(value("a: |+\n  x\n\n"), "x\n\n");
    }

    #[test]
    fn properties_before_the_first_key_set_the_mapping_column() {
        for (src, col) in [
            ("&a apiVersion: v1\nkind: Secret\n", 0),
            ("!t apiVersion: v1\nkind: Secret\n", 0),
            ("top:\n  &a !t k: 1\n  j: 2\n", 2),
            ("- &a k: 1\n  j: 2\n", 2),
            ("k: 1\n", 0),
            // A complex key first, its content on the next line, deeper.
            ("?\n  complex\nkind: Secret\n", 0),
        ] {
            let st = parse(src).unwrap();
            let root = st.docs[0].root.as_ref().unwrap();
            let m = match root {
                Node::Mapping(m) if m.get("top").is_some() => {
                    m.get("top").unwrap().as_mapping().unwrap()
                }
                Node::Mapping(m) => m,
                Node::Sequence(q) => q.items[0].as_mapping().unwrap(),
                _ => unreachable!(),
            };
            assert_eq!(m.col, col, "{src:?}");
        }
    }

    #[test]
    fn lone_carriage_returns_are_refused() {
        assert!(parse("a: 1\r\nb: 2\r\n").is_ok());
        let err = parse("a: |\n  l1\r  l2\n").err().unwrap();
        assert!(
            err.to_string().starts_with("line 2: a carriage return"),
            "{err}"
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse("a: b\nc: \"unclosed\nd: e\n").err().unwrap();
        assert!(err.to_string().contains("line"), "{err}");
    }
}
