//! The Datadog trace payload codec: [`TraceChunk`]s to and from the msgpack bodies of the
//! agent's `/v0.4/traces` and `/v0.5/traces` endpoints.
//!
//! Use the `ddtrace` crate unless you embed one piece of it: this crate only turns chunks into
//! bytes and back; sending them is `ddtrace-transport`'s job.
//!
//! * [`PayloadEncoder`] builds payloads chunk by chunk, reusing its buffers (and the v0.5
//!   string table) from one payload to the next; [`encode`] is the one-shot form. It takes
//!   [`TraceChunk`]s, or [`ChunkView`](ddtrace_model::ChunkView)s that describe a chunk by
//!   borrowed parts (the same bytes, without building the chunk), and is a
//!   [`ChunkSink`](ddtrace_model::ChunkSink).
//! * [`decode`] reads a payload back into chunks (tests, tools, the test agent's captures).
//! * [`inspect`] checks a payload as [`decode`] does and counts its chunks and spans, without
//!   building them or allocating (a receiver that only counts, such as a benchmark's sink).
//!
//! The encode path is a hand-written msgpack writer: no serde, no allocation per span once
//! the buffers have grown (except the v0.5 string table's first sight of a string, and the
//! JSON fallbacks' scratch buffer growing).
//!
//! ```
//! use ddtrace_encoding::{decode, EncodeOptions, Format, PayloadEncoder};
//! use ddtrace_model::{SamplingPriority, Span, SpanId, TraceChunk, TraceId};
//!
//! let mut root = Span::new(TraceId::from_parts(0x6650f1a2_00000000, 42), SpanId::new(7).unwrap(), "request");
//! root.service = "web".into();
//! root.set_meta("env", "prod");
//! let mut chunk = TraceChunk::new(vec![root]);
//! chunk.priority = Some(SamplingPriority::AUTO_KEEP);
//! chunk.tags.insert("_dd.p.dm", "-0".into());
//!
//! let mut encoder = PayloadEncoder::new(Format::V04, EncodeOptions::default());
//! encoder.push(&chunk);
//! let body = encoder.finish().to_vec();
//! assert_eq!(Format::V04.path(), "/v0.4/traces");
//!
//! // On the wire the first span carries `_sampling_priority_v1`, `_dd.p.dm` and
//! // `_dd.p.tid`; decoding moves them back to the chunk.
//! assert_eq!(decode(Format::V04, &body)?, vec![chunk]);
//! # Ok::<(), ddtrace_encoding::Error>(())
//! ```
//!
//! ## Wire choices
//!
//! Where the agent API (agent-api.md §4–§5) leaves room, v0.4 spans always carry `meta`
//! and `metrics` (system-tests index them directly) and omit `parent_id` for roots, `error`
//! when false, `type` when empty and every empty optional field (`meta_struct`,
//! `span_links`, `span_events`); integers take their smallest msgpack width. This reproduces
//! the byte examples of agent-api.md §4.5 and §5.2 exactly. The chunk-level rules (what is
//! written on the first span, what on every span, and which value wins) are listed on
//! [`PayloadEncoder`]; what comes back, and what round-trips, on [`decode`].
//!
//! ## Performance
//!
//! Encoding 1,000 spans (10 meta, 4 metrics each) takes about 100 ns per span in v0.4,
//! roughly 2.5 times faster than serializing the same data with `#[derive(Serialize)]` and
//! `rmp-serde` (`cargo bench -p ddtrace-benches --bench encoding`). v0.5 takes about 130 ns
//! per span (about 2,700 instructions, against 2,100 for v0.4): the string table remembers,
//! for the whole payload, the address of every string that repeats (key literals, `Arc`
//! values), so interning one costs an address lookup (plus a compare with the table's copy
//! when the address comes from an earlier chunk, which may have been freed since). Only a
//! string the payload has not interned from that address is hashed, with a keyed
//! folded-multiply hash, 16 bytes per multiply.
//!
//! Pushed as [`ChunkView`](ddtrace_model::ChunkView)s borrowing the same strings, the spans
//! take about 80 ns each in v0.4 (against 105 to 120 ns as `TraceChunk`s, the chunks being
//! the more sensitive to the process's memory layout) and about 128 ns in v0.5, where the
//! string table dominates (`encode_1000_spans_views`; building the views is not timed).
//!
//! Decoding the same spans costs about 0.9 µs per span in either format (8,800 and 5,800
//! instructions for v0.4 and v0.5), mostly building and later dropping the model's spans and
//! maps: a v0.4 string read again shares the `Arc<str>` made the first time (a bounded cache
//! per payload), without another allocation or UTF-8 check; v0.5 strings come from the
//! table. [`inspect`] checks the same payloads, building nothing, in about 150 ns per span
//! in v0.4 and 70 ns in v0.5 (2,800 and 1,400 instructions, on the bench's 1,000 spans,
//! measured outside criterion), mostly reading strings and checking that they are UTF-8.
//!
//! ## Supported Rust versions
//!
//! The minimum supported Rust version is 1.85; raising it is a minor-version change.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
#![cfg_attr(
    test,
    allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

use std::fmt;
use std::str::FromStr;

mod decode;
mod encode;
mod error;
mod inspect;
mod intern;
mod json;
mod read;
mod write;

pub use decode::decode;
pub use encode::{PayloadEncoder, encode};
pub use error::{Error, Result};
pub use inspect::{PayloadSummary, inspect};

#[doc(no_inline)]
pub use ddtrace_model::TraceChunk;

/// A trace payload format of the agent API.
///
/// `Display` and [`FromStr`] use the names of `DD_TRACE_API_VERSION` (`v0.4`, `v0.5`).
///
/// ```
/// use ddtrace_encoding::Format;
///
/// let format: Format = "v0.5".parse()?;
/// assert_eq!(format, Format::V05);
/// assert_eq!(format.path(), "/v0.5/traces");
/// assert_eq!(format.to_string(), "v0.5");
/// assert!("v0.7".parse::<Format>().is_err());
/// # Ok::<(), ddtrace_encoding::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// `/v0.4/traces`: spans as maps, every string inline. Carries everything, including
    /// native span links, span events and `meta_struct`.
    #[default]
    V04,
    /// `/v0.5/traces`: spans as 12-element arrays and a string table; links and events travel
    /// as JSON in meta, `meta_struct` is dropped.
    V05,
}

impl Format {
    /// The agent endpoint path for this format.
    pub fn path(self) -> &'static str {
        match self {
            Format::V04 => "/v0.4/traces",
            Format::V05 => "/v0.5/traces",
        }
    }

    /// The name used by `DD_TRACE_API_VERSION`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::V04 => "v0.4",
            Format::V05 => "v0.5",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = Error;
    /// Parses `v0.4` or `v0.5` (surrounding whitespace and case ignored).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "v0.4" => Ok(Format::V04),
            "v0.5" => Ok(Format::V05),
            _ => Err(Error::UnknownFormat(s.to_owned())),
        }
    }
}

/// How chunks are encoded, beyond the format.
///
/// ```
/// use ddtrace_encoding::EncodeOptions;
///
/// // Once the agent's /info reports "span_events": true:
/// let options = EncodeOptions { native_span_events: true };
/// assert!(!EncodeOptions::default().native_span_events);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeOptions {
    /// v0.4 only: write span events in the native `span_events` field (when the agent
    /// advertises `"span_events": true`) instead of the meta `events` JSON fallback. v0.5
    /// always uses the fallback.
    pub native_span_events: bool,
}
