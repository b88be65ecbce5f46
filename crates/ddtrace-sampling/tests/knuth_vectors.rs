//! `sampling/knuth.jsonl`: 222 trace ids × 6 rates × {rule, agent rate}, recorded from the
//! Python tracer. Every record agrees with the spec formula (vectors README), so all 2,664
//! are asserted as they are: priority, `_dd.p.dm`, `_dd.p.ksr`, and the root's sampling
//! metrics. `_dd.p.tid` (also in the records' meta) is the encoder's business.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ddtrace_model::{Span, SpanId, TraceChunk, TraceId, tags};
use ddtrace_sampling::{ManualClock, RootSpanInfo, Sampler, knuth_hash};

use crate::support::{agent_rates, config_from_record_env, load_jsonl};

#[test]
fn all_knuth_vectors() {
    let records = load_jsonl("knuth.jsonl");
    assert_eq!(records.len(), 2664);
    // One sampler per (mechanism, rate), as one tracer process served each in the generator.
    let mut samplers: HashMap<String, Sampler> = HashMap::new();
    for (line, r) in records.iter().enumerate() {
        let what = format!("knuth.jsonl line {}", line + 1);
        let trace_id = TraceId::from_hex(r["trace_id"].as_str().unwrap()).unwrap();
        let low = r["trace_id_low"].as_u64().unwrap();
        assert_eq!(trace_id.low(), low, "{what}");
        // The generator computed the hash from the published formula.
        assert_eq!(knuth_hash(low), r["knuth_hash"].as_u64().unwrap(), "{what}");

        let key = format!("{}/{}", r["mechanism"].as_str().unwrap(), r["rate"]);
        let sampler = samplers.entry(key).or_insert_with(|| {
            let sampler = Sampler::with_clock(
                &config_from_record_env(&r["env"]),
                Arc::new(ManualClock::new()),
            );
            if let Some(rates) = agent_rates(r) {
                sampler.update_agent_rates(rates);
            }
            sampler
        });

        let decision =
            sampler.sample_root(&RootSpanInfo::new(trace_id, "vectors-svc", "knuth.root"));
        let mut root = Span::new(trace_id, SpanId::new(1).unwrap(), "knuth.root");
        decision.apply_to_root(&mut root);
        let mut chunk = TraceChunk::new(vec![root]);
        decision.apply_to_chunk(&mut chunk);

        assert_eq!(
            f64::from(decision.priority.get()),
            r["priority"].as_f64().unwrap(),
            "{what}"
        );
        assert_eq!(decision.is_keep(), r["decision"] == "keep", "{what}");
        let mut meta: BTreeMap<String, String> = chunk
            .tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if trace_id.high() != 0 {
            meta.insert(
                tags::TRACE_ID_HIGH.into(),
                format!("{:016x}", trace_id.high()),
            );
        }
        let expected_meta: BTreeMap<String, String> = r["meta"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(meta, expected_meta, "{what}");
        let metrics: BTreeMap<String, f64> = chunk.spans[0]
            .metrics
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let expected_metrics: BTreeMap<String, f64> = r["metrics"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
            .collect();
        assert_eq!(metrics, expected_metrics, "{what}");
    }
    assert_eq!(samplers.len(), 12);
}
