//! The payload walker: every value of a payload read and checked as [`decode`] reads it,
//! without building the model.
//!
//! The walk mirrors `decode.rs` read for read (same [`Reader`] primitives, same order, same
//! field dispatch), so that both accept the same payloads and fail with the same error; the
//! tests check this on every payload they can make, damaged ones included. A change to what
//! the decoder reads must be made here too.

use crate::decode::utf8;
use crate::read::Reader;
use crate::{Error, Format, Result};

#[cfg(doc)]
use crate::decode;

/// What [`inspect`] counted in a payload.
///
/// ```
/// use ddtrace_encoding::{inspect, Format};
///
/// // Two traces: one empty, one with a span `{"span_id": 1}`.
/// let payload = [0x92, 0x90, 0x91, 0x81, 0xa7, b's', b'p', b'a', b'n', b'_', b'i', b'd', 0x01];
/// let summary = inspect(Format::V04, &payload)?;
/// assert_eq!((summary.chunks, summary.spans), (2, 1));
/// # Ok::<(), ddtrace_encoding::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct PayloadSummary {
    /// Trace chunks, empty ones included: the length of what [`decode`] returns.
    pub chunks: usize,
    /// Spans, over all chunks.
    pub spans: usize,
}

/// Reads a payload of `format` through to its end, checking it as [`decode`] does, and
/// counts its chunks and spans, without building them: no allocation at all, whatever the
/// payload.
///
/// Every byte is read: each value the decoder reads is read with the same checks (the
/// layout of each format, msgpack types, lengths against the bytes left, UTF-8 of every
/// string the decoder turns into text, integer ranges, non-zero span ids and span link ids,
/// v0.5 string indexes against the table, trailing bytes), and each value the decoder skips
/// (unknown v0.4 fields) is skipped as it skips it, checked to be well-formed msgpack. So
/// `inspect` fails exactly when `decode` does, with the same [`Error`], and otherwise its
/// counts are those of the chunks `decode` returns. It never panics.
///
/// What it leaves out cannot fail: the decoder's reading of the JSON fallbacks in meta
/// (`_dd.span_links`, `events`; malformed JSON stays in meta) and of invalid span event
/// attributes (dropped), and its moving of chunk-level values (priority, `_dd.p.*`,
/// `_dd.origin`) from the spans to the chunk.
///
/// It is meant for a receiver that only needs to check and count what it is sent, such as a
/// benchmark's stand-in agent: it costs a small fraction of [`decode`], which allocates the
/// model's spans, maps and strings only to drop them.
///
/// # Errors
///
/// The [`Error`] that [`decode`] returns for the same payload.
///
/// ```
/// use ddtrace_encoding::{decode, encode, inspect, EncodeOptions, Error, Format};
/// use ddtrace_model::{Span, SpanId, TraceChunk, TraceId};
///
/// let span = |id| Span::new(TraceId::from_u128(1), SpanId::new(id).unwrap(), "op");
/// let chunks = vec![TraceChunk::new(vec![span(1), span(2)]), TraceChunk::new(vec![span(3)])];
/// for format in [Format::V04, Format::V05] {
///     let mut body = Vec::new();
///     encode(format, EncodeOptions::default(), &chunks, &mut body);
///     let summary = inspect(format, &body)?;
///     assert_eq!((summary.chunks, summary.spans), (2, 3));
///
///     // A damaged payload fails as it fails to decode.
///     let cut = &body[..body.len() - 1];
///     assert!(matches!(inspect(format, cut), Err(Error::Truncated { .. })));
///     assert_eq!(inspect(format, cut).err(), decode(format, cut).err());
/// }
/// # Ok::<(), Error>(())
/// ```
pub fn inspect(format: Format, payload: &[u8]) -> Result<PayloadSummary> {
    let mut r = Reader::new(payload);
    let summary = match format {
        Format::V04 => walk_v04(&mut r)?,
        Format::V05 => walk_v05(&mut r)?,
    };
    r.end()?;
    Ok(summary)
}

/// A string the decoder turns into text: read and checked to be UTF-8 (as
/// [`Reader::str`] checks it, with an inline path for ASCII, which most text is).
#[inline(always)]
fn text(r: &mut Reader<'_>) -> Result<()> {
    let offset = r.offset();
    let bytes = r.raw_str()?;
    if !bytes.is_ascii() {
        utf8(bytes, offset)?;
    }
    Ok(())
}

fn walk_v04(r: &mut Reader<'_>) -> Result<PayloadSummary> {
    let chunks = r.array_len()?;
    let mut spans = 0usize;
    for _ in 0..chunks {
        let n = r.array_len()?;
        for _ in 0..n {
            span_v04(r)?;
        }
        // Each span took at least one byte: no overflow.
        spans = spans.saturating_add(n);
    }
    Ok(PayloadSummary { chunks, spans })
}

