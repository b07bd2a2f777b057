"""The dpo step: the split's preference pairs -> ``ftc.runtime.train.dpo``,
continuing the SFT step's result when the plan has one."""

from __future__ import annotations

from ftc.runtime import launch
from ftc.runtime.steps import common
from ftc.runtime.steps.model_steps import trained_output, training_progress
from ftc.runtime.steps.spec import step
from ftc.shared import atomic
from ftc.shared.errors import FtcError
from ftc.shared.hparams import DEFAULTS


def preference_pairs(ctx) -> list[dict]:  # noqa: ANN001 - the executor's Context
    """The canonical fields of the train split's preference rows (from the step's sources)."""
    from ftc.runtime import data

    names = set(ctx.config.get("sources") or [])
    pairs = [
        r.fields
        for r in data.read_records(ctx.need_dir("split") / "train.jsonl")
        if r.format == "preference" and (not names or r.source in names)
    ]
    if not pairs:
        raise FtcError(
            f"error: step '{ctx.step['id']}': the train split has no preference pairs "
            f"from {', '.join(sorted(names)) or 'any source'}"
        )
    return pairs


# "method" stays declared although DPO always trains LoRA: a changed method re-trains the SFT start.
@step(
    "dpo",
    reads=("prompt", "hyperparameters", "method", "model.base", "distributed"),
    needs_outputs_of=("split", "train"),
    guarded=True,
    scratch=("checkpoints", "launch"),
)
def dpo_step(ctx) -> dict:  # noqa: ANN001
    from ftc.runtime.train.common import resume_point
    from ftc.runtime.train.dpo import preference_rows, train_dpo

    rows = preference_rows(preference_pairs(ctx), common.system_prompt(ctx.plan))
    sft = ctx.by_kind("train")
    sft_output = trained_output(ctx, "train") if sft is not None and sft.status in ("ran", "cached") else None
    beta, lr = ctx.config.get("beta"), ctx.config.get("lr")
    resumed_from = resume_point(ctx.dir)
    args = dict(sft_output=sft_output, beta=beta, lr=lr, method=str(ctx.plan.get("method") or "lora"))
    hp, base = common.train_hparams(ctx.plan), common.model_dir(ctx)
    dist = ctx.plan.get("distributed") or {}
    with training_progress(ctx) as callback:
        if launch.processes(dist) > 1:  # plan.distributed: accelerate launch (one process: as always)
            result = launch.train_dpo(ctx.dir, dist, base, rows, hp, callback=callback, **args)
        else:
            result = train_dpo(base, rows, hp, ctx.dir, callbacks=[callback] if callback is not None else [], **args)
    info = {
        "method": "lora",
        "objective": "dpo",
        "global_step": result.global_step,
        "train_seconds": round(result.train_seconds, 3),
        "train_tokens": None,
        "tokens_per_second": None,
        "resumed_from_step": resumed_from,
        "output": "adapter",
        "train_rows": len(rows),
        "val_rows": 0,
        "beta": float(DEFAULTS["dpo_beta"] if beta is None else beta),
    }
    atomic.write_json(ctx.dir / "train.json", info)
    atomic.write_json(ctx.dir / "loss_history.json", result.history)
    return info
