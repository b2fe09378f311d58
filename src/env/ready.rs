//! Container states and readiness: inspections (and the cache of running
//! pods that spares them), probe targets, and the waits of a start.

use super::{Env, Log, Member};
use crate::error::{Error, Result};
use crate::podman::{self, ContainerState};
use crate::probe;
use crate::wait::{await_condition, Poll, WaitError};
use std::time::{Duration, Instant};

pub(super) type KnownStates = (Vec<ContainerState>, Vec<(i64, u64)>);

/// The start time of process `pid` (clock ticks since boot, field 22 of
/// /proc/PID/stat): with the pid it names one process, even if pids are reused.
fn start_time(pid: i64) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces, so count from its closing paren.
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

impl Env {
    pub fn states(&self, m: &Member) -> Result<Vec<ContainerState>> {
        let states = podman::inspect_containers(&m.podman_containers())?;
        // Only a pod with every container running is worth remembering, and
        // only then are the start times read.
        let all_running = states.len() == m.containers.len() && states.iter().all(|s| s.running && s.pid > 0);
        let seen: Option<Vec<(i64, u64)>> =
            all_running.then(|| states.iter().map(|s| Some((s.pid, start_time(s.pid)?))).collect()).flatten();
        let mut known = self.known.lock().expect("known lock");
        match seen {
            Some(seen) => known.insert(m.pod.clone(), (states.clone(), seen)),
            None => known.remove(&m.pod),
        };
        Ok(states)
    }

    /// The states of a member's containers without asking podman, when the
    /// last inspection found them all running and each main process is still
    /// the same one (same pid and start time): then nothing has changed that
    /// an `http` step needs (the pod's network namespace and IP).
    pub fn states_fresh(&self, m: &Member) -> Result<Vec<ContainerState>> {
        let cached = self.known.lock().expect("known lock").get(&m.pod).cloned();
        if let Some((states, seen)) = cached {
            if seen.iter().all(|(pid, t)| start_time(*pid) == Some(*t)) {
                return Ok(states);
            }
        }
        self.states(m)
    }

    /// A probe target for container `c` of member `m`.
    /// `c` is a main container or a native sidecar; named ports come from the
    /// spec as written (the played pod has no bare containerPorts).
    pub fn target(&self, m: &Member, c: &str, states: &[ContainerState]) -> probe::Target {
        let spec = self.spec_of(m);
        let ports = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .find(|k| k.name == c)
            .and_then(|k| k.ports.clone())
            .unwrap_or_default();
        let running = states.iter().find(|s| s.running && s.pid > 0);
        probe::Target {
            container: m.container(c),
            netns_pid: if m.host_network { 0 } else { running.map(|s| s.pid).unwrap_or(0) },
            ip: if m.host_network { String::new() } else { running.map(|s| s.ip.clone()).unwrap_or_default() },
            ports,
        }
    }

    pub(super) fn wait_running(&self, m: &Member, container: &str, timeout: Duration) -> Result<Vec<ContainerState>> {
        let name = m.container(container);
        let r = await_condition(timeout, Duration::from_millis(100), || match self.states(m) {
            Ok(states) => match states.iter().find(|s| s.name == name) {
                Some(s) if s.running => Poll::Ready(states),
                Some(s) if s.status == "exited" => Poll::Fail(format!("container exited with code {}", s.exit_code)),
                _ => Poll::Pending(Some("not running yet".to_string())),
            },
            Err(e) => Poll::Fail(e.to_string()),
        });
        r.map_err(|e| self.wait_error(m, &format!("container {name} to run"), timeout, e))
    }

    /// The error of a wait that was given `timeout`.
    pub(super) fn wait_error(&self, m: &Member, what: &str, timeout: Duration, e: WaitError<String>) -> Error {
        match e {
            WaitError::Interrupted => Error::runtime(format!("interrupted while waiting for {what}")),
            WaitError::Timeout(last) => {
                let mut err = Error::failed(format!("timed out after {timeout:?} waiting for {what}"));
                if let Some(l) = last {
                    err = err.because(l);
                }
                err.because(self.logs_of(m))
            }
            WaitError::Failed(reason) => Error::failed(format!("{} failed while waiting for {what}", m.pod))
                .because(reason)
                .because(self.logs_of(m)),
        }
    }

