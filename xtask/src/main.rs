//! Project automation, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! * `cargo xtask test`: the one test command (CI and `.ci/run` call exactly this).
//! * `cargo xtask release X.Y.Z [--dry-run]`: bump versions, date the changelog, package.
//! * `cargo xtask tidy`: repository rules (crate graph, manifests); also runs as a `#[test]`.
//! * `cargo xtask bench`: criterion benches + end-to-end throughput; rewrites README's results.

// A command-line tool: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#![forbid(unsafe_code)]

mod bench;
mod release;
mod run_tests;
mod tidy;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  test                       install the test agent, then fmt --check, clippy -D warnings,
                             tests (nextest if installed, plus doc-tests), docs -D warnings
                             (`ci` is another name for it)
  release X.Y.Z [--dry-run]  bump [workspace.package] version and the =X.Y.Z pins, move
                             CHANGELOG.md's [Unreleased] to [X.Y.Z] - today, and check that
                             every publishable crate packages; --dry-run writes nothing
  tidy                       check the crate graph and the manifests
  bench [--skip-criterion] [--runs N] [--spans N] [--large-burst N]
                             run the criterion benches (short measurements) and the
                             end-to-end throughput program (release), and rewrite README.md's
                             section between <!-- bench:start --> and <!-- bench:end -->
  help                       this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test" | "ci") if args.len() == 1 => run_tests::run(),
        Some("release") => match release::Options::parse(&args[1..]) {
            Ok(options) => release::run(&options),
            Err(e) => Err(e),
        },
        Some("tidy") if args.len() == 1 => tidy::run(),
        Some("bench") => match bench::Options::parse(&args[1..]) {
            Ok(options) => bench::run_bench(&options),
            Err(e) => Err(e),
        },
        Some("help" | "--help" | "-h") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
