//! `podproof test`: discover and run scenario tests.

use crate::app::ledger::GraceFrom;
use crate::error::{Error, Result};
use crate::report;
use crate::runner::{self, Options, Outcome, Progress, TestResult};
use crate::snapshot::{Mode, Store};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
#[command(
    after_help = concat!(
        "Examples:\n  podproof test fixtures/tests\n  podproof test -j 4 --filter prometheus --report junit=report.xml\n  podproof test --shard 1/2 --fail-fast\n  podproof test --keep fixtures/tests/failing.yaml && podproof down --run <id>\n\n",
        crate::exit_codes_help!()
    )
)]
pub struct Args {
    /// Files or directories to search for `kind: Test` files (default: .)
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    /// Tests to run at once (default: the number of CPUs)
    #[arg(short = 'j', long = "jobs")]
    pub jobs: Option<usize>,
    /// Run only tests whose name matches this regex
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,
    /// Run the K-th of N shards (1-based), e.g. 2/4
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Stop starting tests after the first failure
    #[arg(long)]
    pub fail_fast: bool,
    /// Write a report: junit=FILE or json=FILE (repeatable)
    #[arg(long = "report", value_name = "KIND=FILE")]
    pub reports: Vec<String>,
    /// Leave a failing test's pods up for debugging
    #[arg(long)]
    pub keep: bool,
    /// The longest any stop waits for containers to exit (teardown, `down` steps, restarts, scale-down, liveness restarts); a pod given a longer terminationGracePeriodSeconds is an entry of the ledger [default: test.grace in podproof.yaml, else 1s]
    #[arg(long, value_parser = crate::wait::parse_duration)]
    pub grace: Option<Duration>,
    /// Accept every new and changed snapshot
    #[arg(long)]
    pub update_snapshots: bool,
    /// CI mode: write no snapshot; a missing one fails (also when CI is set)
    #[arg(long)]
    pub ci: bool,
    /// Where snapshots live (default: snapshots/ at the project root)
    #[arg(long, value_name = "DIR")]
    pub snapshot_dir: Option<PathBuf>,
    /// Allow a hostPath outside the project or at a sensitive host path (repeatable; see docs/security.md)
    #[arg(long = "allow-host-path", value_name = "PATH")]
    pub allow_host_path: Vec<PathBuf>,
    #[command(flatten)]
    pub fidelity: super::LedgerArgs,
    /// List the tests found (podproof's, chainsaw's and kuttl's) and exit without running any
    #[arg(long)]
    pub list: bool,
    /// Run the chainsaw and kuttl tests found against the Kubernetes API this kubeconfig names (its current context, or --context); without it they are read and reported as skipped
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context for --kubeconfig
    #[arg(long, value_name = "NAME", requires = "kubeconfig")]
    pub context: Option<String>,
    /// Run image TO wherever a manifest names FROM: an exact image, a repository (any tag), or a prefix ending in `/` (repeatable; wins over `images:` in podproof.yaml, a Test's own `images:` win over it)
    #[arg(long = "image", value_name = "FROM=TO")]
    pub images: Vec<String>,
}

/// `--grace` when neither the flag nor podproof.yaml sets it: short, since
/// a test's final teardown need not wait for apps to finish gracefully, and
/// every pod given longer is an entry of the run's ledger.
const DEFAULT_GRACE: Duration = Duration::from_secs(1);

fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let bad = || Error::Usage(format!("--shard `{s}`: expected K/N with 1 <= K <= N"));
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let k: usize = k.parse().map_err(|_| bad())?;
    let n: usize = n.parse().map_err(|_| bad())?;
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

