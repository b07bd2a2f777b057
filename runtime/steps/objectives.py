"""The orpo and kto steps: the split's preference pairs (orpo) or labelled answers (kto) ->
``ftc.runtime.train.objectives``, continuing the SFT step's result when the plan has one.

KTO reads rows of format kto and, when the plan lists preference sources for it, unpairs their
pairs (chosen: desirable, rejected: undesirable), as TRL's ``unpair_preference_dataset`` does.
Both run in one process: a plan that launches several is refused (the launcher runs SFT and DPO).
"""

from __future__ import annotations

from ftc.runtime import launch
from ftc.runtime.steps import common
from ftc.runtime.steps.model_steps import trained_output, training_progress
from ftc.runtime.steps.spec import step
from ftc.shared import atomic
from ftc.shared.errors import FtcError
from ftc.shared.hparams import DEFAULTS


def objective_fields(ctx, objective: str) -> list[dict]:  # noqa: ANN001 - the executor's Context
    """The canonical fields the objective trains on, from the train split's rows of the step's sources."""
    from ftc.runtime import data

    names = set(ctx.config.get("sources") or [])
    out: list[dict] = []
    for r in data.read_records(ctx.need_dir("split") / "train.jsonl"):
        if names and r.source not in names:
            continue
        if objective == "orpo" and r.format == "preference":
            out.append(r.fields)
        elif objective == "kto" and r.format == "kto":
            out.append(r.fields)
        elif objective == "kto" and r.format == "preference":
            f = r.fields
            out.append({"prompt": f["prompt"], "completion": f["chosen"], "label": True})
            out.append({"prompt": f["prompt"], "completion": f["rejected"], "label": False})
    if not out:
        wanted = "preference pairs" if objective == "orpo" else "labelled (kto) rows or preference pairs"
        raise FtcError(
            f"error: step '{ctx.step['id']}': the train split has no {wanted} "
            f"from {', '.join(sorted(names)) or 'any source'}"
        )
    return out


def _run(ctx, objective: str) -> dict:  # noqa: ANN001
    from ftc.runtime.train.common import resume_point
    from ftc.runtime.train.dpo import preference_rows
    from ftc.runtime.train.objectives import kto_rows, train_objective

    if launch.processes(ctx.plan.get("distributed") or {}) > 1:
        raise FtcError(
            f"error: step '{ctx.step['id']}': {objective.upper()} runs in one process; the plan launches "
            "several (distributed): plan it for one device"
        )
    fields = objective_fields(ctx, objective)
    system = common.system_prompt(ctx.plan)
    rows = preference_rows(fields, system) if objective == "orpo" else kto_rows(fields, system)
    sft = ctx.by_kind("train")
    sft_output = trained_output(ctx, "train") if sft is not None and sft.status in ("ran", "cached") else None
    beta, lr = ctx.config.get("beta"), ctx.config.get("lr")
    resumed_from = resume_point(ctx.dir)
    hp, base = dict(ctx.plan.get("hyperparameters") or {}), common.model_dir(ctx)
    if objective == "kto" and ctx.config.get("micro_batch"):  # the plan's KTO micro-batch (at least 2)
        hp["batch"], hp["grad_accum"] = int(ctx.config["micro_batch"]), int(ctx.config.get("grad_accum") or 1)
    with training_progress(ctx) as callback:
        result = train_objective(
            objective,
            base,
            rows,
            hp,
            ctx.dir,
            sft_output=sft_output,
            beta=beta,
            lr=lr,
            callbacks=[callback] if callback is not None else [],
            method=str(ctx.plan.get("method") or "lora"),
        )
    info = {
        "method": "lora",
        "objective": objective,
        "global_step": result.global_step,
        "train_seconds": round(result.train_seconds, 3),
        "train_tokens": None,
        "tokens_per_second": None,
        "resumed_from_step": resumed_from,
        "output": "adapter",
        "train_rows": len(rows),
        "val_rows": 0,
        "beta": float(DEFAULTS[f"{objective}_beta"] if beta is None else beta),
        "started_from": "sft" if sft_output is not None else "base",
    }
    if objective == "kto":
        info["desirable_rows"] = sum(1 for r in rows if r["label"])
    atomic.write_json(ctx.dir / "train.json", info)
    atomic.write_json(ctx.dir / "loss_history.json", result.history)
    return info


_SPEC = dict(
    reads=("prompt", "hyperparameters", "method", "model.base", "distributed"),
    needs_outputs_of=("split", "train"),
    guarded=True,
    scratch=("checkpoints",),
)


@step("orpo", **_SPEC)  # type: ignore[arg-type]
def orpo_step(ctx) -> dict:  # noqa: ANN001
    return _run(ctx, "orpo")


@step("kto", **_SPEC)  # type: ignore[arg-type]
def kto_step(ctx) -> dict:  # noqa: ANN001
    return _run(ctx, "kto")
