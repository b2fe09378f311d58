//! Running scenario tests: discovery, parallel execution, steps and
//! expectations, and cleanup that always happens.

use crate::app::{self, App};
use crate::env::{Env, Member, Settings};
use crate::error::{Diagnostic, Result};
use crate::podman;
use crate::scenario::{self, Action, AppEntry, Expect, Step, Test};
use crate::snapshot::{self, Redactions, Store};
use crate::state::{self, RunKind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod actions;

#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    pub fail_fast: bool,
    pub keep: bool,
    pub grace: Duration,
    /// Where `grace` comes from, as the ledger names it.
    pub grace_from: crate::app::ledger::GraceFrom,
    pub snapshots: Store,
    /// CrashLoopBackOff of the pod workers (podproof.yaml may scale it).
    pub backoff: crate::kubelet::Backoff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StepResult {
    /// Config steps: how long from the change to the verified reload.
    pub reload_ms: Option<u128>,
    /// Config steps: each reloaded member's outcome with its evidence (secrets redacted).
    pub reloads: Vec<crate::reloader::Report>,
    pub name: String,
    pub action: String,
    pub outcome: Outcome,
    pub duration: Duration,
    pub message: Option<String>,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: String,
    pub file: String,
    pub outcome: Outcome,
    pub duration: Duration,
    pub steps: Vec<StepResult>,
    /// Why the test failed: the step, expected vs seen, pod states and logs.
    pub failure: Option<String>,
    pub run_id: String,
    /// Snapshots that are missing or changed.
    pub snapshot_problems: Vec<String>,
    pub kept: bool,
    pub teardown: Duration,
    /// What the test's apps hold that podproof does not honour.
    pub ledger: Vec<crate::fidelity::Entry>,
    /// The run's events timeline (pod workers and the environment), times since the test started.
    pub timeline: Vec<crate::kubelet::timeline::Event>,
    /// Whether CrashLoopBackOff was scaled down by podproof.yaml for this run.
    pub backoff_scaled: bool,
    /// The containers that teardown killed at once because they ignore their stop signal.
    pub stop_signal_ignored: Vec<crate::kubelet::grace::Ignored>,
    /// The test failed because its environment did (the run could not be
    /// made, images not prepared, teardown failed), not because of its app:
    /// `podproof test` then exits with `error::exit::ENVIRONMENT`.
    pub environment_failed: bool,
}

/// A test with its apps loaded.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub test: Test,
    pub apps: Vec<App>,
    /// The images the run-time image map replaced in `apps` (see `map_images`).
    pub images: Vec<crate::imagemap::Rewrite>,
}

impl Loaded {
    /// Applies the run-time image map, `global` (podproof.yaml, `--image`) under
    /// the Test's own `images:` entries with `from`, to the test's apps.
    pub fn map_images(&mut self, global: &[crate::imagemap::Mapping]) {
        let own: Vec<crate::imagemap::Mapping> = self.test.images.iter().filter_map(|i| i.mapping()).collect();
        let map = crate::imagemap::merge([global, &own[..]]);
        for app in &mut self.apps {
            for r in crate::imagemap::apply(app, &map) {
                if !self.images.contains(&r) {
                    self.images.push(r);
                }
            }
        }
    }
}

