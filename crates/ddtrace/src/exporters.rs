//! The exporters the facade can install besides the agent transport.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ddtrace_model::{
    AttributeArray, AttributeValue, ChunkExporter, PendingChunk, Span, TraceChunk,
};
use parking_lot::Mutex;
use serde_json::{Map, Value, json};

/// Exports nothing (`OTEL_TRACES_EXPORTER=none`): spans are created and propagated, then
/// discarded; the discarded spans are counted.
#[derive(Debug, Default)]
pub struct DiscardExporter {
    spans: AtomicU64,
}

impl DiscardExporter {
    /// Spans discarded so far.
    pub fn discarded_spans(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }
}

impl ChunkExporter for DiscardExporter {
    fn export(&self, chunk: Box<dyn PendingChunk>) {
        self.spans
            .fetch_add(chunk.span_count() as u64, Ordering::Relaxed);
    }

    fn flush(&self, _timeout: Duration) -> ddtrace_model::Result<()> {
        Ok(())
    }

    fn shutdown(&self, _timeout: Duration) -> ddtrace_model::Result<()> {
        Ok(())
    }
}

/// Prints every finished Datadog span to stdout as one JSON object per line
/// (`OTEL_TRACES_EXPORTER=console`). The mapping and printing happen on the thread that ends
/// the trace's last span; meant for development, not for production load.
#[derive(Debug, Default)]
pub struct ConsoleExporter {
    _private: (),
}

impl ConsoleExporter {
    /// A console exporter.
    pub fn new() -> Self {
        ConsoleExporter::default()
    }
}

impl ChunkExporter for ConsoleExporter {
    fn export(&self, chunk: Box<dyn PendingChunk>) {
        let chunk = chunk.into_chunk();
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for (i, span) in chunk.spans.iter().enumerate() {
            let line = span_json(span, (i == 0).then_some(&chunk));
            // A closed stdout must not take the application down.
            let _ = writeln!(out, "{line}");
        }
    }

    fn flush(&self, _timeout: Duration) -> ddtrace_model::Result<()> {
        let _ = std::io::stdout().flush();
        Ok(())
    }

    fn shutdown(&self, timeout: Duration) -> ddtrace_model::Result<()> {
        self.flush(timeout)
    }
}

/// A Datadog span as JSON, with the chunk-level tags on the chunk's first span (as the agent
/// would see them).
pub fn span_json(span: &Span, chunk: Option<&TraceChunk>) -> Value {
    let mut meta: Map<String, Value> = span
        .meta
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(v.as_str())))
        .collect();
    let mut metrics: Map<String, Value> = span
        .metrics
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    if let Some(chunk) = chunk {
        for (k, v) in chunk.tags.iter() {
            meta.insert(k.to_string(), Value::from(v.as_str()));
        }
        if span.trace_id.high() != 0 {
            meta.insert(
                "_dd.p.tid".into(),
                format!("{:016x}", span.trace_id.high()).into(),
            );
        }
        if let Some(origin) = &chunk.origin {
            meta.insert("_dd.origin".into(), origin.as_str().into());
        }
        if let Some(p) = chunk.priority {
            metrics.insert("_sampling_priority_v1".into(), json!(f64::from(p.get())));
        }
    }
    let mut obj = json!({
        "trace_id": span.trace_id.to_string(),
        "span_id": span.span_id.get(),
        "parent_id": span.parent_id.map_or(0, |p| p.get()),
        "name": span.name.as_str(),
        "service": span.service.as_str(),
        "resource": span.resource.as_str(),
        "type": span.span_type.as_str(),
        "start": span.start,
        "duration": span.duration,
        "error": i32::from(span.error),
        "meta": meta,
        "metrics": metrics,
    });
    if !span.links.is_empty() {
        obj["span_links"] = span
            .links
            .iter()
            .map(|l| {
                json!({
                    "trace_id": l.trace_id.to_string(),
                    "span_id": l.span_id.to_string(),
                    "tracestate": l.tracestate.as_str(),
                    "flags": l.flags,
                    "attributes": l.attributes.iter().map(|(k, v)| (k.to_string(), Value::from(v.as_str()))).collect::<Map<_, _>>(),
                })
            })
            .collect();
    }
    if !span.events.is_empty() {
        obj["span_events"] = span
            .events
            .iter()
            .map(|e| {
                json!({
                    "name": e.name.as_str(),
                    "time_unix_nano": e.time_unix_nano,
                    "attributes": e.attributes.iter().map(|(k, v)| (k.to_string(), attribute_json(v))).collect::<Map<_, _>>(),
                })
            })
            .collect();
    }
    obj
}

fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::String(s) => s.as_str().into(),
        AttributeValue::Bool(b) => (*b).into(),
        AttributeValue::Int(i) => (*i).into(),
        AttributeValue::Double(d) => json!(d),
        AttributeValue::Array(AttributeArray::String(v)) => {
            v.iter().map(|s| Value::from(s.as_str())).collect()
        }
        AttributeValue::Array(AttributeArray::Bool(v)) => v.iter().copied().collect(),
        AttributeValue::Array(AttributeArray::Int(v)) => v.iter().copied().collect(),
        AttributeValue::Array(AttributeArray::Double(v)) => v.iter().map(|d| json!(d)).collect(),
    }
}

/// Sends every chunk to a primary exporter and gives a copy to an observer.
///
/// The chunk is mapped to Datadog spans on the calling thread (the observer needs the
/// result), which costs more than the plain agent path: use it to inspect what is sent
/// (the quickstart does), not in a hot service.
#[derive(Debug)]
pub(crate) struct Fanout {
    pub(crate) primary: Arc<dyn ChunkExporter>,
    pub(crate) observer: Arc<dyn ChunkExporter>,
}

impl ChunkExporter for Fanout {
    fn export(&self, chunk: Box<dyn PendingChunk>) {
        let chunk = chunk.into_chunk();
        self.observer.export(Box::new(chunk.clone()));
        self.primary.export(Box::new(chunk));
    }

    fn flush(&self, timeout: Duration) -> ddtrace_model::Result<()> {
        let observed = self.observer.flush(timeout);
        self.primary.flush(timeout).and(observed)
    }

    fn shutdown(&self, timeout: Duration) -> ddtrace_model::Result<()> {
        let observed = self.observer.shutdown(timeout);
        self.primary.shutdown(timeout).and(observed)
    }
}

/// Collects every exported chunk in memory (for tests and for inspecting what a program
/// produced).
///
/// ```
/// use ddtrace::CollectingExporter;
///
/// let collected = CollectingExporter::new();
/// assert!(collected.chunks().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CollectingExporter {
    chunks: Arc<Mutex<Vec<TraceChunk>>>,
}

impl CollectingExporter {
    /// An empty collector.
    pub fn new() -> Self {
        CollectingExporter::default()
    }

    /// The chunks collected so far.
    pub fn chunks(&self) -> Vec<TraceChunk> {
        self.chunks.lock().clone()
    }
}

impl ChunkExporter for CollectingExporter {
    fn export(&self, chunk: Box<dyn PendingChunk>) {
        self.chunks.lock().push(chunk.into_chunk());
    }

    fn flush(&self, _timeout: Duration) -> ddtrace_model::Result<()> {
        Ok(())
    }

    fn shutdown(&self, _timeout: Duration) -> ddtrace_model::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ddtrace_model::{SamplingPriority, SpanId, TraceId};

    #[test]
    fn console_json_carries_chunk_tags_on_the_first_span() {
        let mut span = Span::new(
            TraceId::from_parts(0x6650f1a2_00000000, 7),
            SpanId::new(1).unwrap(),
            "op",
        );
        span.set_meta("k", "v");
        let mut chunk = TraceChunk::new(vec![span.clone()]);
        chunk.priority = Some(SamplingPriority::USER_KEEP);
        chunk.tags.insert("_dd.p.dm", "-4".into());
        let v = span_json(&span, Some(&chunk));
        assert_eq!(v["meta"]["k"], "v");
        assert_eq!(v["meta"]["_dd.p.dm"], "-4");
        assert_eq!(v["meta"]["_dd.p.tid"], "6650f1a200000000");
        assert_eq!(v["metrics"]["_sampling_priority_v1"], 2.0);
        assert_eq!(v["trace_id"], "6650f1a2000000000000000000000007");
        let v = span_json(&span, None);
        assert!(v["meta"].get("_dd.p.dm").is_none());
    }

    #[test]
    fn discard_counts_what_it_drops() {
        let d = DiscardExporter::default();
        let span = Span::new(TraceId::from_u128(1), SpanId::new(1).unwrap(), "op");
        d.export(Box::new(TraceChunk::new(vec![span.clone(), span])));
        assert_eq!(d.discarded_spans(), 2);
    }
}
