//! chainsaw's `chainsaw.kyverno.io/v1alpha1` types as the engine reads them:
//! `Test`, its steps, operations and their fields, `StepTemplate`, and the
//! timeouts with chainsaw's defaults. Field names are chainsaw's own (the
//! files are deserialized into these types with unknown fields refused);
//! kuttl suites are turned into the same types (`kuttl.rs`).

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A Go duration (`1m30s`, `500ms`, `2h`), as metav1.Duration reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        go_duration(&s).map(Dur).map_err(serde::de::Error::custom)
    }
}

/// Parses Go's duration syntax: a sequence of numbers with units ns, us
/// (or µs), ms, s, m and h; `0` needs no unit.
pub fn go_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if body == "0" {
        return Ok(Duration::ZERO);
    }
    if body.is_empty() {
        return Err(format!("invalid duration {s:?}"));
    }
    let mut total = 0f64;
    let mut rest = body;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if n == 0 {
            return Err(format!("invalid duration {s:?}"));
        }
        let num: f64 = rest[..n].parse().map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("missing unit in duration {s:?}")),
            other => return Err(format!("unknown unit {other:?} in duration {s:?}")),
        };
        rest = &rest[u..];
        total += num * scale;
    }
    if neg && total > 0.0 {
        return Err(format!("negative duration {s:?}"));
    }
    Duration::try_from_secs_f64(total)
        .ok()
        .filter(|d| *d <= Duration::from_secs(100 * 365 * 24 * 3600))
        .ok_or_else(|| format!("invalid duration {s:?}"))
}

/// Per-operation-kind timeouts; unset ones fall back to the enclosing level.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    pub apply: Option<Dur>,
    pub assert: Option<Dur>,
    pub cleanup: Option<Dur>,
    pub delete: Option<Dur>,
    pub error: Option<Dur>,
    pub exec: Option<Dur>,
}

impl Timeouts {
    /// `self` with the unset fields taken from `outer`.
    pub fn over(&self, outer: &Timeouts) -> Timeouts {
        Timeouts {
            apply: self.apply.or(outer.apply),
            assert: self.assert.or(outer.assert),
            cleanup: self.cleanup.or(outer.cleanup),
            delete: self.delete.or(outer.delete),
            error: self.error.or(outer.error),
            exec: self.exec.or(outer.exec),
        }
    }

    /// chainsaw's defaults: apply 5s, assert 30s, cleanup 30s, delete 15s, error 30s, exec 5s.
    pub fn chainsaw_defaults() -> Timeouts {
        let s = |n| Some(Dur(Duration::from_secs(n)));
        Timeouts { apply: s(5), assert: s(30), cleanup: s(30), delete: s(15), error: s(30), exec: s(5) }
    }

    /// Every kind of operation gets the same timeout (kuttl's single `timeout`).
    pub fn all(d: Duration) -> Timeouts {
        let s = Some(Dur(d));
        Timeouts { apply: s, assert: s, cleanup: s, delete: s, error: s, exec: s }
    }

    pub fn get(&self, kind: TimeoutKind) -> Duration {
        let d = match kind {
            TimeoutKind::Apply => self.apply,
            TimeoutKind::Assert => self.assert,
            TimeoutKind::Cleanup => self.cleanup,
            TimeoutKind::Delete => self.delete,
            TimeoutKind::Error => self.error,
            TimeoutKind::Exec => self.exec,
        };
        d.map(|d| d.0).unwrap_or_else(|| Timeouts::chainsaw_defaults().get(kind))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    Apply,
    Assert,
    Cleanup,
    Delete,
    Error,
    Exec,
}

/// A name/value pair; the name and the value may be expressions.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    pub name: String,
    pub compiler: Option<String>,
    pub value: Value,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub name: String,
    pub compiler: Option<String>,
    pub value: Value,
    #[serde(rename = "match")]
    pub match_: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    #[serde(rename = "match")]
    pub match_: Option<Value>,
    pub check: Value,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub kubeconfig: String,
    pub context: Option<String>,
}

/// apply, create, patch and update: a file (a glob, or an expression) or an inline resource.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceOp {
    #[serde(default)]
    pub bindings: Vec<Binding>,
    pub cluster: Option<String>,
    #[serde(default)]
    pub clusters: BTreeMap<String, Cluster>,
    pub dry_run: Option<bool>,
    #[serde(default)]
    pub expect: Vec<Expectation>,
    #[serde(default)]
    pub outputs: Vec<Output>,
    pub file: Option<String>,
    pub resource: Option<Value>,
    pub template: Option<bool>,
    pub timeout: Option<Dur>,
    /// patch only.
    pub subresource: Option<String>,
}

