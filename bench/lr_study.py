"""Which LoRA learning rate and how many optimiser steps does the embedded model need, per task shape?

    .venv/bin/python bench/lr_study.py [--shapes labels2 labels8] [--lrs 2e-4 1e-3 3e-3] [--epochs 3] [--batch 8]

A hand-written TRL + PEFT run per (shape, lr): the generated tasks of bench/task_shapes.py, a
seeded 80/20 split, LoRA r16 / alpha 32 on all linear layers, loss on the answer only
(conversational prompt/completion rows), then greedy exact match on the holdout. Independent of
ftc's own runtime on purpose: it measures the model and the data, which the planner's rules must
fit. Prints one JSON line per run and a table at the end. Slow: minutes per run on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from task_shapes import rows as shape_rows  # noqa: E402


def split(rows: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    cut = int(len(rows) * 0.8)
    return [rows[i] for i in order[:cut]], [rows[i] for i in order[cut:]]


def as_prompt_completion(row: dict) -> dict:
    return {"prompt": row["messages"][:-1], "completion": row["messages"][-1:]}


def train_and_score(train: list[dict], holdout: list[dict], lr: float, epochs: float, batch: int, out: Path) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from ftc.runtime.models import resolve_model

    torch.set_num_threads(int(os.environ.get("FTC_NUM_THREADS", "1")))
    model_dir = resolve_model("smollm2-135m-instruct")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    config = SFTConfig(
        output_dir=str(out),
        per_device_train_batch_size=batch,
        num_train_epochs=epochs,
        learning_rate=lr,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        logging_steps=5,
        save_strategy="no",
        report_to="none",
        seed=1,
        use_cpu=True,
        max_length=256,
    )
    peft = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(
        model=model,
        args=config,
        processing_class=tokenizer,
        peft_config=peft,
        train_dataset=Dataset.from_list([as_prompt_completion(r) for r in train]),
    )
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {
        "exact_match": exact_match(trainer.model, tokenizer, holdout),
        "train_s": round(seconds, 1),
        "steps": trainer.state.global_step,
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
    }


def exact_match(model, tokenizer, holdout: list[dict]) -> float:
    import torch

    tokenizer.padding_side = "left"
    model.eval()
    hits = 0
    for start in range(0, len(holdout), 16):
        chunk = holdout[start : start + 16]
        prompts = [
            tokenizer.apply_chat_template(r["messages"][:-1], tokenize=False, add_generation_prompt=True) for r in chunk
        ]
        enc = tokenizer(prompts, return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=48, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        for row, ids in zip(chunk, out[:, enc["input_ids"].shape[1] :]):
            hits += tokenizer.decode(ids, skip_special_tokens=True).strip() == row["messages"][-1]["content"].strip()
    return round(hits / len(holdout), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", nargs="*", default=["labels2", "labels8", "extract_json", "short_answer"])
    ap.add_argument("--lrs", nargs="*", type=float, default=[2e-4, 1e-3, 3e-3])
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rows", type=int, default=200)
    args = ap.parse_args()
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    print(
        f"# load average at start: {os.getloadavg()[0]:.2f}; threads: {os.environ.get('FTC_NUM_THREADS', '1')}",
        flush=True,
    )
    table = []
    for shape in args.shapes:
        train, holdout = split(shape_rows(shape, args.rows, seed=1), seed=7)
        for lr in args.lrs:
            with tempfile.TemporaryDirectory(prefix="ftc-lr-") as tmp:
                result = {
                    "shape": shape,
                    "lr": lr,
                    "epochs": args.epochs,
                    "batch": args.batch,
                    "train_rows": len(train),
                    **train_and_score(train, holdout, lr, args.epochs, args.batch, Path(tmp)),
                }
            print(json.dumps(result), flush=True)
            table.append(result)
    print(f"# load average at end: {os.getloadavg()[0]:.2f}")
    for r in table:
        print(
            f"{r['shape']:>13}  lr {r['lr']:<7g} steps {r['steps']:>4}  exact_match {r['exact_match']:.3f}  "
            f"loss {r['first_loss']:.3f} -> {r['last_loss']:.3f}  {r['train_s']:.0f} s"
        )


if __name__ == "__main__":
    main()
