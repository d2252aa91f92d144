//! Bindings for the math checker: `extract_answer`, `last_box`, `gold_answer`,
//! `normalize_answer`, `check_math`.

use pyo3::prelude::*;

use super::detached;
use crate::math;

/// The final answer of a model completion (last `\boxed{}` / `\fbox{}`, else the last answer
/// phrase; un-anchored, else the last math span or number), or `None`.
#[pyfunction]
#[pyo3(name = "extract_answer", signature = (text, anchored = true, strict = false))]
pub fn py_extract_answer(
    py: Python<'_>,
    text: String,
    anchored: bool,
    strict: bool,
) -> PyResult<Option<String>> {
    detached(py, move || {
        Ok(math::extract_answer_opts(&text, anchored, strict))
    })
}

/// The content of the last complete, non-empty `\boxed{}` / `\fbox{}` of a reference
/// solution, or `None`.
#[pyfunction]
#[pyo3(name = "last_box")]
pub fn py_last_box(py: Python<'_>, text: String) -> PyResult<Option<String>> {
    detached(py, move || Ok(math::last_box(&text)))
}

/// The final answer of a gold as `check_math` compares it (the box of a gold written as a
/// full solution, else the gold itself).
#[pyfunction]
#[pyo3(name = "gold_answer")]
pub fn py_gold_answer(py: Python<'_>, gold: String) -> PyResult<String> {
    detached(py, move || Ok(math::gold_answer(&gold)))
}

/// The canonical form of an answer string used for comparison.
#[pyfunction]
#[pyo3(name = "normalize_answer")]
pub fn py_normalize_answer(py: Python<'_>, text: String) -> PyResult<String> {
    detached(py, move || Ok(math::normalize_answer(&text)))
}

/// Checks a completion against a gold answer: `(status, extracted, detail)` with status one of
/// `correct`, `wrong_answer`, `no_answer`, `undecided`.
#[pyfunction]
#[pyo3(
    name = "check_math",
    signature = (completion, gold, anchored = true, strict = false, rel_tol = 0.0)
)]
pub fn py_check_math(
    py: Python<'_>,
    completion: String,
    gold: String,
    anchored: bool,
    strict: bool,
    rel_tol: f64,
) -> PyResult<(String, Option<String>, Option<String>)> {
    detached(py, move || {
        let opts = math::MathOptions {
            anchored,
            strict,
            rel_tol,
        };
        let check = math::check_math_opts(&completion, &gold, &opts);
        Ok((
            check.status.as_str().to_string(),
            check.extracted,
            check.detail,
        ))
    })
}
