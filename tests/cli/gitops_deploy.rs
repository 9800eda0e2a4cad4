//! The deploy path with the real tools installed here: kustomize (inside kubectl) running
//! kseal as a legacy exec plugin, kpt running it as a KRM function, the Argo CD plugin's
//! generate command, the Flux key-Secret recipe, and the helm-secrets backend script.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use kseal::yaml::tree::{parse, Mapping, Node};

struct Env {
    sb: Sandbox,
    key: PathBuf,
    recipient: String,
}

impl Env {
    fn new() -> Env {
        let sb = Sandbox::new();
        let key = sb.path("age.agekey");
        let out = run(sb.kseal().args(["keygen", "-o"]).arg(&key));
        assert!(out.status.success(), "{}", stderr(&out));
        let recipient = stderr(&out)
            .lines()
            .find_map(|l| l.strip_prefix("Public key: "))
            .expect("recipient")
            .trim()
            .to_string();
        Env { sb, key, recipient }
    }
    fn with_key(&self, mut c: Command) -> Command {
        c.env("KSEAL_AGE_KEY_FILE", &self.key)
            .env("XDG_CONFIG_HOME", self.sb.path(".config"));
        c
    }
    fn kseal(&self) -> Command {
        self.with_key(self.sb.kseal())
    }
    fn tool(&self, name: &str) -> Command {
        self.with_key(self.sb.tool(name))
    }
    fn encrypt(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.sb.write(rel, text);
        ok(run(self
            .kseal()
            .args(["encrypt", "-i", "--age", &self.recipient])
            .arg(&p)));
        p
    }
    /// kseal installed as kustomize's legacy exec plugins (symlinks named after the Kind), by
    /// `kseal kustomize install`, which needs no source checkout.
    fn install_plugins(&self) {
        let out = run(self.kseal().args(["kustomize", "install"]));
        assert!(out.status.success(), "{}", stderr(&out));
    }
    fn kustomize(&self, dir: &str) -> std::process::Output {
        run(self
            .tool("kubectl")
            .args(["kustomize", "--enable-alpha-plugins"])
            .arg(self.sb.path(dir)))
    }
    /// A bin directory with `kseal` and a `kustomize` that is kubectl's.
    fn bin_path(&self) -> String {
        let bin = self.sb.path("bin");
        if !bin.exists() {
            std::fs::create_dir_all(&bin).unwrap();
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kseal"), bin.join("kseal")).unwrap();
            let shim = self.sb.write(
                "bin/kustomize",
                "#!/bin/sh\n[ \"$1\" = build ] && shift\nexec kubectl kustomize \"$@\"\n",
            );
            make_executable(&shim);
        }
        format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
    }
}

fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

const TWO_SECRETS: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\nstringData:\n  password: s3cr3t\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: api\n  namespace: prod\ndata:\n  token: dG9rZW4=\n";

const GENERATOR: &str = "apiVersion: kseal.dev/v1alpha1\nkind: KsealGenerator\nmetadata:\n  name: secrets\nfiles:\n  - secrets.enc.yaml\n";

/// `kseal kustomize install` makes the links contrib/kustomize/install-plugins.sh makes, into
/// kustomize's plugin directory ($KUSTOMIZE_PLUGIN_HOME first), replaces its own old links,
/// and leaves a file that is not a link alone (exit 10).
#[test]
fn kustomize_install_links_the_plugins_like_the_contrib_script() {
    let e = Env::new();
    let bin = std::fs::canonicalize(env!("CARGO_BIN_EXE_kseal")).unwrap();
    let links = |home: &Path| -> Vec<PathBuf> {
        [
            "ksealgenerator/KsealGenerator",
            "ksealtransformer/KsealTransformer",
        ]
        .iter()
        .map(|l| std::fs::read_link(home.join("kseal.dev/v1alpha1").join(l)).unwrap())
        .collect()
    };
    e.install_plugins();
    let xdg = e.sb.path(".config/kustomize/plugin");
    assert_eq!(links(&xdg), [bin.clone(), bin.clone()]);
    let out = run(e
        .tool("sh")
        .arg(repo().join("contrib/kustomize/install-plugins.sh"))
        .arg(env!("CARGO_BIN_EXE_kseal"))
        .env("XDG_CONFIG_HOME", e.sb.path("script")));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(links(&e.sb.path("script/kustomize/plugin")), links(&xdg));
    // KUSTOMIZE_PLUGIN_HOME wins, and kubectl kustomize finds the plugins there.
    let home = e.sb.path("plugins");
    let out = run(e
        .kseal()
        .args(["kustomize", "install"])
        .env("KUSTOMIZE_PLUGIN_HOME", &home));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(links(&home), [bin.clone(), bin.clone()]);
    std::fs::remove_dir_all(&xdg).unwrap();
    e.encrypt("k/secrets.enc.yaml", TWO_SECRETS);
    e.sb.write("k/generator.yaml", GENERATOR);
    e.sb.write("k/kustomization.yaml", "generators:\n  - generator.yaml\n");
    let out = run(e
        .tool("kubectl")
        .args(["kustomize", "--enable-alpha-plugins"])
        .arg(e.sb.path("k"))
        .env("KUSTOMIZE_PLUGIN_HOME", &home));
    assert!(
        stdout(&out).contains("password: s3cr3t"),
        "{}",
        stderr(&out)
    );
    // A link to another binary is replaced; a regular file is not.
    let other = e.sb.write("other-kseal", "#!/bin/sh\n");
    let out = run(e
        .kseal()
        .args(["kustomize", "install", "--plugin-home"])
        .arg(&home)
        .arg("--kseal")
        .arg(&other));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(links(&home)[0], std::fs::canonicalize(&other).unwrap());
    let generator = home.join("kseal.dev/v1alpha1/ksealgenerator/KsealGenerator");
    std::fs::remove_file(&generator).unwrap();
    std::fs::write(&generator, "mine").unwrap();
    let out = run(e
        .kseal()
        .args(["kustomize", "install", "--plugin-home"])
        .arg(&home));
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not a symbolic link"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&generator), "mine");
}

#[test]
fn kustomize_legacy_generator_decrypts_with_hash_and_behavior() {
    let e = Env::new();
    e.install_plugins();
    e.encrypt("base/secrets.enc.yaml", TWO_SECRETS);
    e.sb.write("base/generator.yaml", GENERATOR);
    e.sb.write(
        "base/kustomization.yaml",
        "generators:\n  - generator.yaml\n",
    );
    let out = e.kustomize("base");
    let text = ok(out);
    assert!(
        text.contains("  name: db\n") && text.contains("  password: s3cr3t\n"),
        "{text}"
    );
    assert!(
        text.contains("  token: dG9rZW4=\n") && !text.contains("ENC["),
        "{text}"
    );
    assert!(!text.contains("sops:"));
    // needs-hash on the generator: names get kustomize's content hash.
    e.sb.write(
        "hashed/generator.yaml",
        GENERATOR.replace(
            "  name: secrets\n",
            "  name: secrets\n  annotations:\n    kustomize.config.k8s.io/needs-hash: \"true\"\n",
        ),
    );
    std::fs::copy(
        e.sb.path("base/secrets.enc.yaml"),
        e.sb.path("hashed/secrets.enc.yaml"),
    )
    .unwrap();
    e.sb.write(
        "hashed/kustomization.yaml",
        "generators:\n  - generator.yaml\n",
    );
    let hashed = ok(e.kustomize("hashed"));
    assert!(
        hashed.contains("  name: db-") && !hashed.contains("  name: db\n"),
        "{hashed}"
    );
    assert!(
        !hashed.contains("needs-hash"),
        "kustomize strips the annotation"
    );
    // An overlay merges into the base Secret with behavior: merge.
    e.encrypt(
        "overlay/secrets.enc.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\nstringData:\n  extra: more\n",
    );
    e.sb.write(
        "overlay/generator.yaml",
        GENERATOR.replace(
            "  name: secrets\n",
            "  name: overlay-secrets\n  annotations:\n    kustomize.config.k8s.io/behavior: merge\n",
        ),
    );
    e.sb.write(
        "overlay/kustomization.yaml",
        "resources:\n  - ../base\ngenerators:\n  - generator.yaml\n",
    );
    let merged = ok(e.kustomize("overlay"));
    // kustomize merged the overlay's Secret into the base one (same name, one object).
    assert!(merged.contains("  extra: more\n"), "{merged}");
    assert_eq!(merged.matches("name: db\n").count(), 1, "{merged}");
    assert!(
        !merged.contains("behavior"),
        "kustomize strips the annotation"
    );
    // Without the annotation the same overlay is an id conflict.
    e.sb.write(
        "overlay/generator.yaml",
        GENERATOR.replace("  name: secrets\n", "  name: overlay-secrets\n"),
    );
    assert!(!e.kustomize("overlay").status.success());
}

