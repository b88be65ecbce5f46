//! Chunks pushed as [`ChunkView`]s: the same bytes, counts and string table as the chunks
//! they describe.

use ddtrace_encoding::{EncodeOptions, Format, PayloadEncoder};
use ddtrace_model::{
    ChunkSink, ChunkView, PendingChunk, SamplingPriority, SpanView, TagMap, TraceChunk, TraceId,
};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::common::{arb, id, spec_example};

const JSON: EncodeOptions = EncodeOptions {
    native_span_events: false,
};
const NATIVE: EncodeOptions = EncodeOptions {
    native_span_events: true,
};

/// Every format and event mode (views have no events, so the mode must not matter).
const MODES: [(Format, EncodeOptions); 3] = [
    (Format::V04, JSON),
    (Format::V04, NATIVE),
    (Format::V05, JSON),
];

/// Makes `chunk` describable by a [`SpanView`]: no links, events or `meta_struct`, and no
/// metric key that is also a meta key.
fn viewable(mut chunk: TraceChunk) -> TraceChunk {
    for span in &mut chunk.spans {
        span.links.clear();
        span.events.clear();
        span.meta_struct.clear();
        let meta = &span.meta;
        span.metrics.retain(|k, _| !meta.contains_key(k));
    }
    chunk
}

/// Chunks with priorities, origins, tags, 128-bit trace ids and span keys that collide with
/// the chunk-level ones (`_dd.origin`, `_dd.p.tid`, `_dd.p.dm`, `_sampling_priority_v1`).
fn viewable_chunk() -> impl Strategy<Value = TraceChunk> {
    arb::with_reserved_keys().prop_map(viewable)
}

/// The meta and metrics slices of `chunk`'s spans, borrowing its strings.
struct Entries<'a> {
    meta: Vec<Vec<(&'a str, &'a str)>>,
    metrics: Vec<Vec<(&'a str, f64)>>,
}

impl<'a> Entries<'a> {
    fn of(chunk: &'a TraceChunk) -> Self {
        Entries {
            meta: chunk
                .spans
                .iter()
                .map(|s| {
                    s.meta
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect()
                })
                .collect(),
            metrics: chunk
                .spans
                .iter()
                .map(|s| s.metrics.iter().map(|(k, v)| (k.as_str(), *v)).collect())
                .collect(),
        }
    }

    /// Views of `chunk`'s spans (the chunk these entries were made of).
    fn spans(&'a self, chunk: &'a TraceChunk) -> Vec<SpanView<'a>> {
        chunk
            .spans
            .iter()
            .zip(self.meta.iter().zip(&self.metrics))
            .map(|(s, (meta, metrics))| SpanView::of_span(s, meta, metrics))
            .collect()
    }
}

