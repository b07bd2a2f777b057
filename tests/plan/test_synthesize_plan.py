"""R-SYNTHESIZE in the plan: a synthesize block with too few real examples adds a guarded
synthesize step before training, counted towards the minimum; with enough data it is not used."""

from __future__ import annotations

from dataclasses import replace

from test_scenarios import G, make_recipe, plan_for  # noqa: F401 - pytest puts tests/plan on the path

from ftc.compiler.lang.recipe import Expect, ModelRef, SynthesizeSpec
from ftc.compiler.plan.io import problems
from ftc.compiler.plan.planner import build_plan


def _plan(tmp_path, rows: int, synth: SynthesizeSpec | None, expects=()):
    recipe = make_recipe(tmp_path, rows=rows, fmt="instruction")
    if expects:
        recipe = replace(recipe, eval=replace(recipe.eval, expects=tuple(expects)))
    result = build_plan(replace(recipe, synthesize=synth), tmp_path)
    assert result.plan is not None, [d.message for d in result.diagnostics]
    assert problems(result.plan) == []
    return result.plan, sorted(d.code for d in result.diagnostics)


def test_eight_rows_and_a_synthesize_block_plan_synthesis_then_a_tune(tmp_path):
    synth = SynthesizeSpec(rows=6, teacher=ModelRef("smollm2-135m-instruct"), seed=4)
    expects = (Expect("json_valid", {}, ">=", 0.9), Expect("regex", {"pattern": "^x"}, "<=", 0.1))
    plan, codes = _plan(tmp_path, 8, synth, expects)
    assert "FTR306" not in codes  # 8 real + 6 synthetic: a tune is planned
    assert plan["strategy"] == ["prompt", "finetune"]
    steps = {s["id"]: s for s in plan["steps"]}
    cfg = steps["synthesize"]["config"]
    assert steps["synthesize"]["guard"] == G and steps["synthesize"]["needs"] == ["split", "baseline"]
    assert "synthesize" in steps["train"]["needs"]
    assert (cfg["teacher"], cfg["rows"], cfg["seed"], cfg["sources"]) == ("smollm2-135m-instruct", 6, 4, ["examples"])
    # Single-answer expects become checks without their bar; `<=` wants the row to fail the metric.
    assert [(c["metric"], c["want"]) for c in cfg["checks"]] == [("json_valid", 1), ("regex", 0)]
    assert plan["estimates"]["seconds_breakdown"]["synthesize"] > 0
    assert plan["estimates"]["flops"]["synthesize"] > 0
    assert "R-SYNTHESIZE" in [r["id"] for r in plan["rules"]]


def test_the_teacher_defaults_to_the_base_and_the_seed_to_the_eval_seed(tmp_path):
    plan, _ = _plan(tmp_path, 20, SynthesizeSpec(rows=30))
    cfg = next(s for s in plan["steps"] if s["kind"] == "synthesize")["config"]
    assert cfg["teacher"] == "smollm2-135m-instruct" and cfg["seed"] == 3


def test_with_enough_real_examples_the_block_is_not_used(tmp_path):
    plan, _ = _plan(tmp_path, 60, SynthesizeSpec(rows=30))
    assert "synthesize" not in [s["kind"] for s in plan["steps"]]
    because = next(r["because"] for r in plan["rules"] if r["id"] == "R-SYNTHESIZE")
    assert "no synthesis needed" in because


def test_without_a_block_too_few_examples_still_prompt_only(tmp_path):
    plan, codes = _plan(tmp_path, 8, None)
    assert plan["strategy"] == ["prompt"] and "FTR306" in codes


def test_a_judge_expect_is_a_valid_plan_expect_and_not_a_prompt_search_score(tmp_path):
    judge = Expect("judge", {"rubric": "Be polite.", "teacher": "smollm2-135m-instruct", "scale": 5}, ">=", 4.0)
    plan, _ = _plan(tmp_path, 120, None, (Expect("json_valid", {}, ">=", 0.9), judge))
    labels = [e["label"] for e in plan["expects"]]
    assert 'judge(rubric="Be polite.", scale=5, teacher="smollm2-135m-instruct")' in labels
    search = next(s for s in plan["steps"] if s["kind"] == "baseline")["config"]["prompt_search"]
    assert [c["metric"] for c in search["score_by"]] == ["json_valid"]  # a judge is too costly to search by


def test_a_judge_costs_time_in_the_plan_and_an_unknown_judge_is_a_located_error(tmp_path):
    judge = Expect("judge", {"rubric": "Be polite.", "teacher": "smollm2-135m-instruct", "scale": 5}, ">=", 4.0)
    plan, _ = _plan(tmp_path, 120, None, (judge,))
    assert plan["estimates"]["flops"]["judge"] > 0 and plan["estimates"]["seconds_breakdown"]["judge"] > 0
    unknown = Expect("judge", {"rubric": "x", "teacher": "no-such-judge-9000", "scale": 5}, ">=", 4.0)
    recipe = make_recipe(tmp_path, rows=120, fmt="instruction")
    result = build_plan(replace(recipe, eval=replace(recipe.eval, expects=(unknown,))), tmp_path)
    assert result.plan is None and [d.code for d in result.diagnostics] == ["FTR302"]
