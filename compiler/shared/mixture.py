"""Per-source ``max_rows`` (a seeded subsample) and ``weight`` (mixture proportions): one
definition for the planner's row counts and the runtime's load step, so the plan's data funnel
shows exactly the rows a run will train on.

A weighted mixture never repeats a row: it is the largest mix in the given proportions that the
sources hold (the source that runs out first is taken whole, the others are subsampled), as a
first-exhausted interleave does in other tools. Subsamples are seeded by the plan's seed and the
source's name, so the same plan reads the same rows on every machine, in file order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping


def sample_indices(n: int, k: int, seed: int, name: str) -> list[int]:
    """``k`` of ``range(n)``, chosen by (seed, name), in ascending order; all of them when k >= n."""
    if k >= n:
        return list(range(n))
    rng = random.Random(f"ftc:{seed}:{name}")  # a str seed hashes with sha512: stable across runs
    return sorted(rng.sample(range(n), k))


def capped(rows: int, max_rows: int | None) -> int:
    return rows if max_rows is None else min(rows, max_rows)


def mixture(rows: Mapping[str, int], weights: Mapping[str, float]) -> dict[str, int]:
    """Rows taken from each weighted source: the largest total T with ``share_i * T <= rows_i``
    for every source. Sources without a weight keep all their rows."""
    total_weight = sum(weights.values())
    if not weights or total_weight <= 0:
        return dict(rows)
    shares = {name: w / total_weight for name, w in weights.items()}
    total = min(rows[name] / share for name, share in shares.items())
    out = dict(rows)
    for name, share in shares.items():
        # the epsilon keeps the binding source whole despite float error (3 / 0.75 * 0.75 = 2.9999...)
        out[name] = min(rows[name], math.floor(share * total + 1e-9))
    return out
