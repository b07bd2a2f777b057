"""A recipe with nothing but preference pairs: the holdout holds pairs out, the baseline and the
tune are scored on their prompts against the chosen answers, SFT learns the chosen answers of the
train pairs only, and the gate compares rows (it scored none before: every pair went to train).

The data steps, the gate and the export are real; baseline, train, dpo and eval run without a
model under their real specs (as in test_step_specs): the baseline answers nothing, the tune
answers every reference, so the gate promotes only if it had rows to compare.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from ftc.compiler.lang.frontend import load_recipe
from ftc.compiler.plan.planner import build_plan
from ftc.runtime.executor import Executor, RunOptions
from ftc.runtime.steps import GUARD, STEPS
from ftc.shared import atomic

RECIPE = """recipe "pairs-only" {
  goal = behavior("Answer yes or no with the item number")
  base = model("smollm2-135m-instruct")
  data "pairs" {
    path   = "data/pairs.jsonl"
    format = preference
  }
  train {
    lr = 0.001
  }
  eval {
    holdout = 10%
    seed    = 3
    expect regex("yes") >= 0.5
    beat baseline by 10%
  }
}
"""


def _project(root: Path, n: int = 120) -> Path:
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike".split()
    rows = [
        {
            "prompt": f"Is item {i} ({words[i % 13]} {words[(i * 5) % 13]} {words[(i * 7) % 13]}) in stock?",
            "chosen": f"yes, item {i} is in stock",
            "rejected": f"no idea about {words[(i * 3) % 13]}",
        }
        for i in range(n)
    ]
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "pairs.ftr").write_text(RECIPE, encoding="utf-8")
    return root


def _fake_model_steps(seen: dict) -> dict:
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

    def tuned(kind: str):  # noqa: ANN202
        def step(ctx) -> dict:  # noqa: ANN001
            if kind == "train":
                seen["train"] = common.examples(ctx, "train", ctx.config.get("sources"))
            atomic.write_json(ctx.dir / "adapter" / "adapter_config.json", {"r": 8})
            atomic.write_json(ctx.dir / "train.json", {"method": "lora", "output": "adapter", "global_step": 1})
            atomic.write_json(ctx.dir / "loss_history.json", [{"step": 1, "loss": 1.0}])
            return {}

        return step

    fakes = {
        "baseline": baseline,
        "train": tuned("train"),
        "dpo": tuned("dpo"),
        "eval": lambda ctx: generation(ctx, lambda ref: ref),
    }
    return {k: replace(spec, fn=fakes.get(k, spec.fn)) for k, spec in STEPS.items()}


def test_pairs_only_holds_pairs_out_and_the_gate_compares_them(tmp_path: Path) -> None:
    root = _project(tmp_path)
    recipe, diags = load_recipe(root / "pairs.ftr")
    assert recipe is not None, diags
    result = build_plan(recipe, root)
    assert result.plan is not None, result.diagnostics
    assert [s["kind"] for s in result.plan["steps"]].count("dpo") == 1
    seen: dict = {}
    run = Executor(result.plan, root, RunOptions(runs_dir=root / "runs"), _fake_model_steps(seen), guard=GUARD).run()
    split = run.outcomes["split"].summary
    assert split["holdout"] == 12 and split["train"] == 108
    # SFT learned the chosen answers of the train pairs only
    assert len(seen["train"]) == 108 and all(e.completion.startswith("yes, item") for e in seen["train"])
    held = {json.loads(line)["reference"] for line in (run.run_dir / "eval" / "predictions.jsonl").open()}
    assert len(held) == 12 and held.isdisjoint(e.completion for e in seen["train"])
    metrics = json.loads((run.run_dir / "export" / "metrics.json").read_text())
    assert metrics["rows"] == {"baseline": 12, "tuned": 12}
    assert run.promoted, run.gate