/// Finds Test files under `paths` (respecting .gitignore) and parses them.
pub fn discover(paths: &[String]) -> (Vec<Loaded>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut files: Vec<PathBuf> = Vec::new();
    for p in paths {
        let path = Path::new(p);
        if path.is_file() {
            files.push(path.to_path_buf());
            continue;
        }
        if !path.exists() {
            diags.push(Diagnostic::error(p, None, "no such file or directory"));
            continue;
        }
        for e in ignore::WalkBuilder::new(path).hidden(true).git_ignore(true).require_git(false).build().flatten() {
            let ep = e.path();
            if ep.is_file() && app::load::is_definition_file(ep) {
                files.push(ep.to_path_buf());
            }
        }
    }
    files.sort();
    files.dedup();
    let mut tests = Vec::new();
    for f in files {
        let name = f.display().to_string();
        let text = match std::fs::read(&f) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(
                    &name,
                    None,
                    format!("cannot read file: {}", crate::source::io_reason(&e)),
                ));
                continue;
            }
        };
        // Only files that declare a Test are parsed in full; the rest are apps and data.
        let looks = String::from_utf8_lossy(&text)
            .lines()
            .any(|l| l.trim() == "kind: Test" || l.contains("\"kind\": \"Test\""));
        let explicit = paths.iter().any(|p| Path::new(p) == f);
        if !looks && !explicit {
            continue;
        }
        let src = match crate::source::read(&name) {
            Ok(s) => s,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let docs = match app::docs::documents(&src) {
            Ok(d) => d,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        for doc in docs {
            if !scenario::is_test(&doc) {
                // chainsaw's and kuttl's documents are read by src/chainsaw/.
                let foreign = crate::suitefile::is_chainsaw(&doc.value) || crate::suitefile::is_kuttl(&doc.value);
                if explicit && !foreign {
                    diags.push(app::docs::error_at(
                        &src,
                        &doc,
                        "/kind",
                        "not a podproof Test (kind: Test, apiVersion: podproof.dev/v1alpha1)",
                    ));
                }
                continue;
            }
            if let Some(t) = scenario::read(&src, &doc, &mut diags) {
                match load_apps(&t) {
                    Ok(apps) => tests.push(Loaded { test: t, apps, images: Vec::new() }),
                    Err(mut d) => diags.append(&mut d),
                }
            }
        }
    }
    let mut seen = std::collections::BTreeMap::new();
    for l in &tests {
        let here = format!("{}:{}:{}", l.test.file_name, l.test.name_at.0, l.test.name_at.1);
        if let Some(prev) = seen.insert(l.test.name.clone(), here) {
            diags.push(Diagnostic::error(
                &l.test.file_name,
                Some(l.test.name_at),
                format!("test name `{}` is also used at {prev}", l.test.name),
            ));
        }
    }
    (tests, diags)
}

/// Loads a test's apps, relative to the test file. An entry may be a command
/// (helm template, ytt, kustomize build...) whose stdout is the manifests; its
/// command line names the input in the test record, with the digest of its output.
pub fn load_apps(t: &Test) -> std::result::Result<Vec<App>, Vec<Diagnostic>> {
    let mut inputs: Vec<(String, std::result::Result<Vec<crate::source::Source>, Diagnostic>)> = Vec::new();
    for a in &t.apps {
        match a {
            AppEntry::Path(p) => {
                let arg = t.dir.join(p).display().to_string();
                let srcs = app::load::sources_of(&arg);
                inputs.push((arg, srcs));
            }
            AppEntry::Command(c) => inputs.push((command_app_name(&c.command), template(t, &c.command))),
        }
    }
    let loaded = app::load::load_sources(inputs.iter().map(|(a, s)| (a.as_str(), s.clone())));
    if loaded.has_errors() {
        // App paths are joined to the test's directory, so they are absolute:
        // show them from the current directory, as the user would type them.
        let shown = |mut d: Diagnostic| {
            d.file = crate::source::display(Path::new(&d.file));
            d
        };
        return Err(loaded.diagnostics.into_iter().filter(Diagnostic::is_error).map(shown).collect());
    }
    let mut apps = loaded.apps;
    for img in &t.images {
        let Some(context) = &img.context else { continue };
        let ctx = crate::source::normalize(&t.dir.join(context));
        if let Some(first) = apps.first_mut() {
            first.images.push(app::ImageBuild { tag: img.tag.clone(), context: ctx });
        }
    }
    Ok(apps)
}

