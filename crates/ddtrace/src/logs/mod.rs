//! Log correlation: the ids of the current span, and the service, env and version of the
//! tracer, written into the application's own logs so that Datadog links each log line to its
//! trace.
//!
//! Five fields are produced, under the names Datadog's log pipeline reads:
//!
//! | key | value |
//! |---|---|
//! | `dd.trace_id` | 32 lower-case hex digits when the trace id has non-zero high 64 bits (and `DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED` is not `false`), else the low 64 bits in decimal |
//! | `dd.span_id` | the span id in decimal |
//! | `dd.service`, `dd.env`, `dd.version` | the installed tracer's [`Config`] values; omitted when unset |
//!
//! Nothing is produced outside a span, nor when `DD_LOGS_INJECTION=false`.
//!
//! The core, [`Correlation`], needs no cargo feature. Two features plug it into logging
//! libraries:
//!
//! * `log`: `CorrelatedLogger` wraps any [`log::Log`] and adds the fields to each record as
//!   key-values (optionally also at the end of the message).
//! * `tracing`: `DatadogFormat` wraps a `tracing-subscriber` fmt formatter and prefixes each
//!   line with the fields; `JsonFormat` writes one JSON object per line with the fields at
//!   the top level.
//!
//! [`install`](crate::install) remembers the installed configuration for these; an
//! application that builds its [`TracerProvider`](crate::TracerProvider) by hand calls
//! [`set_global_config`] (or [`set_global_settings`]) itself.
//!
//! ```
//! use opentelemetry::trace::{Tracer as _, TracerProvider as _};
//! use ddtrace::logs::{Correlation, Settings};
//! use ddtrace::otel::{InMemoryExporter, TracerProvider};
//!
//! let provider = TracerProvider::builder().with_exporter(InMemoryExporter::new()).build()?;
//! let tracer = provider.tracer("shop");
//! let settings = Settings::default().with_service("shop").with_env("prod");
//!
//! assert!(Correlation::current().is_none()); // no span, no fields
//! tracer.in_span("checkout", |cx| {
//!     let c = Correlation::from_context_with(&cx, &settings).expect("inside a span");
//!     let line = c.to_string();
//!     assert!(line.starts_with("dd.trace_id="));
//!     assert!(line.ends_with(" dd.service=shop dd.env=prod"));
//!     let keys: Vec<&str> = c.iter().map(|(k, _)| k).collect();
//!     assert_eq!(keys, ["dd.trace_id", "dd.span_id", "dd.service", "dd.env"]);
//! });
//! # Ok::<(), ddtrace::otel::Error>(())
//! ```

use std::fmt;
use std::sync::{Arc, RwLock};

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt as _};

use crate::Config;

#[cfg(feature = "tracing")]
mod format;
#[cfg(feature = "log")]
mod logger;

#[cfg(feature = "tracing")]
pub use format::{DatadogFormat, JsonFormat};
#[cfg(feature = "log")]
pub use logger::CorrelatedLogger;

/// The key of the trace id.
pub const TRACE_ID_KEY: &str = "dd.trace_id";
/// The key of the span id.
pub const SPAN_ID_KEY: &str = "dd.span_id";
/// The key of the service.
pub const SERVICE_KEY: &str = "dd.service";
/// The key of the environment.
pub const ENV_KEY: &str = "dd.env";
/// The key of the application version.
pub const VERSION_KEY: &str = "dd.version";

/// What log correlation adds besides the ids, and how: the service, env and version, whether
/// injection is on (`DD_LOGS_INJECTION`) and the trace id format
/// (`DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED`).
///
/// The default has no service, env or version, injection on and 128-bit trace ids written in
/// hex. Cloning is cheap.
///
/// ```
/// use ddtrace::logs::Settings;
///
/// let settings = Settings::default()
///     .with_service("checkout")
///     .with_version("1.4.2")
///     .with_trace_id_128bit_logging(false);
/// assert_eq!(settings.service(), Some("checkout"));
/// assert_eq!(settings.env(), None);
/// assert!(settings.logs_injection());
/// assert!(!settings.trace_id_128bit_logging());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings(Arc<SettingsInner>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct SettingsInner {
    service: Option<String>,
    env: Option<String>,
    version: Option<String>,
    logs_injection: bool,
    trace_id_128bit: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings(Arc::new(SettingsInner {
            service: None,
            env: None,
            version: None,
            logs_injection: true,
            trace_id_128bit: true,
        }))
    }
}

