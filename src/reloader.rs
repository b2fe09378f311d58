//! Live ConfigMap/Secret updates and the app's reload, verified.
//!
//! A change is projected into every member that mounts the object, in the
//! kubelet's atomic `..data` layout (see `projection`), and then the role's
//! reload policy runs: a signal to the container's main process, an HTTP
//! request from inside the pod, a pod restart (what stakater Reloader does),
//! or nothing for apps that watch their files. A reload counts only with
//! evidence that the new config is in effect: the app's own log lines since the
//! change (see `evidence`), a master process that replaced its workers, a 2xx
//! answer to the reload request, or a declared check that passes. A rejected
//! config, an HTTP answer that is not 2xx, or a main process that is not the
//! same one (by its start time in `/proc`) is `failed`; no evidence either way
//! is `unverified`.
//!
//! As in Kubernetes, env vars taken from a ConfigMap and `subPath` mounts never
//! receive updates.

use crate::env::{self, Env, Log, Member};
use crate::error::Result;
use crate::evidence::{self, Kind, LogTail};
use crate::netns;
use crate::podman::{self, ContainerState};
use crate::reload::{Action, Verify};
use crate::render::ProjectionSource;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The new config is in effect: the app said so, replaced its workers, or a check passed.
    Succeeded,
    /// The app rejected the new config (and kept the old one), or exited.
    Failed,
    Restarted,
    /// The reload was sent, but nothing showed either way within the settle window.
    Unverified,
    /// No mounted file changed (only env or subPath uses, or the same data).
    Unchanged,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Restarted => "restarted",
            Outcome::Unverified => "unverified",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// One thing podproof saw that decided (or informed) an outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Evidence {
    /// `log CONTAINER`, `process`, `http`, `check` or `container`.
    pub source: String,
    /// When it was seen, in milliseconds after the change.
    pub at_ms: u128,
    pub text: String,
}

/// What happened to one member.
#[derive(Debug, Clone)]
pub struct Report {
    pub member: String,
    pub outcome: Outcome,
    /// From the change to the evidence of its effect (including the quiet window).
    pub latency: Duration,
    pub detail: String,
    pub evidence: Vec<Evidence>,
    /// What changed, e.g. `ConfigMap web-conf key nginx.conf` (key names only, never values).
    pub changed: Vec<String>,
}

impl Report {
    pub fn line(&self) -> String {
        let mut out = format!(
            "reload {}: {} in {}ms ({})",
            self.member,
            self.outcome.as_str(),
            self.latency.as_millis(),
            self.detail
        );
        for e in &self.evidence {
            out.push_str(&format!("\n  {} +{}ms: {}", e.source, e.at_ms, e.text));
        }
        out
    }
}

/// The worst outcome of several members: failed, unverified, restarted, then succeeded.
pub fn overall(reports: &[Report]) -> Outcome {
    for o in [Outcome::Failed, Outcome::Unverified, Outcome::Restarted, Outcome::Succeeded] {
        if reports.iter().any(|r| r.outcome == o) {
            return o;
        }
    }
    Outcome::Unchanged
}

/// How long the app must stay quiet (no further known reload message) before
/// what it said counts: nginx, PostgreSQL and HAProxy write their reload
/// messages within a few milliseconds of each other (docs/reload.md says how
/// this was measured), so 100 ms leaves a wide margin and keeps the latency low.
pub const QUIET: Duration = Duration::from_millis(100);

/// How long an app that says nothing is watched before its reload is `unverified`;
/// a process that dies on the reload dies well within it.
pub const SETTLE: Duration = Duration::from_millis(1000);

/// The longest a reload is watched when the app keeps talking.
const MAX_WATCH: Duration = Duration::from_secs(10);

/// How often the log, the processes and a declared check are looked at.
const POLL: Duration = Duration::from_millis(20);

