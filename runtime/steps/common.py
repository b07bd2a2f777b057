"""Helpers the model steps share: the split's examples, the one prompt, generation, scoring.

``plan`` arguments are the step's ``PlanView``: they read dotted paths (``"model.base"``), and only
those the step's spec declares.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ftc.shared import atomic
from ftc.shared.errors import FtcError

PREDICTIONS = "predictions.jsonl"
SCORES = "scores.json"
JUDGE = "judge"  # a judge expect's cached judgements and summaries, beside the predictions it judged


def system_prompt(plan: Any) -> str:
    return str(plan.get("prompt.system") or "")


def chat_template(plan: Any) -> str | None:
    """The plan's chat template (Jinja text), None for the model's own (R-ONE-PROMPT)."""
    return plan.get("prompt.chat_template") or None


def train_hparams(plan: Any) -> dict:
    """The plan's hyper-parameters as a training function takes them, with the plan's chat template
    (``chat_template_text``), so the launched worker renders rows as the baseline and eval do."""
    hp = dict(plan.get("hyperparameters") or {})
    hp["chat_template_text"] = chat_template(plan)
    return hp


def hp_value(plan: Any, name: str, default: object = None) -> object:
    """One hyper-parameter's value; the step must declare ``hyperparameters`` or ``hyperparameters.<name>``."""
    entry = plan.get(f"hyperparameters.{name}")
    value = entry.get("value") if isinstance(entry, dict) else entry
    return default if value is None else value


def examples(ctx, part: str, sources: list[str] | None = None, required: bool = True) -> list:  # noqa: ANN001
    """``part`` = "train" or "holdout": the split's records as prompt/completion examples (only
    the named ``sources`` when given; preference pairs and documents never become SFT rows)."""
    from ftc.runtime import data
    from ftc.runtime.prompting import PROMPT_FORMATS, to_example

    records = [
        r for r in data.read_records(ctx.need_dir("split") / f"{part}.jsonl") if not sources or r.source in sources
    ]
    system = system_prompt(ctx.plan)
    formats = PROMPT_FORMATS
    if not any(r.format in PROMPT_FORMATS or r.format == "kto" for r in records):
        # Nothing but preference pairs (the planner's R-DPO-AFTER-SFT): SFT learns the chosen answers
        # and the holdout's pairs are scored with the chosen answer as the reference.
        formats = ("preference",)
    out = [to_example(r.fields, r.format, system) for r in records if r.format in formats]
    if part == "holdout":  # a held-out desirable KTO answer is scored like a completion row, never trained
        out += [
            to_example(_kto_completion(r.fields), "completion", system)
            for r in records
            if r.format == "kto" and r.fields.get("label") is True
        ]
    if not out and required:
        raise FtcError(
            f"error: the {part} split has no chat, instruction or completion rows to "
            f"{'train on' if part == 'train' else 'score'}"
        )
    return out


def model_dir(ctx, name: str | None = None) -> Path:  # noqa: ANN001
    from ftc.runtime.models import resolve_model

    base = name or ctx.config.get("model") or ctx.plan.get("model.base")
    return resolve_model(str(base), allow_download=ctx.options.allow_download)


@contextmanager
def generation_progress(ctx, label: str) -> Iterator[Callable[[int, int], None] | None]:  # noqa: ANN001
    """The ``progress(done, total)`` callback for a generation, or None when nothing is shown."""
    if ctx.progress is None:
        yield None
    else:
        with ctx.progress.generation(f"{label}: generate") as update:
            yield update


def generation_settings(ctx) -> dict:  # noqa: ANN001
    """The step's generation budget: ``max_new_tokens`` and ``batch_size`` from its config."""
    return {
        "max_new_tokens": int(ctx.config.get("max_new_tokens", 128)),
        "batch_size": int(ctx.config.get("batch_size", 8)),
    }


def generate_all(ctx, loaded, prompts: list[list[dict]], label: str) -> list[str]:  # noqa: ANN001
    from ftc.runtime.generate import generate

    with generation_progress(ctx, label) as update:
        return generate(loaded, prompts, progress=update, **generation_settings(ctx))


def perplexities(loaded, references: list[str]) -> dict:  # noqa: ANN001
    """General-text perplexity (the forgetting check) and holdout-answer perplexity (what an
    ``expect perplexity`` measures: how well the model predicts the wanted answers)."""
    from ftc.runtime.perplexity import TooShort, general_text
    from ftc.runtime.perplexity_cache import base_perplexities

    try:
        return base_perplexities(loaded, {"general": general_text(), "holdout": "\n\n".join(references)})
    except TooShort as exc:
        raise FtcError(
            f"error: the holdout's {len(references)} reference answer(s) come to fewer than two tokens, so their "
            "perplexity is undefined (each token is scored from the ones before it)\n"
            "  = hint: give the eval more rows (a larger `holdout`, or `eval { data = ... }`)"
        ) from exc


