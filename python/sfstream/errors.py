"""The exception tree of sfstream.

Exceptions are for pipeline faults only: bad input or configuration, an unreachable server, a
sandbox that cannot start. A wrong answer, a timeout or a crash of checked code is a verdict
(data that flows on), never an exception.

    SfstreamError                  (defined in the Rust core, base of everything below)
    ├── InvalidInputError          the core was given something it cannot work with
    ├── SandboxError               the sandbox could not set up or supervise a process
    ├── StoppedError               a code check was stopped by its stop flag (cancellation)
    ├── RecordError                a record is missing a field or has a wrong type
    ├── InputError                 a malformed input line (carries the source and line number)
    ├── ConfigError                bad options, configuration or data source
    └── GenerationError            the model server failed in a way retries did not fix
"""

from __future__ import annotations

from sfstream._core import InvalidInputError, SandboxError, SfstreamError, StoppedError

__all__ = [
    "ConfigError",
    "GenerationError",
    "InputError",
    "InvalidInputError",
    "RecordError",
    "SandboxError",
    "SfstreamError",
    "StoppedError",
]


class RecordError(SfstreamError):
    """A record is missing a required field or a field has the wrong type."""


class InputError(SfstreamError):
    """A malformed line of NDJSON input.

    Attributes:
        source: Name of the input (a path, or ``<stdin>``).
        line: 1-based line number.
        reason: What is wrong with the line.
    """

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}: line {line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


class ConfigError(SfstreamError):
    """Bad options, configuration or data source."""


class GenerationError(SfstreamError):
    """The model server failed in a way that retries did not fix."""
