"""The gate: promote a tune only if it meets every expect and beats the prompted baseline by more
than chance.

``beat baseline by P%`` is defined per expect that the *baseline missed* (the tune exists to fix
those; when the baseline met every expect no tune ran and the prompt is the deliverable):

* rates (metrics scored per row in [0, 1]): the required margin is +P **points** (P = 10 ->
  +0.10), capped at the scale's end (1.0 or 0.0);
* perplexity (unbounded): P **percent relative** (10 -> 10 % lower, or higher for ``>=``).

The direction comes from the expect's comparison: ``>=``/``>`` higher is better, ``<=``/``<``
lower is better, ``==`` has no direction and gets no margin.

**Noise.** Baseline and tune are scored on the same holdout rows, so their per-row scores are
paired (``ftc.runtime.stats``): for each rate expect the gate records the difference (tuned -
baseline), its 95% interval (paired bootstrap, seeded with the plan's seed) and a paired test
(McNemar's exact test for 0/1 scores, the bootstrap's p-value otherwise). The exact rule for an
expect the baseline missed, with gain = the difference in the better direction and m the
required margin:

* the point gain must reach m (the tuned value reaches the margin target), **and**
* the interval's low end of the gain must reach m: the margin holds at 95% confidence;
* when m is zero (no ``beat baseline`` margin) or capped at the scale's end (a perfect score is
  the target, which no interval can exceed), the low end must be above zero instead: the gain is
  real.

A point gain that reaches m with an interval that does not is "not significant on N rows", not
"not better". Perplexity and forgetting are corpus-level values with no per-row scores: they keep
the point rule. Expects the baseline already met need no margin, but must still hold on the tuned
model. A missing value (a metric that could not be computed) fails its check. Latency (``latency_p50``,
``latency_p95``, measured per request by the baseline and eval steps) is a bar only: no margin.

``forgetting`` (the relative rise of general-text perplexity after tuning) is a bar on the tuned
model only: the baseline, untuned, has forgotten nothing (0). Without an ``expect forgetting``, a
rise over ``FORGETTING_WARN`` is a note in the verdict, not a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ftc.runtime import stats
from ftc.shared.contract import LATENCY_METRICS, expect_id

UNBOUNDED = {"perplexity", "judge"}  # margins relative, not in points (judge: a mean score on 1..scale)
BAR_ONLY = {"forgetting"}  # measured on the tune against the base: no baseline to beat
# A bar on the served model, never a margin: the tune has the base's architecture, so "beat the
# baseline by 10%" cannot be asked of its speed. The baseline's measured value is still shown.
NO_MARGIN = LATENCY_METRICS
FORGETTING_WARN = 0.10  # the rules' threshold: a larger rise without an expect is a note in the verdict
_EPS = 1e-9

PROMOTED = "promoted"
NOT_PROMOTED = "not promoted"
PROMPT = "prompt is the deliverable"

PerRow = Sequence[float | None]


@dataclass(frozen=True)
class Check:
    expect: str  # the expect's identity (what it measures and the bar): unique in a plan
    label: str  # what it measures: the key of its score
    baseline: float | None
    tuned: float | None
    bar: str  # e.g. ">= 0.8"
    bar_ok: bool
    margin_required: float | None  # the value the tuned model had to reach for the margin, or None
    margin_ok: bool  # the margin holds at 95% confidence (or on the point, for corpus-level values)
    point_ok: bool = True  # the point estimate reaches the margin (margin_ok may still fail: noise)
    n: int | None = None  # paired rows compared (None: no per-row scores)
    diff: float | None = None  # tuned - baseline over those rows
    ci_low: float | None = None  # the 95% interval of diff
    ci_high: float | None = None
    p_value: float | None = None  # two-sided, no difference
    test: str | None = None  # "mcnemar" | "bootstrap" | None


def holds(value: float | None, op: str, threshold: float) -> bool:
    if value is None:
        return False
    return {
        ">=": value >= threshold,
        ">": value > threshold,
        "<=": value <= threshold,
        "<": value < threshold,
        "==": abs(value - threshold) < _EPS,
    }[op]


def margin_target(metric: str, op: str, baseline: float, pct: float) -> float | None:
    """The value a tuned model must reach to beat ``baseline`` by ``pct`` (None: no direction)."""
    if op == "==":
        return None
    higher = op in (">=", ">")
    if metric in UNBOUNDED:
        return baseline * (1 + pct / 100) if higher else baseline * (1 - pct / 100)
    return min(1.0, baseline + pct / 100) if higher else max(0.0, baseline - pct / 100)


def _reaches(value: float, op: str, target: float) -> bool:
    return value >= target - _EPS if op in (">=", ">") else value <= target + _EPS


def baseline_value(expect: dict, baseline: dict[str, float | None]) -> float | None:
    """The baseline's value for an expect: forgetting is 0 for a model that was not tuned."""
    return 0.0 if expect["metric"] in BAR_ONLY else baseline.get(expect["label"])


