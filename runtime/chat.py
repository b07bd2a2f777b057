"""`ftc chat`: talk to what a run delivered, prompted exactly as it was evaluated and exported.

A promoted tune answers under the plan's system prompt alone (how it was trained, the exported
``prompt.txt`` and the GGUF ``Modelfile``); when nothing was promoted, the prompted baseline
answers with the baseline's system prompt and its few-shot examples: the same random shots, or
the train examples nearest each question when the prompt search chose nearest shots. Every turn
is decoded greedily with the plan's ``max_new_tokens``, as the eval decoded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftc.shared.errors import FtcError


@dataclass(frozen=True)
class Session:
    loaded: Any  # a generate.Loaded
    system: str
    shots: Callable[[str], list]  # question -> the few-shot Examples shown before it
    max_new_tokens: int
    what: str  # one line: which model answers and how it is prompted


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def open_session(run_dir: Path, allow_download: bool = False) -> Session:
    """The promoted tune of ``run_dir`` (a finished run folder), or its prompted baseline."""
    from ftc.runtime.generate import load_model
    from ftc.runtime.models import resolve_model

    export = run_dir / "export"
    if not (export / "metrics.json").exists():
        raise FtcError(f"error: {run_dir} has not finished (no export/metrics.json): finish it with `ftc run` first")
    plan = _read(run_dir / "plan.json")
    system = str((plan.get("prompt") or {}).get("system") or "")
    base = resolve_model(str(plan["model"]["base"]), allow_download=allow_download)
    tokens = _max_new_tokens(plan)
    weights = next((export / name for name in ("adapter", "model") if (export / name).is_dir()), None)
    if weights is not None:
        return Session(
            load_model(base, adapter_dir=weights),
            system,
            lambda _question: [],
            tokens,
            f"the promoted tune ({weights.name} in {export}), system prompt only" + _retrieval_note(plan),
        )
    scores = _read(run_dir / "baseline" / "scores.json")
    choice = scores.get("prompt") or {"shots": scores.get("shots", 0), "selection": "random"}
    shots = _shot_picker(run_dir, plan, system, choice, allow_download)
    what = (
        f"the prompted baseline ({plan['model']['base']}; nothing was promoted), "
        f"{choice['shots']} {choice['selection']} shot(s)"
    )
    return Session(load_model(base), system, shots, tokens, what + _retrieval_note(plan))


def _retrieval_note(plan: dict) -> str:
    if "rag" in (plan.get("strategy") or []):
        return "; note: chat does not retrieve, so answers come without the retrieved context the run used"
    return ""


def _max_new_tokens(plan: dict) -> int:
    for kind in ("eval", "baseline"):
        for step in plan.get("steps", []):
            if step["kind"] == kind and step["config"].get("max_new_tokens"):
                return int(step["config"]["max_new_tokens"])
    return 128


def _shot_picker(run_dir: Path, plan: dict, system: str, choice: dict, allow_download: bool) -> Callable[[str], list]:
    """The baseline's shots for a new question, picked as the baseline step picked them."""
    from types import SimpleNamespace

    from ftc.runtime import data
    from ftc.runtime.prompting import PROMPT_FORMATS, Example, to_example
    from ftc.runtime.steps.prompt_search import Choice, ShotPicker

    if int(choice.get("shots") or 0) <= 0:
        return lambda _question: []
    records = data.read_records(run_dir / "split" / "train.jsonl")
    pool = [to_example(r.fields, r.format, system) for r in records if r.format in PROMPT_FORMATS]
    seed = int(((plan.get("hyperparameters") or {}).get("seed") or {}).get("value") or 0)
    # ShotPicker reads only ctx.options.allow_download (to resolve the embedded embedder).
    picker = ShotPicker(SimpleNamespace(options=SimpleNamespace(allow_download=allow_download)), pool, seed)
    chosen = Choice(int(choice["shots"]), str(choice["selection"]))

    def shots(question: str) -> list:
        row = Example([{"role": "system", "content": system}, {"role": "user", "content": question}], "")
        return picker.shots_for(chosen, [row])[0]

    return shots


def messages(session: Session, history: list[dict], question: str) -> list[dict]:
    """The prompt of one turn: system, the shots, the conversation so far, the question."""
    out = [{"role": "system", "content": session.system}]
    for shot in session.shots(question):
        out.extend(shot.prompt[1:])
        out.append({"role": "assistant", "content": shot.completion})
    return out + history + [{"role": "user", "content": question}]


def reply(session: Session, history: list[dict], question: str) -> str:
    from ftc.runtime.generate import generate

    prompt = messages(session, history, question)
    return generate(session.loaded, [prompt], max_new_tokens=session.max_new_tokens, batch_size=1)[0]