#[test]
fn kustomize_legacy_generator_as_a_script_and_errors() {
    let e = Env::new();
    let dir =
        e.sb.path(".config/kustomize/plugin/kseal.dev/v1alpha1/ksealgenerator");
    std::fs::create_dir_all(&dir).unwrap();
    let script = e.sb.write(
        ".config/kustomize/plugin/kseal.dev/v1alpha1/ksealgenerator/KsealGenerator",
        format!(
            "#!/bin/sh\nexec {} kustomize plugin \"$@\"\n",
            env!("CARGO_BIN_EXE_kseal")
        ),
    );
    make_executable(&script);
    e.encrypt("k/secrets.enc.yaml", TWO_SECRETS);
    e.sb.write("k/generator.yaml", GENERATOR);
    e.sb.write("k/kustomization.yaml", "generators:\n  - generator.yaml\n");
    assert!(ok(e.kustomize("k")).contains("password: s3cr3t"));
    // A tampered file fails the build (MAC), with no value in the message.
    let p = e.sb.path("k/secrets.enc.yaml");
    std::fs::write(&p, read(&p).replace("namespace: prod", "namespace: dev")).unwrap();
    let out = e.kustomize("k");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("MAC mismatch"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    // No key: a clear error.
    std::fs::write(&p, read(&p).replace("namespace: dev", "namespace: prod")).unwrap();
    let out = run(e
        .tool("kubectl")
        .env_remove("KSEAL_AGE_KEY_FILE")
        .args(["kustomize", "--enable-alpha-plugins"])
        .arg(e.sb.path("k")));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no age identity found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn kustomize_legacy_transformer_verifies_or_refuses() {
    let e = Env::new();
    e.install_plugins();
    // kubectl writes keys in alphabetical order, the order kustomize re-serialises them in.
    let made = |name: &str, lit: &str| {
        ok(run(e.sb.tool("kubectl").args([
            "create",
            "secret",
            "generic",
            name,
            "--from-literal",
            lit,
            "--dry-run=client",
            "-o",
            "yaml",
        ])))
    };
    let stream = format!(
        "{}---\n{}",
        made("db", "password=s3cr3t"),
        made("api", "token=t0k")
    );
    e.encrypt("t/secrets.enc.yaml", &stream);
    e.sb.write(
        "t/transformer.yaml",
        "apiVersion: kseal.dev/v1alpha1\nkind: KsealTransformer\nmetadata:\n  name: decrypt\n",
    );
    e.sb.write(
        "t/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: b\n",
    );
    e.sb.write(
        "t/kustomization.yaml",
        "resources:\n  - secrets.enc.yaml\n  - cm.yaml\ntransformers:\n  - transformer.yaml\n",
    );
    let text = ok(e.kustomize("t"));
    assert!(
        text.contains("password: czNjcjN0") && text.contains("token: dDBr"),
        "{text}"
    );
    assert!(
        text.contains("name: cfg") && !text.contains("ENC["),
        "{text}"
    );
    // A build that changed the Secrets: refused, the MAC cannot verify.
    let k = e.sb.path("t/kustomization.yaml");
    std::fs::write(&k, format!("{}namePrefix: x-\n", read(&k))).unwrap();
    let out = e.kustomize("t");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("refusing to decrypt"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("over the 2 resources of the build"),
        "{}",
        stderr(&out)
    );
    // The hint names the likely causes, not only key sorting (issue 13).
    for cause in [
        "not in alphabetical order",
        "`namespace:`",
        "`commonLabels`",
    ] {
        assert!(stderr(&out).contains(cause), "{cause}: {}", stderr(&out));
    }
    assert!(!stdout(&out).contains("czNjcjN0"));
}

/// `files:` entries in or below the kustomization root are read; `..`, absolute paths and
/// symbolic links out of the root are refused, as kustomize's own generators refuse them
/// (legacy plugin through kubectl kustomize); KSEAL_LOAD_RESTRICTOR lifts the rule.
#[test]
fn generator_refuses_files_outside_the_kustomization_root() {
    let e = Env::new();
    e.install_plugins();
    e.encrypt("app/sub/in.enc.yaml", TWO_SECRETS);
    e.encrypt(
        "outside.enc.yaml",
        &TWO_SECRETS.replace("name: db", "name: other-team"),
    );
    std::os::unix::fs::symlink("../outside.enc.yaml", e.sb.path("app/link.enc.yaml")).unwrap();
    std::os::unix::fs::symlink("sub/in.enc.yaml", e.sb.path("app/inlink.enc.yaml")).unwrap();
    e.sb.write(
        "app/kustomization.yaml",
        "generators:\n  - generator.yaml\n",
    );
    let with_file = |f: &str| {
        e.sb.write(
            "app/generator.yaml",
            GENERATOR.replace("secrets.enc.yaml", f),
        );
    };
    for inside in [
        "sub/in.enc.yaml",
        "./sub/../sub/in.enc.yaml",
        "inlink.enc.yaml",
    ] {
        with_file(inside);
        let text = ok(e.kustomize("app"));
        assert!(text.contains("password: s3cr3t"), "{inside}: {text}");
    }
    let abs = e.sb.path("outside.enc.yaml").display().to_string();
    for (outside, why) in [
        ("../outside.enc.yaml", "climbs above the root"),
        ("sub/../../outside.enc.yaml", "climbs above the root"),
        (abs.as_str(), "is an absolute path"),
        ("link.enc.yaml", "resolves (through a symbolic link)"),
    ] {
        with_file(outside);
        let out = e.kustomize("app");
        assert!(!out.status.success(), "{outside}: {}", stdout(&out));
        assert!(!stdout(&out).contains("other-team"));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("`files` entry {outside} {why}"))
                && err.contains("not in or below"),
            "{outside}: {err}"
        );
        assert!(
            err.contains("KSEAL_LOAD_RESTRICTOR=LoadRestrictionsNone"),
            "{err}"
        );
    }
    // The operator's opt-out (an environment variable, not the configuration an
    // Application author writes).
    with_file("../outside.enc.yaml");
    let none = |v: &str| {
        run(e
            .tool("kubectl")
            .env("KSEAL_LOAD_RESTRICTOR", v)
            .args(["kustomize", "--enable-alpha-plugins"])
            .arg(e.sb.path("app")))
    };
    assert!(ok(none("LoadRestrictionsNone")).contains("other-team"));
    let bad = none("LoadRestrictionsRootOnly");
    assert!(!bad.status.success());
    let typo = none("none");
    assert!(!typo.status.success());
    assert!(
        stderr(&typo).contains("KSEAL_LOAD_RESTRICTOR"),
        "{}",
        stderr(&typo)
    );
}

