//! The deploy path with the real tools installed here: kustomize (inside kubectl) running
//! kseal as a legacy exec plugin, kpt running it as a KRM function, the Argo CD plugin's
//! generate command, the Flux key-Secret recipe, and the helm-secrets backend script.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

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
    /// kseal installed as kustomize's legacy exec plugins (symlinks named after the Kind).
    fn install_plugins(&self) {
        let out = run(self
            .tool("sh")
            .arg(repo().join("contrib/kustomize/install-plugins.sh"))
            .arg(env!("CARGO_BIN_EXE_kseal")));
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
    assert!(!stdout(&out).contains("czNjcjN0"));
}

#[test]
fn kpt_runs_the_krm_function_generator_and_transformer() {
    let kpt = require("kpt");
    let e = Env::new();
    e.encrypt("pkg/secrets.enc.yaml", TWO_SECRETS);
    e.sb.write(
        "pkg/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: b\n",
    );
    let fn_exec = format!("{} kustomize fn", env!("CARGO_BIN_EXE_kseal"));
    let gen = e.sb.write(
        "fn/generator.yaml",
        GENERATOR.replace("secrets.enc.yaml", "pkg/secrets.enc.yaml"),
    );
    let out = run(e
        .tool(kpt.to_str().unwrap())
        .current_dir(e.sb.path(""))
        .args(["fn", "eval", "pkg", "--exec", &fn_exec, "--fn-config"])
        .arg(&gen)
        .args(["-o", "stdout"]));
    let text = ok(out);
    assert!(text.contains("kind: ResourceList"), "{text}");
    assert!(
        text.contains("password: s3cr3t") && text.contains("token: dG9rZW4="),
        "{text}"
    );
    assert!(
        text.contains("name: cfg"),
        "package resources are kept: {text}"
    );
    // The transformer decrypts the package's encrypted resources; kpt's annotations are left
    // out of the MAC check and kept on the output.
    let tr = e.sb.write(
        "fn/transformer.yaml",
        "apiVersion: kseal.dev/v1alpha1\nkind: KsealTransformer\nmetadata:\n  name: decrypt\n",
    );
    let out = run(e
        .tool(kpt.to_str().unwrap())
        .args(["fn", "eval"])
        .arg(e.sb.path("pkg"))
        .args(["--exec", &fn_exec, "--fn-config"])
        .arg(&tr)
        .args(["-o", "stdout"]));
    let text = ok(out);
    assert!(
        text.contains("password: s3cr3t") && !text.contains("ENC["),
        "{text}"
    );
    assert!(
        text.contains("config.kubernetes.io/path: 'secrets.enc.yaml'"),
        "{text}"
    );
    // The package on disk is untouched (still encrypted).
    assert!(read(&e.sb.path("pkg/secrets.enc.yaml")).contains("ENC["));
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
}

/// The Argo CD plugin's generate command, exactly as plugin.yaml states it, on a fixture
/// repository with kustomize and kseal on PATH.
#[test]
fn argocd_cmp_generate_command_renders_and_fails_loudly() {
    let e = Env::new();
    e.install_plugins();
    let plugin = read(&repo().join("contrib/argocd/plugin.yaml"));
    let stream = kseal::yaml::tree::parse(&plugin).unwrap();
    let spec = stream.docs[0]
        .root_mapping()
        .unwrap()
        .get("spec")
        .unwrap()
        .as_mapping()
        .unwrap();
    assert_eq!(spec.get_str("version"), Some("v1"));
    let generate = spec.get("generate").unwrap().as_mapping().unwrap();
    let words = |key: &str| -> Vec<String> {
        match generate.get(key).unwrap() {
            kseal::yaml::tree::Node::Sequence(q) => q
                .items
                .iter()
                .map(|n| n.as_scalar().unwrap().value.to_string())
                .collect(),
            _ => panic!("{key} is not a list"),
        }
    };
    let (command, args) = (words("command"), words("args"));
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
}

/// contrib/helm-secrets-backend.sh, sourced by sh like helm-secrets does, every function.
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
            .arg(format!(". '{}'\n{script}", backend.display())))
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
            ". '{}'\n_custom_backend_decrypt_file yaml '{}'",
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
            ". '{}'\n_custom_backend_decrypt_literal \"$LIT\"",
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
            ". '{}'\n_custom_backend_edit_file yaml secrets.yaml",
            backend.display()
        )));
    ok(out);
    assert!(
        ok(run(e.kseal().arg("decrypt").arg(e.sb.path("secrets.yaml"))))
            .contains("password: edited")
    );
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
