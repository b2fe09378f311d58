//! The generic store, after kube-apiserver's generic registry
//! (staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go):
//! one store for every resource, whose per-resource rules come from the
//! registry (`resources::Resource`) and the strategies in `strategy`, over
//! one lock and one global resourceVersion counter, so that every change has
//! its place in one event stream that every watch reads from.
//!
//! This is also the in-process interface that controllers use from plain
//! threads: `create`, `get`, `list`, `update`, `update_status`, `delete`,
//! `watch` (blocking `Watch::next`), each with the API server's
//! resourceVersion and conflict rules, the same code the HTTP handlers call.

use super::errors::{ApiError, ApiResult, Cause};
use super::managed;
use super::meta;
use super::resources::{Registry, Resource};
use super::selectors::{FieldSelector, LabelSelector};
use super::strategy;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How many changes the event stream keeps for watches that resume from a
/// resourceVersion; an older one gets 410 Gone, as from a compacted etcd.
const HISTORY: usize = 20_000;
/// How long a `continue` token's snapshot is kept.
const CONTINUE_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change in the event stream.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub storage: String,
    pub kind: EventType,
    pub object: Arc<Value>,
    /// The object before a modification, for selector transitions.
    pub previous: Option<Arc<Value>>,
}

/// `fieldValidation`: what a write does with unknown or duplicate fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Strict,
    #[default]
    Warn,
    Ignore,
}

/// How a write is made (the query parameters of POST, PUT and PATCH).
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    /// The field manager (`fieldManager`, or the client's user agent).
    pub manager: String,
    pub validation: FieldValidation,
    /// `Apply` for server-side apply, `Update` otherwise.
    pub apply: bool,
}

impl WriteOptions {
    /// Options for a controller writing through the in-process interface.
    pub fn manager(name: &str) -> WriteOptions {
        WriteOptions { manager: name.to_string(), validation: FieldValidation::Ignore, ..Default::default() }
    }
}

/// A written object and the warnings for the client (`Warning` headers).
#[derive(Debug, Clone)]
pub struct Written {
    pub object: Value,
    pub warnings: Vec<String>,
    /// Whether the write made the object (PUT and apply can).
    pub created: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

/// One page of a LIST.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `Background`, `Foreground` or `Orphan`; the resource's default when unset.
    pub propagation: Option<String>,
    pub grace_period: Option<i64>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub dry_run: bool,
}

/// The outcome of a deletion.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub object: Value,
    /// Gone now; false while finalizers or a grace period hold it.
    pub gone: bool,
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchFrom {
    /// The current state as ADDED events, then what follows (`resourceVersion`
    /// unset or "0", or `sendInitialEvents=true`).
    Now { bookmark_after_initial: bool },
    /// The changes after this resourceVersion.
    After(u64),
}

/// What a watch selects.
#[derive(Debug, Clone)]
pub struct WatchFilter {
    /// The resource (its storage); `None` watches everything (controllers).
    pub resource: Option<Arc<Resource>>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl WatchFilter {
    pub fn all() -> WatchFilter {
        WatchFilter {
            resource: None,
            namespace: None,
            name: None,
            labels: Default::default(),
            fields: Default::default(),
        }
    }

    pub fn of(res: Arc<Resource>, namespace: Option<&str>) -> WatchFilter {
        WatchFilter { resource: Some(res), namespace: namespace.map(str::to_string), ..WatchFilter::all() }
    }

    fn matches(&self, storage: &str, v: &Value) -> bool {
        if let Some(r) = &self.resource {
            if r.storage != storage {
                return false;
            }
            if !self.fields.is_empty() && !self.fields.matches(v) {
                return false;
            }
        }
        if let Some(ns) = &self.namespace {
            if meta::namespace(v) != ns {
                return false;
            }
        }
        if let Some(n) = &self.name {
            if meta::name(v) != n {
                return false;
            }
        }
        self.labels.matches_object(v)
    }
}

/// One event as a watch delivers it.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    Change {
        kind: EventType,
        storage: String,
        object: Arc<Value>,
    },
    /// A BOOKMARK at this resourceVersion; `initial_end` marks the end of the
    /// initial events (`k8s.io/initial-events-end`).
    Bookmark {
        rv: u64,
        initial_end: bool,
    },
    /// The watch cannot go on (410 Gone).
    Error(ApiError),
}

