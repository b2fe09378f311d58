//! The kinds a Kubernetes 1.33 API server serves, by apiVersion: a
//! document of a built-in group whose kind (or version) the server does not
//! serve is refused (`no matches for kind "Pood" in version "v1"`), by
//! `kubectl apply` and by podproof alike. The table is the k8s-openapi
//! crate's (its `Resource` impls for the chosen API version).

use super::{Issues, Problem};

/// (apiVersion, kinds) of every built-in group-version.
pub const SERVED: &[(&str, &[&str])] = &[
    (
        "admissionregistration.k8s.io/v1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "ValidatingWebhookConfiguration",
        ],
    ),
    ("admissionregistration.k8s.io/v1alpha1", &["MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"]),
    ("admissionregistration.k8s.io/v1beta1", &["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]),
    ("apiextensions.k8s.io/v1", &["CustomResourceDefinition"]),
    ("apiregistration.k8s.io/v1", &["APIService"]),
    ("apps/v1", &["ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"]),
    ("authentication.k8s.io/v1", &["SelfSubjectReview", "TokenRequest", "TokenReview"]),
    (
        "authorization.k8s.io/v1",
        &["LocalSubjectAccessReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview", "SubjectAccessReview"],
    ),
    ("autoscaling/v1", &["HorizontalPodAutoscaler", "Scale"]),
    ("autoscaling/v2", &["HorizontalPodAutoscaler"]),
    ("batch/v1", &["CronJob", "Job"]),
    ("certificates.k8s.io/v1", &["CertificateSigningRequest"]),
    ("certificates.k8s.io/v1alpha1", &["ClusterTrustBundle"]),
    ("certificates.k8s.io/v1beta1", &["ClusterTrustBundle"]),
    ("coordination.k8s.io/v1", &["Lease"]),
    ("coordination.k8s.io/v1alpha2", &["LeaseCandidate"]),
    ("coordination.k8s.io/v1beta1", &["LeaseCandidate"]),
    ("discovery.k8s.io/v1", &["EndpointSlice"]),
    ("events.k8s.io/v1", &["Event"]),
    ("flowcontrol.apiserver.k8s.io/v1", &["FlowSchema", "PriorityLevelConfiguration"]),
    ("internal.apiserver.k8s.io/v1alpha1", &["StorageVersion"]),
    ("networking.k8s.io/v1", &["IPAddress", "Ingress", "IngressClass", "NetworkPolicy", "ServiceCIDR"]),
    ("networking.k8s.io/v1beta1", &["IPAddress", "ServiceCIDR"]),
    ("node.k8s.io/v1", &["RuntimeClass"]),
    ("policy/v1", &["Eviction", "PodDisruptionBudget"]),
    ("rbac.authorization.k8s.io/v1", &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]),
    (
        "resource.k8s.io/v1alpha3",
        &["DeviceClass", "DeviceTaintRule", "ResourceClaim", "ResourceClaimTemplate", "ResourceSlice"],
    ),
    ("resource.k8s.io/v1beta1", &["DeviceClass", "ResourceClaim", "ResourceClaimTemplate", "ResourceSlice"]),
    ("resource.k8s.io/v1beta2", &["DeviceClass", "ResourceClaim", "ResourceClaimTemplate", "ResourceSlice"]),
    ("scheduling.k8s.io/v1", &["PriorityClass"]),
    ("storage.k8s.io/v1", &["CSIDriver", "CSINode", "CSIStorageCapacity", "StorageClass", "VolumeAttachment"]),
    ("storage.k8s.io/v1alpha1", &["VolumeAttributesClass"]),
    ("storage.k8s.io/v1beta1", &["VolumeAttributesClass"]),
    ("storagemigration.k8s.io/v1alpha1", &["StorageVersionMigration"]),
    (
        "v1",
        &[
            "Binding",
            "ComponentStatus",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "Namespace",
            "Node",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
        ],
    ),
];

/// Group-versions a current cluster no longer serves, with what replaces
/// them (for kinds served elsewhere now, the message names that instead).
pub const REMOVED: &[&str] = &[
    "extensions/v1beta1",
    "networking.k8s.io/v1beta1",
    "apps/v1beta1",
    "apps/v1beta2",
    "batch/v1beta1",
    "batch/v2alpha1",
    "policy/v1beta1",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "storage.k8s.io/v1beta1",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "certificates.k8s.io/v1beta1",
    "coordination.k8s.io/v1beta1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1beta1",
    "node.k8s.io/v1beta1",
    "node.k8s.io/v1alpha1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "apiregistration.k8s.io/v1beta1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1beta1",
];

