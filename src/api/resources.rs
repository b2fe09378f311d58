//! The resource registry: every resource the API serves, with what its
//! generic store needs to know (scope, subresources, whether metadata.generation
//! tracks the spec) and what discovery says about it (verbs, short names,
//! categories). Built-in kinds come from one table; a CustomResourceDefinition
//! adds the resources of its served versions while it exists.

use serde_json::Value;
use std::sync::Arc;

/// The verbs of every stored resource.
pub const VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// Where a resource's scale subresource reads and writes (JSON pointers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    /// Where the label selector is, as a metav1.LabelSelector (built-ins) or a
    /// string (custom resources' labelSelectorPath); empty when there is none.
    pub selector: String,
}

impl ScalePaths {
    fn builtin() -> ScalePaths {
        ScalePaths {
            spec_replicas: "/spec/replicas".into(),
            status_replicas: "/status/replicas".into(),
            selector: "/spec/selector".into(),
        }
    }
}

/// A subresource served by something other than the store (log, exec, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub name: &'static str,
    /// The kind discovery names as its response kind: (group, version, kind).
    pub kind: (&'static str, &'static str, &'static str),
    pub verbs: &'static [&'static str],
}

/// A column of a custom resource's table (additionalPrinterColumns).
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// A `status` subresource: writes to the main resource keep the status.
    pub status: bool,
    pub scale: Option<ScalePaths>,
    /// metadata.generation starts at 1 and grows with each change of the spec.
    pub generation: bool,
    /// The objects' storage: versions of one resource, and the two Event
    /// APIs, share it.
    pub storage: String,
    /// A kind of the k8s-openapi types, so podproof's validation applies.
    pub builtin: bool,
    pub connect: Vec<Connect>,
    /// For custom resources: the CRD's columns; built-ins have their tables in `table`.
    pub columns: Vec<PrinterColumn>,
    /// For custom resources: the version's openAPIV3Schema, for pruning-free
    /// unknown-field checks; `None` for built-ins.
    pub schema: Option<Value>,
    /// Garbage collection's default for a deletion without a policy.
    pub default_propagation: &'static str,
}

impl Resource {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The URL path of the collection, in `ns` for a namespaced resource.
    pub fn path(&self, ns: Option<&str>) -> String {
        let root = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match ns.filter(|_| self.namespaced) {
            Some(ns) => format!("{root}/namespaces/{ns}/{}", self.plural),
            None => format!("{root}/{}", self.plural),
        }
    }

    /// Whether this is the events.k8s.io view of the core Event storage.
    pub fn is_events_v1(&self) -> bool {
        self.group == "events.k8s.io"
    }
}

/// One row of the built-in table.
struct Builtin {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    status: bool,
    scale: bool,
    generation: bool,
    all: bool,
}

const fn b(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
) -> Builtin {
    Builtin {
        group,
        version,
        plural,
        kind,
        namespaced,
        short,
        status: false,
        scale: false,
        generation: false,
        all: false,
    }
}

impl Builtin {
    const fn status(mut self) -> Builtin {
        self.status = true;
        self
    }
    const fn scale(mut self) -> Builtin {
        self.scale = true;
        self
    }
    const fn generation(mut self) -> Builtin {
        self.generation = true;
        self
    }
    const fn all(mut self) -> Builtin {
        self.all = true;
        self
    }
}

