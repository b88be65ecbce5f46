//! [`Span`]: the OpenTelemetry span, recorded as given and mapped later.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use ddtrace_model::{SpanId, Str, TraceId};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Event, Link, SpanContext, SpanKind, Status};

use crate::clock;
use crate::trace::Trace;

/// What the application thread records of a span: the OTel values as given. Kept small (it
/// waits in the exporter's queue with its trace): what most spans lack is in [`Extras`].
#[derive(Debug)]
pub(crate) struct SpanRecord {
    pub(crate) span_id: SpanId,
    pub(crate) parent_id: Option<SpanId>,
    pub(crate) name: Cow<'static, str>,
    pub(crate) kind: SpanKind,
    pub(crate) start_ns: i64,
    pub(crate) end_ns: i64,
    /// Once finished: the range of its attributes in its trace's attribute vector.
    pub(crate) attributes_range: (u32, u32),
    /// Whether the parent is a span of this process (for top-level marking).
    pub(crate) parent_is_local: bool,
    /// The status; an error's description, when it has one, is in the extras.
    pub(crate) status: StatusCode,
    pub(crate) extras: Option<Box<Extras>>,
}

/// A span's status without its description: setting `Ok` (which instrumentations often do
/// on every span) needs no extras.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusCode {
    Unset,
    Error,
    Ok,
}

/// The parts of a span record that most spans do not have.
#[derive(Debug, Default)]
pub(crate) struct Extras {
    pub(crate) events: Vec<Event>,
    pub(crate) links: Vec<Link>,
    /// The description of an `Error` status (empty for none).
    pub(crate) error_description: Cow<'static, str>,
    /// The service inherited from a local parent whose service was set by `service.name`.
    pub(crate) inherited_service: Option<Str>,
}

impl SpanRecord {
    /// The extras, created on first use.
    fn extras_mut(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    /// The service inherited from a local parent, if any.
    pub(crate) fn inherited_service(&self) -> Option<&Str> {
        self.extras.as_ref()?.inherited_service.as_ref()
    }
}

/// A span of the Datadog bridge, returned by [`Tracer`](crate::Tracer).
///
/// It implements [`opentelemetry::trace::Span`]. The span records what the API gives (ids,
/// times, name, kind, attributes, events, links, status) without converting it; the Datadog
/// mapping runs later on the exporter's worker thread. Ending it hands the record to its local
/// trace. A span dropped without `end` is ended then.
///
/// ```
/// use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
/// use opentelemetry::KeyValue;
/// use ddtrace_otel::{InMemoryExporter, TracerProvider};
///
/// let exporter = InMemoryExporter::new();
/// let provider = TracerProvider::builder().with_exporter(exporter.clone()).build()?;
/// let mut span = provider.tracer("app").start("work");
/// span.set_attribute(KeyValue::new("items", 3));
/// assert!(span.is_recording());
/// span.end();
/// assert!(!span.is_recording());
/// let chunks = exporter.chunks();
/// assert_eq!(chunks[0].spans[0].metrics.get("items"), Some(&3.0));
/// # Ok::<(), ddtrace_otel::Error>(())
/// ```
#[derive(Debug)]
pub struct Span {
    trace_id: TraceId,
    span_id: SpanId,
    sampled: bool,
    context: OnceLock<SpanContext>,
    record: Option<SpanRecord>,
    /// The attributes set so far (moved to the trace's attribute vector at the end).
    attributes: Vec<KeyValue>,
    trace: Arc<Trace>,
}

impl Span {
    pub(crate) fn new(
        trace: Arc<Trace>,
        record: SpanRecord,
        attributes: Vec<KeyValue>,
        sampled: bool,
    ) -> Self {
        Span {
            trace_id: trace.trace_id(),
            span_id: record.span_id,
            sampled,
            context: OnceLock::new(),
            record: Some(record),
            attributes,
            trace,
        }
    }

    /// The Datadog trace id (128 bits).
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The Datadog span id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// Records `err` like [`record_error`](opentelemetry::trace::Span::record_error), with
    /// its concrete type name (`std::any::type_name::<E>()`) as `exception.type`, which a
    /// `&dyn Error` cannot give.
    ///
    /// ```
    /// use opentelemetry::trace::{Span as _, Status, Tracer as _, TracerProvider as _};
    /// use ddtrace_otel::{InMemoryExporter, TracerProvider};
    ///
    /// let exporter = InMemoryExporter::new();
    /// let provider = TracerProvider::builder().with_exporter(exporter.clone()).build()?;
    /// let mut span = provider.tracer("app").start("parse");
    /// let err = "x".parse::<u8>().unwrap_err();
    /// span.record_typed_error(&err);
    /// span.set_status(Status::error("parse failed"));
    /// span.end();
    /// let dd = &exporter.chunks()[0].spans[0];
    /// assert_eq!(dd.meta.get("error.type").map(|v| v.as_str()), Some("core::num::error::ParseIntError"));
    /// assert_eq!(dd.meta.get("error.message").map(|v| v.as_str()), Some("invalid digit found in string"));
    /// # Ok::<(), ddtrace_otel::Error>(())
    /// ```
    pub fn record_typed_error<E: StdError>(&mut self, err: &E) {
        self.record_exception(std::any::type_name::<E>().to_owned(), err);
    }

