//! Probe workers: one thread per (container, probe type), as the kubelet's
//! prober manager runs one worker per probe (kubernetes/kubernetes
//! pkg/kubelet/prober/worker.go, prober_manager.go). A probe worker runs its
//! probe on its own timing (`prober::Probe`) and only publishes what came of
//! each run to its pod worker; it decides nothing about the container. So a
//! probe that hangs until its timeout delays no other probe, and no restart.
//!
//! What a probe worker reads of its container is the container's `Gate`, which
//! only the pod worker writes (as the kubelet's probe workers read the status
//! manager): whether it runs, since when, its restart generation, whether its
//! startupProbe passed, and where to reach it. A change wakes the workers.

use super::prober::{Attempt, Kind, Probe, Timing};
use super::runtime::Runtime;
use crate::probe::{self, Target};
use k8s_openapi::api::core::v1 as core;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A container as its probe workers see it.
#[derive(Debug, Clone)]
pub struct View {
    /// Goes up by one on every (re)start: results of an older generation are
    /// about a container that is gone.
    pub generation: u64,
    pub running: bool,
    pub started_at: Instant,
    /// Its startupProbe passed (or it has none).
    pub started: bool,
    pub target: Target,
    /// The probe workers end (the pod worker stops or terminates).
    pub stop: bool,
}

/// The pod worker's word to a container's probe workers.
pub struct Gate {
    view: Mutex<View>,
    changed: Condvar,
}

impl Gate {
    pub fn new(view: View) -> Gate {
        Gate { view: Mutex::new(view), changed: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the view and wakes the container's probe workers.
    pub fn update(&self, f: impl FnOnce(&mut View)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }

    pub fn view(&self) -> View {
        self.lock().clone()
    }
}

/// What one run of a probe came to, as its worker publishes it.
#[derive(Debug, Clone)]
pub struct Result {
    /// The container's index in its pod worker.
    pub container: usize,
    pub kind: Kind,
    /// The container generation the probe ran against.
    pub generation: u64,
    pub outcome: std::result::Result<(), String>,
    pub attempt: Attempt,
}

/// Starts the worker of one probe of one container; `publish` hands each
/// result worth telling (a failure, or a changed result) to the pod worker.
pub fn spawn(
    container: usize,
    kind: Kind,
    spec: core::Probe,
    gate: Arc<Gate>,
    runtime: Arc<dyn Runtime>,
    publish: impl Fn(Result) + Send + 'static,
    name: String,
) -> Option<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name)
        .spawn(move || run(container, kind, &spec, &gate, runtime.as_ref(), publish))
        .ok()
}

/// How many times one probe run is tried while it errors (the kubelet's maxProbeRetries).
const MAX_PROBE_TRIES: usize = 3;

/// While nothing is due, a probe worker looks at the signal flag this often.
const IDLE: Duration = Duration::from_millis(500);

fn run(container: usize, kind: Kind, spec: &core::Probe, gate: &Gate, runtime: &dyn Runtime, publish: impl Fn(Result)) {
    let mut probe = Probe::new(kind, Timing::of(spec), Instant::now());
    let mut generation = None;
    let mut was_started = false;
    loop {
        // Wait until the probe is due for a running container that it may
        // probe: startup until it passes, the others after it.
        let mut guard = gate.lock();
        let view = loop {
            let view = &mut *guard;
            if view.stop || crate::signals::interrupted() {
                return;
            }
            let now = Instant::now();
            if generation != Some(view.generation) {
                probe.reset(view.started_at);
                generation = Some(view.generation);
                was_started = view.started;
            }
            if kind == Kind::Readiness && view.started && !was_started {
                probe.unblock(now);
            }
            was_started = view.started;
            let blocked = !view.running || (kind == Kind::Startup) == view.started;
            if !blocked && probe.due <= now {
                break view.clone();
            }
            let wait = if blocked { IDLE } else { (probe.due - now).min(IDLE) };
            guard = gate.changed.wait_timeout(guard, wait).unwrap_or_else(|p| p.into_inner()).0;
        };
        // The probe runs without the lock: the pod worker and the container's
        // other probe workers go on meanwhile.
        drop(guard);
        let now = Instant::now();
        if !probe.counts(view.started_at, now) {
            probe.skip(now, view.started_at);
            continue;
        }
        // A prober error is tried again at once, up to three times in all, as
        // the kubelet's runProbeWithRetries does; if it stays an error, the
        // run's result is thrown away (see `probe::Outcome`).
        let mut outcome = runtime.probe(spec, &view.target);
        for _ in 1..MAX_PROBE_TRIES {
            if !matches!(outcome, probe::Outcome::Error(_)) || crate::signals::interrupted() {
                break;
            }
            outcome = runtime.probe(spec, &view.target);
        }
        let outcome = match outcome {
            probe::Outcome::Success => Ok(()),
            probe::Outcome::Failure(e) => Err(e),
            probe::Outcome::Error(e) => {
                probe.errored(now);
                let attempt = Attempt::Errored;
                publish(Result { container, kind, generation: view.generation, outcome: Err(e), attempt });
                continue;
            }
        };
        // The next run is due a period after this one started, as on the
        // kubelet's ticker, however long the probe took (or a retry inside a
        // sync-triggered window: see `prober`).
        let attempt = probe.attempt(outcome.is_ok(), now, Instant::now());
        if outcome.is_err() || matches!(attempt, Attempt::Counted(Some(_))) {
            publish(Result { container, kind, generation: view.generation, outcome, attempt });
        }
    }
}
