//! Fixtures shared by the tests.

use std::path::PathBuf;

use ddtrace_model::{
    AttributeArray, AttributeValue, SamplingPriority, Span, SpanEvent, SpanId, SpanLink,
    TraceChunk, TraceId,
};

/// A file under `tests/`.
pub(crate) fn test_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(relative)
}

pub(crate) fn id(v: u64) -> SpanId {
    SpanId::new(v).unwrap()
}

/// The chunk of agent-api.md §4.5 / §5.2.
pub(crate) fn spec_example() -> TraceChunk {
    let mut span = Span::new(TraceId::from_u128(1), id(2), "op");
    span.service = "svc".into();
    span.resource = "GET /".into();
    span.start = 1_700_000_000_000_000_000;
    span.duration = 1000;
    span.meta.insert("env", "prod".into());
    let mut chunk = TraceChunk::new(vec![span]);
    chunk.priority = Some(SamplingPriority::AUTO_KEEP);
    chunk
}

/// A small payload using every feature: 128-bit ids, chunk tags, origin, priority, error,
/// type, meta_struct, links (with and without flags), events of every attribute type.
pub(crate) fn rich_example() -> Vec<TraceChunk> {
    let trace_id = TraceId::from_parts(0x6650f1a200000000, 0xa3ce929d0e0e4736);
    let mut root = Span::new(trace_id, id(0x10), "http.server.request");
    root.service = "web".into();
    root.resource = "GET /users/{id}".into();
    root.span_type = "web".into();
    root.start = 1_700_000_000_000_000_000;
    root.duration = 5_000_000;
    root.meta.insert("env", "prod".into());
    root.meta.insert("span.kind", "server".into());
    root.metrics.insert("_dd.top_level", 1.0);
    root.metrics.insert("process_id", 4242.0);
    root.meta_struct
        .insert("appsec", vec![0x81, 0xa1, b'a', 0x01]);

    let mut child = Span::new(trace_id, id(0x11), "db.query");
    child.service = "db".into();
    child.resource = "SELECT \"x\"\n".into();
    child.parent_id = Some(id(0x10));
    child.start = 1_700_000_000_001_000_000;
    child.duration = 1_000_000;
    child.error = true;
    child.meta.insert("error.message", "boom".into());
    let mut link = SpanLink::new(
        TraceId::from_parts(0x640cfd8d00000000, 0xa3ce929d0e0e4736),
        id(0x00f067aa0ba902b7),
    );
    link.tracestate = "dd=s:2;o:rum,foo=1".into();
    link.flags = Some(1);
    link.attributes.insert("reason", "batch".into());
    child.links.push(link);
    child
        .links
        .push(SpanLink::new(TraceId::from_u128(9), id(8)));
    let mut exception = SpanEvent::new("exception", 1_700_000_000_001_500_000);
    exception
        .attributes
        .insert("exception.message", "connection reset".into());
    exception
        .attributes
        .insert("exception.escaped", AttributeValue::Bool(false));
    child.events.push(exception);
    let mut miss = SpanEvent::new("cache miss", 1_700_000_000_001_600_000);
    miss.attributes.insert(
        "keys",
        AttributeValue::Array(AttributeArray::String(vec!["a".into(), "b".into()])),
    );
    miss.attributes.insert("n", AttributeValue::Int(-2));
    miss.attributes.insert("ratio", AttributeValue::Double(0.5));
    miss.attributes.insert("whole", AttributeValue::Double(3.0));
    miss.attributes.insert(
        "ints",
        AttributeValue::Array(AttributeArray::Int(vec![1, 2])),
    );
    miss.attributes.insert(
        "flags",
        AttributeValue::Array(AttributeArray::Bool(vec![true])),
    );
    miss.attributes.insert(
        "ds",
        AttributeValue::Array(AttributeArray::Double(vec![1.0, 2.5])),
    );
    child.events.push(miss);
    child.events.push(SpanEvent::new("bare", 1));

    let mut chunk = TraceChunk::new(vec![root, child]);
    chunk.priority = Some(SamplingPriority::USER_KEEP);
    chunk.origin = Some("synthetics".into());
    chunk.tags.insert("_dd.p.dm", "-3".into());
    chunk.tags.insert("_dd.p.ksr", "1".into());

    let mut lone = Span::new(TraceId::from_u128(77), id(0x20), "worker.job");
    lone.service = "web".into();
    lone.resource = "job".into();
    lone.start = 1_700_000_000_002_000_000;
    lone.duration = 0;
    lone.metrics.insert("negative", -1.25);
    let second = TraceChunk::new(vec![lone]);
    vec![chunk, second]
}

