//! The `datadog` style: `x-datadog-*` headers (propagation.md §2).

use std::fmt::Write as _;

use ddtrace_model::{SamplingPriority, SpanId, Str, TagMap, TraceId, tags};

use crate::util::{decimal_u64, hex_exact, outgoing_tags};
use crate::{Carrier, ExtractedContext, InjectContext, Style};

pub(crate) const TRACE_ID: &str = "x-datadog-trace-id";
pub(crate) const PARENT_ID: &str = "x-datadog-parent-id";
pub(crate) const SAMPLING_PRIORITY: &str = "x-datadog-sampling-priority";
pub(crate) const ORIGIN: &str = "x-datadog-origin";
pub(crate) const TAGS: &str = "x-datadog-tags";
pub(crate) const FIELDS: [&str; 5] = [TRACE_ID, PARENT_ID, SAMPLING_PRIORITY, ORIGIN, TAGS];

const DECODING_ERROR: &str = "decoding_error";
const EXTRACT_MAX_SIZE: &str = "extract_max_size";
const UPSTREAM_SERVICES: &str = "_dd.p.upstream_services";

/// §2.1: reads the Datadog headers; `None` when the trace id or parent id is invalid.
pub(crate) fn extract(carrier: &dyn Carrier, max_tags_len: usize) -> Option<ExtractedContext> {
    let raw_trace_id = carrier.get(TRACE_ID)?;
    let low = decimal_u64(raw_trace_id).filter(|&v| v != 0);
    let Some(low) = low else {
        log::debug!("invalid x-datadog-trace-id {raw_trace_id:?}");
        return None;
    };
    let parent_id = match carrier.get(PARENT_ID) {
        None => None,
        Some(raw) => match decimal_u64(raw) {
            Some(v) => SpanId::new(v),
            None => {
                log::debug!("invalid x-datadog-parent-id {raw:?}");
                return None;
            }
        },
    };
    let mut ctx = ExtractedContext::new(Style::Datadog, TraceId::from_parts(0, low));
    ctx.parent_id = parent_id;
    ctx.priority = carrier
        .get(SAMPLING_PRIORITY)
        .and_then(|p| p.parse::<i32>().ok())
        .map(SamplingPriority::new);
    ctx.origin = carrier
        .get(ORIGIN)
        .filter(|o| !o.is_empty())
        .map(Str::copy_from);
    if let Some(header) = carrier.get(TAGS) {
        let decoded = decode_tags(header, max_tags_len);
        ctx.tags = decoded.tags;
        ctx.propagation_error = decoded.error;
        if let Some(high) = decoded.high {
            ctx.trace_id = ctx.trace_id.with_high(high);
        }
    }
    Some(ctx)
}

/// The outcome of decoding `x-datadog-tags`.
#[derive(Debug, Default)]
pub(crate) struct DecodedTags {
    pub(crate) tags: TagMap<Str>,
    pub(crate) high: Option<u64>,
    pub(crate) error: Option<Str>,
}

/// §2.3: decodes `x-datadog-tags`, keeping `_dd.p.*` keys.
pub(crate) fn decode_tags(header: &str, max_len: usize) -> DecodedTags {
    let mut out = DecodedTags::default();
    if header.is_empty() {
        return out;
    }
    if header.len() > max_len {
        out.error = Some(Str::from_static(EXTRACT_MAX_SIZE));
        return out;
    }
    // One trailing comma is tolerated ("a=b,"); a lone "," is still malformed.
    let body = header.strip_suffix(',').unwrap_or(header);
    for pair in body.split(',') {
        let Some((key, value)) = pair.split_once('=') else {
            return malformed();
        };
        let key_ok = !key.is_empty() && key.bytes().all(|b| (0x21..=0x7e).contains(&b));
        let value_ok = value.bytes().all(|b| (0x20..=0x7e).contains(&b));
        if !key_ok || !value_ok {
            return malformed();
        }
        if !key.starts_with(tags::PROPAGATED_PREFIX) || key == UPSTREAM_SERVICES {
            continue;
        }
        if key == tags::DECISION_MAKER && !is_valid_dm(value) {
            out.error.get_or_insert(Str::from_static(DECODING_ERROR));
            continue;
        }
        if key == tags::TRACE_ID_HIGH {
            match parse_tid(value) {
                Some(high) => out.high = Some(high),
                None => {
                    out.error
                        .get_or_insert_with(|| format!("malformed_tid {value}").into());
                    continue;
                }
            }
        }
        out.tags.insert(Str::copy_from(key), Str::copy_from(value));
    }
    out
}

fn malformed() -> DecodedTags {
    DecodedTags {
        error: Some(Str::from_static(DECODING_ERROR)),
        ..DecodedTags::default()
    }
}

