"""ORPO (Hong et al. 2024) and KTO (Ethayarajh et al. 2024) with TRL's trainers.

ORPO trains on preference pairs in one stage with no reference model: the SFT loss on the chosen
answer plus an odds-ratio term against the rejected one (``trl.experimental.orpo`` in TRL 1.x).
It continues the SFT adapter when the plan trained one on instruction data first, else starts a
fresh LoRA on the base.

KTO trains on unpaired answers, each labelled desirable or not, against a reference model, the
same way ftc's DPO does (``ftc.runtime.train.dpo.load_models``): after a LoRA SFT the SFT model
(the base with a frozen copy of the SFT adapter, TRL's "ref" adapter) is the reference; without one, a fresh LoRA on the base, whose reference is the
base itself (TRL disables the adapter for the reference pass, so no second copy is loaded).

Both write a LoRA adapter on the base, so eval and export treat it like the SFT adapter;
checkpoints and resume work as in SFT and DPO.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ftc.runtime.train.common import (
    CHECKPOINTS,
    TrainResult,
    drop_incomplete_checkpoints,
    hp_values,
    last_checkpoint,
    save_atomically,
    trainer_arguments,
)
from ftc.runtime.train.dpo import ADAPTER, load_models, require_reference_adapter
from ftc.shared.hparams import DEFAULTS


def _messages(value: object, role: str) -> list[dict]:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return [{"role": m["role"], "content": m["content"]} for m in value]  # type: ignore[union-attr]


def kto_rows(rows: Sequence[dict], system: str) -> list[dict]:
    """TRL's conversational unpaired-preference rows (``prompt``, ``completion``, ``label``) from
    canonical KTO fields, under the plan's one system prompt."""
    out = []
    for fields in rows:
        prompt = _messages(fields["prompt"], "user")
        if prompt[0]["role"] != "system":
            prompt.insert(0, {"role": "system", "content": system})
        out.append(
            {
                "prompt": prompt,
                "completion": _messages(fields["completion"], "assistant"),
                "label": bool(fields["label"]),
            }
        )
    return out


def orpo_text_rows(rows: Sequence[dict], tokenizer: Any) -> list[dict]:
    """Conversational pairs rendered with the chat template, as ORPO's text rows. TRL's ORPO appends
    the EOS token unless the answer already ends with it, and a rendered turn ends with the
    template's newline after ``<|im_end|>``: the answer text is cut at its end-of-turn token, so
    the model learns to close its turn once (tests/runtime/test_objectives.py asserts the labels)."""
    out = []
    for row in rows:
        prompt = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        sides = {}
        for side in ("chosen", "rejected"):
            full = tokenizer.apply_chat_template(row["prompt"] + row[side], tokenize=False)
            answer = full[len(prompt) :] if full.startswith(prompt) else row[side][-1]["content"]
            stripped = answer.rstrip()
            sides[side] = stripped if tokenizer.eos_token and stripped.endswith(tokenizer.eos_token) else answer
        out.append({"prompt": prompt, **sides})
    return out


def orpo_trainer(
    base: Path,
    rows: list[dict],
    hp: dict,
    out_dir: Path,
    *,
    sft_output: Path | None,
    beta: float,
    lr: float,
    callbacks: Sequence = (),
    method: str = "lora",
) -> Any:
    """The configured ORPOTrainer: the policy as ``load_models`` gives it, its reference dropped."""
    import warnings

    from datasets import Dataset

    with warnings.catch_warnings():  # TRL 1.x keeps ORPO in trl.experimental and warns on import
        warnings.simplefilter("ignore")
        from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    from ftc.runtime.generate import load_tokenizer

    p = hp_values(hp)
    tokenizer = load_tokenizer(base)
    policy, _reference, peft_config = load_models(base, sft_output, p, method)
    del _reference  # ORPO has no reference model (the memory model counts none); a full SFT's copy is freed
    args = ORPOConfig(
        # precision from the plan; auto stays fp32 on a CPU, as DPO (bf16 autocast was measured for SFT only)
        **trainer_arguments(p, Path(out_dir) / CHECKPOINTS, cpu_autocast=False),
        beta=beta,
        learning_rate=lr,
        max_length=int(p["max_length"]),
        save_steps=int(p["save_steps"]),
    )
    return ORPOTrainer(
        model=policy,
        args=args,
        train_dataset=Dataset.from_list(orpo_text_rows(rows, tokenizer)),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=list(callbacks),
    )


def kto_trainer(
    base: Path,
    rows: list[dict],
    hp: dict,
    out_dir: Path,
    *,
    sft_output: Path | None,
    beta: float,
    lr: float,
    callbacks: Sequence = (),
    method: str = "lora",
) -> Any:
    """The configured KTOTrainer, its reference model as the module docstring says."""
    from datasets import Dataset
    from trl import KTOConfig, KTOTrainer

    from ftc.runtime.generate import load_tokenizer

    p = hp_values(hp)
    policy, reference, peft_config = load_models(base, sft_output, p, method)
    desirable = sum(1 for r in rows if r["label"])
    args = KTOConfig(
        # precision from the plan; auto stays fp32 on a CPU, as DPO (bf16 autocast was measured for SFT only)
        **trainer_arguments(p, Path(out_dir) / CHECKPOINTS, cpu_autocast=False),
        beta=beta,
        learning_rate=lr,
        max_length=int(p["max_length"]),
        save_steps=int(p["save_steps"]),
        # The KTO paper's weighting for unbalanced data: desirable and undesirable examples weigh
        # the same in total (the undesirable side is weighted by desirable / undesirable).
        undesirable_weight=desirable / max(1, len(rows) - desirable) if desirable and desirable < len(rows) else 1.0,
    )
    return KTOTrainer(
        model=policy,
        ref_model=reference,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=load_tokenizer(base),
        peft_config=peft_config,
        callbacks=list(callbacks),
    )


def train_objective(
    objective: str,
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
    """ORPO (``rows``: ``dpo.preference_rows``) or KTO (``rows``: ``kto_rows``); resumes from the
    newest complete checkpoint under ``out_dir`` and writes ``out_dir/adapter``."""
    from transformers.trainer_callback import PrinterCallback

    from ftc.runtime.generate import apply_thread_setting

    apply_thread_setting()
    build = {"orpo": orpo_trainer, "kto": kto_trainer}[objective]
    beta = float(DEFAULTS[f"{objective}_beta"] if beta is None else beta)
    lr = float(DEFAULTS[f"{objective}_lr"] if lr is None else lr)
    ckpt_dir = Path(out_dir) / CHECKPOINTS
    drop_incomplete_checkpoints(ckpt_dir)
    trainer = build(
        base, rows, hp, out_dir, sft_output=sft_output, beta=beta, lr=lr, callbacks=callbacks, method=method
    )
    if objective == "kto":  # ORPO has no reference
        require_reference_adapter(trainer.model, sft_output)
    trainer.remove_callback(PrinterCallback)  # the executor shows its own progress
    start = time.monotonic()
    trainer.train(resume_from_checkpoint=last_checkpoint(ckpt_dir))
    seconds = time.monotonic() - start
    final = Path(out_dir) / ADAPTER
    if trainer.is_world_process_zero():
        save_atomically(trainer.model, trainer.processing_class, final)
    return TrainResult(
        output_dir=final,
        history=list(trainer.state.log_history),
        global_step=int(trainer.state.global_step),
        train_seconds=seconds,
        train_tokens=0,
        method="lora",
    )
