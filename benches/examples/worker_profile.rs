//! A deterministic driver of the transport worker's per-span work, for
//! `valgrind --tool=callgrind`: `worker_profile [TRACES]` creates 10-span traces with 8
//! attributes (the throughput benchmark's workload) through the bridge, and for each one
//! writes it into a v0.5 payload (`PendingChunk::write_to`), as the worker does. Compare the
//! inclusive cost of `write_to` before and after a change (divide by 10 × TRACES for a
//! per-span figure).

use ddtrace_benches::{CaptureExporter, service_trace_10x8};
use ddtrace_encoding::{EncodeOptions, Format, PayloadEncoder};
use opentelemetry::trace::TracerProvider as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let traces: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 2000,
    };
    let capture = CaptureExporter::default();
    let provider = ddtrace_otel::TracerProvider::builder()
        .with_service("bench")
        .with_exporter(capture.clone())
        .build()?;
    let tracer = provider.tracer("bench");
    let mut encoder = PayloadEncoder::new(Format::V05, EncodeOptions::default());
    for i in 0..traces {
        service_trace_10x8(&tracer, i);
        let pending = capture.take_last().ok_or("the trace was not exported")?;
        pending.write_to(&mut encoder);
        if encoder.span_count() >= 1000 {
            std::hint::black_box(encoder.finish().len());
            encoder.clear();
        }
    }
    Ok(())
}
