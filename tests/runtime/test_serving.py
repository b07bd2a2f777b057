"""From a promoted tune to a served model (issue 16), on the embedded model, as a user runs it.

One real pipeline (a LoRA tune of 4 steps on 16 rows, 16 generated tokens per holdout row) with
`export { gguf = f16 }` and a latency expect: the GGUF file is read back by transformers' own
GGUF loader and answers the holdout exactly as the tune did; the Modelfile carries the plan's
prompt; `ftc chat --once` answers with the tune; the gate holds a latency expect against the
measured figures, and an impossible latency bar fails the gate with them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from run_support import ftc_run, make_plan, make_project, only_run_dir, run_env, state, write_plan

pytestmark = pytest.mark.e2e

EXPECT = 'regex("category") >= 0.5'  # the base answers in prose; 4 steps teach the JSON keys
SHAPE = {"max_steps": 4, "save_steps": 4}
LATENCY = "latency_p95 <= 600s"
LATENCY_LABEL = "latency_p95"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = make_project(tmp_path_factory.mktemp("project"))
    plan = make_plan(root, [EXPECT, LATENCY], export="gguf = f16", **SHAPE)
    write_plan(root / "plan.json", plan)
    done = ftc_run("plan.json", cwd=root, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"root": root, "plan": plan, "run_dir": only_run_dir(root / "runs")}


def _chat(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ftc.compiler.cli.main", "chat", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=run_env(),
    )


def test_the_f16_gguf_answers_the_holdout_exactly_as_the_tune(served: dict) -> None:
    import gguf as gguf_lib

    from ftc.runtime.generate import generate
    from ftc.runtime.steps.export_gguf import load_gguf

    export = served["run_dir"] / "export"
    gguf = export / "model-f16.gguf"
    record = json.loads((export / "gguf.json").read_text())
    assert record["file"] == gguf.name and record["bytes"] == gguf.stat().st_size > 200_000_000
    # An independent read-back, not the export step's own claim: transformers' GGUF loader (its
    # header read once for the config, weights and tokenizer; gguf's own reader again afterwards).
    rows = [json.loads(line) for line in (served["run_dir"] / "eval" / "predictions.jsonl").read_text().splitlines()]
    answers = generate(load_gguf(gguf), [r["prompt"] for r in rows], max_new_tokens=16, batch_size=8)
    assert gguf_lib.GGUFReader.__name__ == "GGUFReader" and not hasattr(gguf_lib.get_tensor_name_map, "cache_info")
    assert answers == [r["prediction"] for r in rows]
    assert record["identical"] == record["rows"] == len(rows) and record["within_tolerance"] is True
    assert "GGUF export" in (export / "report.md").read_text()


def test_the_modelfile_holds_the_plans_prompt_and_chat_template(served: dict) -> None:
    export = served["run_dir"] / "export"
    text = (export / "Modelfile").read_text()
    assert "FROM ./model-f16.gguf\n" in text
    assert f'SYSTEM """{served["plan"]["prompt"]["system"]}"""' in text
    assert 'TEMPLATE """{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}' in text
    assert 'PARAMETER stop "<|im_end|>"' in text and "PARAMETER temperature 0" in text


def test_chat_once_answers_with_the_tune(served: dict) -> None:
    run_dir = served["run_dir"]
    rows = [json.loads(line) for line in (run_dir / "eval" / "predictions.jsonl").read_text().splitlines()]
    # The longest prompt: batched first and unpadded at eval, so batch 1 decodes the same tokens.
    row = max(rows, key=lambda r: len(r["prompt"][-1]["content"]))
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    result = _chat(str(run_dir), "--once", row["prompt"][-1]["content"], cwd=served["root"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == row["prediction"]


def test_chat_refuses_a_run_that_has_not_finished(served: dict, tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text("{}")
    result = _chat(str(tmp_path), "--once", "hi", cwd=served["root"])
    assert result.returncode == 1 and "has not finished" in result.stderr and "Traceback" not in result.stderr


def test_the_gate_holds_a_latency_expect_with_measured_figures(served: dict) -> None:
    run_dir = served["run_dir"]
    gate = json.loads((run_dir / "gate" / "gate.json").read_text())
    check = next(c for c in gate["checks"] if c["label"] == LATENCY_LABEL)
    tuned = json.loads((run_dir / "eval" / "scores.json").read_text())["latency"]
    base = json.loads((run_dir / "baseline" / "scores.json").read_text())["latency"]
    assert check["tuned"] == tuned["p95_ms"] > 0 and check["baseline"] == base["p95_ms"] > 0
    assert check["bar_ok"] and check["margin_required"] is None  # a bar, never a margin
    assert tuned["batch"] == 1 and tuned["max_new_tokens"] == 16 and tuned["device"] == "cpu"
    assert tuned["p50_ms"] <= tuned["p95_ms"] and tuned["requests"] == 4  # the 4 holdout rows
    report = (run_dir / "export" / "report.md").read_text()
    estimate = served["plan"]["estimates"]["latency"]["ms"]
    assert "Latency: measured beside the estimate" in report and f"~{estimate:,.0f} ms" in report
    assert f"| tune | {tuned['p50_ms']:,.0f} | {tuned['p95_ms']:,.0f} |" in report


def test_an_impossible_latency_bar_fails_the_gate_with_the_measured_figure(served: dict) -> None:
    root = served["root"]
    write_plan(root / "fast.json", make_plan(root, [EXPECT, "latency_p95 <= 1ms"], export="gguf = f16", **SHAPE))
    result = ftc_run("fast.json", cwd=root)
    assert result.returncode == 3, result.stderr[-3000:]
    run_dir = next(
        p
        for p in (root / "runs" / "tickets-test").iterdir()
        if p.is_dir() and p.name not in (served["run_dir"].name, "cache")
    )
    steps = state(run_dir)["steps"]
    assert sorted(s for s, v in steps.items() if v["status"] == "ran") == ["export", "gate"]  # measured once
    tuned = json.loads((run_dir / "eval" / "scores.json").read_text())["latency"]["p95_ms"]
    reasons = json.loads((run_dir / "gate" / "gate.json").read_text())["reasons"]
    assert f"{LATENCY_LABEL}: tuned {tuned:.3f} does not meet <= 1" in reasons
    assert not (run_dir / "export" / "model-f16.gguf").exists()  # a tune that lost is not exported