/// kpt runs `kseal kustomize fn`: `files:` name package files (relative to the package root
/// with `fn eval --fn-config`, to the config's directory with `fn render`), the package's
/// encrypted file is replaced by its decrypted documents (not output next to them), files
/// outside the package are refused, and kpt cannot write the plaintext into the package.
#[test]
fn kpt_runs_the_krm_function_generator_and_transformer() {
    let kpt = require("kpt");
    let kpt = kpt.to_str().unwrap();
    let e = Env::new();
    e.encrypt("pkg/secrets.enc.yaml", TWO_SECRETS);
    e.sb.write(
        "pkg/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: b\n",
    );
    let fn_exec = format!("{} kustomize fn --package pkg", env!("CARGO_BIN_EXE_kseal"));
    let gen = e.sb.write("fn/generator.yaml", GENERATOR);
    let eval = |exec: &str, config: &Path, output: Option<&str>| {
        let mut c = e.tool(kpt);
        c.current_dir(e.sb.path(""))
            .args(["fn", "eval", "pkg", "--exec", exec, "--fn-config"])
            .arg(config);
        if let Some(o) = output {
            c.args(["-o", o]);
        }
        run(&mut c)
    };
    // docs/integrations/kustomize.md: `-o unwrap` prints manifests for kubectl apply.
    let text = ok(eval(&fn_exec, &gen, Some("unwrap")));
    assert!(
        text.contains("password: s3cr3t") && text.contains("token: dG9rZW4="),
        "{text}"
    );
    assert!(
        text.contains("name: cfg"),
        "package resources are kept: {text}"
    );
    assert!(
        !text.contains("ENC[") && !text.contains("sops:"),
        "the encrypted twin is not output: {text}"
    );
    assert_eq!(text.matches("name: db\n").count(), 1, "{text}");
    // A plain manifest stream for `kubectl apply -f -`: objects without kpt's annotations.
    let stream = parse(&text).unwrap();
    let kinds: Vec<String> = stream
        .docs
        .iter()
        .map(|d| {
            d.root_mapping()
                .unwrap()
                .get_str("kind")
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["ConfigMap", "Secret", "Secret"], "{text}");
    assert!(!text.contains("config.kubernetes.io"), "{text}");
    // fn eval does not say where the package is: without --package the symlink check
    // cannot be made, and kseal says so.
    let plain_exec = format!("{} kustomize fn", env!("CARGO_BIN_EXE_kseal"));
    let out = eval(&plain_exec, &gen, Some("unwrap"));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--package"), "{}", stderr(&out));
    // Outside the package: `..`, absolute, a symbolic link out.
    e.encrypt(
        "outside.enc.yaml",
        &TWO_SECRETS.replace("name: db", "name: other-team"),
    );
    std::os::unix::fs::symlink("../outside.enc.yaml", e.sb.path("pkg/link.enc.yaml")).unwrap();
    let abs = e.sb.path("outside.enc.yaml").display().to_string();
    for (outside, why) in [
        ("../outside.enc.yaml", "climbs above the root"),
        (abs.as_str(), "is an absolute path"),
        ("link.enc.yaml", "resolves (through a symbolic link)"),
    ] {
        let g = e.sb.write(
            "fn/outside.yaml",
            GENERATOR.replace("secrets.enc.yaml", outside),
        );
        let out = eval(&fn_exec, &g, Some("unwrap"));
        assert!(!out.status.success(), "{outside}: {}", stdout(&out));
        assert!(!stdout(&out).contains("other-team"));
        // kpt quotes the function's stderr.
        let err = stderr(&out);
        assert!(
            err.contains(&format!("`files` entry {outside} {why}")),
            "{outside}: {err}"
        );
    }
    std::fs::remove_file(e.sb.path("pkg/link.enc.yaml")).unwrap();
    // Without -o, kpt would write the function's output into the package: the decrypted
    // Secrets carry an absolute path, kpt refuses, and the package stays as it was.
    let before = read(&e.sb.path("pkg/secrets.enc.yaml"));
    let out = eval(&fn_exec, &gen, None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot be a directory"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&e.sb.path("pkg/secrets.enc.yaml")), before);
    let mut names: Vec<_> = std::fs::read_dir(e.sb.path("pkg"))
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["cm.yaml", "secrets.enc.yaml"]);
    // The transformer decrypts the package's encrypted resources; kpt's annotations are left
    // out of the MAC check, and the decrypted ones lose their package path.
    let tr = e.sb.write(
        "fn/transformer.yaml",
        "apiVersion: kseal.dev/v1alpha1\nkind: KsealTransformer\nmetadata:\n  name: decrypt\n",
    );
    let text = ok(eval(&fn_exec, &tr, Some("stdout")));
    assert!(
        text.contains("password: s3cr3t") && !text.contains("ENC["),
        "{text}"
    );
    assert!(
        text.contains("config.kubernetes.io/path: 'cm.yaml'")
            && !text.contains("path: 'secrets.enc.yaml'")
            && text.contains("path: kseal-plaintext-is-not-written-to-the-package/.."),
        "{text}"
    );
    assert!(!eval(&fn_exec, &tr, None).status.success());
    assert_eq!(read(&e.sb.path("pkg/secrets.enc.yaml")), before);
}

/// `kpt fn render` with the generator in the Kptfile pipeline: `--allow-exec` is required,
/// `files:` are relative to the configuration's directory in the package, and kpt names
/// the package itself (no --package needed).
#[test]
fn kpt_fn_render_resolves_files_from_the_config_directory() {
    let kpt = require("kpt");
    let kpt = kpt.to_str().unwrap();
    let e = Env::new();
    e.encrypt("rpkg/secrets.enc.yaml", TWO_SECRETS);
    e.sb.write(
        "rpkg/fn/generator.yaml",
        GENERATOR.replace("secrets.enc.yaml", "../secrets.enc.yaml"),
    );
    let link = e.sb.path("kseal-krm");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kseal"), &link).unwrap();
    e.sb.write(
        "rpkg/Kptfile",
        format!(
            "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: rpkg\npipeline:\n  mutators:\n    - exec: {}\n      configPath: fn/generator.yaml\n",
            link.display()
        ),
    );
    let render = |extra: &[&str]| {
        run(e
            .tool(kpt)
            .args(["fn", "render", "rpkg"])
            .args(extra)
            .current_dir(e.sb.path("")))
    };
    let out = render(&["-o", "unwrap"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--allow-exec"), "{}", stderr(&out));
    let text = ok(render(&["--allow-exec", "-o", "unwrap"]));
    assert!(
        text.contains("password: s3cr3t") && !text.contains("ENC["),
        "{text}"
    );
    // kustomize.md: the Kptfile and the configuration come out too (not for kubectl apply).
    assert!(
        text.contains("kind: Kptfile") && text.contains("kind: KsealGenerator"),
        "{text}"
    );
    // Writing back into the package is refused; nothing in it changes.
    let out = render(&["--allow-exec"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot be a directory"),
        "{}",
        stderr(&out)
    );
    assert!(read(&e.sb.path("rpkg/secrets.enc.yaml")).contains("ENC["));
    let mut files: Vec<String> = Vec::new();
    for d in ["rpkg", "rpkg/fn"] {
        for f in std::fs::read_dir(e.sb.path(d)).unwrap() {
            files.push(f.unwrap().file_name().into_string().unwrap());
        }
    }
    files.sort();
    assert_eq!(
        files,
        ["Kptfile", "fn", "generator.yaml", "secrets.enc.yaml"]
    );
}

#[test]
fn krm_function_protocol_on_stdin() {
    let e = Env::new();
    e.encrypt("secrets.enc.yaml", TWO_SECRETS);
    // What kustomize sends a generator: the config as functionConfig and as the only item.
    let config = "  apiVersion: kseal.dev/v1alpha1\n  kind: KsealGenerator\n  metadata:\n    name: secrets\n    annotations:\n      config.kubernetes.io/local-config: \"true\"\n      kustomize.config.k8s.io/needs-hash: \"true\"\n  files:\n  - secrets.enc.yaml\n";
    let rl = format!(
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n-{}functionConfig:\n{config}",
        &config[1..]
    );
    let input = e.sb.write("rl.yaml", &rl);
    let out = run(e
        .kseal()
        .args(["kustomize", "fn"])
        .stdin(std::fs::File::open(&input).unwrap()));
    let text = ok(out);
    assert!(text.starts_with("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"));
    assert_eq!(
        text.matches("kustomize.config.k8s.io/needs-hash: \"true\"")
            .count(),
        3,
        "{text}"
    );
    assert!(text.contains("    password: s3cr3t\n"), "{text}");
    // Invoked as `kseal-krm` (a symlink, for kustomize's exec path), no subcommand is needed.
    let link = e.sb.path("kseal-krm");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kseal"), &link).unwrap();
    let out = run(e
        .with_key(Command::new(&link))
        .current_dir(e.sb.path(""))
        .stdin(std::fs::File::open(&input).unwrap()));
    assert_eq!(ok(out), text);
    let bad = run(e
        .kseal()
        .args(["kustomize", "fn"])
        .stdin(std::fs::File::open(e.sb.path("secrets.enc.yaml")).unwrap()));
    assert_eq!(bad.status.code(), Some(4));
    // The KRM form keeps to the kustomization root (kustomize runs it there) like the legacy
    // one: `..`, absolute and linked-out files are refused.
    std::fs::create_dir_all(e.sb.path("app")).unwrap();
    std::os::unix::fs::symlink("../secrets.enc.yaml", e.sb.path("app/link.enc.yaml")).unwrap();
    let abs = e.sb.path("secrets.enc.yaml").display().to_string();
    for outside in ["../secrets.enc.yaml", abs.as_str(), "link.enc.yaml"] {
        let list = e.sb.write(
            "app/rl.yaml",
            rl.replace("  - secrets.enc.yaml\n", &format!("  - {outside}\n")),
        );
        let out = run(e
            .kseal()
            .args(["kustomize", "fn"])
            .current_dir(e.sb.path("app"))
            .stdin(std::fs::File::open(&list).unwrap()));
        assert_eq!(out.status.code(), Some(10), "{outside}: {}", stdout(&out));
        assert!(stderr(&out).contains("not in or below"), "{}", stderr(&out));
        assert!(!stdout(&out).contains("s3cr3t"));
    }
}

/// A mapping's child mapping (panics with the key: the manifests are fixed files).
fn child<'a>(m: &'a Mapping<'a>, key: &str) -> &'a Mapping<'a> {
    m.get(key)
        .and_then(Node::as_mapping)
        .unwrap_or_else(|| panic!("no mapping {key}"))
}

/// The items of a sequence under `key` (none when absent).
fn seq<'a>(m: &'a Mapping<'a>, key: &str) -> Vec<&'a Node<'a>> {
    match m.get(key) {
        Some(Node::Sequence(q)) => q.items.iter().collect(),
        _ => Vec::new(),
    }
}

fn words(m: &Mapping, key: &str) -> Vec<String> {
    seq(m, key)
        .iter()
        .map(|n| n.as_scalar().unwrap().value.to_string())
        .collect()
}

/// An integer as Kubernetes reads it from YAML (YAML 1.1: a leading 0 means octal).
fn k8s_int(s: &str) -> u32 {
    if let Some(o) = s.strip_prefix("0o") {
        u32::from_str_radix(o, 8).unwrap()
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8).unwrap()
    } else {
        s.parse().unwrap()
    }
}

/// Owner, group and mode of a file in a Secret volume, as the kubelet sets them: owned by
/// root (Kubernetes cannot change that), the volume's mode, and, with a pod fsGroup, that
/// group with its read bits added (a Secret volume is read-only: 0440 is ORed in).
fn secret_file(mode: u32, fs_group: Option<u32>) -> (u32, u32, u32) {
    match fs_group {
        Some(g) => (0, g, mode | 0o440),
        None => (0, 0, mode),
    }
}

fn can_read(uid: u32, groups: &[u32], (owner, group, mode): (u32, u32, u32)) -> bool {
    if uid == 0 {
        return true;
    }
    if uid == owner {
        return mode & 0o400 != 0;
    }
    if groups.contains(&group) {
        return mode & 0o040 != 0;
    }
    mode & 0o004 != 0
}

/// contrib/argocd/repo-server-patch.yaml: the file KSEAL_AGE_KEY_FILE names is readable by
/// the sidecar's user, computed from the volume's mode, the pod's fsGroup and the user.
#[test]
fn argocd_sidecar_can_read_the_age_key() {
    // The model rejects what shipped before: 0400, no fsGroup, user 999.
    assert!(!can_read(999, &[], secret_file(0o400, None)));
    assert!(can_read(999, &[999], secret_file(0o400, Some(999))));
    let text = read(&repo().join("contrib/argocd/repo-server-patch.yaml"));
    let stream = parse(&text).unwrap();
    let pod = child(
        child(
            child(stream.docs[0].root_mapping().unwrap(), "spec"),
            "template",
        ),
        "spec",
    );
    let pod_sc = pod.get("securityContext").and_then(Node::as_mapping);
    let fs_group = pod_sc.and_then(|m| m.get_str("fsGroup")).map(k8s_int);
    let container = seq(pod, "containers")
        .into_iter()
        .map(|n| n.as_mapping().unwrap())
        .find(|c| c.get_str("name") == Some("kseal-cmp"))
        .expect("the kseal-cmp sidecar");
    let sc = child(container, "securityContext");
    let uid = k8s_int(sc.get_str("runAsUser").expect("runAsUser"));
    assert_ne!(uid, 0, "the sidecar does not run as root");
    // Its groups: runAsGroup when set (else the image's, unknown here: not counted), the
    // pod's supplementalGroups and fsGroup.
    let mut groups: Vec<u32> = [
        sc.get_str("runAsGroup"),
        pod_sc.and_then(|m| m.get_str("runAsGroup")),
    ]
    .into_iter()
    .flatten()
    .map(k8s_int)
    .collect();
    if let Some(p) = pod_sc {
        groups.extend(
            seq(p, "supplementalGroups")
                .iter()
                .map(|n| k8s_int(&n.as_scalar().unwrap().value)),
        );
    }
    groups.extend(fs_group);
    let key_file = seq(container, "env")
        .into_iter()
        .map(|n| n.as_mapping().unwrap())
        .find(|e| e.get_str("name") == Some("KSEAL_AGE_KEY_FILE"))
        .and_then(|e| e.get_str("value"))
        .expect("KSEAL_AGE_KEY_FILE")
        .to_string();
    let mount = seq(container, "volumeMounts")
        .into_iter()
        .map(|n| n.as_mapping().unwrap())
        .find(|m| key_file.starts_with(&format!("{}/", m.get_str("mountPath").unwrap())))
        .expect("a volume mounted above the key file");
    let volume_name = mount.get_str("name").unwrap();
    let volume = seq(pod, "volumes")
        .into_iter()
        .map(|n| n.as_mapping().unwrap())
        .find(|v| v.get_str("name") == Some(volume_name))
        .expect("the key volume");
    let secret = child(volume, "secret");
    let key = &key_file[mount.get_str("mountPath").unwrap().len() + 1..];
    // An item's own mode wins over the volume's defaultMode (0644 when absent).
    let item_mode = seq(secret, "items")
        .into_iter()
        .map(|n| n.as_mapping().unwrap())
        .find(|i| i.get_str("path") == Some(key))
        .and_then(|i| i.get_str("mode"));
    let mode = k8s_int(
        item_mode
            .or(secret.get_str("defaultMode"))
            .unwrap_or("0644"),
    );
    let file = secret_file(mode, fs_group);
    assert!(
        can_read(uid, &groups, file),
        "user {uid} (groups {groups:?}) cannot read {key_file}: owner/group/mode {}/{}/{:o}",
        file.0,
        file.1,
        file.2
    );
    assert_eq!(file.2 & 0o002, 0, "never writable by others");
    // The Secret that docs/integrations/argocd.md creates holds that key name.
    let doc = read(&repo().join("docs/integrations/argocd.md"));
    let secret_name = secret.get_str("secretName").unwrap();
    assert!(
        doc.contains(&format!(
            "create secret generic {secret_name} --from-file={key}="
        )),
        "the doc's Secret must hold {key}"
    );
}

/// The plugin's spec from contrib/argocd/plugin.yaml, with the kseal binary's PATH.
fn plugin_spec_command(section: &str) -> (Vec<String>, Vec<String>) {
    let plugin = read(&repo().join("contrib/argocd/plugin.yaml"));
    let stream = parse(&plugin).unwrap();
    let spec = child(stream.docs[0].root_mapping().unwrap(), "spec");
    assert_eq!(spec.get_str("version"), Some("v1"));
    let m = match section {
        "discover" => {
            let d = child(spec, "discover");
            assert!(
                d.get("fileName").is_none() && child(d, "find").get("glob").is_none(),
                "a file-name or glob rule would match every kustomize app"
            );
            child(d, "find")
        }
        other => child(spec, other),
    };
    (words(m, "command"), words(m, "args"))
}

/// Discovery (find.command, run in the app directory as Argo CD does: a match is exit 0
/// with output) matches an app that uses a kseal generator and no plain kustomize app.
#[test]
fn argocd_discovery_matches_only_kseal_apps() {
    let e = Env::new();
    let (command, args) = plugin_spec_command("discover");
    let discover = |dir: &str| {
        let out = run(e
            .tool(&command[0])
            .args(&command[1..])
            .args(&args)
            .current_dir(e.sb.path(dir)));
        assert!(out.status.success(), "{dir}: {}", stderr(&out));
        !stdout(&out).trim().is_empty()
    };
    e.sb.write("plain/kustomization.yaml", "resources:\n  - cm.yaml\n");
    e.sb.write(
        "plain/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n",
    );
    // Mentions kseal in a comment and a value, but declares no kseal plugin.
    e.sb.write("plain/notes.yaml", "# kind: KsealGenerator\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: KsealGenerator\n");
    assert!(
        !discover("plain"),
        "a plain kustomization is left to Argo CD's kustomize"
    );
    e.sb.write(
        "app/kustomization.yaml",
        "generators:\n  - generator.yaml\n",
    );
    e.sb.write("app/generator.yaml", GENERATOR);
    assert!(discover("app"));
    e.sb.write("overlay/kustomization.yaml", "resources:\n  - base\n");
    e.sb.write(
        "overlay/base/kustomization.yaml",
        "transformers:\n  - t.yaml\n",
    );
    e.sb.write(
        "overlay/base/t.yaml",
        "apiVersion: kseal.dev/v1alpha1\nkind: KsealTransformer\nmetadata:\n  name: d\n",
    );
    assert!(discover("overlay"));
    // A kseal configuration without a kustomization is not something the plugin renders.
    e.sb.write("loose/generator.yaml", GENERATOR);
    assert!(!discover("loose"));
}

/// The Argo CD plugin's generate command, exactly as plugin.yaml states it, on fixture
/// apps with kustomize and kseal on PATH: the legacy generator renders the decrypted
/// Secret; a KRM exec generator (which kustomize would skip, rendering no Secret) and a
/// broken kustomization fail with nothing on stdout.
#[test]
fn argocd_cmp_generate_command_renders_and_fails_loudly() {
    let e = Env::new();
    e.install_plugins();
    let (command, args) = plugin_spec_command("generate");
    assert!(args[0].contains("set -euo pipefail"));
    e.encrypt("app/secrets.enc.yaml", TWO_SECRETS);
    e.sb.write("app/generator.yaml", GENERATOR);
    e.sb.write(
        "app/deploy.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: b\n",
    );
    e.sb.write(
        "app/kustomization.yaml",
        "resources:\n  - deploy.yaml\ngenerators:\n  - generator.yaml\n",
    );
    let path = e.bin_path();
    let render = |dir: &str| {
        run(e
            .tool(&command[0])
            .args(&command[1..])
            .args(&args)
            .current_dir(e.sb.path(dir))
            .env("PATH", &path)
            .env("ARGOCD_APP_NAME", "app"))
    };
    let out = render("app");
    let text = ok(out);
    assert!(
        text.contains("password: s3cr3t") && text.contains("name: cfg"),
        "{text}"
    );
    assert!(!text.contains("ENC["));
    // The KRM form, in a base the app includes: kustomize alone would exit 0 without the
    // Secret (shown first), the plugin refuses it.
    e.encrypt("krm/base/secrets.enc.yaml", TWO_SECRETS);
    e.sb.write(
        "krm/base/generator.yaml",
        GENERATOR.replace(
            "  name: secrets\n",
            "  name: secrets\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: kseal-krm\n",
        ),
    );
    e.sb.write(
        "krm/base/kustomization.yaml",
        "generators:\n  - generator.yaml\n",
    );
    e.sb.write(
        "krm/kustomization.yaml",
        "resources:\n  - base\n  - cm.yaml\n",
    );
    e.sb.write(
        "krm/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n",
    );
    let silent = ok(e.kustomize("krm"));
    assert!(
        silent.contains("name: cfg") && !silent.contains("kind: Secret"),
        "{silent}"
    );
    let out = render("krm");
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).trim().is_empty());
    assert!(
        stderr(&out)
            .contains("base/generator.yaml: KsealGenerator secrets declares a KRM exec function"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("legacy plugin form"),
        "{}",
        stderr(&out)
    );
    // A broken kustomization must fail the render, not produce an empty manifest set.
    e.sb.write("app/kustomization.yaml", "resources:\n  - missing.yaml\n");
    let out = render("app");
    assert!(!out.status.success(), "pipefail: {}", stdout(&out));
    assert!(stdout(&out).trim().is_empty());
}

