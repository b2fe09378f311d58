//! RBAC: what Roles and ClusterRoles grant, and what their bindings hand
//! out, each finding at the line that grants it. A rule of a role is read as
//! the authorizer reads it (`*` matches everything, `pods/*` every
//! subresource, apiGroup `""` the core group); a binding is judged by the
//! role of its directory that it names (kube-linter's access checks and
//! polaris' RBAC checks do the same). Kubernetes' own objects, named
//! `system:...` (and the default roles admin, edit, view and cluster-admin),
//! are left alone: a cluster brings them, whatever a manifest says.

use super::*;

/// Roles a cluster defines itself: a binding may name them without a file.
fn builtin_cluster_role(name: &str) -> bool {
    matches!(name, "cluster-admin" | "admin" | "edit" | "view") || name.starts_with("system:")
}

/// Kubernetes' own objects, which no finding is about.
fn exempt(name: &str) -> bool {
    builtin_cluster_role(name) || name == "gce:podsecuritypolicy:calico-sa"
}

/// One rule of a role, as the authorizer matches it.
#[derive(Debug, Clone, Default)]
pub struct PolicyRule {
    groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
}

impl PolicyRule {
    fn read(v: &Value) -> PolicyRule {
        let list = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        PolicyRule { groups: list("apiGroups"), resources: list("resources"), verbs: list("verbs") }
    }

    fn group(&self, g: &str) -> bool {
        self.groups.iter().any(|x| x == "*" || x == g)
    }

    /// The authorizer's ResourceMatches: `*`, the resource itself, or
    /// `*/<subresource>` for a subresource of any resource.
    fn resource(&self, r: &str) -> bool {
        let sub = r.split_once('/').map(|(_, s)| s);
        self.resources.iter().any(|x| x == "*" || x == r || sub.is_some_and(|s| x.strip_prefix("*/") == Some(s)))
    }

    fn verb(&self, v: &str) -> bool {
        self.verbs.iter().any(|x| x == "*" || x == v)
    }

    /// The verbs of `want` this rule grants on `resource` of `group`.
    fn grants(&self, group: &str, resource: &str, want: &[&str]) -> Vec<String> {
        if !self.group(group) || !self.resource(resource) {
            return Vec::new();
        }
        want.iter().filter(|v| self.verb(v)).map(|v| v.to_string()).collect()
    }

    /// Everything on everything: cluster-admin's rule (polaris also counts
    /// the seven verbs that make up `*` for objects).
    fn everything(&self) -> bool {
        const ALL: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete"];
        let verbs = self.verbs.iter().any(|v| v == "*") || ALL.iter().all(|v| self.verbs.iter().any(|x| x == v));
        self.groups.iter().any(|g| g == "*") && self.resources.iter().any(|r| r == "*") && verbs
    }
}

/// What a role grants that its bindings hand out, for the checks across files.
#[derive(Debug, Clone)]
pub struct RoleFacts {
    pub kind: String,
    pub ns: String,
    pub name: String,
    pub rules: Vec<PolicyRule>,
}

impl RoleFacts {
    /// The verbs on pods/exec or pods/attach, or on secrets, ... the role grants.
    fn grants(&self, group: &str, resource: &str, want: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = self.rules.iter().flat_map(|r| r.grants(group, resource, want)).collect();
        out.sort();
        out.dedup();
        out
    }

    fn pod_exec(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["pods/exec", "pods/attach"] {
            let verbs = self.grants("", sub, &["get", "create"]);
            if !verbs.is_empty() {
                out.push(format!("[{}] on {sub}", verbs.join(", ")));
            }
        }
        out
    }
}

/// The checks of one Role or ClusterRole: wildcards, escalation verbs, and
/// pods/exec; returns what its bindings need.
pub fn role(ctx: &mut Ctx, kind: &str) -> Option<RoleFacts> {
    let v = &ctx.doc.value;
    let name = v.get("metadata").and_then(|m| s(m, "name")).unwrap_or("?").to_string();
    let ns = v.get("metadata").and_then(|m| s(m, "namespace")).unwrap_or("default").to_string();
    let mut rules = Vec::new();
    let list: Vec<(String, Value)> = items(v, "rules", "").map(|(p, r)| (p, r.clone())).collect();
    for (rp, r) in &list {
        let rule = PolicyRule::read(r);
        if !exempt(&name) {
            for (field, what) in [("verbs", "verb"), ("resources", "resource"), ("apiGroups", "API group")] {
                for (ip, x) in items(r, field, rp) {
                    if x.as_str() == Some("*") && field != "apiGroups" {
                        let msg = format!("{kind} `{name}` grants every {what} (`*`) in one rule");
                        ctx.value(&WILDCARD_IN_RULES, &ip, msg);
                    }
                }
            }
            for (ip, x) in items(r, "verbs", rp) {
                if let Some(verb @ ("bind" | "escalate" | "impersonate")) = x.as_str() {
                    let what = match verb {
                        "bind" => "bind roles it does not hold itself",
                        "escalate" => "write roles with more than it holds",
                        _ => "act as other users, groups or service accounts",
                    };
                    ctx.value(
                        &ESCALATION_VERBS,
                        &ip,
                        format!("{kind} `{name}` grants `{verb}`, which lets its holders {what}"),
                    );
                }
            }
            let facts = RoleFacts { kind: kind.into(), ns: ns.clone(), name: name.clone(), rules: vec![rule.clone()] };
            let exec = facts.pod_exec();
            if !exec.is_empty() {
                let at = items(r, "resources", rp).next().map(|(p, _)| p).unwrap_or_else(|| rp.clone());
                ctx.value(
                    &ACCESS_TO_POD_EXEC,
                    &at,
                    format!("{kind} `{name}` grants {}: a shell in its pods", exec.join(" and ")),
                );
            }
        }
        rules.push(rule);
    }
    Some(RoleFacts { kind: kind.into(), ns, name, rules })
}

