//! What becomes of every field podproof reads.
//!
//! The fidelity ledger (`fidelity::FIELDS`) lists what a local run does not
//! honour. For the ledger to be complete, every other field must be honoured,
//! and this table says how: rendered into the pod that podman runs and
//! carried out by podman, performed by podproof itself, or inert (a cluster
//! does nothing observable with it either). A test walks every field of the
//! k8s-openapi types below and fails for any field that is neither a row of
//! `fidelity::FIELDS` nor of `HONOURED`, so a new k8s-openapi version fails
//! until each new field is decided, and removing a ledger row fails too.

/// How a field that is not a ledger row is honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Rendered into the played pod; podman carries it out.
    Podman,
    /// podproof carries it out itself (how).
    Podproof(&'static str),
    /// A cluster does nothing a test could observe with it either.
    Inert,
}

/// The k8s-openapi types whose fields are decided, by the names the table uses.
pub const TYPES: &[&str] = &[
    "DeploymentSpec",
    "StatefulSetSpec",
    "DaemonSetSpec",
    "JobSpec",
    "PodSpec",
    "PodSecurityContext",
    "Container",
    "SecurityContext",
    "Probe",
    "Lifecycle",
    "ContainerPort",
    "EnvVar",
    "EnvVarSource",
    "EnvFromSource",
    "Volume",
    "VolumeMount",
    "VolumeProjection",
    "ServiceSpec",
    "ServicePort",
];

use How::*;

const PROBES: How = Podproof("performed by the pod workers with the kubelet's timing (docs/kubelet.md)");
const SPLIT: How = Podproof("each member is a Pod of its own, rendered from the template");
const SELECTOR: How = Podproof("validated as the API server does: it must select the template's labels");
const REFUSED: How = Podproof("refused at load, as the API server refuses it");
const PROJECTED: How =
    Podproof("written on the host in the kubelet's `..data` layout, mounted read-only, updated live");
const ENV: How = Podproof("resolved and written into the container's environment, as the kubelet does");

