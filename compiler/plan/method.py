"""Hyper-parameters (rule 8) and the method by the memory model (rule 7).

The method is the first of the candidates that fits the device, lowering the micro-batch and
turning on gradient checkpointing before giving up; then FSDP across GPUs; then an error that
names the options. Every hyper-parameter records who set it (rule or recipe) and why.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

from ftc.compiler.lang.lint_rules import cuda_only_on_cpu, qlora_on_cpu
from ftc.compiler.lang.suggest import did_you_mean
from ftc.compiler.lang.thresholds import FULL_MIN_EXAMPLES, NEAR_MEMORY
from ftc.compiler.plan import distributed, memory, model_table
from ftc.compiler.plan.state import GB, TEMPLATE_TOKENS, Decisions, Facts, human_count, train_rows
from ftc.shared import hparams
from ftc.shared.hparams import DEFAULTS


# --- hyper-parameters (rule 8) ---------------------------------------------------------------
def _hp(value: object, set_by: str, reason: str) -> dict[str, Any]:
    return {"value": value, "set_by": set_by, "reason": reason}


def _default_int(key: str) -> int:
    value = DEFAULTS[key]
    assert isinstance(value, int), f"DEFAULTS[{key!r}] is an int"
    return value


def _default_float(key: str) -> float:
    value = DEFAULTS[key]
    assert isinstance(value, float), f"DEFAULTS[{key!r}] is a float"
    return value


# Recipe keys whose plan entry has another name (the plan holds the optimiser-step counts the
# cadences become).
PLAN_NAME = {"eval_every": "eval_steps", "save_every": "save_steps"}


def decide_hparams(f: Facts, d: Decisions, method: str) -> dict[str, Any]:
    r = f.recipe
    o = {k: v for k, v in r.train.values.items() if not (k == "lr" and v == "auto")}  # auto = the rule + probe
    n = f.rows(d.train_names)
    n_train = train_rows(f, n) + d.synthetic_rows
    lora = method in ("lora", "qlora", "dora")
    max_len = _max_length(f, "rag" in d.strategy)
    eff = hparams.EFFECTIVE_BATCH_SMALL if n_train < hparams.LARGE_DATA_ROWS else hparams.EFFECTIVE_BATCH
    hp: dict[str, Any] = {
        **_lora_hparams(o, lora, f.device.kind),
        "lr": _hp(*_lr(f, method)),
        "lr_scheduler": _hp(hparams.LR_SCHEDULER, "rule", f"{hparams.LR_SCHEDULER} decay after warmup"),
        "epochs": _hp(*_epochs(n_train, eff)),
        "batch": _hp(
            hparams.CPU_BATCH if f.device.kind == "cpu" else hparams.GPU_BATCH,
            "rule",
            "micro-batch per device, lowered if memory requires",
        ),
        "grad_accum": _hp(None, "rule", "set below from the effective batch"),
        "max_length": _hp(max_len[0], "rule", max_len[1]),
        "warmup": _hp(
            hparams.WARMUP_RATIO,
            "rule",
            f"{hparams.WARMUP_RATIO:.0%} of the steps warm up: steadies the first updates",
        ),
        "weight_decay": _hp(
            DEFAULTS["weight_decay"],
            "rule",
            f"weight decay {DEFAULTS['weight_decay']:g}: adapters are small and runs are short",
        ),
        "max_grad_norm": _hp(
            hparams.MAX_GRAD_NORM,
            "rule",
            f"clip gradients at norm {hparams.MAX_GRAD_NORM:g}: one bad batch cannot blow up the weights",
        ),
        "optimizer": _hp(DEFAULTS["optimizer"], "rule", "AdamW in one fused kernel: the same update, fewer launches"),
        "precision": _hp(DEFAULTS["precision"], "rule", _precision_reason(f.device.kind)),
        "tf32": _hp(
            None,
            "rule",
            "torch's setting (TF32 matmuls off)" if f.device.kind == "cuda" else "not a CUDA device",
        ),
        "max_steps": _hp(DEFAULTS["max_steps"], "rule", "no cap: epochs decide the length"),
        "early_stopping": _hp(*_early_stopping(n_train)),
        "save_steps": _hp(
            hparams.SAVE_STEPS,
            "rule",
            f"a checkpoint every {hparams.SAVE_STEPS} steps: a killed run resumes losing at most that many",
        ),
        "eval_steps": _hp(None, "rule", ""),
        "packing": _hp(None, "rule", ""),
        "seed": _hp(r.eval.seed, "rule", "the recipe's eval seed, so the run is reproducible"),
        "few_shot": _hp(
            min(hparams.FEW_SHOT, n_train),
            "rule",
            f"{min(hparams.FEW_SHOT, n_train)} examples from the train split in the baseline prompt",
        ),
        "gradient_checkpointing": _hp(
            DEFAULTS["gradient_checkpointing"], "rule", "off: memory allows keeping activations"
        ),
        "chat_template": _hp(None, "rule", f"{r.base.name}'s own template"),
    }
    hp["eval_steps"] = _eval_steps(hp)
    if "dpo" in d.strategy:
        beta, lr = _default_float("dpo_beta"), _default_float("dpo_lr")
        hp["dpo_beta"] = _hp(beta, "rule", f"beta {beta:g}, the DPO paper's default")
        hp["dpo_lr"] = _hp(lr, "rule", f"{hparams.short(lr)}: DPO after SFT needs a small step")
    if "orpo" in d.strategy:
        hp["orpo_beta"] = _hp(DEFAULTS["orpo_beta"], "rule", f"beta (lambda) {DEFAULTS['orpo_beta']}, the ORPO paper's")
        hp["orpo_lr"] = _hp(
            hp["lr"]["value"], "rule", "the SFT learning rate: ORPO's loss is the SFT loss plus an odds-ratio term"
        )
    if "kto" in d.strategy:
        hp["kto_beta"] = _hp(DEFAULTS["kto_beta"], "rule", f"beta {DEFAULTS['kto_beta']}, the KTO paper's default")
        hp["kto_lr"] = _hp(
            DEFAULTS["kto_lr"],
            "rule",
            f"{hparams.short(_default_float('kto_lr'))}: KTO, like DPO, moves a little from its reference",
        )
    pref_beta = o.get("dpo_beta")
    for key in ("orpo_beta", "kto_beta"):  # one preference beta, as LLaMA-Factory's pref_beta and axolotl's rl_beta
        if pref_beta is not None and key in hp:
            hp[key] = _hp(pref_beta, "recipe", "set by recipe (train.dpo_beta: the preference objective's beta)")
    hp["_effective"] = eff  # removed before the plan is written
    per_epoch = max(1, math.ceil(n_train / _effective(o, eff)))
    for key, value in o.items():  # a train { } override wins (method is decided by decide_method)
        name = PLAN_NAME.get(key, key)
        if key != "method" and name in hp:
            planned = _plan_value(key, value, per_epoch, r.project_root)
            hp[name] = _recipe_hp(key, value, planned, hp[name], per_epoch)
    if lora and "lora_alpha" in o:  # the scale the recipe's alpha gives, from the values in the table
        a = hp["lora_alpha"]
        scale = _scale(int(hp["lora_r"]["value"]), int(a["value"]), bool(hp["use_rslora"]["value"]))
        hp["lora_alpha"] = _hp(a["value"], "recipe", f"{a['reason']}; {scale}")
    if "eval_every" not in o:
        hp["eval_steps"] = _eval_steps(hp)
    _packing(f, hp, n_train)
    return hp


def _lora_hparams(o: dict[str, Any], lora: bool, device: str) -> dict[str, Any]:
    """The LoRA shape by rule (alpha follows the rank the recipe may set: see ``_alpha_rule``)."""
    if not lora:
        return {
            k: _hp(None, "rule", "not a LoRA method")
            for k in ("lora_r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora")
        }
    r_ = _default_int("lora_r")
    return {
        "lora_r": _hp(r_, "rule", f"LoRA rank {r_}: enough capacity for a narrow task"),
        "lora_alpha": _alpha_rule(int(o.get("lora_r", r_)), bool(o.get("use_rslora", False))),
        "lora_dropout": lora_dropout_rule(device),
        "target_modules": _hp(
            DEFAULTS["target_modules"],
            "rule",
            "every linear layer: closer to full tuning than attention-only (QLoRA paper)",
        ),
        "use_rslora": _hp(False, "rule", "plain LoRA scaling alpha/r: ranks this small do not need rsLoRA"),
    }


def lora_dropout_rule(device: str) -> dict[str, Any]:
    """R-HPARAM-DEFAULTS: light dropout on a GPU; none on a CPU, where drawing and applying a mask
    before each adapter is memory-bound work the size of the activations, seven times a layer."""
    if device == "cpu":
        return _hp(
            0.0,
            "rule",
            f"dropout 0 on a CPU: there the adapters' dropout masks took ~40% of a LoRA step (measured, "
            f"bench/train_vs_trl.py) for the same holdout loss; {DEFAULTS['lora_dropout']:g} on a GPU",
        )
    return _hp(
        DEFAULTS["lora_dropout"], "rule", f"dropout {DEFAULTS['lora_dropout']:g}: light regularisation for small data"
    )


def _alpha_rule(r: int, rslora: bool) -> dict[str, Any]:
    """R-HPARAM-DEFAULTS: alpha = 2 x the rank, so the update's scale stays 2 whatever rank is chosen."""
    alpha = 2 * r
    return _hp(alpha, "rule", f"alpha {alpha} = 2 x rank {r}; " + _scale(r, alpha, rslora))


