//! Scalar typing exactly as go-yaml v3 (and therefore sops) sees it, the bytes sops encrypts and
//! hashes for each typed value, and the quoting helpers used to write decrypted values back.
//!
//! sops computes its MAC over the *typed* values go-yaml v3 produces, so an unquoted `0777` must
//! hash as `511`, `1.50` as `1.5` and `2024-1-2` as `2024-01-02T00:00:00Z`. Every rule here
//! mirrors go-yaml v3's `resolve.go`/`decode.go` and Go's `strconv`/`time` parsers; where a
//! detail looks odd, it is because Go does it that way.

use std::borrow::Cow;
use std::fmt;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// How a scalar was written in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// A scalar as go-yaml v3 decodes it into interface{} (as sops sees it).
// No derived Debug: values may be secret, so Debug prints only the variant name.
#[derive(Clone, PartialEq)]
pub enum Typed {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A timestamp, kept as Go's RFC3339Nano text of the parsed time (e.g. "2024-01-01T00:00:00Z").
    Time(String),
    Str(String),
    /// `!!binary` scalars decode to raw bytes (sops treats them as strings of those bytes).
    Binary(Vec<u8>),
}

/// Typed values carry decrypted plaintext: wipe it when they go.
impl Drop for Typed {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        match self {
            Typed::Str(v) | Typed::Time(v) => v.zeroize(),
            Typed::Binary(b) => b.zeroize(),
            _ => {}
        }
    }
}

impl fmt::Debug for Typed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Typed::Null => "Null",
            Typed::Bool(_) => "Bool(..)",
            Typed::Int(_) => "Int(..)",
            Typed::Float(_) => "Float(..)",
            Typed::Time(_) => "Time(..)",
            Typed::Str(_) => "Str(..)",
            Typed::Binary(_) => "Binary(..)",
        })
    }
}

/// Why a scalar cannot be typed the way sops needs. Messages never include the scalar's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeError {
    /// A plain integer that only fits in u64 (go-yaml yields uint64; sops fails "unknown type uint64").
    Uint64Overflow,
    /// A `!!binary` scalar whose content is not valid base64.
    BadBinary,
    /// An explicit core tag (e.g. !!int, !!bool, !!float, !!null, !!timestamp) whose text does not resolve to that type.
    TagMismatch(&'static str),
    /// A timestamp whose zone offset is 24 hours or more once normalised (e.g. `+24:00`):
    /// go-yaml accepts it, but sops cannot turn it into bytes (Go's `Time.MarshalText` refuses),
    /// so sops fails on such a file.
    UnencodableTime,
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeError::Uint64Overflow => f.write_str(
                "integer does not fit in a signed 64-bit integer (sops: unknown type uint64)",
            ),
            TypeError::BadBinary => f.write_str("!!binary value contains invalid base64 data"),
            TypeError::TagMismatch(tag) => {
                write!(f, "scalar cannot be decoded as its explicit !!{tag} tag")
            }
            TypeError::UnencodableTime => f.write_str(
                "timestamp has a time zone offset of 24 hours or more, which sops cannot encode",
            ),
        }
    }
}

impl std::error::Error for TypeError {}

/// Why decrypted bytes cannot be converted to the type named in the `ENC[...]` value.
/// Messages never include the plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromSopsError {
    /// The type word is not one sops knows (`comment` is handled by callers, not here).
    UnknownType(String),
    /// Text for a non-string type is not valid UTF-8.
    InvalidUtf8,
    BadInt,
    BadFloat,
    BadBool,
    BadTime,
}

impl fmt::Display for FromSopsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FromSopsError::UnknownType(t) => {
                // The type word is metadata, not the secret; still bound it for log hygiene.
                let shown: String = t.chars().take(32).collect();
                write!(f, "unknown sops value type {shown:?}")
            }
            FromSopsError::InvalidUtf8 => f.write_str("decrypted value is not valid UTF-8"),
            FromSopsError::BadInt => f.write_str("decrypted value of type int is not an integer"),
            FromSopsError::BadFloat => f.write_str("decrypted value of type float is not a number"),
            FromSopsError::BadBool => f.write_str("decrypted value of type bool is not a boolean"),
            FromSopsError::BadTime => {
                f.write_str("decrypted value of type time is not an RFC 3339 timestamp")
            }
        }
    }
}

impl std::error::Error for FromSopsError {}

impl Typed {
    /// The sops `type:` word: "str" (also for Binary), "int", "float", "bool", "time"; Null -> "null" (never encrypted).
    pub fn sops_type(&self) -> &'static str {
        match self {
            Typed::Null => "null",
            Typed::Bool(_) => "bool",
            Typed::Int(_) => "int",
            Typed::Float(_) => "float",
            Typed::Time(_) => "time",
            // go-yaml hands sops a Go string holding the decoded bytes, so sops calls it "str".
            Typed::Str(_) | Typed::Binary(_) => "str",
        }
    }

    /// The bytes sops encrypts and feeds to the MAC for this value (spec 1.1 / 5.1 "ToBytes"):
    /// str -> bytes; int -> decimal; float -> format_float; bool -> "True"/"False"; time -> its RFC3339Nano text; binary -> raw bytes; Null -> empty.
    pub fn to_sops_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Typed::Null => Cow::Borrowed(&[]),
            // Title case is inherited from the original Python sops.
            Typed::Bool(true) => Cow::Borrowed(b"True"),
            Typed::Bool(false) => Cow::Borrowed(b"False"),
            Typed::Int(i) => Cow::Owned(i.to_string().into_bytes()),
            Typed::Float(f) => Cow::Owned(format_float(*f).into_bytes()),
            Typed::Time(t) => Cow::Borrowed(t.as_bytes()),
            Typed::Str(s) => Cow::Borrowed(s.as_bytes()),
            Typed::Binary(b) => Cow::Borrowed(b.as_slice()),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Resolution

const CORE_PREFIX: &str = "tag:yaml.org,2002:";

/// What go-yaml's resolver can return before decode.go turns it into a Go value. `Uint` is
/// kept apart because an explicit `!!int` accepts it while `!!float` does not.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Uint,
    Float(f64),
    Time(GoTime),
    Str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CoreTag {
    Null,
    Bool,
    Int,
    Float,
    Timestamp,
}

impl CoreTag {
    fn name(self) -> &'static str {
        match self {
            CoreTag::Null => "null",
            CoreTag::Bool => "bool",
            CoreTag::Int => "int",
            CoreTag::Float => "float",
            CoreTag::Timestamp => "timestamp",
        }
    }
}

enum TagKind {
    /// No tag, or the non-specific `!`: go-yaml resolves by style, as if untagged.
    Untagged,
    Str,
    Binary,
    Core(CoreTag),
    /// Local tags and core tags go-yaml cannot resolve on a scalar (`!!map`, `!!merge`, ...).
    Other,
}

fn classify_tag(tag: Option<&str>) -> TagKind {
    let tag = match tag {
        None | Some("") | Some("!") => return TagKind::Untagged,
        Some(t) => t,
    };
    // Accept the short `!!x` spelling too, in case a caller passes an unexpanded handle.
    let suffix = match tag.strip_prefix(CORE_PREFIX) {
        Some(s) => s,
        None => match tag.strip_prefix("!!") {
            Some(s) => s,
            None => return TagKind::Other,
        },
    };
    match suffix {
        "str" => TagKind::Str,
        "binary" => TagKind::Binary,
        "null" => TagKind::Core(CoreTag::Null),
        "bool" => TagKind::Core(CoreTag::Bool),
        "int" => TagKind::Core(CoreTag::Int),
        "float" => TagKind::Core(CoreTag::Float),
        "timestamp" => TagKind::Core(CoreTag::Timestamp),
        _ => TagKind::Other,
    }
}

