"""The native core of sfstream (Rust). Every function releases the GIL while it works."""

from typing import final

__all__ = [
    "DEFAULT_CHECKER_TIME_LIMIT",
    "DEFAULT_JUDGE",
    "JUDGE_MODES",
    "InvalidInputError",
    "MinHashIndex",
    "NgramIndex",
    "SandboxError",
    "SfstreamError",
    "StopFlag",
    "StoppedError",
    "__version__",
    "check_math",
    "dedup_tokens",
    "extract_answer",
    "extract_program",
    "gold_answer",
    "last_box",
    "minhash_signature",
    "ngram_hashes",
    "ngram_words",
    "normalize_answer",
    "run_tests",
    "sandbox_capabilities",
    "sandbox_prestart",
    "shingle_hashes",
    "text_keys",
    "validate_tests",
]

__version__: str
#: The judge modes a test spec may name in ``judge``.
JUDGE_MODES: tuple[str, ...]
#: The mode of a spec that names none.
DEFAULT_JUDGE: str
#: The checker's time limit (seconds) when the spec sets no ``checker_time_limit``.
DEFAULT_CHECKER_TIME_LIMIT: float

class SfstreamError(Exception):
    """Base of every sfstream exception."""

class InvalidInputError(SfstreamError):
    """The core was given something it cannot work with (e.g. malformed tests)."""

class SandboxError(SfstreamError):
    """The sandbox could not set up or supervise a process."""

class StoppedError(SfstreamError):
    """A ``run_tests`` call was stopped by its ``StopFlag``; its processes are gone."""

@final
class StopFlag:
    """A flag that stops the ``run_tests`` calls it was passed to: once ``set()`` (from any
    thread), each kills the processes of its running test case within a few tens of
    milliseconds, starts no other and raises ``StoppedError``. It stays set."""

    def __new__(cls) -> StopFlag: ...
    def set(self) -> None:
        """Sets the flag."""

    def is_set(self) -> bool:
        """Whether the flag is set."""

@final
class NgramIndex:
    """The word n-grams of reference documents (numbered in the order they are added)."""

    def __new__(cls, n: int) -> NgramIndex: ...
    @property
    def n(self) -> int:
        """The n-gram size."""

    @property
    def ngram_count(self) -> int:
        """Distinct n-grams over all documents."""

    def __len__(self) -> int: ...
    def add(self, texts: list[str]) -> int:
        """Adds documents; returns the number of the first."""

    def add_hashes(self, docs: list[list[int]]) -> int:
        """Adds documents given by their n-gram hashes; returns the number of the first."""

    def query(self, texts: list[str]) -> list[tuple[int, list[tuple[int, int]]]]:
        """Per text: (its distinct n-grams, [(document, shared n-grams), ...] most shared
        first, only documents sharing at least one)."""

@final
class MinHashIndex:
    """An LSH index of MinHash signatures over token shingles: ``insert`` keeps each text
    unless it near-duplicates a text kept before it (signatures agreeing on at least
    ``threshold`` of their values, found through ``bands`` bands)."""

    def __new__(
        cls,
        shingle: int = 5,
        num_perm: int = 128,
        bands: int = 16,
        threshold: float = 0.8,
        seed: int = 0,
    ) -> MinHashIndex: ...
    @property
    def shingle(self) -> int:
        """The shingle size in words."""

    @property
    def num_perm(self) -> int:
        """The number of permutations."""

    @property
    def bands(self) -> int:
        """The number of bands."""

    @property
    def threshold(self) -> float:
        """The estimated Jaccard similarity at which a candidate is a near duplicate."""

    @property
    def seed(self) -> int:
        """The seed of the permutations."""

    @property
    def inserted(self) -> int:
        """Texts inserted so far (kept or not)."""

    def __len__(self) -> int: ...
    def insert(self, texts: list[str]) -> list[int | None]:
        """Per text, in order (numbered from 0 over all insertions): the number of the kept
        text it near-duplicates (it is then not kept), or None (it is kept)."""

def dedup_tokens(text: str) -> list[str]:
    """The tokens of a text for duplicate detection: normalised words and symbols, without
    markup and sentence punctuation."""

def text_keys(texts: list[str]) -> list[int]:
    """The exact keys of texts: the 64-bit hash of each text's tokens."""

def shingle_hashes(text: str, k: int) -> list[int]:
    """The distinct hashes of the k-token shingles of a text, in order of first occurrence."""

def minhash_signature(
    text: str, shingle: int = 5, num_perm: int = 128, seed: int = 0
) -> list[int] | None:
    """The MinHash signature of a text (None when it has no token)."""

def ngram_words(text: str) -> list[str]:
    """The words of a text after the decontamination normalisation."""

def ngram_hashes(text: str, n: int) -> list[int]:
    """The distinct 64-bit hashes of the word n-grams of a text, in order of first occurrence."""

def extract_answer(text: str, anchored: bool = True, strict: bool = False) -> str | None:
    """The final answer of a completion (last ``\\boxed{}``, else "the answer is X"), raw.

    ``anchored=False`` falls back to the last math span or number; ``strict`` does not read a
    concluding sentence without an answer marker."""

def last_box(text: str) -> str | None:
    """The content of the last complete, non-empty ``\\boxed{}`` (or ``\\fbox{}``) of a
    reference solution, trimmed; an unterminated or empty later box gives way to an earlier
    one, and boxes side by side are not joined."""

def gold_answer(gold: str) -> str:
    """The final answer of a gold as ``check_math`` compares it: the box of a gold written as a
    full solution, else the gold itself."""

def normalize_answer(text: str) -> str:
    """The canonical form of an answer used for comparison."""

def check_math(
    completion: str,
    gold: str,
    anchored: bool = True,
    strict: bool = False,
    rel_tol: float = 0.0,
) -> tuple[str, str | None, str | None]:
    """``(status, extracted, detail)``; status is ``correct``, ``wrong_answer``,
    ``no_answer`` or ``undecided`` (the fast path cannot decide: compare symbolically)."""

def extract_program(text: str) -> str | None:
    """The program in a completion: the "Here's my final solution:" block, else the last
    fenced Python block."""

def validate_tests(tests_json: str) -> None:
    """Checks a test specification (JSON) the way ``run_tests`` does before running anything.

    Raises:
        InvalidInputError: the spec is malformed (shape, unknown judge mode, checker type).
    """

def run_tests(
    program: str,
    tests_json: str,
    time_limit: float = 4.0,
    memory_mb: int = 1024,
    output_limit: int = 1048576,
    stop_on_first_failure: bool = True,
    python: str | None = None,
    fork_server: bool = True,
    *,
    stop: StopFlag | None = None,
) -> tuple[str, int, int, str | None, list[tuple[str, str | None, float, float, int]]]:
    """Runs ``program`` against APPS-style tests (JSON) in the sandbox.

    Returns ``(status, passed, total, detail, [(case_status, case_detail, wall_s, cpu_s,
    peak_rss_bytes), ...])``.

    Raises:
        InvalidInputError: malformed tests or options.
        SandboxError: no process could be started.
        StoppedError: ``stop`` was set; the running case's processes were killed.
    """

def sandbox_prestart(count: int, python: str | None = None) -> None:
    """Starts fork servers for ``python`` in the background until ``count`` exist, so that the
    first ``count`` concurrent callers find them warm; does nothing where servers cannot run."""

def sandbox_capabilities() -> list[tuple[str, bool | str | None]]:
    """The sandbox protections active here (pid/network/mount/ipc/uts namespaces, uid drop as
    root or a user namespace without root, seccomp, fork server) and ``note``: what the kernel
    refused and what remains, or None."""
