//! How the lists of the built-in kinds merge: the `patchStrategy` and
//! `patchMergeKey` of each field (`x-kubernetes-patch-strategy`,
//! `x-kubernetes-patch-merge-key` in the OpenAPI document), written once as a
//! graph of the types that hold such lists. Strategic merge patch and
//! server-side apply both read it; a test checks each entry against
//! k8s-openapi's own merge strategies (its `DeepMerge`).
//!
//! Server-side apply upstream reads `x-kubernetes-list-map-keys` instead,
//! which is the same key for these lists except a few compound ones (a
//! container port is keyed by `containerPort` and `protocol` there); podproof
//! uses the patch merge key for both (docs/api.md says so).

/// How a list merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// Items are matched by these fields (patchStrategy merge, patchMergeKey).
    Map(&'static str),
    /// A list of scalars merged as a set (patchStrategy merge, no key).
    Set,
    /// Replaced whole (no patch strategy).
    Atomic,
}

/// One field of a type: the type of its value (or of its items), how it
/// merges when it is a list, and `retainKeys`.
struct Field {
    ty: &'static str,
    name: &'static str,
    child: &'static str,
    list: Option<ListKind>,
    retain_keys: bool,
}

const fn f(ty: &'static str, name: &'static str, child: &'static str) -> Field {
    Field { ty, name, child, list: None, retain_keys: false }
}

const fn keyed(ty: &'static str, name: &'static str, child: &'static str, key: &'static str) -> Field {
    Field { ty, name, child, list: Some(ListKind::Map(key)), retain_keys: false }
}

const fn set(ty: &'static str, name: &'static str) -> Field {
    Field { ty, name, child: "", list: Some(ListKind::Set), retain_keys: false }
}

const fn retain(mut x: Field) -> Field {
    x.retain_keys = true;
    x
}

/// The types of the built-in kinds down to their merged lists.
const FIELDS: &[Field] = &[
    set("ObjectMeta", "finalizers"),
    keyed("ObjectMeta", "ownerReferences", "", "uid"),
    f("PodTemplateSpec", "metadata", "ObjectMeta"),
    f("PodTemplateSpec", "spec", "PodSpec"),
    retain(keyed("PodSpec", "volumes", "", "name")),
    keyed("PodSpec", "initContainers", "Container", "name"),
    keyed("PodSpec", "containers", "Container", "name"),
    keyed("PodSpec", "ephemeralContainers", "Container", "name"),
    keyed("PodSpec", "imagePullSecrets", "", "name"),
    keyed("PodSpec", "hostAliases", "", "ip"),
    keyed("PodSpec", "topologySpreadConstraints", "", "topologyKey"),
    retain(keyed("PodSpec", "resourceClaims", "", "name")),
    keyed("PodSpec", "schedulingGates", "", "name"),
    keyed("Container", "ports", "", "containerPort"),
    keyed("Container", "env", "", "name"),
    keyed("Container", "volumeMounts", "", "mountPath"),
    keyed("Container", "volumeDevices", "", "devicePath"),
    keyed("PodStatus", "conditions", "", "type"),
    keyed("PodStatus", "podIPs", "", "ip"),
    keyed("PodStatus", "hostIPs", "", "ip"),
    keyed("PodStatus", "resourceClaimStatuses", "", "name"),
    f("DeploymentSpec", "template", "PodTemplateSpec"),
    retain(f("DeploymentSpec", "strategy", "")),
    keyed("DeploymentStatus", "conditions", "", "type"),
    f("ReplicaSetSpec", "template", "PodTemplateSpec"),
    keyed("ReplicaSetStatus", "conditions", "", "type"),
    f("StatefulSetSpec", "template", "PodTemplateSpec"),
    keyed("StatefulSetStatus", "conditions", "", "type"),
    f("DaemonSetSpec", "template", "PodTemplateSpec"),
    keyed("DaemonSetStatus", "conditions", "", "type"),
    f("ReplicationControllerSpec", "template", "PodTemplateSpec"),
    keyed("ReplicationControllerStatus", "conditions", "", "type"),
    f("JobSpec", "template", "PodTemplateSpec"),
    keyed("JobStatus", "conditions", "", "type"),
    f("JobTemplateSpec", "metadata", "ObjectMeta"),
    f("JobTemplateSpec", "spec", "JobSpec"),
    f("CronJobSpec", "jobTemplate", "JobTemplateSpec"),
    keyed("ServiceSpec", "ports", "", "port"),
    keyed("ServiceStatus", "conditions", "", "type"),
    set("NodeSpec", "podCIDRs"),
    keyed("NodeStatus", "conditions", "", "type"),
    keyed("NodeStatus", "addresses", "", "type"),
    keyed("NamespaceStatus", "conditions", "", "type"),
    keyed("PersistentVolumeClaimStatus", "conditions", "", "type"),
    keyed("PodDisruptionBudgetStatus", "conditions", "", "type"),
    keyed("HorizontalPodAutoscalerStatus", "conditions", "", "type"),
];

