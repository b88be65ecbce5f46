//! The v0.5 string table.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};

use crate::write;

/// Slots of the per-chunk identity cache (a power of two).
const CACHE_SLOTS: usize = 256;

/// A recently interned string, by address: within one chunk, the same `&str` (a key literal,
/// a shared value) comes back on every span.
#[derive(Debug, Clone, Copy, Default)]
struct CacheEntry {
    ptr: usize,
    len: usize,
    stamp: u64,
    index: u32,
}

/// Hashes strings with a folded multiply (the construction of `foldhash`/`ahash`), keyed
/// with per-table random seeds drawn from the standard library's `RandomState`. SipHash
/// costs several times more per short string; the random keys keep collisions from being
/// computable in advance.
#[derive(Debug, Clone)]
struct FoldState {
    k0: u64,
    k1: u64,
}

impl FoldState {
    fn new() -> Self {
        let random = RandomState::new();
        FoldState {
            k0: random.hash_one(0x243f_6a88_85a3_08d3_u64),
            k1: random.hash_one(0x1319_8a2e_0370_7344_u64) | 1,
        }
    }
}

impl BuildHasher for FoldState {
    type Hasher = FoldHasher;
    fn build_hasher(&self) -> FoldHasher {
        FoldHasher {
            acc: self.k0,
            key: self.k1,
        }
    }
}

#[derive(Debug)]
struct FoldHasher {
    acc: u64,
    key: u64,
}

#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

impl Hasher for FoldHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            self.acc = fold(self.acc ^ u64::from_le_bytes(w), self.key);
        }
        let rest = words.remainder();
        let mut w = [0u8; 8];
        if let Some(dst) = w.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.acc = fold(
            self.acc ^ u64::from_le_bytes(w),
            self.key ^ (bytes.len() as u64).rotate_left(32),
        );
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.acc = fold(self.acc ^ u64::from(byte), self.key.rotate_left(17));
    }

    #[inline]
    fn finish(&self) -> u64 {
        fold(self.acc, self.key.rotate_left(29))
    }
}

/// Where a string sits in the table of the payload being built.
#[derive(Debug, Clone, Copy)]
struct Slot {
    index: u32,
    generation: u64,
}

/// Interns strings for one v0.5 payload at a time, and remembers them across payloads.
///
/// The map outlives a payload: an entry whose `generation` is not the current one is a string
/// seen in an earlier payload, which gets a fresh index the first time the current payload
/// uses it, without allocating a new key. Lookups borrow (`&str`), so a string already seen
/// costs a hash and a compare, never an allocation. [`StringTable::reset`] forgets the
/// strings that were not used by the last payload once the map outgrows it, so values that
/// never repeat (ids, URLs) do not pile up.
#[derive(Debug)]
pub(crate) struct StringTable {
    map: HashMap<Box<str>, Slot, FoldState>,
    cache: Vec<CacheEntry>,
    /// Identifies the chunk being written: cache entries of earlier chunks are stale.
    stamp: u64,
    /// The msgpack `str` elements of the table, in index order.
    bytes: Vec<u8>,
    count: u32,
    generation: u64,
}

impl StringTable {
    pub(crate) fn new() -> Self {
        let mut table = StringTable {
            map: HashMap::with_hasher(FoldState::new()),
            cache: vec![CacheEntry::default(); CACHE_SLOTS],
            stamp: 0,
            bytes: Vec::new(),
            count: 0,
            generation: 0,
        };
        table.reset();
        table
    }

    /// Starts the table of a new payload: only `""` at index 0.
    pub(crate) fn reset(&mut self) {
        let used = self.count as usize;
        if self.map.len() > 2 * used + 1024 {
            let current = self.generation;
            self.map.retain(|_, slot| slot.generation == current);
        }
        self.generation += 1;
        self.stamp += 1;
        self.bytes.clear();
        self.bytes.push(0xa0);
        self.count = 1;
    }

