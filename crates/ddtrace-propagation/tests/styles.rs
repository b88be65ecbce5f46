//! Extraction and injection through the public API, one test per spec rule
//! (`shared/spec/propagation.md` section numbers in each test's doc comment).

use std::collections::HashMap;

use ddtrace_model::{SamplingPriority, SpanId, Str, TagMap, TraceId};
use ddtrace_propagation::{
    ExtractBehavior, Extracted, InjectContext, PropagationConfig, Propagator, Style,
};

fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn extract(styles: &[Style], pairs: &[(&str, &str)]) -> Extracted {
    Propagator::new(PropagationConfig::default().with_styles(styles.iter().copied()))
        .extract(&headers(pairs))
}

fn priority(e: &Extracted) -> Option<i32> {
    e.context
        .as_ref()
        .and_then(|c| c.priority)
        .map(SamplingPriority::get)
}

const DD: &[Style] = &[Style::Datadog];
const TC: &[Style] = &[Style::TraceContext];
const DD_TC: &[Style] = &[Style::Datadog, Style::TraceContext];
const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// §2.1: header names are case-insensitive; ids decimal; all-f (u64::MAX) ids are valid.
#[test]
fn datadog_case_insensitive_names_and_max_ids() {
    let e = extract(
        DD,
        &[
            ("X-DATADOG-TRACE-ID", "18446744073709551615"),
            ("X-Datadog-Parent-Id", "18446744073709551615"),
            ("x-datadog-sampling-priority", "-2"),
        ],
    );
    let c = e.context.unwrap();
    assert_eq!(c.trace_id, TraceId::from_parts(0, u64::MAX));
    assert_eq!(c.parent_id.map(SpanId::get), Some(u64::MAX));
    assert_eq!(c.priority, Some(SamplingPriority::new(-2)));
}

/// §2.1: zero, negative, overflowing, signed or padded trace ids reject the Datadog context;
/// a missing or zero parent id is accepted (no parent); an unparseable one rejects it.
#[test]
fn datadog_invalid_ids() {
    for bad in ["0", "-1", "18446744073709551616", "+1", " 1", "abc", ""] {
        let e = extract(
            DD,
            &[("x-datadog-trace-id", bad), ("x-datadog-parent-id", "1")],
        );
        assert!(e.context.is_none(), "trace id {bad:?}");
    }
    let e = extract(DD, &[("x-datadog-trace-id", "1")]);
    assert_eq!(e.context.unwrap().parent_id, None);
    let e = extract(
        DD,
        &[("x-datadog-trace-id", "1"), ("x-datadog-parent-id", "0")],
    );
    assert_eq!(e.context.unwrap().parent_id, None);
    let e = extract(
        DD,
        &[("x-datadog-trace-id", "1"), ("x-datadog-parent-id", "x")],
    );
    assert!(e.context.is_none());
}

/// §2.1: an unparseable priority means no priority; the context is kept.
#[test]
fn datadog_bad_priority_is_no_priority() {
    for bad in ["abc", "1.0", "", "99999999999"] {
        let e = extract(
            DD,
            &[
                ("x-datadog-trace-id", "1"),
                ("x-datadog-parent-id", "2"),
                ("x-datadog-sampling-priority", bad),
            ],
        );
        assert!(e.context.is_some());
        assert_eq!(priority(&e), None, "{bad:?}");
    }
}

/// §2.2 example: the injected Datadog headers of a 128-bit trace.
#[test]
fn datadog_injection_example() {
    let mut tags = TagMap::new();
    tags.insert("_dd.p.dm", Str::from("-4"));
    let ctx = InjectContext::new(
        TraceId::from_parts(0x640c_fd8d_0000_0000, 123_456_789),
        SpanId::new(987_654_322).unwrap(),
    )
    .with_priority(Some(SamplingPriority::USER_KEEP))
    .with_origin(Some("synthetics"))
    .with_tags(&tags);
    let mut out = HashMap::new();
    let status = Propagator::new(PropagationConfig::default().with_styles([Style::Datadog]))
        .inject(&ctx, &mut out);
    assert_eq!(status.propagation_error, None);
    assert_eq!(
        out,
        headers(&[
            ("x-datadog-trace-id", "123456789"),
            ("x-datadog-parent-id", "987654322"),
            ("x-datadog-sampling-priority", "2"),
            ("x-datadog-origin", "synthetics"),
            ("x-datadog-tags", "_dd.p.dm=-4,_dd.p.tid=640cfd8d00000000"),
        ])
    );
}

