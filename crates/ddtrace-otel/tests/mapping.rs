//! One test per rule of `otel-mapping.md` (§2–§8, §10), through the public API and the
//! in-memory exporter.

use std::time::{Duration, UNIX_EPOCH};

use ddtrace_model::{AttributeArray, AttributeValue};
use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry::{Array, KeyValue, Value};

use crate::common::{meta, metric, provider, provider_with, single_span};

/// Starts a span of `kind` with `attrs`, ends it, and returns the Datadog span.
fn map(kind: SpanKind, attrs: Vec<KeyValue>) -> ddtrace_model::Span {
    let (provider, exporter) = provider();
    let tracer = provider.tracer("t");
    let mut span = tracer
        .span_builder("otel_span_name")
        .with_kind(kind)
        .with_attributes(attrs)
        .start(&tracer);
    span.end();
    single_span(&exporter).1
}

#[test]
fn operation_name_one_case_per_rule() {
    use SpanKind::*;
    let kv = |k: &'static str, v: &'static str| KeyValue::new(k, v);
    let cases: Vec<(&str, SpanKind, Vec<KeyValue>, &str)> = vec![
        (
            "1 operation.name",
            Server,
            vec![
                kv("operation.name", "Custom.Op"),
                kv("http.request.method", "GET"),
            ],
            "Custom.Op",
        ),
        (
            "2 http server",
            Server,
            vec![kv("http.request.method", "GET")],
            "http.server.request",
        ),
        (
            "2 http server (old)",
            Server,
            vec![kv("http.method", "GET")],
            "http.server.request",
        ),
        (
            "3 http client",
            Client,
            vec![kv("http.request.method", "GET")],
            "http.client.request",
        ),
        (
            "4 db client",
            Client,
            vec![kv("db.system", "Redis")],
            "redis.query",
        ),
        (
            "4 db client (db.system.name)",
            Client,
            vec![kv("db.system.name", "postgresql")],
            "postgresql.query",
        ),
        (
            "5 messaging",
            Consumer,
            vec![
                kv("messaging.system", "Kafka"),
                kv("messaging.operation", "Receive"),
            ],
            "kafka.receive",
        ),
        (
            "5 messaging (operation.type)",
            Producer,
            vec![
                kv("messaging.system", "kafka"),
                kv("messaging.operation.type", "send"),
            ],
            "kafka.send",
        ),
        (
            "6 aws with service",
            Client,
            vec![kv("rpc.system", "aws-api"), kv("rpc.service", "S3")],
            "aws.s3.request",
        ),
        (
            "6 aws without service",
            Client,
            vec![kv("rpc.system", "aws-api")],
            "aws.client.request",
        ),
        (
            "7 rpc client",
            Client,
            vec![kv("rpc.system", "grpc")],
            "grpc.client.request",
        ),
        (
            "8 rpc server",
            Server,
            vec![kv("rpc.system", "GRPC")],
            "grpc.server.request",
        ),
        (
            "9 faas client",
            Client,
            vec![
                kv("faas.invoked_provider", "aws"),
                kv("faas.invoked_name", "My-Function"),
            ],
            "aws.my-function.invoke",
        ),
        (
            "10 faas server",
            Server,
            vec![kv("faas.trigger", "Datasource")],
            "datasource.invoke",
        ),
        (
            "11 graphql",
            Internal,
            vec![kv("graphql.operation.type", "query")],
            "graphql.server.request",
        ),
        (
            "12 server with protocol",
            Server,
            vec![kv("network.protocol.name", "Amqp")],
            "amqp.server.request",
        ),
        ("12 server", Server, vec![], "server.request"),
        (
            "13 client with protocol",
            Client,
            vec![kv("network.protocol.name", "amqp")],
            "amqp.client.request",
        ),
        ("13 client", Client, vec![], "client.request"),
        ("14 internal", Internal, vec![], "internal"),
        (
            "14 producer (no http rule)",
            Producer,
            vec![kv("http.request.method", "GET")],
            "producer",
        ),
        ("14 consumer", Consumer, vec![], "consumer"),
        (
            "5 not for internal",
            Internal,
            vec![
                kv("messaging.system", "kafka"),
                kv("messaging.operation", "process"),
            ],
            "internal",
        ),
        (
            "4 not for server",
            Server,
            vec![kv("db.system", "redis")],
            "server.request",
        ),
    ];
    for (rule, kind, attrs, want) in cases {
        assert_eq!(map(kind, attrs).name, want, "rule {rule}");
    }
}