/// assert and error: a file or an inline assertion tree.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckOp {
    #[serde(default)]
    pub bindings: Vec<Binding>,
    pub cluster: Option<String>,
    #[serde(default)]
    pub clusters: BTreeMap<String, Cluster>,
    pub file: Option<String>,
    pub resource: Option<Value>,
    pub template: Option<bool>,
    pub timeout: Option<Dur>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectReference {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeleteOp {
    #[serde(default)]
    pub bindings: Vec<Binding>,
    pub cluster: Option<String>,
    #[serde(default)]
    pub clusters: BTreeMap<String, Cluster>,
    #[serde(default)]
    pub expect: Vec<Expectation>,
    pub timeout: Option<Dur>,
    pub template: Option<bool>,
    pub file: Option<String>,
    #[serde(rename = "ref")]
    pub ref_: Option<ObjectReference>,
    pub deletion_propagation_policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Script {
    #[serde(default)]
    pub bindings: Vec<Binding>,
    pub check: Option<Value>,
    pub cluster: Option<String>,
    #[serde(default)]
    pub clusters: BTreeMap<String, Cluster>,
    #[serde(default)]
    pub env: Vec<Binding>,
    #[serde(default)]
    pub skip_log_output: bool,
    #[serde(default)]
    pub skip_command_output: bool,
    #[serde(default)]
    pub outputs: Vec<Output>,
    pub timeout: Option<Dur>,
    #[serde(default)]
    pub content: String,
    pub shell: Option<String>,
    #[serde(default)]
    pub shell_args: Vec<String>,
    pub work_dir: Option<String>,
    /// kuttl's `ignoreFailure`: a failure is logged, not a failure of the step.
    #[serde(skip)]
    pub ignore_failure: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Command {
    #[serde(default)]
    pub bindings: Vec<Binding>,
    pub check: Option<Value>,
    pub cluster: Option<String>,
    #[serde(default)]
    pub clusters: BTreeMap<String, Cluster>,
    #[serde(default)]
    pub env: Vec<Binding>,
    #[serde(default)]
    pub skip_log_output: bool,
    #[serde(default)]
    pub skip_command_output: bool,
    #[serde(default)]
    pub outputs: Vec<Output>,
    pub timeout: Option<Dur>,
    pub entrypoint: String,
    #[serde(default)]
    pub args: Vec<String>,
    pub work_dir: Option<String>,
    /// kuttl's `ignoreFailure`.
    #[serde(skip)]
    pub ignore_failure: bool,
    /// kuttl's `namespaced`: `--namespace <the test's>` is added to the arguments.
    #[serde(skip)]
    pub namespaced: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sleep {
    pub duration: Dur,
}

/// An object or a kind, for get, describe, wait and podLogs (`name` or `selector`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectSel {
    pub cluster: Option<String>,
    #[serde(default)]
    pub clusters: BTreeMap<String, Cluster>,
    pub timeout: Option<Dur>,
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub selector: Option<String>,
    pub format: Option<String>,
    /// describe only.
    pub show_events: Option<bool>,
    /// podLogs only.
    pub container: Option<String>,
    pub tail: Option<i64>,
    /// wait only.
    #[serde(rename = "for")]
    pub for_: Option<WaitFor>,
    /// proxy only.
    pub port: Option<String>,
    pub path: Option<String>,
    #[serde(default)]
    pub outputs: Vec<Output>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WaitFor {
    pub creation: Option<Value>,
    pub deletion: Option<Value>,
    pub condition: Option<WaitCondition>,
    pub json_path: Option<WaitJsonPath>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WaitCondition {
    pub name: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WaitJsonPath {
    pub path: String,
    pub value: Option<String>,
}

/// What one operation does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Apply(ResourceOp),
    Create(ResourceOp),
    Patch(ResourceOp),
    Update(ResourceOp),
    Delete(DeleteOp),
    Assert(CheckOp),
    Error(CheckOp),
    Script(Script),
    Command(Command),
    Sleep(Sleep),
    Wait(ObjectSel),
    Get(ObjectSel),
    Describe(ObjectSel),
    Events(ObjectSel),
    PodLogs(ObjectSel),
    Proxy(ObjectSel),
    /// A kuttl step's asserts and errors, checked together every second
    /// until the step's timeout (kuttl's `Step.Check`).
    KuttlCheck(KuttlCheck),
}

impl Action {
    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Apply(_) => "apply",
            Action::Create(_) => "create",
            Action::Patch(_) => "patch",
            Action::Update(_) => "update",
            Action::Delete(_) => "delete",
            Action::Assert(_) => "assert",
            Action::Error(_) => "error",
            Action::Script(_) => "script",
            Action::Command(_) => "command",
            Action::Sleep(_) => "sleep",
            Action::Wait(_) => "wait",
            Action::Get(_) => "get",
            Action::Describe(_) => "describe",
            Action::Events(_) => "events",
            Action::PodLogs(_) => "podLogs",
            Action::Proxy(_) => "proxy",
            Action::KuttlCheck(_) => "assert",
        }
    }

    /// Which default timeout applies (chainsaw's mapping of operations to timeouts).
    pub fn timeout_kind(&self) -> TimeoutKind {
        match self {
            Action::Apply(_) | Action::Create(_) | Action::Patch(_) | Action::Update(_) => TimeoutKind::Apply,
            Action::Delete(_) => TimeoutKind::Delete,
            Action::Assert(_) | Action::KuttlCheck(_) => TimeoutKind::Assert,
            Action::Error(_) => TimeoutKind::Error,
            _ => TimeoutKind::Exec,
        }
    }

    /// The operation's own `timeout:`.
    pub fn own_timeout(&self) -> Option<Duration> {
        let t = match self {
            Action::Apply(o) | Action::Create(o) | Action::Patch(o) | Action::Update(o) => o.timeout,
            Action::Delete(o) => o.timeout,
            Action::Assert(o) | Action::Error(o) => o.timeout,
            Action::Script(o) => o.timeout,
            Action::Command(o) => o.timeout,
            Action::Wait(o)
            | Action::Get(o)
            | Action::Describe(o)
            | Action::Events(o)
            | Action::PodLogs(o)
            | Action::Proxy(o) => o.timeout,
            Action::Sleep(_) => None,
            Action::KuttlCheck(k) => Some(Dur(k.timeout)),
        };
        t.map(|d| d.0)
    }

    pub fn bindings(&self) -> &[Binding] {
        match self {
            Action::Apply(o) | Action::Create(o) | Action::Patch(o) | Action::Update(o) => &o.bindings,
            Action::Delete(o) => &o.bindings,
            Action::Assert(o) | Action::Error(o) => &o.bindings,
            Action::Script(o) => &o.bindings,
            Action::Command(o) => &o.bindings,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct KuttlCheck {
    pub asserts: Vec<Located>,
    pub errors: Vec<Located>,
    pub timeout: Duration,
    /// Commands of the step's TestAssert, run before each check.
    pub commands: Vec<Script>,
}

/// A document read from a file, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub value: Value,
    pub file: String,
    pub line: usize,
}

/// One operation of a step's try, catch, finally or cleanup.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub action: Action,
    pub description: Option<String>,
    pub continue_on_error: bool,
    pub compiler: Option<String>,
    /// Where the operation is written (file:line).
    pub file: String,
    pub line: usize,
    /// Documents of a plain `file:` read at load time; `None` when the file
    /// is an expression, read when the operation runs.
    pub documents: Option<Vec<Located>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    pub description: Option<String>,
    pub timeouts: Timeouts,
    pub bindings: Vec<Binding>,
    pub skip_delete: Option<bool>,
    pub template: Option<bool>,
    pub deletion_propagation_policy: Option<String>,
    pub try_: Vec<Operation>,
    pub catch: Vec<Operation>,
    pub finally: Vec<Operation>,
    pub cleanup: Vec<Operation>,
    pub line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Chainsaw,
    Kuttl,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: Option<String>,
    pub bindings: Vec<Binding>,
}

/// A test as the engine runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub name: String,
    pub dialect: Dialect,
    /// The file that defines it (for a kuttl or conventional test, its directory).
    pub file: String,
    /// Where `metadata.name` is written.
    pub name_at: (usize, usize),
    /// The directory relative paths resolve against.
    pub dir: PathBuf,
    pub metadata: Value,
    pub description: Option<String>,
    pub timeouts: Timeouts,
    pub skip: bool,
    /// `None`: chainsaw's default (concurrent).
    pub concurrent: Option<bool>,
    pub skip_delete: Option<bool>,
    pub template: Option<bool>,
    pub namespace: Option<String>,
    pub namespace_template: Option<Value>,
    pub bindings: Vec<Binding>,
    pub scenarios: Vec<Scenario>,
    pub steps: Vec<Step>,
    pub catch: Vec<Operation>,
    pub fail_fast: Option<bool>,
    pub force_termination_grace_period: Option<Duration>,
    pub delay_before_cleanup: Option<Duration>,
    pub deletion_propagation_policy: Option<String>,
    /// Poll interval of assert, error and wait: 50 ms for chainsaw, 1 s for kuttl.
    pub poll: Duration,
    /// Fields the engine cannot honour (cluster switching, CEL), each with its place.
    pub unsupported: Vec<String>,
}

/// chainsaw's poll interval (`client.PollInterval`).
pub const CHAINSAW_POLL: Duration = Duration::from_millis(50);
/// kuttl's interval between checks of a step's asserts.
pub const KUTTL_POLL: Duration = Duration::from_secs(1);
