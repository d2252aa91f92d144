"""The generation backends of the generate stage, one module each, all implementing
:class:`~sfstream.backends.base.Backend`:

* :mod:`~sfstream.backends.openai`: OpenAI-compatible servers (vLLM, SGLang, llama.cpp...),
  with its HTTP client (:mod:`~sfstream.backends.http`) and the balancing of requests over
  several servers (:mod:`~sfstream.backends.endpoints`);
* :mod:`~sfstream.backends.transformers`: a small model run in this process;
* :mod:`~sfstream.backends.replay`: recorded completions.

:func:`open_backend` picks one by ``GenerateConfig.backend``, importing only that one.
"""

from __future__ import annotations

from sfstream.backends.base import Backend, GenerateConfig
from sfstream.progress import StageProgress
from sfstream.templates import Template

__all__ = ["open_backend"]


def open_backend(
    config: GenerateConfig, templates: dict[str, Template], progress: StageProgress
) -> Backend:
    """The backend ``config`` names, not yet entered (use it as an async context manager).

    Raises:
        GenerationError: the openai backend without a base URL or a model.
    """
    if config.backend == "replay":
        from sfstream.backends.replay import ReplayBackend

        return ReplayBackend(config, progress)
    if config.backend == "transformers":
        from sfstream.backends.transformers import TransformersBackend

        return TransformersBackend(config, templates, progress)
    from sfstream.backends.openai import OpenAIBackend

    return OpenAIBackend(config, templates, progress)
