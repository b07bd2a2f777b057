"""report.md / report.html from a gate decision (no model): the verdict is the first thing a
person reads, the charts are embedded, and the not-promoted / prompt-only cases say why."""

from __future__ import annotations

import base64
from pathlib import Path

from ftc.runtime.gate import decide
from ftc.runtime.report import write_reports

EM = {
    "label": 'exact_match(field="category")',
    "metric": "exact_match",
    "args": {"field": "category"},
    "op": ">=",
    "threshold": 0.8,
}
GATE = {"beat_baseline_pct": 10.0}


def _info(gate: dict, baseline: float, tuned: float | None, trained: bool) -> dict:
    return {
        "recipe": "demo",
        "plan_hash": "abc123",
        "run_dir": "/tmp/runs/demo/abc123",
        "model": "smollm2-135m-instruct",
        "method": "lora",
        "strategy": ["prompt", "finetune"],
        "gate": gate,
        "metrics": {
            "baseline": {EM["label"]: baseline},
            "tuned": {EM["label"]: tuned},
            "perplexity": {"before": 20.0, "after": 25.0 if trained else None},
            "expects": [EM],
        },
        "promoted_tune": trained and gate["passed"],
        "trained": trained,
        "candidate": "/tmp/runs/demo/cache/train-x" if trained and not gate["passed"] else None,
        "train": {
            "method": "lora",
            "global_step": 3,
            "train_tokens": 900,
            "train_seconds": 9.0,
            "tokens_per_second": 100.0,
            "train_rows": 16,
            "resumed_from_step": 2,
        }
        if trained
        else None,
        "history": [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.5}, {"step": 3, "loss": 2.0}] if trained else [],
        "data": {
            "stages": [{"name": "read", "rows": 20}, {"name": "train", "rows": 16}, {"name": "holdout", "rows": 4}]
        },
        "steps": [
            {
                "id": "train",
                "status": "ran" if trained else "skipped",
                "reason": "" if trained else "met",
                "seconds": 9.0,
                "kind": "train",
                "key": "k",
                "dir": None,
                "output": None,
            }
        ],
        "prompt": "[system]\nBe brief.\n",
    }


def test_a_losing_tune_reports_not_promoted_with_the_reason_and_the_candidate(tmp_path: Path) -> None:
    gate = decide([EM], GATE, {EM["label"]: 0.5}, {EM["label"]: 0.55})
    write_reports(tmp_path, _info(gate, 0.5, 0.55, trained=True))
    md = (tmp_path / "report.md").read_text()
    assert md.splitlines()[2].startswith("**NOT PROMOTED")
    assert "tuned 0.550 does not meet >= 0.8" in md and "does not beat baseline 0.500 by 10%" in md
    assert "not exported; it stays in `/tmp/runs/demo/cache/train-x`" in md
    assert "possible forgetting" in md  # perplexity 20 -> 25
    html = (tmp_path / "report.html").read_text()
    pngs = [chunk.split('"', 1)[0] for chunk in html.split("data:image/png;base64,")[1:]]
    assert len(pngs) == 3 and all(base64.b64decode(p).startswith(b"\x89PNG") for p in pngs)
    assert "#cf222e" in html  # the red verdict banner


def test_prompt_only_report_says_nothing_was_trained(tmp_path: Path) -> None:
    gate = decide([EM], GATE, {EM["label"]: 0.9}, None)
    write_reports(tmp_path, _info(gate, 0.9, None, trained=False))
    md = (tmp_path / "report.md").read_text()
    assert "PROMPT IS THE DELIVERABLE" in md and "No training ran." in md
    assert not (tmp_path / "loss_curve.png").exists()
    assert (tmp_path / "baseline_vs_tuned.png").exists() and (tmp_path / "data_funnel.png").exists()


def test_a_gain_inside_the_noise_reads_not_significant_with_its_interval(tmp_path: Path) -> None:
    rows = ([1.0] * 36 + [0.0] * 36, [1.0] * 44 + [0.0] * 28)  # +0.111 on 72 rows: the interval reaches below +0.10
    gate = decide(
        [{**EM, "threshold": 0.55}], GATE, {EM["label"]: 0.5}, {EM["label"]: 44 / 72}, rows={EM["label"]: rows}
    )
    assert not gate["passed"]
    info = _info(gate, 0.5, 44 / 72, trained=True)
    info["metrics"]["expects"] = [{**EM, "threshold": 0.55}]
    write_reports(tmp_path, info)
    md = (tmp_path / "report.md").read_text()
    assert "not significant on 72 rows: tuned 0.611 vs baseline 0.500" in md
    assert "| +0.111 [" in md and "(mcnemar) | 0.600 | not significant on 72 rows |" in md
    assert "95% interval of the paired difference" in md  # the gate rule, stated in the report
