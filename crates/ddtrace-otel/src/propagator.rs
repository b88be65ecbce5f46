//! [`DatadogPropagator`]: OpenTelemetry's `TextMapPropagator` over `ddtrace-propagation`.

use std::sync::Arc;

use ddtrace_propagation::{Baggage, Carrier, Extracted, InjectContext};
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};

use crate::trace::{self, Shared};

/// Propagates Datadog trace context through OpenTelemetry's propagation API, in the styles
/// configured on the provider (`datadog`, `tracecontext`, `b3`, `b3multi`, `baggage`).
///
/// * **Extraction** returns a `Context` with the remote `SpanContext` (trace flags from the
///   upstream priority, the upstream `tracestate`) and, stored alongside it, everything else
///   Datadog needs: priority, origin, `_dd.p.*` tags, span links and baggage (also set as the
///   OTel `Baggage` of the context). A span started with that context as parent inherits them.
/// * **Injection** of a local span locks its trace's sampling decision and writes the
///   trace's current priority, origin and tags; injection of a remote context forwards it.
///   The OTel `Baggage` of the context is injected with the `baggage` style.
///
/// Install it with `opentelemetry::global::set_text_map_propagator(provider.propagator())`.
///
/// ```
/// use std::collections::HashMap;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
/// use opentelemetry::Context;
/// use ddtrace_otel::{InMemoryExporter, TracerProvider};
///
/// let exporter = InMemoryExporter::new();
/// let provider = TracerProvider::builder().with_exporter(exporter.clone()).build()?;
/// let propagator = provider.propagator();
///
/// let incoming = HashMap::from([
///     ("x-datadog-trace-id".to_owned(), "123456789".to_owned()),
///     ("x-datadog-parent-id".to_owned(), "987654321".to_owned()),
///     ("x-datadog-sampling-priority".to_owned(), "2".to_owned()),
/// ]);
/// let parent = propagator.extract(&incoming);
/// let span = provider.tracer("web").start_with_context("request", &parent);
/// let cx = Context::current_with_span(span);
///
/// let mut outgoing = HashMap::new();
/// propagator.inject_context(&cx, &mut outgoing);
/// assert_eq!(outgoing["x-datadog-trace-id"], "123456789");
/// assert_eq!(outgoing["x-datadog-sampling-priority"], "2");
/// drop(cx);
/// assert_eq!(exporter.chunks()[0].spans[0].parent_id.map(|p| p.get()), Some(987654321));
/// # Ok::<(), ddtrace_otel::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct DatadogPropagator {
    shared: Arc<Shared>,
    fields: Vec<String>,
}

impl DatadogPropagator {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let fields = shared
            .propagator
            .fields()
            .into_iter()
            .map(str::to_owned)
            .collect();
        DatadogPropagator { shared, fields }
    }
}

struct InjectorCarrier<'a>(&'a mut dyn Injector);

impl Carrier for InjectorCarrier<'_> {
    fn get(&self, _key: &str) -> Option<&str> {
        None
    }
    fn set(&mut self, key: &str, value: String) {
        self.0.set(key, value);
    }
    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
}

struct ExtractorCarrier<'a>(&'a dyn Extractor);

impl Carrier for ExtractorCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.0
            .get_all(key)
            .unwrap_or_else(|| self.0.get(key).into_iter().collect())
    }
    fn set(&mut self, _key: &str, _value: String) {}
    fn keys(&self) -> Vec<&str> {
        self.0.keys()
    }
}

fn baggage_of(cx: &Context) -> Baggage {
    cx.baggage()
        .iter()
        .map(|(k, (v, _))| (k.as_str().to_owned(), v.as_str().to_owned()))
        .collect()
}

impl TextMapPropagator for DatadogPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let propagator = &self.shared.propagator;
        let mut carrier = InjectorCarrier(injector);
        let baggage = baggage_of(cx);
        let baggage_ref = (!baggage.is_empty()).then_some(&baggage);
        let span = cx.span();
        let sc = span.span_context();
        let span_id = trace::dd_span_id(sc.span_id());
        let (true, Some(span_id)) = (sc.is_valid(), span_id) else {
            if let Some(b) = baggage_ref {
                propagator.inject_baggage(b, &mut carrier);
            }
            return;
        };
        let trace_id = trace::dd_trace_id(sc.trace_id());
        if !sc.is_remote() {
            if let Some(trace) = self.shared.registry.get(trace_id) {
                let d = trace.lock_for_injection();
                let ctx = InjectContext::new(trace_id, span_id)
                    .with_priority(d.priority)
                    .with_origin(d.origin.as_deref())
                    .with_tags(&d.tags)
                    .with_tracestate(d.tracestate.as_deref())
                    .with_baggage(baggage_ref);
                propagator.inject(&ctx, &mut carrier);
                return;
            }
        }
        // A remote context (forwarded as it is) or a span of another provider.
        let ours = cx
            .get::<Extracted>()
            .and_then(|e| e.context.as_ref())
            .filter(|c| c.trace_id == trace_id && c.parent_id == Some(span_id) && sc.is_remote());
        if let Some(c) = ours {
            if let Some(ctx) = c.to_inject_context() {
                propagator.inject(&ctx.with_baggage(baggage_ref), &mut carrier);
                return;
            }
        }
        let priority = Some(ddtrace_model::SamplingPriority::new(i32::from(
            sc.is_sampled(),
        )));
        let tracestate = sc.trace_state().header();
        let ctx = InjectContext::new(trace_id, span_id)
            .with_priority(priority)
            .with_tracestate((!tracestate.is_empty()).then_some(tracestate.as_str()))
            .with_remote(sc.is_remote())
            .with_baggage(baggage_ref);
        propagator.inject(&ctx, &mut carrier);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let extracted = self.shared.propagator.extract(&ExtractorCarrier(extractor));
        if extracted.is_empty() {
            return cx.clone();
        }
        let mut out = cx.clone();
        if let Some(c) = &extracted.context {
            if let Some(parent) = c.parent_id {
                let sampled = c.priority.is_some_and(|p| p.is_keep());
                let state = c
                    .tracestate
                    .as_deref()
                    .and_then(|s| s.parse::<TraceState>().ok())
                    .unwrap_or_default();
                let sc = SpanContext::new(
                    trace::otel_trace_id(c.trace_id),
                    trace::otel_span_id(parent),
                    if sampled {
                        TraceFlags::SAMPLED
                    } else {
                        TraceFlags::NOT_SAMPLED
                    },
                    true,
                    state,
                );
                out = out.with_remote_span_context(sc);
            }
        }
        if !extracted.baggage.is_empty() {
            let kvs: Vec<opentelemetry::KeyValue> = extracted
                .baggage
                .iter()
                .map(|(k, v)| opentelemetry::KeyValue::new(k.to_owned(), v.to_owned()))
                .collect();
            out = out.with_baggage(kvs);
        }
        out.with_value(extracted)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}
