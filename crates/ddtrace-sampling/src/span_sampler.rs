//! Single-span sampling (`sampling.md` §8).

use std::sync::Arc;

use ddtrace_model::{Span, TraceChunk, tags};

use crate::{Clock, MonotonicClock, RateLimiter, SpanSamplingRule, knuth_sample};

/// The `_dd.span_sampling.mechanism` value.
pub const SPAN_SAMPLING_MECHANISM: f64 = 8.0;

/// Keeps chosen spans of traces the trace sampler dropped (`DD_SPAN_SAMPLING_RULES`).
///
/// For each span of a chunk whose priority is ≤ 0, the first rule matching the span's service
/// and operation name decides: the span is kept iff the Knuth hash of its **span id** passes
/// the rule's rate and the rule's own limiter (`max_per_second`) lets it through. Kept spans
/// get the metrics `_dd.span_sampling.mechanism = 8`, `_dd.span_sampling.rule_rate` and, when
/// the rule has a limit, `_dd.span_sampling.max_per_second`. Chunks that are kept, or that
/// have no priority, are left alone.
///
/// ```
/// use ddtrace_model::{SamplingPriority, Span, SpanId, TraceChunk, TraceId};
/// use ddtrace_sampling::{SpanSampler, SpanSamplingRule};
///
/// let sampler = SpanSampler::new(vec![SpanSamplingRule::new(1.0).with_name("db.*")]);
/// let mut db = Span::new(TraceId::from_u128(1), SpanId::new(2).unwrap(), "db.query");
/// db.service = "db".into();
/// let mut chunk = TraceChunk::new(vec![db]);
/// chunk.priority = Some(SamplingPriority::USER_REJECT);
/// assert_eq!(sampler.sample_chunk(&mut chunk), 1);
/// assert_eq!(chunk.spans[0].metrics.get("_dd.span_sampling.mechanism"), Some(&8.0));
/// ```
#[derive(Debug)]
pub struct SpanSampler {
    rules: Box<[RuleState]>,
}

#[derive(Debug)]
struct RuleState {
    rule: SpanSamplingRule,
    limiter: Option<RateLimiter>,
}

impl SpanSampler {
    /// A sampler with these rules, on the process's monotonic clock.
    pub fn new(rules: Vec<SpanSamplingRule>) -> Self {
        SpanSampler::with_clock(rules, Arc::new(MonotonicClock::new()))
    }

    /// A sampler whose per-rule limiters run on `clock`.
    pub fn with_clock(rules: Vec<SpanSamplingRule>, clock: Arc<dyn Clock>) -> Self {
        let rules = rules
            .into_iter()
            .map(|rule| RuleState {
                limiter: rule
                    .max_per_second()
                    .map(|limit| RateLimiter::with_clock(limit, Arc::clone(&clock))),
                rule,
            })
            .collect();
        SpanSampler { rules }
    }