/// docs/integrations/flux.md: the key file named `*.agekey`, the `sops-age` Secret made with
/// kubectl, and kseal files that sops (Flux's decryptor) opens with that identity, per
/// resource and without the MAC as the controller does.
#[test]
fn flux_recipe_produces_a_decryptable_setup() {
    let sops = require("sops");
    let e = Env::new();
    let doc = read(&repo().join("docs/integrations/flux.md"));
    assert!(doc.contains("--from-file=age.agekey=/dev/stdin"));
    let key_text = read(&e.key);
    let out = run(e
        .sb
        .tool("kubectl")
        .args([
            "-n",
            "flux-system",
            "create",
            "secret",
            "generic",
            "sops-age",
            "--from-file=age.agekey=/dev/stdin",
            "--dry-run=client",
            "-o",
            "yaml",
        ])
        .stdin(std::fs::File::open(&e.key).unwrap()));
    let secret = ok(out);
    let stream = kseal::yaml::tree::parse(&secret).unwrap();
    let root = stream.docs[0].root_mapping().unwrap();
    let data = root.get("data").unwrap().as_mapping().unwrap();
    let (k, v) = &data.entries[0];
    let name = &k.as_scalar().unwrap().value;
    assert!(
        name.ends_with(".agekey"),
        "Flux only reads *.agekey: {name}"
    );
    use base64::Engine;
    let identity = base64::engine::general_purpose::STANDARD
        .decode(v.as_scalar().unwrap().value.as_bytes())
        .unwrap();
    assert_eq!(String::from_utf8(identity.clone()).unwrap(), key_text);
    // The Kustomization in the doc names that Secret and the sops provider.
    let start = doc
        .find("kind: Kustomization")
        .expect("a Flux Kustomization in the doc");
    let block = &doc[doc[..start].rfind("```yaml\n").unwrap() + 8..];
    let block = &block[..block.find("```").unwrap()];
    let k = kseal::yaml::tree::parse(block).unwrap();
    let dec = k.docs[0]
        .root_mapping()
        .unwrap()
        .get("spec")
        .unwrap()
        .as_mapping()
        .unwrap()
        .get("decryption")
        .unwrap()
        .as_mapping()
        .unwrap();
    assert_eq!(dec.get_str("provider"), Some("sops"));
    assert_eq!(
        dec.get("secretRef")
            .unwrap()
            .as_mapping()
            .unwrap()
            .get_str("name"),
        Some("sops-age")
    );
    // Encrypted manifests: the whole file and each resource alone (as Flux decrypts them).
    let enc = e.encrypt("flux/secrets.enc.yaml", TWO_SECRETS);
    let whole = run(e
        .sb
        .tool(sops.to_str().unwrap())
        .env("SOPS_AGE_KEY", String::from_utf8(identity.clone()).unwrap())
        .args(["decrypt"])
        .arg(&enc));
    // sops re-indents (4 spaces); the data is the same.
    let whole = ok(whole);
    assert!(
        whole.contains("password: s3cr3t")
            && whole.contains("token: dG9rZW4=")
            && !whole.contains("sops:"),
        "{whole}"
    );
    let text = read(&enc);
    for (i, part) in text.split("\n---\n").enumerate() {
        let f = e.sb.write(
            &format!("flux/part{i}.yaml"),
            format!("{}\n", part.trim_end()),
        );
        let one = run(e
            .sb
            .tool(sops.to_str().unwrap())
            .env("SOPS_AGE_KEY", String::from_utf8(identity.clone()).unwrap())
            .args(["decrypt", "--ignore-mac"])
            .arg(&f));
        let plain = ok(one);
        assert!(
            plain.contains(if i == 0 {
                "password: s3cr3t"
            } else {
                "token: dG9rZW4="
            }),
            "{plain}"
        );
    }
    // The CI checks the doc asks for, since Flux does not verify the MAC: the gate passes
    // the encrypted repository and every MAC verifies...
    let ci = e.sb.path("ci");
    std::fs::create_dir_all(&ci).unwrap();
    std::fs::copy(&enc, ci.join("secrets.enc.yaml")).unwrap();
    assert!(doc.contains("`kseal check`") && doc.contains("`kseal decrypt DIR > /dev/null`"));
    ok(run(e.kseal().arg("check").arg(&ci)));
    ok(run(e.kseal().arg("decrypt").arg(&ci)));
    // ...and a value removed from the file (each remaining value still decrypts, so sops
    // with --ignore-mac, as Flux decrypts, accepts it) fails kseal decrypt.
    let tampered = read(&ci.join("secrets.enc.yaml"));
    let token_line = tampered
        .lines()
        .find(|l| l.trim_start().starts_with("token: ENC["))
        .unwrap()
        .to_string();
    std::fs::write(
        ci.join("secrets.enc.yaml"),
        tampered.replace(&format!("{token_line}\n"), ""),
    )
    .unwrap();
    let flux_like = run(e
        .sb
        .tool(sops.to_str().unwrap())
        .env("SOPS_AGE_KEY", String::from_utf8(identity.clone()).unwrap())
        .args(["decrypt", "--ignore-mac"])
        .arg(ci.join("secrets.enc.yaml")));
    assert!(ok(flux_like).contains("password: s3cr3t"));
    let out = run(e.kseal().arg("decrypt").arg(&ci));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("MAC"), "{}", stderr(&out));
}

