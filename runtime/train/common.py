"""What every training method shares: hyper-parameter values, the LoRA config, the dtype, the
trainer arguments they have in common, checkpoints (finding the newest complete one, dropping a
half-written one) and saving a trained model atomically.

torch, transformers, peft and trl are imported inside the functions that need them.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftc.shared import atomic
from ftc.shared.hparams import DEFAULTS, OPTIMIZERS

# Methods that train a PEFT adapter on a frozen base (saved as an adapter folder).
ADAPTER_METHODS: tuple[str, ...] = ("lora", "dora", "qlora")
CHECKPOINTS = "checkpoints"


@dataclass(frozen=True)
class TrainResult:
    output_dir: Path  # the adapter folder (lora) or the full model folder (full)
    history: list[dict]  # trainer log_history
    global_step: int
    train_seconds: float
    train_tokens: int  # tokens seen (prompt + completion, no padding)
    method: str
    dropped_overlong: int = 0  # train rows longer than max_length, left out (not truncated)
    batching: str = ""  # "padded" | "padding-free" | "packed"


# Earlier plans' names of what is now a recipe knob (warmup was a ratio only).
_RENAMED = {"warmup_ratio": "warmup"}  # read as a share, as it always was


def hp_values(hp: dict) -> dict:
    """The plan's hyperparameters ({"value", "set_by", "reason"}) or plain values -> plain values,
    a key the plan leaves out taking its default (``ftc.shared.hparams.DEFAULTS``)."""
    plain = {_RENAMED.get(k, k): (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in hp.items()}
    out = dict(DEFAULTS)
    out.update({k: v for k, v in plain.items() if v is not None or k in ("max_steps", "eval_steps")})
    return out


def model_dtype(p: dict, method: str) -> Any:
    """The dtype the model's weights load in. Full tuning keeps fp32 master weights (mixed
    precision autocasts the compute, never pure-16-bit AdamW updates); a frozen LoRA base loads
    in the plan's precision (auto: bf16 on a CUDA GPU that has it, else fp32)."""
    if method == "full":
        return torch_dtype("float32")
    return torch_dtype({"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}.get(str(p["precision"]), "auto"))


def mixed_precision(p: dict, cpu_autocast: bool = True) -> dict:
    """The trainer's bf16/fp16 flags for the plan's precision. auto: bf16 on a CUDA GPU that has
    it, else (``cpu_autocast``) bf16 autocast on a CPU with native bf16 (``cpu_bf16``), else fp32."""
    import torch

    precision = str(p["precision"])
    if precision == "auto":
        cuda = torch.cuda.is_available()
        bf16 = torch.cuda.is_bf16_supported() if cuda else cpu_autocast and cpu_bf16()
        return {"bf16": bf16, "fp16": False}
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def torch_dtype(dtype: str) -> Any:
    """``"auto"``: bf16 on a CUDA device that supports it, else fp32 (bf16 autocast gained only
    1.13x on a CPU LoRA step here); otherwise the named torch dtype."""
    import torch

    if dtype == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, dtype)


def lora_config(p: dict, dora: bool = False) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=int(p["lora_r"]),
        lora_alpha=int(p["lora_alpha"]),
        lora_dropout=float(p["lora_dropout"]),
        target_modules=p["target_modules"],
        use_rslora=bool(p["use_rslora"]),
        use_dora=dora,
        task_type="CAUSAL_LM",
    )


