//! The crate's integration tests (one binary).

mod properties;
mod styles;
mod vectors;
