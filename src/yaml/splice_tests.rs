//! Exact-position tests for the splice helpers (`splice.rs`): line walking, edit application,
//! entry removal, value rendering (JSON, special floats, binary, literal blocks) and the
//! checks that decide whether a value fits a block scalar.

use super::*;
use crate::yaml::tree::{parse, Stream};

fn seq<'a>(node: &'a Node<'a>) -> &'a crate::yaml::tree::Sequence<'a> {
    match node {
        Node::Sequence(q) => q,
        _ => panic!("not a sequence"),
    }
}

fn root<'a>(st: &'a Stream<'a>) -> &'a Mapping<'a> {
    st.docs[0].root_mapping().unwrap()
}

fn scalar<'a>(st: &'a Stream<'a>, key: &str) -> &'a Scalar<'a> {
    root(st).get(key).unwrap().as_scalar().unwrap()
}

/// `src` with the one edit applied.
fn edited(src: &str, e: Edit) -> String {
    apply(src, vec![e]).unwrap().to_string()
}

/// The text `decrypted_edit` writes for `t` where the value of `key` is.
fn render_at(src: &str, key: &str, t: Typed, json: bool) -> String {
    let st = parse(src).unwrap();
    let ctx = RenderContext { src, unit: 2, json };
    edited(src, decrypted_edit(&ctx, scalar(&st, key), &t))
}

#[test]
fn apply_takes_edits_in_any_order_and_refuses_bad_ones() {
    let src = "abcdef";
    let out = apply(
        src,
        vec![
            Edit::new(4, 6, "X"),
            Edit::new(0, 2, "Y"),
            Edit::new(2, 2, "-"),
        ],
    )
    .unwrap();
    assert_eq!(out.as_str(), "Y-cdX");
    // Touching edits and an edit up to the very end are fine.
    let out = apply(src, vec![Edit::new(0, 3, "1"), Edit::new(3, 6, "2")]).unwrap();
    assert_eq!(out.as_str(), "12");
    assert_eq!(apply(src, vec![]).unwrap().as_str(), src);
    for bad in [
        vec![Edit::new(0, 3, "1"), Edit::new(2, 4, "2")],
        vec![Edit::new(3, 2, "")],
        vec![Edit::new(5, 7, "")],
    ] {
        assert_eq!(apply(src, bad).err().unwrap().kind, Kind::Internal);
    }
}

#[test]
fn eol_is_taken_from_the_first_line_break() {
    assert_eq!(eol_of("a\r\nb\n"), "\r\n");
    assert_eq!(eol_of("\r\n"), "\r\n");
    assert_eq!(eol_of("a\nb\r\n"), "\n");
    assert_eq!(eol_of("a\n\r"), "\n");
    assert_eq!(eol_of("\nx"), "\n");
    assert_eq!(eol_of("no break"), "\n");
}

#[test]
fn line_walking_helpers() {
    let src = "a: 1\n\n  \n# c1\n\n  # c2\nb: 2\nlast";
    assert_eq!(end_of_line(src, 0), 5);
    assert_eq!(end_of_line(src, 2), 5);
    assert_eq!(end_of_line(src, src.len() - 2), src.len());
    assert_eq!(start_of_line(src, 3), 0);
    assert_eq!(
        start_of_line(src, src.find("b:").unwrap() + 1),
        src.find("b:").unwrap()
    );
    assert_eq!(start_of_line(src, 5), 5);
    assert_eq!(
        &src[after_blank_lines(src, 5)..],
        "# c1\n\n  # c2\nb: 2\nlast"
    );
    assert_eq!(after_blank_lines(src, 0), 0);
    assert_eq!(after_blank_lines("x\n\n", 2), 3);
    assert_eq!(&src[after_trailing_comments(src, 5)..], "b: 2\nlast");
    assert_eq!(after_trailing_comments(src, 0), 0);
    assert_eq!(after_trailing_comments("\n# end", 0), 6);
}

