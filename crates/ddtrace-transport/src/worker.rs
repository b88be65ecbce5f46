//! The background worker: batches queued chunks into payloads and delivers them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ddtrace_encoding::{EncodeOptions, Format, PayloadEncoder, decode};
use ddtrace_model::{PendingChunk, TraceChunk};

use crate::client::{Client, Failure, Response};
use crate::info::{AgentInfo, parse_rate_by_service};
use crate::sender::{Done, Request, Sender};
use crate::stats::DropReason;
use crate::transport::Shared;

/// The agent's default request limit, used until `/info` says otherwise.
const AGENT_MAX_REQUEST_BYTES: usize = 25 << 20;
/// How often `/info` is fetched again after it failed.
const INFO_RETRY: Duration = Duration::from_secs(30);
/// How often `/info` is refreshed anyway.
const INFO_REFRESH: Duration = Duration::from_secs(300);
/// The most spans the worker takes from the queue at once (it may exceed it by one chunk).
pub(crate) const BATCH_SPANS: usize = 1_000;
/// The most queued bytes (by `size_hint`) the worker takes at once, give or take one chunk.
pub(crate) const BATCH_BYTES: usize = 1 << 20;
/// The queued span count at which the worker starts before its interval (or a quarter of the
/// queue's bound when that is smaller).
pub(crate) const WAKE_SPANS: usize = 2_000;

/// The worker's private state.
pub(crate) struct Worker {
    shared: Arc<Shared>,
    /// For `/info`; trace requests go through `sender`.
    client: Client,
    sender: Sender,
    /// The payload whose request the sending thread is performing.
    in_flight: Option<Payload>,
    /// A payload buffer to reuse.
    spare: Vec<u8>,
    encoder: PayloadEncoder,
    /// The format and event mode `encoder` was made for.
    encoder_key: (Format, bool),
    /// The size at which the payload in progress is sent (fixed when it is started).
    soft_limit: usize,
    format: Format,
    native_events: bool,
    info_fetched_at: Option<Instant>,
    agent_state: Option<String>,
    /// Set after a payload exhausted its retries on connection errors: until a request
    /// succeeds again, payloads get one attempt each, so an outage does not stall the queue.
    agent_down: bool,
    headers: Headers,
}

/// Request headers that do not change between payloads.
struct Headers {
    tracer_version: String,
    container_id: Option<String>,
    entity_id: Option<String>,
}

/// What the worker needs to know about a payload whose bytes are out of the encoder.
struct Payload {
    chunks: u64,
    spans: u64,
    format: Format,
}

/// How a send ended.
enum Outcome {
    Sent,
    Dropped(DropReason),
    /// 413 with several chunks: send the halves separately.
    Split,
    /// 404 on v0.5: the agent does not know this format; re-encode as v0.4.
    Downgrade,
}

impl Worker {
    pub(crate) fn new(shared: Arc<Shared>) -> std::io::Result<Self> {
        let config = &shared.config;
        let client = Client::new(&config.agent, config.request_timeout);
        let sender = Sender::start(Client::new(&config.agent, config.request_timeout))?;
        let headers = Headers {
            tracer_version: config.tracer_version.clone(),
            entity_id: config.container_id.as_ref().map(|id| format!("ci-{id}")),
            container_id: config.container_id.clone(),
        };
        let format = config.api_version.unwrap_or(Format::V04);
        Ok(Worker {
            client,
            sender,
            in_flight: None,
            spare: Vec::new(),
            encoder: PayloadEncoder::new(format, EncodeOptions::default()),
            encoder_key: (format, false),
            soft_limit: config.max_payload_bytes,
            format,
            native_events: config.native_span_events.unwrap_or(false),
            info_fetched_at: None,
            agent_state: None,
            agent_down: false,
            headers,
            shared,
        })
    }