/// What a binding says, for the checks across files.
#[derive(Debug, Clone)]
pub struct BindingFacts {
    pub kind: String,
    pub ns: String,
    pub name: String,
    pub role_kind: String,
    pub role_name: String,
}

/// The checks of one RoleBinding or ClusterRoleBinding on its own: bindings
/// to cluster-admin, and subjects that stand for everyone.
pub fn binding(ctx: &mut Ctx, kind: &str) -> Option<BindingFacts> {
    let v = &ctx.doc.value;
    let name = v.get("metadata").and_then(|m| s(m, "name")).unwrap_or("?").to_string();
    let ns = v.get("metadata").and_then(|m| s(m, "namespace")).unwrap_or("default").to_string();
    let role = v.get("roleRef")?;
    let (role_kind, role_name) = (s(role, "kind").unwrap_or("").to_string(), s(role, "name").unwrap_or("").to_string());
    if exempt(&name) {
        return None;
    }
    if role_kind == "ClusterRole" && role_name == "cluster-admin" {
        ctx.value(
            &CLUSTER_ADMIN_ROLE_BINDING,
            "/roleRef/name",
            format!("{kind} `{name}` binds cluster-admin, every permission in the cluster, to {}", subjects(v)),
        );
    }
    let subject_list: Vec<(String, Value)> = items(v, "subjects", "").map(|(p, x)| (p, x.clone())).collect();
    for (sp, subject) in &subject_list {
        let (k, n) = (s(subject, "kind").unwrap_or(""), s(subject, "name").unwrap_or(""));
        let who = match (k, n) {
            (_, "system:anonymous") => Some("every request that has no credentials"),
            ("Group", "system:unauthenticated") => Some("every request that has no credentials"),
            ("Group", "system:authenticated") => Some("every user and service account that can log in"),
            ("Group", "system:serviceaccounts") => Some("every service account of every namespace"),
            ("Group", "system:masters") => {
                Some("system:masters, which bypasses RBAC anyway, so the binding does nothing")
            }
            _ => None,
        };
        if let Some(who) = who {
            let msg = format!("{kind} `{name}` binds `{}` to {k} `{n}`: {who}", role_name);
            ctx.value(&SYSTEM_SUBJECT_BINDING, &format!("{sp}/name"), msg);
        }
    }
    Some(BindingFacts { kind: kind.into(), ns, name, role_kind, role_name })
}

/// `Kind name` of a binding's subjects, for messages.
fn subjects(v: &Value) -> String {
    let list: Vec<String> = items(v, "subjects", "")
        .map(|(_, x)| format!("{} `{}`", s(x, "kind").unwrap_or("?"), s(x, "name").unwrap_or("?")))
        .collect();
    if list.is_empty() {
        "no subject".into()
    } else {
        list.join(", ")
    }
}

/// What a binding hands out through the role it names, judged once every
/// role of the directory is known: the message, with the rule it is under.
pub fn bound(b: &BindingFacts, roles: &[&RoleFacts]) -> Vec<(&'static Rule, String)> {
    let role = roles
        .iter()
        .find(|r| r.kind == b.role_kind && r.name == b.role_name && (r.kind == "ClusterRole" || r.ns == b.ns));
    let Some(role) = role else {
        if b.role_kind == "Role" || !builtin_cluster_role(&b.role_name) {
            let msg = format!(
                "{} `{}` binds {} `{}`, which no file of this directory defines: until it exists the binding grants nothing (and what it will grant is not checked)",
                b.kind, b.name, b.role_kind, b.role_name
            );
            return vec![(&DANGLING_ROLE_REF, msg)];
        }
        return Vec::new();
    };
    // A role the directory defines is judged by what it says, even under a
    // name like Kubernetes' own (`system:test`).
    let mut out = Vec::new();
    let which = format!("{} `{}` binds {} `{}`", b.kind, b.name, role.kind, role.name);
    if role.name != "cluster-admin" && role.rules.iter().any(PolicyRule::everything) {
        out.push((
            &CLUSTER_ADMIN_ROLE_BINDING,
            format!("{which}, which grants every verb on every resource: cluster-admin under another name"),
        ));
    }
    let exec = role.pod_exec();
    if !exec.is_empty() {
        out.push((&ACCESS_TO_POD_EXEC, format!("{which}, which grants {}: a shell in the pods", exec.join(" and "))));
    }
    let secrets = role.grants("", "secrets", &["get", "list", "watch"]);
    if !secrets.is_empty() {
        out.push((&ACCESS_TO_SECRETS, format!("{which}, which grants [{}] on secrets", secrets.join(", "))));
    }
    let pods = role.grants("", "pods", &["create"]);
    if !pods.is_empty() {
        out.push((&ACCESS_TO_CREATE_PODS, format!("{which}, which grants [create] on pods: any service account's permissions, through a pod that runs as it")));
    }
    out
}
