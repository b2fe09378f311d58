//! Running a chainsaw (or kuttl) test against a Kubernetes API, in
//! chainsaw's order and with its rules:
//!
//! - a test gets a namespace: its own `namespace`, the configuration's, or a
//!   new `chainsaw-<adjective>-<animal>` (kuttl: `kuttl-test-…`), created
//!   unless it exists, and deleted at the end if it was created here;
//! - its steps run in order; in a step's `try` the first failing operation
//!   stops the step (unless `continueOnError`) and the test; then the step's
//!   `catch` (with the test's and the configuration's) runs if the test has
//!   failed, then its `finally` always;
//! - cleanup runs at the end of the test, step by step in reverse: what the
//!   step's apply and create made (deleted in reverse order, each waited
//!   for), then the step's `cleanup` operations; the namespace is last;
//! - timeouts are the operation's own, else the step's, the test's, the
//!   configuration's, else chainsaw's defaults; waits poll through
//!   `wait::await_condition`, every 50 ms (kuttl: every second);
//! - bindings are inherited and shadowed: built-ins (`$namespace`, `$test`,
//!   `$step`, `$operation`, `$values`, `$client`, `$config`), the test's,
//!   each scenario's, the step's and the operation's; outputs add bindings
//!   for the rest of their step.

use super::client::{Client, ObjectRef};
use super::config::Config;
use super::expr::{self, Bindings};
use super::model::*;
use super::ops;
use crate::runner::Outcome;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a test runs against and with.
pub struct Env<'a> {
    pub client: Arc<dyn Client>,
    pub config: Arc<Config>,
    /// Put first on PATH for scripts and commands (where the set-up's kubectl is).
    pub tools_path: Option<PathBuf>,
    /// `$values`.
    pub values: Value,
    /// Progress lines (`step-1 | APPLY | DONE | v1/ConfigMap @ ns/x`).
    pub log: &'a (dyn Fn(&str) + Sync),
    /// `$test.id` (1-based).
    pub test_id: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    pub name: String,
    pub outcome: Outcome,
    pub duration: Duration,
    pub line: usize,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TestOutcome {
    pub name: String,
    pub outcome: Outcome,
    pub duration: Duration,
    /// The time the cleanup took (included in `duration`).
    pub cleanup: Duration,
    pub steps: Vec<StepOutcome>,
    /// The failures, each with where it is written, as they happened.
    pub failure: Option<String>,
    pub namespace: String,
}

/// The context operations run in: what a level sets, inherited below it.
#[derive(Clone)]
pub struct Tc {
    pub bindings: Bindings,
    pub timeouts: Timeouts,
    pub catch: Vec<Operation>,
    pub skip_delete: bool,
    pub template: bool,
    pub namespace: Option<String>,
    pub propagation: String,
    pub grace: Option<Duration>,
    pub poll: Duration,
    pub dir: PathBuf,
    pub dialect: Dialect,
}

/// What a step's apply and create made, deleted at its cleanup.
#[derive(Default)]
pub struct Cleaner {
    pub made: Vec<ObjectRef>,
}

/// A step's cleanup, run at the end of the test.
struct PendingCleanup {
    step: String,
    line: usize,
    cleaner: Cleaner,
    ops: Vec<Operation>,
    tc: Tc,
    delay: Option<Duration>,
}

struct Run<'a> {
    env: &'a Env<'a>,
    test: &'a Test,
    failed: bool,
    failures: Vec<String>,
    steps: Vec<StepOutcome>,
}

impl Run<'_> {
    fn fail(&mut self, msg: String) {
        self.failed = true;
        (self.env.log)(&msg);
        self.failures.push(msg);
    }
}

/// Runs a test: once, or once per scenario. Nothing here panics on any input;
/// a bad expression or a missing file fails the operation that meets it.
pub fn run(test: &Test, env: &Env<'_>) -> Vec<TestOutcome> {
    if test.scenarios.is_empty() {
        return vec![run_scenario(test, env, 0, None)];
    }
    test.scenarios.iter().enumerate().map(|(i, s)| run_scenario(test, env, i + 1, Some(s))).collect()
}

