//! Branch tests for the `sops:` block (`metadata.rs`): every key-source layout and refusal of
//! `from_mapping`, the `lastmodified` formats, and the exact layout `render` writes.

use super::*;
use crate::error::Kind;
use crate::yaml::tree::parse;

/// Reads the `sops:` block of a one-document YAML text.
fn meta(text: &str) -> Result<Metadata> {
    let st = parse(text).unwrap();
    let root = st.docs[0].root_mapping().unwrap();
    Metadata::from_mapping(root.get("sops").unwrap().as_mapping().unwrap())
}

/// A block with `body` (indented two spaces) and a `lastmodified`.
fn block(body: &str) -> String {
    format!("sops:\n  lastmodified: \"2024-01-02T03:04:05Z\"\n{body}")
}

const AGE: &str = "  age:\n    - recipient: age1top\n      enc: top\n";

fn err_text(text: &str) -> String {
    meta(text).err().unwrap().to_string()
}

#[test]
fn reads_every_top_level_field() {
    let m = meta(&block(&format!(
        "{AGE}  mac: M\n  encrypted_suffix: _enc\n  mac_only_encrypted: true\n  version: 3.9.0\n"
    )))
    .unwrap();
    assert!(
        m.age
            == vec![AgeEntry {
                recipient: "age1top".into(),
                enc: "top".into()
            }]
    );
    assert_eq!(m.lastmodified, "2024-01-02T03:04:05Z");
    assert_eq!(m.mac, "M");
    assert_eq!(m.rule.key_value(), ("encrypted_suffix", "_enc"));
    assert!(m.mac_only_encrypted);
    assert_eq!(m.version, "3.9.0");
    assert!(m.other_key_sources.is_empty());
    // Missing optional fields: no MAC, sops's default rule, no version.
    let m = meta(&block(AGE)).unwrap();
    assert_eq!((m.mac.as_str(), m.version.as_str()), ("", ""));
    assert_eq!(m.rule.key_value(), ("unencrypted_suffix", "_unencrypted"));
    assert!(!m.mac_only_encrypted);
}

#[test]
fn mac_only_encrypted_is_a_yaml_true_only() {
    for (v, want) in [
        ("true", true),
        ("True", true),
        ("TRUE", true),
        ("false", false),
        ("yes", false),
        ("\"\"", false),
    ] {
        let m = meta(&block(&format!("{AGE}  mac_only_encrypted: {v}\n"))).unwrap();
        assert_eq!(m.mac_only_encrypted, want, "{v}");
    }
}

#[test]
fn refuses_a_block_without_lastmodified_keys_or_with_two_rules() {
    let e = err_text(&format!("sops:\n{AGE}  mac: M\n"));
    assert!(e.contains("no `lastmodified`"), "{e}");
    assert!(err_text(&block("  mac: M\n")).contains("lists no keys"));
    assert!(err_text(&block("  age: []\n  pgp: []\n")).contains("lists no keys"));
    let e = err_text(&block(&format!(
        "{AGE}  encrypted_regex: ^data$\n  unencrypted_suffix: _u\n"
    )));
    assert!(e.contains("more than one crypt rule"), "{e}");
    let e = err_text(&block(&format!("{AGE}  encrypted_regex: \"(\"\n")));
    assert!(e.contains("invalid `encrypted_regex`"), "{e}");
}

#[test]
fn age_entries_are_checked() {
    assert!(err_text(&block("  age: age1x\n")).contains("`age` entry is not a list"));
    assert!(err_text(&block("  age:\n    - age1x\n")).contains("not a mapping"));
    assert!(err_text(&block("  age:\n    - recipient: age1x\n")).contains("no `enc` field"));
    // The recipient is trimmed; a missing one reads as empty (sops writes it, kseal reports it).
    let m = meta(&block(
        "  age:\n    - recipient: \" age1x \"\n      enc: a\n    - enc: b\n",
    ))
    .unwrap();
    let got: Vec<(&str, &str)> = m
        .age
        .iter()
        .map(|a| (a.recipient.as_str(), a.enc.as_str()))
        .collect();
    assert_eq!(got, [("age1x", "a"), ("", "b")]);
}

/// A key source counts as used unless it is absent, `[]`, or a YAML null / empty scalar.
#[test]
fn other_key_sources_count_unless_empty() {
    for empty in ["[]", "\"\"", "~", "null", "Null", "NULL"] {
        let m = meta(&block(&format!("{AGE}  pgp: {empty}\n"))).unwrap();
        assert!(m.other_key_sources.is_empty(), "{empty}");
    }
    for used in ["[x]", "x", "{a: b}"] {
        let m = meta(&block(&format!("{AGE}  pgp: {used}\n"))).unwrap();
        assert_eq!(m.other_key_sources, ["pgp"], "{used}");
    }
    let m = meta(&block(
        "  kms:\n    - arn: a\n  hc_vault_transit:\n    - key: k\n  age: null\n",
    ))
    .unwrap();
    assert!(m.age.is_empty());
    assert_eq!(m.other_key_sources, ["kms", "hc_vault_transit"]);
    // An empty `age` scalar is an empty list too.
    let m = meta(&block("  age: \"\"\n  gcp_kms:\n    - id: g\n")).unwrap();
    assert_eq!(m.other_key_sources, ["gcp_kms"]);
}

