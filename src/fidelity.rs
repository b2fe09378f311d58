//! The fidelity ledger: what podproof does not honour in its input.
//!
//! A local run proves only what it runs. Every kind podproof skips and every
//! field that neither podman nor podproof carries out is listed once, in
//! `KINDS` and `FIELDS`, with the reason. Two readers share the table, so they
//! cannot disagree:
//! - lint's `podman-ignored-field` reports the fields podman ignores
//!   (`Field::podman_ignores`), whether or not podproof makes up for them;
//! - the ledger of every `render`, `up` and `test` lists the kinds and fields
//!   that the local run does not honour (`Field::ledger`), located at their
//!   file:line:column, and `--strict` makes each one an error.
//!
//! docs/fidelity.md holds `markdown()` of the table; a test keeps it current.

use crate::error::{Diagnostic, Error};
use crate::podview::{self as view, PodView};
use crate::source::Source;
use crate::yaml::Doc;
use serde::{Deserialize, Serialize};
use serde_yaml::Value;

/// Where in a pod a field sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The Deployment's own spec (not its pod template).
    Deployment,
    /// A StatefulSet's own spec.
    StatefulSet,
    /// A DaemonSet's own spec.
    DaemonSet,
    /// A Job's own spec.
    Job,
    Pod,
    PodSecurity,
    /// Init and app containers alike.
    Container,
    ContainerSecurity,
    /// A container's `lifecycle`.
    Lifecycle,
    /// Each entry of a container's `envFrom`.
    EnvFrom,
    /// Each entry of the pod's `volumes`.
    Volume,
    /// Each entry of a container's `volumeMounts`.
    VolumeMount,
    /// Each source of a `projected` volume.
    ProjectedSource,
    /// A Service's spec.
    Service,
    /// Each entry of a Service's `ports`.
    ServicePort,
}

impl Scope {
    /// Where the field is, as the docs name it.
    pub fn path(self) -> &'static str {
        match self {
            Scope::Deployment => "Deployment spec",
            Scope::StatefulSet => "StatefulSet spec",
            Scope::DaemonSet => "DaemonSet spec",
            Scope::Job => "Job spec",
            Scope::Pod => "pod spec",
            Scope::PodSecurity => "pod securityContext",
            Scope::Container => "container",
            Scope::ContainerSecurity => "container securityContext",
            Scope::Lifecycle => "container lifecycle",
            Scope::EnvFrom => "container envFrom[]",
            Scope::Volume => "pod volumes[]",
            Scope::VolumeMount => "container volumeMounts[]",
            Scope::ProjectedSource => "projected volume sources[]",
            Scope::Service => "Service spec",
            Scope::ServicePort => "Service ports[]",
        }
    }
}

