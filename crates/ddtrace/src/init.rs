//! Installing the tracer: building the provider from a [`Config`] and setting the globals.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ddtrace_model::ChunkExporter;
use ddtrace_otel::{PartialFlush, TracerProvider};
use ddtrace_sampling::Sampler;
use ddtrace_transport::{AgentTransport, TransportStats};
use opentelemetry::global;

use crate::exporters::{ConsoleExporter, DiscardExporter, Fanout};
use crate::{Config, ConfigBuilder, ExportMode, Result};

/// How long the guard's drop waits for the last spans to be sent.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Installs the tracer configured from the environment; see [`ConfigBuilder::init`].
///
/// ```no_run
/// let _guard = ddtrace::init()?; // keep it alive until the end of `main`
/// # Ok::<(), ddtrace::Error>(())
/// ```
pub fn init() -> Result<TracerGuard> {
    Config::builder().init()
}

/// A configuration builder starting from the environment; finish with
/// [`ConfigBuilder::init`].
///
/// ```no_run
/// let _guard = ddtrace::builder().service("checkout").env("prod").init()?;
/// # Ok::<(), ddtrace::Error>(())
/// ```
pub fn builder() -> ConfigBuilder {
    Config::builder()
}

impl ConfigBuilder {
    /// Builds the configuration and installs the tracer: see [`install`].
    pub fn init(self) -> Result<TracerGuard> {
        install(self.build()?)
    }
}

/// Builds the tracer provider for `config`, sets it as the global OpenTelemetry tracer
/// provider, sets its propagator as the global text-map propagator, and returns the guard that
/// flushes and shuts everything down when dropped.
///
/// With `DD_TRACE_ENABLED=false` spans are still created and propagated (so a service keeps
/// passing trace context along) but nothing is exported (span-model.md §8.4). With the
/// OpenTelemetry support switched off (`OTEL_SDK_DISABLED=true`, `DD_TRACE_OTEL_ENABLED=false`)
/// nothing is installed: the API stays OpenTelemetry's no-op, and the guard does nothing.
pub fn install(config: Config) -> Result<TracerGuard> {
    let tracer = Tracer::build(config, None)?;
    if let Some(provider) = &tracer.provider {
        global::set_tracer_provider(provider.clone());
        global::set_text_map_propagator(provider.propagator());
    }
    Ok(TracerGuard {
        tracer: Some(tracer),
    })
}

/// Installs the tracer like [`install`], and also hands every finished chunk to `observer`
/// (for example a [`CollectingExporter`](crate::CollectingExporter)). Chunks are then mapped
/// on the application thread: a debugging aid, as in the quickstart example.
pub fn install_observed(config: Config, observer: Arc<dyn ChunkExporter>) -> Result<TracerGuard> {
    let tracer = Tracer::build(config, Some(observer))?;
    if let Some(provider) = &tracer.provider {
        global::set_tracer_provider(provider.clone());
        global::set_text_map_propagator(provider.propagator());
    }
    Ok(TracerGuard {
        tracer: Some(tracer),
    })
}

/// The installed pieces.
#[derive(Debug)]
struct Tracer {
    config: Config,
    provider: Option<TracerProvider>,
    transport: Option<Arc<AgentTransport>>,
    discard: Option<Arc<DiscardExporter>>,
}

impl Tracer {
    fn build(config: Config, observer: Option<Arc<dyn ChunkExporter>>) -> Result<Tracer> {
        crate::diagnostics::apply_log_level(&config);
        crate::logs::set_global_config(&config);
        if !config.otel_enabled() {
            log::info!("ddtrace: OpenTelemetry support is disabled; no tracer is installed");
            return Ok(Tracer {
                config,
                provider: None,
                transport: None,
                discard: None,
            });
        }
        let sampler = Arc::new(Sampler::new(&config.sampling));
        let mut transport = None;
        let mut discard = None;
        let mode = if config.enabled() {
            config.export
        } else {
            ExportMode::None
        };
        let exporter: Arc<dyn ChunkExporter> = match mode {
            ExportMode::Agent => {
                let feedback = Arc::clone(&sampler);
                let t = Arc::new(AgentTransport::start(
                    config
                        .transport
                        .clone()
                        .with_tracer_version(env!("CARGO_PKG_VERSION"))
                        .with_rate_callback(Arc::new(move |rates| {
                            feedback
                                .update_agent_rates(rates.iter().map(|(k, r)| (k.as_str(), *r)));
                        })),
                )?);
                transport = Some(Arc::clone(&t));
                t
            }
            ExportMode::None => {
                let d = Arc::new(DiscardExporter::default());
                discard = Some(Arc::clone(&d));
                d
            }
            ExportMode::Console => Arc::new(ConsoleExporter::new()),
        };
        let exporter = match observer {
            Some(observer) => Arc::new(Fanout {
                primary: exporter,
                observer,
            }) as Arc<dyn ChunkExporter>,
            None => exporter,
        };
        let mut builder = TracerProvider::builder()
            .with_service(config.service.clone())
            .with_trace_id_128(config.trace_id_128bit)
            .with_sampler(sampler)
            .with_propagation(config.propagation.clone())
            .with_shared_exporter(exporter);
        if let Some(env) = &config.env {
            builder = builder.with_env(env.clone());
        }
        if let Some(version) = &config.version {
            builder = builder.with_version(version.clone());
        }
        for (k, v) in &config.tags {
            builder = builder.with_global_tag(k.clone(), v.clone());
        }
        if let Some(url) = &config.git_repository_url {
            builder =
                builder.with_first_span_tag(ddtrace_model::tags::GIT_REPOSITORY_URL, url.clone());
        }
        if let Some(sha) = &config.git_commit_sha {
            builder = builder.with_first_span_tag(ddtrace_model::tags::GIT_COMMIT_SHA, sha.clone());
        }
        if config.partial_flush {
            builder = builder.with_partial_flush(PartialFlush::Enabled {
                min_spans: config.partial_flush_min_spans,
            });
        }
        let provider = builder.build()?;
        if config.startup_logs {
            crate::diagnostics::log_startup(&config, transport.clone());
        }
        Ok(Tracer {
            config,
            provider: Some(provider),
            transport,
            discard,
        })
    }
}

