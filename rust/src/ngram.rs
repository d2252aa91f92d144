//! Word n-gram overlap between texts and a set of reference documents (decontamination).
//!
//! Normalisation (the same rule as `sfstream.decontaminate.normalize_words`):
//!
//! 1. the layout-only LaTeX commands `\left`, `\right`, `\displaystyle`, `\textstyle` are
//!    removed, and `\dfrac` / `\tfrac` are read as `\frac`;
//! 2. the text is lower-cased;
//! 3. every character that is not alphanumeric (punctuation, `$`, `\`, braces, `^`, `_`,
//!    whitespace, ...) separates words, so LaTeX markup folds into its command names and
//!    arguments (`\frac{1}{2}` gives the words `frac 1 2`) and runs of whitespace collapse.
//!
//! An n-gram is n consecutive words; it is hashed to 64 bits (FNV-1a per word, then combined
//! in order). A text with fewer than n words has no n-grams and never matches.

use std::collections::{HashMap, HashSet};

/// LaTeX commands that only change layout; they are dropped before splitting into words.
const DROPPED: [&str; 4] = ["left", "right", "displaystyle", "textstyle"];

/// The words of `text` after normalisation (see the module documentation).
pub fn normalize_words(text: &str) -> Vec<String> {
    tokenize(text, false)
}

/// Markup and sentence punctuation, never tokens of their own with `symbols`.
const NOT_TOKENS: &str = "${}\\.,;:?\"";

/// The words of `text` as [`normalize_words`] reads them; with `symbols`, also every other
/// character that is neither whitespace, markup nor sentence punctuation ([`NOT_TOKENS`], or any
/// character right after a backslash) as a token of its own (`crate::minhash::dedup_tokens`).
pub(crate) fn tokenize(text: &str, symbols: bool) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut after_backslash = false;
    let mut command = false;
    let flush = |current: &mut String, command: bool, words: &mut Vec<String>| {
        if current.is_empty() {
            return;
        }
        let word = std::mem::take(current);
        if command {
            if DROPPED.contains(&word.as_str()) {
                return;
            }
            if word == "dfrac" || word == "tfrac" {
                words.push("frac".to_string());
                return;
            }
        }
        words.push(word);
    };
    for ch in text.chars() {
        if ch.is_alphanumeric() {
            if current.is_empty() {
                command = after_backslash && ch.is_ascii_alphabetic();
            } else if command && !ch.is_ascii_alphabetic() {
                // A command name is letters only: `\frac12` is `frac` then `12`.
                flush(&mut current, true, &mut words);
                command = false;
            }
            current.extend(ch.to_lowercase());
            after_backslash = false;
            continue;
        }
        flush(&mut current, command, &mut words);
        command = false;
        if !symbols {
            after_backslash = ch == '\\';
            continue;
        }
        if after_backslash {
            after_backslash = false; // an escaped symbol or spacing command: markup
            if !ch.is_whitespace() {
                continue;
            }
        }
        if ch == '\\' {
            after_backslash = true;
        } else if !ch.is_whitespace() && !NOT_TOKENS.contains(ch) {
            words.push(ch.to_string());
        }
    }
    flush(&mut current, command, &mut words);
    words
}

pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
pub(crate) const FNV_PRIME: u64 = 0x0100_0000_01b3;

pub(crate) fn word_hash(word: &str) -> u64 {
    word.bytes().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// The hash of a sequence of word hashes (one n-gram), combined in order.
pub(crate) fn combine(words: &[u64]) -> u64 {
    words.iter().fold(FNV_OFFSET, |acc, &w| {
        (acc.rotate_left(5) ^ w).wrapping_mul(FNV_PRIME)
    })
}

/// The distinct hashes of the word n-grams of `text` (empty when it has fewer than `n` words
/// or `n` is 0).
pub fn ngram_hashes(text: &str, n: usize) -> Vec<u64> {
    let words: Vec<u64> = normalize_words(text).iter().map(|w| word_hash(w)).collect();
    if n == 0 || words.len() < n {
        return Vec::new();
    }
    let mut seen = HashSet::with_capacity(words.len() - n + 1);
    let mut out = Vec::with_capacity(words.len() - n + 1);
    for window in words.windows(n) {
        let h = combine(window);
        if seen.insert(h) {
            out.push(h);
        }
    }
    out
}

/// One reference document a text shares n-grams with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The document's index (the order it was added in).
    pub doc: u32,
    /// Distinct n-grams the text shares with the document.
    pub shared: u32,
}