/// contrib/helm-secrets-backend.sh, sourced by sh under `set -euf` like helm-secrets does,
/// every function.
#[test]
fn helm_secrets_backend_functions() {
    let e = Env::new();
    let bin = e.bin_path();
    let backend = repo().join("contrib/helm-secrets-backend.sh");
    let sh = |script: &str| {
        run(e
            .tool("sh")
            .current_dir(e.sb.path(""))
            .env("PATH", &bin)
            .env("KSEAL_AGE_RECIPIENTS", &e.recipient)
            .arg("-c")
            .arg(format!("set -euf\n. '{}'\n{script}", backend.display())))
    };
    let plain = e.sb.write("secrets.yaml", TWO_SECRETS);
    let _ = plain;
    // encrypt: to stdout, to a file, in place.
    let out = sh("_custom_backend_encrypt_file yaml secrets.yaml");
    assert!(ok(out).contains("ENC[AES256_GCM"));
    ok(sh(
        "_custom_backend_encrypt_file yaml secrets.yaml out.yaml",
    ));
    assert!(read(&e.sb.path("out.yaml")).contains("sops:"));
    ok(sh(
        "_custom_backend_encrypt_file auto secrets.yaml secrets.yaml",
    ));
    assert!(read(&e.sb.path("secrets.yaml")).contains("ENC[AES256_GCM"));
    assert!(!sh("_custom_backend_encrypt_file json secrets.yaml")
        .status
        .success());
    // detection
    assert!(sh("_custom_backend_is_file_encrypted secrets.yaml")
        .status
        .success());
    e.sb.write("values.yaml", "replicas: 2\n");
    assert!(!sh("_custom_backend_is_file_encrypted values.yaml")
        .status
        .success());
    assert!(sh("_custom_backend_is_encrypted < out.yaml")
        .status
        .success());
    assert!(!sh("_custom_backend_is_encrypted < values.yaml")
        .status
        .success());
    // decrypt: stdout, file, in place.
    assert_eq!(
        ok(sh("_custom_backend_decrypt_file yaml secrets.yaml")),
        TWO_SECRETS
    );
    ok(sh("_custom_backend_decrypt_file yaml out.yaml dec.yaml"));
    assert_eq!(read(&e.sb.path("dec.yaml")), TWO_SECRETS);
    ok(sh("_custom_backend_decrypt_file auto out.yaml out.yaml"));
    assert_eq!(read(&e.sb.path("out.yaml")), TWO_SECRETS);
    // A values file written by sops decrypts too, with the identity passed as backend args.
    let sops_made = fixture("sops-made/basic-auth.yaml");
    let out = run(e
        .tool("sh")
        .current_dir(e.sb.path(""))
        .env("PATH", &bin)
        .env(
            "SECRET_BACKEND_ARGS",
            format!("--identity '{}'", fixture("sops-made/key.txt").display()),
        )
        .arg("-c")
        .arg(format!(
            "set -euf\n. '{}'\n_custom_backend_decrypt_file yaml '{}'",
            backend.display(),
            sops_made.display()
        )));
    assert!(ok(out).contains("kind: Secret"));
    // literals: an encrypted document decrypts, plain text passes through.
    let enc = read(&e.sb.path("secrets.yaml"));
    let out = run(e
        .tool("sh")
        .env("PATH", &bin)
        .env("LIT", &enc)
        .arg("-c")
        .arg(format!(
            "set -euf\n. '{}'\n_custom_backend_decrypt_literal \"$LIT\"",
            backend.display()
        )));
    assert_eq!(ok(out), TWO_SECRETS);
    assert_eq!(
        ok(sh("_custom_backend_decrypt_literal plain-value")),
        "plain-value"
    );
    // edit: kseal edit with the EDITOR.
    let editor = e.sb.write(
        "ed.sh",
        "#!/bin/sh\nsed -i 's/password: s3cr3t/password: edited/' \"$1\"\n",
    );
    make_executable(&editor);
    let out = run(e
        .tool("sh")
        .current_dir(e.sb.path(""))
        .env("PATH", &bin)
        .env("EDITOR", &editor)
        .arg("-c")
        .arg(format!(
            "set -euf\n. '{}'\n_custom_backend_edit_file yaml secrets.yaml",
            backend.display()
        )));
    ok(out);
    assert!(
        ok(run(e.kseal().arg("decrypt").arg(e.sb.path("secrets.yaml"))))
            .contains("password: edited")
    );
}

