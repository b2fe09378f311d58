//! The cluster flavour: what promotion ships to a real cluster.
//!
//! Each role becomes a StatefulSet when its members need a stable identity
//! (several members, KubeDirector roles, per-member claims, members that the
//! app addresses by name) and a Deployment otherwise, both of which take
//! only restartPolicy Always: a Job stays a Job, and any other role that runs
//! to completion ships as its members' Pods. Every role gets a
//! headless Service for its members and a Service per named port; members the
//! app addresses by name also get a Service of that name, because in a cluster
//! a bare pod name does not resolve as it does on podproof's network. Probes
//! and hooks stay as written. Reload policies become the mechanism that does the
//! same in a cluster (docs/promotion.md). KubeDirector apps are shipped as their
//! original custom resources.

use super::{label_meta, Object, Options, Rendered, LABEL_APP, LABEL_ROLE, SECRET_MASK};
use crate::app::{dns_label, is_dns_label, App, Form, Naming, Role};
use crate::error::Diagnostic;
use crate::reload::{self, Action};
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::batch::v1 as batch;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::ByteString;
use std::collections::{BTreeMap, BTreeSet};

/// The configmap-reload sidecar that performs `http` reload policies.
pub const RELOAD_SIDECAR_IMAGE: &str = "ghcr.io/jimmidyson/configmap-reload:v0.13.1";
/// The busybox image of the sidecar that performs `signal` reload policies.
pub const SIGNAL_SIDECAR_IMAGE: &str = "docker.io/library/busybox:1.36.1";
/// The label the StatefulSet controller puts on each pod, naming it.
const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";

/// What carries out a `signal` policy in a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalReload {
    /// A sidecar in the pod's process namespace sends the signal.
    Sidecar,
    /// stakater Reloader restarts the pods instead.
    Reloader,
}

impl std::str::FromStr for SignalReload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sidecar" => Ok(SignalReload::Sidecar),
            "reloader" => Ok(SignalReload::Reloader),
            _ => Err(format!("unknown signal reload `{s}`: expected sidecar or reloader")),
        }
    }
}

/// How reload policies become cluster mechanisms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reload {
    pub sidecar_image: String,
    pub signal_image: String,
    pub signal: SignalReload,
}

impl Default for Reload {
    fn default() -> Self {
        Reload {
            sidecar_image: RELOAD_SIDECAR_IMAGE.into(),
            signal_image: SIGNAL_SIDECAR_IMAGE.into(),
            signal: SignalReload::Sidecar,
        }
    }
}

pub fn render(app: &App, opts: &Options) -> Rendered {
    render_with(app, opts, &Reload::default())
}

/// Renders the cluster flavour with the given reload mechanisms.
pub fn render_with(app: &App, opts: &Options, reload: &Reload) -> Rendered {
    let mut out = Rendered::empty(&app.name);
    if let (Form::KubeDirector, Some(kd)) = (app.form, &app.kubedirector) {
        out.objects.push(Object::Raw(kd.app_doc.clone()));
        let mut cluster = kd.cluster_doc.clone();
        // Ship the member counts of the state that was tested.
        if let Some(roles) = cluster.get_mut("spec").and_then(|s| s.get_mut("roles")).and_then(|r| r.as_sequence_mut())
        {
            for r in roles {
                let id = r.get("id").and_then(|i| i.as_str()).unwrap_or("").to_string();
                if let (Some(role), Some(m)) = (app.role(&id), r.as_mapping_mut()) {
                    m.insert("members".into(), serde_yaml::Value::from(role.members));
                }
            }
        }
        out.objects.push(Object::Raw(cluster));
        return out;
    }
    for cm in &app.config_maps {
        let mut c = cm.clone();
        label_meta(&mut c.metadata, &app.name, None);
        out.objects.push(Object::ConfigMap(c));
    }
    for s in &app.secrets {
        let mut s = s.clone();
        label_meta(&mut s.metadata, &app.name, None);
        if !opts.reveal_secrets {
            for v in s.data.iter_mut().flat_map(|d| d.values_mut()) {
                *v = ByteString(SECRET_MASK.as_bytes().to_vec());
            }
        }
        out.objects.push(Object::Secret(s));
    }
    for c in &app.claims {
        let mut c = c.clone();
        label_meta(&mut c.metadata, &app.name, None);
        out.objects.push(Object::Claim(c));
    }
    for s in &app.services {
        let mut s = s.clone();
        label_meta(&mut s.metadata, &app.name, None);
        out.objects.push(Object::Service(s));
    }
    let addressed = addressed_members(app);
    for role in &app.roles {
        role_objects(app, role, &addressed, reload, &mut out);
    }
    out
}

