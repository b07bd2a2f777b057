"""Step specs, the plan view and the cache key (no model): every step declares what it reads, a
read it does not declare fails, and a plan edit changes exactly the keys of the steps that read it."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from run_support import make_plan, make_project

from ftc.runtime import steps as step_package
from ftc.runtime.executor import Context, Executor, Outcome, RunOptions, step_key
from ftc.runtime.plan_view import PlanView, UndeclaredRead
from ftc.runtime.steps import GUARD, STEPS
from ftc.shared import atomic
from ftc.shared.contract import STEP_KINDS

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "plans"
PLANS = sorted(GOLDEN.glob("*.json"))
# Hyper-parameter entries hash by value: their wording is neither keyed nor visible to a step.
UNKEYED_LEAVES = (".set_by", ".reason")


def _golden(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_step_kind_of_the_contract_is_registered_with_a_consistent_spec() -> None:
    assert set(STEPS) == set(STEP_KINDS)
    for kind, spec in STEPS.items():
        assert spec.kind == kind and callable(spec.fn)
        assert set(spec.needs_outputs_of) <= set(STEP_KINDS) - {kind}, kind
        assert all(r and not r.startswith(("steps", "project_root")) for r in spec.reads), kind
    assert {k for k, s in STEPS.items() if s.guarded} == {
        "lr_probe",
        "synthesize",
        "train",
        "dpo",
        "orpo",
        "kto",
        "distill",
        "eval",
    }
    assert {k for k, s in STEPS.items() if s.content_keyed} == {"load", "clean", "dedup", "split"}
    # The bar, and whether the prompted base is ruled out by a student cut from it (R-STUDENT-LAYERS).
    assert step_package.GUARD.reads == ("expects", "model.student_layers") and GUARD.needs_outputs_of == ("baseline",)


def test_the_plan_view_refuses_undeclared_reads_and_shows_what_the_key_hashes() -> None:
    plan = _golden(GOLDEN / "quickstart.json")
    view = PlanView(plan, ("prompt", "model.base", "hyperparameters.seed"), "'baseline' (baseline)")
    assert view.get("prompt.system") == plan["prompt"]["system"]
    assert view.get("model.base") == "smollm2-135m-instruct"
    assert view.get("hyperparameters.seed") == plan["hyperparameters"]["seed"]["value"]
    assert view.get("hyperparameters.seed.reason") is None  # the key ignores it, so the step cannot see it
    for undeclared in ("model", "model.params", "hyperparameters", "hyperparameters.lr", "expects", "steps"):
        with pytest.raises(UndeclaredRead, match=f"read plan section '{undeclared}'"):
            view.get(undeclared)
    whole = PlanView(plan, ("hyperparameters",), "t")
    assert whole.get("hyperparameters")["lr"] == plan["hyperparameters"]["lr"]["value"]
    view.get("prompt")["system"] = "changed"  # a copy: the plan is untouched
    assert plan["prompt"]["system"] != "changed"


def test_a_step_reading_an_earlier_step_it_does_not_declare_fails(tmp_path: Path) -> None:
    spec = STEPS["gate"]
    outcomes = {
        "split": Outcome("split", "split", "ran", "k", tmp_path),
        "baseline": Outcome("baseline", "baseline", "ran", "k", tmp_path),
    }
    ctx = Context(
        PlanView({}, spec.reads, "gate"),
        {"id": "gate", "kind": "gate"},
        tmp_path,
        tmp_path,
        outcomes,
        RunOptions(),
        tmp_path,
        None,
        spec,
    )
    assert ctx.need_dir("baseline") == tmp_path
    with pytest.raises(UndeclaredRead, match="outputs of 'split'"):
        ctx.need_dir("split")


def _leaves(value: Any, prefix: str = "") -> list[str]:
    """Every dotted path to a non-dict value (lists are leaves), and every empty dict."""
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in _leaves(v, f"{prefix}.{k}" if prefix else k)]
    return [prefix] if prefix else []


def _mutated(plan: dict, path: str) -> dict:
    out = copy.deepcopy(plan)
    *parents, last = path.split(".")
    holder = out
    for part in parents:
        holder = holder[part]
    old = holder[last]
    if isinstance(old, bool):
        new: Any = not old
    elif isinstance(old, (int, float)):
        new = old + 1
    elif isinstance(old, str):
        new = old + "-edited"
    elif isinstance(old, list):
        new = [*old, "edited"]
    else:
        new = "edited"
    holder[last] = new
    return out


def _key(plan: dict, step: dict) -> str:
    spec = STEPS[step["kind"]]
    # The earlier steps' refs are held fixed: this is the step's own key, from its own reads.
    needs = {n: f"ref-{n}" for n in step.get("needs", [])}
    inputs = {k: f"ref-{k}" for k in spec.needs_outputs_of}
    return step_key(plan, step, spec, needs, inputs)


@pytest.mark.parametrize("plan_path", PLANS, ids=lambda p: p.stem)
def test_a_plan_edit_changes_a_steps_key_exactly_when_the_step_can_read_it(plan_path: Path) -> None:
    """The property: for each step and each plan leaf outside ``steps``, an edit changes the key
    iff the step's view shows the edit; where it does not, the view refuses the read, so the step
    provably computes the same output."""
    plan = _golden(plan_path)
    leaves = [p for p in _leaves(plan) if not p.startswith("steps")]
    assert len(leaves) > 50
    for step in plan["steps"]:
        spec = STEPS[step["kind"]]
        view = PlanView(plan, spec.reads, step["id"])
        before = _key(plan, step)
        for path in leaves:
            changed = _key(_mutated(plan, path), step) != before
            declared = spec.declares(path)
            if declared and not (path.startswith("hyperparameters.") and path.endswith(UNKEYED_LEAVES)):
                assert changed, f"{step['id']}: editing {path} (declared) left the key unchanged"
                continue
            assert not changed, f"{step['id']}: editing {path} (not read) changed the key"
            if declared:  # a hyper-parameter's wording: invisible to the step
                assert view.get(path) is None
            else:
                with pytest.raises(UndeclaredRead):
                    view.get(path)


@pytest.mark.parametrize("plan_path", PLANS, ids=lambda p: p.stem)
def test_a_steps_key_depends_on_its_own_config_not_on_other_steps(plan_path: Path) -> None:
    plan = _golden(plan_path)
    for i, step in enumerate(plan["steps"]):
        before = _key(plan, step)
        own = copy.deepcopy(plan)
        own["steps"][i]["config"]["edited"] = True
        assert _key(own, own["steps"][i]) != before
        for j in range(len(plan["steps"])):
            if j != i:
                other = copy.deepcopy(plan)
                other["steps"][j]["config"]["edited"] = True
                assert _key(other, other["steps"][i]) == before


class Recorder:
    """Step functions that record which ran, under the real specs of their kinds."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def fn(self, kind: str):
        def run(ctx) -> dict:
            self.ran.append(kind)
            atomic.write_json(ctx.dir / "out.json", {"kind": kind})
            return {}

        return run

    def steps(self) -> dict:
        return {k: replace(spec, fn=self.fn(k)) for k, spec in STEPS.items()}


