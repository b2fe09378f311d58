//! The rule catalog and the per-document check context.
//!
//! Every rule is a static with its id, default severity, target, one
//! paragraph of explanation and a fix hint; checks refer to the statics, so a
//! misspelt rule is a compile error rather than a silent no-op.

mod context;
mod podman;
mod portability;
mod rbac;
mod security;
mod suite;

pub use context::{cross_check, Facts, Hidden};
pub use portability::is_removed;

use super::{Finding, Options, Target};
use crate::error::Severity;
use crate::podview::{self as view, PodView};
use crate::yaml::int;
use crate::yaml::Doc;
use serde_yaml::Value;

/// What a rule is about; it orders `--explain` and docs/lint.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Podman,
    Portability,
    Security,
    Reliability,
    Schema,
    Rbac,
    Suite,
    Meta,
}

#[derive(Debug)]
pub struct Rule {
    pub id: &'static str,
    /// `None`: off unless the config file turns it on.
    pub default: Option<Severity>,
    pub target: Target,
    pub category: Category,
    pub summary: &'static str,
    pub explanation: &'static str,
    pub fix: &'static str,
}

const E: Option<Severity> = Some(Severity::Error);
const W: Option<Severity> = Some(Severity::Warning);
const I: Option<Severity> = Some(Severity::Info);
const OFF: Option<Severity> = None;

macro_rules! rules {
    ($($name:ident = $id:literal, $sev:ident, $target:ident, $cat:ident, $summary:literal, $explain:literal, $fix:literal;)*) => {
        $(pub static $name: Rule = Rule {
            id: $id, default: $sev, target: Target::$target, category: Category::$cat,
            summary: $summary, explanation: $explain, fix: $fix,
        };)*
        /// Every rule, in documentation order.
        pub static RULES: &[&Rule] = &[$(&$name),*];
    };
}