/// The app a templating command renders is named after its last non-flag argument (`./chart` gives `chart`).
fn command_app_name(cmd: &[String]) -> String {
    cmd.iter().skip(1).rev().find(|a| !a.starts_with('-')).cloned().unwrap_or_else(|| cmd[0].clone())
}

/// Runs a templating command in the test's directory; its stdout is the manifests.
fn template(t: &Test, cmd: &[String]) -> std::result::Result<Vec<crate::source::Source>, Diagnostic> {
    let shown = format!("command: {}", cmd.join(" "));
    let out = duct::cmd(&cmd[0], &cmd[1..])
        .dir(&t.dir)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| Diagnostic::error(&t.file_name, None, format!("cannot run app command {cmd:?}: {e}")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Diagnostic::error(
            &t.file_name,
            None,
            format!("app command {cmd:?} exited {}: {}", out.status.code().unwrap_or(-1), why.trim()),
        ));
    }
    let src = crate::source::from_bytes(&shown, None, t.dir.clone(), crate::source::project_root(&t.dir), out.stdout)?;
    Ok(vec![src])
}

/// What a step observed.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub exit_code: Option<i32>,
    pub status: Option<u16>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub body: Option<String>,
    pub output: Option<String>,
    pub content: Option<String>,
    pub reload: Option<String>,
}

impl Observed {
    /// The text a snapshot of this step records.
    fn primary(&self) -> Option<&String> {
        self.body.as_ref().or(self.content.as_ref()).or(self.output.as_ref()).or(self.stdout.as_ref())
    }
}

/// The progress sink shared by parallel tests.
pub trait Progress: Sync {
    fn test_started(&self, name: &str);
    fn step_started(&self, test: &str, step: &str);
    fn test_finished(&self, r: &TestResult);
    fn log(&self, test: &str, line: &str);
}

/// Runs tests with `opts.jobs` workers; results come back in input order.
pub fn run_all(tests: &[Loaded], opts: &Options, progress: &dyn Progress) -> Vec<TestResult> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<Option<TestResult>>> = Mutex::new(vec![None; tests.len()]);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1).min(tests.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= tests.len() {
                    break;
                }
                let t = &tests[i];
                let r = if stop.load(Ordering::SeqCst) || crate::signals::interrupted() {
                    skipped(t, opts)
                } else {
                    progress.test_started(&t.test.name);
                    // A panic in a test is its failure, never a success or a
                    // dead process; its environment was torn down on unwind.
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_test(t, opts, progress)))
                        .unwrap_or_else(|p| panicked(t, opts, p.as_ref()));
                    progress.test_finished(&r);
                    r
                };
                if r.outcome == Outcome::Failed && opts.fail_fast {
                    stop.store(true, Ordering::SeqCst);
                }
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
            });
        }
    });
    // A worker that died leaves its test without a result: a failure, not a success.
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results
        .into_iter()
        .zip(tests)
        .map(|(r, t)| {
            r.unwrap_or_else(|| TestResult {
                outcome: Outcome::Failed,
                failure: Some("the test's worker stopped without a result".into()),
                ..skipped(t, opts)
            })
        })
        .collect()
}

/// The result of a test whose code panicked.
fn panicked(t: &Loaded, opts: &Options, payload: &(dyn std::any::Any + Send)) -> TestResult {
    let why = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    TestResult {
        outcome: Outcome::Failed,
        failure: Some(crate::redact::text(&format!("podproof panicked: {why} (a bug; please report it)"))),
        ..skipped(t, opts)
    }
}

fn skipped(t: &Loaded, opts: &Options) -> TestResult {
    TestResult {
        name: t.test.name.clone(),
        file: t.test.file_name.clone(),
        outcome: Outcome::Skipped,
        duration: Duration::ZERO,
        steps: Vec::new(),
        failure: None,
        run_id: String::new(),
        snapshot_problems: Vec::new(),
        kept: false,
        teardown: Duration::ZERO,
        environment_failed: false,
        ledger: crate::app::ledger::of_test_run(&t.apps, opts.grace, opts.grace_from, &|| {
            crate::podman::version().ok().map(|v| (v.major, v.minor))
        }),
        timeline: Vec::new(),
        backoff_scaled: false,
        stop_signal_ignored: Vec::new(),
    }
}

