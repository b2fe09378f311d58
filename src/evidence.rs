//! What podproof reads by itself to tell whether a reload took: the app's own
//! log lines since the change, matched against the signatures of the common
//! servers, and the main process's start time and children from `/proc`.
//!
//! Every signature was read from the server's source, not from memory; the
//! `source` column says where, so a changed message can be checked again.

use regex::Regex;
use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::OnceLock;

/// What a log line says about a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The app rejected the new config (or part of it).
    Failed,
    /// The app says the new config is loaded.
    Succeeded,
    /// The app got the request and is reloading; a failure would follow at once.
    Received,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Failed => "failure",
            Kind::Succeeded => "success",
            Kind::Received => "received",
        }
    }
}

/// One known log message of a server.
#[derive(Debug)]
pub struct Signature {
    pub server: &'static str,
    pub kind: Kind,
    /// A regular expression over one log line.
    pub pattern: &'static str,
    /// Where the message is written upstream.
    pub source: &'static str,
}

/// The table, most specific first: the first match decides a line.
pub const SIGNATURES: &[Signature] = &[
    Signature {
        server: "nginx",
        kind: Kind::Failed,
        pattern: r"\[emerg\]",
        source: "nginx/nginx src/core/ngx_log.c (err_levels, \" [%V] \"), e.g. ngx_conf_file.c \"%s in %s:%ui\"",
    },
    Signature {
        server: "nginx",
        kind: Kind::Failed,
        pattern: r"\[alert\]",
        source: "nginx/nginx src/core/ngx_log.c (err_levels)",
    },
    Signature {
        server: "nginx",
        kind: Kind::Received,
        pattern: r"\[notice\] .*: reconfiguring$",
        source: "nginx/nginx src/os/unix/ngx_process_cycle.c (ngx_master_process_cycle, on SIGHUP)",
    },
    Signature {
        server: "nginx",
        kind: Kind::Succeeded,
        pattern: r"\[notice\] .*: start worker processes$",
        source: "nginx/nginx src/os/unix/ngx_process_cycle.c (ngx_start_worker_processes, after the new cycle)",
    },
    Signature {
        server: "PostgreSQL",
        kind: Kind::Failed,
        pattern: r#"invalid value for parameter ".+""#,
        source: "postgres/postgres src/backend/utils/misc/guc.c (parse_and_validate_value)",
    },
    Signature {
        server: "PostgreSQL",
        kind: Kind::Failed,
        pattern: r#"configuration file ".+" contains errors"#,
        source: "postgres/postgres src/backend/utils/misc/guc-file.l (ProcessConfigFileInternal: \"; unaffected changes were applied\" / \"; no changes were applied\")",
    },
    Signature {
        server: "PostgreSQL",
        kind: Kind::Failed,
        pattern: r#"syntax error in file ".+" line \d+"#,
        source: "postgres/postgres src/backend/utils/misc/guc-file.l (ParseConfigFp)",
    },
    Signature {
        server: "PostgreSQL",
        kind: Kind::Failed,
        pattern: r#"unrecognized configuration parameter ".+" in file"#,
        source: "postgres/postgres src/backend/utils/misc/guc-file.l (ProcessConfigFileInternal)",
    },
    Signature {
        server: "PostgreSQL",
        kind: Kind::Received,
        pattern: r"received SIGHUP, reloading configuration files",
        source: "postgres/postgres src/backend/postmaster/postmaster.c (process_pm_reload_request)",
    },
    Signature {
        server: "PostgreSQL",
        kind: Kind::Succeeded,
        pattern: r#"parameter ".+" changed to ".*""#,
        source: "postgres/postgres src/backend/utils/misc/guc-file.l (ProcessConfigFileInternal)",
    },
    Signature {
        server: "Prometheus",
        kind: Kind::Failed,
        pattern: r#"Error reloading config"#,
        source: "prometheus/prometheus cmd/prometheus/main.go (reload on SIGHUP and on /-/reload)",
    },
    Signature {
        server: "Prometheus",
        kind: Kind::Succeeded,
        pattern: r#"Completed loading of configuration file"#,
        source: "prometheus/prometheus cmd/prometheus/main.go (reloadConfig)",
    },
    Signature {
        server: "HAProxy",
        kind: Kind::Failed,
        pattern: r"^\[ALERT\] ",
        source: "haproxy/haproxy src/errors.c (ha_alert -> print_message \"[ALERT]\")",
    },
    Signature {
        server: "HAProxy",
        kind: Kind::Failed,
        pattern: r"Failed to load worker \(\d+\) exited",
        source: "haproxy/haproxy src/mworker.c (mworker_catch_sigchld)",
    },
    Signature {
        server: "HAProxy",
        kind: Kind::Failed,
        pattern: r"^\[WARNING\] +\(\d+\) : Loading failure!",
        source: "haproxy/haproxy doc/management.txt (the master's reload status, \"reload\" command)",
    },
    Signature {
        server: "HAProxy",
        kind: Kind::Received,
        pattern: r"^\[WARNING\] +\(\d+\) : Reexecuting Master process",
        source: "haproxy/haproxy src/mworker.c of 2.6 (mworker_reexec, on SIGUSR2)",
    },
    Signature {
        server: "HAProxy",
        kind: Kind::Succeeded,
        pattern: r"^\[NOTICE\] +\(\d+\) : Loading success\.",
        source: "haproxy/haproxy src/cli.c (the master's notice once the new worker is up)",
    },
    Signature {
        server: "generic",
        kind: Kind::Failed,
        pattern: r"(?i)\blevel=(error|fatal|crit)\b",
        source: "logfmt levels of go-kit/log and log/slog (level=error)",
    },
    Signature {
        server: "generic",
        kind: Kind::Failed,
        pattern: r"\b(ERROR|FATAL|PANIC)\b",
        source: "upper-case severities (PostgreSQL's elog.c error_severity, log4j, Python logging)",
    },
];