/// Keeps the tracer running; dropping it sends what is left (waiting at most
/// [`SHUTDOWN_TIMEOUT`]) and stops the background worker. Keep it alive until the end of
/// `main`:
///
/// ```no_run
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let _guard = ddtrace::init()?;
///     // … the application …
///     Ok(())
/// } // spans still queued are delivered here
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard shuts the tracer down; bind it with `let _guard = …`"]
pub struct TracerGuard {
    tracer: Option<Tracer>,
}

/// What happened to the spans, as far as the tracer knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Spans handed to the exporter by the bridge.
    pub spans_finished: u64,
    /// Spans that ended after shutdown (not exported).
    pub spans_dropped_after_shutdown: u64,
    /// The agent transport's counters, when spans go to the agent.
    pub transport: Option<TransportStats>,
    /// Spans discarded by `OTEL_TRACES_EXPORTER=none`.
    pub spans_discarded: u64,
}

impl TracerGuard {
    /// The configuration in effect.
    pub fn config(&self) -> Option<&Config> {
        self.tracer.as_ref().map(|t| &t.config)
    }

    /// The installed provider (`None` when tracing is disabled).
    pub fn provider(&self) -> Option<&TracerProvider> {
        self.tracer.as_ref().and_then(|t| t.provider.as_ref())
    }

    /// What the agent's `/info` said, once the transport has read it (`None` before, or when
    /// spans do not go to the agent).
    pub fn agent_info(&self) -> Option<Arc<ddtrace_transport::AgentInfo>> {
        self.tracer.as_ref()?.transport.as_ref()?.agent_info()
    }

    /// The counters so far.
    pub fn report(&self) -> Report {
        let Some(t) = &self.tracer else {
            return Report::default();
        };
        let bridge = t.provider.as_ref().map(|p| p.stats());
        Report {
            spans_finished: bridge.map_or(0, |b| b.spans_exported),
            spans_dropped_after_shutdown: bridge.map_or(0, |b| b.spans_dropped_after_shutdown),
            transport: t.transport.as_ref().map(|t| t.stats()),
            spans_discarded: t.discard.as_ref().map_or(0, |d| d.discarded_spans()),
        }
    }

    /// Sends everything finished so far, waiting at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        if let Some(p) = self.provider() {
            p.force_flush_with_timeout(timeout)?;
        }
        Ok(())
    }

    /// Sends what is left and stops, waiting at most `timeout`; returns the final counters.
    pub fn shutdown(mut self, timeout: Duration) -> Result<Report> {
        let result = self.shutdown_inner(timeout);
        let report = self.report();
        self.tracer = None;
        result.map(|()| report)
    }

    fn shutdown_inner(&mut self, timeout: Duration) -> Result<()> {
        let Some(t) = &self.tracer else { return Ok(()) };
        let Some(provider) = &t.provider else {
            return Ok(());
        };
        let started = Instant::now();
        let result = provider.shutdown_with_timeout(timeout);
        let report = self.report();
        if let Some(stats) = report.transport {
            let dropped = stats.spans_dropped();
            if dropped > 0 {
                log::warn!(
                    "ddtrace: shut down in {:?}; {} spans sent, {dropped} dropped (see the transport's counters)",
                    started.elapsed(),
                    stats.spans_sent
                );
            } else {
                log::debug!(
                    "ddtrace: shut down in {:?}; {} spans sent",
                    started.elapsed(),
                    stats.spans_sent
                );
            }
        }
        Ok(result?)
    }
}

impl Drop for TracerGuard {
    fn drop(&mut self) {
        if self.tracer.is_some() {
            if let Err(e) = self.shutdown_inner(SHUTDOWN_TIMEOUT) {
                log::warn!("ddtrace: shutdown incomplete: {e}");
            }
        }
    }
}
