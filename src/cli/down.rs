//! `podproof down`: stop and remove apps of the `up` environment (or a kept test run).

use crate::env::{down, Env, Log, Settings};
use crate::error::{Error, Result};
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
        down::remove_run(id, a.grace, log)?;
        return Ok(0);
    }
    if a.all {
        down::remove_run(state::UP_ID, a.grace, log)?;
        return Ok(0);
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
        let objects = down::up_objects(&name)?;
        if objects.is_empty() {
            // A failed install hook can outlive its app's pods; it goes too.
            let stale = down::remove_hook_pods(&hooks, a.grace)?;
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
        down::remove_up_app(env.as_ref(), &name, &objects, a.grace, log)?;
        if let Some(e) = env.as_mut() {
            crate::helm::run_of(e, "post-delete", Some(&only), a.timeout, log)?;
        }
        // The hook pods no delete policy removed go with their app, as they
        // would with its namespace: nothing of it stays in the environment.
        let hook_pods = down::remove_hook_pods(&hooks, a.grace)?;
        crate::helm::forget(&dir, &name);
        errln!("{name}: removed {} pods, {} volumes", objects.pods.len() + hook_pods.len(), objects.volumes.len());
    }
    // The network goes with the last app.
    if down::up_is_empty()? {
        down::remove_run(state::UP_ID, a.grace, log)?;
    }
    Ok(0)
}
