//! [`Sampler`]: the trace sampler consulted for each local root.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ddtrace_model::{SamplingPriority, Str, TraceChunk};
use parking_lot::Mutex;

use crate::{
    Clock, Error, Mechanism, MonotonicClock, RateLimiter, RootSpanInfo, SamplingConfig,
    SamplingDecision, SpanSampler, TraceSamplingRule, decision_maker, format_rate, knuth_sample,
};

/// Decides the sampling priority of each trace at its local root.
///
/// Precedence (`sampling.md` §3–§6), first that applies wins:
///
/// 1. the first matching trace sampling rule (`DD_TRACE_SAMPLING_RULES`, remote-provenance
///    rules first, then the catch-all rule of `DD_TRACE_SAMPLE_RATE` / `OTEL_TRACES_SAMPLER`): Knuth sampling at the rule's
///    rate, then the rate limiter for kept traces → priority 2 / −1, dm `-3` (`-11`/`-12`);
/// 2. the agent rate for `(service, env)`, or the agent's default `service:,env:` rate →
///    priority 1 / 0, dm `-1`;
/// 3. no agent rates yet (or none for this service): keep, priority 1, dm `-0`.
///
/// Manual decisions ([`SamplingDecision::from_manual_tag`], [`SamplingDecision::manual_keep`])
/// and inherited ones are the caller's business: they never reach the sampler.
///
/// `sample_root` is cheap and safe to call from any thread: without rules it reads the
/// agent-rate table through a per-thread snapshot (refreshed when a new table arrives),
/// looks up two hash maps by `&str`, hashes the trace id, and allocates nothing. It writes
/// no memory shared with other threads: a decision on an application thread and the
/// re-evaluation on the exporter's thread do not pass a cache line back and forth.
///
/// ```
/// use ddtrace_model::{SamplingPriority, TraceId};
/// use ddtrace_sampling::{RootSpanInfo, Sampler, SamplingConfig};
///
/// let sampler = Sampler::new(&SamplingConfig::default());
/// let root = RootSpanInfo::new(TraceId::from_u128(10), "checkout", "web.request").with_env("prod");
/// assert_eq!(sampler.sample_root(&root).decision_maker, "-0"); // no agent rates yet
///
/// sampler.update_agent_rates([("service:checkout,env:prod", 0.5), ("service:,env:", 1.0)]);
/// let decision = sampler.sample_root(&root);
/// assert_eq!(decision.priority, SamplingPriority::AUTO_REJECT); // hash(10)/max ≈ 0.60
/// assert_eq!((decision.decision_maker, decision.agent_rate), ("-1", Some(0.5)));
/// ```
#[derive(Debug)]
pub struct Sampler {
    rules: Box<[ActiveRule]>,
    limiter: RateLimiter,
    agent_rates: AgentRateCell,
    span_sampler: SpanSampler,
}

/// The latest agent-rate table, read through a per-thread snapshot.
///
/// A read lock would write the lock word on every decision, and the decisions of the
/// application threads and the exporter's re-evaluations would pass that cache line between
/// cores on every trace. Instead each thread keeps the `Arc` of the table it last read and
/// takes the lock only when the generation number says a newer table was stored.
#[derive(Debug)]
struct AgentRateCell {
    /// Tells this sampler's snapshots from another sampler's on the same thread.
    sampler_id: u64,
    /// Incremented (after the store) by each new table.
    generation: AtomicU64,
    table: Mutex<Option<Arc<AgentRates>>>,
}

/// One thread's snapshot of one sampler's agent-rate table.
#[derive(Debug, Default)]
struct RateSnapshot {
    sampler_id: u64,
    generation: u64,
    table: Option<Arc<AgentRates>>,
}

thread_local! {
    static RATE_SNAPSHOT: RefCell<RateSnapshot> = RefCell::new(RateSnapshot::default());
}

/// Sampler ids start at 1: a thread's empty snapshot (id 0) matches no sampler.
static NEXT_SAMPLER_ID: AtomicU64 = AtomicU64::new(1);

impl AgentRateCell {
    fn new() -> Self {
        AgentRateCell {
            sampler_id: NEXT_SAMPLER_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            table: Mutex::new(None),
        }
    }

