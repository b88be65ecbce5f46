//! A fast per-thread pseudo-random generator for ids.
//!
//! Ids need uniqueness, not secrecy: a SplitMix64 stream per thread, seeded once from the
//! standard library's per-process random hash keys, the thread and the clock. One id costs a
//! few nanoseconds and no lock.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroU64;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    std::hash::Hash::hash(&std::thread::current().id(), &mut hasher);
    hasher.finish()
}

/// The next random value of this thread's stream (SplitMix64).
pub(crate) fn next_u64() -> u64 {
    STATE.with(|state| {
        let s = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// A random non-zero value.
pub(crate) fn nonzero_u64() -> NonZeroU64 {
    loop {
        if let Some(v) = NonZeroU64::new(next_u64()) {
            return v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_thread_does_not_repeat_itself_and_threads_differ() {
        let here: HashSet<u64> = (0..10_000).map(|_| next_u64()).collect();
        assert_eq!(here.len(), 10_000);
        let there: HashSet<u64> = std::thread::spawn(|| (0..10_000).map(|_| next_u64()).collect())
            .join()
            .unwrap_or_default();
        assert_eq!(there.len(), 10_000);
        assert!(here.is_disjoint(&there));
    }
}
