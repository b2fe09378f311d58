//! The podman flavour: Pods that `podman kube play` (4.3 and later) runs the
//! way a cluster would run them.
//!
//! What changes against the input, and why:
//! - one Pod per member, named `<app>-<role>-<index>` (or the Pod's own name),
//!   with `hostname` and podproof labels;
//! - ConfigMap and Secret volumes become hostPath directories that podproof
//!   fills in the kubelet's `..data` layout and can update in place (podman
//!   copies ConfigMaps once and panics on Secret volumes in 4.3); they, and
//!   projected and downwardAPI volumes, are mounted read-only, as a cluster
//!   mounts them;
//! - env from ConfigMaps/Secrets is written in, since podman cannot read them;
//! - relative hostPaths resolve against the manifest's directory (podman #17278);
//! - `subPath` on hostPath volumes becomes its own hostPath (4.3 ignores subPath);
//! - containerPorts without a hostPort are dropped: in Kubernetes they publish
//!   nothing, but podman 4.3 to 4.7 publishes each on the same host port, so
//!   two pods (or two parallel runs) with the same port would collide; under
//!   hostNetwork 4.3 refuses ports altogether;
//! - probes and lifecycle hooks are removed: podproof performs them itself,
//!   without curl or nc in the image;
//! - per-member claims become PVCs named `<claim>-<pod>`;
//! - init containers stay in the rendered pod, but at play time podproof runs
//!   them itself (`podman run --rm --pod`) before starting the app containers:
//!   podman 4.3 waits about 20 s on each one and may then fail to remove it.
//!
//! What of this a cluster would do differently (liveness probes removed and
//! not performed, `imagePullPolicy: Always` played as IfNotPresent, the fake
//! serviceAccountToken) is a row of `crate::fidelity::FIELDS`, the table every
//! run's ledger and lint's `podman-ignored-field` read: change both together.

use super::{
    env, label_meta, member_labels, run_name, Object, Options, PartSource, ProjectedPart, Projection, ProjectionSource,
    Rendered,
};
use crate::app::{App, Role};
use crate::error::Diagnostic;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn render(app: &App, opts: &Options) -> Rendered {
    let mut out = Rendered::empty(&app.name);
    let run = opts.run.as_ref();
    for claim in &app.claims {
        let mut c = claim.clone();
        c.metadata.name = c.metadata.name.as_deref().map(|n| run_name(n, run));
        c.metadata.namespace = None;
        label_meta(&mut c.metadata, &app.name, run);
        out.objects.push(Object::Claim(c));
    }
    for role in &app.roles {
        for i in 0..role.members {
            let member = role.member_name(i);
            let before = out.diagnostics.len();
            match member_pod(app, role, &member, opts, &mut out) {
                Ok(pod) => out.objects.push(Object::Pod(Box::new(pod))),
                // A located diagnostic was pushed already (a refused hostPath).
                Err(_) if out.diagnostics[before..].iter().any(|d| d.is_error()) => {}
                Err(e) => {
                    let (file, at) = match &role.origin {
                        Some(o) => (o.file.clone(), Some((o.line, o.column))),
                        None => (input_name(app), None),
                    };
                    out.diagnostics.push(Diagnostic::error(file, at, format!("pod `{member}`: {e}")))
                }
            }
        }
    }
    out
}

fn input_name(app: &App) -> String {
    app.inputs.first().map(|i| i.name.clone()).unwrap_or_else(|| app.name.clone())
}

