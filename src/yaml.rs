//! A span-aware YAML (and JSON) loader.
//!
//! serde_yaml forgets where a value came from once it is a `Value`, but every
//! diagnostic podproof prints must name file:line:column. This loader walks the
//! parser's marked events once and builds both the `serde_yaml::Value` of each
//! document and a map from JSON pointer to position, so typed deserialization
//! errors, semantic checks and lint findings all point at the same place.

use serde_yaml::{Mapping, Number, Value};
use std::collections::HashMap as StdMap;

/// Positions are hashed by pointer for every node of every file: SipHash
/// cost a tenth of lint's time, foldhash (hashbrown's own) far less.
type HashMap<K, V> = hashbrown::HashMap<K, V>;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn from_marker(m: &Marker) -> Pos {
        Pos { line: m.line().max(1), column: m.col() + 1 }
    }
}

/// Where a node sits: the key that names it (for mapping entries) and the value.
#[derive(Debug, Clone, Copy)]
pub struct NodePos {
    pub key: Option<Pos>,
    pub value: Pos,
}

/// One document of a stream with the position of every node in it.
#[derive(Debug, Clone)]
pub struct Doc {
    pub index: usize,
    pub value: Value,
    pub start: Pos,
    positions: HashMap<String, NodePos>,
    /// Plain scalars that YAML 1.1 (what Kubernetes reads) and YAML 1.2 read
    /// differently, by pointer, with their text: `yes` and `off` are
    /// booleans, `0644` is octal.
    yaml11: HashMap<String, String>,
}

impl Doc {
    /// The position of the node at `pointer` (its key if it has one), or of the
    /// nearest ancestor that exists, so a missing field points at its parent.
    pub fn pos(&self, pointer: &str) -> Pos {
        self.node(pointer).map(|n| n.key.unwrap_or(n.value)).unwrap_or(self.start)
    }

    /// The position of the value at `pointer`, falling back like `pos`.
    pub fn value_pos(&self, pointer: &str) -> Pos {
        self.node(pointer).map(|n| n.value).unwrap_or(self.start)
    }

    pub fn node(&self, pointer: &str) -> Option<NodePos> {
        let mut p = pointer;
        loop {
            if let Some(n) = self.positions.get(p) {
                return Some(*n);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }

    /// What to add to a type error at `pointer` when the value there is a
    /// scalar that only YAML 1.1 reads as a boolean or a number.
    pub fn yaml11_hint(&self, pointer: &str) -> Option<String> {
        let text = self.yaml11.get(pointer)?;
        let what = match resolve(text, TScalarStyle::Plain, None) {
            Value::Bool(b) => format!("the boolean {b}"),
            Value::Number(n) => format!("the number {n}"),
            _ => return None,
        };
        Some(format!(" (Kubernetes reads YAML 1.1, where `{text}` is {what}; quote it to keep the text)"))
    }

    /// The first and last line that a node of the document starts on.
    pub fn line_span(&self) -> (usize, usize) {
        let lines = self.positions.values().flat_map(|n| n.key.into_iter().chain([n.value])).map(|p| p.line);
        let (lo, hi) = lines.fold((usize::MAX, 0), |(lo, hi), l| (lo.min(l), hi.max(l)));
        if hi == 0 {
            (self.start.line, self.start.line)
        } else {
            (lo, hi)
        }
    }

    /// The pointer of the node whose key or value sits at `line:column` (the
    /// deepest one), for messages that were located by position only.
    pub fn pointer_at(&self, line: usize, column: usize) -> Option<String> {
        let at = Pos { line, column };
        self.positions
            .iter()
            .filter(|(_, n)| n.key == Some(at) || n.value == at)
            .map(|(p, _)| p)
            .max_by_key(|p| (p.matches('/').count(), p.len()))
            .cloned()
    }

    /// Whether the exact pointer exists in the document.
    pub fn has(&self, pointer: &str) -> bool {
        self.positions.contains_key(pointer)
    }

    /// A sub-document rooted at `pointer`, keeping the real positions.
    /// Builds a document from an already parsed value (for JSON fallbacks,
    /// List items and the documents lint and chainsaw make): every node then
    /// maps to `start`.
    pub fn detached(index: usize, value: Value, start: Pos) -> Doc {
        Doc { index, value, start, positions: Default::default(), yaml11: Default::default() }
    }

    pub fn subdoc(&self, index: usize, pointer: &str, value: Value) -> Doc {
        let mut positions = HashMap::new();
        for (k, v) in &self.positions {
            if let Some(rest) = k.strip_prefix(pointer) {
                if rest.is_empty() || rest.starts_with('/') {
                    positions.insert(rest.to_string(), *v);
                }
            }
        }
        let start = self.value_pos(pointer);
        let mut yaml11 = HashMap::new();
        for (k, v) in &self.yaml11 {
            if let Some(rest) = k.strip_prefix(pointer).filter(|r| r.starts_with('/')) {
                yaml11.insert(rest.to_string(), v.clone());
            }
        }
        Doc { index, value, start, positions, yaml11 }
    }
}

/// A parse failure with its position.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// How many nodes alias expansion may produce before the input counts as an
/// alias bomb ("billion laughs").
const MAX_EXPANDED_NODES: usize = 200_000;

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape(segment: &str) -> String {
    // Nearly every key needs no escaping; skip the two replace passes.
    if !segment.contains(['~', '/']) {
        return segment.to_string();
    }
    segment.replace('~', "~0").replace('/', "~1")
}

/// How deeply sequences and mappings may nest. Real manifests stay far below
/// it; the limit keeps every recursive walk over a `Value` (clone, drop,
/// deserialization) far from the end of the stack.
const MAX_DEPTH: usize = 200;

/// Parses a multi-document YAML or JSON stream.
pub fn parse_stream(text: &str) -> Result<Vec<Doc>, SyntaxError> {
    parse(text, false)
}

/// `parse_stream` for lint: the schemas of CustomResourceDefinitions
/// (`spec.versions[].schema`, `spec.validation`), three quarters of the bytes
/// of a large cluster's manifests and read by no rule, are checked for their
/// syntax and duplicate keys but not built (each is an empty mapping).
pub fn parse_stream_lint(text: &str) -> Result<Vec<Doc>, SyntaxError> {
    let docs = parse(text, true)?;
    Ok(docs)
}

fn parse(text: &str, skip_schemas: bool) -> Result<Vec<Doc>, SyntaxError> {
    let mut builder = Builder { skip_schemas, ..Default::default() };
    let mut parser = Parser::new_from_str(text);
    // The parser's own `load` recurses once per nesting level (and asserts on
    // what it does not expect), so deep input overflowed the stack there; its
    // events are pulled one at a time instead, and the first error stops it.
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| explain(text, Pos::from_marker(e.marker()), e.info()))?;
        if ev == Event::StreamEnd {
            // kubectl's YAML-or-JSON decoder reads content that starts with
            // `{` or `[` as JSON, strictly: a trailing comma is an error there,
            // though YAML accepts it. YAML errors, found first, win.
            if text.trim_start_matches('\u{feff}').trim_start().starts_with(['{', '[']) {
                strict_json(text)?;
            }
            // An anchor inside a left-out subtree may be used outside it.
            if builder.skipped_anchor {
                return parse(text, false);
            }
            return Ok(builder.docs);
        }
        builder.on_event(ev, mark);
        if let Some(e) = builder.error.take() {
            return Err(e);
        }
    }
}