rules! {
    PODMAN_SKIPPED_KIND = "podman-skipped-kind", W, Podman, Podman,
        "podman kube play skips this kind",
        "podman kube play runs Pods, Deployments, PersistentVolumeClaims, ConfigMaps and Secrets (DaemonSets from 4.7, Jobs from 5.3) and skips every other kind, logging the skip only at info level. Nothing runs this object locally, so a local run proves nothing about it.",
        "Test this object in a cluster, or turn the rule off for kinds that need no local proof (RBAC, NetworkPolicy).";
    PODMAN_EMULATED_KIND = "podman-emulated-kind", I, Podman, Podman,
        "podman skips this kind; podproof emulates it",
        "podman kube play skips StatefulSets and Services (and DaemonSets before 4.7, Jobs before 5.3). podproof renders the members of such workloads as Pods itself and keeps Service names resolvable, so the app runs, but a bare `podman kube play` of this file would not run it.",
        "Nothing to fix when you run through podproof; use `podproof render` to see the Pods podman gets.";
    PODMAN_CONFIGMAP_ONLY_FILE = "podman-configmap-only-file", W, Podman, Podman,
        "a file of only ConfigMaps is an error for podman",
        "`podman kube play` refuses a file that holds only ConfigMaps: such a file may only be passed with `--configmap`. podproof reads all files of a directory as one app, but a bare podman run of this file fails.",
        "Put the ConfigMaps in the same file as the workload that uses them, or pass the file with `podman kube play --configmap`.";
    PODMAN_REPLICAS_CAPPED = "podman-replicas-capped", I, Podman, Podman,
        "podman runs one replica of a Deployment",
        "From podman 4.4, `podman kube play` forces every Deployment to one replica (with a warning) and names its pod `<deployment>-pod`. podproof renders each member as its own Pod, so all replicas run locally.",
        "Nothing to fix when you run through podproof; a bare podman run gets one replica.";
    PODMAN_IGNORED_FIELD = "podman-ignored-field", I, Podman, Podman,
        "podman ignores this field",
        "podman's kube support table marks this field as not supported: `podman kube play` accepts it and does nothing with it (scheduling fields, service accounts, runAsNonRoot, fsGroup, seccompProfile, tty and others). The local run therefore does not prove that the field does what you expect. The fields come from the table of docs/fidelity.md, which every run's fidelity ledger reads too; where podproof makes up for the field, the message says how.",
        "Keep the field for the cluster, and verify its effect there.";
    PODMAN_EMULATED_FIELD = "podman-emulated-field", I, Podman, Podman,
        "podman ignores this field; podproof performs it",
        "podman does not implement readinessProbe or lifecycle hooks (and maps startupProbe only from 4.4). podproof removes them from what podman runs and performs the probes and hooks itself, from inside the pod's network namespace.",
        "Nothing to fix when you run through podproof; a bare podman run ignores the field.";
    PODMAN_UNSUPPORTED_FIELD = "podman-unsupported-field", W, Podman, Podman,
        "this podman version lacks this field",
        "Some fields arrived in later podman versions: hostPID and subPath in 4.4, hostIPC and sysctls in 4.5, terminationGracePeriodSeconds and procMount in 4.7. The version you target ignores the field, so the container runs differently from a cluster. podproof turns subPath on hostPath volumes into their own mounts; other fields are lost.",
        "Upgrade podman (or pass `--podman-version` of the podman you use), or avoid the field.";
    PODMAN_PROBE_TOOL_MISSING = "podman-probe-tool-missing", W, Podman, Podman,
        "podman's probe needs a tool the image lacks",
        "podman turns liveness and startup probes into healthchecks that run inside the container: `curl` for httpGet and `nc` for tcpSocket. busybox ships no curl, and distroless, scratch and podproof's own images ship neither, so the probe always fails under a bare podman run (and from 5.1 podman restarts the container). podproof performs probes itself, without tools in the image.",
        "Run through podproof, or use an exec probe with a tool the image has.";
    PODMAN_PORT_NOT_PUBLISHED = "podman-port-not-published", I, Podman, Podman,
        "podman does not publish this port",
        "Up to podman 4.7 a containerPort was published on the same host port; from 4.8 only hostPort or `--publish` publish a port. The port is still reachable inside the pod's network, where podproof probes it, but not from the host.",
        "Add `hostPort`, or pass `--publish` to podman, if you need the port on the host.";
    PODMAN_HOST_NETWORK_PORTS = "podman-host-network-ports", W, Podman, Podman,
        "podman refuses containerPorts with hostNetwork",
        "With hostNetwork every port is already the host's, and podman refuses containerPorts on such a pod (\"PortMappings can only be used with Bridge or slirp4netns networking\", seen with 4.3); from 4.8 only those with a hostPort (seen with 5.4.2). podproof's podman flavour drops the ports; a bare podman run fails.",
        "Drop the containerPorts of host-network pods, or run through podproof.";
    PODMAN_CDI_DEVICE = "podman-cdi-device", W, Podman, Podman,
        "a resource name is a CDI device",
        "From 5.4, `podman kube play` reads a resource name of the form `vendor.com/class=name` (or `podman.io/device=/dev/x`) in `resources` as a Container Device Interface device and gives it to the container (containers/podman#17833, kube.go setupContainerDevices); before 5.4 it ignores it. A cluster refuses the name (`validateContainerResourceName`), so podproof refuses it as well.",
        "Request the device through the device plugin's resource (`nvidia.com/gpu: 1`) for the cluster; for local runs pass the device to podman yourself.";
    PODMAN_ENV_PRECEDENCE = "podman-env-precedence", W, Podman, Podman,
        "env and envFrom of one container, before podman 5.8",
        "Up to 5.7, `podman kube play` applied `envFrom` after `env`, so a variable set by both got envFrom's value; a cluster gives env's. podman 5.8 fixed it (containers/podman#27287). podproof writes the variables itself, in the cluster's order, so runs through podproof match a cluster; a bare podman run may not.",
        "Run through podproof, upgrade podman to 5.8, or give the variable one source.";
    PODMAN_IMAGE_VOLUME = "podman-image-volume", W, Podman, Podman,
        "image volumes need rootful podman 5.3",
        "`podman kube play` mounts `image` volumes from 5.3 (containers/podman#23775), and only when podman runs as root (podman-kube-play(1): \"supported in rootful mode only\"); the image must already exist locally. podproof passes image volumes to podman as they are, so a rootless run, or one on an older podman, fails.",
        "Run rootful podman 5.3 or later, or copy the content into the image or an emptyDir with an init container.";
    PODMAN_ONLY_ANNOTATION = "podman-only-annotation", I, Both, Podman,
        "annotation only podman reads",
        "Annotations such as `io.podman.annotations.pids-limit/<container>` (podman 5.5), `io.podman.annotations.cpuset/<container>` and `io.podman.annotations.memory-nodes/<container>` (5.6) configure `podman kube play` only: a cluster ignores them, so the limit the local run proves is not there once promoted, and an older podman ignores them too.",
        "Use the cluster's own means for the cluster (`resources`, a static CPU manager policy), and keep the annotation for local runs if you need it.";

    RELATIVE_HOST_PATH = "relative-host-path", E, Cluster, Portability,
        "hostPath is relative",
        "A relative hostPath has no fixed meaning: podman resolves it against its own working directory (#17278; a value without `/` is even a named volume), podproof against the manifest's directory, and a cluster node against the kubelet's. The manifest works on one machine only.",
        "Use a PersistentVolumeClaim or an emptyDir for app data, or an absolute path that exists on every node.";
    HOST_SPECIFIC_HOST_PATH = "host-specific-host-path", W, Cluster, Portability,
        "hostPath names a machine-specific directory",
        "A hostPath under a home directory (/home, /Users, /root) or a removable or per-user mount (/mnt, /media, /run/user) exists on the machine where the manifest was written, not on cluster nodes.",
        "Use a PersistentVolumeClaim, or a directory that every node provides.";
    IMAGE_PULL_POLICY_NEVER = "image-pull-policy-never", W, Cluster, Portability,
        "imagePullPolicy is Never",
        "`imagePullPolicy: Never` makes a cluster node use only an image it already has; a node that never built or loaded the image fails the pod with ErrImageNeverPull.",
        "Use IfNotPresent (or leave the field out) and push the image to a registry the cluster can pull from.";
    LOCAL_IMAGE = "local-image", W, Cluster, Portability,
        "image exists only on this machine",
        "An image named `localhost/...` (or from a registry on localhost) was built or loaded on this machine. A cluster cannot pull it, so promotion needs it pushed and renamed.",
        "Push the image and map its name in podproof.yaml: `promote: {imageMap: {localhost/app:1: registry.example.com/app:1}}`, or name the image the manifest should have in `images: {registry.example.com/app: localhost/app:1}`.";
    RELOAD_STALE_CONFIG = "reload-stale-config", W, Cluster, Portability,
        "live config reload cannot see this ConfigMap use",
        "The pod asks for live config reloads (`podproof.dev/reload` other than `restart`), but it reads a ConfigMap through a subPath mount or an environment variable. A kubelet never updates either: subPath pins the file's inode and env is read at start. The app keeps its old config in a cluster, even if podproof's local reload looks fine.",
        "Mount the ConfigMap as a whole directory (no subPath) and read files, or use `podproof.dev/reload: restart`.";
    DANGLING_SERVICE = "dangling-service", W, Cluster, Portability,
        "Service selects no pod",
        "The Service's selector matches the labels of no pod template in the input (same directory), so it gets no endpoints and every connection to it fails.",
        "Make the selector match the labels of the workload's pod template.";
    MISMATCHING_SELECTOR = "mismatching-selector", E, Cluster, Portability,
        "selector does not match the pod template",
        "A workload's `spec.selector` must match the labels of its own pod template; the API server rejects a Deployment, StatefulSet, DaemonSet or ReplicaSet whose selector does not.",
        "Copy the selector's labels into `spec.template.metadata.labels`, or fix the selector.";
    NO_EXTENSIONS_V1BETA = "no-extensions-v1beta", E, Cluster, Portability,
        "extensions/v1beta1 is gone",
        "The extensions/v1beta1 and networking.k8s.io/v1beta1 APIs were removed (Kubernetes 1.16 to 1.22); a current cluster refuses the object.",
        "Use apps/v1 for workloads and networking.k8s.io/v1 for Ingress and NetworkPolicy.";
    REMOVED_API_VERSION = "removed-api-version", E, Cluster, Portability,
        "this apiVersion was removed",
        "Beta API versions such as apps/v1beta1, apps/v1beta2, batch/v1beta1, policy/v1beta1 and autoscaling/v2beta2 were removed from Kubernetes; a current cluster refuses the object, and podproof skips it.",
        "Use the stable version (apps/v1, batch/v1, policy/v1, autoscaling/v2, ...).";
    STOP_SIGNAL = "stop-signal", W, Both, Portability,
        "lifecycle.stopSignal is not portable",
        "`lifecycle.stopSignal` is alpha in Kubernetes 1.33 (the ContainerStopSignals feature gate, off by default): a cluster without the gate drops the field, and one with it refuses a pod without `spec.os.name`. podman honours it from 5.6, but podproof's podman flavour drops `lifecycle` (podproof runs the hooks itself) and stops the container with its image's stop signal.",
        "Set the stop signal in the image (`STOPSIGNAL`), which every runtime honours.";
    CAPABILITY_NAME_PREFIX = "capability-name-prefix", W, Cluster, Portability,
        "capability is named with CAP_",
        "Kubernetes names capabilities without the CAP_ prefix (`SYS_ADMIN`). podman accepts both spellings, but container runtimes that prepend CAP_ themselves may refuse `CAP_CAP_SYS_ADMIN` or silently drop it, so the pod behaves differently in a cluster.",
        "Drop the CAP_ prefix.";
    NON_EXISTENT_SERVICE_ACCOUNT = "non-existent-service-account", W, Cluster, Portability,
        "service account not found in the input",
        "The pod names a service account that no ServiceAccount in the input (same directory) defines; the cluster refuses to create the pod until one exists.",
        "Add the ServiceAccount next to the workload, or use one that exists.";
    DEPRECATED_SERVICE_ACCOUNT_FIELD = "deprecated-service-account-field", W, Cluster, Portability,
        "serviceAccount is deprecated",
        "`serviceAccount` is a deprecated alias of `serviceAccountName`; when both are set and differ, which one wins is confusing.",
        "Use `serviceAccountName`.";

    PRIVILEGED_CONTAINER = "privileged-container", E, Both, Security,
        "container runs privileged",
        "A privileged container has every capability and every device of the host; a process in it can take over the node.",
        "Remove `privileged: true` and add only the capabilities the container needs.";
    PRIVILEGE_ESCALATION_CONTAINER = "privilege-escalation-container", W, Both, Security,
        "privilege escalation is allowed",
        "Unless `allowPrivilegeEscalation` is false, a process can gain more privileges than its parent (setuid binaries, file capabilities).",
        "Set `securityContext.allowPrivilegeEscalation: false`.";
    DANGEROUS_CAPABILITIES = "dangerous-capabilities", W, Both, Security,
        "container adds a dangerous capability",
        "Capabilities such as SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE or ALL give a container most of root's power over the host kernel.",
        "Add only narrow capabilities (e.g. NET_BIND_SERVICE), and drop ALL first.";
    DROP_NET_RAW_CAPABILITY = "drop-net-raw-capability", W, Both, Security,
        "NET_RAW is not dropped",
        "NET_RAW, granted by default, lets a process craft raw packets and spoof traffic on the pod network.",
        "Add NET_RAW (or ALL) to `securityContext.capabilities.drop`.";
    HOST_NETWORK = "host-network", W, Both, Security,
        "pod shares the host's network",
        "With hostNetwork the pod uses the node's network namespace: it sees all host traffic, its ports clash with the node's and with other replicas on the same node, and in a cluster it depends on the node it lands on.",
        "Remove `hostNetwork: true` and publish ports through a Service; keep it only for node agents that need it.";
    HOST_PID = "host-pid", W, Both, Security,
        "pod shares the host's process namespace",
        "With hostPID the pod sees (and may signal) every process on the node.",
        "Remove `hostPID: true`.";
    HOST_IPC = "host-ipc", W, Both, Security,
        "pod shares the host's IPC namespace",
        "With hostIPC the pod shares shared memory and semaphores with every process on the node.",
        "Remove `hostIPC: true`.";
    DOCKER_SOCK = "docker-sock", E, Both, Security,
        "docker.sock is mounted",
        "The container runtime's socket gives whoever can write to it full control of the host: it can start privileged containers that mount `/`.",
        "Remove the docker.sock volume and its mounts.";
    SENSITIVE_HOST_MOUNTS = "sensitive-host-mounts", W, Both, Security,
        "a sensitive host directory is mounted",
        "Host directories such as /, /etc, /proc, /sys, /dev, /boot, /usr, /lib and /var/lib/kubelet hold the node's configuration and kernel interfaces; a container that mounts them can read secrets or change the host.",
        "Remove the hostPath volume, or mount the narrowest directory read-only.";
    WRITABLE_HOST_MOUNT = "writable-host-mount", I, Both, Security,
        "a host path is mounted writable",
        "A writable hostPath mount lets the container change files on the node, which outlive the pod and are seen by other pods.",
        "Set `readOnly: true` on the mount, or use a PersistentVolumeClaim.";
    RUN_AS_NON_ROOT = "run-as-non-root", W, Both, Security,
        "container may run as root",
        "Neither the pod nor the container sets `runAsNonRoot: true` or a non-zero `runAsUser`, so the image's user applies, which is root for most images.",
        "Set `runAsNonRoot: true` and a non-zero `runAsUser` in the pod or container securityContext.";
    NO_READ_ONLY_ROOT_FS = "no-read-only-root-fs", W, Both, Security,
        "root filesystem is writable",
        "A writable root filesystem lets an intruder change binaries and hides state that is lost on restart.",
        "Set `readOnlyRootFilesystem: true` and mount an emptyDir where the app writes.";
    ENV_VAR_SECRET = "env-var-secret", W, Both, Security,
        "a secret is written into an environment variable",
        "An environment variable named like a password, secret, token or key has a literal value: the secret sits in the manifest, in version control and in `kubectl describe`.",
        "Put the value in a Secret and use `valueFrom.secretKeyRef` (or mount it as a file).";
    UNSAFE_SYSCTLS = "unsafe-sysctls", W, Both, Security,
        "pod sets an unsafe sysctl",
        "Sysctls under kernel.msg, kernel.sem, kernel.shm, fs.mqueue and net. are not namespaced safely (or must be allowed per node); they can disturb other pods and are refused by a default kubelet.",
        "Remove the sysctl, or allow it explicitly on dedicated nodes.";
    UNSAFE_PROC_MOUNT = "unsafe-proc-mount", I, Both, Security,
        "/proc is mounted unmasked",
        "`procMount: Unmasked` bypasses the runtime's masking of sensitive /proc paths.",
        "Remove `procMount` or set it to Default.";
    PRIVILEGED_PORTS = "privileged-ports", I, Both, Security,
        "container uses a privileged port",
        "Ports below 1024 need root or NET_BIND_SERVICE inside the container, which rules out running as non-root.",
        "Listen on a port of 1024 or above and map it through a Service.";
    HOST_PORT = "host-port", W, Cluster, Security,
        "container binds a port of its node",
        "A hostPort opens the port on the node's own address: only one such pod fits on a node, the scheduler must find a node where the port is free, and traffic to it passes NetworkPolicies by. Locally podproof publishes it on this machine, which is what podman does with it.",
        "Publish the port through a Service (NodePort or LoadBalancer) instead.";
    HOST_PATH_VOLUME = "host-path-volume", I, Cluster, Security,
        "pod mounts a directory of its node",
        "A hostPath volume ties the pod to what its node's file system holds, and gives the pod a way onto the node. polaris warns about every hostPath; podproof reports the sensitive ones (`sensitive-host-mounts`, `docker-sock`), the relative and machine-specific ones (`relative-host-path`, `host-specific-host-path`) under their own rules, and the rest here.",
        "Use a PersistentVolumeClaim, an emptyDir, a ConfigMap or a Secret, or keep the hostPath for node agents.";
    SSH_PORT = "ssh-port", W, Both, Security,
        "container exposes SSH",
        "Port 22 is SSH: a container running an SSH server is a long-lived entry point with its own credentials to manage.",
        "Use `kubectl exec` (or `podman exec`) instead of SSH, or vet the SSH server.";
    NON_ISOLATED_POD = "non-isolated-pod", I, Cluster, Security,
        "no NetworkPolicy selects the pod",
        "Without a NetworkPolicy selecting it, a pod accepts traffic from every pod in the cluster.",
        "Add a NetworkPolicy whose podSelector matches the pod's labels.";

    UNSET_CPU_REQUIREMENTS = "unset-cpu-requirements", W, Cluster, Reliability,
        "CPU request or limit is missing",
        "Without a CPU request the scheduler may pack the pod onto a busy node; without a limit it can starve its neighbours. podman applies limits.cpu as a CFS quota and ignores requests.cpu.",
        "Set `resources.requests.cpu` and `resources.limits.cpu`.";
    UNSET_MEMORY_REQUIREMENTS = "unset-memory-requirements", W, Cluster, Reliability,
        "memory request or limit is missing",
        "Without a memory request the scheduler cannot place the pod sensibly; without a limit a leak takes the node's memory and other pods get evicted.",
        "Set `resources.requests.memory` and `resources.limits.memory`.";
    LATEST_TAG = "latest-tag", W, Cluster, Reliability,
        "image has no fixed tag",
        "An image without a tag, or tagged `latest`, changes under your feet: the cluster may run a different image than the one you tested locally.",
        "Use a specific tag or a digest.";
    LIVENESS_PORT = "liveness-port", E, Both, Reliability,
        "liveness probe targets an undeclared port",
        "The liveness probe names a port that the container does not declare; a named port that does not exist makes the probe fail, so the container is restarted forever.",
        "Name one of the container's declared ports, or give the port by number (a number need not be declared).";
    READINESS_PORT = "readiness-port", E, Both, Reliability,
        "readiness probe targets an undeclared port",
        "The readiness probe names a port that the container does not declare; the pod never becomes ready and gets no Service traffic.",
        "Name one of the container's declared ports, or give the port by number (a number need not be declared).";
    STARTUP_PORT = "startup-port", E, Both, Reliability,
        "startup probe targets an undeclared port",
        "The startup probe names a port that the container does not declare; the container is killed when the probe's failure threshold runs out.",
        "Name one of the container's declared ports, or give the port by number (a number need not be declared).";
    UNDECLARED_PROBE_PORT = "undeclared-probe-port", I, Both, Reliability,
        "a probe's port number is none of the declared ports",
        "The probe gives its port by number, and the container declares ports, none of them that one. The kubelet probes the number all the same (so it is no error, and manifests such as ingress-nginx's probe an undeclared port on purpose), but a port changed in one place and not the other fails the probe for good.",
        "Give the probe the port's name, or declare the port.";
    DUPLICATE_ENV_VAR = "duplicate-env-var", W, Both, Reliability,
        "environment variable is set twice",
        "When a container sets the same variable twice, the last one wins silently; the first is dead text that misleads readers.",
        "Remove one of the two.";
    INVALID_TARGET_PORTS = "invalid-target-ports", E, Both, Reliability,
        "port name is not a valid IANA service name",
        "Port names (containerPort names and Service targetPorts that refer to them) must be IANA service names: at most 15 lowercase letters, digits and '-', with a letter, and no '-' at either end or twice in a row. The API server refuses other names.",
        "Rename the port.";
    NO_ANTI_AFFINITY = "no-anti-affinity", W, Cluster, Reliability,
        "replicas may all land on one node",
        "A workload with several replicas and no podAntiAffinity may be scheduled onto a single node, which then takes all of them down at once.",
        "Add a preferred podAntiAffinity on the pod's labels with topologyKey kubernetes.io/hostname.";
    PDB_MAX_UNAVAILABLE = "pdb-max-unavailable", W, Cluster, Reliability,
        "PodDisruptionBudget allows no disruption",
        "maxUnavailable of 0 blocks every voluntary eviction, so node drains and cluster upgrades hang.",
        "Set maxUnavailable to at least 1.";
    PDB_MIN_AVAILABLE = "pdb-min-available", W, Cluster, Reliability,
        "PodDisruptionBudget allows no disruption",
        "minAvailable is at least the number of replicas of the workload it selects (or 100%), which blocks every voluntary eviction.",
        "Set minAvailable below the replica count.";
    PDB_UNHEALTHY_POD_EVICTION_POLICY = "pdb-unhealthy-pod-eviction-policy", I, Cluster, Reliability,
        "unhealthyPodEvictionPolicy is not set",
        "Without `unhealthyPodEvictionPolicy: AlwaysAllow`, pods that are running but not ready still count against the budget and can block a drain.",
        "Set `spec.unhealthyPodEvictionPolicy: AlwaysAllow`.";
    NO_LIVENESS_PROBE = "no-liveness-probe", OFF, Both, Reliability,
        "container has no liveness probe",
        "Without a liveness probe a hung process is never restarted. Off by default, as in kube-linter.",
        "Add a livenessProbe.";
    NO_READINESS_PROBE = "no-readiness-probe", OFF, Both, Reliability,
        "container has no readiness probe",
        "Without a readiness probe traffic reaches the container before it can serve. Off by default, as in kube-linter.",
        "Add a readinessProbe.";
    INIT_CONTAINER_PROBE = "init-container-probe", E, Both, Reliability,
        "init container has probes or hooks",
        "Init containers run to completion before the app starts; Kubernetes refuses probes and lifecycle hooks on them (unless they are restartable sidecars with `restartPolicy: Always`), and podman errors on them.",
        "Remove the probes and hooks, or make it a sidecar with `restartPolicy: Always`.";

    UNDEFINED_CONFIG_REFERENCE = "undefined-config-reference", E, Podman, Podman,
        "a ConfigMap or Secret the pod needs is not in the input",
        "The pod mounts a ConfigMap or Secret, or reads one (or one of its keys) into env, without `optional: true`, and no file of its directory defines it. podproof projects ConfigMaps and Secrets from the input, so `render`, `up` and `test` refuse the pod; a cluster keeps it from starting (ContainerCreating, CreateContainerConfigError) until the object exists.",
        "Add the ConfigMap or Secret to the directory (or pass its file too), or mark the reference `optional: true`.";
    PODPROOF_UNSUPPORTED = "podproof-unsupported", E, Podman, Podman,
        "podproof cannot run this locally",
        "`podproof render`, `up` and `test` refuse the definition for a reason of their own, not the cluster's: more members than podproof runs on one machine (100), or a KubeDirector config package at a URL, which podproof cannot fetch offline. A cluster may run it.",
        "Lower the member count for local runs, or ship the config package in the image (`file:///...`).";
    INVALID_IMAGE_REFERENCE = "invalid-image-reference", E, Both, Schema,
        "image reference cannot be pulled",
        "The API server accepts any image string without surrounding whitespace, but the kubelet and podman parse it with distribution/reference before they pull: uppercase letters in the repository, an empty or non-ASCII tag or a malformed digest make the pod fail with InvalidImageName, and podproof refuses to run it.",
        "Write the reference as `[registry[:port]/]name[:tag][@digest]`, the name in lowercase.";
    SCHEMA_UNKNOWN_FIELD = "schema-unknown-field", E, Both, Schema,
        "field is not part of the API",
        "The field does not exist in this kind's API schema (Kubernetes 1.33, the App format, or KubeDirector v1beta1). kubectl's strict validation refuses it, and podman and podproof ignore it silently; it is usually a typo or a field at the wrong level.",
        "Fix the spelling or the indentation, or remove the field.";
    SCHEMA_INVALID = "schema-invalid", E, Both, Schema,
        "value does not fit the API schema",
        "The value has the wrong type, a required field is missing, the document lacks apiVersion, kind or a valid metadata.name, or a value breaks one of the API server's validation rules (names, labels, quantities, ports, probes, volumes, mounts, env, selectors, restart policies: docs/lint.md lists them). The API server (and podproof) refuse the document.",
        "Give the field a value of the expected type (quote strings that look like numbers).";

    WILDCARD_IN_RULES = "wildcard-in-rules", W, Cluster, Rbac,
        "a role grants `*`",
        "A Role or ClusterRole rule with `*` among its verbs or resources grants everything there is, including what later versions add (new resources, new subresources such as pods/exec). Kubernetes' own roles (`system:...`, admin, edit, view, cluster-admin) are left alone.",
        "List the verbs and resources the role needs.";
    ESCALATION_VERBS = "escalation-verbs", W, Cluster, Rbac,
        "a role grants bind, escalate or impersonate",
        "`bind` lets the holder bind roles it does not hold, `escalate` lets it write roles with more than it holds, and `impersonate` lets it act as other users, groups or service accounts: each is a way to every other permission.",
        "Remove the verb, or keep it to a role bound only to cluster administrators.";
    ACCESS_TO_POD_EXEC = "access-to-pod-exec", W, Cluster, Rbac,
        "a role grants pods/exec or pods/attach",
        "`create` (or `get`, which opens the same websocket) on pods/exec or pods/attach runs commands in the role's pods, with their service accounts and mounted Secrets. Reported on the role's rule and on every binding of its directory that hands it out.",
        "Grant exec to an operator role only, bound to people rather than service accounts.";
    ACCESS_TO_SECRETS = "access-to-secrets", W, Cluster, Rbac,
        "a binding hands out read access to Secrets",
        "The binding's role (of the same directory) grants get, list or watch on secrets: every Secret of the namespace (of the cluster, for a ClusterRoleBinding), service account tokens included.",
        "Name the Secrets the workload needs in `resourceNames`, or mount them instead of reading them through the API.";
    ACCESS_TO_CREATE_PODS = "access-to-create-pods", W, Cluster, Rbac,
        "a binding hands out creating pods",
        "Whoever may create pods in a namespace may run one as any service account of it, and so has every permission of every service account there.",
        "Let a controller (a Deployment, a Job) create the pods, and grant their service account only what it needs.";
    CLUSTER_ADMIN_ROLE_BINDING = "cluster-admin-role-binding", W, Cluster, Rbac,
        "a binding hands out cluster-admin",
        "The binding names the cluster-admin ClusterRole, or a role of its directory that grants every verb on every resource of every API group: its subjects can do anything in the cluster (in the namespace, for a RoleBinding).",
        "Bind a role that grants what the subject needs.";
    SYSTEM_SUBJECT_BINDING = "system-subject-binding", W, Cluster, Rbac,
        "a binding's subject is everyone",
        "A subject `system:anonymous`, or the groups `system:unauthenticated`, `system:authenticated` and `system:serviceaccounts`, stands for every request without credentials, every user, or every service account; binding `system:masters` does nothing, since that group bypasses RBAC.",
        "Bind the users, groups or service accounts that need the role.";
    DANGLING_ROLE_REF = "dangling-role-ref", W, Cluster, Rbac,
        "a binding names a role that is not there",
        "RBAC does not check that a binding's role exists: a binding to a Role (or a ClusterRole other than Kubernetes' own) that no file of its directory defines grants nothing until the role appears, and then grants what that role says, which lint could not check.",
        "Ship the role with the binding, or fix the name in `roleRef`.";

    SUITE_UNKNOWN_KIND = "suite-unknown-kind", E, Both, Suite,
        "a test's resource names a kind its apiVersion does not serve",
        "A chainsaw Test's `apply`, `create`, `patch`, `update`, `assert`, `error` or `delete` (and a kuttl TestStep's `delete`, and the resources of the files a test applies or asserts) names an object by apiVersion and kind. When the apiVersion is of a built-in group that does not serve the kind (`apiVersion: v1` with `kind: Deployment`), the API server refuses the apply (`no matches for kind`), and an assert or error never matches anything: the test fails, or an `error` check passes for the wrong reason. Kinds of other groups (custom resources) and templated values are left to the run.",
        "Give the kind the apiVersion that serves it (`apps/v1` for a Deployment), or fix the kind's spelling.";
    SUITE_UNKNOWN_OPERATION = "suite-unknown-operation", E, Both, Suite,
        "a chainsaw step holds an unknown operation",
        "Each item of a step's `try`, `catch`, `finally` and `cleanup` is one operation: `try` holds apply, assert, command, create, delete, describe, error, events, get, patch, podLogs, proxy, script, sleep, update and wait; `catch`, `finally` and `cleanup` only command, delete, describe, events, get, podLogs, script, sleep and wait. chainsaw refuses the test at load time (a misspelt `aply` is an unknown field), so the suite does not run at all.",
        "Fix the operation's spelling (the message says the nearest name), or move it to a block that may hold it.";

    INVALID_SUPPRESSION = "invalid-suppression", W, Both, Meta,
        "ignore-check annotation is invalid",
        "An `ignore-check.podproof.dev/<rule>` annotation must name a rule and give a reason. An empty reason or an unknown rule suppresses nothing.",
        "Write why the finding does not apply: `ignore-check.podproof.dev/host-network: \"DHCP needs broadcasts\"`.";
}

