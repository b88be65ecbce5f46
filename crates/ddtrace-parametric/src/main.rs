//! The system-tests "parametric" test server for ddtrace.
//!
//! Datadog checks every tracer with one shared suite that drives a small HTTP/JSON server per
//! tracer ("start a span", "inject headers", "flush") and inspects what the test agent
//! received. This binary is ours: it configures the tracer from the environment the suite sets
//! (`DD_*`, `OTEL_*`), installs it as the global OpenTelemetry tracer provider and propagator,
//! and serves the protocol on `APM_TEST_CLIENT_SERVER_PORT` (default 8080; `0` picks a free
//! port). The first stdout line says where it listens. SIGTERM (or SIGINT) ends open spans,
//! flushes and exits. See `docs/conformance.md` for the endpoints.

#![forbid(unsafe_code)]

mod app;
mod http;
mod install;
mod json;
mod logger;

use std::io::{BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::app::{App, error_body};
use crate::http::ReadError;

/// The port when `APM_TEST_CLIENT_SERVER_PORT` is unset.
const DEFAULT_PORT: u16 = 8080;
/// How long shutdown may take (the harness stops the container after 5 s).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(4);

/// Installs the tracer, serves until SIGTERM, then flushes and stops.
fn main() -> ExitCode {
    logger::init();
    let port = match std::env::var("APM_TEST_CLIENT_SERVER_PORT") {
        Err(_) => DEFAULT_PORT,
        Ok(v) if v.trim().is_empty() => DEFAULT_PORT,
        Ok(v) => match v.trim().parse::<u16>() {
            Ok(p) => p,
            Err(_) => {
                log::error!("APM_TEST_CLIENT_SERVER_PORT={v:?} is not a port");
                return ExitCode::from(2);
            }
        },
    };
    let tracing = match install::install_tracing() {
        Ok(t) => t,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let app = Arc::new(App::new(tracing));
    let listener = match TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)) {
        Ok(l) => l,
        Err(e) => {
            log::error!("cannot listen on port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map_or(port, |a| a.port());
    announce(port);

    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = watch_signals(Arc::clone(&stop), port) {
        log::error!("cannot watch SIGTERM: {e}");
        return ExitCode::FAILURE;
    }
    for conn in listener.incoming() {
        if stop.load(Ordering::Acquire) {
            break;
        }
        match conn {
            Ok(stream) => {
                let app = Arc::clone(&app);
                let spawned = std::thread::Builder::new()
                    .name("parametric-conn".to_owned())
                    .spawn(move || serve(&app, &stream));
                if let Err(e) = spawned {
                    log::warn!("cannot start a connection thread: {e}");
                }
            }
            Err(e) => log::warn!("accept failed: {e}"),
        }
    }
    log::info!("stopping: flushing the tracer");
    match app.shutdown(SHUTDOWN_TIMEOUT) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("shutdown: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Tells whoever started the server where it listens (one stdout line).
#[allow(
    clippy::print_stdout,
    reason = "the server's one line of output, read by test harnesses"
)]
fn announce(port: u16) {
    println!("ddtrace-parametric listening on 0.0.0.0:{port}");
    let _ = std::io::stdout().flush();
}

/// On SIGTERM or SIGINT, sets `stop` and wakes the accept loop with a connection of its own.
fn watch_signals(stop: Arc<AtomicBool>, port: u16) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new()
        .name("parametric-signals".to_owned())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                log::info!("signal {signal} received");
                stop.store(true, Ordering::Release);
                let wake = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                if let Err(e) = TcpStream::connect_timeout(&wake, Duration::from_secs(1)) {
                    log::warn!("cannot wake the accept loop: {e}");
                }
            }
        })?;
    Ok(())
}

/// Reads one request from `stream`, answers it, and closes the connection.
fn serve(app: &App, stream: &TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(stream);
    let mut writer = stream;
    let (status, body) = match http::read_request(&mut reader, &mut writer) {
        Ok(req) => {
            log::debug!("{} {}", req.method, req.path);
            catch_unwind(AssertUnwindSafe(|| app.handle(&req)))
                .unwrap_or_else(|_| (500, error_body("the handler panicked")))
        }
        Err(ReadError::Io(e)) => {
            log::debug!("connection dropped: {e}");
            return;
        }
        Err(ReadError::Malformed(why)) => (400, error_body(why)),
        Err(ReadError::TooLarge) => (413, error_body("request too large")),
    };
    if let Err(e) = http::write_response(&mut writer, status, &body) {
        log::debug!("cannot answer: {e}");
    }
}
