//! Probe timing and thresholds with the kubelet's semantics, ported from
//! kubernetes/kubernetes pkg/kubelet/prober/worker.go (`doProbe`) and
//! prober_manager.go: a probe runs once when its worker starts and then every
//! `periodSeconds`; nothing counts before `initialDelaySeconds` have passed
//! since the container started; a result changes only after
//! `successThreshold` successes or `failureThreshold` failures in a row;
//! readiness starts as failure, liveness and startup as success (startup is
//! unknown until it passes, and gates the other two); a failed liveness or
//! startup probe holds its result until the container restarts.
//!
//! The first two readiness runs of a container come from the kubelet's pod
//! status syncs, not from its ticker: `UpdatePodStatus` triggers a run of a
//! started container that is not ready yet on every sync, and the syncs
//! after a start follow PLEG's relist, once a second (the start itself, then
//! the readiness result's first value). So a cluster runs the probe at some
//! moment of the first second in which readiness may run, and again at some
//! moment of the next second, whatever `periodSeconds` says. podproof cannot
//! know those moments; in each of the two seconds it tries every `RETRY`
//! until the probe passes, and counts the second as one run (see `attempt`).
//! Probing at once and then only every period would instead fail whenever
//! the app listens a few milliseconds after its start, and cost a whole
//! period that a cluster does not spend.

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

/// How long each of the kubelet's two sync-triggered readiness runs may
/// come after the previous one: PLEG's relist period.
pub const WINDOW: Duration = Duration::from_secs(1);
/// How often podproof tries within such a window while the probe fails.
pub const RETRY: Duration = Duration::from_millis(100);

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
    /// When readiness could first run (the container's start, or its startup
    /// probe's success): the sync-triggered windows count from here.
    anchor: Instant,
    /// Which of the two windows have had their run.
    windows: [bool; 2],
}

/// What one try of a probe came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// A failure inside a window that has time left: no run is counted yet,
    /// and the probe is due again `RETRY` later.
    Retry,
    /// A run was counted; the result changed to this value, if it changed.
    Counted(Option<bool>),
    /// A prober error that stayed one after its tries: the run's result is
    /// thrown away, nothing is counted (`Probe::errored`).
    Errored,
}

impl Probe {
    pub fn new(kind: Kind, timing: Timing, now: Instant) -> Probe {
        let result = match kind {
            Kind::Readiness => Some(false),
            Kind::Liveness => Some(true),
            Kind::Startup => None,
        };
        Probe { kind, timing, result, last: None, run: 0, on_hold: false, due: now, anchor: now, windows: [false; 2] }
    }

    /// Readiness may run from `now` on (its startup probe passed): the kubelet
    /// syncs the pod on that change, and the two windows start over.
    pub fn unblock(&mut self, now: Instant) {
        self.anchor = now;
        self.windows = [false; 2];
        self.due = self.due.min(now);
    }

    /// The sync-triggered window that `now` falls in and has not had its run
    /// yet, with its end; None for liveness and startup probes (the kubelet's
    /// syncs trigger readiness only), once the container is ready, or after
    /// the two windows.
    fn window(&self, now: Instant) -> Option<(usize, Instant)> {
        if self.kind != Kind::Readiness || self.result == Some(true) {
            return None;
        }
        let k = (now.saturating_duration_since(self.anchor).as_millis() / WINDOW.as_millis()) as usize;
        let end = self.anchor + WINDOW * (k as u32 + 1);
        (k < 2 && !self.windows[k]).then_some((k, end))
    }