def _scale(r: int, alpha: int, rslora: bool) -> str:
    if rslora:
        return f"the update is scaled by alpha/sqrt(r) = {alpha}/sqrt({r}) = {alpha / math.sqrt(r):.3g} (rsLoRA)"
    return f"the update is scaled by alpha/r = {alpha}/{r} = {alpha / r:g}"


def _precision_reason(device: str) -> str:
    if device == "cuda":
        return "auto: bf16 mixed precision on a GPU that has bf16, else fp32"
    return "auto: fp32 weights, bf16 autocast where the CPU has native bf16 matmuls"


def _eval_steps(hp: dict[str, Any]) -> dict[str, Any]:
    """Validation runs only for early stopping (R-EPOCHS-BY-SIZE), at the checkpoint cadence, so
    the best evaluated checkpoint is one that was saved."""
    if not hp["early_stopping"]["value"]:
        return _hp(None, "rule", "no validation slice: early stopping is off")
    every = hp["save_steps"]["value"]
    return _hp(every, "rule", f"validation loss every {every} steps, at each checkpoint (early stopping)")


def _effective(o: dict[str, Any], eff: int) -> int:
    """The effective batch a cadence in epochs is counted with: the recipe's, when it sets both parts."""
    if "batch" in o and "grad_accum" in o:
        return int(o["batch"]) * int(o["grad_accum"])
    return eff


