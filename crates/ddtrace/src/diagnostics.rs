//! The library's own diagnostics: log level and the startup line. Everything goes through the
//! `log` crate, never `tracing`, so an application bridging `tracing` into this tracer cannot
//! loop its own diagnostics back into spans.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ddtrace_transport::AgentTransport;
use serde_json::{Map, Value};

use crate::Config;

/// `DD_TRACE_DEBUG` / `DD_LOG_LEVEL` raise the `log` crate's maximum level for this process
/// when it is lower; the application's logger still decides what is printed.
pub(crate) fn apply_log_level(config: &Config) {
    let wanted = if config.debug {
        Some(log::LevelFilter::Debug)
    } else {
        config
            .log_level
            .as_deref()
            .and_then(|l| l.parse::<log::LevelFilter>().ok())
    };
    if let Some(level) = wanted {
        if level > log::max_level() {
            log::set_max_level(level);
        }
    }
}

/// The startup line as JSON: the configuration in effect and whether the agent answered.
pub(crate) fn startup_json(config: &Config, agent: Option<(bool, Option<String>)>) -> Value {
    let mut obj: Map<String, Value> = config
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.map_or(Value::Null, Value::from)))
        .collect();
    obj.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    obj.insert("lang".into(), "rust".into());
    obj.insert(
        "export".into(),
        format!("{:?}", config.export).to_lowercase().into(),
    );
    if let Some((reachable, version)) = agent {
        obj.insert("agent_reachable".into(), reachable.into());
        obj.insert(
            "agent_version".into(),
            version.map_or(Value::Null, Value::from),
        );
    }
    obj.insert(
        "configuration_warnings".into(),
        config
            .warnings
            .iter()
            .map(|w| Value::from(w.as_str()))
            .collect(),
    );
    Value::Object(obj)
}

/// Logs the startup line from a background thread once the transport has asked the agent's
/// `/info` (or after 2 s), so `init` itself never waits on the network.
pub(crate) fn log_startup(config: &Config, transport: Option<Arc<AgentTransport>>) {
    let config = config.clone();
    let spawned = std::thread::Builder::new()
        .name("ddtrace-startup-log".into())
        .spawn(move || {
            let agent = transport.map(|t| {
                let deadline = Instant::now() + Duration::from_secs(2);
                loop {
                    if let Some(info) = t.agent_info() {
                        return (true, info.version.clone());
                    }
                    if Instant::now() >= deadline {
                        return (false, None);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let unreachable = matches!(agent, Some((false, _)));
            log::info!("DATADOG TRACER CONFIGURATION - {}", startup_json(&config, agent));
            if unreachable {
                log::warn!(
                    "ddtrace: no Datadog Agent answered at {}; set DD_TRACE_AGENT_URL (or DD_AGENT_HOST / DD_TRACE_AGENT_PORT) to point at one",
                    config.transport.agent_url()
                );
            }
        });
    if let Err(e) = spawned {
        log::warn!("ddtrace: could not start the startup-log thread: {e}");
    }
}
