//! `kseal completions SHELL` and the man page, both generated from the clap definitions so
//! they never drift from the real flags.

use clap::CommandFactory;

use kseal::error::{Error, Kind, Result};

use crate::cli::{Cli, CompletionShell, CompletionsArgs};
use crate::fsio;

pub fn run(a: &CompletionsArgs) -> Result<()> {
    let shell = match a.shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "kseal", &mut buf);
    fsio::write_stdout(&buf)
}

pub fn man() -> Result<()> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(|e| Error::new(Kind::Output, format!("cannot render the man page: {e}")))?;
    fsio::write_stdout(&buf)
}