/// Which values of a field count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Any value.
    Present,
    /// Any value but `false` (or null): `false` asks for what happens anyway.
    NotFalse,
    /// Exactly this string.
    Is(&'static str),
    /// A number other than the sibling field's number.
    DiffersFrom(&'static str),
    /// A number other than the sibling field's number, or than this default
    /// when the sibling is left out.
    DiffersFromOr(&'static str, i64),
    /// Any value but this string.
    IsNot(&'static str),
    /// Exactly `false`.
    False,
    /// Any value, where the run's podman is older than this (major, minor):
    /// the field is honoured from that version on. The entry carries the
    /// version, and a run drops it once it knows its podman is newer.
    PodmanBefore(u32, u32),
    /// Any value, where podman cannot enforce resource limits
    /// (`host::limits_enforced`: rootless podman on cgroups v1).
    LimitsNotEnforced,
}

#[derive(Debug)]
pub struct Field {
    pub scope: Scope,
    pub name: &'static str,
    pub when: When,
    /// podman's kube support table marks it "no": `kube play` accepts it and
    /// does nothing with it. lint's `podman-ignored-field` reports these.
    pub podman_ignores: bool,
    /// What a local run does instead, when podproof does not make up for it
    /// (an entry of the ledger); `None` when podproof honours the field.
    pub ledger: Option<&'static str>,
    /// How podproof honours a field that podman ignores (for the docs).
    pub honoured: Option<&'static str>,
}

const fn ignored(scope: Scope, name: &'static str, when: When, why: &'static str) -> Field {
    Field { scope, name, when, podman_ignores: true, ledger: Some(why), honoured: None }
}

const fn made_up(scope: Scope, name: &'static str, how: &'static str) -> Field {
    Field { scope, name, when: When::Present, podman_ignores: true, ledger: None, honoured: Some(how) }
}

const fn changed(scope: Scope, name: &'static str, when: When, why: &'static str) -> Field {
    Field { scope, name, when, podman_ignores: false, ledger: Some(why), honoured: None }
}

use Scope::*;
use When::*;

const ONE_NODE: &str = "nothing is scheduled locally: every pod runs on this one machine";
const NO_API: &str =
    "no API server runs locally: no service account or token exists (the downward API still reports the name)";

const NO_STORAGE: &str = "no such storage exists locally: podman refuses the pod or mounts nothing";
const NO_ROUTING: &str =
    "no proxy routes traffic to a Service locally: its names resolve to the pods it selects, inside the run's network";

/// Every field podman ignores and every field podproof changes or drops, with the reason.
pub static FIELDS: &[Field] = &[
    // The Deployment's rollout: podproof runs its members as Pods itself.
    ignored(
        Deployment,
        "strategy",
        Present,
        "`up` replaces a changed member by removing it and starting the new one, whatever the strategy",
    ),
    ignored(Deployment, "minReadySeconds", Present, "a member counts as ready as soon as its probes pass"),
    ignored(Deployment, "revisionHistoryLimit", Present, "no ReplicaSets are kept locally"),
    ignored(Deployment, "progressDeadlineSeconds", Present, "podproof's own timeouts (`--timeout`, the step's) apply"),
    ignored(Deployment, "paused", Present, "a paused Deployment runs anyway"),
    // A StatefulSet's, a DaemonSet's and a Job's own specs: podproof runs
    // their members as Pods itself, with no controller behind them.
    changed(StatefulSet, "minReadySeconds", Present, "a member counts as available as soon as it is ready"),
    changed(StatefulSet, "ordinals", Present, "members are numbered from 0, whatever `ordinals.start` says"),
    changed(
        StatefulSet,
        "persistentVolumeClaimRetentionPolicy",
        Present,
        "the claims are volumes of the run: kept on scale-down and removed with the run, whatever the policy",
    ),
    changed(StatefulSet, "revisionHistoryLimit", Present, "no ControllerRevisions are kept locally"),
    changed(
        StatefulSet,
        "serviceName",
        Present,
        "its members get no `<pod>.<serviceName>` DNS names locally; the Service's own name resolves to them",
    ),
    changed(
        StatefulSet,
        "updateStrategy",
        Present,
        "`up` replaces a changed member by removing it and starting the new one, whatever the strategy",
    ),
    changed(DaemonSet, "minReadySeconds", Present, "a member counts as available as soon as it is ready"),
    changed(DaemonSet, "revisionHistoryLimit", Present, "no ControllerRevisions are kept locally"),
    changed(
        DaemonSet,
        "updateStrategy",
        Present,
        "`up` replaces a changed member by removing it and starting the new one, whatever the strategy",
    ),
    changed(Job, "activeDeadlineSeconds", Present, "nothing stops the Job's pods when the deadline passes"),
    changed(
        Job,
        "backoffLimit",
        Present,
        "a failed pod is not replaced: its failure fails the step that started it, instead of a retry up to the limit",
    ),
    changed(Job, "backoffLimitPerIndex", Present, "no failed index is retried"),
    changed(Job, "maxFailedIndexes", Present, "no failed index is retried"),
    changed(
        Job,
        "completionMode",
        Is("Indexed"),
        "the pods get no completion index (no `JOB_COMPLETION_INDEX`, index annotation or indexed hostname)",
    ),
    changed(
        Job,
        "completions",
        DiffersFromOr("parallelism", 1),
        "the Job runs `parallelism` pods once each: no further pod starts for the remaining completions",
    ),
    changed(Job, "managedBy", Present, "podproof runs the Job's pods itself, whatever controller it names"),
    changed(Job, "podFailurePolicy", Present, "not evaluated: no Job controller runs locally"),
    changed(Job, "podReplacementPolicy", Present, "no failed pod is replaced locally"),
    changed(Job, "successPolicy", Present, "not evaluated: no Job controller runs locally"),
    changed(Job, "suspend", NotFalse, "a suspended Job runs anyway"),
    changed(Job, "ttlSecondsAfterFinished", Present, "a finished Job is not deleted: its pods stay until the run ends"),
    // The pod spec.
    ignored(Pod, "imagePullSecrets", Present, "nothing is pulled locally: images are built here or must be present"),
    made_up(Pod, "enableServiceLinks", "podproof writes the Service variables in, or none with `false`"),
    ignored(Pod, "os", Present, "the pod runs on this machine's Linux, whatever it names"),
    ignored(Pod, "runtimeClassName", Present, "the pod runs with podman's default runtime"),
    ignored(Pod, "priority", Present, "nothing is scheduled or preempted locally"),
    ignored(Pod, "priorityClassName", Present, "nothing is scheduled or preempted locally"),
    ignored(Pod, "activeDeadlineSeconds", Present, "nothing stops the pod when the deadline passes"),
    ignored(Pod, "readinessGates", Present, "readiness is the probes' alone: no controller sets the gates"),
    ignored(Pod, "setHostnameAsFQDN", Present, "the hostname stays the short one, not its FQDN"),
    made_up(
        Pod,
        "subdomain",
        "with a headless Service of that name selecting the pod, `<hostname>.<subdomain>` and its longer forms down to `.<ns>.svc.cluster.local` are names on the run network",
    ),
    ignored(Pod, "dnsPolicy", Present, "pods use the run network's DNS whatever the policy"),
    ignored(Pod, "serviceAccountName", Present, NO_API),
    ignored(Pod, "serviceAccount", Present, NO_API),
    ignored(Pod, "automountServiceAccountToken", NotFalse, "no service account token is mounted locally"),
    ignored(Pod, "nodeSelector", Present, ONE_NODE),
    ignored(Pod, "nodeName", Present, ONE_NODE),
    ignored(Pod, "affinity", Present, ONE_NODE),
    ignored(Pod, "tolerations", Present, ONE_NODE),
    ignored(Pod, "schedulerName", Present, ONE_NODE),
    ignored(Pod, "topologySpreadConstraints", Present, ONE_NODE),
    changed(Pod, "hostname", Present, "the hostname is the member name, not this one"),
    changed(Pod, "hostPID", PodmanBefore(4, 4), "podman before 4.4 ignores it: the pod gets a PID namespace of its own"),
    changed(Pod, "hostIPC", PodmanBefore(4, 5), "podman before 4.5 ignores it: the pod gets an IPC namespace of its own"),
    changed(Pod, "hostUsers", False, "user namespaces are not set up for the pod locally"),
    changed(Pod, "overhead", Present, "no RuntimeClass overhead is accounted locally"),
    changed(Pod, "preemptionPolicy", Present, "nothing is scheduled or preempted locally"),
    changed(Pod, "resourceClaims", Present, "no dynamic resources are allocated locally"),
    changed(Pod, "resources", Present, "pod-level requests and limits are not applied locally"),
    changed(Pod, "schedulingGates", Present, "a gated pod runs anyway: nothing is scheduled locally"),
    changed(PodSecurity, "appArmorProfile", Present, "podman's default AppArmor profile applies"),
    changed(PodSecurity, "seLinuxChangePolicy", Present, "volumes are not relabelled locally"),
    changed(
        PodSecurity,
        "supplementalGroupsPolicy",
        Present,
        "the groups of the image's /etc/group are kept, whatever the policy",
    ),
    changed(PodSecurity, "sysctls", PodmanBefore(4, 5), "podman before 4.5 ignores them"),
    ignored(PodSecurity, "runAsNonRoot", Present, "podman does not check it: an image that runs as root starts anyway"),
    made_up(
        PodSecurity,
        "fsGroup",
        "the processes get the group, and the emptyDir, ConfigMap, Secret, downwardAPI and projected volumes podproof writes get it as the kubelet gives it (group, group read and write or read, setgid directories); rootful podman only",
    ),
    ignored(
        PodSecurity,
        "fsGroupChangePolicy",
        Present,
        "a claim (a podman named volume) keeps podman's ownership whatever the policy; the volumes podproof writes are handed to fsGroup at every start, as a cluster does for them",
    ),
    ignored(PodSecurity, "seccompProfile", Present, "podman's default seccomp profile applies"),
    ignored(PodSecurity, "windowsOptions", Present, "the pod runs on Linux"),
    // Each container.
    ignored(Container, "volumeDevices", Present, "no block device is attached"),
    ignored(Container, "terminationMessagePath", Present, "no termination message is read"),
    ignored(Container, "terminationMessagePolicy", Present, "no termination message is read"),
    ignored(Container, "stdin", NotFalse, "no stdin is attached"),
    ignored(Container, "stdinOnce", NotFalse, "no stdin is attached"),
    ignored(Container, "tty", NotFalse, "no terminal is attached"),
    changed(
        Container,
        "livenessProbe",
        Present,
        "removed from what podman runs; `podproof test` performs it (docs/kubelet.md), but once `podproof up` returns nothing does: a failing liveness probe restarts nothing",
    ),
    changed(Container, "imagePullPolicy", Is("Always"), "played as `IfNotPresent`: nothing is pulled locally"),
    changed(
        Container,
        "resources",
        LimitsNotEnforced,
        "left out of the played pod: rootless podman on cgroups v1 cannot enforce limits",
    ),
    ignored(
        ContainerSecurity,
        "runAsNonRoot",
        Present,
        "podman does not check it: an image that runs as root starts anyway",
    ),
    ignored(ContainerSecurity, "seccompProfile", Present, "podman's default seccomp profile applies"),
    changed(ContainerSecurity, "appArmorProfile", Present, "podman's default AppArmor profile applies"),
    changed(ContainerSecurity, "windowsOptions", Present, "the container runs on Linux"),
    changed(ContainerSecurity, "procMount", PodmanBefore(4, 7), "podman before 4.7 ignores it"),
    changed(Container, "resizePolicy", Present, "containers are not resized in place locally"),
    changed(
        Lifecycle,
        "stopSignal",
        Present,
        "the image's STOPSIGNAL (else SIGTERM) stops the container, as in a cluster without the ContainerStopSignals gate",
    ),
    changed(VolumeMount, "recursiveReadOnly", Present, "a read-only mount is not made recursively read-only"),
    made_up(EnvFrom, "prefix", "podproof writes the variables in with their prefix"),
    ignored(VolumeMount, "subPathExpr", Present, "the whole volume is mounted"),
    changed(
        ProjectedSource,
        "serviceAccountToken",
        Present,
        "the file holds a fake token: no API server issues tokens locally",
    ),
    // Volumes whose storage does not exist on this machine.
    changed(Volume, "awsElasticBlockStore", Present, NO_STORAGE),
    changed(Volume, "azureDisk", Present, NO_STORAGE),
    changed(Volume, "azureFile", Present, NO_STORAGE),
    changed(Volume, "cephfs", Present, NO_STORAGE),
    changed(Volume, "cinder", Present, NO_STORAGE),
    changed(Volume, "csi", Present, NO_STORAGE),
    changed(Volume, "ephemeral", Present, NO_STORAGE),
    changed(Volume, "fc", Present, NO_STORAGE),
    changed(Volume, "flexVolume", Present, NO_STORAGE),
    changed(Volume, "flocker", Present, NO_STORAGE),
    changed(Volume, "gcePersistentDisk", Present, NO_STORAGE),
    changed(Volume, "gitRepo", Present, NO_STORAGE),
    changed(Volume, "glusterfs", Present, NO_STORAGE),
    changed(Volume, "image", Present, NO_STORAGE),
    changed(Volume, "iscsi", Present, NO_STORAGE),
    changed(Volume, "nfs", Present, NO_STORAGE),
    changed(Volume, "photonPersistentDisk", Present, NO_STORAGE),
    changed(Volume, "portworxVolume", Present, NO_STORAGE),
    changed(Volume, "quobyte", Present, NO_STORAGE),
    changed(Volume, "rbd", Present, NO_STORAGE),
    changed(Volume, "scaleIO", Present, NO_STORAGE),
    changed(Volume, "storageos", Present, NO_STORAGE),
    changed(Volume, "vsphereVolume", Present, NO_STORAGE),
    // A Service: its names resolve to the pods it selects, like a headless Service.
    changed(
        Service,
        "type",
        Is("LoadBalancer"),
        "nothing is published on the host: the Service's names resolve inside the run's network only",
    ),
    changed(
        Service,
        "type",
        Is("NodePort"),
        "nothing is published on the host: the Service's names resolve inside the run's network only",
    ),
    changed(
        Service,
        "sessionAffinity",
        Is("ClientIP"),
        "the names resolve to every selected pod: nothing keeps a client on one",
    ),
    changed(
        Service,
        "selector",
        Present,
        "its names resolve to each selected pod from the pod's start, ready or not: a cluster leaves out pods that are not ready",
    ),
    changed(Service, "type", Is("ExternalName"), "its name does not resolve to the external name locally"),
    changed(Service, "clusterIP", IsNot("None"), "no virtual IP: the names resolve to the pods, like a headless Service"),
    changed(Service, "allocateLoadBalancerNodePorts", Present, NO_ROUTING),
    changed(Service, "externalIPs", Present, NO_ROUTING),
    changed(Service, "externalName", Present, NO_ROUTING),
    changed(Service, "externalTrafficPolicy", Present, NO_ROUTING),
    changed(Service, "healthCheckNodePort", Present, NO_ROUTING),
    changed(Service, "internalTrafficPolicy", Present, NO_ROUTING),
    changed(Service, "ipFamilies", Present, NO_ROUTING),
    changed(Service, "ipFamilyPolicy", Present, NO_ROUTING),
    changed(Service, "loadBalancerClass", Present, NO_ROUTING),
    changed(Service, "loadBalancerIP", Present, NO_ROUTING),
    changed(Service, "loadBalancerSourceRanges", Present, NO_ROUTING),
    changed(Service, "sessionAffinityConfig", Present, NO_ROUTING),
    changed(Service, "trafficDistribution", Present, NO_ROUTING),
    changed(ServicePort, "nodePort", Present, "nothing is published on the host"),
    changed(
        ServicePort,
        "port",
        DiffersFrom("targetPort"),
        "the names resolve to the pods themselves, like a headless Service: clients must use the targetPort",
    ),
];

/// Why a kind podproof does not run is not honoured: (kind, reason).
pub static KINDS: &[(&str, &str)] = &[
    ("ServiceAccount", NO_API),
    ("Role", "no API server runs locally: permissions are not checked"),
    ("ClusterRole", "no API server runs locally: permissions are not checked"),
    ("RoleBinding", "no API server runs locally: permissions are not checked"),
    ("ClusterRoleBinding", "no API server runs locally: permissions are not checked"),
    ("NetworkPolicy", "every pod of the run's network reaches every other: nothing enforces the policy"),
    ("PodDisruptionBudget", "nothing evicts pods locally"),
    ("HorizontalPodAutoscaler", "members stay at their replica count: nothing scales them"),
    ("Ingress", "nothing routes HTTP into the app locally; Services resolve inside the run's network only"),
    ("IngressClass", "nothing routes HTTP into the app locally"),
    ("CronJob", "nothing runs it on a schedule locally"),
    ("CustomResourceDefinition", "no API server runs locally: the resource type is not registered"),
];

/// The reason for a kind without a row of its own.
fn kind_reason(api: &str, kind: &str) -> &'static str {
    if let Some((_, why)) = KINDS.iter().find(|(k, _)| *k == kind) {
        return why;
    }
    // An API group with a dot that Kubernetes does not own is a custom resource.
    let group = api.split_once('/').map(|(g, _)| g).unwrap_or("");
    if group.contains('.') && !group.ends_with(".k8s.io") {
        CUSTOM
    } else {
        OTHER
    }
}

const CUSTOM: &str = "a custom resource: its operator does not run locally, so nothing acts on it";
const OTHER: &str = "podproof does not run this kind: nothing acts on it locally";

/// One thing a run did not honour, located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// `kind` (a skipped object) or `field`.
    pub what: String,
    /// The object it belongs to, `Kind/name`.
    pub object: String,
    /// The kind, or the field's path in the document (`spec.template.spec.affinity`).
    pub name: String,
    pub reason: String,
    /// A field that podman honours from this (major, minor) on: a run whose
    /// podman is that new drops the entry (`for_podman`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub podman_before: Option<(u32, u32)>,
}

impl Entry {
    pub fn is_kind(&self) -> bool {
        self.what == "kind"
    }

    /// `file:line:column: ...`, the way diagnostics read.
    pub fn diagnostic(&self, error: bool) -> Diagnostic {
        let msg = if self.is_kind() {
            format!("kind `{}` (`{}`) is not honoured: {}", self.name, self.object, self.reason)
        } else {
            format!("field `{}` of `{}` is not honoured: {}", self.name, self.object, self.reason)
        };
        let at = Some((self.line, self.column));
        if error {
            Diagnostic::error(&self.file, at, msg)
        } else {
            Diagnostic::warning(&self.file, at, msg)
        }
    }
}

fn object_of(doc: &Doc, kind: &str) -> String {
    let name = doc.value.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("?");
    format!("{kind}/{name}")
}

/// `/spec/containers/0/tty` as `spec.containers[0].tty`.
pub fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.parse::<usize>().is_ok() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

/// The entry of a document of a kind podproof skips, at its `kind`.
pub fn kind_entry(src: &Source, doc: &Doc, api: &str, kind: &str) -> Entry {
    let p = doc.value_pos("/kind");
    Entry {
        file: src.name.clone(),
        line: p.line,
        column: p.column,
        what: "kind".into(),
        object: object_of(doc, kind),
        name: kind.to_string(),
        reason: kind_reason(api, kind).to_string(),
        podman_before: None,
    }
}

/// A field of the table found in a pod, at its document pointer.
pub struct Hit {
    pub field: &'static Field,
    pub pointer: String,
    /// The container it belongs to, for container scopes.
    pub container: Option<String>,
}

fn counts(when: When, v: &Value, at: &Value, limits_enforced: bool) -> bool {
    match when {
        DiffersFrom(other) => {
            let n = |v: &Value| v.as_i64();
            matches!((n(v), at.get(other).and_then(n)), (Some(a), Some(b)) if a != b)
        }
        DiffersFromOr(other, default) => {
            let sibling = at.get(other).and_then(Value::as_i64).unwrap_or(default);
            v.as_i64().is_some_and(|a| a != sibling)
        }
        Present => true,
        NotFalse | PodmanBefore(..) => !matches!(v, Value::Bool(false) | Value::Null),
        Is(s) => v.as_str() == Some(s),
        IsNot(s) => v.as_str().is_some_and(|x| x != s),
        False => matches!(v, Value::Bool(false)),
        LimitsNotEnforced => !limits_enforced && !v.is_null(),
    }
}

fn seq<'v>(v: &'v Value, key: &str) -> impl Iterator<Item = (usize, &'v Value)> {
    v.get(key).and_then(Value::as_sequence).into_iter().flatten().enumerate()
}