def _plan_value(key: str, value: object, per_epoch: int, root: str) -> object:
    """A recipe value as the plan holds it: cadences in optimiser steps, module lists as lists,
    a template by name or by its path in the project."""
    if key in PLAN_NAME and isinstance(value, tuple):
        unit, amount = value
        return int(amount) if unit == "steps" else max(1, round(float(amount) * per_epoch))
    if key == "target_modules" and isinstance(value, tuple):
        return list(value)
    if key == "chat_template" and isinstance(value, tuple):
        kind, text = value
        return text if kind == "name" else "file:" + os.path.relpath(text, root)
    return value


def _recipe_hp(key: str, raw: object, value: object, rule: dict[str, Any], per_epoch: int) -> dict[str, Any]:
    """The recipe's value, and a note when the rule would have chosen differently (not an error:
    the recipe wins, the plan says what it overrode and why the rule chose as it did)."""
    shown = _show(value)
    if key in PLAN_NAME and isinstance(raw, tuple):
        unit, amount = raw
        share = f"{float(amount):.0%} of an epoch = every " if unit == "epoch" else ""
        shown = f"{share}{value} steps (an epoch is {per_epoch} updates)"
    if _same(value, rule["value"]) or rule["set_by"] != "rule":
        return _hp(value, "recipe", "set by recipe" + (f": {shown}" if key in PLAN_NAME else ""))
    why = f" ({rule['reason']})" if rule["reason"] else ""
    return _hp(value, "recipe", f"recipe sets {key} {shown}; the rule would choose {_show(rule['value'])}{why}")


def _same(a: object, b: object) -> bool:
    if (
        isinstance(a, (int, float))
        and isinstance(b, (int, float))
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    return a == b


def _show(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return hparams.short(value) if value and abs(value) < 1e-2 else f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))  # no brackets: the plan's table reads them as markup
    return str(value)