/// Renders the pod of one member. Claims it needs are pushed to `out` first.
pub fn member_pod(
    app: &App,
    role: &Role,
    member: &str,
    opts: &Options,
    out: &mut Rendered,
) -> Result<core::Pod, String> {
    let run = opts.run.as_ref();
    let pod_name = run_name(member, run);
    let mut meta = role.template.metadata.clone().unwrap_or_default();
    let mut spec = role.template.spec.clone().unwrap_or_default();
    meta.name = Some(pod_name.clone());
    meta.namespace = None;
    meta.generate_name = None;
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    labels.extend(member_labels(&app.name, &role.name, member, run));

    // Per-member claims, like a StatefulSet's volumeClaimTemplates.
    let mut volumes = spec.volumes.take().unwrap_or_default();
    for tmpl in &role.claim_templates {
        let tname = tmpl.metadata.name.clone().unwrap_or_default();
        let claim_name = run_name(&format!("{tname}-{member}"), run);
        let mut c = tmpl.clone();
        c.metadata =
            ObjectMeta { name: Some(claim_name.clone()), labels: tmpl.metadata.labels.clone(), ..Default::default() };
        label_meta(&mut c.metadata, &app.name, run);
        out.objects.push(Object::Claim(c));
        volumes.retain(|v| v.name != tname);
        volumes.push(core::Volume {
            name: tname,
            persistent_volume_claim: Some(core::PersistentVolumeClaimVolumeSource { claim_name, read_only: None }),
            ..Default::default()
        });
    }

    // The downward API sees the labels the user wrote, not podproof's own.
    let mut user_meta = role.template.metadata.clone().unwrap_or_default();
    if user_meta.namespace.is_none() {
        user_meta.namespace = role.workload.as_ref().and_then(|w| w.namespace.clone());
    }
    let mut facts = env::PodFacts::of(member, &user_meta, &spec);
    facts.addresses = opts.addresses.clone();
    let pod_dir = opts.volume_root.join(&pod_name);
    let mut new_volumes = Vec::new();
    let before = out.diagnostics.len();
    for v in volumes {
        new_volumes.push(volume(app, &v, &pod_name, &pod_dir, &facts, opts, out)?);
    }
    // The kubelet hands every volume it makes to the pod's fsGroup.
    let fs_group = spec.security_context.as_ref().and_then(|s| s.fs_group);
    for p in out.projections.iter_mut().filter(|p| p.pod == pod_name) {
        p.fs_group = fs_group;
    }
    // Notes about volumes belong to the file that defines the workload.
    for d in &mut out.diagnostics[before..] {
        d.message = format!("pod `{member}`: {}", d.message);
        match &role.origin {
            Some(o) => (d.file, d.at) = (o.file.clone(), Some((o.line, o.column))),
            None => d.file = input_name(app),
        }
    }

    // subPath: 4.3 ignores it, so mount the sub-directory as its own volume.
    let host_net = spec.host_network == Some(true);
    let mut extra = Vec::new();
    let all = spec.init_containers.iter_mut().flatten().chain(spec.containers.iter_mut());
    for c in all {
        env::resolve(app, c, &facts, opts.reveal_secrets)?;
        c.readiness_probe = None;
        c.liveness_probe = None;
        c.startup_probe = None;
        c.lifecycle = None;
        if host_net {
            c.ports = None;
        } else if let Some(ports) = c.ports.take() {
            let kept: Vec<_> = ports.into_iter().filter(|p| p.host_port.is_some()).collect();
            c.ports = (!kept.is_empty()).then_some(kept);
        }
        match c.image_pull_policy.as_deref() {
            Some("Never") => {}
            // Nothing can be pulled here; a missing image is built or reported before play.
            _ => c.image_pull_policy = Some("IfNotPresent".into()),
        }
        for m in c.volume_mounts.iter_mut().flatten() {
            // Kubernetes refuses a mount of a volume the pod does not define;
            // podman would fail later and less clearly.
            let Some(vol) = new_volumes.iter().find(|v| v.name == m.name) else {
                return Err(format!("container `{}` mounts volume `{}`, which is not defined", c.name, m.name));
            };
            // A cluster mounts ConfigMap, Secret, projected and downwardAPI
            // volumes read-only, whatever the mount says; here the same keeps
            // the pod from writing into a directory that podproof updates.
            if is_config_volume(out, &pod_name, &vol.name) {
                m.read_only = Some(true);
            }
            let Some(sub) = m.sub_path.take().filter(|s| !s.is_empty()) else { continue };
            let Some(hp) = &vol.host_path else {
                m.sub_path = Some(sub);
                continue;
            };
            if sub.starts_with('/') || sub.split('/').any(|s| s == "..") {
                return Err(format!(
                    "container `{}`: subPath `{sub}` must be relative and stay inside the volume",
                    c.name
                ));
            }
            let name = format!("{}-{}", m.name, crate::app::dns_label(&sub));
            let path = format!("{}/{}", hp.path.trim_end_matches('/'), sub);
            if !extra.iter().any(|v: &core::Volume| v.name == name) {
                // A projected volume's subPath is a single file; anything else a directory.
                let kind = if vol.host_path.as_ref().and_then(|h| h.type_.as_deref()) == Some("Directory")
                    && is_projection(out, &pod_name, &vol.name)
                {
                    None
                } else {
                    if hp.path.starts_with('/') || hp.path.starts_with("./") {
                        out.host_dirs.push(host_path_abs(app, opts, &path));
                    }
                    Some("DirectoryOrCreate".to_string())
                };
                extra.push(core::Volume {
                    name: name.clone(),
                    host_path: Some(core::HostPathVolumeSource { path, type_: kind }),
                    ..Default::default()
                });
            }
            m.name = name;
        }
    }
    new_volumes.extend(extra);
    spec.volumes = (!new_volumes.is_empty()).then_some(new_volumes);
    // The hostname its controller gives the pod (see `Role::host_names`);
    // under hostNetwork the host's own.
    if !host_net {
        spec.hostname = Some(role.host_names(member).0);
    }
    Ok(core::Pod { metadata: meta, spec: Some(spec), status: None })
}