#[test]
fn operation_name_uses_attributes_set_after_start() {
    let (provider, exporter) = provider();
    let tracer = provider.tracer("t");
    let mut span = tracer
        .span_builder("n")
        .with_kind(SpanKind::Server)
        .start(&tracer);
    span.set_attribute(KeyValue::new("http.request.method", "GET"));
    span.end();
    assert_eq!(single_span(&exporter).1.name, "http.server.request");
}

#[test]
fn resource_is_the_span_name_unless_resource_name_is_set() {
    let s = map(
        SpanKind::Server,
        vec![KeyValue::new("http.request.method", "GET")],
    );
    assert_eq!(s.resource, "otel_span_name");
    let s = map(
        SpanKind::Server,
        vec![KeyValue::new("resource.name", "GET /users/{id}")],
    );
    assert_eq!(s.resource, "GET /users/{id}");
    assert!(meta(&s, "resource.name").is_none());
}

#[test]
fn update_name_changes_the_resource_and_is_ignored_after_end() {
    let (provider, exporter) = provider();
    let tracer = provider.tracer("t");
    let mut span = tracer
        .span_builder("first")
        .with_kind(SpanKind::Server)
        .start(&tracer);
    span.update_name("GET /users");
    span.end();
    span.update_name("too late");
    let s = single_span(&exporter).1;
    assert_eq!(
        (s.name.as_str(), s.resource.as_str()),
        ("server.request", "GET /users")
    );
}

#[test]
fn service_name_attribute_sets_service_and_source() {
    let s = map(
        SpanKind::Internal,
        vec![KeyValue::new("service.name", "other-service")],
    );
    assert_eq!(s.service, "other-service");
    assert_eq!(meta(&s, "_dd.svc_src"), Some("m"));
    assert_eq!(meta(&s, "_dd.base_service"), Some("test-svc"));
    assert!(meta(&s, "service.name").is_none());
    let s = map(SpanKind::Internal, vec![]);
    assert_eq!(s.service, "test-svc");
    assert!(meta(&s, "_dd.svc_src").is_none() && meta(&s, "_dd.base_service").is_none());
}

#[test]
fn span_type_attribute_and_type_by_kind() {
    let s = map(SpanKind::Client, vec![KeyValue::new("span.type", "cache")]);
    assert_eq!(s.span_type, "cache");
    assert!(meta(&s, "span.type").is_none());
    for (kind, attrs, want) in [
        (SpanKind::Server, vec![], "web"),
        (
            SpanKind::Client,
            vec![KeyValue::new("db.system", "postgresql")],
            "sql",
        ),
        (
            SpanKind::Client,
            vec![KeyValue::new("db.system", "redis")],
            "redis",
        ),
        (
            SpanKind::Client,
            vec![KeyValue::new("db.system", "couchdb")],
            "db",
        ),
        (SpanKind::Client, vec![], "http"),
        (SpanKind::Internal, vec![], "custom"),
        (SpanKind::Consumer, vec![], "custom"),
    ] {
        assert_eq!(map(kind.clone(), attrs).span_type, want, "{kind:?}");
    }
}

#[test]
fn analytics_event_follows_parse_bool() {
    let cases: Vec<(Value, Option<f64>)> = vec![
        (Value::Bool(true), Some(1.0)),
        (Value::Bool(false), Some(0.0)),
        ("TRUE".into(), Some(1.0)),
        ("t".into(), Some(1.0)),
        ("1".into(), Some(1.0)),
        ("False".into(), Some(0.0)),
        ("0".into(), Some(0.0)),
        ("trUe".into(), None),
        ("yes".into(), None),
        (Value::I64(1), Some(1.0)),
    ];
    for (value, want) in cases {
        let s = map(
            SpanKind::Internal,
            vec![KeyValue::new("analytics.event", value.clone())],
        );
        assert_eq!(metric(&s, "_dd1.sr.eausr"), want, "{value:?}");
        assert!(meta(&s, "analytics.event").is_none() && metric(&s, "analytics.event").is_none());
    }
}

