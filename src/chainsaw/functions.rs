//! The function set chainsaw documents (website/docs/reference/jp/functions.md):
//! the JMESPath standard functions (the `jmespath` crate's own), JMESPath
//! Community's additions, kyverno-json's, the Kyverno functions it takes in,
//! and chainsaw's own (`env`, `trim_space`, `as_string`, the `x_k8s_*` calls
//! and `x_metrics_decode`), ported from their documented behaviour. Where two
//! sets define a name (`items`, `replace`, `split`, `sum`, `trim`), the later
//! one wins, as in chainsaw's function caller: Kyverno's.
//!
//! Not provided (a call is "undefined function"): Kyverno's `random`,
//! `x509_decode` and the time functions other than `time_now` and
//! `time_now_utc`. Kyverno's arithmetic takes numbers only here, not
//! quantities or durations. `NOT_PROVIDED` lists them for docs/chainsaw.md.

use super::client::{Client, ObjectRef};
use super::expr::{from_var, to_var};
use jmespath::functions::{ArgumentType as T, CustomFunction, Signature};
use jmespath::{Context, ErrorReason, JmespathError, Rcvar, Runtime, Variable};
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::sync::{Arc, LazyLock};

pub const NOT_PROVIDED: &[&str] = &[
    "random",
    "x509_decode",
    "time_since",
    "time_to_cron",
    "time_add",
    "time_parse",
    "time_utc",
    "time_diff",
    "time_before",
    "time_after",
    "time_between",
    "time_truncate",
];

thread_local! {
    /// The cluster the `x_k8s_*` functions ask, while an expression of a test runs.
    static CLIENT: RefCell<Option<Arc<dyn Client>>> = const { RefCell::new(None) };
}

/// Runs `f` with `client` as the cluster of the `x_k8s_*` functions on this thread.
pub fn with_client<R>(client: Option<Arc<dyn Client>>, f: impl FnOnce() -> R) -> R {
    let before = CLIENT.with(|c| c.replace(client));
    struct Restore(Option<Arc<dyn Client>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            CLIENT.with(|c| *c.borrow_mut() = prev);
        }
    }
    let _restore = Restore(before);
    f()
}

fn client() -> Result<Arc<dyn Client>, String> {
    CLIENT.with(|c| c.borrow().clone()).ok_or_else(|| "no cluster client is set".to_string())
}

/// What `$client` and `$config` hold: the functions take them as their first
/// argument, as chainsaw's do, and use the test's client.
pub fn client_marker() -> Value {
    json!({"@client": "current"})
}

pub fn runtime() -> &'static Runtime {
    static RT: LazyLock<Runtime> = LazyLock::new(build);
    &RT
}

type Body = fn(&[Rcvar], &mut Context<'_>) -> Result<Value, String>;

fn reg(rt: &mut Runtime, name: &'static str, inputs: Vec<T>, variadic: Option<T>, body: Body) {
    let f = move |args: &[Rcvar], ctx: &mut Context<'_>| -> Result<Rcvar, JmespathError> {
        body(args, ctx).map(|v| to_var(&v)).map_err(|e| {
            // Operators (the `__` functions) speak for themselves; functions are named.
            let msg = if name.starts_with("__") { e } else { format!("{name}: {e}") };
            JmespathError::new(ctx.expression, ctx.offset, ErrorReason::Parse(msg))
        })
    };
    rt.register_function(name, Box::new(CustomFunction::new(Signature::new(inputs, variadic), Box::new(f))));
}

fn s(v: &Rcvar) -> String {
    v.as_string().cloned().unwrap_or_default()
}

fn val(v: &Rcvar) -> Value {
    from_var(v)
}

/// A number as JSON: integral values stay integers (as Go prints its floats).
pub fn number(f: f64) -> Result<Value, String> {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Ok(Value::from(f as i64));
    }
    serde_json::Number::from_f64(f).map(Value::Number).ok_or_else(|| format!("{f} is not a number JSON can hold"))
}

fn type_name(v: &Variable) -> &'static str {
    match v {
        Variable::Null => "null",
        Variable::String(_) => "string",
        Variable::Bool(_) => "boolean",
        Variable::Number(_) => "number",
        Variable::Array(_) => "array",
        Variable::Object(_) => "object",
        Variable::Expref(_) => "expref",
    }
}

