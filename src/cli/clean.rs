//! `podproof clean`: remove what dead test runs left behind.

use crate::error::Result;
use crate::podman;
use crate::render;
use crate::state::{self, RunKind};
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  podproof clean        # runs whose podproof process is gone\n  podproof clean --all  # everything podproof made, the `up` environment too"
)]
pub struct Args {
    /// Remove everything podproof made, including the `up` environment and live runs
    #[arg(long)]
    pub all: bool,
}

pub fn run(a: Args) -> Result<i32> {
    let removed = clean(a.all)?;
    errln!("removed {removed} objects");
    Ok(0)
}

/// Removes the runs that no live process owns (every run with `all`).
/// Returns the number of podman objects removed.
pub fn clean(all: bool) -> Result<usize> {
    let mut ids: Vec<String> = podman::label_values(render::LABEL_RUN)?;
    ids.extend(state::list().into_iter().map(|r| r.id));
    ids.sort();
    ids.dedup();
    // A label value is anyone's to set: one that is not a run id stops the
    // clean before anything is removed, rather than steering a path or filter.
    let bad: Vec<String> = ids.iter().filter_map(|id| state::check_id(id).err()).collect();
    if !bad.is_empty() {
        return Err(crate::error::Error::Usage(format!(
            "podman objects carry a {} label that is not a run id, so nothing was removed: {}; \
             remove those objects by hand (`podman ps -a --filter label={}`)",
            render::LABEL_RUN,
            bad.join("; "),
            render::LABEL_RUN
        )));
    }
    let mut removed = 0;
    for id in ids {
        if !all && !is_dead(&id) {
            continue;
        }
        removed += podman::remove_labelled(&format!("{}={id}", render::LABEL_RUN), Duration::ZERO)?;
        state::remove(&id)?;
    }
    // The podman service of a killed run: stopped when no live podproof uses it.
    if podman::service::clean_leftover() {
        errln!("stopped the podman service no live podproof process used");
    }
    Ok(removed)
}

/// The cheap clean that `podproof test` runs first: only runs with a record
/// whose process is gone. It makes no podman call when there are none, and
/// orphans without a record are left for `podproof clean`.
pub fn clean_recorded() -> Result<usize> {
    let mut removed = 0;
    for r in state::list() {
        if r.kind == RunKind::Test && !state::pid_alive(r.pid) && !state::lock_held(&r.id) {
            removed += podman::remove_labelled(&format!("{}={}", render::LABEL_RUN, r.id), Duration::ZERO)?;
            state::remove(&r.id)?;
        }
    }
    Ok(removed)
}

/// A run is dead when no live process holds its lock (`state::create`) and it
/// is a test run whose process is gone, or has no record at all (its state
/// was lost). A run whose process lives is never dead, record or not: a run
/// takes its lock before it writes its record, and both before its first
/// podman object.
fn is_dead(id: &str) -> bool {
    if state::lock_held(id) {
        return false;
    }
    match state::read(id) {
        Some(r) => r.kind == RunKind::Test && !state::pid_alive(r.pid),
        None => id != state::UP_ID,
    }
}