/// A watch: a position in the event stream and a filter.
pub struct Watch {
    store: Arc<Store>,
    filter: WatchFilter,
    next: u64,
    pending: VecDeque<WatchEvent>,
    receiver: tokio::sync::watch::Receiver<u64>,
}

impl Watch {
    /// The events ready now, without waiting.
    pub fn poll(&mut self) -> Vec<WatchEvent> {
        let mut out: Vec<WatchEvent> = self.pending.drain(..).collect();
        let inner = self.store.lock();
        out.extend(read_since(&inner, &mut self.next, &self.filter));
        out
    }

    /// Waits up to `timeout` for events (for plain threads); empty on timeout.
    pub fn next(&mut self, timeout: Duration) -> Vec<WatchEvent> {
        let deadline = Instant::now() + timeout;
        let mut out: Vec<WatchEvent> = self.pending.drain(..).collect();
        if !out.is_empty() {
            return out;
        }
        let mut inner = self.store.lock();
        loop {
            out.extend(read_since(&inner, &mut self.next, &self.filter));
            let now = Instant::now();
            if !out.is_empty() || now >= deadline || crate::signals::interrupted() {
                return out;
            }
            inner = self.store.changed.wait_timeout(inner, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Waits for the stream to move (for async tasks); then `poll`.
    pub async fn changed(&mut self) {
        if !self.pending.is_empty() {
            return;
        }
        let _ = self.receiver.changed().await;
    }

    /// The resourceVersion the watch has read up to.
    pub fn resource_version(&self) -> u64 {
        self.next.saturating_sub(1)
    }
}

fn read_since(inner: &Inner, next: &mut u64, filter: &WatchFilter) -> Vec<WatchEvent> {
    let mut out = Vec::new();
    if *next <= inner.rv && *next < inner.oldest() {
        out.push(WatchEvent::Error(too_old(*next - 1)));
        *next = inner.rv + 1;
        return out;
    }
    // The log is ordered by rv: skip to the first change not read yet.
    let start = inner.log.partition_point(|c| c.rv < *next);
    for c in inner.log.iter().skip(start) {
        let now = filter.matches(&c.storage, &c.object);
        let before = c.previous.as_ref().is_some_and(|p| filter.matches(&c.storage, p));
        // A modification that moves an object into or out of the selection is
        // an ADDED or DELETED for this watch (the watch cache's filtering).
        let kind = match (c.kind, before, now) {
            (EventType::Modified, true, true) => Some(EventType::Modified),
            (EventType::Modified, false, true) => Some(EventType::Added),
            (EventType::Modified, true, false) => Some(EventType::Deleted),
            (EventType::Modified, false, false) => None,
            (k, _, true) => Some(k),
            (_, _, false) => None,
        };
        if let Some(kind) = kind {
            out.push(WatchEvent::Change { kind, storage: c.storage.clone(), object: c.object.clone() });
        }
    }
    *next = inner.rv + 1;
    out
}

fn too_old(rv: u64) -> ApiError {
    ApiError::gone(format!("too old resource version: {rv}"))
}

/// Cluster-wide settings of the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The Node the environment is.
    pub node_name: String,
    /// The CA bundle published in each namespace's `kube-root-ca.crt`.
    pub ca_pem: String,
}

/// A LIST's items kept for its `continue` tokens: when taken, the items,
/// and the resourceVersion they are the state at.
type Snapshot = (Instant, Arc<Vec<Arc<Value>>>, u64);

pub(crate) struct Inner {
    pub(crate) registry: Registry,
    pub(crate) rv: u64,
    /// storage → (namespace, name) → object.
    pub(crate) data: HashMap<String, BTreeMap<(String, String), Arc<Value>>>,
    log: VecDeque<Change>,
    /// The resourceVersion at which the kept history starts.
    log_floor: u64,
    pages: HashMap<String, Snapshot>,
    pub(crate) config: StoreConfig,
    /// How many changes are kept (`HISTORY`; smaller in tests).
    history: usize,
}

impl Inner {
    fn oldest(&self) -> u64 {
        self.log_floor
    }

    pub(crate) fn objects(&self, storage: &str) -> impl Iterator<Item = &Arc<Value>> {
        self.data.get(storage).into_iter().flat_map(|m| m.values())
    }

    pub(crate) fn lookup(&self, storage: &str, ns: &str, name: &str) -> Option<&Arc<Value>> {
        self.data.get(storage).and_then(|m| m.get(&(ns.to_string(), name.to_string())))
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Stores `obj` at a new resourceVersion and logs the change.
    pub(crate) fn put(&mut self, res: &Resource, mut obj: Value, kind: EventType) -> Arc<Value> {
        let rv = self.next_rv();
        meta::metadata_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        let key = (meta::namespace(&obj).to_string(), meta::name(&obj).to_string());
        let obj = Arc::new(obj);
        let previous = self.data.entry(res.storage.clone()).or_default().insert(key, obj.clone());
        self.log_change(Change { rv, storage: res.storage.clone(), kind, object: obj.clone(), previous });
        obj
    }

    /// Removes an object, logging its DELETED event at a new resourceVersion.
    pub(crate) fn remove(&mut self, res: &Resource, ns: &str, name: &str) -> Option<Arc<Value>> {
        let old = self.data.get_mut(&res.storage)?.remove(&(ns.to_string(), name.to_string()))?;
        let rv = self.next_rv();
        let mut gone = (*old).clone();
        meta::metadata_mut(&mut gone).insert("resourceVersion".into(), json!(rv.to_string()));
        let gone = Arc::new(gone);
        self.log_change(Change {
            rv,
            storage: res.storage.clone(),
            kind: EventType::Deleted,
            object: gone.clone(),
            previous: Some(old),
        });
        Some(gone)
    }

    fn log_change(&mut self, c: Change) {
        self.log.push_back(c);
        while self.log.len() > self.history {
            if let Some(c) = self.log.pop_front() {
                self.log_floor = c.rv + 1;
            }
        }
    }

    /// The resource of a storage key (its first registered version).
    pub(crate) fn resource_of(&self, storage: &str) -> Option<Arc<Resource>> {
        self.registry.all().iter().find(|r| r.storage == storage && !r.is_events_v1()).cloned()
    }
}

/// The store of one environment.
pub struct Store {
    inner: Mutex<Inner>,
    changed: Condvar,
    latest: tokio::sync::watch::Sender<u64>,
}

impl Store {
    /// A store holding what every cluster has: the four namespaces, their
    /// default ServiceAccounts and root CA ConfigMaps, and the Node.
    pub fn new(config: StoreConfig) -> Arc<Store> {
        let (latest, _) = tokio::sync::watch::channel(0);
        let store = Arc::new(Store {
            inner: Mutex::new(Inner {
                registry: Registry::default(),
                rv: 0,
                data: HashMap::new(),
                log: VecDeque::new(),
                log_floor: 1,
                pages: HashMap::new(),
                config,
                history: HISTORY,
            }),
            changed: Condvar::new(),
            latest,
        });
        {
            let mut inner = store.lock();
            strategy::bootstrap(&mut inner);
        }
        store
    }

    /// Keeps only `n` changes, so a test can outgrow the history quickly.
    #[cfg(test)]
    pub(crate) fn set_history(&self, n: usize) {
        self.lock().history = n;
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a write under the lock, then the garbage collector and namespace
    /// lifecycle, then wakes the watches.
    fn write<T>(&self, f: impl FnOnce(&mut Inner) -> ApiResult<T>) -> ApiResult<T> {
        let mut inner = self.lock();
        let before = inner.rv;
        let out = f(&mut inner);
        // Only a deletion, a pending deletion or an object with owners can
        // give the garbage collector or the namespace controller work.
        let start = inner.log.partition_point(|c| c.rv <= before);
        let work = inner.log.iter().skip(start).any(|c| {
            c.kind == EventType::Deleted
                || meta::deleting(&c.object)
                || c.object.pointer("/metadata/ownerReferences").is_some()
        });
        if work {
            super::gc::collect(&mut inner);
        }
        let rv = inner.rv;
        drop(inner);
        if rv != before {
            self.changed.notify_all();
            self.latest.send_replace(rv);
        }
        out
    }

    /// The registry as it is now (CRDs change it).
    pub fn registry(&self) -> Registry {
        self.lock().registry.clone()
    }

    pub fn resource(&self, group: &str, version: &str, plural: &str) -> Option<Arc<Resource>> {
        self.lock().registry.find(group, version, plural)
    }

    pub fn resource_by_kind(&self, api_version: &str, kind: &str) -> Option<Arc<Resource>> {
        self.lock().registry.by_kind(api_version, kind)
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    pub fn get(&self, res: &Resource, ns: &str, name: &str) -> ApiResult<Value> {
        let inner = self.lock();
        let ns = if res.namespaced { ns } else { "" };
        inner
            .lookup(&res.storage, ns, name)
            .map(|v| (**v).clone())
            .ok_or_else(|| ApiError::not_found(&res.group, &res.plural, name))
    }

    /// POST: creates an object in `ns` (ignored for cluster-scoped resources).
    pub fn create(&self, res: &Resource, ns: &str, obj: Value, opts: &WriteOptions) -> ApiResult<Written> {
        self.write(|inner| create_in(inner, res, ns, obj, opts))
    }

    /// PUT of the main resource: the status of a resource with a status
    /// subresource is kept as it was.
    pub fn update(&self, res: &Resource, ns: &str, name: &str, obj: Value, opts: &WriteOptions) -> ApiResult<Written> {
        self.write(|inner| update_in(inner, res, ns, name, obj, opts, Part::Main))
    }

    /// PUT of the status subresource: only the status changes.
    pub fn update_status(
        &self,
        res: &Resource,
        ns: &str,
        name: &str,
        obj: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Written> {
        self.write(|inner| update_in(inner, res, ns, name, obj, opts, Part::Status))
    }

    /// A read-modify-write under the store's lock: `f` gets the current object
    /// (`None` when there is none) and returns the new one, which is then
    /// written as an update of `part` (or a create, when `f` makes one and
    /// `create` allows it). PATCH and apply go through here, so they never
    /// conflict with themselves.
    #[allow(clippy::too_many_arguments)] // each one is a separate choice of the caller's
    pub fn modify(
        &self,
        res: &Resource,
        ns: &str,
        name: &str,
        part: Part,
        opts: &WriteOptions,
        create: bool,
        f: &mut dyn FnMut(Option<&Value>) -> ApiResult<Value>,
    ) -> ApiResult<Written> {
        self.write(|inner| {
            let key_ns = if res.namespaced { ns } else { "" };
            match inner.lookup(&res.storage, key_ns, name).cloned() {
                Some(cur) => {
                    let new = f(Some(&cur))?;
                    update_in(inner, res, ns, name, new, opts, part)
                }
                None if create && part == Part::Main => {
                    let mut new = f(None)?;
                    let m = meta::metadata_mut(&mut new);
                    m.entry("name").or_insert_with(|| json!(name));
                    m.remove("resourceVersion");
                    let mut w = create_in(inner, res, ns, new, opts)?;
                    w.created = true;
                    Ok(w)
                }
                None => Err(ApiError::not_found(&res.group, &res.plural, name)),
            }
        })
    }

    pub fn delete(&self, res: &Resource, ns: &str, name: &str, opts: &DeleteOptions) -> ApiResult<Deleted> {
        self.write(|inner| delete_in(inner, res, ns, name, opts))
    }

    /// LIST: the objects of a resource, in `ns` or everywhere.
    pub fn list(&self, res: &Resource, ns: Option<&str>, opts: &ListOptions) -> ApiResult<ListPage> {
        let mut inner = self.lock();
        let rv = inner.rv;
        inner.pages.retain(|_, (t, _, _)| t.elapsed() < CONTINUE_TTL);
        // A continued LIST reads the snapshot its first page took, so the pages
        // together are the state at one resourceVersion, as etcd serves them.
        let (all, list_rv, offset) = match &opts.continue_token {
            Some(tok) => {
                let (id, offset) = decode_continue(tok)?;
                let (_, snap, at) = inner
                    .pages
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| ApiError::gone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."))?;
                (snap, at, offset)
            }
            None => {
                let ns = ns.filter(|_| res.namespaced);
                let items: Vec<Arc<Value>> = inner
                    .objects(&res.storage)
                    .filter(|v| ns.is_none_or(|n| meta::namespace(v) == n))
                    .filter(|v| opts.labels.matches_object(v))
                    .filter(|v| opts.fields.is_empty() || opts.fields.matches(v))
                    .cloned()
                    .collect();
                (Arc::new(items), rv, 0)
            }
        };
        let rest = all.len().saturating_sub(offset);
        match opts.limit.filter(|l| *l > 0 && *l < rest) {
            Some(limit) => {
                let items = all[offset..offset + limit].to_vec();
                let id = match &opts.continue_token {
                    Some(tok) => decode_continue(tok)?.0,
                    None => {
                        let id = meta::uid();
                        inner.pages.insert(id.clone(), (Instant::now(), all.clone(), list_rv));
                        id
                    }
                };
                let remaining = (opts.labels.is_empty() && opts.fields.is_empty()).then_some(rest - limit);
                Ok(ListPage {
                    items,
                    resource_version: list_rv,
                    continue_token: Some(encode_continue(&id, offset + limit)),
                    remaining,
                })
            }
            None => Ok(ListPage {
                items: all[offset.min(all.len())..].to_vec(),
                resource_version: list_rv,
                continue_token: None,
                remaining: None,
            }),
        }
    }

    /// WATCH: a position in the event stream, with the initial state as
    /// ADDED events when starting `Now`.
    pub fn watch(self: &Arc<Store>, filter: WatchFilter, from: WatchFrom) -> ApiResult<Watch> {
        let inner = self.lock();
        let receiver = self.latest.subscribe();
        let mut pending = VecDeque::new();
        let next = match from {
            WatchFrom::Now { bookmark_after_initial } => {
                let storages: Vec<String> = match &filter.resource {
                    Some(r) => vec![r.storage.clone()],
                    None => {
                        let mut s: Vec<String> = inner.data.keys().cloned().collect();
                        s.sort();
                        s
                    }
                };
                for s in storages {
                    for v in inner.objects(&s) {
                        if filter.matches(&s, v) {
                            pending.push_back(WatchEvent::Change {
                                kind: EventType::Added,
                                storage: s.clone(),
                                object: v.clone(),
                            });
                        }
                    }
                }
                if bookmark_after_initial {
                    pending.push_back(WatchEvent::Bookmark { rv: inner.rv, initial_end: true });
                }
                inner.rv + 1
            }
            WatchFrom::After(rv) => {
                if rv > inner.rv {
                    return Err(ApiError::new(
                        504,
                        "Timeout",
                        format!("Too large resource version: {rv}, current: {}", inner.rv),
                    ));
                }
                if rv + 1 < inner.oldest() {
                    return Err(too_old(rv));
                }
                rv + 1
            }
        };
        drop(inner);
        Ok(Watch { store: self.clone(), filter, next, pending, receiver })
    }
}

/// Which part of an object a write replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Main,
    Status,
    /// The scale subresource: only the replica count (already written into
    /// the object by the caller) changes.
    Scale,
}

fn encode_continue(id: &str, offset: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .encode(json!({"v": "meta.k8s.io/v1", "id": id, "start": offset}).to_string())
}

fn decode_continue(tok: &str) -> ApiResult<(String, usize)> {
    use base64::Engine;
    let bad = || ApiError::bad_request(format!("invalid continue token: {tok}"));
    let bytes = base64::engine::general_purpose::STANDARD.decode(tok).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let id = v.get("id").and_then(Value::as_str).ok_or_else(bad)?.to_string();
    let start = v.get("start").and_then(Value::as_u64).ok_or_else(bad)? as usize;
    Ok((id, start))
}

/// The checks of a namespaced write: the namespace exists and is not being
/// deleted (the NamespaceLifecycle admission plugin).
fn check_namespace(inner: &Inner, res: &Resource, ns: &str, creating: bool) -> ApiResult<()> {
    if !res.namespaced {
        return Ok(());
    }
    if ns.is_empty() {
        return Err(ApiError::bad_request("the server could not find the requested resource: a namespace is required"));
    }
    match inner.lookup("/namespaces", "", ns) {
        None => Err(ApiError::not_found("", "namespaces", ns)),
        Some(n) if creating && meta::deleting(n) => Err(ApiError::forbidden(
            &res.group,
            &res.plural,
            meta::name(n),
            &format!("unable to create new content in namespace {ns} because it is being terminated"),
        )
        .with_message(format!(
            "{} is forbidden: unable to create new content in namespace {ns} because it is being terminated",
            super::errors::qualified(&res.group, &res.plural)
        ))),
        Some(_) => Ok(()),
    }
}

/// The object's apiVersion and kind must be the resource's (or missing).
fn check_type(res: &Resource, obj: &mut Value) -> ApiResult<()> {
    let api = meta::str_at(obj, "/apiVersion").to_string();
    let kind = meta::str_at(obj, "/kind").to_string();
    if (!api.is_empty() && api != res.api_version()) || (!kind.is_empty() && kind != res.kind) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api}) does not match the expected API version ({})",
            res.api_version()
        )));
    }
    obj["apiVersion"] = json!(res.api_version());
    obj["kind"] = json!(res.kind);
    Ok(())
}

