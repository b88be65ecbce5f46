//! The encoders: [`PayloadEncoder`] and [`encode`].

use ddtrace_model::{
    ChunkSink, ChunkView, KeyFilter, SamplingPriority, Span, SpanEvent, SpanId, SpanLink, SpanView,
    Str, TagMap, TraceChunk, TraceId, tags,
};

use crate::intern::StringTable;
use crate::{EncodeOptions, Format, json, write};

/// Room kept in front of the v0.4 body for the payload's array header (at most 5 bytes), so
/// that [`PayloadEncoder::finish`] never copies the body.
const HEADER_ROOM: usize = 5;

// The v0.4 span keys, pre-encoded (all shorter than 32 bytes: fixstr).
const SERVICE_KEY: &[u8] = b"\xa7service";
const NAME_KEY: &[u8] = b"\xa4name";
const RESOURCE_KEY: &[u8] = b"\xa8resource";
const TRACE_ID_KEY: &[u8] = b"\xa8trace_id";
const SPAN_ID_KEY: &[u8] = b"\xa7span_id";
const PARENT_ID_KEY: &[u8] = b"\xa9parent_id";
const START_KEY: &[u8] = b"\xa5start";
const DURATION_KEY: &[u8] = b"\xa8duration";
const ERROR_KEY: &[u8] = b"\xa5error";
const META_KEY: &[u8] = b"\xa4meta";
const METRICS_KEY: &[u8] = b"\xa7metrics";
const TYPE_KEY: &[u8] = b"\xa4type";
const META_STRUCT_KEY: &[u8] = b"\xabmeta_struct";
const SPAN_LINKS_KEY: &[u8] = b"\xaaspan_links";
const SPAN_EVENTS_KEY: &[u8] = b"\xabspan_events";

/// Builds one payload at a time from [`TraceChunk`]s, reusing its buffers.
///
/// Push chunks (or [`ChunkView`]s, with [`push_view`](PayloadEncoder::push_view): the same
/// bytes, without building the chunk), read [`encoded_len`](PayloadEncoder::encoded_len) to
/// decide when a payload is big enough, call [`finish`](PayloadEncoder::finish) to get the
/// bytes, then [`clear`](PayloadEncoder::clear) to start the next payload with the same
/// allocations (and, for v0.5, the strings already known).
///
/// What goes on the wire, besides each span's own fields:
/// * on the chunk's first span: metric `_sampling_priority_v1` (when the chunk has a priority),
///   one meta entry per chunk tag, and meta `_dd.p.tid` (the trace id's high half as 16
///   lower-case hex digits, when non-zero);
/// * on every span: meta `_dd.origin` when the chunk has an origin;
/// * span links: the native `span_links` field in v0.4, meta `_dd.span_links` (JSON) in v0.5;
/// * span events: the native `span_events` field in v0.4 with
///   [`EncodeOptions::native_span_events`], meta `events` (JSON) otherwise.
///
/// These values replace a span's own meta or metric of the same key; a map never gets a key
/// twice.
///
/// Choices where the spec leaves room (v0.4): `meta` and `metrics` are always written, even
/// empty, because system-tests read `span["meta"]` directly; `parent_id` is omitted for a
/// root, `error` when false and `type` when empty, as libdatadog does, which keeps payloads
/// small and reproduces the byte example of agent-api.md §4.5. v0.5 spans always have their
/// 12 fields. Lengths above `u32::MAX` (strings, maps) cannot be expressed in msgpack and
/// saturate: such a payload would be far above any agent's size limit anyway.
///
/// ```
/// use ddtrace_encoding::{EncodeOptions, Format, PayloadEncoder};
/// use ddtrace_model::{SamplingPriority, Span, SpanId, TraceChunk, TraceId};
///
/// let span = Span::new(TraceId::from_u128(1), SpanId::new(2).unwrap(), "op");
/// let mut chunk = TraceChunk::new(vec![span]);
/// chunk.priority = Some(SamplingPriority::AUTO_KEEP);
///
/// let mut encoder = PayloadEncoder::new(Format::V04, EncodeOptions::default());
/// encoder.push(&chunk);
/// encoder.push(&TraceChunk::new(vec![])); // empty chunks are skipped
/// assert_eq!((encoder.chunk_count(), encoder.span_count()), (1, 1));
/// let expected_len = encoder.encoded_len();
/// let payload = encoder.finish();
/// assert_eq!(payload.len(), expected_len);
/// assert_eq!(&payload[..2], &[0x91, 0x91]); // one chunk of one span
///
/// encoder.clear();
/// assert_eq!(encoder.finish(), &[0x90]); // an empty payload
/// ```
pub struct PayloadEncoder {
    format: Format,
    options: EncodeOptions,
    /// v0.4: `HEADER_ROOM` bytes then the chunks. v0.5: the chunks.
    body: Vec<u8>,
    /// v0.5 only: the assembled payload.
    out: Vec<u8>,
    strings: StringTable,
    json: String,
    chunks: usize,
    spans: usize,
}

