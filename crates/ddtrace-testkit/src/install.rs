//! Finding or installing `ddapm-test-agent` into a virtualenv shared by every build directory.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::error::{Error, Result};

/// The pinned `ddapm-test-agent` version (PyPI).
pub const TEST_AGENT_VERSION: &str = "1.69.1";

/// Environment variable: use this virtualenv directory instead of `target/test-agent/venv`.
pub const VENV_ENV: &str = "DDTRACE_TEST_AGENT_VENV";

/// Environment variable: the Python interpreter used to create the virtualenv
/// (default: `python3`, then `python`).
pub const PYTHON_ENV: &str = "DDTRACE_PYTHON";

/// File written into the virtualenv once the install has succeeded; holds the version.
const MARKER: &str = "ddtrace-testkit-installed";

/// The workspace root: two levels above this crate's manifest (`crates/ddtrace-testkit`).
///
/// Found from `CARGO_MANIFEST_DIR` at compile time rather than from the target directory, so
/// builds with different `CARGO_TARGET_DIR`s share one virtualenv.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}

/// Where the test agent state lives: `<workspace>/target/test-agent`.
pub fn state_dir() -> PathBuf {
    workspace_root().join("target").join("test-agent")
}

/// The virtualenv directory: `$DDTRACE_TEST_AGENT_VENV` if set, else
/// `<workspace>/target/test-agent/venv`.
pub fn venv_dir() -> PathBuf {
    match std::env::var_os(VENV_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => state_dir().join("venv"),
    }
}

fn venv_bin(venv: &Path, name: &str) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join(format!("{name}.exe"))
    } else {
        venv.join("bin").join(name)
    }
}

/// The text of [`Error::Install`]'s hint: how to do by hand what [`ensure_test_agent`] does.
pub fn manual_install_hint() -> String {
    let venv = venv_dir();
    let pip = venv_bin(&venv, "pip");
    format!(
        "Install it by hand (needs Python 3 with the venv module and access to PyPI):\n    \
         python3 -m venv {venv}\n    \
         {pip} install ddapm-test-agent=={TEST_AGENT_VERSION}\n\
         or point {VENV_ENV} at an existing virtualenv that has ddapm-test-agent=={TEST_AGENT_VERSION} \
         (and create the file `{MARKER}` containing `{TEST_AGENT_VERSION}` in it).",
        venv = venv.display(),
        pip = pip.display(),
    )
}

/// Returns the path of the `ddapm-test-agent` executable, installing the pinned version into
/// [`venv_dir`] first if needed (`python3 -m venv` + `pip install`, about 10 s).
///
/// Safe to call from many threads and processes at once: installers serialise on a lock file
/// next to the virtualenv, and the install is only taken as done once a marker file holding
/// [`TEST_AGENT_VERSION`] has been written, so an interrupted install is redone.
///
/// # Errors
///
/// [`Error::Install`] when installing fails; its message says how to install by hand.
pub fn ensure_test_agent() -> Result<PathBuf> {
    let venv = venv_dir();
    if let Some(exe) = installed(&venv) {
        return Ok(exe);
    }
    let parent = venv.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)
        .map_err(|e| install_error("creating the virtualenv's parent directory", e))?;
    let lock_path = venv.with_extension("lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| install_error(format!("opening the lock file {}", lock_path.display()), e))?;
    lock.lock()
        .map_err(|e| install_error(format!("locking {}", lock_path.display()), e))?;
    // Another process may have finished the install while we waited for the lock.
    let result = match installed(&venv) {
        Some(exe) => Ok(exe),
        None => install(&venv),
    };
    drop(lock); // closing the file releases the lock
    result
}

/// The executable, if the marker says the pinned version is installed.
fn installed(venv: &Path) -> Option<PathBuf> {
    let marker = fs::read_to_string(venv.join(MARKER)).ok()?;
    let exe = venv_bin(venv, "ddapm-test-agent");
    (marker.trim() == TEST_AGENT_VERSION && exe.is_file()).then_some(exe)
}

fn install(venv: &Path) -> Result<PathBuf> {
    // A directory without the marker is a half-done install (or another version): start over.
    if venv.exists() {
        fs::remove_dir_all(venv).map_err(|e| {
            install_error(
                format!("removing the incomplete virtualenv {}", venv.display()),
                e,
            )
        })?;
    }
    let python = find_python()?;
    run(
        Command::new(&python).arg("-m").arg("venv").arg(venv),
        &format!("`{python} -m venv {}`", venv.display()),
    )?;
    let venv_python = venv_bin(venv, "python");
    run(
        Command::new(&venv_python).args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--timeout",
            "30",
            "--retries",
            "2",
            &format!("ddapm-test-agent=={TEST_AGENT_VERSION}"),
        ]),
        &format!("`pip install ddapm-test-agent=={TEST_AGENT_VERSION}`"),
    )?;
    let exe = venv_bin(venv, "ddapm-test-agent");
    if !exe.is_file() {
        return Err(Error::Install {
            version: TEST_AGENT_VERSION,
            step: "looking for the installed executable".into(),
            detail: format!("{} does not exist after pip install", exe.display()),
            hint: manual_install_hint(),
        });
    }
    let mut marker =
        File::create(venv.join(MARKER)).map_err(|e| install_error("writing the marker file", e))?;
    marker
        .write_all(TEST_AGENT_VERSION.as_bytes())
        .map_err(|e| install_error("writing the marker file", e))?;
    Ok(exe)
}

fn find_python() -> Result<String> {
    let candidates: Vec<String> = match std::env::var(PYTHON_ENV) {
        Ok(p) if !p.is_empty() => vec![p],
        _ => vec!["python3".into(), "python".into()],
    };
    for candidate in &candidates {
        let ok = Command::new(candidate)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Ok(candidate.clone());
        }
    }
    Err(Error::Install {
        version: TEST_AGENT_VERSION,
        step: "looking for a Python interpreter".into(),
        detail: format!("none of {candidates:?} runs (set {PYTHON_ENV} to choose one)"),
        hint: manual_install_hint(),
    })
}

fn run(cmd: &mut Command, step: &str) -> Result<Output> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| install_error(step, e))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(Error::Install {
            version: TEST_AGENT_VERSION,
            step: step.to_owned(),
            detail: format!(
                "{}\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
            hint: manual_install_hint(),
        })
    }
}

fn install_error(step: impl Into<String>, e: std::io::Error) -> Error {
    Error::Install {
        version: TEST_AGENT_VERSION,
        step: step.into(),
        detail: e.to_string(),
        hint: manual_install_hint(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"), "{manifest}");
    }

    #[test]
    fn hint_names_the_pinned_version_and_the_override() {
        let hint = manual_install_hint();
        assert!(hint.contains("ddapm-test-agent==1.69.1"), "{hint}");
        assert!(hint.contains(VENV_ENV), "{hint}");
        assert!(hint.contains("-m venv"), "{hint}");
    }

    #[test]
    fn marker_with_another_version_is_not_installed() {
        let dir =
            std::env::temp_dir().join(format!("ddtrace-testkit-marker-{}", std::process::id()));
        let exe = venv_bin(&dir, "ddapm-test-agent");
        fs::create_dir_all(exe.parent().unwrap()).unwrap();
        fs::write(&exe, b"").unwrap();
        fs::write(dir.join(MARKER), b"1.0.0").unwrap();
        assert_eq!(installed(&dir), None);
        fs::write(dir.join(MARKER), TEST_AGENT_VERSION).unwrap();
        assert_eq!(installed(&dir), Some(exe));
        fs::remove_dir_all(&dir).unwrap();
    }
}