/// (type, field, how) for every field that is not a ledger row.
pub static HONOURED: &[(&str, &str, How)] = &[
    ("DeploymentSpec", "replicas", Podproof("that many member pods")),
    ("DeploymentSpec", "selector", SELECTOR),
    ("DeploymentSpec", "template", SPLIT),
    ("StatefulSetSpec", "replicas", Podproof("that many member pods, `<name>-0` on")),
    ("StatefulSetSpec", "selector", SELECTOR),
    ("StatefulSetSpec", "template", SPLIT),
    (
        "StatefulSetSpec",
        "podManagementPolicy",
        Podproof("OrderedReady (the default) starts one member at a time, each once the one before is ready, and removes them from the highest index; Parallel starts them together"),
    ),
    ("StatefulSetSpec", "volumeClaimTemplates", Podproof("a named volume per member, `<claim>-<pod>`")),
    ("DaemonSetSpec", "selector", SELECTOR),
    ("DaemonSetSpec", "template", Podproof("one member pod: this machine is the one node")),
    ("JobSpec", "template", SPLIT),
    ("JobSpec", "parallelism", Podproof("that many member pods run")),
    ("JobSpec", "selector", SELECTOR),
    ("JobSpec", "manualSelector", Inert),
    // The pod spec.
    ("PodSpec", "containers", Podman),
    ("PodSpec", "initContainers", Podproof("run in order before the app containers; native sidecars kept running")),
    ("PodSpec", "restartPolicy", Podproof("applied by the pod workers, with CrashLoopBackOff")),
    ("PodSpec", "securityContext", Podman),
    ("PodSpec", "volumes", Podman),
    ("PodSpec", "hostNetwork", Podman),
    ("PodSpec", "hostAliases", Podman),
    ("PodSpec", "dnsConfig", Podman),
    ("PodSpec", "shareProcessNamespace", Podman),
    (
        "PodSpec",
        "terminationGracePeriodSeconds",
        Podproof("every stop waits for it, up to the run's cap (a ledger entry when it caps)"),
    ),
    ("PodSpec", "ephemeralContainers", REFUSED),
    ("PodSecurityContext", "runAsUser", Podman),
    ("PodSecurityContext", "runAsGroup", Podman),
    ("PodSecurityContext", "seLinuxOptions", Podman),
    ("PodSecurityContext", "supplementalGroups", Podman),
    // Each container.
    ("Container", "name", Podman),
    ("Container", "image", Podproof("mapped by the run's image map and built locally when missing")),
    ("Container", "command", Podman),
    ("Container", "args", Podman),
    ("Container", "workingDir", Podman),
    ("Container", "env", ENV),
    ("Container", "envFrom", ENV),
    ("Container", "ports", Podproof("kept for probes and names; only hostPorts are published, as in a cluster")),
    ("Container", "volumeMounts", Podman),
    ("Container", "securityContext", Podman),
    ("Container", "lifecycle", Podproof("postStart and preStop hooks run by podproof with the kubelet's order")),
    ("Container", "readinessProbe", PROBES),
    ("Container", "startupProbe", PROBES),
    ("Container", "restartPolicy", Podproof("`Always` on an init container makes it a native sidecar")),
    ("SecurityContext", "allowPrivilegeEscalation", Podman),
    ("SecurityContext", "capabilities", Podman),
    ("SecurityContext", "privileged", Podman),
    ("SecurityContext", "readOnlyRootFilesystem", Podman),
    ("SecurityContext", "runAsGroup", Podman),
    ("SecurityContext", "runAsUser", Podman),
    ("SecurityContext", "seLinuxOptions", Podman),
    // Probes and hooks: podproof's own.
    ("Probe", "exec", PROBES),
    ("Probe", "httpGet", PROBES),
    ("Probe", "tcpSocket", PROBES),
    ("Probe", "grpc", PROBES),
    ("Probe", "initialDelaySeconds", PROBES),
    ("Probe", "periodSeconds", PROBES),
    ("Probe", "timeoutSeconds", PROBES),
    ("Probe", "successThreshold", PROBES),
    ("Probe", "failureThreshold", PROBES),
    ("Probe", "terminationGracePeriodSeconds", Podproof("the grace period of a kill after the probe fails")),
    ("Lifecycle", "postStart", Podproof("run right after the container starts; a failure kills it")),
    ("Lifecycle", "preStop", Podproof("run before every stop, within the grace period")),
    ("ContainerPort", "containerPort", Podproof("named ports resolve for probes, hooks and Services")),
    ("ContainerPort", "name", Podproof("named ports resolve for probes, hooks and Services")),
    ("ContainerPort", "protocol", Inert),
    ("ContainerPort", "hostPort", Podman),
    ("ContainerPort", "hostIP", Podman),
    ("EnvVar", "name", ENV),
    ("EnvVar", "value", ENV),
    ("EnvVar", "valueFrom", ENV),
    ("EnvVarSource", "configMapKeyRef", ENV),
    ("EnvVarSource", "secretKeyRef", ENV),
    ("EnvVarSource", "fieldRef", ENV),
    ("EnvVarSource", "resourceFieldRef", ENV),
    ("EnvFromSource", "configMapRef", ENV),
    ("EnvFromSource", "secretRef", ENV),
    // Volumes.
    ("Volume", "name", Podman),
    ("Volume", "configMap", PROJECTED),
    ("Volume", "secret", PROJECTED),
    ("Volume", "downwardAPI", PROJECTED),
    ("Volume", "projected", PROJECTED),
    ("Volume", "emptyDir", Podproof("a directory of the run's own, kept across container restarts")),
    ("Volume", "hostPath", Podproof("checked against the project root; relative paths resolve to the manifest")),
    ("Volume", "persistentVolumeClaim", Podproof("a labelled named volume of the run")),
    ("VolumeMount", "name", Podman),
    ("VolumeMount", "mountPath", Podman),
    ("VolumeMount", "readOnly", Podman),
    ("VolumeMount", "mountPropagation", Podman),
    ("VolumeMount", "subPath", Podproof("the sub-directory (or a projection's file) becomes a volume of its own")),
    ("VolumeProjection", "configMap", PROJECTED),
    ("VolumeProjection", "secret", PROJECTED),
    ("VolumeProjection", "downwardAPI", PROJECTED),
    ("VolumeProjection", "clusterTrustBundle", REFUSED),
    // Services: their names resolve to the pods they select.
    ("ServiceSpec", "ports", Podproof("port numbers and names for the Service variables and the docs")),
    // The API server fills it from clusterIP, whose row says what a virtual IP becomes locally.
    ("ServiceSpec", "clusterIPs", Inert),
    ("ServiceSpec", "publishNotReadyAddresses", Podproof("not-ready pods resolve too, as every selected pod does locally")),
    ("ServicePort", "name", Podproof("the `<SVC>_SERVICE_PORT_<NAME>` variables")),
    ("ServicePort", "port", Podproof("the Service variables")),
    ("ServicePort", "targetPort", Podproof("clients reach the pods on it")),
    ("ServicePort", "protocol", Podproof("the Service variables; names resolve for every protocol")),
    ("ServicePort", "appProtocol", Inert),
];