def _lr(f: Facts, method: str) -> tuple[float | None, str, str]:
    """R-LR: the full fine-tuning lr scaled by 1/width from 2e-5 at width 4096; LoRA 10x that."""
    width = f.trained.spec.hidden
    full = hparams.full_lr(width)
    if method == "none":
        return None, "rule", "no training"
    basis = (
        f"full-tuning lr {hparams.short(hparams.FULL_LR_REF)} at width {hparams.REF_WIDTH} x "
        f"{hparams.REF_WIDTH}/{width} (1/width)"
    )
    if method == "full":
        return hparams.round_lr(full), "rule", f"{basis} = {hparams.short(full)}"
    lora = hparams.lora_lr(width)
    clamp = "" if abs(lora - hparams.LORA_LR_FACTOR * full) < 1e-12 else f", clamped to {hparams.short(lora)}"
    return (
        hparams.round_lr(lora),
        "rule",
        f"{basis} = {hparams.short(full)}; LoRA {hparams.LORA_LR_FACTOR:g}x{clamp} = {hparams.short(lora)}",
    )


def _epochs(n_train: int, eff: int) -> tuple[int, str, str]:
    """R-EPOCHS-BY-SIZE: enough epochs for MIN_UPDATES optimizer updates, at most the size cap."""
    cap = 3 if n_train < hparams.LARGE_DATA_ROWS else 2 if n_train < 10_000 else 1
    per_epoch = max(1, math.ceil(n_train / eff))
    epochs = min(cap, max(1, math.ceil(hparams.MIN_UPDATES / per_epoch)))
    return (
        epochs,
        "rule",
        (
            f"{n_train:,} train rows / effective batch {eff} = {per_epoch} updates an epoch; "
            f"{epochs} epoch(s) = {epochs * per_epoch} updates (aim {hparams.MIN_UPDATES}, "
            f"at most {cap} epochs at this size)"
        ),
    )


def _early_stopping(n_train: int) -> tuple[bool, str, str]:
    floor = hparams.EARLY_STOPPING_MIN_ROWS
    if n_train < floor:
        return (
            False,
            "rule",
            (
                f"off: {n_train:,} train rows (< {floor:,}); the validation slice would take "
                "rows from training and a short run would restore an earlier checkpoint"
            ),
        )
    return (
        True,
        "rule",
        (
            f"stop when validation loss (a slice of train, never the holdout) stops improving; "
            f"patience {DEFAULTS['early_stopping_patience']}"
        ),
    )


def _max_length(f: Facts, retrieval: bool) -> tuple[int, str]:
    # The runtime leaves out (does not truncate) rows over max_length, so cover the longest sampled
    # row unless it is an outlier (over 2x p99: such rows would set the memory for everyone).
    t = f.tokens
    longest, basis = (t.max, "longest") if t.max <= 2 * t.p99 else (t.p99, "p99")
    margin = 1.1 if t.method == "chars/4" else 1.0  # chars/4 undercounts code, JSON and names
    # RAFT rows carry the retrieved passages: the documents' longest chunks, +10% whatever counted
    # them, since a long document's later windows were not read (a denser one has more tokens)
    context = math.ceil(f.context_tokens * 1.1) if retrieval else 0
    need = math.ceil(longest * margin) + f.system_tokens + TEMPLATE_TOKENS + context
    cap = min(f.trained.spec.max_positions, 8192)
    value = min(cap, max(128, 64 * math.ceil(need / 64)))
    est = f"{t.method} +10%" if margin > 1 else t.method
    return value, (
        f"{basis} row {longest} tokens ({est}, {t.sampled} rows sampled) + system "
        f"{f.system_tokens} + template {TEMPLATE_TOKENS}"
        + (f" + retrieved context {context} (its longest chunks +10%)" if context else "")
        + ", rounded up to 64"
    )


def _packing(f: Facts, hp: dict[str, Any], n_train: int) -> None:
    if hp["packing"]["set_by"] == "recipe":
        return
    max_len = int(hp["max_length"]["value"])
    short = f.tokens.p50 * 2 < max_len
    if short and n_train < hparams.LARGE_DATA_ROWS:
        # Packing puts several rows in one sequence, so a batch holds more rows and an epoch has
        # fewer updates: on small data the updates are what is scarce (R-EPOCHS-BY-SIZE). The
        # trainer still drops the padding when that pays (padding-free batches).
        hp["packing"] = _hp(
            False,
            "rule",
            f"median row {f.tokens.p50} tokens vs max_length {max_len}, but "
            f"{n_train:,} train rows (< {hparams.LARGE_DATA_ROWS:,}): packing would cut the updates",
        )
        return
    hp["packing"] = _hp(
        short,
        "rule",
        f"median row {f.tokens.p50} tokens vs max_length {max_len}: "
        + ("padding-free packing saves the padding" if short else "rows fill max_length; packing gains little"),
    )


