//! One pod worker: a thread per pod that has probes, running for as long as
//! the pod does (after kubernetes/kubernetes pkg/kubelet/pod_workers.go and
//! prober/worker.go). It runs the startup, readiness and liveness probes on
//! their own schedules, keeps each container's Ready condition in the status
//! cache, restarts a container in place when its liveness or startup probe
//! fails, and applies the pod's restartPolicy to exits with CrashLoopBackOff.
//! It learns of exits from podman's event stream (see `Kubelet`), so a pod
//! whose containers keep running costs no podman call between probes.

use super::backoff::{Backoff, Entry};
use super::prober::{Attempt, Kind, Probe, Timing};
use super::status::{ContainerStatus, StatusCache};
use super::timeline::Timeline;
use crate::podman::{self, ContainerState, Event};
use crate::probe;
use k8s_openapi::api::core::v1 as core;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a pod's restartPolicy says about a container that exited with `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Always,
    OnFailure,
    Never,
}

impl Policy {
    pub fn parse(s: Option<&str>) -> Policy {
        match s {
            Some("OnFailure") => Policy::OnFailure,
            Some("Never") => Policy::Never,
            _ => Policy::Always,
        }
    }

    pub fn restarts(self, code: i32) -> bool {
        match self {
            Policy::Always => true,
            Policy::OnFailure => code != 0,
            Policy::Never => false,
        }
    }
}

/// A container as the worker needs it.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// The name in the pod spec.
    pub name: String,
    /// podman's name for it.
    pub podman: String,
    pub probes: Vec<(Kind, core::Probe)>,
    pub post_start: Option<core::LifecycleHandler>,
    pub pre_stop: Option<core::LifecycleHandler>,
    pub ports: Vec<core::ContainerPort>,
}

/// A pod as the worker needs it.
#[derive(Debug, Clone)]
pub struct PodSpec {
    pub pod: String,
    pub containers: Vec<ContainerSpec>,
    /// Native sidecars: restarted whenever they exit.
    pub sidecars: Vec<ContainerSpec>,
    pub policy: Policy,
    /// Whether podproof restarts exited containers (the pod was played with
    /// podman's restart policy off), or podman does (and the worker only watches).
    pub owns_restarts: bool,
    /// terminationGracePeriodSeconds, bounded by the run's grace setting.
    pub grace: Duration,
    /// The run's grace setting, which also bounds a probe's own
    /// terminationGracePeriodSeconds.
    pub grace_cap: Duration,
    pub host_network: bool,
}

impl PodSpec {
    /// The containers of a pod spec that have probes; None when no container has one
    /// (such a pod needs no worker, and costs no podman call).
    pub fn needs_worker(spec: &core::PodSpec) -> bool {
        spec.containers
            .iter()
            .any(|c| c.startup_probe.is_some() || c.readiness_probe.is_some() || c.liveness_probe.is_some())
    }

    pub fn container_specs(spec: &core::PodSpec, podman_name: impl Fn(&str) -> String) -> Vec<ContainerSpec> {
        spec.containers
            .iter()
            .map(|c| {
                let probes = [
                    (Kind::Startup, &c.startup_probe),
                    (Kind::Liveness, &c.liveness_probe),
                    (Kind::Readiness, &c.readiness_probe),
                ]
                .into_iter()
                .filter_map(|(k, p)| Some((k, p.clone()?)))
                .collect();
                ContainerSpec {
                    name: c.name.clone(),
                    podman: podman_name(&c.name),
                    probes,
                    post_start: c.lifecycle.as_ref().and_then(|l| l.post_start.clone()),
                    pre_stop: c.lifecycle.as_ref().and_then(|l| l.pre_stop.clone()),
                    ports: c.ports.clone().unwrap_or_default(),
                }
            })
            .collect()
    }
}

/// How many times one probe run is tried while it errors (the kubelet's maxProbeRetries).
const MAX_PROBE_TRIES: usize = 3;

pub enum Msg {
    Event(Event),
    /// Containers that podproof started outside the worker (a native sidecar
    /// in its place among the init containers, then the main containers),
    /// with their states from the inspection that saw them start.
    Started(Vec<ContainerState>),
    Stop,
}

/// A running worker; `stop` ends it and waits for it.
pub struct Handle {
    pub tx: Sender<Msg>,
    /// Set by `stop` before its message: the worker looks at it between
    /// probes, so a stop waits for one probe at most, not for the events
    /// queued before the message (each exec probe makes two).
    stopping: Arc<AtomicBool>,
    join: Option<std::thread::JoinHandle<()>>,
}

