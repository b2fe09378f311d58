//! Rules across documents: Services and the pods they select, NetworkPolicies,
//! ServiceAccounts and PodDisruptionBudgets. Each document leaves a few facts
//! (with the spot a finding would point at); the facts of one directory are
//! checked together once every file in it is parsed.

use super::*;
use crate::podview::Form;
use serde_yaml::Mapping;
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

/// Where a cross-document finding would go, with what its object suppresses.
#[derive(Debug, Clone)]
struct Spot {
    file: usize,
    line: usize,
    column: usize,
    pointer: String,
    object: Option<String>,
    ignored: Vec<String>,
}

#[derive(Debug, Clone)]
enum Fact {
    Pods {
        ns: String,
        kind: String,
        name: String,
        labels: Labels,
        replicas: i64,
        account: Option<(String, Spot)>,
        spot: Spot,
        /// Known only by its selector (no pod template spec): no pods of its
        /// own to isolate or check.
        bare: bool,
    },
    Service {
        ns: String,
        name: String,
        selector: Labels,
        spot: Spot,
    },
    Policy {
        ns: String,
        selector: Value,
    },
    Account {
        ns: String,
        name: String,
    },
    Budget {
        ns: String,
        selector: Value,
        min: MinAvailable,
        spot: Spot,
    },
    /// What scales a workload (a HorizontalPodAutoscaler, a KEDA
    /// ScaledObject): its least replica count replaces the workload's own.
    Scaler {
        ns: String,
        /// The target's kind and name.
        kind: String,
        name: String,
        min: i64,
    },
    /// A ConfigMap or Secret, with the keys env can read from it.
    Object {
        kind: &'static str,
        ns: String,
        name: String,
        keys: Vec<String>,
    },
    Role(super::rbac::RoleFacts),
    Binding {
        binding: super::rbac::BindingFacts,
        spot: Spot,
    },
    /// What a pod reads from a ConfigMap or Secret that must exist.
    Ref {
        kind: &'static str,
        ns: String,
        name: String,
        key: Option<String>,
        /// What reads it, as render says it: "volume `config`".
        what: String,
        pod: String,
        spot: Spot,
    },
}

/// A budget's minAvailable: a count, or a percentage of the replicas (rounded up).
#[derive(Debug, Clone, Copy)]
pub enum MinAvailable {
    Count(i64),
    Percent(i64),
}

impl MinAvailable {
    /// How many pods must stay up out of `replicas`.
    fn of(self, replicas: i64) -> i64 {
        match self {
            MinAvailable::Count(n) => n,
            MinAvailable::Percent(p) => (p * replicas + 99) / 100,
        }
    }
}

impl std::fmt::Display for MinAvailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MinAvailable::Count(n) => write!(f, "{n}"),
            MinAvailable::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// What one file contributes to its directory's cross-document checks, and
/// the values of the file that no output may show.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    facts: Vec<Fact>,
    /// Values a finding is about that look like secrets (an env `value` of a
    /// `*PASSWORD*` variable), with where each is written.
    pub hidden: Vec<Hidden>,
    /// Every text to mask in this file's messages and excerpts: its Secrets'
    /// values and the `hidden` ones, as the walk gathered them. Findings
    /// across files are masked with it too, since they are added later.
    pub masks: Vec<String>,
    /// The lines that findings across files show, masked like the rest.
    pub excerpt: String,
    /// KubeDirector documents, read in pairs once the directory is done.
    kd: Vec<crate::lint::readers::KdDoc>,
}

/// A value that looks like a secret, and the line and column of its text.
#[derive(Debug, Clone)]
pub struct Hidden {
    pub value: String,
    pub line: usize,
    pub column: usize,
}

