//! [`SinkAgent`]: a fast loopback stand-in for the Datadog Agent that checks and counts
//! every span it is sent, for throughput benchmarks and delivery checks.
//!
//! It speaks just enough HTTP/1.1 for a tracer: keep-alive connections (one thread each,
//! any number at once), `Content-Length` and chunked bodies. It answers
//!
//! * `GET /info` with the trace endpoints (`/v0.4/traces`, `/v0.5/traces`) and
//!   `"span_events": true`;
//! * `PUT`/`POST /v0.4/traces` and `/v0.5/traces` by reading the whole body as
//!   [`ddtrace_encoding::decode`] would (see [`PayloadCheck`]), adding its chunks and spans
//!   to the counters, and replying 200 with a `rate_by_service` body that keeps everything
//!   (400 if the body does not decode);
//! * anything else with 404.
//!
//! The counters are updated before the reply is written, so once a tracer has seen its
//! payload accepted the spans are already counted.
//!
//! By default each body goes through [`ddtrace_encoding::inspect`], which makes every check
//! the decoder makes without building the spans (about 0.15 µs per span instead of 1 µs), so
//! that the sink takes little of the CPU a benchmark measures; [`SinkAgent::start_with`]
//! and [`PayloadCheck::Decode`] build the full model instead. Both count the same and refuse
//! the same payloads.
//!
//! ```
//! use std::time::Duration;
//! use ddtrace_testkit::sink::SinkAgent;
//!
//! let sink = SinkAgent::start()?;
//! assert!(sink.url().starts_with("http://127.0.0.1:"));
//! assert_eq!(sink.spans_received(), 0);
//! assert!(sink.wait_for_spans(0, Duration::from_millis(10)));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ddtrace_encoding::Format;

/// The `/info` body.
const INFO: &str = r#"{"version":"sink-agent","endpoints":["/v0.4/traces","/v0.5/traces","/info"],"span_events":true,"client_drop_p0s":false,"config":{"max_request_bytes":26214400}}"#;

/// The body of every accepted trace request: keep everything.
const RATES: &str = r#"{"rate_by_service":{"service:,env:":1.0}}"#;

/// Largest body accepted (the agent's default request limit).
const MAX_BODY: usize = 25 << 20;

/// How long a connection may stay idle before its thread gives up on it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How the sink reads each trace payload before counting it. Both accept and refuse the
/// same payloads and count the same chunks and spans (`inspect` agrees with `decode` on
/// every payload); they differ in cost and in what runs.
///
/// ```
/// use ddtrace_testkit::sink::{PayloadCheck, SinkAgent};
///
/// assert_eq!(PayloadCheck::default(), PayloadCheck::Inspect);
/// let sink = SinkAgent::start_with(PayloadCheck::Decode)?;
/// assert_eq!(sink.payload_check(), PayloadCheck::Decode);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PayloadCheck {
    /// [`ddtrace_encoding::inspect`]: every byte read and checked, nothing built or allocated
    /// (about 0.15 µs per v0.4 span). The default.
    #[default]
    Inspect,
    /// [`ddtrace_encoding::decode`]: the chunks built in full, then dropped (about 1 µs per
    /// span), for callers that want the decoder itself run on everything a tracer sends.
    Decode,
}

impl PayloadCheck {
    /// The payload's (chunks, spans), or `None` if it does not decode.
    fn count(self, format: Format, body: &[u8]) -> Option<(usize, usize)> {
        match self {
            PayloadCheck::Inspect => ddtrace_encoding::inspect(format, body)
                .ok()
                .map(|s| (s.chunks, s.spans)),
            PayloadCheck::Decode => ddtrace_encoding::decode(format, body)
                .ok()
                .map(|chunks| (chunks.len(), chunks.iter().map(|c| c.spans.len()).sum())),
        }
    }
}

/// What the sink has counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkStats {
    /// Trace requests (payloads) received, decodable or not.
    pub payloads: u64,
    /// Chunks decoded (or inspected, see [`PayloadCheck`]).
    pub chunks: u64,
    /// Spans decoded (or inspected).
    pub spans: u64,
    /// Payloads that did not decode (answered 400; their spans are not counted).
    pub decode_errors: u64,
    /// Payloads whose `X-Datadog-Trace-Count` header disagreed with the chunks decoded.
    pub trace_count_mismatches: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// Connections accepted.
    pub connections: u64,
}