/// `_dd.p.dm` must be `-<digits>`.
fn is_valid_dm(value: &str) -> bool {
    value
        .strip_prefix('-')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// `_dd.p.tid` must be exactly 16 lower-case hex digits; an all-zero high half can only be a
/// bad value (a 64-bit trace never sends the tag), so it is malformed too.
pub(crate) fn parse_tid(value: &str) -> Option<u64> {
    hex_exact(value, 16, false)
        .and_then(|v| u64::try_from(v).ok())
        .filter(|&v| v != 0)
}

/// §2.2: writes the Datadog headers. Returns the propagation error of `x-datadog-tags`, if any.
pub(crate) fn inject(
    ctx: &InjectContext<'_>,
    max_tags_len: usize,
    carrier: &mut dyn Carrier,
) -> Option<&'static str> {
    carrier.set(TRACE_ID, ctx.trace_id.low().to_string());
    carrier.set(PARENT_ID, ctx.span_id.get().to_string());
    if let Some(p) = ctx.priority {
        carrier.set(SAMPLING_PRIORITY, p.get().to_string());
    }
    if let Some(origin) = ctx.origin.filter(|o| !o.is_empty()) {
        // Never forward control characters or non-ASCII into a header value.
        if origin.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            carrier.set(ORIGIN, origin.to_owned());
        } else {
            log::debug!("origin {origin:?} has characters x-datadog-origin cannot carry; not sent");
        }
    }
    match encode_tags(ctx, max_tags_len) {
        Ok(Some(header)) => {
            carrier.set(TAGS, header);
            None
        }
        Ok(None) => None,
        Err(error) => Some(error),
    }
}

/// §2.3 injection: `Ok(None)` when there is nothing to send.
fn encode_tags(ctx: &InjectContext<'_>, max_len: usize) -> Result<Option<String>, &'static str> {
    let high = ctx.trace_id.high();
    let high_hex = (high != 0).then(|| format!("{high:016x}"));
    let tags = outgoing_tags(ctx.tags, high_hex.as_deref());
    let mut header = String::new();
    for (key, value) in tags {
        let key_ok = key
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',' && b != b'=');
        let value_ok = value
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b',');
        if !key_ok || !value_ok {
            log::debug!("not propagating tag {key:?} with characters x-datadog-tags cannot carry");
            continue;
        }
        if !header.is_empty() {
            header.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(header, "{key}={value}");
    }
    if header.is_empty() {
        return Ok(None);
    }
    if max_len == 0 {
        return Err("disabled");
    }
    if header.len() > max_len {
        log::debug!(
            "x-datadog-tags is {} bytes, over the {max_len} limit; not sent",
            header.len()
        );
        return Err("inject_max_size");
    }
    Ok(Some(header))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags_of(d: &DecodedTags) -> Vec<(&str, &str)> {
        d.tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// propagation.md §2.3: format, charset, prefixes, dm validation, errors.
    #[test]
    fn decoding_rules() {
        let d = decode_tags(
            "_dd.p.dm=-4,_dd.p.usr.id=baz64==,foo=bar,_dd.p.upstream_services=x",
            512,
        );
        assert_eq!(
            tags_of(&d),
            [("_dd.p.dm", "-4"), ("_dd.p.usr.id", "baz64==")]
        );
        assert!(d.error.is_none());
        for bad in [
            "_dd.p.dm",
            "=v",
            "_dd.p.a b=c",
            ",",
            "_dd.p.a=é",
            " _dd.p.a=b",
        ] {
            let d = decode_tags(bad, 512);
            assert!(d.tags.is_empty(), "{bad}");
            assert_eq!(d.error.as_deref(), Some("decoding_error"), "{bad}");
        }
        let d = decode_tags("_dd.p.dm=4,_dd.p.a=b", 512);
        assert_eq!(tags_of(&d), [("_dd.p.a", "b")]);
        assert_eq!(d.error.as_deref(), Some("decoding_error"));
        let d = decode_tags("_dd.p.a=b c,", 512);
        assert_eq!(tags_of(&d), [("_dd.p.a", "b c")]);
        let d = decode_tags(&format!("_dd.p.a={}", "x".repeat(600)), 512);
        assert!(d.tags.is_empty());
        assert_eq!(d.error.as_deref(), Some("extract_max_size"));
    }

    /// propagation.md §2.1: `_dd.p.tid` must be 16 lower-case hex digits.
    #[test]
    fn tid_rules() {
        let d = decode_tags("_dd.p.tid=640cfd8d00000000", 512);
        assert_eq!(d.high, Some(0x640c_fd8d_0000_0000));
        for bad in [
            "1234567890abcdef1",
            "1234567890abcde",
            "1234567890abcdeX",
            "640CFD8D00000000",
        ] {
            let d = decode_tags(&format!("_dd.p.dm=-4,_dd.p.tid={bad}"), 512);
            assert_eq!(d.high, None);
            assert_eq!(tags_of(&d), [("_dd.p.dm", "-4")]);
            assert_eq!(
                d.error.as_deref(),
                Some(format!("malformed_tid {bad}").as_str())
            );
        }
    }
}
