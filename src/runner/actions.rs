//! One function per step action. `runner::StepContext::act` dispatches to
//! them; each performs its action once (`within` retries only the observing
//! ones, see `Action::observes`), and returns what it observed.

use super::{find_member, Observed, StepContext};
use crate::env::{is_sidecar, Env, Log, Member};
use crate::error::Error;
use crate::podman;
use crate::scenario::{self, Expect, Test};
use crate::wait::{await_condition, Poll, WaitError};
use std::time::Duration;

/// A step's error as its report shows it: without the "error: " prefix.
fn err(e: Error) -> String {
    e.to_string().trim_start_matches("error: ").to_string()
}

/// `up`: plays the members not running yet, between helm's install hooks.
pub(super) fn up(env: &mut Env, timeout: Duration, log: Log) -> std::result::Result<Observed, String> {
    let pending: Vec<Member> = env.unplayed();
    // helm's install hooks run around the release's objects.
    let mut lines = crate::helm::run(env, "pre-install", timeout, log).map_err(err)?;
    lines.extend(env.start(&pending, timeout, log).map_err(err)?);
    lines.extend(crate::helm::run(env, "post-install", timeout, log).map_err(err)?);
    Ok(Observed { output: Some(lines.join("\n")), ..Default::default() })
}

/// `down`: removes every member and the run's volumes, between helm's delete hooks.
pub(super) fn down(env: &mut Env, timeout: Duration, log: Log) -> std::result::Result<Observed, String> {
    let members = env.members.clone();
    let mut lines = crate::helm::run(env, "pre-delete", timeout, log).map_err(err)?;
    env.remove_members(&members, log).map_err(err)?;
    lines.extend(crate::helm::run(env, "post-delete", timeout, log).map_err(err)?);
    env.remove_volumes().map_err(err)?;
    Ok(Observed { output: (!lines.is_empty()).then(|| lines.join("\n")), ..Default::default() })
}

/// `http`: one request from inside the pod's network namespace.
pub(super) fn http(env: &Env, h: &scenario::HttpAction, timeout: Duration) -> std::result::Result<Observed, String> {
    let m = find_member(env, &h.pod)?;
    let states = env.states_fresh(&m).map_err(err)?;
    let c = m.containers.first().cloned().unwrap_or_default();
    let t = env.target(&m, &c, &states);
    let host = h.host.clone().unwrap_or_else(|| if t.ip.is_empty() { "127.0.0.1".into() } else { t.ip.clone() });
    let url = crate::netns::Url { host, port: h.port, path: h.path.clone(), tls: false };
    let headers: Vec<(String, String)> = h.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let body = h.body.clone().unwrap_or_default();
    let r = crate::netns::http(
        t.netns_pid,
        &h.method,
        &url,
        &headers,
        body.as_bytes(),
        timeout.min(Duration::from_secs(10)),
    )
    .map_err(|e| format!("{} http://{}:{}{} from inside {}: {e}", h.method, url.host, url.port, url.path, m.pod))?;
    Ok(Observed { status: Some(r.status), body: Some(r.body_text()), ..Default::default() })
}

/// `exec`: runs a command in a container.
pub(super) fn exec(env: &Env, x: &scenario::ExecAction, timeout: Duration) -> std::result::Result<Observed, String> {
    let m = find_member(env, &x.pod)?;
    let c = container_of(env, &m, x.container.as_deref())?;
    let out = podman::exec_until(&m.container(&c), &x.command, x.stdin.as_deref().map(str::as_bytes), Some(timeout))
        .map_err(|e| err(e.into()))?;
    if podman::exec_failed(&out) {
        return Err(format!("cannot exec {:?} in {}: {}", x.command, m.container(&c), out.stderr.trim()));
    }
    Ok(Observed {
        exit_code: Some(out.status),
        stdout: Some(out.stdout),
        stderr: Some(out.stderr),
        ..Default::default()
    })
}

/// `logs`: a container's logs.
pub(super) fn logs(env: &Env, p: &scenario::PodRef) -> std::result::Result<Observed, String> {
    let m = find_member(env, &p.pod)?;
    let c = container_of(env, &m, p.container.as_deref())?;
    let out = podman::logs(&m.container(&c), None).map_err(|e| err(e.into()))?;
    Ok(Observed { output: Some(out), ..Default::default() })
}

/// `file`: a file's content, read in the container.
pub(super) fn file(env: &Env, f: &scenario::FileAction, timeout: Duration) -> std::result::Result<Observed, String> {
    let m = find_member(env, &f.pod)?;
    let c = container_of(env, &m, f.container.as_deref())?;
    let out = podman::exec_until(&m.container(&c), &["cat".to_string(), f.path.clone()], None, Some(timeout))
        .map_err(|e| err(e.into()))?;
    if out.status != 0 {
        return Err(format!("cannot read {} in {}: {}", f.path, m.container(&c), out.stderr.trim()));
    }
    Ok(Observed { content: Some(out.stdout), ..Default::default() })
}

