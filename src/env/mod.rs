//! A local environment: apps played into podman and driven like a controller.
//!
//! An environment owns a run id, a podman network with DNS (so members reach
//! each other by name, and parallel runs never collide), a state directory,
//! and one pod per member. Every podman object it makes carries the labels
//! `podproof.dev/run=<id>` and `podproof.dev/app`, so teardown can sweep by
//! label and nothing is left behind even after a half-made `kube play`.
//!
//! `Env` is one type with its methods in files by concept: `run.rs` (the run's
//! labels, the objects it tracks, teardown and `TeardownGuard`), `pods.rs`
//! (play, init containers and sidecars, hooks, start, scale, stop and removal),
//! `ready.rs` (container states and the waits of a start), `network.rs` (the
//! network, the names members answer to, DNS checks, the bridge), `images.rs`
//! (building and checking images), `projections.rs` (the files of
//! ConfigMap, Secret, projected and emptyDir volumes) and `hooks.rs` (the
//! lifecycle hooks a start or shrink calls: KubeDirector's events). This file holds the
//! types and what they all use: members, rendering a member, the state files.

use crate::app::{App, Role};
use crate::error::{Error, Result};
use crate::podman;
use crate::render::{self, podman as podman_render, Options, Rendered, RunContext};
use crate::state::{self, RunKind};
use k8s_openapi::api::core::v1 as core;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod addresses;
pub mod down;
mod hooks;
mod images;
mod network;
mod pods;
mod projections;
mod ready;
mod run;
mod stop;

pub use hooks::{LifecycleHooks, NoHooks};
pub use network::{domain, fqdn, kd_service};
pub use pods::{is_sidecar, pod_yaml};
pub use projections::{payload, project};
pub use run::{Teardown, TeardownGuard};
pub use stop::{save_stop_specs, stop_spec};

/// Where progress lines go (stderr for `up`, the test's log for `test`).
pub type Log<'a> = &'a (dyn Fn(&str) + Sync);

/// One member pod of the environment.
#[derive(Debug, Clone)]
pub struct Member {
    pub app: String,
    pub role: String,
    pub index: u32,
    /// The stable member name (`<app>-<role>-<index>`): hostname and DNS name.
    pub name: String,
    /// The podman pod name (the member name plus the run suffix).
    pub pod: String,
    pub host_network: bool,
    /// Container names as written in the spec.
    pub containers: Vec<String>,
    pub aliases: Vec<String>,
}

impl Member {
    /// podman's name for a container of this pod.
    pub fn container(&self, name: &str) -> String {
        format!("{}-{name}", self.pod)
    }

    pub fn podman_containers(&self) -> Vec<String> {
        self.containers.iter().map(|c| self.container(c)).collect()
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long containers get to stop (bounded by terminationGracePeriodSeconds).
    pub grace: Duration,
    /// CrashLoopBackOff of the pod workers (Kubernetes' 10 s to 5 min unless
    /// podproof.yaml scales it).
    pub backoff: crate::kubelet::Backoff,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { grace: Duration::from_secs(2), backoff: crate::kubelet::Backoff::default() }
    }
}

pub struct Env {
    pub run: RunContext,
    pub kind: RunKind,
    pub dir: PathBuf,
    pub network: String,
    pub apps: Vec<App>,
    pub members: Vec<Member>,
    pub settings: Settings,
    /// Pods this process has played and not removed, so that no podman call
    /// is spent asking what it already knows.
    played: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Volumes this process created; with `played`, all that a clean teardown removes.
    volumes: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Set when something may have been made that is not tracked (a failed
    /// play); teardown then sweeps by label.
    untracked: std::sync::atomic::AtomicBool,
    network_ready: std::sync::atomic::AtomicBool,
    /// Per pod, the last states that found every container running, with the
    /// start time of each main process (see `states_fresh`).
    known: std::sync::Mutex<std::collections::BTreeMap<String, ready::KnownStates>>,
    /// The run network's subnet and the address of each pod in it.
    addresses: std::sync::Mutex<addresses::Table>,
    /// The pod workers, their status cache and the events timeline.
    pub kubelet: crate::kubelet::Kubelet,
    /// What starts and shrinks run beyond the pods (KubeDirector's events);
    /// `NoHooks` until the caller sets them.
    pub lifecycle: &'static dyn LifecycleHooks,
}
impl Env {
    /// Makes the state directory of a new environment (no podman objects yet).
    pub fn new(apps: Vec<App>, id: &str, suffix: &str, kind: RunKind, settings: Settings) -> Result<Env> {
        let dir =
            state::create(id, kind).map_err(|e| Error::runtime(format!("cannot create state for run {id}: {e}")))?;
        crate::signals::track(id);
        let run = RunContext { id: id.to_string(), suffix: suffix.to_string() };
        let kubelet = crate::kubelet::Kubelet::new(id, Instant::now(), settings.backoff);
        let mut env = Env {
            kubelet,
            lifecycle: &NoHooks,
            network: format!("podproof-{id}"),
            run,
            kind,
            dir,
            apps: Vec::new(),
            members: Vec::new(),
            settings,
            played: Default::default(),
            volumes: Default::default(),
            untracked: Default::default(),
            network_ready: Default::default(),
            known: Default::default(),
            addresses: Default::default(),
        };
        for app in apps {
            env.add_app(app);
        }
        Ok(env)
    }

