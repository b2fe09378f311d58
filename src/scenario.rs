//! The declarative `Test` format (`apiVersion: podproof.dev/v1alpha1`, `kind: Test`).
//!
//! The contract is fixed: later versions extend it but never rename fields.
//! Parsing collects every problem with its file:line:column before anything runs.

use crate::app::docs::{error_at, error_at_value, typed};
use crate::error::Diagnostic;
use crate::matcher::Matcher;
use crate::source::Source;
use crate::wait::parse_duration;
use crate::yaml::Doc;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TestDoc {
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    metadata: Meta,
    spec: SpecDoc,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SpecDoc {
    apps: Vec<AppEntry>,
    #[serde(default)]
    images: Vec<ImageDoc>,
    timeout: Option<String>,
    #[serde(default)]
    redact: Vec<Redaction>,
    steps: Vec<StepDoc>,
}

/// An entry of `spec.apps`: a path, or a command whose stdout is manifests.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CommandEntry {
    pub command: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEntry {
    Path(String),
    Command(CommandEntry),
}

impl<'de> Deserialize<'de> for AppEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_yaml::Value::deserialize(d)?;
        match v {
            serde_yaml::Value::String(s) => Ok(AppEntry::Path(s)),
            serde_yaml::Value::Mapping(_) => {
                serde_yaml::from_value(v).map(AppEntry::Command).map_err(serde::de::Error::custom)
            }
            _ => Err(serde::de::Error::custom("an app entry is a path or {command: [...]}")),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageDoc {
    /// The local image.
    pub tag: String,
    /// Build `tag` from this directory (relative to the test file).
    pub context: Option<String>,
    /// Run `tag` wherever a manifest names this image (an exact image, a
    /// repository, or a prefix ending in `/`: the run-time image map).
    pub from: Option<String>,
}

impl ImageDoc {
    /// The entry's part of the run-time image map, if it has one.
    pub fn mapping(&self) -> Option<crate::imagemap::Mapping> {
        self.from.as_ref().map(|f| crate::imagemap::Mapping { from: f.clone(), to: self.tag.clone() })
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Redaction {
    pub regex: String,
    pub replace: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SnapshotRef {
    Name(String),
    Full {
        name: String,
        #[serde(default)]
        redact: Vec<Redaction>,
    },
}

impl SnapshotRef {
    pub fn name(&self) -> &str {
        match self {
            SnapshotRef::Name(n) => n,
            SnapshotRef::Full { name, .. } => name,
        }
    }

    pub fn redactions(&self) -> &[Redaction] {
        match self {
            SnapshotRef::Name(_) => &[],
            SnapshotRef::Full { redact, .. } => redact,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expect {
    pub exit_code: Option<i32>,
    pub status: Option<u16>,
    pub stdout: Option<Matcher>,
    pub stderr: Option<Matcher>,
    pub body: Option<Matcher>,
    pub output: Option<Matcher>,
    pub content: Option<Matcher>,
    /// The step must fail, with an error matching this.
    pub error: Option<Matcher>,
    pub snapshot: Option<SnapshotRef>,
    pub within: Option<String>,
    pub reload: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodRef {
    pub pod: String,
    pub container: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpAction {
    pub pod: String,
    pub port: u16,
    #[serde(default = "root_path")]
    pub path: String,
    #[serde(default = "get")]
    pub method: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    /// Host to connect to inside the pod (default: the pod's own IP).
    pub host: Option<String>,
}

fn root_path() -> String {
    "/".into()
}

fn get() -> String {
    "GET".into()
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecAction {
    pub pod: String,
    pub container: Option<String>,
    pub command: Vec<String>,
    pub stdin: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileAction {
    pub pod: String,
    pub container: Option<String>,
    pub path: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KillAction {
    pub pod: String,
    pub container: Option<String>,
    #[serde(default = "sigterm")]
    pub signal: String,
}

fn sigterm() -> String {
    "SIGTERM".into()
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScriptAction {
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScaleAction {
    pub role: Option<String>,
    pub members: Option<u32>,
    pub workload: Option<String>,
    pub replicas: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventAction {
    pub pod: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigAction {
    pub config_map: Option<String>,
    pub secret: Option<String>,
    pub data: BTreeMap<String, DataValue>,
    /// The check that shows the new config is in effect (instead of the policy's).
    pub verify: Option<Box<crate::reload::Verify>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataValue {
    Text(String),
    File(String),
}

impl<'de> Deserialize<'de> for DataValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct F {
            file: String,
        }
        let v = serde_yaml::Value::deserialize(d)?;
        match v {
            serde_yaml::Value::String(s) => Ok(DataValue::Text(s)),
            serde_yaml::Value::Mapping(_) => {
                serde_yaml::from_value::<F>(v).map(|f| DataValue::File(f.file)).map_err(serde::de::Error::custom)
            }
            _ => Err(serde::de::Error::custom("a data value is a string or {file: PATH}")),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RenderAction {
    #[serde(default = "podman_flavor")]
    pub flavor: String,
}

fn podman_flavor() -> String {
    "podman".into()
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StepDoc {
    name: Option<String>,
    timeout: Option<String>,
    #[serde(default)]
    expect: Expect,
    up: Option<Empty>,
    down: Option<Empty>,
    helm_test: Option<Empty>,
    http: Option<HttpAction>,
    exec: Option<ExecAction>,
    logs: Option<PodRef>,
    file: Option<FileAction>,
    restart: Option<PodRef>,
    kill: Option<KillAction>,
    sleep: Option<String>,
    script: Option<ScriptAction>,
    scale: Option<ScaleAction>,
    event: Option<EventAction>,
    config: Option<ConfigAction>,
    render: Option<RenderAction>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Up,
    Down,
    /// Runs the apps' helm `test` hooks, as `helm test` does (src/helm.rs).
    HelmTest,
    Http(HttpAction),
    Exec(ExecAction),
    Logs(PodRef),
    File(FileAction),
    Restart(PodRef),
    Kill(KillAction),
    Sleep(Duration),
    Script(ScriptAction),
    Scale(ScaleAction),
    Event(EventAction),
    Config(ConfigAction),
    Render(RenderAction),
}

impl Action {
    /// Whether the action only observes (and so may be repeated by `within`
    /// until its expectation holds). Every other action acts on the pods or the
    /// host, so it runs once and its expectation is checked once.
    pub fn observes(&self) -> bool {
        matches!(self, Action::Http(_) | Action::Exec(_) | Action::Logs(_) | Action::File(_) | Action::Render(_))
    }

    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Up => "up",
            Action::Down => "down",
            Action::HelmTest => "helmTest",
            Action::Http(_) => "http",
            Action::Exec(_) => "exec",
            Action::Logs(_) => "logs",
            Action::File(_) => "file",
            Action::Restart(_) => "restart",
            Action::Kill(_) => "kill",
            Action::Sleep(_) => "sleep",
            Action::Script(_) => "script",
            Action::Scale(_) => "scale",
            Action::Event(_) => "event",
            Action::Config(_) => "config",
            Action::Render(_) => "render",
        }
    }
}

pub const ACTIONS: &str =
    "up, down, helmTest, http, exec, logs, file, restart, kill, sleep, script, scale, event, config, render";

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub action: Action,
    pub expect: Expect,
    pub timeout: Duration,
    pub within: Option<Duration>,
    /// Where the step is written (file:line).
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Test {
    pub name: String,
    pub file: PathBuf,
    /// The file as the user named it (for messages and reports).
    pub file_name: String,
    /// Where `metadata.name` is written (line, column).
    pub name_at: (usize, usize),
    pub dir: PathBuf,
    pub apps: Vec<AppEntry>,
    pub images: Vec<ImageDoc>,
    pub timeout: Duration,
    pub redact: Vec<Redaction>,
    pub steps: Vec<Step>,
    pub sha256: String,
}

pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Whether a document is a podproof Test.
pub fn is_test(doc: &Doc) -> bool {
    doc.value.get("kind").and_then(|k| k.as_str()) == Some("Test")
        && doc.value.get("apiVersion").and_then(|k| k.as_str()).map(|a| a.starts_with("podproof.dev/")).unwrap_or(false)
}

fn duration_at(src: &Source, doc: &Doc, ptr: &str, s: &str, diags: &mut Vec<Diagnostic>) -> Option<Duration> {
    parse_duration(s).map_err(|e| diags.push(error_at_value(src, doc, ptr, e))).ok()
}

fn check_matcher(src: &Source, doc: &Doc, ptr: &str, m: &Matcher, diags: &mut Vec<Diagnostic>) {
    if m.equals.is_none() && m.contains.is_none() && m.matches.is_none() && m.not.is_none() {
        diags.push(error_at(src, doc, ptr, "a matcher needs one of equals, contains, matches or not"));
    }
    if let Some(re) = &m.matches {
        if let Err(e) = regex::Regex::new(re) {
            diags.push(error_at_value(src, doc, &format!("{ptr}/matches"), format!("invalid regex: {e}")));
        }
    }
    if let Some(n) = &m.not {
        check_matcher(src, doc, &format!("{ptr}/not"), n, diags);
    }
}

/// The actions a step names (a well-formed step names one), each checked.
fn step_actions(src: &Source, doc: &Doc, sp: &str, s: &mut StepDoc, diags: &mut Vec<Diagnostic>) -> Vec<Action> {
    let mut actions = Vec::new();
    if s.up.is_some() {
        actions.push(Action::Up);
    }
    if s.down.is_some() {
        actions.push(Action::Down);
    }
    if s.helm_test.is_some() {
        actions.push(Action::HelmTest);
    }
    if let Some(a) = s.http.take() {
        if a.port == 0 {
            diags.push(error_at_value(
                src,
                doc,
                &format!("{sp}/http/port"),
                "port must be between 1 and 65535, found 0",
            ));
        }
        actions.push(Action::Http(a));
    }
    if let Some(a) = s.exec.take() {
        if a.command.is_empty() {
            diags.push(error_at(src, doc, &format!("{sp}/exec/command"), "the command is empty"));
        }
        actions.push(Action::Exec(a));
    }
    if let Some(a) = s.logs.take() {
        actions.push(Action::Logs(a));
    }
    if let Some(a) = s.file.take() {
        actions.push(Action::File(a));
    }
    if let Some(a) = s.restart.take() {
        actions.push(Action::Restart(a));
    }
    if let Some(a) = s.kill.take() {
        if let Err(e) = crate::reload::parse_signal(&a.signal) {
            diags.push(error_at_value(src, doc, &format!("{sp}/kill/signal"), e));
        }
        actions.push(Action::Kill(a));
    }
    if let Some(d) = &s.sleep {
        // A bad duration is already reported; the step still has its one action.
        let d = duration_at(src, doc, &format!("{sp}/sleep"), d, diags).unwrap_or_default();
        actions.push(Action::Sleep(d));
    }
    if let Some(a) = s.script.take() {
        if a.command.is_empty() {
            diags.push(error_at(src, doc, &format!("{sp}/script/command"), "the command is empty"));
        }
        actions.push(Action::Script(a));
    }
    if let Some(a) = s.scale.take() {
        let ok = (a.role.is_some() && a.members.is_some() && a.workload.is_none() && a.replicas.is_none())
            || (a.workload.is_some() && a.replicas.is_some() && a.role.is_none() && a.members.is_none());
        if !ok {
            diags.push(error_at(
                src,
                doc,
                &format!("{sp}/scale"),
                "scale takes {role, members} or {workload, replicas}",
            ));
        }
        actions.push(Action::Scale(a));
    }
    if let Some(a) = s.event.take() {
        if !crate::app::podproof::EVENTS.contains(&a.name.as_str()) {
            diags.push(error_at_value(
                src,
                doc,
                &format!("{sp}/event/name"),
                format!("unknown event `{}`: expected configure, addnodes or delnodes", a.name),
            ));
        }
        actions.push(Action::Event(a));
    }
    if let Some(a) = s.config.take() {
        if let Some(v) = &a.verify {
            for (p, why) in v.problems() {
                diags.push(error_at(src, doc, &format!("{sp}/config/verify{p}"), why));
            }
        }
        if a.config_map.is_some() == a.secret.is_some() {
            diags.push(error_at(src, doc, &format!("{sp}/config"), "config takes exactly one of configMap or secret"));
        }
        actions.push(Action::Config(a));
    }
    if let Some(a) = s.render.take() {
        if a.flavor != "podman" && a.flavor != "cluster" {
            diags.push(error_at_value(
                src,
                doc,
                &format!("{sp}/render/flavor"),
                format!("unknown flavor `{}`: expected podman or cluster", a.flavor),
            ));
        }
        actions.push(Action::Render(a));
    }
    actions
}

/// A step's `expect`: its matchers, HTTP status, reload outcome and snapshot.
fn check_expect(src: &Source, doc: &Doc, ep: &str, expect: &Expect, diags: &mut Vec<Diagnostic>) {
    for (k, m) in [
        ("stdout", &expect.stdout),
        ("stderr", &expect.stderr),
        ("body", &expect.body),
        ("output", &expect.output),
        ("content", &expect.content),
        ("error", &expect.error),
    ] {
        if let Some(m) = m {
            check_matcher(src, doc, &format!("{ep}/{k}"), m, diags);
        }
    }
    if let Some(code) = expect.status.filter(|c| !(100..=599).contains(c)) {
        diags.push(error_at_value(
            src,
            doc,
            &format!("{ep}/status"),
            format!("status must be an HTTP status code (100 to 599), found {code}"),
        ));
    }
    if let Some(r) = &expect.reload {
        if !["succeeded", "failed", "restarted", "unverified"].contains(&r.as_str()) {
            diags.push(error_at_value(
                src,
                doc,
                &format!("{ep}/reload"),
                format!("unknown reload outcome `{r}`: expected succeeded, failed, restarted or unverified"),
            ));
        }
    }
    if let Some(SnapshotRef::Full { redact, .. }) = &expect.snapshot {
        for (j, r) in redact.iter().enumerate() {
            if let Err(e) = regex::Regex::new(&r.regex) {
                diags.push(error_at_value(
                    src,
                    doc,
                    &format!("{ep}/snapshot/redact/{j}/regex"),
                    format!("invalid regex: {e}"),
                ));
            }
        }
    }
    if let Some(n) = expect.snapshot.as_ref().map(|s| s.name().to_string()) {
        if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            diags.push(error_at_value(
                src,
                doc,
                &format!("{ep}/snapshot"),
                format!("snapshot name `{n}` may contain only letters, digits, '-', '_' and '.'"),
            ));
        }
    }
}

/// Where a path written in the test file points, when that is not what was written.
fn resolved(src: &Source, rel: &str) -> String {
    let full = crate::source::display(&crate::source::normalize(&src.dir.join(rel)));
    if full == rel {
        String::new()
    } else {
        format!(" ({full})")
    }
}

/// Reads a Test document, collecting every problem.
pub fn read(src: &Source, doc: &Doc, diags: &mut Vec<Diagnostic>) -> Option<Test> {
    let before = diags.len();
    let t: TestDoc = typed(src, doc, "").map_err(|d| diags.push(d)).ok()?;
    if !crate::app::is_dns_subdomain(&t.metadata.name.to_ascii_lowercase()) || t.metadata.name.contains('/') {
        diags.push(error_at_value(
            src,
            doc,
            "/metadata/name",
            format!("test name `{}` must be letters, digits, '-' and '.'", t.metadata.name),
        ));
    }
    // `is_test` takes any podproof.dev version, so a newer or misspelt one is told here.
    if t.api_version != crate::app::podproof::API_VERSION {
        diags.push(error_at_value(
            src,
            doc,
            "/apiVersion",
            format!("Test must have apiVersion `{}`, found `{}`", crate::app::podproof::API_VERSION, t.api_version),
        ));
    }
    if t.spec.apps.is_empty() {
        diags.push(error_at(src, doc, "/spec/apps", "a test needs at least one app"));
    }
    // Paths are checked here, so that a typo points into the test file.
    for (i, a) in t.spec.apps.iter().enumerate() {
        match a {
            AppEntry::Command(c) if c.command.is_empty() => {
                diags.push(error_at(src, doc, &format!("/spec/apps/{i}/command"), "the command is empty"));
            }
            AppEntry::Path(p) if !src.dir.join(p).exists() => {
                diags.push(error_at_value(
                    src,
                    doc,
                    &format!("/spec/apps/{i}"),
                    format!("app `{p}` does not exist{}", resolved(src, p)),
                ));
            }
            _ => {}
        }
    }
    for (i, img) in t.spec.images.iter().enumerate() {
        match (&img.context, &img.from) {
            (None, None) => diags.push(error_at(
                src,
                doc,
                &format!("/spec/images/{i}"),
                "an image entry needs `context` (build it), `from` (map an image to it), or both",
            )),
            (Some(c), _) if !src.dir.join(c).is_dir() => {
                let msg = format!("build context `{c}` is not a directory{}", resolved(src, c));
                diags.push(error_at_value(src, doc, &format!("/spec/images/{i}/context"), msg));
            }
            _ => {}
        }
        if let Some(why) = img.from.as_deref().and_then(|f| crate::imagemap::check_entry(f, &img.tag)) {
            diags.push(error_at_value(src, doc, &format!("/spec/images/{i}/from"), why));
        }
    }
    let timeout = t
        .spec
        .timeout
        .as_deref()
        .and_then(|s| duration_at(src, doc, "/spec/timeout", s, diags))
        .unwrap_or(DEFAULT_TEST_TIMEOUT);
    for (i, r) in t.spec.redact.iter().enumerate() {
        if let Err(e) = regex::Regex::new(&r.regex) {
            diags.push(error_at_value(src, doc, &format!("/spec/redact/{i}/regex"), format!("invalid regex: {e}")));
        }
    }
    if t.spec.steps.is_empty() {
        diags.push(error_at(src, doc, "/spec/steps", "a test needs at least one step"));
    }
    let mut steps = Vec::new();
    for (i, mut s) in t.spec.steps.into_iter().enumerate() {
        let sp = format!("/spec/steps/{i}");
        let mut actions = step_actions(src, doc, &sp, &mut s, diags);
        if actions.len() != 1 {
            let found = if actions.is_empty() {
                "none".to_string()
            } else {
                actions.iter().map(|a| a.keyword()).collect::<Vec<_>>().join(", ")
            };
            diags.push(error_at(src, doc, &sp, format!("a step needs exactly one action ({ACTIONS}); found {found}")));
            continue;
        }
        let action = actions.remove(0);
        let ep = format!("{sp}/expect");
        check_expect(src, doc, &ep, &s.expect, diags);
        let step_timeout = s
            .timeout
            .as_deref()
            .and_then(|d| duration_at(src, doc, &format!("{sp}/timeout"), d, diags))
            .unwrap_or(DEFAULT_STEP_TIMEOUT);
        let within = s.expect.within.as_deref().and_then(|d| duration_at(src, doc, &format!("{ep}/within"), d, diags));
        let name = s.name.clone().unwrap_or_else(|| format!("{} #{}", action.keyword(), i + 1));
        steps.push(Step { name, action, expect: s.expect, timeout: step_timeout, within, line: doc.pos(&sp).line });
    }
    if diags[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Test {
        name: t.metadata.name,
        file: src.path.clone().unwrap_or_default(),
        file_name: src.name.clone(),
        name_at: {
            let p = doc.value_pos("/metadata/name");
            (p.line, p.column)
        },
        dir: src.dir.clone(),
        apps: t.spec.apps,
        images: t.spec.images,
        timeout,
        redact: t.spec.redact,
        steps,
        sha256: src.bytes_sha256().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let src =
            crate::source::from_bytes("t.yaml", None, "/tmp".into(), "/tmp".into(), input.as_bytes().to_vec()).unwrap();
        let docs = crate::app::docs::documents(&src).unwrap();
        let mut diags = Vec::new();
        let got = match read(&src, &docs[0], &mut diags) {
            Some(t) => t
                .steps
                .iter()
                .map(|s| format!("{} {} line {}", s.name, s.action.keyword(), s.line))
                .collect::<Vec<_>>()
                .join("\n"),
            None => diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"),
        };
        assert_eq!(got.trim(), expect.trim(), "\n{got}");
    }

    const HEAD: &str =
        "apiVersion: podproof.dev/v1alpha1\nkind: Test\nmetadata: {name: t}\nspec:\n  apps: [.]\n  steps:\n";

    #[test]
    fn steps_parse() {
        check(&format!("{HEAD}    - up: {{}}\n    - name: probe\n      http: {{pod: web, port: 80}}\n      expect: {{status: 200}}\n    - sleep: 1s\n"), "up #1 up line 7\nprobe http line 8\nsleep #3 sleep line 11");
    }

    #[test]
    fn step_errors_are_located() {
        check(&format!("{HEAD}    - up: {{}}\n      down: {{}}\n"), "t.yaml:7:7: error: a step needs exactly one action (up, down, helmTest, http, exec, logs, file, restart, kill, sleep, script, scale, event, config, render); found up, down");
        check(
            &format!("{HEAD}    - sleep: forever\n"),
            "t.yaml:7:14: error: invalid duration `forever`: expected e.g. 500ms, 10s, 5m",
        );
        check(&format!("{HEAD}    - upp: {{}}\n"), "t.yaml:7:7: error: spec.steps[0]: unknown field `upp`, expected one of `name`, `timeout`, `expect`, `up`, `down`, `helmTest`, `http`, `exec`, `logs`, `file`, `restart`, `kill`, `sleep`, `script`, `scale`, `event`, `config`, `render`");
        check(
            &format!("{HEAD}    - exec: {{pod: a, command: [x]}}\n      expect: {{stdout: {{matches: '('}}}}\n"),
            "t.yaml:8:34: error: invalid regex: regex parse error:\n    (\n    ^\nerror: unclosed group",
        );
    }
}
