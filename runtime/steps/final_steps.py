"""gate: decide whether the tune is promoted, with paired statistics over the holdout rows, and
measure every stage against the one before it (the ladder). Also the score readers the export
step shares.

Files the gate reads besides ``predictions.jsonl`` / ``scores.json`` of baseline and eval (each
optional; a missing one is recorded with the reason):

* ``baseline/no_retrieval/predictions.jsonl``: the same prompt without retrieved context (written
  by the baseline step when retrieval is planned);
* ``eval/stages/sft/predictions.jsonl``: the SFT adapter a DPO stage started from;
* ``eval/stages/student/predictions.jsonl``: a student cut from the base, before distillation;
* ``eval/stages/teacher/predictions.jsonl`` (or ``missing.json``): a distillation's teacher.

Retrieval's rung also reports recall@k: over the holdout rows whose answer names the title of an
indexed document (its first ``# `` heading, read from the dedup step's records), the share whose
retrieved chunks include one from that document.

Every stage file holds the same holdout rows in the same order as ``predictions.jsonl`` (same
references): the comparison is paired by row.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ftc.runtime import stats
from ftc.runtime.gate import decide, forgetting_note
from ftc.runtime.judge import failure_notes
from ftc.runtime.steps import common
from ftc.runtime.steps.spec import step
from ftc.shared import atomic
from ftc.shared.contract import RATE_METRICS
from ftc.shared.errors import FtcError

NO_RETRIEVAL = "no_retrieval"
CUT_STUDENT = "the untuned cut student"  # the ladder's rung for a student cut from the base
STAGES = "stages"


def tuned_scores(ctx) -> dict | None:  # noqa: ANN001 - the executor's Context
    """The eval step's values against the current expects, its perplexities and row set, or None
    when no tune ran."""
    ev = ctx.by_kind("eval")
    if ev is None or ev.status == "skipped" or ev.dir is None:
        return None
    return _scores(ctx, ev.dir)


def baseline_scores(ctx) -> dict:  # noqa: ANN001
    return _scores(ctx, ctx.need_dir("baseline"))


def _scores(ctx, folder: Path) -> dict:  # noqa: ANN001
    saved = common.read_scores(folder)
    return {
        "values": common.scores_of(ctx.plan, ctx.project_root, folder),
        "perplexity": saved.get("perplexity", {}),
        "rows": saved.get("rows"),
        "rows_sha256": saved.get("rows_sha256"),
        "dir": folder,
        "stages": saved.get("stages") or {},
    }


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
            + ": the gate compares only scores over the same rows; re-run both with `--force split`"
        )


def forgetting_rise(base: dict, tuned: dict | None) -> float | None:
    """The relative rise of general-text perplexity after tuning (0.25 = 25 % higher), or None
    when no tune was evaluated."""
    before = base["perplexity"].get("general")
    after = (tuned or {}).get("perplexity", {}).get("general")
    if before is None or after is None or before <= 0:
        return None
    return max(0.0, after / before - 1.0)


# -- per-row scores ---------------------------------------------------------------------------
def rate_expects(plan: Any) -> list[dict]:
    """The expects scored per row (the ones with a paired interval): rates, one per label."""
    seen: dict[str, dict] = {}
    for e in plan.get("expects", []):
        if e["metric"] in RATE_METRICS:
            seen.setdefault(e["label"], e)
    return list(seen.values())


def per_row(expects: list[dict], root: Path, file: Path) -> dict[str, list[float | None]]:
    """Each rate expect's per-row scores of one predictions file, keyed by label."""
    from ftc.runtime.metrics import score

    rows = atomic.read_jsonl(file)
    preds, refs = [r["prediction"] for r in rows], [r["reference"] for r in rows]
    return {e["label"]: list(score(e, preds, refs, root=root).per_row) for e in expects}


def _same_references(first: Path, second: Path) -> None:
    a = [r["reference"] for r in atomic.read_jsonl(first)]
    b = [r["reference"] for r in atomic.read_jsonl(second)]
    if a != b:
        raise FtcError(
            f"error: {second} does not hold the rows of {first} in the same order: a paired comparison "
            "needs the same rows; re-run the steps that wrote them with `--force`"
        )


def seed_of(rows_sha256: str | None) -> int:
    """The bootstrap's seed: from the holdout's row digest, so the same rows give the same interval."""
    return int((rows_sha256 or "0")[:8], 16)


# -- the ladder -------------------------------------------------------------------------------
def compare_stage(
    name: str,
    against: str,
    expects: list[dict],
    root: Path,
    stage_file: Path,
    against_file: Path,
    seed: int,
    *,
    kind: str = "gain",
) -> dict:
    """One rung: ``stage_file``'s predictions against ``against_file``'s on the same rows, per rate
    expect. ``kind`` "gain": the stage should improve on the one before (``helps``: some expect's
    gain has an interval above zero); "reference": a comparison shown, not expected to be won."""
    _same_references(against_file, stage_file)
    first, second = per_row(expects, root, against_file), per_row(expects, root, stage_file)
    checks = []
    for e in expects:
        cmp = stats.compare(first[e["label"]], second[e["label"]], seed=seed)
        sign = -1.0 if e["op"] in ("<=", "<") else 1.0
        gain_low = None if cmp.ci_low is None else min(sign * cmp.ci_low, sign * cmp.ci_high)  # type: ignore[operator]
        checks.append({"label": e["label"], **cmp.to_json(), "helps": None if gain_low is None else gain_low > 0})
    helps = any(c["helps"] for c in checks) if checks else None
    return {
        "stage": name,
        "against": against,
        "kind": kind,
        "rows": checks[0]["n"] if checks else None,
        "checks": checks,
        "helps": helps,
    }


