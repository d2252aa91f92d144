"""The format stage: turn verified samples into training examples.

Only samples whose verdict is correct become examples. Three styles:

* ``messages``: system, user and assistant turns (the assistant turn is the model's solution,
  with a separate reasoning channel wrapped in ``<think>``);
* ``seed``: the same plus ``text``, the design document's template rendered in full, closed by
  "Therefore, the answer is X." (math) or a "Here's my final solution:" block (code);
* ``sharegpt``: the same turns as ``conversations`` of ``{"from", "value"}``.

``keep`` picks among a problem's correct samples: ``all``, the ``first`` (lowest sample index)
or the ``shortest``. The last two wait until no other sample of a problem can follow: the end
of the input, or, inside ``sfstream run`` (which knows how many samples each problem has), the
problem's last sample; ``all`` streams.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from sfstream._config import configure
from sfstream.errors import ConfigError, RecordError
from sfstream.pipeline import StageFn, iterate_stage
from sfstream.progress import StageProgress
from sfstream.quality import QualityThresholds, check_thresholds, threshold_failures
from sfstream.records import Example, Sample
from sfstream.templates import DEFAULT_TEMPLATES, Template

__all__ = ["FormatConfig", "format", "format_sample", "format_stage"]

Style = Literal["messages", "seed", "sharegpt"]
Keep = Literal["all", "first", "shortest"]
STYLES: tuple[str, ...] = ("messages", "seed", "sharegpt")
KEEPS: tuple[str, ...] = ("all", "first", "shortest")

_MATH_CLOSE = re.compile(r"Therefore,? the (?:final )?answer is", re.IGNORECASE)
_CODE_CLOSE = "Here's my final solution:"


@dataclass(frozen=True, kw_only=True)
class FormatConfig:
    """Options of the format stage.

    Attributes:
        style: ``messages``, ``seed`` or ``sharegpt``.
        keep: ``all``, ``first`` or ``shortest`` correct samples per problem.
        templates: Prompt templates per domain.
        min_steps, max_completion_tokens, max_test_time_ratio, min_explanation_chars: Quality
            thresholds (as in ``VerifyConfig``), applied to the measures in each correct
            sample's ``verdict.quality``: a sample that fails one is dropped. A measure the
            verdict does not carry fails nothing.
    """

    style: Style = "messages"
    keep: Keep = "all"
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

    def thresholds(self) -> QualityThresholds:
        """The quality thresholds among these options."""
        return QualityThresholds(
            min_steps=self.min_steps,
            max_completion_tokens=self.max_completion_tokens,
            max_test_time_ratio=self.max_test_time_ratio,
            min_explanation_chars=self.min_explanation_chars,
        )


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
    last_of_problem: Callable[[Sample], bool] | None = None,
) -> StageFn:
    """The format stage function: verified samples in, examples out.

    Args:
        config: Options.
        progress: Counts the examples written.
        last_of_problem: Called once for each sample in order of arrival; True when no other
            sample of its problem will follow, so ``keep`` ``first``/``shortest`` write the
            problem's example then, instead of holding it to the end of the input.
    """
    config = config or FormatConfig()

    async def stage(
        receive: MemoryObjectReceiveStream[Any], send: MemoryObjectSendStream[Any]
    ) -> None:
        chosen: dict[str, Sample] = {}
        async with receive, send:
            async for sample in receive:
                last = last_of_problem is not None and last_of_problem(sample)
                example = format_sample(sample, config)
                if example is not None and config.keep == "all":
                    await send.send(example)
                    if progress:
                        progress.done += 1
                    continue
                if example is not None:
                    best = chosen.get(sample.id)
                    if best is None or _better(sample, best, config.keep):
                        chosen[sample.id] = sample
                if last and sample.id in chosen:
                    done = format_sample(chosen.pop(sample.id), config)
                    assert done is not None
                    await send.send(done)
                    if progress:
                        progress.done += 1
            for sample in chosen.values():
                example = format_sample(sample, config)
                assert example is not None
                await send.send(example)
                if progress:
                    progress.done += 1

    return stage


def _better(a: Sample, b: Sample, keep: str) -> bool:
    if keep == "first":
        return a.sample_index < b.sample_index
    la, lb = len(a.completion) + len(a.reasoning or ""), len(b.completion) + len(b.reasoning or "")
    return (la, a.sample_index) < (lb, b.sample_index)


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
