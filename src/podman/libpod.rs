//! The podman calls made through the libpod REST API, and the choice of path.
//!
//! `driver()` decides once per process: `PODPROOF_DRIVER=cli` (or a
//! `PODPROOF_PODMAN` stand-in, which only knows the CLI) means the CLI;
//! otherwise the socket of `--url` or `CONTAINER_HOST` (never stopped by
//! podproof), else podproof's own service (`service.rs`), started on a
//! thread at the first call. When no API can be reached, podproof says so once and uses
//! the CLI. Each function here mirrors one in `mod.rs`, with the same
//! results, so callers cannot tell the paths apart.

use super::api::{demux, encode, Client, Response, PREFIX};
use super::{ContainerState, Labelled, Output, PodmanError, Version};
use std::collections::BTreeMap;
use std::io;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The deadline of an ordinary request: far above any answer podman gives
/// when healthy, so only a hung service reaches it.
const CALL: Duration = Duration::from_secs(60);
/// The deadline of a `kube play`: it creates and starts every container
/// of a pod, which takes seconds under load, never minutes.
const PLAY: Duration = Duration::from_secs(300);
/// The deadline of an exec that has none of its own.
const EXEC_DEFAULT: Duration = Duration::from_secs(3600);

pub struct Api {
    pub client: Client,
    /// Whether the service is podproof's own (and so stopped by it).
    pub owned: bool,
    pub version: Version,
}

static DRIVER: OnceLock<Option<Api>> = OnceLock::new();
static URL: OnceLock<String> = OnceLock::new();

/// The socket named by `--url`; takes precedence over `CONTAINER_HOST`.
pub fn set_url(url: &str) {
    let _ = URL.set(url.to_string());
}

/// The user's socket, from `--url` or `CONTAINER_HOST`: a `unix://` path.
fn user_url() -> Option<String> {
    URL.get().cloned().or_else(|| std::env::var("CONTAINER_HOST").ok().filter(|u| !u.is_empty()))
}

/// Which path a process takes, from the environment alone.
pub fn wants_api() -> bool {
    match std::env::var("PODPROOF_DRIVER").as_deref() {
        Ok("cli") => false,
        Ok("api") => true,
        _ => std::env::var_os("PODPROOF_PODMAN").is_none(),
    }
}

/// The thread starting podproof's own service, joined by `shutdown`, and
/// when it was started.
static STARTING: Mutex<Option<(std::thread::JoinHandle<()>, Instant)>> = Mutex::new(None);

/// How long a call waits for podproof's own service to answer its first
/// ping before it goes through the CLI instead. The service answers in
/// 30 to 60 ms here, and a CLI call costs 40 ms or more by itself, so
/// waiting that long loses nothing; a service slower than this is waited
/// for by nobody, and the calls go on through the CLI until it answers.
const START_PATIENCE: Duration = Duration::from_millis(150);

/// The API, when this process uses it and it is ready. podproof's own
/// service is started on a thread at the first call, which waits for it
/// up to `START_PATIENCE` from the start; the calls made after that and
/// until it answers go through the CLI.
pub fn driver() -> Option<&'static Api> {
    if let Some(d) = DRIVER.get() {
        return d.as_ref();
    }
    if !wants_api() {
        return DRIVER.get_or_init(|| None).as_ref();
    }
    if let Some(url) = user_url() {
        return DRIVER.get_or_init(|| connect_user(&url)).as_ref();
    }
    let Some(started) = start_owned() else {
        return DRIVER.get().and_then(|d| d.as_ref());
    };
    settled(START_PATIENCE.saturating_sub(started.elapsed()))
}

/// The driver once it is decided, waiting at most `limit` for the start under way.
fn settled(limit: Duration) -> Option<&'static Api> {
    let _ = crate::wait::await_condition(limit, Duration::from_millis(2), || match DRIVER.get() {
        Some(_) => crate::wait::Poll::Ready(()),
        None => crate::wait::Poll::Pending(None::<()>),
    });
    DRIVER.get().and_then(|d| d.as_ref())
}

