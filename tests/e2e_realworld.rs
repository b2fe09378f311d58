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

#[test]
fn a_kube_prometheus_shaped_bundle_renders_and_its_pods_come_up() {
    run_test("fixtures/tests/kube-prom.yaml");
}

#[test]
fn an_app_reads_its_service_variables_downward_api_and_live_projected_volume() {
    run_test("fixtures/tests/kubelet-env.yaml");
}