    fn store(&self, table: AgentRates) {
        let old = self.table.lock().replace(Arc::new(table));
        self.generation.fetch_add(1, Ordering::Release);
        drop(old); // freed outside the lock (or by the last snapshot holding it)
    }

    /// `read` applied to the current table (`None` before the first one).
    fn with<R>(&self, read: impl Fn(Option<&AgentRates>) -> R) -> R {
        // Loaded before the table is cloned: a table stored in between is cached under the
        // older number and read again at the next decision, never the reverse.
        let generation = self.generation.load(Ordering::Acquire);
        let cached = RATE_SNAPSHOT.try_with(|cell| {
            let mut snapshot = cell.borrow_mut();
            if snapshot.sampler_id != self.sampler_id || snapshot.generation != generation {
                *snapshot = RateSnapshot {
                    sampler_id: self.sampler_id,
                    generation,
                    table: self.table.lock().clone(),
                };
            }
            read(snapshot.table.as_deref())
        });
        // The thread's locals are being destroyed: read under the lock.
        cached.unwrap_or_else(|_| read(self.table.lock().as_deref()))
    }
}

#[derive(Debug)]
struct ActiveRule {
    rule: TraceSamplingRule,
    knuth_rate: Str,
}

/// One agent rate with its preformatted `_dd.p.ksr`.
#[derive(Debug, Clone)]
struct AgentRate {
    rate: f64,
    knuth_rate: Str,
}

/// A small multiply-rotate hasher (the "Fx" scheme) for the agent-rate maps: their keys come
/// from the local agent, so resistance to crafted collisions is not needed, and SipHash would
/// double the cost of a decision.
#[derive(Debug, Default, Clone, Copy)]
struct FastHasher {
    hash: u64,
}

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0_u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0_u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

type FastMap<V> = HashMap<Box<str>, V, BuildHasherDefault<FastHasher>>;

/// The agent's `rate_by_service` table, keyed by service then env so that lookups by `&str`
/// need no key formatting.
#[derive(Debug, Default)]
struct AgentRates {
    by_service: FastMap<FastMap<AgentRate>>,
    default: Option<AgentRate>,
}

impl AgentRates {
    fn lookup(&self, service: &str, env: &str) -> Option<&AgentRate> {
        self.by_service
            .get(service)
            .and_then(|envs| envs.get(env))
            .or(self.default.as_ref())
    }
}

/// At most this many distinct rate texts are kept for the life of the process (about 30 KiB);
/// later new rates get a reference-counted text instead.
const MAX_STATIC_RATE_TEXTS: usize = 1024;

static RATE_TEXTS: Mutex<Option<HashMap<u64, &'static str>>> = Mutex::new(None);

/// The `_dd.p.ksr` text of a rate. Every decision carries a clone of it: a text that lives
/// as long as the process clones without touching a reference count, which the threads that
/// take and re-take decisions would otherwise pass between cores on every trace. Rates come
/// from the configured rules and the agent's table, so the set is small; past
/// [`MAX_STATIC_RATE_TEXTS`] distinct rates the text is shared by count instead.
fn shared_rate_text(rate: f64) -> Str {
    let mut texts = RATE_TEXTS.lock();
    let texts = texts.get_or_insert_with(HashMap::new);
    if let Some(text) = texts.get(&rate.to_bits()) {
        return Str::from_static(text);
    }
    if texts.len() >= MAX_STATIC_RATE_TEXTS {
        return Str::from(Arc::<str>::from(format_rate(rate)));
    }
    let text: &'static str = Box::leak(format_rate(rate).into_boxed_str());
    texts.insert(rate.to_bits(), text);
    Str::from_static(text)
}

impl Sampler {
    /// A sampler for this configuration, on the process's monotonic clock.
    pub fn new(config: &SamplingConfig) -> Self {
        Sampler::with_clock(config, Arc::new(MonotonicClock::new()))
    }

