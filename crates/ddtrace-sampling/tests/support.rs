//! Helpers shared by the integration tests.

use std::collections::HashMap;

use ddtrace_sampling::SamplingConfig;
use serde_json::Value;

/// The records of a JSON-lines file under `tests/data/`.
pub(crate) fn load_jsonl(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}")))
        .collect()
}

/// The configuration a vector record ran with: its `env` (a `null` value means unset).
pub(crate) fn config_from_record_env(env: &Value) -> SamplingConfig {
    let vars = record_env(env);
    SamplingConfig::from_lookup(|k| vars.get(k).cloned())
}

/// A record's `env` as a map (`null` values dropped).
pub(crate) fn record_env(env: &Value) -> HashMap<String, String> {
    env.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The `rate_by_service` a record's test agent returned, as `(key, rate)` pairs.
pub(crate) fn agent_rates(record: &Value) -> Option<Vec<(String, f64)>> {
    record
        .get("agent_rate_by_service")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_f64().expect("numeric rate")))
                .collect()
        })
}
