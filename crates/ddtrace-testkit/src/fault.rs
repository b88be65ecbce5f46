//! [`FaultServer`]: a local HTTP server that plays a misbehaving Datadog Agent.
//!
//! It answers `/info` and trace requests, records every request, and replies to trace
//! requests from a script of [`Reply`]s (errors, slowness, resets, garbage), then with a
//! default reply. Used by the transport's fault tests.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use std::sync::Mutex;

/// How the server answers a trace request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with a `rate_by_service` body.
    Ok,
    /// This status with a short body.
    Status(u16),
    /// Wait, then 200.
    Slow(Duration),
    /// Write half a status line and close the connection.
    ResetMidResponse,
    /// 200 whose body is not JSON.
    GarbageBody,
    /// Bytes that are not HTTP at all.
    NotHttp,
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Request method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Headers in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Seen {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    default: Option<Reply>,
    seen: Vec<Seen>,
    info: String,
    rates: String,
}

/// The server. Dropping it stops it.
#[allow(missing_debug_implementations)]
pub struct FaultServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FaultServer {
    /// Starts on a free loopback port.
    pub fn start() -> FaultServer {
        FaultServer::start_on(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Starts on `addr` (to bring an agent back on the port a test was using).
    pub fn start_on(addr: SocketAddr) -> FaultServer {
        let listener = TcpListener::bind(addr)
            .unwrap_or_else(|e| panic!("fault server cannot bind {addr}: {e}"));
        let addr = listener.local_addr().unwrap_or(addr);
        let _ = listener.set_nonblocking(true);
        let state = Arc::new(Mutex::new(State {
            default: Some(Reply::Ok),
            info: r#"{"version":"fault-server","endpoints":["/v0.4/traces","/v0.5/traces"],"span_events":true,"client_drop_p0s":true}"#.to_owned(),
            rates: r#"{"rate_by_service":{"service:,env:":1.0,"service:web,env:prod":0.5}}"#.to_owned(),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let state = Arc::clone(&state);
                            std::thread::spawn(move || serve(stream, &state));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        FaultServer {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replies for the next trace requests, in order; then the default.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.state).script.extend(replies);
    }

    /// The reply once the script is used up.
    pub fn set_default(&self, reply: Reply) {
        lock(&self.state).default = Some(reply);
    }

    /// Sets the `/info` body.
    pub fn set_info(&self, json: &str) {
        lock(&self.state).info = json.to_owned();
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.state).seen.clone()
    }

    /// Trace requests seen so far.
    pub fn trace_requests(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.ends_with("/traces"))
            .collect()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut stream = stream;
    // Keep-alive: serve requests until the client closes.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let len = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let is_traces = path.ends_with("/traces");
        let (reply, info, rates) = {
            let mut s = lock(state);
            s.seen.push(Seen {
                method,
                path: path.clone(),
                headers,
                body,
            });
            let reply = if is_traces {
                s.script.pop_front().or_else(|| s.default.clone())
            } else {
                Some(Reply::Ok)
            };
            (reply, s.info.clone(), s.rates.clone())
        };
        let ok_body = if is_traces { rates } else { info };
        let written = match reply.unwrap_or(Reply::Ok) {
            Reply::Ok => respond(&mut stream, 200, &ok_body),
            Reply::Status(code) => respond(&mut stream, code, "{\"error\":\"injected\"}"),
            Reply::Slow(d) => {
                std::thread::sleep(d);
                respond(&mut stream, 200, &ok_body)
            }
            Reply::ResetMidResponse => {
                let _ = stream.write_all(b"HTTP/1.1 2");
                return;
            }
            Reply::GarbageBody => respond(&mut stream, 200, "\u{1}\u{2}not json{{{"),
            Reply::NotHttp => {
                let _ = stream.write_all(b"garbage garbage\r\n\r\n");
                return;
            }
        };
        if written.is_err() {
            return;
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn respond(stream: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes())
}