def trainer_arguments(p: dict, ckpt_dir: Path, cpu_autocast: bool = True) -> dict:
    """The TrainingArguments every method sets the same way (SFTConfig and DPOConfig add their own).
    ``cpu_autocast``: precision auto uses bf16 autocast on a CPU that has it (SFT measured faster)."""
    import torch

    return dict(
        output_dir=str(ckpt_dir),
        per_device_train_batch_size=int(p["batch"]),
        gradient_accumulation_steps=int(p["grad_accum"]),
        num_train_epochs=float(p["epochs"]),
        max_steps=int(p["max_steps"]) if p["max_steps"] else -1,
        seed=int(p["seed"]),
        # The plan's schedule (R-HPARAM-DEFAULTS: cosine); without it transformers decays linearly
        # whatever the plan says.
        lr_scheduler_type=str(p.get("lr_scheduler") or DEFAULTS["lr_scheduler"]),
        # A share (< 1) or a step count: transformers 5 reads a float below 1 as a ratio.
        warmup_steps=_warmup(p["warmup"]),
        weight_decay=float(p["weight_decay"]),
        max_grad_norm=float(p["max_grad_norm"]),
        optim=OPTIMIZERS[str(p["optimizer"])],
        **({"tf32": bool(p["tf32"])} if p.get("tf32") is not None else {}),
        **mixed_precision(p, cpu_autocast),
        # TRL turns gradient checkpointing on by default; recomputing activations costs ~30% a
        # step, so it follows the plan, which enables it only when memory requires.
        gradient_checkpointing=bool(p.get("gradient_checkpointing") or False),
        logging_steps=int(p["logging_steps"]),
        logging_first_step=True,
        save_strategy="steps",
        save_total_limit=2,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        # A launched run's process-group timeout (plan distributed.timeout_s, set by the worker):
        # a rank stuck in a collective fails instead of hanging.
        ddp_timeout=int(p.get("ddp_timeout") or 1800),
        report_to="none",
        disable_tqdm=True,
    )


def _warmup(value: object) -> float | int:
    number = float(value or 0)  # type: ignore[arg-type]
    return number if number < 1 else int(number)


def last_checkpoint(ckpt_dir: Path) -> str | None:
    """The newest complete checkpoint: a run killed while saving leaves a folder without
    ``trainer_state.json`` (written last), and resuming from it would crash."""
    if not Path(ckpt_dir).is_dir():
        return None
    steps = [
        (int(m.group(1)), path)
        for path in Path(ckpt_dir).iterdir()
        if (m := re.fullmatch(r"checkpoint-(\d+)", path.name)) and (path / "trainer_state.json").is_file()
    ]
    return str(max(steps)[1]) if steps else None


def checkpoint_step(checkpoint: str | None) -> int:
    """The optimizer step a checkpoint folder (``checkpoint-N``) was saved at, 0 for none."""
    return int(Path(checkpoint).name.rsplit("-", 1)[1]) if checkpoint else 0


def drop_incomplete_checkpoints(ckpt_dir: Path) -> None:
    """Remove checkpoint folders a kill left half-written, so nothing mistakes them for a resume point."""
    for path in Path(ckpt_dir).glob("checkpoint-*"):
        if path.is_dir() and not (path / "trainer_state.json").exists():
            shutil.rmtree(path, ignore_errors=True)


def resume_point(out_dir: Path) -> int:
    """The optimizer step a training run in ``out_dir`` resumes from (0: a fresh start), after
    dropping checkpoints a kill left half-written."""
    ckpt_dir = Path(out_dir) / CHECKPOINTS
    drop_incomplete_checkpoints(ckpt_dir)
    return checkpoint_step(last_checkpoint(ckpt_dir))


def save_atomically(model: Any, tokenizer: Any, final: Path) -> Path:
    """``save_pretrained`` of model and tokenizer into a temp sibling, then renamed into place:
    a reader never sees a half-written adapter or model."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True, **_tuned_adapter_only(model))
        tokenizer.save_pretrained(tmp)
        atomic.replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _tuned_adapter_only(model: Any) -> dict:
    """A DPO/KTO policy also carries TRL's frozen "ref" adapter (the reference, a copy of the SFT
    adapter): only the trained "default" adapter is the tune, and eval and export load the folder's
    root adapter."""
    adapters = getattr(model, "peft_config", None)
    if isinstance(adapters, dict) and len(adapters) > 1 and "default" in adapters:
        return {"selected_adapters": ["default"]}
    return {}


def cpu_bf16() -> bool:
    """bf16 autocast on CPU (fp32 master weights) where the CPU has native bf16 matmuls.
    Measured here (2 Zen 5 cores, LoRA, batch 8, 4 steps, TRL): 1.23-1.30x faster and ~0.5 GB
    less peak RSS than fp32. Without native bf16 (no avx512_bf16/amx) oneDNN emulates it and it
    would be slower, so it is off there. ``FTC_CPU_BF16=0|1`` overrides."""
    import torch

    forced = os.environ.get("FTC_CPU_BF16", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
