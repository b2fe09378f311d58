//! The podman driver: the only module that talks to podman.
//!
//! Two paths, one public API. The default is the libpod REST API
//! (`api.rs`, the HTTP client; `libpod.rs`, the calls) of a
//! `podman system service` that podproof owns (`service.rs`), or of the
//! socket the user names with `--url` or `CONTAINER_HOST`. The CLI
//! (`cli.rs`) runs what the API does not cover here (`kube play`, `build`,
//! `run --rm --pod`, `cp`, `info`, `unshare`), and everything when
//! `PODPROOF_DRIVER=cli`. Callers do not see which path ran; the trace does.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

mod api;
mod cli;
mod libpod;
pub mod service;

pub use cli::{cleanup_scope, command_line, run, run_unchecked, run_until, run_with_env, DEADLINES};
pub use libpod::{describe as describe_driver, set_url, shutdown, warm};

use cli::{binary, s};

/// With PODPROOF_TRACE set, every podman call, CLI or API, is printed with
/// its duration on stderr (for finding where time goes): `podman ...` for a
/// CLI call, `GET /v4.0.0/libpod/...` for an API request.
pub(crate) struct Trace {
    start: std::time::Instant,
    line: Option<String>,
}

fn tracing() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("PODPROOF_TRACE").is_some())
}

impl Trace {
    pub(crate) fn new(args: &[String]) -> Trace {
        Trace { start: std::time::Instant::now(), line: tracing().then(|| command_line(args)) }
    }

    pub(crate) fn api(method: &str, path: &str) -> Trace {
        Trace { start: std::time::Instant::now(), line: tracing().then(|| format!("{method} {path}")) }
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        if let Some(l) = &self.line {
            errln!("trace: {:>6.0}ms {l}", self.start.elapsed().as_secs_f64() * 1000.0);
        }
    }
}

/// podman 5 on cgroups v1 warns "Using cgroups-v1 which is deprecated" on stderr of
/// every call, which would bury real errors; `doctor` says it once instead.
pub(crate) const QUIET_CGROUPS_V1: (&str, &str) = ("PODMAN_IGNORE_CGROUPSV1_WARNING", "1");

pub use crate::error::PodmanError;

/// The captured result of a call that ran.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A podman version, e.g. 4.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    pub fn parse(s: &str) -> Option<Version> {
        let mut it = s.trim().trim_start_matches('v').split(['.', '-', '+']);
        let major = it.next()?.parse().ok()?;
        let minor = it.next().unwrap_or("0").parse().ok()?;
        let patch = it.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        Some(Version { major, minor, patch })
    }
}

/// One behaviour that depends on the podman version: what podman does from
/// `since` on, and what podproof does about it. This table is the one place
/// that lists them; `doctor` prints the rows of the installed version, and
/// ARCHITECTURE.md mirrors it.
pub struct Adaptation {
    pub since: (u32, u32),
    pub podman: &'static str,
    pub podproof: &'static str,
}

pub const ADAPTATIONS: &[Adaptation] = &[
    Adaptation {
        since: (4, 4),
        podman: "maps startupProbe to a healthcheck, honours subPath, caps Deployment replicas at 1",
        podproof: "needs no change: rendered pods carry no probes, subPaths or Deployments",
    },
    Adaptation {
        since: (4, 8),
        podman: "publishes no containerPort without hostPort",
        podproof: "needs no change: rendered pods carry no bare containerPorts on any version",
    },
    Adaptation {
        since: (5, 0),
        podman: "warns \"Using cgroups-v1 which is deprecated\" on every call",
        podproof: "sets PODMAN_IGNORE_CGROUPSV1_WARNING for its podman calls; doctor says it once",
    },
    Adaptation {
        since: (5, 0),
        podman:
            "runs containers without raising rlimits, but its builds still raise them (\"error setting rlimit type 7\")",
        podproof:
            "needs no change: setup probes a build as well as a run, and writes default_ulimits, which builds take",
    },
];

impl Version {
    /// The generation podproof tells apart: "4.3", "4.4 to 4.9" or "5".
    pub fn generation(&self) -> &'static str {
        if self.at_least(5, 0) {
            "5"
        } else if self.at_least(4, 4) {
            "4.4 to 4.9"
        } else {
            "4.3"
        }
    }

    /// The rows of `ADAPTATIONS` that apply to this version.
    pub fn adaptations(self) -> impl Iterator<Item = &'static Adaptation> {
        ADAPTATIONS.iter().filter(move |a| self.at_least(a.since.0, a.since.1))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

static VERSION: OnceLock<Result<Version, PodmanError>> = OnceLock::new();

/// The installed podman version, detected once per process.
pub fn version() -> Result<Version, PodmanError> {
    VERSION
        .get_or_init(|| {
            if let Some(a) = libpod::driver() {
                return Ok(a.version());
            }
            let args = s(&["version", "--format", "{{.Client.Version}}"]);
            let out = run(&args)?;
            Version::parse(&out.stdout).ok_or_else(|| PodmanError {
                command: command_line(&args),
                status: Some(0),
                stderr: format!("cannot parse version `{}`", out.stdout.trim()),
            })
        })
        .clone()
}

