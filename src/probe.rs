//! Probes and lifecycle hooks, performed by podproof with Kubernetes semantics.
//!
//! podman ignores readinessProbe and hooks, and runs httpGet/tcpSocket probes
//! with curl/nc inside the image. podproof instead runs exec actions with
//! `podman exec`, and makes HTTP and TCP connections itself from inside the
//! pod's network namespace, so any image works.

use crate::netns;
use crate::podman;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::time::Duration;

/// Where a probe or hook runs.
#[derive(Debug, Clone)]
pub struct Target {
    /// The podman container name.
    pub container: String,
    /// A process in the pod's network namespace (0 for the host's).
    pub netns_pid: i64,
    /// The pod IP on the run network (empty under hostNetwork).
    pub ip: String,
    pub ports: Vec<core::ContainerPort>,
}

fn resolve_port(p: &IntOrString, ports: &[core::ContainerPort]) -> Result<u16, String> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("port {n} is out of range")),
        IntOrString::String(name) => ports
            .iter()
            .find(|cp| cp.name.as_deref() == Some(name.as_str()))
            .map(|cp| cp.container_port as u16)
            .ok_or_else(|| format!("no container port named `{name}`")),
    }
}

/// The host an httpGet/tcpSocket action connects to: its own `host`, else the
/// pod IP (as the kubelet does), else loopback.
fn host(explicit: Option<&String>, t: &Target) -> String {
    explicit.cloned().filter(|h| !h.is_empty()).unwrap_or_else(|| {
        if t.ip.is_empty() {
            "127.0.0.1".into()
        } else {
            t.ip.clone()
        }
    })
}

/// One run of a probe, as the kubelet's prober (pkg/kubelet/prober) tells
/// them apart: a check that passed, a check that failed, or an error that
/// kept the check from running at all (a port name that no container port
/// has, a command the runtime could not start). The kubelet throws an
/// error's result away: it counts neither towards success nor towards
/// failure, so a liveness probe with a mistyped command never restarts its
/// container (kubernetes/kubernetes#106682), and an event says it errored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure(String),
    Error(String),
}

impl Outcome {
    fn of(r: Result<(), String>) -> Outcome {
        match r {
            Ok(()) => Outcome::Success,
            Err(e) => Outcome::Failure(e),
        }
    }
}

/// What an exec action did: it ran and exited 0 (Ok), it ran and failed or
/// timed out (Failure), or podman could not run it (Error: podman exits 125
/// on its own errors, 126 and 127 when the command cannot be started, where
/// a CRI runtime returns an error and no exit code at all).
fn exec_outcome(cmd: &[String], t: &Target, timeout: Duration) -> Outcome {
    match podman::exec_until(&t.container, cmd, None, Some(timeout)) {
        Ok(out) if out.status == 0 => Outcome::Success,
        Ok(out) => {
            let detail = format!("{}{}", out.stdout, out.stderr);
            let msg = format!("exec {:?} exited {}: {}", cmd, out.status, detail.trim());
            if matches!(out.status, 125..=127) {
                Outcome::Error(msg)
            } else {
                Outcome::Failure(msg)
            }
        }
        // A command still running at timeoutSeconds fails the probe (the
        // kubelet's ExecProbeTimeout); its `podman exec` was killed.
        Err(e) if e.status.is_none() && e.stderr.starts_with("timed out") => {
            Outcome::Failure(format!("exec {cmd:?} timed out after {timeout:?}"))
        }
        Err(e) => Outcome::Error(e.stderr),
    }
}

/// Runs an exec action; a command still running after `timeout` is a failure
/// (its `podman exec` is killed), as the kubelet fails exec probes on timeoutSeconds.
pub fn exec(cmd: &[String], t: &Target, timeout: Duration) -> Result<(), String> {
    match exec_outcome(cmd, t, timeout) {
        Outcome::Success => Ok(()),
        Outcome::Failure(e) | Outcome::Error(e) => Err(e),
    }
}

