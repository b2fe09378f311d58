//! SIGINT and SIGTERM: remembered, so that work stops at the next check and
//! cleanup still runs. A second signal of either kind stops podproof at once,
//! after printing which runs were left and how to remove them.
//!
//! signal-hook runs the handler; the signals are read on a thread of their
//! own, so the reaction to a second one may print and exit.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};

static RECEIVED: AtomicUsize = AtomicUsize::new(0);
static LAST: AtomicUsize = AtomicUsize::new(0);
/// The runs of this process that are not torn down yet.
static LIVE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
/// How to kill each live child process (podman calls): a second signal
/// kills them before podproof exits.
type Kill = Arc<dyn Fn() + Send + Sync>;
static CHILDREN: Mutex<BTreeMap<u64, Kill>> = Mutex::new(BTreeMap::new());
static NEXT_CHILD: AtomicU64 = AtomicU64::new(0);

/// Installs the handlers (idempotent).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            crate::errln!("warning: cannot handle SIGINT/SIGTERM; an interrupted run may be left for `podproof clean`");
            return;
        };
        std::thread::spawn(move || {
            for sig in signals.forever() {
                LAST.store(sig as usize, Ordering::SeqCst);
                if RECEIVED.fetch_add(1, Ordering::SeqCst) >= 1 {
                    stop_now(sig);
                }
            }
        });
    });
}

/// The second signal: no more cleanup, say what is left, and leave.
fn stop_now(sig: i32) -> ! {
    let live: Vec<String> = LIVE.lock().map(|l| l.iter().cloned().collect()).unwrap_or_default();
    crate::errln!("\nsecond {}: stopping at once, without cleaning up", name(sig));
    // podman children run in process groups of their own (so the terminal's
    // Ctrl-C does not reach them): none may outlive this exit.
    kill_children();
    if live.is_empty() {
        crate::errln!("nothing of this command was left running");
    } else {
        for id in &live {
            let hint = if id == crate::state::UP_ID { "`podproof down --all`" } else { "`podproof clean`" };
            crate::errln!("left: run {id} ({}), removed by {hint}", crate::state::run_dir(id).display());
        }
    }
    std::process::exit(128 + sig);
}

/// Notes a run of this process that exists and is not torn down yet.
pub fn track(id: &str) {
    if let Ok(mut l) = LIVE.lock() {
        l.insert(id.to_string());
    }
}

/// Notes that a run was torn down (or handed over, as a kept run).
pub fn untrack(id: &str) {
    if let Ok(mut l) = LIVE.lock() {
        l.remove(id);
    }
}

/// Whether a stop was requested.
pub fn interrupted() -> bool {
    RECEIVED.load(Ordering::SeqCst) > 0
}

/// The error text of a podman call that a signal cancelled (CLI and API alike).
pub fn cancelled_message() -> String {
    format!("cancelled: podproof received {}", which().unwrap_or("a signal"))
}

/// How many signals arrived so far: a podman call compares it with the
/// count when it started, to tell whether it was in flight at the signal.
pub fn received() -> usize {
    RECEIVED.load(Ordering::SeqCst)
}

fn name(sig: i32) -> &'static str {
    match sig {
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// The signal that arrived last, if any (e.g. "SIGINT").
pub fn which() -> Option<&'static str> {
    match LAST.load(Ordering::SeqCst) as i32 {
        0 => None,
        s => Some(name(s)),
    }
}

/// A child process in the registry while it lives; dropping it takes the
/// child out.
pub struct Child(u64);

/// Registers a live child process with what kills it.
pub fn register_child(kill: impl Fn() + Send + Sync + 'static) -> Child {
    let id = NEXT_CHILD.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut l) = CHILDREN.lock() {
        l.insert(id, Arc::new(kill));
    }
    Child(id)
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(mut l) = CHILDREN.lock() {
            l.remove(&self.0);
        }
    }
}

/// Kills every live child (the second signal: podproof exits next).
fn kill_children() {
    let live: Vec<Kill> = CHILDREN.lock().map(|l| l.values().cloned().collect()).unwrap_or_default();
    for kill in live {
        kill();
    }
}
