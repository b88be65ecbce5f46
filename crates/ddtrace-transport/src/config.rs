//! Transport settings: where the agent is, how much to hold, how to send.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ddtrace_encoding::Format;

use crate::{AgentUrl, Result};

/// Receives the agent's `rate_by_service` table (keys like `service:web,env:prod`, rates in
/// [0, 1]) after each trace response that carries one. Called on the worker thread.
pub type RateCallback = Arc<dyn Fn(&[(String, f64)]) + Send + Sync>;

/// Settings of an [`AgentTransport`](crate::AgentTransport).
///
/// Start from [`TransportConfig::from_env`] (or [`TransportConfig::default`] for the agent at
/// `http://localhost:8126`) and override in code.
///
/// ```
/// use std::time::Duration;
/// use ddtrace_transport::TransportConfig;
///
/// let config = TransportConfig::default()
///     .with_agent_url("http://127.0.0.1:8126")?
///     .with_flush_interval(Duration::from_millis(500))
///     .with_queue_limits(50_000, 32 << 20);
/// assert_eq!(config.agent_url().to_string(), "http://127.0.0.1:8126");
/// # Ok::<(), ddtrace_transport::Error>(())
/// ```
#[derive(Clone)]
pub struct TransportConfig {
    pub(crate) agent: AgentUrl,
    pub(crate) api_version: Option<Format>,
    pub(crate) native_span_events: Option<bool>,
    pub(crate) max_queued_spans: usize,
    pub(crate) max_queued_bytes: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) max_payload_bytes: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) max_retries: u32,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) tracer_version: String,
    pub(crate) container_id: Option<String>,
    pub(crate) rate_callback: Option<RateCallback>,
}

impl std::fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportConfig")
            .field("agent", &self.agent)
            .field("api_version", &self.api_version)
            .field("native_span_events", &self.native_span_events)
            .field("max_queued_spans", &self.max_queued_spans)
            .field("max_queued_bytes", &self.max_queued_bytes)
            .field("flush_interval", &self.flush_interval)
            .field("max_payload_bytes", &self.max_payload_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("tracer_version", &self.tracer_version)
            .field("container_id", &self.container_id)
            .field("rate_callback", &self.rate_callback.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            agent: AgentUrl::Http(format!(
                "http://localhost:{}",
                crate::agent_url::DEFAULT_PORT
            )),
            api_version: None,
            native_span_events: None,
            max_queued_spans: 1_000_000,
            max_queued_bytes: 64 << 20,
            flush_interval: Duration::from_secs(1),
            max_payload_bytes: 1 << 20,
            request_timeout: Duration::from_secs(2),
            max_retries: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            tracer_version: env!("CARGO_PKG_VERSION").to_owned(),
            container_id: crate::container::detect(),
            rate_callback: None,
        }
    }
}

