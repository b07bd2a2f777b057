"""Paired statistics for the gate and the stage ladder: is a difference larger than chance?

Two systems scored on the *same* holdout rows give paired per-row scores; the question is whether
the mean of the per-row differences (second minus first) is real or noise. Pure numpy, no torch.

* **Interval**: the paired bootstrap. Rows are resampled with replacement (the same row indices for
  both systems, which keeps the pairing), the mean difference is recomputed for each resample, and
  the 2.5th and 97.5th percentiles of those means are the 95% interval. Seeded, so a verdict is
  reproducible.
* **Test**: for 0/1 scores (json_valid, exact_match, regex...) McNemar's exact test: only the
  discordant rows carry information (b: first right, second wrong; c: the reverse), and under "no
  difference" c ~ Binomial(b + c, 1/2); the two-sided p-value is twice the smaller tail, capped at
  1. Otherwise (rouge_l) the bootstrap's own two-sided p-value: twice the share of resampled means
  on the far side of zero, with the usual +1 correction so it is never exactly 0.

Rows where either score is missing (``None``: e.g. a reference with no such JSON field) are left
out of both sides: they do not count for the metric either.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

RESAMPLES = 4000
CONFIDENCE = 0.95
_CHUNK = 500  # resamples drawn at a time, so a large holdout does not allocate resamples x rows at once


@dataclass(frozen=True)
class Comparison:
    """Second system minus first, over the rows both scored."""

    n: int  # rows compared
    first: float | None  # mean of the first system over those rows
    second: float | None
    diff: float | None  # second - first (None: no row to compare)
    ci_low: float | None  # the 95% interval of diff
    ci_high: float | None
    p_value: float | None  # two-sided, H0: no difference
    test: str | None  # "mcnemar" or "bootstrap"

    def to_json(self) -> dict:
        return asdict(self)


def pairs(first: Sequence[float | None], second: Sequence[float | None]) -> tuple[list[float], list[float]]:
    """The rows both systems scored; refuses sequences of different lengths (not the same rows)."""
    if len(first) != len(second):
        raise ValueError(f"paired scores need the same rows: {len(first)} vs {len(second)}")
    kept = [(float(a), float(b)) for a, b in zip(first, second, strict=True) if a is not None and b is not None]
    return [a for a, _ in kept], [b for _, b in kept]


def is_binary(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs (binomial, p = 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def bootstrap_means(diffs: Sequence[float], *, resamples: int = RESAMPLES, seed: int = 0) -> list[float]:
    """The mean of ``diffs`` over ``resamples`` seeded resamples of its rows (with replacement)."""
    import numpy as np

    d = np.asarray(diffs, dtype=float)
    rng = np.random.default_rng(seed)
    means: list[float] = []
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        idx = rng.integers(0, len(d), size=(size, len(d)))
        means.extend(d[idx].mean(axis=1).tolist())
    return means


def percentile_interval(means: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    import numpy as np

    tail = (1 - confidence) / 2
    low, high = np.quantile(np.asarray(means, dtype=float), [tail, 1 - tail])
    return float(low), float(high)


def bootstrap_p_value(means: Sequence[float]) -> float:
    """Two-sided: twice the share of resampled means at or beyond zero on the far side, +1 corrected."""
    below = sum(1 for m in means if m <= 0)
    above = sum(1 for m in means if m >= 0)
    return min(1.0, 2 * (min(below, above) + 1) / (len(means) + 1))


def compare(
    first: Sequence[float | None],
    second: Sequence[float | None],
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
) -> Comparison:
    """Paired comparison of per-row scores (see the module docstring)."""
    a, b = pairs(first, second)
    n = len(a)
    if n == 0:
        return Comparison(0, None, None, None, None, None, None, None)
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    mean_a, mean_b = sum(a) / n, sum(b) / n
    means = bootstrap_means(diffs, resamples=resamples, seed=seed)
    low, high = percentile_interval(means, confidence)
    if is_binary(a) and is_binary(b):
        worse = sum(1 for x, y in zip(a, b, strict=True) if x > y)
        better = sum(1 for x, y in zip(a, b, strict=True) if y > x)
        p, test = mcnemar_exact(worse, better), "mcnemar"
    else:
        p, test = bootstrap_p_value(means), "bootstrap"
    return Comparison(n, mean_a, mean_b, mean_b - mean_a, low, high, p, test)


def half_width(n: int, confidence: float = CONFIDENCE, variance: float = 0.5) -> float:
    """The normal-approximation half-width of the interval of a paired mean difference on ``n``
    rows whose per-row differences have ``variance`` (0.5: the worst case of two independent 0/1
    scores at p = 1/2, the planner's power rule); shown beside a verdict that was not significant."""
    z = _z(confidence)
    return z * math.sqrt(variance / n) if n > 0 else math.inf


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)
