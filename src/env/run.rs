//! The run: its labels, the objects this process made and tracks (played
//! pods, volumes, whether anything untracked may exist), and teardown, also
//! as the RAII guard (`TeardownGuard`) that runs on unwind.

use super::{Env, Log, Member};
use crate::error::{Error, Result};
use crate::podman;
use crate::render;
use crate::state::{self, RunKind};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What teardown removed and how long it took.
#[derive(Debug, Default, Clone)]
pub struct Teardown {
    pub pods: usize,
    pub elapsed: Duration,
    /// Containers killed at once because they ignore their stop signal.
    pub ignored: Vec<crate::kubelet::grace::Ignored>,
}

impl Env {
    pub fn labels(&self, app: Option<&str>) -> BTreeMap<String, String> {
        let mut l = BTreeMap::new();
        l.insert(render::LABEL_RUN.to_string(), self.run.id.clone());
        if let Some(a) = app {
            l.insert(render::LABEL_APP.to_string(), a.to_string());
        }
        l
    }

    /// Creates a labelled named volume unless this run already has it.
    pub(super) fn ensure_volume(&self, name: &str, app: &str) -> Result<()> {
        let mut vols = self.volumes.lock().expect("volumes lock");
        if vols.contains(name) {
            return Ok(());
        }
        // A new test run cannot have volumes yet; the `up` environment may.
        if self.kind == RunKind::Test || !podman::volume_exists(name)? {
            podman::volume_create(name, &self.labels(Some(app)))?;
        }
        vols.insert(name.to_string());
        Ok(())
    }

    /// Removes the volumes this process created.
    pub fn remove_volumes(&self) -> Result<()> {
        let mut vols = self.volumes.lock().expect("volumes lock");
        let names: Vec<String> = vols.iter().cloned().collect();
        podman::volume_rm(&names)?;
        vols.clear();
        Ok(())
    }

    /// Records a pod found running (an `up` environment made earlier).
    pub fn adopt(&self, m: &Member) {
        self.played.lock().expect("played lock").insert(m.pod.clone());
        self.network_ready.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether this process played the member's pod (and has not removed it).
    pub fn is_played(&self, m: &Member) -> bool {
        self.played.lock().expect("played lock").contains(&m.pod)
    }

    /// The members this process has not played yet.
    pub fn unplayed(&self) -> Vec<Member> {
        self.members.iter().filter(|m| !self.is_played(m)).cloned().collect()
    }

    /// Removes everything of this run: pods (after preStop), volumes, the
    /// network and the state directory. A final sweep by label catches
    /// anything a failed or interrupted step left.
    pub fn teardown(&self, log: Log) -> Result<Teardown> {
        use std::sync::atomic::Ordering;
        let start = Instant::now();
        // No pod worker may restart what teardown stops; the event stream goes with them.
        self.kubelet.stop_all();
        let known: Vec<Member> = self.members.iter().filter(|m| self.is_played(m)).cloned().collect();
        let mut ignored = Vec::new();
        let first = self.finish_members(&known, log).and_then(|i| {
            ignored = i;
            self.remove_volumes()
        });
        let net = if self.network_ready.load(Ordering::SeqCst) {
            podman::network_rm(&self.network).map_err(Error::from)
        } else {
            Ok(())
        };
        // What this process made is gone; a sweep by label catches what a failed
        // or interrupted step may have left. It costs four podman calls that
        // contend with parallel tests, so it runs only when needed.
        let filter = format!("{}={}", render::LABEL_RUN, self.run.id);
        let needs_sweep = first.is_err()
            || net.is_err()
            || self.untracked.load(Ordering::SeqCst)
            || crate::signals::interrupted()
            || self.kind == RunKind::Up;
        let result = if needs_sweep {
            podman::remove_labelled(&filter, Duration::ZERO).map(|_| ()).map_err(Error::from)
        } else {
            Ok(())
        };
        // A run whose teardown failed keeps its record, so `clean` finds it.
        if result.is_ok() {
            let _ = state::remove(&self.run.id);
            crate::signals::untrack(&self.run.id);
        } else {
            let _ = state::create(&self.run.id, self.kind);
        }
        result?;
        Ok(Teardown { pods: known.len(), elapsed: start.elapsed(), ignored })
    }
}

/// An environment that is torn down when the guard is dropped, also when a
/// panic unwinds through the code that uses it: a bug in a step must not
/// leave pods behind. `finish` tears down with a log and returns the result;
/// `keep` hands the environment over (a kept failing test) without teardown.
pub struct TeardownGuard {
    env: Env,
    armed: bool,
}

impl TeardownGuard {
    pub fn new(env: Env) -> TeardownGuard {
        TeardownGuard { env, armed: true }
    }

    /// Tears down now.
    pub fn finish(mut self, log: Log) -> Result<Teardown> {
        self.armed = false;
        self.env.teardown(log)
    }

    /// Leaves everything running.
    pub fn keep(mut self) {
        self.armed = false;
        crate::signals::untrack(&self.env.run.id);
    }
}

impl std::ops::Deref for TeardownGuard {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl std::ops::DerefMut for TeardownGuard {
    fn deref_mut(&mut self) -> &mut Env {
        &mut self.env
    }
}

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        if self.armed {
            if std::thread::panicking() {
                crate::errln!("run {}: tearing down after a panic", self.env.run.id);
            }
            if let Err(e) = self.env.teardown(&|_| {}) {
                crate::errln!("run {}: teardown failed: {e}; `podproof clean` removes what is left", self.env.run.id);
            }
        }
    }
}
