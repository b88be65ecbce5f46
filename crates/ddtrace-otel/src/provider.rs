//! [`TracerProvider`], its builder, and [`Tracer`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ddtrace_model::{ChunkExporter, SpanId, Str, TraceId};
use ddtrace_propagation::{Extracted, PropagationConfig, Propagator, Style};
use ddtrace_sampling::{RootSpanInfo, Sampler, SamplingConfig, TagLookup, TagValue};
use opentelemetry::trace::{SpanBuilder, SpanContext, SpanKind, TraceContextExt};
use opentelemetry::{Context, InstrumentationScope, KeyValue, Value};

use crate::clock;
use crate::config::{BridgeConfig, DEFAULT_MAX_BUFFERED_SPANS, DEFAULT_SERVICE, PartialFlush};
use crate::handoff::ChunkContext;
use crate::mapping::{self, OPERATION_NAME, RESOURCE_NAME, SERVICE_NAME};
use crate::propagator::DatadogPropagator;
use crate::span::{Extras, Span, SpanRecord, StatusCode};
use crate::trace::{self, Decision, Registry, Shared, Trace};
use crate::{Error, Result};

/// Counters of a provider, for diagnostics and tests.
///
/// ```
/// use opentelemetry::trace::{Tracer as _, TracerProvider as _};
/// use ddtrace_otel::{InMemoryExporter, TracerProvider};
///
/// let provider = TracerProvider::builder().with_exporter(InMemoryExporter::new()).build()?;
/// drop(provider.tracer("t").start("work"));
/// let stats = provider.stats();
/// assert_eq!((stats.chunks_exported, stats.spans_exported, stats.live_traces), (1, 1, 0));
/// # Ok::<(), ddtrace_otel::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeStats {
    /// Spans handed to the exporter (counted per chunk, off the span path).
    pub spans_exported: u64,
    /// Chunks handed to the exporter.
    pub chunks_exported: u64,
    /// Of those, partial chunks sent because of partial flush.
    pub partial_chunks: u64,
    /// Of those, chunks sent because a trace reached the buffered-span bound.
    pub bound_flushes: u64,
    /// Spans that ended after [`TracerProvider::shutdown`] and were dropped.
    pub spans_dropped_after_shutdown: u64,
    /// Local traces alive now (some span or context still refers to them) whose span
    /// context has been handed out (a `Context` holding one of their spans, a child, an
    /// injection): a span whose context nobody asked for cannot be joined, and is not
    /// looked after by the registry that this counts.
    pub live_traces: u64,
}

/// Builds a [`TracerProvider`].
///
/// ```
/// use ddtrace_otel::{InMemoryExporter, PartialFlush, TracerProvider};
///
/// let provider = TracerProvider::builder()
///     .with_service("checkout")
///     .with_env("prod")
///     .with_version("1.2.3")
///     .with_global_tag("team", "payments")
///     .with_partial_flush(PartialFlush::Enabled { min_spans: 500 })
///     .with_exporter(InMemoryExporter::new())
///     .build()?;
/// # Ok::<(), ddtrace_otel::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct TracerProviderBuilder {
    service: Option<Str>,
    env: Option<Str>,
    version: Option<Str>,
    global_tags: Vec<(Str, Str)>,
    first_span_tags: Vec<(Str, Str)>,
    resource: Vec<KeyValue>,
    trace_id_128: Option<bool>,
    partial_flush: PartialFlush,
    max_buffered_spans: Option<usize>,
    exporter: Option<Arc<dyn ChunkExporter>>,
    sampler: Option<Arc<Sampler>>,
    propagation: Option<PropagationConfig>,
    runtime_id: Option<Str>,
}

