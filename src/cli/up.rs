//! `podproof up`: reconcile the local environment to the definitions.
//!
//! New members are started (KubeDirector roles: configure, and addnodes to
//! the members already there); members whose pod spec changed are replaced
//! (configure again); members the definition no longer has get delnodes with
//! everyone else and are removed. Unchanged members are left alone.

use crate::app;
use crate::env::{Env, Member, Settings};
use crate::error::Result;
use crate::podman;
use crate::render;
use crate::state::{self, RunKind};
use crate::wait::{await_condition, Poll};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  podproof up fixtures/apps/prometheus/app.yaml\n  podproof up fixtures/apps/kd-centos/   # again after editing members: scales with events\n  podproof down --all"
)]
pub struct Args {
    /// App definitions (App files, manifests, `-`, or a KubeDirectorApp with its cluster)
    #[arg(required = true, value_name = "APP")]
    pub apps: Vec<String>,
    /// How long to wait for every member to be ready
    #[arg(long, default_value = "120s", value_parser = crate::wait::parse_duration)]
    pub timeout: Duration,
    /// Keep running: apply each saved change of the definitions and the files
    /// they reference (config: projection and reload; spec: replace; members:
    /// scale). Ctrl-C removes what this command started; apps that were up
    /// before it stay up.
    #[arg(long)]
    pub watch: bool,
    /// Allow a hostPath outside the project or at a sensitive host path (repeatable; see docs/security.md)
    #[arg(long = "allow-host-path", value_name = "PATH")]
    pub allow_host_path: Vec<PathBuf>,
    #[command(flatten)]
    pub fidelity: super::LedgerArgs,
    /// Stream the pods' events timeline (probes, restarts, back-offs) on stderr
    #[arg(short, long)]
    pub verbose: bool,
    /// Run image TO wherever a manifest names FROM: an exact image, a repository (any tag), or a prefix ending in `/` (repeatable; wins over `images:` in podproof.yaml)
    #[arg(long = "image", value_name = "FROM=TO")]
    pub images: Vec<String>,
}

pub fn run(a: Args) -> Result<i32> {
    crate::signals::install();
    let log = |s: &str| errln!("{s}");
    // Bad input is refused before anything starts, so it gets no `down` hint.
    super::allow_host_paths(&a.allow_host_path)?;
    let apps = load(&a)?;
    // The input is good, so podman will be called: its service starts now,
    // beside the rendering.
    crate::podman::warm();
    crate::fidelity::announce(
        &crate::app::ledger::of_run(&apps, crate::env::Settings::default().grace, &podman_version),
        a.fidelity.ledger,
        a.fidelity.strict,
        "`--ledger` lists them",
    )?;
    let refused: Vec<crate::error::Diagnostic> = apps.iter().flat_map(crate::hostpath::check_app).collect();
    if !refused.is_empty() {
        return Err(crate::error::Error::from_diagnostics("refused hostPaths; nothing was started", &refused));
    }
    // What was up before this command stays up when it is interrupted or its
    // watch ends: only what it started is removed.
    let before = podman::list_labelled(&format!("{}={}", render::LABEL_RUN, state::UP_ID))?;
    let names: Vec<String> = apps.iter().map(|a| a.name.clone()).collect();
    let env = match apply(&a, apps, &log) {
        Ok(env) => env,
        Err(e) if crate::signals::interrupted() => {
            errln!("interrupted: removing what this command started");
            if let Err(e) = remove_started(&before, &names, &log) {
                errln!("warning: {e}; `podproof down --all` removes the rest");
            }
            return Err(e);
        }
        Err(e) => return Err(e.context("podproof up failed; `podproof down --all` removes what was started")),
    };
    // `down NAME` has no definitions: it reads the preStop hooks from here.
    crate::env::save_stop_specs(&env);
    errln!("{} members ready", env.members.len());
    if !a.watch {
        return Ok(0);
    }
    watch(&a, env, &before, &log)
}

