"""Per-request latency as a user of the served model sees it: one request at a time (batch 1),
greedy, up to the plan's ``max_new_tokens``, on the run's device; the wall time from the prompt's
text to the answer's text (tokenising and decoding included, as a server does them).

A bounded number of requests (the first holdout prompts), after one untimed warm-up request:
the first call pays for lazy initialisation (kernels, allocator) that no served request does.
"""

from __future__ import annotations

import math
import time
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between order statistics (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def measure(loaded: Any, prompts: list[list[dict]], *, max_new_tokens: int, requests: int) -> dict:  # noqa: ANN401
    """``latency`` for scores.json: p50/p95 in ms over ``requests`` prompts, the tokens generated,
    the device and the thread count (a shared CPU is slower than the plan's estimate assumes)."""
    import torch

    from ftc.runtime.generate import generate

    chosen = prompts[: max(1, requests)]
    generate(loaded, chosen[:1], max_new_tokens=max_new_tokens, batch_size=1)  # warm-up, not timed
    times, tokens = [], []
    for prompt in chosen:
        start = time.perf_counter()
        answer = generate(loaded, [prompt], max_new_tokens=max_new_tokens, batch_size=1)[0]
        times.append((time.perf_counter() - start) * 1000)
        tokens.append(len(loaded.tokenizer(answer, add_special_tokens=False)["input_ids"]))
    device = str(loaded.model.device)
    return {
        "p50_ms": round(percentile(times, 50), 1),
        "p95_ms": round(percentile(times, 95), 1),
        "requests": len(times),
        "batch": 1,
        "max_new_tokens": max_new_tokens,
        "mean_new_tokens": round(sum(tokens) / len(tokens), 1),
        "device": device,
        "threads": torch.get_num_threads() if device == "cpu" else None,
    }