/// Runs one test in its own environment and always cleans up (unless kept).
pub fn run_test(t: &Loaded, opts: &Options, progress: &dyn Progress) -> TestResult {
    let start = Instant::now();
    let id = state::new_id("t");
    let mut result = TestResult {
        name: t.test.name.clone(),
        file: t.test.file_name.clone(),
        outcome: Outcome::Passed,
        duration: Duration::ZERO,
        steps: Vec::new(),
        failure: None,
        run_id: id.clone(),
        snapshot_problems: Vec::new(),
        kept: false,
        teardown: Duration::ZERO,
        environment_failed: false,
        ledger: crate::app::ledger::of_test_run(&t.apps, opts.grace, opts.grace_from, &|| {
            crate::podman::version().ok().map(|v| (v.major, v.minor))
        }),
        timeline: Vec::new(),
        backoff_scaled: opts.backoff.scaled(),
        stop_signal_ignored: Vec::new(),
    };
    let log = |l: &str| progress.log(&t.test.name, l);
    let settings = Settings { grace: opts.grace, backoff: opts.backoff };
    let mut env = match Env::new(t.apps.clone(), &id, &id[1..], RunKind::Test, settings) {
        Ok(mut e) => {
            e.lifecycle = &crate::lifecycle::KubeDirector;
            crate::env::TeardownGuard::new(e)
        }
        Err(e) => {
            result.outcome = Outcome::Failed;
            result.failure = Some(e.to_string());
            result.environment_failed = true;
            result.duration = start.elapsed();
            return result;
        }
    };
    let deadline = start + t.test.timeout;
    let mut ctx = StepContext {
        test: &t.test,
        opts,
        redactions: redactions(&t.test, &env),
        snapshot_problem: None,
        last_reload_ms: None,
        last_reloads: Vec::new(),
    };
    let prepared = env.prepare_images(&log);
    if let Err(e) = prepared {
        result.outcome = Outcome::Failed;
        result.failure = Some(format!("preparing images failed\n{e}"));
        result.environment_failed = true;
    } else {
        for step in &t.test.steps {
            if crate::signals::interrupted() {
                result.outcome = Outcome::Failed;
                result.failure = Some(format!("interrupted by {}", crate::signals::which().unwrap_or("a signal")));
                break;
            }
            progress.step_started(&t.test.name, &step.name);
            let sstart = Instant::now();
            let remaining = deadline.saturating_duration_since(Instant::now());
            let timeout = step.timeout.min(remaining);
            let r = if remaining.is_zero() {
                Err(format!("the test timeout ({:?}) passed", t.test.timeout))
            } else {
                ctx.run_step(&mut env, step, timeout, &log)
            };
            let mut sr = StepResult {
                reload_ms: ctx.last_reload_ms.take(),
                reloads: std::mem::take(&mut ctx.last_reloads),
                name: step.name.clone(),
                action: step.action.keyword().into(),
                outcome: Outcome::Passed,
                duration: sstart.elapsed(),
                message: None,
                line: step.line,
            };
            if let Err(msg) = r {
                sr.outcome = Outcome::Failed;
                let mut report =
                    format!("step `{}` ({}:{}) failed\n{}", step.name, t.test.file_name, step.line, msg.trim_end());
                report.push_str(&format!("\n{}", pod_report(&env)));
                let report = crate::redact::text(&report);
                sr.message = Some(report.clone());
                result.outcome = Outcome::Failed;
                result.failure = Some(report);
                if let Some(p) = ctx.snapshot_problem.take() {
                    result.snapshot_problems.push(p);
                }
                result.steps.push(sr);
                break;
            }
            if let Some(p) = ctx.snapshot_problem.take() {
                result.snapshot_problems.push(p);
            }
            result.steps.push(sr);
        }
    }
    // Steps after a failure are reported as skipped.
    for step in t.test.steps.iter().skip(result.steps.len()) {
        result.steps.push(StepResult {
            reload_ms: None,
            reloads: Vec::new(),
            name: step.name.clone(),
            action: step.action.keyword().into(),
            outcome: Outcome::Skipped,
            duration: Duration::ZERO,
            message: None,
            line: step.line,
        });
    }
    let tstart = Instant::now();
    let timeline = env.kubelet.timeline.clone();
    if result.outcome == Outcome::Failed && opts.keep && !crate::signals::interrupted() {
        result.kept = true;
        // The kept run must survive `podproof clean`, which removes runs of dead test processes.
        let _ = state::create(&id, RunKind::Up);
        env.keep();
        log(&format!("kept run {id}: remove it with `podproof down --run {id}`"));
    } else {
        match env.finish(&log) {
            Ok(t) => result.stop_signal_ignored = t.ignored,
            Err(e) => {
                result.outcome = Outcome::Failed;
                result.environment_failed = true;
                let msg = format!("teardown failed: {e}");
                result.failure = Some(match result.failure.take() {
                    Some(f) => format!("{f}\n{msg}"),
                    None => msg,
                });
            }
        }
    }
    result.teardown = tstart.elapsed();
    result.duration = start.elapsed();
    result.timeline = timeline.events();
    result
}

