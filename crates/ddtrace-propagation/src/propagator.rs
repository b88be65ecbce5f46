//! [`Propagator`]: the multi-style extraction and injection algorithms (propagation.md §7–10).

use ddtrace_model::{SpanLink, Str};

use crate::{
    Baggage, Carrier, ExtractBehavior, Extracted, ExtractedContext, InjectContext, InjectStatus,
    PropagationConfig, Style, b3, datadog, w3c,
};

const BAGGAGE_HEADER: &str = "baggage";

/// Reads and writes distributed-tracing headers for the configured styles.
///
/// Stateless apart from its configuration: share one instance between threads. Neither
/// operation returns an error; malformed headers are skipped as the Datadog rules say.
///
/// ```
/// use std::collections::HashMap;
/// use ddtrace_model::SpanId;
/// use ddtrace_propagation::{InjectContext, PropagationConfig, Propagator};
///
/// let propagator = Propagator::new(PropagationConfig::default());
/// let incoming: HashMap<String, String> = [
///     ("x-datadog-trace-id", "123456789"),
///     ("x-datadog-parent-id", "987654321"),
///     ("x-datadog-sampling-priority", "2"),
///     ("baggage", "user.id=doggo"),
/// ].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
///
/// let extracted = propagator.extract(&incoming);
/// let remote = extracted.context.as_ref().unwrap();
/// assert_eq!(remote.trace_id.low(), 123456789);
/// assert_eq!(extracted.baggage.get("user.id"), Some("doggo"));
///
/// // A local child span of the remote parent injects its own id.
/// let child = SpanId::new(42).unwrap();
/// let ctx = InjectContext::new(remote.trace_id, child)
///     .with_priority(remote.priority)
///     .with_tags(&remote.tags)
///     .with_tracestate(remote.tracestate.as_deref())
///     .with_baggage(Some(&extracted.baggage));
/// let mut outgoing = HashMap::new();
/// propagator.inject(&ctx, &mut outgoing);
/// assert_eq!(outgoing["x-datadog-parent-id"], "42");
/// assert_eq!(outgoing["traceparent"], "00-000000000000000000000000075bcd15-000000000000002a-01");
/// assert_eq!(outgoing["tracestate"], "dd=s:2;p:000000000000002a");
/// assert_eq!(outgoing["baggage"], "user.id=doggo");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Propagator {
    config: PropagationConfig,
}

impl Propagator {
    /// A propagator for `config`.
    pub fn new(config: PropagationConfig) -> Self {
        Propagator { config }
    }

    /// The configuration.
    pub fn config(&self) -> &PropagationConfig {
        &self.config
    }

