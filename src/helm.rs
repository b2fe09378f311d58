//! Helm hooks: the objects a chart annotates `helm.sh/hook`, which are not part
//! of the app but run at the moments their events name.
//!
//! The rules are helm's (helm/helm pkg/action/hooks.go `execHook` and
//! pkg/release/hook.go, ported, not copied): the hooks of one event run one at a
//! time in `helm.sh/hook-weight` order (ties by name); a hook without a delete
//! policy gets `before-hook-creation`; each hook must succeed before the next
//! starts, and the first that fails ends the event (its logs are shown, and
//! `hook-failed` removes it); when all succeeded, `hook-succeeded` removes them,
//! last first. podproof runs hook Pods and Jobs (a Job as one pod of its
//! template); see docs/helm.md for what it does not honour. What a hook is,
//! read from its annotations while loading, is the model's (`app::hooks`).

use crate::app::hooks::{hook_role, ordered, Hook};
use crate::app::{App, Naming, Role};
use crate::env::{Env, Member};
use crate::error::{Error, Result};
use crate::wait::{await_condition, Poll, WaitError};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn has_policy(h: &Hook, policy: &str) -> bool {
    if h.delete_policies.is_empty() {
        return policy == "before-hook-creation";
    }
    h.delete_policies.iter().any(|p| p == policy)
}

/// The app a hook pod is played as: the hook's app with the hook as its only
/// role, so it sees the app's ConfigMaps, Secrets and Services.
fn hook_app(app: &App, h: &Hook) -> App {
    let mut a = app.clone();
    a.name = hook_app_name(&app.name, &h.name);
    a.roles = vec![h.role.clone()];
    a.hooks = Vec::new();
    a.images = Vec::new();
    a
}

/// Runs the hooks of `event` of every app in `env`, as helm does; returns one
/// line per hook run. A hook that fails is an error with its logs.
pub fn run(env: &mut Env, event: &str, timeout: Duration, log: &(dyn Fn(&str) + Sync)) -> Result<Vec<String>> {
    run_of(env, event, None, timeout, log)
}

/// `run` for the apps named in `only` (all of them when `None`): `up` installs
/// some apps of an environment while others stay as they were.
pub fn run_of(
    env: &mut Env,
    event: &str,
    only: Option<&[String]>,
    timeout: Duration,
    log: &(dyn Fn(&str) + Sync),
) -> Result<Vec<String>> {
    let chosen = |a: &App| only.is_none_or(|names| names.contains(&a.name));
    let apps: Vec<App> = env.apps.iter().filter(|a| !a.hooks.is_empty() && chosen(a)).cloned().collect();
    let mut lines = Vec::new();
    for app in &apps {
        let hooks = ordered(app, event);
        if hooks.is_empty() {
            continue;
        }
        // pre-install hooks run before any member made the run's network.
        env.ensure_network()?;
        let mut done: Vec<Member> = Vec::new();
        for h in &hooks {
            let happ = hook_app(app, h);
            env.apps.retain(|a| a.name != happ.name);
            let m = env.member_of(&happ, &h.role, 0);
            env.apps.push(happ);
            if has_policy(h, "before-hook-creation") && crate::podman::pod_exists(&m.pod)? {
                env.remove_members(std::slice::from_ref(&m), log)?;
            }
            log(&format!("{event} hook {} {} (weight {})", h.kind, h.name, h.weight));
            names_resolve(env, timeout, log);
            env.play(&m, timeout, log)?;
            match wait_done(env, &m, timeout) {
                Ok(()) => {
                    lines.push(format!("{event} hook {} succeeded", h.name));
                    done.push(m);
                }
                Err(why) => {
                    let logs = env.logs_of(&m);
                    if has_policy(h, "hook-failed") {
                        env.remove_members(std::slice::from_ref(&m), log)?;
                    }
                    return Err(
                        Error::failed(format!("{event} hook {} {} failed: {why}", h.kind, h.name)).because(logs)
                    );
                }
            }
        }
        for (h, m) in hooks.iter().zip(&done).rev() {
            if has_policy(h, "hook-succeeded") {
                env.remove_members(std::slice::from_ref(m), log)?;
            }
        }
    }
    Ok(lines)
}

