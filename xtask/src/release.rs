//! `cargo xtask release X.Y.Z [--dry-run]`.
//!
//! 1. Bumps `[workspace.package] version` and every `version = "=…"` pin of an internal
//!    (path) crate in `[workspace.dependencies]` of the root `Cargo.toml`.
//! 2. Moves `## [Unreleased]` of `CHANGELOG.md` under `## [X.Y.Z] - YYYY-MM-DD` (UTC today),
//!    leaves a new empty `## [Unreleased]` above it, and updates the link references.
//! 3. Packages every publishable crate with one `cargo package -p … -p …` call. Cargo (≥ 1.83)
//!    packages the listed crates in dependency order and resolves a crate's dependencies on
//!    not-yet-published siblings from the packages it has just built (a local overlay
//!    registry), so this works before anything is on crates.io. Each package is verified
//!    (built from its `.crate`).
//!
//! `--dry-run` writes nothing (it shows the edits and packages the tree as it is). Publishable
//! crates and their order come from `cargo metadata`, so new crates need no change here.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::util::{self, Error, Result, cargo, metadata, project_root, today_utc};

/// Parsed command line of the release task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) version: String,
    pub(crate) dry_run: bool,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Options> {
        let mut version = None;
        let mut dry_run = false;
        for arg in args {
            match arg.as_str() {
                "--dry-run" => dry_run = true,
                v if version.is_none() && !v.starts_with('-') => version = Some(v.to_owned()),
                other => {
                    return Err(Error::Invalid(format!(
                        "release: unexpected argument `{other}`"
                    )));
                }
            }
        }
        let version =
            version.ok_or_else(|| Error::Invalid("release: missing version (X.Y.Z)".into()))?;
        check_version(&version)?;
        Ok(Options { version, dry_run })
    }
}

/// Accepts `MAJOR.MINOR.PATCH` with an optional `-pre.release` suffix (no build metadata).
pub(crate) fn check_version(version: &str) -> Result<()> {
    let (core, pre) = match version.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (version, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let numeric = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let pre_ok = pre.is_none_or(|p| {
        p.split('.')
            .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    });
    if numbers.len() == 3 && numbers.iter().all(|n| numeric(n)) && pre_ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "release: `{version}` is not a version like 1.2.3"
        )))
    }
}

/// Replaces the quoted value after `marker` (e.g. `version = "`) on one line.
fn replace_quoted(line: &str, marker: &str, value: &str) -> Option<String> {
    let start = line.find(marker)? + marker.len();
    let len = line[start..].find('"')?;
    Some(format!("{}{value}{}", &line[..start], &line[start + len..]))
}

/// Root-manifest edit: returns the new text and the old workspace version.
pub(crate) fn bump_manifest(text: &str, new: &str) -> Result<(String, String)> {
    let mut section = String::new();
    let mut old = None;
    let mut pins = 0;
    let mut out = Vec::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_owned();
        }
        let squashed: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
        if section == "[workspace.package]" && squashed.starts_with("version=\"") && old.is_none() {
            let start = line.find('"').map_or(0, |i| i + 1);
            old = line[start..]
                .find('"')
                .map(|len| line[start..start + len].to_owned());
            out.push(replace_quoted(line, "\"", new).unwrap_or_else(|| line.to_owned()));
        } else if section == "[workspace.dependencies]"
            && squashed.contains("path=\"")
            && squashed.contains("version=\"=")
        {
            let edited = replace_quoted(line, "version = \"=", new)
                .or_else(|| replace_quoted(line, "version=\"=", new))
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "Cargo.toml: cannot edit the pin in `{}`",
                        line.trim()
                    ))
                })?;
            pins += 1;
            out.push(edited);
        } else {
            out.push(line.to_owned());
        }
    }
    let old = old.ok_or_else(|| {
        Error::Invalid("Cargo.toml: no `version = \"…\"` in [workspace.package]".into())
    })?;
    if pins == 0 {
        return Err(Error::Invalid(
            "Cargo.toml: no `version = \"=…\"` pins on path crates in [workspace.dependencies]"
                .into(),
        ));
    }
    Ok((out.concat(), old))
}