def row_set(examples: list) -> dict:
    """Which holdout rows a generation step scored: their count and one digest of their own prompts
    and references (before few-shot examples or retrieved context are added), so the gate can
    refuse to compare a baseline and a tune scored on different rows."""
    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps([e.prompt, e.completion], sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n")
    return {"rows": len(examples), "rows_sha256": digest.hexdigest()}


def write_scores(folder: Path, rows: dict, ppl: dict, **extra: Any) -> None:
    """scores.json: what the gate and the export need besides the predictions (perplexities and
    the row set). No metric values: they are re-scored against the current expects (``scores_of``)."""
    atomic.write_json(folder / SCORES, {"perplexity": ppl, **rows, **extra})


def read_scores(folder: Path) -> dict:
    return json.loads((folder / SCORES).read_text(encoding="utf-8"))


def write_predictions(folder: Path, prompts: list[list[dict]], refs: list[str], preds: list[str]) -> None:
    rows = [{"prompt": p, "reference": r, "prediction": o} for p, r, o in zip(prompts, refs, preds)]
    atomic.write_jsonl(folder / PREDICTIONS, rows)


def read_predictions(folder: Path) -> tuple[list[str], list[str]]:
    rows = atomic.read_jsonl(folder / PREDICTIONS)
    return [r["prediction"] for r in rows], [r["reference"] for r in rows]


def score_all(
    plan: Any,
    root: Path,
    preds: list[str],
    refs: list[str],
    ppl: dict,
    latency: dict | None = None,
    *,
    prompts: list[list[dict]] | None = None,
    judge_dir: Path | None = None,
) -> dict[str, float | None]:
    """Every expect's value, keyed by its label (the same keys for baseline and tuned). ``root``
    (the absolute project root) resolves a relative ``json_schema`` path; ``latency``: the
    step's measured per-request latency (``ftc.runtime.latency.measure``), when it measured one;
    ``prompts`` and ``judge_dir`` (the judge's cache) serve a ``judge`` expect."""
    from ftc.runtime.metrics import score
    from ftc.shared.contract import LATENCY_METRICS

    values: dict[str, float | None] = {}
    for expect in plan.get("expects", []):
        if expect["metric"] == "perplexity":
            values[expect["label"]] = ppl.get("holdout")
        elif expect["metric"] == "forgetting":
            # A comparison of two models' general-text perplexity: the gate derives it from the
            # baseline's and the eval's (ftc.runtime.steps.final_steps.forgetting_rise).
            values[expect["label"]] = None
        elif expect["metric"] in LATENCY_METRICS:
            # p50_ms / p95_ms; None (a failed check) when the step measured none.
            values[expect["label"]] = (latency or {}).get(expect["metric"].removeprefix("latency_") + "_ms")
        else:
            result = score(expect, preds, refs, root=root, prompts=prompts, cache_dir=judge_dir)
            values[expect["label"]] = float(result.value)
    return values


def scores_of(plan: Any, root: Path, folder: Path) -> dict[str, float | None]:
    """Re-score a generation step's cached predictions against the plan's current expects: cheap,
    and it is why editing an expect never re-runs the baseline's generation."""
    rows = atomic.read_jsonl(folder / PREDICTIONS)
    preds, refs = [r["prediction"] for r in rows], [r["reference"] for r in rows]
    saved = read_scores(folder)
    prompts = [r.get("prompt") or [] for r in rows]
    return score_all(
        plan,
        root,
        preds,
        refs,
        saved.get("perplexity", {}),
        saved.get("latency"),
        prompts=prompts,
        judge_dir=folder / JUDGE,
    )


def _kto_completion(fields: dict) -> dict:
    """A desirable KTO row as completion fields (its prompt and answer as text)."""

    def text(value: object) -> str:
        if isinstance(value, list):
            return "\n".join(str(m.get("content", "")) for m in value if isinstance(m, dict))
        return str(value)

    return {"prompt": text(fields["prompt"]), "completion": text(fields["completion"])}


def measure_latency(ctx, loaded, prompts: list[list[dict]]) -> dict | None:  # noqa: ANN001
    """Per-request latency on the first holdout prompts when the plan asks for it (the step's
    ``latency_requests``: a latency expect or bound); None otherwise."""
    requests = int(ctx.config.get("latency_requests") or 0)
    if requests <= 0 or not prompts:
        return None
    from ftc.runtime.latency import measure

    if ctx.progress is not None:
        ctx.progress.note(f"measuring latency: {min(requests, len(prompts))} requests at batch 1")
    return measure(loaded, prompts, max_new_tokens=generation_settings(ctx)["max_new_tokens"], requests=requests)
