//! [`SamplingConfig`]: sampling settings from the environment and from code.

use crate::rules::{SPAN_RULES, TRACE_RULES};
use crate::{Error, Provenance, SpanSamplingRule, TraceSamplingRule};

const SAMPLE_RATE: &str = "DD_TRACE_SAMPLE_RATE";
const RATE_LIMIT: &str = "DD_TRACE_RATE_LIMIT";
const SPAN_RULES_FILE: &str = "DD_SPAN_SAMPLING_RULES_FILE";
const OTEL_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
const OTEL_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";

/// The default `DD_TRACE_RATE_LIMIT`: 100 rule-kept traces per second.
pub const DEFAULT_RATE_LIMIT: i64 = 100;

/// An OpenTelemetry sampler named by `OTEL_TRACES_SAMPLER`, and its Datadog meaning
/// (`otel-mapping.md` §11).
///
/// Each maps to a sample rate (`DD_TRACE_SAMPLE_RATE`): `always_on` → 1, `always_off` → 0,
/// `traceidratio` → the ratio. Datadog always respects an upstream decision, so the
/// non-parent-based samplers behave like their `parentbased_*` forms (a warning says so).
///
/// ```
/// use ddtrace_sampling::OtelSampler;
///
/// let s = OtelSampler::from_name("parentbased_traceidratio", 0.1).unwrap();
/// assert_eq!(s.sample_rate(), 0.1);
/// assert!(s.is_parent_based());
/// assert_eq!(OtelSampler::from_name("always_off", 1.0).unwrap().sample_rate(), 0.0);
/// assert!(OtelSampler::from_name("jaeger_remote", 1.0).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum OtelSampler {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio` with its ratio.
    TraceIdRatio(f64),
    /// `parentbased_always_on`.
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio` with its ratio.
    ParentBasedTraceIdRatio(f64),
}

impl OtelSampler {
    /// The sampler named `name` (ASCII case ignored); `ratio` is used by the ratio samplers.
    /// `None` for samplers without a Datadog equivalent (`jaeger_remote`, `xray`, …).
    pub fn from_name(name: &str, ratio: f64) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        Some(match name.as_str() {
            "always_on" => OtelSampler::AlwaysOn,
            "always_off" => OtelSampler::AlwaysOff,
            "traceidratio" => OtelSampler::TraceIdRatio(ratio),
            "parentbased_always_on" => OtelSampler::ParentBasedAlwaysOn,
            "parentbased_always_off" => OtelSampler::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => OtelSampler::ParentBasedTraceIdRatio(ratio),
            _ => return None,
        })
    }

    /// The equivalent `DD_TRACE_SAMPLE_RATE`.
    pub fn sample_rate(self) -> f64 {
        match self {
            OtelSampler::AlwaysOn | OtelSampler::ParentBasedAlwaysOn => 1.0,
            OtelSampler::AlwaysOff | OtelSampler::ParentBasedAlwaysOff => 0.0,
            OtelSampler::TraceIdRatio(r) | OtelSampler::ParentBasedTraceIdRatio(r) => r,
        }
    }

    /// Whether the sampler is a `parentbased_*` one. The others would mean
    /// `dd_trace_sample_ignore_parent = true` (reported by `/trace/config`), which Datadog
    /// tracers do not implement.
    pub fn is_parent_based(self) -> bool {
        matches!(
            self,
            OtelSampler::ParentBasedAlwaysOn
                | OtelSampler::ParentBasedAlwaysOff
                | OtelSampler::ParentBasedTraceIdRatio(_)
        )
    }

    fn uses_ratio(name: &str) -> bool {
        name.trim().to_ascii_lowercase().ends_with("traceidratio")
    }
}

/// The sampling settings.
///
/// Read them with [`from_env`](Self::from_env) (or [`from_lookup`](Self::from_lookup) in
/// tests), then override from code with the `set_*` methods; code wins over the environment.
///
/// | Variable | Meaning | Bad value |
/// |----------|---------|-----------|
/// | `DD_TRACE_SAMPLING_RULES` | JSON trace rules ([`TraceSamplingRule::parse_json`]) | bad JSON: no rules; bad rule: skipped |
/// | `DD_TRACE_SAMPLE_RATE` | rate of a catch-all rule after the rules | ignored |
/// | `OTEL_TRACES_SAMPLER`, `_ARG` | mapped to `DD_TRACE_SAMPLE_RATE` when that is unset | ignored / ratio 1 |
/// | `DD_TRACE_RATE_LIMIT` | rule-kept traces per second (100; 0 = none; < 0 = no limit) | 100 |
/// | `DD_SPAN_SAMPLING_RULES` | JSON single-span rules ([`SpanSamplingRule::parse_json`]) | as for trace rules |
/// | `DD_SPAN_SAMPLING_RULES_FILE` | a file with that JSON (the variable wins) | no span rules |
///
/// An empty (or blank) value counts as unset. Every problem is logged with the `log` crate
/// and kept in [`problems`](Self::problems); nothing panics.
///
/// ```
/// use std::collections::HashMap;
/// use ddtrace_sampling::SamplingConfig;
///
/// let env = HashMap::from([
///     ("DD_TRACE_SAMPLING_RULES", r#"[{"service": "web", "sample_rate": 0.5}]"#),
///     ("DD_TRACE_SAMPLE_RATE", "2"),
///     ("DD_TRACE_RATE_LIMIT", "50"),
/// ]);
/// let config = SamplingConfig::from_lookup(|k| env.get(k).map(|v| v.to_string()));
/// assert_eq!(config.trace_rules().len(), 1);
/// assert_eq!(config.sample_rate(), None); // 2 is outside [0, 1]: ignored
/// assert_eq!(config.rate_limit(), 50);
/// assert_eq!(config.problems().len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingConfig {
    trace_rules: Vec<TraceSamplingRule>,
    sample_rate: Option<f64>,
    rate_limit: i64,
    span_rules: Vec<SpanSamplingRule>,
    otel_sampler: Option<OtelSampler>,
    problems: Vec<Error>,
}

