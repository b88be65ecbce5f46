//! The [`Carrier`] trait: where headers are read from and written to.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// A set of text headers that propagation reads from ([`Propagator::extract`]) or writes to
/// ([`Propagator::inject`]).
///
/// Header names are case-insensitive (RFC 9110): the propagator asks for lower-case names
/// and `get`/`get_all` must match them regardless of case. The provided implementations
/// for `HashMap<String, String>` and `BTreeMap<String, String>` try the exact key first and
/// then scan the keys ignoring ASCII case. `set` receives lower-case names.
///
/// `get_all` returns every value of a repeated header; the W3C rules need it to reject a
/// duplicated `traceparent` and to join several `tracestate` lines. Carriers that cannot hold
/// repeated headers keep the default (`get` as a one-element list).
///
/// [`Propagator::extract`]: crate::Propagator::extract
/// [`Propagator::inject`]: crate::Propagator::inject
///
/// ```
/// use std::collections::HashMap;
/// use ddtrace_propagation::Carrier;
///
/// let mut headers: HashMap<String, String> = HashMap::new();
/// headers.insert("X-Datadog-Trace-Id".into(), "123".into());
/// assert_eq!(Carrier::get(&headers, "x-datadog-trace-id"), Some("123"));
/// headers.set("traceparent", "00-…".to_owned());
/// assert_eq!(Carrier::keys(&headers).len(), 2);
/// ```
pub trait Carrier {
    /// The value of header `key` (any case), or `None`.
    fn get(&self, key: &str) -> Option<&str>;

    /// Every value of header `key` (any case), in order; empty when absent.
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.get(key).into_iter().collect()
    }

    /// Sets header `key` (lower case) to `value`, replacing any previous value.
    fn set(&mut self, key: &str, value: String);

    /// The names of all headers present.
    fn keys(&self) -> Vec<&str>;
}

impl<S: BuildHasher> Carrier for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<&str> {
        match HashMap::get(self, key) {
            Some(v) => Some(v.as_str()),
            None => self
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str()),
        }
    }

    fn get_all(&self, key: &str) -> Vec<&str> {
        let mut found: Vec<(&String, &String)> = self
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .collect();
        // Hash order is arbitrary; make the result deterministic.
        found.sort();
        found.into_iter().map(|(_, v)| v.as_str()).collect()
    }

    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_owned(), value);
    }

    fn keys(&self) -> Vec<&str> {
        HashMap::keys(self).map(String::as_str).collect()
    }
}

impl Carrier for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        match BTreeMap::get(self, key) {
            Some(v) => Some(v.as_str()),
            None => self
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str()),
        }
    }

    fn get_all(&self, key: &str) -> Vec<&str> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_owned(), value);
    }

    fn keys(&self) -> Vec<&str> {
        BTreeMap::keys(self).map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_ignore_case_and_get_all_sees_every_spelling() {
        let mut h: HashMap<String, String> = HashMap::new();
        h.insert("TraceState".into(), "a=1".into());
        h.insert("tracestate".into(), "b=2".into());
        assert_eq!(Carrier::get(&h, "tracestate"), Some("b=2"));
        assert!(Carrier::get(&h, "TRACESTATE").is_some());
        assert_eq!(Carrier::get_all(&h, "tracestate"), vec!["a=1", "b=2"]);
        assert!(Carrier::get(&h, "traceparent").is_none());

        let mut b: BTreeMap<String, String> = BTreeMap::new();
        Carrier::set(&mut b, "b3", "x".into());
        assert_eq!(Carrier::get(&b, "B3"), Some("x"));
        assert_eq!(Carrier::keys(&b), vec!["b3"]);
    }
}
