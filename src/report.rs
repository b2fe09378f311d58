//! Test reports: JSON and JUnit XML, and the human summary.

use crate::runner::{Outcome, TestResult};
use serde::Serialize;

#[derive(Serialize)]
struct JsonReport<'a> {
    format: u32,
    podproof: &'a str,
    passed: usize,
    failed: usize,
    skipped: usize,
    tests: Vec<JsonTest<'a>>,
}

#[derive(Serialize)]
struct JsonTest<'a> {
    name: &'a str,
    file: &'a str,
    outcome: &'a str,
    duration_ms: u128,
    teardown_ms: u128,
    run_id: &'a str,
    failure: Option<&'a str>,
    snapshot_problems: &'a [String],
    steps: Vec<JsonStep<'a>>,
    /// What the test's apps hold that podproof does not honour.
    ledger: &'a [crate::fidelity::Entry],
    /// Whether CrashLoopBackOff was scaled down (podproof.yaml `kubelet.backoff`).
    backoff_scaled: bool,
    /// The events timeline, like `kubectl get events`.
    timeline: &'a [crate::kubelet::timeline::Event],
    /// Containers whose PID 1 ignores its stop signal: teardown killed them at
    /// once, where a cluster waits out the grace period on every stop.
    stop_signal_ignored: &'a [crate::kubelet::grace::Ignored],
}

#[derive(Serialize)]
struct JsonStep<'a> {
    name: &'a str,
    action: &'a str,
    line: usize,
    outcome: &'a str,
    duration_ms: u128,
    reload_ms: Option<u128>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reloads: Vec<JsonReload<'a>>,
    message: Option<&'a str>,
}

/// One member's reload: its outcome and the evidence that decided it.
#[derive(Serialize)]
struct JsonReload<'a> {
    member: &'a str,
    outcome: &'a str,
    latency_ms: u128,
    detail: &'a str,
    evidence: &'a [crate::reloader::Evidence],
}

pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

pub fn counts(results: &[TestResult]) -> Counts {
    let n = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    Counts { passed: n(Outcome::Passed), failed: n(Outcome::Failed), skipped: n(Outcome::Skipped) }
}

pub fn json(results: &[TestResult]) -> String {
    let c = counts(results);
    let r = JsonReport {
        format: 1,
        podproof: env!("CARGO_PKG_VERSION"),
        passed: c.passed,
        failed: c.failed,
        skipped: c.skipped,
        tests: results
            .iter()
            .map(|t| JsonTest {
                name: &t.name,
                file: &t.file,
                outcome: t.outcome.as_str(),
                duration_ms: t.duration.as_millis(),
                teardown_ms: t.teardown.as_millis(),
                run_id: &t.run_id,
                failure: t.failure.as_deref(),
                snapshot_problems: &t.snapshot_problems,
                ledger: &t.ledger,
                backoff_scaled: t.backoff_scaled,
                timeline: &t.timeline,
                stop_signal_ignored: &t.stop_signal_ignored,
                steps: t
                    .steps
                    .iter()
                    .map(|s| JsonStep {
                        name: &s.name,
                        action: &s.action,
                        line: s.line,
                        outcome: s.outcome.as_str(),
                        duration_ms: s.duration.as_millis(),
                        reload_ms: s.reload_ms,
                        reloads: s
                            .reloads
                            .iter()
                            .map(|r| JsonReload {
                                member: &r.member,
                                outcome: r.outcome.as_str(),
                                latency_ms: r.latency.as_millis(),
                                detail: &r.detail,
                                evidence: &r.evidence,
                            })
                            .collect(),
                        message: s.message.as_deref(),
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&r).expect("reports serialize") + "\n"
}

/// JUnit XML: one testsuite, one testcase per scenario, written by
/// quick-junit, which escapes text and drops what XML 1.0 cannot carry
/// (control characters, and so ANSI colour sequences).
pub fn junit(results: &[TestResult]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let total: std::time::Duration = results.iter().map(|r| r.duration).sum();
    let mut suite = TestSuite::new("podproof");
    suite.set_time(total);
    for r in results {
        let status = match r.outcome {
            Outcome::Passed => TestCaseStatus::success(),
            Outcome::Skipped => TestCaseStatus::skipped(),
            Outcome::Failed => {
                let msg = r.failure.as_deref().unwrap_or("failed");
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(msg.lines().next().unwrap_or("failed")).set_type("failure").set_description(msg);
                s
            }
        };
        let mut case = TestCase::new(r.name.as_str(), status);
        case.set_classname(r.file.as_str()).set_time(r.duration);
        suite.add_test_case(case);
    }
    let mut report = Report::new("podproof");
    report.set_time(total).add_test_suite(suite);
    report.to_string().unwrap_or_else(|e| format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- {e} -->\n"))
}

/// The closing line: `N passed, N failed` (`, N skipped` when any were).
pub fn summary_line(results: &[TestResult]) -> String {
    let c = counts(results);
    if c.skipped > 0 {
        format!("{} passed, {} failed, {} skipped", c.passed, c.failed, c.skipped)
    } else {
        format!("{} passed, {} failed", c.passed, c.failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_escapes_and_drops_what_xml_cannot_carry() {
        let r = TestResult {
            name: "a<b & \"c\"".into(),
            file: "t.yaml".into(),
            outcome: Outcome::Failed,
            duration: std::time::Duration::from_millis(1500),
            steps: Vec::new(),
            failure: Some("step `x` failed\n\x1b[31m- old\x1b[0m\x01".into()),
            run_id: String::new(),
            snapshot_problems: Vec::new(),
            kept: false,
            teardown: std::time::Duration::ZERO,
            ledger: Vec::new(),
            timeline: Vec::new(),
            backoff_scaled: false,
            stop_signal_ignored: Vec::new(),
            environment_failed: false,
        };
        let x = junit(&[r]);
        assert!(x.starts_with("<?xml"), "{x}");
        assert!(x.contains(r#"name="a&lt;b &amp; &quot;c&quot;""#), "{x}");
        assert!(x.contains("step `x` failed\n- old<"), "{x}");
        assert!(!x.contains('\x1b') && !x.contains('\x01'), "{x}");
        assert!(x.contains(r#"failures="1""#), "{x}");
    }
}