/// Looks a rule up by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.id == id)
}

/// The annotation prefix that suppresses a rule on one object.
pub const IGNORE_PREFIX: &str = "ignore-check.podproof.dev/";

/// Checks of one document: where findings go, and what the object suppresses.
pub struct Ctx<'a> {
    pub doc: &'a Doc,
    pub opts: &'a Options,
    pub file: usize,
    pub object: Option<String>,
    pub ignored: Vec<String>,
    pub out: &'a mut Vec<Finding>,
    /// Values of this document that no output may show.
    pub hidden: Vec<Hidden>,
    /// Where the document sits in the file's document: `/items/3` for an
    /// item of a List, so pointers lead from the file's own root.
    pub base: String,
    /// The file, for the readers (relative paths); `None` in unit tests.
    pub origin: Option<&'a super::readers::Origin>,
}

impl Ctx<'_> {
    /// Keeps the value at `pointer` out of every output: it looks like a
    /// secret, so excerpts and messages show `[secret]` instead.
    pub fn hide(&mut self, pointer: &str, value: &Value) {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return,
        };
        let p = self.doc.value_pos(pointer);
        self.hidden.push(Hidden { value: text, line: p.line, column: p.column });
    }

    /// Reports at the key of `pointer` (or the nearest node that exists).
    pub fn key(&mut self, rule: &'static Rule, pointer: &str, message: impl Into<String>) {
        let p = self.doc.pos(pointer);
        self.push(rule, pointer, p, message.into());
    }

    /// Reports at a position found otherwise (a reader's message), with the
    /// pointer of what sits there.
    pub fn at(&mut self, rule: &'static Rule, pointer: &str, p: crate::yaml::Pos, message: impl Into<String>) {
        self.push(rule, pointer, p, message.into());
    }

    /// Reports at the value of `pointer`.
    pub fn value(&mut self, rule: &'static Rule, pointer: &str, message: impl Into<String>) {
        let p = self.doc.value_pos(pointer);
        self.push(rule, pointer, p, message.into());
    }

    fn push(&mut self, rule: &'static Rule, pointer: &str, p: crate::yaml::Pos, message: String) {
        let Some(severity) = self.opts.level(rule).filter(|_| !self.ignored.iter().any(|i| i == rule.id)) else {
            return;
        };
        self.out.push(Finding {
            rule,
            severity,
            message,
            file: self.file,
            line: p.line,
            column: p.column,
            pointer: format!("{}{}", self.base, existing(self.doc, pointer)),
            object: self.object.clone(),
        });
    }
}

