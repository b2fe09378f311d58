//! One pod worker: a thread per pod that has probes or native sidecars, for
//! as long as the pod runs (after kubernetes/kubernetes
//! pkg/kubelet/pod_workers.go). It is the one party that acts on its pod:
//! it restarts a container in place when its liveness or startup probe
//! fails, applies the pod's restartPolicy to exits with CrashLoopBackOff,
//! runs postStart hooks on restarts, stops a finished Job's sidecars, and
//! terminates the pod (`Msg::Terminate`: preStop hooks, then the stops).
//! It keeps each container's status (Ready included) in the status cache.
//!
//! Its probe workers (`probes`, one per container and probe type) run the
//! probes and only publish results; the pod worker decides. Actions that
//! take long (a restart's start and postStart hook, a kill with its preStop
//! hook and grace period) run beside it, so that it keeps hearing events and
//! commands: a termination during a restart does not wait for the restart.
//! It reaches podman only through `Runtime`, so its decisions are unit-tested
//! against a fake one (below). It learns of exits from podman's event stream
//! (see `Kubelet`), so a pod whose containers keep running costs no podman
//! call between probes.

use super::backoff::{Backoff, Entry};
use super::prober::{Attempt, Kind};
use super::probes;
use super::runtime::Runtime;
use super::status::{ContainerStatus, StatusCache};
use super::stop::Termination;
use super::timeline::Timeline;
use crate::podman::{ContainerState, Event};
use crate::probe;
use k8s_openapi::api::core::v1 as core;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
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

/// What reaches a pod worker: its commands (from the environment, through
/// `Kubelet`) and what it hears (podman's events, its probe workers' results,
/// its own actions' outcomes).
pub enum Msg {
    Event(Event),
    /// Containers that podproof started outside the worker (a native sidecar
    /// in its place among the init containers, then the main containers),
    /// with their states from the inspection that saw them start.
    Started(Vec<ContainerState>),
    Probe(probes::Result),
    /// An action on a container of the given generation ended.
    Done(usize, u64, Done),
    /// Terminate the pod (preStop hooks, then stops) and say how it went.
    Terminate(Termination, Sender<Terminated>),
    Stop,
}

/// How a termination went: the pod stop's result, and the lines to log
/// (preStop hooks that failed).
pub type Terminated = (Result<(), String>, Vec<String>);

/// How an action that ran beside the pod worker ended.
pub enum Done {
    /// `podman start` of a restart, and the states inspected after it.
    Start(Result<Vec<ContainerState>, String>),
    PostStart(Result<(), String>),
    /// A kill (preStop, then the stop) and the exit code it left.
    Killed(i32),
}

/// The pod worker's state, as the kubelet's pod workers have it
/// (`SyncPod`, `TerminatingPod`, `TerminatedPod` in pod_workers.go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Keeping the pod: probes, restarts, hooks.
    Syncing,
    /// Stopping it: nothing is started or restarted any more.
    Terminating,
    /// Stopped; the worker ends.
    Terminated,
}

/// A running worker; `stop` ends it and waits for it.
pub struct Handle {
    pub tx: Sender<Msg>,
    /// Set by `stop` and `terminate` before their message, so that the
    /// worker stops taking events queued before it.
    stopping: Arc<AtomicBool>,
    join: Option<std::thread::JoinHandle<()>>,
}

impl Handle {
    /// Ends the worker without stopping its pod (its pod is gone, or is
    /// replaced by a new worker's).
    pub fn stop(mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.tx.send(Msg::Stop);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }

