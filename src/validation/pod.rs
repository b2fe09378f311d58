//! The pod spec: containers, init containers, ports, env, mounts, volumes,
//! resources and probes (pkg/apis/core/validation/validation.go).

use super::names;
use super::objects::validate_labels;
use super::{child, entries, grammar, int, items, non_negative, one_of, positive, string, unsupported, Issues};
use serde_yaml::Value;

/// The volume sources of core.VolumeSource: a volume names exactly one.
const SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// The value of a resource quantity (a string or a plain number), if it parses.
pub fn quantity_value(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if names::quantity(s).is_none() => crate::quantity::parse(s),
        _ => None,
    }
}

/// ValidatePodSpec. `kind` and `name` say whose spec it is, for the one
/// message podproof has always printed about a pod without containers;
/// `claims` are the StatefulSet's volumeClaimTemplates, which mounts may name.
pub fn pod_spec(out: &mut Issues, spec: Option<&Value>, sp: &str, kind: &str, name: &str, claims: &[&str]) {
    let containers = spec.and_then(|s| s.get("containers")).and_then(Value::as_sequence);
    if containers.is_none_or(|c| c.is_empty()) {
        out.key(super::Problem::Invalid, &format!("{sp}/containers"), format!("{kind} `{name}` has no containers"));
    }
    let mut volumes = volumes(out, spec, sp);
    volumes.extend(claims.iter().map(|c| c.to_string()));
    // validateContainers and validateInitContainers: names are unique across
    // both lists (and ephemeral containers).
    let mut seen: Vec<String> = Vec::new();
    for field in ["initContainers", "containers"] {
        let (list, lp) = child(spec, sp, field);
        let mut host_ports: Vec<(i64, String)> = Vec::new();
        for (cp, c) in items(list, &lp) {
            container(out, c, &cp, &volumes, &mut seen, field == "initContainers");
            // AccumulateUniqueHostPorts: one hostPort/protocol per pod.
            for (pp, port) in items(c.get("ports"), &format!("{cp}/ports")) {
                let Some(h) = int(port.get("hostPort")).filter(|h| *h != 0) else { continue };
                let proto = string(port.get("protocol")).unwrap_or("TCP").to_string();
                if host_ports.contains(&(h, proto.clone())) {
                    out.bad(&format!("{pp}/hostPort"), format!("Duplicate value: \"{h}/{proto}\""));
                }
                host_ports.push((h, proto));
            }
        }
    }
    // validateHostNetwork: with the host's network, a hostPort is the containerPort.
    if spec.and_then(|s| s.get("hostNetwork")).and_then(Value::as_bool) == Some(true) {
        for (cp, c) in items(spec.and_then(|s| s.get("containers")), &format!("{sp}/containers")) {
            for (pp, port) in items(c.get("ports"), &format!("{cp}/ports")) {
                if let (Some(h), Some(cport)) = (int(port.get("hostPort")), int(port.get("containerPort"))) {
                    if h != 0 && h != cport {
                        out.bad(
                            &format!("{pp}/hostPort"),
                            format!("Invalid value: {h}: must match `containerPort` when `hostNetwork` is true"),
                        );
                    }
                }
            }
        }
    }
    one_of(out, spec, sp, "restartPolicy", &["Always", "OnFailure", "Never"]);
    one_of(out, spec, sp, "dnsPolicy", &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]);
    one_of(out, spec, sp, "preemptionPolicy", &["PreemptLowerPriority", "Never"]);
    non_negative(out, spec, sp, "terminationGracePeriodSeconds");
    positive(out, spec, sp, "activeDeadlineSeconds");
    grammar(out, spec, sp, "serviceAccountName", names::dns1123_subdomain);
    grammar(out, spec, sp, "hostname", names::dns1123_label);
    grammar(out, spec, sp, "subdomain", names::dns1123_label);
    let (sel, selp) = child(spec, sp, "nodeSelector");
    validate_labels(out, sel, &selp);
    // ValidatePodSecurityContext: ids are non-negative.
    let (psc, pscp) = child(spec, sp, "securityContext");
    for key in ["runAsUser", "runAsGroup", "fsGroup"] {
        non_negative(out, psc, &pscp, key);
    }
}

