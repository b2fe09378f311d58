//! Workloads: pkg/apis/apps/validation (Deployment, StatefulSet, DaemonSet,
//! ReplicaSet), ReplicationController from pkg/apis/core/validation, and
//! pkg/apis/batch/validation (Job, CronJob).

use super::objects::{object_meta, pvc_spec, validate_labels};
use super::pod::{pod_spec, restart_policy};
use super::{child, int, items, non_negative, one_of, string, Issues, Problem};
use serde_yaml::{Mapping, Value};

fn name(v: &Value) -> &str {
    string(v.get("metadata").and_then(|m| m.get("name"))).unwrap_or("?")
}

/// ValidateDeploymentSpec, ValidateStatefulSetSpec, ValidateDaemonSetSpec,
/// ValidateReplicaSetSpec and ValidateReplicationControllerSpec.
pub fn apps(out: &mut Issues, v: &Value, kind: &str) {
    let (spec, sp) = child(Some(v), "", "spec");
    if spec.is_none() {
        return out.required("/spec", "");
    }
    if kind != "DaemonSet" {
        non_negative(out, spec, &sp, "replicas");
    }
    non_negative(out, spec, &sp, "minReadySeconds");
    non_negative(out, spec, &sp, "revisionHistoryLimit");
    let (selector, selp) = child(spec, &sp, "selector");
    let selects = if kind == "ReplicationController" {
        // A ReplicationController's selector is a plain map, defaulted from the template's labels.
        validate_labels(out, selector, &selp);
        selector.and_then(Value::as_mapping).map(|m| Selector { labels: m.clone(), expressions: Vec::new() })
    } else {
        match selector {
            None => {
                out.required(&selp, "");
                None
            }
            Some(s) => label_selector(out, s, &selp, kind),
        }
    };
    let mut claims: Vec<&str> = Vec::new();
    match kind {
        "Deployment" => deployment_strategy(out, spec, &sp),
        "StatefulSet" => {
            one_of(out, spec, &sp, "podManagementPolicy", &["OrderedReady", "Parallel"]);
            let (us, usp) = child(spec, &sp, "updateStrategy");
            one_of(out, us, &usp, "type", &["RollingUpdate", "OnDelete"]);
            let (ru, rup) = child(us, &usp, "rollingUpdate");
            non_negative(out, ru, &rup, "partition");
            let (ret, retp) = child(spec, &sp, "persistentVolumeClaimRetentionPolicy");
            one_of(out, ret, &retp, "whenDeleted", &["Retain", "Delete"]);
            one_of(out, ret, &retp, "whenScaled", &["Retain", "Delete"]);
            let (vcts, vp) = child(spec, &sp, "volumeClaimTemplates");
            for (p, t) in items(vcts, &vp) {
                let (n, np) = child(t.get("metadata"), &format!("{p}/metadata"), "name");
                match string(n) {
                    None | Some("") => out.required(&np, ""),
                    Some(n) => claims.push(n),
                }
                pvc_spec(out, t.get("spec"), &format!("{p}/spec"));
            }
        }
        "DaemonSet" => {
            let (us, usp) = child(spec, &sp, "updateStrategy");
            one_of(out, us, &usp, "type", &["RollingUpdate", "OnDelete"]);
        }
        _ => {}
    }
    // ValidatePodTemplateSpecForReplicaSet (and its StatefulSet and
    // DaemonSet twins): the template's labels match the selector, and its
    // pods restart Always.
    template(out, spec, &sp, kind, name(v), selects.as_ref(), &claims, &["Always"]);
}

/// A label selector in its parsed form.
pub(super) struct Selector {
    labels: Mapping,
    /// (key, operator, values) of matchExpressions.
    expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    fn matches(&self, labels: &Mapping) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.labels.iter().all(|(k, v)| k.as_str().is_some_and(|k| get(k) == v.as_str()))
            && self.expressions.iter().all(|(k, op, values)| match op.as_str() {
                "In" => get(k).is_some_and(|v| values.iter().any(|x| x == v)),
                "NotIn" => get(k).is_none_or(|v| !values.iter().any(|x| x == v)),
                "Exists" => get(k).is_some(),
                "DoesNotExist" => get(k).is_none(),
                _ => true,
            })
    }
}

