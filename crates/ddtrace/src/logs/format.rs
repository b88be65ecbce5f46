//! Log correlation for `tracing-subscriber`: [`DatadogFormat`] (text) and [`JsonFormat`].

use std::fmt::{self, Write as _};

use opentelemetry::trace::TraceContextExt as _;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::{Correlation, ENV_KEY, SERVICE_KEY, SPAN_ID_KEY, Settings, TRACE_ID_KEY, VERSION_KEY};

/// The fields of the current `tracing` span: the OpenTelemetry context that
/// tracing-opentelemetry attached to it, else the current OpenTelemetry context.
fn event_correlation(settings: Option<&Settings>) -> Option<Correlation> {
    let span = tracing::Span::current();
    let from_span = if span.is_none() {
        None
    } else {
        Some(span.context())
    };
    let correlate = |cx: &opentelemetry::Context| match settings {
        Some(settings) => Correlation::from_context_with(cx, settings),
        None => Correlation::from_context(cx),
    };
    match from_span {
        Some(cx) if cx.span().span_context().is_valid() => correlate(&cx),
        _ => opentelemetry::Context::map_current(correlate),
    }
}

/// A `tracing-subscriber` fmt [`FormatEvent`] that writes the [`Correlation`] fields of the
/// current span, then a space, before what the wrapped formatter writes:
///
/// ```text
/// dd.trace_id=6767f0a10000000012345678a1b2c3d4 dd.span_id=6481239082 dd.service=checkout 2026-… INFO shop: paid
/// ```
///
/// Events outside a span are written by the wrapped formatter alone. The span is the one
/// tracing-opentelemetry tracks for the current `tracing` span, or else the span active in
/// the current OpenTelemetry context.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
/// use ddtrace::logs::DatadogFormat;
///
/// let subscriber = tracing_subscriber::registry()
///     // .with(tracing_opentelemetry::layer().with_tracer(opentelemetry::global::tracer("app")))
///     .with(tracing_subscriber::fmt::layer().event_format(DatadogFormat::default()));
/// tracing::subscriber::with_default(subscriber, || tracing::info!("ready"));
/// ```
#[derive(Debug, Clone)]
pub struct DatadogFormat<F = Format<Full, SystemTime>> {
    inner: F,
    settings: Option<Settings>,
}

impl Default for DatadogFormat {
    /// Wraps tracing-subscriber's default format.
    fn default() -> Self {
        DatadogFormat::new(Format::default())
    }
}

impl<F> DatadogFormat<F> {
    /// Wraps `inner`, for example `tracing_subscriber::fmt::format().compact()`; the fields
    /// use the global [`Settings`].
    pub fn new(inner: F) -> Self {
        DatadogFormat {
            inner,
            settings: None,
        }
    }

    /// Uses `settings` instead of the global ones.
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = Some(settings);
        self
    }
}

impl<S, N, F> FormatEvent<S, N> for DatadogFormat<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if let Some(correlation) = event_correlation(self.settings.as_ref()) {
            write!(writer, "{correlation} ")?;
        }
        self.inner.format_event(ctx, writer, event)
    }
}

/// A `tracing-subscriber` fmt [`FormatEvent`] writing one JSON object per line: `timestamp`
/// (RFC 3339, UTC), `level`, `target`, `message`, the event's other fields, and the
/// [`Correlation`] fields of the current span (`dd.trace_id`, `dd.span_id`, `dd.service`,
/// `dd.env`, `dd.version`), all at the top level where Datadog's log pipeline reads them:
///
/// ```text
/// {"timestamp":"2026-11-24T22:00:40.123456Z","level":"INFO","target":"shop","message":"paid","amount":12,"dd.trace_id":"6767f0a10000000012345678a1b2c3d4","dd.span_id":"6481239082","dd.service":"checkout"}
/// ```
///
/// Ids are strings (a 64-bit decimal id does not fit a JSON number's exact range). An event
/// field whose name is one of the keys above is written as `fields.<name>`. Outside a span
/// the `dd.*` fields are left out.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
/// use ddtrace::logs::JsonFormat;
///
/// let subscriber = tracing_subscriber::registry()
///     // .with(tracing_opentelemetry::layer().with_tracer(opentelemetry::global::tracer("app")))
///     .with(tracing_subscriber::fmt::layer().event_format(JsonFormat::new()));
/// tracing::subscriber::with_default(subscriber, || tracing::info!(amount = 12, "paid"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct JsonFormat {
    settings: Option<Settings>,
}

impl JsonFormat {
    /// The JSON format; the fields use the global [`Settings`].
    pub fn new() -> Self {
        JsonFormat::default()
    }

    /// Uses `settings` instead of the global ones.
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = Some(settings);
        self
    }
}

const RESERVED: [&str; 9] = [
    "timestamp",
    "level",
    "target",
    "message",
    TRACE_ID_KEY,
    SPAN_ID_KEY,
    SERVICE_KEY,
    ENV_KEY,
    VERSION_KEY,
];

impl<S, N> FormatEvent<S, N> for JsonFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let meta = event.metadata();

        let mut visitor = JsonFields::default();
        event.record(&mut visitor);

        let mut line = JsonLine::default();
        line.string("timestamp", &timestamp);
        line.string("level", meta.level().as_str());
        line.string("target", meta.target());
        if let Some(message) = &visitor.message {
            line.string("message", message);
        }
        for (name, value) in &visitor.fields {
            if RESERVED.contains(name) {
                line.value(&format!("fields.{name}"), value);
            } else {
                line.value(name, value);
            }
        }
        if let Some(correlation) = event_correlation(self.settings.as_ref()) {
            for (k, v) in correlation.iter() {
                line.string(k, v);
            }
        }
        writer.write_str(&line.finish())
    }
}

/// A JSON object written key by key, in order.
#[derive(Default)]
struct JsonLine {
    out: String,
}

impl JsonLine {
    fn key(&mut self, key: &str) {
        self.out.push(if self.out.is_empty() { '{' } else { ',' });
        push_json_string(&mut self.out, key);
        self.out.push(':');
    }

    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        push_json_string(&mut self.out, value);
    }

    fn value(&mut self, key: &str, value: &serde_json::Value) {
        self.key(key);
        // Writing a `Value` into a `String` cannot fail.
        let _ = write!(self.out, "{value}");
    }

    fn finish(mut self) -> String {
        if self.out.is_empty() {
            self.out.push('{');
        }
        self.out.push_str("}\n");
        self.out
    }
}

fn push_json_string(out: &mut String, s: &str) {
    let _ = write!(out, "{}", serde_json::Value::from(s));
}

/// The event's fields as JSON values; `message` apart.
#[derive(Default)]
struct JsonFields {
    message: Option<String>,
    fields: Vec<(&'static str, serde_json::Value)>,
}

impl JsonFields {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.fields.push((field.name(), value));
        }
    }
}

impl Visit for JsonFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // NaN and infinities have no JSON number: they become null.
        self.put(field, serde_json::Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.put(field, value.to_string().into());
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.put(field, value.to_string().into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}
