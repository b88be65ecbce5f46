//! The decoders: wire spans back into the model.

use std::num::NonZeroU64;
use std::sync::Arc;

use ddtrace_model::{
    AttributeArray, AttributeValue, SamplingPriority, Span, SpanEvent, SpanId, SpanLink, Str,
    TagMap, TraceChunk, TraceId, tags,
};

use crate::intern::{FoldState, same_bytes};
use crate::read::Reader;
use crate::{Error, Format, Result, json};

/// Decodes a payload of `format` into its chunks, undoing what the encoder puts on the wire.
///
/// Per chunk: metric `_sampling_priority_v1` of the first span becomes
/// [`TraceChunk::priority`] (when it is an integer), the first span's `_dd.p.*` meta become
/// [`TraceChunk::tags`] except `_dd.p.tid`, which restores the high half of the trace id of
/// every span of the chunk (when it is 16 lower-case hex digits), and `_dd.origin` (first span
/// that has it) becomes [`TraceChunk::origin`] and is removed from every span. Per span, meta
/// `_dd.span_links` and `events` holding well-formed JSON become links and events (appended
/// after native ones); malformed JSON stays in meta as it was.
///
/// So a model value round-trips exactly through [`encode`](crate::encode) and `decode` as long
/// as its spans do not carry those reserved keys themselves, the spans of each chunk share one
/// trace id, the chunk tags are `_dd.p.*` keys, and event doubles are finite; v0.5 also drops
/// `meta_struct`, which it has no slot for.
///
/// Decoding is strict about structure (wrong types, truncation, trailing bytes, a v0.5 span
/// without exactly 12 fields are errors) and lenient about encodings the agent accepts: any
/// integer width, `nil` for strings and maps, integers for floats, unknown v0.4 span keys
/// (skipped). It never panics, and its allocations are bounded by the payload's length.
///
/// [`inspect`](crate::inspect()) makes the same checks and counts the chunks and spans without
/// building them, at a fraction of the cost.
///
/// Equal strings usually share one allocation: each v0.5 table entry becomes one `Arc<str>`,
/// and v0.4 text read again reuses the `Str` made the first time (a bounded cache).
///
/// # Errors
///
/// [`Error`] describes the first problem found and its byte offset.
///
/// ```
/// use ddtrace_encoding::{decode, Error, Format};
///
/// assert!(decode(Format::V04, &[0x90])?.is_empty());
/// assert!(matches!(decode(Format::V04, &[0x91]), Err(Error::Truncated { .. })));
/// # Ok::<(), Error>(())
/// ```
pub fn decode(format: Format, payload: &[u8]) -> Result<Vec<TraceChunk>> {
    let mut r = Reader::new(payload);
    let chunks = match format {
        Format::V04 => decode_v04(&mut r)?,
        Format::V05 => decode_v05(&mut r)?,
    };
    r.end()?;
    Ok(chunks)
}

fn decode_v04(r: &mut Reader<'_>) -> Result<Vec<TraceChunk>> {
    let mut t = Texts::new(r.remaining());
    let n = r.array_len()?;
    let mut chunks = Vec::with_capacity(n);
    for _ in 0..n {
        let m = r.array_len()?;
        let mut spans = Vec::with_capacity(m);
        for _ in 0..m {
            spans.push(span_v04(r, &mut t)?);
        }
        chunks.push(lift_chunk(spans));
    }
    Ok(chunks)
}

/// Stands in for a span id until the real one is read (then checked non-zero).
fn placeholder_id() -> SpanId {
    SpanId::from(NonZeroU64::MIN)
}

/// Sets of [`Texts`] (at most; fewer for a small payload).
const TEXT_SETS: usize = 256;
/// Entries per set of [`Texts`].
const TEXT_WAYS: usize = 4;

/// A string read earlier from the payload.
#[derive(Clone, Default)]
struct Seen<'a> {
    hash: u64,
    bytes: &'a [u8],
    /// `None` only in a way never filled (whose `bytes` match nothing read).
    text: Option<Arc<str>>,
    /// Read again since cached (or since the set's last sweep).
    hot: bool,
}

