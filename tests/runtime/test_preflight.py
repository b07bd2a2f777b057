"""`ftc run` refuses, before any step, a plan this machine cannot finish: a CUDA plan on a machine
without CUDA, a teacher that is a hub model not in the cache with downloads off. Without the check
the sql-distill example ran its data steps and its baseline on the CPU for minutes, then failed at
the distill step. This machine has no CUDA device: the refusal is real, not mocked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ftc.runtime import preflight
from ftc.shared.errors import FtcError

REPO = Path(__file__).resolve().parents[2]
GOLDEN_PLANS = REPO / "tests" / "golden" / "plans"


def _plan(name: str) -> dict:
    return json.loads((GOLDEN_PLANS / f"{name}.json").read_text(encoding="utf-8"))


def test_the_models_a_plan_loads_are_named_with_their_steps() -> None:
    used = preflight.plan_models(_plan("sql-distill"))
    assert used["Qwen/Qwen2.5-7B-Instruct"] == ["distill (teacher)"]
    assert "baseline (model)" in used["smollm2-135m-instruct"]


def test_a_cuda_plan_and_an_uncached_teacher_are_refused_with_how_to_fix(empty_caches: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the device check passes here")
    with pytest.raises(FtcError) as err:
        preflight.check_runnable(_plan("sql-distill"), allow_download=False)
    text = err.value.message
    assert "nothing was started" in text
    assert "device = cuda" in text and "set `device = cpu`" in text
    assert "'Qwen/Qwen2.5-7B-Instruct' (used by distill (teacher))" in text
    assert "hf download Qwen/Qwen2.5-7B-Instruct" in text and "--allow-download" in text
    with pytest.raises(FtcError) as err:  # downloads allowed: only the device is missing
        preflight.check_runnable(_plan("sql-distill"), allow_download=True)
    assert "Qwen" not in err.value.message


def test_a_cached_hub_model_and_a_cpu_plan_pass(empty_caches: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    hub = empty_caches / "hf" / "hub"  # the hub library read HF_HOME at import: point it here
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    plan = _plan("sql-distill")
    plan["device"] = {"kind": "cpu"}
    snapshot = hub / "models--Qwen--Qwen2.5-7B-Instruct" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}", encoding="utf-8")
    refs = snapshot.parents[1] / "refs"
    refs.mkdir()
    (refs / "main").write_text("abc123", encoding="utf-8")
    preflight.check_runnable(plan, allow_download=False)  # the fake cache layout holds the teacher
    preflight.check_runnable(_plan("quickstart"), allow_download=False)  # embedded models only


def test_a_model_folder_without_config_json_is_refused_before_any_step(tmp_path: Path) -> None:
    """A tampered or mistyped plan naming a folder that is no model (/etc, an adapter's parent) fails
    here, not when the baseline step starts loading it after the data steps ran."""
    plan = _plan("quickstart")
    for step in plan["steps"]:
        if "model" in (step.get("config") or {}):
            step["config"]["model"] = str(tmp_path)
    with pytest.raises(FtcError) as err:
        preflight.check_runnable(plan, allow_download=True)
    assert f"model '{tmp_path}' (used by baseline (model)" in err.value.message
    assert "no config.json" in err.value.message and "nothing was started" in err.value.message
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    preflight.check_runnable(plan, allow_download=False)


def test_ftc_run_refuses_before_the_first_step(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    project = tmp_path / "project"
    shutil.copytree(REPO / "recipes", project / "recipes")
    out = subprocess.run(
        [sys.executable, "-m", "ftc.compiler.cli.main", "run", "recipes/sql-distill.ftr"],
        cwd=project,
        capture_output=True,
        text=True,
        env=dict(os.environ) | {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "FTC_NUM_THREADS": "1"},
        timeout=300,
    )
    assert out.returncode == 1, out.stderr
    assert "this plan cannot run on this machine; nothing was started" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (project / "runs").exists()  # no step ran, no run folder was made
