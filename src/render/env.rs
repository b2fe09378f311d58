//! Resolving env vars the way the kubelet makes a container's environment.
//!
//! podman 4.3 cannot read Secrets for env (and crashes on Secret volumes), and
//! knows only part of the downward API, so the podman flavour writes every
//! value in: ConfigMap and Secret refs, the downward API (`fieldRef`,
//! `resourceFieldRef`) and the Service variables. As in Kubernetes, these
//! values are read once at start and never follow later updates.

use super::SECRET_MASK;
use crate::app::App;
use k8s_openapi::api::core::v1 as core;
use std::collections::BTreeMap;

/// What the downward API and the Service variables of one pod read.
#[derive(Debug, Clone, Default)]
pub struct PodFacts {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub node_name: String,
    pub service_account: String,
    /// `enableServiceLinks` (true unless the pod says false).
    pub service_links: bool,
    /// Every container's resources, for `resourceFieldRef.containerName`.
    pub resources: BTreeMap<String, core::ResourceRequirements>,
    /// The pod's and the host's address, once the run decided them.
    pub addresses: Option<super::Addresses>,
}

impl PodFacts {
    /// The facts of a pod named `name` (the member name, which is also its
    /// hostname) with this spec and metadata.
    pub fn of(
        name: &str,
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        spec: &core::PodSpec,
    ) -> PodFacts {
        let resources = spec
            .init_containers
            .iter()
            .flatten()
            .chain(spec.containers.iter())
            .map(|c| (c.name.clone(), c.resources.clone().unwrap_or_default()))
            .collect();
        PodFacts {
            name: name.to_string(),
            namespace: meta.namespace.clone().unwrap_or_else(|| "default".into()),
            uid: fake_uid(name),
            labels: meta.labels.clone().unwrap_or_default(),
            annotations: meta.annotations.clone().unwrap_or_default(),
            node_name: local_node(),
            service_account: spec
                .service_account_name
                .clone()
                .or_else(|| spec.service_account.clone())
                .unwrap_or_else(|| "default".into()),
            service_links: spec.enable_service_links != Some(false),
            resources,
            addresses: None,
        }
    }
}

/// The node a pod runs on: this machine, named as the kubelet names its node
/// (the hostname, lowercased).
pub fn local_node() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_lowercase())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A UUID-shaped uid that is the same for the same pod name, so rendering
/// stays deterministic (the API server would make a random one).
pub fn fake_uid(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("podproof-uid:{name}").as_bytes());
    let x: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-4{}-8{}-{}", &x[0..8], &x[8..12], &x[13..16], &x[17..20], &x[20..32])
}

/// The value of a downward-API `fieldRef` path, as the kubelet's
/// podFieldSelectorRuntimeValue and fieldpath.ExtractFieldPathAsString give it.
/// `status.podIP` and `status.hostIP` are the addresses the run decided before
/// the play (`PodFacts::addresses`); the lists (`podIPs`, `hostIPs`) hold the
/// one IPv4 address, as a single-stack cluster's do. Outside a run they are
/// not known (see `is_address`).
pub fn field_value(f: &PodFacts, path: &str) -> Result<String, String> {
    let subscript = |prefix: &str| -> Option<String> {
        let rest = path.strip_prefix(prefix)?.strip_prefix("['")?.strip_suffix("']")?;
        Some(rest.to_string())
    };
    if let Some(k) = subscript("metadata.labels") {
        return Ok(f.labels.get(&k).cloned().unwrap_or_default());
    }
    if let Some(k) = subscript("metadata.annotations") {
        return Ok(f.annotations.get(&k).cloned().unwrap_or_default());
    }
    match path {
        "metadata.name" => Ok(f.name.clone()),
        "metadata.namespace" => Ok(f.namespace.clone()),
        "metadata.uid" => Ok(f.uid.clone()),
        "metadata.labels" => Ok(format_map(&f.labels)),
        "metadata.annotations" => Ok(format_map(&f.annotations)),
        "spec.nodeName" => Ok(f.node_name.clone()),
        "spec.serviceAccountName" => Ok(f.service_account.clone()),
        "status.podIP" | "status.podIPs" | "status.hostIP" | "status.hostIPs" => match &f.addresses {
            Some(a) if path.starts_with("status.pod") => Ok(a.pod_ip.clone()),
            Some(a) => Ok(a.host_ip.clone()),
            None => Err(format!("fieldRef `{path}` is decided when the pod is played on the run network")),
        },
        other => Err(format!("fieldRef `{other}` is not a field the downward API offers")),
    }
}