impl Handle {
    pub fn stop(mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.tx.send(Msg::Stop);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.tx.send(Msg::Stop);
    }
}

/// What is shared by a run's workers.
#[derive(Clone)]
pub struct Shared {
    pub timeline: Arc<Timeline>,
    pub status: Arc<StatusCache>,
    pub backoff: Backoff,
}

struct Container {
    spec: ContainerSpec,
    probes: Vec<Probe>,
    started_at: Instant,
    /// Started once: a container of a pod still initializing is not created
    /// yet, and has neither probes nor restarts until `Msg::Started` names it.
    created: bool,
    /// A `died` event came before `Msg::Started`: its start must be checked.
    died_early: bool,
    running: bool,
    restart_at: Option<Instant>,
    backoff: Entry,
    /// A native sidecar: restarted on every exit.
    sidecar: bool,
    status: ContainerStatus,
}

struct Worker {
    pod: PodSpec,
    shared: Shared,
    containers: Vec<Container>,
    /// A process in the pod's network namespace, and the pod IP (probe targets).
    netns_pid: i64,
    ip: String,
    stopping: Arc<AtomicBool>,
    /// Every main container exited for good and the sidecars were stopped.
    finished: bool,
}

/// Starts the worker of a pod, given the states of the containers started so
/// far (and whose postStart hooks ran) from the inspection that saw them
/// start. A pod with native sidecars gets its worker when its first sidecar
/// starts, as the kubelet's worker exists from the pod's creation: the other
/// containers wait as `PodInitializing` until `Msg::Started` names them.
pub fn spawn(pod: PodSpec, states: &[ContainerState], shared: Shared) -> Handle {
    let (tx, rx) = std::sync::mpsc::channel();
    let now = Instant::now();
    let containers = pod
        .containers
        .iter()
        .map(|c| (c, false))
        .chain(pod.sidecars.iter().map(|c| (c, true)))
        .map(|(c, sidecar)| {
            let probes: Vec<Probe> = c.probes.iter().map(|(k, p)| Probe::new(*k, Timing::of(p), now)).collect();
            Container {
                spec: c.clone(),
                probes,
                started_at: now,
                created: false,
                died_early: false,
                running: false,
                restart_at: None,
                backoff: Entry::default(),
                sidecar,
                status: ContainerStatus { waiting: Some("PodInitializing".into()), ..Default::default() },
            }
        })
        .collect();
    let stopping = Arc::new(AtomicBool::new(false));
    let mut w = Worker {
        pod,
        shared,
        containers,
        netns_pid: 0,
        ip: String::new(),
        stopping: stopping.clone(),
        finished: false,
    };
    w.created(states);
    for i in 0..w.containers.len() {
        if !w.containers[i].created {
            w.publish(i);
        }
    }
    let join = std::thread::Builder::new().name(format!("worker {}", w.pod.pod)).spawn(move || w.run(rx)).ok();
    Handle { tx, stopping, join }
}

impl Worker {
    fn object(&self, c: usize) -> String {
        format!("{}/{}", self.pod.pod, self.containers[c].spec.name)
    }

    /// Takes the pod's network namespace and IP from container states.
    fn learn(&mut self, states: &[ContainerState]) {
        if let Some(s) = states.iter().find(|s| s.running && s.pid > 0) {
            self.netns_pid = if self.pod.host_network { 0 } else { s.pid };
            self.ip = if self.pod.host_network { String::new() } else { s.ip.clone() };
        }
    }

    fn target(&self, c: usize) -> probe::Target {
        probe::Target {
            container: self.containers[c].spec.podman.clone(),
            netns_pid: self.netns_pid,
            ip: self.ip.clone(),
            ports: self.containers[c].spec.ports.clone(),
        }
    }