/// ValidateVolumes: unique DNS-label names and exactly one source each.
/// Returns the names, for the mounts.
fn volumes(out: &mut Issues, spec: Option<&Value>, sp: &str) -> Vec<String> {
    let mut names_seen: Vec<String> = Vec::new();
    let (list, lp) = child(spec, sp, "volumes");
    for (vp, vol) in items(list, &lp) {
        let (name, np) = child(Some(vol), &vp, "name");
        match string(name) {
            None | Some("") => out.required(&np, ""),
            Some(n) => {
                if let Some(why) = names::dns1123_label(n) {
                    out.bad(&np, format!("Invalid value: \"{n}\": {why}"));
                }
                if names_seen.iter().any(|s| s == n) {
                    out.bad(&np, format!("Duplicate value: \"{n}\""));
                }
                names_seen.push(n.to_string());
            }
        }
        let sources: Vec<&str> =
            SOURCES.iter().copied().filter(|s| vol.get(*s).is_some_and(|x| !x.is_null())).collect();
        // SetDefaults_Volume makes a volume with no source an emptyDir
        // before validation sees it.
        match sources.len() {
            0 | 1 => {}
            _ => out.bad(&format!("{vp}/{}", sources[1]), "Forbidden: may not specify more than 1 volume type"),
        }
        volume_source(out, vol, &vp);
    }
    names_seen
}

/// The checks of the common sources: validateConfigMapVolumeSource,
/// validateSecretVolumeSource, validateHostPathVolumeSource,
/// validatePersistentClaimVolumeSource, validateEmptyDirVolumeSource and
/// validateKeyToPath.
fn volume_source(out: &mut Issues, vol: &Value, vp: &str) {
    for (source, name_key) in [("configMap", "name"), ("secret", "secretName")] {
        let (src, sp) = child(Some(vol), vp, source);
        let Some(src) = src else { continue };
        if string(src.get(name_key)).is_none_or(str::is_empty)
            && src.get("optional").and_then(Value::as_bool) != Some(true)
        {
            out.required(&format!("{sp}/{name_key}"), "");
        }
        file_mode(out, Some(src), &sp, "defaultMode");
        for (ip, item) in items(src.get("items"), &format!("{sp}/items")) {
            let (key, kp) = child(Some(item), &ip, "key");
            if string(key).is_none_or(str::is_empty) {
                out.required(&kp, "");
            }
            relative_path(out, Some(item), &ip, "path", true);
            file_mode(out, Some(item), &ip, "mode");
        }
    }
    let (host, hp) = child(Some(vol), vp, "hostPath");
    if host.is_some() {
        if string(host.and_then(|h| h.get("path"))).is_none_or(str::is_empty) {
            out.required(&format!("{hp}/path"), "");
        }
        one_of(
            out,
            host,
            &hp,
            "type",
            &["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"],
        );
    }
    let (pvc, pp) = child(Some(vol), vp, "persistentVolumeClaim");
    if pvc.is_some() && string(pvc.and_then(|p| p.get("claimName"))).is_none_or(str::is_empty) {
        out.required(&format!("{pp}/claimName"), "");
    }
    let (empty, ep) = child(Some(vol), vp, "emptyDir");
    one_of(out, empty, &ep, "medium", &["", "Memory", "HugePages"]);
    quantity_field(out, empty, &ep, "sizeLimit");
    let (down, dp) = child(Some(vol), vp, "downwardAPI");
    file_mode(out, down, &dp, "defaultMode");
    for (ip, item) in items(down.and_then(|d| d.get("items")), &format!("{dp}/items")) {
        relative_path(out, Some(item), &ip, "path", true);
    }
}

/// A file mode: "must be a number between 0 and 0777 (octal), both inclusive".
fn file_mode(out: &mut Issues, parent: Option<&Value>, ptr: &str, key: &str) {
    let (v, p) = child(parent, ptr, key);
    if let Some(m) = int(v).filter(|m| !(0..=0o777).contains(m)) {
        out.bad(&p, format!("Invalid value: {m}: must be a number between 0 and 0777 (octal), both inclusive"));
    }
}

/// validateLocalDescendingPath: relative, without `..`.
fn relative_path(out: &mut Issues, parent: Option<&Value>, ptr: &str, key: &str, required: bool) {
    let (v, p) = child(parent, ptr, key);
    match string(v) {
        None | Some("") if required => out.required(&p, ""),
        None | Some("") => {}
        Some(s) => {
            if s.starts_with('/') {
                out.bad(&p, format!("Invalid value: \"{s}\": must be a relative path"));
            }
            if s.split('/').any(|seg| seg == "..") {
                out.bad(&p, format!("Invalid value: \"{s}\": must not contain '..'"));
            }
        }
    }
}