pub(crate) fn create_in(
    inner: &mut Inner,
    res: &Resource,
    ns: &str,
    mut obj: Value,
    opts: &WriteOptions,
) -> ApiResult<Written> {
    if !obj.is_object() {
        return Err(ApiError::bad_request("the body of the request is not a JSON object"));
    }
    check_type(res, &mut obj)?;
    let ns = if res.namespaced { ns } else { "" };
    let obj_ns = meta::namespace(&obj).to_string();
    if res.namespaced && !obj_ns.is_empty() && obj_ns != ns {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    check_namespace(inner, res, ns, true)?;
    let warnings = super::validate::unknown_fields(res, &mut obj, opts.validation)?;
    {
        let m = meta::metadata_mut(&mut obj);
        if res.namespaced {
            m.insert("namespace".into(), json!(ns));
        } else {
            m.remove("namespace");
        }
        // BeforeCreate: the system fields are the server's, whatever the client sent.
        let generated = m.get("name").and_then(Value::as_str).is_none_or(str::is_empty);
        if generated {
            if let Some(g) = m.get("generateName").and_then(Value::as_str).filter(|g| !g.is_empty()) {
                let n = format!("{g}{}", meta::name_suffix());
                m.insert("name".into(), json!(n));
            }
        }
        m.insert("uid".into(), json!(meta::uid()));
        m.insert("creationTimestamp".into(), json!(meta::now()));
        for k in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
            m.remove(k);
        }
        // An apply's managedFields are the apply's own; any other write's are recorded below.
        if !opts.apply {
            m.remove("managedFields");
        }
        if res.generation {
            m.insert("generation".into(), json!(1));
        } else {
            m.remove("generation");
        }
    }
    strategy::prepare_for_create(inner, res, &mut obj);
    let name = meta::name(&obj).to_string();
    let causes = super::validate::object(res, &obj, None);
    if !causes.is_empty() {
        return Err(ApiError::invalid(&res.group, &res.kind, &name, causes));
    }
    if inner.lookup(&res.storage, ns, &name).is_some() {
        return Err(ApiError::already_exists(&res.group, &res.plural, &name));
    }
    managed::record(&mut obj, None, res, &opts.manager, opts.apply, Part::Main);
    strategy::before_store(inner, res, None, &mut obj)?;
    if opts.dry_run {
        return Ok(Written { object: obj, warnings, created: true });
    }
    let stored = inner.put(res, obj, EventType::Added);
    strategy::after_create(inner, res, &stored);
    Ok(Written { object: (*stored).clone(), warnings, created: true })
}

