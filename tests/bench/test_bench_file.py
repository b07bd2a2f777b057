"""`make bench`'s aggregator end to end in quick mode (tiny sizes, one run each): the file it
writes has every figure the benchmark file promises, the machine's description, and a dated copy.
The figures themselves mean nothing at these sizes; the full run is `make bench`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import run_all  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_quick_bench_writes_every_key_with_a_dated_copy(tmp_path: Path) -> None:
    env = dict(os.environ, FTC_BENCH_QUICK="1", FTC_NUM_THREADS=os.environ.get("FTC_NUM_THREADS") or "1")
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run_all.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    dated = [p for p in tmp_path.glob("bench-*.json")]
    assert len(dated) == 1 and json.loads(dated[0].read_text(encoding="utf-8")) == doc
    assert doc["quick"] is True and doc["warnings"][0].startswith("quick mode")
    for key in run_all.KEYS:
        assert doc[key] is not None, key
    machine = doc["machine"]
    assert machine["cores"] == os.cpu_count() and machine["torch_threads"] == int(env["FTC_NUM_THREADS"])
    assert len(machine["load_average_start"]) == 3
    assert machine["matmul"]["fp32_gflops"] > 0 and isinstance(machine["matmul"]["bf16_native"], bool)
    assert doc["sections"]["generate"]["identical"] is True
    run = doc["sections"]["run"]["recipes"][0]
    # the executor recorded the trainer's and the generator's own seconds, and each step's peak RSS
    assert run["work_s"]["train"] > 0 and run["work_s"]["generate"] > 0
    assert 0 < doc["overhead_pct"] < 100 and run["measured_peak_rss_bytes"] > 100 * 2**20
    # the training floor is the plan's training FLOPs at the matmul peak, below what training took
    floor = run["train_floor"]
    assert floor["floor_s"] == doc["quickstart_train_floor_s"] and floor["train_flops"] > 0
    assert floor["floor_s"] == round(floor["train_flops"] / (floor["peak_gflops"] * 1e9), 1)
    assert 0 < floor["share_of_peak"] <= 1.0
    for section in doc["sections"].values():
        assert "load_average_start" in section and isinstance(section["busy"], bool)
