"""How many processes train, with which strategy, and how the global batch is split (R-DISTRIBUTED);
where a big teacher goes (R-TEACHER-PLACEMENT).

The plan's ``distributed`` section is decided here from the memory estimate and the device facts:

- one process when one device is granted (``strategy = none``: no launcher, the runtime trains in
  its own process exactly as before);
- DDP over every granted process when the job fits one device (throughput);
- FSDP when it does not (``method._fsdp`` calls ``record_fsdp``): FULL_SHARD, or SHARD_GRAD_OP when
  the unsharded parameters still fit one device (gradients and optimizer states sharded; one
  all-gather fewer per step).

The engine is always accelerate (torch.distributed underneath): ``accelerate launch`` with a config
file the runtime writes into the step folder. ``processes`` in the recipe is per node: CPU
processes on ``device = cpu`` (gloo), at most one per GPU on ``cuda`` (nccl), ``gpus`` by default.
"""

from __future__ import annotations

import math
from typing import Any

from ftc.compiler.plan import memory
from ftc.compiler.plan.model_table import ModelSpec
from ftc.compiler.plan.state import GB, Decisions, Facts

# Share of a step lost to communication, so throughput = processes x (1 - overhead). DDP overlaps
# the gradient all-reduce with the backward pass (Li et al. 2020 report ~90% scaling on 8 GPUs);
# FSDP all-gathers the parameters in forward and backward and reduce-scatters the gradients
# (~80% in the PyTorch FSDP paper's single-node runs). Between machines the network is the
# bottleneck: a further 10% per extra node, on top.
COMM_OVERHEAD = {"none": 0.0, "ddp": 0.10, "fsdp": 0.20}
NODE_OVERHEAD = 0.10
PG_TIMEOUT_S = 1800  # the process-group timeout: a rank stuck in a collective fails after this
WORKER = "ftc.runtime.train.worker"


def layout(f: Facts) -> tuple[int, int]:
    """(nodes, processes per node) the recipe grants; processes on cuda defaults to one per GPU."""
    c = f.recipe.constraints
    nodes = max(1, int(c.nodes or 1))
    if f.device.kind == "cuda":
        return nodes, int(c.processes or f.device.gpus)
    return nodes, int(c.processes or 1)


def check_layout(f: Facts, d: Decisions) -> bool:
    """FTR320: more processes on a node than it has GPUs (each CUDA process owns one GPU)."""
    c = f.recipe.constraints
    if f.device.kind == "cuda" and c.processes is not None and c.processes > f.device.gpus:
        d.error(
            "FTR320",
            f"processes = {c.processes} per node, but gpus = {f.device.gpus}: each CUDA process drives one GPU",
            c.span,
            f"set processes to at most {f.device.gpus}, or raise gpus",
        )
        return False
    return True


def record_fsdp(f: Facts, d: Decisions, est: memory.MemoryEstimate, why: str | None = None) -> None:
    """Nothing fits one device (or, ``why``, the method chosen does not): it fits sharded over the
    node's GPUs (``est``)."""
    limit = f.device.memory_bytes
    unsharded = est.peak - est.weights + est.weights * est.gpus  # SHARD_GRAD_OP keeps whole parameters
    sharding = "SHARD_GRAD_OP" if limit is not None and unsharded <= limit else "FULL_SHARD"
    d.distributed = {"strategy": "fsdp", "sharding": sharding}
    how = (
        "the whole parameters fit one device, so only gradients and optimizer states are sharded"
        if sharding == "SHARD_GRAD_OP"
        else "parameters, gradients and optimizer states are all sharded"
    )
    where = f"{limit / GB:.0f} GB" if limit else "unchecked"
    d.fire(
        "R-FSDP",
        f"{why or 'no method fits'} one {where} device; {est.method} sharded over {est.gpus} GPUs needs "
        f"{est.peak / GB:.1f} GB each; {sharding}: {how}",
    )


