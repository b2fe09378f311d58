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
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  podproof up fixtures/apps/prometheus/app.yaml\n  podproof up fixtures/apps/kd-centos/   # again after editing members: scales with events\n  podproof down --all")]
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
            eprintln!("{} unchanged", m.pod);
        } else {
            eprintln!("{} changed: replacing it", m.pod);
            replaced.push(m.clone());
        }
    }
    let leaving = leaving_members(&env, &up_pods);
    let result = (|| -> Result<Vec<String>> {
        let mut lines = Vec::new();
        if !leaving.is_empty() {
            let staying: Vec<Member> = env.members.iter().filter(|m| env.is_played(m)).cloned().collect();
            lines.extend(crate::lifecycle::on_shrink(&env, &leaving, &staying, &log)?);
            env.remove_members(&leaving, &log)?;
        }
        // Changed config data reaches unchanged members in place, with their reload.
        let unchanged: Vec<Member> = env.members.iter().filter(|m| env.is_played(m) && !replaced.iter().any(|r| r.pod == m.pod)).cloned().collect();
        crate::reloader::apply(&env, Some(&unchanged), &log)?;
        env.remove_members(&replaced, &log)?;
        env.start_pods(&replaced, &log)?;
        for m in &replaced {
            lines.extend(crate::lifecycle::on_restart(&env, m, &log)?);
        }
        lines.extend(env.start(&new, &log)?);
        Ok(lines)
    })();
    match result {
        Ok(lines) => lines.iter().for_each(|l| eprintln!("{l}")),
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

/// Pods of these apps in the `up` environment that the definitions no longer
/// have, as members (highest index last), so they can get delnodes first.
fn leaving_members(env: &Env, up_pods: &[String]) -> Vec<Member> {
    let mut out = Vec::new();
    for app in &env.apps {
        for role in &app.roles {
            let app::Naming::Indexed(prefix) = &role.naming else { continue };
            for pod in up_pods {
                let Some(idx) = pod.strip_prefix(&format!("{prefix}-")).and_then(|i| i.parse::<u32>().ok()) else { continue };
                if idx >= role.members {
                    out.push(env.member_of(app, role, idx));
                }
            }
        }
    }
    out.sort_by_key(|m| m.index);
    out
}
