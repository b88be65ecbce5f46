//! Names of the well-known tag and metric keys.
//!
//! Using these constants keeps keys `&'static str`, so setting them allocates nothing.

/// Metric: the trace's sampling priority, on the first span of each chunk and the local root.
pub const SAMPLING_PRIORITY: &str = "_sampling_priority_v1";
/// Prefix of propagated trace tags.
pub const PROPAGATED_PREFIX: &str = "_dd.p.";
/// Meta: the sampling decision maker (`-0`, `-1`, `-3`, `-4`, …).
pub const DECISION_MAKER: &str = "_dd.p.dm";
/// Meta: the high 64 bits of the trace id, 16 lower-case hex digits.
pub const TRACE_ID_HIGH: &str = "_dd.p.tid";
/// Meta: the Knuth sampling rate that decided the trace.
pub const KNUTH_SAMPLING_RATE: &str = "_dd.p.ksr";
/// Meta: the trace origin (`synthetics`, `rum`, …).
pub const ORIGIN: &str = "_dd.origin";
/// Metric: the rate of the sampling rule that decided the trace.
pub const RULE_PSR: &str = "_dd.rule_psr";
/// Metric: the effective rate of the rate limiter.
pub const LIMIT_PSR: &str = "_dd.limit_psr";
/// Metric: the agent-provided sampling rate that decided the trace.
pub const AGENT_PSR: &str = "_dd.agent_psr";
/// Meta: the last Datadog parent id seen in W3C tracestate (`p:`).
pub const PARENT_ID: &str = "_dd.parent_id";
/// Meta: why propagation data was dropped (`extract_max_size`, `decoding_error`, …).
pub const PROPAGATION_ERROR: &str = "_dd.propagation_error";
/// Metric: `1` on top-level (service entry) spans.
pub const TOP_LEVEL: &str = "_dd.top_level";
/// Metric: `1` on spans that must get stats although not top-level.
pub const MEASURED: &str = "_dd.measured";
/// Meta: the global service, on spans of another service.
pub const BASE_SERVICE: &str = "_dd.base_service";
/// Meta: `m` on spans whose service was set manually.
pub const SERVICE_SOURCE: &str = "_dd.svc_src";
/// Meta: the span kind (`server`, `client`, `producer`, `consumer`, `internal`).
pub const SPAN_KIND: &str = "span.kind";
/// Meta: the environment.
pub const ENV: &str = "env";
/// Meta: the application version.
pub const VERSION: &str = "version";
/// Meta: the language (`rust`).
pub const LANGUAGE: &str = "language";
/// Meta: the process's runtime id (UUID v4).
pub const RUNTIME_ID: &str = "runtime-id";
/// Metric: the OS process id.
pub const PROCESS_ID: &str = "process_id";
/// Meta: process tags.
pub const PROCESS_TAGS: &str = "_dd.tags.process";
/// Meta: the reported hostname.
pub const HOSTNAME: &str = "_dd.hostname";
/// Meta: the error message.
pub const ERROR_MESSAGE: &str = "error.message";
/// Meta: the error type (exception class).
pub const ERROR_TYPE: &str = "error.type";
/// Meta: the error stack trace.
pub const ERROR_STACK: &str = "error.stack";
/// Meta: span links as JSON, where the payload format has no native field.
pub const SPAN_LINKS: &str = "_dd.span_links";
/// Meta: span events as JSON, where native span events are not used.
pub const SPAN_EVENTS: &str = "events";
/// Meta: `true` when the span has an `exception` event.
pub const HAS_EXCEPTION_EVENT: &str = "_dd.span_events.has_exception";
/// Meta: the git repository URL, credentials stripped.
pub const GIT_REPOSITORY_URL: &str = "_dd.git.repository_url";
/// Meta: the git commit sha.
pub const GIT_COMMIT_SHA: &str = "_dd.git.commit.sha";
/// Metric: single-span sampling mechanism (`8`).
pub const SPAN_SAMPLING_MECHANISM: &str = "_dd.span_sampling.mechanism";
/// Metric: the single-span sampling rule's rate.
pub const SPAN_SAMPLING_RULE_RATE: &str = "_dd.span_sampling.rule_rate";
/// Metric: the single-span sampling rule's limit.
pub const SPAN_SAMPLING_MAX_PER_SECOND: &str = "_dd.span_sampling.max_per_second";
/// Metric: App Analytics event sample rate.
pub const ANALYTICS_SAMPLE_RATE: &str = "_dd1.sr.eausr";
/// Tag set by users to keep a trace.
pub const MANUAL_KEEP: &str = "manual.keep";
/// Tag set by users to drop a trace.
pub const MANUAL_DROP: &str = "manual.drop";
/// Tag set by users to force a sampling priority.
pub const MANUAL_SAMPLING_PRIORITY: &str = "sampling.priority";
