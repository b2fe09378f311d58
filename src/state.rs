//! podproof's state on the host: one directory per run.
//!
//! `<root>/runs/<run-id>/run.json` records who owns the run (a test process,
//! or the long-lived `up` environment), so `podproof clean` can tell the runs
//! of dead processes from live ones. The run directory also holds the played
//! YAML files (mode 0600: they contain Secret values) and the host side of
//! ConfigMap/Secret projections and emptyDirs.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The state root: `PODPROOF_STATE_DIR`, else /var/tmp/podproof for root and
/// $XDG_RUNTIME_DIR/podproof (or /var/tmp/podproof-<uid>) for other users.
pub fn root() -> PathBuf {
    if let Ok(d) = std::env::var("PODPROOF_STATE_DIR") {
        if !d.is_empty() {
            return PathBuf::from(d);
        }
    }
    let uid = rustix::process::getuid().as_raw();
    if uid == 0 {
        return PathBuf::from("/var/tmp/podproof");
    }
    match std::env::var("XDG_RUNTIME_DIR") {
        Ok(d) if !d.is_empty() => PathBuf::from(d).join("podproof"),
        _ => PathBuf::from(format!("/var/tmp/podproof-{uid}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// A `podproof test` run: removed when its process is gone.
    Test,
    /// The environment of `podproof up`: lives until `podproof down`.
    Up,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    pub format: u32,
    pub id: String,
    pub kind: RunKind,
    pub pid: u32,
    pub created_unix: u64,
}

pub fn runs_dir() -> PathBuf {
    root().join("runs")
}

pub fn run_dir(id: &str) -> PathBuf {
    runs_dir().join(id)
}

/// The longest run id accepted: far above the 7 characters podproof makes,
/// short enough that no name built from it passes podman's limits.
const MAX_ID: usize = 32;

/// Checks the run id grammar: a lowercase letter, then lowercase letters and
/// digits. Ids arrive from the command line and from podman label values
/// (which anyone can set), so nothing else may reach a path or a filter.
pub fn check_id(id: &str) -> std::result::Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id.as_bytes()[0].is_ascii_lowercase()
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a podproof run id (a lowercase letter, then up to {} lowercase letters and digits)",
            id.escape_debug(),
            MAX_ID - 1
        ))
    }
}

/// Whether `path` lies inside `root` once both are resolved (symlinks
/// followed, `..` removed). A path that does not exist yet is judged by its
/// nearest existing ancestor, with its remaining components free of `..`.
pub fn is_inside(root: &Path, path: &Path) -> bool {
    let Ok(root) = root.canonicalize() else { return false };
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() && existing.symlink_metadata().is_err() {
        match (existing.file_name(), existing.parent()) {
            (Some(n), Some(p)) => {
                rest.push(n.to_os_string());
                existing = p.to_path_buf();
            }
            _ => return false,
        }
    }
    let Ok(resolved) = existing.canonicalize() else { return false };
    rest.iter().all(|c| c != "." && c != "..") && resolved.starts_with(&root)
}

/// Checks that a name built from input is one plain file name: no `/`, not
/// `.` or `..`, no NUL, so joining it to a directory stays in that directory.
pub fn check_file_name(name: &str) -> std::io::Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("`{}` is not a plain file name", name.escape_debug()),
        ));
    }
    Ok(())
}

/// Writes `bytes` to `dir/name` (created or truncated) without following a
/// symlink at that path, so a planted link cannot redirect the write.
pub fn write_file_in(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    check_file_name(name)?;
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&path)?;
    f.write_all(bytes)?;
    Ok(path)
}

/// Writes `bytes` to the file `path` names (created or truncated) without
/// following a symlink there: a planted link makes the write fail instead
/// (ELOOP) of redirecting it.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{} names no file", path.display()))
    })?;
    let dir = path.parent().unwrap_or(Path::new(""));
    write_file_in(dir, &name.to_string_lossy(), bytes).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            std::io::Error::new(e.kind(), "it is a symlink, which podproof does not follow")
        } else {
            e
        }
    })
}

/// Removes `path`, a file or directory, only if it lies inside `root` and is
/// not a symlink that points out of it. A symlink itself is removed, never followed.
pub fn remove_inside(root: &Path, path: &Path) -> std::io::Result<()> {
    let meta = match path.symlink_metadata() {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let parent = path.parent().unwrap_or(Path::new("/"));
    if !is_inside(root, parent) || path.file_name().is_none_or(|n| n == "..") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("refusing to remove {}: it is outside {}", path.display(), root.display()),
        ));
    }
    if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// A short random run id: lowercase letters and digits.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let s: String = bytes.iter().take(6).map(|b| alphabet[(*b as usize) % alphabet.len()] as char).collect();
    format!("{prefix}{s}")
}

/// The locks of the runs this process owns, held while it lives (see `create`).
static HELD: std::sync::Mutex<Vec<(String, std::fs::File)>> = std::sync::Mutex::new(Vec::new());