fn arith(
    op: &str,
    args: &[Rcvar],
    f: fn(f64, f64) -> Option<f64>,
    i: fn(i64, i64) -> Option<i64>,
) -> Result<Value, String> {
    let (a, b) = (&args[0], &args[1]);
    let (Variable::Number(x), Variable::Number(y)) = (&**a, &**b) else {
        return Err(format!("invalid type for {op}: expected numbers, found {} and {}", type_name(a), type_name(b)));
    };
    if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
        if let Some(r) = i(x, y) {
            return Ok(Value::from(r));
        }
    }
    let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
    match f(x, y) {
        Some(r) => number(r),
        None => Err(format!("division by zero ({op})")),
    }
}

fn chars_index(hay: &str, byte: usize) -> usize {
    hay[..byte].chars().count()
}

/// Go's strings.Trim family: the characters of `cutset` off one or both ends.
fn trim_set<'a>(text: &'a str, cutset: &str, left: bool, right: bool) -> &'a str {
    let set: Vec<char> = cutset.chars().collect();
    let mut t = text;
    if left {
        t = t.trim_start_matches(|c| set.contains(&c));
    }
    if right {
        t = t.trim_end_matches(|c| set.contains(&c));
    }
    t
}

/// `*` matches any run, `?` one character (Kyverno's wildcard).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn string_or_number(v: &Rcvar) -> String {
    match &**v {
        Variable::String(s) => s.clone(),
        Variable::Number(n) => n.to_string(),
        other => from_var(other).to_string(),
    }
}

fn regex(p: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(p).map_err(|e| format!("invalid regex `{p}`: {e}"))
}

/// A version such as `v1.2.3-rc.1` as comparable parts (the pre-release sorts first).
fn semver(v: &str) -> Option<(u64, u64, u64, Option<String>)> {
    let v = v.trim().trim_start_matches(['v', '=']);
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p.split('+').next().unwrap_or("").to_string())),
        None => (v.split('+').next().unwrap_or(v), None),
    };
    let mut parts = core.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map(|p| p.parse().ok()).unwrap_or(Some(0))?;
    let patch = parts.next().map(|p| p.parse().ok()).unwrap_or(Some(0))?;
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, patch, pre))
}

fn semver_cmp(a: &(u64, u64, u64, Option<String>), b: &(u64, u64, u64, Option<String>)) -> std::cmp::Ordering {
    (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)).then_with(|| match (&a.3, &b.3) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => x.cmp(y),
    })
}