/// §2.3: tags over the limit are not injected (`inject_max_size`; `disabled` for limit 0),
/// and a 64-bit trace never sends `_dd.p.tid` (even a stale one in the tags).
#[test]
fn datadog_tags_limits_on_injection() {
    let mut tags = TagMap::new();
    tags.insert("_dd.p.a", Str::from("x".repeat(100)));
    tags.insert("_dd.p.tid", Str::from("640cfd8d00000000"));
    let ctx = InjectContext::new(TraceId::from_u128(1), SpanId::new(2).unwrap()).with_tags(&tags);
    for (limit, error) in [
        (50, Some("inject_max_size")),
        (0, Some("disabled")),
        (512, None),
    ] {
        let mut out = HashMap::new();
        let config = PropagationConfig::default()
            .with_styles([Style::Datadog])
            .with_x_datadog_tags_max_length(limit);
        let status = Propagator::new(config).inject(&ctx, &mut out);
        assert_eq!(status.propagation_error, error, "limit {limit}");
        assert_eq!(out.contains_key("x-datadog-tags"), error.is_none());
        if let Some(t) = out.get("x-datadog-tags") {
            assert!(!t.contains("tid"), "{t}");
        }
    }
}

/// §2.3 example: re-injecting extracted tags reproduces them exactly.
#[test]
fn datadog_tags_round_trip_example() {
    let value = "_dd.p.dm=-4,_dd.p.usr.id=baz64==,_dd.p.url=http://localhost";
    let p = Propagator::new(PropagationConfig::default().with_styles([Style::Datadog]));
    let e = p.extract(&headers(&[
        ("x-datadog-trace-id", "1"),
        ("x-datadog-parent-id", "2"),
        ("x-datadog-sampling-priority", "1"),
        ("x-datadog-tags", value),
    ]));
    let c = e.context.unwrap();
    let mut out = HashMap::new();
    p.inject(&c.to_inject_context().unwrap(), &mut out);
    assert_eq!(out["x-datadog-tags"], value);
}

/// §3.1: upper-case names, surrounding whitespace, unknown future versions; a duplicated
/// traceparent is invalid and then tracestate is ignored too.
#[test]
fn traceparent_edge_cases() {
    let e = extract(TC, &[("TraceParent", &format!("\t {TP} \t"))]);
    assert_eq!(priority(&e), Some(1));
    let future = format!("{}-{}", TP.replacen("00-", "cc-", 1), "extra-fields");
    assert!(extract(TC, &[("traceparent", &future)]).context.is_some());
    let bad_future = format!("{}.x", TP.replacen("00-", "cc-", 1));
    assert!(
        extract(TC, &[("traceparent", &bad_future)])
            .context
            .is_none()
    );
    let all_f = "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01";
    let c = extract(TC, &[("traceparent", all_f)]).context.unwrap();
    assert_eq!(c.trace_id.as_u128(), u128::MAX);
    let mut dup = headers(&[("traceparent", TP), ("tracestate", "dd=s:2")]);
    dup.insert("TRACEPARENT".into(), TP.into());
    let p = Propagator::new(PropagationConfig::default().with_styles([Style::TraceContext]));
    assert!(p.extract(&dup).context.is_none());
}

/// §3.2: repeated tracestate headers are joined, members trimmed, other vendors kept in order,
/// `o` and `t.*` values decoded (`~` → `=`), `p` kept verbatim.
#[test]
fn tracestate_members() {
    let mut h = headers(&[
        ("traceparent", TP),
        (
            "tracestate",
            " foo=1 ,dd=s:2;o:syn~x;p:XX!X;t.usr.id:baz64~~",
        ),
    ]);
    h.insert("TraceState".into(), "bar=baz".into());
    let p = Propagator::new(PropagationConfig::default().with_styles([Style::TraceContext]));
    let c = p.extract(&h).context.unwrap();
    assert_eq!(c.origin.as_deref(), Some("syn=x"));
    assert_eq!(c.last_parent_id.as_deref(), Some("XX!X"));
    assert_eq!(c.tags.get("_dd.p.usr.id").map(Str::as_str), Some("baz64=="));
    let ts = c.tracestate.as_deref().unwrap();
    assert!(ts.contains("foo=1") && ts.contains("bar=baz"), "{ts}");
}