    /// A sampler whose rate limiters run on `clock` (tests use a
    /// [`ManualClock`](crate::ManualClock)).
    pub fn with_clock(config: &SamplingConfig, clock: Arc<dyn Clock>) -> Self {
        let rules = config
            .effective_trace_rules()
            .into_iter()
            .map(|rule| ActiveRule {
                knuth_rate: shared_rate_text(rule.sample_rate()),
                rule,
            })
            .collect();
        Sampler {
            rules,
            limiter: RateLimiter::with_clock(config.rate_limit() as f64, Arc::clone(&clock)),
            agent_rates: AgentRateCell::new(),
            span_sampler: SpanSampler::with_clock(config.span_rules().to_vec(), clock),
        }
    }

    /// Decides the priority of a new trace from its local root.
    ///
    /// Call it when the local root starts (the provisional decision); while the decision is
    /// not locked, call [`resample_root`](Self::resample_root) when the root finishes
    /// (`sampling.md` §2).
    pub fn sample_root(&self, root: &RootSpanInfo<'_>) -> SamplingDecision {
        self.decide(root, None)
    }

    /// Re-evaluates an unlocked provisional decision when the local root finishes, with the
    /// root's final service, name, resource and tags.
    ///
    /// The rate limiter is consulted once per trace: if the final evaluation keeps the trace
    /// by a rule of the same rate and provenance as the provisional decision, which already
    /// went through the limiter, the provisional limiter outcome is reused
    /// (`sampling.md` §2 item 5).
    ///
    /// ```
    /// use ddtrace_model::TraceId;
    /// use ddtrace_sampling::{RootSpanInfo, Sampler, SamplingConfig, TraceSamplingRule};
    ///
    /// let mut config = SamplingConfig::default();
    /// config.set_trace_rules(vec![TraceSamplingRule::new(1.0).with_resource("GET /*")]);
    /// config.set_rate_limit(1);
    /// let sampler = Sampler::new(&config);
    /// let start = RootSpanInfo::new(TraceId::from_u128(1), "web", "http.request").with_resource("GET /a");
    /// let provisional = sampler.sample_root(&start); // takes the only token
    /// let end = start.with_resource("GET /b");
    /// let last = sampler.resample_root(&end, &provisional); // same rule outcome: no new token
    /// assert!(last.is_keep());
    /// assert_eq!(last.limit_rate, provisional.limit_rate);
    /// ```
    pub fn resample_root(
        &self,
        root: &RootSpanInfo<'_>,
        provisional: &SamplingDecision,
    ) -> SamplingDecision {
        self.decide(root, Some(provisional))
    }

    fn decide(
        &self,
        root: &RootSpanInfo<'_>,
        provisional: Option<&SamplingDecision>,
    ) -> SamplingDecision {
        let id = root.trace_id.low();
        if let Some(active) = self.rules.iter().find(|r| r.rule.matches(root)) {
            let rate = active.rule.sample_rate();
            let decision_maker = active.rule.provenance().decision_maker();
            let mut keep = knuth_sample(id, rate);
            let mut limit_rate = None;
            if keep {
                let reusable = provisional.filter(|p| {
                    p.mechanism == Mechanism::Rule
                        && p.rule_rate == Some(rate)
                        && p.decision_maker == decision_maker
                        && p.limit_rate.is_some()
                });
                match reusable {
                    Some(p) => {
                        keep = p.is_keep();
                        limit_rate = p.limit_rate;
                    }
                    None => {
                        let outcome = self.limiter.check();
                        keep = outcome.allowed;
                        limit_rate = Some(outcome.effective_rate);
                    }
                }
            }
            return SamplingDecision {
                priority: if keep {
                    SamplingPriority::USER_KEEP
                } else {
                    SamplingPriority::USER_REJECT
                },
                mechanism: Mechanism::Rule,
                decision_maker,
                rule_rate: Some(rate),
                limit_rate,
                agent_rate: None,
                knuth_rate: Some(active.knuth_rate.clone()),
            };
        }
        let agent = self.agent_rates.with(|table| {
            table
                .and_then(|t| t.lookup(root.service, root.env))
                .map(|a| (a.rate, a.knuth_rate.clone()))
        });
        match agent {
            Some((rate, knuth_rate)) => SamplingDecision {
                priority: if knuth_sample(id, rate) {
                    SamplingPriority::AUTO_KEEP
                } else {
                    SamplingPriority::AUTO_REJECT
                },
                mechanism: Mechanism::AgentRate,
                decision_maker: decision_maker::AGENT_RATE,
                rule_rate: None,
                limit_rate: None,
                agent_rate: Some(rate),
                knuth_rate: Some(knuth_rate),
            },
            None => SamplingDecision::default_keep(),
        }
    }