pub(crate) fn update_in(
    inner: &mut Inner,
    res: &Resource,
    ns: &str,
    name: &str,
    mut obj: Value,
    opts: &WriteOptions,
    part: Part,
) -> ApiResult<Written> {
    if !obj.is_object() {
        return Err(ApiError::bad_request("the body of the request is not a JSON object"));
    }
    check_type(res, &mut obj)?;
    let ns = if res.namespaced { ns } else { "" };
    let body_name = meta::name(&obj).to_string();
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let obj_ns = meta::namespace(&obj).to_string();
    if res.namespaced && !obj_ns.is_empty() && obj_ns != ns {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let Some(old) = inner.lookup(&res.storage, ns, name).cloned() else {
        return Err(ApiError::not_found(&res.group, &res.plural, name));
    };
    let warnings =
        if part == Part::Main { super::validate::unknown_fields(res, &mut obj, opts.validation)? } else { Vec::new() };
    // Optimistic concurrency: a resourceVersion in the body must be the current one.
    let rv = meta::resource_version(&obj).to_string();
    if !rv.is_empty() && rv != meta::resource_version(&old) {
        return Err(ApiError::stale(&res.group, &res.plural, name));
    }
    let uid = meta::str_at(&obj, "/metadata/uid").to_string();
    if !uid.is_empty() && uid != meta::str_at(&old, "/metadata/uid") {
        return Err(ApiError::conflict(
            &res.group,
            &res.plural,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta::str_at(&old, "/metadata/uid")
            ),
        ));
    }
    let mut new = match part {
        Part::Main => {
            if res.status {
                // The main resource ignores status (the status strategy's rule).
                match old.get("status") {
                    Some(s) => obj["status"] = s.clone(),
                    None => {
                        obj.as_object_mut().expect("checked").remove("status");
                    }
                }
            }
            obj
        }
        Part::Status | Part::Scale => {
            // The status subresource takes only the status; the rest is the
            // stored object's (its labels and annotations too).
            let mut n = (*old).clone();
            match obj.get("status") {
                Some(s) if part == Part::Status => n["status"] = s.clone(),
                _ if part == Part::Status => {
                    n.as_object_mut().expect("stored objects are objects").remove("status");
                }
                _ => n = obj,
            }
            n
        }
    };
    {
        // The system fields stay the server's.
        let om = old.get("metadata").cloned().unwrap_or_default();
        let m = meta::metadata_mut(&mut new);
        m.insert("name".into(), json!(name));
        if res.namespaced {
            m.insert("namespace".into(), json!(ns));
        } else {
            m.remove("namespace");
        }
        for k in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "managedFields",
        ] {
            if k == "managedFields" && opts.apply {
                continue;
            }
            match om.get(k) {
                Some(v) => m.insert(k.into(), v.clone()),
                None => m.remove(k),
            };
        }
        m.remove("selfLink");
        // A deleted object takes no new finalizers (the API server's rule).
        if meta::deleting(&old) {
            let had = meta::finalizers(&old);
            let now: Vec<String> = m
                .get("finalizers")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            if let Some(f) = now.iter().find(|f| !had.contains(f)) {
                return Err(ApiError::invalid(
                    &res.group,
                    &res.kind,
                    name,
                    vec![Cause {
                        reason: "FieldValueForbidden".into(),
                        message: format!("Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{\"{f}\"}}"),
                        field: "metadata.finalizers".into(),
                    }],
                ));
            }
        }
    }
    if res.generation && part == Part::Main || part == Part::Scale {
        let changed = meta::spec_of(&old, res.status) != meta::spec_of(&new, res.status);
        if changed && res.generation {
            let g = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
            meta::metadata_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
    }
    strategy::prepare_for_update(inner, res, &old, &mut new, part);
    let causes = super::validate::object(res, &new, Some(&old));
    if !causes.is_empty() {
        return Err(ApiError::invalid(&res.group, &res.kind, name, causes));
    }
    managed::record(&mut new, Some(&old), res, &opts.manager, opts.apply, part);
    // An update that changes nothing writes nothing: no new resourceVersion,
    // no event (the API server's no-op detection).
    let mut a = new.clone();
    let mut b = (*old).clone();
    // A change of managedFields alone (an apply taking co-ownership) is a
    // change; their times alone are not.
    for v in [&mut a, &mut b] {
        let m = meta::metadata_mut(v);
        m.remove("resourceVersion");
        if let Some(list) = m.get_mut("managedFields").and_then(Value::as_array_mut) {
            for e in list.iter_mut().filter_map(Value::as_object_mut) {
                e.remove("time");
            }
        }
    }
    if a == b {
        return Ok(Written { object: (*old).clone(), warnings, created: false });
    }
    strategy::before_store(inner, res, Some(&old), &mut new)?;
    if opts.dry_run {
        return Ok(Written { object: new, warnings, created: false });
    }
    // An object being deleted goes once its last finalizer is removed.
    if meta::deleting(&new) && meta::finalizers(&new).is_empty() {
        let stored = inner.put(res, new, EventType::Modified);
        let gone = inner.remove(res, ns, name).unwrap_or(stored);
        return Ok(Written { object: (*gone).clone(), warnings, created: false });
    }
    let stored = inner.put(res, new, EventType::Modified);
    Ok(Written { object: (*stored).clone(), warnings, created: false })
}

