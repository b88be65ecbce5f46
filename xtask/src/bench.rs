//! `cargo xtask bench`: runs the criterion benches and the end-to-end throughput program, and
//! rewrites the README's results section (between `<!-- bench:start -->` and
//! `<!-- bench:end -->`) from what they measured.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use serde_json::Value;

use crate::util::{Error, Result, cargo, display, metadata, project_root, run, today_utc};

const START: &str = "<!-- bench:start -->";
const END: &str = "<!-- bench:end -->";

/// Short criterion measurements: the section is a snapshot, not a regression gate.
const CRITERION_ARGS: [&str; 4] = ["--warm-up-time", "1", "--measurement-time", "3"];

/// `cargo xtask bench` options.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// Skip the criterion benches (their table is left out of the section).
    pub(crate) skip_criterion: bool,
    /// Passed to the throughput program (`--runs N`, `--spans N`, `--large-burst N`).
    pub(crate) throughput_args: Vec<String>,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--skip-criterion" => options.skip_criterion = true,
                "--runs" | "--spans" | "--large-burst" => {
                    let value = it
                        .next()
                        .filter(|v| v.replace('_', "").parse::<u64>().is_ok())
                        .ok_or_else(|| Error::Invalid(format!("{arg} needs a number")))?;
                    options.throughput_args.extend([arg.clone(), value.clone()]);
                }
                other => {
                    return Err(Error::Invalid(format!("bench: unknown argument {other:?}")));
                }
            }
        }
        Ok(options)
    }
}

pub(crate) fn run_bench(options: &Options) -> Result<()> {
    let root = project_root();
    let target = metadata()?
        .get("target_directory")
        .and_then(Value::as_str)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let started = SystemTime::now();
    let mut commands = Vec::new();

    let mut criterion_rows = Vec::new();
    if !options.skip_criterion {
        let mut cmd = cargo();
        cmd.args([
            "bench",
            "-p",
            "ddtrace-benches",
            "--bench",
            "encoding",
            "--bench",
            "span",
            "--",
        ]);
        cmd.args(CRITERION_ARGS);
        println!("xtask bench: {}", display(&cmd));
        run(&mut cmd)?;
        commands.push(format!("`{}`", display(&cmd)));
        criterion_rows = criterion_results(&target.join("criterion"), started)?;
    }

    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "-p",
        "ddtrace-benches",
        "--bin",
        "throughput",
    ]);
    println!("xtask bench: {}", display(&build));
    run(&mut build)?;
    let exe = target.join("release").join("throughput");
    let mut throughput = Command::new(&exe);
    throughput
        .args(&options.throughput_args)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    println!("xtask bench: {}", display(&throughput));
    let output = throughput
        .output()
        .map_err(|e| Error::io(format!("starting {}", exe.display()), e))?;
    if !output.status.success() {
        return Err(Error::Command {
            command: display(&throughput),
            status: output.status.to_string(),
        });
    }
    let table = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut shown = vec!["cargo run --release -p ddtrace-benches --bin throughput".to_owned()];
    if !options.throughput_args.is_empty() {
        shown.push("--".to_owned());
        shown.extend(options.throughput_args.iter().cloned());
    }
    commands.push(format!(
        "`{}` (what it measures: `benches/src/bin/throughput.rs`)",
        shown.join(" ")
    ));
    print!("{table}");

    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let section = section(&today_utc(), &rustc, &commands, &table, &criterion_rows);
    let readme = root.join("README.md");
    let text = std::fs::read_to_string(&readme).map_err(|e| Error::io("reading README.md", e))?;
    let text = replace_section(&text, &section)?;
    std::fs::write(&readme, text).map_err(|e| Error::io("writing README.md", e))?;
    println!("xtask bench: README.md results section rewritten");
    Ok(())
}

/// One criterion benchmark's median.
#[derive(Debug, Clone, PartialEq)]
struct CriterionRow {
    id: String,
    median_ns: f64,
    /// Elements per iteration, when the bench declares a throughput in elements.
    elements: Option<u64>,
}

/// The medians of the benchmarks that ran since `since` (older results are left out).
fn criterion_results(dir: &Path, since: SystemTime) -> Result<Vec<CriterionRow>> {
    let mut rows = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "new") {
                let fresh = std::fs::metadata(path.join("estimates.json"))
                    .and_then(|m| m.modified())
                    .is_ok_and(|m| m >= since);
                if fresh && let Some(row) = read_criterion(&path)? {
                    rows.push(row);
                }
            } else {
                stack.push(path);
            }
        }
    }
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(rows)
}

