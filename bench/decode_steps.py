"""What the plan's generation cost model assumes on a CPU, measured: prefill tokens/s, and the
time of one decoding step at batch 1, 8 and 16 (the plan's ``costs.CPU_DECODE_BANDWIDTH`` and
``costs.CPU_ROW_STEP``).

    .venv/bin/python bench/decode_steps.py [--context 300] [--steps 16] [--json]

The embedded model in fp32, random prompt tokens of ``--context`` tokens, ftc's own KV cache;
torch threads as ``FTC_NUM_THREADS`` says (torch's default without it). Each figure is the
median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def measure(args) -> dict:
    import torch

    from ftc.runtime import kv_cache
    from ftc.runtime.generate import load_model
    from ftc.runtime.models import EMBEDDED_BASE, resolve_model

    model = load_model(resolve_model(EMBEDDED_BASE)).model
    params = sum(p.numel() for p in model.parameters())
    gen = torch.Generator().manual_seed(0)
    out: dict = {"threads": torch.get_num_threads(), "params": params, "context": args.context, "batches": {}}
    with torch.inference_mode():
        for batch in (1, 8, 16):
            prefill, step = [], []
            for _ in range(args.repeat):
                ids = torch.randint(100, 40000, (batch, args.context), generator=gen)
                cache = kv_cache.new_cache(model, batch, args.context + args.steps + 1)
                start = time.perf_counter()
                logits = model(input_ids=ids, attention_mask=torch.ones_like(ids), cache=cache, logits_to_keep=1).logits
                prefill.append(time.perf_counter() - start)
                token, mask = logits[:, -1].argmax(-1), torch.ones_like(ids)
                last = torch.full((batch, 1), args.context - 1)
                start = time.perf_counter()
                for _ in range(args.steps):
                    mask, last = torch.cat([mask, mask.new_ones((batch, 1))], 1), last + 1
                    logits = model(
                        input_ids=token[:, None], attention_mask=mask, position_ids=last, cache=cache, logits_to_keep=1
                    ).logits
                    token = logits[:, -1].argmax(-1)
                step.append((time.perf_counter() - start) / args.steps)
            pre, dec = statistics.median(prefill), statistics.median(step)
            out["batches"][batch] = {
                "prefill_tokens_per_s": round(batch * args.context / pre, 1),
                "prefill_gflops": round(2 * params * batch * args.context / pre / 1e9, 1),
                "step_ms": round(dec * 1000, 1),
            }
    one = out["batches"][1]["step_ms"]
    out["decode_bandwidth_gb_s"] = round(params * 4 / (one / 1000) / 1e9, 2)
    out["row_step"] = {b: round((v["step_ms"] / one - 1) / (b - 1), 3) for b, v in out["batches"].items() if b > 1}
    out["load_average"] = os.getloadavg()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--context", type=int, default=300)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if os.environ.get("FTC_NUM_THREADS", "").isdigit():
        import torch

        torch.set_num_threads(int(os.environ["FTC_NUM_THREADS"]))
    r = measure(args)
    print(("BENCH " + json.dumps(r)) if args.json else json.dumps(r, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
