//! Span hot path: ddtrace's OpenTelemetry bridge vs the OpenTelemetry SDK (batch processor,
//! no-op exporter), same workload, same run.
//!
//! * `span/child_4_attrs/*`: start a child of an open root, set 4 attributes, end it
//!   (goal for ddtrace: under 300 ns, and cheaper than the SDK). `noop` is the API's no-op
//!   tracer: the floor of building the spans at all.
//! * `span/trace_10x8/*`: a 10-span trace (root + 9 children), 8 attributes per span;
//!   throughput is per span.
//!
//! * `span/child_4_attrs_4_threads/*`: the same child-span workload on 4 threads at once,
//!   each under its own root; time per span. There is no process-wide lock on the span path,
//!   so this is bounded by the cores, not by contention.
//! * `span/map_trace_10x8/ddtrace`: the OTel → Datadog mapping of such a trace
//!   (`PendingChunk::into_chunk`), which the exporter's worker thread runs, per span.
//!
//! What the application thread pays is measured: ddtrace's exporter here forwards the pending
//! chunks to a worker thread that maps them into a sink that discards them, which returns their
//! buffers to the next traces as the transport's worker does (it also encodes and sends), as
//! the SDK's batch processor hands spans to its thread and its no-op exporter drops them. The
//! mapping is also measured on its own.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ddtrace_model::{ChunkExporter, ChunkSink, ChunkView, PendingChunk, TraceChunk};
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};

/// A queue drained by a worker thread every millisecond, as the transport's worker does
/// (a short lock and a push per chunk; the worker is not woken per chunk). The worker maps
/// what it takes into a [`Discard`] sink: dropping the chunks unmapped would free their
/// buffers on the worker instead of returning them, a cost the tracer does not have.
#[derive(Clone, Default)]
struct WorkerExporter(Arc<Mutex<Vec<Box<dyn PendingChunk>>>>);

impl std::fmt::Debug for WorkerExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkerExporter")
    }
}

