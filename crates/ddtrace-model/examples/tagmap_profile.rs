//! A deterministic driver for measuring [`TagMap`](ddtrace_model::TagMap) under
//! `valgrind --tool=callgrind`: builds a realistic span's tags many times.

use std::hint::black_box;

use ddtrace_model::{Span, SpanId, Str, TraceId};

const META: [&str; 12] = [
    "span.kind",
    "http.method",
    "http.url",
    "http.route",
    "http.user_agent",
    "network.protocol.version",
    "otel.library.name",
    "otel.status_code",
    "component",
    "language",
    "env",
    "version",
];

const METRICS: [&str; 6] = [
    "_dd.top_level",
    "_dd.measured",
    "_sampling_priority_v1",
    "_dd.agent_psr",
    "process_id",
    "http.status_code",
];

fn main() {
    let spans: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let mut found = 0usize;
    for i in 0..spans {
        let mut span = Span::new(TraceId::from_u128(7), SpanId::new(1).unwrap(), "op");
        for key in black_box(META) {
            span.set_meta(key, "value");
        }
        // One dynamic key, as attribute names from user code are.
        span.set_meta(Str::copy_from(black_box("user.custom_attribute")), "x");
        for key in black_box(METRICS) {
            span.set_metric(key, i as f64);
        }
        // Overwrite an existing meta tag and look a few up, as the mapping does.
        span.set_meta("http.route", "/users/{id}");
        for key in [
            "span.kind",
            "http.status_code",
            "error.message",
            "_dd.measured",
        ] {
            found += usize::from(span.meta.get(black_box(key)).is_some());
            found += usize::from(span.metrics.contains_key(black_box(key)));
        }
        black_box(&span);
    }
    black_box(found);
}