/// One v0.4 span map (`decode::span_v04`).
fn span_v04(r: &mut Reader<'_>) -> Result<()> {
    let fields = r.map_len()?;
    let mut span_id = 0;
    for _ in 0..fields {
        // Keys are matched as bytes: only an unknown key needs its UTF-8 checked.
        let offset = r.offset();
        match r.raw_str()? {
            b"service" | b"name" | b"resource" | b"type" => text(r)?,
            b"trace_id" | b"parent_id" => {
                r.u64()?;
            }
            b"span_id" => span_id = r.u64()?,
            b"start" => {
                r.i64("start")?;
            }
            b"duration" => {
                r.i64("duration")?;
            }
            b"error" => {
                r.flag()?;
            }
            b"meta" => {
                for _ in 0..r.map_len()? {
                    text(r)?;
                    text(r)?;
                }
            }
            b"metrics" => {
                for _ in 0..r.map_len()? {
                    text(r)?;
                    r.f64()?;
                }
            }
            b"meta_struct" => {
                for _ in 0..r.map_len()? {
                    text(r)?;
                    r.bin()?;
                }
            }
            b"span_links" => {
                for _ in 0..r.array_len()? {
                    link_v04(r)?;
                }
            }
            b"span_events" => {
                for _ in 0..r.array_len()? {
                    event_v04(r)?;
                }
            }
            other => {
                utf8(other, offset)?;
                r.skip()?;
            }
        }
    }
    if span_id == 0 {
        return Err(Error::MissingId {
            offset: r.offset(),
            field: "span_id",
        });
    }
    Ok(())
}

/// One native span link (`decode::link_v04`).
fn link_v04(r: &mut Reader<'_>) -> Result<()> {
    let mut span_id = 0;
    for _ in 0..r.map_len()? {
        match r.str()? {
            "trace_id" | "trace_id_high" => {
                r.u64()?;
            }
            "span_id" => span_id = r.u64()?,
            "tracestate" => text(r)?,
            "flags" => {
                r.u32("flags")?;
            }
            "attributes" => {
                for _ in 0..r.map_len()? {
                    text(r)?;
                    text(r)?;
                }
            }
            _ => r.skip()?,
        }
    }
    if span_id == 0 {
        return Err(Error::MissingId {
            offset: r.offset(),
            field: "span_links.span_id",
        });
    }
    Ok(())
}

/// One native span event (`decode::event_v04`).
fn event_v04(r: &mut Reader<'_>) -> Result<()> {
    for _ in 0..r.map_len()? {
        match r.str()? {
            "time_unix_nano" => {
                r.u64()?;
            }
            "name" => text(r)?,
            "attributes" => {
                for _ in 0..r.map_len()? {
                    text(r)?;
                    attribute_v04(r, true)?;
                }
            }
            _ => r.skip()?,
        }
    }
    Ok(())
}

/// One `{type, <kind>_value}` attribute map (`decode::attribute_v04`); the values the decoder
/// drops (unknown type, mixed arrays) are well-formed, so only their reading can fail.
/// Recurses once at most (array items are not arrays).
fn attribute_v04(r: &mut Reader<'_>, allow_array: bool) -> Result<()> {
    for _ in 0..r.map_len()? {
        match r.str()? {
            "type" => {
                r.u64()?;
            }
            "string_value" => text(r)?,
            "bool_value" => {
                r.bool()?;
            }
            "int_value" => {
                r.i64("int_value")?;
            }
            "double_value" => {
                r.f64()?;
            }
            "array_value" if allow_array => {
                for _ in 0..r.map_len()? {
                    if r.str()? != "values" {
                        r.skip()?;
                        continue;
                    }
                    for _ in 0..r.array_len()? {
                        attribute_v04(r, false)?;
                    }
                }
            }
            _ => r.skip()?,
        }
    }
    Ok(())
}

/// A v0.5 string index, checked against a table of `len` strings.
#[inline(always)]
fn index(r: &mut Reader<'_>, len: usize) -> Result<()> {
    let offset = r.offset();
    let index = r.u64()?;
    if usize::try_from(index).is_ok_and(|i| i < len) {
        Ok(())
    } else {
        Err(Error::StringIndex { offset, index, len })
    }
}

