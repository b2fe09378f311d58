//! The events timeline of a run, like `kubectl get events`: what the pod
//! workers and the environment did to each pod, with times relative to the
//! run's start. Failure reports print the timeline of the pods involved, the
//! JSON report carries it per test, and `podproof up -v` streams it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One event; `kind` is `Normal` or `Warning`, as in Kubernetes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    /// Milliseconds since the run started.
    pub at_ms: u128,
    pub kind: &'static str,
    pub reason: String,
    /// `pod` or `pod/container`.
    pub object: String,
    pub message: String,
}

impl Event {
    /// One line in the style of `kubectl get events` (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE).
    pub fn line(&self) -> String {
        format!(
            "{:>8} {:<7} {:<10} {} {}",
            format!("+{:.1}s", self.at_ms as f64 / 1000.0),
            self.kind,
            self.reason,
            self.object,
            self.message
        )
    }
}

pub struct Timeline {
    start: Instant,
    events: Mutex<Vec<Event>>,
    /// Print each event on stderr as it happens (`podproof up -v`).
    stream: std::sync::atomic::AtomicBool,
}

impl Timeline {
    pub fn new(start: Instant) -> Timeline {
        Timeline { start, events: Mutex::new(Vec::new()), stream: Default::default() }
    }

    pub fn stream(&self, on: bool) {
        self.stream.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn normal(&self, object: &str, reason: &str, message: impl Into<String>) {
        self.push("Normal", object, reason, message.into());
    }

    pub fn warning(&self, object: &str, reason: &str, message: impl Into<String>) {
        self.push("Warning", object, reason, message.into());
    }

    fn push(&self, kind: &'static str, object: &str, reason: &str, message: String) {
        // Probe output and hook output may quote a Secret value.
        let message = crate::redact::text(message.trim());
        let ev = Event {
            at_ms: self.start.elapsed().as_millis(),
            kind,
            reason: reason.to_string(),
            object: object.to_string(),
            message,
        };
        if self.stream.load(std::sync::atomic::Ordering::SeqCst) {
            crate::errln!("{}", ev.line());
        }
        self.events.lock().unwrap_or_else(|p| p.into_inner()).push(ev);
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The events of these pods (by podman pod name), as report lines.
    pub fn lines_of(&self, pods: &[String]) -> Vec<String> {
        self.events()
            .iter()
            .filter(|e| pods.iter().any(|p| e.object == *p || e.object.starts_with(&format!("{p}/"))))
            .map(Event::line)
            .collect()
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(events: &[(&str, &str, &str)], pods: &[&str], expect: &[&str]) {
        let t = Timeline::new(Instant::now());
        for (obj, reason, msg) in events {
            if *reason == "Unhealthy" {
                t.warning(obj, reason, *msg)
            } else {
                t.normal(obj, reason, *msg)
            }
        }
        let pods: Vec<String> = pods.iter().map(|p| p.to_string()).collect();
        let got: Vec<String> = t
            .lines_of(&pods)
            .iter()
            .map(|l| l.split_once(' ').map(|x| x.1).unwrap_or(l).trim_start().to_string())
            .collect();
        let got: Vec<String> =
            got.iter().map(|l| l.trim_start_matches(|c: char| c != ' ').trim_start().to_string()).collect();
        let expect: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn lines_filter_by_pod_and_keep_order() {
        check(
            &[
                ("web-1", "Created", "pod created"),
                ("web-1/app", "Unhealthy", "Liveness probe failed: x"),
                ("db-1", "Created", "pod created"),
            ],
            &["web-1"],
            &["Normal  Created    web-1 pod created", "Warning Unhealthy  web-1/app Liveness probe failed: x"],
        );
        check(&[("web-10/app", "Started", "s")], &["web-1"], &[]);
    }
}
