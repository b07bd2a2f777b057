"""max_rows and weight arithmetic (ftc.shared.mixture), shared by the planner's counts and the
load step: a seeded subsample that is the same on every call, and the largest mix in the given
shares that never repeats a row."""

from __future__ import annotations

from ftc.shared.hub import slice_rows, split_problem
from ftc.shared.mixture import mixture, sample_indices


def test_a_subsample_is_seeded_sorted_and_differs_by_seed_and_source():
    picked = sample_indices(100, 10, 0, "a")
    assert picked == sample_indices(100, 10, 0, "a") and picked == sorted(picked) and len(set(picked)) == 10
    assert picked != sample_indices(100, 10, 1, "a") and picked != sample_indices(100, 10, 0, "b")
    assert sample_indices(5, 10, 0, "a") == [0, 1, 2, 3, 4]  # a cap above the rows keeps them all


def test_the_mixture_takes_the_scarce_source_whole_and_cuts_the_others_to_their_share():
    assert mixture({"a": 100, "b": 100}, {"a": 3, "b": 1}) == {"a": 100, "b": 33}
    assert mixture({"a": 30, "b": 1000}, {"a": 3, "b": 1}) == {"a": 30, "b": 10}
    assert mixture({"a": 20, "b": 25}, {"a": 1, "b": 1}) == {"a": 20, "b": 20}


def test_split_slices_count_rows_as_datasets_does():
    assert slice_rows("train", 10) == 10
    assert slice_rows("train[:20%]", 10) == 2 and slice_rows("train[:50%]", 7) == 4  # round(3.5) = 4
    assert slice_rows("train[10:]", 25) == 15 and slice_rows("train[-10%:]", 50) == 5
    assert split_problem("train[:20%]") is None
    assert "not a split" in (split_problem("train[:20%") or "")
    assert "between -100% and 100%" in (split_problem("train[:150%]") or "")
