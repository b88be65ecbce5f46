//! `cargo xtask tidy`: rules that keep the workspace in shape, checked from `cargo metadata`
//! and the manifests. Also runs as a `#[test]`, so `cargo xtask test` enforces it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::util::{Error, Result, metadata};

/// The only crate that tests may use as a dev-dependency outside the graph.
const TESTKIT: &str = "ddtrace-testkit";

/// The internal crates each crate may depend on (normal, build and dev dependencies).
/// `None` means "any workspace crate". A crate missing here fails tidy until it is added.
fn allowed(name: &str) -> Option<Option<&'static [&'static str]>> {
    let allowed: Option<&'static [&'static str]> = match name {
        "ddtrace-model" => Some(&[]),
        "ddtrace-encoding" | "ddtrace-sampling" | "ddtrace-propagation" => Some(&["ddtrace-model"]),
        "ddtrace-transport" => Some(&["ddtrace-model", "ddtrace-encoding"]),
        "ddtrace-otel" => Some(&["ddtrace-model", "ddtrace-sampling", "ddtrace-propagation"]),
        "ddtrace" | "ddtrace-benches" => None,
        // The system-tests parametric server is an application: it sees the facade only.
        "ddtrace-parametric" => Some(&["ddtrace"]),
        // Test harness: may use the bottom crates only, so that the crates above can
        // dev-depend on it (encoding: the sink agent decodes what it is sent).
        "ddtrace-testkit" => Some(&["ddtrace-model", "ddtrace-encoding"]),
        "xtask" => Some(&["ddtrace-testkit"]),
        _ => return None,
    };
    Some(allowed)
}

/// A workspace member, as far as tidy cares.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) publishable: bool,
    pub(crate) description: Option<String>,
    pub(crate) manifest_path: String,
    /// Internal dependencies: (name, kind: "normal" | "dev" | "build", version requirement).
    pub(crate) deps: Vec<(String, String, String)>,
    pub(crate) test_targets: usize,
}

/// Workspace members from `cargo metadata --no-deps` JSON.
pub(crate) fn members(meta: &Value) -> Result<Vec<Member>> {
    let packages = meta["packages"]
        .as_array()
        .ok_or_else(|| Error::Invalid("cargo metadata: no `packages` array".into()))?;
    let names: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut members = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or_default().to_owned();
        // `publish: []` (publish = false) means no registry may receive it.
        let publishable =
            !matches!(&p["publish"], Value::Array(registries) if registries.is_empty());
        let deps = p["dependencies"]
            .as_array()
            .map(|deps| {
                deps.iter()
                    .filter(|d| d["name"].as_str().is_some_and(|n| names.contains(n)))
                    .map(|d| {
                        (
                            d["name"].as_str().unwrap_or_default().to_owned(),
                            d["kind"].as_str().unwrap_or("normal").to_owned(),
                            d["req"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let test_targets = p["targets"].as_array().map_or(0, |targets| {
            targets
                .iter()
                .filter(|t| {
                    t["kind"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == "test"))
                })
                .count()
        });
        members.push(Member {
            name,
            version: p["version"].as_str().unwrap_or_default().to_owned(),
            publishable,
            description: p["description"].as_str().map(str::to_owned),
            manifest_path: p["manifest_path"].as_str().unwrap_or_default().to_owned(),
            deps,
            test_targets,
        });
    }
    Ok(members)
}

/// Every rule broken by `members`; `manifests` maps manifest paths to their text.
pub(crate) fn problems(members: &[Member], manifests: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    let publishable: BTreeSet<&str> = members
        .iter()
        .filter(|m| m.publishable)
        .map(|m| m.name.as_str())
        .collect();
    for m in members {
        let Some(allowed) = allowed(&m.name) else {
            problems.push(format!(
                "{}: not in the allowed crate graph; add it to `allowed()` in xtask/src/tidy.rs \
                 (and to docs/ARCHITECTURE.md)",
                m.name
            ));
            continue;
        };
        for (dep, kind, req) in &m.deps {
            let in_graph = allowed.is_none_or(|list| list.contains(&dep.as_str()));
            let testkit_dev = dep == TESTKIT && kind == "dev";
            if !in_graph && !testkit_dev {
                problems.push(format!(
                    "{}: {kind} dependency on {dep} is outside the allowed graph",
                    m.name
                ));
            }
            if m.publishable && kind != "dev" && !publishable.contains(dep.as_str()) {
                problems.push(format!(
                    "{}: publishable, but depends on unpublished {dep}",
                    m.name
                ));
            }
            if m.publishable && kind != "dev" && *req != format!("={}", m.version) {
                problems.push(format!(
                    "{}: dependency on {dep} must be pinned `={}` (found `{req}`); use `{dep}.workspace = true`",
                    m.name, m.version
                ));
            }
        }
        let manifest = manifests.get(&m.manifest_path).map_or("", String::as_str);
        if !has_workspace_lints(manifest) {
            problems.push(format!("{}: missing `[lints] workspace = true`", m.name));
        }
        if m.test_targets > 1 {
            problems.push(format!(
                "{}: {} integration-test binaries; use one (`autotests = false` + tests/tests.rs)",
                m.name, m.test_targets
            ));
        }
        if m.publishable {
            if m.description.as_deref().is_none_or(|d| d.trim().is_empty()) {
                problems.push(format!(
                    "{}: publishable crate without a description",
                    m.name
                ));
            }
            for key in [
                "version",
                "edition",
                "license",
                "repository",
                "rust-version",
            ] {
                if !inherits(manifest, key) {
                    problems.push(format!("{}: missing `{key}.workspace = true`", m.name));
                }
            }
        }
    }
    problems
}

/// The lines of `[section]` in a TOML text (until the next header), trimmed.
fn section<'a>(manifest: &'a str, header: &str) -> Vec<&'a str> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            inside = trimmed == header;
            continue;
        }
        if inside && !trimmed.is_empty() && !trimmed.starts_with('#') {
            lines.push(trimmed);
        }
    }
    lines
}