fn stable(app: &App, role: &Role, addressed: &BTreeSet<String>) -> bool {
    role.members > 1
        || app.form == Form::KubeDirector
        || !role.claim_templates.is_empty()
        || role.workload.as_ref().is_some_and(|w| w.kind == "StatefulSet")
        || matches!(role.naming, Naming::Indexed(_)) && role.member_names().iter().any(|m| addressed.contains(m))
}

/// The member names (of indexed roles) that the app's containers or config
/// name: peers that find each other by name need those names in a cluster too.
pub fn addressed_members(app: &App) -> BTreeSet<String> {
    let mut texts: Vec<&str> = Vec::new();
    for role in &app.roles {
        let spec = role.template.spec.as_ref();
        for c in spec.iter().flat_map(|s| s.init_containers.iter().flatten().chain(&s.containers)) {
            texts.extend(c.command.iter().chain(&c.args).flatten().map(String::as_str));
            texts.extend(c.env.iter().flatten().filter_map(|e| e.value.as_deref()));
        }
    }
    texts.extend(app.config_maps.iter().flat_map(|c| c.data.iter().flatten()).map(|(_, v)| v.as_str()));
    app.roles
        .iter()
        .filter(|r| matches!(r.naming, Naming::Indexed(_)))
        .flat_map(|r| r.member_names())
        .filter(|m| texts.iter().any(|t| mentions(t, m)))
        .collect()
}

/// Whether `text` holds `name` as a whole host name (not part of a longer one).
fn mentions(text: &str, name: &str) -> bool {
    let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-');
    text.match_indices(name)
        .any(|(i, _)| !part(text[..i].chars().next_back()) && !part(text[i + name.len()..].chars().next()))
}

/// Outside a StatefulSet there are no volumeClaimTemplates: each of the
/// role's becomes a claim of `owner`'s own (`<volume>-<owner>`, as a
/// StatefulSet names its members' claims), mounted under the volume's name.
fn own_claims(
    app: &App,
    role: &Role,
    namespace: Option<&str>,
    owner: &str,
    template: &mut core::PodTemplateSpec,
    out: &mut Rendered,
) {
    for c in &role.claim_templates {
        let volume = c.metadata.name.clone().unwrap_or_default();
        let claim_name = format!("{volume}-{owner}");
        let mut pvc = c.clone();
        pvc.metadata.name = Some(claim_name.clone());
        pvc.metadata.namespace = namespace.map(str::to_string);
        label_meta(&mut pvc.metadata, &app.name, None);
        out.objects.push(Object::Claim(pvc));
        template.spec.get_or_insert_with(Default::default).volumes.get_or_insert_with(Vec::new).push(core::Volume {
            name: volume,
            persistent_volume_claim: Some(core::PersistentVolumeClaimVolumeSource { claim_name, read_only: None }),
            ..Default::default()
        });
    }
}

/// A Job of the rendered template, with the Job's own fields as written.
fn job(meta: ObjectMeta, written: Option<serde_yaml::Value>, template: core::PodTemplateSpec) -> batch::Job {
    // The template is required in a JobSpec; the rendered one replaces the placeholder.
    let mut fields = written.and_then(|v| v.as_mapping().cloned()).unwrap_or_default();
    fields.insert("template".into(), serde_yaml::Value::Mapping(Default::default()));
    let mut spec: batch::JobSpec = serde_yaml::from_value(serde_yaml::Value::Mapping(fields)).unwrap_or_default();
    spec.template = template;
    batch::Job { metadata: meta, spec: Some(spec), status: None }
}

