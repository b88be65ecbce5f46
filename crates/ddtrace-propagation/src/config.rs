//! [`PropagationConfig`], [`Style`], [`ExtractBehavior`] and [`BaggageTagKeys`].

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A propagation style: one family of headers.
///
/// Names are case-insensitive. `b3` is the **single** `b3` header (as in Python, Node, Ruby
/// and OpenTelemetry's `OTEL_PROPAGATORS=b3`); `b3 single header` and `b3single` are accepted
/// aliases of it, and `b3multi` is the `x-b3-*` family.
///
/// ```
/// use ddtrace_propagation::Style;
///
/// assert_eq!("TraceContext".parse::<Style>()?, Style::TraceContext);
/// assert_eq!("B3 single header".parse::<Style>()?, Style::B3);
/// assert_eq!(Style::B3Multi.to_string(), "b3multi");
/// assert!("jaeger".parse::<Style>().is_err());
/// # Ok::<(), ddtrace_propagation::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Style {
    /// `x-datadog-*` headers.
    Datadog,
    /// W3C `traceparent` and `tracestate`.
    TraceContext,
    /// The single `b3` header.
    B3,
    /// The `x-b3-*` headers.
    B3Multi,
    /// The W3C `baggage` header.
    Baggage,
    /// No headers at all (ignored when listed with other styles).
    None,
}

impl Style {
    /// The canonical lower-case name (`datadog`, `tracecontext`, `b3`, `b3multi`, `baggage`,
    /// `none`), as reported in configuration dumps and in span link `context_headers`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Style::Datadog => "datadog",
            Style::TraceContext => "tracecontext",
            Style::B3 => "b3",
            Style::B3Multi => "b3multi",
            Style::Baggage => "baggage",
            Style::None => "none",
        }
    }
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Style {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let name = s.trim();
        let style = if name.eq_ignore_ascii_case("datadog") {
            Style::Datadog
        } else if name.eq_ignore_ascii_case("tracecontext") {
            Style::TraceContext
        } else if name.eq_ignore_ascii_case("b3")
            || name.eq_ignore_ascii_case("b3single")
            || is_b3_single_header(name)
        {
            Style::B3
        } else if name.eq_ignore_ascii_case("b3multi") {
            Style::B3Multi
        } else if name.eq_ignore_ascii_case("baggage") {
            Style::Baggage
        } else if name.eq_ignore_ascii_case("none") {
            Style::None
        } else {
            return Err(Error::UnknownStyle(name.to_owned()));
        };
        Ok(style)
    }
}

/// `b3 single header` with any case and any run of spaces/tabs between the words.
fn is_b3_single_header(name: &str) -> bool {
    let mut words = name.split_ascii_whitespace();
    matches!(
        (words.next(), words.next(), words.next(), words.next()),
        (Some(a), Some(b), Some(c), None)
            if a.eq_ignore_ascii_case("b3") && b.eq_ignore_ascii_case("single") && c.eq_ignore_ascii_case("header")
    )
}

/// Parses a style list: entries separated by commas (or, within an entry, by spaces), names
/// case-insensitive, unknown names skipped with a warning, duplicates removed keeping the first
/// position, `none` dropped when other styles are listed.
///
/// Returns `None` when the list names no known style at all (so that the caller falls back to
/// the next source), `Some(vec![])` when it is exactly `none`.
///
/// ```
/// use ddtrace_propagation::{parse_style_list, Style};
///
/// assert_eq!(parse_style_list("Datadog, B3 single header"), Some(vec![Style::Datadog, Style::B3]));
/// assert_eq!(parse_style_list("tracecontext datadog tracecontext"),
///            Some(vec![Style::TraceContext, Style::Datadog]));
/// assert_eq!(parse_style_list("none"), Some(vec![]));
/// assert_eq!(parse_style_list("jaeger"), None);
/// ```
pub fn parse_style_list(value: &str) -> Option<Vec<Style>> {
    let mut styles = Vec::new();
    let mut saw_none = false;
    let mut push = |style: Style, styles: &mut Vec<Style>| {
        if style == Style::None {
            saw_none = true;
        } else if !styles.contains(&style) {
            styles.push(style);
        }
    };
    for entry in value.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        if let Ok(style) = entry.parse::<Style>() {
            push(style, &mut styles);
            continue;
        }
        for word in entry.split_ascii_whitespace() {
            match word.parse::<Style>() {
                Ok(style) => push(style, &mut styles),
                Err(_) => log::warn!("ignoring unknown propagation style {word:?}"),
            }
        }
    }
    if styles.is_empty() && !saw_none {
        None
    } else {
        Some(styles)
    }
}

