//! Running one `ddapm-test-agent` process per test.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::http::{Client, HttpResponse, percent_encode};
use crate::install::{ensure_test_agent, state_dir};
use crate::received::{ReceivedRequest, Trace, parse_requests, parse_traces};

/// The agent-side checks [`TestAgent::start`] turns on (names as in the test agent's
/// `trace_checks.py`). Each failing check makes the agent answer the trace request with
/// HTTP 400 and records a failure, readable with [`TestAgent::trace_check_failures`].
///
/// * `trace_count_header`: `X-Datadog-Trace-Count` present and equal to the number of chunks.
/// * `meta_tracer_version_header`: `Datadog-Meta-Tracer-Version` present.
/// * `trace_content_length`: `Content-Length` present (no chunked bodies) and ≤ 50,000,000.
/// * `meta_events_is_valid_json`: a span's `meta["events"]`, when present, is a JSON array.
/// * `trace_stall`: honours a request header `X-Datadog-Test-Stall-Seconds: <s>` by delaying
///   the answer (for timeout tests); does nothing without the header.
pub const DEFAULT_CHECKS: &[&str] = &[
    "trace_count_header",
    "meta_tracer_version_header",
    "trace_content_length",
    "meta_events_is_valid_json",
    "trace_stall",
];

/// Default virtual-memory cap of an agent process, in MiB (an idle agent maps about 600).
pub const DEFAULT_MEMORY_LIMIT_MIB: u64 = 3072;

/// How often to retry when a picked port was taken by someone else before the agent bound it.
const PORT_ATTEMPTS: usize = 4;

/// Options for starting a [`TestAgent`]; see [`TestAgent::builder`].
#[derive(Debug, Clone)]
pub struct TestAgentBuilder {
    checks: Vec<String>,
    info_override: Option<serde_json::Value>,
    disable_error_responses: bool,
    startup_timeout: Duration,
    request_timeout: Duration,
    memory_limit_mib: Option<u64>,
}

impl Default for TestAgentBuilder {
    fn default() -> Self {
        TestAgentBuilder {
            checks: DEFAULT_CHECKS.iter().map(|&c| c.to_owned()).collect(),
            info_override: None,
            disable_error_responses: false,
            startup_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(10),
            memory_limit_mib: Some(DEFAULT_MEMORY_LIMIT_MIB),
        }
    }
}

impl TestAgentBuilder {
    /// Replaces the enabled checks (default: [`DEFAULT_CHECKS`]); an empty list turns all off.
    pub fn checks<I, S>(mut self, checks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.checks = checks.into_iter().map(Into::into).collect();
        self
    }

    /// Top-level keys merged into the agent's `GET /info` answer (the agent's
    /// `DD_AGENT_EXTRA_INFO`), e.g. `{"endpoints": ["/v0.4/traces"], "span_events": false}`
    /// to emulate an older agent.
    pub fn info_override(mut self, info: serde_json::Value) -> Self {
        self.info_override = Some(info);
        self
    }

    /// Answer 200 even when a check fails (failures are still recorded).
    pub fn disable_error_responses(mut self, disable: bool) -> Self {
        self.disable_error_responses = disable;
        self
    }

    /// How long to wait for the agent to answer `GET /info` after spawning it (default 15 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Timeout of each request this crate makes to the agent (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Caps the agent's virtual memory (Unix only; default [`DEFAULT_MEMORY_LIMIT_MIB`]);
    /// `None` removes the cap.
    pub fn memory_limit_mib(mut self, limit: Option<u64>) -> Self {
        self.memory_limit_mib = limit;
        self
    }

