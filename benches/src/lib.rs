//! Benchmarks for the ddtrace crates, and the realistic data they share.
//!
//! Run them with `cargo bench -p ddtrace-benches` (add `-- --quick` on a busy machine). Each
//! bench file measures one operation against a baseline in the same run:
//!
//! * `encoding`: 1,000 spans to a v0.4 and a v0.5 payload, against the same data serialized
//!   through a plain `#[derive(Serialize)]` struct with `rmp-serde`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ddtrace_model::{
    ChunkExporter, PendingChunk, SamplingPriority, Span, SpanId, Str, TraceChunk, TraceId, tags,
};
use opentelemetry::trace::{Span as _, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};

/// An exporter that keeps the pending chunks it is handed, unmapped, for a bench or a
/// profiling driver to map itself. Clones share the same storage.
///
/// ```
/// use ddtrace_benches::{CaptureExporter, service_trace_10x8};
/// use opentelemetry::trace::TracerProvider as _;
///
/// let capture = CaptureExporter::default();
/// let provider = ddtrace_otel::TracerProvider::builder()
///     .with_exporter(capture.clone())
///     .build()?;
/// service_trace_10x8(&provider.tracer("bench"), 0);
/// let pending = capture.take_last().expect("the trace was exported");
/// assert_eq!(pending.span_count(), 10);
/// # Ok::<(), ddtrace_otel::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct CaptureExporter(Arc<Mutex<Vec<Box<dyn PendingChunk>>>>);

impl CaptureExporter {
    /// The last chunk exported and not taken yet.
    pub fn take_last(&self) -> Option<Box<dyn PendingChunk>> {
        self.0.lock().ok()?.pop()
    }
}

impl std::fmt::Debug for CaptureExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaptureExporter")
    }
}

impl ChunkExporter for CaptureExporter {
    fn export(&self, chunk: Box<dyn PendingChunk>) {
        if let Ok(mut chunks) = self.0.lock() {
            chunks.push(chunk);
        }
    }
    fn flush(&self, _timeout: Duration) -> ddtrace_model::Result<()> {
        Ok(())
    }
    fn shutdown(&self, _timeout: Duration) -> ddtrace_model::Result<()> {
        Ok(())
    }
}

/// The end-to-end benchmark's trace: a root and 9 children, each with 8 attributes (strings,
/// integers, a float, a bool), the `i`-th of a run (it varies two integer values).
pub fn service_trace_10x8<T>(tracer: &T, i: u64)
where
    T: opentelemetry::trace::Tracer,
    T::Span: Send + Sync + 'static,
{
    let attrs = |span: &mut T::Span, n: i64| {
        span.set_attribute(KeyValue::new("http.request.method", "GET"));
        span.set_attribute(KeyValue::new("http.route", "/api/users/{id}/orders"));
        span.set_attribute(KeyValue::new("http.response.status_code", 200));
        span.set_attribute(KeyValue::new("server.port", 8080));
        span.set_attribute(KeyValue::new("db.response.returned_rows", n));
        span.set_attribute(KeyValue::new("cache.hit_ratio", 0.75));
        span.set_attribute(KeyValue::new("feature.enabled", n % 2 == 0));
        span.set_attribute(KeyValue::new("user.tier", "gold"));
    };
    let n = i64::try_from(i % 1000).unwrap_or(0);
    let mut root = tracer.start_with_context("GET /api/users/{id}/orders", &Context::new());
    attrs(&mut root, n);
    let cx = Context::new().with_span(root);
    for c in 0..9 {
        let mut child = tracer.start_with_context("SELECT orders", &cx);
        attrs(&mut child, n + c);
        child.end();
    }
    cx.span().end();
}

