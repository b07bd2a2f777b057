"""The gate's definition of `beat baseline by P%` (see ftc.runtime.gate's docstring)."""

from __future__ import annotations

import pytest

from ftc.runtime.gate import NOT_PROMOTED, PROMOTED, PROMPT, decide, margin_target

EM = {"label": 'exact_match(field="category")', "metric": "exact_match", "args": {"field": "category"}, "op": ">=", "threshold": 0.8}
JV = {"label": "json_valid", "metric": "json_valid", "args": {}, "op": ">=", "threshold": 0.9}
PPL = {"label": "perplexity", "metric": "perplexity", "args": {}, "op": "<=", "threshold": 20.0}
GATE = {"beat_baseline_pct": 10.0, "require_all_expects": True}


def test_rates_need_p_points_over_the_baseline_on_missed_expects() -> None:
    base = {EM["label"]: 0.5, JV["label"]: 0.95}
    ok = decide([EM, JV], GATE, base, {EM["label"]: 0.85, JV["label"]: 0.92})
    assert ok["passed"] and ok["verdict"] == PROMOTED
    # json_valid was already met by the baseline: no margin, but it must still hold.
    bad = decide([EM, JV], GATE, base, {EM["label"]: 0.85, JV["label"]: 0.85})
    assert not bad["passed"] and bad["verdict"] == NOT_PROMOTED
    assert any("json_valid" in r and "does not meet >= 0.9" in r for r in bad["reasons"])


def test_meeting_the_bar_without_the_margin_is_not_promoted() -> None:
    base = {EM["label"]: 0.75}
    result = decide([EM], GATE, base, {EM["label"]: 0.8})
    assert not result["passed"]
    assert result["checks"][0]["margin_required"] == pytest.approx(0.85)
    assert any("does not beat baseline 0.750 by 10%" in r for r in result["reasons"])


def test_margin_is_capped_at_a_perfect_score_and_relative_for_perplexity() -> None:
    assert margin_target("exact_match", ">=", 0.95, 10) == 1.0
    assert margin_target("perplexity", "<=", 30.0, 10) == pytest.approx(27.0)
    assert margin_target("exact_match", "==", 0.5, 10) is None
    result = decide([PPL], GATE, {"perplexity": 30.0}, {"perplexity": 19.0})
    assert result["passed"]
    assert not decide([PPL], GATE, {"perplexity": 21.0}, {"perplexity": 19.5})["passed"]


def test_no_tune_when_the_baseline_meets_the_bar_means_the_prompt_is_the_deliverable() -> None:
    result = decide([EM], GATE, {EM["label"]: 0.9}, None)
    assert result["passed"] and result["verdict"] == PROMPT
    assert "prompt is the deliverable" in result["reasons"][0]


def test_missing_values_and_missing_expects_fail() -> None:
    assert not decide([EM], GATE, {EM["label"]: 0.5}, {EM["label"]: None})["passed"]
    assert not decide([], GATE, {}, {})["passed"]
