//! Delivery counters: every span handed to the transport is accounted for.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of the transport's counters since it started.
///
/// Every chunk given to the transport ends in exactly one of: sent, one of the `dropped_*`
/// counters, or still queued/in flight (`queued_*`). So at any quiescent moment
/// `enqueued = sent + dropped + queued` holds for chunks and for spans alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportStats {
    /// Chunks handed to the transport.
    pub chunks_enqueued: u64,
    /// Spans handed to the transport.
    pub spans_enqueued: u64,
    /// Chunks the agent accepted (2xx).
    pub chunks_sent: u64,
    /// Spans the agent accepted.
    pub spans_sent: u64,
    /// Spans dropped because the queue was full (by spans or by bytes).
    pub spans_dropped_queue_full: u64,
    /// Spans dropped after the retries of their payload ran out (agent down, 5xx, 429, timeouts).
    pub spans_dropped_send_failed: u64,
    /// Spans dropped because the agent rejected their payload with a 4xx other than 408/429.
    pub spans_dropped_rejected: u64,
    /// Spans dropped because they were handed over after shutdown or still queued when
    /// shutdown gave up.
    pub spans_dropped_shutdown: u64,
    /// Spans whose chunk alone exceeded the payload size limit.
    pub spans_dropped_too_large: u64,
    /// Chunks dropped, all reasons together.
    pub chunks_dropped: u64,
    /// Chunks waiting in the queue or in a payload being sent.
    pub chunks_queued: u64,
    /// Spans waiting in the queue or in a payload being sent.
    pub spans_queued: u64,
    /// Payloads sent successfully.
    pub payloads_sent: u64,
    /// Requests retried.
    pub retries: u64,
    /// Bytes of payloads the agent accepted.
    pub bytes_sent: u64,
    /// Times the agent's `rate_by_service` reached the feedback callback.
    pub rate_updates: u64,
}

impl TransportStats {
    /// Spans dropped, all reasons together.
    pub fn spans_dropped(&self) -> u64 {
        self.spans_dropped_queue_full
            + self.spans_dropped_send_failed
            + self.spans_dropped_rejected
            + self.spans_dropped_shutdown
            + self.spans_dropped_too_large
    }
}

/// Why spans were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    QueueFull,
    SendFailed,
    Rejected,
    Shutdown,
    TooLarge,
}

/// The live counters behind [`TransportStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    chunks_enqueued: AtomicU64,
    spans_enqueued: AtomicU64,
    chunks_sent: AtomicU64,
    spans_sent: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_send_failed: AtomicU64,
    dropped_rejected: AtomicU64,
    dropped_shutdown: AtomicU64,
    dropped_too_large: AtomicU64,
    chunks_dropped: AtomicU64,
    chunks_in_flight: AtomicU64,
    spans_in_flight: AtomicU64,
    payloads_sent: AtomicU64,
    retries: AtomicU64,
    bytes_sent: AtomicU64,
    rate_updates: AtomicU64,
}

impl Counters {
    pub(crate) fn enqueued(&self, spans: u64) {
        self.chunks_enqueued.fetch_add(1, Relaxed);
        self.spans_enqueued.fetch_add(spans, Relaxed);
    }

    /// Chunks moved out of the queue into the worker's hands.
    pub(crate) fn taken(&self, chunks: u64, spans: u64) {
        self.chunks_in_flight.fetch_add(chunks, Relaxed);
        self.spans_in_flight.fetch_add(spans, Relaxed);
    }

    pub(crate) fn sent(&self, chunks: u64, spans: u64, bytes: u64) {
        self.chunks_sent.fetch_add(chunks, Relaxed);
        self.spans_sent.fetch_add(spans, Relaxed);
        self.payloads_sent.fetch_add(1, Relaxed);
        self.bytes_sent.fetch_add(bytes, Relaxed);
        self.chunks_in_flight.fetch_sub(chunks, Relaxed);
        self.spans_in_flight.fetch_sub(spans, Relaxed);
    }

    /// Chunks that turned out to hold no span: nothing to send, so they count as sent.
    pub(crate) fn settled_empty(&self, chunks: u64) {
        self.chunks_sent.fetch_add(chunks, Relaxed);
        self.chunks_in_flight.fetch_sub(chunks, Relaxed);
    }

    /// Drops chunks; `in_flight` says whether they had been taken by the worker.
    pub(crate) fn dropped(&self, reason: DropReason, chunks: u64, spans: u64, in_flight: bool) {
        let counter = match reason {
            DropReason::QueueFull => &self.dropped_queue_full,
            DropReason::SendFailed => &self.dropped_send_failed,
            DropReason::Rejected => &self.dropped_rejected,
            DropReason::Shutdown => &self.dropped_shutdown,
            DropReason::TooLarge => &self.dropped_too_large,
        };
        counter.fetch_add(spans, Relaxed);
        self.chunks_dropped.fetch_add(chunks, Relaxed);
        if in_flight {
            self.chunks_in_flight.fetch_sub(chunks, Relaxed);
            self.spans_in_flight.fetch_sub(spans, Relaxed);
        }
    }

    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Relaxed);
    }

    pub(crate) fn rates_updated(&self) {
        self.rate_updates.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self, queued_chunks: u64, queued_spans: u64) -> TransportStats {
        TransportStats {
            chunks_enqueued: self.chunks_enqueued.load(Relaxed),
            spans_enqueued: self.spans_enqueued.load(Relaxed),
            chunks_sent: self.chunks_sent.load(Relaxed),
            spans_sent: self.spans_sent.load(Relaxed),
            spans_dropped_queue_full: self.dropped_queue_full.load(Relaxed),
            spans_dropped_send_failed: self.dropped_send_failed.load(Relaxed),
            spans_dropped_rejected: self.dropped_rejected.load(Relaxed),
            spans_dropped_shutdown: self.dropped_shutdown.load(Relaxed),
            spans_dropped_too_large: self.dropped_too_large.load(Relaxed),
            chunks_dropped: self.chunks_dropped.load(Relaxed),
            chunks_queued: queued_chunks + self.chunks_in_flight.load(Relaxed),
            spans_queued: queued_spans + self.spans_in_flight.load(Relaxed),
            payloads_sent: self.payloads_sent.load(Relaxed),
            retries: self.retries.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            rate_updates: self.rate_updates.load(Relaxed),
        }
    }
}
