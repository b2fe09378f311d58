//! `podproof lint`: check app definitions without running them.

use crate::error::{Error, Result, Severity};
use crate::lint::output::{self, Format};
use crate::lint::{self, Options, Target};
use crate::podman::Version;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// The podman version assumed when none is given and none is installed.
const DEFAULT_PODMAN: &str = "4.3";

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  podproof lint fixtures/\n  helm template ./chart | podproof lint -\n  podproof lint --format sarif --target cluster manifests/ > lint.sarif\n  podproof lint --explain host-network\n\nExit status: 0 without error findings, 1 with error findings, 2 for unreadable or unparsable input."
)]
pub struct Args {
    /// Files or directories to lint (`-` for stdin); directories are walked recursively, respecting .gitignore
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    /// Output format
    #[arg(long, default_value = "human", value_parser = ["human", "json", "sarif", "github", "junit"])]
    pub format: String,
    /// The podman version to check against [default: the installed podman, else 4.3]
    #[arg(long, value_name = "X.Y")]
    pub podman_version: Option<String>,
    /// Where the app must run: rules for podman, for a cluster, or both
    #[arg(long, default_value = "both", value_parser = ["podman", "cluster", "both"])]
    pub target: String,
    /// Lint settings: a file of podproof.yaml's shape (`lint:`, `promote.imageMap`, `images:`) [default: the project's podproof.yaml; a `.podproof.yaml` is read, with a deprecation warning, only when there is none]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Explain a rule: its default severity, why it matters and how to fix it
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    /// List every rule with its default severity and target
    #[arg(long)]
    pub list_rules: bool,
    /// Colour the human format
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub color: String,
    /// Files linted at once [default: one per core]
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

pub fn run(a: Args) -> Result<i32> {
    if let Some(id) = &a.explain {
        let rule = lint::rule(id).ok_or_else(|| Error::Usage(unknown_rule(id)))?;
        out!("{}", output::explain(rule));
        return Ok(0);
    }
    if a.list_rules {
        for r in lint::RULES {
            let sev = r.default.map(|s| s.to_string()).unwrap_or_else(|| "off".into());
            outln!("{:<36} {sev:<8} {:<8} {}", r.id, r.target, r.summary);
        }
        return Ok(0);
    }
    if a.paths.is_empty() {
        return Err(Error::Usage(
            "podproof lint needs a PATH (a file, a directory or `-` for stdin); see `podproof lint --help`".into(),
        ));
    }
    // The flag wins, then podproof.yaml's lint.podmanVersion, then the installed podman.
    let cwd = std::env::current_dir().unwrap_or_default();
    let settings = lint::config::settings(&cwd, a.config.as_deref())?;
    for w in &settings.warnings {
        errln!("warning: {w}");
    }
    let podman = match a.podman_version.as_ref().or(settings.podman_version.as_ref()) {
        Some(v) => {
            Version::parse(v).ok_or_else(|| Error::Usage(format!("podman version `{v}`: expected X.Y, e.g. 4.3")))?
        }
        None => crate::podman::version()
            .ok()
            .or_else(|| Version::parse(DEFAULT_PODMAN))
            .expect("the default version parses"),
    };
    let config = settings.config;
    let target: Target = a.target.parse().map_err(Error::Usage)?;
    let format: Format = a.format.parse().map_err(Error::Usage)?;
    let opts = Options { podman, target, config };
    let color = match a.color.as_str() {
        "always" => true,
        "never" => false,
        _ => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    // The report is written as files are done, so a large corpus costs the
    // memory of the files in flight; it goes through the redaction layer, as
    // every output does, one file at a time.
    let mut out = crate::redact::stdout();
    let mut writer = output::Writer::new(&opts, format, color, &mut out);
    let mut errors = 0;
    let bad = lint::run(&a.paths, &opts, a.threads.map_or(0, usize::from), |file| {
        errors += file.findings.iter().filter(|f| f.severity == Severity::Error).count();
        writer.file(&file)
    });
    // When no input could be read there is no report to print, only the error:
    // an empty report would read as "clean". A closed pipe (`| head`) is the
    // reader's choice, not an error.
    if writer.begun() || bad.is_empty() {
        let _ = writer.finish().and_then(|_| out.flush());
    }
    if !bad.is_empty() {
        let n = bad.len();
        let head = if n == 1 { "cannot lint an input".to_string() } else { format!("cannot lint {n} inputs") };
        return Err(Error::from_diagnostics(head, &bad));
    }
    Ok(if errors > 0 { 1 } else { 0 })
}

fn unknown_rule(id: &str) -> String {
    let near = lint::RULES
        .iter()
        .find(|r| r.id.starts_with(id))
        .or_else(|| lint::RULES.iter().find(|r| r.id.contains(id) || id.contains(r.id)));
    match near {
        Some(r) => format!("unknown rule `{id}`; did you mean `{}`? (see `podproof lint --list-rules`)", r.id),
        None => format!("unknown rule `{id}` (see `podproof lint --list-rules`)"),
    }
}
