//! pods/ holds the podman flavour of every fixture, as scripts/render-pods.sh
//! writes it. This test renders every fixture afresh and fails when pods/
//! differs: a changed renderer or fixture must come with regenerated pods/.

mod common;

use common::{root, tempdir, Test};
use std::collections::BTreeMap;
use std::path::Path;

/// Every fixture app: each directory of fixtures/apps, except simple-app,
/// whose directory also holds its ytt template; its rendered output is the app.
/// scripts/render-pods.sh walks them the same way.
fn fixtures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("fixtures/apps"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .map(|d| {
            if d == "simple-app" {
                "fixtures/apps/simple-app/simple-app.yaml".to_string()
            } else {
                format!("fixtures/apps/{d}")
            }
        })
        .collect();
    v.sort();
    v
}

const STALE: &str = "pods/ is stale: run scripts/render-pods.sh";

/// The .yaml files of a directory by name.
fn yaml_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return BTreeMap::new() };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn pods_dir_is_current() {
    let tmp = tempdir();
    for f in fixtures() {
        Test::new().args(["render", "--relative-to", ".", "-o"]).arg(tmp.path()).arg(f).run();
    }
    let want = yaml_files(tmp.path());
    let have = yaml_files(&root().join("pods"));
    let mut problems = Vec::new();
    for (name, bytes) in &want {
        match have.get(name) {
            None => problems.push(format!("pods/{name} is missing")),
            Some(b) if b != bytes => problems.push(format!("pods/{name} differs from what podproof renders now")),
            Some(_) => {}
        }
    }
    for name in have.keys().filter(|n| !want.contains_key(*n)) {
        problems.push(format!("pods/{name} is not rendered from any fixture"));
    }
    assert!(problems.is_empty(), "{STALE}\n  - {}", problems.join("\n  - "));
}