/// Whether podman can be found at all.
pub fn available() -> bool {
    version().is_ok()
}

pub fn info_field(template: &str) -> Result<String, PodmanError> {
    Ok(run(&s(&["info", "--format", template]))?.stdout.trim().to_string())
}

pub fn is_rootless() -> bool {
    info_field("{{.Host.Security.Rootless}}").map(|s| s == "true").unwrap_or(false)
}

/// `key=value` label arguments.
fn label_args(flag: &str, labels: &BTreeMap<String, String>) -> Vec<String> {
    labels.iter().flat_map(|(k, v)| [flag.to_string(), format!("{k}={v}")]).collect()
}

// ---- images ----

pub fn image_exists(tag: &str) -> Result<bool, PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.image_exists(tag);
    }
    Ok(run_unchecked(&s(&["image", "exists", tag]), None)?.status == 0)
}

/// The ID of the image `tag` names, `None` when there is none.
pub fn image_id(tag: &str) -> Result<Option<String>, PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.image_id(tag);
    }
    let o = run_unchecked(&s(&["image", "inspect", "--format", "{{.Id}}", tag]), None)?;
    Ok((o.status == 0).then(|| o.stdout.trim().to_string()).filter(|id| !id.is_empty()))
}

/// The value of one label of an image, `None` when the image or the label is missing.
pub fn image_label(tag: &str, key: &str) -> Result<Option<String>, PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.image_label(tag, key);
    }
    let template = format!("{{{{ index .Labels {key:?} }}}}");
    let o = run_unchecked(&s(&["image", "inspect", "--format", &template, tag]), None)?;
    let v = o.stdout.trim();
    Ok((o.status == 0 && !v.is_empty() && v != "<no value>").then(|| v.to_string()))
}

pub fn build(tag: &str, context: &Path, labels: &BTreeMap<String, String>) -> Result<Output, PodmanError> {
    let mut args = s(&["build", "--layers", "-t", tag]);
    args.extend(label_args("--label", labels));
    args.push(context.display().to_string());
    run(&args)
}

// ---- networks ----

pub fn network_create(name: &str, labels: &BTreeMap<String, String>) -> Result<(), PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.network_create(name, labels);
    }
    let mut args = s(&["network", "create"]);
    args.extend(label_args("--label", labels));
    args.push(name.to_string());
    run(&args).map(|_| ())
}

pub fn network_exists(name: &str) -> Result<bool, PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.network_exists(name);
    }
    Ok(run_unchecked(&s(&["network", "exists", name]), None)?.status == 0)
}

/// Starts `podman unshare <exe> <arg>` with piped stdin and stdout: a
/// process inside rootless podman's user namespace that may enter pods'
/// network namespaces (see `netns`). Its stderr is discarded, because podman
/// prints start-up warnings there; a helper that dies shows as a closed stdout.
pub fn unshare_helper(exe: &Path, arg: &str) -> std::io::Result<std::process::Child> {
    use std::process::{Command, Stdio};
    let _trace = Trace::new(&["unshare".to_string(), exe.display().to_string(), arg.to_string()]);
    Command::new(binary())
        .env(QUIET_CGROUPS_V1.0, QUIET_CGROUPS_V1.1)
        .arg("unshare")
        .arg("--")
        .arg(exe)
        .arg(arg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
}

/// Sends SIGHUP to aardvark-dns, which makes it reread every network's names.
/// Its pid file is under podman's runtime directory: /run for root, and for a
/// rootless user $XDG_RUNTIME_DIR or, without a login session, /tmp/podman-run-<uid>.
pub fn reload_aardvark() {
    const PID_FILE: &str = "containers/networks/aardvark-dns/aardvark.pid";
    let dirs: Vec<std::path::PathBuf> = if !crate::host::rootless_user() {
        vec!["/run".into()]
    } else {
        let uid = rustix::process::geteuid().as_raw();
        std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|d| !d.is_empty())
            .map(std::path::PathBuf::from)
            .into_iter()
            .chain([std::path::PathBuf::from(format!("/tmp/podman-run-{uid}"))])
            .collect()
    };
    for dir in dirs {
        let Ok(pid) = std::fs::read_to_string(dir.join(PID_FILE)) else { continue };
        let Some(pid) = pid.trim().parse::<i32>().ok().and_then(rustix::process::Pid::from_raw) else { continue };
        // The pid file may be stale, or written by someone else: the signal
        // goes only to a process that is aardvark-dns.
        if is_aardvark(pid.as_raw_nonzero().get()) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::HUP);
        }
        return;
    }
}

/// Whether process `pid` is aardvark-dns: its executable's name, or its
/// command name when the executable link is not readable.
pub fn is_aardvark(pid: i32) -> bool {
    let proc = std::path::PathBuf::from(format!("/proc/{pid}"));
    match std::fs::read_link(proc.join("exe")) {
        Ok(exe) => exe.file_name().is_some_and(|n| n == "aardvark-dns"),
        Err(_) => std::fs::read_to_string(proc.join("comm")).is_ok_and(|c| c.trim_end() == "aardvark-dns"),
    }
}

