//! Trace assembly end to end through the in-memory exporter: trees across threads, remote
//! parents, ids, sampling tags, partial flush, bounds, shutdown, concurrency.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ddtrace_model::{SamplingPriority, TraceChunk};
use ddtrace_otel::{PartialFlush, TracerProvider};
use ddtrace_sampling::{Sampler, SamplingConfig};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};

use crate::common::{meta, metric, provider, provider_with, single_span};

fn tag<'a>(chunk: &'a TraceChunk, key: &str) -> Option<&'a str> {
    chunk.tags.get(key).map(|v| v.as_str())
}

#[test]
fn a_tree_across_threads_is_one_chunk_with_the_root_first() {
    let (provider, exporter) = provider();
    let tracer = provider.tracer("t");
    let root = tracer
        .span_builder("request")
        .with_kind(SpanKind::Server)
        .start(&tracer);
    let root_cx = Context::new().with_span(root);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let tracer = tracer.clone();
            let cx = root_cx.clone();
            std::thread::spawn(move || {
                let child = tracer.start_with_context(format!("worker-{i}"), &cx);
                let child_cx = cx.with_span(child);
                let mut grandchild = tracer.start_with_context("db", &child_cx);
                grandchild.set_attribute(KeyValue::new("i", i as i64));
                grandchild.end();
                child_cx.span().end();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(exporter.chunks().is_empty(), "the root is still open");
    root_cx.span().end();
    let chunks = exporter.take_chunks();
    assert_eq!(chunks.len(), 1);
    let spans = &chunks[0].spans;
    assert_eq!(spans.len(), 9);
    let root = &spans[0];
    assert_eq!((root.resource.as_str(), root.parent_id), ("request", None));
    let ids: HashMap<_, _> = spans.iter().map(|s| (s.span_id, s)).collect();
    for s in &spans[1..] {
        assert_eq!(s.trace_id, root.trace_id);
        let parent = ids[&s.parent_id.unwrap()];
        if s.resource == "db" {
            assert!(parent.resource.starts_with("worker-"));
        } else {
            assert_eq!(parent.span_id, root.span_id);
        }
        assert_eq!(metric(s, "_dd.top_level"), None, "{}", s.resource);
    }
    assert_eq!(metric(root, "_dd.top_level"), Some(1.0));
    assert_eq!(metric(root, "_sampling_priority_v1"), Some(1.0));
    assert_eq!(meta(root, "language"), Some("rust"));
    assert!(meta(root, "runtime-id").is_some_and(|r| r.len() == 36));
    assert!(metric(root, "process_id").is_some());
    assert!(spans[1..].iter().all(|s| meta(s, "runtime-id").is_none()));
}

#[test]
fn children_of_another_service_are_top_level_and_inherit_it() {
    let (provider, exporter) = provider();
    let tracer = provider.tracer("t");
    let root = tracer.start("root");
    let cx = Context::new().with_span(root);
    let child = tracer
        .span_builder("child")
        .with_attributes([KeyValue::new("service.name", "svc-b")])
        .start_with_context(&tracer, &cx);
    let child_cx = cx.with_span(child);
    tracer.start_with_context("gc", &child_cx).end();
    child_cx.span().end();
    cx.span().end();
    let spans = &exporter.take_chunks()[0].spans;
    let by: HashMap<&str, _> = spans.iter().map(|s| (s.resource.as_str(), s)).collect();
    assert_eq!(by["child"].service, "svc-b");
    assert_eq!(metric(by["child"], "_dd.top_level"), Some(1.0));
    assert_eq!(by["gc"].service, "svc-b");
    assert_eq!(meta(by["gc"], "_dd.svc_src"), Some("m"));
    assert_eq!(metric(by["gc"], "_dd.top_level"), None);
}

#[test]
fn trace_ids_are_128_bit_by_default() {
    let (provider, exporter) = provider();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    provider.tracer("t").start("n").end();
    let (_, s) = single_span(&exporter);
    let seconds = s.trace_id.high() >> 32;
    assert!(
        seconds >= before && seconds <= before + 5,
        "{:x}",
        s.trace_id.high()
    );
    assert_eq!(s.trace_id.high() & 0xffff_ffff, 0);

    let (provider, exporter) = provider_with(|b| b.with_trace_id_128(false));
    provider.tracer("t").start("n").end();
    assert_eq!(single_span(&exporter).1.trace_id.high(), 0);
}

fn remote(trace: &str, span: &str, flags: u8, state: &str) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex(trace).unwrap(),
        SpanId::from_hex(span).unwrap(),
        TraceFlags::new(flags),
        true,
        state.parse::<TraceState>().unwrap(),
    ))
}

