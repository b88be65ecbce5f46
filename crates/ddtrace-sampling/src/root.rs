//! What the sampler sees of a local root span: [`RootSpanInfo`], [`TagLookup`], [`TagValue`].

use std::fmt;

use ddtrace_model::{Span, Str, TagMap, TraceId};

/// The value of a span tag as sampling rules see it: a string (meta) or a number (metric).
///
/// Integer-valued numbers match rule patterns as their decimal text (`20.0` matches `2?`);
/// other numbers match only all-`*` patterns (`sampling.md` §3.3).
///
/// ```
/// use ddtrace_model::TraceId;
/// use ddtrace_sampling::{RootSpanInfo, TagValue, TraceSamplingRule};
///
/// let rule = TraceSamplingRule::new(1.0).with_tag("retries", "2?");
/// let matches = |value| {
///     let tags = [("retries", value)];
///     rule.matches(&RootSpanInfo::new(TraceId::from_u128(1), "s", "n").with_tags(&tags))
/// };
/// assert!(matches(TagValue::Number(20.0)));
/// assert!(!matches(TagValue::Number(20.5)));
/// assert!(matches(TagValue::Str("2x")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TagValue<'a> {
    /// A string tag (Datadog `meta`).
    Str(&'a str),
    /// A numeric tag (Datadog `metrics`).
    Number(f64),
}

/// Read access to a span's tags by key, for tag patterns of sampling rules.
///
/// Implemented for [`Span`] (meta first, then metrics, as `sampling.md` §3.3 says), for
/// the two [`TagMap`]s, for arrays, vectors and slices of `(key, value)` pairs, and for [`NoTags`]. The OTel
/// bridge implements it on its own attribute storage so that nothing is copied.
///
/// ```
/// use ddtrace_sampling::{TagLookup, TagValue};
///
/// let tags = [("http.method", TagValue::Str("GET")), ("retries", TagValue::Number(3.0))];
/// assert_eq!(tags.tag("retries"), Some(TagValue::Number(3.0)));
/// assert_eq!(tags.tag("missing"), None);
/// ```
pub trait TagLookup {
    /// The value of tag `key`, if the span has it.
    fn tag(&self, key: &str) -> Option<TagValue<'_>>;
}

/// A span without tags.
///
/// ```
/// use ddtrace_sampling::{NoTags, TagLookup};
///
/// assert_eq!(NoTags.tag("anything"), None);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTags;

impl TagLookup for NoTags {
    fn tag(&self, _key: &str) -> Option<TagValue<'_>> {
        None
    }
}

impl TagLookup for [(&str, TagValue<'_>)] {
    fn tag(&self, key: &str) -> Option<TagValue<'_>> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

impl<const N: usize> TagLookup for [(&str, TagValue<'_>); N] {
    fn tag(&self, key: &str) -> Option<TagValue<'_>> {
        self[..].tag(key)
    }
}

impl TagLookup for Vec<(&str, TagValue<'_>)> {
    fn tag(&self, key: &str) -> Option<TagValue<'_>> {
        self[..].tag(key)
    }
}

impl TagLookup for TagMap<Str> {
    fn tag(&self, key: &str) -> Option<TagValue<'_>> {
        self.get(key).map(|v| TagValue::Str(v.as_str()))
    }
}

impl TagLookup for TagMap<f64> {
    fn tag(&self, key: &str) -> Option<TagValue<'_>> {
        self.get(key).map(|v| TagValue::Number(*v))
    }
}

impl TagLookup for Span {
    fn tag(&self, key: &str) -> Option<TagValue<'_>> {
        self.meta.tag(key).or_else(|| self.metrics.tag(key))
    }
}

/// The facts about a local root span that trace sampling uses.
///
/// Build it with [`RootSpanInfo::new`] and the `with_*` methods; every string is borrowed,
/// so building one costs nothing.
///
/// * `service`, `name` (the Datadog operation name), `resource`: matched by rule globs.
/// * `env`: with `service`, the key of the agent rate (`DD_ENV` or the span's `env` tag; empty
///   when there is none).
/// * `tags`: matched by the rules' tag patterns.
///
/// ```
/// use ddtrace_model::TraceId;
/// use ddtrace_sampling::{RootSpanInfo, TagValue};
///
/// let tags = [("http.status_code", TagValue::Str("200"))];
/// let root = RootSpanInfo::new(TraceId::from_u128(1), "web", "http.server.request")
///     .with_resource("GET /users")
///     .with_env("prod")
///     .with_tags(&tags);
/// assert_eq!(root.resource, "GET /users");
/// ```
#[derive(Clone, Copy)]
pub struct RootSpanInfo<'a> {
    /// The trace id; its low 64 bits feed the Knuth hash.
    pub trace_id: TraceId,
    /// The span's service.
    pub service: &'a str,
    /// The environment; empty for none.
    pub env: &'a str,
    /// The operation name.
    pub name: &'a str,
    /// The resource.
    pub resource: &'a str,
    /// The span's tags.
    pub tags: &'a dyn TagLookup,
}

impl<'a> RootSpanInfo<'a> {
    /// A root with this trace id, service and operation name; the resource defaults to the
    /// name (as for Datadog spans without a resource), no env, no tags.
    pub fn new(trace_id: TraceId, service: &'a str, name: &'a str) -> Self {
        RootSpanInfo {
            trace_id,
            service,
            env: "",
            name,
            resource: name,
            tags: &NoTags,
        }
    }

    /// Sets the resource.
    pub fn with_resource(mut self, resource: &'a str) -> Self {
        self.resource = resource;
        self
    }

    /// Sets the environment.
    pub fn with_env(mut self, env: &'a str) -> Self {
        self.env = env;
        self
    }

    /// Sets the tags.
    pub fn with_tags(mut self, tags: &'a dyn TagLookup) -> Self {
        self.tags = tags;
        self
    }

    /// The facts of a Datadog span (its `env` meta is the environment).
    pub fn from_span(span: &'a Span) -> Self {
        RootSpanInfo {
            trace_id: span.trace_id,
            service: &span.service,
            env: span
                .meta
                .get(ddtrace_model::tags::ENV)
                .map_or("", |v| v.as_str()),
            name: &span.name,
            resource: if span.resource.is_empty() {
                &span.name
            } else {
                &span.resource
            },
            tags: span,
        }
    }
}

impl fmt::Debug for RootSpanInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootSpanInfo")
            .field("trace_id", &self.trace_id)
            .field("service", &self.service)
            .field("env", &self.env)
            .field("name", &self.name)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddtrace_model::SpanId;

    #[test]
    fn span_lookup_prefers_meta_then_metrics() {
        let mut span = Span::new(TraceId::from_u128(7), SpanId::new(1).unwrap(), "op");
        span.service = "svc".into();
        span.set_meta("a", "x");
        span.set_metric("b", 2.0);
        span.set_meta("env", "prod");
        assert_eq!(span.tag("a"), Some(TagValue::Str("x")));
        assert_eq!(span.tag("b"), Some(TagValue::Number(2.0)));
        assert_eq!(span.tag("c"), None);
        let info = RootSpanInfo::from_span(&span);
        assert_eq!(
            (info.service, info.env, info.name, info.resource),
            ("svc", "prod", "op", "op")
        );
        assert_eq!(info.tags.tag("b"), Some(TagValue::Number(2.0)));
        assert!(format!("{info:?}").contains("svc"));
        assert_eq!(NoTags.tag("a"), None);
    }
}
