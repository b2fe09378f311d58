//! Probe timing and thresholds with the kubelet's semantics, ported from
//! kubernetes/kubernetes pkg/kubelet/prober/worker.go (`doProbe`) and
//! prober_manager.go: a probe runs once when its worker starts and then every
//! `periodSeconds`; nothing counts before `initialDelaySeconds` have passed
//! since the container started; a result changes only after
//! `successThreshold` successes or `failureThreshold` failures in a row;
//! readiness starts as failure, liveness and startup as success (startup is
//! unknown until it passes, and gates the other two); a failed liveness or
//! startup probe holds its result until the container restarts.

use k8s_openapi::api::core::v1 as core;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Startup,
    Readiness,
    Liveness,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Startup => "Startup",
            Kind::Readiness => "Readiness",
            Kind::Liveness => "Liveness",
        }
    }
}

/// A probe's timing, with the API server's defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

impl Timing {
    /// Defaults as the API server sets them: period 10 s, timeout 1 s, success 1, failure 3.
    pub fn of(p: &core::Probe) -> Timing {
        let secs = |v: Option<i32>, d: i32| Duration::from_secs(v.unwrap_or(d).max(0) as u64);
        Timing {
            initial_delay: secs(p.initial_delay_seconds, 0),
            period: secs(p.period_seconds, 10).max(Duration::from_secs(1)),
            timeout: secs(p.timeout_seconds, 1).max(Duration::from_secs(1)),
            success_threshold: p.success_threshold.unwrap_or(1).max(1) as u32,
            failure_threshold: p.failure_threshold.unwrap_or(3).max(1) as u32,
        }
    }
}

/// The state of one probe of one container.
#[derive(Debug, Clone)]
pub struct Probe {
    pub kind: Kind,
    pub timing: Timing,
    /// The result as the kubelet reports it (None: unknown).
    pub result: Option<bool>,
    last: Option<bool>,
    run: u32,
    /// A failed liveness or startup probe stops probing until the container restarts.
    pub on_hold: bool,
    /// When the probe is due next.
    pub due: Instant,
}

impl Probe {
    pub fn new(kind: Kind, timing: Timing, now: Instant) -> Probe {
        let result = match kind {
            Kind::Readiness => Some(false),
            Kind::Liveness => Some(true),
            Kind::Startup => None,
        };
        Probe { kind, timing, result, last: None, run: 0, on_hold: false, due: now }
    }

    /// Starts over for a new container (a restart), as a new worker would.
    pub fn reset(&mut self, now: Instant) {
        *self = Probe::new(self.kind, self.timing, now);
    }

    /// Whether a run at `now` counts: the initial delay since the container started has passed.
    pub fn counts(&self, started: Instant, now: Instant) -> bool {
        !self.on_hold && now.saturating_duration_since(started) >= self.timing.initial_delay
    }

    /// Records one run's outcome (the run started at `now`; the next is due a
    /// period later); returns the
    /// new result when it changed.
    pub fn record(&mut self, ok: bool, now: Instant) -> Option<bool> {
        self.due = now + self.timing.period;
        if self.last == Some(ok) {
            self.run += 1;
        } else {
            self.last = Some(ok);
            self.run = 1;
        }
        let threshold = if ok { self.timing.success_threshold } else { self.timing.failure_threshold };
        if self.run < threshold || self.result == Some(ok) {
            return None;
        }
        self.result = Some(ok);
        if !ok && self.kind != Kind::Readiness {
            // The container is restarted; the count starts again afterwards.
            self.run = 0;
            self.on_hold = true;
        }
        Some(ok)
    }

    /// A run skipped (initial delay, on hold): only the next due time moves.
    pub fn skip(&mut self, now: Instant) {
        self.due = now + self.timing.period;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(kind: Kind, yaml: &str) -> Probe {
        let p: core::Probe = serde_yaml::from_str(yaml).expect("a probe");
        Probe::new(kind, Timing::of(&p), Instant::now())
    }

    /// Feeds outcomes in order; expects the reported result after each.
    fn check(kind: Kind, yaml: &str, outcomes: &[bool], expect: &[Option<bool>]) {
        let mut p = probe(kind, yaml);
        let now = Instant::now();
        let got: Vec<Option<bool>> = outcomes
            .iter()
            .map(|ok| {
                p.record(*ok, now);
                p.result
            })
            .collect();
        assert_eq!(got, expect, "{kind:?} {yaml} {outcomes:?}");
    }

    #[test]
    fn thresholds() {
        let (t, f) = (true, false);
        // Readiness starts not ready; one success makes it ready; three failures unready.
        check(Kind::Readiness, "{}", &[t, f, f, f], &[Some(t), Some(t), Some(t), Some(f)]);
        check(Kind::Readiness, "{successThreshold: 2}", &[t, f, t, t], &[Some(f), Some(f), Some(f), Some(t)]);
        // Liveness starts alive, and fails after failureThreshold in a row.
        check(Kind::Liveness, "{failureThreshold: 2}", &[f, t, f, f], &[Some(t), Some(t), Some(t), Some(f)]);
        check(Kind::Startup, "{failureThreshold: 1}", &[t], &[Some(t)]);
        check(Kind::Startup, "{}", &[f, f], &[None, None]);
    }

    #[test]
    fn timing_defaults_and_initial_delay() {
        let p = probe(Kind::Readiness, "{initialDelaySeconds: 3, periodSeconds: 0}");
        assert_eq!(p.timing.period, Duration::from_secs(1));
        assert_eq!(p.timing.timeout, Duration::from_secs(1));
        let d = probe(Kind::Liveness, "{}");
        assert_eq!((d.timing.period, d.timing.failure_threshold), (Duration::from_secs(10), 3));
        let start = Instant::now();
        assert!(!p.counts(start, start + Duration::from_secs(2)));
        assert!(p.counts(start, start + Duration::from_secs(3)));
    }

    #[test]
    fn a_failed_liveness_probe_holds_until_reset() {
        let mut p = probe(Kind::Liveness, "{failureThreshold: 1}");
        let now = Instant::now();
        assert_eq!(p.record(false, now), Some(false));
        assert!(!p.counts(now, now));
        p.reset(now);
        assert_eq!((p.result, p.on_hold), (Some(true), false));
    }
}
