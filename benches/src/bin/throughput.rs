//! End-to-end throughput: what tracing costs a service, ddtrace against the OpenTelemetry SDK
//! in the same run.
//!
//! `throughput [--runs N] [--spans N] [--large-burst N]` starts a [`SinkAgent`] (a loopback
//! agent that checks every payload as the decoder does and counts its spans), then runs each
//! configuration — tracer (ddtrace, or the OpenTelemetry SDK with a batch processor and a
//! counting no-op exporter) × workload (a 10-span trace with 8 attributes per span, or one
//! span without attributes) × producing threads (1, 2) — `N` times, each run in a child
//! process of its own (this program started again with `child …`), so that peak RSS and
//! process CPU belong to one configuration.
//! It prints a Markdown report on stdout and its progress on stderr.
//!
//! A run creates a burst of spans as fast as the producing threads can (default 200,000 spans
//! in all, split between the threads), then shuts the tracer down, which waits for delivery.
//! Measured in the child:
//!
//! * app-thread CPU: the CPU time of the producing threads (`CLOCK_THREAD_CPUTIME_ID`, read at
//!   the start and end of each thread's loop), summed, per span created;
//! * process CPU: `CLOCK_PROCESS_CPUTIME_ID` from the start of the burst until the shutdown
//!   returned, so it includes ddtrace's worker (mapping, encoding, sending) and the SDK's
//!   batch thread; per span delivered for ddtrace, per span created for the SDK (whose no-op
//!   exporter delivers nothing);
//! * peak RSS: `VmHWM` from `/proc/self/status` at the end;
//! * spans: ddtrace's own counters (sent, dropped with a reason) and what the sink counted;
//!   for the SDK, what reached its exporter.
//!
//! ddtrace is installed with `ddtrace::install` (agent URL of the sink through
//! `Config::builder_from_lookup`, nothing else from the environment) and spans are created
//! through the installed provider's tracer (`guard.provider()`); the SDK's through its
//! `SdkTracerProvider`'s tracer. Both are the concrete tracers, with no `global` boxing.

#![forbid(unsafe_code)]
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark program: the report is its output"
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ddtrace_benches::service_trace_10x8;
use ddtrace_testkit::sink::SinkAgent;
use opentelemetry::trace::{Span as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};

const USAGE: &str = "\
usage: throughput [--runs N] [--spans N] [--large-burst N] [--only TRACER|WORKLOAD|THREADS]
       throughput child <ddtrace|otel_sdk> <trace10x8|span1> <threads> <spans> <agent-url>

  --runs N         runs per configuration; the report shows medians (default 5)
  --spans N        spans per run, all threads together (default 200000)
  --large-burst N  one more ddtrace and SDK run of N spans on one thread, to show what is
                   dropped when a burst is larger than the queues (default 2000000; 0: none)
  --only X         run only the configurations with this tracer (ddtrace, otel_sdk), workload
                   (trace10x8, span1) or thread count (1, 2); repeat to narrow (for profiling)
";

/// Wait at most this long for a shutdown to deliver everything.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tracer {
    Ddtrace,
    OtelSdk,
}

impl Tracer {
    fn arg(self) -> &'static str {
        match self {
            Tracer::Ddtrace => "ddtrace",
            Tracer::OtelSdk => "otel_sdk",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tracer::Ddtrace => "ddtrace → sink agent",
            Tracer::OtelSdk => "SDK + batch + no-op (reference)",
        }
    }

    fn parse(s: &str) -> Option<Tracer> {
        [Tracer::Ddtrace, Tracer::OtelSdk]
            .into_iter()
            .find(|t| t.arg() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Workload {
    /// A root and 9 children, 8 attributes of mixed types on each.
    Trace10x8,
    /// One span, no attributes: the per-span floor.
    Span1,
}

impl Workload {
    fn arg(self) -> &'static str {
        match self {
            Workload::Trace10x8 => "trace10x8",
            Workload::Span1 => "span1",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Workload::Trace10x8 => "10-span trace, 8 attrs",
            Workload::Span1 => "1 span, no attrs",
        }
    }

    fn spans_per_trace(self) -> u64 {
        match self {
            Workload::Trace10x8 => 10,
            Workload::Span1 => 1,
        }
    }

    fn parse(s: &str) -> Option<Workload> {
        [Workload::Trace10x8, Workload::Span1]
            .into_iter()
            .find(|w| w.arg() == s)
    }
}

/// One configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Setup {
    workload: Workload,
    threads: u64,
    tracer: Tracer,
    spans: u64,
}

impl Setup {
    /// Traces per producing thread.
    fn traces_per_thread(&self) -> u64 {
        self.spans / self.workload.spans_per_trace() / self.threads.max(1)
    }

