"""R-STUDENT-LAYERS: a student cut from the base by layers. Which layers a count keeps, what the
plan says about the student (its size is what the bounds, the memory model and the estimates
see), and the located errors for cuts that cannot work. Recipes go through the real front end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftc.compiler.lang.frontend import load_recipe
from ftc.compiler.plan.model_table import param_count
from ftc.compiler.plan.planner import build_plan
from ftc.compiler.plan.student import StudentError, kept_layers

RECIPE = """recipe "cut" {{
  goal    = behavior("Reply with the order number in the message")
  base    = model("smollm2-135m-instruct")
{teacher}
  data "q" {{
    path   = "q.jsonl"
    format = chat
  }}
  distill {{
    student_layers = {layers}
  }}
{train}
  constraints {{
    device     = cpu
    max_params = {max_params}
  }}
  eval {{
    holdout = 25%
    seed    = 3
    expect exact_match >= 0.8
  }}
}}
"""


def _plan(
    tmp_path: Path,
    layers: str = "15",
    *,
    teacher: bool = True,
    train: str = "",
    max_params: str = "100M",
):
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Where is order {40000 + 7 * i}?"},
                {"role": "assistant", "content": str(40000 + 7 * i)},
            ]
        }
        for i in range(80)
    ]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    text = RECIPE.format(
        teacher='  teacher = model("smollm2-135m-instruct")' if teacher else "",
        layers=layers,
        train=f"  train {{ {train} }}" if train else "",
        max_params=max_params,
    )
    path = tmp_path / "cut.ftr"
    path.write_text(text, encoding="utf-8")
    recipe, diags = load_recipe(path)
    if recipe is None:
        return None, list(diags), text
    result = build_plan(recipe, out_dir=tmp_path)
    return result.plan, list(result.diagnostics), text


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_count_keeps_evenly_spaced_layers_with_the_first_and_the_last() -> None:
    assert kept_layers(30, 15) == (0, 2, 4, 6, 8, 10, 12, 15, 17, 19, 21, 23, 25, 27, 29)
    assert kept_layers(30, 2) == (0, 29)
    assert kept_layers(30, 1) == (0,)
    assert kept_layers(30, (1, 5, 9)) == (1, 5, 9)


@given(st.integers(2, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(2, n - 1) if n > 2 else st.just(1))))
def test_kept_layers_are_distinct_ascending_and_span_the_base(case: tuple[int, int]) -> None:
    total, count = case
    keep = kept_layers(total, count)
    assert len(keep) == count and list(keep) == sorted(set(keep))
    if count >= 2:
        assert keep[0] == 0 and keep[-1] == total - 1


@pytest.mark.parametrize("asked", [30, 31, (0, 30), tuple(range(30))])
def test_a_cut_that_is_not_smaller_or_names_a_missing_layer_is_refused(asked: object) -> None:
    with pytest.raises(StudentError):
        kept_layers(30, asked)  # type: ignore[arg-type]


def test_the_plan_trains_the_cut_student_in_full_and_sizes_everything_by_it(tmp_path: Path) -> None:
    plan, diags, _ = _plan(tmp_path)
    assert plan is not None, diags
    m = plan["model"]
    assert m["student_layers"] == [0, 2, 4, 6, 8, 10, 12, 15, 17, 19, 21, 23, 25, 27, 29]
    assert m["params"] == 134_515_008 and m["student_params"] < 100_000_000
    assert m["student_params"] == param_count_with_layers(15)
    assert plan["strategy"] == ["prompt", "distill"] and plan["method"] == "full"
    distill = next(s for s in plan["steps"] if s["kind"] == "distill")
    assert distill["config"]["student_layers"] == m["student_layers"] and distill["config"]["method"] == "full"
    # Same model as teacher and student's tokenizer: logits, decided from the facts, not asked.
    assert distill["config"]["kind"] == "logits"
    rules = {r["id"]: r["because"] for r in plan["rules"]}
    assert "15 of the 30 layers" in rules["R-DISTILL"] and "135M parameters > max_params 100M" in rules["R-DISTILL"]
    assert "81.4M of 135M parameters" in rules["R-STUDENT-LAYERS"]
    assert "<= max_params 100M" in rules["R-STUDENT-LAYERS"]
    assert "student cut from the base" in rules["R-FULL-NEEDS-REASON"]
    assert "81.4M-parameter student" in rules["R-METHOD-BY-MEMORY"]


def param_count_with_layers(layers: int) -> int:
    from dataclasses import replace

    from ftc.compiler.plan.model_table import lookup

    spec = lookup("smollm2-135m-instruct")
    assert spec is not None
    return param_count(replace(spec, layers=layers))


def test_the_student_is_smaller_in_memory_and_time_than_distilling_into_the_whole_base(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cut, diags, _ = _plan(tmp_path / "a", "10")
    assert cut is not None, diags
    deeper, diags, _ = _plan(tmp_path / "b", "20")
    assert deeper is not None, diags
    assert cut["method"] == deeper["method"] == "full" and "distill" in deeper["strategy"]
    assert cut["estimates"]["peak_memory_bytes"] < deeper["estimates"]["peak_memory_bytes"]
    assert cut["estimates"]["train_flops"] < deeper["estimates"]["train_flops"]


def test_a_count_not_below_the_bases_layers_is_located(tmp_path: Path) -> None:
    plan, diags, text = _plan(tmp_path, "30")
    assert plan is None
    d = next(d for d in diags if d.code == "FTR327")
    assert "not fewer than the base's 30 layers" in d.message
    assert d.span.line == _line_of(text, "student_layers")


def test_an_index_past_the_last_layer_is_located(tmp_path: Path) -> None:
    plan, diags, text = _plan(tmp_path, "[0, 12, 30]")
    assert plan is None
    d = next(d for d in diags if d.code == "FTR327")
    assert "layer 30 does not exist" in d.message and d.span.line == _line_of(text, "student_layers")


def test_lora_on_a_cut_student_is_refused_at_the_method(tmp_path: Path) -> None:
    plan, diags, text = _plan(tmp_path, train="method = lora")
    assert plan is None
    d = next(d for d in diags if d.code == "FTR327")
    assert "trains all its weights" in d.message and d.span.line == _line_of(text, "method = lora")


def test_a_cut_without_a_teacher_is_refused(tmp_path: Path) -> None:
    plan, diags, _ = _plan(tmp_path, teacher=False)
    assert plan is None
    assert any(d.code == "FTR327" and "names no teacher" in d.message for d in diags)


def test_a_student_still_over_the_bound_is_located_at_its_layers(tmp_path: Path) -> None:
    plan, diags, text = _plan(tmp_path, "28")
    assert plan is None
    d = next(d for d in diags if d.code == "FTR316")
    assert "the student cut from" in d.message and "> max_params 100M" in d.message
    assert d.span.line == _line_of(text, "student_layers") and "keep fewer layers" in (d.hint or "")


@pytest.mark.parametrize(
    ("value", "says"),
    [("[2, 0]", "ascending order"), ("[1, 1]", "listed twice"), ('"half"', "layer count"), ("[1.5]", "whole numbers")],
)
def test_malformed_layer_values_are_located_by_the_front_end(tmp_path: Path, value: str, says: str) -> None:
    plan, diags, text = _plan(tmp_path, value)
    assert plan is None
    d = next(d for d in diags if d.severity == "error")
    assert says in d.message and d.span.line == _line_of(text, "student_layers")
