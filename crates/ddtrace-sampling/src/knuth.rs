//! Deterministic ("Knuth") sampling on ids, and the `_dd.p.ksr` rate format.

/// The multiplier every Datadog tracer and the agent use to hash ids (`sampling.md` §5.1).
pub const KNUTH_FACTOR: u64 = 1_111_111_111_111_111_111;

/// The Knuth hash of an id: `id × KNUTH_FACTOR mod 2^64`.
///
/// ```
/// use ddtrace_sampling::knuth_hash;
///
/// assert_eq!(knuth_hash(1), 1_111_111_111_111_111_111);
/// assert_eq!(knuth_hash(10), 11_111_111_111_111_111_110);
/// ```
pub const fn knuth_hash(id: u64) -> u64 {
    id.wrapping_mul(KNUTH_FACTOR)
}

/// Whether an id is kept at `rate`: always for `rate >= 1`, never for `rate <= 0` (or NaN),
/// otherwise iff `knuth_hash(id) <= rate × (2^64 − 1)`.
///
/// Trace sampling passes the low 64 bits of the trace id, single-span sampling the span id.
/// The result depends on nothing else, so every tracer and the agent agree on it.
///
/// ```
/// use ddtrace_sampling::knuth_sample;
///
/// assert!(knuth_sample(1, 0.5)); // hash / max ≈ 0.06
/// assert!(!knuth_sample(10, 0.5)); // hash / max ≈ 0.60
/// assert!(knuth_sample(10, 0.7));
/// assert!(!knuth_sample(1, 0.0));
/// ```
pub fn knuth_sample(id: u64, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    // `as` saturates; rate < 1 keeps the product below 2^64 anyway.
    knuth_hash(id) <= (rate * u64::MAX as f64) as u64
}

/// Formats a rate for the `_dd.p.ksr` tag: six decimals, then trailing zeros and a trailing
/// `.` removed (`sampling.md` §5.2).
///
/// ```
/// use ddtrace_sampling::format_rate;
///
/// assert_eq!(format_rate(1.0), "1");
/// assert_eq!(format_rate(0.7654321), "0.765432");
/// assert_eq!(format_rate(0.0000001), "0");
/// ```
pub fn format_rate(rate: f64) -> String {
    let mut s = format!("{rate:.6}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s.remove(0);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_table_of_hashes_and_decisions() {
        // sampling.md §5.1: (id, hash, keep at 0.5, keep at 0.7).
        let table = [
            (1_u64, 1_111_111_111_111_111_111_u64, true, true),
            (10, 11_111_111_111_111_111_110, false, true),
            (123_456_789, 15_210_246_968_391_938_131, false, false),
        ];
        for (id, hash, half, seventy) in table {
            assert_eq!(knuth_hash(id), hash, "hash of {id}");
            assert_eq!(knuth_sample(id, 0.5), half, "{id} at 0.5");
            assert_eq!(knuth_sample(id, 0.7), seventy, "{id} at 0.7");
        }
    }

    #[test]
    fn threshold_is_inclusive_and_extremes_are_fixed() {
        // 2^63 hashes to 2^63 (the factor is odd), exactly the threshold of rate 0.5.
        assert_eq!(knuth_hash(1 << 63), 1 << 63);
        assert!(knuth_sample(1 << 63, 0.5));
        assert!(knuth_sample(0, 0.000_001)); // hash 0 is below every positive threshold
        assert!(!knuth_sample(0, 0.0));
        assert!(!knuth_sample(0, -1.0));
        assert!(!knuth_sample(0, f64::NAN));
        assert!(knuth_sample(u64::MAX, 1.0));
        assert!(knuth_sample(u64::MAX, 7.0));
    }

    #[test]
    fn ksr_spec_table() {
        // sampling.md §5.2.
        let table = [
            (1.0, "1"),
            (0.5, "0.5"),
            (0.100000, "0.1"),
            (0.7654321, "0.765432"),
            (0.000001, "0.000001"),
            (0.00000051, "0.000001"),
            (0.0000001, "0"),
            (0.0, "0"),
            (0.25, "0.25"),
        ];
        for (rate, text) in table {
            assert_eq!(format_rate(rate), text, "rate {rate}");
        }
    }
}
