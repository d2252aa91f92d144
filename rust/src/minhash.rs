//! Exact and near-duplicate detection of texts: a normalised exact key, MinHash signatures over
//! token shingles, and an LSH index of bands.
//!
//! **Tokens** ([`dedup_tokens`]) are the words of [`crate::ngram::normalize_words`] (letters and
//! digits, lower-cased; the LaTeX layout commands `\left`, `\right`, `\displaystyle`,
//! `\textstyle` dropped, `\dfrac` and `\tfrac` read as `\frac`) and, unlike there, every other
//! character that is not whitespace as a token of its own, so `k > 0` and `k < 0`, or
//! `88 \div (4 \div 2)` and `88 \div 4 \div 2`, differ. Markup and sentence punctuation are
//! not tokens: `$`, `{`, `}`, `\`, `.`, `,`, `;`, `:`, `?`, `"`, and any character right after a
//! backslash (`\[`, `\(`, `\,`, `\{`). Each token is hashed with FNV-1a.
//!
//! * The **exact key** of a text is the hash of its whole token sequence, so two texts that
//!   differ only in case, spacing, markup or sentence punctuation have the same key.
//! * A **shingle** is `k` consecutive tokens, hashed like an n-gram of the decontamination
//!   index; a text of fewer than `k` (but at least one) tokens is one shingle of all of them.
//!   The shingle set is the set of distinct hashes.
//! * The **signature** has one value per permutation `i`: the minimum over the shingles `h` of
//!   `(a_i * h + b_i) mod (2^61 - 1)`, where `a_i` (at least 1) and `b_i` are outputs of
//!   SplitMix64 seeded with `seed`, drawn in the order `a_0, b_0, a_1, b_1, ...` and reduced
//!   modulo `2^61 - 1`. The share of positions where two signatures agree estimates the
//!   Jaccard similarity of the two shingle sets.
//! * The **index** cuts a signature into `bands` bands of `rows = num_perm / bands` values.
//!   Texts sharing a whole band are candidates; a candidate whose signature agrees on at least
//!   `threshold` of the positions is a near duplicate. [`MinHashIndex::insert`] keeps a text
//!   unless it is a near duplicate of one kept before it, and then names the first (lowest
//!   number) such text.

use std::collections::{HashMap, HashSet};

use crate::ngram::{combine, tokenize, word_hash};

/// The Mersenne prime `2^61 - 1`, the modulus of the permutations.
pub const MERSENNE_61: u64 = (1 << 61) - 1;

/// The tokens of `text` for duplicate detection (see the module documentation).
pub fn dedup_tokens(text: &str) -> Vec<String> {
    tokenize(text, true)
}

/// The hashes of the tokens of `text`.
fn word_hashes(text: &str) -> Vec<u64> {
    dedup_tokens(text).iter().map(|w| word_hash(w)).collect()
}

/// The exact key of `text`: the hash of its token sequence.
pub fn text_key(text: &str) -> u64 {
    combine(&word_hashes(text))
}