#[test]
fn a_remote_parent_gives_trace_id_parent_and_decision() {
    let (provider, exporter) = provider();
    let cx = remote(
        "640cfd8d00000000a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        1,
        "dd=s:2;o:rum;t.dm:-4;t.usr.id:baz64~~,foo=bar",
    );
    let span = provider.tracer("t").start_with_context("s", &cx);
    let sc = span.span_context().clone();
    assert!(sc.is_sampled() && !sc.is_remote());
    let state = sc.trace_state();
    assert_eq!(state.get("foo"), Some("bar"));
    let dd = state.get("dd").unwrap();
    assert!(
        dd.starts_with(&format!(
            "s:2;o:rum;p:{};t.dm:-4;t.usr.id:baz64~~",
            sc.span_id()
        )),
        "{dd}"
    );
    drop(span);
    let (chunk, s) = single_span(&exporter);
    assert_eq!(s.trace_id.low(), 11803532876627986230);
    assert_eq!(s.trace_id.high(), 0x640cfd8d00000000);
    assert_eq!(s.parent_id.map(|p| p.get()), Some(67667974448284343));
    assert_eq!(chunk.priority, Some(SamplingPriority::USER_KEEP));
    assert_eq!(chunk.origin.as_deref(), Some("rum"));
    assert_eq!(tag(&chunk, "_dd.p.dm"), Some("-4"));
    assert_eq!(tag(&chunk, "_dd.p.usr.id"), Some("baz64=="));
    assert_eq!(metric(&s, "_dd.top_level"), Some(1.0));

    // Unsampled, no tracestate: priority 0 and no decision maker (W3C reconciliation).
    let cx = remote(
        "0000000000000000000000000000abcd",
        "0000000000001234",
        0,
        "",
    );
    let span = provider.tracer("t").start_with_context("s", &cx);
    assert!(!span.span_context().is_sampled());
    drop(span);
    let (chunk, _) = single_span(&exporter);
    assert_eq!(chunk.priority, Some(SamplingPriority::AUTO_REJECT));
    assert_eq!(tag(&chunk, "_dd.p.dm"), None);
}

#[test]
fn span_context_reflects_the_decision() {
    let (provider, exporter) = provider();
    let tracer = provider.tracer("t");
    let root = tracer.start("root");
    let sc = root.span_context().clone();
    assert!(sc.is_sampled() && !sc.is_remote() && sc.is_valid());
    let dd = sc.trace_state().get("dd").unwrap().to_owned();
    assert_eq!(
        dd,
        format!(
            "s:1;p:{};t.dm:-0;t.tid:{:016x}",
            sc.span_id(),
            root.trace_id().high()
        )
    );
    let cx = Context::new().with_span(root);
    let child = tracer.start_with_context("c", &cx);
    assert_eq!(child.span_context().trace_id(), sc.trace_id());
    assert!(
        child
            .span_context()
            .trace_state()
            .get("dd")
            .unwrap()
            .contains(&format!("p:{}", child.span_context().span_id()))
    );
    drop(child);
    drop(cx);

    let dropped = tracer
        .span_builder("dropped")
        .with_attributes([KeyValue::new("manual.drop", true)])
        .start(&tracer);
    let sc = dropped.span_context().clone();
    assert!(!sc.is_sampled());
    assert!(sc.trace_state().get("dd").unwrap().starts_with("s:-1;"));
    drop(dropped);
    let chunks = exporter.take_chunks();
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[1].priority, Some(SamplingPriority::USER_REJECT));
    assert_eq!(tag(&chunks[1], "_dd.p.dm"), Some("-4"));
    assert!(chunks[1].spans[0].metrics.get("manual.drop").is_none());
}