# --- method by memory (rule 7) ---------------------------------------------------------------
def decide_method(f: Facts, d: Decisions) -> None:
    r = f.recipe
    if not d.trains:
        d.method = "none"
        d.hp = decide_hparams(f, d, "none")
        _set_accum(d)
        return
    n = f.rows(d.train_names)
    asked = r.train.values.get("method")
    cpu_qlora = qlora_on_cpu(r)  # the linter's FTR207 and FTR213, for recipes built without it
    cuda_only = cuda_only_on_cpu(r)
    if cpu_qlora is not None or cuda_only:
        d.diagnostics.extend([cpu_qlora] if cpu_qlora else [])
        d.diagnostics.extend(cuda_only)
        return
    if not _targets_known(f, d):
        return
    if f.student is not None:  # R-STUDENT-LAYERS: every weight of a cut model retrains
        if asked and asked != "full":
            d.error(
                "FTR327",
                f"a student cut to {len(f.student_layers)} of {f.base.spec.layers} layers trains all its weights; "
                f"method {asked} would leave the kept layers as they were in the deeper model",
                r.train.at("method"),
                "leave `method` out (full), or drop `student_layers` to distil into the whole base",
            )
            return
        candidates = ["full"]
    elif asked:
        candidates = [str(asked)]
    elif n >= FULL_MIN_EXAMPLES:
        candidates = ["full", "lora", "qlora"]
    else:
        candidates = ["lora", "qlora"]
    if f.device.kind == "cpu":
        candidates = [m for m in candidates if m != "qlora"]
    d.hp = decide_hparams(f, d, candidates[0])
    choice = _sharded_full(f, d, candidates, asked)
    if choice is None:
        choice = _first_fit(f, d, candidates, gpus=1)
    if choice is None and f.device.gpus > 1:
        choice = _first_fit(f, d, candidates, gpus=f.device.gpus)
        if choice is not None:
            _fsdp(f, d, choice)
    if choice is None:
        _nothing_fits(f, d, candidates, asked)
        return
    d.method, d.mem = choice.method, choice
    if d.method != candidates[0]:
        d.hp = decide_hparams(f, d, d.method) | {k: d.hp[k] for k in ("batch", "grad_accum", "gradient_checkpointing")}
    _method_rule(f, d, asked, n)
    _alternatives(f, d)
    _finish_batch(f, d)


def _sharded_full(f: Facts, d: Decisions, candidates: list[str], asked: object) -> memory.MemoryEstimate | None:
    """R-FULL-NEEDS-REASON chose full for a large dataset and the recipe grants several GPUs: a full
    tune that only fits sharded is still the plan (FSDP), rather than a LoRA that fits one device.
    The data is the reason for full; the granted GPUs are what make it fit."""
    if asked or f.student is not None or candidates[0] != "full" or f.device.gpus <= 1:
        return None
    if _first_fit(f, d, ["full"], gpus=1) is not None:
        return None  # fits one device: the ordinary path (DDP) decides it
    est = _first_fit(f, d, ["full"], gpus=f.device.gpus)
    if est is not None:
        distributed.record_fsdp(
            f, d, est, why=f"a full tune ({f.rows(d.train_names):,} training examples) does not fit"
        )
    return est


def _targets_known(f: Facts, d: Decisions) -> bool:
    """FTR322: every module in the recipe's ``target_modules`` exists in the base model, when its
    architecture's module names are known (a dotted name is matched by its last part, as PEFT does)."""
    asked = f.recipe.train.values.get("target_modules")
    known = model_table.MODULE_NAMES.get(f.trained.spec.arch)
    if not isinstance(asked, tuple) or known is None:
        return True
    names = (*known, "lm_head")
    unknown = [(i, m) for i, m in enumerate(asked) if m.rsplit(".", 1)[-1] not in names]
    for i, name in unknown:
        guess = did_you_mean(name.rsplit(".", 1)[-1], names)
        d.error(
            "FTR322",
            f"`{name}` is not a module of {f.base.name} ({f.trained.spec.arch}): its linear modules are "
            + ", ".join(known),
            f.recipe.train.at(f"target_modules[{i}]"),
            f"did you mean `{guess}`?" if guess else 'or write target_modules = "all-linear"',
        )
    return not unknown


