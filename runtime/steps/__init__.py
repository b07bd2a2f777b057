"""One small function per plan step kind. Each takes the executor's ``Context``, writes its
outputs into ``ctx.dir`` (atomically) and returns a small summary dict for ``step.json``.

Heavy libraries (torch, transformers, ...) are imported inside the model steps only.
"""

from __future__ import annotations

from typing import Callable

from ftc.runtime.steps.data_steps import clean_step, dedup_step, load_step, split_step
from ftc.runtime.steps.final_steps import export_step, gate_step
from ftc.runtime.steps.model_steps import baseline_step, baseline_meets_bar_guard, eval_step, train_step
from ftc.runtime.steps.distill import distill_step
from ftc.runtime.steps.dpo import dpo_step
from ftc.runtime.steps.retrieval import index_step


STEPS: dict[str, Callable] = {
    "load": load_step,
    "clean": clean_step,
    "dedup": dedup_step,
    "split": split_step,
    "baseline": baseline_step,
    "train": train_step,
    "eval": eval_step,
    "gate": gate_step,
    "export": export_step,
    "index": index_step,
    "dpo": dpo_step,
    "distill": distill_step,
}

GUARD = baseline_meets_bar_guard

__all__ = ["STEPS", "GUARD"]