/// tests/support/helm-secrets-harness.sh: helm-secrets 4.7's control flow (backend loading,
/// decrypt_helper, the downloader, the helm wrapper) and a helm that reads values files,
/// calling contrib/helm-secrets-backend.sh as helm-secrets does.
struct Helm<'a> {
    e: &'a Env,
    path: String,
    backend: String,
}

impl<'a> Helm<'a> {
    fn new(e: &'a Env) -> Helm<'a> {
        Helm {
            e,
            path: e.bin_path(),
            backend: repo()
                .join("contrib/helm-secrets-backend.sh")
                .display()
                .to_string(),
        }
    }
    /// `helm secrets ARGS` (HELM_SECRETS_* from `env`), or plain `helm ARGS` with `as_helm`.
    fn run(&self, as_helm: bool, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
        let mut c = self.e.tool("sh");
        c.arg(repo().join("tests/support/helm-secrets-harness.sh"))
            .args(args)
            .env("PATH", &self.path)
            .current_dir(self.e.sb.path("chart"));
        if as_helm {
            c.env("HARNESS_AS_HELM", "1");
        }
        for (k, v) in env {
            c.env(k, v);
        }
        run(&mut c)
    }
}

/// A values file (not a Secret) encrypted by the real sops, as helm-secrets users have them.
fn sops_values(e: &Env, rel: &str, text: &str, args: &[&str]) -> PathBuf {
    let sops = require("sops");
    // sops picks the format from the extension: the plain file keeps the name.
    let plain = e.sb.write(&format!("plain/{rel}"), text);
    let out = run(e
        .sb
        .tool(sops.to_str().unwrap())
        .args(["encrypt", "--age", &e.recipient])
        .args(args)
        .arg(&plain));
    std::fs::remove_file(&plain).unwrap();
    e.sb.write(rel, ok(out))
}

/// docs/integrations/helm.md: every documented command form, run through helm-secrets'
/// flow; the form the docs warn about fails as upstream fails.
#[test]
fn helm_secrets_documented_forms() {
    let e = Env::new();
    let h = Helm::new(&e);
    sops_values(&e, "chart/secrets.yaml", "db:\n  password: s3cr3t\n", &[]);
    e.sb.write("chart/values.yaml", "replicas: 2\n");
    let b = h.backend.as_str();
    let read_values = |out: std::process::Output| {
        let text = ok(out);
        assert!(text.contains("password: s3cr3t"), "{text}");
        assert!(!text.contains("ENC["), "{text}");
        text
    };
    // 1. plain helm with HELM_SECRETS_BACKEND (the downloader path; what Argo CD runs),
    //    allowed by HELM_SECRETS_ALLOWED_BACKENDS.
    let env = [
        ("HELM_SECRETS_BACKEND", b),
        ("HELM_SECRETS_ALLOWED_BACKENDS", b),
    ];
    let text = read_values(h.run(
        true,
        &env,
        &[
            "upgrade",
            "web",
            ".",
            "-f",
            "values.yaml",
            "-f",
            "secrets://secrets.yaml",
        ],
    ));
    assert!(
        text.contains("== values values.yaml\nreplicas: 2\n"),
        "{text}"
    );
    let other = h.run(
        true,
        &[
            ("HELM_SECRETS_BACKEND", b),
            ("HELM_SECRETS_ALLOWED_BACKENDS", "sops"),
        ],
        &["upgrade", "web", ".", "-f", "secrets://secrets.yaml"],
    );
    assert!(!other.status.success() && !stdout(&other).contains("s3cr3t"));
    assert!(stderr(&other).contains("not allowed"), "{}", stderr(&other));
    // 2. the backend named in the URL.
    read_values(h.run(
        true,
        &[],
        &[
            "upgrade",
            "web",
            ".",
            "-f",
            &format!("secrets://{b}!secrets.yaml"),
        ],
    ));
    // 3. helm secrets with the backend named before the file; the .dec file is removed.
    let text = read_values(h.run(
        false,
        &[],
        &["upgrade", "web", ".", "-f", &format!("{b}!secrets.yaml")],
    ));
    assert!(text.contains("== values secrets.yaml.dec\n"), "{text}");
    assert!(!e.sb.path("chart/secrets.yaml.dec").exists());
    // helm secrets decrypt/edit with -b, and the identity from HELM_SECRETS_BACKEND_ARGS.
    let key = format!("--identity '{}'", e.key.display());
    let out = run(e
        .tool("sh")
        .env_remove("KSEAL_AGE_KEY_FILE")
        .arg(repo().join("tests/support/helm-secrets-harness.sh"))
        .args(["-b", b, "decrypt", "secrets.yaml"])
        .env("PATH", &h.path)
        .env("HELM_SECRETS_BACKEND_ARGS", &key)
        .current_dir(e.sb.path("chart")));
    read_values(out);
    // The documented broken form: helm secrets reloads the custom backend by name.
    for (env, args) in [
        (
            vec![("HELM_SECRETS_BACKEND", b)],
            vec!["upgrade", "web", ".", "-f", "secrets://secrets.yaml"],
        ),
        (
            vec![],
            vec!["-b", b, "upgrade", "web", ".", "-f", "secrets.yaml"],
        ),
    ] {
        let out = h.run(false, &env, &args);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("Can't find secret backend: custom"),
            "{}",
            stderr(&out)
        );
    }
    // Values files: decrypted and edited, but not encrypted, by kseal (sops encrypts them).
    let editor = e.sb.write(
        "ed.sh",
        "#!/bin/sh\nsed -i 's/password: s3cr3t/password: edited/' \"$1\"\n",
    );
    make_executable(&editor);
    ok(h.run(
        false,
        &[("EDITOR", editor.to_str().unwrap())],
        &["-b", b, "edit", "secrets.yaml"],
    ));
    assert!(
        ok(h.run(false, &[], &["-b", b, "decrypt", "secrets.yaml"])).contains("password: edited")
    );
    let sops = require("sops");
    let by_sops = run(e
        .sb
        .tool(sops.to_str().unwrap())
        .env("SOPS_AGE_KEY_FILE", &e.key)
        .args(["decrypt"])
        .arg(e.sb.path("chart/secrets.yaml")));
    assert!(ok(by_sops).contains("password: edited"));
    let out = h.run(false, &[], &["-b", b, "encrypt", "values.yaml"]);
    assert!(!out.status.success());
    assert_eq!(read(&e.sb.path("chart/values.yaml")), "replicas: 2\n");
}

