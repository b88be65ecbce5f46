//! The v0.5 string table.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};

use crate::write;

/// Sets of the identity cache (the top 8 bits of a hash pick one).
const CACHE_SETS: usize = 256;
/// Entries per set: a few hot strings that land in one set do not keep evicting each other.
const CACHE_WAYS: usize = 4;

/// A recently interned string, by address. Within one chunk the same `&str` (a key literal,
/// a shared value) comes back on every span, and `&'static` or `Arc` strings come back in
/// every chunk.
#[derive(Debug, Clone, Copy, Default)]
struct CacheEntry {
    ptr: usize,
    len: usize,
    /// The chunk that last used the entry ([`StringTable::stamp`]).
    stamp: u64,
    index: u32,
    /// Where the string's text starts in [`StringTable::bytes`].
    offset: u32,
}

/// Hashes strings with a folded multiply (the construction of `foldhash`/`ahash`), keyed
/// with per-table random seeds drawn from the standard library's `RandomState`. SipHash
/// costs several times more per short string; the random keys keep collisions from being
/// computable in advance.
#[derive(Debug, Clone)]
pub(crate) struct FoldState {
    k0: u64,
    k1: u64,
}

impl FoldState {
    pub(crate) fn new() -> Self {
        let random = RandomState::new();
        FoldState {
            k0: random.hash_one(0x243f_6a88_85a3_08d3_u64),
            k1: random.hash_one(0x1319_8a2e_0370_7344_u64) | 1,
        }
    }

