//! Agent-rate updates racing with decisions on other threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ddtrace_model::TraceId;
use ddtrace_sampling::{RootSpanInfo, Sampler, SamplingConfig};

#[test]
fn every_decision_sees_one_whole_table() {
    // Two tables alternate: A = {svc: 1, default: 1}, B = {svc: 0, default: 0}. A decision
    // that mixed them would report a rate that disagrees with its priority.
    let sampler = Arc::new(Sampler::new(&SamplingConfig::default()));
    sampler.update_agent_rates([("service:svc,env:prod", 1.0), ("service:,env:", 1.0)]);
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (sampler, stop) = (Arc::clone(&sampler), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut seen = [0_u32; 2];
                let mut i = 0_u64;
                while !stop.load(Ordering::Relaxed) || i < 1000 {
                    i += 1;
                    let root = RootSpanInfo::new(TraceId::from_u128(i.into()), "svc", "op")
                        .with_env("prod");
                    let d = sampler.sample_root(&root);
                    assert_eq!(d.decision_maker, "-1");
                    let rate = d.agent_rate.expect("agent rate");
                    assert_eq!(d.is_keep(), rate == 1.0, "priority and rate from one table");
                    seen[usize::from(d.is_keep())] += 1;
                }
                seen
            })
        })
        .collect();
    for round in 0..2000 {
        let r = if round % 2 == 0 { 0.0 } else { 1.0 };
        sampler.update_agent_rates([("service:svc,env:prod", r), ("service:,env:", r)]);
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        let seen = reader.join().expect("reader thread");
        assert!(seen[0] + seen[1] >= 1000);
    }
}
