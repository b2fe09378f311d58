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
        min: i64,
        spot: Spot,
    },
}

/// What one file contributes to its directory's cross-document checks.
#[derive(Debug, Clone, Default)]
pub struct Facts(Vec<Fact>);

impl Facts {
    /// The lines that cross-document findings may point at.
    pub fn lines(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for f in &self.0 {
            match f {
                Fact::Pods { account, spot, .. } => {
                    out.push(spot.line);
                    out.extend(account.as_ref().map(|(_, s)| s.line));
                }
                Fact::Service { spot, .. } | Fact::Budget { spot, .. } => out.push(spot.line),
                Fact::Policy { .. } | Fact::Account { .. } => {}
            }
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
        pointer: existing(ctx.doc, pointer),
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
                facts.0.push(Fact::Service { ns, name, selector, spot: spot(ctx, "/spec/selector", false) });
            }
        }
        // A policy isolates ingress unless its policyTypes leave Ingress out
        // (`policyTypes: [Egress]` restricts only what the pods send).
        "NetworkPolicy" => {
            let types = spec.and_then(|s| s.get("policyTypes")).and_then(Value::as_sequence);
            if types.is_none_or(|t| t.iter().any(|t| t.as_str() == Some("Ingress"))) {
                let selector = spec.and_then(|s| s.get("podSelector")).cloned().unwrap_or_default();
                facts.0.push(Fact::Policy { ns, selector })
            }
        }
        "ServiceAccount" => facts.0.push(Fact::Account { ns, name }),
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
            match spec.get("minAvailable") {
                Some(Value::String(p)) if p == "100%" => ctx.value(
                    &PDB_MIN_AVAILABLE,
                    "/spec/minAvailable",
                    format!("PodDisruptionBudget `{name}` has minAvailable 100%, so no pod may ever be evicted"),
                ),
                Some(Value::Number(n)) => {
                    let selector = spec.get("selector").cloned().unwrap_or_default();
                    facts.0.push(Fact::Budget {
                        ns,
                        selector,
                        min: n.as_i64().unwrap_or(0),
                        spot: spot(ctx, "/spec/minAvailable", true),
                    });
                }
                _ => {}
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
    facts.0.push(Fact::Pods {
        ns: namespace(&ctx.doc.value),
        kind: pod.kind.to_string(),
        name: pod.name.clone(),
        labels: labels_of(pod.labels()),
        replicas: pod.replicas.as_ref().map(|(n, _)| *n).unwrap_or(1),
        account: account.map(|a| (a.to_string(), spot(ctx, &account_ptr, true))),
        spot: spot(ctx, if pod.labels().is_some() { &labels_ptr } else { "/metadata/name" }, false),
    });
}

/// Checks the facts of one directory.
pub fn cross_check(facts: &[&Facts], opts: &Options) -> Vec<Finding> {
    let all: Vec<&Fact> = facts.iter().flat_map(|f| f.0.iter()).collect();
    let pods = || {
        all.iter().filter_map(|f| match f {
            Fact::Pods { ns, labels, replicas, kind, name, .. } => Some((ns, labels, *replicas, kind, name)),
            _ => None,
        })
    };
    let mut out = Vec::new();
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
                if let Some((_, _, replicas, kind, name)) = pods()
                    .find(|(pns, labels, ..)| *pns == ns && selector_matches(selector, labels))
                    .filter(|p| *min >= p.2)
                {
                    report(&PDB_MIN_AVAILABLE, spot, format!("minAvailable {min} is not below the {replicas} replicas of {kind} `{name}`, so no pod may ever be evicted"));
                }
            }
            Fact::Policy { .. } | Fact::Account { .. } => {}
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