#[test]
fn remove_entry_in_block_and_flow_mappings() {
    let src = "a: 1\nb: |\n  x\n\nc: 3 # note\nd: 4";
    let st = parse(src).unwrap();
    let m = root(&st);
    let without = |i: usize| edited(src, remove_entry(src, m, i));
    assert_eq!(without(0), "b: |\n  x\n\nc: 3 # note\nd: 4");
    assert_eq!(without(1), "a: 1\n\nc: 3 # note\nd: 4");
    assert_eq!(without(2), "a: 1\nb: |\n  x\n\nd: 4");
    assert_eq!(without(3), "a: 1\nb: |\n  x\n\nc: 3 # note\n");
    let src = "f: {a: 1 ,  b: 2, c: 3}\n";
    let st = parse(src).unwrap();
    let f = root(&st).get("f").unwrap().as_mapping().unwrap();
    let without = |i: usize| edited(src, remove_entry(src, f, i));
    assert_eq!(without(0), "f: {b: 2, c: 3}\n");
    assert_eq!(without(1), "f: {a: 1, c: 3}\n");
    assert_eq!(without(2), "f: {a: 1 ,  b: 2}\n");
    let src = "f: {only: 1}\n";
    let st = parse(src).unwrap();
    let f = root(&st).get("f").unwrap().as_mapping().unwrap();
    assert_eq!(edited(src, remove_entry(src, f, 0)), "f: {}\n");
}

#[test]
fn json_strings_escape_what_json_needs() {
    assert_eq!(json_string("plain é"), "\"plain é\"");
    assert_eq!(json_string("q\"b\\n\nr\rt\t"), "\"q\\\"b\\\\n\\nr\\rt\\t\"");
    assert_eq!(
        json_string("\u{1}\u{1f} \u{7f}\u{2028}\u{2029}"),
        "\"\\u0001\\u001f \u{7f}\\u2028\\u2029\""
    );
    assert_eq!(
        render_at("{\"k\": \"E\"}\n", "k", Typed::Str("a b".into()), true),
        "{\"k\": \"a b\"}\n"
    );
}

#[test]
fn non_string_values_render_as_yaml_reads_them() {
    let r = |t: Typed| non_string_text(&t).unwrap();
    assert_eq!(r(Typed::Null), "null");
    assert_eq!(r(Typed::Bool(false)), "false");
    assert_eq!(r(Typed::Int(-7)), "-7");
    assert_eq!(r(Typed::Float(f64::NAN)), ".nan");
    assert_eq!(r(Typed::Float(f64::INFINITY)), ".inf");
    assert_eq!(r(Typed::Float(f64::NEG_INFINITY)), "-.inf");
    assert_eq!(r(Typed::Float(-2.0)), "-2.0");
    assert_eq!(r(Typed::Float(0.5)), "0.5");
    assert_eq!(r(Typed::Float(1e300)), format!("{}", 1e300) + ".0");
    assert_eq!(
        r(Typed::Time("2024-01-01T00:00:00Z".into())),
        "2024-01-01T00:00:00Z"
    );
    assert!(non_string_text(&Typed::Str("x".into())).is_none());
    assert!(non_string_text(&Typed::Binary(vec![1])).is_none());
}

#[test]
fn literal_and_block_content_checks() {
    for ok in ["a", "a\nb", "a\n\n b\n", "tab\there", "ünï"] {
        assert!(literal_ok(ok), "{ok:?}");
    }
    for bad in [
        "",
        " a",
        "\na",
        "\ta",
        "a \nb",
        "a\t\nb",
        "a\r\nb",
        "a\u{1}",
        "a\u{feff}",
        "a\u{85}",
    ] {
        assert!(!literal_ok(bad), "{bad:?}");
    }
    for ok in ["a", "\n\na", "a  \nb", "a\n\n\tb"] {
        assert!(block_content_ok(ok, false), "{ok:?}");
    }
    assert!(block_content_ok("  a", true));
    for bad in [
        "",
        "\n",
        " a",
        "\ta",
        "a\r",
        "a\u{1}",
        "a\u{feff}",
        "a\n  \nb",
        "a\n\t\nb",
    ] {
        assert!(!block_content_ok(bad, false), "{bad:?}");
    }
    assert!(!block_content_ok("", true));
}

#[test]
fn literal_blocks_pick_their_chomping() {
    assert_eq!(literal_block("a\n\nb", 2, "\n"), "|-\n  a\n\n  b");
    assert_eq!(literal_block("a\nb\n", 4, "\r\n"), "|\r\n    a\r\n    b");
    assert_eq!(literal_block("a\nb\n\n\n", 2, "\n"), "|+\n  a\n  b\n\n");
    assert!(literal_text("a\nb\n\n", 2, "\n").is_none());
    assert!(literal_text("a\r\nb", 2, "\n").is_none());
    assert_eq!(literal_text("a\nb", 0, "\n").unwrap(), "|-\na\nb");
}

