"""The dpo step: TRL DPOTrainer on real preference pairs, two optimiser steps on the embedded model
(a fresh LoRA on the base here; after SFT it continues the SFT adapter, see runtime/steps/dpo.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.runtime.executor import Executor, RunOptions
from ftc.runtime.steps import STEPS

PAIRS = Path(__file__).resolve().parents[2] / "recipes" / "data" / "polite-replies" / "pairs.jsonl"
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("one_thread")]


def _hp(**values: object) -> dict:
    return {k: {"value": v, "set_by": "recipe", "reason": "test"} for k, v in values.items()}


def test_dpo_trains_an_adapter_on_preference_pairs(tmp_path: Path) -> None:
    (tmp_path / "pairs.jsonl").write_text("".join(PAIRS.read_text().splitlines(keepends=True)[:6]))
    src = {
        "name": "pairs",
        "path": "pairs.jsonl",
        "format": "preference",
        "columns": {},
        "on_bad_rows": "fail",
        "glob": "**/*",
    }
    steps = [
        ("load", [], {"sources": [src], "eval_source": None}),
        (
            "clean",
            ["load"],
            {"redact_pii": {"pairs": False}, "max_tokens": {"pairs": None}, "overlong": {"pairs": "drop"}},
        ),
        ("dedup", ["clean"], {"near_threshold": 0.85, "num_perm": 64, "shingle_words": 5}),
        ("split", ["dedup"], {"holdout": 0.2, "seed": 1, "stratify": None, "accept_leaks": True, "ngram": 13}),
        ("dpo", ["split"], {"model": "smollm2-135m-instruct", "beta": 0.1, "lr": 5e-5, "sources": ["pairs"]}),
    ]
    plan = {
        "recipe": {"name": "dpo"},
        "inputs": [],
        "model": {"base": "smollm2-135m-instruct"},
        "prompt": {"system": "Reply to the customer politely.", "few_shot": 0},
        "hyperparameters": _hp(
            max_steps=2, batch=2, grad_accum=1, max_length=128, lora_r=4, lora_alpha=8, save_steps=1, epochs=1, seed=3
        ),
        "steps": [{"id": i, "kind": i, "needs": n, "guard": None, "config": c} for i, n, c in steps],
    }
    result = Executor(plan, tmp_path, RunOptions(runs_dir=tmp_path / "runs"), STEPS).run()
    folder = result.outcomes["dpo"].dir
    info = json.loads((folder / "train.json").read_text())
    assert info["global_step"] == 2 and info["objective"] == "dpo"
    assert (folder / "adapter" / "adapter_model.safetensors").exists()
    history = json.loads((folder / "loss_history.json").read_text())
    assert any("rewards/chosen" in h or "rewards/margins" in h for h in history)
