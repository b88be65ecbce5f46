//! The `tracecontext` style: W3C `traceparent` and `tracestate` (propagation.md §3).

use std::fmt::Write as _;

use ddtrace_model::{SamplingPriority, SpanId, Str, TraceId, tags};

use crate::util::{hex_exact, outgoing_tags};
use crate::{Carrier, ExtractedContext, InjectContext, Style};

pub(crate) const TRACEPARENT: &str = "traceparent";
pub(crate) const TRACESTATE: &str = "tracestate";
pub(crate) const FIELDS: [&str; 2] = [TRACEPARENT, TRACESTATE];

/// At most this many list members in an injected tracestate (§3.2 step 6).
pub(crate) const MAX_MEMBERS: usize = 32;
/// The `dd` member stops growing at this length (§3.2 step 6).
pub(crate) const MAX_DD_MEMBER_LEN: usize = 256;
/// Other vendors' members longer than this are not forwarded.
pub(crate) const MAX_OTHER_MEMBER_LEN: usize = 512;

const OWS: &[char] = &[' ', '\t'];

/// The parsed `traceparent`: trace id, parent id, sampled flag.
pub(crate) fn parse_traceparent(raw: &str) -> Option<(TraceId, SpanId, bool)> {
    let s = raw.trim_matches(OWS);
    let version = s.get(0..2)?;
    hex_exact(version, 2, false)?;
    if version == "ff" {
        return None;
    }
    let trace = s.get(3..35).and_then(|t| hex_exact(t, 32, false))?;
    let parent = s.get(36..52).and_then(|p| hex_exact(p, 16, false))?;
    let flags = s.get(53..55).and_then(|f| hex_exact(f, 2, false))?;
    let dashes = [s.get(2..3), s.get(35..36), s.get(52..53)];
    if dashes.iter().any(|d| *d != Some("-")) {
        return None;
    }
    let rest = s.get(55..)?;
    let rest_ok = if version == "00" {
        rest.is_empty()
    } else {
        rest.is_empty() || rest.starts_with('-')
    };
    if !rest_ok || trace == 0 {
        return None;
    }
    let parent = SpanId::new(u64::try_from(parent).ok()?)?;
    Some((TraceId::from_u128(trace), parent, flags & 1 == 1))
}

/// §3.1–3.2: reads `traceparent`/`tracestate`; `None` when traceparent is absent or invalid.
pub(crate) fn extract(carrier: &dyn Carrier) -> Option<ExtractedContext> {
    let parents = carrier.get_all(TRACEPARENT);
    let raw = match parents.as_slice() {
        [] => return None,
        [one] => *one,
        _ => {
            log::debug!("traceparent sent {} times; ignored", parents.len());
            return None;
        }
    };
    let Some((trace_id, parent_id, sampled)) = parse_traceparent(raw) else {
        log::debug!("invalid traceparent {raw:?}");
        return None;
    };
    let mut ctx = ExtractedContext::new(Style::TraceContext, trace_id);
    ctx.parent_id = Some(parent_id);

    let tracestate = normalise_tracestate(&carrier.get_all(TRACESTATE));
    let mut s = None;
    let mut has_dd = false;
    if let Some(ts) = &tracestate {
        // W3C keys are unique; if `dd` appears twice anyway, the last one counts.
        let dd = ts
            .split(',')
            .filter_map(|m| m.strip_prefix("dd="))
            .next_back();
        if let Some(dd) = dd {
            has_dd = true;
            s = parse_dd_member(dd, &mut ctx);
        }
    }
    ctx.tracestate = tracestate.map(Str::from);

    // §3.2 step 5: reconcile the sampled flag with `s` (only with a `dd` member; without one
    // the priority is the sampled flag and no decision maker is set).
    let priority = match (sampled, s) {
        _ if !has_dd => i32::from(sampled),
        (true, Some(s)) if s > 0 => s,
        (true, _) => {
            ctx.tags
                .insert(tags::DECISION_MAKER, Str::from_static("-0"));
            1
        }
        (false, Some(s)) if s <= 0 => s,
        (false, _) => {
            ctx.tags.remove(tags::DECISION_MAKER);
            0
        }
    };
    ctx.priority = Some(SamplingPriority::new(priority));
    Some(ctx)
}