/// Every field of the table that `pod` sets, in table order per place.
/// `top` is the whole document (for the Deployment's own fields).
pub fn hits(pod: &PodView, top: &Value, limits_enforced: bool) -> Vec<Hit> {
    let mut out = Vec::new();
    let spec = &*pod.spec;
    let mut add = |scope: Scope, at: &Value, ptr: &dyn Fn(&str) -> String, container: Option<&str>| {
        for f in FIELDS.iter().filter(|f| f.scope == scope) {
            if at.get(f.name).is_some_and(|v| counts(f.when, v, at, limits_enforced)) {
                out.push(Hit { field: f, pointer: ptr(f.name), container: container.map(str::to_string) });
            }
        }
    };
    let workload = match pod.kind {
        "Deployment" => Some(Deployment),
        "StatefulSet" => Some(StatefulSet),
        "DaemonSet" => Some(DaemonSet),
        "Job" => Some(Job),
        _ => None,
    };
    if let (Some(scope), view::Form::Manifest) = (workload, pod.form) {
        if let Some(s) = top.get("spec") {
            add(scope, s, &|f| format!("/spec/{f}"), None);
        }
    }
    add(Pod, spec, &|f| pod.ptr(&format!("/{f}")), None);
    if let Some(sc) = spec.get("securityContext") {
        add(PodSecurity, sc, &|f| pod.ptr(&format!("/securityContext/{f}")), None);
    }
    for (cp, c, _) in pod.containers() {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
        add(Container, c, &|f| pod.ptr(&format!("{cp}/{f}")), Some(name));
        if let Some(sc) = c.get("securityContext") {
            add(ContainerSecurity, sc, &|f| pod.ptr(&format!("{cp}/securityContext/{f}")), Some(name));
        }
        if let Some(l) = c.get("lifecycle") {
            add(Lifecycle, l, &|f| pod.ptr(&format!("{cp}/lifecycle/{f}")), Some(name));
        }
        for (i, e) in seq(c, "envFrom") {
            add(EnvFrom, e, &|f| pod.ptr(&format!("{cp}/envFrom/{i}/{f}")), Some(name));
        }
        for (i, m) in seq(c, "volumeMounts") {
            add(VolumeMount, m, &|f| pod.ptr(&format!("{cp}/volumeMounts/{i}/{f}")), Some(name));
        }
    }
    for (i, v) in seq(spec, "volumes") {
        add(Volume, v, &|f| pod.ptr(&format!("/volumes/{i}/{f}")), None);
        for (j, s) in v.get("projected").map(|p| seq(p, "sources").collect::<Vec<_>>()).unwrap_or_default() {
            add(ProjectedSource, s, &|f| pod.ptr(&format!("/volumes/{i}/projected/sources/{j}/{f}")), None);
        }
    }
    out
}