impl Default for SamplingConfig {
    /// No rules, no sample rate, limit 100, no span rules.
    fn default() -> Self {
        SamplingConfig {
            trace_rules: Vec::new(),
            sample_rate: None,
            rate_limit: DEFAULT_RATE_LIMIT,
            span_rules: Vec::new(),
            otel_sampler: None,
            problems: Vec::new(),
        }
    }
}

impl SamplingConfig {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        SamplingConfig::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads settings through `lookup` (a variable name → its value). Reads the
    /// `DD_SPAN_SAMPLING_RULES_FILE` file, if one is named and the variable is unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let mut config = SamplingConfig::default();
        let mut problems = Vec::new();

        if let Some(json) = get(TRACE_RULES) {
            let (rules, found) = TraceSamplingRule::parse_json(&json);
            config.trace_rules = rules;
            problems.extend(found);
        }

        let otel = get(OTEL_SAMPLER);
        if let Some(value) = get(SAMPLE_RATE) {
            match parse_rate(SAMPLE_RATE, &value) {
                Ok(rate) => config.sample_rate = Some(rate),
                Err(e) => problems.push(e),
            }
            if otel.is_some() {
                problems.push(Error::ConflictingSettings {
                    dd: SAMPLE_RATE,
                    otel: OTEL_SAMPLER,
                });
            }
        } else if let Some(name) = otel {
            let mut ratio = 1.0;
            if OtelSampler::uses_ratio(&name) {
                if let Some(arg) = get(OTEL_SAMPLER_ARG) {
                    match parse_rate(OTEL_SAMPLER_ARG, &arg) {
                        Ok(r) => ratio = r,
                        Err(e) => problems.push(e),
                    }
                }
            }
            match OtelSampler::from_name(&name, ratio) {
                Some(sampler) => {
                    if !sampler.is_parent_based() {
                        log::warn!(
                            "{OTEL_SAMPLER}={name}: Datadog always respects the parent's decision; \
                             using parentbased_{}",
                            name.trim().to_ascii_lowercase()
                        );
                    }
                    config.otel_sampler = Some(sampler);
                    config.sample_rate = Some(sampler.sample_rate());
                }
                None => problems.push(Error::UnsupportedOtelSampler { value: name }),
            }
        }

        if let Some(value) = get(RATE_LIMIT) {
            match parse_integer(&value) {
                Some(limit) => {
                    if limit < 0 {
                        problems.push(Error::NegativeLimit {
                            setting: RATE_LIMIT,
                            value: limit,
                        });
                    }
                    config.rate_limit = limit;
                }
                None => problems.push(Error::InvalidInteger {
                    setting: RATE_LIMIT,
                    value,
                    default: DEFAULT_RATE_LIMIT,
                }),
            }
        }

