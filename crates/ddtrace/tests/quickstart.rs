//! The quickstart example, run as a user would, against the real test agent and against no agent.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ddtrace_testkit::TestAgent;

/// The example binary, built next to this test binary (cargo builds examples for tests; if it
/// is missing, build it).
fn quickstart() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .to_path_buf();
    let path = profile_dir.join("examples").join("quickstart");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let target_dir = profile_dir.parent().unwrap();
        let status = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "ddtrace",
                "--example",
                "quickstart",
                "--target-dir",
            ])
            .arg(target_dir)
            .status()
            .unwrap();
        assert!(status.success(), "building the quickstart example failed");
    }
    path
}

fn run(env: &[(&str, &str)]) -> (Output, Duration) {
    let started = Instant::now();
    let mut cmd = Command::new(quickstart());
    for key in [
        "DD_TRACE_AGENT_URL",
        "DD_AGENT_HOST",
        "DD_TRACE_AGENT_PORT",
        "DD_SERVICE",
        "DD_ENV",
        "DD_VERSION",
    ] {
        cmd.env_remove(key);
    }
    cmd.envs(env.iter().copied());
    let output = cmd.output().unwrap();
    (output, started.elapsed())
}

#[test]
fn quickstart_sends_the_expected_trace_tree_to_the_agent() {
    let agent = TestAgent::start().expect("the test agent (see ddtrace-testkit)");
    let url = agent.url();
    let (output, _) = run(&[
        ("DD_TRACE_AGENT_URL", &url),
        ("DD_SERVICE", "quickstart-e2e"),
        ("DD_ENV", "e2e"),
        ("DD_VERSION", "0.0.1"),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("Sent 7 spans to the Datadog Agent"),
        "{stdout}"
    );
    assert!(
        stdout.contains("http.server.request  [GET /users/{id}]"),
        "{stdout}"
    );

    let traces = agent.wait_for_traces(2, Duration::from_secs(10)).unwrap();
    assert_eq!(traces.len(), 2);
    let mut names: Vec<Vec<String>> = traces
        .iter()
        .map(|t| {
            let mut n: Vec<String> = t.iter().map(|s| s.name.clone()).collect();
            n.sort();
            n
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            vec![
                "http.client.request",
                "http.server.request",
                "internal",
                "postgresql.query"
            ],
            vec![
                "http.client.request",
                "http.server.request",
                "postgresql.query"
            ],
        ]
    );
    for trace in &traces {
        let root = trace.iter().find(|s| s.parent_id == 0).unwrap();
        assert_eq!(root.resource, "GET /users/{id}");
        for span in trace {
            assert_eq!(span.service, "quickstart-e2e");
            assert_eq!(span.meta.get("env").map(String::as_str), Some("e2e"));
            assert_eq!(span.meta.get("version").map(String::as_str), Some("0.0.1"));
            if span.span_id != root.span_id {
                assert_eq!(span.parent_id, root.span_id, "children of the server span");
            }
        }
    }
    let failed = traces
        .iter()
        .flatten()
        .find(|s| s.error == 1)
        .expect("the failing span");
    assert_eq!(failed.resource, "load avatar");
    // otel-mapping.md §7.2: with status Error, the exception event supplies error.message.
    assert_eq!(
        failed.meta.get("error.message").map(String::as_str),
        Some("avatar 7 not found")
    );
    assert!(agent.trace_check_failures().unwrap().is_empty());
}

#[test]
fn quickstart_without_an_agent_finishes_quickly_and_says_what_to_do() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let (output, elapsed) = run(&[("DD_TRACE_AGENT_URL", &url)]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(
        stdout.contains("No Datadog Agent accepted the spans"),
        "{stdout}"
    );
    assert!(stdout.contains("DD_TRACE_AGENT_URL"), "{stdout}");
    assert!(
        stdout.contains("internal  [load avatar]"),
        "the tree is printed: {stdout}"
    );
}
