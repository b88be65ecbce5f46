//! Retry and drop behaviour against a fault-injecting server.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::common::{assert_accounted, chunk, config, decode_request, wait_for};
use ddtrace_testkit::fault::{FaultServer, Reply};
use ddtrace_transport::AgentTransport;

fn send_one(server: &FaultServer) -> AgentTransport {
    let transport = AgentTransport::start(config(&server.url())).unwrap();
    assert!(transport.enqueue(Box::new(chunk(3))));
    transport
}

#[test]
fn healthy_agent_gets_complete_payloads_with_the_expected_headers() {
    let server = FaultServer::start();
    let rates = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&rates);
    let transport = AgentTransport::start(
        config(&server.url()).with_rate_callback(Arc::new(move |r| sink.lock().push(r.to_vec()))),
    )
    .unwrap();
    let sent = chunk(4);
    transport.enqueue(Box::new(sent.clone()));
    transport.enqueue(Box::new(chunk(2)));
    transport.flush(Duration::from_secs(5)).unwrap();
    let stats = transport.stats();
    assert_eq!((stats.spans_sent, stats.chunks_sent), (6, 2));
    assert_accounted(&stats);

    let requests = server.trace_requests();
    // The fault server's /info offers v0.5, so the worker uses it.
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/v0.5/traces" && r.method == "PUT")
    );
    let total: usize = requests.iter().map(|r| decode_request(r).len()).sum();
    assert_eq!(total, 2);
    let first = &requests[0];
    assert_eq!(first.header("content-type"), Some("application/msgpack"));
    assert_eq!(first.header("datadog-meta-lang"), Some("rust"));
    assert_eq!(first.header("datadog-meta-lang-interpreter"), Some("rustc"));
    assert!(
        first
            .header("datadog-meta-lang-version")
            .is_some_and(|v| v.starts_with("1."))
    );
    assert_eq!(
        first.header("datadog-meta-tracer-version"),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        first.header("datadog-client-computed-top-level"),
        Some("yes")
    );
    let count: usize = first
        .header("x-datadog-trace-count")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(count, decode_request(first).len());
    assert_eq!(
        first
            .header("content-length")
            .map(|v| v.parse::<usize>().unwrap()),
        Some(first.body.len())
    );
    let decoded = decode_request(first);
    assert_eq!(decoded[0], sent, "the chunk arrives complete");
    // The agent's rates reached the callback.
    let rates = rates.lock();
    assert!(!rates.is_empty());
    assert!(rates[0].contains(&("service:web,env:prod".to_owned(), 0.5)));
    assert!(server.seen().iter().any(|s| s.path == "/info"));
}

#[test]
fn server_errors_and_throttling_are_retried_until_accepted() {
    for reply in [
        Reply::Status(500),
        Reply::Status(503),
        Reply::Status(429),
        Reply::Status(408),
    ] {
        let server = FaultServer::start();
        server.script([reply.clone(), reply.clone()]);
        let transport = send_one(&server);
        transport.flush(Duration::from_secs(5)).unwrap();
        let stats = transport.stats();
        assert_eq!(stats.spans_sent, 3, "{reply:?}: {stats:?}");
        assert_eq!(stats.retries, 2, "{reply:?}");
        assert_eq!(stats.spans_dropped(), 0);
        assert_eq!(server.trace_requests().len(), 3);
        assert_accounted(&stats);
    }
}

#[test]
fn retries_are_bounded_then_the_payload_is_dropped_and_counted() {
    let server = FaultServer::start();
    server.set_default(Reply::Status(500));
    let transport = send_one(&server);
    transport.flush(Duration::from_secs(5)).unwrap();
    let stats = transport.stats();
    assert_eq!(stats.spans_dropped_send_failed, 3);
    assert_eq!(stats.retries, 3);
    assert_eq!(server.trace_requests().len(), 4, "1 try + 3 retries");
    assert_accounted(&stats);

    // Delivery resumes once the server is healthy again.
    server.set_default(Reply::Ok);
    transport.enqueue(Box::new(chunk(2)));
    transport.flush(Duration::from_secs(5)).unwrap();
    let stats = transport.stats();
    assert_eq!(stats.spans_sent, 2);
    assert_accounted(&stats);
}

#[test]
fn client_errors_are_dropped_without_retry() {
    for code in [400, 403, 415] {
        let server = FaultServer::start();
        server.script([Reply::Status(code)]);
        let transport = send_one(&server);
        transport.flush(Duration::from_secs(5)).unwrap();
        let stats = transport.stats();
        assert_eq!(stats.spans_dropped_rejected, 3, "{code}");
        assert_eq!(stats.retries, 0);
        assert_eq!(server.trace_requests().len(), 1);
        assert_accounted(&stats);
    }
}

#[test]
fn payload_too_large_is_split_and_delivered() {
    let server = FaultServer::start();
    server.script([Reply::Status(413)]);
    let transport = AgentTransport::start(config(&server.url())).unwrap();
    for _ in 0..4 {
        transport.enqueue(Box::new(chunk(2)));
    }
    transport.flush(Duration::from_secs(5)).unwrap();
    let stats = transport.stats();
    assert_eq!(stats.spans_sent, 8, "{stats:?}");
    assert_eq!(stats.spans_dropped(), 0);
    let requests = server.trace_requests();
    assert_eq!(requests.len(), 3, "one refused, then two halves");
    assert_eq!(
        decode_request(&requests[1]).len() + decode_request(&requests[2]).len(),
        4
    );
    assert_accounted(&stats);

    // A single chunk that is still too large cannot be split: dropped and counted.
    server.script([Reply::Status(413)]);
    transport.enqueue(Box::new(chunk(1)));
    transport.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(transport.stats().spans_dropped_too_large, 1);
}

