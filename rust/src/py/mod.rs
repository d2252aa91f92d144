//! Python bindings: the private module `sfstream._core`.
//!
//! Every binding copies its arguments into owned Rust values, then runs the core function
//! detached from the interpreter through [`detached`], the one place that converts core errors.

use pyo3::prelude::*;

mod code;
mod math;
mod minhash;
mod ngram;

pyo3::create_exception!(_core, SfstreamError, pyo3::exceptions::PyException);
pyo3::create_exception!(_core, InvalidInputError, SfstreamError);
pyo3::create_exception!(_core, SandboxError, SfstreamError);
pyo3::create_exception!(_core, StoppedError, SfstreamError);

impl From<crate::Error> for PyErr {
    fn from(err: crate::Error) -> PyErr {
        match err {
            crate::Error::InvalidInput(msg) => InvalidInputError::new_err(msg),
            crate::Error::Sandbox(msg) => SandboxError::new_err(msg),
            crate::Error::Io(e) => PyErr::from(e),
            crate::Error::Stopped => StoppedError::new_err("stopped by its StopFlag"),
        }
    }
}

/// Runs `f` with the interpreter released and maps a core error to its Python exception.
pub(crate) fn detached<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: Send + FnOnce() -> crate::Result<T>,
{
    py.detach(f).map_err(PyErr::from)
}

#[pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use super::code::{
        py_extract_program, py_run_tests, py_sandbox_capabilities, py_validate_tests, PyStopFlag,
    };
    #[pymodule_export]
    use super::math::{
        py_check_math, py_extract_answer, py_gold_answer, py_last_box, py_normalize_answer,
    };
    #[pymodule_export]
    use super::minhash::{
        py_dedup_tokens, py_minhash_signature, py_shingle_hashes, py_text_keys, PyMinHashIndex,
    };
    #[pymodule_export]
    use super::ngram::{py_ngram_hashes, py_ngram_words, PyNgramIndex};
    #[pymodule_export]
    use super::{InvalidInputError, SandboxError, SfstreamError, StoppedError};

    #[pymodule_export]
    use super::code::py_sandbox_prestart;

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        let judges: Vec<&str> = crate::code::compare::Judge::ALL
            .into_iter()
            .map(crate::code::compare::Judge::name)
            .collect();
        m.add("JUDGE_MODES", pyo3::types::PyTuple::new(m.py(), judges)?)?;
        m.add("DEFAULT_JUDGE", crate::code::compare::Judge::DEFAULT.name())?;
        m.add(
            "DEFAULT_CHECKER_TIME_LIMIT",
            crate::code::DEFAULT_CHECKER_TIME_LIMIT_S,
        )
    }
}
