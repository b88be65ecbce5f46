//! [`KeyFilter`]: a set of tag keys summed up in one word, to skip searches for keys it lacks.

/// A set of tag keys summed up in 64 bits, from each key's length, first and last bytes.
///
/// A key that was inserted is always reported as possibly present; a key that was not is
/// usually reported absent at once, without comparing any text. Mapping and encoding use it
/// where a span's few keys are searched for keys that are almost never there.
///
/// ```
/// use ddtrace_model::KeyFilter;
///
/// let mut keys = KeyFilter::EMPTY;
/// keys.insert("_dd.p.dm");
/// assert!(keys.may_contain("_dd.p.dm"));
/// assert!(!keys.may_contain("language"));
/// assert!(keys.overlaps(KeyFilter::of("_dd.p.dm")));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyFilter(u64);

impl KeyFilter {
    /// The filter of no key.
    pub const EMPTY: KeyFilter = KeyFilter(0);

    /// The filter of `key` alone.
    #[inline]
    pub fn of(key: &str) -> KeyFilter {
        let bytes = key.as_bytes();
        let (first, last) = (
            bytes.first().copied().unwrap_or(0),
            bytes.last().copied().unwrap_or(0),
        );
        // Fibonacci hashing of first byte, last byte and length: the top 6 bits of the
        // product pick the bit.
        let word = u64::from(first) << 16 | u64::from(last) << 8 | (key.len() as u64 & 0xff);
        KeyFilter(1 << (word.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58))
    }

    /// Adds `key`.
    #[inline]
    pub fn insert(&mut self, key: &str) {
        self.add(KeyFilter::of(key));
    }

    /// Adds the keys of `other`.
    #[inline]
    pub fn add(&mut self, other: KeyFilter) {
        self.0 |= other.0;
    }

    /// False when `key` was certainly not inserted.
    #[inline]
    pub fn may_contain(self, key: &str) -> bool {
        self.overlaps(KeyFilter::of(key))
    }

    /// False when no key of `other` was inserted here (for a filter of one key, as
    /// [`KeyFilter::may_contain`] with that key).
    #[inline]
    pub fn overlaps(self, other: KeyFilter) -> bool {
        self.0 & other.0 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags;
    use proptest::prelude::*;

    proptest! {
        /// No false negatives: every inserted key may be contained.
        #[test]
        fn inserted_keys_are_never_reported_absent(
            keys in proptest::collection::vec(".{0,24}", 0..12),
        ) {
            let mut filter = KeyFilter::EMPTY;
            for key in &keys {
                filter.insert(key);
            }
            for key in &keys {
                prop_assert!(filter.may_contain(key));
            }
        }
    }

    /// The keys a first span usually carries are told apart from the chunk-level keys that
    /// could replace them, which is what the encoder relies on to skip its searches.
    #[test]
    fn common_span_keys_miss_the_chunk_level_keys() {
        let mut chunk_level = KeyFilter::EMPTY;
        for key in [tags::DECISION_MAKER, tags::TRACE_ID_HIGH] {
            chunk_level.insert(key);
        }
        for key in [
            tags::LANGUAGE,
            tags::RUNTIME_ID,
            tags::SPAN_KIND,
            tags::ENV,
            tags::VERSION,
            tags::BASE_SERVICE,
        ] {
            assert!(!chunk_level.may_contain(key), "{key}");
        }
        assert!(!KeyFilter::EMPTY.may_contain(""));
    }
}