/// The first IPv4 subnet of a network and its gateway, as podman chose them
/// (`10.89.1.0/24`, `10.89.1.1`).
pub fn network_subnet(name: &str) -> Result<(String, String), PodmanError> {
    let json = match libpod::driver() {
        Some(a) => a.network_json(name)?,
        None => {
            let out = run(&s(&["network", "inspect", "--format", "json", name]))?;
            let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
            v.get(0).cloned().unwrap_or(v)
        }
    };
    let subnets = json["subnets"].as_array().cloned().unwrap_or_default();
    subnets
        .iter()
        .find_map(|s| {
            let net = s["subnet"].as_str()?;
            let gw = s["gateway"].as_str()?;
            (!net.contains(':')).then(|| (net.to_string(), gw.to_string()))
        })
        .ok_or_else(|| PodmanError {
            command: format!("podman network inspect {name}"),
            status: None,
            stderr: format!("network {name} has no IPv4 subnet"),
        })
}

pub fn network_rm(name: &str) -> Result<(), PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.network_rm(name);
    }
    run(&s(&["network", "rm", "-f", name])).map(|_| ())
}

// ---- volumes ----

pub fn volume_create(name: &str, labels: &BTreeMap<String, String>) -> Result<(), PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.volume_create(name, labels);
    }
    let mut args = s(&["volume", "create"]);
    args.extend(label_args("--label", labels));
    args.push(name.to_string());
    run(&args).map(|_| ())
}

pub fn volume_exists(name: &str) -> Result<bool, PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.volume_exists(name);
    }
    Ok(run_unchecked(&s(&["volume", "exists", name]), None)?.status == 0)
}

pub fn volume_rm(names: &[String]) -> Result<(), PodmanError> {
    if names.is_empty() {
        return Ok(());
    }
    if let Some(a) = libpod::driver() {
        return a.volume_rm(names);
    }
    let mut args = s(&["volume", "rm", "-f"]);
    args.extend(names.iter().cloned());
    run(&args).map(|_| ())
}

// ---- kube play and pods ----

/// Plays one YAML file into `network`, giving the pod these DNS aliases.
///
/// Through the API the YAML travels as the request's body (read here, as
/// the CLI would read the file), which saves the CLI's start-up: 340 to 460
/// ms against 530 to 680 ms under load, measured side by side on 4.3.1.
/// `network` is a network's name, or `host`; podproof always names one, since
/// without it podman makes its default kube network, which no label marks.
/// Plays a pod YAML on `network`, with DNS `aliases` there and, when given,
/// the static address `ip` (the network option `ip=`, which 4.3's kube play
/// parses like `podman run --network`).
pub fn kube_play(
    file: &Path,
    network: &str,
    ip: Option<&str>,
    aliases: &[String],
    start: bool,
) -> Result<Output, PodmanError> {
    let mut spec = network.to_string();
    let mut opts: Vec<String> = ip.map(|ip| format!("ip={ip}")).into_iter().collect();
    opts.extend(aliases.iter().map(|a| format!("alias={a}")));
    if !opts.is_empty() {
        spec.push(':');
        spec.push_str(&opts.join(","));
    }
    if let Some(a) = libpod::driver() {
        let yaml = std::fs::read(file).map_err(|e| PodmanError {
            command: format!("podman API kube play {}", file.display()),
            status: None,
            stderr: format!("cannot read {}: {e}", file.display()),
        })?;
        return a.kube_play(&yaml, &spec, start);
    }
    let mut args = s(&["kube", "play", if start { "--start=true" } else { "--start=false" }, "--network"]);
    args.push(spec);
    args.push(file.display().to_string());
    run(&args)
}

/// Removes pods with their containers, waiting at most `timeout` for them to stop.
pub fn pod_rm(names: &[String], timeout: Duration) -> Result<(), PodmanError> {
    if names.is_empty() {
        return Ok(());
    }
    // Stays on the CLI with `pod_stop`, so the pair takes 0.3 s after the
    // stop (see there), and the CLI's `-t` has no API counterpart on 4.3.
    let mut args = s(&["pod", "rm", "-f", "-t", &timeout.as_secs().to_string()]);
    args.extend(names.iter().cloned());
    run(&args).map(|_| ())
}

/// Stays on the CLI: after a stop through the API, removing the pod waited
/// ~3.4 s for its cgroup (podman 4.3, measured; after the CLI's stop 0.3 s),
/// and the stop itself costs the same on both paths (its grace period).
pub fn pod_stop(names: &[String], timeout: Duration) -> Result<(), PodmanError> {
    let mut args = s(&["pod", "stop", "-t", &timeout.as_secs().to_string()]);
    args.extend(names.iter().cloned());
    run(&args).map(|_| ())
}

