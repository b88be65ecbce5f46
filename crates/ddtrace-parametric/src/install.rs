//! Installing the tracer: the one place that knows how the globals are set up.
//!
//! The rest of the server uses the `opentelemetry` global API only (tracer, propagator,
//! `Context`), plus the few operations of [`Tracing`] that the global API lacks (flush,
//! shutdown, agent readiness). Until the facade's `ddtrace::init()` exists,
//! [`install_tracing`] wires the crates by hand, from their public APIs, the way the facade
//! will; switching to the facade replaces the body of [`install_tracing`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use ddtrace::{Config, ExportMode};
use ddtrace_model::{ChunkExporter, PendingChunk};
use ddtrace_otel::TracerProvider;
use ddtrace_sampling::Sampler;
use ddtrace_transport::AgentTransport;

/// The installed tracer, for what the OTel global API cannot do.
#[derive(Debug)]
pub(crate) struct Tracing {
    provider: TracerProvider,
    transport: Option<Arc<AgentTransport>>,
    config: Config,
}

/// Reads the configuration from the environment, installs our `TracerProvider` as the global
/// OTel tracer provider and its propagator as the global text-map propagator. Never contacts
/// the agent (the transport's worker thread does, later).
pub(crate) fn install_tracing() -> Result<Tracing, String> {
    wire_by_hand(Config::from_env())
}

/// What `ddtrace::init()` will do: provider, sampler fed by the agent's rates, transport.
pub(crate) fn wire_by_hand(config: Config) -> Result<Tracing, String> {
    let sampler = Arc::new(Sampler::new(config.sampling()));
    let transport = if config.enabled() && config.export_mode() == ExportMode::Agent {
        let rates_to = Arc::clone(&sampler);
        let transport_config =
            config
                .transport()
                .clone()
                .with_rate_callback(Arc::new(move |rates| {
                    rates_to.update_agent_rates(rates.iter().map(|(k, v)| (k.as_str(), *v)));
                }));
        let transport = AgentTransport::start(transport_config)
            .map_err(|e| format!("cannot start the agent transport: {e}"))?;
        Some(Arc::new(transport))
    } else {
        log::info!(
            "spans are not exported (tracing enabled: {}, export mode: {:?})",
            config.enabled(),
            config.export_mode()
        );
        None
    };
    let exporter: Arc<dyn ChunkExporter> = match &transport {
        Some(t) => Arc::clone(t) as Arc<dyn ChunkExporter>,
        None => Arc::new(Discard),
    };
    let mut builder = TracerProvider::builder()
        .with_service(config.service().to_owned())
        .with_trace_id_128(config.trace_id_128bit())
        .with_sampler(sampler)
        .with_propagation(config.propagation().clone())
        .with_shared_exporter(exporter);
    if let Some(env) = config.env() {
        builder = builder.with_env(env.to_owned());
    }
    if let Some(version) = config.version() {
        builder = builder.with_version(version.to_owned());
    }
    for (k, v) in config.global_tags() {
        builder = builder.with_global_tag(k.clone(), v.clone());
    }
    if let (true, min_spans) = config.partial_flush() {
        builder = builder.with_partial_flush(ddtrace_otel::PartialFlush::Enabled { min_spans });
    }
    let provider = builder
        .build()
        .map_err(|e| format!("cannot build the tracer provider: {e}"))?;
    opentelemetry::global::set_text_map_propagator(provider.propagator());
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(Tracing {
        provider,
        transport,
        config,
    })
}

impl Tracing {
    /// The configuration in effect.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// Delivers every finished trace to the agent, waiting at most `timeout`.
    pub(crate) fn force_flush(&self, timeout: Duration) -> Result<(), String> {
        self.provider
            .force_flush_with_timeout(timeout)
            .map_err(|e| e.to_string())
    }

    /// Sends what is left and stops the background worker, waiting at most `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), String> {
        self.provider
            .shutdown_with_timeout(timeout)
            .map_err(|e| e.to_string())
    }

    /// Waits until the agent's `/info` has been read, at most `timeout`. `true` when it has,
    /// or when nothing is exported (there is no agent to wait for).
    pub(crate) fn wait_for_agent_info(&self, timeout: Duration) -> bool {
        let Some(transport) = &self.transport else {
            return true;
        };
        let deadline = Instant::now() + timeout;
        loop {
            if transport.agent_info().is_some() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The exporter when tracing is disabled (`DD_TRACE_ENABLED=false`, `OTEL_TRACES_EXPORTER=none`):
/// spans are created and propagated, never sent.
#[derive(Debug)]
struct Discard;

impl ChunkExporter for Discard {
    fn export(&self, chunk: Box<dyn PendingChunk>) {
        log::debug!(
            "tracing disabled: dropping a chunk of {} spans",
            chunk.span_count()
        );
    }

    fn flush(&self, _timeout: Duration) -> ddtrace_model::Result<()> {
        Ok(())
    }

    fn shutdown(&self, _timeout: Duration) -> ddtrace_model::Result<()> {
        Ok(())
    }
}
