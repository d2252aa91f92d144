//! Finding the Python interpreter that runs checked programs, once per path.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::{Env, Job, Limits, Termination};
use crate::Error;

/// A probed Python interpreter.
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// The real executable (`sys.executable`), so shims such as pyenv's are not re-run per test.
    pub path: PathBuf,
    /// `(major, minor)`.
    pub version: (u32, u32),
    /// Flags for isolated runs: `-s -S` (no user site-packages and no site module, so no
    /// `.pth` hook runs; the case code puts the site-packages directories on `sys.path`
    /// itself) plus `-P` (no script directory on `sys.path`) where supported. Not `-E`/`-I`: the
    /// environment is already an allow-list, and `-E` would drop `PYTHONHASHSEED` with it.
    pub flags: Vec<OsString>,
    /// Directories the interpreter needs (its prefixes and the real executable's directory),
    /// bound read-only into the sandbox's private root.
    pub dirs: Vec<PathBuf>,
}

const PROBE: &str = "import os, sys; print(sys.executable); \
     print(sys.version_info[0], sys.version_info[1]); \
     print(sys.prefix); print(sys.base_prefix); print(sys.exec_prefix); \
     print(sys.base_exec_prefix); print(os.path.dirname(os.path.realpath(sys.executable)))";

/// The default interpreter: `$SFSTREAM_PYTHON` if set, else `python3` from `PATH`; probed once
/// per process.
pub fn default_interpreter() -> crate::Result<Interpreter> {
    static DEFAULT: OnceLock<Result<Interpreter, String>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            let candidate = std::env::var_os("SFSTREAM_PYTHON")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("python3"));
            probe(&candidate)
        })
        .clone()
        .map_err(Error::Sandbox)
}

/// The interpreter at `path` (probed once per distinct path), or the default for `None`.
pub fn interpreter(path: Option<&Path>) -> crate::Result<Interpreter> {
    let Some(path) = path else {
        return default_interpreter();
    };
    static CACHE: Mutex<Vec<(PathBuf, Interpreter)>> = Mutex::new(Vec::new());
    let cached = {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, i)| i.clone())
    };
    if let Some(found) = cached {
        return Ok(found);
    }
    // Probe without holding the lock; a concurrent duplicate probe is harmless.
    let found = probe(path).map_err(Error::Sandbox)?;
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if !cache.iter().any(|(p, _)| p == path) {
        cache.push((path.to_path_buf(), found.clone()));
    }
    Ok(found)
}

fn probe(candidate: &Path) -> Result<Interpreter, String> {
    let mut job = Job::new(candidate, vec!["-c".into(), PROBE.into()]);
    // The candidate may be a shim that needs the caller's environment (pyenv, asdf).
    job.env = Env::Inherit;
    job.limits = Limits {
        wall: Duration::from_secs(30),
        cpu_seconds: 30,
        address_space_bytes: 0,
        ..Limits::default()
    };
    let outcome =
        super::run(&job).map_err(|e| format!("cannot run {}: {e}", candidate.display()))?;
    let stdout = String::from_utf8_lossy(&outcome.stdout);
    let mut lines = stdout.lines();
    let (exe, ver) = (
        lines.next().unwrap_or("").trim(),
        lines.next().unwrap_or(""),
    );
    let mut nums = ver.split_whitespace().map(|s| s.parse::<u32>());
    let version = match (outcome.termination, nums.next(), nums.next()) {
        (Termination::Exited(0), Some(Ok(major)), Some(Ok(minor))) => (major, minor),
        _ => {
            return Err(format!(
                "{} is not a working Python interpreter ({:?}): {}",
                candidate.display(),
                outcome.termination,
                String::from_utf8_lossy(&outcome.stderr).trim()
            ))
        }
    };
    if version.0 < 3 {
        return Err(format!(
            "{} is Python {}.{}; need Python 3",
            candidate.display(),
            version.0,
            version.1
        ));
    }
    let dirs: Vec<PathBuf> = lines
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect();
    let path = if exe.is_empty() {
        candidate.to_path_buf()
    } else {
        PathBuf::from(exe)
    };
    let mut flags: Vec<OsString> = vec!["-s".into(), "-S".into()];
    if version >= (3, 11) {
        flags.push("-P".into());
    }
    Ok(Interpreter {
        path,
        version,
        flags,
        dirs,
    })
}
