"""`ftc run`'s checks before anything runs (no model): the data lock and the project boundary."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftc.compiler.cli.cmd_run import compile_recipe
from ftc.compiler.plan.lock import check_paths, refresh_lock, stale_inputs
from ftc.shared.errors import FtcError

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.ftr"))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_a_fresh_plan_matches_its_data_lock(recipe: Path) -> None:
    # Files, JSONL, documents folders: the runtime recomputes each lock exactly as the planner did.
    plan, root = compile_recipe(recipe, allow_outside=False)
    assert plan["inputs"] and stale_inputs(plan, root) == []


def test_an_edited_or_missing_file_is_named_and_refresh_accepts_it(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    plan = {
        "inputs": [
            {"name": "a", "path": "a.jsonl", "format": "text", "sha256": "0" * 64},
            {"name": "b", "path": "b.jsonl", "format": "text", "sha256": "0" * 64},
        ],
        "steps": [],
    }
    assert stale_inputs(plan, tmp_path) == [
        "a.jsonl: changed since the plan was written (data source 'a')",
        "b.jsonl: the file is gone (data source 'b')",
    ]
    plan["inputs"] = plan["inputs"][:1]
    assert stale_inputs(refresh_lock(plan, tmp_path), tmp_path) == []


def test_data_outside_the_project_needs_allow_outside(tmp_path: Path) -> None:
    plan = {"inputs": [{"name": "a", "path": "../elsewhere.jsonl"}]}
    with pytest.raises(FtcError, match="outside the project") as err:
        check_paths(plan, tmp_path, allow_outside=False)
    assert err.value.exit_code == 2
