//! Integration tests of `ddtrace-encoding`, one binary (see `Cargo.toml`).

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;
mod cross_check;
mod golden;
mod inspect;
mod properties;
mod vectors;
mod views;
mod wire;
