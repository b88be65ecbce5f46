//! [`InMemoryExporter`]: a `ChunkExporter` that keeps chunks in memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ddtrace_model::{ChunkExporter, ChunkSink, PendingChunk, TraceChunk};
use parking_lot::Mutex;

/// Keeps every exported chunk in memory, mapped (in `export`, on the caller's thread, the way
/// the agent transport's worker maps it: [`PendingChunk::write_to`]). For tests and for users who inspect spans themselves; clones share the
/// same storage.
///
/// After `shutdown`, `export` drops chunks and counts them in [`dropped_spans`].
///
/// [`dropped_spans`]: InMemoryExporter::dropped_spans
///
/// ```
/// use ddtrace_model::{ChunkExporter, Span, SpanId, TraceChunk, TraceId};
/// use ddtrace_otel::InMemoryExporter;
///
/// let exporter = InMemoryExporter::new();
/// let span = Span::new(TraceId::from_u128(1), SpanId::new(1).unwrap(), "op");
/// exporter.export(Box::new(TraceChunk::new(vec![span])));
/// assert_eq!(exporter.chunks().len(), 1);
/// assert_eq!(exporter.take_chunks().len(), 1);
/// assert!(exporter.chunks().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct InMemoryExporter {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    chunks: Mutex<Vec<TraceChunk>>,
    shut_down: AtomicBool,
    dropped_spans: AtomicU64,
}

impl InMemoryExporter {
    /// An empty exporter.
    pub fn new() -> Self {
        InMemoryExporter::default()
    }

    /// A copy of the chunks exported so far.
    pub fn chunks(&self) -> Vec<TraceChunk> {
        self.inner.chunks.lock().clone()
    }

    /// The chunks exported so far, removing them.
    pub fn take_chunks(&self) -> Vec<TraceChunk> {
        std::mem::take(&mut *self.inner.chunks.lock())
    }

    /// Spans dropped because they arrived after `shutdown`.
    pub fn dropped_spans(&self) -> u64 {
        self.inner.dropped_spans.load(Ordering::Relaxed)
    }

    /// Whether `shutdown` was called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.shut_down.load(Ordering::Acquire)
    }
}

/// The chunks a pending chunk pushes (a view is copied into a chunk).
struct Collect(Vec<TraceChunk>);

impl ChunkSink for Collect {
    fn push_chunk(&mut self, chunk: &TraceChunk) {
        self.0.push(chunk.clone());
    }
}

impl ChunkExporter for InMemoryExporter {
    fn export(&self, chunk: Box<dyn PendingChunk>) {
        if self.is_shut_down() {
            self.inner
                .dropped_spans
                .fetch_add(chunk.span_count() as u64, Ordering::Relaxed);
            return;
        }
        let mut mapped = Collect(Vec::with_capacity(1));
        chunk.write_to(&mut mapped);
        self.inner.chunks.lock().append(&mut mapped.0);
    }

    fn flush(&self, _timeout: Duration) -> ddtrace_model::Result<()> {
        if self.is_shut_down() {
            return Err(ddtrace_model::Error::ShutDown);
        }
        Ok(())
    }

    fn shutdown(&self, _timeout: Duration) -> ddtrace_model::Result<()> {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Err(ddtrace_model::Error::ShutDown);
        }
        Ok(())
    }
}
