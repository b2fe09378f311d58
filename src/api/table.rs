//! Tables (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): the
//! columns and cells that kubectl prints, with the API server's column
//! definitions and cell rules (pkg/printers/internalversion/printers.go),
//! priority-1 columns being what `-o wide` adds. Kinds without a printer get
//! the default table (Name, Created At); custom resources their CRD's
//! additionalPrinterColumns, or Name and Age.

use super::meta;
use super::resources::Resource;
use serde_json::{json, Value};

/// A column: name, type, priority, description.
type Col = (&'static str, &'static str, u8, &'static str);

const NAME: Col = ("Name", "string", 0, "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names");
const AGE: Col = ("Age", "string", 0, "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata");
const CONTAINERS: Col = ("Containers", "string", 1, "Names of each container in the template.");
const IMAGES: Col = ("Images", "string", 1, "Images referenced by each container in the template.");
const SELECTOR: Col = ("Selector", "string", 1, "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.");

fn columns(res: &Resource) -> Vec<Col> {
    match (res.group.as_str(), res.kind.as_str()) {
        ("", "Pod") => vec![
            NAME,
            ("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
            ("Status", "string", 0, "The aggregate status of the containers in this pod."),
            ("Restarts", "string", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
            AGE,
            ("IP", "string", 1, "The IP address assigned to the pod"),
            ("Node", "string", 1, "The node that the pod is assigned to"),
            ("Nominated Node", "string", 1, "The node that the pod is nominated to"),
            ("Readiness Gates", "string", 1, "The readiness gates of the pod"),
        ],
        ("", "Service") => vec![
            NAME,
            ("Type", "string", 0, "The type of the service."),
            ("Cluster-IP", "string", 0, "The cluster IP of the service."),
            ("External-IP", "string", 0, "The external IP of the service."),
            ("Port(s)", "string", 0, "The ports of the service."),
            AGE,
            ("Selector", "string", 1, "Route service traffic to pods with label keys and values matching this selector."),
        ],
        ("apps", "Deployment") => vec![
            NAME,
            ("Ready", "string", 0, "Number of the pod with ready state"),
            ("Up-to-date", "string", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            ("Available", "string", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        ("apps", "ReplicaSet") | ("", "ReplicationController") => vec![
            NAME,
            ("Desired", "integer", 0, "Replicas is the number of desired replicas."),
            ("Current", "integer", 0, "Replicas is the most recently observed number of replicas."),
            ("Ready", "integer", 0, "The number of ready replicas for this replica set."),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        ("apps", "StatefulSet") => vec![NAME, ("Ready", "string", 0, "Number of the pod with ready state"), AGE, CONTAINERS, IMAGES],
        ("apps", "DaemonSet") => vec![
            NAME,
            ("Desired", "integer", 0, "The total number of nodes that should be running the daemon pod."),
            ("Current", "integer", 0, "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
            ("Ready", "integer", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
            ("Up-to-date", "integer", 0, "The total number of nodes that are running updated daemon pod"),
            ("Available", "integer", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
            ("Node Selector", "string", 0, "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node."),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        ("batch", "Job") => vec![
            NAME,
            ("Status", "string", 0, "Status of the job."),
            ("Completions", "string", 0, "The completion status of the job."),
            ("Duration", "string", 0, "Time required to complete the job."),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        ("batch", "CronJob") => vec![
            NAME,
            ("Schedule", "string", 0, "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
            ("Timezone", "string", 0, "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
            ("Suspend", "boolean", 0, "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false."),
            ("Active", "integer", 0, "A list of pointers to currently running jobs."),
            ("Last Schedule", "string", 0, "Information when was the last time the job was successfully scheduled."),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        ("", "ConfigMap") => vec![NAME, ("Data", "integer", 0, "Data contains the configuration data."), AGE],
        ("", "Secret") => vec![
            NAME,
            ("Type", "string", 0, "Used to facilitate programmatic handling of secret data."),
            ("Data", "integer", 0, "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'."),
            AGE,
        ],
        ("", "Namespace") => vec![NAME, ("Status", "string", 0, "The status of the namespace"), AGE],
        ("", "Node") => vec![
            NAME,
            ("Status", "string", 0, "The status of the node"),
            ("Roles", "string", 0, "The roles of the node"),
            AGE,
            ("Version", "string", 0, "Kubelet Version reported by the node."),
            ("Internal-IP", "string", 1, "List of addresses reachable to the node. Queried from cloud provider, if available."),
            ("External-IP", "string", 1, "List of addresses reachable to the node. Queried from cloud provider, if available."),
            ("OS-Image", "string", 1, "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
            ("Kernel-Version", "string", 1, "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
            ("Container-Runtime", "string", 1, "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
        ],
        ("", "ServiceAccount") => vec![NAME, ("Secrets", "string", 0, "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."), AGE],
        ("", "Event") | ("events.k8s.io", "Event") => vec![
            ("Last Seen", "string", 0, "Time when last this event was observed."),
            ("Type", "string", 0, "Type of this event (Normal, Warning), new types could be added in the future."),
            ("Reason", "string", 0, "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
            ("Object", "string", 0, "The object that this event is about."),
            ("Subobject", "string", 1, "The subobject (a container of a pod, say) that this event is about."),
            ("Source", "string", 1, "The component reporting this event. Should be a short machine understandable string."),
            ("Message", "string", 0, "A human-readable description of the status of this operation."),
            ("First Seen", "string", 1, "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
            ("Count", "string", 1, "The number of times this event has occurred."),
            ("Name", "string", 1, "Name must be unique within a namespace."),
        ],
        ("", "PersistentVolumeClaim") => vec![
            NAME,
            ("Status", "string", 0, "Phase represents the current phase of PersistentVolumeClaim."),
            ("Volume", "string", 0, "VolumeName is the binding reference to the PersistentVolume backing this claim."),
            ("Capacity", "string", 0, "Capacity represents the actual resources of the underlying volume."),
            ("Access Modes", "string", 0, "AccessModes contains the desired access modes the volume should have."),
            ("StorageClass", "string", 0, "StorageClassName is the name of the StorageClass required by the claim."),
            ("VolumeAttributesClass", "string", 0, "VolumeAttributesClassName is the name of the VolumeAttributesClass the PersistentVolumeClaim uses."),
            AGE,
            ("VolumeMode", "string", 1, "VolumeMode defines what type of volume is required by the claim."),
        ],
        ("", "Endpoints") => vec![NAME, ("Endpoints", "string", 0, "Endpoints is the list of endpoints."), AGE],
        ("discovery.k8s.io", "EndpointSlice") => vec![
            NAME,
            ("AddressType", "string", 0, "addressType specifies the type of address carried by this EndpointSlice."),
            ("Ports", "string", 0, "ports specifies the list of network ports exposed by each endpoint in this slice."),
            ("Endpoints", "string", 0, "endpoints is a list of unique endpoints in this slice."),
            AGE,
        ],
        ("apps", "ControllerRevision") => vec![
            NAME,
            ("Controller", "string", 0, "Controller of the object"),
            ("Revision", "integer", 0, "Revision indicates the revision of the state represented by Data."),
            AGE,
        ],
        ("policy", "PodDisruptionBudget") => vec![
            NAME,
            ("Min Available", "string", 0, "The minimum number of pods that must be available simultaneously. This can be either an integer or a string specifying a percentage, e.g. \"28%\"."),
            ("Max Unavailable", "string", 0, "The maximum number of pods that may be unavailable simultaneously. This can be either an integer or a string specifying a percentage, e.g. \"28%\"."),
            ("Allowed Disruptions", "integer", 0, "Calculated number of pods that may be disrupted at this time."),
            AGE,
        ],
        _ => vec![],
    }
}

/// The Table of `items` (one object for GET, the page for LIST).
pub fn table(res: &Resource, items: &[&Value], list_meta: Value, include: &str, now: i64) -> Value {
    let cols = columns(res);
    let (defs, rows): (Vec<Value>, Vec<Value>) = if !cols.is_empty() {
        let defs = cols
            .iter()
            .map(|(n, t, p, d)| json!({"name": n, "type": t, "format": if *n == "Name" { "name" } else { "" }, "description": d, "priority": p}))
            .collect();
        let rows = items.iter().map(|o| row(res, o, cells(res, o, now), include)).collect();
        (defs, rows)
    } else if !res.builtin {
        custom(res, items, include, now)
    } else {
        let defs = vec![
            json!({"name": "Name", "type": "string", "format": "name", "description": NAME.3, "priority": 0}),
            json!({"name": "Created At", "type": "date", "format": "", "description": AGE.3, "priority": 0}),
        ];
        let rows = items
            .iter()
            .map(|o| {
                row(res, o, vec![json!(meta::name(o)), json!(meta::str_at(o, "/metadata/creationTimestamp"))], include)
            })
            .collect();
        (defs, rows)
    };
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": defs, "rows": rows})
}

fn row(res: &Resource, o: &Value, cells: Vec<Value>, include: &str) -> Value {
    let object = match include {
        "None" => Value::Null,
        "Object" => o.clone(),
        _ => {
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.get("metadata").cloned().unwrap_or(json!({}))})
        }
    };
    let _ = res;
    let mut r = json!({"cells": cells});
    if !object.is_null() {
        r["object"] = object;
    }
    r
}

/// A custom resource's table: its CRD's columns (with Age after the name
/// unless the CRD declares one), or Name and Age.
fn custom(res: &Resource, items: &[&Value], include: &str, now: i64) -> (Vec<Value>, Vec<Value>) {
    let mut defs =
        vec![json!({"name": "Name", "type": "string", "format": "name", "description": NAME.3, "priority": 0})];
    for c in &res.columns {
        defs.push(json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}));
    }
    let has_age = res.columns.iter().any(|c| c.json_path == ".metadata.creationTimestamp");
    if !has_age {
        defs.push(json!({"name": "Age", "type": "date", "format": "", "description": AGE.3, "priority": 0}));
    }
    let rows = items
        .iter()
        .map(|o| {
            let mut cells = vec![json!(meta::name(o))];
            for c in &res.columns {
                let v = simple_jsonpath(o, &c.json_path);
                cells.push(match (c.type_.as_str(), v) {
                    ("date", Some(Value::String(s))) => json!(age(&s, now)),
                    (_, Some(v)) => v,
                    (_, None) => Value::Null,
                });
            }
            if !has_age {
                cells.push(json!(age(meta::str_at(o, "/metadata/creationTimestamp"), now)));
            }
            row(res, o, cells, include)
        })
        .collect();
    (defs, rows)
}

/// `.status.phase`, `.spec.items[0].name`: the JSONPath subset CRDs' columns use.
fn simple_jsonpath(o: &Value, path: &str) -> Option<Value> {
    let mut cur = o;
    let p = path.trim_start_matches('.');
    for seg in p.split('.').filter(|s| !s.is_empty()) {
        let (name, idx) = match seg.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        if let Some(i) = idx {
            cur = cur.get(i)?;
        }
    }
    Some(cur.clone())
}

/// duration.HumanDuration of the time since a metav1.Time.
pub fn age(ts: &str, now: i64) -> String {
    match meta::parse_time(ts) {
        Some(t) => human(now - t),
        None => "<unknown>".into(),
    }
}

/// k8s.io/apimachinery/pkg/util/duration.HumanDuration, in seconds.
pub fn human(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 { format!("{}y", hours / 24 / 365) } else { format!("{}y{dy}d", hours / 24 / 365) };
    }
    format!("{}y", hours / 24 / 365)
}

fn int(o: &Value, p: &str) -> i64 {
    o.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn s<'v>(o: &'v Value, p: &str) -> &'v str {
    meta::str_at(o, p)
}

fn none_if_empty(x: String) -> String {
    if x.is_empty() {
        "<none>".into()
    } else {
        x
    }
}

/// Container names and images of a pod template, joined by commas.
fn containers_images(spec: Option<&Value>) -> (String, String) {
    let cs = spec.and_then(|s| s.get("containers")).and_then(Value::as_array).cloned().unwrap_or_default();
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

fn selector_text(sel: Option<&Value>) -> String {
    match sel.map(super::selectors::LabelSelector::from_object) {
        Some(Ok(Some(s))) => none_if_empty(s.to_string_form()),
        _ => "<none>".into(),
    }
}

fn map_text(m: Option<&Value>) -> String {
    let parts: Vec<String> = m
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect())
        .unwrap_or_default();
    none_if_empty(parts.join(","))
}

fn cells(res: &Resource, o: &Value, now: i64) -> Vec<Value> {
    let name = json!(meta::name(o));
    let age_cell = json!(age(s(o, "/metadata/creationTimestamp"), now));
    match (res.group.as_str(), res.kind.as_str()) {
        ("", "Pod") => pod_cells(o, now),
        ("", "Service") => {
            let ty = s(o, "/spec/type");
            let ty = if ty.is_empty() { "ClusterIP" } else { ty };
            let cluster_ip = none_if_empty(s(o, "/spec/clusterIP").to_string());
            let mut external: Vec<String> = o
                .pointer("/spec/externalIPs")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            let ingress: Vec<String> = o
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|i| {
                            if !s(i, "/ip").is_empty() {
                                s(i, "/ip").to_string()
                            } else {
                                s(i, "/hostname").to_string()
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            let ext = match ty {
                "ClusterIP" | "NodePort" => none_if_empty(external.join(",")),
                "LoadBalancer" => {
                    external.extend(ingress);
                    if external.is_empty() {
                        "<pending>".into()
                    } else {
                        external.join(",")
                    }
                }
                "ExternalName" => s(o, "/spec/externalName").to_string(),
                _ => "<unknown>".into(),
            };
            let ports: Vec<String> = o
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            let proto = if s(p, "/protocol").is_empty() { "TCP" } else { s(p, "/protocol") };
                            match p.get("nodePort").and_then(Value::as_i64) {
                                Some(np) => format!("{}:{np}/{proto}", int(p, "/port")),
                                None => format!("{}/{proto}", int(p, "/port")),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            vec![
                name,
                json!(ty),
                json!(cluster_ip),
                json!(ext),
                json!(none_if_empty(ports.join(","))),
                age_cell,
                json!(map_text(o.pointer("/spec/selector"))),
            ]
        }
        ("apps", "Deployment") => {
            let (c, i) = containers_images(o.pointer("/spec/template/spec"));
            vec![
                name,
                json!(format!("{}/{}", int(o, "/status/readyReplicas"), int(o, "/spec/replicas"))),
                json!(int(o, "/status/updatedReplicas")),
                json!(int(o, "/status/availableReplicas")),
                age_cell,
                json!(c),
                json!(i),
                json!(selector_text(o.pointer("/spec/selector"))),
            ]
        }
        ("apps", "ReplicaSet") | ("", "ReplicationController") => {
            let (c, i) = containers_images(o.pointer("/spec/template/spec"));
            let sel = if res.kind == "ReplicaSet" {
                selector_text(o.pointer("/spec/selector"))
            } else {
                map_text(o.pointer("/spec/selector"))
            };
            vec![
                name,
                json!(int(o, "/spec/replicas")),
                json!(int(o, "/status/replicas")),
                json!(int(o, "/status/readyReplicas")),
                age_cell,
                json!(c),
                json!(i),
                json!(sel),
            ]
        }
        ("apps", "StatefulSet") => {
            let (c, i) = containers_images(o.pointer("/spec/template/spec"));
            vec![
                name,
                json!(format!("{}/{}", int(o, "/status/readyReplicas"), int(o, "/spec/replicas"))),
                age_cell,
                json!(c),
                json!(i),
            ]
        }
        ("apps", "DaemonSet") => {
            let (c, i) = containers_images(o.pointer("/spec/template/spec"));
            vec![
                name,
                json!(int(o, "/status/desiredNumberScheduled")),
                json!(int(o, "/status/currentNumberScheduled")),
                json!(int(o, "/status/numberReady")),
                json!(int(o, "/status/updatedNumberScheduled")),
                json!(int(o, "/status/numberAvailable")),
                json!(map_text(o.pointer("/spec/template/spec/nodeSelector"))),
                age_cell,
                json!(c),
                json!(i),
                json!(selector_text(o.pointer("/spec/selector"))),
            ]
        }
        ("batch", "Job") => {
            let (c, i) = containers_images(o.pointer("/spec/template/spec"));
            let completions = match o.pointer("/spec/completions").and_then(Value::as_i64) {
                Some(n) => format!("{}/{n}", int(o, "/status/succeeded")),
                None => {
                    let p = o.pointer("/spec/parallelism").and_then(Value::as_i64).unwrap_or(0);
                    if p > 1 {
                        format!("{}/1 of {p}", int(o, "/status/succeeded"))
                    } else {
                        format!("{}/1", int(o, "/status/succeeded"))
                    }
                }
            };
            let start = meta::parse_time(s(o, "/status/startTime"));
            let done = meta::parse_time(s(o, "/status/completionTime"));
            let duration = match (start, done) {
                (Some(a), Some(b)) => human(b - a),
                (Some(a), None) => human(now - a),
                _ => String::new(),
            };
            vec![
                name,
                json!(job_status(o)),
                json!(completions),
                json!(duration),
                age_cell,
                json!(c),
                json!(i),
                json!(selector_text(o.pointer("/spec/selector"))),
            ]
        }
        ("batch", "CronJob") => {
            let (c, i) = containers_images(o.pointer("/spec/jobTemplate/spec/template/spec"));
            let last = match s(o, "/status/lastScheduleTime") {
                "" => "<none>".to_string(),
                t => age(t, now),
            };
            vec![
                name,
                json!(s(o, "/spec/schedule")),
                json!(none_if_empty(s(o, "/spec/timeZone").to_string())),
                json!(o.pointer("/spec/suspend").and_then(Value::as_bool).unwrap_or(false)),
                json!(o.pointer("/status/active").and_then(Value::as_array).map_or(0, Vec::len)),
                json!(last),
                age_cell,
                json!(c),
                json!(i),
                json!(selector_text(o.pointer("/spec/jobTemplate/spec/selector"))),
            ]
        }
        ("", "ConfigMap") => {
            let n = o.get("data").and_then(Value::as_object).map_or(0, |m| m.len())
                + o.get("binaryData").and_then(Value::as_object).map_or(0, |m| m.len());
            vec![name, json!(n), age_cell]
        }
        ("", "Secret") => {
            let n = o.get("data").and_then(Value::as_object).map_or(0, |m| m.len());
            vec![name, json!(s(o, "/type")), json!(n), age_cell]
        }
        ("", "Namespace") => vec![name, json!(s(o, "/status/phase")), age_cell],
        ("", "Node") => node_cells(o, now),
        ("", "ServiceAccount") => {
            vec![name, json!(o.get("secrets").and_then(Value::as_array).map_or(0, Vec::len)), age_cell]
        }
        ("", "Event") | ("events.k8s.io", "Event") => event_cells(o, now),
        ("", "PersistentVolumeClaim") => {
            let modes: Vec<&str> = o
                .pointer("/status/accessModes")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(access_mode).collect())
                .unwrap_or_default();
            let sc = s(o, "/spec/storageClassName");
            vec![
                name,
                json!(s(o, "/status/phase")),
                json!(s(o, "/spec/volumeName")),
                json!(s(o, "/status/capacity/storage")),
                json!(modes.join(",")),
                json!(sc),
                json!(none_if_empty(s(o, "/spec/volumeAttributesClassName").to_string())),
                age_cell,
                json!(s(o, "/spec/volumeMode")),
            ]
        }
        ("", "Endpoints") => vec![name, json!(endpoints_text(o)), age_cell],
        ("discovery.k8s.io", "EndpointSlice") => {
            let ports: Vec<String> = o
                .get("ports")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter().filter_map(|p| p.get("port").and_then(Value::as_i64)).map(|p| p.to_string()).collect()
                })
                .unwrap_or_default();
            let addrs: Vec<String> = o
                .get("endpoints")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .flat_map(|e| e.get("addresses").and_then(Value::as_array).cloned().unwrap_or_default())
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            vec![
                name,
                json!(s(o, "/addressType")),
                json!(none_if_empty(ports.join(","))),
                json!(none_if_empty(truncated(&addrs))),
                age_cell,
            ]
        }
        ("apps", "ControllerRevision") => {
            let owner = meta::owners(o).into_iter().next().map(|(a, k, n, _)| {
                let g = super::resources::split_api_version(&a).0.to_string();
                if g.is_empty() {
                    format!("{}/{n}", k.to_lowercase())
                } else {
                    format!("{}.{g}/{n}", k.to_lowercase())
                }
            });
            vec![name, json!(owner.unwrap_or_else(|| "<none>".into())), json!(int(o, "/revision")), age_cell]
        }
        ("policy", "PodDisruptionBudget") => {
            let iv = |p: &str| {
                o.pointer(p)
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_else(|| "N/A".into())
            };
            vec![
                name,
                json!(iv("/spec/minAvailable")),
                json!(iv("/spec/maxUnavailable")),
                json!(int(o, "/status/disruptionsAllowed")),
                age_cell,
            ]
        }
        _ => vec![name, age_cell],
    }
}

/// The first three addresses and "+ N more..." (formatEndpoints).
fn truncated(list: &[String]) -> String {
    if list.len() <= 3 {
        list.join(",")
    } else {
        format!("{} + {} more...", list[..3].join(","), list.len() - 3)
    }
}

fn endpoints_text(o: &Value) -> String {
    let mut list = Vec::new();
    for sub in o.get("subsets").and_then(Value::as_array).into_iter().flatten() {
        let ports: Vec<i64> = sub
            .get("ports")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|p| p.get("port").and_then(Value::as_i64)).collect())
            .unwrap_or_default();
        for a in sub.get("addresses").and_then(Value::as_array).into_iter().flatten() {
            let ip = s(a, "/ip");
            if ports.is_empty() {
                list.push(ip.to_string());
            }
            for p in &ports {
                list.push(format!("{ip}:{p}"));
            }
        }
    }
    none_if_empty(truncated(&list))
}

fn access_mode(m: &str) -> &str {
    match m {
        "ReadWriteOnce" => "RWO",
        "ReadOnlyMany" => "ROX",
        "ReadWriteMany" => "RWX",
        "ReadWriteOncePod" => "RWOP",
        other => other,
    }
}

/// The Job's STATUS column (printJob in 1.30+).
fn job_status(o: &Value) -> &'static str {
    let conds = o.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let has = |t: &str| conds.iter().any(|c| s(c, "/type") == t && s(c, "/status") == "True");
    if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if meta::deleting(o) {
        "Terminating"
    } else if has("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else if has("Suspended") {
        "Suspended"
    } else {
        "Running"
    }
}

/// printPod: READY, STATUS and RESTARTS as kubectl shows them.
fn pod_cells(o: &Value, now: i64) -> Vec<Value> {
    let spec_containers = o.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
    let init_specs = o.pointer("/spec/initContainers").and_then(Value::as_array).cloned().unwrap_or_default();
    let sidecars: Vec<&str> =
        init_specs.iter().filter(|c| s(c, "/restartPolicy") == "Always").map(|c| s(c, "/name")).collect();
    let mut total = spec_containers + sidecars.len();
    let mut ready = 0;
    let mut restarts = 0i64;
    let mut last_restart: Option<i64> = None;
    let mut reason = s(o, "/status/phase").to_string();
    if !s(o, "/status/reason").is_empty() {
        reason = s(o, "/status/reason").to_string();
    }
    let note_restart = |c: &Value, restarts: &mut i64, last: &mut Option<i64>| {
        *restarts += int(c, "/restartCount");
        if let Some(t) = meta::parse_time(s(c, "/lastState/terminated/finishedAt")) {
            if last.is_none_or(|l| t > l) {
                *last = Some(t);
            }
        }
    };
    let mut initializing = false;
    let inits = o.pointer("/status/initContainerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
    for (i, c) in inits.iter().enumerate() {
        note_restart(c, &mut restarts, &mut last_restart);
        let name = s(c, "/name");
        if sidecars.contains(&name) && c.get("started").and_then(Value::as_bool) == Some(true) {
            if c.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = c.pointer("/state/terminated") {
            if int(t, "/exitCode") == 0 {
                continue;
            }
            reason = if !s(t, "/reason").is_empty() {
                format!("Init:{}", s(t, "/reason"))
            } else if int(t, "/signal") != 0 {
                format!("Init:Signal:{}", int(t, "/signal"))
            } else {
                format!("Init:ExitCode:{}", int(t, "/exitCode"))
            };
            initializing = true;
        } else if let Some(w) =
            c.pointer("/state/waiting").filter(|w| !s(w, "/reason").is_empty() && s(w, "/reason") != "PodInitializing")
        {
            reason = format!("Init:{}", s(w, "/reason"));
            initializing = true;
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
            initializing = true;
        }
        break;
    }
    if !initializing {
        restarts = 0;
        last_restart = None;
        for c in &inits {
            if sidecars.contains(&s(c, "/name")) {
                note_restart(c, &mut restarts, &mut last_restart);
            }
        }
        let mut has_running = false;
        let statuses = o.pointer("/status/containerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
        for c in statuses.iter().rev() {
            note_restart(c, &mut restarts, &mut last_restart);
            if let Some(w) = c.pointer("/state/waiting").filter(|w| !s(w, "/reason").is_empty()) {
                reason = s(w, "/reason").to_string();
            } else if let Some(t) = c.pointer("/state/terminated") {
                reason = if !s(t, "/reason").is_empty() {
                    s(t, "/reason").to_string()
                } else if int(t, "/signal") != 0 {
                    format!("Signal:{}", int(t, "/signal"))
                } else {
                    format!("ExitCode:{}", int(t, "/exitCode"))
                };
            } else if c.get("ready").and_then(Value::as_bool) == Some(true) && c.pointer("/state/running").is_some() {
                has_running = true;
                ready += 1;
            } else if c.pointer("/state/running").is_some() {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            let ready_cond = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| cs.iter().any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True"));
            reason = if ready_cond { "Running".into() } else { "NotReady".into() };
        }
    }
    if meta::deleting(o) {
        reason = if s(o, "/status/reason") == "NodeLost" { "Unknown".into() } else { "Terminating".into() };
    }
    if total == 0 {
        total = spec_containers;
    }
    let restarts_text = match last_restart {
        Some(t) if restarts > 0 => format!("{restarts} ({} ago)", human(now - t)),
        _ => restarts.to_string(),
    };
    let gates = o.pointer("/spec/readinessGates").and_then(Value::as_array).map_or(0, Vec::len);
    let gates_text = if gates == 0 {
        "<none>".to_string()
    } else {
        let conds = o.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
        let true_gates = o
            .pointer("/spec/readinessGates")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|g| {
                        conds.iter().any(|c| s(c, "/type") == s(g, "/conditionType") && s(c, "/status") == "True")
                    })
                    .count()
            })
            .unwrap_or(0);
        format!("{true_gates}/{gates}")
    };
    vec![
        json!(meta::name(o)),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_text),
        json!(age(s(o, "/metadata/creationTimestamp"), now)),
        json!(none_if_empty(s(o, "/status/podIP").to_string())),
        json!(none_if_empty(s(o, "/spec/nodeName").to_string())),
        json!(none_if_empty(s(o, "/status/nominatedNodeName").to_string())),
        json!(gates_text),
    ]
}

fn node_cells(o: &Value, now: i64) -> Vec<Value> {
    let conds = o.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut status: Vec<String> = Vec::new();
    match conds.iter().find(|c| s(c, "/type") == "Ready") {
        Some(c) if s(c, "/status") == "True" => status.push("Ready".into()),
        Some(_) => status.push("NotReady".into()),
        None => status.push("Unknown".into()),
    }
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles: Vec<String> = meta::string_map(o, "labels")
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("node-role.kubernetes.io/")
                .map(str::to_string)
                .or_else(|| (*k == "kubernetes.io/role").then(|| v.to_string()))
        })
        .filter(|r| !r.is_empty())
        .collect();
    roles.sort();
    let addr = |t: &str| -> String {
        o.pointer("/status/addresses")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|x| s(x, "/type") == t))
            .map(|x| s(x, "/address").to_string())
            .unwrap_or_else(|| "<none>".into())
    };
    let or_unknown = |x: &str| if x.is_empty() { "<unknown>".to_string() } else { x.to_string() };
    vec![
        json!(meta::name(o)),
        json!(status.join(",")),
        json!(none_if_empty(roles.join(","))),
        json!(age(s(o, "/metadata/creationTimestamp"), now)),
        json!(s(o, "/status/nodeInfo/kubeletVersion")),
        json!(addr("InternalIP")),
        json!(addr("ExternalIP")),
        json!(or_unknown(s(o, "/status/nodeInfo/osImage"))),
        json!(or_unknown(s(o, "/status/nodeInfo/kernelVersion"))),
        json!(or_unknown(s(o, "/status/nodeInfo/containerRuntimeVersion"))),
    ]
}

/// printEvent: the core v1 form (the events.k8s.io view is converted to it first).
fn event_cells(o: &Value, now: i64) -> Vec<Value> {
    let first = s(o, "/firstTimestamp");
    let last = s(o, "/lastTimestamp");
    let event_time = s(o, "/eventTime");
    let first_seen = if !first.is_empty() {
        age(first, now)
    } else if !event_time.is_empty() {
        age(event_time, now)
    } else {
        "<unknown>".into()
    };
    let last_seen = if let Some(st) = o.pointer("/series/lastObservedTime").and_then(Value::as_str) {
        age(st, now)
    } else if !last.is_empty() {
        age(last, now)
    } else {
        first_seen.clone()
    };
    let kind = s(o, "/involvedObject/kind").to_lowercase();
    let object = format!("{kind}/{}", s(o, "/involvedObject/name"));
    let source = if !s(o, "/source/component").is_empty() {
        let h = s(o, "/source/host");
        if h.is_empty() {
            s(o, "/source/component").to_string()
        } else {
            format!("{}, {h}", s(o, "/source/component"))
        }
    } else {
        s(o, "/reportingComponent").to_string()
    };
    let count = o
        .pointer("/series/count")
        .and_then(Value::as_i64)
        .or_else(|| o.get("count").and_then(Value::as_i64))
        .unwrap_or(1);
    vec![
        json!(last_seen),
        json!(s(o, "/type")),
        json!(s(o, "/reason")),
        json!(object),
        json!(s(o, "/involvedObject/fieldPath")),
        json!(source),
        json!(s(o, "/message").trim()),
        json!(first_seen),
        json!(count),
        json!(meta::name(o)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        for (s, want) in [
            (0, "0s"),
            (59, "59s"),
            (119, "119s"),
            (150, "2m30s"),
            (600, "10m"),
            (3600 * 3, "3h"),
            (3600 * 5 + 60, "5h1m"),
            (3600 * 30, "30h"),
            (86400 * 3 + 3600, "3d1h"),
            (86400 * 30, "30d"),
        ] {
            assert_eq!(human(s), want, "{s}");
        }
    }

    #[test]
    fn a_running_pod_reads_as_kubectl_prints_it() {
        let res = super::super::resources::Registry::default().find("", "v1", "pods").unwrap();
        let p = json!({"metadata": {"name": "web", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n"},
            "status": {"phase": "Running", "podIP": "10.0.0.2", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}, "lastState": {"terminated": {"finishedAt": "2026-01-01T00:01:00Z"}}},
                {"name": "b", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let now = meta::parse_time("2026-01-01T00:10:00Z").unwrap();
        let t = table(&res, &[&p], json!({}), "Metadata", now);
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["web", "1/2", "CrashLoopBackOff", "2 (9m ago)", "10m", "10.0.0.2", "n", "<none>", "<none>"])
        );
        assert_eq!(t["columnDefinitions"][5]["priority"], 1);
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }
}
