"""Hyper-parameter defaults: the one table the planner (compiler/plan/method.py, rule 8) and the
runtime (runtime/train) both read, so the value a plan records and the value a trainer falls back
to cannot drift apart.

``DEFAULTS`` is what the runtime uses for a key a plan leaves out (a hand-written plan, a direct
``train_sft`` call); where rule 8 sets a key to a fixed value (the LoRA shape, lr, weight decay,
DPO beta and lr, ...) it states the same entry. The planner's own fixed choices that have no
neutral runtime counterpart (full-tuning lr, warmup, the scheduler, micro-batch by device, the
effective batch) are the named constants below the table: a rule picks them, the runtime never
falls back to them.
"""

from __future__ import annotations

DEFAULTS: dict[str, object] = {
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "target_modules": "all-linear",
    "lr": 2e-4,
    "epochs": 1,
    "batch": 8,
    "grad_accum": 1,
    "max_length": 512,
    "warmup_ratio": 0.0,
    "weight_decay": 0.0,
    "max_steps": None,
    "early_stopping": False,
    "packing": False,
    "seed": 42,
    "save_steps": 50,
    "eval_steps": None,
    "early_stopping_patience": 2,
    "logging_steps": 1,
    "gradient_checkpointing": False,
    "few_shot": 0,
    "dpo_beta": 0.1,
    "dpo_lr": 5e-6,
}

# Rule 8's fixed choices (the planner's; see the module docstring).
FULL_LR = 2e-5  # full tuning: 10x lower than LoRA's
WARMUP_RATIO = 0.03
LR_SCHEDULER = "cosine"
FEW_SHOT = 3  # examples in the baseline prompt, at most the train rows
CPU_BATCH = 4  # micro-batch on a CPU
GPU_BATCH = 8  # micro-batch on a GPU, lowered if memory requires
SMALL_DATA_ROWS = 160  # under this many train rows, a smaller effective batch (more updates)
EFFECTIVE_BATCH_SMALL = 8
EFFECTIVE_BATCH = 16


def short(number: float) -> str:
    """A learning rate as people write it in a reason: 2e-4, not 0.0002 or 2e-04."""
    mantissa, exponent = f"{number:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"