/// Waits until the Service names of the members that are up resolve on the
/// run's network. A hook pod starts, looks its peers up once and ends: unlike a
/// member, it cannot wait out aardvark-dns (podman 4.3) missing an update, which
/// `Env::ensure_dns` checks only where a member has a peer to ask from.
fn names_resolve(env: &Env, timeout: Duration, log: &(dyn Fn(&str) + Sync)) {
    let mut checks = Vec::new();
    for m in env.members.iter().filter(|m| env.is_played(m) && !m.host_network) {
        let Ok(states) = env.states_fresh(m) else { continue };
        let Some(st) = states.iter().find(|s| s.running && !s.ip.is_empty()) else { continue };
        let (Ok(ip), Ok(gw)) = (st.ip.parse::<std::net::Ipv4Addr>(), st.gateway.parse::<std::net::Ipv4Addr>()) else {
            continue;
        };
        let Ok((pod, _)) = env.render_member(m) else { continue };
        for name in env.service_aliases(&pod) {
            checks.push((st.pid, gw, name, ip));
        }
    }
    if checks.is_empty() {
        return;
    }
    let mut polls = 0u32;
    let r = await_condition(timeout.min(Duration::from_secs(15)), Duration::from_millis(200), || {
        let missing = checks.iter().find(|(pid, gw, name, ip)| {
            !crate::netns::dns_a(*pid, *gw, name, Duration::from_millis(300)).is_ok_and(|a| a.contains(ip))
        });
        match missing {
            None => Poll::Ready(()),
            Some((_, _, name, _)) => {
                polls += 1;
                if polls.is_multiple_of(10) {
                    crate::podman::reload_aardvark();
                }
                Poll::Pending(Some(name.clone()))
            }
        }
    });
    if let Err(WaitError::Timeout(Some(name))) = r {
        log(&format!("warning: {name} does not resolve on {} before the hook starts", env.network));
    }
}

/// Waits until every container of a hook pod has exited: success is every
/// exit code 0, as a Pod's phase Succeeded (or a Job's completion) is.
fn wait_done(env: &Env, m: &Member, timeout: Duration) -> std::result::Result<(), String> {
    let r = await_condition(timeout, Duration::from_millis(200), || match env.states(m) {
        Err(e) => Poll::Pending(Some(e.to_string())),
        Ok(states) if states.is_empty() => Poll::Pending(Some("its containers do not exist yet".into())),
        Ok(states) if states.iter().any(|s| s.running || s.status == "created" || s.status == "initialized") => {
            Poll::Pending(Some("it is still running".into()))
        }
        Ok(states) => match states.iter().find(|s| s.exit_code != 0) {
            Some(s) => Poll::Fail(format!("container {} exited with {}", s.name, s.exit_code)),
            None => Poll::Ready(()),
        },
    });
    match r {
        Ok(()) => Ok(()),
        Err(WaitError::Timeout(why)) => Err(format!(
            "it did not finish within {}s{}",
            timeout.as_secs(),
            why.map(|w| format!(" ({w})")).unwrap_or_default()
        )),
        Err(WaitError::Interrupted) => Err("interrupted".into()),
        Err(WaitError::Failed(e)) => Err(e),
    }
}

/// The name of the app a hook pod of `app` is played as (its pods' app label).
pub fn hook_app_name(app: &str, hook: &str) -> String {
    format!("{app}-hook-{hook}")
}

/// What `up` keeps of an app's hooks in the run's state directory, so that
/// `podproof down NAME`, given no files, still runs the delete hooks: each
/// hook's pod template and the ConfigMaps, Secrets and Services it may read.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Kept {
    hooks: Vec<KeptHook>,
    config_maps: Vec<k8s_openapi::api::core::v1::ConfigMap>,
    secrets: Vec<k8s_openapi::api::core::v1::Secret>,
    services: Vec<k8s_openapi::api::core::v1::Service>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeptHook {
    name: String,
    kind: String,
    events: Vec<String>,
    weight: i32,
    delete_policies: Vec<String>,
    template: k8s_openapi::api::core::v1::PodTemplateSpec,
}

/// The file in `run_dir` that keeps the hooks of `app`; app names are DNS
/// labels, and `check_file_name` keeps the join inside the directory anyway.
fn kept_file(run_dir: &Path, app: &str) -> std::io::Result<PathBuf> {
    let name = format!("{app}.json");
    crate::state::check_file_name(&name)?;
    Ok(run_dir.join("hooks").join(name))
}

