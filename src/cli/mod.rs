//! The command line: glue over the library modules, one file per command.

mod apiserver;
pub mod clean;
mod completions;
mod doctor;
mod down;
mod keygen;
mod lint;
mod netns_helper;
mod promote;
mod render;
mod snapshot;
mod test;
mod up;
mod verify;

use crate::error::Result;
use clap::{Parser, Subcommand};
use std::ffi::OsString;

#[derive(Debug, Parser)]
#[command(
    name = "podproof",
    version,
    about = "Prove Kubernetes apps locally with `podman kube play` before promoting them to a cluster",
    after_help = crate::error::exit::HELP,
    propagate_version = true
)]
pub struct Cli {
    /// The podman API socket to use (`unix:///run/podman/podman.sock`), instead
    /// of the service podproof starts and stops itself; `CONTAINER_HOST` does the same
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print Pod manifests (podman or cluster flavour) of apps
    Render(render::Args),
    /// Run scenario tests (kind: Test) against real podman
    Test(test::Args),
    /// Start or update apps locally and wait until every member is ready
    Up(up::Args),
    /// Stop and remove apps started with `up` (or a kept test run)
    Down(down::Args),
    /// Remove what dead test runs left behind
    Clean(clean::Args),
    /// Write cluster manifests of apps whose exact bytes were linted and tested
    Promote(promote::Args),
    /// Check a promoted directory against its signed attestation (`promote --attest`)
    Verify(verify::Args),
    /// Make an ed25519 key pair for `promote --attest` and `verify`
    Keygen(keygen::Args),
    /// Review, accept or reject snapshot drafts; find unreferenced snapshots
    Snapshot(snapshot::Args),
    /// Check that podman can run containers here, and explain why not
    Doctor(doctor::Args),
    /// Print shell completions (bash, zsh, fish, elvish, powershell)
    Completions(completions::Args),
    /// Lint manifests: podman compatibility, cluster portability, security and reliability
    Lint(lint::Args),
    /// Internal: answer network requests inside rootless podman's user namespace
    #[command(name = "__netns", hide = true)]
    NetnsHelper,
    /// Internal: serve the Kubernetes API of an empty environment until signalled
    #[command(name = "__apiserver", hide = true)]
    ApiServer(apiserver::Args),
}

/// Parses the arguments and runs the command; returns the exit code.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> Result<i32> {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return Ok(if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand { 2 } else { 0 });
            }
            let _ = e.print();
            return Ok(2);
        }
    };
    if let Some(url) = &cli.url {
        crate::podman::set_url(url);
    }
    match cli.command {
        Command::Render(a) => render::run(a),
        Command::Test(a) => test::run(a),
        Command::Up(a) => up::run(a),
        Command::Down(a) => down::run(a),
        Command::Clean(a) => clean::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Snapshot(a) => snapshot::run(a),
        Command::Promote(a) => promote::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Keygen(a) => keygen::run(a),
        Command::Lint(a) => lint::run(a),
        Command::NetnsHelper => netns_helper::run(),
        Command::ApiServer(a) => apiserver::run(a),
    }
}

/// Sets the hostPaths the user allows: `--allow-host-path` flags and the
/// `hostPaths.allow` list of podproof.yaml (relative entries from its root).
pub fn allow_host_paths(flags: &[std::path::PathBuf]) -> Result<()> {
    let (root, config) = crate::config::load(&std::env::current_dir().unwrap_or_default())?;
    crate::hostpath::allow(flags.iter().cloned().chain(config.host_paths.allow.iter().map(|p| root.join(p))));
    Ok(())
}

/// Prints warnings from loading to stderr.
pub fn print_warnings<'a>(diags: impl IntoIterator<Item = &'a crate::error::Diagnostic>) {
    for d in diags {
        errln!("{d}");
    }
}

/// The fidelity ledger's flags, the same on `render`, `up` and `test`.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LedgerArgs {
    /// List everything in the input that podproof does not honour (skipped kinds, ignored fields), each at file:line:column
    #[arg(long)]
    pub ledger: bool,
    /// Make anything podproof does not honour an error (exit 2 before anything starts)
    #[arg(long)]
    pub strict: bool,
}
