"""Builds a tiny random Llama that a real vLLM server can load, for the integration tests.

Run it with the vLLM environment's python (it needs torch, transformers and tokenizers)::

    $(scripts/setup-vllm.sh) scripts/make_tiny_model.py ~/.cache/sfstream/tiny-llama

The model has random weights (2 layers, hidden size 128, 4 heads), so it writes gibberish, but
it is a real checkpoint: a byte-level BPE tokenizer of about 1000 tokens trained here on text
generated here, a chat template, and float32 safetensors. Everything is local (no hub access)
and seeded, so two runs give the same files.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

VOCAB_SIZE = 1024
SEED = 20240601

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

_WORDS = (
    "the a of to and is in that for it with as on be by this are or from at an if then "
    "problem solve step answer therefore number find value sum product equation integer "
    "prime square root triangle circle area angle length point line function input output "
    "print return def for while range len list int str read write test case example code "
    "python program string array count total result first second third last each every"
).split()


def corpus(rng: random.Random, lines: int = 4000) -> list[str]:
    """Deterministic training text: step-by-step prose, arithmetic and bits of Python."""
    out: list[str] = []
    for i in range(lines):
        kind = i % 4
        if kind == 0:
            words = rng.choices(_WORDS, k=rng.randint(6, 18))
            out.append(f"Step {rng.randint(1, 9)}: " + " ".join(words).capitalize() + ".")
        elif kind == 1:
            a, b = rng.randint(0, 999), rng.randint(1, 99)
            op = rng.choice("+-*/")
            out.append(f"Therefore, the answer is \\boxed{{{a} {op} {b}}}. $x^{b % 5} = {a}$")
        elif kind == 2:
            name = rng.choice(_WORDS)
            out.append(
                f"def {name}_{i}(n):\n    total = 0\n    for k in range(n):\n"
                f"        total += k * {rng.randint(2, 9)}\n    return total\n"
                f"print({name}_{i}(int(input())))"
            )
        else:
            out.append(
                "I'll solve this step by step. Here's my final solution:\n```python\n"
                f"n = int(input())\nprint(n {rng.choice('+-*')} {rng.randint(1, 50)})\n```"
            )
    return out


def build_tokenizer(out: Path, rng: random.Random) -> int:
    """Trains the byte-level BPE tokenizer and saves it with transformers' wrapper."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<pad>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(rng), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=2048,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    return int(tok.get_vocab_size())


def build_model(out: Path, vocab_size: int) -> None:
    """Saves a random 2-layer Llama in float32 safetensors."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(SEED)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
        tie_word_embeddings=False,
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(config).to(torch.float32)
    model.eval()
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=3)
    model.save_pretrained(out, safe_serialization=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="directory to write the model into")
    args = parser.parse_args()
    out: Path = args.output
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    vocab = build_tokenizer(out, rng)
    build_model(out, vocab)
    # Sanity: the saved files name the special tokens the server will use.
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["vocab_size"] == vocab, cfg
    print(out)


if __name__ == "__main__":
    main()
