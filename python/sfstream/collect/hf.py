"""Hugging Face datasets, through the optional ``datasets`` package (``sfstream[hf]``)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from sfstream.errors import ConfigError

__all__ = ["have_datasets", "load_hf_rows", "one_line"]


def one_line(exc: BaseException) -> str:
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
            f"cannot load Hugging Face dataset '{what}'{where}: {one_line(exc)}"
        ) from None
