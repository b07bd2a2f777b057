"""The export step: what a person takes away from a run.

``export/`` holds ``metrics.json``, ``prompt.txt`` (the winning prompt), ``report.md``,
``report.html``, the data report, and, only when the tune was promoted, ``adapter/`` (LoRA) or
``model/`` (full) and ``merged/`` when the plan asks for merged weights, and with ``gguf`` the
GGUF file, its Ollama ``Modelfile`` and ``gguf.json`` (``export_gguf``). A tune that lost stays
in its train folder, named in the report as a candidate: exporting it would ship a model that
never proved it beats the prompt (the failure DSPy PR #8194 fixed).
"""

from __future__ import annotations

import json
from pathlib import Path

from ftc.runtime.gate import FORGETTING_WARN
from ftc.runtime.report import write_reports
from ftc.runtime.steps import common
from ftc.runtime.steps.final_steps import baseline_scores, tuned_scores
from ftc.runtime.steps.model_steps import TUNING_KINDS, trained_kind, trained_output
from ftc.runtime.steps.retrieval import NOTE
from ftc.runtime.steps.spec import step
from ftc.shared import atomic


def _read(path: Path, default: object = None) -> object:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else default


def metrics_doc(ctx, gate: dict) -> dict:  # noqa: ANN001 - the executor's Context
    """metrics.json: ``baseline`` and ``tuned`` share their keys (the expect labels); ``tuned``
    values are null when no tune ran. ``checks``: per expect, the gate's paired statistics (diff =
    tuned - baseline, its 95% interval, the p-value and its test, the rows); ``stages``: the ladder,
    each stage against the one before on the same rows; ``forgetting``: the relative rise of
    general-text perplexity. Other tools read these keys: keep them stable."""
    base = baseline_scores(ctx)
    tuned = tuned_scores(ctx)
    by_label = {c["label"]: c for c in gate.get("checks", [])}
    labels = list(base["values"])
    # The gate's values where it derived them (forgetting is a comparison of two models' perplexity).
    base_values = {
        label: by_label[label]["baseline"] if label in by_label else base["values"][label] for label in labels
    }
    tuned_values = {
        label: (by_label[label]["tuned"] if label in by_label else tuned["values"].get(label)) if tuned else None
        for label in labels
    }
    ppl_after = (tuned or {}).get("perplexity", {})
    return {
        "baseline": base_values,
        "tuned": tuned_values,
        "perplexity": {
            "text": "general",
            "before": base["perplexity"].get("general"),
            "after": ppl_after.get("general"),
            "holdout_before": base["perplexity"].get("holdout"),
            "holdout_after": ppl_after.get("holdout"),
        },
        "forgetting": {
            "rise": gate.get("forgetting"),
            "warn_over": FORGETTING_WARN,
            "expected": any(e["metric"] == "forgetting" for e in ctx.plan.get("expects", [])),
        },
        "gate": {"passed": gate["passed"], "verdict": gate["verdict"], "reasons": gate["reasons"]},
        "expects": [
            {k: e[k] for k in ("label", "metric", "args", "op", "threshold")} for e in ctx.plan.get("expects", [])
        ],
        "checks": [{k: c.get(k) for k in CHECK_STATS} for c in gate.get("checks", [])],
        "stages": gate.get("stages", []),
        "rows": {"baseline": base["rows"], "tuned": tuned["rows"] if tuned else None},
    }


CHECK_STATS = (
    "expect",
    "label",
    "baseline",
    "tuned",
    "n",
    "diff",
    "ci_low",
    "ci_high",
    "p_value",
    "test",
    "margin_required",
    "point_ok",
    "margin_ok",
    "bar_ok",
)


def _trained(ctx) -> bool:  # noqa: ANN001
    return trained_kind(ctx) is not None


@step(
    "export",
    reads=("prompt", "expects", "gate", "recipe.name", "strategy", "method", "model.base", "estimates.latency"),
    needs_outputs_of=("split", "baseline", "lr_probe", "synthesize", *TUNING_KINDS, "eval", "gate"),
    version=3,
)
def export_step(ctx) -> dict:  # noqa: ANN001
    """The deliverables (see the module docstring)."""
    gate = _read(ctx.need_dir("gate") / "gate.json")
    promoted_tune = bool(gate["passed"]) and _trained(ctx)
    files: list[str] = []
    if promoted_tune:
        files += _export_weights(ctx, trained_output(ctx))
    prompt = _winning_prompt(ctx, promoted_tune)
    atomic.write_text(ctx.dir / "prompt.txt", prompt)
    metrics = metrics_doc(ctx, gate)
    atomic.write_json(ctx.dir / "metrics.json", metrics)
    split_dir = ctx.need_dir("split")
    for name in ("data_report.json", "data_report.txt"):
        if (split_dir / name).exists():
            atomic.copy_file(split_dir / name, ctx.dir / name)
    files += ["prompt.txt", "metrics.json", "data_report.json", "data_report.txt"]
    write_reports(ctx.dir, _report_input(ctx, gate, metrics, promoted_tune))
    files += ["report.md", "report.html"]
    return {"files": files, "promoted_tune": promoted_tune}


