//! The finished Datadog span and the links and events it carries.

use crate::{SpanId, Str, TagMap, TraceId};

/// A finished Datadog span, with every field the agent accepts.
///
/// Times are nanoseconds: `start` since the Unix epoch, `duration` since `start`.
/// A tag key lives in `meta` (strings) or `metrics` (numbers), never both; the helpers
/// [`Span::set_meta`] and [`Span::set_metric`] keep it so.
///
/// ```
/// use ddtrace_model::{Span, SpanId, TraceId};
///
/// let mut span = Span::new(TraceId::from_u128(7), SpanId::new(1).unwrap(), "http.server.request");
/// span.service = "web".into();
/// span.resource = "GET /users/{id}".into();
/// span.set_meta("http.method", "GET");
/// span.set_metric("http.method", 1.0); // replaces the string tag
/// assert!(span.meta.get("http.method").is_none());
/// assert_eq!(span.metrics.get("http.method"), Some(&1.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Span {
    /// Service name.
    pub service: Str,
    /// Operation name, e.g. `http.server.request`.
    pub name: Str,
    /// Resource, e.g. `GET /users/{id}`.
    pub resource: Str,
    /// Span type (`web`, `http`, `sql`, …); empty for none.
    pub span_type: Str,
    /// The full 128-bit trace id (the wire field carries the low half).
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
    /// String tags.
    pub meta: TagMap<Str>,
    /// Numeric tags.
    pub metrics: TagMap<f64>,
    /// Structured tags: each value is an encoded msgpack document (AppSec uses these).
    pub meta_struct: TagMap<Vec<u8>>,
    /// Links to other spans.
    pub links: Vec<SpanLink>,
    /// Timestamped events.
    pub events: Vec<SpanEvent>,
}

impl Span {
    /// A span with the given ids and operation name; every other field empty or zero.
    pub fn new(trace_id: TraceId, span_id: SpanId, name: impl Into<Str>) -> Self {
        Span {
            service: Str::EMPTY,
            name: name.into(),
            resource: Str::EMPTY,
            span_type: Str::EMPTY,
            trace_id,
            span_id,
            parent_id: None,
            start: 0,
            duration: 0,
            error: false,
            meta: TagMap::new(),
            metrics: TagMap::new(),
            meta_struct: TagMap::new(),
            links: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Sets a string tag, removing a numeric tag of the same key.
    pub fn set_meta(&mut self, key: impl Into<Str>, value: impl Into<Str>) {
        let key = key.into();
        self.metrics.remove(&key);
        self.meta.insert(key, value.into());
    }

    /// Sets a numeric tag, removing a string tag of the same key.
    pub fn set_metric(&mut self, key: impl Into<Str>, value: f64) {
        let key = key.into();
        self.meta.remove(&key);
        self.metrics.insert(key, value);
    }
}

/// A link from a span to another span context.
///
/// `flags` holds the W3C trace flags of the linked context (`Some(1)` sampled, `Some(0)` not)
/// when they are known; the v0.4 encoder adds the `0x8000_0000` "flags set" bit on the wire.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SpanLink {
    /// The linked trace id.
    pub trace_id: TraceId,
    /// The linked span id.
    pub span_id: SpanId,
    /// The linked context's W3C tracestate; empty for none.
    pub tracestate: Str,
    /// The linked context's W3C trace flags, when known.
    pub flags: Option<u32>,
    /// Link attributes, already stringified and flattened.
    pub attributes: TagMap<Str>,
}

impl SpanLink {
    /// A link to `trace_id`/`span_id` with no tracestate, flags or attributes.
    pub fn new(trace_id: TraceId, span_id: SpanId) -> Self {
        SpanLink {
            trace_id,
            span_id,
            tracestate: Str::EMPTY,
            flags: None,
            attributes: TagMap::new(),
        }
    }
}

/// A timestamped, named event with typed attributes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SpanEvent {
    /// Nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Event name (`exception` for recorded errors).
    pub name: Str,
    /// Typed attributes.
    pub attributes: TagMap<AttributeValue>,
}

impl SpanEvent {
    /// An event with no attributes.
    pub fn new(name: impl Into<Str>, time_unix_nano: u64) -> Self {
        SpanEvent {
            time_unix_nano,
            name: name.into(),
            attributes: TagMap::new(),
        }
    }
}

/// A typed attribute value of a span event.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// A string.
    String(Str),
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Double(f64),
    /// A homogeneous array.
    Array(AttributeArray),
}

/// A homogeneous array attribute. Empty arrays of any element type are equal.
#[derive(Debug, Clone)]
pub enum AttributeArray {
    /// Strings.
    String(Vec<Str>),
    /// Booleans.
    Bool(Vec<bool>),
    /// Integers.
    Int(Vec<i64>),
    /// Floats.
    Double(Vec<f64>),
}

impl AttributeArray {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            AttributeArray::String(v) => v.len(),
            AttributeArray::Bool(v) => v.len(),
            AttributeArray::Int(v) => v.len(),
            AttributeArray::Double(v) => v.len(),
        }
    }

    /// Whether the array is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PartialEq for AttributeArray {
    fn eq(&self, other: &Self) -> bool {
        use AttributeArray as A;
        match (self, other) {
            (A::String(a), A::String(b)) => a == b,
            (A::Bool(a), A::Bool(b)) => a == b,
            (A::Int(a), A::Int(b)) => a == b,
            (A::Double(a), A::Double(b)) => a == b,
            (a, b) => a.is_empty() && b.is_empty(),
        }
    }
}

impl From<&'static str> for AttributeValue {
    fn from(s: &'static str) -> Self {
        AttributeValue::String(s.into())
    }
}

impl From<Str> for AttributeValue {
    fn from(s: Str) -> Self {
        AttributeValue::String(s)
    }
}

impl From<bool> for AttributeValue {
    fn from(b: bool) -> Self {
        AttributeValue::Bool(b)
    }
}

impl From<i64> for AttributeValue {
    fn from(i: i64) -> Self {
        AttributeValue::Int(i)
    }
}

impl From<f64> for AttributeValue {
    fn from(f: f64) -> Self {
        AttributeValue::Double(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_lives_in_one_map_only() {
        let mut span = Span::new(TraceId::from_u128(1), SpanId::new(2).unwrap(), "op");
        span.set_metric("k", 1.0);
        span.set_meta("k", "v");
        assert_eq!(span.meta.get("k").map(Str::as_str), Some("v"));
        assert!(span.metrics.get("k").is_none());
    }

    #[test]
    fn empty_arrays_are_equal_whatever_their_type() {
        assert_eq!(AttributeArray::Int(vec![]), AttributeArray::String(vec![]));
        assert_ne!(
            AttributeArray::Int(vec![1]),
            AttributeArray::Double(vec![1.0])
        );
    }
}