fn is_projection(out: &Rendered, pod: &str, volume: &str) -> bool {
    out.projections.iter().any(|p| p.pod == pod && p.volume == volume)
}

/// A projection that is not an emptyDir: the pod sees it read-only.
fn is_config_volume(out: &Rendered, pod: &str, volume: &str) -> bool {
    out.projections.iter().any(|p| p.pod == pod && p.volume == volume && p.source != ProjectionSource::Empty)
}

/// Converts one volume; projections and emptyDirs become host directories.
fn volume(
    app: &App,
    v: &core::Volume,
    pod: &str,
    pod_dir: &Path,
    facts: &env::PodFacts,
    opts: &Options,
    out: &mut Rendered,
) -> Result<core::Volume, String> {
    let host = |path: &Path| core::Volume {
        name: v.name.clone(),
        host_path: Some(core::HostPathVolumeSource {
            path: path.display().to_string(),
            type_: Some("Directory".into()),
        }),
        ..Default::default()
    };
    let dir = pod_dir.join(&v.name);
    let items = |items: &Option<Vec<core::KeyToPath>>| -> Vec<(String, String, Option<i32>)> {
        items.iter().flatten().map(|i| (i.key.clone(), i.path.clone(), i.mode)).collect()
    };
    if let Some(cm) = &v.config_map {
        if app.config_map(&cm.name).is_none() && cm.optional != Some(true) {
            return Err(format!("volume `{}` names ConfigMap `{}`, which is not defined", v.name, cm.name));
        }
        out.projections.push(Projection {
            pod: pod.to_string(),
            volume: v.name.clone(),
            host_dir: dir.clone(),
            source: ProjectionSource::ConfigMap(cm.name.clone()),
            items: items(&cm.items),
            default_mode: cm.default_mode.unwrap_or(0o644),
            optional: cm.optional == Some(true),
            fs_group: None,
        });
        return Ok(host(&dir));
    }
    if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        if app.secret(&name).is_none() && s.optional != Some(true) {
            return Err(format!("volume `{}` names Secret `{name}`, which is not defined", v.name));
        }
        out.projections.push(Projection {
            pod: pod.to_string(),
            volume: v.name.clone(),
            host_dir: dir.clone(),
            source: ProjectionSource::Secret(name),
            items: items(&s.items),
            default_mode: s.default_mode.unwrap_or(0o644),
            optional: s.optional == Some(true),
            fs_group: None,
        });
        return Ok(host(&dir));
    }
    if v.empty_dir.is_some() {
        out.projections.push(Projection {
            pod: pod.to_string(),
            volume: v.name.clone(),
            host_dir: dir.clone(),
            source: ProjectionSource::Empty,
            items: Vec::new(),
            default_mode: 0o777,
            optional: false,
            fs_group: None,
        });
        return Ok(host(&dir));
    }
    if let Some(pvc) = &v.persistent_volume_claim {
        let mut v = v.clone();
        let shared = app.claims.iter().any(|c| c.metadata.name.as_deref() == Some(pvc.claim_name.as_str()));
        if shared {
            v.persistent_volume_claim.as_mut().expect("checked above").claim_name =
                run_name(&pvc.claim_name, opts.run.as_ref());
        }
        return Ok(v);
    }
    if let Some(hp) = &v.host_path {
        if let Err(why) = crate::hostpath::check(&app.dir, &hp.path) {
            out.diagnostics.push(crate::hostpath::diagnostic(app, &hp.path, &v.name, &why));
            return Err(why);
        }
        let mut v = v.clone();
        if !hp.path.starts_with('/') {
            let abs = crate::source::normalize(&app.dir.join(&hp.path));
            // A hostPath with no type must exist on a node; locally, make it.
            if hp.type_.as_deref().unwrap_or("").is_empty() || hp.type_.as_deref() == Some("DirectoryOrCreate") {
                out.host_dirs.push(abs.clone());
            }
            v.host_path.as_mut().expect("checked above").path = display_path(&abs, opts);
        }
        return Ok(v);
    }
    if let Some(d) = &v.downward_api {
        let files = downward_files(facts, d.items.as_deref().unwrap_or_default())
            .map_err(|e| format!("volume `{}`: {e}", v.name))?;
        let parts = vec![ProjectedPart { source: PartSource::Files(files), items: Vec::new(), optional: false }];
        return Ok(projected(v, pod, &dir, parts, d.default_mode, out));
    }
    if let Some(pv) = &v.projected {
        let mut parts = Vec::new();
        for s in pv.sources.iter().flatten() {
            // A ConfigMap or Secret part: it must be defined unless it is optional.
            let named = |kind: &str, name: &str, defined: bool, optional: Option<bool>| {
                let optional = optional == Some(true);
                if defined || optional {
                    Ok(optional)
                } else {
                    Err(format!("projected volume `{}` names {kind} `{name}`, which is not defined", v.name))
                }
            };
            if let Some(cm) = &s.config_map {
                let optional = named("ConfigMap", &cm.name, app.config_map(&cm.name).is_some(), cm.optional)?;
                parts.push(ProjectedPart {
                    source: PartSource::ConfigMap(cm.name.clone()),
                    items: items(&cm.items),
                    optional,
                });
            }
            if let Some(sec) = &s.secret {
                let optional = named("Secret", &sec.name, app.secret(&sec.name).is_some(), sec.optional)?;
                parts.push(ProjectedPart {
                    source: PartSource::Secret(sec.name.clone()),
                    items: items(&sec.items),
                    optional,
                });
            }
            if let Some(d) = &s.downward_api {
                let files = downward_files(facts, d.items.as_deref().unwrap_or_default())
                    .map_err(|e| format!("projected volume `{}`: {e}", v.name))?;
                parts.push(ProjectedPart { source: PartSource::Files(files), items: Vec::new(), optional: false });
            }
            if let Some(t) = &s.service_account_token {
                // No API server issues tokens here: the file holds a stand-in
                // that says so, and the run's ledger lists the source
                // (`fidelity::FIELDS`, ProjectedSource `serviceAccountToken`).
                let token = format!(
                    "podproof-fake-token: not a service account token; podproof has no API server (service account `{}`, audience `{}`)\n",
                    facts.service_account,
                    t.audience.clone().unwrap_or_default()
                );
                let mut files = BTreeMap::new();
                files.insert(t.path.clone(), (token.into_bytes(), None));
                parts.push(ProjectedPart { source: PartSource::Files(files), items: Vec::new(), optional: false });
            }
            if s.cluster_trust_bundle.is_some() {
                return Err(format!("projected volume `{}`: clusterTrustBundle sources are not honoured", v.name));
            }
        }
        return Ok(projected(v, pod, &dir, parts, pv.default_mode, out));
    }
    Ok(v.clone())
}