/// sops 3.9+ may store keys in one `key_groups` entry instead of at the top level: that
/// group is read and the top-level lists are ignored.
#[test]
fn one_key_group_is_read_instead_of_the_top_level() {
    let m = meta(&block(&format!(
        "{AGE}  key_groups:\n    - age:\n        - recipient: age1group\n          enc: g\n      azure_kv:\n        - vault: v\n      pgp: []\n"
    )))
    .unwrap();
    let got: Vec<&str> = m.age.iter().map(|a| a.recipient.as_str()).collect();
    assert_eq!(got, ["age1group"]);
    assert_eq!(m.other_key_sources, ["azure_kv"]);
    // A group with other sources only.
    let m = meta(&block("  key_groups:\n    - hckms:\n        - id: h\n")).unwrap();
    assert!(m.age.is_empty());
    assert_eq!(m.other_key_sources, ["hckms"]);
    // An empty `key_groups` list falls back to the top level.
    let m = meta(&block(&format!("{AGE}  key_groups: []\n"))).unwrap();
    assert_eq!(m.age[0].recipient, "age1top");
    // A group that lists nothing lists no keys, whatever the top level says.
    let e = err_text(&block(&format!("{AGE}  key_groups:\n    - age: []\n")));
    assert!(e.contains("lists no keys"), "{e}");
}

/// Several key groups (Shamir): each group's entries are kept apart with the threshold, which
/// defaults to every group; other key sources in any group are named once.
#[test]
fn several_key_groups_are_read_with_their_threshold() {
    let group = |r: &str| {
        format!("    - hc_vault: []\n      age:\n        - recipient: {r}\n          enc: e{r}\n")
    };
    let text = block(&format!(
        "  shamir_threshold: 2\n  key_groups:\n{}{}{}",
        group("age1a"),
        group("age1b"),
        group("age1c")
    ));
    let m = meta(&text).unwrap();
    assert!(m.age.is_empty());
    let g = m.key_groups.as_ref().unwrap();
    assert_eq!(g.threshold, 2);
    let got: Vec<Vec<&str>> = g
        .groups
        .iter()
        .map(|e| e.iter().map(|a| a.recipient.as_str()).collect())
        .collect();
    assert_eq!(got, [["age1a"], ["age1b"], ["age1c"]]);
    assert_eq!(g.groups[1][0].enc, "eage1b");
    // No threshold, or 0: every group.
    for t in ["", "  shamir_threshold: 0\n"] {
        let text = block(&format!(
            "{t}  key_groups:\n{}{}",
            group("age1a"),
            group("age1b")
        ));
        assert_eq!(meta(&text).unwrap().key_groups.unwrap().threshold, 2);
    }
    // A pgp key in the second group is named.
    let text = block(&format!(
        "  key_groups:\n{}    - pgp:\n        - fp: F\n      age: []\n",
        group("age1a")
    ));
    assert_eq!(meta(&text).unwrap().other_key_sources, ["pgp"]);
    let e = err_text(&block(&format!(
        "  shamir_threshold: two\n  key_groups:\n{}{}",
        group("age1a"),
        group("age1b")
    )));
    assert!(e.contains("not a whole number"), "{e}");
}

/// `render` writes key groups in sops's layout (threshold, then each group's `hc_vault: []` and
/// `age` list) and reads back the same.
#[test]
fn key_groups_render_as_sops_writes_them() {
    let mut m = sample(0, false);
    m.key_groups = Some(KeyGroups {
        groups: vec![sample(1, false).age, sample(2, false).age],
        threshold: 2,
    });
    let text = render(&m, 0, 4, "\n");
    assert!(
        text.starts_with(
            "sops:\n    shamir_threshold: 2\n    key_groups:\n        - hc_vault: []\n          age:\n            - recipient: age1r0\n              enc: |\n                -----BEGIN AGE ENCRYPTED FILE-----\n"
        ),
        "{text}"
    );
    assert!(!text.contains("\n    age:"), "{text}");
    let back = meta(&text).unwrap();
    assert!(back.key_groups == m.key_groups && back.age.is_empty());
}

#[test]
fn key_groups_refusals() {
    let e = err_text(&block("  key_groups:\n    - age1g\n    - age1h\n"));
    assert!(e.contains("key group is not a mapping"), "{e}");
    let e = err_text(&block("  key_groups:\n    - age: age1g\n    - age: []\n"));
    assert!(e.contains("`age` entry is not a list"), "{e}");
    let e = err_text(&block("  key_groups:\n    - age1g\n"));
    assert!(e.contains("key group is not a mapping"), "{e}");
}

