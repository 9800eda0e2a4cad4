//! The kseal binary: parse the command line, run one command, print errors with a hint, and
//! exit with the documented code.

mod cli;
mod commands;
mod editbuf;
mod fsio;
mod harden;
mod hints;
mod signals;
mod sopscli;
mod terminal;

use clap::Parser;
use kseal::error::escape_controls;

use cli::{Cli, Command};

fn main() {
    // First of all: no core dumps and no payloads in panic messages while secrets are in memory.
    harden::process();
    keep_large_blocks();
    // Passphrase prompts and age plugins talk to the user through the terminal, never the
    // library on its own.
    kseal::keys::set_ui(std::sync::Arc::new(terminal::Terminal));
    // A panic is a bug: exit 1 (internal error), like any other internal error.
    std::process::exit(std::panic::catch_unwind(run).unwrap_or(1));
}

/// glibc serves every block over 128 KiB with its own `mmap` and unmaps it when freed, so each
/// large buffer of a call (the file read in, a value's ciphertext and its base64 text, the
/// output) costs fresh zeroed pages and a page fault per 4 KiB, again and again: a fifth of
/// encrypting a 900 KB Secret (docs/benchmarks.md). A kseal process lives for one command:
/// large blocks come from the heap and freed memory is kept for the next one. Secrets are
/// wiped before they are freed either way.
fn keep_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes plain integers and only changes the allocator's thresholds.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

fn run() -> i32 {
    // Installed as a kustomize plugin (a symlink named after the plugin's Kind), kseal is
    // called with the plugin protocol's arguments instead of a subcommand.
    if let Some(result) = commands::kustomize::from_argv0() {
        return report(result);
    }
    if let Some(code) = sops_form() {
        return code;
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    commands::set_read_policy(
        cli.policy.allow_narrow_rule,
        cli.policy.require_structural_mac,
    );
    report(dispatch(&cli.command))
}

/// Runs one kseal command.
fn dispatch(command: &Command) -> kseal::error::Result<()> {
    match command {
        Command::Encrypt(a) => commands::encrypt::run(a),
        Command::Decrypt(a) if a.textconv => commands::textconv::run(a),
        Command::Decrypt(a) => commands::decrypt::run(a),
        Command::Edit(a) => commands::edit::run(a),
        Command::Set(a) => commands::set::run_set(a),
        Command::Unset(a) => commands::set::run_unset(a),
        Command::Get(a) => commands::get::run(a),
        Command::Create(c) => commands::create::run(c),
        Command::Keygen(a) => commands::keygen::run(a),
        Command::Updatekeys(a) => commands::updatekeys::run(a),
        Command::Rotate(a) => commands::rotate::run(a),
        Command::Status(a) => commands::status::run(a),
        Command::Git(c) => commands::git::run(c),
        Command::MergeDriver(a) => commands::merge_driver::run(a),
        Command::Kustomize(cli::KustomizeCommand::Install(a)) => {
            commands::kustomize_install::run(a)
        }
        Command::Kustomize(c) => commands::kustomize::run(c),
        Command::Diff(a) => commands::diff::run(a),
        Command::Check(a) => commands::check::run(a),
        Command::ExecEnv(a) => commands::exec::run_env(a),
        Command::ExecFile(a) => commands::exec::run_file(a),
        Command::SopsLink(a) => commands::sops_link::run(&a.dir),
        Command::Completions(a) => commands::completions::run(a),
        Command::Man => commands::completions::man(),
    }
}

/// The sops command line that editor plugins run (docs/editors.md), when kseal is called
/// through a link named `sops` or with a first argument only sops has; `None`: a kseal
/// command line. Decided from the first argument alone, before clap is set up.
fn sops_form() -> Option<i32> {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let rest: Vec<std::ffi::OsString> = args.collect();
    let kseal_verb = |name: &str| {
        use clap::CommandFactory;
        Cli::command().find_subcommand(name).is_some()
    };
    if !sopscli::wanted(&argv0, rest.first(), &kseal_verb) {
        return None;
    }
    let require_mac = commands::env_var("KSEAL_REQUIRE_STRUCTURAL_MAC")
        .is_some_and(|v| !matches!(v.trim(), "" | "0" | "false" | "no" | "off" | "n" | "f"));
    commands::set_read_policy(false, require_mac);
    let result = sopscli::parse(&rest).and_then(|a| match sopscli::to_kseal(&a) {
        Some(command) => dispatch(&command?),
        None => commands::sops::run(&a),
    });
    Some(report(result))
}

/// Prints an error with its hint and turns the result into the exit code.
fn report(result: kseal::error::Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            // Messages quote file and key names, which whoever wrote the file chose.
            eprintln!("kseal: error: {}", escape_controls(&e.to_string(), false));
            if let Some(h) = hints::hint(&e) {
                eprintln!("  hint: {}", escape_controls(&h, false));
            }
            e.exit_code()
        }
    }
}