/// Which path this process's podman calls take, in words, for `doctor`.
pub fn describe() -> (bool, String) {
    if !wants_api() {
        let why = if std::env::var("PODPROOF_DRIVER").as_deref() == Ok("cli") {
            "PODPROOF_DRIVER=cli"
        } else {
            "PODPROOF_PODMAN names a stand-in, which only knows the CLI"
        };
        return (true, format!("the podman CLI ({why})"));
    }
    // doctor waits for the service's answer, which a run would not.
    driver();
    match settled(Duration::from_secs(30)) {
        Some(a) if a.owned => (
            true,
            format!(
                "the libpod REST API {} through podproof's own service on {}",
                a.version,
                a.client.socket().display()
            ),
        ),
        Some(a) => (
            true,
            format!("the libpod REST API {} through the socket you named, {}", a.version, a.client.socket().display()),
        ),
        None => (false, "the podman CLI: the API could not be reached (see the warning above)".to_string()),
    }
}

/// Starts podproof's own service now, on its thread, so that it is ready
/// by the first call; for commands that will call podman.
pub fn warm() {
    if wants_api() && user_url().is_none() {
        start_owned();
    }
}

/// Starts the thread that starts podproof's own service, once, and says
/// when it was started; None when the driver is settled already.
fn start_owned() -> Option<Instant> {
    let mut starting = STARTING.lock().ok()?;
    if let Some((_, at)) = &*starting {
        return Some(*at);
    }
    if DRIVER.get().is_some() {
        return None;
    }
    let at = Instant::now();
    let thread = std::thread::spawn(|| {
        let _ = DRIVER.set(connect_owned());
    });
    *starting = Some((thread, at));
    Some(at)
}

fn connect_user(url: &str) -> Option<Api> {
    match url.strip_prefix("unix://") {
        Some(path) => ready(Client::new(path), false),
        None => {
            crate::errln!("warning: `{url}` is not a unix:// socket; podproof uses the podman CLI instead");
            None
        }
    }
}

fn connect_owned() -> Option<Api> {
    match super::service::join(Duration::from_secs(30)) {
        Ok(sock) => ready(Client::new(sock), true),
        Err(e) => {
            crate::errln!("warning: the podman API is not available ({e}); podproof uses the podman CLI instead");
            None
        }
    }
}

fn ready(client: Client, owned: bool) -> Option<Api> {
    match negotiate(&client) {
        Ok(version) => Some(Api { client, owned, version }),
        Err(e) => {
            crate::errln!(
                "warning: {} does not answer as podman ({}); podproof uses the podman CLI instead",
                client.socket().display(),
                e.stderr
            );
            if owned {
                super::service::leave();
            }
            None
        }
    }
}

/// Reads the server's version from `/_ping`'s `Libpod-Api-Version` header.
/// This is the one place where the API's version is looked at: the libpod
/// paths podproof uses are the same from 4.0 to 5.x (`PREFIX`), and what
/// differs by version is in `ADAPTATIONS` and in the comments of the calls
/// below. `/version` says the same, but podman 4.3 answers it in 300 to 600
/// ms (it runs conmon and the OCI runtime to ask theirs), against 1 ms for
/// the ping; a Docker socket answers the ping without the header, and so
/// is not taken for podman.
fn negotiate(client: &Client) -> Result<Version, PodmanError> {
    let path = "/libpod/_ping";
    let r = client.request("GET", path, None, Duration::from_secs(10)).map_err(|e| io_error("GET", path, e))?;
    if !r.ok() {
        return Err(failed("GET", path, &r));
    }
    version_of(&r).map_err(|stderr| PodmanError { command: api_command("GET", path), status: None, stderr })
}