/// How `ty.field` is honoured, when it is not a ledger row.
pub fn how(ty: &str, field: &str) -> Option<How> {
    HONOURED.iter().find(|(t, f, _)| *t == ty && *f == field).map(|(_, _, h)| *h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fidelity::{Scope, FIELDS};
    use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
    use serde::de::{self, Deserialize, Visitor};

    /// A deserializer that records the field list a struct asks for and
    /// deserializes nothing: k8s-openapi's `Deserialize` names every field of
    /// its type in `deserialize_struct`, so this lists them all.
    struct Fields(std::cell::RefCell<Vec<&'static str>>);

    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<T: std::fmt::Display>(_: T) -> Stop {
            Stop
        }
    }

    impl<'de> de::Deserializer<'de> for &Fields {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0.borrow_mut().extend_from_slice(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }

    fn fields_of<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
        let f = Fields(std::cell::RefCell::new(Vec::new()));
        let _ = T::deserialize(&f);
        f.0.into_inner()
    }

    fn all_fields() -> Vec<(&'static str, Vec<&'static str>)> {
        vec![
            ("DeploymentSpec", fields_of::<apps::DeploymentSpec>()),
            ("StatefulSetSpec", fields_of::<apps::StatefulSetSpec>()),
            ("DaemonSetSpec", fields_of::<apps::DaemonSetSpec>()),
            ("JobSpec", fields_of::<batch::JobSpec>()),
            ("PodSpec", fields_of::<core::PodSpec>()),
            ("PodSecurityContext", fields_of::<core::PodSecurityContext>()),
            ("Container", fields_of::<core::Container>()),
            ("SecurityContext", fields_of::<core::SecurityContext>()),
            ("Probe", fields_of::<core::Probe>()),
            ("Lifecycle", fields_of::<core::Lifecycle>()),
            ("ContainerPort", fields_of::<core::ContainerPort>()),
            ("EnvVar", fields_of::<core::EnvVar>()),
            ("EnvVarSource", fields_of::<core::EnvVarSource>()),
            ("EnvFromSource", fields_of::<core::EnvFromSource>()),
            ("Volume", fields_of::<core::Volume>()),
            ("VolumeMount", fields_of::<core::VolumeMount>()),
            ("VolumeProjection", fields_of::<core::VolumeProjection>()),
            ("ServiceSpec", fields_of::<core::ServiceSpec>()),
            ("ServicePort", fields_of::<core::ServicePort>()),
        ]
    }

    /// The type whose fields a ledger scope holds.
    fn type_of(scope: Scope) -> &'static str {
        match scope {
            Scope::Deployment => "DeploymentSpec",
            Scope::StatefulSet => "StatefulSetSpec",
            Scope::DaemonSet => "DaemonSetSpec",
            Scope::Job => "JobSpec",
            Scope::Pod => "PodSpec",
            Scope::PodSecurity => "PodSecurityContext",
            Scope::Container => "Container",
            Scope::ContainerSecurity => "SecurityContext",
            Scope::Lifecycle => "Lifecycle",
            Scope::EnvFrom => "EnvFromSource",
            Scope::Volume => "Volume",
            Scope::VolumeMount => "VolumeMount",
            Scope::ProjectedSource => "VolumeProjection",
            Scope::Service => "ServiceSpec",
            Scope::ServicePort => "ServicePort",
        }
    }

    /// Every field of every type is decided: a ledger row, or honoured.
    /// Nothing is decided twice, and every row names a real field.
    #[test]
    fn every_field_is_a_ledger_row_or_honoured() {
        let types = all_fields();
        assert_eq!(types.iter().map(|(t, _)| *t).collect::<Vec<_>>(), TYPES);
        let mut undecided = Vec::new();
        for (ty, fields) in &types {
            assert!(!fields.is_empty(), "no fields read for {ty}");
            for f in fields {
                // A row is a ledger entry, or says how podproof makes up for
                // what podman ignores (`honoured`): either way it is decided.
                let rows: Vec<_> = FIELDS.iter().filter(|r| type_of(r.scope) == *ty && r.name == *f).collect();
                // A ledger row for some values only (`type: NodePort`) leaves
                // the others honoured, and the table says how; one for any
                // value leaves nothing to honour.
                let always = rows.iter().any(|r| r.when == crate::fidelity::When::Present && r.ledger.is_some());
                match (rows.is_empty(), how(ty, f)) {
                    (true, None) => undecided.push(format!("{ty}.{f}")),
                    (false, Some(h)) if always => panic!("{ty}.{f} is a ledger row for any value and honoured ({h:?})"),
                    _ => {}
                }
            }
        }
        assert!(
            undecided.is_empty(),
            "fields that are neither a row of fidelity::FIELDS nor of coverage::HONOURED: {}",
            undecided.join(", ")
        );
        for (ty, f, _) in HONOURED {
            let known = types.iter().find(|(t, _)| t == ty).is_some_and(|(_, fs)| fs.contains(f));
            assert!(known, "coverage::HONOURED names {ty}.{f}, which k8s-openapi does not have");
        }
        for r in FIELDS {
            let ty = type_of(r.scope);
            let known = types.iter().find(|(t, _)| *t == ty).is_some_and(|(_, fs)| fs.contains(&r.name));
            assert!(known, "fidelity::FIELDS names {ty}.{}, which k8s-openapi does not have", r.name);
        }
    }

    /// The test above can fail: without one ledger row, its field is undecided.
    #[test]
    fn a_missing_ledger_row_leaves_its_field_undecided() {
        let fields = fields_of::<core::PodSpec>();
        assert!(fields.contains(&"affinity"));
        let rows: Vec<_> = FIELDS.iter().filter(|r| !(r.scope == Scope::Pod && r.name == "affinity")).collect();
        let decided =
            rows.iter().any(|r| r.scope == Scope::Pod && r.name == "affinity") || how("PodSpec", "affinity").is_some();
        assert!(!decided, "PodSpec.affinity would still count as decided without its row");
    }
}
