//! [`ChunkContext`]: what a pending chunk needs on the exporter's worker thread (the
//! configuration, the sampler, the buffer recycler), and the per-thread batches of its
//! reference count.
//!
//! Every pending chunk owns a reference to its provider's context, which the worker drops
//! after mapping the chunk. Counted one chunk at a time, the count's cache line would travel
//! from the application thread's core (increment) to the worker's (decrement) and back once
//! per trace; so did the three separate counts of the configuration, the sampler and the
//! recycler before they were one. An application thread now takes references in batches of
//! [`BATCH`]: its side touches the line once per batch, and the worker's decrements find the
//! line still on the worker's core. The context's fields start on a cache line of their own,
//! so that reading them (and the recycler's lock, which both threads take per trace) does not
//! move the count's line either.

use std::cell::RefCell;
use std::sync::Arc;

use ddtrace_sampling::Sampler;

use crate::config::BridgeConfig;
use crate::recycle::Recycler;

/// What the worker needs to map a provider's pending chunks.
#[derive(Debug)]
#[repr(align(64))]
pub(crate) struct ChunkContext {
    pub(crate) config: Arc<BridgeConfig>,
    pub(crate) sampler: Arc<Sampler>,
    /// Where the worker hands a mapped trace's emptied buffers back.
    pub(crate) recycler: Recycler,
}

/// References an application thread takes at once.
pub(crate) const BATCH: usize = 16;

thread_local! {
    /// References to one context, counted ahead of use (all to the same context).
    static COUNTED: RefCell<Vec<Arc<ChunkContext>>> = const { RefCell::new(Vec::new()) };
}

impl ChunkContext {
    pub(crate) fn new(config: Arc<BridgeConfig>, sampler: Arc<Sampler>) -> ChunkContext {
        ChunkContext {
            config,
            sampler,
            recycler: Recycler::default(),
        }
    }
}

/// A reference to `context` for a pending chunk, from this thread's batch (refilled when
/// empty or when it holds another provider's context).
///
/// A thread keeps at most `BATCH - 1` references to the context of the provider it last
/// handed a chunk for, until it hands one for another provider or exits; the provider's
/// [`Recycler::close`] frees the buffers such a context would otherwise keep.
pub(crate) fn counted(context: &Arc<ChunkContext>) -> Arc<ChunkContext> {
    COUNTED
        .try_with(|counted| {
            let mut counted = counted.borrow_mut();
            let stale = match counted.last() {
                Some(last) if !Arc::ptr_eq(last, context) => std::mem::take(&mut *counted),
                _ => Vec::new(),
            };
            if counted.is_empty() {
                counted.extend(std::iter::repeat_with(|| Arc::clone(context)).take(BATCH));
            }
            let one = counted.pop();
            // Another provider's references are dropped outside the borrow: the last one
            // drops that provider's context.
            drop(counted);
            drop(stale);
            one
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| Arc::clone(context))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddtrace_sampling::SamplingConfig;

    fn context() -> Arc<ChunkContext> {
        let provider = crate::TracerProvider::builder()
            .with_exporter(crate::InMemoryExporter::new())
            .build()
            .expect("provider");
        let shared = provider.shared();
        let config = Arc::clone(&shared.context.config);
        Arc::new(ChunkContext::new(
            config,
            Arc::new(Sampler::new(&SamplingConfig::default())),
        ))
    }

    /// The count moves once per batch on the application thread's side, and a reference is
    /// always to the context asked for, also when the thread switches providers.
    #[test]
    fn references_are_counted_a_batch_at_a_time() {
        std::thread::spawn(|| {
            let (a, b) = (context(), context());
            let first = counted(&a);
            assert!(Arc::ptr_eq(&first, &a));
            // The chunk's reference, the test's, and the batch's rest.
            assert_eq!(Arc::strong_count(&a), 1 + BATCH);
            let more: Vec<_> = (1..BATCH).map(|_| counted(&a)).collect();
            assert_eq!(Arc::strong_count(&a), 1 + BATCH);
            let next = counted(&a);
            assert_eq!(Arc::strong_count(&a), 1 + 2 * BATCH);
            let other = counted(&b);
            assert!(Arc::ptr_eq(&other, &b));
            // Switching gave back a's unused references.
            assert_eq!(Arc::strong_count(&a), 2 + BATCH);
            drop((first, more, next));
            assert_eq!(Arc::strong_count(&a), 1);
        })
        .join()
        .expect("the test thread");
    }

    /// The context's fields do not share a cache line with the reference count, which
    /// `Arc` keeps just before them.
    #[test]
    fn the_fields_start_a_cache_line_of_their_own() {
        assert!(std::mem::align_of::<ChunkContext>() >= 64);
        let c = context();
        assert_eq!(Arc::as_ptr(&c) as usize % 64, 0);
    }
}