    /// The hash of `bytes` alone (no length prefix or terminator).
    #[inline]
    pub(crate) fn hash_bytes(&self, bytes: &[u8]) -> u64 {
        let mut hasher = self.build_hasher();
        hasher.write(bytes);
        hasher.finish()
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
pub(crate) struct FoldHasher {
    acc: u64,
    key: u64,
}

#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// The 8 bytes at the start of `bytes` (which has at least 8), little-endian.
#[inline(always)]
fn word(bytes: &[u8]) -> u64 {
    bytes.first_chunk().map_or(0, |w| u64::from_le_bytes(*w))
}

/// The 8 bytes at the end of `bytes` (which has at least 8), little-endian.
#[inline(always)]
fn last_word(bytes: &[u8]) -> u64 {
    bytes.last_chunk().map_or(0, |w| u64::from_le_bytes(*w))
}

impl Hasher for FoldHasher {
    /// Folds 16 bytes per multiply; the last (or only) 16 are read as two words that may
    /// overlap what was already folded (the length, mixed in first, tells them apart), so no
    /// tail is copied.
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let len = bytes.len();
        // Through a multiply: a length xored next to the data could be cancelled by the data.
        let mut acc = fold(self.acc ^ len as u64, self.key);
        let (a, b) = if len <= 16 {
            if len >= 8 {
                (word(bytes), last_word(bytes))
            } else if len >= 4 {
                let half = |b: Option<&[u8; 4]>| b.map_or(0, |w| u64::from(u32::from_le_bytes(*w)));
                (half(bytes.first_chunk()), half(bytes.last_chunk()))
            } else {
                let byte = |i: usize| bytes.get(i).map_or(0, |&b| u64::from(b));
                (
                    byte(0) | byte(len / 2) << 8 | byte(len.wrapping_sub(1)) << 16,
                    0,
                )
            }
        } else {
            let mut rest = bytes;
            while let Some((block, tail)) = rest.split_first_chunk::<16>() {
                if tail.is_empty() {
                    break;
                }
                acc = fold(acc ^ word(block), self.key ^ last_word(block));
                rest = tail;
            }
            let end = bytes.get(len - 16..).unwrap_or(bytes);
            (word(end), last_word(end))
        };
        self.acc = fold(acc ^ a, self.key.rotate_left(23) ^ b);
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

/// `a == b`, without a `memcmp` call for the short strings most keys and values are.
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn u64s(s: &[u8]) -> (u64, u64) {
        let first = s.first_chunk().map_or(0, |w| u64::from_le_bytes(*w));
        let last = s.last_chunk().map_or(0, |w| u64::from_le_bytes(*w));
        (first, last)
    }
    fn u32s(s: &[u8]) -> (u32, u32) {
        let first = s.first_chunk().map_or(0, |w| u32::from_le_bytes(*w));
        let last = s.last_chunk().map_or(0, |w| u32::from_le_bytes(*w));
        (first, last)
    }
    let len = a.len();
    if len != b.len() {
        return false;
    }
    // Two words that cover every byte (overlapping when shorter than both).
    match len {
        4..=8 => u32s(a) == u32s(b),
        9..=16 => u64s(a) == u64s(b),
        _ => a == b,
    }
}

/// Where a string sits in the table of the payload being built.
#[derive(Debug, Clone, Copy)]
struct Slot {
    index: u32,
    /// Where the text starts in [`StringTable::bytes`].
    offset: usize,
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
    cache: Box<[[CacheEntry; CACHE_WAYS]; CACHE_SETS]>,
    /// Identifies the chunk being written: an entry of this chunk is trusted as is.
    stamp: u64,
    /// The stamp of the payload's first chunk: older entries belong to an earlier table.
    payload_stamp: u64,
    /// The msgpack `str` elements of the table, in index order.
    bytes: Vec<u8>,
    count: u32,
    generation: u64,
}

impl StringTable {
    pub(crate) fn new() -> Self {
        let mut table = StringTable {
            map: HashMap::with_hasher(FoldState::new()),
            cache: Box::new([[CacheEntry::default(); CACHE_WAYS]; CACHE_SETS]),
            stamp: 0,
            payload_stamp: 1,
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
        self.payload_stamp = self.stamp;
        self.bytes.clear();
        self.bytes.push(0xa0);
        self.count = 1;
    }

    /// Starts a chunk: the strings of the previous chunk may have been freed since, so an
    /// address seen there must have its text checked again.
    pub(crate) fn begin_chunk(&mut self) {
        self.stamp += 1;
    }

    /// [`intern`](Self::intern) for a string borrowed from the current chunk, which stays
    /// alive and unchanged until the next [`begin_chunk`](Self::begin_chunk).
    ///
    /// The same address and length as earlier in the chunk mean the same text: the index is
    /// reused without hashing. Seen in an earlier chunk of the payload, the address may have
    /// been freed and reused since, so the text is compared with the table's copy first
    /// (a `&'static` or `Arc` string passes, and costs a compare instead of a hash).
    #[inline(always)]
    pub(crate) fn intern_borrowed(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let (ptr, len) = (s.as_ptr() as usize, s.len());
        let set = usize::from(
            ((ptr as u64 ^ (len as u64).rotate_left(40)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56)
                as u8,
        );
        if let Some(ways) = self.cache.get_mut(set) {
            for e in ways {
                if e.ptr == ptr && e.len == len {
                    if e.stamp == self.stamp {
                        return e.index;
                    }
                    if e.stamp >= self.payload_stamp {
                        let start = e.offset as usize;
                        let copy = self.bytes.get(start..start + len).unwrap_or_default();
                        if same_bytes(copy, s.as_bytes()) {
                            e.stamp = self.stamp;
                            return e.index;
                        }
                    }
                }
            }
        }
        self.intern_slow(s, set)
    }

    /// The cache miss of [`intern_borrowed`](Self::intern_borrowed): interns `s`, and caches
    /// its address (in the way of `set` used longest ago) unless the string is new to the
    /// map: a value that likely never repeats, such as a URL or a statement, would only evict
    /// useful entries.
    #[inline(never)]
    fn intern_slow(&mut self, s: &str, set: usize) -> u32 {
        let (found, known) = self.lookup(s);
        let stamp = self.stamp;
        let oldest = self
            .cache
            .get_mut(set)
            .and_then(|ways| ways.iter_mut().min_by_key(|e| e.stamp));
        if let (true, Ok(offset), Some(e)) = (known, u32::try_from(found.offset), oldest) {
            *e = CacheEntry {
                ptr: s.as_ptr() as usize,
                len: s.len(),
                stamp,
                index: found.index,
                offset,
            };
        }
        found.index
    }

    /// The index of `s` in the current payload's table, adding it when new.
    #[inline]
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        self.lookup(s).0.index
    }

    /// [`intern`](Self::intern) for a non-empty `s`, and whether the map knew `s` already.
    fn lookup(&mut self, s: &str) -> (Slot, bool) {
        let generation = self.generation;
        let slot = Slot {
            index: self.count,
            // The text follows the header `write::str` is about to write.
            offset: self.bytes.len() + write::str_header_len(s.len()),
            generation,
        };
        let known = match self.map.get_mut(s) {
            Some(found) if found.generation == generation => return (*found, true),
            Some(found) => {
                *found = slot;
                true
            }
            None => {
                self.map.insert(s.into(), slot);
                false
            }
        };
        write::str(&mut self.bytes, s);
        self.count = slot.index.saturating_add(1);
        (slot, known)
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

    fn cached(t: &StringTable, s: &str) -> Option<CacheEntry> {
        t.cache
            .iter()
            .flatten()
            .find(|e| e.ptr == s.as_ptr() as usize && e.len == s.len())
            .copied()
    }

    #[test]
    fn the_identity_cache_rechecks_the_text_of_earlier_chunks() {
        let mut t = StringTable::new();
        let mut reused = String::from("first");
        t.begin_chunk();
        assert_eq!(t.intern_borrowed(&reused), 1);
        // New to the map: not cached (it may never repeat).
        assert!(cached(&t, &reused).is_none());
        t.reset();
        t.begin_chunk();
        assert_eq!(t.intern_borrowed(&reused), 1);
        assert_eq!(cached(&t, &reused).map(|e| e.index), Some(1));
        assert_eq!(t.intern_borrowed(&reused), 1);
        // Same buffer, new text of the same length, in a later chunk.
        reused.clear();
        reused.push_str("other");
        t.begin_chunk();
        assert_eq!(t.intern_borrowed(&reused), 2);
        assert_eq!(t.intern("first"), 1);
        assert_eq!(t.intern_borrowed("first"), 1);
        // Entries of an earlier payload are never trusted: indexes restart.
        t.reset();
        t.begin_chunk();
        assert_eq!(t.intern_borrowed(&reused), 1);
        assert_eq!(t.bytes(), [0xa0, 0xa5, b'o', b't', b'h', b'e', b'r']);
    }

    #[test]
    fn shared_strings_hit_the_cache_across_chunks_and_evictions() {
        let mut t = StringTable::new();
        let shared: &'static str = "a key literal long enough to take two header bytes";
        t.intern(shared);
        t.reset();
        for chunk in 0..3 {
            t.begin_chunk();
            assert_eq!(t.intern_borrowed(shared), 1);
            let entry = cached(&t, shared).unwrap();
            assert_eq!((entry.stamp, entry.index), (t.stamp, 1));
            let start = entry.offset as usize;
            assert_eq!(&t.bytes()[start..start + shared.len()], shared.as_bytes());
            // Evicted (every slot taken by other known strings), then found again.
            if chunk == 1 {
                let others: Vec<String> = (0..32 * CACHE_SETS * CACHE_WAYS)
                    .map(|i| i.to_string())
                    .collect();
                for other in &others {
                    t.intern(other);
                }
                t.begin_chunk();
                for other in &others {
                    t.intern_borrowed(other);
                }
                assert!(cached(&t, shared).is_none());
            }
        }
    }

    #[test]
    fn same_bytes_agrees_with_slice_equality() {
        for len in 0..40 {
            let a = vec![b'x'; len];
            assert!(same_bytes(&a, &a.clone()));
            assert!(!same_bytes(&a, &vec![b'x'; len + 1]));
            for pos in 0..len {
                let mut b = a.clone();
                b[pos] = b'y';
                assert!(!same_bytes(&a, &b), "{len} {pos}");
            }
        }
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
        // Every length up to several blocks, and a one-byte change at every position
        // (including the bytes the overlapping tail words read twice).
        let mut texts = std::collections::HashSet::new();
        for len in 0..72 {
            texts.insert("a".repeat(len));
            for pos in 0..len {
                let mut t = "a".repeat(len).into_bytes();
                t[pos] = b'b';
                texts.insert(String::from_utf8(t).unwrap());
            }
        }
        let mut seen = std::collections::HashMap::new();
        for t in &texts {
            if let Some(other) = seen.insert(state.hash_one(t), t) {
                panic!("{t:?} {other:?}");
            }
        }
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