def _first_fit(f: Facts, d: Decisions, candidates: list[str], gpus: int) -> memory.MemoryEstimate | None:
    """The first method (in preference order) that fits, lowering micro-batch and turning on checkpointing."""
    limit = f.device.memory_bytes
    hp = d.hp
    max_len = int(hp["max_length"]["value"])
    batch_fixed = hp["batch"]["set_by"] == "recipe"
    start = int(hp["batch"]["value"])
    batches = [start] if batch_fixed else [b for b in (8, 4, 2, 1) if b <= start]
    ckpts = (
        [hp["gradient_checkpointing"]["value"]] if hp["gradient_checkpointing"]["set_by"] == "recipe" else [False, True]
    )
    r = int(hp["lora_r"]["value"] or _default_int("lora_r"))
    # First look for a fit with 10% headroom (activations vary with the longest rows), then without.
    for room in (NEAR_MEMORY, 1.0) if limit else (1.0,):
        found = _fit(f, d, candidates, ckpts, batches, max_len, r, gpus, None if limit is None else limit * room)
        if found is not None:
            est, b, ckpt = found
            if b == start:
                reason = hp["batch"]["reason"]
            else:
                assert limit is not None, "without a limit the first (starting) micro-batch fits"
                reason = f"micro-batch {b}: the largest that fits in {limit / GB:.1f} GB"
            hp["batch"] = _hp(b, hp["batch"]["set_by"], reason)
            if ckpt and hp["gradient_checkpointing"]["set_by"] == "rule":
                hp["gradient_checkpointing"] = _hp(
                    True, "rule", "on: activations would not fit otherwise (~30% slower)"
                )
            return est
    return None


def stage_memory(f: Facts, d: Decisions, seq_len: int, micro_batch: int, method: str | None = None) -> dict[str, Any]:
    """What the objective adds to the training memory: DPO and ORPO forward chosen and rejected
    together (two sequences a row); DPO and KTO after an SFT hold the SFT model as the reference:
    after an adapter SFT a frozen copy of its adapter on the same base (TRL's "ref" adapter), after
    a full SFT a second copy of the model (on a fresh LoRA the reference is the base with the adapter
    disabled, no copy); ORPO holds none; logit distillation holds the teacher and its logits
    (R-OBJECTIVE, R-DISTILL-KIND). ``method``: the SFT's method (default: the plan's)."""
    s = d.strategy
    held: list[tuple[str, int]] = []
    if ("dpo" in s or "kto" in s) and ("finetune" in s or "distill" in s):
        held.append(("reference", _reference_bytes(f, d, method or d.method)))
    if d.distill_kind == "logits" and f.teacher is not None:
        held.append(("teacher", memory.teacher_logits_bytes(f.teacher.spec, seq_len, micro_batch, f.device.kind)))
    # KTO's stage runs at least 2 rows a micro-batch (its KL term pairs each answer with another row).
    kto_rows = 2 if "kto" in s and micro_batch < 2 else 1
    return {"sequences": 2 if ("dpo" in s or "orpo" in s) else kto_rows, "held": tuple(held)}


def _reference_bytes(f: Facts, d: Decisions, method: str) -> int:
    """The DPO/KTO reference beside the policy: an fp32 copy of the SFT adapter (PEFT keeps adapters
    in fp32) after an adapter SFT, the whole model in the device's dtype after a full one."""
    if method in ("lora", "dora", "qlora"):
        r = d.hp.get("lora_r", {}).get("value") if d.hp else None
        return memory.adapter_params(f.trained.spec, int(r or _default_int("lora_r"))) * memory.ADAPTER_DTYPE_BYTES
    return f.trained.params * memory.dtype_bytes(f.device.kind)


def _fit(
    f: Facts,
    d: Decisions,
    candidates: list[str],
    ckpts: list[bool],
    batches: list[int],
    max_len: int,
    r: int,
    gpus: int,
    limit: float | None,
) -> tuple[memory.MemoryEstimate, int, bool] | None:
    for method in candidates:
        for ckpt in ckpts:
            for b in batches:
                est = memory.estimate(
                    f.trained.spec,
                    method,
                    f.device.kind,
                    max_len,
                    b,
                    lora_r=r,
                    checkpointing=ckpt,
                    gpus=gpus,
                    precision=_precision(f),
                    **stage_memory(f, d, max_len, b, method),
                )
                if limit is None or est.peak <= limit:
                    return est, b, ckpt
    return None


def _precision(f: Facts) -> str:
    return str(f.recipe.train.values.get("precision", DEFAULTS["precision"]))


