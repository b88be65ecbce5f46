//! Trace and single-span sampling rules and their JSON form (`sampling.md` §3 and §8).

use ddtrace_model::Str;
use serde_json::{Map, Value};

use crate::{Error, Glob, RootSpanInfo, TagValue};

/// Setting names used in diagnostics.
pub(crate) const TRACE_RULES: &str = "DD_TRACE_SAMPLING_RULES";
pub(crate) const SPAN_RULES: &str = "DD_SPAN_SAMPLING_RULES";

/// Where a trace sampling rule comes from; it selects the decision maker and the rule's
/// place in the evaluation order (`customer`, then `dynamic`, then local rules).
///
/// ```
/// use ddtrace_sampling::Provenance;
///
/// assert_eq!(Provenance::Local.decision_maker(), "-3");
/// assert_eq!(Provenance::Customer.decision_maker(), "-11");
/// assert_eq!(Provenance::Dynamic.decision_maker(), "-12");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Provenance {
    /// Local configuration (`DD_TRACE_SAMPLING_RULES`, `DD_TRACE_SAMPLE_RATE`, code): `-3`.
    #[default]
    Local,
    /// A user rule from remote configuration: `-11`.
    Customer,
    /// A dynamic (automatically computed) remote rule: `-12`.
    Dynamic,
}

impl Provenance {
    /// The `_dd.p.dm` value of traces this rule decides.
    pub const fn decision_maker(self) -> &'static str {
        match self {
            Provenance::Local => crate::decision_maker::RULE,
            Provenance::Customer => crate::decision_maker::REMOTE_USER_RULE,
            Provenance::Dynamic => crate::decision_maker::REMOTE_DYNAMIC_RULE,
        }
    }
}

/// One trace sampling rule: optional globs on service, operation name, resource and tags,
/// and the rate applied to the traces it matches.
///
/// A field that is not set matches anything; a tag pattern requires the tag to exist.
///
/// ```
/// use ddtrace_model::TraceId;
/// use ddtrace_sampling::{RootSpanInfo, TagValue, TraceSamplingRule};
///
/// let rule = TraceSamplingRule::new(0.25).with_service("web*").with_tag("http.status_code", "5??");
/// let tags = [("http.status_code", TagValue::Number(503.0))];
/// let root = RootSpanInfo::new(TraceId::from_u128(1), "WebServer", "request").with_tags(&tags);
/// assert!(rule.matches(&root));
/// assert_eq!(rule.sample_rate(), 0.25);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSamplingRule {
    service: Option<Glob>,
    name: Option<Glob>,
    resource: Option<Glob>,
    tags: Vec<(Str, Glob)>,
    sample_rate: f64,
    provenance: Provenance,
}

impl TraceSamplingRule {
    /// A catch-all rule with this rate. A rate outside `[0, 1]` is clamped into it (and
    /// logged); NaN becomes 0.
    pub fn new(sample_rate: f64) -> Self {
        TraceSamplingRule {
            service: None,
            name: None,
            resource: None,
            tags: Vec::new(),
            sample_rate: clamp_rate(sample_rate, "trace sampling rule"),
            provenance: Provenance::Local,
        }
    }

    /// Restricts the rule to services matching `glob`.
    pub fn with_service(mut self, glob: &str) -> Self {
        self.service = Some(Glob::new(glob));
        self
    }

    /// Restricts the rule to operation names matching `glob`.
    pub fn with_name(mut self, glob: &str) -> Self {
        self.name = Some(Glob::new(glob));
        self
    }

    /// Restricts the rule to resources matching `glob`.
    pub fn with_resource(mut self, glob: &str) -> Self {
        self.resource = Some(Glob::new(glob));
        self
    }

    /// Requires tag `key` (exact key) with a value matching `glob`.
    pub fn with_tag(mut self, key: impl Into<Str>, glob: &str) -> Self {
        self.tags.push((key.into(), Glob::new(glob)));
        self
    }

    /// Sets the provenance (and so the decision maker).
    pub fn with_provenance(mut self, provenance: Provenance) -> Self {
        self.provenance = provenance;
        self
    }

    /// The rate, in `[0, 1]`.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// The provenance.
    pub fn provenance(&self) -> Provenance {
        self.provenance
    }

