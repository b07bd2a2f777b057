"""This machine's matrix-multiply ceiling: GFLOP/s of one square fp32 and bf16 ``torch.mm`` at the
benchmark's torch threads (``FTC_NUM_THREADS``), the median of ``--repeat`` timings.

No LoRA step can run its matmuls faster than this, so it bounds every training figure in the
benchmark file: ``run_all.py`` divides the quickstart's training FLOPs (the plan's
``estimates.flops.train``) by it to give the shortest training time this machine allows.

    .venv/bin/python bench/matmul_peak.py [--size 2048] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time


def gflops(size: int, dtype_name: str, repeat: int) -> float:
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    for _ in range(2):  # first calls pick kernels and touch the pages
        torch.mm(a, b)
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        torch.mm(a, b)
        timings.append(time.perf_counter() - start)
    return round(2 * size**3 / statistics.median(timings) / 1e9, 1)


def bf16_native() -> bool:
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print one BENCH line")
    args = ap.parse_args()
    import torch

    threads = os.environ.get("FTC_NUM_THREADS", "").strip()
    if threads.isdigit() and int(threads) > 0:
        torch.set_num_threads(int(threads))
    native = bf16_native()
    out = {
        "size": args.size,
        "threads": torch.get_num_threads(),
        "fp32_gflops": gflops(args.size, "float32", args.repeat),
        "bf16_native": native,
        # Without native bf16 (avx512_bf16 / AMX) oneDNN emulates it, minutes for one product at
        # this size, and ftc's precision auto stays in fp32 there (train.common.cpu_bf16): not timed.
        "bf16_gflops": gflops(args.size, "bfloat16", args.repeat) if native else None,
        "repeat": args.repeat,
    }
    print(("BENCH " if args.json else "") + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