/// The built-in resources: their scope, short names and categories as
/// kube-apiserver 1.33 registers them (pkg/registry/*/rest), and which of them
/// bump metadata.generation on spec changes (their strategies' PrepareForUpdate).
const BUILTINS: &[Builtin] = &[
    b("", "v1", "pods", "Pod", true, &["po"]).status().all(),
    b("", "v1", "services", "Service", true, &["svc"]).status().all(),
    b("", "v1", "endpoints", "Endpoints", true, &["ep"]),
    b("", "v1", "configmaps", "ConfigMap", true, &["cm"]),
    b("", "v1", "secrets", "Secret", true, &[]),
    b("", "v1", "namespaces", "Namespace", false, &["ns"]).status(),
    b("", "v1", "nodes", "Node", false, &["no"]).status(),
    b("", "v1", "serviceaccounts", "ServiceAccount", true, &["sa"]),
    b("", "v1", "events", "Event", true, &["ev"]),
    b("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, &["pvc"]).status(),
    b("", "v1", "persistentvolumes", "PersistentVolume", false, &["pv"]).status(),
    b("", "v1", "replicationcontrollers", "ReplicationController", true, &["rc"]).status().scale().generation().all(),
    b("", "v1", "limitranges", "LimitRange", true, &["limits"]),
    b("", "v1", "resourcequotas", "ResourceQuota", true, &["quota"]).status(),
    b("", "v1", "podtemplates", "PodTemplate", true, &[]),
    b("apps", "v1", "deployments", "Deployment", true, &["deploy"]).status().scale().generation().all(),
    b("apps", "v1", "replicasets", "ReplicaSet", true, &["rs"]).status().scale().generation().all(),
    b("apps", "v1", "statefulsets", "StatefulSet", true, &["sts"]).status().scale().generation().all(),
    b("apps", "v1", "daemonsets", "DaemonSet", true, &["ds"]).status().generation().all(),
    b("apps", "v1", "controllerrevisions", "ControllerRevision", true, &[]),
    b("batch", "v1", "jobs", "Job", true, &[]).status().generation().all(),
    b("batch", "v1", "cronjobs", "CronJob", true, &["cj"]).status().generation().all(),
    b("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, &[]),
    b("events.k8s.io", "v1", "events", "Event", true, &["ev"]),
    b("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, &["pdb"]).status().generation(),
    b("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, &["hpa"]).status().all(),
    b("networking.k8s.io", "v1", "ingresses", "Ingress", true, &["ing"]).status().generation(),
    b("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true, &["netpol"]).generation(),
    b("networking.k8s.io", "v1", "ingressclasses", "IngressClass", false, &[]),
    b("rbac.authorization.k8s.io", "v1", "roles", "Role", true, &[]),
    b("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, &[]),
    b("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, &[]),
    b("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, &[]),
    b("storage.k8s.io", "v1", "storageclasses", "StorageClass", false, &["sc"]),
    b("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", false, &["pc"]),
    b("coordination.k8s.io", "v1", "leases", "Lease", true, &[]),
    b("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, &["crd", "crds"])
        .status()
        .generation(),
];

/// The pod subresources that the runtime serves (through `runtime::PodRuntime`).
const POD_CONNECT: &[Connect] = &[
    Connect { name: "attach", kind: ("", "v1", "PodAttachOptions"), verbs: &["create", "get"] },
    Connect { name: "exec", kind: ("", "v1", "PodExecOptions"), verbs: &["create", "get"] },
    Connect { name: "log", kind: ("", "v1", "Pod"), verbs: &["get"] },
    Connect { name: "portforward", kind: ("", "v1", "PodPortForwardOptions"), verbs: &["create", "get"] },
];

fn builtin(row: &Builtin) -> Resource {
    let storage =
        if row.group == "events.k8s.io" { "/events".to_string() } else { format!("{}/{}", row.group, row.plural) };
    Resource {
        group: row.group.into(),
        version: row.version.into(),
        plural: row.plural.into(),
        singular: row.kind.to_lowercase(),
        kind: row.kind.into(),
        list_kind: format!("{}List", row.kind),
        namespaced: row.namespaced,
        short_names: row.short.iter().map(|s| s.to_string()).collect(),
        categories: if row.all { vec!["all".into()] } else { Vec::new() },
        status: row.status,
        scale: row.scale.then(ScalePaths::builtin),
        generation: row.generation,
        storage,
        builtin: true,
        connect: if row.plural == "pods" { POD_CONNECT.to_vec() } else { Vec::new() },
        columns: Vec::new(),
        schema: None,
        // batch/v1 Jobs keep their pods by default (the Job strategy's
        // DefaultGarbageCollectionPolicy); everything else deletes them.
        default_propagation: if row.plural == "jobs" { "Orphan" } else { "Background" },
    }
}

/// The resources served now: the built-ins and those of the CRDs that exist.
#[derive(Debug, Clone)]
pub struct Registry {
    resources: Vec<Arc<Resource>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry { resources: BUILTINS.iter().map(|r| Arc::new(builtin(r))).collect() }
    }
}

impl Registry {
    pub fn all(&self) -> &[Arc<Resource>] {
        &self.resources
    }

    /// A resource by group, version and plural name.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<Resource>> {
        self.resources.iter().find(|r| r.group == group && r.version == version && r.plural == plural).cloned()
    }

    /// A resource by apiVersion and kind (what an object says of itself).
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<Arc<Resource>> {
        let (group, version) = split_api_version(api_version);
        self.resources.iter().find(|r| r.group == group && r.version == version && r.kind == kind).cloned()
    }

    /// Every resource stored in `storage` (the versions of one resource).
    pub fn sharing(&self, storage: &str) -> Vec<Arc<Resource>> {
        self.resources.iter().filter(|r| r.storage == storage).cloned().collect()
    }

    /// The groups in discovery's order (the core group first, then in order of
    /// registration), each with its versions.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.resources {
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, vs)) => {
                    if !vs.contains(&r.version) {
                        vs.push(r.version.clone())
                    }
                }
                None => out.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        out
    }

    /// Adds (or replaces) the resources a CRD defines; returns the message
    /// of the first conflict with a built-in, which the CRD's status reports.
    pub fn add_crd(&mut self, crd: &Value) -> Result<(), String> {
        let resources = crd_resources(crd)?;
        let name = crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        for r in &resources {
            if self.resources.iter().any(|x| x.builtin && x.group == r.group && x.plural == r.plural) {
                return Err(format!("{name} would replace a built-in resource"));
            }
        }
        self.remove_crd(crd);
        self.resources.extend(resources.into_iter().map(Arc::new));
        Ok(())
    }

    pub fn remove_crd(&mut self, crd: &Value) {
        let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default();
        let plural = crd.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default();
        self.resources.retain(|r| r.builtin || !(r.group == group && r.plural == plural));
    }
}

/// `apps/v1` → ("apps", "v1"); `v1` → ("", "v1").
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// The resources of a CRD's served versions.
fn crd_resources(crd: &Value) -> Result<Vec<Resource>, String> {
    let s = |p: &str| crd.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
    let strings = |p: &str| -> Vec<String> {
        crd.pointer(p)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let group = s("/spec/group");
    let plural = s("/spec/names/plural");
    let kind = s("/spec/names/kind");
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return Err("spec.group, spec.names.plural and spec.names.kind are required".into());
    }
    let singular = match s("/spec/names/singular") {
        x if x.is_empty() => kind.to_lowercase(),
        x => x,
    };
    let list_kind = match s("/spec/names/listKind") {
        x if x.is_empty() => format!("{kind}List"),
        x => x,
    };
    let namespaced = s("/spec/scope") != "Cluster";
    let mut out = Vec::new();
    for v in crd.pointer("/spec/versions").and_then(Value::as_array).into_iter().flatten() {
        if v.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let Some(version) = v.get("name").and_then(Value::as_str) else { continue };
        let sub = v.get("subresources");
        let scale = sub.and_then(|s| s.get("scale")).map(|sc| {
            let path = |k: &str| sc.get(k).and_then(Value::as_str).map(jsonpath_to_pointer).unwrap_or_default();
            ScalePaths {
                spec_replicas: path("specReplicasPath"),
                status_replicas: path("statusReplicasPath"),
                selector: path("labelSelectorPath"),
            }
        });
        let columns = v
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .map(|cols| {
                cols.iter()
                    .map(|c| {
                        let f = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                        PrinterColumn {
                            name: f("name"),
                            type_: f("type"),
                            format: f("format"),
                            description: f("description"),
                            priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                            json_path: f("jsonPath"),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Resource {
            group: group.clone(),
            version: version.to_string(),
            plural: plural.clone(),
            singular: singular.clone(),
            kind: kind.clone(),
            list_kind: list_kind.clone(),
            namespaced,
            short_names: strings("/spec/names/shortNames"),
            categories: strings("/spec/names/categories"),
            status: sub.and_then(|s| s.get("status")).is_some(),
            scale,
            // The custom resource strategy bumps generation on any change
            // outside metadata (and outside status with a status subresource).
            generation: true,
            storage: format!("{group}/{plural}"),
            builtin: false,
            connect: Vec::new(),
            columns,
            schema: v.pointer("/schema/openAPIV3Schema").cloned(),
            default_propagation: "Background",
        });
    }
    Ok(out)
}

/// `.spec.replicas` → `/spec/replicas` (the simple JSON paths of scale subresources).
fn jsonpath_to_pointer(path: &str) -> String {
    path.split('.').filter(|s| !s.is_empty()).map(|s| format!("/{}", crate::yaml::escape(s))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_crd_adds_its_served_versions_and_leaves_with_it() {
        let mut reg = Registry::default();
        let crd = json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"}}},
                    {"name": "v0", "served": false}
                ]}
        });
        reg.add_crd(&crd).unwrap();
        let w = reg.find("example.com", "v1", "widgets").unwrap();
        assert_eq!(w.singular, "widget");
        assert_eq!(w.list_kind, "WidgetList");
        assert!(w.status);
        assert_eq!(w.scale.as_ref().unwrap().spec_replicas, "/spec/size");
        assert!(reg.find("example.com", "v0", "widgets").is_none());
        reg.remove_crd(&crd);
        assert!(reg.find("example.com", "v1", "widgets").is_none());
        assert!(reg.find("apps", "v1", "deployments").is_some());
    }

    #[test]
    fn a_crd_cannot_replace_a_builtin() {
        let mut reg = Registry::default();
        let crd = json!({"metadata": {"name": "pods."}, "spec": {"group": "", "names": {"plural": "pods", "kind": "Pod"}, "versions": [{"name": "v1"}]}});
        assert!(reg.add_crd(&crd).is_err());
    }
}
