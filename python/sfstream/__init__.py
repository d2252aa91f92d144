"""sfstream: verified step-by-step training data from math and coding problems.

Four stages, each an async generator over records and a filter in the ``sfstream`` command:
:func:`collect` problems, :func:`generate` samples from a model server, :func:`verify` them
(answer checks and sandboxed tests), :func:`format` the correct ones into training examples.
:func:`run` does all four in one streaming process.
"""

from typing import Any

from sfstream._core import __version__
from sfstream.code_verdict import CodeVerdict, StopFlag, extract_program, run_tests
from sfstream.collect import collect
from sfstream.errors import (
    ConfigError,
    GenerationError,
    InputError,
    InvalidInputError,
    RecordError,
    SandboxError,
    SfstreamError,
    StoppedError,
)
from sfstream.format import FormatConfig, format
from sfstream.generate import GenerateConfig, generate
from sfstream.math_verdict import MathVerdict, check_math, extract_answer
from sfstream.records import Example, Problem, Sample, Verdict
from sfstream.report import Report
from sfstream.verify import VerifyConfig, verify

__all__ = [
    "CodeVerdict",
    "ConfigError",
    "Example",
    "FormatConfig",
    "GenerateConfig",
    "GenerationError",
    "InputError",
    "InvalidInputError",
    "MathVerdict",
    "Problem",
    "RecordError",
    "Report",
    "RunConfig",
    "Sample",
    "SandboxError",
    "SfstreamError",
    "StopFlag",
    "StoppedError",
    "Verdict",
    "VerifyConfig",
    "__version__",
    "check_math",
    "collect",
    "extract_answer",
    "extract_program",
    "format",
    "generate",
    "run",
    "run_tests",
    "verify",
]

_LAZY = {
    "run": ("sfstream.runner", "run"),
    "RunConfig": ("sfstream.runner", "RunConfig"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sfstream' has no attribute {name!r}")