#[derive(Debug, Default)]
struct Counters {
    payloads: AtomicU64,
    chunks: AtomicU64,
    spans: AtomicU64,
    decode_errors: AtomicU64,
    trace_count_mismatches: AtomicU64,
    bytes: AtomicU64,
    connections: AtomicU64,
}

/// The sink. Dropping it stops accepting connections; open connections end when their client
/// closes them (or after a minute idle).
#[derive(Debug)]
pub struct SinkAgent {
    addr: SocketAddr,
    counters: Arc<Counters>,
    check: PayloadCheck,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SinkAgent {
    /// Starts on a free loopback port, checking payloads with [`PayloadCheck::Inspect`].
    ///
    /// # Errors
    ///
    /// The port could not be bound or the accept thread not started.
    pub fn start() -> io::Result<SinkAgent> {
        SinkAgent::start_with(PayloadCheck::default())
    }

    /// Starts on a free loopback port, checking payloads with `check`.
    ///
    /// # Errors
    ///
    /// The port could not be bound or the accept thread not started.
    pub fn start_with(check: PayloadCheck) -> io::Result<SinkAgent> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let counters = Arc::clone(&counters);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("sink-accept".to_owned())
                .spawn(move || accept_loop(&listener, &counters, check, &stop))?
        };
        Ok(SinkAgent {
            addr,
            counters,
            check,
            stop,
            thread: Some(thread),
        })
    }

    /// How payloads are checked.
    pub fn payload_check(&self) -> PayloadCheck {
        self.check
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, for `DD_TRACE_AGENT_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Spans decoded so far.
    pub fn spans_received(&self) -> u64 {
        self.counters.spans.load(Ordering::Acquire)
    }

    /// All the counters.
    pub fn stats(&self) -> SinkStats {
        let c = &self.counters;
        SinkStats {
            payloads: c.payloads.load(Ordering::Acquire),
            chunks: c.chunks.load(Ordering::Acquire),
            spans: c.spans.load(Ordering::Acquire),
            decode_errors: c.decode_errors.load(Ordering::Acquire),
            trace_count_mismatches: c.trace_count_mismatches.load(Ordering::Acquire),
            bytes: c.bytes.load(Ordering::Acquire),
            connections: c.connections.load(Ordering::Acquire),
        }
    }

    /// Waits until at least `spans` spans have been decoded; false if `timeout` passes first.
    pub fn wait_for_spans(&self, spans: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.spans_received() >= spans {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for SinkAgent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the blocking accept; it sees the flag and returns.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    counters: &Arc<Counters>,
    check: PayloadCheck,
    stop: &AtomicBool,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::Acquire) {
            return;
        }
        let Ok(stream) = stream else {
            // Out of descriptors or an aborted handshake: try the next one.
            std::thread::sleep(Duration::from_millis(1));
            continue;
        };
        counters.connections.fetch_add(1, Ordering::AcqRel);
        let counters = Arc::clone(counters);
        let spawned = std::thread::Builder::new()
            .name("sink-conn".to_owned())
            .spawn(move || {
                // A connection that breaks mid-request just ends.
                let _ = serve(stream, &counters, check);
            });
        if spawned.is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// One parsed request head.
#[derive(Debug, Default)]
struct Head {
    method: String,
    path: String,
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
    trace_count: Option<u64>,
}

/// Serves requests on one connection until the client closes it.
fn serve(stream: TcpStream, counters: &Counters, check: PayloadCheck) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::with_capacity(64 << 10, stream);
    let mut line = String::new();
    let mut body = Vec::new();
    let trace_ok = response(200, RATES);
    let info = response(200, INFO);
    loop {
        let Some(head) = read_head(&mut reader, &mut line)? else {
            return Ok(());
        };
        body.clear();
        if head.chunked {
            read_chunked(&mut reader, &mut line, &mut body)?;
        } else if let Some(len) = head.content_length {
            if len > MAX_BODY {
                writer.write_all(&response(413, r#"{"error":"too large"}"#))?;
                return Ok(());
            }
            body.resize(len, 0);
            reader.read_exact(&mut body)?;
        }
        let format = match head.path.as_str() {
            "/v0.4/traces" => Some(Format::V04),
            "/v0.5/traces" => Some(Format::V05),
            _ => None,
        };
        match (head.method.as_str(), format) {
            ("PUT" | "POST", Some(format)) => {
                let ok = count_payload(counters, check, format, &body, head.trace_count);
                if ok {
                    writer.write_all(&trace_ok)?;
                } else {
                    writer.write_all(&response(400, r#"{"error":"undecodable payload"}"#))?;
                }
            }
            ("GET", None) if head.path == "/info" => writer.write_all(&info)?,
            _ => writer.write_all(&response(404, r#"{"error":"not found"}"#))?,
        }
        if head.close {
            return Ok(());
        }
    }
}

/// Checks one payload and counts it; false if it does not decode.
fn count_payload(
    counters: &Counters,
    check: PayloadCheck,
    format: Format,
    body: &[u8],
    trace_count: Option<u64>,
) -> bool {
    counters.payloads.fetch_add(1, Ordering::AcqRel);
    counters.bytes.fetch_add(
        u64::try_from(body.len()).unwrap_or(u64::MAX),
        Ordering::AcqRel,
    );
    match check.count(format, body) {
        Some((chunks, spans)) => {
            let chunks = u64::try_from(chunks).unwrap_or(u64::MAX);
            if trace_count.is_some_and(|n| n != chunks) {
                counters
                    .trace_count_mismatches
                    .fetch_add(1, Ordering::AcqRel);
            }
            counters.chunks.fetch_add(chunks, Ordering::AcqRel);
            counters
                .spans
                .fetch_add(u64::try_from(spans).unwrap_or(u64::MAX), Ordering::AcqRel);
            true
        }
        None => {
            counters.decode_errors.fetch_add(1, Ordering::AcqRel);
            false
        }
    }
}

/// Reads a request line and headers; `None` when the client closed the connection between
/// requests.
fn read_head(reader: &mut impl BufRead, line: &mut String) -> io::Result<Option<Head>> {
    line.clear();
    if reader.read_line(line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_ascii_whitespace();
    let mut head = Head {
        method: parts.next().unwrap_or_default().to_owned(),
        path: parts.next().unwrap_or_default().to_owned(),
        ..Head::default()
    };
    // HTTP/1.0 closes by default.
    head.close = parts.next() == Some("HTTP/1.0");
    loop {
        line.clear();
        if reader.read_line(line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            return Ok(Some(head));
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            head.close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("x-datadog-trace-count") {
            head.trace_count = value.parse().ok();
        }
    }
}

/// Reads a chunked body into `body`.
fn read_chunked(
    reader: &mut impl BufRead,
    line: &mut String,
    body: &mut Vec<u8>,
) -> io::Result<()> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    loop {
        line.clear();
        reader.read_line(line)?;
        let size = line.trim_end();
        let size = size.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(invalid("chunked body too large"));
        }
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                line.clear();
                if reader.read_line(line)? == 0 || line.trim_end().is_empty() {
                    return Ok(());
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(body.get_mut(start..).unwrap_or_default())?;
        line.clear();
        reader.read_line(line)?; // the CRLF after the data
    }
}

fn response(status: u16, body: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Payload Too Large",
        _ => "Status",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_reassembled() {
        let raw = b"3\r\nabc\r\n5;ext=1\r\ndefgh\r\n0\r\nTrailer: x\r\n\r\nrest";
        let mut reader = &raw[..];
        let mut line = String::new();
        let mut body = Vec::new();
        read_chunked(&mut reader, &mut line, &mut body).unwrap();
        assert_eq!(body, b"abcdefgh");
        assert_eq!(reader, b"rest");
    }

    #[test]
    fn bad_chunk_sizes_are_errors() {
        let mut reader = &b"zz\r\nabc\r\n"[..];
        let mut body = Vec::new();
        let err = read_chunked(&mut reader, &mut String::new(), &mut body).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn heads_are_parsed() {
        let raw =
            b"PUT /v0.4/traces HTTP/1.1\r\nContent-Length: 12\r\nX-Datadog-Trace-Count: 3\r\n\r\n";
        let head = read_head(&mut &raw[..], &mut String::new())
            .unwrap()
            .unwrap();
        assert_eq!(
            (head.method.as_str(), head.path.as_str()),
            ("PUT", "/v0.4/traces")
        );
        assert_eq!(head.content_length, Some(12));
        assert_eq!(head.trace_count, Some(3));
        assert!(!head.close && !head.chunked);
        assert!(
            read_head(&mut &b""[..], &mut String::new())
                .unwrap()
                .is_none()
        );
    }
}
