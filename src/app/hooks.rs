//! Helm hooks as the model has them: the objects a chart annotates
//! `helm.sh/hook`, read at load time from their annotations into the app's
//! `hooks`, and the order helm runs them in. Running them is the
//! environment's business (`crate::helm`).

use super::{App, Naming, Role};

pub const HOOK: &str = "helm.sh/hook";
pub const WEIGHT: &str = "helm.sh/hook-weight";
pub const DELETE_POLICY: &str = "helm.sh/hook-delete-policy";

/// The events helm knows (pkg/release/hook.go); `test-success` is helm 2's name for `test`.
pub const EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];
pub const DELETE_POLICIES: &[&str] = &["before-hook-creation", "hook-succeeded", "hook-failed"];

/// One hook of an app: the pod it runs and when.
#[derive(Debug, Clone)]
pub struct Hook {
    pub name: String,
    /// Pod or Job.
    pub kind: String,
    pub events: Vec<String>,
    pub weight: i32,
    pub delete_policies: Vec<String>,
    /// The hook's pod, as a role of one member.
    pub role: Role,
}

/// What a hook's annotations say: events, weight, delete policies, and the
/// problems with them (each with the annotation it is about).
pub type Parsed = (Vec<String>, i32, Vec<String>, Vec<(&'static str, String)>);

/// Reads a hook's annotations. helm ignores an unparsable weight and unknown
/// events; podproof says so instead of guessing.
pub fn parse(annotations: &std::collections::BTreeMap<String, String>) -> Parsed {
    let mut problems = Vec::new();
    let list = |v: Option<&String>| -> Vec<String> {
        v.map(|s| s.split(',').map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect()).unwrap_or_default()
    };
    let mut events = list(annotations.get(HOOK));
    for e in &events {
        if !EVENTS.contains(&e.as_str()) {
            problems.push((HOOK, format!("unknown helm hook event `{e}`: expected one of {}", EVENTS.join(", "))));
        }
    }
    for e in &mut events {
        if e == "test-success" {
            *e = "test".into();
        }
    }
    let weight = match annotations.get(WEIGHT).map(|w| w.trim()) {
        None => 0,
        Some(w) => w.parse::<i32>().unwrap_or_else(|_| {
            problems.push((WEIGHT, format!("hook weight `{w}` is not an integer")));
            0
        }),
    };
    let policies = list(annotations.get(DELETE_POLICY));
    for p in &policies {
        if !DELETE_POLICIES.contains(&p.as_str()) {
            problems.push((
                DELETE_POLICY,
                format!("unknown hook delete policy `{p}`: expected one of {}", DELETE_POLICIES.join(", ")),
            ));
        }
    }
    (events, weight, policies, problems)
}

/// The hooks of `app` for `event`, in the order helm runs them.
pub fn ordered<'a>(app: &'a App, event: &str) -> Vec<&'a Hook> {
    let mut hooks: Vec<&Hook> = app.hooks.iter().filter(|h| h.events.iter().any(|e| e == event)).collect();
    hooks.sort_by(|a, b| a.weight.cmp(&b.weight).then_with(|| a.name.cmp(&b.name)));
    hooks
}

/// The role a hook pod runs as: one member named after the hook, run once
/// (helm waits for a hook pod to end; a restarting one would never end here).
pub fn hook_role(mut role: Role) -> Role {
    role.members = 1;
    role.naming = Naming::Single(role.name.clone());
    if let Some(s) = role.template.spec.as_mut() {
        s.restart_policy = Some("Never".into());
    }
    role
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(annotations: &[(&str, &str)], expect: &str) {
        let a = annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let (events, weight, policies, problems) = parse(&a);
        let problems: Vec<String> = problems.into_iter().map(|(k, p)| format!("{k}: {p}")).collect();
        let got = format!("{events:?} {weight} {policies:?} {problems:?}");
        assert_eq!(got, expect);
    }

    #[test]
    fn annotations() {
        check(&[(HOOK, "test")], r#"["test"] 0 [] []"#);
        check(&[(HOOK, "pre-install, post-install"), (WEIGHT, "-5")], r#"["pre-install", "post-install"] -5 [] []"#);
        check(
            &[(HOOK, "test-success"), (DELETE_POLICY, "hook-succeeded,before-hook-creation")],
            r#"["test"] 0 ["hook-succeeded", "before-hook-creation"] []"#,
        );
        check(
            &[(HOOK, "post-instal"), (WEIGHT, "x"), (DELETE_POLICY, "always")],
            r#"["post-instal"] 0 ["always"] ["helm.sh/hook: unknown helm hook event `post-instal`: expected one of pre-install, post-install, pre-delete, post-delete, pre-upgrade, post-upgrade, pre-rollback, post-rollback, test, test-success", "helm.sh/hook-weight: hook weight `x` is not an integer", "helm.sh/hook-delete-policy: unknown hook delete policy `always`: expected one of before-hook-creation, hook-succeeded, hook-failed"]"#,
        );
    }
}