#[test]
fn block_layouts_with_indicators_and_odd_endings() {
    let src = "a: |2\n    two extra\n  l2\nb: >-\n  x\n  y";
    let st = parse(src).unwrap();
    let l = block_layout(src, scalar(&st, "a")).unwrap();
    assert_eq!(&src[l.header..l.content_start], "|2\n");
    assert_eq!(
        &src[l.content_start..l.content_end],
        "    two extra\n  l2\n"
    );
    assert_eq!(
        (l.indent, l.explicit_indent, l.no_final_break),
        (2, true, false)
    );
    let l = block_layout(src, scalar(&st, "b")).unwrap();
    assert_eq!(&src[l.content_start..l.content_end], "  x\n  y");
    assert_eq!(
        (l.indent, l.explicit_indent, l.no_final_break),
        (2, false, true)
    );
    // An empty block: nothing to replace.
    let src = "a: |\nb: x\n";
    let st = parse(src).unwrap();
    let l = block_layout(src, scalar(&st, "a")).unwrap();
    assert_eq!(l.content_start, l.content_end);
    assert_eq!(l.content_start, src.find("b:").unwrap());
    // A line of spaces longer than the indentation is content.
    let src = "a: |\n  x\n     \n  y\nb: 1\n";
    let st = parse(src).unwrap();
    let l = block_layout(src, scalar(&st, "a")).unwrap();
    assert_eq!(&src[l.content_start..l.content_end], "  x\n     \n  y\n");
    assert_eq!(node_end(src, root(&st).get("a").unwrap()), l.content_end);
}

#[test]
fn encrypted_edits_keep_the_style_or_go_inline() {
    let src = "a: |\n  x\n  y\nb: |-\n  z\nc: |\nd: [p, 'q']\ne: >\n  end";
    let st = parse(src).unwrap();
    let m = root(&st);
    let enc = |k: &str| edited(src, encrypted_edit(src, scalar(&st, k), "ENC"));
    let inline = |k: &str| edited(src, inline_encrypted_edit(src, scalar(&st, k), "ENC"));
    assert!(enc("a").starts_with("a: |\n  ENC\nb:"));
    assert!(inline("a").starts_with("a: ENC\nb:"));
    assert!(inline("b").contains("b: ENC\nc:"));
    assert!(enc("c").contains("c: |\nENCd:"), "{}", enc("c"));
    assert!(inline("c").contains("c: |\nENCd:"));
    assert!(enc("e").ends_with("e: >\n  ENC"));
    assert!(inline("e").ends_with("e: ENC"));
    let d = seq(m.get("d").unwrap());
    let item = |i: usize| d.items[i].as_scalar().unwrap();
    assert!(edited(src, encrypted_edit(src, item(0), "E")).contains("d: [\"E\", 'q']"));
    assert!(edited(src, encrypted_edit(src, item(1), "E")).contains("d: [p, 'E']"));
}

#[test]
fn decrypted_values_fit_their_slot() {
    let src = "p: E\nb: |\n  E\nd: \"E\"\nf: {x: \"E\"}\nl: [\"E\"]\n";
    // Binary: UTF-8 reads as a string, anything else stays !!binary.
    assert!(render_at(src, "p", Typed::Binary(b"ok".to_vec()), false).starts_with("p: ok\n"));
    assert!(
        render_at(src, "p", Typed::Binary(vec![0xff, 0]), false).starts_with("p: !!binary /wA=\n")
    );
    // A number where a block was: the header goes too.
    assert!(render_at(src, "b", Typed::Int(3), false).contains("b: 3\nd:"));
    // A value a literal block cannot hold: double-quoted in place of the block.
    assert!(
        render_at(src, "b", Typed::Str(" lead\n".into()), false).contains("b: \" lead\\n\"\nd:")
    );
    assert!(render_at(src, "b", Typed::Str("new\n".into()), false).contains("b: |\n  new\nd:"));
    assert!(render_at(src, "d", Typed::Str("plain".into()), false).contains("d: \"plain\"\n"));
    let st = parse(src).unwrap();
    let ctx = RenderContext {
        src,
        unit: 2,
        json: false,
    };
    let f = root(&st).get("f").unwrap().as_mapping().unwrap();
    let fx = f.entries[0].1.as_scalar().unwrap();
    assert!(edited(src, decrypted_edit(&ctx, fx, &Typed::Str("a".into()))).contains("f: {x: a}"));
    assert!(
        edited(src, decrypted_edit(&ctx, fx, &Typed::Str("a,b".into())))
            .contains("f: {x: \"a,b\"}")
    );
    let l = seq(root(&st).get("l").unwrap());
    let l0 = l.items[0].as_scalar().unwrap();
    assert!(edited(src, decrypted_edit(&ctx, l0, &Typed::Str("a b".into()))).contains("l: [a b]"));
    // A multi-line value in a plain slot becomes a block one unit deeper than its key.
    let nested = "m:\n  k: E\n";
    let st = parse(nested).unwrap();
    let k = root(&st)
        .get("m")
        .unwrap()
        .as_mapping()
        .unwrap()
        .get("k")
        .unwrap()
        .as_scalar()
        .unwrap();
    let ctx = RenderContext {
        src: nested,
        unit: 2,
        json: false,
    };
    assert_eq!(
        edited(nested, decrypted_edit(&ctx, k, &Typed::Str("a\nb".into()))),
        "m:\n  k: |-\n    a\n    b\n"
    );
    assert_eq!(
        edited(nested, decrypted_edit(&ctx, k, &Typed::Str("a \nb".into()))),
        "m:\n  k: \"a \\nb\"\n"
    );
}

