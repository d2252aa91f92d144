"""Readers and row mappers behind :mod:`sfstream.collect`.

Everything here is synchronous and yields plain ``dict`` objects shaped like Problem records
(docs/records.md); :mod:`sfstream.collect` validates them with :meth:`Problem.from_dict`, applies
``limit``/``seed`` and runs the whole thing in a worker thread.

Three kinds of input are handled:

* named datasets in a data directory laid out like the shared data (``math500/test.jsonl``,
  ``apps/train/<id>/``, ...), each with an optional Hugging Face fallback
  (:data:`DATASETS`);
* local ``.jsonl``/``.ndjson``/``.json``/``.parquet`` files (:func:`iter_file_rows`), whose rows
  are mapped by common field names (:func:`map_generic_row`);
* Hugging Face datasets (:func:`load_hf_rows`).
"""

from __future__ import annotations

import ast
import builtins
import gzip
import importlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfstream import _exactjson
from sfstream.errors import ConfigError

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "RowError",
    "iter_file_rows",
    "last_boxed",
    "load_hf_rows",
    "map_generic_row",
]

log = logging.getLogger("sfstream.collect")

Row = Mapping[str, Any]
ProblemDict = dict[str, Any]


class RowError(ValueError):
    """A row that cannot be mapped to a Problem (the caller adds file and row number)."""


class SkipRow(RowError):
    """A dataset row that is unusable upstream (e.g. an empty gold answer): skipped, logged."""


# --------------------------------------------------------------------------------------------
# \boxed{} extraction
# --------------------------------------------------------------------------------------------
_BOX_MARKERS = ("\\boxed", "\\fbox")


def _group_end(text: str, start: int) -> int | None:
    """Index just past the ``}`` that closes the ``{`` at ``text[start]``, or None.

    ``\\{`` and ``\\}`` are literal braces in LaTeX and do not open or close a group.
    """
    depth = 0
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _boxed_at(text: str, pos: int, marker: str) -> str | None:
    i = pos + len(marker)
    if i < len(text) and (text[i].isalpha()):
        return None  # some other command, e.g. \boxedfoo
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        return None
    if text[i] == "{":
        end = _group_end(text, i)
        if end is None:
            return None
        return text[i + 1 : end - 1].strip()
    if i > pos + len(marker):
        # "\boxed 5": the argument runs to the next space or "$".
        m = re.match(r"[^\s$]+", text[i:])
        return m.group(0) if m else None
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last well-formed ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``.

    Braces are matched with nesting, so ``\\boxed{\\frac{1}{2}}`` gives ``\\frac{1}{2}``;
    escaped braces (``\\{``, ``\\}``) are content, not grouping. ``\\boxed 5`` gives ``5``.

    Args:
        text: A solution or completion, typically LaTeX.

    Returns:
        The boxed content with surrounding whitespace removed, or None if there is none.
    """
    if not isinstance(text, str):
        return None
    pos = len(text)
    while True:
        found = [(text.rfind(m, 0, pos), m) for m in _BOX_MARKERS]
        at, marker = max(found)
        if at < 0:
            return None
        content = _boxed_at(text, at, marker)
        if content:
            return content
        pos = at


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def _str_or_none(value: Any) -> str | None:
    if isinstance(value, str):
        return value if value.strip() else None
    return None


def _maybe_json(value: Any) -> Any:
    """Decodes ``value`` if it is a JSON string (HF rows serialise nested data this way)."""
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return None
        if s[0] in "[{":
            try:
                return json.loads(s)
            except ValueError:
                return value
    return value


def _clean_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if v is not None and v != ""}


def _level(value: Any) -> int | None:
    """MATH levels: ``3``, ``"3"`` or ``"Level 3"`` give 3; ``"Level ?"`` gives None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(?:Level\s*)?(\d+)\s*", value)
        if m:
            return int(m.group(1))
    return None


_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _gsm8k_split(text: str) -> tuple[str, str] | None:
    """Splits a GSM8K ``answer`` into (rationale, final answer); None without ``#### ``."""
    head, sep, tail = text.rpartition("#### ")
    if not sep:
        return None
    final = tail.strip()
    if _THOUSANDS.fullmatch(final):
        final = final.replace(",", "")
    return head.rstrip(), final


# --------------------------------------------------------------------------------------------
# tests in APPS semantics
# --------------------------------------------------------------------------------------------
_METHOD = re.compile(r"^\s+def\s+(\w+)\s*\(\s*self\b", re.M)
_BUILTINS = frozenset(dir(builtins))


def _called_function(line: str) -> str | None:
    """The function an assert line tests: the first non-builtin it calls.

    ``assert int(f(5)) == 3`` gives ``f``.
    """
    try:
        tree = ast.parse(line.strip())
    except SyntaxError:
        return None
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    names = [c.func.id for c in calls if isinstance(c.func, ast.Name)]
    for name in names:
        if name not in _BUILTINS:
            return name
    # A task may shadow a builtin (MBPP 126 defines ``sum``): then the outermost call.
    return names[0] if names else None


