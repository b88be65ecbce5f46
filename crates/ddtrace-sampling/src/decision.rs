//! [`SamplingDecision`]: the outcome of sampling and the tags that record it.

use ddtrace_model::{SamplingPriority, Span, Str, TraceChunk, tags};

use crate::TagValue;

/// The `_dd.p.dm` (decision maker) values this crate produces (`sampling.md` §1).
///
/// The leading `-` is a separator, not a sign.
///
/// ```
/// use ddtrace_sampling::{decision_maker, SamplingDecision};
///
/// assert_eq!(SamplingDecision::manual_keep().decision_maker, decision_maker::MANUAL);
/// assert_eq!(decision_maker::DEFAULT, "-0");
/// ```
pub mod decision_maker {
    /// Default mechanism: no agent rates yet (priority 1).
    pub const DEFAULT: &str = "-0";
    /// Agent rate by service (`rate_by_service`).
    pub const AGENT_RATE: &str = "-1";
    /// Local trace sampling rule or `DD_TRACE_SAMPLE_RATE`.
    pub const RULE: &str = "-3";
    /// Manual decision (`manual.keep`, `manual.drop`, `sampling.priority`, API).
    pub const MANUAL: &str = "-4";
    /// Remote user rule (provenance `customer`).
    pub const REMOTE_USER_RULE: &str = "-11";
    /// Remote dynamic rule (provenance `dynamic`).
    pub const REMOTE_DYNAMIC_RULE: &str = "-12";
}

/// The mechanism that took a [`SamplingDecision`].
///
/// ```
/// use ddtrace_model::TraceId;
/// use ddtrace_sampling::{Mechanism, RootSpanInfo, Sampler, SamplingConfig};
///
/// let sampler = Sampler::new(&SamplingConfig::default());
/// let root = RootSpanInfo::new(TraceId::from_u128(1), "svc", "op");
/// assert_eq!(sampler.sample_root(&root).mechanism, Mechanism::Default);
/// sampler.update_agent_rates([("service:svc,env:", 1.0)]);
/// assert_eq!(sampler.sample_root(&root).mechanism, Mechanism::AgentRate);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mechanism {
    /// No rule matched and no agent rate applies: keep (priority 1, dm `-0`).
    Default,
    /// The agent's rate for the service and env (priority 1 / 0, dm `-1`).
    AgentRate,
    /// A trace sampling rule or `DD_TRACE_SAMPLE_RATE`, then the rate limiter
    /// (priority 2 / −1, dm `-3`, `-11` or `-12`).
    Rule,
    /// A manual decision (priority as given, usually 2 / −1, dm `-4`).
    Manual,
}

/// A trace's sampling decision with what must be recorded about it.
///
/// Where each piece goes (`sampling.md` §9):
///
/// | Field | Tag | Where |
/// |-------|-----|-------|
/// | `priority` | metric `_sampling_priority_v1`, chunk priority | local root, chunk |
/// | `decision_maker` | meta `_dd.p.dm` (propagated) | chunk tags |
/// | `knuth_rate` | meta `_dd.p.ksr` (propagated) | chunk tags |
/// | `rule_rate` | metric `_dd.rule_psr` | local root |
/// | `limit_rate` | metric `_dd.limit_psr` | local root |
/// | `agent_rate` | metric `_dd.agent_psr` | local root |
///
/// [`apply_to_root`](Self::apply_to_root) and [`apply_to_chunk`](Self::apply_to_chunk) write
/// them.
///
/// ```
/// use ddtrace_model::SamplingPriority;
/// use ddtrace_sampling::{Mechanism, SamplingDecision};
///
/// let keep = SamplingDecision::manual_keep();
/// assert_eq!(keep.priority, SamplingPriority::USER_KEEP);
/// assert_eq!(keep.decision_maker, "-4");
/// assert_eq!(keep.mechanism, Mechanism::Manual);
/// assert!(keep.is_keep());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SamplingDecision {
    /// The priority.
    pub priority: SamplingPriority,
    /// The mechanism.
    pub mechanism: Mechanism,
    /// The `_dd.p.dm` value.
    pub decision_maker: &'static str,
    /// The matched rule's rate (`_dd.rule_psr`).
    pub rule_rate: Option<f64>,
    /// The limiter's effective rate when it was consulted (`_dd.limit_psr`).
    pub limit_rate: Option<f64>,
    /// The agent rate used (`_dd.agent_psr`).
    pub agent_rate: Option<f64>,
    /// The formatted rate for `_dd.p.ksr` (rule and agent-rate decisions).
    pub knuth_rate: Option<Str>,
}

impl SamplingDecision {
    /// The default decision: keep with priority 1, dm `-0`, nothing else.
    pub const fn default_keep() -> Self {
        SamplingDecision {
            priority: SamplingPriority::AUTO_KEEP,
            mechanism: Mechanism::Default,
            decision_maker: decision_maker::DEFAULT,
            rule_rate: None,
            limit_rate: None,
            agent_rate: None,
            knuth_rate: None,
        }
    }