/// The ledger entries of the fields of one pod view.
fn field_entries(src: &Source, doc: &Doc, pod: &PodView, object: &str) -> Vec<Entry> {
    let enforced = crate::host::limits_enforced();
    let mut out: Vec<Entry> = hits(pod, &doc.value, enforced)
        .into_iter()
        .filter_map(|h| {
            let why = h.field.ledger?;
            let p = doc.pos(&h.pointer);
            Some(Entry {
                file: src.name.clone(),
                line: p.line,
                column: p.column,
                what: "field".into(),
                object: object.to_string(),
                name: dotted(&h.pointer),
                reason: why.to_string(),
                podman_before: match h.field.when {
                    PodmanBefore(major, minor) => Some((major, minor)),
                    _ => None,
                },
            })
        })
        .collect();
    out.sort_by_key(|e| (e.line, e.column));
    out
}

/// Where a pod's grace period is decided, and how long it is: its
/// `terminationGracePeriodSeconds`, or Kubernetes' default of 30 s at the pod
/// spec that leaves it out. A local run caps every stop at its own grace
/// (`podproof test --grace`, 1 s by default), so each site whose period is
/// longer is an entry of that run's ledger (`grace_entries`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraceSite {
    /// The entry, without its reason (which names the run's grace).
    pub at: Entry,
    pub seconds: i64,
}

