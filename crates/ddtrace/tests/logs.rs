//! Log correlation: `ddtrace::logs`, with spans made by our provider.

use std::collections::HashMap;

use ddtrace::Config;
use ddtrace::logs::{Correlation, Settings, set_global_config};
use ddtrace::model::TraceChunk;
use ddtrace::otel::{InMemoryExporter, Tracer, TracerProvider};
use opentelemetry::Context;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};

use crate::GLOBALS;

fn provider(trace_id_128: bool) -> (TracerProvider, Tracer, InMemoryExporter) {
    let exporter = InMemoryExporter::new();
    let provider = TracerProvider::builder()
        .with_service("checkout")
        .with_trace_id_128(trace_id_128)
        .with_exporter(exporter.clone())
        .build()
        .unwrap();
    let tracer = provider.tracer("logs-test");
    (provider, tracer, exporter)
}

fn settings() -> Settings {
    Settings::default()
        .with_service("checkout")
        .with_env("prod")
        .with_version("1.4.2")
}

/// The one exported span's ids, as (u128 trace id, u64 span id).
fn exported_ids(chunks: &[TraceChunk]) -> (u128, u64) {
    assert_eq!(chunks.len(), 1, "one chunk");
    assert_eq!(chunks[0].spans.len(), 1, "one span");
    let span = &chunks[0].spans[0];
    (span.trace_id.as_u128(), span.span_id.get())
}

fn config_from(vars: &[(&str, &str)]) -> Config {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::builder_from_lookup(move |k| vars.get(k).cloned())
        .build()
        .unwrap()
}

#[test]
fn a_128_bit_trace_id_is_32_hex_digits_and_the_span_id_decimal() {
    let (_p, tracer, exporter) = provider(true);
    let c = tracer.in_span("pay", |cx| Correlation::from_context_with(&cx, &settings()));
    let c = c.expect("inside a span");
    let (trace_id, span_id) = exported_ids(&exporter.chunks());
    assert_ne!(trace_id >> 64, 0, "128-bit generation sets the high bits");
    assert_eq!(c.trace_id(), format!("{trace_id:032x}"));
    assert_eq!(c.trace_id().len(), 32);
    assert_eq!(c.span_id(), span_id.to_string());
    assert_eq!(
        c.to_string(),
        format!(
            "dd.trace_id={trace_id:032x} dd.span_id={span_id} dd.service=checkout dd.env=prod dd.version=1.4.2"
        )
    );
    let pairs: Vec<(&str, &str)> = c.iter().collect();
    assert_eq!(
        pairs[2..],
        [
            ("dd.service", "checkout"),
            ("dd.env", "prod"),
            ("dd.version", "1.4.2")
        ]
    );
}

#[test]
fn a_64_bit_trace_id_is_decimal() {
    let (_p, tracer, exporter) = provider(false);
    let c = tracer.in_span("pay", |cx| Correlation::from_context_with(&cx, &settings()));
    let c = c.expect("inside a span");
    let (trace_id, span_id) = exported_ids(&exporter.chunks());
    assert_eq!(trace_id >> 64, 0);
    assert_eq!(c.trace_id(), trace_id.to_string());
    assert_eq!(c.span_id(), span_id.to_string());
}

#[test]
fn with_128_bit_logging_off_the_trace_id_is_the_decimal_low_64_bits() {
    let (_p, tracer, exporter) = provider(true);
    let off = settings().with_trace_id_128bit_logging(false);
    let c = tracer.in_span("pay", |cx| Correlation::from_context_with(&cx, &off));
    let (trace_id, _) = exported_ids(&exporter.chunks());
    assert_ne!(trace_id >> 64, 0);
    assert_eq!(c.unwrap().trace_id(), (trace_id as u64).to_string());
}

#[test]
fn nothing_outside_a_span_or_with_injection_off() {
    let (_p, tracer, _exporter) = provider(true);
    assert_eq!(
        Correlation::from_context_with(&Context::new(), &settings()),
        None
    );
    assert_eq!(Correlation::current(), None);
    let off = settings().with_logs_injection(false);
    tracer.in_span("pay", |cx| {
        assert_eq!(Correlation::from_context_with(&cx, &off), None);
        assert!(Correlation::from_context_with(&cx, &settings()).is_some());
    });
}