/// Joins repeated headers, trims members and drops empty ones. Non-ASCII (or control
/// characters) make the whole tracestate invalid. `None` when nothing is left.
fn normalise_tracestate(values: &[&str]) -> Option<String> {
    let mut out = String::new();
    for value in values {
        if !value
            .bytes()
            .all(|b| b == b'\t' || (0x20..=0x7e).contains(&b))
        {
            log::debug!("tracestate with non-printable or non-ASCII characters; ignored");
            return None;
        }
        for member in value.split(',') {
            let member = member.trim_matches(OWS);
            if member.is_empty() {
                continue;
            }
            if member.contains('\t') {
                log::debug!("tracestate member with a tab dropped");
                continue;
            }
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(member);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Parses the `dd` member's value into `ctx`; returns `s`.
fn parse_dd_member(dd: &str, ctx: &mut ExtractedContext) -> Option<i32> {
    let mut s = None;
    for part in dd.split(';') {
        let Some((key, value)) = part.split_once(':') else {
            continue;
        };
        match key {
            "s" => s = value.parse::<i32>().ok(),
            "o" if !value.is_empty() => ctx.origin = Some(value.replace('~', "=").into()),
            "p" if !value.is_empty() => ctx.last_parent_id = Some(Str::copy_from(value)),
            // Only a consistency check against traceparent, which wins.
            "t.tid" => {}
            _ => {
                if let Some(name) = key.strip_prefix("t.").filter(|n| !n.is_empty()) {
                    ctx.tags.insert(
                        format!("{}{name}", tags::PROPAGATED_PREFIX),
                        value.replace('~', "=").into(),
                    );
                }
            }
        }
    }
    s
}

/// §3.3: writes `traceparent` and `tracestate`.
pub(crate) fn inject(ctx: &InjectContext<'_>, carrier: &mut dyn Carrier) {
    let sampled = ctx.priority.is_some_and(SamplingPriority::is_keep);
    carrier.set(
        TRACEPARENT,
        format!(
            "00-{}-{}-{}",
            ctx.trace_id,
            ctx.span_id,
            if sampled { "01" } else { "00" }
        ),
    );
    if let Some(tracestate) = build_tracestate(ctx) {
        carrier.set(TRACESTATE, tracestate);
    }
}

fn build_tracestate(ctx: &InjectContext<'_>) -> Option<String> {
    let mut out = String::with_capacity(64);
    out.push_str("dd=");
    let mut parts = 0;
    if let Some(p) = ctx.priority {
        sep(&mut out, &mut parts);
        let _ = write!(out, "s:{p}");
    }
    if let Some(origin) = ctx.origin.filter(|o| !o.is_empty()) {
        sep(&mut out, &mut parts);
        out.push_str("o:");
        encode_value(origin, true, &mut out);
    }
    if !ctx.is_remote {
        sep(&mut out, &mut parts);
        let _ = write!(out, "p:{}", ctx.span_id);
    } else if let Some(p) = ctx.last_parent_id.filter(|p| !p.is_empty()) {
        sep(&mut out, &mut parts);
        out.push_str("p:");
        encode_value(p, false, &mut out);
    }
    let high = ctx.trace_id.high();
    let high_hex = (high != 0).then(|| format!("{high:016x}"));
    let mut part = String::new();
    for (key, value) in outgoing_tags(ctx.tags, high_hex.as_deref()) {
        let Some(name) = key.strip_prefix(tags::PROPAGATED_PREFIX) else {
            continue;
        };
        part.clear();
        part.push_str("t.");
        for c in name.chars() {
            part.push(if (' '..='~').contains(&c) && c != ',' && c != '=' {
                c
            } else {
                '_'
            });
        }
        part.push(':');
        encode_value(value, false, &mut part);
        if out.len() + usize::from(parts > 0) + part.len() > MAX_DD_MEMBER_LEN {
            // Skip this tag; a shorter one further on may still fit.
            continue;
        }
        sep(&mut out, &mut parts);
        out.push_str(&part);
    }
    // W3C list members cannot end with a space (it would be trimmed as whitespace).
    while out.ends_with(' ') {
        out.pop();
        out.push('_');
    }
    let mut members = 1;
    if parts == 0 {
        out.clear();
        members = 0;
    }
    for member in ctx.tracestate.into_iter().flat_map(|t| t.split(',')) {
        let member = member.trim_matches(OWS);
        let key = member.split('=').next().unwrap_or_default();
        if member.is_empty() || key == "dd" || member.len() > MAX_OTHER_MEMBER_LEN {
            continue;
        }
        if members >= MAX_MEMBERS {
            break;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(member);
        members += 1;
    }
    (!out.is_empty()).then_some(out)
}

fn sep(out: &mut String, parts: &mut usize) {
    if *parts > 0 {
        out.push(';');
    }
    *parts += 1;
}

/// Tracestate value encoding: characters outside the printable range (0x21–0x7E for the
/// origin, 0x20–0x7E for tag values) and `,` `;` `~` become `_`; `=` becomes `~`.
fn encode_value(value: &str, origin: bool, out: &mut String) {
    let low = if origin { '!' } else { ' ' };
    for c in value.chars() {
        out.push(match c {
            '=' => '~',
            ',' | ';' | '~' => '_',
            c if (low..='~').contains(&c) => c,
            _ => '_',
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddtrace_model::TagMap;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// propagation.md §3.1: versions, field sizes, case, zero ids, trailing data.
    #[test]
    fn traceparent_rules() {
        let (t, p, sampled) = parse_traceparent(TP).unwrap();
        assert_eq!(t.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(p.get(), 0x00f0_67aa_0ba9_02b7);
        assert!(sampled);
        assert!(parse_traceparent(&format!(" \t{TP}\t ")).is_some());
        let future =
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like";
        assert!(parse_traceparent(future).is_some());
        for bad in [
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "",
            "00-é",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
    }

    /// propagation.md §3.3: the full injection example.
    #[test]
    fn spec_injection_example() {
        let tags: TagMap<Str> = [("_dd.p.dm", Str::from("-4"))].into_iter().collect();
        let ctx = InjectContext::new(
            TraceId::from_u128(0x640c_fd8d_0000_0000_a3ce_929d_0e0e_4736),
            SpanId::new(0x00f0_67aa_0ba9_02b7).unwrap(),
        )
        .with_priority(Some(SamplingPriority::USER_KEEP))
        .with_origin(Some("rum"))
        .with_tags(&tags)
        .with_tracestate(Some("foo=1,bar=baz"));
        let mut h = std::collections::HashMap::new();
        inject(&ctx, &mut h);
        assert_eq!(
            h["traceparent"],
            "00-640cfd8d00000000a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(
            h["tracestate"],
            "dd=s:2;o:rum;p:00f067aa0ba902b7;t.dm:-4;t.tid:640cfd8d00000000,foo=1,bar=baz"
        );
    }

    /// propagation.md §3.3: origin and tag value escaping.
    #[test]
    fn escaping() {
        let mut out = String::new();
        encode_value("synthetics~;=web,z", true, &mut out);
        assert_eq!(out, "synthetics__~web_z");
        out.clear();
        encode_value("baz64== x\u{e9}", false, &mut out);
        assert_eq!(out, "baz64~~ x_");
    }

    /// propagation.md §3.2 steps 1–2: trimming, empty members, members with inner tabs.
    #[test]
    fn tracestate_normalisation() {
        assert_eq!(
            normalise_tracestate(&[" a=1 ,, \tb=2", "c=3\t", "d=\t4"]).as_deref(),
            Some("a=1,b=2,c=3")
        );
        assert_eq!(normalise_tracestate(&["a=é"]), None);
        assert_eq!(normalise_tracestate(&[" , "]), None);
    }

    /// A tag value ending in a space cannot end a W3C list member.
    #[test]
    fn no_trailing_space_in_dd_member() {
        let tags: TagMap<Str> = [("_dd.p.a", Str::from("b "))].into_iter().collect();
        let ctx =
            InjectContext::new(TraceId::from_u128(5), SpanId::new(6).unwrap()).with_tags(&tags);
        assert_eq!(
            build_tracestate(&ctx).unwrap(),
            "dd=p:0000000000000006;t.a:b_"
        );
    }

    /// propagation.md §3.2 step 6: 32 members at most, dd member at most 256 characters.
    #[test]
    fn limits() {
        let vendors: Vec<String> = (0..40).map(|i| format!("v{i:02}=x")).collect();
        let vendors = vendors.join(",");
        let tags: TagMap<Str> = (0..20)
            .map(|i| (format!("_dd.p.k{i:02}"), Str::from("v".repeat(20))))
            .collect();
        let ctx = InjectContext::new(TraceId::from_u128(5), SpanId::new(6).unwrap())
            .with_priority(Some(SamplingPriority::AUTO_KEEP))
            .with_tags(&tags)
            .with_tracestate(Some(&vendors));
        let ts = build_tracestate(&ctx).unwrap();
        let members: Vec<&str> = ts.split(',').collect();
        assert_eq!(members.len(), 32);
        assert_eq!(members.last(), Some(&"v30=x"));
        let dd = members.first().unwrap();
        assert!(dd.len() <= 256, "{}", dd.len());
        assert!(dd.len() > 256 - 30);
    }
}
