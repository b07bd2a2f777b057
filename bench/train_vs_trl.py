"""ftc's train_sft against a hand-written TRL + PEFT script: same model, data, steps, batch.

    .venv/bin/python bench/train_vs_trl.py [--steps 8] [--batch 8] [--rows 64] [--repeat 1]

Each side runs in its own subprocess (clean peak RSS, no shared warm caches) and reports the
tokens it trained on (real tokens, no padding), the seconds inside ``trainer.train()`` and its
peak RSS. The TRL script is what a user would write: a ``messages`` dataset, SFTConfig defaults
(padded batches), LoRA on all linear layers. ``FTC_NUM_THREADS`` applies to both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "recipes" / "data" / "tickets.jsonl"
SYSTEM = "Triage a support ticket and reply as JSON with category, priority and reply."
LORA = {"lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": "all-linear"}


def _rows(n: int) -> list[dict]:
    lines = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[:n]


def _threads() -> None:
    import torch

    if os.environ.get("FTC_NUM_THREADS", "").isdigit():
        torch.set_num_threads(int(os.environ["FTC_NUM_THREADS"]))


def run_ftc(args, out: Path) -> dict:
    from ftc.runtime.models import resolve_model
    from ftc.runtime.prompting import to_example
    from ftc.runtime.train.sft import train_sft

    model_dir = resolve_model("smollm2-135m-instruct")
    train = [to_example(r, "chat", SYSTEM) for r in _rows(args.rows)]
    hp = {
        **LORA,
        "lr": 2e-4,
        "batch": args.batch,
        "max_steps": args.steps,
        "save_steps": 10_000,
        "max_length": 1024,
        "seed": 1,
    }
    result = train_sft(model_dir, train, None, hp, out)
    return {"tokens": result.train_tokens, "seconds": result.train_seconds, "steps": result.global_step}


def run_trl(args, out: Path) -> dict:
    # --- what a user writes by hand -------------------------------------------------------
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from ftc.runtime.models import resolve_model

    _threads()
    model_dir = resolve_model("smollm2-135m-instruct")
    rows = [{"messages": [{"role": "system", "content": SYSTEM}] + r["messages"]} for r in _rows(args.rows)]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    config = SFTConfig(
        output_dir=str(out),
        per_device_train_batch_size=args.batch,
        max_steps=args.steps,
        learning_rate=2e-4,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=1,
        use_cpu=True,
        bf16=args.bf16,
        max_length=1024,
    )
    peft = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer, peft_config=peft
    )
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    # ---------------------------------------------------------------------------------------
    per_epoch = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    return {
        "tokens": int(round(per_epoch * trainer.state.epoch)),
        "seconds": seconds,
        "steps": trainer.state.global_step,
    }


def child(args) -> None:
    with tempfile.TemporaryDirectory(prefix="ftc-bench-") as tmp:
        stats = (run_ftc if args.child == "ftc" else run_trl)(args, Path(tmp))
    stats["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH " + json.dumps(stats), flush=True)


def spawn(side: str, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        side,
        "--steps",
        str(args.steps),
        "--batch",
        str(args.batch),
        "--rows",
        str(args.rows),
    ] + (["--bf16"] if args.bf16 else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    sys.exit(f"{side} failed:\n{proc.stderr[-3000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast on the TRL side (to measure it)")
    ap.add_argument("--child", choices=["ftc", "trl"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    results: dict[str, list[dict]] = {"ftc": [], "trl": []}
    for _ in range(args.repeat):
        for side in ("ftc", "trl"):  # alternate, so drift in machine load hits both sides
            results[side].append(spawn(side, args))
    print(f"threads={os.environ.get('FTC_NUM_THREADS', 'torch default')} steps={args.steps} batch={args.batch}")
    best = {}
    for side, runs in results.items():
        best[side] = max(runs, key=lambda r: r["tokens"] / r["seconds"])
        r = best[side]
        print(
            f"{side:>4}: {r['tokens']} tokens in {r['seconds']:.1f} s = {r['tokens'] / r['seconds']:.0f} tok/s, "
            f"peak RSS {r['peak_rss_mb']:.0f} MB (best of {len(runs)})"
        )
    speed = lambda r: r["tokens"] / r["seconds"]  # noqa: E731
    print(
        f"ftc / trl: {speed(best['ftc']) / speed(best['trl']):.2f}x tokens/s, "
        f"{best['ftc']['peak_rss_mb'] / best['trl']['peak_rss_mb']:.2f}x peak RSS"
    )


if __name__ == "__main__":
    main()
