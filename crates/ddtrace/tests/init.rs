//! `init`/`install` against the real test agent, and the other export modes.

use std::collections::HashMap;
use std::time::Duration;

use ddtrace::{Config, ExportMode};
use ddtrace_testkit::TestAgent;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue, global};

use crate::GLOBALS;

fn config_from(vars: &[(&str, &str)]) -> Config {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::builder_from_lookup(move |k| vars.get(k).cloned())
        .build()
        .unwrap()
}

fn two_spans() {
    let tracer = global::tracer("facade-test");
    let root = tracer
        .span_builder("GET /orders")
        .with_kind(SpanKind::Server)
        .with_attributes([KeyValue::new("http.request.method", "GET")])
        .start(&tracer);
    let cx = Context::current_with_span(root);
    let mut child = tracer.start_with_context("load orders", &cx);
    child.set_attribute(KeyValue::new("rows", 3));
    child.end();
    cx.span().end();
}

#[test]
fn init_installs_the_globals_and_the_agent_receives_the_trace() {
    let _lock = GLOBALS.lock();
    let agent = TestAgent::start().expect("the test agent (see ddtrace-testkit)");
    let url = agent.url();
    let config = config_from(&[
        ("DD_TRACE_AGENT_URL", &url),
        ("DD_SERVICE", "facade-test"),
        ("DD_ENV", "ci"),
        ("DD_VERSION", "1.2.3"),
        ("DD_TAGS", "team:apm"),
        (
            "DD_GIT_REPOSITORY_URL",
            "https://token@github.com/acme/shop.git",
        ),
        ("DD_GIT_COMMIT_SHA", "0123abcd"),
    ]);
    let guard = ddtrace::install(config).unwrap();
    two_spans();
    // The global propagator is ours: injecting writes Datadog and W3C headers.
    let tracer = global::tracer("facade-test");
    let span = tracer.start("inject");
    let cx = Context::current_with_span(span);
    let mut headers = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut headers));
    assert!(
        headers.contains_key("x-datadog-trace-id") && headers.contains_key("traceparent"),
        "{headers:?}"
    );
    cx.span().end();

    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while guard.agent_info().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        guard
            .agent_info()
            .is_some_and(|i| i.supports_endpoint("/v0.4/traces"))
    );
    let report = guard.shutdown(Duration::from_secs(5)).unwrap();
    let transport = report.transport.expect("agent export");
    assert_eq!(transport.spans_sent, 3, "{report:?}");
    assert_eq!(transport.spans_dropped(), 0);

    let traces = agent.wait_for_traces(2, Duration::from_secs(10)).unwrap();
    let orders = traces
        .iter()
        .find(|t| t.iter().any(|s| s.resource == "GET /orders"))
        .unwrap();
    assert_eq!(orders.len(), 2);
    let root = orders.iter().find(|s| s.parent_id == 0).unwrap();
    let child = orders.iter().find(|s| s.parent_id == root.span_id).unwrap();
    assert_eq!(root.name, "http.server.request");
    assert_eq!(child.resource, "load orders");
    for span in [root, child] {
        assert_eq!(span.service, "facade-test");
        assert_eq!(span.meta.get("env").map(String::as_str), Some("ci"));
        assert_eq!(span.meta.get("version").map(String::as_str), Some("1.2.3"));
        assert_eq!(span.meta.get("team").map(String::as_str), Some("apm"));
    }
    assert_eq!(child.metrics.get("rows"), Some(&3.0));
    let first = &orders[0];
    assert_eq!(
        first.meta.get("_dd.git.repository_url").map(String::as_str),
        Some("https://github.com/acme/shop.git")
    );
    assert_eq!(
        first.meta.get("_dd.git.commit.sha").map(String::as_str),
        Some("0123abcd")
    );
    assert!(agent.trace_check_failures().unwrap().is_empty());
}

#[test]
fn otel_support_off_installs_nothing() {
    let _lock = GLOBALS.lock();
    for vars in [
        &[("DD_TRACE_OTEL_ENABLED", "false")][..],
        &[("OTEL_SDK_DISABLED", "true")][..],
    ] {
        let guard = ddtrace::install(config_from(vars)).unwrap();
        assert!(guard.provider().is_none());
        assert_eq!(guard.report(), ddtrace::Report::default());
    }
}

/// span-model.md §8.4: with DD_TRACE_ENABLED=false spans are still created and propagated,
/// and nothing is sent.
#[test]
fn tracing_disabled_still_propagates_but_exports_nothing() {
    let _lock = GLOBALS.lock();
    let guard = ddtrace::install(config_from(&[("DD_TRACE_ENABLED", "false")])).unwrap();
    let tracer = global::tracer("disabled");
    let cx = Context::current_with_span(tracer.start("root"));
    let mut headers = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut headers));
    assert!(headers.contains_key("traceparent"), "{headers:?}");
    cx.span().end();
    let report = guard.shutdown(Duration::from_secs(1)).unwrap();
    assert!(report.transport.is_none());
    assert_eq!(report.spans_discarded, 1, "{report:?}");
}

#[test]
fn exporter_none_records_and_discards() {
    let _lock = GLOBALS.lock();
    let config = config_from(&[("OTEL_TRACES_EXPORTER", "none")]);
    assert_eq!(config.export_mode(), ExportMode::None);
    let guard = ddtrace::install(config).unwrap();
    two_spans();
    guard.flush(Duration::from_secs(1)).unwrap();
    let report = guard.report();
    assert_eq!(report.spans_discarded, 2, "{report:?}");
    assert!(report.transport.is_none());
}

#[test]
fn dropping_the_guard_delivers_what_is_left() {
    let _lock = GLOBALS.lock();
    let agent = TestAgent::start().expect("the test agent (see ddtrace-testkit)");
    let config = config_from(&[
        ("DD_TRACE_AGENT_URL", &agent.url()),
        ("DD_SERVICE", "dropped-guard"),
    ]);
    {
        // A long interval: only the guard's drop can send it in time.
        let config_builder = config;
        let _guard = ddtrace::install(config_builder).unwrap();
        two_spans();
    }
    let traces = agent.wait_for_traces(1, Duration::from_secs(5)).unwrap();
    assert_eq!(traces[0][0].service, "dropped-guard");
}
