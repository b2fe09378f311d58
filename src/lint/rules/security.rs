//! Security and reliability: kube-linter's default checks (and a few of its
//! optional ones), by kube-linter's names, on every form's pods.

use super::*;
use crate::podview::Form;

const DANGEROUS_CAPS: &[&str] = &[
    "ALL",
    "SYS_ADMIN",
    "NET_ADMIN",
    "SYS_PTRACE",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_BOOT",
    "SYS_TIME",
    "DAC_READ_SEARCH",
    "BPF",
    "PERFMON",
];
/// Host directories whose mount (or a mount below them) exposes the node.
const SENSITIVE: &[&str] = &[
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/proc",
    "/sys",
    "/usr",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/run/containerd",
    "/run/containerd",
];
const UNSAFE_SYSCTL_PREFIXES: &[&str] = &["kernel.msg", "kernel.sem", "kernel.shm", "fs.mqueue.", "net."];

pub fn pod(ctx: &mut Ctx, pod: &PodView) {
    let spec = &*pod.spec;
    for (field, rule, what) in
        [("hostNetwork", &HOST_NETWORK, "network"), ("hostPID", &HOST_PID, "process"), ("hostIPC", &HOST_IPC, "IPC")]
    {
        if is_true(spec, field) {
            ctx.key(
                rule,
                &pod.ptr(&format!("/{field}")),
                format!("{} `{}` shares the host's {what} namespace", pod.kind, pod.name),
            );
        }
    }
    let sysctls: Vec<(String, &Value)> =
        spec.get("securityContext").map(|sc| items(sc, "sysctls", "/securityContext").collect()).unwrap_or_default();
    for (sp, sysctl) in sysctls {
        if let Some(n) = s(sysctl, "name").filter(|n| UNSAFE_SYSCTL_PREFIXES.iter().any(|u| n.starts_with(u))) {
            ctx.value(
                &UNSAFE_SYSCTLS,
                &pod.ptr(&format!("{sp}/name")),
                format!("sysctl `{n}` is unsafe: it is not isolated per pod"),
            );
        }
    }
    let mut host_volumes = Vec::new();
    for (vp, vol) in items(spec, "volumes", "") {
        let Some(path) = vol.get("hostPath").and_then(|h| s(h, "path")) else { continue };
        host_volumes.push(s(vol, "name").unwrap_or(""));
        let ptr = pod.ptr(&format!("{vp}/hostPath/path"));
        let clean = path.trim_end_matches('/');
        if clean.ends_with("docker.sock") {
            ctx.value(
                &DOCKER_SOCK,
                &ptr,
                format!("volume `{}` mounts the container runtime socket `{path}`", s(vol, "name").unwrap_or("?")),
            );
        } else if clean.is_empty() || SENSITIVE.iter().any(|d| clean == *d || clean.starts_with(&format!("{d}/"))) {
            ctx.value(
                &SENSITIVE_HOST_MOUNTS,
                &ptr,
                format!("volume `{}` mounts the host's `{path}`", s(vol, "name").unwrap_or("?")),
            );
        } else if path.starts_with('/') && super::portability::host_specific(path).is_none() {
            // Relative and machine-specific paths have rules of their own.
            ctx.value(
                &HOST_PATH_VOLUME,
                &ptr,
                format!("volume `{}` mounts the node's directory `{path}`", s(vol, "name").unwrap_or("?")),
            );
        }
    }
    if let Some((n, p)) = pod.replicas.as_ref().filter(|(n, _)| *n > 1) {
        if pod.form == Form::Manifest {
            anti_affinity(ctx, pod, *n, p);
        }
    }
    // A manifest's missing containers, names and images are validation's
    // (`schema-invalid`), reported once.
    for (cp, c, init) in pod.containers() {
        container(ctx, pod, &cp, c, init, &host_volumes);
    }
}

