//! ConfigMap and Secret volumes on disk, in the kubelet's AtomicWriter layout.
//!
//! ```text
//! <dir>/..2025_01_31_12_00_00.3381829021/   the files
//! <dir>/..data -> ..2025_01_31_12_00_00.3381829021
//! <dir>/<key>  -> ..data/<key>
//! ```
//! An update writes a new timestamped directory, points `..data_tmp` at it and
//! renames that over `..data` (the atomic step), then fixes the user-visible
//! links and removes the old directory. Apps that watch `..data` with inotify
//! (configmap-reload, prometheus-config-reloader) see exactly what they would
//! see on a node.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path};

/// One file of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// Relative path → file.
pub type Payload = BTreeMap<String, File>;

const DATA: &str = "..data";
const DATA_TMP: &str = "..data_tmp";

/// Checks a payload path the way the kubelet does.
pub fn validate_path(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("empty path".into());
    }
    if p.len() > 4096 {
        return Err(format!("path `{p}` is longer than 4096 bytes"));
    }
    if Path::new(p).is_absolute() {
        return Err(format!("path `{p}` must be relative"));
    }
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => {
                if s.len() > 255 {
                    return Err(format!("path `{p}` has an element longer than 255 bytes"));
                }
            }
            _ => return Err(format!("path `{p}` may not contain `..` or `.` elements")),
        }
    }
    if p.starts_with("..") {
        return Err(format!("path `{p}` may not start with `..`"));
    }
    Ok(())
}

/// What podproof itself last projected into a volume directory: the name of
/// the timestamped directory `..data` points to and a digest of each file.
/// It is kept beside the directory, never inside it, because the directory is
/// the pod's to see: nothing read back from there decides what is removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The timestamped directory, a plain name such as `..2025_01_31_12_00_00.1`.
    pub dir: String,
    /// Relative path → (sha256 of the bytes, mode).
    pub files: BTreeMap<String, (String, u32)>,
}

impl Record {
    fn of(dir: String, payload: &Payload) -> Record {
        let files = payload.iter().map(|(k, f)| (k.clone(), (crate::digest::sha256_hex(&f.bytes), f.mode))).collect();
        Record { dir, files }
    }

    /// Whether `payload` is what this record describes.
    pub fn matches(&self, payload: &Payload) -> bool {
        Record::of(self.dir.clone(), payload) == *self
    }

    /// The keys whose bytes differ between this record and `payload` (new,
    /// changed or gone).
    pub fn changed_keys(&self, payload: &Payload) -> Vec<String> {
        let new = Record::of(String::new(), payload).files;
        let keys: BTreeSet<&String> = new.keys().chain(self.files.keys()).collect();
        keys.into_iter().filter(|k| new.get(*k).map(|f| &f.0) != self.files.get(*k).map(|f| &f.0)).cloned().collect()
    }
}

/// Where the record of `dir` is kept: `<parent>/.<name>.projected.json`.
/// Volume names are DNS labels, so the leading dot cannot clash with one.
fn record_path(dir: &Path) -> io::Result<std::path::PathBuf> {
    match (dir.parent(), dir.file_name()) {
        (Some(parent), Some(name)) => Ok(parent.join(format!(".{}.projected.json", name.to_string_lossy()))),
        _ => Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} has no parent", dir.display()))),
    }
}

/// podproof's record of what it projected into `dir`, if it projected anything.
pub fn current(dir: &Path) -> io::Result<Option<Record>> {
    let path = record_path(dir)?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let rec: Record = serde_json::from_slice(&bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?;
    // The record is podproof's own, but a name that is not a timestamped
    // directory's would steer a removal, so it is checked all the same.
    if !is_timestamp_name(&rec.dir) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{}: bad directory name", path.display())));
    }
    Ok(Some(rec))
}

fn save(dir: &Path, rec: &Record) -> io::Result<()> {
    let path = record_path(dir)?;
    let parent = path.parent().expect("record_path has a parent");
    let name = path.file_name().expect("record_path has a name").to_string_lossy().to_string();
    let tmp = format!("{name}.tmp");
    let bytes = serde_json::to_vec(rec).map_err(io::Error::other)?;
    crate::state::write_file_in(parent, &tmp, &bytes)?;
    std::fs::rename(parent.join(&tmp), &path)
}

/// Whether `name` is a timestamped directory name as `timestamp_dir_name` makes them.
fn is_timestamp_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("..") else { return false };
    !rest.is_empty()
        && rest.len() < 64
        && rest.bytes().all(|b| b.is_ascii_digit() || b == b'_' || b == b'.')
        && rest.as_bytes()[0].is_ascii_digit()
}