/// Removes the pods and volumes of `apps` in the `up` environment that were
/// not there `before` this command; the network and state go only when the
/// environment is then empty.
fn remove_started(before: &podman::Labelled, apps: &[String], log: &(dyn Fn(&str) + Sync)) -> Result<()> {
    let up = podman::list_labelled(&format!("{}={}", render::LABEL_RUN, state::UP_ID))?;
    let (mut pods, mut vols) = (Vec::new(), Vec::new());
    for name in apps {
        let mine = podman::list_labelled(&format!("{}={name}", render::LABEL_APP))?;
        pods.extend(mine.pods.into_iter().filter(|p| up.pods.contains(p) && !before.pods.contains(p)));
        vols.extend(mine.volumes.into_iter().filter(|v| up.volumes.contains(v) && !before.volumes.contains(v)));
    }
    podman::remove_listed(
        &podman::Labelled { pods: pods.clone(), volumes: vols.clone(), ..Default::default() },
        Duration::ZERO,
    )?;
    let dir = state::run_dir(state::UP_ID);
    for p in &pods {
        let _ = state::remove_inside(&dir, &dir.join("volumes").join(p));
        let _ = state::remove_inside(&dir, &dir.join("pods").join(format!("{p}.yaml")));
    }
    log(&format!("removed {} pods and {} volumes this command started", pods.len(), vols.len()));
    let left = podman::list_labelled(&format!("{}={}", render::LABEL_RUN, state::UP_ID))?;
    if left.pods.is_empty() && left.volumes.is_empty() {
        podman::remove_labelled(&format!("{}={}", render::LABEL_RUN, state::UP_ID), Duration::ZERO)?;
        state::remove(state::UP_ID)?;
    } else {
        log(&format!("{} pods that were up before stay up", left.pods.len()));
    }
    Ok(())
}

/// Reads the definitions again and applies them to the `up` environment; returns it.
fn reconcile(a: &Args, log: &(dyn Fn(&str) + Sync)) -> Result<Env> {
    let apps = load(a)?;
    // A change that adds something podproof does not honour is refused under --strict.
    if a.fidelity.strict {
        crate::fidelity::announce(
            &crate::app::ledger::of_run(&apps, crate::env::Settings::default().grace, &podman_version),
            false,
            true,
            "",
        )?;
    }
    apply(a, apps, log)
}

/// Loads the definitions and applies the run-time image map to them.
fn load(a: &Args) -> Result<Vec<app::App>> {
    let (_, config) = crate::config::load(&std::env::current_dir().unwrap_or_default())?;
    let map = crate::imagemap::merge([&config.image_map()[..], &crate::imagemap::parse_flags(&a.images)?[..]]);
    let (mut apps, warnings) = app::load(&a.apps).into_result()?;
    super::print_warnings(&warnings);
    for app in &mut apps {
        for r in crate::imagemap::apply(app, &map) {
            errln!("image {} runs as {} (image map)", r.from, r.to);
        }
    }
    Ok(apps)
}

/// Applies loaded apps to the `up` environment; returns it.
fn apply(a: &Args, apps: Vec<app::App>, log: &(dyn Fn(&str) + Sync)) -> Result<Env> {
    let settings = Settings::default();
    let mut env = Env::new(Vec::new(), state::UP_ID, "", RunKind::Up, settings)?;
    env.lifecycle = &crate::lifecycle::KubeDirector;
    env.kubelet.timeline.stream(a.verbose);
    for app in apps {
        env.add_app(app);
    }
    env.prepare_images(log)?;
    env.check_images()?;
    let up_pods = podman::list_labelled(&format!("{}={}", render::LABEL_RUN, state::UP_ID))?.pods;
    let (mut new, mut replaced) = (Vec::new(), Vec::new());
    for m in &env.members {
        if !up_pods.contains(&m.pod) {
            new.push(m.clone());
            continue;
        }
        let (pod, _) = env.render_member(m)?;
        let played = std::fs::read_to_string(env.played_file(m)).ok();
        env.adopt(m);
        if played.as_deref() == Some(crate::env::pod_yaml(&pod).as_str()) {
            log(&format!("{} unchanged", m.pod));
        } else {
            log(&format!("{} changed: replacing it", m.pod));
            replaced.push(m.clone());
        }
    }
    let leaving = leaving_members(&env, &up_pods);
    if !leaving.is_empty() {
        let staying: Vec<Member> = env.members.iter().filter(|m| env.is_played(m)).cloned().collect();
        crate::lifecycle::on_shrink(&env, &leaving, &staying, log)?;
        env.remove_members(&leaving, log)?;
        for m in &leaving {
            log(&format!("removed {}", m.pod));
        }
    }
    // Changed config data reaches unchanged members in place, with their reload.
    let unchanged: Vec<Member> =
        env.members.iter().filter(|m| env.is_played(m) && !replaced.iter().any(|r| r.pod == m.pod)).cloned().collect();
    crate::reloader::apply(&env, Some(&unchanged), None, a.timeout, log)?;
    let started = Instant::now();
    env.remove_members(&replaced, log)?;
    env.start_pods(&replaced, a.timeout, log)?;
    for m in &replaced {
        crate::lifecycle::on_restart(&env, m, log)?;
        log(&format!("replaced {} in {}ms", m.pod, started.elapsed().as_millis()));
    }
    // helm's install hooks run around an app's objects when this command
    // installs it (none of its pods was up), as `helm install` runs them; `down
    // NAME` reads the kept hooks back for the delete hooks.
    let installing: Vec<String> = env
        .apps
        .iter()
        .filter(|app| !app.hooks.is_empty())
        .filter(|app| !env.members.iter().any(|m| m.app == app.name && up_pods.contains(&m.pod)))
        .map(|app| app.name.clone())
        .collect();
    let dir = state::run_dir(state::UP_ID);
    for app in &env.apps {
        crate::helm::keep(&dir, app)
            .map_err(|e| crate::error::Error::runtime(format!("cannot keep the hooks of `{}`: {e}", app.name)))?;
    }
    crate::helm::run_of(&mut env, "pre-install", Some(&installing), a.timeout, log)?;
    // Event lines are logged as they happen.
    env.start(&new, a.timeout, log)?;
    crate::helm::run_of(&mut env, "post-install", Some(&installing), a.timeout, log)?;
    Ok(env)
}