/// The longest prefix of `pointer` that names a node, so the reported pointer
/// always resolves in the document.
pub fn existing(doc: &Doc, pointer: &str) -> String {
    let mut p = pointer;
    while !p.is_empty() && !doc.has(p) {
        p = p.rfind('/').map(|i| &p[..i]).unwrap_or("");
    }
    p.to_string()
}

/// Checks one document (a List's items one by one), adding what cross-document
/// rules need to `facts`.
pub fn check_doc(doc: &Doc, opts: &Options, file: usize, out: &mut Vec<Finding>, facts: &mut Facts) {
    check_item(doc, "", None, opts, file, out, facts)
}

fn check_item(
    doc: &Doc,
    base: &str,
    origin: Option<&super::readers::Origin>,
    opts: &Options,
    file: usize,
    out: &mut Vec<Finding>,
    facts: &mut Facts,
) {
    let header = doc.value.get("apiVersion").and_then(Value::as_str).zip(doc.value.get("kind").and_then(Value::as_str));
    let mut ctx = Ctx {
        doc,
        opts,
        file,
        object: object(doc),
        ignored: Vec::new(),
        out,
        hidden: Vec::new(),
        base: base.into(),
        origin,
    };
    suppressions(&mut ctx);
    dispatch(&mut ctx, header, facts);
    facts.hidden.append(&mut ctx.hidden);
}

