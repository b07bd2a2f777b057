"""ftc.runtime.stats: McNemar against hand-computed binomials, the paired bootstrap's interval and
p-value on synthetic data with known answers."""

from __future__ import annotations

import math
import random

import pytest

from ftc.runtime.stats import bootstrap_p_value, compare, mcnemar_exact, pairs


def test_mcnemar_exact_matches_the_binomial_by_hand() -> None:
    # 1 vs 9 discordant: P(X <= 1 | n=10, p=1/2) = (1 + 10) / 1024; two-sided doubles it.
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)  # symmetric
    # 0 vs 6: 2 / 64; 0 vs 5: 2 / 32 (not significant at 5%).
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0  # capped, and no discordant rows
    b, c = 7, 20
    tail = sum(math.comb(27, k) for k in range(8)) / 2**27
    assert mcnemar_exact(b, c) == pytest.approx(2 * tail)


def test_binary_scores_use_mcnemar_and_count_only_discordant_rows() -> None:
    base = [1.0] * 50 + [0.0] * 50
    tuned = [1.0] * 50 + [1.0] * 9 + [0.0] * 41  # 9 rows fixed, none broken
    cmp = compare(base, tuned, seed=1)
    assert cmp.test == "mcnemar" and cmp.n == 100
    assert cmp.diff == pytest.approx(0.09)
    assert cmp.p_value == pytest.approx(mcnemar_exact(0, 9))
    assert cmp.ci_low is not None and cmp.ci_high is not None and cmp.ci_low <= 0.09 <= cmp.ci_high


def test_continuous_scores_use_the_bootstrap_p_value() -> None:
    rng = random.Random(0)
    base = [rng.random() for _ in range(200)]
    cmp = compare(base, [b + 0.2 for b in base], seed=3)
    assert cmp.test == "bootstrap"
    assert cmp.diff == pytest.approx(0.2)
    assert cmp.ci_low == pytest.approx(0.2) and cmp.ci_high == pytest.approx(0.2)  # every row moved by 0.2
    assert cmp.p_value < 0.001


def test_the_interval_is_seeded_and_covers_the_truth_about_95_percent_of_the_time() -> None:
    assert compare([0.0, 1.0] * 20, [1.0, 1.0] * 20, seed=5) == compare([0.0, 1.0] * 20, [1.0, 1.0] * 20, seed=5)
    rng = random.Random(42)
    # Baseline right half the time; the tune fixes a wrong row with p 0.2 and breaks a right one
    # with p 0.1: the true mean difference is 0.5 * 0.2 - 0.5 * 0.1 = +0.05.
    truth, covered, trials = 0.05, 0, 200
    for t in range(trials):
        base = [float(rng.random() < 0.5) for _ in range(120)]
        tuned = [float(rng.random() < 0.2) if b == 0.0 else float(rng.random() >= 0.1) for b in base]
        cmp = compare(base, tuned, seed=t, resamples=1000)
        covered += cmp.ci_low <= truth <= cmp.ci_high  # type: ignore[operator]
    assert 0.88 <= covered / trials <= 0.99, covered


def test_rows_missing_a_score_are_left_out_of_both_sides_and_lengths_must_match() -> None:
    assert pairs([1.0, None, 0.0], [0.0, 1.0, None]) == ([1.0], [0.0])
    assert compare([None], [None]).n == 0 and compare([None], [None]).diff is None
    with pytest.raises(ValueError, match="same rows"):
        compare([1.0, 0.0], [1.0])


def test_bootstrap_p_value_is_never_zero_and_is_one_at_zero_difference() -> None:
    assert 0 < bootstrap_p_value([0.5] * 999) <= 2 / 1000
    assert bootstrap_p_value([0.0] * 100) == 1.0