/// Whether a fieldRef path is one of the addresses a run decides.
pub fn is_address(path: &str) -> bool {
    matches!(path, "status.podIP" | "status.podIPs" | "status.hostIP" | "status.hostIPs")
}

/// Labels or annotations as a downward-API file holds them: `key="value"`
/// lines in key order, values quoted like Go's %q (fieldpath.FormatMap).
pub fn format_map(m: &BTreeMap<String, String>) -> String {
    let lines: Vec<String> =
        m.iter().map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap_or_default())).collect();
    lines.join("\n")
}

/// The value of a `resourceFieldRef`, as the kubelet's
/// ExtractContainerResourceValue gives it: CPU rounded up to whole divisors
/// (millicores against the divisor's), memory and storage rounded up to whole
/// divisors of bytes. A limit that is not set is the node's allocatable, here
/// this machine's CPUs and memory.
pub fn resource_value(f: &PodFacts, own: &str, r: &core::ResourceFieldSelector) -> Result<String, String> {
    let container = r.container_name.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| own.to_string());
    let Some(res) = f.resources.get(&container) else {
        return Err(format!("resourceFieldRef names container `{container}`, which the pod does not have"));
    };
    let divisor = match &r.divisor {
        Some(d) => crate::quantity::parse(&d.0)
            .filter(|d| *d > 0.0)
            .ok_or_else(|| format!("divisor `{}` is not a positive quantity", d.0))?,
        None => 1.0,
    };
    let get = |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>, k: &str| {
        m.as_ref().and_then(|m| m.get(k)).and_then(|q| crate::quantity::parse(&q.0))
    };
    let (kind, which) =
        r.resource.split_once('.').ok_or_else(|| format!("resource `{}` is not supported", r.resource))?;
    let value = match (kind, which) {
        ("limits", "cpu") => get(&res.limits, "cpu").unwrap_or_else(node_cpus),
        ("limits", "memory") => get(&res.limits, "memory").unwrap_or_else(node_memory),
        ("limits", "ephemeral-storage") => get(&res.limits, "ephemeral-storage").unwrap_or(0.0),
        // The API server defaults a missing request to the limit.
        ("requests", k @ ("cpu" | "memory" | "ephemeral-storage")) => {
            get(&res.requests, k).or_else(|| get(&res.limits, k)).unwrap_or(0.0)
        }
        _ => return Err(format!("resource `{}` is not supported by the downward API", r.resource)),
    };
    // CPU goes through millicores, as the kubelet does, so `1m` divisors stay exact.
    let n = if which == "cpu" {
        ((value * 1000.0).round() / (divisor * 1000.0).round()).ceil()
    } else {
        (value / divisor).ceil()
    };
    Ok(format!("{}", n as i64))
}

fn node_cpus() -> f64 {
    std::thread::available_parallelism().map(|n| n.get() as f64).unwrap_or(1.0)
}

fn node_memory() -> f64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb = info
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kb.map(|k| k * 1024.0).unwrap_or(0.0)
}

/// The kubelet's Service environment variables (pkg/kubelet/envvars,
/// FromServices and makeLinkVariables), for the app's Services. A Service's
/// host is its name on the run's network, which resolves to the pods it
/// selects: podproof has no cluster IPs. Headless Services (clusterIP None)
/// get none, as in the kubelet.
pub fn service_vars(services: &[core::Service]) -> Vec<core::EnvVar> {
    let var = |name: String, value: String| core::EnvVar { name, value: Some(value), value_from: None };
    let mut out = Vec::new();
    for s in services {
        let Some(name) = s.metadata.name.as_deref() else { continue };
        let spec = s.spec.clone().unwrap_or_default();
        if spec.cluster_ip.as_deref() == Some("None") {
            continue;
        }
        let ports = spec.ports.unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        let prefix = env_name(name);
        let host = name.to_string();
        out.push(var(format!("{prefix}_SERVICE_HOST"), host.clone()));
        out.push(var(format!("{prefix}_SERVICE_PORT"), first.port.to_string()));
        for p in &ports {
            if let Some(pn) = p.name.as_deref().filter(|n| !n.is_empty()) {
                out.push(var(format!("{prefix}_SERVICE_PORT_{}", env_name(pn)), p.port.to_string()));
            }
        }
        for (i, p) in ports.iter().enumerate() {
            let proto = p.protocol.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "TCP".into());
            let lower = proto.to_lowercase();
            let url = format!("{lower}://{host}:{}", p.port);
            if i == 0 {
                out.push(var(format!("{prefix}_PORT"), url.clone()));
            }
            let pp = format!("{prefix}_PORT_{}_{}", p.port, proto.to_uppercase());
            out.push(var(pp.clone(), url));
            out.push(var(format!("{pp}_PROTO"), lower));
            out.push(var(format!("{pp}_PORT"), p.port.to_string()));
            out.push(var(format!("{pp}_ADDR"), host.clone()));
        }
    }
    out
}

