//! Settings of the bridge that the mapping and trace assembly use.

use ddtrace_model::Str;
use opentelemetry::KeyValue;

use crate::{Error, Result};

/// The default service when none is configured (`otel-mapping.md` §10).
pub const DEFAULT_SERVICE: &str = "unnamed-rust-service";

/// The default `DD_TRACE_PARTIAL_FLUSH_MIN_SPANS`.
pub const DEFAULT_PARTIAL_FLUSH_MIN_SPANS: usize = 300;

/// The default bound on finished spans one local trace buffers while some of its spans are
/// still open (see [`TracerProviderBuilder::with_max_buffered_spans`](crate::TracerProviderBuilder::with_max_buffered_spans)).
pub const DEFAULT_MAX_BUFFERED_SPANS: usize = 1_000;

/// Partial flush (`span-model.md` §8.2): send the finished spans of a long local trace before
/// its root ends.
///
/// ```
/// use ddtrace_otel::PartialFlush;
///
/// let pf = PartialFlush::from_lookup(|name| match name {
///     "DD_TRACE_PARTIAL_FLUSH_ENABLED" => Some("true".to_owned()),
///     "DD_TRACE_PARTIAL_FLUSH_MIN_SPANS" => Some("50".to_owned()),
///     _ => None,
/// })?;
/// assert_eq!(pf, PartialFlush::Enabled { min_spans: 50 });
/// assert_eq!(PartialFlush::from_lookup(|_| None)?, PartialFlush::Disabled);
/// # Ok::<(), ddtrace_otel::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PartialFlush {
    /// Each local trace is sent in one chunk when all its spans have ended (the default).
    #[default]
    Disabled,
    /// A chunk is sent as soon as `min_spans` spans of a trace whose local root is still open
    /// have ended.
    Enabled {
        /// The threshold (`DD_TRACE_PARTIAL_FLUSH_MIN_SPANS`, at least 1).
        min_spans: usize,
    },
}

impl PartialFlush {
    /// Reads `DD_TRACE_PARTIAL_FLUSH_ENABLED` (default `false`) and
    /// `DD_TRACE_PARTIAL_FLUSH_MIN_SPANS` (default 300) through `lookup`.
    ///
    /// Booleans accept `true`/`false`/`1`/`0` (any case); a malformed value or a threshold of 0
    /// is an [`Error::InvalidSetting`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        const ENABLED: &str = "DD_TRACE_PARTIAL_FLUSH_ENABLED";
        const MIN_SPANS: &str = "DD_TRACE_PARTIAL_FLUSH_MIN_SPANS";
        let enabled = match lookup(ENABLED).as_deref().map(str::trim) {
            None | Some("") => false,
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => true,
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => false,
            Some(v) => {
                return Err(Error::InvalidSetting {
                    name: ENABLED,
                    value: v.to_owned(),
                    reason: "expected true or false",
                });
            }
        };
        let min_spans = match lookup(MIN_SPANS).as_deref().map(str::trim) {
            None | Some("") => DEFAULT_PARTIAL_FLUSH_MIN_SPANS,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(Error::InvalidSetting {
                        name: MIN_SPANS,
                        value: v.to_owned(),
                        reason: "expected a positive integer",
                    });
                }
            },
        };
        Ok(if enabled {
            PartialFlush::Enabled { min_spans }
        } else {
            PartialFlush::Disabled
        })
    }

    /// The threshold, when enabled.
    pub fn min_spans(self) -> Option<usize> {
        match self {
            PartialFlush::Disabled => None,
            PartialFlush::Enabled { min_spans } => Some(min_spans.max(1)),
        }
    }
}

/// What the bridge needs to know besides the exporter, sampler and propagator: the unified
/// service tags, global tags, id generation and trace assembly limits.
///
/// Built by [`TracerProviderBuilder`](crate::TracerProviderBuilder); the `ddtrace` facade
/// fills it from the environment.
#[derive(Debug, Clone)]
pub(crate) struct BridgeConfig {
    pub(crate) service: Str,
    pub(crate) env: Option<Str>,
    pub(crate) version: Option<Str>,
    pub(crate) global_tags: Vec<(Str, Str)>,
    pub(crate) first_span_tags: Vec<(Str, Str)>,
    pub(crate) resource_attributes: Vec<KeyValue>,
    pub(crate) trace_id_128: bool,
    pub(crate) partial_flush: PartialFlush,
    pub(crate) max_buffered_spans: usize,
    pub(crate) runtime_id: Str,
    pub(crate) process_id: u32,
}