def _method_rule(f: Facts, d: Decisions, asked: object, n: int) -> None:
    mem = d.mem
    assert mem is not None, "decide_method sets the estimate first"
    peak = mem.peak / GB
    where = f"{f.device.memory_bytes / GB:.0f} GB" if f.device.memory_bytes else "unchecked memory"
    if asked:
        d.fire("R-METHOD-BY-MEMORY", f"{d.method} set by recipe; needs {peak:.1f} GB per device ({where})")
    else:
        d.fire(
            "R-METHOD-BY-MEMORY",
            f"{d.method}: {human_count(f.trained.params)}-parameter {'student' if f.student else 'base'} at max_length "
            f"{d.hp['max_length']['value']} needs {peak:.1f} GB per device ({where})",
        )
    if d.method == "full" and f.student is not None:
        d.fire("R-FULL-NEEDS-REASON", "a student cut from the base retrains all its weights (R-STUDENT-LAYERS)")
    elif d.method == "full":
        d.fire(
            "R-FULL-NEEDS-REASON",
            "set by recipe" if asked else f"{n:,} training examples (at least {FULL_MIN_EXAMPLES:,})",
        )
    limit = f.device.memory_bytes
    if limit and mem.peak >= NEAR_MEMORY * limit:
        d.warn(
            "FTR314",
            f"peak memory {peak:.1f} GB is {mem.peak / limit:.0%} of the device's {limit / GB:.1f} GB",
            f.recipe.constraints.span,
            "long rows or a larger batch at run time may not fit; lower max_length or batch",
        )


def _alternatives(f: Facts, d: Decisions) -> None:
    hp = d.hp
    mem = d.mem
    assert mem is not None, "decide_method sets the estimate first"
    args: dict[str, Any] = dict(seq_len=int(hp["max_length"]["value"]), micro_batch=int(hp["batch"]["value"]))
    limit = f.device.memory_bytes
    for method in ("full", "lora", "qlora"):
        if method == "qlora" and f.device.kind != "cuda":
            d.alternatives[method] = {"peak_memory_bytes": None, "fits": False, "note": "CUDA only"}
            continue
        est = memory.estimate(
            f.trained.spec,
            method,
            f.device.kind,
            lora_r=_default_int("lora_r"),
            checkpointing=bool(hp["gradient_checkpointing"]["value"]),
            gpus=mem.gpus,
            precision=_precision(f),
            **args,
            **stage_memory(f, d, args["seq_len"], args["micro_batch"], method),
        )
        d.alternatives[method] = {
            "peak_memory_bytes": est.peak,
            "fits": limit is None or est.peak <= limit,
            "note": "chosen" if method == d.method else "",
        }


def _fsdp(f: Facts, d: Decisions, est: memory.MemoryEstimate) -> None:
    """Nothing fits one device but it fits sharded: the sharding strategy (R-FSDP); processes,
    batch split and the launch command follow in ``distributed.finish``."""
    distributed.record_fsdp(f, d, est)


def _nothing_fits(f: Facts, d: Decisions, candidates: list[str], asked: object) -> None:
    r = f.recipe
    limit = f.device.memory_bytes or 0
    max_len = int(d.hp["max_length"]["value"])
    need = {m: _least_memory(f, d, m, max_len) for m in candidates}
    cheapest = min(need, key=need.__getitem__)
    options = []
    if f.device.kind == "cpu":
        options.append("QLoRA on cuda (`device = cuda`)")
    smaller = _smaller_bases(f, limit, max_len)
    if smaller:
        options.append("a smaller base (" + ", ".join(smaller) + ")")
    short = 128
    # Only a max_length shorter than the plan's is an option (the rule's is often 128 already).
    if short < max_len and _least_memory(f, d, cheapest, short) <= limit:
        options.append(f"a shorter max_length (e.g. train {{ max_length = {short} }})")
    if f.device.kind == "cuda":
        options.append("more GPUs (`gpus = N`, sharded with FSDP)")
    reference = dict(stage_memory(f, d, max_len, 1, cheapest)["held"]).get("reference", 0)
    if "dpo" in d.strategy and reference >= 0.1 * need[cheapest]:  # a second model, not an adapter copy
        options.append("the pairs trained with ORPO (`train { objective = orpo }`: one stage, no reference model)")
    if asked and cheapest != "qlora" and f.device.kind == "cuda":
        options.insert(0, "leave `method` to the rules (QLoRA may fit)")
    needs = ", ".join(f"{m} {v / GB:.1f} GB" for m, v in need.items())
    where = f"one {limit / GB:.1f} GB device" + (
        f", nor sharded over {f.device.gpus} GPUs" if f.device.gpus > 1 else ""
    )
    what = f"method {asked} set by the recipe does not fit on" if asked else "nothing fits on"
    code, span = ("FTR313", r.train.span) if asked else ("FTR307", r.constraints.span)
    held = _held_note(f, d, max_len, cheapest)
    d.error(
        code,
        f"{what} {where}: {needs} at micro-batch 1 with gradient checkpointing, max_length {max_len}{held}",
        span,
        "options: " + "; ".join(options),
    )