/// Checks a stream of JSON values (what json.Decoder reads one after another).
fn strict_json(text: &str) -> Result<(), SyntaxError> {
    for item in serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>() {
        if let Err(e) = item {
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg);
            return Err(SyntaxError {
                pos: Pos { line: e.line().max(1), column: e.column().max(1) },
                message: format!("json syntax error: {msg} (content that starts with `{{` or `[` is read as JSON)"),
            });
        }
    }
    Ok(())
}

/// Turns a parser error into what a person needs to fix it. The parser
/// reports a tab at the start of the scalar it was reading, and an unclosed
/// bracket or quote where it finally gave up, so both get a pointer or a hint.
fn explain(text: &str, pos: Pos, info: &str) -> SyntaxError {
    if info.contains("tab") {
        // The offending tab is in the indentation of this line or a later one.
        let tab = text.lines().enumerate().skip(pos.line.saturating_sub(1)).find_map(|(i, l)| {
            let indent = &l[..l.len() - l.trim_start().len()];
            indent.find('\t').map(|c| Pos { line: i + 1, column: indent[..c].chars().count() + 1 })
        });
        if let Some(tab) = tab {
            return SyntaxError {
                pos: tab,
                message: "yaml syntax error: a tab indents this line; YAML indents with spaces only".into(),
            };
        }
    }
    if info.contains("unknown anchor") {
        // The parser does not say which alias; it is the token at the error.
        let line = text.lines().nth(pos.line.saturating_sub(1)).unwrap_or("");
        let rest: String = line.chars().skip(pos.column.saturating_sub(1)).collect();
        if let Some(alias) = rest.strip_prefix('*') {
            let name: String = alias.chars().take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c)).collect();
            return SyntaxError {
                pos,
                message: format!(
                    "yaml syntax error: alias `*{name}` names no anchor: define `&{name}` before it is used"
                ),
            };
        }
    }
    if info.contains("recursion limit exceeded") {
        // The scanner counts open `[` and `{` in a byte.
        return SyntaxError { pos, message: "yaml syntax error: more than 255 `[` or `{` are open here".into() };
    }
    if info.contains("mapping values are not allowed") {
        // A plain key longer than 1024 characters is not a key to the scanner.
        let line = text.lines().nth(pos.line.saturating_sub(1)).unwrap_or("");
        let key: String = line.chars().take(pos.column.saturating_sub(1)).collect();
        if !key.contains(": ") && key.trim_start().chars().count() > 1024 {
            return SyntaxError {
                pos,
                message: "yaml syntax error: this key is longer than the 1024 characters YAML allows".into(),
            };
        }
    }
    let hint = if info.contains("flow construct") || info.contains("flow sequence") || info.contains("flow mapping") {
        " (is a `[` or `{` above not closed?)"
    } else if info.contains("quoted scalar") {
        " (is a quote not closed?)"
    } else if info.contains("did not find expected key") {
        let at = text.lines().nth(pos.line.saturating_sub(1)).and_then(|l| l.chars().nth(pos.column.saturating_sub(1)));
        if matches!(at, Some(']' | '}')) {
            " (this bracket closes nothing)"
        } else {
            " (check the indentation of this line and the one above)"
        }
    } else if info.contains("mapping values are not allowed") {
        " (quote a value that holds `: `)"
    } else {
        ""
    };
    SyntaxError { pos, message: format!("yaml syntax error: {info}{hint}") }
}

