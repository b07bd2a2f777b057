"""baseline, train, eval (and the guard on tuning steps): the steps that load a model. torch & co.
are imported inside them; the training itself is ``ftc.runtime.train.sft``."""

from __future__ import annotations

import json
from pathlib import Path

from ftc.runtime.gate import baseline_meets_bar
from ftc.runtime.steps import common, retrieval
from ftc.runtime.steps.spec import StepSpec, step
from ftc.shared import atomic
from ftc.shared.contract import GUARD as GUARD_NAME

TUNING_KINDS: tuple[str, ...] = ("train", "dpo", "distill")


def _shots(ctx, train: list) -> list:  # noqa: ANN001 - the executor's Context
    from ftc.runtime.prompting import pick_shots

    k = int(ctx.config.get("few_shot", ctx.plan.get("prompt.few_shot", 0)) or 0)
    return pick_shots(train, k, int(common.hp_value(ctx.plan, "seed", 0)))


@step("baseline", reads=("prompt", "model.base", "hyperparameters.seed"), needs_outputs_of=("split", "index"))
def baseline_step(ctx) -> dict:  # noqa: ANN001
    """The prompted base model on the holdout: system prompt + k shots from the train split."""
    from ftc.runtime.generate import load_model
    from ftc.runtime.prompting import baseline_prompt, prompt_text

    # Few-shot examples come from train; a plan may have none (all rows are the eval source).
    train, holdout = common.examples(ctx, "train", required=False), common.examples(ctx, "holdout")
    rows = common.row_set(holdout)
    shots = _shots(ctx, train)
    if ctx.config.get("retrieval"):
        shots, holdout = retrieval.augment(ctx, shots), retrieval.augment(ctx, holdout)
    prompts = [baseline_prompt(e, shots) for e in holdout]
    refs = [e.completion for e in holdout]
    loaded = load_model(common.model_dir(ctx))
    preds = common.generate_all(ctx, loaded, prompts, "baseline")
    ppl = common.perplexities(loaded, refs)
    common.write_predictions(ctx.dir, prompts, refs, preds)
    text = prompt_text(common.system_prompt(ctx.plan), shots)
    atomic.write_text(ctx.dir / "prompt.txt", text + ("\n" + retrieval.NOTE if ctx.config.get("retrieval") else ""))
    common.write_scores(ctx.dir, rows, ppl, shots=len(shots))
    return {"rows": len(holdout), "shots": len(shots)}


def baseline_meets_bar_guard(ctx) -> tuple[bool, str]:  # noqa: ANN001
    """The guard ``baseline_misses_bar``: skip a tune when the prompt already does the job.
    The cached predictions are re-scored against the current expects, so an edited bar counts."""
    baseline = ctx.by_kind("baseline")
    if baseline is None or baseline.dir is None:
        return False, ""
    values = common.scores_of(ctx.plan, ctx.project_root, baseline.dir)
    expects = ctx.plan.get("expects", [])
    if expects and baseline_meets_bar(expects, values):
        return True, "the prompted baseline already meets every expect: the prompt is the deliverable"
    return False, ""


# Not a step: it decides whether a guarded step runs, and is never cached, so its reads stay out
# of the guarded step's key (an edited bar re-decides; a tune that runs does not depend on the bar).
GUARD = StepSpec(GUARD_NAME, baseline_meets_bar_guard, reads=("expects",), needs_outputs_of=("baseline",))


