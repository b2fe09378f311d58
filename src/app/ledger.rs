//! A run's fidelity ledger, from its apps: the entries loading recorded
//! (`fidelity` decides them, from its table), each once, less what a test
//! run's pod workers perform, and the pods whose grace period the run caps.

use super::App;
use crate::fidelity::{path_of, Entry};

/// Where a run's grace comes from, as its entries name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraceFrom {
    /// `podproof test --grace`, or its default.
    TestFlag,
    /// `test.grace` in podproof.yaml.
    TestConfig,
    /// What `podproof up` gives each stop it makes.
    Up,
}

/// The ledger entries of a run whose stops wait at most `grace`: every pod
/// given longer, once each, in input order.
pub fn grace_entries<'a>(
    apps: impl IntoIterator<Item = &'a App>,
    grace: std::time::Duration,
    from: GraceFrom,
) -> Vec<Entry> {
    let cap = grace.as_secs_f64();
    let by = match from {
        GraceFrom::TestFlag => "`podproof test --grace`",
        GraceFrom::TestConfig => "`test.grace` in podproof.yaml",
        GraceFrom::Up => "`podproof up`'s own",
    };
    let mut out: Vec<Entry> = Vec::new();
    for site in apps.into_iter().flat_map(|a| a.grace_sites.iter()).filter(|s| s.seconds as f64 > cap) {
        let mut e = site.at.clone();
        if let Some(p) = path_of(&e) {
            e.file = crate::source::display(&p);
        }
        e.reason = format!(
            "every stop of the run waits at most {grace:?} ({by}), not the {} s this pod is given: \
             a container still stopping then is killed sooner than in a cluster",
            site.seconds
        );
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

/// Fields that `podproof test`'s pod workers perform although `render` and
/// `up` cannot: a test run leaves their entries out of its ledger.
const PERFORMED_BY_TESTS: &[&str] = &["livenessProbe"];

/// The ledger of a test run whose stops wait at most `grace`: the apps'
/// entries without what its pod workers perform, then the pods given a
/// longer grace period than that.
pub fn of_test_run<'a>(
    apps: impl IntoIterator<Item = &'a App> + Clone,
    grace: std::time::Duration,
    from: GraceFrom,
    podman: crate::fidelity::PodmanVersion,
) -> Vec<Entry> {
    let mut out = crate::fidelity::for_podman(for_tests(of_apps(apps.clone())), podman);
    out.extend(grace_entries(apps, grace, from));
    out
}

/// The ledger of a run that stops pods within `grace` (`up`): the apps'
/// entries, then the pods given a longer grace period than that.
pub fn of_run<'a>(
    apps: impl IntoIterator<Item = &'a App> + Clone,
    grace: std::time::Duration,
    podman: crate::fidelity::PodmanVersion,
) -> Vec<Entry> {
    let mut out = crate::fidelity::for_podman(of_apps(apps.clone()), podman);
    out.extend(grace_entries(apps, grace, GraceFrom::Up));
    out
}

/// A test run's entries without what its pod workers perform.
fn for_tests(entries: Vec<Entry>) -> Vec<Entry> {
    entries
        .into_iter()
        .filter(|e| e.is_kind() || !PERFORMED_BY_TESTS.iter().any(|f| e.name.ends_with(&format!(".{f}"))))
        .collect()
}

/// The entries of a run, each once, in input order.
pub fn of_apps<'a>(apps: impl IntoIterator<Item = &'a App>) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for e in apps.into_iter().flat_map(|a| a.ledger.iter()) {
        // Test apps are read relative to the test's directory: show them
        // from the current directory, as the user would type them.
        let mut e = e.clone();
        if let Some(p) = path_of(&e) {
            e.file = crate::source::display(&p);
        }
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The grace entries of one input for a run whose stops wait `grace`, one
    /// `line:column name seconds` per entry.
    fn check_grace(input: &str, grace: std::time::Duration, expect: &[&str]) {
        let src = crate::source::from_bytes("in.yaml", None, ".".into(), ".".into(), input.as_bytes().to_vec())
            .expect("utf-8");
        let loaded = crate::app::load::load_sources([("in.yaml", Ok(vec![src]))]);
        let got: Vec<String> = grace_entries(&loaded.apps, grace, GraceFrom::TestFlag)
            .iter()
            .map(|e| format!("{}:{} {} {}", e.line, e.column, e.name, e.reason.split(" s this").next().unwrap()))
            .collect();
        let expect: Vec<String> = expect.iter().map(|e| e.to_string()).collect();
        assert_eq!(got, expect, "{:?}", loaded.diagnostics);
    }

    #[test]
    fn stops_shorter_than_a_pods_grace_period_are_entries() {
        let one = std::time::Duration::from_secs(1);
        let reason = "every stop of the run waits at most 1s (`podproof test --grace`), not the";
        // Left out: Kubernetes' 30 s, at the pod spec.
        check_grace(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: x}]\n",
            one,
            &[&format!("8:5 spec.template.spec.terminationGracePeriodSeconds {reason} 30")],
        );
        // Written, at the field; no longer than the run's grace, no entry.
        let pod = |s: &str| {
            format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  terminationGracePeriodSeconds: {s}\n  containers: [{{name: c, image: x}}]\n")
        };
        check_grace(&pod("5"), one, &[&format!("5:3 spec.terminationGracePeriodSeconds {reason} 5")]);
        check_grace(&pod("1"), one, &[]);
        check_grace(&pod("0"), one, &[]);
        check_grace(&pod("5"), std::time::Duration::from_secs(30), &[]);
        // An App's role, where its members' pods are decided.
        check_grace(
            "apiVersion: podproof.dev/v1alpha1\nkind: App\nmetadata: {name: a}\nspec:\n  roles:\n  - name: web\n    image: x\n  - name: db\n    image: z\n    terminationGracePeriodSeconds: 10\n",
            std::time::Duration::from_millis(1500),
            &[
                "6:5 spec.roles[0].terminationGracePeriodSeconds every stop of the run waits at most 1.5s (`podproof test --grace`), not the 30",
                "10:5 spec.roles[1].terminationGracePeriodSeconds every stop of the run waits at most 1.5s (`podproof test --grace`), not the 10",
            ],
        );
    }
}
