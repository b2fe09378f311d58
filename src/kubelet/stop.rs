//! What `podproof down NAME` needs to stop a pod of the `up` environment as
//! the kubelet would, without the definitions: each container's preStop hook
//! and the pod's terminationGracePeriodSeconds. The played YAML carries no
//! hooks (podproof performs them), so `up` keeps this small record per pod in
//! the run's state directory (`stop/<pod>.json`) and `down NAME` reads it.
//! The environment makes the records (`Env::stop_spec`); this file keeps, reads
//! and acts on them.

use super::runtime::Runtime;
use crate::podman;
use crate::probe;
use crate::state;
use k8s_openapi::api::core::v1 as core;
use std::time::Duration;

/// The stop record of one pod.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StopSpec {
    pub format: u32,
    pub pod: String,
    pub host_network: bool,
    /// Kubernetes' default is 30 s.
    pub termination_grace_period_seconds: Option<i64>,
    /// The containers with a preStop hook: main containers and native sidecars.
    pub containers: Vec<StopContainer>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StopContainer {
    /// podman's container name.
    pub container: String,
    pub ports: Vec<core::ContainerPort>,
    pub pre_stop: core::LifecycleHandler,
}

impl StopSpec {
    /// The containers of the pod that ignore their stop signal, when all its
    /// running ones do and none has a preStop hook (see `kubelet::grace`).
    pub fn ignoring(&self) -> Vec<super::grace::Ignored> {
        let hooked: Vec<String> = self.containers.iter().map(|c| c.container.clone()).collect();
        let Ok(states) = podman::pod_containers(&self.pod) else { return Vec::new() };
        let pod = super::grace::PodRef {
            app: "",
            role: "",
            pod: &self.pod,
            grace_seconds: self.termination_grace_period_seconds,
        };
        super::grace::ignoring(&pod, &states, &hooked)
    }

    /// The stop timeout: `grace`, bounded by terminationGracePeriodSeconds.
    pub fn grace(&self, grace: Duration) -> Duration {
        grace.min(Duration::from_secs(self.termination_grace_period_seconds.unwrap_or(30).max(0) as u64))
    }
}

/// Where a run keeps its pods' stop records.
fn stop_dir(id: &str) -> std::path::PathBuf {
    state::run_dir(id).join("stop")
}

/// Writes a pod's stop record (0600: a hook's command is the user's text).
pub fn write(id: &str, spec: &StopSpec) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    state::check_id(id).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let dir = stop_dir(id);
    std::fs::create_dir_all(&dir)?;
    state::restrict(&dir)?;
    let path = state::write_file_in(&dir, &format!("{}.json", spec.pod), &serde_json::to_vec_pretty(spec)?)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// A pod's stop record, `None` when there is none (a pod played before
/// podproof kept them) or it does not parse.
pub fn read(id: &str, pod: &str) -> Option<StopSpec> {
    state::check_id(id).ok()?;
    let name = format!("{pod}.json");
    state::check_file_name(&name).ok()?;
    let spec: StopSpec = serde_json::from_slice(&std::fs::read(stop_dir(id).join(name)).ok()?).ok()?;
    (spec.pod == pod).then_some(spec)
}

/// Removes a pod's stop record.
pub fn remove(id: &str, pod: &str) {
    let name = format!("{pod}.json");
    if state::check_id(id).is_ok() && state::check_file_name(&name).is_ok() {
        let _ = state::remove_inside(&state::run_dir(id), &stop_dir(id).join(name));
    }
}

/// A pod's termination, as the kubelet's `killPod` does it: every preStop
/// hook at once, each within `hook_grace` (bounded by the pod's
/// terminationGracePeriodSeconds), then the listed containers one by one
/// (main containers before native sidecars, which must outlive them), then
/// the pod, each stop within `grace`.
#[derive(Debug, Clone)]
pub struct Termination {
    pub spec: StopSpec,
    pub hook_grace: Duration,
    pub grace: Duration,
    /// Stopped one by one before the pod (a pod with native sidecars).
    pub containers: Vec<String>,
}

/// Terminates a pod: its pod worker does this when it has one (so that
/// nothing restarts meanwhile), the environment when it has none. The
/// error is the pod stop's.
pub fn terminate(rt: &dyn Runtime, t: &Termination, log: &(dyn Fn(&str) + Sync)) -> Result<(), String> {
    let _cleanup = podman::cleanup_scope();
    pre_stop_with(rt, std::slice::from_ref(&t.spec), t.hook_grace, log);
    for c in &t.containers {
        let _ = rt.stop(c, t.grace);
    }
    rt.stop_pod(&t.spec.pod, t.grace)
}

/// Runs the preStop hooks of the running containers of each recorded pod,
/// all at once, each within its pod's grace period.
pub fn pre_stop(specs: &[StopSpec], grace: Duration, log: &(dyn Fn(&str) + Sync)) {
    pre_stop_with(&super::runtime::Podman, specs, grace, log)
}

fn pre_stop_with(rt: &dyn Runtime, specs: &[StopSpec], grace: Duration, log: &(dyn Fn(&str) + Sync)) {
    let _cleanup = podman::cleanup_scope();
    std::thread::scope(|s| {
        for spec in specs {
            for c in &spec.containers {
                s.spawn(move || {
                    let _cleanup = podman::cleanup_scope();
                    let Ok(states) = rt.inspect(std::slice::from_ref(&c.container)) else { return };
                    let Some(st) = states.iter().find(|st| st.running && st.pid > 0) else { return };
                    let t = probe::Target {
                        container: c.container.clone(),
                        netns_pid: if spec.host_network { 0 } else { st.pid },
                        ip: if spec.host_network { String::new() } else { st.ip.clone() },
                        ports: c.ports.clone(),
                    };
                    if let Err(e) = rt.handler(&c.pre_stop, &t, spec.grace(grace)) {
                        log(&format!("preStop hook of {} failed: {e}", c.container));
                    }
                });
            }
        }
    });
}
