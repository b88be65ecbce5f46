//! Shared helpers: the error type, the project root, running commands, `cargo metadata`, dates.

use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Everything an xtask can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A command ran and failed.
    #[error("`{command}` failed ({status})")]
    Command { command: String, status: String },
    /// A command could not be started, or a file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Bad arguments, or a file whose content does not have the expected shape.
    #[error("{0}")]
    Invalid(String),
    /// The test agent could not be installed.
    #[error(transparent)]
    TestAgent(#[from] ddtrace_testkit::Error),
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// The workspace root (the directory above `xtask/`).
pub(crate) fn project_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), PathBuf::from)
}

/// `cargo` (the one running us, if known), started in the project root.
pub(crate) fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(project_root());
    cmd
}

/// A command line as the user would type it.
pub(crate) fn display(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    if let Some(first) = parts.first_mut() {
        // `/home/u/.rustup/.../bin/cargo` reads better as `cargo`.
        if let Some(name) = std::path::Path::new(first.as_str()).file_name() {
            *first = name.to_string_lossy().into_owned();
        }
    }
    parts.join(" ")
}

/// Runs `cmd` with inherited stdio; an error if it does not exit 0.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .map_err(|e| Error::io(format!("starting `{}`", display(cmd)), e))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Command {
            command: display(cmd),
            status: status.to_string(),
        })
    }
}

/// `cargo metadata --no-deps` as JSON (workspace members only).
pub(crate) fn metadata() -> Result<serde_json::Value> {
    let mut cmd = cargo();
    cmd.args(["metadata", "--format-version", "1", "--no-deps"]);
    let output = cmd
        .output()
        .map_err(|e| Error::io(format!("starting `{}`", display(&cmd)), e))?;
    if !output.status.success() {
        return Err(Error::Command {
            command: display(&cmd),
            status: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| Error::Invalid(format!("cargo metadata output: {e}")))
}

/// Today's date in UTC, `YYYY-MM-DD`.
pub(crate) fn today_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's days-to-civil method).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in small ranges (see the comments above), so the conversions cannot fail.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_675), (2023, 11, 14));
        assert_eq!(civil_from_days(20_416), (2025, 11, 24));
    }

    #[test]
    fn today_is_well_formed() {
        let today = today_utc();
        assert_eq!(today.len(), 10, "{today}");
        assert!(today.starts_with("20"), "{today}");
    }

    #[test]
    fn display_shortens_the_program() {
        let mut cmd = Command::new("/usr/local/bin/cargo");
        cmd.args(["fmt", "--all"]);
        assert_eq!(display(&cmd), "cargo fmt --all");
    }
}