/// The strings of a v0.4 payload, shared: text read again (a key on every span, a service
/// name, a repeated value) becomes a clone of the `Str` made the first time, one `Arc<str>`
/// for all, without another allocation or UTF-8 check. A bounded set-associative cache, so
/// text that never repeats only costs the `Arc` it would have cost anyway; such text
/// replaces other text read only once, so the hot strings stay.
struct Texts<'a> {
    hasher: FoldState,
    sets: Vec<[Seen<'a>; TEXT_WAYS]>,
    /// Rotates the way a miss replaces first.
    next: usize,
}

impl<'a> Texts<'a> {
    /// A cache sized for a payload of `len` bytes (one set per 256 bytes, at most
    /// [`TEXT_SETS`]).
    fn new(len: usize) -> Self {
        let sets = (len / 256).clamp(1, TEXT_SETS).next_power_of_two();
        Texts {
            hasher: FoldState::new(),
            sets: vec![Default::default(); sets],
            next: 0,
        }
    }

    /// Reads a string.
    #[inline(always)]
    fn read(&mut self, r: &mut Reader<'a>) -> Result<Str> {
        let offset = r.offset();
        let bytes = r.raw_str()?;
        if bytes.is_empty() {
            return Ok(Str::EMPTY);
        }
        let hash = self.hasher.hash_bytes(bytes);
        let set = (hash >> 32) as usize & (self.sets.len() - 1);
        if let Some(ways) = self.sets.get_mut(set) {
            for seen in ways {
                if seen.hash == hash && same_bytes(seen.bytes, bytes) {
                    if let Some(text) = &seen.text {
                        seen.hot = true;
                        return Ok(Str::from(Arc::clone(text)));
                    }
                }
            }
        }
        self.miss(bytes, offset, hash, set)
    }

    /// A string not in the cache: checked, allocated and cached.
    #[inline(never)]
    fn miss(&mut self, bytes: &'a [u8], offset: usize, hash: u64, set: usize) -> Result<Str> {
        let text = Arc::<str>::from(utf8(bytes, offset)?);
        let Some(ways) = self.sets.get_mut(set) else {
            return Ok(Str::from(text));
        };
        // The first cold way from a rotating start; when all are hot, a sweep makes them
        // cold again (a clock).
        self.next = self.next.wrapping_add(1);
        let start = self.next % TEXT_WAYS;
        let cold = (0..TEXT_WAYS)
            .map(|i| (start + i) % TEXT_WAYS)
            .find(|&way| ways.get(way).is_some_and(|seen| !seen.hot));
        let cold = cold.unwrap_or_else(|| {
            ways.iter_mut().for_each(|seen| seen.hot = false);
            start
        });
        if let Some(way) = ways.get_mut(cold) {
            *way = Seen {
                hash,
                bytes,
                text: Some(Arc::clone(&text)),
                hot: false,
            };
        }
        Ok(Str::from(text))
    }
}

/// Checks that a string's bytes are UTF-8 (`offset`: where the string starts).
pub(crate) fn utf8(bytes: &[u8], offset: usize) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8 { offset })
}

