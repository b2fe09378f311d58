//! Whether a pod's stop signal can do anything, so that a final teardown
//! need not wait out a grace period that cannot end early.
//!
//! `podman stop` (like the kubelet through the CRI) sends the stop signal to
//! the container's PID 1 only. The kernel drops a signal sent to the init of
//! a PID namespace unless that process has a handler for it, so a PID 1 such
//! as busybox `httpd` or a plain `sleep` never sees SIGTERM: in a cluster,
//! every stop of it waits out terminationGracePeriodSeconds and ends in
//! SIGKILL. Nothing can change in such a container during the wait, so when
//! nothing observes the pod afterwards (test teardown, `podproof down`),
//! podproof kills it at once and says so, instead of waiting for nothing.
//! Stops that a test can observe (a `down` step, scale-down, `restart`,
//! liveness restarts) keep the whole grace period, as in a cluster.
//!
//! The facts come from `/proc/<pid>/status` on this host, where podman runs
//! the container: `NSpid` (PID 1 of its namespace), `PPid` (a child of the
//! container's conmon, which ties the PID to this container), and `SigCgt`
//! (the signals with a handler).

use crate::podman::ContainerState;

/// A container whose PID 1 ignores its stop signal, as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ignored {
    /// The app and role of the pod's member ("" when only the pod's name is known).
    pub app: String,
    pub role: String,
    /// podman's pod.
    pub pod: String,
    /// The container as the pod spec names it.
    pub container: String,
    /// The stop signal, by name (SIGTERM unless the image says otherwise).
    pub signal: String,
    /// The pod's terminationGracePeriodSeconds: what a cluster waits on every stop.
    pub grace_seconds: i64,
}

impl Ignored {
    /// The sentence of the timeline and of `podproof down`.
    pub fn message(&self) -> String {
        format!(
            "PID 1 of container {} has no handler for {}, so the kernel drops it: in a cluster each stop of this \
             pod waits out its {} s grace period and ends in SIGKILL. podproof killed it at once (nothing observes \
             a final teardown)",
            self.container, self.signal, self.grace_seconds
        )
    }
}

/// The pod whose containers are checked, as reports name it.
pub struct PodRef<'a> {
    pub app: &'a str,
    pub role: &'a str,
    /// podman's pod; its containers are named `<pod>-<container>`.
    pub pod: &'a str,
    /// terminationGracePeriodSeconds as written (Kubernetes' default 30 s when None).
    pub grace_seconds: Option<i64>,
}

/// The running containers of `pod` (`states`: every container of it, infra
/// aside) when every one of them ignores its stop signal and none of them
/// has a preStop hook (`hooked`, podman's names: a hook may start work that
/// the grace period is for); empty otherwise, or when a fact cannot be read.
pub fn ignoring(pod: &PodRef, states: &[ContainerState], hooked: &[String]) -> Vec<Ignored> {
    let prefix = format!("{}-", pod.pod);
    all_ignore(states, hooked)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, signal)| Ignored {
            app: pod.app.to_string(),
            role: pod.role.to_string(),
            pod: pod.pod.to_string(),
            container: name.strip_prefix(&prefix).unwrap_or(&name).to_string(),
            signal,
            grace_seconds: pod.grace_seconds.unwrap_or(30),
        })
        .collect()
}

/// `ignoring`'s decision, as (podman's name, signal) of each container.
fn all_ignore(states: &[ContainerState], hooked: &[String]) -> Option<Vec<(String, String)>> {
    let running: Vec<&ContainerState> = states.iter().filter(|s| s.running && s.pid > 0).collect();
    if running.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for s in running {
        if hooked.contains(&s.name) {
            return None;
        }
        let sig = signal_number(&s.stop_signal)?;
        let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid)).ok()?;
        if !dropped(&status, sig, s.conmon_pid) {
            return None;
        }
        out.push((s.name.clone(), signal_name(sig)));
    }
    Some(out)
}

