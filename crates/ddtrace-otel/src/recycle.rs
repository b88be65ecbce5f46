//! [`Recycler`]: the buffers of finished traces, handed back by the thread that mapped them so
//! that the next trace reuses them.
//!
//! A local trace collects its finished spans and their attributes in two vectors that an
//! application thread allocates and the exporter's worker thread empties. Freed on the worker,
//! they go back to the allocator arena of the application thread, and glibc takes that arena's
//! lock to put them there while the application thread allocates from it: the profile of the
//! throughput benchmark showed both threads waking each other through that lock (futex calls
//! under `malloc` on one side, under `free` on the other). Handing the emptied vectors back
//! takes one short lock per trace on each side instead, and no allocation at all in a steady
//! stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::KeyValue;
use parking_lot::Mutex;

use crate::span::SpanRecord;
use crate::trace::Decision;

/// The two vectors of one trace, empty, and the trace's reference to its decision.
///
/// The decision comes back so that the application thread, which counted the reference,
/// also drops it: the decision is shared by the consecutive traces of a thread, and a drop
/// on the worker would move its count's cache line to the worker's core once per trace.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    pub(crate) records: Vec<SpanRecord>,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) decision: Option<Arc<Decision>>,
}

/// Buffers smaller than this together are not worth a lock: glibc serves blocks of up to
/// 1 032 bytes from a per-thread cache, and a thread frees them into its own cache whichever
/// thread allocated them, without taking an arena lock.
const MIN_BYTES: usize = 1024;
/// At most this many buffer pairs wait for reuse; more are freed.
const MAX_KEPT: usize = 64;
/// Vectors larger than these are freed rather than kept (one huge trace must not pin its
/// memory for the small ones).
const MAX_RECORDS: usize = 128;
const MAX_ATTRIBUTES: usize = 1024;

/// Emptied per-trace buffers waiting for reuse, shared by the threads of one provider.
#[derive(Debug, Default)]
pub(crate) struct Recycler {
    free: Mutex<Vec<Buffers>>,
    /// Set when the provider is gone: nothing is kept any more.
    closed: AtomicBool,
}

impl Recycler {
    /// The most recently returned buffers, if any (none when another thread holds the
    /// lock: never waited for).
    pub(crate) fn take(&self) -> Option<Buffers> {
        self.free.try_lock()?.pop()
    }

    /// Keeps `buffers` for a later trace (emptied), unless they are too small to matter or
    /// too large to keep, enough are kept, or another thread holds the lock; then they are
    /// freed, outside the lock.
    pub(crate) fn give(&self, mut buffers: Buffers) {
        let bytes = buffers.records.capacity() * std::mem::size_of::<SpanRecord>()
            + buffers.attributes.capacity() * std::mem::size_of::<KeyValue>();
        let keep = bytes >= MIN_BYTES
            && buffers.records.capacity() <= MAX_RECORDS
            && buffers.attributes.capacity() <= MAX_ATTRIBUTES
            && !self.closed.load(Ordering::Acquire);
        if !keep {
            return;
        }
        buffers.records.clear();
        buffers.attributes.clear();
        let rejected = match self.free.try_lock() {
            Some(mut free) if free.len() < MAX_KEPT => {
                free.push(buffers);
                None
            }
            _ => Some(buffers),
        };
        drop(rejected);
    }

    /// Frees the kept buffers, and every buffer given from now on: the provider is gone, but
    /// its pending chunks (and the application threads' counted references, see
    /// [`crate::handoff`]) may keep the recycler alive a while.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let kept = std::mem::take(&mut *self.free.lock());
        drop(kept);
    }

    /// Buffer pairs waiting for reuse.
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.free.lock().len()
    }

    /// Kept buffer pairs that hold a decision.
    #[cfg(test)]
    pub(crate) fn kept_decisions(&self) -> usize {
        self.free
            .lock()
            .iter()
            .filter(|b| b.decision.is_some())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffers(records: usize, attributes: usize) -> Buffers {
        Buffers {
            records: Vec::with_capacity(records),
            attributes: Vec::with_capacity(attributes),
            decision: None,
        }
    }

    #[test]
    fn returned_buffers_come_back_empty_and_last_in_first_out() {
        let r = Recycler::default();
        assert!(r.take().is_none());
        let mut b = buffers(4, 20);
        b.attributes.push(KeyValue::new("k", 1));
        r.give(b);
        r.give(buffers(8, 32));
        let first = r.take().expect("kept");
        assert_eq!(first.records.capacity(), 8);
        let second = r.take().expect("kept");
        assert!(second.attributes.is_empty());
        assert!(second.attributes.capacity() >= 20);
        assert!(r.take().is_none());
    }

    #[test]
    fn the_pool_is_bounded_in_count_and_size() {
        let r = Recycler::default();
        for _ in 0..MAX_KEPT + 10 {
            r.give(buffers(2, 20));
        }
        assert_eq!(r.kept(), MAX_KEPT);
        let r = Recycler::default();
        r.give(buffers(MAX_RECORDS + 1, 20));
        r.give(buffers(2, MAX_ATTRIBUTES + 1));
        // A one-span trace's buffers stay in the allocator's per-thread cache.
        r.give(buffers(1, 4));
        r.give(buffers(0, 0));
        assert_eq!(r.kept(), 0);
    }

    #[test]
    fn a_closed_recycler_keeps_nothing() {
        let r = Recycler::default();
        r.give(buffers(8, 32));
        assert_eq!(r.kept(), 1);
        r.close();
        assert_eq!(r.kept(), 0);
        r.give(buffers(8, 32));
        assert_eq!(r.kept(), 0);
        assert!(r.take().is_none());
    }
}