def _solution_method(starter_code: str | None) -> str | None:
    """The method a LeetCode-style ``class Solution`` stub asks for (the last one if several)."""
    if not starter_code or "class Solution" not in starter_code:
        return None
    names = [n for n in _METHOD.findall(starter_code) if n != "__init__"]
    return names[-1] if names else None


def _functional_args(text: str) -> list[Any]:
    """LiveCodeBench functional input: one JSON literal per line, one per positional argument."""
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def tests_from_case_list(
    cases: list[Any], starter_code: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Converts a list of ``{"input", "output"[, "testtype"]}`` cases to APPS tests.

    Stdin cases become ``{"inputs": [stdin], "outputs": [stdout], "fn_name": None}``.
    LiveCodeBench functional cases take ``fn_name`` from the ``class Solution`` method of
    ``starter_code``; each input is the list of arguments parsed from its newline-separated JSON
    literals, each output the parsed JSON value. A problem mixing both keeps the kind most cases
    have (stdin on a tie) and says how many it dropped.

    Returns:
        The tests and extra meta (``testtype``, and ``dropped_tests`` when some were dropped).

    Raises:
        RowError: the cases are malformed or the functional method cannot be found.
    """
    if not all(isinstance(c, Mapping) and "input" in c and "output" in c for c in cases):
        raise RowError("test cases must be objects with 'input' and 'output'")
    if not cases:
        raise RowError("no test cases")
    kinds = Counter(str(c.get("testtype") or "stdin") for c in cases)
    unknown = set(kinds) - {"stdin", "functional"}
    if unknown:
        raise RowError(f"unknown test type(s) {sorted(unknown)}")
    kind = "functional" if kinds["functional"] > kinds["stdin"] else "stdin"
    kept = [c for c in cases if str(c.get("testtype") or "stdin") == kind]
    meta: dict[str, Any] = {"testtype": kind}
    if len(kept) < len(cases):
        meta["dropped_tests"] = len(cases) - len(kept)
    if kind == "stdin":
        tests = {
            "inputs": [str(c["input"]) for c in kept],
            "outputs": [str(c["output"]) for c in kept],
            "fn_name": None,
        }
        return tests, meta
    fn_name = _solution_method(starter_code)
    if fn_name is None:
        raise RowError("functional tests but no 'class Solution' method in the starter code")
    try:
        inputs = [_functional_args(str(c["input"])) for c in kept]
        outputs = [json.loads(str(c["output"])) for c in kept]
    except ValueError as exc:
        raise RowError(f"functional test is not JSON: {exc}") from None
    return {"inputs": inputs, "outputs": outputs, "fn_name": fn_name}, meta


def _apps_tests(value: Any) -> dict[str, Any] | None:
    """APPS ``input_output`` (object or JSON string) as tests, or None when there are none."""
    io = _maybe_json(value)
    if io is None:
        return None
    if not isinstance(io, Mapping) or "inputs" not in io or "outputs" not in io:
        raise RowError("input_output must be an object with 'inputs' and 'outputs'")
    if not io["inputs"]:
        return None
    return {
        "inputs": list(io["inputs"]),
        "outputs": list(io["outputs"]),
        "fn_name": io.get("fn_name") or None,
    }


#: Each collected source's judge mode (``tests.judge``), taken from its official harness; see
#: the README's table. HumanEval and MBPP run asserts and compare no output.
SOURCE_JUDGES: dict[str, str] = {
    "apps": "apps",
    "code_contests": "tokens+float",
    "codeforces": "tokens+float",
    "livecodebench": "lines+float",
}


def _judged(tests: dict[str, Any], source: str) -> dict[str, Any]:
    """``tests`` with the source's judge mode, unless the data names one already."""
    if tests.get("judge") is None:
        tests["judge"] = SOURCE_JUDGES[source]
    return tests


def _humaneval_tests(test: str, entry_point: str) -> dict[str, Any]:
    return {"asserts": f"{test}\ncheck({entry_point})\n", "entry_point": entry_point}


def _mbpp_tests(test_list: list[str], setup: str | None) -> dict[str, Any]:
    lines = [t.replace("\r\n", "\n") for t in test_list]
    asserts = "\n".join(lines) + "\n"
    if setup and setup.strip():
        asserts = setup.replace("\r\n", "\n").rstrip("\n") + "\n" + asserts
    tests: dict[str, Any] = {"asserts": asserts}
    for line in lines:
        name = _called_function(line)
        if name:
            tests["entry_point"] = name
            break
    return tests


def _mbpp_problem(text: str, test_list: list[str]) -> str:
    # The MBPP paper's prompt: the task, then the tests the function must pass (they carry
    # the function name and signature, which the text alone does not give).
    shown = "\n".join(t.replace("\r\n", "\n") for t in test_list)
    return f"{text.strip()}\nYour code should pass these tests:\n\n{shown}\n"


# --------------------------------------------------------------------------------------------
# file readers
# --------------------------------------------------------------------------------------------
def _read_text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return _exactjson.loads(raw)
    except _exactjson.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None


def _iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value) for each non-blank line; ``.gz`` files are decompressed."""
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield lineno, _exactjson.loads(line)
                except _exactjson.JSONDecodeError as exc:
                    raise ConfigError(f"{path}: line {lineno}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_jsonl(path: Path) -> list[Any]:
    return [value for _, value in _iter_jsonl(path)]


def _json_rows(path: Path) -> list[Any]:
    data = _read_json(path)
    if isinstance(data, Mapping) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise ConfigError(f'{path}: expected a JSON list of objects or {{"data": [...]}}')
    return data


def _parquet_rows(path: Path) -> Iterator[Any]:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise ConfigError(
            f"{path}: reading .parquet files needs pyarrow (pip install 'sfstream[parquet]')"
        ) from None
    try:
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=512):
            yield from batch.to_pylist()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # pyarrow raises its own ArrowInvalid for a corrupt file
        raise ConfigError(f"{path}: not a readable parquet file ({exc})") from None


FILE_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".json", ".parquet")


def file_kind(path: Path) -> str | None:
    """``"jsonl"``, ``"json"`` or ``"parquet"`` from the file name, else None."""
    name = path.name.lower()
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    if name.endswith(".parquet"):
        return "parquet"
    return None


def iter_file_rows(path: Path) -> Iterator[tuple[str, Any]]:
    """(location, row) for each row of a local data file.

    ``location`` is ``"line N"`` (JSONL, 1-based line number) or ``"row N"`` (JSON list and
    parquet, 1-based), for error messages.

    Raises:
        ConfigError: the file cannot be read or is not in the format its name says.
    """
    kind = file_kind(path)
    if kind == "jsonl":
        for lineno, value in _iter_jsonl(path):
            yield f"line {lineno}", value
    elif kind == "json":
        for i, value in enumerate(_json_rows(path), 1):
            yield f"row {i}", value
    elif kind == "parquet":
        for i, value in enumerate(_parquet_rows(path), 1):
            yield f"row {i}", value
    else:
        raise ConfigError(
            f"{path}: unsupported file type (expected one of {', '.join(FILE_SUFFIXES)})"
        )


# --------------------------------------------------------------------------------------------
# generic row mapping (local files, hf:)
# --------------------------------------------------------------------------------------------
PROBLEM_KEYS = ("problem", "question", "prompt", "instruction", "question_content")
ANSWER_KEYS = ("answer", "final_answer", "gold", "target")
META_KEYS = (
    "subject",
    "type",
    "level",
    "difficulty",
    "year",
    "url",
    "contest",
    "problem_number",
    "platform",
    "title",
    "question_title",
    "contest_id",
    "contest_date",
    "cf_rating",
    "tags",
)
ORIGINAL_ID_KEYS = ("id", "task_id", "problem_id", "question_id", "unique_id", "idx", "name")
_PROBLEM_RECORD_KEYS = ("id", "domain", "source", "problem")


def is_problem_record(row: Row) -> bool:
    """True for a row that is already a Problem record (it names its id, domain and source)."""
    return all(k in row for k in _PROBLEM_RECORD_KEYS)


def _first(row: Row, keys: Iterable[str]) -> tuple[str | None, Any]:
    for key in keys:
        value = row.get(key)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return key, value
    return None, None


def _generic_tests(row: Row, starter: str | None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Tests from a non-Problem row, and extra meta; (None, {}) when the row has none."""
    meta: dict[str, Any] = {}
    for key in ("tests", "input_output", "public_test_cases"):
        if key not in row:
            continue
        value = _maybe_json(row[key])
        if value is None:
            continue
        if isinstance(value, Mapping):
            if "asserts" in value:
                return dict(value), meta
            return _apps_tests(value), meta
        if isinstance(value, list):
            return tests_from_case_list(value, starter)
        if isinstance(value, str):
            return {"asserts": value}, meta
        raise RowError(f"field '{key}' must be an object, a list of cases or a JSON string")
    if isinstance(row.get("test"), str) and isinstance(row.get("entry_point"), str):
        return _humaneval_tests(row["test"], row["entry_point"]), meta
    if isinstance(row.get("test_list"), list) and row["test_list"]:
        return _mbpp_tests(
            [str(t) for t in row["test_list"]], _str_or_none(row.get("test_setup_code"))
        ), meta
    return None, meta


