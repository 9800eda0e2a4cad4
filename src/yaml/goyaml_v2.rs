//! go-yaml v2's emitter, as far as kubectl's printer uses it (`kubectl create secret ...
//! --dry-run=client -o yaml`): the order of mapping keys and how a string scalar is written
//! (plain, single- or double-quoted, folded at the line width). Whether plain text would read
//! back as another type uses the Go number and time parsers of [`super::scalar`].

use super::scalar::{
    go_parse_float, go_parse_int, go_parse_uint, is_base60, is_yaml_style_float, is_yaml_timestamp,
};

/// Sorts mapping entries into go-yaml v2's key order, as its encoder does before writing a map.
pub fn sort_keys<'k, T>(entries: &mut [T], key: impl Fn(&T) -> &'k str) {
    insertion_sort(entries, |a, b| key_less(key(a), key(b)));
}

/// Go's `sort.Sort` on up to 12 elements (an insertion sort); also safe with a comparison
/// that is not a strict order, which go-yaml's key order is not always.
fn insertion_sort<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// go-yaml v2's map key order (`keyList.Less`): letters by code point and after other
/// characters, runs of digits by their number.
fn key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let digit = |c: char| c.is_ascii_digit();
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && digit(ar[j - 1]) {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && digit(ar[ai]) {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && digit(br[bi]) {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// The emitter's line width: plain and quoted scalars fold at a space past this column.
const BEST_WIDTH: usize = 80;

/// A string scalar as go-yaml v2 (kubectl's printer) writes it at column `col`, continuation
/// lines indented by `indent`: plain when it reads back as the same string, else
/// single-quoted, double-quoted when it would read as another type. `None` for text that needs
/// escapes or a block (line breaks, control characters), which no Secret name or key holds.
pub fn scalar(s: &str, col: usize, indent: usize, allow_breaks: bool) -> Option<String> {
    if s.chars()
        .any(|c| !v2_printable(c) || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return None;
    }
    let mut out = String::with_capacity(s.len() + 2);
    let mut column = col;
    let chars: Vec<char> = s.chars().collect();
    let last = chars.len().saturating_sub(1);
    let mut spaces = false;
    let quote = if !v2_is_str(s) {
        Some('"')
    } else if !v2_block_plain_allowed(s) {
        Some('\'')
    } else {
        None
    };
    if let Some(q) = quote {
        out.push(q);
        column += 1;
    }
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let next_space = chars.get(i + 1) == Some(&' ');
            let inside = quote.is_none() || (i != 0 && i != last);
            if allow_breaks && !spaces && column > BEST_WIDTH && inside && !next_space {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                column = indent;
            } else {
                out.push(' ');
                column += 1;
            }
            spaces = true;
            continue;
        }
        match (quote, c) {
            (Some('\''), '\'') => {
                out.push_str("''");
                column += 2;
            }
            (Some('"'), '"' | '\\') => {
                out.push('\\');
                out.push(c);
                column += 2;
            }
            _ => {
                out.push(c);
                column += 1;
            }
        }
        spaces = false;
    }
    if let Some(q) = quote {
        out.push(q);
    }
    Some(out)
}

/// libyaml's `is_printable` (tab, line breaks and characters above U+FFFF are not).
fn v2_printable(c: char) -> bool {
    matches!(c as u32, 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{feff}'
}

/// Whether the emitter allows `s` as a plain scalar in block context (`yaml_emitter_analyze_scalar`).
fn v2_block_plain_allowed(s: &str) -> bool {
    let b: Vec<char> = s.chars().collect();
    if b.is_empty() {
        return true;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if b[0] == ' ' || b[b.len() - 1] == ' ' {
        return false;
    }
    let blank = |i: usize| i >= b.len() || b[i] == ' ' || b[i] == '\t';
    let mut preceded_by_ws = true;
    for i in 0..b.len() {
        let followed_by_ws = blank(i + 1);
        if i == 0 {
            match b[0] {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => return false,
                '?' | ':' | '-' if followed_by_ws => return false,
                _ => {}
            }
        } else {
            match b[i] {
                ':' if followed_by_ws => return false,
                '#' if preceded_by_ws => return false,
                _ => {}
            }
        }
        preceded_by_ws = b[i] == ' ' || b[i] == '\t';
    }
    true
}

/// Whether go-yaml v2 reads the plain text `s` back as a string (`resolve` gives `!!str` and
/// it is not a YAML 1.1 base 60 float, which the encoder quotes too).
fn v2_is_str(s: &str) -> bool {
    const SPECIAL: [&str; 39] = [
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
        "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    if is_base60(s) || SPECIAL.contains(&s) {
        return false;
    }
    match s.as_bytes().first() {
        // The raw text, underscores included, goes to ParseFloat here.
        Some(b'.') => go_parse_float(s).is_none(),
        Some(b'+' | b'-' | b'0'..=b'9') => !v2_number(s),
        _ => true,
    }
}

/// v2's `resolve` for text starting with a sign or a digit: a timestamp, an integer (base
/// prefixes, underscores dropped), a float, or v2's own binary fallbacks. Unlike v3, v2 has
/// no `0o` fallback.
fn v2_number(s: &str) -> bool {
    if is_yaml_timestamp(s) {
        return true;
    }
    let plain = s.replace('_', "");
    if go_parse_int(&plain, 0).is_some() || go_parse_uint(&plain, 0).is_some() {
        return true;
    }
    if is_yaml_style_float(plain.as_bytes()) && go_parse_float(&plain).is_some() {
        return true;
    }
    if let Some(rest) = plain.strip_prefix("0b") {
        go_parse_int(rest, 2).is_some() || go_parse_uint(rest, 2).is_some()
    } else if let Some(rest) = plain.strip_prefix("-0b") {
        go_parse_int(&format!("-{rest}"), 2).is_some()
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_yaml_quoting() {
        for (s, want) in [
            ("abc", "abc"),
            ("true", "\"true\""),
            ("1", "\"1\""),
            ("-", "'-'"),
            ("1.5", "\"1.5\""),
            (".inf", "\".inf\""),
            ("y", "\"y\""),
            ("0o17", "\"0o17\""),
            ("1e3", "\"1e3\""),
            ("1e999", "1e999"),
            ("-a", "-a"),
            ("a.", "a."),
            ("0x1F", "\"0x1F\""),
            ("1_0", "\"1_0\""),
            ("09", "\"09\""),
            ("2001-12-14", "\"2001-12-14\""),
            ("2001-02-30", "2001-02-30"),
            ("0.1.2", "0.1.2"),
            ("x: y", "'x: y'"),
            ("#x", "'#x'"),
            ("a'b", "a'b"),
            ("'q'", "'''q'''"),
            (" lead", "' lead'"),
            (".5_0", "\".5_0\""),
            ("._5", "._5"),
            ("", "\"\""),
            // Go's time.Parse takes a run of spaces for the layout's one space.
            ("2001-12-14  21:59:43", "\"2001-12-14  21:59:43\""),
            ("2001-12-14 21:59:43.5", "\"2001-12-14 21:59:43.5\""),
            ("2001-12-14t21:59:43+24:00", "\"2001-12-14t21:59:43+24:00\""),
            ("2001-12-14T21:59:43+25:00", "2001-12-14T21:59:43+25:00"),
            // v2's `-0b` fallback parses "-" + the rest, which has a sign of its own here.
            ("-0b101", "\"-0b101\""),
            ("-0b-1", "-0b-1"),
            ("0b-1", "\"0b-1\""),
            // No `0o` fallback in v2 (v3 reads `0o-7` as -7).
            ("0o-7", "0o-7"),
            ("1:20", "\"1:20\""),
            ("18446744073709551615", "\"18446744073709551615\""),
        ] {
            assert_eq!(scalar(s, 2, 2, false).unwrap(), want, "{s}");
        }
        assert!(scalar("a\nb", 2, 2, true).is_none());
        assert!(scalar("a\tb", 2, 2, true).is_none());
    }

    #[test]
    fn long_plain_text_folds_like_kubectl() {
        let name = "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p q r";
        assert_eq!(
            scalar(name, 8, 4, true).unwrap(),
            "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k\n    l m n o p q r"
        );
    }

    /// kubectl's order (this set is consistent: with keys such as a1b, a9 and a10 together
    /// go-yaml's comparison has cycles and kubectl's own output changes from run to run).
    #[test]
    fn key_order_is_go_yamls() {
        let mut keys = vec![
            "a10", "a9", "a_1", "a-1", "a.1", "A", "a", "1", "10", "9", "_", "-x", "b0", "a01",
            "a1", "a001", "Z", "a1_", "x9y", "x10y", "09", "9a", "_a", ".a", "1.5", "1.10", "aB",
            "ab", "a0", "a00", "z-9", "z-10", "zz",
        ];
        sort_keys(&mut keys, |k| *k);
        assert_eq!(
            keys.join(" "),
            "-x .a _ _a 1 1.5 1.10 9 9a 09 10 A Z a a-1 a.1 a_1 a0 a00 a1 a1_ a01 a001 a9 a10 aB ab b0 x9y x10y z-9 z-10 zz"
        );
    }
}
