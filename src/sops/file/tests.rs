//! Unit tests of whole-file encryption and decryption, on real sops files and on kseal's own.

use super::seal::encrypt_inner;
use super::verify::read_back;
use super::*;
use crate::error::Kind;
use crate::sops::structural;
use crate::sops::test_support::{enc_tokens, interop, key_hex, settings_of, test_settings};

#[test]
fn decrypts_real_sops_files_with_their_data_keys() {
    for (file, hex) in [
        (
            "flux/age.yaml",
            "558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb",
        ),
        (
            "flux/global-secret.yaml",
            "95c21ac70e00e7cfc9c33cbaf95451176e458a504fe665a77f28ba93ff46b595",
        ),
        (
            "flux/merge1.yaml",
            "1c15baa8e9b1775f5db7aabb0d1862485591ccd778c0ca2878992b64118325a7",
        ),
        (
            "flux/merge2.yaml",
            "bf03b7f435e6a4b2f8672d006a52fb3802c24bc294db237243ef09a9f7bda777",
        ),
        (
            "metalkast/secret.enc.yaml",
            "6ec5fc288565ee1142418e1f965b3a97576d585701a7ac01ffdf5426e8e7d02b",
        ),
        (
            "metalkast/two-secrets.enc.yaml",
            "ed93b3ca46c81a650cd93ca7f2026192ba0830462b67597078efbb9a8e1cbbff",
        ),
        (
            "metalkast/four-secrets.enc.yaml",
            "ee6c280fb84962220e51b1a7b9a59c63016c38466d65758af6dabda08741fa39",
        ),
        (
            "sops/example.yaml",
            "9ac088cf7029981341457c39dd56dde54600dfbce9b5ede23aa65c418900ab67",
        ),
    ] {
        let src = interop(file);
        let out = decrypt(&src, &key_hex(hex), &DecryptOptions::default())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let env = out.envelope.expect("encrypted");
        assert!(env.mac_ok, "{file}");
        assert!(!out.text.contains("ENC["), "{file}: {}", out.text.as_str());
        assert!(!out.text.contains("sops:"), "{file}");
    }
}

