//! End to end: the real test agent, the server binary, and a scripted sequence of protocol
//! commands over HTTP; assertions on what the agent received.

#![allow(clippy::print_stderr, reason = "tests report measured figures")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ddtrace_testkit::{ReceivedSpan, TestAgent};
use serde_json::{Value, json};

/// The `/trace/config` keys in the order the protocol gives.
const CONFIG_KEYS: [&str; 19] = [
    "dd_service",
    "dd_log_level",
    "dd_trace_sample_rate",
    "dd_trace_enabled",
    "dd_runtime_metrics_enabled",
    "dd_tags",
    "dd_trace_propagation_style",
    "dd_trace_debug",
    "dd_trace_otel_enabled",
    "dd_trace_sample_ignore_parent",
    "dd_env",
    "dd_version",
    "dd_trace_agent_url",
    "dd_trace_rate_limit",
    "dd_dogstatsd_host",
    "dd_dogstatsd_port",
    "dd_logs_injection",
    "dd_profiling_enabled",
    "dd_data_streams_enabled",
];

/// The readiness path the harness polls.
const PING: &str = "/non-existent-endpoint-to-ping-until-the-server-starts";

/// A running server process; killed on drop if still alive.
struct Server {
    child: Child,
    port: u16,
    /// From spawn to the first 404 on the readiness path.
    startup: Duration,
}

impl Server {
    fn start(env: &[(&str, &str)]) -> Server {
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ddtrace-parametric"))
            .env_clear()
            .env("APM_TEST_CLIENT_SERVER_PORT", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the announce line");
        let port: u16 = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        let mut server = Server {
            child,
            port,
            startup: Duration::ZERO,
        };
        loop {
            if let Ok((404, _)) = server.try_call("GET", PING, None) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "server not ready after 10 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        server.startup = started.elapsed();
        server
    }

    /// One HTTP exchange: status and raw body.
    fn raw_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        let body = body.unwrap_or("");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw)?;
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
        assert!(head.contains("Connection: close"), "{head}");
        assert!(head.contains("Content-Type: application/json"), "{head}");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line in {head:?}"));
        Ok((status, body.to_owned()))
    }

    /// One HTTP exchange: status and JSON body, with integer `trace_id`s (up to 128 bits,
    /// more than `serde_json` keeps exactly) turned into strings.
    fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> std::io::Result<(u16, Value)> {
        let (status, body) = self.raw_call(method, path, body)?;
        let body = quote_trace_ids(&body);
        let json =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: body {body:?}: {e}"));
        Ok((status, json))
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        self.try_call(method, path, Some(&body.to_string()))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// A command that must succeed.
    fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.call(method, path, &body);
        assert_eq!(status, 200, "{method} {path} {body} -> {answer}");
        answer
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.ok("POST", path, body)
    }

    /// Sends SIGTERM and waits for the exit: status and time taken.
    fn sigterm(mut self) -> (ExitStatus, Duration) {
        let sent = Instant::now();
        // std cannot send SIGTERM; the shell's builtin `kill` can (no extra binary needed).
        let kill = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status()
            .expect("run sh -c kill");
        assert!(kill.success());
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, sent.elapsed());
            }
            assert!(
                sent.elapsed() < Duration::from_secs(10),
                "no exit 10 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn id(v: &Value) -> u64 {
    v["span_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no span_id in {v}"))
}