    /// Replaces the agent-rate table with the agent's latest `rate_by_service`.
    ///
    /// Keys must be exactly `service:<service>,env:<env>` (either part may be empty;
    /// `service:,env:` is the default rate for unknown pairs) and rates in `[0, 1]`; other
    /// entries are logged and skipped. The new table is built first and swapped in at once,
    /// so concurrent decisions see either the old or the new table. Returns the number of
    /// entries accepted.
    pub fn update_agent_rates<K: AsRef<str>>(
        &self,
        rates: impl IntoIterator<Item = (K, f64)>,
    ) -> usize {
        let mut table = AgentRates::default();
        let mut accepted = 0;
        for (key, rate) in rates {
            let key = key.as_ref();
            let problem = |reason| {
                let e = Error::InvalidAgentRate {
                    key: key.to_owned(),
                    reason,
                };
                log::warn!("{e}");
            };
            if !(0.0..=1.0).contains(&rate) {
                problem("rate is not a number in [0, 1]");
                continue;
            }
            let Some((service, env)) = key
                .strip_prefix("service:")
                .and_then(|rest| rest.split_once(",env:"))
            else {
                problem("key is not `service:<service>,env:<env>`");
                continue;
            };
            let entry = AgentRate {
                rate,
                knuth_rate: shared_rate_text(rate),
            };
            accepted += 1;
            if service.is_empty() && env.is_empty() {
                table.default = Some(entry);
            } else {
                table
                    .by_service
                    .entry(service.into())
                    .or_default()
                    .insert(env.into(), entry);
            }
        }
        self.agent_rates.store(table);
        accepted
    }

    /// Whether agent rates were received.
    pub fn has_agent_rates(&self) -> bool {
        self.agent_rates.with(|table| table.is_some())
    }

    /// The agent rate that would apply to `(service, env)` (including the default entry).
    pub fn agent_rate(&self, service: &str, env: &str) -> Option<f64> {
        self.agent_rates
            .with(|table| table.and_then(|t| t.lookup(service, env)).map(|a| a.rate))
    }