    /// Spans actually created (the total rounded down to whole traces per thread).
    fn spans_created(&self) -> u64 {
        self.traces_per_thread() * self.threads * self.workload.spans_per_trace()
    }
}

/// What one child run reports.
#[derive(Debug, Clone, Copy, Default)]
struct Measured {
    created: u64,
    app_cpu_ns: u64,
    app_wall_ns: u64,
    process_cpu_ns: u64,
    total_wall_ns: u64,
    peak_rss_kib: u64,
    /// ddtrace: spans the transport had accepted by the agent; SDK: spans its exporter got.
    delivered_by_tracer: u64,
    /// ddtrace: spans dropped, all reasons, as counted by the transport (and the bridge).
    dropped_counted: u64,
}

const FIELDS: [&str; 8] = [
    "created",
    "app_cpu_ns",
    "app_wall_ns",
    "process_cpu_ns",
    "total_wall_ns",
    "peak_rss_kib",
    "delivered_by_tracer",
    "dropped_counted",
];

impl Measured {
    fn values(&self) -> [u64; 8] {
        [
            self.created,
            self.app_cpu_ns,
            self.app_wall_ns,
            self.process_cpu_ns,
            self.total_wall_ns,
            self.peak_rss_kib,
            self.delivered_by_tracer,
            self.dropped_counted,
        ]
    }

    fn to_line(self) -> String {
        let mut line = String::from("result");
        for (k, v) in FIELDS.iter().zip(self.values()) {
            let _ = write!(line, " {k}={v}");
        }
        line
    }

    fn from_line(line: &str) -> Option<Measured> {
        let rest = line.strip_prefix("result ")?;
        let map: BTreeMap<&str, u64> = rest
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
            .collect();
        let get = |k: &str| map.get(k).copied();
        Some(Measured {
            created: get("created")?,
            app_cpu_ns: get("app_cpu_ns")?,
            app_wall_ns: get("app_wall_ns")?,
            process_cpu_ns: get("process_cpu_ns")?,
            total_wall_ns: get("total_wall_ns")?,
            peak_rss_kib: get("peak_rss_kib")?,
            delivered_by_tracer: get("delivered_by_tracer")?,
            dropped_counted: get("dropped_counted")?,
        })
    }
}

/// One run as the parent sees it: the child's report plus what the sink counted.
#[derive(Debug, Clone, Copy)]
struct Sample {
    measured: Measured,
    /// ddtrace: spans the sink counted during the run; SDK: what its exporter got.
    delivered: u64,
}

impl Sample {
    /// ddtrace: how far the transport's count of spans sent and the sink's count of spans
    /// received disagree (they must not); the reference has one count only.
    fn sent_vs_counted(&self) -> u64 {
        self.measured.delivered_by_tracer.abs_diff(self.delivered)
    }

