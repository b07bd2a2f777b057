"""The lr_probe step (R-LR-PROBE): a stability check on the rule's learning rate that steps down.

A short LoRA run at the rule's lr is scored by its loss on a validation slice of train. It is
stable when it lowers the untrained model's loss on that slice by ``min_gain``; otherwise (or when
its loss is not finite) the next, lower candidate runs, and the first stable one is chosen. The
probe never steps up: a short run's loss favours lower learning rates than the full run needs
(short-horizon bias, measured in ftc.shared.hparams), so it can show that an lr is unstable, not
that another ends better. In the common case one short run decides.

Only train rows are read: the probe trains on train minus its validation slice (the last
``validation_rows`` rows) and scores on that slice. The holdout the gate scores is never opened
(tests/runtime/test_lr_probe.py asserts it).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

from ftc.runtime import timing
from ftc.runtime.steps import common, retrieval
from ftc.runtime.steps.spec import step
from ftc.shared import atomic

PROBE_FILE = "lr_probe.json"
RUNS = "runs"  # scratch: one short run's checkpoints-free output folder per candidate


def probe_rows(train: list, validation_rows: int) -> tuple[list, list]:
    """(rows the probe trains on, its validation slice): the last ``validation_rows`` train rows
    score, the others train. Both come from the split's train part only."""
    rows = max(1, min(validation_rows, len(train) // 2))
    return list(train[:-rows]), list(train[-rows:])


def stable(run: dict, untrained_loss: float, min_gain: float) -> bool:
    """The run lowered the untrained model's validation loss by at least ``min_gain`` (and its loss
    is a number): this lr learns on this data without blowing up."""
    loss = run["val_loss"]
    return math.isfinite(loss) and math.isfinite(untrained_loss) and loss <= (1 - min_gain) * untrained_loss


def choose(tried: list[dict], untrained_loss: float, min_gain: float) -> tuple[float, str]:
    """(the lr the train step uses, why): the first stable candidate in the order tried (the rule's
    lr first); with none stable, the lowest finite validation loss; with no finite one, the
    lowest lr tried."""
    for t in tried:
        if stable(t, untrained_loss, min_gain):
            first = t is tried[0]
            return float(t["lr"]), "stable: the rule's lr" if first else "the first stable lr below the rule's"
    finite = [t for t in tried if math.isfinite(t["val_loss"])]
    if finite:
        best = min(finite, key=lambda t: (t["val_loss"], t["lr"]))
        return float(best["lr"]), "no lr was stable; the lowest validation loss"
    return float(min(t["lr"] for t in tried)), "no run had a finite loss; the lowest lr tried"


def probe_hparams(hp: dict, lr: float, steps: int) -> dict:
    """The plan's hyper-parameters for one short run: this lr held constant, ``steps`` updates of
    one micro-batch each, no early stopping, no checkpoint (save_steps past the end)."""
    out = dict(hp)
    out.update(
        {
            "lr": lr,
            "max_steps": steps,
            "grad_accum": 1,
            "lr_scheduler": "constant",
            "warmup": 0.0,
            "early_stopping": False,
            "save_steps": steps + 1,
            "eval_steps": steps + 1,
        }
    )
    return out


def run_one(
    model_dir: Path,
    fit: list,
    val: list,
    hp: dict,
    lr: float,
    steps: int,
    out_dir: Path,
    method: str,
    untrained: bool = False,
) -> dict:
    """One short run at ``lr``: its validation loss after ``steps`` updates and its last train
    loss; with ``untrained``, also the validation loss before the first update (the adapter starts
    as the identity, so that is the untrained model's)."""
    from ftc.runtime.train.sft import build_trainer

    start = time.perf_counter()
    trainer, _ = build_trainer(model_dir, fit, val, probe_hparams(hp, lr, steps), out_dir, method=method)
    before = float(trainer.evaluate()["eval_loss"]) if untrained else None
    with timing.work("train"):
        trainer.train()
    val_loss = float(trainer.evaluate()["eval_loss"])
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    shutil.rmtree(out_dir, ignore_errors=True)  # nothing of a probe run is kept but its numbers
    out = {
        "lr": lr,
        "val_loss": _rounded(val_loss),
        "train_loss": round(float(losses[-1]), 4) if losses else None,
        "steps": int(trainer.state.global_step),
        "seconds": round(time.perf_counter() - start, 1),
    }
    if before is not None:
        out["untrained_val_loss"] = _rounded(before)
    return out


def _rounded(loss: float) -> float:
    return round(loss, 4) if math.isfinite(loss) else loss


def chosen_lr(ctx: Any) -> float | None:
    """The lr the probe chose, for the train step; None when the plan has no probe (or it was
    skipped), and the plan's lr applies."""
    outcome = ctx.by_kind("lr_probe")
    if outcome is None or outcome.dir is None or outcome.status == "skipped":
        return None
    return float(json.loads((outcome.dir / PROBE_FILE).read_text(encoding="utf-8"))["chosen"])


@step(
    "lr_probe",
    reads=("prompt", "hyperparameters", "method", "model.base"),
    needs_outputs_of=("split", "index"),
    guarded=True,
    scratch=(RUNS,),
    version=2,  # 2: a stability check that steps down from the rule's lr (was: best of three by loss)
)
def lr_probe_step(ctx: Any) -> dict:
    """Short runs on train minus its validation slice, the rule's lr first, stepping down until one
    is stable; writes lr_probe.json with every run tried, the untrained loss and the choice."""
    cfg = ctx.config
    train = common.examples(ctx, "train", cfg.get("sources"))
    if cfg.get("retrieval_context"):
        train = retrieval.augment(ctx, train)  # probe what train will learn: answers over retrieved context
    fit, val = probe_rows(train, int(cfg["validation_rows"]))
    hp = {k: (v.get("value") if isinstance(v, dict) else v) for k, v in common.train_hparams(ctx.plan).items()}
    method = str(cfg.get("method") or ctx.plan.get("method") or "lora")
    base = common.model_dir(ctx)
    start = time.perf_counter()
    candidates = [float(x) for x in cfg["candidates"]]
    min_gain = float(cfg.get("min_gain", 0.0))
    tried: list[dict] = []
    untrained = math.nan
    for i, lr in enumerate(candidates):
        if ctx.progress is not None:
            ctx.progress.note(f"lr probe: lr {lr:g} ({i + 1}/{len(candidates)} at most)")
        run = run_one(base, fit, val, hp, lr, int(cfg["steps"]), ctx.dir / RUNS / f"lr-{i}", method, untrained=not i)
        untrained = float(run.pop("untrained_val_loss", untrained))
        run["stable"] = stable(run, untrained, min_gain)
        tried.append(run)
        if run["stable"]:
            break  # the rule's lr (or the first lower one) learns: the lower ones need not run
    chosen, why = choose(tried, untrained, min_gain)
    record = {
        "tried": [t | {"val_loss": _json_loss(t["val_loss"])} for t in tried],
        "untrained_val_loss": _json_loss(untrained),
        "chosen": chosen,
        "why": why,
        "rule_lr": float(cfg["rule_lr"]),
        "seconds": round(time.perf_counter() - start, 1),
        "validation_rows": len(val),
        "train_rows": len(fit),
    }
    atomic.write_json(ctx.dir / PROBE_FILE, record)
    return {"chosen": chosen, "rule_lr": record["rule_lr"], "why": why, "seconds": record["seconds"]}


def _json_loss(loss: float) -> float | None:
    return loss if math.isfinite(loss) else None  # JSON has no NaN