pub fn pod_start(name: &str) -> Result<(), PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.pod_start(name);
    }
    run(&s(&["pod", "start", name])).map(|_| ())
}

/// Starts only the pod's infra container, so its network exists for init containers.
pub fn pod_start_infra(name: &str) -> Result<(), PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.pod_start_infra(name);
    }
    let id = run(&s(&["pod", "inspect", "--format", "{{.InfraContainerID}}", name]))?.stdout.trim().to_string();
    run(&s(&["start", &id])).map(|_| ())
}

/// Runs a one-off container in a pod to completion (`podman run --rm --pod`).
/// `flags` are podman run flags built from the container spec.
// Each argument is one part of the `podman run` line; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn run_in_pod(
    pod: &str,
    name: &str,
    flags: &[String],
    image: &str,
    command: &[String],
    labels: &BTreeMap<String, String>,
    envs: &[(String, String)],
    timeout: Duration,
) -> Result<Output, PodmanError> {
    let mut args = s(&["run", "--rm", "--pod", pod, "--name", name]);
    args.extend(label_args("--label", labels));
    args.extend(flags.iter().cloned());
    args.push(image.to_string());
    args.extend(command.iter().cloned());
    run_with_env(&args, envs, Some(timeout))
}

pub fn pod_exists(name: &str) -> Result<bool, PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.pod_exists(name);
    }
    Ok(run_unchecked(&s(&["pod", "exists", name]), None)?.status == 0)
}

// ---- containers ----

/// The facts about a container that readiness and reload checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub id: String,
    pub name: String,
    pub status: String,
    pub running: bool,
    pub exit_code: i32,
    pub pid: i64,
    pub started_at: String,
    pub restarts: i64,
    pub ip: String,
    /// The gateway of the container's network: where aardvark-dns answers.
    pub gateway: String,
    /// The k8s-file log of the container on the host (empty with other log drivers):
    /// reload checks read the app's output from it without spawning podman.
    pub log_path: String,
    /// The container's conmon, the parent of its PID 1 (0 when not running).
    pub conmon_pid: i64,
    /// The signal `podman stop` sends first, as podman reports it: a number
    /// on 4.x, a name on some 5.x versions ("" when unknown).
    pub stop_signal: String,
}

/// Inspects containers by name; missing ones are left out.
pub fn inspect_containers(names: &[String]) -> Result<Vec<ContainerState>, PodmanError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(a) = libpod::driver() {
        return a.inspect_containers(names);
    }
    let mut args = s(&["container", "inspect", "--format", "json"]);
    args.extend(names.iter().cloned());
    let out = run_unchecked(&args, None)?;
    // podman prints the ones it found even when some are missing (exit 125).
    let v: serde_json::Value = match serde_json::from_str(out.stdout.trim()) {
        Ok(v) => v,
        Err(_) if out.status != 0 => {
            return Err(PodmanError { command: command_line(&args), status: Some(out.status), stderr: out.stderr })
        }
        Err(_) => return Ok(Vec::new()),
    };
    Ok(v.as_array().into_iter().flatten().map(container_state).collect())
}

/// What the runtime set for each container's main process beyond its spec's
/// env, by container name, as its last inspection showed it: `HOSTNAME`.
/// podman's exec sessions get the spec's env but not `HOSTNAME`, which a CRI
/// runtime puts in the container's env, so `kubectl exec`, exec probes and
/// hooks see it; every exec podproof makes passes it on.
static EXEC_ENV: std::sync::Mutex<BTreeMap<String, Vec<String>>> = std::sync::Mutex::new(BTreeMap::new());

fn remember_exec_env(c: &serde_json::Value) {
    let Some(name) = c["Name"].as_str() else { return };
    let env: Vec<String> = c["Config"]["Env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str())
        .filter(|e| e.starts_with("HOSTNAME="))
        .map(str::to_string)
        .collect();
    EXEC_ENV.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), env);
}

/// The variables an exec into `container` gets beyond podman's own (see
/// `EXEC_ENV`); a container not inspected yet is inspected once.
fn exec_env(container: &str) -> Vec<String> {
    let known = EXEC_ENV.lock().unwrap_or_else(|e| e.into_inner()).get(container).cloned();
    match known {
        Some(env) => env,
        None => {
            let _ = inspect_containers(&[container.to_string()]);
            EXEC_ENV.lock().unwrap_or_else(|e| e.into_inner()).get(container).cloned().unwrap_or_default()
        }
    }
}

