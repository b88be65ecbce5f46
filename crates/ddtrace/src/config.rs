//! [`Config`]: every setting, read from the environment and overridable in code.

use std::path::Path;

use ddtrace_propagation::PropagationConfig;
use ddtrace_sampling::SamplingConfig;
use ddtrace_transport::{AgentUrl, TransportConfig};

use crate::tags::{parse_dd_tags, parse_resource_attributes, strip_url_credentials};
use crate::{Error, Result};

/// The service used when none is configured.
pub const DEFAULT_SERVICE: &str = "unnamed-rust-service";

/// Where finished spans go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportMode {
    /// To the Datadog Agent (the default).
    Agent,
    /// Nowhere: spans are created and propagated, nothing is exported
    /// (`OTEL_TRACES_EXPORTER=none`).
    None,
    /// Printed to stdout as JSON lines, one per Datadog span (`OTEL_TRACES_EXPORTER=console`).
    Console,
}

/// The tracer's configuration.
///
/// Sources, highest first: code (the builder's setters), `DD_*` variables, `OTEL_*`
/// variables, defaults. Invalid values are logged (through the `log` crate), recorded in
/// [`Config::warnings`], and replaced by their default; reading configuration never fails and
/// never panics. Only values given *in code* can make [`ConfigBuilder::build`] fail.
///
/// ```
/// let config = ddtrace::Config::builder_from_lookup(|k| match k {
///         "DD_SERVICE" => Some("checkout".to_owned()),
///         "OTEL_SERVICE_NAME" => Some("ignored".to_owned()),
///         "DD_TAGS" => Some("team:payments,env:staging".to_owned()),
///         "DD_TRACE_SAMPLE_RATE" => Some("2".to_owned()),
///         _ => None,
///     })
///     .version("1.4.2")
///     .build()?;
/// assert_eq!(config.service(), "checkout");
/// assert_eq!(config.env(), Some("staging"));
/// assert_eq!(config.version(), Some("1.4.2"));
/// assert_eq!(config.global_tags(), [("team".to_owned(), "payments".to_owned())]);
/// assert!(!config.warnings().is_empty()); // the bad sample rate and the DD/OTEL conflict
/// # Ok::<(), ddtrace::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) service: String,
    pub(crate) service_from_config: bool,
    pub(crate) env: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) enabled: bool,
    pub(crate) otel_enabled: bool,
    pub(crate) export: ExportMode,
    pub(crate) debug: bool,
    pub(crate) log_level: Option<String>,
    pub(crate) startup_logs: bool,
    pub(crate) trace_id_128bit: bool,
    pub(crate) trace_id_128bit_logging: bool,
    pub(crate) partial_flush: bool,
    pub(crate) partial_flush_min_spans: usize,
    pub(crate) logs_injection: bool,
    pub(crate) runtime_metrics: bool,
    pub(crate) git_repository_url: Option<String>,
    pub(crate) git_commit_sha: Option<String>,
    pub(crate) dogstatsd_host: String,
    pub(crate) dogstatsd_port: u16,
    pub(crate) sampling: SamplingConfig,
    pub(crate) propagation: PropagationConfig,
    pub(crate) transport: TransportConfig,
    pub(crate) warnings: Vec<String>,
}

