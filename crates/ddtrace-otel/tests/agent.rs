//! End to end against the real Datadog test agent: the bridge's chunks, sent as a v0.4 JSON
//! payload (the encoding the `ddtrace-transport` crate writes as msgpack; the crate graph keeps
//! transport out of this crate's dependencies, so the test writes the payload itself), arrive
//! with the expected names, resources, services, parents and tags, and pass the agent's
//! trace checks.

use std::collections::HashMap;
use std::time::Duration;

use ddtrace_model::{AttributeValue, TraceChunk};
use ddtrace_testkit::TestAgent;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use serde_json::{Map, Value as Json, json};

use crate::common::provider_with;

fn attribute_json(v: &AttributeValue) -> Json {
    match v {
        AttributeValue::String(s) => json!(s.as_str()),
        AttributeValue::Bool(b) => json!(b),
        AttributeValue::Int(i) => json!(i),
        AttributeValue::Double(f) => json!(f),
        AttributeValue::Array(_) => json!(null),
    }
}

/// One v0.4 trace: chunk-level facts on the first span (ADR 001), `_dd.origin` on every span,
/// links natively, events in the `events` meta.
fn trace_json(chunk: &TraceChunk) -> Json {
    let spans: Vec<Json> = chunk
        .spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut meta: Map<String, Json> =
                s.meta.iter().map(|(k, v)| (k.to_string(), json!(v.as_str()))).collect();
            let mut metrics: Map<String, Json> =
                s.metrics.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            if i == 0 {
                for (k, v) in chunk.tags.iter() {
                    meta.insert(k.to_string(), json!(v.as_str()));
                }
                if s.trace_id.high() != 0 {
                    meta.insert("_dd.p.tid".into(), json!(format!("{:016x}", s.trace_id.high())));
                }
                if let Some(p) = chunk.priority {
                    metrics.insert("_sampling_priority_v1".into(), json!(p.get()));
                }
            }
            if let Some(o) = &chunk.origin {
                meta.insert("_dd.origin".into(), json!(o.as_str()));
            }
            if !s.events.is_empty() {
                let events: Vec<Json> = s
                    .events
                    .iter()
                    .map(|e| {
                        json!({"name": e.name.as_str(), "time_unix_nano": e.time_unix_nano,
                               "attributes": e.attributes.iter().map(|(k, v)| (k.to_string(), attribute_json(v))).collect::<Map<_, _>>()})
                    })
                    .collect();
                meta.insert("events".into(), json!(serde_json::to_string(&events).unwrap()));
            }
            let mut span = json!({
                "trace_id": s.trace_id.low(), "span_id": s.span_id.get(),
                "parent_id": s.parent_id.map_or(0, |p| p.get()),
                "name": s.name.as_str(), "resource": s.resource.as_str(), "service": s.service.as_str(),
                "type": s.span_type.as_str(), "start": s.start, "duration": s.duration,
                "error": i32::from(s.error), "meta": meta, "metrics": metrics,
            });
            if !s.links.is_empty() {
                span["span_links"] = s
                    .links
                    .iter()
                    .map(|l| {
                        json!({"trace_id": l.trace_id.low(), "trace_id_high": l.trace_id.high(),
                               "span_id": l.span_id.get(), "tracestate": l.tracestate.as_str(),
                               "flags": l.flags.map_or(0, |f| f | 0x8000_0000),
                               "attributes": l.attributes.iter().map(|(k, v)| (k.to_string(), json!(v.as_str()))).collect::<Map<_, _>>()})
                    })
                    .collect();
            }
            span
        })
        .collect();
    Json::Array(spans)
}

