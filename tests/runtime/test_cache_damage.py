"""Damaged caches are run again, never reused (no model): a truncated output file or step.json
re-runs the step with a line saying why, and the gate refuses to compare a baseline and a tune
scored on different holdout rows."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from gate_support import run_gate

from ftc.runtime.executor import Executor, Outcome, RunOptions
from ftc.runtime.prompting import Example
from ftc.runtime.steps import STEPS, common
from ftc.shared import atomic
from ftc.shared.errors import FtcError

HOLDOUT = [{"row": i, "text": f"question {i}"} for i in range(6)]


def _plan() -> dict:
    steps = [
        {"id": "load", "kind": "load", "needs": [], "guard": None, "config": {}},
        {"id": "split", "kind": "split", "needs": ["load"], "guard": None, "config": {}},
        {"id": "baseline", "kind": "baseline", "needs": ["split"], "guard": None, "config": {}},
        {"id": "train", "kind": "train", "needs": ["split"], "guard": None, "config": {}},
    ]
    return {
        "recipe": {"name": "damage"},
        "inputs": [],
        "prompt": {"system": "s"},
        "model": {"base": "m"},
        "hyperparameters": {"seed": {"value": 1}},
        "steps": steps,
    }


class Notes:
    """A stand-in for RunProgress that keeps the lines a person would see."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def step_started(self, step_id: str, kind: str) -> None:
        self.lines.append(f"> {step_id}")

    def step_finished(self, outcome: Outcome) -> None:
        self.lines.append(f"{outcome.status} {outcome.id}")

    def note(self, text: str) -> None:
        self.lines.append(text)


class Steps:
    def __init__(self) -> None:
        self.ran: list[str] = []

    def specs(self) -> dict:
        def make(kind: str):
            def fn(ctx) -> dict:
                self.ran.append(kind)
                if kind == "split":
                    atomic.write_jsonl(ctx.dir / "holdout.jsonl", HOLDOUT)
                elif kind == "train":
                    atomic.write_bytes(ctx.dir / "adapter" / "adapter_model.safetensors", b"w" * 4096)
                    atomic.write_bytes(ctx.dir / "checkpoints" / "checkpoint-1" / "optimizer.pt", b"o" * 64)
                else:
                    atomic.write_json(ctx.dir / "out.json", {"kind": kind})
                return {}

            return fn

        return {k: replace(STEPS[k], fn=make(k)) for k in ("load", "split", "baseline", "train")}


def _run(tmp: Path, steps: Steps, notes: Notes | None = None, force: tuple[str, ...] = ()) -> Executor:
    ex = Executor(_plan(), tmp, RunOptions(runs_dir=tmp / "runs", force=force), steps.specs(), progress=notes)
    ex.run()
    return ex


def test_every_output_file_is_recorded_with_its_digest_but_not_the_checkpoints(tmp_path: Path) -> None:
    ex = _run(tmp_path, Steps())
    done = json.loads((ex.outcomes["train"].dir / "step.json").read_text())
    assert set(done["files"]) == {"adapter/adapter_model.safetensors"}
    assert done["files"]["adapter/adapter_model.safetensors"]["size"] == 4096


def test_a_truncated_output_is_run_again_with_a_line_saying_why(tmp_path: Path) -> None:
    first = _run(tmp_path, Steps())
    holdout = first.outcomes["split"].dir / "holdout.jsonl"
    holdout.write_text("".join(holdout.read_text().splitlines(keepends=True)[:3]))
    notes, steps = Notes(), Steps()
    again = _run(tmp_path, steps, notes)
    # split runs again and writes the same records: what reads them stays cached (content keys).
    assert steps.ran == ["split"]
    assert len(atomic.read_jsonl(holdout)) == 6
    assert any("damaged" in line and "holdout.jsonl changed size" in line for line in notes.lines), notes.lines
    assert again.outcomes["baseline"].status == "cached"


def test_a_truncated_adapter_is_run_again(tmp_path: Path) -> None:
    first = _run(tmp_path, Steps())
    adapter = first.outcomes["train"].dir / "adapter" / "adapter_model.safetensors"
    adapter.write_bytes(b"w" * 100)
    steps = Steps()
    _run(tmp_path, steps)
    assert steps.ran == ["train"] and adapter.stat().st_size == 4096


def test_same_size_corruption_and_a_missing_file_are_noticed(tmp_path: Path) -> None:
    first = _run(tmp_path, Steps())
    out = first.outcomes["baseline"].dir / "out.json"
    flipped = bytearray(out.read_bytes())
    flipped[-3] ^= 1  # one bit, same size
    out.write_bytes(bytes(flipped))
    (first.outcomes["train"].dir / "adapter" / "adapter_model.safetensors").unlink()
    notes, steps = Notes(), Steps()
    _run(tmp_path, steps, notes)
    assert steps.ran == ["baseline", "train"]
    assert any("out.json changed since the step wrote it" in line for line in notes.lines), notes.lines
    assert any("adapter/adapter_model.safetensors is missing" in line for line in notes.lines), notes.lines


@pytest.mark.parametrize("damage", ["truncated", "empty", "not an object"])
def test_a_damaged_step_json_reruns_the_step_instead_of_crashing(tmp_path: Path, damage: str) -> None:
    first = _run(tmp_path, Steps())
    marker = first.outcomes["baseline"].dir / "step.json"
    text = marker.read_text()
    marker.write_text({"truncated": text[: len(text) // 2], "empty": "", "not an object": "[1, 2]"}[damage])
    notes, steps = Notes(), Steps()
    again = _run(tmp_path, steps, notes)
    assert steps.ran == ["baseline"] and again.outcomes["baseline"].status == "ran"
    assert any("step.json" in line for line in notes.lines), notes.lines
    assert json.loads(marker.read_text())["key"] == again.outcomes["baseline"].key


# -- the gate over row sets -------------------------------------------------------------------
EXPECT = {"label": "contains(text=ok)", "metric": "contains", "args": {"text": "ok"}, "op": ">=", "threshold": 0.5}


def _scored(folder: Path, n: int, *, offset: int = 0) -> Path:
    rows = [
        Example([{"role": "system", "content": "s"}, {"role": "user", "content": f"q{i + offset}"}], "ok")
        for i in range(n)
    ]
    common.write_predictions(folder, [e.prompt for e in rows], [e.completion for e in rows], ["ok"] * n)
    common.write_scores(folder, common.row_set(rows), {"general": 10.0, "holdout": 5.0})
    return folder


def _gate(tmp_path: Path, baseline: Path, tuned: Path) -> dict:
    return run_gate(tmp_path, {"expects": [EXPECT], "gate": {"beat_baseline_pct": 0}}, baseline, tuned)


def test_the_gate_refuses_scores_over_different_row_counts(tmp_path: Path) -> None:
    baseline = _scored(tmp_path / "baseline", 6)
    tuned = _scored(tmp_path / "eval", 3)
    with pytest.raises(FtcError, match="baseline was scored on 6 holdout rows and the tune on 3"):
        _gate(tmp_path, baseline, tuned)


def test_the_gate_refuses_scores_over_other_rows_of_the_same_count(tmp_path: Path) -> None:
    with pytest.raises(FtcError, match=r"on 4 \(different rows\)"):
        _gate(tmp_path, _scored(tmp_path / "baseline", 4), _scored(tmp_path / "eval", 4, offset=1))


def test_the_gate_compares_scores_over_the_same_rows(tmp_path: Path) -> None:
    assert _gate(tmp_path, _scored(tmp_path / "baseline", 4), _scored(tmp_path / "eval", 4))["passed"] is True
