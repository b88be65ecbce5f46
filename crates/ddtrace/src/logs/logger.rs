//! [`CorrelatedLogger`]: log correlation for the `log` crate.

use std::fmt;

use log::kv::{self, Key, Source, Value, VisitSource};
use log::{Log, Metadata, Record};

use super::{Correlation, Settings};

/// A [`log::Log`] that hands every record to `L`, adding the [`Correlation`] fields of the
/// current span (when there is one) as key-values: `dd.trace_id`, `dd.span_id`,
/// `dd.service`, `dd.env`, `dd.version`.
///
/// Key-values are the default because structured loggers (JSON output, OpenTelemetry log
/// bridges) then emit them as separate attributes, which is what Datadog's log pipeline reads.
/// Text loggers that ignore key-values show nothing of them: for those, turn on
/// [`with_message_fields`](CorrelatedLogger::with_message_fields), which also appends
/// ` dd.trace_id=… dd.span_id=…` to the message. Records made outside a span are passed on
/// unchanged.
///
/// Install it in place of the logger it wraps; the maximum level stays the application's
/// choice:
///
/// ```
/// use ddtrace::logs::CorrelatedLogger;
///
/// // Any `log::Log`: env_logger's `Builder::from_default_env().build()`, a fern dispatch, …
/// struct Stderr;
/// impl log::Log for Stderr {
///     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
///     fn log(&self, record: &log::Record<'_>) { eprintln!("{}", record.args()) }
///     fn flush(&self) {}
/// }
///
/// let logger = CorrelatedLogger::new(Stderr).with_message_fields(true);
/// log::set_logger(Box::leak(Box::new(logger))).expect("no logger installed yet");
/// log::set_max_level(log::LevelFilter::Info);
/// ```
#[derive(Debug)]
pub struct CorrelatedLogger<L> {
    inner: L,
    settings: Option<Settings>,
    message_fields: bool,
}

impl<L: Log> CorrelatedLogger<L> {
    /// Wraps `inner`; the fields use the global [`Settings`].
    pub fn new(inner: L) -> Self {
        CorrelatedLogger {
            inner,
            settings: None,
            message_fields: false,
        }
    }

    /// Uses `settings` instead of the global ones.
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// Also appends the fields to the message, after a space (off by default).
    pub fn with_message_fields(mut self, enabled: bool) -> Self {
        self.message_fields = enabled;
        self
    }

    /// The wrapped logger.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    fn correlation(&self) -> Option<Correlation> {
        match &self.settings {
            Some(settings) => opentelemetry::Context::map_current(|cx| {
                Correlation::from_context_with(cx, settings)
            }),
            None => Correlation::current(),
        }
    }

    fn forward(&self, record: &Record<'_>, args: fmt::Arguments<'_>, kvs: &dyn Source) {
        self.inner.log(
            &Record::builder()
                .args(args)
                .metadata(record.metadata().clone())
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .key_values(kvs)
                .build(),
        );
    }
}

impl<L: Log> Log for CorrelatedLogger<L> {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        let Some(correlation) = self.correlation() else {
            self.inner.log(record);
            return;
        };
        let kvs = Chain {
            first: record.key_values(),
            second: &correlation,
        };
        if self.message_fields {
            self.forward(
                record,
                format_args!("{} {correlation}", record.args()),
                &kvs,
            );
        } else {
            self.forward(record, *record.args(), &kvs);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// The record's own key-values, then the correlation fields.
struct Chain<'a> {
    first: &'a dyn Source,
    second: &'a Correlation,
}

impl Source for Chain<'_> {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), kv::Error> {
        self.first.visit(visitor)?;
        self.second.visit(visitor)
    }
}

impl Source for Correlation {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), kv::Error> {
        for (k, v) in self.iter() {
            visitor.visit_pair(Key::from_str(k), Value::from(v))?;
        }
        Ok(())
    }
}