#[test]
fn decrypted_edit_owned_moves_plain_strings_only_where_plain_fits() {
    let src = "p: E\ns: 'E'\nf: {x: \"E\"}\n";
    let st = parse(src).unwrap();
    let ctx = RenderContext {
        src,
        unit: 2,
        json: false,
    };
    let own =
        |s: &Scalar, v: &str| edited(src, decrypted_edit_owned(&ctx, s, Typed::Str(v.into())));
    assert!(own(scalar(&st, "p"), "v").starts_with("p: v\n"));
    assert!(own(scalar(&st, "p"), "true").starts_with("p: \"true\"\n"));
    assert!(own(scalar(&st, "s"), "v").contains("s: 'v'\n"));
    let fx = root(&st).get("f").unwrap().as_mapping().unwrap().entries[0]
        .1
        .as_scalar()
        .unwrap();
    assert!(own(fx, "v").contains("f: {x: v}"));
    assert!(own(fx, "a:b").contains("f: {x: \"a:b\"}"));
    let json = RenderContext {
        src,
        unit: 2,
        json: true,
    };
    let e = decrypted_edit_owned(&json, scalar(&st, "p"), Typed::Str("v".into()));
    assert_eq!(e.text.as_str(), "\"v\"");
}

#[test]
fn block_content_keeps_header_and_checks_chomping() {
    let r = |src: &str, v: &str| render_at(src, "b", Typed::Str(v.into()), false);
    // Clip (`|`): exactly one final break.
    assert_eq!(r("b: |\n  E\nc: 1\n", "x\ny\n"), "b: |\n  x\n  y\nc: 1\n");
    assert_eq!(r("b: |\n  E\nc: 1\n", "x"), "b: \"x\"\nc: 1\n");
    // Strip (`|-`): none.
    assert_eq!(r("b: |-\n  E\nc: 1\n", "x"), "b: |-\n  x\nc: 1\n");
    assert_eq!(r("b: |-\n  E\nc: 1\n", "x\n"), "b: \"x\\n\"\nc: 1\n");
    // Keep (`|+`): the blank lines after the content are part of the value.
    assert_eq!(r("b: |+\n  E\n\nc: 1\n", "x\n\n"), "b: |+\n  x\n\nc: 1\n");
    assert_eq!(r("b: |+\n  E\n\nc: 1\n", "x\n"), "b: \"x\\n\"\n\nc: 1\n");
    // Folded: a line break in the value needs an empty line.
    assert_eq!(r("b: >\n  E\nc: 1\n", "x\ny\n"), "b: >\n  x\n\n  y\nc: 1\n");
    assert_eq!(
        r("b: >\n  E\nc: 1\n", "x\n y\n"),
        "b: \"x\\n y\\n\"\nc: 1\n"
    );
    // No final break at the end of input.
    assert_eq!(r("b: |\n  E", "x"), "b: |\n  x");
    assert_eq!(r("b: |\n  E", "x\n"), "b: \"x\\n\"");
    // With an indentation indicator, leading spaces are content.
    assert_eq!(r("b: |4\n    E\n", "  x\n"), "b: |4\n      x\n");
}