fn squash(line: &str) -> String {
    line.chars().filter(|c| !c.is_whitespace()).collect()
}

pub(crate) fn has_workspace_lints(manifest: &str) -> bool {
    section(manifest, "[lints]")
        .iter()
        .any(|l| squash(l) == "workspace=true")
}

/// Whether `[package]` has `key.workspace = true` (or `key = { workspace = true }`).
pub(crate) fn inherits(manifest: &str, key: &str) -> bool {
    section(manifest, "[package]").iter().any(|l| {
        let l = squash(l);
        l == format!("{key}.workspace=true") || l == format!("{key}={{workspace=true}}")
    })
}

fn read_manifests(members: &[Member]) -> Result<BTreeMap<String, String>> {
    members
        .iter()
        .map(|m| {
            let text = std::fs::read_to_string(Path::new(&m.manifest_path))
                .map_err(|e| Error::io(format!("reading {}", m.manifest_path), e))?;
            Ok((m.manifest_path.clone(), text))
        })
        .collect()
}

/// Runs every check against the real workspace.
pub(crate) fn check_workspace() -> Result<Vec<String>> {
    let members = members(&metadata()?)?;
    let manifests = read_manifests(&members)?;
    Ok(problems(&members, &manifests))
}

pub(crate) fn run() -> Result<()> {
    let problems = check_workspace()?;
    if problems.is_empty() {
        println!("tidy: ok");
        Ok(())
    } else {
        for p in &problems {
            eprintln!("tidy: {p}");
        }
        Err(Error::Invalid(format!(
            "tidy found {} problem(s)",
            problems.len()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real workspace obeys every rule.
    #[test]
    fn workspace_is_tidy() {
        let problems = check_workspace().unwrap();
        assert!(
            problems.is_empty(),
            "tidy problems:\n{}",
            problems.join("\n")
        );
    }

    const GOOD: &str = "[package]\nname = \"x\"\nversion.workspace = true\nedition.workspace = true\n\
        license.workspace = true\nrepository.workspace = true\nrust-version = { workspace = true }\n\n\
        [lints]\nworkspace = true\n";

    fn member(name: &str, deps: &[(&str, &str)]) -> Member {
        Member {
            name: name.into(),
            version: "0.1.0".into(),
            publishable: !matches!(
                name,
                "ddtrace-testkit" | "xtask" | "ddtrace-benches" | "ddtrace-parametric"
            ),
            description: Some("d".into()),
            manifest_path: "m".into(),
            deps: deps
                .iter()
                .map(|(d, kind)| ((*d).into(), (*kind).into(), "=0.1.0".into()))
                .collect(),
            test_targets: 1,
        }
    }

    fn check(members: &[Member]) -> Vec<String> {
        problems(
            members,
            &BTreeMap::from([("m".to_owned(), GOOD.to_owned())]),
        )
    }

    #[test]
    fn allowed_edges_pass() {
        let members = [
            member("ddtrace-model", &[("ddtrace-testkit", "dev")]),
            member(
                "ddtrace-transport",
                &[("ddtrace-model", "normal"), ("ddtrace-encoding", "normal")],
            ),
            member(
                "ddtrace-otel",
                &[("ddtrace-sampling", "normal"), ("ddtrace-testkit", "dev")],
            ),
            member(
                "ddtrace",
                &[("ddtrace-transport", "normal"), ("ddtrace-otel", "normal")],
            ),
            member("ddtrace-testkit", &[("ddtrace-model", "normal")]),
            member("ddtrace-encoding", &[("ddtrace-model", "normal")]),
            member("ddtrace-sampling", &[("ddtrace-model", "normal")]),
            member("xtask", &[("ddtrace-testkit", "normal")]),
            member(
                "ddtrace-parametric",
                &[("ddtrace", "normal"), ("ddtrace-testkit", "dev")],
            ),
        ];
        assert_eq!(check(&members), Vec::<String>::new());
    }

    #[test]
    fn forbidden_edges_fail() {
        let otel = member("ddtrace-otel", &[("ddtrace-transport", "normal")]);
        let problems = check(&[otel, member("ddtrace-transport", &[])]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("ddtrace-otel: normal dependency on ddtrace-transport"));

        let model_dev = member("ddtrace-model", &[("ddtrace-encoding", "dev")]);
        assert_eq!(
            check(&[model_dev, member("ddtrace-encoding", &[])]).len(),
            1
        );
    }

    #[test]
    fn unknown_crates_and_unpublished_deps_fail() {
        assert!(check(&[member("ddtrace-new", &[])])[0].contains("not in the allowed crate graph"));
        let facade = member("ddtrace", &[("ddtrace-testkit", "normal")]);
        let problems = check(&[facade, member("ddtrace-testkit", &[])]);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("depends on unpublished")),
            "{problems:?}"
        );
    }

    #[test]
    fn unpinned_internal_dependency_fails() {
        let mut encoding = member("ddtrace-encoding", &[("ddtrace-model", "normal")]);
        encoding.deps[0].2 = "^0.1.0".into();
        let problems = check(&[encoding, member("ddtrace-model", &[])]);
        assert!(
            problems.iter().any(|p| p.contains("must be pinned")),
            "{problems:?}"
        );
    }

    #[test]
    fn manifest_rules() {
        let mut m = member("ddtrace-model", &[]);
        m.description = None;
        m.test_targets = 2;
        let bare = BTreeMap::from([("m".to_owned(), "[package]\nname = \"x\"\n".to_owned())]);
        let problems = problems(&[m], &bare);
        for needle in [
            "[lints]",
            "description",
            "version.workspace",
            "edition.workspace",
            "license.workspace",
            "integration-test binaries",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(needle)),
                "{needle}: {problems:?}"
            );
        }
    }

    #[test]
    fn manifest_parsing() {
        assert!(has_workspace_lints(GOOD));
        assert!(!has_workspace_lints("[lints.rust]\nworkspace = true\n"));
        assert!(inherits(GOOD, "rust-version"));
        assert!(!inherits("[package]\nversion = \"1.0.0\"\n", "version"));
        // Only `[package]` counts.
        assert!(!inherits("[other]\nversion.workspace = true\n", "version"));
    }

    #[test]
    fn members_from_metadata_json() {
        let meta = serde_json::json!({"packages": [
            {"name": "ddtrace-model", "version": "0.1.0", "publish": null, "description": "m",
             "manifest_path": "/w/crates/ddtrace-model/Cargo.toml", "dependencies": [
                {"name": "thiserror", "kind": null, "req": "^2"},
                {"name": "ddtrace-testkit", "kind": "dev", "req": "*"}],
             "targets": [{"kind": ["lib"]}, {"kind": ["test"]}]},
            {"name": "ddtrace-testkit", "version": "0.1.0", "publish": [], "description": null,
             "manifest_path": "/w/crates/ddtrace-testkit/Cargo.toml", "dependencies": [], "targets": []}
        ]});
        let members = members(&meta).unwrap();
        assert!(members[0].publishable);
        assert!(!members[1].publishable);
        assert_eq!(
            members[0].deps,
            vec![(
                "ddtrace-testkit".to_owned(),
                "dev".to_owned(),
                "*".to_owned()
            )]
        );
        assert_eq!(members[0].test_targets, 1);
    }
}