fn span_v04<'a>(r: &mut Reader<'a>, t: &mut Texts<'a>) -> Result<Span> {
    let fields = r.map_len()?;
    let mut span = Span::new(TraceId::ZERO, placeholder_id(), Str::EMPTY);
    let mut span_id = 0;
    for _ in 0..fields {
        // Keys are matched as bytes: only an unknown key needs its UTF-8 checked.
        let offset = r.offset();
        match r.raw_str()? {
            b"service" => span.service = t.read(r)?,
            b"name" => span.name = t.read(r)?,
            b"resource" => span.resource = t.read(r)?,
            b"type" => span.span_type = t.read(r)?,
            b"trace_id" => span.trace_id = TraceId::from_parts(0, r.u64()?),
            b"span_id" => span_id = r.u64()?,
            b"parent_id" => span.parent_id = SpanId::new(r.u64()?),
            b"start" => span.start = r.i64("start")?,
            b"duration" => span.duration = r.i64("duration")?,
            b"error" => span.error = r.flag()?,
            b"meta" => {
                let n = r.map_len()?;
                span.meta = TagMap::with_capacity(n);
                for _ in 0..n {
                    let k = t.read(r)?;
                    span.meta.insert(k, t.read(r)?);
                }
            }
            b"metrics" => {
                let n = r.map_len()?;
                span.metrics = TagMap::with_capacity(n);
                for _ in 0..n {
                    let k = t.read(r)?;
                    span.metrics.insert(k, r.f64()?);
                }
            }
            b"meta_struct" => {
                let n = r.map_len()?;
                span.meta_struct = TagMap::with_capacity(n);
                for _ in 0..n {
                    let k = t.read(r)?;
                    span.meta_struct.insert(k, r.bin()?.to_vec());
                }
            }
            b"span_links" => {
                let n = r.array_len()?;
                span.links = Vec::with_capacity(n);
                for _ in 0..n {
                    span.links.push(link_v04(r, t)?);
                }
            }
            b"span_events" => {
                let n = r.array_len()?;
                span.events = Vec::with_capacity(n);
                for _ in 0..n {
                    span.events.push(event_v04(r, t)?);
                }
            }
            other => {
                utf8(other, offset)?;
                r.skip()?;
            }
        }
    }
    span.span_id = SpanId::new(span_id).ok_or(Error::MissingId {
        offset: r.offset(),
        field: "span_id",
    })?;
    lift_span_json(&mut span);
    Ok(span)
}

fn link_v04<'a>(r: &mut Reader<'a>, t: &mut Texts<'a>) -> Result<SpanLink> {
    let fields = r.map_len()?;
    let (mut low, mut high, mut span_id) = (0, 0, 0);
    let mut link = SpanLink::new(TraceId::ZERO, placeholder_id());
    for _ in 0..fields {
        match r.str()? {
            "trace_id" => low = r.u64()?,
            "trace_id_high" => high = r.u64()?,
            "span_id" => span_id = r.u64()?,
            "tracestate" => link.tracestate = t.read(r)?,
            "flags" => {
                let flags = r.u32("flags")?;
                // Bit 31 says "flags are set"; a bare 0 means unknown.
                link.flags = (flags != 0).then_some(flags & 0x7fff_ffff);
            }
            "attributes" => {
                let n = r.map_len()?;
                link.attributes = TagMap::with_capacity(n);
                for _ in 0..n {
                    let k = t.read(r)?;
                    link.attributes.insert(k, t.read(r)?);
                }
            }
            _ => r.skip()?,
        }
    }
    link.trace_id = TraceId::from_parts(high, low);
    link.span_id = SpanId::new(span_id).ok_or(Error::MissingId {
        offset: r.offset(),
        field: "span_links.span_id",
    })?;
    Ok(link)
}

fn event_v04<'a>(r: &mut Reader<'a>, t: &mut Texts<'a>) -> Result<SpanEvent> {
    let fields = r.map_len()?;
    let mut event = SpanEvent::new(Str::EMPTY, 0);
    for _ in 0..fields {
        match r.str()? {
            "time_unix_nano" => event.time_unix_nano = r.u64()?,
            "name" => event.name = t.read(r)?,
            "attributes" => {
                let n = r.map_len()?;
                event.attributes = TagMap::with_capacity(n);
                for _ in 0..n {
                    let k = t.read(r)?;
                    if let Some(v) = attribute_v04(r, t, true)? {
                        event.attributes.insert(k, v);
                    }
                }
            }
            _ => r.skip()?,
        }
    }
    Ok(event)
}

