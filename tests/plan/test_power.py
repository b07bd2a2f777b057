"""FTR318: `ftc plan` warns, before anything is trained, when the holdout is too small for the gate
to show the `beat baseline` margin beyond noise (compiler.plan.power); and `expect forgetting`
parses, plans and is refused where it cannot mean anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.compiler.lang.frontend import load_recipe
from ftc.compiler.plan.io import problems
from ftc.compiler.plan.planner import build_plan
from ftc.compiler.plan.power import half_width, rows_needed

RECIPE = """recipe "power" {
  goal = GOAL
  base = model("smollm2-135m-instruct")
  data "rows" {
    path   = "data/rows.jsonl"
    format = chat
  }
  eval {
    holdout = HOLDOUT
    EXPECTS
    MARGIN
  }
}
"""


def _plan(
    tmp_path: Path,
    rows: int,
    *,
    holdout: str = "20%",
    margin: str = "beat baseline by 10%",
    expects: str = "expect json_valid >= 0.9",
    goal: str = 'behavior("Reply as JSON")',
):
    data = tmp_path / "data" / "rows.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    line = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": '{"a": 1}'}]}
    data.write_text(
        "".join(
            json.dumps({**line, "messages": [{"role": "user", "content": f"question {i}"}, line["messages"][1]]}) + "\n"
            for i in range(rows)
        )
    )
    text = (
        RECIPE.replace("GOAL", goal).replace("HOLDOUT", holdout).replace("EXPECTS", expects).replace("MARGIN", margin)
    )
    (tmp_path / "power.ftr").write_text(text)
    recipe, diags = load_recipe(tmp_path / "power.ftr")
    assert recipe is not None, [str(d) for d in diags]
    result = build_plan(recipe, tmp_path)
    return result.plan, [d for d in result.diagnostics if d.code == "FTR318"]


def test_the_closed_form_names_the_rows_a_margin_needs() -> None:
    assert rows_needed(10) == 193 and rows_needed(5) == 769 and rows_needed(20) == 49
    assert half_width(193) <= 0.10 < half_width(192)
    assert half_width(72) == pytest.approx(0.1633, abs=1e-4)


def test_a_holdout_too_small_for_its_margin_warns_with_the_rows_needed(tmp_path: Path) -> None:
    plan, [warning] = _plan(tmp_path, 360)  # 72 held out, a 10-point margin needs 193
    assert warning.severity == "warning"
    assert "about 72 rows is too small to show a 10% margin" in warning.message
    assert "±0.163" in warning.message and "about 193 holdout rows are needed" in warning.message
    assert "add eval data" in warning.hint  # 193 of 360 rows would leave too little to train on
    assert plan is not None and {"code": "FTR318"}.items() <= plan["warnings"][-1].items()
    _, [warning] = _plan(tmp_path, 500)  # 100 held out
    assert "about 100 rows" in warning.message and "hold out more rows (`holdout = 39%`)" in warning.hint


def test_no_warning_when_the_holdout_can_show_the_margin(tmp_path: Path) -> None:
    _, warnings = _plan(tmp_path, 1000)  # 200 held out >= 193
    assert warnings == []
    _, warnings = _plan(tmp_path, 360, margin="beat baseline by 30%")  # 30 points need 22 rows
    assert warnings == []


def test_no_warning_without_a_margin_a_tune_or_a_rate_expect(tmp_path: Path) -> None:
    assert _plan(tmp_path, 360, margin="")[1] == []
    assert _plan(tmp_path, 5)[1] == []  # too few to tune: nothing to gate against the baseline
    assert _plan(tmp_path, 360, expects="expect perplexity <= 20")[1] == []


def test_expect_forgetting_parses_as_a_percentage_and_plans(tmp_path: Path) -> None:
    plan, _ = _plan(tmp_path, 360, expects="expect json_valid >= 0.9\n    expect forgetting <= 10%")
    assert plan is not None and problems(plan) == []
    forgetting = plan["expects"][1]
    assert forgetting == {"label": "forgetting", "metric": "forgetting", "args": {}, "op": "<=", "threshold": 0.10}


@pytest.mark.parametrize(
    "expect,code", [("expect forgetting <= -5%", "FTR112"), ('expect forgetting(field = "x") <= 10%', "FTR111")]
)
def test_expect_forgetting_refuses_what_cannot_mean_anything(tmp_path: Path, expect: str, code: str) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.jsonl").write_text("")
    text = (
        RECIPE.replace("GOAL", 'behavior("x")')
        .replace("HOLDOUT", "20%")
        .replace("EXPECTS", expect)
        .replace("MARGIN", "")
    )
    (tmp_path / "bad.ftr").write_text(text)
    recipe, diags = load_recipe(tmp_path / "bad.ftr")
    assert recipe is None and code in {d.code for d in diags}