def finish(f: Facts, d: Decisions) -> None:
    """The whole ``distributed`` section, for every plan, after the method and batch are decided."""
    nodes, per_node = layout(f)
    processes = nodes * per_node if d.trains else 1
    sharded = d.distributed or {}
    strategy = str(sharded.get("strategy") or ("ddp" if processes > 1 else "none"))
    split = _split_batch(d, processes) if d.trains else None
    out: dict[str, Any] = {
        "engine": "accelerate" if processes > 1 else "none",
        "strategy": strategy,
        "processes": processes,
        "nodes": nodes if d.trains else 1,
        "per_node": per_node if d.trains else 1,
        "sharding": sharded.get("sharding"),
        "backend": (("nccl" if f.device.kind == "cuda" else "gloo") if processes > 1 else None),
        "micro_batch": split[0] if split else None,
        "grad_accum": split[1] if split else None,
        "global_batch": split[2] if split else None,
        "timeout_s": PG_TIMEOUT_S if processes > 1 else None,
        "speedup": round(speedup(f.device.kind, strategy, processes, nodes), 3),
        "command": _command(f, strategy, sharded.get("sharding"), processes, nodes),
        "teacher": teacher_placement(f) if "distill" in d.strategy else None,
    }
    d.distributed = out
    if d.trains:
        d.fire("R-DISTRIBUTED", _because(f, out))
    if out["teacher"] is not None:
        d.fire("R-TEACHER-PLACEMENT", out["teacher"]["reason"])


def speedup(kind: str, strategy: str, processes: int, nodes: int) -> float:
    """How many times faster training runs than on one device. CPU processes on one machine share
    its cores (the CPU peak is the machine's), so only extra machines add compute there."""
    workers = processes if kind == "cuda" else nodes
    if workers <= 1:
        return 1.0
    factor = (1 - COMM_OVERHEAD.get(strategy, 0.0)) * (1 - NODE_OVERHEAD) ** (nodes - 1)
    return max(1.0, workers * factor)