#[test]
fn unset_service_env_version_are_left_out() {
    let (_p, tracer, _exporter) = provider(false);
    tracer.in_span("pay", |cx| {
        let c = Correlation::from_context_with(&cx, &Settings::default()).unwrap();
        let keys: Vec<&str> = c.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["dd.trace_id", "dd.span_id"]);
        assert!(!c.to_string().contains("dd.service"));
    });
}

#[test]
fn settings_from_a_config() {
    let config = config_from(&[
        ("DD_SERVICE", "billing"),
        ("DD_ENV", "staging"),
        ("DD_LOGS_INJECTION", "false"),
    ]);
    let s = Settings::from_config(&config);
    assert_eq!(s.service(), Some("billing"));
    assert_eq!(s.env(), Some("staging"));
    assert_eq!(s.version(), None);
    assert!(!s.logs_injection());
}

#[test]
fn the_current_context_and_the_global_config() {
    let _lock = GLOBALS.lock();
    set_global_config(&config_from(&[
        ("DD_SERVICE", "global-svc"),
        ("DD_ENV", "qa"),
        ("DD_VERSION", "9"),
    ]));
    let (_p, tracer, exporter) = provider(false);
    let c = tracer.in_span("pay", |_cx| Correlation::current()).unwrap();
    let (trace_id, span_id) = exported_ids(&exporter.chunks());
    assert_eq!(
        c.to_string(),
        format!(
            "dd.trace_id={trace_id} dd.span_id={span_id} dd.service=global-svc dd.env=qa dd.version=9"
        )
    );
    // A span context given directly.
    let root = tracer.start("root");
    let c = Correlation::from_span_context(root.span_context()).unwrap();
    assert_eq!(
        c.span_id(),
        u64::from_be_bytes(root.span_context().span_id().to_bytes()).to_string()
    );
    assert_eq!(c.service(), Some("global-svc"));
    assert_eq!(Correlation::current(), None);
}

#[cfg(feature = "log")]
mod log_crate {
    use std::sync::{Arc, Mutex};

    use ddtrace::logs::CorrelatedLogger;
    use log::kv::{Key, Value, VisitSource};
    use log::{Level, Log, Record};

    use super::*;

