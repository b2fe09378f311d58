//! Snapshot testing end to end: the modes of `podproof test` (local, CI,
//! `--update-snapshots`), the `podproof snapshot` commands, and redactions that
//! make two runs byte-identical.
//!
//! Most tests use `script` and `render` steps only: they run on the host and
//! start no pod, so they need no lock. The tests that start pods share podman,
//! so they take a lock and check that no podproof object is left before and
//! after, like tests/e2e.rs.

mod common;

use common::{root, Output, Test};
use std::path::PathBuf;
use std::time::Duration;

/// A project in a temporary directory: test files at its top, snapshots in `snaps/`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// `podproof.yaml` marks the project root, whatever lies above the temp dir.
    fn new() -> Project {
        let p = Project { dir: common::tempdir() };
        p.write("podproof.yaml", "");
        p
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file; `APPS` becomes the fixture apps directory.
    fn write(&self, rel: &str, body: &str) -> &Self {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body.replace("APPS", &root().join("fixtures/apps").display().to_string())).unwrap();
        self
    }

    /// `<name>.yaml`: a Test whose one step runs `sh -c script` and snapshots its stdout as `snap`.
    fn script_test(&self, name: &str, snap: &str, script: &str) -> &Self {
        self.write(&format!("{name}.yaml"), &script_test(name, snap, script))
    }

    /// podproof in the project, never in CI mode by accident, with snapshots in `snaps/`.
    fn podproof<const N: usize>(&self, args: [&str; N]) -> Test {
        let dir = self.path("snaps").display().to_string();
        Test::new()
            .current_dir(self.dir.path())
            .env_remove("CI")
            .env("NO_COLOR", "1")
            .args(args)
            .args(["--snapshot-dir", &dir])
    }

    fn test<const N: usize>(&self, args: [&str; N]) -> Test {
        self.podproof(["test", "."]).args(args).timeout(Duration::from_secs(300))
    }

    /// The files in `snaps/`, sorted.
    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path("snaps"))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path("snaps").join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}; snaps/ holds {:?}", self.files()))
    }
}

/// A Test whose one step runs `sh -c script` on the host (no pod starts) and snapshots its stdout.
fn script_test(name: &str, snap: &str, script: &str) -> String {
    format!("apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {{name: {name}}}\nspec:\n  apps: [APPS/busybox-httpd/app.yaml]\n  steps:\n    - name: run it\n      script: {{command: [sh, -c, {script:?}]}}\n      expect: {{exitCode: 0, snapshot: {snap}}}\n")
}

/// The content of a snapshot file, after its header.
fn content(file: &str) -> &str {
    file.splitn(3, "---\n").nth(2).unwrap_or_default()
}

const GREETING: &str = "echo hello; date -u +%FT%TZ; date; echo run=$PODPROOF_RUN";

#[test]
fn a_missing_snapshot_fails_locally_and_only_a_draft_is_written() {
    let p = Project::new();
    p.script_test("greet", "greeting", GREETING);
    let out = p.test([]).expect_status(1).run();
    out.assert_stdout_contains("snapshot greet__greeting.snap is missing; wrote")
        .assert_stdout_contains("podproof snapshot review")
        .assert_stdout_contains("+ hello\n+ [timestamp]\n+ [timestamp]\n+ run=[run-id]");
    assert_eq!(p.files(), ["greet__greeting.snap.new"]);
    assert_eq!(p.read("greet__greeting.snap.new"), "---\nsource: greet.yaml\ndescription: run it\nexpression: script sh -c echo hello; date -u +%FT%TZ; date; echo run=$PODPROOF_RUN\n---\nhello\n[timestamp]\n[timestamp]\nrun=[run-id]\n");
}

#[test]
fn ci_mode_writes_nothing_and_names_every_missing_snapshot() {
    let p = Project::new();
    p.script_test("one", "a", "echo 1").script_test("two", "b", "echo 2");
    for ci in [p.test(["--ci"]), p.test([]).env("CI", "true")] {
        let out = ci.expect_status(1).run();
        out.assert_stdout_contains(
            "snapshots:\n  snapshot one__a.snap is missing\n  snapshot two__b.snap is missing\n",
        )
        .assert_stdout_contains("CI mode writes nothing");
        assert_eq!(p.files(), Vec::<String>::new());
    }
    // CI=false is how some systems say "not CI".
    p.test([]).env("CI", "false").expect_status(1).run();
    assert_eq!(p.files(), ["one__a.snap.new", "two__b.snap.new"]);
}