/// ValidateLabelSelector: labels, operators and their values; apps also
/// refuse an empty selector ("empty selector is invalid for deployment").
pub(super) fn label_selector(out: &mut Issues, s: &Value, sp: &str, kind: &str) -> Option<Selector> {
    let (ml, mlp) = child(Some(s), sp, "matchLabels");
    validate_labels(out, ml, &mlp);
    let mut expressions = Vec::new();
    for (p, e) in items(s.get("matchExpressions"), &format!("{sp}/matchExpressions")) {
        let key = string(e.get("key")).unwrap_or("").to_string();
        let op = string(e.get("operator")).unwrap_or("").to_string();
        let values: Vec<String> = e
            .get("values")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        match op.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                out.required(&format!("{p}/values"), ": must be specified when `operator` is 'In' or 'NotIn'")
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => out.bad(
                &format!("{p}/values"),
                "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            _ => out.bad(&format!("{p}/operator"), super::unsupported(&op, &["In", "NotIn", "Exists", "DoesNotExist"])),
        }
        expressions.push((key, op, values));
    }
    let labels = ml.and_then(Value::as_mapping).cloned().unwrap_or_default();
    // A Job's generated selector and a budget's may be empty (a budget's then selects every pod).
    if labels.is_empty() && expressions.is_empty() && !matches!(kind, "Job" | "PodDisruptionBudget") {
        out.bad(sp, format!("Invalid value: empty selector is invalid for {}", kind.to_lowercase()));
        return None;
    }
    Some(Selector { labels, expressions })
}

/// The pod template of a workload: its metadata, its spec, the selector.
#[allow(clippy::too_many_arguments)]
fn template(
    out: &mut Issues,
    spec: Option<&Value>,
    sp: &str,
    kind: &str,
    name: &str,
    selector: Option<&Selector>,
    claims: &[&str],
    restart: &[&str],
) {
    let (t, tp) = child(spec, sp, "template");
    if t.is_none() {
        return out.required(&tp, "");
    }
    let (meta, mp) = child(t, &tp, "metadata");
    object_meta(out, meta, &mp);
    if let Some(sel) = selector {
        let labels = meta.and_then(|m| m.get("labels")).and_then(Value::as_mapping).cloned().unwrap_or_default();
        if !sel.matches(&labels) {
            out.key(
                Problem::SelectorMismatch,
                &format!("{mp}/labels"),
                super::schema::at(
                    &format!("{mp}/labels"),
                    "Invalid value: `selector` does not match template `labels`",
                ),
            );
        }
    }
    let (ps, psp) = child(t, &tp, "spec");
    pod_spec(out, ps, &psp, kind, name, claims);
    if ps.is_some() {
        restart_policy(out, ps, &psp, restart, "Always");
    }
}

/// validateDeploymentStrategy and ValidateRollingUpdateDeployment.
fn deployment_strategy(out: &mut Issues, spec: Option<&Value>, sp: &str) {
    let (st, stp) = child(spec, sp, "strategy");
    one_of(out, st, &stp, "type", &["Recreate", "RollingUpdate"]);
    let (ru, rup) = child(st, &stp, "rollingUpdate");
    if ru.is_some() && string(st.and_then(|s| s.get("type"))) == Some("Recreate") {
        out.bad(&rup, "Forbidden: may not be specified when strategy `type` is 'Recreate'");
    }
    let zero = |v: Option<&Value>| match v {
        Some(Value::Number(n)) => n.as_i64() == Some(0),
        Some(Value::String(s)) => s == "0%",
        _ => false,
    };
    let (mu, mup) = child(ru, &rup, "maxUnavailable");
    let (ms, _) = child(ru, &rup, "maxSurge");
    if ru.is_some() && zero(mu) && zero(ms) {
        out.bad(&mup, "Invalid value: may not be 0 when `maxSurge` is 0");
    }
    for key in ["maxUnavailable", "maxSurge"] {
        let (x, xp) = child(ru, &rup, key);
        match x {
            Some(Value::Number(n)) if n.as_i64().is_some_and(|n| n < 0) => {
                out.bad(&xp, format!("Invalid value: {n}: must be greater than or equal to 0"))
            }
            Some(Value::String(s)) if !is_percent(s) => out.bad(
                &xp,
                format!(
                    "Invalid value: \"{s}\": a valid percent string must be a numeric string followed by an ending '%'"
                ),
            ),
            _ => {}
        }
    }
    let (pd, pdp) = child(spec, sp, "progressDeadlineSeconds");
    if let (Some(p), Some(m)) = (int(pd), int(spec.and_then(|s| s.get("minReadySeconds")))) {
        if p <= m {
            out.bad(&pdp, format!("Invalid value: {p}: must be greater than minReadySeconds"));
        }
    }
    non_negative(out, spec, sp, "progressDeadlineSeconds");
}