/// The type of a built-in kind's `spec`, `status`, `template` (PodTemplate)
/// and `metadata`, by (group, kind).
pub fn root_field(group: &str, kind: &str, field: &str) -> Option<&'static str> {
    if field == "metadata" {
        return Some("ObjectMeta");
    }
    let (spec, status): (&'static str, &'static str) = match (group, kind) {
        ("", "Pod") => ("PodSpec", "PodStatus"),
        ("apps", "Deployment") => ("DeploymentSpec", "DeploymentStatus"),
        ("apps", "ReplicaSet") => ("ReplicaSetSpec", "ReplicaSetStatus"),
        ("apps", "StatefulSet") => ("StatefulSetSpec", "StatefulSetStatus"),
        ("apps", "DaemonSet") => ("DaemonSetSpec", "DaemonSetStatus"),
        ("", "ReplicationController") => ("ReplicationControllerSpec", "ReplicationControllerStatus"),
        ("batch", "Job") => ("JobSpec", "JobStatus"),
        ("batch", "CronJob") => ("CronJobSpec", ""),
        ("", "Service") => ("ServiceSpec", "ServiceStatus"),
        ("", "Node") => ("NodeSpec", "NodeStatus"),
        ("", "Namespace") => ("", "NamespaceStatus"),
        ("", "PersistentVolumeClaim") => ("", "PersistentVolumeClaimStatus"),
        ("policy", "PodDisruptionBudget") => ("", "PodDisruptionBudgetStatus"),
        ("autoscaling", "HorizontalPodAutoscaler") => ("", "HorizontalPodAutoscalerStatus"),
        ("", "PodTemplate") if field == "template" => return Some("PodTemplateSpec"),
        _ => return None,
    };
    let t = match field {
        "spec" => spec,
        "status" => status,
        _ => "",
    };
    (!t.is_empty()).then_some(t)
}

/// What is known of `name` in type `ty`: the type of its value (or items),
/// how it merges when it is a list, and whether it has `retainKeys`.
pub fn field(ty: &str, name: &str) -> (Option<&'static str>, ListKind, bool) {
    match FIELDS.iter().find(|x| x.ty == ty && x.name == name) {
        Some(x) => ((!x.child.is_empty()).then_some(x.child), x.list.unwrap_or(ListKind::Atomic), x.retain_keys),
        None => (None, ListKind::Atomic, false),
    }
}

/// The type at the end of a path of field names from a kind's root, if the
/// graph knows it (list items have their list's type).
pub fn type_at(group: &str, kind: &str, fields: &[&str]) -> Option<&'static str> {
    let (first, rest) = fields.split_first()?;
    let mut ty = root_field(group, kind, first)?;
    for name in rest {
        ty = field(ty, name).0?;
    }
    Some(ty)
}

/// Every (type, field, key) of a keyed list, for the tests against k8s-openapi.
pub fn keyed_lists() -> Vec<(&'static str, &'static str, &'static str)> {
    FIELDS
        .iter()
        .filter_map(|x| match x.list {
            Some(ListKind::Map(k)) => Some((x.ty, x.name, k)),
            _ => None,
        })
        .collect()
}

