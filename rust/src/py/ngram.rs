//! Bindings for n-gram overlap: `ngram_words`, `ngram_hashes` and the `NgramIndex` class.

use pyo3::prelude::*;

use super::detached;
use crate::ngram;

/// The words of a text after the decontamination normalisation.
#[pyfunction]
#[pyo3(name = "ngram_words")]
pub fn py_ngram_words(py: Python<'_>, text: String) -> PyResult<Vec<String>> {
    detached(py, move || Ok(ngram::normalize_words(&text)))
}

/// The distinct 64-bit hashes of the word `n`-grams of a text, in order of first occurrence.
#[pyfunction]
#[pyo3(name = "ngram_hashes")]
pub fn py_ngram_hashes(py: Python<'_>, text: String, n: usize) -> PyResult<Vec<u64>> {
    detached(py, move || Ok(ngram::ngram_hashes(&text, n)))
}

/// One text's overlap as Python sees it: `(distinct n-grams, [(document, shared), ...])`.
type PyOverlap = (u32, Vec<(u32, u32)>);

/// The word n-grams of reference documents; `query` finds the documents a text shares
/// n-grams with.
#[pyclass(name = "NgramIndex", module = "sfstream._core")]
pub struct PyNgramIndex(ngram::NgramIndex);

#[pymethods]
impl PyNgramIndex {
    #[new]
    fn new(n: usize) -> PyResult<Self> {
        Ok(Self(ngram::NgramIndex::new(n)?))
    }

    /// The n-gram size.
    #[getter]
    fn n(&self) -> usize {
        self.0.n()
    }

    /// Distinct n-grams over all documents.
    #[getter]
    fn ngram_count(&self) -> usize {
        self.0.ngram_count()
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }

    /// Adds documents; returns the index of the first (documents are numbered in order).
    fn add(&mut self, py: Python<'_>, texts: Vec<String>) -> PyResult<u32> {
        let inner = &mut self.0;
        detached(py, move || {
            let first = u32::try_from(inner.len()).map_err(|_| {
                crate::Error::InvalidInput("too many documents in one index".into())
            })?;
            for text in &texts {
                inner.add(text);
            }
            Ok(first)
        })
    }

    /// Adds documents given by the hashes of their n-grams (from `ngram_hashes` with this
    /// index's n); returns the index of the first.
    fn add_hashes(&mut self, py: Python<'_>, docs: Vec<Vec<u64>>) -> PyResult<u32> {
        let inner = &mut self.0;
        detached(py, move || {
            let first = u32::try_from(inner.len()).map_err(|_| {
                crate::Error::InvalidInput("too many documents in one index".into())
            })?;
            for hashes in &docs {
                inner.add_hashes(hashes);
            }
            Ok(first)
        })
    }

    /// For each text, `(distinct n-grams, [(document, shared n-grams), ...])`, most shared
    /// first; only documents sharing at least one n-gram are listed.
    fn query(&self, py: Python<'_>, texts: Vec<String>) -> PyResult<Vec<PyOverlap>> {
        let inner = &self.0;
        detached(py, move || {
            Ok(texts
                .iter()
                .map(|t| {
                    let o = inner.query(t);
                    (o.total, o.hits.iter().map(|h| (h.doc, h.shared)).collect())
                })
                .collect())
        })
    }
}
