//! The crate's error type.

/// Why a payload could not be decoded (or a format name not parsed).
///
/// Offsets are byte positions in the payload, to find the spot with a hex dump.
///
/// ```
/// use ddtrace_encoding::{decode, Error, Format};
///
/// // A v0.5 span must have exactly 12 fields.
/// let payload = [0x92, 0x91, 0xa0, 0x91, 0x91, 0x91, 0x00];
/// match decode(Format::V05, &payload) {
///     Err(Error::ArrayLength { expected: 12, found: 1, offset }) => assert_eq!(offset, 5),
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The payload ends in the middle of a value.
    #[error("payload truncated: {needed} more bytes needed at offset {offset}")]
    Truncated {
        /// Where the value that does not fit starts.
        offset: usize,
        /// Bytes missing (a lower bound for collections).
        needed: usize,
    },
    /// A value of the wrong msgpack type.
    #[error("expected {expected} at offset {offset}, found marker 0x{marker:02x}")]
    UnexpectedType {
        /// Where the value starts.
        offset: usize,
        /// Its first byte.
        marker: u8,
        /// What the layout requires there.
        expected: &'static str,
    },
    /// A string that is not UTF-8.
    #[error("invalid UTF-8 in the string at offset {offset}")]
    InvalidUtf8 {
        /// Where the string starts.
        offset: usize,
    },
    /// An integer that does not fit its field.
    #[error("integer out of range for `{field}` at offset {offset}")]
    IntegerOutOfRange {
        /// Where the integer starts.
        offset: usize,
        /// The field it was read for.
        field: &'static str,
    },
    /// A span or span link whose span id is zero or missing (the model has no such span).
    #[error("`{field}` is zero or missing in the span ending at offset {offset}")]
    MissingId {
        /// Where the span (or link) ends.
        offset: usize,
        /// `span_id`.
        field: &'static str,
    },
    /// A v0.5 payload that is not `[strings, chunks]` or a v0.5 span that is not 12 fields.
    #[error("v0.5 layout: expected an array of {expected} at offset {offset}, found {found}")]
    ArrayLength {
        /// Where the array starts.
        offset: usize,
        /// The required length.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A v0.5 string index beyond the string table.
    #[error("string index {index} at offset {offset} is beyond the table of {len} strings")]
    StringIndex {
        /// Where the index starts.
        offset: usize,
        /// The index.
        index: u64,
        /// The table's length.
        len: usize,
    },
    /// Bytes left after the payload's top-level value.
    #[error("{count} trailing bytes after the payload")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A format name that is neither `v0.4` nor `v0.5`.
    #[error("unknown trace payload format {0:?} (expected v0.4 or v0.5)")]
    UnknownFormat(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