/// Pod states, the last 50 log lines of every container and the pods' events
/// timeline, for failure reports.
pub fn pod_report(env: &Env) -> String {
    let mut out = String::new();
    let pods: Vec<String> = env.members.iter().map(|m| m.pod.clone()).collect();
    let events = env.kubelet.timeline.lines_of(&pods);
    if !events.is_empty() {
        out.push_str("events (since the test started):\n");
        for l in events {
            out.push_str(&format!("  {l}\n"));
        }
    }
    for m in &env.members {
        match env.states(m) {
            Ok(states) if !states.is_empty() => {
                // A pod worker's restarts are its own; podman counts only those of its restart policy.
                let worker = env.kubelet.status.of(&m.pod).unwrap_or_default();
                for s in states {
                    let by_worker = m
                        .containers
                        .iter()
                        .find(|c| m.container(c) == s.name)
                        .and_then(|c| worker.get(c))
                        .map(|w| w.restarts as i64)
                        .unwrap_or(0);
                    out.push_str(&format!(
                        "pod {} container {}: {} (exit code {}, restarts {})\n",
                        m.pod,
                        s.name,
                        s.status,
                        s.exit_code,
                        s.restarts + by_worker
                    ));
                }
            }
            _ => {
                out.push_str(&format!("pod {}: not running\n", m.pod));
                continue;
            }
        }
        out.push_str(&env.logs_of(m));
        out.push('\n');
    }
    out.trim_end().to_string()
}

fn redactions(t: &Test, env: &Env) -> Redactions {
    let mut r =
        Redactions { run_id: Some(env.run.id.clone()), run_suffix: Some(env.run.suffix.clone()), ..Default::default() };
    for app in &env.apps {
        for s in &app.secrets {
            for v in s.data.iter().flat_map(|d| d.values()) {
                if let Ok(text) = std::str::from_utf8(&v.0) {
                    r.secrets.push(text.to_string());
                }
            }
        }
    }
    for u in &t.redact {
        if let Ok(re) = regex::Regex::new(&u.regex) {
            r.user.push((re, u.replace.clone()));
        }
    }
    r
}

