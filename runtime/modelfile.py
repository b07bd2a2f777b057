"""An Ollama ``Modelfile`` for an exported GGUF: the plan's system prompt and the model's chat
template, so ``ollama create NAME -f Modelfile`` serves the tune prompted exactly as it was
trained and evaluated (one prompt, everywhere).

Ollama templates are Go templates, not Jinja. The model's Jinja template is rendered once with
marker strings in place of each role's text; what surrounds each marker is that role's fixed
wrapping, and the Go template repeats it around ``.System`` and each message. A template whose
wrapping depends on more than the role (a turn's rendering changes once another follows it) is
refused rather than written wrong.
"""

from __future__ import annotations

from typing import Any

from ftc.shared.errors import FtcError

_MARK = "FTC-MARK-{}"


def _render(tokenizer: Any, msgs: list[dict], generation: bool = False) -> str:  # noqa: ANN401
    return str(tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=generation))


def _around(text: str, mark: str) -> tuple[str, str]:
    before, found, after = text.partition(mark)
    if not found:
        raise FtcError("the chat template drops a message's text; no Modelfile TEMPLATE written")
    return before, after


def _wrappings(tokenizer: Any) -> dict[str, tuple[str, str]]:  # noqa: ANN401 - a transformers tokenizer
    """Per role, (text before its content, text after it), and "generation": the opening of the
    answer. Each longer conversation must extend the shorter one's rendering, or the template is
    not a plain per-turn wrapping and is refused."""
    s, u, a = (_MARK.format(n) for n in ("S", "U", "A"))
    conv = [{"role": "system", "content": s}, {"role": "user", "content": u}, {"role": "assistant", "content": a}]
    texts = [_render(tokenizer, conv[:n]) for n in (1, 2, 3)]
    asking = _render(tokenizer, conv[:2], generation=True)
    for shorter, longer in ((texts[0], texts[1]), (texts[1], texts[2]), (texts[1], asking)):
        if not longer.startswith(shorter):
            raise FtcError("the chat template wraps turns differently by position; no Modelfile TEMPLATE written")
    return {
        "system": _around(texts[0], s),
        "user": _around(texts[1][len(texts[0]) :], u),
        "assistant": _around(texts[2][len(texts[1]) :], a),
        "generation": (asking[len(texts[1]) :], ""),
    }


def go_template(tokenizer: Any) -> str:  # noqa: ANN401
    """The chat template as an Ollama Go template (system, then each message, then the
    assistant's opening for the answer). One line, no ``{{-`` trimming: every newline in it is a
    newline of the model's own template."""
    w = _wrappings(tokenizer)
    esc = {k: (_go(a), _go(b)) for k, (a, b) in w.items()}
    return (
        "{{ if .System }}" + esc["system"][0] + "{{ .System }}" + esc["system"][1] + "{{ end }}"
        "{{ range .Messages }}"
        '{{ if eq .Role "user" }}' + esc["user"][0] + "{{ .Content }}" + esc["user"][1] + "{{ end }}"
        '{{ if eq .Role "assistant" }}' + esc["assistant"][0] + "{{ .Content }}" + esc["assistant"][1] + "{{ end }}"
        "{{ end }}" + esc["generation"][0]
    )


def _go(text: str) -> str:
    """Literal text inside a Go template: only ``{{`` needs escaping."""
    return text.replace("{{", '{{ "{{" }}')


def modelfile(gguf_name: str, system: str, tokenizer: Any, stops: list[str], max_new_tokens: int) -> str:  # noqa: ANN401
    """The Modelfile: FROM the GGUF beside it, the system prompt, the template, greedy decoding
    (temperature 0, as the eval decoded) and the answer budget the eval used."""
    lines = [
        "# Written by ftc: `ollama create NAME -f Modelfile` in this folder, then `ollama run NAME`.",
        f"FROM ./{gguf_name}",
        f'TEMPLATE """{go_template(tokenizer)}"""',
    ]
    if system:
        lines.append(f'SYSTEM """{_triple(system)}"""')
    lines += [f'PARAMETER stop "{_quote(s)}"' for s in stops]
    lines += ["PARAMETER temperature 0", f"PARAMETER num_predict {int(max_new_tokens)}"]
    return "\n".join(lines) + "\n"


def _triple(text: str) -> str:
    if '"""' in text:
        raise FtcError('the system prompt contains """, which an Ollama Modelfile cannot quote')
    return text


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