/// Reads the facts podproof needs from one container's inspection (the same
/// JSON from the CLI and the API).
fn container_state(c: &serde_json::Value) -> ContainerState {
    remember_exec_env(c);
    let st = &c["State"];
    let net = c["NetworkSettings"]["Networks"].as_object().and_then(|m| m.values().next());
    let ip = net
        .and_then(|n| n["IPAddress"].as_str())
        .or_else(|| c["NetworkSettings"]["IPAddress"].as_str())
        .unwrap_or("")
        .to_string();
    let gateway = net.and_then(|n| n["Gateway"].as_str()).unwrap_or("").to_string();
    ContainerState {
        id: c["Id"].as_str().unwrap_or("").to_string(),
        name: c["Name"].as_str().unwrap_or("").to_string(),
        status: st["Status"].as_str().unwrap_or("").to_string(),
        running: st["Running"].as_bool().unwrap_or(false),
        exit_code: st["ExitCode"].as_i64().unwrap_or(0) as i32,
        pid: st["Pid"].as_i64().unwrap_or(0),
        started_at: st["StartedAt"].as_str().unwrap_or("").to_string(),
        restarts: c["RestartCount"].as_i64().unwrap_or(0),
        ip,
        gateway,
        log_path: c["HostConfig"]["LogConfig"]["Path"].as_str().unwrap_or("").to_string(),
        conmon_pid: st["ConmonPid"].as_i64().unwrap_or(0),
        stop_signal: match &c["Config"]["StopSignal"] {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            _ => String::new(),
        },
    }
}

/// The states of a pod's containers, its infra container left out: every
/// container podman holds in it, whoever started it (kube play, a sidecar's
/// `podman run --pod`).
pub fn pod_containers(pod: &str) -> Result<Vec<ContainerState>, PodmanError> {
    let names = if let Some(a) = libpod::driver() {
        a.pod_container_names(pod)?
    } else {
        let out = run(&s(&["ps", "-a", "--filter", &format!("pod={pod}"), "--format", "json"]))?;
        let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap_or_default();
        non_infra_names(&v)
    };
    inspect_containers(&names)
}

/// The names in a container listing (`ps --format json` or the API's
/// `containers/json`, which share their shape), infra containers left out.
fn non_infra_names(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|c| !c["IsInfra"].as_bool().unwrap_or(false))
        .filter_map(|c| c["Names"].as_array()?.first()?.as_str().map(str::to_string))
        .collect()
}

/// Whether an exec's status is podman's own failure, not the command's exit:
/// 125 (podman's error), 126 (the command cannot be run), 127 with the OCI
/// runtime's message (no such command), and 255 from podman 4.3 for a
/// container that is not running ("container state improper") or gone.
pub fn exec_failed(out: &Output) -> bool {
    match out.status {
        125 | 126 => true,
        127 => out.stderr.contains("OCI runtime"),
        255 => out.stderr.contains("container state improper") || out.stderr.contains("no such container"),
        _ => false,
    }
}

/// Runs a command in a container; the exit code is data, not an error.
pub fn exec(container: &str, command: &[String], stdin: Option<&[u8]>) -> Result<Output, PodmanError> {
    exec_until(container, command, stdin, None)
}

/// `exec`, killed when `timeout` passes.
pub fn exec_until(
    container: &str,
    command: &[String],
    stdin: Option<&[u8]>,
    timeout: Option<Duration>,
) -> Result<Output, PodmanError> {
    // Exec stays on the CLI while the API's exec sessions linger: libpod
    // starts their conmon with `--exit-delay 300` (so a client can still read
    // the exit code) in the pod's cgroup, and podman 4.3's `pod rm` then waits
    // about 3 s for that cgroup, which cost more at teardown than the API's
    // exec saved (149 ms against 262 ms). `PODPROOF_API_EXEC=1` uses it anyway.
    let env = exec_env(container);
    if std::env::var_os("PODPROOF_API_EXEC").is_some() {
        if let Some(a) = libpod::driver() {
            return a.exec(container, &env, command, stdin, timeout);
        }
    }
    let mut args = s(&["exec"]);
    if stdin.is_some() {
        args.push("-i".into());
    }
    for e in env {
        args.push("--env".into());
        args.push(e);
    }
    args.push(container.to_string());
    args.extend(command.iter().cloned());
    run_until(&args, stdin, timeout)
}

/// The last `tail` lines of a container's output (stdout and stderr merged).
pub fn logs(container: &str, tail: Option<usize>) -> Result<String, PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.logs(container, tail);
    }
    let mut args = s(&["logs"]);
    if let Some(t) = tail {
        args.push("--tail".into());
        args.push(t.to_string());
    }
    args.push(container.to_string());
    let out = run(&args)?;
    Ok(format!("{}{}", out.stdout, out.stderr))
}

pub fn kill(container: &str, signal: &str) -> Result<(), PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.kill(container, signal);
    }
    run(&s(&["kill", "--signal", signal, container])).map(|_| ())
}

pub fn container_start(container: &str) -> Result<(), PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.container_start(container);
    }
    run(&s(&["start", container])).map(|_| ())
}

pub fn container_stop(container: &str, timeout: Duration) -> Result<(), PodmanError> {
    // On the CLI, like pod stop: a stop through the service followed by a
    // `podman start` (the pod workers' in-place restart) left the restarted
    // container in `stopping`, and it exited again at once (kubelet_e2e, under
    // load). The stop's cost is its grace period on either path.
    run(&s(&["stop", "-t", &timeout.as_secs().to_string(), container])).map(|_| ())
}