impl TracerProviderBuilder {
    /// The service of spans without a `service.name` attribute (`DD_SERVICE`).
    pub fn with_service(mut self, service: impl Into<Str>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// The environment, meta `env` on every span (`DD_ENV`).
    pub fn with_env(mut self, env: impl Into<Str>) -> Self {
        self.env = Some(env.into());
        self
    }

    /// The version, meta `version` on spans of the configured service (`DD_VERSION`).
    pub fn with_version(mut self, version: impl Into<Str>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// A tag on every span (`DD_TAGS`).
    pub fn with_global_tag(mut self, key: impl Into<Str>, value: impl Into<Str>) -> Self {
        self.global_tags.push((key.into(), value.into()));
        self
    }

    /// A tag on the first span of every chunk (`span-model.md` §4), e.g.
    /// `_dd.git.repository_url` and `_dd.git.commit.sha`.
    pub fn with_first_span_tag(mut self, key: impl Into<Str>, value: impl Into<Str>) -> Self {
        self.first_span_tags.push((key.into(), value.into()));
        self
    }

    /// OTel resource attributes: `service.name` (unless `unknown_service…`),
    /// `deployment.environment(.name)` and `service.version` fill the service, env and version
    /// not set otherwise; every other attribute is applied to every span like a span
    /// attribute (`otel-mapping.md` §6, §10).
    pub fn with_resource_attributes(
        mut self,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) -> Self {
        self.resource.extend(attributes);
        self
    }

    /// 128-bit trace id generation (`DD_TRACE_128_BIT_TRACEID_GENERATION_ENABLED`, default
    /// `true`).
    pub fn with_trace_id_128(mut self, enabled: bool) -> Self {
        self.trace_id_128 = Some(enabled);
        self
    }

    /// Partial flush settings (default disabled).
    pub fn with_partial_flush(mut self, partial_flush: PartialFlush) -> Self {
        self.partial_flush = partial_flush;
        self
    }

    /// The most finished spans one local trace buffers while some of its spans are still
    /// open (default 1 000, like Java's partial-flush threshold). Reaching it sends them as a
    /// partial chunk (counted in
    /// [`BridgeStats::bound_flushes`]), whatever the partial flush setting: a trace with a span
    /// that is never ended therefore holds at most this many finished spans. A span that is
    /// dropped without `end` is ended by its drop.
    pub fn with_max_buffered_spans(mut self, max: usize) -> Self {
        self.max_buffered_spans = Some(max);
        self
    }

    /// Where finished chunks go (required).
    pub fn with_exporter(mut self, exporter: impl ChunkExporter + 'static) -> Self {
        self.exporter = Some(Arc::new(exporter));
        self
    }

    /// Where finished chunks go, shared with other owners (e.g. the facade keeps the
    /// transport to feed agent rates).
    pub fn with_shared_exporter(mut self, exporter: Arc<dyn ChunkExporter>) -> Self {
        self.exporter = Some(exporter);
        self
    }

    /// The trace sampler (default: [`SamplingConfig::default`], i.e. agent rates or keep).
    pub fn with_sampler(mut self, sampler: Arc<Sampler>) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Propagation settings of [`TracerProvider::propagator`] (default:
    /// `datadog,tracecontext,baggage`).
    pub fn with_propagation(mut self, config: PropagationConfig) -> Self {
        self.propagation = Some(config);
        self
    }

    /// The process's runtime id (meta `runtime-id` on local roots; default: a new UUID v4).
    pub fn with_runtime_id(mut self, runtime_id: impl Into<Str>) -> Self {
        self.runtime_id = Some(runtime_id.into());
        self
    }

    /// Builds the provider. Fails without an exporter or with a zero span bound.
    pub fn build(self) -> Result<TracerProvider> {
        let exporter = self.exporter.ok_or(Error::NoExporter)?;
        // The span clock's first reading checks the kernel's clocksource (a sysfs read):
        // done here, at start-up, rather than in the application's first span.
        clock::now_ns();
        let max_buffered_spans = self
            .max_buffered_spans
            .unwrap_or(DEFAULT_MAX_BUFFERED_SPANS);
        if max_buffered_spans == 0 {
            return Err(Error::InvalidSetting {
                name: "max_buffered_spans",
                value: "0".into(),
                reason: "must be at least 1",
            });
        }
        let resource_text = |keys: &[&str]| {
            keys.iter().find_map(|k| {
                mapping::last_attr(&self.resource, k).map(|v| Str::from(v.as_str().into_owned()))
            })
        };
        let service = self
            .service
            .or_else(|| {
                resource_text(&[SERVICE_NAME]).filter(|s| !s.starts_with("unknown_service"))
            })
            .unwrap_or(Str::from_static(DEFAULT_SERVICE));
        let env = self
            .env
            .or_else(|| resource_text(&["deployment.environment.name", "deployment.environment"]));
        let version = self.version.or_else(|| resource_text(&["service.version"]));
        let config = BridgeConfig {
            service,
            env,
            version,
            global_tags: self.global_tags,
            first_span_tags: self.first_span_tags,
            resource_attributes: self.resource,
            trace_id_128: self.trace_id_128.unwrap_or(true),
            partial_flush: self.partial_flush,
            max_buffered_spans,
            runtime_id: self.runtime_id.unwrap_or_else(new_runtime_id),
            process_id: std::process::id(),
        };
        let sampler = self
            .sampler
            .unwrap_or_else(|| Arc::new(Sampler::new(&SamplingConfig::default())));
        let propagation = self.propagation.unwrap_or_default();
        let config = Arc::new(config);
        let shared = Arc::new(Shared {
            context: Arc::new(ChunkContext::new(Arc::clone(&config), Arc::clone(&sampler))),
            config,
            exporter,
            sampler,
            propagator: Propagator::new(propagation),
            w3c: Propagator::new(PropagationConfig::default().with_styles([Style::TraceContext])),
            registry: Registry::default(),
            counters: Default::default(),
            shut_down: AtomicBool::new(false),
        });
        Ok(TracerProvider { shared })
    }
}

/// A random UUID v4, lower-case and hyphenated.
fn new_runtime_id() -> Str {
    let hi = SpanId::generate().get();
    let lo = SpanId::generate().get();
    let hi = (hi & !0xf000) | 0x4000;
    let lo = (lo & !(0xc << 60)) | (0x8 << 60);
    Str::from(format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    ))
}

/// The Datadog implementation of OpenTelemetry's `TracerProvider`.
///
/// Cheap to clone (one `Arc`). Install it with `opentelemetry::global::set_tracer_provider`
/// or use its tracers directly. Spans of one local trace are assembled into one chunk and
/// handed to the exporter when the trace's last span ends.
///
/// ```
/// use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
/// use opentelemetry::{Context, KeyValue};
/// use ddtrace_otel::{InMemoryExporter, TracerProvider};
///
/// let exporter = InMemoryExporter::new();
/// let provider = TracerProvider::builder()
///     .with_service("web")
///     .with_exporter(exporter.clone())
///     .build()?;
/// let tracer = provider.tracer("example");
/// tracer.in_span("GET /users", |cx| {
///     cx.span().set_attribute(KeyValue::new("http.request.method", "GET"));
///     let mut child = tracer.start_with_context("load", &cx);
///     child.end();
/// });
/// let chunk = &exporter.chunks()[0];
/// assert_eq!(chunk.spans.len(), 2);
/// assert_eq!(chunk.spans[0].resource, "GET /users");
/// assert_eq!(chunk.spans[1].parent_id, Some(chunk.spans[0].span_id));
/// provider.shutdown()?;
/// # Ok::<(), ddtrace_otel::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TracerProvider {
    shared: Arc<Shared>,
}

impl TracerProvider {
    /// What the provider's tracers and spans share (for the crate's tests).
    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A builder.
    pub fn builder() -> TracerProviderBuilder {
        TracerProviderBuilder::default()
    }