def baseline_meets_bar(expects: list[dict], baseline: dict[str, float | None]) -> bool:
    return all(holds(baseline_value(e, baseline), e["op"], e["threshold"]) for e in expects)


def rule_text(pct: float) -> str:
    return (
        f"beat baseline by {pct:g}%: for each expect the baseline missed, +{pct:g} points on rates (capped at a "
        f"perfect score), {pct:g}% relative on perplexity; on rates the 95% interval of the paired difference "
        f"(bootstrap over the holdout rows) must clear the margin, or clear zero when the margin is zero or "
        f"capped; a gain inside the noise is not significant"
    )


def decide(
    expects: list[dict],
    gate: dict,
    baseline: dict[str, float | None],
    tuned: dict[str, float | None] | None,
    *,
    rows: dict[str, tuple[PerRow, PerRow]] | None = None,
    seed: int = 0,
    notes: Sequence[str] = (),
) -> dict:
    """``tuned`` is None when no tune ran (the baseline met the bar). ``rows``: per label, the paired
    per-row scores (baseline, tuned) of the rate expects, for the interval and the test; ``notes``:
    lines added to the reasons (stages that did not help, forgetting). Returns the gate.json dict:
    ``{passed, verdict, reasons, checks, beat_baseline_pct, rule}``."""
    pct = float(gate.get("beat_baseline_pct") or 0.0)
    if tuned is None:
        verdict = _prompt_verdict(expects, baseline, pct)
        return verdict | {"reasons": verdict["reasons"] + list(notes)}
    rows = rows or {}
    checks = [_check(e, baseline, tuned.get(e["label"]), pct, rows.get(e["label"]), seed) for e in expects]
    require_all = gate.get("require_all_expects", True)
    reasons = [r for c in checks for r in _reasons(c, pct, require_all)]
    passed = all(c.margin_ok for c in checks) and (all(c.bar_ok for c in checks) or not require_all)
    if not expects:
        passed, reasons = False, ["the plan has no expects: nothing proves the tune is worth it"]
    if passed:
        reasons = [f"every expect holds on the tuned model and it beats the baseline by {pct:g}% beyond the noise"]
    return {
        "passed": passed,
        "verdict": PROMOTED if passed else NOT_PROMOTED,
        "reasons": reasons + list(notes),
        "checks": [asdict(c) for c in checks],
        "beat_baseline_pct": pct,
        "rule": rule_text(pct),
    }


def _check(
    expect: dict, baseline: dict, tuned: float | None, pct: float, per_row: tuple[PerRow, PerRow] | None, seed: int
) -> Check:
    op, thr, label = expect["op"], float(expect["threshold"]), expect["label"]
    base = baseline_value(expect, baseline)
    cmp = stats.compare(*per_row, seed=seed) if per_row is not None else None
    target, point_ok, margin_ok = None, True, True
    # The margin applies to what the baseline missed (and never to a bar-only metric).
    if expect["metric"] not in BAR_ONLY | NO_MARGIN and not holds(base, op, thr):
        target = margin_target(expect["metric"], op, base, pct) if base is not None else None
        if target is None:
            point_ok = margin_ok = tuned is not None
        else:
            point_ok = tuned is not None and _reaches(tuned, op, target)
            margin_ok = point_ok and (cmp is None or _interval_clears(cmp, op, base, target))  # type: ignore[arg-type]
    extra = (
        {}
        if cmp is None
        else {
            "n": cmp.n,
            "diff": cmp.diff,
            "ci_low": cmp.ci_low,
            "ci_high": cmp.ci_high,
            "p_value": cmp.p_value,
            "test": cmp.test,
        }
    )
    return Check(
        expect_id(expect),
        label,
        base,
        tuned,
        f"{op} {thr:g}",
        holds(tuned, op, thr),
        target,
        margin_ok,
        point_ok,
        **extra,
    )


