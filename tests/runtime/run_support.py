"""Helpers shared by the `ftc run` tests (imported by name: pytest puts tests/runtime on the path).
A small project (a slice of the quickstart tickets) and a
hand-written plan that follows docs/plan.md, so these tests do not depend on the planner's
choices (hyper-parameters are kept tiny: a few optimiser steps, max_length 192)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

TICKETS = REPO / "recipes" / "data" / "tickets.jsonl"


def make_project(root: Path, rows: int = 20) -> Path:
    """A project folder with the first ``rows`` tickets as data/tickets.jsonl."""
    lines = TICKETS.read_text(encoding="utf-8").splitlines()[:rows]
    data = root / "data" / "tickets.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


RECIPE = """recipe "tickets-test" {
  goal = behavior("Triage a support ticket and reply as JSON with category, priority and reply")
  base = model("smollm2-135m-instruct")
  data "tickets" {
    path   = "data/tickets.jsonl"
    format = chat
  }
  train {
    lr        = 0.002
    max_steps = MAX_STEPS
    few_shot  = 0
TRAIN_EXTRA
  }
  eval {
    holdout = 20%
    seed    = 7
EXPECTS
    beat baseline by 10%
  }
EXPORT}
"""


def make_plan(
    root: Path,
    expects: list[str],
    *,
    max_steps: int = 4,
    save_steps: int = 2,
    max_new_tokens: int = 16,
    merged: bool = False,
    train_extra: str = "",
    export: str = "",
) -> dict:
    """Compile a small recipe with the real front end and planner, then shrink the run for a test
    (tiny generation budget, a checkpoint every ``save_steps``). ``train_extra``: more lines for
    the recipe's train block, e.g. ``"seed = 3"``; ``export``: the recipe's export block's keys,
    e.g. ``"gguf = f16"``."""
    from ftc.compiler.lang.frontend import load_recipe
    from ftc.compiler.plan.planner import build_plan

    text = (
        RECIPE.replace("MAX_STEPS", str(max_steps))
        .replace("EXPECTS", "\n".join(f"    expect {e}" for e in expects))
        .replace("TRAIN_EXTRA\n", f"    {train_extra}\n" if train_extra else "")
        .replace("EXPORT", f"  export {{ {export} }}\n" if export else "")
    )
    recipe_path = root / "tickets.ftr"
    recipe_path.write_text(text, encoding="utf-8")
    recipe, diags = load_recipe(recipe_path)
    assert recipe is not None, diags
    plan = build_plan(recipe, out_dir=root).plan
    assert plan is not None
    hp = plan["hyperparameters"]
    test_values = {
        "save_steps": save_steps,
        "logging_steps": 1,
        "batch": 2,
        "grad_accum": 1,
        "max_length": 192,
        "early_stopping": False,
        "lora_r": 8,
        "lora_alpha": 16,
    }
    for name, value in test_values.items():
        hp[name] = {"value": value, "set_by": "recipe", "reason": "kept small for a test"}
    for step in plan["steps"]:
        if step["kind"] in ("baseline", "eval"):
            step["config"].update(max_new_tokens=max_new_tokens, batch_size=8)
        if step["kind"] == "export":
            step["config"]["merged"] = merged
            if "max_new_tokens" in step["config"]:  # the Modelfile's budget: as the eval decoded
                step["config"]["max_new_tokens"] = max_new_tokens
    return plan


def write_plan(path: Path, plan: dict) -> Path:
    from ftc.compiler.plan.io import write_plan as write

    write(plan, path)  # validates against the plan schema
    return path


def run_env() -> dict:
    """The environment for a test's `ftc run`: one torch thread unless FTC_NUM_THREADS says
    otherwise (on a CPU shared with other jobs, two OpenMP threads ran the model ~10x slower than
    one, as the ML-core tests measured; on dedicated cores one thread costs ~1.5x)."""
    env = dict(os.environ)
    env["FTC_NUM_THREADS"] = env.get("FTC_NUM_THREADS") or "1"
    return env


def ftc_run(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """`ftc run ...` as a user runs it: a separate process, its real exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "ftc.compiler.cli.main", "run", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=run_env(),
    )


def state(run_dir: Path) -> dict:
    return json.loads((run_dir / "state.json").read_text(encoding="utf-8"))


def only_run_dir(runs: Path) -> Path:
    dirs = [p for p in (runs / "tickets-test").iterdir() if p.is_dir() and p.name != "cache"]
    assert len(dirs) == 1, dirs
    return dirs[0]
