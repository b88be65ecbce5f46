//! The `b3` (single header) and `b3multi` styles (propagation.md §4–5).

use ddtrace_model::{SamplingPriority, SpanId, TraceId};

use crate::util::hex_exact;
use crate::{Carrier, ExtractedContext, InjectContext, Style};

pub(crate) const B3: &str = "b3";
pub(crate) const TRACE_ID: &str = "x-b3-traceid";
pub(crate) const SPAN_ID: &str = "x-b3-spanid";
pub(crate) const SAMPLED: &str = "x-b3-sampled";
pub(crate) const FLAGS: &str = "x-b3-flags";
pub(crate) const MULTI_FIELDS: [&str; 4] = [TRACE_ID, SPAN_ID, SAMPLED, FLAGS];

/// 16 or 32 hex digits (either case), not zero.
fn trace_id(s: &str) -> Option<TraceId> {
    let len = s.len();
    if len != 16 && len != 32 {
        return None;
    }
    hex_exact(s, len, true)
        .filter(|&v| v != 0)
        .map(TraceId::from_u128)
}

/// 1 to 16 hex digits (either case), not zero.
fn span_id(s: &str, exact: bool) -> Option<SpanId> {
    let len = s.len();
    if len == 0 || len > 16 || (exact && len != 16) {
        return None;
    }
    let v = hex_exact(s, len, true)?;
    SpanId::new(u64::try_from(v).ok()?)
}

fn context(
    style: Style,
    trace_id: TraceId,
    span_id: SpanId,
    priority: Option<i32>,
) -> ExtractedContext {
    let mut ctx = ExtractedContext::new(style, trace_id);
    ctx.parent_id = Some(span_id);
    ctx.priority = priority.map(SamplingPriority::new);
    ctx
}

/// §5: `{TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]`.
pub(crate) fn extract_single(carrier: &dyn Carrier) -> Option<ExtractedContext> {
    let raw = carrier.get(B3)?;
    let mut parts = raw.trim_matches([' ', '\t']).split('-');
    let (Some(t), Some(s)) = (parts.next(), parts.next()) else {
        // A lone sampling state carries no ids: no context for Datadog purposes.
        return None;
    };
    let (Some(trace_id), Some(span_id)) = (trace_id(t), span_id(s, true)) else {
        log::debug!("invalid b3 header {raw:?}");
        return None;
    };
    let priority = match parts.next() {
        None => None,
        Some("1") => Some(1),
        Some("0") => Some(0),
        Some("d") => Some(2),
        // An unknown sampling state defers the decision, like an absent one.
        Some(other) => {
            log::debug!("unknown b3 sampling state {other:?}");
            None
        }
    };
    Some(context(Style::B3, trace_id, span_id, priority))
}

/// §4: `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`, `x-b3-flags`.
pub(crate) fn extract_multi(carrier: &dyn Carrier) -> Option<ExtractedContext> {
    let trace_id = trace_id(carrier.get(TRACE_ID)?.trim())?;
    let span_id = span_id(carrier.get(SPAN_ID)?.trim(), false)?;
    let debug = carrier.get(FLAGS).is_some_and(|f| f.trim() == "1");
    let priority = if debug {
        Some(2)
    } else {
        match carrier.get(SAMPLED).map(str::trim) {
            Some(s) if s == "1" || s.eq_ignore_ascii_case("true") => Some(1),
            Some(s) if s == "0" || s.eq_ignore_ascii_case("false") => Some(0),
            _ => None,
        }
    };
    Some(context(Style::B3Multi, trace_id, span_id, priority))
}

fn trace_id_hex(trace_id: TraceId) -> String {
    if trace_id.high() != 0 {
        trace_id.to_string()
    } else {
        format!("{:016x}", trace_id.low())
    }
}

/// §5 injection: `b3: <trace>-<span>-<1|0|d>` (`d` for priority 2, USER_KEEP).
pub(crate) fn inject_single(ctx: &InjectContext<'_>, carrier: &mut dyn Carrier) {
    let mut value = format!("{}-{}", trace_id_hex(ctx.trace_id), ctx.span_id);
    if let Some(p) = ctx.priority {
        value.push_str(match p.get() {
            2 => "-d",
            p if p > 0 => "-1",
            _ => "-0",
        });
    }
    carrier.set(B3, value);
}

