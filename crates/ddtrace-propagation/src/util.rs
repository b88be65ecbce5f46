//! Small parsing and formatting helpers shared by the styles.

use ddtrace_model::{Str, TagMap, tags};

/// Parses exactly `len` hex digits (lower case only unless `upper_ok`).
pub(crate) fn hex_exact(s: &str, len: usize, upper_ok: bool) -> Option<u128> {
    if s.len() != len || len == 0 || len > 32 {
        return None;
    }
    let mut value: u128 = 0;
    for b in s.bytes() {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' if upper_ok => b - b'A' + 10,
            _ => return None,
        };
        value = value << 4 | u128::from(digit);
    }
    Some(value)
}

/// Parses an unsigned decimal made of ASCII digits only that fits `u64`.
pub(crate) fn decimal_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The `_dd.p.*` tags to send, in order: `_dd.p.tid` replaced by the trace id's high half
/// (in place, or appended) when it is non-zero, dropped when it is zero.
pub(crate) fn outgoing_tags<'a>(
    tags: Option<&'a TagMap<Str>>,
    high_hex: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::with_capacity(tags.map_or(0, TagMap::len) + 1);
    let mut tid_written = false;
    for (k, v) in tags.into_iter().flat_map(TagMap::iter) {
        if !k.starts_with(tags::PROPAGATED_PREFIX) {
            continue;
        }
        if k.as_str() == tags::TRACE_ID_HIGH {
            if let Some(high) = high_hex {
                out.push((tags::TRACE_ID_HIGH, high));
                tid_written = true;
            }
            continue;
        }
        out.push((k.as_str(), v.as_str()));
    }
    if let (Some(high), false) = (high_hex, tid_written) {
        out.push((tags::TRACE_ID_HIGH, high));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_decimal() {
        assert_eq!(hex_exact("00ff", 4, false), Some(255));
        assert_eq!(hex_exact("00FF", 4, false), None);
        assert_eq!(hex_exact("00FF", 4, true), Some(255));
        assert_eq!(hex_exact("0ff", 4, true), None);
        assert_eq!(hex_exact("+0ff", 4, true), None);
        assert_eq!(decimal_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(decimal_u64("18446744073709551616"), None);
        for bad in ["", "+1", " 1", "1 ", "-1", "1.0", "abc"] {
            assert_eq!(decimal_u64(bad), None, "{bad}");
        }
    }

    #[test]
    fn tid_is_normalised() {
        let t: TagMap<Str> = [
            ("_dd.p.a", Str::from("1")),
            ("_dd.p.tid", Str::from("stale")),
            ("x", Str::from("y")),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            outgoing_tags(Some(&t), Some("0000000100000000")),
            [("_dd.p.a", "1"), ("_dd.p.tid", "0000000100000000")]
        );
        assert_eq!(outgoing_tags(Some(&t), None), [("_dd.p.a", "1")]);
        assert_eq!(outgoing_tags(None, Some("ab")), [("_dd.p.tid", "ab")]);
    }
}
