//! Defaulting: the values the API server fills in on a write
//! (pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go,
//! pkg/apis/batch/v1/defaults.go), so that an object read back carries them
//! as on a cluster (`imagePullPolicy`, `restartPolicy`, a Deployment's
//! strategy...). Only fields that are not set are filled.

use super::resources::Resource;
use serde_json::{json, Map, Value};

/// Fills in the defaults of a built-in object.
pub fn apply(res: &Resource, obj: &mut Value) {
    if !res.builtin {
        return;
    }
    match (res.group.as_str(), res.kind.as_str()) {
        ("", "Pod") => {
            if let Some(spec) = obj.get_mut("spec") {
                pod_spec(spec, true);
            }
        }
        ("", "PodTemplate") => template(obj.get_mut("template")),
        ("", "ReplicationController") => {
            let s = spec(obj);
            s.entry("replicas").or_insert(json!(1));
            template(obj.pointer_mut("/spec/template"));
        }
        ("apps", "Deployment") => {
            let s = spec(obj);
            s.entry("replicas").or_insert(json!(1));
            s.entry("revisionHistoryLimit").or_insert(json!(10));
            s.entry("progressDeadlineSeconds").or_insert(json!(600));
            let st = s.entry("strategy").or_insert(json!({}));
            if let Some(st) = st.as_object_mut() {
                let ty = st.entry("type").or_insert(json!("RollingUpdate")).clone();
                if ty == "RollingUpdate" {
                    let ru = st.entry("rollingUpdate").or_insert(json!({}));
                    if let Some(ru) = ru.as_object_mut() {
                        ru.entry("maxSurge").or_insert(json!("25%"));
                        ru.entry("maxUnavailable").or_insert(json!("25%"));
                    }
                }
            }
            template(obj.pointer_mut("/spec/template"));
        }
        ("apps", "ReplicaSet") => {
            spec(obj).entry("replicas").or_insert(json!(1));
            template(obj.pointer_mut("/spec/template"));
        }
        ("apps", "StatefulSet") => {
            let s = spec(obj);
            s.entry("replicas").or_insert(json!(1));
            s.entry("podManagementPolicy").or_insert(json!("OrderedReady"));
            s.entry("revisionHistoryLimit").or_insert(json!(10));
            let us = s.entry("updateStrategy").or_insert(json!({}));
            if let Some(us) = us.as_object_mut() {
                let ty = us.entry("type").or_insert(json!("RollingUpdate")).clone();
                if ty == "RollingUpdate" {
                    let ru = us.entry("rollingUpdate").or_insert(json!({}));
                    if let Some(ru) = ru.as_object_mut() {
                        ru.entry("partition").or_insert(json!(0));
                    }
                }
            }
            s.entry("persistentVolumeClaimRetentionPolicy")
                .or_insert(json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
            template(obj.pointer_mut("/spec/template"));
        }
        ("apps", "DaemonSet") => {
            let s = spec(obj);
            s.entry("revisionHistoryLimit").or_insert(json!(10));
            let us = s.entry("updateStrategy").or_insert(json!({}));
            if let Some(us) = us.as_object_mut() {
                let ty = us.entry("type").or_insert(json!("RollingUpdate")).clone();
                if ty == "RollingUpdate" {
                    let ru = us.entry("rollingUpdate").or_insert(json!({}));
                    if let Some(ru) = ru.as_object_mut() {
                        ru.entry("maxSurge").or_insert(json!(0));
                        ru.entry("maxUnavailable").or_insert(json!(1));
                    }
                }
            }
            template(obj.pointer_mut("/spec/template"));
        }
        ("batch", "Job") => {
            job_spec(obj.get_mut("spec"));
        }
        ("batch", "CronJob") => {
            let s = spec(obj);
            s.entry("concurrencyPolicy").or_insert(json!("Allow"));
            s.entry("suspend").or_insert(json!(false));
            s.entry("successfulJobsHistoryLimit").or_insert(json!(3));
            s.entry("failedJobsHistoryLimit").or_insert(json!(1));
            job_spec(obj.pointer_mut("/spec/jobTemplate/spec"));
        }
        ("", "Secret") => {
            if let Some(o) = obj.as_object_mut() {
                o.entry("type").or_insert(json!("Opaque"));
            }
        }
        ("", "PersistentVolumeClaim") => {
            spec(obj).entry("volumeMode").or_insert(json!("Filesystem"));
        }
        _ => {}
    }
}

fn spec(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("spec").is_some_and(Value::is_object) {
        obj["spec"] = json!({});
    }
    obj["spec"].as_object_mut().expect("made a map above")
}

fn template(t: Option<&mut Value>) {
    if let Some(spec) = t.and_then(|t| t.get_mut("spec")) {
        pod_spec(spec, false);
    }
}

fn job_spec(s: Option<&mut Value>) {
    let Some(s) = s.and_then(Value::as_object_mut) else { return };
    let parallelism_set = s.contains_key("parallelism");
    if !s.contains_key("completions") && !parallelism_set {
        s.insert("completions".into(), json!(1));
    }
    s.entry("parallelism").or_insert(json!(1));
    s.entry("backoffLimit").or_insert(json!(6));
    s.entry("completionMode").or_insert(json!("NonIndexed"));
    s.entry("suspend").or_insert(json!(false));
    s.entry("podReplacementPolicy").or_insert(json!("TerminatingOrFailed"));
    if let Some(t) = s.get_mut("template") {
        template(Some(t));
    }
}

/// SetDefaults_PodSpec and SetDefaults_Container; `pod` adds what only a
/// Pod (not a template) gets: its service account (the ServiceAccount
/// admission plugin) and priority.
fn pod_spec(spec: &mut Value, pod: bool) {
    let Some(s) = spec.as_object_mut() else { return };
    s.entry("restartPolicy").or_insert(json!("Always"));
    s.entry("terminationGracePeriodSeconds").or_insert(json!(30));
    s.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
    s.entry("securityContext").or_insert(json!({}));
    s.entry("schedulerName").or_insert(json!("default-scheduler"));
    if pod {
        // SetDefaults_Pod, not SetDefaults_PodSpec: templates do not get it.
        s.entry("enableServiceLinks").or_insert(json!(true));
        let sa = s
            .get("serviceAccountName")
            .or_else(|| s.get("serviceAccount"))
            .and_then(Value::as_str)
            .filter(|x| !x.is_empty())
            .unwrap_or("default")
            .to_string();
        s.insert("serviceAccountName".into(), json!(sa));
        s.insert("serviceAccount".into(), json!(sa));
        s.entry("priority").or_insert(json!(0));
        s.entry("preemptionPolicy").or_insert(json!("PreemptLowerPriority"));
        s.entry("tolerations").or_insert(json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ]));
    }
    for list in ["initContainers", "containers"] {
        if let Some(cs) = s.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                container(c);
                if pod {
                    requests_from_limits(c);
                }
            }
        }
    }
}

