//! The boundary between span producers and exporters.

use std::fmt;
use std::time::Duration;

use crate::{ChunkSink, Result, TraceChunk};

/// A finished chunk that has not yet been turned into Datadog spans.
///
/// Producers hand chunks over as cheaply as they can; the exporter's worker thread calls
/// [`PendingChunk::into_chunk`], so any mapping work (OpenTelemetry → Datadog) runs there and
/// not on the application thread. A [`TraceChunk`] is its own pending form.
pub trait PendingChunk: Send {
    /// Number of spans; exporters use it to bound their queue and count drops.
    fn span_count(&self) -> usize;

    /// Approximate heap bytes held, used to bound the exporter's queue by memory.
    fn size_hint(&self) -> usize;

    /// Produces the Datadog chunk.
    fn into_chunk(self: Box<Self>) -> TraceChunk;

    /// Hands the Datadog chunk to `sink` and returns its number of spans (0: nothing was
    /// pushed). The default pushes [`into_chunk`](PendingChunk::into_chunk)'s chunk;
    /// producers that can describe their spans without building them push a
    /// [`ChunkView`](crate::ChunkView) of the same chunk instead.
    fn write_to(self: Box<Self>, sink: &mut dyn ChunkSink) -> usize {
        let chunk = self.into_chunk();
        if !chunk.spans.is_empty() {
            sink.push_chunk(&chunk);
        }
        chunk.spans.len()
    }
}

impl PendingChunk for TraceChunk {
    fn span_count(&self) -> usize {
        self.spans.len()
    }

    fn size_hint(&self) -> usize {
        self.spans
            .iter()
            .map(|s| {
                std::mem::size_of_val(s)
                    + s.meta
                        .iter()
                        .map(|(k, v)| k.len() + v.len() + 32)
                        .sum::<usize>()
                    + s.metrics.iter().map(|(k, _)| k.len() + 32).sum::<usize>()
                    + s.resource.len()
            })
            .sum()
    }

    fn into_chunk(self: Box<Self>) -> TraceChunk {
        *self
    }
}

/// Receives finished trace chunks and delivers them somewhere (the Datadog Agent, stdout, a
/// test's memory).
///
/// The contract every implementation keeps:
/// * [`export`](ChunkExporter::export) is called from application threads: it never blocks on
///   I/O and returns quickly; a chunk it cannot accept is dropped **and counted**, never lost
///   silently.
/// * [`flush`](ChunkExporter::flush) and [`shutdown`](ChunkExporter::shutdown) block for at most
///   their timeout and report what was not delivered as [`Error::Timeout`](crate::Error::Timeout).
/// * After `shutdown`, `export` drops and counts, and `flush` returns
///   [`Error::ShutDown`](crate::Error::ShutDown).
pub trait ChunkExporter: Send + Sync + fmt::Debug {
    /// Accepts one finished chunk.
    fn export(&self, chunk: Box<dyn PendingChunk>);

    /// Delivers everything accepted so far, waiting at most `timeout`.
    fn flush(&self, timeout: Duration) -> Result<()>;

    /// Delivers everything accepted so far and stops, waiting at most `timeout`.
    fn shutdown(&self, timeout: Duration) -> Result<()>;
}