/// A v0.5 payload (`decode::decode_v05`).
fn walk_v05(r: &mut Reader<'_>) -> Result<PayloadSummary> {
    let offset = r.offset();
    let parts = r.array_len()?;
    if parts != 2 {
        return Err(Error::ArrayLength {
            offset,
            expected: 2,
            found: parts,
        });
    }
    let strings = r.array_len()?;
    for _ in 0..strings {
        text(r)?;
    }
    let chunks = r.array_len()?;
    let mut spans = 0usize;
    for _ in 0..chunks {
        let n = r.array_len()?;
        for _ in 0..n {
            let offset = r.offset();
            let fields = r.array_len()?;
            if fields != 12 {
                return Err(Error::ArrayLength {
                    offset,
                    expected: 12,
                    found: fields,
                });
            }
            // service, name, resource
            for _ in 0..3 {
                index(r, strings)?;
            }
            r.u64()?; // trace_id
            let span_id = r.u64()?;
            r.u64()?; // parent_id
            r.i64("start")?;
            r.i64("duration")?;
            r.flag()?;
            for _ in 0..r.map_len()? {
                index(r, strings)?;
                index(r, strings)?;
            }
            for _ in 0..r.map_len()? {
                index(r, strings)?;
                r.f64()?;
            }
            index(r, strings)?; // type
            if span_id == 0 {
                return Err(Error::MissingId {
                    offset: r.offset(),
                    field: "span_id",
                });
            }
        }
        // Each span took at least one byte: no overflow.
        spans = spans.saturating_add(n);
    }
    Ok(PayloadSummary { chunks, spans })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

    fn same(format: Format, payload: &[u8]) -> Result<PayloadSummary> {
        let summary = inspect(format, payload);
        let decoded = decode(format, payload).map(|chunks| PayloadSummary {
            chunks: chunks.len(),
            spans: chunks.iter().map(|c| c.spans.len()).sum(),
        });
        assert_eq!(summary, decoded, "{payload:02x?}");
        summary
    }

    #[test]
    fn every_error_the_decoder_makes_is_made_the_same() {
        // [[{"span_id": 0}]]
        let zero_id = [
            0x91, 0x91, 0x81, 0xa7, b's', b'p', b'a', b'n', b'_', b'i', b'd', 0x00,
        ];
        assert!(matches!(
            same(Format::V04, &zero_id),
            Err(Error::MissingId { offset: 12, .. })
        ));
        // [[{"start": u64::MAX}]]
        let mut start = vec![0x91, 0x91, 0x81, 0xa5];
        start.extend_from_slice(b"start");
        start.push(0xcf);
        start.extend_from_slice(&[0xff; 8]);
        assert!(matches!(
            same(Format::V04, &start),
            Err(Error::IntegerOutOfRange { field: "start", .. })
        ));
        // [[{"\xff": 1}]]
        assert_eq!(
            same(Format::V04, &[0x91, 0x91, 0x81, 0xa1, 0xff, 0x01]),
            Err(Error::InvalidUtf8 { offset: 3 })
        );
        // [[{"span_links": [{}] , ...}]]: a link without a span id.
        let mut link = vec![0x91, 0x91, 0x81, 0xaa];
        link.extend_from_slice(b"span_links");
        link.extend_from_slice(&[0x91, 0x80]);
        assert!(matches!(
            same(Format::V04, &link),
            Err(Error::MissingId {
                field: "span_links.span_id",
                ..
            })
        ));
        // [[{"span_events": [{"attributes": {"k": {"bool_value": 1}}}]}]]
        let mut event = vec![0x91, 0x91, 0x81, 0xab];
        event.extend_from_slice(b"span_events");
        event.extend_from_slice(&[0x91, 0x81, 0xaa]);
        event.extend_from_slice(b"attributes");
        event.extend_from_slice(&[0x81, 0xa1, b'k', 0x81, 0xaa]);
        event.extend_from_slice(b"bool_value");
        event.push(0x01);
        assert!(matches!(
            same(Format::V04, &event),
            Err(Error::UnexpectedType { .. })
        ));
        // v0.5: a service index beyond a table of one string.
        let mut v05 = vec![0x92, 0x91, 0xa0, 0x91, 0x91, 0x9c, 0x05];
        v05.extend_from_slice(&[0; 11]);
        assert!(matches!(
            same(Format::V05, &v05),
            Err(Error::StringIndex {
                index: 5,
                len: 1,
                ..
            })
        ));
        assert!(matches!(
            same(Format::V05, &[0x93, 0x90, 0x90, 0x90]),
            Err(Error::ArrayLength { expected: 2, .. })
        ));
        assert!(matches!(
            same(Format::V04, &[0x90, 0x00]),
            Err(Error::TrailingBytes { count: 1 })
        ));
    }

    #[test]
    fn nil_and_unknown_fields_read_as_the_decoder_reads_them() {
        // [nil, [{"span_id": 3, "x": [1, {"y": nil}], "meta": nil}]]
        let mut payload = vec![0x92, 0xc0, 0x91, 0x83, 0xa7];
        payload.extend_from_slice(b"span_id");
        payload.extend_from_slice(&[0x03, 0xa1, b'x', 0x92, 0x01, 0x81, 0xa1, b'y', 0xc0]);
        payload.extend_from_slice(&[0xa4, b'm', b'e', b't', b'a', 0xc0]);
        assert_eq!(
            same(Format::V04, &payload),
            Ok(PayloadSummary {
                chunks: 2,
                spans: 1
            })
        );
    }
}
