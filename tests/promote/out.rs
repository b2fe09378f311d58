//! What `promote --out DIR` may remove: only the files podproof wrote there,
//! as its manifest lists them with their digests; nothing through a symlink.

use super::{promote, tested_project, yaml_files};
use crate::common::tempdir;
use std::path::Path;

/// Every file under a directory with its bytes, symlinks as `-> target`.
fn contents(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let meta = p.symlink_metadata().unwrap();
            if meta.file_type().is_symlink() {
                out.push((rel, format!("-> {}", std::fs::read_link(&p).unwrap().display())));
            } else if meta.is_dir() {
                walk(base, &p, out);
            } else {
                out.push((rel, String::from_utf8_lossy(&std::fs::read(&p).unwrap()).to_string()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn a_foreign_file_refuses_and_nothing_is_deleted() {
    let dir = tested_project(true);
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("notes")).unwrap();
    // A hand-made README that starts like a promotion's makes nothing deletable.
    std::fs::write(out.join("README.md"), "# Promoted by podproof\n\nby hand\n").unwrap();
    std::fs::write(out.join("deployment-old.yaml"), "kind: Deployment\n").unwrap();
    std::fs::write(out.join("notes/todo.txt"), "mine\n").unwrap();
    let before = contents(&out);
    promote(dir.path())
        .args(["app", "--out", "out"])
        .expect_status(2)
        .stderr_contains("error: --out out holds files podproof did not write there; nothing was removed")
        .stderr_contains("`README.md`: not in podproof's manifest (.podproof-manifest)")
        .stderr_contains("`deployment-old.yaml`: not in podproof's manifest")
        .stderr_contains("`notes/todo.txt`: inside `notes`, which podproof did not make")
        .stderr_contains("`notes`: a directory podproof did not make")
        .stderr_contains("its README.md starts like a promotion's, but a README proves nothing")
        .stderr_contains("pass --force to remove them")
        .run();
    assert_eq!(contents(&out), before, "a refused promotion changed --out");
}

#[test]
fn force_names_each_foreign_file_as_it_goes() {
    let dir = tested_project(true);
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("notes")).unwrap();
    std::fs::write(out.join("deployment-old.yaml"), "kind: Deployment\n").unwrap();
    std::fs::write(out.join("notes/todo.txt"), "mine\n").unwrap();
    let run = promote(dir.path()).args(["app", "--out", "out", "--force"]).run();
    run.assert_stderr_contains("WARNING: --force: removing 3 entries from out that podproof did not write there:")
        .assert_stderr_contains(
            "WARNING:   removes `deployment-old.yaml` (not in podproof's manifest (.podproof-manifest))",
        )
        .assert_stderr_contains("WARNING:   removes `notes/todo.txt` (inside `notes`, which podproof did not make)")
        .assert_stderr_contains("WARNING:   removes `notes` (a directory podproof did not make)");
    // The file inside goes before its directory.
    let todo = run.stderr.find("removes `notes/todo.txt`").unwrap();
    assert!(todo < run.stderr.find("removes `notes` ").unwrap(), "{run}");
    assert!(!out.join("deployment-old.yaml").exists() && !out.join("notes").exists());
    // The preconditions passed: --force cleared the directory, but forced nothing else.
    for (name, text) in yaml_files(&out) {
        assert!(!text.contains("podproof.dev/forced"), "{name}");
    }
    run.assert_stderr_lacks("WARNING: --force: promoting although");
}

#[test]
fn a_repromote_over_its_own_output_replaces_it() {
    let dir = tested_project(true);
    let out = dir.path().join("out");
    promote(dir.path()).args(["app", "--out", "out", "--format", "kustomize"]).run();
    assert!(out.join("kustomization.yaml").is_file());
    // Over podproof's own output: no warning, and what the new one does not write is gone.
    promote(dir.path()).args(["app", "--out", "out"]).stderr_lacks("WARNING").run();
    assert!(!out.join("kustomization.yaml").exists(), "an earlier promotion's file was kept");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(".podproof-manifest")).unwrap()).unwrap();
    let listed: Vec<&str> = manifest["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    let mut on_disk: Vec<String> =
        contents(&out).into_iter().map(|(n, _)| n).filter(|n| n != ".podproof-manifest").collect();
    on_disk.sort();
    let mut listed_sorted: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
    listed_sorted.sort();
    assert_eq!(listed_sorted, on_disk);
    // A file edited by hand is no longer podproof's to replace.
    let deploy = out.join("deployment-tiny-web.yaml");
    std::fs::write(&deploy, std::fs::read_to_string(&deploy).unwrap() + "# edited\n").unwrap();
    promote(dir.path())
        .args(["app", "--out", "out"])
        .expect_status(2)
        .stderr_contains("`deployment-tiny-web.yaml`: changed since podproof wrote it")
        .run();
    assert!(std::fs::read_to_string(&deploy).unwrap().ends_with("# edited\n"));
}

#[test]
fn a_symlink_in_out_is_never_followed() {
    let dir = tested_project(true);
    let out = dir.path().join("out");
    let victims = tempdir();
    let victim = victims.path().join("victim.yaml");
    std::fs::write(&victim, "victim\n").unwrap();
    std::fs::create_dir_all(victims.path().join("dir")).unwrap();
    std::fs::write(victims.path().join("dir/keep.yaml"), "keep\n").unwrap();
    // Links where podproof will write, into a directory of its own output.
    promote(dir.path()).args(["app", "--out", "out"]).run();
    std::fs::remove_file(out.join("deployment-tiny-web.yaml")).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("deployment-tiny-web.yaml")).unwrap();
    std::os::unix::fs::symlink(victims.path().join("dir"), out.join("templates")).unwrap();
    promote(dir.path())
        .args(["app", "--out", "out"])
        .expect_status(2)
        .stderr_contains("`deployment-tiny-web.yaml`: a symlink (podproof never follows one here)")
        .stderr_contains("`templates`: a symlink")
        .run();
    // --force removes the links themselves; what they point at stays as it was.
    promote(dir.path()).args(["app", "--out", "out", "--force", "--format", "helm"]).run();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim\n");
    assert_eq!(contents(&victims.path().join("dir")), [("keep.yaml".to_string(), "keep\n".to_string())]);
    let meta = out.join("templates").symlink_metadata().unwrap();
    assert!(meta.is_dir() && !meta.file_type().is_symlink());
    assert!(out.join("templates/deployment-tiny-web.yaml").is_file());
    // A link planted in a new directory, at the name of a file podproof writes, is no different.
    let fresh = dir.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    std::os::unix::fs::symlink(&victim, fresh.join("service-tiny-web.yaml")).unwrap();
    promote(dir.path()).args(["app", "--out", "fresh"]).expect_status(2).stderr_contains("a symlink").run();
    promote(dir.path()).args(["app", "--out", "fresh", "--force"]).run();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim\n");
    assert!(!fresh.join("service-tiny-web.yaml").symlink_metadata().unwrap().file_type().is_symlink());
}

#[test]
fn force_never_clears_the_project_or_the_apps_files() {
    let dir = tested_project(true);
    let before = contents(&dir.path().join("app"));
    promote(dir.path())
        .args(["app", "--out", ".", "--force"])
        .expect_status(2)
        .stderr_contains("holds the project root: --force would remove the project's files")
        .run();
    promote(dir.path())
        .args(["app", "--out", "app", "--force"])
        .expect_status(2)
        .stderr_contains("holds the app's own file")
        .run();
    assert_eq!(contents(&dir.path().join("app")), before);
    assert!(dir.path().join("podproof.yaml").is_file());
}
