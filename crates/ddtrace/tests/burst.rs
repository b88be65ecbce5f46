//! A burst of small traces while the agent stalls: what bounds the queue by default is memory,
//! not a span count.
//!
//! The agent here is the test kit's fault server (the real test agent cannot be made to stall).

use std::collections::HashMap;
use std::time::Duration;

use ddtrace::Config;
use ddtrace_testkit::fault::{FaultServer, Reply};
use opentelemetry::global;
use opentelemetry::trace::{Span as _, Tracer as _};

use crate::GLOBALS;

/// More one-span traces than the 100,000-span bound the queue once had by default; at a few
/// hundred bytes each, far less than its 64 MiB.
const TRACES: u64 = 150_000;

#[test]
fn a_burst_of_one_span_traces_waits_whole_for_a_stalled_agent() {
    let _lock = GLOBALS.lock();
    let agent = FaultServer::start();
    // The first payload takes 10 s to be answered (the burst takes well under 1 s, even
    // unoptimized): the burst waits in the queue meanwhile.
    agent.script([Reply::Slow(Duration::from_secs(10))]);
    let vars: HashMap<String, String> = [
        ("DD_TRACE_AGENT_URL", agent.url()),
        ("DD_TRACE_AGENT_TIMEOUT_SECONDS", "30".to_owned()),
        ("DD_SERVICE", "burst".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::builder_from_lookup(move |k| vars.get(k).cloned())
        .build()
        .unwrap();
    let guard = ddtrace::install(config).unwrap();

    let tracer = global::tracer("burst");
    for _ in 0..TRACES {
        tracer.start("op").end();
    }
    let during = guard.report().transport.expect("agent export");
    assert_eq!(during.spans_enqueued, TRACES);
    assert_eq!(during.spans_dropped(), 0, "{during:?}");
    assert!(
        during.spans_queued > 100_000,
        "the burst was meant to outrun the stalled agent: {during:?}"
    );

    let report = guard.shutdown(Duration::from_secs(60)).unwrap();
    let after = report.transport.expect("agent export");
    assert_eq!(after.spans_sent, TRACES, "{after:?}");
    assert_eq!(after.spans_dropped(), 0);
    assert!(agent.trace_requests().len() > 1);
}
