//! Removing apps of the `up` environment (and kept test runs) for `podproof
//! down`: what podman holds of an app, its members stopped through the
//! environment that knows them (preStop hooks, grace periods), the pods only
//! podman knows stopped from the records `up` kept, and the run's own files.
//! The command runs helm's delete hooks around these (`crate::helm`).

use super::{Env, Log, Member};
use crate::error::Result;
use crate::podman;
use crate::render;
use crate::state;
use std::time::Duration;

/// What podman holds of one app in the `up` environment.
pub struct UpObjects {
    pub pods: Vec<String>,
    pub volumes: Vec<String>,
}

impl UpObjects {
    pub fn is_empty(&self) -> bool {
        self.pods.is_empty() && self.volumes.is_empty()
    }
}

/// The pods and volumes of app `name` that belong to the `up` run.
pub fn up_objects(name: &str) -> Result<UpObjects> {
    let all = podman::list_labelled(&format!("{}={}", render::LABEL_APP, name))?;
    let up = podman::list_labelled(&format!("{}={}", render::LABEL_RUN, state::UP_ID))?;
    Ok(UpObjects {
        pods: all.pods.iter().filter(|p| up.pods.contains(p)).cloned().collect(),
        volumes: all.volumes.iter().filter(|v| up.volumes.contains(v)).cloned().collect(),
    })
}

/// Whether the `up` run holds no pod and no volume any more.
pub fn up_is_empty() -> Result<bool> {
    let left = podman::list_labelled(&format!("{}={}", render::LABEL_RUN, state::UP_ID))?;
    Ok(left.pods.is_empty() && left.volumes.is_empty())
}

/// Removes app `name`'s objects: the members `env` knows are stopped as
/// teardown stops them (preStop hooks, grace periods, a pod that ignores its
/// stop signal killed at once); the pods only podman knows are stopped from
/// the records `up` kept, then removed (a removal that kills them makes
/// podman 4.3 wait for their cgroups); then the volumes and the run's files
/// of those pods.
pub fn remove_up_app(env: Option<&Env>, name: &str, objects: &UpObjects, grace: Duration, log: Log) -> Result<()> {
    let known: Vec<Member> = env
        .iter()
        .flat_map(|e| e.members.iter())
        .filter(|m| m.app == name && objects.pods.contains(&m.pod))
        .cloned()
        .collect();
    if let Some(e) = env {
        for m in &known {
            e.adopt(m);
        }
        for i in e.finish_members(&known, log)? {
            log(&format!("{}: {}", i.pod, i.message()));
        }
    }
    let rest: Vec<String> = objects.pods.iter().filter(|p| !known.iter().any(|m| &m.pod == *p)).cloned().collect();
    if !rest.is_empty() {
        stop_recorded(&rest, grace, log);
        podman::pod_rm(&rest, grace)?;
    }
    podman::volume_rm(&objects.volumes)?;
    forget_pods(&objects.pods, true);
    Ok(())
}

/// The run's files of removed pods of `up`. Pod names come from podman; the
/// removal still checks they stay inside the run directory.
fn forget_pods(pods: &[String], stop_records: bool) {
    let dir = state::run_dir(state::UP_ID);
    for p in pods {
        let _ = state::remove_inside(&dir, &dir.join("volumes").join(p));
        let _ = state::remove_inside(&dir, &dir.join("pods").join(format!("{p}.yaml")));
        if stop_records {
            crate::kubelet::stop::remove(state::UP_ID, p);
        }
    }
}

/// Removes the pods of the `up` environment played for these hook apps; returns their names.
pub fn remove_hook_pods(hook_apps: &[String], grace: Duration) -> Result<Vec<String>> {
    let up = podman::list_labelled(&format!("{}={}", render::LABEL_RUN, state::UP_ID))?;
    let mut pods = Vec::new();
    for h in hook_apps {
        let mine = podman::list_labelled(&format!("{}={h}", render::LABEL_APP))?;
        pods.extend(mine.pods.into_iter().filter(|p| up.pods.contains(p)));
    }
    if !pods.is_empty() {
        let _ = podman::pod_stop(&pods, grace);
        podman::pod_rm(&pods, grace)?;
    }
    forget_pods(&pods, false);
    Ok(pods)
}

/// Stops pods of `up` known only by name: the preStop hooks `up` recorded
/// run first, then each pod is stopped within its own grace period (one
/// call per pod, at once, as teardown does).
fn stop_recorded(pods: &[String], grace: Duration, log: Log) {
    let specs: Vec<_> = pods.iter().filter_map(|p| crate::kubelet::stop::read(state::UP_ID, p)).collect();
    crate::kubelet::stop::pre_stop(&specs, grace, log);
    std::thread::scope(|s| {
        for p in pods {
            let spec = specs.iter().find(|sp| &sp.pod == p);
            let g = spec.map(|sp| sp.grace(grace)).unwrap_or(grace);
            s.spawn(move || {
                // As teardown does: a pod that ignores its stop signal is killed at once.
                let g = match spec.filter(|_| !g.is_zero()).map(|sp| sp.ignoring()) {
                    Some(found) if !found.is_empty() => {
                        for i in found {
                            log(&format!("{p}: {}", i.message()));
                        }
                        Duration::ZERO
                    }
                    _ => g,
                };
                podman::pod_stop(std::slice::from_ref(p), g)
            });
        }
    });
}

/// Removes a whole run (the `up` environment, or a kept test run) by its
/// label, then its state directory.
pub fn remove_run(id: &str, grace: Duration, log: Log) -> Result<()> {
    let n = podman::remove_labelled(&format!("{}={id}", render::LABEL_RUN), grace)?;
    state::remove(id)?;
    log(&format!("run {id}: removed {n} objects"));
    Ok(())
}
