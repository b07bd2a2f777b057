"""`ftc run` end to end on the peers' shapes: SFT on a ShareGPT file, and SFT then DPO on
a LLaMA-Factory DPO file whose chosen/rejected are {from, value} message dicts. Two optimiser steps
each on the embedded model: the point is that these files train, not how well."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SHAPES = Path(__file__).resolve().parents[1] / "golden" / "data-shapes"
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Two optimiser steps of two rows each (SFT and DPO alike): whether these files train, not how well.
TRAIN = "  train {\n    lr         = 0.002\n    max_steps  = 2\n    batch      = 2\n    grad_accum = 1\n    few_shot   = 0\n  }\n"


def _project(root: Path, files: list[str], body: str) -> Path:
    (root / "pyproject.toml").write_text("")
    (root / "data").mkdir()
    for name in files:
        shutil.copy(SHAPES / name, root / "data" / name)
    recipe = root / "r.ftr"
    recipe.write_text(f'recipe "shape-run" {{\n  base = model("smollm2-135m-instruct")\n{body}{TRAIN}}}\n')
    return recipe


def _run(recipe: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FTC_NUM_THREADS": os.environ.get("FTC_NUM_THREADS") or "1"}
    return subprocess.run([sys.executable, "-m", "ftc.compiler.cli.main", "run", str(recipe), "--runs-dir",
                           str(recipe.parent / "runs")], cwd=recipe.parent, capture_output=True, text=True,
                          timeout=900, env=env)  # fmt: skip


def test_ftc_run_trains_on_a_sharegpt_file(tmp_path):
    recipe = _project(
        tmp_path,
        ["sharegpt.jsonl"],
        (
            '  goal = behavior("Answer as JSON with the animal and its colour")\n'
            '  data "rows" {\n    path   = "data/sharegpt.jsonl"\n    format = chat\n  }\n'
            "  eval {\n    holdout = 20%\n    expect json_valid >= 0.95\n    beat baseline by 10%\n  }\n"
        ),
    )
    done = _run(recipe)
    assert done.returncode in (0, 3), done.stdout[-2000:] + done.stderr[-2000:]  # promoted or not: it trained
    assert "ran train" in done.stdout + done.stderr
    assert list((tmp_path / "runs").rglob("adapter_model.safetensors"))


def test_ftc_run_trains_dpo_on_a_message_list_preference_file(tmp_path):
    recipe = _project(
        tmp_path,
        ["instruction.jsonl", "preference-sharegpt.json"],
        (
            '  goal = behavior("Name the class of the animal")\n'
            '  data "rows" {\n    path   = "data/instruction.jsonl"\n    format = instruction\n  }\n'
            '  data "pairs" {\n    path   = "data/preference-sharegpt.json"\n    format = preference\n  }\n'
            "  eval {\n    holdout = 20%\n    expect exact_match >= 0.9\n    beat baseline by 10%\n  }\n"
        ),
    )
    done = _run(recipe)
    out = done.stdout + done.stderr
    assert done.returncode in (0, 3), out[-4000:]
    assert "ran dpo" in out
    infos = [json.loads(p.read_text()) for p in (tmp_path / "runs").rglob("train.json")]
    assert any(i.get("objective") == "dpo" and i.get("global_step") == 2 for i in infos), infos