/// validateContainers, validateInitContainers and validateContainerCommon.
fn container(out: &mut Issues, c: &Value, cp: &str, volumes: &[String], seen: &mut Vec<String>, init: bool) {
    let (name, np) = child(Some(c), cp, "name");
    match string(name) {
        None => out.value(super::Problem::Invalid, &np, "a container needs a `name`"),
        Some(n) => {
            if let Err(e) = super::names::container_name(n) {
                out.value(super::Problem::Invalid, &np, e);
            } else if seen.iter().any(|s| s == n) {
                out.bad(
                    &np,
                    format!(
                        "Duplicate value: \"{n}\": container names are unique across containers and initContainers"
                    ),
                );
            }
            seen.push(n.to_string());
        }
    }
    let (image, ip) = child(Some(c), cp, "image");
    match string(image) {
        None | Some("") => out.required(&ip, ""),
        Some(i) => {
            if let Some(why) = names::image(i) {
                let msg = super::schema::at(&ip, &format!("Invalid value: \"{i}\": {why}"));
                out.value(super::Problem::ImageReference, &ip, msg);
            }
        }
    }
    one_of(out, Some(c), cp, "imagePullPolicy", &["Always", "IfNotPresent", "Never"]);
    one_of(out, Some(c), cp, "terminationMessagePolicy", &["File", "FallbackToLogsOnError"]);
    if init {
        one_of(out, Some(c), cp, "restartPolicy", &["Always"]);
    }
    ports(out, c, cp);
    env(out, c, cp);
    mounts(out, c, cp, volumes);
    resources(out, c.get("resources"), &format!("{cp}/resources"));
    for (probe, liveness) in [("livenessProbe", true), ("readinessProbe", false), ("startupProbe", true)] {
        let (p, pp) = child(Some(c), cp, probe);
        if p.is_some() {
            validate_probe(out, p, &pp, liveness);
        }
    }
    let (lc, lp) = child(Some(c), cp, "lifecycle");
    for hook in ["postStart", "preStop"] {
        let (h, hp) = child(lc, &lp, hook);
        if h.is_some() {
            handler(out, h, &hp, &["exec", "httpGet", "tcpSocket", "sleep"]);
        }
    }
    let (sc, scp) = child(Some(c), cp, "securityContext");
    for key in ["runAsUser", "runAsGroup"] {
        non_negative(out, sc, &scp, key);
    }
    one_of(out, sc, &scp, "procMount", &["Default", "Unmasked"]);
}

/// validateContainerPorts: the port range, unique IANA names, the protocol.
fn ports(out: &mut Issues, c: &Value, cp: &str) {
    let mut seen: Vec<&str> = Vec::new();
    for (pp, port) in items(c.get("ports"), &format!("{cp}/ports")) {
        let (name, np) = child(Some(port), &pp, "name");
        if let Some(n) = string(name) {
            if let Some(why) = names::port_name(n) {
                out.port_name(&np, format!("Invalid value: \"{n}\": {why}"));
            } else if seen.contains(&n) {
                out.bad(&np, format!("Duplicate value: \"{n}\""));
            }
            seen.push(n);
        }
        let (number, cpp) = child(Some(port), &pp, "containerPort");
        match int(number) {
            None if number.is_none() => out.required(&cpp, ""),
            Some(n) => {
                if let Some(why) = names::port_number(n) {
                    out.bad(&cpp, format!("Invalid value: {n}: {why}"));
                }
            }
            None => {}
        }
        let (host, hp) = child(Some(port), &pp, "hostPort");
        if let Some(h) = int(host).filter(|h| *h != 0) {
            if let Some(why) = names::port_number(h) {
                out.bad(&hp, format!("Invalid value: {h}: {why}"));
            }
        }
        one_of(out, Some(port), &pp, "protocol", &["TCP", "UDP", "SCTP"]);
    }
}

