//! Datadog priority sampling: which traces are kept, and the tags that say how it was
//! decided, exactly as the Datadog tracers and the agent expect.
//!
//! Use the `ddtrace` crate unless you embed one piece of it: the OpenTelemetry bridge calls
//! this crate for you. It has no I/O (except reading the file named by
//! `DD_SPAN_SAMPLING_RULES_FILE`) and no OpenTelemetry dependency.
//!
//! # How a trace is decided
//!
//! The decision is taken once per trace, at its **local root**, by [`Sampler::sample_root`];
//! child spans and traces that arrive with a priority from upstream are never sampled
//! again. Mechanisms, by precedence:
//!
//! | # | Mechanism | Priority kept / dropped | `_dd.p.dm` | Recorded |
//! |---|-----------|-------------------------|-----------|----------|
//! | 1 | manual: `manual.keep`, `manual.drop`, `sampling.priority`, API | 2 / −1 (or as given) | `-4` | — |
//! | 2 | first matching trace rule (`DD_TRACE_SAMPLING_RULES`, then `DD_TRACE_SAMPLE_RATE`) + rate limiter | 2 / −1 | `-3` (`-11`, `-12` by provenance) | `_dd.rule_psr`, `_dd.limit_psr`, `_dd.p.ksr` |
//! | 3 | agent rate for (service, env), else the agent's `service:,env:` rate | 1 / 0 | `-1` | `_dd.agent_psr`, `_dd.p.ksr` |
//! | 4 | default (no agent rates yet) | 1 | `-0` | — |
//!
//! * **Priorities**: [`SamplingPriority`](ddtrace_model::SamplingPriority)'s four values;
//!   rules and manual decisions give `USER_*`, agent rates and the default give `AUTO_*`.
//! * **Knuth sampling** ([`knuth_sample`]): keep iff
//!   `(trace_id_low64 × 1111111111111111111 mod 2^64) <= rate × (2^64 − 1)`; the same formula
//!   in every tracer and in the agent, so they all agree on a trace.
//! * **Rules** ([`TraceSamplingRule`]): globs ([`Glob`]: `*` and `?`, ASCII case ignored) on
//!   service, operation name, resource and tag values; the first matching rule wins; the rule's
//!   rate decides, and kept traces then pass the token-bucket [`RateLimiter`]
//!   (`DD_TRACE_RATE_LIMIT`, 100 per second by default) whose effective rate is reported as
//!   `_dd.limit_psr`. The limiter is consulted only for traces a rule kept.
//! * **Agent rates** ([`Sampler::update_agent_rates`]): the transport passes each
//!   `rate_by_service` it receives; the whole table is swapped atomically.
//! * **Manual decisions** ([`SamplingDecision::from_manual_tag`],
//!   [`SamplingDecision::manual_keep`]): override any other decision, including an
//!   inherited one, and lock it. The caller (the bridge) decides when they apply.
//! * **Single-span sampling** ([`SpanSampler`], `DD_SPAN_SAMPLING_RULES`): keeps chosen spans
//!   of dropped traces, tagged `_dd.span_sampling.mechanism = 8`.
//! * **OpenTelemetry samplers** ([`OtelSampler`], `OTEL_TRACES_SAMPLER` / `_ARG`): mapped to
//!   `DD_TRACE_SAMPLE_RATE`, which wins when both are set.
//!
//! When to call what (`sampling.md` §2): [`Sampler::sample_root`] when the local root starts
//! (the provisional decision, which gives the OTel trace flags), then, if the decision is not
//! locked by an injection, a flush or a manual decision, [`Sampler::resample_root`] when the
//! root finishes, with its final facts; the rate limiter is consulted once per trace.
//!
//! A [`SamplingDecision`] carries the priority and everything to record;
//! [`apply_to_root`](SamplingDecision::apply_to_root) writes the local root's metrics
//! (`_sampling_priority_v1`, `_dd.*_psr`) and [`apply_to_chunk`](SamplingDecision::apply_to_chunk)
//! the chunk's priority and propagated tags (`_dd.p.dm`, `_dd.p.ksr`).
//!
//! Cost: [`Sampler`] is `Send + Sync` and meant to be shared. Without rules, a decision takes
//! a read lock on the agent-rate table (writers only swap a prebuilt table in, about once a
//! second), does two hash-map lookups by `&str` and one multiplication, and allocates
//! nothing; rule evaluation allocates nothing either, and only rule-kept traces touch the
//! limiter's mutex.
//!
//! Bad configuration never panics: it is logged (with the `log` crate), listed in
//! [`SamplingConfig::problems`], and the rest of the configuration applies.
//!
//! # Example
//!
//! ```
//! use std::collections::HashMap;
//! use ddtrace_model::{SamplingPriority, Span, SpanId, TraceChunk, TraceId};
//! use ddtrace_sampling::{RootSpanInfo, Sampler, SamplingConfig, TagValue};
//!
//! let env = HashMap::from([
//!     ("DD_TRACE_SAMPLING_RULES", r#"[{"service": "checkout", "tags": {"tier": "gold"}, "sample_rate": 1}]"#),
//!     ("DD_TRACE_SAMPLE_RATE", "0.5"),
//!     ("DD_SPAN_SAMPLING_RULES", r#"[{"name": "db.*"}]"#),
//! ]);
//! let sampler = Sampler::new(&SamplingConfig::from_lookup(|k| env.get(k).map(|v| v.to_string())));
//!
//! // A gold customer's checkout: the first rule keeps it.
//! let tags = [("tier", TagValue::Str("gold"))];
//! let root = RootSpanInfo::new(TraceId::from_u128(10), "checkout", "http.request").with_tags(&tags);
//! let decision = sampler.sample_root(&root);
//! assert_eq!(decision.priority, SamplingPriority::USER_KEEP);
//! assert_eq!((decision.decision_maker, decision.rule_rate, decision.limit_rate), ("-3", Some(1.0), Some(1.0)));
//!
//! // Anything else: the 0.5 catch-all; the Knuth hash of 10 is above the threshold.
//! let root = RootSpanInfo::new(TraceId::from_u128(10), "checkout", "http.request");
//! let decision = sampler.sample_root(&root);
//! assert_eq!(decision.priority, SamplingPriority::USER_REJECT);
//!
//! // Record it on the spans, then let single-span sampling keep the database span.
//! let mut root_span = Span::new(TraceId::from_u128(10), SpanId::new(1).unwrap(), "http.request");
//! let db_span = Span::new(TraceId::from_u128(10), SpanId::new(2).unwrap(), "db.query");
//! decision.apply_to_root(&mut root_span);
//! let mut chunk = TraceChunk::new(vec![root_span, db_span]);
//! decision.apply_to_chunk(&mut chunk);
//! assert_eq!(sampler.sample_spans(&mut chunk), 1);
//! assert_eq!(chunk.spans[0].metrics.get("_dd.rule_psr"), Some(&0.5));
//! assert_eq!(chunk.tags.get("_dd.p.ksr").map(|v| v.as_str()), Some("0.5"));
//! assert_eq!(chunk.spans[1].metrics.get("_dd.span_sampling.mechanism"), Some(&8.0));
//! ```
//!
//! ## Supported Rust versions
//!
//! The minimum supported Rust version is 1.85; raising it is a minor-version change.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod decision;
mod error;
mod glob;
mod knuth;
mod limiter;
mod root;
mod rules;
mod sampler;
mod span_sampler;

pub use config::{DEFAULT_RATE_LIMIT, OtelSampler, SamplingConfig};
pub use decision::{Mechanism, SamplingDecision, decision_maker};
pub use error::{Error, Result};
pub use glob::Glob;
pub use knuth::{KNUTH_FACTOR, format_rate, knuth_hash, knuth_sample};
pub use limiter::{Clock, LimiterOutcome, ManualClock, MonotonicClock, RateLimiter};
pub use root::{NoTags, RootSpanInfo, TagLookup, TagValue};
pub use rules::{Provenance, SpanSamplingRule, TraceSamplingRule};
pub use sampler::Sampler;
pub use span_sampler::{SPAN_SAMPLING_MECHANISM, SpanSampler};
