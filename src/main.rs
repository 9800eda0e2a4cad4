//! The kseal binary: parse the command line, run one command, print errors with a hint, and
//! exit with the documented code.

mod cli;
mod commands;
mod fsio;

use clap::Parser;

use cli::{Cli, Command};

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let result = match &cli.command {
        Command::Encrypt(a) => commands::encrypt::run(a),
        Command::Decrypt(a) => commands::decrypt::run(a),
        Command::Edit(a) => commands::edit::run(a),
        Command::Set(a) => commands::set::run_set(a),
        Command::Unset(a) => commands::set::run_unset(a),
        Command::Create(c) => commands::create::run(c),
        Command::Keygen(a) => commands::keygen::run(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kseal: error: {e}");
            if let Some(h) = &e.hint {
                eprintln!("  hint: {h}");
            }
            e.exit_code()
        }
    }
}