#[test]
fn update_writes_and_the_next_runs_pass_without_drafts() {
    let p = Project::new();
    p.script_test("greet", "greeting", GREETING);
    p.test(["--update-snapshots"]).run();
    let first = p.read("greet__greeting.snap");
    assert_eq!(content(&first), "hello\n[timestamp]\n[timestamp]\nrun=[run-id]\n");
    std::thread::sleep(Duration::from_millis(1100));
    p.test(["--update-snapshots"]).run();
    assert_eq!(p.read("greet__greeting.snap"), first, "redactions make runs byte-identical");
    p.test([]).run();
    p.test(["--ci"]).run();
    assert_eq!(p.files(), ["greet__greeting.snap"]);
}

#[test]
fn a_changed_snapshot_writes_a_draft_and_a_diff_and_only_it_fails() {
    let p = Project::new();
    p.script_test("stable", "s", "printf 'a\\nb\\n'").script_test("greet", "greeting", "printf 'one\\ntwo\\nthree\\n'");
    p.test(["--update-snapshots"]).run();
    p.script_test("greet", "greeting", "printf 'one\\n2\\nthree\\n'");
    let out = p.test(["--ci"]).expect_status(1).run();
    out.assert_stdout_contains("snapshot greet__greeting.snap changed (CI mode writes nothing")
        .assert_stdout_contains("  one\n- two\n+ 2\n  three");
    assert_eq!(p.files(), ["greet__greeting.snap", "stable__s.snap"]);
    let out = p.test([]).expect_status(1).run();
    out.assert_stdout_contains("snapshot greet__greeting.snap changed; wrote")
        .assert_stdout_contains("  one\n- two\n+ 2\n  three");
    out.assert_stderr_contains("PASS  stable");
    assert!(out.stdout.trim_end().ends_with("1 passed, 1 failed"), "{out}");
    assert_eq!(p.files(), ["greet__greeting.snap", "greet__greeting.snap.new", "stable__s.snap"]);
    assert_eq!(content(&p.read("greet__greeting.snap")), "one\ntwo\nthree\n", "local mode keeps the snapshot");
    // Putting the output back makes the draft stale: the next run removes it.
    p.script_test("greet", "greeting", "printf 'one\\ntwo\\nthree\\n'");
    p.test([]).run();
    assert_eq!(p.files(), ["greet__greeting.snap", "stable__s.snap"]);
}

#[test]
fn user_and_secret_redactions_apply() {
    let p = Project::new();
    p.write("app.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: s3cr3t-pw}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: box}\nspec:\n  containers:\n    - {name: box, image: localhost/podproof/busybox:latest, command: [sleep, infinity]}\n");
    p.write(
        "t.yaml",
        "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {name: redact}\nspec:\n  apps: [app.yaml]\n  redact: [{regex: 'build [0-9]+', replace: 'build [N]'}]\n  steps:\n    - script: {command: [sh, -c, 'echo pw=s3cr3t-pw build 4711 seed=$$']}\n      expect:\n        snapshot: {name: out, redact: [{regex: 'seed=[0-9]+', replace: 'seed=[seed]'}]}\n",
    );
    p.test(["--update-snapshots"]).run();
    assert_eq!(content(&p.read("redact__out.snap")), "pw=[secret] build [N] seed=[seed]\n");
}

#[test]
fn render_steps_are_snapshotted() {
    let p = Project::new();
    p.write(
        "t.yaml",
        "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {name: manifests}\nspec:\n  apps: [APPS/busybox-httpd/app.yaml]\n  steps:\n    - render: {flavor: cluster}\n      expect: {snapshot: cluster}\n    - render: {}\n      expect: {snapshot: podman}\n",
    );
    p.test(["--update-snapshots"]).run();
    let cluster = p.read("manifests__cluster.snap");
    assert!(
        cluster
            .starts_with("---\nsource: t.yaml\ndescription: \"render #1\"\nexpression: render --flavor cluster\n---\n"),
        "{cluster}"
    );
    assert!(
        content(&cluster).contains("kind: StatefulSet") || content(&cluster).contains("kind: Deployment"),
        "{cluster}"
    );
    assert!(content(&p.read("manifests__podman.snap")).contains("kind: Pod"));
    p.test(["--ci"]).run();
}

/// Two tests with missing snapshots, each leaving a draft.
fn two_drafts() -> Project {
    let p = Project::new();
    p.script_test("alpha", "first", "echo A").script_test("beta", "second", "echo B");
    p.test([]).expect_status(1).run();
    assert_eq!(p.files(), ["alpha__first.snap.new", "beta__second.snap.new"]);
    p
}

