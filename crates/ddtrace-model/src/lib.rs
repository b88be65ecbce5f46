//! The Datadog data model shared by the `ddtrace` crates: ids, spans, trace chunks, tag keys,
//! and the [`ChunkExporter`] boundary.
//!
//! Use the `ddtrace` crate unless you embed one piece of it: this crate is the bottom of the
//! graph, has no I/O, and changes rarely.
//!
//! ```
//! use ddtrace_model::{tags, SamplingPriority, Span, SpanId, TraceChunk, TraceId};
//!
//! let trace_id = TraceId::generate(true, 1_700_000_000);
//! let mut root = Span::new(trace_id, SpanId::generate(), "http.server.request");
//! root.service = "web".into();
//! root.resource = "GET /".into();
//! root.start = 1_700_000_000_000_000_000;
//! root.duration = 1_500_000;
//! root.set_meta(tags::SPAN_KIND, "server");
//! root.set_metric(tags::TOP_LEVEL, 1.0);
//!
//! let mut chunk = TraceChunk::new(vec![root]);
//! chunk.priority = Some(SamplingPriority::AUTO_KEEP);
//! chunk.tags.insert(tags::DECISION_MAKER, "-0".into());
//! ```
//!
//! ## Supported Rust versions
//!
//! The minimum supported Rust version is 1.85; raising it is a minor-version change.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod chunk;
mod error;
mod export;
mod filter;
mod id;
mod map;
mod random;
mod span;
mod str;
pub mod tags;
mod view;

pub use chunk::{SamplingPriority, TraceChunk};
pub use error::{Error, Result};
pub use export::{ChunkExporter, PendingChunk};
pub use filter::KeyFilter;
pub use id::{SpanId, TraceId};
pub use map::TagMap;
pub use span::{AttributeArray, AttributeValue, Span, SpanEvent, SpanLink};
pub use str::Str;
pub use view::{ChunkSink, ChunkView, SpanView};