    /// A manual decision with this priority (dm `-4`, no rates).
    pub const fn manual(priority: SamplingPriority) -> Self {
        SamplingDecision {
            priority,
            mechanism: Mechanism::Manual,
            decision_maker: decision_maker::MANUAL,
            rule_rate: None,
            limit_rate: None,
            agent_rate: None,
            knuth_rate: None,
        }
    }

    /// Manual keep: priority 2, dm `-4`.
    pub const fn manual_keep() -> Self {
        SamplingDecision::manual(SamplingPriority::USER_KEEP)
    }

    /// Manual drop: priority −1, dm `-4`.
    pub const fn manual_drop() -> Self {
        SamplingDecision::manual(SamplingPriority::USER_REJECT)
    }

    /// The manual decision a tag asks for, if `key` is a manual sampling key
    /// (`sampling.md` §7):
    ///
    /// * `manual.keep` (any value) → keep, `manual.drop` (any value) → drop;
    /// * `sampling.priority` = an integer (number, or text such as `"2"`) → that priority as
    ///   given; any other value is logged and ignored.
    ///
    /// Callers consume these keys: they are not stored as tags.
    ///
    /// ```
    /// use ddtrace_model::SamplingPriority;
    /// use ddtrace_sampling::{SamplingDecision, TagValue};
    ///
    /// let d = SamplingDecision::from_manual_tag("sampling.priority", TagValue::Number(-1.0));
    /// assert_eq!(d.map(|d| d.priority), Some(SamplingPriority::USER_REJECT));
    /// assert!(SamplingDecision::from_manual_tag("manual.drop", TagValue::Str("")).is_some());
    /// assert!(SamplingDecision::from_manual_tag("http.method", TagValue::Str("GET")).is_none());
    /// ```
    pub fn from_manual_tag(key: &str, value: TagValue<'_>) -> Option<Self> {
        match key {
            tags::MANUAL_KEEP => Some(SamplingDecision::manual_keep()),
            tags::MANUAL_DROP => Some(SamplingDecision::manual_drop()),
            tags::MANUAL_SAMPLING_PRIORITY => {
                let number = match value {
                    TagValue::Number(n) => Some(n),
                    TagValue::Str(s) => s.trim().parse::<f64>().ok(),
                };
                match number {
                    Some(n) if n.fract() == 0.0 && n >= i32::MIN as f64 && n <= i32::MAX as f64 => {
                        Some(SamplingDecision::manual(SamplingPriority::new(n as i32)))
                    }
                    _ => {
                        log::warn!("sampling.priority tag {value:?} is not an integer; ignored");
                        None
                    }
                }
            }
            _ => None,
        }
    }

    /// Whether `key` is one of the manual sampling keys (`manual.keep`, `manual.drop`,
    /// `sampling.priority`).
    pub fn is_manual_key(key: &str) -> bool {
        matches!(
            key,
            tags::MANUAL_KEEP | tags::MANUAL_DROP | tags::MANUAL_SAMPLING_PRIORITY
        )
    }

    /// Whether the trace is kept (priority > 0).
    pub const fn is_keep(&self) -> bool {
        self.priority.is_keep()
    }

    /// Writes the local root's metrics: `_sampling_priority_v1`, and `_dd.rule_psr`,
    /// `_dd.limit_psr`, `_dd.agent_psr` when the decision has them. Rate metrics already on
    /// the span are left as they are (a manual decision taken after an earlier one keeps
    /// them, `sampling.md` §7). Call it once, with the final decision.
    ///
    /// ```
    /// use ddtrace_model::{Span, SpanId, TraceId};
    /// use ddtrace_sampling::SamplingDecision;
    ///
    /// let mut root = Span::new(TraceId::from_u128(1), SpanId::new(1).unwrap(), "op");
    /// SamplingDecision::manual_drop().apply_to_root(&mut root);
    /// assert_eq!(root.metrics.get("_sampling_priority_v1"), Some(&-1.0));
    /// ```
    pub fn apply_to_root(&self, span: &mut Span) {
        span.set_metric(tags::SAMPLING_PRIORITY, f64::from(self.priority.get()));
        if let Some(rate) = self.rule_rate {
            span.set_metric(tags::RULE_PSR, rate);
        }
        if let Some(rate) = self.limit_rate {
            span.set_metric(tags::LIMIT_PSR, rate);
        }
        if let Some(rate) = self.agent_rate {
            span.set_metric(tags::AGENT_PSR, rate);
        }
    }

