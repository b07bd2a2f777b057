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
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from run_support import ftc_run, write_plan

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "recipes").glob("*.ftr"))
VERDICTS = {"promoted", "not promoted", "prompt is the deliverable"}
ROWS = 8  # per source: a holdout of a row or two and a train split that still fills a batch
EVAL_ROWS = 4  # an eval-only source (`eval { data = ... }`) is all holdout: a few rows score it

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
    for step in plan["steps"]:
        cfg, kind = step["config"], step["kind"]
        if kind == "load":
            for src in cfg["sources"]:
                if src["format"] != "documents":
                    src["max_rows"] = EVAL_ROWS if src["name"] == cfg.get("eval_source") else ROWS
        if kind in ("baseline", "eval", "distill", "synthesize"):
            cfg["max_new_tokens"] = 4
        if kind in ("baseline", "eval") and cfg.get("latency_requests"):
            cfg["latency_requests"] = 1
        if kind == "baseline":
            cfg.update(prompt_search=None, few_shot=0)
        if kind == "lr_probe":
            cfg.update(steps=1, validation_rows=2, candidates=[cfg["rule_lr"]])
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


@dataclass(frozen=True)
class Outcome:
    plan: dict
    runs: Path
    refused: bool  # preflight says this machine cannot run it
    done: subprocess.CompletedProcess


def _run(recipe: Path, folder: Path) -> Outcome:
    folder.mkdir(parents=True)
    plan = _plan(recipe, folder)
    runs = folder / "runs"
    if _needs_another_machine(plan):
        return Outcome(plan, runs, True, ftc_run(str(recipe), "--runs-dir", str(runs), cwd=REPO, timeout=120))
    path = write_plan(folder / "plan.json", _shrink(plan))
    # The plan file lives in the test folder, its project (the data) in recipes/: allowed explicitly.
    return Outcome(
        plan, runs, False, ftc_run(str(path), "--runs-dir", str(runs), "--allow-outside", cwd=folder, timeout=900)
    )


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every recipe's run, two at a time: each `ftc run` uses one torch thread, so the two cores
    carry two runs without the threads of one fighting over them."""
    root = tmp_path_factory.mktemp("recipes")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {r.stem: pool.submit(_run, r, root / r.stem) for r in RECIPES}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("recipe", [r.stem for r in RECIPES])
def test_each_recipe_reaches_a_verdict_offline_or_says_first_what_it_needs(
    recipe: str, outcomes: dict[str, Outcome]
) -> None:
    out = outcomes[recipe]
    done = out.done
    if out.refused:
        assert done.returncode != 0 and "nothing was started" in done.stderr, done.stderr
        assert "cuda" in done.stderr.lower() or "hf download" in done.stderr
        assert not any(out.runs.rglob("state.json")), "a step ran before the refusal"
        return
    # 0: promoted or the prompt is the deliverable; 3: not promoted (a verdict). Anything else failed.
    assert done.returncode in (0, 3), done.stdout[-3000:] + done.stderr[-3000:]
    (state_file,) = out.runs.rglob("state.json")
    steps = json.loads(state_file.read_text(encoding="utf-8"))["steps"]
    assert sorted(steps) == sorted(s["id"] for s in out.plan["steps"])
    for sid, s in steps.items():
        assert s["status"] in ("ran", "cached", "skipped"), (sid, s)
        if s["status"] == "skipped":
            assert s.get("reason"), (sid, s)
    gate = next(s for s in steps.values() if s["kind"] == "gate")
    assert json.loads((Path(gate["dir"]) / "gate.json").read_text(encoding="utf-8"))["verdict"] in VERDICTS


def test_the_examples_cover_every_strategy_offline(outcomes: dict[str, Outcome]) -> None:
    """What recipes/ shows on this machine: a tune, retrieval, SFT then DPO, and distillation."""
    here = [o.plan for o in outcomes.values() if not o.refused]
    kinds = {s["kind"] for p in here for s in p["steps"]}
    assert {"train", "index", "dpo", "distill"} <= kinds, kinds
