//! `podproof down`: stop and remove apps of the `up` environment (or a kept test run).

use crate::env::{Env, Log, Member, Settings};
use crate::error::{Error, Result};
use crate::podman;
use crate::render;
use crate::state::{self, RunKind};
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  podproof down prom\n  podproof down fixtures/apps/prometheus/app.yaml\n  podproof down --all\n  podproof down --run t4k2x9"
)]
pub struct Args {
    /// App names or definition files
    #[arg(value_name = "APP", conflicts_with_all = ["all", "run"])]
    pub apps: Vec<String>,
    /// Remove every app of the `up` environment, and its network
    #[arg(long, conflicts_with = "run")]
    pub all: bool,
    /// Remove a test run kept with `podproof test --keep`
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// How long containers get to stop (bounded by terminationGracePeriodSeconds)
    #[arg(long, default_value = "2s", value_parser = crate::wait::parse_duration)]
    pub grace: Duration,
    /// How long each helm delete hook may take to finish
    #[arg(long, default_value = "120s", value_parser = crate::wait::parse_duration)]
    pub timeout: Duration,
}

pub fn run(a: Args) -> Result<i32> {
    let log: Log = &|s: &str| errln!("{s}");
    if let Some(id) = &a.run {
        state::check_id(id).map_err(|e| Error::Usage(format!("--run: {e}; nothing was removed")))?;
        return remove_run(id, a.grace, log);
    }
    if a.all {
        return remove_run(state::UP_ID, a.grace, log);
    }
    if a.apps.is_empty() {
        return Err(Error::Usage("name the apps to remove, or pass --all".into()));
    }
    let mut names: Vec<String> = Vec::new();
    // Files are loaded together, as `up` loads them: the plain manifests of
    // all files are one app.
    let (files, plain): (Vec<String>, Vec<String>) =
        a.apps.iter().cloned().partition(|arg| std::path::Path::new(arg).exists() || arg == "-");
    let mut loaded = Vec::new();
    if !files.is_empty() {
        let (apps, _) = crate::app::load(&files).into_result()?;
        names.extend(apps.iter().map(|a| a.name.clone()));
        loaded = apps;
    }
    names.extend(plain);
    // Without the files, the helm hooks are those `up` kept in the run's state.
    let dir = state::run_dir(state::UP_ID);
    for name in &names {
        if !loaded.iter().any(|app| &app.name == name) {
            loaded.extend(crate::helm::kept(&dir, name));
        }
    }
    // With the definitions, the pods' specs are known, so their preStop hooks
    // run (each within its grace period) before the pods are stopped.
    let mut env = if loaded.is_empty() {
        None
    } else {
        let settings = Settings { grace: a.grace, ..Settings::default() };
        Some(Env::new(loaded, state::UP_ID, "", RunKind::Up, settings)?)
    };
    for name in names {
        let hooks: Vec<String> = env
            .iter()
            .flat_map(|e| e.apps.iter())
            .filter(|app| app.name == name)
            .flat_map(|app| app.hooks.iter().map(|h| crate::helm::hook_app_name(&app.name, &h.name)))
            .collect();
        let filter = format!("{}={}", render::LABEL_APP, name);
        let all = podman::list_labelled(&filter)?;
        let up = podman::list_labelled(&format!("{}={}", render::LABEL_RUN, state::UP_ID))?;
        let pods: Vec<String> = all.pods.iter().filter(|p| up.pods.contains(p)).cloned().collect();
        let vols: Vec<String> = all.volumes.iter().filter(|v| up.volumes.contains(v)).cloned().collect();
        if pods.is_empty() && vols.is_empty() {
            // A failed install hook can outlive its app's pods; it goes too.
            let stale = remove_hook_pods(&hooks, a.grace)?;
            crate::helm::forget(&dir, &name);
            if stale.is_empty() {
                errln!("{name}: nothing running");
            } else {
                errln!("{name}: removed {} hook pods", stale.len());
            }
            continue;
        }
        // helm's delete hooks run around the removal, as `helm uninstall` runs them.
        let only = [name.clone()];
        if let Some(e) = env.as_mut() {
            crate::helm::run_of(e, "pre-delete", Some(&only), a.timeout, log)?;
        }
        let known: Vec<Member> = env
            .iter()
            .flat_map(|e| e.members.iter())
            .filter(|m| m.app == name && pods.contains(&m.pod))
            .cloned()
            .collect();
        if let Some(e) = &env {
            for m in &known {
                e.adopt(m);
            }
            for i in e.finish_members(&known, log)? {
                log(&format!("{}: {}", i.pod, i.message()));
            }
        }
        // The rest are stopped before they are removed, as teardown does: a
        // removal that kills them makes podman 4.3 wait for their cgroups.
        let rest: Vec<String> = pods.iter().filter(|p| !known.iter().any(|m| &m.pod == *p)).cloned().collect();
        if !rest.is_empty() {
            stop_recorded(&rest, a.grace, log);
            podman::pod_rm(&rest, a.grace)?;
        }
        podman::volume_rm(&vols)?;
        if let Some(e) = env.as_mut() {
            crate::helm::run_of(e, "post-delete", Some(&only), a.timeout, log)?;
        }
        // The hook pods no delete policy removed go with their app, as they
        // would with its namespace: nothing of it stays in the environment.
        let hook_pods = remove_hook_pods(&hooks, a.grace)?;
        crate::helm::forget(&dir, &name);
        // Pod names come from podman; the removal still checks they stay inside the run directory.
        for p in &pods {
            let _ = state::remove_inside(&dir, &dir.join("volumes").join(p));
            let _ = state::remove_inside(&dir, &dir.join("pods").join(format!("{p}.yaml")));
            crate::kubelet::stop::remove(state::UP_ID, p);
        }
        errln!("{name}: removed {} pods, {} volumes", pods.len() + hook_pods.len(), vols.len());
    }
    // The network goes with the last app.
    let left = podman::list_labelled(&format!("{}={}", render::LABEL_RUN, state::UP_ID))?;
    if left.pods.is_empty() && left.volumes.is_empty() {
        remove_run(state::UP_ID, a.grace, log)?;
    }
    Ok(0)
}

/// Removes the pods of the `up` environment played for these hook apps; returns their names.
fn remove_hook_pods(hook_apps: &[String], grace: Duration) -> Result<Vec<String>> {
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
    let dir = state::run_dir(state::UP_ID);
    for p in &pods {
        let _ = state::remove_inside(&dir, &dir.join("volumes").join(p));
        let _ = state::remove_inside(&dir, &dir.join("pods").join(format!("{p}.yaml")));
    }
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

fn remove_run(id: &str, grace: Duration, log: Log) -> Result<i32> {
    let n = podman::remove_labelled(&format!("{}={id}", render::LABEL_RUN), grace)?;
    state::remove(id)?;
    log(&format!("run {id}: removed {n} objects"));
    Ok(0)
}