def missing_stage(name: str, against: str, why: str, kind: str = "gain") -> dict:
    return {"stage": name, "against": against, "kind": kind, "rows": None, "checks": [], "helps": None, "missing": why}


def ladder(
    expects: list[dict],
    root: Path,
    base: dict,
    tuned: dict | None,
    seed: int,
    retrieval: bool,
    titles: dict[str, str] | None = None,
) -> list[dict]:
    """Each stage against the one before it, on the same holdout rows (see the module docstring).
    ``titles``: indexed document file name -> its title, for retrieval's recall@k."""
    base_file = base["dir"] / common.PREDICTIONS
    out = []
    if retrieval:
        plain = base["dir"] / NO_RETRIEVAL / common.PREDICTIONS
        rung = (
            compare_stage("retrieval", "the same prompt without retrieval", expects, root, base_file, plain, seed)
            if plain.exists()
            else missing_stage(
                "retrieval",
                "the same prompt without retrieval",
                "the baseline step wrote no predictions without retrieval",
            )
        )
        out.append(rung | {"recall_at_k": recall_at_k(base_file, titles or {})})
    if tuned is None:
        return out
    tuned_file = tuned["dir"] / common.PREDICTIONS
    kind = tuned["stages"].get("tuned", "train")
    name = {"dpo": "dpo tune", "orpo": "orpo tune", "kto": "kto tune", "distill": "distilled student"}.get(kind, "tune")
    cut = "student" in tuned["stages"]
    against = (
        "the prompted base"
        if cut
        else "the untuned student (prompted base)"
        if kind == "distill"
        else "the best prompt"
    )
    out.append(compare_stage(name, against, expects, root, tuned_file, base_file, seed) | {"gate": True})
    if kind in ("dpo", "orpo", "kto"):
        out.append(_optional(tuned["dir"], "sft", kind, "its SFT start", expects, root, tuned_file, seed, "gain"))
    if kind == "distill" and cut:
        out.append(_optional(tuned["dir"], "student", name, CUT_STUDENT, expects, root, tuned_file, seed, "gain"))
    if kind == "distill":
        out.append(
            _optional(
                tuned["dir"],
                "teacher",
                "distilled student",
                "the teacher",
                expects,
                root,
                tuned_file,
                seed,
                "reference",
            )
        )
    return out


def _optional(
    eval_dir: Path,
    sub: str,
    name: str,
    against: str,
    expects: list[dict],
    root: Path,
    tuned_file: Path,
    seed: int,
    kind: str,
) -> dict:
    """``name`` (the tuned predictions) against the eval step's ``stages/<sub>`` predictions."""
    folder = eval_dir / STAGES / sub
    file = folder / common.PREDICTIONS
    if not file.exists():
        why = (
            json.loads((folder / "missing.json").read_text(encoding="utf-8")).get("why", "")
            if (folder / "missing.json").exists()
            else f"the eval step wrote no {sub} predictions"
        )
        return missing_stage(name, against, why, kind)
    return compare_stage(name, against, expects, root, tuned_file, file, seed, kind=kind)


# -- retrieval recall@k -----------------------------------------------------------------------
_CONTEXT_LINE = re.compile(r"^\[(\d+)\] \(([^)\n]+)\) ", re.MULTILINE)


def document_titles(records: list) -> dict[str, str]:
    """Each indexed document's file name -> its title (the first Markdown ``# `` heading): what a
    row's answer names when it cites its source, e.g. "(Manual: Schedules and eco mode)"."""
    out = {}
    for r in records:
        if r.format != "documents":
            continue
        title = next((line[2:].strip() for line in r.fields["text"].splitlines() if line.startswith("# ")), "")
        if title:
            out[Path(r.fields.get("path") or r.file).name] = title
    return out


def retrieved_files(prompt: list[dict]) -> list[str]:
    """The files of the chunks retrieved for a row: the ``[i] (file)`` lines of the context in front
    of its question (the last user turn; the few-shot examples carry their own contexts)."""
    user = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")
    context = user.split("\n\nQuestion:\n", 1)[0] if user.startswith("Context:\n") else ""
    return [m.group(2) for m in _CONTEXT_LINE.finditer(context)]


