//! The JSON fallbacks carried in meta: `_dd.span_links` (span-model.md §6.2) and `events`
//! (§7.2).
//!
//! Writing is hand-rolled into a reused `String` (no allocation once it has grown); reading
//! goes through `serde_json::Value`, as it only runs when decoding.

use std::fmt::Write as _;

use ddtrace_model::{
    AttributeArray, AttributeValue, SpanEvent, SpanId, SpanLink, Str, TagMap, TraceId,
};
use serde_json::Value;

/// Appends `s` as a JSON string literal.
fn string(out: &mut String, s: &str) {
    out.push('"');
    let mut run_start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        // `i` is on an ASCII byte, hence on a char boundary.
        out.push_str(s.get(run_start..i).unwrap_or_default());
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        run_start = i + 1;
    }
    out.push_str(s.get(run_start..).unwrap_or_default());
    out.push('"');
}

/// Appends a float so that it reads back as a float: Rust's shortest round-trip form always
/// has a `.` or an exponent. JSON has no NaN or infinities: those become `null`, which readers
/// drop (span-model.md §7.3).
fn float(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{v:?}");
    } else {
        out.push_str("null");
    }
}

fn string_map(out: &mut String, map: &TagMap<Str>) {
    out.push('{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, k);
        out.push(':');
        string(out, v);
    }
    out.push('}');
}

/// Writes `links` as the `_dd.span_links` JSON array.
pub(crate) fn write_links(out: &mut String, links: &[SpanLink]) {
    out.clear();
    out.push('[');
    for (i, link) in links.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"trace_id\":\"{:032x}\",\"span_id\":\"{:016x}\"",
            link.trace_id.as_u128(),
            link.span_id.get()
        );
        if !link.tracestate.is_empty() {
            out.push_str(",\"tracestate\":");
            string(out, &link.tracestate);
        }
        if !link.attributes.is_empty() {
            out.push_str(",\"attributes\":");
            string_map(out, &link.attributes);
        }
        if let Some(flags) = link.flags {
            let _ = write!(out, ",\"flags\":{}", flags & 0x7fff_ffff);
        }
        out.push('}');
    }
    out.push(']');
}

fn attribute(out: &mut String, value: &AttributeValue) {
    fn list<T>(out: &mut String, items: &[T], mut each: impl FnMut(&mut String, &T)) {
        out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            each(out, item);
        }
        out.push(']');
    }
    match value {
        AttributeValue::String(s) => string(out, s),
        AttributeValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        AttributeValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        AttributeValue::Double(d) => float(out, *d),
        AttributeValue::Array(AttributeArray::String(v)) => list(out, v, |o, s| string(o, s)),
        AttributeValue::Array(AttributeArray::Bool(v)) => {
            list(out, v, |o, b| o.push_str(if *b { "true" } else { "false" }))
        }
        AttributeValue::Array(AttributeArray::Int(v)) => list(out, v, |o, i| {
            let _ = write!(o, "{i}");
        }),
        AttributeValue::Array(AttributeArray::Double(v)) => list(out, v, |o, d| float(o, *d)),
    }
}

/// Writes `events` as the `events` JSON array.
pub(crate) fn write_events(out: &mut String, events: &[SpanEvent]) {
    out.clear();
    out.push('[');
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        string(out, &event.name);
        let _ = write!(out, ",\"time_unix_nano\":{}", event.time_unix_nano);
        if !event.attributes.is_empty() {
            out.push_str(",\"attributes\":{");
            for (j, (k, v)) in event.attributes.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                string(out, k);
                out.push(':');
                attribute(out, v);
            }
            out.push('}');
        }
        out.push('}');
    }
    out.push(']');
}

/// Parses a `_dd.span_links` value; `None` when it is not a well-formed links array (the
/// caller then keeps the meta entry as it is).
pub(crate) fn read_links(text: &str) -> Option<Vec<SpanLink>> {
    let Value::Array(items) = serde_json::from_str::<Value>(text).ok()? else {
        return None;
    };
    let mut links = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(mut obj) = item else {
            return None;
        };
        let trace_id = TraceId::from_hex(obj.get("trace_id")?.as_str()?).ok()?;
        let span_id = SpanId::from_hex(obj.get("span_id")?.as_str()?).ok()?;
        let mut link = SpanLink::new(trace_id, span_id);
        match obj.remove("tracestate") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => link.tracestate = s.into(),
            Some(_) => return None,
        }
        match obj.remove("attributes") {
            None | Some(Value::Null) => {}
            Some(Value::Object(attrs)) => {
                for (k, v) in attrs {
                    let v: Str = match v {
                        Value::String(s) => s.into(),
                        Value::Bool(b) => Str::from_static(if b { "true" } else { "false" }),
                        Value::Number(n) => n.to_string().into(),
                        _ => continue,
                    };
                    link.attributes.insert(k, v);
                }
            }
            Some(_) => return None,
        }
        match obj.remove("flags") {
            None | Some(Value::Null) => {}
            Some(v) => link.flags = Some(u32::try_from(v.as_u64()?).ok()? & 0x7fff_ffff),
        }
        links.push(link);
    }
    Some(links)
}

