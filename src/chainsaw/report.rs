//! chainsaw and kuttl tests as tests of a podproof run: each test (each
//! scenario of a test) is one `runner::TestResult`, its steps (and their
//! cleanups) its steps, so the JUnit and JSON reports of `report.rs` carry
//! them beside podproof's own.

use super::discover::Found;
use super::engine::{StepOutcome, TestOutcome};
use super::model::{Dialect, Test};
use crate::runner::{Outcome, StepResult, TestResult};
use std::time::Duration;

/// Why discovered chainsaw and kuttl tests are not run by this build.
pub const NOT_WIRED: &str = "chainsaw and kuttl tests run against a Kubernetes API: podproof's environment does not serve one yet (issue 30), and no --kubeconfig names another, so this test was read and checked, not run";

/// The tests `podproof test` selected: `--filter` on the name, then `--shard`.
pub fn select(found: Found, filter: Option<&regex::Regex>, shard: Option<(usize, usize)>) -> Found {
    let tests: Vec<_> = found.tests.into_iter().filter(|(t, _)| filter.is_none_or(|f| f.is_match(&t.name))).collect();
    let tests = match shard {
        Some((k, n)) => tests.into_iter().enumerate().filter(|(i, _)| i % n == k - 1).map(|(_, t)| t).collect(),
        None => tests,
    };
    Found { tests, suites: found.suites }
}

pub fn kind(t: &Test) -> &'static str {
    match t.dialect {
        Dialect::Chainsaw => "chainsaw",
        Dialect::Kuttl => "kuttl",
    }
}

fn base(t: &Test) -> TestResult {
    TestResult {
        name: t.name.clone(),
        file: t.file.clone(),
        outcome: Outcome::Skipped,
        duration: Duration::ZERO,
        steps: Vec::new(),
        failure: None,
        run_id: String::new(),
        snapshot_problems: Vec::new(),
        kept: false,
        environment_failed: false,
        teardown: Duration::ZERO,
        ledger: Vec::new(),
        timeline: Vec::new(),
        backoff_scaled: false,
        stop_signal_ignored: Vec::new(),
    }
}

/// Results for tests that were read but not run, with the reason as each
/// step's message.
pub fn not_run(tests: &[Test], why: &str) -> Vec<TestResult> {
    tests
        .iter()
        .map(|t| TestResult {
            steps: t
                .steps
                .iter()
                .map(|s| StepResult {
                    reload_ms: None,
                    reloads: Vec::new(),
                    name: s.name.clone(),
                    action: kind(t).into(),
                    outcome: Outcome::Skipped,
                    duration: Duration::ZERO,
                    message: Some(why.to_string()),
                    line: s.line,
                })
                .collect(),
            ..base(t)
        })
        .collect()
}

/// The engine's outcome of a test as a test of the run.
pub fn result(t: &Test, o: &TestOutcome) -> TestResult {
    let step = |s: &StepOutcome| StepResult {
        reload_ms: None,
        reloads: Vec::new(),
        name: s.name.clone(),
        action: kind(t).into(),
        outcome: s.outcome,
        duration: s.duration,
        message: s.message.as_ref().map(|m| crate::redact::text(m)),
        line: s.line,
    };
    TestResult {
        name: o.name.clone(),
        outcome: o.outcome,
        duration: o.duration,
        steps: o.steps.iter().map(step).collect(),
        failure: o.failure.as_ref().map(|f| crate::redact::text(f)),
        run_id: o.namespace.clone(),
        teardown: o.cleanup,
        ..base(t)
    }
}