/// Keeps the hooks of `app` in `run_dir` (or forgets them when it has none).
pub fn keep(run_dir: &Path, app: &App) -> std::io::Result<()> {
    let path = kept_file(run_dir, &app.name)?;
    if app.hooks.is_empty() {
        return crate::state::remove_inside(run_dir, &path);
    }
    let kept = Kept {
        hooks: app
            .hooks
            .iter()
            .map(|h| KeptHook {
                name: h.name.clone(),
                kind: h.kind.clone(),
                events: h.events.clone(),
                weight: h.weight,
                delete_policies: h.delete_policies.clone(),
                template: h.role.template.clone(),
            })
            .collect(),
        config_maps: app.config_maps.clone(),
        secrets: app.secrets.clone(),
        services: app.services.clone(),
    };
    let dir = run_dir.join("hooks");
    std::fs::create_dir_all(&dir)?;
    let bytes = serde_json::to_vec(&kept).map_err(std::io::Error::other)?;
    let path = crate::state::write_file_in(&dir, &format!("{}.json", app.name), &bytes)?;
    // It holds the app's Secrets, like the played YAML, which is 0600 too.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// The hooks `up` kept for the app `name`, as an app with no roles.
pub fn kept(run_dir: &Path, name: &str) -> Option<App> {
    let bytes = std::fs::read(kept_file(run_dir, name).ok()?).ok()?;
    let kept: Kept = serde_json::from_slice(&bytes).ok()?;
    let mut app = App::empty(name.to_string(), crate::app::Form::Manifests, Vec::new(), run_dir.to_path_buf());
    app.config_maps = kept.config_maps;
    app.secrets = kept.secrets;
    app.services = kept.services;
    app.hooks = kept
        .hooks
        .into_iter()
        .map(|h| Hook {
            role: hook_role(Role {
                name: h.name.clone(),
                workload: None,
                members: 1,
                naming: Naming::Single(h.name.clone()),
                template: h.template,
                claim_templates: Vec::new(),
                config_package: None,
                event_list: None,
                reload: None,
                cardinality: None,
                origin: None,
            }),
            name: h.name,
            kind: h.kind,
            events: h.events,
            weight: h.weight,
            delete_policies: h.delete_policies,
        })
        .collect();
    Some(app)
}

/// Forgets the hooks kept for `name`.
pub fn forget(run_dir: &Path, name: &str) {
    if let Ok(path) = kept_file(run_dir, name) {
        let _ = crate::state::remove_inside(run_dir, &path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_hooks_come_back_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let mut app = App::empty("web".into(), crate::app::Form::Manifests, Vec::new(), dir.path().to_path_buf());
        let role = |name: &str| Role {
            name: name.into(),
            workload: None,
            members: 3,
            naming: Naming::Indexed(name.into()),
            template: Default::default(),
            claim_templates: Vec::new(),
            config_package: None,
            event_list: None,
            reload: None,
            cardinality: None,
            origin: None,
        };
        for (name, events, weight) in [("b", "pre-delete", 2), ("a", "pre-delete,post-delete", -1)] {
            let events = events.split(',').map(String::from).collect();
            let role = hook_role(role(name));
            app.hooks.push(Hook {
                name: name.into(),
                kind: "Job".into(),
                events,
                weight,
                delete_policies: vec!["hook-succeeded".into()],
                role,
            });
        }
        keep(dir.path(), &app).unwrap();
        let file = dir.path().join("hooks/web.json");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        let back = kept(dir.path(), "web").expect("kept");
        let got: Vec<String> = ordered(&back, "pre-delete")
            .iter()
            .map(|h| {
                format!(
                    "{} {} {:?} {:?} {} {:?}",
                    h.name, h.weight, h.events, h.delete_policies, h.role.members, h.role.naming
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                r#"a -1 ["pre-delete", "post-delete"] ["hook-succeeded"] 1 Single("a")"#,
                r#"b 2 ["pre-delete"] ["hook-succeeded"] 1 Single("b")"#
            ]
        );
        // An app without hooks forgets what was kept; an unknown app has none.
        app.hooks.clear();
        keep(dir.path(), &app).unwrap();
        assert!(!file.exists() && kept(dir.path(), "web").is_none() && kept(dir.path(), "../x").is_none());
    }
}
