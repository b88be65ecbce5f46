//! Trace assembly: the per-trace state shared by the spans of one local trace, the registry
//! that finds it from a parent `SpanContext`, and the pending chunk handed to the exporter.

use std::cell::Cell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use ddtrace_model::{
    ChunkExporter, ChunkSink, PendingChunk, SamplingPriority, SpanId, Str, TagMap, TraceChunk,
    TraceId, tags,
};
use ddtrace_propagation::{Extracted, InjectContext, Propagator};
use ddtrace_sampling::{RootSpanInfo, Sampler, SamplingDecision, TagValue};
use opentelemetry::trace::{SpanContext, TraceFlags, TraceState as OtelTraceState};
use opentelemetry::{KeyValue, Value};
use parking_lot::Mutex;

use crate::config::BridgeConfig;
use crate::handoff::{self, ChunkContext};
use crate::mapping;
use crate::span::SpanRecord;

/// Counters of the bridge (all monotonic). On cache lines of their own: application threads
/// write them per trace, and the other fields of [`Shared`] are read per span.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct Counters {
    pub(crate) spans_exported: AtomicU64,
    pub(crate) chunks_exported: AtomicU64,
    pub(crate) partial_chunks: AtomicU64,
    pub(crate) bound_flushes: AtomicU64,
    pub(crate) spans_dropped_after_shutdown: AtomicU64,
}

/// What every tracer, span and trace of one provider shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Arc<BridgeConfig>,
    pub(crate) exporter: Arc<dyn ChunkExporter>,
    pub(crate) sampler: Arc<Sampler>,
    pub(crate) propagator: Propagator,
    /// `tracecontext` only: builds the `tracestate` of local span contexts and reads the
    /// `dd` member of foreign remote contexts.
    pub(crate) w3c: Propagator,
    pub(crate) registry: Registry,
    /// What pending chunks take to the worker (with the recycler of emptied buffers). Its
    /// configuration and sampler are `config` and `sampler` above, which the application
    /// threads read from here, away from the line of the recycler's lock.
    pub(crate) context: Arc<ChunkContext>,
    pub(crate) counters: Counters,
    pub(crate) shut_down: AtomicBool,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The context may outlive the provider (pending chunks and the application threads'
        // counted references hold it): the buffers it keeps are freed now.
        self.context.recycler.close();
    }
}

impl Shared {
    fn export(&self, pending: Box<PendingTrace>) {
        let spans = pending.records.len() as u64;
        if self.shut_down.load(Ordering::Acquire) {
            self.counters
                .spans_dropped_after_shutdown
                .fetch_add(spans, Ordering::Relaxed);
            log::debug!("{spans} spans ended after the tracer provider shut down; dropped");
            return;
        }
        self.counters
            .chunks_exported
            .fetch_add(1, Ordering::Relaxed);
        self.counters
            .spans_exported
            .fetch_add(spans, Ordering::Relaxed);
        self.exporter.export(pending);
    }
}

/// Whether a span attribute changes trace-level state when set after start.
pub(crate) fn is_trace_level_key(key: &str) -> bool {
    key == mapping::SERVICE_NAME || SamplingDecision::is_manual_key(key)
}

/// The sampling decision and propagated state of one local trace.
///
/// Aligned to a cache line: consecutive traces of a thread share one decision, whose
/// reference count the application thread changes per trace while the worker reads the
/// fields, and the two must not share a line.
#[derive(Debug, Clone, Default)]
#[repr(align(64))]
pub(crate) struct Decision {
    pub(crate) priority: Option<SamplingPriority>,
    /// `_dd.p.*` tags, `_dd.p.tid` excluded (derived from the trace id).
    pub(crate) tags: TagMap<Str>,
    pub(crate) origin: Option<Str>,
    pub(crate) tracestate: Option<Str>,
    pub(crate) last_parent_id: Option<Str>,
    /// Local root meta: `_dd.parent_id`, `_dd.propagation_error`, `baggage.*`.
    pub(crate) root_meta: Vec<(Str, Str)>,
    /// Local root metrics of the sampler: `_dd.rule_psr`, `_dd.limit_psr`, `_dd.agent_psr`.
    pub(crate) root_metrics: Vec<(&'static str, f64)>,
    /// Set at the first injection (and the first partial flush): manual decisions after it
    /// are ignored (sampling.md §2 item 4, Go's behaviour), and the decision is not taken
    /// again at the root's end.
    pub(crate) locked: bool,
    /// The local sampler's decision at root start; `None` for inherited decisions.
    pub(crate) provisional: Option<SamplingDecision>,
    /// Set by a manual decision.
    pub(crate) manual: bool,
}

impl Decision {
    pub(crate) fn apply_sampler(&mut self, d: &SamplingDecision) {
        self.provisional = Some(d.clone());
        self.priority = Some(d.priority);
        self.tags
            .insert(tags::DECISION_MAKER, Str::from_static(d.decision_maker));
        match &d.knuth_rate {
            Some(ksr) => {
                self.tags.insert(tags::KNUTH_SAMPLING_RATE, ksr.clone());
            }
            None => {
                self.tags.remove(tags::KNUTH_SAMPLING_RATE);
            }
        }
        for (key, value) in [
            (tags::RULE_PSR, d.rule_rate),
            (tags::LIMIT_PSR, d.limit_rate),
            (tags::AGENT_PSR, d.agent_rate),
        ] {
            if let Some(v) = value {
                self.root_metrics.retain(|(k, _)| *k != key);
                self.root_metrics.push((key, v));
            }
        }
    }

    /// Applies a manual sampling attribute (`manual.keep`, `manual.drop`,
    /// `sampling.priority`), unless the decision is locked.
    pub(crate) fn apply_manual(&mut self, key: &str, value: &Value) {
        let tag = match value {
            Value::I64(i) => TagValue::Number(*i as f64),
            Value::F64(f) => TagValue::Number(*f),
            other => TagValue::Str(match other {
                Value::String(s) => s.as_str(),
                Value::Bool(true) => "true",
                _ => "",
            }),
        };
        let Some(d) = SamplingDecision::from_manual_tag(key, tag) else {
            return;
        };
        if self.locked {
            log::debug!("manual sampling attribute {key} after injection ignored");
            return;
        }
        self.priority = Some(d.priority);
        self.manual = true;
        self.tags
            .insert(tags::DECISION_MAKER, Str::from_static(d.decision_maker));
        self.tags.remove(tags::KNUTH_SAMPLING_RATE);
    }

