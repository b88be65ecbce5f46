//! Encoding 1,000 realistic spans: our v0.4 and v0.5 encoders against a plain
//! `#[derive(Serialize)]` + `rmp-serde` baseline writing the same v0.4 layout; the same
//! spans pushed as `ChunkView`s against `TraceChunk`s; and decoding them back.
//!
//! The baseline's structs are built before timing (it measures serialization only), and
//! every contender reuses its output buffer.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ddtrace_benches::realistic_chunks;
use ddtrace_encoding::{EncodeOptions, Format, PayloadEncoder};
use ddtrace_model::{ChunkView, SpanView, TraceChunk};
use serde::Serialize;

const SPANS: usize = 1_000;

/// The v0.4 span as a straightforward serde struct.
#[derive(Serialize)]
struct BaselineSpan {
    service: String,
    name: String,
    resource: String,
    trace_id: u64,
    span_id: u64,
    parent_id: u64,
    start: i64,
    duration: i64,
    error: i32,
    meta: HashMap<String, String>,
    metrics: HashMap<String, f64>,
    #[serde(rename = "type")]
    span_type: String,
}

/// The same spans, with the chunk-level values already on the first span.
fn baseline_payload(chunks: &[TraceChunk]) -> Vec<Vec<BaselineSpan>> {
    chunks
        .iter()
        .map(|chunk| {
            chunk
                .spans
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let mut meta: HashMap<String, String> = s
                        .meta
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect();
                    let mut metrics: HashMap<String, f64> =
                        s.metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect();
                    if i == 0 {
                        meta.extend(
                            chunk
                                .tags
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_string())),
                        );
                        meta.insert("_dd.p.tid".into(), format!("{:016x}", s.trace_id.high()));
                        if let Some(p) = chunk.priority {
                            metrics.insert("_sampling_priority_v1".into(), f64::from(p.get()));
                        }
                    }
                    BaselineSpan {
                        service: s.service.to_string(),
                        name: s.name.to_string(),
                        resource: s.resource.to_string(),
                        trace_id: s.trace_id.low(),
                        span_id: s.span_id.get(),
                        parent_id: s.parent_id.map_or(0, |p| p.get()),
                        start: s.start,
                        duration: s.duration,
                        error: i32::from(s.error),
                        meta,
                        metrics,
                        span_type: s.span_type.to_string(),
                    }
                })
                .collect()
        })
        .collect()
}

fn encoding(c: &mut Criterion) {
    let chunks = realistic_chunks(SPANS);
    let baseline = baseline_payload(&chunks);
    let mut group = c.benchmark_group("encode_1000_spans");
    group.throughput(Throughput::Elements(SPANS as u64));

    for format in [Format::V04, Format::V05] {
        let mut encoder = PayloadEncoder::new(format, EncodeOptions::default());
        group.bench_function(format.to_string(), |b| {
            b.iter(|| {
                encoder.clear();
                for chunk in &chunks {
                    encoder.push(chunk);
                }
                black_box(encoder.finish().len())
            })
        });
    }

    let mut buf = Vec::new();
    group.bench_function("rmp_serde_baseline", |b| {
        b.iter(|| {
            buf.clear();
            rmp_serde::encode::write_named(&mut buf, black_box(&baseline)).unwrap_or_default();
            black_box(buf.len())
        })
    });
    group.finish();
}

/// The meta and metrics slices of the chunks' spans, borrowing their strings: what a
/// producer that keeps its own spans has at hand to describe them as views.
struct Views<'a> {
    meta: Vec<Vec<(&'a str, &'a str)>>,
    metrics: Vec<Vec<(&'a str, f64)>>,
}

impl<'a> Views<'a> {
    fn new(chunks: &'a [TraceChunk]) -> Self {
        let spans = || chunks.iter().flat_map(|c| &c.spans);
        Views {
            meta: spans()
                .map(|s| {
                    s.meta
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect()
                })
                .collect(),
            metrics: spans()
                .map(|s| s.metrics.iter().map(|(k, v)| (k.as_str(), *v)).collect())
                .collect(),
        }
    }