#[test]
fn comments_of_list_items_and_keep_blocks() {
    let src =
        "l:\n  - E\n  -   E2\nf: [E]\nk: |+\n  x\n\nm:\n  a: 1\n  b: |+\n    y\n\nn: {a: '|+'}\n";
    let st = parse(src).unwrap();
    let l = seq(root(&st).get("l").unwrap());
    let i1 = l.items[1].as_scalar().unwrap();
    assert_eq!(
        edited(src, comment_for_item(src, i1, "c", true)),
        src.replace("  -   E2", "  #c")
    );
    assert_eq!(
        edited(src, comment_for_item(src, i1, "c", false)),
        src.replace("E2", "\"\"")
    );
    let f = seq(root(&st).get("f").unwrap());
    let f0 = f.items[0].as_scalar().unwrap();
    assert_eq!(
        edited(src, comment_for_item(src, f0, "c", true)),
        src.replace("[E]", "[\"\"]")
    );
    let node = |k: &str| root(&st).get(k).unwrap();
    assert!(ends_with_keep_block(src, node("k")));
    assert!(ends_with_keep_block(src, node("m")));
    assert!(!ends_with_keep_block(src, node("l")));
    assert!(!ends_with_keep_block(src, node("f")));
    assert!(
        !ends_with_keep_block(src, node("n")),
        "a flow mapping holds no block"
    );
    // after_entry skips the blank lines a keep block owns.
    let m = root(&st);
    let at = |i: usize| &src[after_entry(src, m, i)..];
    assert!(at(2).starts_with("m:\n"));
    assert!(at(0).starts_with("f: [E]"));
    let inner = node("m").as_mapping().unwrap();
    assert!(src[after_entry(src, inner, 1)..].starts_with("n: "));
    assert!(src[after_entry(src, inner, 0)..].starts_with("  b: |+"));
}

#[test]
fn keep_blocks_end_block_lists_and_only_block_scalars_count() {
    // A block list whose last item is a keep block owns the blank lines after it: a new
    // entry goes after them (sops::file::seal), not between the value and its lines.
    let src = "l:\n  - a\n  - |+\n    x\n\nn: 1\n";
    let st = parse(src).unwrap();
    assert!(ends_with_keep_block(src, root(&st).get("l").unwrap()));
    // A plain value whose key carries a comment that looks like a block header is no block.
    let src = "p: #|+\n  v\nn: 1\n";
    let st = parse(src).unwrap();
    let p = root(&st).get("p").unwrap();
    assert_eq!(p.as_scalar().unwrap().value, "v");
    assert!(!ends_with_keep_block(src, p));
}

#[test]
fn removing_the_first_flow_entry_takes_its_comma_however_it_is_spaced() {
    for (src, want) in [
        ("f: {a: 1, b: 2}\n", "f: {b: 2}\n"),
        ("f: {a: 1  ,b: 2}\n", "f: {b: 2}\n"),
        ("f: {a: 1\t, \tb: 2}\n", "f: {b: 2}\n"),
    ] {
        let st = parse(src).unwrap();
        let f = root(&st).get("f").unwrap().as_mapping().unwrap();
        assert_eq!(edited(src, remove_entry(src, f, 0)), want, "{src:?}");
    }
}

#[test]
fn decrypted_edit_owned_keeps_the_quotes_of_quoted_slots() {
    // Only a plain slot, or a double-quoted one in a flow collection (where kseal itself added
    // the quotes), gets a plain value: the user's quotes elsewhere stay.
    let src = "d: \"E\"\nf: ['E', \"E\"]\n";
    let st = parse(src).unwrap();
    let ctx = RenderContext {
        src,
        unit: 2,
        json: false,
    };
    let own =
        |s: &Scalar, v: &str| edited(src, decrypted_edit_owned(&ctx, s, Typed::Str(v.into())));
    assert_eq!(own(scalar(&st, "d"), "v"), "d: \"v\"\nf: ['E', \"E\"]\n");
    let f = seq(root(&st).get("f").unwrap());
    let item = |i: usize| f.items[i].as_scalar().unwrap();
    assert_eq!(own(item(0), "v"), "d: \"E\"\nf: ['v', \"E\"]\n");
    assert_eq!(own(item(1), "v"), "d: \"E\"\nf: ['E', v]\n");
}

#[test]
fn json_documents_get_json_values() {
    // A timestamp is a string in JSON: quoted, not written bare as YAML would.
    let src = "{\"k\": \"E\"}\n";
    let r = |t: Typed| render_at(src, "k", t, true);
    assert_eq!(
        r(Typed::Time("2024-01-01T00:00:00Z".into())),
        "{\"k\": \"2024-01-01T00:00:00Z\"}\n"
    );
    assert_eq!(r(Typed::Null), "{\"k\": null}\n");
    assert_eq!(r(Typed::Int(7)), "{\"k\": 7}\n");
}
