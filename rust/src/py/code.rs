use pyo3::prelude::*;
#[pyfunction]
#[pyo3(name = "extract_program")]
pub fn py_extract_program(text: &str) -> Option<String> { let _ = text; None }
#[pyfunction]
#[pyo3(name = "run_tests")]
pub fn py_run_tests(program: &str) -> String { program.to_string() }
