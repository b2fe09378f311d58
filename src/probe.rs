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

/// Runs an exec action; a command still running after `timeout` is a failure
/// (its `podman exec` is killed), as the kubelet fails exec probes on timeoutSeconds.
pub fn exec(cmd: &[String], t: &Target, timeout: Duration) -> Result<(), String> {
    let out = podman::exec_until(&t.container, cmd, None, Some(timeout)).map_err(|e| e.stderr)?;
    if out.status == 0 {
        Ok(())
    } else {
        let detail = format!("{}{}", out.stdout, out.stderr);
        Err(format!("exec {:?} exited {}: {}", cmd, out.status, detail.trim()))
    }
}

pub fn http_get(h: &core::HTTPGetAction, t: &Target, timeout: Duration) -> Result<(), String> {
    if h.scheme.as_deref().map(|s| s.eq_ignore_ascii_case("https")).unwrap_or(false) {
        return Err("HTTPS probes are not supported locally".into());
    }
    let port = resolve_port(&h.port, &t.ports)?;
    let path = h.path.clone().unwrap_or_else(|| "/".into());
    let url = netns::Url { host: host(h.host.as_ref(), t), port, path };
    let headers: Vec<(String, String)> =
        h.http_headers.iter().flatten().map(|hh| (hh.name.clone(), hh.value.clone())).collect();
    let r = netns::http(t.netns_pid, "GET", &url, &headers, b"", timeout)
        .map_err(|e| format!("GET http://{}:{}{}: {e}", url.host, url.port, url.path))?;
    if (200..400).contains(&r.status) {
        Ok(())
    } else {
        Err(format!("GET http://{}:{}{} answered {}", url.host, url.port, url.path, r.status))
    }
}

pub fn tcp(s: &core::TCPSocketAction, t: &Target, timeout: Duration) -> Result<(), String> {
    let port = resolve_port(&s.port, &t.ports)?;
    let h = host(s.host.as_ref(), t);
    netns::tcp_check(t.netns_pid, &h, port, timeout).map_err(|e| format!("tcp {h}:{port}: {e}"))
}

/// One attempt of a probe.
pub fn probe_once(p: &core::Probe, t: &Target) -> Result<(), String> {
    let timeout = Duration::from_secs(p.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(e) = &p.exec {
        return exec(e.command.as_deref().unwrap_or_default(), t, timeout);
    }
    if let Some(h) = &p.http_get {
        return http_get(h, t, timeout);
    }
    if let Some(s) = &p.tcp_socket {
        return tcp(s, t, timeout);
    }
    if p.grpc.is_some() {
        return Err("gRPC probes are not supported locally".into());
    }
    Err("probe has no action".into())
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
