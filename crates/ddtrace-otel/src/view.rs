//! A pending trace written as a [`ChunkView`]: the mapping of [`mapping::map_span`] and
//! [`PendingTrace::into_chunk`](ddtrace_model::PendingChunk::into_chunk), done on borrowed
//! text.
//!
//! The exporter's worker spent most of its time building Datadog [`Span`](ddtrace_model::Span)s
//! only to encode and free them: a `TagMap` per span, a `Str` per tag, the keys interned and the
//! values shared or moved one by one. Here the tags of a chunk are borrowed from the recorded
//! attributes, the configuration and the sampling decision, in a few vectors per chunk, and the
//! encoder writes them as they are.
//!
//! What the common chunk has is handled here; a chunk with anything else (span events,
//! links, an error description, a service inherited from a parent's `service.name`, array
//! attributes, a tag whose text would have to be made, such as a non-integer HTTP status
//! code or an error message made of one, or a dropped trace when span sampling rules exist)
//! goes through `into_chunk`. Both give the same chunk, tags in the same order: the property
//! test `the_view_is_the_chunk` below compares them on generated traces, so a change to the
//! mapping made in one place only fails there.

use std::borrow::Cow;
use std::sync::Arc;

use ddtrace_model::{ChunkSink, ChunkView, KeyFilter, SpanView, TraceId, tags};
use ddtrace_sampling::{RootSpanInfo, Sampler, SamplingDecision, TagLookup, TagValue};
use opentelemetry::trace::SpanKind;
use opentelemetry::{KeyValue, Value};

use crate::config::BridgeConfig;
use crate::mapping::{self, OPERATION_NAME, RESOURCE_NAME, SERVICE_NAME, SPAN_TYPE};
use crate::span::{SpanRecord, StatusCode};
use crate::trace::{Decision, PendingTrace};

/// The tags of the spans of one chunk, span after span; the span being mapped owns the tails
/// from `meta_start` and `metrics_start`.
///
/// Setting a tag must find the key among the span's tags (a later value replaces an earlier
/// one, a string removes a number of the same key and the reverse). Keys are almost always
/// new, so each tail has a 64-bit filter of the keys it may hold: a key whose bit is clear is
/// appended without a scan.
#[derive(Default)]
struct Tags<'a> {
    meta: Vec<(&'a str, &'a str)>,
    metrics: Vec<(&'a str, f64)>,
    meta_start: usize,
    metrics_start: usize,
    meta_keys: KeyFilter,
    metrics_keys: KeyFilter,
}

impl<'a> Tags<'a> {
    fn begin_span(&mut self) {
        self.meta_start = self.meta.len();
        self.metrics_start = self.metrics.len();
        self.meta_keys = KeyFilter::EMPTY;
        self.metrics_keys = KeyFilter::EMPTY;
    }

    fn meta_index(&self, key: &str, bit: KeyFilter) -> Option<usize> {
        if !self.meta_keys.overlaps(bit) {
            return None;
        }
        self.meta[self.meta_start..]
            .iter()
            .position(|(k, _)| *k == key)
            .map(|i| i + self.meta_start)
    }

    fn metric_index(&self, key: &str, bit: KeyFilter) -> Option<usize> {
        if !self.metrics_keys.overlaps(bit) {
            return None;
        }
        self.metrics[self.metrics_start..]
            .iter()
            .position(|(k, _)| *k == key)
            .map(|i| i + self.metrics_start)
    }

    /// `Span::set_meta`: replaces a value in place, removes a metric of the same key.
    fn set_meta(&mut self, key: &'a str, value: &'a str) {
        let bit = KeyFilter::of(key);
        if let Some(i) = self.metric_index(key, bit) {
            self.metrics.remove(i);
        }
        match self.meta_index(key, bit) {
            Some(i) => self.meta[i].1 = value,
            None => {
                self.meta.push((key, value));
                self.meta_keys.add(bit);
            }
        }
    }