#[test]
fn traces_reach_the_test_agent_and_pass_its_checks() {
    let agent = TestAgent::start().expect("the test agent starts (see ddtrace-testkit)");
    let (provider, exporter) = provider_with(|b| b.with_env("test").with_version("1.0"));
    let tracer = provider.tracer("agent-test");

    // A server request with a database client child and a child of another service.
    let root = tracer
        .span_builder("GET /users/{id}")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.response.status_code", 200),
        ])
        .start(&tracer);
    let cx = Context::new().with_span(root);
    let mut db = tracer
        .span_builder("SELECT users")
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("db.system", "postgresql"),
            KeyValue::new("db.rows", 1),
        ])
        .start_with_context(&tracer, &cx);
    db.add_event(
        "exception",
        vec![KeyValue::new("exception.message", "timeout")],
    );
    db.set_status(Status::error("query failed"));
    db.end();
    let mut cache = tracer
        .span_builder("cache lookup")
        .with_attributes([KeyValue::new("service.name", "cache-svc")])
        .start_with_context(&tracer, &cx);
    cache.add_link(
        cx.span().span_context().clone(),
        vec![KeyValue::new("why", "test")],
    );
    cache.end();
    cx.span().end();
    drop(cx);

    // A trace continuing an upstream one.
    let headers: HashMap<String, String> = [
        ("x-datadog-trace-id", "123456789"),
        ("x-datadog-parent-id", "987654321"),
        ("x-datadog-sampling-priority", "2"),
        ("x-datadog-origin", "synthetics"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let parent = provider.propagator().extract(&headers);
    tracer.start_with_context("continued", &parent).end();

    let chunks = exporter.take_chunks();
    assert_eq!(chunks.len(), 2);
    let body = serde_json::to_vec(&Json::Array(chunks.iter().map(trace_json).collect())).unwrap();
    let answer = agent
        .request(
            "PUT",
            "/v0.4/traces",
            &[
                ("Content-Type", "application/json"),
                ("X-Datadog-Trace-Count", "2"),
                ("Datadog-Meta-Tracer-Version", "0.1.0"),
                ("Datadog-Meta-Lang", "rust"),
                ("Datadog-Client-Computed-Top-Level", "true"),
            ],
            &body,
        )
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());

    let traces = agent.wait_for_traces(2, Duration::from_secs(10)).unwrap();
    let all: Vec<_> = traces.iter().flat_map(|t| t.iter()).collect();
    let by: HashMap<&str, _> = all.iter().map(|s| (s.resource.as_str(), *s)).collect();
    let root = by["GET /users/{id}"];
    assert_eq!(
        (root.name.as_str(), root.service.as_str(), root.parent_id),
        ("http.server.request", "test-svc", 0)
    );
    assert_eq!(root.span_type, "web");
    assert_eq!(root.meta["http.status_code"], "200");
    assert_eq!(root.meta["_dd.p.dm"], "-0");
    assert_eq!(root.meta["env"], "test");
    assert_eq!(root.meta["version"], "1.0");
    assert_eq!(root.metrics["_sampling_priority_v1"], 1.0);
    assert_eq!(root.meta["_dd.p.tid"].len(), 16);
    let db = by["SELECT users"];
    assert_eq!(
        (db.name.as_str(), db.span_type.as_str(), db.parent_id),
        ("postgresql.query", "sql", root.span_id)
    );
    assert_eq!(db.error, 1);
    assert_eq!(db.meta["error.message"], "timeout");
    assert_eq!(db.meta["span.kind"], "client");
    assert_eq!(db.metrics["db.rows"], 1.0);
    let cache = by["cache lookup"];
    assert_eq!(
        (cache.service.as_str(), cache.parent_id),
        ("cache-svc", root.span_id)
    );
    assert_eq!(cache.meta["_dd.base_service"], "test-svc");
    assert_eq!(cache.metrics["_dd.top_level"], 1.0);
    assert!(cache.other.contains_key("span_links"), "{:?}", cache.other);
    let continued = by["continued"];
    assert_eq!(
        (continued.trace_id, continued.parent_id),
        (123456789, 987654321)
    );
    assert_eq!(continued.metrics["_sampling_priority_v1"], 2.0);
    assert_eq!(continued.meta["_dd.origin"], "synthetics");

    let failures = agent.trace_check_failures().unwrap();
    assert!(failures.is_empty(), "{failures:?}");
}
