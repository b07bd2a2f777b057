"""The `synthesize` block and the `judge` metric in a recipe: what they accept, what they
refuse (with a located code), and what they become in the checked Recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_checks import ROWS, error_codes, load, recipe_text  # pytest puts tests/lang on the path

from ftc.compiler.lang.recipe import ModelRef


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A project (pyproject.toml marks its root) with recipes/data/rows.jsonl, as test_checks has."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    rec = tmp_path / "recipes"
    (rec / "data").mkdir(parents=True)
    (rec / "data" / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return rec


def test_a_synthesize_block_becomes_the_recipes_synthesis(project: Path) -> None:
    text = recipe_text(
        '  synthesize {\n    teacher = model("smollm2-135m-instruct")\n    rows = 500\n    seed = 7\n  }'
    )
    recipe, diags = load(project, text)
    assert error_codes(diags) == [] and recipe is not None
    s = recipe.synthesize
    assert s is not None and (s.rows, s.teacher, s.seed) == (500, ModelRef("smollm2-135m-instruct"), 7)
    assert s.teacher is not None and s.teacher.span.line == 9


def test_synthesize_needs_its_rows_and_checks_its_keys(project: Path) -> None:
    _, diags = load(project, recipe_text("  synthesize {\n    seed = 1\n  }"))
    assert len(error_codes(diags)) == 1  # rows is required
    _, diags = load(project, recipe_text("  synthesize {\n    rows = 0\n  }"))
    assert error_codes(diags) == ["FTR105"]
    assert next(d for d in diags if d.severity == "error").span.line == 9
    _, diags = load(project, recipe_text('  synthesize {\n    rows = 5\n    teacher = "x"\n  }'))
    assert error_codes(diags) == ["FTR103"]


def test_a_judge_expect_reads_rubric_teacher_and_scale(project: Path) -> None:
    (project / "rubric.md").write_text("Polite, and answers the question.")
    evals = 'expect judge("rubric.md", teacher = model("smollm2-135m-instruct"), scale = 7) >= 5.5'
    recipe, diags = load(project, recipe_text(evals=evals))
    assert error_codes(diags) == [] and recipe is not None
    e = recipe.eval.expects[0]
    assert e.metric == "judge" and e.threshold == 5.5
    assert e.args["rubric"] == str(project / "rubric.md") and e.args["scale"] == 7
    assert e.args["teacher"] == "smollm2-135m-instruct"


def test_a_judge_rubric_may_be_text_and_the_defaults_are_explicit(project: Path) -> None:
    recipe, diags = load(project, recipe_text(evals='expect judge("Be polite.") >= 4'))
    assert error_codes(diags) == [] and recipe is not None
    assert dict(recipe.eval.expects[0].args) == {"rubric": "Be polite.", "teacher": "smollm2-135m-instruct", "scale": 5}


def test_bad_judge_arguments_are_located_errors(project: Path) -> None:
    for evals, code in (
        ('expect judge("Be polite.") >= 6', "FTR112"),  # above the scale
        ('expect judge("Be polite.") >= 80%', "FTR112"),  # a rate is not a score
        ('expect judge("Be polite.", scale = 1) >= 1', "FTR103"),
        ('expect judge("Be polite.", scale = 2.5) >= 1', "FTR103"),
        ('expect judge("Be polite.", teacher = "x") >= 4', "FTR103"),
        ("expect judge(scale = 5) >= 4", "FTR111"),  # the rubric is required
    ):
        _, diags = load(project, recipe_text(evals=evals))
        errors = [d for d in diags if d.severity == "error"]
        assert [d.code for d in errors] == [code], evals
        assert errors[0].span.line == 11, evals


def test_too_few_examples_is_not_warned_when_synthesis_makes_up_the_minimum(project: Path) -> None:
    (project / "data" / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[:8]))
    _, plain = load(project, recipe_text())
    _, synthesised = load(project, recipe_text("  synthesize {\n    rows = 6\n  }"))
    assert "FTR202" in [d.code for d in plain]
    assert "FTR202" not in [d.code for d in synthesised]
