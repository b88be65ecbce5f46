//! Integration tests of the transport against the real Datadog test agent and a fault-injecting
//! HTTP server.

// The outage test reports its measurements on stdout (`--nocapture`).
#![allow(clippy::print_stdout)]

mod agent;
mod batching;
mod common;
mod faults;
mod outage;
