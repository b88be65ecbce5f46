//! The model crate's error type.

use std::time::Duration;

/// Errors of the model crate: bad ids, and the outcomes of the [`ChunkExporter`] contract.
///
/// [`ChunkExporter`]: crate::ChunkExporter
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Text that is not a valid id of the given kind.
    #[error("invalid {kind}: {input:?}")]
    InvalidId {
        /// `trace id` or `span id`.
        kind: &'static str,
        /// The rejected text (cut to 64 bytes).
        input: String,
    },
    /// A flush or shutdown did not finish in time.
    #[error(
        "timed out after {timeout:?} with {pending_spans} spans in {pending_chunks} chunks not delivered"
    )]
    Timeout {
        /// How long was waited.
        timeout: Duration,
        /// Chunks still queued or in flight.
        pending_chunks: u64,
        /// Spans in those chunks.
        pending_spans: u64,
    },
    /// The exporter was already shut down.
    #[error("the exporter is shut down")]
    ShutDown,
}

impl Error {
    pub(crate) fn invalid_id(kind: &'static str, input: &str) -> Self {
        let mut end = input.len().min(64);
        while !input.is_char_boundary(end) {
            end -= 1;
        }
        Error::InvalidId {
            kind,
            input: input[..end].to_owned(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