fn workload_name(role: &Role) -> String {
    match &role.naming {
        Naming::Single(n) | Naming::Indexed(n) => n.clone(),
    }
}

fn role_objects(app: &App, role: &Role, addressed: &BTreeSet<String>, reload: &Reload, out: &mut Rendered) {
    let name = workload_name(role);
    let selector: BTreeMap<String, String> =
        [(LABEL_APP.to_string(), app.name.clone()), (LABEL_ROLE.to_string(), dns_label(&role.name))]
            .into_iter()
            .collect();
    let mut template = role.template.clone();
    let tmeta = template.metadata.get_or_insert_with(ObjectMeta::default);
    tmeta.labels.get_or_insert_with(BTreeMap::new).extend(selector.clone());
    let spec = template.spec.get_or_insert_with(Default::default);
    // A cluster pulls images; `Never` only made sense on the machine that built them.
    for c in spec.init_containers.iter_mut().flatten().chain(spec.containers.iter_mut()) {
        if c.image_pull_policy.as_deref() == Some("Never") {
            c.image_pull_policy = Some("IfNotPresent".into());
        }
    }
    let ports = role_ports(spec);
    let mut annotations = BTreeMap::new();
    if let Some(policy) = &role.reload {
        let file = app.inputs.first().map(|i| i.name.clone()).unwrap_or_default();
        if let Err(e) = wire_reload(policy, spec, &mut annotations, reload) {
            out.diagnostics.push(Diagnostic::warning(file, None, format!("role `{}`: {e}", role.name)));
        }
    }
    let user = app.services.iter().find(|s| s.metadata.name.as_deref() == Some(name.as_str()));
    let headless = match user {
        // The app's own headless Service of that name already names the members.
        Some(s) if s.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None") => None,
        Some(_) => Some(format!("{name}-headless")),
        None => Some(name.clone()),
    };
    // A Pod's namespace is in its template; the role's objects stay together in it.
    let namespace = template.metadata.as_ref().and_then(|m| m.namespace.clone());
    let mut meta = ObjectMeta { name: Some(name.clone()), namespace: namespace.clone(), ..Default::default() };
    label_meta(&mut meta, &app.name, None);
    meta.annotations = (!annotations.is_empty()).then_some(annotations);
    let label_selector = LabelSelector { match_labels: Some(selector.clone()), ..Default::default() };
    let identity = stable(app, role, addressed);
    let kind = role.workload.as_ref().map(|w| w.kind.as_str());
    let always = template.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always") == "Always";
    if kind == Some("Job") {
        // A Job stays a Job, with its own fields as written: a Deployment or
        // StatefulSet runs its pods forever and takes only restartPolicy Always.
        own_claims(app, role, namespace.as_deref(), &name, &mut template, out);
        out.objects.push(Object::Job(Box::new(job(
            meta,
            role.workload.as_ref().and_then(|w| w.job.clone()),
            template,
        ))));
    } else if !always {
        // Any other role that runs to completion (a Pod, an App role) ships
        // as the pods podproof ran, one per member with its name and the
        // template's labels, which the role's Services select.
        for member in role.member_names() {
            let mut t = template.clone();
            own_claims(app, role, namespace.as_deref(), &member, &mut t, out);
            let mut pod_meta = t.metadata.take().unwrap_or_default();
            pod_meta.name = Some(member);
            pod_meta.namespace = namespace.clone();
            label_meta(&mut pod_meta, &app.name, None);
            if let Some(a) = &meta.annotations {
                pod_meta.annotations.get_or_insert_with(BTreeMap::new).extend(a.clone());
            }
            out.objects.push(Object::Pod(Box::new(core::Pod { metadata: pod_meta, spec: t.spec, status: None })));
        }
    } else if identity {
        out.objects.push(Object::StatefulSet(Box::new(apps::StatefulSet {
            metadata: meta,
            spec: Some(apps::StatefulSetSpec {
                replicas: Some(role.members as i32),
                service_name: Some(headless.clone().unwrap_or_else(|| name.clone())),
                selector: label_selector,
                template,
                volume_claim_templates: (!role.claim_templates.is_empty()).then(|| role.claim_templates.clone()),
                ..Default::default()
            }),
            status: None,
        })));
    } else {
        out.objects.push(Object::Deployment(Box::new(apps::Deployment {
            metadata: meta,
            spec: Some(apps::DeploymentSpec {
                replicas: Some(role.members as i32),
                selector: label_selector,
                template,
                ..Default::default()
            }),
            status: None,
        })));
    }
    let member_ports: Vec<core::ServicePort> = ports.iter().map(|p| service_port(p, None)).collect();
    let mut taken: BTreeSet<String> = app.services.iter().filter_map(|s| s.metadata.name.clone()).collect();
    taken.insert(name.clone());
    if let Some(h) = &headless {
        out.objects.push(headless_service(app, namespace.as_deref(), h, selector.clone(), &member_ports));
        taken.insert(h.clone());
    }
    if identity && matches!(role.naming, Naming::Indexed(_)) {
        for m in role.member_names().into_iter().filter(|m| addressed.contains(m) && !taken.contains(m)) {
            let sel = [(POD_NAME_LABEL.to_string(), m.clone())].into_iter().collect();
            out.objects.push(headless_service(app, namespace.as_deref(), &m, sel, &member_ports));
        }
    }
    // The app's own Services decide how a role it selects is exposed.
    let exposed = app.services.iter().any(|s| {
        let sel = s.spec.as_ref().and_then(|s| s.selector.clone()).unwrap_or_default();
        !sel.is_empty()
            && sel.iter().all(|(k, v)| {
                role.template.metadata.as_ref().and_then(|m| m.labels.as_ref()).and_then(|l| l.get(k)) == Some(v)
            })
    });
    for p in ports.iter().filter(|_| !exposed) {
        let Some(port) = &p.name else { continue };
        let svc = format!("{name}-{port}");
        if !is_dns_label(&svc) {
            let file = app.inputs.first().map(|i| i.name.clone()).unwrap_or_default();
            out.diagnostics.push(Diagnostic::warning(
                file,
                None,
                format!("no Service for port `{port}` of role `{}`: `{svc}` is not a valid Service name", role.name),
            ));
            continue;
        }
        if taken.insert(svc.clone()) {
            let spec = core::ServiceSpec {
                selector: Some(selector.clone()),
                ports: Some(vec![service_port(p, Some(IntOrString::String(port.clone())))]),
                ..Default::default()
            };
            out.objects.push(service(app, namespace.as_deref(), &svc, spec));
        }
    }
}