/// Kubernetes' default terminationGracePeriodSeconds.
pub const DEFAULT_GRACE_SECONDS: i64 = 30;

fn grace_site(src: &Source, doc: &Doc, pod: &PodView, object: &str) -> GraceSite {
    let ptr = pod.ptr("/terminationGracePeriodSeconds");
    let written = pod.spec.get("terminationGracePeriodSeconds").and_then(Value::as_i64);
    // Left out, the default applies where the pod spec is.
    let at = if written.is_some() { ptr.clone() } else { pod.ptr("") };
    let p = doc.pos(&at);
    GraceSite {
        at: Entry {
            file: src.name.clone(),
            line: p.line,
            column: p.column,
            what: "field".into(),
            object: object.to_string(),
            name: dotted(&ptr),
            reason: String::new(),
            podman_before: None,
        },
        seconds: written.unwrap_or(DEFAULT_GRACE_SECONDS),
    }
}

/// The ledger entries of a Service.
fn service_entries(src: &Source, doc: &Doc) -> Vec<Entry> {
    let Some(spec) = doc.value.get("spec") else { return Vec::new() };
    let mut found = Vec::new();
    let mut add = |scope: Scope, at: &Value, base: String| {
        for f in FIELDS.iter().filter(|f| f.scope == scope) {
            if at.get(f.name).is_some_and(|v| counts(f.when, v, at, true)) {
                found.push((f, format!("{base}/{}", f.name)));
            }
        }
    };
    add(Service, spec, "/spec".into());
    for (i, p) in seq(spec, "ports") {
        add(ServicePort, p, format!("/spec/ports/{i}"));
    }
    let object = object_of(doc, "Service");
    found
        .into_iter()
        .filter_map(|(f, ptr)| {
            let p = doc.pos(&ptr);
            Some(Entry {
                file: src.name.clone(),
                line: p.line,
                column: p.column,
                what: "field".into(),
                object: object.clone(),
                name: dotted(&ptr),
                reason: f.ledger?.to_string(),
                podman_before: None,
            })
        })
        .collect()
}