/// §3.2 step 5: the reconciliation table and the spec examples.
#[test]
fn tracestate_priority_reconciliation() {
    let tp = |flag: &str| TP.replace("-01", flag);
    let cases: &[(&str, &str, i32, Option<&str>)] = &[
        ("-01", "dd=s:2;t.dm:-4", 2, Some("-4")),
        ("-01", "foo=1,dd=s:-1", 1, Some("-0")),
        ("-01", "dd=t.dm:-4", 1, Some("-0")),
        ("-00", "dd=s:-1;t.dm:-4", -1, Some("-4")),
        ("-00", "dd=s:1;t.dm:-0;t.usr.id:baz64~~", 0, None),
        ("-00", "dd=o:rum", 0, None),
        ("-01", "foo=1", 1, None),
    ];
    for (flag, ts, want, dm) in cases {
        let e = extract(TC, &[("traceparent", &tp(flag)), ("tracestate", ts)]);
        assert_eq!(priority(&e), Some(*want), "{flag} {ts}");
        let c = e.context.unwrap();
        assert_eq!(c.tags.get("_dd.p.dm").map(Str::as_str), *dm, "{flag} {ts}");
    }
    let e = extract(TC, &[("traceparent", &tp("-00"))]);
    assert_eq!(priority(&e), Some(0));
}

/// §4–5: B3 styles, single and multi, with upper-case header names.
#[test]
fn b3_styles() {
    let e = extract(
        &[Style::B3],
        &[("B3", "a3ce929d0e0e4736-00f067aa0ba902b7-1")],
    );
    assert_eq!(e.context.unwrap().trace_id.low(), 0xa3ce_929d_0e0e_4736);
    let e = extract(
        &[Style::B3Multi],
        &[
            ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("X-B3-SpanId", "e457b5a2e4d86bd1"),
            ("X-B3-Flags", "1"),
        ],
    );
    assert_eq!(priority(&e), Some(2));
    assert!(extract(&[Style::B3], &[("b3", "d")]).context.is_none());
}

/// §7 worked examples with styles `datadog,tracecontext`.
#[test]
fn reconciliation_worked_examples() {
    let tp = "00-11111111111111110000000000000001-000000003ade68b1-01";
    let dd = |tid: &str, trace: &str, parent: &str, ts: &str, tp: &str| {
        extract(
            DD_TC,
            &[
                ("traceparent", tp),
                ("tracestate", ts),
                ("x-datadog-trace-id", trace),
                ("x-datadog-parent-id", parent),
                ("x-datadog-sampling-priority", "2"),
                ("x-datadog-tags", &format!("_dd.p.tid={tid}")),
            ],
        )
    };
    // Row 1: same trace, same parent → no _dd.parent_id, no link.
    let e = dd(
        "1111111111111111",
        "1",
        "987654321",
        "dd=s:2;p:000000003ade68b1,foo=1",
        tp,
    );
    let c = e.context.as_ref().unwrap();
    assert_eq!(c.parent_id.map(SpanId::get), Some(987_654_321));
    assert_eq!(c.last_parent_id, None);
    assert!(e.links.is_empty());
    // Row 2: different traces → datadog wins, one terminated_context link to the W3C context.
    let tp2 = "00-11111111111111110000000000000002-000000003ade68b1-01";
    let e = dd(
        "2222222222222222",
        "2",
        "10",
        "dd=s:2;p:000000003ade68b1,foo=1",
        tp2,
    );
    let c = e.context.as_ref().unwrap();
    assert_eq!(c.trace_id, TraceId::from_parts(0x2222_2222_2222_2222, 2));
    assert_eq!(c.parent_id.map(SpanId::get), Some(10));
    let link = &e.links[0];
    assert_eq!(
        link.trace_id.to_string(),
        "11111111111111110000000000000002"
    );
    assert_eq!(link.flags, Some(1));
    assert_eq!(link.tracestate.as_str(), "dd=s:2;p:000000003ade68b1,foo=1");
    assert_eq!(
        link.attributes.get("reason").map(Str::as_str),
        Some("terminated_context")
    );
    assert_eq!(
        link.attributes.get("context_headers").map(Str::as_str),
        Some("tracecontext")
    );
    // Rows 3-5: same trace, different parent → W3C parent, _dd.parent_id from p or the DD parent.
    for (ts, want) in [
        ("dd=s:2;p:000000000000000a", "000000000000000a"),
        ("dd=s:2", "000000000000000a"),
        ("dd=s:2;p:8fffffffffffffff", "8fffffffffffffff"),
    ] {
        let e = dd("1111111111111111", "1", "10", ts, tp);
        let c = e.context.as_ref().unwrap();
        assert_eq!(c.parent_id.map(SpanId::get), Some(987_654_321));
        assert_eq!(c.last_parent_id.as_deref(), Some(want), "{ts}");
    }
}

