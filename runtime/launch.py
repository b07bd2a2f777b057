"""Run a training step over several processes with `accelerate launch` (plan ``distributed``).

The step writes ``launch/job.json`` (what to train) and ``launch/accelerate.yaml`` into its own
folder and starts ``accelerate launch --config_file ... -m ftc.runtime.train.worker job.json``
in a new session. accelerate's multi-GPU launcher is torchrun (torch.distributed.run): it starts
one worker per process, and when one exits with an error it terminates the others, so a dead
rank never leaves the rest hanging; the process-group timeout (``timeout_s``) covers a rank that
is alive but stuck. CPU processes use the same launcher with ``use_cpu: true`` (gloo): accelerate's
own MULTI_CPU type needs mpirun.

Rank 0 prints its progress as ``FTC-PROGRESS {json}`` lines on stdout; they drive the parent's
progress callback. Each rank writes its stderr to ``launch/rank-N.log`` and, on an exception,
``launch/rank-N.error``: a failure names the rank and its last lines. Ctrl-C, SIGTERM or a
failure kill the launcher's whole process group: no orphan ranks.

Several machines: ``launch/node-K.sh`` (one per node) and ``launch/slurm.sbatch`` are written
here; ``ftc run --node-rank K`` (FTC_NODE_RANK) runs node K's processes, rendezvous at
FTC_MAIN_ADDR:FTC_MAIN_PORT.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ftc.shared import atomic
from ftc.shared.errors import FtcError

WORKER = "ftc.runtime.train.worker"
LAUNCH = "launch"
PROGRESS = "FTC-PROGRESS "
RESULT = "result.json"
ERROR_LINES = 20
KILL_GRACE_S = 10.0


def processes(plan_distributed: dict | None) -> int:
    return int((plan_distributed or {}).get("processes") or 1)


def node_rank() -> int:
    return int(os.environ.get("FTC_NODE_RANK", "0") or 0)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on, for the rendezvous; a clear error when there is none."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            return int(s.getsockname()[1])
    except OSError as exc:
        raise FtcError(
            f"error: no free TCP port on {host} for the processes' rendezvous ({exc}); free one, or set FTC_MAIN_PORT"
        ) from exc


def check_port(host: str, port: int) -> None:
    """Node 0 hosts the rendezvous: the port must be free before the launcher starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise FtcError(
                f"error: port {port} on {host} is taken, and the processes rendezvous there "
                f"({exc}); set FTC_MAIN_PORT to a free port"
            ) from exc


def accelerate_config(dist: dict, *, port: int, addr: str, rank: int, use_cpu: bool) -> dict[str, Any]:
    """The accelerate config file for the plan's strategy (``accelerate launch --config_file``)."""
    fsdp = dist.get("strategy") == "fsdp"
    if fsdp and use_cpu:
        # Checked with accelerate 1.15 + torch 2.13: CPU processes stay MULTI_CPU (plain DDP) with
        # an FSDP config; accelerate switches to FSDP only on accelerator device types. Refused
        # rather than run as something the plan does not say.
        raise FtcError(
            "error: the plan shards with FSDP, which accelerate runs only on GPUs (CUDA); this run has "
            "CPU processes\nhint: re-plan with device = cuda and gpus = N, or without sharding"
        )
    cfg: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "FSDP" if fsdp else "MULTI_GPU",
        "num_machines": int(dist.get("nodes") or 1),
        "machine_rank": rank,
        "num_processes": int(dist["processes"]),
        "main_process_ip": addr,
        "main_process_port": port,
        "rdzv_backend": "static",
        "same_network": True,
        "mixed_precision": "no",  # the trainer's own bf16 setting decides, as in one process
        "use_cpu": use_cpu,
        "gpu_ids": "all",
        "downcast_bf16": "no",
        "tpu_env": [],
        "tpu_use_cluster": False,
        "tpu_use_sudo": False,
    }
    if fsdp:
        cfg["fsdp_config"] = {
            "fsdp_version": 1,
            "fsdp_sharding_strategy": dist.get("sharding") or "FULL_SHARD",
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_backward_prefetch": "BACKWARD_PRE",
            "fsdp_state_dict_type": "SHARDED_STATE_DICT",  # checkpoints without gathering the model on one rank
            "fsdp_offload_params": False,
            "fsdp_sync_module_states": True,  # rank 0 loads the weights, the others receive them
            "fsdp_use_orig_params": True,  # LoRA: frozen and trainable parameters share flat params
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_forward_prefetch": False,
        }
    return cfg


