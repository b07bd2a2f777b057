"""ftc's train_sft against a hand-written TRL + PEFT script: same model, data, steps, batch.

    .venv/bin/python bench/train_vs_trl.py [--steps 8] [--batch 8] [--rows 64] [--holdout 16] [--repeat 1] [--json]

Each side runs in its own subprocess (clean peak RSS, no shared warm caches) and reports the
tokens it trained on (real tokens, no padding), the seconds inside ``trainer.train()`` and its
peak RSS. The TRL script is what a user would write: a ``messages`` dataset, SFTConfig defaults
(padded batches), LoRA on all linear layers with dropout 0.05. ftc's side takes ftc's rules where
they differ (no adapter dropout on a CPU, R-HPARAM-DEFAULTS), so the holdout loss shows what that
costs. ``FTC_NUM_THREADS`` applies to both sides.
Each side's adapter is then scored the same way on ``--holdout`` rows it never saw (the rows after
the training rows): the mean loss over the answer tokens. Figures are medians over ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
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
        # ftc's own rule (R-HPARAM-DEFAULTS): no adapter dropout on a CPU; the script keeps 0.05
        "lora_dropout": _rule_dropout(),
        "lr": 2e-4,
        "batch": args.batch,
        "max_steps": args.steps,
        "save_steps": 10_000,
        "max_length": 1024,
        "seed": 1,
    }
    result = train_sft(model_dir, train, None, hp, out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # training's, before scoring
    return {
        "tokens": result.train_tokens,
        "seconds": result.train_seconds,
        "steps": result.global_step,
        "peak_rss_mb": peak,
        "holdout_loss": holdout_loss(Path(result.output_dir), args),
    }


def _rule_dropout() -> float:
    import torch

    from ftc.compiler.plan.method import lora_dropout_rule

    return float(lora_dropout_rule("cuda" if torch.cuda.is_available() else "cpu")["value"])


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
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    trainer.save_model(str(out / "adapter"))
    return {
        "tokens": int(round(per_epoch * trainer.state.epoch)),
        "seconds": seconds,
        "steps": trainer.state.global_step,
        "peak_rss_mb": peak,
        "holdout_loss": holdout_loss(out / "adapter", args),
    }


def holdout_loss(adapter: Path, args) -> float:
    """Mean loss over the answer tokens of the rows after the training rows, for one adapter."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftc.runtime.models import resolve_model

    model_dir = resolve_model("smollm2-135m-instruct")
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), adapter).eval()
    total, count = 0.0, 0
    for row in _rows(args.rows + args.holdout)[args.rows :]:
        messages = [{"role": "system", "content": SYSTEM}] + row["messages"]
        prompt = tok.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
        full = tok.apply_chat_template(messages, tokenize=False)
        n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
        ids = torch.tensor([tok(full, add_special_tokens=False)["input_ids"]])
        labels = ids.clone()
        labels[:, :n_prompt] = -100
        with torch.inference_mode():
            loss = model(input_ids=ids, labels=labels).loss
        answer = int((labels[:, 1:] != -100).sum())
        total, count = total + float(loss) * answer, count + answer
    return total / max(count, 1)


def child(args) -> None:
    with tempfile.TemporaryDirectory(prefix="ftc-bench-") as tmp:
        stats = (run_ftc if args.child == "ftc" else run_trl)(args, Path(tmp))
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
        "--holdout",
        str(args.holdout),
    ] + (["--bf16"] if args.bf16 else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    sys.exit(f"{side} failed:\n{proc.stderr[-3000:]}")


def summary(results: dict[str, list[dict]]) -> dict:
    """Each side's medians over its runs, and the ratios the benchmark file reports."""
    med = {
        side: {
            "tokens_per_s": statistics.median(r["tokens"] / r["seconds"] for r in runs),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
            "holdout_loss": statistics.median(r["holdout_loss"] for r in runs),
            "tokens": runs[0]["tokens"],
            "runs": len(runs),
        }
        for side, runs in results.items()
    }
    ftc, trl = med["ftc"], med["trl"]
    return {
        "ftc": {k: round(v, 4) for k, v in ftc.items()},
        "trl": {k: round(v, 4) for k, v in trl.items()},
        "tokens_per_s_ratio": round(ftc["tokens_per_s"] / trl["tokens_per_s"], 3),
        "peak_rss_ratio": round(ftc["peak_rss_mb"] / trl["peak_rss_mb"], 3),
        "holdout_loss_delta_pct": round(100 * (ftc["holdout_loss"] - trl["holdout_loss"]) / trl["holdout_loss"], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--holdout", type=int, default=16, help="rows after the training rows, scored by loss")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast on the TRL side (to measure it)")
    ap.add_argument("--json", action="store_true", help="print one BENCH line of JSON")
    ap.add_argument("--child", choices=["ftc", "trl"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    results: dict[str, list[dict]] = {"ftc": [], "trl": []}
    for _ in range(args.repeat):
        for side in ("ftc", "trl"):  # alternate, so drift in machine load hits both sides
            results[side].append(spawn(side, args))
    s = dict(summary(results), steps=args.steps, batch=args.batch, rows=args.rows, holdout=args.holdout)
    if args.json:
        print("BENCH " + json.dumps(s), flush=True)
        return None
    print(f"threads={os.environ.get('FTC_NUM_THREADS', 'torch default')} steps={args.steps} batch={args.batch}")
    for side in ("ftc", "trl"):
        r = s[side]
        print(
            f"{side:>4}: {r['tokens']} tokens, {r['tokens_per_s']:.0f} tok/s, peak RSS {r['peak_rss_mb']:.0f} MB, "
            f"holdout loss {r['holdout_loss']:.4f} (median of {r['runs']})"
        )
    print(
        f"ftc / trl: {s['tokens_per_s_ratio']:.2f}x tokens/s, {s['peak_rss_ratio']:.2f}x peak RSS, "
        f"holdout loss {s['holdout_loss_delta_pct']:+.1f}%"
    )
    return None


if __name__ == "__main__":
    main()