#[test]
fn flux_age_plaintext_and_byte_exact_reencryption() {
    let src = interop("flux/age.yaml");
    let key = key_hex("558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb");
    let out = decrypt(&src, &key, &DecryptOptions::default()).unwrap();
    assert_eq!(
        out.text.as_str(),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: age\nstringData:\n  key: value\n"
    );
    let env = out.envelope.unwrap();
    let settings = settings_of(&env);
    let again = encrypt(&out.text, &settings, &|_| true).unwrap();
    // sops 3.9 wrote empty key lists and `pgp: []`; kseal writes the 3.10+ layout, and
    // adds its structural MAC as the block's last line: all the rest is what sops wrote.
    let expected: String = src
        .lines()
        .filter(|l| !l.ends_with(": []"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (body, last) = again.trim_end_matches('\n').rsplit_once('\n').unwrap();
    assert!(last.starts_with("  kseal_mac: v1:"), "{last}");
    assert_eq!(format!("{body}\n"), expected);
    let back = decrypt(&again, &key, &DecryptOptions::default()).unwrap();
    assert_eq!(back.text.as_str(), out.text.as_str());
}

/// Spec section 15: re-encrypting with the recorded data key, IVs, lastmodified and enc
/// stanzas reproduces every ENC string and the MAC of a real sops file.
#[test]
fn byte_exact_reencryption_of_real_sops_files() {
    for (file, hex) in [
        (
            "flux/age.yaml",
            "558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb",
        ),
        (
            "metalkast/four-secrets.enc.yaml",
            "ee6c280fb84962220e51b1a7b9a59c63016c38466d65758af6dabda08741fa39",
        ),
        (
            "metalkast/two-secrets.enc.yaml",
            "ed93b3ca46c81a650cd93ca7f2026192ba0830462b67597078efbb9a8e1cbbff",
        ),
        (
            "sops/example.yaml",
            "9ac088cf7029981341457c39dd56dde54600dfbce9b5ede23aa65c418900ab67",
        ),
    ] {
        let src = interop(file);
        let key = key_hex(hex);
        let out = decrypt(&src, &key, &DecryptOptions::default()).unwrap();
        let env = out.envelope.unwrap();
        let settings = settings_of(&env);
        let again = encrypt(&out.text, &settings, &|_| true).unwrap();
        assert_eq!(enc_tokens(&again), enc_tokens(&src), "{file}");
        // Outside the `sops:` blocks the file is byte for byte what sops wrote: values
        // that decryption showed as blocks go back on their key's line.
        let body = |t: &str| -> String {
            let mut out = String::new();
            let mut in_sops = false;
            for line in t.split_inclusive('\n') {
                if line.starts_with("sops:") {
                    in_sops = true;
                } else if in_sops && !line.starts_with(' ') {
                    in_sops = false;
                }
                if !in_sops {
                    out.push_str(line);
                }
            }
            out
        };
        assert_eq!(body(&again), body(&src), "{file}");
    }
}

/// sops 3.13 writes the block in alphabetical order (`enc` before `recipient`), with
/// empty key lists left out; readers must not care.
#[test]
fn reads_the_sops_313_alphabetical_layout() {
    let src = interop("flux/age.yaml");
    let key = key_hex("558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb");
    let (head, block) = src.split_at(src.find("sops:\n").unwrap());
    let enc_start = block.find("      enc: |\n").unwrap();
    let enc_end = block.find("  lastmodified:").unwrap();
    let enc = &block[enc_start..enc_end];
    let line = |k: &str| {
        block
            .lines()
            .find(|l| l.trim_start().starts_with(k))
            .unwrap()
            .to_string()
    };
    let reordered = format!(
        "{head}sops:\n  age:\n    - {}{}      {}\n  {}\n  {}\n  {}\n  {}\n",
        enc.trim_start(),
        "",
        line("- recipient:").trim_start().trim_start_matches("- "),
        line("encrypted_regex:").trim(),
        line("lastmodified:").trim(),
        line("mac:").trim(),
        line("version:").trim(),
    );
    let out = decrypt(&reordered, &key, &DecryptOptions::default())
        .unwrap_or_else(|e| panic!("{e}\n{reordered}"));
    assert!(out.envelope.unwrap().mac_ok);
    assert!(out.text.ends_with("stringData:\n  key: value\n"));
}

#[test]
fn four_secrets_needs_every_document_for_the_mac() {
    let src = interop("metalkast/four-secrets.enc.yaml");
    let key = key_hex("ee6c280fb84962220e51b1a7b9a59c63016c38466d65758af6dabda08741fa39");
    let first_doc_end = src[1..].find("\n---").unwrap() + 2;
    let err = decrypt(&src[..first_doc_end], &key, &DecryptOptions::default())
        .err()
        .unwrap();
    assert_eq!(err.kind, Kind::Integrity);
    let tampered = src.replacen("namespace: test-ns", "namespace: prod-ns", 1);
    assert_eq!(
        decrypt(&tampered, &key, &DecryptOptions::default())
            .err()
            .unwrap()
            .kind,
        Kind::Integrity
    );
    let ignored = decrypt(
        &tampered,
        &key,
        &DecryptOptions {
            ignore_mac: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!ignored.envelope.unwrap().mac_ok);
}

#[test]
fn encrypt_round_trip_keeps_bytes() {
    let src = "# head\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db  # inline\ndata:\n  # note\n  password: czNjcjN0\n  empty: \"\"\n  cert: |\n    line1\n    line2\nstringData:\n  port: 5432\n  flag: 'yes'\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n";
    let key = DataKey::generate().unwrap();
    let settings = test_settings(&key);
    let enc = encrypt(src, &settings, &|d| {
        d.root_mapping().and_then(|m| m.get_str("kind")) == Some("Secret")
    })
    .unwrap();
    assert!(
        !enc.contains("czNjcjN0") && !enc.contains("line1") && !enc.contains(" note"),
        "{enc}"
    );
    assert!(enc.contains("kind: ConfigMap\ndata:\n  a: b\n"));
    let dec = decrypt(&enc, &key, &DecryptOptions::default()).unwrap();
    assert_eq!(dec.text.as_str(), src);
}

/// The check `encrypt_checked` runs instead of a full decryption must catch what a
/// decryption would: values swapped or moved, a clear value changed, a sops block edited.
#[test]
fn the_encryption_check_catches_splicing_mistakes() {
    let src = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\ndata:\n  a: YWFh\n  b: YmJi\nstringData:\n  c: |\n    line\n---\nkind: Secret\nstringData:\n  d: dd\n";
    let key = DataKey::generate().unwrap();
    let settings = test_settings(&key);
    let select = |d: &Document| d.root_mapping().and_then(|m| m.get_str("kind")) == Some("Secret");
    let stream = tree::parse(src).unwrap();
    let enc = encrypt_inner(src, &stream, &settings, &select).unwrap();
    let check = |out: &str| {
        let st = tree::parse(out)?;
        read_back(&st, &enc, &settings)
    };
    assert!(check(&enc.out).unwrap(), "the untouched output must pass");
    // The real decryption agrees (once the structural MAC replaces its placeholder).
    assert_eq!(
        decrypt(
            &structural::seal_text(&enc.out, &key).unwrap(),
            &key,
            &DecryptOptions::default()
        )
        .unwrap()
        .text
        .as_str(),
        src
    );
    let enc_of = |k: &str| {
        let line = enc
            .out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{k}: ENC[")))
            .unwrap();
        line.split_once(": ").unwrap().1.to_string()
    };
    let (a, b) = (enc_of("a"), enc_of("b"));
    let swapped = enc.out.replace(&a, "@").replace(&b, &a).replace('@', &b);
    let moved = enc.out.replace(&enc_of("d"), &a);
    let renamed = enc.out.replace("namespace: prod", "namespace: dev");
    let dropped_doc = enc.out.split("---\n").next().unwrap().to_string();
    let mac_line = enc
        .out
        .lines()
        .find(|l| l.trim_start().starts_with("mac: "))
        .unwrap();
    let other_mac = enc.out.replace(
        mac_line,
        "    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]",
    );
    for (name, bad) in [
        ("swapped", swapped),
        ("moved", moved),
        ("renamed", renamed),
        ("dropped", dropped_doc),
        ("mac", other_mac),
    ] {
        assert_ne!(bad, enc.out, "{name}: the tampering did not apply");
        assert!(!matches!(check(&bad), Ok(true)), "{name}: not caught");
    }
}

/// `set`/`edit`: re-encrypting edited plaintext into the file's envelope keeps the data key,
/// the wrapped keys and the IVs of unchanged values, and the result decrypts to the edit.
#[test]
fn reencrypt_writes_the_edit_into_the_same_envelope() {
    let src = interop("flux/age.yaml");
    let key = key_hex("558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb");
    let out = decrypt(&src, &key, &DecryptOptions::default()).unwrap();
    let env = out.envelope.unwrap();

    // Nothing changed: every value's ENC string is the one sops wrote (the MAC, last, covers
    // the new `lastmodified`).
    let same = reencrypt(&out.text, &env, &|_| true).unwrap();
    let (values, theirs) = (enc_tokens(&same), enc_tokens(&src));
    assert_eq!(values.len(), 2);
    assert_eq!(values[..1], theirs[..1]);

    let edited = out.text.replace("key: value", "key: changed\n  other: new");
    let again = reencrypt(&edited, &env, &|_| true).unwrap();
    let back = decrypt(&again, &key, &DecryptOptions::default()).unwrap();
    assert_eq!(back.text.as_str(), edited);
    assert!(back.envelope.unwrap().mac_ok);
    // The same wrapped data key: the `enc` lines are unchanged.
    let enc_lines = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.trim_start().starts_with("-----") || l.starts_with("            "))
            .map(String::from)
            .collect()
    };
    assert!(!enc_lines(&src).is_empty());
    assert_eq!(enc_lines(&again), enc_lines(&src));
    assert!(!again.contains("changed") && !again.contains("new\n"));
}

/// A sops file seals every document; kseal leaves documents other than Secrets clear.
/// Only the first kind "covers all" (re-encryption then takes every document).
#[test]
fn covers_all_says_whether_every_document_is_sealed() {
    let src = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  a: b\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n";
    let key = DataKey::generate().unwrap();
    let settings = test_settings(&key);
    let secrets_only = encrypt(src, &settings, &|d| {
        d.root_mapping().and_then(|m| m.get_str("kind")) == Some("Secret")
    })
    .unwrap();
    let env = decrypt(&secrets_only, &key, &DecryptOptions::default())
        .unwrap()
        .envelope
        .unwrap();
    assert_eq!((env.docs.len(), env.doc_count), (1, 2));
    assert!(!env.covers_all());
    let every = encrypt(src, &settings, &|_| true).unwrap();
    let env = decrypt(&every, &key, &DecryptOptions::default())
        .unwrap()
        .envelope
        .unwrap();
    assert!(env.covers_all());
    // A real sops file with four documents.
    let four = interop("metalkast/four-secrets.enc.yaml");
    let key = key_hex("ee6c280fb84962220e51b1a7b9a59c63016c38466d65758af6dabda08741fa39");
    let env = decrypt(&four, &key, &DecryptOptions::default())
        .unwrap()
        .envelope
        .unwrap();
    assert_eq!(env.doc_count, 4);
    assert!(env.covers_all());
}

/// A Secret and a ConfigMap, and the decryption of their encryption (the envelope holds the
/// Secret only).
fn secret_and_configmap(key: &DataKey) -> (String, Decrypted) {
    let src = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  user: admin\n  password: hunter22\n---\nkind: ConfigMap\ndata:\n  a: b\n";
    let enc = encrypt(src, &test_settings(key), &|d| {
        d.root_mapping().and_then(|m| m.get_str("kind")) == Some("Secret")
    })
    .unwrap();
    let dec = decrypt(&enc, key, &DecryptOptions::default()).unwrap();
    assert_eq!(dec.text.as_str(), src);
    (enc, dec)
}

/// A version sops cannot parse is replaced on re-encryption; a valid one is kept.
#[test]
fn reencrypt_replaces_a_version_sops_cannot_parse() {
    let key = DataKey::generate().unwrap();
    let (_, dec) = secret_and_configmap(&key);
    let mut env = dec.envelope.unwrap();
    let all = |_: &Document| true;
    let version_of = |t: &str| {
        t.lines()
            .find_map(|l| l.trim_start().strip_prefix("version: "))
            .unwrap()
            .to_string()
    };
    let secret_only = dec.text.split("---\n").next().unwrap().to_string();
    env.meta.version = "3.9.1".into();
    assert_eq!(
        version_of(&reencrypt(&secret_only, &env, &all).unwrap()),
        "3.9.1"
    );
    env.meta.version = "3.11".into();
    assert_eq!(
        version_of(&reencrypt(&secret_only, &env, &all).unwrap()),
        crate::sops::metadata::SOPS_FORMAT_VERSION
    );
}

/// A value sealed with a fresh IV, parsed back as decryption records it.
fn sealed_value(
    key: &DataKey,
    plaintext: &[u8],
    aad: &str,
    ty: &str,
) -> crate::sops::value::EncValue {
    use crate::sops::value;
    let text = value::seal(
        key,
        plaintext,
        aad.as_bytes(),
        &value::random_iv().unwrap(),
        ty,
    )
    .unwrap();
    value::parse(&text).unwrap()
}

/// The IV stash reuses a recorded IV only for the same plaintext, path and type, says whether
/// the value stood inline, and counts what it holds.
#[test]
fn the_iv_stash_reuses_an_iv_only_for_the_same_value() {
    use crate::sops::value;
    let key = DataKey::generate().unwrap();
    let mut stash = IvStash::default();
    assert!(stash.is_empty());
    assert_eq!(stash.len(), 0);
    let first = sealed_value(&key, b"hunter22", "data:password:", "str");
    let recorded = value::render(&first.data, &first.iv, &first.tag, "str");
    stash.record("data:password:", first);
    let block = sealed_value(&key, b"line\n", "data:cert:", "str");
    let block_text = value::render(&block.data, &block.iv, &block.tag, "str");
    stash.record_value("data:cert:", block, false);
    assert!(!stash.is_empty());
    assert_eq!(stash.len(), 2);
    // Unchanged: the recorded ciphertext, and where the value stood.
    assert_eq!(
        stash
            .seal_value(&key, b"hunter22", "data:password:", "str")
            .unwrap(),
        (recorded.clone(), Some(true))
    );
    assert_eq!(
        stash
            .seal(&key, b"hunter22", "data:password:", "str")
            .unwrap(),
        recorded
    );
    assert_eq!(
        stash
            .seal_value(&key, b"line\n", "data:cert:", "str")
            .unwrap(),
        (block_text, Some(false))
    );
    // A different plaintext of the same length, another path or another type: a fresh IV.
    for (pt, aad, ty) in [
        (&b"hunter23"[..], "data:password:", "str"),
        (b"hunter22", "data:other:", "str"),
        (b"hunter22", "data:password:", "bytes"),
    ] {
        let (text, inline) = stash.seal_value(&key, pt, aad, ty).unwrap();
        assert_eq!(inline, None, "{aad} {ty}");
        let iv = value::parse(&text).unwrap().iv;
        assert_ne!(iv, value::parse(&recorded).unwrap().iv, "{aad} {ty}");
        assert_eq!(
            value::open(&key, &value::parse(&text).unwrap(), aad.as_bytes())
                .unwrap()
                .as_slice(),
            pt
        );
    }
    // Two values under one path are both kept.
    stash.record(
        "data:password:",
        sealed_value(&key, b"other", "data:password:", "str"),
    );
    assert_eq!(stash.len(), 3);
    assert_eq!(
        stash
            .seal_value(&key, b"hunter22", "data:password:", "str")
            .unwrap(),
        (recorded, Some(true))
    );
}

/// A recorded value whose tag does not match (tampered, or sealed under another key) never
/// lends its IV, although the ciphertext bytes agree.
#[test]
fn the_iv_stash_needs_the_tag_to_match_too() {
    use crate::sops::value;
    let key = DataKey::generate().unwrap();
    let mut ev = sealed_value(&key, b"hunter22", "data:password:", "str");
    let iv = ev.iv.clone();
    ev.tag[0] ^= 1;
    let mut stash = IvStash::default();
    stash.record("data:password:", ev);
    let (text, inline) = stash
        .seal_value(&key, b"hunter22", "data:password:", "str")
        .unwrap();
    assert_eq!(inline, None);
    assert_ne!(value::parse(&text).unwrap().iv, iv);
    // A value whose IV is not 12 bytes is not recorded at all.
    let mut short = sealed_value(&key, b"x", "a:", "str");
    short.iv.pop();
    stash.record("a:", short);
    assert_eq!(stash.len(), 1);
}

/// `absorb` (the merge driver): values recorded by another decryption keep their ciphertext.
#[test]
fn an_absorbed_stash_lends_its_ivs() {
    use crate::sops::value;
    let key = DataKey::generate().unwrap();
    let theirs_value = sealed_value(&key, b"theirs", "data:b:", "str");
    let theirs_text = value::render(
        &theirs_value.data,
        &theirs_value.iv,
        &theirs_value.tag,
        "str",
    );
    let mut theirs = IvStash::default();
    theirs.record("data:b:", theirs_value);
    let mut ours = IvStash::default();
    ours.record("data:a:", sealed_value(&key, b"ours", "data:a:", "str"));
    ours.absorb(&theirs);
    assert_eq!(ours.len(), 2);
    assert_eq!(
        ours.seal(&key, b"theirs", "data:b:", "str").unwrap(),
        theirs_text
    );
}

/// The AAD of a value is its key path, each key followed by `:`; the root alone is `:`.
#[test]
fn aad_is_the_key_path() {
    use super::walk::aad_of;
    assert_eq!(aad_of(&[]), ":");
    assert_eq!(aad_of(&["data".into(), "a".into()]), "data:a:");
}

/// The indentation step of a document: its first nested block collection, however deep and
/// whatever its parent's column; flow collections say nothing; 2 when nothing is nested.
#[test]
fn indent_unit_is_the_first_nested_block_step() {
    use super::walk::indent_unit;
    for (src, unit) in [
        ("a: 1\n", 2),
        ("data:\n    a: 1\n", 4),
        ("data:\n   a:\n         b: 1\n", 3),
        // A flow mapping or list before the first block mapping.
        ("meta: {a: {b: 1}}\ndata:\n    b: c\n", 4),
        ("list: [{a: 1}]\ndata:\n    b: c\n", 4),
        // The first block mapping sits in a list: its step from the list's column.
        ("items:\n  - a:\n      b: 1\ndata:\n    x: y\n", 2),
        ("items:\n    - name: x\n      v:\n        w: 1\n", 2),
        // A list at its key's column (sops writes them so) says nothing.
        ("items:\n- a: 1\ndata:\n    x: y\n", 4),
        // A flow root.
        ("{data: {a: 1}}\n", 2),
    ] {
        let st = tree::parse(src).unwrap();
        assert_eq!(indent_unit(&st.docs[0]), unit, "{src}");
    }
}

/// flux/age.yaml (a sops file: no structural MAC) with its data key.
fn flux_age() -> (String, DataKey) {
    (
        interop("flux/age.yaml"),
        key_hex("558e95c88337865c839703a4e892c03eed324ae6bbcb65c2989558e1a55825bb"),
    )
}

/// A `version` sops cannot parse opens with a warning that says which; a valid one, or a
/// block cut short (named elsewhere), gives none.
#[test]
fn a_version_sops_refuses_opens_with_a_warning() {
    let (src, key) = flux_age();
    let warnings = |text: &str| {
        decrypt(text, &key, &DecryptOptions::default())
            .unwrap()
            .envelope
            .unwrap()
            .warnings
    };
    assert!(warnings(&src).is_empty());
    let short = warnings(&src.replace("version: 3.9.0", "version: 3.9"));
    assert_eq!(short.len(), 1, "{short:?}");
    assert!(
        short[0].starts_with("document 1: the `sops` block has the `version` \"3.9\", which is not MAJOR.MINOR.PATCH"),
        "{short:?}"
    );
    let none = warnings(&src.replace("  version: 3.9.0\n", ""));
    assert_eq!(none.len(), 1, "{none:?}");
    assert!(none[0].contains("has no `version`"), "{none:?}");
    // A block without its `mac` is cut short: no version warning on top.
    let stream = tree::parse(&src).unwrap();
    let cut = src.replace("  version: 3.9.0\n", "").replace(
        src.lines().find(|l| l.starts_with("  mac: ")).unwrap(),
        "  pgp2: []",
    );
    let cut_stream = tree::parse(&cut).unwrap();
    let found = super::discover::discover(&cut_stream, None)
        .unwrap()
        .unwrap();
    assert_eq!(
        super::discover::version_warning(&cut_stream, 0, &found.meta),
        None
    );
    let found = super::discover::discover(&stream, None).unwrap().unwrap();
    assert_eq!(
        super::discover::version_warning(&stream, 0, &found.meta),
        None
    );
}

/// Every document of an envelope carries the first one's block: a second document whose
/// MAC, `lastmodified`, recipients or structural MAC differ was concatenated or tampered with.
#[test]
fn documents_with_different_blocks_are_refused() {
    let src = interop("metalkast/two-secrets.enc.yaml");
    let key = key_hex("ed93b3ca46c81a650cd93ca7f2026192ba0830462b67597078efbb9a8e1cbbff");
    assert!(decrypt(&src, &key, &DecryptOptions::default()).is_ok());
    let second = src.rfind("---").unwrap();
    let (head, tail) = src.split_at(second);
    let mac = tail
        .lines()
        .find(|l| l.trim_start().starts_with("mac: "))
        .unwrap();
    let last = tail
        .lines()
        .find(|l| l.trim_start().starts_with("lastmodified: "))
        .unwrap();
    for (name, from, to) in [
        (
            "mac",
            mac,
            "    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]"
                .to_string(),
        ),
        ("lastmodified", last, last.replace("20", "19")),
    ] {
        let mut to = to;
        if name == "mac" {
            let indent = &mac[..mac.len() - mac.trim_start().len()];
            to = format!("{indent}{}", to.trim_start());
        }
        let bad = format!("{head}{}", tail.replacen(from, &to, 1));
        assert_ne!(bad, src, "{name}");
        let err = decrypt(&bad, &key, &DecryptOptions::default())
            .err()
            .unwrap();
        assert_eq!(err.kind, Kind::Integrity, "{name}");
        assert_eq!(err.doc, Some(2), "{name}: {err}");
        assert!(
            err.message.contains("differs from the first document's"),
            "{name}: {err}"
        );
    }
}

/// sops's other formats are named, not passed through or reported as YAML errors.
#[test]
fn other_sops_formats_are_recognised() {
    for (src, kind) in [
        ("sops_mac=ENC[x]\nA=ENC[y]\n", Some("dotenv")),
        ("A=ENC[y]\nsops_mac=ENC[x]\n", Some("dotenv")),
        ("sops_version=3.9.0\n", Some("dotenv")),
        ("A=1\nsops_version=3.9.0\n", Some("dotenv")),
        ("a: sops_mac=x\n", None),
        ("[sops]\nmac = ENC[x]\n", Some("INI")),
        (
            "[db]\npassword = ENC[x]\n[sops]  \nmac = ENC[x]\n",
            Some("INI"),
        ),
        ("a: '[sops]'\nmac: x\n", None),
        ("[sops]\nversion = 3\n", None),
        ("mac: 1\nb: x[sops]\n", None),
    ] {
        assert_eq!(other_sops_format(src), kind, "{src}");
    }
    let err = decrypt(
        "A=ENC[y]\nsops_mac=ENC[x]\n",
        &DataKey::generate().unwrap(),
        &DecryptOptions::default(),
    )
    .err()
    .unwrap();
    assert_eq!(err.kind, Kind::Unsupported);
    assert!(err.message.contains("sops dotenv file"), "{err}");
    let err = decrypt(
        "[sops]\nmac = ENC[x]\n",
        &DataKey::generate().unwrap(),
        &DecryptOptions::default(),
    )
    .err()
    .unwrap();
    assert_eq!(err.kind, Kind::Unsupported);
    assert!(err.message.contains("sops INI file"), "{err}");
}

/// Ciphertext in a file without a `sops:` block (truncated, or the block deleted) is refused
/// with the path of the first encrypted value; a plain file passes through unchanged.
#[test]
fn ciphertext_without_an_envelope_is_refused_with_its_path() {
    let key = DataKey::generate().unwrap();
    let plain = "kind: ConfigMap\ndata:\n  a: b\n  l:\n    - x\n";
    let out = decrypt(plain, &key, &DecryptOptions::default()).unwrap();
    assert_eq!(out.text.as_str(), plain);
    assert!(out.envelope.is_none());
    for (src, doc, path) in [
        (
            "kind: Secret\ndata:\n  a: b\n  c: ENC[AES256_GCM,data:abc]\n",
            1,
            "data.c",
        ),
        (
            "a: 1\n---\nkind: Secret\nlist:\n  - x\n  - ENC[AES256_GCM,data:abc]\n",
            2,
            "list",
        ),
        ("ENC[AES256_GCM,data:abc]\n", 1, "(top level)"),
    ] {
        let err = decrypt(src, &key, &DecryptOptions::default())
            .err()
            .unwrap();
        assert_eq!(err.kind, Kind::Integrity, "{src}");
        assert_eq!(
            (err.doc, err.path.as_deref()),
            (Some(doc), Some(path)),
            "{src}"
        );
    }
}

/// What a stored value says before anything is decrypted: a clear value where the rule
/// encrypts is tampering, an `ENC[` text that is no sops value is malformed, a clear value
/// in a block without rule nor MAC is a file cut short; an `ENC[...]` explicitly tagged as a
/// string opens, one tagged otherwise is not a sops value.
#[test]
fn stored_values_are_classified_before_decryption() {
    let (src, key) = flux_age();
    let enc_value = src.lines().find_map(|l| l.strip_prefix("  key: ")).unwrap();
    let open = |text: &str| decrypt(text, &key, &DecryptOptions::default());
    let clear = src.replace(enc_value, "value");
    let err = open(&clear).err().unwrap();
    assert_eq!(err.kind, Kind::Integrity);
    assert!(err.message.contains("not encrypted although"), "{err}");
    assert_eq!(err.path.as_deref(), Some("stringData.key"));
    let err = open(&src.replace(enc_value, "ENC[foo]")).err().unwrap();
    assert!(err.message.contains("malformed encrypted value"), "{err}");
    let cut = clear
        .replace("  encrypted_regex: ^(data|stringData)$\n", "")
        .replace(
            src.lines().find(|l| l.starts_with("  mac: ")).unwrap(),
            "  pgp2: []",
        );
    let err = open(&cut).err().unwrap();
    assert!(
        err.message
            .contains("the `sops:` block is incomplete: it has no crypt rule"),
        "{err}"
    );
    assert!(err.message.contains("and no `mac`"), "{err}");
    let tagged = open(&src.replace(enc_value, &format!("!!str {enc_value}"))).unwrap();
    assert!(
        tagged.text.contains("key: !!str value\n"),
        "{}",
        tagged.text.as_str()
    );
    assert!(open(&src.replace(enc_value, &format!("!!binary {enc_value}"))).is_err());
    // An empty value where the rule encrypts is `""` (sops never encrypts it), in the MAC.
    let empty = open(&src.replace(enc_value, "\"\"")).err().unwrap();
    assert_eq!(empty.kind, Kind::Integrity, "{empty}");
    assert!(empty.message.starts_with("MAC mismatch"), "{empty}");
}

/// A Secret retargeted by swapping its key names (the values, and so the sops MAC,
/// unchanged) is refused by the structural MAC; `ignore_mac` opens it and says so.
#[test]
fn a_structural_mismatch_is_refused_unless_ignored() {
    let key = DataKey::generate().unwrap();
    let src = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\nstringData:\n  a: x\n";
    let enc = encrypt(src, &test_settings(&key), &|_| true).unwrap();
    let env = decrypt(&enc, &key, &DecryptOptions::default())
        .unwrap()
        .envelope
        .unwrap();
    assert!(env.mac_ok && env.structural);
    let bad = enc.replace(
        "  name: db\n  namespace: prod\n",
        "  namespace: db\n  name: prod\n",
    );
    assert_ne!(bad, enc);
    let err = decrypt(&bad, &key, &DecryptOptions::default())
        .err()
        .unwrap();
    assert_eq!(err.kind, Kind::Integrity);
    assert!(err.message.starts_with("structural MAC mismatch"), "{err}");
    let ignored = DecryptOptions {
        ignore_mac: true,
        ..Default::default()
    };
    let env = decrypt(&bad, &key, &ignored).unwrap().envelope.unwrap();
    assert!(!env.mac_ok && !env.structural);
    // A file sops wrote has no structural MAC.
    let (sops, k) = flux_age();
    let env = decrypt(&sops, &k, &DecryptOptions::default())
        .unwrap()
        .envelope
        .unwrap();
    assert!(env.mac_ok && !env.structural);
}

/// A file without a final line break, or with CRLF line ends, decrypts back to exactly what
/// was encrypted (kseal added a line break before its block), also for plaintext-only reads.
#[test]
fn files_without_a_final_line_break_round_trip() {
    let key = DataKey::generate().unwrap();
    let plain_only = DecryptOptions {
        plain_only: true,
        ..Default::default()
    };
    for src in [
        "kind: Secret\nstringData:\n  a: b",
        "kind: Secret\nstringData:\n  c: |\n    line",
        "kind: Secret\r\nstringData:\r\n  a: b",
        "kind: Secret\r\nstringData:\r\n  a: b\r\n",
        "kind: Secret\nstringData:\n  a: b\nmetadata:\n  note: |\n    x",
        "kind: Secret\nstringData:\n  a: b\n---\nkind: Secret\nstringData:\n  c: |\n    line",
        "kind: Secret\nstringData:\n  c: |\n    line\n---\nkind: Secret\nstringData:\n  a: b",
    ] {
        let enc = encrypt(src, &test_settings(&key), &|_| true).unwrap();
        for opts in [DecryptOptions::default(), plain_only] {
            let dec = decrypt(&enc, &key, &opts).unwrap_or_else(|e| panic!("{e}\n{enc}"));
            assert_eq!(dec.text.as_str(), src, "{enc}");
        }
    }
}

/// Encryption seals values and comments of `data`/`stringData` only: empty values stay `""`
/// (as sops writes them), comments elsewhere stay clear.
#[test]
fn encryption_leaves_empty_values_and_other_comments_clear() {
    let src = "# head\nkind: Secret\nmetadata:\n  name: db  # inline\n  labels:\n    #\n    a: b\ndata:\n  # note\n  #\n  empty: \"\"\n  password: czNjcjN0\n";
    let key = DataKey::generate().unwrap();
    let enc = encrypt(src, &test_settings(&key), &|_| true).unwrap();
    for clear in [
        "# head\n",
        "  name: db  # inline\n",
        "    #\n    a: b\n",
        "  #\n  empty: \"\"\n",
    ] {
        assert!(enc.contains(clear), "{clear:?} in\n{enc}");
    }
    assert!(!enc.contains("note") && !enc.contains("czNjcjN0"), "{enc}");
    assert_eq!(
        enc_tokens(&enc).len(),
        3,
        "the comment, the password, the MAC:\n{enc}"
    );
    let dec = decrypt(&enc, &key, &DecryptOptions::default()).unwrap();
    assert_eq!(dec.text.as_str(), src);
}

/// What encryption refuses: input already encrypted, nothing selected, a flow-style YAML
/// root, an alias or a tag other than `!!str` on a value to encrypt.
#[test]
fn encryption_refuses_what_it_cannot_write_back() {
    let key = DataKey::generate().unwrap();
    let s = test_settings(&key);
    let all = |_: &Document| true;
    let enc = encrypt("kind: Secret\nstringData:\n  a: b\n", &s, &all).unwrap();
    for input in [enc.clone(), format!("kind: ConfigMap\n---\n{enc}")] {
        let err = encrypt(&input, &s, &all).err().unwrap();
        assert_eq!(err.kind, Kind::Refused, "{err}");
        assert!(err.message.contains("already encrypted"), "{err}");
        let err = refuse_encrypted(&tree::parse(&input).unwrap())
            .err()
            .unwrap();
        assert_eq!(err.kind, Kind::Refused, "{err}");
    }
    assert!(
        refuse_encrypted(&tree::parse("kind: Secret\n---\nkind: ConfigMap\n").unwrap()).is_ok()
    );
    let err = encrypt("kind: ConfigMap\n", &s, &|_| false).err().unwrap();
    assert!(err.message.starts_with("nothing to encrypt"), "{err}");
    let err = encrypt("{kind: Secret, data: {a: b}}\n", &s, &all)
        .err()
        .unwrap();
    assert_eq!(err.kind, Kind::Unsupported, "{err}");
    for (bad, what) in [
        (
            "kind: Secret\nmetadata:\n  x: &v abc\ndata:\n  a: *v\n",
            "is a YAML alias",
        ),
        ("kind: Secret\ndata:\n  a: !!int 5\n", "explicit YAML tag"),
    ] {
        let err = encrypt(bad, &s, &all).err().unwrap();
        assert!(err.message.contains(what), "{bad}: {err}");
    }
    // An alias outside the encrypted values, a `!!str` tag on one: both fine.
    for ok in [
        "kind: Secret\nmetadata:\n  x: &v abc\n  y: *v\ndata:\n  a: b\n",
        "kind: Secret\ndata:\n  a: !!str abc\n",
        "{\"kind\": \"Secret\", \"data\": {\"a\": \"b\"}}\n",
    ] {
        let enc = encrypt(ok, &s, &all).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert!(!enc.contains("abc\n") || ok.contains("y: *v"), "{enc}");
        let dec = decrypt(&enc, &key, &DecryptOptions::default()).unwrap();
        assert_eq!(dec.text.as_str(), ok);
    }
}

/// `encrypt_checked` writes a JSON document in sops's JSON layout whatever its input layout
/// (the same bytes for the same content); YAML stays as written.
#[test]
fn json_is_written_in_the_canonical_layout() {
    let key = DataKey::generate().unwrap();
    let s = test_settings(&key);
    let compact = "{\"kind\":\"Secret\",\"data\":{\"a\":\"YQ==\"}}";
    let st = tree::parse(compact).unwrap();
    let canonical = crate::yaml::json::canonical(&st.docs[0]).unwrap();
    assert_ne!(canonical.as_str(), compact);
    let out = encrypt_checked(compact, &st, &s, &|_| true).unwrap();
    let dec = decrypt(&out, &key, &DecryptOptions::default()).unwrap();
    assert_eq!(dec.text.as_str(), canonical.as_str());
    let yaml = "kind: Secret\ndata:\n    a: YQ==\n";
    let st = tree::parse(yaml).unwrap();
    let out = encrypt_checked(yaml, &st, &s, &|_| true).unwrap();
    let dec = decrypt(&out, &key, &DecryptOptions::default()).unwrap();
    assert_eq!(dec.text.as_str(), yaml);
    assert!(
        out.contains("\nsops:\n    age:\n"),
        "the block in the document's indentation:\n{out}"
    );
}

/// An encrypted value reached through an alias is refused where it is reached.
#[test]
fn an_encrypted_value_reached_through_an_alias_is_refused() {
    let (src, key) = flux_age();
    let enc_value = src.lines().find_map(|l| l.strip_prefix("  key: ")).unwrap();
    let aliased = src.replace(
        &format!("  key: {enc_value}\n"),
        &format!("  key: &k {enc_value}\n  again: *k\n"),
    );
    let err = decrypt(&aliased, &key, &DecryptOptions::default())
        .err()
        .unwrap();
    assert!(
        err.message.contains("reached through a YAML alias"),
        "{err}"
    );
    assert_eq!(err.path.as_deref(), Some("stringData.again"));
}

/// How sops stores a comment inside a list (an encrypted list element of type `comment`)
/// goes back to a comment line; such a value anywhere else becomes `""`.
#[test]
fn a_list_comment_from_sops_becomes_a_comment_again() {
    use crate::sops::value;
    let key = DataKey::generate().unwrap();
    let src = "kind: Secret\nstringData:\n  list:\n    - a\n  m:\n    - k: b\n";
    let enc = encrypt(src, &test_settings(&key), &|_| true).unwrap();
    // Without the structural MAC (sops writes none); comments are outside the sops MAC.
    let enc: String = enc
        .lines()
        .filter(|l| !l.trim_start().starts_with("kseal_mac:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let comment = |aad: &str| {
        value::seal(
            &key,
            b" note",
            aad.as_bytes(),
            &value::random_iv().unwrap(),
            "comment",
        )
        .unwrap()
    };
    let with_comments = enc
        .replacen(
            "  list:\n",
            &format!("  list:\n    - {}\n", comment("stringData:list:")),
            1,
        )
        .replacen(
            "    - k: ",
            &format!("    - c: &- {}\n      k: ", comment("stringData:m:c:")),
            1,
        );
    assert_ne!(with_comments, enc);
    let dec = decrypt(&with_comments, &key, &DecryptOptions::default()).unwrap();
    assert_eq!(
        dec.text.as_str(),
        "kind: Secret\nstringData:\n  list:\n    # note\n    - a\n  m:\n    - c: &- \"\"\n      k: b\n"
    );
}

/// The walk counts every node it visits against its budget, aliases and what they expand to
/// included, and refuses at the first node past it (the parser's own alias limit is lower,
/// so only a direct test reaches it); each leaf comes with its path and place.
#[test]
fn the_walk_counts_every_visited_node_and_says_where_each_leaf_sits() {
    use super::walk::{walk, Place};
    let st = tree::parse("a: &x [1, 2]\nb: *x\nc:\n  - k: v\n").unwrap();
    let root = st.docs[0].root.as_ref().unwrap();
    // The root mapping, the list, its 2 items, the alias, the list again and its 2 items,
    // then the list of `c`, its mapping and the mapping's value.
    for (budget, fits) in [(11u64, true), (10, false), (1, false), (100, true)] {
        let mut left = budget;
        let mut leaves = Vec::new();
        let r = walk(
            root,
            &mut Vec::new(),
            Place::TOP,
            &mut left,
            &mut |p, s, place| {
                leaves.push((
                    p.join("."),
                    s.value.to_string(),
                    place.in_alias,
                    place.in_seq,
                ));
                Ok(())
            },
        );
        match r {
            Ok(()) => {
                assert!(fits, "budget {budget}");
                assert_eq!(left, budget - 11);
                let expected = [
                    ("a", "1", false, true),
                    ("a", "2", false, true),
                    ("b", "1", true, true),
                    ("b", "2", true, true),
                    ("c.k", "v", false, false),
                ];
                let got: Vec<(&str, &str, bool, bool)> = leaves
                    .iter()
                    .map(|(p, v, a, q)| (p.as_str(), v.as_str(), *a, *q))
                    .collect();
                assert_eq!(got, expected);
            }
            Err(e) => {
                assert!(!fits, "budget {budget}: {e}");
                assert!(e.message.contains("alias bomb"), "{e}");
            }
        }
    }
}

/// A file that is nothing but a `sops:` block without a final line break (at the very start,
/// or after a blank line) is refused for its MAC, cleanly; with `ignore_mac` it opens empty.
#[test]
fn a_lone_sops_block_without_a_final_line_break_opens_cleanly() {
    let (src, key) = flux_age();
    let block = &src[src.find("sops:\n").unwrap()..];
    let block = block.trim_end_matches('\n');
    for head in ["", "\n", "\r\n"] {
        let text = format!("{head}{block}");
        let err = decrypt(&text, &key, &DecryptOptions::default())
            .err()
            .unwrap();
        assert_eq!(err.kind, Kind::Integrity, "{head:?}: {err}");
        let ignored = DecryptOptions {
            ignore_mac: true,
            ..Default::default()
        };
        let out = decrypt(&text, &key, &ignored).unwrap();
        assert_eq!(out.text.as_str(), "", "{head:?}");
    }
}

/// A plaintext-only read (large string values opened in chunks) gives the text a full
/// decryption gives, for a large string and for a large value of another type (an `int`
/// written with 200 000 leading zeros, which both read as 1).
#[test]
fn plaintext_only_reads_of_large_values_match_full_decryption() {
    use crate::sops::value;
    let key = DataKey::generate().unwrap();
    let enc = encrypt(
        "kind: Secret\nstringData:\n  a: x\n",
        &test_settings(&key),
        &|_| true,
    )
    .unwrap();
    let small = enc
        .lines()
        .find_map(|l| l.strip_prefix("  a: "))
        .unwrap()
        .to_string();
    let mut zeros = vec![b'0'; 200_000];
    zeros.push(b'1');
    let letters: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    for (ty, pt, shown) in [("str", &letters, None), ("int", &zeros, Some("  a: 1"))] {
        let sealed =
            value::seal(&key, pt, b"stringData:a:", &value::random_iv().unwrap(), ty).unwrap();
        assert!(sealed.len() >= crate::sops::chunked::MIN_LEN);
        let text = enc.replace(&small, &sealed);
        let full = DecryptOptions {
            ignore_mac: true,
            ..Default::default()
        };
        let plain_only = DecryptOptions {
            plain_only: true,
            ..full
        };
        let a = decrypt(&text, &key, &full).unwrap();
        let b = decrypt(&text, &key, &plain_only).unwrap();
        assert_eq!(a.text.as_str(), b.text.as_str(), "{ty}");
        if let Some(line) = shown {
            assert!(a.text.contains(&format!("{line}\n")), "{ty}");
        } else {
            // A full decryption keeps the large value's IV: re-encrypted unchanged, it keeps
            // its ciphertext.
            let env = a.envelope.unwrap();
            let again = reencrypt(&a.text, &env, &|_| true).unwrap();
            assert!(again.contains(&sealed), "{ty}");
        }
    }
}

/// Clear values keep their type through the MAC however they are written: tagged quoted
/// values, JSON numbers and strings (in sops's JSON layout, which `encrypt_checked` keeps),
/// YAML plain values that are not strings.
#[test]
fn typed_clear_values_round_trip_under_the_mac() {
    let key = DataKey::generate().unwrap();
    for src in [
        "kind: Secret\nmetadata:\n  x: !!binary \"aGk=\"\n  y: !!int \"5\"\n  z: !!null \"\"\nstringData:\n  a: b\n",
        "kind: Secret\nmetadata:\n  n: 5432\n  f: 1.50\n  t: true\n  s: plain\nstringData:\n  a: 5432\n",
        "{\n\t\"kind\": \"Secret\",\n\t\"metadata\": {\n\t\t\"n\": 5432,\n\t\t\"f\": 1.5,\n\t\t\"s\": \"x\"\n\t},\n\t\"data\": {\n\t\t\"a\": 12,\n\t\t\"b\": \"x\"\n\t}\n}\n",
    ] {
        let enc = encrypt(src, &test_settings(&key), &|_| true).unwrap();
        // sops's JSON store reads every number as a float: so is it sealed.
        if src.starts_with('{') {
            let a = enc.lines().find(|l| l.contains("\"a\": ")).unwrap();
            assert!(a.contains(",type:float]"), "{a}");
        }
        let st = tree::parse(src).unwrap();
        let checked = encrypt_checked(src, &st, &test_settings(&key), &|_| true)
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        for text in [enc, checked] {
            let dec = decrypt(&text, &key, &DecryptOptions::default())
                .unwrap_or_else(|e| panic!("{src}: {e}\n{text}"));
            assert_eq!(dec.text.as_str(), src);
        }
    }
}
