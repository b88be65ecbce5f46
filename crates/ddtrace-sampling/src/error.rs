//! The sampling crate's error type.

/// A problem found in the sampling configuration or in agent feedback.
///
/// None of these stops sampling: the offending piece is skipped (or clamped, or replaced by
/// its default), the problem is logged with the `log` crate, and the rest of the
/// configuration still applies. [`SamplingConfig::problems`](crate::SamplingConfig::problems)
/// lists the ones found while reading the configuration.
///
/// ```
/// use ddtrace_sampling::{Error, TraceSamplingRule};
///
/// let (rules, problems) = TraceSamplingRule::parse_json("[{not json");
/// assert!(rules.is_empty());
/// assert!(matches!(problems[0], Error::InvalidJson { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting that must hold JSON does not parse.
    #[error("{setting}: invalid JSON ({message}); no rules from this setting are used")]
    InvalidJson {
        /// The setting (`DD_TRACE_SAMPLING_RULES`, `DD_SPAN_SAMPLING_RULES`, …).
        setting: &'static str,
        /// The JSON parser's message.
        message: String,
    },
    /// The JSON parses but is not an array of rules.
    #[error("{setting}: expected a JSON array of rules; no rules from this setting are used")]
    NotAList {
        /// The setting.
        setting: &'static str,
    },
    /// One rule of a list is invalid (skipped) or was adjusted (e.g. a clamped rate).
    #[error("{setting}: rule #{index}: {reason}")]
    InvalidRule {
        /// The setting.
        setting: &'static str,
        /// Position of the rule in the list, from 0.
        index: usize,
        /// What is wrong and what was done about it.
        reason: String,
    },
    /// A rate that is not a number in `[0, 1]`; the setting is ignored.
    #[error("{setting}: {value:?} is not a number in [0, 1]; ignored")]
    InvalidRate {
        /// The setting.
        setting: &'static str,
        /// The rejected value.
        value: String,
    },
    /// An integer setting that does not parse; its default is used.
    #[error("{setting}: {value:?} is not an integer; using the default {default}")]
    InvalidInteger {
        /// The setting.
        setting: &'static str,
        /// The rejected value.
        value: String,
        /// The value used instead.
        default: i64,
    },
    /// A negative `DD_TRACE_RATE_LIMIT`: accepted, and it turns the limiter off.
    #[error(
        "{setting}: negative limit {value}: the rate limiter is disabled (every rule-kept trace is kept)"
    )]
    NegativeLimit {
        /// The setting.
        setting: &'static str,
        /// The value given.
        value: i64,
    },
    /// A rules file that cannot be read.
    #[error("{setting}: cannot read {path:?}: {message}")]
    ReadFile {
        /// The setting that named the file.
        setting: &'static str,
        /// The path given.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// An `OTEL_TRACES_SAMPLER` value that has no Datadog equivalent; ignored.
    #[error("OTEL_TRACES_SAMPLER: unsupported sampler {value:?}; ignored")]
    UnsupportedOtelSampler {
        /// The value given.
        value: String,
    },
    /// A Datadog setting and its OpenTelemetry equivalent are both set; the Datadog one wins.
    #[error("both {dd} and {otel} are set; using {dd}")]
    ConflictingSettings {
        /// The Datadog setting (used).
        dd: &'static str,
        /// The OpenTelemetry setting (ignored).
        otel: &'static str,
    },
    /// An entry of the agent's `rate_by_service` that is skipped.
    #[error("rate_by_service: entry {key:?} skipped: {reason}")]
    InvalidAgentRate {
        /// The key as received.
        key: String,
        /// Why it was skipped.
        reason: &'static str,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
