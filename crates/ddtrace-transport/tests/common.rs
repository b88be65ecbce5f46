//! Helpers shared by the transport tests.

use std::time::{Duration, Instant};

use ddtrace_encoding::{Format, decode};
use ddtrace_model::{SamplingPriority, Span, SpanId, TraceChunk, TraceId};
use ddtrace_transport::{AgentTransport, TransportConfig, TransportStats};

use ddtrace_testkit::fault::Seen;

/// A chunk of `spans` spans of one new trace, root first.
pub(crate) fn chunk(spans: usize) -> TraceChunk {
    let trace_id = TraceId::generate(true, 1_700_000_000);
    let root_id = SpanId::generate();
    let spans = (0..spans)
        .map(|i| {
            let id = if i == 0 { root_id } else { SpanId::generate() };
            let mut span = Span::new(trace_id, id, "web.request");
            span.service = "web".into();
            span.resource = format!("GET /items/{i}").into();
            span.parent_id = (i > 0).then_some(root_id);
            span.start = 1_700_000_000_000_000_000 + i as i64;
            span.duration = 1_000;
            span.set_meta("http.method", "GET");
            span.set_metric("retries", i as f64);
            span
        })
        .collect();
    let mut chunk = TraceChunk::new(spans);
    chunk.priority = Some(SamplingPriority::AUTO_KEEP);
    chunk
}

/// A config for a local test server: short interval, quick retries.
pub(crate) fn config(url: &str) -> TransportConfig {
    TransportConfig::default()
        .with_agent_url(url)
        .expect("valid url")
        .with_flush_interval(Duration::from_millis(50))
        .with_request_timeout(Duration::from_millis(500))
        .with_retries(3, Duration::from_millis(10), Duration::from_millis(40))
        .with_container_id(None)
}

/// Waits until `cond` holds on the transport's stats, or panics after 10 s.
pub(crate) fn wait_for(
    transport: &AgentTransport,
    what: &str,
    cond: impl Fn(&TransportStats) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = transport.stats();
        if cond(&stats) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every span is accounted for exactly once.
pub(crate) fn assert_accounted(stats: &TransportStats) {
    assert_eq!(
        stats.spans_enqueued,
        stats.spans_sent + stats.spans_dropped() + stats.spans_queued,
        "{stats:?}"
    );
    assert_eq!(
        stats.chunks_enqueued,
        stats.chunks_sent + stats.chunks_dropped + stats.chunks_queued,
        "{stats:?}"
    );
}

/// Decodes the chunks of a trace request seen by a server.
pub(crate) fn decode_request(seen: &Seen) -> Vec<TraceChunk> {
    let format = if seen.path == "/v0.5/traces" {
        Format::V05
    } else {
        Format::V04
    };
    decode(format, &seen.body).expect("decodable payload")
}