impl std::fmt::Debug for PayloadEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayloadEncoder")
            .field("format", &self.format)
            .field("options", &self.options)
            .field("chunks", &self.chunks)
            .field("spans", &self.spans)
            .field("encoded_len", &self.encoded_len())
            .finish_non_exhaustive()
    }
}

impl PayloadEncoder {
    /// An empty encoder for `format`.
    pub fn new(format: Format, options: EncodeOptions) -> Self {
        let mut encoder = PayloadEncoder {
            format,
            options,
            body: Vec::new(),
            out: Vec::new(),
            strings: StringTable::new(),
            json: String::new(),
            chunks: 0,
            spans: 0,
        };
        encoder.clear();
        encoder
    }

    /// The payload format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The options chunks are encoded with.
    pub fn options(&self) -> EncodeOptions {
        self.options
    }

    /// Changes the options for the chunks pushed from now on (e.g. once the agent's `/info`
    /// says it accepts native span events).
    pub fn set_options(&mut self, options: EncodeOptions) {
        self.options = options;
    }

    /// Appends one chunk to the payload. A chunk without spans is skipped.
    pub fn push(&mut self, chunk: &TraceChunk) {
        self.push_parts(ChunkParts::of_chunk(chunk));
    }

    /// Appends one chunk described by borrowed parts, writing exactly the bytes
    /// [`push`](PayloadEncoder::push) writes for [`ChunkView::to_chunk`], without building
    /// the chunk: no allocation per span (only the v0.5 string table's first sight of a
    /// string). A view without spans is skipped.
    ///
    /// ```
    /// use ddtrace_encoding::{EncodeOptions, Format, PayloadEncoder};
    /// use ddtrace_model::{ChunkView, SamplingPriority, SpanId, SpanView, TagMap, TraceId};
    ///
    /// let meta = [("env", "prod")];
    /// let spans = [SpanView {
    ///     service: "web",
    ///     meta: &meta,
    ///     ..SpanView::new(TraceId::from_u128(1), SpanId::new(2).unwrap(), "op")
    /// }];
    /// let tags = TagMap::new();
    /// let view = ChunkView {
    ///     spans: &spans,
    ///     priority: Some(SamplingPriority::AUTO_KEEP),
    ///     origin: None,
    ///     tags: &tags,
    /// };
    ///
    /// let mut encoder = PayloadEncoder::new(Format::V05, EncodeOptions::default());
    /// encoder.push_view(&view);
    /// encoder.push_view(&ChunkView { spans: &[], ..view }); // empty views are skipped
    /// assert_eq!((encoder.chunk_count(), encoder.span_count()), (1, 1));
    /// let from_view = encoder.finish().to_vec();
    ///
    /// encoder.clear();
    /// encoder.push(&view.to_chunk());
    /// assert_eq!(encoder.finish(), &from_view[..]);
    /// ```
    pub fn push_view(&mut self, chunk: &ChunkView<'_>) {
        self.push_parts(ChunkParts::of_view(chunk));
    }