/// The ledger entries of a manifest document of a kind podproof reads.
/// With the entries, the grace site of its pod, read from the same pod view.
pub fn manifest_entries(src: &Source, doc: &Doc, api: &str, kind: &str) -> (Vec<Entry>, Vec<GraceSite>) {
    if kind == "Service" {
        return (service_entries(src, doc), Vec::new());
    }
    match view::manifest_pod(doc, api, kind) {
        Some(pod) => {
            let object = object_of(doc, kind);
            (field_entries(src, doc, &pod, &object), vec![grace_site(src, doc, &pod, &object)])
        }
        None => (Vec::new(), Vec::new()),
    }
}

/// The ledger entries of an App document's roles, with each role's grace
/// site, read from the same pod views.
pub fn app_entries(src: &Source, doc: &Doc) -> (Vec<Entry>, Vec<GraceSite>) {
    let object = object_of(doc, "App");
    let pods = view::app_pods(doc);
    let entries = pods.iter().flat_map(|pod| field_entries(src, doc, pod, &object)).collect();
    (entries, pods.iter().map(|pod| grace_site(src, doc, pod, &object)).collect())
}

/// The absolute path of an entry's file, when it is a file (not stdin or a command's output).
pub fn path_of(e: &Entry) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(&e.file);
    p.exists().then(|| crate::source::normalize(&crate::source::absolute(p)))
}

/// The run's podman version as (major, minor), asked for only when an entry
/// depends on it: refusing bad input must not call podman.
pub type PodmanVersion<'a> = &'a dyn Fn() -> Option<(u32, u32)>;

/// `entries` without those that a run on `podman` (major, minor) does not
/// need: fields that podman version honours. An unknown version keeps them.
pub fn for_podman(mut entries: Vec<Entry>, podman: PodmanVersion) -> Vec<Entry> {
    if entries.iter().any(|e| e.podman_before.is_some()) {
        if let Some(v) = podman() {
            entries.retain(|e| e.podman_before.is_none_or(|before| v < before));
        }
    }
    entries
}