        if let Some(json) = get(SPAN_RULES) {
            if get(SPAN_RULES_FILE).is_some() {
                log::warn!("both {SPAN_RULES} and {SPAN_RULES_FILE} are set; using {SPAN_RULES}");
            }
            let (rules, found) = SpanSamplingRule::parse_json(&json);
            config.span_rules = rules;
            problems.extend(found);
        } else if let Some(path) = get(SPAN_RULES_FILE) {
            match std::fs::read_to_string(path.trim()) {
                Ok(json) => {
                    let (rules, found) = SpanSamplingRule::parse_json_from(&json, SPAN_RULES_FILE);
                    config.span_rules = rules;
                    problems.extend(found);
                }
                Err(e) => problems.push(Error::ReadFile {
                    setting: SPAN_RULES_FILE,
                    path,
                    message: e.to_string(),
                }),
            }
        }

        for problem in &problems {
            match problem {
                Error::InvalidJson { .. } | Error::NotAList { .. } | Error::ReadFile { .. } => {
                    log::error!("sampling configuration: {problem}");
                }
                _ => log::warn!("sampling configuration: {problem}"),
            }
        }
        config.problems = problems;
        config
    }

    /// Replaces the trace sampling rules.
    pub fn set_trace_rules(&mut self, rules: Vec<TraceSamplingRule>) {
        self.trace_rules = rules;
    }

    /// Sets (or clears) the global sample rate. A rate outside `[0, 1]` is refused and the
    /// previous value kept.
    ///
    /// ```
    /// use ddtrace_sampling::SamplingConfig;
    ///
    /// let mut config = SamplingConfig::default();
    /// config.set_sample_rate(Some(0.25))?;
    /// assert!(config.set_sample_rate(Some(1.5)).is_err());
    /// assert_eq!(config.sample_rate(), Some(0.25));
    /// # Ok::<(), ddtrace_sampling::Error>(())
    /// ```
    pub fn set_sample_rate(&mut self, rate: Option<f64>) -> Result<(), Error> {
        match rate {
            Some(r) if !(0.0..=1.0).contains(&r) => Err(Error::InvalidRate {
                setting: SAMPLE_RATE,
                value: r.to_string(),
            }),
            _ => {
                self.sample_rate = rate;
                Ok(())
            }
        }
    }

    /// Sets the limit of rule-kept traces per second (`0` keeps none, negative = no limit).
    pub fn set_rate_limit(&mut self, limit: i64) {
        self.rate_limit = limit;
    }

    /// Replaces the single-span sampling rules.
    pub fn set_span_rules(&mut self, rules: Vec<SpanSamplingRule>) {
        self.span_rules = rules;
    }

    /// The trace rules (without the sample-rate catch-all).
    pub fn trace_rules(&self) -> &[TraceSamplingRule] {
        &self.trace_rules
    }

    /// The global sample rate (`DD_TRACE_SAMPLE_RATE`, or the mapped OTel sampler).
    pub fn sample_rate(&self) -> Option<f64> {
        self.sample_rate
    }

    /// The rate limit.
    pub fn rate_limit(&self) -> i64 {
        self.rate_limit
    }

    /// The single-span rules.
    pub fn span_rules(&self) -> &[SpanSamplingRule] {
        &self.span_rules
    }

    /// The OTel sampler the sample rate came from, if it did.
    pub fn otel_sampler(&self) -> Option<OtelSampler> {
        self.otel_sampler
    }

    /// The problems found while reading the environment (already logged).
    pub fn problems(&self) -> &[Error] {
        &self.problems
    }

    /// The trace rules in evaluation order (`sampling.md` §3.1–§3.2): rules of provenance
    /// `customer`, then `dynamic`, then local ones, each group in its given order, then a
    /// catch-all rule for the sample rate if there is one.
    ///
    /// ```
    /// use ddtrace_sampling::{Provenance, SamplingConfig, TraceSamplingRule};
    ///
    /// let mut config = SamplingConfig::default();
    /// config.set_trace_rules(vec![
    ///     TraceSamplingRule::new(0.0),
    ///     TraceSamplingRule::new(1.0).with_provenance(Provenance::Customer),
    /// ]);
    /// config.set_sample_rate(Some(0.5))?;
    /// let rates: Vec<f64> = config.effective_trace_rules().iter().map(|r| r.sample_rate()).collect();
    /// assert_eq!(rates, [1.0, 0.0, 0.5]);
    /// # Ok::<(), ddtrace_sampling::Error>(())
    /// ```
    pub fn effective_trace_rules(&self) -> Vec<TraceSamplingRule> {
        let mut rules = self.trace_rules.clone();
        rules.sort_by_key(|r| match r.provenance() {
            Provenance::Customer => 0,
            Provenance::Dynamic => 1,
            _ => 2,
        });
        if let Some(rate) = self.sample_rate {
            rules.push(TraceSamplingRule::new(rate));
        }
        rules
    }
}