    fn record_exception(&mut self, type_name: String, err: &dyn StdError) {
        use opentelemetry::trace::Span as _;
        if self.record.is_none() {
            return;
        }
        let mut attributes = Vec::with_capacity(3);
        if !type_name.is_empty() {
            attributes.push(KeyValue::new("exception.type", type_name));
        }
        attributes.push(KeyValue::new("exception.message", err.to_string()));
        attributes.push(KeyValue::new("exception.escaped", false));
        self.add_event("exception", attributes);
    }

    /// Room for one more attribute: the vector a span of this thread left at its end, else
    /// one allocation for the usual handful of attributes instead of 4 then 8; a full vector
    /// grows. Out of line: `set_attribute` then checks the capacity once, in the push.
    #[cold]
    #[inline(never)]
    fn make_room(&mut self) {
        if self.attributes.capacity() == 0 {
            self.attributes = crate::trace::spare_attributes();
        } else {
            self.attributes.reserve(1);
        }
    }

    fn finish(&mut self, end_ns: i64) {
        if let Some(mut record) = self.record.take() {
            record.end_ns = end_ns.max(record.start_ns);
            self.trace
                .finish(record, std::mem::take(&mut self.attributes));
        }
    }
}

impl opentelemetry::trace::Span for Span {
    fn add_event<T>(&mut self, name: T, attributes: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
        self.add_event_with_timestamp(name, SystemTime::now(), attributes);
    }

    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        if let Some(record) = self.record.as_mut() {
            record
                .extras_mut()
                .events
                .push(Event::new(name, timestamp, attributes, 0));
        }
    }

    /// Adds an `exception` event with `exception.type` (the leading identifier of the error's
    /// `Debug` form, the only type information a `dyn Error` exposes; use
    /// [`Span::record_typed_error`] for the real type name), `exception.message` (its
    /// `Display` form) and `exception.escaped = false`. It does not put the span in error; a
    /// span that ends with status `Error` takes its error tags from these events.
    fn record_error(&mut self, err: &dyn StdError) {
        let debug = format!("{err:?}");
        let type_name: String = debug
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        self.record_exception(type_name, err);
    }

    fn span_context(&self) -> &SpanContext {
        self.context.get_or_init(|| {
            Trace::register(&self.trace);
            self.trace.span_context(self.span_id, self.sampled)
        })
    }

    fn is_recording(&self) -> bool {
        self.record.is_some()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        if self.record.is_none() {
            return;
        }
        if crate::trace::is_trace_level_key(attribute.key.as_str()) {
            self.trace
                .on_attribute(self.span_id, attribute.key.as_str(), &attribute.value);
        }
        if self.attributes.len() == self.attributes.capacity() {
            self.make_room();
        }
        self.attributes.push(attribute);
    }

    fn set_status(&mut self, status: Status) {
        let Some(record) = self.record.as_mut() else {
            return;
        };
        // Ok > Error > Unset (§7.1): Ok is final, Unset never overrides.
        if record.status == StatusCode::Ok {
            return;
        }
        match status {
            Status::Unset => {}
            Status::Ok => record.status = StatusCode::Ok,
            Status::Error { description } => {
                record.status = StatusCode::Error;
                // A later error replaces an earlier one's description, even with none.
                if !description.is_empty() {
                    record.extras_mut().error_description = description;
                } else if let Some(extras) = record.extras.as_mut() {
                    extras.error_description = Cow::Borrowed("");
                }
            }
        }
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        if let Some(record) = self.record.as_mut() {
            record.name = new_name.into();
        }
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        if let Some(record) = self.record.as_mut() {
            if span_context.is_valid() {
                record
                    .extras_mut()
                    .links
                    .push(Link::new(span_context, attributes, 0));
            }
        }
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.finish(clock::system_time_ns(timestamp));
    }

    fn end(&mut self) {
        self.finish(clock::now_ns());
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if self.record.is_some() {
            self.finish(clock::now_ns());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every queued span costs this much of the exporter's byte bound: what most spans lack
    /// stays in `Extras`.
    #[test]
    fn a_span_record_stays_small() {
        assert!(
            std::mem::size_of::<SpanRecord>() <= 80,
            "SpanRecord is {} bytes",
            std::mem::size_of::<SpanRecord>()
        );
    }

    /// Setting a status without a description (as instrumentations do on every span) keeps
    /// the record without extras; a description goes there.
    #[test]
    fn a_status_without_description_needs_no_extras() {
        use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
        let provider = crate::TracerProvider::builder()
            .with_exporter(crate::InMemoryExporter::new())
            .build()
            .expect("provider");
        let mut span = provider.tracer("t").start("op");
        span.set_status(Status::Ok);
        let record = span.record.as_ref().expect("open");
        assert_eq!(record.status, StatusCode::Ok);
        assert!(record.extras.is_none());
        let mut span = provider.tracer("t").start("op");
        span.set_status(Status::error(""));
        assert!(span.record.as_ref().expect("open").extras.is_none());
        span.set_status(Status::error("boom"));
        let record = span.record.as_ref().expect("open");
        assert_eq!(record.status, StatusCode::Error);
        let extras = record.extras.as_ref().expect("a description");
        assert_eq!(extras.error_description, "boom");
    }
}
