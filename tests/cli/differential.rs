//! Differential test against the real sops: generated YAML and JSON documents (numbers of every
//! form, booleans, nulls, timestamps, strings that look like other types, unicode, empty values,
//! nested lists and mappings) encrypted by sops with its default rule, then decrypted by sops and
//! by kseal. The values and their types must be equal; the one allowed difference is a YAML float
//! with an integral value (`7.0`), which kseal prints as a float and sops as the integer `7`
//! (docs/format.md, "Numbers"). JSON must come back byte for byte as sops prints it.
//!
//! The seed is printed with every failure; `KSEAL_DIFF_SEED=N` replays a run.

use kseal::yaml::scalar::{self, Typed};
use kseal::yaml::tree::{self, Node};

use crate::common::*;

/// Documents per file (sops is called once per file, not per document).
const YAML_FILES: usize = 4;
const YAML_DOCS: usize = 30;
const JSON_FILES: usize = 4;
const JSON_DOCS: usize = 25;

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len())]
}

/// A YAML scalar as written: plain numbers of every form, booleans, nulls, timestamps, and
/// quoted strings that look like other types.
fn yaml_scalar(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => (rng.next() as i64 >> rng.below(63)).to_string(),
        1 => format!("{}.0", rng.below(100_000) as i64 - 50_000),
        2 => format!("{}.{}", rng.below(1000), rng.below(100_000)),
        3 => format!(
            "{}{}e{}{}",
            pick(rng, &["", "-", "+"]),
            rng.below(100),
            pick(rng, &["", "-", "+"]),
            rng.below(40)
        ),
        4 => pick(
            rng,
            &[
                "7",
                "7.0",
                "-0.0",
                "-0",
                "0.5",
                "1e3",
                "1.0e+21",
                "1e21",
                "123456789012345678",
                "9223372036854775807",
                "0x1F",
                "0o17",
                "0b101",
                "017",
                "+12",
                ".5",
                ".inf",
                "-.Inf",
                ".nan",
                "1_000",
                "0.1e1",
                "6.02214076e23",
                "5e-324",
            ],
        )
        .to_string(),
        5 => pick(
            rng,
            &[
                "true", "false", "True", "FALSE", "yes", "no", "on", "off", "y", "n",
            ],
        )
        .to_string(),
        6 => pick(rng, &["~", "null", "Null", "", "NULL"]).to_string(),
        7 => pick(
            rng,
            &[
                "2001-12-14",
                "2001-12-14T21:59:43.10-05:00",
                "2001-12-14t21:59:43.10Z",
                "2001-12-14 21:59:43.10 -5",
                "2024-02-29T00:00:00Z",
                "'2024-01-01'",
            ],
        )
        .to_string(),
        8 => pick(
            rng,
            &[
                "\"7\"",
                "'1e3'",
                "\"0x10\"",
                "'true'",
                "\"null\"",
                "'~'",
                "\"-0.0\"",
                "'.inf'",
                "\"\"",
                "''",
                "\"2001-12-14\"",
                "'007'",
            ],
        )
        .to_string(),
        9 => pick(
            rng,
            &[
                "héllo wörld",
                "日本語のテキスト",
                "\"🔐 clé \\u00e9\\t\"",
                "'it''s'",
                "\"line\\nbreak\"",
                "\"<a href=\\\"x\\\">&amp;</a>\"",
                "Ünïcödé",
            ],
        )
        .to_string(),
        10 => format!("word{}", rng.below(1000)),
        _ => format!(
            "\"s {} {}\"",
            rng.below(1000),
            pick(rng, &["a", "#x", ": y", "z"])
        ),
    }
}

/// A block-style YAML value at `indent`, after `key:` (a scalar, a list or a mapping).
fn yaml_value(rng: &mut Rng, depth: usize, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match if depth >= 3 { 0 } else { rng.below(10) } {
        7 => {
            let n = rng.below(4);
            if n == 0 {
                out.push_str(" []\n");
                return;
            }
            out.push('\n');
            for _ in 0..n {
                out.push_str(&format!("{pad}-"));
                if rng.below(4) == 0 {
                    // A mapping inside the list. No multi-line string there: sops 3.11 (go-yaml
                    // v3) prints it as a literal block indented too little, which no YAML
                    // parser (sops's own included) reads back.
                    let mut one_line = || loop {
                        let v = yaml_scalar(rng);
                        if !v.contains("\\n") {
                            return v;
                        }
                    };
                    out.push_str(&format!(" k: {}\n", one_line()));
                    out.push_str(&format!("{pad}  m: {}\n", one_line()));
                } else {
                    out.push_str(&format!(" {}\n", yaml_scalar(rng)));
                }
            }
        }
        8 => {
            let n = rng.below(4);
            if n == 0 {
                out.push_str(" {}\n");
                return;
            }
            out.push('\n');
            yaml_mapping(rng, depth + 1, indent + 2, n, out);
        }
        _ => {
            let v = yaml_scalar(rng);
            if v.is_empty() {
                out.push('\n');
            } else {
                out.push_str(&format!(" {v}\n"));
            }
        }
    }
}

