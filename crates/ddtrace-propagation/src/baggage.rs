//! W3C baggage: [`Baggage`], its header parser and serialiser.

use std::fmt::Write as _;

use ddtrace_model::{Str, TagMap};

use crate::{BaggageTagKeys, Error, Result};

/// Key/value pairs that travel with a request in the W3C `baggage` header.
///
/// Insertion-ordered; setting an existing key replaces its value in place.
///
/// ```
/// use ddtrace_propagation::Baggage;
///
/// let baggage = Baggage::from_header("userId=Am%C3%A9lie, serverNode = DF%2028")?;
/// assert_eq!(baggage.get("userId"), Some("Amélie"));
/// assert_eq!(baggage.get("serverNode"), Some("DF 28"));
/// assert_eq!(baggage.to_header(64, 8192).as_deref(),
///            Some("userId=Am%C3%A9lie,serverNode=DF%2028"));
/// assert!(Baggage::from_header("no-equal-sign,foo=bar").is_err());
/// # Ok::<(), ddtrace_propagation::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Baggage {
    entries: TagMap<Str>,
}

impl Baggage {
    /// Empty baggage.
    pub const fn new() -> Self {
        Baggage {
            entries: TagMap::new(),
        }
    }

    /// Parses a `baggage` header value (propagation.md §8.1–8.2): members separated by `,`,
    /// key and value split at the first `=`, properties after `;` ignored, spaces and tabs
    /// trimmed, keys and values percent-decoded (invalid escapes kept as they are, invalid
    /// UTF-8 replaced by U+FFFD). A member without `=`, with an empty key or an empty value
    /// makes the whole header invalid. Later duplicates overwrite earlier ones. An empty
    /// header is empty baggage.
    pub fn from_header(header: &str) -> Result<Baggage> {
        let mut baggage = Baggage::new();
        if header.trim_matches(OWS).is_empty() {
            return Ok(baggage);
        }
        for member in header.split(',') {
            let pair = member.split(';').next().unwrap_or_default();
            let Some((key, value)) = pair.split_once('=') else {
                return Err(Error::malformed_baggage(member));
            };
            let (key, value) = (key.trim_matches(OWS), value.trim_matches(OWS));
            if key.is_empty() || value.is_empty() {
                return Err(Error::malformed_baggage(member));
            }
            baggage.insert(percent_decode(key), percent_decode(value));
        }
        Ok(baggage)
    }

    /// Serialises at most `max_items` entries in insertion order as
    /// `encode(key)=encode(value)` joined by `,` (propagation.md §8.3), stopping before the
    /// first entry that would exceed `max_items` or make the value longer than `max_bytes`
    /// (that entry and all later ones are dropped). Entries with an empty key or value are
    /// skipped (no extractor would accept them). `None` when nothing is left.
    pub fn to_header(&self, max_items: usize, max_bytes: usize) -> Option<String> {
        let mut out = String::new();
        let mut member = String::new();
        let mut count = 0;
        for (key, value) in self.entries.iter() {
            if key.is_empty() || value.is_empty() {
                continue;
            }
            if count >= max_items {
                break;
            }
            member.clear();
            percent_encode(key, is_key_char, &mut member);
            member.push('=');
            percent_encode(value, is_value_char, &mut member);
            let added = member.len() + usize::from(count > 0);
            if out.len() + added > max_bytes {
                break;
            }
            if count > 0 {
                out.push(',');
            }
            out.push_str(&member);
            count += 1;
        }
        (count > 0).then_some(out)
    }

    /// Sets `key` to `value` (an existing key keeps its position).
    pub fn insert(&mut self, key: impl Into<Str>, value: impl Into<Str>) {
        self.entries.insert(key, value.into());
    }
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(Str::as_str)
    }
    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Str> {
        self.entries.remove(key)
    }
    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// The entries in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    /// Keeps the first `max_items` entries.
    pub(crate) fn truncate(&mut self, max_items: usize) {
        let mut n = 0;
        self.entries.retain(|_, _| {
            n += 1;
            n <= max_items
        });
    }

    /// The span tags (`baggage.<key>`, value) for the keys `keys` selects (propagation.md §8.4).
    ///
    /// ```
    /// use ddtrace_propagation::{Baggage, BaggageTagKeys};
    ///
    /// let baggage = Baggage::from_header("user.id=doggo,session.id=mysession,foo=bar")?;
    /// let keys = BaggageTagKeys::default();
    /// let tags: Vec<(String, &str)> = baggage.span_tags(&keys).collect();
    /// assert_eq!(tags, [("baggage.user.id".to_owned(), "doggo"),
    ///                   ("baggage.session.id".to_owned(), "mysession")]);
    /// # Ok::<(), ddtrace_propagation::Error>(())
    /// ```
    pub fn span_tags<'a>(
        &'a self,
        keys: &'a BaggageTagKeys,
    ) -> impl Iterator<Item = (String, &'a str)> + 'a {
        self.iter()
            .filter(move |(k, _)| keys.selects(k))
            .map(|(k, v)| (format!("baggage.{k}"), v))
    }
}