#[test]
fn default_sampling_tags_on_the_chunk() {
    let (provider, exporter) = provider();
    provider.tracer("t").start("n").end();
    let (chunk, _) = single_span(&exporter);
    assert_eq!(chunk.priority, Some(SamplingPriority::AUTO_KEEP));
    assert_eq!(tag(&chunk, "_dd.p.dm"), Some("-0"));
    assert!(
        chunk.tags.get("_dd.p.tid").is_none(),
        "derived from the trace id by the encoder"
    );
}

fn sampler(env: &[(&str, &str)]) -> Arc<Sampler> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Arc::new(Sampler::new(&SamplingConfig::from_lookup(|k| {
        env.get(k).cloned()
    })))
}

#[test]
fn rule_sampling_at_root_start_sees_start_attributes() {
    let rules = r#"[{"service": "test-svc", "tags": {"tier": "gold"}, "sample_rate": 1}, {"sample_rate": 0}]"#;
    let (provider, exporter) =
        provider_with(|b| b.with_sampler(sampler(&[("DD_TRACE_SAMPLING_RULES", rules)])));
    let tracer = provider.tracer("t");
    let gold = tracer
        .span_builder("n")
        .with_attributes([KeyValue::new("tier", "gold")])
        .start(&tracer);
    assert!(gold.span_context().is_sampled());
    drop(gold);
    let plain = tracer.start("n");
    assert!(!plain.span_context().is_sampled());
    let cx = Context::new().with_span(plain);
    let child = tracer.start_with_context("child", &cx);
    assert!(
        !child.span_context().is_sampled(),
        "children inherit the decision"
    );
    drop(child);
    drop(cx);
    let chunks = exporter.take_chunks();
    assert_eq!(chunks[0].priority, Some(SamplingPriority::USER_KEEP));
    assert_eq!(tag(&chunks[0], "_dd.p.dm"), Some("-3"));
    assert_eq!(tag(&chunks[0], "_dd.p.ksr"), Some("1"));
    assert_eq!(metric(&chunks[0].spans[0], "_dd.rule_psr"), Some(1.0));
    assert_eq!(metric(&chunks[0].spans[0], "_dd.limit_psr"), Some(1.0));
    assert_eq!(chunks[1].priority, Some(SamplingPriority::USER_REJECT));
    assert_eq!(metric(&chunks[1].spans[0], "_dd.rule_psr"), Some(0.0));
    assert_eq!(chunks[1].spans.len(), 2, "dropped traces are still sent");
    assert!(
        metric(&chunks[1].spans[1], "_dd.rule_psr").is_none(),
        "root only"
    );
}