    /// Starts a chunk: the strings of the previous chunk may have been freed since, so their
    /// addresses mean nothing any more.
    pub(crate) fn begin_chunk(&mut self) {
        self.stamp += 1;
    }

    /// [`intern`](Self::intern) for a string borrowed from the current chunk, which stays
    /// alive and unchanged until the next [`begin_chunk`](Self::begin_chunk): the same
    /// address and length mean the same text, so a repeat skips hashing.
    #[inline]
    pub(crate) fn intern_borrowed(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let (ptr, len) = (s.as_ptr() as usize, s.len());
        let slot = ((ptr as u64 ^ (len as u64).rotate_left(40)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            >> 56) as usize
            % CACHE_SLOTS;
        if let Some(e) = self.cache.get(slot) {
            if e.stamp == self.stamp && e.ptr == ptr && e.len == len {
                return e.index;
            }
        }
        let index = self.intern(s);
        if let Some(e) = self.cache.get_mut(slot) {
            *e = CacheEntry {
                ptr,
                len,
                stamp: self.stamp,
                index,
            };
        }
        index
    }

    /// The index of `s` in the current payload's table, adding it when new.
    #[inline]
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let generation = self.generation;
        let next = self.count;
        match self.map.get_mut(s) {
            Some(slot) if slot.generation == generation => return slot.index,
            Some(slot) => {
                *slot = Slot {
                    index: next,
                    generation,
                }
            }
            None => {
                self.map.insert(
                    s.into(),
                    Slot {
                        index: next,
                        generation,
                    },
                );
            }
        }
        write::str(&mut self.bytes, s);
        self.count = next.saturating_add(1);
        next
    }

    /// Number of strings in the current table.
    pub(crate) fn len(&self) -> usize {
        self.count as usize
    }

    /// The encoded elements of the current table (without the array header).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_restart_per_payload_and_empty_is_always_zero() {
        let mut t = StringTable::new();
        assert_eq!(t.intern("a"), 1);
        assert_eq!(t.intern("b"), 2);
        assert_eq!(t.intern("a"), 1);
        assert_eq!(t.intern(""), 0);
        assert_eq!(t.len(), 3);
        assert_eq!(t.bytes(), [0xa0, 0xa1, b'a', 0xa1, b'b']);
        t.reset();
        assert_eq!(t.intern("b"), 1);
        assert_eq!(t.intern("c"), 2);
        assert_eq!(t.intern("a"), 3);
        assert_eq!(t.bytes(), [0xa0, 0xa1, b'b', 0xa1, b'c', 0xa1, b'a']);
    }

    #[test]
    fn the_identity_cache_never_outlives_a_chunk() {
        let mut t = StringTable::new();
        let mut reused = String::from("first");
        t.begin_chunk();
        assert_eq!(t.intern_borrowed(&reused), 1);
        assert_eq!(t.intern_borrowed(&reused), 1);
        // Same buffer, new text: only valid because a new chunk started.
        reused.clear();
        reused.push_str("other");
        t.begin_chunk();
        assert_eq!(t.intern_borrowed(&reused), 2);
        assert_eq!(t.intern("first"), 1);
    }

    #[test]
    fn the_hasher_separates_lengths_and_contents() {
        let state = FoldState::new();
        let hashes: std::collections::HashSet<u64> =
            ["", "a", "a\0", "ab", "abcdefgh", "abcdefgh\0", "abcdefghi"]
                .iter()
                .map(|s| state.hash_one(s))
                .collect();
        assert_eq!(hashes.len(), 7);
    }

    #[test]
    fn strings_unused_by_the_last_payload_are_eventually_forgotten() {
        let mut t = StringTable::new();
        for i in 0..5000 {
            t.intern(&i.to_string());
        }
        t.reset();
        t.intern("kept");
        t.reset();
        assert!(t.map.len() <= 1, "{}", t.map.len());
    }
}
