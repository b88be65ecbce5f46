//! A 30-second agent outage under a producer running at full speed.

use std::time::{Duration, Instant};

use crate::common::{assert_accounted, chunk, config};
use ddtrace_testkit::fault::FaultServer;
use ddtrace_transport::AgentTransport;

/// Resident memory of this process in bytes (Linux), if it can be read.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[test]
fn enqueue_never_blocks_memory_stays_bounded_and_every_span_is_accounted_for() {
    const OUTAGE: Duration = Duration::from_secs(30);
    const MAX_SPANS: usize = 20_000;
    const MAX_BYTES: usize = 16 << 20;

    // A port with nothing listening: every connection is refused.
    let addr = FaultServer::start().addr();
    let transport = AgentTransport::start(
        config(&format!("http://{addr}"))
            .with_queue_limits(MAX_SPANS, MAX_BYTES)
            .with_flush_interval(Duration::from_millis(200)),
    )
    .unwrap();
    let template = chunk(10);
    let rss_before = rss_bytes();
    let mut worst = Duration::ZERO;
    let mut peak_queued = 0;
    let mut peak_rss = 0;
    let mut enqueued = 0u64;
    let started = Instant::now();
    while started.elapsed() < OUTAGE {
        let item = Box::new(template.clone());
        let t = Instant::now();
        transport.enqueue(item);
        worst = worst.max(t.elapsed());
        enqueued += 1;
        if enqueued % 4096 == 0 {
            let stats = transport.stats();
            peak_queued = peak_queued.max(stats.spans_queued);
            peak_rss = peak_rss.max(rss_bytes().unwrap_or(0));
        }
    }
    let stats = transport.stats();
    println!(
        "outage: {enqueued} chunks enqueued in {OUTAGE:?}; worst enqueue {worst:?}; \
         peak queued spans {peak_queued} (bound {MAX_SPANS} + one batch); \
         RSS before {:?} MiB, peak {} MiB; dropped {} (queue full {}, send failed {})",
        rss_before.map(|b| b >> 20),
        peak_rss >> 20,
        stats.spans_dropped(),
        stats.spans_dropped_queue_full,
        stats.spans_dropped_send_failed,
    );
    // Never waits on the network: one request timeout is 500 ms here.
    assert!(
        worst < Duration::from_millis(250),
        "worst enqueue {worst:?}"
    );
    // The queue plus the batch in the worker's hands.
    assert!(peak_queued <= 2 * MAX_SPANS as u64, "{peak_queued}");
    if let Some(before) = rss_before {
        assert!(
            peak_rss < before + 4 * MAX_BYTES as u64,
            "RSS grew from {before} to {peak_rss}"
        );
    }
    assert!(
        stats.spans_dropped_queue_full > 0,
        "the burst must overflow: {stats:?}"
    );

    // The agent comes back: delivery resumes, and the books balance exactly.
    let server = FaultServer::start_on(addr);
    transport.enqueue(Box::new(chunk(5)));
    transport.shutdown(Duration::from_secs(10)).unwrap();
    let stats = transport.stats();
    println!("after recovery: {stats:?}");
    assert!(stats.spans_sent >= 5, "{stats:?}");
    assert_eq!(stats.spans_queued, 0);
    assert_eq!(stats.spans_enqueued, enqueued * 10 + 5);
    assert_accounted(&stats);
    assert!(!server.trace_requests().is_empty());
}