    fn push_parts<P: SpanParts>(&mut self, chunk: ChunkParts<'_, P>) {
        if chunk.spans.is_empty() {
            return;
        }
        match self.format {
            Format::V04 => {
                let mut sink = Inline;
                write_chunk(
                    &mut sink,
                    &mut self.body,
                    &mut self.json,
                    &chunk,
                    self.options,
                    true,
                );
            }
            Format::V05 => {
                let options = EncodeOptions {
                    native_span_events: false,
                };
                write_chunk(
                    &mut self.strings,
                    &mut self.body,
                    &mut self.json,
                    &chunk,
                    options,
                    false,
                );
            }
        }
        self.chunks += 1;
        self.spans += chunk.spans.len();
    }

    /// Number of chunks pushed since the last [`clear`](PayloadEncoder::clear) (the value of
    /// the `X-Datadog-Trace-Count` header).
    pub fn chunk_count(&self) -> usize {
        self.chunks
    }

    /// Number of spans pushed since the last [`clear`](PayloadEncoder::clear).
    pub fn span_count(&self) -> usize {
        self.spans
    }

    /// Whether no chunk was pushed since the last [`clear`](PayloadEncoder::clear).
    pub fn is_empty(&self) -> bool {
        self.chunks == 0
    }

    /// The exact length [`finish`](PayloadEncoder::finish) would return now.
    pub fn encoded_len(&self) -> usize {
        match self.format {
            Format::V04 => {
                write::collection_header_len(self.chunks) + self.body.len() - HEADER_ROOM
            }
            Format::V05 => self.encoded_len_v05(),
        }
    }

    /// The complete payload: every chunk pushed since the last
    /// [`clear`](PayloadEncoder::clear). The slice is valid until the next `push` or `clear`;
    /// calling `finish` again returns the same bytes.
    pub fn finish(&mut self) -> &[u8] {
        match self.format {
            Format::V04 => {
                let mut header = [0u8; HEADER_ROOM];
                let start = write::array_len_into(&mut header, self.chunks);
                if let Some(room) = self.body.get_mut(..HEADER_ROOM) {
                    room.copy_from_slice(&header);
                }
                self.body.get(start..).unwrap_or_default()
            }
            Format::V05 => {
                let mut out = std::mem::take(&mut self.out);
                out.clear();
                self.write_v05(&mut out);
                self.out = out;
                &self.out
            }
        }
    }

    /// Writes the complete payload (the bytes [`finish`](PayloadEncoder::finish) returns) into
    /// `out`, replacing its contents: one copy of the encoded spans, where `finish` followed by
    /// a copy of its slice makes two for v0.5. For a caller that hands payloads to another
    /// thread and keeps encoding meanwhile.
    ///
    /// ```
    /// use ddtrace_encoding::{EncodeOptions, Format, PayloadEncoder};
    /// use ddtrace_model::{Span, SpanId, TraceChunk, TraceId};
    ///
    /// let mut encoder = PayloadEncoder::new(Format::V05, EncodeOptions::default());
    /// encoder.push(&TraceChunk::new(vec![Span::new(TraceId::from_u128(1), SpanId::new(2).unwrap(), "op")]));
    /// let mut body = vec![0xff; 3];
    /// encoder.finish_into(&mut body);
    /// assert_eq!(body, encoder.finish());
    /// ```
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        out.clear();
        match self.format {
            Format::V04 => out.extend_from_slice(self.finish()),
            Format::V05 => self.write_v05(out),
        }
    }

    /// Appends the v0.5 payload (string table, then chunks) to `out`.
    fn write_v05(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len_v05());
        write::array_len(out, 2);
        write::array_len(out, self.strings.len());
        out.extend_from_slice(self.strings.bytes());
        write::array_len(out, self.chunks);
        out.extend_from_slice(&self.body);
    }

    fn encoded_len_v05(&self) -> usize {
        1 + write::collection_header_len(self.strings.len())
            + self.strings.bytes().len()
            + write::collection_header_len(self.chunks)
            + self.body.len()
    }

    /// Starts a new, empty payload, keeping the allocations.
    pub fn clear(&mut self) {
        self.body.clear();
        if self.format == Format::V04 {
            self.body.resize(HEADER_ROOM, 0);
        }
        self.out.clear();
        self.strings.reset();
        self.chunks = 0;
        self.spans = 0;
    }
}