fn read_criterion(new_dir: &Path) -> Result<Option<CriterionRow>> {
    let read = |name: &str| -> Result<Value> {
        let path = new_dir.join(name);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    };
    let benchmark = read("benchmark.json")?;
    let estimates = read("estimates.json")?;
    let (Some(id), Some(median_ns)) = (
        benchmark["full_id"].as_str(),
        estimates["median"]["point_estimate"].as_f64(),
    ) else {
        return Ok(None);
    };
    Ok(Some(CriterionRow {
        id: id.to_owned(),
        median_ns,
        elements: benchmark["throughput"]["Elements"].as_u64(),
    }))
}

fn nanos(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// The generated section, markers excluded.
fn section(
    date: &str,
    rustc: &str,
    commands: &[String],
    throughput: &str,
    criterion: &[CriterionRow],
) -> String {
    let mut s = format!(
        "_Generated by `cargo xtask bench` on {date} with {rustc}; do not edit by hand._\n\n\
         Commands:\n\n"
    );
    for c in commands {
        s.push_str(&format!("* {c}\n"));
    }
    s.push_str("\n### End to end\n\n");
    s.push_str(throughput.trim_end());
    s.push('\n');
    if !criterion.is_empty() {
        s.push_str(
            "\n### Criterion (medians)\n\n\
             | Benchmark | Per iteration | Per element |\n|---|---|---|\n",
        );
        for row in criterion {
            let per = row
                .elements
                .filter(|&n| n > 0)
                .map_or_else(|| "".to_owned(), |n| nanos(row.median_ns / n as f64));
            s.push_str(&format!(
                "| `{}` | {} | {per} |\n",
                row.id,
                nanos(row.median_ns)
            ));
        }
    }
    s
}

/// `text` with what lies between the markers replaced by `section`.
fn replace_section(text: &str, section: &str) -> Result<String> {
    let missing = || Error::Invalid(format!("README.md: no `{START}` … `{END}` section"));
    let start = text.find(START).ok_or_else(missing)? + START.len();
    let end = start
        + text
            .get(start..)
            .and_then(|t| t.find(END))
            .ok_or_else(missing)?;
    Ok(format!(
        "{}\n{}\n{}",
        &text[..start],
        section.trim_end(),
        &text[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(Options::parse(&[]).unwrap(), Options::default());
        let o = Options::parse(&args(&["--skip-criterion", "--runs", "3"])).unwrap();
        assert!(o.skip_criterion);
        assert_eq!(o.throughput_args, ["--runs", "3"]);
        assert!(Options::parse(&args(&["--runs"])).is_err());
        assert!(Options::parse(&args(&["--runs", "x"])).is_err());
        assert!(Options::parse(&args(&["--check"])).is_err());
    }

    #[test]
    fn the_section_is_replaced_and_the_rest_kept() {
        let text = format!("# T\n\n{START}\nold\nlines\n{END}\n\n## After\n");
        let new = replace_section(&text, "new\n").unwrap();
        assert_eq!(new, format!("# T\n\n{START}\nnew\n{END}\n\n## After\n"));
        // Idempotent.
        assert_eq!(replace_section(&new, "new").unwrap(), new);
        assert!(replace_section("no markers", "x").is_err());
        assert!(replace_section(&format!("{START} only"), "x").is_err());
    }

    #[test]
    fn section_lists_commands_and_criterion_medians() {
        let rows = [
            CriterionRow {
                id: "span/trace_10x8/ddtrace".to_owned(),
                median_ns: 2500.0,
                elements: Some(10),
            },
            CriterionRow {
                id: "encoding/v04".to_owned(),
                median_ns: 1_500_000.0,
                elements: None,
            },
        ];
        let s = section(
            "2026-01-02",
            "rustc 1.95.0",
            &["`cargo bench`".to_owned()],
            "| t |\n",
            &rows,
        );
        assert!(s.contains("on 2026-01-02 with rustc 1.95.0"), "{s}");
        assert!(s.contains("* `cargo bench`"), "{s}");
        assert!(s.contains("| t |"), "{s}");
        assert!(
            s.contains("| `span/trace_10x8/ddtrace` | 2.50 µs | 250.0 ns |"),
            "{s}"
        );
        assert!(s.contains("| `encoding/v04` | 1.50 ms |  |"), "{s}");
    }

    #[test]
    fn criterion_results_skip_stale_and_read_fresh() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        let new = dir.join("group").join("fn").join("new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(
            new.join("benchmark.json"),
            r#"{"full_id":"group/fn","throughput":{"Elements":4}}"#,
        )
        .unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"median":{"point_estimate":400.0}}"#,
        )
        .unwrap();
        let long_ago = SystemTime::UNIX_EPOCH;
        let rows = criterion_results(&dir, long_ago).unwrap();
        assert_eq!(
            rows,
            [CriterionRow {
                id: "group/fn".to_owned(),
                median_ns: 400.0,
                elements: Some(4),
            }]
        );
        let future = SystemTime::now() + std::time::Duration::from_secs(3600);
        assert!(criterion_results(&dir, future).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
