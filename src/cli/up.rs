//! `podproof up`: reconcile the local environment to the definitions.

use crate::app;
use crate::env::{Env, Settings};
use crate::error::Result;
use crate::podman;
use crate::render;
use crate::state::{self, RunKind};
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  podproof up fixtures/apps/prometheus/app.yaml\n  podproof up fixtures/apps/kd-centos/\n  podproof down --all")]
pub struct Args {
    /// App definitions (App files, manifests, `-`, or a KubeDirectorApp with its cluster)
    #[arg(required = true, value_name = "APP")]
    pub apps: Vec<String>,
    /// How long to wait for every member to be ready
    #[arg(long, default_value = "120s", value_parser = crate::wait::parse_duration)]
    pub timeout: Duration,
}

pub fn run(a: Args) -> Result<i32> {
    crate::signals::install();
    let (apps, warnings) = app::load(&a.apps).into_result()?;
    super::print_warnings(&warnings);
    let settings = Settings { ready_timeout: a.timeout, ..Settings::default() };
    let mut env = Env::new(Vec::new(), state::UP_ID, "", RunKind::Up, settings)?;
    let log = |s: &str| eprintln!("{s}");
    for app in apps {
        env.add_app(app);
    }
    env.prepare_images(&log)?;
    env.check_images()?;
    let mut to_start = Vec::new();
    for m in &env.members {
        let (pod, _) = env.render_member(m)?;
        let wanted = crate::env::pod_yaml(&pod);
        let played = std::fs::read_to_string(env.played_file(m)).ok();
        let exists = podman::pod_exists(&m.pod)?;
        if exists && played.as_deref() == Some(wanted.as_str()) {
            eprintln!("{} unchanged", m.pod);
            continue;
        }
        if exists {
            eprintln!("{} changed: replacing it", m.pod);
            env.remove_members(std::slice::from_ref(m), &log)?;
        }
        to_start.push(m.clone());
    }
    // Members of these apps that the definitions no longer have.
    let names: Vec<String> = env.apps.iter().map(|a| a.name.clone()).collect();
    for app_name in &names {
        let filter = format!("{}={}", render::LABEL_APP, app_name);
        let pods = podman::list_labelled(&filter)?.pods;
        for pod in pods {
            if !env.members.iter().any(|m| m.pod == pod) && is_up_pod(&pod)? {
                eprintln!("{pod} is no longer defined: removing it");
                podman::pod_rm(std::slice::from_ref(&pod), env.settings.grace)?;
            }
        }
    }
    match env.start(&to_start, &log) {
        Ok(()) => {}
        Err(e) if crate::signals::interrupted() => {
            eprintln!("interrupted: tearing down");
            env.teardown(&log)?;
            return Err(e);
        }
        Err(e) => return Err(e.context("podproof up failed; `podproof down --all` removes what was started")),
    }
    eprintln!("{} members ready", env.members.len());
    Ok(0)
}

fn is_up_pod(pod: &str) -> Result<bool> {
    let l = podman::list_labelled(&format!("{}={}", render::LABEL_RUN, state::UP_ID))?;
    Ok(l.pods.iter().any(|p| p == pod))
}
