//! The crate's integration tests (one binary).

mod styles;
mod vectors;