/// §9.2–9.3: extract-first, restart and ignore; baggage survives restart, not ignore.
#[test]
fn extraction_modes() {
    let h = headers(&[
        ("x-datadog-trace-id", "abc"),
        ("traceparent", TP),
        ("tracestate", "dd=s:1"),
        ("baggage", "k=v"),
    ]);
    let base = PropagationConfig::default();
    let first = Propagator::new(base.clone().with_extract_first(true)).extract(&h);
    assert_eq!(first.context.unwrap().style, Style::TraceContext);
    assert_eq!(first.baggage.get("k"), Some("v"));

    let restart =
        Propagator::new(base.clone().with_extract_behavior(ExtractBehavior::Restart)).extract(&h);
    assert!(restart.context.is_none());
    assert_eq!(restart.links.len(), 1);
    let link = &restart.links[0];
    assert_eq!(
        link.attributes.get("reason").map(Str::as_str),
        Some("propagation_behavior_extract")
    );
    assert_eq!(
        link.attributes.get("context_headers").map(Str::as_str),
        Some("tracecontext")
    );
    assert_eq!(link.tracestate.as_str(), "dd=s:1");
    assert_eq!(restart.baggage.get("k"), Some("v"));

    let ignore = Propagator::new(base.with_extract_behavior(ExtractBehavior::Ignore)).extract(&h);
    assert!(ignore.is_empty());
}

/// §8: baggage alone, without a trace context; `none` extracts nothing.
#[test]
fn baggage_only_and_none() {
    let e = extract(&[Style::Baggage], &[("BAGGAGE", "user.id=doggo")]);
    assert!(e.context.is_none());
    assert_eq!(e.baggage.get("user.id"), Some("doggo"));
    let none = Propagator::new(PropagationConfig::from_lookup(|n| {
        (n == "DD_TRACE_PROPAGATION_STYLE").then(|| "none".to_owned())
    }));
    assert!(
        none.extract(&headers(&[("baggage", "a=b"), ("traceparent", TP)]))
            .is_empty()
    );
    let mut out = HashMap::new();
    let ctx = InjectContext::new(TraceId::from_u128(1), SpanId::new(1).unwrap());
    none.inject(&ctx, &mut out);
    assert!(out.is_empty());
}

/// §7 "context leaks": extraction keeps no state between calls.
#[test]
fn no_state_leaks_between_extractions() {
    let p = Propagator::new(PropagationConfig::default());
    let first = p.extract(&headers(&[
        ("x-datadog-trace-id", "1"),
        ("x-datadog-parent-id", "2"),
        ("x-datadog-tags", "_dd.p.tid=640cfd8d00000000,_dd.p.dm=-4"),
    ]));
    assert_eq!(
        first.context.unwrap().trace_id.high(),
        0x640c_fd8d_0000_0000
    );
    let second = p.extract(&headers(&[
        ("x-datadog-trace-id", "1"),
        ("x-datadog-parent-id", "2"),
    ]));
    let c = second.context.unwrap();
    assert_eq!(c.trace_id.high(), 0);
    assert!(c.tags.is_empty());
}

/// §10: `fields()` lists every header of the injection styles.
#[test]
fn fields_of_injection_styles() {
    let p = Propagator::new(PropagationConfig::default());
    assert_eq!(
        p.fields(),
        [
            "x-datadog-trace-id",
            "x-datadog-parent-id",
            "x-datadog-sampling-priority",
            "x-datadog-origin",
            "x-datadog-tags",
            "traceparent",
            "tracestate",
            "baggage"
        ]
    );
}