struct StepContext<'a> {
    test: &'a Test,
    opts: &'a Options,
    redactions: Redactions,
    /// A missing or changed snapshot of the current step, for the summary.
    snapshot_problem: Option<String>,
    /// The reload latency of the current step (config steps), for reports.
    last_reload_ms: Option<u128>,
    /// The reload reports of the current step, for reports.
    last_reloads: Vec<crate::reloader::Report>,
}

impl StepContext<'_> {
    fn run_step(
        &mut self,
        env: &mut Env,
        step: &Step,
        timeout: Duration,
        log: &(dyn Fn(&str) + Sync),
    ) -> std::result::Result<(), String> {
        // `within` repeats observations only: an action with side effects (restart,
        // kill, config, scale, ...) must not be repeated until its expectation holds.
        let within = step.within.map(|w| w.min(timeout)).filter(|_| step.action.observes());
        let mut last_err: Option<String>;
        let started = Instant::now();
        loop {
            let obs = self.act(env, step, timeout, log);
            let checked = match (&obs, &step.expect.error) {
                (Err(e), Some(m)) => m
                    .check(e)
                    .map_err(|why| format!("the step failed as expected, but its error {why}\n  seen: {}", indent(e)))
                    .map(|_| None),
                (Err(e), None) => Err(e.clone()),
                (Ok(_), Some(m)) => {
                    Err(format!("expected the step to fail with an error that {}, but it succeeded", m.describe()))
                }
                (Ok(o), None) => check_expect(&step.expect, o).map(|_| Some(o.clone())),
            };
            match checked {
                Ok(obs) => {
                    if let (Some(snap), Some(o)) = (&step.expect.snapshot, obs) {
                        return self.snapshot(env, step, snap, &o);
                    }
                    return Ok(());
                }
                Err(e) => last_err = Some(e),
            }
            match within {
                Some(w) if started.elapsed() < w && !crate::signals::interrupted() => {
                    crate::wait::pause(Duration::from_millis(250))
                }
                _ => break,
            }
        }
        let e = last_err.unwrap_or_default();
        Err(match within {
            Some(w) => format!("expectations still failing after {w:?}:\n{e}"),
            None => e,
        })
    }

    fn snapshot(
        &mut self,
        env: &Env,
        step: &Step,
        snap: &scenario::SnapshotRef,
        o: &Observed,
    ) -> std::result::Result<(), String> {
        let Some(text) = o.primary() else { return Err("this step has no output to snapshot".into()) };
        let mut r = self.redactions.clone();
        r.ips = env
            .members
            .iter()
            .flat_map(|m| env.states(m).unwrap_or_default())
            .map(|s| s.ip)
            .filter(|i| !i.is_empty())
            .collect();
        // Every address on the run network, also of pods gone by now (an IP from before a restart in a log).
        let subnets =
            ["network", "inspect", &env.network, "--format", "{{range .Subnets}}{{.Subnet}} {{end}}"].map(String::from);
        r.subnets = podman::run(&subnets)
            .map(|o| o.stdout.split_whitespace().filter_map(snapshot::parse_subnet).collect())
            .unwrap_or_default();
        for u in snap.redactions() {
            if let Ok(re) = regex::Regex::new(&u.regex) {
                r.user.push((re, u.replace.clone()));
            }
        }
        let content = r.apply(text);
        // The source is relative to the project root, like insta's, so it does not depend on where podproof ran.
        let root = crate::source::project_root(&self.test.dir);
        let source = self
            .test
            .file
            .strip_prefix(&root)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| self.test.file_name.clone());
        let header = snapshot::Header { source, description: step.name.clone(), expression: expression(&step.action) };
        let name = snap.name();
        let out = self
            .opts
            .snapshots
            .check(&self.test.name, name, &header, &content)
            .map_err(|e| format!("cannot write snapshot: {e}"))?;
        let file = snapshot::file_name(&self.test.name, name);
        let (problem, diff, draft) = match out {
            snapshot::Outcome::Matched | snapshot::Outcome::Accepted => return Ok(()),
            snapshot::Outcome::New { draft } => {
                (format!("snapshot {file} is missing"), snapshot::diff("", &content), draft)
            }
            snapshot::Outcome::Changed { diff, draft } => (format!("snapshot {file} changed"), diff, draft),
        };
        self.snapshot_problem = Some(problem.clone());
        let how = match draft {
            Some(d) => format!(
                "; wrote {} (review it with `podproof snapshot review`, or rerun with --update-snapshots)",
                d.display()
            ),
            None => " (CI mode writes nothing: run without --ci, review and commit the snapshot)".into(),
        };
        // The failure is printed on stdout (reports strip the colours).
        let colour = std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none();
        Err(format!("{problem}{how}\n{}", if colour { snapshot::colour_diff(&diff) } else { diff }))
    }

    /// Performs a step's action once, by the action's own function (`actions`).
    fn act(
        &mut self,
        env: &mut Env,
        step: &Step,
        timeout: Duration,
        log: &(dyn Fn(&str) + Sync),
    ) -> std::result::Result<Observed, String> {
        match &step.action {
            Action::Up => actions::up(env, timeout, log),
            Action::Down => actions::down(env, timeout, log),
            Action::HelmTest => actions::helm_test(env, timeout, log),
            Action::Http(h) => actions::http(env, h, timeout),
            Action::Exec(x) => actions::exec(env, x, timeout),
            Action::Logs(p) => actions::logs(env, p),
            Action::File(f) => actions::file(env, f, timeout),
            Action::Restart(p) => actions::restart(env, p, timeout, log),
            Action::Kill(k) => actions::kill(env, k),
            Action::Sleep(d) => actions::sleep(*d),
            Action::Script(s) => actions::run_script(self.test, env, s, timeout),
            Action::Render(r) => actions::render(env, r),
            Action::Scale(sc) => actions::scale(env, sc, timeout, log),
            Action::Event(ev) => actions::event(env, ev, log),
            Action::Config(c) => self.config(env, c, &step.expect, timeout, log),
        }
    }
}