/// Proptest strategies for model values that round-trip (see `decode`'s documentation):
/// no reserved keys in spans, one trace id per chunk, `_dd.p.*` chunk tags, finite event
/// doubles.
pub(crate) mod arb {
    use ddtrace_model::{
        AttributeArray, AttributeValue, SamplingPriority, Span, SpanEvent, SpanId, SpanLink, Str,
        TagMap, TraceChunk, TraceId,
    };
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Any text: ASCII, escapes, controls, non-ASCII, sometimes long.
    pub(crate) fn text() -> impl Strategy<Value = Str> {
        prop_oneof![
            4 => "[a-z0-9 ./_-]{0,12}",
            2 => "\\PC{0,8}",
            1 => "[\"\\\\\n\t\u{0}-\u{1f}é€😀]{0,6}",
            1 => "[a-z]{30,300}",
        ]
        .prop_map(Str::from)
    }

    /// A meta/metric key no encoder rule reserves.
    pub(crate) fn key() -> impl Strategy<Value = Str> {
        prop_oneof!["[a-z][a-z0-9._]{0,10}", "\\PC{1,6}"]
            .prop_filter("reserved key", |k: &String| {
                !k.starts_with('_') && k != "events"
            })
            .prop_map(Str::from)
    }

    fn map<V: std::fmt::Debug>(
        value: impl Strategy<Value = V>,
        max: usize,
    ) -> impl Strategy<Value = TagMap<V>> {
        vec((key(), value), 0..max).prop_map(|entries| entries.into_iter().collect())
    }

    pub(crate) fn span_id() -> impl Strategy<Value = SpanId> {
        prop_oneof![1u64..300, any::<u64>()].prop_filter_map("zero", SpanId::new)
    }

    fn trace_id() -> impl Strategy<Value = TraceId> {
        prop_oneof![
            any::<u64>().prop_map(|low| TraceId::from_parts(0, low)),
            any::<u128>().prop_map(TraceId::from_u128),
        ]
    }

