//! Trace and span identifiers, their text forms, and their generation.

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use crate::Error;

/// A 128-bit trace id.
///
/// Datadog spans carry only the low 64 bits in their `trace_id` field; the high 64 bits travel
/// as the `_dd.p.tid` tag (16 lower-case hex digits) on the first span of each chunk. W3C
/// `traceparent` carries all 32 hex digits.
///
/// `Display` writes the 32-digit lower-case hex form used by W3C and by Datadog log correlation
/// for 128-bit ids.
///
/// ```
/// use ddtrace_model::TraceId;
///
/// let id = TraceId::from_hex("640cfd8d00000000a3ce929d0e0e4736")?;
/// assert_eq!(id.low(), 0xa3ce929d0e0e4736);
/// assert_eq!(id.high(), 0x640cfd8d00000000);
/// assert_eq!(id.low().to_string(), "11803532876627986230");
/// assert_eq!(id.to_string(), "640cfd8d00000000a3ce929d0e0e4736");
/// assert_eq!(TraceId::from_decimal("11803532876627986230")?.low(), id.low());
/// # Ok::<(), ddtrace_model::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(u128);

impl TraceId {
    /// The all-zero id, which is never valid on the wire.
    pub const ZERO: TraceId = TraceId(0);

    /// Wraps a 128-bit value.
    pub const fn from_u128(value: u128) -> Self {
        TraceId(value)
    }

    /// Builds an id from its high and low halves.
    pub const fn from_parts(high: u64, low: u64) -> Self {
        TraceId(((high as u128) << 64) | low as u128)
    }

    /// The 128-bit value.
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// The high 64 bits (`_dd.p.tid`).
    pub const fn high(self) -> u64 {
        (self.0 >> 64) as u64
    }

    /// The low 64 bits (the Datadog span's `trace_id` field).
    pub const fn low(self) -> u64 {
        self.0 as u64
    }

    /// Whether this is the all-zero id.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The same id with its high half replaced.
    pub const fn with_high(self, high: u64) -> Self {
        TraceId::from_parts(high, self.low())
    }

    /// Parses 1 to 32 hex digits (either case). No sign, prefix or whitespace.
    pub fn from_hex(s: &str) -> Result<Self, Error> {
        parse_hex(s, 32)
            .map(TraceId)
            .ok_or_else(|| Error::invalid_id("trace id", s))
    }

    /// Parses an unsigned decimal that fits 128 bits. No sign or whitespace.
    pub fn from_decimal(s: &str) -> Result<Self, Error> {
        parse_decimal(s)
            .map(TraceId)
            .ok_or_else(|| Error::invalid_id("trace id", s))
    }

    /// Generates a new random trace id.
    ///
    /// With `bits128` the high half is `<unix seconds: 32 bits><zeros: 32 bits>` (the Datadog
    /// convention) and `unix_seconds` supplies the time; without it the high half is zero. The
    /// low half is random and never zero.
    pub fn generate(bits128: bool, unix_seconds: u64) -> Self {
        let high = if bits128 {
            (unix_seconds & 0xffff_ffff) << 32
        } else {
            0
        };
        TraceId::from_parts(high, crate::random::nonzero_u64().get())
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({:032x})", self.0)
    }
}

impl fmt::LowerHex for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

impl FromStr for TraceId {
    type Err = Error;
    /// Parses the hex form (as written by `Display`).
    fn from_str(s: &str) -> Result<Self, Error> {
        TraceId::from_hex(s)
    }
}

impl From<u128> for TraceId {
    fn from(value: u128) -> Self {
        TraceId(value)
    }
}

/// A 64-bit span id, never zero.
///
/// `Display` writes the 16-digit lower-case hex form (W3C); the decimal form Datadog headers
/// and logs use is `id.get().to_string()`.
///
/// ```
/// use ddtrace_model::SpanId;
///
/// let id = SpanId::from_hex("00f067aa0ba902b7")?;
/// assert_eq!(id.get(), 67667974448284343);
/// assert_eq!(id.to_string(), "00f067aa0ba902b7");
/// assert_eq!(SpanId::from_decimal("67667974448284343")?, id);
/// assert!(SpanId::new(0).is_none());
/// # Ok::<(), ddtrace_model::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(NonZeroU64);