/// What extraction does with a valid incoming context (`DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT`).
///
/// ```
/// use ddtrace_propagation::ExtractBehavior;
///
/// assert_eq!("Restart".parse::<ExtractBehavior>()?, ExtractBehavior::Restart);
/// assert_eq!(ExtractBehavior::default(), ExtractBehavior::Continue);
/// # Ok::<(), ddtrace_propagation::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ExtractBehavior {
    /// The incoming context becomes the remote parent (default).
    #[default]
    Continue,
    /// Start a new trace with one span link to the incoming context; keep baggage.
    Restart,
    /// Behave as if there were no headers (no link, no baggage).
    Ignore,
}

impl FromStr for ExtractBehavior {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("continue") {
            Ok(ExtractBehavior::Continue)
        } else if s.eq_ignore_ascii_case("restart") {
            Ok(ExtractBehavior::Restart)
        } else if s.eq_ignore_ascii_case("ignore") {
            Ok(ExtractBehavior::Ignore)
        } else {
            Err(Error::UnknownBehavior(s.to_owned()))
        }
    }
}

/// Which extracted baggage keys become `baggage.<key>` span tags (`DD_TRACE_BAGGAGE_TAG_KEYS`).
///
/// `*` selects every key, an empty value none; otherwise a comma-separated list of exact,
/// case-sensitive keys (entries trimmed, empty entries ignored, `*` inside a key literal).
///
/// ```
/// use ddtrace_propagation::BaggageTagKeys;
///
/// let keys = BaggageTagKeys::parse(" account.id,,feature*flag ");
/// assert!(keys.selects("account.id"));
/// assert!(keys.selects("feature*flag"));
/// assert!(!keys.selects("feature-flag"));
/// assert!(BaggageTagKeys::parse("*").selects("anything"));
/// assert!(!BaggageTagKeys::parse("").selects("user.id"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BaggageTagKeys {
    /// Every key (`*`).
    All,
    /// Exactly these keys (possibly none).
    Keys(Vec<String>),
}

impl BaggageTagKeys {
    /// Parses the setting's value.
    pub fn parse(value: &str) -> Self {
        let mut keys = Vec::new();
        for entry in value.split(',') {
            let entry = entry.trim();
            if entry == "*" {
                return BaggageTagKeys::All;
            }
            if !entry.is_empty() && !keys.iter().any(|k| k == entry) {
                keys.push(entry.to_owned());
            }
        }
        BaggageTagKeys::Keys(keys)
    }

    /// Whether `key` is selected.
    pub fn selects(&self, key: &str) -> bool {
        match self {
            BaggageTagKeys::All => true,
            BaggageTagKeys::Keys(keys) => keys.iter().any(|k| k == key),
        }
    }
}

impl Default for BaggageTagKeys {
    /// `user.id,session.id,account.id`.
    fn default() -> Self {
        BaggageTagKeys::Keys(vec![
            "user.id".to_owned(),
            "session.id".to_owned(),
            "account.id".to_owned(),
        ])
    }
}

/// Default styles: `datadog,tracecontext,baggage`.
pub const DEFAULT_STYLES: [Style; 3] = [Style::Datadog, Style::TraceContext, Style::Baggage];
/// Default `DD_TRACE_X_DATADOG_TAGS_MAX_LENGTH`.
pub const DEFAULT_X_DATADOG_TAGS_MAX_LENGTH: usize = 512;
/// Default `DD_TRACE_BAGGAGE_MAX_ITEMS`.
pub const DEFAULT_BAGGAGE_MAX_ITEMS: usize = 64;
/// Default `DD_TRACE_BAGGAGE_MAX_BYTES`.
pub const DEFAULT_BAGGAGE_MAX_BYTES: usize = 8192;

/// Propagation settings: which styles to extract and inject, and the limits.
///
/// Build it from the environment with [`from_env`](Self::from_env) (or from any lookup
/// function with [`from_lookup`](Self::from_lookup)), then override in code with the
/// `with_*` setters. See the crate documentation for every variable.
///
/// ```
/// use ddtrace_propagation::{ExtractBehavior, PropagationConfig, Style};
///
/// let config = PropagationConfig::from_lookup(|name| match name {
///     "DD_TRACE_PROPAGATION_STYLE" => Some("datadog".to_owned()),
///     "DD_TRACE_PROPAGATION_STYLE_EXTRACT" => Some("tracecontext, datadog".to_owned()),
///     "DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT" => Some("restart".to_owned()),
///     _ => None,
/// });
/// assert_eq!(config.extract_styles(), [Style::TraceContext, Style::Datadog]);
/// assert_eq!(config.inject_styles(), [Style::Datadog]);
/// assert_eq!(config.extract_behavior(), ExtractBehavior::Restart);
///
/// let config = config.with_inject_styles([Style::B3]).with_extract_first(true);
/// assert_eq!(config.inject_styles(), [Style::B3]);
/// assert!(config.extract_first());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropagationConfig {
    extract_styles: Vec<Style>,
    inject_styles: Vec<Style>,
    extract_first: bool,
    extract_behavior: ExtractBehavior,
    x_datadog_tags_max_length: usize,
    baggage_max_items: usize,
    baggage_max_bytes: usize,
    baggage_tag_keys: BaggageTagKeys,
}