/// The encoder as the transport's worker sees it: chunks go to
/// [`push`](PayloadEncoder::push), views to [`push_view`](PayloadEncoder::push_view).
impl ChunkSink for PayloadEncoder {
    fn push_chunk(&mut self, chunk: &TraceChunk) {
        self.push(chunk);
    }

    fn push_view(&mut self, chunk: &ChunkView<'_>) {
        PayloadEncoder::push_view(self, chunk);
    }
}

/// Encodes `chunks` as one payload into `out`, replacing its contents. Empty chunks are
/// skipped.
///
/// For a stream of payloads prefer a [`PayloadEncoder`], which also keeps its v0.5 string
/// table across payloads.
///
/// ```
/// use ddtrace_encoding::{decode, encode, EncodeOptions, Format};
/// use ddtrace_model::{Span, SpanId, TraceChunk, TraceId};
///
/// let chunk = TraceChunk::new(vec![Span::new(TraceId::from_u128(1), SpanId::new(2).unwrap(), "op")]);
/// let mut out = Vec::new();
/// encode(Format::V05, EncodeOptions::default(), &[chunk.clone()], &mut out);
/// assert_eq!(decode(Format::V05, &out)?, vec![chunk]);
/// # Ok::<(), ddtrace_encoding::Error>(())
/// ```
pub fn encode(format: Format, options: EncodeOptions, chunks: &[TraceChunk], out: &mut Vec<u8>) {
    out.clear();
    match format {
        Format::V04 => {
            write::array_len(out, chunks.iter().filter(|c| !c.spans.is_empty()).count());
            let mut json = String::new();
            for chunk in chunks.iter().filter(|c| !c.spans.is_empty()) {
                let chunk = ChunkParts::of_chunk(chunk);
                write_chunk(&mut Inline, out, &mut json, &chunk, options, true);
            }
        }
        Format::V05 => {
            let mut encoder = PayloadEncoder::new(format, options);
            for chunk in chunks {
                encoder.push(chunk);
            }
            out.extend_from_slice(encoder.finish());
        }
    }
}

/// How strings are written: inline (v0.4) or as string-table indexes (v0.5).
trait Strings {
    /// Called before each chunk.
    fn begin_chunk(&mut self) {}
    /// Writes a string borrowed from the chunk being written.
    fn put(&mut self, buf: &mut Vec<u8>, s: &str);
    /// Writes a string that does not live as long as the chunk (scratch buffers).
    fn put_transient(&mut self, buf: &mut Vec<u8>, s: &str) {
        self.put(buf, s);
    }
}

struct Inline;

impl Strings for Inline {
    #[inline]
    fn put(&mut self, buf: &mut Vec<u8>, s: &str) {
        write::str(buf, s);
    }
}

impl Strings for StringTable {
    fn begin_chunk(&mut self) {
        StringTable::begin_chunk(self);
    }
    #[inline(always)]
    fn put(&mut self, buf: &mut Vec<u8>, s: &str) {
        write::uint(buf, u64::from(self.intern_borrowed(s)));
    }
    #[inline]
    fn put_transient(&mut self, buf: &mut Vec<u8>, s: &str) {
        write::uint(buf, u64::from(self.intern(s)));
    }
}

/// What the writers read of a span: a [`Span`], or a [`SpanView`] (which has no
/// `meta_struct`, links or events: the defaults).
trait SpanParts {
    fn service(&self) -> &str;
    fn name(&self) -> &str;
    fn resource(&self) -> &str;
    fn span_type(&self) -> &str;
    fn trace_id(&self) -> TraceId;
    fn span_id(&self) -> SpanId;
    fn parent_id(&self) -> Option<SpanId>;
    fn start(&self) -> i64;
    fn duration(&self) -> i64;
    fn error(&self) -> bool;
    fn meta_len(&self) -> usize;
    /// The meta entries, in writing order, each key once.
    fn meta(&self) -> impl Iterator<Item = (&str, &str)>;
    fn metrics_len(&self) -> usize;
    /// The metrics, in writing order, each key once.
    fn metrics(&self) -> impl Iterator<Item = (&str, f64)>;
    fn meta_struct(&self) -> Option<&TagMap<Vec<u8>>> {
        None
    }
    fn links(&self) -> &[SpanLink] {
        &[]
    }
    fn events(&self) -> &[SpanEvent] {
        &[]
    }
}

