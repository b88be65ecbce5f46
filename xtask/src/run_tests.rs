//! `cargo xtask test`: everything CI checks, in the order that fails fastest.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{Error, Result, cargo, display};

/// Passed/failed counts gathered from test runners' summary lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
    }
}

pub(crate) fn run() -> Result<()> {
    let started = Instant::now();
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    // CI builds once: incremental caches only cost time and disk there.
    let no_incremental = ci && std::env::var_os("CARGO_INCREMENTAL").is_none();
    let cargo = || {
        let mut cmd = cargo();
        if no_incremental {
            cmd.env("CARGO_INCREMENTAL", "0");
        }
        cmd
    };
    let mut timings: Vec<(String, Duration)> = Vec::new();
    let mut tally = Tally::default();

    step(&mut timings, "install the Datadog test agent", || {
        let exe = ddtrace_testkit::ensure_test_agent()?;
        println!("test agent: {}", exe.display());
        Ok(())
    })?;

    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    step_cmd(&mut timings, &mut fmt)?;

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    step_cmd(&mut timings, &mut clippy)?;

    if nextest_available() {
        let mut nextest = cargo();
        nextest.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
        tally.add(step_tests(&mut timings, &mut nextest)?);
        let mut doc_tests = cargo();
        doc_tests.args(["test", "--doc", "--workspace"]);
        tally.add(step_tests(&mut timings, &mut doc_tests)?);
    } else {
        println!("(cargo-nextest not installed: using cargo test)");
        let mut test = cargo();
        test.args(["test", "--workspace", "--no-fail-fast"]);
        tally.add(step_tests(&mut timings, &mut test)?);
    }

    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings");
    step_cmd(&mut timings, &mut doc)?;

    println!();
    println!("xtask test: all steps passed in {:.1?}", started.elapsed());
    for (name, took) in &timings {
        println!("  {took:>8.1?}  {name}");
    }
    // The last line is a plain summary that CI log readers understand.
    println!("xtask: {} passed, {} failed", tally.passed, tally.failed);
    Ok(())
}

fn banner(name: &str) {
    println!();
    println!("==> {name}");
    // Keep our banner ahead of the child's output in a combined log.
    let _ = std::io::stdout().flush();
}

fn step(
    timings: &mut Vec<(String, Duration)>,
    name: &str,
    f: impl FnOnce() -> Result<()>,
) -> Result<()> {
    banner(name);
    let start = Instant::now();
    let result = f();
    let took = start.elapsed();
    println!(
        "<== {name}: {} in {took:.1?}",
        if result.is_ok() { "ok" } else { "FAILED" }
    );
    timings.push((name.to_owned(), took));
    result
}

fn step_cmd(timings: &mut Vec<(String, Duration)>, cmd: &mut Command) -> Result<()> {
    let name = display(cmd);
    step(timings, &name, || crate::util::run(cmd))
}

/// Runs a test command, echoing its output while counting passed/failed tests.
fn step_tests(timings: &mut Vec<(String, Duration)>, cmd: &mut Command) -> Result<Tally> {
    let name = display(cmd);
    let mut tally = Tally::default();
    step(timings, &name, || {
        tally = run_counting(cmd)?;
        Ok(())
    })?;
    Ok(tally)
}

fn run_counting(cmd: &mut Command) -> Result<Tally> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(format!("starting `{}`", display(cmd)), e))?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(echo_and_count(out, false, Arc::clone(&tally)));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(echo_and_count(err, true, Arc::clone(&tally)));
    }
    let status = child
        .wait()
        .map_err(|e| Error::io(format!("waiting for `{}`", display(cmd)), e))?;
    for reader in readers {
        let _ = reader.join();
    }
    let tally = *tally
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if status.success() {
        Ok(tally)
    } else {
        Err(Error::Command {
            command: display(cmd),
            status: format!("{status}; {} passed, {} failed", tally.passed, tally.failed),
        })
    }
}

fn echo_and_count(
    stream: impl Read + Send + 'static,
    to_stderr: bool,
    tally: Arc<Mutex<Tally>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if to_stderr {
                let _ = std::io::stderr().write_all(&line);
            } else {
                let _ = std::io::stdout().write_all(&line);
            }
            let text = String::from_utf8_lossy(&line);
            if let Some(found) = parse_summary(&text) {
                tally
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .add(found);
            }
        }
    })
}

/// Counts from one runner summary line:
/// libtest's `test result: ok. 10 passed; 0 failed; 0 ignored; …` or nextest's
/// `Summary [   1.9s] 14 tests run: 13 passed, 1 failed, 0 skipped`.
pub(crate) fn parse_summary(line: &str) -> Option<Tally> {
    let line = line.trim();
    let counts = if let Some(rest) = line.strip_prefix("test result: ") {
        rest
    } else if line.starts_with("Summary [") {
        let (_, rest) = line.split_once(" run: ")?;
        rest
    } else {
        return None;
    };
    let mut tally = Tally::default();
    let mut seen = false;
    for part in counts.split([';', ',']) {
        // nextest may annotate counts: `24 passed (2 slow, 1 flaky)`.
        let part = part.split('(').next().unwrap_or(part);
        let mut words = part.split_whitespace().rev();
        let (Some(label), Some(number)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(n) = number.parse::<u64>() else {
            continue;
        };
        match label {
            "passed" => {
                tally.passed += n;
                seen = true;
            }
            "failed" => {
                tally.failed += n;
                seen = true;
            }
            _ => {}
        }
    }
    seen.then_some(tally)
}

fn nextest_available() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_summary_lines() {
        assert_eq!(
            parse_summary(
                "test result: ok. 10 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s"
            ),
            Some(Tally {
                passed: 10,
                failed: 0
            })
        );
        assert_eq!(
            parse_summary(
                "test result: FAILED. 1 passed; 13 failed; 0 ignored; 0 measured; 0 filtered out; finished in 12.35s\n"
            ),
            Some(Tally {
                passed: 1,
                failed: 13
            })
        );
    }

    #[test]
    fn nextest_summary_lines() {
        assert_eq!(
            parse_summary("     Summary [   1.920s] 24 tests run: 24 passed, 0 skipped"),
            Some(Tally {
                passed: 24,
                failed: 0
            })
        );
        assert_eq!(
            parse_summary(
                "     Summary [   3.000s] 24 tests run: 24 passed (2 slow, 1 flaky), 0 skipped"
            ),
            Some(Tally {
                passed: 24,
                failed: 0
            })
        );
        assert_eq!(
            parse_summary("     Summary [   2.000s] 24 tests run: 22 passed, 2 failed, 1 skipped"),
            Some(Tally {
                passed: 22,
                failed: 2
            })
        );
    }

    #[test]
    fn other_lines_are_not_summaries() {
        assert_eq!(parse_summary("test agent::starts ... ok"), None);
        assert_eq!(parse_summary("   Compiling ddtrace v0.1.0"), None);
        assert_eq!(parse_summary("running 3 tests"), None);
        assert_eq!(parse_summary("Summary [ 1s] nothing run: here"), None);
    }
}