impl Default for PropagationConfig {
    fn default() -> Self {
        PropagationConfig {
            extract_styles: DEFAULT_STYLES.to_vec(),
            inject_styles: DEFAULT_STYLES.to_vec(),
            extract_first: false,
            extract_behavior: ExtractBehavior::Continue,
            x_datadog_tags_max_length: DEFAULT_X_DATADOG_TAGS_MAX_LENGTH,
            baggage_max_items: DEFAULT_BAGGAGE_MAX_ITEMS,
            baggage_max_bytes: DEFAULT_BAGGAGE_MAX_BYTES,
            baggage_tag_keys: BaggageTagKeys::default(),
        }
    }
}

impl PropagationConfig {
    /// Reads the process environment (see [`from_lookup`](Self::from_lookup)).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (a variable name → its value). An empty value counts
    /// as unset; invalid values are ignored with a warning and the default applies.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let styles_of = |names: &[&str]| {
            names.iter().find_map(|name| {
                let value = get(name)?;
                let parsed = parse_style_list(&value);
                if parsed.is_none() {
                    log::warn!("{name}={value:?} names no known propagation style; ignored");
                }
                parsed
            })
        };
        let generic = styles_of(&["DD_TRACE_PROPAGATION_STYLE"]);
        let extract = styles_of(&[
            "DD_TRACE_PROPAGATION_STYLE_EXTRACT",
            "DD_PROPAGATION_STYLE_EXTRACT",
        ]);
        let inject = styles_of(&[
            "DD_TRACE_PROPAGATION_STYLE_INJECT",
            "DD_PROPAGATION_STYLE_INJECT",
        ]);
        let any_dd = [
            "DD_TRACE_PROPAGATION_STYLE",
            "DD_TRACE_PROPAGATION_STYLE_EXTRACT",
            "DD_TRACE_PROPAGATION_STYLE_INJECT",
            "DD_PROPAGATION_STYLE_EXTRACT",
            "DD_PROPAGATION_STYLE_INJECT",
        ]
        .iter()
        .any(|name| get(name).is_some());
        let otel = if any_dd {
            if get("OTEL_PROPAGATORS").is_some() {
                log::warn!("both DD_TRACE_PROPAGATION_STYLE* and OTEL_PROPAGATORS set, using DD");
            }
            None
        } else {
            styles_of(&["OTEL_PROPAGATORS"])
        };
        let base = generic.or(otel).unwrap_or_else(|| DEFAULT_STYLES.to_vec());

        let mut config = PropagationConfig {
            extract_styles: extract.unwrap_or_else(|| base.clone()),
            inject_styles: inject.unwrap_or(base),
            ..PropagationConfig::default()
        };
        if let Some(v) = get("DD_TRACE_PROPAGATION_EXTRACT_FIRST") {
            match parse_bool(&v) {
                Some(b) => config.extract_first = b,
                None => log::warn!("DD_TRACE_PROPAGATION_EXTRACT_FIRST={v:?} is not a boolean"),
            }
        }
        if let Some(v) = get("DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT") {
            match v.parse() {
                Ok(b) => config.extract_behavior = b,
                Err(e) => log::warn!("{e}; using continue"),
            }
        }
        let read_usize = |name: &str, slot: &mut usize| {
            if let Some(v) = get(name) {
                match v.trim().parse() {
                    Ok(n) => *slot = n,
                    Err(_) => log::warn!("{name}={v:?} is not a non-negative integer"),
                }
            }
        };
        read_usize(
            "DD_TRACE_X_DATADOG_TAGS_MAX_LENGTH",
            &mut config.x_datadog_tags_max_length,
        );
        read_usize("DD_TRACE_BAGGAGE_MAX_ITEMS", &mut config.baggage_max_items);
        read_usize("DD_TRACE_BAGGAGE_MAX_BYTES", &mut config.baggage_max_bytes);
        // Here an empty value is meaningful (no keys), so read it raw.
        if let Some(v) = lookup("DD_TRACE_BAGGAGE_TAG_KEYS") {
            config.baggage_tag_keys = BaggageTagKeys::parse(&v);
        }
        config
    }

    /// Styles tried on extraction, in order.
    pub fn extract_styles(&self) -> &[Style] {
        &self.extract_styles
    }
    /// Styles written on injection.
    pub fn inject_styles(&self) -> &[Style] {
        &self.inject_styles
    }
    /// Whether extraction stops at the first style that yields a context.
    pub fn extract_first(&self) -> bool {
        self.extract_first
    }
    /// The extraction behaviour.
    pub fn extract_behavior(&self) -> ExtractBehavior {
        self.extract_behavior
    }
    /// Maximum length of `x-datadog-tags` (0 disables the header).
    pub fn x_datadog_tags_max_length(&self) -> usize {
        self.x_datadog_tags_max_length
    }
    /// Maximum number of baggage items.
    pub fn baggage_max_items(&self) -> usize {
        self.baggage_max_items
    }
    /// Maximum byte length of the `baggage` header.
    pub fn baggage_max_bytes(&self) -> usize {
        self.baggage_max_bytes
    }
    /// Which baggage keys become span tags.
    pub fn baggage_tag_keys(&self) -> &BaggageTagKeys {
        &self.baggage_tag_keys
    }

    /// Sets both extraction and injection styles (`none` entries are dropped, duplicates removed).
    pub fn with_styles(self, styles: impl IntoIterator<Item = Style>) -> Self {
        let styles = dedup(styles);
        PropagationConfig {
            extract_styles: styles.clone(),
            inject_styles: styles,
            ..self
        }
    }
    /// Sets the extraction styles.
    pub fn with_extract_styles(self, styles: impl IntoIterator<Item = Style>) -> Self {
        PropagationConfig {
            extract_styles: dedup(styles),
            ..self
        }
    }
    /// Sets the injection styles.
    pub fn with_inject_styles(self, styles: impl IntoIterator<Item = Style>) -> Self {
        PropagationConfig {
            inject_styles: dedup(styles),
            ..self
        }
    }
    /// Sets extract-first mode.
    pub fn with_extract_first(self, extract_first: bool) -> Self {
        PropagationConfig {
            extract_first,
            ..self
        }
    }
    /// Sets the extraction behaviour.
    pub fn with_extract_behavior(self, extract_behavior: ExtractBehavior) -> Self {
        PropagationConfig {
            extract_behavior,
            ..self
        }
    }
    /// Sets the maximum length of `x-datadog-tags`.
    pub fn with_x_datadog_tags_max_length(self, x_datadog_tags_max_length: usize) -> Self {
        PropagationConfig {
            x_datadog_tags_max_length,
            ..self
        }
    }
    /// Sets the baggage item limit.
    pub fn with_baggage_max_items(self, baggage_max_items: usize) -> Self {
        PropagationConfig {
            baggage_max_items,
            ..self
        }
    }
    /// Sets the baggage byte limit.
    pub fn with_baggage_max_bytes(self, baggage_max_bytes: usize) -> Self {
        PropagationConfig {
            baggage_max_bytes,
            ..self
        }
    }
    /// Sets the baggage keys copied to span tags.
    pub fn with_baggage_tag_keys(self, baggage_tag_keys: BaggageTagKeys) -> Self {
        PropagationConfig {
            baggage_tag_keys,
            ..self
        }
    }
}