struct SkipFrame {
    map: bool,
    expect_key: bool,
    keys: HashMap<String, usize>,
}

enum Frame {
    Seq { items: Vec<Value>, ptr: String, anchor: usize },
    Map { map: Mapping, ptr: String, anchor: usize, key: Option<(String, Value, Pos)> },
}

#[derive(Default)]
struct Builder {
    /// Whether to leave out the schemas of CustomResourceDefinitions (lint
    /// reads nothing of them); their syntax and duplicate keys still count.
    skip_schemas: bool,
    /// The current document's top-level `kind`, once read.
    kind: Option<String>,
    /// Inside a left-out subtree: its frames (whether each is a mapping and
    /// expects a key, with the keys seen and their lines).
    skipping: Vec<SkipFrame>,
    /// A left-out subtree defined an anchor: the stream is read again whole.
    skipped_anchor: bool,
    docs: Vec<Doc>,
    stack: Vec<Frame>,
    positions: HashMap<String, NodePos>,
    yaml11: HashMap<String, String>,
    anchors: StdMap<usize, Value>,
    doc_start: Pos,
    expanded: usize,
    error: Option<SyntaxError>,
}

impl Builder {
    fn fail(&mut self, pos: Pos, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(SyntaxError { pos, message: message.into() });
        }
    }

    /// Where the next node goes: its pointer and its key position.
    fn slot(&self) -> Option<(String, Option<Pos>)> {
        match self.stack.last() {
            None => Some((String::new(), None)),
            Some(Frame::Seq { items, ptr, .. }) => Some((format!("{ptr}/{}", items.len()), None)),
            Some(Frame::Map { ptr, key: Some((k, _, kp)), .. }) => Some((format!("{ptr}/{}", escape(k)), Some(*kp))),
            Some(Frame::Map { key: None, .. }) => None,
        }
    }

    /// Places a finished node into its parent, or finishes the document.
    fn place(&mut self, value: Value, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => {
                let positions = std::mem::take(&mut self.positions);
                let yaml11 = std::mem::take(&mut self.yaml11);
                let index = self.docs.len();
                let start = positions.get("").map(|n| n.value).unwrap_or(self.doc_start);
                self.docs.push(Doc { index, value, start, positions, yaml11 });
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { map, key, .. }) => {
                let (_, k, _) = key.take().expect("place is called only with a pending key");
                map.insert(k, value);
            }
        }
    }

    /// Whether the node that starts now is a CRD schema lint leaves out.
    fn left_out(&self) -> bool {
        if self.kind.as_deref() != Some("CustomResourceDefinition") {
            return false;
        }
        let Some((ptr, _)) = self.slot() else { return false };
        let segs: Vec<&str> = ptr.split('/').skip(1).collect();
        matches!(segs.as_slice(), ["spec", "versions", _, "schema"] | ["spec", "validation"])
    }

    /// One event inside a left-out subtree: only its shape and its keys are
    /// kept, so duplicate keys are still found; at its end an empty mapping
    /// stands for it.
    fn skip(&mut self, ev: Event, pos: Pos) {
        let key_done = |frames: &mut Vec<SkipFrame>| {
            if let Some(f) = frames.last_mut().filter(|f| f.map) {
                f.expect_key = !f.expect_key;
            }
        };
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                self.skipped_anchor |= anchor > 0;
                if let Some(f) = self.skipping.last_mut().filter(|f| f.map && f.expect_key) {
                    // The key as the full reading names it (`0x10` is 16).
                    let name = key_name(&resolve(&text, style, tag.as_ref()));
                    // A merge key's checks are the full reading's business.
                    self.skipped_anchor |= name == "<<";
                    if let Some(first) = f.keys.get(&name) {
                        let msg = format!("duplicate key `{name}` (first at line {first})");
                        self.fail(pos, msg);
                        return;
                    }
                    f.keys.insert(name, pos.line);
                }
                key_done(&mut self.skipping);
            }
            Event::Alias(_) => {
                // An alias inside names an anchor that may be outside: read whole.
                self.skipped_anchor = true;
                key_done(&mut self.skipping);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.skipped_anchor |= anchor > 0;
                if self.skipping.last().is_some_and(|f| f.map && f.expect_key) {
                    self.fail(pos, "complex mapping keys are not supported");
                    return;
                }
                let map = matches!(ev, Event::MappingStart(..));
                if self.skipping.len() >= MAX_DEPTH {
                    self.fail(
                        pos,
                        format!("nested too deeply: more than {MAX_DEPTH} levels of mappings and sequences"),
                    );
                    return;
                }
                self.skipping.push(SkipFrame { map, expect_key: true, keys: HashMap::new() });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.skipping.pop();
                if self.skipping.is_empty() {
                    self.place(Value::Mapping(Mapping::new()), 0);
                } else {
                    key_done(&mut self.skipping);
                }
            }
            _ => {}
        }
    }

    fn scalar(&mut self, text: String, style: TScalarStyle, anchor: usize, tag: Option<Tag>, pos: Pos) {
        let value = resolve(&text, style, tag.as_ref());
        // A scalar in key position becomes the pending key of its mapping.
        if let Some(Frame::Map { key, ptr, .. }) = self.stack.last_mut() {
            if key.is_none() {
                let name = key_name(&value);
                let p = format!("{ptr}/{}", escape(&name));
                let dup = self.positions.get(&p).map(|n| n.key.unwrap_or(n.value).line);
                // A block mapping's start mark lands after its first key; the
                // mapping really starts at that key.
                if let Some(np) = self.positions.get_mut(ptr.as_str()) {
                    if np.value.line == pos.line && np.value.column > pos.column {
                        np.value = pos;
                    }
                }
                // sigs.k8s.io/yaml turns YAML into JSON, whose keys are
                // strings: a ConfigMap key written `5:` or `on:` is "5" or "true".
                let value = match value {
                    Value::Number(_) | Value::Bool(_) => Value::String(name.clone()),
                    other => other,
                };
                *key = Some((name.clone(), value, pos));
                if let Some(first) = dup {
                    self.fail(pos, format!("duplicate key `{name}` (first at line {first})"));
                }
                return;
            }
        }
        if let Some((ptr, key)) = self.slot() {
            if self.skip_schemas && ptr == "/kind" {
                self.kind = value.as_str().map(str::to_string);
            }
            // An empty value (`kind:` and a line break) has its mark where the
            // next token starts, a line later: it is where its key is.
            let empty = text.is_empty() && style == TScalarStyle::Plain;
            if tag.is_none() && style == TScalarStyle::Plain && yaml11_only(&text, &value) {
                self.yaml11.insert(ptr.clone(), text);
            }
            let at = match key {
                Some(k) if empty => k,
                _ => pos,
            };
            self.positions.insert(ptr, NodePos { key, value: at });
        }
        self.place(value, anchor);
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = Pos::from_marker(&mark);
        if !self.skipping.is_empty() {
            return self.skip(ev, pos);
        }
        if self.skip_schemas {
            if let Event::SequenceStart(..) | Event::MappingStart(..) = ev {
                if self.left_out() {
                    if let Some((ptr, key)) = self.slot() {
                        self.positions.insert(ptr, NodePos { key, value: pos });
                    }
                    return self.skip(ev, pos);
                }
            }
        }
        match ev {
            Event::DocumentStart => {
                self.kind = None;
                self.doc_start = pos;
                self.anchors.clear();
            }
            Event::Scalar(text, style, anchor, tag) => self.scalar(text, style, anchor, tag, pos),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                let Some((ptr, key)) = self.slot() else {
                    self.fail(pos, "complex mapping keys are not supported");
                    return;
                };
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(
                        pos,
                        format!("nested too deeply: more than {MAX_DEPTH} levels of mappings and sequences"),
                    );
                    return;
                }
                self.positions.insert(ptr.clone(), NodePos { key, value: pos });
                self.stack.push(if is_map {
                    Frame::Map { map: Mapping::new(), ptr, anchor, key: None }
                } else {
                    Frame::Seq { items: Vec::new(), ptr, anchor }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { items, anchor, .. }) => (Value::Sequence(items), anchor),
                    Some(Frame::Map { mut map, anchor, ptr, .. }) => {
                        if let Err(e) = merge_keys(&mut map) {
                            let at = self.positions.get(&format!("{ptr}/<<")).map_or(pos, |n| n.value);
                            self.fail(at, e);
                            return;
                        }
                        (Value::Mapping(map), anchor)
                    }
                    None => return,
                };
                self.place(value, anchor);
            }
            Event::Alias(id) => {
                // The parser numbers anchors across the whole stream, so an id
                // unknown here belongs to an earlier document.
                let Some(value) = self.anchors.get(&id).cloned() else {
                    // The anchor may be in a left-out subtree: the stream is read again whole.
                    if self.skipped_anchor {
                        return self.place(Value::Null, 0);
                    }
                    self.fail(pos, "this alias names an anchor of an earlier document; an anchor holds only within its own document");
                    return;
                };
                self.expanded += count_nodes(&value, MAX_EXPANDED_NODES);
                if self.expanded > MAX_EXPANDED_NODES {
                    self.fail(pos, "aliases expand to too many nodes (an alias bomb?)");
                    return;
                }
                if let Some(Frame::Map { key: None, .. }) = self.stack.last() {
                    self.fail(pos, "an alias as a mapping key is not supported");
                    return;
                }
                // A chain of anchors, each holding an alias to the one before,
                // nests one level deeper per alias.
                if self.stack.len() + depth(&value) > MAX_DEPTH {
                    self.fail(pos, format!("nested too deeply: this alias makes more than {MAX_DEPTH} levels of mappings and sequences"));
                    return;
                }
                if let Some((ptr, key)) = self.slot() {
                    self.positions.insert(ptr, NodePos { key, value: pos });
                }
                self.place(value, 0);
            }
            _ => {}
        }
    }
}