/// sops dotenv, INI and binary files are refused with a message, through every path helm
/// takes, and never come out as values; sops JSON decrypts.
#[test]
fn helm_secrets_backend_refuses_what_kseal_cannot_decrypt() {
    let e = Env::new();
    let h = Helm::new(&e);
    let b = h.backend.as_str();
    sops_values(&e, "chart/a.env", "USER=admin\nPASSWORD=s3cr3t\n", &[]);
    sops_values(&e, "chart/a.ini", "[db]\npassword = s3cr3t\n", &[]);
    sops_values(
        &e,
        "chart/a.bin",
        "password: s3cr3t\n",
        &["--input-type", "binary", "--output-type", "binary"],
    );
    sops_values(
        &e,
        "chart/a.json",
        "{\"db\": {\"password\": \"s3cr3t\"}}\n",
        &[],
    );
    // kseal itself: a dotenv or INI file is refused (exit 9), never printed as plain text.
    for (file, kind) in [("a.env", "dotenv"), ("a.ini", "INI")] {
        let o = run(e
            .sb
            .kseal()
            .env("SOPS_AGE_KEY_FILE", &e.key)
            .arg("decrypt")
            .arg(e.sb.path(&format!("chart/{file}"))));
        assert_eq!(o.status.code(), Some(9), "{file}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{file}: {}", stdout(&o));
        assert!(
            stderr(&o).contains(&format!("this is a sops {kind} file")),
            "{file}: {}",
            stderr(&o)
        );
    }
    for (file, format) in [("a.env", "dotenv"), ("a.ini", "ini"), ("a.bin", "binary")] {
        let message =
            format!("{file} is a sops {format} file: kseal decrypts sops YAML and JSON files only");
        let runs = [
            h.run(
                true,
                &[("HELM_SECRETS_BACKEND", b)],
                &["upgrade", "web", ".", "-f", &format!("secrets://{file}")],
            ),
            h.run(
                false,
                &[],
                &["upgrade", "web", ".", "-f", &format!("{b}!{file}")],
            ),
            h.run(false, &[], &["-b", b, "decrypt", file]),
            h.run(false, &[], &["-b", b, "decrypt", "-i", file]),
        ];
        for out in runs {
            assert!(!out.status.success(), "{file}: {}", stdout(&out));
            assert!(stderr(&out).contains(&message), "{file}: {}", stderr(&out));
            assert!(!stdout(&out).contains("ENC[") && !stdout(&out).contains("s3cr3t"));
        }
        assert!(read(&e.sb.path(&format!("chart/{file}"))).contains("ENC["));
        assert!(!e.sb.path(&format!("chart/{file}.dec")).exists());
        // As a literal (secrets+literal://): refused too.
        let lit = read(&e.sb.path(&format!("chart/{file}")));
        let out = h.run(
            true,
            &[("HELM_SECRETS_BACKEND", b)],
            &[
                "upgrade",
                "web",
                ".",
                "-f",
                &format!("secrets+literal://{lit}"),
            ],
        );
        assert!(!out.status.success(), "{file}");
        assert!(stderr(&out).contains("is a sops"), "{}", stderr(&out));
    }
    let json = ok(h.run(false, &[], &["-b", b, "decrypt", "a.json"]));
    assert!(json.contains("\"password\": \"s3cr3t\""), "{json}");
}