/// The one line a run prints about its ledger; `None` when it is empty.
pub fn summary(entries: &[Entry], details: &str) -> Option<String> {
    if entries.is_empty() {
        return None;
    }
    let kinds = entries.iter().filter(|e| e.is_kind()).count();
    let fields = entries.len() - kinds;
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    Some(format!(
        "podproof did not honour {} in this input ({}, {}): {details}",
        plural(entries.len(), "thing", "things"),
        plural(kinds, "kind", "kinds"),
        plural(fields, "field", "fields"),
    ))
}

/// Prints the ledger of a run (one line, or every entry with `details`), or
/// refuses the run with every entry located when `strict`.
pub fn announce(entries: &[Entry], details: bool, strict: bool, pointer: &str) -> crate::error::Result<()> {
    if strict && !entries.is_empty() {
        let diags: Vec<Diagnostic> = entries.iter().map(|e| e.diagnostic(true)).collect();
        let n = entries.len();
        return Err(Error::from_diagnostics(
            format!(
                "--strict: podproof does not honour {n} thing{} in this input; nothing was started",
                if n == 1 { "" } else { "s" }
            ),
            &diags,
        ));
    }
    if details {
        for e in entries {
            errln!("{}", e.diagnostic(false));
        }
    }
    if let Some(line) = summary(entries, if details { "listed above" } else { pointer }) {
        errln!("{line}");
    }
    Ok(())
}

