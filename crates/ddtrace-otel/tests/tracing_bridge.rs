//! `tracing` + `tracing-opentelemetry` 0.34 on top of our tracer: `#[instrument]`ed functions
//! become correctly parented Datadog spans and span fields become tags.

use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::common::{meta, metric, provider};

#[tracing::instrument]
fn handle_request(user: &str) -> usize {
    let rows = query(3);
    tracing::info!(rows, "request handled");
    rows
}

#[tracing::instrument(fields(otel.kind = "client", db.system = "postgresql"))]
fn query(limit: i64) -> usize {
    let span = tracing::Span::current();
    span.record("db.system", "postgresql");
    (0..limit).map(|_| cache_lookup()).sum()
}

#[tracing::instrument]
fn cache_lookup() -> usize {
    1
}

#[test]
fn instrumented_functions_become_parented_datadog_spans() {
    let (provider, exporter) = provider();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("tracing"));
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        assert_eq!(handle_request("alice"), 3);
    });
    let chunks = exporter.take_chunks();
    assert_eq!(chunks.len(), 1, "{chunks:#?}");
    let spans = &chunks[0].spans;
    assert_eq!(spans.len(), 5);
    let root = &spans[0];
    assert_eq!(root.resource, "handle_request");
    assert_eq!(root.name, "internal");
    assert_eq!(root.parent_id, None);
    assert_eq!(meta(root, "user"), Some("alice"));
    assert!(
        root.events.iter().any(|e| e.name == "request handled"),
        "{:?}",
        root.events
    );

    let query = spans.iter().find(|s| s.resource == "query").unwrap();
    assert_eq!(query.parent_id, Some(root.span_id));
    assert_eq!(query.name, "postgresql.query");
    assert_eq!(query.span_type, "sql");
    assert_eq!(meta(query, "span.kind"), Some("client"));
    assert_eq!(metric(query, "limit"), Some(3.0));

    let lookups: Vec<_> = spans
        .iter()
        .filter(|s| s.resource == "cache_lookup")
        .collect();
    assert_eq!(lookups.len(), 3);
    assert!(lookups.iter().all(|s| s.parent_id == Some(query.span_id)));
    assert!(
        spans
            .iter()
            .all(|s| s.trace_id == root.trace_id && s.service == "test-svc")
    );
}