/// Known reload messages kept as evidence; the rest are counted.
const MAX_EVIDENCE_LINES: usize = 12;

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
/// `verify` is a check declared for this change, used instead of the policy's.
pub fn apply(
    env: &Env,
    only: Option<&[Member]>,
    verify: Option<&Verify>,
    timeout: Duration,
    log: Log,
) -> Result<Vec<Report>> {
    let members: Vec<Member> = match only {
        Some(ms) => ms.to_vec(),
        None => env.members.iter().filter(|m| env.is_played(m)).cloned().collect(),
    };
    let reports: Vec<Result<Option<Report>>> =
        crate::kubelet::fan_out(&members, |m| apply_member(env, m, verify, timeout, log))
            .into_iter()
            .map(|r| r.unwrap_or_else(|_| Err(crate::error::Error::runtime("reloading a member panicked"))))
            .collect();
    let mut out = Vec::new();
    for r in reports {
        if let Some(rep) = r? {
            log(&rep.line());
            out.push(rep);
        }
    }
    Ok(out)
}

/// Reloads one member and puts the outcome on its pod's timeline.
fn apply_member(env: &Env, m: &Member, verify: Option<&Verify>, timeout: Duration, log: Log) -> Result<Option<Report>> {
    let r = reload_member(env, m, verify, timeout, log);
    if let Ok(Some(rep)) = &r {
        let (kind, reason, message) = timeline_entry(rep, &m.name);
        if kind == "Normal" {
            env.kubelet.timeline.normal(&m.pod, reason, message);
        } else {
            env.kubelet.timeline.warning(&m.pod, reason, message);
        }
    }
    r
}

fn reload_member(
    env: &Env,
    m: &Member,
    verify: Option<&Verify>,
    timeout: Duration,
    log: Log,
) -> Result<Option<Report>> {
    let app = env.app(&m.app).expect("member of a known app");
    let role = app.role(&m.role).expect("member of a known role");
    let (_, rendered) = env.render_member(m)?;
    let before = env.states_fresh(m)?;
    // Every container's log is read from here on: a sidecar may be the one that reloads the app.
    let tails: Vec<LogTail> = before
        .iter()
        .filter_map(|s| LogTail::at_end(s.name.strip_prefix(&format!("{}-", m.pod)).unwrap_or(&s.name), &s.log_path))
        .collect();
    let start = Instant::now();
    let mut changed_volumes = Vec::new();
    let mut changed = Vec::new();
    for p in rendered.projections.iter().filter(|p| p.source != ProjectionSource::Empty) {
        changed.extend(changed_keys(app, p));
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
    let check = verify.or_else(|| role.reload.as_ref().and_then(|p| p.verify.as_ref()));
    let name = m.container(&container);
    let report = |outcome: Outcome, detail: String, evidence: Vec<Evidence>| {
        Ok(Some(Report {
            member: m.name.clone(),
            outcome,
            latency: start.elapsed(),
            detail,
            evidence,
            changed: changed.clone(),
        }))
    };
    let Some(state) = before.iter().find(|s| s.name == name) else {
        return report(Outcome::Failed, format!("container {container} is not running"), Vec::new());
    };
    let mut w = Watch::new(env, m, &container, state, tails, check, start);
    let what = match &action {
        Action::Restart => {
            env.remove_members(std::slice::from_ref(m), log)?;
            env.start_pods(std::slice::from_ref(m), timeout, log)?;
            crate::lifecycle::on_restart(env, m, log)?;
            return report(Outcome::Restarted, "pod recreated with the new config".into(), Vec::new());
        }
        Action::Signal(sig) => {
            if let Err(e) = podman::kill(&name, sig) {
                return report(Outcome::Failed, format!("cannot send {sig}: {}", e.stderr.trim()), Vec::new());
            }
            format!("{sig} sent to {container}")
        }
        Action::Http { method, url } => {
            let parsed = match netns::parse_url(url) {
                Ok(u) => u,
                Err(e) => return report(Outcome::Failed, e, Vec::new()),
            };
            match netns::http(w.netns_pid(), method, &parsed, &[], b"", Duration::from_secs(10)) {
                Ok(r) if (200..300).contains(&r.status) => {
                    w.http_ok = true;
                    w.push("http", format!("{method} {url} -> {}", r.status));
                }
                Ok(r) => {
                    w.failed = true;
                    w.push("http", format!("{method} {url} -> {}: {}", r.status, r.body_text().trim()));
                }
                Err(e) => {
                    w.failed = true;
                    w.push("http", format!("{method} {url}: {e}"));
                }
            }
            format!("{method} {url}")
        }
        Action::Watch => "files projected; the app watches them".to_string(),
    };
    let (outcome, why) = w.run();
    let latency = start.elapsed();
    Ok(Some(Report {
        member: m.name.clone(),
        outcome,
        latency,
        detail: format!("{what}; {why}"),
        evidence: w.evidence,
        changed,
    }))
}

/// The timeline entry of a reload: (type, reason, message). Only a reload
/// with evidence that the new config is in effect (or a recreated pod) is
/// `Reloaded`; the message says what changed and how it was verified.
pub fn timeline_entry(r: &Report, container: &str) -> (&'static str, &'static str, String) {
    let what = if r.changed.is_empty() { "config".to_string() } else { r.changed.join(", ") };
    let how = format!("{} ({} ms)", r.detail, r.latency.as_millis());
    match r.outcome {
        Outcome::Succeeded | Outcome::Restarted => {
            ("Normal", "Reloaded", format!("{what} in effect in {container}: {how}"))
        }
        Outcome::Failed => ("Warning", "FailedReload", format!("{what} not in effect in {container}: {how}")),
        Outcome::Unverified | Outcome::Unchanged => {
            ("Warning", "ReloadUnverified", format!("{what} projected into {container}, no evidence of effect: {how}"))
        }
    }
}

/// The keys of a projection whose files differ from what its volume shows
/// now (new, changed or gone), named by their source.
fn changed_keys(app: &crate::app::App, p: &crate::render::Projection) -> Vec<String> {
    let Ok(Some(new)) = env::payload(app, p) else { return Vec::new() };
    // podproof's own record of what it projected, never the directory the pod sees.
    let old = crate::projection::current(&p.host_dir).ok().flatten();
    let source = match &p.source {
        ProjectionSource::ConfigMap(n) => format!("ConfigMap {n}"),
        ProjectionSource::Secret(n) => format!("Secret {n}"),
        ProjectionSource::Projected(_) | ProjectionSource::Empty => format!("volume {}", p.volume),
    };
    let changed = match old {
        Some(rec) => rec.changed_keys(&new),
        None => new.keys().cloned().collect(),
    };
    changed.into_iter().map(|k| format!("{source} key {k}")).collect()
}

/// Watches one reloaded member: its logs, its main process, and a declared check.
struct Watch<'a> {
    m: &'a Member,
    container: String,
    pid: i64,
    start_time: Option<u64>,
    /// The main process's workers when the change was made.
    children: BTreeSet<i64>,
    tails: Vec<LogTail>,
    check: Option<&'a Verify>,
    /// Every line written since the change (for `log` checks), by container.
    lines: Vec<(String, String)>,
    evidence: Vec<Evidence>,
    known_lines: usize,
    failed: bool,
    succeeded: bool,
    received: bool,
    replaced: bool,
    http_ok: bool,
    /// When the app last said something known about the reload (or the reload was sent).
    last_said: Instant,
    /// When the files changed.
    changed: Instant,
    env: &'a Env,
}