impl SpanId {
    /// Wraps a value; `None` for zero.
    pub const fn new(value: u64) -> Option<Self> {
        match NonZeroU64::new(value) {
            Some(v) => Some(SpanId(v)),
            None => None,
        }
    }

    /// The value.
    pub const fn get(self) -> u64 {
        self.0.get()
    }

    /// Parses 1 to 16 hex digits (either case); zero is an error.
    pub fn from_hex(s: &str) -> Result<Self, Error> {
        parse_hex(s, 16)
            .and_then(|v| SpanId::new(v as u64))
            .ok_or_else(|| Error::invalid_id("span id", s))
    }

    /// Parses an unsigned decimal that fits 64 bits; zero is an error.
    pub fn from_decimal(s: &str) -> Result<Self, Error> {
        parse_decimal(s)
            .and_then(|v| u64::try_from(v).ok())
            .and_then(SpanId::new)
            .ok_or_else(|| Error::invalid_id("span id", s))
    }

    /// Generates a new random span id.
    pub fn generate() -> Self {
        SpanId(crate::random::nonzero_u64())
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.get())
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({:016x})", self.get())
    }
}

impl fmt::LowerHex for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.get(), f)
    }
}

impl FromStr for SpanId {
    type Err = Error;
    /// Parses the hex form (as written by `Display`).
    fn from_str(s: &str) -> Result<Self, Error> {
        SpanId::from_hex(s)
    }
}

impl From<NonZeroU64> for SpanId {
    fn from(value: NonZeroU64) -> Self {
        SpanId(value)
    }
}

/// Parses `1..=max_digits` hex digits. `u128::from_str_radix` alone would accept a sign.
fn parse_hex(s: &str, max_digits: usize) -> Option<u128> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(s, 16).ok()
}

/// Parses ASCII decimal digits only (no sign, no whitespace) into a u128.
fn parse_decimal(s: &str) -> Option<u128> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spec_example_splits_into_low_field_and_tid_tag() {
        // span-model.md §1.2 worked example.
        let id = TraceId::from_parts(0x640cfd8d00000000, 0xa3ce929d0e0e4736);
        assert_eq!(id.low(), 11803532876627986230);
        assert_eq!(format!("{:016x}", id.high()), "640cfd8d00000000");
        assert_eq!(id.to_string(), "640cfd8d00000000a3ce929d0e0e4736");
    }

    #[test]
    fn malformed_ids_are_errors_not_panics() {
        for bad in ["", "+1", "-1", " 1", "1 ", "0x10", "g", &"f".repeat(33)] {
            assert!(TraceId::from_hex(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1.0",
            "1e3",
            "340282366920938463463374607431768211456",
        ] {
            assert!(TraceId::from_decimal(bad).is_err(), "{bad:?}");
        }
        assert!(SpanId::from_hex("0000000000000000").is_err());
        assert!(SpanId::from_hex(&"f".repeat(17)).is_err());
        assert!(SpanId::from_decimal("18446744073709551616").is_err());
        assert!(SpanId::from_decimal("0").is_err());
        assert_eq!(
            SpanId::from_decimal("18446744073709551615").map(SpanId::get),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn generated_ids_follow_the_datadog_layout() {
        let id = TraceId::generate(true, 0x6650_f1a2);
        assert_eq!(id.high(), 0x6650_f1a2_0000_0000);
        assert_ne!(id.low(), 0);
        let id = TraceId::generate(false, 0x6650_f1a2);
        assert_eq!(id.high(), 0);
        let a = SpanId::generate();
        let b = SpanId::generate();
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn text_forms_round_trip(v in any::<u128>(), s in 1..=u64::MAX) {
            let t = TraceId::from_u128(v);
            prop_assert_eq!(TraceId::from_hex(&t.to_string()), Ok(t));
            prop_assert_eq!(TraceId::from_decimal(&v.to_string()), Ok(t));
            prop_assert_eq!(TraceId::from_parts(t.high(), t.low()), t);
            let id = SpanId::new(s).unwrap();
            prop_assert_eq!(SpanId::from_hex(&id.to_string()), Ok(id));
            prop_assert_eq!(SpanId::from_decimal(&s.to_string()), Ok(id));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(s in ".{0,40}") {
            let _ = TraceId::from_hex(&s);
            let _ = TraceId::from_decimal(&s);
            let _ = SpanId::from_hex(&s);
            let _ = SpanId::from_decimal(&s);
        }
    }
}
