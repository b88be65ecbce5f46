//! The facade's error type.

/// Errors of [`ConfigBuilder::build`](crate::ConfigBuilder::build) and of start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A transport setting given in code was invalid, or the transport could not start.
    #[error(transparent)]
    Transport(#[from] ddtrace_transport::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
