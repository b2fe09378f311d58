//! The per-kind rules of the generic store (each kind's RESTCreateStrategy,
//! RESTUpdateStrategy and RESTGracefulDeleteStrategy upstream): what a
//! create resets, what a delete waits for, the objects a new namespace gets,
//! CRDs registering their resources, and the objects every cluster starts with.

use super::errors::{ApiError, ApiResult, Cause};
use super::meta;
use super::resources::Resource;
use super::store::{create_in, Inner, Part, WriteOptions};
use serde_json::{json, Value};
use std::sync::Arc;

/// The namespaces every cluster has.
pub const NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// The first address of the Service range, the `kubernetes` Service's.
const SERVICE_BASE: [u8; 4] = [10, 96, 0, 0];

/// The objects of a new cluster: the namespaces (with their ServiceAccounts
/// and root CA ConfigMaps), the Node, and the `kubernetes` Service.
pub(crate) fn bootstrap(inner: &mut Inner) {
    let opts = WriteOptions::manager("kube-apiserver");
    let ns_res = res(inner, "", "namespaces");
    for ns in NAMESPACES {
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}});
        create_in(inner, &ns_res, "", obj, &opts).expect("a new store takes its namespaces");
    }
    let node = node(&inner.config.node_name);
    let node_res = res(inner, "", "nodes");
    create_in(inner, &node_res, "", node, &opts).expect("a new store takes its node");
    let svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}], "type": "ClusterIP", "sessionAffinity": "None"}
    });
    let svc_res = res(inner, "", "services");
    create_in(inner, &svc_res, "default", svc, &opts).expect("a new store takes the kubernetes Service");
}

fn res(inner: &Inner, group: &str, plural: &str) -> Arc<Resource> {
    inner.registry.all().iter().find(|r| r.group == group && r.plural == plural).cloned().expect("a built-in resource")
}

/// The Node the environment is, as a kubelet registers it; the runtime
/// updates its status.
fn node(name: &str) -> Value {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find(|l| l.starts_with("MemTotal:")).and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_else(|| "0".into());
    let now = meta::now();
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
            "beta.kubernetes.io/os": "linux", "node-role.kubernetes.io/control-plane": ""}},
        "spec": {},
        "status": {
            "capacity": {"cpu": cpus.to_string(), "memory": format!("{mem_kib}Ki"), "pods": "110"},
            "allocatable": {"cpu": cpus.to_string(), "memory": format!("{mem_kib}Ki"), "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "podproof is the kubelet of this node", "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": super::VERSION, "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
                "containerRuntimeVersion": "podman://", "osImage": "", "kernelVersion": "", "machineID": "", "systemUUID": "", "bootID": ""}
        }
    })
}

/// PrepareForCreate: what a create resets, per kind.
pub(crate) fn prepare_for_create(inner: &mut Inner, res: &Resource, obj: &mut Value) {
    let crd = (res.group == "apiextensions.k8s.io").then(|| crd_status(obj));
    let o = obj.as_object_mut().expect("checked by the caller");
    match (res.group.as_str(), res.kind.as_str()) {
        ("", "Pod") => {
            let qos = qos_class(o.get("spec"));
            o.insert("status".into(), json!({"phase": "Pending", "qosClass": qos}));
        }
        ("", "Service") => {
            o.insert("status".into(), json!({"loadBalancer": {}}));
            service_defaults(inner, obj);
        }
        ("", "Namespace") => {
            o.insert("spec".into(), json!({"finalizers": ["kubernetes"]}));
            o.insert("status".into(), json!({"phase": "Active"}));
            let name = meta::name(obj).to_string();
            if !name.is_empty() {
                let m = meta::metadata_mut(obj);
                let labels = m.entry("labels").or_insert_with(|| json!({}));
                if let Some(l) = labels.as_object_mut() {
                    l.insert("kubernetes.io/metadata.name".into(), json!(name));
                }
            }
        }
        ("", "PersistentVolumeClaim") => {
            o.insert("status".into(), json!({"phase": "Pending"}));
        }
        ("", "PersistentVolume") => {
            o.insert("status".into(), json!({"phase": "Pending"}));
        }
        ("", "Node") => {}
        ("batch", "Job") => {
            o.insert("status".into(), json!({}));
            job_selector(obj);
        }
        ("", "Secret") => string_data(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            o.insert("status".into(), crd.unwrap_or_default());
        }
        _ if res.status && res.builtin => {
            o.insert("status".into(), json!({}));
        }
        _ if res.status => {
            o.remove("status");
        }
        _ => {}
    }
    super::defaults::apply(res, obj);
}

