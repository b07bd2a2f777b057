"""One prompt, everywhere (design section 5).

The system prompt and the message layout are fixed here once and used identically by the
baseline, the training rows, the eval and the exported ``prompt.txt``. A tune trained under one
system prompt and evaluated under another measures the skew, not the tune.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from ftc.shared.errors import FtcError

PROMPT_FORMATS = ("chat", "instruction", "completion")


@dataclass(frozen=True)
class Example:
    prompt: list[dict]  # messages, always starting with a system message
    completion: str  # the assistant answer; the reference when scoring


def to_example(fields: dict, fmt: str, system: str) -> Example:
    """Map one canonical record (the data helper's ``Record.fields``) to prompt + completion."""
    if fmt == "chat":
        return _from_chat(fields["messages"], system)
    if fmt == "instruction":
        user = fields["instruction"]
        if (fields.get("input") or "").strip():
            user = f"{user}\n\n{fields['input']}"
        return Example(_msgs(system, user), fields["output"])
    if fmt == "completion":
        return Example(_msgs(system, fields["prompt"]), fields["completion"])
    if fmt == "preference":  # the chosen answer: what SFT learns and eval scores against
        return _from_chat(_side(fields["prompt"], "user") + _side(fields["chosen"], "assistant"), system)
    raise FtcError(f"format '{fmt}' cannot be prompted or trained with SFT (use one of {', '.join(PROMPT_FORMATS)})")


def _side(value: object, role: str) -> list[dict]:
    """A preference field (a string, or a list of messages) as messages."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return [{"role": m["role"], "content": m["content"]} for m in value]  # type: ignore[attr-defined]


def _msgs(system: str, user: str) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _from_chat(messages: list[dict], system: str) -> Example:
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        raise FtcError("a chat row has no assistant turn to learn or score")
    before = [{"role": m["role"], "content": m["content"]} for m in messages[:last]]
    # The row's own system message wins; otherwise the plan's, always explicit (SmolLM2's
    # template injects its own default system prompt when there is none).
    if not before or before[0]["role"] != "system":
        before.insert(0, {"role": "system", "content": system})
    return Example(before, messages[last]["content"])


def tuned_prompt(example: Example) -> list[dict]:
    """What the tuned model sees at eval: exactly what training saw before the completion."""
    return list(example.prompt)


def baseline_prompt(example: Example, shots: list[Example]) -> list[dict]:
    """System + k few-shot user/assistant pairs + the question."""
    out = [example.prompt[0]]
    for shot in shots:
        out.extend(shot.prompt[1:])
        out.append({"role": "assistant", "content": shot.completion})
    out.extend(example.prompt[1:])
    return out


def pick_shots(train: list[Example], k: int, seed: int) -> list[Example]:
    """k few-shot examples from the train split, deterministic by seed."""
    if k <= 0 or not train:
        return []
    return random.Random(seed).sample(list(train), min(k, len(train)))


def user_text(example: Example) -> str:
    """The input an example asks about: its user turns after the system message, joined. What
    nearest-neighbour shot selection embeds (never the answer)."""
    return "\n".join(m["content"] for m in example.prompt[1:] if m["role"] == "user")


def nearest_shots(similarity: Sequence[Sequence[float]], pool: list[Example], k: int) -> list[list[Example]]:
    """Per input row, the k pool examples most similar to it (``similarity[row][j]`` against
    ``pool[j]``), most similar last: the example closest to the question sits next to it (Liu et
    al. 2022 put the nearest neighbour closest to the test input). Ties keep pool order."""
    if k <= 0 or not pool:
        return [[] for _ in similarity]
    out = []
    for row in similarity:
        best = sorted(range(len(pool)), key=lambda j: (-row[j], j))[: min(k, len(pool))]
        out.append([pool[j] for j in reversed(best)])
    return out


def prompt_text(system: str, shots: list[Example]) -> str:
    """The human-readable prompt for ``prompt.txt``: the system prompt and the few-shot turns."""
    parts = [f"[system]\n{system}"]
    for shot in shots:
        parts += [f"[{m['role']}]\n{m['content']}" for m in shot.prompt[1:]]
        parts.append(f"[assistant]\n{shot.completion}")
    return "\n\n".join(parts) + "\n"