/// What an encoder holds: the payload, its counts and its announced length.
fn state(encoder: &mut PayloadEncoder) -> (usize, usize, usize, Vec<u8>) {
    let len = encoder.encoded_len();
    (
        encoder.chunk_count(),
        encoder.span_count(),
        len,
        encoder.finish().to_vec(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A view borrowing a chunk's strings encodes byte for byte as the chunk, in every
    /// format and event mode, in a fresh encoder and in one that already wrote a payload.
    #[test]
    fn a_view_encodes_as_its_chunk(chunk in viewable_chunk(), previous in arb::chunks()) {
        let entries = Entries::of(&chunk);
        let spans = entries.spans(&chunk);
        let view = ChunkView::of_chunk(&chunk, &spans);
        prop_assert_eq!(&view.to_chunk(), &chunk);
        for (format, options) in MODES {
            for reused in [false, true] {
                let mut encoders = [
                    PayloadEncoder::new(format, options),
                    PayloadEncoder::new(format, options),
                ];
                if reused {
                    for encoder in &mut encoders {
                        previous.iter().for_each(|c| encoder.push(c));
                        let _ = encoder.finish();
                        encoder.clear();
                    }
                }
                let [by_chunk, by_view] = &mut encoders;
                by_chunk.push(&chunk);
                by_view.push_view(&view);
                prop_assert_eq!(state(by_view), state(by_chunk), "{} {:?}", format, options);
            }
        }
    }

    /// Views and chunks pushed into one encoder, in any mix and order (each chunk pushed
    /// twice: the second time its strings' addresses come from an earlier chunk), give the
    /// payload of the same chunks pushed as chunks: one v0.5 string table for both. Two
    /// payloads in a row, so the second starts from the first one's table.
    #[test]
    fn views_and_chunks_share_one_payload(
        entries in vec(
            prop_oneof![
                // Chunks with links and events, always pushed as chunks.
                arb::chunk().prop_map(|c| (c, false)),
                (viewable_chunk(), any::<bool>()),
            ],
            0..5,
        ),
        second_as_view in any::<bool>(),
    ) {
        let borrowed: Vec<Entries<'_>> = entries.iter().map(|(c, _)| Entries::of(c)).collect();
        let spans: Vec<Vec<SpanView<'_>>> = entries
            .iter()
            .zip(&borrowed)
            .map(|((c, _), e)| e.spans(c))
            .collect();
        let order: Vec<usize> = (0..entries.len()).chain((0..entries.len()).rev()).collect();
        for (format, options) in MODES {
            let mut mixed = PayloadEncoder::new(format, options);
            let mut plain = PayloadEncoder::new(format, options);
            for _payload in 0..2 {
                mixed.clear();
                plain.clear();
                for (n, &i) in order.iter().enumerate() {
                    let (chunk, as_view) = &entries[i];
                    // The second push of a viewable chunk takes the other form when asked.
                    let as_view = *as_view && (n < entries.len() || !second_as_view);
                    if as_view {
                        mixed.push_view(&ChunkView::of_chunk(chunk, &spans[i]));
                    } else {
                        mixed.push(chunk);
                    }
                    plain.push(chunk);
                }
                prop_assert_eq!(state(&mut mixed), state(&mut plain), "{} {:?}", format, options);
            }
        }
    }
}

/// One view in which every span key the chunk-level values replace is set: the proptests
/// reach these only by chance.
#[test]
fn a_view_with_every_colliding_key_encodes_as_its_chunk() {
    let mut chunk = spec_example();
    let trace_id = TraceId::from_parts(0x6650f1a2_00000000, 42);
    let mut child = chunk.spans[0].clone();
    child.parent_id = Some(child.span_id);
    child.span_id = id(3);
    chunk.spans.push(child);
    for span in &mut chunk.spans {
        span.trace_id = trace_id;
        span.meta.insert("_dd.origin", "span origin".into());
        span.meta.insert("_dd.p.tid", "0000000000000001".into());
        span.meta.insert("_dd.p.dm", "-1".into());
        span.meta.insert("events", "[]".into());
        span.meta.insert("_dd.span_links", "[]".into());
        span.metrics.insert("_sampling_priority_v1", -5.0);
        span.metrics.insert("process_id", 7.0);
    }
    chunk.priority = Some(SamplingPriority::USER_KEEP);
    chunk.origin = Some("synthetics".into());
    chunk.tags.insert("_dd.p.dm", "-4".into());
    chunk.tags.insert("_dd.p.tid", "ffffffffffffffff".into());
    chunk.tags.insert("_dd.origin", "tag origin".into());
    chunk.tags.insert("_dd.p.ksr", "0.5".into());

    let entries = Entries::of(&chunk);
    let spans = entries.spans(&chunk);
    let view = ChunkView::of_chunk(&chunk, &spans);
    for (format, options) in MODES {
        let mut by_chunk = PayloadEncoder::new(format, options);
        let mut by_view = PayloadEncoder::new(format, options);
        by_chunk.push(&chunk);
        by_view.push_view(&view);
        assert_eq!(state(&mut by_view), state(&mut by_chunk), "{format}");
        // And the chunk-level values won.
        let decoded = ddtrace_encoding::decode(format, by_view.finish()).unwrap();
        assert_eq!(decoded[0].priority, chunk.priority);
        assert_eq!(decoded[0].tags.get("_dd.p.dm").unwrap(), "-4");
        assert_eq!(decoded[0].spans[1].meta.get("_dd.origin"), None);
        assert_eq!(decoded[0].origin.as_deref(), Some("synthetics"));
    }
}

#[test]
fn a_view_without_spans_is_skipped() {
    let mut tags = TagMap::new();
    tags.insert("_dd.p.dm", "-0".into());
    let view = ChunkView {
        spans: &[],
        priority: Some(SamplingPriority::AUTO_KEEP),
        origin: Some("rum"),
        tags: &tags,
    };
    for (format, options) in MODES {
        let mut encoder = PayloadEncoder::new(format, options);
        let empty = state(&mut encoder);
        encoder.push_view(&view);
        assert!(encoder.is_empty());
        assert_eq!(state(&mut encoder), empty, "{format}");
        // Also between two chunks.
        let mut expected = PayloadEncoder::new(format, options);
        expected.push(&spec_example());
        expected.push(&spec_example());
        encoder.push(&spec_example());
        ChunkSink::push_view(&mut encoder, &view);
        encoder.push(&spec_example());
        assert_eq!(state(&mut encoder), state(&mut expected), "{format}");
    }
}

/// Through `dyn ChunkSink`, as the transport's worker uses it (with
/// [`PendingChunk::write_to`]): chunks and views land in the payload as with the inherent
/// methods.
#[test]
fn the_encoder_is_a_chunk_sink() {
    let chunk = spec_example();
    let entries = Entries::of(&chunk);
    let spans = entries.spans(&chunk);
    let view = ChunkView::of_chunk(&chunk, &spans);
    for (format, options) in MODES {
        let mut encoder = PayloadEncoder::new(format, options);
        {
            let sink: &mut dyn ChunkSink = &mut encoder;
            sink.push_view(&view);
            sink.push_chunk(&chunk);
            assert_eq!(Box::new(chunk.clone()).write_to(sink), 1);
            assert_eq!(Box::new(TraceChunk::new(vec![])).write_to(sink), 0);
        }
        let mut expected = PayloadEncoder::new(format, options);
        (0..3).for_each(|_| expected.push(&chunk));
        assert_eq!(state(&mut encoder), state(&mut expected), "{format}");
    }
}
