//! End-to-end tests against real podman for bundles written the way real
//! projects write them: a kube-prometheus-shaped bundle, and an app that reads
//! the kubelet's environment (Service variables, downward API, projected
//! volumes that update live).
//!
//! Like tests/e2e.rs, the tests share one podman: each checks that podman
//! holds no podproof object before it starts and after it ends (run them under
//! `flock /tmp/podproof-e2e.lock`).

mod common;

use common::Test;

fn run_test(file: &str) {
    let Some(_g) = common::podman_exclusive() else { return };
    Test::new().args(["test", file]).stdout_contains("1 passed, 0 failed").run();
    common::assert_clean(file);
}

/// The bundle's pods come up although it holds kinds podproof skips; the run
/// says so in one line, and its JSON report and record list every entry.
#[test]
fn a_kube_prometheus_shaped_bundle_renders_and_its_pods_come_up() {
    let Some(_g) = common::podman_exclusive() else { return };
    let file = "fixtures/tests/kube-prom.yaml";
    let dir = common::tempdir();
    let report = dir.path().join("report.json");
    let out = Test::new()
        .args(["test", file, "--report", &format!("json={}", report.display())])
        .stdout_contains("1 passed, 0 failed")
        .run();
    common::assert_clean(file);
    // The render's 14, and the grafana pod's 30 s grace period, which the run's 1 s `--grace` caps.
    let summary = "podproof did not honour 15 things in this input (10 kinds, 5 fields): `--ledger` lists them";
    assert_eq!(out.stderr.matches("podproof did not honour").count(), 1, "{out}");
    out.assert_stderr_contains(summary);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let ledger = json["tests"][0]["ledger"].as_array().expect("the report lists the ledger");
    assert_eq!(ledger.len(), 15, "{ledger:?}");
    let grace = ledger
        .iter()
        .find(|e| e["name"] == "spec.template.spec.terminationGracePeriodSeconds")
        .expect("the capped grace period is listed");
    assert_eq!(grace["file"], "fixtures/apps/kube-prom/grafana-deployment.yaml");
    assert_eq!((grace["line"].as_u64(), grace["column"].as_u64()), (Some(17), Some(5)));
    let policy = ledger.iter().find(|e| e["name"] == "NetworkPolicy").expect("the NetworkPolicy is listed");
    assert_eq!(policy["file"], "fixtures/apps/kube-prom/grafana-networkPolicy.yaml");
    assert_eq!((policy["line"].as_u64(), policy["column"].as_u64()), (Some(2), Some(7)));
    assert_eq!(policy["what"], "kind");
    // The test record lists the app's own entries (the grace period is the run's).
    let record = out.stderr.lines().find_map(|l| l.strip_prefix("record: ")).expect("a record was written");
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(common::root().join(record)).unwrap()).unwrap();
    let app = rec["apps"].as_array().unwrap().iter().find(|a| a["name"] == "kube-prom").expect("the app's record");
    assert_eq!(app["ledger"].as_array().map(Vec::len), Some(14), "{app}");
}

#[test]
fn an_app_reads_its_service_variables_downward_api_and_live_projected_volume() {
    run_test("fixtures/tests/kubelet-env.yaml");
}