/// Every (type, field) of a list merged as a set.
pub fn set_lists() -> Vec<(&'static str, &'static str)> {
    FIELDS.iter().filter(|x| x.list == Some(ListKind::Set)).map(|x| (x.ty, x.name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
    use k8s_openapi::DeepMerge;
    use serde_json::{json, Value};

    /// Deep-merges `b` into `a` as k8s-openapi's generated `DeepMerge` does,
    /// which follows each field's patch strategy.
    fn deep_merge<T: DeepMerge + serde::de::DeserializeOwned + serde::Serialize>(a: Value, b: Value) -> Value {
        let mut x: T = serde_json::from_value(a).expect("a value of the type");
        let y: T = serde_json::from_value(b).expect("a value of the type");
        x.merge_from(y);
        serde_json::to_value(x).expect("serializes")
    }

    /// The required fields of each keyed list's items, and a field whose
    /// value differs between the two sides.
    fn items_of(ty: &str, field: &str) -> (Value, &'static str, Value, Value) {
        let t = json!("2026-01-01T00:00:00Z");
        match (ty, field) {
            ("PodSpec", "volumes") => (json!({}), "configMap", json!({"name": "a"}), json!({"name": "b"})),
            ("PodSpec", "topologySpreadConstraints") => (
                json!({"maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule"}),
                "nodeTaintsPolicy",
                json!("Honor"),
                json!("Ignore"),
            ),
            ("PodSpec", "hostAliases") => (json!({}), "hostnames", json!(["a"]), json!(["b"])),
            ("PodSpec", "resourceClaims") => (json!({}), "resourceClaimName", json!("a"), json!("b")),
            ("PodSpec", "imagePullSecrets" | "schedulingGates") => (json!({}), "", json!(null), json!(null)),
            ("PodSpec", _) => (json!({}), "image", json!("a"), json!("b")),
            ("Container", "ports") => (json!({}), "name", json!("a"), json!("b")),
            ("Container", "env") => (json!({}), "value", json!("a"), json!("b")),
            ("Container", "volumeMounts") => (json!({"name": "v"}), "subPath", json!("a"), json!("b")),
            ("Container", "volumeDevices") => (json!({}), "name", json!("a"), json!("b")),
            ("PodStatus", "podIPs" | "hostIPs") => (json!({}), "", json!(null), json!(null)),
            ("PodStatus", "resourceClaimStatuses") => (json!({}), "resourceClaimName", json!("a"), json!("b")),
            ("ServiceSpec", "ports") => (json!({}), "name", json!("a"), json!("b")),
            ("NodeStatus", "addresses") => (json!({}), "address", json!("a"), json!("b")),
            ("ObjectMeta", "ownerReferences") => {
                (json!({"apiVersion": "v1", "kind": "K"}), "name", json!("a"), json!("b"))
            }
            ("ServiceStatus" | "PodDisruptionBudgetStatus", "conditions") => {
                (json!({"status": "True", "lastTransitionTime": t, "reason": "R"}), "message", json!("a"), json!("b"))
            }
            (_, "conditions") => (json!({"status": "True"}), "message", json!("a"), json!("b")),
            _ => panic!("no test items for {ty}.{field}"),
        }
    }

    /// k8s-openapi's merge of `{field: a}` and `{field: b}` in type `ty`.
    fn merge_as(ty: &str, field: &str, a: Value, b: Value) -> Value {
        let wrap = |list: Value| -> Value {
            let mut v = match ty {
                "PodSpec" if field != "containers" => json!({"containers": []}),
                "Container" => json!({"name": "c"}),
                "PodDisruptionBudgetStatus" => {
                    json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0})
                }
                "HorizontalPodAutoscalerStatus" => json!({"currentReplicas": 1, "desiredReplicas": 1}),
                _ => json!({}),
            };
            v[field] = list;
            v
        };
        let (a, b) = (wrap(a), wrap(b));
        let out = match ty {
            "PodSpec" => deep_merge::<core::PodSpec>(a, b),
            "Container" => deep_merge::<core::Container>(a, b),
            "ServiceSpec" => deep_merge::<core::ServiceSpec>(a, b),
            "ServiceStatus" => deep_merge::<core::ServiceStatus>(a, b),
            "NodeStatus" => deep_merge::<core::NodeStatus>(a, b),
            "PodStatus" => deep_merge::<core::PodStatus>(a, b),
            "NamespaceStatus" => deep_merge::<core::NamespaceStatus>(a, b),
            "PersistentVolumeClaimStatus" => deep_merge::<core::PersistentVolumeClaimStatus>(a, b),
            "ReplicationControllerStatus" => deep_merge::<core::ReplicationControllerStatus>(a, b),
            "ObjectMeta" => deep_merge::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>(a, b),
            "DeploymentStatus" => deep_merge::<apps::DeploymentStatus>(a, b),
            "ReplicaSetStatus" => deep_merge::<apps::ReplicaSetStatus>(a, b),
            "StatefulSetStatus" => deep_merge::<apps::StatefulSetStatus>(a, b),
            "DaemonSetStatus" => deep_merge::<apps::DaemonSetStatus>(a, b),
            "JobStatus" => deep_merge::<batch::JobStatus>(a, b),
            "PodDisruptionBudgetStatus" => deep_merge::<k8s_openapi::api::policy::v1::PodDisruptionBudgetStatus>(a, b),
            "HorizontalPodAutoscalerStatus" => {
                deep_merge::<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerStatus>(a, b)
            }
            other => panic!("no k8s-openapi type for {other}"),
        };
        out[field].clone()
    }

    /// Whether k8s-openapi merges the list by `key`: items with two keys
    /// are both kept, and items with one key are one item, the second side's
    /// value winning (a set would keep both, an atomic list only the second).
    fn merged_by(ty: &str, field: &str, key: &str) -> bool {
        let (required, diff, va, vb) = items_of(ty, field);
        let item = |k: Value, d: Option<Value>| -> Value {
            let mut v = required.clone();
            v[key] = k;
            if let Some(d) = d.filter(|_| !diff.is_empty()) {
                v[diff] = d;
            }
            v
        };
        let (k1, k2) = match key {
            "containerPort" | "port" => (json!(80), json!(81)),
            _ => (json!("k1"), json!("k2")),
        };
        let two = merge_as(ty, field, json!([item(k1.clone(), None)]), json!([item(k2, None)]));
        if two.as_array().map_or(0, Vec::len) != 2 {
            return false;
        }
        if diff.is_empty() {
            return true;
        }
        let one = merge_as(ty, field, json!([item(k1.clone(), Some(va))]), json!([item(k1, Some(vb.clone()))]));
        one.as_array().is_some_and(|a| a.len() == 1 && a[0][diff] == vb)
    }

    #[test]
    fn every_keyed_list_merges_by_its_key_in_k8s_openapi() {
        for (ty, field, key) in keyed_lists() {
            assert!(merged_by(ty, field, key), "{ty}.{field} does not merge by {key} in k8s-openapi");
        }
    }

    #[test]
    fn set_lists_merge_as_sets_in_k8s_openapi() {
        let out = deep_merge::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>(
            json!({"finalizers": ["a", "b"]}),
            json!({"finalizers": ["b", "c"]}),
        );
        assert_eq!(out["finalizers"], json!(["a", "b", "c"]));
        let out = deep_merge::<core::NodeSpec>(json!({"podCIDRs": ["a"]}), json!({"podCIDRs": ["b"]}));
        assert_eq!(out["podCIDRs"], json!(["a", "b"]));
        assert_eq!(set_lists().len(), 2);
    }

    #[test]
    fn atomic_lists_are_replaced_in_k8s_openapi() {
        // A list the table leaves atomic is replaced whole by k8s-openapi too.
        let out = deep_merge::<core::PodSpec>(
            json!({"containers": [], "tolerations": [{"key": "a"}]}),
            json!({"containers": [], "tolerations": [{"key": "b"}]}),
        );
        assert_eq!(out["tolerations"], json!([{"key": "b"}]));
        assert_eq!(field("PodSpec", "tolerations").1, ListKind::Atomic);
        let out =
            deep_merge::<core::Container>(json!({"name": "c", "args": ["a"]}), json!({"name": "c", "args": ["b"]}));
        assert_eq!(out["args"], json!(["b"]));
    }

    #[test]
    fn types_follow_the_graph() {
        assert_eq!(type_at("apps", "Deployment", &["spec", "template", "spec"]), Some("PodSpec"));
        assert_eq!(type_at("batch", "CronJob", &["spec", "jobTemplate", "spec", "template", "spec"]), Some("PodSpec"));
        assert_eq!(field("PodSpec", "containers").1, ListKind::Map("name"));
        assert_eq!(type_at("example.com", "Widget", &["spec"]), None);
    }
}