impl Facts {
    /// The lines that cross-document findings may point at.
    pub fn lines(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for f in &self.facts {
            match f {
                Fact::Pods { account, spot, .. } => {
                    out.push(spot.line);
                    out.extend(account.as_ref().map(|(_, s)| s.line));
                }
                Fact::Service { spot, .. }
                | Fact::Budget { spot, .. }
                | Fact::Ref { spot, .. }
                | Fact::Binding { spot, .. } => out.push(spot.line),
                Fact::Role(_) => {}
                Fact::Policy { .. } | Fact::Account { .. } | Fact::Object { .. } | Fact::Scaler { .. } => {}
            }
        }
        // What the KubeDirector readers find may be on any line of the document.
        for k in &self.kd {
            let (lo, hi) = k.doc.line_span();
            out.extend(lo..=hi);
        }
        out
    }
}

fn spot(ctx: &Ctx, pointer: &str, at_value: bool) -> Spot {
    let p = if at_value { ctx.doc.value_pos(pointer) } else { ctx.doc.pos(pointer) };
    Spot {
        file: ctx.file,
        line: p.line,
        column: p.column,
        pointer: format!("{}{}", ctx.base, existing(ctx.doc, pointer)),
        object: ctx.object.clone(),
        ignored: ctx.ignored.clone(),
    }
}

fn namespace(doc: &Value) -> String {
    doc.get("metadata").and_then(|m| s(m, "namespace")).unwrap_or("default").to_string()
}

pub fn labels_of(m: Option<&Mapping>) -> Labels {
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| serde_yaml::to_string(v).unwrap_or_default().trim().to_string())
    };
    m.into_iter().flatten().map(|(k, v)| (text(k), text(v))).collect()
}

/// Whether a LabelSelector (matchLabels and matchExpressions) selects `labels`.
pub fn selector_matches(sel: &Value, labels: &Labels) -> bool {
    let ml = labels_of(sel.get("matchLabels").and_then(Value::as_mapping));
    if !ml.iter().all(|(k, v)| labels.get(k) == Some(v)) {
        return false;
    }
    sel.get("matchExpressions").and_then(Value::as_sequence).into_iter().flatten().all(|e| {
        let key = s(e, "key").unwrap_or_default();
        let values: Vec<&str> =
            e.get("values").and_then(Value::as_sequence).into_iter().flatten().filter_map(Value::as_str).collect();
        let have = labels.get(key).map(String::as_str);
        match s(e, "operator") {
            Some("In") => have.is_some_and(|h| values.contains(&h)),
            Some("NotIn") => have.is_none_or(|h| !values.contains(&h)),
            Some("Exists") => have.is_some(),
            Some("DoesNotExist") => have.is_none(),
            _ => false,
        }
    })
}