/// The distinct hashes of the `k`-token shingles of `text`, in order of first occurrence (one
/// shingle of all tokens when there are fewer than `k`; none when there is no token or `k` is
/// 0).
pub fn shingle_hashes(text: &str, k: usize) -> Vec<u64> {
    let words = word_hashes(text);
    if words.is_empty() || k == 0 {
        return Vec::new();
    }
    let k = k.min(words.len());
    let mut seen = HashSet::with_capacity(words.len() - k + 1);
    words
        .windows(k)
        .map(combine)
        .filter(|h| seen.insert(*h))
        .collect()
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `x mod (2^61 - 1)` for `x < 2^125`.
fn mod_p(x: u128) -> u64 {
    // 2^61 = 1 (mod p): fold the 61-bit limbs.
    let lo = (x as u64) & MERSENNE_61;
    let mid = ((x >> 61) as u64) & MERSENNE_61;
    let hi = (x >> 122) as u64;
    let mut r = lo + mid + hi;
    while r >= MERSENNE_61 {
        r -= MERSENNE_61;
    }
    r
}

/// Computes MinHash signatures of texts over word shingles.
#[derive(Debug, Clone)]
pub struct MinHasher {
    shingle: usize,
    a: Vec<u64>,
    b: Vec<u64>,
}

impl MinHasher {
    /// A hasher of `num_perm` permutations over word `shingle`-shingles.
    ///
    /// # Errors
    /// `InvalidInput` when `shingle` or `num_perm` is 0.
    pub fn new(shingle: usize, num_perm: usize, seed: u64) -> crate::Result<Self> {
        if shingle == 0 || num_perm == 0 {
            return Err(crate::Error::InvalidInput(
                "shingle size and number of permutations must be at least 1".into(),
            ));
        }
        let mut state = seed;
        let mut a = Vec::with_capacity(num_perm);
        let mut b = Vec::with_capacity(num_perm);
        for _ in 0..num_perm {
            a.push((splitmix64(&mut state) % MERSENNE_61).max(1));
            b.push(splitmix64(&mut state) % MERSENNE_61);
        }
        Ok(Self { shingle, a, b })
    }

    /// The shingle size.
    pub fn shingle(&self) -> usize {
        self.shingle
    }

    /// The number of permutations (values of a signature).
    pub fn num_perm(&self) -> usize {
        self.a.len()
    }

    /// The signature of a set of shingle hashes; None when it is empty.
    pub fn signature_of(&self, shingles: &[u64]) -> Option<Vec<u64>> {
        if shingles.is_empty() {
            return None;
        }
        let mut sig = vec![u64::MAX; self.a.len()];
        for &h in shingles {
            let h = u128::from(h);
            for ((m, &a), &b) in sig.iter_mut().zip(&self.a).zip(&self.b) {
                let v = mod_p(u128::from(a) * h + u128::from(b));
                if v < *m {
                    *m = v;
                }
            }
        }
        Some(sig)
    }

    /// The signature of `text`; None when it has no token.
    pub fn signature(&self, text: &str) -> Option<Vec<u64>> {
        self.signature_of(&shingle_hashes(text, self.shingle))
    }
}

/// The share of positions where two signatures agree (the MinHash estimate of the Jaccard
/// similarity of their shingle sets).
pub fn estimated_jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / a.len() as f64
}

/// An LSH index of MinHash signatures that keeps texts unless they near-duplicate a kept one.
#[derive(Debug, Clone)]
pub struct MinHashIndex {
    hasher: MinHasher,
    bands: usize,
    threshold: f64,
    buckets: Vec<HashMap<u64, Vec<u32>>>,
    /// Signatures of the kept texts, by their number among all inserted texts.
    kept: HashMap<u32, Vec<u64>>,
    inserted: u32,
}

impl MinHashIndex {
    /// An empty index.
    ///
    /// # Errors
    /// `InvalidInput` when `bands` is 0 or does not divide `num_perm`, or `threshold` is not in
    /// `[0, 1]`.
    pub fn new(
        shingle: usize,
        num_perm: usize,
        bands: usize,
        threshold: f64,
        seed: u64,
    ) -> crate::Result<Self> {
        let hasher = MinHasher::new(shingle, num_perm, seed)?;
        if bands == 0 || num_perm % bands != 0 {
            return Err(crate::Error::InvalidInput(format!(
                "bands ({bands}) must be at least 1 and divide the number of permutations \
                 ({num_perm})"
            )));
        }
        if !(0.0..=1.0).contains(&threshold) {
            return Err(crate::Error::InvalidInput(format!(
                "threshold must be between 0 and 1, got {threshold}"
            )));
        }
        Ok(Self {
            hasher,
            bands,
            threshold,
            buckets: vec![HashMap::new(); bands],
            kept: HashMap::new(),
            inserted: 0,
        })
    }

    /// The hasher of this index.
    pub fn hasher(&self) -> &MinHasher {
        &self.hasher
    }

    /// Texts inserted so far (kept or not).
    pub fn inserted(&self) -> u32 {
        self.inserted
    }

    /// Texts kept (indexed) so far.
    pub fn kept(&self) -> usize {
        self.kept.len()
    }

    fn rows(&self) -> usize {
        self.hasher.num_perm() / self.bands
    }

    /// The first kept text (lowest number) that `sig` near-duplicates.
    fn find(&self, sig: &[u64]) -> Option<u32> {
        let rows = self.rows();
        let mut best: Option<u32> = None;
        let mut checked = HashSet::new();
        for (band, bucket) in self.buckets.iter().enumerate() {
            let key = combine(&sig[band * rows..(band + 1) * rows]);
            let Some(docs) = bucket.get(&key) else {
                continue;
            };
            for &doc in docs {
                if best.is_some_and(|b| b <= doc) || !checked.insert(doc) {
                    continue;
                }
                let other = &self.kept[&doc];
                if estimated_jaccard(sig, other) >= self.threshold {
                    best = Some(doc);
                }
            }
        }
        best
    }

