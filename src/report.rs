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

/// Escapes text for XML attributes and content, dropping characters XML 1.0 forbids.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            // ANSI colour sequences start with ESC, which XML cannot carry.
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one testsuite, one testcase per scenario.
pub fn junit(results: &[TestResult]) -> String {
    let c = counts(results);
    let total: f64 = results.iter().map(|r| r.duration.as_secs_f64()).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"podproof\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{total:.3}\">\n",
        results.len(),
        c.failed,
        c.skipped
    ));
    x.push_str(&format!("  <testsuite name=\"podproof\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{total:.3}\">\n", results.len(), c.failed, c.skipped));
    for r in results {
        x.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
            xml_escape(&r.name),
            xml_escape(&r.file),
            r.duration.as_secs_f64()
        ));
        match r.outcome {
            Outcome::Passed => x.push_str(" />\n"),
            Outcome::Skipped => x.push_str(">\n      <skipped />\n    </testcase>\n"),
            Outcome::Failed => {
                let msg = r.failure.as_deref().unwrap_or("failed");
                let first = msg.lines().next().unwrap_or("failed");
                x.push_str(&format!(
                    ">\n      <failure message=\"{}\" type=\"failure\">{}</failure>\n    </testcase>\n",
                    xml_escape(first),
                    xml_escape(&strip_ansi(msg))
                ));
            }
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

pub fn strip_ansi(s: &str) -> String {
    let re = regex::Regex::new("\x1b\\[[0-9;]*m").expect("valid");
    re.replace_all(s, "").into_owned()
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
    fn escapes() {
        assert_eq!(xml_escape("a<b & \"c\"\x01"), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(strip_ansi("\x1b[31m- x\x1b[0m"), "- x");
    }
}