    /// The service glob, if any.
    pub fn service(&self) -> Option<&Glob> {
        self.service.as_ref()
    }

    /// The operation-name glob, if any.
    pub fn name(&self) -> Option<&Glob> {
        self.name.as_ref()
    }

    /// The resource glob, if any.
    pub fn resource(&self) -> Option<&Glob> {
        self.resource.as_ref()
    }

    /// The tag patterns, in order.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = (&str, &Glob)> + '_ {
        self.tags.iter().map(|(k, g)| (k.as_str(), g))
    }

    /// Whether every present field of the rule matches the root.
    pub fn matches(&self, root: &RootSpanInfo<'_>) -> bool {
        glob_ok(&self.service, root.service)
            && glob_ok(&self.name, root.name)
            && glob_ok(&self.resource, root.resource)
            && self
                .tags
                .iter()
                .all(|(key, glob)| tag_matches(glob, root.tags.tag(key)))
    }

    /// Parses the `DD_TRACE_SAMPLING_RULES` JSON.
    ///
    /// Returns the valid rules and the problems found. Invalid JSON, or JSON that is not an
    /// array, gives no rules. A rule without `sample_rate`, or with a field of the wrong type,
    /// is skipped; a rate outside `[0, 1]` is clamped. `tags` may be an object
    /// (`{"key": "glob"}`) or the remote-configuration array form
    /// (`[{"key": "k", "value_glob": "glob"}]`); numbers given as tag patterns are matched as
    /// their decimal text.
    ///
    /// ```
    /// use ddtrace_sampling::{Provenance, TraceSamplingRule};
    ///
    /// let json = r#"[{"service": "web", "sample_rate": 0.5},
    ///                {"name": "db.*"},
    ///                {"sample_rate": 1, "provenance": "customer"}]"#;
    /// let (rules, problems) = TraceSamplingRule::parse_json(json);
    /// assert_eq!(rules.len(), 2);
    /// assert_eq!(problems.len(), 1); // the rule without sample_rate
    /// assert_eq!(rules[1].provenance(), Provenance::Customer);
    /// ```
    pub fn parse_json(json: &str) -> (Vec<TraceSamplingRule>, Vec<Error>) {
        parse_list(json, TRACE_RULES, parse_trace_rule)
    }
}

/// One single-span sampling rule (`DD_SPAN_SAMPLING_RULES`): globs on service and operation
/// name, a rate on the span id, and an optional per-rule limit.
///
/// ```
/// use ddtrace_sampling::SpanSamplingRule;
///
/// let rule = SpanSamplingRule::new(1.0).with_service("web*").with_max_per_second(10.0);
/// assert!(rule.matches("webserver", "web.request"));
/// assert_eq!(rule.max_per_second(), Some(10.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SpanSamplingRule {
    service: Option<Glob>,
    name: Option<Glob>,
    sample_rate: f64,
    max_per_second: Option<f64>,
}

impl SpanSamplingRule {
    /// A rule matching every span, with this rate (clamped into `[0, 1]`) and no limit.
    pub fn new(sample_rate: f64) -> Self {
        SpanSamplingRule {
            service: None,
            name: None,
            sample_rate: clamp_rate(sample_rate, "span sampling rule"),
            max_per_second: None,
        }
    }

    /// Restricts the rule to services matching `glob`.
    pub fn with_service(mut self, glob: &str) -> Self {
        self.service = Some(Glob::new(glob));
        self
    }

    /// Restricts the rule to operation names matching `glob`.
    pub fn with_name(mut self, glob: &str) -> Self {
        self.name = Some(Glob::new(glob));
        self
    }

    /// Limits the spans this rule keeps per second (`0` keeps none; negative means no limit).
    pub fn with_max_per_second(mut self, limit: f64) -> Self {
        self.max_per_second = Some(limit);
        self
    }

    /// The rate, in `[0, 1]`.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// The limit, if any.
    pub fn max_per_second(&self) -> Option<f64> {
        self.max_per_second
    }

    /// The service glob, if any.
    pub fn service(&self) -> Option<&Glob> {
        self.service.as_ref()
    }

    /// The operation-name glob, if any.
    pub fn name(&self) -> Option<&Glob> {
        self.name.as_ref()
    }