def test_editing_the_train_seed_reruns_the_baseline(tmp_path: Path) -> None:
    """The baseline picks its few-shot examples with hyperparameters.seed: a seed edit must not
    reuse the baseline generated with the old examples (it did, before steps declared reads)."""
    root = make_project(tmp_path)
    first = Recorder()
    Executor(make_plan(root, ["json_valid >= 0.5"]), root, RunOptions(runs_dir=root / "runs"), first.steps()).run()
    assert "baseline" in first.ran
    again = Recorder()
    reseeded = make_plan(root, ["json_valid >= 0.5"], train_extra="seed = 3")
    assert reseeded["hyperparameters"]["seed"]["value"] == 3
    Executor(reseeded, root, RunOptions(runs_dir=root / "runs"), again.steps()).run()
    assert again.ran == ["baseline", "train", "eval", "gate", "export"]  # the data steps stay cached


def _fake_model_steps() -> dict:
    """baseline, train and eval without a model, under their real specs: the baseline answers
    nothing, the tune answers every reference. The data steps, the gate and the export are real."""
    from ftc.runtime.prompting import tuned_prompt
    from ftc.runtime.steps import common

    def generation(ctx, answer) -> dict:  # noqa: ANN001
        holdout = common.examples(ctx, "holdout")
        refs = [e.completion for e in holdout]
        common.write_predictions(ctx.dir, [tuned_prompt(e) for e in holdout], refs, [answer(r) for r in refs])
        common.write_scores(ctx.dir, common.row_set(holdout), {"general": 20.0, "holdout": 9.0})
        return {"rows": len(holdout)}

    def baseline(ctx) -> dict:  # noqa: ANN001
        atomic.write_text(ctx.dir / "prompt.txt", f"[system]\n{common.system_prompt(ctx.plan)}\n")
        return generation(ctx, lambda ref: "")

    def train(ctx) -> dict:  # noqa: ANN001
        atomic.write_json(ctx.dir / "adapter" / "adapter_config.json", {"r": common.hp_value(ctx.plan, "lora_r")})
        atomic.write_json(ctx.dir / "train.json", {"method": "lora", "output": "adapter", "global_step": 1})
        atomic.write_json(ctx.dir / "loss_history.json", [{"step": 1, "loss": 1.0}])
        return {}

    fakes = {"baseline": baseline, "train": train, "eval": lambda ctx: generation(ctx, lambda ref: ref)}
    return {k: replace(spec, fn=fakes.get(k, spec.fn)) for k, spec in STEPS.items()}


def test_the_real_data_gate_and_export_steps_read_only_what_they_declare(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    plan = make_plan(root, ['regex("category") >= 0.5'])
    result = Executor(plan, root, RunOptions(runs_dir=root / "runs"), _fake_model_steps(), guard=GUARD).run()
    assert result.promoted, result.gate
    export = result.run_dir / "export"
    metrics = json.loads((export / "metrics.json").read_text())
    holdout = result.outcomes["split"].summary["holdout"]
    assert metrics["rows"] == {"baseline": holdout, "tuned": holdout}
    assert (export / "adapter" / "adapter_config.json").exists() and (export / "report.md").exists()
