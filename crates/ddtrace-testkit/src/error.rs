//! The crate's one error type.

use std::fmt;
use std::time::Duration;

/// Everything that can go wrong while installing, starting or querying the test agent.
///
/// `Debug` prints the same text as `Display`, so a test that ends with `?` or `.unwrap()`
/// shows the whole message (including how to install the agent by hand), not a struct dump.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The test agent is not installed and installing it failed.
    #[error(
        "could not install the Datadog test agent (ddapm-test-agent {version}): {step} failed:\n{detail}\n\n{hint}"
    )]
    Install {
        /// The pinned test-agent version.
        version: &'static str,
        /// What was being done, e.g. `python3 -m venv target/test-agent/venv`.
        step: String,
        /// The command's output or the I/O error.
        detail: String,
        /// How to install the agent by hand.
        hint: String,
    },
    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The agent process exited before it answered.
    #[error(
        "the test agent exited during startup ({status}); its output:\n{log}\n\
         (if the virtualenv is broken, delete it to have it reinstalled: {venv})",
        venv = crate::venv_dir().display()
    )]
    AgentExited {
        /// The exit status as printed by the OS.
        status: String,
        /// The agent's stdout and stderr.
        log: String,
    },
    /// The agent did not answer `GET /info` before the deadline.
    #[error("the test agent did not answer on {url} within {timeout:?}; its output:\n{log}")]
    StartTimeout {
        /// The agent's base URL.
        url: String,
        /// How long we waited.
        timeout: Duration,
        /// The agent's stdout and stderr.
        log: String,
    },
    /// An HTTP request could not be completed (connection refused, timeout, …).
    #[error("{method} {url} failed: {message}")]
    Http {
        /// Request method.
        method: String,
        /// Request URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The agent answered with a status the call does not accept.
    #[error("{method} {url} answered HTTP {status}: {body}")]
    Status {
        /// Request method.
        method: String,
        /// Request URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The response body (lossy UTF-8).
        body: String,
    },
    /// The agent's answer was not what the call expected.
    #[error("could not decode the answer of {url}: {message}")]
    Decode {
        /// Request URL.
        url: String,
        /// What did not match.
        message: String,
    },
    /// A `wait_for_*` call gave up.
    #[error("timed out after {timeout:?} waiting for {what}; last seen: {last}")]
    WaitTimeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        timeout: Duration,
        /// A summary of the last state seen.
        last: String,
    },
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