/// makeEnvVariableName: `-` becomes `_`, then upper case.
fn env_name(s: &str) -> String {
    s.replace('-', "_").to_uppercase()
}

/// Replaces `valueFrom` refs and `envFrom` with literal values and adds the
/// Service variables the container does not define itself, as the kubelet's
/// makeEnvironmentVariables does (they come last, and never override).
pub fn resolve(app: &App, c: &mut core::Container, facts: &PodFacts, reveal: bool) -> Result<(), String> {
    let mut out: Vec<core::EnvVar> = Vec::new();
    for from in c.env_from.take().unwrap_or_default() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            match app.config_map(&r.name) {
                Some(cm) => {
                    for (k, v) in cm.data.iter().flatten() {
                        push(&mut out, format!("{prefix}{k}"), v.clone());
                    }
                }
                None if r.optional == Some(true) => {}
                None => {
                    return Err(format!(
                        "container `{}`: envFrom names ConfigMap `{}`, which is not defined",
                        c.name, r.name
                    ))
                }
            }
        }
        if let Some(r) = &from.secret_ref {
            match app.secret(&r.name) {
                Some(s) => {
                    for (k, v) in s.data.iter().flatten() {
                        push(&mut out, format!("{prefix}{k}"), secret_value(&v.0, reveal));
                    }
                }
                None if r.optional == Some(true) => {}
                None => {
                    return Err(format!(
                        "container `{}`: envFrom names Secret `{}`, which is not defined",
                        c.name, r.name
                    ))
                }
            }
        }
    }
    let services = if facts.service_links { service_vars(&app.services) } else { Vec::new() };
    for mut e in c.env.take().unwrap_or_default() {
        // A literal value may refer to the variables defined before it (envFrom's
        // and the earlier env's) and to the Service variables, in that order
        // (makeEnvironmentVariables); a value from a ref is taken as it is.
        if let Some(v) = e.value.as_deref().filter(|v| !v.is_empty() && e.value_from.is_none()) {
            let expanded = super::expand::expand(v, &|name| lookup(&out, name).or_else(|| lookup(&services, name)));
            e.value = Some(expanded);
        }
        if let Some(vf) = &e.value_from {
            if let Some(r) = &vf.config_map_key_ref {
                let v = app.config_map(&r.name).and_then(|cm| cm.data.as_ref()?.get(&r.key).cloned());
                match v {
                    Some(v) => {
                        e.value = Some(v);
                        e.value_from = None;
                    }
                    None if r.optional == Some(true) => continue,
                    None => {
                        return Err(format!(
                            "env `{}`: key `{}` of ConfigMap `{}` is not defined",
                            e.name, r.key, r.name
                        ))
                    }
                }
            } else if let Some(r) = &vf.field_ref {
                // Outside a run (`podproof render`) an address is not known
                // yet: the ref stays as written, for the play to resolve.
                if facts.addresses.is_none() && is_address(&r.field_path) {
                    push_var(&mut out, e);
                    continue;
                }
                e.value = Some(field_value(facts, &r.field_path).map_err(|m| format!("env `{}`: {m}", e.name))?);
                e.value_from = None;
            } else if let Some(r) = &vf.resource_field_ref {
                e.value = Some(resource_value(facts, &c.name, r).map_err(|m| format!("env `{}`: {m}", e.name))?);
                e.value_from = None;
            } else if let Some(r) = &vf.secret_key_ref {
                let v = app.secret(&r.name).and_then(|s| s.data.as_ref()?.get(&r.key).map(|b| b.0.clone()));
                match v {
                    Some(v) => {
                        e.value = Some(secret_value(&v, reveal));
                        e.value_from = None;
                    }
                    None if r.optional == Some(true) => continue,
                    None => {
                        return Err(format!("env `{}`: key `{}` of Secret `{}` is not defined", e.name, r.key, r.name))
                    }
                }
            }
        }
        push_var(&mut out, e);
    }
    for v in services {
        if !out.iter().any(|e| e.name == v.name) {
            out.push(v);
        }
    }
    // command and args see the container's whole environment
    // (ExpandContainerCommandAndArgs).
    let all = |name: &str| lookup(&out, name);
    for list in [&mut c.command, &mut c.args].into_iter().flatten() {
        for arg in list.iter_mut() {
            *arg = super::expand::expand(arg, &all);
        }
    }
    c.env = (!out.is_empty()).then_some(out);
    Ok(())
}