/// A workload's replicas are spread only by an anti-affinity term that
/// selects its own pods: their labels, and their namespace when the term
/// names namespaces (kube-linter's no-anti-affinity does the same).
fn anti_affinity(ctx: &mut Ctx, pod: &PodView, n: i64, p: &str) {
    let anti = pod.spec.get("affinity").and_then(|a| a.get("podAntiAffinity"));
    let Some(anti) = anti else {
        let msg = format!(
            "{n} replicas of {} `{}` and no podAntiAffinity: they may all land on one node",
            pod.kind, pod.name
        );
        return ctx.key(&NO_ANTI_AFFINITY, p, msg);
    };
    let labels = super::context::labels_of(pod.labels());
    let ns = ctx.doc.value.get("metadata").and_then(|m| s(m, "namespace")).unwrap_or("default").to_string();
    let mut terms: Vec<(String, &Value)> =
        items(anti, "requiredDuringSchedulingIgnoredDuringExecution", "/affinity/podAntiAffinity").collect();
    for (wp, w) in items(anti, "preferredDuringSchedulingIgnoredDuringExecution", "/affinity/podAntiAffinity") {
        if let Some(t) = w.get("podAffinityTerm") {
            terms.push((format!("{wp}/podAffinityTerm"), t));
        }
    }
    let mut why = None;
    for (tp, t) in &terms {
        let selects = t.get("labelSelector").is_some_and(|sel| super::context::selector_matches(sel, &labels));
        let names: Vec<&str> =
            t.get("namespaces").and_then(Value::as_sequence).into_iter().flatten().filter_map(Value::as_str).collect();
        let in_ns = names.is_empty() || names.contains(&ns.as_str()) || t.get("namespaceSelector").is_some();
        if selects && in_ns {
            return;
        }
        why.get_or_insert_with(|| {
            if !selects {
                (format!("{tp}/labelSelector"), format!("the podAntiAffinity of {} `{}` does not select its own pods' labels, so its {n} replicas may all land on one node", pod.kind, pod.name))
            } else {
                (format!("{tp}/namespaces"), format!("the pods' namespace `{ns}` is not among the podAntiAffinity's namespaces [{}], so the {n} replicas of {} `{}` may all land on one node", names.join(", "), pod.kind, pod.name))
            }
        });
    }
    if let Some((ptr, msg)) = why {
        ctx.key(&NO_ANTI_AFFINITY, &pod.ptr(&ptr), msg);
    }
}

