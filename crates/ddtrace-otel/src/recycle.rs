//! [`Recycler`]: the pending chunks of mapped traces, emptied and handed back by the thread
//! that mapped them so that the next trace reuses them.
//!
//! A local trace collects its finished spans and their attributes in two vectors that an
//! application thread allocates and the exporter's worker thread empties, and hands them over
//! in a boxed [`PendingTrace`]. Freed on the worker, these blocks go back to the allocator
//! arena of the application thread, and glibc takes that arena's lock to put them there while
//! the application thread allocates from it: the profile of the throughput benchmark showed
//! both threads waking each other through that lock (futex calls under `malloc` on one side,
//! under `free` on the other), and, for one-span traces, `malloc` and `free` as 40% of the
//! application thread (its per-thread cache stays empty: every block it allocates is freed by
//! the worker). Handing the emptied box back takes one short lock per trace on each side
//! instead, and no allocation at all in a steady stream.
//!
//! The box comes back with its references to the provider's [`ChunkContext`] and to the
//! trace's decision: the application thread reuses the first and drops the second (decisions
//! are shared by the consecutive traces of a thread, and a drop on the worker would move its
//! count's cache line to the worker's core once per trace).
//!
//! [`ChunkContext`]: crate::handoff::ChunkContext

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::trace::PendingTrace;

/// At most this many pending traces wait for reuse; more are freed.
const MAX_KEPT: usize = 64;
/// Vectors larger than these are freed rather than kept (one huge trace must not pin its
/// memory for the small ones).
const MAX_RECORDS: usize = 128;
const MAX_ATTRIBUTES: usize = 1024;

/// Emptied pending traces waiting for reuse, shared by the threads of one provider.
///
/// A kept pending trace holds a reference to the context that holds this recycler: the
/// provider [closes](Recycler::close) it when it is dropped, which frees them.
#[derive(Debug, Default)]
pub(crate) struct Recycler {
    // The boxes are what is recycled: the exporter takes a chunk as a box.
    #[allow(clippy::vec_box)]
    free: Mutex<Vec<Box<PendingTrace>>>,
    /// Set when the provider is gone: nothing is kept any more.
    closed: AtomicBool,
}

impl Recycler {
    /// The most recently returned pending trace, if any (none when another thread holds the
    /// lock: never waited for).
    pub(crate) fn take(&self) -> Option<Box<PendingTrace>> {
        self.free.try_lock()?.pop()
    }

    /// Keeps `pending` for a later trace, emptied, unless its vectors are too large to keep,
    /// enough are kept, the recycler is closed, or another thread holds the lock; then it is
    /// freed, outside the lock.
    pub(crate) fn give(&self, mut pending: Box<PendingTrace>) {
        let keep = pending.records.capacity() <= MAX_RECORDS
            && pending.attributes.capacity() <= MAX_ATTRIBUTES
            && !self.closed.load(Ordering::Acquire);
        if !keep {
            return;
        }
        pending.records.clear();
        pending.attributes.clear();
        let rejected = match self.free.try_lock() {
            Some(mut free) if free.len() < MAX_KEPT => {
                free.push(pending);
                None
            }
            _ => Some(pending),
        };
        drop(rejected);
    }

    /// Frees the kept pending traces, and every one given from now on: the provider is gone,
    /// but its pending chunks (and the application threads' counted references, see
    /// [`crate::handoff`]) may keep the recycler alive a while.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let kept = std::mem::take(&mut *self.free.lock());
        drop(kept);
    }

    /// Pending traces waiting for reuse.
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.free.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use opentelemetry::KeyValue;

    use super::*;
    use crate::handoff::ChunkContext;

    fn context() -> (crate::TracerProvider, Arc<ChunkContext>) {
        let provider = crate::TracerProvider::builder()
            .with_exporter(crate::InMemoryExporter::new())
            .build()
            .expect("provider");
        let context = Arc::clone(&provider.shared().context);
        (provider, context)
    }

    fn pending(c: &Arc<ChunkContext>, records: usize, attributes: usize) -> Box<PendingTrace> {
        PendingTrace::empty_for_tests(Arc::clone(c), records, attributes)
    }

    #[test]
    fn returned_pending_traces_come_back_empty_and_last_in_first_out() {
        let (_provider, c) = context();
        let r = &c.recycler;
        assert!(r.take().is_none());
        let mut b = pending(&c, 4, 20);
        b.attributes.push(KeyValue::new("k", 1));
        r.give(b);
        r.give(pending(&c, 8, 32));
        let first = r.take().expect("kept");
        assert_eq!(first.records.capacity(), 8);
        let second = r.take().expect("kept");
        assert!(second.attributes.is_empty());
        assert!(second.attributes.capacity() >= 20);
        assert!(r.take().is_none());
        // A one-span trace's box is kept too.
        r.give(pending(&c, 1, 0));
        assert_eq!(r.kept(), 1);
    }

    #[test]
    fn the_pool_is_bounded_in_count_and_size() {
        let (_provider, c) = context();
        for _ in 0..MAX_KEPT + 10 {
            c.recycler.give(pending(&c, 2, 20));
        }
        assert_eq!(c.recycler.kept(), MAX_KEPT);
        let (_provider, c) = context();
        c.recycler.give(pending(&c, MAX_RECORDS + 1, 20));
        c.recycler.give(pending(&c, 2, MAX_ATTRIBUTES + 1));
        assert_eq!(c.recycler.kept(), 0);
    }

    /// Dropping the provider closes its recycler: the kept boxes (which hold references to
    /// the context that holds the recycler) are freed, and nothing is kept afterwards.
    #[test]
    fn the_providers_drop_frees_what_its_recycler_keeps() {
        let (provider, c) = context();
        c.recycler.give(pending(&c, 8, 32));
        assert_eq!(c.recycler.kept(), 1);
        drop(provider);
        assert_eq!(c.recycler.kept(), 0);
        c.recycler.give(pending(&c, 8, 32));
        assert_eq!(c.recycler.kept(), 0);
        assert!(c.recycler.take().is_none());
        assert_eq!(Arc::strong_count(&c), 1, "no reference cycle is left");
    }
}