/// A Secret's stringData is written into its data, base64-encoded, and is
/// not stored (it is write-only, as the API server's conversion makes it).
fn string_data(obj: &mut Value) {
    use base64::Engine;
    let Some(o) = obj.as_object_mut() else { return };
    let Some(Value::Object(sd)) = o.remove("stringData") else { return };
    let data = o.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    let d = data.as_object_mut().expect("made a map above");
    for (k, v) in sd {
        let text = match v {
            Value::String(s) => s,
            other => other.to_string(),
        };
        d.insert(k, json!(base64::engine::general_purpose::STANDARD.encode(text)));
    }
}

/// A Job without `manualSelector` gets a selector of its own uid, and its
/// template the labels that select it (the Job strategy's generateSelector).
fn job_selector(obj: &mut Value) {
    if obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let uid = meta::str_at(obj, "/metadata/uid").to_string();
    let name = meta::name(obj).to_string();
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else { return };
    spec.insert("selector".into(), json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}));
    let t = spec.entry("template").or_insert(json!({}));
    if !t.get("metadata").is_some_and(Value::is_object) {
        t["metadata"] = json!({});
    }
    let m = t["metadata"].as_object_mut().expect("made a map above");
    let labels = m.entry("labels").or_insert(json!({}));
    if let Some(l) = labels.as_object_mut() {
        for (k, v) in [
            ("batch.kubernetes.io/controller-uid", &uid),
            ("batch.kubernetes.io/job-name", &name),
            ("controller-uid", &uid),
            ("job-name", &name),
        ] {
            l.insert(k.into(), json!(v));
        }
    }
}

/// PrepareForUpdate: what an update keeps of the stored object, per kind.
pub(crate) fn prepare_for_update(inner: &mut Inner, res: &Resource, old: &Value, new: &mut Value, part: Part) {
    let _ = inner;
    match (res.group.as_str(), res.kind.as_str(), part) {
        // A Namespace's spec.finalizers change only through /finalize.
        ("", "Namespace", Part::Main) => {
            if let Some(s) = old.get("spec") {
                new["spec"] = s.clone();
            }
        }
        ("", "Service", Part::Main) => {
            // spec.clusterIP is immutable; an update without it keeps it.
            for k in ["clusterIP", "clusterIPs"] {
                if new.pointer(&format!("/spec/{k}")).is_none() {
                    if let Some(v) = old.pointer(&format!("/spec/{k}")) {
                        if let Some(s) = new.get_mut("spec").and_then(Value::as_object_mut) {
                            s.insert(k.into(), v.clone());
                        }
                    }
                }
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition", Part::Main) => {
            new["status"] = crd_status(new);
        }
        ("", "Secret", Part::Main) => string_data(new),
        _ => {}
    }
    if part == Part::Main {
        super::defaults::apply(res, new);
    }
}

/// What must happen before an object is stored: a CRD registers its
/// resources (refused when it would replace a built-in one).
pub(crate) fn before_store(inner: &mut Inner, res: &Resource, _old: Option<&Value>, new: &mut Value) -> ApiResult<()> {
    if res.group == "apiextensions.k8s.io" && res.kind == "CustomResourceDefinition" {
        if let Err(why) = inner.registry.add_crd(new) {
            return Err(ApiError::invalid(
                &res.group,
                &res.kind,
                meta::name(new),
                vec![Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: {why}"),
                    field: "spec".into(),
                }],
            ));
        }
    }
    Ok(())
}

