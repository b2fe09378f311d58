//! Object metadata, Services, ConfigMaps, Secrets and PersistentVolumeClaims.

use super::names;
use super::{child, entries, grammar, int, items, one_of, string, unsupported, Issues, Problem};
use serde_yaml::Value;

/// TotalAnnotationSizeLimitB of ValidateAnnotations.
const ANNOTATIONS_MAX: usize = 256 * 1024;
/// MaxSecretSize, which ValidateConfigMap applies to ConfigMaps too.
const DATA_MAX: usize = 1024 * 1024;

/// The name rule of each kind: ValidatePodName, ValidateConfigMapName... are
/// NameIsDNSSubdomain; ValidateServiceName is NameIsDNS1035Label;
/// ValidateNamespaceName is NameIsDNSLabel; ValidateRBACName is
/// path.IsValidPathSegmentName.
fn name_rule(kind: &str) -> (fn(&str) -> Option<String>, &'static str) {
    match kind {
        "Service" => {
            (names::dns1035_label, "DNS-1035 label (lowercase letters, digits and '-', starting with a letter)")
        }
        "Namespace" => (names::dns1123_label, "DNS-1123 label (lowercase letters, digits and '-')"),
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => {
            (names::path_segment, "RBAC name (anything but `.` and `..`, without '/' or '%')")
        }
        _ => (names::dns1123_subdomain, "DNS-1123 name (lowercase letters, digits, '-' and '.')"),
    }
}

/// ValidateObjectMeta: the name (or generateName), namespace, labels and annotations.
pub fn metadata(out: &mut Issues, v: &Value, kind: &str) {
    let meta = v.get("metadata").filter(|m| m.is_mapping());
    let (check, what) = name_rule(kind);
    match meta.and_then(|m| m.get("name")) {
        Some(Value::String(n)) => {
            if check(n).is_some() {
                out.value(Problem::Invalid, "/metadata/name", format!("name `{n}` is not a valid {what}"));
            }
        }
        None | Some(Value::Null) if meta.and_then(|m| m.get("generateName")).is_some_and(Value::is_string) => {}
        None | Some(Value::Null) => out.key(Problem::Invalid, "/metadata", format!("{kind} needs metadata.name")),
        Some(_) => {}
    }
    // ValidateJobName adds the job-name label, a label value: 63 at most;
    // ValidateCronJobCreate keeps 11 characters for the Jobs' suffix.
    let limit = match kind {
        "Job" => 63,
        "CronJob" => 52,
        _ => usize::MAX,
    };
    if let Some(n) = string(meta.and_then(|m| m.get("name"))).filter(|n| n.len() > limit) {
        out.bad("/metadata/name", format!("Invalid value: \"{n}\": must be no more than {limit} characters"));
    }
    grammar(out, meta, "/metadata", "namespace", names::dns1123_label);
    object_meta(out, meta, "/metadata");
}

/// The labels and annotations of any ObjectMeta (objects and pod templates).
pub fn object_meta(out: &mut Issues, meta: Option<&Value>, ptr: &str) {
    let (labels, lp) = child(meta, ptr, "labels");
    validate_labels(out, labels, &lp);
    // ValidateAnnotations: qualified-name keys, 256 KiB in all.
    let (anns, ap) = child(meta, ptr, "annotations");
    let mut size = 0;
    for (p, k, val) in entries(anns, &ap) {
        if let Some(why) = names::qualified_name(&k.to_lowercase()) {
            out.key(Problem::Invalid, &p, super::schema::at(&ap, &format!("Invalid value: \"{k}\": {why}")));
        }
        size += k.len() + val.as_str().map_or(0, str::len);
    }
    if size > ANNOTATIONS_MAX {
        out.bad(&ap, format!("Too long: may not be more than {ANNOTATIONS_MAX} bytes, found {size}"));
    }
}

/// ValidateLabels: qualified-name keys and label values (also selectors and nodeSelector).
pub fn validate_labels(out: &mut Issues, labels: Option<&Value>, ptr: &str) {
    for (p, k, val) in entries(labels, ptr) {
        if let Some(why) = names::qualified_name(k) {
            out.key(Problem::Invalid, &p, super::schema::at(ptr, &format!("Invalid value: \"{k}\": {why}")));
        }
        if let Some(s) = val.as_str() {
            if let Some(why) = names::label_value(s) {
                out.bad(&p, format!("Invalid value: \"{s}\": {why}"));
            }
        }
    }
}