fn yaml_mapping(rng: &mut Rng, depth: usize, indent: usize, n: usize, out: &mut String) {
    for i in 0..n {
        out.push_str(&format!("{}k{i}:", " ".repeat(indent)));
        yaml_value(rng, depth, indent, out);
    }
}

/// A JSON scalar: numbers as people write them, booleans, null, strings (unicode, escapes,
/// HTML characters sops escapes, strings that look like numbers).
fn json_scalar(rng: &mut Rng) -> String {
    match rng.below(9) {
        0 => (rng.next() as i64 >> rng.below(63)).to_string(),
        1 => format!("{}.0", rng.below(100_000) as i64 - 50_000),
        2 => format!("{}.{}", rng.below(1000), rng.below(100_000)),
        3 => format!(
            "{}{}e{}{}",
            pick(rng, &["", "-"]),
            1 + rng.below(99),
            pick(rng, &["", "-", "+"]),
            rng.below(40)
        ),
        4 => pick(
            rng,
            &[
                "7",
                "7.0",
                "-0.0",
                "-0",
                "0.5",
                "1e3",
                "1E3",
                "1e21",
                "1e20",
                "1e-7",
                "0.000001",
                "123456789012345678",
                "100000000000000000000000",
                "2.5e+30",
                "5e-324",
            ],
        )
        .to_string(),
        5 => pick(rng, &["true", "false", "null"]).to_string(),
        6 => pick(
            rng,
            &[
                "\"7\"",
                "\"1e3\"",
                "\"true\"",
                "\"null\"",
                "\"\"",
                "\"2001-12-14\"",
                "\"0x10\"",
            ],
        )
        .to_string(),
        7 => pick(
            rng,
            &[
                "\"héllo\"",
                "\"日本語\"",
                "\"🔐\"",
                "\"tab\\tnew\\nline\"",
                "\"\\u00e9\\u2028\"",
                "\"<a>&b</a>\"",
                "\"quote \\\" back \\\\\"",
            ],
        )
        .to_string(),
        _ => format!("\"w{}\"", rng.below(1000)),
    }
}

fn json_value(rng: &mut Rng, depth: usize) -> String {
    match if depth >= 3 { 0 } else { rng.below(10) } {
        7 => {
            let items: Vec<String> = (0..rng.below(4))
                .map(|_| json_value(rng, depth + 1))
                .collect();
            format!("[{}]", items.join(", "))
        }
        8 => {
            let n = rng.below(4);
            json_object(rng, depth + 1, n)
        }
        _ => json_scalar(rng),
    }
}

fn json_object(rng: &mut Rng, depth: usize, n: usize) -> String {
    let members: Vec<String> = (0..n)
        .map(|i| format!("\"k{i}\": {}", json_value(rng, depth)))
        .collect();
    format!("{{{}}}", members.join(", "))
}

/// A parsed YAML value, typed as go-yaml v3 types it (as sops does).
enum V {
    Scalar(Typed),
    List(Vec<V>),
    Map(Vec<(String, V)>),
}

fn value(node: &Node) -> V {
    match node {
        Node::Scalar(s) => V::Scalar(
            scalar::resolve(&s.value, s.style, s.tag.as_deref()).unwrap_or_else(|_| {
                panic!("a scalar that cannot be typed");
            }),
        ),
        Node::Sequence(q) => V::List(q.items.iter().map(value).collect()),
        Node::Mapping(m) => V::Map(
            m.entries
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_scalar().expect("scalar keys").value.to_string(),
                        value(v),
                    )
                })
                .collect(),
        ),
        Node::Alias(target, ..) => value(target),
    }
}

