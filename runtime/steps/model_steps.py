"""baseline, train, eval: the steps that load a model. torch & co. are imported inside them."""

from __future__ import annotations

import re
from pathlib import Path

from ftc.shared import atomic
from ftc.runtime.gate import baseline_meets_bar
from ftc.runtime.steps import common, retrieval


def _shots(ctx, train: list) -> list:  # noqa: ANN001 - the executor's Context
    from ftc.runtime.prompting import pick_shots

    k = int(ctx.config.get("few_shot", (ctx.plan.get("prompt") or {}).get("few_shot", 0)) or 0)
    return pick_shots(train, k, int(common.hp_value(ctx.plan, "seed", 0)))


def baseline_step(ctx) -> dict:  # noqa: ANN001
    """The prompted base model on the holdout: system prompt + k shots from the train split."""
    from ftc.runtime.generate import load_model
    from ftc.runtime.prompting import baseline_prompt, prompt_text

    # Few-shot examples come from train; a plan may have none (all rows are the eval source).
    train, holdout = common.examples(ctx, "train", required=False), common.examples(ctx, "holdout")
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
    values = common.score_all(ctx.plan, ctx.project_root, preds, refs, ppl)
    atomic.write_json(ctx.dir / common.SCORES, {"values": values, "perplexity": ppl, "shots": len(shots)})
    return {"rows": len(holdout), "shots": len(shots), "values": values}


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


def _drop_incomplete_checkpoints(folder: Path) -> None:
    """A run killed while saving leaves a checkpoint folder without ``trainer_state.json`` (the
    trainer writes it last); resuming from it would crash, so resume from the one before."""
    import shutil

    for path in (folder / "checkpoints").glob("checkpoint-*"):
        if path.is_dir() and not (path / "trainer_state.json").exists():
            shutil.rmtree(path, ignore_errors=True)


def _checkpoint_step(folder: Path) -> int:
    steps = [int(m.group(1)) for p in (folder / "checkpoints").glob("checkpoint-*")
             if (m := re.fullmatch(r"checkpoint-(\d+)", p.name))]
    return max(steps, default=0)


def train_step(ctx, examples: list | None = None, model: str | None = None) -> dict:  # noqa: ANN001
    """SFT with the plan's hyper-parameters; resumes from the newest checkpoint in this folder.
    ``examples`` / ``model``: what the distill step trains its student on, and the student."""
    from ftc.runtime.train.sft import train_sft

    train = examples if examples is not None else common.examples(ctx, "train", ctx.config.get("sources"))
    if ctx.config.get("retrieval_context"):
        train = retrieval.augment(ctx, train)  # learn to answer over retrieved context, as evaluated
    val = None
    if common.hp_value(ctx.plan, "early_stopping", False) and len(train) >= 10:
        # Early stopping needs a validation loss; it comes from train, never from the holdout
        # the gate scores (that would leak the gate into training).
        cut = max(1, len(train) // 10)
        train, val = train[:-cut], train[-cut:]
    _drop_incomplete_checkpoints(ctx.dir)
    resumed_from = _checkpoint_step(ctx.dir)
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


def _inside(path: Path | str, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def trained_kind(ctx) -> str | None:  # noqa: ANN001
    """The last tuning step that ran (dpo after train, or distill), or None when none ran."""
    ran = [o for o in ctx.outcomes.values() if o.kind in ("train", "dpo", "distill") and o.status in ("ran", "cached")]
    return ran[-1].kind if ran else None


def trained_output(ctx) -> Path:  # noqa: ANN001
    """The adapter (LoRA) or model (full) folder the last tuning step produced."""
    import json

    folder = ctx.need_dir(trained_kind(ctx) or "train")
    info = json.loads((folder / "train.json").read_text(encoding="utf-8"))
    out = Path(info["output"])
    return out if out.is_absolute() else folder / out


def eval_step(ctx) -> dict:  # noqa: ANN001
    """The tuned model on the same holdout, prompted as it was trained (system prompt only)."""
    from ftc.runtime.generate import load_model
    from ftc.runtime.prompting import tuned_prompt

    holdout = common.examples(ctx, "holdout")
    if ctx.config.get("retrieval"):
        holdout = retrieval.augment(ctx, holdout)
    prompts = [tuned_prompt(e) for e in holdout]
    refs = [e.completion for e in holdout]
    loaded = load_model(common.model_dir(ctx), adapter_dir=trained_output(ctx))
    preds = common.generate_all(ctx, loaded, prompts, "eval")
    ppl = common.perplexities(loaded, refs)
    common.write_predictions(ctx.dir, prompts, refs, preds)
    values = common.score_all(ctx.plan, ctx.project_root, preds, refs, ppl)
    atomic.write_json(ctx.dir / common.SCORES, {"values": values, "perplexity": ppl})
    return {"rows": len(holdout), "values": values}