pub(crate) fn delete_in(
    inner: &mut Inner,
    res: &Resource,
    ns: &str,
    name: &str,
    opts: &DeleteOptions,
) -> ApiResult<Deleted> {
    let ns = if res.namespaced { ns } else { "" };
    let Some(old) = inner.lookup(&res.storage, ns, name).cloned() else {
        return Err(ApiError::not_found(&res.group, &res.plural, name));
    };
    if let Some(uid) = opts.uid.as_deref().filter(|u| !u.is_empty()) {
        let have = meta::str_at(&old, "/metadata/uid");
        if uid != have {
            return Err(ApiError::conflict(
                &res.group,
                &res.plural,
                name,
                &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"),
            ));
        }
    }
    if let Some(rv) = opts.resource_version.as_deref().filter(|r| !r.is_empty()) {
        let have = meta::resource_version(&old);
        if rv != have {
            return Err(ApiError::conflict(&res.group, &res.plural, name, &format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}")));
        }
    }
    let policy = opts.propagation.clone().unwrap_or_else(|| res.default_propagation.to_string());
    if !["Background", "Foreground", "Orphan"].contains(&policy.as_str()) {
        return Err(ApiError::invalid(
            "meta.k8s.io",
            "DeleteOptions",
            "",
            vec![Cause {
                reason: "FieldValueNotSupported".into(),
                message: format!(
                    "Unsupported value: \"{policy}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
                ),
                field: "propagationPolicy".into(),
            }],
        ));
    }
    let mut new = (*old).clone();
    let mut fins = meta::finalizers(&new);
    let add = |fins: &mut Vec<String>, f: &str| {
        if !fins.iter().any(|x| x == f) {
            fins.push(f.to_string());
        }
    };
    match policy.as_str() {
        "Orphan" => add(&mut fins, "orphan"),
        "Foreground" => add(&mut fins, "foregroundDeletion"),
        _ => {}
    }
    let grace = strategy::grace_period(res, &old, opts.grace_period);
    let graceful = grace > 0 || strategy::held(res, &old);
    if opts.dry_run {
        return Ok(Deleted { object: new, gone: fins.is_empty() && !graceful });
    }
    if fins.is_empty() && !graceful {
        let gone = inner.remove(res, ns, name).expect("looked up under the same lock");
        strategy::after_delete(inner, res, &gone);
        return Ok(Deleted { object: (*gone).clone(), gone: true });
    }
    // Pending: the object stays with a deletionTimestamp until its finalizers
    // are removed (or, for a pod, until the kubelet finishes its grace period).
    let already = meta::deleting(&old);
    meta::set_finalizers(&mut new, &fins);
    {
        let m = meta::metadata_mut(&mut new);
        let shorter = m.get("deletionGracePeriodSeconds").and_then(Value::as_i64).is_none_or(|g| grace < g);
        if !already || shorter {
            let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
            m.insert("deletionTimestamp".into(), json!(at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()));
            m.insert("deletionGracePeriodSeconds".into(), json!(grace));
            if let Some(g) = m.get("generation").and_then(Value::as_i64) {
                if !already {
                    m.insert("generation".into(), json!(g + 1));
                }
            }
        }
    }
    strategy::before_delete(inner, res, &mut new);
    if new == *old {
        return Ok(Deleted { object: new, gone: false });
    }
    let stored = inner.put(res, new, EventType::Modified);
    Ok(Deleted { object: (*stored).clone(), gone: false })
}