def fine_tune(ctx, train: list, model: str | None = None) -> dict:  # noqa: ANN001
    """SFT of ``model`` (the plan's base by default) on ``train`` with the plan's hyper-parameters,
    resuming from the newest checkpoint in this step's folder; writes train.json and
    loss_history.json. Shared by the train step and the distill step (which trains a student)."""
    from ftc.runtime.train.common import resume_point
    from ftc.runtime.train.sft import split_validation, train_sft

    if ctx.config.get("retrieval_context"):
        train = retrieval.augment(ctx, train)  # learn to answer over retrieved context, as evaluated
    train, val = split_validation(train, bool(common.hp_value(ctx.plan, "early_stopping", False)))
    resumed_from = resume_point(ctx.dir)
    if resumed_from and ctx.progress is not None:
        ctx.progress.note(f"resuming training from checkpoint {resumed_from}")
    method = ctx.config.get("method") or ctx.plan.get("method") or "lora"
    hp = dict(ctx.plan.get("hyperparameters") or {})
    base = common.model_dir(ctx, model)
    if ctx.progress is None:
        result = train_sft(base, train, val, hp, ctx.dir, method=method, resume=True)
    else:
        with ctx.progress.training(ctx.step["id"]) as callback:
            result = train_sft(base, train, val, hp, ctx.dir, method=method, resume=True, callbacks=[callback])
    info = {
        "method": result.method,
        "global_step": result.global_step,
        "train_seconds": round(result.train_seconds, 3),
        "train_tokens": result.train_tokens,
        "tokens_per_second": round(result.train_tokens / result.train_seconds, 1) if result.train_seconds else None,
        "resumed_from_step": resumed_from,
        "output": str(Path(result.output_dir).relative_to(ctx.dir)) if _inside(result.output_dir, ctx.dir) else str(result.output_dir),
        "train_rows": len(train),
        "val_rows": len(val or []),
    }
    atomic.write_json(ctx.dir / "train.json", info)
    atomic.write_json(ctx.dir / "loss_history.json", result.history)
    return info


@step("train", reads=("prompt", "hyperparameters", "method", "model.base"), needs_outputs_of=("split", "index"),
      guarded=True, scratch=("checkpoints",))
def train_step(ctx) -> dict:  # noqa: ANN001
    """SFT on the split's train rows (the named sources), with the plan's hyper-parameters."""
    return fine_tune(ctx, common.examples(ctx, "train", ctx.config.get("sources")))


def _inside(path: Path | str, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def trained_kind(ctx) -> str | None:  # noqa: ANN001
    """The last tuning step that ran (dpo after train, or distill), or None when none ran."""
    last = ctx.last_of(TUNING_KINDS)
    return last.kind if last is not None else None


def trained_output(ctx, kind: str | None = None) -> Path:  # noqa: ANN001
    """The adapter (LoRA) or model (full) folder a tuning step produced: ``kind``'s, or by default
    the last tuning step's."""
    folder = ctx.need_dir(kind or trained_kind(ctx) or "train")
    info = json.loads((folder / "train.json").read_text(encoding="utf-8"))
    out = Path(info["output"])
    return out if out.is_absolute() else folder / out


@step("eval", reads=("prompt", "model.base"), needs_outputs_of=("split", "index", *TUNING_KINDS), guarded=True)
def eval_step(ctx) -> dict:  # noqa: ANN001
    """The tuned model on the same holdout, prompted as it was trained (system prompt only).
    Not keyed by the expects: the gate re-scores these predictions against the current ones."""
    from ftc.runtime.generate import load_model
    from ftc.runtime.prompting import tuned_prompt

    holdout = common.examples(ctx, "holdout")
    rows = common.row_set(holdout)
    if ctx.config.get("retrieval"):
        holdout = retrieval.augment(ctx, holdout)
    prompts = [tuned_prompt(e) for e in holdout]
    refs = [e.completion for e in holdout]
    loaded = load_model(common.model_dir(ctx), adapter_dir=trained_output(ctx))
    preds = common.generate_all(ctx, loaded, prompts, "eval")
    ppl = common.perplexities(loaded, refs)
    common.write_predictions(ctx.dir, prompts, refs, preds)
    common.write_scores(ctx.dir, rows, ppl, retrieval=bool(ctx.config.get("retrieval")))
    return {"rows": len(holdout)}
