//! The first run: instruments a small web-request workload with the OpenTelemetry API, sends it
//! to the Datadog Agent, and prints the Datadog spans it produced as a tree.
//!
//! ```text
//! cargo run --example quickstart
//! DD_TRACE_AGENT_URL=http://my-agent:8126 DD_ENV=dev cargo run --example quickstart
//! ```
//!
//! With no agent running it still finishes in a few seconds and says how to point it at one.

// An example program talks to its user on stdout.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::time::Duration;

use ddtrace::model::TraceChunk;
use ddtrace::{CollectingExporter, Config};
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue, global};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let collected = CollectingExporter::new();
    let config = Config::builder()
        .default_service("quickstart-shop")
        .transport(|t| {
            t.with_request_timeout(Duration::from_millis(500))
                .with_retries(2, Duration::from_millis(50), Duration::from_millis(200))
        })
        .build()?;
    let agent_url = config.agent_url().to_string();
    let guard = ddtrace::install_observed(config, std::sync::Arc::new(collected.clone()))?;

    handle_request(42);
    handle_request(7);

    let report = guard.shutdown(Duration::from_secs(3))?;
    print_trees(&collected.chunks());

    let sent = report.transport.map_or(0, |t| t.spans_sent);
    let dropped = report.transport.map_or(0, |t| t.spans_dropped());
    println!();
    if sent > 0 && dropped == 0 {
        println!("Sent {sent} spans to the Datadog Agent at {agent_url}.");
    } else {
        println!(
            "No Datadog Agent accepted the spans at {agent_url} ({sent} sent, {dropped} dropped)."
        );
        println!("Start an agent, or point at one with DD_TRACE_AGENT_URL=http://host:8126");
        println!("(or unix:///path/to/apm.socket), and run this again.");
    }
    Ok(())
}

/// An HTTP-server-like request: a database query, an outgoing call, and one failure.
fn handle_request(user_id: i64) {
    let tracer = global::tracer("quickstart");
    let server = tracer
        .span_builder("GET /users/{id}")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/users/{id}"),
            KeyValue::new("url.path", format!("/users/{user_id}")),
            KeyValue::new("user.id", user_id),
        ])
        .start(&tracer);
    let cx = Context::current_with_span(server);

    let mut db = tracer
        .span_builder("SELECT users")
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("db.system", "postgresql"),
            KeyValue::new("db.statement", "SELECT * FROM users WHERE id = $1"),
            KeyValue::new("db.rows", 1),
        ])
        .start_with_context(&tracer, &cx);
    std::thread::sleep(Duration::from_millis(3));
    db.end();

    let call = tracer
        .span_builder("GET")
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("server.address", "billing.internal"),
            KeyValue::new("url.full", "http://billing.internal/accounts"),
        ])
        .start_with_context(&tracer, &cx);
    let call_cx = cx.with_span(call);
    let mut headers = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&call_cx, &mut headers));
    if user_id == 42 {
        let mut keys: Vec<_> = headers.keys().cloned().collect();
        keys.sort();
        println!("Outgoing call headers: {}", keys.join(", "));
    }
    call_cx
        .span()
        .set_attribute(KeyValue::new("http.response.status_code", 200));
    call_cx.span().end();

    if user_id == 7 {
        let mut failing = tracer
            .span_builder("load avatar")
            .start_with_context(&tracer, &cx);
        let error = std::io::Error::new(std::io::ErrorKind::NotFound, "avatar 7 not found");
        failing.record_error(&error);
        failing.set_status(Status::error("avatar missing"));
        failing.end();
    }

    cx.span()
        .set_attribute(KeyValue::new("http.response.status_code", 200));
    cx.span().end();
}

/// Prints each trace as an indented tree of Datadog spans.
fn print_trees(chunks: &[TraceChunk]) {
    for chunk in chunks {
        let Some(root) = chunk.spans.first() else {
            continue;
        };
        println!();
        println!(
            "trace {} (sampling priority {})",
            root.trace_id,
            chunk.priority.map_or("none".to_owned(), |p| p.to_string())
        );
        for span in chunk
            .spans
            .iter()
            .filter(|s| !chunk.spans.iter().any(|p| Some(p.span_id) == s.parent_id))
        {
            print_span(chunk, span, 1);
        }
    }
}

fn print_span(chunk: &TraceChunk, span: &ddtrace::model::Span, depth: usize) {
    let indent = "  ".repeat(depth);
    let error = if span.error {
        let message = span.meta.get("error.message").map_or("", |v| v.as_str());
        match span.meta.get("error.type") {
            Some(kind) if !kind.is_empty() => format!("  ERROR {kind}: {message}"),
            _ => format!("  ERROR {message}"),
        }
    } else {
        String::new()
    };
    println!(
        "{indent}{}  [{}]  service={}  type={}  {:.1} ms{error}",
        span.name,
        span.resource,
        span.service,
        if span.span_type.is_empty() {
            "-"
        } else {
            span.span_type.as_str()
        },
        span.duration as f64 / 1e6,
    );
    for child in chunk
        .spans
        .iter()
        .filter(|c| c.parent_id == Some(span.span_id))
    {
        print_span(chunk, child, depth + 1);
    }
}
