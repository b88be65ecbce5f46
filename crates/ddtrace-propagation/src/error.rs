//! The crate's error type.

/// Errors returned by the parsing helpers of this crate.
///
/// Extraction and injection themselves never return errors: malformed headers make a style
/// yield no context (or drop the bad part and record a propagation error tag), as the Datadog
/// propagation rules require. These errors come from the explicit parsers, such as
/// [`Style`](crate::Style)'s `FromStr` and [`Baggage::from_header`](crate::Baggage::from_header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A propagation style name that is not known.
    #[error("unknown propagation style {0:?}")]
    UnknownStyle(String),
    /// An extraction behaviour that is not `continue`, `restart` or `ignore`.
    #[error("unknown extraction behaviour {0:?}")]
    UnknownBehavior(String),
    /// A W3C baggage header with a malformed list member (the whole header is discarded).
    #[error("malformed baggage member {member:?}")]
    MalformedBaggage {
        /// The offending member (cut to 64 bytes).
        member: String,
    },
}

impl Error {
    pub(crate) fn malformed_baggage(member: &str) -> Self {
        let mut end = member.len().min(64);
        while !member.is_char_boundary(end) {
            end -= 1;
        }
        Error::MalformedBaggage {
            member: member.get(..end).unwrap_or_default().to_owned(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