/// Facts and single-document rules of Services, NetworkPolicies,
/// ServiceAccounts and PodDisruptionBudgets.
pub fn collect(ctx: &mut Ctx, _api: &str, kind: &str, facts: &mut Facts) {
    let v = &ctx.doc.value;
    let ns = namespace(v);
    let name = v.get("metadata").and_then(|m| s(m, "name")).unwrap_or("?").to_string();
    let spec = v.get("spec");
    match kind {
        "Service" => {
            let selector = labels_of(spec.and_then(|s| s.get("selector")).and_then(Value::as_mapping));
            if !selector.is_empty() {
                facts.facts.push(Fact::Service { ns, name, selector, spot: spot(ctx, "/spec/selector", false) });
            }
        }
        // A policy isolates ingress unless its policyTypes leave Ingress out
        // (`policyTypes: [Egress]` restricts only what the pods send).
        "NetworkPolicy" => {
            let types = spec.and_then(|s| s.get("policyTypes")).and_then(Value::as_sequence);
            if types.is_none_or(|t| t.iter().any(|t| t.as_str() == Some("Ingress"))) {
                let selector = spec.and_then(|s| s.get("podSelector")).cloned().unwrap_or_default();
                facts.facts.push(Fact::Policy { ns, selector })
            }
        }
        "ServiceAccount" => facts.facts.push(Fact::Account { ns, name }),
        // A scaler's replica floor is what a budget must leave room under.
        "HorizontalPodAutoscaler" | "ScaledObject" => {
            let Some(target) = spec.and_then(|s| s.get("scaleTargetRef")) else { return };
            let (field, default) = if kind == "ScaledObject" { ("minReplicaCount", 0) } else { ("minReplicas", 1) };
            facts.facts.push(Fact::Scaler {
                ns,
                kind: s(target, "kind").unwrap_or("Deployment").to_string(),
                name: s(target, "name").unwrap_or("").to_string(),
                min: spec.and_then(|sp| int(sp, field)).unwrap_or(default),
            })
        }
        "ConfigMap" | "Secret" => {
            let fields: &[&str] = if kind == "ConfigMap" { &["data"] } else { &["data", "stringData"] };
            let keys = fields
                .iter()
                .filter_map(|f| v.get(*f).and_then(Value::as_mapping))
                .flat_map(|m| m.keys().filter_map(Value::as_str).map(str::to_string))
                .collect();
            let kind = if kind == "ConfigMap" { "ConfigMap" } else { "Secret" };
            facts.facts.push(Fact::Object { kind, ns, name, keys })
        }
        "PodDisruptionBudget" => {
            let Some(spec) = spec else { return };
            if let Some(m) = spec.get("maxUnavailable").filter(|m| m.as_i64() == Some(0) || m.as_str() == Some("0%")) {
                let m = m.as_i64().map(|i| i.to_string()).unwrap_or_else(|| "0%".into());
                ctx.value(
                    &PDB_MAX_UNAVAILABLE,
                    "/spec/maxUnavailable",
                    format!("PodDisruptionBudget `{name}` has maxUnavailable {m}, so no pod may ever be evicted"),
                );
            }
            let min = match spec.get("minAvailable") {
                Some(Value::String(p)) => p.strip_suffix('%').and_then(|n| n.parse().ok()).map(MinAvailable::Percent),
                Some(Value::Number(n)) => n.as_i64().map(MinAvailable::Count),
                _ => None,
            };
            match min {
                Some(MinAvailable::Percent(p)) if p >= 100 => ctx.value(
                    &PDB_MIN_AVAILABLE,
                    "/spec/minAvailable",
                    format!("PodDisruptionBudget `{name}` has minAvailable {p}%, so no pod may ever be evicted"),
                ),
                Some(min) => {
                    let selector = spec.get("selector").cloned().unwrap_or_default();
                    facts.facts.push(Fact::Budget { ns, selector, min, spot: spot(ctx, "/spec/minAvailable", true) });
                }
                None => {}
            }
            if spec.get("unhealthyPodEvictionPolicy").is_none() {
                ctx.key(
                    &PDB_UNHEALTHY_POD_EVICTION_POLICY,
                    "/spec",
                    format!("PodDisruptionBudget `{name}` does not set unhealthyPodEvictionPolicy"),
                );
            }
        }
        _ => {}
    }
}

/// A Role's grants and a binding's role, for the checks across files.
pub fn collect_rbac(ctx: &mut Ctx, kind: &str, facts: &mut Facts) {
    match kind {
        "Role" | "ClusterRole" => {
            if let Some(r) = super::rbac::role(ctx, kind) {
                facts.facts.push(Fact::Role(r));
            }
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            if let Some(binding) = super::rbac::binding(ctx, kind) {
                facts.facts.push(Fact::Binding { binding, spot: spot(ctx, "/roleRef/name", true) });
            }
        }
        _ => {}
    }
}