impl<'a> Watch<'a> {
    fn new(
        env: &'a Env,
        m: &'a Member,
        container: &str,
        state: &ContainerState,
        tails: Vec<LogTail>,
        check: Option<&'a Verify>,
        changed: Instant,
    ) -> Watch<'a> {
        Watch {
            m,
            container: container.to_string(),
            pid: state.pid,
            start_time: evidence::start_time(state.pid),
            children: evidence::workers(state.pid),
            tails,
            check,
            lines: Vec::new(),
            evidence: Vec::new(),
            known_lines: 0,
            failed: false,
            succeeded: false,
            received: false,
            replaced: false,
            http_ok: false,
            last_said: Instant::now(),
            changed,
            env,
        }
    }

    fn netns_pid(&self) -> i64 {
        if self.m.host_network {
            0
        } else {
            self.pid
        }
    }

    fn push(&mut self, source: &str, text: String) {
        let at_ms = self.changed.elapsed().as_millis();
        self.evidence.push(Evidence { source: source.to_string(), at_ms, text });
    }

    /// Reads new log lines and notes the known ones.
    fn read_logs(&mut self) {
        let mut new = Vec::new();
        for t in &mut self.tails {
            for l in t.read_new() {
                new.push((t.container.clone(), l));
            }
        }
        for (c, l) in new {
            if let Some(sig) = evidence::classify(&l) {
                match sig.kind {
                    Kind::Failed => self.failed = true,
                    Kind::Succeeded => self.succeeded = true,
                    Kind::Received => self.received = true,
                }
                self.last_said = Instant::now();
                self.known_lines += 1;
                if self.known_lines <= MAX_EVIDENCE_LINES {
                    let text = format!("{} ({} {})", l.trim_end(), sig.server, sig.kind.as_str());
                    self.push(&format!("log {c}"), text);
                }
            }
            self.lines.push((c, l));
        }
    }

    /// Whether the main process is still the one that got the reload.
    fn same_process(&self) -> bool {
        self.start_time.is_some() && evidence::start_time(self.pid) == self.start_time
    }

    /// A master/worker server forks new workers for a new config and lets the old ones go.
    fn look_at_workers(&mut self) {
        if self.replaced || self.children.is_empty() {
            return;
        }
        // A master forks new workers only once the new config has loaded; the
        // new config is served once every old worker has stopped taking
        // requests (exited, or is finishing its open ones).
        let now = evidence::workers(self.pid);
        let new: BTreeSet<i64> = now.difference(&self.children).copied().collect();
        if !new.is_empty() && self.children.iter().all(|p| evidence::retired(*p)) {
            self.replaced = true;
            let text = format!("new workers {} (before: {})", pids(&new), pids(&self.children));
            self.push("process", text);
        }
    }

    /// Watches until the evidence decides; returns the outcome and why.
    fn run(&mut self) -> (Outcome, String) {
        let sent = Instant::now();
        self.last_said = sent;
        let within = self.check.map(|c| c.within()).unwrap_or(SETTLE);
        let mut last_check: Option<String> = None;
        loop {
            self.read_logs();
            if !self.same_process() {
                return (Outcome::Failed, self.exited());
            }
            self.look_at_workers();
            let quiet = self.last_said.elapsed() >= QUIET;
            let waited = sent.elapsed();
            if self.failed && quiet {
                let why = if self.known_lines > MAX_EVIDENCE_LINES {
                    format!("the app rejected the config ({} known lines, the first shown)", self.known_lines)
                } else {
                    "the app rejected the config".to_string()
                };
                self.keep_workers_note();
                return (Outcome::Failed, why);
            }
            if let Some(v) = self.check.filter(|_| !self.failed) {
                match self.run_check(v) {
                    Ok(seen) if quiet => {
                        self.push("check", format!("{} passed: {seen}", v.describe()));
                        return (Outcome::Succeeded, "the declared check passed".into());
                    }
                    Ok(_) => {}
                    Err(why) => last_check = Some(why),
                }
                if waited >= within.max(QUIET) && quiet {
                    let why = last_check.unwrap_or_default();
                    self.push("check", format!("{} still failing after {within:?}: {why}", v.describe()));
                    self.keep_workers_note();
                    return (Outcome::Failed, "the declared check did not pass".into());
                }
            } else if !self.failed && quiet && (self.succeeded || self.replaced || self.received || self.http_ok) {
                let why = if self.succeeded {
                    "the app says the new config is loaded"
                } else if self.replaced {
                    "the app replaced its workers"
                } else if self.http_ok {
                    "the reload request succeeded"
                } else {
                    "the app took the reload and reported no error"
                };
                return (Outcome::Succeeded, why.into());
            } else if !self.failed && quiet && waited >= SETTLE {
                self.keep_workers_note();
                return (
                    Outcome::Unverified,
                    format!("no evidence within {SETTLE:?}: the app logged no known reload message and has no declared check"),
                );
            }
            if waited >= MAX_WATCH {
                let outcome = if self.failed { Outcome::Failed } else { Outcome::Unverified };
                return (outcome, format!("the app was still logging after {MAX_WATCH:?}"));
            }
            crate::wait::pause(POLL);
        }
    }

    /// For a failed or unverified reload: whether the master kept its old workers.
    fn keep_workers_note(&mut self) {
        if self.replaced || self.children.is_empty() {
            return;
        }
        let now = evidence::workers(self.pid);
        let kept: BTreeSet<i64> = now.intersection(&self.children).copied().collect();
        if !kept.is_empty() && now == self.children {
            self.push("process", format!("workers kept: {}", pids(&kept)));
        }
    }

    /// Why the main process is not the same: it exited, or the container restarted.
    fn exited(&mut self) -> String {
        let name = self.m.container(&self.container);
        let states = self.env.states(self.m).unwrap_or_default();
        let text = match states.iter().find(|s| s.name == name) {
            None => format!("container {} is gone", self.container),
            Some(s) if !s.running => format!("the app exited (code {})", s.exit_code),
            Some(s) => format!("container {} restarted (restarts {})", self.container, s.restarts),
        };
        self.push("container", text.clone());
        text
    }

    /// Runs the declared check once: what it saw when it passes, why not otherwise.
    fn run_check(&self, v: &Verify) -> std::result::Result<String, String> {
        let e = &v.expect;
        if let Some(h) = &v.http {
            let url = netns::Url {
                host: h.host.clone().unwrap_or_else(|| "127.0.0.1".into()),
                port: h.port,
                path: h.path.clone(),
                tls: false,
            };
            let r =
                netns::http(self.netns_pid(), &h.method.to_ascii_uppercase(), &url, &[], b"", Duration::from_secs(2))
                    .map_err(|e| e.to_string())?;
            let body = r.body_text();
            match e.status {
                Some(s) if s != r.status => return Err(format!("status {}", r.status)),
                None if !(200..300).contains(&r.status) => return Err(format!("status {}", r.status)),
                _ => {}
            }
            if let Some(m) = &e.body {
                m.check(&body).map_err(|why| format!("body {why}, seen {:?}", short(&body)))?;
            }
            return Ok(format!("status {}, body {:?}", r.status, short(&body)));
        }
        if let Some(x) = &v.exec {
            let c = self.m.container(x.container.as_deref().unwrap_or(&self.container));
            let out = podman::exec_until(&c, &x.command, None, Some(Duration::from_secs(5)))
                .map_err(|e| e.stderr.trim().to_string())?;
            let want = e.exit_code.unwrap_or(if e.stdout.is_some() { out.status } else { 0 });
            if out.status != want {
                return Err(format!("exit code {}: {}", out.status, short(&out.stderr)));
            }
            if let Some(m) = &e.stdout {
                m.check(&out.stdout).map_err(|why| format!("stdout {why}, seen {:?}", short(&out.stdout)))?;
            }
            return Ok(format!("exit code {}, stdout {:?}", out.status, short(&out.stdout)));
        }
        if let Some(m) = &v.log {
            let text: String = self.lines.iter().map(|(_, l)| format!("{l}\n")).collect();
            m.check(&text).map_err(|why| format!("the log since the change {why}"))?;
            let hit = self.lines.iter().map(|(_, l)| l.as_str()).find(|l| m.check(l).is_ok()).unwrap_or("");
            return Ok(format!("{:?}", short(hit)));
        }
        Err("the check names no http, exec or log".into())
    }
}

