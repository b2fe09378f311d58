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
    for (vp, vol) in items(spec, "volumes", "") {
        if vol.get("image").is_some_and(|i| !i.is_null()) {
            let name = s(vol, "name").unwrap_or("?");
            let msg = if v.at_least(5, 3) {
                format!("podman mounts image volume `{name}` only when it runs as root (podman-kube-play(1)): a rootless `kube play` of this pod fails, and so does podproof under rootless podman")
            } else {
                format!("podman {l} has no image volumes (`kube play` takes them from 5.3): volume `{name}` is refused")
            };
            ctx.key(&PODMAN_IMAGE_VOLUME, &pod.ptr(&format!("{vp}/image")), msg);
        }
    }
    annotations(ctx, pod);
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
    cdi_devices(ctx, pod, cp, c, name);
    stop_signal(ctx, pod, cp, c, name);
    if !v.at_least(5, 8) && c.get("env").and_then(Value::as_sequence).is_some_and(|e| !e.is_empty()) {
        if let Some(ep) =
            c.get("envFrom").and_then(Value::as_sequence).filter(|e| !e.is_empty()).map(|_| format!("{cp}/envFrom"))
        {
            let msg = format!("podman {l} gives a variable that both `env` and `envFrom` of `{name}` set the value from envFrom, where a cluster takes env's (fixed in podman 5.8, containers/podman#27287); podproof writes the variables in the cluster's order itself");
            ctx.key(&PODMAN_ENV_PRECEDENCE, &pod.ptr(&ep), msg);
        }
    }
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

/// Resource names that are CDI device names (`vendor.com/class=name`), which
/// podman hands to the container as devices from 5.4 (kube.go's
/// setupContainerDevices); a cluster refuses such a resource name.
fn cdi_devices(ctx: &mut Ctx, pod: &PodView, cp: &str, c: &Value, name: &str) {
    let v = ctx.opts.podman;
    let l = ctx.opts.podman_label();
    for field in ["limits", "requests"] {
        let keys = c.get("resources").and_then(|r| r.get(field)).and_then(Value::as_mapping);
        for key in keys.into_iter().flatten().filter_map(|(k, _)| k.as_str()) {
            let Some((kind, device)) = key.split_once('=') else { continue };
            if !kind.contains('/') || device.is_empty() {
                continue;
            }
            let msg = if v.at_least(5, 4) {
                format!("podman {l} gives container `{name}` the CDI device `{key}`; a cluster refuses the resource name (request the device plugin's resource there, such as `nvidia.com/gpu: 1`), and so does podproof")
            } else {
                format!("podman {l} ignores the CDI device `{key}` of container `{name}` (`kube play` takes CDI devices from 5.4); a cluster refuses the resource name")
            };
            ctx.key(&PODMAN_CDI_DEVICE, &pod.ptr(&format!("{cp}/resources/{field}/{}", crate::yaml::escape(key))), msg);
        }
    }
}

/// `lifecycle.stopSignal`: podman honours it from 5.6, but podproof's podman
/// flavour drops `lifecycle` (it runs the hooks itself), and a cluster needs
/// the ContainerStopSignals gate (alpha in 1.33, off by default) and `spec.os.name`.
fn stop_signal(ctx: &mut Ctx, pod: &PodView, cp: &str, c: &Value, name: &str) {
    let Some(sig) = c.get("lifecycle").and_then(|l| s(l, "stopSignal")) else { return };
    let v = ctx.opts.podman;
    let l = ctx.opts.podman_label();
    let podman = if v.at_least(5, 6) {
        format!("podman {l} would send {sig}, but podproof's podman flavour drops `lifecycle` (it runs the hooks itself), so podproof stops `{name}` with its image's stop signal")
    } else {
        format!("podman {l} ignores it (`kube play` takes it from 5.6), and podproof stops `{name}` with its image's stop signal")
    };
    let os = pod.spec.get("os").and_then(|o| s(o, "name")).is_some();
    let cluster = if os {
        "a cluster needs the ContainerStopSignals feature gate (alpha in Kubernetes 1.33, off by default) and drops the field without it"
    } else {
        "a cluster needs the ContainerStopSignals feature gate (alpha in Kubernetes 1.33, off by default) and `spec.os.name` (it refuses the pod with the gate on and drops the field with it off)"
    };
    ctx.key(
        &STOP_SIGNAL,
        &pod.ptr(&format!("{cp}/lifecycle/stopSignal")),
        format!("`stopSignal: {sig}` of `{name}`: {podman}; {cluster}"),
    );
}

/// podman's own annotations, with the podman that reads each (from its
/// release notes): a cluster ignores every one of them.
const PODMAN_ANNOTATIONS: &[(&str, u32, u32, &str)] = &[
    ("io.podman.annotations.pids-limit", 5, 5, "the PID limit"),
    ("io.podman.annotations.cpuset", 5, 6, "the CPU cores the container may use"),
    ("io.podman.annotations.memory-nodes", 5, 6, "the memory nodes the container may use"),
];

fn annotations(ctx: &mut Ctx, pod: &PodView) {
    let v = ctx.opts.podman;
    let l = ctx.opts.podman_label();
    let mut places: Vec<(String, &Value)> = Vec::new();
    if let Some((m, p)) = pod.meta.as_ref() {
        places.push((format!("{p}/annotations"), *m));
    }
    for (base, meta) in places {
        for key in
            meta.get("annotations").and_then(Value::as_mapping).into_iter().flatten().filter_map(|(k, _)| k.as_str())
        {
            let bare = key.split('/').next().unwrap_or(key);
            let podman = bare.starts_with("io.podman.annotations.")
                || key.starts_with("volume.podman.io/")
                || bare.starts_with("io.containers.");
            if !podman {
                continue;
            }
            let known = PODMAN_ANNOTATIONS.iter().find(|(k, ..)| *k == bare);
            let what = known.map(|(.., w)| *w).unwrap_or("its setting");
            let mut msg = format!("`{key}` is podman's own: a cluster ignores it, so {what} applies only under podman");
            if let Some((_, major, minor, _)) = known.filter(|(_, ma, mi, _)| !v.at_least(*ma, *mi)) {
                msg.push_str(&format!("; podman {l} ignores it too (it reads it from {major}.{minor})"));
            }
            ctx.key(&PODMAN_ONLY_ANNOTATION, &format!("{base}/{}", crate::yaml::escape(key)), msg);
        }
    }
}

/// What `podman-ignored-field` says about one field of the table.
fn ignored_message(h: &fidelity::Hit) -> String {
    let f = h.field.name;
    let c = h.container.as_deref().unwrap_or("?");
    let what = match h.field.scope {
        Scope::Deployment => format!("podman ignores the Deployment's `{f}`"),
        Scope::StatefulSet | Scope::DaemonSet | Scope::Job => format!("podman ignores the workload's `{f}`"),
        Scope::Lifecycle => format!("podman ignores `lifecycle.{f}` of container `{c}`"),
        Scope::Volume => format!("podman ignores the volume source `{f}`"),
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
