//! Bundles that no one here wrote, read the way kubectl reads them, without
//! podman: typed Lists, files given together, errors in the right file.

mod common;

use common::Test;

const KP: &str = "fixtures/apps/kube-prom";

#[test]
fn typed_lists_are_read_item_by_item_when_rendering() {
    let out = Test::new().args(["render", "--ledger", KP]).run();
    // The dashboards of the ConfigMapList are mounted, so Grafana renders.
    out.assert_stdout_contains("grafana-dashboard-nodes");
    // Each RBAC item of the typed Lists is skipped on its own line of the ledger.
    out.assert_stderr_contains("prometheus-roleSpecificNamespaces.yaml:4:9: warning: kind `Role`");
    out.assert_stderr_contains("prometheus-roleSpecificNamespaces.yaml:13:9: warning: kind `Role`");
    out.assert_stderr_contains("prometheus-roleBindingSpecificNamespaces.yaml:4:9: warning: kind `RoleBinding`");
    out.assert_stderr_lacks("ConfigMapList");
    out.assert_stderr_lacks("RoleList");
}

#[test]
fn typed_lists_are_read_item_by_item_when_linting() {
    let out = Test::new().args(["lint", "--format", "json", KP]).any_status().run();
    assert!(!out.stdout.contains("needs `metadata.name`"), "{out}");
    assert!(!out.stdout.contains("`ConfigMapList`"), "{out}");
    assert!(out.stdout.contains("`RoleBinding`"), "the items of a RoleBindingList are linted\n{out}");
}

#[test]
fn files_given_together_form_one_app() {
    let dir = tempfile::tempdir().unwrap();
    let svc = dir.path().join("svc.yaml");
    let deploy = dir.path().join("deploy.yaml");
    std::fs::write(
        &svc,
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n",
    )
    .unwrap();
    std::fs::write(
        &deploy,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: localhost/podproof/busybox:latest}]\n",
    )
    .unwrap();
    let (s, d) = (svc.display().to_string(), deploy.display().to_string());
    // A Service file given first is not "no app found": the set is one app, named after the first file.
    let out = Test::new().args(["render", &s, &d]).run();
    out.assert_stdout_contains("podproof.dev/app: svc");
    assert_eq!(out.stdout.matches("kind: Pod").count(), 1, "{out}");
    // A Service file alone still runs nothing.
    Test::new().args(["render", &s]).expect_status(2).stderr_contains("no app found").run();
}

#[test]
fn a_render_error_names_the_file_and_line_that_caused_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-first.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n")
        .unwrap();
    std::fs::write(
        dir.path().join("b-deploy.yaml"),
        "# a comment\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: localhost/podproof/busybox:latest}]\n      volumes: [{name: v, configMap: {name: missing}}]\n",
    )
    .unwrap();
    let out = Test::new().args(["render", &dir.path().display().to_string()]).expect_status(2).run();
    out.assert_stderr_contains("b-deploy.yaml:3:1: error: pod `web-0`: volume `v` names ConfigMap `missing`");
    out.assert_stderr_lacks("a-first.yaml");
}

const INGRESS_NGINX: &str = "fixtures/public/ingress-nginx.yaml";
const BOUTIQUE: &str = "fixtures/public/microservices-demo.yaml";

#[test]
fn public_bundles_lint_without_false_errors() {
    // Both bundles are applied to real clusters every day: an error here would
    // be podproof's, not theirs.
    for f in [INGRESS_NGINX, BOUTIQUE] {
        for target in ["cluster", "podman"] {
            let out = Test::new().args(["lint", "--target", target, f]).any_status().run();
            // ingress-nginx's admission Secret is made by a Job at install
            // time: render refuses to run the controller without it, and lint
            // for podman says the same, at the same volume.
            let expected = if f == INGRESS_NGINX && target == "podman" { "1 error" } else { "0 errors" };
            assert!(out.stdout.contains(expected), "{f} --target {target}\n{out}");
            if expected == "1 error" {
                out.assert_stdout_contains("error[undefined-config-reference]: pod `ingress-nginx-controller`: volume `webhook-cert` names Secret `ingress-nginx-admission`");
            }
        }
    }
}

#[test]
fn the_online_boutique_renders_every_workload() {
    let out = Test::new().args(["render", "--ledger", BOUTIQUE]).run();
    assert_eq!(out.stdout.matches("kind: Pod").count(), 12, "{out}");
    // Its ServiceAccounts are skipped on their own lines, not silently, and so
    // is the port translation of the Service that maps 80 to 8080.
    out.assert_stderr_contains("microservices-demo.yaml:145:7: warning: kind `ServiceAccount`");
    out.assert_stderr_contains(
        "microservices-demo.yaml:141:5: warning: field `spec.ports[0].port` of `Service/frontend-external`",
    );
}

#[test]
fn ingress_nginx_is_refused_at_the_secret_only_a_cluster_job_creates() {
    // The controller mounts a Secret that the admission Job creates against the
    // API server at run time; podproof cannot, and says where.
    Test::new()
        .args(["render", INGRESS_NGINX])
        .expect_status(2)
        .stderr_contains("ingress-nginx.yaml:392:1: error: pod `ingress-nginx-controller-0`: volume `webhook-cert` names Secret `ingress-nginx-admission`, which is not defined")
        .run();
}
