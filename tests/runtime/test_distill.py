"""The distill step: the teacher answers the train prompts, the student trains on the answers.
The embedded model plays both parts here (the only model on an offline machine); one step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.runtime.executor import Executor, RunOptions
from ftc.runtime.steps import STEPS

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("one_thread")]


def _hp(**values: object) -> dict:
    return {k: {"value": v, "set_by": "recipe", "reason": "test"} for k, v in values.items()}


def test_the_student_learns_from_the_teachers_answers(tmp_path: Path) -> None:
    rows = [
        {
            "instruction": f"Write the SQL to count the rows of table t{i}.",
            "input": "",
            "output": f"SELECT COUNT(*) FROM t{i};",
        }
        for i in range(6)
    ]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    src = {
        "name": "q",
        "path": "q.jsonl",
        "format": "instruction",
        "columns": {},
        "on_bad_rows": "fail",
        "glob": "**/*",
    }
    steps = [
        ("load", [], {"sources": [src], "eval_source": None}),
        ("clean", ["load"], {"redact_pii": {"q": False}, "max_tokens": {"q": None}, "overlong": {"q": "drop"}}),
        ("dedup", ["clean"], {"near_threshold": 0.95, "num_perm": 64, "shingle_words": 5}),
        ("split", ["dedup"], {"holdout": 0.34, "seed": 1, "stratify": None, "accept_leaks": True, "ngram": 13}),
        (
            "distill",
            ["split"],
            {
                "teacher": "smollm2-135m-instruct",
                "student": "smollm2-135m-instruct",
                "max_new_tokens": 8,
                "method": "lora",
                "sources": ["q"],
                "retrieval_context": False,
            },
        ),
    ]
    plan = {
        "recipe": {"name": "distill"},
        "inputs": [],
        "method": "lora",
        "model": {"base": "smollm2-135m-instruct", "teacher": "smollm2-135m-instruct"},
        "prompt": {"system": "Answer with one SQL statement.", "few_shot": 0},
        "hyperparameters": _hp(
            max_steps=1, batch=2, grad_accum=1, max_length=128, lora_r=4, lora_alpha=8, save_steps=1, epochs=1, seed=3
        ),
        "steps": [{"id": i, "kind": i, "needs": n, "guard": None, "config": c} for i, n, c in steps],
    }
    result = Executor(plan, tmp_path, RunOptions(runs_dir=tmp_path / "runs"), STEPS).run()
    folder = result.outcomes["distill"].dir
    teacher = [json.loads(line) for line in (folder / "teacher.jsonl").read_text().splitlines()]
    info = json.loads((folder / "train.json").read_text())
    assert len(teacher) == info["train_rows"] == result.outcomes["split"].summary["train"]
    assert info["objective"] == "distill" and info["global_step"] == 1
    assert (folder / "adapter" / "adapter_model.safetensors").exists()