    /// Every header name the injection styles may write (for OTel's `fields()`).
    pub fn fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for style in self.config.inject_styles() {
            match style {
                Style::Datadog => out.extend_from_slice(&datadog::FIELDS),
                Style::TraceContext => out.extend_from_slice(&w3c::FIELDS),
                Style::B3 => out.push(b3::B3),
                Style::B3Multi => out.extend_from_slice(&b3::MULTI_FIELDS),
                Style::Baggage => out.push(BAGGAGE_HEADER),
                Style::None => {}
            }
        }
        out
    }

    /// Extracts the trace context, links and baggage from `carrier` (propagation.md §7–9).
    pub fn extract(&self, carrier: &dyn Carrier) -> Extracted {
        let mut out = Extracted::default();
        let behavior = self.config.extract_behavior();
        if behavior == ExtractBehavior::Ignore {
            return out;
        }
        let mut primary: Option<ExtractedContext> = None;
        let mut links = Vec::new();
        for &style in self.config.extract_styles() {
            let Some(ctx) = self.extract_style(style, carrier) else {
                continue;
            };
            let Some(primary) = primary.as_mut() else {
                primary = Some(ctx);
                if self.config.extract_first() {
                    break;
                }
                continue;
            };
            if ctx.trace_id != primary.trace_id {
                if let Some(link) = link_to(&ctx, "terminated_context") {
                    links.push(link);
                }
            } else if style == Style::TraceContext {
                refine_with_w3c(primary, ctx);
            }
        }
        if self.config.extract_styles().contains(&Style::Baggage) {
            out.baggage = self.extract_baggage(carrier);
        }
        match behavior {
            ExtractBehavior::Restart => {
                out.links = primary
                    .as_ref()
                    .and_then(|p| link_to(p, "propagation_behavior_extract"))
                    .into_iter()
                    .collect();
            }
            _ => {
                out.context = primary;
                out.links = links;
            }
        }
        out
    }

    fn extract_style(&self, style: Style, carrier: &dyn Carrier) -> Option<ExtractedContext> {
        match style {
            Style::Datadog => datadog::extract(carrier, self.config.x_datadog_tags_max_length()),
            Style::TraceContext => w3c::extract(carrier),
            Style::B3 => b3::extract_single(carrier),
            Style::B3Multi => b3::extract_multi(carrier),
            Style::Baggage | Style::None => None,
        }
    }

    fn extract_baggage(&self, carrier: &dyn Carrier) -> Baggage {
        let Some(header) = carrier.get(BAGGAGE_HEADER) else {
            return Baggage::new();
        };
        match Baggage::from_header(header) {
            Ok(mut baggage) => {
                // Bound what a hostile header can make us keep.
                baggage.truncate(self.config.baggage_max_items());
                baggage
            }
            Err(e) => {
                log::debug!("{e}; baggage header dropped");
                Baggage::new()
            }
        }
    }

    /// Writes the headers of every injection style for `ctx` into `carrier`
    /// (propagation.md §10). The caller makes the sampling decision first.
    ///
    /// The returned status carries a `_dd.propagation_error` value for the local root when
    /// `x-datadog-tags` could not be sent.
    pub fn inject(&self, ctx: &InjectContext<'_>, carrier: &mut dyn Carrier) -> InjectStatus {
        let mut status = InjectStatus::default();
        for &style in self.config.inject_styles() {
            match style {
                Style::Datadog => {
                    status.propagation_error =
                        datadog::inject(ctx, self.config.x_datadog_tags_max_length(), carrier);
                }
                Style::TraceContext => w3c::inject(ctx, carrier),
                Style::B3 => b3::inject_single(ctx, carrier),
                Style::B3Multi => b3::inject_multi(ctx, carrier),
                Style::Baggage => {
                    if let Some(baggage) = ctx.baggage {
                        self.inject_baggage(baggage, carrier);
                    }
                }
                Style::None => {}
            }
        }
        status
    }

    /// Writes only the `baggage` header (when the `baggage` style is configured for injection),
    /// for a context without a valid span.
    pub fn inject_baggage(&self, baggage: &Baggage, carrier: &mut dyn Carrier) {
        if !self.config.inject_styles().contains(&Style::Baggage) {
            return;
        }
        let header = baggage.to_header(
            self.config.baggage_max_items(),
            self.config.baggage_max_bytes(),
        );
        if let Some(header) = header {
            carrier.set(BAGGAGE_HEADER, header);
        }
    }
}

/// §7: W3C data of the same trace refines a primary context from another style.
fn refine_with_w3c(primary: &mut ExtractedContext, w3c: ExtractedContext) {
    primary.tracestate = w3c.tracestate;
    if w3c.parent_id != primary.parent_id {
        let old = primary.parent_id.map_or(0, |p| p.get());
        primary.parent_id = w3c.parent_id;
        primary.last_parent_id = Some(
            w3c.last_parent_id
                .unwrap_or_else(|| format!("{old:016x}").into()),
        );
    }
}

/// A span link to `ctx` with attributes `reason` and `context_headers` (its style).
fn link_to(ctx: &ExtractedContext, reason: &'static str) -> Option<SpanLink> {
    let Some(span_id) = ctx.parent_id else {
        log::debug!("no span link to a {} context without parent id", ctx.style);
        return None;
    };
    let mut link = SpanLink::new(ctx.trace_id, span_id);
    link.flags = Some(u32::from(ctx.priority.is_some_and(|p| p.is_keep())));
    if let Some(ts) = &ctx.tracestate {
        link.tracestate = ts.clone();
    }
    link.attributes.insert("reason", Str::from_static(reason));
    link.attributes
        .insert("context_headers", Str::from_static(ctx.style.as_str()));
    Some(link)
}
