use std::collections::BTreeMap;
use std::time::Duration;

use ddtrace_testkit::{Error, TestAgent};

/// The spec's byte-level v0.4 example (agent-api.md §4.5), written out by hand.
fn v04_example() -> Vec<u8> {
    let mut b = vec![0x91, 0x91, 0x89];
    b.extend_from_slice(b"\xa7service\xa3svc");
    b.extend_from_slice(b"\xa4name\xa2op");
    b.extend_from_slice(b"\xa8resource\xa5GET /");
    b.extend_from_slice(b"\xa8trace_id\x01");
    b.extend_from_slice(b"\xa7span_id\x02");
    b.extend_from_slice(b"\xa5start\xcf\x17\x97\x9c\xfe\x36\x2a\x00\x00");
    b.extend_from_slice(b"\xa8duration\xcd\x03\xe8");
    b.extend_from_slice(b"\xa4meta\x81\xa3env\xa4prod");
    b.extend_from_slice(
        b"\xa7metrics\x81\xb5_sampling_priority_v1\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00",
    );
    b
}

/// The spec's v0.5 example (agent-api.md §5.2): the same span with a string table.
fn v05_example() -> Vec<u8> {
    let mut b = vec![0x92, 0x97, 0xa0];
    b.extend_from_slice(b"\xa3svc\xa2op\xa5GET /\xa3env\xa4prod\xb5_sampling_priority_v1");
    b.extend_from_slice(&[0x91, 0x91, 0x9c, 0x01, 0x02, 0x03, 0x01, 0x02, 0x00]);
    b.extend_from_slice(b"\xcf\x17\x97\x9c\xfe\x36\x2a\x00\x00\xcd\x03\xe8\x00");
    b.extend_from_slice(b"\x81\x04\x05\x81\x06\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00\x00");
    b
}

const HEADERS_OK: &[(&str, &str)] = &[
    ("Content-Type", "application/msgpack"),
    ("X-Datadog-Trace-Count", "1"),
    ("Datadog-Meta-Lang", "rust"),
    ("Datadog-Meta-Tracer-Version", "0.1.0"),
];

fn start() -> TestAgent {
    // On failure this panics with the install instructions (Error's Debug is its Display).
    TestAgent::start().unwrap()
}

#[test]
fn examples_have_the_spec_lengths() {
    assert_eq!(v04_example().len(), 139);
    assert_eq!(v05_example().len(), 84);
}

#[test]
fn agent_starts_and_advertises_endpoints_in_info() {
    let agent = start();
    assert!(agent.url().starts_with("http://127.0.0.1:"));
    assert_eq!(agent.url(), format!("http://127.0.0.1:{}", agent.port()));
    let info = agent.info().unwrap();
    let endpoints: Vec<&str> = info["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for expected in ["/v0.4/traces", "/v0.5/traces", "/v0.6/stats"] {
        assert!(endpoints.contains(&expected), "{info}");
    }
    assert_eq!(info["client_drop_p0s"], true, "{info}");
    assert_eq!(info["span_events"], true, "{info}");
    assert_eq!(info["version"], "test", "{info}");
}

#[test]
fn session_starts_with_no_failures_and_no_traces() {
    let agent = start();
    let session = agent.start_session("fresh", None).unwrap();
    assert!(session.trace_check_failures().unwrap().is_empty());
    assert!(session.traces().unwrap().is_empty());
    assert!(agent.trace_check_failures().unwrap().is_empty());
    assert!(agent.requests().unwrap().is_empty());
}

