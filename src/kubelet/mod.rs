//! podproof's kubelet: the pod workers that keep a run's pods the way the
//! kubelet keeps them (probes with their timing, Ready conditions, liveness
//! restarts in place, restartPolicy with CrashLoopBackOff), the status cache
//! the runner reads, and the events timeline.
//!
//! Threads: one worker per pod that has a probe or a native sidecar (from
//! its first sidecar's start, or else from its main containers'), plus one
//! event dispatcher per run while any worker runs (it owns the run's `podman
//! events` child). A pod without either gets neither, so a scenario without
//! probes makes no extra podman call. Per period, an httpGet or tcpSocket probe is one
//! connection from a thread in the pod's network namespace (no podman call);
//! an exec probe is one `podman exec`, killed after timeoutSeconds.

pub mod backoff;
pub mod grace;
pub mod prober;
pub mod probes;
pub mod runtime;
pub mod status;
pub mod stop;
pub mod timeline;
pub mod worker;

use crate::podman::{self, ContainerState};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use backoff::Backoff;

/// The most threads one operation on a run's members uses at once (plays,
/// readiness waits, reloads): each runs one podman call or probe at a time,
/// so a run of 50 members does not start 50 podman processes together.
/// Readiness waits only observe pods that are already running, so a member
/// that waits for another does not hold up that other's start.
pub const MAX_FAN_OUT: usize = 8;

/// Runs `f` on every item with at most `MAX_FAN_OUT` threads, results in
/// order; an item whose `f` panicked is `Err` (the panic's payload).
pub fn fan_out<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<std::thread::Result<R>> {
    let run = |item: &T| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(item)));
    if items.len() <= 1 {
        return items.iter().map(run).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out: Mutex<Vec<Option<std::thread::Result<R>>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..items.len().min(MAX_FAN_OUT) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = run(item);
                out.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
            });
        }
    });
    out.into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Box::new("not run"))))
        .collect()
}

type Routes = Arc<Mutex<BTreeMap<String, Sender<worker::Msg>>>>;

/// Forwards the run's container events to the worker of each container's pod.
struct Dispatcher {
    stop: Arc<AtomicBool>,
    join: Option<std::thread::JoinHandle<()>>,
}

pub struct Kubelet {
    run_id: String,
    pub timeline: Arc<timeline::Timeline>,
    pub status: Arc<status::StatusCache>,
    pub backoff: Backoff,
    pub runtime: Arc<dyn runtime::Runtime>,
    /// Per pod, its worker and its containers' podman names (their event routes).
    workers: Mutex<BTreeMap<String, (worker::Handle, Vec<String>)>>,
    routes: Routes,
    dispatcher: Mutex<Option<Dispatcher>>,
}

impl Kubelet {
    pub fn new(run_id: &str, start: Instant, backoff: Backoff) -> Kubelet {
        Kubelet {
            run_id: run_id.to_string(),
            timeline: Arc::new(timeline::Timeline::new(start)),
            status: Default::default(),
            backoff,
            runtime: Arc::new(runtime::Podman),
            workers: Default::default(),
            routes: Default::default(),
            dispatcher: Default::default(),
        }
    }

    /// Starts the worker of a pod whose first containers started (replacing one it had).
    pub fn spawn(&self, pod: worker::PodSpec, states: &[ContainerState]) -> crate::error::Result<()> {
        self.stop(&pod.pod);
        self.ensure_dispatcher()?;
        let name = pod.pod.clone();
        let containers: Vec<String> = pod.containers.iter().chain(&pod.sidecars).map(|c| c.podman.clone()).collect();
        let shared = worker::Shared {
            timeline: self.timeline.clone(),
            status: self.status.clone(),
            backoff: self.backoff,
            runtime: self.runtime.clone(),
        };
        let h = worker::spawn(pod, states, shared);
        {
            let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
            for c in &containers {
                routes.insert(c.clone(), h.tx.clone());
            }
        }
        self.workers.lock().unwrap_or_else(|p| p.into_inner()).insert(name, (h, containers));
        Ok(())
    }

    /// Tells a pod's worker that these containers started; false when the pod has no worker.
    pub fn started(&self, pod: &str, states: &[ContainerState]) -> bool {
        let workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        let Some((h, _)) = workers.get(pod) else { return false };
        h.tx.send(worker::Msg::Started(states.to_vec())).is_ok()
    }