impl Settings {
    /// The settings of a tracer configuration: its service, env, version,
    /// `DD_LOGS_INJECTION` and `DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED` (`false` writes every
    /// trace id as the decimal low 64 bits).
    pub fn from_config(config: &Config) -> Settings {
        let trace_id_128bit = config.trace_id_128bit_logging();
        Settings(Arc::new(SettingsInner {
            service: Some(config.service().to_owned()),
            env: config.env().map(str::to_owned),
            version: config.version().map(str::to_owned),
            logs_injection: config.logs_injection,
            trace_id_128bit,
        }))
    }

    /// The settings in effect for the process: those given to [`set_global_settings`] or
    /// [`set_global_config`] last, else the defaults.
    pub fn global() -> Settings {
        let guard = GLOBAL
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.clone().unwrap_or_default()
    }

    /// Sets the service (`dd.service`).
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.0).service = Some(service.into());
        self
    }

    /// Sets the environment (`dd.env`).
    pub fn with_env(mut self, env: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.0).env = Some(env.into());
        self
    }

    /// Sets the application version (`dd.version`).
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.0).version = Some(version.into());
        self
    }

    /// Turns injection on or off (`DD_LOGS_INJECTION`); off, no fields are produced.
    pub fn with_logs_injection(mut self, enabled: bool) -> Self {
        Arc::make_mut(&mut self.0).logs_injection = enabled;
        self
    }

    /// Chooses the trace id format (`DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED`): `true`
    /// writes 128-bit ids as 32 hex digits, `false` always writes the decimal low 64 bits.
    pub fn with_trace_id_128bit_logging(mut self, enabled: bool) -> Self {
        Arc::make_mut(&mut self.0).trace_id_128bit = enabled;
        self
    }

    /// The service, if any.
    pub fn service(&self) -> Option<&str> {
        self.0.service.as_deref()
    }

    /// The environment, if any.
    pub fn env(&self) -> Option<&str> {
        self.0.env.as_deref()
    }

    /// The application version, if any.
    pub fn version(&self) -> Option<&str> {
        self.0.version.as_deref()
    }

    /// Whether fields are produced at all.
    pub fn logs_injection(&self) -> bool {
        self.0.logs_injection
    }

    /// Whether 128-bit trace ids are written as 32 hex digits.
    pub fn trace_id_128bit_logging(&self) -> bool {
        self.0.trace_id_128bit
    }
}

static GLOBAL: RwLock<Option<Settings>> = RwLock::new(None);

/// Remembers the configuration of the installed tracer for log correlation;
/// [`install`](crate::install) calls it. Same as
/// `set_global_settings(Settings::from_config(config))`.
pub fn set_global_config(config: &Config) {
    set_global_settings(Settings::from_config(config));
}

/// Replaces the settings used by [`Correlation::current`] and the loggers and formatters
/// that were not given their own.
///
/// ```
/// use ddtrace::logs::{Settings, set_global_settings};
///
/// set_global_settings(Settings::default().with_service("billing"));
/// assert_eq!(Settings::global().service(), Some("billing"));
/// ```
pub fn set_global_settings(settings: Settings) {
    let mut guard = GLOBAL
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *guard = Some(settings);
}

/// The correlation fields of one span: its trace and span ids, and the tracer's service,
/// env and version.
///
/// Displays as `dd.trace_id=… dd.span_id=… dd.service=… dd.env=… dd.version=…` (unset
/// values left out); [`iter`](Correlation::iter) gives the same pairs. With the `log` feature
/// it is also a `log::kv::Source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    trace_id: String,
    span_id: String,
    settings: Settings,
}

impl Correlation {
    /// The fields of the span active in the current OpenTelemetry context, with the global
    /// [`Settings`]; `None` outside a span or with injection off.
    pub fn current() -> Option<Correlation> {
        Context::map_current(Correlation::from_context)
    }

    /// The fields of the span active in `cx`, with the global [`Settings`].
    pub fn from_context(cx: &Context) -> Option<Correlation> {
        if !cx.has_active_span() {
            return None;
        }
        Correlation::from_span_context(cx.span().span_context())
    }

    /// The fields of the span active in `cx`, with the given settings.
    pub fn from_context_with(cx: &Context, settings: &Settings) -> Option<Correlation> {
        if !cx.has_active_span() {
            return None;
        }
        Correlation::from_span_context_with(cx.span().span_context(), settings)
    }

