//! [`Str`]: a cheap, immutable string for values that repeat on every span.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// An immutable string that is free to create from a `&'static str` and cheap to clone
/// when it is shared.
///
/// Service names, operation names and tag keys repeat on every span. A `Str` made from a
/// literal costs no allocation; one made from an `Arc<str>` clones by bumping a counter;
/// one made from a `String` keeps that allocation without copying it.
///
/// `Str` compares, orders and hashes exactly like the `str` it holds, so it can be looked
/// up by `&str` in maps.
///
/// ```
/// use ddtrace_model::Str;
/// use std::sync::Arc;
///
/// let key = Str::from_static("http.method");
/// let service: Str = Arc::<str>::from("checkout").into();
/// let value: Str = String::from("GET").into();
/// assert_eq!(key, "http.method");
/// assert_eq!(service.clone().as_str(), "checkout");
/// assert_eq!(&*value, "GET");
/// ```
#[derive(Clone)]
pub struct Str(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Owned(Box<str>),
    Shared(Arc<str>),
}

impl Str {
    /// The empty string.
    pub const EMPTY: Str = Str(Repr::Static(""));

    /// Wraps a string literal; no allocation.
    pub const fn from_static(s: &'static str) -> Self {
        Str(Repr::Static(s))
    }

    /// Copies a borrowed string into a new `Str`.
    pub fn copy_from(s: &str) -> Self {
        Str(Repr::Owned(s.into()))
    }

    /// The string slice.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Owned(s) => s,
            Repr::Shared(s) => s,
        }
    }
}

impl Default for Str {
    fn default() -> Self {
        Str::EMPTY
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Str {}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Str {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Str {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Str {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&'static str> for Str {
    fn from(s: &'static str) -> Self {
        Str::from_static(s)
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        Str(Repr::Owned(s.into_boxed_str()))
    }
}

impl From<Box<str>> for Str {
    fn from(s: Box<str>) -> Self {
        Str(Repr::Owned(s))
    }
}

impl From<Arc<str>> for Str {
    fn from(s: Arc<str>) -> Self {
        Str(Repr::Shared(s))
    }
}

impl From<Str> for String {
    fn from(s: Str) -> Self {
        match s.0 {
            Repr::Owned(b) => b.into_string(),
            other => Str(other).as_str().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn every_representation_compares_and_hashes_as_its_text() {
        let a = Str::from_static("svc");
        let b = Str::from(String::from("svc"));
        let c = Str::from(Arc::<str>::from("svc"));
        assert_eq!(a, b);
        assert_eq!(b, c);
        let mut map = HashMap::new();
        map.insert(a, 1);
        assert_eq!(map.get("svc"), Some(&1));
        assert_eq!(map.get(&c), Some(&1));
        assert!(Str::from_static("a") < Str::copy_from("b"));
    }

    #[test]
    fn converting_an_owned_str_back_keeps_its_text() {
        assert_eq!(String::from(Str::from(String::from("x"))), "x");
        assert_eq!(String::from(Str::from_static("y")), "y");
        assert_eq!(format!("{:?}", Str::EMPTY), "\"\"");
    }
}
