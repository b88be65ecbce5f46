//! Integration tests of the OpenTelemetry bridge (one binary, see STYLE.md §11).

mod agent;
mod assembly;
mod common;
mod mapping;
mod propagation;
mod properties;
mod tracing_bridge;
mod vectors;