/// The libpod version a ping's answer names, if podproof speaks it.
fn version_of(r: &Response) -> Result<Version, String> {
    let text = r.header("libpod-api-version").ok_or("no Libpod-Api-Version header: not a podman service")?;
    let version = Version::parse(text).ok_or_else(|| format!("cannot parse version `{text}`"))?;
    if !version.at_least(4, 0) {
        return Err(format!("podman {version} is older than the libpod API podproof speaks (4.0)"));
    }
    Ok(version)
}

/// Leaves podproof's own service at the end of the process (the last user
/// stops it), after its start, if one is under way, has finished.
pub fn shutdown() {
    let starting = STARTING.lock().ok().and_then(|mut s| s.take());
    if let Some((t, _)) = starting {
        let _ = t.join();
    }
    if DRIVER.get().and_then(|d| d.as_ref()).is_some_and(|a| a.owned) {
        super::service::leave();
    }
}

/// How an API call shows in an error: like a command line, but a request.
fn api_command(method: &str, path: &str) -> String {
    format!("podman API {method} {path}")
}

fn io_error(method: &str, path: &str, e: io::Error) -> PodmanError {
    PodmanError { command: api_command(method, path), status: None, stderr: e.to_string() }
}

/// A failed request, carrying podman's own message.
fn failed(method: &str, path: &str, r: &Response) -> PodmanError {
    PodmanError {
        command: format!("{} (HTTP {})", api_command(method, path), r.status),
        status: None,
        stderr: r.message(),
    }
}

fn filters(label: &str) -> String {
    encode(&serde_json::json!({ "label": [label] }).to_string())
}

impl Api {
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<Response, PodmanError> {
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.client.request(method, path, bytes.as_deref(), timeout).map_err(|e| io_error(method, path, e))
    }