    /// Takes the containers of `states` that were not created yet as
    /// started now (podproof started them and ran their postStart hooks): their
    /// probes start, and one that exited already goes to the restartPolicy.
    fn created(&mut self, states: &[ContainerState]) {
        let now = Instant::now();
        self.learn(states);
        for i in 0..self.containers.len() {
            let c = &mut self.containers[i];
            let Some(st) = states.iter().find(|s| s.name == c.spec.podman) else { continue };
            if c.created {
                continue;
            }
            c.created = true;
            c.running = true;
            c.started_at = now;
            for p in &mut c.probes {
                p.reset(now);
            }
            let started = !c.probes.iter().any(|p| p.kind == Kind::Startup);
            let ready = started && !c.probes.iter().any(|p| p.kind == Kind::Readiness);
            c.status = ContainerStatus { running: true, started, ready, ..Default::default() };
            // A died event may have come before this message; the state may
            // also be from before the exit: ask again.
            let mut st = st.clone();
            if std::mem::take(&mut c.died_early) && st.running {
                let name = c.spec.podman.clone();
                if let Some(now) =
                    podman::inspect_containers(std::slice::from_ref(&name)).ok().and_then(|s| s.first().cloned())
                {
                    st = now;
                }
            }
            if st.running {
                self.publish(i);
            } else {
                self.exited(i, st.exit_code, "exited");
            }
        }
    }

    fn publish(&self, c: usize) {
        self.shared.status.set(&self.pod.pod, &self.containers[c].spec.name, self.containers[c].status.clone());
    }

    fn done(&self) -> bool {
        crate::signals::interrupted() || self.stopping.load(Ordering::SeqCst)
    }

    fn run(mut self, rx: Receiver<Msg>) {
        loop {
            if self.done() {
                return;
            }
            let now = Instant::now();
            let next = self.next_due().unwrap_or(now + Duration::from_secs(1));
            // The wait is on the channel: an event or a stop wakes the worker at once.
            match rx.recv_timeout(next.saturating_duration_since(now).min(Duration::from_millis(500))) {
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Msg::Event(ev)) => self.on_event(&ev),
                Ok(Msg::Started(states)) => self.created(&states),
                Err(RecvTimeoutError::Timeout) => {}
            }
            // Every event that came meanwhile is taken before the next tick:
            // one tick per event would run a due probe per event, and an exec
            // probe's own events would keep the queue full.
            loop {
                match rx.try_recv() {
                    Ok(Msg::Event(ev)) => self.on_event(&ev),
                    Ok(Msg::Started(states)) => self.created(&states),
                    Ok(Msg::Stop) | Err(TryRecvError::Disconnected) => return,
                    Err(TryRecvError::Empty) => break,
                }
            }
            self.tick();
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.containers
            .iter()
            .flat_map(|c| {
                let probes = c.probes.iter().filter(|_| c.running).map(|p| p.due);
                probes.chain(c.restart_at)
            })
            .min()
    }

    fn on_event(&mut self, ev: &Event) {
        let Some(i) = self.containers.iter().position(|c| c.spec.podman == ev.name) else { return };
        if !self.containers[i].created {
            // Not started as far as the worker knows: its start is checked when it is.
            if ev.status == "died" {
                self.containers[i].died_early = true;
            }
            return;
        }
        match ev.status.as_str() {
            "died" if self.containers[i].running => {
                // A died event may be late (the container was restarted since): ask.
                let states = podman::inspect_containers(std::slice::from_ref(&self.containers[i].spec.podman));
                let Ok(states) = states else { return };
                match states.first() {
                    Some(s) if s.running => {}
                    Some(s) => self.exited(i, s.exit_code, "exited"),
                    None => self.exited(i, ev.exit_code.unwrap_or(-1), "is gone"),
                }
            }
            // podman restarted it (its restart policy is on for this pod).
            "start" if !self.containers[i].running && !self.pod.owns_restarts => {
                self.started(i);
            }
            _ => {}
        }
    }

    /// A container exited: its restartPolicy decides, with backoff.
    fn exited(&mut self, i: usize, code: i32, how: &str) {
        let now = Instant::now();
        let obj = self.object(i);
        let c = &mut self.containers[i];
        c.running = false;
        c.status.running = false;
        c.status.ready = false;
        c.status.exit_code = Some(code);
        self.shared.timeline.normal(&obj, "Exited", format!("Container {} {how} with code {code}", c.spec.name));
        // A sidecar stopped because the pod's main containers finished stays down.
        if (!c.sidecar && !self.pod.policy.restarts(code)) || (c.sidecar && self.finished) {
            c.status.terminated = true;
            c.restart_at = None;
            self.publish(i);
            self.finish_if_done();
            return;
        }
        if !self.pod.owns_restarts && !c.sidecar {
            // podman's own restart policy brings it back; the start event follows.
            self.publish(i);
            return;
        }
        let at = c.backoff.next_start(&self.shared.backoff, now);
        if at > now {
            let secs = (at - now).as_secs_f64();
            c.status.waiting = Some("CrashLoopBackOff".into());
            self.shared.timeline.warning(
                &obj,
                "BackOff",
                format!("Back-off {secs:.1}s restarting failed container {}", c.spec.name),
            );
        }
        c.restart_at = Some(at);
        self.publish(i);
    }

