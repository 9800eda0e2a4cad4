//! Where things sit in the text, knowing nothing of the tree: line starts and ends, the line
//! ending a file uses, and the layout of a block scalar (`|`, `>`) from the span the parser
//! reports. The tree (its final-break rule) and splicing both build on it.

/// The line ending a file uses (CRLF if its first line break is one).
pub fn eol_of(src: &str) -> &'static str {
    match src.find('\n') {
        Some(i) if i > 0 && src.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// Where a scalar stands, as the parser reports it (see `tree::Scalar`).
#[derive(Clone, Copy, Debug)]
pub struct ScalarSpan {
    /// End of the previous token: a block scalar's header lies between this and `start`.
    pub prev_end: usize,
    pub start: usize,
    pub end: usize,
    /// 0-based character column of `start`.
    pub col: usize,
}

/// Where a block scalar (`|` or `>`) sits: its header and its content lines.
#[derive(Debug, Clone, Copy)]
pub struct BlockLayout {
    /// Offset of the `|` or `>` indicator.
    pub header: usize,
    /// Start of the first content line (just after the header line's line break).
    pub content_start: usize,
    /// End of the last non-blank content line, after its line break when it has one.
    pub content_end: usize,
    /// Indentation of the content lines: the header's indentation indicator when it has
    /// one (`|2`), else that of the first non-blank line.
    pub indent: usize,
    /// The header fixes the indentation with a digit, so content may start with spaces.
    pub explicit_indent: bool,
    /// The last content line has no line break (end of input).
    pub no_final_break: bool,
}

pub fn block_layout(src: &str, s: ScalarSpan) -> Option<BlockLayout> {
    let lo = s.prev_end.min(s.start);
    let header = lo + src[lo..s.start].find(['|', '>'])?;
    let content_start = header
        + src[header..]
            .find('\n')
            .map(|i| i + 1)
            .unwrap_or(src.len() - header);
    let region_end = s.end.max(content_start).min(src.len());
    // Walk the content lines; the block ends at the last line that is not blank.
    let mut content_end = content_start;
    let mut no_final_break = false;
    let mut indent = None;
    let mut pos = content_start;
    while pos < region_end {
        let line_end = src[pos..]
            .find('\n')
            .map(|i| pos + i + 1)
            .unwrap_or(src.len());
        let line = &src[pos..line_end.min(region_end)];
        let body = line.trim_end_matches(['\n', '\r']);
        // A line of spaces longer than the indentation is content too (those extra spaces).
        let spaces_beyond = indent.is_some_and(|i| body.len() > i);
        if !body.trim().is_empty() || spaces_beyond {
            if indent.is_none() {
                indent = Some(body.len() - body.trim_start_matches(' ').len());
            }
            if line_end <= region_end || line_end == src.len() {
                content_end = line_end.min(src.len());
                no_final_break = !src[..content_end].ends_with('\n');
            }
        }
        if line_end > region_end {
            break;
        }
        pos = line_end;
    }
    if indent.is_none() {
        // An empty block: nothing to replace.
        content_end = content_start;
    }
    // `|2`: the content sits that many columns right of the line that holds the header.
    let digit = src[header + 1..content_start]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .find_map(|c| c.to_digit(10));
    let explicit_indent = digit.is_some();
    if let Some(d) = digit {
        let ls = start_of_line(src, header);
        let line = &src[ls..header];
        indent = Some(line.len() - line.trim_start_matches(' ').len() + d as usize);
    }
    Some(BlockLayout {
        header,
        content_start,
        content_end,
        explicit_indent,
        indent: indent.unwrap_or(s.col),
        no_final_break,
    })
}

/// Extends `pos` to just after the line break that ends its line (or to the end of input).
pub fn end_of_line(src: &str, pos: usize) -> usize {
    src[pos..]
        .find('\n')
        .map(|i| pos + i + 1)
        .unwrap_or(src.len())
}

/// The start of the line holding `pos`.
pub fn start_of_line(src: &str, pos: usize) -> usize {
    src[..pos].rfind('\n').map(|i| i + 1).unwrap_or(0)
}
