//! A stderr logger for the `log` records of the server and the library.

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Writes each record as one line on stderr.
#[derive(Debug)]
struct StderrLogger;

/// The one logger instance.
static LOGGER: StderrLogger = StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    #[allow(
        clippy::print_stderr,
        reason = "a logger of a server binary writes to stderr"
    )]
    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("[{} {}] {}", record.level(), record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

/// The level asked for by `DD_TRACE_DEBUG` (debug), else `DD_LOG_LEVEL` / `OTEL_LOG_LEVEL`,
/// else warnings.
pub(crate) fn level_from(lookup: impl Fn(&str) -> Option<String>) -> LevelFilter {
    let debug = lookup("DD_TRACE_DEBUG")
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"));
    if debug {
        return LevelFilter::Debug;
    }
    let named = lookup("DD_LOG_LEVEL")
        .or_else(|| lookup("OTEL_LOG_LEVEL"))
        .and_then(|v| match v.trim().to_ascii_lowercase().as_str() {
            "off" => Some(LevelFilter::Off),
            "warning" => Some(LevelFilter::Warn),
            other => other.parse::<Level>().ok().map(|l| l.to_level_filter()),
        });
    named.unwrap_or(LevelFilter::Warn)
}

/// Installs the logger at the level the environment asks for.
pub(crate) fn init() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level_from(|k| std::env::var(k).ok()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(level_from(env(&[])), LevelFilter::Warn);
        assert_eq!(
            level_from(env(&[
                ("DD_TRACE_DEBUG", "TRUE"),
                ("DD_LOG_LEVEL", "error")
            ])),
            LevelFilter::Debug
        );
        assert_eq!(
            level_from(env(&[
                ("DD_TRACE_DEBUG", "false"),
                ("DD_LOG_LEVEL", "Info")
            ])),
            LevelFilter::Info
        );
        assert_eq!(
            level_from(env(&[("OTEL_LOG_LEVEL", "off")])),
            LevelFilter::Off
        );
        assert_eq!(
            level_from(env(&[("DD_LOG_LEVEL", "loud")])),
            LevelFilter::Warn
        );
    }
}