fn parse_rate(setting: &'static str, value: &str) -> Result<f64, Error> {
    match value.trim().parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(Error::InvalidRate {
            setting,
            value: value.to_owned(),
        }),
    }
}

/// Decimal integers; an integer-valued decimal such as `100.0` is accepted too.
fn parse_integer(value: &str) -> Option<i64> {
    let value = value.trim();
    value.parse::<i64>().ok().or_else(|| {
        value
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 9.2e18)
            .map(|f| f as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> SamplingConfig {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SamplingConfig::from_lookup(|k| env.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = from(&[]);
        assert_eq!(c, SamplingConfig::default());
        assert_eq!(c.rate_limit(), 100);
        assert!(c.effective_trace_rules().is_empty());
        assert!(c.problems().is_empty());
    }

    #[test]
    fn empty_values_are_unset() {
        let c = from(&[
            ("DD_TRACE_SAMPLING_RULES", ""),
            ("DD_TRACE_SAMPLE_RATE", " "),
            ("DD_TRACE_RATE_LIMIT", ""),
            ("OTEL_TRACES_SAMPLER", ""),
            ("DD_SPAN_SAMPLING_RULES", ""),
            ("DD_SPAN_SAMPLING_RULES_FILE", ""),
        ]);
        assert_eq!(c, SamplingConfig::default());
    }

    #[test]
    fn sample_rate_is_a_catch_all_after_the_rules() {
        let c = from(&[
            (
                "DD_TRACE_SAMPLING_RULES",
                r#"[{"service":"a","sample_rate":0}]"#,
            ),
            ("DD_TRACE_SAMPLE_RATE", "0.5"),
        ]);
        let rules = c.effective_trace_rules();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1], TraceSamplingRule::new(0.5));
        assert_eq!(c.sample_rate(), Some(0.5));
    }

    #[test]
    fn bad_values_are_reported_and_the_rest_applies() {
        for bad in ["1.5", "-0.1", "half", "NaN"] {
            let c = from(&[("DD_TRACE_SAMPLE_RATE", bad), ("DD_TRACE_RATE_LIMIT", "7")]);
            assert_eq!(c.sample_rate(), None, "{bad}");
            assert_eq!(c.rate_limit(), 7);
            assert!(matches!(c.problems(), [Error::InvalidRate { .. }]), "{bad}");
        }
        let c = from(&[
            ("DD_TRACE_RATE_LIMIT", "lots"),
            ("DD_TRACE_SAMPLE_RATE", "1"),
        ]);
        assert_eq!(c.rate_limit(), 100);
        assert_eq!(c.sample_rate(), Some(1.0));
        assert!(matches!(
            c.problems(),
            [Error::InvalidInteger { default: 100, .. }]
        ));
        let c = from(&[("DD_TRACE_RATE_LIMIT", "-5")]);
        assert_eq!(c.rate_limit(), -5);
        assert!(matches!(
            c.problems(),
            [Error::NegativeLimit { value: -5, .. }]
        ));
        assert_eq!(from(&[("DD_TRACE_RATE_LIMIT", "20.0")]).rate_limit(), 20);
        assert_eq!(from(&[("DD_TRACE_RATE_LIMIT", "2.5")]).rate_limit(), 100);
        let c = from(&[
            ("DD_TRACE_SAMPLING_RULES", "[{not json"),
            ("DD_SPAN_SAMPLING_RULES", r#"[{"service":"x"}]"#),
        ]);
        assert!(c.trace_rules().is_empty());
        assert_eq!(c.span_rules().len(), 1);
        assert!(matches!(c.problems(), [Error::InvalidJson { .. }]));
    }

    #[test]
    fn otel_sampler_mapping() {
        let rate = |sampler: &str, arg: Option<&str>| {
            let mut pairs = vec![("OTEL_TRACES_SAMPLER", sampler)];
            if let Some(arg) = arg {
                pairs.push(("OTEL_TRACES_SAMPLER_ARG", arg));
            }
            let c = from(&pairs);
            (c.sample_rate(), c.problems().len())
        };
        assert_eq!(rate("always_on", None), (Some(1.0), 0));
        assert_eq!(rate("parentbased_always_on", None), (Some(1.0), 0));
        assert_eq!(rate("always_off", None), (Some(0.0), 0));
        assert_eq!(rate("parentbased_always_off", Some("0.3")), (Some(0.0), 0));
        assert_eq!(rate("traceidratio", Some("0.5")), (Some(0.5), 0));
        assert_eq!(
            rate("parentbased_traceidratio", Some("0.1")),
            (Some(0.1), 0)
        );
        assert_eq!(rate("traceidratio", None), (Some(1.0), 0));
        assert_eq!(rate("traceidratio", Some("2")), (Some(1.0), 1));
        assert_eq!(rate(" TraceIdRatio ", Some("0.25")), (Some(0.25), 0));
        assert_eq!(rate("jaeger_remote", None), (None, 1));
        assert_eq!(rate("xray", None), (None, 1));
        let c = from(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
        ]);
        assert_eq!(c.otel_sampler(), Some(OtelSampler::TraceIdRatio(0.5)));
        assert!(!c.otel_sampler().unwrap().is_parent_based());
    }

    #[test]
    fn dd_sample_rate_wins_over_otel() {
        let c = from(&[
            ("DD_TRACE_SAMPLE_RATE", "0.5"),
            ("OTEL_TRACES_SAMPLER", "always_off"),
        ]);
        assert_eq!(c.sample_rate(), Some(0.5));
        assert_eq!(c.otel_sampler(), None);
        assert!(matches!(c.problems(), [Error::ConflictingSettings { .. }]));
        // The OTel sampler is a sample rate: trace rules still come first.
        let c = from(&[
            ("DD_TRACE_SAMPLING_RULES", r#"[{"sample_rate":1}]"#),
            ("OTEL_TRACES_SAMPLER", "always_off"),
        ]);
        let rates: Vec<f64> = c
            .effective_trace_rules()
            .iter()
            .map(|r| r.sample_rate())
            .collect();
        assert_eq!(rates, [1.0, 0.0]);
    }

    #[test]
    fn span_rules_from_variable_or_file() {
        let dir = std::env::temp_dir().join(format!("ddtrace-sampling-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("span-rules.json");
        std::fs::write(&file, r#"[{"name":"db.*","max_per_second":3}]"#).unwrap();
        let path = file.to_str().unwrap();

        let c = from(&[("DD_SPAN_SAMPLING_RULES_FILE", path)]);
        assert_eq!(c.span_rules().len(), 1);
        assert_eq!(c.span_rules()[0].max_per_second(), Some(3.0));

        let c = from(&[
            (
                "DD_SPAN_SAMPLING_RULES",
                r#"[{"service":"web"},{"service":"db"}]"#,
            ),
            ("DD_SPAN_SAMPLING_RULES_FILE", path),
        ]);
        assert_eq!(c.span_rules().len(), 2);

        let missing = dir.join("missing.json");
        let c = from(&[("DD_SPAN_SAMPLING_RULES_FILE", missing.to_str().unwrap())]);
        assert!(c.span_rules().is_empty());
        assert!(matches!(c.problems(), [Error::ReadFile { .. }]));

        std::fs::write(&file, "not json").unwrap();
        let c = from(&[("DD_SPAN_SAMPLING_RULES_FILE", path)]);
        assert!(matches!(
            c.problems(),
            [Error::InvalidJson {
                setting: "DD_SPAN_SAMPLING_RULES_FILE",
                ..
            }]
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn code_setters() {
        let mut c = from(&[("DD_TRACE_SAMPLE_RATE", "0.5")]);
        c.set_sample_rate(None).unwrap();
        assert_eq!(c.sample_rate(), None);
        assert!(matches!(
            c.set_sample_rate(Some(f64::NAN)),
            Err(Error::InvalidRate { .. })
        ));
        c.set_rate_limit(-1);
        c.set_trace_rules(vec![TraceSamplingRule::new(0.3)]);
        c.set_span_rules(vec![SpanSamplingRule::new(1.0).with_name("x")]);
        assert_eq!(c.rate_limit(), -1);
        assert_eq!(c.trace_rules().len(), 1);
        assert_eq!(c.span_rules().len(), 1);
    }
}