/// Converts one JSON attribute value; `None` for values span-model.md §7.3 calls invalid
/// (null, objects, nested or mixed arrays, integers outside i64).
fn read_attribute(value: Value) -> Option<AttributeValue> {
    Some(match value {
        Value::String(s) => AttributeValue::String(s.into()),
        Value::Bool(b) => AttributeValue::Bool(b),
        Value::Number(n) => number(&n)?,
        Value::Array(items) => {
            let Some(first) = items.first() else {
                return Some(AttributeValue::Array(AttributeArray::String(Vec::new())));
            };
            let array = match first {
                Value::String(_) => AttributeArray::String(
                    items
                        .into_iter()
                        .map(|v| match v {
                            Value::String(s) => Some(Str::from(s)),
                            _ => None,
                        })
                        .collect::<Option<_>>()?,
                ),
                Value::Bool(_) => {
                    AttributeArray::Bool(items.iter().map(Value::as_bool).collect::<Option<_>>()?)
                }
                Value::Number(_) => {
                    let numbers = items
                        .iter()
                        .map(|v| match v {
                            Value::Number(n) => number(n),
                            _ => None,
                        })
                        .collect::<Option<Vec<_>>>()?;
                    if numbers.iter().all(|n| matches!(n, AttributeValue::Int(_))) {
                        AttributeArray::Int(
                            numbers
                                .iter()
                                .filter_map(|n| match n {
                                    AttributeValue::Int(i) => Some(*i),
                                    _ => None,
                                })
                                .collect(),
                        )
                    } else {
                        // Integers and floats mixed: read them all as floats.
                        AttributeArray::Double(
                            numbers
                                .iter()
                                .filter_map(|n| match n {
                                    AttributeValue::Int(i) => Some(*i as f64),
                                    AttributeValue::Double(d) => Some(*d),
                                    _ => None,
                                })
                                .collect(),
                        )
                    }
                }
                _ => return None,
            };
            AttributeValue::Array(array)
        }
        Value::Null | Value::Object(_) => return None,
    })
}

fn number(n: &serde_json::Number) -> Option<AttributeValue> {
    if let Some(i) = n.as_i64() {
        Some(AttributeValue::Int(i))
    } else if n.is_f64() {
        n.as_f64().map(AttributeValue::Double)
    } else {
        None // an integer above i64::MAX
    }
}

/// Parses an `events` value; `None` when it is not a well-formed events array. Invalid
/// attribute values are dropped, the rest of the event kept.
pub(crate) fn read_events(text: &str) -> Option<Vec<SpanEvent>> {
    let Value::Array(items) = serde_json::from_str::<Value>(text).ok()? else {
        return None;
    };
    let mut events = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(mut obj) = item else {
            return None;
        };
        let Some(Value::String(name)) = obj.remove("name") else {
            return None;
        };
        let time = obj.get("time_unix_nano")?.as_u64()?;
        let mut event = SpanEvent::new(name, time);
        match obj.remove("attributes") {
            None | Some(Value::Null) => {}
            Some(Value::Object(attrs)) => {
                for (k, v) in attrs {
                    if let Some(v) = read_attribute(v) {
                        event.attributes.insert(k, v);
                    }
                }
            }
            Some(_) => return None,
        }
        events.push(event);
    }
    Some(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_quotes_backslashes_and_controls() {
        let mut out = String::new();
        string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
        let back: String = serde_json::from_str(&out).unwrap_or_default();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn the_spec_link_example_is_written_as_specified() {
        // span-model.md §6.2.
        let mut link = SpanLink::new(
            TraceId::from_parts(0x6650f1a200000000, 0xa3ce929d0e0e4736),
            SpanId::new(0x00f067aa0ba902b7).unwrap_or_else(SpanId::generate),
        );
        link.tracestate = "dd=s:1,foo=bar".into();
        link.attributes
            .insert("reason", "terminated_context".into());
        link.attributes
            .insert("context_headers", "tracecontext".into());
        link.flags = Some(1);
        let mut out = String::new();
        write_links(&mut out, &[link.clone()]);
        assert_eq!(
            out,
            r#"[{"trace_id":"6650f1a200000000a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","tracestate":"dd=s:1,foo=bar","attributes":{"reason":"terminated_context","context_headers":"tracecontext"},"flags":1}]"#
        );
        assert_eq!(read_links(&out), Some(vec![link]));
    }

    #[test]
    fn doubles_stay_doubles_and_ints_stay_ints() {
        let mut event = SpanEvent::new("e", 7);
        event.attributes.insert("d", AttributeValue::Double(1.0));
        event
            .attributes
            .insert("big", AttributeValue::Double(1e300));
        event.attributes.insert("i", AttributeValue::Int(-3));
        event.attributes.insert(
            "da",
            AttributeValue::Array(AttributeArray::Double(vec![2.0, 0.5])),
        );
        let mut out = String::new();
        write_events(&mut out, &[event.clone()]);
        assert_eq!(read_events(&out), Some(vec![event]));
    }

    #[test]
    fn invalid_attributes_are_dropped_and_malformed_arrays_rejected() {
        let events = read_events(
            r#"[{"name":"x","time_unix_nano":1,"attributes":{"ok":1,"n":null,"o":{},"m":[1,"a"],"h":18446744073709551615}}]"#,
        )
        .unwrap_or_default();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].attributes.len(), 1);
        assert!(read_events(r#"{"name":"x"}"#).is_none());
        assert!(read_events(r#"[{"time_unix_nano":1}]"#).is_none());
        assert!(read_links(r#"[{"trace_id":"1","span_id":"0"}]"#).is_none());
    }
}
