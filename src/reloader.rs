//! Live ConfigMap/Secret updates and the app's reload, verified.
//!
//! A change is projected into every member that mounts the object, in the
//! kubelet's atomic `..data` layout (see `projection`), and then the role's
//! reload policy runs: a signal to the container's main process, an HTTP
//! request from inside the pod, a pod restart (what stakater Reloader does),
//! or nothing for apps that watch their files. A reload counts only when
//! checked: `succeeded` also needs the same container, the same start time of
//! its main process and the same restart count; an HTTP answer that is not
//! 2xx, or an app that exits, is `failed`.
//!
//! As in Kubernetes, env vars taken from a ConfigMap and `subPath` mounts never
//! receive updates.

use crate::env::{self, Env, Log, Member};
use crate::error::Result;
use crate::netns;
use crate::podman::{self, ContainerState};
use crate::reload::Action;
use crate::render::ProjectionSource;
use crate::wait::{await_condition, Poll};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    Restarted,
    /// No mounted file changed (only env or subPath uses, or the same data).
    Unchanged,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Restarted => "restarted",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// What happened to one member.
#[derive(Debug, Clone)]
pub struct Report {
    pub member: String,
    pub outcome: Outcome,
    pub latency: Duration,
    pub detail: String,
}

impl Report {
    pub fn line(&self) -> String {
        format!("reload {}: {} in {}ms ({})", self.member, self.outcome.as_str(), self.latency.as_millis(), self.detail)
    }
}

/// The worst outcome of several members: failed, then restarted, then succeeded.
pub fn overall(reports: &[Report]) -> Outcome {
    for o in [Outcome::Failed, Outcome::Restarted, Outcome::Succeeded] {
        if reports.iter().any(|r| r.outcome == o) {
            return o;
        }
    }
    Outcome::Unchanged
}

/// How long a signalled or watching app is watched for a crash.
const SETTLE: Duration = Duration::from_millis(150);

/// Sets keys of a ConfigMap or Secret in the environment's apps (other keys stay).
pub fn set_data(
    env: &mut Env,
    source: &ProjectionSource,
    data: &BTreeMap<String, Vec<u8>>,
) -> std::result::Result<(), String> {
    let mut found = false;
    for app in &mut env.apps {
        match source {
            ProjectionSource::ConfigMap(name) => {
                if let Some(cm) = app.config_maps.iter_mut().find(|c| c.metadata.name.as_deref() == Some(name.as_str()))
                {
                    found = true;
                    let text = cm.data.get_or_insert_with(Default::default);
                    for (k, v) in data {
                        match String::from_utf8(v.clone()) {
                            Ok(t) => {
                                text.insert(k.clone(), t);
                            }
                            Err(e) => {
                                cm.binary_data
                                    .get_or_insert_with(Default::default)
                                    .insert(k.clone(), k8s_openapi::ByteString(e.into_bytes()));
                            }
                        }
                    }
                }
            }
            ProjectionSource::Secret(name) => {
                if let Some(s) = app.secrets.iter_mut().find(|c| c.metadata.name.as_deref() == Some(name.as_str())) {
                    found = true;
                    let d = s.data.get_or_insert_with(Default::default);
                    for (k, v) in data {
                        d.insert(k.clone(), k8s_openapi::ByteString(v.clone()));
                    }
                }
            }
            ProjectionSource::Empty | ProjectionSource::Projected(_) => {}
        }
    }
    if found {
        Ok(())
    } else {
        Err(format!("no {} named `{}` in the test's apps", kind(source), name_of(source)))
    }
}

fn kind(s: &ProjectionSource) -> &'static str {
    match s {
        ProjectionSource::ConfigMap(_) => "ConfigMap",
        ProjectionSource::Secret(_) => "Secret",
        ProjectionSource::Empty => "emptyDir",
        ProjectionSource::Projected(_) => "projected volume",
    }
}

fn name_of(s: &ProjectionSource) -> &str {
    match s {
        ProjectionSource::ConfigMap(n) | ProjectionSource::Secret(n) => n,
        ProjectionSource::Empty | ProjectionSource::Projected(_) => "",
    }
}

/// Projects the current data of every ConfigMap/Secret into `members` (all
/// played members when `None`), and reloads each member whose files changed.
pub fn apply(env: &Env, only: Option<&[Member]>, log: Log) -> Result<Vec<Report>> {
    let members: Vec<Member> = match only {
        Some(ms) => ms.to_vec(),
        None => env.members.iter().filter(|m| env.is_played(m)).cloned().collect(),
    };
    let reports: Vec<Result<Option<Report>>> = std::thread::scope(|s| {
        let hs: Vec<_> = members.iter().map(|m| s.spawn(move || apply_member(env, m, log))).collect();
        hs.into_iter().map(|h| h.join().unwrap_or(Ok(None))).collect()
    });
    let mut out = Vec::new();
    for r in reports {
        if let Some(rep) = r? {
            log(&rep.line());
            out.push(rep);
        }
    }
    Ok(out)
}

