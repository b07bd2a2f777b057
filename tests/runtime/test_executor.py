"""The executor on small step functions (no model) under the real step specs: order, cache keys,
guard, --force, resume after a failure, atomic writes. The real steps are covered by test_e2e.py."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ftc.runtime.executor import Executor, RunOptions, topo_order
from ftc.runtime.steps import GUARD, STEPS
from ftc.shared import atomic
from ftc.shared.errors import FtcError


def _plan(expects_threshold: float = 0.5, lr: float = 1e-3) -> dict:
    steps = [
        {"id": "load", "kind": "load", "needs": [], "guard": None, "config": {"n": 3}},
        {"id": "baseline", "kind": "baseline", "needs": ["load"], "guard": None, "config": {}},
        {"id": "train", "kind": "train", "needs": ["load", "baseline"], "guard": "baseline_misses_bar", "config": {}},
        {"id": "eval", "kind": "eval", "needs": ["train"], "guard": "baseline_misses_bar", "config": {}},
        {"id": "gate", "kind": "gate", "needs": ["baseline", "eval"], "guard": None, "config": {}},
    ]
    return {
        "recipe": {"name": "toy"},
        "inputs": [],
        "prompt": {"system": "s"},
        "hyperparameters": {"lr": {"value": lr}},
        "expects": [{"label": "m", "metric": "m", "op": ">=", "threshold": expects_threshold}],
        "gate": {"beat_baseline_pct": 0},
        "steps": list(reversed(steps)),
    }


class Toy:
    """Step functions that record which ran; `fail_in` makes one raise, like a crash."""

    def __init__(self, fail_in: str | None = None) -> None:
        self.ran: list[str] = []
        self.fail_in = fail_in

    def steps(self) -> dict:
        def make(kind: str):
            def fn(ctx) -> dict:
                self.ran.append(kind)
                if kind == self.fail_in:
                    (ctx.dir / "partial").write_text("half")
                    raise RuntimeError("boom")
                atomic.write_json(ctx.dir / "out.json", {"kind": kind, "seen_partial": (ctx.dir / "partial").exists()})
                return {"kind": kind}

            return fn

        # The real specs (reads, guards, content keys), with these functions in place of the steps.
        return {k: replace(STEPS[k], fn=make(k)) for k in ("load", "baseline", "train", "eval", "gate")}


def _guard(score: float):
    def guard(ctx) -> tuple[bool, str]:
        met = score >= ctx.plan["expects"][0]["threshold"]
        return met, "baseline meets the bar" if met else ""

    return replace(GUARD, fn=guard)


def _run(tmp: Path, plan: dict, toy: Toy, score: float = 0.0, force: tuple = ()) -> Executor:
    ex = Executor(plan, tmp, RunOptions(runs_dir=tmp / "runs", force=force), toy.steps(), guard=_guard(score))
    ex.run()
    return ex


def test_topological_order_is_stable_and_checks_needs() -> None:
    assert [s["id"] for s in topo_order(_plan()["steps"])] == ["load", "baseline", "train", "eval", "gate"]
    with pytest.raises(FtcError, match="cycle"):
        topo_order([{"id": "a", "kind": "x", "needs": ["b"]}, {"id": "b", "kind": "x", "needs": ["a"]}])
    with pytest.raises(FtcError, match="needs 'zz'"):
        topo_order([{"id": "a", "kind": "x", "needs": ["zz"]}])


def test_second_run_is_all_cached_and_state_and_links_are_written(tmp_path: Path) -> None:
    toy = Toy()
    ex = _run(tmp_path, _plan(), toy)
    assert toy.ran == ["load", "baseline", "train", "eval", "gate"]
    again = Toy()
    ex2 = _run(tmp_path, _plan(), again)
    assert again.ran == []
    state = json.loads((ex2.run_dir / "state.json").read_text())
    assert {s["status"] for s in state["steps"].values()} == {"cached"}
    assert (ex.run_dir / "train").is_symlink() and (ex.run_dir / "train" / "step.json").exists()
    assert not list(ex.run_dir.rglob("*.tmp"))


def test_changing_only_the_expects_reuses_training(tmp_path: Path) -> None:
    _run(tmp_path, _plan(0.5), Toy())
    toy = Toy()
    ex = _run(tmp_path, _plan(0.6), toy)
    assert toy.ran == ["gate"]  # generation is cached; the gate re-scores against the new bar
    statuses = {k: v.status for k, v in ex.outcomes.items()}
    assert statuses["train"] == "cached" and statuses["eval"] == "cached"


def test_changing_a_hyperparameter_retrains(tmp_path: Path) -> None:
    _run(tmp_path, _plan(), Toy())
    toy = Toy()
    _run(tmp_path, _plan(lr=5e-4), toy)
    assert toy.ran == ["train", "eval", "gate"]


def test_guard_skips_training_and_its_dependents(tmp_path: Path) -> None:
    toy = Toy()
    ex = _run(tmp_path, _plan(0.5), toy, score=0.9)
    assert toy.ran == ["load", "baseline", "gate"]
    assert ex.outcomes["train"].status == "skipped" and "meets the bar" in ex.outcomes["train"].reason
    assert ex.outcomes["eval"].status == "skipped"


def test_force_reruns_the_step_and_its_dependents(tmp_path: Path) -> None:
    _run(tmp_path, _plan(), Toy())
    toy = Toy()
    _run(tmp_path, _plan(), toy, force=("train",))
    assert toy.ran == ["train", "eval", "gate"]
    with pytest.raises(FtcError, match="no step 'nope'") as err:
        _run(tmp_path, _plan(), Toy(), force=("nope",))
    assert err.value.exit_code == 2


def test_a_failed_step_resumes_in_the_same_folder(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        _run(tmp_path, _plan(), Toy(fail_in="train"))
    toy = Toy()
    ex = _run(tmp_path, _plan(), toy)
    assert toy.ran == ["train", "eval", "gate"]  # load and baseline finished before the crash
    out = json.loads((ex.outcomes["train"].dir / "out.json").read_text())
    assert out["seen_partial"]  # the same folder: this is how training finds its checkpoints


def test_atomic_write_leaves_no_temp_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    atomic.write_json(target, {"x": 1})
    with pytest.raises(TypeError):
        atomic.write_json(target, {"x": object()})
    assert json.loads(target.read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_data_steps_are_keyed_downstream_by_their_content(tmp_path: Path) -> None:
    _run(tmp_path, _plan(), Toy())
    plan = _plan()
    next(s for s in plan["steps"] if s["id"] == "load")["config"]["n"] = 4  # same records written
    toy = Toy()
    _run(tmp_path, plan, toy)
    assert toy.ran == ["load"]


def test_a_guard_on_a_step_kind_that_cannot_be_skipped_is_refused(tmp_path: Path) -> None:
    plan = _plan()
    next(s for s in plan["steps"] if s["id"] == "gate")["guard"] = "baseline_misses_bar"
    with pytest.raises(FtcError, match="'gate' step cannot be skipped"):
        _run(tmp_path, plan, Toy())


def _resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS (Linux)")
def test_memory_a_step_left_in_a_reference_cycle_is_released_before_the_next_step():
    """A trainer or model held in a reference cycle outlives its step until a full collection; the
    executor releases it (and returns freed heap pages) before the next step's peak window."""
    import gc

    import torch

    from ftc.runtime import timing

    class Holder:
        pass

    gc.disable()  # the cycle must survive until release_memory, as it would between steps
    try:
        holder = Holder()
        holder.me = holder
        holder.tensor = torch.ones(64 * 2**20)  # 256 MB, written so it is resident
        before = _resident_bytes()
        del holder
        assert _resident_bytes() > before - 64 * 2**20, "a cycle keeps the tensor until collected"
        timing.release_memory()
        assert _resident_bytes() < before - 200 * 2**20
    finally:
        gc.enable()


