//! The parser's input over a `&str`: granit-parser's own `StrInput`, with a word-at-a-time
//! scan of plain scalars. A sealed value is one plain scalar of up to megabytes
//! (`ENC[AES256_GCM,data:...]`), and `StrInput` finds its end one byte at a time: on a 900 KB
//! Secret that scan was the largest single cost of `decrypt` and, twice, of `encrypt`
//! (docs/benchmarks.md). Everything else is `StrInput`'s, delegated; the scan answers exactly
//! what `StrInput`'s does (`tests::same_events_as_str_input` compares the two parsers).

use granit_parser::input::{BorrowedInput, Input, SkipTabs, WhitespaceResult};
use granit_parser::{ErrorKind, StrInput};

/// `StrInput` over `src`, restarted after each long plain scalar (a `StrInput` moves only
/// one character at a time): `base` is where the current `inner` starts in `src`.
pub struct FastStr<'a> {
    src: &'a str,
    base: usize,
    inner: StrInput<'a>,
}

impl<'a> FastStr<'a> {
    pub fn new(src: &'a str) -> Self {
        FastStr {
            src,
            base: 0,
            inner: StrInput::new(src),
        }
    }

    /// Where the parser stands in `src`.
    #[inline]
    fn pos(&self) -> usize {
        self.base + self.inner.byte_offset().unwrap_or(0)
    }

    /// Consumes the plain-scalar chunk at the front: its text, and its length in characters.
    fn take_plain(&mut self, flow: bool) -> (&'a str, usize) {
        let at = self.pos();
        let rest = &self.src[at..];
        let (len, chars) = plain_chunk_len(rest.as_bytes(), flow);
        let lookahead = self.inner.buflen();
        self.base = at + len;
        self.inner = StrInput::new(&self.src[self.base..]);
        self.inner.lookahead(lookahead);
        (&rest[..len], chars)
    }
}

/// Bytes that may end a plain scalar or need a closer look: blanks, breaks, NUL (all below
/// `!`), `:`, the flow indicators, and non-ASCII bytes (one character is several bytes).
#[inline]
fn word_is_plain(w: u64, flow: bool) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has = |b: u8| {
        let x = w ^ (ONES * u64::from(b));
        x.wrapping_sub(ONES) & !x & HIGH
    };
    // A byte below 0x21 (with no high bit set anywhere, which the first test rules out).
    let below = w.wrapping_sub(ONES * 0x21) & !w & HIGH;
    let mut stop = (w & HIGH) | below | has(b':');
    if flow {
        stop |= has(b',') | has(b'[') | has(b']') | has(b'{') | has(b'}');
    }
    stop == 0
}

/// Whether byte `b` (ASCII) ends a plain scalar by itself: a blank, a break or NUL, or in a
/// flow collection a flow indicator.
#[inline]
fn ends_plain(b: u8, flow: bool) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0)
        || flow && matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

/// The length in bytes and characters of the plain-scalar chunk at the front of `bytes`: up to
/// a blank, a break, the end, `:` followed by one of those (or by a flow indicator in a flow
/// collection), or in a flow collection a flow indicator. What `StrInput` answers.
pub fn plain_chunk_len(bytes: &[u8], flow: bool) -> (usize, usize) {
    let mut i = 0;
    let mut chars = 0;
    while i < bytes.len() {
        if let Some(w) = bytes.get(i..i + 8) {
            let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            if word_is_plain(w, flow) {
                i += 8;
                chars += 8;
                continue;
            }
        }
        let b = bytes[i];
        if b < 0x80 {
            if ends_plain(b, flow) {
                break;
            }
            if b == b':' {
                let next = bytes.get(i + 1).copied().unwrap_or(0);
                if next < 0x80 && ends_plain(next, flow) {
                    break;
                }
            }
            i += 1;
        } else {
            // A UTF-8 lead byte: skip its continuation bytes (a `&str` is valid UTF-8).
            i += 1;
            while i < bytes.len() && bytes[i] & 0xC0 == 0x80 {
                i += 1;
            }
        }
        chars += 1;
    }
    (i, chars)
}

impl<'a> BorrowedInput<'a> for FastStr<'a> {
    #[inline]
    fn slice_borrowed(&self, start: usize, end: usize) -> Option<&'a str> {
        self.src.get(start..end)
    }
}