def write_config(folder: Path, cfg: dict[str, Any]) -> Path:
    import yaml

    return atomic.write_text(folder / "accelerate.yaml", yaml.safe_dump(cfg, sort_keys=True))


def launch_command(config: Path, job: Path) -> list[str]:
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config), "-m", WORKER, str(job)]


def write_node_scripts(step_dir: Path, dist: dict) -> None:
    """Per-node launch commands and a Slurm batch script, for a run on several machines, in the
    run folder (the one holding ``plan.json``; the step folder when there is none). They name the
    run's plan by its path here: on a cluster the run folder sits on the shared filesystem."""
    nodes = int(dist.get("nodes") or 1)
    if nodes <= 1:
        return
    run_dir = next(
        (p for p in Path(step_dir).resolve().parents if (p / "plan.json").is_file()), Path(step_dir) / LAUNCH
    )
    plan = run_dir / "plan.json"
    for k in range(nodes):
        atomic.write_text(
            run_dir / f"node-{k}.sh",
            "\n".join(
                [
                    "#!/bin/sh",
                    f"# node {k} of {nodes}: run on that machine, from the project root",
                    "export FTC_MAIN_ADDR=${FTC_MAIN_ADDR:?the address of node 0}",
                    "export FTC_MAIN_PORT=${FTC_MAIN_PORT:-29500}",
                    f"exec ftc run {plan} --node-rank {k}",
                    "",
                ]
            ),
        )
    atomic.write_text(
        run_dir / "slurm.sbatch",
        "\n".join(
            [
                "#!/bin/bash",
                f"#SBATCH --nodes={nodes}",
                "#SBATCH --ntasks-per-node=1",
                f"#SBATCH --gpus-per-node={int(dist.get('per_node') or 1)}",
                "# One ftc per node; node 0 (the first host) hosts the rendezvous and writes the outputs.",
                'export FTC_MAIN_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
                "export FTC_MAIN_PORT=${FTC_MAIN_PORT:-29500}",
                f"srun --kill-on-bad-exit=1 sh -c 'exec ftc run {plan} --node-rank $SLURM_NODEID'",
                "",
            ]
        ),
    )


def run(
    step_dir: Path, job: dict, dist: dict, *, use_cpu: bool, callback: Any = None, env: dict[str, str] | None = None
) -> dict | None:
    """Launch ``job`` over the plan's processes; rank 0's result (None on a node other than 0)."""
    folder = Path(step_dir) / LAUNCH
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [*folder.glob("rank-*.error"), *folder.glob("rank-*.pid"), folder / RESULT]:
        stale.unlink(missing_ok=True)
    rank = node_rank()
    addr = os.environ.get("FTC_MAIN_ADDR", "127.0.0.1")
    port = _port(dist, addr, rank)
    job_path = atomic.write_json(folder / "job.json", {**job, "launch_dir": str(folder)})
    config = write_config(folder, accelerate_config(dist, port=port, addr=addr, rank=rank, use_cpu=use_cpu))
    write_node_scripts(step_dir, dist)
    _supervise(launch_command(config, job_path), folder, callback, env)
    result = folder / RESULT
    return json.loads(result.read_text(encoding="utf-8")) if rank == 0 else None


def _port(dist: dict, addr: str, rank: int) -> int:
    stated = os.environ.get("FTC_MAIN_PORT")
    if int(dist.get("nodes") or 1) > 1 and not stated:
        raise FtcError(
            "error: a run on several nodes needs FTC_MAIN_ADDR and FTC_MAIN_PORT (node 0's address "
            "and a free port on it), the same on every node"
        )
    if not stated:
        return free_port(addr)
    if rank == 0:
        check_port(addr, int(stated))
    return int(stated)