def test_steps_run_with_the_survivors_frozen_and_the_run_thaws_them_even_when_a_step_fails(tmp_path: Path):
    """Between steps the survivors of the full collection (imported modules, the run's state) are
    frozen, so a step's collections skip them; once the run ends, finished or failed, they are
    collectable again: a caller's object in a cycle, alive during the run, is freed afterwards."""
    import gc
    import weakref

    class Holder:
        pass

    for fail_in in (None, "train"):
        toy, frozen = Toy(fail_in), []
        steps = toy.steps()
        for kind, spec in steps.items():
            steps[kind] = replace(
                spec, fn=lambda ctx, fn=spec.fn, seen=frozen: seen.append(gc.get_freeze_count()) or fn(ctx)
            )
        holder = Holder()
        holder.me = holder
        alive = weakref.ref(holder)
        ex = Executor(_plan(), tmp_path, RunOptions(runs_dir=tmp_path / str(fail_in)), steps, guard=_guard(0.0))
        if fail_in:
            with pytest.raises(RuntimeError, match="boom"):
                ex.run()
        else:
            ex.run()
        assert frozen and all(n > 1000 for n in frozen), frozen
        assert gc.get_freeze_count() == 0
        del holder
        gc.collect()
        assert alive() is None, "an object frozen during the run stayed uncollectable after it"
