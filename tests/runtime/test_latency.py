"""Latency as a measured expect (issue 16), without a model: the percentile, the gate's rule for a
latency bar, and the score readers' path from a step's measured figures to the expect's value.
The measurement itself on the embedded model is in test_serving.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ftc.runtime.gate import decide
from ftc.runtime.latency import percentile
from ftc.runtime.steps.common import scores_of

P95 = {"label": "latency_p95", "metric": "latency_p95", "args": {}, "op": "<=", "threshold": 300.0}
RATE = {"label": "json_valid", "metric": "json_valid", "args": {}, "op": ">=", "threshold": 0.8}
GATE = {"beat_baseline_pct": 10, "require_all_expects": True}


@pytest.mark.parametrize("values", [[5.0], [3.0, 1.0], [1.0, 9.0, 4.0, 4.0, 120.0, 7.5, 2.0, 3.3]])
def test_percentiles_match_numpys_linear_interpolation(values: list[float]) -> None:
    for q in (50, 95):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_a_latency_bar_holds_on_the_measured_figure_and_is_never_a_margin() -> None:
    # The baseline misses both bars; the tune fixes json_valid and is fast enough: promoted, and
    # latency asked no "10% faster than the baseline" (the tune has the base's architecture).
    out = decide(
        [RATE, P95], GATE, {"json_valid": 0.2, "latency_p95": 310.0}, {"json_valid": 1.0, "latency_p95": 299.0}
    )
    check = next(c for c in out["checks"] if c["label"] == "latency_p95")
    assert out["passed"] and check["margin_required"] is None and check["bar_ok"]


def test_a_latency_bar_the_tune_misses_fails_the_gate_with_the_figure() -> None:
    out = decide(
        [RATE, P95], GATE, {"json_valid": 0.2, "latency_p95": 250.0}, {"json_valid": 1.0, "latency_p95": 412.5}
    )
    assert not out["passed"] and "latency_p95: tuned 412.500 does not meet <= 300" in out["reasons"]


def test_an_unmeasured_latency_fails_its_check(tmp_path: Path) -> None:
    (tmp_path / "predictions.jsonl").write_text(
        json.dumps({"prompt": [], "reference": "{}", "prediction": "{}"}) + "\n"
    )
    (tmp_path / "scores.json").write_text(json.dumps({"perplexity": {}, "rows": 1}))
    plan = {"expects": [P95, RATE]}
    assert scores_of(plan, tmp_path, tmp_path) == {"latency_p95": None, "json_valid": 1.0}
    (tmp_path / "scores.json").write_text(json.dumps({"perplexity": {}, "rows": 1, "latency": {"p95_ms": 120.5}}))
    assert scores_of(plan, tmp_path, tmp_path)["latency_p95"] == 120.5
    out = decide([P95], GATE, {"latency_p95": 100.0}, {"latency_p95": None})
    assert not out["passed"] and "latency_p95: tuned n/a does not meet <= 300" in out["reasons"]