/// The table as docs/fidelity.md shows it.
pub fn markdown() -> String {
    let mut s = String::from("| kind | why it is not honoured |\n|---|---|\n");
    for (k, why) in KINDS {
        s.push_str(&format!("| `{k}` | {why} |\n"));
    }
    s.push_str(&format!("| a custom resource (an API group outside `*.k8s.io`) | {CUSTOM} |\n"));
    s.push_str(&format!("| any other kind | {OTHER} |\n\n"));
    s.push_str("| where | field | podman | podproof |\n|---|---|---|---|\n");
    for f in FIELDS {
        let name = match f.when {
            Present | LimitsNotEnforced => format!("`{}`", f.name),
            NotFalse => format!("`{}` (unless `false`)", f.name),
            Is(v) => format!("`{}: {v}`", f.name),
            IsNot(v) => format!("`{}` other than `{v}`", f.name),
            False => format!("`{}: false`", f.name),
            DiffersFrom(other) => format!("`{}` other than its `{other}`", f.name),
            DiffersFromOr(other, d) => format!("`{}` other than its `{other}` ({d} when left out)", f.name),
            PodmanBefore(major, minor) => format!("`{}`, before podman {major}.{minor}", f.name),
        };
        let podman = if f.podman_ignores { "ignores it" } else { "-" };
        let podproof = match (f.ledger, f.honoured) {
            (Some(why), _) => format!("**not honoured**: {why}"),
            (None, Some(how)) => format!("honours it: {how}"),
            (None, None) => "honours it".to_string(),
        };
        s.push_str(&format!("| {} | {name} | {podman} | {podproof} |\n", f.scope.path()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ledger of one manifest, one `line:column name` per entry.
    fn check(input: &str, expect: &[&str]) {
        let src = crate::source::from_bytes("in.yaml", None, ".".into(), ".".into(), input.as_bytes().to_vec())
            .expect("utf-8");
        let loaded = crate::app::load::load_sources([("in.yaml", Ok(vec![src]))]);
        let got: Vec<String> = loaded
            .apps
            .iter()
            .flat_map(|a| a.ledger.iter())
            .filter(|e| e.name != "spec.containers[0].resources" || crate::host::limits_enforced())
            .map(|e| format!("{}:{} {} {}", e.line, e.column, e.what, e.name))
            .collect();
        assert_eq!(got, expect, "{:?}", loaded.diagnostics);
    }

    #[test]
    fn ledgers() {
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: x\n";
        check(pod, &[]);
        check(
            &format!("{pod}---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: sa}}\n"),
            &["10:7 kind ServiceAccount"],
        );
        check(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  nodeSelector: {a: b}\n  automountServiceAccountToken: false\n  enableServiceLinks: false\n  containers:\n  - name: c\n    image: x\n    tty: true\n    imagePullPolicy: Always\n    livenessProbe: {exec: {command: [\"true\"]}}\n",
            &[
                "5:3 field spec.nodeSelector",
                "11:5 field spec.containers[0].tty",
                "12:5 field spec.containers[0].imagePullPolicy",
                "13:5 field spec.containers[0].livenessProbe",
            ],
        );
        check(
            &format!("{pod}---\napiVersion: v1\nkind: Service\nmetadata: {{name: s}}\nspec:\n  type: NodePort\n  selector: {{a: b}}\n  ports:\n  - {{name: a, port: 80, targetPort: 8080}}\n  - {{name: b, port: 81, targetPort: 81}}\n  - {{name: c, port: 82, targetPort: web}}\n"),
            &["13:3 field spec.type", "14:3 field spec.selector", "16:15 field spec.ports[0].port"],
        );
        check(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  strategy: {type: Recreate}\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n      - {name: c, image: x, imagePullPolicy: IfNotPresent}\n",
            &["5:3 field spec.strategy"],
        );
        check(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: monitoring.coreos.com/v1\n  kind: Prometheus\n  metadata: {name: k8s}\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec:\n    containers: [{name: c, image: x}]\n",
            &["5:9 kind Prometheus"],
        );
    }

    #[test]
    fn reasons() {
        assert_eq!(kind_reason("networking.k8s.io/v1", "NetworkPolicy"), KINDS[5].1);
        assert!(kind_reason("monitoring.coreos.com/v1", "Prometheus").starts_with("a custom resource"));
        assert!(kind_reason("v1", "LimitRange").starts_with("podproof does not run"));
        assert!(kind_reason("scheduling.k8s.io/v1", "PriorityClass").starts_with("podproof does not run"));
        assert_eq!(dotted("/spec/containers/0/a~1b"), "spec.containers[0].a/b");
    }

    /// Every field the table says podman ignores is what lint's
    /// `podman-ignored-field` reports, and nothing else: one pod that sets
    /// every field of the table, linted, gives one finding per such field.
    #[test]
    fn lint_reads_the_table() {
        let mut containers = serde_yaml::Mapping::new();
        let mut pod = serde_yaml::Mapping::new();
        let mut pod_sc = serde_yaml::Mapping::new();
        let mut c_sc = serde_yaml::Mapping::new();
        let mut env_from = serde_yaml::Mapping::new();
        let mut mount = serde_yaml::Mapping::new();
        let mut source = serde_yaml::Mapping::new();
        let mut deploy = serde_yaml::Mapping::new();
        for f in FIELDS {
            let v = match f.when {
                Is(s) => Value::from(s),
                _ => Value::from(true),
            };
            let m = match f.scope {
                Deployment => &mut deploy,
                Pod => &mut pod,
                PodSecurity => &mut pod_sc,
                Container => &mut containers,
                ContainerSecurity => &mut c_sc,
                EnvFrom => &mut env_from,
                VolumeMount => &mut mount,
                ProjectedSource => &mut source,
                // Only rows podman itself ignores matter here, and none is in these scopes.
                StatefulSet | DaemonSet | Job | Lifecycle | Volume | Service | ServicePort => {
                    assert!(!f.podman_ignores, "{}", f.name);
                    continue;
                }
            };
            m.insert(f.name.into(), v);
        }
        containers.insert("name".into(), "c".into());
        containers.insert("image".into(), "x".into());
        containers.insert("securityContext".into(), Value::Mapping(c_sc));
        containers.insert("envFrom".into(), Value::Sequence(vec![Value::Mapping(env_from)]));
        mount.insert("name".into(), "v".into());
        containers.insert("volumeMounts".into(), Value::Sequence(vec![Value::Mapping(mount)]));
        pod.insert("securityContext".into(), Value::Mapping(pod_sc));
        pod.insert("containers".into(), Value::Sequence(vec![Value::Mapping(containers)]));
        let mut vol = serde_yaml::Mapping::new();
        vol.insert("name".into(), "v".into());
        let mut projected = serde_yaml::Mapping::new();
        projected.insert("sources".into(), Value::Sequence(vec![Value::Mapping(source)]));
        vol.insert("projected".into(), Value::Mapping(projected));
        pod.insert("volumes".into(), Value::Sequence(vec![Value::Mapping(vol)]));
        let mut template = serde_yaml::Mapping::new();
        template.insert("spec".into(), Value::Mapping(pod));
        deploy.insert("template".into(), Value::Mapping(template));
        let mut doc = serde_yaml::Mapping::new();
        doc.insert("apiVersion".into(), "apps/v1".into());
        doc.insert("kind".into(), "Deployment".into());
        doc.insert("metadata".into(), serde_yaml::from_str("{name: d}").unwrap());
        doc.insert("spec".into(), Value::Mapping(deploy));
        let text = serde_yaml::to_string(&Value::Mapping(doc)).unwrap();

        let docs = crate::yaml::parse_stream(&text).unwrap();
        let pv = view::manifest_pod(&docs[0], "apps/v1", "Deployment").unwrap();
        let table: Vec<String> = hits(&pv, &docs[0].value, false)
            .into_iter()
            .filter(|h| h.field.podman_ignores)
            .map(|h| h.pointer)
            .collect();
        assert_eq!(table.len(), FIELDS.iter().filter(|f| f.podman_ignores).count(), "{table:?}");

        let opts = crate::lint::Options {
            podman: crate::podman::Version::parse("4.3.1").unwrap(),
            target: crate::lint::Target::Podman,
            config: Default::default(),
        };
        let mut found = Vec::new();
        crate::lint::rules::check_file(&docs, &opts, 0, &mut found, &mut Default::default());
        let mut linted: Vec<String> =
            found.iter().filter(|f| f.rule.id == "podman-ignored-field").map(|f| f.pointer.clone()).collect();
        let mut table = table;
        linted.sort();
        table.sort();
        assert_eq!(linted, table);
    }

    /// docs/fidelity.md shows the table as it is.
    #[test]
    fn docs_show_the_table() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/fidelity.md")).unwrap();
        assert!(
            docs.contains(&markdown()),
            "docs/fidelity.md is stale: put this between its table markers:\n{}",
            markdown()
        );
    }
}
