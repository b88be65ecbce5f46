//! Where the agent is: parsing agent URLs and resolving them from the environment.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The default Unix socket of the Datadog Agent.
pub const DEFAULT_SOCKET: &str = "/var/run/datadog/apm.socket";
/// The default agent port.
pub const DEFAULT_PORT: u16 = 8126;

/// The address of a Datadog Agent: HTTP over TCP, or HTTP over a Unix domain socket.
///
/// ```
/// use ddtrace_transport::AgentUrl;
///
/// let tcp = AgentUrl::parse("http://localhost:8126")?;
/// assert_eq!(tcp.to_string(), "http://localhost:8126");
/// let uds = AgentUrl::parse("unix:///var/run/datadog/apm.socket")?;
/// assert!(matches!(uds, AgentUrl::Unix(_)));
/// assert!(AgentUrl::parse("ftp://agent").is_err());
/// # Ok::<(), ddtrace_transport::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentUrl {
    /// `http://host:port`; the value is the base URL with no trailing slash.
    Http(String),
    /// `unix:///absolute/path`: HTTP over this socket.
    Unix(PathBuf),
}

impl AgentUrl {
    /// Parses `http://host[:port][/]` or `unix:///absolute/path`. A missing port means 80.
    pub fn parse(url: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let trimmed = url.trim();
        if let Some(path) = trimmed.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(invalid(
                    "a unix URL needs an absolute path: unix:///path/to/socket",
                ));
            }
            return Ok(AgentUrl::Unix(PathBuf::from(path)));
        }
        if trimmed.starts_with("https://") {
            return Err(invalid(
                "https is not supported (the agent listens on plain HTTP or a Unix socket)",
            ));
        }
        let Some(rest) = trimmed.strip_prefix("http://") else {
            return Err(invalid("the scheme must be http:// or unix://"));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() {
            return Err(invalid("no host"));
        }
        if authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(invalid(
                "only http://host:port is accepted (no path, query or userinfo)",
            ));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| invalid("bad host or port"))?;
        Ok(AgentUrl::Http(format!("http://{}:{}", bracket(host), port)))
    }

    /// Resolves the agent address from settings, following the Datadog precedence:
    /// `DD_TRACE_AGENT_URL`; then `DD_AGENT_HOST` / `DD_TRACE_AGENT_PORT`; then the default
    /// Unix socket if it exists; then `http://localhost:8126`. Invalid values are logged and
    /// skipped.
    ///
    /// ```
    /// use ddtrace_transport::AgentUrl;
    ///
    /// let env = |k: &str| (k == "DD_AGENT_HOST").then(|| "::1".to_owned());
    /// let url = AgentUrl::resolve(env, |_| false);
    /// assert_eq!(url.to_string(), "http://[::1]:8126");
    /// ```
    pub fn resolve(
        lookup: impl Fn(&str) -> Option<String>,
        socket_exists: impl Fn(&Path) -> bool,
    ) -> Self {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        if let Some(url) = get("DD_TRACE_AGENT_URL") {
            match AgentUrl::parse(&url) {
                Ok(parsed) => return parsed,
                Err(e) => log::warn!("ddtrace: ignoring DD_TRACE_AGENT_URL: {e}"),
            }
        }
        let host = get("DD_AGENT_HOST").or_else(|| get("DD_TRACE_AGENT_HOSTNAME"));
        let port = get("DD_TRACE_AGENT_PORT").and_then(|p| match p.trim().parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => {
                log::warn!(
                    "ddtrace: ignoring DD_TRACE_AGENT_PORT={p:?}: not a port number 1-65535"
                );
                None
            }
        });
        if host.is_some() || port.is_some() {
            let host = host.map_or_else(|| "localhost".to_owned(), |h| h.trim().to_owned());
            let host = host.trim_start_matches('[').trim_end_matches(']');
            return AgentUrl::Http(format!(
                "http://{}:{}",
                bracket(host),
                port.unwrap_or(DEFAULT_PORT)
            ));
        }
        if socket_exists(Path::new(DEFAULT_SOCKET)) {
            return AgentUrl::Unix(PathBuf::from(DEFAULT_SOCKET));
        }
        AgentUrl::Http(format!("http://localhost:{DEFAULT_PORT}"))
    }

    /// Resolves from the process environment and the file system.
    pub fn from_env() -> Self {
        AgentUrl::resolve(|k| std::env::var(k).ok(), Path::exists)
    }
}

impl fmt::Display for AgentUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentUrl::Http(base) => f.write_str(base),
            AgentUrl::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

/// Wraps an IPv6 literal in brackets.
fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// Splits `host[:port]` (with `[v6]` literals); the port defaults to 80.
fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return None, // bare IPv6 without brackets is ambiguous
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        None => 80,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0)?,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(vars: &[(&str, &str)], socket: bool) -> String {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AgentUrl::resolve(|k| vars.get(k).cloned(), |_| socket).to_string()
    }

    #[test]
    fn worked_examples_of_agent_api_1_2() {
        assert_eq!(resolve(&[], false), "http://localhost:8126");
        assert_eq!(resolve(&[], true), "unix:///var/run/datadog/apm.socket");
        assert_eq!(
            resolve(&[("DD_AGENT_HOST", "agent")], false),
            "http://agent:8126"
        );
        assert_eq!(
            resolve(&[("DD_TRACE_AGENT_PORT", "9126")], true),
            "http://localhost:9126"
        );
        assert_eq!(
            resolve(&[("DD_AGENT_HOST", "::1")], false),
            "http://[::1]:8126"
        );
        assert_eq!(
            resolve(&[("DD_AGENT_HOST", "[::1]")], false),
            "http://[::1]:8126"
        );
        assert_eq!(
            resolve(
                &[
                    ("DD_TRACE_AGENT_URL", "http://a:1234"),
                    ("DD_AGENT_HOST", "b")
                ],
                false
            ),
            "http://a:1234"
        );
        assert_eq!(
            resolve(&[("DD_TRACE_AGENT_URL", "unix:///tmp/apm.sock")], false),
            "unix:///tmp/apm.sock"
        );
    }

    #[test]
    fn invalid_values_fall_through_with_a_warning() {
        assert_eq!(
            resolve(
                &[("DD_TRACE_AGENT_URL", "nope://x"), ("DD_AGENT_HOST", "b")],
                false
            ),
            "http://b:8126"
        );
        assert_eq!(
            resolve(&[("DD_TRACE_AGENT_PORT", "99999")], false),
            "http://localhost:8126"
        );
        assert_eq!(
            resolve(&[("DD_TRACE_AGENT_PORT", "0")], true),
            "unix:///var/run/datadog/apm.socket"
        );
        assert_eq!(
            resolve(&[("DD_TRACE_AGENT_URL", "")], false),
            "http://localhost:8126"
        );
    }

    #[test]
    fn parse_accepts_the_documented_forms_only() {
        assert_eq!(
            AgentUrl::parse("http://h:1/").unwrap().to_string(),
            "http://h:1"
        );
        assert_eq!(
            AgentUrl::parse("http://h").unwrap().to_string(),
            "http://h:80"
        );
        assert_eq!(
            AgentUrl::parse("http://[::1]:9").unwrap().to_string(),
            "http://[::1]:9"
        );
        for bad in [
            "",
            "h:1",
            "http://",
            "http://h:0",
            "http://h:x",
            "http://h:1/path",
            "http://u@h:1",
            "unix://relative",
            "https://h:1",
            "http://::1:8126",
            "http://[::1",
        ] {
            assert!(AgentUrl::parse(bad).is_err(), "{bad:?}");
        }
    }
}