/// Two words from chainsaw's kind of name generator, for the test namespace.
fn petname() -> String {
    const ADJ: &[&str] = &[
        "brave", "calm", "eager", "fair", "gentle", "happy", "jolly", "keen", "lively", "merry", "neat", "proud",
        "quick", "rare", "sharp", "tidy", "vast", "warm", "witty", "bold", "bright", "clever", "daring", "fond",
    ];
    const NOUN: &[&str] = &[
        "ant", "bee", "cat", "deer", "eagle", "fox", "gnu", "hawk", "ibis", "jay", "koala", "liger", "mole", "newt",
        "otter", "panda", "quail", "raven", "seal", "tapir", "urchin", "viper", "wolf", "yak", "zebra", "lynx",
    ];
    let mut b = [0u8; 4];
    if getrandom::fill(&mut b).is_err() {
        let n =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(7);
        b = n.to_le_bytes();
    }
    let n = u32::from_le_bytes(b) as usize;
    format!("{}-{}", ADJ[n % ADJ.len()], NOUN[(n / ADJ.len()) % NOUN.len()])
}

/// One run of a test; the `x_k8s_*` functions see the test's API throughout,
/// its bindings included.
fn run_scenario(test: &Test, env: &Env<'_>, scenario_id: usize, scenario: Option<&Scenario>) -> TestOutcome {
    super::functions::with_client(Some(env.client.clone()), || run_scenario_inner(test, env, scenario_id, scenario))
}

fn run_scenario_inner(test: &Test, env: &Env<'_>, scenario_id: usize, scenario: Option<&Scenario>) -> TestOutcome {
    let start = Instant::now();
    let name = match scenario.and_then(|s| s.name.clone()) {
        Some(n) => format!("{} ({n})", test.name),
        None if scenario_id > 0 => format!("{} (scenario {scenario_id})", test.name),
        None => test.name.clone(),
    };
    let mut run = Run { env, test, failed: false, failures: Vec::new(), steps: Vec::new() };
    if test.skip {
        return TestOutcome {
            name,
            outcome: Outcome::Skipped,
            duration: start.elapsed(),
            cleanup: Duration::ZERO,
            steps: Vec::new(),
            failure: None,
            namespace: String::new(),
        };
    }
    for u in &test.unsupported {
        (env.log)(&format!("warning: {u} (not honoured)"));
    }
    let cfg = &env.config;
    let mut tc = Tc {
        bindings: Bindings::new()
            .with("values", env.values.clone())
            .with("client", super::functions::client_marker())
            .with("config", super::functions::client_marker())
            .with("test", json!({"id": env.test_id, "scenarioId": scenario_id, "metadata": test.metadata})),
        timeouts: test.timeouts.over(&cfg.timeouts),
        catch: cfg.catch.iter().chain(test.catch.iter()).cloned().collect(),
        skip_delete: test.skip_delete.unwrap_or(cfg.skip_delete),
        template: test.template.unwrap_or(cfg.template),
        namespace: None,
        propagation: test.deletion_propagation_policy.clone().unwrap_or_else(|| cfg.deletion_propagation.clone()),
        grace: test.force_termination_grace_period.or(cfg.force_termination_grace_period),
        poll: test.poll,
        dir: test.dir.clone(),
        dialect: test.dialect,
    };
    if let Some(s) = scenario {
        match resolve_bindings(&tc.bindings, &s.bindings) {
            Ok(b) => tc.bindings = b,
            Err(e) => run.fail(format!("scenario bindings: {e}")),
        }
    }
    let client = env.client.clone();
    let mut created_namespace: Option<String> = None;
    let mut namespace = String::new();
    if !run.failed {
        match setup_namespace(&*client, test, cfg, &tc) {
            Ok((ns, created)) => {
                (env.log)(&format!("@chainsaw | NAMESPACE | {} {ns}", if created { "CREATED" } else { "USED" }));
                tc.bindings = tc.bindings.with("namespace", Value::String(ns.clone()));
                tc.namespace = Some(ns.clone());
                namespace = ns.clone();
                if created {
                    created_namespace = Some(ns);
                }
            }
            Err(e) => run.fail(format!("namespace: {e}")),
        }
    }
    if !run.failed {
        match resolve_bindings(&tc.bindings, &test.bindings) {
            Ok(b) => tc.bindings = b,
            Err(e) => run.fail(format!("test bindings: {e}")),
        }
    }
    let mut cleanups: Vec<PendingCleanup> = Vec::new();
    if !run.failed {
        super::functions::with_client(Some(client.clone()), || {
            for (i, step) in test.steps.iter().enumerate() {
                if crate::signals::interrupted() {
                    run.fail(format!("interrupted by {}", crate::signals::which().unwrap_or("a signal")));
                    break;
                }
                let stop = run_step(&mut run, &tc, step, i, &mut cleanups);
                if stop {
                    for s in test.steps.iter().skip(i + 1) {
                        run.steps.push(StepOutcome {
                            name: s.name.clone(),
                            outcome: Outcome::Skipped,
                            duration: Duration::ZERO,
                            line: s.line,
                            message: None,
                        });
                    }
                    break;
                }
            }
        });
    }
    let cstart = Instant::now();
    super::functions::with_client(Some(client.clone()), || {
        for c in cleanups.into_iter().rev() {
            run_cleanup(&mut run, c);
        }
    });
    if let Some(ns) = &created_namespace {
        if !tc.skip_delete {
            let started = Instant::now();
            // The namespace's own deletion tears down what is in it; the test does not wait for it.
            let r = client.delete(&ObjectRef::new("v1", "Namespace", "", ns), Some(&tc.propagation));
            let outcome = match r {
                Ok(()) => Outcome::Passed,
                Err(e) if e.is_not_found() => Outcome::Passed,
                Err(e) => {
                    run.fail(format!("@cleanup: deleting namespace {ns}: {e}"));
                    Outcome::Failed
                }
            };
            run.steps.push(StepOutcome {
                name: "@cleanup".into(),
                outcome,
                duration: started.elapsed(),
                line: 1,
                message: None,
            });
        }
    }
    let cleanup = cstart.elapsed();
    TestOutcome {
        name,
        outcome: if run.failed { Outcome::Failed } else { Outcome::Passed },
        duration: start.elapsed(),
        cleanup,
        steps: run.steps,
        failure: (!run.failures.is_empty()).then(|| run.failures.join("\n\n")),
        namespace,
    }
}