/// Copies a host path into a container.
pub fn cp_into(src: &Path, container: &str, dest: &str) -> Result<(), PodmanError> {
    run(&s(&["cp", &src.display().to_string(), &format!("{container}:{dest}")])).map(|_| ())
}

// ---- finding what podproof made ----

/// A listing thread that panicked: an error, so a sweep never takes it for "nothing there".
pub fn panicked(what: &str) -> PodmanError {
    PodmanError { command: what.to_string(), status: None, stderr: "the thread asking podman panicked".into() }
}

/// The kinds of objects podproof labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labelled {
    pub pods: Vec<String>,
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
    pub networks: Vec<String>,
}

impl Labelled {
    pub fn total(&self) -> usize {
        self.pods.len() + self.containers.len() + self.volumes.len() + self.networks.len()
    }
}

fn names(args: Vec<String>) -> Result<Vec<String>, PodmanError> {
    let out = run(&args)?;
    let mut v: Vec<String> = out.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
    v.sort();
    v.dedup();
    Ok(v)
}

/// Everything carrying `filter` (e.g. `podproof.dev/run` or `podproof.dev/run=ID`).
/// The four listings run at once: each is a separate podman process.
pub fn list_labelled(filter: &str) -> Result<Labelled, PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.list_labelled(filter);
    }
    let f = format!("label={filter}");
    let queries = [
        s(&["pod", "ps", "--filter", &f, "--format", "{{.Name}}"]),
        s(&["ps", "-a", "--filter", &f, "--format", "{{.Names}}"]),
        s(&["volume", "ls", "--filter", &f, "--format", "{{.Name}}"]),
        s(&["network", "ls", "--filter", &f, "--format", "{{.Name}}"]),
    ];
    let mut res: Vec<Result<Vec<String>, PodmanError>> = std::thread::scope(|sc| {
        let hs: Vec<_> = queries.into_iter().map(|q| sc.spawn(move || names(q))).collect();
        hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(panicked("listing")))).collect()
    });
    let networks = res.pop().expect("four queries")?;
    let volumes = res.pop().expect("four queries")?;
    let containers = res.pop().expect("four queries")?;
    let pods = res.pop().expect("four queries")?;
    Ok(Labelled { pods, containers, volumes, networks })
}

/// The values of `label` on every labelled pod, container, volume and network
/// (to find run ids). JSON output, because the Go templates of `network ls`
/// and `volume ls` differ from those of `ps`.
pub fn label_values(label: &str) -> Result<Vec<String>, PodmanError> {
    if let Some(a) = libpod::driver() {
        return a.label_values(label);
    }
    let f = format!("label={label}");
    let queries = [
        s(&["pod", "ps", "--filter", &f, "--format", "json"]),
        s(&["ps", "-a", "--filter", &f, "--format", "json"]),
        s(&["volume", "ls", "--filter", &f, "--format", "json"]),
        s(&["network", "ls", "--filter", &f, "--format", "json"]),
    ];
    let outs: Vec<Result<Output, PodmanError>> = std::thread::scope(|sc| {
        let hs: Vec<_> = queries.iter().map(|q| sc.spawn(move || run(q))).collect();
        hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(panicked("listing")))).collect()
    });
    let mut v = Vec::new();
    for out in outs {
        let out = out?;
        let parsed: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap_or(serde_json::Value::Null);
        for obj in parsed.as_array().into_iter().flatten() {
            let labels = obj.get("Labels").or_else(|| obj.get("labels"));
            if let Some(val) = labels.and_then(|l| l.get(label)).and_then(|x| x.as_str()) {
                v.push(val.to_string());
            }
        }
    }
    v.sort();
    v.dedup();
    Ok(v)
}

/// Removes every pod, container, volume and network carrying `filter`.
pub fn remove_labelled(filter: &str, timeout: Duration) -> Result<usize, PodmanError> {
    let l = list_labelled(filter)?;
    remove_listed(&l, timeout)?;
    Ok(l.total())
}

