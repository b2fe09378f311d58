//! CrashLoopBackOff, as the kubelet computes it (kuberuntime's `doBackOff`
//! over client-go's `flowcontrol.Backoff`, keyed per container): the first
//! restart is immediate; while a container keeps exiting, each restart waits
//! the current delay after the previous restart, and the delay doubles up to
//! the maximum (10 s to 5 min in Kubernetes). A container that stayed up for
//! twice the maximum starts over at the initial delay.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_secs(10), max: Duration::from_secs(300) }
    }
}

impl Backoff {
    /// Whether this differs from Kubernetes' own 10 s / 5 min (reports say so).
    pub fn scaled(&self) -> bool {
        *self != Backoff::default()
    }
}

/// The backoff state of one container.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The delay the next restart in a row waits, and when the last restart was.
    state: Option<(Duration, Instant)>,
}

impl Entry {
    /// When the container that exited at `now` may start again; records that restart.
    pub fn next_start(&mut self, b: &Backoff, now: Instant) -> Instant {
        match self.state {
            Some((delay, last)) if now.saturating_duration_since(last) <= 2 * b.max => {
                let at = (last + delay).max(now);
                self.state = Some(((delay * 2).min(b.max), at));
                at
            }
            // First exit, or up long enough that the count starts over: restart now.
            _ => {
                self.state = Some((b.initial, now));
                now
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exits at these offsets (seconds since t0) give restarts at the expected offsets.
    fn check(exits: &[u64], expect: &[u64]) {
        let b = Backoff::default();
        let t0 = Instant::now();
        let mut e = Entry::default();
        let got: Vec<u64> =
            exits.iter().map(|s| (e.next_start(&b, t0 + Duration::from_secs(*s)) - t0).as_secs()).collect();
        assert_eq!(got, expect, "exits at {exits:?}");
    }

    #[test]
    fn doubles_from_10s_to_5min_and_resets() {
        // Crashing at once after every start: 0, +10, +20, +40, ... capped at 300.
        check(&[0, 1, 11, 31, 71, 151, 311, 611], &[0, 10, 30, 70, 150, 310, 610, 910]);
        // Exits later than the delay restart at once, but the delay still grows.
        check(&[0, 60, 100], &[0, 60, 100]);
        // Up for more than twice the maximum: starts over.
        check(&[0, 1, 1000, 1001], &[0, 10, 1000, 1010]);
    }
}