    /// One look at whether a member's containers run; on Ready the states stay in `cache`.
    fn running_poll(&self, m: &Member, cache: &mut Option<Vec<ContainerState>>) -> Poll<(), String> {
        let Some(role) = self.role_of(m) else { return Poll::Fail(format!("unknown role {}", m.role)) };
        let spec = role.template.spec.clone().unwrap_or_default();
        let always = spec.restart_policy.as_deref().unwrap_or("Always") == "Always";
        let states = match cache.take() {
            Some(s) => s,
            None => match self.states(m) {
                Ok(s) => s,
                Err(e) => return Poll::Fail(e.to_string()),
            },
        };
        for c in &spec.containers {
            let name = m.container(&c.name);
            let Some(st) = states.iter().find(|s| s.name == name) else {
                return Poll::Pending(Some(format!("container {name} does not exist yet")));
            };
            if st.restarts > 0 {
                return Poll::Fail(format!(
                    "container {name} restarted {} times (crash loop); last exit code {}",
                    st.restarts, st.exit_code
                ));
            }
            if !st.running {
                if st.status == "exited" || st.status == "stopped" {
                    if !always && st.exit_code == 0 {
                        continue;
                    }
                    return Poll::Fail(format!("container {name} exited with code {}", st.exit_code));
                }
                return Poll::Pending(Some(format!("container {name} is {}", st.status)));
            }
        }
        *cache = Some(states);
        Poll::Ready(())
    }

    /// Waits until a member is ready; a container that exits or crash-loops
    /// fails at once, with its last logs. A member with probes or native
    /// sidecars is ready when its pod worker says so; one without is ready
    /// when its containers run (or, unless restartPolicy is Always, exited 0).
    pub fn wait_ready(&self, m: &Member, timeout: Duration, log: Log) -> Result<()> {
        let start = Instant::now();
        if self.needs_worker(m) {
            return self.wait_ready_worker(m, start, timeout, log);
        }
        await_condition(timeout, Duration::from_millis(50), || self.running_poll(m, &mut None))
            .map_err(|e| self.wait_error(m, &format!("{} to be ready", m.pod), timeout, e))?;
        log(&format!("{} ready in {:.1}s", m.pod, start.elapsed().as_secs_f64()));
        Ok(())
    }

    /// Waits for a member with a pod worker: its containers running, then
    /// every container Ready in the status cache the worker keeps (probes on
    /// their own timing). A container that exits and is not restarted fails
    /// at once; one in CrashLoopBackOff is waited for until the timeout.
    fn wait_ready_worker(&self, m: &Member, start: Instant, timeout: Duration, log: Log) -> Result<()> {
        // Every container started once (it may have exited since: the worker
        // applies the restartPolicy to that, with backoff).
        let states = await_condition(timeout, Duration::from_millis(50), || match self.states(m) {
            Ok(states) => {
                let ran =
                    |c: &String| states.iter().any(|s| s.name == m.container(c) && (s.running || s.status == "exited"));
                if m.containers.iter().all(ran) {
                    Poll::Ready(states)
                } else {
                    Poll::Pending(Some("containers not started yet".to_string()))
                }
            }
            Err(e) => Poll::Fail(e.to_string()),
        })
        .map_err(|e| self.wait_error(m, &format!("{} to run", m.pod), timeout, e))?;
        self.spawn_worker(m, &states)?;
        await_condition(timeout, Duration::from_millis(50), || {
            let Some(st) = self.kubelet.status.of(&m.pod) else { return Poll::Fail("its pod worker stopped".into()) };
            for (name, c) in &st {
                // A main container that completed (exit 0, and its
                // restartPolicy does not restart it) is done, as on the path
                // without a worker; a sidecar is only ever terminated because
                // every main container finished, and the pod's verdict is theirs.
                let sidecar = !m.containers.contains(name);
                if c.terminated && (c.exit_code == Some(0) || sidecar) {
                    continue;
                }
                if c.terminated {
                    return Poll::Fail(format!(
                        "container {} exited with code {} and its restartPolicy does not restart it",
                        m.container(name),
                        c.exit_code.unwrap_or(-1)
                    ));
                }
                if !c.ready {
                    let why = match (&c.waiting, &c.last_failure) {
                        (Some(w), _) => format!("{w} (restarts {})", c.restarts),
                        (None, Some(f)) => f.clone(),
                        (None, None) if !c.started => "startup probe not passed yet".into(),
                        (None, None) => "not ready yet".into(),
                    };
                    return Poll::Pending(Some(format!("{}: {why}", m.container(name))));
                }
            }
            Poll::Ready(())
        })
        .map_err(|e| self.wait_error(m, &format!("{} to be ready", m.pod), timeout, e))?;
        log(&format!("{} ready in {:.1}s", m.pod, start.elapsed().as_secs_f64()));
        Ok(())
    }
}
