"""Every expect has a unique, faithful identity (issue: two json_schema expects whose schema files
shared a name became one label, one score overwrote the other, and the gate passed an expect that
scored 0.0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.compiler.plan.compile import compile_recipe
from ftc.compiler.plan.io import read_plan
from ftc.runtime.gate import decide
from ftc.shared.contract import expect_id, expect_label
from ftc.shared.errors import FtcError

REPO = Path(__file__).resolve().parents[2]
RECIPE = """recipe "two-schemas" {
  goal = behavior("Reply as JSON")
  base = model("smollm2-135m-instruct")
  data "rows" {
    path   = "data/rows.jsonl"
    format = chat
  }
  eval {
    holdout = 20%
    expect json_schema("schemas/strict/ticket.json") >= 0.9
    expect json_schema("schemas/loose/ticket.json") >= 0.9
    expect regex("^a.*z$") >= 0.5
    expect regex("^b.*z$") >= 0.5
    beat baseline by 10%
  }
}
"""


@pytest.fixture
def plan(tmp_path: Path) -> dict:
    (tmp_path / "data").mkdir()
    lines = (REPO / "recipes" / "data" / "tickets.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    (tmp_path / "data" / "rows.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for kind in ("strict", "loose"):
        (tmp_path / "schemas" / kind).mkdir(parents=True)
        (tmp_path / "schemas" / kind / "ticket.json").write_text('{"type": "object"}', encoding="utf-8")
    (tmp_path / "r.ftr").write_text(RECIPE, encoding="utf-8")
    return compile_recipe(tmp_path / "r.ftr").plan


def test_expects_that_measure_different_things_have_different_labels(plan: dict) -> None:
    labels = [e["label"] for e in plan["expects"]]
    assert labels == [
        'json_schema(schema="schemas/strict/ticket.json")',
        'json_schema(schema="schemas/loose/ticket.json")',
        'regex(pattern="^a.*z$")',
        'regex(pattern="^b.*z$")',
    ]


def test_the_gate_judges_each_expect_on_its_own_score(plan: dict) -> None:
    strict, loose = plan["expects"][:2]
    base = {strict["label"]: 0.0, loose["label"]: 0.0}
    # The loose schema passes, the strict one scores 0.0: before the fix both read one shared score.
    result = decide([strict, loose], {"beat_baseline_pct": 10.0}, base, {strict["label"]: 0.0, loose["label"]: 1.0})
    assert not result["passed"]
    assert [c["expect"] for c in result["checks"]] == [expect_id(strict), expect_id(loose)]
    assert any("schemas/strict/ticket.json" in r and "does not meet" in r for r in result["reasons"])


def test_a_plan_whose_label_lies_is_refused(plan: dict, tmp_path: Path) -> None:
    plan["expects"][0]["label"] = plan["expects"][1]["label"]
    (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    with pytest.raises(FtcError, match=r"\$\.expects\[0\]\.label: .* does not name what it measures"):
        read_plan(tmp_path / "plan.json")


def test_a_plan_with_the_same_expect_twice_is_refused(plan: dict, tmp_path: Path) -> None:
    plan["expects"].append(dict(plan["expects"][0]))
    (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    with pytest.raises(FtcError, match=r"\$\.expects\[4\]: duplicate expect"):
        read_plan(tmp_path / "plan.json")


def test_labels_quote_their_arguments_so_none_can_forge_another() -> None:
    assert expect_label("exact_match", {"field": "a, b=c"}) == 'exact_match(field="a, b=c")'
    assert expect_label("exact_match", {"field": "a"}) != expect_label("exact_match", {"field": "a\\"})