fn compiled() -> &'static [Regex] {
    static RES: OnceLock<Vec<Regex>> = OnceLock::new();
    RES.get_or_init(|| SIGNATURES.iter().map(|s| Regex::new(s.pattern).expect("signature patterns compile")).collect())
}

/// The first signature a log line matches.
pub fn classify(line: &str) -> Option<&'static Signature> {
    compiled().iter().position(|re| re.is_match(line)).map(|i| &SIGNATURES[i])
}

/// Reads what a container wrote since a point in time, from its k8s-file log.
#[derive(Debug)]
pub struct LogTail {
    pub container: String,
    path: PathBuf,
    offset: u64,
    /// A line podman split (`P`), waiting for its end (`F`).
    partial: String,
    /// Bytes after the last newline, not yet a whole record.
    rest: Vec<u8>,
}

impl LogTail {
    /// Starts at the current end of the log; `None` when there is no readable log file.
    pub fn at_end(container: &str, path: &str) -> Option<LogTail> {
        if path.is_empty() {
            return None;
        }
        let len = std::fs::metadata(path).ok()?.len();
        Some(LogTail {
            container: container.to_string(),
            path: PathBuf::from(path),
            offset: len,
            partial: String::new(),
            rest: Vec::new(),
        })
    }

    /// The whole lines written since the last call.
    pub fn read_new(&mut self) -> Vec<String> {
        let Ok(mut f) = std::fs::File::open(&self.path) else { return Vec::new() };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // The log was rotated or truncated: read it from its start.
            self.offset = 0;
            self.rest.clear();
        }
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.offset)).is_err() || f.read_to_end(&mut buf).is_err() {
            return Vec::new();
        }
        self.offset += buf.len() as u64;
        self.rest.extend_from_slice(&buf);
        let mut out = Vec::new();
        while let Some(nl) = self.rest.iter().position(|b| *b == b'\n') {
            let rec: Vec<u8> = self.rest.drain(..=nl).collect();
            let rec = String::from_utf8_lossy(&rec[..rec.len() - 1]).into_owned();
            if let Some((full, text)) = parse_record(&rec) {
                self.partial.push_str(text);
                if full {
                    out.push(std::mem::take(&mut self.partial));
                }
            }
        }
        out
    }
}

/// One k8s-file record: `TIMESTAMP STREAM P|F TEXT`; true when the line is complete.
pub fn parse_record(rec: &str) -> Option<(bool, &str)> {
    let mut it = rec.splitn(4, ' ');
    let _ts = it.next()?;
    let stream = it.next()?;
    if stream != "stdout" && stream != "stderr" {
        return None;
    }
    let tag = it.next()?;
    let text = it.next().unwrap_or("");
    Some((tag != "P", text))
}

/// The start time of a host process, in clock ticks since boot (field 22 of
/// `/proc/PID/stat`): a process replaced under the same PID has another one.
pub fn start_time(pid: i64) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_start_time(&stat)
}

/// Field 22 of a stat line; the command name (field 2) may contain spaces and parentheses.
pub fn stat_start_time(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// The children of a host process, from `/proc/PID/task/*/children`.
pub fn children(pid: i64) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return out };
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(text.split_whitespace().filter_map(|p| p.parse::<i64>().ok()));
        }
    }
    out
}

/// The workers of a master process: its children running the same program
/// (nginx and HAProxy fork their workers; a shell's `sleep` is not one).
pub fn workers(pid: i64) -> BTreeSet<i64> {
    let comm = |p: i64| std::fs::read_to_string(format!("/proc/{p}/comm")).ok();
    let Some(own) = comm(pid) else { return BTreeSet::new() };
    children(pid).into_iter().filter(|c| comm(*c).as_ref() == Some(&own)).collect()
}