def _generic_solution(row: Row) -> str | None:
    sol = row.get("solution")
    if isinstance(sol, str) and sol.strip():
        return sol
    sols = _maybe_json(row.get("solutions"))
    if isinstance(sols, list) and sols and isinstance(sols[0], str):
        return sols[0]
    canonical, prompt = row.get("canonical_solution"), row.get("prompt")
    if isinstance(canonical, str) and isinstance(prompt, str):
        return prompt + canonical
    return None


def map_generic_row(row: Any, *, source: str, ident: str) -> ProblemDict:
    """Maps one row of an arbitrary dataset to a Problem dict by common field names.

    A row that already is a Problem record (``id``, ``domain``, ``source``, ``problem``) is
    returned unchanged. Otherwise: the statement is the first of ``problem``, ``question``,
    ``prompt``, ``instruction``; math rows take ``answer``/``final_answer``/``gold``/``target``
    (a GSM8K-style ``... #### 42`` keeps what follows ``####``; a ``\\boxed{}`` answer is
    unwrapped), or else the last ``\\boxed{}`` of ``solution``; code rows take ``tests`` or
    ``input_output`` (an object or a JSON string, or a list of input/output cases), or
    HumanEval (``test`` + ``entry_point``) or MBPP (``test_list``) tests. An explicit ``domain``
    is respected; otherwise it is code when there are tests, math when there is an answer.

    Args:
        row: The decoded row.
        source: Source name for the record.
        ident: Record id.

    Raises:
        RowError: the row is not an object, or has no statement or no answer/tests.
    """
    if not isinstance(row, Mapping):
        raise RowError(f"expected an object, got {type(row).__name__}")
    if is_problem_record(row):
        return dict(row)
    pkey, problem = _first(row, PROBLEM_KEYS)
    if not isinstance(problem, str):
        if problem is None:
            raise RowError(
                f"no problem statement (none of {', '.join(PROBLEM_KEYS)}; "
                f"fields: {', '.join(sorted(map(str, row))) or 'none'})"
            )
        raise RowError(f"field '{pkey}' must be a string")
    starter = _str_or_none(row.get("starter_code"))
    domain = row.get("domain") if row.get("domain") in ("math", "code") else None
    solution = _generic_solution(row)

    tests: dict[str, Any] | None = None
    extra_meta: dict[str, Any] = {}
    if domain != "math":
        tests, extra_meta = _generic_tests(row, starter)

    answer: Any = None
    if domain != "code" and tests is None:
        _, answer = _first(row, ANSWER_KEYS)
        if isinstance(answer, str):
            split = _gsm8k_split(answer)
            if split is not None:
                rationale, answer = split
                solution = solution or rationale
            elif "\\boxed" in answer:
                answer = last_boxed(answer) or answer
        if answer is None and solution is not None:
            answer = last_boxed(solution)

    if domain is None:
        domain = "code" if tests is not None else "math" if answer is not None else None
    if domain is None:
        raise RowError(
            "neither an answer (answer, final_answer, gold, target, or \\boxed{} in solution) "
            "nor tests (tests, input_output)"
        )
    if domain == "math" and answer is None:
        raise RowError("math row without an answer")
    if domain == "code" and tests is None:
        raise RowError("code row without tests")

    meta: dict[str, Any] = {}
    if isinstance(row.get("meta"), Mapping):
        meta.update(row["meta"])
    for key in META_KEYS:
        if key in row and key not in meta:
            meta["subject" if key == "type" else key] = row[key]
    _, original = _first(row, ORIGINAL_ID_KEYS)
    if original is not None and isinstance(original, str | int):
        meta.setdefault("original_id", original)
    if isinstance(row.get("source"), str):
        meta.setdefault("origin", row["source"])
    meta.update(extra_meta)

    out: ProblemDict = {
        "id": ident,
        "domain": domain,
        "source": source,
        "problem": problem,
        "solution": solution,
        "meta": _clean_meta(meta),
    }
    if domain == "math":
        out["answer"] = answer
    else:
        out["tests"] = tests
        out["starter_code"] = starter
    return out


