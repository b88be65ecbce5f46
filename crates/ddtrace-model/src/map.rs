//! [`TagMap`]: the small insertion-ordered map used for meta, metrics and attributes.

use std::fmt;

use crate::Str;

/// A map from [`Str`] keys to values that keeps insertion order and unique keys.
///
/// Spans carry a dozen or so tags; a vector scanned linearly beats hashing at that size,
/// allocates once, and keeps the order in which tags were set (which makes payloads
/// reproducible). Equality ignores order.
///
/// ```
/// use ddtrace_model::{Str, TagMap};
///
/// let mut meta: TagMap<Str> = TagMap::new();
/// meta.insert("env", "prod".into());
/// meta.insert("env", "staging".into());
/// assert_eq!(meta.len(), 1);
/// assert_eq!(meta.get("env").map(|v| v.as_str()), Some("staging"));
/// ```
#[derive(Clone)]
pub struct TagMap<V> {
    entries: Vec<(Str, V)>,
}

/// The capacity of a map's first allocation when it was created without one.
const FIRST_CAPACITY: usize = 8;

impl<V> TagMap<V> {
    /// An empty map (no allocation).
    pub const fn new() -> Self {
        TagMap {
            entries: Vec::new(),
        }
    }

    /// An empty map with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        TagMap {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    /// A mutable reference to the value for `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`, returning the previous value. A new key goes last; an existing
    /// key keeps its position.
    #[inline]
    pub fn insert(&mut self, key: impl Into<Str>, value: V) -> Option<V> {
        let key = key.into();
        match self.get_mut(&key) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                if self.entries.len() == self.entries.capacity() {
                    self.grow();
                }
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Makes room for one more entry. Spans carry a dozen or so tags, so a map's first
    /// allocation holds `FIRST_CAPACITY` entries rather than `Vec`'s four, which saves a
    /// reallocation on most maps; after that the vector doubles as usual.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        self.entries.reserve(FIRST_CAPACITY);
    }

    /// Removes `key`, returning its value. Later entries keep their relative order.
    #[inline]
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let index = self.entries.iter().position(|(k, _)| k.as_str() == key)?;
        Some(self.entries.remove(index).1)
    }

    /// Keeps only the entries for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    /// Removes every entry, keeping the allocation.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Str, &V)> + '_ {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The keys in insertion order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Str> + '_ {
        self.entries.iter().map(|(k, _)| k)
    }
}

impl<V> Default for TagMap<V> {
    fn default() -> Self {
        TagMap::new()
    }
}

impl<V: PartialEq> PartialEq for TagMap<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<V: fmt::Debug> fmt::Debug for TagMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<Str>, V> FromIterator<(K, V)> for TagMap<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = TagMap::new();
        map.extend(iter);
        map
    }
}

impl<K: Into<Str>, V> Extend<(K, V)> for TagMap<V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<V> IntoIterator for TagMap<V> {
    type Item = (Str, V);
    type IntoIter = std::vec::IntoIter<(Str, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..12, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u8..12).prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// The map behaves like a `BTreeMap` under any sequence of inserts and removes.
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec(op(), 0..64)) {
            let mut ours = TagMap::new();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        prop_assert_eq!(ours.insert(k.to_string(), v), model.insert(k.to_string(), v));
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(ours.remove(&k.to_string()), model.remove(&k.to_string()));
                    }
                }
                prop_assert_eq!(ours.len(), model.len());
            }
            for (k, v) in &model {
                prop_assert_eq!(ours.get(k), Some(v));
            }
        }
    }

    #[test]
    fn growing_past_the_first_allocation_keeps_order_and_values() {
        let mut map = TagMap::new();
        for i in 0..40 {
            assert_eq!(map.insert(i.to_string(), i), None);
        }
        assert!(map.entries.capacity() >= 40);
        assert_eq!(map.insert("7", 70), Some(7));
        assert_eq!(map.remove("0"), Some(0));
        let keys: Vec<String> = map.keys().map(|k| k.to_string()).collect();
        let expected: Vec<String> = (1..40).map(|i| i.to_string()).collect();
        assert_eq!(keys, expected);
        assert_eq!(map.get("7"), Some(&70));
    }

    #[test]
    fn equality_ignores_order_and_insertion_keeps_position() {
        let a: TagMap<i32> = [("a", 1), ("b", 2)].into_iter().collect();
        let mut b: TagMap<i32> = [("b", 2), ("a", 0)].into_iter().collect();
        assert_ne!(a, b);
        b.insert("a", 1);
        assert_eq!(a, b);
        let keys: Vec<&str> = b.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["b", "a"]);
    }
}