    fn is_keep(&self) -> bool {
        self.priority.is_some_and(SamplingPriority::is_keep)
    }
}

#[derive(Debug)]
struct TraceState {
    finished: Vec<SpanRecord>,
    /// The attributes of the finished spans, moved out of each span's own vector at its end
    /// (see [`Trace::finish`]); a record refers to its range.
    attributes: Vec<KeyValue>,
    /// Shared with the pending chunks that left (copied on write): handing a chunk over
    /// copies no tags.
    decision: Arc<Decision>,
    /// A mapped trace's pending box, whose vectors are `finished` and `attributes` now: the
    /// next chunk goes out in it.
    spare: Option<Box<PendingTrace>>,
    /// Spans whose service was set by `service.name` (or inherited from such a span).
    services: Vec<(SpanId, Str)>,
    /// Spans ended (of [`Trace::started`]).
    ended: usize,
    /// Whether the local root has ended (partial flush applies only while it is open).
    root_ended: bool,
}

/// One local trace: the spans of a trace that this process started from the same local root.
#[derive(Debug)]
pub(crate) struct Trace {
    trace_id: TraceId,
    root_id: SpanId,
    shared: Arc<Shared>,
    /// Spans started, the local root included. Outside the lock so that most starts take no
    /// lock; the ends are counted under it ([`TraceState::ended`]), so an end takes no
    /// atomic operation besides the lock.
    started: AtomicUsize,
    /// The decision's priority (`NO_PRIORITY` for none), mirrored for lock-free reads.
    priority: AtomicI32,
    /// Whether some span of the trace has a `service.name` (children must look it up).
    has_services: AtomicBool,
    /// Whether the trace is in the registry: from the first time one of its span contexts
    /// is handed out (see [`Trace::register`]).
    registered: AtomicBool,
    state: Mutex<TraceState>,
}

const NO_PRIORITY: i32 = i32::MIN;

/// Bounds of the buffer-size hint (a single huge trace must not size every later one).
const MAX_HINT_SPANS: usize = 512;
const MAX_HINT_ATTRIBUTES: usize = 4096;

thread_local! {
    /// (spans, attributes) of the last chunk this thread handed over.
    static SIZE_HINT: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// The (empty) attribute vector of the last span that ended on this thread, for the next
    /// span's attributes: a span's own vector is only a staging area until its end.
    static SPARE_ATTRIBUTES: Cell<Vec<KeyValue>> = const { Cell::new(Vec::new()) };
}

/// The most attributes a spare vector keeps room for (larger ones are freed).
const MAX_SPARE_ATTRIBUTES: usize = 32;

/// An empty vector for a span's attributes: this thread's spare one, else a new one.
pub(crate) fn spare_attributes() -> Vec<KeyValue> {
    // `try_with`: a span may end while this thread's locals are being destroyed.
    let spare = SPARE_ATTRIBUTES.try_with(Cell::take).unwrap_or_default();
    if spare.capacity() == 0 {
        Vec::with_capacity(8)
    } else {
        spare
    }
}

/// Keeps a span's emptied attribute vector for the next span of this thread.
fn keep_spare_attributes(v: Vec<KeyValue>) {
    if v.is_empty() && v.capacity() != 0 && v.capacity() <= MAX_SPARE_ATTRIBUTES {
        let _ = SPARE_ATTRIBUTES.try_with(|c| c.set(v));
    }
}

fn priority_bits(p: Option<SamplingPriority>) -> i32 {
    p.map_or(NO_PRIORITY, SamplingPriority::get)
}

impl Trace {
    /// A new local trace whose root `root_id` starts now with `attributes`: the root counts
    /// as started, and its trace-level start attributes (`service.name`, manual sampling)
    /// are applied here, so a root's start takes no lock.
    pub(crate) fn new_root(
        shared: &Arc<Shared>,
        trace_id: TraceId,
        root_id: SpanId,
        mut decision: Arc<Decision>,
        attributes: &[KeyValue],
    ) -> Arc<Trace> {
        let mut services = Vec::new();
        for kv in attributes {
            let key = kv.key.as_str();
            if key == mapping::SERVICE_NAME {
                let service = kv.value.as_str();
                services.clear();
                if !service.is_empty() {
                    services.push((root_id, Str::from(service.into_owned())));
                }
            } else if SamplingDecision::is_manual_key(key) {
                Arc::make_mut(&mut decision).apply_manual(key, &kv.value);
            }
        }
        Arc::new(Trace {
            trace_id,
            root_id,
            shared: shared.clone(),
            started: AtomicUsize::new(1),
            priority: AtomicI32::new(priority_bits(decision.priority)),
            has_services: AtomicBool::new(!services.is_empty()),
            registered: AtomicBool::new(false),
            state: Mutex::new(TraceState {
                finished: Vec::new(),
                attributes: Vec::new(),
                ended: 0,
                decision,
                spare: None,
                services,
                root_ended: false,
            }),
        })
    }

    /// Puts the trace in the registry, unless it is there: called when one of its span
    /// contexts is first handed out. Only through a span context can a child join the trace
    /// (a child's parent is found by the context's trace id) or an injection reach it, so a
    /// trace whose contexts nobody asked for (a local root without children, the common
    /// case) takes no registry lock at all, at its start or at its end.
    pub(crate) fn register(this: &Arc<Trace>) {
        if !this.registered.load(Ordering::Acquire) && !this.registered.swap(true, Ordering::AcqRel)
        {
            this.shared.registry.insert(this.trace_id, this);
        }
    }

    /// Whether the trace's current decision keeps it.
    pub(crate) fn is_keep(&self) -> bool {
        let p = self.priority.load(Ordering::Acquire);
        p != NO_PRIORITY && p > 0
    }

