//! Integration tests of the OpenTelemetry bridge (one binary, see STYLE.md §11).

mod common;
mod vectors;
mod mapping;
mod assembly;
mod propagation;
mod tracing_bridge;