/// The [`SpanParts`] accessors written the same for [`Span`] and [`SpanView`] (a `&str`
/// field derefs from `Str` and from `&str` alike).
macro_rules! shared_span_parts {
    () => {
        #[inline(always)]
        fn service(&self) -> &str {
            &self.service
        }
        #[inline(always)]
        fn name(&self) -> &str {
            &self.name
        }
        #[inline(always)]
        fn resource(&self) -> &str {
            &self.resource
        }
        #[inline(always)]
        fn span_type(&self) -> &str {
            &self.span_type
        }
        #[inline(always)]
        fn trace_id(&self) -> TraceId {
            self.trace_id
        }
        #[inline(always)]
        fn span_id(&self) -> SpanId {
            self.span_id
        }
        #[inline(always)]
        fn parent_id(&self) -> Option<SpanId> {
            self.parent_id
        }
        #[inline(always)]
        fn start(&self) -> i64 {
            self.start
        }
        #[inline(always)]
        fn duration(&self) -> i64 {
            self.duration
        }
        #[inline(always)]
        fn error(&self) -> bool {
            self.error
        }
        #[inline(always)]
        fn meta_len(&self) -> usize {
            self.meta.len()
        }
        #[inline(always)]
        fn metrics_len(&self) -> usize {
            self.metrics.len()
        }
    };
}

impl SpanParts for Span {
    shared_span_parts!();

    #[inline(always)]
    fn meta(&self) -> impl Iterator<Item = (&str, &str)> {
        self.meta.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    #[inline(always)]
    fn metrics(&self) -> impl Iterator<Item = (&str, f64)> {
        self.metrics.iter().map(|(k, v)| (k.as_str(), *v))
    }
    #[inline(always)]
    fn meta_struct(&self) -> Option<&TagMap<Vec<u8>>> {
        Some(&self.meta_struct)
    }
    #[inline(always)]
    fn links(&self) -> &[SpanLink] {
        &self.links
    }
    #[inline(always)]
    fn events(&self) -> &[SpanEvent] {
        &self.events
    }
}

impl SpanParts for SpanView<'_> {
    shared_span_parts!();

    #[inline(always)]
    fn meta(&self) -> impl Iterator<Item = (&str, &str)> {
        self.meta.iter().copied()
    }
    #[inline(always)]
    fn metrics(&self) -> impl Iterator<Item = (&str, f64)> {
        self.metrics.iter().copied()
    }
}

/// A chunk as the writers read it, from a [`TraceChunk`] or a [`ChunkView`].
struct ChunkParts<'a, P> {
    spans: &'a [P],
    priority: Option<SamplingPriority>,
    origin: Option<&'a str>,
    tags: &'a TagMap<Str>,
}

impl<'a> ChunkParts<'a, Span> {
    fn of_chunk(chunk: &'a TraceChunk) -> Self {
        ChunkParts {
            spans: &chunk.spans,
            priority: chunk.priority,
            origin: chunk.origin.as_deref(),
            tags: &chunk.tags,
        }
    }
}

impl<'a> ChunkParts<'a, SpanView<'a>> {
    fn of_view(chunk: &ChunkView<'a>) -> Self {
        ChunkParts {
            spans: chunk.spans,
            priority: chunk.priority,
            origin: chunk.origin,
            tags: chunk.tags,
        }
    }
}

/// The chunk-level values written on one span, and which of the span's own keys they hide.
struct Overrides<'a> {
    priority: Option<SamplingPriority>,
    origin: Option<&'a str>,
    tags: &'a TagMap<Str>,
    first: bool,
    tid: Option<[u8; 16]>,
    links_json: bool,
    events_json: bool,
    /// The chunk-level keys a first span's own meta entry may be replaced by: the chunk's
    /// tags and `_dd.p.tid`.
    first_keys: KeyFilter,
}

