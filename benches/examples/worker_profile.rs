//! A deterministic driver of the transport worker's per-span work, for
//! `valgrind --tool=callgrind`: `worker_profile [TRACES]` creates 10-span traces with 8
//! attributes (the throughput benchmark's workload) through the bridge, and for each one maps
//! it (`PendingChunk::into_chunk`), encodes it into a v0.5 payload and drops it, as the worker
//! does. Compare the inclusive costs of `into_chunk`, `PayloadEncoder::push` and the drop of
//! the `TraceChunk` before and after a change (divide by 10 × TRACES for a per-span figure).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ddtrace_encoding::{EncodeOptions, Format, PayloadEncoder};
use ddtrace_model::{ChunkExporter, PendingChunk};
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};

/// Keeps the pending chunks for the driver to map.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Box<dyn PendingChunk>>>>);

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Capture")
    }
}

impl ChunkExporter for Capture {
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let traces: i64 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 2000,
    };
    let capture = Capture::default();
    let provider = ddtrace_otel::TracerProvider::builder()
        .with_service("bench")
        .with_exporter(capture.clone())
        .build()?;
    let tracer = provider.tracer("bench");
    let mut encoder = PayloadEncoder::new(Format::V05, EncodeOptions::default());
    for i in 0..traces {
        let attrs = |span: &mut ddtrace_otel::Span, n: i64| {
            span.set_attribute(KeyValue::new("http.request.method", "GET"));
            span.set_attribute(KeyValue::new("http.route", "/api/users/{id}/orders"));
            span.set_attribute(KeyValue::new("http.response.status_code", 200));
            span.set_attribute(KeyValue::new("server.port", 8080));
            span.set_attribute(KeyValue::new("db.response.returned_rows", n));
            span.set_attribute(KeyValue::new("cache.hit_ratio", 0.75));
            span.set_attribute(KeyValue::new("feature.enabled", n % 2 == 0));
            span.set_attribute(KeyValue::new("user.tier", "gold"));
        };
        let n = i % 1000;
        let mut root = tracer.start_with_context("GET /api/users/{id}/orders", &Context::new());
        attrs(&mut root, n);
        let cx = Context::new().with_span(root);
        for c in 0..9 {
            let mut child = tracer.start_with_context("SELECT orders", &cx);
            attrs(&mut child, n + c);
            child.end();
        }
        cx.span().end();
        drop(cx);
        let pending = capture.0.lock().map_err(|_| "poisoned")?.pop();
        let chunk = pending.ok_or("the trace was not exported")?.into_chunk();
        encoder.push(&chunk);
        drop(chunk);
        if encoder.span_count() >= 1000 {
            std::hint::black_box(encoder.finish().len());
            encoder.clear();
        }
    }
    Ok(())
}
