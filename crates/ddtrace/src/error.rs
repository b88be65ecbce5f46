//! The facade's error type.

/// Errors of configuration given in code, start-up, flush and shutdown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A transport setting given in code was invalid, or the transport could not start.
    #[error(transparent)]
    Transport(#[from] ddtrace_transport::Error),
    /// The tracer provider could not be built, flushed or shut down in time.
    #[error(transparent)]
    Bridge(#[from] ddtrace_otel::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