#[test]
fn http_status_codes_become_string_meta() {
    let s = map(
        SpanKind::Server,
        vec![KeyValue::new("http.response.status_code", 200)],
    );
    assert_eq!(meta(&s, "http.status_code"), Some("200"));
    assert!(meta(&s, "http.response.status_code").is_none());
    assert!(metric(&s, "http.response.status_code").is_none());
    let s = map(
        SpanKind::Client,
        vec![KeyValue::new("http.response.status_code", "404")],
    );
    assert_eq!(meta(&s, "http.status_code"), Some("404"));
    let s = map(
        SpanKind::Server,
        vec![KeyValue::new("http.status_code", 503)],
    );
    assert_eq!(meta(&s, "http.status_code"), Some("503"));
    assert!(metric(&s, "http.status_code").is_none());
}

#[test]
fn measured_and_error_attributes() {
    let s = map(SpanKind::Internal, vec![KeyValue::new("_dd.measured", 1)]);
    assert_eq!(metric(&s, "_dd.measured"), Some(1.0));
    let s = map(SpanKind::Internal, vec![KeyValue::new("error", true)]);
    assert!(s.error);
    assert!(metric(&s, "error").is_none() && meta(&s, "error").is_none());
    assert!(!map(SpanKind::Internal, vec![KeyValue::new("error", false)]).error);
}

#[test]
fn span_kind_meta_on_every_span() {
    for (kind, name) in [
        (SpanKind::Server, "server"),
        (SpanKind::Client, "client"),
        (SpanKind::Producer, "producer"),
        (SpanKind::Consumer, "consumer"),
        (SpanKind::Internal, "internal"),
    ] {
        assert_eq!(meta(&map(kind, vec![]), "span.kind"), Some(name));
    }
}

#[test]
fn attribute_types_go_to_meta_or_metrics_and_arrays_flatten() {
    let s = map(
        SpanKind::Internal,
        vec![
            KeyValue::new("str_val", "val"),
            KeyValue::new("empty", ""),
            KeyValue::new("bool_val", true),
            KeyValue::new("int_val", 1),
            KeyValue::new("double_val", 4.2),
            KeyValue::new(
                "array_val_str",
                Value::Array(Array::String(vec!["val1".into(), "val2".into()])),
            ),
            KeyValue::new("array_val_int", Value::Array(Array::I64(vec![10, 20]))),
            KeyValue::new(
                "array_val_bool",
                Value::Array(Array::Bool(vec![true, false])),
            ),
            KeyValue::new("array_val_double", Value::Array(Array::F64(vec![1.5]))),
            KeyValue::new("empty_array", Value::Array(Array::I64(vec![]))),
            KeyValue::new("clé", "välue ✓"),
        ],
    );
    for (k, v) in [
        ("str_val", "val"),
        ("empty", ""),
        ("bool_val", "true"),
        ("array_val_str.0", "val1"),
        ("array_val_str.1", "val2"),
        ("array_val_bool.0", "true"),
        ("array_val_bool.1", "false"),
        ("clé", "välue ✓"),
    ] {
        assert_eq!(meta(&s, k), Some(v), "{k}");
    }
    for (k, v) in [
        ("int_val", 1.0),
        ("double_val", 4.2),
        ("array_val_int.0", 10.0),
        ("array_val_int.1", 20.0),
        ("array_val_double.0", 1.5),
    ] {
        assert_eq!(metric(&s, k), Some(v), "{k}");
    }
    assert!(
        s.meta
            .keys()
            .chain(s.metrics.keys())
            .all(|k| !k.starts_with("empty_array"))
    );
}