/// What a create sets off: a new namespace gets its default ServiceAccount
/// and the root CA ConfigMap (the serviceaccount and root-ca-cert-publisher
/// controllers).
pub(crate) fn after_create(inner: &mut Inner, res: &Resource, obj: &Value) {
    if res.group.is_empty() && res.kind == "Namespace" {
        let ns = meta::name(obj).to_string();
        let opts = WriteOptions::manager("kube-controller-manager");
        let sa = res_of(inner, "serviceaccounts");
        let _ = create_in(
            inner,
            &sa,
            &ns,
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
            &opts,
        );
        let cm = res_of(inner, "configmaps");
        let ca = inner.config.ca_pem.clone();
        let _ = create_in(
            inner,
            &cm,
            &ns,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}}, "data": {"ca.crt": ca}}),
            &opts,
        );
    }
}

fn res_of(inner: &Inner, plural: &str) -> Arc<Resource> {
    res(inner, "", plural)
}

/// What a deletion sets off: a CRD takes its resources and their objects with it.
pub(crate) fn after_delete(inner: &mut Inner, res: &Resource, obj: &Value) {
    if res.group == "apiextensions.k8s.io" && res.kind == "CustomResourceDefinition" {
        let group = meta::str_at(obj, "/spec/group");
        let plural = meta::str_at(obj, "/spec/names/plural");
        let storage = format!("{group}/{plural}");
        if let Some(r) = inner.resource_of(&storage) {
            let keys: Vec<(String, String)> =
                inner.data.get(&storage).map(|m| m.keys().cloned().collect()).unwrap_or_default();
            for (ns, name) in keys {
                inner.remove(&r, &ns, &name);
            }
        }
        inner.registry.remove_crd(obj);
    }
}

/// The grace period of a deletion: pods (RESTGracefulDeleteStrategy) wait for
/// the kubelet, unless they never ran on a node or have finished; nothing else waits.
pub(crate) fn grace_period(res: &Resource, obj: &Value, asked: Option<i64>) -> i64 {
    if !(res.group.is_empty() && res.kind == "Pod") {
        return 0;
    }
    let phase = meta::str_at(obj, "/status/phase");
    if meta::str_at(obj, "/spec/nodeName").is_empty() || phase == "Succeeded" || phase == "Failed" {
        return 0;
    }
    let g = asked.or_else(|| obj.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64)).unwrap_or(30);
    // A negative period is taken as 1 s (CheckGracefulDelete).
    if g < 0 {
        1
    } else {
        g
    }
}

/// Whether a deleted object must wait beyond its finalizers: a Namespace
/// waits for its content (spec.finalizers).
pub(crate) fn held(res: &Resource, obj: &Value) -> bool {
    res.group.is_empty()
        && res.kind == "Namespace"
        && obj.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|a| !a.is_empty())
}

/// BeforeDelete's changes to an object that stays for a while.
pub(crate) fn before_delete(_inner: &mut Inner, res: &Resource, obj: &mut Value) {
    if res.group.is_empty() && res.kind == "Namespace" {
        if let Some(s) = obj.get_mut("status").and_then(Value::as_object_mut) {
            s.insert("phase".into(), json!("Terminating"));
        } else {
            obj["status"] = json!({"phase": "Terminating"});
        }
    }
}

/// A CRD's status as the apiextensions controllers settle it: names
/// accepted, established, and the storage version stored.
fn crd_status(crd: &Value) -> Value {
    let now = meta::now();
    let mut names = crd.pointer("/spec/names").cloned().unwrap_or_else(|| json!({}));
    let kind = meta::str_at(crd, "/spec/names/kind").to_string();
    if let Some(n) = names.as_object_mut() {
        n.entry("singular").or_insert_with(|| json!(kind.to_lowercase()));
        n.entry("listKind").or_insert_with(|| json!(format!("{kind}List")));
    }
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    json!({
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now}
        ],
        "storedVersions": stored
    })
}