#[test]
fn span_sampling_keeps_spans_of_dropped_traces() {
    let (provider, exporter) = provider_with(|b| {
        b.with_sampler(sampler(&[
            ("DD_TRACE_SAMPLE_RATE", "0"),
            ("DD_SPAN_SAMPLING_RULES", r#"[{"name": "internal"}]"#),
        ]))
    });
    provider.tracer("t").start("n").end();
    let (chunk, s) = single_span(&exporter);
    assert_eq!(chunk.priority, Some(SamplingPriority::USER_REJECT));
    assert_eq!(metric(&s, "_dd.span_sampling.mechanism"), Some(8.0));
}

#[test]
fn manual_keep_from_any_span_decides_the_trace() {
    let (provider, exporter) =
        provider_with(|b| b.with_sampler(sampler(&[("DD_TRACE_SAMPLE_RATE", "0")])));
    let tracer = provider.tracer("t");
    let root = tracer.start("root");
    let cx = Context::new().with_span(root);
    let mut child = tracer.start_with_context("child", &cx);
    child.set_attribute(KeyValue::new("manual.keep", true));
    child.end();
    cx.span().end();
    drop(cx);
    let chunk = &exporter.take_chunks()[0];
    assert_eq!(chunk.priority, Some(SamplingPriority::USER_KEEP));
    assert_eq!(tag(chunk, "_dd.p.dm"), Some("-4"));
    assert_eq!(tag(chunk, "_dd.p.ksr"), None);
    assert_eq!(
        metric(&chunk.spans[0], "_dd.rule_psr"),
        Some(0.0),
        "rates recorded stay"
    );
    assert!(
        chunk
            .spans
            .iter()
            .all(|s| metric(s, "manual.keep").is_none())
    );
}

#[test]
fn partial_flush_sends_finished_children_before_the_root() {
    let (provider, exporter) =
        provider_with(|b| b.with_partial_flush(PartialFlush::Enabled { min_spans: 2 }));
    let tracer = provider.tracer("t");
    let root = tracer.start("root");
    let cx = Context::new().with_span(root);
    tracer.start_with_context("c1", &cx).end();
    assert!(
        exporter.chunks().is_empty(),
        "one finished span is below the threshold"
    );
    tracer.start_with_context("c2", &cx).end();
    let chunks = exporter.take_chunks();
    assert_eq!(chunks.len(), 1);
    let names: Vec<&str> = chunks[0]
        .spans
        .iter()
        .map(|s| s.resource.as_str())
        .collect();
    assert_eq!(names, ["c1", "c2"]);
    assert_eq!(chunks[0].priority, Some(SamplingPriority::AUTO_KEEP));
    assert_eq!(tag(&chunks[0], "_dd.p.dm"), Some("-0"));
    assert_eq!(meta(&chunks[0].spans[0], "language"), Some("rust"));
    tracer.start_with_context("c3", &cx).end();
    cx.span().end();
    drop(cx);
    let chunks = exporter.take_chunks();
    assert_eq!(chunks.len(), 1);
    let names: Vec<&str> = chunks[0]
        .spans
        .iter()
        .map(|s| s.resource.as_str())
        .collect();
    assert_eq!(names, ["root", "c3"]);
    assert_eq!(tag(&chunks[0], "_dd.p.dm"), Some("-0"));
    assert_eq!(provider.stats().partial_chunks, 1);
}

#[test]
fn late_children_are_sent_as_a_later_chunk_of_the_same_trace() {
    let (provider, exporter) = provider();
    let tracer = provider.tracer("t");
    let root = tracer.start("root");
    let cx = Context::new().with_span(root);
    cx.span().end();
    assert_eq!(exporter.chunks().len(), 1);
    tracer.start_with_context("late", &cx).end();
    let chunks = exporter.take_chunks();
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[1].spans[0].resource, "late");
    assert_eq!(
        chunks[1].spans[0].parent_id,
        Some(chunks[0].spans[0].span_id)
    );
    assert_eq!(chunks[1].priority, chunks[0].priority);
}

#[test]
fn a_dropped_span_is_ended_and_end_twice_keeps_the_first_end() {
    let (provider, exporter) = provider();
    let tracer = provider.tracer("t");
    drop(tracer.start("dropped"));
    assert_eq!(single_span(&exporter).1.resource, "dropped");
    let mut span = tracer
        .span_builder("twice")
        .with_start_time(std::time::UNIX_EPOCH + std::time::Duration::from_secs(10))
        .start(&tracer);
    span.end_with_timestamp(std::time::UNIX_EPOCH + std::time::Duration::from_secs(11));
    assert!(!span.is_recording());
    span.end_with_timestamp(std::time::UNIX_EPOCH + std::time::Duration::from_secs(20));
    let s = single_span(&exporter).1;
    assert_eq!((s.start, s.duration), (10_000_000_000, 1_000_000_000));
}

#[test]
fn a_never_ended_span_bounds_what_its_trace_buffers() {
    let (provider, exporter) = provider_with(|b| b.with_max_buffered_spans(3));
    let tracer = provider.tracer("t");
    let leaked = tracer.start("leaked");
    let cx = Context::new().with_remote_span_context(leaked.span_context().clone());
    std::mem::forget(leaked);
    for _ in 0..7 {
        tracer.start_with_context("child", &cx).end();
    }
    let chunks = exporter.take_chunks();
    assert_eq!(
        chunks.iter().map(|c| c.spans.len()).collect::<Vec<_>>(),
        [3, 3]
    );
    assert_eq!(provider.stats().bound_flushes, 2);
    assert!(
        chunks
            .iter()
            .all(|c| c.priority == Some(SamplingPriority::AUTO_KEEP))
    );
    // Shutdown sends what is left of incomplete traces.
    provider.shutdown().unwrap();
    assert_eq!(
        exporter
            .take_chunks()
            .iter()
            .map(|c| c.spans.len())
            .sum::<usize>(),
        1
    );
}

