//! The bounded hand-off between application threads and the worker.

use std::collections::VecDeque;

use ddtrace_model::PendingChunk;

/// Chunks waiting for the worker, with the bookkeeping that the worker and the flush/shutdown
/// calls share. Guarded by one mutex; application threads hold it only to push.
#[derive(Default)]
pub(crate) struct Queue {
    pub(crate) items: VecDeque<Box<dyn PendingChunk>>,
    pub(crate) spans: usize,
    pub(crate) bytes: usize,
    /// Incremented by every flush request.
    pub(crate) flush_requested: u64,
    /// The highest request generation whose chunks have all been processed.
    pub(crate) flush_completed: u64,
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
        self.items.push_back(chunk);
        self.spans += spans;
        self.bytes += bytes;
        let above = self.spans >= wake_at.0 || self.bytes >= wake_at.1;
        Push::Accepted {
            wake_worker: below && above,
        }
    }

    /// Takes every queued chunk.
    pub(crate) fn take_all(&mut self) -> (VecDeque<Box<dyn PendingChunk>>, usize) {
        let spans = std::mem::take(&mut self.spans);
        self.bytes = 0;
        (std::mem::take(&mut self.items), spans)
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
                    let (items, taken) = q.take_all();
                    prop_assert_eq!(items.len(), model.len());
                    prop_assert_eq!(taken, model.iter().map(|m| m.0).sum::<usize>());
                    for (item, m) in items.iter().zip(&model) {
                        prop_assert_eq!(item.span_count(), m.0);
                    }
                    model.clear();
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