    /// The `TextMapPropagator` for this provider's traces (see [`DatadogPropagator`]).
    pub fn propagator(&self) -> DatadogPropagator {
        DatadogPropagator::new(self.shared.clone())
    }

    /// The trace sampler (the facade feeds it agent rates).
    pub fn sampler(&self) -> &Arc<Sampler> {
        &self.shared.sampler
    }

    /// The counters.
    pub fn stats(&self) -> BridgeStats {
        let c = &self.shared.counters;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        BridgeStats {
            spans_exported: get(&c.spans_exported),
            chunks_exported: get(&c.chunks_exported),
            partial_chunks: get(&c.partial_chunks),
            bound_flushes: get(&c.bound_flushes),
            spans_dropped_after_shutdown: get(&c.spans_dropped_after_shutdown),
            live_traces: self.shared.registry.len() as u64,
        }
    }

    /// Delivers every chunk handed to the exporter so far (waits at most 5 s).
    pub fn force_flush(&self) -> Result<()> {
        self.force_flush_with_timeout(Duration::from_secs(5))
    }

    /// Delivers every chunk handed to the exporter so far, waiting at most `timeout`.
    pub fn force_flush_with_timeout(&self, timeout: Duration) -> Result<()> {
        if self.shared.shut_down.load(Ordering::Acquire) {
            return Err(Error::ShutDown);
        }
        Ok(self.shared.exporter.flush(timeout)?)
    }