    /// Installs the agent if needed ([`ensure_test_agent`]), starts it on free loopback ports
    /// and waits until it answers `GET /info`.
    ///
    /// # Errors
    ///
    /// [`Error::Install`] if the agent cannot be installed, [`Error::AgentExited`] /
    /// [`Error::StartTimeout`] (with the agent's output) if it does not come up.
    pub fn start(self) -> Result<TestAgent> {
        let exe = ensure_test_agent()?;
        let run_dir = state_dir().join("run");
        fs::create_dir_all(&run_dir)
            .map_err(|e| Error::io(format!("creating {}", run_dir.display()), e))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.spawn_once(&exe, &run_dir) {
                Err(Error::AgentExited { log, .. })
                    if attempt < PORT_ATTEMPTS && is_port_clash(&log) => {}
                other => return other,
            }
        }
    }

    fn spawn_once(&self, exe: &Path, run_dir: &Path) -> Result<TestAgent> {
        let [port, otlp_http, otlp_grpc] = free_ports()?;
        let log_path = run_dir.join(format!("agent-{port}.log"));
        let log = File::create(&log_path)
            .map_err(|e| Error::io(format!("creating {}", log_path.display()), e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| Error::io("duplicating the log file handle", e))?;
        let mut cmd = self.command(exe);
        cmd.current_dir(run_dir)
            .args(["--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .args(["--otlp-http-port", &otlp_http.to_string()])
            .args(["--otlp-grpc-port", &otlp_grpc.to_string()])
            // `--enabled-checks` cannot be used: its argparse `type=List[str]` rejects every
            // value in 1.69.1. The environment variable works.
            .env("ENABLED_CHECKS", self.checks.join(","))
            // The agent treats any non-empty string as true here.
            .args(["--pool-trace-check-failures", "1"])
            // Never forward anything anywhere.
            .args(["--agent-url", ""])
            .arg("--disable-llmobs-data-forwarding")
            .args([
                "--snapshot-dir",
                &run_dir.join("snapshots").to_string_lossy(),
            ])
            .args(["--log-level", "INFO"])
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        // Settings the agent also reads from the environment: keep the caller's out.
        for var in [
            "DD_AGENT_EXTRA_INFO",
            "TEST_AGENT_VERSION",
            "DD_API_KEY",
            "DD_TEST_STALL_REQUEST_SECONDS",
            "DD_SUPPRESS_TRACE_PARSE_ERRORS",
            "DD_DISABLE_ERROR_RESPONSES",
            "DD_POOL_TRACE_CHECK_FAILURES",
        ] {
            cmd.env_remove(var);
        }
        if let Some(info) = &self.info_override {
            cmd.env("DD_AGENT_EXTRA_INFO", info.to_string());
        }
        if self.disable_error_responses {
            cmd.args(["--disable-error-responses", "1"]);
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::io(format!("spawning {}", exe.display()), e))?;
        let mut agent = TestAgent {
            child,
            port,
            otlp_http_port: otlp_http,
            otlp_grpc_port: otlp_grpc,
            log_path,
            client: Client::new(self.request_timeout),
        };
        agent.wait_ready(self.startup_timeout)?;
        Ok(agent)
    }
}

impl TestAgentBuilder {
    /// The agent's command, under a virtual-memory cap where the platform has `ulimit`.
    ///
    /// The cap matters: ddapm-test-agent 1.69.1 pretty-prints every chunk it receives, and a
    /// chunk with a span whose `span_id` is 0 sends that printer into an endless loop that
    /// grows one string until the machine runs out of memory. Under the cap Python raises
    /// `MemoryError` after a few seconds instead, the request is answered 400, and the agent
    /// lives on.
    fn command(&self, exe: &Path) -> Command {
        match self.memory_limit_mib {
            Some(mib) if cfg!(unix) => {
                let mut cmd = Command::new("/bin/sh");
                // `$0` is the executable, `$@` its arguments (added by the caller).
                let script = format!("ulimit -v {} 2>/dev/null; exec \"$0\" \"$@\"", mib * 1024);
                cmd.arg("-c").arg(script).arg(exe);
                cmd
            }
            _ => Command::new(exe),
        }
    }
}

fn free_ports() -> Result<[u16; 3]> {
    // Hold all three listeners at once so the OS hands out three different ports.
    let bind = || {
        TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| Error::io("binding a free loopback port", e))
    };
    let listeners = [bind()?, bind()?, bind()?];
    let mut ports = [0u16; 3];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener
            .local_addr()
            .map_err(|e| Error::io("reading a bound port", e))?
            .port();
    }
    Ok(ports)
}

fn is_port_clash(log: &str) -> bool {
    log.contains("address already in use")
        || log.contains("Address already in use")
        || log.contains("Errno 98")
}

