//! Payloads written by `ddtrace-encoding`, delivered to the real test agent: every field the
//! model carries comes back intact, in both formats, with no trace-check failure.

use ddtrace_encoding::{EncodeOptions, Format, PayloadEncoder};
use ddtrace_model::{
    AttributeArray, AttributeValue, SamplingPriority, Span, SpanEvent, SpanId, SpanLink,
    TraceChunk, TraceId,
};
use ddtrace_testkit::{ReceivedSpan, TestAgent};
use serde_json::Value;
use std::time::Duration;

fn id(v: u64) -> SpanId {
    SpanId::new(v).expect("non-zero")
}

/// Three traces: a 128-bit one with an error child and trace-level tags, one with a link and
/// events, one plain.
fn chunks() -> Vec<TraceChunk> {
    let t1 = TraceId::from_parts(0x6650_f1a2_0000_0000, 0xa3ce_929d_0e0e_4736);
    let mut root = Span::new(t1, id(11), "http.server.request");
    root.service = "web".into();
    root.resource = "GET /users/{id}".into();
    root.span_type = "web".into();
    root.start = 1_700_000_000_000_000_000;
    root.duration = 5_000_000;
    root.set_meta("http.method", "GET");
    root.set_meta("span.kind", "server");
    root.set_metric("_dd.top_level", 1.0);
    root.set_metric("retries", 3.0);
    let mut child = Span::new(t1, id(12), "postgresql.query");
    child.service = "web-db".into();
    child.resource = "SELECT 1".into();
    child.span_type = "sql".into();
    child.parent_id = Some(id(11));
    child.start = 1_700_000_000_001_000_000;
    child.duration = 1_000_000;
    child.error = true;
    child.set_meta("error.message", "connection reset");
    child.set_meta("error.type", "io::Error");
    child.set_meta("error.stack", "frame 1\nframe 2");
    child.set_metric("ratio", 0.25);
    let mut first = TraceChunk::new(vec![root, child]);
    first.priority = Some(SamplingPriority::USER_KEEP);
    first.origin = Some("synthetics".into());
    first.tags.insert("_dd.p.dm", "-4".into());

    let t2 = TraceId::from_parts(0, 0x1234);
    let mut producer = Span::new(t2, id(21), "kafka.send");
    producer.service = "orders".into();
    producer.resource = "orders topic".into();
    producer.start = 1_700_000_000_002_000_000;
    producer.duration = 250_000;
    let mut link = SpanLink::new(t1, id(11));
    link.tracestate = "dd=s:2;o:synthetics,foo=bar".into();
    link.flags = Some(1);
    link.attributes.insert("reason", "follows".into());
    producer.links.push(link);
    let mut event = SpanEvent::new("exception", 1_700_000_000_002_100_000);
    event.attributes.insert("exception.message", "boom".into());
    event
        .attributes
        .insert("exception.escaped", AttributeValue::Bool(false));
    event.attributes.insert("attempt", AttributeValue::Int(2));
    event
        .attributes
        .insert("weight", AttributeValue::Double(0.5));
    event.attributes.insert(
        "keys",
        AttributeValue::Array(AttributeArray::String(vec!["a".into(), "b".into()])),
    );
    producer.events.push(event);
    let mut second = TraceChunk::new(vec![producer]);
    second.priority = Some(SamplingPriority::AUTO_REJECT);
    second.tags.insert("_dd.p.dm", "-1".into());

    let mut plain = Span::new(TraceId::from_parts(0, 0x99), id(31), "worker.job");
    plain.service = "worker".into();
    plain.resource = "nightly".into();
    plain.start = 1_700_000_000_003_000_000;
    plain.duration = 42;
    let third = TraceChunk::new(vec![plain]);
    vec![first, second, third]
}

fn find(traces: &[Vec<ReceivedSpan>], span_id: u64) -> &ReceivedSpan {
    traces
        .iter()
        .flatten()
        .find(|s| s.span_id == span_id)
        .unwrap_or_else(|| panic!("span {span_id} not received: {traces:?}"))
}

fn deliver(format: Format) -> (TestAgent, Vec<Vec<ReceivedSpan>>) {
    let agent = TestAgent::start().expect("the test agent");
    let mut encoder = PayloadEncoder::new(
        format,
        EncodeOptions {
            native_span_events: true,
        },
    );
    for chunk in chunks() {
        encoder.push(&chunk);
    }
    let count = encoder.chunk_count().to_string();
    let body = encoder.finish().to_vec();
    let answer = agent
        .request(
            "PUT",
            format.path(),
            &[
                ("Content-Type", "application/msgpack"),
                ("X-Datadog-Trace-Count", &count),
                ("Datadog-Meta-Lang", "rust"),
                ("Datadog-Meta-Tracer-Version", "0.1.0"),
            ],
            &body,
        )
        .expect("request");
    assert_eq!(answer.status, 200, "{answer:?}");
    let traces = agent
        .wait_for_traces(3, Duration::from_secs(10))
        .expect("traces");
    let failures = agent.trace_check_failures().expect("failures");
    assert!(failures.is_empty(), "{failures:?}");
    (agent, traces)
}