    /// Sends the finished spans of incomplete traces as partial chunks, then shuts the
    /// exporter down (waits at most 5 s). Spans ending afterwards are dropped and counted in
    /// [`BridgeStats::spans_dropped_after_shutdown`]. A second call returns
    /// [`Error::ShutDown`].
    pub fn shutdown(&self) -> Result<()> {
        self.shutdown_with_timeout(Duration::from_secs(5))
    }

    /// [`shutdown`](Self::shutdown) with a timeout.
    pub fn shutdown_with_timeout(&self, timeout: Duration) -> Result<()> {
        if self.shared.shut_down.load(Ordering::Acquire) {
            return Err(Error::ShutDown);
        }
        for trace in self.shared.registry.live() {
            trace.flush_incomplete();
        }
        if self.shared.shut_down.swap(true, Ordering::AcqRel) {
            return Err(Error::ShutDown);
        }
        Ok(self.shared.exporter.shutdown(timeout)?)
    }
}

impl opentelemetry::trace::TracerProvider for TracerProvider {
    type Tracer = Tracer;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> Tracer {
        Tracer {
            shared: self.shared.clone(),
            scope: Arc::new(scope),
        }
    }
}

/// The Datadog implementation of OpenTelemetry's `Tracer`; see [`TracerProvider`].
///
/// The instrumentation scope is kept but not reported (Datadog spans have no such field).
/// A span's parent is the span of the `Context` it starts with: a span of this provider
/// (the child joins its local trace), a remote context (a new local root continuing the
/// trace), or none (a new trace).
///
/// ```
/// use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer as _, TracerProvider as _};
/// use opentelemetry::{Context, KeyValue};
/// use ddtrace_otel::{InMemoryExporter, TracerProvider};
///
/// let exporter = InMemoryExporter::new();
/// let provider = TracerProvider::builder().with_exporter(exporter.clone()).build()?;
/// let tracer = provider.tracer("db");
/// let cx = Context::new().with_span(tracer.start("request"));
/// let query = tracer
///     .span_builder("SELECT users")
///     .with_kind(SpanKind::Client)
///     .with_attributes([KeyValue::new("db.system", "postgresql")])
///     .start_with_context(&tracer, &cx);
/// drop(query);
/// drop(cx);
/// let spans = &exporter.chunks()[0].spans;
/// assert_eq!(spans[1].name, "postgresql.query");
/// assert_eq!(spans[1].span_type, "sql");
/// # Ok::<(), ddtrace_otel::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Tracer {
    shared: Arc<Shared>,
    scope: Arc<InstrumentationScope>,
}

impl Tracer {
    /// The instrumentation scope this tracer was created with.
    pub fn scope(&self) -> &InstrumentationScope {
        &self.scope
    }
}

