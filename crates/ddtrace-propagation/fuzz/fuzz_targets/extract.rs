//! Fuzz target: extraction from arbitrary headers, then re-injection of whatever came out.
//!
//! Input layout: records separated by `\n`; in each record the first byte picks a header name
//! (from the names the propagator reads, in varying case) and the rest is the value (lossy
//! UTF-8). The first input byte also picks the configuration.
#![no_main]

use std::collections::HashMap;

use ddtrace_propagation::{ExtractBehavior, PropagationConfig, Propagator, Style};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 16] = [
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "x-datadog-origin",
    "x-datadog-tags",
    "traceparent",
    "tracestate",
    "TraceState",
    "TRACEPARENT",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
    "baggage",
    "X-Datadog-Tags",
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut headers: HashMap<String, String> = HashMap::new();
    for record in rest.split(|&b| b == b'\n') {
        let Some((&which, value)) = record.split_first() else {
            continue;
        };
        let name = NAMES[usize::from(which) % NAMES.len()];
        headers.insert(name.to_owned(), String::from_utf8_lossy(value).into_owned());
    }
    let styles: &[Style] = match mode % 4 {
        0 => &[Style::Datadog, Style::TraceContext, Style::Baggage],
        1 => &[
            Style::TraceContext,
            Style::Datadog,
            Style::B3,
            Style::B3Multi,
            Style::Baggage,
        ],
        2 => &[Style::B3, Style::B3Multi],
        _ => &[Style::Baggage, Style::TraceContext],
    };
    let behavior = match (mode >> 2) % 3 {
        0 => ExtractBehavior::Continue,
        1 => ExtractBehavior::Restart,
        _ => ExtractBehavior::Ignore,
    };
    let config = PropagationConfig::default()
        .with_styles(styles.iter().copied())
        .with_extract_behavior(behavior)
        .with_extract_first(mode & 0x40 != 0)
        .with_x_datadog_tags_max_length(if mode & 0x80 != 0 { 40 } else { 512 });
    let propagator = Propagator::new(config);
    let extracted = propagator.extract(&headers);
    let mut out: HashMap<String, String> = HashMap::new();
    let forwarded = extracted
        .context
        .as_ref()
        .and_then(|c| c.to_inject_context());
    let mut tags_dropped = false;
    match forwarded {
        Some(ctx) => {
            let status = propagator.inject(&ctx.with_baggage(Some(&extracted.baggage)), &mut out);
            tags_dropped = status.propagation_error.is_some();
        }
        None => propagator.inject_baggage(&extracted.baggage, &mut out),
    }
    for (name, value) in &out {
        assert!(
            value.bytes().all(|b| (0x20..=0x7e).contains(&b)),
            "non-printable value injected in {name}: {value:?}"
        );
    }
    // A forwarded context must extract again with the same trace id. When x-datadog-tags was
    // over the limit it is not sent at all (propagation.md §2.3), `_dd.p.tid` included, so only
    // the low 64 bits are certain to survive in the Datadog headers.
    if let Some(ctx) = forwarded {
        let again = propagator.extract(&out).context.map(|c| c.trace_id);
        if tags_dropped {
            assert_eq!(again.map(|t| t.low()), Some(ctx.trace_id.low()), "{out:?}");
        } else {
            assert_eq!(
                again,
                Some(ctx.trace_id),
                "re-injected context did not extract: {out:?}"
            );
        }
    }
});