    /// `Span::set_metric`: replaces a value in place, removes a meta entry of the same key.
    fn set_metric(&mut self, key: &'a str, value: f64) {
        let bit = KeyFilter::of(key);
        if let Some(i) = self.meta_index(key, bit) {
            self.meta.remove(i);
        }
        match self.metric_index(key, bit) {
            Some(i) => self.metrics[i].1 = value,
            None => {
                self.metrics.push((key, value));
                self.metrics_keys.add(bit);
            }
        }
    }

    fn meta(&self, key: &str) -> Option<&'a str> {
        self.meta_index(key, KeyFilter::of(key))
            .map(|i| self.meta[i].1)
    }

    fn metric(&self, key: &str) -> Option<f64> {
        self.metric_index(key, KeyFilter::of(key))
            .map(|i| self.metrics[i].1)
    }

    /// An attribute's text as recorded on the span (meta, else a metric printed).
    fn recorded_text(&self, key: &str) -> Option<Cow<'a, str>> {
        if let Some(v) = self.meta(key) {
            return Some(Cow::Borrowed(v));
        }
        self.metric(key)
            .map(|n| Cow::Owned(mapping::number_text(n)))
    }
}

/// The span being mapped, as sampling rules see its tags.
struct SpanTags<'t, 'a>(&'t Tags<'a>);

impl TagLookup for SpanTags<'_, '_> {
    fn tag(&self, key: &str) -> Option<TagValue<'_>> {
        if let Some(v) = self.0.meta(key) {
            return Some(TagValue::Str(v));
        }
        self.0.metric(key).map(TagValue::Number)
    }
}

/// The fields of one mapped span besides its tags.
struct Fields<'a> {
    record: usize,
    service: Cow<'a, str>,
    name: Cow<'a, str>,
    resource: Cow<'a, str>,
    span_type: Cow<'a, str>,
    error: bool,
    meta_end: usize,
    metrics_end: usize,
}

/// The reserved attributes of a span (`otel-mapping.md` §4), as `mapping::Reserved`.
#[derive(Default)]
struct Reserved<'a> {
    operation_name: Option<Cow<'a, str>>,
    resource: Option<Cow<'a, str>>,
    service: Option<Cow<'a, str>>,
    span_type: Option<Cow<'a, str>>,
    analytics: Option<Option<bool>>,
    error: Option<bool>,
}

/// Whether the configuration sends every trace through `into_chunk` (array resource
/// attributes). What a trace's own records and attributes need of it is found as they are
/// mapped: a pass over them beforehand took the misses of their first reads from the
/// application thread's cache, about a tenth of the worker's time, outside the mapping that
/// overlaps them with its work.
fn config_needs_chunk(cfg: &BridgeConfig) -> bool {
    cfg.resource_attributes
        .iter()
        .any(|kv| matches!(kv.value, Value::Array(_)))
}

/// Text borrowed from the trace, or `None` for text that would have to be made (then the
/// trace goes through `into_chunk`).
fn borrowed(text: Cow<'_, str>) -> Option<&str> {
    match text {
        Cow::Borrowed(text) => Some(text),
        Cow::Owned(_) => None,
    }
}

/// `apply_attribute` of the mapping, on borrowed text; `None` for a value whose text would
/// have to be made.
fn apply<'a>(out: &mut Tags<'a>, r: &mut Reserved<'a>, kv: &'a KeyValue) -> Option<()> {
    let key = kv.key.as_str();
    let value = &kv.value;
    if matches!(value, Value::Array(_)) {
        // Arrays go through `into_chunk`.
        return None;
    }
    match key {
        OPERATION_NAME => r.operation_name = Some(value.as_str()),
        RESOURCE_NAME => r.resource = Some(value.as_str()),
        SERVICE_NAME => r.service = Some(value.as_str()),
        SPAN_TYPE => r.span_type = Some(value.as_str()),
        mapping::ANALYTICS_EVENT => r.analytics = Some(mapping::parse_bool(value)),
        mapping::HTTP_RESPONSE_STATUS_CODE | mapping::HTTP_STATUS_CODE => {
            let text = match value {
                Value::I64(code) => mapping::status_code_text(*code),
                _ => None,
            };
            let text = match text {
                Some(text) => text,
                None => borrowed(value.as_str())?,
            };
            out.set_meta(mapping::HTTP_STATUS_CODE, text);
        }
        tags::MANUAL_KEEP | tags::MANUAL_DROP | tags::MANUAL_SAMPLING_PRIORITY => {}
        "error" => r.error = Some(mapping::truthy(value)),
        _ => match value {
            Value::String(s) => out.set_meta(key, s.as_str()),
            Value::Bool(b) => out.set_meta(key, mapping::bool_text(*b)),
            Value::I64(i) => out.set_metric(key, *i as f64),
            Value::F64(f) => out.set_metric(key, *f),
            _ => log::debug!("unsupported attribute {key} dropped"),
        },
    }
    Some(())
}

