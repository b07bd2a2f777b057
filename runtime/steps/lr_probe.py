"""The lr_probe step (R-LR-PROBE): a few short LoRA runs at the rule's learning rate times a few
factors, each scored by its loss on a validation slice of train; the train step then uses the
chosen lr.

Only train rows are read: the probe trains on train minus its validation slice (the last
``validation_rows`` rows) and scores on that slice. The holdout the gate scores is never opened
(tests/runtime/test_lr_probe.py asserts it). Each run is short and constant-rate: what is
compared is how far each lr gets in the same few updates, on rows it did not train on.
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


def choose(tried: list[dict], rule_lr: float, min_gain: float) -> float:
    """The rule's lr unless another lr's validation loss is at least ``min_gain`` lower: a short
    run is noisy, and the rule is the prior. A diverged run (NaN or inf loss) never wins."""
    finite = [t for t in tried if math.isfinite(t["val_loss"])]
    if not finite:
        return rule_lr
    best = min(finite, key=lambda t: (t["val_loss"], t["lr"]))
    rule = next((t for t in finite if math.isclose(t["lr"], rule_lr, rel_tol=1e-6)), None)
    if rule is None or best["val_loss"] < (1 - min_gain) * rule["val_loss"]:
        return float(best["lr"])
    return float(rule["lr"])


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
            "warmup_ratio": 0.0,
            "early_stopping": False,
            "save_steps": steps + 1,
            "eval_steps": steps + 1,
        }
    )
    return out


def run_one(model_dir: Path, fit: list, val: list, hp: dict, lr: float, steps: int, out_dir: Path, method: str) -> dict:
    """One short run at ``lr``: its validation loss after ``steps`` updates and its last train loss."""
    from ftc.runtime.train.sft import build_trainer

    start = time.perf_counter()
    trainer, _ = build_trainer(model_dir, fit, val, probe_hparams(hp, lr, steps), out_dir, method=method)
    with timing.work("train"):
        trainer.train()
    val_loss = float(trainer.evaluate()["eval_loss"])
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    shutil.rmtree(out_dir, ignore_errors=True)  # nothing of a probe run is kept but its numbers
    return {
        "lr": lr,
        "val_loss": round(val_loss, 4) if math.isfinite(val_loss) else val_loss,
        "train_loss": round(float(losses[-1]), 4) if losses else None,
        "steps": int(trainer.state.global_step),
        "seconds": round(time.perf_counter() - start, 1),
    }


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
)
def lr_probe_step(ctx: Any) -> dict:
    """Short runs at each candidate lr on train minus its validation slice; writes lr_probe.json."""
    cfg = ctx.config
    train = common.examples(ctx, "train", cfg.get("sources"))
    if cfg.get("retrieval_context"):
        train = retrieval.augment(ctx, train)  # probe what train will learn: answers over retrieved context
    fit, val = probe_rows(train, int(cfg["validation_rows"]))
    hp = {k: (v.get("value") if isinstance(v, dict) else v) for k, v in (ctx.plan.get("hyperparameters") or {}).items()}
    method = str(cfg.get("method") or ctx.plan.get("method") or "lora")
    base = common.model_dir(ctx)
    start = time.perf_counter()
    tried = []
    for i, lr in enumerate(float(x) for x in cfg["candidates"]):
        if ctx.progress is not None:
            ctx.progress.note(f"lr probe: lr {lr:g} ({i + 1}/{len(cfg['candidates'])})")
        tried.append(run_one(base, fit, val, hp, lr, int(cfg["steps"]), ctx.dir / RUNS / f"lr-{i}", method))
    rule = float(cfg["rule_lr"])
    chosen = choose(tried, rule, float(cfg.get("min_gain", 0.0)))
    tried = [
        t | {"val_loss": t["val_loss"] if math.isfinite(t["val_loss"]) else None} for t in tried
    ]  # JSON has no NaN
    record = {
        "tried": tried,
        "chosen": chosen,
        "rule_lr": rule,
        "seconds": round(time.perf_counter() - start, 1),
        "validation_rows": len(val),
        "train_rows": len(fit),
    }
    atomic.write_json(ctx.dir / PROBE_FILE, record)
    return {"chosen": record["chosen"], "rule_lr": rule, "seconds": record["seconds"]}