def _least_memory(f: Facts, d: Decisions, method: str, max_len: int) -> int:
    """A method's peak at micro-batch 1 with checkpointing, with what its stage holds beside it (the
    DPO/KTO reference, a logit teacher, chosen and rejected together): the figure that did not fit."""
    return memory.estimate(
        f.trained.spec,
        method,
        f.device.kind,
        max_len,
        1,
        checkpointing=True,
        precision=_precision(f),
        **stage_memory(f, d, max_len, 1, method),
    ).peak


def _held_note(f: Facts, d: Decisions, max_len: int, method: str) -> str:
    """What the least figure includes beside the trained model, so a reader can redo the sum."""
    held = stage_memory(f, d, max_len, 1, method)["held"]
    if not held:
        return ""
    parts = ", ".join(f"the {name} {size / GB:.1f} GB" for name, size in held)
    return f" (the {method} figure includes {parts} held beside the trained model)"


def _smaller_bases(f: Facts, limit: int, max_len: int) -> list[str]:
    fits = [
        m
        for m in model_table.TABLE
        if m.params < f.trained.params
        and memory.estimate(
            m, "qlora" if f.device.kind == "cuda" else "lora", f.device.kind, max_len, 1, checkpointing=True
        ).peak
        <= limit
    ]
    return [m.name for m in sorted(fits, key=lambda m: -m.params)[:3]]


def _set_accum(d: Decisions) -> None:
    hp = d.hp
    eff = hp.pop("_effective")
    b = int(hp["batch"]["value"])
    if hp["grad_accum"]["set_by"] != "recipe":
        accum = max(1, eff // b)
        size = (
            f"under {hparams.LARGE_DATA_ROWS:,} train rows"
            if eff == hparams.EFFECTIVE_BATCH_SMALL
            else f"{hparams.LARGE_DATA_ROWS:,} train rows or more"
        )
        hp["grad_accum"] = _hp(
            accum, "rule", f"effective batch {b} x {accum} = {b * accum} ({eff} {size}: more updates on small data)"
        )


def _modules(value: Iterable[object] | None) -> str:
    return "all linear layers" if value == "all-linear" else ", ".join(map(str, value or []))


def _finish_batch(f: Facts, d: Decisions) -> None:
    _set_accum(d)
    hp = d.hp
    b = int(hp["batch"]["value"])
    d.fire(
        "R-HPARAM-DEFAULTS",
        f"{d.method}: micro-batch {b} x accumulation {hp['grad_accum']['value']}"
        + (
            f", rank {hp['lora_r']['value']} alpha {hp['lora_alpha']['value']} on "
            f"{_modules(hp['target_modules']['value'])}"
            if d.method != "full"
            else ""
        ),
    )
    d.fire("R-LR", f"lr {hparams.short(float(hp['lr']['value']))}: " + hp["lr"]["reason"])
    d.fire(
        "R-EPOCHS-BY-SIZE",
        (hp["epochs"]["reason"] if hp["epochs"]["set_by"] == "rule" else "epochs set by recipe")
        + "; early stopping "
        + ("set by recipe" if hp["early_stopping"]["set_by"] == "recipe" else hp["early_stopping"]["reason"]),
    )
    d.fire(
        "R-MAX-LENGTH-FROM-DATA",
        hp["max_length"]["reason"] if hp["max_length"]["set_by"] == "rule" else "max_length set by recipe",
    )
    if hp["max_length"]["set_by"] == "recipe" and int(hp["max_length"]["value"]) < f.tokens.p90:
        d.warn(
            "FTR319",
            f"max_length {hp['max_length']['value']} is below the data's p90 of {f.tokens.p90} tokens: "
            "more than 10% of rows are overlong",
            f.recipe.train.span,
            "rows over max_length are dropped or truncated per the source's `overlong` setting",
        )