/// §4 injection; also `x-b3-flags: 1` for priority 2 (USER_KEEP).
pub(crate) fn inject_multi(ctx: &InjectContext<'_>, carrier: &mut dyn Carrier) {
    carrier.set(TRACE_ID, trace_id_hex(ctx.trace_id));
    carrier.set(SPAN_ID, ctx.span_id.to_string());
    if let Some(p) = ctx.priority {
        carrier.set(SAMPLED, if p.is_keep() { "1" } else { "0" }.to_owned());
        if p == SamplingPriority::USER_KEEP {
            carrier.set(FLAGS, "1".to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn h(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// propagation.md §5: the extraction example and the invalid forms.
    #[test]
    fn single_header_rules() {
        let ctx = extract_single(&h(&[(
            "b3",
            "000000000000000000000000075bcd15-000000003ade68b1-1",
        )]))
        .unwrap();
        assert_eq!(ctx.trace_id.as_u128(), 123_456_789);
        assert_eq!(ctx.parent_id.map(SpanId::get), Some(987_654_321));
        assert_eq!(ctx.priority, Some(SamplingPriority::AUTO_KEEP));
        assert!(ctx.tags.is_empty());
        let ctx = extract_single(&h(&[(
            "B3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d-05e3ac9a4f6e3b90",
        )]))
        .unwrap();
        assert_eq!(ctx.priority, Some(SamplingPriority::USER_KEEP));
        assert_eq!(ctx.trace_id.high(), 0x80f1_98ee_5634_3ba8);
        assert!(ctx.tags.is_empty());
        let unknown_state = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-true";
        let ctx = extract_single(&h(&[("b3", unknown_state)])).unwrap();
        assert_eq!(ctx.priority, None);
        for bad in [
            "0",
            "1",
            "d",
            "0-0-1",
            "xyz-abc-1",
            "",
            "180f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
        ] {
            assert!(extract_single(&h(&[("b3", bad)])).is_none(), "{bad}");
        }
    }

    /// propagation.md §4: sampled/flags precedence and invalid ids.
    #[test]
    fn multi_header_rules() {
        let ids = [
            ("x-b3-traceid", "a3ce929d0e0e4736"),
            ("x-b3-spanid", "00f067aa0ba902b7"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut all = ids.to_vec();
            all.extend_from_slice(extra);
            extract_multi(&h(&all))
                .and_then(|c| c.priority)
                .map(SamplingPriority::get)
        };
        assert_eq!(with(&[("x-b3-sampled", "1")]), Some(1));
        assert_eq!(with(&[("x-b3-sampled", "true")]), Some(1));
        assert_eq!(with(&[("x-b3-sampled", "0")]), Some(0));
        assert_eq!(with(&[("x-b3-flags", "1"), ("x-b3-sampled", "0")]), Some(2));
        assert_eq!(with(&[]), None);
        assert!(
            extract_multi(&h(&[
                ("x-b3-traceid", "00000000000000000000000000000000"),
                ("x-b3-spanid", "e457b5a2e4d86bd1")
            ]))
            .is_none()
        );
        assert!(
            extract_multi(&h(&[
                ("x-b3-traceid", "xyz"),
                ("x-b3-spanid", "e457b5a2e4d86bd1")
            ]))
            .is_none()
        );
        assert!(extract_multi(&h(&[("x-b3-traceid", "a3ce929d0e0e4736")])).is_none());
    }

    /// propagation.md §5 injection example.
    #[test]
    fn single_injection_example() {
        let ctx = InjectContext::new(
            TraceId::from_u128(0x80f1_98ee_5634_3ba8_64fe_8b2a_57d3_eff7),
            SpanId::new(0xe457_b5a2_e4d8_6bd1).unwrap(),
        )
        .with_priority(Some(SamplingPriority::AUTO_KEEP));
        let mut out = HashMap::new();
        inject_single(&ctx, &mut out);
        assert_eq!(
            out["b3"],
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"
        );
    }
}
