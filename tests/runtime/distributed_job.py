"""The parent side of a launched training run, as a process the tests can start, kill and rerun:
``python distributed_job.py OUT_DIR PROCESSES NODES`` trains the tiny job of test_distributed.py
through ``ftc.runtime.launch.train_sft`` (the train step's call) and prints its result as JSON.
FTC_NODE_RANK / FTC_MAIN_PORT select the node of a simulated multi-node run."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

from ftc.runtime import launch
from ftc.runtime.models import EMBEDDED_BASE, resolve_model
from ftc.runtime.prompting import to_example
from ftc.shared.errors import FtcError

# Started from a shell in the background (as CI may be), a process inherits SIGINT ignored and the
# Ctrl-C test's signal would be lost: take Python's own handler back, as `ftc run` does.
signal.signal(signal.SIGINT, signal.default_int_handler)

SYS = "You triage tickets. Reply with JSON."
ROWS = [
    to_example(
        {
            "messages": [
                {"role": "user", "content": f"Order {i} is late."},
                {
                    "role": "assistant",
                    "content": json.dumps({"category": "shipping", "priority": "high" if i % 2 else "low"}),
                },
            ]
        },
        "chat",
        SYS,
    )
    for i in range(16)
]
GLOBAL_BATCH = 4
STEPS = 6
HP = {
    "lr": 2e-3,
    "lora_r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "save_steps": 2,
    "seed": 3,
    "max_steps": STEPS,
    "epochs": 10,
    "packing": False,
    "early_stopping": False,
    "batch": 2,
}


def hp_for(processes: int) -> dict:
    """The same global batch (4) at any process count: micro-batch 2 x accumulation x processes."""
    return {**HP, "grad_accum": GLOBAL_BATCH // (HP["batch"] * processes)}


def dist_for(processes: int, nodes: int) -> dict:
    return {
        "engine": "accelerate",
        "strategy": "ddp",
        "processes": processes,
        "nodes": nodes,
        "per_node": processes // nodes,
        "sharding": None,
        "backend": "gloo",
        "timeout_s": 120,
    }


def main(out_dir: str, processes: int, nodes: int) -> int:
    start = time.perf_counter()
    try:
        result = launch.train_sft(
            Path(out_dir),
            dist_for(processes, nodes),
            resolve_model(EMBEDDED_BASE),
            ROWS,
            None,
            hp_for(processes),
            method="lora",
        )
    except FtcError as exc:
        print(json.dumps({"error": exc.message, "exit_code": exc.exit_code}), flush=True)
        return 0 if exc.exit_code == 0 else 1
    losses = [h["loss"] for h in result.history if "loss" in h]
    print(
        json.dumps(
            {
                "losses": losses,
                "global_step": result.global_step,
                "output_dir": str(result.output_dir),
                "wall_s": time.perf_counter() - start,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
