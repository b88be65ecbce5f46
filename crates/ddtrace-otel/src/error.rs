//! The crate's error type.

use std::time::Duration;

/// Errors of the OpenTelemetry bridge.
///
/// Span operations never return errors (the OpenTelemetry API has none): they log through the
/// `log` crate and count in [`BridgeStats`](crate::BridgeStats). Errors come only from building
/// a provider and from [`force_flush`](crate::TracerProvider::force_flush) /
/// [`shutdown`](crate::TracerProvider::shutdown).
///
/// ```
/// use ddtrace_otel::{Error, InMemoryExporter, TracerProvider};
///
/// assert!(matches!(TracerProvider::builder().build(), Err(Error::NoExporter)));
/// let provider = TracerProvider::builder().with_exporter(InMemoryExporter::new()).build()?;
/// provider.shutdown()?;
/// assert!(matches!(provider.shutdown(), Err(Error::ShutDown)));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting has a value the bridge cannot use.
    #[error("invalid setting {name}: {value:?} ({reason})")]
    InvalidSetting {
        /// The setting (an environment variable name or a builder method).
        name: &'static str,
        /// The rejected value.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The provider has no exporter to hand chunks to.
    #[error("no exporter configured: call TracerProviderBuilder::with_exporter")]
    NoExporter,
    /// The provider was already shut down.
    #[error("the tracer provider is shut down")]
    ShutDown,
    /// The exporter did not deliver everything in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The exporter reported another failure.
    #[error("exporter: {0}")]
    Exporter(ddtrace_model::Error),
}

impl From<ddtrace_model::Error> for Error {
    fn from(e: ddtrace_model::Error) -> Self {
        match e {
            ddtrace_model::Error::Timeout { timeout, .. } => Error::Timeout(timeout),
            ddtrace_model::Error::ShutDown => Error::ShutDown,
            other => Error::Exporter(other),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
