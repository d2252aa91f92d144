"""A plain Python implementation of the near-duplicate rule of ``sfstream._core.MinHashIndex``.

What a user would write by hand from docs/records.md: the same tokens (a regular expression
for the normalisation), FNV-1a word hashes combined into shingle hashes, SplitMix64 for the
permutation coefficients, ``(a * h + b) mod (2^61 - 1)``, bands as tuples of values in one
dict per band, and the share of agreeing signature values against the threshold. The tests
check that it computes the very signatures of the core; the benchmark times both.
"""

from __future__ import annotations

import re

P61 = (1 << 61) - 1
M64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
# A LaTeX command name; a backslash and the symbol after it (markup); a run of letters and
# digits; any other symbol except whitespace, markup and sentence punctuation.
TOKEN = re.compile(r'\\([A-Za-z]+)|\\(?:[^\w\s]|_)|([^\W_]+)|([^\w\s${}\\.,;:?"]|_)')
DROPPED = {"left", "right", "displaystyle", "textstyle"}


def words(text: str) -> list[str]:
    """The tokens of ``text`` (``sfstream._core.MinHashIndex``'s rule)."""
    out = []
    for m in TOKEN.finditer(text):
        command, word, symbol = m.group(1), m.group(2), m.group(3)
        if command is not None:
            name = command.lower()
            if name not in DROPPED:
                out.append("frac" if name in ("dfrac", "tfrac") else name)
        elif word is not None:
            out.append(word.lower())
        elif symbol is not None:
            out.append(symbol)
    return out


def word_hash(word: str) -> int:
    h = FNV_OFFSET
    for b in word.encode():
        h = ((h ^ b) * FNV_PRIME) & M64
    return h


def combine(hashes: list[int] | tuple[int, ...]) -> int:
    acc = FNV_OFFSET
    for w in hashes:
        acc = ((((acc << 5) | (acc >> 59)) & M64 ^ w) * FNV_PRIME) & M64
    return acc


def text_key(text: str) -> int:
    return combine([word_hash(w) for w in words(text)])


def shingles(text: str, k: int) -> list[int]:
    hashes = [word_hash(w) for w in words(text)]
    if not hashes:
        return []
    k = min(k, len(hashes))
    out: dict[int, None] = {}
    for i in range(len(hashes) - k + 1):
        out.setdefault(combine(hashes[i : i + k]))
    return list(out)


def permutations(num_perm: int, seed: int) -> list[tuple[int, int]]:
    state = seed & M64

    def next_value() -> int:
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    out = []
    for _ in range(num_perm):
        a = max(next_value() % P61, 1)
        b = next_value() % P61
        out.append((a, b))
    return out


def signature(text: str, k: int, perms: list[tuple[int, int]]) -> list[int] | None:
    sh = shingles(text, k)
    if not sh:
        return None
    return [min((a * h + b) % P61 for h in sh) for a, b in perms]


class PlainMinHashIndex:
    """Keeps each text unless a kept text shares a band with it and agrees on at least
    ``threshold`` of the signature values; then names the first such kept text."""

    def __init__(
        self, shingle: int = 5, num_perm: int = 128, bands: int = 16, threshold: float = 0.8
    ) -> None:
        self.k = shingle
        self.perms = permutations(num_perm, 0)
        self.rows = num_perm // bands
        self.bands: list[dict[tuple[int, ...], list[int]]] = [{} for _ in range(bands)]
        self.threshold = threshold
        self.kept: dict[int, list[int]] = {}
        self.count = 0

    def insert(self, text: str) -> int | None:
        number = self.count
        self.count += 1
        sig = signature(text, self.k, self.perms)
        if sig is None:
            return None
        r = self.rows
        keys = [tuple(sig[j * r : (j + 1) * r]) for j in range(len(self.bands))]
        candidates = {
            d for band, key in zip(self.bands, keys, strict=True) for d in band.get(key, ())
        }
        for d in sorted(candidates):
            other = self.kept[d]
            equal = sum(x == y for x, y in zip(sig, other, strict=True))
            if equal / len(sig) >= self.threshold:
                return d
        for band, key in zip(self.bands, keys, strict=True):
            band.setdefault(key, []).append(number)
        self.kept[number] = sig
        return None