/// A KubeDirector document, for its directory's reading in pairs.
pub fn collect_kd(ctx: &mut Ctx, kind: &str, facts: &mut Facts) {
    let Some(origin) = ctx.origin else { return };
    let v = &ctx.doc.value;
    let Some(name) = v.get("metadata").and_then(|m| s(m, "name")) else {
        // The loader's words: a KubeDirector document is paired by its name.
        return ctx.key(&SCHEMA_INVALID, "/metadata", format!("{kind} needs metadata.name"));
    };
    facts.kd.push(crate::lint::readers::KdDoc {
        kind: kind.to_string(),
        name: name.to_string(),
        app: v.get("spec").and_then(|sp| s(sp, "app")).map(str::to_string),
        doc: ctx.doc.clone(),
        origin: origin.clone(),
        file: ctx.file,
        object: ctx.object.clone(),
        ignored: ctx.ignored.clone(),
        base: ctx.base.clone(),
    });
}

/// A workload whose pod template has no spec (or none at all): its
/// selector's labels and replicas still count for budgets.
pub fn collect_bare_workload(ctx: &mut Ctx, kind: &str, facts: &mut Facts) {
    if !matches!(kind, "Deployment" | "StatefulSet" | "ReplicaSet" | "ReplicationController") {
        return;
    }
    let v = &ctx.doc.value;
    let spec = v.get("spec");
    let selector = spec.and_then(|s| s.get("selector"));
    let labels = if kind == "ReplicationController" {
        labels_of(selector.and_then(Value::as_mapping))
    } else {
        labels_of(selector.and_then(|s| s.get("matchLabels")).and_then(Value::as_mapping))
    };
    facts.facts.push(Fact::Pods {
        ns: namespace(v),
        kind: kind.to_string(),
        name: v.get("metadata").and_then(|m| s(m, "name")).unwrap_or("?").to_string(),
        labels,
        replicas: spec.and_then(|s| int(s, "replicas")).unwrap_or(1),
        account: None,
        spot: spot(ctx, "/metadata/name", false),
        bare: true,
    });
}

/// A manifest workload's labels, replicas and service account.
pub fn collect_pod(ctx: &mut Ctx, pod: &PodView, facts: &mut Facts) {
    if pod.form != Form::Manifest {
        return;
    }
    let account = s(&pod.spec, "serviceAccountName")
        .or_else(|| s(&pod.spec, "serviceAccount"))
        .filter(|a| !a.is_empty() && *a != "default");
    let account_ptr =
        pod.ptr(if pod.spec.get("serviceAccountName").is_some() { "/serviceAccountName" } else { "/serviceAccount" });
    let labels_ptr = pod.meta.as_ref().map(|(_, p)| format!("{p}/labels")).unwrap_or_default();
    config_refs(ctx, pod, facts);
    facts.facts.push(Fact::Pods {
        ns: namespace(&ctx.doc.value),
        kind: pod.kind.to_string(),
        name: pod.name.clone(),
        labels: labels_of(pod.labels()),
        replicas: pod.replicas.as_ref().map(|(n, _)| *n).unwrap_or(1),
        account: account.map(|a| (a.to_string(), spot(ctx, &account_ptr, true))),
        spot: spot(ctx, if pod.labels().is_some() { &labels_ptr } else { "/metadata/name" }, false),
        bare: false,
    });
}

