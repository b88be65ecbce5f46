//! The data exchanged with the caller: [`Extracted`], [`ExtractedContext`], [`InjectContext`].

use ddtrace_model::{SamplingPriority, SpanId, SpanLink, Str, TagMap, TraceId};

use crate::{Baggage, Style};

/// A trace context read from headers: the remote parent of the next local span.
///
/// Propagated tags hold the `_dd.p.*` trace tags in the order received. The high half of the
/// trace id is always in `trace_id`; `_dd.p.tid` is among the tags only when it came in
/// `x-datadog-tags` (then in its received position). A tracer sets `_dd.p.tid` on the local
/// root from `trace_id.high()`, and injection derives it from the trace id. The
/// fields `last_parent_id` and `propagation_error` are the values of the local root's
/// `_dd.parent_id` and `_dd.propagation_error` tags.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ExtractedContext {
    /// The style whose headers gave the trace id, parent id, priority, origin and tags.
    pub style: Style,
    /// The 128-bit trace id.
    pub trace_id: TraceId,
    /// The remote parent span id; `None` when `x-datadog-parent-id` was missing or `0`.
    pub parent_id: Option<SpanId>,
    /// The sampling priority; `None` when upstream sent none (the local sampler decides).
    pub priority: Option<SamplingPriority>,
    /// The origin (`synthetics`, `rum`, …), never empty.
    pub origin: Option<Str>,
    /// The propagated `_dd.p.*` trace tags, in order.
    pub tags: TagMap<Str>,
    /// The W3C `tracestate` received (members trimmed, empty ones removed, repeated headers
    /// joined), kept to forward other vendors' members; the `dd` member is rebuilt on injection.
    pub tracestate: Option<Str>,
    /// The last Datadog parent id (tracestate `p`), for the `_dd.parent_id` tag.
    pub last_parent_id: Option<Str>,
    /// A `_dd.propagation_error` value (`decoding_error`, `extract_max_size`,
    /// `malformed_tid <value>`), when part of the headers had to be dropped.
    pub propagation_error: Option<Str>,
}

impl ExtractedContext {
    pub(crate) fn new(style: Style, trace_id: TraceId) -> Self {
        ExtractedContext {
            style,
            trace_id,
            parent_id: None,
            priority: None,
            origin: None,
            tags: TagMap::new(),
            tracestate: None,
            last_parent_id: None,
            propagation_error: None,
        }
    }

    /// The context to inject when forwarding this remote context as it is (no local span):
    /// `p` in tracestate is then the stored last parent id, if any. `None` without a parent id.
    pub fn to_inject_context(&self) -> Option<InjectContext<'_>> {
        let parent = self.parent_id?;
        let mut ctx = InjectContext::new(self.trace_id, parent)
            .with_priority(self.priority)
            .with_tags(&self.tags)
            .with_remote(true);
        ctx.origin = self.origin.as_deref();
        ctx.tracestate = self.tracestate.as_deref();
        ctx.last_parent_id = self.last_parent_id.as_deref();
        Some(ctx)
    }
}

/// The result of [`Propagator::extract`](crate::Propagator::extract).
///
/// * `continue` (default): `context` is the remote parent (when any style yielded one) and
///   `links` are the `terminated_context` links to contexts of other traces found in other
///   styles' headers;
/// * `restart`: `context` is `None`; `links` holds one `propagation_behavior_extract` link to
///   the incoming context, for the new local root;
/// * `ignore`: everything is empty.
///
/// `baggage` is filled whenever the `baggage` style is configured (except with `ignore`),
/// even without a trace context.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Extracted {
    /// The remote parent context.
    pub context: Option<ExtractedContext>,
    /// Span links made during extraction, for the next local root.
    pub links: Vec<SpanLink>,
    /// The extracted baggage.
    pub baggage: Baggage,
}

impl Extracted {
    /// Whether nothing at all was extracted.
    pub fn is_empty(&self) -> bool {
        self.context.is_none() && self.links.is_empty() && self.baggage.is_empty()
    }
}

/// What [`Propagator::inject`](crate::Propagator::inject) writes: the injecting span and its
/// trace's propagated state, borrowed from the caller.
///
/// The sampling decision must be made before injecting; `priority: None` writes no Datadog
/// priority header and unsampled W3C flags.
///
/// ```
/// use ddtrace_model::{SamplingPriority, SpanId, TraceId};
/// use ddtrace_propagation::InjectContext;
///
/// let ctx = InjectContext::new(TraceId::from_u128(1), SpanId::new(2).unwrap())
///     .with_priority(Some(SamplingPriority::AUTO_KEEP))
///     .with_origin(Some("synthetics"));
/// assert_eq!(ctx.origin, Some("synthetics"));
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct InjectContext<'a> {
    /// The trace id.
    pub trace_id: TraceId,
    /// The injecting span's id (the downstream parent id).
    pub span_id: SpanId,
    /// The trace's sampling priority.
    pub priority: Option<SamplingPriority>,
    /// The trace's origin.
    pub origin: Option<&'a str>,
    /// The trace's propagated `_dd.p.*` tags, in order (`_dd.p.tid` is derived from `trace_id`).
    pub tags: Option<&'a TagMap<Str>>,
    /// The W3C tracestate received upstream (other vendors' members are forwarded).
    pub tracestate: Option<&'a str>,
    /// The stored last Datadog parent id, used as `p` when `is_remote`.
    pub last_parent_id: Option<&'a str>,
    /// Whether `span_id` is a remote context forwarded as is (then `p` is `last_parent_id`
    /// rather than `span_id`).
    pub is_remote: bool,
    /// The baggage to send.
    pub baggage: Option<&'a Baggage>,
}

impl<'a> InjectContext<'a> {
    /// A context for span `span_id` of trace `trace_id`, with nothing else.
    pub fn new(trace_id: TraceId, span_id: SpanId) -> Self {
        InjectContext {
            trace_id,
            span_id,
            priority: None,
            origin: None,
            tags: None,
            tracestate: None,
            last_parent_id: None,
            is_remote: false,
            baggage: None,
        }
    }
    /// Sets the sampling priority.
    pub fn with_priority(mut self, priority: Option<SamplingPriority>) -> Self {
        self.priority = priority;
        self
    }
    /// Sets the origin.
    pub fn with_origin(mut self, origin: Option<&'a str>) -> Self {
        self.origin = origin;
        self
    }
    /// Sets the propagated tags.
    pub fn with_tags(mut self, tags: &'a TagMap<Str>) -> Self {
        self.tags = Some(tags);
        self
    }
    /// Sets the upstream tracestate.
    pub fn with_tracestate(mut self, tracestate: Option<&'a str>) -> Self {
        self.tracestate = tracestate;
        self
    }
    /// Sets the last Datadog parent id.
    pub fn with_last_parent_id(mut self, last_parent_id: Option<&'a str>) -> Self {
        self.last_parent_id = last_parent_id;
        self
    }
    /// Marks the context as a forwarded remote context.
    pub fn with_remote(mut self, is_remote: bool) -> Self {
        self.is_remote = is_remote;
        self
    }
    /// Sets the baggage.
    pub fn with_baggage(mut self, baggage: Option<&'a Baggage>) -> Self {
        self.baggage = baggage;
        self
    }
}

/// What injection could not send, for the local root's `_dd.propagation_error` tag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InjectStatus {
    /// `inject_max_size` (the tags were longer than the limit) or `disabled` (limit 0).
    pub propagation_error: Option<&'static str>,
}