def _export_weights(ctx, output: Path) -> list[str]:  # noqa: ANN001
    full = (output / "config.json").exists() and not (output / "adapter_config.json").exists()
    name = "model" if full else "adapter"
    atomic.copy_tree(output, ctx.dir / name)
    files = [f"{name}/"]
    if ctx.config.get("merged") and not full:
        from ftc.runtime.train.sft import merge_adapter

        merge_adapter(common.model_dir(ctx), output, ctx.dir / "merged", chat_template=common.chat_template(ctx.plan))
        files.append("merged/")
    if ctx.config.get("gguf"):
        from ftc.runtime.steps.export_gguf import export_gguf

        files += export_gguf(ctx, output, full)
    return files


def _winning_prompt(ctx, promoted_tune: bool) -> str:  # noqa: ANN001
    """The tuned model is prompted exactly as it was trained: the system prompt alone. Otherwise
    the prompt is the deliverable: the system prompt plus the baseline's few-shot examples."""
    if promoted_tune:
        return f"[system]\n{common.system_prompt(ctx.plan)}\n" + (f"\n{NOTE}" if _eval_used_retrieval(ctx) else "")
    return (ctx.need_dir("baseline") / "prompt.txt").read_text(encoding="utf-8")


def _eval_used_retrieval(ctx) -> bool:  # noqa: ANN001
    """Whether the tune was evaluated with retrieved context before each question: then the
    exported prompt says so (the NOTE), since the tuned model expects it."""
    ev = ctx.by_kind("eval")
    if ev is None or ev.dir is None or ev.status == "skipped":
        return False
    return bool(common.read_scores(ev.dir).get("retrieval"))


def _report_input(ctx, gate: dict, metrics: dict, promoted_tune: bool) -> dict:  # noqa: ANN001
    train = ctx.by_kind("train")
    train_info, history = None, []
    if _trained(ctx) and train is not None and train.dir is not None:
        train_info = _read(train.dir / "train.json", {})
        history = _read(train.dir / "loss_history.json", [])
    return {
        "recipe": ctx.plan.get("recipe.name", "recipe"),
        "plan_hash": ctx.run_dir.name,
        "run_dir": str(ctx.run_dir),
        "model": ctx.plan.get("model.base"),
        "method": ctx.plan.get("method"),
        "strategy": ctx.plan.get("strategy", []),
        "gate": gate,
        "metrics": metrics,
        "promoted_tune": promoted_tune,
        "trained": _trained(ctx),
        "candidate": str(train.dir) if train is not None and train.dir is not None and not promoted_tune else None,
        "train": train_info,
        "history": history,
        "data": _read(ctx.need_dir("split") / "data_report.json", {}),
        "steps": [o.to_json() | {"id": o.id} for o in ctx.outcomes.values() if o.kind != "export"],
        "prompt": _winning_prompt(ctx, promoted_tune),
        "prompt_search": _read(ctx.need_dir("baseline") / "prompt_search.json"),
        "lr_probe": _lr_probe(ctx),
        "synthesis": _synthesis(ctx),
        "latency": _latency(ctx),
        "gguf": _read(ctx.dir / "gguf.json"),
    }


def _synthesis(ctx) -> dict | None:  # noqa: ANN001
    """synth.json of the synthesize step (requested, generated, kept, dropped by reason), when it ran."""
    synth = ctx.by_kind("synthesize")
    if synth is None or synth.dir is None or synth.status == "skipped":
        return None
    return _read(synth.dir / "synth.json")  # type: ignore[return-value]


def _latency(ctx) -> dict | None:  # noqa: ANN001
    """The plan's latency estimate and the measured figures of the baseline's model and the tune,
    when the plan measured latency (R-LATENCY-MEASURED)."""
    estimate = ctx.plan.get("estimates.latency")
    if not estimate:
        return None
    measured = {"baseline": common.read_scores(ctx.need_dir("baseline")).get("latency")}
    ev = ctx.by_kind("eval")
    if ev is not None and ev.dir is not None and ev.status != "skipped":
        measured["tuned"] = common.read_scores(ev.dir).get("latency")
    return {"estimate": estimate, "measured": measured}


def _lr_probe(ctx) -> dict | None:  # noqa: ANN001
    """lr_probe.json of the learning-rate probe, when the plan had one and it ran."""
    probe = ctx.by_kind("lr_probe")
    if probe is None or probe.dir is None or probe.status == "skipped":
        return None
    return _read(probe.dir / "lr_probe.json")  # type: ignore[return-value]
