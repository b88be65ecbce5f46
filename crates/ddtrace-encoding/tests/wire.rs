//! An independent reading of the wire format: `#[derive(Deserialize)]` structs decoded with
//! `rmp-serde` (or `serde_json` for the vectors' JSON dumps), and a checker that compares a
//! wire span with the model span it must come from, applying the chunk-level rules itself.

use std::collections::HashMap;

use ddtrace_model::{AttributeArray, AttributeValue, Span, SpanEvent, SpanLink, TraceChunk};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// A msgpack `bin` (or a JSON array of bytes).
#[derive(Debug, PartialEq)]
pub(crate) struct Bytes(pub(crate) Vec<u8>);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Bytes, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(Bytes(out))
            }
        }
        d.deserialize_bytes(Visitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireSpan {
    pub(crate) service: String,
    pub(crate) name: String,
    pub(crate) resource: String,
    #[serde(rename = "type")]
    pub(crate) span_type: Option<String>,
    pub(crate) trace_id: u64,
    pub(crate) span_id: u64,
    pub(crate) parent_id: Option<u64>,
    pub(crate) start: i64,
    pub(crate) duration: i64,
    pub(crate) error: Option<i32>,
    pub(crate) meta: Option<HashMap<String, String>>,
    pub(crate) metrics: Option<HashMap<String, f64>>,
    pub(crate) meta_struct: Option<HashMap<String, Bytes>>,
    pub(crate) span_links: Option<Vec<WireLink>>,
    pub(crate) span_events: Option<Vec<WireEvent>>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireLink {
    trace_id: u64,
    trace_id_high: Option<u64>,
    span_id: u64,
    attributes: Option<HashMap<String, String>>,
    tracestate: Option<String>,
    flags: Option<u32>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireEvent {
    time_unix_nano: u64,
    name: String,
    /// `{type, <kind>_value}` maps, kept as JSON values.
    attributes: Option<HashMap<String, Value>>,
}

/// A v0.5 span: 12 fields, strings as indexes.
type V05Span = (
    u32,
    u32,
    u32,
    u64,
    u64,
    u64,
    i64,
    i64,
    i32,
    HashMap<u32, u32>,
    HashMap<u32, f64>,
    u32,
);

/// A v0.5 payload: the string table and the chunks.
pub(crate) type V05Payload = (Vec<String>, Vec<Vec<V05Span>>);

/// Resolves a v0.5 payload's indexes into v0.4-shaped spans (absent = zero/empty).
pub(crate) fn resolve_v05(payload: V05Payload) -> Vec<Vec<WireSpan>> {
    let (table, chunks) = payload;
    let s = |i: u32| table[i as usize].clone();
    chunks
        .into_iter()
        .map(|chunk| {
            chunk
                .into_iter()
                .map(
                    |(
                        service,
                        name,
                        resource,
                        trace_id,
                        span_id,
                        parent,
                        start,
                        duration,
                        error,
                        meta,
                        metrics,
                        ty,
                    )| {
                        WireSpan {
                            service: s(service),
                            name: s(name),
                            resource: s(resource),
                            span_type: Some(s(ty)).filter(|t| !t.is_empty()),
                            trace_id,
                            span_id,
                            parent_id: Some(parent).filter(|&p| p != 0),
                            start,
                            duration,
                            error: Some(error).filter(|&e| e != 0),
                            meta: Some(meta.into_iter().map(|(k, v)| (s(k), s(v))).collect()),
                            metrics: Some(metrics.into_iter().map(|(k, v)| (s(k), v)).collect()),
                            meta_struct: None,
                            span_links: None,
                            span_events: None,
                        }
                    },
                )
                .collect()
        })
        .collect()
}

/// How links and events are expected on the wire, and how strict presence checks are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    pub(crate) native_links: bool,
    pub(crate) native_events: bool,
    /// Our encoder always writes `meta` and `metrics`; other tracers may omit them.
    pub(crate) maps_always_present: bool,
}

fn attribute_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::String(s) => json!(s.as_str()),
        AttributeValue::Bool(b) => json!(b),
        AttributeValue::Int(i) => json!(i),
        AttributeValue::Double(d) => json!(d),
        AttributeValue::Array(AttributeArray::String(v)) => {
            v.iter().map(|s| json!(s.as_str())).collect()
        }
        AttributeValue::Array(AttributeArray::Bool(v)) => json!(v),
        AttributeValue::Array(AttributeArray::Int(v)) => json!(v),
        AttributeValue::Array(AttributeArray::Double(v)) => json!(v),
    }
}

