//! [`SpanView`] and [`ChunkView`]: a chunk described by borrowed parts, and [`ChunkSink`],
//! what takes chunks in either form.
//!
//! A producer that keeps its spans in its own form (the OpenTelemetry bridge keeps the
//! attributes it was given) can describe a finished chunk without building [`Span`]s: no
//! [`TagMap`] per span, no [`Str`] per tag, nothing to free afterwards. An encoder writes the
//! view exactly as it would write the chunk [`ChunkView::to_chunk`] returns.

use crate::{SamplingPriority, Span, SpanId, Str, TagMap, TraceChunk, TraceId};

/// A span described by borrowed parts: the fields of a [`Span`] without links, events or
/// `meta_struct` (a span with those is pushed as a [`Span`]).
///
/// `meta` and `metrics` hold each key at most once, and no key is in both; their order is
/// the order in which the encoder writes them.
///
/// ```
/// use ddtrace_model::{SpanId, SpanView, TraceId};
///
/// let meta = [("env", "prod")];
/// let metrics = [("_dd.top_level", 1.0)];
/// let view = SpanView {
///     meta: &meta,
///     metrics: &metrics,
///     ..SpanView::new(TraceId::from_u128(1), SpanId::new(2).unwrap(), "op")
/// };
/// let span = view.to_span();
/// assert_eq!(span.meta.get("env").map(|v| v.as_str()), Some("prod"));
/// assert_eq!(span.metrics.get("_dd.top_level"), Some(&1.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpanView<'a> {
    /// Service name.
    pub service: &'a str,
    /// Operation name.
    pub name: &'a str,
    /// Resource.
    pub resource: &'a str,
    /// Span type; empty for none.
    pub span_type: &'a str,
    /// The full 128-bit trace id.
    pub trace_id: TraceId,
    /// This span's id.
    pub span_id: SpanId,
    /// The parent's id; `None` for the root of a new trace.
    pub parent_id: Option<SpanId>,
    /// Start, nanoseconds since the Unix epoch.
    pub start: i64,
    /// Duration in nanoseconds.
    pub duration: i64,
    /// Whether the span is in error.
    pub error: bool,
    /// String tags, each key once.
    pub meta: &'a [(&'a str, &'a str)],
    /// Numeric tags, each key once.
    pub metrics: &'a [(&'a str, f64)],
}

impl<'a> SpanView<'a> {
    /// A view with the given ids and operation name; every other field empty or zero.
    pub fn new(trace_id: TraceId, span_id: SpanId, name: &'a str) -> Self {
        SpanView {
            service: "",
            name,
            resource: "",
            span_type: "",
            trace_id,
            span_id,
            parent_id: None,
            start: 0,
            duration: 0,
            error: false,
            meta: &[],
            metrics: &[],
        }
    }

    /// A view of `span`'s fields with these tags (a [`TagMap`] cannot lend its entries as
    /// pairs, so the caller collects them; they must describe `span.meta` and
    /// `span.metrics` for the view to describe `span`).
    ///
    /// ```
    /// use ddtrace_model::{Span, SpanId, SpanView, TraceId};
    ///
    /// let mut span = Span::new(TraceId::from_u128(1), SpanId::new(2).unwrap(), "op");
    /// span.set_meta("env", "prod");
    /// let meta: Vec<(&str, &str)> = span.meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    /// let view = SpanView::of_span(&span, &meta, &[]);
    /// assert_eq!(view.to_span(), span);
    /// ```
    pub fn of_span(
        span: &'a Span,
        meta: &'a [(&'a str, &'a str)],
        metrics: &'a [(&'a str, f64)],
    ) -> Self {
        SpanView {
            service: &span.service,
            name: &span.name,
            resource: &span.resource,
            span_type: &span.span_type,
            trace_id: span.trace_id,
            span_id: span.span_id,
            parent_id: span.parent_id,
            start: span.start,
            duration: span.duration,
            error: span.error,
            meta,
            metrics,
        }
    }

    /// The [`Span`] this view describes (its strings copied).
    pub fn to_span(&self) -> Span {
        let mut span = Span::new(self.trace_id, self.span_id, Str::copy_from(self.name));
        span.service = Str::copy_from(self.service);
        span.resource = Str::copy_from(self.resource);
        span.span_type = Str::copy_from(self.span_type);
        span.parent_id = self.parent_id;
        span.start = self.start;
        span.duration = self.duration;
        span.error = self.error;
        span.meta = TagMap::with_capacity(self.meta.len());
        for (k, v) in self.meta {
            span.meta.insert(Str::copy_from(k), Str::copy_from(v));
        }
        span.metrics = TagMap::with_capacity(self.metrics.len());
        for (k, v) in self.metrics {
            span.metrics.insert(Str::copy_from(k), *v);
        }
        span
    }
}