    /// The trace rules in evaluation order, the sample-rate catch-all last.
    pub fn rules(&self) -> impl ExactSizeIterator<Item = &TraceSamplingRule> + '_ {
        self.rules.iter().map(|r| &r.rule)
    }

    /// The rate limiter of rule-kept traces.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// The single-span sampler.
    pub fn span_sampler(&self) -> &SpanSampler {
        &self.span_sampler
    }

    /// Runs single-span sampling on a finished chunk (only if its priority is ≤ 0); returns
    /// the number of spans kept. See [`SpanSampler`].
    pub fn sample_spans(&self, chunk: &mut TraceChunk) -> usize {
        self.span_sampler.sample_chunk(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ManualClock, TagValue, knuth_hash};
    use ddtrace_model::TraceId;

    fn root(id: u64) -> RootSpanInfo<'static> {
        RootSpanInfo::new(TraceId::from_u128(id.into()), "webserver", "web.request")
            .with_resource("/bar")
    }

    fn config(f: impl FnOnce(&mut SamplingConfig)) -> SamplingConfig {
        let mut c = SamplingConfig::default();
        f(&mut c);
        c
    }

    #[test]
    fn nothing_configured_keeps_with_default_mechanism() {
        let s = Sampler::new(&SamplingConfig::default());
        let d = s.sample_root(&root(10));
        assert_eq!(d, SamplingDecision::default_keep());
        assert!(!s.has_agent_rates());
        assert_eq!(s.rules().len(), 0);
    }

    #[test]
    fn rule_keep_consumes_a_token_and_reports_the_limiter() {
        let clock = ManualClock::new();
        let c = config(|c| {
            c.set_trace_rules(vec![TraceSamplingRule::new(1.0)]);
            c.set_rate_limit(2);
        });
        let s = Sampler::with_clock(&c, Arc::new(clock));
        let decisions: Vec<SamplingDecision> = (0..3).map(|i| s.sample_root(&root(i))).collect();
        let priorities: Vec<i32> = decisions.iter().map(|d| d.priority.get()).collect();
        assert_eq!(priorities, [2, 2, -1]);
        let limits: Vec<Option<f64>> = decisions.iter().map(|d| d.limit_rate).collect();
        assert_eq!(limits, [Some(1.0), Some(1.0), Some(2.0 / 3.0)]);
        for d in &decisions {
            assert_eq!(d.decision_maker, "-3");
            assert_eq!(d.mechanism, Mechanism::Rule);
            assert_eq!(d.rule_rate, Some(1.0));
            assert_eq!(d.knuth_rate.as_deref(), Some("1"));
            assert_eq!(d.agent_rate, None);
        }
        assert_eq!(s.limiter().rate(), 2.0);
    }

    #[test]
    fn rule_drop_does_not_consult_the_limiter() {
        let c = config(|c| {
            c.set_trace_rules(vec![TraceSamplingRule::new(0.5)]);
            c.set_rate_limit(0);
        });
        let s = Sampler::new(&c);
        let d = s.sample_root(&root(10)); // hash(10)/max ≈ 0.60 > 0.5
        assert_eq!(d.priority, SamplingPriority::USER_REJECT);
        assert_eq!((d.rule_rate, d.limit_rate), (Some(0.5), None));
        let d = s.sample_root(&root(1)); // kept by the rule, denied by limit 0
        assert_eq!(d.priority, SamplingPriority::USER_REJECT);
        assert_eq!(d.limit_rate, Some(0.0));
    }

    #[test]
    fn provenance_sets_the_decision_maker() {
        let c = config(|c| {
            c.set_trace_rules(vec![
                TraceSamplingRule::new(1.0)
                    .with_service("a")
                    .with_provenance(crate::Provenance::Customer),
                TraceSamplingRule::new(0.0).with_provenance(crate::Provenance::Dynamic),
            ]);
        });
        let s = Sampler::new(&c);
        let a = RootSpanInfo::new(TraceId::from_u128(1), "a", "op");
        assert_eq!(s.sample_root(&a).decision_maker, "-11");
        assert_eq!(s.sample_root(&root(1)).decision_maker, "-12");
        let order: Vec<crate::Provenance> = s.rules().map(|r| r.provenance()).collect();
        assert_eq!(
            order,
            [crate::Provenance::Customer, crate::Provenance::Dynamic]
        );
    }

    #[test]
    fn rules_win_over_agent_rates() {
        let c = config(|c| {
            c.set_trace_rules(vec![TraceSamplingRule::new(1.0).with_service("webserver")])
        });
        let s = Sampler::new(&c);
        s.update_agent_rates([("service:webserver,env:prod", 0.0)]);
        let d = s.sample_root(&root(10).with_env("prod"));
        assert_eq!((d.priority.get(), d.decision_maker), (2, "-3"));
        let other = RootSpanInfo::new(TraceId::from_u128(10), "other", "op").with_env("prod");
        assert_eq!(s.sample_root(&other), SamplingDecision::default_keep());
    }

    #[test]
    fn agent_rates_exact_key_then_default_key() {
        let s = Sampler::new(&SamplingConfig::default());
        let accepted = s.update_agent_rates(vec![
            ("service:webserver,env:prod".to_owned(), 0.5),
            ("service:,env:".to_owned(), 0.0),
        ]);
        assert_eq!(accepted, 2);
        assert!(s.has_agent_rates());
        let d = s.sample_root(&root(1).with_env("prod"));
        assert_eq!(d.priority, SamplingPriority::AUTO_KEEP);
        assert_eq!(
            (d.agent_rate, d.knuth_rate.as_deref()),
            (Some(0.5), Some("0.5"))
        );
        assert_eq!(d.mechanism, Mechanism::AgentRate);
        let d = s.sample_root(&root(10).with_env("prod"));
        assert_eq!(d.priority, SamplingPriority::AUTO_REJECT);
        // Env mismatch: the default entry applies.
        let d = s.sample_root(&root(1).with_env("staging"));
        assert_eq!(
            (d.priority.get(), d.agent_rate, d.knuth_rate.as_deref()),
            (0, Some(0.0), Some("0"))
        );
        assert_eq!(s.agent_rate("webserver", "prod"), Some(0.5));
        assert_eq!(s.agent_rate("x", ""), Some(0.0));
    }

    /// Each thread reads the table through a snapshot: a new table must reach the next
    /// decision of every thread, and two samplers used by one thread must not see each
    /// other's tables.
    #[test]
    fn every_thread_sees_the_latest_table_of_its_own_sampler() {
        let a = Sampler::new(&SamplingConfig::default());
        let b = Sampler::new(&SamplingConfig::default());
        a.update_agent_rates([("service:,env:", 0.0)]);
        b.update_agent_rates([("service:,env:", 1.0)]);
        for _ in 0..2 {
            assert_eq!(a.sample_root(&root(1)).agent_rate, Some(0.0));
            assert_eq!(b.sample_root(&root(1)).agent_rate, Some(1.0));
        }
        a.update_agent_rates([("service:,env:", 0.25)]);
        assert_eq!(a.sample_root(&root(1)).agent_rate, Some(0.25));
        assert_eq!(b.agent_rate("x", "y"), Some(1.0));
        std::thread::scope(|scope| {
            scope.spawn(|| assert_eq!(a.agent_rate("x", "y"), Some(0.25)));
        });
        std::thread::scope(|scope| {
            scope.spawn(|| {
                assert_eq!(a.agent_rate("x", "y"), Some(0.25));
                a.update_agent_rates([("service:,env:", 0.75)]);
            });
        });
        assert_eq!(a.sample_root(&root(1)).agent_rate, Some(0.75));
        assert_eq!(a.sample_root(&root(1)).knuth_rate.as_deref(), Some("0.75"));
    }

    /// A rate's text is made once and shared as a static text (no reference count to
    /// bump per decision), and stays right past the bound of static texts.
    #[test]
    fn rate_texts_are_made_once() {
        let first = shared_rate_text(0.125);
        let again = shared_rate_text(0.125);
        assert_eq!(first.as_str(), "0.125");
        assert_eq!(first.as_str().as_ptr(), again.as_str().as_ptr());
        // Fill the table (other tests may have added rates): later texts are still right.
        for i in 0..=MAX_STATIC_RATE_TEXTS {
            let rate = i as f64 / 4096.0 + 1e-9;
            assert_eq!(shared_rate_text(rate).as_str(), format_rate(rate));
        }
        let late = 0.987_654_321;
        assert_eq!(shared_rate_text(late).as_str(), format_rate(late));
        assert_eq!(
            shared_rate_text(0.125).as_str().as_ptr(),
            first.as_str().as_ptr()
        );
    }

    #[test]
    fn large_agent_tables_find_every_entry() {
        let s = Sampler::new(&SamplingConfig::default());
        let key = |i: usize| {
            (
                format!("a-rather-long-service-name-{i}"),
                format!("env{}", i % 7),
            )
        };
        let accepted = s.update_agent_rates((0..1000).map(|i| {
            let (service, env) = key(i);
            (
                format!("service:{service},env:{env}"),
                (i % 101) as f64 / 100.0,
            )
        }));
        assert_eq!(accepted, 1000);
        for i in 0..1000 {
            let (service, env) = key(i);
            assert_eq!(
                s.agent_rate(&service, &env),
                Some((i % 101) as f64 / 100.0),
                "{i}"
            );
            assert_eq!(s.agent_rate(&service, "other"), None);
        }
        let mut h = FastHasher::default();
        h.write(b"0123456789");
        let mut other = FastHasher::default();
        other.write(b"0123456788");
        assert_ne!(h.finish(), other.finish());
    }

    #[test]
    fn agent_rates_without_default_fall_back_to_default_mechanism() {
        let s = Sampler::new(&SamplingConfig::default());
        s.update_agent_rates([("service:webserver,env:prod", 0.5)]);
        assert_eq!(s.sample_root(&root(1)), SamplingDecision::default_keep());
        assert_eq!(s.agent_rate("webserver", ""), None);
    }

    #[test]
    fn agent_update_replaces_the_whole_table_and_skips_bad_entries() {
        let s = Sampler::new(&SamplingConfig::default());
        s.update_agent_rates([("service:a,env:", 0.0), ("service:b,env:", 0.0)]);
        let accepted = s.update_agent_rates([
            ("service:a,env:", 1.0),
            ("service:c", 0.5),
            ("svc:c,env:", 0.5),
            ("service:d,env:", 1.5),
            ("service:e,env:", f64::NAN),
            ("service:f,env:", -0.1),
            ("service:x,y,env:z,env:w", 0.25),
        ]);
        assert_eq!(accepted, 2);
        assert_eq!(s.agent_rate("a", ""), Some(1.0));
        assert_eq!(s.agent_rate("b", ""), None); // not carried over
        assert_eq!(s.agent_rate("d", ""), None);
        assert_eq!(s.agent_rate("x,y", "z,env:w"), Some(0.25));
        s.update_agent_rates(std::iter::empty::<(&str, f64)>());
        assert!(s.has_agent_rates());
        assert_eq!(s.sample_root(&root(1)), SamplingDecision::default_keep());
    }

    #[test]
    fn tags_reach_the_rules() {
        let c = config(|c| {
            c.set_trace_rules(vec![TraceSamplingRule::new(0.0).with_tag("tier", "gold")])
        });
        let s = Sampler::new(&c);
        let tags = [("tier", TagValue::Str("GOLD"))];
        let d = s.sample_root(&root(1).with_tags(&tags));
        assert_eq!(d.priority, SamplingPriority::USER_REJECT);
        assert_eq!(s.sample_root(&root(1)).decision_maker, "-0");
    }

    #[test]
    fn resampling_reuses_the_limiter_outcome_of_the_same_rule_only() {
        let c = config(|c| {
            c.set_trace_rules(vec![
                TraceSamplingRule::new(1.0).with_resource("/a"),
                TraceSamplingRule::new(1.0)
                    .with_resource("/b")
                    .with_provenance(crate::Provenance::Customer),
                TraceSamplingRule::new(0.0).with_resource("/drop"),
            ]);
            c.set_rate_limit(1);
        });
        let s = Sampler::with_clock(&c, Arc::new(ManualClock::new()));
        let a = root(1).with_resource("/a");
        let first = s.sample_root(&a);
        assert!(first.is_keep());
        // Same outcome at finish: the token is not taken twice.
        let again = s.resample_root(&a, &first);
        assert_eq!(again, first);
        // A denied provisional decision stays denied for the same rule outcome.
        let second = s.sample_root(&a.with_env("x"));
        assert!(!second.is_keep());
        assert_eq!(s.resample_root(&a, &second), second);
        // A different rule (other provenance) needs its own limiter check: no token left.
        let b = s.resample_root(&root(1).with_resource("/b"), &first);
        assert_eq!((b.is_keep(), b.decision_maker), (false, "-11"));
        // A rule drop never looks at the limiter; other mechanisms ignore the provisional one.
        let dropped = s.resample_root(&root(1).with_resource("/drop"), &first);
        assert_eq!((dropped.priority.get(), dropped.limit_rate), (-1, None));
        let other = s.resample_root(&root(1).with_resource("/zzz"), &first);
        assert_eq!(other, SamplingDecision::default_keep());
    }

    #[test]
    fn sampler_is_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Sampler>();
        assert_send_sync::<SamplingDecision>();
    }

    #[test]
    fn only_the_low_half_of_the_trace_id_counts() {
        let c = config(|c| c.set_trace_rules(vec![TraceSamplingRule::new(0.5)]));
        let s = Sampler::new(&c);
        for low in [1_u64, 10, 123_456_789, u64::MAX] {
            let a = RootSpanInfo::new(TraceId::from_parts(0, low), "s", "n");
            let b = RootSpanInfo::new(TraceId::from_parts(0x640c_fd8d_0000_0000, low), "s", "n");
            assert_eq!(s.sample_root(&a).priority, s.sample_root(&b).priority);
            assert_eq!(
                s.sample_root(&a).is_keep(),
                knuth_hash(low) <= u64::MAX / 2 + 1
            );
        }
    }
}