/// `map_span` of the mapping for a record without extras, plus its top-level metric; `None`
/// for a record with extras, an array attribute, or a tag whose text would have to be made.
fn map_record<'a>(
    cfg: &'a BridgeConfig,
    attributes: &'a [KeyValue],
    index: usize,
    record: &'a SpanRecord,
    out: &mut Tags<'a>,
) -> Option<Fields<'a>> {
    if record.extras.is_some() {
        return None;
    }
    out.begin_span();
    for (k, v) in &cfg.global_tags {
        out.set_meta(k, v);
    }
    let mut reserved = Reserved::default();
    for kv in &cfg.resource_attributes {
        if !mapping::is_configuration_resource_key(kv.key.as_str()) {
            apply(out, &mut reserved, kv)?;
        }
    }
    // Resource attributes never set reserved fields of spans; only the span's own do.
    let mut reserved = Reserved::default();
    let (from, to) = record.attributes_range;
    for kv in attributes.get(from as usize..to as usize).unwrap_or(&[]) {
        apply(out, &mut reserved, kv)?;
    }

    let name: Cow<'a, str> = match reserved.operation_name.filter(|n| !n.is_empty()) {
        Some(name) => name,
        None => mapping::operation_name(&record.kind, |k| out.recorded_text(k)),
    };
    let resource = match reserved.resource.filter(|r| !r.is_empty()) {
        Some(r) => r,
        None if record.name.is_empty() => name.clone(),
        None => Cow::Borrowed(&*record.name),
    };
    let service = match reserved.service.filter(|s| !s.is_empty()) {
        Some(service) => {
            out.set_meta(tags::SERVICE_SOURCE, "m");
            service
        }
        None => Cow::Borrowed(cfg.service.as_str()),
    };
    if !service.eq_ignore_ascii_case(&cfg.service) {
        out.set_meta(tags::BASE_SERVICE, &cfg.service);
    }
    if let Some(env) = &cfg.env {
        out.set_meta(tags::ENV, env);
    }
    if let Some(version) = &cfg.version {
        if *service == *cfg.service {
            out.set_meta(tags::VERSION, version);
        }
    }
    let span_type: Cow<'a, str> = match reserved.span_type {
        Some(t) => t,
        None if !matches!(record.kind, SpanKind::Client) => {
            Cow::Borrowed(mapping::span_type(&record.kind, None))
        }
        None => {
            let db = out
                .recorded_text("db.system")
                .or_else(|| out.recorded_text("db.system.name"));
            Cow::Borrowed(mapping::span_type(&record.kind, db.as_deref()))
        }
    };
    out.set_meta(tags::SPAN_KIND, mapping::kind_name(&record.kind));
    if let Some(Some(b)) = reserved.analytics {
        out.set_metric(tags::ANALYTICS_SAMPLE_RATE, if b { 1.0 } else { 0.0 });
    }
    let mut error = reserved.error == Some(true);
    match record.status {
        StatusCode::Ok => error = false,
        StatusCode::Error => {
            // No extras: no exception events and no description. A message made of the
            // status code is text to make.
            error = true;
            if out.meta(tags::ERROR_MESSAGE).is_none()
                && out.meta(mapping::HTTP_STATUS_CODE).is_some()
            {
                return None;
            }
        }
        StatusCode::Unset => {}
    }
    // Top level: a local parent of another service (`into_chunk`).
    if !record.parent_is_local || *cfg.service != *service {
        out.set_metric(tags::TOP_LEVEL, 1.0);
    }
    Some(Fields {
        record: index,
        service,
        name,
        resource,
        span_type,
        error,
        meta_end: 0,
        metrics_end: 0,
    })
}