    pub(crate) fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// Registers a starting child span: counts it started, resolves its inherited service,
    /// applies trace-level start attributes. Returns (sampled, inherited service).
    ///
    /// The common case (a child without trace-level attributes in a trace without
    /// `service.name` overrides) takes no lock.
    pub(crate) fn on_start(
        &self,
        span_id: SpanId,
        parent_id: SpanId,
        attributes: &[KeyValue],
    ) -> (bool, Option<Str>) {
        self.started.fetch_add(1, Ordering::AcqRel);
        let slow = self.has_services.load(Ordering::Acquire)
            || attributes
                .iter()
                .any(|kv| is_trace_level_key(kv.key.as_str()));
        if !slow {
            return (self.is_keep(), None);
        }
        let mut st = self.state.lock();
        let inherited = st
            .services
            .iter()
            .rev()
            .find(|(id, _)| *id == parent_id)
            .map(|(_, s)| s.clone());
        let mut own_service = None;
        for kv in attributes {
            let key = kv.key.as_str();
            if is_trace_level_key(key) {
                if key == mapping::SERVICE_NAME {
                    let service = kv.value.as_str();
                    own_service = (!service.is_empty()).then(|| Str::from(service.into_owned()));
                } else {
                    Arc::make_mut(&mut st.decision).apply_manual(key, &kv.value);
                    self.priority
                        .store(priority_bits(st.decision.priority), Ordering::Release);
                }
            }
        }
        if let Some(service) = own_service.or_else(|| inherited.clone()) {
            st.services.push((span_id, service));
            self.has_services.store(true, Ordering::Release);
        }
        (st.decision.is_keep(), inherited)
    }

    /// A trace-level attribute set after start.
    pub(crate) fn on_attribute(&self, span_id: SpanId, key: &str, value: &Value) {
        let mut st = self.state.lock();
        if key == mapping::SERVICE_NAME {
            let service = value.as_str();
            if service.is_empty() {
                return;
            }
            let service = Str::from(service.into_owned());
            match st.services.iter_mut().find(|(id, _)| *id == span_id) {
                Some(entry) => entry.1 = service,
                None => st.services.push((span_id, service)),
            }
            self.has_services.store(true, Ordering::Release);
        } else {
            Arc::make_mut(&mut st.decision).apply_manual(key, value);
            self.priority
                .store(priority_bits(st.decision.priority), Ordering::Release);
        }
    }

    /// A finished span: buffer it, and hand the chunk over when the local trace is complete,
    /// when partial flush applies, or when the buffer bound is reached.
    pub(crate) fn finish(&self, mut record: SpanRecord, mut own_attributes: Vec<KeyValue>) {
        let cfg = &self.shared.config;
        let pending = {
            let mut st = self.state.lock();
            st.ended += 1;
            // A span that starts after this load is counted by its own end.
            let open = self
                .started
                .load(Ordering::Acquire)
                .saturating_sub(st.ended);
            let is_root = record.span_id == self.root_id;
            if st.finished.capacity() == 0 {
                // The buffers of a trace already mapped, if the exporter returned some.
                if let Some(mut spare) = self.shared.context.recycler.take() {
                    st.finished = std::mem::take(&mut spare.records);
                    st.attributes = std::mem::take(&mut spare.attributes);
                    st.spare = Some(spare);
                }
                // Sized like the last trace this thread completed: growing these vectors
                // span by span costs reallocations, which contend with the exporter's thread
                // freeing earlier chunks.
                // At least this span and its attributes: a one-span trace (the common
                // shape of a local root without children) reserves exactly what it uses.
                let (spans, attributes) = SIZE_HINT.with(Cell::get);
                st.finished.reserve_exact(spans.clamp(1, MAX_HINT_SPANS));
                let least = own_attributes.len().min(MAX_HINT_ATTRIBUTES);
                st.attributes
                    .reserve_exact(attributes.clamp(least, MAX_HINT_ATTRIBUTES));
            }
            // The span's attributes join the trace's one vector: what crosses to the
            // exporter's thread is a few large allocations per trace instead of one per span,
            // and the span's own vector is freed here, on the thread that will reuse it.
            // u32: a trace with 4 billion attributes is flushed by its span bound long before.
            let index = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            let start = st.attributes.len();
            record.attributes_range = (index(start), index(start + own_attributes.len()));
            // The record goes in before the attributes are copied: its copy reads back the
            // range just written, which must not wait behind the copy's stores into lines
            // that the exporter's thread read last (a stalled store-to-load forward was half
            // of this function's time in the profile).
            st.finished.push(record);
            st.attributes.append(&mut own_attributes);
            st.root_ended |= is_root;
            let partial = !st.root_ended
                && cfg
                    .partial_flush
                    .min_spans()
                    .is_some_and(|min| st.finished.len() >= min);
            if open == 0 {
                Some(take_chunk(
                    &self.shared,
                    self.trace_id,
                    self.root_id,
                    &mut st,
                ))
            } else if partial {
                self.shared
                    .counters
                    .partial_chunks
                    .fetch_add(1, Ordering::Relaxed);
                lock_decision(&mut st.decision);
                Some(take_chunk(
                    &self.shared,
                    self.trace_id,
                    self.root_id,
                    &mut st,
                ))
            } else if st.finished.len() >= cfg.max_buffered_spans {
                self.shared
                    .counters
                    .bound_flushes
                    .fetch_add(1, Ordering::Relaxed);
                log::debug!(
                    "trace {} buffers {} finished spans with {} still open; flushing them",
                    self.trace_id,
                    st.finished.len(),
                    open
                );
                lock_decision(&mut st.decision);
                Some(take_chunk(
                    &self.shared,
                    self.trace_id,
                    self.root_id,
                    &mut st,
                ))
            } else {
                None
            }
        };
        keep_spare_attributes(own_attributes);
        if let Some(pending) = pending {
            self.shared.export(pending);
        }
    }

    /// Flushes finished spans of an incomplete trace (shutdown).
    pub(crate) fn flush_incomplete(&self) {
        let pending = {
            let mut st = self.state.lock();
            (!st.finished.is_empty())
                .then(|| take_chunk(&self.shared, self.trace_id, self.root_id, &mut st))
        };
        if let Some(pending) = pending {
            self.shared.export(pending);
        }
    }

    /// The decision as injection sees it, locking it (propagation.md §10).
    pub(crate) fn lock_for_injection(&self) -> Decision {
        let mut st = self.state.lock();
        lock_decision(&mut st.decision);
        Decision::clone(&st.decision)
    }