impl Input for FastStr<'_> {
    #[inline]
    fn lookahead(&mut self, count: usize) {
        self.inner.lookahead(count);
    }
    #[inline]
    fn buflen(&self) -> usize {
        self.inner.buflen()
    }
    #[inline]
    fn bufmaxlen(&self) -> usize {
        self.inner.bufmaxlen()
    }
    #[inline]
    fn raw_read_ch(&mut self) -> char {
        self.inner.raw_read_ch()
    }
    #[inline]
    fn raw_read_non_breakz_ch(&mut self) -> Option<char> {
        self.inner.raw_read_non_breakz_ch()
    }
    #[inline]
    fn skip(&mut self) {
        self.inner.skip();
    }
    #[inline]
    fn skip_n(&mut self, count: usize) {
        self.inner.skip_n(count);
    }
    #[inline]
    fn peek(&self) -> char {
        self.inner.peek()
    }
    #[inline]
    fn peek_nth(&self, n: usize) -> char {
        self.inner.peek_nth(n)
    }
    #[inline]
    fn byte_offset(&self) -> Option<usize> {
        Some(self.pos())
    }
    #[inline]
    fn slice_bytes(&self, start: usize, end: usize) -> Option<&str> {
        self.src.get(start..end)
    }
    #[inline]
    fn may_contain_comments(&self) -> bool {
        self.src.as_bytes().contains(&b'#')
    }
    #[inline]
    fn next_2_are(&self, c1: char, c2: char) -> bool {
        self.inner.next_2_are(c1, c2)
    }
    #[inline]
    fn next_3_are(&self, c1: char, c2: char, c3: char) -> bool {
        self.inner.next_3_are(c1, c2, c3)
    }
    #[inline]
    fn next_is_document_indicator(&self) -> bool {
        self.inner.next_is_document_indicator()
    }
    #[inline]
    fn next_is_document_start(&self) -> bool {
        self.inner.next_is_document_start()
    }
    #[inline]
    fn next_is_document_end(&self) -> bool {
        self.inner.next_is_document_end()
    }
    #[inline]
    fn skip_ws_to_eol(
        &mut self,
        skip_tabs: SkipTabs,
    ) -> (usize, Result<WhitespaceResult, ErrorKind>) {
        self.inner.skip_ws_to_eol(skip_tabs)
    }
    #[inline]
    fn skip_ws_to_eol_blanks(&mut self, skip_tabs: SkipTabs) -> (usize, WhitespaceResult) {
        self.inner.skip_ws_to_eol_blanks(skip_tabs)
    }
    #[inline]
    fn next_is_blank_or_break(&self) -> bool {
        self.inner.next_is_blank_or_break()
    }
    #[inline]
    fn next_is_blank_or_breakz(&self) -> bool {
        self.inner.next_is_blank_or_breakz()
    }
    #[inline]
    fn next_is_blank(&self) -> bool {
        self.inner.next_is_blank()
    }
    #[inline]
    fn next_is_break(&self) -> bool {
        self.inner.next_is_break()
    }
    #[inline]
    fn next_is_breakz(&self) -> bool {
        self.inner.next_is_breakz()
    }
    #[inline]
    fn next_is_z(&self) -> bool {
        self.inner.next_is_z()
    }
    #[inline]
    fn next_is_flow(&self) -> bool {
        self.inner.next_is_flow()
    }
    #[inline]
    fn next_is_digit(&self) -> bool {
        self.inner.next_is_digit()
    }
    #[inline]
    fn next_is_alpha(&self) -> bool {
        self.inner.next_is_alpha()
    }
    #[inline]
    fn skip_while_non_breakz(&mut self) -> usize {
        self.inner.skip_while_non_breakz()
    }
    #[inline]
    fn skip_while_blank(&mut self) -> usize {
        self.inner.skip_while_blank()
    }
    #[inline]
    fn fetch_while_is_alpha(&mut self, out: &mut String) -> usize {
        self.inner.fetch_while_is_alpha(out)
    }
    #[inline]
    fn fetch_while_is_yaml_non_space(&mut self, out: &mut String) -> usize {
        self.inner.fetch_while_is_yaml_non_space(out)
    }
    #[inline]
    fn fetch_block_scalar_line(&mut self, out: &mut String) -> usize {
        self.inner.fetch_block_scalar_line(out)
    }
    #[inline]
    fn take_quoted_scalar_ascii_chunk(&mut self, single: bool) -> &str {
        self.inner.take_quoted_scalar_ascii_chunk(single)
    }
    #[inline]
    fn take_quoted_scalar_chunk(&mut self, single: bool) -> (&str, usize) {
        self.inner.take_quoted_scalar_chunk(single)
    }
    fn fetch_plain_scalar_chunk(
        &mut self,
        out: &mut String,
        _count: usize,
        flow: bool,
    ) -> (bool, usize) {
        let (text, chars) = self.take_plain(flow);
        out.push_str(text);
        (true, chars)
    }
    fn skip_plain_scalar_chunk(&mut self, _count: usize, flow: bool) -> (bool, usize) {
        (true, self.take_plain(flow).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use granit_parser::Parser;

    /// Every event and span of `src`, through `StrInput` and through `FastStr`.
    fn both(src: &str) -> (Vec<String>, Vec<String>) {
        let events = |it: &mut dyn Iterator<Item = Result<_, granit_parser::ScanError>>| {
            it.map(
                |r: Result<(granit_parser::Event, granit_parser::Span), _>| match r {
                    Ok((e, s)) => format!("{e:?} {:?} {:?}", s.byte_range(), s),
                    Err(e) => format!("error {e:?}"),
                },
            )
            .collect::<Vec<_>>()
        };
        let slow = events(&mut Parser::new_from_str(src));
        let fast = events(&mut Parser::new(FastStr::new(src)));
        (slow, fast)
    }

    fn assert_same(src: &str) {
        let (slow, fast) = both(src);
        assert_eq!(slow, fast, "input: {src:?}");
    }

    /// The corpus of the repository's fixtures parses to the same events and spans.
    #[test]
    fn same_events_as_str_input_on_the_fixtures() {
        let mut n = 0;
        let mut dirs = vec![std::path::PathBuf::from("tests/fixtures")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if let Ok(text) = std::fs::read_to_string(&p) {
                    assert_same(&text);
                    n += 1;
                }
            }
        }
        assert!(n > 50, "only {n} fixtures");
    }

    /// Plain scalars at every boundary the scan knows: `:` before a blank, a flow indicator,
    /// the end or a non-ASCII character, multi-byte characters across word boundaries, NUL,
    /// tabs and CRs, and flow collections, at every offset inside an 8-byte word.
    #[test]
    fn same_events_as_str_input_at_scan_boundaries() {
        let pieces = [
            "a", "abcdefgh", "é", "日本", "😀", ":", ": ", ":x", ":é", ",", "[", "]", "{", "}",
            "#", " #c", "\t", "\r\n", "\n", "\0", "-", "?", "'q'", "\"d\"", "!t", "&a", "*a",
        ];
        for pad in 0..9 {
            for a in pieces {
                for b in pieces {
                    let word = format!("{}{a}{}{b}z", "x".repeat(pad), "y".repeat(pad % 3));
                    assert_same(&format!("k: {word}\n"));
                    assert_same(&format!("- {word}"));
                    assert_same(&format!("{{k: {word}}}\n"));
                    assert_same(&format!("[{word}, {word}]\n"));
                    assert_same(&format!("k: {word}\n  {word}\n"));
                }
            }
        }
    }

    /// The scan against a byte-at-a-time reading of the same rule, on every short mix.
    #[test]
    fn plain_chunk_len_matches_the_byte_rule() {
        fn slow(s: &str, flow: bool) -> (usize, usize) {
            let b = s.as_bytes();
            let mut chars = 0;
            for (i, c) in s.char_indices() {
                let stop = c.is_ascii() && ends_plain(c as u8, flow)
                    || c == ':'
                        && b.get(i + 1)
                            .is_none_or(|&n| n < 0x80 && ends_plain(n, flow));
                if stop {
                    return (i, chars);
                }
                chars += 1;
            }
            (s.len(), chars)
        }
        let alphabet = ["a", ":", " ", ",", "é", "\n", "[", "😀", "}"];
        let mut s = String::new();
        for n in 0..6000u32 {
            s.clear();
            let mut k = n;
            for _ in 0..12 {
                s.push_str(alphabet[(k % 9) as usize]);
                k = k / 9 + (n % 7);
            }
            for flow in [false, true] {
                for start in 0..s.len() {
                    if s.is_char_boundary(start) {
                        let t = &s[start..];
                        assert_eq!(plain_chunk_len(t.as_bytes(), flow), slow(t, flow), "{t:?}");
                    }
                }
            }
        }
    }
}