fn container(ctx: &mut Ctx, pod: &PodView, cp: &str, c: &Value, init: bool, host_volumes: &[&str]) {
    let name = s(c, "name").unwrap_or("?");
    let at = |rel: &str| pod.ptr(&format!("{cp}{rel}"));
    resources(ctx, &at(""), c, name);
    env(ctx, pod, cp, c, name);
    if pod.form == Form::KubeDirector {
        return;
    }
    if let Some(image) = s(c, "image") {
        image_tag(ctx, &at("/image"), image);
        super::portability::image(ctx, &at("/image"), image);
        // Validation checks a manifest's references; an App's are read here.
        if pod.form != Form::Manifest {
            reference(ctx, &at("/image"), image);
        }
    }
    let sc = c.get("securityContext");
    let pod_sc = pod.spec.get("securityContext");
    let field = |k: &str| sc.and_then(|s| s.get(k));
    if field("privileged").and_then(Value::as_bool) == Some(true) {
        ctx.key(&PRIVILEGED_CONTAINER, &at("/securityContext/privileged"), format!("container `{name}` is privileged"));
    }
    // A Windows HostProcess container runs on the node itself, as privileged as it gets.
    let host_process =
        |sc: Option<&Value>| sc.and_then(|s| s.get("windowsOptions")).is_some_and(|w| is_true(w, "hostProcess"));
    if host_process(sc) {
        ctx.key(
            &PRIVILEGED_CONTAINER,
            &at("/securityContext/windowsOptions/hostProcess"),
            format!("container `{name}` is a Windows HostProcess container, with the node's privileges"),
        );
    } else if host_process(pod_sc) && !init {
        ctx.key(&PRIVILEGED_CONTAINER, &pod.ptr("/securityContext/windowsOptions/hostProcess"), format!("container `{name}` is a Windows HostProcess container (the pod's securityContext), with the node's privileges"));
    }
    if field("allowPrivilegeEscalation").and_then(Value::as_bool) != Some(false) {
        let p = if field("allowPrivilegeEscalation").is_some() {
            "/securityContext/allowPrivilegeEscalation"
        } else if sc.is_some() {
            "/securityContext"
        } else {
            ""
        };
        ctx.key(
            &PRIVILEGE_ESCALATION_CONTAINER,
            &at(p),
            format!("container `{name}` does not set allowPrivilegeEscalation: false"),
        );
    }
    let caps = field("capabilities");
    let norm = |v: &Value| v.as_str().map(|c| c.to_ascii_uppercase().trim_start_matches("CAP_").to_string());
    let added: Vec<(String, &Value)> =
        caps.map(|k| items(k, "add", "/securityContext/capabilities").collect()).unwrap_or_default();
    for (ip, cap) in added {
        if let Some(n) = norm(cap).filter(|n| DANGEROUS_CAPS.contains(&n.as_str())) {
            ctx.value(&DANGEROUS_CAPABILITIES, &at(&ip), format!("container `{name}` adds capability {n}"));
        }
    }
    let dropped = caps
        .and_then(|k| k.get("drop"))
        .and_then(Value::as_sequence)
        .is_some_and(|d| d.iter().filter_map(norm).any(|n| n == "NET_RAW" || n == "ALL"));
    if !dropped {
        let p = if caps.is_some() {
            "/securityContext/capabilities"
        } else if sc.is_some() {
            "/securityContext"
        } else {
            ""
        };
        ctx.key(&DROP_NET_RAW_CAPABILITY, &at(p), format!("container `{name}` does not drop NET_RAW"));
    }
    // The container's settings override the pod's.
    let eff = |k: &str| field(k).or_else(|| pod_sc.and_then(|s| s.get(k)));
    let non_root = eff("runAsNonRoot").and_then(Value::as_bool) == Some(true)
        || eff("runAsUser").and_then(Value::as_i64).is_some_and(|u| u > 0);
    if !non_root {
        let p = if field("runAsNonRoot").is_some() {
            at("/securityContext/runAsNonRoot")
        } else if field("runAsUser").is_some() {
            at("/securityContext/runAsUser")
        } else if pod_sc.and_then(|s| s.get("runAsNonRoot")).is_some() {
            pod.ptr("/securityContext/runAsNonRoot")
        } else {
            at("")
        };
        ctx.key(
            &RUN_AS_NON_ROOT,
            &p,
            format!("container `{name}` may run as root: set runAsNonRoot: true and a non-zero runAsUser"),
        );
    }
    // Group 0 is root's: files of group root are the container's, whatever its user.
    if non_root && eff("runAsGroup").and_then(Value::as_i64) == Some(0) {
        let p = if field("runAsGroup").is_some() {
            at("/securityContext/runAsGroup")
        } else {
            pod.ptr("/securityContext/runAsGroup")
        };
        ctx.value(&RUN_AS_NON_ROOT, &p, format!("container `{name}` runs with runAsGroup 0, root's group"));
    }
    if field("readOnlyRootFilesystem").and_then(Value::as_bool) != Some(true) {
        let p = if field("readOnlyRootFilesystem").is_some() { "/securityContext/readOnlyRootFilesystem" } else { "" };
        ctx.key(&NO_READ_ONLY_ROOT_FS, &at(p), format!("container `{name}` has a writable root filesystem"));
    }
    if field("procMount").and_then(Value::as_str) == Some("Unmasked") {
        ctx.value(
            &UNSAFE_PROC_MOUNT,
            &at("/securityContext/procMount"),
            format!("container `{name}` mounts /proc unmasked"),
        );
    }
    for (mp, m) in items(c, "volumeMounts", cp) {
        if s(m, "name").is_some_and(|n| host_volumes.contains(&n)) && !is_true(m, "readOnly") {
            ctx.key(
                &WRITABLE_HOST_MOUNT,
                &pod.ptr(&format!("{mp}/mountPath")),
                format!("container `{name}` mounts host path volume `{}` writable", s(m, "name").unwrap_or("?")),
            );
        }
    }
    ports(ctx, pod, cp, c, name);
    let sidecar = s(c, "restartPolicy") == Some("Always");
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if init && !sidecar && c.get(probe).is_some() {
            ctx.key(
                &INIT_CONTAINER_PROBE,
                &at(&format!("/{probe}")),
                format!("init container `{name}` may not have a {probe}"),
            );
        }
    }
    if init && !sidecar && c.get("lifecycle").is_some() {
        ctx.key(
            &INIT_CONTAINER_PROBE,
            &at("/lifecycle"),
            format!("init container `{name}` may not have lifecycle hooks"),
        );
    }
    if !init {
        for (probe, rule) in [("livenessProbe", &NO_LIVENESS_PROBE), ("readinessProbe", &NO_READINESS_PROBE)] {
            if c.get(probe).is_none() {
                ctx.key(rule, &at(""), format!("container `{name}` has no {probe}"));
            }
        }
    }
}

