//! The v0.5 string table.

use std::collections::HashMap;

use crate::write;

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
    map: HashMap<Box<str>, Slot>,
    /// The msgpack `str` elements of the table, in index order.
    bytes: Vec<u8>,
    count: u32,
    generation: u64,
}

impl StringTable {
    pub(crate) fn new() -> Self {
        let mut table = StringTable {
            map: HashMap::new(),
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
        self.bytes.clear();
        self.bytes.push(0xa0);
        self.count = 1;
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
