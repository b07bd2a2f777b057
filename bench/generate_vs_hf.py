"""ftc's greedy generation (``ftc.runtime.generate``) against transformers' ``generate``: the same
model, prompts, batch and ``max_new_tokens``; the outputs must be identical.

    .venv/bin/python bench/generate_vs_hf.py [--rows 16] [--batch 8] [--max-new-tokens 128] [--repeat 3]
        [--holdout runs/.../split/holdout.jsonl] [--adapter runs/.../train/adapter] [--json]

The prompts are the quickstart's baseline prompts (its system prompt, ``--shots`` examples: the
quickstart's chosen prompt has 3, with which the model answers in JSON and stops) for the rows of
``--holdout`` (a split's holdout.jsonl) or, without it, the last ``--rows`` rows of the quickstart's
data. Both sides run in this one process on one loaded model, alternating, so a change in machine
load hits both; each figure is the median of ``--repeat`` runs. ``generate`` is called the way a
user would: left-padded batches, ``do_sample=False``, the chat's stop tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "recipes" / "data" / "tickets.jsonl"
SYSTEM = "Triage a support ticket and reply as JSON with category, priority and reply."


def prompts_of(args) -> list[list[dict]]:
    from ftc.runtime.prompting import baseline_prompt, to_example

    if args.holdout:
        rows = [json.loads(line) for line in Path(args.holdout).read_text(encoding="utf-8").splitlines() if line]
        rows = [r.get("fields", r) for r in rows][: args.rows]
    else:
        rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line][-args.rows :]
    data = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
    shots = [to_example(r, "chat", SYSTEM) for r in data[: args.shots]]  # never among the last rows
    return [baseline_prompt(to_example(r, "chat", SYSTEM), shots) for r in rows]


def hf_generate(loaded, prompts: list[list[dict]], batch: int, max_new_tokens: int) -> list[str]:
    """What a user writes with transformers: longest-first batches, left padding, ``generate``."""
    import torch

    from ftc.runtime.generate import _left_pad, _stop_ids, render

    tok, model = loaded.tokenizer, loaded.model
    encoded = [tok(render(tok, p), add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    out = [""] * len(encoded)
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        ids, mask = _left_pad([encoded[i] for i in idx], tok.pad_token_id, model.device)
        with torch.inference_mode():
            gen = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                eos_token_id=_stop_ids(tok),
                pad_token_id=tok.pad_token_id,
            )
        for row, i in enumerate(idx):
            out[i] = tok.decode(gen[row, ids.shape[1] :], skip_special_tokens=True).strip()
    return out


def measure(args) -> dict:
    from ftc.runtime.generate import generate, load_model
    from ftc.runtime.models import resolve_model

    prompts = prompts_of(args)
    adapter = Path(args.adapter) if args.adapter else None
    loaded = load_model(resolve_model("smollm2-135m-instruct"), adapter, dtype=args.dtype)
    times: dict[str, list[float]] = {"ftc": [], "hf": []}
    cpu: dict[str, list[float]] = {"ftc": [], "hf": []}  # steadier than wall on a shared machine
    outputs: dict[str, list[str]] = {}
    for _ in range(args.repeat):
        for side in ("hf", "ftc"):
            start, cpu_start = time.perf_counter(), time.process_time()
            if side == "hf":
                outputs[side] = hf_generate(loaded, prompts, args.batch, args.max_new_tokens)
            else:
                outputs[side] = generate(
                    loaded, prompts, max_new_tokens=args.max_new_tokens, batch_size=args.batch, widen=False
                )
            times[side].append(time.perf_counter() - start)
            cpu[side].append(time.process_time() - cpu_start)
    same = outputs["ftc"] == outputs["hf"]
    tokens = sum(len(loaded.tokenizer(o, add_special_tokens=False)["input_ids"]) for o in outputs["ftc"])
    med = {side: statistics.median(t) for side, t in times.items()}
    return {
        "rows": len(prompts),
        "batch": args.batch,
        "max_new_tokens": args.max_new_tokens,
        "repeat": args.repeat,
        "shots": args.shots,
        "dtype": args.dtype,
        "adapter": bool(args.adapter),
        "tokens": tokens,
        "ftc_s": round(med["ftc"], 3),
        "hf_s": round(med["hf"], 3),
        "ftc_tokens_per_s": round(tokens / med["ftc"], 1),
        "hf_tokens_per_s": round(tokens / med["hf"], 1),
        "ratio": round(med["hf"] / med["ftc"], 3),
        "cpu_ratio": round(statistics.median(cpu["hf"]) / statistics.median(cpu["ftc"]), 3),
        "identical": same,
        "differing_rows": [i for i, (a, b) in enumerate(zip(outputs["ftc"], outputs["hf"])) if a != b],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=64, help="the quickstart's (its answers' p99 + margin)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--holdout", help="a split's holdout.jsonl (default: the last --rows rows of the quickstart data)")
    ap.add_argument("--shots", type=int, default=3, help="few-shot examples (the first data rows) in each prompt")
    ap.add_argument("--adapter", help="a LoRA adapter folder (a train step's), merged: the eval step's model")
    ap.add_argument("--dtype", default="auto", help="the model's dtype on both sides (auto: fp32 on CPU)")
    ap.add_argument("--json", action="store_true", help="print one BENCH line of JSON")
    args = ap.parse_args()
    r = measure(args)
    if args.json:
        print("BENCH " + json.dumps(r), flush=True)
    else:
        print(
            f"threads={os.environ.get('FTC_NUM_THREADS', 'torch default')} rows={r['rows']} batch={r['batch']}: "
            f"ftc {r['ftc_tokens_per_s']} tok/s, generate {r['hf_tokens_per_s']} tok/s = {r['ratio']:.2f}x "
            f"(median of {r['repeat']}); outputs identical: {r['identical']}"
        )
    return 0 if r["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
