"""A plan file carries the language's bounds: a tampered value is refused when the plan is read,
with the field's path, before any step runs (never an internal error half-way through a run)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ftc.compiler.cli.main import main
from ftc.compiler.plan.io import read_plan, write_plan
from ftc.shared.errors import FtcError

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("empty_caches")


@pytest.fixture(scope="module")
def plan() -> dict:
    from ftc.compiler.plan.compile import compile_recipe

    return compile_recipe(REPO / "recipes" / "quickstart.ftr").plan


def step(plan: dict, kind: str) -> dict:
    return next(s for s in plan["steps"] if s["kind"] == kind)


def hp(name: str, value: object) -> Callable[[dict], None]:
    def edit(plan: dict) -> None:
        plan["hyperparameters"][name]["value"] = value

    return edit


def config(kind: str, name: str, value: object) -> Callable[[dict], None]:
    def edit(plan: dict) -> None:
        step(plan, kind)["config"][name] = value

    return edit


CASES = [
    (hp("max_steps", -5), "$.hyperparameters.max_steps.value: -5 is less than the minimum of 1"),
    (
        hp("max_steps", 10**12),
        "$.hyperparameters.max_steps.value: 1000000000000 is greater than the maximum of 1000000000",
    ),
    (hp("lr", -1), "$.hyperparameters.lr.value: -1 is less than the minimum of 1e-09"),
    (hp("batch", "eight"), "$.hyperparameters.batch.value: 'eight' is not of type 'integer', 'null'"),
    (hp("warmup", 1.5), "$.hyperparameters.warmup.value"),  # a share is below 1, a step count whole
    (config("baseline", "max_new_tokens", -1), "$.steps[4].config.max_new_tokens: -1 is less than the minimum of 1"),
    (config("eval", "batch_size", 0), "$.steps[7].config.batch_size: 0 is less than the minimum of 1"),
    (config("split", "holdout", 1.5), "$.steps[3].config.holdout: 1.5 is greater than or equal to the maximum of 1"),
    # the runtime scores only the general text it ships: another name would be silently ignored
    (config("eval", "perplexity_text", "wiki"), "$.steps[7].config.perplexity_text: 'wiki' is not one of ['general']"),
    (
        config("train", "rm_rf", True),
        "$.steps[6].config: Additional properties are not allowed ('rm_rf' was unexpected)",
    ),
    (
        lambda p: p["hyperparameters"].update(mystery={"value": 1, "set_by": "rule", "reason": ""}),
        "$.hyperparameters: Additional properties are not allowed ('mystery' was unexpected)",
    ),
]


@pytest.mark.parametrize("edit, message", CASES, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(CASES)])
def test_a_tampered_value_is_refused_with_its_path(
    plan: dict, edit: Callable[[dict], None], message: str, tmp_path: Path
) -> None:
    bad = json.loads(json.dumps(plan))
    edit(bad)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(FtcError) as err:
        read_plan(path)
    assert message in err.value.message


def test_the_plans_ftc_writes_pass_their_own_bounds(plan: dict, tmp_path: Path) -> None:
    write_plan(plan, tmp_path / "plan.json")
    assert read_plan(tmp_path / "plan.json") == plan


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(plan: dict, literal: str, tmp_path: Path) -> None:
    marked = json.loads(json.dumps(plan))
    marked["hyperparameters"]["lr"]["value"] = 0.123456789
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(marked).replace("0.123456789", literal), encoding="utf-8")
    with pytest.raises(FtcError, match="no plan value may be|not a number a plan may hold"):
        read_plan(path)


def test_a_fifo_is_not_read_as_a_plan(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    with pytest.raises(FtcError, match="not a regular file"):
        read_plan(fifo)


def test_ftc_run_refuses_a_tampered_plan_before_any_step(
    plan: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = json.loads(json.dumps(plan))
    bad["hyperparameters"]["max_steps"]["value"] = -5
    path = REPO / "recipes" / ".tampered-plan.json"  # inside the project, as a real plan file is
    path.write_text(json.dumps(bad), encoding="utf-8")
    try:
        code = main(["run", str(path), "--runs-dir", str(tmp_path / "runs")])
    finally:
        path.unlink()
    assert code == 1 and "max_steps.value: -5 is less than the minimum of 1" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
