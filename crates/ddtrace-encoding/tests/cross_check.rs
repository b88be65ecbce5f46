//! An independent decoder (`rmp-serde` into `#[derive(Deserialize)]` structs) reads our
//! payloads, and an independent statement of the chunk-level rules checks them.

use ddtrace_encoding::{EncodeOptions, Format, encode};
use ddtrace_model::TraceChunk;
use proptest::prelude::*;

use crate::common::{arb, rich_example, spec_example};
use crate::wire::{Mode, V05Payload, WireSpan, check_payload, resolve_v05};

fn check(chunks: &[TraceChunk], format: Format, native_events: bool) {
    let mut bytes = Vec::new();
    encode(
        format,
        EncodeOptions {
            native_span_events: native_events,
        },
        chunks,
        &mut bytes,
    );
    let chunks: Vec<TraceChunk> = chunks
        .iter()
        .filter(|c| !c.spans.is_empty())
        .cloned()
        .collect();
    let (wire, mode) = match format {
        Format::V04 => (
            rmp_serde::from_slice::<Vec<Vec<WireSpan>>>(&bytes).unwrap(),
            Mode {
                native_links: true,
                native_events,
                maps_always_present: true,
            },
        ),
        Format::V05 => (
            resolve_v05(rmp_serde::from_slice::<V05Payload>(&bytes).unwrap()),
            Mode {
                native_links: false,
                native_events: false,
                maps_always_present: true,
            },
        ),
    };
    check_payload(&wire, &chunks, mode);
}

#[test]
fn fixed_payloads_read_the_same_with_rmp_serde() {
    for chunks in [vec![spec_example()], rich_example()] {
        check(&chunks, Format::V04, false);
        check(&chunks, Format::V04, true);
        check(&chunks, Format::V05, false);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_payload_reads_the_same_with_rmp_serde(chunks in arb::chunks(), native in any::<bool>()) {
        check(&chunks, Format::V04, native);
        check(&chunks, Format::V05, false);
    }
}

mod reserved_keys {
    //! Spans that carry reserved keys themselves, and chunk tags that collide with other
    //! chunk-level keys: every map key is written once, and the chunk-level value wins
    //! (precedence: span < chunk tags < `_dd.p.tid` < `_dd.origin` < JSON fallbacks).

    use std::collections::HashMap;

    use ddtrace_encoding::{EncodeOptions, Format, encode};
    use ddtrace_model::TraceChunk;
    use proptest::prelude::*;

    use crate::common::arb::with_reserved_keys;
    use crate::wire::{RawMap, RawSpanV04, RawSpanV05};

    fn expected_meta(chunk: &TraceChunk, i: usize, json_keys: &[&str]) -> HashMap<String, String> {
        let span = &chunk.spans[i];
        let mut meta: HashMap<String, String> = span
            .meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if i == 0 {
            for (k, v) in chunk.tags.iter().filter(|(k, _)| k.as_str() != "_dd.p.tid") {
                meta.insert(k.to_string(), v.to_string());
            }
            if span.trace_id.high() != 0 {
                meta.insert("_dd.p.tid".into(), format!("{:016x}", span.trace_id.high()));
            }
        }
        if let Some(origin) = &chunk.origin {
            meta.insert("_dd.origin".into(), origin.to_string());
        }
        for key in json_keys {
            meta.remove(*key);
        }
        meta
    }

    fn expected_metrics(chunk: &TraceChunk, i: usize) -> HashMap<String, u64> {
        let mut metrics: HashMap<String, u64> = chunk.spans[i]
            .metrics
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_bits()))
            .collect();
        if let (0, Some(p)) = (i, chunk.priority) {
            metrics.insert("_sampling_priority_v1".into(), f64::from(p.get()).to_bits());
        }
        metrics
    }

    /// Removes the JSON fallback entries (checked elsewhere) after checking they are JSON.
    fn drop_json(meta: &mut HashMap<String, String>, keys: &[&str]) {
        for key in keys {
            let text = meta.remove(*key).unwrap_or_else(|| panic!("{key} missing"));
            assert!(
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap()
                    .is_array()
            );
        }
    }

    fn json_keys(
        chunk: &TraceChunk,
        i: usize,
        v05: bool,
        native_events: bool,
    ) -> Vec<&'static str> {
        let span = &chunk.spans[i];
        let mut keys = Vec::new();
        if v05 && !span.links.is_empty() {
            keys.push("_dd.span_links");
        }
        if (v05 || !native_events) && !span.events.is_empty() {
            keys.push("events");
        }
        keys
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn chunk_values_win_and_no_key_is_written_twice(
            chunk in with_reserved_keys(),
            native in any::<bool>(),
        ) {
            let chunks = vec![chunk];
            let chunk = &chunks[0];
            let mut bytes = Vec::new();
            encode(Format::V04, EncodeOptions { native_span_events: native }, &chunks, &mut bytes);
            // Span-level keys are unique too.
            let spans: Vec<Vec<RawMap<String, serde::de::IgnoredAny>>> =
                rmp_serde::from_slice(&bytes).unwrap();
            spans.iter().flatten().for_each(|s| { s.unique(); });
            let wire: Vec<Vec<RawSpanV04>> = rmp_serde::from_slice(&bytes).unwrap();
            for (i, span) in wire.iter().flatten().enumerate() {
                let keys = json_keys(chunk, i, false, native);
                let mut meta = span.meta.unique();
                drop_json(&mut meta, &keys);
                prop_assert_eq!(meta, expected_meta(chunk, i, &keys));
                let metrics: HashMap<String, u64> =
                    span.metrics.unique().into_iter().map(|(k, v)| (k, v.to_bits())).collect();
                prop_assert_eq!(metrics, expected_metrics(chunk, i));
            }

            encode(Format::V05, EncodeOptions::default(), &chunks, &mut bytes);
            let (table, wire): (Vec<String>, Vec<Vec<RawSpanV05>>) =
                rmp_serde::from_slice(&bytes).unwrap();
            let s = |i: &u32| table[*i as usize].clone();
            for (i, span) in wire.iter().flatten().enumerate() {
                let keys = json_keys(chunk, i, true, false);
                let mut meta: HashMap<String, String> = RawMap(
                    span.9.0.iter().map(|(k, v)| (s(k), s(v))).collect(),
                )
                .unique();
                drop_json(&mut meta, &keys);
                prop_assert_eq!(meta, expected_meta(chunk, i, &keys));
                let metrics: HashMap<String, u64> = RawMap(
                    span.10.0.iter().map(|(k, v)| (s(k), v.to_bits())).collect(),
                )
                .unique();
                prop_assert_eq!(metrics, expected_metrics(chunk, i));
            }
        }
    }
}