/// `"trace_id":123` → `"trace_id":"123"`.
fn quote_trace_ids(body: &str) -> String {
    const KEY: &str = "\"trace_id\":";
    let mut out = String::with_capacity(body.len() + 2);
    let mut rest = body;
    while let Some(at) = rest.find(KEY) {
        let (before, after) = rest.split_at(at + KEY.len());
        out.push_str(before);
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push('"');
            out.push_str(&after[..digits]);
            out.push('"');
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// Low 64 bits of a `trace_id` answer (an integer of up to 128 bits, quoted by `try_call`).
fn trace_low(v: &Value) -> u64 {
    let text = v["trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no trace_id in {v}"));
    let full: u128 = text.parse().unwrap_or_else(|_| panic!("trace_id {text}"));
    full as u64
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}

/// Polls the agent until a span named `name` (operation name) has arrived.
fn wait_for_span(agent: &TestAgent, name: &str) -> ReceivedSpan {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let traces = agent.traces().expect("traces");
        if let Some(s) = traces.iter().flatten().find(|s| s.name == name) {
            return s.clone();
        }
        assert!(
            Instant::now() < deadline,
            "span {name} never arrived; got {traces:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn header<'a>(headers: &'a Value, name: &str) -> Option<&'a str> {
    headers["http_headers"]
        .as_array()?
        .iter()
        .find(|h| h[0] == name)
        .and_then(|h| h[1].as_str())
}

fn find(spans: &[ReceivedSpan], span_id: u64) -> &ReceivedSpan {
    spans
        .iter()
        .find(|s| s.span_id == span_id)
        .unwrap_or_else(|| panic!("span {span_id} not received: {spans:?}"))
}

#[test]
fn scripted_sequence_reaches_the_agent() {
    let agent = TestAgent::start().expect("start the test agent");
    let url = agent.url();
    let server = Server::start(&[
        ("DD_TRACE_AGENT_URL", url.as_str()),
        ("DD_SERVICE", "param-svc"),
        ("DD_ENV", "ci"),
        ("DD_VERSION", "1.2.3"),
        ("DD_TAGS", "team:apm"),
        ("DD_TRACE_OTEL_ENABLED", "true"),
    ]);
    eprintln!(
        "parametric server startup (spawn to first 404): {:?}",
        server.startup
    );
    assert!(
        server.startup < Duration::from_secs(1),
        "startup took {:?}",
        server.startup
    );

    // /trace/config: the protocol's keys, in its order, with the environment's values.
    let config = server.ok("GET", "/trace/config", json!({}));
    let config = config["config"].as_object().expect("config object");
    let keys: Vec<&str> = config.keys().map(String::as_str).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(keys.len(), 19, "{keys:?}");
    assert_eq!(sorted.len(), 19, "duplicate keys in {keys:?}");
    assert_eq!(config["dd_service"], "param-svc");
    assert_eq!(config["dd_env"], "ci");
    assert_eq!(config["dd_version"], "1.2.3");
    assert_eq!(config["dd_tags"], "team:apm");
    assert_eq!(config["dd_trace_agent_url"], url.as_str());
    assert_eq!(
        config["dd_trace_propagation_style"],
        "datadog,tracecontext,baggage"
    );
    assert_eq!(config["dd_trace_otel_enabled"], "true");
    // The order, read from the raw answer (serde_json's map sorts its keys).
    let raw = server
        .raw_call("GET", "/trace/config", None)
        .expect("config")
        .1;
    let positions: Vec<usize> = CONFIG_KEYS
        .iter()
        .map(|k| {
            raw.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} missing in {raw}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "keys out of order: {raw}"
    );
    assert_eq!(
        server.ok("GET", "/trace/agent/ensure_agent_info", json!({}))["ready"],
        true
    );

    // A Datadog-style span tree: resource, meta, metrics, error, manual keep, baggage.
    let root = server.post(
        "/trace/span/start",
        json!({"name": "web.request", "service": "dd-svc", "resource": "/bar", "parent_id": null,
               "type": "web", "span_tags": [["key", "val"]]}),
    );
    let root_id = id(&root);
    assert_eq!(
        server.ok("GET", "/trace/span/current", json!({}))["span_id"],
        root_id
    );
    server.post(
        "/trace/span/set_meta",
        json!({"span_id": root_id, "key": "m", "value": "v"}),
    );
    server.post(
        "/trace/span/set_meta",
        json!({"span_id": root_id, "key": "flag", "value": true}),
    );
    server.post(
        "/trace/span/set_meta",
        json!({"span_id": root_id, "key": "list", "value": ["a", ["b"]]}),
    );
    server.post(
        "/trace/span/set_metric",
        json!({"span_id": root_id, "key": "count", "value": 3}),
    );
    server.post(
        "/trace/span/set_metric",
        json!({"span_id": root_id, "key": "arr", "value": [1, 2.5]}),
    );
    server.post(
        "/trace/span/set_resource",
        json!({"span_id": root_id, "resource": "/baz"}),
    );
    server.post(
        "/trace/span/error",
        json!({"span_id": root_id, "type": "ValueError", "message": "bad value", "stack": "at line 1"}),
    );
    server.post("/trace/span/manual_keep", json!({"span_id": root_id}));
    let child = server.post(
        "/trace/span/start",
        json!({"name": "child.op", "service": null, "resource": null, "parent_id": root_id,
               "type": null, "span_tags": []}),
    );
    let child_id = id(&child);
    assert_eq!(trace_low(&child), trace_low(&root));
    server.post(
        "/trace/span/set_baggage",
        json!({"span_id": child_id, "key": "user.id", "value": "u-1"}),
    );
    server.post(
        "/trace/span/set_baggage",
        json!({"span_id": child_id, "key": "gone", "value": "x"}),
    );
    server.post(
        "/trace/span/remove_baggage",
        json!({"span_id": child_id, "key": "gone"}),
    );
    let got = server.ok(
        "GET",
        "/trace/span/get_baggage",
        json!({"span_id": child_id, "key": "user.id"}),
    );
    assert_eq!(got["baggage"], "u-1");
    let all = server.ok(
        "GET",
        "/trace/span/get_all_baggage",
        json!({"span_id": child_id}),
    );
    assert_eq!(all["baggage"], json!({"user.id": "u-1"}));

    // Inject in the default styles (datadog, tracecontext, baggage).
    let injected = server.post("/trace/span/inject_headers", json!({"span_id": child_id}));
    let dd_trace_id = trace_low(&root);
    assert_eq!(
        header(&injected, "x-datadog-trace-id"),
        Some(dd_trace_id.to_string().as_str()),
        "{injected}"
    );
    assert_eq!(
        header(&injected, "x-datadog-parent-id"),
        Some(child_id.to_string().as_str())
    );
    assert_eq!(header(&injected, "x-datadog-sampling-priority"), Some("2"));
    let traceparent = header(&injected, "traceparent").expect("traceparent");
    assert!(
        traceparent.ends_with(&format!("-{child_id:016x}-01")),
        "{traceparent}"
    );
    assert!(
        header(&injected, "tracestate").is_some_and(|s| s.starts_with("dd=s:2")),
        "{injected}"
    );
    assert_eq!(header(&injected, "baggage"), Some("user.id=u-1"));

    server.post("/trace/span/finish", json!({"span_id": child_id}));
    assert_eq!(
        server.ok("GET", "/trace/span/current", json!({}))["span_id"],
        root_id
    );
    server.post("/trace/span/finish", json!({"span_id": root_id}));
    let none = server.ok("GET", "/trace/span/current", json!({}));
    assert_eq!((id(&none), trace_low(&none)), (0, 0));

    // A span the test never finishes: it must never reach the agent (not at flush, not later).
    server.post(
        "/trace/span/start",
        json!({"name": "never.finished", "parent_id": null}),
    );

    // An OpenTelemetry span tree: kinds, times, attributes, events, links, exception, status.
    let t0 = now_us();
    let otel_root = server.post(
        "/trace/otel/start_span",
        json!({"name": "otel-root", "parent_id": null, "span_kind": 1, "timestamp": t0, "links": [],
               "events": [], "attributes": {"http.request.method": "GET", "str": "v", "int": 7,
               "float": 1.5, "bools": [true, false], "ints": [1, 2]}}),
    );
    let otel_root_id = id(&otel_root);
    let otel_child = server.post(
        "/trace/otel/start_span",
        json!({"name": "otel-child", "parent_id": otel_root_id, "span_kind": 2, "timestamp": t0 + 10,
               "links": [{"parent_id": root_id, "attributes": {"link.kind": "follows", "n": [1, 2]}}],
               "events": [{"name": "first", "timestamp": t0 + 20, "attributes": {"e": 1}}],
               "attributes": {"db.system": "redis"}}),
    );
    let otel_child_id = id(&otel_child);
    assert_eq!(trace_low(&otel_child), trace_low(&otel_root));
    assert_eq!(
        server.ok("GET", "/trace/otel/current_span", json!({}))["span_id"],
        otel_child_id
    );
    server.post(
        "/trace/otel/set_attributes",
        json!({"span_id": otel_child_id, "attributes": {"extra": "x"}}),
    );
    server.post(
        "/trace/otel/add_event",
        json!({"span_id": otel_child_id, "name": "second", "timestamp": t0 + 30, "attributes": {"k": "v"}}),
    );
    server.post(
        "/trace/otel/record_exception",
        json!({"span_id": otel_child_id, "message": "boom", "attributes": {"exception.stacktrace": "at main"}}),
    );
    server.post(
        "/trace/otel/set_status",
        json!({"span_id": otel_child_id, "code": "ERROR", "description": "failed"}),
    );
    server.post(
        "/trace/otel/set_name",
        json!({"span_id": otel_root_id, "name": "GET /users"}),
    );
    let sc = server.post(
        "/trace/otel/span_context",
        json!({"span_id": otel_child_id}),
    );
    assert_eq!(sc["span_id"], otel_child_id);
    assert_eq!(sc["trace_id"].as_str().map(str::len), Some(32));
    assert!(
        sc["trace_id"]
            .as_str()
            .is_some_and(|t| t.ends_with(&format!("{:016x}", trace_low(&otel_child))))
    );
    assert_eq!(sc["trace_flags"], "01");
    assert_eq!(sc["remote"], false);
    assert!(
        sc["trace_state"]
            .as_str()
            .is_some_and(|s| s.starts_with("dd=")),
        "{sc}"
    );
    let recording = |id: u64| {
        server.post("/trace/otel/is_recording", json!({"span_id": id}))["is_recording"].clone()
    };
    assert_eq!(recording(otel_child_id), true);
    server.post(
        "/trace/otel/end_span",
        json!({"id": otel_child_id, "timestamp": t0 + 500}),
    );
    assert_eq!(recording(otel_child_id), false);
    assert_eq!(
        server.ok("GET", "/trace/otel/current_span", json!({}))["span_id"],
        otel_root_id
    );
    server.post(
        "/trace/otel/end_span",
        json!({"id": otel_root_id, "timestamp": t0 + 1000}),
    );

    // Flush: synchronous, so the traces are at the agent when it answers.
    server.post("/trace/span/flush", json!({}));
    server.post("/trace/stats/flush", json!({}));
    let traces = agent
        .wait_for_traces(2, Duration::from_secs(2))
        .expect("two traces after flush");
    let spans: Vec<ReceivedSpan> = traces.into_iter().flatten().collect();

    let dd_root = find(&spans, root_id);
    assert_eq!(
        (dd_root.name.as_str(), dd_root.service.as_str()),
        ("web.request", "dd-svc")
    );
    assert_eq!(
        (dd_root.resource.as_str(), dd_root.span_type.as_str()),
        ("/baz", "web")
    );
    assert_eq!(
        (dd_root.trace_id, dd_root.parent_id, dd_root.error),
        (dd_trace_id, 0, 1)
    );
    let meta = |s: &ReceivedSpan, k: &str| s.meta.get(k).cloned();
    for (k, v) in [
        ("key", "val"),
        ("m", "v"),
        ("flag", "true"),
        ("list.0", "a"),
        ("list.1.0", "b"),
        ("error.type", "ValueError"),
        ("error.message", "bad value"),
        ("error.stack", "at line 1"),
        ("env", "ci"),
        ("team", "apm"),
    ] {
        assert_eq!(
            meta(dd_root, k).as_deref(),
            Some(v),
            "meta {k} of {dd_root:?}"
        );
    }
    assert_eq!(dd_root.metrics.get("count"), Some(&3.0));
    assert_eq!(
        (dd_root.metrics.get("arr.0"), dd_root.metrics.get("arr.1")),
        (Some(&1.0), Some(&2.5))
    );
    assert_eq!(
        dd_root.metrics.get("_sampling_priority_v1"),
        Some(&2.0),
        "{dd_root:?}"
    );
    assert!(
        !dd_root.meta.contains_key("operation.name") && !dd_root.meta.contains_key("resource.name")
    );
    let dd_child = find(&spans, child_id);
    assert_eq!(
        (dd_child.name.as_str(), dd_child.resource.as_str()),
        ("child.op", "child.op")
    );
    assert_eq!(
        (dd_child.service.as_str(), dd_child.parent_id),
        ("dd-svc", root_id)
    );

    let o_root = find(&spans, otel_root_id);
    assert_eq!(
        (o_root.name.as_str(), o_root.resource.as_str()),
        ("http.server.request", "GET /users")
    );
    assert_eq!(
        (o_root.service.as_str(), o_root.span_type.as_str()),
        ("param-svc", "web")
    );
    assert_eq!(
        (o_root.start, o_root.duration),
        ((t0 * 1000) as i64, 1_000_000)
    );
    assert_eq!(meta(o_root, "span.kind").as_deref(), Some("server"));
    assert_eq!(meta(o_root, "version").as_deref(), Some("1.2.3"));
    assert_eq!(
        (
            meta(o_root, "str").as_deref(),
            meta(o_root, "bools.1").as_deref()
        ),
        (Some("v"), Some("false"))
    );
    assert_eq!(
        (o_root.metrics.get("int"), o_root.metrics.get("float")),
        (Some(&7.0), Some(&1.5))
    );
    assert_eq!(o_root.metrics.get("ints.1"), Some(&2.0));
    let o_child = find(&spans, otel_child_id);
    assert_eq!(
        (o_child.name.as_str(), o_child.resource.as_str()),
        ("redis.query", "otel-child")
    );
    assert_eq!(
        (o_child.parent_id, o_child.span_type.as_str(), o_child.error),
        (otel_root_id, "redis", 1)
    );
    assert_eq!(
        (o_child.start, o_child.duration),
        (((t0 + 10) * 1000) as i64, 490_000)
    );
    assert_eq!(meta(o_child, "error.message").as_deref(), Some("boom"));
    assert_eq!(meta(o_child, "error.stack").as_deref(), Some("at main"));
    assert_eq!(meta(o_child, "extra").as_deref(), Some("x"));
    assert_eq!(
        meta(o_child, "_dd.span_events.has_exception").as_deref(),
        Some("true")
    );
    // Events and links, native or in their meta fallbacks: check the names and the target.
    let child_json = format!("{:?} {:?}", o_child.meta, o_child.other);
    for needle in ["first", "second", "exception", "follows"] {
        assert!(
            child_json.contains(needle),
            "{needle} missing from {child_json}"
        );
    }
    let (hex, dec) = (format!("{root_id:016x}"), root_id.to_string());
    assert!(
        child_json.contains(&hex) || child_json.contains(&dec),
        "no link to {root_id}: {child_json}"
    );

    // Extract the injected headers (the spans are gone after the flush: a remote parent).
    let headers: Vec<Value> = injected["http_headers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let extracted = server.post(
        "/trace/span/extract_headers",
        json!({"http_headers": headers}),
    );
    assert_eq!(id(&extracted), child_id);
    let cont = server.post(
        "/trace/span/start",
        json!({"name": "continued", "service": null, "resource": null, "parent_id": child_id,
               "type": null, "span_tags": []}),
    );
    assert_eq!(trace_low(&cont), dd_trace_id);
    let cont_id = id(&cont);
    let got = server.ok(
        "GET",
        "/trace/span/get_baggage",
        json!({"span_id": cont_id, "key": "user.id"}),
    );
    assert_eq!(got["baggage"], "u-1");
    let again = server.post("/trace/span/inject_headers", json!({"span_id": cont_id}));
    assert_eq!(
        header(&again, "x-datadog-trace-id"),
        Some(dd_trace_id.to_string().as_str())
    );
    assert_eq!(header(&again, "x-datadog-sampling-priority"), Some("2"));
    server.post("/trace/span/finish", json!({"span_id": cont_id}));
    assert_eq!(
        server.post("/trace/otel/flush", json!({"seconds": 2}))["success"],
        true
    );
    let received = wait_for_span(&agent, "continued");
    assert_eq!(
        (received.trace_id, received.parent_id),
        (dd_trace_id, child_id)
    );
    assert_eq!(received.metrics.get("_sampling_priority_v1"), Some(&2.0));

    // SIGTERM flushes what finished since the last flush, and exits within the 5 s allowed.
    let last = server.post(
        "/trace/span/start",
        json!({"name": "before.sigterm", "parent_id": null}),
    );
    server.post("/trace/span/finish", json!({"span_id": id(&last)}));
    let (status, took) = server.sigterm();
    eprintln!("parametric server SIGTERM to exit: {took:?}");
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(wait_for_span(&agent, "before.sigterm").span_id, id(&last));
    let all = agent.traces().expect("traces");
    assert!(
        all.iter().flatten().all(|s| s.name != "never.finished"),
        "an unfinished span was sent: {all:?}"
    );

    let failures = agent.trace_check_failures().expect("trace checks");
    assert!(failures.is_empty(), "trace check failures: {failures:?}");
}

#[test]
fn bad_requests_get_json_errors() {
    // No agent needed: nothing here reaches one (port 1 refuses connections).
    let server = Server::start(&[("DD_TRACE_AGENT_URL", "http://127.0.0.1:1")]);
    let cases: [(&str, &str, &str, u16); 12] = [
        ("GET", "/no/such/endpoint", "{}", 404),
        ("GET", "/trace/span/start", "{}", 405),
        ("POST", "/trace/span/start", "{not json", 400),
        ("POST", "/trace/span/start", "[1, 2]", 400),
        ("POST", "/trace/span/start", r#"{"parent_id": null}"#, 400),
        (
            "POST",
            "/trace/span/start",
            r#"{"name": "x", "parent_id": 42}"#,
            404,
        ),
        (
            "POST",
            "/trace/span/start",
            r#"{"name": "x", "parent_id": -1}"#,
            400,
        ),
        ("POST", "/trace/span/finish", r#"{"span_id": 42}"#, 404),
        (
            "POST",
            "/trace/span/set_metric",
            r#"{"span_id": 42, "key": "k", "value": 1}"#,
            404,
        ),
        (
            "POST",
            "/trace/otel/start_span",
            r#"{"name": "x", "span_kind": 9}"#,
            400,
        ),
        (
            "POST",
            "/trace/otel/start_span",
            r#"{"name": "x", "attributes": {"a": [1, "b"]}}"#,
            400,
        ),
        (
            "POST",
            "/trace/span/extract_headers",
            r#"{"http_headers": [["only-a-name"]]}"#,
            400,
        ),
    ];
    for (method, path, body, want) in cases {
        let (status, answer) = server.try_call(method, path, Some(body)).expect("exchange");
        assert_eq!(status, want, "{method} {path} {body} -> {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{answer}"
        );
    }

    // Requests on a live span that the OTel API cannot honour, and type errors.
    let span = server.post(
        "/trace/span/start",
        json!({"name": "op", "parent_id": null}),
    );
    let span_id = id(&span);
    let (status, answer) = server.call(
        "POST",
        "/trace/span/set_meta",
        &json!({"span_id": span_id, "key": "k", "value": null}),
    );
    assert_eq!(status, 501, "{answer}");
    let (status, _) = server.call(
        "POST",
        "/trace/span/set_metric",
        &json!({"span_id": span_id, "key": "k", "value": "str"}),
    );
    assert_eq!(status, 400);
    let (status, _) = server.call(
        "POST",
        "/trace/otel/set_status",
        &json!({"span_id": span_id, "code": "MAYBE"}),
    );
    assert_eq!(status, 400);

    // Extraction with nothing valid still yields an id that leads to a new trace.
    let extracted = server.post(
        "/trace/span/extract_headers",
        json!({"http_headers": [["x-datadog-trace-id", "zz"]]}),
    );
    let child = server.post(
        "/trace/span/start",
        json!({"name": "c", "parent_id": id(&extracted)}),
    );
    assert_ne!(trace_low(&child), 0);
    assert_eq!(
        server.ok("GET", "/trace/span/current", json!({}))["span_id"],
        id(&child)
    );

    // The server survives all of that and still answers.
    assert_eq!(server.try_call("GET", PING, None).expect("ping").0, 404);
    let (status, _) = server.sigterm();
    assert!(status.success());
}
