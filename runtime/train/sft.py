"""Supervised fine-tuning (LoRA or full) with TRL's SFTTrainer.

Rows go to TRL in the conversational prompt/completion form: ``prompt`` is the messages before
the answer, ``completion`` the assistant turn. That form labels only the completion tokens (and
the closing ``<|im_end|>``); a ``messages`` dataset would train on the system and user turns too
(design section 6; tests/runtime/test_sft.py asserts which tokens carry labels).

CPU speed: padded or padding-free batches, whichever costs less on the rows at hand (see
``padding_free_pays``; padding-free flattens a batch into one sequence whose position ids restart
at each row, and ``segment_attention`` runs attention row by row, so rows do not see each other
and no pair across rows is computed; QLoRA keeps transformers' block-diagonal mask), tokenization once,
dataloader workers 0, fp32 weights with bf16 autocast where the CPU has native bf16 (measured
1.23-1.30x here, see ``cpu_bf16``); on CUDA bf16 autocast when supported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from ftc.runtime import timing
from ftc.runtime.prompting import Example
from ftc.runtime.train.common import (  # noqa: F401 - TrainResult, hp_values, last_checkpoint, cpu_bf16: this module's API too
    ADAPTER_METHODS,
    CHECKPOINTS,
    TrainResult,
    cpu_bf16,
    hp_values,
    last_checkpoint,
    lora_config,
    model_dtype,
    save_atomically,
    trainer_arguments,
)
from ftc.shared import atomic
from ftc.shared.errors import FtcError

# Early stopping needs a validation loss; it comes from the train rows (the last tenth), never
# from the holdout the gate scores, which would leak the gate into training.
VAL_MIN_ROWS = 10


def split_validation(train: list[Example], wanted: bool) -> tuple[list[Example], list[Example] | None]:
    """(train rows, validation rows or None): a validation slice only when ``wanted`` (early
    stopping is on, or the recipe sets eval_every)."""
    if not wanted or len(train) < VAL_MIN_ROWS:
        return train, None
    cut = max(1, len(train) // 10)
    return train[:-cut], train[-cut:]


def to_rows(examples: Sequence[Example]) -> list[dict]:
    """TRL's conversational prompt/completion rows."""
    return [
        {"prompt": list(e.prompt), "completion": [{"role": "assistant", "content": e.completion}]} for e in examples
    ]


def _length(tokenizer, example: Example) -> int:
    msgs = list(example.prompt) + [{"role": "assistant", "content": example.completion}]
    return len(tokenizer.apply_chat_template(msgs, tokenize=True, return_dict=True)["input_ids"])


def _fit(tokenizer, examples: Sequence[Example], max_length: int) -> tuple[list[Example], list[int], int]:
    """Rows that fit, their token lengths, and how many were left out. Overlong rows are left out
    rather than truncated: a truncated answer would teach the model never to close its turn.
    The clean step normally removes them before training."""
    kept, lengths = [], []
    for example in examples:
        n = _length(tokenizer, example)
        if n <= max_length:
            kept.append(example)
            lengths.append(n)
    return kept, lengths, len(examples) - len(kept)


def padding_free_pays(
    lengths: Sequence[int], batch: int, seed: int, layers: int, width: int, params: int, per_row: bool = True
) -> bool:
    """Padded batches or padding-free ones, whichever costs fewer FLOPs on these rows.

    Padding-free removes the padding. ``per_row``: each row attends within itself
    (``segment_attention``), so padding-free never costs more. Without it (transformers' SDPA path)
    attention runs over the whole flattened batch under a block-diagonal mask and its cost grows
    with (sum of lengths)^2 instead of batch * max^2: measured on the quickstart tickets (lengths
    87-102, batch 8), padding-free was then ~10% slower. Per token ~2*params FLOPs for the matmuls,
    per attended token pair ~4*layers*width (QK^T and AV); batches drawn in a seeded random order
    as the trainer does."""
    import random

    order = list(lengths)
    random.Random(seed).shuffle(order)
    padded = packed = 0.0
    pair = 4.0 * layers * width
    for start in range(0, len(order), max(1, batch)):
        rows = order[start : start + batch]
        longest, total = max(rows), sum(rows)
        padded += 2.0 * params * longest * len(rows) + pair * len(rows) * longest**2 / 2
        attended = sum(n * n for n in rows) if per_row else total**2
        packed += 2.0 * params * total + pair * attended / 2
    return packed < padded