#[test]
fn mac_aad_reformats_as_go_does() {
    let with = |lm: &str| {
        let mut m = meta(&block(AGE)).unwrap();
        m.lastmodified = lm.to_string();
        m.mac_aad()
    };
    assert_eq!(
        with(" 2024-01-02T03:04:05.999999+05:45 ").unwrap(),
        "2024-01-02T03:04:05+05:45"
    );
    assert_eq!(
        with("2024-12-31T23:59:59z").unwrap(),
        "2024-12-31T23:59:59Z"
    );
    for bad in ["", "2024-01-02 03:04:05", "yesterday"] {
        let e = with(bad).err().unwrap();
        assert_eq!(e.kind, Kind::Format);
        assert!(e.to_string().contains("not an RFC 3339 time"), "{e}");
    }
}

#[test]
fn go_rfc3339_offsets() {
    let f = |s: &str| format_go_rfc3339(OffsetDateTime::parse(s, &Rfc3339).unwrap());
    for (input, want) in [
        ("0987-06-05T04:03:02Z", "0987-06-05T04:03:02Z"),
        ("2024-02-29T23:59:59.1-00:30", "2024-02-29T23:59:59-00:30"),
        ("2024-01-02T03:04:05+05:45", "2024-01-02T03:04:05+05:45"),
        ("2024-01-02T03:04:05-09:30", "2024-01-02T03:04:05-09:30"),
        ("2024-01-02T03:04:05+14:00", "2024-01-02T03:04:05+14:00"),
        ("2024-01-02T03:04:05-00:00", "2024-01-02T03:04:05Z"),
    ] {
        assert_eq!(f(input), want, "{input}");
    }
}

#[test]
fn now_lastmodified_is_utc_to_the_second() {
    let now = now_lastmodified();
    let t = OffsetDateTime::parse(&now, &Rfc3339).unwrap();
    assert!(t.offset().is_utc());
    assert_eq!(format_go_rfc3339(t), now);
    assert_eq!(now.len(), "2024-01-02T03:04:05Z".len());
    assert!(t.year() >= 2024, "{now}");
}

fn sample(age: usize, mac_only_encrypted: bool) -> Metadata {
    Metadata {
        key_groups: None,
        age: (0..age)
            .map(|i| AgeEntry {
                recipient: format!("age1r{i}"),
                enc: format!(
                    "-----BEGIN AGE ENCRYPTED FILE-----\nE{i}\n-----END AGE ENCRYPTED FILE-----\n"
                ),
            })
            .collect(),
        lastmodified: "2024-01-02T03:04:05Z".into(),
        mac: "ENC[M]".into(),
        rule: CryptRule::kubernetes(),
        mac_only_encrypted,
        version: "3.11.0".into(),
        other_key_sources: vec![],
        kseal_mac: None,
    }
}

#[test]
fn render_two_space_layout() {
    let want = "\
sops:
  age:
    - recipient: age1r0
      enc: |
        -----BEGIN AGE ENCRYPTED FILE-----
        E0
        -----END AGE ENCRYPTED FILE-----
    - recipient: age1r1
      enc: |
        -----BEGIN AGE ENCRYPTED FILE-----
        E1
        -----END AGE ENCRYPTED FILE-----
  lastmodified: \"2024-01-02T03:04:05Z\"
  mac: ENC[M]
  encrypted_regex: ^(data|stringData)$
  version: 3.11.0
";
    assert_eq!(render(&sample(2, false), 0, 2, "\n"), want);
}

#[test]
fn render_four_spaces_crlf_nested_with_mac_only_encrypted() {
    // The armor goes to the first multiple of the unit past `enc:` (16 here).
    let want = "  sops:\r
      age:\r
          - recipient: age1r0\r
            enc: |\r
                -----BEGIN AGE ENCRYPTED FILE-----\r
                E0\r
                -----END AGE ENCRYPTED FILE-----\r
      lastmodified: \"2024-01-02T03:04:05Z\"\r
      mac: ENC[M]\r
      encrypted_regex: ^(data|stringData)$\r
      mac_only_encrypted: true\r
      version: 3.11.0\r
";
    assert_eq!(render(&sample(1, true), 2, 4, "\r\n"), want);
}

#[test]
fn render_quotes_what_plain_yaml_would_misread_and_reads_back() {
    let mut m = sample(0, false);
    m.rule = CryptRule::from_key("unencrypted_regex", "^(a|b): c$").unwrap();
    m.version = "".into();
    m.age.push(AgeEntry {
        recipient: "age1 #x".into(),
        enc: "E\n".into(),
    });
    let text = render(&m, 0, 2, "\n");
    assert!(
        text.contains("  unencrypted_regex: '^(a|b): c$'\n"),
        "{text}"
    );
    assert!(text.contains("  version: ''\n"), "{text}");
    assert!(text.contains("    - recipient: 'age1 #x'\n"), "{text}");
    let back = meta(&text).unwrap();
    assert!(back.age == m.age);
    assert_eq!(back.rule.key_value(), m.rule.key_value());
    // A line break cannot be single-quoted on one line.
    m.version = "a\nb".into();
    assert!(render(&m, 0, 2, "\n").contains("  version: \"a\\nb\"\n"));
    // No age entry: no `age:` key at all.
    let none = render(&sample(0, false), 0, 2, "\n");
    assert!(!none.contains("age"), "{none}");
    assert!(none.starts_with("sops:\n  lastmodified: "), "{none}");
}