#[test]
fn v04_example_round_trips_through_the_agent() {
    let agent = start();
    let body = v04_example();
    let answer = agent
        .request("PUT", "/v0.4/traces", HEADERS_OK, &body)
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        answer.json().unwrap(),
        serde_json::json!({"rate_by_service": {}})
    );

    let traces = agent.wait_for_traces(1, Duration::from_secs(5)).unwrap();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].len(), 1);
    let span = &traces[0][0];
    assert_eq!(
        (
            span.service.as_str(),
            span.name.as_str(),
            span.resource.as_str()
        ),
        ("svc", "op", "GET /")
    );
    assert_eq!((span.trace_id, span.span_id, span.parent_id), (1, 2, 0));
    assert_eq!(
        (span.start, span.duration, span.error),
        (1_700_000_000_000_000_000, 1000, 0)
    );
    assert_eq!(
        span.meta,
        BTreeMap::from([("env".to_owned(), "prod".to_owned())])
    );
    assert_eq!(
        span.metrics,
        BTreeMap::from([("_sampling_priority_v1".to_owned(), 1.0)])
    );
    // v0.4 comes back with exactly the keys that were sent: no parent_id / error / type.
    let raw = agent.traces_json().unwrap();
    let keys: Vec<&String> = raw[0][0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 9, "{raw}");

    let requests = agent.requests().unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path()),
        ("PUT", "/v0.4/traces")
    );
    assert_eq!(request.body, body);
    assert_eq!(request.header("x-datadog-trace-count"), Some("1"));
    assert_eq!(request.header("content-length"), Some("139"));
    assert_eq!(request.header("datadog-meta-lang"), Some("rust"));
    assert!(agent.trace_check_failures().unwrap().is_empty());
}

#[test]
fn v05_example_decodes_to_the_same_span_with_all_fields() {
    let agent = start();
    let answer = agent
        .request("POST", "/v0.5/traces", HEADERS_OK, &v05_example())
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    let raw = agent.traces_json().unwrap();
    let span = &raw[0][0];
    assert_eq!(span["service"], "svc");
    assert_eq!(span["resource"], "GET /");
    assert_eq!(span["meta"]["env"], "prod");
    assert_eq!(span["metrics"]["_sampling_priority_v1"], 1.0);
    // v0.5 spans come back with all twelve fields, including the zero ones.
    assert_eq!(span["parent_id"], 0);
    assert_eq!(span["error"], 0);
    assert_eq!(span["type"], "");
    assert!(agent.trace_check_failures().unwrap().is_empty());
}

#[test]
fn wrong_trace_count_header_is_a_check_failure() {
    let agent = start();
    let headers = [
        ("Content-Type", "application/msgpack"),
        ("X-Datadog-Trace-Count", "2"),
        ("Datadog-Meta-Tracer-Version", "0.1.0"),
    ];
    let answer = agent
        .request("PUT", "/v0.4/traces", &headers, &v04_example())
        .unwrap();
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(
        answer.text().contains("trace_count_header"),
        "{}",
        answer.text()
    );
    let failures = agent.trace_check_failures().unwrap();
    assert_eq!(
        failures.keys().collect::<Vec<_>>(),
        ["trace_count_header"],
        "{failures:?}"
    );
    assert!(
        failures["trace_count_header"][0]
            .contains("(2) does not match actual number of traces (1)")
    );
    // The payload is stored and decoded all the same.
    assert_eq!(agent.traces().unwrap().len(), 1);
}

#[test]
fn missing_tracer_version_header_is_a_check_failure() {
    let agent = start();
    let headers = [
        ("Content-Type", "application/msgpack"),
        ("X-Datadog-Trace-Count", "1"),
    ];
    let answer = agent
        .request("PUT", "/v0.4/traces", &headers, &v04_example())
        .unwrap();
    assert_eq!(answer.status, 400);
    let failures = agent.trace_check_failures().unwrap();
    assert!(
        failures.contains_key("meta_tracer_version_header"),
        "{failures:?}"
    );
}

#[test]
fn wrong_content_type_is_rejected() {
    let agent = start();
    let headers = [
        ("Content-Type", "application/octet-stream"),
        ("X-Datadog-Trace-Count", "1"),
        ("Datadog-Meta-Tracer-Version", "0.1.0"),
    ];
    let answer = agent
        .request("PUT", "/v0.4/traces", &headers, &v04_example())
        .unwrap();
    assert_eq!(answer.status, 400);
    assert!(answer.text().contains("not supported"), "{}", answer.text());
}

#[test]
fn chosen_rate_by_service_comes_back_in_trace_responses() {
    let agent = start();
    let rates = BTreeMap::from([
        ("service:svc,env:prod".to_owned(), 0.25),
        ("service:,env:".to_owned(), 1.0),
    ]);
    agent.set_rate_by_service(&rates).unwrap();
    let answer = agent
        .request("PUT", "/v0.4/traces", HEADERS_OK, &v04_example())
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json().unwrap(),
        serde_json::json!({"rate_by_service": {"service:svc,env:prod": 0.25, "service:,env:": 1.0}})
    );
}