/// The decision taken again with the local root as mapped (sampling.md §2 item 3), when it
/// differs from the provisional one.
fn resample(
    sampler: &Sampler,
    trace_id: TraceId,
    root: &Fields<'_>,
    out: &Tags<'_>,
    d: &Decision,
) -> Option<SamplingDecision> {
    let (Some(provisional), false, false) = (&d.provisional, d.locked, d.manual) else {
        return None;
    };
    let resource = if root.resource.is_empty() {
        &root.name
    } else {
        &root.resource
    };
    let lookup = SpanTags(out);
    let info = RootSpanInfo::new(trace_id, &root.service, &root.name)
        .with_resource(resource)
        .with_env(out.meta(tags::ENV).unwrap_or(""))
        .with_tags(&lookup);
    let last = sampler.resample_root(&info, provisional);
    (last != *provisional).then_some(last)
}

/// The vectors of one [`write_view`], kept by its thread for the next trace, emptied and
/// with their borrowed texts relabelled `'static` (see [`relabel`]): five allocations and
/// frees per trace were about 7% of the worker's profile, most of them blocks too large for
/// glibc's per-thread cache.
#[derive(Default)]
struct Scratch {
    order: Vec<u32>,
    meta: Vec<(&'static str, &'static str)>,
    metrics: Vec<(&'static str, f64)>,
    fields: Vec<Fields<'static>>,
    spans: Vec<SpanView<'static>>,
}

/// Vectors of more elements than this are freed rather than kept (one huge trace must not
/// pin its memory).
const MAX_KEPT_ELEMENTS: usize = 4096;

impl Scratch {
    /// Keeps the vectors of one trace's mapping, emptied, for the next trace's (also when
    /// that trace goes through `into_chunk` after all).
    fn keep(&mut self, mut order: Vec<u32>, out: Tags<'_>, fields: Vec<Fields<'_>>) {
        self.meta = relabel(out.meta);
        self.metrics = relabel(out.metrics);
        self.fields = relabel(fields);
        order.clear();
        if order.capacity() <= MAX_KEPT_ELEMENTS {
            self.order = order;
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// `v`, emptied, as a vector of elements of another lifetime. Collecting an emptied vector's
/// iterator into a vector of a same-layout element type reuses its allocation (the standard
/// library's in-place collection; not guaranteed, and then this merely allocates later, as
/// without it). No element is ever converted: there are none.
fn relabel<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    if v.capacity() > MAX_KEPT_ELEMENTS {
        return Vec::new();
    }
    v.into_iter().filter_map(|_| None).collect()
}

/// Writes `p` to `sink` as a view when it needs nothing of `into_chunk`; returns the number of
/// spans written, `None` when `p` must go through `into_chunk` (then `p` is as it was, except
/// that a decision taken again at the root's end is kept and not taken a third time).
pub(crate) fn write_view(p: &mut PendingTrace, sink: &mut dyn ChunkSink) -> Option<usize> {
    if config_needs_chunk(&p.context.config) {
        return None;
    }
    // `try_with`: the worker's locals may be gone at its exit; then the vectors are new.
    let mut scratch = SCRATCH.try_with(|s| s.take()).unwrap_or_default();
    let written = write_view_with(p, sink, &mut scratch);
    let _ = SCRATCH.try_with(|s| s.set(scratch));
    written
}

fn write_view_with(
    p: &mut PendingTrace,
    sink: &mut dyn ChunkSink,
    scratch: &mut Scratch,
) -> Option<usize> {
    let PendingTrace {
        context,
        trace_id,
        root_id,
        records,
        attributes,
        decision,
        ..
    } = p;
    let (cfg, sampler) = (&*context.config, &*context.sampler);
    let (records, attributes, trace_id) = (&**records, &**attributes, *trace_id);
    if records.is_empty() {
        return Some(0);
    }
    // Local root first, then by start, stable (`into_chunk`).
    let mut order = std::mem::take(&mut scratch.order);
    order.clear();
    order.extend(0..records.len() as u32);
    order.sort_by_key(|&i| {
        let r = &records[i as usize];
        (r.span_id != *root_id, r.start_ns)
    });
    let first = order[0] as usize;
    let first_is_root = records[first].span_id == *root_id;

    let mut out = Tags {
        meta: relabel(std::mem::take(&mut scratch.meta)),
        metrics: relabel(std::mem::take(&mut scratch.metrics)),
        ..Tags::default()
    };
    out.meta.reserve(attributes.len() + records.len() * 4 + 8);
    out.metrics
        .reserve(attributes.len() / 2 + records.len() + 6);
    let mut fields: Vec<Fields<'_>> = relabel(std::mem::take(&mut scratch.fields));
    fields.reserve(records.len());
    let Some(mut root) = map_record(cfg, attributes, first, &records[first], &mut out) else {
        scratch.keep(order, out, fields);
        return None;
    };
    if first_is_root {
        if let Some(last) = resample(sampler, trace_id, &root, &out, decision) {
            let decision = Arc::make_mut(decision);
            decision.root_metrics.clear();
            decision.apply_sampler(&last);
            // Taken: `into_chunk`, if it runs after all, must not take it again.
            decision.provisional = None;
        }
    }
    let d = &**decision;
    if d.priority.is_some_and(|p| !p.is_keep()) && !sampler.span_sampler().is_empty() {
        // Span sampling rules apply to the spans of a dropped trace.
        scratch.keep(order, out, fields);
        return None;
    }
    if first_is_root {
        for (k, v) in &d.root_meta {
            out.set_meta(k, v);
        }
        for (k, v) in &d.root_metrics {
            out.set_metric(k, *v);
        }
        if let Some(priority) = d.priority {
            out.set_metric(tags::SAMPLING_PRIORITY, f64::from(priority.get()));
        }
        out.set_meta(tags::RUNTIME_ID, &cfg.runtime_id);
        out.set_metric(tags::PROCESS_ID, f64::from(cfg.process_id));
    }
    out.set_meta(tags::LANGUAGE, "rust");
    for (k, v) in &cfg.first_span_tags {
        out.set_meta(k, v);
    }
    root.meta_end = out.meta.len();
    root.metrics_end = out.metrics.len();
    fields.push(root);
    for n in 1..order.len() {
        let i = order[n] as usize;
        let Some(mut f) = map_record(cfg, attributes, i, &records[i], &mut out) else {
            scratch.keep(order, out, fields);
            return None;
        };
        f.meta_end = out.meta.len();
        f.metrics_end = out.metrics.len();
        fields.push(f);
    }

    let mut spans: Vec<SpanView<'_>> = relabel(std::mem::take(&mut scratch.spans));
    spans.reserve(fields.len());
    let (mut meta_from, mut metrics_from) = (0, 0);
    for f in &fields {
        let r = &records[f.record];
        spans.push(SpanView {
            service: &f.service,
            name: &f.name,
            resource: &f.resource,
            span_type: &f.span_type,
            trace_id,
            span_id: r.span_id,
            parent_id: r.parent_id,
            start: r.start_ns,
            duration: r.end_ns.saturating_sub(r.start_ns).max(0),
            error: f.error,
            meta: &out.meta[meta_from..f.meta_end],
            metrics: &out.metrics[metrics_from..f.metrics_end],
        });
        meta_from = f.meta_end;
        metrics_from = f.metrics_end;
    }
    sink.push_view(&ChunkView {
        spans: &spans,
        priority: d.priority,
        origin: d.origin.as_deref(),
        tags: &d.tags,
    });
    let written = spans.len();
    scratch.spans = relabel(spans);
    scratch.keep(order, out, fields);
    Some(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BridgeConfig, PartialFlush};
    use crate::span::Extras;
    use crate::trace::sampled_decision;
    use ddtrace_model::{PendingChunk, SamplingPriority, SpanId, Str, TraceChunk, TraceId};
    use ddtrace_sampling::{Sampler, SamplingConfig, SpanSamplingRule, TraceSamplingRule};
    use opentelemetry::Array;
    use proptest::prelude::*;

    /// The scratch vectors are worth keeping only if relabelling keeps their allocation.
    #[test]
    fn relabelled_vectors_keep_their_allocation() {
        let mut kept: Vec<(&'static str, &'static str)> = Vec::with_capacity(100);
        kept.push(("a", "b"));
        let address = kept.as_ptr() as usize;
        let text = String::from("borrowed");
        let mut borrowed: Vec<(&str, &str)> = relabel(kept);
        assert!(borrowed.is_empty() && borrowed.capacity() >= 100);
        borrowed.push((&text, &text));
        assert_eq!(borrowed.as_ptr() as usize, address);
        let back: Vec<(&'static str, &'static str)> = relabel(borrowed);
        assert_eq!(back.as_ptr() as usize, address);
        let huge: Vec<u32> = Vec::with_capacity(MAX_KEPT_ELEMENTS + 1);
        assert_eq!(relabel::<u32, u32>(huge).capacity(), 0);
    }

    /// Collects what a pending trace pushes, noting whether it came as a view.
    #[derive(Default)]
    struct Collect {
        chunks: Vec<TraceChunk>,
        views: usize,
    }

    impl ChunkSink for Collect {
        fn push_chunk(&mut self, chunk: &TraceChunk) {
            self.chunks.push(chunk.clone());
        }
        fn push_view(&mut self, chunk: &ChunkView<'_>) {
            self.views += 1;
            self.chunks.push(chunk.to_chunk());
        }
    }

    const KEYS: &[&str] = &[
        "http.request.method",
        "http.route",
        "http.response.status_code",
        "http.status_code",
        "http.status_text",
        "db.system",
        "db.system.name",
        "operation.name",
        "resource.name",
        "service.name",
        "span.type",
        "analytics.event",
        "error",
        "manual.keep",
        "error.message",
        "env",
        "version",
        "span.kind",
        "language",
        "_dd.top_level",
        "_dd.base_service",
        "messaging.system",
        "messaging.operation",
        "rpc.system",
        "rpc.service",
        "network.protocol.name",
        "graphql.operation.type",
        "custom.n",
        "custom.s",
    ];
    const TEXTS: &[&str] = &[
        "",
        "GET",
        "postgresql",
        "200",
        "true",
        "x",
        "Svc",
        "svc",
        "aws-api",
        "GET /x",
    ];

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => proptest::sample::select(TEXTS).prop_map(Value::from),
            4 => proptest::sample::select(vec![0i64, 1, 200, 404, 418, 500, -3]).prop_map(Value::I64),
            4 => proptest::sample::select(vec![0.0f64, 1.5]).prop_map(Value::F64),
            4 => any::<bool>().prop_map(Value::Bool),
            // Arrays (rare, as in traces) send the trace through `into_chunk` wherever they are.
            1 => proptest::sample::select(TEXTS).prop_map(|t| Value::Array(Array::String(vec![t.into()]))),
            1 => Just(Value::Array(Array::I64(vec![1, 2]))),
        ]
    }

