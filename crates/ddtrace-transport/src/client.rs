//! One HTTP exchange with the agent, over TCP or a Unix socket, with a hard timeout.

use std::time::Duration;

use ureq::Agent;
use ureq::unversioned::resolver::DefaultResolver;

use crate::AgentUrl;
use crate::uds::UnixConnector;

/// The largest response body read; agent responses are a few hundred bytes.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

/// An agent response.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) agent_state: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// Why an exchange failed before a status was received.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Connection refused, reset, DNS, malformed response…
    Io(String),
    /// No complete response within the timeout.
    Timeout,
}

/// A blocking HTTP client bound to one agent.
#[derive(Debug)]
pub(crate) struct Client {
    agent: Agent,
    base: String,
}

impl Client {
    pub(crate) fn new(url: &AgentUrl, timeout: Duration) -> Self {
        let config = Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("ddtrace-rs/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(2)
            .build();
        match url {
            AgentUrl::Http(base) => Client {
                agent: config.into(),
                base: base.clone(),
            },
            AgentUrl::Unix(path) => Client {
                agent: Agent::with_parts(
                    config,
                    UnixConnector::new(path.clone()),
                    DefaultResolver::default(),
                ),
                // The host is only written into the request; the connector ignores it.
                base: "http://localhost".to_owned(),
            },
        }
    }

    /// `GET path`.
    pub(crate) fn get(&self, path: &str) -> Result<Response, Failure> {
        let result = self.agent.get(format!("{}{path}", self.base)).call();
        read(result)
    }

    /// `PUT path` with a body and headers.
    pub(crate) fn put(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, Failure> {
        let mut request = self.agent.put(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send(body))
    }
}

fn read(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Response, Failure> {
    let mut response = result.map_err(failure)?;
    let status = response.status().as_u16();
    let agent_state = response
        .headers()
        .get("datadog-agent-state")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Once the status is in, the agent has decided: a body cut short (a reset mid-response)
    // must not turn an accepted payload into a retry that would deliver it twice.
    let body = match response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
    {
        Ok(body) => body,
        Err(e) => {
            log::debug!("ddtrace: agent response body unreadable after status {status}: {e}");
            Vec::new()
        }
    };
    Ok(Response {
        status,
        agent_state,
        body,
    })
}

fn failure(e: ureq::Error) -> Failure {
    match e {
        ureq::Error::Timeout(_) => Failure::Timeout,
        other => Failure::Io(other.to_string()),
    }
}
