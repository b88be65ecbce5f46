//! Property tests: Knuth sampling is a pure function of (trace id, rate) with the right
//! proportions; globs agree with a simple reference matcher; configuration never panics.

use std::sync::Arc;

use ddtrace_model::TraceId;
use ddtrace_sampling::{
    Glob, ManualClock, RootSpanInfo, Sampler, SamplingConfig, SpanSamplingRule, TraceSamplingRule,
    knuth_hash, knuth_sample,
};
use proptest::prelude::*;

/// The spec formula written out independently with 128-bit integers:
/// keep iff rate ≥ 1, or rate > 0 and hash ≤ ⌊rate × (2^64 − 1)⌋.
fn reference_keep(id: u64, rate: f64) -> bool {
    let hash = (u128::from(id) * 1_111_111_111_111_111_111_u128) % (1_u128 << 64);
    rate >= 1.0 || (rate > 0.0 && hash <= (rate * 18_446_744_073_709_551_615.0) as u128)
}

fn rule_sampler(rate: f64) -> Sampler {
    let mut config = SamplingConfig::default();
    config.set_trace_rules(vec![TraceSamplingRule::new(rate)]);
    config.set_rate_limit(-1);
    Sampler::with_clock(&config, Arc::new(ManualClock::new()))
}

proptest! {
    #[test]
    fn decision_is_a_pure_function_of_trace_id_and_rate(
        high in any::<u64>(),
        low in any::<u64>(),
        rate in 0.0..=1.0_f64,
        service in "[a-z]{1,8}",
        name in "[a-z.]{1,8}",
    ) {
        let expected = reference_keep(low, rate);
        prop_assert_eq!(knuth_sample(low, rate), expected);
        prop_assert_eq!(knuth_sample(low, rate), knuth_sample(low, rate));
        // Through the sampler: neither the high half nor the span's names change it.
        let sampler = rule_sampler(rate);
        let a = sampler.sample_root(&RootSpanInfo::new(TraceId::from_parts(high, low), &service, &name));
        let b = sampler.sample_root(&RootSpanInfo::new(TraceId::from_parts(0, low), "other", "op"));
        prop_assert_eq!(a.is_keep(), expected);
        prop_assert_eq!(b.is_keep(), expected);
        // Monotonic in the rate.
        if expected {
            prop_assert!(knuth_sample(low, (rate + 0.1).min(1.0)));
        }
    }

    #[test]
    fn hash_matches_the_formula(id in any::<u64>()) {
        prop_assert_eq!(
            u128::from(knuth_hash(id)),
            (u128::from(id) * 1_111_111_111_111_111_111_u128) % (1_u128 << 64)
        );
    }
}

/// SplitMix64: a fixed-seed id generator, so the proportions test is reproducible.
fn ids(seed: u64) -> impl Iterator<Item = u64> {
    let mut state = seed;
    std::iter::repeat_with(move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

#[test]
fn a_rate_keeps_that_share_of_100_000_random_ids() {
    for (seed, rate) in [
        (1, 0.01),
        (2, 0.1),
        (3, 0.25),
        (4, 0.5),
        (5, 0.75),
        (6, 0.9),
        (7, 0.99),
    ] {
        let kept = ids(seed)
            .take(100_000)
            .filter(|id| knuth_sample(*id, rate))
            .count();
        let share = kept as f64 / 100_000.0;
        assert!((share - rate).abs() <= 0.01, "rate {rate}: kept {share}");
    }
    assert_eq!(
        ids(8)
            .take(100_000)
            .filter(|id| knuth_sample(*id, 0.0))
            .count(),
        0
    );
    assert_eq!(
        ids(9)
            .take(100_000)
            .filter(|id| knuth_sample(*id, 1.0))
            .count(),
        100_000
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn any_rate_keeps_its_share_of_100_000_ids(seed in any::<u64>(), rate in 0.0..=1.0_f64) {
        let kept = ids(seed).take(100_000).filter(|id| knuth_sample(*id, rate)).count();
        let share = kept as f64 / 100_000.0;
        prop_assert!((share - rate).abs() <= 0.01, "rate {}: kept {}", rate, share);
    }
}

/// The reference matcher: the glob definition read literally, by recursion on characters.
fn reference_glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|i| reference_glob(rest, &text[i..])),
        Some(('?', rest)) => !text.is_empty() && reference_glob(rest, &text[1..]),
        Some((c, rest)) => {
            text.first().is_some_and(|t| t.eq_ignore_ascii_case(c))
                && reference_glob(rest, &text[1..])
        }
    }
}

proptest! {
    #[test]
    fn glob_agrees_with_the_reference_matcher(
        pattern in "[aAbé.*?\\[]{0,8}",
        text in "[aAbBé.\\[]{0,10}",
    ) {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        prop_assert_eq!(Glob::new(&pattern).matches(&text), reference_glob(&p, &t), "{:?} vs {:?}", pattern, text);
    }

    #[test]
    fn glob_matches_itself_without_wildcards(text in "\\PC{0,12}") {
        let literal: String = text.chars().filter(|c| *c != '*' && *c != '?').collect();
        prop_assert!(Glob::new(&literal).matches(&literal.to_ascii_uppercase()));
    }

    #[test]
    fn configuration_never_panics(
        rules in "\\PC{0,40}",
        rate in "\\PC{0,6}",
        limit in "\\PC{0,6}",
        span_rules in "\\PC{0,40}",
        otel in "(always_on|traceidratio|parentbased_traceidratio|\\PC{0,8})",
    ) {
        let config = SamplingConfig::from_lookup(|k| match k {
            "DD_TRACE_SAMPLING_RULES" => Some(rules.clone()),
            "DD_TRACE_SAMPLE_RATE" => Some(rate.clone()),
            "DD_TRACE_RATE_LIMIT" => Some(limit.clone()),
            "DD_SPAN_SAMPLING_RULES" => Some(span_rules.clone()),
            "OTEL_TRACES_SAMPLER" => Some(otel.clone()),
            "OTEL_TRACES_SAMPLER_ARG" => Some(rate.clone()),
            _ => None,
        });
        let sampler = Sampler::new(&config);
        let _ = sampler.sample_root(&RootSpanInfo::new(TraceId::from_u128(1), "svc", "op"));
        for rule in config.effective_trace_rules() {
            prop_assert!((0.0..=1.0).contains(&rule.sample_rate()));
        }
    }

    #[test]
    fn rule_json_never_panics(
        service in proptest::option::of("[a-z*?]{0,5}"),
        rate in proptest::option::of(-2.0..2.0_f64),
        tag in proptest::option::of("[a-z0-9*?]{0,4}"),
        max in proptest::option::of(-5.0..50.0_f64),
    ) {
        let mut fields = Vec::new();
        if let Some(s) = &service { fields.push(format!("\"service\":{s:?}")); }
        if let Some(r) = rate { fields.push(format!("\"sample_rate\":{r}")); }
        if let Some(t) = &tag { fields.push(format!("\"tags\":{{\"k\":{t:?}}}")); }
        if let Some(m) = max { fields.push(format!("\"max_per_second\":{m}")); }
        let json = format!("[{{{}}}]", fields.join(","));
        let (trace_rules, _) = TraceSamplingRule::parse_json(&json);
        prop_assert_eq!(trace_rules.len(), usize::from(rate.is_some()));
        let (span_rules, _) = SpanSamplingRule::parse_json(&json);
        prop_assert_eq!(span_rules.len(), usize::from(service.is_some()));
        for r in &trace_rules {
            prop_assert!((0.0..=1.0).contains(&r.sample_rate()));
        }
    }
}
