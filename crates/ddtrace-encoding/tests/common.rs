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