#[test]
fn a_later_write_replaces_and_moves_between_maps() {
    let (provider, exporter) = provider();
    let mut span = provider.tracer("t").start("n");
    span.set_attribute(KeyValue::new("k", "text"));
    span.set_attribute(KeyValue::new("k", 7));
    span.set_attribute(KeyValue::new("j", 7));
    span.set_attribute(KeyValue::new("j", "text"));
    span.end();
    let s = single_span(&exporter).1;
    assert_eq!((meta(&s, "k"), metric(&s, "k")), (None, Some(7.0)));
    assert_eq!((meta(&s, "j"), metric(&s, "j")), (Some("text"), None));
}

fn with_status(statuses: Vec<Status>, attrs: Vec<KeyValue>) -> ddtrace_model::Span {
    let (provider, exporter) = provider();
    let mut span = provider.tracer("t").start("n");
    for kv in attrs {
        span.set_attribute(kv);
    }
    for s in statuses {
        span.set_status(s);
    }
    span.end();
    single_span(&exporter).1
}

#[test]
fn status_error_sets_error_and_message() {
    let s = with_status(vec![Status::error("error_desc")], vec![]);
    assert!(s.error);
    assert_eq!(meta(&s, "error.message"), Some("error_desc"));
    let s = with_status(vec![Status::error("")], vec![]);
    assert!(s.error && meta(&s, "error.message").is_none());
}

#[test]
fn status_error_without_description_falls_back_to_the_http_status() {
    let s = with_status(
        vec![Status::error("")],
        vec![
            KeyValue::new("http.response.status_code", 503),
            KeyValue::new("http.status_text", "Service Unavailable"),
        ],
    );
    assert_eq!(meta(&s, "error.message"), Some("503 Service Unavailable"));
}

#[test]
fn status_ok_is_final_and_unset_never_overrides() {
    let s = with_status(vec![Status::error("bad"), Status::Ok], vec![]);
    assert!(!s.error && meta(&s, "error.message").is_none());
    let s = with_status(vec![Status::Ok, Status::error("bad")], vec![]);
    assert!(!s.error && meta(&s, "error.message").is_none());
    let s = with_status(vec![Status::error("bad"), Status::Unset], vec![]);
    assert!(s.error);
    assert_eq!(meta(&s, "error.message"), Some("bad"));
    let s = with_status(
        vec![Status::error("first"), Status::error("second")],
        vec![],
    );
    assert_eq!(meta(&s, "error.message"), Some("second"));
}

#[derive(Debug)]
struct ParseFailure;

impl std::fmt::Display for ParseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bad input")
    }
}

impl std::error::Error for ParseFailure {}

#[test]
fn record_error_adds_an_exception_event_without_error() {
    let (provider, exporter) = provider();
    let mut span = provider.tracer("t").start("n");
    span.record_error(&ParseFailure);
    span.end();
    let s = single_span(&exporter).1;
    assert!(!s.error);
    assert!(meta(&s, "error.message").is_none());
    assert_eq!(meta(&s, "_dd.span_events.has_exception"), Some("true"));
    let e = &s.events[0];
    assert_eq!(e.name, "exception");
    assert_eq!(
        e.attributes.get("exception.type"),
        Some(&AttributeValue::from("ParseFailure"))
    );
    assert_eq!(
        e.attributes.get("exception.message"),
        Some(&AttributeValue::from("bad input"))
    );
    assert_eq!(
        e.attributes.get("exception.escaped"),
        Some(&AttributeValue::Bool(false))
    );
}

#[test]
fn error_status_takes_error_tags_from_the_last_exception_events() {
    // otel-mapping.md §7.2 worked example.
    let (provider, exporter) = provider();
    let mut span = provider.tracer("t").start("n");
    span.set_status(Status::error("error_desc"));
    span.add_event(
        "exception",
        vec![
            KeyValue::new("exception.message", "woof1"),
            KeyValue::new("exception.stacktrace", "stacktrace1"),
            KeyValue::new("exception.type", "panic"),
        ],
    );
    span.add_event(
        "non_exception_event",
        vec![KeyValue::new("exception.message", "woof2")],
    );
    span.add_event(
        "Exception",
        vec![
            KeyValue::new("exception.message", "message override"),
            KeyValue::new("exception.type", "panic"),
        ],
    );
    span.end();
    let s = single_span(&exporter).1;
    assert!(s.error);
    assert_eq!(meta(&s, "error.message"), Some("message override"));
    assert_eq!(meta(&s, "error.type"), Some("panic"));
    assert_eq!(meta(&s, "error.stack"), Some("stacktrace1"));
    assert_eq!(s.events.len(), 3);
}