    /// Spans neither delivered nor counted as dropped.
    fn lost_silently(&self) -> u64 {
        self.measured
            .created
            .saturating_sub(self.delivered + self.measured.dropped_counted)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("child") {
        child_main(&args[1..])
    } else {
        parent_main(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("throughput: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Child: one configuration, one run.

fn child_main(args: &[String]) -> Result<(), String> {
    let [tracer, workload, threads, spans, agent] = args else {
        return Err(format!("bad child arguments {args:?}\n{USAGE}"));
    };
    let setup = Setup {
        tracer: Tracer::parse(tracer).ok_or_else(|| format!("unknown tracer {tracer}"))?,
        workload: Workload::parse(workload)
            .ok_or_else(|| format!("unknown workload {workload}"))?,
        threads: threads
            .parse()
            .map_err(|_| format!("bad threads {threads}"))?,
        spans: spans.parse().map_err(|_| format!("bad spans {spans}"))?,
    };
    let measured = match setup.tracer {
        Tracer::Ddtrace => run_ddtrace(&setup, agent)?,
        Tracer::OtelSdk => run_sdk(&setup)?,
    };
    println!("{}", measured.to_line());
    Ok(())
}

fn run_ddtrace(setup: &Setup, agent: &str) -> Result<Measured, String> {
    let agent = agent.to_owned();
    let config = ddtrace::Config::builder_from_lookup(move |key| match key {
        "DD_TRACE_AGENT_URL" => Some(agent.clone()),
        "DD_SERVICE" => Some("throughput".to_owned()),
        _ => None,
    })
    .build()
    .map_err(|e| format!("config: {e}"))?;
    let guard = ddtrace::install(config).map_err(|e| format!("install: {e}"))?;
    // Let the worker read /info first: discovery is a one-time cost, not a per-span one.
    let deadline = Instant::now() + Duration::from_secs(5);
    while guard.agent_info().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let provider = guard
        .provider()
        .cloned()
        .ok_or("ddtrace installed no provider")?;
    let tracer = provider.tracer("throughput");
    let burst = run_burst(&tracer, setup);
    drop(tracer);
    drop(provider);
    let report = guard
        .shutdown(SHUTDOWN_TIMEOUT)
        .map_err(|e| format!("shutdown: {e}"))?;
    let process_cpu_ns = process_cpu_ns().saturating_sub(burst.process_cpu_start_ns);
    let total_wall_ns = nanos(burst.started.elapsed());
    let transport = report.transport.ok_or("no transport counters")?;
    Ok(Measured {
        created: setup.spans_created(),
        app_cpu_ns: burst.app_cpu_ns,
        app_wall_ns: burst.app_wall_ns,
        process_cpu_ns,
        total_wall_ns,
        peak_rss_kib: peak_rss_kib(),
        delivered_by_tracer: transport.spans_sent,
        dropped_counted: transport.spans_dropped() + report.spans_dropped_after_shutdown,
    })
}

/// The SDK's exporter for the reference: counts what it is given and drops it.
#[derive(Debug, Default, Clone)]
struct CountingNoopExporter(Arc<AtomicU64>);

impl SpanExporter for CountingNoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        drop(batch);
        Ok(())
    }
}

fn run_sdk(setup: &Setup) -> Result<Measured, String> {
    let exporter = CountingNoopExporter::default();
    let exported = Arc::clone(&exporter.0);
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    let tracer = provider.tracer("throughput");
    let burst = run_burst(&tracer, setup);
    drop(tracer);
    provider
        .shutdown_with_timeout(SHUTDOWN_TIMEOUT)
        .map_err(|e| format!("SDK shutdown: {e}"))?;
    let process_cpu_ns = process_cpu_ns().saturating_sub(burst.process_cpu_start_ns);
    let total_wall_ns = nanos(burst.started.elapsed());
    Ok(Measured {
        created: setup.spans_created(),
        app_cpu_ns: burst.app_cpu_ns,
        app_wall_ns: burst.app_wall_ns,
        process_cpu_ns,
        total_wall_ns,
        peak_rss_kib: peak_rss_kib(),
        delivered_by_tracer: exported.load(Ordering::Relaxed),
        // The SDK's batch processor does not report what it drops.
        dropped_counted: 0,
    })
}

struct Burst {
    started: Instant,
    process_cpu_start_ns: u64,
    app_cpu_ns: u64,
    app_wall_ns: u64,
}

/// Runs the workload on `setup.threads` threads released together; returns when all are done.
fn run_burst<T>(tracer: &T, setup: &Setup) -> Burst
where
    T: opentelemetry::trace::Tracer + Clone + Send + 'static,
    T::Span: Send + Sync + 'static,
{
    let threads = usize::try_from(setup.threads).unwrap_or(1);
    let barrier = Arc::new(Barrier::new(threads + 1));
    let traces = setup.traces_per_thread();
    let workload = setup.workload;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let tracer = tracer.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let start = thread_cpu_ns();
                for i in 0..traces {
                    match workload {
                        Workload::Trace10x8 => service_trace_10x8(&tracer, i),
                        Workload::Span1 => tracer.start("op").end(),
                    }
                }
                thread_cpu_ns().saturating_sub(start)
            })
        })
        .collect();
    let process_cpu_start_ns = process_cpu_ns();
    let started = Instant::now();
    barrier.wait();
    let app_cpu_ns = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    Burst {
        started,
        process_cpu_start_ns,
        app_cpu_ns,
        app_wall_ns: nanos(started.elapsed()),
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn clock_ns(clock: rustix::time::ClockId) -> u64 {
    let t = rustix::time::clock_gettime(clock);
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

fn thread_cpu_ns() -> u64 {
    clock_ns(rustix::time::ClockId::ThreadCPUTime)
}

fn process_cpu_ns() -> u64 {
    clock_ns(rustix::time::ClockId::ProcessCPUTime)
}

/// `VmHWM` (peak resident set) in KiB; 0 if `/proc` does not say.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Parent: the sink, the children, the report.

struct Options {
    runs: usize,
    spans: u64,
    large_burst: u64,
    only: Vec<String>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            runs: 5,
            spans: 200_000,
            large_burst: 2_000_000,
            only: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .and_then(|v| v.replace('_', "").parse::<u64>().ok())
                    .ok_or_else(|| format!("{flag} needs a number\n{USAGE}"))
            };
            match flag.as_str() {
                "--runs" => options.runs = usize::try_from(value()?.max(1)).unwrap_or(1),
                "--spans" => options.spans = value()?.max(20),
                "--large-burst" => options.large_burst = value()?,
                "--only" => options
                    .only
                    .push(it.next().cloned().ok_or("--only needs a value")?),
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other}\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

impl Options {
    /// Whether every `--only` value names this configuration's tracer, workload or threads.
    fn selects(&self, setup: &Setup) -> bool {
        self.only.iter().all(|o| {
            *o == setup.tracer.arg()
                || *o == setup.workload.arg()
                || *o == setup.threads.to_string()
        })
    }
}

fn parent_main(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let load_before = load_average();
    let sink = SinkAgent::start().map_err(|e| format!("starting the sink agent: {e}"))?;
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let parent_cpu_start = process_cpu_ns();
    let mut setups = Vec::new();
    for workload in [Workload::Trace10x8, Workload::Span1] {
        for threads in [1, 2] {
            for tracer in [Tracer::Ddtrace, Tracer::OtelSdk] {
                let setup = Setup {
                    workload,
                    threads,
                    tracer,
                    spans: options.spans,
                };
                if options.selects(&setup) {
                    setups.push(setup);
                }
            }
        }
    }
    // Runs interleave the configurations, so that a noisy moment hits all of them alike, and
    // every other round goes through them backwards: a run measured about 4% faster when it
    // came second of two alternating binaries (paired A/B, either order), so neither tracer
    // always runs after the other.
    let mut samples: BTreeMap<Setup, Vec<Sample>> = BTreeMap::new();
    for run in 0..options.runs {
        for setup in round_order(&setups, run) {
            let sample = run_child(&exe, &sink, setup)?;
            eprintln!(
                "throughput: run {}/{} {} {} thread(s) {}: {}",
                run + 1,
                options.runs,
                setup.workload.arg(),
                setup.threads,
                setup.tracer.arg(),
                sample.measured.to_line()
            );
            samples.entry(*setup).or_default().push(sample);
        }
    }
    let mut large = Vec::new();
    if options.large_burst > 0 {
        for tracer in [Tracer::Ddtrace, Tracer::OtelSdk] {
            let setup = Setup {
                workload: Workload::Trace10x8,
                threads: 1,
                tracer,
                spans: options.large_burst,
            };
            if !options.selects(&setup) {
                continue;
            }
            let sample = run_child(&exe, &sink, &setup)?;
            eprintln!(
                "throughput: large burst {}: {}",
                tracer.arg(),
                sample.measured.to_line()
            );
            large.push((setup, sample));
        }
    }
    let sink_stats = sink.stats();
    let report = Report {
        options: &options,
        samples: &samples,
        large: &large,
        load_before,
        load_after: load_average(),
        sink_decode_errors: sink_stats.decode_errors,
        sink_spans: sink_stats.spans,
        sink_cpu_ns: process_cpu_ns().saturating_sub(parent_cpu_start),
    };
    print!("{}", report.markdown());
    Ok(())
}

fn run_child(exe: &std::path::Path, sink: &SinkAgent, setup: &Setup) -> Result<Sample, String> {
    let before = sink.spans_received();
    let output = Command::new(exe)
        .args([
            "child",
            setup.tracer.arg(),
            setup.workload.arg(),
            &setup.threads.to_string(),
            &setup.spans.to_string(),
            &sink.url(),
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("starting {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "child {setup:?} failed ({}): {stdout}",
            output.status
        ));
    }
    let measured = stdout
        .lines()
        .find_map(Measured::from_line)
        .ok_or_else(|| format!("child {setup:?} printed no result: {stdout}"))?;
    let delivered = match setup.tracer {
        Tracer::Ddtrace => {
            // The sink counts before it answers, so this returns at once unless the
            // transport counted as sent what the sink never counted.
            sink.wait_for_spans(
                before + measured.delivered_by_tracer,
                Duration::from_secs(2),
            );
            sink.spans_received() - before
        }
        Tracer::OtelSdk => measured.delivered_by_tracer,
    };
    Ok(Sample {
        measured,
        delivered,
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The median of `values` (the mean of the two middle ones for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Per-configuration medians.
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    app_ns_per_span: f64,
    process_ns_per_span: f64,
    app_spans_per_sec: f64,
    total_spans_per_sec: f64,
    peak_rss_mib: f64,
    created: u64,
    sent_min: u64,
    sent_max: u64,
    delivered_min: u64,
    delivered_max: u64,
    dropped_counted_max: u64,
    lost_silently_max: u64,
    runs: usize,
}

fn summarize(setup: &Setup, samples: &[Sample]) -> Summary {
    let per = |f: &dyn Fn(&Sample) -> f64| median(samples.iter().map(f).collect());
    Summary {
        app_ns_per_span: per(&|s| s.measured.app_cpu_ns as f64 / s.measured.created as f64),
        // ddtrace per span delivered; the reference per span created (it delivers nothing).
        process_ns_per_span: per(&|s| {
            let spans = match setup.tracer {
                Tracer::Ddtrace => s.delivered,
                Tracer::OtelSdk => s.measured.created,
            };
            s.measured.process_cpu_ns as f64 / spans.max(1) as f64
        }),
        app_spans_per_sec: per(&|s| {
            s.measured.created as f64 / (s.measured.app_wall_ns.max(1) as f64 / 1e9)
        }),
        total_spans_per_sec: per(&|s| {
            s.delivered as f64 / (s.measured.total_wall_ns.max(1) as f64 / 1e9)
        }),
        peak_rss_mib: per(&|s| s.measured.peak_rss_kib as f64 / 1024.0),
        created: samples.first().map_or(0, |s| s.measured.created),
        sent_min: samples
            .iter()
            .map(|s| s.measured.delivered_by_tracer)
            .min()
            .unwrap_or(0),
        sent_max: samples
            .iter()
            .map(|s| s.measured.delivered_by_tracer)
            .max()
            .unwrap_or(0),
        delivered_min: samples.iter().map(|s| s.delivered).min().unwrap_or(0),
        delivered_max: samples.iter().map(|s| s.delivered).max().unwrap_or(0),
        dropped_counted_max: samples
            .iter()
            .map(|s| s.measured.dropped_counted)
            .max()
            .unwrap_or(0),
        lost_silently_max: samples.iter().map(Sample::lost_silently).max().unwrap_or(0),
        runs: samples.len(),
    }
}

struct Report<'a> {
    options: &'a Options,
    samples: &'a BTreeMap<Setup, Vec<Sample>>,
    large: &'a [(Setup, Sample)],
    load_before: String,
    load_after: String,
    sink_decode_errors: u64,
    sink_spans: u64,
    /// CPU of the parent process (the sink agent, and waiting for children) over the runs.
    sink_cpu_ns: u64,
}

/// `1234567` → `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn range(min: u64, max: u64) -> String {
    if min == max {
        grouped(min)
    } else {
        format!("{}–{}", grouped(min), grouped(max))
    }
}

/// The configurations in the order of round `run`: as listed in even rounds, backwards in
/// odd ones.
fn round_order(setups: &[Setup], run: usize) -> Vec<&Setup> {
    if run % 2 == 0 {
        setups.iter().collect()
    } else {
        setups.iter().rev().collect()
    }
}

/// The share of the background work (`background` ns per span) that must wait until a burst
/// has ended when the application threads use `app` ns of a `budget` ns per span: 0 when it
/// all fits, 1 when none of it does.
fn deferred_share(budget: f64, app: f64, background: f64) -> f64 {
    if background <= 0.0 {
        return 0.0;
    }
    ((app + background - budget) / background).clamp(0.0, 1.0)
}

/// The CPU per span left to the worker (mapping, encoding, sending) when the application
/// threads use `app` ns and the sink agent `sink` ns of a `budget` ns per span: never below
/// zero.
fn worker_allowance(budget: f64, app: f64, sink: f64) -> f64 {
    (budget - app - sink).max(0.0)
}

fn yes_no(ok: bool) -> &'static str {
    if ok { "**met**" } else { "**missed**" }
}

impl Report<'_> {
    fn summary(&self, workload: Workload, threads: u64, tracer: Tracer) -> Option<Summary> {
        let (setup, samples) = self
            .samples
            .iter()
            .find(|(s, _)| s.workload == workload && s.threads == threads && s.tracer == tracer)?;
        Some(summarize(setup, samples))
    }

    fn markdown(&self) -> String {
        let mut md = String::new();
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        let _ = writeln!(
            md,
            "Machine: {cores} cores, {}; load average {} before, {} after. \
             Medians of {} runs per configuration, each run a burst of {} spans (all \
             producing threads together) in a child process of its own; the sink agent \
             runs in the parent process and used {:.0} ns of CPU per span it checked and counted.\n",
            cpu_model(),
            self.load_before,
            self.load_after,
            self.options.runs,
            grouped(self.options.spans),
            self.sink_cpu_ns as f64 / self.sink_spans.max(1) as f64,
        );
        md.push_str(
            "| Workload | Threads | Tracer | App-thread CPU ns/span | Process CPU ns/span | \
             App spans/s | End-to-end spans/s | Peak RSS MiB | Spans created | Sent | Delivered | \
             Dropped (counted) | Lost silently |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for (setup, samples) in self.samples {
            let s = summarize(setup, samples);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.0} | {:.0} | {:.2} M | {:.2} M | {:.1} | {} | {} | {} | {} | {} |",
                setup.workload.label(),
                setup.threads,
                setup.tracer.label(),
                s.app_ns_per_span,
                s.process_ns_per_span,
                s.app_spans_per_sec / 1e6,
                s.total_spans_per_sec / 1e6,
                s.peak_rss_mib,
                grouped(s.created),
                if setup.tracer == Tracer::Ddtrace {
                    range(s.sent_min, s.sent_max)
                } else {
                    "not reported".to_owned()
                },
                range(s.delivered_min, s.delivered_max),
                if setup.tracer == Tracer::Ddtrace {
                    grouped(s.dropped_counted_max)
                } else {
                    "not reported".to_owned()
                },
                grouped(s.lost_silently_max),
            );
        }
        md.push_str(
            "\nSent: spans the transport counted as accepted by the agent (min–max over the \
             runs). Delivered: for ddtrace, spans the sink agent counted (min–max over the runs); \
             for the reference, spans that reached its no-op exporter. Dropped and lost: the worst \
             run. Process CPU covers the burst until shutdown has delivered everything \
             (ddtrace: per span delivered, including mapping, encoding and sending on the \
             worker; reference: per span created). App spans/s: spans created per second of \
             wall time while the producing threads ran; end-to-end: spans delivered per second \
             until shutdown returned.\n\n",
        );

        md.push_str(
            "| Workload | Threads | App-thread CPU, ddtrace / reference | Process CPU, ddtrace / reference |\n\
             |---|---|---|---|\n",
        );
        for workload in [Workload::Trace10x8, Workload::Span1] {
            for threads in [1, 2] {
                let (Some(ours), Some(reference)) = (
                    self.summary(workload, threads, Tracer::Ddtrace),
                    self.summary(workload, threads, Tracer::OtelSdk),
                ) else {
                    continue;
                };
                let _ = writeln!(
                    md,
                    "| {} | {threads} | {:.2}× | {:.2}× |",
                    workload.label(),
                    ours.app_ns_per_span / reference.app_ns_per_span,
                    ours.process_ns_per_span / reference.process_ns_per_span,
                );
            }
        }

        if !self.large.is_empty() {
            md.push_str(
                "\nA larger burst, one run, one thread, 10-span traces:\n\n\
                 | Tracer | Spans created | Sent | Delivered | Dropped (counted) | Lost silently | Peak RSS MiB |\n\
                 |---|---|---|---|---|---|---|\n",
            );
            for (setup, sample) in self.large {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {:.1} |",
                    setup.tracer.label(),
                    grouped(sample.measured.created),
                    if setup.tracer == Tracer::Ddtrace {
                        grouped(sample.measured.delivered_by_tracer)
                    } else {
                        "not reported".to_owned()
                    },
                    grouped(sample.delivered),
                    if setup.tracer == Tracer::Ddtrace {
                        grouped(sample.measured.dropped_counted)
                    } else {
                        "not reported".to_owned()
                    },
                    grouped(sample.lost_silently()),
                    sample.measured.peak_rss_kib as f64 / 1024.0,
                );
            }
        }

        md.push_str(&self.goals());
        let disagreeing = self
            .samples
            .iter()
            .filter(|(setup, _)| setup.tracer == Tracer::Ddtrace)
            .flat_map(|(_, samples)| samples.iter())
            .chain(
                self.large
                    .iter()
                    .filter(|(setup, _)| setup.tracer == Tracer::Ddtrace)
                    .map(|(_, sample)| sample),
            )
            .filter(|sample| sample.sent_vs_counted() > 0)
            .count();
        if disagreeing > 0 {
            let _ = writeln!(
                md,
                "\n**In {disagreeing} run{} the spans the transport counted as sent and the \
                 spans the sink agent counted differ.**",
                if disagreeing == 1 { "" } else { "s" }
            );
        }
        if self.sink_decode_errors > 0 {
            let _ = writeln!(
                md,
                "\n**The sink agent could not decode {} payloads.**",
                self.sink_decode_errors
            );
        }
        md
    }

    fn goals(&self) -> String {
        let mut md = String::from("\n| Goal (issue 9) | Measured | |\n|---|---|---|\n");
        let t = Workload::Trace10x8;
        if let (Some(ours), Some(reference)) = (
            self.summary(t, 1, Tracer::Ddtrace),
            self.summary(t, 1, Tracer::OtelSdk),
        ) {
            let app = ours.app_ns_per_span / reference.app_ns_per_span;
            let cpu = ours.process_ns_per_span / reference.process_ns_per_span;
            let _ = writeln!(
                md,
                "| App-thread CPU per span ≤ 0.5× the reference (10-span trace, 1 thread) | \
                 {app:.2}× ({:.0} vs {:.0} ns) | {} |",
                ours.app_ns_per_span,
                reference.app_ns_per_span,
                yes_no(app <= 0.5)
            );
            let _ = writeln!(
                md,
                "| Process CPU per delivered span ≤ 1.0× the reference (10-span trace, 1 thread) | \
                 {cpu:.2}× ({:.0} vs {:.0} ns) | {} |",
                ours.process_ns_per_span,
                reference.process_ns_per_span,
                yes_no(cpu <= 1.0)
            );
        }
        if let (Some(one), Some(two)) = (
            self.summary(t, 1, Tracer::Ddtrace),
            self.summary(t, 2, Tracer::Ddtrace),
        ) {
            let app = two.app_spans_per_sec / one.app_spans_per_sec;
            let total = two.total_spans_per_sec / one.total_spans_per_sec;
            let _ = writeln!(
                md,
                "| 2 threads ≥ 1.6× the spans/s of 1 thread (ddtrace, 10-span trace) | \
                 {app:.2}× while producing, {total:.2}× end to end | {} |",
                yes_no(app >= 1.6)
            );
        }
        for threads in [1, 2] {
            if let Some(s) = self.summary(t, threads, Tracer::Ddtrace) {
                let whole = s.delivered_min == s.created && s.lost_silently_max == 0;
                let _ = writeln!(
                    md,
                    "| {}-span burst on {threads} thread(s) delivered whole, peak RSS < 64 MiB | \
                     {} of {} delivered in the worst of {} runs, {:.1} MiB | {} |",
                    grouped(s.created),
                    grouped(s.delivered_min),
                    grouped(s.created),
                    s.runs,
                    s.peak_rss_mib,
                    yes_no(whole && s.peak_rss_mib < 64.0)
                );
            }
        }
        if let Some((_, sample)) = self.large.iter().find(|(s, _)| s.tracer == Tracer::Ddtrace) {
            let _ = writeln!(
                md,
                "| A larger burst: every dropped span counted | {} created, {} delivered, {} \
                 counted as dropped, {} lost silently | {} |",
                grouped(sample.measured.created),
                grouped(sample.delivered),
                grouped(sample.measured.dropped_counted),
                grouped(sample.lost_silently()),
                yes_no(sample.lost_silently() == 0)
            );
        }
        if let (Some(one), Some(two)) = (
            self.summary(t, 1, Tracer::Ddtrace),
            self.summary(t, 2, Tracer::Ddtrace),
        ) {
            md.push_str(&self.scaling_budget(&one, &two));
        }
        md
    }

    /// The CPU that the scaling goal leaves per span on this machine, against what the
    /// measured parts of the work cost: the arithmetic behind that row of the goals table.
    fn scaling_budget(&self, one: &Summary, two: &Summary) -> String {
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        let target = 1.6 * one.app_spans_per_sec;
        let budget = cores * 1e9 / target;
        // The worker's part (mapping, encoding, sending): process CPU beyond the
        // application threads', with one producing thread.
        let worker = (one.process_ns_per_span - one.app_ns_per_span).max(0.0);
        let sink = self.sink_cpu_ns as f64 / self.sink_spans.max(1) as f64;
        let needed = two.app_ns_per_span + worker + sink;
        let allowance = worker_allowance(budget, two.app_ns_per_span, sink);
        format!(
            "\nWhat the scaling goal asks of this machine: 1.6× the 1-thread rate is {:.2} M \
             spans/s, and {cores:.0} cores give {budget:.0} ns of CPU per span at that rate. \
             Producing with 2 threads takes {:.0} ns per span on the application threads, the \
             worker's mapping, encoding and sending {worker:.0} ns (process CPU beyond the \
             application thread's, 1 thread), and the sink agent, which shares the machine, \
             {sink:.0} ns: {needed:.0} ns in all. Unless that is within the budget, meeting the \
             goal means leaving {:.0}% of the worker's and the sink's work until the burst has \
             ended, with the spans waiting in memory meanwhile. {}\n",
            target / 1e6,
            two.app_ns_per_span,
            deferred_share(budget, two.app_ns_per_span, worker + sink) * 100.0,
            if allowance > 0.0 {
                format!(
                    "Done while the burst runs, the worker's part would have to fit in the \
                     {allowance:.0} ns per span that the application threads and the sink \
                     leave of the budget, {:.1}× less than it takes.",
                    worker / allowance
                )
            } else {
                format!(
                    "The application threads and the sink alone take {:.0} ns of the {budget:.0}: \
                     while the burst runs, nothing is left for the worker.",
                    two.app_ns_per_span + sink
                )
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn results_round_trip_through_the_child_line() {
        let m = Measured {
            created: 10,
            app_cpu_ns: 1,
            app_wall_ns: 2,
            process_cpu_ns: 3,
            total_wall_ns: 4,
            peak_rss_kib: 5,
            delivered_by_tracer: 6,
            dropped_counted: 7,
        };
        let back = Measured::from_line(&m.to_line()).unwrap();
        assert_eq!(back.values(), m.values());
        assert!(Measured::from_line("result created=1").is_none());
    }

    #[test]
    fn every_other_round_runs_the_configurations_backwards() {
        let setups: Vec<Setup> = [Tracer::Ddtrace, Tracer::OtelSdk]
            .into_iter()
            .map(|tracer| Setup {
                workload: Workload::Trace10x8,
                threads: 1,
                tracer,
                spans: 10,
            })
            .collect();
        let tracers =
            |run| -> Vec<Tracer> { round_order(&setups, run).iter().map(|s| s.tracer).collect() };
        assert_eq!(tracers(0), [Tracer::Ddtrace, Tracer::OtelSdk]);
        assert_eq!(tracers(1), [Tracer::OtelSdk, Tracer::Ddtrace]);
        assert_eq!(tracers(2), tracers(0));
    }

    #[test]
    fn the_deferred_share_is_what_does_not_fit_the_budget() {
        assert_eq!(deferred_share(400.0, 300.0, 100.0), 0.0);
        assert_eq!(deferred_share(400.0, 300.0, 200.0), 0.5);
        assert_eq!(
            deferred_share(385.0, 344.0, 341.0),
            (344.0 + 341.0 - 385.0) / 341.0
        );
        assert_eq!(deferred_share(300.0, 344.0, 341.0), 1.0);
        assert_eq!(deferred_share(300.0, 100.0, 0.0), 0.0);
    }

    #[test]
    fn the_worker_is_allowed_what_the_application_and_the_sink_leave() {
        assert_eq!(worker_allowance(441.0, 338.0, 75.0), 28.0);
        assert_eq!(worker_allowance(300.0, 338.0, 75.0), 0.0);
    }

    /// The budget paragraph names the worker's allowance when there is one, and says that
    /// nothing is left when the application threads and the sink take it all.
    #[test]
    fn the_scaling_paragraph_states_what_is_left_for_the_worker() {
        let options = Options::parse(&[]).unwrap();
        let samples = BTreeMap::new();
        let report = Report {
            options: &options,
            samples: &samples,
            large: &[],
            load_before: String::new(),
            load_after: String::new(),
            sink_decode_errors: 0,
            sink_spans: 1_000,
            sink_cpu_ns: 50_000,
        };
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        // 1.6 × 1 M spans/s on `cores` cores: a budget of 625 ns per core.
        let one = Summary {
            app_spans_per_sec: 1e6,
            app_ns_per_span: 200.0,
            process_ns_per_span: 500.0,
            ..Summary::default()
        };
        let budget = cores * 625.0;
        let two = |app: f64| Summary {
            app_ns_per_span: app,
            ..one
        };
        let roomy = report.scaling_budget(&one, &two(budget - 150.0));
        assert!(
            roomy.contains("fit in the 100 ns per span") && roomy.contains("3.0× less"),
            "{roomy}"
        );
        let full = report.scaling_budget(&one, &two(budget));
        assert!(full.contains("nothing is left for the worker"), "{full}");
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(200_000), "200,000");
        assert_eq!(grouped(2_000_000), "2,000,000");
        assert_eq!(range(5, 5), "5");
        assert_eq!(range(4, 5), "4–5");
    }

    #[test]
    fn spans_are_split_between_threads_in_whole_traces() {
        let setup = Setup {
            workload: Workload::Trace10x8,
            threads: 2,
            tracer: Tracer::Ddtrace,
            spans: 200_005,
        };
        assert_eq!(setup.traces_per_thread(), 10_000);
        assert_eq!(setup.spans_created(), 200_000);
    }

    #[test]
    fn silent_loss_is_what_is_neither_delivered_nor_counted() {
        let sample = Sample {
            measured: Measured {
                created: 100,
                dropped_counted: 10,
                ..Measured::default()
            },
            delivered: 85,
        };
        assert_eq!(sample.lost_silently(), 5);
    }

    #[test]
    fn the_report_flags_runs_whose_sent_and_counted_spans_differ() {
        let options = Options::parse(&[]).unwrap();
        let setup = Setup {
            workload: Workload::Span1,
            threads: 1,
            tracer: Tracer::Ddtrace,
            spans: 100,
        };
        let run = |sent: u64, counted: u64| Sample {
            measured: Measured {
                created: 100,
                delivered_by_tracer: sent,
                ..Measured::default()
            },
            delivered: counted,
        };
        let report = |samples: Vec<Sample>| {
            Report {
                options: &options,
                samples: &BTreeMap::from([(setup, samples)]),
                large: &[],
                load_before: String::new(),
                load_after: String::new(),
                sink_decode_errors: 0,
                sink_spans: 100,
                sink_cpu_ns: 0,
            }
            .markdown()
        };
        let equal = report(vec![run(100, 100), run(100, 100)]);
        assert!(!equal.contains("differ"), "{equal}");
        assert!(equal.contains("| 100 | 100 | 100 | 0 | 0 |"), "{equal}");
        let differing = report(vec![run(100, 100), run(100, 97)]);
        assert!(differing.contains("In 1 run the spans the transport counted as sent"));
        assert!(
            differing.contains("| 100 | 100 | 97–100 | 0 | 3 |"),
            "{differing}"
        );
    }
}
