//! Datadog tracing behind the OpenTelemetry API.
//!
//! Instrument with the vendor-neutral [`opentelemetry`] API (directly, or through `tracing` +
//! `tracing-opentelemetry`), install this crate's tracer provider with one call, and the spans
//! become Datadog spans — Datadog naming, priority sampling, Datadog/W3C/B3 propagation —
//! delivered to the Datadog Agent from a background thread. No async runtime is needed.
//!
//! ```no_run
//! use opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
//! use opentelemetry::{KeyValue, global};
//!
//! let _guard = ddtrace::builder().service("checkout").env("prod").init()?;
//!
//! let tracer = global::tracer("checkout");
//! let mut span = tracer
//!     .span_builder("GET /cart")
//!     .with_kind(SpanKind::Server)
//!     .with_attributes([KeyValue::new("http.request.method", "GET")])
//!     .start(&tracer);
//! span.end();
//! # Ok::<(), ddtrace::Error>(())
//! // dropping the guard at the end of main sends what is left
//! ```
//!
//! Configuration comes from the usual `DD_*` variables (and their `OTEL_*` equivalents), with
//! code overrides through [`builder()`]; see [`Config`].
//!
//! The crates behind the facade, for those who embed one piece:
//! [`model`] (Datadog span model), [`otel`] (the OpenTelemetry bridge), [`sampling`],
//! [`propagation`], [`transport`].
//!
//! ## Supported Rust versions
//!
//! The minimum supported Rust version is 1.85.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod diagnostics;
mod error;
mod exporters;
mod init;
pub mod logs;
mod tags;

pub use config::{Config, ConfigBuilder, DEFAULT_SERVICE, ExportMode};
pub use error::{Error, Result};
pub use exporters::{CollectingExporter, ConsoleExporter, DiscardExporter, span_json};
pub use init::{Report, SHUTDOWN_TIMEOUT, TracerGuard, builder, init, install, install_observed};

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;

pub use ddtrace_model as model;
pub use ddtrace_otel as otel;
pub use ddtrace_propagation as propagation;
pub use ddtrace_sampling as sampling;
pub use ddtrace_transport as transport;
pub use opentelemetry;

#[doc(inline)]
pub use ddtrace_otel::{DatadogPropagator, TracerProvider};