/// The value of `name` among resolved variables.
fn lookup(vars: &[core::EnvVar], name: &str) -> Option<String> {
    vars.iter().find(|e| e.name == name).map(|e| e.value.clone().unwrap_or_default())
}

/// An exec probe's command with the container's literal env values
/// expanded, as the kubelet's prober does (ExpandContainerCommandOnlyStatic):
/// a variable set from a ref reads as empty there, and envFrom and the
/// Service variables are not seen, so references to them stay as written.
pub fn expand_static(command: &[String], env: &[core::EnvVar]) -> Vec<String> {
    let vars: Vec<(&str, &str)> = env
        .iter()
        .map(|e| (e.name.as_str(), if e.value_from.is_some() { "" } else { e.value.as_deref().unwrap_or("") }))
        .collect();
    let f = super::expand::lookup_in(&vars);
    command.iter().map(|a| super::expand::expand(a, &f)).collect()
}

fn secret_value(bytes: &[u8], reveal: bool) -> String {
    if reveal {
        String::from_utf8_lossy(bytes).to_string()
    } else {
        SECRET_MASK.to_string()
    }
}

fn push(out: &mut Vec<core::EnvVar>, name: String, value: String) {
    push_var(out, core::EnvVar { name, value: Some(value), value_from: None });
}