impl Config {
    /// A builder starting from the process environment.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::from_lookup(|k| std::env::var(k).ok(), Path::exists)
    }

    /// A builder starting from `lookup` instead of the process environment (for tests and
    /// for applications that keep settings elsewhere). The default agent socket is not probed.
    pub fn builder_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> ConfigBuilder {
        ConfigBuilder::from_lookup(lookup, |_| false)
    }

    /// The configuration from the environment alone.
    pub fn from_env() -> Config {
        let builder = Config::builder();
        builder.config
    }

    /// The default service.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The environment (`env` tag), if any.
    pub fn env(&self) -> Option<&str> {
        self.env.as_deref()
    }

    /// The application version (`version` tag), if any.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Tags added to every span (from `DD_TAGS` or `OTEL_RESOURCE_ATTRIBUTES`, and code).
    pub fn global_tags(&self) -> &[(String, String)] {
        &self.tags
    }

    /// Whether spans are sent anywhere (`DD_TRACE_ENABLED`). When false, spans are still
    /// created and propagated, and nothing is exported.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether the OpenTelemetry API is backed by this tracer at all (`DD_TRACE_OTEL_ENABLED`,
    /// `OTEL_SDK_DISABLED`). When false, nothing is installed and the API stays a no-op.
    pub fn otel_enabled(&self) -> bool {
        self.otel_enabled
    }

    /// Where spans go.
    pub fn export_mode(&self) -> ExportMode {
        self.export
    }

    /// The agent address.
    pub fn agent_url(&self) -> &AgentUrl {
        self.transport.agent_url()
    }

    /// Whether the startup diagnostics line is logged (`DD_TRACE_STARTUP_LOGS`).
    pub fn startup_logs(&self) -> bool {
        self.startup_logs
    }

    /// Whether new trace ids are 128 bits (`DD_TRACE_128_BIT_TRACEID_GENERATION_ENABLED`).
    pub fn trace_id_128bit(&self) -> bool {
        self.trace_id_128bit
    }

    /// Whether log correlation writes 128-bit trace ids as 32 hex digits
    /// (`DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED`, default true).
    pub fn trace_id_128bit_logging(&self) -> bool {
        self.trace_id_128bit_logging
    }

    /// Whether log correlation is on (`DD_LOGS_INJECTION`, default true).
    pub fn logs_injection(&self) -> bool {
        self.logs_injection
    }

    /// Partial flush: enabled, and the threshold of finished spans.
    pub fn partial_flush(&self) -> (bool, usize) {
        (self.partial_flush, self.partial_flush_min_spans)
    }

    /// The git repository URL (credentials stripped) and commit sha put on the first span of
    /// each chunk (`DD_GIT_REPOSITORY_URL`, `DD_GIT_COMMIT_SHA`, `DD_TRACE_GIT_METADATA_ENABLED`).
    pub fn git_metadata(&self) -> (Option<&str>, Option<&str>) {
        (
            self.git_repository_url.as_deref(),
            self.git_commit_sha.as_deref(),
        )
    }

    /// Sampling settings.
    pub fn sampling(&self) -> &SamplingConfig {
        &self.sampling
    }

    /// Propagation settings.
    pub fn propagation(&self) -> &PropagationConfig {
        &self.propagation
    }

    /// Transport settings.
    pub fn transport(&self) -> &TransportConfig {
        &self.transport
    }

    /// What was wrong with the configuration, one message per problem.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The effective configuration as the keys of the Datadog configuration snapshot, in the
    /// order the cross-tracer test protocol's `/trace/config` uses (`dd_service`,
    /// `dd_log_level`, …), values as strings (`None` = unset).
    pub fn snapshot(&self) -> Vec<(&'static str, Option<String>)> {
        let styles: Vec<String> = self
            .propagation
            .extract_styles()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let tags: Vec<String> = self.tags.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        let ignore_parent = self
            .sampling
            .otel_sampler()
            .map(|sampler| (!sampler.is_parent_based()).to_string());
        vec![
            ("dd_service", Some(self.service.clone())),
            ("dd_log_level", self.log_level.clone()),
            (
                "dd_trace_sample_rate",
                self.sampling.sample_rate().map(|r| r.to_string()),
            ),
            ("dd_trace_enabled", Some(self.enabled.to_string())),
            (
                "dd_runtime_metrics_enabled",
                Some(self.runtime_metrics.to_string()),
            ),
            ("dd_tags", Some(tags.join(","))),
            ("dd_trace_propagation_style", Some(styles.join(","))),
            ("dd_trace_debug", Some(self.debug.to_string())),
            ("dd_trace_otel_enabled", Some(self.otel_enabled.to_string())),
            ("dd_trace_sample_ignore_parent", ignore_parent),
            ("dd_env", self.env.clone()),
            ("dd_version", self.version.clone()),
            (
                "dd_trace_agent_url",
                Some(self.transport.agent_url().to_string()),
            ),
            (
                "dd_trace_rate_limit",
                Some(self.sampling.rate_limit().to_string()),
            ),
            ("dd_dogstatsd_host", Some(self.dogstatsd_host.clone())),
            ("dd_dogstatsd_port", Some(self.dogstatsd_port.to_string())),
            ("dd_logs_injection", Some(self.logs_injection.to_string())),
            ("dd_profiling_enabled", Some("false".to_owned())),
            ("dd_data_streams_enabled", Some("false".to_owned())),
        ]
    }
}