    fn metric() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("NaN never equals itself", |v| !v.is_nan()),
            (-3i32..3).prop_map(f64::from),
        ]
    }

    fn finite() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("JSON has no NaN or infinities", |v| v.is_finite()),
            (-5i32..5).prop_map(f64::from),
        ]
    }

    fn attribute() -> impl Strategy<Value = AttributeValue> {
        prop_oneof![
            text().prop_map(AttributeValue::String),
            any::<bool>().prop_map(AttributeValue::Bool),
            any::<i64>().prop_map(AttributeValue::Int),
            finite().prop_map(AttributeValue::Double),
            vec(text(), 0..3).prop_map(|v| AttributeValue::Array(AttributeArray::String(v))),
            vec(any::<bool>(), 0..3).prop_map(|v| AttributeValue::Array(AttributeArray::Bool(v))),
            vec(any::<i64>(), 0..3).prop_map(|v| AttributeValue::Array(AttributeArray::Int(v))),
            vec(finite(), 0..3).prop_map(|v| AttributeValue::Array(AttributeArray::Double(v))),
        ]
    }

    fn link() -> impl Strategy<Value = SpanLink> {
        (
            trace_id(),
            span_id(),
            text(),
            proptest::option::of(prop_oneof![0u32..2, 0u32..0x8000_0000]),
            map(text(), 3),
        )
            .prop_map(|(trace_id, span_id, tracestate, flags, attributes)| {
                let mut link = SpanLink::new(trace_id, span_id);
                link.tracestate = tracestate;
                link.flags = flags;
                link.attributes = attributes;
                link
            })
    }

    fn event() -> impl Strategy<Value = SpanEvent> {
        (text(), any::<u64>(), map(attribute(), 4)).prop_map(|(name, time, attributes)| {
            let mut event = SpanEvent::new(name, time);
            event.attributes = attributes;
            event
        })
    }

    fn span(trace_id: TraceId) -> impl Strategy<Value = Span> {
        (
            (
                text(),
                text(),
                text(),
                text(),
                span_id(),
                proptest::option::of(span_id()),
            ),
            (any::<i64>(), any::<i64>(), any::<bool>()),
            (
                map(text(), 6),
                map(metric(), 4),
                map(vec(any::<u8>(), 0..8), 2),
            ),
            (vec(link(), 0..3), vec(event(), 0..3)),
        )
            .prop_map(move |(strings, numbers, maps, extras)| {
                let (service, name, resource, span_type, span_id, parent_id) = strings;
                let mut span = Span::new(trace_id, span_id, name);
                span.service = service;
                span.resource = resource;
                span.span_type = span_type;
                span.parent_id = parent_id;
                (span.start, span.duration, span.error) = numbers;
                (span.meta, span.metrics, span.meta_struct) = maps;
                (span.links, span.events) = extras;
                span
            })
    }

    pub(crate) fn chunk() -> impl Strategy<Value = TraceChunk> {
        trace_id().prop_flat_map(|trace_id| {
            (
                vec(span(trace_id), 0..5),
                proptest::option::of(any::<i32>().prop_map(SamplingPriority::new)),
                proptest::option::of(text()),
                vec(("_dd\\.p\\.[a-z]{1,6}", text()), 0..3),
            )
                .prop_map(|(spans, priority, origin, tags)| {
                    let mut chunk = TraceChunk::new(spans);
                    chunk.priority = priority;
                    chunk.origin = origin;
                    chunk.tags = tags.into_iter().filter(|(k, _)| k != "_dd.p.tid").collect();
                    chunk
                })
        })
    }

    pub(crate) fn chunks() -> impl Strategy<Value = Vec<TraceChunk>> {
        vec(chunk(), 0..4)
    }

    /// Keys of the chunk-level rules, set on spans as meta and as chunk tags by
    /// [`with_reserved_keys`].
    pub(crate) const META_KEYS: &[&str] = &[
        "_dd.origin",
        "_dd.p.dm",
        "_dd.p.tid",
        "_dd.p.ksr",
        "events",
        "_dd.span_links",
    ];

    /// A chunk whose spans carry reserved meta keys and `_sampling_priority_v1` metrics,
    /// and whose tags collide with other chunk-level keys (these do not round-trip).
    pub(crate) fn with_reserved_keys() -> impl Strategy<Value = TraceChunk> {
        (
            chunk(),
            vec((0..META_KEYS.len(), text()), 0..8),
            vec((0..META_KEYS.len(), text()), 0..3),
            vec(any::<f64>().prop_filter("NaN", |v| !v.is_nan()), 0..3),
        )
            .prop_map(|(mut chunk, span_meta, chunk_tags, priorities)| {
                let n = chunk.spans.len().max(1);
                for (i, (key, value)) in span_meta.into_iter().enumerate() {
                    if let Some(span) = chunk.spans.get_mut(i % n) {
                        span.meta.insert(META_KEYS[key], value);
                    }
                }
                for (key, value) in chunk_tags {
                    chunk.tags.insert(META_KEYS[key], value);
                }
                for (i, p) in priorities.into_iter().enumerate() {
                    if let Some(span) = chunk.spans.get_mut(i % n) {
                        span.metrics.insert("_sampling_priority_v1", p);
                    }
                }
                chunk
            })
    }
}
