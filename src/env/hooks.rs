//! Lifecycle hooks: what a start or a shrink runs once the pods are up or
//! before they go, beyond podman's and the kubelet's part. KubeDirector's
//! events (`lifecycle::KubeDirector`) are the one implementation; env calls
//! them through this trait, so env does not depend on `lifecycle` (which
//! depends on env for members and exec): tests/layers.rs checks it.

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
