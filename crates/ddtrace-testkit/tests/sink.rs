use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ddtrace_encoding::{EncodeOptions, Format, PayloadEncoder};
use ddtrace_model::{Span, SpanId, TraceChunk, TraceId};
use ddtrace_testkit::sink::{PayloadCheck, SinkAgent, SinkStats};

/// `traces` chunks of `spans` spans each, encoded in `format`.
fn payload(format: Format, traces: u64, spans: u64) -> Vec<u8> {
    let mut encoder = PayloadEncoder::new(format, EncodeOptions::default());
    for t in 0..traces {
        let trace_id = TraceId::from_parts(7, t + 1);
        let chunk = TraceChunk::new(
            (0..spans)
                .map(|s| {
                    let mut span = Span::new(trace_id, SpanId::new(s + 1).unwrap(), "op");
                    span.set_meta("k", "v");
                    span
                })
                .collect(),
        );
        encoder.push(&chunk);
    }
    encoder.finish().to_vec()
}

/// Sends one request on `stream` and reads the answer: (status, body).
fn exchange(
    stream: &mut BufReader<TcpStream>,
    head: &str,
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let out = stream.get_mut();
    out.write_all(head.as_bytes())?;
    out.write_all(body)?;
    let mut line = String::new();
    stream.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut len = 0;
    loop {
        line.clear();
        stream.read_line(&mut line)?;
        if line.trim_end().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut answer = vec![0; len];
    stream.read_exact(&mut answer)?;
    Ok((status, String::from_utf8_lossy(&answer).into_owned()))
}

fn connect(sink: &SinkAgent) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(sink.addr()).unwrap())
}

