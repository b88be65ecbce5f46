//! Delivery to the real Datadog test agent, over TCP and over a Unix socket.

use std::collections::BTreeMap;
use std::io;
use std::net::TcpStream;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ddtrace_encoding::Format;
use ddtrace_model::TraceChunk;
use ddtrace_testkit::TestAgent;
use ddtrace_transport::{AgentTransport, AgentUrl, TransportConfig};
use parking_lot::Mutex;

use crate::common::{assert_accounted, chunk};

/// Accepts connections on a Unix socket and pipes each to the agent's TCP port.
fn forward_unix_to_tcp(port: u16) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ddtrace-uds-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("apm.socket");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(upstream) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            let (mut c_read, mut u_write) =
                (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            let (mut u_read, mut c_write) = (upstream, client);
            std::thread::spawn(move || {
                let _ = io::copy(&mut c_read, &mut u_write);
                let _ = u_write.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = io::copy(&mut u_read, &mut c_write);
                let _ = c_write.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    path
}

fn deliver_and_check(agent: &TestAgent, url: AgentUrl, format: Option<Format>) {
    let rates = Arc::new(Mutex::new(Vec::<(String, f64)>::new()));
    let sink = Arc::clone(&rates);
    let expected_rates = BTreeMap::from([("service:web,env:prod".to_owned(), 0.25)]);
    agent.set_rate_by_service(&expected_rates).unwrap();
    let config = TransportConfig::default()
        .with_agent(url)
        .with_api_version(format)
        .with_flush_interval(Duration::from_millis(100))
        .with_rate_callback(Arc::new(move |r| *sink.lock() = r.to_vec()));
    let transport = AgentTransport::start(config).unwrap();
    let chunks: Vec<TraceChunk> = (1..=3).map(chunk).collect();
    for c in &chunks {
        assert!(transport.enqueue(Box::new(c.clone())));
    }
    transport.flush(Duration::from_secs(10)).unwrap();
    let stats = transport.stats();
    assert_eq!(stats.spans_sent, 6, "{stats:?}");
    assert_accounted(&stats);

    let traces = agent.wait_for_traces(3, Duration::from_secs(10)).unwrap();
    assert_eq!(traces.len(), 3);
    for sent in &chunks {
        let got = traces
            .iter()
            .find(|t| t[0].trace_id == sent.spans[0].trace_id.low())
            .expect("every trace arrives");
        assert_eq!(got.len(), sent.spans.len());
        for (g, s) in got.iter().zip(&sent.spans) {
            assert_eq!(g.span_id, s.span_id.get());
            assert_eq!(g.parent_id, s.parent_id.map_or(0, |p| p.get()));
            assert_eq!(
                (g.name.as_str(), g.service.as_str()),
                ("web.request", "web")
            );
            assert_eq!(g.resource, s.resource.as_str());
            assert_eq!((g.start, g.duration), (s.start, s.duration));
            assert_eq!(g.meta.get("http.method").map(String::as_str), Some("GET"));
            assert_eq!(g.metrics.get("retries"), s.metrics.get("retries"));
        }
        assert_eq!(got[0].metrics.get("_sampling_priority_v1"), Some(&1.0));
        assert_eq!(
            got[0].meta.get("_dd.p.tid").map(String::as_str),
            Some(format!("{:016x}", sent.spans[0].trace_id.high()).as_str())
        );
    }
    let failures = agent.trace_check_failures().unwrap();
    assert!(failures.is_empty(), "trace checks failed: {failures:?}");

    let requests = agent.requests().unwrap();
    let traces_requests: Vec<_> = requests
        .iter()
        .filter(|r| r.path().ends_with("/traces"))
        .collect();
    assert!(!traces_requests.is_empty());
    let expected_path = match format {
        Some(Format::V04) => "/v0.4/traces",
        _ => "/v0.5/traces", // the test agent offers v0.5
    };
    for r in &traces_requests {
        assert_eq!(r.path(), expected_path);
        assert_eq!(r.header("Datadog-Meta-Lang"), Some("rust"));
        assert_eq!(r.header("Content-Type"), Some("application/msgpack"));
        assert!(r.header("X-Datadog-Trace-Count").is_some());
        assert!(r.header("Datadog-Meta-Tracer-Version").is_some());
    }
    assert_eq!(
        *rates.lock(),
        vec![("service:web,env:prod".to_owned(), 0.25)]
    );
    assert!(
        transport
            .agent_info()
            .is_some_and(|i| i.supports_endpoint("/v0.4/traces"))
    );
    transport.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn traces_reach_the_test_agent_over_tcp_in_both_formats() {
    for format in [Some(Format::V04), None] {
        let agent = TestAgent::start().expect("the test agent (see ddtrace-testkit)");
        let url = AgentUrl::parse(&agent.url()).unwrap();
        deliver_and_check(&agent, url, format);
    }
}

#[test]
fn traces_reach_the_test_agent_over_a_unix_socket() {
    let agent = TestAgent::start().expect("the test agent (see ddtrace-testkit)");
    let socket = forward_unix_to_tcp(agent.port());
    let url = AgentUrl::parse(&format!("unix://{}", socket.display())).unwrap();
    deliver_and_check(&agent, url, None);
}
