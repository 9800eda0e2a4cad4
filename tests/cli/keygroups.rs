//! Key groups (Shamir) changed by `updatekeys` and `rotate`: a recipient added to or removed from
//! one group as the `.sops.yaml` rule says, a new data key when someone leaves, and the real sops
//! opening the result with any threshold of groups and not with fewer.

use std::path::PathBuf;

use crate::common::*;

/// An age key pair made by `kseal keygen`.
struct Key {
    file: PathBuf,
    recipient: String,
}

fn keys(sb: &Sandbox, n: usize) -> Vec<Key> {
    std::fs::create_dir_all(sb.path("keys")).unwrap();
    (0..n)
        .map(|i| {
            let file = sb.path(&format!("keys/{i}.txt"));
            let o = run(sb.kseal().args(["keygen", "-o"]).arg(&file));
            assert!(o.status.success(), "{}", stderr(&o));
            let recipient = stderr(&o)
                .trim()
                .strip_prefix("Public key: ")
                .expect("recipient on stderr")
                .to_string();
            Key { file, recipient }
        })
        .collect()
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: czNjcjN0\nstringData:\n  user: admin\n";

/// `.sops.yaml` with one rule splitting the data key over `groups` (indexes into `keys`).
fn write_rule(sb: &Sandbox, keys: &[Key], groups: &[&[usize]], threshold: usize) {
    let mut rule = format!(
        "creation_rules:\n  - encrypted_regex: ^(data|stringData)$\n    shamir_threshold: {threshold}\n    key_groups:\n"
    );
    for g in groups {
        let list: Vec<&str> = g.iter().map(|&i| keys[i].recipient.as_str()).collect();
        rule.push_str(&format!("      - age: [{}]\n", list.join(", ")));
    }
    sb.write(".sops.yaml", rule);
}

/// The line of a `sops:` field (`lastmodified`, `mac`), at any indentation.
fn field(text: &str, name: &str) -> String {
    let key = format!("{name}: ");
    text.lines()
        .find(|l| l.trim_start().starts_with(&key))
        .expect(name)
        .to_string()
}

/// Every way of choosing `k` of `n` items.
fn choose(n: usize, k: usize) -> Vec<Vec<usize>> {
    (0u32..1 << n)
        .filter(|m| m.count_ones() as usize == k)
        .map(|m| (0..n).filter(|i| m & (1 << i) != 0).collect())
        .collect()
}

/// The real sops and kseal open `file` with one key of each of any `threshold` groups, and
/// neither opens it with every key of `threshold - 1` groups (nor with the keys of `others`,
/// recipients the file must no longer know).
fn opens_exactly(sb: &Sandbox, keys: &[Key], file: &str, groups: &[&[usize]], threshold: usize) {
    let try_keys = |pick: &[usize]| {
        let ids: Vec<String> = pick.iter().map(|&i| read(&keys[i].file)).collect();
        let s = run(sb
            .tool("sops")
            .env("SOPS_AGE_KEY", ids.join("\n"))
            .args(["decrypt", file]));
        let mut k = sb.kseal();
        k.arg("decrypt");
        for &i in pick {
            k.arg("--identity").arg(&keys[i].file);
        }
        let k = run(k.arg(file));
        assert_eq!(
            s.status.success(),
            code(&k) == Some(0),
            "sops and kseal disagree on {file} with keys {pick:?}: {}{}",
            stderr(&s),
            stderr(&k)
        );
        if s.status.success() {
            // sops re-indents what it prints; the values are the same.
            for out in [&s, &k] {
                assert!(stdout(out).contains("password: czNjcjN0"), "{file}");
            }
        } else {
            assert!(k.stdout.is_empty());
        }
        s.status.success()
    };
    for set in choose(groups.len(), threshold) {
        // The last key of each chosen group.
        let pick: Vec<usize> = set.iter().map(|&g| *groups[g].last().unwrap()).collect();
        assert!(try_keys(&pick), "{file}: groups {set:?} should open it");
    }
    for set in choose(groups.len(), threshold - 1) {
        let pick: Vec<usize> = set.iter().flat_map(|&g| groups[g].to_vec()).collect();
        assert!(
            !try_keys(&pick),
            "{file}: groups {set:?} should not open it"
        );
    }
}

/// `updatekeys` follows a rule's key groups: a recipient added to one group re-splits the same
/// data key (values, MAC and lastmodified kept); a recipient removed, or a higher threshold,
/// gives a new data key; sops opens each result exactly with enough groups. The file starts as
/// sops wrote it.
#[test]
fn updatekeys_keeps_key_groups() {
    let sb = Sandbox::new();
    let k = keys(&sb, 5);
    sb.write("s.yaml", SECRET);
    write_rule(&sb, &k, &[&[0], &[1], &[2]], 2);
    let enc = ok(run(sb.tool("sops").args(["encrypt", "s.yaml"])));
    sb.write("g.yaml", &enc);
    let ids = |pick: &[usize]| -> Vec<String> {
        pick.iter()
            .flat_map(|&i| ["--identity".to_string(), k[i].file.display().to_string()])
            .collect()
    };

    // 3 joins group 2: the same data key in new shares.
    write_rule(&sb, &k, &[&[0], &[1, 3], &[2]], 2);
    let o = run(sb.kseal().args(["updatekeys", "--dry-run", "g.yaml"]));
    let plan = ok(o);
    assert!(
        plan.contains(&format!("  group 2: + {}\n", k[3].recipient)),
        "{plan}"
    );
    assert!(plan.contains("split into new shares"), "{plan}");
    assert_eq!(read(&sb.path("g.yaml")), enc, "dry run");
    let o = run(sb
        .kseal()
        .args(["updatekeys", "-y", "g.yaml"])
        .args(ids(&[0, 2])));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .contains("data key split into new shares for 4 recipients in 3 key groups (any 2)"),
        "{}",
        stdout(&o)
    );
    let once = read(&sb.path("g.yaml"));
    assert_eq!(field(&once, "lastmodified"), field(&enc, "lastmodified"));
    assert_eq!(field(&once, "mac"), field(&enc, "mac"));
    // sops wrote its own layout; the values and the MAC are sops's, byte for byte.
    let enc_values: Vec<&str> = enc.lines().filter(|l| l.contains("ENC[")).collect();
    let once_values: Vec<&str> = once.lines().filter(|l| l.contains("ENC[")).collect();
    assert_eq!(enc_values, once_values);
    opens_exactly(&sb, &k, "g.yaml", &[&[0], &[1, 3], &[2]], 2);
    let o = run(sb.kseal().args(["status", "g.yaml"]).args(ids(&[0, 1])));
    assert!(ok(o).contains("rules: up to date"));

    // 1 leaves group 2: a new data key, every value encrypted again.
    write_rule(&sb, &k, &[&[0], &[3], &[2]], 2);
    let o = run(sb
        .kseal()
        .args(["updatekeys", "-y", "g.yaml"])
        .args(ids(&[0, 2])));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("  group 2: - {}\n", k[1].recipient)),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("new data key for 3 recipients in 3 key groups (any 2)"));
    let twice = read(&sb.path("g.yaml"));
    assert_ne!(field(&twice, "mac"), field(&once, "mac"));
    opens_exactly(&sb, &k, "g.yaml", &[&[0], &[3], &[2]], 2);
    // The removed key with one other group's key no longer opens it.
    let o = run(sb.kseal().arg("decrypt").args(ids(&[1, 0])).arg("g.yaml"));
    assert_eq!(code(&o), Some(5), "{}", stderr(&o));

    // A higher threshold: status says so and points at updatekeys, which makes a new data key.
    write_rule(&sb, &k, &[&[0], &[3], &[2]], 3);
    let o = run(sb.kseal().args(["status", "--no-verify", "g.yaml"]));
    let text = stdout(&o);
    assert!(
        text.contains("shamir_threshold is 2, .sops.yaml says 3 (`kseal updatekeys` splits"),
        "{text}"
    );
    assert!(!text.contains("decrypt and encrypt it again"), "{text}");
    let o = run(sb
        .kseal()
        .args(["updatekeys", "-y", "g.yaml"])
        .args(ids(&[0, 2])));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("key groups: 3, any 2 -> 3, any 3"));
    opens_exactly(&sb, &k, "g.yaml", &[&[0], &[3], &[2]], 3);
    let done = read(&sb.path("g.yaml"));

    // Tamper rows still hold on the updated file: the threshold lowered is refused.
    sb.write(
        "t.yaml",
        done.replace("shamir_threshold: 3", "shamir_threshold: 2"),
    );
    let o = run(sb
        .kseal()
        .arg("decrypt")
        .args(ids(&[0, 2, 3]))
        .arg("t.yaml"));
    assert_eq!(code(&o), Some(6), "{}", stderr(&o));
    assert!(o.stdout.is_empty());

    // From key groups back to one group of recipients: a new data key each opens alone.
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {}\n", k[4].recipient),
    );
    let o = run(sb
        .kseal()
        .args(["updatekeys", "-y", "g.yaml"])
        .args(ids(&[0, 2, 3])));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let flat = read(&sb.path("g.yaml"));
    assert!(!flat.contains("key_groups") && !flat.contains("shamir_threshold"));
    opens_exactly(&sb, &k, "g.yaml", &[&[4]], 1);
}