    /// Runs until shutdown; every chunk taken is sent or counted as dropped.
    pub(crate) fn run(mut self) {
        self.refresh_info();
        loop {
            let shutting_down = {
                let mut q = self.shared.queue.lock();
                let deadline = Instant::now() + self.shared.config.flush_interval;
                while !q.shutdown && !q.flush_pending() && !q.over(self.shared.wake_at) {
                    if self.shared.wake.wait_until(&mut q, deadline).timed_out() {
                        break;
                    }
                }
                q.shutdown
            };
            self.drain();
            let mut q = self.shared.queue.lock();
            let finished = shutting_down && q.items.is_empty();
            if finished {
                q.worker_done = true;
            }
            self.shared.done.notify_all();
            if finished {
                return;
            }
        }
    }

    /// Streams the queue into payloads until it is empty: takes a bounded batch, maps and
    /// encodes its chunks one at a time (each mapped chunk is freed as soon as it is encoded),
    /// and sends a payload whenever it reaches the size threshold. The payload in progress is
    /// also sent when the queue runs dry or a flush is waiting for chunks already taken, so
    /// nothing stays in the worker's hands while it sleeps.
    fn drain(&mut self) {
        loop {
            let (batch, finish) = {
                let mut q = self.shared.queue.lock();
                if q.abort {
                    // Shutdown gave up: count what is left without mapping it.
                    let batch = q.take_batch(usize::MAX, usize::MAX);
                    let settled = q.taken;
                    let (chunks, spans) = (batch.items.len() as u64, batch.spans as u64);
                    self.shared.counters.taken(chunks, spans);
                    drop(q);
                    if chunks > 0 {
                        self.shared.dropped(DropReason::Shutdown, chunks, spans);
                    }
                    self.send_current();
                    self.complete_in_flight();
                    self.settle(settled);
                    return;
                }
                let batch = q.take_batch(BATCH_SPANS, BATCH_BYTES);
                self.shared
                    .counters
                    .taken(batch.items.len() as u64, batch.spans as u64);
                let finish = q.items.is_empty() || (q.flush_pending() && q.taken >= q.flush_target);
                (batch, finish.then_some(q.taken))
            };
            for item in batch.items {
                self.add(item.chunk);
            }
            if let Some(settled) = finish {
                self.send_current();
                self.complete_in_flight();
                self.settle(settled);
                if self.shared.queue.lock().items.is_empty() {
                    return;
                }
            }
        }
    }

    /// Records that every chunk taken so far (`taken` of them) has been sent or dropped, and
    /// wakes the flush callers waiting for them.
    fn settle(&self, taken: u64) {
        let mut q = self.shared.queue.lock();
        q.settled = q.settled.max(taken);
        drop(q);
        self.shared.done.notify_all();
    }

    /// Maps one chunk into the payload in progress (as a view when the producer can give one,
    /// else as a `TraceChunk` it builds and frees); sends the payload once it reaches the size
    /// threshold.
    fn add(&mut self, pending: Box<dyn PendingChunk>) {
        if self.encoder.is_empty() {
            self.start_payload();
        }
        if pending.write_to(&mut self.encoder) == 0 {
            // Nothing to send: it is done with.
            self.shared.counters.settled_empty(1);
            return;
        }
        if self.encoder.encoded_len() >= self.soft_limit {
            self.send_current();
        }
    }

    /// Prepares the encoder for a new payload: reads `/info` again when due, follows a format
    /// change, and fixes the size threshold.
    fn start_payload(&mut self) {
        self.maybe_refresh_info();
        self.reset_encoder();
        self.soft_limit = self.payload_limits().0;
    }

    fn payload_limits(&self) -> (usize, usize) {
        let hard = self
            .shared
            .info
            .read()
            .as_ref()
            .and_then(|i| i.max_request_bytes)
            .map_or(AGENT_MAX_REQUEST_BYTES, |b| {
                b.min(usize::MAX as u64) as usize
            });
        let soft = self.shared.config.max_payload_bytes.min(hard);
        (soft, hard)
    }

