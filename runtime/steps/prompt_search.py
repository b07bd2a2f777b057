"""The baseline's prompt search (R-PROMPT-SEARCH): the strongest reasonable prompt, chosen on a
validation slice of train, so a tune has to beat the best prompt and not a weak one.

Candidates (from the plan's baseline config) are shot counts x how the shots are picked: random
(one fixed draw from the pool, as the plain baseline does) or nearest (per input, the pool rows
closest to it by the embedded all-MiniLM-L6-v2). Each is scored on the last ``validation_rows``
rows of train with shots drawn from the rest of train, never from the validation rows or the
holdout, by the mean of the plan's rate expects (the config's ``score_by``: metric and args, no bar). The winner is then scored on the holdout by the
baseline step, with shots drawn from all of train.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ftc.runtime.steps import common
from ftc.shared.contract import RATE_METRICS

SEARCH_FILE = "prompt_search.json"
# Scored when the plan has no rate expect (only perplexity): the whole answer, exactly.
FALLBACK_EXPECT = {"label": "exact_match", "metric": "exact_match", "args": {}, "op": ">=", "threshold": 1.0}


@dataclass(frozen=True)
class Choice:
    shots: int
    selection: str  # "none" (0 shots), "random" or "nearest"

    def to_json(self) -> dict:
        return {"shots": self.shots, "selection": self.selection}


def validation_split(train: list, rows: int) -> tuple[list, list]:
    """(shot pool, validation rows): the last ``rows`` train rows are the validation slice."""
    rows = max(0, min(rows, len(train) - 1))
    return (list(train[:-rows]), list(train[-rows:])) if rows else (list(train), [])


class ShotPicker:
    """The shots each input row gets under a choice, from one pool. ``augment`` is applied to the
    shots actually used (retrieved context when retrieval is planned); similarity is computed on
    the raw inputs, so retrieved passages never decide which shots are nearest."""

    def __init__(self, ctx: Any, pool: list, seed: int, augment: Callable[[list], list] = list) -> None:
        self.ctx, self.pool, self.seed, self.augment = ctx, pool, seed, augment
        self._pool_vectors: Any = None

    def shots_for(self, choice: Choice, rows: list) -> list[list]:
        from ftc.runtime.prompting import nearest_shots, pick_shots

        if choice.shots <= 0 or not self.pool:
            return [[] for _ in rows]
        ids = list(range(len(self.pool)))
        if choice.selection == "nearest":
            picked = nearest_shots(self._similarity(rows), ids, choice.shots)
        else:
            picked = [pick_shots(ids, choice.shots, self.seed)] * len(rows)  # type: ignore[arg-type]
        used = sorted({i for row in picked for i in row})
        shown = dict(zip(used, self.augment([self.pool[i] for i in used]), strict=True))
        return [[shown[i] for i in row] for row in picked]

    def _similarity(self, rows: list) -> Any:
        from ftc.runtime.prompting import user_text
        from ftc.runtime.steps.retrieval import embed, embedder

        model = embedder(self.ctx, None)
        if self._pool_vectors is None:
            self._pool_vectors = embed(model, [user_text(e) for e in self.pool])
        return (embed(model, [user_text(e) for e in rows]) @ self._pool_vectors.T).tolist()


def rate_expects(expects: list[dict]) -> list[dict]:
    """The expects a candidate is scored by: every rate metric (perplexity is not a prompt's score)."""
    rates = [e for e in expects if e["metric"] in RATE_METRICS]
    return rates or [FALLBACK_EXPECT]


def score_candidate(expects: list[dict], preds: list[str], refs: list[str], root: Any) -> tuple[float, dict]:
    """(mean of the rate expects' values, {label: value}) for one candidate's predictions."""
    from ftc.runtime.metrics import score

    values = {e["label"]: round(float(score(e, preds, refs, root=root).value), 4) for e in expects}
    return round(sum(values.values()) / len(values), 4), values


def best(candidates: list[dict]) -> int:
    """The index of the winner: the highest score; on a tie the fewer shots (cheaper to serve),
    then random before nearest (no embedder needed to serve it), then the plan's order."""
    rank = {"none": 0, "random": 1, "nearest": 2}
    return min(
        range(len(candidates)),
        key=lambda i: (-candidates[i]["score"], candidates[i]["shots"], rank.get(candidates[i]["selection"], 3), i),
    )


def generate_per_candidate(ctx: Any, loaded: Any, prompts: list[list[list[dict]]]) -> list[list[str]]:
    """Each candidate's answers, one ``generate`` call per candidate under one progress bar.
    Apart, a random-shot candidate's prompts share their shots, so the generator reads that prefix
    once for all its rows (``kv_cache.shared_prefix``); mixed with other candidates' prompts the
    only common prefix is the system prompt, and every row would read its shots again."""
    from ftc.runtime.generate import generate

    total = sum(len(p) for p in prompts)
    answers: list[list[str]] = []
    with common.generation_progress(ctx, "prompt search") as update:
        for group in prompts:
            done = sum(len(a) for a in answers)
            step = (lambda n, _t, d=done: update(d + n, total)) if update else None
            answers.append(generate(loaded, group, progress=step, **common.generation_settings(ctx)))
    return answers


def search(ctx: Any, loaded: Any, train: list, config: dict, seed: int, augment: Any) -> tuple[Choice, dict]:
    """Score every candidate on the validation slice; return the winner and the record written to
    ``prompt_search.json``. ``augment`` adds retrieved context to examples (identity without RAG)."""
    from ftc.runtime.prompting import baseline_prompt

    start = time.perf_counter()
    pool, val = validation_split(train, int(config["validation_rows"]))
    picker = ShotPicker(ctx, pool, seed, augment)
    choices = [Choice(int(c["shots"]), str(c["selection"])) for c in config["candidates"]]
    asked = augment(val)
    prompts = [
        [baseline_prompt(e, s) for e, s in zip(asked, picker.shots_for(choice, val), strict=True)] for choice in choices
    ]
    answers = generate_per_candidate(ctx, loaded, prompts)
    refs = [e.completion for e in val]
    expects = rate_expects(list(config.get("score_by") or []))
    scored = []
    for choice, preds in zip(choices, answers, strict=True):
        mean, values = score_candidate(expects, preds, refs, ctx.project_root)
        scored.append(choice.to_json() | {"score": mean, "scores": values})
    winner = scored[best(scored)]
    record = {
        "candidates": scored,
        "chosen": dict(winner),
        "validation_rows": len(val),
        "pool_rows": len(pool),
        "scored_by": [e["label"] for e in expects],
        "seconds": round(time.perf_counter() - start, 1),
    }
    return Choice(int(winner["shots"]), str(winner["selection"])), record
