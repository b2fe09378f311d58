//! Waiting for conditions, in the style of kube-rs's `await_condition`:
//! a predicate polled until it holds, a deadline, and an early stop on
//! SIGINT/SIGTERM. Nothing in podproof sleeps without a condition.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub enum WaitError<E> {
    /// The deadline passed; the last failure (if any) says why.
    Timeout(Option<E>),
    /// SIGINT or SIGTERM arrived.
    Interrupted,
    /// The predicate gave up.
    Failed(E),
}

/// What one poll of the predicate says.
pub enum Poll<T, E> {
    Ready(T),
    /// Not yet; the error (if any) explains why, for the timeout message.
    Pending(Option<E>),
    /// Stop waiting: this will not get better.
    Fail(E),
}

/// Polls `predicate` every `interval` until it is ready, fails, or `timeout` passes.
pub fn await_condition<T, E>(
    timeout: Duration,
    interval: Duration,
    mut predicate: impl FnMut() -> Poll<T, E>,
) -> Result<T, WaitError<E>> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        if crate::signals::interrupted() {
            return Err(WaitError::Interrupted);
        }
        match predicate() {
            Poll::Ready(t) => return Ok(t),
            Poll::Fail(e) => return Err(WaitError::Failed(e)),
            Poll::Pending(e) => {
                if e.is_some() {
                    last = e;
                }
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(WaitError::Timeout(last));
        }
        pause(interval.min(deadline - now));
    }
}

/// Sleeps in short slices so a signal is noticed quickly: between polls of a
/// condition, and for `sleep` steps. This and `poll_backoff` are the only
/// places podproof sleeps.
pub fn pause(d: Duration) {
    let end = Instant::now() + d;
    while !crate::signals::interrupted() {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// Polls `done` until it gives a value, sleeping `first` after the first
/// poll and doubling up to `max`. It does not stop on a signal: the podman
/// CLI's wait for its child uses it, since a cleanup call must outlive one
/// (the predicate decides when a signal counts). With `pause`, the only other
/// place podproof sleeps.
pub fn poll_backoff<T>(first: Duration, max: Duration, mut done: impl FnMut() -> Option<T>) -> T {
    let mut poll = first;
    loop {
        if let Some(t) = done() {
            return t;
        }
        std::thread::sleep(poll);
        poll = (poll * 2).min(max);
    }
}

/// The longest duration accepted: far beyond any timeout, and near enough
/// that `Instant::now() + d` cannot overflow.
const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Parses durations such as `500ms`, `10s`, `5m`, `1h` or `1m30s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if n == 0 {
            return Err(format!("invalid duration `{s}`: expected e.g. 500ms, 10s, 5m"));
        }
        let num: f64 = rest[..n].parse().map_err(|_| format!("invalid duration `{s}`"))?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..u];
        rest = &rest[u..];
        let secs = match unit {
            "ms" => num / 1000.0,
            "s" => num,
            "m" => num * 60.0,
            "h" => num * 3600.0,
            "" => return Err(format!("duration `{s}` needs a unit (ms, s, m or h)")),
            _ => return Err(format!("unknown unit `{unit}` in duration `{s}`")),
        };
        // `from_secs_f64` and `+=` panic on overflow; a long duration is bad input.
        total = Duration::try_from_secs_f64(secs)
            .ok()
            .and_then(|d| total.checked_add(d))
            .filter(|t| *t <= MAX_DURATION)
            .ok_or_else(|| format!("duration `{s}` is too long (at most 100 years)"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let got = match parse_duration(input) {
            Ok(d) => format!("{}ms", d.as_millis()),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn durations() {
        check("500ms", "500ms");
        check("10s", "10000ms");
        check("5m", "300000ms");
        check("1m30s", "90000ms");
        check("1.5s", "1500ms");
        check("10", "error: duration `10` needs a unit (ms, s, m or h)");
        check("10x", "error: unknown unit `x` in duration `10x`");
        check("", "error: empty duration");
        check("99999999999999999999999h", "error: duration `99999999999999999999999h` is too long (at most 100 years)");
        check(
            "4000000000000000h4000000000000000h",
            "error: duration `4000000000000000h4000000000000000h` is too long (at most 100 years)",
        );
        let nines = "9".repeat(400);
        check(&format!("{nines}s"), &format!("error: duration `{nines}s` is too long (at most 100 years)"));
    }

    #[test]
    fn await_condition_times_out_with_last_reason() {
        let r: Result<(), _> =
            await_condition(Duration::from_millis(30), Duration::from_millis(5), || Poll::Pending(Some("not yet")));
        assert!(matches!(r, Err(WaitError::Timeout(Some("not yet")))));
        let mut n = 0;
        let r: Result<i32, WaitError<()>> = await_condition(Duration::from_secs(1), Duration::from_millis(1), || {
            n += 1;
            if n == 3 {
                Poll::Ready(n)
            } else {
                Poll::Pending(None)
            }
        });
        assert_eq!(r.unwrap(), 3);
    }
}