    /// Whether there are no rules (then sampling chunks does nothing).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in order.
    pub fn rules(&self) -> impl ExactSizeIterator<Item = &SpanSamplingRule> + '_ {
        self.rules.iter().map(|r| &r.rule)
    }

    /// Applies the rules to every span of a dropped chunk (priority ≤ 0); returns how many
    /// spans were kept.
    pub fn sample_chunk(&self, chunk: &mut TraceChunk) -> usize {
        if self.rules.is_empty() {
            return 0;
        }
        match chunk.priority {
            Some(priority) if !priority.is_keep() => {}
            _ => return 0,
        }
        chunk
            .spans
            .iter_mut()
            .map(|span| usize::from(self.sample_span(span)))
            .sum()
    }

    /// Applies the rules to one span (whatever its trace's priority); returns whether it was
    /// kept (and tagged).
    pub fn sample_span(&self, span: &mut Span) -> bool {
        let Some(state) = self
            .rules
            .iter()
            .find(|r| r.rule.matches(&span.service, &span.name))
        else {
            return false;
        };
        let rule = &state.rule;
        if !knuth_sample(span.span_id.get(), rule.sample_rate()) {
            return false;
        }
        if let Some(limiter) = &state.limiter {
            if !limiter.is_allowed() {
                return false;
            }
        }
        span.set_metric(tags::SPAN_SAMPLING_MECHANISM, SPAN_SAMPLING_MECHANISM);
        span.set_metric(tags::SPAN_SAMPLING_RULE_RATE, rule.sample_rate());
        if let Some(limit) = rule.max_per_second() {
            span.set_metric(tags::SPAN_SAMPLING_MAX_PER_SECOND, limit);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ManualClock, knuth_hash};
    use ddtrace_model::{SamplingPriority, SpanId, TraceId};
    use std::time::Duration;

    fn span(id: u64, service: &'static str, name: &'static str) -> Span {
        let mut s = Span::new(TraceId::from_u128(1), SpanId::new(id).unwrap(), name);
        s.service = service.into();
        s
    }

    fn chunk(priority: Option<SamplingPriority>, spans: Vec<Span>) -> TraceChunk {
        let mut c = TraceChunk::new(spans);
        c.priority = priority;
        c
    }

    #[test]
    fn only_dropped_chunks_are_sampled() {
        let s = SpanSampler::new(vec![SpanSamplingRule::new(1.0).with_service("web")]);
        for (priority, kept) in [
            (Some(SamplingPriority::USER_REJECT), 1),
            (Some(SamplingPriority::AUTO_REJECT), 1),
            (Some(SamplingPriority::AUTO_KEEP), 0),
            (Some(SamplingPriority::USER_KEEP), 0),
            (None, 0),
        ] {
            let mut c = chunk(priority, vec![span(1, "web", "r")]);
            assert_eq!(s.sample_chunk(&mut c), kept, "{priority:?}");
            assert_eq!(c.spans[0].metrics.len(), 2 * kept); // mechanism + rule rate
            assert_eq!(
                c.spans[0].metrics.get(tags::SPAN_SAMPLING_MAX_PER_SECOND),
                None
            );
        }
        assert!(SpanSampler::new(Vec::new()).is_empty());
    }

    #[test]
    fn first_matching_rule_decides_even_when_it_rejects() {
        let s = SpanSampler::new(vec![
            SpanSamplingRule::new(0.0).with_name("web.*"),
            SpanSamplingRule::new(1.0).with_service("webserver"),
        ]);
        assert_eq!(s.rules().len(), 2);
        let mut c = chunk(
            Some(SamplingPriority::USER_REJECT),
            vec![
                span(1, "webserver", "web.request"),
                span(2, "webserver", "db.query"),
            ],
        );
        assert_eq!(s.sample_chunk(&mut c), 1);
        assert!(c.spans[0].metrics.is_empty());
        assert_eq!(
            c.spans[1].metrics.get(tags::SPAN_SAMPLING_RULE_RATE),
            Some(&1.0)
        );
    }

    #[test]
    fn rate_uses_the_span_id_hash() {
        let s = SpanSampler::new(vec![SpanSamplingRule::new(0.5).with_name("*")]);
        // hash(1)/max ≈ 0.06 kept, hash(10)/max ≈ 0.60 dropped (the trace id plays no part).
        assert!(knuth_hash(1) < u64::MAX / 2 && knuth_hash(10) > u64::MAX / 2);
        assert!(s.sample_span(&mut span(1, "a", "b")));
        assert!(!s.sample_span(&mut span(10, "a", "b")));
    }

    #[test]
    fn per_rule_limiters_are_independent() {
        let clock = ManualClock::new();
        let s = SpanSampler::with_clock(
            vec![
                SpanSamplingRule::new(1.0)
                    .with_name("item")
                    .with_max_per_second(1.0),
                SpanSamplingRule::new(1.0)
                    .with_name("other")
                    .with_max_per_second(2.0),
            ],
            Arc::new(clock.clone()),
        );
        let mut c = chunk(
            Some(SamplingPriority::AUTO_REJECT),
            (1..=6)
                .map(|i| span(i, "svc", if i % 2 == 0 { "item" } else { "other" }))
                .collect(),
        );
        assert_eq!(s.sample_chunk(&mut c), 3); // 1 item + 2 other
        let limits: Vec<Option<f64>> = c
            .spans
            .iter()
            .map(|s| s.metrics.get(tags::SPAN_SAMPLING_MAX_PER_SECOND).copied())
            .collect();
        assert_eq!(limits, [Some(2.0), Some(1.0), Some(2.0), None, None, None]);
        clock.advance(Duration::from_secs(1));
        let mut again = chunk(
            Some(SamplingPriority::AUTO_REJECT),
            vec![span(8, "svc", "item")],
        );
        assert_eq!(s.sample_chunk(&mut again), 1);
    }
}
