"""The plan's ``distributed`` section (R-DISTRIBUTED, R-FSDP, R-TEACHER-PLACEMENT): processes,
strategy, the global batch split, the time estimate over the processes that run, big teachers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from test_scenarios import GB, make_recipe

from ftc.compiler.plan.distributed import COMM_OVERHEAD, NODE_OVERHEAD, machine_note
from ftc.compiler.plan.io import problems
from ftc.compiler.plan.planner import build_plan


def _plan(tmp_path: Path, processes: int | None = None, nodes: int = 1, **kw) -> tuple[dict | None, list[str]]:
    recipe = make_recipe(tmp_path, **kw)
    recipe = replace(recipe, constraints=replace(recipe.constraints, processes=processes, nodes=nodes))
    result = build_plan(recipe, tmp_path)
    if result.plan is not None:
        assert problems(result.plan) == []
    return result.plan, sorted(d.code for d in result.diagnostics if d.severity == "error")


def _global(d: dict) -> int:
    return d["micro_batch"] * d["grad_accum"] * d["processes"]


def test_one_device_is_one_process_and_the_batch_is_untouched(tmp_path):
    plan, _ = _plan(tmp_path)
    d = plan["distributed"]
    assert (d["strategy"], d["engine"], d["processes"], d["command"], d["speedup"]) == ("none", "none", 1, None, 1.0)
    hp = plan["hyperparameters"]
    assert (d["micro_batch"], d["grad_accum"]) == (hp["batch"]["value"], hp["grad_accum"]["value"])


def test_eight_gpus_that_fit_one_run_ddp_and_keep_the_global_batch(tmp_path):
    one, _ = _plan(tmp_path / "one", device="cuda")
    eight, _ = _plan(tmp_path / "eight", device="cuda", gpus=8)
    d = eight["distributed"]
    assert (d["strategy"], d["processes"], d["per_node"], d["backend"], d["sharding"]) == ("ddp", 8, 8, "nccl", None)
    assert _global(d) == d["global_batch"] == _global(one["distributed"])
    assert (
        eight["hyperparameters"]["batch"]["value"] * eight["hyperparameters"]["grad_accum"]["value"] * 8
        == d["global_batch"]
    )
    assert d["command"].startswith("accelerate launch --num_processes 8 --multi_gpu")
    assert d["speedup"] == round(8 * (1 - COMM_OVERHEAD["ddp"]), 3)
    train_one = one["estimates"]["seconds_breakdown"]["train"]
    train_eight = eight["estimates"]["seconds_breakdown"]["train"]
    assert abs(train_eight - train_one / d["speedup"]) <= 0.1 + 0.01 * train_one  # only training is divided
    assert eight["estimates"]["seconds_breakdown"]["inference"] == one["estimates"]["seconds_breakdown"]["inference"]
    assert "R-DISTRIBUTED" in [r["id"] for r in eight["rules"]]


def test_four_gpus_that_cannot_hold_the_job_shard_with_fsdp(tmp_path):
    plan, _ = _plan(tmp_path, base="llama-3.1-70b", device="cuda", gpus=4, memory=24 * GB)
    d = plan["distributed"]
    assert (d["strategy"], d["processes"], d["sharding"]) == ("fsdp", 4, "FULL_SHARD")
    assert d["command"].startswith("accelerate launch --num_processes 4 --use_fsdp --fsdp_sharding_strategy FULL_SHARD")
    assert d["speedup"] == round(4 * (1 - COMM_OVERHEAD["fsdp"]), 3)
    assert plan["estimates"]["peak_memory_bytes"] <= 24 * GB


def test_two_nodes_count_every_process_and_the_network(tmp_path):
    plan, _ = _plan(tmp_path, device="cuda", gpus=8, nodes=2, rows=2000)
    d = plan["distributed"]
    assert (d["processes"], d["nodes"], d["per_node"]) == (16, 2, 8)
    assert "--num_machines 2 --machine_rank $NODE_RANK" in d["command"]
    assert d["speedup"] == round(16 * (1 - COMM_OVERHEAD["ddp"]) * (1 - NODE_OVERHEAD), 3)
    assert _global(d) == d["global_batch"]


def test_cpu_processes_are_ddp_over_gloo_with_no_speedup_counted(tmp_path):
    one, _ = _plan(tmp_path / "one")
    two, _ = _plan(tmp_path / "two", processes=2)
    d = two["distributed"]
    assert (d["strategy"], d["processes"], d["backend"], d["speedup"]) == ("ddp", 2, "gloo", 1.0)
    assert d["global_batch"] == one["distributed"]["global_batch"]
    assert two["estimates"]["seconds_breakdown"]["train"] == one["estimates"]["seconds_breakdown"]["train"]
    assert "no speed-up counted" in next(r["because"] for r in two["rules"] if r["id"] == "R-DISTRIBUTED")


def test_more_processes_than_gpus_is_ftr320(tmp_path):
    plan, errors = _plan(tmp_path, device="cuda", gpus=2, processes=4)
    assert plan is None and errors == ["FTR320"]


def test_a_70b_teacher_fits_one_80gb_gpu_in_nf4_and_two_spread(tmp_path):
    kw = dict(teacher="llama-3.1-70b", device="cuda", memory=80 * GB, max_params=10**9)
    one, _ = _plan(tmp_path / "one", **kw)
    two, _ = _plan(tmp_path / "two", gpus=2, **kw)
    t1, t2 = one["distributed"]["teacher"], two["distributed"]["teacher"]
    assert "distill" in one["strategy"] and "distill" in two["strategy"]
    assert (t1["load"], t1["devices"]) == ("nf4", 1) and t1["bytes_per_device"] <= 80 * GB
    assert (t2["load"], t2["devices"]) == ("device_map_auto", 2) and t2["bytes_per_device"] <= 80 * GB
    assert "R-TEACHER-PLACEMENT" in [r["id"] for r in two["rules"]]
    _, errors = _plan(tmp_path / "small", **{**kw, "memory": 24 * GB})
    assert errors == ["FTR317"]


def test_plan_notes_the_local_machine_only_when_a_node_needs_several_processes(tmp_path):
    plan, _ = _plan(tmp_path, device="cuda", gpus=8)
    assert machine_note(plan).startswith("note: this plan needs 8 GPU(s) per node x 1 node(s); this machine has")
    single, _ = _plan(tmp_path / "single")
    assert machine_note(single) is None


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "distributed"


@pytest.mark.parametrize(
    "name,strategy,processes,nodes",
    [("gpus8", "ddp", 8, 1), ("fsdp4", "fsdp", 4, 1), ("nodes2", "ddp", 16, 2), ("cpu2", "ddp", 2, 1)],
)
def test_the_example_recipes_plan_what_the_readme_says(name, strategy, processes, nodes):
    from ftc.compiler.plan.compile import compile_recipe
    from ftc.compiler.plan.render import render_plan

    plan = compile_recipe(FIXTURES / f"{name}.ftr").plan
    d = plan["distributed"]
    assert (d["strategy"], d["processes"], d["nodes"]) == (strategy, processes, nodes)
    assert _global(d) == d["global_batch"]
    text = render_plan(plan)
    assert f"processes: {strategy}" in text and f"global batch {d['global_batch']}" in text
