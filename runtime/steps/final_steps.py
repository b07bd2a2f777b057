"""gate and export: decide, then write the deliverables."""

from __future__ import annotations

import json

from ftc.shared import atomic
from ftc.runtime.gate import decide
from ftc.runtime.steps import common


def tuned_scores(ctx) -> dict | None:  # noqa: ANN001 - the executor's Context
    """The eval step's values against the current expects, or None when no tune ran."""
    ev = ctx.by_kind("eval")
    if ev is None or ev.status == "skipped" or ev.dir is None:
        return None
    saved = json.loads((ev.dir / common.SCORES).read_text(encoding="utf-8"))
    return {"values": common.scores_of(ctx.plan, ctx.project_root, ev.dir), "perplexity": saved.get("perplexity", {})}


def baseline_scores(ctx) -> dict:  # noqa: ANN001
    folder = ctx.need_dir("baseline")
    saved = json.loads((folder / common.SCORES).read_text(encoding="utf-8"))
    return {"values": common.scores_of(ctx.plan, ctx.project_root, folder), "perplexity": saved.get("perplexity", {})}


def gate_step(ctx) -> dict:  # noqa: ANN001
    base = baseline_scores(ctx)
    tuned = tuned_scores(ctx)
    result = decide(ctx.plan.get("expects", []), ctx.plan.get("gate") or {}, base["values"],
                    None if tuned is None else tuned["values"])
    atomic.write_json(ctx.dir / "gate.json", result)
    return {"passed": result["passed"], "verdict": result["verdict"]}


def export_step(ctx) -> dict:  # noqa: ANN001
    from ftc.runtime.export import export

    return export(ctx)