/// Whether `api` is a group-version a current cluster no longer serves.
/// Some of them still serve a few kinds (a ValidatingAdmissionPolicy in
/// `admissionregistration.k8s.io/v1beta1`); `SERVED` wins for those.
pub fn is_removed(api: &str) -> bool {
    REMOVED.contains(&api)
}

fn group(api: &str) -> &str {
    api.rsplit_once('/').map_or("", |(g, _)| g)
}

/// Whether `api` belongs to a group the API server itself serves (its
/// custom resources' groups are anyone's).
pub fn is_builtin_group(api: &str) -> bool {
    let g = group(api);
    g == "extensions" || SERVED.iter().any(|(a, _)| group(a) == g && (!g.is_empty() || !a.contains('/')))
}

/// Whether the API server serves `kind` at `api`.
pub fn is_served(api: &str, kind: &str) -> bool {
    SERVED.iter().any(|(a, ks)| *a == api && ks.contains(&kind))
}

/// Where a current cluster serves `kind`: its stable version first.
pub fn served_at(kind: &str) -> Option<&'static str> {
    let mut at: Vec<&str> = SERVED.iter().filter(|(_, ks)| ks.contains(&kind)).map(|(a, _)| *a).collect();
    at.sort_by_key(|a| (a.contains("alpha") || a.contains("beta"), std::cmp::Reverse(*a)));
    at.first().copied()
}

/// Refuses a document of a built-in group whose kind that apiVersion does not
/// serve: another version serves it (`Deployment` in `v1`), or none does
/// (`Pood`). Removed versions are lint's `removed-api-version` business.
/// Returns whether the kind is served (or not ours to judge).
pub fn check(out: &mut Issues, api: &str, kind: &str) -> bool {
    if is_served(api, kind) || !is_builtin_group(api) || is_removed(api) {
        return true;
    }
    match served_at(kind) {
        Some(want) => {
            out.value(Problem::Invalid, "/apiVersion", format!("{kind} must have apiVersion `{want}`, found `{api}`"))
        }
        None => {
            let kinds: Vec<&str> = SERVED.iter().flat_map(|(_, ks)| ks.iter().copied()).collect();
            let near = kinds
                .iter()
                .filter(|k| crate::validation::messages::near(kind, k))
                .map(|k| format!("; did you mean `{k}` ({})?", served_at(k).unwrap_or(api)))
                .next()
                .unwrap_or_default();
            out.value(Problem::Invalid, "/kind", format!("apiVersion `{api}` serves no kind `{kind}`{near}"))
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_kind(api: &str, kind: &str, expect: &str) {
        let mut out = Issues::default();
        check(&mut out, api, kind);
        let got: Vec<String> = out.0.iter().map(|i| format!("{} {}", i.pointer, i.message)).collect();
        assert_eq!(got.join("\n"), expect, "{api} {kind}");
    }

    #[test]
    fn served_kinds() {
        check_kind("v1", "Pod", "");
        check_kind("v1", "Pood", "/kind apiVersion `v1` serves no kind `Pood`; did you mean `Pod` (v1)?");
        check_kind("v1", "Deployment", "/apiVersion Deployment must have apiVersion `apps/v1`, found `v1`");
        check_kind("apps/v2", "Deployment", "/apiVersion Deployment must have apiVersion `apps/v1`, found `apps/v2`");
        check_kind(
            "autoscaling/v3",
            "HorizontalPodAutoscaler",
            "/apiVersion HorizontalPodAutoscaler must have apiVersion `autoscaling/v2`, found `autoscaling/v3`",
        );
        check_kind("autoscaling/v1", "HorizontalPodAutoscaler", "");
        check_kind("apps/v1", "Widget", "/kind apiVersion `apps/v1` serves no kind `Widget`");
        // Removed versions, custom resources and groups that only look built in.
        check_kind("extensions/v1beta1", "Ingress", "");
        check_kind("policy/v1beta1", "PodSecurityPolicy", "");
        check_kind("monitoring.coreos.com/v1", "Prometheus", "");
        check_kind("gateway.networking.k8s.io/v1", "HTTPRoute", "");
        check_kind("admissionregistration.k8s.io/v1beta1", "ValidatingAdmissionPolicy", "");
    }
}