/// Records a projected (or downwardAPI) volume and returns its host directory.
fn projected(
    v: &core::Volume,
    pod: &str,
    dir: &Path,
    parts: Vec<ProjectedPart>,
    mode: Option<i32>,
    out: &mut Rendered,
) -> core::Volume {
    out.projections.push(Projection {
        pod: pod.to_string(),
        volume: v.name.clone(),
        host_dir: dir.to_path_buf(),
        source: ProjectionSource::Projected(parts),
        items: Vec::new(),
        default_mode: mode.unwrap_or(0o644),
        optional: false,
        fs_group: None,
    });
    core::Volume {
        name: v.name.clone(),
        host_path: Some(core::HostPathVolumeSource {
            path: dir.display().to_string(),
            type_: Some("Directory".into()),
        }),
        ..Default::default()
    }
}

/// The files of downwardAPI items, with the kubelet's values.
fn downward_files(facts: &env::PodFacts, items: &[core::DownwardAPIVolumeFile]) -> Result<super::Files, String> {
    let mut files = BTreeMap::new();
    for i in items {
        let value = if let Some(f) = &i.field_ref {
            // Outside a run the file's address is not known yet; the play writes it.
            if facts.addresses.is_none() && env::is_address(&f.field_path) {
                String::new()
            } else {
                env::field_value(facts, &f.field_path)?
            }
        } else if let Some(r) = &i.resource_field_ref {
            env::resource_value(facts, "", r)?
        } else {
            return Err(format!("item `{}` needs fieldRef or resourceFieldRef", i.path));
        };
        files.insert(i.path.clone(), (value.into_bytes(), i.mode));
    }
    Ok(files)
}