/// A short description of an action for snapshot headers.
fn expression(a: &Action) -> String {
    match a {
        Action::Http(h) => format!("http {} {}:{}{}", h.method, h.pod, h.port, h.path),
        Action::Exec(x) => format!("exec {} {}", x.pod, x.command.join(" ")),
        Action::Logs(p) => format!("logs {}", p.pod),
        Action::File(f) => format!("file {}:{}", f.pod, f.path),
        Action::Script(s) => format!("script {}", s.command.join(" ")),
        Action::Render(r) => format!("render --flavor {}", r.flavor),
        other => other.keyword().to_string(),
    }
}

/// Restarts a member's pod the way Kubernetes restarts a StatefulSet pod: the
/// pod is stopped (preStop, grace period) and recreated with the same name,
/// hostname and DNS aliases; its claims stay. Recreating rather than
/// `podman pod start` also avoids a podman 4.3 race under load, where the
/// late cleanup of the stopped container kills the restarted one.
pub fn restart(env: &Env, m: &Member, timeout: Duration, log: &(dyn Fn(&str) + Sync)) -> Result<()> {
    env.remove_members(std::slice::from_ref(m), log)?;
    env.start_pods(std::slice::from_ref(m), timeout, log)?;
    log(&format!("restarted {}", m.pod));
    Ok(())
}

