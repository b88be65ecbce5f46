//! Helpers shared by the integration tests.

use ddtrace_model::{Span, TraceChunk};
use ddtrace_otel::{InMemoryExporter, TracerProvider, TracerProviderBuilder};

/// A provider with service `test-svc` exporting to a fresh in-memory exporter.
pub(crate) fn provider() -> (TracerProvider, InMemoryExporter) {
    provider_with(|b| b)
}

/// Like [`provider`], with extra builder settings.
pub(crate) fn provider_with(
    f: impl FnOnce(TracerProviderBuilder) -> TracerProviderBuilder,
) -> (TracerProvider, InMemoryExporter) {
    let exporter = InMemoryExporter::new();
    let builder = TracerProvider::builder()
        .with_service("test-svc")
        .with_exporter(exporter.clone());
    let provider = f(builder).build().expect("valid provider");
    (provider, exporter)
}

/// The one chunk exported, with its one span.
pub(crate) fn single_span(exporter: &InMemoryExporter) -> (TraceChunk, Span) {
    let chunks = exporter.take_chunks();
    assert_eq!(chunks.len(), 1, "chunks: {chunks:#?}");
    let chunk = chunks.into_iter().next().unwrap();
    assert_eq!(chunk.spans.len(), 1, "spans: {:#?}", chunk.spans);
    let span = chunk.spans[0].clone();
    (chunk, span)
}

/// A meta value.
pub(crate) fn meta<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    span.meta.get(key).map(|v| v.as_str())
}

/// A metric value.
pub(crate) fn metric(span: &Span, key: &str) -> Option<f64> {
    span.metrics.get(key).copied()
}