def build_trainer(
    model_dir: Path,
    train: list[Example],
    val: list[Example] | None,
    hp: dict,
    out_dir: Path,
    *,
    method: str = "lora",
    callbacks: Sequence = (),
    trainer_class: type | None = None,
):
    """The configured TRL ``SFTTrainer`` (or ``trainer_class``, a subclass with its own loss: logit
    distillation) and the number of overlong train rows left out."""
    if method not in ADAPTER_METHODS + ("full",):
        raise FtcError(f"method '{method}' is not supported by the SFT trainer (lora, dora, qlora or full)")
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTTrainer

    from ftc.runtime.generate import apply_thread_setting, load_tokenizer
    from ftc.runtime.train import segment_attention
    from ftc.runtime.train.completion_loss import completion_loss_class

    apply_thread_setting()
    p = hp_values(hp)
    tokenizer = load_tokenizer(Path(model_dir), chat_template=p.get("chat_template_text"))
    kept, lengths, dropped = _fit(tokenizer, train, int(p["max_length"]))
    if not kept:
        shortest = min(_length(tokenizer, e) for e in train) if train else 0
        raise FtcError(
            f"no training row fits max_length = {p['max_length']} tokens (the shortest has {shortest}); "
            "raise max_length in the recipe's train block or shorten the rows"
        )
    train = kept
    val_rows = _fit(tokenizer, val, int(p["max_length"]))[0] if val else []
    cfg = _model_shape(Path(model_dir))
    padding_free = padding_free_pays(lengths, int(p["batch"]), int(p["seed"]), *cfg, per_row=method != "qlora")
    dtype = model_dtype(p, method)
    if method == "qlora":
        model = load_4bit(Path(model_dir))
    else:
        # Padding-free rows attend within themselves only (segment_attention): no block-diagonal
        # mask over the whole flattened batch.
        attention = {"attn_implementation": segment_attention.register()} if padding_free or p["packing"] else {}
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, **attention)
    if trainer_class is None:
        trainer_class = SFTTrainer if torch.cuda.is_available() else completion_loss_class()
    trainer = trainer_class(
        model=model,
        args=_config(p, Path(out_dir) / CHECKPOINTS, bool(val_rows), padding_free),
        train_dataset=Dataset.from_list(to_rows(train)),
        eval_dataset=Dataset.from_list(to_rows(val_rows)) if val_rows else None,
        processing_class=tokenizer,
        peft_config=lora_config(p, dora=method == "dora") if method in ADAPTER_METHODS else None,
        callbacks=list(callbacks) + _early_stopping(p, bool(val_rows)),
    )
    # disable_tqdm makes the trainer print every log dict; the executor shows its own progress.
    trainer.remove_callback(PrinterCallback)
    trainer.ftc_batching = "packed" if p["packing"] else ("padding-free" if padding_free else "padded")
    return trainer, dropped


def train_sft(
    model_dir: Path,
    train: list[Example],
    val: list[Example] | None,
    hp: dict,
    out_dir: Path,
    *,
    method: str = "lora",
    resume: bool = True,
    callbacks: Sequence = (),
    trainer_class: type | None = None,
) -> TrainResult:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer, dropped = build_trainer(
        model_dir, train, val, hp, out_dir, method=method, callbacks=callbacks, trainer_class=trainer_class
    )
    ckpt_dir = out_dir / CHECKPOINTS
    # A killed run left checkpoints: continue from the newest (optimizer, scheduler, RNG, step).
    last = last_checkpoint(ckpt_dir) if resume else None
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - start
    timing.add("train", seconds)

    final = out_dir / ("adapter" if method in ADAPTER_METHODS else "model")
    history = list(trainer.state.log_history)
    _save_outputs(trainer, final, out_dir, history)
    return TrainResult(
        output_dir=final,
        history=history,
        global_step=int(trainer.state.global_step),
        train_seconds=seconds,
        train_tokens=_tokens_seen(trainer),
        method=method,
        dropped_overlong=dropped,
        batching=trainer.ftc_batching,
    )