    /// The OTel context of span `span_id` of this trace: flags from the current priority,
    /// `tracestate` as an injection would write it now (`otel-mapping.md` §8.2).
    pub(crate) fn span_context(&self, span_id: SpanId, sampled_at_start: bool) -> SpanContext {
        let (sampled, header) = {
            let st = self.state.lock();
            let d = &st.decision;
            let sampled = d.priority.map_or(sampled_at_start, |p| p.is_keep());
            let state = match simple_dd_member(self.trace_id, span_id, d) {
                // `insert` takes the text; `from_key_value` would copy it.
                Some(member) => OtelTraceState::NONE.insert("dd", member).ok(),
                None => w3c_tracestate(&self.shared.w3c, self.trace_id, span_id, d)
                    .and_then(|h| OtelTraceState::from_str(&h).ok()),
            };
            (sampled, state)
        };
        let trace_state = header.unwrap_or_default();
        SpanContext::new(
            otel_trace_id(self.trace_id),
            otel_span_id(span_id),
            if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::NOT_SAMPLED
            },
            false,
            trace_state,
        )
    }
}

/// The finished spans of `st` as a pending chunk (in the spare box when the trace has one).
fn take_chunk(
    shared: &Shared,
    trace_id: TraceId,
    root_id: SpanId,
    st: &mut TraceState,
) -> Box<PendingTrace> {
    SIZE_HINT.with(|h| h.set((st.finished.len(), st.attributes.len())));
    let records = std::mem::take(&mut st.finished);
    let attributes = std::mem::take(&mut st.attributes);
    match st.spare.take() {
        // A mapped trace's box: its context is this provider's (the recycler is), and
        // its old decision is kept when it is this trace's (consecutive traces of a thread
        // share one), else dropped here, on the thread that counted it.
        Some(mut pending) => {
            pending.trace_id = trace_id;
            pending.root_id = root_id;
            pending.records = records;
            pending.attributes = attributes;
            if !Arc::ptr_eq(&pending.decision, &st.decision) {
                pending.decision = Arc::clone(&st.decision);
            }
            pending
        }
        None => Box::new(PendingTrace {
            context: handoff::counted(&shared.context),
            trace_id,
            root_id,
            records,
            attributes,
            decision: Arc::clone(&st.decision),
        }),
    }
}

thread_local! {
    /// The decision this thread's last sampled new trace took, shared by the next ones
    /// that take the same sampler outcome (copied on write, like with pending chunks).
    static LAST_SAMPLED: std::cell::RefCell<Option<Arc<Decision>>> =
        const { std::cell::RefCell::new(None) };
}

/// `decision` (as resolved from the parent; `None` when nothing was inherited) with the
/// sampler's outcome `d` applied. A new trace that inherits nothing takes the same decision
/// as the previous such trace of its thread when the sampler decided the same: no allocation.
pub(crate) fn sampled_decision(
    decision: Option<Box<Decision>>,
    d: &SamplingDecision,
) -> Arc<Decision> {
    let fresh = |decision: Option<Box<Decision>>| {
        let mut decision = decision.map_or_else(Decision::default, |b| *b);
        decision.apply_sampler(d);
        Arc::new(decision)
    };
    if decision.is_some() {
        return fresh(decision);
    }
    LAST_SAMPLED
        .try_with(|last| {
            let mut last = last.borrow_mut();
            if let Some(shared) = last.as_ref().filter(|l| l.provisional.as_ref() == Some(d)) {
                return Arc::clone(shared);
            }
            let new = fresh(None);
            *last = Some(Arc::clone(&new));
            new
        })
        .unwrap_or_else(|_| fresh(None))
}

/// Locks a decision (copying it only when a pending chunk still shares it).
fn lock_decision(decision: &mut Arc<Decision>) {
    if !decision.locked {
        Arc::make_mut(decision).locked = true;
    }
}

/// The `dd` member value of a trace with no origin and no upstream tracestate whose tags need no
/// escaping — the common case — written directly, exactly as `ddtrace-propagation` would
/// (`s`, `p`, the `t.*` tags in order, `t.tid` last). `None` otherwise.
fn simple_dd_member(trace_id: TraceId, span_id: SpanId, d: &Decision) -> Option<String> {
    /// 16 lower-case hex digits, without the formatting machinery (this runs whenever a span
    /// is put in a `Context`).
    fn push_hex16(out: &mut String, n: u64) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 16];
        for (i, digit) in hex.iter_mut().enumerate() {
            *digit = DIGITS[((n >> ((15 - i) * 4)) & 0xf) as usize];
        }
        out.push_str(std::str::from_utf8(&hex).unwrap_or_default());
    }
    let safe = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    };
    if d.origin.is_some() || d.tracestate.is_some() {
        return None;
    }
    let mut out = String::with_capacity(80);
    if let Some(p) = d.priority {
        out.push_str(match p.get() {
            -1 => "s:-1;",
            0 => "s:0;",
            1 => "s:1;",
            2 => "s:2;",
            _ => "",
        });
        if out.is_empty() {
            use std::fmt::Write as _;
            let _ = write!(out, "s:{p};");
        }
    }
    out.push_str("p:");
    push_hex16(&mut out, span_id.get());
    for (k, v) in d.tags.iter() {
        let name = k.strip_prefix(tags::PROPAGATED_PREFIX)?;
        if !safe(name) || !safe(v) {
            return None;
        }
        out.push_str(";t.");
        out.push_str(name);
        out.push(':');
        out.push_str(v);
    }
    if trace_id.high() != 0 {
        out.push_str(";t.tid:");
        push_hex16(&mut out, trace_id.high());
    }
    (out.len() <= 256).then_some(out)
}

impl Drop for Trace {
    fn drop(&mut self) {
        let st = self.state.get_mut();
        if !st.finished.is_empty() {
            let pending = take_chunk(&self.shared, self.trace_id, self.root_id, st);
            self.shared.export(pending);
        }
        if *self.registered.get_mut() {
            self.shared
                .registry
                .remove(self.trace_id, self as *const Trace);
        }
    }
}

/// Captures the `tracestate` header of an injection, ignoring the rest.
#[derive(Default)]
struct TracestateOnly(Option<String>);

