//! `podproof snapshot`: review, accept or reject drafts; find unreferenced snapshots.

use crate::error::{Error, Result};
use crate::snapshot::{self, Draft, Mode, Store};
use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "FILTER is a regex (or, if it is not one, a substring) matched against <test>__<name>.\n\nExamples:\n  podproof snapshot pending\n  podproof snapshot review\n  printf 'a\\nr\\n' | podproof snapshot review   # scripted: accept the first, reject the second\n  podproof snapshot accept 'hello__'\n  podproof snapshot unreferenced --delete fixtures/tests"
)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
    /// Where snapshots live (default: snapshots/ at the project root)
    #[arg(long, value_name = "DIR", global = true)]
    snapshot_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Step through pending drafts with a diff: accept, reject or skip each
    Review { filter: Option<String> },
    /// Accept pending drafts without asking
    Accept { filter: Option<String> },
    /// Reject (delete) pending drafts without asking
    Reject { filter: Option<String> },
    /// List pending drafts
    Pending { filter: Option<String> },
    /// List snapshots that no test refers to any more
    Unreferenced {
        /// Delete them (with their drafts)
        #[arg(long)]
        delete: bool,
        /// Where to look for tests (default: the project root)
        #[arg(value_name = "PATH")]
        paths: Vec<String>,
    },
}

pub fn run(a: Args) -> Result<i32> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let store = Store { dir: a.snapshot_dir.unwrap_or_else(|| snapshot::default_dir(&cwd)), mode: Mode::Local };
    let io = |e: std::io::Error| Error::runtime(format!("snapshots in {}: {e}", crate::source::display(&store.dir)));
    let drafts = |filter: &Option<String>| -> Result<Vec<Draft>> {
        // A filter that is not a valid regex is meant literally (e.g. `web(0`).
        let re = filter
            .as_deref()
            .map(|f| regex::Regex::new(f).unwrap_or_else(|_| regex::Regex::new(&regex::escape(f)).expect("escaped")));
        let all = store.drafts().map_err(io)?;
        let picked: Vec<Draft> =
            all.into_iter().filter(|d| re.as_ref().map(|r| r.is_match(&d.key)).unwrap_or(true)).collect();
        if picked.is_empty() {
            errln!(
                "no pending snapshots{} in {}",
                filter.as_deref().map(|f| format!(" match `{f}`")).unwrap_or_default(),
                crate::source::display(&store.dir)
            );
        }
        Ok(picked)
    };
    match &a.command {
        Sub::Pending { filter } => {
            for d in drafts(filter)? {
                outln!("{:<8} {}  {}", state(&d), d.key, crate::source::display(&d.path));
            }
        }
        Sub::Accept { filter } | Sub::Reject { filter } => {
            let accept = matches!(a.command, Sub::Accept { .. });
            for d in drafts(filter)? {
                if accept { d.accept() } else { d.reject() }.map_err(io)?;
                outln!("{} {}", if accept { "accepted" } else { "rejected" }, d.key);
            }
        }
        Sub::Review { filter } => review(&drafts(filter)?).map_err(io)?,
        Sub::Unreferenced { delete, paths } => unreferenced(&store, &cwd, paths, *delete)?,
    }
    Ok(0)
}

fn state(d: &Draft) -> &'static str {
    if d.target().exists() {
        "changed"
    } else {
        "new"
    }
}

fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Shows each draft and acts on one answer per line from stdin, so a script
/// (`printf 'a\nr\n'`) can drive it as well as a person can. End of input quits.
fn review(drafts: &[Draft]) -> std::io::Result<()> {
    let mut lines = std::io::stdin().lock().lines();
    // Through the redaction layer: a draft may hold what a test printed.
    let mut out = crate::redact::stdout();
    let (mut accepted, mut rejected) = (0, 0);
    'drafts: for (i, d) in drafts.iter().enumerate() {
        let (h, old, new) = d.read()?;
        writeln!(out, "\n[{}/{}] {} ({})", i + 1, drafts.len(), d.key, state(d))?;
        for (k, v) in [("source", &h.source), ("step", &h.description), ("expression", &h.expression)] {
            if !v.is_empty() {
                writeln!(out, "  {k}: {v}")?;
            }
        }
        let diff = snapshot::diff(old.as_deref().unwrap_or(""), &new);
        writeln!(out, "{}", if colour() { snapshot::colour_diff(&diff) } else { diff })?;
        loop {
            write!(out, "accept (a), reject (r), skip (s), quit (q)? ")?;
            out.flush()?;
            let Some(answer) = lines.next().transpose()? else {
                writeln!(out)?;
                break 'drafts;
            };
            match answer.trim() {
                "a" | "accept" => {
                    d.accept()?;
                    accepted += 1;
                }
                "r" | "reject" => {
                    d.reject()?;
                    rejected += 1;
                }
                "s" | "skip" => {}
                "q" | "quit" => break 'drafts,
                other => {
                    writeln!(out, "unknown answer `{other}`")?;
                    continue;
                }
            }
            break;
        }
    }
    let left = drafts.len() - accepted - rejected;
    writeln!(out, "\naccepted {accepted}, rejected {rejected}, {left} still pending")
}

/// Lists (or deletes) snapshots whose `<test>__<name>` no test step names.
fn unreferenced(store: &Store, cwd: &std::path::Path, paths: &[String], delete: bool) -> Result<()> {
    let root = crate::source::project_root(cwd);
    let paths = if paths.is_empty() {
        vec![if root == cwd { ".".into() } else { root.display().to_string() }]
    } else {
        paths.to_vec()
    };
    let (tests, diags) = crate::runner::discover(&paths);
    let broken: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    if !broken.is_empty() {
        errln!("warning: some test files do not load, so snapshots only they use look unreferenced:");
        super::print_warnings(broken.iter().copied());
        if delete {
            return Err(Error::failed("not deleting anything while some tests do not load")
                .because("fix them, or name only the directories that hold good tests: podproof snapshot unreferenced --delete DIR..."));
        }
    }
    let used: BTreeSet<String> = tests
        .iter()
        .flat_map(|l| {
            l.test
                .steps
                .iter()
                .filter_map(|s| s.expect.snapshot.as_ref())
                .map(|s| format!("{}__{}", l.test.name, s.name()))
        })
        .collect();
    let io = |e: std::io::Error| Error::runtime(format!("snapshots in {}: {e}", crate::source::display(&store.dir)));
    for (key, path) in store.snapshots().map_err(io)?.into_iter().filter(|(k, _)| !used.contains(k)) {
        if delete {
            std::fs::remove_file(&path).map_err(io)?;
            let _ = std::fs::remove_file(path.with_extension("snap.new"));
            outln!("deleted {}", crate::source::display(&path));
        } else {
            outln!("{key}  {}", crate::source::display(&path));
        }
    }
    Ok(())
}