/// Whether `version` satisfies `range`: comparators joined by spaces (and)
/// or `||` (or), as blang/semver ranges are written.
fn semver_satisfies(version: &str, range: &str) -> Result<bool, String> {
    let v = semver(version).ok_or_else(|| format!("`{version}` is not a semantic version"))?;
    for alt in range.split("||") {
        let mut all = true;
        for c in alt.split_whitespace() {
            let (op, rest) = ["<=", ">=", "!=", "==", "<", ">", "="]
                .iter()
                .find_map(|op| c.strip_prefix(op).map(|r| (*op, r)))
                .unwrap_or(("=", c));
            let w = semver(rest).ok_or_else(|| format!("`{rest}` is not a semantic version"))?;
            let o = semver_cmp(&v, &w);
            let ok = match op {
                "<" => o.is_lt(),
                "<=" => o.is_le(),
                ">" => o.is_gt(),
                ">=" => o.is_ge(),
                "!=" => o.is_ne(),
                _ => o.is_eq(),
            };
            all &= ok;
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

/// RFC 3339 in UTC, from the system clock.
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Prometheus' text format as chainsaw's `x_metrics_decode` returns it: one
/// sample per line, `{metric: {__name__, labels…}, value, timestamp}`.
pub fn metrics_decode(text: &str, now_ms: i64) -> Result<Value, String> {
    let mut out: Vec<(String, i64, Value)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("text format parsing error in line {}: {why}", n + 1);
        let name_end = line.find(|c: char| c == '{' || c.is_whitespace()).unwrap_or(line.len());
        let name = &line[..name_end];
        if name.is_empty() {
            return Err(bad("invalid metric name"));
        }
        let mut metric = Map::new();
        metric.insert("__name__".into(), Value::String(name.into()));
        let mut rest = &line[name_end..];
        if let Some(r) = rest.strip_prefix('{') {
            let mut r = r;
            loop {
                r = r.trim_start_matches([' ', ',']);
                if let Some(after) = r.strip_prefix('}') {
                    r = after;
                    break;
                }
                let eq = r.find('=').ok_or_else(|| bad("expected a label"))?;
                let label = r[..eq].trim().to_string();
                let body =
                    r[eq + 1..].trim_start().strip_prefix('"').ok_or_else(|| bad("expected a quoted label value"))?;
                let mut value = String::new();
                let mut chars = body.char_indices();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, o)) => value.push(o),
                            None => {}
                        },
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        o => value.push(o),
                    }
                }
                let end = end.ok_or_else(|| bad("unclosed label value"))?;
                metric.insert(label, Value::String(value));
                r = &body[end + 1..];
            }
            rest = r;
        }
        let mut fields = rest.split_whitespace();
        let value: f64 = match fields.next() {
            Some("+Inf") | Some("Inf") => f64::INFINITY,
            Some("-Inf") => f64::NEG_INFINITY,
            Some(v) => v.parse().map_err(|_| bad(&format!("expected a float, found `{v}`")))?,
            None => return Err(bad("expected a value")),
        };
        let ts: i64 = match fields.next() {
            Some(t) => t.parse().map_err(|_| bad(&format!("expected an integer timestamp, found `{t}`")))?,
            None => now_ms,
        };
        let key = serde_json::to_string(&metric).unwrap_or_default();
        let v = number(value).unwrap_or(Value::Null);
        out.push((key, ts, json!({"metric": metric, "value": v, "timestamp": ts})));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    Ok(Value::Array(out.into_iter().map(|(_, _, v)| v).collect()))
}