# --------------------------------------------------------------------------------------------
# Hugging Face
# --------------------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if len(first) > 200:
        first = first[:197] + "..."
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _import_datasets() -> Any | None:
    try:
        return importlib.import_module("datasets")
    except ImportError:
        return None


def have_datasets() -> bool:
    """Whether the Hugging Face ``datasets`` package can be imported."""
    return _import_datasets() is not None


def load_hf_rows(
    name: str, config: str | None, split: str | None
) -> tuple[str, Iterable[Mapping[str, Any]]]:
    """Loads a Hugging Face dataset split.

    Args:
        name: ``ORG/NAME``.
        config: Dataset configuration, or None.
        split: Split name; None picks ``test`` if the dataset has it, else ``train``, else the
            first split.

    Returns:
        The split actually loaded and its rows.

    Raises:
        ConfigError: ``datasets`` is not installed, or the dataset cannot be loaded (no network,
            unknown name or split, ...).
    """
    what = f"{name}:{config}" if config else name
    datasets = _import_datasets()
    if datasets is None:
        raise ConfigError(
            f"cannot load Hugging Face dataset '{what}': the 'datasets' package is not "
            "installed (pip install 'sfstream[hf]')"
        )
    try:
        if split is None:
            loaded = datasets.load_dataset(name, config)
            names = list(loaded.keys())
            if not names:
                raise ConfigError(f"Hugging Face dataset '{what}' has no splits")
            split = "test" if "test" in names else "train" if "train" in names else names[0]
            return split, loaded[split]
        return split, datasets.load_dataset(name, config, split=split)
    except ConfigError:
        raise
    except Exception as exc:  # network, hub and format errors come in many types
        where = f" split '{split}'" if split else ""
        raise ConfigError(
            f"cannot load Hugging Face dataset '{what}'{where}: {_one_line(exc)}"
        ) from None


# --------------------------------------------------------------------------------------------
# named datasets
# --------------------------------------------------------------------------------------------
Mapper = Callable[[Row, int, str], ProblemDict | None]
LocalLoader = Callable[[Path, str], Iterator[ProblemDict | None] | None]