/// Start attributes as sampling rules see them.
struct Attrs<'a>(&'a [KeyValue]);

impl TagLookup for Attrs<'_> {
    fn tag(&self, key: &str) -> Option<TagValue<'_>> {
        Some(match mapping::last_attr(self.0, key)? {
            Value::String(s) => TagValue::Str(s.as_str()),
            Value::Bool(b) => TagValue::Str(if *b { "true" } else { "false" }),
            Value::I64(i) => TagValue::Number(*i as f64),
            Value::F64(f) => TagValue::Number(*f),
            _ => return None,
        })
    }
}

/// How a new span relates to what its parent context holds.
enum Parent {
    Local(Arc<Trace>, SpanId),
    Remote {
        trace_id: TraceId,
        span_id: SpanId,
        // Boxed, like below: the common variants stay small to move.
        decision: Box<Decision>,
        links: Vec<ddtrace_model::SpanLink>,
    },
    None {
        /// `None` for a new trace that inherits nothing (no extracted context).
        decision: Option<Box<Decision>>,
        links: Vec<ddtrace_model::SpanLink>,
    },
}

impl Tracer {
    fn resolve_parent(&self, parent_cx: &Context) -> Parent {
        let span = parent_cx.span();
        let sc = span.span_context();
        let extracted = parent_cx.get::<Extracted>();
        if sc.is_valid() {
            let trace_id = trace::dd_trace_id(sc.trace_id());
            let span_id = trace::dd_span_id(sc.span_id());
            if let Some(span_id) = span_id {
                if !sc.is_remote() {
                    if let Some(trace) = self.shared.registry.get(trace_id) {
                        return Parent::Local(trace, span_id);
                    }
                }
                // A remote parent: our extraction's data when it describes this context,
                // else what its flags and tracestate say.
                let ours = extracted.filter(|e| {
                    e.context
                        .as_ref()
                        .is_some_and(|c| c.trace_id == trace_id && c.parent_id == Some(span_id))
                });
                let (decision, links) = match ours {
                    Some(e) => (trace::inherited_decision(e, &self.shared), e.links.clone()),
                    None => (self.decision_from_span_context(sc), Vec::new()),
                };
                return Parent::Remote {
                    trace_id,
                    span_id,
                    decision: Box::new(decision),
                    links,
                };
            }
        }
        match extracted {
            Some(e) => Parent::None {
                decision: Some(Box::new(trace::inherited_decision(e, &self.shared))),
                links: e.links.clone(),
            },
            None => Parent::None {
                decision: None,
                links: Vec::new(),
            },
        }
    }

    /// The Datadog state of a foreign remote context (e.g. extracted by another propagator):
    /// its traceparent flags and `dd` tracestate member, read as W3C headers.
    fn decision_from_span_context(&self, sc: &SpanContext) -> Decision {
        let mut headers: HashMap<String, String> = HashMap::new();
        headers.insert(
            "traceparent".into(),
            format!(
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8()
            ),
        );
        let state = sc.trace_state().header();
        if !state.is_empty() {
            headers.insert("tracestate".into(), state);
        }
        let extracted = self.shared.w3c.extract(&headers);
        let mut d = trace::inherited_decision(&extracted, &self.shared);
        d.root_meta.clear();
        d
    }

    /// Runs the sampler for a new local root without an inherited priority.
    fn sample_root(
        &self,
        decision: Option<Box<Decision>>,
        trace_id: TraceId,
        kind: &SpanKind,
        name: &str,
        attributes: &[KeyValue],
    ) -> Arc<Decision> {
        let cfg = &self.shared.config;
        let text = |key: &str| mapping::last_attr(attributes, key).map(Value::as_str);
        let service = text(SERVICE_NAME).filter(|s| !s.is_empty());
        let op = match text(OPERATION_NAME) {
            Some(op) => Cow::Owned(op.into_owned()),
            None => mapping::operation_name(kind, text),
        };
        let resource = text(RESOURCE_NAME);
        let tags = Attrs(attributes);
        let info = RootSpanInfo::new(trace_id, service.as_deref().unwrap_or(&cfg.service), &op)
            .with_resource(resource.as_deref().unwrap_or(name))
            .with_env(cfg.env.as_deref().unwrap_or(""))
            .with_tags(&tags);
        let d = self.shared.sampler.sample_root(&info);
        trace::sampled_decision(decision, &d)
    }
}

