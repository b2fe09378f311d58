//! podman compatibility: what `podman kube play` of the target version does
//! with each kind and field (shared/reference/podman-kube-play.md), and what
//! podproof does about it.

use super::*;
use crate::fidelity::{self, Scope};
use crate::podview::Form;

/// Pod fields that arrived in a later podman: (field, major, minor).
const POD_SINCE: &[(&str, u32, u32)] = &[("hostPID", 4, 4), ("hostIPC", 4, 5), ("terminationGracePeriodSeconds", 4, 7)];

pub fn kind(ctx: &mut Ctx, _api: &str, kind: &str) {
    let v = ctx.opts.podman;
    let label = ctx.opts.podman_label();
    let emulated = match kind {
        "Pod" | "Deployment" | "PersistentVolumeClaim" | "ConfigMap" | "Secret" => return,
        "DaemonSet" if v.at_least(4, 7) => return,
        "Job" if v.at_least(5, 3) => return,
        "StatefulSet" => "podproof runs each replica as its own Pod, with the StatefulSet's stable names",
        "Service" => "podproof keeps its name resolvable for the app's pods and ships it on promotion",
        "DaemonSet" => {
            "podproof runs it as one Pod (this machine is the only node); podman supports DaemonSets from 4.7"
        }
        "Job" => "podproof runs its pods to completion itself; podman supports Jobs from 5.3",
        _ => {
            let msg = format!("podman {label} skips kind `{kind}` without a word; nothing runs it locally");
            ctx.value(&PODMAN_SKIPPED_KIND, "/kind", msg);
            return;
        }
    };
    ctx.value(&PODMAN_EMULATED_KIND, "/kind", format!("podman {label} skips kind `{kind}`; {emulated}"));
}

/// A file that holds only ConfigMaps, reported on its first document.
pub fn configmap_only(ctx: &mut Ctx, count: usize) {
    let msg = format!("this file holds only ConfigMaps ({count}); `podman kube play` refuses it unless it is passed with `--configmap`");
    ctx.value(&PODMAN_CONFIGMAP_ONLY_FILE, "/kind", msg);
}

pub fn pod(ctx: &mut Ctx, pod: &PodView) {
    if pod.form == Form::KubeDirector {
        return;
    }
    let v = ctx.opts.podman;
    let l = ctx.opts.podman_label();
    let spec = &*pod.spec;
    if pod.kind == "Deployment" && v.at_least(4, 4) {
        if let Some((n, p)) = pod.replicas.as_ref().filter(|(n, _)| *n > 1) {
            let msg = format!(
                "podman {l} runs 1 of the {n} replicas (as pod `{}-pod`); podproof runs all {n} as their own pods",
                pod.name
            );
            ctx.key(&PODMAN_REPLICAS_CAPPED, p, msg);
        }
    }
    // The fields podman ignores come from the one table the ledger reads too.
    for h in fidelity::hits(pod, &ctx.doc.value, true).into_iter().filter(|h| h.field.podman_ignores) {
        ctx.key(&PODMAN_IGNORED_FIELD, &h.pointer, ignored_message(&h));
    }
    if let Some(sc) = spec.get("securityContext") {
        if sc.get("sysctls").is_some() && !v.at_least(4, 5) {
            ctx.key(
                &PODMAN_UNSUPPORTED_FIELD,
                &pod.ptr("/securityContext/sysctls"),
                format!("podman {l} ignores `sysctls` (supported from 4.5)"),
            );
        }
    }
    for (f, major, minor) in POD_SINCE {
        if spec.get(*f).is_some_and(|x| !matches!(x, Value::Bool(false) | Value::Null)) && !v.at_least(*major, *minor) {
            ctx.key(
                &PODMAN_UNSUPPORTED_FIELD,
                &pod.ptr(&format!("/{f}")),
                format!("podman {l} ignores `{f}` (supported from {major}.{minor})"),
            );
        }
    }
    let host_net = is_true(spec, "hostNetwork");
    // Before 4.8 every containerPort is a port mapping; from 4.8 (seen on 5.4.2)
    // only those with a hostPort are, and bare ones are accepted.
    let mapped = |p: &&Value| !v.at_least(4, 8) || p.get("hostPort").is_some();
    let ports: usize = pod
        .containers()
        .map(|(_, c, _)| c.get("ports").and_then(Value::as_sequence).map_or(0, |ps| ps.iter().filter(mapped).count()))
        .sum();
    if host_net && ports > 0 {
        let what = if v.at_least(4, 8) {
            format!(" {l} refuses {ports} containerPorts with a hostPort")
        } else {
            format!(" refuses {ports} containerPorts")
        };
        let msg = format!("podman{what} on a host-network pod (\"PortMappings can only be used with Bridge or slirp4netns networking\"); podproof drops them");
        ctx.key(&PODMAN_HOST_NETWORK_PORTS, &pod.ptr("/hostNetwork"), msg);
    }
    for (cp, c, init) in pod.containers() {
        container(ctx, pod, &cp, c, init, host_net);
    }
}

