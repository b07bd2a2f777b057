"""Devices, FLOPs, seconds and money (the time and cost rule).

Training FLOPs ~ 6 N tokens for a full tune (forward 2N, backward 4N), ~ 4 N tokens for LoRA and
QLoRA (no weight gradients for the frozen base); inference (baseline, eval, a teacher's
generations) ~ 2 N per token. Seconds = FLOPs / (peak x utilisation). Both numbers are stated
in the plan so a reader can redo the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

from ftc.shared.decode_batch import decode_rows
from ftc.shared.device_profile import CpuProfile

# The reference machine (measured): 2 Zen 5 cores, fp32 matmul 215 GFLOP/s. The CPU
# runtime trains in fp32 (bf16 gained only 1.13-1.15x on a real LoRA step), so fp32 is the peak.
CPU_PEAK_FLOPS = 215e9
# Training's share of the peak, measured: the quickstart's LoRA run trained 133.5 tokens/s, i.e.
# 4 x 134.5M x 133.5 = 72 GFLOP/s (small models spend time outside the big matmuls: the adapters,
# the optimizer, the loss over the 49k-entry head, checkpoints).
CPU_UTILISATION = 0.35
CPU_MEMORY = 16 * 10**9  # assumed when the recipe states none: a 16 GB CI runner or laptop
CPU_BANDWIDTH = 60e9  # bytes/s, a typical dual-channel DDR5 desktop (assumed, not measured)
# Generation on the reference machine (measured by bench/decode_steps.py: the embedded 135M model
# in fp32, two threads, a 300-token context): a prompt's prefill ran at 146 GFLOP/s (68% of the
# peak: no backward pass, no adapters); a batch-1 decoding step read the weights at 8.8 GB/s, far
# below CPU_BANDWIDTH (matrix-vector products), and each further row in a step added 13% of a
# batch-1 step (61 ms at 1 row, 118 ms at 8: the 49k-entry LM head and attention over the context).
CPU_PREFILL_UTILISATION = 0.68
CPU_DECODE_BANDWIDTH = 8.8e9
CPU_ROW_STEP = 0.13
GPU_UTILISATION = 0.4  # model FLOPs utilisation of a typical single-node fine-tune
# Seconds a generation step spends loading its model and tokenizer (measured ~2-3 s here).
MODEL_LOAD_S = 3.0


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_bytes: int
    bf16_flops: float  # dense peak
    usd_per_hour: float  # on-demand cloud price, a round public figure
    bandwidth: float  # memory bytes/s: decoding one token reads every weight once


GB = 10**9
REFERENCE_GPUS: tuple[Gpu, ...] = (
    Gpu("NVIDIA L4 24GB", 24 * GB, 121e12, 0.80, 300e9),
    Gpu("NVIDIA A100 40GB", 40 * GB, 312e12, 1.30, 1.555e12),
    Gpu("NVIDIA A100 80GB", 80 * GB, 312e12, 1.80, 2.0e12),
    Gpu("NVIDIA H200 141GB", 141 * GB, 989e12, 3.50, 4.8e12),
)
DEFAULT_GPU = REFERENCE_GPUS[2]


@dataclass(frozen=True)
class DeviceFacts:
    kind: str  # cpu | cuda
    gpus: int
    memory_bytes: int | None  # per device (stated, or the reference assumed)
    name: str
    peak_flops: float
    utilisation: float
    usd_per_hour: float  # per device
    bandwidth: float  # bytes/s per device
    assumption: str  # one sentence the plan shows
    prefill_flops: float  # FLOP/s reading a prompt (no backward pass, no adapters)
    decode_bandwidth: float  # weight bytes/s of a batch-1 decoding step
    row_step: float  # a further row's share of a batch-1 decoding step
    model_load_s: float = MODEL_LOAD_S
    import_s: float = 0.0  # once a run, in its first model step (the reference folds it into MODEL_LOAD_S)
    profile: CpuProfile | None = None  # measured on this machine (``ftc device profile``)

    @property
    def flops_per_second(self) -> float:
        """One device's: a step runs on one device unless the plan's ``distributed`` section says
        how many processes share it (``estimates`` divides training by that speed-up)."""
        return self.peak_flops * self.utilisation

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "gpus": self.gpus,
            "memory_bytes": self.memory_bytes,
            "name": self.name,
            "peak_flops": self.peak_flops,
            "utilisation": self.utilisation,
            "assumption": self.assumption,
        }
        if self.profile is not None:
            out["profile"] = self.profile.to_json()
        return out


def device_facts(
    kind: str,
    gpus: int = 1,
    memory_bytes: int | None = None,
    profile: CpuProfile | None = None,
    profile_problem: str | None = None,
) -> DeviceFacts:
    """The device the estimates assume. A CPU uses this machine's measured ``profile`` when there
    is one, else the reference machine's constants; ``profile_problem``: why a profile on disk was
    not used (said in the assumption)."""
    if kind == "cpu":
        return _cpu_facts(memory_bytes, profile, profile_problem)
    gpu = _reference_gpu(memory_bytes)
    memory = memory_bytes or gpu.memory_bytes
    stated = "as stated" if memory_bytes else "assumed"
    note = (
        f"{gpus} x {gpu.name}-class GPU: {memory / GB:.0f} GB each ({stated}), {gpu.bf16_flops / 1e12:.0f} TFLOP/s "
        f"bf16 peak, {GPU_UTILISATION:.0%} utilisation, ${gpu.usd_per_hour:.2f}/GPU-hour"
    )
    rate = gpu.bf16_flops * GPU_UTILISATION
    return DeviceFacts(
        "cuda",
        max(1, gpus),
        memory,
        gpu.name,
        gpu.bf16_flops,
        GPU_UTILISATION,
        gpu.usd_per_hour,
        gpu.bandwidth,
        note,
        prefill_flops=rate,
        decode_bandwidth=gpu.bandwidth,
        row_step=0.0,  # a GPU's step barely grows with the batch
    )


def _cpu_facts(memory_bytes: int | None, profile: CpuProfile | None, problem: str | None) -> DeviceFacts:
    memory = memory_bytes or CPU_MEMORY
    stated = (
        f"{memory / GB:.1f} GB memory as stated"
        if memory_bytes
        else f"{memory / GB:.0f} GB memory assumed (a common CI runner; set gpu_memory to state yours)"
    )
    if profile is not None:
        # The plan states a rate as peak x utilisation: a measured rate is its own peak, at 100%.
        note = f"{profile.describe()}; {stated}; local compute, no cost"
        return DeviceFacts(
            "cpu",
            1,
            memory,
            "cpu",
            profile.train_flops_per_s,
            1.0,
            0.0,
            CPU_BANDWIDTH,
            note,
            prefill_flops=profile.prefill_flops_per_s,
            decode_bandwidth=profile.decode_bytes_per_s,
            row_step=profile.row_step,
            model_load_s=profile.model_load_s,
            import_s=profile.import_s,
            profile=profile,
        )
    note = (
        f"CPU at {CPU_PEAK_FLOPS / 1e9:.0f} GFLOP/s fp32 peak (2 Zen 5 cores, measured), "
        f"{CPU_UTILISATION:.0%} utilisation; {stated}; local compute, no cost; "
        + (problem or "`ftc device profile` measures this machine instead")
    )
    return DeviceFacts(
        "cpu",
        1,
        memory,
        "cpu",
        CPU_PEAK_FLOPS,
        CPU_UTILISATION,
        0.0,
        CPU_BANDWIDTH,
        note,
        prefill_flops=CPU_PEAK_FLOPS * CPU_PREFILL_UTILISATION,
        decode_bandwidth=CPU_DECODE_BANDWIDTH,
        row_step=CPU_ROW_STEP,
    )


def _reference_gpu(memory_bytes: int | None) -> Gpu:
    if memory_bytes is None:
        return DEFAULT_GPU
    for gpu in REFERENCE_GPUS:
        if memory_bytes <= gpu.memory_bytes:
            return gpu
    return REFERENCE_GPUS[-1]


def train_flops(params: int, tokens: int, method: str) -> int:
    factor = 6 if method == "full" else 4
    return factor * params * tokens


def inference_flops(params: int, tokens: int) -> int:
    return 2 * params * tokens


def seconds(flops: float, device: DeviceFacts) -> float:
    return flops / device.flops_per_second


def usd(secs: float, device: DeviceFacts) -> float:
    return secs / 3600 * device.usd_per_hour * device.gpus


def decode_step_ms(params: int, batch: int, device: DeviceFacts) -> float:
    """One decoding step of ``batch`` rows: bound by reading the weights once. On a CPU the small
    matrix products run far below the memory's bandwidth and each further row adds to the step
    (``CPU_DECODE_BANDWIDTH``, ``CPU_ROW_STEP``: measured); a GPU's step barely grows with the batch."""
    weight_bytes = params * (2 if device.kind == "cuda" else 4)
    return weight_bytes / device.decode_bandwidth * (1 + device.row_step * (max(1, batch) - 1)) * 1000