#[test]
fn pending_lists_drafts_and_exits_0() {
    let p = two_drafts();
    p.podproof(["snapshot", "pending"])
        .expect_stdout(
            "new      alpha__first  snaps/alpha__first.snap.new\nnew      beta__second  snaps/beta__second.snap.new\n",
        )
        .run();
    p.podproof(["snapshot", "accept", "alpha"]).run();
    p.script_test("alpha", "first", "echo AA");
    p.test([]).expect_status(1).run();
    p.podproof(["snapshot", "pending", "alp"])
        .expect_stdout("changed  alpha__first  snaps/alpha__first.snap.new\n")
        .run();
    p.podproof(["snapshot", "accept"]).run();
    p.podproof(["snapshot", "pending"]).expect_stdout("").stderr_contains("no pending snapshots").run();
}

#[test]
fn accept_and_reject_take_a_filter() {
    let p = two_drafts();
    p.podproof(["snapshot", "accept", "^alpha__"]).expect_stdout("accepted alpha__first\n").run();
    assert_eq!(p.files(), ["alpha__first.snap", "beta__second.snap.new"]);
    p.podproof(["snapshot", "reject", "nothing-matches"])
        .expect_stdout("")
        .stderr_contains("no pending snapshots match `nothing-matches`")
        .run();
    p.podproof(["snapshot", "reject", "second"]).expect_stdout("rejected beta__second\n").run();
    assert_eq!(p.files(), ["alpha__first.snap"]);
    p.test([]).expect_status(1).run();
    // A filter that is not a regex is taken literally.
    p.podproof(["snapshot", "accept", "beta__sec(ond"]).stderr_contains("no pending snapshots match").run();
    p.podproof(["snapshot", "accept", "beta__sec"]).run();
    p.test(["--ci"]).run();
}

#[test]
fn review_follows_a_stdin_script() {
    let p = two_drafts();
    let out = p.podproof(["snapshot", "review"]).stdin("a\nr\n").run();
    out.assert_stdout_contains("[1/2] alpha__first (new)\n  source: alpha.yaml\n  step: run it\n  expression: script sh -c echo A\n+ A\naccept (a), reject (r), skip (s), quit (q)? ")
        .assert_stdout_contains("[2/2] beta__second (new)")
        .assert_stdout_contains("accepted 1, rejected 1, 0 still pending");
    assert_eq!(p.files(), ["alpha__first.snap"]);
    // A changed snapshot shows a diff; skip, an unknown answer and end of input leave drafts alone.
    p.script_test("alpha", "first", "echo AA").script_test("beta", "second", "echo B");
    p.test([]).expect_status(1).run();
    let out = p.podproof(["snapshot", "review"]).stdin("what\ns\n").run();
    out.assert_stdout_contains("[1/2] alpha__first (changed)")
        .assert_stdout_contains("- A\n+ AA")
        .assert_stdout_contains("unknown answer `what`")
        .assert_stdout_contains("accepted 0, rejected 0, 2 still pending");
    assert_eq!(p.files(), ["alpha__first.snap", "alpha__first.snap.new", "beta__second.snap.new"]);
    p.podproof(["snapshot", "review", "beta"]).stdin("q\n").stdout_contains("[1/1] beta__second").run();
    p.podproof(["snapshot", "review"]).stdin("a\na\n").run();
    p.test(["--ci"]).run();
}

#[test]
fn unreferenced_finds_and_deletes_snapshots_no_test_uses() {
    let p = Project::new();
    p.script_test("keep", "used", "echo 1").script_test("gone", "old", "echo 2");
    p.test(["--update-snapshots"]).run();
    std::fs::remove_file(p.path("gone.yaml")).unwrap();
    p.script_test("keep", "renamed", "echo 1");
    p.test(["--update-snapshots"]).run();
    let out = p.podproof(["snapshot", "unreferenced", "."]).run();
    let keys: Vec<&str> = out.stdout.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(keys, ["gone__old", "keep__used"], "{out}");
    p.podproof(["snapshot", "unreferenced", "--delete", "."]).stdout_contains("deleted").run();
    assert_eq!(p.files(), ["keep__renamed.snap"]);
    p.podproof(["snapshot", "unreferenced", "."]).expect_stdout("").run();
    // A test that does not load may use any snapshot, so nothing is deleted.
    p.write(
        "broken.yaml",
        "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {name: broken}\nspec: {apps: [], steps: []}\n",
    );
    std::fs::write(p.path("snaps/broken__x.snap"), "---\nsource: broken.yaml\n---\nx\n").unwrap();
    p.podproof(["snapshot", "unreferenced", "--delete", "."])
        .expect_status(1)
        .stderr_contains("not deleting anything")
        .run();
    assert_eq!(p.files(), ["broken__x.snap", "keep__renamed.snap"]);
}