    /// Stops a pod's worker before its pod is stopped, so that stopping is not
    /// taken for a crash. The dispatcher stays for the run (a restarted pod
    /// gets a new worker), until `stop_all`.
    pub fn stop(&self, pod: &str) {
        let h = self.workers.lock().unwrap_or_else(|p| p.into_inner()).remove(pod);
        let Some((h, containers)) = h else { return };
        self.routes.lock().unwrap_or_else(|p| p.into_inner()).retain(|c, _| !containers.contains(c));
        h.stop();
        self.status.remove(pod);
    }

    /// Terminates a pod: through its worker when it has one, which then
    /// ends (so nothing restarts while the pod stops), or else here. Lines
    /// to log (failed preStop hooks) go to `log`; the error is the pod stop's.
    pub fn terminate(&self, t: stop::Termination, log: &(dyn Fn(&str) + Sync)) -> Result<(), String> {
        let pod = t.spec.pod.clone();
        let h = self.workers.lock().unwrap_or_else(|p| p.into_inner()).remove(&pod);
        let result = match h {
            Some((h, containers)) => {
                self.routes.lock().unwrap_or_else(|p| p.into_inner()).retain(|c, _| !containers.contains(c));
                match h.terminate(t.clone()) {
                    Some((result, lines)) => {
                        for l in lines {
                            log(&l);
                        }
                        result
                    }
                    // The worker ended first (a signal): the pod still stops.
                    None => stop::terminate(self.runtime.as_ref(), &t, log),
                }
            }
            None => stop::terminate(self.runtime.as_ref(), &t, log),
        };
        self.status.remove(&pod);
        result
    }

    pub fn stop_all(&self) {
        let pods: Vec<String> = self.workers.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
        for p in pods {
            self.stop(&p);
        }
        self.stop_dispatcher();
    }

    /// Starts the run's event stream (before a worker's pod plays, so no exit is missed).
    pub fn ensure_events(&self) -> crate::error::Result<()> {
        self.ensure_dispatcher()
    }

    fn ensure_dispatcher(&self) -> crate::error::Result<()> {
        let mut d = self.dispatcher.lock().unwrap_or_else(|p| p.into_inner());
        if d.is_some() {
            return Ok(());
        }
        let stream = podman::events(crate::render::LABEL_RUN, &self.run_id)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (routes, flag) = (self.routes.clone(), stop.clone());
        let join = std::thread::Builder::new()
            .name("events".into())
            .spawn(move || {
                // The wait is on the event stream; the flag ends it within 200 ms.
                while !flag.load(Ordering::SeqCst) {
                    let Some(ev) = stream.next_timeout(Duration::from_millis(200)) else { continue };
                    let tx = routes.lock().unwrap_or_else(|p| p.into_inner()).get(&ev.name).cloned();
                    if let Some(tx) = tx {
                        let _ = tx.send(worker::Msg::Event(ev));
                    }
                }
            })
            .ok();
        *d = Some(Dispatcher { stop, join });
        Ok(())
    }

    fn stop_dispatcher(&self) {
        if let Some(mut d) = self.dispatcher.lock().unwrap_or_else(|p| p.into_inner()).take() {
            // Not joined: the thread sees the flag within 200 ms and then drops the
            // stream, which kills its `podman events` child; teardown need not wait.
            d.stop.store(true, Ordering::SeqCst);
            drop(d.join.take());
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop_all();
    }
}

#[cfg(test)]
mod fan_out_tests {
    use super::*;

    fn check(n: usize) {
        let running = std::sync::atomic::AtomicUsize::new(0);
        let peak = std::sync::atomic::AtomicUsize::new(0);
        let items: Vec<usize> = (0..n).collect();
        let got = fan_out(&items, |i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            running.fetch_sub(1, Ordering::SeqCst);
            i * 2
        });
        let got: Vec<usize> = got.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(got, items.iter().map(|i| i * 2).collect::<Vec<_>>(), "{n}");
        assert!(peak.load(Ordering::SeqCst) <= MAX_FAN_OUT, "{n}: {peak:?}");
    }

    #[test]
    fn fans_out_in_order_within_the_cap() {
        for n in [0, 1, 3, 8, 9, 40] {
            check(n);
        }
        // A panic is that item's error, not the caller's.
        let got = fan_out(&[1, 2, 3], |i| if *i == 2 { panic!("two") } else { *i });
        assert_eq!(got.iter().map(|r| r.is_ok()).collect::<Vec<_>>(), [true, false, true]);
    }
}