/// Reads one `{type, <kind>_value}` map. `Ok(None)` for a well-formed but invalid value
/// (unknown type, missing value, nested or mixed arrays), which is dropped.
fn attribute_v04<'a>(
    r: &mut Reader<'a>,
    t: &mut Texts<'a>,
    allow_array: bool,
) -> Result<Option<AttributeValue>> {
    let fields = r.map_len()?;
    let mut type_id = None;
    let mut value = None;
    for _ in 0..fields {
        match r.str()? {
            "type" => type_id = Some(r.u64()?),
            "string_value" => value = Some(AttributeValue::String(t.read(r)?)),
            "bool_value" => value = Some(AttributeValue::Bool(r.bool()?)),
            "int_value" => value = Some(AttributeValue::Int(r.i64("int_value")?)),
            "double_value" => value = Some(AttributeValue::Double(r.f64()?)),
            "array_value" if allow_array => {
                let mut items = Vec::new();
                let mut valid = true;
                for _ in 0..r.map_len()? {
                    if r.str()? != "values" {
                        r.skip()?;
                        continue;
                    }
                    let n = r.array_len()?;
                    items = Vec::with_capacity(n);
                    for _ in 0..n {
                        match attribute_v04(r, t, false)? {
                            Some(v) => items.push(v),
                            None => valid = false,
                        }
                    }
                }
                value = if valid { homogeneous(items) } else { None };
            }
            _ => r.skip()?,
        }
    }
    Ok(match (type_id, value) {
        (Some(0), Some(v @ AttributeValue::String(_)))
        | (Some(1), Some(v @ AttributeValue::Bool(_)))
        | (Some(2), Some(v @ AttributeValue::Int(_)))
        | (Some(3), Some(v @ AttributeValue::Double(_)))
        | (Some(4), Some(v @ AttributeValue::Array(_))) => Some(v),
        _ => None,
    })
}