    /// Records one try that started at `now` and ended at `finished`. Inside
    /// a window, a failure that leaves time for another try is tried again;
    /// the window's first success, or its last failure, counts as the
    /// window's one run. Elsewhere every try is a run (`record`).
    pub fn attempt(&mut self, ok: bool, now: Instant, finished: Instant) -> Attempt {
        let Some((k, end)) = self.window(now) else { return Attempt::Counted(self.record(ok, now)) };
        if !ok && finished.max(now) + RETRY < end {
            self.due = finished.max(now + RETRY);
            return Attempt::Retry;
        }
        self.windows[k] = true;
        let changed = self.record(ok, now);
        // Not ready yet: the next window starts where this one ends (unless
        // the ticker comes first), and after the second one the ticker goes
        // on from the anchor.
        if self.result != Some(true) {
            self.due = if k == 0 { self.due.min(end) } else { end.max(self.anchor + self.timing.period) };
        }
        Attempt::Counted(changed)
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

    /// A run whose result the kubelet throws away (a prober error, not a
    /// failed check): nothing is counted, and the next run is due a period
    /// after this one started.
    pub fn errored(&mut self, now: Instant) {
        self.due = now + self.timing.period;
    }

    /// A run skipped (initial delay, on hold): only the next due time moves.
    /// A readiness probe whose initial delay ends inside a window is due
    /// when the delay ends, as a sync-triggered run would be.
    pub fn skip(&mut self, now: Instant, started: Instant) {
        self.due = now + self.timing.period;
        let delay_ends = started + self.timing.initial_delay;
        if self.window(delay_ends.max(now)).is_some() {
            self.due = self.due.min(delay_ends.max(now + RETRY));
        }
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

    /// Feeds tries (milliseconds since the anchor, outcome) to a fresh probe;
    /// expects what each came to and when the probe is due next (ms).
    fn check_tries(kind: Kind, yaml: &str, tries: &[(u64, bool)], expect: &[(Attempt, u64)]) {
        let p: core::Probe = serde_yaml::from_str(yaml).expect("a probe");
        let t0 = Instant::now();
        let mut probe = Probe::new(kind, Timing::of(&p), t0);
        let ms = |d: u64| t0 + Duration::from_millis(d);
        let got: Vec<(Attempt, u64)> = tries
            .iter()
            .map(|(at, ok)| {
                let a = probe.attempt(*ok, ms(*at), ms(*at));
                (a, probe.due.duration_since(t0).as_millis() as u64)
            })
            .collect();
        assert_eq!(got, expect, "{kind:?} {yaml} {tries:?}");
    }

    #[test]
    fn readiness_retries_inside_the_two_sync_windows() {
        use Attempt::{Counted, Retry};
        let (t, f) = (true, false);
        // The app listens 50 ms after its start: ready at the second try, not a period later.
        check_tries(Kind::Readiness, "{}", &[(0, f), (100, t)], &[(Retry, 100), (Counted(Some(t)), 10_100)]);
        // Failing through the first window counts one run, then the second window starts.
        let first: Vec<(u64, bool)> = (0..10).map(|i| (i * 100, f)).collect();
        let mut expect: Vec<(Attempt, u64)> = (1..10).map(|i| (Retry, i * 100)).collect();
        expect.push((Counted(None), 1000));
        check_tries(Kind::Readiness, "{}", &first, &expect);
        // After both windows, the ticker goes on from the anchor; a later success is a plain run.
        let mut both: Vec<(u64, bool)> = (0..20).map(|i| (i * 100, f)).collect();
        both.push((10_000, t));
        let mut expect: Vec<(Attempt, u64)> = (1..10).map(|i| (Retry, i * 100)).collect();
        expect.push((Counted(None), 1000));
        expect.extend((11..20).map(|i| (Retry, i * 100)));
        expect.push((Counted(None), 10_000));
        expect.push((Counted(Some(t)), 20_000));
        check_tries(Kind::Readiness, "{}", &both, &expect);
        // successThreshold 2: the first window's success is one run, the second window's the other.
        check_tries(
            Kind::Readiness,
            "{successThreshold: 2}",
            &[(0, t), (1000, t)],
            &[(Counted(None), 1000), (Counted(Some(t)), 11_000)],
        );
        // With a period of 1 s, the ticker comes no later than the windows.
        check_tries(
            Kind::Readiness,
            "{periodSeconds: 1}",
            &[(0, f), (100, t)],
            &[(Retry, 100), (Counted(Some(t)), 1100)],
        );
        // Liveness and startup probes run on the ticker only.
        check_tries(Kind::Liveness, "{}", &[(0, f)], &[(Counted(None), 10_000)]);
        check_tries(Kind::Startup, "{}", &[(0, f)], &[(Counted(None), 10_000)]);
    }

    #[test]
    fn an_initial_delay_inside_a_window_is_waited_for_not_a_period() {
        let t0 = Instant::now();
        let p: core::Probe = serde_yaml::from_str("{initialDelaySeconds: 1}").unwrap();
        let mut r = Probe::new(Kind::Readiness, Timing::of(&p), t0);
        r.skip(t0, t0);
        assert_eq!(r.due, t0 + Duration::from_secs(1));
        // A delay past the windows waits for the ticker.
        let p: core::Probe = serde_yaml::from_str("{initialDelaySeconds: 5}").unwrap();
        let mut r = Probe::new(Kind::Readiness, Timing::of(&p), t0);
        r.skip(t0, t0);
        assert_eq!(r.due, t0 + Duration::from_secs(10));
        // A passed startup probe opens the windows again.
        let mut r = Probe::new(Kind::Readiness, Timing::of(&core::Probe::default()), t0);
        let later = t0 + Duration::from_secs(30);
        r.unblock(later);
        assert_eq!(r.attempt(false, later, later), Attempt::Retry);
        // A try that took the rest of the window (a hung probe's timeout) is the window's run.
        let mut r = Probe::new(Kind::Readiness, Timing::of(&core::Probe::default()), t0);
        assert_eq!(r.attempt(false, t0, t0 + Duration::from_millis(950)), Attempt::Counted(None));
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
