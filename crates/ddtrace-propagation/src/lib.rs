//! Distributed-tracing header propagation for Datadog: reads and writes the headers that let
//! a service join traces with services instrumented by any Datadog tracer or by OpenTelemetry.
//!
//! Use the `ddtrace` crate unless you embed this piece on its own: there the OpenTelemetry
//! bridge adapts OTel's `Injector`/`Extractor` to this crate's [`Carrier`] trait, so this crate
//! has no OpenTelemetry dependency.
//!
//! ```
//! use std::collections::HashMap;
//! use ddtrace_propagation::{PropagationConfig, Propagator};
//!
//! let propagator = Propagator::new(PropagationConfig::from_lookup(|name| match name {
//!     "DD_TRACE_PROPAGATION_STYLE" => Some("tracecontext".to_owned()),
//!     _ => None,
//! }));
//! let mut headers = HashMap::new();
//! headers.insert("traceparent".to_owned(),
//!                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned());
//! headers.insert("tracestate".to_owned(), "dd=s:2;o:rum;t.dm:-4,congo=t61rcWkgMzE".to_owned());
//!
//! let extracted = propagator.extract(&headers);
//! let remote = extracted.context.expect("valid traceparent");
//! assert_eq!(remote.priority.map(|p| p.get()), Some(2));
//! assert_eq!(remote.origin.as_deref(), Some("rum"));
//! assert_eq!(remote.tags.get("_dd.p.dm").map(|v| v.as_str()), Some("-4"));
//! assert_eq!(remote.trace_id.high(), 0x4bf92f3577b34da6);
//!
//! // Forward the remote context unchanged (a proxy), or build an InjectContext for a child span.
//! let mut out = HashMap::new();
//! propagator.inject(&remote.to_inject_context().unwrap(), &mut out);
//! assert_eq!(out["tracestate"], "dd=s:2;o:rum;t.dm:-4;t.tid:4bf92f3577b34da6,congo=t61rcWkgMzE");
//! ```
//!
//! # Shape
//!
//! * [`Carrier`]: `get`/`get_all`/`set`/`keys` over text headers; implemented for
//!   `HashMap<String, String>` and `BTreeMap<String, String>`. Header names are matched
//!   case-insensitively on extraction and written in lower case.
//! * [`PropagationConfig`]: the settings, from the environment ([`PropagationConfig::from_env`],
//!   or [`PropagationConfig::from_lookup`] for tests) with `with_*` overrides in code.
//! * [`Propagator::extract`] returns an [`Extracted`]: the remote parent
//!   ([`ExtractedContext`]: trace id, parent id, priority, origin, `_dd.p.*` tags, tracestate,
//!   last parent id, propagation error), the span links made during extraction, and the
//!   [`Baggage`].
//! * [`Propagator::inject`] writes an [`InjectContext`] (borrowed from the caller's span and
//!   trace state). The caller makes the sampling decision before injecting.
//!
//! Neither returns errors: bad input never panics and never fails the request; a malformed
//! style yields no context, bad parts are dropped and reported in `_dd.propagation_error`
//! ([`ExtractedContext::propagation_error`], [`InjectStatus`]), and details are logged at
//! `debug` level through the `log` crate.
//!
//! # Styles
//!
//! ## `datadog`
//!
//! ```text
//! x-datadog-trace-id: 123456789                 low 64 bits, decimal, non-zero
//! x-datadog-parent-id: 987654322                decimal; missing or 0 is accepted (no parent)
//! x-datadog-sampling-priority: 2                any integer; invalid → no priority
//! x-datadog-origin: synthetics                  sent only when non-empty
//! x-datadog-tags: _dd.p.dm=-4,_dd.p.tid=640cfd8d00000000
//! ```
//!
//! `x-datadog-tags` carries the `_dd.p.*` propagated tags (`key=value` pairs split at the first
//! `=`, comma-separated, keys in 0x21–0x7E, values in 0x20–0x7E). Other keys and
//! `_dd.p.upstream_services` are ignored. A header longer than
//! `DD_TRACE_X_DATADOG_TAGS_MAX_LENGTH` sets `_dd.propagation_error=extract_max_size`, a
//! malformed one `decoding_error` (all tags dropped); an invalid `_dd.p.dm` is dropped alone
//! (`decoding_error`). The trace id's high 64 bits travel as `_dd.p.tid` (exactly 16
//! lower-case hex digits, else discarded with `malformed_tid <value>`). On injection the tags
//! keep their order, `_dd.p.tid` follows the trace id, and a header over the limit is not sent
//! (`inject_max_size`; `disabled` when the limit is 0).
//!
//! ## `tracecontext`
//!
//! ```text
//! traceparent: 00-640cfd8d00000000a3ce929d0e0e4736-00f067aa0ba902b7-01
//! tracestate: dd=s:2;o:rum;p:00f067aa0ba902b7;t.dm:-4;t.tid:640cfd8d00000000,foo=1,bar=baz
//! ```
//!
//! `traceparent` must be lower-case hex with non-zero ids; version `ff` is invalid, version
//! `00` has exactly four fields, later versions may add `-`-separated fields. A repeated
//! `traceparent` is invalid. Repeated `tracestate` headers are joined. The `dd` member carries
//! the priority `s`, origin `o` (`=` written as `~`), last parent id `p` and the propagated
//! tags `t.<name>` (`_dd.p.<name>`). The priority is reconciled with the sampled flag: a
//! sampled flag with `s ≤ 0` (or no `s`) gives priority 1 and `_dd.p.dm=-0`; an unsampled
//! flag with `s > 0` (or no `s`) gives 0 and removes `_dd.p.dm`. Injection writes `s`, `o`,
//! `p` (the injecting span, or the stored `p` when forwarding a remote context), then `t.*`
//! while the member stays within 256 characters, then other vendors' members, 32 members at
//! most (members over 512 characters are not forwarded).
//!
//! ## `b3` (single header) and `b3multi`
//!
//! ```text
//! b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1
//!
//! x-b3-traceid: 80f198ee56343ba864fe8b2a57d3eff7   16 or 32 hex digits
//! x-b3-spanid: e457b5a2e4d86bd1
//! x-b3-sampled: 1                                  1/true → 1, 0/false → 0
//! x-b3-flags: 1                                    debug → priority 2
//! ```
//!
//! A bare sampling state (`b3: 1`) or zero ids give no context. Injection writes the short
//! trace id form for 64-bit trace ids; priority 2 is written `d` in `b3` and as
//! `x-b3-flags: 1` (next to `x-b3-sampled: 1`) in `b3multi`.
//!
//! ## `baggage`
//!
//! ```text
//! baggage: foo=bar,userId=Am%C3%A9lie,serverNode=DF%2028
//! ```
//!
//! Extracted whenever the style is configured, with or without a trace context; one malformed
//! member (no `=`, empty key or value) discards the whole header. Injection percent-encodes
//! every byte outside the W3C token sets (and `%` itself) and stops before the first entry that
//! would exceed `DD_TRACE_BAGGAGE_MAX_ITEMS` items or `DD_TRACE_BAGGAGE_MAX_BYTES` bytes.
//! [`Baggage::span_tags`] gives the `baggage.<key>` tags for `DD_TRACE_BAGGAGE_TAG_KEYS`.
//!
//! ## `none`
//!
//! No headers. Ignored when listed with other styles.
//!
//! # Settings
//!
//! | Variable | Default | Meaning |
//! |----------|---------|---------|
//! | `DD_TRACE_PROPAGATION_STYLE` | `datadog,tracecontext,baggage` | styles for both directions |
//! | `DD_TRACE_PROPAGATION_STYLE_EXTRACT` (legacy `DD_PROPAGATION_STYLE_EXTRACT`) | — | extraction styles |
//! | `DD_TRACE_PROPAGATION_STYLE_INJECT` (legacy `DD_PROPAGATION_STYLE_INJECT`) | — | injection styles |
//! | `OTEL_PROPAGATORS` | — | used only when no `DD_*PROPAGATION_STYLE*` variable is set |
//! | `DD_TRACE_PROPAGATION_EXTRACT_FIRST` | `false` | stop at the first style that yields a context |
//! | `DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT` | `continue` | `continue`, `restart` or `ignore` |
//! | `DD_TRACE_X_DATADOG_TAGS_MAX_LENGTH` | `512` | `x-datadog-tags` limit (0 disables) |
//! | `DD_TRACE_BAGGAGE_MAX_ITEMS` | `64` | baggage items |
//! | `DD_TRACE_BAGGAGE_MAX_BYTES` | `8192` | baggage header bytes |
//! | `DD_TRACE_BAGGAGE_TAG_KEYS` | `user.id,session.id,account.id` | baggage keys copied to span tags (`*` = all) |
//!
//! Style lists are comma-separated (spaces also separate names, except in the alias
//! `b3 single header`), case-insensitive; unknown names are skipped with a warning, a list
//! with no known name falls back to the next source, duplicates keep their first position.
//! An empty value counts as unset.
//!
//! # Extraction across styles
//!
//! Styles are tried in order; the first valid one gives the context. A later style with a
//! different trace id adds a span link (`reason=terminated_context`,
//! `context_headers=<style>`). A later `tracecontext` context of the same trace contributes
//! its tracestate and, when its parent id differs, its parent id; the last Datadog parent id
//! (`_dd.parent_id`) is then its `p`, or the replaced parent id in hex. With
//! `DD_TRACE_PROPAGATION_EXTRACT_FIRST=true` no other style is looked at. `restart` returns no
//! context but one `propagation_behavior_extract` link; `ignore` returns nothing at all.
//!
//! # Conformance
//!
//! `tests/vectors.rs` drives all 1,058 records of the shared golden vectors (recorded from
//! Datadog's Python tracer) through extraction, forwarding and child-span injection. Where that
//! tracer departs from the Datadog specification the test asserts the specification's rule
//! instead and names the departure (for example: an unparseable
//! `x-datadog-sampling-priority` keeps the context without priority; injected W3C flags are
//! only `00`/`01`; baggage properties after `;` are ignored; the `dd` member is written
//! `s`, `o`, `p`, then `t.*` in tag order).
//!
//! # Supported Rust versions
//!
//! The minimum supported Rust version is 1.85; raising it is a minor-version change.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)
)]

mod b3;
mod baggage;
mod carrier;
mod config;
mod context;
mod datadog;
mod error;
mod propagator;
mod util;
mod w3c;

pub use baggage::Baggage;
pub use carrier::Carrier;
pub use config::{
    BaggageTagKeys, DEFAULT_BAGGAGE_MAX_BYTES, DEFAULT_BAGGAGE_MAX_ITEMS, DEFAULT_STYLES,
    DEFAULT_X_DATADOG_TAGS_MAX_LENGTH, ExtractBehavior, PropagationConfig, Style, parse_style_list,
};
pub use context::{Extracted, ExtractedContext, InjectContext, InjectStatus};
pub use error::{Error, Result};
pub use propagator::Propagator;
