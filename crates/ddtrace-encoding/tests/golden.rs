//! Pinned payload bytes: `tests/golden/*.msgpack`, regenerated with `UPDATE_GOLDEN=1`, and
//! the byte examples of agent-api.md §4.5 and §5.2 (`tests/data/agent-api-*.hex`, copied
//! from the spec).

use ddtrace_encoding::{EncodeOptions, Format, PayloadEncoder, decode, encode};

use crate::common::{rich_example, spec_example, test_path};

fn check_golden(name: &str, bytes: &[u8]) {
    let path = test_path(&format!("golden/{name}.msgpack"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, bytes).unwrap();
    }
    let pinned = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert!(
        pinned == bytes,
        "{name}: encoder output differs from {} (rerun with UPDATE_GOLDEN=1 if intended)\n got: {}\nwant: {}",
        path.display(),
        hex(bytes),
        hex(&pinned)
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn spec_hex(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(test_path(&format!("data/{name}.hex"))).unwrap();
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
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

#[test]
fn spec_example_v04_is_byte_exact() {
    let bytes = encoded(Format::V04, EncodeOptions::default(), &[spec_example()]);
    assert_eq!(bytes.len(), 139);
    assert_eq!(hex(&bytes), hex(&spec_hex("agent-api-4.5")));
    check_golden("spec-v04", &bytes);
    assert_eq!(decode(Format::V04, &bytes).unwrap(), vec![spec_example()]);
}

#[test]
fn spec_example_v05_is_byte_exact() {
    let bytes = encoded(Format::V05, EncodeOptions::default(), &[spec_example()]);
    assert_eq!(bytes.len(), 84);
    assert_eq!(hex(&bytes), hex(&spec_hex("agent-api-5.2")));
    check_golden("spec-v05", &bytes);
    assert_eq!(decode(Format::V05, &bytes).unwrap(), vec![spec_example()]);
}

#[test]
fn rich_example_payloads_are_pinned() {
    let chunks = rich_example();
    let native = EncodeOptions {
        native_span_events: true,
    };
    for (name, format, options) in [
        ("rich-v04", Format::V04, EncodeOptions::default()),
        ("rich-v04-native-events", Format::V04, native),
        ("rich-v05", Format::V05, EncodeOptions::default()),
    ] {
        let bytes = encoded(format, options, &chunks);
        check_golden(name, &bytes);
        // The streaming encoder writes the same bytes.
        let mut encoder = PayloadEncoder::new(format, options);
        chunks.iter().for_each(|c| encoder.push(c));
        assert_eq!(encoder.finish(), &bytes[..], "{name}");

        let mut expected = chunks.clone();
        if format == Format::V05 {
            expected
                .iter_mut()
                .flat_map(|c| &mut c.spans)
                .for_each(|s| s.meta_struct.clear());
        }
        assert_eq!(decode(format, &bytes).unwrap(), expected, "{name}");
    }
}
