"""Run the real gate step on prediction folders a test wrote (imported by name: pytest puts
tests/runtime on the path). No model: the gate re-scores predictions and compares row sets."""

from __future__ import annotations

import json
from pathlib import Path

from ftc.runtime.executor import Context, Outcome, RunOptions
from ftc.runtime.plan_view import PlanView
from ftc.runtime.steps import STEPS


def run_gate(tmp_path: Path, plan: dict, baseline: Path, tuned: Path | None) -> dict:
    """The gate step over ``baseline`` (and ``tuned``, the eval folder, when a tune ran); its gate.json."""
    spec = STEPS["gate"]
    outcomes = {"baseline": Outcome("baseline", "baseline", "cached", "b", baseline)}
    if tuned is not None:
        outcomes["eval"] = Outcome("eval", "eval", "ran", "e", tuned)
    out = tmp_path / "gate"
    out.mkdir(exist_ok=True)
    view = PlanView(plan, spec.reads, "gate")
    ctx = Context(view, {"id": "gate", "kind": "gate"}, out, tmp_path, outcomes, RunOptions(), tmp_path, None, spec)
    spec.fn(ctx)
    return json.loads((out / "gate.json").read_text())