fn dispatch(ctx: &mut Ctx, header: Option<(&str, &str)>, facts: &mut Facts) {
    let (doc, opts, file) = (ctx.doc, ctx.opts, ctx.file);
    let Some((api, kind)) = header else {
        super::schema::header(ctx);
        return;
    };
    if let Some((pointer, message)) = crate::app::load::misplaced(api, kind) {
        return ctx.value(&SCHEMA_INVALID, pointer, message);
    }
    match (api, kind) {
        (a, k) if crate::app::manifests::is_list(a, k) => {
            if !doc.value.get("items").is_some_and(Value::is_sequence) {
                // What the loader says, at the same place.
                ctx.key(&SCHEMA_INVALID, "/items", format!("a {k} needs `items`, a sequence"));
            }
            for (i, item) in doc.value.get("items").and_then(Value::as_sequence).into_iter().flatten().enumerate() {
                let sub = doc.subdoc(doc.index, &format!("/items/{i}"), item.clone());
                let base = format!("{}/items/{i}", ctx.base);
                check_item(&sub, &base, ctx.origin, opts, file, ctx.out, facts);
            }
        }
        (crate::app::podproof::API_VERSION, "App") => {
            if super::schema::app(ctx) {
                super::readers::app(ctx, ctx.origin);
            }
            for pod in view::app_pods(doc) {
                check_pod(ctx, &pod);
            }
        }
        (a, _) if a.starts_with("podproof.dev/") => {}
        (crate::app::kubedirector::API_VERSION, "KubeDirectorApp" | "KubeDirectorCluster") => {
            if super::schema::kubedirector(ctx, kind) {
                context::collect_kd(ctx, kind, facts);
            }
            if kind == "KubeDirectorApp" {
                security::kd_images(ctx);
            }
            for pod in view::kd_pods(doc) {
                check_pod(ctx, &pod);
            }
        }
        _ => {
            super::schema::k8s(ctx, api, kind);
            portability::api_version(ctx, api, kind);
            podman::kind(ctx, api, kind);
            context::collect(ctx, api, kind, facts);
            if api.starts_with("rbac.authorization.k8s.io/") {
                context::collect_rbac(ctx, kind, facts);
            }
            match view::manifest_pod(doc, api, kind) {
                Some(pod) => {
                    check_pod(ctx, &pod);
                    context::collect_pod(ctx, &pod, facts);
                }
                None => context::collect_bare_workload(ctx, kind, facts),
            }
        }
    }
}