    fn attribute() -> impl Strategy<Value = KeyValue> {
        (proptest::sample::select(KEYS), value()).prop_map(|(k, v)| KeyValue::new(k, v))
    }

    fn kind() -> impl Strategy<Value = SpanKind> {
        proptest::sample::select(vec![
            SpanKind::Server,
            SpanKind::Client,
            SpanKind::Producer,
            SpanKind::Consumer,
            SpanKind::Internal,
        ])
    }

    /// One generated span: kind, status, name, parent local, start, duration, attributes,
    /// an error description (which makes the trace go through `into_chunk`).
    type Generated = (
        SpanKind,
        u8,
        &'static str,
        bool,
        i64,
        i64,
        Vec<KeyValue>,
        bool,
    );

    fn span() -> impl Strategy<Value = Generated> {
        (
            kind(),
            0u8..3,
            proptest::sample::select(vec!["", "GET /x", "Op"]),
            any::<bool>(),
            0i64..4,
            -1i64..3,
            proptest::collection::vec(attribute(), 0..8),
            proptest::bool::weighted(0.05),
        )
    }

    #[derive(Debug)]
    struct Setup {
        service: &'static str,
        env: Option<&'static str>,
        version: Option<&'static str>,
        global: Vec<(&'static str, &'static str)>,
        first: Vec<(&'static str, &'static str)>,
        resource: Vec<KeyValue>,
        with_root: bool,
        priority: i32,
        provisional: bool,
        locked: bool,
        origin: bool,
        span_rules: bool,
    }