    /// Whether a span with this service and operation name matches.
    pub fn matches(&self, service: &str, name: &str) -> bool {
        glob_ok(&self.service, service) && glob_ok(&self.name, name)
    }

    /// Parses the `DD_SPAN_SAMPLING_RULES` JSON (same error handling as
    /// [`TraceSamplingRule::parse_json`]). `sample_rate` defaults to 1; a rule that has neither
    /// `service` nor `name` is skipped, as Datadog tracers do.
    ///
    /// ```
    /// use ddtrace_sampling::SpanSamplingRule;
    ///
    /// let (rules, problems) =
    ///     SpanSamplingRule::parse_json(r#"[{"service": "web", "max_per_second": 5}, {"sample_rate": 1}]"#);
    /// assert_eq!(rules.len(), 1);
    /// assert_eq!(rules[0].sample_rate(), 1.0);
    /// assert_eq!(problems.len(), 1);
    /// ```
    pub fn parse_json(json: &str) -> (Vec<SpanSamplingRule>, Vec<Error>) {
        parse_list(json, SPAN_RULES, parse_span_rule)
    }

    pub(crate) fn parse_json_from(
        json: &str,
        setting: &'static str,
    ) -> (Vec<SpanSamplingRule>, Vec<Error>) {
        parse_list(json, setting, parse_span_rule)
    }
}

fn glob_ok(glob: &Option<Glob>, text: &str) -> bool {
    glob.as_ref().is_none_or(|g| g.matches(text))
}

/// Tag value matching (`sampling.md` §3.3): strings by glob; integer-valued numbers as their
/// decimal text; other numbers only by all-`*` patterns; a missing tag never matches.
fn tag_matches(glob: &Glob, value: Option<TagValue<'_>>) -> bool {
    match value {
        None => false,
        Some(TagValue::Str(s)) => glob.matches(s),
        Some(TagValue::Number(n)) => {
            if glob.is_match_all() {
                true
            } else if n.is_finite() && n.fract() == 0.0 {
                let mut buf = IntBuf::default();
                match buf.format(n) {
                    Some(text) => glob.matches(text),
                    None => glob.matches(&format!("{n:.0}")),
                }
            } else {
                false
            }
        }
    }
}

/// Formats integer-valued floats without allocating.
#[derive(Default)]
struct IntBuf {
    bytes: [u8; 24],
}

impl IntBuf {
    /// The decimal text of `n` if it fits an `i64` exactly (|n| < 2^63).
    fn format(&mut self, n: f64) -> Option<&str> {
        if n.abs() >= i64::MAX as f64 {
            // 2^63 and beyond do not fit.
            return None;
        }
        let v = n as i64;
        let negative = v < 0;
        let mut m = v.unsigned_abs();
        let mut i = self.bytes.len();
        loop {
            i -= 1;
            self.bytes[i] = b'0' + (m % 10) as u8;
            m /= 10;
            if m == 0 {
                break;
            }
        }
        if negative {
            i -= 1;
            self.bytes[i] = b'-';
        }
        std::str::from_utf8(&self.bytes[i..]).ok()
    }
}

fn clamp_rate(rate: f64, what: &str) -> f64 {
    if rate.is_nan() {
        log::warn!("{what}: sample rate is NaN; using 0");
        0.0
    } else if !(0.0..=1.0).contains(&rate) {
        let clamped = rate.clamp(0.0, 1.0);
        log::warn!("{what}: sample rate {rate} is outside [0, 1]; using {clamped}");
        clamped
    } else {
        rate
    }
}

type ParseOne<T> = fn(&Map<String, Value>, &mut Vec<String>) -> Result<T, String>;