impl Overrides<'_> {
    /// Whether the chunk tag `key` is written on the first span (a higher-precedence value of
    /// the same key wins).
    fn tag_written(&self, key: &str) -> bool {
        key != tags::TRACE_ID_HIGH && !self.hides_lower(key)
    }

    /// Keys written from the origin and the JSON fallbacks.
    fn hides_lower(&self, key: &str) -> bool {
        (self.origin.is_some() && key == tags::ORIGIN)
            || (self.links_json && key == tags::SPAN_LINKS)
            || (self.events_json && key == tags::SPAN_EVENTS)
    }

    /// Whether any of the span's own meta entries can be replaced (false for most spans).
    #[inline]
    fn touches_meta(&self) -> bool {
        self.first || self.origin.is_some() || self.links_json || self.events_json
    }

    /// Whether the span's own meta entry `key` is replaced by a chunk-level one.
    #[inline]
    fn hides_meta(&self, key: &str) -> bool {
        if !self.first || !self.first_keys.may_contain(key) {
            // Only `_dd.origin`, `_dd.span_links` and `events` can collide (on a first span,
            // a key the filter has not seen is none of the chunk's tags).
            return match key.as_bytes().first() {
                Some(b'_') | Some(b'e') => self.hides_lower(key),
                _ => false,
            };
        }
        self.hides_lower(key)
            || (self.tid.is_some() && key == tags::TRACE_ID_HIGH)
            || (self.tags.contains_key(key) && self.tag_written(key))
    }

    /// Number of meta entries the overrides add.
    fn meta_count(&self) -> usize {
        let mut n = usize::from(self.origin.is_some())
            + usize::from(self.links_json)
            + usize::from(self.events_json);
        if self.first {
            n += usize::from(self.tid.is_some());
            n += self.tags.keys().filter(|k| self.tag_written(k)).count();
        }
        n
    }
}

fn hex16(v: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, slot) in out.iter_mut().enumerate() {
        let nibble = ((v >> (60 - 4 * i)) & 0xf) as u8;
        *slot = if nibble < 10 {
            b'0' + nibble
        } else {
            b'a' + nibble - 10
        };
    }
    out
}

fn write_chunk<S: Strings, P: SpanParts>(
    strings: &mut S,
    buf: &mut Vec<u8>,
    json: &mut String,
    chunk: &ChunkParts<'_, P>,
    options: EncodeOptions,
    v04: bool,
) {
    strings.begin_chunk();
    write::array_len(buf, chunk.spans.len());
    let high = chunk.spans.first().map_or(0, |s| s.trace_id().high());
    let tid = (high != 0).then(|| hex16(high));
    let mut first_keys = KeyFilter::EMPTY;
    if tid.is_some() {
        first_keys.insert(tags::TRACE_ID_HIGH);
    }
    for key in chunk.tags.keys() {
        first_keys.insert(key.as_str());
    }
    for (i, span) in chunk.spans.iter().enumerate() {
        let overrides = Overrides {
            priority: chunk.priority,
            origin: chunk.origin,
            tags: chunk.tags,
            first: i == 0,
            tid,
            links_json: !v04 && !span.links().is_empty(),
            events_json: !options.native_span_events && !span.events().is_empty(),
            first_keys,
        };
        if v04 {
            write_span_v04(strings, buf, json, span, &overrides);
        } else {
            write_span_v05(strings, buf, json, span, &overrides);
        }
    }
}

