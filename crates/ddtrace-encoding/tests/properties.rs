//! Property tests: round trips, exact `encoded_len`, and no panics on any input.

use ddtrace_encoding::{EncodeOptions, Format, PayloadEncoder, decode, encode};
use ddtrace_model::TraceChunk;
use proptest::prelude::*;

use crate::common::arb;

const NATIVE: EncodeOptions = EncodeOptions {
    native_span_events: true,
};

/// What decoding an encoded `chunks` must give back in `format`.
fn expected(format: Format, chunks: &[TraceChunk]) -> Vec<TraceChunk> {
    let mut expected: Vec<TraceChunk> = chunks
        .iter()
        .filter(|c| !c.spans.is_empty())
        .cloned()
        .collect();
    if format == Format::V05 {
        // v0.5 has no slot for meta_struct.
        for span in expected.iter_mut().flat_map(|c| &mut c.spans) {
            span.meta_struct.clear();
        }
    }
    expected
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any model value round-trips through each format and event mode, also when the
    /// encoder is reused after an unrelated payload (string table generations).
    #[test]
    fn round_trips_in_every_format(previous in arb::chunks(), chunks in arb::chunks()) {
        for (format, options) in [
            (Format::V04, EncodeOptions::default()),
            (Format::V04, NATIVE),
            (Format::V05, EncodeOptions::default()),
        ] {
            let mut encoder = PayloadEncoder::new(format, options);
            previous.iter().for_each(|c| encoder.push(c));
            let _ = encoder.finish();
            encoder.clear();
            chunks.iter().for_each(|c| encoder.push(c));
            let bytes = encoder.finish().to_vec();

            let mut fresh = Vec::new();
            encode(format, options, &chunks, &mut fresh);
            prop_assert_eq!(&bytes, &fresh, "{} reused vs fresh", format);

            let decoded = decode(format, &bytes);
            prop_assert_eq!(decoded, Ok(expected(format, &chunks)), "{} {:?}", format, options);
        }
    }

    /// Chunks freed right after their push (so the next chunk's strings reuse their
    /// addresses, with other text) encode exactly as when they all stay alive: the v0.5
    /// identity cache never trusts an address from an earlier chunk without its text.
    #[test]
    fn chunks_freed_between_pushes_encode_the_same(chunks in arb::chunks()) {
        let all: Vec<TraceChunk> = chunks.iter().chain(chunks.iter().rev()).cloned().collect();
        let mut expected = Vec::new();
        encode(Format::V05, EncodeOptions::default(), &all, &mut expected);
        let mut encoder = PayloadEncoder::new(Format::V05, EncodeOptions::default());
        for _ in 0..2 {
            encoder.clear();
            for chunk in &all {
                let copy = chunk.clone();
                encoder.push(&copy);
            }
            prop_assert_eq!(encoder.finish(), &expected[..]);
        }
    }

    /// `encoded_len` is exact after every push, the counts follow the pushes, and
    /// `finish_into` writes what `finish` returns.
    #[test]
    fn encoded_len_is_exact(chunks in arb::chunks(), native in any::<bool>()) {
        for format in [Format::V04, Format::V05] {
            let mut encoder = PayloadEncoder::new(format, EncodeOptions { native_span_events: native });
            prop_assert_eq!(encoder.encoded_len(), encoder.finish().len());
            let mut into = vec![0xc1; 7];
            for chunk in &chunks {
                encoder.push(chunk);
                let len = encoder.encoded_len();
                prop_assert_eq!(len, encoder.finish().len());
                encoder.finish_into(&mut into);
                prop_assert_eq!(&into[..], encoder.finish());
            }
            let non_empty: Vec<_> = chunks.iter().filter(|c| !c.spans.is_empty()).collect();
            prop_assert_eq!(encoder.chunk_count(), non_empty.len());
            prop_assert_eq!(encoder.span_count(), non_empty.iter().map(|c| c.spans.len()).sum::<usize>());
        }
    }

    /// Arbitrary bytes never make the decoder panic.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(Format::V04, &bytes);
        let _ = decode(Format::V05, &bytes);
    }

    /// Nor do valid payloads with a byte changed, or cut short.
    #[test]
    fn decoding_damaged_payloads_never_panics(
        chunks in arb::chunks(),
        at in any::<prop::sample::Index>(),
        value in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        for format in [Format::V04, Format::V05] {
            let mut bytes = Vec::new();
            encode(format, NATIVE, &chunks, &mut bytes);
            let mut changed = bytes.clone();
            let i = at.index(changed.len());
            changed[i] = value;
            let _ = decode(format, &changed);
            let end = cut.index(bytes.len());
            if end < bytes.len() {
                prop_assert!(decode(format, &bytes[..end]).is_err());
            }
        }
    }
}

#[test]
fn an_empty_payload_is_an_empty_array() {
    for format in [Format::V04, Format::V05] {
        let mut encoder = PayloadEncoder::new(format, EncodeOptions::default());
        encoder.push(&TraceChunk::new(vec![]));
        assert!(encoder.is_empty());
        let expected: &[u8] = match format {
            Format::V04 => &[0x90],
            Format::V05 => &[0x92, 0x91, 0xa0, 0x90],
        };
        assert_eq!(encoder.finish(), expected);
        assert_eq!(decode(format, expected), Ok(vec![]));
    }
}
