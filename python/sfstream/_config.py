"""One way for every stage to take its options: a config object and/or keyword overrides,
checked when the stage is called (not when its first record arrives, nor once per sample)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, TypeVar

from sfstream.errors import ConfigError

__all__ = ["check_positive", "configure"]

C = TypeVar("C")


def configure(cls: type[C], config: C | None, options: Mapping[str, Any], stage: str) -> C:
    """``config`` (or the defaults) with ``options`` applied, validated by ``cls`` itself.

    Raises:
        ConfigError: an option ``cls`` does not have, a config of another type, or a value
            that ``cls`` rejects.
    """
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - names)
    if unknown:
        raise ConfigError(
            f"unknown {stage} option(s): {', '.join(unknown)} (known: {', '.join(sorted(names))})"
        )
    if config is not None and not isinstance(config, cls):
        raise ConfigError(f"{stage}: config must be a {cls.__name__}, not {type(config).__name__}")
    try:
        if config is None:
            return cls(**options)
        return dataclasses.replace(config, **options) if options else config  # type: ignore[type-var]
    except TypeError as e:
        raise ConfigError(f"{stage}: {e}") from None


def check_positive(stage: str, name: str, value: Any, *, allow_zero: bool = False) -> None:
    """Raises ConfigError unless ``value`` is a finite number > 0 (or >= 0)."""
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        bound = "at least 0" if allow_zero else "greater than 0"
        raise ConfigError(f"{stage}: {name} must be a number {bound}, got {value!r}")