    /// Adds an app's members (without starting them).
    pub fn add_app(&mut self, app: App) {
        // Its Secret values are hidden from every output from now on.
        for s in &app.secrets {
            for v in s.data.iter().flat_map(|d| d.values()) {
                crate::redact::add(&v.0);
            }
            for v in s.string_data.iter().flat_map(|d| d.values()) {
                crate::redact::add_str(v);
            }
        }
        for role in &app.roles {
            for i in 0..role.members {
                self.members.push(self.member_of(&app, role, i));
            }
        }
        self.apps.push(app);
    }

    pub fn member_of(&self, app: &App, role: &Role, index: u32) -> Member {
        let name = role.member_name(index);
        let spec = role.template.spec.clone().unwrap_or_default();
        let mut aliases = vec![name.clone()];
        if app.kubedirector.is_some() || role.has_events() {
            aliases.push(fqdn(app, &name));
        }
        Member {
            app: app.name.clone(),
            role: role.name.clone(),
            index,
            pod: render::run_name(&name, Some(&self.run)),
            name,
            host_network: spec.host_network == Some(true),
            containers: spec.containers.iter().map(|c| c.name.clone()).collect(),
            aliases,
        }
    }

    pub fn app(&self, name: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.name == name)
    }

    pub fn role_of(&self, m: &Member) -> Option<&Role> {
        self.app(&m.app)?.role(&m.role)
    }

    fn render_options(&self, m: &Member) -> Options {
        Options {
            flavor: render::Flavor::Podman,
            volume_root: self.dir.join("volumes"),
            relative_to: None,
            reveal_secrets: true,
            run: Some(self.run.clone()),
            addresses: self.addresses_of(m),
        }
    }

    /// The pod of a member as it would be played now, with what it needs on the host.
    pub fn render_member(&self, m: &Member) -> Result<(core::Pod, Rendered)> {
        let app = self.app(&m.app).ok_or_else(|| Error::runtime(format!("unknown app {}", m.app)))?;
        let role = app.role(&m.role).ok_or_else(|| Error::runtime(format!("unknown role {}", m.role)))?;
        let mut out = Rendered::empty(&app.name);
        let mut pod =
            podman_render::member_pod(app, role, &m.name, &self.render_options(m), &mut out).map_err(|e| {
                let located: Vec<String> =
                    out.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
                Error::bad_input(
                    format!("cannot render pod {}", m.name),
                    if located.is_empty() { vec![e] } else { located },
                )
            })?;
        podman_render::as_cluster_runtime(&mut pod);
        Ok((pod, out))
    }

    /// The file a member's played YAML is kept in.
    pub fn played_file(&self, m: &Member) -> PathBuf {
        self.dir.join("pods").join(format!("{}.yaml", m.pod))
    }

    /// The pod spec of a member as written (probes, hooks and restartPolicy included).
    pub fn spec_of(&self, m: &Member) -> core::PodSpec {
        self.role_of(m).and_then(|r| r.template.spec.clone()).unwrap_or_default()
    }

    /// The last 50 log lines of each container of a member.
    pub fn logs_of(&self, m: &Member) -> String {
        let mut out = String::new();
        for c in &m.containers {
            let name = m.container(c);
            match podman::logs(&name, Some(50)) {
                Ok(l) if l.trim().is_empty() => out.push_str(&format!("logs of {name}: (empty)\n")),
                Ok(l) => out.push_str(&format!("logs of {name}:\n{}\n", indent(l.trim_end()))),
                Err(e) => out.push_str(&format!("logs of {name}: unavailable ({})\n", e.stderr.trim())),
            }
        }
        out.trim_end().to_string()
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    std::io::Write::write_all(&mut f, bytes)?;
    Ok(())
}