    fn spans(&'a self, chunks: &'a [TraceChunk]) -> Vec<SpanView<'a>> {
        chunks
            .iter()
            .flat_map(|c| &c.spans)
            .zip(self.meta.iter().zip(&self.metrics))
            .map(|(s, (meta, metrics))| SpanView::of_span(s, meta, metrics))
            .collect()
    }
}

fn chunk_views<'a>(chunks: &'a [TraceChunk], spans: &'a [SpanView<'a>]) -> Vec<ChunkView<'a>> {
    let mut rest = spans;
    chunks
        .iter()
        .map(|c| {
            let (spans, tail) = rest.split_at(c.spans.len());
            rest = tail;
            ChunkView::of_chunk(c, spans)
        })
        .collect()
}

/// The same 1,000 spans pushed as `ChunkView`s (what the OpenTelemetry bridge hands the
/// transport's worker) and as `TraceChunk`s; the views are built before timing, the
/// payloads are the same bytes.
fn encoding_views(c: &mut Criterion) {
    let chunks = realistic_chunks(SPANS);
    let views = Views::new(&chunks);
    let spans = views.spans(&chunks);
    let chunk_views = chunk_views(&chunks, &spans);
    let mut group = c.benchmark_group("encode_1000_spans_views");
    group.throughput(Throughput::Elements(SPANS as u64));
    for format in [Format::V04, Format::V05] {
        let mut by_chunk = PayloadEncoder::new(format, EncodeOptions::default());
        chunks.iter().for_each(|c| by_chunk.push(c));
        let mut by_view = PayloadEncoder::new(format, EncodeOptions::default());
        chunk_views.iter().for_each(|v| by_view.push_view(v));
        assert_eq!(
            by_view.finish(),
            by_chunk.finish(),
            "{format}: views and chunks differ"
        );

        let mut encoder = PayloadEncoder::new(format, EncodeOptions::default());
        group.bench_function(format!("{format}/chunks"), |b| {
            b.iter(|| {
                encoder.clear();
                for chunk in &chunks {
                    encoder.push(chunk);
                }
                black_box(encoder.finish().len())
            })
        });
        group.bench_function(format!("{format}/views"), |b| {
            b.iter(|| {
                encoder.clear();
                for view in &chunk_views {
                    encoder.push_view(view);
                }
                black_box(encoder.finish().len())
            })
        });
    }
    group.finish();
}

/// Decoding the same 1,000 spans back into chunks (what the test agent does with every
/// payload), output dropped inside the timing as a consumer would; and checking them with
/// `inspect`, which counts without building the model (what the benchmark's sink does).
fn decoding(c: &mut Criterion) {
    let chunks = realistic_chunks(SPANS);
    let mut group = c.benchmark_group("decode_1000_spans");
    group.throughput(Throughput::Elements(SPANS as u64));
    for format in [Format::V04, Format::V05] {
        let mut payload = Vec::new();
        ddtrace_encoding::encode(format, EncodeOptions::default(), &chunks, &mut payload);
        group.bench_function(format.to_string(), |b| {
            b.iter(|| {
                ddtrace_encoding::decode(format, black_box(&payload))
                    .map(|decoded| decoded.len())
                    .unwrap_or_default()
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("inspect_1000_spans");
    group.throughput(Throughput::Elements(SPANS as u64));
    for format in [Format::V04, Format::V05] {
        let mut payload = Vec::new();
        ddtrace_encoding::encode(format, EncodeOptions::default(), &chunks, &mut payload);
        group.bench_function(format.to_string(), |b| {
            b.iter(|| {
                ddtrace_encoding::inspect(format, black_box(&payload))
                    .map(|summary| summary.spans)
                    .unwrap_or_default()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, encoding, encoding_views, decoding);
criterion_main!(benches);