fn display_path(abs: &Path, opts: &Options) -> String {
    match &opts.relative_to {
        Some(base) => match abs.strip_prefix(base) {
            Ok(rel) => format!("./{}", rel.display()),
            Err(_) => abs.display().to_string(),
        },
        None => abs.display().to_string(),
    }
}

/// The absolute host path of a rendered hostPath (which may be `./`-relative).
fn host_path_abs(app: &App, opts: &Options, p: &str) -> PathBuf {
    if let Some(rel) = p.strip_prefix("./") {
        return opts.relative_to.clone().unwrap_or_else(|| app.dir.clone()).join(rel);
    }
    PathBuf::from(p)
}

/// The capabilities a container starts with in a cluster when its
/// securityContext adds or drops none: containerd's and CRI-O's default set.
/// podman's own default lacks AUDIT_WRITE, MKNOD and NET_RAW.
pub const CLUSTER_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// A capability as the runtime reads it: upper case, without `CAP_`.
fn cap_name(c: &str) -> String {
    let up = c.to_uppercase();
    up.strip_prefix("CAP_").map(str::to_string).unwrap_or(up)
}

/// The capabilities a cluster's runtime gives a container, said so that
/// podman gives exactly those: containerd's WithCapabilities starts from the
/// default set (from none with `drop: [ALL]`, from all with `add: [ALL]`),
/// then adds `add` and removes `drop`, so a capability both added and dropped
/// is dropped. Everything but `add: [ALL]` becomes `drop: [ALL]` with the
/// resulting set as `add`, which podman's MergeCapabilities takes as it is.
/// A privileged container has every capability and is left alone.
pub fn cluster_capabilities(sc: Option<&core::SecurityContext>) -> Option<core::Capabilities> {
    if sc.and_then(|s| s.privileged) == Some(true) {
        return sc.and_then(|s| s.capabilities.clone());
    }
    let caps = sc.and_then(|s| s.capabilities.clone()).unwrap_or_default();
    let add: Vec<String> = caps.add.iter().flatten().map(|c| cap_name(c)).collect();
    let drop: Vec<String> = caps.drop.iter().flatten().map(|c| cap_name(c)).collect();
    if add.iter().any(|c| c == "ALL") {
        let drop: Vec<String> = drop.into_iter().filter(|c| c != "ALL").collect();
        return Some(core::Capabilities { add: Some(vec!["ALL".into()]), drop: (!drop.is_empty()).then_some(drop) });
    }
    let mut set: std::collections::BTreeSet<String> = if drop.iter().any(|c| c == "ALL") {
        Default::default()
    } else {
        CLUSTER_CAPABILITIES.iter().map(|c| c.to_string()).collect()
    };
    set.extend(add);
    for d in &drop {
        set.remove(d);
    }
    Some(core::Capabilities {
        add: (!set.is_empty()).then(|| set.into_iter().collect()),
        drop: Some(vec!["ALL".into()]),
    })
}