/// `restart`: recreates a member's pod (see `runner::restart`), then its lifecycle events.
pub(super) fn restart(
    env: &mut Env,
    p: &scenario::PodRef,
    timeout: Duration,
    log: Log,
) -> std::result::Result<Observed, String> {
    let m = find_member(env, &p.pod)?;
    super::restart(env, &m, timeout, log).map_err(err)?;
    let lines = crate::lifecycle::on_restart(env, &m, log).map_err(err)?;
    Ok(Observed { output: Some(lines.join("\n")), ..Default::default() })
}

/// `kill`: sends a signal to a container.
pub(super) fn kill(env: &Env, k: &scenario::KillAction) -> std::result::Result<Observed, String> {
    let m = find_member(env, &k.pod)?;
    let c = container_of(env, &m, k.container.as_deref())?;
    let sig = crate::reload::parse_signal(&k.signal)?;
    podman::kill(&m.container(&c), &sig).map_err(|e| err(e.into()))?;
    Ok(Observed::default())
}

/// `sleep`: waits, interrupted by SIGINT/SIGTERM.
pub(super) fn sleep(d: Duration) -> std::result::Result<Observed, String> {
    crate::wait::pause(d);
    Ok(Observed::default())
}

/// `render`: the apps as the given flavour renders them.
pub(super) fn render(env: &Env, r: &scenario::RenderAction) -> std::result::Result<Observed, String> {
    let flavor: crate::render::Flavor = r.flavor.parse()?;
    let opts = crate::render::Options { flavor, ..Default::default() };
    let text: String = env.apps.iter().map(|a| crate::render::render(a, &opts).to_yaml()).collect();
    Ok(Observed { stdout: Some(text), ..Default::default() })
}

/// `scale`: a role or workload to a number of members, with KubeDirector's events.
pub(super) fn scale(
    env: &mut Env,
    sc: &scenario::ScaleAction,
    timeout: Duration,
    log: Log,
) -> std::result::Result<Observed, String> {
    let (app, role, n) = match (&sc.role, sc.members, &sc.workload, sc.replicas) {
        (Some(r), Some(n), _, _) => {
            let (app, role) = find_role(env, r, false)?;
            (app, role, n)
        }
        (_, _, Some(w), Some(n)) => {
            let (app, role) = find_role(env, w, true)?;
            (app, role, n)
        }
        _ => return Err("scale takes {role, members} or {workload, replicas}".into()),
    };
    let lines = env.scale(&app, &role, n, timeout, log).map_err(err)?;
    Ok(Observed { output: Some(lines.join("\n")), ..Default::default() })
}

/// `event`: sends one KubeDirector event again.
pub(super) fn event(env: &Env, ev: &scenario::EventAction, log: Log) -> std::result::Result<Observed, String> {
    let m = find_member(env, &ev.pod)?;
    let lines = crate::lifecycle::resend(env, &m, &ev.name, log).map_err(err)?;
    Ok(Observed { output: Some(lines.join("\n")), ..Default::default() })
}

impl StepContext<'_> {
    /// `config`: changes a ConfigMap or Secret and applies it with each member's
    /// reload policy (a `restart` policy recreates the pod within `timeout`);
    /// the step's reload latency and reports are kept for reports.
    pub(super) fn config(
        &mut self,
        env: &mut Env,
        c: &scenario::ConfigAction,
        expect: &Expect,
        timeout: Duration,
        log: Log,
    ) -> std::result::Result<Observed, String> {
        let source = match (&c.config_map, &c.secret) {
            (Some(n), _) => crate::render::ProjectionSource::ConfigMap(n.clone()),
            (_, Some(n)) => crate::render::ProjectionSource::Secret(n.clone()),
            _ => return Err("config takes configMap or secret".into()),
        };
        let mut data = std::collections::BTreeMap::new();
        for (k, v) in &c.data {
            let bytes = match v {
                scenario::DataValue::Text(t) => t.clone().into_bytes(),
                scenario::DataValue::File(f) => std::fs::read(self.test.dir.join(f))
                    .map_err(|e| format!("cannot read {f}: {}", crate::source::io_reason(&e)))?,
            };
            // Secret values set while the run goes are hidden from then on.
            if matches!(source, crate::render::ProjectionSource::Secret(_)) {
                crate::redact::add(&bytes);
            }
            data.insert(k.clone(), bytes);
        }
        crate::reloader::set_data(env, &source, &data)?;
        let mut reports = crate::reloader::apply(env, None, c.verify.as_deref(), timeout, log).map_err(err)?;
        // The evidence quotes the app's log, which may print a secret it was given.
        for r in &mut reports {
            r.detail = crate::redact::text(&r.detail);
            for e in &mut r.evidence {
                e.text = crate::redact::text(&e.text);
            }
        }
        let outcome = crate::reloader::overall(&reports);
        self.last_reload_ms = reports.iter().map(|r| r.latency.as_millis()).max();
        let lines: Vec<String> = reports.iter().map(|r| r.line()).collect();
        self.last_reloads = reports;
        if outcome == crate::reloader::Outcome::Failed && expect.reload.is_none() {
            return Err(format!(
                "the reload failed (expect `reload: failed` if that is the point)\n{}",
                lines.join("\n")
            ));
        }
        Ok(Observed {
            reload: Some(outcome.as_str().to_string()),
            output: Some(lines.join("\n")),
            ..Default::default()
        })
    }
}