def _interval_clears(cmp: stats.Comparison, op: str, base: float, target: float) -> bool:
    """The low end of the gain's 95% interval reaches the margin (above zero when the margin is zero
    or capped at the scale's end)."""
    if cmp.ci_low is None or cmp.ci_high is None:
        return False
    higher = op in (">=", ">")
    low_gain = cmp.ci_low if higher else -cmp.ci_high
    margin = abs(target - base)
    capped = target in (0.0, 1.0) and margin > 0
    if margin <= _EPS or capped:
        return low_gain > _EPS
    return low_gain >= margin - _EPS


def _reasons(c: Check, pct: float, require_all: bool) -> list[str]:
    out = []
    if not c.bar_ok:
        out.append(
            f"{c.label}: tuned {_fmt(c.tuned)} does not meet {c.bar}" + ("" if require_all else " (not required)")
        )
    if not c.point_ok:
        out.append(
            f"{c.label}: tuned {_fmt(c.tuned)} does not beat baseline {_fmt(c.baseline)} by {pct:g}% "
            f"(needed {_fmt(c.margin_required)}){_interval(c)}"
        )
    elif not c.margin_ok:
        out.append(
            f"{c.label}: not significant on {c.n} rows: tuned {_fmt(c.tuned)} vs baseline {_fmt(c.baseline)}"
            f"{_interval(c)} does not clear the {pct:g}% margin at 95% confidence"
        )
    return out


def _interval(c: Check) -> str:
    if c.diff is None or c.ci_low is None:
        return ""
    return (
        f", difference {c.diff:+.3f} (95% CI {c.ci_low:+.3f} to {c.ci_high:+.3f}, "
        f"{c.test} p={c.p_value:.3g}, {c.n} rows)"
    )


def forgetting_note(expects: list[dict], rise: float | None, *, cut: bool = False) -> list[str]:
    """Without an ``expect forgetting``, a rise of general-text perplexity over the rules' threshold
    is a warning in the verdict (it does not block promotion). ``cut``: the tune is a student cut
    from the base, whose rise counts the layers it lost, not only what tuning changed."""
    if rise is None or rise <= FORGETTING_WARN or any(e["metric"] == "forgetting" for e in expects):
        return []
    if cut:
        return [
            f"note: general-text perplexity is {rise:.0%} above the whole base's: the student was cut from it "
            f"(fewer layers) and tuned to the task; `expect forgetting <= ...` would make it a check"
        ]
    return [
        f"note: general-text perplexity rose {rise:.0%} after tuning (over {FORGETTING_WARN:.0%}): possible "
        f"forgetting; `expect forgetting <= {FORGETTING_WARN:.0%}` would make it a check"
    ]


def _prompt_verdict(expects: list[dict], baseline: dict, pct: float) -> dict:
    met = bool(expects) and baseline_meets_bar(expects, baseline)
    checks = [
        Check(
            expect_id(e),
            e["label"],
            baseline_value(e, baseline),
            None,
            f"{e['op']} {float(e['threshold']):g}",
            holds(baseline_value(e, baseline), e["op"], e["threshold"]),
            None,
            True,
        )
        for e in expects
    ]
    if met:
        reasons = ["the prompted baseline already meets every expect, so no tune ran: the prompt is the deliverable"]
    else:
        reasons = [
            f"{c.label}: baseline {_fmt(c.baseline)} misses {c.bar} and no tune ran" for c in checks if not c.bar_ok
        ]
        reasons = reasons or ["no tune ran and the plan has no expects"]
    return {
        "passed": met,
        "verdict": PROMPT if met else NOT_PROMOTED,
        "reasons": reasons,
        "checks": [asdict(c) for c in checks],
        "beat_baseline_pct": pct,
        "rule": rule_text(pct),
    }


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