fn attribute_native(v: &AttributeValue) -> Value {
    fn scalar(type_id: u8, key: &str, value: Value) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!(type_id));
        m.insert(key.into(), value);
        Value::Object(m)
    }
    let array = |items: Vec<Value>| scalar(4, "array_value", json!({ "values": items }));
    match v {
        AttributeValue::String(s) => scalar(0, "string_value", json!(s.as_str())),
        AttributeValue::Bool(b) => scalar(1, "bool_value", json!(b)),
        AttributeValue::Int(i) => scalar(2, "int_value", json!(i)),
        AttributeValue::Double(d) => scalar(3, "double_value", json!(d)),
        AttributeValue::Array(AttributeArray::String(v)) => array(
            v.iter()
                .map(|s| attribute_native(&AttributeValue::String(s.clone())))
                .collect(),
        ),
        AttributeValue::Array(AttributeArray::Bool(v)) => array(
            v.iter()
                .map(|b| attribute_native(&AttributeValue::Bool(*b)))
                .collect(),
        ),
        AttributeValue::Array(AttributeArray::Int(v)) => array(
            v.iter()
                .map(|i| attribute_native(&AttributeValue::Int(*i)))
                .collect(),
        ),
        AttributeValue::Array(AttributeArray::Double(v)) => array(
            v.iter()
                .map(|d| attribute_native(&AttributeValue::Double(*d)))
                .collect(),
        ),
    }
}

/// span-model.md §7.2.
fn events_json(events: &[SpanEvent]) -> Value {
    events
        .iter()
        .map(|e| {
            let mut m = Map::new();
            m.insert("name".into(), json!(e.name.as_str()));
            m.insert("time_unix_nano".into(), json!(e.time_unix_nano));
            if !e.attributes.is_empty() {
                let attrs: Map<String, Value> = e
                    .attributes
                    .iter()
                    .map(|(k, v)| (k.to_string(), attribute_json(v)))
                    .collect();
                m.insert("attributes".into(), Value::Object(attrs));
            }
            Value::Object(m)
        })
        .collect()
}

fn string_map(map: &ddtrace_model::TagMap<ddtrace_model::Str>) -> HashMap<String, String> {
    map.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// span-model.md §6.2.
fn links_json(links: &[SpanLink]) -> Value {
    links
        .iter()
        .map(|l| {
            let mut m = Map::new();
            m.insert(
                "trace_id".into(),
                json!(format!("{:032x}", l.trace_id.as_u128())),
            );
            m.insert("span_id".into(), json!(format!("{:016x}", l.span_id.get())));
            if !l.tracestate.is_empty() {
                m.insert("tracestate".into(), json!(l.tracestate.as_str()));
            }
            if !l.attributes.is_empty() {
                m.insert("attributes".into(), json!(string_map(&l.attributes)));
            }
            if let Some(flags) = l.flags {
                m.insert("flags".into(), json!(flags));
            }
            Value::Object(m)
        })
        .collect()
}

fn native_link(l: &SpanLink) -> WireLink {
    let high = l.trace_id.high();
    WireLink {
        trace_id: l.trace_id.low(),
        trace_id_high: (high != 0).then_some(high),
        span_id: l.span_id.get(),
        attributes: (!l.attributes.is_empty()).then(|| string_map(&l.attributes)),
        tracestate: (!l.tracestate.is_empty()).then(|| l.tracestate.to_string()),
        flags: l.flags.map(|f| f | 0x8000_0000),
    }
}

fn native_event(e: &SpanEvent) -> WireEvent {
    WireEvent {
        time_unix_nano: e.time_unix_nano,
        name: e.name.to_string(),
        attributes: (!e.attributes.is_empty()).then(|| {
            e.attributes
                .iter()
                .map(|(k, v)| (k.to_string(), attribute_native(v)))
                .collect()
        }),
    }
}

/// Checks that `wire` is what span `i` of `chunk` must look like on the wire (agent-api.md
/// §4–§5, span-model.md §4, §6, §7).
pub(crate) fn check_span(wire: &WireSpan, chunk: &TraceChunk, i: usize, mode: Mode) {
    let span: &Span = &chunk.spans[i];
    let first = i == 0;
    let at = format!("span {i} ({:x})", span.span_id.get());
    assert_eq!(wire.service, span.service.as_str(), "{at}");
    assert_eq!(wire.name, span.name.as_str(), "{at}");
    assert_eq!(wire.resource, span.resource.as_str(), "{at}");
    assert_eq!(
        wire.span_type.as_deref().unwrap_or(""),
        span.span_type.as_str(),
        "{at}"
    );
    assert_eq!(wire.trace_id, span.trace_id.low(), "{at}");
    assert_eq!(wire.span_id, span.span_id.get(), "{at}");
    assert_eq!(wire.parent_id, span.parent_id.map(|p| p.get()), "{at}");
    assert_eq!(wire.start, span.start, "{at}");
    assert_eq!(wire.duration, span.duration, "{at}");
    assert_eq!(wire.error, span.error.then_some(1), "{at}");
    if mode.maps_always_present {
        assert!(
            wire.meta.is_some() && wire.metrics.is_some(),
            "{at}: meta/metrics absent"
        );
    }

    let mut meta = wire.meta.clone().unwrap_or_default();
    let mut expected = string_map(&span.meta);
    if first {
        expected.extend(string_map(&chunk.tags));
        if span.trace_id.high() != 0 {
            expected.insert("_dd.p.tid".into(), format!("{:016x}", span.trace_id.high()));
        }
    }
    if let Some(origin) = &chunk.origin {
        expected.insert("_dd.origin".into(), origin.to_string());
    }
    let events_in_meta = !mode.native_events && !span.events.is_empty();
    if events_in_meta {
        let text = meta
            .remove("events")
            .unwrap_or_else(|| panic!("{at}: no events meta"));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, events_json(&span.events), "{at}: events JSON");
    }
    let links_in_meta = !mode.native_links && !span.links.is_empty();
    if links_in_meta {
        let text = meta
            .remove("_dd.span_links")
            .unwrap_or_else(|| panic!("{at}: no links meta"));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, links_json(&span.links), "{at}: links JSON");
    }
    assert_eq!(meta, expected, "{at}: meta");

    let mut metrics: HashMap<String, f64> = span
        .metrics
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    if let (true, Some(p)) = (first, chunk.priority) {
        metrics.insert("_sampling_priority_v1".into(), f64::from(p.get()));
    }
    let wire_metrics = wire.metrics.clone().unwrap_or_default();
    assert_eq!(wire_metrics.len(), metrics.len(), "{at}: metrics");
    for (k, v) in &metrics {
        assert_eq!(
            wire_metrics.get(k).map(|w| w.to_bits()),
            Some(v.to_bits()),
            "{at}: metric {k}"
        );
    }

    let meta_struct: HashMap<String, Vec<u8>> = wire
        .meta_struct
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    let expected: HashMap<String, Vec<u8>> = if mode.native_links {
        span.meta_struct
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    } else {
        HashMap::new() // v0.5 drops it
    };
    assert_eq!(meta_struct, expected, "{at}: meta_struct");

    let links: Vec<WireLink> = if mode.native_links {
        span.links.iter().map(native_link).collect()
    } else {
        Vec::new()
    };
    assert_eq!(
        wire.span_links.as_deref().unwrap_or_default(),
        &links[..],
        "{at}: span_links"
    );
    assert!(
        wire.span_links.as_ref().is_none_or(|l| !l.is_empty()),
        "{at}: empty span_links written"
    );

    let events: Vec<WireEvent> = if mode.native_events {
        span.events.iter().map(native_event).collect()
    } else {
        Vec::new()
    };
    assert_eq!(
        wire.span_events.as_deref().unwrap_or_default(),
        &events[..],
        "{at}: span_events"
    );
    assert!(
        wire.span_events.as_ref().is_none_or(|e| !e.is_empty()),
        "{at}: empty span_events written"
    );
}

