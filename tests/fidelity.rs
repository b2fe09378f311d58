//! The fidelity ledger through the real binary, without podman: what a run
//! of the kube-prometheus-shaped bundle says it did not honour, `--strict`,
//! and lint's `podman-ignored-field` agreeing with the ledger.

mod common;

use common::Test;
use std::collections::BTreeSet;

const KP: &str = "fixtures/apps/kube-prom";

/// Every kind the bundle holds that podproof skips, where its `kind` value is.
const SKIPPED: &[&str] = &[
    "alertmanager-alertmanager.yaml:2:7: warning: kind `Alertmanager`",
    "grafana-networkPolicy.yaml:2:7: warning: kind `NetworkPolicy`",
    "grafana-podDisruptionBudget.yaml:2:7: warning: kind `PodDisruptionBudget`",
    "grafana-serviceAccount.yaml:3:7: warning: kind `ServiceAccount`",
    "prometheus-clusterRole.yaml:2:7: warning: kind `ClusterRole`",
    "prometheus-prometheus.yaml:2:7: warning: kind `Prometheus`",
    "prometheus-prometheus.yaml:11:7: warning: kind `ServiceMonitor`",
    "prometheus-roleBindingSpecificNamespaces.yaml:4:9: warning: kind `RoleBinding`",
    "prometheus-roleSpecificNamespaces.yaml:4:9: warning: kind `Role`",
    "prometheus-roleSpecificNamespaces.yaml:13:9: warning: kind `Role`",
];

const SUMMARY: &str = "podproof did not honour 14 things in this input (10 kinds, 4 fields)";

#[test]
fn a_render_says_once_what_it_did_not_honour() {
    let out = Test::new().args(["render", KP]).run();
    out.assert_stdout_contains("grafana-dashboard-nodes");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines, [format!("{SUMMARY}: `podproof render --ledger` lists them")], "{out}");
}

#[test]
fn the_ledger_lists_the_skipped_kinds_with_their_lines() {
    let out = Test::new().args(["render", "--ledger", KP]).run();
    for s in SKIPPED {
        out.assert_stderr_contains(&format!("{KP}/{s}"));
    }
    out.assert_stderr_contains("grafana-deployment.yaml:48:7: warning: field `spec.template.spec.nodeSelector` of `Deployment/grafana` is not honoured: nothing is scheduled locally");
    out.assert_stderr_contains(&format!("{SUMMARY}: listed above"));
    // The lists themselves are read, not skipped.
    out.assert_stderr_lacks("ConfigMapList");
    out.assert_stderr_lacks("RoleList");
}

#[test]
fn strict_refuses_everything_the_ledger_lists_before_anything_starts() {
    let out = Test::new().args(["render", "--strict", KP]).expect_status(2).expect_stdout("").run();
    out.assert_stderr_contains(
        "error: --strict: podproof does not honour 14 things in this input; nothing was started",
    );
    for s in SKIPPED {
        out.assert_stderr_contains(&format!("{KP}/{}", s.replace("warning:", "error:")));
    }
    out.assert_stderr_contains("grafana-deployment.yaml:54:7: error: field `spec.template.spec.serviceAccountName`");
    // An input podproof honours in full passes under --strict.
    Test::new().args(["render", "--strict", "fixtures/apps/busybox-httpd"]).expect_stderr("").run();
}

/// `file:line:column` of every `podman-ignored-field` finding, from lint's JSON.
fn linted(path: &str) -> BTreeSet<String> {
    let out = Test::new().args(["lint", "--format", "json", path]).any_status().run();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("lint prints JSON");
    json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "podman-ignored-field")
        .map(|f| format!("{}:{}:{}", f["file"].as_str().unwrap(), f["line"], f["column"]))
        .collect()
}

/// `file:line:column` of every field entry of the ledger.
fn ledger_fields(path: &str) -> BTreeSet<String> {
    let out = Test::new().args(["render", "--ledger", path]).run();
    out.stderr
        .lines()
        .filter(|l| l.contains(": warning: field `"))
        .map(|l| l.split(": warning:").next().unwrap().to_string())
        .collect()
}

#[test]
fn lint_and_the_ledger_agree_on_the_fields_podman_ignores() {
    // Every field of this bundle that podman ignores, podproof does not make
    // up for, but grafana's fsGroup: podproof gives the group itself.
    let mut lint = linted(KP);
    assert!(lint.remove("fixtures/apps/kube-prom/grafana-deployment.yaml:51:9"), "fsGroup is linted: {lint:?}");
    assert!(!lint.is_empty());
    let mut ledger = ledger_fields(KP);
    // podman does not ignore a Service's selector: podproof's names resolve
    // to pods that are not ready yet, which a cluster leaves out.
    assert!(ledger.remove("fixtures/apps/kube-prom/grafana-service.yaml:13:3"), "{ledger:?}");
    assert_eq!(lint, ledger);
    // A field podproof makes up for is linted but not in the ledger; one
    // podproof itself drops is in the ledger but not linted.
    let dir = common::tempdir();
    let f = dir.path().join("pod.yaml");
    std::fs::write(
        &f,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  enableServiceLinks: false\n  tolerations: []\n  containers:\n  - name: c\n    image: localhost/podproof/busybox:latest\n    livenessProbe: {exec: {command: [\"true\"]}}\n",
    )
    .unwrap();
    let f = f.display().to_string();
    let lint = linted(&f);
    let ledger = ledger_fields(&f);
    assert_eq!(lint, [format!("{f}:5:3"), format!("{f}:6:3")].into(), "lint");
    assert_eq!(ledger, [format!("{f}:6:3"), format!("{f}:10:5")].into(), "ledger");
}
