//! `DatadogPropagator`: extraction into the OTel `Context`, injection from local spans and
//! remote contexts, baggage, and use through the OTel globals.

use std::collections::HashMap;

use ddtrace_model::SamplingPriority;
use ddtrace_propagation::{ExtractBehavior, PropagationConfig, Style};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};

use crate::common::{meta, provider, provider_with, single_span};

fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn extracted_datadog_context_parents_a_span_and_injection_continues_it() {
    let (provider, exporter) = provider();
    let propagator = provider.propagator();
    let parent = propagator.extract(&headers(&[
        ("x-datadog-trace-id", "123456789"),
        ("x-datadog-parent-id", "987654321"),
        ("x-datadog-sampling-priority", "2"),
        ("x-datadog-origin", "synthetics"),
        ("x-datadog-tags", "_dd.p.dm=-4,_dd.p.usr.id=baz64=="),
    ]));
    let remote = parent.span().span_context().clone();
    assert!(remote.is_remote() && remote.is_sampled());
    let span = provider.tracer("t").start_with_context("request", &parent);
    let span_id = span.span_context().span_id();
    let cx = parent.with_span(span);

    let mut out = HashMap::new();
    propagator.inject_context(&cx, &mut out);
    assert_eq!(out["x-datadog-trace-id"], "123456789");
    assert_eq!(
        out["x-datadog-parent-id"],
        u64::from_be_bytes(span_id.to_bytes()).to_string()
    );
    assert_eq!(out["x-datadog-sampling-priority"], "2");
    assert_eq!(out["x-datadog-origin"], "synthetics");
    assert_eq!(out["x-datadog-tags"], "_dd.p.dm=-4,_dd.p.usr.id=baz64==");
    assert_eq!(
        out["traceparent"],
        format!("00-000000000000000000000000075bcd15-{span_id}-01")
    );
    assert_eq!(
        out["tracestate"],
        format!("dd=s:2;o:synthetics;p:{span_id};t.dm:-4;t.usr.id:baz64~~")
    );
    drop(cx);
    let (chunk, s) = single_span(&exporter);
    assert_eq!(s.parent_id.map(|p| p.get()), Some(987654321));
    assert_eq!(chunk.priority, Some(SamplingPriority::USER_KEEP));
    assert_eq!(chunk.origin.as_deref(), Some("synthetics"));
}

#[test]
fn injection_locks_the_decision() {
    let (provider, exporter) = provider();
    let propagator = provider.propagator();
    let tracer = provider.tracer("t");
    let cx = Context::new().with_span(tracer.start("root"));
    let mut out = HashMap::new();
    propagator.inject_context(&cx, &mut out);
    assert_eq!(out["x-datadog-sampling-priority"], "1");
    cx.span().set_attribute(KeyValue::new("manual.drop", true));
    let mut again = HashMap::new();
    propagator.inject_context(&cx, &mut again);
    assert_eq!(
        again["x-datadog-sampling-priority"], "1",
        "locked at the first injection"
    );
    cx.span().end();
    drop(cx);
    let (chunk, _) = single_span(&exporter);
    assert_eq!(chunk.priority, Some(SamplingPriority::AUTO_KEEP));
}

#[test]
fn manual_keep_before_injection_is_propagated() {
    let (provider, _exporter) = provider();
    let propagator = provider.propagator();
    let cx = Context::new().with_span(provider.tracer("t").start("root"));
    cx.span().set_attribute(KeyValue::new("manual.keep", true));
    let mut out = HashMap::new();
    propagator.inject_context(&cx, &mut out);
    assert_eq!(out["x-datadog-sampling-priority"], "2");
    assert!(out["x-datadog-tags"].contains("_dd.p.dm=-4"));
}

