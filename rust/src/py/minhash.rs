//! Bindings for duplicate detection: `dedup_tokens`, `text_keys`, `shingle_hashes`,
//! `minhash_signature` and the `MinHashIndex` class.

use pyo3::prelude::*;

use super::detached;
use crate::minhash;

/// The tokens of a text for duplicate detection.
#[pyfunction]
#[pyo3(name = "dedup_tokens")]
pub fn py_dedup_tokens(py: Python<'_>, text: String) -> PyResult<Vec<String>> {
    detached(py, move || Ok(minhash::dedup_tokens(&text)))
}

/// The exact keys of texts: the 64-bit hash of each text's tokens.
#[pyfunction]
#[pyo3(name = "text_keys")]
pub fn py_text_keys(py: Python<'_>, texts: Vec<String>) -> PyResult<Vec<u64>> {
    detached(py, move || {
        Ok(texts.iter().map(|t| minhash::text_key(t)).collect())
    })
}

/// The distinct hashes of the `k`-token shingles of a text, in order of first occurrence.
#[pyfunction]
#[pyo3(name = "shingle_hashes")]
pub fn py_shingle_hashes(py: Python<'_>, text: String, k: usize) -> PyResult<Vec<u64>> {
    detached(py, move || Ok(minhash::shingle_hashes(&text, k)))
}

/// The MinHash signature of a text (None when it has no token).
#[pyfunction]
#[pyo3(name = "minhash_signature", signature = (text, shingle = 5, num_perm = 128, seed = 0))]
pub fn py_minhash_signature(
    py: Python<'_>,
    text: String,
    shingle: usize,
    num_perm: usize,
    seed: u64,
) -> PyResult<Option<Vec<u64>>> {
    detached(py, move || {
        Ok(minhash::MinHasher::new(shingle, num_perm, seed)?.signature(&text))
    })
}

/// An LSH index of MinHash signatures: `insert` keeps each text unless it near-duplicates a
/// text kept before it.
#[pyclass(name = "MinHashIndex", module = "sfstream._core")]
pub struct PyMinHashIndex {
    inner: minhash::MinHashIndex,
    bands: usize,
    threshold: f64,
    seed: u64,
}

#[pymethods]
impl PyMinHashIndex {
    #[new]
    #[pyo3(signature = (shingle = 5, num_perm = 128, bands = 16, threshold = 0.8, seed = 0))]
    fn new(
        shingle: usize,
        num_perm: usize,
        bands: usize,
        threshold: f64,
        seed: u64,
    ) -> PyResult<Self> {
        Ok(Self {
            inner: minhash::MinHashIndex::new(shingle, num_perm, bands, threshold, seed)?,
            bands,
            threshold,
            seed,
        })
    }

    /// The shingle size in words.
    #[getter]
    fn shingle(&self) -> usize {
        self.inner.hasher().shingle()
    }

    /// The number of permutations.
    #[getter]
    fn num_perm(&self) -> usize {
        self.inner.hasher().num_perm()
    }

    /// The number of bands.
    #[getter]
    fn bands(&self) -> usize {
        self.bands
    }

    /// The estimated Jaccard similarity at which a candidate is a near duplicate.
    #[getter]
    fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The seed of the permutations.
    #[getter]
    fn seed(&self) -> u64 {
        self.seed
    }

    /// Texts inserted so far (kept or not).
    #[getter]
    fn inserted(&self) -> u32 {
        self.inner.inserted()
    }

    /// Texts kept so far.
    fn __len__(&self) -> usize {
        self.inner.kept()
    }

    /// Inserts texts in order (numbered from 0 over all insertions); for each, the number of
    /// the kept text it near-duplicates (it is then not kept), or None (it is kept).
    fn insert(&mut self, py: Python<'_>, texts: Vec<String>) -> PyResult<Vec<Option<u32>>> {
        let inner = &mut self.inner;
        detached(py, move || {
            Ok(texts.iter().map(|t| inner.insert(t)).collect())
        })
    }
}