/// The result of checking one text: its number of distinct n-grams and the documents it
/// shares any with, most shared first (ties by document index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlap {
    /// Distinct n-grams of the text.
    pub total: u32,
    /// Documents sharing at least one n-gram.
    pub hits: Vec<Hit>,
}

/// The n-grams of a set of reference documents, for overlap queries.
#[derive(Debug, Clone)]
pub struct NgramIndex {
    n: usize,
    docs: u32,
    postings: HashMap<u64, Vec<u32>>,
}

impl NgramIndex {
    /// An empty index of word `n`-grams.
    ///
    /// # Errors
    /// `InvalidInput` when `n` is 0.
    pub fn new(n: usize) -> crate::Result<Self> {
        if n == 0 {
            return Err(crate::Error::InvalidInput(
                "n-gram size must be at least 1".into(),
            ));
        }
        Ok(Self {
            n,
            docs: 0,
            postings: HashMap::new(),
        })
    }

    /// The n-gram size.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Documents added so far.
    pub fn len(&self) -> usize {
        self.docs as usize
    }

    /// Whether no document was added.
    pub fn is_empty(&self) -> bool {
        self.docs == 0
    }

    /// Distinct n-grams over all documents.
    pub fn ngram_count(&self) -> usize {
        self.postings.len()
    }

    /// Adds a document and returns its index.
    pub fn add(&mut self, text: &str) -> u32 {
        let doc = self.docs;
        self.docs += 1;
        for h in ngram_hashes(text, self.n) {
            self.postings.entry(h).or_default().push(doc);
        }
        doc
    }

    /// Adds a document given by the hashes of its n-grams (as [`ngram_hashes`] makes them,
    /// for this index's n) and returns its index.
    pub fn add_hashes(&mut self, hashes: &[u64]) -> u32 {
        let doc = self.docs;
        self.docs += 1;
        let mut seen = HashSet::with_capacity(hashes.len());
        for &h in hashes {
            if seen.insert(h) {
                self.postings.entry(h).or_default().push(doc);
            }
        }
        doc
    }

    /// The overlap of `text` with the documents.
    pub fn query(&self, text: &str) -> Overlap {
        let grams = ngram_hashes(text, self.n);
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for h in &grams {
            if let Some(docs) = self.postings.get(h) {
                for &d in docs {
                    *counts.entry(d).or_insert(0) += 1;
                }
            }
        }
        let mut hits: Vec<Hit> = counts
            .into_iter()
            .map(|(doc, shared)| Hit { doc, shared })
            .collect();
        hits.sort_by(|a, b| b.shared.cmp(&a.shared).then(a.doc.cmp(&b.doc)));
        Overlap {
            total: u32::try_from(grams.len()).unwrap_or(u32::MAX),
            hits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_folds_case_punctuation_and_latex() {
        assert_eq!(
            normalize_words("What is $\\dfrac{1}{2}$ of   THE sum,\n\\left( x^2 \\right)?"),
            ["what", "is", "frac", "1", "2", "of", "the", "sum", "x", "2"]
        );
        assert_eq!(normalize_words("\\frac12"), ["frac", "12"]);
        assert!(normalize_words(" .,;$ ").is_empty());
    }

    #[test]
    fn hashes_are_distinct_per_ngram_and_order_sensitive() {
        assert_eq!(ngram_hashes("a b c", 2).len(), 2);
        assert_eq!(ngram_hashes("a b a b", 2).len(), 2);
        assert!(ngram_hashes("a b", 3).is_empty());
        assert_ne!(ngram_hashes("a b", 2), ngram_hashes("b a", 2));
        assert_eq!(ngram_hashes("A, b!", 2), ngram_hashes("a b", 2));
    }

    #[test]
    fn query_counts_shared_ngrams_per_document() {
        let mut index = NgramIndex::new(3).unwrap();
        assert_eq!(index.add("one two three four five"), 0);
        assert_eq!(index.add("seven eight nine ten"), 1);
        let o = index.query("x one two three four y");
        assert_eq!(o.total, 4);
        assert_eq!(o.hits, vec![Hit { doc: 0, shared: 2 }]);
        assert!(index.query("two one three").hits.is_empty());
        assert!(NgramIndex::new(0).is_err());
        let mut hashed = NgramIndex::new(3).unwrap();
        hashed.add_hashes(&ngram_hashes("one two three four five", 3));
        hashed.add_hashes(&ngram_hashes("seven eight nine ten", 3));
        assert_eq!(hashed.query("x one two three four y"), o);
    }
}