fn resources(ctx: &mut Ctx, cp: &str, c: &Value, name: &str) {
    let r = c.get("resources");
    for (res, rule) in [("cpu", &UNSET_CPU_REQUIREMENTS), ("memory", &UNSET_MEMORY_REQUIREMENTS)] {
        let missing: Vec<&str> = ["requests", "limits"]
            .into_iter()
            .filter(|k| r.and_then(|r| r.get(*k)).and_then(|x| x.get(res)).is_none())
            .collect();
        if missing.is_empty() {
            continue;
        }
        // Point at the block that lacks the value, or the container.
        let p = match missing.as_slice() {
            [one] if r.and_then(|r| r.get(*one)).is_some() => format!("{cp}/resources/{one}"),
            _ if r.is_some() => format!("{cp}/resources"),
            _ => cp.to_string(),
        };
        let what: Vec<String> = missing.iter().map(|m| format!("{m}.{res}")).collect();
        ctx.key(rule, &p, format!("container `{name}` sets no {}", what.join(" and ")));
    }
}

fn env(ctx: &mut Ctx, pod: &PodView, cp: &str, c: &Value, name: &str) {
    let mut seen: Vec<&str> = Vec::new();
    for (ep, e) in items(c, "env", cp) {
        let Some(var) = s(e, "name") else { continue };
        if seen.contains(&var) {
            ctx.value(
                &DUPLICATE_ENV_VAR,
                &pod.ptr(&format!("{ep}/name")),
                format!("container `{name}` sets `{var}` twice; the last one wins"),
            );
        }
        seen.push(var);
        let literal = e.get("value").filter(|v| !v.is_null() && v.as_str() != Some(""));
        let key_text = |v: &Value| v.as_str().is_some_and(|t| t.contains("BEGIN") && t.contains("PRIVATE KEY"));
        if let Some(value) = literal.filter(|v| secret_like(var) || key_text(v)) {
            // Masked whether or not the rule is on: other findings on the
            // same line (a number where text belongs) would show it too.
            ctx.hide(&pod.ptr(&format!("{ep}/value")), value);
            let what = if key_text(value) { "holds a private key" } else { "looks like a secret" };
            ctx.value(
                &ENV_VAR_SECRET,
                &pod.ptr(&format!("{ep}/value")),
                format!("`{var}` of container `{name}` {what} written into the manifest"),
            );
        }
    }
}

/// Names like *PASSWORD*, *SECRET*, *TOKEN* or *KEY* (as a word).
fn secret_like(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    ["PASSWORD", "PASSWD", "SECRET", "TOKEN"].iter().any(|w| up.contains(w))
        || up.split(['_', '-', '.']).any(|w| {
            w == "KEY"
                || w.ends_with("KEY")
                    && w.len() > 3
                    && ["API", "ACCESS", "PRIVATE", "AUTH"].iter().any(|p| w.starts_with(p))
        })
}