    fn setup() -> impl Strategy<Value = Setup> {
        let pairs = |keys: &'static [&'static str]| {
            proptest::collection::vec(
                (
                    proptest::sample::select(keys),
                    proptest::sample::select(TEXTS),
                ),
                0..3,
            )
        };
        (
            (
                proptest::sample::select(vec!["svc", "Svc", "other"]),
                proptest::option::of(Just("prod")),
                proptest::option::of(Just("1.2")),
                pairs(&["team", "env", "custom.s", "span.kind"]),
                pairs(&["_dd.git.commit.sha", "custom.s"]),
                proptest::collection::vec(attribute(), 0..3),
            ),
            (
                proptest::bool::weighted(0.8),
                proptest::sample::select(vec![-1, 0, 1, 2]),
                any::<bool>(),
                proptest::bool::weighted(0.2),
                any::<bool>(),
                any::<bool>(),
            ),
        )
            .prop_map(
                |(
                    (service, env, version, global, first, resource),
                    (with_root, priority, provisional, locked, origin, span_rules),
                )| Setup {
                    service,
                    env,
                    version,
                    global,
                    first,
                    resource,
                    with_root,
                    priority,
                    provisional,
                    locked,
                    origin,
                    span_rules,
                },
            )
    }

    fn sampler(span_rules: bool) -> Arc<Sampler> {
        let mut cfg = SamplingConfig::default();
        cfg.set_trace_rules(vec![
            TraceSamplingRule::new(0.0).with_resource("GET /x"),
            TraceSamplingRule::new(1.0).with_tag("custom.s", "x"),
            TraceSamplingRule::new(0.0).with_service("other"),
        ]);
        cfg.set_rate_limit(-1);
        if span_rules {
            cfg.set_span_rules(vec![SpanSamplingRule::new(1.0)]);
        }
        Arc::new(Sampler::new(&cfg))
    }

