//! The OpenTelemetry tracing API, implemented by Datadog: code written against the
//! `opentelemetry` crate (directly, or through `tracing` + `tracing-opentelemetry`) produces
//! Datadog spans, with no OpenTelemetry SDK in the process.
//!
//! Use the `ddtrace` crate unless you embed this piece on its own: it reads the
//! configuration, wires this bridge to the agent transport and installs the globals.
//!
//! ```
//! use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _, TracerProvider as _};
//! use opentelemetry::KeyValue;
//! use ddtrace_otel::{InMemoryExporter, TracerProvider};
//!
//! let exporter = InMemoryExporter::new();
//! let provider = TracerProvider::builder()
//!     .with_service("shop")
//!     .with_env("prod")
//!     .with_exporter(exporter.clone())
//!     .build()?;
//! let tracer = provider.tracer("shop");
//! let mut span = tracer
//!     .span_builder("GET /cart")
//!     .with_kind(SpanKind::Server)
//!     .with_attributes([KeyValue::new("http.request.method", "GET")])
//!     .start(&tracer);
//! span.set_attribute(KeyValue::new("http.response.status_code", 503));
//! span.set_status(Status::error("unavailable"));
//! span.end();
//!
//! let chunk = &exporter.chunks()[0];
//! let dd = &chunk.spans[0];
//! assert_eq!(dd.name, "http.server.request");
//! assert_eq!(dd.resource, "GET /cart");
//! assert_eq!(dd.service, "shop");
//! assert_eq!(dd.span_type, "web");
//! assert!(dd.error);
//! assert_eq!(dd.meta.get("error.message").map(|v| v.as_str()), Some("unavailable"));
//! assert_eq!(dd.meta.get("http.status_code").map(|v| v.as_str()), Some("503"));
//! assert_eq!(chunk.tags.get("_dd.p.dm").map(|v| v.as_str()), Some("-0"));
//! # Ok::<(), ddtrace_otel::Error>(())
//! ```
//!
//! # How it works
//!
//! * **Recording.** A span records what the API gives — ids, start and end times, name, kind,
//!   attributes, events, links, status — as OTel values, without converting them. Ending it
//!   pushes the record into its local trace: a small per-trace buffer behind its own lock,
//!   shared by the spans of that trace only. There is no process-wide lock on the span path;
//!   children find their trace through a registry sharded by trace id, which a trace enters
//!   when one of its span contexts is first handed out (the only way to join it).
//! * **Assembly.** When the last open span of a local trace ends, its records are handed to the
//!   [`ChunkExporter`](ddtrace_model::ChunkExporter) as one pending chunk. The exporter's
//!   worker calls `into_chunk`, which runs the OpenTelemetry → Datadog mapping there, not on
//!   the application thread: operation name, resource, service, meta vs metrics (arrays
//!   flattened), error fields, events, links, top-level marking and the chunk's sampling
//!   tags. Spans that end after their trace's chunk left are sent as a later chunk.
//! * **Sampling.** A new local root is sampled when it starts (with the kind and attributes
//!   given at start) by `ddtrace-sampling`'s [`Sampler`](ddtrace_sampling::Sampler); its
//!   children inherit the decision, a remote parent's priority is inherited as is. Attributes
//!   `manual.keep`, `manual.drop` and `sampling.priority` override it until the first
//!   injection locks it. A decision still unlocked when the local root ends (no injection,
//!   no partial flush, not manual, not inherited) is taken again on the exporter's worker
//!   with the root's final service, name, resource and tags (`sampling.md` §2); spans of the
//!   trace that end after its root's chunk left keep the first decision.
//! * **Propagation.** [`DatadogPropagator`] implements `TextMapPropagator`.
//! * **Bounds.** A span dropped without `end` is ended by its drop. A trace with spans that
//!   never end (leaked) holds at most
//!   [`with_max_buffered_spans`](TracerProviderBuilder::with_max_buffered_spans) finished
//!   spans (default 1 000); reaching it flushes them as a partial chunk. Partial flush proper
//!   ([`PartialFlush`]) sends chunks of `min_spans` spans while the root is open.
//! * **Shutdown.** [`TracerProvider::shutdown`] sends the finished spans of incomplete traces,
//!   then shuts the exporter down; spans ending later are dropped and counted
//!   ([`BridgeStats::spans_dropped_after_shutdown`]).
//!
//! # The mapping
//!
//! As `otel-mapping.md` specifies: operation name from the kind and semantic-convention
//! attributes (rules 1–14, lower-cased), resource = `resource.name` or the span name, the
//! reserved attributes `operation.name`, `resource.name`, `service.name` (with
//! `_dd.svc_src = m`), `span.type`, `analytics.event` (→ `_dd1.sr.eausr`) consumed, meta
//! `span.kind` on every span, strings and booleans in meta, numbers in metrics, arrays
//! flattened to `key.N`, `http.response.status_code` → `http.status_code`, status `Ok` final
//! over `Error`, error tags from the last `exception` events at end, `_dd.span_events.has_exception`.
//!
//! `span_context()` is computed on first use and then kept: its trace flags and `dd=`
//! tracestate member reflect the decision at that moment.
//!
//! # Performance
//!
//! `benches/benches/span.rs` (`cargo bench -p ddtrace-benches --bench span`) runs the same
//! workloads through this bridge, the OpenTelemetry SDK (batch processor, no-op exporter) and
//! the API's no-op tracer. On a shared 2-core machine (runs vary by ±30%): a child span
//! with 4 attributes costs about 200 ns here against 290–320 ns in the SDK; a 10-span trace
//! with 8 attributes per span about 300–420 ns per span against 340–450 ns; 4 threads at
//! once reach about 140 ns per span against 380 ns. The mapping runs on the exporter's
//! worker. Allocation is what costs most: spans' attributes are gathered into one vector per
//! trace so that few, large blocks cross to the worker.
//!
//! What keeps both sides cheap:
//!
//! * A trace's buffers are sized like the last trace its thread completed, but never more
//!   than its first span needs when that thread's traces are single spans. A span's
//!   attribute vector is a staging area: emptied into the trace's at the span's end, it is
//!   kept for the next span of the thread. The sampling decision is shared with the pending
//!   chunks (copied on write), not copied per chunk. `span_context()` writes the `dd`
//!   tracestate member directly (it runs whenever a span is put in a `Context`).
//! * The worker writes most traces as a [`ChunkView`](ddtrace_model::ChunkView)
//!   (`PendingChunk::write_to`): the tags of all spans of the trace are borrowed from the
//!   recorded attributes, the configuration and the decision into two vectors, each set
//!   checked against a 64-bit filter of the span's keys before any scan, and the encoder
//!   writes them as they are; no Datadog `Span`, `TagMap` or `Str` is built or freed. A trace
//!   with events, links, an error description, array attributes or a tag whose text must be
//!   made goes through `into_chunk`, to the same bytes (a property test compares the two).
//!   Worker instructions per span of the 10-span trace (callgrind,
//!   `benches/examples/worker_profile.rs`): 7,047 with `into_chunk` and `push`, 3,911 as a
//!   view. The worker's thread keeps the view's five vectors between traces (emptied, their
//!   borrowed texts relabelled): `write_to` 4,175 → 3,716 instructions per span.
//! * `into_chunk` takes the attributes: owned string values are moved into the Datadog span,
//!   and keys are interned for the life of the process (at most 1 024 keys of at most 64
//!   bytes; found again by their text's address, then by a hash), so the usual static key
//!   costs no allocation. The operation-name rules look up only the attributes that their
//!   span kind can use.
//! * The worker hands a mapped trace's two buffers back to the provider (at most 64 pairs
//!   kept, none smaller than 1 KiB — glibc's per-thread cache takes those without a lock —
//!   nor larger than 128 spans or 1 024 attributes) and the next trace of any thread takes
//!   them: no large block is freed across threads (glibc takes the owning arena's lock for
//!   that, and the profile showed the application and worker threads waking each other
//!   through it, under `malloc` and `free`). Neither side waits for the recycler's lock.
//! * Short string values that repeat (a method, a route, a database name) are shared from
//!   their second sighting in a row by a bounded, direct-mapped cache (1 024 values of at most
//!   64 bytes): the API gives static text only as a copy, so each span paid an allocation and
//!   a free per such value; values seen once are moved as before.
//! * A span record waits in the queue as 80 bytes: what most spans lack (events, links, an
//!   error's description, an inherited service) is in one optional box, the status is a
//!   byte (setting `Ok` allocates nothing), and its attributes are in the trace's vector.
//! * `PendingChunk::size_hint` counts the chunk's buffers at their capacity, its decision,
//!   names, events and links, and the text of its string values (a 64 KiB statement weighs
//!   64 KiB against the exporter's byte bound; walking a 10-span trace's 80 attributes on the
//!   application thread measured within noise, paired 0.98×). Keys are taken as static.
//! * A trace changes no reference count that the worker changes too: a count's cache line
//!   moving between the two cores once per trace showed as 47% of `Trace::finish` for
//!   one-span traces. The configuration, the sampler and the recycler travel with a chunk as
//!   one context, whose references each application thread takes 16 at a time; the recycler
//!   keeps whole pending boxes (one-span traces' too: their `malloc` and `free` were 40% of
//!   the application thread, every block freed by the worker), with their decision
//!   references, which the next trace of an application thread drops. A root's start takes
//!   no lock, and ends are counted under the trace's lock. Paired A/B, application thread
//!   per span: 10-span traces 0.964×, one-span traces 0.841×.
//! * A child's start finds its local trace without the registry's lock when its thread
//!   found the same trace for the previous child: each thread remembers the last trace it
//!   found (valid while the registry replaced no entry, and only for that registry's traces).
//! * A trace enters the registry when one of its span contexts is first handed out (put in a
//!   `Context`, asked for a child or an injection), not at its root's start: a local root
//!   whose context nobody asks for, a one-span trace, takes no registry lock at its start or
//!   end. Paired A/B, application thread per one-span trace: 0.97× and 1/1.076.
//! * The recycler's boxes travel between two lists, one written by the mapping thread and
//!   one by the application threads, 16 boxes at a time: with one list, its lock's cache line
//!   crossed cores twice per trace (27% of the worker's profile with one-span traces). Paired
//!   A/B, one-span traces: application thread 0.90×, process 0.91–0.93×.
//! * Span times come from the processor's time-stamp counter where the kernel keeps its own
//!   clock with it (Linux x86_64, clocksource `tsc`): 9 ns a read instead of 24 ns for
//!   `Instant::now()`, whose two reads per span were 12–18% of the application thread's
//!   profile. Segments fitted against `Instant` convert it; this read is the crate's only
//!   `unsafe` code (docs/adr/003). Application thread per span, 8 alternating runs: 289.5 →
//!   277.5 ns (median, fast machine state), 466.5 → 412.5 ns (slow state).
//!
//! Measured (callgrind, instructions per span; a 10-span trace with 8 attributes per span
//! (one of them a formatted string), or a single span without attributes; deterministic):
//!
//! | | before | after |
//! |---|---|---|
//! | application thread, 10-span trace | 3 443 | 3 166 |
//! | application thread, 1 span | 4 255 | 3 454 |
//! | mapping (`into_chunk` and the drop of its result), 10-span trace | 10 909 | 6 605 |
//! | mapping, 1 span | 4 809 | 4 429 |
//!
//! End to end (`throughput --only ddtrace --only 1 --runs 3`, agent transport and encoding of
//! the same commit for both, before and after run twice each, alternating, load average about
//! 3 on 2 cores): 10-span traces: application thread 597–655 → 518–536 ns per span, process
//! CPU 3 604–3 712 → 2 692–2 776 ns per span delivered, peak RSS 235–256 → 205–206 MiB;
//! single spans: application thread 2 020–2 104 → 867–990 ns, process CPU 3 987–4 185 →
//! 2 490–2 650 ns, peak RSS 431–457 → 176–179 MiB. (With the size hint now counting the
//! real buffers, the transport's queue byte bound applies to single-span bursts too.)
//!
//! The same measure for the returned buffers, then the smaller record (10-span traces, 200 000
//! spans, 4 alternating runs each): application thread 585–602 → 459–470 → 425–444 ns per
//! span; process CPU 1 792–1 879 → 1 327–1 401 ns per span delivered; peak RSS 66 → 62.5 MiB
//! (the queue's byte bound holds more spans). The value cache: worker 7 887 → 6 918
//! instructions per span (callgrind, `benches/examples/worker_profile.rs`: map, encode v0.5,
//! drop), process CPU 1 159–1 171 → 1 076–1 103 ns per span delivered.
//!
//! # Supported Rust versions
//!
//! The minimum supported Rust version is 1.85; raising it is a minor-version change.

#![deny(unsafe_code)]
#![deny(missing_docs)]

mod clock;
mod config;
mod error;
mod exporter;
mod handoff;
mod mapping;
mod propagator;
mod provider;
mod recycle;
mod span;
mod trace;
mod view;

pub use config::{
    DEFAULT_MAX_BUFFERED_SPANS, DEFAULT_PARTIAL_FLUSH_MIN_SPANS, DEFAULT_SERVICE, PartialFlush,
};
pub use error::{Error, Result};
pub use exporter::InMemoryExporter;
pub use propagator::DatadogPropagator;
pub use provider::{BridgeStats, Tracer, TracerProvider, TracerProviderBuilder};
pub use span::Span;