fn apply_member(env: &Env, m: &Member, log: Log) -> Result<Option<Report>> {
    let app = env.app(&m.app).expect("member of a known app");
    let role = app.role(&m.role).expect("member of a known role");
    let (_, rendered) = env.render_member(m)?;
    let before = env.states(m)?;
    let start = Instant::now();
    let mut changed_volumes = Vec::new();
    for p in rendered.projections.iter().filter(|p| p.source != ProjectionSource::Empty) {
        if env::project(app, p).map_err(|e| {
            crate::error::Error::runtime(format!("cannot project {} into {}", p.volume, m.pod)).because(e)
        })? {
            changed_volumes.push(p.volume.clone());
        }
    }
    if changed_volumes.is_empty() {
        return Ok(None);
    }
    let spec = role.template.spec.clone().unwrap_or_default();
    // The container to reload: the one the policy names, else the first that mounts a changed volume.
    let container = role
        .reload
        .as_ref()
        .and_then(|p| p.container.clone())
        .or_else(|| {
            spec.containers
                .iter()
                .find(|c| c.volume_mounts.iter().flatten().any(|vm| changed_volumes.contains(&vm.name)))
                .map(|c| c.name.clone())
        })
        .or_else(|| spec.containers.first().map(|c| c.name.clone()))
        .unwrap_or_default();
    let action = role.reload.as_ref().map(|p| p.action.clone()).unwrap_or(Action::Watch);
    let name = m.container(&container);
    let report = |outcome: Outcome, detail: String| {
        Ok(Some(Report { member: m.name.clone(), outcome, latency: start.elapsed(), detail }))
    };
    match &action {
        Action::Restart => {
            env.remove_members(std::slice::from_ref(m), log)?;
            env.start_pods(std::slice::from_ref(m), log)?;
            crate::lifecycle::on_restart(env, m, log)?;
            report(Outcome::Restarted, "pod recreated with the new config".into())
        }
        Action::Signal(sig) => {
            if let Err(e) = podman::kill(&name, sig) {
                return report(Outcome::Failed, format!("cannot send {sig}: {}", e.stderr.trim()));
            }
            match settle(env, m, &name, &before) {
                Ok(()) => report(Outcome::Succeeded, format!("{sig} sent to {container}")),
                Err(why) => report(Outcome::Failed, format!("{sig} sent to {container}, then {why}")),
            }
        }
        Action::Http { method, url } => {
            let parsed = match netns::parse_url(url) {
                Ok(u) => u,
                Err(e) => return report(Outcome::Failed, e),
            };
            let pid = if m.host_network { 0 } else { before.iter().find(|s| s.running).map(|s| s.pid).unwrap_or(0) };
            match netns::http(pid, method, &parsed, &[], b"", Duration::from_secs(10)) {
                Ok(r) if (200..300).contains(&r.status) => match unchanged(env, m, &name, &before) {
                    Ok(()) => report(Outcome::Succeeded, format!("{method} {url} -> {}", r.status)),
                    Err(why) => report(Outcome::Failed, format!("{method} {url} -> {}, but {why}", r.status)),
                },
                Ok(r) => report(Outcome::Failed, format!("{method} {url} -> {}: {}", r.status, r.body_text().trim())),
                Err(e) => report(Outcome::Failed, format!("{method} {url}: {e}")),
            }
        }
        Action::Watch => match settle(env, m, &name, &before) {
            Ok(()) => report(Outcome::Succeeded, "files projected; the app watches them".into()),
            Err(why) => report(Outcome::Failed, format!("files projected, then {why}")),
        },
    }
}

/// Checks the container is the same one, still running, not restarted.
fn unchanged(env: &Env, m: &Member, name: &str, before: &[ContainerState]) -> std::result::Result<(), String> {
    let now = env.states(m).map_err(|e| e.to_string())?;
    let (Some(b), Some(a)) = (before.iter().find(|s| s.name == name), now.iter().find(|s| s.name == name)) else {
        return Err(format!("container {name} is gone"));
    };
    if a.id != b.id {
        return Err(format!("container {name} was replaced"));
    }
    if !a.running {
        return Err(format!("the app exited (code {})", a.exit_code));
    }
    if a.restarts != b.restarts || a.started_at != b.started_at {
        return Err(format!("container {name} restarted (restarts {} -> {})", b.restarts, a.restarts));
    }
    Ok(())
}

/// Watches the container for `SETTLE`: a process that dies on the reload dies at once.
fn settle(env: &Env, m: &Member, name: &str, before: &[ContainerState]) -> std::result::Result<(), String> {
    let r = await_condition(SETTLE, Duration::from_millis(50), || match unchanged(env, m, name, before) {
        Ok(()) => Poll::Pending(None),
        Err(why) => Poll::Fail(why),
    });
    match r {
        Ok(()) | Err(crate::wait::WaitError::Timeout(_)) => Ok(()),
        Err(crate::wait::WaitError::Failed(why)) => Err(why),
        Err(crate::wait::WaitError::Interrupted) => Err("interrupted".into()),
    }
}