#[test]
fn the_default_store_is_snapshots_at_the_project_root() {
    let p = Project::new();
    p.write("tests/deep.yaml", &script_test("deep", "out", "echo deep"));
    // Run from below the root, without --snapshot-dir.
    let run = |args: &[&str], status| {
        Test::new()
            .current_dir(p.path("tests"))
            .env_remove("CI")
            .args(args)
            .expect_status(status)
            .timeout(Duration::from_secs(120))
            .run()
    };
    run(&["test", ".", "--update-snapshots"], 0);
    let snap = std::fs::read_to_string(p.path("snapshots/deep__out.snap")).unwrap();
    assert!(snap.starts_with("---\nsource: tests/deep.yaml\n"), "the source is relative to the project root:\n{snap}");
    run(&["snapshot", "unreferenced"], 0);
    assert_eq!(run(&["snapshot", "pending"], 0).stdout, "");
}

#[test]
fn bad_usage_exits_2() {
    let p = Project::new();
    for args in [
        &["snapshot"][..],
        &["snapshot", "frobnicate"],
        &["snapshot", "accept", "--bogus"],
        &["snapshot", "pending", "a", "b"],
    ] {
        let out: Output = Test::new().current_dir(p.dir.path()).args(args).output();
        assert_eq!(out.status, 2, "{args:?}\n{out}");
    }
}

/// A copy of the busybox-httpd fixture whose page can be changed.
fn httpd_app(p: &Project, page: &str) {
    let src = root().join("fixtures/apps/busybox-httpd");
    p.write("app/app.yaml", &std::fs::read_to_string(src.join("app.yaml")).unwrap());
    p.write("app/index.html", page);
}

const HTTPD_TESTS: [(&str, &str); 2] = [
    (
        "page",
        "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {name: page}\nspec:\n  apps: [app/app.yaml]\n  steps:\n    - up: {}\n    - name: the page\n      http: {pod: web, port: 8080}\n      expect: {status: 200, snapshot: index}\n",
    ),
    (
        "identity",
        "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {name: identity}\nspec:\n  apps: [app/app.yaml]\n  steps:\n    - up: {}\n    - name: names and addresses\n      exec: {pod: web, command: [sh, -c, 'hostname; hostname -i; grep -o \"[0-9a-f]\\{64\\}\" /proc/self/cgroup | head -1; cat /proc/self/mountinfo | grep -o \"[0-9a-f]\\{64\\}\" | head -1; date']}\n      expect: {exitCode: 0, snapshot: identity}\n",
    ),
];

#[test]
fn real_pods_snapshot_identically_and_a_changed_page_fails_alone() {
    let Some(_g) = common::podman_exclusive() else { return };
    let p = Project::new();
    httpd_app(&p, "<h1>hello v1</h1>\n");
    for (name, body) in HTTPD_TESTS {
        p.write(&format!("{name}.yaml"), body);
    }
    p.test(["--update-snapshots", "-j", "2"]).run();
    common::assert_clean("an update run");
    let first: Vec<String> = p.files().iter().map(|f| p.read(f)).collect();
    assert_eq!(p.files(), ["identity__identity.snap", "page__index.snap"]);
    let identity = content(&first[0]);
    assert!(identity.starts_with("hello-web-0\n[pod-ip]\n"), "pod IP redacted:\n{identity}");
    assert!(
        !regex::Regex::new(r"\d+\.\d+\.\d+\.\d+|[0-9a-f]{12}").unwrap().is_match(identity),
        "an address or id leaked:\n{identity}"
    );
    p.test(["--update-snapshots", "-j", "2"]).run();
    let second: Vec<String> = p.files().iter().map(|f| p.read(f)).collect();
    assert_eq!(first, second, "two runs are byte-identical");
    httpd_app(&p, "<h1>hello v2</h1>\n");
    let out = p.test(["-j", "2"]).expect_status(1).run();
    out.assert_stdout_contains("snapshot page__index.snap changed")
        .assert_stdout_contains("- <h1>hello v1</h1>\n+ <h1>hello v2</h1>");
    assert!(out.stdout.trim_end().ends_with("1 passed, 1 failed"), "{out}");
    assert_eq!(p.files(), ["identity__identity.snap", "page__index.snap", "page__index.snap.new"]);
    common::assert_clean("a changed snapshot");
    p.podproof(["snapshot", "accept"]).run();
    p.test(["--ci", "-j", "2"]).run();
    common::assert_clean("the accepted run");
}