    /// Writes the chunk's priority and propagated tags: `_dd.p.dm`, and `_dd.p.ksr` when the
    /// decision has a rate (otherwise an earlier `_dd.p.ksr` is removed: a manual override
    /// drops it, `sampling.md` §7).
    ///
    /// ```
    /// use ddtrace_model::{SamplingPriority, TraceChunk};
    /// use ddtrace_sampling::SamplingDecision;
    ///
    /// let mut chunk = TraceChunk::new(Vec::new());
    /// SamplingDecision::manual_keep().apply_to_chunk(&mut chunk);
    /// assert_eq!(chunk.priority, Some(SamplingPriority::USER_KEEP));
    /// assert_eq!(chunk.tags.get("_dd.p.dm").map(|v| v.as_str()), Some("-4"));
    /// ```
    pub fn apply_to_chunk(&self, chunk: &mut TraceChunk) {
        chunk.priority = Some(self.priority);
        chunk
            .tags
            .insert(tags::DECISION_MAKER, Str::from_static(self.decision_maker));
        match &self.knuth_rate {
            Some(ksr) => {
                chunk.tags.insert(tags::KNUTH_SAMPLING_RATE, ksr.clone());
            }
            None => {
                chunk.tags.remove(tags::KNUTH_SAMPLING_RATE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddtrace_model::{SpanId, TraceId};

    #[test]
    fn manual_tags() {
        let p = |key: &str, value: TagValue<'_>| {
            SamplingDecision::from_manual_tag(key, value)
                .map(|d| (d.priority.get(), d.decision_maker))
        };
        assert_eq!(p("manual.keep", TagValue::Str("false")), Some((2, "-4")));
        assert_eq!(p("manual.drop", TagValue::Number(0.0)), Some((-1, "-4")));
        assert_eq!(
            p("sampling.priority", TagValue::Number(2.0)),
            Some((2, "-4"))
        );
        assert_eq!(
            p("sampling.priority", TagValue::Str(" -1 ")),
            Some((-1, "-4"))
        );
        assert_eq!(p("sampling.priority", TagValue::Str("5")), Some((5, "-4")));
        assert_eq!(p("sampling.priority", TagValue::Number(0.5)), None);
        assert_eq!(p("sampling.priority", TagValue::Str("keep")), None);
        assert_eq!(p("sampling.priority", TagValue::Number(1e12)), None);
        assert_eq!(p("sampling.priority", TagValue::Number(f64::NAN)), None);
        assert_eq!(p("other", TagValue::Str("1")), None);
        assert!(SamplingDecision::is_manual_key("manual.keep"));
        assert!(SamplingDecision::is_manual_key("sampling.priority"));
        assert!(!SamplingDecision::is_manual_key("manual"));
    }

    #[test]
    fn apply_writes_root_metrics_and_chunk_tags() {
        let decision = SamplingDecision {
            priority: SamplingPriority::USER_KEEP,
            mechanism: Mechanism::Rule,
            decision_maker: decision_maker::RULE,
            rule_rate: Some(0.5),
            limit_rate: Some(1.0),
            agent_rate: None,
            knuth_rate: Some(Str::from_static("0.5")),
        };
        let mut root = Span::new(TraceId::from_u128(1), SpanId::new(1).unwrap(), "op");
        decision.apply_to_root(&mut root);
        assert_eq!(root.metrics.get(tags::SAMPLING_PRIORITY), Some(&2.0));
        assert_eq!(root.metrics.get(tags::RULE_PSR), Some(&0.5));
        assert_eq!(root.metrics.get(tags::LIMIT_PSR), Some(&1.0));
        assert_eq!(root.metrics.get(tags::AGENT_PSR), None);
        assert!(root.meta.is_empty());

        let mut chunk = TraceChunk::new(vec![root]);
        decision.apply_to_chunk(&mut chunk);
        assert_eq!(chunk.priority, Some(SamplingPriority::USER_KEEP));
        assert_eq!(
            chunk.tags.get(tags::DECISION_MAKER).map(Str::as_str),
            Some("-3")
        );
        assert_eq!(
            chunk.tags.get(tags::KNUTH_SAMPLING_RATE).map(Str::as_str),
            Some("0.5")
        );

        // A later manual override keeps the root's rate metrics but drops the ksr.
        let manual = SamplingDecision::manual_drop();
        manual.apply_to_root(&mut chunk.spans[0]);
        manual.apply_to_chunk(&mut chunk);
        assert_eq!(
            chunk.spans[0].metrics.get(tags::SAMPLING_PRIORITY),
            Some(&-1.0)
        );
        assert_eq!(chunk.spans[0].metrics.get(tags::RULE_PSR), Some(&0.5));
        assert_eq!(
            chunk.tags.get(tags::DECISION_MAKER).map(Str::as_str),
            Some("-4")
        );
        assert_eq!(chunk.tags.get(tags::KNUTH_SAMPLING_RATE), None);
        assert!(!manual.is_keep());
        assert_eq!(SamplingDecision::default_keep().decision_maker, "-0");
    }
}