#[test]
fn tracecontext_keeps_other_vendors_and_forwards_remote_contexts() {
    let (provider, exporter) = provider_with(|b| {
        b.with_propagation(PropagationConfig::default().with_styles([Style::TraceContext]))
    });
    let propagator = provider.propagator();
    let incoming = headers(&[
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "dd=s:2;o:rum;t.dm:-4,congo=t61rcWkgMzE"),
    ]);
    let parent = propagator.extract(&incoming);
    // Forwarding the remote context as it is.
    let mut forwarded = HashMap::new();
    propagator.inject_context(&parent, &mut forwarded);
    assert_eq!(forwarded["traceparent"], incoming["traceparent"]);
    assert!(
        forwarded["tracestate"].ends_with(",congo=t61rcWkgMzE"),
        "{}",
        forwarded["tracestate"]
    );
    assert_eq!(
        propagator.fields().collect::<Vec<_>>(),
        ["traceparent", "tracestate"]
    );

    let span = provider.tracer("t").start_with_context("child", &parent);
    let cx = parent.with_span(span);
    let mut out = HashMap::new();
    propagator.inject_context(&cx, &mut out);
    assert!(out["traceparent"].starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert!(out["tracestate"].starts_with("dd=s:2;o:rum;p:"));
    assert!(out["tracestate"].ends_with(",congo=t61rcWkgMzE"));
    drop(cx);
    let (_, s) = single_span(&exporter);
    assert_eq!(s.parent_id.map(|p| p.get()), Some(0x00f067aa0ba902b7));
    assert_eq!(
        meta(&s, "_dd.p.tid"),
        None,
        "chunk-level, derived from the trace id"
    );
    assert_eq!(s.trace_id.high(), 0x4bf92f3577b34da6);
}

#[test]
fn baggage_travels_through_the_otel_context_and_tags_the_local_root() {
    let (provider, exporter) = provider();
    let propagator = provider.propagator();
    let parent = propagator.extract(&headers(&[
        ("x-datadog-trace-id", "1"),
        ("x-datadog-parent-id", "2"),
        ("baggage", "user.id=doggo,session.id=mysession,foo=bar"),
    ]));
    assert_eq!(
        parent.baggage().get("foo").map(|v| v.as_str().to_owned()),
        Some("bar".into())
    );
    let span = provider.tracer("t").start_with_context("root", &parent);
    let cx = parent
        .with_span(span)
        .with_baggage([KeyValue::new("added", "1")]);
    let mut out = HashMap::new();
    propagator.inject_context(&cx, &mut out);
    assert!(out["baggage"].contains("added=1"), "{}", out["baggage"]);
    drop(cx);
    let (_, s) = single_span(&exporter);
    assert_eq!(meta(&s, "baggage.user.id"), Some("doggo"));
    assert_eq!(meta(&s, "baggage.session.id"), Some("mysession"));
    assert_eq!(meta(&s, "baggage.foo"), None);

    // No span at all: only the baggage is injected.
    let mut out = HashMap::new();
    propagator.inject_context(
        &Context::new().with_baggage([KeyValue::new("k", "v")]),
        &mut out,
    );
    assert_eq!(out, headers(&[("baggage", "k=v")]));
}

#[test]
fn restart_starts_a_new_trace_linked_to_the_incoming_one() {
    let (provider, exporter) = provider_with(|b| {
        b.with_propagation(
            PropagationConfig::default().with_extract_behavior(ExtractBehavior::Restart),
        )
    });
    let parent = provider.propagator().extract(&headers(&[
        ("x-datadog-trace-id", "123456789"),
        ("x-datadog-parent-id", "987654321"),
        ("x-datadog-sampling-priority", "2"),
    ]));
    assert!(!parent.span().span_context().is_valid());
    provider
        .tracer("t")
        .start_with_context("root", &parent)
        .end();
    let (chunk, s) = single_span(&exporter);
    assert_eq!(s.parent_id, None);
    assert_ne!(s.trace_id.low(), 123456789);
    assert_eq!(
        chunk.priority,
        Some(SamplingPriority::AUTO_KEEP),
        "a fresh decision"
    );
    assert_eq!(s.links.len(), 1);
    assert_eq!(s.links[0].trace_id.low(), 123456789);
    assert_eq!(s.links[0].span_id.get(), 987654321);
    assert_eq!(
        s.links[0].attributes.get("reason").map(|v| v.as_str()),
        Some("propagation_behavior_extract")
    );
}

#[test]
fn works_through_the_otel_globals() {
    let (provider, exporter) = provider();
    opentelemetry::global::set_text_map_propagator(provider.propagator());
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&headers(&[
            ("x-datadog-trace-id", "42"),
            ("x-datadog-parent-id", "7"),
        ]))
    });
    let span = provider.tracer("t").start_with_context("s", &parent);
    let cx = parent.with_span(span);
    let mut out = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut out));
    assert_eq!(out["x-datadog-trace-id"], "42");
    drop(cx);
    assert_eq!(single_span(&exporter).1.parent_id.map(|p| p.get()), Some(7));
}

#[test]
fn nothing_to_extract_leaves_the_context_unchanged() {
    let (provider, _) = provider();
    let cx = provider
        .propagator()
        .extract(&headers(&[("x-datadog-trace-id", "not-a-number")]));
    assert!(!cx.has_active_span());
}