    /// When every main container has exited for good (a Job's pod: restartPolicy
    /// Never, or OnFailure after a success), the kubelet kills the pod and does
    /// not restart its sidecars (kubernetes/kubernetes `computePodActions`:
    /// nothing to keep and nothing to start). The sidecars are stopped here
    /// in reverse order, each with its preStop hook and the grace period.
    fn finish_if_done(&mut self) {
        let mains_done = self.containers.iter().filter(|c| !c.sidecar).all(|c| c.created && c.status.terminated);
        if self.finished || !mains_done {
            return;
        }
        self.finished = true;
        for i in (0..self.containers.len()).rev() {
            if !self.containers[i].sidecar {
                continue;
            }
            let obj = self.object(i);
            let name = self.containers[i].spec.name.clone();
            if self.containers[i].running {
                let why = format!("Stopping container {name}: the pod's main containers have finished");
                self.shared.timeline.normal(&obj, "Killing", why);
                self.kill(i, self.pod.grace);
            } else {
                // Waiting in back-off, or not started: it will not start now.
                let c = &mut self.containers[i];
                c.restart_at = None;
                c.status.waiting = None;
                c.status.terminated = true;
                self.publish(i);
            }
        }
    }

    /// A container (re)started: new probes, new target, postStart.
    fn started(&mut self, i: usize) {
        let now = Instant::now();
        let c = &mut self.containers[i];
        c.running = true;
        c.started_at = now;
        c.restart_at = None;
        for p in &mut c.probes {
            p.reset(now);
        }
        c.status.running = true;
        c.status.waiting = None;
        c.status.started = !c.probes.iter().any(|p| p.kind == Kind::Startup);
        c.status.ready = c.status.started && !c.probes.iter().any(|p| p.kind == Kind::Readiness);
        c.status.restarts += 1;
        let names: Vec<String> = self.containers.iter().map(|c| c.spec.podman.clone()).collect();
        if let Ok(states) = podman::inspect_containers(&names) {
            self.learn(&states);
        }
        let obj = self.object(i);
        let c = &self.containers[i];
        self.shared.timeline.normal(
            &obj,
            "Started",
            format!("Started container {} (restart {})", c.spec.name, c.status.restarts),
        );
        if let Some(h) = self.containers[i].spec.post_start.clone() {
            let t = self.target(i);
            if let Err(e) = probe::handler(&h, &t, Duration::from_secs(30)) {
                self.shared.timeline.warning(&obj, "FailedPostStartHook", e);
                self.kill(i, self.pod.grace);
                return;
            }
        }
        self.publish(i);
    }

    fn tick(&mut self) {
        for i in 0..self.containers.len() {
            if self.done() {
                return;
            }
            let now = Instant::now();
            if let Some(at) = self.containers[i].restart_at {
                if at <= now {
                    self.restart(i);
                }
            }
            if !self.containers[i].running {
                continue;
            }
            for p in 0..self.containers[i].probes.len() {
                if self.done() {
                    return;
                }
                self.maybe_probe(i, p);
                if !self.containers[i].running {
                    break;
                }
            }
        }
    }

    fn restart(&mut self, i: usize) {
        let name = self.containers[i].spec.podman.clone();
        match podman::container_start_until(&name, Duration::from_secs(30)) {
            Ok(()) => self.started(i),
            Err(e) => {
                let obj = self.object(i);
                self.shared.timeline.warning(&obj, "Failed", format!("Error starting container: {}", e.stderr.trim()));
                // Try again after the next backoff.
                let now = Instant::now();
                let c = &mut self.containers[i];
                c.restart_at = Some(c.backoff.next_start(&self.shared.backoff, now));
            }
        }
    }