impl<K: Into<Str>, V: Into<Str>> FromIterator<(K, V)> for Baggage {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut baggage = Baggage::new();
        for (k, v) in iter {
            baggage.insert(k, v);
        }
        baggage
    }
}

const OWS: &[char] = &[' ', '\t'];

/// RFC 7230 token characters (propagation.md §8.3 key set), minus `%` which is always escaped
/// so that decoding gives the original text back.
fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&'*+-.^_`|~".contains(&b)
}

/// The key set plus `( ) / : < > ? @ [ ] { }` (propagation.md §8.3), `%` escaped.
fn is_value_char(b: u8) -> bool {
    is_key_char(b) || b"()/:<>?@[]{}".contains(&b)
}

fn percent_encode(text: &str, allowed: fn(u8) -> bool, out: &mut String) {
    for &b in text.as_bytes() {
        if allowed(b) {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_value);
            let lo = bytes.get(i + 2).copied().and_then(hex_value);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(b: &Baggage) -> Vec<(&str, &str)> {
        b.iter().collect()
    }

    /// propagation.md §8.2: every malformed example discards the whole header.
    #[test]
    fn malformed_headers_yield_nothing() {
        for header in [
            "no-equal-sign,foo=gets-dropped-because-previous-pair-is-malformed",
            "=no-key",
            "no-value=",
            "foo=bar,=",
            "user.id=,session.id=x",
            "foo=bar,",
            " = ",
        ] {
            assert!(Baggage::from_header(header).is_err(), "{header}");
        }
        assert!(Baggage::from_header("").unwrap().is_empty());
    }

    /// propagation.md §8.1–8.2: trimming, properties, duplicates, `=` in values, decoding.
    #[test]
    fn parsing_rules() {
        let b = Baggage::from_header(" foo = bar ;prop=1;p2 ,\tk2=v=w, foo=baz").unwrap();
        assert_eq!(pairs(&b), [("foo", "baz"), ("k2", "v=w")]);
        let b = Baggage::from_header("k=%ZZ,k2=%E2%82,k3=%4").unwrap();
        assert_eq!(pairs(&b), [("k", "%ZZ"), ("k2", "\u{fffd}"), ("k3", "%4")]);
    }

    /// propagation.md §8.3 example, byte-exact.
    #[test]
    fn spec_encoding_example() {
        let b: Baggage = [
            ("foo", "bar"),
            ("userId", "Amélie"),
            ("serverNode", "DF 28"),
            ("\",;\\()/:<=>?@[]{}", "\",;\\"),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            b.to_header(64, 8192).unwrap(),
            "foo=bar,userId=Am%C3%A9lie,serverNode=DF%2028,%22%2C%3B%5C%28%29%2F%3A%3C%3D%3E%3F%40%5B%5D%7B%7D=%22%2C%3B%5C"
        );
    }

    /// propagation.md §8.3 limits: the member that does not fit and all later ones are dropped.
    #[test]
    fn limits_drop_the_tail() {
        let big = "a".repeat(2732); // "kN=" + 2732 = 2735 bytes
        let b: Baggage = [
            ("k1", big.clone()),
            ("k2", big.clone()),
            ("k3", big.clone()),
            ("k4", "abc".to_owned()),
        ]
        .into_iter()
        .collect();
        let header = b.to_header(64, 8192).unwrap();
        assert_eq!(header.len(), 2735 * 2 + 1);
        assert!(!header.contains("k4"));
        let many: Baggage = (0..70).map(|i| (format!("k{i}"), "v")).collect();
        let header = many.to_header(64, 8192).unwrap();
        assert_eq!(header.split(',').count(), 64);
        assert!(Baggage::new().to_header(64, 8192).is_none());
        assert!(many.to_header(0, 8192).is_none());
    }

    /// `%` is escaped so that decoding the output gives back the input.
    #[test]
    fn percent_sign_round_trips() {
        let b: Baggage = [("k%41", "50%")].into_iter().collect();
        let header = b.to_header(64, 8192).unwrap();
        assert_eq!(header, "k%2541=50%25");
        assert_eq!(Baggage::from_header(&header).unwrap(), b);
    }
}
