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
