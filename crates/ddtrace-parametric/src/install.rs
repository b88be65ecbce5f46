//! Installing the tracer: the one place that knows how the globals are set up.
//!
//! The server installs the tracer with the facade exactly as an application does
//! (`ddtrace::init()`: configuration from the environment, our `TracerProvider` as the global
//! OpenTelemetry tracer provider, its propagator as the global text-map propagator). The rest
//! of the server uses the `opentelemetry` global API only, plus the few operations of
//! [`Tracing`] that the global API lacks (flush, shutdown).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ddtrace::{Config, TracerGuard};

/// The installed tracer, for what the OTel global API cannot do.
#[derive(Debug)]
pub(crate) struct Tracing {
    /// `None` once shut down.
    guard: Mutex<Option<TracerGuard>>,
    config: Config,
}

/// Reads the configuration from the environment and installs the tracer. Never contacts the
/// agent (the transport's worker thread does, later).
pub(crate) fn install_tracing() -> Result<Tracing, String> {
    ddtrace::init()
        .map(Tracing::from_guard)
        .map_err(|e| format!("cannot install the tracer: {e}"))
}

impl Tracing {
    /// Wraps the facade's guard.
    pub(crate) fn from_guard(guard: TracerGuard) -> Self {
        let config = guard.config().cloned().unwrap_or_else(Config::from_env);
        Tracing {
            guard: Mutex::new(Some(guard)),
            config,
        }
    }

    /// The configuration in effect.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// Delivers every finished trace to the agent, waiting at most `timeout`.
    pub(crate) fn force_flush(&self, timeout: Duration) -> Result<(), String> {
        let guard = self.guard.lock().unwrap_or_else(PoisonError::into_inner);
        match guard.as_ref() {
            Some(g) => g.flush(timeout).map_err(|e| e.to_string()),
            None => Err("the tracer is shut down".to_owned()),
        }
    }

    /// Sends what is left and stops the background worker, waiting at most `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), String> {
        let guard = self
            .guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(guard) = guard else {
            return Ok(());
        };
        let report = guard.shutdown(timeout).map_err(|e| e.to_string())?;
        log::info!("tracer shut down: {report:?}");
        Ok(())
    }

    /// Waits up to `timeout` for the tracer to have read the agent's `/info`; true once it
    /// has. Without an agent transport (tracing off, another exporter) there is nothing to
    /// wait for, and the answer is true at once.
    pub(crate) fn wait_for_agent_info(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            {
                let guard = self.guard.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(g) = guard.as_ref() else { return true };
                if g.report().transport.is_none() || g.agent_info().is_some() {
                    return true;
                }
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