    /// Hands the payload in progress, if any, to the sending thread and empties the encoder,
    /// after the previous payload's request has completed (so payloads arrive in order and at
    /// most one is in flight while the next is being encoded). The payload exceeds the
    /// threshold by at most one chunk; the rare paths that need the chunks again (over the
    /// agent's hard limit, 413, 404 on v0.5) decode them from the payload's bytes and go
    /// through [`Worker::send_group`].
    fn send_current(&mut self) {
        if self.encoder.is_empty() {
            return;
        }
        let payload = Payload {
            chunks: self.encoder.chunk_count() as u64,
            spans: self.encoder.span_count() as u64,
            format: self.encoder.format(),
        };
        let mut body = std::mem::take(&mut self.spare);
        self.encoder.finish_into(&mut body);
        self.reset_encoder();
        self.complete_in_flight();
        let (_, hard) = self.payload_limits();
        if self.shared.queue.lock().abort {
            self.shared
                .dropped(DropReason::Shutdown, payload.chunks, payload.spans);
            self.spare = body;
        } else if body.len() > hard {
            if let Some(group) = self.decode_body(&payload, &body, DropReason::TooLarge) {
                self.send_group(group);
            }
            self.spare = body;
        } else {
            match self.dispatch(&payload, body) {
                Ok(()) => self.in_flight = Some(payload),
                Err(body) => {
                    self.shared
                        .dropped(DropReason::SendFailed, payload.chunks, payload.spans);
                    self.spare = body;
                }
            }
        }
    }

    /// Waits for the payload in flight, if any, retrying it as the policy says, and deals with
    /// how it ended.
    fn complete_in_flight(&mut self) {
        let Some(payload) = self.in_flight.take() else {
            return;
        };
        let (outcome, body) = self.await_reply(&payload);
        match outcome {
            Outcome::Sent => {}
            Outcome::Dropped(reason) => self.shared.dropped(reason, payload.chunks, payload.spans),
            Outcome::Split if payload.chunks > 1 => {
                if let Some(group) = self.decode_body(&payload, &body, DropReason::TooLarge) {
                    let (a, b) = halves(group);
                    self.send_group(a);
                    self.send_group(b);
                }
            }
            Outcome::Split => {
                self.shared
                    .dropped(DropReason::TooLarge, payload.chunks, payload.spans);
            }
            Outcome::Downgrade => {
                log::warn!("ddtrace: the agent does not accept v0.5 payloads; using v0.4");
                self.format = Format::V04;
                if let Some(group) = self.decode_body(&payload, &body, DropReason::Rejected) {
                    self.send_group(group);
                }
            }
        }
        self.spare = body;
    }

    /// The chunks of a payload, decoded back from its bytes. Our own payloads always decode;
    /// if one did not, its spans are counted as dropped for `reason`.
    fn decode_body(
        &self,
        payload: &Payload,
        body: &[u8],
        reason: DropReason,
    ) -> Option<Vec<TraceChunk>> {
        match decode(payload.format, body) {
            Ok(group) => Some(group),
            Err(e) => {
                log::warn!("ddtrace: could not re-read a payload to send it again: {e}");
                self.shared.dropped(reason, payload.chunks, payload.spans);
                None
            }
        }
    }

    /// Clears the encoder, making a new one if the format or options changed.
    fn reset_encoder(&mut self) {
        let key = (self.format, self.native_events);
        if self.encoder_key == key {
            self.encoder.clear();
        } else {
            self.encoder = PayloadEncoder::new(self.format, self.options());
            self.encoder_key = key;
        }
    }

    fn options(&self) -> EncodeOptions {
        EncodeOptions {
            native_span_events: self.native_events,
        }
    }