/// A trace chunk described by borrowed parts (see [`SpanView`]).
///
/// ```
/// use ddtrace_model::{ChunkView, SamplingPriority, SpanId, SpanView, TagMap, TraceId};
///
/// let spans = [SpanView::new(TraceId::from_u128(1), SpanId::new(2).unwrap(), "op")];
/// let tags = TagMap::new();
/// let view = ChunkView { spans: &spans, priority: Some(SamplingPriority::AUTO_KEEP), origin: None, tags: &tags };
/// let chunk = view.to_chunk();
/// assert_eq!((chunk.spans.len(), chunk.priority), (1, Some(SamplingPriority::AUTO_KEEP)));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ChunkView<'a> {
    /// The spans, local root first when present.
    pub spans: &'a [SpanView<'a>],
    /// The trace's sampling priority; `None` when no decision was made.
    pub priority: Option<SamplingPriority>,
    /// The trace's origin.
    pub origin: Option<&'a str>,
    /// Propagated trace tags, as in [`TraceChunk::tags`].
    pub tags: &'a TagMap<Str>,
}

impl<'a> ChunkView<'a> {
    /// A view of `chunk`'s trace-level parts with these spans (views of its spans, see
    /// [`SpanView::of_span`]).
    pub fn of_chunk(chunk: &'a TraceChunk, spans: &'a [SpanView<'a>]) -> Self {
        ChunkView {
            spans,
            priority: chunk.priority,
            origin: chunk.origin.as_deref(),
            tags: &chunk.tags,
        }
    }

    /// The [`TraceChunk`] this view describes (its strings copied).
    pub fn to_chunk(&self) -> TraceChunk {
        let mut chunk = TraceChunk::new(self.spans.iter().map(SpanView::to_span).collect());
        chunk.priority = self.priority;
        chunk.origin = self.origin.map(Str::copy_from);
        chunk.tags = self.tags.clone();
        chunk
    }
}

/// Takes finished chunks, as [`TraceChunk`]s or as [`ChunkView`]s: a payload encoder, or a
/// test's collector.
///
/// ```
/// use ddtrace_model::{ChunkSink, ChunkView, SpanId, SpanView, TagMap, TraceChunk, TraceId};
///
/// #[derive(Default)]
/// struct Collect(Vec<TraceChunk>);
/// impl ChunkSink for Collect {
///     fn push_chunk(&mut self, chunk: &TraceChunk) {
///         self.0.push(chunk.clone());
///     }
/// }
///
/// let mut sink = Collect::default();
/// let spans = [SpanView::new(TraceId::from_u128(1), SpanId::new(2).unwrap(), "op")];
/// let tags = TagMap::new();
/// sink.push_view(&ChunkView { spans: &spans, priority: None, origin: None, tags: &tags });
/// assert_eq!(sink.0[0].spans[0].name, "op");
/// ```
pub trait ChunkSink {
    /// Takes one chunk.
    fn push_chunk(&mut self, chunk: &TraceChunk);

    /// Takes one chunk described by borrowed parts. The default pushes
    /// [`ChunkView::to_chunk`]; encoders write the view directly, to the same bytes.
    fn push_view(&mut self, chunk: &ChunkView<'_>) {
        self.push_chunk(&chunk.to_chunk());
    }
}