/// `rotate` keeps a file's key groups: `--rm-age` takes a recipient out of its group, a new data
/// key is split again, and sops opens the result exactly with enough groups. `--add-age` has no
/// group to go to and a group left empty would open for nobody: both refused, the file untouched.
#[test]
fn rotate_keeps_key_groups() {
    let sb = Sandbox::new();
    let k = keys(&sb, 4);
    sb.write("s.yaml", SECRET);
    write_rule(&sb, &k, &[&[0, 3], &[1], &[2]], 2);
    let o = run(sb.kseal().args(["encrypt", "-i", "s.yaml"]));
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    // Without .sops.yaml: the file's own groups.
    std::fs::remove_file(sb.path(".sops.yaml")).unwrap();
    let before = read(&sb.path("s.yaml"));
    let rotate = |extra: &[&str]| {
        run(sb
            .kseal()
            .args(["rotate", "s.yaml", "--identity"])
            .arg(&k[1].file)
            .arg("--identity")
            .arg(&k[2].file)
            .args(extra))
    };
    let o = rotate(&["--add-age", &k[3].recipient]);
    assert_eq!(code(&o), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("hint: name it in a group of the key_groups"),
        "{}",
        stderr(&o)
    );
    let o = rotate(&["--rm-age", &k[1].recipient]);
    assert_eq!(code(&o), Some(8), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("key group 2 would have no recipient left"),
        "{}",
        stderr(&o)
    );
    assert_eq!(read(&sb.path("s.yaml")), before);

    let o = rotate(&["--rm-age", &k[3].recipient]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("new data key for 3 recipients in 3 key groups (any 2)"),
        "{}",
        stdout(&o)
    );
    let after = read(&sb.path("s.yaml"));
    assert!(!after.contains(&k[3].recipient));
    assert!(
        after.contains("  shamir_threshold: 2\n  key_groups:\n"),
        "{after}"
    );
    opens_exactly(&sb, &k, "s.yaml", &[&[0], &[1], &[2]], 2);
    // The removed key with another group's key opens nothing of the new version.
    let ids = [read(&k[3].file), read(&k[1].file)];
    let o = run(sb
        .tool("sops")
        .env("SOPS_AGE_KEY", ids.join("\n"))
        .args(["decrypt", "s.yaml"]));
    assert!(!o.status.success());
}