fn is_percent(s: &str) -> bool {
    s.strip_suffix('%').is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

/// ValidateJobSpec (and ValidateGeneratedSelector): counts, the completion
/// mode, the selector, and pods that restart OnFailure or Never.
pub fn job_spec(out: &mut Issues, spec: Option<&Value>, sp: &str, v: &Value) {
    if spec.is_none() {
        return out.required(sp, "");
    }
    for key in ["parallelism", "completions", "backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"] {
        non_negative(out, spec, sp, key);
    }
    one_of(out, spec, sp, "completionMode", &["NonIndexed", "Indexed"]);
    if string(spec.and_then(|s| s.get("completionMode"))) == Some("Indexed")
        && spec.and_then(|s| s.get("completions")).is_none()
    {
        out.required(&format!("{sp}/completions"), ": when completion mode is Indexed");
    }
    let manual = spec.and_then(|s| s.get("manualSelector")).and_then(Value::as_bool) == Some(true);
    let (selector, selp) = child(spec, sp, "selector");
    let selects = match selector {
        Some(s) if manual => label_selector(out, s, &selp, "Job"),
        Some(_) => {
            out.bad(&selp, "Invalid value: `selector` not auto-generated: set `manualSelector: true` to choose the selector yourself");
            None
        }
        None if manual => {
            out.required(&selp, ": when `manualSelector` is true");
            None
        }
        None => None,
    };
    template(out, spec, sp, "Job", name(v), selects.as_ref(), &[], &["OnFailure", "Never"]);
}

/// ValidateCronJobSpec: the schedule, the policies and the job template.
pub fn cron_job(out: &mut Issues, v: &Value) {
    let (spec, sp) = child(Some(v), "", "spec");
    if spec.is_none() {
        return out.required("/spec", "");
    }
    let (sched, schp) = child(spec, &sp, "schedule");
    match string(sched) {
        None | Some("") => out.required(&schp, ""),
        Some(s) => {
            if let Some(why) = schedule(s) {
                out.bad(&schp, format!("Invalid value: \"{s}\": {why}"));
            }
        }
    }
    one_of(out, spec, &sp, "concurrencyPolicy", &["Allow", "Forbid", "Replace"]);
    for key in ["startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        non_negative(out, spec, &sp, key);
    }
    let (jt, jtp) = child(spec, &sp, "jobTemplate");
    if jt.is_none() {
        return out.required(&jtp, "");
    }
    let (meta, mp) = child(jt, &jtp, "metadata");
    object_meta(out, meta, &mp);
    let (js, jsp) = child(jt, &jtp, "spec");
    job_spec(out, js, &jsp, v);
}

/// validateScheduleFormat: robfig/cron's standard parser (five fields or a
/// descriptor such as @daily), without TZ= (the timeZone field says it).
pub fn schedule(s: &str) -> Option<String> {
    if s.contains("TZ=") {
        return Some("cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into());
    }
    if let Some(d) = s.strip_prefix('@') {
        return match d {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => None,
            e if e.starts_with("every ") => None,
            _ => Some(format!("unrecognized descriptor: {s}")),
        };
    }
    const MONTHS: &[&str] = &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
    const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Some(format!("expected exactly 5 fields, found {}: {s}", fields.len()));
    }
    let bounds: [(i64, i64, &[&str], i64); 5] =
        [(0, 59, &[], 0), (0, 23, &[], 0), (1, 31, &[], 0), (1, 12, MONTHS, 1), (0, 6, DAYS, 0)];
    for (field, (lo, hi, names, base)) in fields.iter().zip(bounds) {
        let num = |t: &str| -> Option<i64> {
            t.parse::<i64>()
                .ok()
                .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(t)).map(|i| i as i64 + base))
        };
        for part in field.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, st)) => (r, Some(st)),
                None => (part, None),
            };
            if let Some(st) = step {
                if st.parse::<u32>().ok().filter(|n| *n > 0).is_none() {
                    return Some(format!("failed to parse int from {st}"));
                }
            }
            if range == "*" || range == "?" {
                continue;
            }
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            match (num(a), num(b)) {
                (Some(a), Some(b)) if a >= lo && b <= hi && a <= b => {}
                (Some(_), Some(_)) => {
                    return Some(format!(
                        "end of range ({b}) above maximum ({hi}) or beginning below minimum ({lo}): {part}"
                    ))
                }
                _ => return Some(format!("failed to parse int from {part}")),
            }
        }
    }
    None
}