/// Whether an old worker no longer takes new requests: it exited, or it set
/// nginx's title for a worker that closed its listeners and finishes its
/// requests ("worker process is shutting down", src/os/unix/ngx_process_cycle.c).
pub fn retired(pid: i64) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmd) => String::from_utf8_lossy(&cmd).contains("is shutting down"),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, expect: &str) {
        let got = match classify(line) {
            Some(s) => {
                HIT.with(|h| h.borrow_mut().insert(s.pattern));
                format!("{} {}", s.server, s.kind.as_str())
            }
            None => "none".into(),
        };
        assert_eq!(got, expect, "{line}");
    }

    thread_local! {
        static HIT: std::cell::RefCell<BTreeSet<&'static str>> = const { std::cell::RefCell::new(BTreeSet::new()) };
    }

    /// One line per table entry, written the way the server writes it.
    #[test]
    fn signatures() {
        check(
            "2026/12/01 19:40:00 [emerg] 1#1: unknown directive \"bogus\" in /etc/nginx/conf.d/default.conf:3",
            "nginx failure",
        );
        check("2026/12/01 19:40:00 [alert] 1#1: kill(12, 1) failed (3: No such process)", "nginx failure");
        check("2026/12/01 19:40:00 [notice] 1#1: signal 1 (SIGHUP) received from 0, reconfiguring", "none");
        check("2026/12/01 19:40:00 [notice] 1#1: reconfiguring", "nginx received");
        check("2026/12/01 19:40:00 [notice] 1#1: start worker processes", "nginx success");
        check(
            "2026-12-01 19:40:00.000 UTC [1] LOG:  invalid value for parameter \"work_mem\": \"lots\"",
            "PostgreSQL failure",
        );
        check("2026-12-01 19:40:00.000 UTC [1] LOG:  configuration file \"/etc/pg/postgresql.conf\" contains errors; unaffected changes were applied", "PostgreSQL failure");
        check("2026-12-01 19:40:00.000 UTC [1] LOG:  syntax error in file \"/etc/pg/postgresql.conf\" line 3, near token \"=\"", "PostgreSQL failure");
        check("2026-12-01 19:40:00.000 UTC [1] LOG:  unrecognized configuration parameter \"wrk_mem\" in file \"/etc/pg/postgresql.conf\" line 2", "PostgreSQL failure");
        check(
            "2026-12-01 19:40:00.000 UTC [1] LOG:  received SIGHUP, reloading configuration files",
            "PostgreSQL received",
        );
        check("2026-12-01 19:40:00.000 UTC [1] LOG:  parameter \"work_mem\" changed to \"8MB\"", "PostgreSQL success");
        check("ts=2026-12-01T19:40:00.000Z caller=main.go:1 level=error msg=\"Error reloading config\" err=\"couldn't load\"", "Prometheus failure");
        check("ts=2026-12-01T19:40:00.000Z caller=main.go:1 level=info msg=\"Completed loading of configuration file\" filename=/etc/prom/prometheus.yml", "Prometheus success");
        check("[ALERT]    (1) : config : parsing [/etc/haproxy/haproxy.cfg:9] : unknown keyword 'bogus' in 'frontend' section", "HAProxy failure");
        check("[WARNING]  (1) : Failed to load worker (42) exited with code 1 (Exit)", "HAProxy failure");
        check("[WARNING]  (482886) : Loading failure!", "HAProxy failure");
        check("[WARNING]  (1) : Reexecuting Master process", "HAProxy received");
        check("[NOTICE]   (1) : Loading success.", "HAProxy success");
        check("time=2026-12-01T19:40:00Z level=ERROR msg=\"bad config\"", "generic failure");
        check("level=fatal msg=boom", "generic failure");
        check("2026-12-01 ERROR could not parse settings", "generic failure");
        check("FATAL: invalid config", "generic failure");
        check("all good: 0 errors, no error-level messages", "none");
        check("[notice] 1#1: using the \"epoll\" event method", "none");
        // Every entry of the table has its line above.
        let missed: Vec<&str> =
            SIGNATURES.iter().map(|s| s.pattern).filter(|p| !HIT.with(|h| h.borrow().contains(p))).collect();
        assert!(missed.is_empty(), "signatures without a test line: {missed:?}");
    }

    #[test]
    fn records() {
        assert_eq!(parse_record("2026-12-01T19:40:00.1+00:00 stderr F hello world"), Some((true, "hello world")));
        assert_eq!(parse_record("2026-12-01T19:40:00.1+00:00 stdout P part"), Some((false, "part")));
        assert_eq!(parse_record("2026-12-01T19:40:00.1+00:00 stdout F"), Some((true, "")));
        assert_eq!(parse_record("garbage"), None);
    }

    #[test]
    fn stat_fields() {
        let stat = "1 (my (odd) cmd) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10";
        assert_eq!(stat_start_time(stat), Some(123456));
        assert_eq!(stat_start_time("nonsense"), None);
    }
}