/// The files an environment's definitions came from, with their modification times.
fn watched(a: &Args, env: &Env) -> Vec<(PathBuf, Option<SystemTime>)> {
    let mut files: Vec<PathBuf> =
        env.apps.iter().flat_map(|app| app.inputs.iter().filter_map(|i| i.path.clone())).collect();
    for arg in &a.apps {
        let p = PathBuf::from(arg);
        if p.is_dir() {
            files.extend(
                std::fs::read_dir(&p)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| app::load::is_definition_file(p)),
            );
        } else if arg != "-" {
            files.push(p);
        }
    }
    files.sort();
    files.dedup();
    files
        .into_iter()
        .map(|f| {
            let t = std::fs::metadata(&f).and_then(|m| m.modified()).ok();
            (f, t)
        })
        .collect()
}

/// Polls the watched files and applies each change until SIGINT/SIGTERM,
/// then tears the environment down.
fn watch(a: &Args, mut env: Env, before: &podman::Labelled, log: &(dyn Fn(&str) + Sync)) -> Result<i32> {
    let mut seen = watched(a, &env);
    log(&format!("watching {} files; Ctrl-C stops and removes what this command started", seen.len()));
    loop {
        let changed = await_condition(Duration::from_secs(100 * 365 * 24 * 3600), Duration::from_millis(200), || {
            let now = watched(a, &env);
            if now != seen {
                Poll::Ready(now)
            } else {
                Poll::<_, ()>::Pending(None)
            }
        });
        let now = match changed {
            Ok(now) => now,
            Err(_) => break,
        };
        let start = Instant::now();
        match reconcile(a, log) {
            Ok(e) => {
                log(&format!("change applied in {}ms", start.elapsed().as_millis()));
                env = e;
            }
            Err(e) => log(&format!("change not applied: {}", e.to_string().trim_start_matches("error: "))),
        }
        // A failed change keeps the files' new times, so it is not retried until saved again.
        seen = if now.len() >= watched(a, &env).len() { now } else { watched(a, &env) };
    }
    log("stopping: removing what this command started");
    let names: Vec<String> = env.apps.iter().map(|a| a.name.clone()).collect();
    remove_started(before, &names, log)?;
    drop(env);
    Ok(0)
}

/// Pods of these apps in the `up` environment that the definitions no longer
/// have, as members (highest index last), so they can get delnodes first.
fn leaving_members(env: &Env, up_pods: &[String]) -> Vec<Member> {
    let mut out = Vec::new();
    for app in &env.apps {
        for role in &app.roles {
            let app::Naming::Indexed(prefix) = &role.naming else { continue };
            for pod in up_pods {
                let Some(idx) = pod.strip_prefix(&format!("{prefix}-")).and_then(|i| i.parse::<u32>().ok()) else {
                    continue;
                };
                if idx >= role.members {
                    out.push(env.member_of(app, role, idx));
                }
            }
        }
    }
    out.sort_by_key(|m| m.index);
    out
}

/// The podman version as the ledger needs it, when podman answers.
fn podman_version() -> Option<(u32, u32)> {
    crate::podman::version().ok().map(|v| (v.major, v.minor))
}