impl ddtrace_propagation::Carrier for TracestateOnly {
    fn get(&self, _key: &str) -> Option<&str> {
        None
    }
    fn set(&mut self, key: &str, value: String) {
        if key == "tracestate" {
            self.0 = Some(value);
        }
    }
    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// The `tracestate` header an injection of `span_id` would write.
pub(crate) fn w3c_tracestate(
    w3c: &Propagator,
    trace_id: TraceId,
    span_id: SpanId,
    d: &Decision,
) -> Option<String> {
    let mut carrier = TracestateOnly::default();
    let cx = InjectContext::new(trace_id, span_id)
        .with_priority(d.priority)
        .with_origin(d.origin.as_deref())
        .with_tags(&d.tags)
        .with_tracestate(d.tracestate.as_deref());
    w3c.inject(&cx, &mut carrier);
    carrier.0
}

pub(crate) fn otel_trace_id(id: TraceId) -> opentelemetry::trace::TraceId {
    opentelemetry::trace::TraceId::from_bytes(id.as_u128().to_be_bytes())
}

pub(crate) fn otel_span_id(id: SpanId) -> opentelemetry::trace::SpanId {
    opentelemetry::trace::SpanId::from_bytes(id.get().to_be_bytes())
}

pub(crate) fn dd_trace_id(id: opentelemetry::trace::TraceId) -> TraceId {
    TraceId::from_u128(u128::from_be_bytes(id.to_bytes()))
}

pub(crate) fn dd_span_id(id: opentelemetry::trace::SpanId) -> Option<SpanId> {
    SpanId::new(u64::from_be_bytes(id.to_bytes()))
}

/// The decision inherited from an extracted context.
pub(crate) fn inherited_decision(extracted: &Extracted, shared: &Shared) -> Decision {
    let mut d = Decision::default();
    if let Some(cx) = &extracted.context {
        d.priority = cx.priority;
        d.tags = cx.tags.clone();
        d.tags.remove(tags::TRACE_ID_HIGH);
        d.origin = cx.origin.clone();
        d.tracestate = cx.tracestate.clone();
        d.last_parent_id = cx.last_parent_id.clone();
        if let Some(p) = &cx.last_parent_id {
            d.root_meta
                .push((Str::from_static(tags::PARENT_ID), p.clone()));
        }
        if let Some(e) = &cx.propagation_error {
            d.root_meta
                .push((Str::from_static(tags::PROPAGATION_ERROR), e.clone()));
        }
    }
    let keys = shared.propagator.config().baggage_tag_keys();
    for (k, v) in extracted.baggage.span_tags(keys) {
        d.root_meta.push((Str::from(k), Str::copy_from(v)));
    }
    d
}

/// Hasher for trace ids, which are random already.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = ((i as u64) ^ ((i >> 64) as u64)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type Shard = Mutex<HashMap<u128, Weak<Trace>, BuildHasherDefault<IdHasher>>>;

const SHARDS: usize = 64;

/// Live local traces by trace id, so that a child started from a parent's `SpanContext` (all
/// the OTel `Context` exposes) joins its parent's local trace. Sharded by trace id: threads
/// working on different traces rarely meet on a lock, and there is no process-wide lock.
/// Entries are weak: a trace lives as long as one of its spans (or a context holding one).
///
/// Two local roots of the same trace alive at once (one service called twice in parallel
/// within a trace) share the entry: the later root replaces it, so children of the earlier
/// one that start afterwards join the later local trace. Their ids, parents and sampling
/// (inherited from the same upstream) stay right; only the grouping into chunks differs.
///
/// Each thread remembers the trace it last found: most spans start as children of the trace
/// their thread is working on, and then take no shard lock after the first. The memory is valid
/// only while no entry was replaced (a replacement bumps `replacements`) and only for this
/// registry's traces.
#[derive(Debug)]
pub(crate) struct Registry {
    shards: Box<[Shard]>,
    /// How many times an entry was replaced by another live local root of the same trace.
    replacements: AtomicU64,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            replacements: AtomicU64::new(0),
        }
    }
}

/// The trace a thread last found: (trace id, `replacements` then, the trace).
struct LastTrace {
    id: u128,
    replacements: u64,
    trace: Weak<Trace>,
}

thread_local! {
    static LAST_TRACE: std::cell::RefCell<Option<LastTrace>> =
        const { std::cell::RefCell::new(None) };
}

impl Registry {
    fn shard(&self, id: TraceId) -> &Shard {
        let mut h = IdHasher::default();
        h.write_u128(id.as_u128());
        let index = (h.finish() >> 58) as usize % SHARDS;
        &self.shards[index]
    }

    pub(crate) fn get(&self, id: TraceId) -> Option<Arc<Trace>> {
        if let Some(trace) = self.remembered(id) {
            return Some(trace);
        }
        let trace = self
            .shard(id)
            .lock()
            .get(&id.as_u128())
            .and_then(Weak::upgrade)?;
        self.remember(id, &trace);
        Some(trace)
    }

    /// This thread's last trace, if it is the live trace `id` of this registry and no entry
    /// was replaced since.
    fn remembered(&self, id: TraceId) -> Option<Arc<Trace>> {
        let replacements = self.replacements.load(Ordering::Acquire);
        LAST_TRACE
            .try_with(|last| {
                let last = last.borrow();
                let last = last
                    .as_ref()
                    .filter(|l| l.id == id.as_u128() && l.replacements == replacements)?;
                let trace = last.trace.upgrade()?;
                std::ptr::eq(&trace.shared.registry, self).then_some(trace)
            })
            .ok()
            .flatten()
    }

    fn remember(&self, id: TraceId, trace: &Arc<Trace>) {
        let replacements = self.replacements.load(Ordering::Acquire);
        let _ = LAST_TRACE.try_with(|last| {
            let previous = last.borrow_mut().replace(LastTrace {
                id: id.as_u128(),
                replacements,
                trace: Arc::downgrade(trace),
            });
            drop(previous); // outside the borrow (it frees at most a trace's allocation)
        });
    }

    fn insert(&self, id: TraceId, trace: &Arc<Trace>) {
        let replaced = self
            .shard(id)
            .lock()
            .insert(id.as_u128(), Arc::downgrade(trace))
            .is_some_and(|old| old.strong_count() > 0);
        if replaced {
            self.replacements.fetch_add(1, Ordering::AcqRel);
        }
        // Not remembered here: a trace that gets children is remembered at its first child's
        // lookup, and a one-span trace (the common local root without children) costs no
        // weak reference count.
    }

