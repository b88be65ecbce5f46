//! The streaming worker: bounded batches, payloads cut at the threshold, order and accounting.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ddtrace_model::{PendingChunk, TraceChunk};
use ddtrace_testkit::fault::{FaultServer, Reply};
use ddtrace_transport::AgentTransport;

use crate::common::{assert_accounted, chunk, config, decode_request, wait_for};

/// A chunk that counts how many chunks have been mapped (handed to the worker's encoder).
struct Counted {
    chunk: TraceChunk,
    mapped: Arc<AtomicUsize>,
}

impl PendingChunk for Counted {
    fn span_count(&self) -> usize {
        self.chunk.span_count()
    }

    fn size_hint(&self) -> usize {
        self.chunk.size_hint()
    }

    fn into_chunk(self: Box<Self>) -> TraceChunk {
        self.mapped.fetch_add(1, Ordering::SeqCst);
        self.chunk
    }
}

#[test]
fn payloads_are_cut_at_the_threshold_in_order_and_every_span_is_accounted_for() {
    const THRESHOLD: usize = 4096;
    let server = FaultServer::start();
    let transport = AgentTransport::start(
        config(&server.url())
            .with_max_payload_bytes(THRESHOLD)
            .with_flush_interval(Duration::from_secs(3600)),
    )
    .unwrap();
    let sent: Vec<TraceChunk> = (0..300).map(|i| chunk(1 + i % 4)).collect();
    for c in &sent {
        assert!(transport.enqueue(Box::new(c.clone())));
    }
    transport.flush(Duration::from_secs(10)).unwrap();
    let stats = transport.stats();
    let spans: usize = sent.iter().map(|c| c.spans.len()).sum();
    assert_eq!(stats.spans_sent, spans as u64, "{stats:?}");
    assert_eq!(stats.spans_queued, 0);
    assert_accounted(&stats);

    let requests = server.trace_requests();
    assert!(requests.len() > 5, "{} payloads", requests.len());
    assert_eq!(stats.payloads_sent, requests.len() as u64);
    // The largest chunk encodes well under 1 KiB: a payload passes the threshold by at most
    // that one chunk.
    for r in &requests {
        assert!(r.body.len() < THRESHOLD + 1024, "{} bytes", r.body.len());
    }
    let received: Vec<TraceChunk> = requests.iter().flat_map(decode_request).collect();
    assert_eq!(received.len(), sent.len());
    for (got, want) in received.iter().zip(&sent) {
        assert_eq!(got.spans[0].span_id, want.spans[0].span_id, "order kept");
        assert_eq!(got.spans.len(), want.spans.len());
    }
}

#[test]
fn the_worker_maps_no_further_ahead_than_one_batch_while_a_payload_is_in_flight() {
    let server = FaultServer::start();
    // The first payload's reply is late: the worker waits on it.
    server.script([Reply::Slow(Duration::from_millis(1500))]);
    let transport = AgentTransport::start(
        config(&server.url())
            .with_max_payload_bytes(4096)
            .with_request_timeout(Duration::from_secs(5))
            .with_flush_interval(Duration::from_secs(3600)),
    )
    .unwrap();
    let mapped = Arc::new(AtomicUsize::new(0));
    const CHUNKS: usize = 20_000;
    for _ in 0..CHUNKS {
        let c = Counted {
            chunk: chunk(1),
            mapped: Arc::clone(&mapped),
        };
        assert!(transport.enqueue(Box::new(c)));
    }
    // The queue is far past the wake-up level, so the worker starts its first payload.
    wait_for(&transport, "the first payload to be in flight", |_| {
        server.trace_requests().len() == 1 || mapped.load(Ordering::SeqCst) > 0
    });
    std::thread::sleep(Duration::from_millis(200));
    let during = mapped.load(Ordering::SeqCst);
    assert!(
        server.trace_requests().len() <= 1,
        "still waiting on the first reply"
    );
    // One batch (1,000 spans) at most; the old worker mapped the whole queue first.
    assert!(
        during <= 1_000,
        "{during} chunks mapped during the first send"
    );
    transport.flush(Duration::from_secs(30)).unwrap();
    let stats = transport.stats();
    assert_eq!(stats.spans_sent, CHUNKS as u64, "{stats:?}");
    assert_eq!(mapped.load(Ordering::SeqCst), CHUNKS);
    assert_accounted(&stats);
}

#[test]
fn a_flush_completes_while_producers_keep_the_queue_busy() {
    let server = FaultServer::start();
    let transport = Arc::new(
        AgentTransport::start(
            config(&server.url())
                .with_max_payload_bytes(64 << 10)
                .with_flush_interval(Duration::from_secs(3600)),
        )
        .unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let transport = Arc::clone(&transport);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let template = chunk(5);
            while !stop.load(Ordering::Relaxed) {
                transport.enqueue(Box::new(template.clone()));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    let before = transport.stats();
    transport.flush(Duration::from_secs(20)).unwrap();
    let after = transport.stats();
    // Everything handed over before the flush is settled (sent or dropped with a reason).
    assert!(
        after.spans_sent + after.spans_dropped() >= before.spans_enqueued,
        "{before:?} {after:?}"
    );
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    transport.shutdown(Duration::from_secs(20)).unwrap();
    let stats = transport.stats();
    assert_eq!(stats.spans_queued, 0);
    assert_eq!(
        stats.spans_dropped_send_failed + stats.spans_dropped_rejected,
        0
    );
    assert_accounted(&stats);
}

#[test]
fn empty_chunks_are_settled_and_do_not_hold_a_flush() {
    let server = FaultServer::start();
    let transport = AgentTransport::start(config(&server.url())).unwrap();
    assert!(transport.enqueue(Box::new(TraceChunk::new(Vec::new()))));
    assert!(transport.enqueue(Box::new(chunk(2))));
    transport.flush(Duration::from_secs(5)).unwrap();
    let stats = transport.stats();
    assert_eq!((stats.chunks_sent, stats.spans_sent), (2, 2), "{stats:?}");
    assert_eq!(stats.chunks_queued, 0);
    assert_accounted(&stats);
}