    /// What the wrapped logger received: message and key-values.
    type Seen = Vec<(String, Vec<(String, String)>)>;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Seen>>);

    impl Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &Record<'_>) {
            struct Collect(Vec<(String, String)>);
            impl<'kvs> VisitSource<'kvs> for Collect {
                fn visit_pair(
                    &mut self,
                    k: Key<'kvs>,
                    v: Value<'kvs>,
                ) -> Result<(), log::kv::Error> {
                    self.0.push((k.to_string(), v.to_string()));
                    Ok(())
                }
            }
            let mut kvs = Collect(Vec::new());
            record.key_values().visit(&mut kvs).unwrap();
            self.0
                .lock()
                .unwrap()
                .push((record.args().to_string(), kvs.0));
        }
        fn flush(&self) {}
    }

    fn emit(logger: &dyn Log) {
        let kvs = [("order", 7)];
        logger.log(
            &Record::builder()
                .args(format_args!("paid"))
                .level(Level::Info)
                .target("shop")
                .key_values(&kvs)
                .build(),
        );
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn records_in_a_span_get_the_fields_as_key_values() {
        let capture = Capture::default();
        let logger = CorrelatedLogger::new(capture.clone()).with_settings(settings());
        let (_p, tracer, exporter) = provider(true);
        tracer.in_span("pay", |_cx| emit(&logger));
        emit(&logger); // outside: unchanged
        let (trace_id, span_id) = exported_ids(&exporter.chunks());
        let seen = capture.0.lock().unwrap().clone();
        let hex = format!("{trace_id:032x}");
        let span = span_id.to_string();
        assert_eq!(
            seen,
            [
                (
                    "paid".to_owned(),
                    owned(&[
                        ("order", "7"),
                        ("dd.trace_id", &hex),
                        ("dd.span_id", &span),
                        ("dd.service", "checkout"),
                        ("dd.env", "prod"),
                        ("dd.version", "1.4.2"),
                    ])
                ),
                ("paid".to_owned(), owned(&[("order", "7")])),
            ]
        );
    }

    /// `log` records made inside an entered `tracing` span: tracing-opentelemetry makes the
    /// span's OpenTelemetry context current while it is entered.
    #[cfg(feature = "tracing")]
    #[test]
    fn records_in_a_tracing_span_get_its_ids() {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        use tracing_subscriber::layer::SubscriberExt as _;

        let capture = Capture::default();
        let logger = CorrelatedLogger::new(capture.clone()).with_settings(Settings::default());
        let (_p, tracer, exporter) = provider(true);
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        let otel_span_id = tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("pay");
            let id = span.context().span().span_context().span_id();
            span.in_scope(|| emit(&logger));
            id
        });
        let (trace_id, span_id) = exported_ids(&exporter.chunks());
        assert_eq!(u64::from_be_bytes(otel_span_id.to_bytes()), span_id);
        let seen = capture.0.lock().unwrap().clone();
        let hex = format!("{trace_id:032x}");
        let span = span_id.to_string();
        assert_eq!(
            seen,
            [(
                "paid".to_owned(),
                owned(&[("order", "7"), ("dd.trace_id", &hex), ("dd.span_id", &span)])
            )]
        );
    }

    #[test]
    fn message_fields_append_to_the_message() {
        let capture = Capture::default();
        let logger = CorrelatedLogger::new(capture.clone())
            .with_settings(Settings::default().with_service("checkout"))
            .with_message_fields(true);
        let (_p, tracer, exporter) = provider(false);
        tracer.in_span("pay", |_cx| emit(&logger));
        emit(&logger);
        let (trace_id, span_id) = exported_ids(&exporter.chunks());
        let seen = capture.0.lock().unwrap().clone();
        assert_eq!(
            seen[0].0,
            format!("paid dd.trace_id={trace_id} dd.span_id={span_id} dd.service=checkout")
        );
        assert_eq!(seen[0].1.len(), 4);
        assert_eq!(seen[1], ("paid".to_owned(), owned(&[("order", "7")])));
        assert!(logger.enabled(&log::Metadata::builder().level(Level::Trace).build()));
    }
}

#[cfg(feature = "tracing")]
mod tracing_subscriber_formats {
    use std::io;
    use std::sync::{Arc, Mutex};

    use ddtrace::logs::{DatadogFormat, JsonFormat};
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetryLayer;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::Registry;
    use tracing_subscriber::fmt::FormatEvent;
    use tracing_subscriber::fmt::format::DefaultFields;
    use tracing_subscriber::layer::{Layered, SubscriberExt as _};

    use super::*;