/// A running `ddapm-test-agent` on `127.0.0.1:<free port>`, killed on drop.
///
/// One agent per test keeps tests independent. The methods without a session token
/// ([`traces`](Self::traces), [`requests`](Self::requests), …) see every request sent without
/// an `X-Datadog-Test-Session-Token` header since the last tokenless session start (or since
/// the agent started); [`session`](Self::session) scopes them to a token instead.
///
/// ```no_run
/// use ddtrace_testkit::TestAgent;
///
/// let agent = TestAgent::start()?;
/// // … point the tracer at agent.url() and send something …
/// let traces = agent.wait_for_traces(1, std::time::Duration::from_secs(5))?;
/// assert_eq!(traces[0][0].name, "op");
/// assert!(agent.trace_check_failures()?.is_empty());
/// # Ok::<(), ddtrace_testkit::Error>(())
/// ```
#[derive(Debug)]
pub struct TestAgent {
    child: Child,
    port: u16,
    otlp_http_port: u16,
    otlp_grpc_port: u16,
    log_path: PathBuf,
    client: Client,
}

impl TestAgent {
    /// Starts an agent with the default options ([`DEFAULT_CHECKS`] on); see
    /// [`TestAgentBuilder::start`].
    ///
    /// # Errors
    ///
    /// As [`TestAgentBuilder::start`].
    pub fn start() -> Result<TestAgent> {
        Self::builder().start()
    }

    /// Options for starting an agent.
    pub fn builder() -> TestAgentBuilder {
        TestAgentBuilder::default()
    }

    /// Base URL, `http://127.0.0.1:<port>` (what `DD_TRACE_AGENT_URL` should be set to).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The trace-intake port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the agent's OTLP/HTTP receiver.
    pub fn otlp_http_port(&self) -> u16 {
        self.otlp_http_port
    }

    /// The port of the agent's OTLP/gRPC receiver.
    pub fn otlp_grpc_port(&self) -> u16 {
        self.otlp_grpc_port
    }

