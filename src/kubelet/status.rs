//! The status cache: each container's state as the pod workers last saw it
//! (running, started, Ready, restarts), which the runner reads instead of
//! asking podman, as the kubelet's status manager keeps pod conditions.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerStatus {
    pub running: bool,
    /// The startupProbe passed (or there is none).
    pub started: bool,
    pub ready: bool,
    /// Restarts done by the pod worker.
    pub restarts: u32,
    pub exit_code: Option<i32>,
    /// Why it is not running yet (`CrashLoopBackOff`).
    pub waiting: Option<String>,
    /// Exited, and the restartPolicy does not restart it.
    pub terminated: bool,
    pub last_failure: Option<String>,
}

#[derive(Default)]
pub struct StatusCache {
    pods: Mutex<BTreeMap<String, BTreeMap<String, ContainerStatus>>>,
}

impl StatusCache {
    pub fn set(&self, pod: &str, container: &str, s: ContainerStatus) {
        let mut pods = self.pods.lock().unwrap_or_else(|p| p.into_inner());
        pods.entry(pod.to_string()).or_default().insert(container.to_string(), s);
    }

    /// The containers of a pod that has a worker; None for pods without one.
    pub fn of(&self, pod: &str) -> Option<BTreeMap<String, ContainerStatus>> {
        self.pods.lock().unwrap_or_else(|p| p.into_inner()).get(pod).cloned()
    }

    pub fn remove(&self, pod: &str) {
        self.pods.lock().unwrap_or_else(|p| p.into_inner()).remove(pod);
    }
}