#[test]
fn sessions_scope_requests_rates_and_failures_by_token() {
    let agent = start();
    let rates = BTreeMap::from([("service:svc,env:".to_owned(), 0.5)]);
    let session = agent.start_session("tok-1", Some(&rates)).unwrap();
    let (name, token) = session.header().unwrap();
    let mut headers = vec![
        ("Content-Type", "application/msgpack"),
        ("X-Datadog-Trace-Count", "3"),
        ("Datadog-Meta-Tracer-Version", "0.1.0"),
    ];
    headers.push((name, token));
    let answer = agent
        .request("PUT", "/v0.4/traces", &headers, &v04_example())
        .unwrap();
    assert_eq!(answer.status, 400);
    assert_eq!(session.traces().unwrap().len(), 1);
    assert!(
        session
            .trace_check_failures()
            .unwrap()
            .contains_key("trace_count_header")
    );
    assert!(
        agent
            .session("other")
            .trace_check_failures()
            .unwrap()
            .is_empty()
    );
    // A token nobody used answers 404.
    assert!(matches!(
        agent.session("never-used").traces(),
        Err(Error::Status { status: 404, .. })
    ));

    // With a correct header the rates of the token's session come back.
    headers[1] = ("X-Datadog-Trace-Count", "1");
    let answer = agent
        .request("PUT", "/v0.4/traces", &headers, &v04_example())
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.json().unwrap()["rate_by_service"]["service:svc,env:"],
        0.5
    );
    session.clear().unwrap();
    assert!(session.requests().unwrap().is_empty());
}

#[test]
fn info_override_replaces_advertised_fields() {
    let agent = TestAgent::builder()
        .info_override(serde_json::json!({"endpoints": ["/v0.4/traces"], "span_events": false}))
        .start()
        .unwrap();
    let info = agent.info().unwrap();
    assert_eq!(info["endpoints"], serde_json::json!(["/v0.4/traces"]));
    assert_eq!(info["span_events"], false);
}

#[test]
fn disabled_checks_accept_a_wrong_count() {
    let agent = TestAgent::builder()
        .checks(Vec::<String>::new())
        .start()
        .unwrap();
    let headers = [
        ("Content-Type", "application/msgpack"),
        ("X-Datadog-Trace-Count", "7"),
    ];
    let answer = agent
        .request("PUT", "/v0.4/traces", &headers, &v04_example())
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(agent.trace_check_failures().unwrap().is_empty());
}

#[test]
fn wait_for_traces_times_out_with_what_it_saw() {
    let agent = start();
    let err = agent
        .wait_for_traces(1, Duration::from_millis(200))
        .unwrap_err();
    assert!(matches!(err, Error::WaitTimeout { .. }), "{err}");
    assert!(err.to_string().contains("0 trace(s)"), "{err}");
}

#[test]
fn dropping_the_agent_stops_it() {
    let agent = start();
    let url = format!("{}/info", agent.url());
    let port = agent.port();
    drop(agent);
    let refused = std::net::TcpStream::connect(("127.0.0.1", port)).is_err();
    assert!(refused, "{url} still accepts connections after drop");
}

#[test]
fn span_id_zero_cannot_exhaust_memory() {
    // ddapm-test-agent loops forever printing a chunk that holds a span with span_id 0; the
    // memory cap turns that into a 400 within seconds, and the agent keeps serving. A lower
    // cap than the default gets there sooner.
    let agent = TestAgent::builder()
        .memory_limit_mib(Some(1024))
        .request_timeout(Duration::from_secs(120))
        .start()
        .unwrap();
    let mut body = vec![0x91, 0x91, 0x83];
    body.extend_from_slice(b"\xa4name\xa2op\xa8trace_id\x01\xa7span_id\x00");
    let answer = agent
        .request("PUT", "/v0.4/traces", HEADERS_OK, &body)
        .unwrap();
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(agent.info().unwrap()["version"], "test");
}