fn write_span_v04<S: Strings, P: SpanParts>(
    strings: &mut S,
    buf: &mut Vec<u8>,
    json: &mut String,
    span: &P,
    o: &Overrides<'_>,
) {
    let meta_struct = span.meta_struct().filter(|m| !m.is_empty());
    let links = span.links();
    let native_events = if o.events_json { &[] } else { span.events() };
    let parent_id = span.parent_id();
    let error = span.error();
    let span_type = span.span_type();
    let fields = 9
        + usize::from(parent_id.is_some())
        + usize::from(error)
        + usize::from(!span_type.is_empty())
        + usize::from(meta_struct.is_some())
        + usize::from(!links.is_empty())
        + usize::from(!native_events.is_empty());
    write::map_len(buf, fields);
    buf.extend_from_slice(SERVICE_KEY);
    write::str(buf, span.service());
    buf.extend_from_slice(NAME_KEY);
    write::str(buf, span.name());
    buf.extend_from_slice(RESOURCE_KEY);
    write::str(buf, span.resource());
    buf.extend_from_slice(TRACE_ID_KEY);
    write::uint(buf, span.trace_id().low());
    buf.extend_from_slice(SPAN_ID_KEY);
    write::uint(buf, span.span_id().get());
    if let Some(parent) = parent_id {
        buf.extend_from_slice(PARENT_ID_KEY);
        write::uint(buf, parent.get());
    }
    buf.extend_from_slice(START_KEY);
    write::int(buf, span.start());
    buf.extend_from_slice(DURATION_KEY);
    write::int(buf, span.duration());
    if error {
        buf.extend_from_slice(ERROR_KEY);
        write::uint(buf, 1);
    }
    buf.extend_from_slice(META_KEY);
    write_meta(strings, buf, json, span, o);
    buf.extend_from_slice(METRICS_KEY);
    write_metrics(strings, buf, span, o);
    if !span_type.is_empty() {
        buf.extend_from_slice(TYPE_KEY);
        write::str(buf, span_type);
    }
    if let Some(meta_struct) = meta_struct {
        buf.extend_from_slice(META_STRUCT_KEY);
        write::map_len(buf, meta_struct.len());
        for (k, v) in meta_struct.iter() {
            write::str(buf, k);
            write::bin(buf, v);
        }
    }
    if !links.is_empty() {
        buf.extend_from_slice(SPAN_LINKS_KEY);
        write_native_links(buf, links);
    }
    if !native_events.is_empty() {
        buf.extend_from_slice(SPAN_EVENTS_KEY);
        write_native_events(buf, native_events);
    }
}

fn write_span_v05<S: Strings, P: SpanParts>(
    strings: &mut S,
    buf: &mut Vec<u8>,
    json: &mut String,
    span: &P,
    o: &Overrides<'_>,
) {
    write::array_len(buf, 12);
    strings.put(buf, span.service());
    strings.put(buf, span.name());
    strings.put(buf, span.resource());
    write::uint(buf, span.trace_id().low());
    write::uint(buf, span.span_id().get());
    write::uint(buf, span.parent_id().map_or(0, |p| p.get()));
    write::int(buf, span.start());
    write::int(buf, span.duration());
    write::uint(buf, u64::from(span.error()));
    write_meta(strings, buf, json, span, o);
    write_metrics(strings, buf, span, o);
    strings.put(buf, span.span_type());
}

fn write_meta<S: Strings, P: SpanParts>(
    strings: &mut S,
    buf: &mut Vec<u8>,
    json: &mut String,
    span: &P,
    o: &Overrides<'_>,
) {
    if !o.touches_meta() {
        write::map_len(buf, span.meta_len());
        for (k, v) in span.meta() {
            strings.put(buf, k);
            strings.put(buf, v);
        }
        return;
    }
    let own = span.meta().filter(|(k, _)| !o.hides_meta(k)).count();
    write::map_len(buf, own + o.meta_count());
    for (k, v) in span.meta() {
        if !o.hides_meta(k) {
            strings.put(buf, k);
            strings.put(buf, v);
        }
    }
    if o.first {
        for (k, v) in o.tags.iter() {
            if o.tag_written(k) {
                strings.put(buf, k);
                strings.put(buf, v);
            }
        }
        if let Some(tid) = &o.tid {
            strings.put(buf, tags::TRACE_ID_HIGH);
            // Hex digits are ASCII.
            strings.put_transient(buf, std::str::from_utf8(tid).unwrap_or_default());
        }
    }
    if let Some(origin) = o.origin {
        strings.put(buf, tags::ORIGIN);
        strings.put(buf, origin);
    }
    if o.links_json {
        json::write_links(json, span.links());
        strings.put(buf, tags::SPAN_LINKS);
        strings.put_transient(buf, json);
    }
    if o.events_json {
        json::write_events(json, span.events());
        strings.put(buf, tags::SPAN_EVENTS);
        strings.put_transient(buf, json);
    }
}

