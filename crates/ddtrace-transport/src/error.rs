//! The transport crate's error type.

use std::time::Duration;

/// Errors of the transport: configuration errors at start, and outcomes of flush/shutdown.
///
/// Delivery failures of individual payloads are not errors returned to the application: they
/// are retried, then dropped and counted in [`TransportStats`](crate::TransportStats).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The agent URL could not be used.
    #[error("invalid agent URL {url:?}: {reason}")]
    InvalidUrl {
        /// The rejected URL.
        url: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A flush or shutdown did not finish in time.
    #[error(
        "timed out after {timeout:?}: {pending_spans} spans in {pending_chunks} chunks not yet delivered"
    )]
    Timeout {
        /// How long was waited.
        timeout: Duration,
        /// Chunks still queued or in flight.
        pending_chunks: u64,
        /// Spans in those chunks.
        pending_spans: u64,
    },
    /// The transport was already shut down.
    #[error("the transport is shut down")]
    ShutDown,
    /// The worker thread could not be started.
    #[error("could not start the transport worker thread: {0}")]
    Spawn(#[source] std::io::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for ddtrace_model::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Timeout {
                timeout,
                pending_chunks,
                pending_spans,
            } => ddtrace_model::Error::Timeout {
                timeout,
                pending_chunks,
                pending_spans,
            },
            _ => ddtrace_model::Error::ShutDown,
        }
    }
}
