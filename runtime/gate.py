"""The gate: promote a tune only if it meets every expect and beats the prompted baseline.

``beat baseline by P%`` is defined per expect that the *baseline missed* (the tune exists to fix
those; when the baseline met every expect no tune ran and the prompt is the deliverable):

* rates (every metric but perplexity, values in [0, 1]): the tuned value must improve on the
  baseline by at least P **points** (P = 10 -> +0.10), capped at the scale's end (1.0 or 0.0), so a
  tune that reaches a perfect score always clears the margin;
* perplexity (unbounded): by P **percent relative** (10 -> 10 % lower, or higher for ``>=``).

The direction comes from the expect's comparison: ``>=``/``>`` higher is better, ``<=``/``<``
lower is better, ``==`` has no direction and gets no margin. Expects the baseline already met
need no margin, but must still hold on the tuned model. A missing value (a metric that could not
be computed) fails its check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ftc.shared.contract import expect_id

UNBOUNDED = {"perplexity"}

PROMOTED = "promoted"
NOT_PROMOTED = "not promoted"
PROMPT = "prompt is the deliverable"


@dataclass(frozen=True)
class Check:
    expect: str  # the expect's identity (what it measures and the bar): unique in a plan
    label: str  # what it measures: the key of its score
    baseline: float | None
    tuned: float | None
    bar: str  # e.g. ">= 0.8"
    bar_ok: bool
    margin_required: float | None  # the value the tuned model had to reach for the margin, or None
    margin_ok: bool


def holds(value: float | None, op: str, threshold: float) -> bool:
    if value is None:
        return False
    return {
        ">=": value >= threshold,
        ">": value > threshold,
        "<=": value <= threshold,
        "<": value < threshold,
        "==": abs(value - threshold) < 1e-9,
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
    return value >= target - 1e-9 if op in (">=", ">") else value <= target + 1e-9


def baseline_meets_bar(expects: list[dict], baseline: dict[str, float | None]) -> bool:
    return all(holds(baseline.get(e["label"]), e["op"], e["threshold"]) for e in expects)


def decide(expects: list[dict], gate: dict, baseline: dict[str, float | None],
           tuned: dict[str, float | None] | None) -> dict:
    """``tuned`` is None when no tune ran (the baseline met the bar). Returns the gate.json dict:
    ``{passed, verdict, reasons, checks, beat_baseline_pct, rule}``."""
    pct = float(gate.get("beat_baseline_pct") or 0.0)
    rule = (f"beat baseline by {pct:g}%: for each expect the baseline missed, +{pct:g} points on rates "
            f"(capped at a perfect score), {pct:g}% relative on perplexity")
    if tuned is None:
        return _prompt_verdict(expects, baseline, pct, rule)
    checks = [_check(e, baseline.get(e["label"]), tuned.get(e["label"]), pct) for e in expects]
    require_all = gate.get("require_all_expects", True)
    reasons = []
    for c in checks:
        if not c.bar_ok:
            reasons.append(f"{c.label}: tuned {_fmt(c.tuned)} does not meet {c.bar}"
                           + ("" if require_all else " (not required)"))
        if not c.margin_ok:
            reasons.append(f"{c.label}: tuned {_fmt(c.tuned)} does not beat baseline {_fmt(c.baseline)} by "
                           f"{pct:g}% (needed {_fmt(c.margin_required)})")
    passed = all(c.margin_ok for c in checks) and (all(c.bar_ok for c in checks) or not require_all)
    if not expects:
        passed, reasons = False, ["the plan has no expects: nothing proves the tune is worth it"]
    if passed:
        reasons = [f"every expect holds on the tuned model and it beats the baseline by {pct:g}%"]
    return {"passed": passed, "verdict": PROMOTED if passed else NOT_PROMOTED, "reasons": reasons,
            "checks": [asdict(c) for c in checks], "beat_baseline_pct": pct, "rule": rule}


def _check(expect: dict, base: float | None, tuned: float | None, pct: float) -> Check:
    op, thr, label = expect["op"], float(expect["threshold"]), expect["label"]
    identity = expect_id(expect)
    bar_ok = holds(tuned, op, thr)
    target = None
    margin_ok = True
    if not holds(base, op, thr):  # the margin applies to what the baseline missed
        target = margin_target(expect["metric"], op, base, pct) if base is not None else None
        if target is not None:
            margin_ok = tuned is not None and _reaches(tuned, op, target)
        else:
            margin_ok = tuned is not None
    return Check(identity, label, base, tuned, f"{op} {thr:g}", bar_ok, target, margin_ok)


def _prompt_verdict(expects: list[dict], baseline: dict, pct: float, rule: str) -> dict:
    met = bool(expects) and baseline_meets_bar(expects, baseline)
    checks = [Check(expect_id(e), e["label"], baseline.get(e["label"]), None, f"{e['op']} {float(e['threshold']):g}",
                    holds(baseline.get(e["label"]), e["op"], e["threshold"]), None, True) for e in expects]
    if met:
        reasons = ["the prompted baseline already meets every expect, so no tune ran: the prompt is the deliverable"]
    else:
        reasons = [f"{c.label}: baseline {_fmt(c.baseline)} misses {c.bar} and no tune ran" for c in checks if not c.bar_ok]
        reasons = reasons or ["no tune ran and the plan has no expects"]
    return {"passed": met, "verdict": PROMPT if met else NOT_PROMOTED, "reasons": reasons,
            "checks": [asdict(c) for c in checks], "beat_baseline_pct": pct, "rule": rule}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