    /// Terminates the pod through its worker, which then ends; `None` when
    /// the worker was gone (ended by a signal) and did not terminate it.
    pub fn terminate(mut self, t: Termination) -> Option<Terminated> {
        self.stopping.store(true, Ordering::SeqCst);
        let (reply, answer) = std::sync::mpsc::channel();
        self.tx.send(Msg::Terminate(t, reply)).ok()?;
        let got = answer.recv().ok();
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
        got
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
    pub runtime: Arc<dyn Runtime>,
}

struct Container {
    spec: ContainerSpec,
    /// What its probe workers read.
    gate: Arc<probes::Gate>,
    generation: u64,
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
    /// An action on it runs (a start, its postStart hook, a kill): what the
    /// pod worker hears of it meanwhile waits for the action's end, as the
    /// kubelet's next sync waits for the one in progress.
    busy: bool,
    /// Probe results that came while it was busy, in order.
    deferred: Vec<probes::Result>,
    /// A `died` event came while it was busy starting: its state is read again after.
    died_while_busy: bool,
}

struct Worker {
    pod: PodSpec,
    shared: Shared,
    containers: Vec<Container>,
    /// A process in the pod's network namespace, and the pod IP (probe targets).
    netns_pid: i64,
    ip: String,
    tx: Sender<Msg>,
    stopping: Arc<AtomicBool>,
    state: State,
    /// Every main container exited for good: the sidecars are being stopped
    /// (those left are in `finishing`, last first) and none restarts.
    finished: bool,
    finishing: Vec<usize>,
    probe_workers: Vec<std::thread::JoinHandle<()>>,
}

/// Starts the worker of a pod, given the states of the containers started so
/// far (and whose postStart hooks ran) from the inspection that saw them
/// start. A pod with native sidecars gets its worker when its first sidecar
/// starts, as the kubelet's worker exists from the pod's creation: the other
/// containers wait as `PodInitializing` until `Msg::Started` names them.
/// Each probe of each container gets its probe worker at once; it waits
/// until its container runs.
pub fn spawn(pod: PodSpec, states: &[ContainerState], shared: Shared) -> Handle {
    let (tx, rx) = std::sync::mpsc::channel();
    let now = Instant::now();
    let containers: Vec<Container> = pod
        .containers
        .iter()
        .map(|c| (c, false))
        .chain(pod.sidecars.iter().map(|c| (c, true)))
        .map(|(c, sidecar)| Container {
            spec: c.clone(),
            gate: Arc::new(probes::Gate::new(probes::View {
                generation: 0,
                running: false,
                started_at: now,
                started: false,
                target: probe::Target {
                    container: c.podman.clone(),
                    netns_pid: 0,
                    ip: String::new(),
                    ports: c.ports.clone(),
                },
                stop: false,
            })),
            generation: 0,
            started_at: now,
            created: false,
            died_early: false,
            running: false,
            restart_at: None,
            backoff: Entry::default(),
            sidecar,
            status: ContainerStatus { waiting: Some("PodInitializing".into()), ..Default::default() },
            busy: false,
            deferred: Vec::new(),
            died_while_busy: false,
        })
        .collect();
    let mut probe_workers = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        for (kind, p) in &c.spec.probes {
            let tx = tx.clone();
            let name = format!("probe {}/{} {}", pod.pod, c.spec.name, kind.name().to_lowercase());
            let publish = move |r| {
                let _ = tx.send(Msg::Probe(r));
            };
            let runtime = shared.runtime.clone();
            probe_workers.extend(probes::spawn(i, *kind, p.clone(), c.gate.clone(), runtime, publish, name));
        }
    }
    let stopping = Arc::new(AtomicBool::new(false));
    let mut w = Worker {
        pod,
        shared,
        containers,
        netns_pid: 0,
        ip: String::new(),
        tx: tx.clone(),
        stopping: stopping.clone(),
        state: State::Syncing,
        finished: false,
        finishing: Vec::new(),
        probe_workers,
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

    fn runtime(&self) -> Arc<dyn Runtime> {
        self.shared.runtime.clone()
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

    /// Tells a container's probe workers what they need to know of it now.
    fn gate(&self, i: usize) {
        let c = &self.containers[i];
        let target = self.target(i);
        let (generation, running, started_at, started) = (c.generation, c.running, c.started_at, c.status.started);
        c.gate.update(|v| {
            v.generation = generation;
            v.running = running;
            v.started_at = started_at;
            v.started = started;
            v.target = target;
        });
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
            c.generation += 1;
            let started = !c.spec.probes.iter().any(|(k, _)| *k == Kind::Startup);
            let ready = started && !c.spec.probes.iter().any(|(k, _)| *k == Kind::Readiness);
            c.status = ContainerStatus { running: true, started, ready, ..Default::default() };
            // A died event may have come before this message; the state may
            // also be from before the exit: ask again.
            let mut st = st.clone();
            if std::mem::take(&mut c.died_early) && st.running {
                let name = c.spec.podman.clone();
                if let Some(now) =
                    self.shared.runtime.inspect(std::slice::from_ref(&name)).ok().and_then(|s| s.first().cloned())
                {
                    st = now;
                }
            }
            if st.running {
                self.gate(i);
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
                self.finish(&rx);
                break;
            }
            let now = Instant::now();
            let next = self.next_due().unwrap_or(now + Duration::from_secs(1));
            // The wait is on the channel: an event, a result or a command
            // wakes the worker at once.
            match rx.recv_timeout(next.saturating_duration_since(now).min(Duration::from_millis(500))) {
                Ok(msg) => {
                    if !self.handle(msg) {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.restart_due();
        }
        self.stop_probe_workers();
    }

    /// A stop or a termination was asked for (its flag is set before its
    /// command is sent): what was queued before the command is about a pod
    /// that is going, and only the command is taken. On a signal the worker
    /// just ends; the teardown then terminates the pod itself.
    fn finish(&mut self, rx: &Receiver<Msg>) {
        if !self.stopping.load(Ordering::SeqCst) {
            return;
        }
        while let Ok(msg) = rx.recv_timeout(Duration::from_secs(1)) {
            match msg {
                Msg::Terminate(t, reply) => return self.terminate(t, reply),
                Msg::Stop => return,
                _ => {}
            }
        }
    }

    /// Takes one message; false when the worker ends.
    fn handle(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Stop => return false,
            Msg::Terminate(t, reply) => {
                self.terminate(t, reply);
                return false;
            }
            Msg::Event(ev) => self.on_event(&ev),
            Msg::Started(states) => self.created(&states),
            Msg::Probe(r) => self.on_probe(r),
            Msg::Done(i, generation, done) => self.on_done(i, generation, done),
        }
        true
    }

    fn stop_probe_workers(&mut self) {
        for c in &self.containers {
            c.gate.update(|v| v.stop = true);
        }
        for j in self.probe_workers.drain(..) {
            let _ = j.join();
        }
    }

    /// The pod's termination, owned by its worker: nothing starts or
    /// restarts from here on; an action in flight (a restart's start or
    /// postStart hook, a kill) is not waited for, so the termination ends
    /// within its grace period, as the kubelet's kill cancels a sync in
    /// progress. The probe workers end after it (a probe in flight fails
    /// fast once its container stopped).
    fn terminate(&mut self, t: Termination, reply: Sender<Terminated>) {
        self.state = State::Terminating;
        for c in &self.containers {
            c.gate.update(|v| v.running = false);
        }
        let lines = std::sync::Mutex::new(Vec::new());
        let log = |l: &str| lines.lock().unwrap_or_else(|p| p.into_inner()).push(l.to_string());
        let result = super::stop::terminate(self.shared.runtime.as_ref(), &t, &log);
        self.state = State::Terminated;
        let _ = reply.send((result, lines.into_inner().unwrap_or_else(|p| p.into_inner())));
        self.stop_probe_workers();
    }

    fn next_due(&self) -> Option<Instant> {
        self.containers.iter().filter(|c| !c.busy).filter_map(|c| c.restart_at).min()
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
        if self.containers[i].busy {
            // A start's or a kill's own outcome says what came of it; a
            // container that died during its postStart hook is read again
            // after the hook.
            if ev.status == "died" {
                self.containers[i].died_while_busy = true;
            }
            return;
        }
        match ev.status.as_str() {
            "died" if self.containers[i].running => self.check_exit(i, ev.exit_code),
            // podman restarted it (its restart policy is on for this pod).
            "start" if !self.containers[i].running && !self.pod.owns_restarts => {
                self.started(i);
            }
            _ => {}
        }
    }

    /// A died event may be late (the container was restarted since): ask.
    fn check_exit(&mut self, i: usize, code: Option<i32>) {
        let states = self.shared.runtime.inspect(std::slice::from_ref(&self.containers[i].spec.podman));
        let Ok(states) = states else { return };
        match states.first() {
            Some(s) if s.running => {}
            Some(s) => self.exited(i, s.exit_code, "exited"),
            None => self.exited(i, code.unwrap_or(-1), "is gone"),
        }
    }

    /// A container exited: its restartPolicy decides, with backoff.
    fn exited(&mut self, i: usize, code: i32, how: &str) {
        let now = Instant::now();
        let obj = self.object(i);
        let c = &mut self.containers[i];
        c.running = false;
        c.deferred.clear();
        c.status.running = false;
        c.status.ready = false;
        c.status.exit_code = Some(code);
        self.shared.timeline.normal(&obj, "Exited", format!("Container {} {how} with code {code}", c.spec.name));
        self.gate(i);
        let c = &mut self.containers[i];
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
    /// in reverse order, one after another, each with its preStop hook and
    /// the grace period.
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
            if self.containers[i].running || self.containers[i].busy {
                self.finishing.push(i);
            } else {
                // Waiting in back-off, or not started: it will not start now.
                let c = &mut self.containers[i];
                c.restart_at = None;
                c.status.waiting = None;
                c.status.terminated = true;
                self.publish(i);
            }
        }
        self.finishing.reverse();
        self.finish_next();
    }

    /// Stops the next sidecar of a finished pod, once none is being stopped.
    fn finish_next(&mut self) {
        if self.containers.iter().any(|c| c.sidecar && c.busy) {
            return;
        }
        let Some(i) = self.finishing.pop() else { return };
        if !self.containers[i].running {
            return self.finish_next();
        }
        let obj = self.object(i);
        let why =
            format!("Stopping container {}: the pod's main containers have finished", self.containers[i].spec.name);
        self.shared.timeline.normal(&obj, "Killing", why);
        self.kill(i, self.pod.grace);
    }

    /// A container (re)started: new probes (a new generation), new target,
    /// then its postStart hook, beside the worker.
    fn started(&mut self, i: usize) {
        let now = Instant::now();
        let c = &mut self.containers[i];
        c.running = true;
        c.started_at = now;
        c.restart_at = None;
        c.generation += 1;
        c.deferred.clear();
        c.status.running = true;
        c.status.waiting = None;
        c.status.started = !c.spec.probes.iter().any(|(k, _)| *k == Kind::Startup);
        c.status.ready = c.status.started && !c.spec.probes.iter().any(|(k, _)| *k == Kind::Readiness);
        c.status.restarts += 1;
        let obj = self.object(i);
        let c = &self.containers[i];
        self.shared.timeline.normal(
            &obj,
            "Started",
            format!("Started container {} (restart {})", c.spec.name, c.status.restarts),
        );
        // The probe workers run from the start, during the postStart hook too,
        // as the kubelet's do; what they find waits for the hook's end.
        self.gate(i);
        match self.containers[i].spec.post_start.clone() {
            Some(h) => {
                let (t, rt, tx, generation) = (self.target(i), self.runtime(), self.tx.clone(), c.generation);
                self.containers[i].busy = true;
                self.beside(i, move || {
                    let r = rt.handler(&h, &t, Duration::from_secs(30));
                    let _ = tx.send(Msg::Done(i, generation, Done::PostStart(r)));
                });
            }
            None => self.publish(i),
        }
    }

    /// Runs an action on a container beside the worker, which goes on
    /// hearing events and commands meanwhile.
    fn beside(&self, i: usize, f: impl FnOnce() + Send + 'static) {
        let name = format!("action {}", self.object(i));
        if std::thread::Builder::new().name(name).spawn(f).is_err() {
            crate::errln!("warning: cannot start a thread for {}", self.object(i));
        }
    }

    /// What an action beside the worker came to.
    fn on_done(&mut self, i: usize, generation: u64, done: Done) {
        if self.state != State::Syncing {
            return;
        }
        self.containers[i].busy = false;
        match done {
            Done::Start(Ok(states)) => {
                self.learn(&states);
                self.containers[i].died_while_busy = false;
                self.started(i);
            }
            Done::Start(Err(e)) => {
                let obj = self.object(i);
                self.shared.timeline.warning(&obj, "Failed", format!("Error starting container: {e}"));
                // Try again after the next backoff.
                let now = Instant::now();
                let c = &mut self.containers[i];
                c.restart_at = Some(c.backoff.next_start(&self.shared.backoff, now));
            }
            Done::PostStart(_) if generation != self.containers[i].generation => {}
            Done::PostStart(Err(e)) => {
                let obj = self.object(i);
                self.shared.timeline.warning(&obj, "FailedPostStartHook", e);
                self.containers[i].deferred.clear();
                self.kill(i, self.pod.grace);
            }
            Done::PostStart(Ok(())) => {
                self.publish(i);
                if std::mem::take(&mut self.containers[i].died_while_busy) {
                    self.check_exit(i, None);
                }
                // What the probes found during the hook, as the next sync
                // after it would see it (a failed liveness probe kills now).
                for r in std::mem::take(&mut self.containers[i].deferred) {
                    self.on_probe(r);
                }
            }
            Done::Killed(code) => {
                self.containers[i].died_while_busy = false;
                self.exited(i, code, "was killed");
            }
        }
        if self.finished {
            self.finish_next();
        }
    }

    /// Restarts the containers whose back-off ended.
    fn restart_due(&mut self) {
        let now = Instant::now();
        for i in 0..self.containers.len() {
            let c = &self.containers[i];
            if c.busy || c.running || c.restart_at.is_none_or(|at| at > now) {
                continue;
            }
            let generation = c.generation;
            self.containers[i].restart_at = None;
            self.containers[i].busy = true;
            let names: Vec<String> = self.containers.iter().map(|c| c.spec.podman.clone()).collect();
            let (rt, tx, name) = (self.runtime(), self.tx.clone(), names[i].clone());
            self.beside(i, move || {
                // A failed inspection after the start leaves the target as it was.
                let r = rt.start(&name, Duration::from_secs(30)).map(|()| rt.inspect(&names).unwrap_or_default());
                let _ = tx.send(Msg::Done(i, generation, Done::Start(r)));
            });
        }
    }

    /// What a probe worker found.
    fn on_probe(&mut self, r: probes::Result) {
        let i = r.container;
        if self.state != State::Syncing || r.generation != self.containers[i].generation || !self.containers[i].running
        {
            return;
        }
        if self.containers[i].busy {
            self.containers[i].deferred.push(r);
            return;
        }
        let obj = self.object(i);
        let kind = r.kind;
        if r.attempt == Attempt::Errored {
            let e = r.outcome.err().unwrap_or_default();
            self.shared.timeline.warning(&obj, "Unhealthy", format!("{} probe errored: {e}", kind.name()));
            return;
        }
        if let Err(e) = &r.outcome {
            let why = format!("{} probe failed: {e}", kind.name());
            // A retry inside a window is not a run of the kubelet's: no event.
            if r.attempt != Attempt::Retry {
                self.shared.timeline.warning(&obj, "Unhealthy", why.clone());
            }
            self.containers[i].status.last_failure = Some(why);
            self.publish(i);
        }
        let Attempt::Counted(changed) = r.attempt else { return };
        let c = &mut self.containers[i];
        match (kind, changed) {
            (Kind::Startup, Some(true)) => {
                c.status.started = true;
                c.status.ready = !c.spec.probes.iter().any(|(k, _)| *k == Kind::Readiness);
                if c.status.ready {
                    self.shared.timeline.normal(&obj, "Ready", "Container is ready");
                }
                self.gate(i);
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
                let grace = c
                    .spec
                    .probes
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .and_then(|(_, p)| p.termination_grace_period_seconds)
                    .map(|s| self.pod.grace_cap.min(Duration::from_secs(s.max(0) as u64)))
                    .unwrap_or(self.pod.grace);
                self.kill(i, grace);
            }
            _ => {}
        }
    }

    /// Stops a container in place (preStop, then SIGTERM, SIGKILL after the
    /// grace period), beside the worker, and hands the exit to the restart
    /// policy when it is done.
    fn kill(&mut self, i: usize, grace: Duration) {
        let (rt, tx, t, generation) = (self.runtime(), self.tx.clone(), self.target(i), self.containers[i].generation);
        let pre_stop = self.containers[i].spec.pre_stop.clone();
        let (timeline, obj) = (self.shared.timeline.clone(), self.object(i));
        self.containers[i].busy = true;
        // Its probes pause: it is going.
        self.containers[i].gate.update(|v| v.running = false);
        self.beside(i, move || {
            let start = Instant::now();
            if let Some(h) = pre_stop {
                if let Err(e) = rt.handler(&h, &t, grace) {
                    timeline.warning(&obj, "FailedPreStopHook", e);
                }
            }
            // podman takes whole seconds: what is left of the grace period, rounded up.
            let left = Duration::from_secs(grace.saturating_sub(start.elapsed()).as_secs_f64().ceil() as u64);
            let _ = rt.stop(&t.container, left);
            let code = rt
                .inspect(std::slice::from_ref(&t.container))
                .ok()
                .and_then(|s| s.first().map(|s| s.exit_code))
                .unwrap_or(137);
            let _ = tx.send(Msg::Done(i, generation, Done::Killed(code)));
        });
    }
}

/// The pod worker's decisions against a fake runtime, as pod_workers_test.go
/// tests the kubelet's: containers are names with a running flag, probes and
/// hooks take the time and give the outcome each test scripts, and every call
/// is logged with its time.
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    /// By the probe's exec command and how many restarts there were.
    type ProbeFn = Box<dyn Fn(&str, usize) -> (Duration, Result<(), String>) + Send + Sync>;

    struct Fake {
        running: Mutex<BTreeMap<String, bool>>,
        /// How long a probe takes and what it gives.
        probe: ProbeFn,
        starts: std::sync::atomic::AtomicUsize,
        /// How long a postStart or preStop hook takes.
        hook: Duration,
        calls: Mutex<Vec<(Instant, String)>>,
    }

    impl Fake {
        fn new(containers: &[&str], hook: Duration, probe: ProbeFn) -> Arc<Fake> {
            let running = containers.iter().map(|c| (c.to_string(), true)).collect();
            Arc::new(Fake {
                running: Mutex::new(running),
                probe,
                starts: Default::default(),
                hook,
                calls: Mutex::new(Vec::new()),
            })
        }

        fn log(&self, call: String) {
            self.calls.lock().unwrap().push((Instant::now(), call));
        }

        /// When a call that starts with `prefix` was first made.
        fn when(&self, prefix: &str) -> Option<Instant> {
            self.calls.lock().unwrap().iter().find(|(_, c)| c.starts_with(prefix)).map(|(t, _)| *t)
        }

        fn state(&self, name: &str) -> ContainerState {
            let running = self.running.lock().unwrap().get(name).copied().unwrap_or(false);
            ContainerState {
                id: name.into(),
                name: name.into(),
                status: if running { "running" } else { "exited" }.into(),
                running,
                exit_code: if running { 0 } else { 1 },
                pid: 100,
                started_at: String::new(),
                restarts: 0,
                ip: "10.89.0.2".into(),
                gateway: String::new(),
                log_path: String::new(),
                conmon_pid: 99,
                stop_signal: String::new(),
            }
        }
    }

    impl Runtime for Fake {
        fn inspect(&self, containers: &[String]) -> Result<Vec<ContainerState>, String> {
            Ok(containers.iter().map(|c| self.state(c)).collect())
        }
        fn start(&self, container: &str, _: Duration) -> Result<(), String> {
            self.log(format!("start {container}"));
            self.starts.fetch_add(1, Ordering::SeqCst);
            self.running.lock().unwrap().insert(container.into(), true);
            Ok(())
        }
        fn stop(&self, container: &str, _: Duration) -> Result<(), String> {
            self.log(format!("stop {container}"));
            self.running.lock().unwrap().insert(container.into(), false);
            Ok(())
        }
        fn stop_pod(&self, pod: &str, _: Duration) -> Result<(), String> {
            self.log(format!("stop pod {pod}"));
            self.running.lock().unwrap().values_mut().for_each(|r| *r = false);
            Ok(())
        }
        fn probe(&self, p: &core::Probe, _: &probe::Target) -> probe::Outcome {
            let cmd = p.exec.as_ref().and_then(|e| e.command.as_ref()).map(|c| c.join(" ")).unwrap_or_default();
            self.log(format!("probe {cmd}"));
            let (takes, outcome) = (self.probe)(&cmd, self.starts.load(Ordering::SeqCst));
            std::thread::sleep(takes);
            self.log(format!("probed {cmd} {outcome:?}"));
            match outcome {
                Ok(()) => probe::Outcome::Success,
                Err(e) => probe::Outcome::Failure(e),
            }
        }
        fn handler(&self, _: &core::LifecycleHandler, t: &probe::Target, _: Duration) -> Result<(), String> {
            self.log(format!("hook {}", t.container));
            std::thread::sleep(self.hook);
            self.log(format!("hooked {}", t.container));
            Ok(())
        }
    }

    fn exec_probe(cmd: &str, extra: &str) -> core::Probe {
        serde_yaml::from_str(&format!("{{exec: {{command: [{cmd}]}}, periodSeconds: 1, timeoutSeconds: 10{extra}}}"))
            .unwrap()
    }

    fn hook() -> core::LifecycleHandler {
        serde_yaml::from_str("{exec: {command: [hook]}}").unwrap()
    }

    /// A pod of one container `p-a`, started, with these probes and hooks.
    fn start(fake: &Arc<Fake>, probes: Vec<(Kind, core::Probe)>, post_start: bool) -> (Handle, Shared) {
        let shared = Shared {
            timeline: Arc::new(Timeline::new(Instant::now())),
            status: Default::default(),
            // Scaled down, as podproof.yaml may, so a second restart is quick.
            backoff: Backoff { initial: Duration::from_millis(200), max: Duration::from_secs(1) },
            runtime: fake.clone(),
        };
        let pod = PodSpec {
            pod: "p".into(),
            containers: vec![ContainerSpec {
                name: "a".into(),
                podman: "p-a".into(),
                probes,
                post_start: post_start.then(hook),
                pre_stop: None,
                ports: Vec::new(),
            }],
            sidecars: Vec::new(),
            policy: Policy::Always,
            owns_restarts: true,
            grace: Duration::from_secs(1),
            grace_cap: Duration::from_secs(30),
            host_network: false,
        };
        let h = spawn(pod, &[fake.state("p-a")], shared.clone());
        (h, shared)
    }

    /// The container exits: podman's event for it.
    fn dies(fake: &Fake, h: &Handle) {
        fake.running.lock().unwrap().insert("p-a".into(), false);
        let ev = Event {
            name: "p-a".into(),
            id: "p-a".into(),
            status: "died".into(),
            exit_code: Some(1),
            health: None,
            labels: BTreeMap::new(),
        };
        h.tx.send(Msg::Event(ev)).unwrap();
    }

    /// Waits (at most 10 s) for the condition, and says when it held.
    fn until(what: &str, f: impl Fn() -> bool) -> Instant {
        let end = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < end, "never: {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
        Instant::now()
    }

    fn termination(grace: Duration) -> Termination {
        Termination {
            spec: super::super::stop::StopSpec {
                format: 1,
                pod: "p".into(),
                host_network: false,
                termination_grace_period_seconds: None,
                containers: Vec::new(),
            },
            hook_grace: grace,
            grace,
            containers: Vec::new(),
        }
    }

    /// Each probe has its own worker: a liveness probe that takes 3 s does not
    /// hold up the readiness probe of the same container, which the kubelet
    /// runs on a worker of its own (a pod worker that ran them one after
    /// another made the container Ready only after the slow one).
    #[test]
    fn a_slow_probe_does_not_delay_another() {
        let fake = Fake::new(
            &["p-a"],
            Duration::ZERO,
            Box::new(|cmd, _| match cmd {
                "slow" => (Duration::from_secs(3), Ok(())),
                _ => (Duration::ZERO, Ok(())),
            }),
        );
        let t0 = Instant::now();
        let probes = vec![(Kind::Liveness, exec_probe("slow", "")), (Kind::Readiness, exec_probe("fast", ""))];
        let (h, shared) = start(&fake, probes, false);
        let ready = until("ready", || shared.status.of("p").is_some_and(|s| s["a"].ready));
        until("the liveness probe", || fake.when("probe slow").is_some());
        let slow_done = fake.when("probed slow");
        assert!(ready - t0 < Duration::from_secs(1), "ready after {:?}", ready - t0);
        assert!(slow_done.is_none_or(|t| t > ready), "the slow probe ended first");
        h.stop();
    }

    /// A termination that comes while a container restarts (its postStart
    /// hook takes 20 s) does not wait for the restart: it ends within the
    /// grace period, nothing restarts afterwards, and the worker has ended.
    #[test]
    fn a_stop_during_a_restart_ends_within_the_grace_period() {
        let fake = Fake::new(&["p-a"], Duration::from_secs(20), Box::new(|_, _| (Duration::ZERO, Ok(()))));
        let (h, shared) = start(&fake, Vec::new(), true);
        dies(&fake, &h);
        until("the restart's postStart hook", || fake.when("hook p-a").is_some());
        let grace = Duration::from_secs(1);
        let t0 = Instant::now();
        let (result, _) = h.terminate(termination(grace)).expect("the worker terminates the pod");
        let took = t0.elapsed();
        assert!(result.is_ok());
        assert!(took <= grace + Duration::from_millis(500), "the termination took {took:?}");
        assert!(fake.when("stop pod p").is_some());
        let events: Vec<String> = shared.timeline.events().iter().map(|e| e.reason.clone()).collect();
        assert_eq!(events, ["Exited", "Started"], "no restart after the termination");
    }

    /// A liveness probe that fails while the restarted container's postStart
    /// hook runs: as in the kubelet, the probe runs (its worker does not wait
    /// for the hook), the hook is not cut short, and once it has ended the
    /// failure kills the container, which is restarted.
    #[test]
    fn a_liveness_failure_during_post_start_is_handled_as_the_kubelet_does() {
        // Alive until the restart, dead after it.
        let fake = Fake::new(
            &["p-a"],
            Duration::from_millis(1500),
            Box::new(|_, starts| (Duration::ZERO, if starts > 0 { Err("down".into()) } else { Ok(()) })),
        );
        let (h, shared) = start(&fake, vec![(Kind::Liveness, exec_probe("live", ", failureThreshold: 1"))], true);
        until("the first liveness probe", || fake.when("probed live").is_some());
        dies(&fake, &h);
        until("the postStart hook's end", || fake.when("hooked p-a").is_some());
        let hooked = fake.when("hooked p-a").unwrap();
        let restarted = fake.when("start p-a").unwrap();
        // The restarted container's probe, which ran after its start (the old
        // one's result, if one failed between the start and the hook's, is
        // about a container that is gone, and is dropped).
        let failed = |(t, c): &(Instant, String)| (*t >= restarted && c.starts_with("probed live Err")).then_some(*t);
        let failed_at = fake.calls.lock().unwrap().iter().find_map(failed);
        let failed_at = failed_at.expect("a failed liveness probe during the hook");
        assert!(failed_at < hooked, "the probe waited for the hook");
        until("the kill", || fake.when("stop p-a").is_some());
        let stopped = fake.when("stop p-a").unwrap();
        assert!(stopped >= hooked, "the hook was cut short");
        assert!(stopped - hooked < Duration::from_millis(500), "the kill waited {:?} after the hook", stopped - hooked);
        until("the restart after the kill", || {
            fake.calls.lock().unwrap().iter().filter(|(_, c)| c == "start p-a").count() == 2
        });
        let killing = shared.timeline.events().into_iter().find(|e| e.reason == "Killing").expect("a Killing event");
        assert_eq!(killing.message, "Container a failed liveness probe, will be restarted");
        h.stop();
    }
}
