//! Delivery of Datadog trace chunks to the Datadog Agent: a bounded queue filled by
//! application threads and a background worker that sends msgpack payloads over HTTP (TCP or
//! a Unix domain socket) with `ureq`. No async runtime is involved.
//!
//! Use the `ddtrace` crate unless you embed this piece on its own; it plugs into the tracer
//! through the [`ChunkExporter`](ddtrace_model::ChunkExporter) trait.
//!
//! What it guarantees:
//! * **The application thread never waits on the network.** [`AgentTransport::enqueue`] takes a
//!   short lock and pushes; the worker thread and its sending thread do all I/O.
//! * **Memory is bounded** by the queue limits (spans and bytes) plus what the worker holds:
//!   it streams, taking at most about 1,000 spans (or 1 MiB) from the queue at a time, mapping
//!   and encoding one chunk at a time and freeing each as soon as it is encoded, so besides the
//!   queue it holds one small batch and the bytes of two payloads: the one being encoded and
//!   the one a second thread (`ddtrace-sender`) is sending, so that encoding overlaps the
//!   agent's reading. Payloads are still sent one at a time and in order.
//! * **Nothing is lost silently.** Every span handed over is sent, still queued, or counted in
//!   one of the `spans_dropped_*` counters of [`TransportStats`]; drops are logged (at most
//!   every 10 s) through the `log` crate.
//!
//! How it talks to the agent (see the Datadog agent API):
//! * the address comes from `DD_TRACE_AGENT_URL`, then `DD_AGENT_HOST`/`DD_TRACE_AGENT_PORT`,
//!   then `/var/run/datadog/apm.socket` if it exists, then `http://localhost:8126`;
//! * `/info` is read once at start (again when the agent's state header changes, every five
//!   minutes, and after failures at most every 30 s) and chooses the payload format (v0.5 when
//!   offered, unless `DD_TRACE_API_VERSION` says otherwise), native span events, and the
//!   agent's request size limit;
//! * payloads are sent every second, or as soon as about 2,000 spans (or a payload's worth of
//!   bytes, or a quarter of the queue's bound) are queued, and then until the queue is empty;
//!   a payload is cut at 1 MiB by default; 408, 429, 5xx, timeouts and connection errors are retried with
//!   exponential backoff and jitter (4 retries by default; after a payload exhausts them, later
//!   payloads get a single attempt until the agent answers again); 413 splits the payload in
//!   two; 404 on v0.5 falls back to v0.4 (both re-read the chunks from the payload's bytes, as
//!   the worker does not keep them; v0.5 has no `meta_struct`, so a downgraded payload has
//!   none either); other 4xx drop the payload;
//! * each response's `rate_by_service` goes to the [`RateCallback`].
//!
//! ## Supported Rust versions
//!
//! The minimum supported Rust version is 1.85.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod agent_url;
mod client;
mod config;
mod container;
mod error;
mod info;
mod queue;
mod sender;
mod stats;
mod transport;
mod uds;
mod worker;

pub use agent_url::{AgentUrl, DEFAULT_PORT, DEFAULT_SOCKET};
pub use config::{RateCallback, TransportConfig};
pub use error::{Error, Result};
pub use info::AgentInfo;
pub use stats::TransportStats;
pub use transport::AgentTransport;
