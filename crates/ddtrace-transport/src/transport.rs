//! [`AgentTransport`]: the queue in front, the worker thread behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ddtrace_model::{ChunkExporter, PendingChunk};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::info::AgentInfo;
use crate::queue::{Push, Queue};
use crate::stats::{Counters, DropReason};
use crate::worker::{WAKE_SPANS, Worker};
use crate::{Error, Result, TransportConfig, TransportStats};

/// How often a drop is logged at most.
const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// State shared by the application threads, the worker and flush/shutdown callers.
pub(crate) struct Shared {
    pub(crate) config: TransportConfig,
    pub(crate) queue: Mutex<Queue>,
    /// Wakes the worker (new work, flush, shutdown).
    pub(crate) wake: Condvar,
    /// Wakes flush/shutdown callers when the worker finishes a round.
    pub(crate) done: Condvar,
    pub(crate) counters: Counters,
    pub(crate) info: RwLock<Option<Arc<AgentInfo>>>,
    /// Queue levels (spans, bytes) at which the worker starts before its interval.
    pub(crate) wake_at: (usize, usize),
    started: Instant,
    /// Milliseconds since `started` of the last drop warning.
    last_drop_log: AtomicU64,
}

impl Shared {
    /// Counts dropped chunks taken by the worker, and logs (rate limited).
    pub(crate) fn dropped(&self, reason: DropReason, chunks: u64, spans: u64) {
        self.counters.dropped(reason, chunks, spans, true);
        self.log_drop(reason, spans);
    }

    fn log_drop(&self, reason: DropReason, spans: u64) {
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.last_drop_log.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= DROP_LOG_INTERVAL.as_millis() as u64;
        if due
            && self
                .last_drop_log
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let stats = self.stats();
            log::warn!(
                "ddtrace: dropped {spans} spans ({reason:?}); {} spans dropped since start \
                 (queue full {}, send failed {}, rejected {}, too large {}, shutdown {}); \
                 see TransportStats for details",
                stats.spans_dropped(),
                stats.spans_dropped_queue_full,
                stats.spans_dropped_send_failed,
                stats.spans_dropped_rejected,
                stats.spans_dropped_too_large,
                stats.spans_dropped_shutdown,
            );
        }
    }

    pub(crate) fn stats(&self) -> TransportStats {
        let q = self.queue.lock();
        self.counters.snapshot(q.items.len() as u64, q.spans as u64)
    }

    /// Sleeps up to `duration` unless shutdown gives up first; false when it did.
    pub(crate) fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let mut q = self.queue.lock();
        while !q.abort {
            if self.wake.wait_until(&mut q, deadline).timed_out() {
                break;
            }
        }
        !q.abort
    }
}

/// Delivers trace chunks to the Datadog Agent from a background thread.
///
/// [`enqueue`](AgentTransport::enqueue) (and the [`ChunkExporter`] impl) only takes a short
/// lock to push onto a bounded queue: the calling thread never waits on the network. The
/// worker sends on an interval, earlier when the queue fills, retries transient failures with
/// backoff, and counts every chunk it cannot deliver ([`stats`](AgentTransport::stats)).
/// Memory is bounded by the queue limits plus what the streaming worker holds: one batch of
/// at most about 1,000 queued spans and the bytes of two payloads (one being encoded, one
/// being sent by its sending thread).
///
/// ```no_run
/// use std::time::Duration;
/// use ddtrace_model::{Span, SpanId, TraceChunk, TraceId};
/// use ddtrace_transport::{AgentTransport, TransportConfig};
///
/// let transport = AgentTransport::start(TransportConfig::from_env())?;
/// let span = Span::new(TraceId::generate(true, 1_700_000_000), SpanId::generate(), "op");
/// transport.enqueue(Box::new(TraceChunk::new(vec![span])));
/// transport.shutdown(Duration::from_secs(2))?;
/// assert_eq!(transport.stats().spans_sent, 1);
/// # Ok::<(), ddtrace_transport::Error>(())
/// ```
pub struct AgentTransport {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for AgentTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentTransport")
            .field("agent", &self.shared.config.agent)
            .field("stats", &self.stats())
            .finish()
    }
}