/// ValidateEnv and ValidateEnvFrom.
fn env(out: &mut Issues, c: &Value, cp: &str) {
    for (ep, var) in items(c.get("env"), &format!("{cp}/env")) {
        let (name, np) = child(Some(var), &ep, "name");
        match string(name) {
            None | Some("") => out.required(&np, ""),
            Some(n) => {
                if let Some(why) = names::env_var_name(n) {
                    out.bad(&np, format!("Invalid value: \"{n}\": {why}"));
                }
            }
        }
        let (from, fp) = child(Some(var), &ep, "valueFrom");
        let Some(from) = from else { continue };
        if string(var.get("value")).is_some_and(|v| !v.is_empty()) {
            out.bad(&fp, "Invalid value: may not be specified when `value` is not empty");
        }
        let refs: Vec<&str> = ["fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"]
            .into_iter()
            .filter(|k| from.get(*k).is_some_and(|x| !x.is_null()))
            .collect();
        match refs.len() {
            0 => out.bad(&fp, "Invalid value: must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"),
            1 => {}
            _ => out.bad(&fp, "Invalid value: may not have more than one field specified at a time"),
        }
        for sel in ["configMapKeyRef", "secretKeyRef"] {
            let (s, sp) = child(Some(from), &fp, sel);
            if s.is_none() {
                continue;
            }
            let (key, kp) = child(s, &sp, "key");
            match string(key) {
                None | Some("") => out.required(&kp, ""),
                Some(k) => {
                    if let Some(why) = names::config_map_key(k) {
                        out.bad(&kp, format!("Invalid value: \"{k}\": {why}"));
                    }
                }
            }
            if string(s.and_then(|s| s.get("name"))).is_none_or(str::is_empty) {
                out.required(&format!("{sp}/name"), "");
            }
        }
        let (field, frp) = child(Some(from), &fp, "fieldRef");
        if field.is_some() && string(field.and_then(|f| f.get("fieldPath"))).is_none_or(str::is_empty) {
            out.required(&format!("{frp}/fieldPath"), "");
        }
        let (res, rp) = child(Some(from), &fp, "resourceFieldRef");
        if res.is_some() && string(res.and_then(|f| f.get("resource"))).is_none_or(str::is_empty) {
            out.required(&format!("{rp}/resource"), "");
        }
    }
    for (ep, from) in items(c.get("envFrom"), &format!("{cp}/envFrom")) {
        grammar(out, Some(from), &ep, "prefix", names::env_var_name);
        let refs: Vec<&str> =
            ["configMapRef", "secretRef"].into_iter().filter(|k| from.get(*k).is_some_and(|x| !x.is_null())).collect();
        match refs.len() {
            0 => out.bad(&ep, "Invalid value: must specify one of: `configMapRef` or `secretRef`"),
            1 => {
                let (r, rp) = child(Some(from), &ep, refs[0]);
                if string(r.and_then(|r| r.get("name"))).is_none_or(str::is_empty) {
                    out.required(&format!("{rp}/name"), "");
                }
            }
            _ => out.bad(&ep, "Invalid value: may not have more than one field specified at a time"),
        }
    }
}

/// ValidateVolumeMounts: every mount names a volume, unique mountPaths, a
/// relative subPath.
fn mounts(out: &mut Issues, c: &Value, cp: &str, volumes: &[String]) {
    let mut paths: Vec<&str> = Vec::new();
    for (mp, m) in items(c.get("volumeMounts"), &format!("{cp}/volumeMounts")) {
        let (name, np) = child(Some(m), &mp, "name");
        let n = string(name).unwrap_or("");
        if n.is_empty() {
            out.required(&np, "");
        } else if !volumes.iter().any(|v| v == n) {
            out.bad(&np, format!("Not found: \"{n}\": no volume of the pod has this name"));
        }
        match string(m.get("mountPath")) {
            None | Some("") => out.key(super::Problem::Invalid, &mp, format!("volume mount `{n}` needs a `mountPath`")),
            Some(p) => {
                if paths.contains(&p) {
                    out.bad(&format!("{mp}/mountPath"), format!("Invalid value: \"{p}\": must be unique"));
                }
                paths.push(p);
            }
        }
        relative_path(out, Some(m), &mp, "subPath", false);
        one_of(out, Some(m), &mp, "mountPropagation", &["None", "HostToContainer", "Bidirectional"]);
    }
}

/// A resource quantity field: the grammar, and non-negative.
fn quantity_field(out: &mut Issues, parent: Option<&Value>, ptr: &str, key: &str) -> Option<f64> {
    let (v, p) = child(parent, ptr, key);
    let v = v?;
    if let Value::String(s) = v {
        if let Some(why) = names::quantity(s) {
            out.bad(&p, format!("Invalid value: \"{s}\": quantities {why}"));
            return None;
        }
    }
    let q = quantity_value(v)?;
    if q < 0.0 {
        out.bad(&p, "Invalid value: must be greater than or equal to 0 (ValidateResourceQuantityValue)");
    }
    Some(q)
}