    fn maybe_probe(&mut self, i: usize, p: usize) {
        let now = Instant::now();
        let c = &self.containers[i];
        let probe = &c.probes[p];
        // startupProbe gates the others; once it passed, it is not run again.
        let gated = probe.kind != Kind::Startup && !c.status.started;
        let done = probe.kind == Kind::Startup && c.status.started;
        if probe.due > now || gated || done {
            return;
        }
        if !probe.counts(c.started_at, now) {
            let started = c.started_at;
            self.containers[i].probes[p].skip(now, started);
            return;
        }
        let (kind, spec) = (probe.kind, c.spec.probes[p].1.clone());
        let t = self.target(i);
        // A prober error is tried again at once, up to three times in all, as
        // the kubelet's runProbeWithRetries does; if it stays an error, the
        // run's result is thrown away (see `probe::Outcome`).
        let mut outcome = probe::probe_once(&spec, &t);
        for _ in 1..MAX_PROBE_TRIES {
            if !matches!(outcome, probe::Outcome::Error(_)) || self.stopping.load(Ordering::SeqCst) {
                break;
            }
            outcome = probe::probe_once(&spec, &t);
        }
        let obj = self.object(i);
        let outcome = match outcome {
            probe::Outcome::Success => Ok(()),
            probe::Outcome::Failure(e) => Err(e),
            probe::Outcome::Error(e) => {
                self.shared.timeline.warning(&obj, "Unhealthy", format!("{} probe errored: {e}", kind.name()));
                self.containers[i].probes[p].errored(now);
                return;
            }
        };
        // The next run is due a period after this one started, as on the
        // kubelet's ticker, however long the probe took (or a retry inside a
        // sync-triggered window: see `prober`).
        let attempt = self.containers[i].probes[p].attempt(outcome.is_ok(), now, Instant::now());
        if let Err(e) = &outcome {
            let why = format!("{} probe failed: {e}", kind.name());
            // A retry inside a window is not a run of the kubelet's: no event.
            if attempt != Attempt::Retry {
                self.shared.timeline.warning(&obj, "Unhealthy", why.clone());
            }
            self.containers[i].status.last_failure = Some(why);
            self.publish(i);
        }
        let Attempt::Counted(changed) = attempt else { return };
        let c = &mut self.containers[i];
        match (kind, changed) {
            (Kind::Startup, Some(true)) => {
                c.status.started = true;
                for r in c.probes.iter_mut().filter(|p| p.kind == Kind::Readiness) {
                    r.unblock(now);
                }
                c.status.ready = !c.probes.iter().any(|p| p.kind == Kind::Readiness);
                if c.status.ready {
                    self.shared.timeline.normal(&obj, "Ready", "Container is ready");
                }
                self.publish(i);
            }
            (Kind::Readiness, Some(ready)) => {
                c.status.ready = ready;
                if ready {
                    self.shared.timeline.normal(&obj, "Ready", "Container is ready");
                } else {
                    self.shared.timeline.warning(&obj, "NotReady", "Container is not ready");
                }
                self.publish(i);
            }
            (Kind::Liveness | Kind::Startup, Some(false)) => {
                let why =
                    format!("Container {} failed {} probe, will be restarted", c.spec.name, kind.name().to_lowercase());
                self.shared.timeline.normal(&obj, "Killing", why);
                // A probe's own terminationGracePeriodSeconds replaces the
                // pod's for this kill (bounded by the run's cap like it).
                let grace = spec
                    .termination_grace_period_seconds
                    .map(|s| self.pod.grace_cap.min(Duration::from_secs(s.max(0) as u64)))
                    .unwrap_or(self.pod.grace);
                self.kill(i, grace);
            }
            _ => {}
        }
    }

    /// Stops a container in place (preStop, then SIGTERM, SIGKILL after the
    /// grace period) and hands the exit to the restart policy.
    fn kill(&mut self, i: usize, grace: Duration) {
        let start = Instant::now();
        if let Some(h) = self.containers[i].spec.pre_stop.clone() {
            let t = self.target(i);
            if let Err(e) = probe::handler(&h, &t, grace) {
                let obj = self.object(i);
                self.shared.timeline.warning(&obj, "FailedPreStopHook", e);
            }
        }
        // podman takes whole seconds: what is left of the grace period, rounded up.
        let left = Duration::from_secs(grace.saturating_sub(start.elapsed()).as_secs_f64().ceil() as u64);
        let name = self.containers[i].spec.podman.clone();
        let _ = podman::container_stop(&name, left);
        let code = podman::inspect_containers(std::slice::from_ref(&name))
            .ok()
            .and_then(|s| s.first().map(|s| s.exit_code))
            .unwrap_or(137);
        self.exited(i, code, "was killed");
    }
}