/// `Kind/name` of a document, for messages and JSON.
fn object(doc: &Doc) -> Option<String> {
    let kind = doc.value.get("kind").and_then(Value::as_str)?;
    let name = doc.value.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("?");
    Some(format!("{kind}/{name}"))
}

/// Checks every document of one file, then the rules about the file as a whole.
pub fn check_file(docs: &[Doc], opts: &Options, file: usize, out: &mut Vec<Finding>, facts: &mut Facts) {
    check_file_from(docs, None, opts, file, out, facts)
}

/// `check_file` for a file the readers can resolve relative paths against.
pub fn check_file_from(
    docs: &[Doc],
    origin: Option<&super::readers::Origin>,
    opts: &Options,
    file: usize,
    out: &mut Vec<Finding>,
    facts: &mut Facts,
) {
    for doc in docs {
        check_item(doc, "", origin, opts, file, out, facts);
    }
    let configmaps = docs.iter().filter(|d| d.value.get("kind").and_then(Value::as_str) == Some("ConfigMap")).count();
    if configmaps > 0 && configmaps == docs.len() {
        let mut ctx = Ctx {
            doc: &docs[0],
            opts,
            file,
            object: object(&docs[0]),
            ignored: Vec::new(),
            out,
            hidden: Vec::new(),
            base: String::new(),
            origin,
        };
        suppressions(&mut ctx);
        podman::configmap_only(&mut ctx, configmaps);
    }
}