/// `kseal kustomize preflight DIR` finds an `exec:` function wherever kustomize would run
/// it (generators, transformers, validators; in bases, components, generator
/// kustomizations and inline configurations) and nowhere else.
#[test]
fn kustomize_preflight_finds_exec_functions() {
    let e = Env::new();
    let exec = |kind: &str| {
        format!("apiVersion: kseal.dev/v1alpha1\nkind: {kind}\nmetadata:\n  name: f\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: ./anything\n")
    };
    let preflight = |dir: &str| {
        run(e
            .kseal()
            .args(["kustomize", "preflight"])
            .arg(e.sb.path(dir)))
    };
    // A legacy app passes; a resource that merely carries the annotation is not a function.
    e.sb.write(
        "ok/kustomization.yaml",
        "resources:\n  - cm.yaml\ngenerators:\n  - generator.yaml\n",
    );
    e.sb.write("ok/generator.yaml", GENERATOR);
    e.sb.write("ok/cm.yaml", exec("ConfigMap"));
    ok(preflight("ok"));
    let cases = [
        (
            "component",
            "components:\n  - comp\n",
            "comp/kustomization.yaml",
            "kind: Component\ntransformers:\n  - t.yaml\n",
            "comp/t.yaml",
            exec("KsealTransformer"),
        ),
        (
            "validator",
            "validators:\n  - v.yaml\n",
            "v.yaml",
            &exec("Validator"),
            "unused.yaml",
            String::new(),
        ),
        (
            "genkust",
            "generators:\n  - gens\n",
            "gens/kustomization.yaml",
            "resources:\n  - g.yaml\n",
            "gens/g.yaml",
            exec("KsealGenerator"),
        ),
    ];
    for (dir, top, f1, t1, f2, t2) in cases {
        e.sb.write(&format!("{dir}/kustomization.yaml"), top);
        e.sb.write(format!("{dir}/{f1}").as_str(), t1);
        e.sb.write(&format!("{dir}/{f2}"), t2);
        let out = preflight(dir);
        assert_eq!(out.status.code(), Some(9), "{dir}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("declares a KRM exec function"),
            "{}",
            stderr(&out)
        );
    }
    // An inline configuration in the generators list.
    let inline = exec("KsealGenerator").replace('\n', "\n    ");
    e.sb.write(
        "inline/kustomization.yaml",
        format!("generators:\n  - |\n    {}\n", inline.trim_end()),
    );
    let out = preflight("inline");
    assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("an inline configuration"),
        "{}",
        stderr(&out)
    );
    // No kustomization: an input error.
    std::fs::create_dir_all(e.sb.path("empty")).unwrap();
    assert_eq!(preflight("empty").status.code(), Some(3));
}

#[test]
fn kustomize_decrypt_stream_of_a_build() {
    let e = Env::new();
    let made = ok(run(e.sb.tool("kubectl").args([
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=password=s3cr3t",
        "--dry-run=client",
        "-o",
        "yaml",
    ])));
    e.encrypt("b/db.enc.yaml", &made);
    e.encrypt("b/other.enc.yaml", &made.replace("name: db", "name: other"));
    e.sb.write(
        "b/kustomization.yaml",
        "resources:\n  - db.enc.yaml\n  - other.enc.yaml\n",
    );
    let built = ok(e.kustomize("b"));
    let built = e.sb.write("built.yaml", &built);
    let out = ok(run(e.kseal().args(["kustomize", "decrypt"]).arg(&built)));
    assert_eq!(out.matches("password: czNjcjN0").count(), 2, "{out}");
    assert!(!out.contains("sops:"));
}