    /// The fields of `span_context`, with the global [`Settings`]; `None` if it is invalid or
    /// injection is off.
    pub fn from_span_context(span_context: &SpanContext) -> Option<Correlation> {
        if !span_context.is_valid() {
            return None; // not worth reading the global settings
        }
        Correlation::from_span_context_with(span_context, &Settings::global())
    }

    /// The fields of `span_context`, with the given settings; `None` if it is invalid or
    /// injection is off.
    ///
    /// ```
    /// use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    /// use ddtrace::logs::{Correlation, Settings};
    ///
    /// let sc = SpanContext::new(
    ///     TraceId::from(0x6767_2b3c_0000_0000_0000_0000_0000_00ff_u128),
    ///     SpanId::from(7_u64),
    ///     TraceFlags::SAMPLED,
    ///     false,
    ///     TraceState::NONE,
    /// );
    /// let c = Correlation::from_span_context_with(&sc, &Settings::default()).unwrap();
    /// assert_eq!(c.to_string(), "dd.trace_id=67672b3c0000000000000000000000ff dd.span_id=7");
    ///
    /// let decimal = Settings::default().with_trace_id_128bit_logging(false);
    /// let c = Correlation::from_span_context_with(&sc, &decimal).unwrap();
    /// assert_eq!(c.trace_id(), "255");
    /// ```
    pub fn from_span_context_with(
        span_context: &SpanContext,
        settings: &Settings,
    ) -> Option<Correlation> {
        if !settings.logs_injection() || !span_context.is_valid() {
            return None;
        }
        let trace_id = u128::from_be_bytes(span_context.trace_id().to_bytes());
        let span_id = u64::from_be_bytes(span_context.span_id().to_bytes());
        Some(Correlation {
            trace_id: format_trace_id(trace_id, settings.trace_id_128bit_logging()),
            span_id: span_id.to_string(),
            settings: settings.clone(),
        })
    }

    /// `dd.trace_id`: 32 hex digits or a decimal number.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// `dd.span_id`, in decimal.
    pub fn span_id(&self) -> &str {
        &self.span_id
    }

    /// `dd.service`, if configured.
    pub fn service(&self) -> Option<&str> {
        self.settings.service()
    }

    /// `dd.env`, if configured.
    pub fn env(&self) -> Option<&str> {
        self.settings.env()
    }

    /// `dd.version`, if configured.
    pub fn version(&self) -> Option<&str> {
        self.settings.version()
    }

    /// The fields as `(key, value)` pairs, in the order trace id, span id, service, env,
    /// version; unset ones are skipped.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        [
            (TRACE_ID_KEY, Some(self.trace_id.as_str())),
            (SPAN_ID_KEY, Some(self.span_id.as_str())),
            (SERVICE_KEY, self.service()),
            (ENV_KEY, self.env()),
            (VERSION_KEY, self.version()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
    }
}

impl fmt::Display for Correlation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

/// The trace id as the Datadog backend expects it in logs.
fn format_trace_id(trace_id: u128, hex_128: bool) -> String {
    if hex_128 && (trace_id >> 64) != 0 {
        format!("{trace_id:032x}")
    } else {
        // Truncation intended: the low 64 bits are the Datadog trace id.
        (trace_id as u64).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_formats() {
        let high = 0x0000_0001_0000_0000_0000_0000_0000_002a_u128;
        assert_eq!(
            format_trace_id(high, true),
            "0000000100000000000000000000002a"
        );
        assert_eq!(format_trace_id(high, false), "42");
        assert_eq!(
            format_trace_id(u128::from(u64::MAX), true),
            "18446744073709551615"
        );
        assert_eq!(format_trace_id(u128::MAX, false), "18446744073709551615");
        assert_eq!(format_trace_id(u128::MAX, true), "f".repeat(32));
    }

    #[test]
    fn settings_follow_the_config() {
        let config = crate::Config::builder_from_lookup(|k| match k {
            "DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED" => Some("false".to_owned()),
            "DD_LOGS_INJECTION" => Some("0".to_owned()),
            "DD_SERVICE" => Some("svc".to_owned()),
            _ => None,
        })
        .build()
        .unwrap();
        let settings = Settings::from_config(&config);
        assert!(!settings.trace_id_128bit_logging());
        assert!(!settings.logs_injection());
    }
}
