//! The bounded hand-off between application threads and the worker.

use std::collections::VecDeque;

use ddtrace_model::PendingChunk;

/// A queued chunk with the sizes it was admitted with.
pub(crate) struct Queued {
    pub(crate) chunk: Box<dyn PendingChunk>,
    pub(crate) spans: usize,
    pub(crate) bytes: usize,
}

/// What [`Queue::take_batch`] took.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) items: Vec<Queued>,
    pub(crate) spans: usize,
    pub(crate) bytes: usize,
}

/// Chunks waiting for the worker, with the bookkeeping that the worker and the flush/shutdown
/// calls share. Guarded by one mutex; application threads hold it only to push.
///
/// Chunks are numbered in the order they were accepted: `taken` of them have left the queue
/// for the worker and the first `settled` of those have been sent or dropped. A flush waits
/// until `settled` reaches the count accepted when it was called.
#[derive(Default)]
pub(crate) struct Queue {
    pub(crate) items: VecDeque<Queued>,
    pub(crate) spans: usize,
    pub(crate) bytes: usize,
    /// Chunks accepted since the start.
    pub(crate) accepted: u64,
    /// Chunks taken by the worker since the start.
    pub(crate) taken: u64,
    /// Chunks the worker has finished with (sent or dropped) since the start.
    pub(crate) settled: u64,
    /// The highest `accepted` count a flush is waiting for.
    pub(crate) flush_target: u64,
    /// No more chunks are accepted; the worker drains and exits.
    pub(crate) shutdown: bool,
    /// Shutdown gave up waiting: the worker stops retrying and drops what is left.
    pub(crate) abort: bool,
    /// The worker has exited.
    pub(crate) worker_done: bool,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("chunks", &self.items.len())
            .field("spans", &self.spans)
            .field("bytes", &self.bytes)
            .field("shutdown", &self.shutdown)
            .finish_non_exhaustive()
    }
}

/// What `push` decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Push {
    Accepted { wake_worker: bool },
    Full,
    Closed,
}

impl Queue {
    /// Adds a chunk if it fits both bounds. `wake_at_spans`/`wake_at_bytes` are the levels at
    /// which the worker should start sending before its interval: it is woken only when a push
    /// crosses one of them, so a steady stream costs no wake-up per chunk.
    pub(crate) fn push(
        &mut self,
        chunk: Box<dyn PendingChunk>,
        spans: usize,
        bytes: usize,
        limits: (usize, usize),
        wake_at: (usize, usize),
    ) -> Push {
        if self.shutdown {
            return Push::Closed;
        }
        if self.spans + spans > limits.0 || self.bytes + bytes > limits.1 {
            return Push::Full;
        }
        let below = self.spans < wake_at.0 && self.bytes < wake_at.1;
        self.items.push_back(Queued {
            chunk,
            spans,
            bytes,
        });
        self.spans += spans;
        self.bytes += bytes;
        self.accepted += 1;
        let above = self.spans >= wake_at.0 || self.bytes >= wake_at.1;
        Push::Accepted {
            wake_worker: below && above,
        }
    }

    /// Takes chunks from the front, oldest first, until the batch holds `max_spans` spans or
    /// `max_bytes` bytes (at least one chunk when the queue is not empty, so a chunk larger
    /// than the budget still moves).
    pub(crate) fn take_batch(&mut self, max_spans: usize, max_bytes: usize) -> Batch {
        let mut batch = Batch::default();
        while batch.spans < max_spans && batch.bytes < max_bytes {
            let Some(item) = self.items.pop_front() else {
                break;
            };
            batch.spans += item.spans;
            batch.bytes += item.bytes;
            batch.items.push(item);
        }
        self.spans -= batch.spans;
        self.bytes -= batch.bytes;
        self.taken += batch.items.len() as u64;
        batch
    }

    /// Whether a flush is waiting for chunks the worker has not finished with.
    pub(crate) fn flush_pending(&self) -> bool {
        self.flush_target > self.settled
    }

    pub(crate) fn over(&self, wake_at: (usize, usize)) -> bool {
        self.spans >= wake_at.0 || self.bytes >= wake_at.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddtrace_model::{Span, SpanId, TraceChunk, TraceId};
    use proptest::prelude::*;

    fn chunk(spans: usize) -> Box<dyn PendingChunk> {
        let span = Span::new(TraceId::from_u128(1), SpanId::new(1).unwrap(), "op");
        Box::new(TraceChunk::new(vec![span; spans]))
    }

    proptest! {
        /// Against a plain VecDeque model: the queue never exceeds its bounds, accepts exactly
        /// what fits, keeps order, and wakes the worker only when a threshold is crossed.
        #[test]
        fn stays_within_bounds_like_a_model(
            ops in proptest::collection::vec((1usize..20, 1usize..500, any::<bool>()), 1..200),
            max_spans in 1usize..100, max_bytes in 1usize..5000,
        ) {
            let mut q = Queue::default();
            let mut model: VecDeque<(usize, usize)> = VecDeque::new();
            let wake = (max_spans / 2, max_bytes / 2);
            for (spans, bytes, drain) in ops {
                if drain {
                    let budget = max_spans / 3 + 1;
                    let batch = q.take_batch(budget, usize::MAX);
                    // Oldest first, up to the budget, at least one.
                    let mut expected = 0;
                    let mut spans = 0;
                    for m in &model {
                        if spans >= budget {
                            break;
                        }
                        spans += m.0;
                        expected += 1;
                    }
                    prop_assert_eq!(batch.items.len(), expected);
                    prop_assert_eq!(batch.spans, spans);
                    prop_assert!(batch.spans < budget + 20);
                    for (item, m) in batch.items.iter().zip(model.drain(..expected)) {
                        prop_assert_eq!(item.chunk.span_count(), m.0);
                        prop_assert_eq!((item.spans, item.bytes), m);
                    }
                    prop_assert_eq!(q.spans, model.iter().map(|m| m.0).sum::<usize>());
                    prop_assert_eq!(q.bytes, model.iter().map(|m| m.1).sum::<usize>());
                    prop_assert_eq!(q.accepted, q.taken + model.len() as u64);
                    continue;
                }
                let used: (usize, usize) = model.iter().fold((0, 0), |a, m| (a.0 + m.0, a.1 + m.1));
                let fits = used.0 + spans <= max_spans && used.1 + bytes <= max_bytes;
                let was_over = used.0 >= wake.0 || used.1 >= wake.1;
                match q.push(chunk(spans), spans, bytes, (max_spans, max_bytes), wake) {
                    Push::Accepted { wake_worker } => {
                        prop_assert!(fits);
                        model.push_back((spans, bytes));
                        prop_assert_eq!(wake_worker, !was_over && q.over(wake));
                    }
                    Push::Full => prop_assert!(!fits),
                    Push::Closed => prop_assert!(false, "not shut down"),
                }
                prop_assert!(q.spans <= max_spans && q.bytes <= max_bytes);
            }
        }
    }

    #[test]
    fn a_shut_queue_accepts_nothing() {
        let mut q = Queue {
            shutdown: true,
            ..Queue::default()
        };
        assert_eq!(q.push(chunk(1), 1, 1, (10, 10), (5, 5)), Push::Closed);
    }
}
