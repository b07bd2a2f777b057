"""Direct preference optimisation (Rafailov et al. 2023) with TRL's DPOTrainer, after SFT.

The policy continues the SFT LoRA adapter, and the reference model is the SFT model itself
(the base with a frozen copy of the SFT adapter, TRL's "ref" adapter on the same weights): DPO
measures preference shifts against the model it starts from, not against the untuned base. After a full SFT its weights are both the start (with a fresh
LoRA) and the reference. Without an SFT step, a fresh LoRA on the base is trained and the base
(adapter disabled) is the reference. The result is a LoRA adapter on the base model, so eval and
export treat it exactly like the SFT adapter. Checkpoints and resume work as in SFT.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ftc.runtime import timing
from ftc.runtime.train.common import (
    CHECKPOINTS,
    TrainResult,
    drop_incomplete_checkpoints,
    hp_values,
    last_checkpoint,
    lora_config,
    model_dtype,
    save_atomically,
    trainer_arguments,
)

ADAPTER = "adapter"


def _messages(value: object, role: str) -> list[dict]:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return [{"role": m["role"], "content": m["content"]} for m in value]  # type: ignore[union-attr]


def preference_rows(pairs: Sequence[dict], system: str) -> list[dict]:
    """TRL's conversational preference rows from canonical preference fields
    (``prompt``, ``chosen``, ``rejected``), under the plan's one system prompt."""
    rows = []
    for fields in pairs:
        prompt = _messages(fields["prompt"], "user")
        if prompt[0]["role"] != "system":
            prompt.insert(0, {"role": "system", "content": system})
        rows.append(
            {
                "prompt": prompt,
                "chosen": _messages(fields["chosen"], "assistant"),
                "rejected": _messages(fields["rejected"], "assistant"),
            }
        )
    return rows


def load_models(base: Path, sft_output: Path | None, p: dict, method: str = "lora") -> tuple[Any, Any, Any]:
    """(policy, reference, peft_config) as the module docstring describes; ``sft_output`` is the
    SFT step's adapter or model folder, None when no SFT ran; ``method``: the plan's (qlora keeps
    the base in 4-bit, as the plan's memory counts it)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    dtype = model_dtype(p, "lora")
    if sft_output is None:
        return _base_model(base, dtype, method), None, lora_config(p)
    if not (sft_output / "adapter_config.json").exists():  # a full fine-tune
        return (
            AutoModelForCausalLM.from_pretrained(sft_output, dtype=dtype),
            AutoModelForCausalLM.from_pretrained(sft_output, dtype=dtype),
            lora_config(p),
        )
    policy = PeftModel.from_pretrained(_base_model(base, dtype, method), sft_output, is_trainable=True)
    # No second model: given a PeftModel and no reference, TRL's DPO and KTO trainers add a frozen
    # copy of the adapter ("ref") and score the reference through it on the same base, so the
    # reference costs an adapter, not a second copy of the base (16 GB for an 8B model in bf16).
    return policy, None, None


def require_reference_adapter(model: Any, sft_output: Path | None) -> None:
    """After a LoRA SFT the reference must be TRL's frozen "ref" copy of the SFT adapter. A TRL
    without it would score the reference with the adapter disabled, the untuned base: a silently
    different objective, so it is refused."""
    if sft_output is None or not (Path(sft_output) / "adapter_config.json").exists():
        return
    if "ref" not in (getattr(model, "peft_config", None) or {}):
        from ftc.shared.errors import FtcError

        raise FtcError(
            "error: this TRL does not keep a frozen copy of the SFT adapter as the DPO/KTO reference; "
            "upgrade it (pip install -U trl): ftc needs the reference to be the SFT model, not the base"
        )


def _base_model(base: Path, dtype: Any, method: str) -> Any:
    """The frozen base the adapter trains on: NF4 for a QLoRA plan (CUDA only; ``load_4bit`` says
    so on a CPU), else in the plan's dtype."""
    if method == "qlora":
        from ftc.runtime.train.sft import load_4bit

        return load_4bit(Path(base))
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(base, dtype=dtype)


def dpo_config(p: dict, ckpt_dir: Path, beta: float, lr: float) -> Any:
    from trl import DPOConfig

    return DPOConfig(
        # DPO on a CPU stays fp32 under precision auto: bf16 autocast was measured for SFT only.
        **trainer_arguments(p, ckpt_dir, cpu_autocast=False),
        beta=beta,
        learning_rate=lr,
        max_length=int(p["max_length"]),
        save_steps=int(p["save_steps"]),
    )


def train_dpo(
    base: Path,
    rows: list[dict],
    hp: dict,
    out_dir: Path,
    *,
    sft_output: Path | None = None,
    beta: float | None = None,
    lr: float | None = None,
    callbacks: Sequence = (),
    method: str = "lora",
) -> TrainResult:
    """DPO on ``rows`` (``preference_rows``); resumes from the newest complete checkpoint under
    ``out_dir``. Writes ``out_dir/adapter`` and returns its ``TrainResult`` (tokens are not counted)."""
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import DPOTrainer

    from ftc.runtime.generate import apply_thread_setting, load_tokenizer

    apply_thread_setting()
    p = hp_values(hp)
    beta = float(p["dpo_beta"] if beta is None else beta)
    lr = float(p["dpo_lr"] if lr is None else lr)
    policy, ref, peft_config = load_models(base, sft_output, p, method)
    tokenizer = load_tokenizer(base, chat_template=p.get("chat_template_text"))
    ckpt_dir = Path(out_dir) / CHECKPOINTS
    drop_incomplete_checkpoints(ckpt_dir)
    trainer = DPOTrainer(
        model=policy,
        ref_model=ref,
        args=dpo_config(p, ckpt_dir, beta, lr),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=list(callbacks),
    )
    trainer.remove_callback(PrinterCallback)  # the executor shows its own progress
    require_reference_adapter(trainer.model, sft_output)
    start = time.monotonic()
    trainer.train(resume_from_checkpoint=last_checkpoint(ckpt_dir))
    seconds = time.monotonic() - start
    timing.add("train", seconds)
    final = Path(out_dir) / ADAPTER
    if trainer.is_world_process_zero():  # one writer in a launched run (ftc.runtime.train.worker)
        save_atomically(trainer.model, tokenizer, final)
    return TrainResult(
        output_dir=final,
        history=list(trainer.state.log_history),
        global_step=int(trainer.state.global_step),
        train_seconds=seconds,
        train_tokens=0,
        method="lora",
    )