#[test]
fn events_keep_order_times_and_typed_attributes() {
    let (provider, exporter) = provider();
    let mut span = provider.tracer("t").start("n");
    let t = |ns| UNIX_EPOCH + Duration::from_nanos(ns);
    span.add_event_with_timestamp(
        "e0",
        t(300),
        vec![KeyValue::new("s", "x"), KeyValue::new("b", true)],
    );
    span.add_event_with_timestamp(
        "e1",
        t(100),
        vec![
            KeyValue::new("i", 2),
            KeyValue::new("f", 0.5),
            KeyValue::new("ai", Value::Array(Array::I64(vec![1, 2]))),
        ],
    );
    span.add_event("now", vec![]);
    span.end();
    span.add_event("late", vec![]);
    let s = single_span(&exporter).1;
    let names: Vec<&str> = s.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["e0", "e1", "now"]);
    assert_eq!(
        (s.events[0].time_unix_nano, s.events[1].time_unix_nano),
        (300, 100)
    );
    assert!(s.events[2].time_unix_nano > 1_600_000_000_000_000_000);
    assert_eq!(
        s.events[0].attributes.get("b"),
        Some(&AttributeValue::Bool(true))
    );
    assert_eq!(
        s.events[1].attributes.get("f"),
        Some(&AttributeValue::Double(0.5))
    );
    assert_eq!(
        s.events[1].attributes.get("ai"),
        Some(&AttributeValue::Array(AttributeArray::Int(vec![1, 2])))
    );
    assert!(meta(&s, "_dd.span_events.has_exception").is_none());
}

fn remote(trace: &str, span: &str, flags: u8, state: &str) -> SpanContext {
    SpanContext::new(
        TraceId::from_hex(trace).unwrap(),
        SpanId::from_hex(span).unwrap(),
        TraceFlags::new(flags),
        true,
        state.parse::<TraceState>().unwrap(),
    )
}

#[test]
fn links_carry_ids_tracestate_flags_and_flat_attributes() {
    let (provider, exporter) = provider();
    let tracer = provider.tracer("t");
    let mut span = tracer
        .span_builder("n")
        .with_links(vec![
            Link::new(
                remote(
                    "640cfd8d00000000a3ce929d0e0e4736",
                    "00f067aa0ba902b7",
                    1,
                    "dd=s:2;o:rum,foo=bar",
                ),
                vec![
                    KeyValue::new("reason", "batch"),
                    KeyValue::new("n", 3),
                    KeyValue::new("ok", true),
                    KeyValue::new("nums", Value::Array(Array::I64(vec![1, 2]))),
                ],
                0,
            ),
            Link::new(SpanContext::empty_context(), vec![], 0),
        ])
        .start(&tracer);
    span.add_link(
        remote(
            "0000000000000000000000000000abcd",
            "0000000000001234",
            0,
            "",
        ),
        vec![],
    );
    span.add_link(SpanContext::empty_context(), vec![]);
    span.end();
    span.add_link(
        remote(
            "0000000000000000000000000000abcd",
            "0000000000001234",
            0,
            "",
        ),
        vec![],
    );
    let s = single_span(&exporter).1;
    assert_eq!(s.links.len(), 2, "{:?}", s.links);
    let l = &s.links[0];
    assert_eq!(
        (l.trace_id.high(), l.trace_id.low()),
        (0x640cfd8d00000000, 0xa3ce929d0e0e4736)
    );
    assert_eq!(l.span_id.get(), 0x00f067aa0ba902b7);
    assert_eq!(l.tracestate, "dd=s:2;o:rum,foo=bar");
    assert_eq!(l.flags, Some(1));
    let attrs: Vec<(&str, &str)> = l
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        attrs,
        [
            ("reason", "batch"),
            ("n", "3"),
            ("ok", "true"),
            ("nums.0", "1"),
            ("nums.1", "2")
        ]
    );
    assert_eq!(
        (s.links[1].trace_id.low(), s.links[1].flags),
        (0xabcd, Some(0))
    );
    assert_eq!(s.links[1].tracestate, "");
}

