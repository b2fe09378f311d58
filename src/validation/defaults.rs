//! What the API server fills in before it validates and stores an object
//! (pkg/apis/core/v1/defaults.go), where podproof's reading depends on it.

use k8s_openapi::api::core::v1 as core;

/// SetDefaults_Volume: a volume that names no source is an emptyDir.
pub fn volumes(spec: &mut core::PodSpec) {
    for v in spec.volumes.iter_mut().flatten() {
        let bare = serde_json::to_value(&*v).ok().and_then(|j| j.as_object().map(|o| o.len() == 1)).unwrap_or(false);
        if bare {
            v.empty_dir = Some(core::EmptyDirVolumeSource::default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_without_a_source_is_an_empty_dir() {
        let mut spec: core::PodSpec = serde_json::from_str(
            r#"{"containers": [], "volumes": [{"name": "a"}, {"name": "b", "hostPath": {"path": "/x"}}]}"#,
        )
        .unwrap();
        volumes(&mut spec);
        let v = spec.volumes.unwrap();
        assert!(v[0].empty_dir.is_some());
        assert!(v[1].empty_dir.is_none() && v[1].host_path.is_some());
    }
}