/// ValidateResourceRequirements: resource names, quantities, requests ≤ limits.
pub fn resources(out: &mut Issues, r: Option<&Value>, rp: &str) {
    let mut limits: Vec<(&str, f64, String)> = Vec::new();
    for field in ["limits", "requests"] {
        let (map, mp) = child(r, rp, field);
        for (p, k, _) in entries(map, &mp) {
            // validateContainerResourceName: standard names or fully qualified ones.
            let standard = matches!(k, "cpu" | "memory" | "ephemeral-storage") || k.starts_with("hugepages-");
            if !standard && (!k.contains('/') || names::qualified_name(k).is_some()) {
                out.key(
                    super::Problem::Invalid,
                    &p,
                    super::schema::at(
                        &mp,
                        &format!("Invalid value: \"{k}\": must be a standard resource type or fully qualified"),
                    ),
                );
            }
            let Some(q) = quantity_field(out, map, &mp, k) else { continue };
            if field == "limits" {
                limits.push((k, q, map.and_then(|m| m.get(k)).map(show).unwrap_or_default()));
            } else if let Some((_, lim, shown)) = limits.iter().find(|(lk, _, _)| *lk == k) {
                if q > *lim {
                    let req = map.and_then(|m| m.get(k)).map(show).unwrap_or_default();
                    out.bad(
                        &p,
                        format!("Invalid value: \"{req}\": must be less than or equal to {k} limit of {shown}"),
                    );
                }
            }
        }
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// validateProbe: exactly one handler and non-negative fields; liveness and
/// startup probes need successThreshold 1.
fn validate_probe(out: &mut Issues, p: Option<&Value>, pp: &str, liveness: bool) {
    handler(out, p, pp, &["exec", "httpGet", "tcpSocket", "grpc"]);
    for key in ["initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"] {
        non_negative(out, p, pp, key);
    }
    positive(out, p, pp, "terminationGracePeriodSeconds");
    let (st, stp) = child(p, pp, "successThreshold");
    if let Some(n) = int(st).filter(|n| liveness && *n != 1) {
        out.bad(&stp, format!("Invalid value: {n}: must be 1"));
    }
}

/// validateHandler: exactly one of `kinds`, each with what it needs.
fn handler(out: &mut Issues, h: Option<&Value>, hp: &str, kinds: &[&str]) {
    let set: Vec<&str> =
        kinds.iter().copied().filter(|k| h.and_then(|h| h.get(*k)).is_some_and(|x| !x.is_null())).collect();
    match set.len() {
        0 => out.required(hp, ": must specify a handler type"),
        1 => {}
        _ => out.bad(&format!("{hp}/{}", set[1]), "Forbidden: may not specify more than 1 handler type"),
    }
    let (exec, ep) = child(h, hp, "exec");
    if exec.is_some() && exec.and_then(|e| e.get("command")).and_then(Value::as_sequence).is_none_or(|c| c.is_empty()) {
        out.required(&format!("{ep}/command"), "");
    }
    for k in ["httpGet", "tcpSocket"] {
        let (x, xp) = child(h, hp, k);
        if x.is_none() {
            continue;
        }
        let (port, pp) = child(x, &xp, "port");
        if port.is_none() {
            out.required(&pp, "");
        }
        int_or_port_name(out, port, &pp);
        if k == "httpGet" {
            one_of(out, x, &xp, "scheme", &["HTTP", "HTTPS"]);
        }
    }
    let (grpc, gp) = child(h, hp, "grpc");
    let (port, pp) = child(grpc, &gp, "port");
    if let Some(n) = int(port) {
        if let Some(why) = names::port_number(n) {
            out.bad(&pp, format!("Invalid value: {n}: {why}"));
        }
    }
    let (sleep, sp) = child(h, hp, "sleep");
    non_negative(out, sleep, &sp, "seconds");
}

/// An IntOrString port: a number from 1 to 65535 or an IANA port name
/// (ValidatePortNumOrName).
pub fn int_or_port_name(out: &mut Issues, v: Option<&Value>, p: &str) {
    match v {
        Some(Value::Number(n)) => {
            if let Some(why) = n.as_i64().and_then(names::port_number) {
                out.bad(p, format!("Invalid value: {n}: {why}"));
            }
        }
        Some(Value::String(s)) => {
            if let Some(why) = names::port_name(s) {
                out.port_name(p, format!("Invalid value: \"{s}\": {why}"));
            }
        }
        _ => {}
    }
}

/// Pod template restart policies of each workload kind: field.NotSupported.
pub fn restart_policy(out: &mut Issues, spec: Option<&Value>, sp: &str, allowed: &[&str], default: &str) {
    let (v, p) = child(spec, sp, "restartPolicy");
    let got = string(v).unwrap_or(default);
    if !allowed.contains(&got) {
        out.bad(&p, unsupported(got, allowed));
    }
}
