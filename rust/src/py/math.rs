use pyo3::prelude::*;
#[pyfunction]
#[pyo3(name = "extract_answer")]
pub fn py_extract_answer(text: &str) -> Option<String> { let _ = text; None }
#[pyfunction]
#[pyo3(name = "normalize_answer")]
pub fn py_normalize_answer(text: &str) -> String { text.to_string() }
#[pyfunction]
#[pyo3(name = "check_math")]
pub fn py_check_math(completion: &str, gold: &str) -> (String, Option<String>, Option<String>) { let _ = (completion, gold); ("no_answer".into(), None, None) }
