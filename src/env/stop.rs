//! The stop records `up` keeps for `down NAME` (`kubelet::stop`): made here,
//! from a member and its pod spec, since only the environment knows both.

use super::{Env, Member};
use crate::kubelet::stop::{self, StopContainer, StopSpec};
use k8s_openapi::api::core::v1 as core;

/// The stop record of a member: its pod's grace period and the preStop
/// hooks of its main containers and native sidecars.
pub fn stop_spec(m: &Member, spec: &core::PodSpec) -> StopSpec {
    let sidecars = spec.init_containers.iter().flatten().filter(|c| super::is_sidecar(c));
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

/// Keeps the stop records of the played members of `env` (after `up`).
pub fn save_stop_specs(env: &Env) {
    for m in env.members.iter().filter(|m| env.is_played(m)) {
        let spec = stop_spec(m, &env.spec_of(m));
        if let Err(e) = stop::write(&env.run.id, &spec) {
            crate::errln!(
                "warning: cannot keep the preStop hooks of {}: {e}; `podproof down` by name will not run them",
                m.pod
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        let s = stop_spec(&m, &spec);
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
