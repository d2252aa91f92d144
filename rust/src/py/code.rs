//! Bindings for [`crate::code`]: program extraction and test running.

use std::path::PathBuf;

use pyo3::prelude::*;

use super::detached;
use crate::code::{self, RunOptions};
use crate::sandbox::Stop;

/// A flag that stops `run_tests` calls it was passed to: once `set()`, each such call kills the
/// processes of its running test case within a few tens of milliseconds, starts no other, and
/// raises `StoppedError`. Thread-safe; it stays set.
#[pyclass(name = "StopFlag", module = "sfstream._core", frozen)]
#[derive(Default)]
pub struct PyStopFlag(Stop);

#[pymethods]
impl PyStopFlag {
    #[new]
    fn new() -> Self {
        PyStopFlag::default()
    }

    /// Sets the flag.
    fn set(&self) {
        self.0.set();
    }

    /// Whether the flag is set.
    fn is_set(&self) -> bool {
        self.0.is_set()
    }
}

/// The program in a completion (last fenced Python block, preferring the one after
/// "Here's my final solution:"), or None.
#[pyfunction]
#[pyo3(name = "extract_program")]
pub fn py_extract_program(py: Python<'_>, text: String) -> PyResult<Option<String>> {
    detached(py, move || Ok(code::extract_program(&text)))
}

/// Validates a test specification (JSON text) without running anything: the checks `run_tests`
/// makes first (shape, judge mode, checker). Raises `InvalidInputError` with the reason.
#[pyfunction]
#[pyo3(name = "validate_tests")]
pub fn py_validate_tests(py: Python<'_>, tests_json: String) -> PyResult<()> {
    detached(py, move || code::validate_tests(&tests_json))
}

/// Runs `program` against `tests_json` in sandboxed subprocesses, with the GIL released.
///
/// Returns `(status, passed, total, detail, [(case_status, case_detail, wall_s, cpu_s,
/// peak_rss_bytes), ...])`. Raises
/// `InvalidInputError` for malformed tests or options, `SandboxError` if no process can be
/// started and `StoppedError` once `stop` (a `StopFlag`) is set; failures of the program
/// itself are statuses.
#[pyfunction]
#[pyo3(
    name = "run_tests",
    signature = (
        program,
        tests_json,
        time_limit = 4.0,
        memory_mb = 1024,
        output_limit = 1_048_576,
        stop_on_first_failure = true,
        python = None,
        fork_server = true,
        *,
        stop = None
    )
)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn py_run_tests(
    py: Python<'_>,
    program: String,
    tests_json: String,
    time_limit: f64,
    memory_mb: u64,
    output_limit: usize,
    stop_on_first_failure: bool,
    python: Option<PathBuf>,
    fork_server: bool,
    stop: Option<PyRef<'_, PyStopFlag>>,
) -> PyResult<(
    String,
    usize,
    usize,
    Option<String>,
    Vec<(String, Option<String>, f64, f64, u64)>,
)> {
    let opts = RunOptions {
        time_limit_s: time_limit,
        memory_mb,
        output_limit_bytes: output_limit,
        stop_on_first_failure,
        python,
        fork_server,
        stop: stop.map(|flag| flag.0.clone()),
    };
    let check = detached(py, move || code::run_tests(&program, &tests_json, &opts))?;
    let cases = check
        .cases
        .into_iter()
        .map(|c| {
            (
                c.status.as_str().to_string(),
                c.detail,
                c.wall.as_secs_f64(),
                c.cpu.as_secs_f64(),
                c.max_rss_bytes,
            )
        })
        .collect();
    Ok((
        check.status.as_str().to_string(),
        check.passed,
        check.total,
        check.detail,
        cases,
    ))
}

/// Starts fork servers for `python` (None = the default interpreter) in the background until
/// `count` exist, so that the first `count` concurrent callers find them warm. Does nothing
/// where servers cannot run.
#[pyfunction]
#[pyo3(name = "sandbox_prestart", signature = (count, python = None))]
pub fn py_sandbox_prestart(py: Python<'_>, count: usize, python: Option<PathBuf>) -> PyResult<()> {
    detached(py, move || {
        let interp = crate::sandbox::interpreter(python.as_deref())?;
        code::prestart(&interp, count);
        Ok(())
    })
}

/// The sandbox protections active on this machine, as `{name: bool}`, plus
/// `"fork_server"` (false once a server failed to start) and `"note"`: one line saying what the
/// kernel refused and what remains, or None when everything is active.
#[pyfunction]
#[pyo3(name = "sandbox_capabilities")]
pub fn py_sandbox_capabilities(py: Python<'_>) -> PyResult<Vec<(String, Py<PyAny>)>> {
    let caps = detached(py, || Ok(crate::sandbox::capabilities().clone()))?;
    let mut out: Vec<(String, Py<PyAny>)> = Vec::new();
    for (name, on) in caps.items() {
        out.push((
            name.to_string(),
            on.into_pyobject(py)?.to_owned().into_any().unbind(),
        ));
    }
    let served = crate::sandbox::forkserver::start_failure().is_none();
    out.push((
        "fork_server".into(),
        served.into_pyobject(py)?.to_owned().into_any().unbind(),
    ));
    let note = caps.describe_missing();
    out.push(("note".into(), note.into_pyobject(py)?.into_any().unbind()));
    Ok(out)
}