/// Changelog edit: `## [Unreleased]` becomes `## [version] - date` under a new empty
/// `## [Unreleased]`; link references at the bottom point at the new tag.
pub(crate) fn release_changelog(
    text: &str,
    version: &str,
    date: &str,
    repository: &str,
) -> Result<String> {
    let lines: Vec<&str> = text.lines().collect();
    let heading = |l: &str| l.trim_start().starts_with("## ");
    let unreleased = lines
        .iter()
        .position(|l| l.trim() == "## [Unreleased]")
        .ok_or_else(|| Error::Invalid("CHANGELOG.md: no `## [Unreleased]` heading".into()))?;
    let version_heading = format!("## [{version}]");
    if lines
        .iter()
        .any(|l| l.trim_start().starts_with(&version_heading))
    {
        return Err(Error::Invalid(format!(
            "CHANGELOG.md: `{version_heading}` already exists"
        )));
    }
    let body_end = lines[unreleased + 1..]
        .iter()
        .position(|l| heading(l) || is_link_reference(l))
        .map_or(lines.len(), |i| unreleased + 1 + i);
    let body = &lines[unreleased + 1..body_end];
    if !body.iter().any(|l| {
        let l = l.trim_start();
        l.starts_with("- ") || l.starts_with("* ")
    }) {
        return Err(Error::Invalid(
            "CHANGELOG.md: `## [Unreleased]` has no entries; write them before releasing".into(),
        ));
    }
    // The previous release, for the compare link.
    let previous = lines[body_end..].iter().find(|l| heading(l)).and_then(|l| {
        l.trim_start()
            .strip_prefix("## [")?
            .split(']')
            .next()
            .map(str::to_owned)
    });

    let mut out: Vec<String> = lines[..=unreleased]
        .iter()
        .map(|l| (*l).to_owned())
        .collect();
    out.push(String::new());
    out.push(format!("## [{version}] - {date}"));
    out.extend(body.iter().map(|l| (*l).to_owned()));
    let repo = repository.trim_end_matches('/');
    let new_link = match &previous {
        Some(prev) => format!("[{version}]: {repo}/compare/v{prev}...v{version}"),
        None => format!("[{version}]: {repo}/releases/tag/v{version}"),
    };
    let unreleased_link = format!("[Unreleased]: {repo}/compare/v{version}...HEAD");
    let mut replaced = false;
    for line in &lines[body_end..] {
        if line.starts_with("[Unreleased]:") {
            out.push(unreleased_link.clone());
            out.push(new_link.clone());
            replaced = true;
        } else {
            out.push((*line).to_owned());
        }
    }
    if !replaced {
        while out.last().is_some_and(|l| l.trim().is_empty()) {
            out.pop();
        }
        out.push(String::new());
        out.push(unreleased_link);
        out.push(new_link);
    }
    Ok(out.join("\n") + "\n")
}

fn is_link_reference(line: &str) -> bool {
    line.starts_with('[') && line.contains("]: ")
}

/// Publishable workspace crates, dependencies first (ties broken by name).
pub(crate) fn publish_order(meta: &Value) -> Result<Vec<String>> {
    let packages = meta["packages"]
        .as_array()
        .ok_or_else(|| Error::Invalid("cargo metadata: no `packages` array".into()))?;
    let publishable: BTreeSet<String> = packages
        .iter()
        .filter(|p| !matches!(&p["publish"], Value::Array(r) if r.is_empty()))
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    // name -> the publishable crates it needs first (normal and build dependencies).
    let mut needs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in packages {
        let Some(name) = p["name"].as_str().filter(|n| publishable.contains(*n)) else {
            continue;
        };
        let deps = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].as_str() != Some("dev"))
            .filter_map(|d| d["name"].as_str())
            .filter(|d| publishable.contains(*d) && *d != name)
            .map(str::to_owned)
            .collect();
        needs.insert(name.to_owned(), deps);
    }
    let mut order = Vec::new();
    while !needs.is_empty() {
        let ready: Vec<String> = needs
            .iter()
            .filter(|(_, deps)| deps.is_empty())
            .map(|(name, _)| name.clone())
            .collect();
        if ready.is_empty() {
            return Err(Error::Invalid(format!(
                "dependency cycle among {:?}",
                needs.keys().collect::<Vec<_>>()
            )));
        }
        for name in &ready {
            needs.remove(name);
        }
        for deps in needs.values_mut() {
            for name in &ready {
                deps.remove(name);
            }
        }
        order.extend(ready);
    }
    Ok(order)
}

