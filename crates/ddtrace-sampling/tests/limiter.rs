//! The trace rate limiter under a fake clock, driven through the sampler.

use std::sync::Arc;
use std::time::Duration;

use ddtrace_model::TraceId;
use ddtrace_sampling::{ManualClock, RootSpanInfo, Sampler, SamplingConfig, TraceSamplingRule};

fn sampler(limit: i64, rate: f64) -> (Sampler, ManualClock) {
    let mut config = SamplingConfig::default();
    config.set_trace_rules(vec![TraceSamplingRule::new(rate)]);
    config.set_rate_limit(limit);
    let clock = ManualClock::new();
    (Sampler::with_clock(&config, Arc::new(clock.clone())), clock)
}

fn keep(s: &Sampler, id: u64) -> (bool, Option<f64>) {
    let d = s.sample_root(&RootSpanInfo::new(
        TraceId::from_u128(id.into()),
        "svc",
        "op",
    ));
    (d.is_keep(), d.limit_rate)
}

#[test]
fn burst_is_cut_at_the_limit_and_refills_per_second() {
    let (s, clock) = sampler(10, 1.0);
    let admitted = (0..25).filter(|i| keep(&s, *i).0).count();
    assert_eq!(admitted, 10);
    // Reported on the 26th trace: 10 of 26 in the first window.
    assert_eq!(keep(&s, 99), (false, Some(10.0 / 26.0)));
    clock.advance(Duration::from_millis(500));
    let admitted = (0..25).filter(|i| keep(&s, *i).0).count();
    assert_eq!(admitted, 5);
    clock.advance(Duration::from_millis(500));
    // New window: the previous one let 15 of 51 through.
    assert_eq!(keep(&s, 1), (true, Some((1.0 + 15.0 / 51.0) / 2.0)));
}

#[test]
fn steady_rate_over_ten_seconds() {
    // 50 traces per second against a limit of 20: 20 (initial burst) + 20 per second after.
    let (s, clock) = sampler(20, 1.0);
    let mut admitted = 0;
    for i in 0..500 {
        admitted += usize::from(keep(&s, i).0);
        clock.advance(Duration::from_millis(20));
    }
    // Tokens refilled over 9.98 s: 199.6 → 199 whole ones.
    assert_eq!(admitted, 20 + 199);
}

#[test]
fn rule_drops_never_take_tokens() {
    // Rate 0.5: only ids whose hash passes reach the limiter.
    let (s, _) = sampler(1, 0.5);
    assert_eq!(keep(&s, 10), (false, None)); // dropped by the rule
    assert_eq!(keep(&s, 1), (true, Some(1.0))); // first token
    assert_eq!(keep(&s, 1), (false, Some(0.5)));
}

#[test]
fn zero_and_negative_limits() {
    let (s, _) = sampler(0, 1.0);
    assert_eq!(keep(&s, 1), (false, Some(0.0)));
    let (s, _) = sampler(-1, 1.0);
    assert!((0..1000).all(|i| keep(&s, i) == (true, Some(1.0))));
}