/// An array attribute from scalar values of one type; `None` when they are mixed.
fn homogeneous(items: Vec<AttributeValue>) -> Option<AttributeValue> {
    use AttributeValue as V;
    let array = match items.first() {
        None => AttributeArray::String(Vec::new()),
        Some(V::String(_)) => AttributeArray::String(
            items
                .into_iter()
                .map(|v| match v {
                    V::String(s) => Some(s),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
        Some(V::Bool(_)) => AttributeArray::Bool(
            items
                .into_iter()
                .map(|v| match v {
                    V::Bool(b) => Some(b),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
        Some(V::Int(_)) => AttributeArray::Int(
            items
                .into_iter()
                .map(|v| match v {
                    V::Int(i) => Some(i),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
        Some(V::Double(_)) => AttributeArray::Double(
            items
                .into_iter()
                .map(|v| match v {
                    V::Double(d) => Some(d),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
        Some(V::Array(_)) => return None,
    };
    Some(V::Array(array))
}

fn decode_v05(r: &mut Reader<'_>) -> Result<Vec<TraceChunk>> {
    let offset = r.offset();
    let parts = r.array_len()?;
    if parts != 2 {
        return Err(Error::ArrayLength {
            offset,
            expected: 2,
            found: parts,
        });
    }
    let n = r.array_len()?;
    let mut table: Vec<Arc<str>> = Vec::with_capacity(n);
    for _ in 0..n {
        table.push(Arc::from(r.str()?));
    }
    let string = |r: &mut Reader<'_>| -> Result<Str> {
        let offset = r.offset();
        let index = r.u64()?;
        usize::try_from(index)
            .ok()
            .and_then(|i| table.get(i))
            .map(|text| Str::from(Arc::clone(text)))
            .ok_or(Error::StringIndex {
                offset,
                index,
                len: table.len(),
            })
    };

    let n = r.array_len()?;
    let mut chunks = Vec::with_capacity(n);
    for _ in 0..n {
        let m = r.array_len()?;
        let mut spans = Vec::with_capacity(m);
        for _ in 0..m {
            let offset = r.offset();
            let fields = r.array_len()?;
            if fields != 12 {
                return Err(Error::ArrayLength {
                    offset,
                    expected: 12,
                    found: fields,
                });
            }
            let service = string(r)?;
            let name = string(r)?;
            let resource = string(r)?;
            let trace_id = TraceId::from_parts(0, r.u64()?);
            let span_id = r.u64()?;
            let parent_id = SpanId::new(r.u64()?);
            let start = r.i64("start")?;
            let duration = r.i64("duration")?;
            let error = r.flag()?;
            let n = r.map_len()?;
            let mut meta = TagMap::with_capacity(n);
            for _ in 0..n {
                let k = string(r)?;
                meta.insert(k, string(r)?);
            }
            let n = r.map_len()?;
            let mut metrics = TagMap::with_capacity(n);
            for _ in 0..n {
                let k = string(r)?;
                metrics.insert(k, r.f64()?);
            }
            let span_type = string(r)?;
            let span_id = SpanId::new(span_id).ok_or(Error::MissingId {
                offset: r.offset(),
                field: "span_id",
            })?;
            let mut span = Span::new(trace_id, span_id, name);
            span.service = service;
            span.resource = resource;
            span.span_type = span_type;
            span.parent_id = parent_id;
            span.start = start;
            span.duration = duration;
            span.error = error;
            span.meta = meta;
            span.metrics = metrics;
            lift_span_json(&mut span);
            spans.push(span);
        }
        chunks.push(lift_chunk(spans));
    }
    Ok(chunks)
}

/// Turns the `_dd.span_links` / `events` JSON meta of a span back into links and events.
fn lift_span_json(span: &mut Span) {
    // One pass to rule both out (most spans have neither).
    if !span
        .meta
        .keys()
        .any(|k| k == tags::SPAN_LINKS || k == tags::SPAN_EVENTS)
    {
        return;
    }
    if let Some(links) = span
        .meta
        .get(tags::SPAN_LINKS)
        .and_then(|v| json::read_links(v))
    {
        span.meta.remove(tags::SPAN_LINKS);
        span.links.extend(links);
    }
    if let Some(events) = span
        .meta
        .get(tags::SPAN_EVENTS)
        .and_then(|v| json::read_events(v))
    {
        span.meta.remove(tags::SPAN_EVENTS);
        span.events.extend(events);
    }
}

/// The high half of a trace id from `_dd.p.tid`, only in the form the encoder writes (16
/// lower-case hex digits, not zero), so that anything else stays in meta untouched.
fn parse_tid(value: &str) -> Option<u64> {
    if value.len() != 16
        || !value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    u64::from_str_radix(value, 16).ok().filter(|&h| h != 0)
}

/// Moves the chunk-level values from the spans to the chunk.
fn lift_chunk(mut spans: Vec<Span>) -> TraceChunk {
    let mut priority = None;
    let mut chunk_tags = TagMap::new();
    let mut high = None;
    if let Some(first) = spans.first_mut() {
        if let Some(&p) = first.metrics.get(tags::SAMPLING_PRIORITY) {
            if p.fract() == 0.0 && p >= f64::from(i32::MIN) && p <= f64::from(i32::MAX) {
                priority = Some(SamplingPriority::new(p as i32));
                first.metrics.remove(tags::SAMPLING_PRIORITY);
            }
        }
        if first
            .meta
            .keys()
            .any(|k| k.starts_with(tags::PROPAGATED_PREFIX))
        {
            // Decoded strings are shared (`Arc`), so these clones do not copy.
            for (k, v) in first.meta.iter() {
                if k == tags::TRACE_ID_HIGH {
                    high = parse_tid(v);
                } else if k.starts_with(tags::PROPAGATED_PREFIX) {
                    chunk_tags.insert(k.clone(), v.clone());
                }
            }
            // A `_dd.p.tid` in another form stays in meta.
            let lifted = high.is_some();
            first.meta.retain(|k, _| {
                !k.starts_with(tags::PROPAGATED_PREFIX) || (k == tags::TRACE_ID_HIGH && !lifted)
            });
        }
    }
    if let Some(high) = high {
        for span in &mut spans {
            span.trace_id = span.trace_id.with_high(high);
        }
    }
    let origin = spans.iter().find_map(|s| s.meta.get(tags::ORIGIN)).cloned();
    if origin.is_some() {
        for span in &mut spans {
            span.meta.remove(tags::ORIGIN);
        }
    }
    let mut chunk = TraceChunk::new(spans);
    chunk.priority = priority;
    chunk.tags = chunk_tags;
    chunk.origin = origin;
    chunk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tid_is_lifted_only_in_its_canonical_form() {
        assert_eq!(parse_tid("640cfd8d00000000"), Some(0x640cfd8d00000000));
        assert_eq!(parse_tid("640CFD8D00000000"), None);
        assert_eq!(parse_tid("0000000000000000"), None);
        assert_eq!(parse_tid("640cfd8d"), None);
    }

    #[test]
    fn a_fractional_priority_stays_a_metric() {
        let mut span = Span::new(TraceId::from_u128(1), placeholder_id(), "x");
        span.metrics.insert(tags::SAMPLING_PRIORITY, 1.5);
        let chunk = lift_chunk(vec![span]);
        assert_eq!(chunk.priority, None);
        assert_eq!(
            chunk.spans[0].metrics.get(tags::SAMPLING_PRIORITY),
            Some(&1.5)
        );
    }

    #[test]
    fn repeated_strings_are_shared_and_a_full_cache_still_reads_right() {
        let mut chunks = Vec::new();
        for c in 0..40u64 {
            let spans = (0..10u64)
                .map(|i| {
                    let id = SpanId::new(c * 100 + i + 1).unwrap();
                    let mut span = Span::new(TraceId::from_u128(u128::from(c + 1)), id, "op");
                    span.service = String::from("web").into();
                    for k in 0..12 {
                        // Shared keys, values unique to each span.
                        span.meta
                            .insert(format!("key.{k}"), format!("{c}/{i}/{k}").into());
                    }
                    span
                })
                .collect();
            chunks.push(TraceChunk::new(spans));
        }
        let mut bytes = Vec::new();
        crate::encode(Format::V04, Default::default(), &chunks, &mut bytes);
        let decoded = decode(Format::V04, &bytes).unwrap();
        assert_eq!(decoded, chunks);
        // The cache is best effort (its hash is seeded at random, and a set full of hot
        // strings may evict one of them): a repeated string is shared, give or take the
        // odd eviction, where without the cache each of the 400 spans would hold its own.
        let spans = || decoded.iter().flat_map(|c| c.spans.iter());
        let distinct = |ptrs: Vec<*const u8>| {
            ptrs.into_iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        let services = distinct(spans().map(|s| s.service.as_ptr()).collect());
        let first_keys = distinct(
            spans()
                .map(|s| s.meta.keys().next().unwrap().as_ptr())
                .collect(),
        );
        assert!(services <= 8, "{services} copies of the service name");
        assert!(first_keys <= 8, "{first_keys} copies of the first key");
    }

    #[test]
    fn invalid_utf8_is_refused_in_unknown_keys_and_values() {
        // [[{"\xff": 1}]]
        let unknown_key = [0x91, 0x91, 0x81, 0xa1, 0xff, 0x01];
        assert_eq!(
            decode(Format::V04, &unknown_key),
            Err(Error::InvalidUtf8 { offset: 3 })
        );
        // [[{"meta": {"k": "\xff"}}]], then the same text as a key.
        let value = [
            0x91, 0x91, 0x81, 0xa4, b'm', b'e', b't', b'a', 0x81, 0xa1, b'k', 0xa1, 0xff,
        ];
        assert_eq!(
            decode(Format::V04, &value),
            Err(Error::InvalidUtf8 { offset: 11 })
        );
        let key = [
            0x91, 0x91, 0x81, 0xa4, b'm', b'e', b't', b'a', 0x81, 0xa1, 0xff, 0xa1, b'v',
        ];
        assert_eq!(
            decode(Format::V04, &key),
            Err(Error::InvalidUtf8 { offset: 9 })
        );
    }

    #[test]
    fn mixed_native_arrays_are_dropped() {
        let items = vec![AttributeValue::Int(1), AttributeValue::Double(1.0)];
        assert_eq!(homogeneous(items), None);
        assert_eq!(
            homogeneous(vec![]),
            Some(AttributeValue::Array(AttributeArray::Int(vec![])))
        );
    }
}
