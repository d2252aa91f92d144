"""Answer forms real models write (issue families 1-11), the checker's options, and how they reach
the verify stage and the command line."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from sfstream import _symbolic, check_math, extract_answer
from sfstream.records import Sample
from sfstream.verify import VerifyConfig, verify_sample


@pytest.mark.parametrize(
    ("completion", "gold", "status"),
    [
        # 1. Clock times and zero parts compare exactly, never by proportion.
        ("\\boxed{11:00}", "2:00", "wrong_answer"),
        ("\\boxed{0:3}", "0:8", "wrong_answer"),
        ("\\boxed{6:4}", "3:2", "correct"),
        # 2. Several parts: all of them, never a part alone.
        ("so $\\boxed{4}$ and $\\boxed{7}$.", "4, 7", "correct"),
        ("so $\\boxed{4}$.", "4, 7", "wrong_answer"),
        ("$y = \\boxed{-2}$ or $y = \\boxed{5}$", "5, -2", "correct"),
        ("\\boxed{3 \\text{ and } 9}", "3, 9", "correct"),
        ("The roots are $t = -1$ and $t = 6$.", "-1, 6", "correct"),
        ("The roots are $t = -1$ and $t = 6$.", "-1", "wrong_answer"),
        # 3. Equality chains end in the value.
        ("\\boxed{3^3 = 27}", "27", "correct"),
        ("\\boxed{p + q = q + p = 17}", "17", "correct"),
        # 4. Values that need evaluation, and identities sympy proves.
        ("\\boxed{|-7|}", "7", "correct"),
        ("\\boxed{\\lfloor 5.2 \\rfloor}", "5", "correct"),
        ("\\boxed{\\{2,5\\} \\setminus \\{5\\}}", "\\{2\\}", "correct"),
        ("\\boxed{\\cos^2 x - \\sin^2 x}", "\\cos 2x", "correct"),
        ("\\boxed{\\cos^2 x + \\sin^2 x}", "\\cos 2x", "wrong_answer"),
        # Constants sympy cannot simplify agree to 80 digits relative to their size.
        (
            "\\boxed{\\cos \\frac{2\\pi}{15} \\cos \\frac{4\\pi}{15} \\cos \\frac{8\\pi}{15}"
            " \\cos \\frac{16\\pi}{15}}",
            "\\frac{1}{16}",
            "correct",
        ),
        ("\\boxed{\\frac{1}{4}[\\cos^2(\\frac{2\\pi}{5}) - 1]}", "\\frac{1}{16}", "wrong_answer"),
        # 5. Labels.
        ("\\boxed{(a,b)=(5,1)}", "(5,1)", "correct"),
        ("\\boxed{0<g(t)<2}", "(0,2)", "correct"),
        # 6. Relation spellings.
        ("\\boxed{[2,\\infty)}", "x >= 2", "correct"),
        ("\\boxed{x \\gt 2}", "x > 2", "correct"),
        # 7. Answer phrases with prose.
        ("Final Answer: The smallest $k$ is 12.", "12", "correct"),
        # 9. Notation; matrices with symbolic entries reach sympy.
        ("\\boxed{0,25}", "0.25", "correct"),
        ("\\boxed{\\{-7, 7\\}}", "\\pm 7", "correct"),
        (
            "\\boxed{\\begin{pmatrix} \\cos^2 x & 1 \\\\ 0 & 2 \\end{pmatrix}}",
            "\\begin{bmatrix} 1 - \\sin^2 x & 1 \\\\ 0 & 2 \\end{bmatrix}",
            "correct",
        ),
        (
            "\\boxed{\\begin{pmatrix} \\cos^2 x & 1 \\\\ 0 & 2 \\end{pmatrix}}",
            "\\begin{pmatrix} \\sin^2 x & 1 \\\\ 0 & 2 \\end{pmatrix}",
            "wrong_answer",
        ),
        ("\\boxed{(\\sin x, 1)}", "(\\sin x, 1)", "correct"),
        ("\\boxed{(2\\sin x \\cos x, 1)}", "(\\sin 2x, 1)", "correct"),
        ("\\boxed{(\\sin x, 1)}", "(\\cos x, 1)", "wrong_answer"),
        # 10. A rounded decimal gold accepts a value that rounds to it.
        ("\\boxed{\\sqrt{13}}", "3.606", "correct"),
        ("\\boxed{0.54}", "0.5", "wrong_answer"),
    ],
)
def test_answer_forms(completion: str, gold: str, status: str) -> None:
    _symbolic.clear_caches()
    assert check_math(completion, gold).status == status


def test_strict_mode_needs_a_marker() -> None:
    text = "We count each case.\n\nAltogether, there are 36 outcomes."
    assert check_math(text, "36").status == "correct"
    assert check_math(text, "36", strict=True).status == "no_answer"
    assert extract_answer(text) == "36"
    assert extract_answer(text, strict=True) is None
    # A restated intermediate value is not a conclusion.
    assert check_math("Let me know if you want the 36 steps.", "36").status == "no_answer"


def test_rel_tol_option() -> None:
    assert check_math("\\boxed{3.1416}", "3.1415").status == "wrong_answer"
    assert check_math("\\boxed{3.1416}", "3.1415", rel_tol=1e-3).status == "correct"
    assert check_math("\\boxed{3.3}", "3.1415", rel_tol=1e-3).status == "wrong_answer"
    # Constants the core cannot evaluate reach sympy with the same tolerance.
    _symbolic.clear_caches()
    assert check_math("\\boxed{\\ln 2}", "0.6931", rel_tol=1e-3).status == "correct"
    assert check_math("\\boxed{\\ln 2}", "0.6931").status == "wrong_answer"
    for bad in (-1.0, math.nan):
        with pytest.raises(ValueError, match="rel_tol"):
            check_math("\\boxed{1}", "1", rel_tol=bad)


def test_unanchored_fallback_keeps_numbers_whole() -> None:
    assert extract_answer("take .7 here", anchored=False) == ".7"
    assert extract_answer("about 2 500 of them", anchored=False) == "2 500"
    assert extract_answer("take \\frac{11}{7} then", anchored=False) == "\\frac{11}{7}"
    assert extract_answer("code QX3Z", anchored=False) is None
    assert extract_answer("so $$x^2+1$$ here", anchored=False) == "x^2+1"
    assert check_math("take .7 here", "0.7", anchored=False).status == "correct"


def _sample(completion: str, answer: str) -> Sample:
    return Sample.from_dict(
        {
            "kind": "sample",
            "id": "p",
            "domain": "math",
            "source": "test",
            "problem": "How many?",
            "answer": answer,
            "sample_index": 0,
            "completion": completion,
            "finish_reason": "stop",
        }
    )


def test_options_reach_the_verify_stage() -> None:
    text = "Altogether, there are 36 outcomes."
    assert verify_sample(_sample(text, "36")).status == "correct"
    assert verify_sample(_sample(text, "36"), VerifyConfig(math_strict=True)).status == "no_answer"
    near = _sample("\\boxed{3.1416}", "3.1415")
    assert verify_sample(near).status == "wrong_answer"
    assert verify_sample(near, VerifyConfig(math_rel_tol=1e-3)).status == "correct"


def _cli_verify(sample: Sample, *flags: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "sfstream", "verify", "--workers", "1", *flags],
        input=(json.dumps(sample.to_dict()) + "\n").encode(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    row: dict[str, object] = json.loads(proc.stdout.decode().splitlines()[0])
    verdict = row["verdict"]
    assert isinstance(verdict, dict)
    return verdict


def test_options_reach_the_command_line() -> None:
    text = _sample("Altogether, there are 36 outcomes.", "36")
    assert _cli_verify(text)["status"] == "correct"
    assert _cli_verify(text, "--math-strict")["status"] == "no_answer"
    near = _sample("\\boxed{3.1416}", "3.1415")
    assert _cli_verify(near)["status"] == "wrong_answer"
    assert _cli_verify(near, "--math-rel-tol", "1e-3")["status"] == "correct"
    bad = subprocess.run(
        [sys.executable, "-m", "sfstream", "verify", "--math-rel-tol", "-1"],
        input=b"",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode != 0
    assert b"--math-rel-tol" in bad.stderr