impl AgentTransport {
    /// Starts the worker thread. The agent is contacted from that thread only (`/info` first).
    pub fn start(config: TransportConfig) -> Result<Self> {
        // The worker streams (one batch and two payloads in hand), so it starts as soon as
        // there is about a payload's worth queued: a burst is then sent while it is produced
        // instead of piling up to the queue's bound.
        let wake_at = (
            (config.max_queued_spans / 4).clamp(1, WAKE_SPANS),
            config
                .max_payload_bytes
                .min(config.max_queued_bytes / 4)
                .max(1),
        );
        let shared = Arc::new(Shared {
            config,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            done: Condvar::new(),
            counters: Counters::default(),
            info: RwLock::new(None),
            wake_at,
            started: Instant::now(),
            last_drop_log: AtomicU64::new(0),
        });
        let worker = Worker::new(Arc::clone(&shared)).map_err(Error::Spawn)?;
        let handle = std::thread::Builder::new()
            .name("ddtrace-transport".to_owned())
            .spawn(move || worker.run())
            .map_err(Error::Spawn)?;
        Ok(AgentTransport {
            shared,
            worker: Mutex::new(Some(handle)),
        })
    }

    /// Queues a finished chunk; returns false (and counts the drop) when the queue is full
    /// or the transport is shut down. Never blocks on I/O.
    pub fn enqueue(&self, chunk: Box<dyn PendingChunk>) -> bool {
        let spans = chunk.span_count();
        let bytes = chunk.size_hint();
        let config = &self.shared.config;
        let outcome = self.shared.queue.lock().push(
            chunk,
            spans,
            bytes,
            (config.max_queued_spans, config.max_queued_bytes),
            self.shared.wake_at,
        );
        let counters = &self.shared.counters;
        counters.enqueued(spans as u64);
        match outcome {
            Push::Accepted { wake_worker } => {
                if wake_worker {
                    self.shared.wake.notify_one();
                }
                true
            }
            Push::Full => {
                counters.dropped(DropReason::QueueFull, 1, spans as u64, false);
                self.shared.log_drop(DropReason::QueueFull, spans as u64);
                false
            }
            Push::Closed => {
                counters.dropped(DropReason::Shutdown, 1, spans as u64, false);
                self.shared.log_drop(DropReason::Shutdown, spans as u64);
                false
            }
        }
    }

    /// A snapshot of the delivery counters.
    pub fn stats(&self) -> TransportStats {
        self.shared.stats()
    }

    /// What the agent's `/info` said, once the worker has read it.
    pub fn agent_info(&self) -> Option<Arc<AgentInfo>> {
        self.shared.info.read().clone()
    }

    /// Sends everything queued before this call, waiting at most `timeout`. On timeout the
    /// error says how much is still pending (it will still be sent later).
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut q = self.shared.queue.lock();
        if q.worker_done {
            return Err(Error::ShutDown);
        }
        let target = q.accepted;
        if target <= q.settled {
            return Ok(());
        }
        q.flush_target = q.flush_target.max(target);
        self.shared.wake.notify_one();
        while q.settled < target && !q.worker_done {
            if self.shared.done.wait_until(&mut q, deadline).timed_out() {
                drop(q);
                return Err(self.timeout_error(timeout));
            }
        }
        Ok(())
    }

    /// Stops accepting chunks, sends what is queued, and stops the worker, waiting at most
    /// `timeout`. What could not be sent in time is dropped, counted, and reported in the
    /// error. Calling it again returns at once.
    pub fn shutdown(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        {
            let mut q = self.shared.queue.lock();
            q.shutdown = true;
            self.shared.wake.notify_all();
            while !q.worker_done {
                if self.shared.done.wait_until(&mut q, deadline).timed_out() {
                    // Tell the worker to stop retrying; it counts what is left as dropped.
                    q.abort = true;
                    self.shared.wake.notify_all();
                    drop(q);
                    return Err(self.timeout_error(timeout));
                }
            }
        }
        if let Some(handle) = self.worker.lock().take() {
            let _ = handle.join();
        }
        Ok(())
    }

    fn timeout_error(&self, timeout: Duration) -> Error {
        let stats = self.stats();
        Error::Timeout {
            timeout,
            pending_chunks: stats.chunks_queued,
            pending_spans: stats.spans_queued,
        }
    }
}

impl ChunkExporter for AgentTransport {
    fn export(&self, chunk: Box<dyn PendingChunk>) {
        self.enqueue(chunk);
    }

    fn flush(&self, timeout: Duration) -> ddtrace_model::Result<()> {
        AgentTransport::flush(self, timeout).map_err(Into::into)
    }

    fn shutdown(&self, timeout: Duration) -> ddtrace_model::Result<()> {
        AgentTransport::shutdown(self, timeout).map_err(Into::into)
    }
}

impl Drop for AgentTransport {
    /// Dropping the transport shuts it down with a short timeout, so spans are not lost by
    /// forgetting to call `shutdown`.
    fn drop(&mut self) {
        let done = self.shared.queue.lock().worker_done;
        if !done {
            if let Err(e) = self.shutdown(Duration::from_secs(2)) {
                log::warn!("ddtrace: transport dropped before everything was sent: {e}");
            }
        }
    }
}
