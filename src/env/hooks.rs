//! Lifecycle hooks: what a start or a shrink runs once the pods are up or
//! before they go, beyond podman's and the kubelet's part. KubeDirector's
//! events (`lifecycle::KubeDirector`) are the one implementation; env calls
//! them through this trait, so env does not depend on `lifecycle` (which
//! depends on env for members and exec).

use super::{Env, Log, Member};
use crate::error::Result;

pub trait LifecycleHooks: Sync {
    /// After `new` members are ready, with the members that ran before; one line per event.
    fn on_start(&self, env: &Env, new: &[Member], existing: &[Member], log: Log) -> Result<Vec<String>>;
    /// Before `leaving` members are removed, with those that stay; one line per event.
    fn on_shrink(&self, env: &Env, leaving: &[Member], staying: &[Member], log: Log) -> Result<Vec<String>>;
}

/// No hooks: an environment that only stops and removes pods (`down`).
pub struct NoHooks;

impl LifecycleHooks for NoHooks {
    fn on_start(&self, _: &Env, _: &[Member], _: &[Member], _: Log) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn on_shrink(&self, _: &Env, _: &[Member], _: &[Member], _: Log) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    /// The cycle stays broken: no file of env names the lifecycle module.
    #[test]
    fn env_does_not_name_lifecycle() {
        let needle = concat!("crate::", "lifecycle");
        for (file, text) in [
            ("mod.rs", include_str!("mod.rs")),
            ("hooks.rs", include_str!("hooks.rs")),
            ("images.rs", include_str!("images.rs")),
            ("network.rs", include_str!("network.rs")),
            ("pods.rs", include_str!("pods.rs")),
            ("projections.rs", include_str!("projections.rs")),
            ("ready.rs", include_str!("ready.rs")),
            ("run.rs", include_str!("run.rs")),
        ] {
            assert!(!text.contains(needle), "src/env/{file} names {needle}");
        }
    }
}
