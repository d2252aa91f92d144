"""The records that flow through the pipeline (docs/records.md describes them).

A record is a frozen dataclass; on the wire it is one JSON object per NDJSON line. Fields that
sfstream does not know are kept in ``extra`` and written back unchanged, so a record survives a
trip through any stage with everything its producer put in it.

* :class:`Problem` — a math or coding problem (output of ``collect``).
* :class:`Sample` — a Problem plus one model completion (output of ``generate``); with a
  :class:`Verdict` attached it is a verified sample (output of ``verify``).
* :class:`Example` — one training row (output of ``format``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from sfstream import _exactjson
from sfstream._core import InvalidInputError, validate_tests
from sfstream.errors import RecordError

__all__ = [
    "Example",
    "Problem",
    "Record",
    "Sample",
    "Verdict",
    "record_from_dict",
    "spec_error",
]

Domain = Literal["math", "code"]
DOMAINS: tuple[str, ...] = ("math", "code")

_T = TypeVar("_T")


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def _require(d: Mapping[str, Any], key: str, kind: str) -> Any:
    if key not in d:
        raise RecordError(f"missing required field '{key}' for a {kind} record")
    return d[key]


def _check(key: str, value: Any, types: tuple[type, ...], what: str) -> Any:
    # bool is an int subclass: never let true pass as an integer.
    if isinstance(value, bool) and bool not in types:
        raise RecordError(f"field '{key}' must be {what}, got {_type_name(value)}")
    if not isinstance(value, types):
        raise RecordError(f"field '{key}' must be {what}, got {_type_name(value)}")
    return value


def _opt_str(d: Mapping[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is None:
        return None
    return str(_check(key, value, (str,), "a string or null"))


def _answer_text(value: Any) -> str:
    # Datasets store numeric answers as numbers (AMC as floats): keep them exact and readable.
    if isinstance(value, bool):
        raise RecordError("field 'answer' must be a string or a number, got boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(_check("answer", value, (str,), "a string or a number"))


def _validate_tests(tests: Any) -> dict[str, Any]:
    # Only the shape of the record is checked here. What the tests hold (inputs and outputs,
    # asserts, judge, checker) is validated by the Rust core, the one rule set: a malformed
    # spec becomes the verdict ``invalid_tests`` of every sample, never an exception.
    return dict(_check("tests", tests, (dict,), "an object"))


def spec_error(tests: Mapping[str, Any] | None) -> str | None:
    """Why the core refuses ``tests``, or None when it accepts them (the checker's source is
    compiled only when it first runs)."""
    if tests is None:
        return "a code problem has no tests"
    try:
        validate_tests(_exactjson.dumps(dict(tests)).decode())
    except InvalidInputError as e:
        return str(e)
    return None


@dataclass(frozen=True, kw_only=True)
class Problem:
    """A math or coding problem.

    Attributes:
        id: Unique, stable identifier such as ``math500/test/123``.
        domain: ``"math"`` or ``"code"``.
        source: Dataset name (``math500``, ``aime24``, ``apps``, ...).
        problem: The statement.
        answer: Gold final answer (math).
        tests: Test cases in APPS semantics (code), with an optional ``judge`` mode (one of
            ``sfstream._core.JUDGE_MODES``) and an optional ``checker`` (see docs/records.md).
            Only its shape is checked when the record is read; what it holds is validated by
            the core, and a malformed spec is the verdict ``invalid_tests``.
        starter_code: Function or class stub the solution must complete (code).
        solution: A reference solution, when known.
        meta: Free-form metadata (subject, level, difficulty, year, ...).
        extra: Fields sfstream does not interpret, written back unchanged.
    """

    id: str
    domain: Domain
    source: str
    problem: str
    answer: str | None = None
    tests: dict[str, Any] | None = None
    starter_code: str | None = None
    solution: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[str] = "problem"
    _own: ClassVar[frozenset[str]] = frozenset(
        {"id", "domain", "source", "problem", "answer", "tests", "starter_code", "solution", "meta"}
    )

    @classmethod
    def _problem_fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        kind = cls.kind
        ident = _check("id", _require(d, "id", kind), (str,), "a string")
        if not ident:
            raise RecordError("field 'id' must not be empty")
        domain = _check("domain", _require(d, "domain", kind), (str,), "a string")
        if domain not in DOMAINS:
            raise RecordError(f"field 'domain' must be 'math' or 'code', got {domain!r}")
        out: dict[str, Any] = {
            "id": ident,
            "domain": domain,
            "source": _check("source", _require(d, "source", kind), (str,), "a string"),
            "problem": _check("problem", _require(d, "problem", kind), (str,), "a string"),
            "starter_code": _opt_str(d, "starter_code"),
            "solution": _opt_str(d, "solution"),
            "meta": dict(_check("meta", d.get("meta") or {}, (dict,), "an object")),
        }
        if domain == "math":
            out["answer"] = _answer_text(_require(d, "answer", f"math {kind}"))
            out["tests"] = None
        else:
            out["tests"] = _validate_tests(_require(d, "tests", f"code {kind}"))
            answer = d.get("answer")
            out["answer"] = None if answer is None else _answer_text(answer)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Problem:
        """Validates a decoded JSON object and builds the record.

        Raises:
            RecordError: a required field is missing or has the wrong type.
        """
        fields = cls._problem_fields(d)
        return cls(**fields, extra={k: v for k, v in d.items() if k not in cls._own})

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict, unknown fields included."""
        out = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if isinstance(value, Verdict):
                value = value.to_dict()
            out[f.name] = value
        return out

    def problem_record(self) -> Problem:
        """The problem part of this record (itself for a Problem)."""
        return self


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The verifier's judgement of one sample.

    Attributes:
        correct: Whether the sample is kept.
        status: ``correct``, ``wrong_answer``, ``no_answer``, ``truncated``, ``timeout``,
            ``memory_limit``, ``output_limit``, ``runtime_error``, ``syntax_error``,
            ``no_code``, ``invalid_tests``, ``low_quality`` (otherwise correct, but below a
            quality threshold), ``error`` (the generation itself failed).
        extracted: The extracted final answer (math) or program (code), if any.
        passed: Test cases passed (code), else None.
        total: Test cases run (code), else None.
        detail: A short human-readable explanation, if any.
        quality: Quality measures (see :mod:`sfstream.quality`), None when not measured.
    """

    correct: bool
    status: str
    extracted: str | None = None
    passed: int | None = None
    total: int | None = None
    detail: str | None = None
    quality: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, d: Any) -> Verdict:
        """Validates a decoded ``verdict`` object.

        Raises:
            RecordError: a field is missing or has the wrong type.
        """
        _check("verdict", d, (dict,), "an object")
        for key in ("passed", "total"):
            if d.get(key) is not None:
                _check(f"verdict.{key}", d[key], (int,), "an integer or null")
        quality = d.get("quality")
        if quality is not None:
            quality = dict(_check("verdict.quality", quality, (dict,), "an object or null"))
        return cls(
            correct=_check(
                "verdict.correct", _require(d, "correct", "verdict"), (bool,), "a boolean"
            ),
            status=_check("verdict.status", _require(d, "status", "verdict"), (str,), "a string"),
            extracted=_opt_str(d, "extracted"),
            passed=d.get("passed"),
            total=d.get("total"),
            detail=_opt_str(d, "detail"),
            quality=quality,
        )

    def to_dict(self) -> dict[str, Any]:
        """The verdict as a JSON-ready dict (``quality`` only when measured)."""
        out = dataclasses.asdict(self)
        if self.quality is None:
            del out["quality"]
        return out


@dataclass(frozen=True, kw_only=True)
class Sample(Problem):
    """A problem with one model completion; with ``verdict`` set, a verified sample.

    Attributes:
        sample_index: Index of this sample among the problem's samples (0-based).
        model: Name of the model that wrote the completion.
        completion: The answer text.
        reasoning: A separate reasoning channel (e.g. ``reasoning_content``), or None.
        finish_reason: ``stop``, ``length``, or ``error`` when generation failed.
        usage: Token counts as reported by the server.
        verdict: The verifier's judgement, once verified.
    """

    sample_index: int = 0
    model: str = ""
    completion: str = ""
    reasoning: str | None = None
    finish_reason: str = "stop"
    usage: dict[str, Any] | None = None
    verdict: Verdict | None = None

    kind: ClassVar[str] = "sample"
    _own: ClassVar[frozenset[str]] = Problem._own | {
        "sample_index",
        "model",
        "completion",
        "reasoning",
        "finish_reason",
        "usage",
        "verdict",
    }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Sample:
        """Validates a decoded JSON object and builds the record.

        Raises:
            RecordError: a required field is missing or has the wrong type.
        """
        fields = cls._problem_fields(d)
        index = _check("sample_index", _require(d, "sample_index", "sample"), (int,), "an integer")
        if index < 0:
            raise RecordError("field 'sample_index' must not be negative")
        usage = d.get("usage")
        if usage is not None:
            _check("usage", usage, (dict,), "an object or null")
        verdict = d.get("verdict")
        return cls(
            **fields,
            sample_index=index,
            model=_check("model", d.get("model", ""), (str,), "a string"),
            completion=_check(
                "completion", _require(d, "completion", "sample"), (str,), "a string"
            ),
            reasoning=_opt_str(d, "reasoning"),
            finish_reason=_check(
                "finish_reason", d.get("finish_reason") or "stop", (str,), "a string"
            ),
            usage=usage,
            verdict=None if verdict is None else Verdict.from_dict(verdict),
            extra={k: v for k, v in d.items() if k not in cls._own},
        )

    def problem_record(self) -> Problem:
        """The problem this sample answers."""
        return Problem(
            id=self.id,
            domain=self.domain,
            source=self.source,
            problem=self.problem,
            answer=self.answer,
            tests=self.tests,
            starter_code=self.starter_code,
            solution=self.solution,
            meta=self.meta,
            extra=self.extra,
        )

    def with_verdict(self, verdict: Verdict) -> Sample:
        """A copy of this sample carrying ``verdict``."""
        return dataclasses.replace(self, verdict=verdict)


@dataclass(frozen=True, kw_only=True)
class Example:
    """One training row.

    Attributes:
        id: The problem id, with ``#<sample_index>`` when several samples of it are kept.
        domain: ``"math"`` or ``"code"``.
        source: Dataset name.
        messages: Chat turns, each ``{"role": ..., "content": ...}``.
        meta: Metadata carried from the problem and the verdict.
        text: The seed template rendered in full (seed style only).
        extra: Style-specific fields (e.g. ``conversations`` for ShareGPT).
    """

    id: str
    domain: Domain
    source: str
    messages: list[dict[str, str]]
    meta: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[str] = "example"
    _own: ClassVar[frozenset[str]] = frozenset(
        {"id", "domain", "source", "messages", "meta", "text"}
    )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Example:
        """Validates a decoded JSON object and builds the record.

        Raises:
            RecordError: a required field is missing or has the wrong type.
        """
        messages = _check("messages", _require(d, "messages", "example"), (list,), "an array")
        for i, m in enumerate(messages):
            if (
                not isinstance(m, dict)
                or not isinstance(m.get("role"), str)
                or not isinstance(m.get("content"), str)
            ):
                raise RecordError(
                    f"field 'messages[{i}]' must be an object with string 'role' and 'content'"
                )
        domain = _check("domain", _require(d, "domain", "example"), (str,), "a string")
        if domain not in DOMAINS:
            raise RecordError(f"field 'domain' must be 'math' or 'code', got {domain!r}")
        return cls(
            id=_check("id", _require(d, "id", "example"), (str,), "a string"),
            domain=domain,
            source=_check("source", _require(d, "source", "example"), (str,), "a string"),
            messages=messages,
            meta=dict(_check("meta", d.get("meta") or {}, (dict,), "an object")),
            text=_opt_str(d, "text"),
            extra={k: v for k, v in d.items() if k not in cls._own},
        )

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        out = dict(self.extra)
        out.update(
            id=self.id,
            domain=self.domain,
            source=self.source,
            messages=self.messages,
            meta=self.meta,
        )
        if self.text is not None:
            out["text"] = self.text
        return out


Record = Problem | Sample | Example


def record_from_dict(d: Mapping[str, Any]) -> Record:
    """Builds the record a decoded JSON object describes, by its fields.

    An object with ``messages`` is an Example, one with ``completion`` a Sample (verified if it
    has a ``verdict``), anything else a Problem.

    Raises:
        RecordError: the object is not a valid record.
    """
    if "messages" in d:
        return Example.from_dict(d)
    if "completion" in d:
        return Sample.from_dict(d)
    return Problem.from_dict(d)