/// A kubelet-style timestamped directory name (`..2025_01_31_12_00_00.<n>`).
fn timestamp_dir_name() -> String {
    let now = jiff::Timestamp::now();
    let t = now.to_zoned(jiff::tz::TimeZone::UTC);
    let rand = now.subsec_nanosecond().unsigned_abs() ^ std::process::id().rotate_left(16);
    format!(
        "..{:04}_{:02}_{:02}_{:02}_{:02}_{:02}.{rand}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Writes `payload` into `dir` atomically. Returns whether anything changed.
///
/// The directory is mounted read-only into the pod, and even so nothing in it
/// is trusted: the old directory to remove is the one podproof's record names,
/// every removal goes through `state::remove_inside` (a link is removed, never
/// followed), and every file is created anew in a directory made for it.
pub fn write(dir: &Path, payload: &Payload) -> io::Result<bool> {
    for p in payload.keys() {
        validate_path(p).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    }
    std::fs::create_dir_all(dir)?;
    if !std::fs::symlink_metadata(dir)?.is_dir() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a directory", dir.display())));
    }
    let old = current(dir)?;
    if let Some(rec) = &old {
        if rec.matches(payload) && points_to(dir, DATA, &rec.dir) {
            fix_links(dir, payload)?;
            return Ok(false);
        }
    }
    // 3. A new timestamped directory with the files at their exact modes.
    let mut name = timestamp_dir_name();
    while std::fs::symlink_metadata(dir.join(&name)).is_ok() {
        name.push('0');
    }
    let ts = dir.join(&name);
    std::fs::create_dir(&ts)?;
    std::fs::set_permissions(&ts, std::fs::Permissions::from_mode(0o755))?;
    for (rel, f) in payload {
        let p = ts.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&p)?;
        io::Write::write_all(&mut file, &f.bytes)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode))?;
    }
    // 4. The atomic swap. Whatever sits at `..data_tmp` or (not a link) at
    // `..data` was not put there by podproof, and goes first.
    crate::state::remove_inside(dir, &dir.join(DATA_TMP))?;
    if std::fs::symlink_metadata(dir.join(DATA)).is_ok_and(|m| !m.file_type().is_symlink()) {
        crate::state::remove_inside(dir, &dir.join(DATA))?;
    }
    symlink(&name, dir.join(DATA_TMP))?;
    std::fs::rename(dir.join(DATA_TMP), dir.join(DATA))?;
    save(dir, &Record::of(name.clone(), payload))?;
    // 5. User-visible links, 6. the old directory (podproof's own record names it).
    fix_links(dir, payload)?;
    if let Some(rec) = old {
        if rec.dir != name {
            crate::state::remove_inside(dir, &dir.join(&rec.dir))?;
        }
    }
    Ok(true)
}

/// Whether `dir/link` is a symlink whose target is exactly `target`.
fn points_to(dir: &Path, link: &str, target: &str) -> bool {
    std::fs::read_link(dir.join(link)).is_ok_and(|t| t == Path::new(target))
}

/// Makes `<top> -> ..data/<top>` exist for every top-level element and removes
/// links whose key is gone. Anything at a key's place that is not that link
/// is removed (never followed) and replaced.
fn fix_links(dir: &Path, payload: &Payload) -> io::Result<()> {
    let tops: BTreeSet<String> = payload.keys().map(|k| k.split('/').next().unwrap_or(k).to_string()).collect();
    for top in &tops {
        let want = format!("{DATA}/{top}");
        if points_to(dir, top, &want) {
            continue;
        }
        crate::state::remove_inside(dir, &dir.join(top))?;
        symlink(&want, dir.join(top))?;
    }
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("..") || tops.contains(&name) {
            continue;
        }
        if e.file_type()?.is_symlink() {
            crate::state::remove_inside(dir, &e.path())?;
        }
    }
    Ok(())
}