/// The recipients of each key group of an encrypted file, in file order (any indentation).
fn group_recipients(text: &str) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    for l in text.lines() {
        let t = l.trim_start();
        if t == "- hc_vault: []" {
            groups.push(Vec::new());
        } else if let Some(r) = t.strip_prefix("- recipient: ") {
            groups.last_mut().expect("a group").push(r.to_string());
        }
    }
    groups
}

/// `.sops.yaml` key groups nested with `merge` (sops 3.9+) give kseal the groups sops makes
/// from them (merged keys first, duplicates once, comma lists split), and sops opens kseal's
/// file exactly with enough groups. A `merge` that is not a list is refused by both.
#[test]
fn merged_key_groups_as_sops_reads_them() {
    let sb = Sandbox::new();
    let k = keys(&sb, 4);
    sb.write("s.yaml", SECRET);
    let r = |i: usize| k[i].recipient.as_str();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - encrypted_regex: ^(data|stringData)$\n    shamir_threshold: 2\n    key_groups:\n      - merge:\n          - age: [{}]\n          - merge:\n              - age: [\"{}, {}\"]\n        age: [{}]\n      - age: [{}]\n",
            r(0),
            r(1),
            r(0),
            r(2),
            r(3)
        ),
    );
    let by_sops = ok(run(sb.tool("sops").args(["encrypt", "s.yaml"])));
    let by_kseal = ok(run(sb.kseal().args(["encrypt", "s.yaml"])));
    let want = vec![
        vec![r(0).to_string(), r(1).to_string(), r(2).to_string()],
        vec![r(3).to_string()],
    ];
    assert_eq!(group_recipients(&by_sops), want, "{by_sops}");
    assert_eq!(group_recipients(&by_kseal), want, "{by_kseal}");
    sb.write("g.yaml", &by_kseal);
    opens_exactly(&sb, &k, "g.yaml", &[&[0, 1, 2], &[3]], 2);
    // And updatekeys finds kseal's file up to date with the nested rule.
    let o = run(sb.kseal().args(["updatekeys", "--dry-run", "g.yaml"]));
    assert!(ok(o).contains("g.yaml: already up to date"));

    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - key_groups:\n      - merge:\n          age: [{}]\n      - age: [{}]\n",
            r(0),
            r(3)
        ),
    );
    let o = run(sb.tool("sops").args(["encrypt", "s.yaml"]));
    assert!(!o.status.success());
    let o = run(sb.kseal().args(["encrypt", "s.yaml"]));
    assert_eq!(code(&o), Some(8), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a key group's `merge` is not a list of key groups"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
}
