//! Events are stored once, as core/v1 Events; events.k8s.io/v1 is a view of
//! the same objects with its own field names (pkg/apis/events/v1's
//! conversion), so an Event written through either API is read through both.

use serde_json::{Map, Value};

/// events.k8s.io/v1 name ↔ core/v1 name, for the fields that differ.
const RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
];

fn rename(v: &Value, from_events: bool, api_version: &str) -> Value {
    let Some(m) = v.as_object() else { return v.clone() };
    let mut out = Map::new();
    for (k, x) in m {
        let to =
            RENAMES.iter().find_map(|(e, c)| if from_events { (k == e).then_some(*c) } else { (k == c).then_some(*e) });
        out.insert(to.unwrap_or(k).to_string(), x.clone());
    }
    out.insert("apiVersion".into(), Value::from(api_version));
    out.insert("kind".into(), Value::from("Event"));
    Value::Object(out)
}

/// An events.k8s.io/v1 Event in its stored (core/v1) form.
pub fn to_core(v: &Value) -> Value {
    rename(v, true, "v1")
}

/// A stored Event as events.k8s.io/v1 returns it.
pub fn to_events_v1(v: &Value) -> Value {
    rename(v, false, "events.k8s.io/v1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_apis_read_one_event() {
        let e = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "regarding": {"kind": "Pod", "name": "p"}, "note": "hi", "reason": "Started", "reportingController": "podproof"});
        let core = to_core(&e);
        assert_eq!(core["involvedObject"]["name"], "p");
        assert_eq!(core["message"], "hi");
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(to_events_v1(&core), e);
    }
}