def recall_at_k(predictions: Path, titles: dict[str, str]) -> dict:
    """recall@k over the rows whose reference names its source document (by title): the share of
    them whose k retrieved chunks include one from that document."""
    named = hits = k = 0
    for row in atomic.read_jsonl(predictions):
        sources = {name for name, title in titles.items() if title in row["reference"]}
        if not sources:
            continue
        files = retrieved_files(row["prompt"])
        k = max(k, len(files))
        named += 1
        hits += bool(sources & set(files))
    if not named:
        return {
            "k": None,
            "rows": 0,
            "hits": 0,
            "recall": None,
            "why": "no holdout answer names the title of an indexed document",
        }
    return {"k": k, "rows": named, "hits": hits, "recall": hits / named}


def stage_notes(stages: list[dict]) -> list[str]:
    """A stage that does not help is named in the verdict (a note: the gate's own comparison is
    judged by the checks)."""
    notes = []
    for s in stages:
        if s["kind"] != "gain" or s.get("gate") or s["helps"] is not False:
            continue
        notes.append(
            f"note: {s['stage']} did not help against {s['against']}: no expect's 95% interval clears zero "
            f"on {s['rows']} rows ({_diffs(s)})"
        )
    return notes


def _diffs(s: dict) -> str:
    return (
        "; ".join(
            f"{c['label']} {c['diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
            for c in s["checks"]
            if c["diff"] is not None
        )
        or "no rows scored"
    )


# -- the step ---------------------------------------------------------------------------------
def gate_inputs(ctx) -> dict:  # noqa: ANN001
    """Everything the verdict is made of: scores, paired rows, forgetting, the ladder."""
    base = baseline_scores(ctx)
    tuned = tuned_scores(ctx)
    same_rows(base, tuned)
    expects = ctx.plan.get("expects", [])
    rates = rate_expects(ctx.plan)
    root = Path(ctx.project_root)
    seed = seed_of(base["rows_sha256"])
    rise = forgetting_rise(base, tuned)
    base_values = dict(base["values"])
    tuned_values = None if tuned is None else dict(tuned["values"])
    for e in expects:
        if e["metric"] == "forgetting":
            base_values[e["label"]] = 0.0  # the untuned model has forgotten nothing
            if tuned_values is not None:
                tuned_values[e["label"]] = rise
    rows = {}
    if tuned is not None:
        b, t = (
            per_row(rates, root, base["dir"] / common.PREDICTIONS),
            per_row(rates, root, tuned["dir"] / common.PREDICTIONS),
        )
        rows = {label: (b[label], t[label]) for label in b}
    retrieval = _used_retrieval(base["dir"])
    stages = ladder(rates, root, base, tuned, seed, retrieval, _titles(ctx) if retrieval else None)
    return {
        "expects": expects,
        "base": base_values,
        "tuned": tuned_values,
        "rows": rows,
        "seed": seed,
        "stages": stages,
        "forgetting": rise,
        "n": base["rows"],
    }


def _titles(ctx) -> dict[str, str]:  # noqa: ANN001
    from ftc.runtime import data

    dedup = ctx.by_kind("dedup")
    if dedup is None or dedup.dir is None:
        return {}
    return document_titles(data.read_records(dedup.dir / "records.jsonl"))


def _used_retrieval(baseline_dir: Path) -> bool:
    """The baseline retrieved context: it says so in its prompt.txt (the retrieval NOTE) or wrote the
    comparison without it."""
    from ftc.runtime.steps.retrieval import NOTE

    prompt = baseline_dir / "prompt.txt"
    return (baseline_dir / NO_RETRIEVAL).exists() or (prompt.exists() and NOTE in prompt.read_text(encoding="utf-8"))


def _judge_summaries(ctx) -> dict[str, list[dict]]:  # noqa: ANN001
    """The judge summaries scoring wrote beside the baseline's and the tune's predictions."""
    from ftc.runtime.judge import summaries

    ev = ctx.by_kind("eval")
    folders = {"baseline": ctx.need_dir("baseline"), "tuned model": None if ev is None else ev.dir}
    if ev is not None and ev.status == "skipped":
        folders["tuned model"] = None
    found = {who: summaries(d) for who, d in folders.items() if d is not None}
    return {who: s for who, s in found.items() if s}


@step("gate", reads=("expects", "gate"), needs_outputs_of=("dedup", "baseline", "eval"), version=3)
def gate_step(ctx) -> dict:  # noqa: ANN001
    g = gate_inputs(ctx)
    cut = any(s.get("against") == CUT_STUDENT for s in g["stages"])
    notes = stage_notes(g["stages"]) + forgetting_note(g["expects"], g["forgetting"], cut=cut)
    result = decide(
        g["expects"], ctx.plan.get("gate") or {}, g["base"], g["tuned"], rows=g["rows"], seed=g["seed"], notes=notes
    )
    result.update(stages=g["stages"], forgetting=g["forgetting"], rows=g["n"], seed=g["seed"])
    judged = _judge_summaries(ctx)
    if judged:  # a judge's unparseable replies are counted in the verdict, never hidden
        result.update(judge=judged, reasons=result["reasons"] + failure_notes(judged))
    atomic.write_json(ctx.dir / "gate.json", result)
    return {"passed": result["passed"], "verdict": result["verdict"]}
