"""`ftc run` end to end on the embedded model, as a user runs it (a subprocess, real exit codes).

One real pipeline serves every test, to keep the suite's CPU time small: the first `ftc run`
is SIGKILLed once training has saved a checkpoint, the second resumes and finishes (a LoRA tune
of 4 steps on 16 rows, max_length 192, 16 generated tokens per holdout row). The later tests
change one thing each and check that only what depends on it re-runs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from run_support import ftc_run, make_plan, make_project, only_run_dir, run_env, state, write_plan

pytestmark = pytest.mark.e2e

EXPECT = 'regex("category") >= 0.5'  # the base model answers in prose; a few steps teach the JSON keys
SHAPE = {"max_steps": 4, "save_steps": 1}  # a checkpoint every step, so the kill lands after one


def _complete_checkpoint(runs: Path) -> Path | None:
    found = sorted(runs.glob("tickets-test/cache/train-*/checkpoints/checkpoint-*/trainer_state.json"))
    return found[0] if found else None


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = make_project(tmp_path_factory.mktemp("project"))
    write_plan(root / "plan.json", make_plan(root, [EXPECT], **SHAPE))
    runs = root / "runs"
    log = (root / "killed.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ftc.compiler.cli.main", "run", "plan.json"],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=run_env(),
    )
    deadline = time.monotonic() + 900
    while _complete_checkpoint(runs) is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    finished_early = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    log.close()
    assert not finished_early, (root / "killed.log").read_text()[-3000:]
    killed_state = state(only_run_dir(runs))
    start = time.monotonic()
    done = ftc_run("plan.json", cwd=root, timeout=900)
    return {
        "root": root,
        "runs": runs,
        "killed_state": killed_state,
        "done": done,
        "seconds": time.monotonic() - start,
        "run_dir": only_run_dir(runs),
    }


def test_a_sigkilled_run_resumes_from_its_last_step_and_checkpoint(pipeline: dict) -> None:
    assert pipeline["killed_state"]["steps"]["train"]["status"] == "running"
    assert pipeline["done"].returncode == 0, pipeline["done"].stderr[-3000:]
    steps = state(pipeline["run_dir"])["steps"]
    assert {s: steps[s]["status"] for s in ("load", "split", "baseline")} == dict.fromkeys(
        ("load", "split", "baseline"), "cached"
    )
    assert steps["train"]["status"] == "ran"
    train = json.loads((pipeline["run_dir"] / "train" / "train.json").read_text())
    assert train["resumed_from_step"] > 0 and train["global_step"] == 4


def test_a_promoted_run_writes_every_artifact(pipeline: dict) -> None:
    export = pipeline["run_dir"] / "export"
    assert (export / "adapter" / "adapter_model.safetensors").exists()
    assert (export / "adapter" / "adapter_config.json").exists()
    metrics = json.loads((export / "metrics.json").read_text())
    label = 'regex(pattern="category")'
    assert set(metrics["baseline"]) == set(metrics["tuned"]) == {label}
    assert metrics["baseline"][label] < 0.5 <= metrics["tuned"][label]
    assert metrics["gate"] == {"passed": True, "verdict": "promoted", "reasons": metrics["gate"]["reasons"]}
    assert metrics["perplexity"]["before"] > 1 and metrics["perplexity"]["after"] > 1
    plan = json.loads((pipeline["root"] / "plan.json").read_text())
    assert plan["prompt"]["system"] in (export / "prompt.txt").read_text()
    html = (export / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "PROMOTED" in html
    assert "PROMOTED" in (export / "report.md").read_text()
    assert json.loads((export / "data_report.json").read_text())["stages"]
    assert str(export / "report.html") in pipeline["done"].stderr.replace("\n", "")
    assert not list(pipeline["runs"].rglob("*.tmp"))


def test_a_second_run_trains_nothing(pipeline: dict) -> None:
    start = time.monotonic()
    again = ftc_run("plan.json", cwd=pipeline["root"])
    seconds = time.monotonic() - start
    assert again.returncode == 0, again.stderr[-3000:]
    statuses = {s["status"] for s in state(pipeline["run_dir"])["steps"].values()}
    assert statuses == {"cached"}
    assert seconds < 60, seconds  # no model is loaded: the time is Python start-up


def test_changing_only_the_bar_reruns_only_the_gate_and_an_impossible_bar_exits_3(pipeline: dict) -> None:
    root = pipeline["root"]
    # Whole-answer exact match cannot hold: the references are ~50 tokens, the test generates 16.
    write_plan(root / "strict.json", make_plan(root, [EXPECT, "exact_match >= 0.9"], **SHAPE))
    result = ftc_run("strict.json", cwd=root)
    assert result.returncode == 3, result.stderr[-3000:]
    run_dir = next(
        p
        for p in (pipeline["runs"] / "tickets-test").iterdir()
        if p.is_dir() and p not in (pipeline["run_dir"], pipeline["runs"] / "tickets-test" / "cache")
    )
    steps = state(run_dir)["steps"]
    ran = sorted(s for s, v in steps.items() if v["status"] == "ran")
    assert ran == ["export", "gate"]  # baseline, train and eval generations are reused
    export = run_dir / "export"
    report = (export / "report.md").read_text()
    assert "NOT PROMOTED" in report and "exact_match: tuned 0.000 does not meet >= 0.9" in report
    assert not (export / "adapter").exists()  # a tune that lost is not exported
    assert json.loads((export / "metrics.json").read_text())["gate"]["passed"] is False


def test_a_stale_data_lock_is_refused_until_refreshed(pipeline: dict) -> None:
    root = pipeline["root"]
    data = root / "data" / "tickets.jsonl"
    original = data.read_bytes()
    try:
        data.write_bytes(original + b"\n")  # an edit that leaves every row as it was
        refused = ftc_run("plan.json", cwd=root)
        assert refused.returncode == 1
        assert "data/tickets.jsonl: changed since the plan was written" in refused.stderr
        assert "Traceback" not in refused.stderr
        refreshed = ftc_run("plan.json", "--refresh", cwd=root)
        assert refreshed.returncode == 0, refreshed.stderr[-3000:]
        states = sorted((pipeline["runs"] / "tickets-test").glob("*/state.json"), key=lambda p: p.stat().st_mtime)
        steps = state(states[-1].parent)["steps"]
        assert steps["load"]["status"] == "ran"
        # The records did not change, so nothing after the data steps re-runs (content keys).
        assert steps["train"]["status"] == steps["baseline"]["status"] == "cached"
    finally:
        data.write_bytes(original)


def test_usage_and_input_errors_are_one_located_line(pipeline: dict, tmp_path: Path) -> None:
    root = pipeline["root"]
    bad = ftc_run("plan.json", "--force", "nope", cwd=root)
    assert bad.returncode == 2 and "no step 'nope'" in bad.stderr
    missing = ftc_run("nothing.json", cwd=root)
    assert missing.returncode == 2 and "no such recipe or plan file" in missing.stderr
    recipe = tmp_path / "broken.ftr"
    recipe.write_text('recipe "x" {\n  goal = behavior("x")\n  base = \n}\n')
    broken = ftc_run(str(recipe), cwd=root)
    assert broken.returncode == 1 and "broken.ftr:" in broken.stderr and "Traceback" not in broken.stderr


def test_the_fixture_plan_is_self_consistent(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    plan = make_plan(root, ["json_valid >= 0.5"])
    assert plan["inputs"][0]["rows"] == 20
    assert plan["hyperparameters"]["save_steps"]["value"] == 2
    ids = [s["id"] for s in plan["steps"]]
    assert all(n in ids[: ids.index(s["id"])] for s in plan["steps"] for n in s["needs"])