fn ports(ctx: &mut Ctx, pod: &PodView, cp: &str, c: &Value, name: &str) {
    let list: Vec<(String, &Value)> = items(c, "ports", cp).collect();
    let mut privileged = Vec::new();
    for (pp, p) in &list {
        let n = int(p, "containerPort");
        // Validation checks a manifest's port names; an App's are read here.
        if let Some(port_name) = s(p, "name").filter(|_| pod.form != Form::Manifest) {
            if let Some(e) = crate::validation::names::port_name(port_name) {
                ctx.value(
                    &INVALID_TARGET_PORTS,
                    &pod.ptr(&format!("{pp}/name")),
                    format!("port name `{port_name}` {e}"),
                );
            }
        }
        if let Some(h) = int(p, "hostPort").filter(|h| *h != 0) {
            ctx.value(
                &HOST_PORT,
                &pod.ptr(&format!("{pp}/hostPort")),
                format!("container `{name}` binds host port {h} on its node"),
            );
        }
        if n == Some(22) && s(p, "protocol").is_none_or(|p| p == "TCP") {
            ctx.value(
                &SSH_PORT,
                &pod.ptr(&format!("{pp}/containerPort")),
                format!("container `{name}` exposes port 22 (SSH)"),
            );
        }
        if let Some(n) = n.filter(|n| (1..1024).contains(n)) {
            privileged.push((pp.clone(), n));
        }
    }
    if let Some((pp, _)) = privileged.first() {
        let mut ns: Vec<String> = privileged.iter().map(|(_, n)| n.to_string()).collect();
        ns.dedup();
        ctx.value(
            &PRIVILEGED_PORTS,
            &pod.ptr(&format!("{pp}/containerPort")),
            format!("container `{name}` uses privileged ports {}", ns.join(", ")),
        );
    }
    for (probe, rule) in
        [("livenessProbe", &LIVENESS_PORT), ("readinessProbe", &READINESS_PORT), ("startupProbe", &STARTUP_PORT)]
    {
        for handler in ["httpGet", "tcpSocket", "grpc"] {
            let Some(port) = c.get(probe).and_then(|p| p.get(handler)).and_then(|h| h.get("port")) else { continue };
            let ptr = pod.ptr(&format!("{cp}/{probe}/{handler}/port"));
            // A port given by number need not be declared: the kubelet probes
            // the pod's IP at that port, and manifests as common as
            // ingress-nginx's controller probe an undeclared 10254. A name that
            // no port carries makes the probe fail.
            // A number need not be declared (see above), but one that no
            // declared port has is worth a look: a port changed in one
            // place and not the other restarts the container forever.
            let number = int(c.get(probe).and_then(|p| p.get(handler)).unwrap_or(&Value::Null), "port");
            if let Some(n) =
                number.filter(|n| !list.is_empty() && !list.iter().any(|(_, p)| int(p, "containerPort") == Some(*n)))
            {
                ctx.value(
                    &UNDECLARED_PROBE_PORT,
                    &ptr,
                    format!("{probe} of `{name}` probes port {n}, which none of its containerPorts is"),
                );
            }
            if let Value::String(n) = port {
                let named = n.parse::<i64>().is_err();
                let declared = list.iter().find(|(_, p)| s(p, "name") == Some(n.as_str()));
                match declared {
                    None if named => ctx.value(
                        rule,
                        &ptr,
                        format!("{probe} of `{name}` names port `{n}`, which the container does not declare"),
                    ),
                    // httpGet, tcpSocket and grpc probes all connect over TCP.
                    Some((_, p)) if s(p, "protocol").is_some_and(|pr| pr != "TCP") => ctx.value(
                        rule,
                        &ptr,
                        format!("{probe} of `{name}` names port `{n}`, which is a {} port, and a {handler} probe connects over TCP", s(p, "protocol").unwrap_or("?")),
                    ),
                    _ => {}
                }
            }
        }
    }
}

/// kube-linter's latest-tag: `:latest`, or no tag and no digest.
pub fn image_tag(ctx: &mut Ctx, ptr: &str, image: &str) {
    if image.contains('@') {
        return;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, "latest")) => ctx.value(&LATEST_TAG, ptr, format!("image `{image}` is tagged `latest`")),
        None => ctx.value(&LATEST_TAG, ptr, format!("image `{image}` has no tag, which means `latest`")),
        _ => {}
    }
}

/// A KubeDirectorApp's images: the default and each role's.
pub fn kd_images(ctx: &mut Ctx) {
    let spec = ctx.doc.value.get("spec").cloned().unwrap_or(Value::Null);
    let mut images: Vec<(String, String)> = s(&spec, "defaultImageRepoTag")
        .map(|i| ("/spec/defaultImageRepoTag".to_string(), i.to_string()))
        .into_iter()
        .collect();
    for (rp, r) in items(&spec, "roles", "/spec") {
        if let Some(i) = s(r, "imageRepoTag") {
            images.push((format!("{rp}/imageRepoTag"), i.to_string()));
        }
    }
    for (p, i) in images {
        reference(ctx, &p, &i);
        image_tag(ctx, &p, &i);
        super::portability::image(ctx, &p, &i);
    }
}

/// An image reference the kubelet and podman can parse (validation's check,
/// for the forms validation does not read).
fn reference(ctx: &mut Ctx, ptr: &str, image: &str) {
    if let Some(why) = crate::validation::names::image(image) {
        ctx.value(&INVALID_IMAGE_REFERENCE, ptr, format!("image `{image}` {why}"));
    }
}
