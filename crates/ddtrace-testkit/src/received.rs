//! What the test agent hands back: decoded spans and raw requests.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};
use crate::http::{base64_decode, find_header};

/// A span as the test agent decoded it (v0.4 and v0.5 payloads both come back in this shape).
///
/// Fields the agent returns that are not listed here (for example `meta_struct`, `span_links`,
/// `span_events`) are kept in [`other`](Self::other). A field the payload left out takes its
/// default (`0`, empty string, empty map): for v0.4 the agent returns exactly the keys that
/// were sent, so use [`other`](Self::other) or the raw JSON to test for absence.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ReceivedSpan {
    /// `service` (`nil` decodes as empty).
    #[serde(default, deserialize_with = "null_as_default")]
    pub service: String,
    /// `name`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// `resource`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub resource: String,
    /// Low 64 bits of the trace id.
    pub trace_id: u64,
    /// Span id.
    pub span_id: u64,
    /// Parent span id (0 for a root).
    #[serde(default, deserialize_with = "null_as_default")]
    pub parent_id: u64,
    /// Start, Unix nanoseconds.
    #[serde(default)]
    pub start: i64,
    /// Duration, nanoseconds.
    #[serde(default)]
    pub duration: i64,
    /// 1 if the span is in error.
    #[serde(default)]
    pub error: i32,
    /// `type`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub span_type: String,
    /// String tags.
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    /// Numeric tags.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Every other key of the span map, as JSON.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// All spans with one trace id, as grouped by the agent (chunks of the same trace sent in
/// several requests are merged into one `Trace`).
pub type Trace = Vec<ReceivedSpan>;

/// Parses the JSON answer of `/test/session/traces`.
///
/// # Errors
///
/// [`Error::Decode`] if the JSON is not a list of lists of spans.
pub fn parse_traces(json: &serde_json::Value) -> Result<Vec<Trace>> {
    Vec::<Trace>::deserialize(json).map_err(|e| Error::Decode {
        url: "/test/session/traces".into(),
        message: format!("{e}; JSON: {json}"),
    })
}

/// One request the agent stored, as returned by `/test/session/requests`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedRequest {
    /// HTTP method, e.g. `PUT`.
    pub method: String,
    /// Full URL as the agent saw it, e.g. `http://127.0.0.1:41234/v0.4/traces`.
    pub url: String,
    /// Request headers, with the case the client used.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl ReceivedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The URL path, e.g. `/v0.4/traces`.
    pub fn path(&self) -> &str {
        let after_scheme = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, rest)| rest);
        let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
        path.split(['?', '#']).next().unwrap_or(path)
    }
}

#[derive(Deserialize)]
struct RawRequest {
    method: String,
    url: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// Parses the JSON answer of `/test/session/requests` (bodies are base64 there).
///
/// # Errors
///
/// [`Error::Decode`] on an unexpected shape or invalid base64.
pub fn parse_requests(json: &serde_json::Value) -> Result<Vec<ReceivedRequest>> {
    let decode_error = |message: String| Error::Decode {
        url: "/test/session/requests".into(),
        message,
    };
    let raw = Vec::<RawRequest>::deserialize(json)
        .map_err(|e| decode_error(format!("{e}; JSON: {json}")))?;
    raw.into_iter()
        .map(|r| {
            let body = base64_decode(&r.body)
                .ok_or_else(|| decode_error(format!("invalid base64 body: {}", r.body)))?;
            Ok(ReceivedRequest {
                method: r.method,
                url: r.url,
                headers: r.headers.into_iter().collect(),
                body,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn span_fields_defaults_and_extras() {
        let traces = parse_traces(&json!([[{
            "service": null, "name": "op", "trace_id": 18446744073709551615u64, "span_id": 2,
            "meta": {"env": "prod"}, "metrics": {"m": 1}, "span_links": [{"trace_id": 1, "span_id": 2}]
        }]]))
        .unwrap();
        let span = &traces[0][0];
        assert_eq!(span.service, "");
        assert_eq!(span.name, "op");
        assert_eq!(span.trace_id, u64::MAX);
        assert_eq!(span.parent_id, 0);
        assert_eq!(span.meta["env"], "prod");
        assert_eq!(span.metrics["m"], 1.0);
        assert_eq!(span.other["span_links"][0]["span_id"], 2);
        assert!(!span.other.contains_key("meta"));
    }

    #[test]
    fn traces_reject_a_span_without_ids() {
        assert!(parse_traces(&json!([[{"name": "op"}]])).is_err());
        assert!(parse_traces(&json!({"not": "a list"})).is_err());
    }

    #[test]
    fn requests_decode_body_and_path() {
        let requests = parse_requests(&json!([{
            "method": "PUT", "url": "http://127.0.0.1:1/v0.4/traces?x=1",
            "headers": {"X-Datadog-Trace-Count": "1"}, "body": "kA=="
        }]))
        .unwrap();
        let request = &requests[0];
        assert_eq!(request.body, [0x90]);
        assert_eq!(request.path(), "/v0.4/traces");
        assert_eq!(request.header("x-datadog-trace-count"), Some("1"));
        assert!(
            parse_requests(&json!([{"method": "PUT", "url": "u", "headers": {}, "body": "!"}]))
                .is_err()
        );
    }
}
