//! Integration tests: they start the real test agent (installing it on first use).

mod agent;
mod encoded_payloads;
mod sink;
