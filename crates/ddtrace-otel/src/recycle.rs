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
//! instead, on a list of each side's own (the boxes move between them a batch at a time), and
//! no allocation at all in a steady stream.
//!
//! The box comes back with its references to the provider's [`ChunkContext`] and to the
//! trace's decision: the application thread reuses the first, and the second too when the
//! next chunk has the same decision (decisions are shared by the consecutive traces of a
//! thread), else drops it. A drop on the worker would move the count's cache line to the
//! worker's core once per trace; keeping the reference changes no count at all (a clone and
//! a drop per trace were a locked instruction each, the clone a quarter of the application
//! thread's profile with one-span traces, waiting there for earlier stores to complete).
//!
//! [`ChunkContext`]: crate::handoff::ChunkContext

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::trace::PendingTrace;

/// At most this many pending traces wait for reuse; more are freed.
const MAX_KEPT: usize = 64;
/// Returned pending traces reach the application threads this many at a time.
const BATCH: usize = 16;
/// Vectors larger than these are freed rather than kept (one huge trace must not pin its
/// memory for the small ones).
const MAX_RECORDS: usize = 128;
const MAX_ATTRIBUTES: usize = 1024;

/// Emptied pending traces waiting for reuse, shared by the threads of one provider.
///
/// Two lists on cache lines of their own: the thread that maps chunks returns boxes into
/// `returned`, and moves them into `free`, where application threads take them, [`BATCH`]
/// at a time. One list touched by both sides for every trace moved its cache line between
/// the two cores twice per trace: with one-span traces, the recycler's lock was 27% of the
/// worker's profile and the largest part of `Trace::finish` on the application thread.
///
/// A kept pending trace holds a reference to the context that holds this recycler: the
/// provider [closes](Recycler::close) it when it is dropped, which frees them.
#[derive(Debug, Default)]
pub(crate) struct Recycler {
    returned: Returned,
    free: Free,
}

/// The mapping side's list, and whether the provider is gone (read with each return).
#[derive(Debug, Default)]
#[repr(align(64))]
struct Returned {
    // The boxes are what is recycled: the exporter takes a chunk as a box.
    #[allow(clippy::vec_box)]
    list: Mutex<Vec<Box<PendingTrace>>>,
    /// Set when the provider is gone: nothing is kept any more.
    closed: AtomicBool,
}

/// The application threads' list.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Free {
    #[allow(clippy::vec_box)]
    list: Mutex<Vec<Box<PendingTrace>>>,
}

impl Recycler {
    /// The most recently moved pending trace, if any (none when another thread holds the
    /// lock: never waited for).
    pub(crate) fn take(&self) -> Option<Box<PendingTrace>> {
        self.free.list.try_lock()?.pop()
    }

    /// Keeps `pending` for a later trace, emptied, unless its vectors are too large to keep,
    /// enough are kept, the recycler is closed, or another thread holds the lock; then it is
    /// freed, outside the lock. Every [`BATCH`] returns, the returned boxes move to where
    /// application threads take them (those that do not fit are freed).
    pub(crate) fn give(&self, mut pending: Box<PendingTrace>) {
        let keep = pending.records.capacity() <= MAX_RECORDS
            && pending.attributes.capacity() <= MAX_ATTRIBUTES;
        if !keep {
            return;
        }
        let Some(mut returned) = self.returned.list.try_lock() else {
            return;
        };
        if self.returned.closed.load(Ordering::Acquire) {
            drop(returned);
            return;
        }
        let mut rejected = Vec::new();
        if returned.len() < MAX_KEPT {
            pending.records.clear();
            pending.attributes.clear();
            returned.push(pending);
        } else {
            rejected.push(pending);
        }
        if returned.len() >= BATCH {
            // Else moved at a later return.
            if let Some(mut free) = self.free.list.try_lock() {
                let room = MAX_KEPT.saturating_sub(free.len());
                let from = returned.len().saturating_sub(room);
                free.extend(returned.drain(from..));
                drop(free);
                // What did not fit: the application threads are not taking them.
                rejected.append(&mut returned);
            }
        }
        drop(returned);
        drop(rejected);
    }