fn parse_docs(text: &str) -> Vec<V> {
    let stream = tree::parse(text).unwrap_or_else(|e| panic!("{}\n{text}", e.message));
    stream
        .docs
        .iter()
        .map(|d| d.root.as_ref().map(value).unwrap_or(V::Scalar(Typed::Null)))
        .collect()
}

fn show(t: &Typed) -> String {
    match t {
        Typed::Null => "null".into(),
        Typed::Bool(b) => format!("bool {b}"),
        Typed::Int(i) => format!("int {i}"),
        Typed::Float(f) => format!("float {f:?}"),
        Typed::Time(s) => format!("time {s}"),
        Typed::Str(s) => format!("str {s:?}"),
        Typed::Binary(b) => format!("binary {b:?}"),
    }
}

/// Compares sops's value with kseal's at `path`; differences go to `diffs`.
fn compare(sops: &V, kseal: &V, path: &str, diffs: &mut Vec<String>) {
    match (sops, kseal) {
        (V::Scalar(a), V::Scalar(b)) => {
            let same = match (a, b) {
                (Typed::Float(x), Typed::Float(y)) => {
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
                }
                // The one allowed difference: an integral float, printed `7` by sops.
                (Typed::Int(i), Typed::Float(f)) => f.fract() == 0.0 && *i as f64 == *f,
                _ => a == b,
            };
            if !same {
                diffs.push(format!("{path}: sops {} / kseal {}", show(a), show(b)));
            }
        }
        (V::List(a), V::List(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare(x, y, &format!("{path}[{i}]"), diffs);
            }
        }
        (V::Map(a), V::Map(b)) if a.len() == b.len() => {
            for ((ka, x), (kb, y)) in a.iter().zip(b) {
                if ka != kb {
                    diffs.push(format!("{path}: key {ka} / {kb}"));
                } else {
                    compare(x, y, &format!("{path}.{ka}"), diffs);
                }
            }
        }
        _ => diffs.push(format!("{path}: different shapes")),
    }
}

/// Encrypts `name` with sops's default rule (no `.sops.yaml`), then decrypts it with sops and
/// with kseal: their outputs.
fn both_decrypt(sb: &Sandbox, name: &str, recipient: &str) -> (String, String) {
    let enc = ok(run(sb
        .tool("sops")
        .args(["encrypt", "--age", recipient, name])));
    let enc_name = format!("enc-{name}");
    sb.write(&enc_name, &enc);
    let by_sops = ok(run(sb
        .tool("sops")
        .env("SOPS_AGE_KEY_FILE", key())
        .args(["decrypt", &enc_name])));
    let by_kseal = ok(run(sb
        .kseal()
        .args(["decrypt", "--identity"])
        .arg(key())
        .arg(&enc_name)));
    (by_sops, by_kseal)
}