/// ValidateService and ValidateServicePort.
pub fn service(out: &mut Issues, v: &Value) {
    let (spec, sp) = child(Some(v), "", "spec");
    let kind = string(spec.and_then(|s| s.get("type"))).unwrap_or("ClusterIP");
    one_of(out, spec, &sp, "type", &["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]);
    one_of(out, spec, &sp, "sessionAffinity", &["ClientIP", "None"]);
    one_of(out, spec, &sp, "externalTrafficPolicy", &["Cluster", "Local"]);
    one_of(out, spec, &sp, "internalTrafficPolicy", &["Cluster", "Local"]);
    let (selector, selp) = child(spec, &sp, "selector");
    validate_labels(out, selector, &selp);
    if kind == "ExternalName" {
        let (name, np) = child(spec, &sp, "externalName");
        match string(name) {
            None => out.required(&np, ""),
            Some(n) => {
                if let Some(why) = names::dns1123_subdomain(n.trim_end_matches('.')) {
                    out.bad(&np, format!("Invalid value: \"{n}\": {why}"));
                }
            }
        }
    }
    let headless = string(spec.and_then(|s| s.get("clusterIP"))) == Some("None");
    let (ports, pp) = child(spec, &sp, "ports");
    let list = ports.and_then(Value::as_sequence);
    if list.is_none_or(|l| l.is_empty()) && kind != "ExternalName" && !headless {
        out.required(&pp, "");
    }
    let many = list.is_some_and(|l| l.len() > 1);
    let mut names_seen: Vec<&str> = Vec::new();
    let mut seen: Vec<(i64, &str)> = Vec::new();
    for (p, port) in items(ports, &pp) {
        let (name, np) = child(Some(port), &p, "name");
        match string(name) {
            None | Some("") if many => out.required(&np, ""),
            None | Some("") => {}
            Some(n) => {
                if let Some(why) = names::dns1123_label(n) {
                    out.bad(&np, format!("Invalid value: \"{n}\": {why}"));
                }
                if names_seen.contains(&n) {
                    out.bad(&np, format!("Duplicate value: \"{n}\""));
                }
                names_seen.push(n);
            }
        }
        let (number, portp) = child(Some(port), &p, "port");
        match int(number) {
            None if number.is_none() => out.required(&portp, ""),
            Some(n) => {
                if let Some(why) = names::port_number(n) {
                    out.bad(&portp, format!("Invalid value: {n}: {why}"));
                }
                let proto = string(port.get("protocol")).unwrap_or("TCP");
                if seen.contains(&(n, proto)) {
                    out.bad(&portp, format!("Duplicate value: \"{n}/{proto}\""));
                }
                seen.push((n, proto));
            }
            None => {}
        }
        one_of(out, Some(port), &p, "protocol", &["TCP", "UDP", "SCTP"]);
        super::pod::int_or_port_name(out, port.get("targetPort"), &format!("{p}/targetPort"));
        let (node, nodep) = child(Some(port), &p, "nodePort");
        if let Some(n) = int(node) {
            if !matches!(kind, "NodePort" | "LoadBalancer") && n != 0 {
                out.bad(&nodep, format!("Forbidden: may not be used when `type` is '{kind}'"));
            } else if let Some(why) = names::port_number(n).filter(|_| n != 0) {
                out.bad(&nodep, format!("Invalid value: {n}: {why}"));
            }
        }
    }
}

/// The keys of ConfigMap and Secret data and their total size.
fn data_keys(out: &mut Issues, v: &Value, fields: &[&str]) {
    let mut size = 0;
    let mut keys: Vec<&str> = Vec::new();
    for field in fields {
        let (data, dp) = child(Some(v), "", field);
        for (p, k, val) in entries(data, &dp) {
            if let Some(why) = names::config_map_key(k) {
                out.key(Problem::Invalid, &p, super::schema::at(&dp, &format!("Invalid value: \"{k}\": {why}")));
            }
            if keys.contains(&k) && *field == "binaryData" {
                out.key(Problem::Invalid, &p, super::schema::at(&p, "Invalid value: duplicate of key present in data"));
            }
            keys.push(k);
            size += val.as_str().map_or(0, str::len);
        }
    }
    if size > DATA_MAX {
        out.bad("", format!("Too long: the data may not be more than {DATA_MAX} bytes, found {size}"));
    }
}

/// ValidateConfigMap: IsConfigMapKey keys, no key in both data and
/// binaryData, 1 MiB in all.
pub fn config_map(out: &mut Issues, v: &Value) {
    data_keys(out, v, &["data", "binaryData"]);
}

/// ValidateSecret: IsConfigMapKey keys, 1 MiB, and the keys each type needs.
/// Base64 of `data` is checked by the schema (k8s-openapi's ByteString).
pub fn secret(out: &mut Issues, v: &Value) {
    data_keys(out, v, &["data", "stringData"]);
    let has = |key: &str| ["data", "stringData"].iter().any(|f| v.get(*f).and_then(|d| d.get(key)).is_some());
    let need: &[&str] = match string(v.get("type")) {
        Some("kubernetes.io/tls") => &["tls.crt", "tls.key"],
        Some("kubernetes.io/dockerconfigjson") => &[".dockerconfigjson"],
        Some("kubernetes.io/dockercfg") => &[".dockercfg"],
        Some("kubernetes.io/ssh-auth") => &["ssh-privatekey"],
        _ => &[],
    };
    for key in need {
        if !has(key) {
            out.required(&format!("/data/{key}"), "");
        }
    }
    if string(v.get("type")) == Some("kubernetes.io/basic-auth") && !has("username") && !has("password") {
        out.required("/data", ": a basic-auth Secret needs `username` or `password`");
    }
}

/// ValidatePersistentVolumeClaimSpec: access modes, the storage request and the volume mode.
pub fn pvc_spec(out: &mut Issues, spec: Option<&Value>, sp: &str) {
    const MODES: &[&str] = &["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"];
    let (modes, mp) = child(spec, sp, "accessModes");
    if modes.and_then(Value::as_sequence).is_none_or(|m| m.is_empty()) {
        out.required(&mp, ": at least 1 access mode is required");
    }
    for (p, m) in items(modes, &mp) {
        if let Some(s) = m.as_str().filter(|s| !MODES.contains(s)) {
            out.bad(&p, unsupported(s, MODES));
        }
    }
    one_of(out, spec, sp, "volumeMode", &["Filesystem", "Block"]);
    // A claim cloned from a data source may leave the size to its source.
    if spec.and_then(|s| s.get("dataSource").or(s.get("dataSourceRef"))).is_none() {
        let storage =
            spec.and_then(|s| s.get("resources")).and_then(|r| r.get("requests")).and_then(|r| r.get("storage"));
        let p = format!("{sp}/resources/requests/storage");
        match storage.and_then(super::pod::quantity_value) {
            None if storage.is_none() => out.required(&p, ""),
            Some(q) if q <= 0.0 => out.bad(&p, "Invalid value: must be greater than zero"),
            _ => {}
        }
    }
}

/// ValidatePodDisruptionBudgetSpec: minAvailable or maxUnavailable (not
/// both), each a non-negative count or a percentage of at most 100%, the
/// selector, and the eviction policy.
pub fn pdb(out: &mut Issues, v: &Value) {
    let (spec, sp) = child(Some(v), "", "spec");
    let set = |k: &str| spec.and_then(|s| s.get(k)).is_some_and(|x| !x.is_null());
    if set("minAvailable") && set("maxUnavailable") {
        out.bad(&format!("{sp}/maxUnavailable"), "Invalid value: minAvailable and maxUnavailable cannot be both set");
    }
    for key in ["minAvailable", "maxUnavailable"] {
        let (x, xp) = child(spec, &sp, key);
        match x {
            Some(Value::Number(n)) if n.as_i64().is_some_and(|n| n < 0) => {
                out.bad(&xp, format!("Invalid value: {n}: must be greater than or equal to 0"))
            }
            Some(Value::String(s)) => match s.strip_suffix('%').filter(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())) {
                None => out.bad(
                    &xp,
                    format!("Invalid value: \"{s}\": a valid percent string must be a numeric string followed by an ending '%'"),
                ),
                Some(n) if n.parse::<u64>().map_or(true, |n| n > 100) => {
                    out.bad(&xp, format!("Invalid value: \"{s}\": must not be greater than 100%"))
                }
                Some(_) => {}
            },
            _ => {}
        }
    }
    let (sel, selp) = child(spec, &sp, "selector");
    if let Some(s) = sel {
        super::workloads::label_selector(out, s, &selp, "PodDisruptionBudget");
    }
    one_of(out, spec, &sp, "unhealthyPodEvictionPolicy", &["IfHealthyBudget", "AlwaysAllow"]);
}