/// Fields common to both formats.
fn check_common(traces: &[Vec<ReceivedSpan>]) {
    assert_eq!(traces.len(), 3);
    let sent = chunks();
    for chunk in &sent {
        for (i, s) in chunk.spans.iter().enumerate() {
            let got = find(traces, s.span_id.get());
            assert_eq!(got.trace_id, s.trace_id.low());
            assert_eq!(got.parent_id, s.parent_id.map_or(0, SpanId::get));
            assert_eq!(
                (
                    got.name.as_str(),
                    got.service.as_str(),
                    got.resource.as_str()
                ),
                (s.name.as_str(), s.service.as_str(), s.resource.as_str())
            );
            assert_eq!(got.span_type, s.span_type.as_str());
            assert_eq!((got.start, got.duration), (s.start, s.duration));
            assert_eq!(got.error, i32::from(s.error));
            for (k, v) in s.meta.iter() {
                assert_eq!(
                    got.meta.get(k.as_str()).map(String::as_str),
                    Some(v.as_str()),
                    "{k}"
                );
            }
            for (k, v) in s.metrics.iter() {
                assert_eq!(got.metrics.get(k.as_str()), Some(v), "{k}");
            }
            if i == 0 {
                if let Some(p) = chunk.priority {
                    assert_eq!(
                        got.metrics.get("_sampling_priority_v1"),
                        Some(&f64::from(p.get()))
                    );
                }
                for (k, v) in chunk.tags.iter() {
                    assert_eq!(
                        got.meta.get(k.as_str()).map(String::as_str),
                        Some(v.as_str())
                    );
                }
                if s.trace_id.high() != 0 {
                    let tid = format!("{:016x}", s.trace_id.high());
                    assert_eq!(got.meta.get("_dd.p.tid"), Some(&tid));
                }
            }
            if let Some(origin) = &chunk.origin {
                assert_eq!(
                    got.meta.get("_dd.origin").map(String::as_str),
                    Some(origin.as_str())
                );
            }
        }
    }
}

#[test]
fn v04_payload_arrives_with_every_field_including_native_links_and_events() {
    let (_agent, traces) = deliver(Format::V04);
    check_common(&traces);
    let producer = find(&traces, 21);
    let links = producer.other.get("span_links").expect("native span_links");
    let link = &links[0];
    assert_eq!(link["trace_id"], 0xa3ce_929d_0e0e_4736_u64);
    assert_eq!(link["trace_id_high"], 0x6650_f1a2_0000_0000_u64);
    assert_eq!(link["span_id"], 11);
    assert_eq!(link["flags"], 0x8000_0001_u64);
    assert_eq!(link["tracestate"], "dd=s:2;o:synthetics,foo=bar");
    assert_eq!(link["attributes"]["reason"], "follows");
    let events = producer
        .other
        .get("span_events")
        .expect("native span_events");
    let event = &events[0];
    assert_eq!(event["name"], "exception");
    assert_eq!(event["time_unix_nano"], 1_700_000_000_002_100_000_u64);
    let attrs = &event["attributes"];
    assert_eq!(attrs["exception.message"]["string_value"], "boom");
    assert_eq!(attrs["exception.escaped"]["bool_value"], false);
    assert_eq!(attrs["attempt"]["int_value"], 2);
    assert_eq!(attrs["weight"]["double_value"], 0.5);
    let values = &attrs["keys"]["array_value"]["values"];
    assert_eq!(values[1]["string_value"], "b");
}

#[test]
fn v05_payload_arrives_with_every_field_and_the_json_fallbacks() {
    let (_agent, traces) = deliver(Format::V05);
    check_common(&traces);
    let producer = find(&traces, 21);
    let links: Value =
        serde_json::from_str(producer.meta.get("_dd.span_links").expect("links meta")).unwrap();
    assert_eq!(links[0]["trace_id"], "6650f1a200000000a3ce929d0e0e4736");
    assert_eq!(links[0]["span_id"], "000000000000000b");
    assert_eq!(links[0]["flags"], 1);
    assert_eq!(links[0]["attributes"]["reason"], "follows");
    let events: Value =
        serde_json::from_str(producer.meta.get("events").expect("events meta")).unwrap();
    assert_eq!(events[0]["name"], "exception");
    assert_eq!(events[0]["attributes"]["attempt"], 2);
    assert_eq!(events[0]["attributes"]["weight"], 0.5);
    assert_eq!(events[0]["attributes"]["keys"][0], "a");
}