fn parse_list<T>(json: &str, setting: &'static str, parse: ParseOne<T>) -> (Vec<T>, Vec<Error>) {
    let mut problems = Vec::new();
    let value: Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => {
            problems.push(Error::InvalidJson {
                setting,
                message: e.to_string(),
            });
            return (Vec::new(), problems);
        }
    };
    let Value::Array(items) = value else {
        problems.push(Error::NotAList { setting });
        return (Vec::new(), problems);
    };
    let mut rules = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Value::Object(fields) = item else {
            problems.push(Error::InvalidRule {
                setting,
                index,
                reason: "not a JSON object; skipped".into(),
            });
            continue;
        };
        let mut warnings = Vec::new();
        match parse(fields, &mut warnings) {
            Ok(rule) => rules.push(rule),
            Err(reason) => problems.push(Error::InvalidRule {
                setting,
                index,
                reason: format!("{reason}; skipped"),
            }),
        }
        problems.extend(warnings.into_iter().map(|reason| Error::InvalidRule {
            setting,
            index,
            reason,
        }));
    }
    (rules, problems)
}

fn glob_field(fields: &Map<String, Value>, key: &str) -> Result<Option<Glob>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Glob::new(s))),
        Some(other) => Err(format!("`{key}` must be a string, got {other}")),
    }
}

fn rate_field(
    fields: &Map<String, Value>,
    key: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<f64>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let rate = n.as_f64().unwrap_or(f64::NAN);
            if (0.0..=1.0).contains(&rate) {
                Ok(Some(rate))
            } else if rate.is_nan() {
                Err(format!("`{key}` {n} is not a usable number"))
            } else {
                let clamped = rate.clamp(0.0, 1.0);
                warnings.push(format!("`{key}` {n} is outside [0, 1]; using {clamped}"));
                Ok(Some(clamped))
            }
        }
        Some(other) => Err(format!("`{key}` must be a number, got {other}")),
    }
}

/// A tag pattern given as a JSON scalar: strings as they are, numbers as their text
/// (integer-valued floats without a fraction), booleans as `true`/`false`.
fn pattern_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.is_finite() && f.fract() == 0.0 => Some(format!("{f:.0}")),
            _ => Some(n.to_string()),
        },
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn tags_field(fields: &Map<String, Value>) -> Result<Vec<(Str, Glob)>, String> {
    let mut tags = Vec::new();
    match fields.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (key, value) in map {
                let text = pattern_text(value)
                    .ok_or_else(|| format!("tag `{key}`: pattern must be a string, got {value}"))?;
                tags.push((Str::from(key.clone()), Glob::new(&text)));
            }
        }
        Some(Value::Array(items)) => {
            for item in items {
                let key = item.get("key").and_then(Value::as_str);
                let glob = item.get("value_glob").and_then(pattern_text);
                match (key, glob) {
                    (Some(key), Some(glob)) => {
                        tags.push((Str::from(key.to_owned()), Glob::new(&glob)))
                    }
                    _ => {
                        return Err(format!(
                            "tag entry {item} needs string `key` and `value_glob`"
                        ));
                    }
                }
            }
        }
        Some(other) => return Err(format!("`tags` must be an object or an array, got {other}")),
    }
    Ok(tags)
}

fn parse_trace_rule(
    fields: &Map<String, Value>,
    warnings: &mut Vec<String>,
) -> Result<TraceSamplingRule, String> {
    let sample_rate =
        rate_field(fields, "sample_rate", warnings)?.ok_or("`sample_rate` is missing")?;
    let provenance = match fields.get("provenance") {
        None | Some(Value::Null) => Provenance::Local,
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "local" | "" => Provenance::Local,
            "customer" => Provenance::Customer,
            "dynamic" => Provenance::Dynamic,
            _ => {
                warnings.push(format!("unknown provenance {s:?}; using local"));
                Provenance::Local
            }
        },
        Some(other) => return Err(format!("`provenance` must be a string, got {other}")),
    };
    Ok(TraceSamplingRule {
        service: glob_field(fields, "service")?,
        name: glob_field(fields, "name")?,
        resource: glob_field(fields, "resource")?,
        tags: tags_field(fields)?,
        sample_rate,
        provenance,
    })
}