#[test]
fn a_link_to_a_local_span_carries_its_dd_tracestate() {
    let (provider, exporter) = provider();
    let tracer = provider.tracer("t");
    let mut a = tracer.start("a");
    let a_cx = a.span_context().clone();
    a.end();
    let mut b = tracer
        .span_builder("b")
        .with_links(vec![Link::new(a_cx.clone(), vec![], 0)])
        .start(&tracer);
    b.end();
    let chunks = exporter.take_chunks();
    let link = &chunks[1].spans[0].links[0];
    assert_eq!(
        link.span_id.get(),
        u64::from_be_bytes(a_cx.span_id().to_bytes())
    );
    assert!(
        link.tracestate
            .starts_with(&format!("dd=s:1;p:{};t.dm:-0;t.tid:", a_cx.span_id())),
        "{}",
        link.tracestate
    );
    assert_eq!(link.flags, Some(1));
}

#[test]
fn env_version_and_global_tags() {
    let (provider, exporter) = provider_with(|b| {
        b.with_env("prod")
            .with_version("1.2")
            .with_global_tag("team", "a")
    });
    let tracer = provider.tracer("t");
    let mut root = tracer.start("root");
    let cx = opentelemetry::Context::new().with_remote_span_context(root.span_context().clone());
    let mut other = tracer
        .span_builder("other")
        .with_attributes([KeyValue::new("service.name", "db-client")])
        .start_with_context(&tracer, &cx);
    other.end();
    root.end();
    let chunk = &exporter.take_chunks()[0];
    let (root, other) = (&chunk.spans[0], &chunk.spans[1]);
    for s in [root, other] {
        assert_eq!(meta(s, "env"), Some("prod"));
        assert_eq!(meta(s, "team"), Some("a"));
    }
    assert_eq!(meta(root, "version"), Some("1.2"));
    assert_eq!(meta(other, "version"), None);
    assert_eq!(metric(other, "_dd.top_level"), Some(1.0));
}

use opentelemetry::trace::TraceContextExt as _;

#[test]
fn resource_attributes_fill_service_env_version_and_tags() {
    let exporter2 = ddtrace_otel::InMemoryExporter::new();
    let provider2 = ddtrace_otel::TracerProvider::builder()
        .with_resource_attributes([
            KeyValue::new("service.name", "otel_service"),
            KeyValue::new("deployment.environment", "test1"),
            KeyValue::new("service.version", "5"),
            KeyValue::new("foo", "bar1"),
        ])
        .with_exporter(exporter2.clone())
        .build()
        .unwrap();
    provider2.tracer("t").start("n").end();
    let s = single_span(&exporter2).1;
    assert_eq!(s.service, "otel_service");
    assert_eq!(meta(&s, "env"), Some("test1"));
    assert_eq!(meta(&s, "version"), Some("5"));
    assert_eq!(meta(&s, "foo"), Some("bar1"));
    assert!(meta(&s, "service.name").is_none() && meta(&s, "deployment.environment").is_none());

    // The SDK's default service name does not count; the default service applies.
    let exporter3 = ddtrace_otel::InMemoryExporter::new();
    let provider3 = ddtrace_otel::TracerProvider::builder()
        .with_resource_attributes([KeyValue::new("service.name", "unknown_service:app")])
        .with_exporter(exporter3.clone())
        .build()
        .unwrap();
    provider3.tracer("t").start("n").end();
    assert_eq!(
        single_span(&exporter3).1.service,
        ddtrace_otel::DEFAULT_SERVICE
    );
}

#[test]
fn a_span_with_thousands_of_attributes_is_kept_whole() {
    let (provider, exporter) = provider();
    let mut span = provider.tracer("t").start("n");
    for i in 0..5000 {
        span.set_attribute(KeyValue::new(format!("k{i}"), i as i64));
    }
    span.end();
    let s = single_span(&exporter).1;
    assert_eq!(metric(&s, "k4999"), Some(4999.0));
    assert!(s.metrics.len() >= 5000);
}
