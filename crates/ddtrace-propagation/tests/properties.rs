//! Property tests: inject then extract is the identity on every style (for the fields the
//! style carries), and extraction of arbitrary headers never panics and never makes injection
//! write anything but printable ASCII.

use std::collections::HashMap;

use ddtrace_model::{SamplingPriority, SpanId, Str, TagMap, TraceId};
use ddtrace_propagation::{
    Baggage, ExtractBehavior, InjectContext, PropagationConfig, Propagator, Style,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Input {
    trace_id: TraceId,
    span_id: SpanId,
    priority: Option<i32>,
    origin: Option<String>,
    tags: Vec<(String, String)>,
    vendors: Vec<String>,
}

fn trace_id() -> impl Strategy<Value = TraceId> {
    prop_oneof![
        (1..=u64::MAX).prop_map(|low| TraceId::from_parts(0, low)),
        (1..=u64::MAX, any::<u64>()).prop_map(|(high, low)| TraceId::from_parts(high, low)),
        Just(TraceId::from_u128(u128::MAX)),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    (
        trace_id(),
        (1..=u64::MAX).prop_map(|v| SpanId::new(v).unwrap()),
        proptest::option::of(-3..=3i32),
        proptest::option::of("[a-zA-Z0-9=._-]{1,12}"),
        // W3C members cannot end with a space, so values do not either.
        proptest::collection::vec(
            (
                "[a-z][a-z0-9.]{0,6}",
                "([a-zA-Z0-9 =:./-]{0,9}[a-zA-Z0-9=:./-])?",
            ),
            0..4,
        ),
        proptest::collection::vec("[a-z][a-z0-9]{0,5}=[a-zA-Z0-9]{1,8}", 0..5),
    )
        .prop_map(|(trace_id, span_id, priority, origin, tags, vendors)| {
            let mut seen = Vec::new();
            let tags = tags
                .into_iter()
                .filter(|(k, _)| k != "tid" && k != "upstream_services" && k != "dm")
                .filter(|(k, _)| {
                    let new = !seen.contains(k);
                    seen.push(k.clone());
                    new
                })
                .map(|(k, v)| (format!("_dd.p.{k}"), v))
                .collect();
            let vendors = vendors
                .into_iter()
                .filter(|v| !v.starts_with("dd="))
                .collect();
            Input {
                trace_id,
                span_id,
                priority,
                origin,
                tags,
                vendors,
            }
        })
}

fn round_trip(
    style: Style,
    input: &Input,
) -> (
    ddtrace_propagation::ExtractedContext,
    HashMap<String, String>,
) {
    let propagator = Propagator::new(PropagationConfig::default().with_styles([style]));
    let tags: TagMap<Str> = input
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), Str::from(v.clone())))
        .collect();
    let vendors = input.vendors.join(",");
    let ctx = InjectContext::new(input.trace_id, input.span_id)
        .with_priority(input.priority.map(SamplingPriority::new))
        .with_origin(input.origin.as_deref())
        .with_tags(&tags)
        .with_tracestate(Some(&vendors));
    let mut headers = HashMap::new();
    let status = propagator.inject(&ctx, &mut headers);
    assert_eq!(status.propagation_error, None);
    let extracted = propagator.extract(&headers);
    (
        extracted.context.expect("injected headers extract"),
        headers,
    )
}

fn b3_priority(p: Option<i32>) -> Option<i32> {
    p.map(|p| match p {
        2 => 2,
        p if p > 0 => 1,
        _ => 0,
    })
}