/// SetDefaults_Pod: a container with limits and no requests for them
/// requests its limits.
fn requests_from_limits(c: &mut Value) {
    let Some(limits) = c.pointer("/resources/limits").and_then(Value::as_object).cloned() else { return };
    let Some(r) = c.get_mut("resources").and_then(Value::as_object_mut) else { return };
    let req = r.entry("requests").or_insert(json!({}));
    if let Some(req) = req.as_object_mut() {
        for (k, v) in limits {
            req.entry(k).or_insert(v);
        }
    }
}

fn container(c: &mut Value) {
    let Some(m) = c.as_object_mut() else { return };
    m.entry("terminationMessagePath").or_insert(json!("/dev/termination-log"));
    m.entry("terminationMessagePolicy").or_insert(json!("File"));
    m.entry("resources").or_insert(json!({}));
    if !m.contains_key("imagePullPolicy") {
        let image = m.get("image").and_then(Value::as_str).unwrap_or_default();
        m.insert("imagePullPolicy".into(), json!(pull_policy(image)));
    }
    if let Some(ports) = m.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            p.entry("protocol").or_insert(json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = m.get_mut(probe).and_then(Value::as_object_mut) {
            p.entry("timeoutSeconds").or_insert(json!(1));
            p.entry("periodSeconds").or_insert(json!(10));
            p.entry("successThreshold").or_insert(json!(1));
            p.entry("failureThreshold").or_insert(json!(3));
            if let Some(h) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
                h.entry("scheme").or_insert(json!("HTTP"));
                h.entry("path").or_insert(json!("/"));
            }
        }
    }
}

/// `Always` for `:latest` or no tag, `IfNotPresent` otherwise (a digest counts as a tag).
fn pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policies() {
        assert_eq!(pull_policy("nginx"), "Always");
        assert_eq!(pull_policy("nginx:latest"), "Always");
        assert_eq!(pull_policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(pull_policy("localhost:5000/app"), "Always");
        assert_eq!(pull_policy("app@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn a_deployment_gets_its_strategy_and_containers_their_defaults() {
        let res = super::super::resources::Registry::default().find("apps", "v1", "deployments").unwrap();
        let mut d = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "nginx:1"}]}}}});
        apply(&res, &mut d);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert!(d["spec"]["template"]["spec"].get("serviceAccountName").is_none());
    }
}
