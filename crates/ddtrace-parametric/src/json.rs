//! JSON request values to OpenTelemetry attribute values, and the Datadog tag flattening of
//! lists (`key.0`, `key.0.1`, …).

use opentelemetry::{Array, KeyValue, StringValue, Value};
use serde_json::Value as Json;

/// A JSON number as an OTel value: `I64` when it is an integer that fits, else `F64`.
fn number(n: &serde_json::Number) -> Value {
    match n.as_i64() {
        Some(i) => Value::I64(i),
        None => Value::F64(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// A JSON value as an OTel attribute value: strings, booleans, numbers and homogeneous
/// arrays of them (integers mixed with floats become floats). `Ok(None)` for `null`.
pub(crate) fn otel_value(v: &Json) -> Result<Option<Value>, String> {
    Ok(Some(match v {
        Json::Null => return Ok(None),
        Json::Bool(b) => Value::Bool(*b),
        Json::String(s) => Value::String(s.clone().into()),
        Json::Number(n) => number(n),
        Json::Array(items) => Value::Array(array(items)?),
        Json::Object(_) => return Err("objects are not attribute values".to_owned()),
    }))
}

/// A JSON array as an OTel array, if its elements share one type.
fn array(items: &[Json]) -> Result<Array, String> {
    if items.iter().all(Json::is_string) {
        let v: Vec<StringValue> = items
            .iter()
            .filter_map(|i| i.as_str().map(|s| StringValue::from(s.to_owned())))
            .collect();
        return Ok(Array::String(v));
    }
    if items.iter().all(Json::is_boolean) {
        return Ok(Array::Bool(
            items.iter().filter_map(Json::as_bool).collect(),
        ));
    }
    if items.iter().all(Json::is_i64) {
        return Ok(Array::I64(items.iter().filter_map(Json::as_i64).collect()));
    }
    if items.iter().all(Json::is_number) {
        return Ok(Array::F64(items.iter().filter_map(Json::as_f64).collect()));
    }
    Err("arrays must hold only strings, only booleans or only numbers".to_owned())
}

/// An `attributes` object as OTel key-values, in the object's order. `null` (or an absent
/// field) is no attributes; a `null` value inside is skipped and logged, because the OTel API
/// cannot remove an attribute.
pub(crate) fn attributes(v: Option<&Json>) -> Result<Vec<KeyValue>, String> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let map = match v {
        Json::Null => return Ok(Vec::new()),
        Json::Object(map) => map,
        _ => return Err("`attributes` must be an object".to_owned()),
    };
    let mut out = Vec::with_capacity(map.len());
    for (k, v) in map {
        match otel_value(v).map_err(|e| format!("attribute {k:?}: {e}"))? {
            Some(value) => out.push(KeyValue::new(k.clone(), value)),
            None => {
                log::warn!("attribute {k:?} is null: removing attributes is not supported, ignored")
            }
        }
    }
    Ok(out)
}

/// Which Datadog tag family a value goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagKind {
    /// `set_meta`: strings and booleans to meta, numbers keep their type.
    Meta,
    /// `set_metric`: numbers only, always as floats (metrics).
    Metric,
}

/// The Datadog tag(s) for `key = value`: a scalar is one attribute, a list is flattened to
/// `key.N` (nested lists to `key.N.M`), nulls inside a list are skipped. `Ok(None)` when the
/// value itself is `null` (a removal, which the OTel API cannot express).
pub(crate) fn flatten_tag(
    key: &str,
    value: &Json,
    kind: TagKind,
) -> Result<Option<Vec<KeyValue>>, String> {
    if value.is_null() {
        return Ok(None);
    }
    let mut out = Vec::new();
    flatten_into(key.to_owned(), value, kind, &mut out)?;
    Ok(Some(out))
}

/// Appends the attribute(s) of `key = value` to `out` (recursing into lists).
fn flatten_into(
    key: String,
    value: &Json,
    kind: TagKind,
    out: &mut Vec<KeyValue>,
) -> Result<(), String> {
    match (value, kind) {
        (Json::Null, _) => {}
        (Json::Array(items), _) => {
            for (i, item) in items.iter().enumerate() {
                flatten_into(format!("{key}.{i}"), item, kind, out)?;
            }
        }
        (Json::Number(n), TagKind::Metric) => {
            out.push(KeyValue::new(key, n.as_f64().unwrap_or(f64::NAN)));
        }
        (Json::Number(n), TagKind::Meta) => out.push(KeyValue::new(key, number(n))),
        (Json::String(s), TagKind::Meta) => out.push(KeyValue::new(key, s.clone())),
        (Json::Bool(b), TagKind::Meta) => out.push(KeyValue::new(key, *b)),
        (Json::Object(_), _) => return Err(format!("{key}: objects are not tag values")),
        (_, TagKind::Metric) => return Err(format!("{key}: metrics must be numbers")),
    }
    Ok(())
}

/// An OTel value as text (`get_baggage` answers, span names of numbers, …).
pub(crate) fn text(v: &Value) -> String {
    v.as_str().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_and_homogeneous_arrays() {
        let cases = [
            (json!("s"), Value::from("s")),
            (json!(true), Value::Bool(true)),
            (json!(-3), Value::I64(-3)),
            (json!(2.5), Value::F64(2.5)),
            (json!(u64::MAX), Value::F64(u64::MAX as f64)),
            (
                json!(["a", "b"]),
                Value::Array(Array::String(vec!["a".into(), "b".into()])),
            ),
            (json!([true]), Value::Array(Array::Bool(vec![true]))),
            (json!([1, 2]), Value::Array(Array::I64(vec![1, 2]))),
            (json!([1, 2.5]), Value::Array(Array::F64(vec![1.0, 2.5]))),
        ];
        for (input, want) in cases {
            assert_eq!(otel_value(&input).unwrap(), Some(want), "{input}");
        }
        assert_eq!(otel_value(&json!(null)).unwrap(), None);
        assert!(otel_value(&json!([1, "a"])).is_err());
        assert!(otel_value(&json!([[1]])).is_err());
        assert!(otel_value(&json!({"a": 1})).is_err());
    }

    #[test]
    fn attribute_objects() {
        let attrs = attributes(Some(&json!({"a": 1, "b": null, "c": "x"}))).unwrap();
        assert_eq!(attrs, vec![KeyValue::new("a", 1), KeyValue::new("c", "x")]);
        assert!(attributes(None).unwrap().is_empty());
        assert!(attributes(Some(&json!(null))).unwrap().is_empty());
        assert!(attributes(Some(&json!([1]))).is_err());
        assert!(attributes(Some(&json!({"bad": {"x": 1}}))).is_err());
    }

    #[test]
    fn tag_flattening() {
        let got = flatten_tag("k", &json!(["a", true, [1, null, "z"]]), TagKind::Meta)
            .unwrap()
            .unwrap();
        assert_eq!(
            got,
            vec![
                KeyValue::new("k.0", "a"),
                KeyValue::new("k.1", true),
                KeyValue::new("k.2.0", 1),
                KeyValue::new("k.2.2", "z"),
            ]
        );
        let got = flatten_tag("m", &json!([1, [2.5]]), TagKind::Metric)
            .unwrap()
            .unwrap();
        assert_eq!(
            got,
            vec![KeyValue::new("m.0", 1.0), KeyValue::new("m.1.0", 2.5)]
        );
        assert_eq!(flatten_tag("k", &json!(null), TagKind::Meta).unwrap(), None);
        assert!(flatten_tag("m", &json!("x"), TagKind::Metric).is_err());
        assert!(flatten_tag("k", &json!({"a": 1}), TagKind::Meta).is_err());
    }
}
