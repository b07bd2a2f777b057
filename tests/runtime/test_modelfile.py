"""The Ollama Modelfile's TEMPLATE (issue 16) renders a conversation exactly as the model's own
Jinja chat template does, so Ollama prompts the exported GGUF as the eval prompted the tune.
Go templates cannot run here: a small evaluator of the constructs the writer emits (``if``,
``range``, ``eq``, fields) stands in for Ollama's."""

from __future__ import annotations

import re

import pytest

from ftc.runtime.generate import load_tokenizer
from ftc.runtime.modelfile import go_template, modelfile
from ftc.runtime.models import resolve_model
from ftc.shared.errors import FtcError

_TOKEN = re.compile(r"\{\{ (.*?) \}\}")


def _parse(text: str) -> list:
    """Go template text -> nested nodes: str | ("field", name) | ("if"/"range", cond, body)."""
    stack: list[list] = [[]]
    heads: list[tuple[str, str]] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.start() > pos:
            stack[-1].append(text[pos : m.start()])
        action = m.group(1)
        if action.startswith(("if ", "range ")):
            kind, cond = action.split(" ", 1)
            heads.append((kind, cond))
            stack.append([])
        elif action == "end":
            body = stack.pop()
            kind, cond = heads.pop()
            stack[-1].append((kind, cond, body))
        else:
            stack[-1].append(("field", action))
        pos = m.end()
    stack[-1].append(text[pos:])
    assert not heads
    return stack[0]


def _run(nodes: list, scope: dict, root: dict) -> str:
    out = ""
    for node in nodes:
        if isinstance(node, str):
            out += node
        elif node[0] == "field":
            out += scope[node[1].lstrip(".")]
        elif node[0] == "if":
            cond = node[1]
            eq = re.fullmatch(r'eq \.(\w+) "(\w+)"', cond)
            if (scope[eq.group(1)] == eq.group(2)) if eq else bool(scope[cond.lstrip(".")]):
                out += _run(node[2], scope, root)
        else:  # range .Messages
            for message in root["Messages"]:
                out += _run(node[2], message, root)
    return out


@pytest.fixture(scope="module")
def tokenizer():  # noqa: ANN201
    return load_tokenizer(resolve_model("smollm2-135m-instruct"))


def test_the_go_template_renders_a_conversation_as_the_jinja_template(tokenizer) -> None:  # noqa: ANN001
    system = "You triage tickets. Reply as JSON."
    turns = [("user", "first {{question}}"), ("assistant", '{"a": 1}'), ("user", "second\nline")]
    messages = [{"role": r, "content": c} for r, c in turns]
    jinja = tokenizer.apply_chat_template(
        [{"role": "system", "content": system}, *messages], tokenize=False, add_generation_prompt=True
    )
    root = {"System": system, "Messages": [{"Role": r, "Content": c} for r, c in turns]}
    assert _run(_parse(go_template(tokenizer)), root, root) == jinja


def test_the_modelfile_points_at_the_gguf_and_decodes_as_the_eval(tokenizer) -> None:  # noqa: ANN001
    text = modelfile("model-q8_0.gguf", "Be brief.", tokenizer, ["<|im_end|>"], 48)
    assert text.splitlines()[1] == "FROM ./model-q8_0.gguf"
    assert 'SYSTEM """Be brief."""' in text and "PARAMETER num_predict 48" in text
    assert "PARAMETER temperature 0" in text and 'PARAMETER stop "<|im_end|>"' in text


class _PositionalTemplate:
    """A chat template whose first user turn is wrapped unlike the others (no plain per-role wrapping)."""

    def apply_chat_template(self, messages: list[dict], tokenize: bool, add_generation_prompt: bool) -> str:
        out = ""
        for i, m in enumerate(messages):
            out += f"[{m['role']}{'-last' if i == len(messages) - 1 else ''}]{m['content']}"
        return out + ("[assistant]" if add_generation_prompt else "")


def test_a_template_that_wraps_turns_by_position_is_refused() -> None:
    with pytest.raises(FtcError, match="differently by position"):
        go_template(_PositionalTemplate())
    with pytest.raises(FtcError, match='contains """'):
        modelfile("m.gguf", 'say """hi"""', _Plain(), [], 8)


class _Plain:
    def apply_chat_template(self, messages: list[dict], tokenize: bool, add_generation_prompt: bool) -> str:
        return "".join(f"<{m['role']}>{m['content']}</>" for m in messages) + (
            "<assistant>" if add_generation_prompt else ""
        )