/// The text a mapping key stands for: a string as it is, a number or a
/// boolean as JSON writes its keys, null as nothing.
fn key_name(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim_end().to_string(),
    }
}

/// Applies a merge key (`<<: *defaults`, or a sequence of them) the way
/// Kubernetes' YAML reader does: keys written in the mapping win, then earlier
/// merged mappings over later ones.
fn merge_keys(map: &mut Mapping) -> Result<(), &'static str> {
    let Some(merged) = map.remove("<<") else { return Ok(()) };
    let sources = match merged {
        Value::Mapping(m) => vec![m],
        Value::Sequence(items) => items
            .into_iter()
            .map(|v| match v {
                Value::Mapping(m) => Ok(m),
                _ => Err("a merge key (`<<`) takes a mapping or a sequence of mappings"),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("a merge key (`<<`) takes a mapping or a sequence of mappings"),
    };
    for source in sources {
        for (k, v) in source {
            if !map.contains_key(&k) {
                map.insert(k, v);
            }
        }
    }
    Ok(())
}

/// How many levels of sequences and mappings `v` holds; every value built
/// here is at most `MAX_DEPTH` deep, so the recursion is bounded.
fn depth(v: &Value) -> usize {
    match v {
        Value::Sequence(s) => 1 + s.iter().map(depth).max().unwrap_or(0),
        Value::Mapping(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn count_nodes(v: &Value, cap: usize) -> usize {
    let mut n = 1;
    match v {
        Value::Sequence(s) => {
            for i in s {
                n += count_nodes(i, cap);
                if n > cap {
                    break;
                }
            }
        }
        Value::Mapping(m) => {
            for (_, i) in m {
                n += count_nodes(i, cap);
                if n > cap {
                    break;
                }
            }
        }
        _ => {}
    }
    n
}

/// Whether a plain scalar that YAML 1.2 reads as text is something else to
/// YAML 1.1: a boolean (`no`, `on`, `y`) or an integer with `_` (`1_000`).
fn yaml11_non_string(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    matches!(
        s,
        "y" | "Y" | "yes" | "Yes" | "YES" | "n" | "N" | "no" | "No" | "NO" | "on" | "On" | "ON" | "off" | "Off" | "OFF"
    ) || (digits.contains('_')
        && digits.starts_with(|c: char| c.is_ascii_digit())
        && digits.bytes().all(|c| c.is_ascii_digit() || c == b'_'))
}

/// Quotes the plain scalars of YAML written by serde_yaml's emitter (block
/// style, one scalar a line) that a YAML 1.1 reader would not read as text.
/// The emitter quotes by YAML 1.2's rules, so the string `no` came out bare,
/// and podman (and a cluster), which read YAML 1.1, got the boolean false.
pub fn quote_yaml11(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // The indentation of the line that opened a block scalar (`key: |`).
    let mut block: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let indent = body.len() - body.trim_start().len();
        if let Some(b) = block {
            if body.trim().is_empty() || indent > b {
                out.push_str(line);
                continue;
            }
            block = None;
        }
        let mut rest = &body[indent..];
        let mut head = &body[..indent];
        while let Some(r) = rest.strip_prefix("- ") {
            head = &body[..body.len() - r.len()];
            rest = r;
        }
        let (key, value) = if rest.starts_with(['\'', '"']) {
            (None, rest)
        } else if let Some((k, v)) = rest.split_once(": ") {
            (Some(k), v)
        } else if let Some(k) = rest.strip_suffix(':') {
            (Some(k), "")
        } else {
            (None, rest)
        };
        out.push_str(head);
        let quoted = |s: &str| if yaml11_non_string(s) { format!("'{s}'") } else { s.to_string() };
        if let Some(k) = key {
            out.push_str(&quoted(k));
            out.push(':');
            if !value.is_empty() {
                out.push(' ');
            }
        }
        out.push_str(&quoted(value));
        if value.starts_with(['|', '>']) {
            block = Some(indent);
        }
        out.push_str(&line[body.len()..]);
    }
    out
}

/// Whether a plain scalar's value differs between YAML 1.1 and 1.2's core schema.
fn yaml11_only(text: &str, value: &Value) -> bool {
    match value {
        Value::Bool(_) => !matches!(text, "true" | "True" | "TRUE" | "false" | "False" | "FALSE"),
        Value::Number(_) => {
            let digits = text.trim_start_matches(['-', '+']);
            text.contains('_')
                || digits.starts_with("0b")
                || (digits.len() > 1 && digits.starts_with('0') && digits.as_bytes()[1].is_ascii_digit())
        }
        _ => false,
    }
}

/// Resolves a scalar the way Kubernetes does: sigs.k8s.io/yaml decodes with
/// go-yaml v2, which follows YAML 1.1 (resolve.go): `y`, `yes`, `on` and
/// their negatives are booleans, a leading 0 means octal, 0b binary, and `_`
/// may group digits.
fn resolve(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(t) = tag {
        if t.handle == "!!" || t.handle == "tag:yaml.org,2002:" {
            match t.suffix.as_str() {
                "str" => return Value::String(text.to_string()),
                "null" => return Value::Null,
                _ => {}
            }
        } else if t.handle == "!" && t.suffix.is_empty() {
            return Value::String(text.to_string());
        }
    }
    if style != TScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" | "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => return Value::Bool(true),
        "false" | "False" | "FALSE" | "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            return Value::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Value::Number(Number::from(f64::INFINITY)),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Number(Number::from(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Value::Number(Number::from(f64::NAN)),
        _ => {}
    }
    if let Some(n) = parse_int(text) {
        return Value::Number(n);
    }
    // go-yaml v2 drops `_` before it reads an integer: `1_000` is 1000.
    if text.contains('_') && !text.starts_with('_') && !text.ends_with('_') {
        if let Some(n) = parse_int(&text.replace('_', "")) {
            return Value::Number(n);
        }
    }
    // An integer too big for 64 bits is still a number to serde_yaml (and to
    // Kubernetes), only an inexact one.
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let overflows = !digits.is_empty() && !digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit());
    if overflows || looks_like_float(text) {
        // Like serde_yaml, a float that overflows to infinity stays text.
        if let Some(f) = text.parse::<f64>().ok().filter(|f| f.is_finite()) {
            return Value::Number(Number::from(f));
        }
    }
    Value::String(text.to_string())
}

fn parse_int(text: &str) -> Option<Number> {
    let (neg, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, body) = if let Some(h) = digits.strip_prefix("0x") {
        (16, h)
    } else if let Some(b) = digits.strip_prefix("0b") {
        (2, b)
    } else if let Some(o) = digits.strip_prefix("0o") {
        (8, o)
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // Kubernetes reads YAML 1.1, where a leading zero means octal: `defaultMode: 0644` is 420.
    if radix == 10 && body.len() > 1 && body.starts_with('0') {
        if !body.chars().all(|c| c.is_digit(8)) {
            return None;
        }
        let v = i64::from_str_radix(body, 8).ok()?;
        return Some(Number::from(if neg { -v } else { v }));
    }
    if neg {
        i64::from_str_radix(&format!("-{body}"), radix).ok().map(Number::from)
    } else {
        u64::from_str_radix(body, radix).ok().map(Number::from)
    }
}

fn looks_like_float(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' => seen_digit = true,
            '.' if !seen_dot => seen_dot = true,
            'e' | 'E' if seen_digit => {
                if matches!(chars.peek(), Some('-') | Some('+')) {
                    chars.next();
                }
                return chars.peek().is_some() && chars.all(|c| c.is_ascii_digit());
            }
            _ => return false,
        }
    }
    seen_digit && seen_dot
}