    /// Encodes and sends one group of chunks as one payload, splitting it when it is over the
    /// agent's limit or refused with 413, and downgrading on 404.
    fn send_group(&mut self, group: Vec<TraceChunk>) {
        let mut work = vec![group];
        while let Some(group) = work.pop() {
            let spans: u64 = group.iter().map(|c| c.spans.len() as u64).sum();
            let chunks = group.len() as u64;
            if self.shared.queue.lock().abort {
                self.shared.dropped(DropReason::Shutdown, chunks, spans);
                continue;
            }
            let (_, hard) = self.payload_limits();
            self.reset_encoder();
            for chunk in &group {
                self.encoder.push(chunk);
            }
            if self.encoder.encoded_len() > hard {
                if group.len() > 1 {
                    let (a, b) = halves(group);
                    work.push(b);
                    work.push(a);
                } else {
                    log::warn!(
                        "ddtrace: dropping a trace of {spans} spans: larger than the agent's {hard}-byte limit"
                    );
                    self.shared.dropped(DropReason::TooLarge, chunks, spans);
                }
                continue;
            }
            let payload = Payload {
                chunks,
                spans,
                format: self.encoder.format(),
            };
            let mut body = std::mem::take(&mut self.spare);
            self.encoder.finish_into(&mut body);
            let outcome = match self.dispatch(&payload, body) {
                Ok(()) => {
                    let (outcome, body) = self.await_reply(&payload);
                    self.spare = body;
                    outcome
                }
                Err(body) => {
                    self.spare = body;
                    Outcome::Dropped(DropReason::SendFailed)
                }
            };
            match outcome {
                Outcome::Sent => {}
                Outcome::Dropped(reason) => self.shared.dropped(reason, chunks, spans),
                Outcome::Split if group.len() > 1 => {
                    let (a, b) = halves(group);
                    work.push(b);
                    work.push(a);
                }
                Outcome::Split => self.shared.dropped(DropReason::TooLarge, chunks, spans),
                Outcome::Downgrade => {
                    log::warn!("ddtrace: the agent does not accept v0.5 payloads; using v0.4");
                    self.format = Format::V04;
                    work.push(group);
                }
            }
        }
        // The encoder must not keep these chunks: the next payload starts empty.
        self.reset_encoder();
    }

    /// Hands one attempt of `payload` to the sending thread; gives the body back if the
    /// thread is gone.
    fn dispatch(&self, payload: &Payload, body: Vec<u8>) -> std::result::Result<(), Vec<u8>> {
        let mut headers: Vec<(&'static str, String)> = vec![
            ("Content-Type", "application/msgpack".to_owned()),
            ("X-Datadog-Trace-Count", payload.chunks.to_string()),
            ("Datadog-Meta-Lang", "rust".to_owned()),
            (
                "Datadog-Meta-Lang-Version",
                env!("DDTRACE_RUSTC_VERSION").to_owned(),
            ),
            ("Datadog-Meta-Lang-Interpreter", "rustc".to_owned()),
            (
                "Datadog-Meta-Tracer-Version",
                self.headers.tracer_version.clone(),
            ),
            ("Datadog-Client-Computed-Top-Level", "yes".to_owned()),
            ("Datadog-Send-Real-Http-Status", "yes".to_owned()),
        ];
        if let (Some(c), Some(e)) = (&self.headers.container_id, &self.headers.entity_id) {
            headers.push(("Datadog-Container-ID", c.clone()));
            headers.push(("Datadog-Entity-ID", e.clone()));
        }
        let request = Request {
            path: payload.format.path(),
            headers,
            body,
        };
        self.sender.dispatch(request).map_err(|r| r.body)
    }

