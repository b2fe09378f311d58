//! What `podproof down NAME` needs to stop a pod of the `up` environment as
//! the kubelet would, without the definitions: each container's preStop hook
//! and the pod's terminationGracePeriodSeconds. The played YAML carries no
//! hooks (podproof performs them), so `up` keeps this small record per pod in
//! the run's state directory (`stop/<pod>.json`) and `down NAME` reads it.

use crate::env::{Env, Log, Member};
use crate::podman;
use crate::probe;
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
    pub fn of(m: &Member, spec: &core::PodSpec) -> StopSpec {
        let sidecars = spec.init_containers.iter().flatten().filter(|c| crate::env::is_sidecar(c));
        let containers = spec
            .containers
            .iter()
            .chain(sidecars)
            .filter_map(|c| {
                Some(StopContainer {
                    container: m.container(&c.name),
                    ports: c.ports.clone().unwrap_or_default(),
                    pre_stop: c.lifecycle.as_ref()?.pre_stop.clone()?,
                })
            })
            .collect();
        StopSpec {
            format: 1,
            pod: m.pod.clone(),
            host_network: m.host_network,
            termination_grace_period_seconds: spec.termination_grace_period_seconds,
            containers,
        }
    }

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

/// Keeps the stop records of the played members of `env` (after `up`).
pub fn save(env: &Env) {
    for m in env.members.iter().filter(|m| env.is_played(m)) {
        let spec = StopSpec::of(m, &env.spec_of(m));
        if let Err(e) = crate::state::write_stop_spec(&env.run.id, &spec) {
            crate::errln!(
                "warning: cannot keep the preStop hooks of {}: {e}; `podproof down` by name will not run them",
                m.pod
            );
        }
    }
}

/// Runs the preStop hooks of the running containers of each recorded pod,
/// all at once, each within its pod's grace period.
pub fn pre_stop(specs: &[StopSpec], grace: Duration, log: Log) {
    let _cleanup = podman::cleanup_scope();
    std::thread::scope(|s| {
        for spec in specs {
            for c in &spec.containers {
                s.spawn(move || {
                    let _cleanup = podman::cleanup_scope();
                    let Ok(states) = podman::inspect_containers(std::slice::from_ref(&c.container)) else { return };
                    let Some(st) = states.iter().find(|st| st.running && st.pid > 0) else { return };
                    let t = probe::Target {
                        container: c.container.clone(),
                        netns_pid: if spec.host_network { 0 } else { st.pid },
                        ip: if spec.host_network { String::new() } else { st.ip.clone() },
                        ports: c.ports.clone(),
                    };
                    if let Err(e) = probe::handler(&c.pre_stop, &t, spec.grace(grace)) {
                        log(&format!("preStop hook of {} failed: {e}", c.container));
                    }
                });
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str, grace: Duration, expect: (Vec<&str>, Duration)) {
        let spec: core::PodSpec = serde_yaml::from_str(yaml).unwrap();
        let m = Member {
            app: "a".into(),
            role: "r".into(),
            index: 0,
            name: "a-r-0".into(),
            pod: "a-r-0-x1".into(),
            host_network: false,
            containers: spec.containers.iter().map(|c| c.name.clone()).collect(),
            aliases: Vec::new(),
        };
        let s = StopSpec::of(&m, &spec);
        // The record reads back as written.
        let back: StopSpec = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let names: Vec<&str> = s.containers.iter().map(|c| c.container.as_str()).collect();
        assert_eq!((names, s.grace(grace)), expect, "{yaml}");
    }

    #[test]
    fn records_hooks_and_grace() {
        check(
            "terminationGracePeriodSeconds: 5\ncontainers:\n- {name: app, lifecycle: {preStop: {exec: {command: [x]}}}}\n- {name: web}\n",
            Duration::from_secs(10),
            (vec!["a-r-0-x1-app"], Duration::from_secs(5)),
        );
        check("containers:\n- {name: web}\n", Duration::from_secs(2), (vec![], Duration::from_secs(2)));
        // A native sidecar's hook is run too; an ordinary init container has none to run.
        check(
            "initContainers:\n- {name: proxy, restartPolicy: Always, lifecycle: {preStop: {exec: {command: [x]}}}}\n- {name: setup}\ncontainers:\n- {name: web}\n",
            Duration::from_secs(2),
            (vec!["a-r-0-x1-proxy"], Duration::from_secs(2)),
        );
    }
}