    /// A call that must succeed; 304 (already in that state) counts as success.
    fn must(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<Response, PodmanError> {
        let r = self.call(method, path, body, timeout)?;
        if r.ok() || r.status == 304 {
            Ok(r)
        } else {
            Err(failed(method, path, &r))
        }
    }

    /// `GET .../exists`: 204 yes, 404 no.
    fn exists(&self, kind: &str, name: &str) -> Result<bool, PodmanError> {
        let path = format!("{PREFIX}/{kind}/{}/exists", encode(name));
        let r = self.call("GET", &path, None, CALL)?;
        match r.status {
            204 | 200 => Ok(true),
            404 => Ok(false),
            _ => Err(failed("GET", &path, &r)),
        }
    }

    pub fn version(&self) -> Version {
        self.version
    }

    // ---- images ----

    pub fn image_exists(&self, tag: &str) -> Result<bool, PodmanError> {
        self.exists("images", tag)
    }

    fn image_inspect(&self, tag: &str) -> Result<Option<serde_json::Value>, PodmanError> {
        let path = format!("{PREFIX}/images/{}/json", encode(tag));
        let r = self.call("GET", &path, None, CALL)?;
        match r.status {
            200 => Ok(Some(r.json())),
            404 => Ok(None),
            _ => Err(failed("GET", &path, &r)),
        }
    }

    pub fn image_id(&self, tag: &str) -> Result<Option<String>, PodmanError> {
        Ok(self.image_inspect(tag)?.and_then(|v| v["Id"].as_str().map(str::to_string)).filter(|id| !id.is_empty()))
    }

    pub fn image_label(&self, tag: &str, key: &str) -> Result<Option<String>, PodmanError> {
        Ok(self
            .image_inspect(tag)?
            .and_then(|v| v["Labels"][key].as_str().map(str::to_string))
            .filter(|v| !v.is_empty()))
    }

    // ---- networks and volumes ----

    pub fn network_create(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<(), PodmanError> {
        // The CLI turns DNS on for a new bridge network; the API takes the
        // body as it is, so both are said here.
        let body = serde_json::json!({ "name": name, "driver": "bridge", "dns_enabled": true, "labels": labels });
        self.must("POST", &format!("{PREFIX}/networks/create"), Some(&body), CALL).map(|_| ())
    }

    pub fn network_exists(&self, name: &str) -> Result<bool, PodmanError> {
        self.exists("networks", name)
    }

    pub fn network_json(&self, name: &str) -> Result<serde_json::Value, PodmanError> {
        Ok(self.must("GET", &format!("{PREFIX}/networks/{}/json", encode(name)), None, CALL)?.json())
    }

    pub fn network_rm(&self, name: &str) -> Result<(), PodmanError> {
        self.must("DELETE", &format!("{PREFIX}/networks/{}?force=true", encode(name)), None, CALL).map(|_| ())
    }

    pub fn volume_create(&self, name: &str, labels: &BTreeMap<String, String>) -> Result<(), PodmanError> {
        let body = serde_json::json!({ "Name": name, "Label": labels });
        self.must("POST", &format!("{PREFIX}/volumes/create"), Some(&body), CALL).map(|_| ())
    }

    pub fn volume_exists(&self, name: &str) -> Result<bool, PodmanError> {
        self.exists("volumes", name)
    }

    pub fn volume_rm(&self, names: &[String]) -> Result<(), PodmanError> {
        for n in names {
            self.must("DELETE", &format!("{PREFIX}/volumes/{}?force=true", encode(n)), None, CALL)?;
        }
        Ok(())
    }

    // ---- kube play ----

    /// `kube play` of one YAML document set, sent as the body. podman answers
    /// 200 with each container that failed to start in `ContainerErrors`
    /// (the lines the CLI prints before "Error: failed to start N
    /// containers"), and 500 with its message for a play that failed as a
    /// whole; both come back as the error's stderr, in podman's words.
    pub fn kube_play(&self, yaml: &[u8], network: &str, start: bool) -> Result<Output, PodmanError> {
        let path = format!("{PREFIX}/play/kube?start={start}&network={}", encode(network));
        let r = self.client.request("POST", &path, Some(yaml), PLAY).map_err(|e| io_error("POST", &path, e))?;
        if !r.ok() {
            return Err(failed("POST", &path, &r));
        }
        let report = r.json();
        let pods = report["Pods"].as_array().cloned().unwrap_or_default();
        let errors: Vec<String> = pods
            .iter()
            .flat_map(|p| p["ContainerErrors"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e.as_str().map(str::to_string))
            .collect();
        if !errors.is_empty() {
            let n = errors.len();
            return Err(PodmanError {
                command: api_command("POST", &path),
                status: None,
                stderr: format!("{}\nError: failed to start {n} containers", errors.join("\n")),
            });
        }
        let ids: Vec<&str> = pods.iter().filter_map(|p| p["ID"].as_str()).collect();
        Ok(Output { status: 0, stdout: ids.join("\n"), stderr: String::new() })
    }

    // ---- pods ----

    /// podman answers a pod stop, start or removal with a report whose
    /// `Errs` hold the failures of single containers.
    fn pod_report(&self, method: &str, path: &str, timeout: Duration) -> Result<(), PodmanError> {
        let r = self.must(method, path, None, timeout)?;
        let errs: Vec<String> = r.json()["Errs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(str::to_string).or_else(|| (!e.is_null()).then(|| e.to_string())))
            .collect();
        if errs.is_empty() {
            Ok(())
        } else {
            Err(PodmanError { command: api_command(method, path), status: None, stderr: errs.join("; ") })
        }
    }

    pub fn pod_start(&self, name: &str) -> Result<(), PodmanError> {
        self.pod_report("POST", &format!("{PREFIX}/pods/{}/start", encode(name)), CALL)
    }

    pub fn pod_start_infra(&self, name: &str) -> Result<(), PodmanError> {
        let path = format!("{PREFIX}/pods/{}/json", encode(name));
        let r = self.must("GET", &path, None, CALL)?;
        let id = r.json()["InfraContainerID"].as_str().unwrap_or("").to_string();
        if id.is_empty() {
            return Err(PodmanError {
                command: api_command("GET", &path),
                status: None,
                stderr: format!("pod {name} has no infra container"),
            });
        }
        self.container_start(&id)
    }

    pub fn pod_exists(&self, name: &str) -> Result<bool, PodmanError> {
        self.exists("pods", name)
    }

    // ---- containers ----

    /// One request per container: 3 ms each against 45 ms for one CLI call
    /// for all of them (measured in docs/benchmarks.md).
    pub fn inspect_containers(&self, names: &[String]) -> Result<Vec<ContainerState>, PodmanError> {
        let mut res = Vec::new();
        for n in names {
            let path = format!("{PREFIX}/containers/{}/json", encode(n));
            let r = self.call("GET", &path, None, CALL)?;
            match r.status {
                200 => res.push(super::container_state(&r.json())),
                404 => {}
                _ => return Err(failed("GET", &path, &r)),
            }
        }
        Ok(res)
    }

    pub fn container_start(&self, c: &str) -> Result<(), PodmanError> {
        self.must("POST", &format!("{PREFIX}/containers/{}/start", encode(c)), None, CALL).map(|_| ())
    }

    pub fn kill(&self, c: &str, signal: &str) -> Result<(), PodmanError> {
        let path = format!("{PREFIX}/containers/{}/kill?signal={}", encode(c), encode(signal));
        self.must("POST", &path, None, CALL).map(|_| ())
    }

    /// Removes containers outside pods, stopped at once (`rm -f -t 0 --ignore`).
    pub fn container_rm(&self, names: &[String]) -> Result<(), PodmanError> {
        for n in names {
            let path = format!("{PREFIX}/containers/{}?force=true&ignore=true&timeout=0", encode(n));
            let r = self.call("DELETE", &path, None, CALL)?;
            if !(r.ok() || r.status == 404) {
                return Err(failed("DELETE", &path, &r));
            }
        }
        Ok(())
    }

    /// A container's output, stdout then stderr, as the CLI prints it.
    pub fn logs(&self, c: &str, tail: Option<usize>) -> Result<String, PodmanError> {
        let mut path = format!("{PREFIX}/containers/{}/logs?stdout=true&stderr=true", encode(c));
        if let Some(t) = tail {
            path.push_str(&format!("&tail={t}"));
        }
        let (head, mut body, _) = self
            .client
            .open_stream("GET", &path, None, CALL, Some(Instant::now() + CALL))
            .map_err(|e| io_error("GET", &path, e))?;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        if head.status != 200 {
            let mut raw = Vec::new();
            let _ = io::Read::read_to_end(&mut body, &mut raw);
            return Err(failed("GET", &path, &Response { status: head.status, headers: vec![], body: raw }));
        }
        demux(&mut body, &mut out, &mut err).map_err(|e| io_error("GET", &path, e))?;
        Ok(format!("{}{}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&err)))
    }

    /// `exec`: create the session, start it attached and decode the stream,
    /// then read the exit code from the session's inspection. The API cannot
    /// kill an exec session, so on timeout its process (by the pid that
    /// inspection gives) is sent SIGKILL, which ends the session the way the
    /// CLI's killed `podman exec` does not: that left the process running.
    pub fn exec(
        &self,
        container: &str,
        env: &[String],
        command: &[String],
        stdin: Option<&[u8]>,
        timeout: Option<Duration>,
    ) -> Result<Output, PodmanError> {
        let deadline = Instant::now() + timeout.unwrap_or(EXEC_DEFAULT);
        let create = format!("{PREFIX}/containers/{}/exec", encode(container));
        let body = serde_json::json!({
            "AttachStdout": true,
            "AttachStderr": true,
            "AttachStdin": stdin.is_some(),
            "Cmd": command,
            "Env": env,
        });
        let r = self.call("POST", &create, Some(&body), CALL)?;
        if !r.ok() {
            // The CLI exits 125 when the exec cannot be made (no such
            // container, or it is not running); callers read that code.
            return Ok(Output { status: 125, stdout: String::new(), stderr: format!("Error: {}\n", r.message()) });
        }
        let id = r.json()["Id"].as_str().unwrap_or("").to_string();
        let start = format!("{PREFIX}/exec/{}/start", encode(&id));
        let timed_out = |t: Duration| PodmanError {
            command: api_command("POST", &start),
            status: None,
            stderr: format!("timed out after {t:?}"),
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let streamed = {
            let _trace = super::Trace::api("POST", &start);
            self.exec_stream(&start, stdin, deadline, &mut out, &mut err)
        };
        match streamed {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                self.kill_exec(&id);
                return Err(timed_out(timeout.unwrap_or(EXEC_DEFAULT)));
            }
            Err(e) => {
                // A signal cancelled the stream, or it broke: the process
                // must not outlive it.
                self.kill_exec(&id);
                return Err(io_error("POST", &start, e));
            }
        }
        // The stream ends when the process does; the session may take a
        // moment longer to record its exit code.
        let inspect = format!("{PREFIX}/exec/{}/json", encode(&id));
        let code = crate::wait::await_condition(Duration::from_secs(10), Duration::from_millis(5), || {
            match self.call("GET", &inspect, None, CALL) {
                Ok(r) if r.ok() => {
                    let v = r.json();
                    if v["Running"].as_bool().unwrap_or(false) {
                        crate::wait::Poll::Pending(None)
                    } else {
                        crate::wait::Poll::Ready(v["ExitCode"].as_i64().unwrap_or(-1) as i32)
                    }
                }
                Ok(r) => crate::wait::Poll::Fail(failed("GET", &inspect, &r)),
                Err(e) => crate::wait::Poll::Fail(e),
            }
        });
        let status = match code {
            Ok(c) => c,
            Err(crate::wait::WaitError::Failed(e)) => return Err(e),
            Err(_) => return Err(timed_out(Duration::from_secs(10))),
        };
        Ok(Output {
            status,
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
        })
    }

    fn exec_stream(
        &self,
        path: &str,
        stdin: Option<&[u8]>,
        deadline: Instant,
        out: &mut Vec<u8>,
        err: &mut Vec<u8>,
    ) -> io::Result<()> {
        let body = serde_json::json!({ "Detach": false, "Tty": false }).to_string();
        let mut s = self.client.send("POST", path, Some(body.as_bytes()), Some(deadline))?;
        if let Some(input) = stdin {
            // The connection is hijacked: what follows the request is the
            // process's stdin, and closing our side is its end of file.
            io::Write::write_all(&mut s, input)?;
            s.shutdown_write()?;
        }
        let mut r = io::BufReader::new(s);
        let head = super::api::read_head(&mut r)?;
        if head.status != 200 {
            let mut raw = Vec::new();
            let _ = io::Read::read_to_end(&mut r, &mut raw);
            let msg = Response { status: head.status, headers: vec![], body: raw }.message();
            return Err(io::Error::other(format!("HTTP {}: {msg}", head.status)));
        }
        demux(&mut r, out, err)
    }

    /// Kills the process of a timed-out exec session, by the pid podman
    /// reports (a host pid: the socket is local).
    fn kill_exec(&self, id: &str) {
        let path = format!("{PREFIX}/exec/{}/json", encode(id));
        let Ok(r) = self.call("GET", &path, None, CALL) else { return };
        let pid = r.json()["Pid"].as_i64().unwrap_or(0);
        if let Some(p) = i32::try_from(pid).ok().filter(|&p| p > 1).and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        }
    }

    // ---- finding what podproof made ----

    fn list(&self, kind: &str, label: &str) -> Result<Vec<serde_json::Value>, PodmanError> {
        self.list_where(kind, &filters(label))
    }

    /// A listing of `kind` with encoded `filters` (containers: stopped ones too).
    fn list_where(&self, kind: &str, filters: &str) -> Result<Vec<serde_json::Value>, PodmanError> {
        let all = if kind == "containers" { "all=true&" } else { "" };
        let path = format!("{PREFIX}/{kind}/json?{all}filters={filters}");
        let r = self.must("GET", &path, None, CALL)?;
        Ok(r.json().as_array().cloned().unwrap_or_default())
    }

    /// The names of a pod's containers, infra left out (see `super::pod_containers`).
    pub fn pod_container_names(&self, pod: &str) -> Result<Vec<String>, PodmanError> {
        let f = encode(&serde_json::json!({ "pod": [pod] }).to_string());
        Ok(super::non_infra_names(&serde_json::Value::Array(self.list_where("containers", &f)?)))
    }

    pub fn list_labelled(&self, filter: &str) -> Result<Labelled, PodmanError> {
        let names = |kind: &str, key: &str| -> Result<Vec<String>, PodmanError> {
            let mut v: Vec<String> = Vec::new();
            for o in self.list(kind, filter)? {
                match &o[key] {
                    serde_json::Value::String(s) => v.push(s.clone()),
                    serde_json::Value::Array(a) => v.extend(a.iter().filter_map(|s| s.as_str().map(str::to_string))),
                    _ => {}
                }
            }
            v.sort();
            v.dedup();
            Ok(v)
        };
        Ok(Labelled {
            pods: names("pods", "Name")?,
            containers: names("containers", "Names")?,
            volumes: names("volumes", "Name")?,
            networks: names("networks", "name")?,
        })
    }

    pub fn label_values(&self, label: &str) -> Result<Vec<String>, PodmanError> {
        let mut v = Vec::new();
        for kind in ["pods", "containers", "volumes", "networks"] {
            for o in self.list(kind, label)? {
                let labels = o.get("Labels").or_else(|| o.get("labels"));
                if let Some(val) = labels.and_then(|l| l.get(label)).and_then(|x| x.as_str()) {
                    v.push(val.to_string());
                }
            }
        }
        v.sort();
        v.dedup();
        Ok(v)
    }

    /// Streams container events of `label=value` (see `super::events`).
    pub fn events(&self, label: &str, value: &str) -> Result<super::EventStream, PodmanError> {
        use std::io::BufRead;
        let f = serde_json::json!({ "type": ["container"], "label": [format!("{label}={value}")] });
        let path = format!("{PREFIX}/events?stream=true&filters={}", encode(&f.to_string()));
        let (head, body, handle) =
            self.client.open_stream("GET", &path, None, CALL, None).map_err(|e| io_error("GET", &path, e))?;
        if head.status != 200 {
            return Err(PodmanError {
                command: api_command("GET", &path),
                status: None,
                stderr: format!("HTTP {}", head.status),
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        // The reader ends when the stream is shut down (EOF) or the receiver is gone.
        std::thread::spawn(move || {
            for line in io::BufReader::new(body).lines() {
                let Ok(line) = line else { break };
                if let Some(ev) = super::Event::parse(&line) {
                    if tx.send(ev).is_err() {
                        break;
                    }
                }
            }
        });
        Ok(super::EventStream { source: super::EventSource::Socket(handle), rx })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(headers: &[(&str, &str)], expect: &str) {
        let r = Response {
            status: 200,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: b"OK".to_vec(),
        };
        let got = match version_of(&r) {
            Ok(v) => v.to_string(),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "{headers:?}");
    }

    #[test]
    fn the_ping_names_the_version() {
        check(&[("api-version", "1.41"), ("libpod-api-version", "4.3.1")], "4.3.1");
        check(&[("libpod-api-version", "5.4.2")], "5.4.2");
        check(&[("api-version", "1.43")], "error: no Libpod-Api-Version header: not a podman service");
        check(
            &[("libpod-api-version", "3.4.4")],
            "error: podman 3.4.4 is older than the libpod API podproof speaks (4.0)",
        );
        check(&[("libpod-api-version", "banana")], "error: cannot parse version `banana`");
    }
}
