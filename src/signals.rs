//! SIGINT and SIGTERM: remembered, so that work stops at the next check and
//! cleanup still runs. A second signal of either kind leaves right away.

use std::sync::atomic::{AtomicUsize, Ordering};

static RECEIVED: AtomicUsize = AtomicUsize::new(0);
static LAST: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    LAST.store(sig as usize, Ordering::SeqCst);
    RECEIVED.fetch_add(1, Ordering::SeqCst);
}

/// Installs the handlers (idempotent).
pub fn install() {
    // SAFETY: the handler only touches atomics, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

/// Whether a stop was requested.
pub fn interrupted() -> bool {
    RECEIVED.load(Ordering::SeqCst) > 0
}

/// The signal that arrived last, if any (e.g. "SIGINT").
pub fn which() -> Option<&'static str> {
    match LAST.load(Ordering::SeqCst) as libc::c_int {
        0 => None,
        libc::SIGINT => Some("SIGINT"),
        libc::SIGTERM => Some("SIGTERM"),
        _ => Some("a signal"),
    }
}