/// The ports of a role's containers, once each.
fn role_ports(spec: &core::PodSpec) -> Vec<core::ContainerPort> {
    let mut v: Vec<core::ContainerPort> = Vec::new();
    for p in spec.containers.iter().flat_map(|c| c.ports.iter().flatten()) {
        if !v.iter().any(|q| q.container_port == p.container_port && q.protocol == p.protocol) {
            v.push(p.clone());
        }
    }
    v
}

fn service_port(p: &core::ContainerPort, target: Option<IntOrString>) -> core::ServicePort {
    let proto = p.protocol.clone().unwrap_or_else(|| "TCP".into());
    core::ServicePort {
        name: Some(p.name.clone().unwrap_or_else(|| format!("{}-{}", proto.to_ascii_lowercase(), p.container_port))),
        port: p.container_port,
        target_port: target,
        protocol: p.protocol.clone(),
        ..Default::default()
    }
}

/// A headless Service: DNS names for pods, published before they are ready,
/// as podproof's network names them from the start.
fn headless_service(
    app: &App,
    namespace: Option<&str>,
    name: &str,
    selector: BTreeMap<String, String>,
    ports: &[core::ServicePort],
) -> Object {
    let spec = core::ServiceSpec {
        cluster_ip: Some("None".into()),
        selector: Some(selector),
        ports: (!ports.is_empty()).then(|| ports.to_vec()),
        publish_not_ready_addresses: Some(true),
        ..Default::default()
    };
    service(app, namespace, name, spec)
}

