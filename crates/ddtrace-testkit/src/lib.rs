//! Test harness for the `ddtrace` crates: runs the real Datadog APM test agent
//! (`ddapm-test-agent`, pinned to [`TEST_AGENT_VERSION`]) and reads back what it received.
//!
//! This crate is `publish = false`; depend on it from `[dev-dependencies]` only.
//!
//! * [`ensure_test_agent`] installs the agent into a virtualenv under the workspace's
//!   `target/test-agent/venv` (override: [`VENV_ENV`]) the first time it is needed. If it
//!   cannot, the error says how to install it by hand; tests that need the agent fail with it.
//! * [`TestAgent::start`] runs one agent per test on free loopback ports with the trace checks
//!   in [`DEFAULT_CHECKS`] on, waits until it answers, and kills it on drop.
//! * [`TestAgent::traces`], [`TestAgent::requests`], [`TestAgent::trace_check_failures`] and
//!   [`TestAgent::set_rate_by_service`] wrap the agent's `/test/...` API; see this crate's
//!   `README.md` for what was verified about the agent's behaviour.
//! * [`fault::FaultServer`] plays a misbehaving agent (error statuses, slowness, resets,
//!   garbage) for what the real test agent cannot do.
//! * [`sink::SinkAgent`] is a fast loopback agent that checks every payload it is sent and
//!   counts its spans (with `ddtrace_encoding::inspect`, or the full decode on request), for
//!   throughput benchmarks.
//!
//! ```
//! use std::time::Duration;
//! use ddtrace_testkit::TestAgent;
//!
//! let agent = TestAgent::start()?;
//! let body = [0x90]; // an empty v0.4 payload
//! let answer = agent.request(
//!     "PUT",
//!     "/v0.4/traces",
//!     &[
//!         ("Content-Type", "application/msgpack"),
//!         ("X-Datadog-Trace-Count", "0"),
//!         ("Datadog-Meta-Tracer-Version", "0.1.0"),
//!     ],
//!     &body,
//! )?;
//! assert_eq!(answer.status, 200);
//! assert!(agent.trace_check_failures()?.is_empty());
//! # Ok::<(), ddtrace_testkit::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod agent;
mod error;
pub mod fault;
mod http;
mod install;
mod received;
pub mod sink;

pub use agent::{DEFAULT_CHECKS, DEFAULT_MEMORY_LIMIT_MIB, Session, TestAgent, TestAgentBuilder};
pub use error::{Error, Result};
pub use http::{HttpResponse, base64_decode, percent_encode};
pub use install::{
    PYTHON_ENV, TEST_AGENT_VERSION, VENV_ENV, ensure_test_agent, manual_install_hint, state_dir,
    venv_dir, workspace_root,
};
pub use received::{ReceivedRequest, ReceivedSpan, Trace, parse_requests, parse_traces};
