//! The payloads Datadog's Python tracer sent (`tests/data/*-sample*`, copied from the shared
//! vectors): our decoder must read them as the model that their `body_decoded` dump
//! describes, and what we re-encode from that model must decode to it again.
//!
//! Divergences from the spec in these payloads (vectors README, "Payload"): ddtrace omits
//! empty `metrics`, `error: 0` and `parent_id: 0`; the checks accept missing `meta`/`metrics`
//! for its payloads only. It writes events as meta JSON unless told otherwise (divergence 15):
//! `v04-sample` was recorded with native events, `v04-sample-default-events` without.

use ddtrace_encoding::{EncodeOptions, Format, decode, encode};
use ddtrace_model::TraceChunk;
use serde_json::Value;

use crate::common::test_path;
use crate::wire::{Mode, V05Payload, WireSpan, check_payload, resolve_v05};

struct Vector {
    body: Vec<u8>,
    json: Value,
    raw_json: String,
}

fn load(name: &str) -> Vector {
    let body = std::fs::read(test_path(&format!("data/{name}.msgpack"))).unwrap();
    let raw_json = std::fs::read_to_string(test_path(&format!("data/{name}.json"))).unwrap();
    let json: Value = serde_json::from_str(&raw_json).unwrap();
    assert_eq!(
        json["request"]["body_length"].as_u64(),
        Some(body.len() as u64)
    );
    Vector {
        body,
        json,
        raw_json,
    }
}

/// The 128-bit trace id in the record's `ids` (too large for `serde_json::Value`'s numbers).
fn recorded_trace_id(raw_json: &str) -> u128 {
    let ids = &raw_json[raw_json.find("\"ids\"").unwrap()..];
    let at = ids.find("\"trace_id\":").unwrap() + "\"trace_id\":".len();
    let digits: String = ids[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

fn check_vector(name: &str, format: Format, native_events: bool) {
    let vector = load(name);
    let decoded = decode(format, &vector.body).unwrap();

    // The decoded model, put back on the wire by the checker's own rules, is the recorded body.
    let wire: Vec<Vec<WireSpan>> = match format {
        Format::V04 => serde_json::from_value(vector.json["body_decoded"].clone()).unwrap(),
        Format::V05 => resolve_v05(
            serde_json::from_value::<V05Payload>(vector.json["body_decoded"].clone()).unwrap(),
        ),
    };
    let mode = Mode {
        native_links: format == Format::V04,
        native_events,
        maps_always_present: false,
    };
    check_payload(&wire, &decoded, mode);

    // Chunk-level values were lifted: the 128-bit id, priority and decision maker.
    assert_eq!(decoded.len(), 1);
    let chunk = &decoded[0];
    let ids = &vector.json["ids"];
    let span_ids: Vec<u64> = chunk.spans.iter().map(|s| s.span_id.get()).collect();
    let recorded: Vec<u64> = ["root", "db", "publish"]
        .iter()
        .map(|k| ids[k].as_u64().unwrap())
        .collect();
    assert_eq!(span_ids, recorded);
    let trace_id = recorded_trace_id(&vector.raw_json);
    assert!(chunk.spans.iter().all(|s| s.trace_id.as_u128() == trace_id));
    assert_eq!(chunk.priority.map(|p| p.get()), Some(1));
    assert_eq!(chunk.tags.get("_dd.p.dm").map(|v| v.as_str()), Some("-0"));
    assert!(chunk.spans[0].meta.get("_dd.p.tid").is_none());
    // The link and the events came back as model values in every format.
    let publish = &chunk.spans[2];
    assert_eq!(publish.links.len(), 1);
    assert_eq!(publish.links[0].flags, Some(1));
    assert_eq!(
        publish.links[0].trace_id.to_string(),
        "640cfd8d00000000a3ce929d0e0e4736"
    );
    assert_eq!(publish.events.len(), 1);
    assert_eq!(chunk.spans[1].events.len(), 1);

    // Re-encoding what we decoded gives the same model back, in every format.
    for (f, options) in [
        (
            format,
            EncodeOptions {
                native_span_events: native_events,
            },
        ),
        (
            Format::V04,
            EncodeOptions {
                native_span_events: !native_events,
            },
        ),
        (Format::V05, EncodeOptions::default()),
    ] {
        let mut out = Vec::new();
        encode(f, options, &decoded, &mut out);
        let again: Vec<TraceChunk> = decode(f, &out).unwrap();
        assert_eq!(again, decoded, "{name} re-encoded as {f} {options:?}");
    }
}

#[test]
fn python_v04_payload_with_native_events() {
    check_vector("v04-sample", Format::V04, true);
}

#[test]
fn python_v04_payload_with_events_in_meta() {
    check_vector("v04-sample-default-events", Format::V04, false);
}

#[test]
fn python_v05_payload() {
    check_vector("v05-sample", Format::V05, false);
}

#[test]
fn a_payload_decoded_in_the_wrong_format_is_an_error() {
    let v04 = load("v04-sample").body;
    let v05 = load("v05-sample").body;
    assert!(decode(Format::V05, &v04).is_err());
    assert!(decode(Format::V04, &v05).is_err());
}