/// Resolves bindings in order, each seeing the ones before it.
pub fn resolve_bindings(b: &Bindings, list: &[Binding]) -> Result<Bindings, String> {
    let mut out = b.clone();
    for bind in list {
        let (name, value) = resolve_binding(&out, bind, &Value::Null)?;
        out = out.with(&name, value);
    }
    Ok(out)
}

/// A binding's name and value (an expression's result, a template's).
pub fn resolve_binding(b: &Bindings, bind: &Binding, input: &Value) -> Result<(String, Value), String> {
    let name = expr::string_value(&bind.name, b)?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("invalid binding name {name}"));
    }
    if bind.compiler.as_deref() == Some("cel") {
        return Err(format!("binding `{name}`: CEL expressions are not supported by podproof"));
    }
    let value = super::template::mutate(&bind.value, input, b).map_err(|e| format!("binding `{name}`: {e}"))?;
    Ok((name, value))
}

fn setup_namespace(client: &dyn Client, test: &Test, cfg: &Config, tc: &Tc) -> Result<(String, bool), String> {
    let fixed = test.namespace.clone().or_else(|| cfg.namespace.clone());
    let template = test.namespace_template.clone().or_else(|| cfg.namespace_template.clone());
    for _ in 0..20 {
        let mut name = match &fixed {
            Some(n) => expr::string_value(n, &tc.bindings)?,
            None => match test.dialect {
                Dialect::Chainsaw => format!("chainsaw-{}", petname()),
                Dialect::Kuttl => format!("kuttl-test-{}", petname()),
            },
        };
        let mut ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        // The template is merged over the namespace, its own name included (chainsaw's buildNamespace).
        let mut named_by_template = false;
        if let Some(t) = &template {
            let b = tc.bindings.with("namespace", Value::String(name.clone()));
            let t = super::template::template(t, &b)?;
            ns = merge(&ns, &t);
            if let Some(n) = ns.pointer("/metadata/name").and_then(Value::as_str).filter(|n| *n != name) {
                name = n.to_string();
                named_by_template = true;
            }
        }
        let chosen = fixed.is_some() || named_by_template;
        let r = ObjectRef::new("v1", "Namespace", "", &name);
        match client.get(&r).map_err(|e| e.to_string())? {
            Some(_) if chosen => return Ok((name, false)),
            // A generated name already taken (by a run beside this one): another.
            Some(_) => continue,
            None => match client.create(&ns, &Default::default()) {
                Ok(_) => return Ok((name, true)),
                Err(e) if e.is_conflict() && !chosen => continue,
                Err(e) if e.is_conflict() => return Ok((name, false)),
                Err(e) => return Err(e.to_string()),
            },
        }
    }
    Err("no free namespace name after 20 tries".into())
}