/// Resolves a scalar. `value` is the scalar's content after YAML escape processing/folding
/// (what the parser reports). `tag` is the full resolved tag if one was written: core tags arrive as
/// "tag:yaml.org,2002:str", "tag:yaml.org,2002:binary", "tag:yaml.org,2002:int", etc.; local tags like "!foo" arrive as "!foo".
///
/// Tags other than the core scalar ones (a local `!foo`, or `!!map`/`!!merge` on a scalar)
/// yield `Str` whatever the style: go-yaml's resolver leaves such scalars untouched and
/// decodes them into a Go string, so that is what sops hashes. The non-specific tag `!`
/// behaves like no tag.
pub fn resolve(value: &str, style: Style, tag: Option<&str>) -> Result<Typed, TypeError> {
    match classify_tag(tag) {
        TagKind::Untagged => {
            if style == Style::Plain {
                raw_to_typed(resolve_raw(value, true), value)
            } else {
                Ok(Typed::Str(value.to_owned()))
            }
        }
        TagKind::Str | TagKind::Other => Ok(Typed::Str(value.to_owned())),
        TagKind::Binary => decode_binary(value).map(Typed::Binary),
        // With an explicit core tag go-yaml resolves the text whatever its quoting style.
        TagKind::Core(want) => {
            let raw = resolve_raw(value, want == CoreTag::Timestamp);
            let ok = match (&raw, want) {
                (Raw::Null, CoreTag::Null)
                | (Raw::Bool(_), CoreTag::Bool)
                | (Raw::Int(_) | Raw::Uint, CoreTag::Int)
                | (Raw::Float(_), CoreTag::Float)
                | (Raw::Time(_), CoreTag::Timestamp) => true,
                (Raw::Int(i), CoreTag::Float) => {
                    // go-yaml converts an int under !!float to float64.
                    return Ok(Typed::Float(*i as f64));
                }
                _ => false,
            };
            if ok {
                raw_to_typed(raw, value)
            } else {
                Err(TypeError::TagMismatch(want.name()))
            }
        }
    }
}

fn raw_to_typed(raw: Raw, value: &str) -> Result<Typed, TypeError> {
    Ok(match raw {
        Raw::Null => Typed::Null,
        Raw::Bool(b) => Typed::Bool(b),
        Raw::Int(i) => Typed::Int(i),
        Raw::Uint => return Err(TypeError::Uint64Overflow),
        Raw::Float(f) => Typed::Float(f),
        Raw::Time(t) => Typed::Time(t.format_rfc3339nano()?),
        Raw::Str => Typed::Str(value.to_owned()),
    })
}

/// go-yaml v3 `resolve("", in)` for a plain scalar (or one with a core tag).
fn resolve_raw(s: &str, try_timestamp: bool) -> Raw {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Raw::Null,
        "true" | "True" | "TRUE" => return Raw::Bool(true),
        "false" | "False" | "FALSE" => return Raw::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Raw::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Raw::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Raw::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = match s.as_bytes().first() {
        Some(c) => *c,
        None => return Raw::Null,
    };
    match first {
        // go-yaml hands the raw text (underscores included) to ParseFloat here.
        b'.' => match go_parse_float(s) {
            Some(f) => Raw::Float(f),
            None => Raw::Str,
        },
        b'0'..=b'9' | b'+' | b'-' => resolve_number(s, try_timestamp),
        // Other first characters (including the y/n/o/t/f family, `<<`) are strings.
        _ => Raw::Str,
    }
}