/// The `helmTest` step: every app's `test` hooks, as `helm test` runs them.
pub(super) fn helm_test(
    env: &mut Env,
    timeout: Duration,
    log: &(dyn Fn(&str) + Sync),
) -> std::result::Result<Observed, String> {
    if !env.apps.iter().any(|a| a.hooks.iter().any(|h| h.events.iter().any(|e| e == "test"))) {
        return Err("no app of this test has a helm test hook (a Pod or Job annotated `helm.sh/hook: test`)".into());
    }
    let lines = crate::helm::run(env, "test", timeout, log)
        .map_err(|e| e.to_string().trim_start_matches("error: ").to_string())?;
    Ok(Observed { output: Some(lines.join("\n")), ..Default::default() })
}

pub(super) fn run_script(
    t: &Test,
    env: &Env,
    s: &scenario::ScriptAction,
    timeout: Duration,
) -> std::result::Result<Observed, String> {
    let mut expr = duct::cmd(&s.command[0], &s.command[1..])
        .dir(&t.dir)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .stdin_null();
    expr = expr
        .env("PODPROOF_RUN", &env.run.id)
        .env("PODPROOF_NETWORK", &env.network)
        .env("PODPROOF_SUFFIX", &env.run.suffix);
    for (k, v) in &s.env {
        expr = expr.env(k, v);
    }
    let handle = expr.start().map_err(|e| format!("cannot run {:?}: {e}", s.command))?;
    let r = await_condition(timeout, Duration::from_millis(20), || match handle.try_wait() {
        Ok(Some(o)) => Poll::Ready(o.clone()),
        Ok(None) => Poll::Pending(None),
        Err(e) => Poll::Fail(e.to_string()),
    });
    match r {
        Ok(o) => Ok(Observed {
            exit_code: Some(o.status.code().unwrap_or(-1)),
            stdout: Some(String::from_utf8_lossy(&o.stdout).into_owned()),
            stderr: Some(String::from_utf8_lossy(&o.stderr).into_owned()),
            ..Default::default()
        }),
        Err(e) => {
            let _ = handle.kill();
            Err(match e {
                WaitError::Timeout(_) => format!("script {:?} timed out after {timeout:?}", s.command),
                WaitError::Interrupted => "interrupted".into(),
                WaitError::Failed(f) => f,
            })
        }
    }
}

/// Finds the app and role a `scale` step names: a role name, or a workload name.
fn find_role(env: &Env, name: &str, workload: bool) -> std::result::Result<(String, String), String> {
    let found: Vec<(String, String)> = env
        .apps
        .iter()
        .flat_map(|a| a.roles.iter().map(move |r| (a, r)))
        .filter(|(_, r)| {
            if workload {
                r.workload.as_ref().map(|w| w.name == name).unwrap_or(false)
            } else {
                r.name == name || crate::app::dns_label(&r.name) == name
            }
        })
        .map(|(a, r)| (a.name.clone(), r.name.clone()))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!("no {} named `{name}`", if workload { "workload" } else { "role" })),
        _ => Err(format!("`{name}` names a role in several apps")),
    }
}

/// The container a step names: a main container, or a native sidecar (an
/// init container with `restartPolicy: Always`, which runs beside them); the
/// first main container when it names none.
fn container_of(env: &Env, m: &Member, c: Option<&str>) -> std::result::Result<String, String> {
    let sidecars: Vec<String> =
        env.spec_of(m).init_containers.iter().flatten().filter(|k| is_sidecar(k)).map(|k| k.name.clone()).collect();
    match c {
        Some(c) if m.containers.iter().chain(&sidecars).any(|k| k == c) => Ok(c.to_string()),
        Some(c) => {
            let also = if sidecars.is_empty() { String::new() } else { format!("; sidecars: {}", sidecars.join(", ")) };
            Err(format!("pod {} has no container `{c}` (containers: {}{also})", m.name, m.containers.join(", ")))
        }
        None => m.containers.first().cloned().ok_or_else(|| format!("pod {} has no containers", m.name)),
    }
}