    /// The agent's output so far (its access log shows every request).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Path of the file holding the agent's output (kept after a failing test).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Sends a request to the agent and returns its answer whatever the status.
    ///
    /// `path` starts with `/`. Headers are sent as given; a non-empty `body` is sent with a
    /// `Content-Length`.
    ///
    /// # Errors
    ///
    /// [`Error::Http`] if no answer could be read.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<HttpResponse> {
        self.client
            .send(method, &format!("{}{path}", self.url()), headers, body)
    }

    /// `GET /info` as JSON.
    ///
    /// # Errors
    ///
    /// On transport errors, a non-200 status or a non-JSON body.
    pub fn info(&self) -> Result<serde_json::Value> {
        self.get_json("/info")
    }

    /// Starts a tokenless session whose trace responses carry `rates` as `rate_by_service`
    /// (keys like `service:checkout,env:prod`). Trace requests without a session-token header
    /// get these rates from now on; requests received before this call no longer show up in
    /// [`traces`](Self::traces) / [`requests`](Self::requests).
    ///
    /// # Errors
    ///
    /// On transport errors or a non-200 status.
    pub fn set_rate_by_service(&self, rates: &BTreeMap<String, f64>) -> Result<()> {
        self.start_session_query(None, Some(rates))
    }

    /// Starts a session for `token` (`GET /test/session/start?test_session_token=…`) and
    /// returns a handle scoped to it. Requests carrying the header
    /// `X-Datadog-Test-Session-Token: <token>` (and tokenless ones sent after this call) belong
    /// to it, and its `rates` (if any) are returned to requests carrying the token.
    ///
    /// # Errors
    ///
    /// On transport errors or a non-200 status.
    pub fn start_session(
        &self,
        token: &str,
        rates: Option<&BTreeMap<String, f64>>,
    ) -> Result<Session<'_>> {
        self.start_session_query(Some(token), rates)?;
        Ok(self.session(token))
    }

    /// A handle on the session `token` without starting it.
    pub fn session(&self, token: &str) -> Session<'_> {
        Session {
            agent: self,
            token: Some(token.to_owned()),
        }
    }

    fn tokenless(&self) -> Session<'_> {
        Session {
            agent: self,
            token: None,
        }
    }

    /// Traces received (see the type docs for which requests count), grouped by trace id.
    ///
    /// # Errors
    ///
    /// On transport errors, a non-200 status (the agent answers 400 when a stored payload
    /// cannot be decoded) or an unexpected shape.
    pub fn traces(&self) -> Result<Vec<Trace>> {
        self.tokenless().traces()
    }

    /// [`traces`](Self::traces) as the agent's raw JSON.
    ///
    /// # Errors
    ///
    /// As [`traces`](Self::traces).
    pub fn traces_json(&self) -> Result<serde_json::Value> {
        self.tokenless().traces_json()
    }

    /// Polls [`traces`](Self::traces) until at least `count` traces are there.
    ///
    /// # Errors
    ///
    /// [`Error::WaitTimeout`] if they do not arrive within `timeout`.
    pub fn wait_for_traces(&self, count: usize, timeout: Duration) -> Result<Vec<Trace>> {
        self.tokenless().wait_for_traces(count, timeout)
    }

    /// Raw requests received on the trace, stats, telemetry, … endpoints, oldest first.
    ///
    /// # Errors
    ///
    /// On transport errors, a non-200 status or an unexpected shape.
    pub fn requests(&self) -> Result<Vec<ReceivedRequest>> {
        self.tokenless().requests()
    }

    /// Every trace-check failure recorded by this agent (all tokens), by check name;
    /// empty when all checks passed.
    ///
    /// # Errors
    ///
    /// On transport errors or an unexpected answer.
    pub fn trace_check_failures(&self) -> Result<BTreeMap<String, Vec<String>>> {
        self.failures_query("/test/trace_check/failures?use_json=true&return_all=true")
    }

    /// Per-check counts of passed/failed/skipped runs for all tokens
    /// (`/test/trace_check/summary?return_all=true`).
    ///
    /// # Errors
    ///
    /// On transport errors, a non-200 status or a non-JSON body.
    pub fn trace_check_summary(&self) -> Result<serde_json::Value> {
        self.get_json("/test/trace_check/summary?return_all=true")
    }

    /// Client-stats payloads received on `/v0.6/stats`, decoded to JSON by the agent.
    ///
    /// # Errors
    ///
    /// On transport errors, a non-200 status or a non-JSON body.
    pub fn stats(&self) -> Result<serde_json::Value> {
        self.tokenless().stats()
    }

    /// Forgets every stored request (`/test/session/clear` without a token).
    ///
    /// # Errors
    ///
    /// On transport errors or a non-200 status.
    pub fn clear(&self) -> Result<()> {
        self.tokenless().clear()
    }

    fn start_session_query(
        &self,
        token: Option<&str>,
        rates: Option<&BTreeMap<String, f64>>,
    ) -> Result<()> {
        let mut query = Vec::new();
        if let Some(token) = token {
            query.push(format!("test_session_token={}", percent_encode(token)));
        }
        if let Some(rates) = rates {
            let json = serde_json::to_string(rates).map_err(|e| Error::Decode {
                url: "/test/session/start".into(),
                message: e.to_string(),
            })?;
            query.push(format!(
                "agent_sample_rate_by_service={}",
                percent_encode(&json)
            ));
        }
        let path = if query.is_empty() {
            "/test/session/start".to_owned()
        } else {
            format!("/test/session/start?{}", query.join("&"))
        };
        self.get_ok(&path).map(drop)
    }

    fn get_ok(&self, path: &str) -> Result<HttpResponse> {
        let response = self.request("GET", path, &[], &[])?;
        if response.status == 200 {
            Ok(response)
        } else {
            Err(Error::Status {
                method: "GET".into(),
                url: format!("{}{path}", self.url()),
                status: response.status,
                body: response.text(),
            })
        }
    }

    fn get_json(&self, path: &str) -> Result<serde_json::Value> {
        let response = self.get_ok(path)?;
        response.json().map_err(|e| match e {
            Error::Decode { message, .. } => Error::Decode {
                url: format!("{}{path}", self.url()),
                message,
            },
            other => other,
        })
    }

    fn failures_query(&self, path: &str) -> Result<BTreeMap<String, Vec<String>>> {
        // 200 with an empty body: no failures; 400 with a JSON map: the failures by check.
        let response = self.request("GET", path, &[], &[])?;
        let url = format!("{}{path}", self.url());
        match response.status {
            200 => Ok(BTreeMap::new()),
            400 => serde_json::from_slice(&response.body).map_err(|e| Error::Decode {
                url,
                message: format!("{e}; body: {}", response.text()),
            }),
            status => Err(Error::Status {
                method: "GET".into(),
                url,
                status,
                body: response.text(),
            }),
        }
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let probe = Client::new(Duration::from_millis(500));
        let url = format!("{}/info", self.url());
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|e| Error::io("polling the agent process", e))?
            {
                return Err(Error::AgentExited {
                    status: status.to_string(),
                    log: self.log(),
                });
            }
            if probe
                .send("GET", &url, &[], &[])
                .is_ok_and(|r| r.status == 200)
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::StartTimeout {
                    url: self.url(),
                    timeout,
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        // Errors here mean the process is already gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Keep the log of a failing test for inspection; otherwise tidy up.
        if std::thread::panicking() {
            #[allow(clippy::print_stderr)] // a test is failing: say where to look
            {
                eprintln!(
                    "ddtrace-testkit: test agent output kept in {}",
                    self.log_path.display()
                );
            }
        } else {
            let _ = fs::remove_file(&self.log_path);
        }
    }
}