fn build() -> Runtime {
    let mut rt = Runtime::new();
    rt.register_builtin_functions();
    let any = || T::Any;
    let st = || T::String;
    let num = || T::Number;
    let obj = || T::Object;
    let arr = || T::Array;
    let son = || T::Union(vec![T::String, T::Number]);

    // Arithmetic operators of JMESPath Community (see expr.rs).
    reg(&mut rt, super::expr::ADD, vec![any(), any()], None, |a, _| {
        arith("+", a, |x, y| Some(x + y), i64::checked_add)
    });
    reg(&mut rt, super::expr::SUBTRACT, vec![any(), any()], None, |a, _| {
        arith("-", a, |x, y| Some(x - y), i64::checked_sub)
    });
    reg(&mut rt, super::expr::MULTIPLY, vec![any(), any()], None, |a, _| {
        arith("*", a, |x, y| Some(x * y), i64::checked_mul)
    });
    reg(&mut rt, super::expr::DIVIDE, vec![any(), any()], None, |a, _| {
        arith("/", a, |x, y| (y != 0.0).then(|| x / y), |x, y| (y != 0 && x % y == 0).then(|| x / y))
    });
    reg(&mut rt, super::expr::INT_DIVIDE, vec![any(), any()], None, |a, _| {
        arith("//", a, |x, y| (y != 0.0).then(|| (x / y).floor()), |x, y| (y != 0).then(|| x.div_euclid(y)))
    });
    reg(&mut rt, super::expr::MODULO, vec![any(), any()], None, |a, _| {
        arith("%", a, |x, y| (y != 0.0).then(|| x % y), |x, y| (y != 0).then(|| x % y))
    });
    reg(&mut rt, super::expr::NEGATE, vec![any()], None, |a, _| match a[0].as_number() {
        Some(_) => arith("-", &[to_var(&json!(0)), a[0].clone()], |x, y| Some(x - y), i64::checked_sub),
        None => Err(format!("invalid type for unary -: expected a number, found {}", type_name(&a[0]))),
    });

    // Multi-select lists and hashes (see expr.rs).
    reg(&mut rt, super::expr::LIST, vec![], Some(any()), |a, _| Ok(Value::Array(a.iter().map(val).collect())));
    reg(&mut rt, super::expr::HASH, vec![], Some(any()), |a, _| {
        let mut m = Map::new();
        for pair in a.chunks(2) {
            if let [k, v] = pair {
                m.insert(s(k), val(v));
            }
        }
        Ok(Value::Object(m))
    });

    // JMESPath Community.
    reg(&mut rt, "find_first", vec![st(), st()], Some(num()), |a, _| find(a, false));
    reg(&mut rt, "find_last", vec![st(), st()], Some(num()), |a, _| find(a, true));
    reg(&mut rt, "from_items", vec![arr()], None, |a, _| {
        let mut m = Map::new();
        for item in a[0].as_array().into_iter().flatten() {
            match item.as_array().map(|p| p.as_slice()) {
                Some([k, v]) if k.is_string() => {
                    m.insert(s(k), val(v));
                }
                _ => return Err("expected an array of [key, value] pairs".into()),
            }
        }
        Ok(Value::Object(m))
    });
    reg(&mut rt, "group_by", vec![arr(), T::Expref], None, |a, ctx| {
        let ast = a[1].as_expref().cloned().ok_or("expected an expression reference")?;
        let mut m: Map<String, Value> = Map::new();
        for item in a[0].as_array().into_iter().flatten() {
            let key = jmespath::interpret(item, &ast, ctx).map_err(|e| e.to_string())?;
            match &*key {
                Variable::String(k) => {
                    if let Some(Value::Array(list)) = m.get_mut(k) {
                        list.push(val(item));
                    } else {
                        m.insert(k.clone(), Value::Array(vec![val(item)]));
                    }
                }
                Variable::Null => {}
                other => return Err(format!("group keys must be strings, found {}", type_name(other))),
            }
        }
        Ok(Value::Object(m))
    });
    reg(&mut rt, "lower", vec![st()], None, |a, _| Ok(Value::String(s(&a[0]).to_lowercase())));
    reg(&mut rt, "upper", vec![st()], None, |a, _| Ok(Value::String(s(&a[0]).to_uppercase())));
    reg(&mut rt, "pad_left", vec![st(), num()], Some(st()), |a, _| pad(a, true));
    reg(&mut rt, "pad_right", vec![st(), num()], Some(st()), |a, _| pad(a, false));
    reg(&mut rt, "trim_left", vec![st()], Some(st()), |a, _| {
        let text = s(&a[0]);
        Ok(Value::String(match a.get(1) {
            Some(c) if !s(c).is_empty() => trim_set(&text, &s(c), true, false).to_string(),
            _ => text.trim_start().to_string(),
        }))
    });
    reg(&mut rt, "trim_right", vec![st()], Some(st()), |a, _| {
        let text = s(&a[0]);
        Ok(Value::String(match a.get(1) {
            Some(c) if !s(c).is_empty() => trim_set(&text, &s(c), false, true).to_string(),
            _ => text.trim_end().to_string(),
        }))
    });
    reg(&mut rt, "zip", vec![arr()], Some(arr()), |a, _| {
        let n = a.iter().map(|x| x.as_array().map(|v| v.len()).unwrap_or(0)).min().unwrap_or(0);
        Ok(Value::Array(
            (0..n)
                .map(|i| {
                    Value::Array(a.iter().map(|x| x.as_array().map(|v| val(&v[i])).unwrap_or(Value::Null)).collect())
                })
                .collect(),
        ))
    });

    // kyverno-json.
    reg(&mut rt, "at", vec![arr(), num()], None, |a, _| {
        let list = a[0].as_array().cloned().unwrap_or_default();
        let i = a[1].as_number().unwrap_or(-1.0);
        if i < 0.0 || i as usize >= list.len() || i.fract() != 0.0 {
            return Err(format!("index out of range ({i} / {})", list.len()));
        }
        Ok(val(&list[i as usize]))
    });
    reg(&mut rt, "concat", vec![st(), st()], None, |a, _| Ok(Value::String(s(&a[0]) + &s(&a[1]))));
    reg(&mut rt, "json_parse", vec![st()], None, |a, _| serde_json::from_str(&s(&a[0])).map_err(|e| e.to_string()));
    reg(&mut rt, "wildcard", vec![st(), st()], None, |a, _| Ok(Value::Bool(wildcard(&s(&a[0]), &s(&a[1])))));

    // Kyverno.
    reg(&mut rt, "compare", vec![st(), st()], None, |a, _| {
        Ok(Value::from(match s(&a[0]).cmp(&s(&a[1])) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        }))
    });
    reg(&mut rt, "equal_fold", vec![st(), st()], None, |a, _| {
        Ok(Value::Bool(s(&a[0]).to_lowercase() == s(&a[1]).to_lowercase()))
    });
    reg(&mut rt, "replace", vec![st(), st(), st(), num()], None, |a, _| {
        let n = a[3].as_number().unwrap_or(-1.0);
        let text = s(&a[0]);
        Ok(Value::String(if n < 0.0 {
            text.replace(&s(&a[1]), &s(&a[2]))
        } else {
            text.replacen(&s(&a[1]), &s(&a[2]), n as usize)
        }))
    });
    reg(&mut rt, "replace_all", vec![st(), st(), st()], None, |a, _| {
        Ok(Value::String(s(&a[0]).replace(&s(&a[1]), &s(&a[2]))))
    });
    reg(&mut rt, "to_upper", vec![st()], None, |a, _| Ok(Value::String(s(&a[0]).to_uppercase())));
    reg(&mut rt, "to_lower", vec![st()], None, |a, _| Ok(Value::String(s(&a[0]).to_lowercase())));
    reg(&mut rt, "trim", vec![st(), st()], None, |a, _| {
        Ok(Value::String(trim_set(&s(&a[0]), &s(&a[1]), true, true).into()))
    });
    reg(&mut rt, "trim_prefix", vec![st(), st()], None, |a, _| {
        let text = s(&a[0]);
        Ok(Value::String(text.strip_prefix(s(&a[1]).as_str()).unwrap_or(&text).to_string()))
    });
    reg(&mut rt, "split", vec![st(), st()], None, |a, _| {
        let (text, sep) = (s(&a[0]), s(&a[1]));
        let parts: Vec<Value> = if sep.is_empty() {
            text.chars().map(|c| Value::String(c.to_string())).collect()
        } else {
            text.split(sep.as_str()).map(|p| Value::String(p.into())).collect()
        };
        Ok(Value::Array(parts))
    });
    reg(&mut rt, "regex_replace_all", vec![st(), son(), son()], None, |a, _| {
        Ok(Value::String(
            regex(&s(&a[0]))?.replace_all(&string_or_number(&a[1]), string_or_number(&a[2]).as_str()).into(),
        ))
    });
    reg(&mut rt, "regex_replace_all_literal", vec![st(), son(), son()], None, |a, _| {
        let re = regex(&s(&a[0]))?;
        Ok(Value::String(re.replace_all(&string_or_number(&a[1]), regex::NoExpand(&string_or_number(&a[2]))).into()))
    });
    reg(&mut rt, "regex_match", vec![st(), son()], None, |a, _| {
        Ok(Value::Bool(regex(&s(&a[0]))?.is_match(&string_or_number(&a[1]))))
    });
    reg(&mut rt, "pattern_match", vec![st(), son()], None, |a, _| {
        Ok(Value::Bool(wildcard(&s(&a[0]), &string_or_number(&a[1]))))
    });
    reg(&mut rt, "label_match", vec![obj(), obj()], None, |a, _| {
        let (sel, labels) =
            (a[0].as_object().cloned().unwrap_or_default(), a[1].as_object().cloned().unwrap_or_default());
        Ok(Value::Bool(sel.iter().all(|(k, v)| labels.get(k).is_some_and(|l| l == v))))
    });
    reg(&mut rt, "to_boolean", vec![st()], None, |a, _| match s(&a[0]).to_lowercase().as_str() {
        "true" => Ok(Value::Bool(true)),
        "false" => Ok(Value::Bool(false)),
        other => Err(format!("lowercase argument must be 'true' or 'false' (provided: '{other}')")),
    });
    reg(&mut rt, "add", vec![num(), num()], None, |a, _| arith("add", a, |x, y| Some(x + y), i64::checked_add));
    reg(&mut rt, "subtract", vec![num(), num()], None, |a, _| {
        arith("subtract", a, |x, y| Some(x - y), i64::checked_sub)
    });
    reg(&mut rt, "multiply", vec![num(), num()], None, |a, _| {
        arith("multiply", a, |x, y| Some(x * y), i64::checked_mul)
    });
    reg(&mut rt, "divide", vec![num(), num()], None, |a, _| {
        arith("divide", a, |x, y| (y != 0.0).then(|| x / y), |x, y| (y != 0 && x % y == 0).then(|| x / y))
    });
    reg(&mut rt, "modulo", vec![num(), num()], None, |a, _| {
        arith("modulo", a, |x, y| (y != 0.0).then(|| x % y), |x, y| (y != 0).then(|| x % y))
    });
    reg(&mut rt, "sum", vec![T::TypedArray(Box::new(T::Number))], None, |a, _| {
        let list = a[0].as_array().cloned().unwrap_or_default();
        let mut total = to_var(&json!(0));
        for x in list {
            total = to_var(&arith("sum", &[total, x], |x, y| Some(x + y), i64::checked_add)?);
        }
        Ok(val(&total))
    });
    reg(&mut rt, "round", vec![num(), num()], None, |a, _| {
        let digits = a[1].as_number().unwrap_or(0.0) as i32;
        let p = 10f64.powi(digits);
        number((a[0].as_number().unwrap_or(0.0) * p).round() / p)
    });
    reg(&mut rt, "base64_decode", vec![st()], None, |a, _| {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(s(&a[0])).map_err(|e| e.to_string())?;
        String::from_utf8(bytes).map(Value::String).map_err(|e| e.to_string())
    });
    reg(&mut rt, "base64_encode", vec![st()], None, |a, _| {
        use base64::Engine;
        Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(s(&a[0]))))
    });
    reg(&mut rt, "time_now", vec![], None, |_, _| Ok(Value::String(now_rfc3339())));
    reg(&mut rt, "time_now_utc", vec![], None, |_, _| Ok(Value::String(now_rfc3339())));
    reg(&mut rt, "path_canonicalize", vec![st()], None, |a, _| Ok(Value::String(clean_path(&s(&a[0])))));
    reg(&mut rt, "truncate", vec![st(), num()], None, |a, _| {
        let n = a[1].as_number().unwrap_or(0.0).max(0.0) as usize;
        Ok(Value::String(s(&a[0]).chars().take(n).collect()))
    });
    reg(&mut rt, "semver_compare", vec![st(), st()], None, |a, _| {
        semver_satisfies(&s(&a[0]), &s(&a[1])).map(Value::Bool)
    });
    reg(&mut rt, "parse_json", vec![st()], None, |a, _| serde_json::from_str(&s(&a[0])).map_err(|e| e.to_string()));
    reg(&mut rt, "parse_yaml", vec![st()], None, |a, _| {
        let v: serde_yaml::Value = serde_yaml::from_str(&s(&a[0])).map_err(|e| e.to_string())?;
        serde_json::to_value(v).map_err(|e| e.to_string())
    });
    reg(&mut rt, "lookup", vec![T::Union(vec![T::Object, T::Array]), son()], None, |a, _| {
        Ok(match (&*a[0], &*a[1]) {
            (Variable::Object(m), Variable::String(k)) => m.get(k).map(val).unwrap_or(Value::Null),
            (Variable::Array(l), Variable::Number(n)) => match n.as_u64() {
                Some(i) if (i as usize) < l.len() => val(&l[i as usize]),
                _ => Value::Null,
            },
            _ => return Err("expected an object and a string, or an array and an integer".into()),
        })
    });
    reg(&mut rt, "items", vec![T::Union(vec![T::Object, T::Array]), st(), st()], None, |a, _| {
        let (k, v) = (s(&a[1]), s(&a[2]));
        let pairs: Vec<Value> = match &*a[0] {
            Variable::Object(m) => m.iter().map(|(key, x)| json!({ k.clone(): key, v.clone(): val(x) })).collect(),
            Variable::Array(l) => {
                l.iter().enumerate().map(|(i, x)| json!({ k.clone(): i, v.clone(): val(x) })).collect()
            }
            _ => Vec::new(),
        };
        Ok(Value::Array(pairs))
    });
    reg(&mut rt, "object_from_lists", vec![arr(), arr()], None, |a, _| {
        let keys = a[0].as_array().cloned().unwrap_or_default();
        let values = a[1].as_array().cloned().unwrap_or_default();
        let mut m = Map::new();
        for (i, k) in keys.iter().enumerate() {
            let k = k.as_string().ok_or("keys must be strings")?;
            m.insert(k.clone(), values.get(i).map(val).unwrap_or(Value::Null));
        }
        Ok(Value::Object(m))
    });

    // chainsaw.
    reg(&mut rt, "env", vec![st()], None, |a, _| Ok(Value::String(std::env::var(s(&a[0])).unwrap_or_default())));
    reg(&mut rt, "trim_space", vec![st()], None, |a, _| Ok(Value::String(s(&a[0]).trim().to_string())));
    reg(&mut rt, "as_string", vec![any()], None, |a, _| {
        Ok(a[0].as_string().map(|x| Value::String(x.clone())).unwrap_or(Value::Null))
    });
    reg(&mut rt, "x_k8s_get", vec![any(), st(), st(), st(), st()], None, |a, _| {
        let r = ObjectRef::new(&s(&a[1]), &s(&a[2]), &s(&a[3]), &s(&a[4]));
        client()?.get(&r).map_err(|e| e.to_string())?.ok_or_else(|| r.not_found())
    });
    reg(&mut rt, "x_k8s_exists", vec![any(), st(), st(), st(), st()], None, |a, _| {
        let r = ObjectRef::new(&s(&a[1]), &s(&a[2]), &s(&a[3]), &s(&a[4]));
        Ok(Value::Bool(client()?.get(&r).map_err(|e| e.to_string())?.is_some()))
    });
    reg(&mut rt, "x_k8s_list", vec![any(), st(), st()], Some(st()), |a, _| {
        let ns = a.get(3).map(s).unwrap_or_default();
        let r = ObjectRef::new(&s(&a[1]), &s(&a[2]), &ns, "");
        let items = client()?.list(&r, &Default::default()).map_err(|e| e.to_string())?;
        Ok(json!({"apiVersion": s(&a[1]), "kind": format!("{}List", s(&a[2])), "items": items}))
    });
    reg(&mut rt, "x_k8s_resource_exists", vec![any(), st(), st()], None, |a, _| {
        Ok(Value::Bool(client()?.resource(&s(&a[1]), &s(&a[2])).map_err(|e| e.to_string())?.is_some()))
    });
    reg(&mut rt, "x_k8s_server_version", vec![any()], None, |_, _| {
        client()?.server_version().map_err(|e| e.to_string())
    });
    reg(&mut rt, "x_metrics_decode", vec![st()], None, |a, _| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        metrics_decode(&s(&a[0]), now)
    });
    rt
}