/// Checks every document of a chainsaw or kuttl test file: only the suite
/// rules, since its documents are asserts, templates and fixtures rather than
/// manifests to apply, and nothing of it counts for the rules across files.
pub fn check_suite_file(docs: &[Doc], opts: &Options, file: usize, out: &mut Vec<Finding>, _facts: &mut Facts) {
    for doc in docs {
        let mut ctx = Ctx {
            doc,
            opts,
            file,
            object: object(doc),
            ignored: Vec::new(),
            out: &mut *out,
            hidden: Vec::new(),
            base: String::new(),
            origin: None,
        };
        suite::document(&mut ctx);
    }
}

fn check_pod(ctx: &mut Ctx, pod: &PodView) {
    podman::pod(ctx, pod);
    portability::pod(ctx, pod);
    security::pod(ctx, pod);
}

/// Reads the object's `ignore-check.podproof.dev/<rule>` annotations (on the
/// object and on its pod template); invalid ones are findings themselves.
fn suppressions(ctx: &mut Ctx) {
    for base in ["/metadata/annotations", "/spec/template/metadata/annotations"] {
        let Some(anns) = crate::yaml::lookup(&ctx.doc.value, base).and_then(Value::as_mapping) else { continue };
        for (k, v) in anns {
            let Some(id) = k.as_str().and_then(|k| k.strip_prefix(IGNORE_PREFIX)) else { continue };
            let ptr = format!("{base}/{}", crate::yaml::escape(k.as_str().unwrap_or_default()));
            let reason = v.as_str().map(str::trim).unwrap_or("");
            if rule(id).is_none() {
                let msg = format!("`{id}` is not a podproof lint rule; this annotation suppresses nothing");
                ctx.key(&INVALID_SUPPRESSION, &ptr, msg);
            } else if reason.is_empty() {
                ctx.value(
                    &INVALID_SUPPRESSION,
                    &ptr,
                    format!("suppressing `{id}` needs a reason; without one the finding stays"),
                );
            } else {
                ctx.ignored.push(id.to_string());
            }
        }
    }
}

/// Iterates a sequence at `ptr` inside `v`, with each item's pointer.
pub fn items<'v>(v: &'v Value, key: &str, ptr: &str) -> impl Iterator<Item = (String, &'v Value)> + 'v {
    let base = format!("{ptr}/{key}");
    v.get(key)
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .enumerate()
        .map(move |(i, x)| (format!("{base}/{i}"), x))
}

/// A string field, if it is one.
pub fn s<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// Whether a field is the boolean `true`.
pub fn is_true(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool) == Some(true)
}
