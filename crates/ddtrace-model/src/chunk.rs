//! [`TraceChunk`] and [`SamplingPriority`].

use std::fmt;

use crate::{Span, Str, TagMap};

/// A trace's sampling priority, as Datadog tracers propagate and report it.
///
/// Positive values keep the trace, zero and negative values drop it. The four named values are
/// the ones a tracer produces; any other integer received from upstream is kept as it is.
///
/// ```
/// use ddtrace_model::SamplingPriority;
///
/// assert!(SamplingPriority::USER_KEEP.is_keep());
/// assert!(!SamplingPriority::AUTO_REJECT.is_keep());
/// assert_eq!(SamplingPriority::new(-2).get(), -2);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SamplingPriority(i32);

impl SamplingPriority {
    /// Dropped by the user (manual drop).
    pub const USER_REJECT: SamplingPriority = SamplingPriority(-1);
    /// Dropped by the sampler.
    pub const AUTO_REJECT: SamplingPriority = SamplingPriority(0);
    /// Kept by the sampler.
    pub const AUTO_KEEP: SamplingPriority = SamplingPriority(1);
    /// Kept by the user (manual keep) or by a sampling rule.
    pub const USER_KEEP: SamplingPriority = SamplingPriority(2);

    /// Wraps any integer priority.
    pub const fn new(value: i32) -> Self {
        SamplingPriority(value)
    }

    /// The integer value.
    pub const fn get(self) -> i32 {
        self.0
    }

    /// Whether the trace is kept (`> 0`).
    pub const fn is_keep(self) -> bool {
        self.0 > 0
    }
}

impl fmt::Debug for SamplingPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SamplingPriority({})", self.0)
    }
}

impl fmt::Display for SamplingPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The spans of one trace that this process sends in one go, with the trace-level facts that
/// the encoder writes on the chunk's first span.
///
/// Chunk-level data is kept out of the spans on purpose: the encoder writes
/// `_sampling_priority_v1`, the `_dd.p.*` tags and `_dd.p.tid` (from the trace id's high half)
/// on `spans[0]`, and `_dd.origin` on every span, so no span has to carry them. Put the local
/// root first when it is part of the chunk.
///
/// ```
/// use ddtrace_model::{SamplingPriority, Span, SpanId, TraceChunk, TraceId};
///
/// let root = Span::new(TraceId::from_u128(1), SpanId::new(1).unwrap(), "request");
/// let mut chunk = TraceChunk::new(vec![root]);
/// chunk.priority = Some(SamplingPriority::AUTO_KEEP);
/// chunk.tags.insert("_dd.p.dm", "-0".into());
/// assert_eq!(chunk.spans.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct TraceChunk {
    /// The spans, local root first when present.
    pub spans: Vec<Span>,
    /// The trace's sampling priority; `None` when no decision was made.
    pub priority: Option<SamplingPriority>,
    /// The trace's origin (`synthetics`, `rum`, …).
    pub origin: Option<Str>,
    /// Propagated trace tags, keys with their `_dd.p.` prefix (e.g. `_dd.p.dm`). `_dd.p.tid`
    /// is not kept here: it is derived from the trace id.
    pub tags: TagMap<Str>,
}

impl TraceChunk {
    /// A chunk of `spans` with no trace-level data.
    pub fn new(spans: Vec<Span>) -> Self {
        TraceChunk {
            spans,
            priority: None,
            origin: None,
            tags: TagMap::new(),
        }
    }
}