fn find(a: &[Rcvar], last: bool) -> Result<Value, String> {
    let (hay, needle) = (s(&a[0]), s(&a[1]));
    let n = hay.chars().count() as i64;
    let bound = |i: usize, default: i64| a.get(i).and_then(|v| v.as_number()).map(|f| f as i64).unwrap_or(default);
    let start = bound(2, 0).clamp(0, n) as usize;
    let end = bound(3, n).clamp(0, n) as usize;
    if start > end {
        return Ok(Value::Null);
    }
    let sub: String = hay.chars().skip(start).take(end - start).collect();
    let found = if last { sub.rfind(&needle) } else { sub.find(&needle) };
    Ok(found.map(|b| Value::from(chars_index(&sub, b) + start)).unwrap_or(Value::Null))
}

fn pad(a: &[Rcvar], left: bool) -> Result<Value, String> {
    let text = s(&a[0]);
    let width = a[1].as_number().unwrap_or(0.0).max(0.0) as usize;
    let fill = a.get(2).map(s).unwrap_or_else(|| " ".into());
    if fill.chars().count() != 1 {
        return Err("the padding must be a single character".into());
    }
    let n = width.saturating_sub(text.chars().count());
    let padding: String = fill.repeat(n);
    Ok(Value::String(if left { padding + &text } else { text + &padding }))
}

