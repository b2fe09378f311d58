//! `podproof completions`: shell completion scripts.

use crate::error::Result;
use clap::CommandFactory;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  podproof completions bash > /etc/bash_completion.d/podproof\n  podproof completions zsh > \"${fpath[1]}/_podproof\"\n  podproof completions fish > ~/.config/fish/completions/podproof.fish"
)]
pub struct Args {
    /// The shell to write completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(a: Args) -> Result<i32> {
    let mut cmd = super::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "podproof", &mut std::io::stdout());
    Ok(0)
}
