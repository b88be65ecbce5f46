//! Property tests: whatever the API is given, mapping never panics and a key lives in one map.

use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Array, Context, KeyValue, Value};
use proptest::prelude::*;

use crate::common::provider;

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("operation.name".to_owned()),
        Just("resource.name".to_owned()),
        Just("service.name".to_owned()),
        Just("span.type".to_owned()),
        Just("analytics.event".to_owned()),
        Just("http.response.status_code".to_owned()),
        Just("http.request.method".to_owned()),
        Just("db.system".to_owned()),
        Just("messaging.system".to_owned()),
        Just("messaging.operation".to_owned()),
        Just("rpc.system".to_owned()),
        Just("manual.keep".to_owned()),
        Just("manual.drop".to_owned()),
        Just("sampling.priority".to_owned()),
        Just("error".to_owned()),
        Just("k".to_owned()),
        Just("k.0".to_owned()),
        ".{0,12}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        any::<f64>().prop_map(Value::F64),
        ".{0,16}".prop_map(Value::from),
        proptest::collection::vec(any::<i64>(), 0..4).prop_map(|v| Value::Array(Array::I64(v))),
        proptest::collection::vec(any::<bool>(), 0..4).prop_map(|v| Value::Array(Array::Bool(v))),
        proptest::collection::vec(any::<f64>(), 0..4).prop_map(|v| Value::Array(Array::F64(v))),
        proptest::collection::vec(".{0,6}", 0..4)
            .prop_map(|v| Value::Array(Array::String(v.into_iter().map(Into::into).collect()))),
    ]
}

fn kind() -> impl Strategy<Value = SpanKind> {
    prop_oneof![
        Just(SpanKind::Server),
        Just(SpanKind::Client),
        Just(SpanKind::Producer),
        Just(SpanKind::Consumer),
        Just(SpanKind::Internal),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_attributes_map_without_panic(
        kind in kind(),
        start in proptest::collection::vec((key(), value()), 0..8),
        later in proptest::collection::vec((key(), value()), 0..8),
        event in proptest::collection::vec((key(), value()), 0..4),
        error in proptest::option::of(".{0,8}"),
    ) {
        let (provider, exporter) = provider();
        let tracer = provider.tracer("p");
        let root = tracer
            .span_builder("root")
            .with_kind(kind)
            .with_attributes(start.into_iter().map(|(k, v)| KeyValue::new(k, v)))
            .start(&tracer);
        let cx = Context::new().with_span(root);
        let mut child = tracer.start_with_context("child", &cx);
        for (k, v) in later {
            child.set_attribute(KeyValue::new(k, v));
        }
        child.add_event("exception", event.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect());
        if let Some(e) = error {
            child.set_status(Status::error(e));
        }
        child.end();
        cx.span().end();
        drop(cx);
        let chunks = exporter.take_chunks();
        prop_assert_eq!(chunks.iter().map(|c| c.spans.len()).sum::<usize>(), 2);
        for span in chunks.iter().flat_map(|c| &c.spans) {
            prop_assert!(!span.name.is_empty());
            prop_assert!(!span.resource.is_empty());
            for k in span.meta.keys() {
                prop_assert!(!span.metrics.contains_key(k), "{} in both maps", k);
            }
        }
    }
}