/// An httpGet action: 200-399 passes, as in pkg/probe/http. `https` speaks
/// TLS without verifying the server's certificate, as the kubelet does.
fn http_get_outcome(h: &core::HTTPGetAction, t: &Target, timeout: Duration) -> Outcome {
    let tls = h.scheme.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("https"));
    let port = match resolve_port(&h.port, &t.ports) {
        Ok(p) => p,
        Err(e) => return Outcome::Error(e),
    };
    let path = h.path.clone().unwrap_or_else(|| "/".into());
    let url = netns::Url { host: host(h.host.as_ref(), t), port, path, tls };
    let shown = format!("{}://{}:{}{}", url.scheme(), url.host, url.port, url.path);
    let headers: Vec<(String, String)> =
        h.http_headers.iter().flatten().map(|hh| (hh.name.clone(), hh.value.clone())).collect();
    match netns::http(t.netns_pid, "GET", &url, &headers, b"", timeout) {
        Ok(r) if (200..400).contains(&r.status) => Outcome::Success,
        Ok(r) => Outcome::Failure(format!("GET {shown} answered {}", r.status)),
        Err(e) => Outcome::Failure(format!("GET {shown}: {e}")),
    }
}

pub fn http_get(h: &core::HTTPGetAction, t: &Target, timeout: Duration) -> Result<(), String> {
    match http_get_outcome(h, t, timeout) {
        Outcome::Success => Ok(()),
        Outcome::Failure(e) | Outcome::Error(e) => Err(e),
    }
}

fn tcp_outcome(s: &core::TCPSocketAction, t: &Target, timeout: Duration) -> Outcome {
    let port = match resolve_port(&s.port, &t.ports) {
        Ok(p) => p,
        Err(e) => return Outcome::Error(e),
    };
    let h = host(s.host.as_ref(), t);
    Outcome::of(netns::tcp_check(t.netns_pid, &h, port, timeout).map_err(|e| format!("tcp {h}:{port}: {e}")))
}

pub fn tcp(s: &core::TCPSocketAction, t: &Target, timeout: Duration) -> Result<(), String> {
    match tcp_outcome(s, t, timeout) {
        Outcome::Success => Ok(()),
        Outcome::Failure(e) | Outcome::Error(e) => Err(e),
    }
}

/// A gRPC probe, as pkg/probe/grpc: the pod IP's `port`, plaintext, the
/// standard health service; SERVING passes, every other answer and every
/// failure to get one (no connection, an RPC error, the timeout) fails.
fn grpc_outcome(g: &core::GRPCAction, t: &Target, timeout: Duration) -> Outcome {
    let Ok(port) = u16::try_from(g.port) else { return Outcome::Error(format!("port {} is out of range", g.port)) };
    let host = host(None, t);
    let service = g.service.clone().unwrap_or_default();
    match netns::grpc_health(t.netns_pid, &host, port, &service, timeout) {
        Ok(crate::probeclient::Health::Status(1)) => Outcome::Success,
        Ok(crate::probeclient::Health::Status(n)) => Outcome::Failure(format!(
            "service unhealthy (responded with {})",
            crate::probeclient::serving_status_name(n)
        )),
        Ok(crate::probeclient::Health::RpcError(12, _)) => {
            Outcome::Failure(format!("{host}:{port}: this server does not implement the grpc health protocol"))
        }
        Ok(crate::probeclient::Health::RpcError(code, msg)) => {
            Outcome::Failure(format!("{host}:{port}: health rpc failed with code {code}: {msg}"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            Outcome::Failure(format!("timeout: health rpc to {host}:{port} did not complete within {timeout:?}"))
        }
        Err(e) => Outcome::Failure(format!("failed to connect service {host}:{port}: {e}")),
    }
}

/// One run of a probe.
pub fn probe_once(p: &core::Probe, t: &Target) -> Outcome {
    let timeout = Duration::from_secs(p.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(e) = &p.exec {
        return exec_outcome(e.command.as_deref().unwrap_or_default(), t, timeout);
    }
    if let Some(h) = &p.http_get {
        return http_get_outcome(h, t, timeout);
    }
    if let Some(s) = &p.tcp_socket {
        return tcp_outcome(s, t, timeout);
    }
    if let Some(g) = &p.grpc {
        return grpc_outcome(g, t, timeout);
    }
    Outcome::Error("probe has no action".into())
}

/// Runs a postStart or preStop handler once.
pub fn handler(h: &core::LifecycleHandler, t: &Target, timeout: Duration) -> Result<(), String> {
    if let Some(e) = &h.exec {
        return exec(e.command.as_deref().unwrap_or_default(), t, timeout);
    }
    if let Some(g) = &h.http_get {
        return http_get(g, t, timeout);
    }
    if let Some(s) = &h.sleep {
        crate::wait::pause(Duration::from_secs(s.seconds.max(0) as u64).min(timeout));
        return Ok(());
    }
    if let Some(s) = &h.tcp_socket {
        return tcp(s, t, timeout);
    }
    Err("hook has no action".into())
}
