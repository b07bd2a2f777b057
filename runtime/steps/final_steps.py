"""gate: decide whether the tune is promoted. Also the score readers the export step shares."""

from __future__ import annotations

from ftc.runtime.gate import decide
from ftc.runtime.steps import common
from ftc.runtime.steps.spec import step
from ftc.shared import atomic
from ftc.shared.errors import FtcError


def tuned_scores(ctx) -> dict | None:  # noqa: ANN001 - the executor's Context
    """The eval step's values against the current expects, its perplexities and row set, or None
    when no tune ran."""
    ev = ctx.by_kind("eval")
    if ev is None or ev.status == "skipped" or ev.dir is None:
        return None
    return _scores(ctx, ev.dir)


def baseline_scores(ctx) -> dict:  # noqa: ANN001
    return _scores(ctx, ctx.need_dir("baseline"))


def _scores(ctx, folder) -> dict:  # noqa: ANN001
    saved = common.read_scores(folder)
    return {"values": common.scores_of(ctx.plan, ctx.project_root, folder), "perplexity": saved.get("perplexity", {}),
            "rows": saved.get("rows"), "rows_sha256": saved.get("rows_sha256")}


def same_rows(base: dict, tuned: dict | None) -> None:
    """Refuse to compare a baseline and a tune scored on different holdout rows: the verdict would
    measure the row sets, not the tune (a damaged holdout once gave the eval 3 rows to the
    baseline's 6)."""
    if tuned is None:
        return
    if (base["rows"], base["rows_sha256"]) != (tuned["rows"], tuned["rows_sha256"]) or base["rows"] is None:
        raise FtcError(
            f"error: the baseline was scored on {base['rows']} holdout rows and the tune on {tuned['rows']}"
            + (" (different rows)" if base["rows"] == tuned["rows"] else "")
            + ": the gate compares only scores over the same rows; re-run both with `--force split`")


@step("gate", reads=("expects", "gate"), needs_outputs_of=("baseline", "eval"))
def gate_step(ctx) -> dict:  # noqa: ANN001
    base = baseline_scores(ctx)
    tuned = tuned_scores(ctx)
    same_rows(base, tuned)
    result = decide(ctx.plan.get("expects", []), ctx.plan.get("gate") or {}, base["values"],
                    None if tuned is None else tuned["values"])
    atomic.write_json(ctx.dir / "gate.json", result)
    return {"passed": result["passed"], "verdict": result["verdict"]}