/// Creates the run directory and record, before the run makes any podman
/// object. The process holds an flock on the run's `lock` file from before
/// the record exists until the run is removed (or the process ends, when the
/// kernel lets it go), so `clean` can tell a live run from a dead one even
/// where the record cannot: between the directory and the record, or when
/// the pid was reused. The record is written whole or not at all (a new file
/// renamed over the old), so a reader never sees half of one.
pub fn create(id: &str, kind: RunKind) -> std::io::Result<PathBuf> {
    check_id(id).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let dir = run_dir(id);
    std::fs::create_dir_all(&dir)?;
    restrict(&dir)?;
    hold_lock(id, &dir)?;
    let rec = RunRecord {
        format: 1,
        id: id.to_string(),
        kind,
        pid: std::process::id(),
        created_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs(),
    };
    let tmp = format!(".run.json.{}", std::process::id());
    write_file_in(&dir, &tmp, &serde_json::to_vec_pretty(&rec).expect("record serializes"))?;
    std::fs::rename(dir.join(&tmp), dir.join("run.json"))?;
    Ok(dir)
}

/// Takes the run's lock for this process, unless it holds it already. The
/// `up` run is shared by `up` and `down` processes, an `up --watch` among
/// them: while another live one holds the lock the run is live anyway, so
/// this does not wait for it.
fn hold_lock(id: &str, dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if held.iter().any(|(h, _)| h == id) {
        return Ok(());
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(dir.join("lock"))?;
    match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => held.push((id.to_string(), f)),
        Err(rustix::io::Errno::WOULDBLOCK) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Lets go of the run's lock (the run is gone).
fn release_lock(id: &str) {
    HELD.lock().unwrap_or_else(|e| e.into_inner()).retain(|(h, _)| h != id);
}

/// Whether a live process holds the run's lock: it owns the run, whether or
/// not its record can be read yet.
pub fn lock_held(id: &str) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    if check_id(id).is_err() {
        return false;
    }
    if HELD.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|(h, _)| h == id) {
        return true;
    }
    let path = run_dir(id).join("lock");
    let Ok(f) =
        std::fs::OpenOptions::new().read(true).custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32).open(&path)
    else {
        return false;
    };
    // Taken at once means nobody holds it; the probe lets it go on drop.
    rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared).is_err()
}

pub fn restrict(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

pub fn read(id: &str) -> Option<RunRecord> {
    check_id(id).ok()?;
    let bytes = std::fs::read(run_dir(id).join("run.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Every run with a record.
pub fn list() -> Vec<RunRecord> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(runs_dir()) {
        for e in rd.flatten() {
            if let Some(r) = read(&e.file_name().to_string_lossy()) {
                out.push(r);
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Whether a process id is alive.
pub fn pid_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else { return false };
    // Signal 0 only checks for existence; EPERM means it exists as another user's.
    matches!(rustix::process::test_kill_process(pid), Ok(()) | Err(rustix::io::Errno::PERM))
}

/// Removes a run's state directory. The id is checked first and the
/// directory must resolve inside the runs directory, so neither a crafted id
/// nor a symlink planted in the state root can steer the removal.
pub fn remove(id: &str) -> crate::error::Result<()> {
    check_id(id).map_err(crate::error::Error::Usage)?;
    let runs = runs_dir();
    if !runs.exists() {
        return Ok(());
    }
    let removed = remove_inside(&runs, &run_dir(id))
        .map_err(|e| crate::error::Error::runtime(format!("cannot remove the state of run {id}: {e}")));
    if removed.is_ok() {
        release_lock(id);
    }
    removed
}

/// The id of the `up` environment.
pub const UP_ID: &str = "up";

#[cfg(test)]
mod tests {
    use super::*;

    fn check(id: &str, ok: bool) {
        assert_eq!(check_id(id).is_ok(), ok, "{id:?}");
    }

    #[test]
    fn ids() {
        for (id, ok) in [
            ("up", true),
            ("tk3x9q2", true),
            ("", false),
            ("/tmp/x", false),
            ("../../victim", false),
            ("..", false),
            ("t.x", false),
            ("T1", false),
            ("1t", false),
            ("a b", false),
            ("x=y", false),
            ("tä", false),
            (&"a".repeat(33), false),
        ] {
            check(id, ok);
        }
    }

    #[test]
    fn inside() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("esc")).unwrap();
        let check = |p: PathBuf, expect: bool| assert_eq!(is_inside(&root, &p), expect, "{}", p.display());
        check(root.join("a"), true);
        check(root.join("a/new/deeper"), true);
        check(root.join("a/../../x"), false);
        check(root.join("esc"), false);
        check(root.join("esc/passwd"), false);
        check(root.join("new/../../x"), false);
        check(PathBuf::from("/tmp/x"), false);
        // A symlink is removed, not followed, and only inside the root.
        remove_inside(&root, &root.join("esc")).unwrap();
        assert!(std::path::Path::new("/etc/passwd").exists());
        assert!(remove_inside(&root, &d.path().join("root/../outside")).is_err() || !d.path().join("outside").exists());
    }

    #[test]
    fn a_run_is_live_while_its_lock_is_held_record_or_not() {
        let root = tempfile::tempdir().unwrap();
        std::env::set_var("PODPROOF_STATE_DIR", root.path());
        let id = "tlocked1";
        assert!(!lock_held(id));
        create(id, RunKind::Test).unwrap();
        assert!(lock_held(id));
        // Another process sees it held too: the kernel's lock, not this process's table.
        let probe = std::fs::File::open(run_dir(id).join("lock")).unwrap();
        assert!(rustix::fs::flock(&probe, rustix::fs::FlockOperation::NonBlockingLockShared).is_err());
        std::fs::remove_file(run_dir(id).join("run.json")).unwrap();
        assert!(read(id).is_none() && lock_held(id), "no record, and still live");
        remove(id).unwrap();
        assert!(!lock_held(id));
        std::env::remove_var("PODPROOF_STATE_DIR");
    }
}