/// Removes the listed objects: pods (stopped first), loose containers, volumes, networks.
pub fn remove_listed(l: &Labelled, timeout: Duration) -> Result<(), PodmanError> {
    if !l.pods.is_empty() {
        // Stopping before removing avoids podman's slow cgroup removal (see
        // env.rs); one call per pod, since one call stops pods in sequence.
        std::thread::scope(|sc| {
            for p in &l.pods {
                sc.spawn(move || pod_stop(std::slice::from_ref(p), timeout));
            }
        });
        pod_rm(&l.pods, Duration::ZERO)?;
    }
    // Containers outside pods (podproof makes none, but a sweep must be thorough).
    let loose: Vec<String> =
        l.containers.iter().filter(|c| !l.pods.iter().any(|p| c.starts_with(&format!("{p}-")))).cloned().collect();
    if !loose.is_empty() {
        if let Some(a) = libpod::driver() {
            a.container_rm(&loose)?;
        } else {
            let mut args = s(&["rm", "-f", "-t", "0", "--ignore"]);
            args.extend(loose);
            run(&args)?;
        }
    }
    volume_rm(&l.volumes)?;
    for net in &l.networks {
        network_rm(net)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_failures_are_podmans_or_the_commands() {
        let check = |status: i32, stderr: &str, podmans: bool| {
            let out = Output { status, stdout: String::new(), stderr: stderr.into() };
            assert_eq!(exec_failed(&out), podmans, "{status} {stderr}");
        };
        check(255, "Error: can only create exec sessions on running containers: container state improper\n", true);
        check(125, "Error: no container with name or ID \"x\" found: no such container\n", true);
        check(127, "Error: runc: exec failed: unable to start container process: exec: \"nope\": executable file not found in $PATH: OCI runtime attempted to invoke a command that was not found\n", true);
        // The command's own exits, whatever it printed.
        check(255, "my tool failed\n", false);
        check(127, "sh: nope: not found\n", false);
        check(1, "", false);
    }

    #[test]
    fn versions() {
        let check = |s: &str, e: Option<(u32, u32, u32)>| {
            assert_eq!(Version::parse(s).map(|v| (v.major, v.minor, v.patch)), e, "{s}");
        };
        check("4.3.1", Some((4, 3, 1)));
        check("5.0.0-dev", Some((5, 0, 0)));
        check("v4.9", Some((4, 9, 0)));
        check("podman", None);
    }

    #[test]
    fn generations() {
        let check = |s: &str, gen: &str, rows: usize| {
            let v = Version::parse(s).expect("a version");
            assert_eq!((v.generation(), v.adaptations().count()), (gen, rows), "{s}");
        };
        check("4.3.1", "4.3", 0);
        check("4.9.3", "4.4 to 4.9", 2);
        check("5.4.2", "5", 4);
    }

    #[test]
    fn command_lines_quote_for_display() {
        assert_eq!(cli::show_arg("a b"), "'a b'");
        assert_eq!(cli::show_arg("label=x"), "label=x");
        assert_eq!(cli::show_arg("it's"), "'it'\\''s'");
    }
}

/// One container event from podman: what the pod workers wake on instead of
/// inspecting every period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The container's name.
    pub name: String,
    pub id: String,
    /// podman's status word: `create`, `start`, `died`, `health_status`, `exec_died`, ...
    pub status: String,
    /// The exit code of a `died` or `exec_died` event.
    pub exit_code: Option<i32>,
    /// The health status of a `health_status` event.
    pub health: Option<String>,
    /// The container's labels (podman's `Attributes`).
    pub labels: BTreeMap<String, String>,
}

impl Event {
    /// Reads one line of `podman events --format json`; lines that are not a
    /// container event are `None`.
    ///
    /// The API's `/events` sends Docker's shape instead (`Action`, and an
    /// `Actor` whose `Attributes` hold the labels with `name`, `image`,
    /// `podId` and `containerExitCode`); both are read here.
    pub fn parse(line: &str) -> Option<Event> {
        let v: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
        if v["Type"].as_str()? != "container" {
            return None;
        }
        if v.get("Actor").is_some() {
            return Event::parse_api(&v);
        }
        let labels = v["Attributes"]
            .as_object()
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        Some(Event {
            name: v["Name"].as_str().unwrap_or("").to_string(),
            id: v["ID"].as_str().unwrap_or("").to_string(),
            status: v["Status"].as_str()?.to_string(),
            exit_code: v["ContainerExitCode"].as_i64().map(|c| c as i32),
            health: v["HealthStatus"].as_str().filter(|h| !h.is_empty()).map(str::to_string),
            labels,
        })
    }
}

impl Event {
    fn parse_api(v: &serde_json::Value) -> Option<Event> {
        const NOT_LABELS: &[&str] = &["name", "image", "podId", "containerExitCode", "health_status"];
        let attrs = v["Actor"]["Attributes"].as_object();
        let attr = |k: &str| attrs.and_then(|m| m.get(k)).and_then(|x| x.as_str());
        let labels = attrs
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| !NOT_LABELS.contains(&k.as_str()))
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let status = v["Action"].as_str().or_else(|| v["status"].as_str())?.to_string();
        // The API gives every event the container's last exit code; only
        // those of a death are meant.
        let exit_code = if status == "died" || status == "exec_died" {
            attr("containerExitCode").and_then(|c| c.parse().ok())
        } else {
            None
        };
        Some(Event {
            name: attr("name").unwrap_or("").to_string(),
            id: v["Actor"]["ID"].as_str().or_else(|| v["id"].as_str()).unwrap_or("").to_string(),
            status,
            exit_code,
            health: attr("health_status").filter(|h| !h.is_empty()).map(str::to_string),
            labels,
        })
    }
}

/// Where events come from: a `podman events` child, or an API stream.
pub(crate) enum EventSource {
    Child(std::process::Child),
    Socket(std::os::unix::net::UnixStream),
}

/// A live stream of container events for one run's label; dropping it stops
/// the podman child or closes the API stream, so no watcher outlives its run.
pub struct EventStream {
    pub(crate) source: EventSource,
    pub(crate) rx: std::sync::mpsc::Receiver<Event>,
}