#[test]
fn spans_ending_after_shutdown_are_dropped_and_counted() {
    let (provider, exporter) = provider();
    let tracer = provider.tracer("t");
    let mut open = tracer.start("open");
    provider.shutdown().unwrap();
    assert!(matches!(
        provider.shutdown(),
        Err(ddtrace_otel::Error::ShutDown)
    ));
    assert!(provider.force_flush().is_err());
    open.end();
    tracer.start("after").end();
    assert!(exporter.chunks().is_empty());
    assert_eq!(provider.stats().spans_dropped_after_shutdown, 2);
}

#[test]
fn many_threads_build_traces_at_once() {
    let (provider, exporter) = provider();
    let threads = 8;
    let traces = 500;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let tracer = provider.tracer("t");
            std::thread::spawn(move || {
                for _ in 0..traces {
                    let root = tracer.start("root");
                    let cx = Context::new().with_span(root);
                    for _ in 0..4 {
                        let mut c = tracer.start_with_context("child", &cx);
                        c.set_attribute(KeyValue::new("k", 1));
                        c.end();
                    }
                    cx.span().end();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let chunks = exporter.take_chunks();
    assert_eq!(chunks.len(), threads * traces);
    let mut ids = HashSet::new();
    for c in &chunks {
        assert_eq!(c.spans.len(), 5);
        assert_eq!(c.spans[0].resource, "root");
        assert!(c.spans.iter().all(|s| s.trace_id == c.spans[0].trace_id));
        assert!(ids.insert(c.spans[0].trace_id));
    }
    let stats = provider.stats();
    assert_eq!(stats.spans_exported, (threads * traces * 5) as u64);
    assert_eq!(stats.live_traces, 0);
}

#[test]
fn builder_rejects_a_missing_exporter_and_a_zero_bound() {
    assert!(matches!(
        TracerProvider::builder().build(),
        Err(ddtrace_otel::Error::NoExporter)
    ));
    let r = TracerProvider::builder()
        .with_exporter(ddtrace_otel::InMemoryExporter::new())
        .with_max_buffered_spans(0)
        .build();
    assert!(matches!(r, Err(ddtrace_otel::Error::InvalidSetting { .. })));
}

#[test]
fn an_unlocked_decision_is_taken_again_when_the_root_ends() {
    let rules = r#"[{"tags": {"tier": "gold"}, "sample_rate": 1}, {"sample_rate": 0}]"#;
    let (provider, exporter) =
        provider_with(|b| b.with_sampler(sampler(&[("DD_TRACE_SAMPLING_RULES", rules)])));
    let tracer = provider.tracer("t");
    let mut root = tracer.start("root");
    assert!(
        !root.span_context().is_sampled(),
        "provisional: the catch-all drops"
    );
    root.set_attribute(KeyValue::new("tier", "gold"));
    root.end();
    let (chunk, s) = single_span(&exporter);
    assert_eq!(chunk.priority, Some(SamplingPriority::USER_KEEP));
    assert_eq!(metric(&s, "_dd.rule_psr"), Some(1.0));
    assert_eq!(metric(&s, "_sampling_priority_v1"), Some(2.0));

    // Once injected, the decision is locked: no second evaluation.
    let cx = Context::new().with_span(tracer.start("root"));
    let mut headers = HashMap::new();
    opentelemetry::propagation::TextMapPropagator::inject_context(
        &provider.propagator(),
        &cx,
        &mut headers,
    );
    cx.span().set_attribute(KeyValue::new("tier", "gold"));
    cx.span().end();
    drop(cx);
    let (chunk, _) = single_span(&exporter);
    assert_eq!(chunk.priority, Some(SamplingPriority::USER_REJECT));
}

#[test]
fn works_as_the_global_tracer_provider() {
    let (provider, exporter) = provider();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let tracer = opentelemetry::global::tracer("global");
    tracer.in_span("outer", |cx| {
        cx.span().set_attribute(KeyValue::new("k", "v"));
        tracer.in_span("inner", |_| {});
    });
    let chunk = exporter
        .take_chunks()
        .into_iter()
        .find(|c| c.spans[0].resource == "outer")
        .expect("the global tracer's trace");
    assert_eq!(chunk.spans.len(), 2);
    assert_eq!(meta(&chunk.spans[0], "k"), Some("v"));
    assert_eq!(chunk.spans[1].parent_id, Some(chunk.spans[0].span_id));
}

#[test]
fn no_partial_flush_once_the_root_has_ended() {
    let (provider, exporter) =
        provider_with(|b| b.with_partial_flush(PartialFlush::Enabled { min_spans: 1 }));
    let tracer = provider.tracer("t");
    let cx = Context::new().with_span(tracer.start("root"));
    let c1 = tracer.start_with_context("c1", &cx);
    let c2 = tracer.start_with_context("c2", &cx);
    cx.span().end();
    drop(c1);
    assert!(
        exporter.chunks().is_empty(),
        "root ended: wait for the last child"
    );
    drop(c2);
    drop(cx);
    let chunks = exporter.take_chunks();
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].spans.len(), 3);
}

#[test]
fn first_span_tags_go_on_the_first_span_of_every_chunk() {
    let (provider, exporter) = provider_with(|b| {
        b.with_first_span_tag("_dd.git.commit.sha", "abc123")
            .with_partial_flush(PartialFlush::Enabled { min_spans: 1 })
    });
    let tracer = provider.tracer("t");
    let cx = Context::new().with_span(tracer.start("root"));
    tracer.start_with_context("child", &cx).end();
    cx.span().end();
    drop(cx);
    let chunks = exporter.take_chunks();
    assert_eq!(chunks.len(), 2);
    for c in &chunks {
        assert_eq!(meta(&c.spans[0], "_dd.git.commit.sha"), Some("abc123"));
        assert!(
            c.spans[1..]
                .iter()
                .all(|s| meta(s, "_dd.git.commit.sha").is_none())
        );
    }
}

/// Each thread remembers the trace it last found, to skip the registry's lock.
/// The memory must not outlive what the registry says: a trace of another provider with the
/// same trace id is not this provider's, and a second local root of the same trace replaces
/// the first for the children that start after it (as without the memory).
#[test]
fn the_remembered_trace_follows_the_registry() {
    let trace = "640cfd8d00000000a3ce929d0e0e4736";
    let (provider_a, exporter_a) = provider();
    let (provider_b, exporter_b) = provider();
    let (a, b) = (provider_a.tracer("a"), provider_b.tracer("b"));
    let parent = remote(trace, "00f067aa0ba902b7", 1, "");
    let root_a = Context::new().with_span(a.start_with_context("root-a", &parent));
    let root_b = Context::new().with_span(b.start_with_context("root-b", &parent));
    // After child-a the thread remembers root-a's trace, which has root-b's trace id; a child
    // of root-b must still join root-b's.
    a.start_with_context("child-a", &root_a).end();
    b.start_with_context("child-b", &root_b).end();
    root_a.span().end();
    root_b.span().end();
    let names = |chunks: Vec<TraceChunk>| -> Vec<Vec<String>> {
        chunks
            .iter()
            .map(|c| c.spans.iter().map(|s| s.resource.to_string()).collect())
            .collect()
    };
    assert_eq!(names(exporter_a.take_chunks()), [["root-a", "child-a"]]);
    assert_eq!(names(exporter_b.take_chunks()), [["root-b", "child-b"]]);

    // Two local roots of one trace in one provider: once the second is registered (here by
    // another thread), a child started from the first root's context joins the second's
    // local trace.
    let first = Context::new().with_span(a.start_with_context("first", &parent));
    a.start_with_context("before", &first).end(); // remembered: first's trace
    let second = std::thread::scope(|s| {
        s.spawn(|| Context::new().with_span(a.start_with_context("second", &parent)))
            .join()
            .unwrap()
    });
    a.start_with_context("after", &first).end();
    second.span().end();
    first.span().end();
    let mut chunks = names(exporter_a.take_chunks());
    chunks.sort();
    assert_eq!(chunks, [vec!["first", "before"], vec!["second", "after"]]);
}