/// Resolves `pod:`: a pod or member name, `role/index`, `app/role/index`, or a
/// role or app name that has a single member.
pub fn find_member(env: &Env, spec: &str) -> std::result::Result<Member, String> {
    let ms = &env.members;
    if let Some(m) = ms.iter().find(|m| m.name == spec || m.pod == spec) {
        return Ok(m.clone());
    }
    let parts: Vec<&str> = spec.split('/').collect();
    let found: Vec<&Member> = match parts.as_slice() {
        [role, idx] => ms
            .iter()
            .filter(|m| (m.role == *role || crate::app::dns_label(&m.role) == *role) && m.index.to_string() == *idx)
            .collect(),
        [app, role, idx] => ms
            .iter()
            .filter(|m| {
                m.app == *app
                    && (m.role == *role || crate::app::dns_label(&m.role) == *role)
                    && m.index.to_string() == *idx
            })
            .collect(),
        [name] => {
            let by_role: Vec<&Member> = ms.iter().filter(|m| m.role == *name).collect();
            if !by_role.is_empty() {
                by_role
            } else {
                ms.iter().filter(|m| m.app == *name).collect()
            }
        }
        _ => Vec::new(),
    };
    match found.as_slice() {
        [m] => Ok((*m).clone()),
        [] => Err(format!(
            "no pod `{spec}`; members: {}",
            ms.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
        )),
        many => Err(format!(
            "`{spec}` names {} pods ({}): say which, e.g. `{}/0`",
            many.len(),
            many.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "),
            many[0].role
        )),
    }
}

/// Checks every expectation; the error lists each failing one with what was seen.
pub fn check_expect(e: &Expect, o: &Observed) -> std::result::Result<(), String> {
    let mut fails = Vec::new();
    if let Some(want) = e.exit_code {
        match o.exit_code {
            Some(got) if got == want => {}
            Some(got) => fails.push(format!(
                "exitCode: expected {want}, seen {got}{}",
                o.stderr
                    .as_deref()
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| format!("\n  stderr: {}", indent(s)))
                    .unwrap_or_default()
            )),
            None => fails.push("exitCode: this step has no exit code".into()),
        }
    }
    if let Some(want) = e.status {
        match o.status {
            Some(got) if got == want => {}
            Some(got) => fails.push(format!(
                "status: expected {want}, seen {got}\n  body: {}",
                indent(o.body.as_deref().unwrap_or(""))
            )),
            None => fails.push("status: this step has no HTTP status".into()),
        }
    }
    for (field, m, seen) in [
        ("stdout", &e.stdout, &o.stdout),
        ("stderr", &e.stderr, &o.stderr),
        ("body", &e.body, &o.body),
        ("output", &e.output, &o.output),
        ("content", &e.content, &o.content),
    ] {
        if let Some(m) = m {
            match seen {
                Some(text) => {
                    if let Err(why) = m.check(text) {
                        fails.push(format!("{field}: {why}\n  seen: {}", indent(&tail(text, 40))));
                    }
                }
                None => fails.push(format!("{field}: this step has no {field}")),
            }
        }
    }
    if let Some(want) = &e.reload {
        match &o.reload {
            Some(got) if got == want => {}
            Some(got) if got == "unverified" => fails.push(format!(
                "reload: expected {want}, seen unverified: nothing showed whether the new config is in effect \
                 (the app logged no known reload message).\n  Declare a check that shows it: `verify:` on this \
                 config step, `reload: {{policy: ..., verify: ...}}` in the App, or the \
                 podproof.dev/reload-verify annotation, e.g.\n    verify: {{http: {{port: 8080, path: /}}, \
                 expect: {{body: {{contains: \"v2\"}}}}}}\n  {}",
                indent(o.output.as_deref().unwrap_or(""))
            )),
            Some(got) => fails
                .push(format!("reload: expected {want}, seen {got}\n  {}", indent(o.output.as_deref().unwrap_or("")))),
            None => fails.push("reload: this step does not reload".into()),
        }
    }
    if fails.is_empty() {
        Ok(())
    } else {
        Err(fails.join("\n"))
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    if lines.len() <= n {
        return s.trim_end().to_string();
    }
    format!("… ({} lines before)\n{}", lines.len() - n, lines[lines.len() - n..].join("\n"))
}

fn indent(s: &str) -> String {
    let s = s.trim_end();
    if !s.contains('\n') {
        return s.to_string();
    }
    s.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n").trim_start().to_string()
}
