//! Projections: the files ConfigMap, Secret, projected and emptyDir volumes
//! show, written on the host in the kubelet's layout.

use crate::app::App;
use crate::projection;
use crate::render::{PartSource, ProjectedPart, Projection, ProjectionSource};
use std::collections::BTreeMap;

/// The files a projection shows, from the app's current ConfigMaps/Secrets.
pub fn payload(app: &App, p: &Projection) -> std::result::Result<Option<projection::Payload>, String> {
    let parts = match &p.source {
        ProjectionSource::Empty => return Ok(None),
        ProjectionSource::ConfigMap(name) => vec![ProjectedPart {
            source: PartSource::ConfigMap(name.clone()),
            items: p.items.clone(),
            optional: p.optional,
        }],
        ProjectionSource::Secret(name) => {
            vec![ProjectedPart {
                source: PartSource::Secret(name.clone()),
                items: p.items.clone(),
                optional: p.optional,
            }]
        }
        ProjectionSource::Projected(parts) => parts.clone(),
    };
    let mut payload = projection::Payload::new();
    for part in &parts {
        part_files(app, part, p.default_mode, &mut payload)?;
    }
    Ok(Some(payload))
}

/// Adds the files of one source of a projection to `payload`.
fn part_files(
    app: &App,
    part: &ProjectedPart,
    default_mode: i32,
    payload: &mut projection::Payload,
) -> std::result::Result<(), String> {
    let data: BTreeMap<String, Vec<u8>> = match &part.source {
        PartSource::ConfigMap(name) => match app.config_map(name) {
            Some(cm) => {
                let mut d: BTreeMap<String, Vec<u8>> =
                    cm.data.iter().flatten().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect();
                d.extend(cm.binary_data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())));
                d
            }
            None => BTreeMap::new(),
        },
        PartSource::Secret(name) => match app.secret(name) {
            Some(s) => s.data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect(),
            None => BTreeMap::new(),
        },
        PartSource::Files(files) => {
            for (path, (bytes, mode)) in files {
                payload.insert(
                    path.clone(),
                    projection::File { bytes: bytes.clone(), mode: mode.unwrap_or(default_mode) as u32 },
                );
            }
            return Ok(());
        }
    };
    if part.items.is_empty() {
        for (k, v) in data {
            payload.insert(k, projection::File { bytes: v, mode: default_mode as u32 });
        }
    } else {
        for (key, path, mode) in &part.items {
            match data.get(key) {
                Some(v) => {
                    payload.insert(
                        path.clone(),
                        projection::File { bytes: v.clone(), mode: mode.unwrap_or(default_mode) as u32 },
                    );
                }
                None if part.optional => {}
                None => return Err(format!("key `{key}` listed in items is not in the object")),
            }
        }
    }
    Ok(())
}

/// Writes one projection (or makes an emptyDir) on the host, and hands it to
/// the pod's fsGroup as the kubelet does (see `own`).
pub fn project(app: &App, p: &Projection) -> std::result::Result<bool, String> {
    match payload(app, p)? {
        None => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::create_dir_all(&p.host_dir).map_err(|e| e.to_string())?;
            std::fs::set_permissions(&p.host_dir, std::fs::Permissions::from_mode(0o777)).map_err(|e| e.to_string())?;
            // The pod may write into an emptyDir: only its top directory is
            // podproof's, and the files the pod makes inherit the group
            // through its setgid bit.
            if let Some(g) = p.fs_group {
                own(&p.host_dir, g, false, false).map_err(|e| e.to_string())?;
            }
            Ok(true)
        }
        Some(payload) => {
            let changed = projection::write(&p.host_dir, &payload).map_err(|e| e.to_string())?;
            if let Some(g) = p.fs_group {
                own(&p.host_dir, g, true, true).map_err(|e| e.to_string())?;
            }
            Ok(changed)
        }
    }
}

/// The kubelet's SetVolumeOwnership (pkg/volume/volume_linux.go), ported:
/// each file and directory gets group `gid` (links too, never followed);
/// files gain group read and write (read only, for the read-only ConfigMap,
/// Secret, downwardAPI and projected volumes), directories also group
/// search and the setgid bit, so what is made in them keeps the group.
/// `fsGroupChangePolicy` does not apply to these volume types, as in a
/// cluster. Rootless podman maps group ids into a user namespace that
/// podproof does not enter here, so there the volumes keep their groups.
fn own(path: &std::path::Path, gid: i64, readonly: bool, recurse: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if crate::host::rootless_user() {
        return Ok(());
    }
    let Ok(g) = u32::try_from(gid) else { return Ok(()) };
    let meta = std::fs::symlink_metadata(path)?;
    rustix::fs::chownat(
        rustix::fs::CWD,
        path,
        None,
        Some(rustix::fs::Gid::from_raw(g)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mut mask = if readonly { 0o440 } else { 0o660 };
    if meta.is_dir() {
        mask |= 0o2110;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode((meta.permissions().mode() & 0o7777) | mask))?;
    if recurse && meta.is_dir() {
        for e in std::fs::read_dir(path)? {
            own(&e?.path(), gid, readonly, true)?;
        }
    }
    Ok(())
}