def _supervise(cmd: list[str], folder: Path, callback: Any, env: dict[str, str] | None) -> None:
    """Run the launcher in its own session; replay rank 0's progress; on any failure or
    interrupt, kill the whole group, then report the failing rank."""
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    tail: deque[str] = deque(maxlen=ERROR_LINES)
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        start_new_session=True,
        preexec_fn=_end_with_parent,
    )
    atomic.write_text(folder / "launcher.pid", f"{proc.pid}\n")  # its process group id too (own session)
    reader = threading.Thread(target=_drain, args=(proc.stderr, tail.append), daemon=True)
    reader.start()
    try:
        replay = _Replay(callback)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(PROGRESS):
                replay.event(json.loads(line[len(PROGRESS) :]))
            else:
                tail.append(line.rstrip("\n"))
        code = proc.wait()
    except BaseException:
        kill_group(proc, folder)
        raise
    finally:
        kill_group(proc, folder)  # ranks the launcher left behind, if any
        reader.join(timeout=5)
    if code != 0:
        raise FtcError(failure_message(folder, code, list(tail)))


def _end_with_parent() -> None:
    """In the launcher, before exec: SIGTERM when ftc dies, even by SIGKILL, so torchrun stops
    its ranks instead of leaving them to a parent that is gone (Linux; elsewhere a no-op)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _drain(stream: Any, sink: Callable[[str], None]) -> None:
    for line in stream:
        sink(line.rstrip("\n"))


def kill_group(proc: subprocess.Popen, folder: Path) -> None:
    """End the launcher and every rank: SIGTERM (torchrun then stops its workers), SIGKILL what
    is left after a grace period. torchrun starts each worker in a session of its own, so the
    ranks' groups (``rank-N.pid``, written by each worker) are signalled too."""
    groups = [proc.pid, *_rank_pids(folder)]
    _signal_groups(groups, signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE_S
    while time.monotonic() < deadline:
        if proc.poll() is not None and not any(_group_alive(g) for g in groups):
            return
        time.sleep(0.1)
    _signal_groups(groups, signal.SIGKILL)
    proc.wait()


def _rank_pids(folder: Path) -> list[int]:
    pids = []
    for path in folder.glob("rank-*.pid"):
        try:
            pids.append(int(path.read_text(encoding="utf-8").strip()))
        except (OSError, ValueError):
            continue
    return pids


def _signal_groups(groups: list[int], sig: signal.Signals) -> None:
    for group in groups:
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            continue


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def failure_message(folder: Path, code: int, launcher_tail: list[str]) -> str:
    """The failing rank(s) and their last lines; the launcher's own tail when no rank said why."""
    # The first rank to fail is the cause; the others usually fail because a peer went away.
    errors = sorted(folder.glob("rank-*.error"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    if errors:
        parts = []
        for i, path in enumerate(errors):
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            rank = path.stem.split("-")[1]
            if i == 0:
                parts.append(f"rank {rank} failed first:\n    " + "\n    ".join(lines[-ERROR_LINES:]))
            else:
                parts.append(f"then rank {rank}: " + (lines[-1] if lines else "(no message)"))
        return (
            "error: the distributed training failed (every process was stopped; a rerun resumes from the last "
            "checkpoint)\n  " + "\n  ".join(parts) + f"\n  logs: {folder}/rank-*.log"
        )
    return (
        f"error: the distributed training launcher exited with code {code} (every process was stopped; a rerun "
        "resumes from the last checkpoint); its last lines:\n    "
        + "\n    ".join(launcher_tail[-ERROR_LINES:])
        + f"\n  logs: {folder}/rank-*.log"
    )


class _Replay:
    """Rank 0's trainer events, replayed on the parent's ``TrainerCallback`` (the progress bar)."""

    def __init__(self, callback: Any) -> None:
        self.callback = callback

    def event(self, e: dict) -> None:
        if self.callback is None:
            return
        state = SimpleNamespace(global_step=e.get("global_step", 0), max_steps=e.get("max_steps", 0))
        hook = {"begin": "on_train_begin", "step": "on_step_end", "log": "on_log"}.get(e.get("event", ""))
        if hook is None:
            return
        if hook == "on_log":
            self.callback.on_log(None, state, None, logs=e.get("logs") or {})
        else:
            getattr(self.callback, hook)(None, state, None)


def check_machine(plan: dict, node_rank: int) -> None:
    """Refuse, before any step runs, a plan whose node needs more processes or GPUs than this
    machine has (planning for a bigger machine is fine; running on a smaller one is not)."""
    dist = plan.get("distributed") or {}
    per_node, nodes = int(dist.get("per_node") or 1), int(dist.get("nodes") or 1)
    if node_rank >= nodes:
        raise FtcError(f"error: --node-rank {node_rank}, but the plan runs on {nodes} node(s) (ranks 0-{nodes - 1})", 2)
    if per_node <= 1:
        return
    if plan["device"]["kind"] == "cuda":
        import torch

        have = torch.cuda.device_count() if torch.cuda.is_available() else 0
        what = f"{per_node} GPUs on this node ({dist.get('strategy')}, {dist.get('processes')} processes in all)"
        found = f"{have} CUDA device(s)"
    else:
        have = os.cpu_count() or 1
        what = f"{per_node} CPU processes on this node"
        found = f"{have} CPU core(s)"
    if per_node > have:
        raise FtcError(
            f"error: the plan needs {what}; this machine has {found}\n"
            "hint: run it where the plan's constraints hold, or re-plan with fewer `processes`/`gpus`"
        )


# --- the steps' entry points ------------------------------------------------------------------
def _result(step_dir: Path, job: dict, dist: dict, callback: Any) -> Any:
    from ftc.runtime.train.common import TrainResult

    out = run(step_dir, job, dist, use_cpu=dist.get("backend") != "nccl", callback=callback)
    if out is None:  # a node other than 0: its ranks finished; node 0 holds the outputs
        raise FtcError(
            f"node {node_rank()}: its {dist.get('per_node')} process(es) finished; node 0 wrote the "
            "outputs and runs the rest of the plan",
            0,
        )
    fields = {f.name for f in dataclasses.fields(TrainResult)}  # the worker also reports e.g. cuda_peak_bytes
    return TrainResult(**{k: (Path(v) if k == "output_dir" else v) for k, v in out.items() if k in fields})


def train_sft(
    step_dir: Path,
    dist: dict,
    model_dir: Path,
    train: list,
    val: list | None,
    hp: dict,
    *,
    method: str,
    callback: Any = None,
) -> Any:
    """``ftc.runtime.train.sft.train_sft`` over the plan's processes; the same ``TrainResult``."""
    rows = lambda xs: [{"prompt": list(e.prompt), "completion": e.completion} for e in xs]  # noqa: E731
    job = {
        "kind": "sft",
        "model_dir": str(model_dir),
        "train": rows(train),
        "val": rows(val) if val else None,
        "hp": hp,
        "out_dir": str(step_dir),
        "method": method,
        "timeout_s": dist.get("timeout_s"),
    }
    return _result(step_dir, job, dist, callback)


def train_dpo(
    step_dir: Path,
    dist: dict,
    base: Path,
    rows: list[dict],
    hp: dict,
    *,
    sft_output: Path | None,
    beta: float | None,
    lr: float | None,
    method: str = "lora",
    callback: Any = None,
) -> Any:
    """``ftc.runtime.train.dpo.train_dpo`` over the plan's processes; the same ``TrainResult``."""
    job = {
        "kind": "dpo",
        "model_dir": str(base),
        "rows": rows,
        "hp": hp,
        "out_dir": str(step_dir),
        "sft_output": str(sft_output) if sft_output else None,
        "beta": beta,
        "lr": lr,
        "method": method,
        "timeout_s": dist.get("timeout_s"),
    }
    return _result(step_dir, job, dist, callback)