pub fn run(a: Args) -> Result<i32> {
    crate::signals::install();
    let (root, config) = crate::config::load(&std::env::current_dir().unwrap_or_default())?;
    let paths = match (a.paths.is_empty(), config.test.paths.is_empty()) {
        (false, _) => a.paths.clone(),
        (true, false) => config.test.paths.iter().map(|p| root.join(p).display().to_string()).collect(),
        (true, true) => vec![".".to_string()],
    };
    let mut reports = Vec::new();
    for r in &a.reports {
        match r.split_once('=') {
            Some(("junit", f)) | Some(("json", f)) if !f.is_empty() => {
                reports.push((r.split('=').next().unwrap_or("").to_string(), PathBuf::from(f)))
            }
            _ => return Err(Error::Usage(format!("--report `{r}`: expected junit=FILE or json=FILE"))),
        }
    }
    let filter = match &a.filter {
        Some(f) => Some(regex::Regex::new(f).map_err(|e| Error::Usage(format!("--filter: invalid regex: {e}")))?),
        None => None,
    };
    let shard = a.shard.as_deref().map(parse_shard).transpose()?;
    if a.jobs == Some(0) {
        return Err(Error::Usage("-j must be at least 1".into()));
    }
    let image_map = crate::imagemap::merge([&config.image_map()[..], &crate::imagemap::parse_flags(&a.images)?[..]]);
    let (tests, mut diags) = runner::discover(&paths);
    // chainsaw and kuttl suites beside podproof's tests (src/chainsaw/discover.rs).
    let (found, more) = crate::chainsaw::discover::discover(&paths);
    diags.extend(more);
    if diags.iter().any(|d| d.is_error()) {
        return Err(Error::from_diagnostics("invalid tests", &diags));
    }
    super::print_warnings(&diags);
    let mut selected: Vec<runner::Loaded> =
        tests.into_iter().filter(|t| filter.as_ref().map(|f| f.is_match(&t.test.name)).unwrap_or(true)).collect();
    if let Some((k, n)) = shard {
        selected = selected.into_iter().enumerate().filter(|(i, _)| i % n == k - 1).map(|(_, t)| t).collect();
    }
    let chainsaw = crate::chainsaw::report::select(found, filter.as_ref(), shard);
    if a.list {
        for t in &selected {
            outln!("{}\tpodproof\t{}", t.test.name, t.test.file_name);
        }
        for (t, _) in &chainsaw.tests {
            outln!("{}\t{}\t{}\t{} steps", t.name, crate::chainsaw::report::kind(t), t.file, t.steps.len());
        }
        return Ok(0);
    }
    let cluster: Option<std::sync::Arc<dyn crate::chainsaw::client::Client>> = match &a.kubeconfig {
        Some(k) => Some(std::sync::Arc::new(
            crate::chainsaw::kube::Kube::from_kubeconfig(k, a.context.as_deref())
                .map_err(|e| Error::bad_input("cannot use --kubeconfig", vec![e]))?,
        )),
        None => None,
    };
    if selected.is_empty() && chainsaw.is_empty() {
        return Err(Error::Usage(format!("no tests found under {}", paths.join(" "))));
    }
    for t in &mut selected {
        t.map_images(&image_map);
    }
    super::allow_host_paths(&a.allow_host_path)?;
    let refused: Vec<crate::error::Diagnostic> =
        selected.iter().flat_map(|t| t.apps.iter().flat_map(crate::hostpath::check_app)).collect();
    if !refused.is_empty() {
        return Err(Error::from_diagnostics("refused hostPaths; no test was started", &refused));
    }
    let configured = config.test.grace().map_err(|e| Error::bad_input("invalid podproof.yaml", vec![e]))?;
    let (grace, grace_from) = match (a.grace, configured) {
        (Some(g), _) => (g, GraceFrom::TestFlag),
        (None, Some(g)) => (g, GraceFrom::TestConfig),
        (None, None) => (DEFAULT_GRACE, GraceFrom::TestFlag),
    };
    let ledger =
        crate::app::ledger::of_test_run(selected.iter().flat_map(|t| t.apps.iter()), grace, grace_from, &|| {
            crate::podman::version().ok().map(|v| (v.major, v.minor))
        });
    let pointer = "`--ledger` lists them; so do the JSON report and the test record";
    crate::fidelity::announce(&ledger, a.fidelity.ledger, a.fidelity.strict || config.test.strict, pointer)?;
    let ci = a.ci || std::env::var("CI").map(|v| !v.is_empty() && v != "false" && v != "0").unwrap_or(false);
    let mode = if a.update_snapshots {
        Mode::Update
    } else if ci {
        Mode::Ci
    } else {
        Mode::Local
    };
    let snapshot_dir = a
        .snapshot_dir
        .clone()
        .or_else(|| config.snapshots.dir.as_ref().map(|d| root.join(d)))
        .unwrap_or_else(|| root.join("snapshots"));
    let store = Store { dir: snapshot_dir, mode };
    // Runs of dead processes are removed alongside the tests: they share no
    // names with this run, and the tests need not wait for it.
    // A run of chainsaw and kuttl tests alone needs no podman.
    let podman = !selected.is_empty();
    let cleaner = podman.then(|| std::thread::spawn(super::clean::clean_recorded));
    // The record names the podman version; asking now keeps the question off
    // the end of the run (the answer is cached for the process).
    if podman {
        std::thread::spawn(|| crate::podman::version().ok());
    }
    let jobs = a
        .jobs
        .or(config.test.jobs)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let backoff = config.kubelet.backoff().map_err(|e| Error::bad_input("invalid podproof.yaml", vec![e]))?;
    if backoff.scaled() {
        errln!(
            "note: CrashLoopBackOff is scaled by podproof.yaml to {:?} doubling to {:?} (Kubernetes: 10s to 5m)",
            backoff.initial,
            backoff.max
        );
    }
    let opts = Options { jobs, fail_fast: a.fail_fast, keep: a.keep, grace, grace_from, snapshots: store, backoff };
    let progress = Printer::new();
    let start = Instant::now();
    let mut results = runner::run_all(&selected, &opts, &progress);
    progress.clear();
    if !chainsaw.is_empty() {
        match &cluster {
            Some(client) => {
                let copts = crate::chainsaw::suite::Options {
                    jobs: opts.jobs,
                    tools_path: crate::chainsaw::suite::tools_path(),
                    values: serde_json::Value::Null,
                };
                let log = |test: &str, line: &str| progress.log(test, line);
                results.extend(crate::chainsaw::suite::run_all(&chainsaw, client.clone(), &copts, &log));
            }
            None => {
                let tests: Vec<crate::chainsaw::model::Test> = chainsaw.tests.iter().map(|(t, _)| t.clone()).collect();
                errln!(
                    "note: {} chainsaw/kuttl tests were read and checked but not run: {}",
                    tests.len(),
                    crate::chainsaw::report::NOT_WIRED
                );
                results.extend(crate::chainsaw::report::not_run(&tests, crate::chainsaw::report::NOT_WIRED));
            }
        }
    }
    match cleaner.map(|c| c.join()) {
        Some(Ok(Ok(n))) if n > 0 => errln!("removed {n} objects left by dead runs"),
        Some(Ok(Err(e))) => errln!("warning: cleaning up dead runs failed: {}", e.headline()),
        Some(Err(_)) => errln!("warning: cleaning up dead runs panicked; `podproof clean` retries it"),
        _ => {}
    }
    print_summary(&results, start.elapsed());
    print_ignored_stop_signals(&results);
    for (kind, file) in &reports {
        let text = if kind == "junit" { report::junit(&results) } else { report::json(&results) };
        let text = crate::redact::text(&text);
        // A symlink at FILE is refused, not followed (docs/security.md).
        crate::state::write_file(file, text.as_bytes())
            .map_err(|e| Error::runtime(format!("cannot write {}: {e}", file.display())))?;
    }
    // The record promotion trusts: which bytes were tested, and the results.
    // The record is of podproof's own tests, the bytes promotion trusts.
    if !crate::signals::interrupted() && !selected.is_empty() {
        let rec = crate::record::build(&root, &selected, &results);
        let id = results.first().map(|r| r.run_id.clone()).unwrap_or_default();
        match crate::record::write(&root, &rec, &id) {
            Ok(p) => errln!("record: {}", crate::source::display(&p)),
            Err(e) => errln!("warning: cannot write the test record: {e}"),
        }
    }
    outln!("{}", report::summary_line(&results));
    if crate::signals::interrupted() {
        return Err(Error::failed(format!(
            "interrupted by {}; everything started was removed",
            crate::signals::which().unwrap_or("a signal")
        )));
    }
    // A broken environment outweighs a red test: its results cannot be trusted.
    use crate::error::exit;
    Ok(if results.iter().any(|r| r.environment_failed) {
        exit::ENVIRONMENT
    } else if results.iter().any(|r| r.outcome == Outcome::Failed) {
        exit::FAILED
    } else {
        exit::OK
    })
}

