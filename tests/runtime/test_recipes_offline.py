"""Every recipe in recipes/ reaches a verdict on this machine (2 CPU cores, offline), or says
before anything starts that it needs CUDA or a model that is not here (issue 16 part 5).

Each CPU recipe is compiled by the real planner on its real data, then its plan is shrunk the way
a smoke run would be: each source capped to a few rows (the load step's seeded ``max_rows``), one
optimiser step per tuning stage, four new tokens per answer, no prompt search, a one-step lr
probe. Every step the plan has runs in a separate ``ftc run`` process, as a user runs it; what is
asserted is the shape of the outcome (each step ran or was skipped by its guard with a reason, and
the gate wrote a verdict), not the verdict itself, which a four-token answer cannot earn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from run_support import ftc_run, write_plan

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "recipes").glob("*.ftr"))
VERDICTS = {"promoted", "not promoted", "prompt is the deliverable"}
ROWS = 16  # per source: a holdout of a few rows and a train split that still fills a batch

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _plan(recipe: Path, out: Path) -> dict:
    from ftc.compiler.lang.frontend import load_recipe
    from ftc.compiler.plan.planner import build_plan

    loaded, diags = load_recipe(recipe)
    assert loaded is not None, diags
    plan = build_plan(loaded, out_dir=out).plan
    assert plan is not None, recipe
    return plan


def _shrink(plan: dict) -> dict:
    hp = plan["hyperparameters"]
    small = {"max_steps": 1, "batch": 2, "grad_accum": 1, "save_steps": 1, "early_stopping": False, "eval_steps": None}
    for name, value in small.items():
        hp[name] = {"value": value, "set_by": "recipe", "reason": "a smoke run"}
    hp["max_length"]["value"] = min(int(hp["max_length"]["value"]), 128)
    for step in plan["steps"]:
        cfg, kind = step["config"], step["kind"]
        if kind == "load":
            for src in cfg["sources"]:
                if src["format"] != "documents":
                    src["max_rows"] = ROWS
        if kind in ("baseline", "eval", "distill", "synthesize"):
            cfg["max_new_tokens"] = 4
        if kind in ("baseline", "eval") and cfg.get("latency_requests"):
            cfg["latency_requests"] = 2
        if kind == "baseline":
            cfg.update(prompt_search=None, few_shot=0)
        if kind == "lr_probe":
            cfg.update(steps=1, validation_rows=8, candidates=[cfg["rule_lr"]])
        if kind == "export":
            cfg.pop("gguf", None)
    return plan


def _needs_another_machine(plan: dict) -> bool:
    from ftc.runtime.preflight import check_runnable
    from ftc.shared.errors import FtcError

    try:
        check_runnable(plan, allow_download=False)
    except FtcError:
        return True
    return False


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_each_recipe_reaches_a_verdict_offline_or_says_first_what_it_needs(recipe: Path, tmp_path: Path) -> None:
    plan = _plan(recipe, tmp_path)
    runs = tmp_path / "runs"
    if _needs_another_machine(plan):
        done = ftc_run(str(recipe), "--runs-dir", str(runs), cwd=REPO, timeout=120)
        assert done.returncode != 0 and "nothing was started" in done.stderr, done.stderr
        assert "cuda" in done.stderr.lower() or "hf download" in done.stderr
        assert not any(runs.rglob("state.json")), "a step ran before the refusal"
        return
    path = write_plan(tmp_path / "plan.json", _shrink(plan))
    # The plan file lives in the test folder, its project (the data) in recipes/: allowed explicitly.
    done = ftc_run(str(path), "--runs-dir", str(runs), "--allow-outside", cwd=tmp_path, timeout=600)
    # 0: promoted or the prompt is the deliverable; 3: not promoted (a verdict). Anything else failed.
    assert done.returncode in (0, 3), done.stdout[-3000:] + done.stderr[-3000:]
    (state_file,) = runs.rglob("state.json")
    steps = json.loads(state_file.read_text(encoding="utf-8"))["steps"]
    planned = [s["id"] for s in plan["steps"]]
    assert sorted(steps) == sorted(planned)
    for sid, s in steps.items():
        assert s["status"] in ("ran", "cached", "skipped"), (sid, s)
        if s["status"] == "skipped":
            assert s.get("reason"), (sid, s)
    gate = next(s for s in steps.values() if s["kind"] == "gate")
    assert json.loads((Path(gate["dir"]) / "gate.json").read_text(encoding="utf-8"))["verdict"] in VERDICTS