def _save_outputs(trainer, final: Path, out_dir: Path, history: list[dict]) -> None:
    """The adapter (or model) and history, written by one process: rank 0 of a launched run
    (``ftc.runtime.train.worker``), the only process otherwise."""
    if not trainer.is_world_process_zero():
        return
    save_atomically(trainer.model, trainer.processing_class, final)
    atomic.write_json(out_dir / "history.json", history)


def _model_shape(model_dir: Path) -> tuple[int, int, int]:
    """(layers, attention width, parameters) from config.json, for the batching cost model."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    layers, hidden = int(config.get("num_hidden_layers", 1)), int(config.get("hidden_size", 1))
    heads = int(config.get("num_attention_heads", 1))
    width = heads * int(config.get("head_dim") or hidden // max(1, heads))
    inter, vocab = int(config.get("intermediate_size", 4 * hidden)), int(config.get("vocab_size", 0))
    # Attention + MLP matmuls per layer, plus the output head (a rough count; only ratios matter).
    params = layers * (4 * hidden * width + 3 * hidden * inter) + vocab * hidden
    return layers, width, params


def _config(p: dict, ckpt_dir: Path, has_val: bool, padding_free: bool = True):
    from trl import SFTConfig

    eval_steps = int(p["eval_steps"] or p["save_steps"])
    save_steps = int(p["save_steps"])
    best = bool(p["early_stopping"]) and has_val
    if best and save_steps % eval_steps:
        # Early stopping restores the best evaluated checkpoint, so one is saved at every eval.
        save_steps = eval_steps
    packing = bool(p["packing"])
    return SFTConfig(
        **trainer_arguments(p, ckpt_dir),
        per_device_eval_batch_size=int(p["batch"]),
        learning_rate=float(p["lr"]),
        data_seed=int(p["seed"]),
        # Rows arrive already fitted to max_length; padding-free needs max_length None unless packing.
        max_length=int(p["max_length"]) if packing else None,
        packing=packing,
        padding_free=padding_free or packing,
        completion_only_loss=True,
        save_steps=save_steps,
        eval_strategy="steps" if has_val else "no",
        eval_steps=eval_steps if has_val else None,
        load_best_model_at_end=best,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
    )


def load_4bit(model_dir: Path):
    """QLoRA: the frozen base in 4-bit NF4 with double quantisation and bf16 compute (Dettmers et
    al. 2023), prepared for k-bit training. bitsandbytes' 4-bit training kernels need CUDA."""
    import torch

    if not torch.cuda.is_available():
        raise FtcError(
            "method qlora needs a CUDA device (bitsandbytes 4-bit training) and this machine has none; "
            "plan for device = cpu, where ftc picks lora"
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise FtcError("method qlora needs bitsandbytes: pip install 'ftc[cuda]' (or bitsandbytes)") from exc
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    model = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=quant, dtype=torch.bfloat16)
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)


def _early_stopping(p: dict, has_val: bool) -> list:
    if not (p["early_stopping"] and has_val):
        return []
    from transformers import EarlyStoppingCallback

    return [EarlyStoppingCallback(early_stopping_patience=int(p["early_stopping_patience"]))]


def _tokens_seen(trainer) -> int:
    # Exact for whole epochs; a max_steps run counts the fraction of the epoch it covered.
    per_epoch = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    return int(round(per_epoch * float(trainer.state.epoch or 0.0)))


def merge_adapter(model_dir: Path, adapter_dir: Path, out_dir: Path, chat_template: str | None = None) -> Path:
    """Merged weights for ``export { merged = true }``: base + LoRA folded into one model folder,
    its tokenizer with the plan's chat template (``chat_template``; None: the model's own)."""
    from ftc.runtime.generate import load_model

    loaded = load_model(Path(model_dir), Path(adapter_dir), dtype="float32", chat_template=chat_template)
    return save_atomically(loaded.model, loaded.tokenizer, Path(out_dir))