def decode_ms(params: int, tokens: int, device: DeviceFacts) -> float:
    """Decoding ``tokens`` new tokens of one response at batch 1."""
    return tokens * decode_step_ms(params, 1, device)


def prefill_ms(params: int, tokens: int, device: DeviceFacts) -> float:
    """Reading a prompt of ``tokens`` tokens: compute-bound, like training's forward pass."""
    return inference_flops(params, tokens) / device.prefill_flops * 1000


def response_ms(params: int, prompt_tokens: int, tokens: int, device: DeviceFacts) -> float:
    """Latency of one request at batch 1: its prompt's prefill, then ``tokens`` decoding steps."""
    return prefill_ms(params, prompt_tokens, device) + decode_ms(params, tokens, device)


def generation_seconds(
    params: int,
    prompts: int,
    prompt_tokens: int,
    new_tokens: int,
    batch: int,
    device: DeviceFacts,
    shared: int = 0,
    kv_token_bytes: int = 0,
) -> float:
    """Greedy answers to ``prompts`` prompts in batches of ``batch`` (ftc.runtime.generate): each
    prompt's prefill, less a prefix of ``shared`` tokens every prompt starts with (computed once),
    then ``new_tokens`` steps a batch (the budget: a prompted model often writes to it). With the
    model's ``kv_token_bytes``, a CPU's batches are widened as the runtime widens them
    (``decode_batch``); without, they hold ``batch``."""
    if prompts <= 0:
        return 0.0
    shared = min(shared, prompt_tokens)
    prefill = prefill_ms(params, prompts * (prompt_tokens - shared) + shared, device)
    if kv_token_bytes:
        batch = decode_rows(batch, prompt_tokens + new_tokens, kv_token_bytes, device.kind)
    batch = max(1, batch)
    full, last = divmod(prompts, batch)  # the last batch holds the rows left over, a cheaper step
    decode = full * decode_step_ms(params, batch, device) + (decode_step_ms(params, last, device) if last else 0.0)
    return (prefill + new_tokens * decode) / 1000