/// Reads the files of the payload `dir` shows now, through podproof's record
/// (for tests and diagnostics; nothing decides on it).
pub fn read_current(dir: &Path) -> io::Result<Option<Payload>> {
    let Some(rec) = current(dir)? else { return Ok(None) };
    let mut out = Payload::new();
    for (rel, (_, mode)) in &rec.files {
        let p = dir.join(&rec.dir).join(rel);
        out.insert(rel.clone(), File { bytes: std::fs::read(p)?, mode: *mode });
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes each payload in turn and lists the directory (links and files).
    fn check(payloads: &[&[(&str, &str, u32)]], expect: &str) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vol");
        let mut changed = Vec::new();
        for p in payloads {
            let payload: Payload =
                p.iter().map(|(k, v, m)| (k.to_string(), File { bytes: v.as_bytes().to_vec(), mode: *m })).collect();
            changed.push(write(&dir, &payload).unwrap());
        }
        let mut lines = vec![format!("changed {changed:?}")];
        let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        let mut ts_dirs = 0;
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                let t = std::fs::read_link(e.path()).unwrap().display().to_string();
                let t = if t.starts_with("..2") { "..<ts>".to_string() } else { t };
                lines.push(format!("{name} -> {t}"));
            } else if ft.is_dir() {
                ts_dirs += 1;
            }
        }
        lines.push(format!("timestamp dirs: {ts_dirs}"));
        let cur = read_current(&dir).unwrap().unwrap();
        for (k, f) in cur {
            lines.push(format!("{k} {:o} {:?}", f.mode, String::from_utf8(f.bytes).unwrap()));
        }
        assert_eq!(lines.join("\n"), expect.trim());
    }

    #[test]
    fn first_write() {
        check(
            &[&[("a.yml", "x: 1", 0o644), ("dir/b", "b", 0o600)]],
            "changed [true]\n..data -> ..<ts>\na.yml -> ..data/a.yml\ndir -> ..data/dir\ntimestamp dirs: 1\na.yml 644 \"x: 1\"\ndir/b 600 \"b\"",
        );
    }

    #[test]
    fn update_swaps_and_prunes() {
        check(
            &[&[("a", "1", 0o644), ("gone", "g", 0o644)], &[("a", "2", 0o644), ("new", "n", 0o400)]],
            "changed [true, true]\n..data -> ..<ts>\na -> ..data/a\nnew -> ..data/new\ntimestamp dirs: 1\na 644 \"2\"\nnew 400 \"n\"",
        );
    }

    #[test]
    fn same_payload_is_not_rewritten() {
        check(
            &[&[("a", "1", 0o644)], &[("a", "1", 0o644)]],
            "changed [true, false]\n..data -> ..<ts>\na -> ..data/a\ntimestamp dirs: 1\na 644 \"1\"",
        );
    }

    #[test]
    fn paths_are_validated() {
        assert!(validate_path("../x").is_err());
        assert!(validate_path("/etc/x").is_err());
        assert!(validate_path("..data").is_err());
        assert!(validate_path("a/b.c").is_ok());
    }

    #[test]
    fn timestamp_names_are_recognised() {
        let n = timestamp_dir_name();
        assert!(is_timestamp_name(&n), "{n}");
        assert!(!is_timestamp_name("..data"));
        assert!(!is_timestamp_name("../../etc"));
        assert!(!is_timestamp_name("..2025/../x"));
    }

    /// Links planted where podproof's own links go (as a pod with a writable
    /// mount could plant them) are removed, never followed: the victim
    /// outside the volume keeps every file, and the update takes effect.
    #[test]
    fn planted_links_are_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        std::fs::write(victim.join("precious"), "keep").unwrap();
        let dir = tmp.path().join("vol");
        let one: Payload = [("a".to_string(), File { bytes: b"1".to_vec(), mode: 0o644 })].into();
        write(&dir, &one).unwrap();
        let ts = current(&dir).unwrap().unwrap().dir;
        // Every name podproof writes or removes, pointed at the victim.
        for name in ["..data", "..data_tmp", "a", "stray"] {
            let _ = std::fs::remove_file(dir.join(name));
            symlink(&victim, dir.join(name)).unwrap();
        }
        std::fs::remove_dir_all(dir.join(&ts)).unwrap();
        symlink(&victim, dir.join(&ts)).unwrap();
        let two: Payload = [("a".to_string(), File { bytes: b"2".to_vec(), mode: 0o644 })].into();
        assert!(write(&dir, &two).unwrap());
        assert_eq!(std::fs::read_to_string(victim.join("precious")).unwrap(), "keep");
        assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 1);
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "2");
        assert!(std::fs::symlink_metadata(dir.join("stray")).is_err(), "a stray link is pruned");
    }

    /// A record naming something that is not a timestamped directory is refused.
    #[test]
    fn a_forged_record_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vol");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(tmp.path().join(".vol.projected.json"), r#"{"dir":"../../etc","files":{}}"#).unwrap();
        assert!(current(&dir).is_err());
    }
}