    /// Frees the kept pending traces, and every one given from now on: the provider is gone,
    /// but its pending chunks (and the application threads' counted references, see
    /// [`crate::handoff`]) may keep the recycler alive a while.
    pub(crate) fn close(&self) {
        self.returned.closed.store(true, Ordering::Release);
        let returned = std::mem::take(&mut *self.returned.list.lock());
        let free = std::mem::take(&mut *self.free.list.lock());
        drop((returned, free));
    }

    /// Pending traces kept, returned or ready for reuse.
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.returned.list.lock().len() + self.free.list.lock().len()
    }

    /// Pending traces ready for the application threads.
    #[cfg(test)]
    pub(crate) fn ready(&self) -> usize {
        self.free.list.lock().len()
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
    fn returned_pending_traces_come_back_empty_a_batch_at_a_time() {
        let (_provider, c) = context();
        let r = &c.recycler;
        assert!(r.take().is_none());
        let mut b = pending(&c, 4, 20);
        b.attributes.push(KeyValue::new("k", 1));
        r.give(b);
        for _ in 1..BATCH - 1 {
            r.give(pending(&c, 8, 32));
        }
        assert_eq!(r.kept(), BATCH - 1);
        assert!(r.take().is_none(), "not moved before a whole batch");
        // A one-span trace's box is kept too.
        r.give(pending(&c, 1, 0));
        assert_eq!(r.ready(), BATCH);
        let mut taken: Vec<_> = std::iter::from_fn(|| r.take()).collect();
        assert_eq!(taken.len(), BATCH);
        assert!(r.take().is_none());
        assert_eq!(
            taken[0].records.capacity(),
            1,
            "the last returned comes first"
        );
        let first = taken.pop().expect("kept");
        assert!(first.attributes.is_empty());
        assert!(first.attributes.capacity() >= 20);
    }

    #[test]
    fn the_pool_is_bounded_in_count_and_size() {
        let (_provider, c) = context();
        for _ in 0..3 * MAX_KEPT {
            c.recycler.give(pending(&c, 2, 20));
        }
        assert_eq!(c.recycler.ready(), MAX_KEPT);
        assert!(c.recycler.kept() < MAX_KEPT + BATCH);
        let (_provider, c) = context();
        c.recycler.give(pending(&c, MAX_RECORDS + 1, 20));
        c.recycler.give(pending(&c, 2, MAX_ATTRIBUTES + 1));
        assert_eq!(c.recycler.kept(), 0);
    }

    /// The two lists keep off each other's cache line (and the rest of the context's).
    #[test]
    fn the_two_sides_have_cache_lines_of_their_own() {
        assert!(std::mem::align_of::<Returned>() >= 64);
        assert!(std::mem::align_of::<Free>() >= 64);
    }

    /// Dropping the provider closes its recycler: the kept boxes (which hold references to
    /// the context that holds the recycler), moved or not, are freed, and nothing is kept
    /// afterwards.
    #[test]
    fn the_providers_drop_frees_what_its_recycler_keeps() {
        let (provider, c) = context();
        for _ in 0..BATCH + 1 {
            c.recycler.give(pending(&c, 8, 32));
        }
        assert_eq!(c.recycler.kept(), BATCH + 1);
        assert_eq!(c.recycler.ready(), BATCH);
        drop(provider);
        assert_eq!(c.recycler.kept(), 0);
        c.recycler.give(pending(&c, 8, 32));
        assert_eq!(c.recycler.kept(), 0);
        assert!(c.recycler.take().is_none());
        assert_eq!(Arc::strong_count(&c), 1, "no reference cycle is left");
    }
}
