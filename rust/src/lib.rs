//! The native core of sfstream: synchronous, plain-Rust functions over Rust types.
//!
//! * [`math`] extracts final answers from model completions and compares them with gold answers.
//! * [`code`] extracts programs from completions and checks them against test cases.
//! * [`ngram`] finds word n-gram overlap between texts and reference documents.
//! * [`minhash`] finds exact and near-duplicate texts (MinHash over word shingles, LSH bands).
//! * [`sandbox`] runs untrusted programs under resource limits; it is the only module that spawns
//!   processes.
//!
//! The Python bindings live in `py` behind the `python` feature, so the core builds and tests
//! without libpython.

pub mod code;
pub mod error;
pub mod math;
pub mod minhash;
pub mod ngram;
pub mod sandbox;

#[cfg(feature = "python")]
mod py;

pub use error::{Error, Result};