/// Go's path.Clean: one slash between elements, no `.` and no `..` that can go.
fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chainsaw::expr::{eval, Bindings};

    /// Each line `expression => result` evaluates to the JSON result (or `error: …`).
    fn check(input: &str) {
        for line in input.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (expr, want) = line.rsplit_once(" => ").expect("a case is `expr => result`");
            let got = match eval(expr, &Value::Null, &Bindings::new()) {
                Ok(v) => v.to_string(),
                Err(e) => format!("error: {e}"),
            };
            assert_eq!(got, want, "{expr}");
        }
    }

    #[test]
    fn documented_behaviour() {
        check(
            r#"
            join('-', ['a', 'b']) => "a-b"
            to_string(`1`) => "1"
            to_number('42') => 42
            length('abc') => 3
            starts_with('my-first-x', 'my-first-') => true
            find_first('subject string', 'string') => 8
            find_last('abcabc', 'b') => 4
            find_first('abc', 'z') => null
            from_items([['a', `1`], ['b', `2`]]) => {"a":1,"b":2}
            items({a: `1`}, 'key', 'value') => [{"key":"a","value":1}]
            lower('ABC') => "abc"
            upper('abc') => "ABC"
            pad_left('7', `3`, '0') => "007"
            pad_right('ab', `4`) => "ab  "
            replace('aaa', 'a', 'b', `2`) => "bba"
            replace_all('aaa', 'a', 'b') => "bbb"
            split('a,b', ',') => ["a","b"]
            trim('--x--', '-') => "x"
            trim_left('  x ') => "x "
            trim_right('xyy', 'y') => "x"
            zip([`1`, `2`], ['a']) => [[1,"a"]]
            at([`1`, `2`], `1`) => 2
            at([`1`], `3`) => error: at: index out of range (3 / 1)
            concat('a', 'b') => "ab"
            json_parse('{"a": 1}').a => 1
            wildcard('nginx*', 'nginx:1.2') => true
            wildcard('a?c', 'abd') => false
            compare('a', 'b') => -1
            equal_fold('Go', 'GO') => true
            trim_prefix('v1.2', 'v') => "1.2"
            regex_match('^[0-9]+$', '123') => true
            regex_replace_all('([a-z]+)-(\d+)', 'ab-12', '$2-$1') => "12-ab"
            regex_replace_all_literal('a', 'banana', '$1') => "b$1n$1n$1"
            pattern_match('*.io', 'x.io') => true
            label_match({app: 'x'}, {app: 'x', tier: 'y'}) => true
            to_boolean('TruE') => true
            add(`1`, `2`) => 3
            divide(`7`, `2`) => 3.5
            divide(`1`, `0`) => error: divide: division by zero (divide)
            modulo(`7`, `3`) => 1
            sum([`1`, `2.5`]) => 3.5
            round(`3.14159`, `2`) => 3.14
            base64_encode('hi') => "aGk="
            base64_decode('aGk=') => "hi"
            path_canonicalize('/a//b/../c/.') => "/a/c"
            truncate('abcdef', `3`) => "abc"
            semver_compare('1.10.0', '>=1.9.0') => true
            semver_compare('v1.2.3', '<1.2.0 || >=2.0.0') => false
            parse_yaml('a: 1') => {"a":1}
            lookup({a: `1`}, 'a') => 1
            lookup([`5`, `6`], `1`) => 6
            object_from_lists(['a', 'b'], [`1`]) => {"a":1,"b":null}
            trim_space('  hi  ') => "hi"
            as_string('x') => "x"
            as_string(`1`) => null
            group_by([{k: 'a', v: `1`}, {k: 'b', v: `2`}, {k: 'a', v: `3`}], &k) => {"a":[{"k":"a","v":1},{"k":"a","v":3}],"b":[{"k":"b","v":2}]}
            x_k8s_get(`null`, 'v1', 'Pod', 'ns', 'x') => error: x_k8s_get: no cluster client is set
            random('[a-z]{3}') => error: Call to undefined function random
            "#,
        );
    }

    #[test]
    fn metrics() {
        let v = metrics_decode(
            "# TYPE mf2 counter\nmf2 3\nmf1{label=\"value1\"} -2.5 123456\nmf1{label=\"value2\"} 42\nmf2 4\n",
            99,
        )
        .unwrap();
        assert_eq!(v.as_array().unwrap().len(), 4);
        assert_eq!(v[0], json!({"metric": {"__name__": "mf1", "label": "value1"}, "value": -2.5, "timestamp": 123456}));
        assert!(metrics_decode("mf1{label=\"x} 1\n", 0).unwrap_err().contains("line 1"));
    }
}
