//! Integration tests of `ddtrace-sampling` (one test binary; see `Cargo.toml`).

mod concurrency;
mod knuth_vectors;
mod limiter;
mod properties;
mod rules_vectors;
mod support;