fn repository(manifest: &str) -> String {
    manifest
        .lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("repository")?
                .trim_start()
                .strip_prefix('=')?
                .trim()
                .strip_prefix('"')?
                .split('"')
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

pub(crate) fn run(options: &Options) -> Result<()> {
    let root = project_root();
    let manifest_path = root.join("Cargo.toml");
    let changelog_path = root.join("CHANGELOG.md");
    let manifest =
        std::fs::read_to_string(&manifest_path).map_err(|e| Error::io("reading Cargo.toml", e))?;
    let changelog = std::fs::read_to_string(&changelog_path)
        .map_err(|e| Error::io("reading CHANGELOG.md", e))?;
    let version = &options.version;

    let (new_manifest, old) = bump_manifest(&manifest, version)?;
    let date = today_utc();
    let new_changelog = release_changelog(&changelog, version, &date, &repository(&manifest))?;
    println!("release {old} -> {version} ({date})");
    for (before, after) in manifest.lines().zip(new_manifest.lines()) {
        if before != after {
            println!("  Cargo.toml: {}", after.trim());
        }
    }
    println!("  CHANGELOG.md: `## [Unreleased]` -> `## [{version}] - {date}`");

    if options.dry_run {
        println!("--dry-run: not writing Cargo.toml or CHANGELOG.md; packaging the tree as it is");
    } else {
        std::fs::write(&manifest_path, new_manifest)
            .map_err(|e| Error::io("writing Cargo.toml", e))?;
        std::fs::write(&changelog_path, new_changelog)
            .map_err(|e| Error::io("writing CHANGELOG.md", e))?;
    }

    let order = publish_order(&metadata()?)?;
    println!(
        "publishable crates in dependency order: {}",
        order.join(", ")
    );
    let mut package = cargo();
    package.args(["package", "--allow-dirty"]);
    for name in &order {
        package.args(["-p", name]);
    }
    util::run(&mut package)?;

    println!();
    if options.dry_run {
        println!("dry run done: nothing was changed; run without --dry-run to apply the edits.");
    } else {
        println!("done. Review the diff, commit, tag v{version}, then publish in this order:");
        for name in &order {
            println!("  cargo publish -p {name}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"[workspace]
members = ["crates/a"]

[workspace.package]
version = "0.1.0"
edition = "2024"

[workspace.dependencies]
# internal
ddtrace-model = { path = "crates/ddtrace-model", version = "=0.1.0" }
ddtrace-encoding = { path = "crates/ddtrace-encoding", version = "=0.1.0" }
ddtrace-testkit = { path = "crates/ddtrace-testkit" }
serde = { version = "1", features = ["derive"] }
opentelemetry = { version = "=0.1.0" }
"#;

    #[test]
    fn bump_edits_the_workspace_version_and_internal_pins_only() {
        let (out, old) = bump_manifest(MANIFEST, "0.2.0").unwrap();
        assert_eq!(old, "0.1.0");
        assert!(out.contains("[workspace.package]\nversion = \"0.2.0\"\n"));
        assert!(
            out.contains(
                r#"ddtrace-model = { path = "crates/ddtrace-model", version = "=0.2.0" }"#
            )
        );
        assert!(out.contains(
            r#"ddtrace-encoding = { path = "crates/ddtrace-encoding", version = "=0.2.0" }"#
        ));
        assert!(out.contains(r#"ddtrace-testkit = { path = "crates/ddtrace-testkit" }"#));
        assert!(out.contains(r#"serde = { version = "1", features = ["derive"] }"#));
        // Not a path crate: left alone.
        assert!(out.contains(r#"opentelemetry = { version = "=0.1.0" }"#));
        assert_eq!(out.lines().count(), MANIFEST.lines().count());
    }

    #[test]
    fn bump_needs_a_workspace_version_and_pins() {
        assert!(bump_manifest("[workspace.package]\nedition = \"2024\"\n", "1.0.0").is_err());
        assert!(bump_manifest("[workspace.package]\nversion = \"0.1.0\"\n", "1.0.0").is_err());
    }

    const CHANGELOG: &str = "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n### Added\n\n- A thing.\n\n\
        ## [0.1.0] - 2026-01-02\n\n### Added\n\n- First.\n\n\
        [Unreleased]: https://github.com/o/r/compare/v0.1.0...HEAD\n\
        [0.1.0]: https://github.com/o/r/releases/tag/v0.1.0\n";

    #[test]
    fn changelog_moves_unreleased_under_the_version() {
        let out =
            release_changelog(CHANGELOG, "0.2.0", "2026-11-24", "https://github.com/o/r").unwrap();
        let expected = "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n## [0.2.0] - 2026-11-24\n\n### Added\n\n- A thing.\n\n\
            ## [0.1.0] - 2026-01-02\n\n### Added\n\n- First.\n\n\
            [Unreleased]: https://github.com/o/r/compare/v0.2.0...HEAD\n\
            [0.2.0]: https://github.com/o/r/compare/v0.1.0...v0.2.0\n\
            [0.1.0]: https://github.com/o/r/releases/tag/v0.1.0\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn first_release_links_the_tag_and_appends_links() {
        let text = "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- Everything.\n";
        let out =
            release_changelog(text, "0.1.0", "2026-11-24", "https://github.com/o/r/").unwrap();
        assert_eq!(
            out,
            "# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-11-24\n\n### Added\n\n- Everything.\n\n\
             [Unreleased]: https://github.com/o/r/compare/v0.1.0...HEAD\n\
             [0.1.0]: https://github.com/o/r/releases/tag/v0.1.0\n"
        );
    }

    #[test]
    fn changelog_errors() {
        let no_unreleased = "# Changelog\n\n## [0.1.0] - 2026-01-02\n\n- x\n";
        assert!(release_changelog(no_unreleased, "0.2.0", "d", "r").is_err());
        assert!(
            release_changelog(CHANGELOG, "0.1.0", "d", "r").is_err(),
            "duplicate version"
        );
        let empty =
            "# Changelog\n\n## [Unreleased]\n\n### Added\n\n## [0.1.0] - 2026-01-02\n\n- x\n";
        let err = release_changelog(empty, "0.2.0", "d", "r").unwrap_err();
        assert!(err.to_string().contains("no entries"), "{err}");
    }

    #[test]
    fn versions() {
        for ok in ["0.1.0", "1.20.300", "1.0.0-rc.1", "2.0.0-alpha"] {
            assert!(check_version(ok).is_ok(), "{ok}");
        }
        for bad in [
            "1.0",
            "v1.0.0",
            "1.0.0.0",
            "01.0.0",
            "1.x.0",
            "1.0.0-",
            "1.0.0-a..b",
            "",
        ] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            Options::parse(&args(&["0.2.0", "--dry-run"])).unwrap(),
            Options {
                version: "0.2.0".into(),
                dry_run: true
            }
        );
        assert!(!Options::parse(&args(&["0.2.0"])).unwrap().dry_run);
        assert!(Options::parse(&args(&["--dry-run"])).is_err());
        assert!(Options::parse(&args(&["0.2.0", "0.3.0"])).is_err());
        assert!(Options::parse(&args(&["0.2.0", "--force"])).is_err());
    }

    #[test]
    fn order_puts_dependencies_first_and_skips_unpublished() {
        let meta = serde_json::json!({"packages": [
            {"name": "ddtrace", "publish": null, "dependencies": [
                {"name": "ddtrace-transport", "kind": null}, {"name": "ddtrace-model", "kind": null}]},
            {"name": "ddtrace-transport", "publish": null, "dependencies": [
                {"name": "ddtrace-encoding", "kind": null}, {"name": "ddtrace-testkit", "kind": "dev"}]},
            {"name": "ddtrace-encoding", "publish": null, "dependencies": [{"name": "ddtrace-model", "kind": null}]},
            {"name": "ddtrace-model", "publish": null, "dependencies": [
                {"name": "thiserror", "kind": null}, {"name": "ddtrace-testkit", "kind": "dev"}]},
            {"name": "ddtrace-testkit", "publish": [], "dependencies": [{"name": "ddtrace-model", "kind": null}]}
        ]});
        assert_eq!(
            publish_order(&meta).unwrap(),
            [
                "ddtrace-model",
                "ddtrace-encoding",
                "ddtrace-transport",
                "ddtrace"
            ]
        );
    }

    #[test]
    fn order_reports_cycles() {
        let meta = serde_json::json!({"packages": [
            {"name": "a", "publish": null, "dependencies": [{"name": "b", "kind": null}]},
            {"name": "b", "publish": null, "dependencies": [{"name": "a", "kind": "build"}]}
        ]});
        assert!(publish_order(&meta).is_err());
    }

    #[test]
    fn repository_is_read_from_the_manifest() {
        assert_eq!(
            repository("[workspace.package]\nrepository = \"https://github.com/o/r\"\n"),
            "https://github.com/o/r"
        );
        assert_eq!(repository("[package]\n"), "");
    }
}
