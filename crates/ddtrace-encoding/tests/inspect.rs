//! `inspect` against `decode`: on every payload, valid or not, the same result (the same
//! counts, or the same error).
//!
//! `inspect` makes every check `decode` makes (what it leaves out, the JSON fallbacks and the
//! chunk-level lifting, cannot fail), so the property is plain equality, errors included:
//! nothing is only checked by `decode`.

use ddtrace_encoding::{EncodeOptions, Error, Format, decode, encode, inspect};
use proptest::prelude::*;

use crate::common::{arb, test_path};

const NATIVE: EncodeOptions = EncodeOptions {
    native_span_events: true,
};

/// (chunks, spans) as `inspect` counts them.
fn inspected(format: Format, payload: &[u8]) -> Result<(usize, usize), Error> {
    inspect(format, payload).map(|s| (s.chunks, s.spans))
}

/// (chunks, spans) of what `decode` returns.
fn decoded(format: Format, payload: &[u8]) -> Result<(usize, usize), Error> {
    decode(format, payload).map(|chunks| (chunks.len(), chunks.iter().map(|c| c.spans.len()).sum()))
}

/// Both formats read `payload` the same way through `inspect` and `decode`.
fn agree(payload: &[u8]) -> Result<(), TestCaseError> {
    for format in [Format::V04, Format::V05] {
        prop_assert_eq!(
            inspected(format, payload),
            decoded(format, payload),
            "{} {:02x?}",
            format,
            payload
        );
    }
    Ok(())
}

fn encoded(
    format: Format,
    options: EncodeOptions,
    chunks: &[ddtrace_model::TraceChunk],
) -> Vec<u8> {
    let mut out = Vec::new();
    encode(format, options, chunks, &mut out);
    out
}

/// Every recorded and pinned payload of the crate's tests, with its format.
fn recorded() -> Vec<(String, Format, Vec<u8>)> {
    let mut out = Vec::new();
    for (dir, name, format) in [
        ("data", "v04-sample", Format::V04),
        ("data", "v04-sample-default-events", Format::V04),
        ("data", "v05-sample", Format::V05),
        ("golden", "spec-v04", Format::V04),
        ("golden", "spec-v05", Format::V05),
        ("golden", "rich-v04", Format::V04),
        ("golden", "rich-v04-native-events", Format::V04),
        ("golden", "rich-v05", Format::V05),
    ] {
        let path = test_path(&format!("{dir}/{name}.msgpack"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.push((name.to_owned(), format, bytes));
    }
    out
}

#[test]
fn recorded_payloads_inspect_to_the_counts_decode_gives() {
    for (name, format, bytes) in recorded() {
        let expected = match name.as_str() {
            // The Python tracer's payloads: one trace of root, db and publish spans.
            "v04-sample" | "v04-sample-default-events" | "v05-sample" => (1, 3),
            "spec-v04" | "spec-v05" => (1, 1),
            // `rich_example`: a chunk of two spans and one of one.
            _ => (2, 3),
        };
        assert_eq!(decoded(format, &bytes), Ok(expected), "{name}");
        assert_eq!(inspected(format, &bytes), Ok(expected), "{name}");
        // In the other format, both refuse it the same way.
        let other = match format {
            Format::V04 => Format::V05,
            Format::V05 => Format::V04,
        };
        let wrong = inspected(other, &bytes);
        assert!(wrong.is_err(), "{name} as {other}");
        assert_eq!(wrong, decoded(other, &bytes), "{name} as {other}");
    }
}

/// Each recorded payload cut at every length, and with every byte replaced by values that
/// change its meaning (other markers, neighbouring values, one bit flipped).
#[test]
fn every_truncation_and_byte_change_of_recorded_payloads_agrees() {
    for (name, format, bytes) in recorded() {
        for end in 0..bytes.len() {
            let cut = &bytes[..end];
            let result = inspected(format, cut);
            assert!(result.is_err(), "{name} cut at {end}");
            assert_eq!(result, decoded(format, cut), "{name} cut at {end}");
        }
        let mut changed = bytes.clone();
        for i in 0..bytes.len() {
            let b = bytes[i];
            for value in [
                0x00,
                0x7f,
                0xc0,
                0xc1,
                0xc3,
                0xcf,
                0xd3,
                0xdd,
                0xff,
                b ^ 0x01,
                b ^ 0x80,
                b.wrapping_add(1),
                b.wrapping_sub(1),
            ] {
                changed[i] = value;
                assert_eq!(
                    inspected(format, &changed),
                    decoded(format, &changed),
                    "{name} with byte {i} set to {value:#04x}"
                );
            }
            changed[i] = b;
        }
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// What the encoder writes from any chunks inspects to the counts of what it decodes to:
    /// every chunk that has spans (the encoder writes no empty chunk), and all their spans.
    #[test]
    fn encoded_chunks_inspect_to_the_decoded_counts(chunks in arb::chunks()) {
        let non_empty: Vec<_> = chunks.iter().filter(|c| !c.spans.is_empty()).collect();
        let expected = (non_empty.len(), non_empty.iter().map(|c| c.spans.len()).sum::<usize>());
        for (format, options) in [
            (Format::V04, EncodeOptions::default()),
            (Format::V04, NATIVE),
            (Format::V05, EncodeOptions::default()),
        ] {
            let bytes = encoded(format, options, &chunks);
            prop_assert_eq!(inspected(format, &bytes), Ok(expected), "{} {:?}", format, options);
            prop_assert_eq!(decoded(format, &bytes), Ok(expected), "{} {:?}", format, options);
        }
    }

    /// Arbitrary bytes: no panic, and the same answer as `decode`.
    #[test]
    fn arbitrary_bytes_agree(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        agree(&bytes)?;
    }

    /// Arbitrary bytes behind a valid start (so that the walk gets into the spans): the same
    /// answer as `decode`.
    #[test]
    fn arbitrary_spans_agree(
        prefix in prop_oneof![
            Just(&[0x91, 0x91][..]),
            Just(&[0x91, 0x92][..]),
            Just(&[0x92, 0x92, 0xa1, b'a', 0xa0, 0x91, 0x91][..]),
        ],
        tail in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&tail);
        agree(&bytes)?;
    }

    /// A valid payload cut short, or with one byte changed, or with bytes inserted: no panic,
    /// and the same answer (counts or error) as `decode`.
    #[test]
    fn damaged_payloads_agree(
        chunks in arb::chunks(),
        at in any::<prop::sample::Index>(),
        value in any::<u8>(),
        cut in any::<prop::sample::Index>(),
        inserted in proptest::collection::vec(any::<u8>(), 1..4),
    ) {
        for (format, options) in [
            (Format::V04, EncodeOptions::default()),
            (Format::V04, NATIVE),
            (Format::V05, EncodeOptions::default()),
        ] {
            let bytes = encoded(format, options, &chunks);
            let mut changed = bytes.clone();
            let i = at.index(changed.len());
            changed[i] = value;
            agree(&changed)?;
            let end = cut.index(bytes.len());
            if end < bytes.len() {
                prop_assert!(inspect(format, &bytes[..end]).is_err());
            }
            agree(&bytes[..end])?;
            let mut longer = bytes.clone();
            longer.splice(i..i, inserted.iter().copied());
            agree(&longer)?;
        }
    }
}