    /// Waits for the attempt in flight of `payload` and retries it as the policy says; returns
    /// how it ended and its body.
    fn await_reply(&mut self, payload: &Payload) -> (Outcome, Vec<u8>) {
        let config = &self.shared.config;
        let max_attempts = if self.agent_down {
            1
        } else {
            config.max_retries + 1
        };
        let (chunks, spans) = (payload.chunks, payload.spans);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let Some(Done { result, body }) = self.sender.wait() else {
                log::warn!("ddtrace: the sending thread is gone; dropping {spans} spans");
                return (Outcome::Dropped(DropReason::SendFailed), Vec::new());
            };
            let bytes = body.len() as u64;
            let retryable = match result {
                Ok(response) if (200..300).contains(&response.status) => {
                    self.agent_down = false;
                    self.shared.counters.sent(chunks, spans, bytes);
                    self.on_response(&response);
                    return (Outcome::Sent, body);
                }
                Ok(response) => match response.status {
                    404 if payload.format == Format::V05 => return (Outcome::Downgrade, body),
                    413 => {
                        log::warn!(
                            "ddtrace: the agent refused a {bytes}-byte payload as too large (413)"
                        );
                        return (Outcome::Split, body);
                    }
                    408 | 429 | 500..=599 => format!("status {}", response.status),
                    status => {
                        log::warn!(
                            "ddtrace: the agent rejected a payload of {spans} spans with status {status}: {}",
                            String::from_utf8_lossy(&response.body)
                                .chars()
                                .take(200)
                                .collect::<String>()
                        );
                        return (Outcome::Dropped(DropReason::Rejected), body);
                    }
                },
                Err(Failure::Timeout) => "timeout".to_owned(),
                Err(Failure::Io(e)) => e,
            };
            if attempt >= max_attempts {
                log::debug!(
                    "ddtrace: giving up on a payload of {spans} spans after {attempt} attempts: {retryable}"
                );
                self.agent_down = true;
                self.info_fetched_at = None;
                return (Outcome::Dropped(DropReason::SendFailed), body);
            }
            log::debug!(
                "ddtrace: attempt {attempt} to send {spans} spans failed ({retryable}); retrying"
            );
            self.shared.counters.retried();
            if !self.shared.sleep(backoff(
                self.shared.config.initial_backoff,
                self.shared.config.max_backoff,
                attempt,
            )) {
                return (Outcome::Dropped(DropReason::Shutdown), body);
            }
            if let Err(body) = self.dispatch(payload, body) {
                return (Outcome::Dropped(DropReason::SendFailed), body);
            }
        }
    }

    fn on_response(&mut self, response: &Response) {
        if let Some(rates) = parse_rate_by_service(&response.body) {
            if let Some(callback) = &self.shared.config.rate_callback {
                callback(&rates);
            }
            self.shared.counters.rates_updated();
        }
        if response.agent_state.is_some() && response.agent_state != self.agent_state {
            let changed = self.agent_state.is_some();
            self.agent_state.clone_from(&response.agent_state);
            if changed {
                self.refresh_info();
            }
        }
    }

    fn maybe_refresh_info(&mut self) {
        let due = match (self.info_fetched_at, self.shared.info.read().is_some()) {
            (None, _) => true,
            (Some(at), true) => at.elapsed() >= INFO_REFRESH,
            (Some(at), false) => at.elapsed() >= INFO_RETRY,
        };
        if due {
            self.refresh_info();
        }
    }

    /// Reads `/info` and applies what it says.
    fn refresh_info(&mut self) {
        self.info_fetched_at = Some(Instant::now());
        let info = match self.client.get("/info") {
            Ok(r) if r.status == 200 => AgentInfo::parse(&r.body),
            Ok(r) => {
                log::debug!("ddtrace: agent /info answered {}", r.status);
                None
            }
            Err(e) => {
                log::debug!("ddtrace: agent /info unreachable: {e:?}");
                None
            }
        };
        let Some(info) = info else { return };
        let config = &self.shared.config;
        let v05 = info.supports_endpoint(Format::V05.path());
        self.format = match config.api_version {
            Some(Format::V04) => Format::V04,
            _ if v05 => Format::V05,
            _ => Format::V04,
        };
        self.native_events = config.native_span_events.unwrap_or(info.span_events);
        *self.shared.info.write() = Some(Arc::new(info));
    }
}

/// Splits a group in two (the first half gets the extra chunk).
fn halves(mut group: Vec<TraceChunk>) -> (Vec<TraceChunk>, Vec<TraceChunk>) {
    let second = group.split_off(group.len().div_ceil(2));
    (group, second)
}

/// Exponential backoff with "equal jitter": half the step fixed, half random.
pub(crate) fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let step = initial
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(max);
    let half = step / 2;
    let jitter = half.mul_f64(random_fraction());
    half + jitter
}

fn random_fraction() -> f64 {
    (ddtrace_model::SpanId::generate().get() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_and_cap() {
        let initial = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for attempt in 1..=10u32 {
            let step = (initial * 2u32.pow(attempt - 1)).min(max);
            for _ in 0..50 {
                let d = backoff(initial, max, attempt);
                assert!(
                    d >= step / 2 && d <= step,
                    "attempt {attempt}: {d:?} vs {step:?}"
                );
            }
        }
    }

    #[test]
    fn halves_keep_every_chunk() {
        let group: Vec<TraceChunk> = (0..5).map(|_| TraceChunk::default()).collect();
        let (a, b) = halves(group);
        assert_eq!((a.len(), b.len()), (3, 2));
    }
}
