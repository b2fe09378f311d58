//! Reloads against real podman and real servers (nginx, PostgreSQL 15,
//! Prometheus, HAProxy, and a silent app): a good config takes effect, a broken
//! one is `failed` with the app's own words as evidence while the old config is
//! still served, and a good one after it takes effect again.
//!
//! The tests share one podman with tests/e2e.rs: run them under the common lock
//! (`flock /tmp/podproof-e2e.lock cargo test --release --test reload_e2e`).

mod common;

use common::{root, Test};
use std::time::Duration;

/// The reports of the config steps of one test in a JSON report: (step, outcome, evidence texts).
fn reloads(report: &serde_json::Value, test: &str) -> Vec<(String, String, String)> {
    let t = report["tests"].as_array().unwrap().iter().find(|t| t["name"] == test).unwrap_or_else(|| panic!("{test}"));
    let mut out = Vec::new();
    for s in t["steps"].as_array().unwrap().iter().filter(|s| s["action"] == "config") {
        let r = &s["reloads"][0];
        let evidence: Vec<String> =
            r["evidence"].as_array().unwrap().iter().map(|e| format!("{}: {}", e["source"], e["text"])).collect();
        assert!(s["reload_ms"].as_u64().is_some(), "{s}");
        out.push((
            s["name"].as_str().unwrap().to_string(),
            r["outcome"].as_str().unwrap().to_string(),
            evidence.join("\n"),
        ));
    }
    out
}

fn step<'a>(rs: &'a [(String, String, String)], name: &str) -> &'a (String, String, String) {
    rs.iter().find(|r| r.0 == name).unwrap_or_else(|| panic!("no step {name} in {rs:?}"))
}

#[test]
fn every_server_takes_a_good_config_rejects_a_bad_one_and_takes_a_good_one_again() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let json = dir.path().join("report.json");
    let out = Test::new()
        .args(["test", "fixtures/tests/reload-servers.yaml", "-j", "3"])
        .arg(format!("--report=json={}", json.display()))
        .timeout(Duration::from_secs(600))
        .run();
    out.assert_stdout_contains("5 passed, 0 failed");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for (test, bad_says) in [
        ("reload-nginx-evidence", "[emerg]"),
        ("reload-postgres", "invalid value for parameter"),
        ("reload-haproxy", "[ALERT]"),
        ("reload-prometheus-again", "Error reloading config"),
    ] {
        let rs = reloads(&report, test);
        assert_eq!(step(&rs, "good").1, "succeeded", "{test}: {rs:?}");
        let bad = step(&rs, "bad");
        assert_eq!(bad.1, "failed", "{test}: {rs:?}");
        assert!(bad.2.contains(bad_says), "{test}: the evidence lacks {bad_says}: {}", bad.2);
        assert_eq!(step(&rs, "good again").1, "succeeded", "{test}: {rs:?}");
        // Each verified reload is a `Reloaded` entry on the test's timeline.
        let t = report["tests"].as_array().unwrap().iter().find(|t| t["name"] == test).unwrap();
        let reloaded = t["timeline"].as_array().unwrap().iter().filter(|e| e["reason"] == "Reloaded").count();
        assert!(reloaded >= 2, "{test}: {} Reloaded entries in {}", reloaded, t["timeline"]);
    }
    let silent = reloads(&report, "reload-silent");
    assert_eq!(step(&silent, "without a check nothing shows the effect").1, "unverified", "{silent:?}");
    assert_eq!(step(&silent, "good, with a declared check").1, "succeeded", "{silent:?}");
    assert_eq!(step(&silent, "bad, the check never passes").1, "failed", "{silent:?}");
    assert_eq!(step(&silent, "good again").1, "succeeded", "{silent:?}");
    common::assert_clean("the reload servers");
}

#[test]
fn expecting_succeeded_for_a_broken_nginx_config_fails_and_shows_the_emerg_line() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let json = dir.path().join("report.json");
    let out = Test::new()
        .args(["test", "fixtures/failing/reload-nginx-broken.yaml"])
        .arg(format!("--report=json={}", json.display()))
        .expect_status(1)
        .run();
    out.assert_stdout_contains("--- FAIL reload-nginx-broken")
        .assert_stdout_contains("reload: expected succeeded, seen failed")
        .assert_stdout_contains("[emerg]")
        .assert_stdout_contains("unknown directive \"no_such_directive\"");
    let report = std::fs::read_to_string(&json).unwrap();
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    let rs = reloads(&v, "reload-nginx-broken");
    assert_eq!(rs[0].1, "failed", "{rs:?}");
    assert!(rs[0].2.contains("[emerg]"), "{rs:?}");
    // The timeline has the reload, with the key that changed and why it failed,
    // in the JSON report and in the failure report.
    let t = v["tests"].as_array().unwrap().iter().find(|t| t["name"] == "reload-nginx-broken").unwrap();
    let failed = t["timeline"].as_array().unwrap().iter().find(|e| e["reason"] == "FailedReload");
    let failed = failed.unwrap_or_else(|| panic!("no FailedReload in {}", t["timeline"]));
    assert_eq!(failed["kind"], "Warning", "{failed}");
    let msg = failed["message"].as_str().unwrap();
    assert!(msg.contains("ConfigMap nginx-conf key default.conf not in effect"), "{msg}");
    assert!(failed["at_ms"].as_u64().is_some(), "{failed}");
    out.assert_stdout_contains("FailedReload");
    common::assert_clean("a broken nginx config");
}

#[test]
fn expecting_succeeded_from_a_silent_app_says_how_to_declare_a_check() {
    let Some(_g) = common::podman_exclusive() else { return };
    let dir = common::tempdir();
    let t = dir.path().join("silent.yaml");
    let app = root().join("fixtures/apps/silent-app/app.yaml");
    std::fs::write(
        &t,
        format!(
            "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: silent-unverified}}\nspec:\n  apps: [{}]\n  steps:\n    - up: {{}}\n    - config: {{configMap: silent-app-config, data: {{page: \"page v2\\n\"}}}}\n      expect: {{reload: succeeded}}\n",
            app.display()
        ),
    )
    .unwrap();
    let out = Test::new().arg("test").arg(&t).expect_status(1).run();
    out.assert_stdout_contains("reload: expected succeeded, seen unverified")
        .assert_stdout_contains("Declare a check")
        .assert_stdout_contains("verify:");
    common::assert_clean("a silent app without a check");
}