    /// Inserts the next text (numbered in insertion order from 0): returns the number of the
    /// kept text it near-duplicates (and does not keep it), or None (and keeps it). A text
    /// without tokens is never a near duplicate and is not indexed.
    pub fn insert(&mut self, text: &str) -> Option<u32> {
        let number = self.inserted;
        self.inserted += 1;
        let sig = self.hasher.signature(text)?;
        if let Some(doc) = self.find(&sig) {
            return Some(doc);
        }
        let rows = self.rows();
        for (band, bucket) in self.buckets.iter_mut().enumerate() {
            let key = combine(&sig[band * rows..(band + 1) * rows]);
            bucket.entry(key).or_default().push(number);
        }
        self.kept.insert(number, sig);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_key_ignores_case_markup_and_spacing_but_not_operators() {
        assert_eq!(text_key("What is $1+1$?"), text_key("what   IS 1 + 1"));
        assert_eq!(
            text_key(r"Compute $\left|\pi - | \pi - 7 | \right|$."),
            text_key("Compute\n\\[|\\pi - |\\pi - 7||.\\]")
        );
        assert_ne!(text_key("what is 1+1"), text_key("what is 1+2"));
        assert_ne!(text_key("where k > 0"), text_key("where k < 0"));
        assert_ne!(
            text_key(r"What is $88 \div (4 \div 2)$?"),
            text_key(r"What is $88 \div 4 \div 2$?")
        );
        assert_ne!(text_key("2.5"), text_key("25"));
        assert_ne!(text_key("a b"), text_key("b a"));
    }

    #[test]
    fn tokens_keep_symbols_and_drop_markup() {
        assert_eq!(
            dedup_tokens(r"Find $\dfrac{x^2}{y_1}$, \[f'(x) \ge 0.\] \$5\,\%"),
            [
                "find", "frac", "x", "^", "2", "y", "_", "1", "f", "'", "(", "x", ")", "ge", "0",
                "5"
            ]
        );
        assert!(dedup_tokens(" $.,; ").is_empty());
    }

    #[test]
    fn shingles_of_short_texts_are_one_shingle() {
        assert_eq!(shingle_hashes("a b c d e f", 5).len(), 2);
        assert_eq!(shingle_hashes("a b", 5).len(), 1);
        assert_eq!(shingle_hashes("a b", 5), shingle_hashes("A, b.", 5));
        assert!(shingle_hashes(" ;; ", 5).is_empty());
        assert!(shingle_hashes("a b", 0).is_empty());
    }

    #[test]
    fn mod_p_matches_u128_remainder() {
        let p = u128::from(MERSENNE_61);
        for x in [
            0u128,
            p - 1,
            p,
            p + 1,
            u128::from(u64::MAX),
            (p - 1) * u128::from(u64::MAX) + (p - 1),
        ] {
            assert_eq!(u128::from(mod_p(x)), x % p, "{x}");
        }
    }

    #[test]
    fn estimate_is_one_for_equal_sets_and_low_for_disjoint() {
        let h = MinHasher::new(2, 128, 1).unwrap();
        let a = h
            .signature("the quick brown fox jumps over the lazy dog")
            .unwrap();
        let b = h
            .signature("The quick, brown fox jumps over the lazy dog.")
            .unwrap();
        assert!((estimated_jaccard(&a, &b) - 1.0).abs() < f64::EPSILON);
        let c = h
            .signature("completely different words appear in this one")
            .unwrap();
        assert!(estimated_jaccard(&a, &c) < 0.1);
        assert!(h.signature("").is_none());
        assert!(MinHasher::new(0, 4, 0).is_err());
    }

    #[test]
    fn index_keeps_first_and_names_it_for_near_duplicates() {
        let mut index = MinHashIndex::new(2, 64, 16, 0.5, 7).unwrap();
        let base = "one two three four five six seven eight nine ten eleven twelve";
        assert_eq!(index.insert(base), None);
        assert_eq!(
            index.insert("alpha beta gamma delta epsilon zeta eta"),
            None
        );
        // One word changed at the end: 10 of 12 shingles shared.
        let near = "one two three four five six seven eight nine ten eleven thirteen";
        assert_eq!(index.insert(near), Some(0));
        assert_eq!(index.insert(""), None);
        assert_eq!(index.inserted(), 4);
        assert_eq!(index.kept(), 2);
        assert!(MinHashIndex::new(5, 128, 3, 0.8, 0).is_err());
        assert!(MinHashIndex::new(5, 128, 16, 1.5, 0).is_err());
    }
}