/// Later definitions win, as in Kubernetes (env over envFrom, last over first).
fn push_var(out: &mut Vec<core::EnvVar>, var: core::EnvVar) {
    if let Some(existing) = out.iter_mut().find(|e| e.name == var.name) {
        *existing = var;
    } else {
        out.push(var);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One case: a pod's facts and a downward-API path, and what it reads.
    fn check(path: &str, expect: Result<&str, &str>) {
        let mut f = PodFacts { name: "web-0".into(), namespace: "shop".into(), ..Default::default() };
        f.labels.insert("app".into(), "web".into());
        f.labels.insert("tier".into(), "a \"b\"".into());
        let mut limits = BTreeMap::new();
        limits.insert("cpu".into(), k8s_openapi::apimachinery::pkg::api::resource::Quantity("250m".into()));
        limits.insert("memory".into(), k8s_openapi::apimachinery::pkg::api::resource::Quantity("64Mi".into()));
        f.resources.insert("c".into(), core::ResourceRequirements { limits: Some(limits), ..Default::default() });
        let got = match path.split_once(' ') {
            Some((resource, divisor)) => {
                let r = core::ResourceFieldSelector {
                    resource: resource.into(),
                    divisor: Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity(divisor.into())),
                    container_name: None,
                };
                resource_value(&f, "c", &r)
            }
            None => field_value(&f, path),
        };
        match expect {
            Ok(v) => assert_eq!(got.as_deref(), Ok(v), "{path}"),
            Err(e) => assert!(got.as_ref().is_err_and(|m| m.contains(e)), "{path}: {got:?}"),
        }
    }

    #[test]
    fn downward_api_values() {
        check("metadata.name", Ok("web-0"));
        check("metadata.namespace", Ok("shop"));
        check("metadata.labels['app']", Ok("web"));
        check("metadata.labels['none']", Ok(""));
        check("metadata.labels", Ok("app=\"web\"\ntier=\"a \\\"b\\\"\""));
        check("status.podIP", Err("decided when the pod is played"));
        check("spec.bogus", Err("not a field"));
        check("limits.cpu 1", Ok("1"));
        check("limits.cpu 1m", Ok("250"));
        check("limits.memory 1Mi", Ok("64"));
        check("requests.memory 1Mi", Ok("64"));
        check("limits.gpu 1", Err("not supported"));
    }

    #[test]
    fn service_variables_follow_the_kubelet() {
        let svc: core::Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "redis-master"},
            "spec": {"ports": [{"name": "redis", "port": 6379}, {"port": 53, "protocol": "UDP"}]}
        }))
        .unwrap();
        let headless: core::Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "h"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}
        }))
        .unwrap();
        let got: Vec<String> = service_vars(&[svc, headless])
            .into_iter()
            .map(|v| format!("{}={}", v.name, v.value.unwrap_or_default()))
            .collect();
        let expect = [
            "REDIS_MASTER_SERVICE_HOST=redis-master",
            "REDIS_MASTER_SERVICE_PORT=6379",
            "REDIS_MASTER_SERVICE_PORT_REDIS=6379",
            "REDIS_MASTER_PORT=tcp://redis-master:6379",
            "REDIS_MASTER_PORT_6379_TCP=tcp://redis-master:6379",
            "REDIS_MASTER_PORT_6379_TCP_PROTO=tcp",
            "REDIS_MASTER_PORT_6379_TCP_PORT=6379",
            "REDIS_MASTER_PORT_6379_TCP_ADDR=redis-master",
            "REDIS_MASTER_PORT_53_UDP=udp://redis-master:53",
            "REDIS_MASTER_PORT_53_UDP_PROTO=udp",
            "REDIS_MASTER_PORT_53_UDP_PORT=53",
            "REDIS_MASTER_PORT_53_UDP_ADDR=redis-master",
        ];
        assert_eq!(got, expect);
    }

    /// The docs' interdependent variables (tasks/inject-data-application/
    /// define-interdependent-environment-variables.md) and the kubelet's order:
    /// envFrom first, then env in order, then the Service variables; command
    /// and args see them all.
    #[test]
    fn references_expand_as_the_kubelet_orders_them() {
        let mut app = App::empty("a".into(), crate::app::Form::Manifests, Vec::new(), std::path::PathBuf::new());
        app.config_maps.push(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "cm"}, "data": {"FROM_CM": "cm-value"}
            }))
            .unwrap(),
        );
        app.services.push(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "db"}, "spec": {"ports": [{"port": 5432}]}
            }))
            .unwrap(),
        );
        let mut c: core::Container = serde_json::from_value(serde_json::json!({
            "name": "c",
            "envFrom": [{"configMapRef": {"name": "cm"}}],
            "env": [
                {"name": "SERVICE_ADDRESS", "value": "$(PROTOCOL)://$(SERVICE_IP):$(SERVICE_PORT)"},
                {"name": "UNCHANGED_REFERENCE", "value": "$(PROTOCOL)://$(SERVICE_IP):$(SERVICE_PORT)"},
                {"name": "PROTOCOL", "value": "https"},
                {"name": "SERVICE_IP", "value": "172.17.0.1"},
                {"name": "SERVICE_PORT", "value": "80"},
                {"name": "SERVICE_ADDRESS", "value": "$(PROTOCOL)://$(SERVICE_IP):$(SERVICE_PORT)"},
                {"name": "ESCAPED_REFERENCE", "value": "$$(PROTOCOL)://$(SERVICE_IP):$(SERVICE_PORT)"},
                {"name": "SEES_ENVFROM", "value": "<$(FROM_CM)>"},
                {"name": "SEES_SERVICES", "value": "$(DB_SERVICE_HOST):$(DB_SERVICE_PORT)"},
                {"name": "LATER_IS_UNSEEN", "value": "$(DEFINED_LATER)"},
                {"name": "DEFINED_LATER", "value": "x"},
                {"name": "FROM_REF", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
            ],
            "command": ["echo", "$(SERVICE_ADDRESS)", "$$(PROTOCOL)", "$(NOPE)"],
            "args": ["$(DEFINED_LATER)-$(FROM_REF)-$(DB_PORT)"]
        }))
        .unwrap();
        let facts = PodFacts { name: "web-0".into(), service_links: true, ..Default::default() };
        resolve(&app, &mut c, &facts, true).unwrap();
        let env: BTreeMap<String, String> =
            c.env.iter().flatten().map(|e| (e.name.clone(), e.value.clone().unwrap_or_default())).collect();
        assert_eq!(env["SERVICE_ADDRESS"], "https://172.17.0.1:80");
        assert_eq!(env["UNCHANGED_REFERENCE"], "$(PROTOCOL)://$(SERVICE_IP):$(SERVICE_PORT)");
        assert_eq!(env["ESCAPED_REFERENCE"], "$(PROTOCOL)://172.17.0.1:80");
        assert_eq!(env["SEES_ENVFROM"], "<cm-value>");
        assert_eq!(env["SEES_SERVICES"], "db:5432");
        assert_eq!(env["LATER_IS_UNSEEN"], "$(DEFINED_LATER)");
        assert_eq!(c.command.as_deref().unwrap(), ["echo", "https://172.17.0.1:80", "$(PROTOCOL)", "$(NOPE)"]);
        assert_eq!(c.args.as_deref().unwrap(), ["x-web-0-tcp://db:5432"]);
    }

    #[test]
    fn a_probe_sees_only_literal_values() {
        let env: Vec<core::EnvVar> = serde_json::from_value(serde_json::json!([
            {"name": "A", "value": "a"},
            {"name": "R", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
        ]))
        .unwrap();
        let cmd = ["cat".to_string(), "/$(A)/$(R)/$(SVC_SERVICE_HOST)".to_string()];
        assert_eq!(expand_static(&cmd, &env), ["cat", "/a//$(SVC_SERVICE_HOST)"]);
    }
}
