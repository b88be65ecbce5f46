//! Just enough HTTP/1.1 for the test harness: one request per connection, a JSON body
//! (`Content-Length` or chunked), and a JSON answer with `Connection: close`.

use std::io::{self, BufRead, Read, Write};

/// The largest request head (request line and headers) accepted.
const MAX_HEAD_BYTES: u64 = 64 * 1024;
/// The largest request body accepted.
const MAX_BODY_BYTES: u64 = 16 << 20;

/// A parsed request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request {
    /// `GET`, `POST`, … as sent.
    pub(crate) method: String,
    /// The path, without the query string.
    pub(crate) path: String,
    /// The body (empty when none was sent).
    pub(crate) body: Vec<u8>,
}

/// Why a request could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The connection failed or closed early.
    Io(io::Error),
    /// The bytes are not an HTTP/1.x request we understand (answered with 400).
    Malformed(&'static str),
    /// The head or the body is over its bound (answered with 413).
    TooLarge,
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Reads one line (up to `\n`) into `buf`, counting it against `budget`.
fn read_line(
    reader: &mut impl BufRead,
    budget: &mut u64,
    buf: &mut Vec<u8>,
) -> Result<(), ReadError> {
    buf.clear();
    let n = reader.by_ref().take(*budget + 1).read_until(b'\n', buf)? as u64;
    if n > *budget {
        return Err(ReadError::TooLarge);
    }
    *budget -= n;
    if buf.last() != Some(&b'\n') {
        return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(())
}

/// Reads one request. `interim` receives a `100 Continue` when the client asks for it.
pub(crate) fn read_request(
    reader: &mut impl BufRead,
    interim: &mut impl Write,
) -> Result<Request, ReadError> {
    let mut budget = MAX_HEAD_BYTES;
    let mut line = Vec::new();
    read_line(reader, &mut budget, &mut line)?;
    let request_line = std::str::from_utf8(&line)
        .map_err(|_| ReadError::Malformed("request line is not UTF-8"))?;
    let mut parts = request_line.split_ascii_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed("bad request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Malformed("not HTTP/1.x"));
    }
    let method = method.to_owned();
    let path = target
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_owned();

    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut expect_continue = false;
    loop {
        read_line(reader, &mut budget, &mut line)?;
        if line.is_empty() {
            break;
        }
        let header =
            std::str::from_utf8(&line).map_err(|_| ReadError::Malformed("header is not UTF-8"))?;
        let Some((name, value)) = header.split_once(':') else {
            return Err(ReadError::Malformed("header without ':'"));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                let n = value
                    .parse::<u64>()
                    .map_err(|_| ReadError::Malformed("bad Content-Length"))?;
                content_length = Some(n);
            }
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "expect" => expect_continue = value.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
    }

    if expect_continue {
        interim.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        interim.flush()?;
    }
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let len = content_length.unwrap_or(0);
        if len > MAX_BODY_BYTES {
            return Err(ReadError::TooLarge);
        }
        let mut body = Vec::with_capacity(len as usize);
        reader.by_ref().take(len).read_to_end(&mut body)?;
        if body.len() as u64 != len {
            return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        body
    };
    Ok(Request { method, path, body })
}

/// Reads a chunked body and its trailers.
fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut line = Vec::new();
    let mut budget = MAX_HEAD_BYTES;
    loop {
        read_line(reader, &mut budget, &mut line)?;
        let text =
            std::str::from_utf8(&line).map_err(|_| ReadError::Malformed("bad chunk size"))?;
        let size_text = text.split(';').next().unwrap_or_default().trim();
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| ReadError::Malformed("bad chunk size"))?;
        if size == 0 {
            break;
        }
        if body.len() as u64 + size > MAX_BODY_BYTES {
            return Err(ReadError::TooLarge);
        }
        let before = body.len();
        reader.by_ref().take(size).read_to_end(&mut body)?;
        if (body.len() - before) as u64 != size {
            return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        read_line(reader, &mut budget, &mut line)?;
        if !line.is_empty() {
            return Err(ReadError::Malformed("chunk not followed by CRLF"));
        }
    }
    // Trailers, up to the empty line.
    loop {
        read_line(reader, &mut budget, &mut line)?;
        if line.is_empty() {
            return Ok(body);
        }
    }
}

/// The reason phrase of the statuses the server sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// Writes a complete JSON response and asks the client to close the connection.
pub(crate) fn write_response(out: &mut impl Write, status: u16, body: &str) -> io::Result<()> {
    write!(
        out,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> (Result<Request, ReadError>, Vec<u8>) {
        let mut interim = Vec::new();
        let r = read_request(&mut io::Cursor::new(raw), &mut interim);
        (r, interim)
    }

    #[test]
    fn content_length_body_and_query_stripped() {
        let (r, interim) =
            parse(b"POST /trace/span/start?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
        let r = r.unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/trace/span/start")
        );
        assert_eq!(r.body, b"{}");
        assert!(interim.is_empty());
    }

    #[test]
    fn get_without_body_and_bare_newlines() {
        let r = parse(b"GET /trace/config HTTP/1.0\nAccept: */*\n\n")
            .0
            .unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.body.len()),
            ("GET", "/trace/config", 0)
        );
    }

    #[test]
    fn chunked_body_with_trailer_and_continue() {
        let raw = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n\
                    3;ext=1\r\n{\"a\r\n4\r\n\":1}\r\n0\r\nTrailer: v\r\n\r\n";
        let (r, interim) = parse(raw);
        assert_eq!(r.unwrap().body, b"{\"a\":1}");
        assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn malformed_and_truncated_requests() {
        for raw in [
            &b"NONSENSE\r\n\r\n"[..],
            b"GET / SPDY/3\r\n\r\n",
            b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            assert!(
                matches!(parse(raw).0, Err(ReadError::Malformed(_))),
                "{raw:?}"
            );
        }
        for raw in [
            &b"GET / HTTP/1.1\r\nHost"[..],
            b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n{}",
            b"",
        ] {
            assert!(matches!(parse(raw).0, Err(ReadError::Io(_))), "{raw:?}");
        }
    }

    #[test]
    fn oversized_requests() {
        let big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        assert!(matches!(parse(big.as_bytes()).0, Err(ReadError::TooLarge)));
        let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES as usize));
        head.extend(b"\r\n\r\n");
        assert!(matches!(parse(&head).0, Err(ReadError::TooLarge)));
    }

    #[test]
    fn response_framing() {
        let mut out = Vec::new();
        write_response(&mut out, 404, "{\"error\":\"x\"}").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("Content-Length: 13\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n{\"error\":\"x\"}"));
    }
}