/// A view of the agent scoped to one session token; see [`TestAgent::session`].
#[derive(Debug, Clone)]
pub struct Session<'a> {
    agent: &'a TestAgent,
    token: Option<String>,
}

impl Session<'_> {
    /// The session token (`None` for the tokenless view).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The `X-Datadog-Test-Session-Token` header to add to requests of this session.
    pub fn header(&self) -> Option<(&'static str, &str)> {
        self.token
            .as_deref()
            .map(|t| ("X-Datadog-Test-Session-Token", t))
    }

    fn path(&self, base: &str) -> String {
        match &self.token {
            Some(token) => format!("{base}?test_session_token={}", percent_encode(token)),
            None => base.to_owned(),
        }
    }

    /// Traces of this session, grouped by trace id (requests newest first).
    ///
    /// # Errors
    ///
    /// As [`TestAgent::traces`]; also HTTP 404 for a token that was never used.
    pub fn traces(&self) -> Result<Vec<Trace>> {
        parse_traces(&self.traces_json()?)
    }

    /// [`traces`](Self::traces) as raw JSON.
    ///
    /// # Errors
    ///
    /// As [`traces`](Self::traces).
    pub fn traces_json(&self) -> Result<serde_json::Value> {
        self.agent.get_json(&self.path("/test/session/traces"))
    }

    /// Polls [`traces`](Self::traces) until at least `count` traces are there.
    ///
    /// # Errors
    ///
    /// [`Error::WaitTimeout`] if they do not arrive within `timeout`; other errors at once.
    pub fn wait_for_traces(&self, count: usize, timeout: Duration) -> Result<Vec<Trace>> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.traces() {
                Ok(traces) if traces.len() >= count => return Ok(traces),
                Ok(traces) => format!("{} trace(s): {traces:?}", traces.len()),
                // A session nobody has sent to yet answers 404: keep waiting.
                Err(Error::Status {
                    status: 404, body, ..
                }) => format!("HTTP 404 {body}"),
                Err(other) => return Err(other),
            };
            if Instant::now() >= deadline {
                return Err(Error::WaitTimeout {
                    what: format!("{count} trace(s) on {}", self.agent.url()),
                    timeout,
                    last,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Raw requests of this session, oldest first.
    ///
    /// # Errors
    ///
    /// As [`TestAgent::requests`].
    pub fn requests(&self) -> Result<Vec<ReceivedRequest>> {
        parse_requests(&self.agent.get_json(&self.path("/test/session/requests"))?)
    }

    /// Trace-check failures recorded for requests carrying this session's token, by check.
    ///
    /// # Errors
    ///
    /// As [`TestAgent::trace_check_failures`].
    pub fn trace_check_failures(&self) -> Result<BTreeMap<String, Vec<String>>> {
        let path = self.path("/test/trace_check/failures");
        let sep = if path.contains('?') { '&' } else { '?' };
        self.agent
            .failures_query(&format!("{path}{sep}use_json=true"))
    }

    /// Stats payloads of this session.
    ///
    /// # Errors
    ///
    /// As [`TestAgent::stats`].
    pub fn stats(&self) -> Result<serde_json::Value> {
        self.agent.get_json(&self.path("/test/session/stats"))
    }

    /// Forgets the requests of this session.
    ///
    /// # Errors
    ///
    /// On transport errors or a non-200 status.
    pub fn clear(&self) -> Result<()> {
        self.agent
            .get_ok(&self.path("/test/session/clear"))
            .map(drop)
    }
}
