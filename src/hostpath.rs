//! Which hostPaths podproof mounts into a pod it plays.
//!
//! Relative paths must resolve inside the project root of the app (symlinks
//! followed), and absolute paths must not reach sensitive places of the host
//! (`/`, `/etc`, `/proc`, the docker and podman sockets, home directories, …).
//! Anything else is refused with its position, unless the user allows it by
//! `--allow-host-path PATH` or the `hostPaths.allow` list of podproof.yaml.
//! A cluster does not run these checks; podproof does because it plays the
//! pod as root on the developer's machine.

use crate::app::App;
use crate::error::Diagnostic;
use std::path::{Component, Path, PathBuf};
use std::sync::RwLock;

/// Places a hostPath may neither be nor contain ("/" only by itself).
const SENSITIVE: &[&str] = &[
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/home",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/podman",
    "/var/run/podman",
    "/run/containers",
    "/var/lib/containers",
    "/run/user",
];

static ALLOWED: RwLock<Vec<PathBuf>> = RwLock::new(Vec::new());

/// Adds paths the user allows (resolved now, so a later symlink swap does not widen it).
pub fn allow(paths: impl IntoIterator<Item = PathBuf>) {
    let mut a = ALLOWED.write().unwrap_or_else(|e| e.into_inner());
    for p in paths {
        a.push(resolve(&crate::source::absolute(&p)));
    }
}

/// `path` with symlinks resolved as far as it exists, and `..` applied.
pub fn resolve(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    while existing.symlink_metadata().is_err() {
        match (existing.file_name(), existing.parent()) {
            (Some(n), Some(p)) => {
                rest.push(n.to_os_string());
                existing = p.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = existing.canonicalize().unwrap_or(existing);
    for c in rest.iter().rev() {
        out.push(c);
    }
    crate::source::normalize(&out)
}

/// Checks one hostPath of an app whose definition lives in `app_dir`.
pub fn check(app_dir: &Path, path: &str) -> Result<(), String> {
    let abs = if path.starts_with('/') { PathBuf::from(path) } else { app_dir.join(path) };
    let resolved = resolve(&abs);
    let allowed = ALLOWED.read().unwrap_or_else(|e| e.into_inner());
    if allowed.iter().any(|a| resolved.starts_with(a)) {
        return Ok(());
    }
    let hint = format!(
        "allow it with `--allow-host-path {}` or podproof.yaml `hostPaths: {{allow: [...]}}`",
        resolved.display()
    );
    for s in SENSITIVE {
        let s = Path::new(s);
        let hit = resolved == s || (s != Path::new("/") && (resolved.starts_with(s) || s.starts_with(&resolved)));
        if hit {
            return Err(format!(
                "hostPath `{path}` resolves to {}, which is or holds the host's {}: podproof refuses to mount it; {hint}",
                resolved.display(),
                s.display()
            ));
        }
    }
    if !path.starts_with('/') {
        let root = resolve(&crate::source::project_root(app_dir));
        let climbs = Path::new(path).components().any(|c| c == Component::ParentDir);
        if !resolved.starts_with(&root) {
            return Err(format!(
                "hostPath `{path}` resolves to {}, outside the project root {}{}; {hint}",
                resolved.display(),
                root.display(),
                if climbs { "" } else { " (through a symlink)" }
            ));
        }
    }
    Ok(())
}

/// The refusal as a diagnostic at the hostPath's line and column in the app's
/// files (the first place the path is written), or at the file when not found.
pub fn diagnostic(app: &App, path: &str, volume: &str, why: &str) -> Diagnostic {
    let message = format!("volume `{volume}`: {why}");
    for input in &app.inputs {
        let Some(file) = &input.path else { continue };
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        for (i, line) in text.lines().enumerate() {
            let Some(at) = line.find("path:").and_then(|p| line[p..].find(path).map(|q| p + q)) else { continue };
            let column = line[..at].chars().count() + 1;
            return Diagnostic::error(input.name.clone(), Some((i + 1, column)), message);
        }
    }
    let file = app.inputs.first().map(|i| i.name.clone()).unwrap_or_else(|| app.name.clone());
    Diagnostic::error(file, None, message)
}

/// Every refused hostPath of an app's pod templates, before anything starts.
pub fn check_app(app: &App) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for role in &app.roles {
        for v in role.template.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            if let Some(hp) = &v.host_path {
                if let Err(why) = check(&app.dir, &hp.path) {
                    out.push(diagnostic(app, &hp.path, &v.name, &why));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_one(dir: &Path, path: &str, ok: bool) {
        assert_eq!(check(dir, path).is_ok(), ok, "{path}: {:?}", check(dir, path));
    }

    #[test]
    fn host_paths() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("proj");
        std::fs::create_dir_all(root.join("app/data")).unwrap();
        std::fs::write(root.join("podproof.yaml"), "{}\n").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("app/etc-link")).unwrap();
        let app = root.join("app");
        for (path, ok) in [
            ("./data", true),
            ("data/new", true),
            ("../app/data", true),
            ("../../../../../../etc", false),
            ("../..", false),
            ("etc-link", false),
            ("/", false),
            ("/etc", false),
            ("/etc/ssl", false),
            ("/proc/1", false),
            ("/var/run/docker.sock", false),
            ("/run", false),
            ("/var", false),
            ("/root", false),
            ("/home/someone", false),
            ("/tmp/podproof-scratch", true),
        ] {
            check_one(&app, path, ok);
        }
        allow([PathBuf::from("/etc/ssl")]);
        check_one(&app, "/etc/ssl/certs", true);
        check_one(&app, "/etc", false);
    }
}