fn dedup(styles: impl IntoIterator<Item = Style>) -> Vec<Style> {
    let mut out = Vec::new();
    for style in styles {
        if style != Style::None && !out.contains(&style) {
            out.push(style);
        }
    }
    out
}

fn parse_bool(value: &str) -> Option<bool> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("true") || v == "1" {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") || v == "0" {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> PropagationConfig {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PropagationConfig::from_lookup(|name| map.get(name).cloned())
    }

    /// propagation.md §1: defaults.
    #[test]
    fn defaults() {
        let c = config(&[]);
        assert_eq!(c.extract_styles(), DEFAULT_STYLES);
        assert_eq!(c.inject_styles(), DEFAULT_STYLES);
        assert!(!c.extract_first());
        assert_eq!(c.extract_behavior(), ExtractBehavior::Continue);
        assert_eq!(c.x_datadog_tags_max_length(), 512);
        assert_eq!(c.baggage_max_items(), 64);
        assert_eq!(c.baggage_max_bytes(), 8192);
        assert_eq!(c.baggage_tag_keys(), &BaggageTagKeys::default());
        assert_eq!(c, PropagationConfig::default());
    }

    /// propagation.md §1 examples.
    #[test]
    fn spec_examples() {
        let c = config(&[("DD_TRACE_PROPAGATION_STYLE", "Datadog, B3 single header")]);
        assert_eq!(c.extract_styles(), [Style::Datadog, Style::B3]);
        let c = config(&[("DD_TRACE_PROPAGATION_STYLE", "none")]);
        assert!(c.extract_styles().is_empty() && c.inject_styles().is_empty());
        let c = config(&[("DD_TRACE_PROPAGATION_STYLE_EXTRACT", "B3MULTI")]);
        assert_eq!(c.extract_styles(), [Style::B3Multi]);
        assert_eq!(c.inject_styles(), DEFAULT_STYLES);
        let c = config(&[("DD_TRACE_PROPAGATION_STYLE", "none,datadog")]);
        assert_eq!(c.inject_styles(), [Style::Datadog]);
        let c = config(&[(
            "DD_TRACE_PROPAGATION_STYLE",
            "datadog tracecontext  b3multi",
        )]);
        assert_eq!(
            c.inject_styles(),
            [Style::Datadog, Style::TraceContext, Style::B3Multi]
        );
    }

    /// otel-mapping.md §11: OTEL_PROPAGATORS only when no DD variable is set.
    #[test]
    fn otel_propagators_fallback() {
        let c = config(&[("OTEL_PROPAGATORS", "b3,tracecontext,jaeger,b3")]);
        assert_eq!(c.extract_styles(), [Style::B3, Style::TraceContext]);
        assert_eq!(c.inject_styles(), [Style::B3, Style::TraceContext]);
        let c = config(&[
            ("OTEL_PROPAGATORS", "b3"),
            ("DD_TRACE_PROPAGATION_STYLE_INJECT", "datadog"),
        ]);
        assert_eq!(c.inject_styles(), [Style::Datadog]);
        assert_eq!(c.extract_styles(), DEFAULT_STYLES);
    }

    /// config.md §6: an empty value is unset; unknown-only lists fall back; legacy aliases.
    #[test]
    fn empty_unknown_and_legacy() {
        let c = config(&[("DD_TRACE_PROPAGATION_STYLE", "  ")]);
        assert_eq!(c.inject_styles(), DEFAULT_STYLES);
        let c = config(&[("DD_TRACE_PROPAGATION_STYLE", "jaeger,xray")]);
        assert_eq!(c.inject_styles(), DEFAULT_STYLES);
        let c = config(&[("DD_PROPAGATION_STYLE_EXTRACT", "b3")]);
        assert_eq!(c.extract_styles(), [Style::B3]);
    }

    /// propagation.md §1, §8.4, §9: the scalar settings, with invalid values ignored.
    #[test]
    fn scalar_settings() {
        let c = config(&[
            ("DD_TRACE_PROPAGATION_EXTRACT_FIRST", "TRUE"),
            ("DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT", "ignore"),
            ("DD_TRACE_X_DATADOG_TAGS_MAX_LENGTH", "40"),
            ("DD_TRACE_BAGGAGE_MAX_ITEMS", "3"),
            ("DD_TRACE_BAGGAGE_MAX_BYTES", "100"),
            ("DD_TRACE_BAGGAGE_TAG_KEYS", ""),
        ]);
        assert!(c.extract_first());
        assert_eq!(c.extract_behavior(), ExtractBehavior::Ignore);
        assert_eq!(c.x_datadog_tags_max_length(), 40);
        assert_eq!(c.baggage_max_items(), 3);
        assert_eq!(c.baggage_max_bytes(), 100);
        assert_eq!(c.baggage_tag_keys(), &BaggageTagKeys::Keys(vec![]));
        let c = config(&[
            ("DD_TRACE_PROPAGATION_EXTRACT_FIRST", "maybe"),
            ("DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT", "bogus"),
            ("DD_TRACE_X_DATADOG_TAGS_MAX_LENGTH", "-1"),
        ]);
        assert!(!c.extract_first());
        assert_eq!(c.extract_behavior(), ExtractBehavior::Continue);
        assert_eq!(c.x_datadog_tags_max_length(), 512);
    }

    #[test]
    fn setters_drop_none_and_duplicates() {
        let c = PropagationConfig::default().with_styles([
            Style::None,
            Style::B3,
            Style::B3,
            Style::Datadog,
        ]);
        assert_eq!(c.extract_styles(), [Style::B3, Style::Datadog]);
        assert_eq!(c.inject_styles(), [Style::B3, Style::Datadog]);
    }
}