#[test]
fn a_response_slower_than_the_timeout_is_retried() {
    let server = FaultServer::start();
    server.script([Reply::Slow(Duration::from_millis(1500))]);
    let transport = send_one(&server);
    transport.flush(Duration::from_secs(8)).unwrap();
    let stats = transport.stats();
    assert_eq!(stats.retries, 1, "{stats:?}");
    assert!(stats.spans_sent >= 3);
    assert_accounted(&stats);
}

#[test]
fn a_reset_or_non_http_answer_is_retried() {
    for reply in [Reply::ResetMidResponse, Reply::NotHttp] {
        let server = FaultServer::start();
        server.script([reply.clone()]);
        let transport = send_one(&server);
        transport.flush(Duration::from_secs(5)).unwrap();
        let stats = transport.stats();
        assert_eq!(
            (stats.spans_sent, stats.retries),
            (3, 1),
            "{reply:?}: {stats:?}"
        );
        assert_accounted(&stats);
    }
}

#[test]
fn a_garbage_body_counts_as_delivered_without_rates() {
    let server = FaultServer::start();
    server.script([Reply::GarbageBody]);
    let transport = send_one(&server);
    transport.flush(Duration::from_secs(5)).unwrap();
    let stats = transport.stats();
    assert_eq!(
        (stats.spans_sent, stats.retries, stats.rate_updates),
        (3, 0, 0)
    );
    assert_accounted(&stats);
}

#[test]
fn connection_refused_is_retried_and_delivery_resumes_when_the_agent_appears() {
    // Reserve a port, then free it so connections are refused.
    let addr = FaultServer::start().addr();
    let transport = AgentTransport::start(config(&format!("http://{addr}"))).unwrap();
    transport.enqueue(Box::new(chunk(3)));
    wait_for(&transport, "the payload to be given up", |s| {
        s.spans_dropped_send_failed == 3
    });
    assert_eq!(transport.stats().retries, 3);

    let server = FaultServer::start_on(addr);
    transport.enqueue(Box::new(chunk(2)));
    transport.flush(Duration::from_secs(5)).unwrap();
    let stats = transport.stats();
    assert_eq!(stats.spans_sent, 2, "{stats:?}");
    assert_eq!(server.trace_requests().len(), 1);
    assert_accounted(&stats);
}

#[test]
fn v05_refused_with_404_falls_back_to_v04() {
    let server = FaultServer::start();
    server.script([Reply::Status(404)]);
    let transport = send_one(&server);
    transport.flush(Duration::from_secs(5)).unwrap();
    let paths: Vec<String> = server
        .trace_requests()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(paths, ["/v0.5/traces", "/v0.4/traces"]);
    assert_eq!(transport.stats().spans_sent, 3);
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking() {
    let server = FaultServer::start();
    let transport = AgentTransport::start(
        config(&server.url())
            .with_queue_limits(10, 1 << 30)
            .with_flush_interval(Duration::from_secs(3600)),
    )
    .unwrap();
    let accepted = (0..6)
        .filter(|_| transport.enqueue(Box::new(chunk(3))))
        .count();
    // The worker may already have taken a batch (it wakes at a quarter of the bound).
    let stats = transport.stats();
    assert!(accepted >= 3, "{stats:?}");
    assert_eq!(stats.spans_dropped_queue_full, (6 - accepted as u64) * 3);
    transport.flush(Duration::from_secs(5)).unwrap();
    let stats = transport.stats();
    assert_eq!(stats.spans_sent, accepted as u64 * 3);
    assert_accounted(&stats);
}

#[test]
fn shutdown_delivers_what_is_queued_and_then_refuses_more() {
    let server = FaultServer::start();
    let transport =
        AgentTransport::start(config(&server.url()).with_flush_interval(Duration::from_secs(3600)))
            .unwrap();
    for _ in 0..5 {
        transport.enqueue(Box::new(chunk(4)));
    }
    transport.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(transport.stats().spans_sent, 20);
    assert!(!transport.enqueue(Box::new(chunk(1))));
    let stats = transport.stats();
    assert_eq!(stats.spans_dropped_shutdown, 1);
    assert_accounted(&stats);
    assert!(transport.flush(Duration::from_millis(100)).is_err());
}

#[test]
fn shutdown_that_times_out_reports_and_counts_what_is_left() {
    let server = FaultServer::start();
    server.set_default(Reply::Slow(Duration::from_millis(400)));
    let transport =
        AgentTransport::start(config(&server.url()).with_flush_interval(Duration::from_secs(3600)))
            .unwrap();
    transport.enqueue(Box::new(chunk(2)));
    let err = transport.shutdown(Duration::from_millis(100)).unwrap_err();
    assert!(err.to_string().contains("not yet delivered"), "{err}");
    wait_for(&transport, "the worker to account for everything", |s| {
        s.spans_queued == 0
    });
    assert_accounted(&transport.stats());
}
