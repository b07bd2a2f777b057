"""Can the holdout ever show the margin? A power estimate before anything is trained (FTR318).

The gate (``ftc.runtime.gate``) promotes a tune only when the 95% interval of the paired
difference (tuned - baseline, per holdout row) clears the ``beat baseline by P%`` margin. On n rows
that interval is about ``z * sd / sqrt(n)`` wide on each side, where sd is the standard deviation
of the per-row differences. For 0/1 scores (json_valid, exact_match...) the planner takes the
worst case of two independent scores at p = 1/2: ``var = 2 p (1 - p) = 0.5`` (positively
correlated systems, the usual case, are narrower, so the estimate is conservative). The closed
form:

    half_width(n) = z * sqrt(0.5 / n)                   z = 1.96 at 95%
    rows_needed(P) = ceil(z**2 * 0.5 / (P / 100)**2)   (the interval no wider than the margin)

With fewer rows the margin is smaller than the noise of the holdout: a tune that truly gains P
points cannot be told from chance, and `ftc plan` warns, naming the rows needed. 10 points need
193 rows; 5 points 769. Only rate expects count (perplexity and forgetting are corpus-level,
judged on the point value), and only when a tune is planned and a margin is set.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from ftc.compiler.lang.recipe import Recipe
from ftc.compiler.plan.state import Decisions, Facts
from ftc.shared.contract import RATE_METRICS

CONFIDENCE = 0.95
WORST_VARIANCE = 0.5  # 2 p (1 - p) at p = 1/2: two independent 0/1 scores


def z_value(confidence: float = CONFIDENCE) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def half_width(n: int, confidence: float = CONFIDENCE) -> float:
    """The worst-case half-width of the 95% interval of a paired 0/1 difference on ``n`` rows."""
    return z_value(confidence) * math.sqrt(WORST_VARIANCE / n) if n > 0 else math.inf


def rows_needed(margin_pct: float, confidence: float = CONFIDENCE) -> int:
    """The holdout rows whose worst-case interval is no wider than a margin of ``margin_pct`` points."""
    m = margin_pct / 100
    return math.ceil(z_value(confidence) ** 2 * WORST_VARIANCE / (m * m))


def scored_sources(r: Recipe) -> tuple[str, ...]:
    """The sources the holdout is drawn from: the behaviour rows and desirable KTO answers, or with
    nothing but preference pairs the pairs (their prompts are scored against the chosen answers)."""
    return tuple(s.name for s in (r.scored_sources or r.preference_sources))


def holdout_rows(f: Facts) -> int:
    """About how many rows the gate will compare: the eval source, or the holdout share of the
    training sources (before deduplication, so an upper estimate)."""
    r = f.recipe
    if r.eval.eval_data:
        return f.rows([r.eval.eval_data])
    return math.ceil(f.rows(scored_sources(r)) * r.eval.holdout_fraction)


def check_scored_rows(f: Facts, d: Decisions) -> None:
    """FTR323: an eval that would score no rows cannot compare anything, so nothing could be promoted
    on evidence: refused before anything runs."""
    r = f.recipe
    if not (r.train_sources or r.preference_sources or r.scored_sources) or holdout_rows(f) > 0:
        return
    if r.eval.eval_data:
        why = f"the eval data '{r.eval.eval_data}' has no rows"
        hint = "point `data` at a file with rows, or leave it out to hold out a share of the training data"
    else:
        why = f"holdout {r.eval.holdout_fraction:.0%} of {f.rows(scored_sources(r))} rows holds out none"
        hint = 'hold out a share (`holdout = 20%`) or add eval data (`eval { data = "..." }`)'
    d.error("FTR323", f"the eval would score no rows: {why}", r.eval.span, hint)


def check_power(f: Facts, d: Decisions) -> None:
    """Warn (FTR318) when the holdout is too small for the gate to ever show the margin."""
    r = f.recipe
    pct = r.eval.beat_baseline_pct
    if not d.trains or not pct or not any(e.metric in RATE_METRICS for e in r.eval.expects):
        return
    n = holdout_rows(f)
    need = rows_needed(pct)
    if n >= need:
        return
    d.warn(
        "FTR318",
        f"the holdout of about {n} rows is too small to show a {pct:g}% margin: its 95% interval is about "
        f"±{half_width(n):.3f} wide (worst case for 0/1 scores), so a gain of {pct:g} points cannot be told from "
        f"noise; about {need} holdout rows are needed",
        r.eval.span,
        _hint(f, need),
    )


def _hint(f: Facts, need: int) -> str:
    r = f.recipe
    total = f.rows(scored_sources(r))
    if not r.eval.eval_data and total and need / total <= 0.5:
        return (
            f"hold out more rows (`holdout = {math.ceil(100 * need / total)}%`), or add eval data; the gate "
            "reports a smaller gain as not significant"
        )
    return 'add eval data (`eval { data = "..." }`) or more rows; the gate reports a gain inside the noise as not significant'