    /// Two identical pending traces of `spans` under `setup`.
    fn pending(setup: &Setup, spans: &[Generated]) -> (PendingTrace, PendingTrace) {
        let config = Arc::new(BridgeConfig {
            service: Str::from_static(setup.service),
            env: setup.env.map(Str::from_static),
            version: setup.version.map(Str::from_static),
            global_tags: (setup.global.iter())
                .map(|(k, v)| (Str::from_static(k), Str::from_static(v)))
                .collect(),
            first_span_tags: (setup.first.iter())
                .map(|(k, v)| (Str::from_static(k), Str::from_static(v)))
                .collect(),
            resource_attributes: setup.resource.clone(),
            trace_id_128: true,
            partial_flush: PartialFlush::Disabled,
            max_buffered_spans: 1000,
            runtime_id: Str::from_static("rt-1"),
            process_id: 42,
        });
        let trace_id = TraceId::from_parts(0x6650_f1a2_0000_0000, 0x1234_5678_9abc_def0);
        let sampler = sampler(setup.span_rules);
        let mut decision = Decision::default();
        if setup.provisional {
            let d = sampler.sample_root(&RootSpanInfo::new(trace_id, setup.service, "start"));
            decision = Decision::clone(&sampled_decision(Some(Box::new(decision)), &d));
        } else {
            decision.priority = Some(SamplingPriority::new(setup.priority));
            decision
                .tags
                .insert(tags::DECISION_MAKER, Str::from_static("-3"));
        }
        decision.locked = setup.locked;
        decision
            .root_meta
            .push((Str::from_static(tags::PARENT_ID), Str::from_static("abc")));
        if setup.origin {
            decision.origin = Some(Str::from_static("synthetics"));
        }
        let root_id = SpanId::new(if setup.with_root { 1 } else { 99 }).expect("non-zero");
        let make = || {
            let mut records = Vec::new();
            let mut attributes = Vec::new();
            for (i, (kind, status, name, local, start, duration, attrs, described)) in
                spans.iter().enumerate()
            {
                let from = attributes.len() as u32;
                attributes.extend(attrs.iter().cloned());
                let extras = described.then(|| {
                    Box::new(Extras {
                        error_description: Cow::Borrowed("boom"),
                        ..Extras::default()
                    })
                });
                records.push(SpanRecord {
                    span_id: SpanId::new(i as u64 + 1).expect("non-zero"),
                    parent_id: (i > 0).then(|| SpanId::new(1).expect("non-zero")),
                    name: Cow::Borrowed(name),
                    kind: kind.clone(),
                    start_ns: 1_000 + start,
                    end_ns: 1_000 + start + duration,
                    attributes_range: (from, attributes.len() as u32),
                    parent_is_local: *local && i > 0,
                    status: [StatusCode::Unset, StatusCode::Ok, StatusCode::Error]
                        [*status as usize],
                    extras,
                });
            }
            PendingTrace::for_tests(
                Arc::clone(&config),
                Arc::clone(&sampler),
                trace_id,
                root_id,
                records,
                attributes,
                Arc::new(decision.clone()),
            )
        };
        (make(), make())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The view and `into_chunk` describe the same chunk, tags in the same order.
        #[test]
        fn the_view_is_the_chunk(setup in setup(), spans in proptest::collection::vec(span(), 1..6)) {
            let (a, b) = pending(&setup, &spans);
            let expected = Box::new(a).into_chunk();
            let mut sink = Collect::default();
            let n = Box::new(b).write_to(&mut sink);
            prop_assert_eq!(n, expected.spans.len());
            prop_assert_eq!(sink.chunks.len(), 1);
            prop_assert_eq!(format!("{:?}", sink.chunks[0]), format!("{expected:?}"));
        }
    }