impl TransportConfig {
    /// Reads the agent address (see [`AgentUrl::resolve`]), `DD_TRACE_API_VERSION`,
    /// `DD_TRACE_AGENT_TIMEOUT_SECONDS` and `DD_TRACE_NATIVE_SPAN_EVENTS` from `lookup`;
    /// invalid values are logged and the default kept.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        socket_exists: impl Fn(&Path) -> bool,
    ) -> Self {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let mut config = TransportConfig {
            agent: AgentUrl::resolve(&lookup, socket_exists),
            ..TransportConfig::default()
        };
        if let Some(v) = get("DD_TRACE_API_VERSION") {
            match v.trim() {
                "v0.4" => config.api_version = Some(Format::V04),
                "v0.5" => config.api_version = Some(Format::V05),
                other => log::warn!(
                    "ddtrace: ignoring DD_TRACE_API_VERSION={other:?}: expected v0.4 or v0.5"
                ),
            }
        }
        if let Some(v) = get("DD_TRACE_AGENT_TIMEOUT_SECONDS") {
            match v.trim().parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => {
                    config.request_timeout = Duration::from_secs_f64(s);
                }
                _ => log::warn!(
                    "ddtrace: ignoring DD_TRACE_AGENT_TIMEOUT_SECONDS={v:?}: expected seconds > 0"
                ),
            }
        }
        if let Some(v) = get("DD_TRACE_NATIVE_SPAN_EVENTS") {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => config.native_span_events = Some(true),
                "false" | "0" => config.native_span_events = Some(false),
                _ => log::warn!(
                    "ddtrace: ignoring DD_TRACE_NATIVE_SPAN_EVENTS={v:?}: expected true or false"
                ),
            }
        }
        config
    }

    /// [`TransportConfig::from_lookup`] over the process environment and file system.
    pub fn from_env() -> Self {
        TransportConfig::from_lookup(|k| std::env::var(k).ok(), Path::exists)
    }

    /// The agent address.
    pub fn agent_url(&self) -> &AgentUrl {
        &self.agent
    }

    /// Sets the agent address; an invalid URL is an error here, never later.
    pub fn with_agent_url(mut self, url: &str) -> Result<Self> {
        self.agent = AgentUrl::parse(url)?;
        Ok(self)
    }

    /// Sets the agent address.
    pub fn with_agent(mut self, agent: AgentUrl) -> Self {
        self.agent = agent;
        self
    }

    /// Forces a payload format; by default v0.5 is used when the agent offers it, else v0.4.
    pub fn with_api_version(mut self, format: Option<Format>) -> Self {
        self.api_version = format;
        self
    }

    /// Forces native span events on or off; by default the agent's `/info` decides.
    pub fn with_native_span_events(mut self, native: Option<bool>) -> Self {
        self.native_span_events = native;
        self
    }

    /// Bounds the queue by spans and by approximate bytes (defaults: 1,000,000 spans, 64 MiB).
    /// Chunks that do not fit are dropped and counted.
    ///
    /// By default the byte bound governs: it follows what the chunks hold (their buffers,
    /// names and string values, as their `size_hint` estimates), whatever their shape. The
    /// span bound is a backstop; at 100,000 it stopped bursts of one-span traces (a few
    /// hundred bytes each) at a fraction of the memory allowed.
    pub fn with_queue_limits(mut self, max_spans: usize, max_bytes: usize) -> Self {
        self.max_queued_spans = max_spans.max(1);
        self.max_queued_bytes = max_bytes.max(1);
        self
    }

    /// How often queued chunks are sent (default 1 s).
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The payload size at which a payload is cut and sent (default 1 MiB: with a streaming
    /// worker a larger payload only holds more memory, and the requests saved are few; the
    /// agent's own limit from `/info`, 25 MiB by default, also applies).
    pub fn with_max_payload_bytes(mut self, bytes: usize) -> Self {
        self.max_payload_bytes = bytes.max(1024);
        self
    }

    /// The timeout of one request, connection included (default 2 s).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Retries after a failed request (default 4), with exponential backoff and jitter
    /// starting at `initial_backoff` (default 100 ms) and capped at `max_backoff` (2 s).
    pub fn with_retries(
        mut self,
        max_retries: u32,
        initial_backoff: Duration,
        max_backoff: Duration,
    ) -> Self {
        self.max_retries = max_retries;
        self.initial_backoff = initial_backoff;
        self.max_backoff = max_backoff.max(initial_backoff);
        self
    }

    /// The tracer version sent in `Datadog-Meta-Tracer-Version` (default: this crate's).
    pub fn with_tracer_version(mut self, version: impl Into<String>) -> Self {
        self.tracer_version = version.into();
        self
    }

    /// Overrides the detected container id (`None` to send none).
    pub fn with_container_id(mut self, id: Option<String>) -> Self {
        self.container_id = id;
        self
    }

    /// Sets the callback that receives the agent's `rate_by_service` table.
    pub fn with_rate_callback(mut self, callback: RateCallback) -> Self {
        self.rate_callback = Some(callback);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_validated() {
        let env = |k: &str| match k {
            "DD_TRACE_API_VERSION" => Some("v0.5".to_owned()),
            "DD_TRACE_AGENT_TIMEOUT_SECONDS" => Some("0.5".to_owned()),
            "DD_TRACE_NATIVE_SPAN_EVENTS" => Some("TRUE".to_owned()),
            _ => None,
        };
        let c = TransportConfig::from_lookup(env, |_| false);
        assert_eq!(c.api_version, Some(Format::V05));
        assert_eq!(c.request_timeout, Duration::from_millis(500));
        assert_eq!(c.native_span_events, Some(true));

        let bad = |k: &str| match k {
            "DD_TRACE_API_VERSION" => Some("v9".to_owned()),
            "DD_TRACE_AGENT_TIMEOUT_SECONDS" => Some("-1".to_owned()),
            "DD_TRACE_NATIVE_SPAN_EVENTS" => Some("maybe".to_owned()),
            _ => None,
        };
        let c = TransportConfig::from_lookup(bad, |_| false);
        assert_eq!(c.api_version, None);
        assert_eq!(c.request_timeout, Duration::from_secs(2));
        assert_eq!(c.native_span_events, None);
    }
}