/// Whether `signal` sent to the process whose `/proc/<pid>/status` is
/// `status` is dropped: the process is PID 1 of its namespace, a child of
/// `conmon` (so the PID is the container's, not a reused one), and has no
/// handler for the signal.
fn dropped(status: &str, signal: u32, conmon: i64) -> bool {
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim)).map(str::to_string)
    };
    let init = field("NSpid").and_then(|v| v.split_whitespace().last().map(|p| p == "1")).unwrap_or(false);
    let child = conmon > 0 && field("PPid").and_then(|p| p.parse::<i64>().ok()) == Some(conmon);
    let caught = field("SigCgt").and_then(|m| u64::from_str_radix(&m, 16).ok());
    match caught {
        Some(mask) if (1..=64).contains(&signal) => init && child && mask & (1u64 << (signal - 1)) == 0,
        _ => false,
    }
}

const NAMES: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",
    "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO",
    "PWR", "SYS",
];

/// A stop signal as podman reports it (`15`, `SIGTERM`, `TERM`); SIGTERM when empty.
fn signal_number(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() {
        return Some(15);
    }
    if let Ok(n) = s.parse::<u32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    NAMES.iter().position(|n| *n == name).map(|i| i as u32 + 1)
}

fn signal_name(n: u32) -> String {
    match NAMES.get(n as usize - 1) {
        Some(name) => format!("SIG{name}"),
        None => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(nspid: &str, ppid: i64, sigcgt: &str) -> String {
        format!("Name:\thttpd\nPPid:\t{ppid}\nNSpid:\t{nspid}\nSigBlk:\t0000000000000000\nSigCgt:\t{sigcgt}\n")
    }

    fn check(status: &str, signal: &str, conmon: i64, expect: bool) {
        let sig = signal_number(signal).expect("a signal");
        assert_eq!(dropped(status, sig, conmon), expect, "{signal} {conmon}\n{status}");
    }

    #[test]
    fn a_signal_is_dropped_only_by_an_init_without_a_handler() {
        // `sleep` as PID 1 catches nothing.
        check(&status("31152\t1", 7, "0000000000000000"), "15", 7, true);
        // A shell with `trap ... TERM` catches SIGTERM (bit 14).
        check(&status("31152\t1", 7, "0000000000004000"), "15", 7, false);
        // busybox httpd catches SIGHUP (bit 0) only: SIGTERM is dropped, SIGHUP is not.
        check(&status("31152\t1", 7, "0000000000000001"), "SIGTERM", 7, true);
        check(&status("31152\t1", 7, "0000000000000001"), "HUP", 7, false);
        // nginx stops on SIGQUIT (bit 2), which it catches.
        check(&status("31152\t1", 7, "0000000000000004"), "SIGQUIT", 7, false);
        // Not PID 1 of its namespace (a shared PID namespace, hostPID): the default action kills it.
        check(&status("31152\t12", 7, "0000000000000000"), "15", 7, false);
        check(&status("31152", 7, "0000000000000000"), "15", 7, false);
        // Not the child of the container's conmon: a PID reused by another process.
        check(&status("31152\t1", 8, "0000000000000000"), "15", 7, false);
        check(&status("31152\t1", 7, "0000000000000000"), "15", 0, false);
        // Unreadable facts decide nothing.
        check("Name:\tx\n", "15", 7, false);
        check(&status("31152\t1", 7, "zz"), "15", 7, false);
    }

    #[test]
    fn signals_by_number_and_name() {
        assert_eq!(signal_number(""), Some(15));
        assert_eq!(signal_number("15"), Some(15));
        assert_eq!(signal_number("SIGTERM"), Some(15));
        assert_eq!(signal_number("term"), Some(15));
        assert_eq!(signal_number("SIGQUIT"), Some(3));
        assert_eq!(signal_number("SIGRTMIN+3"), None);
        assert_eq!(signal_number("0"), None);
        assert_eq!(signal_number("99"), None);
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(40), "signal 40");
    }
}