    /// A kept trace of service `svc` with a local root and nothing else configured.
    fn plain_setup() -> Setup {
        Setup {
            service: "svc",
            env: None,
            version: None,
            global: vec![],
            first: vec![],
            resource: vec![],
            with_root: true,
            priority: 1,
            provisional: true,
            locked: false,
            origin: false,
            span_rules: false,
        }
    }

    /// The common trace (no events, links or error descriptions) goes as a view.
    #[test]
    fn a_plain_trace_goes_as_a_view() {
        let setup = Setup {
            env: Some("prod"),
            ..plain_setup()
        };
        let span = |attrs: Vec<KeyValue>| (SpanKind::Server, 1, "GET /", false, 0, 1, attrs, false);
        let spans = vec![
            span(vec![KeyValue::new("http.request.method", "GET")]),
            span(vec![KeyValue::new("custom.n", 3)]),
        ];
        let (_, b) = pending(&setup, &spans);
        let mut sink = Collect::default();
        assert_eq!(Box::new(b).write_to(&mut sink), 2);
        assert_eq!(sink.views, 1);
        let root = &sink.chunks[0].spans[0];
        assert_eq!(root.name, "http.server.request");
        assert_eq!(root.metrics.get(tags::PROCESS_ID), Some(&42.0));
    }

    /// A trace whose last span has an array attribute or an error description goes through
    /// `into_chunk`, though its first spans were mapped as a view.
    #[test]
    fn a_trace_found_to_need_into_chunk_late_goes_through_it_whole() {
        let setup = plain_setup();
        let span = |start: i64, attrs: Vec<KeyValue>, described: bool| {
            (
                SpanKind::Server,
                1,
                "GET /",
                false,
                start,
                1,
                attrs,
                described,
            )
        };
        let array = KeyValue::new("custom.a", Value::Array(Array::I64(vec![1, 2])));
        for last in [span(3, vec![array], false), span(3, vec![], true)] {
            let spans = vec![
                span(0, vec![KeyValue::new("custom.n", 3)], false),
                span(1, vec![KeyValue::new("custom.s", "x")], false),
                last,
            ];
            let (a, b) = pending(&setup, &spans);
            let expected = Box::new(a).into_chunk();
            let mut sink = Collect::default();
            assert_eq!(Box::new(b).write_to(&mut sink), 3);
            assert_eq!(sink.views, 0);
            assert_eq!(format!("{:?}", sink.chunks[0]), format!("{expected:?}"));
        }
    }
}