proptest! {
    /// datadog carries ids (128 bits via _dd.p.tid), priority, origin and tags exactly.
    #[test]
    fn datadog_round_trip(input in input()) {
        let (c, _) = round_trip(Style::Datadog, &input);
        prop_assert_eq!(c.trace_id, input.trace_id);
        prop_assert_eq!(c.parent_id, Some(input.span_id));
        prop_assert_eq!(c.priority.map(SamplingPriority::get), input.priority);
        prop_assert_eq!(c.origin.as_deref(), input.origin.as_deref());
        let got: Vec<(String, String)> = c.tags.iter()
            .filter(|(k, _)| k.as_str() != "_dd.p.tid")
            .map(|(k, v)| (k.to_string(), v.to_string())).collect();
        prop_assert_eq!(got, input.tags.clone());
        let high = input.trace_id.high();
        prop_assert_eq!(c.tags.get("_dd.p.tid").map(|t| t.to_string()), (high != 0).then(|| format!("{high:016x}")));
    }

    /// tracecontext carries ids, priority, origin, tags, `p` and other vendors' members.
    #[test]
    fn tracecontext_round_trip(input in input()) {
        let (c, headers) = round_trip(Style::TraceContext, &input);
        prop_assert_eq!(c.trace_id, input.trace_id);
        prop_assert_eq!(c.parent_id, Some(input.span_id));
        let span_hex = input.span_id.to_string();
        prop_assert_eq!(c.last_parent_id.as_deref(), Some(span_hex.as_str()));
        prop_assert_eq!(c.origin.as_deref(), input.origin.as_deref());
        match input.priority {
            Some(p) => {
                prop_assert_eq!(c.priority.map(SamplingPriority::get), Some(p));
                let got: Vec<(String, String)> = c.tags.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string())).collect();
                prop_assert_eq!(got, input.tags.clone());
            }
            // No priority: the unsampled flag decides (§3.2 step 5).
            None => prop_assert_eq!(c.priority, Some(SamplingPriority::AUTO_REJECT)),
        }
        let ts = headers.get("tracestate").cloned().unwrap_or_default();
        let others: Vec<&str> = ts.split(',').filter(|m| !m.starts_with("dd=") && !m.is_empty()).collect();
        prop_assert_eq!(others, input.vendors.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert!(ts.split(',').count() <= 32);
    }

    /// b3 and b3multi carry ids and the keep/drop/debug decision.
    #[test]
    fn b3_round_trip(input in input()) {
        for style in [Style::B3, Style::B3Multi] {
            let (c, _) = round_trip(style, &input);
            prop_assert_eq!(c.trace_id, input.trace_id);
            prop_assert_eq!(c.parent_id, Some(input.span_id));
            prop_assert_eq!(c.priority.map(SamplingPriority::get), b3_priority(input.priority));
            prop_assert!(c.origin.is_none());
        }
    }

    /// baggage: any non-empty keys and values survive encoding and decoding, in order.
    #[test]
    fn baggage_round_trip(entries in proptest::collection::vec((".{1,12}", ".{1,12}"), 0..10)) {
        let baggage: Baggage = entries.into_iter().collect();
        let propagator = Propagator::new(PropagationConfig::default().with_styles([Style::Baggage]));
        let mut headers = HashMap::new();
        propagator.inject_baggage(&baggage, &mut headers);
        let header = headers.get("baggage").cloned().unwrap_or_default();
        prop_assert!(header.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        let extracted = propagator.extract(&headers);
        prop_assert_eq!(extracted.baggage, baggage);
    }

    /// Arbitrary header bytes under every style and mode: extraction never panics, and
    /// re-injecting whatever came out writes only printable ASCII.
    #[test]
    fn arbitrary_headers_never_panic(
        pairs in proptest::collection::vec((header_name(), header_value()), 0..8),
        behavior in prop_oneof![Just(ExtractBehavior::Continue), Just(ExtractBehavior::Restart)],
        first in any::<bool>(),
    ) {
        let headers: HashMap<String, String> = pairs.into_iter().collect();
        let config = PropagationConfig::default()
            .with_styles([Style::Datadog, Style::TraceContext, Style::B3, Style::B3Multi, Style::Baggage])
            .with_extract_behavior(behavior)
            .with_extract_first(first);
        let propagator = Propagator::new(config);
        let extracted = propagator.extract(&headers);
        let mut out = HashMap::new();
        match extracted.context.as_ref().and_then(|c| c.to_inject_context()) {
            Some(ctx) => { propagator.inject(&ctx.with_baggage(Some(&extracted.baggage)), &mut out); }
            None => propagator.inject_baggage(&extracted.baggage, &mut out),
        }
        for (k, v) in &out {
            prop_assert!(v.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{}: {:?}", k, v);
        }
    }
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("x-datadog-trace-id"),
        Just("x-datadog-parent-id"),
        Just("x-datadog-sampling-priority"),
        Just("x-datadog-origin"),
        Just("x-datadog-tags"),
        Just("traceparent"),
        Just("tracestate"),
        Just("TraceState"),
        Just("b3"),
        Just("x-b3-traceid"),
        Just("x-b3-spanid"),
        Just("x-b3-sampled"),
        Just("x-b3-flags"),
        Just("baggage"),
    ]
    .prop_map(str::to_owned)
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9a-fA-F=,;:~ \t.-]{0,80}",
        "(00|cc|ff)-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.{0,5})?",
        "(dd=(s|o|p|t\\.[a-z]{1,3}):[^,]{0,10}(;[a-z.]{1,4}:[^,;]{0,6}){0,3},)?[a-z]{1,3}=[^,]{0,5}",
        "(_dd\\.p\\.[a-z]{1,4}=[ -~]{0,8},){0,4}",
        "[0-9]{1,21}",
    ]
}