fn write_metrics<S: Strings, P: SpanParts>(
    strings: &mut S,
    buf: &mut Vec<u8>,
    span: &P,
    o: &Overrides<'_>,
) {
    let priority = o.priority.filter(|_| o.first);
    let hides = |k: &str| priority.is_some() && k == tags::SAMPLING_PRIORITY;
    let own = if priority.is_some() {
        span.metrics().filter(|(k, _)| !hides(k)).count()
    } else {
        span.metrics_len()
    };
    write::map_len(buf, own + usize::from(priority.is_some()));
    for (k, v) in span.metrics() {
        if !hides(k) {
            strings.put(buf, k);
            write::f64(buf, v);
        }
    }
    if let Some(p) = priority {
        strings.put(buf, tags::SAMPLING_PRIORITY);
        write::f64(buf, f64::from(p.get()));
    }
}

fn write_native_links(buf: &mut Vec<u8>, links: &[SpanLink]) {
    write::array_len(buf, links.len());
    for link in links {
        let high = link.trace_id.high();
        let fields = 2
            + usize::from(high != 0)
            + usize::from(!link.attributes.is_empty())
            + usize::from(!link.tracestate.is_empty())
            + usize::from(link.flags.is_some());
        write::map_len(buf, fields);
        buf.extend_from_slice(TRACE_ID_KEY);
        write::uint(buf, link.trace_id.low());
        if high != 0 {
            write::str(buf, "trace_id_high");
            write::uint(buf, high);
        }
        buf.extend_from_slice(SPAN_ID_KEY);
        write::uint(buf, link.span_id.get());
        if !link.attributes.is_empty() {
            write::str(buf, "attributes");
            write::map_len(buf, link.attributes.len());
            for (k, v) in link.attributes.iter() {
                write::str(buf, k);
                write::str(buf, v);
            }
        }
        if !link.tracestate.is_empty() {
            write::str(buf, "tracestate");
            write::str(buf, &link.tracestate);
        }
        if let Some(flags) = link.flags {
            write::str(buf, "flags");
            write::uint(buf, u64::from(flags | 0x8000_0000));
        }
    }
}

fn write_native_events(buf: &mut Vec<u8>, events: &[SpanEvent]) {
    use ddtrace_model::{AttributeArray as A, AttributeValue as V};

    fn typed(buf: &mut Vec<u8>, type_id: u64, key: &str) {
        write::map_len(buf, 2);
        buf.extend_from_slice(TYPE_KEY);
        write::uint(buf, type_id);
        write::str(buf, key);
    }
    fn string(buf: &mut Vec<u8>, s: &str) {
        typed(buf, 0, "string_value");
        write::str(buf, s);
    }
    fn boolean(buf: &mut Vec<u8>, b: bool) {
        typed(buf, 1, "bool_value");
        write::bool(buf, b);
    }
    fn int(buf: &mut Vec<u8>, i: i64) {
        typed(buf, 2, "int_value");
        write::int(buf, i);
    }
    fn double(buf: &mut Vec<u8>, d: f64) {
        typed(buf, 3, "double_value");
        write::f64(buf, d);
    }
    fn value(buf: &mut Vec<u8>, value: &V) {
        match value {
            V::String(s) => string(buf, s),
            V::Bool(b) => boolean(buf, *b),
            V::Int(i) => int(buf, *i),
            V::Double(d) => double(buf, *d),
            V::Array(array) => {
                typed(buf, 4, "array_value");
                write::map_len(buf, 1);
                write::str(buf, "values");
                write::array_len(buf, array.len());
                match array {
                    A::String(v) => v.iter().for_each(|s| string(buf, s)),
                    A::Bool(v) => v.iter().for_each(|b| boolean(buf, *b)),
                    A::Int(v) => v.iter().for_each(|i| int(buf, *i)),
                    A::Double(v) => v.iter().for_each(|d| double(buf, *d)),
                }
            }
        }
    }

    write::array_len(buf, events.len());
    for event in events {
        write::map_len(buf, 2 + usize::from(!event.attributes.is_empty()));
        write::str(buf, "time_unix_nano");
        write::uint(buf, event.time_unix_nano);
        buf.extend_from_slice(NAME_KEY);
        write::str(buf, &event.name);
        if !event.attributes.is_empty() {
            write::str(buf, "attributes");
            write::map_len(buf, event.attributes.len());
            for (k, v) in event.attributes.iter() {
                write::str(buf, k);
                value(buf, v);
            }
        }
    }
}
