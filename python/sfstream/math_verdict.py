"""Math verdicts: extract the final answer and compare it with the gold answer.

Extraction, normalisation and the common comparisons run in the Rust core; only pairs the core
cannot decide (symbolic expressions) go to sympy, in a worker process under a hard limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sfstream import _core, _symbolic

__all__ = ["MathVerdict", "check_math", "extract_answer"]

#: Seconds a symbolic comparison may take before it is reported as ``timeout``.
DEFAULT_SYMBOLIC_TIMEOUT = 5.0


@dataclass(frozen=True)
class MathVerdict:
    """The judgement of one math completion.

    Attributes:
        correct: The extracted answer equals the gold answer.
        status: ``correct``, ``wrong_answer``, ``no_answer``, ``truncated`` or ``timeout``.
        extracted: The final answer found in the completion, if any.
        detail: A short explanation, if any.
    """

    correct: bool
    status: str
    extracted: str | None = None
    detail: str | None = None


def extract_answer(text: str, *, anchored: bool = True, strict: bool = False) -> str | None:
    """The final answer of a completion: the last ``\\boxed{}``, else "the answer is X".

    Anchored (the default), a box (boxes written side by side as one answer are read
    together), an answer phrase ("the answer is", "final answer is", "Answer:", "####", a last
    line "A: X"; one written after the last box wins over it), a bold value on the last line,
    or, unless ``strict``, a last sentence that states one value at its end ("Altogether, there
    are 36 outcomes.") counts. ``anchored=False`` falls back to the last math span or number;
    that also picks up an expression merely restated from the problem, so do not use it to
    accept training data.

    Example:
        >>> extract_answer("... so x = 2. Therefore, the answer is 2.")
        '2'
    """
    return _core.extract_answer(text, anchored, strict)


def check_math(
    completion: str,
    gold: str,
    *,
    finish_reason: str | None = None,
    timeout: float = DEFAULT_SYMBOLIC_TIMEOUT,
    anchored: bool = True,
    strict: bool = False,
    rel_tol: float = 0.0,
) -> MathVerdict:
    """Judges a math completion against the gold answer.

    Safe from any thread; never raises for anything in the checked text, and never takes much
    longer than ``timeout``.

    Args:
        completion: The model's answer text.
        gold: The gold final answer.
        finish_reason: The generation's finish reason; ``length`` makes the verdict
            ``truncated`` (an unfinished solution is not a training example).
        timeout: Hard limit in seconds on the symbolic comparison; an overrun is the
            status ``timeout``, never ``wrong_answer``.
        anchored: Require an answer marker (box, answer phrase, bold final value). False also
            accepts the completion's last math span or number (see :func:`extract_answer`).
            A gold that is a choice letter A-E is matched against the completion's letter in
            any common form: ``(C)``, ``\\boxed{C}``, ``\\textbf{(C)}``, "Answer: C", "C)".
        strict: The strict no-marker policy: a completion without a box, an answer phrase or
            a bold final value has no answer. By default its last sentence counts when it
            states one value at its end (see :func:`extract_answer`).
        rel_tol: Relative tolerance for numeric answers: ``|a - b| <= rel_tol * max(|a|, |b|)``
            counts as equal. The default 0 compares exactly (a gold written as a rounded
            decimal still accepts an exact value that rounds to it, such as ``\\sqrt{13}``
            for ``3.606``).

    Raises:
        ValueError: ``rel_tol`` is negative or NaN (an option error; nothing in the checked
            text raises).

    Example:
        >>> check_math("Step 1: ... Therefore, the answer is \\boxed{\\frac{1}{2}}.", "0.5").status
        'correct'
    """
    if not rel_tol >= 0.0:  # also rejects NaN
        raise ValueError(f"rel_tol must be a number >= 0, got {rel_tol!r}")
    if finish_reason == "length":
        extracted = _core.extract_answer(completion, anchored, strict)
        return MathVerdict(False, "truncated", extracted, "generation stopped at the token limit")
    status, extracted, detail = _core.check_math(completion, gold, anchored, strict, rel_tol)
    if status == "undecided" and extracted is not None:
        outcome = _symbolic.equivalent(
            _core.normalize_answer(extracted),
            _core.normalize_answer(_core.gold_answer(gold)),
            timeout,
            rel_tol=rel_tol,
        )
        if outcome == "equal":
            status, detail = "correct", "symbolically equal"
        elif outcome == "timeout":
            status, detail = "timeout", f"symbolic comparison exceeded {timeout:g}s"
        else:
            status = "wrong_answer"
            detail = (
                "symbolically different"
                if outcome == "different"
                else ("could not parse the answers for a symbolic comparison")
            )
    elif status == "undecided":
        status = "no_answer"
    return MathVerdict(status == "correct", status, extracted, detail)