impl WorkerExporter {
    fn new() -> Self {
        let exporter = WorkerExporter::default();
        let queue = Arc::downgrade(&exporter.0);
        std::thread::spawn(move || {
            while let Some(queue) = queue.upgrade() {
                let taken = queue
                    .lock()
                    .map(|mut q| std::mem::take(&mut *q))
                    .unwrap_or_default();
                drop(queue);
                for chunk in taken {
                    black_box(chunk.write_to(&mut Discard));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        exporter
    }
}

/// Takes chunks and keeps nothing.
struct Discard;

impl ChunkSink for Discard {
    fn push_chunk(&mut self, chunk: &TraceChunk) {
        black_box(chunk.spans.len());
    }
    fn push_view(&mut self, chunk: &ChunkView<'_>) {
        black_box(chunk);
    }
}

impl ChunkExporter for WorkerExporter {
    fn export(&self, chunk: Box<dyn PendingChunk>) {
        black_box(chunk.size_hint());
        if let Ok(mut q) = self.0.lock() {
            if q.len() < 100_000 {
                q.push(chunk);
            }
        }
    }
    fn flush(&self, _timeout: Duration) -> ddtrace_model::Result<()> {
        Ok(())
    }
    fn shutdown(&self, _timeout: Duration) -> ddtrace_model::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct NoopSdkExporter;

impl SpanExporter for NoopSdkExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn ddtrace_provider() -> ddtrace_otel::TracerProvider {
    ddtrace_otel::TracerProvider::builder()
        .with_service("bench")
        .with_exporter(WorkerExporter::new())
        .build()
        .expect("provider")
}

fn sdk_provider() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_batch_exporter(NoopSdkExporter)
        .build()
}

fn child_4_attrs<T>(tracer: &T, cx: &Context)
where
    T: opentelemetry::trace::Tracer,
{
    let mut span = tracer.start_with_context("child", cx);
    span.set_attribute(KeyValue::new("http.request.method", "GET"));
    span.set_attribute(KeyValue::new("http.response.status_code", 200));
    span.set_attribute(KeyValue::new("db.rows", 12.5));
    span.set_attribute(KeyValue::new("cache.hit", true));
    span.end();
}

fn trace_10x8<T>(tracer: &T)
where
    T: opentelemetry::trace::Tracer,
    T::Span: Send + Sync + 'static,
{
    let attrs = |span: &mut T::Span| {
        span.set_attribute(KeyValue::new("http.request.method", "GET"));
        span.set_attribute(KeyValue::new("http.route", "/users/{id}"));
        span.set_attribute(KeyValue::new("http.response.status_code", 200));
        span.set_attribute(KeyValue::new("net.peer.port", 8080));
        span.set_attribute(KeyValue::new("db.rows", 12.5));
        span.set_attribute(KeyValue::new("cache.hit", true));
        span.set_attribute(KeyValue::new("user.id", "u-42"));
        span.set_attribute(KeyValue::new("retries", 0));
    };
    let mut root = tracer.start_with_context("root", &Context::new());
    attrs(&mut root);
    let cx = Context::new().with_span(root);
    for _ in 0..9 {
        let mut child = tracer.start_with_context("child", &cx);
        attrs(&mut child);
        child.end();
    }
    cx.span().end();
}

/// Runs `iters` child spans on each of `threads` threads, each under its own root; returns
/// the wall time.
fn on_threads<T>(threads: usize, iters: u64, tracer: &T) -> Duration
where
    T: opentelemetry::trace::Tracer + Clone + Send + 'static,
    T::Span: Send + Sync + 'static,
{
    let barrier = Arc::new(std::sync::Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let tracer = tracer.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let cx = Context::new().with_span(tracer.start("root"));
                barrier.wait();
                for _ in 0..iters {
                    child_4_attrs(&tracer, &cx);
                }
            })
        })
        .collect();
    barrier.wait();
    let start = std::time::Instant::now();
    for h in handles {
        let _ = h.join();
    }
    start.elapsed()
}

fn bench_spans(c: &mut Criterion) {
    let dd = ddtrace_provider();
    let sdk = sdk_provider();
    let dd_tracer = dd.tracer("bench");
    let sdk_tracer = sdk.tracer("bench");
    let noop_tracer = opentelemetry::trace::noop::NoopTracer::new();

    let mut group = c.benchmark_group("span/child_4_attrs");
    group.throughput(Throughput::Elements(1));
    {
        let cx = Context::new().with_span(dd_tracer.start("root"));
        group.bench_function("ddtrace", |b| b.iter(|| child_4_attrs(&dd_tracer, &cx)));
    }
    {
        let cx = Context::new().with_span(sdk_tracer.start("root"));
        group.bench_function("otel_sdk", |b| b.iter(|| child_4_attrs(&sdk_tracer, &cx)));
    }
    {
        let cx = Context::new().with_span(noop_tracer.start("root"));
        group.bench_function("noop", |b| b.iter(|| child_4_attrs(&noop_tracer, &cx)));
    }
    group.finish();

    let mut group = c.benchmark_group("span/child_4_attrs_4_threads");
    group.throughput(Throughput::Elements(4));
    group.bench_function("ddtrace", |b| {
        b.iter_custom(|iters| on_threads(4, iters, &dd_tracer))
    });
    group.bench_function("otel_sdk", |b| {
        b.iter_custom(|iters| on_threads(4, iters, &sdk_tracer))
    });
    group.finish();

    let mut group = c.benchmark_group("span/trace_10x8");
    group.throughput(Throughput::Elements(10));
    group.bench_function("ddtrace", |b| b.iter(|| trace_10x8(&dd_tracer)));
    group.bench_function("otel_sdk", |b| b.iter(|| trace_10x8(&sdk_tracer)));
    group.bench_function("noop", |b| b.iter(|| trace_10x8(&noop_tracer)));
    group.finish();

    let capture = ddtrace_benches::CaptureExporter::default();
    let mapped = ddtrace_otel::TracerProvider::builder()
        .with_service("bench")
        .with_exporter(capture.clone())
        .build()
        .expect("provider");
    let mapped_tracer = mapped.tracer("bench");
    let mut group = c.benchmark_group("span/map_trace_10x8");
    group.throughput(Throughput::Elements(10));
    group.bench_function("ddtrace", |b| {
        b.iter_batched(
            || {
                trace_10x8(&mapped_tracer);
                capture.take_last().expect("a chunk")
            },
            |chunk| black_box(chunk.into_chunk()),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let _ = sdk.shutdown();
    let _ = dd.shutdown();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_spans
}
criterion_main!(benches);