fn service(app: &App, namespace: Option<&str>, name: &str, spec: core::ServiceSpec) -> Object {
    let mut meta =
        ObjectMeta { name: Some(name.to_string()), namespace: namespace.map(str::to_string), ..Default::default() };
    label_meta(&mut meta, &app.name, None);
    Object::Service(core::Service { metadata: meta, spec: Some(spec), status: None })
}

/// Wires a reload policy into a pod spec and its workload's annotations.
fn wire_reload(
    policy: &reload::Policy,
    spec: &mut core::PodSpec,
    annotations: &mut BTreeMap<String, String>,
    r: &Reload,
) -> Result<(), String> {
    let sidecar = match &policy.action {
        Action::Watch => return Ok(()),
        Action::Signal(_) if r.signal == SignalReload::Sidecar => "signal-reload",
        Action::Http { .. } => "configmap-reload",
        Action::Restart | Action::Signal(_) => {
            reloader_annotations(spec, annotations);
            return Ok(());
        }
    };
    let action = &policy.action;
    if spec.containers.iter().any(|c| c.name == sidecar) {
        return Err(format!(
            "reload policy `{action}` needs a sidecar named `{sidecar}`, but a container has that name"
        ));
    }
    let mounts = reloaded_mounts(spec, policy.container.as_deref());
    if mounts.is_empty() {
        return Err(format!(
            "reload policy `{action}`, but no container mounts a ConfigMap or Secret volume; nothing to reload"
        ));
    }
    let dirs: Vec<&str> = mounts.iter().map(|m| m.mount_path.as_str()).collect();
    let mut c = core::Container {
        name: sidecar.into(),
        volume_mounts: Some(mounts.clone()),
        resources: Some(core::ResourceRequirements {
            requests: Some(quantities(&[("cpu", "10m"), ("memory", "16Mi")])),
            limits: Some(quantities(&[("cpu", "50m"), ("memory", "32Mi")])),
            ..Default::default()
        }),
        security_context: Some(core::SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    match action {
        Action::Http { method, url } => {
            c.image = Some(r.sidecar_image.clone());
            let mut args: Vec<String> = dirs.iter().map(|d| format!("--volume-dir={d}")).collect();
            args.extend([format!("--webhook-url={url}"), format!("--webhook-method={method}")]);
            c.args = Some(args);
            // configmap-reload runs as nobody; say so, so admission can check it.
            if let Some(s) = c.security_context.as_mut() {
                s.run_as_non_root = Some(true);
                s.run_as_user = Some(65534);
                s.capabilities = Some(core::Capabilities { drop: Some(vec!["ALL".into()]), ..Default::default() });
            }
        }
        Action::Signal(sig) => {
            // The sidecar keeps the pod's user and capabilities: it needs both to
            // look into the app's /proc/PID/root and to signal it.
            spec.share_process_namespace = Some(true);
            c.image = Some(r.signal_image.clone());
            c.command = Some(vec!["sh".into(), "-c".into(), SIGNAL_SCRIPT.into()]);
            let env = [("SIGNAL", sig.strip_prefix("SIG").unwrap_or(sig).to_string()), ("WATCH_DIRS", dirs.join(" "))];
            c.env = Some(
                env.into_iter()
                    .map(|(k, v)| core::EnvVar { name: k.into(), value: Some(v), ..Default::default() })
                    .collect(),
            );
        }
        Action::Restart | Action::Watch => unreachable!("handled above"),
    }
    spec.containers.push(c);
    Ok(())
}

/// The signal sidecar: when a `..data` link under WATCH_DIRS changes, it sends
/// SIGNAL to the main process of every other container that sees the same
/// files at the same path (found through /proc/PID/root, which a shared
/// process namespace makes visible). Container main processes have PPid 0;
/// PID 1 is the pod's pause process.
pub const SIGNAL_SCRIPT: &str = r#"state() { for d in $WATCH_DIRS; do readlink "$d/..data"; done; }
first=${WATCH_DIRS%% *}
old=$(state)
echo "watching $WATCH_DIRS; SIG$SIGNAL on change"
while sleep 2; do
  new=$(state)
  [ "$new" = "$old" ] && continue
  old=$new
  for s in /proc/[0-9]*/status; do
    pid=${s#/proc/}; pid=${pid%/status}
    [ "$pid" = 1 ] || [ "$pid" = $$ ] && continue
    grep -q '^PPid:[[:space:]]*0$' "$s" 2>/dev/null || continue
    [ -e "/proc/$pid/root$first/..data" ] || continue
    kill -"$SIGNAL" "$pid" && echo "sent SIG$SIGNAL to $pid"
  done
done
"#;

fn quantities(q: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    q.iter().map(|(k, v)| (k.to_string(), Quantity(v.to_string()))).collect()
}

/// The ConfigMap/Secret mounts of the container a reload targets (the named
/// one, or the first that mounts any), read-only. subPath mounts never update,
/// so they are left out.
fn reloaded_mounts(spec: &core::PodSpec, container: Option<&str>) -> Vec<core::VolumeMount> {
    let is_config = |name: &str| {
        spec.volumes
            .iter()
            .flatten()
            .any(|v| v.name == name && (v.config_map.is_some() || v.secret.is_some() || v.projected.is_some()))
    };
    let mounts = |c: &core::Container| -> Vec<core::VolumeMount> {
        c.volume_mounts
            .iter()
            .flatten()
            .filter(|m| m.sub_path.is_none() && m.sub_path_expr.is_none() && is_config(&m.name))
            .map(|m| core::VolumeMount {
                name: m.name.clone(),
                mount_path: m.mount_path.clone(),
                read_only: Some(true),
                ..Default::default()
            })
            .collect()
    };
    let mut targets = spec.containers.iter().filter(|c| container.is_none_or(|n| c.name == n));
    targets.find_map(|c| Some(mounts(c)).filter(|m| !m.is_empty())).unwrap_or_default()
}

/// stakater Reloader's annotations: restart when one of the ConfigMaps or
/// Secrets the pod uses changes (`auto` when it names none).
fn reloader_annotations(spec: &core::PodSpec, annotations: &mut BTreeMap<String, String>) {
    let (mut cms, mut secrets) = (BTreeSet::new(), BTreeSet::new());
    for v in spec.volumes.iter().flatten() {
        cms.extend(v.config_map.as_ref().map(|c| c.name.clone()));
        secrets.extend(v.secret.as_ref().and_then(|s| s.secret_name.clone()));
        for p in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            cms.extend(p.config_map.as_ref().map(|c| c.name.clone()));
            secrets.extend(p.secret.as_ref().map(|s| s.name.clone()));
        }
    }
    for c in spec.init_containers.iter().flatten().chain(&spec.containers) {
        for e in c.env.iter().flatten().filter_map(|e| e.value_from.as_ref()) {
            cms.extend(e.config_map_key_ref.as_ref().map(|r| r.name.clone()));
            secrets.extend(e.secret_key_ref.as_ref().map(|r| r.name.clone()));
        }
        for e in c.env_from.iter().flatten() {
            cms.extend(e.config_map_ref.as_ref().map(|r| r.name.clone()));
            secrets.extend(e.secret_ref.as_ref().map(|r| r.name.clone()));
        }
    }
    let join = |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>().join(",");
    if cms.is_empty() && secrets.is_empty() {
        annotations.insert("reloader.stakater.com/auto".into(), "true".into());
    }
    if !cms.is_empty() {
        annotations.insert("configmap.reloader.stakater.com/reload".into(), join(cms));
    }
    if !secrets.is_empty() {
        annotations.insert("secret.reloader.stakater.com/reload".into(), join(secrets));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, name: &str, expect: bool) {
        assert_eq!(mentions(text, name), expect, "{text:?} mentions {name:?}");
    }

    /// The kinds the cluster flavour ships for one manifest, as `Kind/name` lines.
    fn check_kinds(input: &str, expect: &[&str]) {
        let src = crate::source::from_bytes("in.yaml", None, ".".into(), ".".into(), input.as_bytes().to_vec())
            .expect("utf-8");
        let loaded = crate::app::load::load_sources([("in.yaml", Ok(vec![src]))]);
        assert!(loaded.diagnostics.iter().all(|d| !d.is_error()), "{:?}", loaded.diagnostics);
        let opts = super::super::Options { flavor: super::super::Flavor::Cluster, ..Default::default() };
        let r = super::super::render(&loaded.apps[0], &opts);
        let got: Vec<String> = r
            .objects
            .iter()
            .map(|o| o.kind_name())
            .filter(|(k, _)| k != "Service")
            .map(|(k, n)| format!("{k}/{n}"))
            .collect();
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn workloads_that_run_to_completion_keep_their_kind() {
        let pod = |policy: &str| {
            format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  restartPolicy: {policy}\n  containers: [{{name: c, image: x}}]\n")
        };
        // A Pod that runs forever becomes a Deployment; one that completes cannot.
        check_kinds(&pod("Always"), &["Deployment/p"]);
        check_kinds(&pod("Never"), &["Pod/p"]);
        check_kinds(&pod("OnFailure"), &["Pod/p"]);
        // An App role that runs to completion ships as its members' pods.
        check_kinds(
            "apiVersion: podproof.dev/v1alpha1\nkind: App\nmetadata: {name: once}\nspec:\n  roles:\n  - name: task\n    image: x\n    members: 2\n    restartPolicy: Never\n",
            &["Pod/once-task-0", "Pod/once-task-1"],
        );
        // The pod carries the role's labels, which its Services select.
        let src =
            crate::source::from_bytes("in.yaml", None, ".".into(), ".".into(), pod("Never").into_bytes()).unwrap();
        let app = crate::app::load::load_sources([("in.yaml", Ok(vec![src]))]).apps.remove(0);
        let opts = super::super::Options { flavor: super::super::Flavor::Cluster, ..Default::default() };
        let yaml = super::super::render(&app, &opts).to_yaml();
        assert!(yaml.contains(&format!("{LABEL_ROLE}: p")), "{yaml}");
        // A Job stays a Job, with its own fields.
        let job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  backoffLimit: 2\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: x}]\n";
        check_kinds(job, &["Job/j"]);
        let src = crate::source::from_bytes("in.yaml", None, ".".into(), ".".into(), job.as_bytes().to_vec()).unwrap();
        let app = crate::app::load::load_sources([("in.yaml", Ok(vec![src]))]).apps.remove(0);
        let opts = super::super::Options { flavor: super::super::Flavor::Cluster, ..Default::default() };
        let yaml = super::super::render(&app, &opts).to_yaml();
        assert!(
            yaml.contains("kind: Job") && yaml.contains("backoffLimit: 2") && yaml.contains("restartPolicy: Never"),
            "{yaml}"
        );
    }

    #[test]
    fn member_names_in_text() {
        check("zk-seed-0,zk-seed-1", "zk-seed-1", true);
        check("zk-seed-0.zk-seed:2181", "zk-seed-0", true);
        check("zk-seed-10", "zk-seed-1", false);
        check("my-zk-seed-1", "zk-seed-1", false);
        check("http://zk-seed-1/", "zk-seed-1", true);
        check("", "zk-seed-1", false);
    }
}