/// The value at a JSON pointer.
pub fn lookup<'a>(v: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut cur = v;
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            Value::Mapping(m) => m.get(Value::String(seg))?,
            Value::Sequence(s) => s.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// What a value is, in YAML's words, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a sequence",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// An integer field, or a string that holds one.
pub fn int(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn lint_leaves_crd_schemas_out_but_checks_them() {
        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: a.b}\nspec:\n  group: b\n  versions:\n    - name: v1\n      schema:\n        openAPIV3Schema:\n          type: object\n          properties: {a: {type: string}}\n---\nkind: ConfigMap\nmetadata: {name: c}\n";
        let docs = parse_stream_lint(crd).expect("valid");
        assert_eq!(docs[0].value["spec"]["versions"][0]["schema"], Value::Mapping(Mapping::new()));
        assert_eq!(docs[0].value["spec"]["group"], Value::from("b"));
        assert_eq!(docs[0].pos("/spec/versions/0/schema").line, 8);
        assert_eq!(docs[1].value["metadata"]["name"], Value::from("c"));
        // Whole for everyone else.
        let full = parse_stream(crd).expect("valid");
        assert_eq!(full[0].value["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["type"], Value::from("object"));
        // A duplicate key inside is still an error, at its place.
        let dup =
            crd.replace("properties: {a: {type: string}}", "properties: {a: {type: string}}\n          type: array");
        let e = parse_stream_lint(&dup).expect_err("duplicate");
        assert_eq!((e.pos.line, e.message.as_str()), (12, "duplicate key `type` (first at line 10)"));
        // An anchor inside may be used outside: then the stream is read whole.
        let anchored = crd
            .replace("type: object", "type: &t object")
            .replace("properties: {a: {type: string}}", "properties: {a: {type: string}}\n  scope: *t");
        let docs = parse_stream_lint(&anchored).expect("valid");
        assert_eq!(docs[0].value["spec"]["scope"], Value::from("object"));
        // Whatever the full reading refuses inside a schema, lint's refuses too.
        for inside in ["<<: 5", "? [a]\n          : b", "0x10: a\n          16: b", "'a': 1\n          a: 2"] {
            let text = crd.replace("type: object", inside);
            assert_eq!(parse_stream(&text).is_ok(), parse_stream_lint(&text).is_ok(), "{inside}");
        }
        // The kind after the spec: built as usual.
        let late = "apiVersion: apiextensions.k8s.io/v1\nspec:\n  versions: [{name: v1, schema: {openAPIV3Schema: {type: object}}}]\nkind: CustomResourceDefinition\n";
        let docs = parse_stream_lint(late).expect("valid");
        assert_eq!(docs[0].value["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["type"], Value::from("object"));
    }

    use super::*;

    /// Parses `input` and renders every pointer with its position, or the error.
    fn check(input: &str, expect: &str) {
        let got = match parse_stream(input) {
            Ok(docs) => {
                let mut out = String::new();
                for d in &docs {
                    let mut ps: Vec<_> = d.positions.iter().collect();
                    ps.sort_by_key(|(k, _)| (*k).clone());
                    out.push_str(&format!("doc {} @{}:{}\n", d.index, d.start.line, d.start.column));
                    for (k, v) in ps {
                        let key = v.key.map(|p| format!("{}:{}", p.line, p.column)).unwrap_or("-".into());
                        out.push_str(&format!("  {k:?} key={key} value={}:{}\n", v.value.line, v.value.column));
                    }
                }
                out
            }
            Err(e) => format!("error {}:{} {}\n", e.pos.line, e.pos.column, e.message),
        };
        assert_eq!(got.trim(), expect.trim(), "\n{got}");
    }

    #[test]
    fn positions_of_keys_and_values() {
        check(
            "a: 1\nb:\n  - x\n  - {c: d}\n",
            r#"
doc 0 @1:1
  "" key=- value=1:1
  "/a" key=1:1 value=1:4
  "/b" key=2:1 value=3:3
  "/b/0" key=- value=3:5
  "/b/1" key=- value=4:5
  "/b/1/c" key=4:6 value=4:9
"#,
        );
    }

    #[test]
    fn multi_doc_and_errors() {
        check("a: 1\n---\nb: 2\n", "doc 0 @1:1\n  \"\" key=- value=1:1\n  \"/a\" key=1:1 value=1:4\ndoc 1 @3:1\n  \"\" key=- value=3:1\n  \"/b\" key=3:1 value=3:4");
        check("a: [1\n", "error 2:1 yaml syntax error: while parsing a flow sequence, expected ',' or ']' (is a `[` or `{` above not closed?)");
        check(
            "a:\n  b: [1,\n  c: 2\n",
            "error 3:3 yaml syntax error: invalid indentation in flow construct (is a `[` or `{` above not closed?)",
        );
        check(
            "a: \"x\nb: 1\n",
            "error 1:4 yaml syntax error: invalid indentation in quoted scalar (is a quote not closed?)",
        );
        check("a:\n\tb: 1\n", "error 2:1 yaml syntax error: a tab indents this line; YAML indents with spaces only");
        check(
            "a:\n  - b: x\n\t  c: y\n",
            "error 3:1 yaml syntax error: a tab indents this line; YAML indents with spaces only",
        );
        check("a: 1\na: 2\n", "error 2:1 duplicate key `a` (first at line 1)");
        check("a: echo b: c\n", "error 1:10 yaml syntax error: mapping values are not allowed in this context (quote a value that holds `: `)");
        check(
            "a: *nope\n",
            "error 1:4 yaml syntax error: alias `*nope` names no anchor: define `&nope` before it is used",
        );
        check("a:\n  b: 1\n c: 2\n", "error 3:3 yaml syntax error: while parsing a block mapping, did not find expected key (check the indentation of this line and the one above)");
    }

    #[test]
    fn deep_nesting_is_refused_where_it_starts() {
        check(&"- ".repeat(10_000), "error 1:401 nested too deeply: more than 200 levels of mappings and sequences");
        check(&"[".repeat(10_000), "error 1:256 yaml syntax error: more than 255 `[` or `{` are open here");
        let mut chain = String::from("a0: &a0 [x]\n");
        for i in 1..300 {
            chain.push_str(&format!("a{i}: &a{i} [*a{}]\n", i - 1));
        }
        check(
            &chain,
            "error 200:14 nested too deeply: this alias makes more than 200 levels of mappings and sequences",
        );
        check(
            "a: &x 1\n---\nb: *x\n",
            "error 3:4 this alias names an anchor of an earlier document; an anchor holds only within its own document",
        );
    }

    #[test]
    fn merge_keys_apply_like_kubernetes() {
        let docs = parse_stream("base: &b {a: 1, b: 2}\nmore: &m {c: 3}\nx:\n  <<: [*b, *m]\n  a: 9\n").unwrap();
        let expected: Value =
            serde_yaml::from_str("base: {a: 1, b: 2}\nmore: {c: 3}\nx: {a: 9, b: 2, c: 3}\n").unwrap();
        assert_eq!(docs[0].value, expected);
        check("x:\n  <<: 5\n", "error 2:7 a merge key (`<<`) takes a mapping or a sequence of mappings");
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut s = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        let names = ["b", "c", "d", "e", "f", "g", "h"];
        let mut prev = "a";
        for n in names {
            s.push_str(&format!(
                "{n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
            prev = n;
        }
        let err = parse_stream(&s).unwrap_err();
        assert!(err.message.contains("alias bomb"), "{}", err.message);
    }

    #[test]
    fn scalars_resolve_like_serde_yaml() {
        let docs = parse_stream("a: 1\nb: '1'\nc: true\nd: 1.5\ne: ~\nf: 0644\ng: 0x1F\nh: 1e3\n").unwrap();
        let expected: Value =
            serde_yaml::from_str("a: 1\nb: '1'\nc: true\nd: 1.5\ne: ~\nf: 420\ng: 31\nh: 1e3\n").unwrap();
        assert_eq!(docs[0].value, expected);
    }
}

#[cfg(test)]
mod yaml11_tests {
    use super::*;

    /// Each plain scalar of `input` (one `key: value` a line) resolves to the
    /// JSON in `expect`, as sigs.k8s.io/yaml (go-yaml v2) reads it.
    fn check(input: &str, expect: &str) {
        let docs = parse_stream(input).unwrap();
        let got = serde_json::to_string(&docs[0].value).unwrap();
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn yaml_1_1_scalars() {
        check(
            "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: n\ng: 'yes'",
            r#"{"a":true,"b":false,"c":true,"d":false,"e":true,"f":false,"g":"yes"}"#,
        );
        check(
            "a: 0644\nb: 0b101\nc: 1_000\nd: 0x1F\ne: 09\nf: 1e3",
            r#"{"a":420,"b":5,"c":1000,"d":31,"e":"09","f":1000.0}"#,
        );
        let docs = parse_stream("env: on\nmode: 0644\nok: true\n").unwrap();
        assert!(docs[0].yaml11_hint("/env").unwrap().contains("`on` is the boolean true"));
        assert!(docs[0].yaml11_hint("/mode").unwrap().contains("`0644` is the number 420"));
        assert_eq!(docs[0].yaml11_hint("/ok"), None);
    }

    #[test]
    fn emitted_yaml_quotes_yaml_1_1_words() {
        let emitted = "a: no\nb:\n- on\n- 'x'\n- off: y\nc: |\n  no\n  - yes\nd: 1_000\ne: nope\n";
        assert_eq!(
            quote_yaml11(emitted),
            "a: 'no'\nb:\n- 'on'\n- 'x'\n- 'off': 'y'\nc: |\n  no\n  - yes\nd: '1_000'\ne: nope\n"
        );
        // What it quotes reads back as the same text.
        let v: Value = serde_yaml::from_str("a: 'no'\n").unwrap();
        assert_eq!(v["a"], Value::String("no".into()));
    }

    #[test]
    fn json_is_strict() {
        let err = parse_stream("{\"a\": 1,\n \"b\": [1, 2,]\n}\n").unwrap_err();
        assert_eq!(err.pos.line, 2, "{}", err.message);
        assert!(err.message.starts_with("json syntax error: "), "{}", err.message);
        // YAML that merely contains flow collections is still YAML.
        assert!(parse_stream("a: [1, 2,]\n").is_ok());
    }
}