fn put(path: &str, traces: u64, body: &[u8]) -> String {
    format!(
        "PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\nX-Datadog-Trace-Count: {traces}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
}

#[test]
fn sink_answers_info_with_both_trace_endpoints() {
    let sink = SinkAgent::start().unwrap();
    let mut conn = connect(&sink);
    let (status, body) = exchange(&mut conn, "GET /info HTTP/1.1\r\nHost: x\r\n\r\n", b"").unwrap();
    assert_eq!(status, 200);
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    let endpoints = info["endpoints"].as_array().unwrap();
    assert!(endpoints.iter().any(|e| e == "/v0.4/traces"), "{body}");
    assert!(endpoints.iter().any(|e| e == "/v0.5/traces"), "{body}");
    assert_eq!(info["span_events"], true);
    // Same connection, unknown path.
    let (status, _) = exchange(&mut conn, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", b"").unwrap();
    assert_eq!(status, 404);
}

#[test]
fn sink_decodes_and_counts_v04_and_v05_on_kept_alive_connections() {
    let sink = SinkAgent::start().unwrap();
    let v04 = payload(Format::V04, 3, 10);
    let v05 = payload(Format::V05, 2, 4);
    let mut first = connect(&sink);
    let mut second = connect(&sink);
    for _ in 0..2 {
        let (status, body) = exchange(&mut first, &put("/v0.4/traces", 3, &v04), &v04).unwrap();
        assert_eq!(status, 200);
        let rates: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(rates["rate_by_service"].is_object(), "{body}");
        let post = put("/v0.5/traces", 2, &v05).replacen("PUT", "POST", 1);
        let (status, _) = exchange(&mut second, &post, &v05).unwrap();
        assert_eq!(status, 200);
    }
    assert!(sink.wait_for_spans(2 * (30 + 8), Duration::from_secs(5)));
    let stats = sink.stats();
    assert_eq!(stats.spans, 76);
    assert_eq!(stats.chunks, 10);
    assert_eq!(stats.payloads, 4);
    assert_eq!(stats.decode_errors, 0);
    assert_eq!(stats.trace_count_mismatches, 0);
    assert_eq!(stats.connections, 2);
    assert_eq!(
        stats.bytes,
        2 * (v04.len() + v05.len()) as u64,
        "every body byte is counted"
    );
    assert!(!sink.wait_for_spans(77, Duration::from_millis(20)));
}

#[test]
fn sink_reassembles_chunked_bodies() {
    let sink = SinkAgent::start().unwrap();
    let body = payload(Format::V04, 1, 5);
    let (a, b) = body.split_at(body.len() / 2);
    let mut chunked = Vec::new();
    for part in [a, b] {
        chunked.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        chunked.extend_from_slice(part);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = "PUT /v0.4/traces HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (status, _) = exchange(&mut connect(&sink), head, &chunked).unwrap();
    assert_eq!(status, 200);
    assert_eq!(sink.spans_received(), 5);
}

#[test]
fn sink_rejects_and_counts_undecodable_payloads_and_header_mismatches() {
    let sink = SinkAgent::start().unwrap();
    let mut conn = connect(&sink);
    let garbage = [0x91, 0x91, 0xc1];
    let (status, _) = exchange(&mut conn, &put("/v0.4/traces", 1, &garbage), &garbage).unwrap();
    assert_eq!(status, 400);
    // The connection stays usable; a payload whose trace count header is wrong still counts.
    let good = payload(Format::V04, 2, 1);
    let (status, _) = exchange(&mut conn, &put("/v0.4/traces", 5, &good), &good).unwrap();
    assert_eq!(status, 200);
    let stats = sink.stats();
    assert_eq!(stats.decode_errors, 1);
    assert_eq!(stats.payloads, 2);
    assert_eq!(stats.spans, 2);
    assert_eq!(stats.trace_count_mismatches, 1);
}

#[test]
fn sink_closes_when_asked_and_stops_on_drop() {
    let sink = SinkAgent::start().unwrap();
    let addr = sink.addr();
    let mut conn = connect(&sink);
    let head = "GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (status, _) = exchange(&mut conn, head, b"").unwrap();
    assert_eq!(status, 200);
    let mut rest = Vec::new();
    assert_eq!(
        conn.read_to_end(&mut rest).unwrap(),
        0,
        "closed after the answer"
    );
    drop(sink);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err());
}

/// Sends payloads good and bad to a sink checking with `check`; its counters afterwards.
fn counted_with(check: PayloadCheck) -> SinkStats {
    let sink = SinkAgent::start_with(check).unwrap();
    assert_eq!(sink.payload_check(), check);
    let mut conn = connect(&sink);
    let v04 = payload(Format::V04, 3, 4);
    let v05 = payload(Format::V05, 2, 5);
    // [[{"span_id": 1, "name": "\xff"}]]: well-formed msgpack, but not UTF-8 text.
    let mut not_utf8 = vec![0x91, 0x91, 0x82, 0xa7];
    not_utf8.extend_from_slice(b"span_id");
    not_utf8.extend_from_slice(&[0x01, 0xa4, b'n', b'a', b'm', b'e', 0xa1, 0xff]);
    let sends: [(&str, &[u8], u64, u16); 6] = [
        ("/v0.4/traces", &v04, 3, 200),
        ("/v0.5/traces", &v05, 2, 200),
        ("/v0.4/traces", &v04, 4, 200),
        ("/v0.4/traces", &v04[..v04.len() - 1], 3, 400),
        ("/v0.5/traces", &v04, 3, 400),
        ("/v0.4/traces", &not_utf8, 1, 400),
    ];
    for (path, body, traces, expected) in sends {
        let (status, _) = exchange(&mut conn, &put(path, traces, body), body).unwrap();
        assert_eq!(status, expected, "{check:?} {path} {body:02x?}");
    }
    sink.stats()
}

#[test]
fn sink_counts_the_same_whether_it_inspects_or_decodes() {
    let inspected = counted_with(PayloadCheck::Inspect);
    assert_eq!(inspected, counted_with(PayloadCheck::Decode));
    assert_eq!(inspected.payloads, 6);
    assert_eq!(inspected.chunks, 3 + 2 + 3);
    assert_eq!(inspected.spans, 12 + 10 + 12);
    assert_eq!(inspected.decode_errors, 3);
    assert_eq!(inspected.trace_count_mismatches, 1);
    assert_eq!(inspected.connections, 1);
    assert_eq!(PayloadCheck::default(), PayloadCheck::Inspect);
    assert_eq!(
        SinkAgent::start().unwrap().payload_check(),
        PayloadCheck::Inspect
    );
}