/// One note for the containers whose PID 1 ignores its stop signal, a line
/// each: teardown killed them at once, and a cluster waits out their grace
/// period on every stop, which users want to know about (a rollout of 10
/// such pods with the default grace takes 5 minutes).
fn print_ignored_stop_signals(results: &[TestResult]) {
    let mut seen: Vec<(&str, &str, &str, &str, i64, usize)> = Vec::new();
    for i in results.iter().flat_map(|r| r.stop_signal_ignored.iter()) {
        let key = (i.app.as_str(), i.role.as_str(), i.container.as_str(), i.signal.as_str());
        match seen.iter_mut().find(|s| (s.0, s.1, s.2, s.3) == key) {
            Some(s) => s.5 += 1,
            None => seen.push((key.0, key.1, key.2, key.3, i.grace_seconds, 1)),
        }
    }
    if seen.is_empty() {
        return;
    }
    errln!(
        "note: the PID 1 of these containers has no handler for its stop signal, which the kernel then drops: in a \
         cluster every stop of them waits out the grace period and ends in SIGKILL. Teardown killed them at once. \
         Handle the signal, or run the process under an init such as tini:"
    );
    for (app, role, container, signal, grace, n) in seen {
        let pods = if n == 1 { "pod" } else { "pods" };
        errln!("  {app}/{role} container {container}: {signal}, {grace} s grace ({n} {pods})");
    }
}