/// Builds a [`Config`]: starts from the environment, then applies code overrides.
#[derive(Debug)]
pub struct ConfigBuilder {
    config: Config,
    errors: Vec<Error>,
}

/// Records a configuration problem: logged once, kept for the diagnostics line.
fn warn(warnings: &mut Vec<String>, message: String) {
    log::warn!("ddtrace: {message}");
    warnings.push(message);
}

fn parse_bool(name: &str, value: &str, warnings: &mut Vec<String>) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => {
            warn(
                warnings,
                format!("ignoring {name}={value:?}: expected true or false"),
            );
            None
        }
    }
}

impl ConfigBuilder {
    fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        socket_exists: impl Fn(&Path) -> bool,
    ) -> Self {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let mut warnings = Vec::new();
        let mut flag = |name: &str, default: bool| {
            get(name)
                .and_then(|v| parse_bool(name, &v, &mut warnings))
                .unwrap_or(default)
        };
        let enabled = flag("DD_TRACE_ENABLED", true);
        let debug_flag = flag("DD_TRACE_DEBUG", false);
        let startup_logs = flag("DD_TRACE_STARTUP_LOGS", false);
        let trace_id_128bit = flag("DD_TRACE_128_BIT_TRACEID_GENERATION_ENABLED", true);
        let trace_id_128bit_logging = flag("DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED", true);
        let partial_flush = flag("DD_TRACE_PARTIAL_FLUSH_ENABLED", false);
        let logs_injection = flag("DD_LOGS_INJECTION", true);
        let mut runtime_metrics = flag("DD_RUNTIME_METRICS_ENABLED", false);

        // Unified service tagging: DD_TAGS, else OTEL_RESOURCE_ATTRIBUTES; DD_SERVICE/ENV/VERSION
        // (then OTEL_SERVICE_NAME) override the pieces found in them.
        let (mut service, mut env, mut version) = (None, None, None);
        let mut tags: Vec<(String, String)> = Vec::new();
        let put = |tags: &mut Vec<(String, String)>, k: String, v: String| {
            tags.retain(|(key, _)| *key != k);
            tags.push((k, v));
        };
        if let Some(dd_tags) = get("DD_TAGS") {
            if get("OTEL_RESOURCE_ATTRIBUTES").is_some() {
                warn(
                    &mut warnings,
                    "both DD_TAGS and OTEL_RESOURCE_ATTRIBUTES are set; using DD_TAGS".to_owned(),
                );
            }
            for (k, v) in parse_dd_tags(&dd_tags) {
                match k.as_str() {
                    "service" => service = Some(v),
                    "env" => env = Some(v),
                    "version" => version = Some(v),
                    _ => put(&mut tags, k, v),
                }
            }
        } else if let Some(attrs) = get("OTEL_RESOURCE_ATTRIBUTES") {
            let (pairs, dropped) = parse_resource_attributes(&attrs);
            if dropped > 0 {
                warn(
                    &mut warnings,
                    format!("OTEL_RESOURCE_ATTRIBUTES has more than 10 entries; {dropped} ignored"),
                );
            }
            for (k, v) in pairs {
                match k.as_str() {
                    "service.name" => service = Some(v),
                    "deployment.environment" | "deployment.environment.name" => env = Some(v),
                    "service.version" => version = Some(v),
                    _ => put(&mut tags, k, v),
                }
            }
        }
        let mut service_from_config = service.is_some();
        match (get("DD_SERVICE"), get("OTEL_SERVICE_NAME")) {
            (Some(dd), otel) => {
                if otel.is_some() {
                    warn(
                        &mut warnings,
                        "both DD_SERVICE and OTEL_SERVICE_NAME are set; using DD_SERVICE"
                            .to_owned(),
                    );
                }
                service = Some(dd.trim().to_owned());
                service_from_config = true;
            }
            (None, Some(otel)) => {
                service = Some(otel.trim().to_owned());
                service_from_config = true;
            }
            (None, None) => {}
        }
        if let Some(e) = get("DD_ENV") {
            env = Some(e.trim().to_owned());
        }
        if let Some(v) = get("DD_VERSION") {
            version = Some(v.trim().to_owned());
        }

        // OTEL_SDK_DISABLED is the negation of DD_TRACE_OTEL_ENABLED; DD wins.
        let otel_enabled = match (get("DD_TRACE_OTEL_ENABLED"), get("OTEL_SDK_DISABLED")) {
            (Some(dd), otel) => {
                if otel.is_some() {
                    warn(&mut warnings, "both DD_TRACE_OTEL_ENABLED and OTEL_SDK_DISABLED are set; using DD_TRACE_OTEL_ENABLED".to_owned());
                }
                parse_bool("DD_TRACE_OTEL_ENABLED", &dd, &mut warnings).unwrap_or(true)
            }
            (None, Some(otel)) => {
                !parse_bool("OTEL_SDK_DISABLED", &otel, &mut warnings).unwrap_or(false)
            }
            (None, None) => true,
        };

        let export = match get("OTEL_TRACES_EXPORTER").map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "none" => ExportMode::None,
            Some(v) if v == "console" => ExportMode::Console,
            Some(v) if v == "otlp" => ExportMode::Agent,
            Some(other) => {
                warn(
                    &mut warnings,
                    format!(
                        "ignoring OTEL_TRACES_EXPORTER={other:?}: traces always go to the Datadog Agent (or none, console)"
                    ),
                );
                ExportMode::Agent
            }
            None => ExportMode::Agent,
        };
        if get("OTEL_METRICS_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"))
            && get("DD_RUNTIME_METRICS_ENABLED").is_none()
        {
            runtime_metrics = false;
        }

        let mut debug = debug_flag;
        let mut log_level = get("DD_LOG_LEVEL").map(|v| v.trim().to_ascii_lowercase());
        if let Some(otel) = get("OTEL_LOG_LEVEL") {
            let otel = otel.trim().to_ascii_lowercase();
            if log_level.is_some() || get("DD_TRACE_DEBUG").is_some() {
                warn(&mut warnings, "both DD_LOG_LEVEL/DD_TRACE_DEBUG and OTEL_LOG_LEVEL are set; using the DD settings".to_owned());
            } else if otel == "debug" {
                debug = true;
                log_level = Some(otel);
            } else {
                log_level = Some(otel);
            }
        }
        if let Some(level) = &log_level {
            if !["error", "warn", "info", "debug", "trace", "off"].contains(&level.as_str()) {
                warn(
                    &mut warnings,
                    format!(
                        "ignoring log level {level:?}: expected error, warn, info, debug, trace or off"
                    ),
                );
                log_level = None;
            }
        }

        let partial_flush_min_spans = match get("DD_TRACE_PARTIAL_FLUSH_MIN_SPANS") {
            None => 300,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    warn(
                        &mut warnings,
                        format!(
                            "ignoring DD_TRACE_PARTIAL_FLUSH_MIN_SPANS={v:?}: expected a positive integer"
                        ),
                    );
                    300
                }
            },
        };

        // DogStatsD is not used for traces; its address is resolved only to be reported:
        // DD_DOGSTATSD_URL (udp://host:port), else DD_DOGSTATSD_HOST / DD_AGENT_HOST and
        // DD_DOGSTATSD_PORT, else localhost:8125.
        let from_url = get("DD_DOGSTATSD_URL").and_then(|u| {
            let rest = u.trim().strip_prefix("udp://")?;
            let (host, port) = rest.rsplit_once(':')?;
            let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
            Some((host.trim_matches(['[', ']']).to_owned(), port))
        });
        let dogstatsd_host = get("DD_DOGSTATSD_HOST")
            .map(|h| h.trim().to_owned())
            .or_else(|| from_url.as_ref().map(|u| u.0.clone()))
            .or_else(|| get("DD_AGENT_HOST").map(|h| h.trim().to_owned()))
            .unwrap_or_else(|| "localhost".to_owned());
        let dogstatsd_port = match get("DD_DOGSTATSD_PORT") {
            None => from_url.as_ref().map_or(8125, |u| u.1),
            Some(v) => v
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .unwrap_or_else(|| {
                    warn(
                        &mut warnings,
                        format!("ignoring DD_DOGSTATSD_PORT={v:?}: not a port number"),
                    );
                    8125
                }),
        };

        // Source code integration: _dd.git.* on the first span of each chunk.
        let git_enabled = get("DD_TRACE_GIT_METADATA_ENABLED")
            .and_then(|v| parse_bool("DD_TRACE_GIT_METADATA_ENABLED", &v, &mut warnings))
            .unwrap_or(true);
        let git_repository_url = get("DD_GIT_REPOSITORY_URL")
            .filter(|_| git_enabled)
            .map(|u| strip_url_credentials(u.trim()));
        let git_commit_sha = get("DD_GIT_COMMIT_SHA")
            .filter(|_| git_enabled)
            .map(|s| s.trim().to_owned());

        let sampling = SamplingConfig::from_lookup(&lookup);
        for problem in sampling.problems() {
            warnings.push(problem.to_string());
        }
        let propagation = PropagationConfig::from_lookup(&lookup);
        let transport = TransportConfig::from_lookup(&lookup, socket_exists);

        ConfigBuilder {
            config: Config {
                service: service.unwrap_or_else(|| DEFAULT_SERVICE.to_owned()),
                service_from_config,
                env,
                version,
                tags,
                enabled,
                otel_enabled,
                export,
                debug,
                log_level,
                startup_logs,
                trace_id_128bit,
                trace_id_128bit_logging,
                partial_flush,
                partial_flush_min_spans,
                logs_injection,
                runtime_metrics,
                git_repository_url,
                git_commit_sha,
                dogstatsd_host,
                dogstatsd_port,
                sampling,
                propagation,
                transport,
                warnings,
            },
            errors: Vec::new(),
        }
    }

    /// Sets the default service.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.config.service = service.into();
        self.config.service_from_config = true;
        self
    }

    /// Sets the service unless one is configured (`DD_SERVICE`, `OTEL_SERVICE_NAME`,
    /// `DD_TAGS`, `OTEL_RESOURCE_ATTRIBUTES`): a program's own name, overridable by operators.
    pub fn default_service(mut self, service: impl Into<String>) -> Self {
        if !self.config.service_from_config {
            self.config.service = service.into();
        }
        self
    }

    /// Sets the environment.
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.config.env = Some(env.into());
        self
    }

    /// Sets the application version.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.config.version = Some(version.into());
        self
    }

    /// Adds a global tag (replacing one with the same key).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.config.tags.retain(|(k, _)| *k != key);
        self.config.tags.push((key, value.into()));
        self
    }

    /// Turns tracing on or off (off installs a no-op provider).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.config.enabled = enabled;
        self.config.otel_enabled = true;
        self
    }

    /// Where finished spans go.
    pub fn export_mode(mut self, mode: ExportMode) -> Self {
        self.config.export = mode;
        self
    }

    /// Sets the agent URL (`http://host:port` or `unix:///path`); an invalid URL makes
    /// [`build`](Self::build) fail.
    pub fn agent_url(mut self, url: &str) -> Self {
        match self.config.transport.clone().with_agent_url(url) {
            Ok(t) => self.config.transport = t,
            Err(e) => self.errors.push(Error::Transport(e)),
        }
        self
    }

    /// Replaces the sampling settings.
    pub fn sampling(mut self, sampling: SamplingConfig) -> Self {
        self.config.sampling = sampling;
        self
    }

    /// Replaces the propagation settings.
    pub fn propagation(mut self, propagation: PropagationConfig) -> Self {
        self.config.propagation = propagation;
        self
    }

    /// Adjusts the transport settings.
    pub fn transport(mut self, adjust: impl FnOnce(TransportConfig) -> TransportConfig) -> Self {
        self.config.transport = adjust(self.config.transport.clone());
        self
    }

    /// Logs the startup diagnostics line (also `DD_TRACE_STARTUP_LOGS=true`).
    pub fn startup_logs(mut self, on: bool) -> Self {
        self.config.startup_logs = on;
        self
    }

    /// Generates 128-bit trace ids (default true).
    pub fn trace_id_128bit(mut self, on: bool) -> Self {
        self.config.trace_id_128bit = on;
        self
    }

    /// Enables partial flush of long traces at `min_spans` finished spans.
    pub fn partial_flush(mut self, enabled: bool, min_spans: usize) -> Self {
        self.config.partial_flush = enabled;
        self.config.partial_flush_min_spans = min_spans.max(1);
        self
    }

    /// The configuration, or the first error among the values given in code.
    pub fn build(mut self) -> Result<Config> {
        match self.errors.drain(..).next() {
            Some(e) => Err(e),
            None => Ok(self.config),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::builder_from_lookup(move |k| vars.get(k).cloned())
            .build()
            .unwrap()
    }

    #[test]
    fn defaults() {
        let c = config(&[]);
        assert_eq!(c.service(), DEFAULT_SERVICE);
        assert_eq!((c.env(), c.version()), (None, None));
        assert!(c.enabled() && c.trace_id_128bit() && !c.startup_logs());
        assert_eq!(c.export_mode(), ExportMode::Agent);
        assert_eq!(c.partial_flush(), (false, 300));
        assert_eq!(c.agent_url().to_string(), "http://localhost:8126");
        assert!(c.warnings().is_empty());
    }

    /// config.md §2.1 example: DD_SERVICE/DD_ENV/DD_VERSION override DD_TAGS entries.
    #[test]
    fn unified_service_tagging_precedence() {
        let c = config(&[
            ("DD_TAGS", "service:random-service2,env:dev2,version:1.2.4"),
            ("DD_SERVICE", "random-service"),
            ("DD_ENV", "dev"),
            ("DD_VERSION", "5.2.0"),
        ]);
        assert_eq!(
            (c.service(), c.env(), c.version()),
            ("random-service", Some("dev"), Some("5.2.0"))
        );
        assert!(c.global_tags().is_empty());
        let c = config(&[("DD_TAGS", "service:s,env:e,version:v,team:x")]);
        assert_eq!(
            (c.service(), c.env(), c.version()),
            ("s", Some("e"), Some("v"))
        );
        assert_eq!(c.global_tags(), [("team".to_owned(), "x".to_owned())]);
    }

    /// otel-mapping.md §11.2 worked example and the DD-over-OTEL rule.
    #[test]
    fn otel_variables_apply_only_when_dd_ones_are_absent() {
        let c = config(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=test1,service.name=test2,service.version=5,foo=bar1,baz=qux1",
        )]);
        assert_eq!(
            (c.service(), c.env(), c.version()),
            ("test2", Some("test1"), Some("5"))
        );
        assert_eq!(
            c.global_tags(),
            [
                ("foo".to_owned(), "bar1".to_owned()),
                ("baz".to_owned(), "qux1".to_owned())
            ]
        );
        let c = config(&[
            ("OTEL_SERVICE_NAME", "otel_service"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=x"),
        ]);
        assert_eq!(c.service(), "otel_service");
        let c = config(&[("DD_SERVICE", "dd"), ("OTEL_SERVICE_NAME", "otel")]);
        assert_eq!(c.service(), "dd");
        assert_eq!(c.warnings().len(), 1);
        let c = config(&[("DD_TAGS", "a:b"), ("OTEL_RESOURCE_ATTRIBUTES", "c=d")]);
        assert_eq!(c.global_tags(), [("a".to_owned(), "b".to_owned())]);
        let c = config(&[("OTEL_SDK_DISABLED", "true")]);
        assert!(!c.otel_enabled());
        let c = config(&[
            ("OTEL_SDK_DISABLED", "true"),
            ("DD_TRACE_OTEL_ENABLED", "true"),
        ]);
        assert!(c.otel_enabled());
        assert_eq!(
            config(&[("OTEL_TRACES_EXPORTER", "none")]).export_mode(),
            ExportMode::None
        );
        assert_eq!(
            config(&[("OTEL_TRACES_EXPORTER", "console")]).export_mode(),
            ExportMode::Console
        );
        assert_eq!(
            config(&[("OTEL_TRACES_EXPORTER", "otlp")]).export_mode(),
            ExportMode::Agent
        );
        let c = config(&[("OTEL_LOG_LEVEL", "debug")]);
        assert!(c.debug);
        let c = config(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
        ]);
        assert_eq!(c.sampling().sample_rate(), Some(0.1));
        let c = config(&[("OTEL_PROPAGATORS", "b3,tracecontext")]);
        let styles: Vec<String> = c
            .propagation()
            .extract_styles()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(styles.join(","), "b3,tracecontext");
    }

    #[test]
    fn git_metadata_is_read_stripped_and_can_be_disabled() {
        let vars = [
            (
                "DD_GIT_REPOSITORY_URL",
                "https://user:secret@github.com/acme/shop.git",
            ),
            ("DD_GIT_COMMIT_SHA", "abc123"),
        ];
        let c = config(&vars);
        assert_eq!(
            c.git_metadata(),
            (Some("https://github.com/acme/shop.git"), Some("abc123"))
        );
        let mut off = vars.to_vec();
        off.push(("DD_TRACE_GIT_METADATA_ENABLED", "false"));
        assert_eq!(config(&off).git_metadata(), (None, None));
    }

    #[test]
    fn every_bad_value_warns_and_keeps_the_default() {
        let c = config(&[
            ("DD_TRACE_ENABLED", "maybe"),
            ("DD_TRACE_STARTUP_LOGS", "yes please"),
            ("DD_TRACE_128_BIT_TRACEID_GENERATION_ENABLED", "2"),
            ("DD_TRACE_PARTIAL_FLUSH_MIN_SPANS", "-3"),
            ("DD_LOG_LEVEL", "loud"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("DD_TRACE_AGENT_PORT", "http"),
            ("DD_TRACE_SAMPLE_RATE", "1.5"),
            ("OTEL_SDK_DISABLED", "perhaps"),
            ("DD_DOGSTATSD_PORT", "x"),
        ]);
        assert!(c.enabled() && c.otel_enabled() && c.trace_id_128bit() && !c.startup_logs());
        assert_eq!(c.partial_flush(), (false, 300));
        assert_eq!(c.log_level, None);
        assert_eq!(c.export_mode(), ExportMode::Agent);
        assert_eq!(c.agent_url().to_string(), "http://localhost:8126");
        assert_eq!(c.sampling().sample_rate(), None);
        assert_eq!(
            c.snapshot()[15],
            ("dd_dogstatsd_port", Some("8125".to_owned()))
        );
        assert!(c.warnings().len() >= 9, "{:?}", c.warnings());
    }

    #[test]
    fn code_overrides_env_and_bad_code_values_are_errors() {
        let vars = |k: &str| match k {
            "DD_SERVICE" => Some("from-env".to_owned()),
            "DD_ENV" => Some("prod".to_owned()),
            _ => None,
        };
        let c = Config::builder_from_lookup(vars)
            .service("from-code")
            .tag("team", "a")
            .tag("team", "b")
            .agent_url("unix:///tmp/agent.sock")
            .build()
            .unwrap();
        assert_eq!((c.service(), c.env()), ("from-code", Some("prod")));
        assert_eq!(c.global_tags(), [("team".to_owned(), "b".to_owned())]);
        assert_eq!(c.agent_url().to_string(), "unix:///tmp/agent.sock");
        let err = Config::builder_from_lookup(vars)
            .agent_url("ftp://x")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("ftp://x"), "{err}");
    }

    #[test]
    fn snapshot_has_exactly_the_protocol_keys_in_order() {
        let keys: Vec<&str> = config(&[]).snapshot().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "dd_service",
                "dd_log_level",
                "dd_trace_sample_rate",
                "dd_trace_enabled",
                "dd_runtime_metrics_enabled",
                "dd_tags",
                "dd_trace_propagation_style",
                "dd_trace_debug",
                "dd_trace_otel_enabled",
                "dd_trace_sample_ignore_parent",
                "dd_env",
                "dd_version",
                "dd_trace_agent_url",
                "dd_trace_rate_limit",
                "dd_dogstatsd_host",
                "dd_dogstatsd_port",
                "dd_logs_injection",
                "dd_profiling_enabled",
                "dd_data_streams_enabled",
            ]
        );
        let c = config(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("DD_AGENT_HOST", "agent"),
        ]);
        let snap: HashMap<_, _> = c.snapshot().into_iter().collect();
        assert_eq!(
            snap["dd_trace_sample_ignore_parent"].as_deref(),
            Some("true")
        );
        assert_eq!(snap["dd_dogstatsd_host"].as_deref(), Some("agent"));
        let c = config(&[("OTEL_TRACES_SAMPLER", "parentbased_always_on")]);
        let snap: HashMap<_, _> = c.snapshot().into_iter().collect();
        assert_eq!(
            snap["dd_trace_sample_ignore_parent"].as_deref(),
            Some("false")
        );
    }

    #[test]
    fn snapshot_uses_the_spec_keys() {
        let c = config(&[
            ("DD_SERVICE", "svc"),
            ("DD_TAGS", "a:b,c:d"),
            ("DD_TRACE_SAMPLE_RATE", "0.5"),
        ]);
        let snap: HashMap<_, _> = c.snapshot().into_iter().collect();
        assert_eq!(snap["dd_service"].as_deref(), Some("svc"));
        assert_eq!(snap["dd_tags"].as_deref(), Some("a:b,c:d"));
        assert_eq!(snap["dd_env"], None);
        assert_eq!(snap["dd_trace_sample_rate"].as_deref(), Some("0.5"));
        assert_eq!(snap["dd_trace_rate_limit"].as_deref(), Some("100"));
        assert_eq!(
            snap["dd_trace_propagation_style"].as_deref(),
            Some("datadog,tracecontext,baggage")
        );
        assert_eq!(
            snap["dd_trace_agent_url"].as_deref(),
            Some("http://localhost:8126")
        );
    }
}