/// A deep merge of maps, `b` winning (chainsaw's `maps.Merge`).
pub fn merge(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut out = x.clone();
            for (k, v) in y {
                let merged = match out.get(k) {
                    Some(old) if old.is_object() && v.is_object() => merge(old, v),
                    _ => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        _ => b.clone(),
    }
}

/// Runs one step; `true` stops the test.
fn run_step(run: &mut Run<'_>, outer: &Tc, step: &Step, i: usize, cleanups: &mut Vec<PendingCleanup>) -> bool {
    let start = Instant::now();
    let mut tc = outer.clone();
    tc.bindings = tc.bindings.with("step", json!({"id": i + 1}));
    tc.timeouts = step.timeouts.over(&outer.timeouts);
    tc.catch = outer.catch.iter().chain(step.catch.iter()).cloned().collect();
    if let Some(t) = step.template {
        tc.template = t;
    }
    if let Some(s) = step.skip_delete {
        tc.skip_delete = s;
    }
    if let Some(p) = &step.deletion_propagation_policy {
        tc.propagation = p.clone();
    }
    let failures_before = run.failures.len();
    let mut stop = false;
    match resolve_bindings(&tc.bindings, &step.bindings) {
        Ok(b) => tc.bindings = b,
        Err(e) => {
            run.fail(format!("step `{}` ({}:{}): bindings: {e}", step.name, run.test.file, step.line));
            stop = true;
        }
    }
    let mut cleaner = Cleaner::default();
    if !stop {
        (run.env.log)(&format!("{} | TRY | BEGIN", step.name));
        let mut block = tc.clone();
        for (j, op) in step.try_.iter().enumerate() {
            if crate::signals::interrupted() {
                run.fail("interrupted".into());
                stop = true;
                break;
            }
            match run_operation(run, &mut block, op, j, Some(&mut cleaner)) {
                Ok(()) => {}
                Err(e) => {
                    run.fail(format!(
                        "step `{}`: {} ({}:{}) failed\n{e}",
                        step.name,
                        op.action.keyword(),
                        op.file,
                        op.line
                    ));
                    if !op.continue_on_error {
                        stop = true;
                        break;
                    }
                }
            }
        }
        (run.env.log)(&format!("{} | TRY | END", step.name));
        // catch, finally and cleanup see what try bound, and each what the one before it bound
        // (chainsaw's deferred blocks share the step's context).
        tc.bindings = block.bindings.clone();
        let catch = tc.catch.clone();
        if run.failed && !catch.is_empty() {
            (run.env.log)(&format!("{} | CATCH | BEGIN", step.name));
            let mut block = tc.clone();
            for (j, op) in catch.iter().enumerate() {
                if let Err(e) = run_operation(run, &mut block, op, j, None) {
                    run.fail(format!(
                        "step `{}`: catch {} ({}:{}) failed\n{e}",
                        step.name,
                        op.action.keyword(),
                        op.file,
                        op.line
                    ));
                }
            }
            (run.env.log)(&format!("{} | CATCH | END", step.name));
            tc.bindings = block.bindings;
        }
        if !step.finally.is_empty() {
            (run.env.log)(&format!("{} | FINALLY | BEGIN", step.name));
            let mut block = tc.clone();
            for (j, op) in step.finally.iter().enumerate() {
                if let Err(e) = run_operation(run, &mut block, op, j, None) {
                    run.fail(format!(
                        "step `{}`: finally {} ({}:{}) failed\n{e}",
                        step.name,
                        op.action.keyword(),
                        op.file,
                        op.line
                    ));
                }
            }
            (run.env.log)(&format!("{} | FINALLY | END", step.name));
            tc.bindings = block.bindings;
        }
    }
    let failed_here = run.failures.len() > failures_before;
    run.steps.push(StepOutcome {
        name: step.name.clone(),
        outcome: if failed_here { Outcome::Failed } else { Outcome::Passed },
        duration: start.elapsed(),
        line: step.line,
        message: failed_here.then(|| run.failures[failures_before..].join("\n\n")),
    });
    if tc.skip_delete {
        cleaner.made.clear();
    }
    let delay = run.test.delay_before_cleanup.or(run.env.config.delay_before_cleanup);
    cleanups.push(PendingCleanup {
        step: step.name.clone(),
        line: step.line,
        cleaner,
        ops: step.cleanup.clone(),
        tc,
        delay,
    });
    stop
}

fn run_cleanup(run: &mut Run<'_>, c: PendingCleanup) {
    if c.cleaner.made.is_empty() && c.ops.is_empty() {
        return;
    }
    let start = Instant::now();
    let before = run.failures.len();
    (run.env.log)(&format!("{} | CLEANUP | BEGIN", c.step));
    if let Some(d) = c.delay {
        crate::wait::pause(d);
    }
    let timeout = c.tc.timeouts.get(TimeoutKind::Cleanup);
    let client = run.env.client.clone();
    for r in c.cleaner.made.iter().rev() {
        if let Err(e) = ops::delete_and_wait(&*client, r, &c.tc.propagation, timeout, c.tc.poll) {
            run.fail(format!("cleanup ({}): deleting {}: {e}", c.step, r.describe()));
        }
    }
    let mut block = c.tc.clone();
    for (j, op) in c.ops.iter().enumerate() {
        if let Err(e) = run_operation(run, &mut block, op, j, None) {
            run.fail(format!("cleanup ({}): {} ({}:{}) failed\n{e}", c.step, op.action.keyword(), op.file, op.line));
        }
    }
    (run.env.log)(&format!("{} | CLEANUP | END", c.step));
    let failed = run.failures.len() > before;
    run.steps.push(StepOutcome {
        name: format!("cleanup ({})", c.step),
        outcome: if failed { Outcome::Failed } else { Outcome::Passed },
        duration: start.elapsed(),
        line: c.line,
        message: failed.then(|| run.failures[before..].join("\n\n")),
    });
}

/// Runs one operation (once per resource it names); its outputs extend `tc`'s bindings.
fn run_operation(
    run: &mut Run<'_>,
    tc: &mut Tc,
    op: &Operation,
    index: usize,
    cleaner: Option<&mut Cleaner>,
) -> Result<(), String> {
    let mut tc_op = tc.clone();
    if op.compiler.as_deref() == Some("cel") {
        return Err("the CEL compiler is not supported by podproof".into());
    }
    let timeout = op.action.own_timeout().unwrap_or_else(|| tc.timeouts.get(op.action.timeout_kind()));
    let resources = ops::resources_of(op, &tc_op)?;
    let mut errors = Vec::new();
    let mut cleaner = cleaner;
    let count = resources.as_ref().map(|r| r.len()).unwrap_or(1);
    for j in 0..count {
        let b = tc_op.bindings.with("operation", json!({"id": index + 1, "resourceId": j + 1}));
        let b = match resolve_bindings(&b, op.action.bindings()) {
            Ok(b) => b,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let resource = resources.as_ref().map(|r| r[j].clone());
        let ctx = ops::OpCtx { client: &*run.env.client, tc: &tc_op, bindings: b, timeout, env: run.env };
        let what = resource.as_ref().map(|r| ObjectRef::of(&r.value).describe()).unwrap_or_default();
        (run.env.log)(&format!("{} | {} | RUN | {what}", op.file, op.action.keyword().to_uppercase()));
        match ops::execute(&ctx, &op.action, resource.as_ref(), cleaner.as_deref_mut()) {
            Ok(outputs) => {
                for (k, v) in outputs {
                    tc_op.bindings = tc_op.bindings.with(&k, v);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    tc.bindings = tc_op.bindings;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}