fn parse_span_rule(
    fields: &Map<String, Value>,
    warnings: &mut Vec<String>,
) -> Result<SpanSamplingRule, String> {
    let service = glob_field(fields, "service")?;
    let name = glob_field(fields, "name")?;
    if service.is_none() && name.is_none() {
        return Err("a span sampling rule needs `service` or `name`".into());
    }
    let sample_rate = rate_field(fields, "sample_rate", warnings)?.unwrap_or(1.0);
    let max_per_second = match fields.get("max_per_second") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(limit) if limit < 0.0 => {
                warnings.push(format!(
                    "`max_per_second` {n} is negative; no limit applied"
                ));
                None
            }
            Some(limit) => Some(limit),
            None => return Err(format!("`max_per_second` {n} is not a usable number")),
        },
        Some(other) => return Err(format!("`max_per_second` must be a number, got {other}")),
    };
    Ok(SpanSamplingRule {
        service,
        name,
        sample_rate,
        max_per_second,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddtrace_model::TraceId;

    fn root(tags: &dyn crate::TagLookup) -> RootSpanInfo<'_> {
        RootSpanInfo::new(TraceId::from_u128(1), "webserver", "web.request")
            .with_resource("/bar")
            .with_tags(tags)
    }

    #[test]
    fn absent_fields_match_anything_and_present_ones_must_all_match() {
        let none: [(&str, TagValue<'_>); 0] = [];
        assert!(TraceSamplingRule::new(1.0).matches(&root(&none)));
        let rule = TraceSamplingRule::new(1.0)
            .with_resource("/b*")
            .with_name("web.request.non-matching");
        assert!(!rule.matches(&root(&none)));
        let rule = TraceSamplingRule::new(1.0)
            .with_service("WEB*")
            .with_name("web.*")
            .with_resource("/?ar");
        assert!(rule.matches(&root(&none)));
    }

    #[test]
    fn tag_values_spec_rules() {
        let check = |glob: &str, value: TagValue<'_>| {
            let tags = [("tag", value)];
            TraceSamplingRule::new(0.0)
                .with_tag("tag", glob)
                .matches(&root(&tags))
        };
        assert!(check("f??", TagValue::Str("foo")));
        assert!(check("FOO", TagValue::Str("foo")));
        assert!(check("[abc]", TagValue::Str("[abc]")));
        assert!(check("2?", TagValue::Number(20.0)));
        assert!(check("2*", TagValue::Number(20.0)));
        assert!(check("20", TagValue::Number(20.0)));
        assert!(check("-1*", TagValue::Number(-100.0)));
        assert!(check("0", TagValue::Number(-0.0)));
        assert!(!check("2?", TagValue::Number(20.1)));
        assert!(!check("20.1", TagValue::Number(20.1)));
        assert!(check("*", TagValue::Number(20.1)));
        assert!(check("**", TagValue::Number(-0.5)));
        assert!(!check("*?", TagValue::Number(20.1)));
        assert!(check("*", TagValue::Number(f64::NAN)));
        assert!(!check("?", TagValue::Number(f64::INFINITY)));
        assert!(check("1e+30", TagValue::Str("1e+30")));
        assert!(check(
            "1000000000000000019884624838656",
            TagValue::Number(1e30)
        ));
        // A missing tag never matches, even `*`; keys are case-sensitive.
        let tags = [("tag", TagValue::Str("foo"))];
        assert!(
            !TraceSamplingRule::new(0.0)
                .with_tag("missing", "*")
                .matches(&root(&tags))
        );
        assert!(
            !TraceSamplingRule::new(0.0)
                .with_tag("Tag", "foo")
                .matches(&root(&tags))
        );
    }

    #[test]
    fn int_buf_formats_extremes() {
        let mut b = IntBuf::default();
        assert_eq!(b.format(0.0), Some("0"));
        assert_eq!(b.format(-9.2e18), Some("-9200000000000000000"));
        assert_eq!(b.format(1e19), None);
    }

    #[test]
    fn parse_trace_rules_full_schema() {
        let json = r#"[{"service":"s*","name":"n","resource":"r?","tags":{"a":"1","code":200,"f":2.5,"b":true},
                        "sample_rate":0.5,"provenance":"dynamic","unknown":1}]"#;
        let (rules, problems) = TraceSamplingRule::parse_json(json);
        assert!(problems.is_empty(), "{problems:?}");
        let r = &rules[0];
        assert_eq!(r.service().map(Glob::as_str), Some("s*"));
        assert_eq!(r.name().map(Glob::as_str), Some("n"));
        assert_eq!(r.resource().map(Glob::as_str), Some("r?"));
        let tags: Vec<(&str, &str)> = r.tags().map(|(k, g)| (k, g.as_str())).collect();
        // Tag patterns are independent, so their order does not matter (serde_json sorts keys).
        assert_eq!(
            tags,
            [("a", "1"), ("b", "true"), ("code", "200"), ("f", "2.5")]
        );
        assert_eq!(r.sample_rate(), 0.5);
        assert_eq!(r.provenance(), Provenance::Dynamic);
    }

    #[test]
    fn parse_trace_rules_array_tag_form() {
        let (rules, problems) = TraceSamplingRule::parse_json(
            r#"[{"tags":[{"key":"a","value_glob":"1*"}],"sample_rate":0}]"#,
        );
        assert!(problems.is_empty());
        let tags = [("a", TagValue::Str("12"))];
        assert!(rules[0].matches(&root(&tags)));
        let (rules, problems) =
            TraceSamplingRule::parse_json(r#"[{"tags":[{"key":"a"}],"sample_rate":0}]"#);
        assert!(rules.is_empty());
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn parse_errors_skip_only_the_bad_rule() {
        let json = r#"[{"service":"webserver"}, 3, {"service":1,"sample_rate":1},
                       {"sample_rate":"0.5"}, {"sample_rate":1.5}, {"sample_rate":-0.5},
                       {"sample_rate":0.1,"provenance":"elsewhere"}, {"tags":"x","sample_rate":1},
                       {"provenance":7,"sample_rate":1}, {"sample_rate":0}]"#;
        let (rules, problems) = TraceSamplingRule::parse_json(json);
        let rates: Vec<f64> = rules.iter().map(|r| r.sample_rate()).collect();
        assert_eq!(rates, [1.0, 0.0, 0.1, 0.0]);
        assert_eq!(rules[2].provenance(), Provenance::Local);
        let indexes: Vec<usize> = problems
            .iter()
            .map(|p| match p {
                Error::InvalidRule { index, .. } => *index,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(indexes, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(problems[4].to_string().contains("outside [0, 1]"));
    }

    #[test]
    fn parse_whole_list_errors() {
        let (rules, problems) = TraceSamplingRule::parse_json("[{not json");
        assert!(rules.is_empty());
        assert!(matches!(
            problems[..],
            [Error::InvalidJson {
                setting: TRACE_RULES,
                ..
            }]
        ));
        let (rules, problems) = TraceSamplingRule::parse_json(r#"{"sample_rate":1}"#);
        assert!(rules.is_empty());
        assert!(matches!(problems[..], [Error::NotAList { .. }]));
        let (rules, problems) = TraceSamplingRule::parse_json("[]");
        assert!(rules.is_empty() && problems.is_empty());
    }

    #[test]
    fn builder_rates_are_clamped() {
        assert_eq!(TraceSamplingRule::new(1.5).sample_rate(), 1.0);
        assert_eq!(TraceSamplingRule::new(-1.0).sample_rate(), 0.0);
        assert_eq!(TraceSamplingRule::new(f64::NAN).sample_rate(), 0.0);
        assert_eq!(SpanSamplingRule::new(2.0).sample_rate(), 1.0);
        assert_eq!(Provenance::default().decision_maker(), "-3");
        assert_eq!(Provenance::Customer.decision_maker(), "-11");
        assert_eq!(Provenance::Dynamic.decision_maker(), "-12");
    }

    #[test]
    fn parse_span_rules() {
        let json = r#"[{"service":"web*","name":"?eb.request","max_per_second":10},
                       {"name":"db.*","sample_rate":0.5},
                       {"sample_rate":1},
                       {"service":"x","max_per_second":-1},
                       {"service":"y","max_per_second":"many"}]"#;
        let (rules, problems) = SpanSamplingRule::parse_json(json);
        assert_eq!(rules.len(), 3);
        assert!(rules[0].matches("WEBSERVER", "web.request"));
        assert!(!rules[0].matches("webserver", "web.requests"));
        assert_eq!(rules[0].max_per_second(), Some(10.0));
        assert_eq!(rules[1].sample_rate(), 0.5);
        assert!(rules[1].service().is_none());
        assert_eq!(rules[1].name().map(Glob::as_str), Some("db.*"));
        assert_eq!(rules[2].max_per_second(), None);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
