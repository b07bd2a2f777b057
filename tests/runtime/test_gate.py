"""The gate's definition of `beat baseline by P%` (see ftc.runtime.gate's docstring): the margin on the
point values, and beyond the noise on paired per-row scores (synthetic rows, no model)."""

from __future__ import annotations

import pytest

from ftc.runtime.gate import NOT_PROMOTED, PROMOTED, PROMPT, baseline_meets_bar, decide, forgetting_note, margin_target

EM = {
    "label": 'exact_match(field="category")',
    "metric": "exact_match",
    "args": {"field": "category"},
    "op": ">=",
    "threshold": 0.8,
}
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


# -- noise and gain (paired per-row scores) --------------------------------------------------
def _rows(n: int, right: int) -> list[float]:
    return [1.0] * right + [0.0] * (n - right)


def test_a_gain_inside_the_noise_is_not_significant_rather_than_not_better() -> None:
    # 72 rows: the baseline misses 9, the tune fixes all of them: +0.125 clears the 10-point margin
    # on the point, but its 95% interval (about +0.05 to +0.21) does not.
    base, tuned = _rows(72, 63), _rows(72, 72)
    result = decide([JV], GATE, {JV["label"]: 63 / 72}, {JV["label"]: 1.0}, rows={JV["label"]: (base, tuned)}, seed=7)
    assert not result["passed"] and result["verdict"] == NOT_PROMOTED
    [check] = result["checks"]
    assert check["point_ok"] and not check["margin_ok"] and check["bar_ok"]
    assert check["n"] == 72 and check["test"] == "mcnemar" and check["diff"] == pytest.approx(0.125)
    assert check["ci_low"] < 0.10 < check["ci_high"]
    assert check["p_value"] == pytest.approx(2 / 2**9)  # 9 discordant rows, all fixed: McNemar
    [reason] = result["reasons"]
    assert reason.startswith("json_valid: not significant on 72 rows") and "does not beat" not in reason
    assert "95% CI +0.0" in reason and "mcnemar p=0.00391" in reason


def test_a_clear_gain_is_promoted() -> None:
    # The baseline gets 36 of 72, the tune 66 (30 fixed): +0.417, interval far above +0.10.
    base, tuned = _rows(72, 36), _rows(72, 66)
    result = decide([JV], GATE, {JV["label"]: 0.5}, {JV["label"]: 66 / 72}, rows={JV["label"]: (base, tuned)})
    assert result["passed"] and result["verdict"] == PROMOTED
    assert result["checks"][0]["ci_low"] > 0.10
    assert "beyond the noise" in result["reasons"][0]


def test_a_point_gain_below_the_margin_is_not_better_and_says_so_with_its_interval() -> None:
    base, tuned = _rows(100, 50), _rows(100, 55)
    result = decide([EM], GATE, {EM["label"]: 0.5}, {EM["label"]: 0.55}, rows={EM["label"]: (base, tuned)})
    assert not result["checks"][0]["point_ok"]
    assert any("does not beat baseline 0.500 by 10% (needed 0.600), difference +0.050" in r for r in result["reasons"])


def test_a_capped_margin_needs_the_perfect_score_and_an_interval_above_zero() -> None:
    high = {**JV, "threshold": 0.99}
    base, tuned = _rows(100, 95), _rows(100, 100)
    result = decide([high], GATE, {JV["label"]: 0.95}, {JV["label"]: 1.0}, rows={JV["label"]: (base, tuned)})
    assert result["checks"][0]["margin_required"] == 1.0 and result["passed"]
    few = decide([high], GATE, {JV["label"]: 0.5}, {JV["label"]: 1.0}, rows={JV["label"]: ([1.0, 0.0], [1.0, 1.0])})
    assert not few["passed"]  # 2 rows: the interval of +0.5 reaches zero


def test_lower_is_better_rates_use_the_other_end_of_the_interval() -> None:
    errors = {
        "label": 'regex(pattern="ERROR")',
        "metric": "regex",
        "args": {"pattern": "ERROR"},
        "op": "<=",
        "threshold": 0.1,
    }
    base, tuned = _rows(100, 60), _rows(100, 5)  # the share of answers with ERROR falls from 0.6 to 0.05
    result = decide(
        [errors], GATE, {errors["label"]: 0.6}, {errors["label"]: 0.05}, rows={errors["label"]: (base, tuned)}
    )
    assert result["passed"] and result["checks"][0]["ci_high"] < -0.10


# -- forgetting --------------------------------------------------------------------------------
FORGET = {"label": "forgetting", "metric": "forgetting", "args": {}, "op": "<=", "threshold": 0.10}


def test_expect_forgetting_is_a_bar_on_the_tune_and_met_by_the_untuned_baseline() -> None:
    rows = {JV["label"]: (_rows(72, 36), _rows(72, 70))}
    base = {JV["label"]: 0.5}
    ok = decide([JV, FORGET], GATE, base, {JV["label"]: 70 / 72, "forgetting": 0.04}, rows=rows)
    assert ok["passed"]
    bad = decide([JV, FORGET], GATE, base, {JV["label"]: 70 / 72, "forgetting": 0.31}, rows=rows)
    assert not bad["passed"] and any("forgetting: tuned 0.310 does not meet <= 0.1" in r for r in bad["reasons"])
    forget_check = bad["checks"][1]
    assert forget_check["baseline"] == 0.0 and forget_check["margin_required"] is None
    assert baseline_meets_bar([FORGET], {}) is True  # the guard: nothing was tuned, nothing forgotten
    assert decide([FORGET], GATE, {}, None)["verdict"] == PROMPT


def test_without_the_expect_a_rise_over_the_threshold_is_a_note_in_the_verdict() -> None:
    assert forgetting_note([JV], 0.31)[0].startswith("note: general-text perplexity rose 31% after tuning")
    assert (
        forgetting_note([JV], 0.05) == []
        and forgetting_note([JV, FORGET], 0.31) == []
        and forgetting_note([JV], None) == []
    )
    result = decide(
        [JV],
        GATE,
        {JV["label"]: 0.5},
        {JV["label"]: 1.0},
        rows={JV["label"]: (_rows(72, 36), _rows(72, 72))},
        notes=forgetting_note([JV], 0.31),
    )
    assert result["passed"] and result["reasons"][-1].startswith("note: general-text perplexity rose 31%")