fn print_summary(results: &[TestResult], elapsed: Duration) {
    let failed: Vec<&TestResult> = results.iter().filter(|r| r.outcome == Outcome::Failed).collect();
    for r in &failed {
        outln!("\n--- FAIL {} ({})", r.name, r.file);
        if let Some(f) = &r.failure {
            outln!("{}", f.trim_end());
        }
        if r.kept {
            outln!("pods kept: remove them with `podproof down --run {}`", r.run_id);
        }
    }
    let problems: Vec<&String> = results.iter().flat_map(|r| r.snapshot_problems.iter()).collect();
    if !problems.is_empty() {
        outln!("\nsnapshots:");
        for p in problems {
            outln!("  {p}");
        }
    }
    outln!("\nran {} tests in {:.1}s", results.len(), elapsed.as_secs_f64());
}

/// Prints progress: a live status line on a terminal, plain lines otherwise.
struct Printer {
    tty: bool,
    start: Instant,
    current: Mutex<Vec<(String, String, Instant)>>,
}

impl Printer {
    fn new() -> Printer {
        Printer { tty: std::io::stderr().is_terminal(), start: Instant::now(), current: Mutex::new(Vec::new()) }
    }

    fn status(&self) {
        if !self.tty {
            return;
        }
        let cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let line: Vec<String> =
            cur.iter().map(|(t, s, at)| format!("{t}: {s} ({:.0}s)", at.elapsed().as_secs_f64())).collect();
        let text = format!("[{:>5.1}s] {}", self.start.elapsed().as_secs_f64(), line.join(" | "));
        // Redacted before the cut, which would otherwise leave a part of a
        // value that no longer matches; cut at a character, not a byte: step
        // names are user text in any script.
        let text: String = crate::redact::text(&text).chars().take(160).collect();
        errp!("\r\x1b[2K{text}");
    }

    fn clear(&self) {
        if self.tty {
            errp!("\r\x1b[2K");
        }
    }

    fn line(&self, s: &str) {
        if self.tty {
            errp!("\r\x1b[2K");
        }
        errln!("{s}");
        self.status();
    }
}

impl Progress for Printer {
    fn test_started(&self, name: &str) {
        self.current.lock().unwrap_or_else(|e| e.into_inner()).push((
            name.to_string(),
            "starting".into(),
            Instant::now(),
        ));
        if !self.tty {
            errln!("START {name}");
        }
        self.status();
    }

    fn step_started(&self, test: &str, step: &str) {
        if let Some(e) = self.current.lock().unwrap_or_else(|e| e.into_inner()).iter_mut().find(|(t, _, _)| t == test) {
            e.1 = step.to_string();
            e.2 = Instant::now();
        }
        if !self.tty {
            errln!("  {test}: {step}");
        }
        self.status();
    }

    fn test_finished(&self, r: &TestResult) {
        self.current.lock().unwrap_or_else(|e| e.into_inner()).retain(|(t, _, _)| t != &r.name);
        let tag = match r.outcome {
            Outcome::Passed => "PASS",
            Outcome::Failed => "FAIL",
            Outcome::Skipped => "SKIP",
        };
        self.line(&format!(
            "{tag}  {} ({:.1}s, teardown {:.1}s)",
            r.name,
            r.duration.as_secs_f64(),
            r.teardown.as_secs_f64()
        ));
    }

    fn log(&self, test: &str, line: &str) {
        if !self.tty {
            errln!("  {test}: {line}");
        }
    }
}