impl EventStream {
    /// Waits up to `timeout` for the next event; `None` on timeout or when the
    /// stream ended.
    pub fn next_timeout(&self, timeout: Duration) -> Option<Event> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Every event that has arrived, without waiting.
    pub fn drain(&self) -> Vec<Event> {
        self.rx.try_iter().collect()
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        match &mut self.source {
            EventSource::Child(c) => {
                let _ = c.kill();
                let _ = c.wait();
            }
            EventSource::Socket(s) => {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// Streams container events of objects labelled `label=value` (e.g.
/// `podproof.dev/run=<id>`), from now on.
pub fn events(label: &str, value: &str) -> Result<EventStream, PodmanError> {
    use std::io::BufRead;
    if let Some(a) = libpod::driver() {
        return a.events(label, value);
    }
    let args = vec![
        "events".to_string(),
        "--format".into(),
        "json".into(),
        "--filter".into(),
        "type=container".into(),
        "--filter".into(),
        format!("label={label}={value}"),
    ];
    let fail = |msg: String| PodmanError { command: command_line(&args), status: None, stderr: msg };
    let _trace = Trace::new(&args);
    let mut child = std::process::Command::new(binary())
        .args(&args)
        .env(QUIET_CGROUPS_V1.0, QUIET_CGROUPS_V1.1)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    let stdout = child.stdout.take().ok_or_else(|| fail("no stdout".into()))?;
    let (tx, rx) = std::sync::mpsc::channel();
    // The reader ends when the child is killed (EOF) or the receiver is gone.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(ev) = Event::parse(&line) {
                if tx.send(ev).is_err() {
                    break;
                }
            }
        }
    });
    Ok(EventStream { source: EventSource::Child(child), rx })
}

#[cfg(test)]
mod event_tests {
    use super::Event;

    fn check(line: &str, expect: Option<(&str, &str, Option<i32>)>) {
        let got = Event::parse(line);
        assert_eq!(got.as_ref().map(|e| (e.name.as_str(), e.status.as_str(), e.exit_code)), expect, "{line}");
    }

    #[test]
    fn parses_podman_4_event_lines() {
        check(
            r#"{"ContainerExitCode":3,"ID":"cec1","Image":"busybox","Name":"web-0-app","Status":"died","Time":"2026-12-01T22:23:13Z","Type":"container","Attributes":{"podproof.dev/run":"r1"}}"#,
            Some(("web-0-app", "died", Some(3))),
        );
        check(
            r#"{"ID":"cec1","Name":"web-0-app","Status":"start","Type":"container","Attributes":{}}"#,
            Some(("web-0-app", "start", None)),
        );
        check(r#"{"ID":"n1","Name":"net","Status":"create","Type":"network"}"#, None);
        // The API's shape (podman 4.3's /events).
        check(
            r#"{"status":"died","id":"fe1","Type":"container","Action":"died","Actor":{"ID":"fe1","Attributes":{"containerExitCode":"137","image":"busybox","name":"web-0-app","podId":"","podproof.dev/run":"r1"}},"time":1}"#,
            Some(("web-0-app", "died", Some(137))),
        );
        check(
            r#"{"status":"exec","id":"fe1","Type":"container","Action":"exec","Actor":{"ID":"fe1","Attributes":{"containerExitCode":"0","name":"web-0-app"}}}"#,
            Some(("web-0-app", "exec", None)),
        );
        check("not json", None);
        check("", None);
    }
}

/// `podman start`, killed when `timeout` passes (the pod workers' restarts).
pub fn container_start_until(container: &str, timeout: Duration) -> Result<(), PodmanError> {
    let args = s(&["start", container]);
    let out = run_until(&args, None, Some(timeout))?;
    if out.status != 0 {
        return Err(PodmanError { command: command_line(&args), status: Some(out.status), stderr: out.stderr });
    }
    Ok(())
}

/// Starts a container in a pod and leaves it running (`podman run -d --pod`):
/// a native sidecar (an init container with `restartPolicy: Always`).
/// `flags` are podman run flags built from the container spec.
// Each argument is one part of the `podman run` line, as in `run_in_pod`.
#[allow(clippy::too_many_arguments)]
pub fn run_in_pod_detached(
    pod: &str,
    name: &str,
    flags: &[String],
    image: &str,
    command: &[String],
    labels: &BTreeMap<String, String>,
    envs: &[(String, String)],
    timeout: Duration,
) -> Result<Output, PodmanError> {
    let mut args = s(&["run", "-d", "--pod", pod, "--name", name]);
    args.extend(label_args("--label", labels));
    args.extend(flags.iter().cloned());
    args.push(image.to_string());
    args.extend(command.iter().cloned());
    let out = run_with_env(&args, envs, Some(timeout))?;
    if out.status != 0 {
        return Err(PodmanError { command: command_line(&args), status: Some(out.status), stderr: out.stderr });
    }
    Ok(out)
}