/// Checks a whole payload's wire chunks against the model chunks.
pub(crate) fn check_payload(wire: &[Vec<WireSpan>], chunks: &[TraceChunk], mode: Mode) {
    assert_eq!(wire.len(), chunks.len(), "chunk count");
    for (w, c) in wire.iter().zip(chunks) {
        assert_eq!(w.len(), c.spans.len(), "span count");
        for (i, span) in w.iter().enumerate() {
            check_span(span, c, i, mode);
        }
    }
}

/// A map read as its list of entries, duplicates included.
#[derive(Debug)]
pub(crate) struct RawMap<K, V>(pub(crate) Vec<(K, V)>);

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for RawMap<K, V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<K, V> {
            type Value = RawMap<K, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(RawMap(entries))
            }
        }
        d.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

impl<K: Eq + std::hash::Hash + Clone + std::fmt::Debug, V: Clone> RawMap<K, V> {
    /// The entries as a map, failing on a repeated key.
    pub(crate) fn unique(&self) -> HashMap<K, V> {
        let mut out = HashMap::new();
        for (k, v) in &self.0 {
            assert!(
                out.insert(k.clone(), v.clone()).is_none(),
                "key {k:?} written twice"
            );
        }
        out
    }
}

/// The parts of a v0.4 span the reserved-key rules touch, keeping duplicates visible.
#[derive(Debug, Deserialize)]
pub(crate) struct RawSpanV04 {
    pub(crate) meta: RawMap<String, String>,
    pub(crate) metrics: RawMap<String, f64>,
}

/// A v0.5 span with its maps' duplicates visible.
pub(crate) type RawSpanV05 = (
    u32,
    u32,
    u32,
    u64,
    u64,
    u64,
    i64,
    i64,
    i32,
    RawMap<u32, u32>,
    RawMap<u32, f64>,
    u32,
);