/// `spans` spans in chunks of 10 (the last one shorter), shaped like web-service traffic:
/// about 10 meta entries and 4 metrics per span, a mix of repeated strings (keys, service
/// names, static values) and unique ones (URLs, statements, runtime ids), 128-bit trace ids,
/// and the chunk-level values (priority, `_dd.p.dm`) of a sampled trace.
///
/// ```
/// let chunks = ddtrace_benches::realistic_chunks(25);
/// assert_eq!(chunks.len(), 3);
/// assert_eq!(chunks.iter().map(|c| c.spans.len()).sum::<usize>(), 25);
/// ```
pub fn realistic_chunks(spans: usize) -> Vec<TraceChunk> {
    const PER_CHUNK: usize = 10;
    let runtime_id: Str = String::from("3f2c7a1e-9b7d-4c55-8e0f-6a1d2b3c4d5e").into();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut chunks = Vec::new();
    let mut made = 0;
    while made < spans {
        let n = PER_CHUNK.min(spans - made);
        let trace_id = TraceId::from_parts(0x6650_f1a2_0000_0000, next());
        let root_id = SpanId::new(next() | 1).unwrap_or_else(SpanId::generate);
        let start = 1_700_000_000_000_000_000 + made as i64 * 1_000_000;
        let mut chunk_spans = Vec::with_capacity(n);
        for i in 0..n {
            let span_id = if i == 0 {
                root_id
            } else {
                SpanId::new(next() | 1).unwrap_or_else(SpanId::generate)
            };
            let mut span = Span::new(
                trace_id,
                span_id,
                if i == 0 {
                    "http.server.request"
                } else {
                    "postgres.query"
                },
            );
            span.parent_id = (i > 0).then_some(root_id);
            span.service = if i == 0 {
                Str::from_static("checkout")
            } else {
                Str::from_static("checkout-db")
            };
            span.start = start + i as i64 * 10_000;
            span.duration = 50_000 + (next() % 1_000_000) as i64;
            span.span_type = if i == 0 {
                Str::from_static("web")
            } else {
                Str::from_static("sql")
            };
            span.error = next() % 50 == 0;
            let user = next() % 10_000;
            if i == 0 {
                span.resource = Str::from_static("GET /api/users/{id}/orders");
                span.meta.insert("http.method", "GET".into());
                span.meta.insert(
                    "http.url",
                    format!("https://shop.example.com/api/users/{user}/orders?page=2").into(),
                );
                span.meta
                    .insert("http.route", "/api/users/{id}/orders".into());
                span.meta.insert("http.status_code", "200".into());
                span.meta.insert(tags::SPAN_KIND, "server".into());
                span.meta.insert(tags::LANGUAGE, "rust".into());
                span.meta.insert(tags::RUNTIME_ID, runtime_id.clone());
            } else {
                span.resource =
                    format!("SELECT * FROM orders WHERE user_id = ? LIMIT {}", i * 10).into();
                span.meta.insert("db.system", "postgresql".into());
                span.meta.insert("db.name", "orders".into());
                span.meta.insert(
                    "db.statement",
                    format!(
                        "SELECT * FROM orders WHERE user_id = {user} LIMIT {}",
                        i * 10
                    )
                    .into(),
                );
                span.meta.insert("out.host", "db-primary.internal".into());
                span.meta.insert(tags::SPAN_KIND, "client".into());
                span.meta.insert("peer.service", "orders-db".into());
                span.meta.insert(tags::BASE_SERVICE, "checkout".into());
            }
            span.meta.insert(tags::ENV, "prod".into());
            span.meta.insert(tags::VERSION, "1.42.0".into());
            span.meta.insert("component", "ddtrace".into());
            span.metrics.insert(tags::TOP_LEVEL, 1.0);
            span.metrics.insert(tags::MEASURED, 1.0);
            span.metrics.insert(tags::PROCESS_ID, 4242.0);
            span.metrics.insert("db.row_count", (next() % 100) as f64);
            chunk_spans.push(span);
        }
        let mut chunk = TraceChunk::new(chunk_spans);
        chunk.priority = Some(SamplingPriority::AUTO_KEEP);
        chunk.tags.insert(tags::DECISION_MAKER, "-0".into());
        chunks.push(chunk);
        made += n;
    }
    chunks
}