/// What a cluster's container runtime gives every container beyond what the
/// pod says, made explicit for podman: the cluster's default capability set
/// (`cluster_capabilities`), and the groups the kubelet and the runtime add
/// to the process's supplementary groups: `fsGroup` (the kubelet adds it) and
/// the primary group `runAsGroup` (containerd, CRI-O and runc add it since
/// CVE-2023-25173), when every container runs with that group. podman 4.3's
/// kube play applies `supplementalGroups` but neither of these. Applied to the
/// pod as played, not to what `podproof render` prints.
pub fn as_cluster_runtime(pod: &mut core::Pod) {
    let Some(spec) = pod.spec.as_mut() else { return };
    let pod_sc = spec.security_context.clone().unwrap_or_default();
    let all = spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten());
    let mut groups_of = Vec::new();
    for c in all {
        let caps = cluster_capabilities(c.security_context.as_ref());
        let sc = c.security_context.get_or_insert_with(Default::default);
        sc.capabilities = caps;
        groups_of.push(sc.run_as_group.or(pod_sc.run_as_group));
    }
    let mut extra = Vec::new();
    if let Some(g) = pod_sc.fs_group {
        extra.push(g);
    }
    if let Some(Some(g)) = groups_of.first().filter(|g| groups_of.iter().all(|o| o == *g)) {
        extra.push(*g);
    }
    if extra.is_empty() {
        return;
    }
    let sc = spec.security_context.get_or_insert_with(Default::default);
    let groups = sc.supplemental_groups.get_or_insert_with(Vec::new);
    for g in extra {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One case: a container's add and drop lists, and the add list podman
    /// gets (with `drop: [ALL]` unless `add` holds ALL).
    fn check(add: &[&str], drop: &[&str], expect: &[&str], expect_drop: &[&str]) {
        let sc = core::SecurityContext {
            capabilities: Some(core::Capabilities {
                add: Some(add.iter().map(|s| s.to_string()).collect()),
                drop: Some(drop.iter().map(|s| s.to_string()).collect()),
            }),
            ..Default::default()
        };
        let got = cluster_capabilities(Some(&sc)).unwrap();
        assert_eq!(got.add.unwrap_or_default(), expect, "add {add:?} drop {drop:?}");
        assert_eq!(got.drop.unwrap_or_default(), expect_drop, "add {add:?} drop {drop:?}");
    }

    #[test]
    fn capabilities_are_the_clusters() {
        let all: Vec<&str> = CLUSTER_CAPABILITIES.to_vec();
        check(&[], &[], &all, &["ALL"]);
        fn with(extra: &[&'static str]) -> Vec<&'static str> {
            let mut v: Vec<&str> = CLUSTER_CAPABILITIES.iter().copied().chain(extra.iter().copied()).collect();
            v.sort();
            v
        }
        // The docs' capabilities example adds NET_ADMIN and SYS_TIME.
        check(&["NET_ADMIN", "SYS_TIME"], &[], &with(&["NET_ADMIN", "SYS_TIME"]), &["ALL"]);
        check(&[], &["ALL"], &[], &["ALL"]);
        check(&["NET_BIND_SERVICE"], &["ALL"], &["NET_BIND_SERVICE"], &["ALL"]);
        let no_raw: Vec<&str> = all.iter().copied().filter(|c| *c != "NET_RAW").collect();
        check(&[], &["NET_RAW"], &no_raw, &["ALL"]);
        check(&[], &["cap_net_raw"], &no_raw, &["ALL"]);
        // Added and dropped: containerd drops it.
        check(&["SYS_ADMIN"], &["SYS_ADMIN", "NET_RAW"], &no_raw, &["ALL"]);
        check(&["ALL"], &["NET_RAW"], &["ALL"], &["NET_RAW"]);
        let privileged = core::SecurityContext { privileged: Some(true), ..Default::default() };
        assert_eq!(cluster_capabilities(Some(&privileged)), None);
    }

    #[test]
    fn fs_group_and_the_primary_group_join_the_supplementary_groups() {
        let mut pod: core::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {
                "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000, "supplementalGroups": [4000]},
                "containers": [{"name": "c", "image": "i"}]
            }
        }))
        .unwrap();
        as_cluster_runtime(&mut pod);
        let sc = pod.spec.unwrap().security_context.unwrap();
        assert_eq!(sc.supplemental_groups.unwrap(), [4000, 2000, 3000]);
    }
}