@dataclass(frozen=True)
class HfSource:
    """Where a named dataset lives on the Hugging Face hub and how its rows map."""

    name: str
    config: str | None
    splits: Mapping[str, str]  # our split -> hub split
    mapper: Mapper


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: its splits, its reader for a data directory, its hub fallback.

    Attributes:
        name: The SOURCE name (``math500``).
        description: One line for help texts.
        splits: Splits it has; the first is the default.
        local: ``local(data_dir, split)`` returns an iterator of Problem dicts (None for a row
            that is skipped), or None when the data directory does not hold this split.
        hf: The Hugging Face fallback, if there is a well-known copy.
    """

    name: str
    description: str
    splits: tuple[str, ...]
    local: LocalLoader
    hf: HfSource | None = None

    @property
    def default_split(self) -> str:
        """The split used when none is asked for."""
        return self.splits[0]


def _jsonl_loader(rel: str | Callable[[str], str], mapper: Mapper) -> LocalLoader:
    def load(data_dir: Path, split: str) -> Iterator[ProblemDict | None] | None:
        path = data_dir / (rel(split) if callable(rel) else rel)
        if not path.is_file():
            return None

        def gen() -> Iterator[ProblemDict | None]:
            for index, (lineno, row) in enumerate(_iter_jsonl(path)):
                yield _call(mapper, row, index, split, f"{path}: line {lineno}")

        return gen()

    return load


def _json_loader(rel: str, mapper: Mapper) -> LocalLoader:
    def load(data_dir: Path, split: str) -> Iterator[ProblemDict | None] | None:
        path = data_dir / rel
        if not path.is_file():
            return None

        def gen() -> Iterator[ProblemDict | None]:
            for index, row in enumerate(_json_rows(path)):
                yield _call(mapper, row, index, split, f"{path}: row {index + 1}")

        return gen()

    return load


def _call(mapper: Mapper, row: Any, index: int, split: str, where: str) -> ProblemDict | None:
    if not isinstance(row, Mapping):
        raise ConfigError(f"{where}: expected an object, got {type(row).__name__}")
    try:
        return mapper(row, index, split)
    except SkipRow as exc:
        log.warning("%s: skipped: %s", where, exc)
        return None
    except RowError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: unexpected record ({_one_line(exc)})") from None


# --- math --------------------------------------------------------------------------------
def _math_record(source: str, ident: str, row: Row, meta: dict[str, Any]) -> ProblemDict:
    answer = row.get("answer")
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        answer = last_boxed(row.get("solution") or "")
    if answer is None:
        raise SkipRow(
            f"{ident}: no gold answer (no 'answer' and no non-empty \\boxed{{}} in the solution)"
        )
    return {
        "id": ident,
        "domain": "math",
        "source": source,
        "problem": row["problem"],
        "answer": answer,
        "solution": _str_or_none(row.get("solution")),
        "meta": _clean_meta(meta),
    }


def _map_math(row: Row, index: int, split: str) -> ProblemDict:
    ident = row.get("idx", index)
    return _math_record(
        "math",
        f"math/{split}/{ident}",
        row,
        {"subject": row.get("type") or row.get("subject"), "level": _level(row.get("level"))},
    )


def _load_math(data_dir: Path, split: str) -> Iterator[ProblemDict | None] | None:
    if split == "test":
        return _jsonl_loader("math/test.jsonl", _map_math)(data_dir, split)
    root = data_dir / "math" / split
    if not root.is_dir():
        return None

    def key(p: Path) -> tuple[int, str]:
        return (int(p.stem), p.name) if p.stem.isdigit() else (1 << 62, p.name)

    def gen() -> Iterator[ProblemDict | None]:
        for subject_dir in sorted(d for d in root.iterdir() if d.is_dir()):
            for path in sorted(subject_dir.glob("*.json"), key=key):
                row = _read_json(path)
                if not isinstance(row, Mapping):
                    raise ConfigError(f"{path}: expected a JSON object")
                rel = f"{subject_dir.name}/{path.stem}"
                try:
                    yield _math_record(
                        "math",
                        f"math/{split}/{rel}",
                        row,
                        {
                            "subject": row.get("type"),
                            "level": _level(row.get("level")),
                            "unique_id": f"{split}/{rel}.json",
                        },
                    )
                except SkipRow as exc:
                    log.warning("%s: skipped: %s", path, exc)
                    yield None
                except (RowError, KeyError) as exc:
                    raise ConfigError(f"{path}: {exc}") from None

    return gen()


def _map_math500(row: Row, index: int, split: str) -> ProblemDict:
    return _math_record(
        "math500",
        f"math500/{split}/{index}",
        row,
        {
            "subject": row.get("subject"),
            "level": _level(row.get("level")),
            "unique_id": row.get("unique_id"),
            "index": index,
        },
    )


_AIME_URL = re.compile(r"/(\d{4})_AIME_(I{1,2})_Problems/Problem_(\d+)")
_AMC_URL = re.compile(r"/(\d{4})_AMC_(\w+?)_Problems/Problem_(\d+)")


def _contest_meta(url: Any, pattern: re.Pattern[str], prefix: str) -> dict[str, Any]:
    if not isinstance(url, str):
        return {}
    m = pattern.search(url)
    if not m:
        return {"url": url}
    return {
        "year": int(m.group(1)),
        "contest": f"{prefix} {m.group(2)}",
        "problem_number": int(m.group(3)),
        "url": url,
    }


def _map_aime24(row: Row, index: int, split: str) -> ProblemDict:
    meta = {"year": 2024, **_contest_meta(row.get("url"), _AIME_URL, "AIME")}
    ident = row.get("id", index)
    return _math_record("aime24", f"aime24/{split}/{ident}", row, meta)


def _map_aime25(row: Row, index: int, split: str) -> ProblemDict:
    meta = {"year": 2025, **_contest_meta(row.get("url"), _AIME_URL, "AIME")}
    return _math_record("aime25", f"aime25/{split}/{index}", row, meta)


def _map_amc23(row: Row, index: int, split: str) -> ProblemDict:
    meta = {"year": 2023, **_contest_meta(row.get("url"), _AMC_URL, "AMC")}
    ident = row.get("id", index)
    fixed = dict(row)
    fixed.setdefault("problem", row.get("question"))
    return _math_record("amc23", f"amc23/{split}/{ident}", fixed, meta)


def _map_aime_hist(row: Row, index: int, split: str) -> ProblemDict:
    year, number, part = row.get("year"), row.get("problem_number"), row.get("aime_number")
    meta = {
        "year": year,
        "contest": f"AIME {'I' * int(part)}" if isinstance(part, int) and part in (1, 2) else None,
        "problem_number": number,
        "difficulty": row.get("difficulty"),
    }
    return _math_record("aime", f"aime/{split}/{index}", row, meta)


def _map_gsm8k(row: Row, index: int, split: str) -> ProblemDict:
    parts = _gsm8k_split(str(row.get("answer", "")))
    if parts is None:
        raise RowError("GSM8K answer without '#### '")
    rationale, final = parts
    return {
        "id": f"gsm8k/{split}/{index}",
        "domain": "math",
        "source": "gsm8k",
        "problem": row["question"],
        "answer": final,
        "solution": rationale or None,
        "meta": {},
    }


# --- code --------------------------------------------------------------------------------
def _load_apps(data_dir: Path, split: str) -> Iterator[ProblemDict | None] | None:
    root = data_dir / "apps" / split
    if not root.is_dir():
        return None

    def optional_json(path: Path) -> Any:
        return _read_json(path) if path.is_file() else None

    def gen() -> Iterator[ProblemDict | None]:
        for pdir in sorted(d for d in root.iterdir() if d.is_dir()):
            question = pdir / "question.txt"
            if not question.is_file():
                log.warning("apps: %s has no question.txt; skipped", pdir)
                yield None
                continue
            try:
                tests = _apps_tests(optional_json(pdir / "input_output.json"))
            except RowError as exc:
                raise ConfigError(f"{pdir / 'input_output.json'}: {exc}") from None
            if tests is None:
                log.info("apps: %s has no tests; skipped", pdir.name)
                yield None
                continue
            solutions = optional_json(pdir / "solutions.json")
            meta_in = optional_json(pdir / "metadata.json") or {}
            starter = pdir / "starter_code.py"
            yield {
                "id": f"apps/{split}/{pdir.name}",
                "domain": "code",
                "source": "apps",
                "problem": _read_text(question),
                "tests": _judged(tests, "apps"),
                "starter_code": _str_or_none(_read_text(starter)) if starter.is_file() else None,
                "solution": solutions[0] if isinstance(solutions, list) and solutions else None,
                "meta": _clean_meta(
                    {
                        "difficulty": meta_in.get("difficulty"),
                        "url": meta_in.get("url"),
                        "split": split,
                        "apps_id": pdir.name,
                    }
                ),
            }

    return gen()


def _map_apps_hf(row: Row, index: int, split: str) -> ProblemDict | None:
    pid = row.get("problem_id", index)
    apps_id = f"{pid:04d}" if isinstance(pid, int) else str(pid)
    tests = _apps_tests(row.get("input_output"))
    if tests is None:
        return None
    solutions = _maybe_json(row.get("solutions"))
    return {
        "id": f"apps/{split}/{apps_id}",
        "domain": "code",
        "source": "apps",
        "problem": row["question"],
        "tests": _judged(tests, "apps"),
        "starter_code": _str_or_none(row.get("starter_code")),
        "solution": solutions[0] if isinstance(solutions, list) and solutions else None,
        "meta": _clean_meta(
            {
                "difficulty": row.get("difficulty"),
                "url": row.get("url"),
                "split": split,
                "apps_id": apps_id,
            }
        ),
    }


def _map_code_contests(row: Row, index: int, split: str) -> ProblemDict | None:
    tests = _apps_tests(row.get("tests"))
    if tests is None:
        return None
    return {
        "id": f"code_contests/{split}/{index}",
        "domain": "code",
        "source": "code_contests",
        "problem": row["problem"],
        "tests": _judged(tests, "code_contests"),
        "starter_code": None,
        "solution": None,
        "meta": {},
    }


# CodeContests' difficulty enum: 1-6 named levels, then Codeforces-style letters A..V.
_CC_DIFFICULTY: dict[Any, str] = {
    1: "easy",
    2: "medium",
    3: "hard",
    4: "harder",
    5: "hardest",
    6: "external",
    **{7 + i: chr(ord("A") + i) for i in range(22)},
}


def _map_code_contests_hf(row: Row, index: int, split: str) -> ProblemDict | None:
    inputs: list[str] = []
    outputs: list[str] = []
    for key in ("public_tests", "private_tests"):
        block = row.get(key) or {}
        inputs += list(block.get("input") or [])
        outputs += list(block.get("output") or [])
    if not inputs:
        return None
    return {
        "id": f"code_contests/{split}/{index}",
        "domain": "code",
        "source": "code_contests",
        "problem": row["description"],
        "tests": _judged({"inputs": inputs, "outputs": outputs, "fn_name": None}, "code_contests"),
        "starter_code": None,
        "solution": None,
        "meta": _clean_meta(
            {
                "name": row.get("name"),
                "cf_rating": row.get("cf_rating") or None,
                "difficulty": _CC_DIFFICULTY.get(row.get("difficulty")),
            }
        ),
    }


def _map_codeforces(row: Row, index: int, split: str) -> ProblemDict | None:
    cases = row.get("tests")
    if not cases:
        return None
    tests, _ = tests_from_case_list(list(cases), None)
    return {
        "id": f"codeforces/{split}/{index}",
        "domain": "code",
        "source": "codeforces",
        "problem": row["problem"],
        "tests": _judged(tests, "codeforces"),
        "starter_code": None,
        "solution": None,
        "meta": {},
    }


_LCB_GRADED = (
    "llm_outputs/livecodebench/O1-Mini-2024-09-12_N1_Scenario.codegeneration_1_0.2_eval_all.json"
)
_LCB_META = (
    "question_title",
    "platform",
    "question_id",
    "contest_id",
    "contest_date",
    "difficulty",
)


def _lcb_record(
    row: Row, index: int, split: str, info: Mapping[str, Any] | None, cases: Any, problem: str
) -> ProblemDict | None:
    starter = _str_or_none(row.get("starter_code"))
    if not cases:
        return None
    try:
        tests, extra = tests_from_case_list(list(cases), starter)
    except RowError as exc:
        log.warning("livecodebench: problem %d skipped: %s", index, exc)
        return None
    meta: dict[str, Any] = {}
    if info:
        meta = {("title" if k == "question_title" else k): info.get(k) for k in _LCB_META}
    meta.update(extra)
    meta["index"] = index
    qid = info.get("question_id") if info else None
    return {
        "id": f"livecodebench/{split}/{qid if qid else index}",
        "domain": "code",
        "source": "livecodebench",
        "problem": problem,
        "tests": _judged(tests, "livecodebench"),
        "starter_code": starter,
        "solution": None,
        "meta": _clean_meta(meta),
    }


def _load_livecodebench(data_dir: Path, split: str) -> Iterator[ProblemDict | None] | None:
    path = data_dir / "livecodebench" / f"{split}.json"
    if not path.is_file():
        return None

    def gen() -> Iterator[ProblemDict | None]:
        # The rLLM copy has no ids; LiveCodeBench's own submission file (when the data dir
        # has it) names every problem, joined on the statement text.
        graded = data_dir / _LCB_GRADED
        info: dict[str, Mapping[str, Any]] = {}
        if graded.is_file():
            try:
                for rec in _json_rows(graded):
                    if isinstance(rec, Mapping) and isinstance(rec.get("question_content"), str):
                        info[rec["question_content"]] = rec
            except ConfigError as exc:
                log.warning("livecodebench: ignoring %s: %s", graded, exc)
        for index, row in enumerate(_json_rows(path)):
            where = f"{path}: row {index + 1}"
            if not isinstance(row, Mapping) or not isinstance(row.get("problem"), str):
                raise ConfigError(f"{where}: expected an object with a 'problem' string")
            yield _lcb_record(
                row, index, split, info.get(row["problem"]), row.get("tests"), row["problem"]
            )

    return gen()


def _map_livecodebench_hf(row: Row, index: int, split: str) -> ProblemDict | None:
    return _lcb_record(
        row, index, split, row, _maybe_json(row.get("public_test_cases")), row["question_content"]
    )


def _map_humaneval(row: Row, index: int, split: str) -> ProblemDict:
    task = str(row.get("task_id", index))
    number = task.rsplit("/", 1)[-1]
    prompt = row["prompt"]
    return {
        "id": f"humaneval/{split}/{number}",
        "domain": "code",
        "source": "humaneval",
        "problem": prompt,
        "tests": _humaneval_tests(row["test"], row["entry_point"]),
        "starter_code": prompt,
        "solution": prompt + row["canonical_solution"] if row.get("canonical_solution") else None,
        "meta": {"task_id": task},
    }


MBPP_SPLITS = {"test": (11, 510), "train": (601, 974), "validation": (511, 600), "prompt": (1, 10)}


def _map_mbpp(row: Row, index: int, split: str) -> ProblemDict | None:
    task_id = row["task_id"]
    test_list = [str(t) for t in row.get("test_list") or []]
    if not test_list:
        return None
    code = row.get("code")
    return {
        "id": f"mbpp/{split}/{task_id}",
        "domain": "code",
        "source": "mbpp",
        "problem": _mbpp_problem(row["text"], test_list),
        "tests": _mbpp_tests(test_list, _str_or_none(row.get("test_setup_code"))),
        "starter_code": None,
        "solution": code.replace("\r\n", "\n") if isinstance(code, str) else None,
        "meta": {"task_id": task_id, "text": row["text"]},
    }


def _load_mbpp(data_dir: Path, split: str) -> Iterator[ProblemDict | None] | None:
    path = data_dir / "mbpp" / "mbpp.jsonl"
    if not path.is_file():
        return None
    lo, hi = MBPP_SPLITS[split]

    def gen() -> Iterator[ProblemDict | None]:
        for index, (lineno, row) in enumerate(_iter_jsonl(path)):
            task = row.get("task_id") if isinstance(row, Mapping) else None
            if isinstance(task, int) and not lo <= task <= hi:
                continue
            yield _call(_map_mbpp, row, index, split, f"{path}: line {lineno}")

    return gen()


def _same(*splits: str) -> dict[str, str]:
    return {s: s for s in splits}


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "math",
            "MATH (Hendrycks et al.): 5,000 test / 7,500 train problems",
            ("test", "train"),
            _load_math,
            HfSource(
                "DigitalLearningGmbH/MATH-lighteval", "default", _same("test", "train"), _map_math
            ),
        ),
        DatasetSpec(
            "math500",
            "MATH500: the 500-problem PRM800K test subset of MATH",
            ("test",),
            _jsonl_loader("math500/test.jsonl", _map_math500),
            HfSource("HuggingFaceH4/MATH-500", None, _same("test"), _map_math500),
        ),
        DatasetSpec(
            "aime24",
            "AIME 2024 I+II (30 problems)",
            ("test",),
            _jsonl_loader("aime24/test.jsonl", _map_aime24),
            HfSource("HuggingFaceH4/aime_2024", None, {"test": "train"}, _map_aime24),
        ),
        DatasetSpec(
            "aime25",
            "AIME 2025 I+II (30 problems)",
            ("test",),
            _jsonl_loader("aime25/test.jsonl", _map_aime25),
            HfSource("math-ai/aime25", None, _same("test"), _map_aime25),
        ),
        DatasetSpec(
            "amc23",
            "AMC 12 2023 A+B (40 problems)",
            ("test",),
            _jsonl_loader("amc23/test.jsonl", _map_amc23),
            HfSource("math-ai/amc23", None, _same("test"), _map_amc23),
        ),
        DatasetSpec(
            "aime",
            "AIME 1983-2023 (975 problems, for training)",
            ("train",),
            _json_loader("aime_1983_2023/rllm_train_aime.json", _map_aime_hist),
        ),
        DatasetSpec(
            "gsm8k",
            "GSM8K grade-school math (1,319 test / 7,473 train)",
            ("test", "train"),
            _jsonl_loader(lambda split: f"gsm8k/{split}.jsonl", _map_gsm8k),
            HfSource("openai/gsm8k", "main", _same("test", "train"), _map_gsm8k),
        ),
        DatasetSpec(
            "apps",
            "APPS coding problems (original per-problem layout)",
            ("train", "test"),
            _load_apps,
            HfSource("codeparrot/apps", "all", _same("train", "test"), _map_apps_hf),
        ),
        DatasetSpec(
            "code_contests",
            "DeepMind CodeContests test split (165 problems)",
            ("test",),
            _json_loader("code_contests/test.json", _map_code_contests),
            HfSource("deepmind/code_contests", None, _same("test"), _map_code_contests_hf),
        ),
        DatasetSpec(
            "codeforces",
            "Codeforces problems with sample tests (rLLM test set)",
            ("test",),
            _json_loader("codeforces/test.json", _map_codeforces),
        ),
        DatasetSpec(
            "livecodebench",
            "LiveCodeBench v5 window, public tests",
            ("test",),
            _load_livecodebench,
            HfSource(
                "livecodebench/code_generation_lite", None, _same("test"), _map_livecodebench_hf
            ),
        ),
        DatasetSpec(
            "humaneval",
            "OpenAI HumanEval (164 problems)",
            ("test",),
            _jsonl_loader("humaneval/HumanEval.jsonl.gz", _map_humaneval),
            HfSource("openai/openai_humaneval", None, _same("test"), _map_humaneval),
        ),
        DatasetSpec(
            "mbpp",
            "MBPP (test = task ids 11-510)",
            ("test", "train", "validation", "prompt"),
            _load_mbpp,
            HfSource(
                "google-research-datasets/mbpp",
                "full",
                _same("test", "train", "validation", "prompt"),
                _map_mbpp,
            ),
        ),
    )
}


def hf_dataset_for(name: str, config: str | None) -> tuple[DatasetSpec, HfSource] | None:
    """The named dataset whose hub copy is ``name`` (case-insensitive), if any."""
    for spec in DATASETS.values():
        hf = spec.hf
        if (
            hf is not None
            and hf.name.lower() == name.lower()
            and (config is None or hf.config is None or config == hf.config)
        ):
            return spec, hf
    return None
