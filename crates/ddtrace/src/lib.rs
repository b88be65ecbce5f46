//! Datadog tracing behind the OpenTelemetry API.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod error;
mod tags;

pub use config::{Config, ConfigBuilder, DEFAULT_SERVICE, ExportMode};
pub use error::{Error, Result};
