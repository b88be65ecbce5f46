//! What the agent's `/info` endpoint advertises, and the `rate_by_service` response body.

use serde_json::Value;

/// The parts of the agent's `/info` answer the tracer uses.
///
/// ```
/// use ddtrace_transport::AgentInfo;
///
/// let info = AgentInfo::parse(br#"{"version":"7.60.0","endpoints":["/v0.4/traces","/v0.5/traces"],
///     "client_drop_p0s":true,"span_events":true,"config":{"max_request_bytes":26214400}}"#).unwrap();
/// assert!(info.supports_endpoint("/v0.5/traces"));
/// assert!(info.span_events);
/// assert_eq!(info.max_request_bytes, Some(26_214_400));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct AgentInfo {
    /// Agent version, e.g. `7.60.0`.
    pub version: Option<String>,
    /// Endpoints the agent serves.
    pub endpoints: Vec<String>,
    /// Whether the agent accepts client-side stats and lets the client drop P0 chunks.
    pub client_drop_p0s: bool,
    /// Whether native span events are understood.
    pub span_events: bool,
    /// Whether `meta_struct` is understood.
    pub span_meta_structs: bool,
    /// The agent's request size limit.
    pub max_request_bytes: Option<u64>,
    /// Keys used for peer-tag aggregation in stats.
    pub peer_tags: Vec<String>,
}

impl AgentInfo {
    /// Parses an `/info` body; `None` when it is not a JSON object. Missing fields default.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let obj = value.as_object()?;
        let strings = |key: &str| -> Vec<String> {
            obj.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let flag = |key: &str| obj.get(key).and_then(Value::as_bool).unwrap_or(false);
        Some(AgentInfo {
            version: obj
                .get("version")
                .and_then(Value::as_str)
                .map(str::to_owned),
            endpoints: strings("endpoints"),
            client_drop_p0s: flag("client_drop_p0s"),
            span_events: flag("span_events"),
            span_meta_structs: flag("span_meta_structs"),
            max_request_bytes: obj
                .get("config")
                .and_then(|c| c.get("max_request_bytes"))
                .and_then(Value::as_u64),
            peer_tags: strings("peer_tags"),
        })
    }

    /// Whether `/info` lists `path` (e.g. `/v0.5/traces`).
    pub fn supports_endpoint(&self, path: &str) -> bool {
        self.endpoints.iter().any(|e| e == path)
    }
}

/// Extracts the `rate_by_service` map of a trace response; `None` for any other body
/// (`{}`, `OK`, garbage). Entries whose rate is not a number in [0, 1] are skipped.
pub(crate) fn parse_rate_by_service(body: &[u8]) -> Option<Vec<(String, f64)>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let rates = value.get("rate_by_service")?.as_object()?;
    Some(
        rates
            .iter()
            .filter_map(|(k, v)| {
                let rate = v.as_f64().filter(|r| (0.0..=1.0).contains(r));
                if rate.is_none() {
                    log::warn!("ddtrace: ignoring agent rate {k:?}={v}: not a number in [0, 1]");
                }
                rate.map(|r| (k.clone(), r))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rate_bodies_of_agent_api_6() {
        let rates = parse_rate_by_service(
            br#"{"rate_by_service":{"service:,env:":1,"service:checkout,env:prod":0.25,"bad":2}}"#,
        )
        .unwrap();
        assert_eq!(rates.len(), 2);
        assert!(rates.contains(&("service:checkout,env:prod".to_owned(), 0.25)));
        assert_eq!(parse_rate_by_service(b"{}"), None);
        assert_eq!(parse_rate_by_service(b"OK"), None);
        assert_eq!(parse_rate_by_service(b"\xff\x00"), None);
    }

    #[test]
    fn info_tolerates_missing_and_mistyped_fields() {
        let info =
            AgentInfo::parse(br#"{"endpoints":[1,"/v0.4/traces"],"span_events":"yes"}"#).unwrap();
        assert_eq!(info.endpoints, ["/v0.4/traces"]);
        assert!(!info.span_events);
        assert_eq!(AgentInfo::parse(b"[]"), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = AgentInfo::parse(&body);
            let _ = parse_rate_by_service(&body);
        }
    }
}