fn container(ctx: &mut Ctx, pod: &PodView, cp: &str, c: &Value, init: bool, host_net: bool) {
    let v = ctx.opts.podman;
    let l = ctx.opts.podman_label();
    let name = s(c, "name").unwrap_or("?");
    if let Some(sc) = c.get("securityContext") {
        if sc.get("procMount").is_some() && !v.at_least(4, 7) {
            ctx.key(
                &PODMAN_UNSUPPORTED_FIELD,
                &pod.ptr(&format!("{cp}/securityContext/procMount")),
                format!("podman {l} ignores `procMount` (supported from 4.7)"),
            );
        }
    }
    for (mp, m) in items(c, "volumeMounts", cp) {
        if s(m, "subPath").is_some_and(|p| !p.is_empty()) && !v.at_least(4, 4) {
            let msg = format!("podman {l} ignores `subPath` (supported from 4.4) and mounts the whole volume; podproof mounts hostPath sub-directories as their own volumes");
            ctx.key(&PODMAN_UNSUPPORTED_FIELD, &pod.ptr(&format!("{mp}/subPath")), msg);
        }
    }
    if init {
        return;
    }
    if c.get("readinessProbe").is_some() {
        ctx.key(
            &PODMAN_EMULATED_FIELD,
            &pod.ptr(&format!("{cp}/readinessProbe")),
            format!("podman ignores the readinessProbe of `{name}`; podproof performs it itself"),
        );
    }
    for hook in ["postStart", "preStop"] {
        if c.get("lifecycle").and_then(|l| l.get(hook)).is_some() {
            ctx.key(
                &PODMAN_EMULATED_FIELD,
                &pod.ptr(&format!("{cp}/lifecycle/{hook}")),
                format!("podman ignores the {hook} hook of `{name}`; podproof runs it itself"),
            );
        }
    }
    if c.get("startupProbe").is_some() && !v.at_least(4, 4) {
        ctx.key(
            &PODMAN_EMULATED_FIELD,
            &pod.ptr(&format!("{cp}/startupProbe")),
            format!("podman {l} ignores startupProbe (mapped from 4.4); podproof performs it itself"),
        );
    }
    let image = s(c, "image").unwrap_or("");
    for probe in ["livenessProbe", "startupProbe"] {
        let Some(p) = c.get(probe) else { continue };
        if probe == "startupProbe" && !v.at_least(4, 4) {
            continue;
        }
        for (handler, tool) in [("httpGet", "curl"), ("tcpSocket", "nc")] {
            if p.get(handler).is_some() && lacks(image, tool) {
                let msg = format!("podman runs this {handler} probe with `{tool}` inside `{image}`, which has none, so the healthcheck always fails; podproof performs probes itself");
                ctx.key(&PODMAN_PROBE_TOOL_MISSING, &pod.ptr(&format!("{cp}/{probe}/{handler}")), msg);
            }
        }
    }
    if v.at_least(4, 8) && !host_net {
        let bare: Vec<(String, i64)> = items(c, "ports", cp)
            .filter(|(_, p)| p.get("hostPort").is_none())
            .filter_map(|(pp, p)| Some((pp, int(p, "containerPort")?)))
            .collect();
        if let Some((pp, _)) = bare.first() {
            let list: Vec<String> = bare.iter().map(|(_, n)| n.to_string()).collect();
            let msg = format!("podman {l} publishes no containerPort without hostPort; port {} of `{name}` is reachable only inside the pod", list.join(", "));
            ctx.key(&PODMAN_PORT_NOT_PUBLISHED, &pod.ptr(&format!("{pp}/containerPort")), msg);
        }
    }
}

/// What `podman-ignored-field` says about one field of the table.
fn ignored_message(h: &fidelity::Hit) -> String {
    let f = h.field.name;
    let c = h.container.as_deref().unwrap_or("?");
    let what = match h.field.scope {
        Scope::Deployment => format!("podman ignores the Deployment's `{f}`"),
        Scope::Pod => format!("podman ignores `{f}`"),
        Scope::PodSecurity => format!("podman ignores the pod's `securityContext.{f}`"),
        Scope::Container => format!("podman ignores `{f}` of container `{c}`"),
        Scope::ContainerSecurity => format!("podman ignores `securityContext.{f}` of container `{c}`"),
        Scope::EnvFrom => format!("podman ignores `envFrom.{f}`"),
        Scope::VolumeMount => format!("podman ignores `{f}`"),
        Scope::ProjectedSource => format!("podman ignores the projected source `{f}`"),
        Scope::Service | Scope::ServicePort => format!("podman ignores the Service's `{f}`"),
    };
    match h.field.honoured {
        Some(how) => format!("{what}; {how}"),
        None => what,
    }
}

/// Whether `image` is known to lack `tool` (curl or nc): busybox has nc but
/// no curl; distroless, scratch and podproof's own images have neither.
fn lacks(image: &str, tool: &str) -> bool {
    let repo = image.split('@').next().unwrap_or(image);
    let repo = repo.rsplit_once(':').filter(|(_, t)| !t.contains('/')).map(|(r, _)| r).unwrap_or(repo);
    let last = repo.rsplit('/').next().unwrap_or(repo);
    let bare = repo.contains("distroless") || last == "scratch" || repo.starts_with("localhost/podproof/");
    bare || (tool == "curl" && last == "busybox")
}