fn resolve_number(s: &str, try_timestamp: bool) -> Raw {
    if try_timestamp {
        if let Some(t) = parse_yaml_timestamp(s.as_bytes()) {
            return Raw::Time(t);
        }
    }
    let plain = s.replace('_', "");
    if let Some(i) = go_parse_int(&plain, 0) {
        return Raw::Int(i);
    }
    if go_parse_uint(&plain, 0).is_some() {
        return Raw::Uint;
    }
    if is_yaml_style_float(plain.as_bytes()) {
        if let Some(f) = go_parse_float(&plain) {
            return Raw::Float(f);
        }
    }
    // go-yaml's own binary/octal fallbacks: they only matter when the digits after the prefix
    // carry a sign (e.g. `0b-101` is -5), since ParseInt base 0 already took the plain forms.
    if let Some(rest) = plain.strip_prefix("0b") {
        if let Some(i) = go_parse_int(rest, 2) {
            return Raw::Int(i);
        }
        if go_parse_uint(rest, 2).is_some() {
            return Raw::Uint;
        }
    } else if let Some(rest) = plain.strip_prefix("-0b") {
        if let Some(i) = go_parse_int(&format!("-{rest}"), 2) {
            return Raw::Int(i);
        }
    }
    if let Some(rest) = plain.strip_prefix("0o") {
        if let Some(i) = go_parse_int(rest, 8) {
            return Raw::Int(i);
        }
        if go_parse_uint(rest, 8).is_some() {
            return Raw::Uint;
        }
    } else if let Some(rest) = plain.strip_prefix("-0o") {
        if let Some(i) = go_parse_int(&format!("-{rest}"), 8) {
            return Raw::Int(i);
        }
    }
    Raw::Str
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$` (go-yaml's yamlStyleFloat).
pub(crate) fn is_yaml_style_float(b: &[u8]) -> bool {
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let digits = |mut i: usize| {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i, i - start)
    };
    if b.get(i) == Some(&b'.') {
        let (j, n) = digits(i + 1);
        if n == 0 {
            return false;
        }
        i = j;
    } else {
        let (j, n) = digits(i);
        if n == 0 {
            return false;
        }
        i = j;
        if b.get(i) == Some(&b'.') {
            i = digits(i + 1).0;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let (j, n) = digits(i);
        if n == 0 {
            return false;
        }
        i = j;
    }
    i == b.len()
}

// ------------------------------------------------------------------------------------------
// Go strconv

/// Go `strconv.ParseUint(s, base, 64)` for base 0 (prefix detection) or an explicit base.
/// Underscores are rejected: every caller has already removed them, as go-yaml does.
pub(crate) fn go_parse_uint(s: &str, base: u32) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (digits, base) = if base == 0 {
        if b[0] == b'0' {
            match b.get(1).map(u8::to_ascii_lowercase) {
                Some(b'b') if b.len() >= 3 => (&b[2..], 2),
                Some(b'o') if b.len() >= 3 => (&b[2..], 8),
                Some(b'x') if b.len() >= 3 => (&b[2..], 16),
                // A leading 0 means octal; the lone "0" leaves no digits and is zero.
                _ => (&b[1..], 8),
            }
        } else {
            (b, 10)
        }
    } else {
        (b, base)
    };
    let mut n: u64 = 0;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'a'..=b'z' => u32::from(c - b'a') + 10,
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return None,
        };
        if d >= base {
            return None;
        }
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Go `strconv.ParseInt(s, base, 64)`: an optional sign, then ParseUint, then a range check.
pub(crate) fn go_parse_int(s: &str, base: u32) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let un = go_parse_uint(rest, base)?;
    if neg {
        if un > 1u64 << 63 {
            return None;
        }
        Some((un as i64).wrapping_neg())
    } else {
        i64::try_from(un).ok()
    }
}

/// Go `strconv.ParseFloat(s, 64)` for decimal text: optional sign, `inf`/`infinity`/`nan`
/// (any case; no sign on nan), digits with an optional point and exponent, underscores only
/// between digits. Overflow is an error (Go's ErrRange); underflow is not.
/// Hexadecimal floats (`0x1p-2`) are not supported: sops never writes them and go-yaml never
/// passes them here.
pub(crate) fn go_parse_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let (neg, body) = match b.first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if body.len() == s.len() && body.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    let bb = body.as_bytes();
    let mut i = 0;
    let mut saw_digits = false;
    let mut saw_dot = false;
    let mut underscores = false;
    while let Some(&c) = bb.get(i) {
        match c {
            b'_' => underscores = true,
            b'.' if !saw_dot => saw_dot = true,
            b'0'..=b'9' => saw_digits = true,
            _ => break,
        }
        i += 1;
    }
    if !saw_digits {
        return None;
    }
    if matches!(bb.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bb.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !bb.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        while let Some(&c) = bb.get(i) {
            match c {
                b'_' => underscores = true,
                b'0'..=b'9' => {}
                _ => break,
            }
            i += 1;
        }
    }
    if i != bb.len() || (underscores && !go_underscore_ok(b)) {
        return None;
    }
    let cleaned: String = s.chars().filter(|&c| c != '_').collect();
    let f: f64 = cleaned.parse().ok()?;
    if f.is_infinite() {
        return None;
    }
    Some(f)
}

/// Go's `underscoreOK`: underscores may only sit between digits (or after a base prefix).
fn go_underscore_ok(s: &[u8]) -> bool {
    // 'saw' is the class of the previous character: ^ start, 0 digit, _ underscore, ! other.
    let mut saw = b'^';
    let mut s = s;
    if matches!(s.first(), Some(b'+' | b'-')) {
        s = &s[1..];
    }
    let mut hex = false;
    let mut i = 0;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    while let Some(&c) = s.get(i) {
        i += 1;
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

/// Go's strconv.FormatFloat(f, 'f', -1, 64): shortest round-trip digits, positional, never an exponent;
/// +Inf -> "+Inf", -Inf -> "-Inf", NaN -> "NaN", -0.0 -> "-0". (Rust's `{}` Display of f64 is already shortest
/// round-trip positional; the tests pin that claim.)
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f == f64::INFINITY {
        "+Inf".to_owned()
    } else if f == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{f}")
    }
}

// ------------------------------------------------------------------------------------------
// Go time.Parse, reduced to the layouts go-yaml and sops use

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GoTime {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    nsec: u32,
    /// Seconds east of UTC; 0 for `Z` and for layouts without a zone (Go then uses UTC).
    offset: i32,
}

impl GoTime {
    /// Go's `Format(time.RFC3339Nano)` for this time in its own zone, refusing what
    /// `Time.MarshalText` (sops' ToBytes) refuses.
    fn format_rfc3339nano(&self) -> Result<String, TypeError> {
        let mut out = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.min, self.sec
        );
        if self.nsec != 0 {
            let frac = format!("{:09}", self.nsec);
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        if self.offset == 0 {
            out.push('Z');
        } else {
            let minutes = self.offset.unsigned_abs() / 60;
            if minutes / 60 >= 24 {
                return Err(TypeError::UnencodableTime);
            }
            out.push(if self.offset < 0 { '-' } else { '+' });
            out.push_str(&format!("{:02}:{:02}", minutes / 60, minutes % 60));
        }
        Ok(out)
    }
}

/// One element of a Go time layout. `fixed` means the layout used the zero-padded form
/// (`01`), which demands exactly two digits; otherwise one or two are accepted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    Year,
    Month {
        fixed: bool,
    },
    Day {
        fixed: bool,
    },
    Hour,
    Minute {
        fixed: bool,
    },
    Second {
        fixed: bool,
    },
    /// `.999999999`: an optional fraction.
    Frac,
    Lit(u8),
    /// A layout space matches one or more spaces (Go's `skip`).
    Space,
    /// `Z07:00`: `Z` or `±hh:mm`.
    Zone,
}

const DATE_LOOSE: [Tok; 5] = [
    Tok::Year,
    Tok::Lit(b'-'),
    Tok::Month { fixed: false },
    Tok::Lit(b'-'),
    Tok::Day { fixed: false },
];

const fn clock_loose(sep: Tok) -> [Tok; 7] {
    [
        sep,
        Tok::Hour,
        Tok::Lit(b':'),
        Tok::Minute { fixed: false },
        Tok::Lit(b':'),
        Tok::Second { fixed: false },
        Tok::Frac,
    ]
}

/// go-yaml's allowedTimestampFormats, in order.
fn yaml_layouts() -> [Vec<Tok>; 4] {
    let with = |sep: Tok, zone: bool| {
        let mut v = DATE_LOOSE.to_vec();
        v.extend_from_slice(&clock_loose(sep));
        if zone {
            v.push(Tok::Zone);
        }
        v
    };
    [
        with(Tok::Lit(b'T'), true),
        with(Tok::Lit(b't'), true),
        with(Tok::Space, false),
        DATE_LOOSE.to_vec(),
    ]
}

/// time.RFC3339 ("2006-01-02T15:04:05Z07:00"), as Time.UnmarshalText falls back to it.
const RFC3339: [Tok; 12] = [
    Tok::Year,
    Tok::Lit(b'-'),
    Tok::Month { fixed: true },
    Tok::Lit(b'-'),
    Tok::Day { fixed: true },
    Tok::Lit(b'T'),
    Tok::Hour,
    Tok::Lit(b':'),
    Tok::Minute { fixed: true },
    Tok::Lit(b':'),
    Tok::Second { fixed: true },
    Tok::Zone,
];

/// go-yaml's parseTimestamp: a quick `YYYY-` check, then each layout in turn.
fn parse_yaml_timestamp(s: &[u8]) -> Option<GoTime> {
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits != 4 || s.get(4) != Some(&b'-') {
        return None;
    }
    yaml_layouts()
        .iter()
        .find_map(|layout| go_time_parse(layout, s))
}

/// Whether go-yaml reads `s` as a timestamp (for the v2 emitter, which quotes such text).
pub(crate) fn is_yaml_timestamp(s: &str) -> bool {
    parse_yaml_timestamp(s.as_bytes()).is_some()
}

/// Go's getnum: one digit, or two when the second is a digit; `fixed` demands two.
fn getnum(v: &[u8], fixed: bool) -> Option<(u32, &[u8])> {
    let d0 = match v.first() {
        Some(c) if c.is_ascii_digit() => u32::from(c - b'0'),
        _ => return None,
    };
    match v.get(1) {
        Some(c) if c.is_ascii_digit() => Some((d0 * 10 + u32::from(c - b'0'), &v[2..])),
        _ if fixed => None,
        _ => Some((d0, &v[1..])),
    }
}

/// Consumes `[.,]digits` and returns nanoseconds (digits past the ninth are dropped, as Go does).
fn take_fraction(v: &[u8]) -> Option<(u32, &[u8])> {
    if v.len() < 2 || !matches!(v[0], b'.' | b',') || !v[1].is_ascii_digit() {
        return None;
    }
    let n = v[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut ns: u32 = 0;
    for i in 0..9 {
        let d = if i < n { u32::from(v[1 + i] - b'0') } else { 0 };
        ns = ns * 10 + d;
    }
    Some((ns, &v[1 + n..]))
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's time.Parse(layout, s) restricted to the elements in `Tok`.
fn go_time_parse(layout: &[Tok], s: &[u8]) -> Option<GoTime> {
    let mut t = GoTime {
        year: 0,
        month: 1,
        day: 1,
        hour: 0,
        min: 0,
        sec: 0,
        nsec: 0,
        offset: 0,
    };
    let mut v = s;
    for (idx, tok) in layout.iter().enumerate() {
        match *tok {
            Tok::Year => {
                let y = v.get(..4)?;
                if !y.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                t.year = y.iter().fold(0, |a, c| a * 10 + u32::from(c - b'0'));
                v = &v[4..];
            }
            Tok::Month { fixed } => {
                let (m, rest) = getnum(v, fixed)?;
                if !(1..=12).contains(&m) {
                    return None;
                }
                t.month = m;
                v = rest;
            }
            Tok::Day { fixed } => {
                // Checked against the calendar once the whole date is known.
                (t.day, v) = getnum(v, fixed)?;
            }
            Tok::Hour => {
                let (h, rest) = getnum(v, false)?;
                if h >= 24 {
                    return None;
                }
                t.hour = h;
                v = rest;
            }
            Tok::Minute { fixed } => {
                let (m, rest) = getnum(v, fixed)?;
                if m >= 60 {
                    return None;
                }
                t.min = m;
                v = rest;
            }
            Tok::Second { fixed } => {
                let (sec, rest) = getnum(v, fixed)?;
                if sec >= 60 {
                    return None;
                }
                t.sec = sec;
                v = rest;
                // Go reads a fraction after the seconds even when the layout has none.
                let layout_has_frac = layout[idx + 1..]
                    .iter()
                    .find(|t| !matches!(t, Tok::Lit(_) | Tok::Space))
                    == Some(&Tok::Frac);
                if !layout_has_frac {
                    if let Some((ns, rest)) = take_fraction(v) {
                        t.nsec = ns;
                        v = rest;
                    }
                }
            }
            Tok::Frac => {
                if let Some((ns, rest)) = take_fraction(v) {
                    t.nsec = ns;
                    v = rest;
                }
            }
            Tok::Lit(c) => {
                if v.first() != Some(&c) {
                    return None;
                }
                v = &v[1..];
            }
            Tok::Space => {
                if v.first().is_some_and(|c| *c != b' ') {
                    return None;
                }
                while v.first() == Some(&b' ') {
                    v = &v[1..];
                }
            }
            Tok::Zone => {
                if v.first() == Some(&b'Z') {
                    t.offset = 0;
                    v = &v[1..];
                } else {
                    if v.len() < 6 || v[3] != b':' {
                        return None;
                    }
                    let (hr, _) = getnum(&v[1..3], true)?;
                    let (mm, _) = getnum(&v[4..6], true)?;
                    // Go allows up to 24:60, as some people write such offsets.
                    if hr > 24 || mm > 60 {
                        return None;
                    }
                    // Bounded by the check above, so the cast cannot wrap.
                    let off = ((hr * 60 + mm) * 60) as i32;
                    t.offset = match v[0] {
                        b'+' => off,
                        b'-' => -off,
                        _ => return None,
                    };
                    v = &v[6..];
                }
            }
        }
    }
    if !v.is_empty() || t.day < 1 || t.day > days_in(t.month, t.year) {
        return None;
    }
    Some(t)
}

// ------------------------------------------------------------------------------------------
// !!binary

/// Go's base64.StdEncoding: padding required, non-zero trailing bits tolerated (not strict).
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// go-yaml decodes `!!binary` with Go's StdEncoding.DecodeString, which skips `\r` and `\n`
/// but nothing else: a space (e.g. from folding a multi-line plain scalar) is an error there.
fn decode_binary(value: &str) -> Result<Vec<u8>, TypeError> {
    let compact: Vec<u8> = value
        .bytes()
        .filter(|c| *c != b'\r' && *c != b'\n')
        .collect();
    GO_STD_BASE64
        .decode(compact)
        .map_err(|_| TypeError::BadBinary)
}

// ------------------------------------------------------------------------------------------
// Decrypt conversion

/// sops decrypt conversion (spec 1.1 "decrypt conversion"): plaintext bytes + type word -> Typed.
///
/// * "str" -> Str; bytes that are not UTF-8 give `Binary` (sops keeps them as a Go string and
///   hashes the raw bytes; they can only come from a `!!binary` value).
/// * "int" -> Go `strconv.Atoi`; "float" -> Go `ParseFloat` (decimal text, `Inf`, `NaN`, ...);
/// * "bool" -> Go `ParseBool` (1,t,T,TRUE,true,True / 0,f,F,FALSE,false,False);
/// * "time" -> Go `Time.UnmarshalText` (RFC 3339), kept in canonical RFC3339Nano form since that
///   is what sops hashes and re-encrypts;
/// * "bytes" -> Binary. "comment" is NOT handled here (callers handle comments); any other
///   type word is an error.
pub fn from_sops(plaintext: &[u8], ty: &str) -> Result<Typed, FromSopsError> {
    let text = || std::str::from_utf8(plaintext).map_err(|_| FromSopsError::InvalidUtf8);
    match ty {
        "str" => Ok(match String::from_utf8(plaintext.to_vec()) {
            Ok(s) => Typed::Str(s),
            Err(e) => Typed::Binary(e.into_bytes()),
        }),
        "int" => go_parse_int(text()?, 10)
            .map(Typed::Int)
            .ok_or(FromSopsError::BadInt),
        "float" => go_parse_float(text()?)
            .map(Typed::Float)
            .ok_or(FromSopsError::BadFloat),
        "bool" => match text()? {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(Typed::Bool(true)),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(Typed::Bool(false)),
            _ => Err(FromSopsError::BadBool),
        },
        "time" => go_time_parse(&RFC3339, text()?.as_bytes())
            .ok_or(FromSopsError::BadTime)?
            .format_rfc3339nano()
            .map(Typed::Time)
            .map_err(|_| FromSopsError::BadTime),
        "bytes" => Ok(Typed::Binary(plaintext.to_vec())),
        other => Err(FromSopsError::UnknownType(other.to_owned())),
    }
}

// ------------------------------------------------------------------------------------------
// Rendering helpers

/// Characters that may appear literally inside a one-line plain or single-quoted scalar:
/// YAML's printable set minus tab, line breaks (YAML 1.1 also breaks lines at NEL, LS and
/// PS) and the byte-order mark.
fn is_inline_printable(c: char) -> bool {
    matches!(c,
        '\u{20}'..='\u{7E}'
        | '\u{A0}'..='\u{2027}'
        | '\u{202A}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FEFE}'
        | '\u{FF00}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

fn is_yaml11_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// go-yaml's base60float: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
pub(crate) fn is_base60(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        match (b.get(i), b.get(i + 1)) {
            (Some(b'0'..=b'5'), Some(b'0'..=b'9')) => i += 2,
            (Some(b'0'..=b'9'), _) => i += 1,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// A YAML 1.1 reader (PyYAML-style) takes `YYYY-M-D` and `YYYY-M-D[Tt ]...` as timestamps even
/// where go-yaml v3 does not (e.g. `2001-12-14 21:59:43.10 -5`), so such text is quoted.
fn looks_like_yaml11_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let run = |min: usize, max: usize, i: &mut usize| {
        let n = b[*i..]
            .iter()
            .take(max)
            .take_while(|c| c.is_ascii_digit())
            .count();
        *i += n;
        n >= min
    };
    if !run(4, 4, &mut i) || b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    if !run(1, 2, &mut i) || b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    if !run(1, 2, &mut i) {
        return false;
    }
    matches!(b.get(i), None | Some(b'T' | b't' | b' ' | b'\t'))
}

/// The standard base64 alphabet and padding, as a table: checking megabytes of Secret data
/// byte by byte must be cheap.
/// Whether every byte is a base64 alphabet character (`A-Z a-z 0-9 + /`), or `=` too with
/// `padding`. Written as comparisons folded over fixed chunks so the compiler vectorizes it:
/// Secret values run to a megabyte, and a byte-at-a-time table walk was a visible share of
/// `kseal encrypt`.
pub fn all_base64_chars(b: &[u8], padding: bool) -> bool {
    #[inline(always)]
    fn ok(c: u8, padding: bool) -> bool {
        (c.wrapping_sub(b'A') < 26)
            | (c.wrapping_sub(b'a') < 26)
            | (c.wrapping_sub(b'0') < 10)
            | (c == b'+')
            | (c == b'/')
            | (padding & (c == b'='))
    }
    let mut chunks = b.chunks_exact(64);
    for chunk in &mut chunks {
        if !chunk.iter().fold(true, |acc, &c| acc & ok(c, padding)) {
            return false;
        }
    }
    chunks.remainder().iter().all(|&c| ok(c, padding))
}

fn plain_is_safe_in(s: &str, flow: bool) -> bool {
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    // Fast path for long base64 text (Secret data): it starts with a letter, holds no
    // indicator, space or ':' and is too long to be a keyword, so it is a plain string.
    if b.len() > 32 && first.is_ascii_alphabetic() && all_base64_chars(b, true) {
        return true;
    }
    if first == b' ' || b.last() == Some(&b' ') || !s.chars().all(is_inline_printable) {
        return false;
    }
    // Tabs and breaks are already excluded, so "followed by a non-space" is just this.
    let next_is_non_space = b.get(1).is_some_and(|c| *c != b' ');
    match first {
        b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' => return false,
        b'-' if !next_is_non_space => return false,
        // In flow context go-yaml (and libyaml-based readers) never start a plain with these.
        b'?' | b':' if flow || !next_is_non_space => return false,
        _ => {}
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    // Older go-yaml v2 scanners reject any ':' inside a flow plain scalar.
    if flow
        && b.iter()
            .any(|c| matches!(c, b',' | b'[' | b']' | b'{' | b'}' | b':'))
    {
        return false;
    }
    if is_yaml11_bool(s) || is_base60(s) || looks_like_yaml11_timestamp(s) {
        return false;
    }
    // `<<` is a merge key and `=` a YAML 1.1 value key when written plain.
    if s == "<<" || s == "=" {
        return false;
    }
    matches!(resolve(s, Style::Plain, None), Ok(Typed::Str(ref r)) if r == s)
}

/// True when `s` can be written as a plain (unquoted) scalar in BLOCK context, on one line, and a go-yaml v3 reader
/// (and a YAML 1.1 reader such as kubectl's) gets back the same STRING: not empty; no leading/trailing space; no
/// newline, tab or non-printable char; does not resolve to a non-string by `resolve(s, Plain, None)`; is not a YAML 1.1
/// bool (y Y yes Yes YES n N no No NO on On ON off Off OFF) or base-60 number like 1:20; does not start with an indicator
/// (- ? : , [ ] { } # & * ! | > ' " % @ `) except that "-", "?" and ":" are fine when followed by a non-space char; does not contain ": " or " #"
/// and does not end with ":"; does not start with "---" or "...".
/// Also refused, to stay safe for YAML 1.1 readers: YAML 1.1 timestamp shapes, `<<` and `=`.
pub fn plain_is_safe(s: &str) -> bool {
    plain_is_safe_in(s, false)
}