/// What a pod needs of ConfigMaps and Secrets to start, as render reads it
/// (render/podman.rs for volumes, render/env.rs for env): every reference
/// not marked optional.
fn config_refs(ctx: &mut Ctx, pod: &PodView, facts: &mut Facts) {
    let ns = namespace(&ctx.doc.value);
    let optional = |v: &Value| is_true(v, "optional");
    let mut refs: Vec<(&'static str, String, Option<String>, String, String)> = Vec::new();
    for (vp, vol) in items(&pod.spec, "volumes", "") {
        let vname = s(vol, "name").unwrap_or("?");
        if let Some(cm) = vol.get("configMap").filter(|c| !optional(c)) {
            refs.push((
                "ConfigMap",
                s(cm, "name").unwrap_or("").into(),
                None,
                format!("volume `{vname}`"),
                format!("{vp}/configMap/name"),
            ));
        }
        if let Some(sec) = vol.get("secret").filter(|c| !optional(c)) {
            refs.push((
                "Secret",
                s(sec, "secretName").unwrap_or("").into(),
                None,
                format!("volume `{vname}`"),
                format!("{vp}/secret/secretName"),
            ));
        }
        for (sp, src) in vol
            .get("projected")
            .map(|p| items(p, "sources", &format!("{vp}/projected")).collect())
            .unwrap_or_else(Vec::new)
        {
            for (field, kind) in [("configMap", "ConfigMap"), ("secret", "Secret")] {
                if let Some(x) = src.get(field).filter(|c| !optional(c)) {
                    refs.push((
                        kind,
                        s(x, "name").unwrap_or("").into(),
                        None,
                        format!("projected volume `{vname}`"),
                        format!("{sp}/{field}/name"),
                    ));
                }
            }
        }
    }
    for (cp, c, _) in pod.containers() {
        let cname = s(c, "name").unwrap_or("?");
        for (ep, from) in items(c, "envFrom", &cp) {
            for (field, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
                if let Some(x) = from.get(field).filter(|c| !optional(c)) {
                    refs.push((
                        kind,
                        s(x, "name").unwrap_or("").into(),
                        None,
                        format!("container `{cname}`: envFrom"),
                        format!("{ep}/{field}/name"),
                    ));
                }
            }
        }
        for (ep, e) in items(c, "env", &cp) {
            let Some(from) = e.get("valueFrom") else { continue };
            for (field, kind) in [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")] {
                if let Some(x) = from.get(field).filter(|c| !optional(c)) {
                    let what = format!("env `{}`", s(e, "name").unwrap_or("?"));
                    refs.push((
                        kind,
                        s(x, "name").unwrap_or("").into(),
                        s(x, "key").map(str::to_string),
                        what,
                        format!("{ep}/valueFrom/{field}/name"),
                    ));
                }
            }
        }
    }
    for (kind, name, key, what, ptr) in refs {
        let spot = spot(ctx, &pod.ptr(&ptr), true);
        facts.facts.push(Fact::Ref { kind, ns: ns.clone(), name, key, what, pod: pod.name.clone(), spot });
    }
}

/// Checks the facts of one directory.
pub fn cross_check(facts: &[&Facts], opts: &Options) -> Vec<Finding> {
    let all: Vec<&Fact> = facts.iter().flat_map(|f| f.facts.iter()).collect();
    let pods = || {
        all.iter().filter_map(|f| match f {
            Fact::Pods { ns, labels, replicas, kind, name, .. } => Some((ns, labels, *replicas, kind, name)),
            _ => None,
        })
    };
    // A scaler's floor replaces the workload's replicas.
    let replicas_of = |ns: &str, kind: &str, name: &str, own: i64| {
        all.iter()
            .find_map(|f| match f {
                Fact::Scaler { ns: sns, kind: k, name: n, min } if sns == ns && k == kind && n == name => Some(*min),
                _ => None,
            })
            .unwrap_or(own)
    };
    let kd: Vec<&crate::lint::readers::KdDoc> = facts.iter().flat_map(|f| f.kd.iter()).collect();
    let mut out = crate::lint::readers::kubedirector(&kd, opts);
    let mut report = |rule: &'static Rule, spot: &Spot, message: String| {
        if let Some(severity) = opts.level(rule).filter(|_| !spot.ignored.iter().any(|i| i == rule.id)) {
            out.push(Finding {
                rule,
                severity,
                message,
                file: spot.file,
                line: spot.line,
                column: spot.column,
                pointer: spot.pointer.clone(),
                object: spot.object.clone(),
            });
        }
    };
    for f in &all {
        match f {
            Fact::Service { ns, name, selector, spot } => {
                if !pods().any(|(pns, labels, ..)| pns == ns && selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
                {
                    let sel: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    report(
                        &DANGLING_SERVICE,
                        spot,
                        format!(
                            "Service `{name}` selects {}, which no pod template in this directory carries",
                            sel.join(",")
                        ),
                    );
                }
            }
            Fact::Pods { bare: true, .. } => {}
            Fact::Pods { ns, kind, name, labels, account, spot, .. } => {
                let isolated = all.iter().any(|p| matches!(p, Fact::Policy { ns: pns, selector } if pns == ns && selector_matches(selector, labels)));
                if !isolated {
                    report(
                        &NON_ISOLATED_POD,
                        spot,
                        format!("no NetworkPolicy in this directory selects the pods of {kind} `{name}`"),
                    );
                }
                if let Some((a, aspot)) = account {
                    if !all.iter().any(|x| matches!(x, Fact::Account { ns: ans, name } if ans == ns && name == a)) {
                        report(
                            &NON_EXISTENT_SERVICE_ACCOUNT,
                            aspot,
                            format!("ServiceAccount `{a}` is not defined in this directory"),
                        );
                    }
                }
            }
            Fact::Budget { ns, selector, min, spot } => {
                let blocked = pods()
                    .filter(|(pns, labels, ..)| *pns == ns && selector_matches(selector, labels))
                    .find_map(|(pns, _, own, kind, name)| {
                        let replicas = replicas_of(pns, kind, name, own);
                        (replicas > 0 && min.of(replicas) >= replicas).then_some((replicas, own, kind, name))
                    });
                if let Some((replicas, own, kind, name)) = blocked {
                    let scaled = if replicas != own { " at the least its autoscaler scales it to" } else { "" };
                    report(&PDB_MIN_AVAILABLE, spot, format!("minAvailable {min} is not below the {replicas} replicas of {kind} `{name}`{scaled}, so no pod may ever be evicted"));
                }
            }
            Fact::Ref { kind, ns, name, key, what, pod, spot } => {
                let object = all.iter().find_map(|f| match f {
                    Fact::Object { kind: k, ns: ons, name: n, keys } if k == kind && ons == ns && n == name => {
                        Some(keys)
                    }
                    _ => None,
                });
                let msg = match (object, key) {
                    (None, _) if key.is_none() => format!("pod `{pod}`: {what} names {kind} `{name}`, which is not defined in this directory"),
                    (None, Some(k)) => format!("pod `{pod}`: {what}: key `{k}` of {kind} `{name}` is not defined ({kind} `{name}` is not in this directory)"),
                    (Some(keys), Some(k)) if !keys.contains(k) => format!("pod `{pod}`: {what}: key `{k}` of {kind} `{name}` is not defined"),
                    _ => continue,
                };
                report(&UNDEFINED_CONFIG_REFERENCE, spot, msg);
            }
            Fact::Binding { binding, spot } => {
                let roles: Vec<&super::rbac::RoleFacts> =
                    all.iter().filter_map(|f| if let Fact::Role(r) = f { Some(r) } else { None }).collect();
                for (rule, msg) in super::rbac::bound(binding, &roles) {
                    report(rule, spot, msg);
                }
            }
            Fact::Policy { .. } | Fact::Account { .. } | Fact::Object { .. } | Fact::Scaler { .. } | Fact::Role(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(selector: &str, labels: &str, expect: bool) {
        let sel: Value = serde_yaml::from_str(selector).unwrap();
        let labels: Value = serde_yaml::from_str(labels).unwrap();
        assert_eq!(selector_matches(&sel, &labels_of(labels.as_mapping())), expect, "{selector} vs {labels:?}");
    }

    #[test]
    fn label_selectors() {
        check("{}", "{a: b}", true);
        check("matchLabels: {a: b}", "{a: b, c: d}", true);
        check("matchLabels: {a: b}", "{a: c}", false);
        check("matchExpressions: [{key: a, operator: In, values: [b, c]}]", "{a: c}", true);
        check("matchExpressions: [{key: a, operator: NotIn, values: [b]}]", "{}", true);
        check("matchExpressions: [{key: a, operator: Exists}]", "{}", false);
        check("matchExpressions: [{key: a, operator: DoesNotExist}]", "{b: c}", true);
    }
}
