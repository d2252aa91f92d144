"""The prompt and training templates of the design document, per domain, and the one place
that turns a template and a problem into a prompt: the messages (system and user turns), or
one text, plain or rendered with a model's chat template.

The system line and the user prompt are the seed templates' first two parts; the assistant's
part is the model's own step-by-step solution, closed by "Therefore, the answer is X." (math)
or by a "Here's my final solution:" block (code). The generation backends send the prompt with
the answer format added; the format stage writes the seed prompt into training examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sfstream.errors import ConfigError

__all__ = ["DEFAULT_TEMPLATES", "Template", "load_templates", "render_chat"]


@dataclass(frozen=True)
class Template:
    """The prompt of one domain.

    Attributes:
        system: The system line.
        user: The user prompt, with ``{problem}`` (and for code ``{starter_code}``) fields.
        answer_format: What generation asks for on top of the seed prompt, so the answer can be
            extracted ("Therefore, the answer is X." or a final code block).
    """

    system: str
    user: str
    answer_format: str

    def user_prompt(self, problem: str, starter_code: str | None = None) -> str:
        """The user turn for ``problem`` as a training row shows it (the seed prompt)."""
        text = self.user.format(problem=problem.strip())
        if starter_code:
            text += f"\n\nStart from this code:\n\n```python\n{starter_code.rstrip()}\n```"
        return text

    def generation_prompt(self, problem: str, starter_code: str | None = None) -> str:
        """The user turn sent to the model: the seed prompt plus the answer format."""
        return self.user_prompt(problem, starter_code) + "\n\n" + self.answer_format

    def messages(
        self, problem: str, starter_code: str | None = None, *, generation: bool = True
    ) -> list[dict[str, str]]:
        """The system and user turns: the generation prompt, or (``generation=False``) the
        seed prompt a training example shows."""
        user = (
            self.generation_prompt(problem, starter_code)
            if generation
            else self.user_prompt(problem, starter_code)
        )
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def prompt(
        self,
        problem: str,
        starter_code: str | None = None,
        tokenizer: Any = None,
        *,
        generation: bool = True,
    ) -> str:
        """The same turns as one text: rendered with ``tokenizer``'s chat template when one is
        given, else plain (system, user, each followed by a blank line)."""
        messages = self.messages(problem, starter_code, generation=generation)
        if tokenizer is not None:
            return render_chat(tokenizer, messages)
        return "".join(m["content"] + "\n\n" for m in messages)


MATH = Template(
    system=(
        "You are a helpful AI math assistant. You excel at solving math problems by breaking "
        "them down into clear, logical steps."
    ),
    user="Problem:\n{problem}\n\nSolve this problem step by step, showing your reasoning clearly.",
    answer_format=(
        'Begin with "I\'ll solve this step by step.", number your steps "Step 1:", "Step 2:", '
        '..., and end with "Therefore, the answer is \\boxed{ANSWER}." where ANSWER is the final '
        "answer."
    ),
)

CODE = Template(
    system=(
        "You are an expert coding assistant. You excel at solving programming problems with "
        "clear step-by-step reasoning."
    ),
    user=(
        "Problem:\n{problem}\n\nSolve this coding problem step by step in Python, explaining "
        "your thought process and then providing the final working code."
    ),
    answer_format=(
        'Begin with "I\'ll solve this step by step.", number your steps "Step 1:", "Step 2:", '
        '..., then write "Here\'s my final solution:" followed by one complete Python program '
        'in a ```python code block, and end with a sentence starting "This code works by".'
    ),
)

DEFAULT_TEMPLATES: dict[str, Template] = {"math": MATH, "code": CODE}


def load_templates(path: str | Path | None) -> dict[str, Template]:
    """The default templates, overridden per domain and field from a JSON file.

    The file holds ``{"math": {"system": ..., "user": ..., "answer_format": ...}, "code": ...}``;
    any part left out keeps its default.

    Raises:
        ConfigError: the file cannot be read or has unknown keys.
    """
    if path is None:
        return dict(DEFAULT_TEMPLATES)
    try:
        data = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        raise ConfigError(f"cannot read templates from {path}: {e}") from None
    out = dict(DEFAULT_TEMPLATES)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected an object keyed by domain")
    for domain, fields in data.items():
        if domain not in out or not isinstance(fields, dict):
            raise ConfigError(f"{path}: unknown domain {domain!r} (use 'math' or 'code')")
        base = out[domain]
        unknown = set(fields) - {"system", "user", "answer_format"}
        if unknown:
            raise ConfigError(f"{path}: unknown template keys {sorted(unknown)}")
        out[domain] = Template(
            system=str(fields.get("system", base.system)),
            user=str(fields.get("user", base.user)),
            answer_format=str(fields.get("answer_format", base.answer_format)),
        )
    return out


def render_chat(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """``messages`` rendered with a transformers tokenizer's chat template, ready for the
    assistant's turn."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return str(text)