impl opentelemetry::trace::Tracer for Tracer {
    type Span = Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Span {
        let start_ns = builder
            .start_time
            .map_or_else(clock::now_ns, clock::system_time_ns);
        let kind = builder.span_kind.unwrap_or(SpanKind::Internal);
        let attributes = builder.attributes.unwrap_or_default();
        let span_id = SpanId::generate();

        // A new local trace with this span as its root, and whether it is sampled.
        let new_root = |trace_id, decision| {
            let trace = Trace::new_root(&self.shared, trace_id, span_id, decision, &attributes);
            let sampled = trace.is_keep();
            (trace, sampled)
        };
        // (trace, parent, parent is local, sampled, inherited service, extraction links)
        let (trace, parent_id, parent_is_local, sampled, inherited_service, dd_links) =
            match self.resolve_parent(parent_cx) {
                Parent::Local(trace, parent) => {
                    let (sampled, inherited) = trace.on_start(span_id, parent, &attributes);
                    (trace, Some(parent), true, sampled, inherited, Vec::new())
                }
                Parent::Remote {
                    trace_id,
                    span_id: parent,
                    decision,
                    links,
                } => {
                    let decision = if decision.priority.is_none() {
                        let (kind, name) = (&kind, &builder.name);
                        self.sample_root(Some(decision), trace_id, kind, name, &attributes)
                    } else {
                        Arc::from(decision)
                    };
                    let (trace, sampled) = new_root(trace_id, decision);
                    (trace, Some(parent), false, sampled, None, links)
                }
                Parent::None { decision, links } => {
                    let seconds = u64::try_from(start_ns / 1_000_000_000).unwrap_or(0);
                    let trace_id = TraceId::generate(self.shared.config.trace_id_128, seconds);
                    let decision =
                        self.sample_root(decision, trace_id, &kind, &builder.name, &attributes);
                    let (trace, sampled) = new_root(trace_id, decision);
                    (trace, None, false, sampled, None, links)
                }
            };
        let mut links = builder.links.unwrap_or_default();
        links.retain(|l| l.span_context.is_valid());
        if !dd_links.is_empty() {
            // Extraction links (restart / terminated contexts) of the local root.
            for l in dd_links {
                let sc = SpanContext::new(
                    trace::otel_trace_id(l.trace_id),
                    trace::otel_span_id(l.span_id),
                    opentelemetry::trace::TraceFlags::new(l.flags.unwrap_or(0) as u8),
                    true,
                    l.tracestate.parse().unwrap_or_default(),
                );
                let attrs = l
                    .attributes
                    .iter()
                    .map(|(k, v)| KeyValue::new(k.to_string(), v.to_string()))
                    .collect();
                links.push(opentelemetry::trace::Link::new(sc, attrs, 0));
            }
        }
        let events = builder.events.unwrap_or_default();
        let extras =
            (!events.is_empty() || !links.is_empty() || inherited_service.is_some()).then(|| {
                Box::new(Extras {
                    events,
                    links,
                    error_description: Cow::Borrowed(""),
                    inherited_service,
                })
            });
        let record = SpanRecord {
            span_id,
            parent_id,
            name: builder.name,
            kind,
            start_ns,
            end_ns: start_ns,
            attributes_range: (0, 0),
            parent_is_local,
            status: StatusCode::Unset,
            extras,
        };
        Span::new(trace, record, attributes, sampled)
    }

    fn span_builder<T>(&self, name: T) -> SpanBuilder
    where
        T: Into<Cow<'static, str>>,
    {
        SpanBuilder::from_name(name)
    }
}