/// The QoS class of a pod spec (pkg/apis/core/helper/qos): Guaranteed when
/// every container has equal cpu and memory limits and requests, BestEffort
/// when none has any, Burstable otherwise.
pub fn qos_class(spec: Option<&Value>) -> &'static str {
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .filter_map(|k| spec.and_then(|s| s.get(*k)).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let req = c.pointer("/resources/requests").and_then(Value::as_object);
        let lim = c.pointer("/resources/limits").and_then(Value::as_object);
        let has = |m: Option<&serde_json::Map<String, Value>>, k: &str| m.is_some_and(|m| m.contains_key(k));
        if ["cpu", "memory"].iter().any(|k| has(req, k) || has(lim, k)) {
            any = true;
        }
        for k in ["cpu", "memory"] {
            let l = lim.and_then(|m| m.get(k));
            // A request defaults to its limit.
            let r = req.and_then(|m| m.get(k)).or(l);
            let same = match (l, r) {
                (Some(l), Some(r)) => crate::quantity::parse(&value_text(l)) == crate::quantity::parse(&value_text(r)),
                _ => false,
            };
            if l.is_none() || !same {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed && !containers.is_empty() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A Service's defaults and its ClusterIP, from the run's range.
fn service_defaults(inner: &Inner, obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let ty = spec.entry("type").or_insert_with(|| json!("ClusterIP")).as_str().unwrap_or("ClusterIP").to_string();
    if ty == "ExternalName" {
        return;
    }
    spec.entry("sessionAffinity").or_insert_with(|| json!("None"));
    let ip = spec.get("clusterIP").and_then(Value::as_str).unwrap_or_default().to_string();
    let ip = if ip.is_empty() { allocate_ip(inner) } else { ip };
    spec.insert("clusterIP".into(), json!(ip));
    spec.insert("clusterIPs".into(), json!([ip]));
    if ip != "None" {
        spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
        spec.entry("ipFamilyPolicy").or_insert_with(|| json!("SingleStack"));
    } else {
        spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
        spec.entry("ipFamilyPolicy").or_insert_with(|| json!("SingleStack"));
    }
    spec.entry("internalTrafficPolicy").or_insert_with(|| json!("Cluster"));
    if ty == "NodePort" || ty == "LoadBalancer" {
        spec.entry("externalTrafficPolicy").or_insert_with(|| json!("Cluster"));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            if let Some(p) = p.as_object_mut() {
                p.entry("protocol").or_insert_with(|| json!("TCP"));
                if !p.contains_key("targetPort") {
                    if let Some(port) = p.get("port").cloned() {
                        p.insert("targetPort".into(), port);
                    }
                }
            }
        }
    }
}

/// The lowest free address of 10.96.0.0/16 after the base (the allocator's
/// range; the `kubernetes` Service takes .1).
fn allocate_ip(inner: &Inner) -> String {
    let used: std::collections::HashSet<String> = inner
        .objects("/services")
        .filter_map(|s| s.pointer("/spec/clusterIP").and_then(Value::as_str).map(str::to_string))
        .collect();
    for n in 1u32..65535 {
        let ip = format!("{}.{}.{}.{}", SERVICE_BASE[0], SERVICE_BASE[1], n >> 8, n & 0xff);
        if n & 0xff != 0 && n & 0xff != 255 && !used.contains(&ip) {
            return ip;
        }
    }
    "None".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_classes() {
        let spec = |r: Value| json!({"containers": [{"name": "a", "resources": r}]});
        assert_eq!(qos_class(Some(&spec(json!({})))), "BestEffort");
        assert_eq!(qos_class(Some(&spec(json!({"limits": {"cpu": "1", "memory": "1Gi"}})))), "Guaranteed");
        assert_eq!(
            qos_class(Some(&spec(
                json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}})
            ))),
            "Guaranteed"
        );
        assert_eq!(qos_class(Some(&spec(json!({"requests": {"cpu": "1"}})))), "Burstable");
    }
}
