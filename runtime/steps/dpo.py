"""The dpo step: TRL's DPOTrainer on the preference pairs, after SFT (design section 4).

The policy continues the SFT LoRA adapter, and the reference model is the SFT model itself
(base + adapter, merged and frozen): DPO measures preference shifts against the model it starts
from, not against the untuned base. Without an SFT step, a fresh LoRA on the base is trained and
the base (adapter disabled) is the reference. The result is again a LoRA adapter on the base
model, so eval and export treat it exactly like the SFT adapter. Checkpoints and resume work as
in the train step.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from ftc.shared.errors import FtcError
from ftc.shared import atomic
from ftc.runtime.steps import common


def _messages(value: object, role: str) -> list[dict]:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return [{"role": m["role"], "content": m["content"]} for m in value]  # type: ignore[union-attr]


def preference_rows(ctx) -> list[dict]:  # noqa: ANN001 - the executor's Context
    """TRL's conversational preference rows, under the plan's one system prompt."""
    from ftc.runtime import data

    names = set(ctx.config.get("sources") or [])
    records = [r for r in data.read_records(ctx.need_dir("split") / "train.jsonl")
               if r.format == "preference" and (not names or r.source in names)]
    rows = []
    for r in records:
        prompt = _messages(r.fields["prompt"], "user")
        if prompt[0]["role"] != "system":
            prompt.insert(0, {"role": "system", "content": common.system_prompt(ctx.plan)})
        rows.append({"prompt": prompt, "chosen": _messages(r.fields["chosen"], "assistant"),
                     "rejected": _messages(r.fields["rejected"], "assistant")})
    if not rows:
        raise FtcError(f"error: step '{ctx.step['id']}': the train split has no preference pairs "
                       f"from {', '.join(sorted(names)) or 'any source'}")
    return rows


def _models(ctx, base: Path, p: dict):  # noqa: ANN001
    """(policy, reference, peft_config) as the module docstring describes."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from ftc.runtime.generate import _torch_dtype
    from ftc.runtime.train.sft import _lora_config
    from ftc.runtime.steps.model_steps import trained_kind, trained_output

    dtype = _torch_dtype("auto")
    if trained_kind(ctx) != "train":
        return AutoModelForCausalLM.from_pretrained(base, dtype=dtype), None, _lora_config(p)
    sft = trained_output(ctx)
    if not (sft / "adapter_config.json").exists():  # a full fine-tune: its weights are the start and the reference
        return (AutoModelForCausalLM.from_pretrained(sft, dtype=dtype), AutoModelForCausalLM.from_pretrained(sft, dtype=dtype),
                _lora_config(p))
    policy = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=dtype), sft, is_trainable=True)
    ref = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=dtype), sft).merge_and_unload()
    return policy, ref.eval(), None


def _config(ctx, p: dict):  # noqa: ANN001
    import torch
    from trl import DPOConfig

    cuda = torch.cuda.is_available()
    return DPOConfig(
        output_dir=str(ctx.dir / "checkpoints"),
        beta=float(ctx.config.get("beta", 0.1)),
        learning_rate=float(ctx.config.get("lr", 5e-6)),
        per_device_train_batch_size=int(p["batch"]),
        gradient_accumulation_steps=int(p["grad_accum"]),
        num_train_epochs=float(p["epochs"]),
        max_steps=int(p["max_steps"]) if p["max_steps"] else -1,
        max_length=int(p["max_length"]),
        seed=int(p["seed"]),
        # TRL turns gradient checkpointing on by default; it costs a recompute per step and a
        # small model on a CPU has the memory to keep activations. The plan decides.
        gradient_checkpointing=bool(p.get("gradient_checkpointing") or False),
        logging_steps=int(p["logging_steps"]),
        logging_first_step=True,
        save_strategy="steps",
        save_steps=int(p["save_steps"]),
        save_total_limit=2,
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        dataloader_num_workers=0,
        report_to="none",
        disable_tqdm=True,
    )


def dpo_step(ctx) -> dict:  # noqa: ANN001
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from transformers.trainer_utils import get_last_checkpoint
    from trl import DPOTrainer

    from ftc.runtime.generate import apply_thread_setting, load_tokenizer
    from ftc.runtime.train.sft import hp_values
    from ftc.runtime.steps.model_steps import _checkpoint_step, _drop_incomplete_checkpoints

    apply_thread_setting()
    p = hp_values(dict(ctx.plan.get("hyperparameters") or {}))
    base = common.model_dir(ctx)
    rows = preference_rows(ctx)
    policy, ref, peft_config = _models(ctx, base, p)
    tokenizer = load_tokenizer(base)
    _drop_incomplete_checkpoints(ctx.dir)
    resumed_from = _checkpoint_step(ctx.dir)
    with ExitStack() as stack:
        callbacks = [stack.enter_context(ctx.progress.training("dpo"))] if ctx.progress is not None else []
        trainer = DPOTrainer(model=policy, ref_model=ref, args=_config(ctx, p), train_dataset=Dataset.from_list(rows),
                             processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)
        trainer.remove_callback(PrinterCallback)
        start = time.monotonic()
        last = get_last_checkpoint(str(ctx.dir / "checkpoints")) if resumed_from else None
        trainer.train(resume_from_checkpoint=last)
        seconds = time.monotonic() - start
    tmp = Path(tempfile.mkdtemp(prefix=".adapter-", dir=ctx.dir))
    trainer.model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    if (ctx.dir / "adapter").exists():
        shutil.rmtree(ctx.dir / "adapter")
    os.replace(tmp, ctx.dir / "adapter")
    info = {"method": "lora", "objective": "dpo", "global_step": int(trainer.state.global_step),
            "train_seconds": round(seconds, 3), "train_tokens": None, "tokens_per_second": None,
            "resumed_from_step": resumed_from, "output": "adapter", "train_rows": len(rows), "val_rows": 0,
            "beta": float(ctx.config.get("beta", 0.1))}
    atomic.write_json(ctx.dir / "train.json", info)
    atomic.write_json(ctx.dir / "loss_history.json", list(trainer.state.log_history))
    return info