/// Same question for FLOW context (inside `{...}` or `[...]`): additionally no `,[]{}` anywhere,
/// no `:` anywhere, and no leading `?`.
pub fn plain_is_safe_in_flow(s: &str) -> bool {
    plain_is_safe_in(s, true)
}

/// A YAML double-quoted scalar (with the quotes) that reads back as exactly `s`: escape \\ and \" , \n \t \r \0 \a \b \e \f \v,
/// other C0 controls, DEL and C1 controls as \xNN, U+0085 as \N, U+00A0 as \_, U+2028 as \L, U+2029 as \P,
/// BOM U+FEFF as \uFEFF (and the non-characters U+FFFE/U+FFFF as \uFFFE/\uFFFF).
pub fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{1B}' => out.push_str("\\e"),
            '\u{0C}' => out.push_str("\\f"),
            '\u{0B}' => out.push_str("\\v"),
            '\u{85}' => out.push_str("\\N"),
            '\u{A0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            '\u{00}'..='\u{1F}' | '\u{7F}'..='\u{9F}' => {
                out.push_str(&format!("\\x{:02X}", u32::from(c)));
            }
            '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}' => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A single-quoted scalar (quotes included, ' doubled) if `s` has no newline and only printable chars
/// (no tab, no NEL/LS/PS, no BOM), else None.
pub fn single_quoted(s: &str) -> Option<String> {
    if !s.chars().all(is_inline_printable) {
        return None;
    }
    Some(format!("'{}'", s.replace('\'', "''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_alphabet_check_matches_a_table() {
        for padding in [false, true] {
            for c in 0..=255u8 {
                let expected =
                    c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || (padding && c == b'=');
                // In the vectorized body and in the remainder, at every position.
                for len in [1, 63, 64, 65, 200] {
                    for at in [0, len / 2, len - 1] {
                        let mut v = vec![b'Q'; len];
                        v[at] = c;
                        assert_eq!(all_base64_chars(&v, padding), expected, "{c} {len} {at}");
                    }
                }
            }
        }
    }
    use proptest::prelude::*;

    const INT: &str = "tag:yaml.org,2002:int";
    const FLOAT: &str = "tag:yaml.org,2002:float";
    const BOOL: &str = "tag:yaml.org,2002:bool";
    const NULL: &str = "tag:yaml.org,2002:null";
    const TS: &str = "tag:yaml.org,2002:timestamp";
    const STR: &str = "tag:yaml.org,2002:str";
    const BIN: &str = "tag:yaml.org,2002:binary";

    fn plain(s: &str) -> Result<Typed, TypeError> {
        resolve(s, Style::Plain, None)
    }

    fn s(v: &str) -> Typed {
        Typed::Str(v.to_owned())
    }

    fn t(v: &str) -> Typed {
        Typed::Time(v.to_owned())
    }

    /// (input, sops type word, bytes sops hashes), or the error.
    fn check(input: &str, want: Result<(&str, &str), TypeError>) {
        let got = plain(input);
        match (&got, &want) {
            (Ok(v), Ok((ty, bytes))) => {
                assert_eq!(v.sops_type(), *ty, "type of {input:?}");
                assert_eq!(
                    String::from_utf8_lossy(&v.to_sops_bytes()),
                    *bytes,
                    "bytes of {input:?}"
                );
            }
            (Err(e), Err(w)) => assert_eq!(e, w, "error for {input:?}"),
            _ => panic!("{input:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn nulls_and_bools() {
        for n in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(plain(n), Ok(Typed::Null), "{n:?}");
        }
        for v in ["true", "True", "TRUE"] {
            assert_eq!(plain(v), Ok(Typed::Bool(true)));
        }
        for v in ["false", "False", "FALSE"] {
            assert_eq!(plain(v), Ok(Typed::Bool(false)));
        }
        for v in [
            "yes", "no", "on", "off", "y", "n", "Y", "N", "YES", "Off", "tRUE", "nULL", "NuLL",
        ] {
            assert_eq!(plain(v), Ok(s(v)), "{v:?}");
        }
        check("true", Ok(("bool", "True")));
        check("FALSE", Ok(("bool", "False")));
        assert_eq!(Typed::Null.to_sops_bytes().len(), 0);
        assert_eq!(Typed::Null.sops_type(), "null");
    }

    #[test]
    fn special_floats() {
        for v in [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"] {
            assert_eq!(plain(v), Ok(Typed::Float(f64::INFINITY)), "{v}");
        }
        for v in ["-.inf", "-.Inf", "-.INF"] {
            assert_eq!(plain(v), Ok(Typed::Float(f64::NEG_INFINITY)), "{v}");
        }
        for v in [".nan", ".NaN", ".NAN"] {
            assert!(matches!(plain(v), Ok(Typed::Float(f)) if f.is_nan()), "{v}");
        }
        for v in [".iNf", "-.nan", "+.nan", "inf", "nan", "Infinity", "-inf"] {
            assert_eq!(plain(v), Ok(s(v)), "{v}");
        }
        check("-.inf", Ok(("float", "-Inf")));
        check(".inf", Ok(("float", "+Inf")));
        check(".nan", Ok(("float", "NaN")));
    }

    #[test]
    fn numbers_spec_8_2() {
        check("1.50", Ok(("float", "1.5")));
        check("0777", Ok(("int", "511")));
        check("0x1F", Ok(("int", "31")));
        check("0X1f", Ok(("int", "31")));
        check("1_000", Ok(("int", "1000")));
        check("-0b101", Ok(("int", "-5")));
        check("0b101", Ok(("int", "5")));
        check("0B11", Ok(("int", "3")));
        check("0o17", Ok(("int", "15")));
        check("0O17", Ok(("int", "15")));
        check("-0o17", Ok(("int", "-15")));
        check("+12", Ok(("int", "12")));
        check("-12", Ok(("int", "-12")));
        check("0", Ok(("int", "0")));
        check("-0", Ok(("int", "0")));
        check("+0x10", Ok(("int", "16")));
        check("08", Ok(("float", "8")));
        check("09.5", Ok(("float", "9.5")));
        check("1e3", Ok(("float", "1000")));
        check("1E3", Ok(("float", "1000")));
        check("1e+3", Ok(("float", "1000")));
        check("1e-3", Ok(("float", "0.001")));
        check("1.", Ok(("float", "1")));
        check("+.5", Ok(("float", "0.5")));
        check("-.5", Ok(("float", "-0.5")));
        check(".5", Ok(("float", "0.5")));
        check(".5e3", Ok(("float", "500")));
        check(".5E-1", Ok(("float", "0.05")));
        check("-0.0", Ok(("float", "-0")));
        check("1_000.5", Ok(("float", "1000.5")));
        check("1234568000.0", Ok(("float", "1234568000")));
        check("9223372036854775807", Ok(("int", "9223372036854775807")));
        check("-9223372036854775808", Ok(("int", "-9223372036854775808")));
        check("18446744073709551615", Err(TypeError::Uint64Overflow));
        check("9223372036854775808", Err(TypeError::Uint64Overflow));
        check("0xFFFFFFFFFFFFFFFF", Err(TypeError::Uint64Overflow));
        check("0x8000000000000000", Err(TypeError::Uint64Overflow));
        check(
            "0b1111111111111111111111111111111111111111111111111111111111111111",
            Err(TypeError::Uint64Overflow),
        );
        // ParseUint takes no sign, so these fall through to the float rule.
        check("+9223372036854775808", Ok(("float", "9223372036854776000")));
        check(
            "-9223372036854775809",
            Ok(("float", "-9223372036854776000")),
        );
        check(
            "18446744073709551616",
            Ok(("float", "18446744073709552000")),
        );
        // go-yaml's own 0b/0o fallbacks accept a sign after the prefix.
        check("0b-101", Ok(("int", "-5")));
        check("0b+101", Ok(("int", "5")));
        check("0o-17", Ok(("int", "-15")));
        check("0b_101", Ok(("int", "5")));
        // Overflowing floats stay strings (Go's ErrRange); underflow is just zero.
        check("1e400", Ok(("str", "1e400")));
        check("-1e400", Ok(("str", "-1e400")));
        check(
            ".5e99999999999999999999",
            Ok(("str", ".5e99999999999999999999")),
        );
        check("1e-400", Ok(("float", "0")));
        check("0e99999", Ok(("float", "0")));
        // The '.' branch hands the raw text, underscores included, to ParseFloat.
        check(".5_0", Ok(("float", "0.5")));
        check("._5", Ok(("str", "._5")));
        check(".5_", Ok(("str", ".5_")));
        for v in [
            "0x", "0b", "0o", "0xg", "0b2", "0o8", "1.2.3", "1e", "1e+", "+", "-", "1,000",
            "12abc", "0x1p3", ".", "..", ".e3", "1:20", "1__", "_1", "--1", "+-1", "1 2", "<<",
            "=", "0x_", "-0b", "-0o", "0b-", "1.5e3.0",
        ] {
            let got = plain(v);
            let want = match v {
                // Underscores vanish before ParseInt: "1__" is 1, "0x_" is "0x".
                "1__" => Ok(Typed::Int(1)),
                _ => Ok(s(v)),
            };
            assert_eq!(got, want, "{v:?}");
        }
    }

    #[test]
    fn timestamps() {
        check("2024-01-01", Ok(("time", "2024-01-01T00:00:00Z")));
        check("2024-1-2", Ok(("time", "2024-01-02T00:00:00Z")));
        check(
            "2001-12-14t21:59:43.10-05:00",
            Ok(("time", "2001-12-14T21:59:43.1-05:00")),
        );
        check(
            "2001-12-14T21:59:43.10-05:00",
            Ok(("time", "2001-12-14T21:59:43.1-05:00")),
        );
        check("2002-12-14 1:2:3", Ok(("time", "2002-12-14T01:02:03Z")));
        check("2002-12-14   1:2:3", Ok(("time", "2002-12-14T01:02:03Z")));
        check("2002-12-14 1:2:3.5", Ok(("time", "2002-12-14T01:02:03.5Z")));
        check(
            "2002-12-14 1:2:3,25",
            Ok(("time", "2002-12-14T01:02:03.25Z")),
        );
        check("2024-02-29", Ok(("time", "2024-02-29T00:00:00Z")));
        check("2000-02-29", Ok(("time", "2000-02-29T00:00:00Z")));
        check("2024-01-01T00:00:00Z", Ok(("time", "2024-01-01T00:00:00Z")));
        check(
            "2024-01-01T00:00:00+00:00",
            Ok(("time", "2024-01-01T00:00:00Z")),
        );
        check(
            "2024-01-01T00:00:00-00:00",
            Ok(("time", "2024-01-01T00:00:00Z")),
        );
        check(
            "2024-01-01T10:20:30.123456789123+05:30",
            Ok(("time", "2024-01-01T10:20:30.123456789+05:30")),
        );
        check(
            "2024-01-01T10:20:30.000+01:00",
            Ok(("time", "2024-01-01T10:20:30+01:00")),
        );
        check("2024-01-01T1:2:3Z", Ok(("time", "2024-01-01T01:02:03Z")));
        check("0000-02-29", Ok(("time", "0000-02-29T00:00:00Z")));
        // Go accepts a 60-minute offset and normalises it.
        check(
            "2024-01-01T00:00:00+05:60",
            Ok(("time", "2024-01-01T00:00:00+06:00")),
        );
        check("2024-01-01T00:00:00+24:00", Err(TypeError::UnencodableTime));
        for v in [
            "2024-02-30",
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-01-00",
            "2024-001-01",
            "2024-01-01T24:00:00Z",
            "2024-01-01T10:60:00Z",
            "2024-01-01T10:00:60Z",
            "2024-01-01T10:00:00",
            "2024-01-01T10:00:00z",
            "2024-01-01T10:00:00+0500",
            "2024-01-01T10:00:00+25:00",
            "2024-01-01T10:00:00+05:61",
            "2024-01-01T10:00:00 +05:00",
            "2024-01-01 10:00:00Z",
            "2024-01-01 10:00",
            "2024-01-01x",
            "2024-01-01 ",
            "2001-12-14 21:59:43.10 -5",
            "20240-01-01",
            "202-01-01",
            "2024-01-01T10:00:00.Z",
        ] {
            assert_eq!(plain(v), Ok(s(v)), "{v:?}");
        }
    }

    #[test]
    fn explicit_tags() {
        let r = |v: &str, style: Style, tag: &str| resolve(v, style, Some(tag));
        assert_eq!(r("123", Style::Plain, STR), Ok(s("123")));
        assert_eq!(r("true", Style::Plain, STR), Ok(s("true")));
        assert_eq!(r("", Style::Plain, STR), Ok(s("")));
        assert_eq!(r("!!str", Style::Plain, "!!str"), Ok(s("!!str")));
        assert_eq!(r("12", Style::DoubleQuoted, INT), Ok(Typed::Int(12)));
        assert_eq!(r("0x10", Style::Plain, INT), Ok(Typed::Int(16)));
        assert_eq!(
            r("18446744073709551615", Style::Plain, INT),
            Err(TypeError::Uint64Overflow)
        );
        assert_eq!(r("1", Style::Plain, FLOAT), Ok(Typed::Float(1.0)));
        assert_eq!(r("1.5", Style::SingleQuoted, FLOAT), Ok(Typed::Float(1.5)));
        assert_eq!(
            r("18446744073709551615", Style::Plain, FLOAT),
            Err(TypeError::TagMismatch("float"))
        );
        assert_eq!(
            r("abc", Style::Plain, INT),
            Err(TypeError::TagMismatch("int"))
        );
        assert_eq!(
            r("1.5", Style::Plain, INT),
            Err(TypeError::TagMismatch("int"))
        );
        assert_eq!(
            r("yes", Style::Plain, BOOL),
            Err(TypeError::TagMismatch("bool"))
        );
        assert_eq!(r("True", Style::Plain, BOOL), Ok(Typed::Bool(true)));
        assert_eq!(r("", Style::Plain, NULL), Ok(Typed::Null));
        assert_eq!(r("~", Style::DoubleQuoted, NULL), Ok(Typed::Null));
        assert_eq!(
            r("x", Style::Plain, NULL),
            Err(TypeError::TagMismatch("null"))
        );
        assert_eq!(
            r("2024-01-01", Style::Plain, TS),
            Ok(t("2024-01-01T00:00:00Z"))
        );
        assert_eq!(
            r("2024-01-01", Style::DoubleQuoted, TS),
            Ok(t("2024-01-01T00:00:00Z"))
        );
        assert_eq!(
            r("2024-02-30", Style::Plain, TS),
            Err(TypeError::TagMismatch("timestamp"))
        );
        // Only an untagged or !!timestamp scalar is tried as a timestamp.
        assert_eq!(
            r("2024-01-01", Style::Plain, INT),
            Err(TypeError::TagMismatch("int"))
        );
        // Unknown tags: go-yaml keeps the text as a string, whatever the style.
        assert_eq!(r("123", Style::Plain, "!foo"), Ok(s("123")));
        assert_eq!(r("true", Style::Plain, "!foo"), Ok(s("true")));
        assert_eq!(r("", Style::Plain, "!foo"), Ok(s("")));
        assert_eq!(r("1", Style::Plain, "tag:yaml.org,2002:map"), Ok(s("1")));
        assert_eq!(
            r("<<", Style::Plain, "tag:yaml.org,2002:merge"),
            Ok(s("<<"))
        );
        assert_eq!(r("1", Style::Plain, "tag:example.com,2000:x"), Ok(s("1")));
        // The non-specific tag `!` behaves like no tag.
        assert_eq!(r("123", Style::Plain, "!"), Ok(Typed::Int(123)));
        assert_eq!(r("123", Style::DoubleQuoted, "!"), Ok(s("123")));
    }

    #[test]
    fn untagged_non_plain_styles_are_strings() {
        for style in [
            Style::SingleQuoted,
            Style::DoubleQuoted,
            Style::Literal,
            Style::Folded,
        ] {
            for v in [
                "123",
                "true",
                "null",
                "",
                "2024-01-01",
                "1.5",
                ".inf",
                "0x10",
            ] {
                assert_eq!(resolve(v, style, None), Ok(s(v)), "{v:?} {style:?}");
            }
        }
    }

    #[test]
    fn binary() {
        let r = |v: &str| resolve(v, Style::Plain, Some(BIN));
        assert_eq!(r("aGVsbG8="), Ok(Typed::Binary(b"hello".to_vec())));
        assert_eq!(
            resolve("aGVs\nbG8=\n", Style::Literal, Some(BIN)),
            Ok(Typed::Binary(b"hello".to_vec()))
        );
        assert_eq!(r("aGVs\r\nbG8="), Ok(Typed::Binary(b"hello".to_vec())));
        assert_eq!(r(""), Ok(Typed::Binary(Vec::new())));
        assert_eq!(r("/w=="), Ok(Typed::Binary(vec![0xff])));
        // Go's decoder is not strict about the unused trailing bits.
        assert_eq!(r("/x=="), Ok(Typed::Binary(vec![0xff])));
        for bad in [
            "aGVsbG8",
            "aGVsbG8==",
            "aGVs bG8=",
            "aGVs\tbG8=",
            "a",
            "!!!!",
            "aGVsbG8=aa",
        ] {
            assert_eq!(r(bad), Err(TypeError::BadBinary), "{bad:?}");
        }
        let v = r("/w==").expect("valid base64");
        assert_eq!(v.sops_type(), "str");
        assert_eq!(&*v.to_sops_bytes(), &[0xff]);
    }

    #[test]
    fn debug_and_display_hide_values() {
        let v = s("hunter2");
        assert_eq!(format!("{v:?}"), "Str(..)");
        assert_eq!(format!("{:?}", Typed::Int(42)), "Int(..)");
        assert_eq!(format!("{:?}", Typed::Null), "Null");
        for e in [
            TypeError::Uint64Overflow,
            TypeError::BadBinary,
            TypeError::TagMismatch("int"),
            TypeError::UnencodableTime,
        ] {
            assert!(!e.to_string().is_empty());
        }
        let e = from_sops(b"hunter2", "int").expect_err("not an int");
        assert!(!e.to_string().contains("hunter2"));
        assert!(!format!("{e:?}").contains("hunter2"));
    }

    #[test]
    fn format_float_matches_go() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1234568000.0, "1234568000"),
            (1e21, "1000000000000000000000"),
            (1e20, "100000000000000000000"),
            (1e-7, "0.0000001"),
            (123456789.125, "123456789.125"),
            (1.0 / 3.0, "0.3333333333333333"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (9.223372036854776e18, "9223372036854776000"),
        ];
        for (f, want) in cases {
            assert_eq!(format_float(*f), *want, "{f:e}");
        }
        let tiny = format_float(5e-324);
        assert_eq!(tiny.len(), "0.".len() + 324);
        assert!(tiny.starts_with("0.000") && tiny.ends_with("00005"));
        let max = format_float(f64::MAX);
        assert_eq!(max.len(), 309);
        assert!(max.starts_with("17976931348623157") && max.bytes().skip(17).all(|c| c == b'0'));
        for f in [5e-324, f64::MAX, 0.1, 1e21, 1e-7, 2.5e-300, 123.456] {
            assert_eq!(go_parse_float(&format_float(f)), Some(f));
        }
    }

    #[test]
    fn go_parse_float_syntax() {
        let ok: &[(&str, f64)] = &[
            ("1", 1.0),
            ("+1", 1.0),
            ("-1.5", -1.5),
            ("1.", 1.0),
            (".5", 0.5),
            ("1.e2", 100.0),
            ("1_000.5", 1000.5),
            ("1_23.50_0_0e+1_2", 1.235e14),
            ("Inf", f64::INFINITY),
            ("+inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("INFINITY", f64::INFINITY),
            ("1.7976931348623157e308", f64::MAX),
            ("1e-400", 0.0),
        ];
        for (text, want) in ok {
            assert_eq!(go_parse_float(text), Some(*want), "{text:?}");
        }
        assert!(go_parse_float("NaN").is_some_and(f64::is_nan));
        assert!(go_parse_float("nan").is_some_and(f64::is_nan));
        for bad in [
            "",
            "+",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1e_5",
            "+nan",
            "-NaN",
            "infin",
            "in",
            "-_123.5e+12",
            "_123.5e+12",
            "1__23.5e+12",
            "123_.5e+12",
            "123._5e+12",
            "123.5_e+12",
            "123.5e+12_",
            "123.5e+1__2",
            "1e400",
            "1.8e308",
            "0x1p3",
            "1.2.3",
            " 1",
            "1 ",
        ] {
            assert_eq!(go_parse_float(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn from_sops_conversions() {
        assert_eq!(from_sops(b"abc", "str"), Ok(s("abc")));
        assert_eq!(from_sops(b"", "str"), Ok(s("")));
        assert_eq!(
            from_sops(&[0xff, 0xfe], "str"),
            Ok(Typed::Binary(vec![0xff, 0xfe]))
        );
        assert_eq!(from_sops(b"42", "int"), Ok(Typed::Int(42)));
        assert_eq!(from_sops(b"+42", "int"), Ok(Typed::Int(42)));
        assert_eq!(from_sops(b"-007", "int"), Ok(Typed::Int(-7)));
        for bad in [
            "",
            "1_000",
            "0x10",
            "1.0",
            " 1",
            "9223372036854775808",
            "+",
            "1e3",
        ] {
            assert_eq!(
                from_sops(bad.as_bytes(), "int"),
                Err(FromSopsError::BadInt),
                "{bad:?}"
            );
        }
        assert_eq!(from_sops(b"1.5", "float"), Ok(Typed::Float(1.5)));
        assert_eq!(from_sops(b"1e3", "float"), Ok(Typed::Float(1000.0)));
        assert_eq!(from_sops(b"+Inf", "float"), Ok(Typed::Float(f64::INFINITY)));
        assert_eq!(
            from_sops(b"-Inf", "float"),
            Ok(Typed::Float(f64::NEG_INFINITY))
        );
        assert!(matches!(from_sops(b"NaN", "float"), Ok(Typed::Float(f)) if f.is_nan()));
        assert_eq!(from_sops(b"abc", "float"), Err(FromSopsError::BadFloat));
        for v in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(
                from_sops(v.as_bytes(), "bool"),
                Ok(Typed::Bool(true)),
                "{v}"
            );
        }
        for v in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(
                from_sops(v.as_bytes(), "bool"),
                Ok(Typed::Bool(false)),
                "{v}"
            );
        }
        for v in ["yes", "tRUE", "", "2"] {
            assert_eq!(
                from_sops(v.as_bytes(), "bool"),
                Err(FromSopsError::BadBool),
                "{v}"
            );
        }
        assert_eq!(
            from_sops(b"2024-01-01T00:00:00Z", "time"),
            Ok(t("2024-01-01T00:00:00Z"))
        );
        // sops re-encodes the parsed time, so the canonical text is what it hashes.
        assert_eq!(
            from_sops(b"2024-01-01T00:00:00.500+00:00", "time"),
            Ok(t("2024-01-01T00:00:00.5Z"))
        );
        assert_eq!(
            from_sops(b"2001-12-14T21:59:43.1-05:00", "time"),
            Ok(t("2001-12-14T21:59:43.1-05:00"))
        );
        for bad in [
            "2024-01-01",
            "2024-1-01T00:00:00Z",
            "2024-01-01t00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-02-30T00:00:00Z",
            "2024-01-01T00:00:00+24:00",
            "x",
        ] {
            assert_eq!(
                from_sops(bad.as_bytes(), "time"),
                Err(FromSopsError::BadTime),
                "{bad}"
            );
        }
        assert_eq!(
            from_sops(&[0, 1, 255], "bytes"),
            Ok(Typed::Binary(vec![0, 1, 255]))
        );
        assert_eq!(from_sops(&[0xff], "int"), Err(FromSopsError::InvalidUtf8));
        assert_eq!(
            from_sops(b"x", "comment"),
            Err(FromSopsError::UnknownType("comment".into()))
        );
        assert_eq!(
            from_sops(b"1", "int64"),
            Err(FromSopsError::UnknownType("int64".into()))
        );
    }

    #[test]
    fn from_sops_round_trips() {
        let values = [
            s("hello"),
            s(""),
            s("ünïcödé ✓"),
            Typed::Bool(true),
            Typed::Bool(false),
            Typed::Int(0),
            Typed::Int(i64::MIN),
            Typed::Int(i64::MAX),
            Typed::Float(1.5),
            Typed::Float(-0.0),
            Typed::Float(1e21),
            Typed::Float(5e-324),
            Typed::Float(f64::MAX),
            Typed::Float(f64::INFINITY),
            Typed::Float(f64::NEG_INFINITY),
            t("2024-01-01T00:00:00Z"),
            t("2001-12-14T21:59:43.1-05:00"),
            t("2024-01-01T10:20:30.123456789+05:30"),
            Typed::Binary(vec![0xff, 0x00, 0x80]),
        ];
        for v in values {
            let back = from_sops(&v.to_sops_bytes(), v.sops_type());
            assert_eq!(back.as_ref(), Ok(&v), "{v:?}");
            if let Typed::Float(f) = v {
                assert_eq!(
                    back.map(|b| matches!(b, Typed::Float(g) if g.to_bits() == f.to_bits())),
                    Ok(true)
                );
            }
        }
        // NaN is never equal to itself; compare what sops sees instead.
        let nan = Typed::Float(f64::NAN);
        let back = from_sops(&nan.to_sops_bytes(), nan.sops_type()).expect("NaN parses");
        assert_eq!(back.to_sops_bytes(), nan.to_sops_bytes());
        // UTF-8 binary comes back as the string sops stores; type and bytes are unchanged.
        let bin = Typed::Binary(b"text".to_vec());
        let back = from_sops(&bin.to_sops_bytes(), bin.sops_type()).expect("str parses");
        assert_eq!(back, s("text"));
        assert_eq!(back.to_sops_bytes(), bin.to_sops_bytes());
    }

    #[test]
    fn plain_safety() {
        for ok in [
            "s3cr3t",
            "YWJjZA==",
            "hello world",
            "a:b",
            "-x",
            "?x",
            ":x",
            "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
            "a#b",
            "a  b",
            "ünïcödé",
            "x-1",
            "v1",
            "1.2.3",
            "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq",
            "--x",
            "nope",
            "Secret",
            "2024-report",
            "a'b\"c",
        ] {
            assert!(plain_is_safe(ok), "{ok:?} should be plain-safe");
        }
        for bad in [
            "",
            "true",
            "yes",
            "on",
            "null",
            "1",
            "1.5",
            " x",
            "x ",
            "a: b",
            "a #b",
            "#x",
            "- x",
            "[x",
            "{",
            "*a",
            "&a",
            "!a",
            "|",
            ">",
            "'x",
            "\"x",
            "%x",
            "@x",
            "`x",
            "---x",
            "a\nb",
            "2024-01-01",
            "1:20",
            "0x10",
            ".inf",
            "~",
            "-",
            "?",
            ":",
            "a:",
            "...x",
            "a\tb",
            "a\rb",
            "\u{85}",
            "a\u{2028}b",
            "\u{feff}x",
            "\u{7}",
            "y",
            "N",
            "OFF",
            "<<",
            "=",
            "2001-12-14 21:59:43.10 -5",
            "2024-02-30",
            "18446744073709551615",
            "-1:20:30.5",
            "1_000",
            "]",
            "}",
            ",x",
        ] {
            assert!(!plain_is_safe(bad), "{bad:?} should not be plain-safe");
        }
        assert!(plain_is_safe_in_flow("s3cr3t"));
        assert!(plain_is_safe_in_flow("-x"));
        assert!(plain_is_safe_in_flow("hello world"));
        for bad in [
            "a,b", "a[b", "a]", "a{b", "a}", "ENC[x]", "a:b", "?x", ":x", "true",
        ] {
            assert!(!plain_is_safe_in_flow(bad), "{bad:?} in flow");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(double_quoted(""), "\"\"");
        assert_eq!(double_quoted("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            double_quoted("\n\t\r\0\u{7}\u{8}\u{1b}\u{c}\u{b}"),
            r#""\n\t\r\0\a\b\e\f\v""#
        );
        assert_eq!(double_quoted("\u{1}\u{7f}\u{9f}"), r#""\x01\x7F\x9F""#);
        assert_eq!(
            double_quoted("\u{85}\u{a0}\u{2028}\u{2029}\u{feff}"),
            r#""\N\_\L\P\uFEFF""#
        );
        assert_eq!(double_quoted("ünï ✓ 😀"), "\"ünï ✓ 😀\"");
        assert_eq!(single_quoted("it's"), Some("'it''s'".to_owned()));
        assert_eq!(single_quoted(""), Some("''".to_owned()));
        assert_eq!(single_quoted(" x "), Some("' x '".to_owned()));
        assert_eq!(single_quoted("a\nb"), None);
        assert_eq!(single_quoted("a\tb"), None);
        assert_eq!(single_quoted("a\u{1}b"), None);
        assert_eq!(single_quoted("a\u{2028}b"), None);
    }

    /// Reads `text` with the crate's YAML parser and returns the first scalar after `key`.
    fn read_value(text: &str) -> Option<(String, granit_parser::ScalarStyle)> {
        let mut seen_key = false;
        for ev in granit_parser::Parser::new_from_str(text) {
            let (ev, _) = ev.ok()?;
            if let granit_parser::Event::Scalar(v, style, _, _) = ev {
                if seen_key {
                    return Some((v.into_owned(), style));
                }
                seen_key = true;
            }
        }
        None
    }

    #[test]
    fn written_forms_read_back() {
        for v in [
            "a\"b\\c",
            "\n\t\r\0\u{7}\u{8}\u{1b}\u{c}\u{b}",
            "\u{1}\u{7f}\u{9f}",
            "\u{85}\u{a0}\u{2028}\u{2029}\u{feff}",
            "  lead and trail  ",
            "ünï ✓ 😀",
            "",
        ] {
            let text = format!("k: {}\n", double_quoted(v));
            assert_eq!(read_value(&text).map(|r| r.0), Some(v.to_owned()), "{v:?}");
        }
        for v in ["it's", "", " x ", "#x", "a: b"] {
            let q = single_quoted(v).expect("single-quotable");
            assert_eq!(
                read_value(&format!("k: {q}\n")).map(|r| r.0),
                Some(v.to_owned())
            );
        }
    }

    proptest! {
        #[test]
        fn plain_safe_strings_read_back(v in prop_oneof![
            "[ -~]{0,12}",
            "[a-z0-9:#\\-?,\\[\\]{} .'\"_]{1,8}",
            any::<String>(),
        ]) {
            if plain_is_safe(&v) {
                prop_assert_eq!(resolve(&v, Style::Plain, None), Ok(Typed::Str(v.clone())));
                let back = read_value(&format!("k: {v}\n"));
                prop_assert_eq!(back, Some((v.clone(), granit_parser::ScalarStyle::Plain)));
                let back = read_value(&format!("- {v}\n- x\n"));
                prop_assert_eq!(back.map(|r| r.0), Some("x".to_owned()));
            }
            if plain_is_safe_in_flow(&v) {
                prop_assert!(plain_is_safe(&v));
                let back = read_value(&format!("k: [{v}, x]\n"));
                prop_assert_eq!(back, Some((v.clone(), granit_parser::ScalarStyle::Plain)));
            }
        }

        #[test]
        fn double_quoted_is_printable_and_reads_back(v in any::<String>()) {
            let q = double_quoted(&v);
            prop_assert!(q.len() >= 2 && q.starts_with('"') && q.ends_with('"'));
            prop_assert!(q.chars().all(is_inline_printable), "{:?}", q);
            let back = read_value(&format!("k: {q}\n")).map(|r| r.0);
            prop_assert_eq!(back, Some(v.clone()));
        }

        #[test]
        fn single_quoted_reads_back(v in any::<String>()) {
            if let Some(q) = single_quoted(&v) {
                let back = read_value(&format!("k: {q}\n")).map(|r| r.0);
                prop_assert_eq!(back, Some(v.clone()));
            }
        }

        #[test]
        fn from_sops_round_trips_any(v in prop_oneof![
            any::<String>().prop_map(Typed::Str),
            any::<i64>().prop_map(Typed::Int),
            any::<bool>().prop_map(Typed::Bool),
            any::<f64>().prop_filter("NaN", |f| !f.is_nan()).prop_map(Typed::Float),
        ]) {
            let back = from_sops(&v.to_sops_bytes(), v.sops_type());
            prop_assert_eq!(back, Ok(v.clone()));
        }
    }
}
