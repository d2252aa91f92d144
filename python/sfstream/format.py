"""The format stage: turn verified samples into training examples.

Only samples whose verdict is correct become examples. Three styles:

* ``messages``: system, user and assistant turns (the assistant turn is the model's solution,
  with a separate reasoning channel wrapped in ``<think>``);
* ``seed``: the same plus ``text``, the design document's template rendered in full, closed by
  "Therefore, the answer is X." (math) or a "Here's my final solution:" block (code);
* ``sharegpt``: the same turns as ``conversations`` of ``{"from", "value"}``;
* ``alpaca``: the same turns as the Alpaca/LLaMA-Factory fields ``instruction`` (the user
  turn), ``input`` (empty: the problem is part of the instruction), ``output`` (the assistant
  turn) and ``system``.

``keep`` picks among a problem's correct samples: ``all``, or the ``first`` (lowest sample
index), ``shortest``, ``longest`` or ``random`` ones (``max_per_problem`` of them). The pass-rate
band, duplicate removal and the domain or source mix are further options; ``sfstream.select``
implements them and says when each decides. ``all`` alone streams.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from sfstream._config import configure
from sfstream.errors import ConfigError, RecordError
from sfstream.pipeline import StageFn, iterate_stage
from sfstream.progress import StageProgress
from sfstream.quality import QualityThresholds, check_thresholds, threshold_failures
from sfstream.records import Example, Sample
from sfstream.select import (
    DEDUP_MODES,
    KEEPS,
    MIX_BY,
    needs_selection,
    parse_mix,
    parse_pass_rate,
    selection_stage,
)
from sfstream.templates import DEFAULT_TEMPLATES, Template

__all__ = ["FormatConfig", "format", "format_sample", "format_stage"]

Style = Literal["messages", "seed", "sharegpt", "alpaca"]
Keep = Literal["all", "first", "shortest", "longest", "random"]
STYLES: tuple[str, ...] = ("messages", "seed", "sharegpt", "alpaca")

_MATH_CLOSE = re.compile(r"Therefore,? the (?:final )?answer is", re.IGNORECASE)
_CODE_CLOSE = "Here's my final solution:"


@dataclass(frozen=True, kw_only=True)
class FormatConfig:
    """Options of the format stage.

    Attributes:
        style: ``messages``, ``seed``, ``sharegpt`` or ``alpaca``.
        keep: ``all``, ``first``, ``shortest``, ``longest`` or ``random`` correct samples per
            problem.
        seed: Seed of ``keep="random"`` and of the examples a mix drops.
        max_per_problem: Samples kept per problem by a ``keep`` other than ``all`` (default 1).
        pass_rate: Keep only problems whose share of samples with a checked-out answer lies in
            ``[LO, HI]``; ``"LO:HI"`` or a pair.
        samples_per_problem: The number of samples of a problem (its group), when known:
            a group is decided as soon as it is complete (``sfstream run`` uses ``generate.n``).
        mix: Ratios per domain or source, ``"math=0.6,code=0.4"`` or a mapping.
        mix_by: ``domain`` (default) or ``source``: what the names of ``mix`` are.
        dedup_problems, dedup_completions: ``exact`` or ``near`` duplicate removal.
        minhash_shingle: Tokens per shingle of near-duplicate detection (default 5).
        minhash_perms: Permutations of a MinHash signature (default 128).
        minhash_bands: LSH bands (default 16; must divide ``minhash_perms``).
        near_threshold: Estimated Jaccard similarity of a near duplicate (default 0.8).
        spool_dir: Directory of the temporary spool file of duplicate removal and mix
            (default: the system's temporary directory).
        templates: Prompt templates per domain.
        min_steps, max_completion_tokens, max_test_time_ratio, min_explanation_chars: Quality
            thresholds (as in ``VerifyConfig``), applied to the measures in each correct
            sample's ``verdict.quality``: a sample that fails one is dropped. A measure the
            verdict does not carry fails nothing.
    """

    style: Style = "messages"
    keep: Keep = "all"
    seed: int = 0
    max_per_problem: int | None = None
    pass_rate: tuple[float, float] | str | None = None
    samples_per_problem: int | None = None
    mix: tuple[tuple[str, float], ...] | str | Mapping[str, float] | None = None
    mix_by: Literal["domain", "source"] = "domain"
    dedup_problems: Literal["exact", "near"] | None = None
    dedup_completions: Literal["exact", "near"] | None = None
    minhash_shingle: int = 5
    minhash_perms: int = 128
    minhash_bands: int = 16
    near_threshold: float = 0.8
    spool_dir: str | None = None
    templates: dict[str, Template] | None = None
    min_steps: int | None = None
    max_completion_tokens: int | None = None
    max_test_time_ratio: float | None = None
    min_explanation_chars: int | None = None

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ConfigError(f"unknown style {self.style!r} (use one of {', '.join(STYLES)})")
        if self.keep not in KEEPS:
            raise ConfigError(f"unknown keep {self.keep!r} (use one of {', '.join(KEEPS)})")
        check_thresholds("format", self.thresholds())
        self._check_selection()

    def _check_selection(self) -> None:
        def positive(name: str, value: Any) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"format: {name} must be a positive integer, got {value!r}")

        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"format: seed must be an integer, got {self.seed!r}")
        if self.max_per_problem is not None:
            positive("max_per_problem", self.max_per_problem)
            if self.keep == "all":
                raise ConfigError(
                    "format: max_per_problem needs a keep policy that orders samples "
                    "(first, shortest, longest or random), not all"
                )
        if self.samples_per_problem is not None:
            positive("samples_per_problem", self.samples_per_problem)
        if self.pass_rate is not None:
            object.__setattr__(self, "pass_rate", parse_pass_rate(self.pass_rate))
        if self.mix is not None:
            object.__setattr__(self, "mix", parse_mix(self.mix))
        if self.mix_by not in MIX_BY:
            raise ConfigError(f"format: mix_by must be one of {', '.join(MIX_BY)}")
        for name in ("dedup_problems", "dedup_completions"):
            value = getattr(self, name)
            if value is not None and value not in DEDUP_MODES:
                raise ConfigError(f"format: {name} must be one of {', '.join(DEDUP_MODES)}")
        for name in ("minhash_shingle", "minhash_perms", "minhash_bands"):
            positive(name, getattr(self, name))
        if self.minhash_perms % self.minhash_bands:
            raise ConfigError(
                f"format: minhash_bands ({self.minhash_bands}) must divide minhash_perms "
                f"({self.minhash_perms})"
            )
        t = self.near_threshold
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0.0 <= t <= 1.0:
            raise ConfigError(f"format: near_threshold must be between 0 and 1, got {t!r}")

    def thresholds(self) -> QualityThresholds:
        """The quality thresholds among these options."""
        return QualityThresholds.of(self)


def _assistant_text(sample: Sample) -> str:
    text = sample.completion.strip()
    if sample.reasoning:
        text = f"<think>\n{sample.reasoning.strip()}\n</think>\n\n{text}"
    return text


def _seed_response(sample: Sample) -> str:
    """The completion closed the way the seed template closes it."""
    text = _assistant_text(sample)
    tail = text[-2000:]
    if sample.domain == "math":
        if not _MATH_CLOSE.search(tail):
            text += f"\n\nTherefore, the answer is {sample.answer}."
    elif _CODE_CLOSE not in text:
        program = sample.verdict.extracted if sample.verdict else None
        if program:
            text += f"\n\n{_CODE_CLOSE}\n\n```python\n{program.rstrip()}\n```"
    return text


def format_sample(sample: Sample, config: FormatConfig | None = None) -> Example | None:
    """The training example of one verified sample; None unless its verdict is correct and
    its quality measures pass the thresholds of ``config``.

    Raises:
        RecordError: the sample has no verdict (run ``verify`` first).
    """
    config = config or FormatConfig()
    if sample.verdict is None:
        raise RecordError(
            f"sample {sample.id}#{sample.sample_index} has no verdict: "
            "format reads the output of verify"
        )
    if not sample.verdict.correct:
        return None
    if sample.verdict.quality and threshold_failures(sample.verdict.quality, config.thresholds()):
        return None
    template = (config.templates or DEFAULT_TEMPLATES)[sample.domain]
    response = _seed_response(sample) if config.style == "seed" else _assistant_text(sample)
    messages = [
        *template.messages(sample.problem, sample.starter_code, generation=False),
        {"role": "assistant", "content": response},
    ]
    verdict = sample.verdict
    meta: dict[str, Any] = {
        **sample.meta,
        "sample_index": sample.sample_index,
        "model": sample.model,
        "status": verdict.status,
    }
    if verdict.total is not None:
        meta["tests_passed"] = verdict.passed
        meta["tests_total"] = verdict.total
    if sample.usage:
        meta["completion_tokens"] = sample.usage.get("completion_tokens")
    extra: dict[str, Any] = {}
    text = None
    if config.style == "seed":
        prompt = template.prompt(sample.problem, sample.starter_code, generation=False)
        text = f"{prompt}{response}\n"
    elif config.style == "sharegpt":
        names = {"system": "system", "user": "human", "assistant": "gpt"}
        extra["conversations"] = [
            {"from": names[m["role"]], "value": m["content"]} for m in messages
        ]
    elif config.style == "alpaca":
        extra.update(
            instruction=messages[1]["content"],
            input="",
            output=response,
            system=messages[0]["content"],
        )
    return Example(
        id=f"{sample.id}#{sample.sample_index}",
        domain=sample.domain,
        source=sample.source,
        messages=messages,
        meta=meta,
        text=text,
        extra=extra,
    )


def format_stage(
    config: FormatConfig | None = None,
    progress: StageProgress | None = None,
    counts: dict[str, Any] | None = None,
) -> StageFn:
    """The format stage function: verified samples in, examples out.

    Args:
        config: The options.
        progress: Counts the examples sent.
        counts: Filled with what each selection step removed (see ``sfstream.select``).
    """
    config = config or FormatConfig()
    if needs_selection(config):
        return selection_stage(config, format_sample, progress, counts)

    async def stage(
        receive: MemoryObjectReceiveStream[Any], send: MemoryObjectSendStream[Any]
    ) -> None:
        async with receive, send:
            async for sample in receive:
                example = format_sample(sample, config)
                if example is None:
                    continue
                await send.send(example)
                if progress:
                    progress.done += 1

    return stage


def format(
    samples: AsyncIterable[Sample], config: FormatConfig | None = None, **options: Any
) -> AsyncIterator[Example]:
    """Turns verified samples into training examples (correct ones only).

    Args:
        samples: Verified samples from ``verify``.
        config: Options; keyword ``options`` (``style``, ``keep``) override its fields.

    Returns:
        An async generator of training examples.

    Raises:
        ConfigError: an unknown option or a bad value, when called (before any sample).
    """
    config = configure(FormatConfig, config, options, "format")
    return iterate_stage(format_stage(config), samples)