fn pids(s: &BTreeSet<i64>) -> String {
    s.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(",")
}

/// The first line of a text, at most 200 characters.
fn short(s: &str) -> String {
    let l = s.trim().lines().next().unwrap_or("");
    match l.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &l[..i]),
        None => l.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(outcome: Outcome, changed: &[&str], expect: (&str, &str, &str)) {
        let r = Report {
            member: "web-0".into(),
            outcome,
            latency: Duration::from_millis(120),
            detail: "SIGHUP sent to nginx; the app logged its reload".into(),
            evidence: Vec::new(),
            changed: changed.iter().map(|s| s.to_string()).collect(),
        };
        let (kind, reason, message) = timeline_entry(&r, "web-0");
        assert_eq!((kind, reason, message.as_str()), expect);
    }

    #[test]
    fn reloads_on_the_timeline() {
        check(
            Outcome::Succeeded,
            &["ConfigMap conf key nginx.conf"],
            (
                "Normal",
                "Reloaded",
                "ConfigMap conf key nginx.conf in effect in web-0: SIGHUP sent to nginx; the app logged its reload (120 ms)",
            ),
        );
        check(
            Outcome::Failed,
            &["ConfigMap conf key a", "Secret s key b"],
            (
                "Warning",
                "FailedReload",
                "ConfigMap conf key a, Secret s key b not in effect in web-0: SIGHUP sent to nginx; the app logged its reload (120 ms)",
            ),
        );
        check(
            Outcome::Unverified,
            &[],
            (
                "Warning",
                "ReloadUnverified",
                "config projected into web-0, no evidence of effect: SIGHUP sent to nginx; the app logged its reload (120 ms)",
            ),
        );
    }
}