#[test]
fn kseal_decrypts_what_sops_encrypts_to_the_same_values() {
    let seed: u64 = std::env::var("KSEAL_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1;
    let mut rng = Rng(seed);
    let sb = Sandbox::new();
    let r = recipient();
    let mut failures = Vec::new();
    let mut docs = 0;

    for f in 0..YAML_FILES {
        let mut text = String::new();
        for _ in 0..YAML_DOCS {
            text.push_str("---\n");
            let n = 1 + rng.below(6);
            yaml_mapping(&mut rng, 0, 0, n, &mut text);
        }
        let name = format!("d{f}.yaml");
        sb.write(&name, &text);
        let (by_sops, by_kseal) = both_decrypt(&sb, &name, &r);
        let (s, k, orig) = (
            parse_docs(&by_sops),
            parse_docs(&by_kseal),
            parse_docs(&text),
        );
        assert_eq!(s.len(), YAML_DOCS, "seed {seed}: {name}");
        assert_eq!(k.len(), YAML_DOCS, "seed {seed}: {name}");
        for (i, ((s, k), o)) in s.iter().zip(&k).zip(&orig).enumerate() {
            let mut diffs = Vec::new();
            compare(s, k, "", &mut diffs);
            // kseal gives back the original's values exactly (floats stay floats).
            let mut lost = Vec::new();
            compare(o, k, "", &mut lost);
            diffs.extend(lost.into_iter().map(|d| format!("original vs kseal {d}")));
            if !diffs.is_empty() {
                failures.push(format!("{name} document {}: {}", i + 1, diffs.join("; ")));
            }
            docs += 1;
        }
    }

    for f in 0..JSON_FILES {
        // One object holding the documents: one sops call per file.
        let members: Vec<String> = (0..JSON_DOCS)
            .map(|i| {
                let n = rng.below(6);
                format!("\"doc{i}\": {}", json_object(&mut rng, 0, n))
            })
            .collect();
        let text = format!("{{{}}}\n", members.join(",\n"));
        let name = format!("d{f}.json");
        sb.write(&name, &text);
        let (by_sops, by_kseal) = both_decrypt(&sb, &name, &r);
        if by_sops != by_kseal {
            let at = by_sops
                .lines()
                .zip(by_kseal.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            failures.push(format!(
                "{name}: line {}: sops {:?} / kseal {:?}",
                at + 1,
                by_sops.lines().nth(at),
                by_kseal.lines().nth(at)
            ));
        }
        docs += JSON_DOCS;
    }
    assert!(docs >= 200);
    assert!(
        failures.is_empty(),
        "seed {seed} (KSEAL_DIFF_SEED={seed} replays it): {} documents differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Numbers as sops prints them: a sops-written JSON file with integers, integral floats,
/// exponents and fractions decrypts to exactly sops's text (Go's formatting: `7`, `1000`,
/// `0.5`, `1e+21`); the same numbers in YAML keep their values, an integral float staying a
/// float in kseal (`7.0`, where sops prints `7`: the one difference, docs/format.md).
#[test]
fn numbers_come_back_as_sops_prints_them() {
    let sb = Sandbox::new();
    let r = recipient();
    sb.write(
        "n.json",
        "{\"int\": 7, \"integral\": 7.0, \"exp\": 1e3, \"frac\": 0.5, \"negzero\": -0.0, \"small\": 1.5e-7, \"big\": 1e21, \"bigint\": 123456789012345678, \"neg\": -3, \"e30\": 2.5e+30, \"micro\": 0.000001}\n",
    );
    let (by_sops, by_kseal) = both_decrypt(&sb, "n.json", &r);
    assert_eq!(by_kseal, by_sops);
    for line in [
        "\"int\": 7,",
        "\"integral\": 7,",
        "\"exp\": 1000,",
        "\"frac\": 0.5,",
        "\"negzero\": -0,",
        "\"small\": 1.5e-7,",
        "\"big\": 1e+21,",
        "\"bigint\": 123456789012345680,",
        "\"e30\": 2.5e+30,",
        "\"micro\": 0.000001",
    ] {
        assert!(by_kseal.contains(line), "{line}: {by_kseal}");
    }

    sb.write(
        "n.yaml",
        "int: 7\nintegral: 7.0\nexp: 1e3\nfrac: 0.5\nnegzero: -0.0\nsmall: 1.5e-7\nbig: 1.0e+21\nbigint: 123456789012345678\nneg: -3\n",
    );
    let (by_sops, by_kseal) = both_decrypt(&sb, "n.yaml", &r);
    let (s, k) = (parse_docs(&by_sops), parse_docs(&by_kseal));
    let mut diffs = Vec::new();
    compare(&s[0], &k[0], "", &mut diffs);
    assert!(diffs.is_empty(), "{diffs:?}");
    // What each prints: sops turns the integral floats into integers, kseal keeps them floats.
    for (key, sops, kseal) in [
        ("int", "7", "7"),
        ("integral", "7", "7.0"),
        ("exp", "1000", "1000.0"),
        ("frac", "0.5", "0.5"),
        ("negzero", "-0", "-0.0"),
        ("bigint", "123456789012345678", "123456789012345678"),
        ("neg", "-3", "-3"),
    ] {
        assert!(
            by_sops.contains(&format!("\n{key}: {sops}\n"))
                || by_sops.starts_with(&format!("{key}: {sops}\n")),
            "sops {key}: {by_sops}"
        );
        assert!(
            by_kseal.contains(&format!("\n{key}: {kseal}\n"))
                || by_kseal.starts_with(&format!("{key}: {kseal}\n")),
            "kseal {key}: {by_kseal}"
        );
    }
    let V::Map(entries) = &k[0] else {
        panic!("a mapping")
    };
    for (key, v) in entries {
        let float = matches!(v, V::Scalar(Typed::Float(_)));
        let want = !matches!(key.as_str(), "int" | "bigint" | "neg");
        assert_eq!(float, want, "{key} typed as a float by kseal: {float}");
    }
}
