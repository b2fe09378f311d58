//! What the API server needs from the container runtime: the pod
//! subresources that no store can answer (`log`, `exec`, `attach`,
//! `port-forward`). The environment implements `PodRuntime` over podman and
//! hands it to the server; the API never names podman itself. Every method
//! is blocking and is called on a blocking thread of the server, so an
//! implementation may use plain threads and pipes.

use super::errors::{ApiError, ApiResult};
use std::io::{Read, Write};

/// The query of `pods/log` (PodLogOptions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    pub tail_lines: Option<i64>,
    pub since_seconds: Option<i64>,
    pub timestamps: bool,
    pub limit_bytes: Option<i64>,
}

/// The query of `pods/exec` and `pods/attach` (PodExecOptions, PodAttachOptions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    pub container: Option<String>,
    /// Empty for attach.
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

/// A running exec or attach: its streams, and its end.
pub struct Session {
    pub stdin: Option<Box<dyn Write + Send>>,
    pub stdout: Option<Box<dyn Read + Send>>,
    pub stderr: Option<Box<dyn Read + Send>>,
    /// Resizes the terminal (width, height), for `tty`.
    pub resize: Option<Box<dyn FnMut(u16, u16) + Send>>,
    /// Waits for the process and gives its exit code.
    pub wait: Box<dyn FnOnce() -> ApiResult<i32> + Send>,
}

/// A connection to a port inside a pod's network namespace.
pub struct Connection {
    pub reader: Box<dyn Read + Send>,
    pub writer: Box<dyn Write + Send>,
}

pub trait PodRuntime: Send + Sync {
    /// A container's log; with `follow` the reader ends when the container does.
    fn logs(&self, namespace: &str, pod: &str, opts: &LogOptions) -> ApiResult<Box<dyn Read + Send>>;
    /// Runs a command in a container (exec), or attaches to its process (an
    /// empty `command`).
    fn exec(&self, namespace: &str, pod: &str, opts: &ExecOptions) -> ApiResult<Session>;
    /// Connects to `port` in the pod's network namespace.
    fn port_forward(&self, namespace: &str, pod: &str, port: u16) -> ApiResult<Connection>;
}

/// The runtime of an API server that runs no pods (the hidden
/// `__apiserver` command): every stream subresource says so.
pub struct NoRuntime;

fn none(pod: &str) -> ApiError {
    ApiError::bad_request(format!("pod {pod} runs in no container runtime: this API server serves objects only"))
}

impl PodRuntime for NoRuntime {
    fn logs(&self, _: &str, pod: &str, _: &LogOptions) -> ApiResult<Box<dyn Read + Send>> {
        Err(none(pod))
    }
    fn exec(&self, _: &str, pod: &str, _: &ExecOptions) -> ApiResult<Session> {
        Err(none(pod))
    }
    fn port_forward(&self, _: &str, pod: &str, _: u16) -> ApiResult<Connection> {
        Err(none(pod))
    }
}
