"""A student cut from the base by layers (R-STUDENT-LAYERS), for real on the embedded model: the
cut model decodes with its KV cache as without it, keeps the base's weights in the kept layers,
and a compiled plan distils into it (one optimiser step), evaluates it, and draws the ladder
against the untuned cut student and the teacher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.runtime.executor import Executor, RunOptions
from ftc.runtime.steps import STEPS

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("one_thread")]


def test_the_cut_student_keeps_the_bases_layers_and_decodes_with_its_cache(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftc.runtime.models import resolve_model
    from ftc.runtime.student import MARKER, build_student

    base_dir = resolve_model("smollm2-135m-instruct")
    out = build_student(base_dir, [0, 9, 29], tmp_path / "student")
    assert json.loads((out / MARKER).read_text())["layers"] == [0, 9, 29]
    student = AutoModelForCausalLM.from_pretrained(out)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    assert student.config.num_hidden_layers == 3
    assert [layer.self_attn.layer_idx for layer in student.model.layers] == [0, 1, 2]
    for new, old in enumerate([0, 9, 29]):
        a = student.model.layers[new].mlp.down_proj.weight
        assert torch.equal(a, base.model.layers[old].mlp.down_proj.weight)
    assert torch.equal(student.lm_head.weight, base.lm_head.weight)
    ids = AutoTokenizer.from_pretrained(out)("Order 40137 is late", return_tensors="pt").input_ids
    cached = student.generate(ids, max_new_tokens=5, do_sample=False)
    x = ids
    for _ in range(5):  # the same greedy tokens without a cache: the renumbered layers index it right
        x = torch.cat([x, student(x, use_cache=False).logits[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(cached, x)
    assert build_student(base_dir, [0, 9, 29], tmp_path / "student") == out  # complete: reused as is


RECIPE = """recipe "cut" {
  goal    = behavior("Reply with the order number in the message")
  base    = model("smollm2-135m-instruct")
  teacher = model("smollm2-135m-instruct")
  data "q" {
    path   = "q.jsonl"
    format = chat
  }
  distill { student_layers = [0, 15, 29] }
  constraints {
    device     = cpu
    max_params = 100M
  }
  eval {
    holdout = 25%
    seed    = 3
    expect exact_match >= 0.0
  }
}
"""


def _small_plan(root: Path) -> dict:
    from ftc.compiler.lang.frontend import load_recipe
    from ftc.compiler.plan.planner import build_plan

    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Where is order {40000 + 7 * i}?"},
                {"role": "assistant", "content": str(40000 + 7 * i)},
            ]
        }
        for i in range(12)
    ]
    (root / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "cut.ftr").write_text(RECIPE, encoding="utf-8")
    recipe, diags = load_recipe(root / "cut.ftr")
    assert recipe is not None, diags
    plan = build_plan(recipe, out_dir=root).plan
    assert plan is not None
    for name, value in {"max_steps": 1, "batch": 2, "grad_accum": 1, "max_length": 64, "save_steps": 1}.items():
        plan["hyperparameters"][name] = {"value": value, "set_by": "recipe", "reason": "kept small for a test"}
    for step in plan["steps"]:
        if step["kind"] in ("baseline", "eval"):
            step["config"].update(max_new_tokens=4, prompt_search=None, few_shot=0)
            step["config"].pop("latency_requests", None)
    return plan


def test_a_plan_distils_into_the_cut_student_and_the_ladder_shows_what_it_learned(tmp_path: Path) -> None:
    plan = _small_plan(tmp_path)
    result = Executor(plan, tmp_path, RunOptions(runs_dir=tmp_path / "runs"), STEPS).run()
    # The prompted base meets `exact_match >= 0` but breaks max_params: the guard lets distillation run.
    assert result.outcomes["distill"].status == "ran"
    folder = result.outcomes["distill"].dir
    info = json.loads((folder / "train.json").read_text())
    assert info["student_layers"] == [0, 15, 29] and info["kind"] == "logits" and info["global_step"] == 1
    trained = json.loads((folder / info["output"] / "config.json").read_text())
    assert trained["num_hidden_layers"] == 3  # the tune is the cut student, trained in full
    ev = result.outcomes["eval"].dir
    for stage in ("student", "teacher"):
        assert (ev / "stages" / stage / "predictions.jsonl").exists()
    gate = json.loads((result.outcomes["gate"].dir / "gate.json").read_text())
    against = {s["against"] for s in gate["stages"]}
    assert {"the prompted base", "the untuned cut student", "the teacher"} <= against