def _split_batch(d: Decisions, processes: int) -> tuple[int, int, int]:
    """(micro-batch, accumulation, global batch): the single-device micro x accumulation the rules
    or the recipe chose is the global batch to keep; each process takes its share."""
    hp = d.hp
    micro, accum = int(hp["batch"]["value"]), int(hp["grad_accum"]["value"])
    target = micro * accum
    if processes <= 1:
        return micro, accum, target
    fixed_micro = hp["batch"]["set_by"] == "recipe"
    fixed_accum = hp["grad_accum"]["set_by"] == "recipe"
    per = max(1, target // processes)  # rows each process contributes per update
    if not fixed_micro:
        micro = max(m for m in range(1, micro + 1) if per % m == 0)
    if not fixed_accum:
        accum = max(1, per // micro)
    total = micro * accum * processes
    note = (
        f"global batch {target} kept: {micro} x {accum} x {processes} processes"
        if total == target
        else f"global batch {total} (asked {target}): {micro} x {accum} x {processes} processes is the closest split"
    )
    if not fixed_micro:
        hp["batch"] = {**hp["batch"], "value": micro, "reason": f"micro-batch per process; {note}"}
    if not fixed_accum:
        hp["grad_accum"] = {**hp["grad_accum"], "value": accum, "reason": note}
    return micro, accum, total


def _command(f: Facts, strategy: str, sharding: Any, processes: int, nodes: int) -> str | None:
    """What the runtime runs (the config file it writes says the same in YAML), for a reader."""
    if processes <= 1:
        return None
    parts = [f"accelerate launch --num_processes {processes}"]
    if strategy == "fsdp":
        parts.append(f"--use_fsdp --fsdp_sharding_strategy {sharding} --fsdp_auto_wrap_policy TRANSFORMER_BASED_WRAP")
    elif f.device.kind == "cuda":
        parts.append("--multi_gpu")
    # CPU processes: the config file's `use_cpu: true` (no CLI flag says it without mpirun).
    parts.append("--config_file STEP/accelerate.yaml")
    if nodes > 1:
        parts.append(
            f"--num_machines {nodes} --machine_rank $NODE_RANK --main_process_ip $MAIN_ADDR "
            "--main_process_port $MAIN_PORT"
        )
    parts.append(f"-m {WORKER} STEP/job.json")
    return " ".join(parts)


def _because(f: Facts, out: dict[str, Any]) -> str:
    n, strategy = out["processes"], out["strategy"]
    batch = f"micro-batch {out['micro_batch']} x accumulation {out['grad_accum']} x {n} = global batch {out['global_batch']}"
    if strategy == "none":
        return f"one process on one {'GPU' if f.device.kind == 'cuda' else 'CPU'}: {batch}; no launcher"
    where = f"{out['nodes']} node(s) x {out['per_node']} process(es)"
    what = (
        "DDP: the job fits one device, every process holds a replica and trains on its share of each batch"
        if strategy == "ddp"
        else f"FSDP {out['sharding']}: the job does not fit one device"
    )
    time = (
        f"time estimate / {out['speedup']:g} ({COMM_OVERHEAD[strategy]:.0%} communication overhead"
        + (f", {NODE_OVERHEAD:.0%} per extra node" if out["nodes"] > 1 else "")
        + ")"
    )
    if f.device.kind == "cpu" and out["nodes"] == 1:
        time = "no speed-up counted: CPU processes on one machine share its cores"
    return f"{what}; {where} over {out['backend']}; {batch}; {time}"


def teacher_placement(f: Facts) -> dict[str, Any] | None:
    """How the teacher is loaded to generate, or None when no way fits (FTR317)."""
    t = f.teacher
    if t is None:
        return None
    limit = f.device.memory_bytes
    whole = memory.inference_bytes(t.spec, f.device.kind)
    if limit is None or whole <= limit:
        dtype = "bf16" if f.device.kind == "cuda" else "fp32"
        return {
            "load": "whole",
            "devices": 1,
            "bytes_per_device": whole,
            "reason": f"the teacher needs {_gb(whole)} in {dtype}: it fits one device",
        }
    if f.device.kind != "cuda":
        return None
    gpus = f.device.gpus
    overhead = memory.OVERHEAD["cuda"]
    spread = math.ceil((whole - overhead) / gpus) + overhead
    if gpus > 1 and spread <= limit:
        return {
            "load": "device_map_auto",
            "devices": gpus,
            "bytes_per_device": spread,
            "reason": f"the teacher needs {_gb(whole)} in bf16, over one {_gb(limit)} GPU; its layers spread over "
            f'{gpus} GPUs (device_map="auto"): {_gb(spread)} each, full precision',
        }
    nf4 = nf4_bytes(t.spec)
    if nf4 <= limit:
        return {
            "load": "nf4",
            "devices": 1,
            "bytes_per_device": nf4,
            "reason": f"the teacher needs {_gb(whole)} in bf16, over "
            + (f"{gpus} x " if gpus > 1 else "one ")
            + f"{_gb(limit)}; 4-bit NF4 (bitsandbytes) needs {_gb(nf4)} on one GPU",
        }
    return None


def _gb(n: float) -> str:
    return f"{n / GB:.1f} GB"


def nf4_bytes(spec: ModelSpec) -> int:
    """Serving bytes of a 4-bit NF4 model: embeddings and head stay bf16, as in QLoRA's loading."""
    emb = spec.vocab * spec.hidden * (1 if spec.tied else 2)
    return int((spec.params - emb) * memory.NF4_BYTES) + emb * 2 + memory.OVERHEAD["cuda"]


# --- the machine that plans or runs -----------------------------------------------------------
def local_gpus() -> int:
    """NVIDIA GPUs visible here, without importing torch (the compiler never does): the device
    nodes the driver creates, narrowed by CUDA_VISIBLE_DEVICES."""
    import glob
    import os

    found = len([p for p in glob.glob("/dev/nvidia[0-9]*") if p[len("/dev/nvidia") :].isdigit()])
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        found = min(found, len([v for v in visible.split(",") if v.strip()]))
    return found


def machine_note(plan: dict[str, Any]) -> str | None:
    """One line for `ftc plan` when a node needs more than one process: what this machine has."""
    dist = plan.get("distributed") or {}
    per_node = int(dist.get("per_node") or 1)
    if per_node <= 1 and int(dist.get("nodes") or 1) <= 1:
        return None
    import os

    kind = plan["device"]["kind"]
    have = f"{os.cpu_count() or 1} CPU core(s), {local_gpus()} GPU(s)"
    unit = "GPU(s)" if kind == "cuda" else "CPU process(es)"
    need = f"{per_node} {unit} per node x {dist.get('nodes')} node(s)"
    return f"note: this plan needs {need}; this machine has {have} (`ftc run` checks the machine that runs it)"