    fn remove(&self, id: TraceId, trace: *const Trace) {
        // One lookup: the entry is removed only if it is still this trace's.
        if let Entry::Occupied(entry) = self.shard(id).lock().entry(id.as_u128()) {
            if std::ptr::eq(entry.get().as_ptr(), trace) {
                entry.remove();
            }
        }
    }

    /// Every live trace (for shutdown).
    pub(crate) fn live(&self) -> Vec<Arc<Trace>> {
        self.shards
            .iter()
            .flat_map(|s| {
                s.lock()
                    .values()
                    .filter_map(Weak::upgrade)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

/// The finished spans of one local trace (or part of it), not yet mapped.
#[derive(Debug)]
pub(crate) struct PendingTrace {
    pub(crate) context: Arc<ChunkContext>,
    pub(crate) trace_id: TraceId,
    pub(crate) root_id: SpanId,
    pub(crate) records: Vec<SpanRecord>,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) decision: Arc<Decision>,
}

impl PendingTrace {
    /// A pending trace of these parts (for the crate's tests).
    #[cfg(test)]
    pub(crate) fn for_tests(
        config: Arc<BridgeConfig>,
        sampler: Arc<Sampler>,
        trace_id: TraceId,
        root_id: SpanId,
        records: Vec<SpanRecord>,
        attributes: Vec<KeyValue>,
        decision: Arc<Decision>,
    ) -> PendingTrace {
        PendingTrace {
            context: Arc::new(ChunkContext::new(config, sampler)),
            trace_id,
            root_id,
            records,
            attributes,
            decision,
        }
    }

    /// An empty pending trace with room for `records` spans and `attributes` attributes
    /// (for the crate's tests).
    #[cfg(test)]
    pub(crate) fn empty_for_tests(
        context: Arc<ChunkContext>,
        records: usize,
        attributes: usize,
    ) -> Box<PendingTrace> {
        Box::new(PendingTrace {
            context,
            trace_id: TraceId::from_u128(1),
            root_id: SpanId::new(1).expect("non-zero"),
            records: Vec::with_capacity(records),
            attributes: Vec::with_capacity(attributes),
            decision: Arc::default(),
        })
    }

    /// Gives the box back for the next trace (the recycler empties it).
    fn recycle(self: Box<Self>) {
        // A reference of the worker's own: the box's goes into the recycler with it. The
        // application threads do not touch this count while they reuse boxes.
        let context = Arc::clone(&self.context);
        context.recycler.give(self);
    }
}

/// The heap bytes an attribute value may hold beyond its `KeyValue`: the text of a string
/// (counted even when it is static or shared: the API does not say, and a large value, the
/// one that matters to the queue's byte bound, is an owned copy), an array's elements.
/// Keys are not counted: they are almost always static (semantic-convention names).
fn value_heap_bytes(value: &Value) -> usize {
    use opentelemetry::{Array, StringValue};
    match value {
        Value::String(s) => s.as_str().len(),
        Value::Array(Array::Bool(v)) => v.capacity() + 16,
        Value::Array(Array::I64(v)) => v.capacity() * 8 + 16,
        Value::Array(Array::F64(v)) => v.capacity() * 8 + 16,
        Value::Array(Array::String(v)) => {
            v.capacity() * std::mem::size_of::<StringValue>()
                + v.iter().map(|s| s.as_str().len()).sum::<usize>()
                + 16
        }
        _ => 0,
    }
}

impl PendingChunk for PendingTrace {
    fn span_count(&self) -> usize {
        self.records.len()
    }

    fn size_hint(&self) -> usize {
        // What the pending chunk holds on the heap: its box, the two vectors at their
        // capacity, the text of its string values, the strings of names, events and links,
        // and the decision, each allocation with the allocator's overhead.
        const BLOCK: usize = 16;
        fn attributes_bytes(attrs: &Vec<KeyValue>) -> usize {
            attrs.capacity() * std::mem::size_of::<KeyValue>()
                + attrs
                    .iter()
                    .map(|kv| value_heap_bytes(&kv.value))
                    .sum::<usize>()
                + BLOCK
        }
        let records: usize = self
            .records
            .iter()
            .map(|r| {
                let owned_name = match &r.name {
                    std::borrow::Cow::Owned(n) => n.capacity() + BLOCK,
                    std::borrow::Cow::Borrowed(_) => 0,
                };
                let Some(extras) = &r.extras else {
                    return owned_name;
                };
                let events = if extras.events.is_empty() {
                    0
                } else {
                    extras.events.capacity() * std::mem::size_of::<opentelemetry::trace::Event>()
                        + extras
                            .events
                            .iter()
                            .map(|e| e.name.len() + BLOCK + attributes_bytes(&e.attributes))
                            .sum::<usize>()
                };
                let links = if extras.links.is_empty() {
                    0
                } else {
                    extras.links.capacity() * std::mem::size_of::<opentelemetry::trace::Link>()
                        + extras
                            .links
                            .iter()
                            .map(|l| attributes_bytes(&l.attributes) + 64)
                            .sum::<usize>()
                };
                let status = extras.error_description.len();
                owned_name
                    + std::mem::size_of::<crate::span::Extras>()
                    + BLOCK
                    + events
                    + links
                    + status
            })
            .sum();
        // A decision is shared by the consecutive traces of a thread that decided alike:
        // each counts its share as it is queued (the shares of N queued traces add up to
        // about ln N decisions, not N).
        let decision = (std::mem::size_of::<Decision>()
            + self.decision.tags.len() * (2 * std::mem::size_of::<Str>() + 32)
            + self.decision.root_meta.len() * (2 * std::mem::size_of::<Str>() + 64)
            + self.decision.root_metrics.len() * 24
            + 4 * BLOCK)
            / Arc::strong_count(&self.decision).max(1);
        std::mem::size_of::<PendingTrace>()
            + BLOCK
            + self.records.capacity() * std::mem::size_of::<SpanRecord>()
            + BLOCK
            + attributes_bytes(&self.attributes)
            + records
            + decision
    }

    fn write_to(mut self: Box<Self>, sink: &mut dyn ChunkSink) -> usize {
        if let Some(spans) = crate::view::write_view(&mut self, sink) {
            self.recycle();
            return spans;
        }
        let chunk = self.into_chunk();
        if !chunk.spans.is_empty() {
            sink.push_chunk(&chunk);
        }
        chunk.spans.len()
    }

    fn into_chunk(mut self: Box<Self>) -> TraceChunk {
        let (trace_id, root_id) = (self.trace_id, self.root_id);
        let mut records = std::mem::take(&mut self.records);
        let mut attribute_buffer = std::mem::take(&mut self.attributes);
        // The box keeps its reference for the recycler; the chunk's tags are copied from the
        // decision (this is the rare path: see `write_to`).
        let mut decision = Arc::clone(&self.decision);
        let context = Arc::clone(&self.context);
        let (config, sampler) = (&*context.config, &*context.sampler);
        // The attributes are taken in order: each record's range follows the previous one's.
        let mut attributes = attribute_buffer.drain(..);
        let mut keys = mapping::Interner::new();
        let mut spans = Vec::with_capacity(records.len());
        for record in records.drain(..) {
            let parent_service = record.parent_is_local.then(|| {
                record
                    .inherited_service()
                    .cloned()
                    .unwrap_or_else(|| config.service.clone())
            });
            let (from, to) = record.attributes_range;
            let count = to.saturating_sub(from) as usize;
            let mut span = mapping::map_span(
                record,
                attributes.by_ref().take(count),
                count,
                trace_id,
                config,
                &mut keys,
            );
            let top_level = match &parent_service {
                None => true,
                Some(parent) => *parent != span.service,
            };
            if top_level {
                span.set_metric(tags::TOP_LEVEL, 1.0);
            }
            spans.push(span);
        }
        drop(keys);
        drop(attributes);
        self.records = records;
        self.attributes = attribute_buffer;
        context.recycler.give(self);
        // Local root first, then by start (span-model.md §4); stable, so spans that start at
        // the same time stay in the order they ended.
        spans.sort_by_key(|s| (s.span_id != root_id, s.start));
        if let Some(root) = spans.first_mut().filter(|s| s.span_id == root_id) {
            // sampling.md §2 item 3: a decision nobody has seen yet (no injection, no
            // partial flush, not manual, not inherited) is taken again with the root's final
            // service, name, resource and tags.
            if let (Some(provisional), false, false) =
                (&decision.provisional, decision.locked, decision.manual)
            {
                let last = sampler.resample_root(&RootSpanInfo::from_span(root), provisional);
                // The same outcome leaves the decision as it is (it may be shared with other
                // traces of the thread that started this one: see `sampled_decision`).
                if last != *provisional {
                    let decision = Arc::make_mut(&mut decision);
                    decision.root_metrics.clear();
                    decision.apply_sampler(&last);
                }
            }
            for (k, v) in &decision.root_meta {
                root.set_meta(k.clone(), v.clone());
            }
            for (k, v) in &decision.root_metrics {
                root.set_metric(*k, *v);
            }
            if let Some(p) = decision.priority {
                root.set_metric(tags::SAMPLING_PRIORITY, f64::from(p.get()));
            }
            root.set_meta(tags::RUNTIME_ID, config.runtime_id.clone());
            root.set_metric(tags::PROCESS_ID, f64::from(config.process_id));
        }
        if let Some(first) = spans.first_mut() {
            first.set_meta(tags::LANGUAGE, "rust");
            for (k, v) in &config.first_span_tags {
                first.set_meta(k.clone(), v.clone());
            }
        }
        let mut chunk = TraceChunk::new(spans);
        chunk.priority = decision.priority;
        let priority = decision.priority;
        // The last owner moves the tags; a decision still shared copies them.
        (chunk.origin, chunk.tags) = match Arc::try_unwrap(decision) {
            Ok(d) => (d.origin, d.tags),
            Err(shared) => (shared.origin.clone(), shared.tags.clone()),
        };
        if priority.is_some_and(|p| !p.is_keep()) {
            sampler.sample_spans(&mut chunk);
        }
        chunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddtrace_propagation::{PropagationConfig, Style};

    /// A provider whose chunks are mapped into the returned exporter.
    fn in_memory_provider() -> (crate::TracerProvider, crate::InMemoryExporter) {
        let exporter = crate::InMemoryExporter::new();
        let provider = crate::TracerProvider::builder()
            .with_exporter(exporter.clone())
            .build()
            .expect("provider");
        (provider, exporter)
    }

    /// Records the size hint of every chunk it is given.
    #[derive(Debug, Default)]
    struct SizeHints(Mutex<Vec<usize>>);

    impl ddtrace_model::ChunkExporter for SizeHints {
        fn export(&self, chunk: Box<dyn PendingChunk>) {
            self.0.lock().push(chunk.size_hint());
        }
        fn flush(&self, _: std::time::Duration) -> ddtrace_model::Result<()> {
            Ok(())
        }
        fn shutdown(&self, _: std::time::Duration) -> ddtrace_model::Result<()> {
            Ok(())
        }
    }

    /// The queue's byte bound holds only if large attribute values are counted: a span
    /// with a 64 KiB statement weighs at least that, an array its elements. And it binds
    /// only as early as it must if shared parts are not counted whole by every trace: a
    /// one-span trace with one number weighs less than 512 bytes.
    #[test]
    fn the_size_hint_counts_the_text_of_string_values() {
        use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
        use opentelemetry::{Array, StringValue};
        let hints = Arc::new(SizeHints::default());
        let provider = crate::TracerProvider::builder()
            .with_shared_exporter(Arc::clone(&hints) as Arc<dyn ddtrace_model::ChunkExporter>)
            .build()
            .expect("provider");
        let tracer = provider.tracer("t");
        let span = |value: Value| {
            let mut span = tracer.start("op");
            span.set_attribute(KeyValue::new("k", value));
            span.end();
        };
        span(Value::from(1));
        span(Value::from("x".repeat(64 << 10)));
        span(Value::Array(Array::String(vec![
            StringValue::from("y".repeat(10_000)),
            StringValue::from("z".repeat(10_000)),
        ])));
        span(Value::Array(Array::I64(vec![7; 1000])));
        let hints = hints.0.lock().clone();
        assert_eq!(hints.len(), 4);
        let base = hints[0];
        // Its box, record and attribute, and a share of the decision that this thread's
        // traces have in common (the whole decision would be some 680 bytes).
        assert!(base < 512, "a one-attribute span weighs {base} bytes");
        assert!(hints[1] >= base + (64 << 10), "{hints:?}");
        assert!(hints[2] >= base + 20_000, "{hints:?}");
        assert!(hints[3] >= base + 8_000, "{hints:?}");
    }

    /// A trace enters the registry when one of its span contexts is first handed out, not
    /// at its start: a local root without children takes no registry lock. Children still
    /// join it through the context, and the entry goes with the trace.
    #[test]
    fn a_trace_is_registered_when_its_context_is_first_handed_out() {
        use opentelemetry::Context;
        use opentelemetry::trace::TracerProvider as _;
        use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _};
        let (provider, exporter) = in_memory_provider();
        let tracer = provider.tracer("t");
        let registry = &provider.shared().registry;

        tracer.start("alone").end();
        let root = tracer.start("root");
        assert_eq!(registry.len(), 0, "no context asked for yet");
        let cx = Context::new().with_span(root);
        assert_eq!(
            registry.len(),
            1,
            "storing the span in a context asks for it"
        );
        let mut child = tracer.start_with_context("child", &cx);
        let _ = child.span_context();
        assert_eq!(registry.len(), 1, "the child's trace is the root's");
        child.end();
        cx.span().end();
        drop(child);
        drop(cx);
        assert_eq!(registry.len(), 0);
        let chunks = exporter.chunks();
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[1].spans.len(),
            2,
            "the child joined its parent's chunk"
        );
    }

    /// A mapped trace's box and buffers go back to the provider's recycler and, once a batch
    /// of them is back, the next traces' first finished spans take them.
    #[test]
    fn mapped_traces_return_their_buffers_for_the_next_trace() {
        use opentelemetry::trace::TracerProvider as _;
        use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _};
        let (provider, exporter) = in_memory_provider();
        let context = Arc::clone(&provider.shared().context);
        let recycler = &context.recycler;
        let tracer = provider.tracer("t");
        let trace = |attributes: i64| {
            let mut root = tracer.start("root");
            for i in 0..attributes {
                root.set_attribute(KeyValue::new("n", i));
            }
            root.end();
        };
        // A batch of boxes comes back before the application threads see any.
        let batch = (1..=64)
            .find(|_| {
                trace(30);
                recycler.ready() > 0
            })
            .expect("boxes come back in batches");
        assert_eq!(recycler.ready(), batch);
        let mut open = tracer.start("open");
        open.set_attribute(KeyValue::new("a", 1));
        open.end();
        drop(open);
        assert_eq!(recycler.ready(), batch - 1, "taken by the next trace");
        assert_eq!(recycler.kept(), batch, "and returned again");
        trace(2);
        let chunks = exporter.chunks();
        assert_eq!(chunks.len(), batch + 2);
        // Reused buffers carry nothing over: each span has only its own attributes.
        let [.., reused_a, reused_n] = &chunks[..] else {
            unreachable!()
        };
        assert_eq!(reused_a.spans[0].metrics.get("a"), Some(&1.0));
        assert_eq!(reused_a.spans[0].metrics.get("n"), None);
        assert_eq!(reused_n.spans[0].metrics.get("n"), Some(&1.0));
        assert_eq!(reused_n.spans[0].metrics.get("a"), None);

        // A kept box holds the mapped trace's reference to its decision (shared by this
        // thread's traces) until the next chunk goes out in it: the reference is dropped by
        // an application thread, not by the worker.
        let decision = || {
            LAST_SAMPLED
                .with(|l| l.borrow().clone())
                .expect("a decision")
        };
        let kept = recycler.kept();
        let references = Arc::strong_count(&decision());
        let root = tracer.start("root");
        let cx = opentelemetry::Context::new().with_span(root);
        tracer.start_with_context("child", &cx).end();
        // The open trace took a box, and holds a reference of its own.
        assert_eq!(recycler.kept(), kept - 1);
        assert_eq!(Arc::strong_count(&decision()), references + 1);
        drop(cx);
        // The chunk went out in the box, which kept its reference (the same decision), and
        // the trace's own reference went with the trace.
        assert_eq!(recycler.kept(), kept);
        assert_eq!(Arc::strong_count(&decision()), references);

        // A trace with a decision of its own (a manual drop copies the shared one) goes out
        // in a kept box with that decision, not with the one the box held.
        let ready = recycler.ready();
        assert!(ready > 0);
        let mut dropped = tracer.start("dropped");
        dropped.set_attribute(KeyValue::new(tags::MANUAL_DROP, true));
        dropped.end();
        drop(dropped);
        assert_eq!(recycler.ready(), ready - 1, "went out in a kept box");
        let chunks = exporter.chunks();
        let last = chunks.last().expect("exported");
        assert_eq!(last.spans[0].name, "internal");
        assert_eq!(last.priority, Some(SamplingPriority::USER_REJECT));
        // The box's reference to the shared decision was dropped for the trace's own.
        assert_eq!(Arc::strong_count(&decision()), references - 1);
    }

    /// A decision's fields and the bridge's counters keep off the cache lines that other
    /// threads write (see their types' documentation).
    #[test]
    fn shared_hot_data_is_cache_line_aligned() {
        assert!(std::mem::align_of::<Decision>() >= 64);
        assert!(std::mem::align_of::<Counters>() >= 64);
    }

    #[test]
    fn the_direct_dd_member_is_what_injection_writes() {
        let w3c = Propagator::new(PropagationConfig::default().with_styles([Style::TraceContext]));
        let span_id = SpanId::new(0x00ab_cdef_0123_4567).expect("non-zero");
        for trace_id in [
            TraceId::from_u128(0x1234),
            TraceId::from_u128(0x6543_0000_0000_0000_0000_0000_0000_1234),
        ] {
            for priority in [None, Some(-1), Some(0), Some(1), Some(2), Some(7)] {
                let mut d = Decision {
                    priority: priority.map(SamplingPriority::new),
                    ..Decision::default()
                };
                d.tags.insert(tags::DECISION_MAKER, Str::from_static("-4"));
                let direct = simple_dd_member(trace_id, span_id, &d).expect("simple");
                let header = w3c_tracestate(&w3c, trace_id, span_id, &d).expect("tracestate");
                assert_eq!(format!("dd={direct}"), header);
            }
        }
    }
}