    /// A writer shared between the subscriber and the test.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn lines(&self) -> Vec<String> {
            let bytes = self.0.lock().unwrap().clone();
            String::from_utf8(bytes)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    /// Runs `f` under a subscriber with the OTel layer over `tracer` and `format`; returns the
    /// lines written and the ids of the OTel span of the `tracing` span `f` entered.
    fn run<F>(tracer: Tracer, format: F, f: impl FnOnce()) -> Vec<String>
    where
        F: FormatEvent<Layered<OpenTelemetryLayer<Registry, Tracer>, Registry>, DefaultFields>
            + Send
            + Sync
            + 'static,
    {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(move || writer.clone())
                    .event_format(format),
            );
        tracing::subscriber::with_default(subscriber, f);
        buffer.lines()
    }

    fn in_and_out_of_a_span() {
        let span = tracing::info_span!("pay");
        {
            let _entered = span.enter();
            tracing::info!(amount = 12, timestamp = 3, "paid");
        }
        drop(span);
        tracing::warn!("idle");
    }

    #[test]
    fn text_lines_start_with_the_fields_inside_a_span() {
        let (_p, tracer, exporter) = provider(true);
        let lines = run(
            tracer,
            DatadogFormat::default().with_settings(settings()),
            in_and_out_of_a_span,
        );
        let (trace_id, span_id) = exported_ids(&exporter.chunks());
        assert_ne!(trace_id >> 64, 0);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let prefix = format!(
            "dd.trace_id={trace_id:032x} dd.span_id={span_id} dd.service=checkout dd.env=prod dd.version=1.4.2 "
        );
        assert!(lines[0].starts_with(&prefix), "{} / {prefix}", lines[0]);
        assert!(lines[0].contains("paid"), "{}", lines[0]);
        assert!(!lines[1].contains("dd."), "{}", lines[1]);
        assert!(lines[1].contains("idle"), "{}", lines[1]);
    }

    #[test]
    fn text_lines_use_the_current_otel_context_without_a_tracing_span() {
        let (_p, tracer, exporter) = provider(false);
        let otel = tracer.clone();
        let format = DatadogFormat::new(tracing_subscriber::fmt::format().compact())
            .with_settings(Settings::default());
        let lines = run(tracer, format, move || {
            otel.in_span("manual", |_cx| tracing::info!("inside"));
        });
        let (trace_id, span_id) = exported_ids(&exporter.chunks());
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(&format!("dd.trace_id={trace_id} dd.span_id={span_id} ")),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn json_lines_carry_the_fields_at_the_top_level() {
        let (_p, tracer, exporter) = provider(true);
        let otel_ids = Arc::new(Mutex::new(None));
        let ids = Arc::clone(&otel_ids);
        let lines = run(
            tracer,
            JsonFormat::new().with_settings(settings()),
            move || {
                let span = tracing::info_span!("pay");
                let sc = span.context().span().span_context().clone();
                *ids.lock().unwrap() = Some((sc.trace_id(), sc.span_id()));
                span.in_scope(|| tracing::info!(amount = 12, ok = true, timestamp = 3, "paid"));
                drop(span);
                tracing::warn!(target: "shop", "idle");
            },
        );
        let (trace_id, span_id) = exported_ids(&exporter.chunks());
        let (otel_trace, otel_span) = otel_ids.lock().unwrap().unwrap();
        assert_eq!(u128::from_be_bytes(otel_trace.to_bytes()), trace_id);
        assert_eq!(u64::from_be_bytes(otel_span.to_bytes()), span_id);
        assert_eq!(lines.len(), 2, "{lines:?}");

        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        let obj = first.as_object().unwrap();
        assert_eq!(obj["level"], "INFO");
        assert_eq!(obj["target"], module_path!());
        assert_eq!(obj["message"], "paid");
        assert_eq!(obj["amount"], 12);
        assert_eq!(obj["ok"], true);
        assert_eq!(obj["fields.timestamp"], 3);
        assert!(obj["timestamp"].as_str().unwrap().ends_with('Z'), "{first}");
        assert_eq!(obj["dd.trace_id"], format!("{trace_id:032x}"));
        assert_eq!(obj["dd.span_id"], span_id.to_string());
        assert_eq!(obj["dd.service"], "checkout");
        assert_eq!(obj["dd.env"], "prod");
        assert_eq!(obj["dd.version"], "1.4.2");
        assert_eq!(obj.len(), 12, "{first}");

        let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        let keys: Vec<&str> = second
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, ["level", "message", "target", "timestamp"]);
        assert_eq!(second["target"], "shop");
        assert_eq!(second["level"], "WARN");
    }

    #[test]
    fn json_with_64_bit_ids_writes_decimal_strings() {
        let (_p, tracer, exporter) = provider(false);
        let lines = run(
            tracer,
            JsonFormat::new().with_settings(Settings::default()),
            in_and_out_of_a_span,
        );
        let (trace_id, span_id) = exported_ids(&exporter.chunks());
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["dd.trace_id"], trace_id.to_string());
        assert_eq!(first["dd.span_id"], span_id.to_string());
        assert!(first.get("dd.service").is_none());
        let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert!(second.get("dd.trace_id").is_none());
    }
}
