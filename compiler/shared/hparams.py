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

# DPO's beta (Rafailov et al. 2023) and the small step DPO after SFT takes.
DPO_BETA = 0.1
DPO_LR = 5e-6
MAX_GRAD_NORM = 1.0  # transformers' own default
SAVE_STEPS = 50  # a checkpoint every this many optimizer steps (resume after a kill loses at most these)

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
    "warmup": 0.0,
    "weight_decay": 0.0,
    "max_grad_norm": MAX_GRAD_NORM,
    "optimizer": "adamw_fused",  # transformers' own default with torch >= 2.8
    "precision": "auto",
    "tf32": None,  # None: leave torch's setting alone
    "use_rslora": False,
    "max_steps": None,
    "early_stopping": False,
    "packing": False,
    "seed": 42,
    "save_steps": SAVE_STEPS,
    "eval_steps": None,
    "early_stopping_patience": 2,
    "logging_steps": 1,
    "gradient_checkpointing": False,
    "lr_scheduler": "linear",  # transformers' own default, for a plan that states none
    "few_shot": 0,
    "dpo_beta": DPO_BETA,
    "dpo_lr": DPO_LR,
    # ORPO's loss is the SFT loss plus an odds-ratio term and it replaces the SFT stage, so it
    # trains at the SFT learning rate; beta (the paper's lambda) 0.1 as in Hong et al. 2024.
    "orpo_beta": 0.1,
    "orpo_lr": 2e-4,
    # KTO, like DPO, measures shifts against a reference: the DPO step size (Ethayarajh et al. 2024).
    "kto_beta": 0.1,
    "kto_lr": DPO_LR,
    # Logit distillation (Hinton et al. 2015): softened distributions, half KL half the SFT loss.
    "distill_temperature": 2.0,
    "distill_alpha": 0.5,
}

# The choices a recipe may write for the trainer's knobs (the key table's choices, the plan
# schema's enums and the runtime's mapping read these).
PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp16", "fp32")
# ftc's optimizer name -> transformers' ``optim``; the 8-bit ones are bitsandbytes' (CUDA only).
OPTIMIZERS: dict[str, str] = {
    "adamw": "adamw_torch",
    "adamw_fused": "adamw_torch_fused",
    "adamw_8bit": "adamw_bnb_8bit",
    "paged_adamw_8bit": "paged_adamw_8bit",
}
CUDA_ONLY_OPTIMIZERS: tuple[str, ...] = ("adamw_8bit", "paged_adamw_8bit")
LR_SCHEDULERS: tuple[str, ...] = ("cosine", "linear", "constant", "constant_with_warmup")

# Rule 8's fixed choices (the planner's; see the module docstring).
WARMUP_RATIO = 0.03
LR_SCHEDULER = "cosine"
FEW_SHOT = 3  # examples in the baseline prompt, at most the train rows
CPU_BATCH = 4  # micro-batch on a CPU
GPU_BATCH = 8  # micro-batch on a GPU, lowered if memory requires

# R-LR: the learning rate by width. Full fine-tuning of a 7B-class model (width 4096) uses ~2e-5
# (Llama-2/Alpaca recipes); muP (Yang et al. 2022, Tensor Programs V) scales the hidden layers'
# Adam lr as 1/width; LoRA's best lr is ~10x the full one and nearly rank-independent (Biderman
# et al. 2024; Schulman et al. 2025, LoRA Without Regret). At width 4096 that is QLoRA's 2e-4.
FULL_LR_REF = 2e-5
REF_WIDTH = 4096
LORA_LR_FACTOR = 10.0
# The rule's clamp: 3e-3 is the highest LoRA lr measured here (bench/lr_study.py, labels8: best
# at 3e-3, with gradient-norm spikes of 16); the probe, not the rule, goes past what was measured.
LR_MIN, LR_MAX = 1e-5, 3e-3

# R-EPOCHS-BY-SIZE: enough optimizer updates. Measured on the generated task shapes (160 train rows,
# batch 8): 60 updates at a width-scaled lr reached 0.95 exact match; 20-36 updates were what
# the old effective batch of 16 gave a few hundred rows, and lost to a hand-written batch-8 script.
MIN_UPDATES = 60
EFFECTIVE_BATCH_SMALL = 8  # under LARGE_DATA_ROWS train rows
EFFECTIVE_BATCH = 16
LARGE_DATA_ROWS = 1000
# Early stopping needs a validation slice (rows taken from training) and an eval every few
# steps; on short runs it restores a checkpoint from before the last updates. On from this many rows.
EARLY_STOPPING_MIN_ROWS = 1000

# R-LR-PROBE: a stability check that steps down. The rule's lr first, then these lower factors,
# each a short run scored by its validation loss; the first run that lowers the untrained model's
# validation loss by PROBE_MIN_GAIN is kept. It never steps up: a short run's loss favours lower
# lrs (Wu et al. 2018, short-horizon bias). Measured on the labels2 shape (206 rows): after 12
# updates 4.7e-4 had validation loss 0.17 against 0.25 at the rule's 1.4e-3, yet the full run at
# 4.7e-4 reached exact match 0.898 against 1.000 at 1.4e-3; bench/lr_study.py found larger lrs
# finishing better up to 3e-3. A short run can show that an lr is unstable, not that it ends best.
PROBE_FACTORS = (1.0, 1 / 3, 1 / 10)
PROBE_STEPS = 12  # optimizer steps per candidate, at the plan's micro-batch, no accumulation
PROBE_VAL_ROWS = 32  # the validation slice (the last rows of train; never the holdout)
PROBE_MIN_GAIN = 0.05  # a stable run lowers the untrained model's validation loss by at least 5%

# R-PROMPT-SEARCH: candidate prompts scored on a validation slice of train.
SEARCH_SHOTS = (0, 3, 8)
SEARCH_SELECTIONS = ("random", "nearest")
SEARCH_VAL_ROWS = 24


def lora_lr(width: int) -> float:
    """R-LR's LoRA learning rate for a model of hidden size ``width`` (10x the full-tuning lr)."""
    return min(LR_MAX, max(LR_MIN, LORA_LR_FACTOR * full_lr(width)))


def full_lr(width: int) -> float:
    """R-LR's full fine-tuning learning rate: FULL_LR_REF at REF_WIDTH, scaled as 1/width."""
    return min(LR_MAX, max(LR_MIN, FULL_LR_REF * REF_WIDTH / max(1, width)))


def short(number: float) -> str:
    """A learning rate as people write it in a reason: 2e-4, not 0.0002 or 2e-04 (two
    significant digits when the second one is not 0: 1.4e-3)."""
    mantissa, exponent = f"{number:.1e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def round_lr(number: float) -> float:
    """A learning rate to two significant digits, as plans record it (1.4e-3, not 0.00142222)."""
    return float(f"{number:.1e}")
