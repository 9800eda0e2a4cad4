//! The architecture rules of docs/architecture.md, checked on the source text: `sops/` never
//! imports `kube`, a command never imports another command, command files stay under 300
//! lines of code, no function over 120 lines, and terminal and process I/O only where the
//! rules allow it. Run with `cargo test --lib arch`.

use std::fs;
use std::path::{Path, PathBuf};

/// Functions still over the limit, to be split (issue 14). A function that leaves this list
/// must not come back; a new long function fails.
const LONG_FUNCTIONS: &[&str] = &[];

/// Command imports that issue 14 is removing; a new one fails.
const COMMAND_IMPORTS: &[&str] = &["rotate -> updatekeys", "status -> updatekeys"];

/// Command files still over 300 lines of code, to be thinned (issue 14); a new one fails.
const LONG_COMMANDS: &[&str] = &["kustomize.rs", "mod.rs", "status.rs", "updatekeys.rs"];

const MAX_FUNCTION_LINES: usize = 120;
const MAX_COMMAND_LINES: usize = 300;

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, with its path relative to `src/`.
fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src()).unwrap().display().to_string();
                out.push((rel, fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Where the file's first top-level `#[cfg(test)]` module starts (its end if none).
fn test_module_start(text: &str) -> usize {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "#[cfg(test)]" {
            let rest = text[at + line.len()..]
                .lines()
                .find(|l| !l.starts_with("#["))
                .unwrap_or("");
            if rest.starts_with("mod ") {
                return at;
            }
        }
        at += line.len();
    }
    text.len()
}

/// The text before the file's `#[cfg(test)]` module, without comment lines: what ships.
fn shipped(text: &str) -> String {
    text[..test_module_start(text)]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_test_file(rel: &str) -> bool {
    rel.ends_with("_tests.rs") || rel.ends_with("/tests.rs") || rel == "arch_tests.rs"
}

#[test]
fn arch_sops_never_imports_kube() {
    for (rel, text) in rust_files(&src().join("sops")) {
        let code = shipped(&text);
        assert!(
            !code.contains("crate::kube") && !code.contains("kube::"),
            "{rel} imports kube: the caller passes a document selector instead"
        );
    }
}

#[test]
fn arch_commands_never_import_commands() {
    let commands = src().join("commands");
    let names: Vec<String> = rust_files(&commands)
        .iter()
        .map(|(rel, _)| {
            rel.trim_start_matches("commands/")
                .trim_end_matches(".rs")
                .to_string()
        })
        .filter(|n| n != "mod")
        .collect();
    for (rel, text) in rust_files(&commands) {
        let me = rel.trim_start_matches("commands/").trim_end_matches(".rs");
        let code = shipped(&text);
        for other in names.iter().filter(|n| *n != me) {
            let used = [format!("super::{other}::"), format!("commands::{other}::")]
                .iter()
                .any(|p| code.contains(p.as_str()))
                || code.contains(&format!("super::{other}::{{"))
                || code.contains(&format!("use super::{other};"));
            let known = COMMAND_IMPORTS.contains(&format!("{me} -> {other}").as_str());
            assert!(
                !used || known,
                "{rel} imports commands/{other}.rs: move what both need into the library or \
                 commands/mod.rs"
            );
        }
    }
}

#[test]
fn arch_command_files_stay_thin() {
    for (rel, text) in rust_files(&src().join("commands")) {
        let code = shipped(&text);
        let n = code.lines().filter(|l| !l.trim().is_empty()).count();
        let name = rel.trim_start_matches("commands/");
        assert!(
            n <= MAX_COMMAND_LINES || LONG_COMMANDS.contains(&name),
            "{rel} has {n} lines of code (at most {MAX_COMMAND_LINES}): move the logic into ops/"
        );
    }
}

/// Function lengths, counted from the `fn` line to its closing brace (braces in strings and
/// character literals ignored).
fn long_functions(rel: &str, text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim_start();
        let head = t
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .trim_start_matches("const ")
            .trim_start_matches("unsafe ");
        let Some(rest) = head.strip_prefix("fn ") else {
            i += 1;
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let (mut depth, mut started, mut j) = (0i64, false, i);
        while j < lines.len() {
            let code = strip_literals(lines[j]);
            depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
            started |= code.contains('{');
            if (started && depth <= 0) || (!started && code.trim_end().ends_with(';')) {
                break;
            }
            j += 1;
        }
        if j - i + 1 > MAX_FUNCTION_LINES {
            out.push((format!("{rel}: {name}"), j - i + 1));
        }
        i = if started { j + 1 } else { i + 1 };
    }
    out
}

/// A line without string and character literals and without its `//` comment.
fn strip_literals(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' if matches!(chars.clone().nth(1), Some('\'')) => {
                chars.next();
                chars.next();
            }
            '/' if chars.peek() == Some(&'/') => break,
            _ => out.push(c),
        }
    }
    out
}

#[test]
fn arch_no_function_over_120_lines() {
    for (rel, text) in rust_files(&src()) {
        if is_test_file(&rel) {
            continue;
        }
        for (name, n) in long_functions(&rel, &text[..test_module_start(&text)]) {
            assert!(
                LONG_FUNCTIONS.contains(&name.as_str()),
                "{name} has {n} lines (at most {MAX_FUNCTION_LINES}): split it into named steps"
            );
        }
    }
}

#[test]
fn arch_terminal_and_processes_only_at_the_edge() {
    // The terminal: the binary's terminal.rs (keys::Ui) and its commands; never the library.
    // Processes: keys/keycmd.rs (key commands) and the binary.
    let binary = [
        "main.rs",
        "cli.rs",
        "editbuf.rs",
        "fsio.rs",
        "sopscli.rs",
        "harden.rs",
        "signals.rs",
        "terminal.rs",
    ];
    for (rel, text) in rust_files(&src()) {
        if is_test_file(&rel) || rel.starts_with("commands/") || binary.contains(&rel.as_str()) {
            continue;
        }
        let code = shipped(&text);
        for needle in [
            "/dev/tty",
            "rpassword",
            "std::io::stdin",
            "io::stdin()",
            "println!",
        ] {
            assert!(
                !code.contains(needle),
                "{rel} talks to the terminal ({needle})"
            );
        }
        if rel != "keys/keycmd.rs" {
            assert!(
                !code.contains("Command::new"),
                "{rel} starts a process: only key commands (keys/keycmd.rs) may"
            );
        }
        if !rel.starts_with("keys/") {
            assert!(
                !code.contains("env::var"),
                "{rel} reads the process environment: take it from the caller"
            );
        }
    }
}

#[test]
fn the_length_count_sees_long_functions() {
    let body = "    let x = \"}\";\n".repeat(MAX_FUNCTION_LINES);
    let text = format!("fn short() {{\n}}\n\npub fn long() {{\n{body}}}\n");
    assert_eq!(
        long_functions("x.rs", &text),
        [("x.rs: long".to_string(), MAX_FUNCTION_LINES + 2)]
    );
}
