"""Devices, FLOPs, seconds and money (the time and cost rule).

Training FLOPs ~ 6 N tokens for a full tune (forward 2N, backward 4N), ~ 4 N tokens for LoRA and
QLoRA (no weight gradients for the frozen base); inference (baseline, eval, a teacher's
generations) ~ 2 N per token. Seconds = FLOPs / (peak x utilisation). Both numbers are stated
in the plan so a reader can redo the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

# The reference machine (measured): 2 Zen 5 cores, fp32 matmul 215 GFLOP/s. The CPU
# runtime trains in fp32 (bf16 gained only 1.13-1.15x on a real LoRA step), so fp32 is the peak.
CPU_PEAK_FLOPS = 215e9
CPU_UTILISATION = 0.5  # small models spend time outside the big matmuls (LoRA adapters, the head)
CPU_MEMORY = 16 * 10**9  # assumed when the recipe states none: a 16 GB CI runner or laptop
CPU_BANDWIDTH = 60e9  # bytes/s, a typical dual-channel DDR5 desktop (assumed, not measured)
GPU_UTILISATION = 0.4  # model FLOPs utilisation of a typical single-node fine-tune


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

    @property
    def flops_per_second(self) -> float:
        """One device's: a step runs on one device unless the plan's ``distributed`` section says
        how many processes share it (``estimates`` divides training by that speed-up)."""
        return self.peak_flops * self.utilisation

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "gpus": self.gpus,
            "memory_bytes": self.memory_bytes,
            "name": self.name,
            "peak_flops": self.peak_flops,
            "utilisation": self.utilisation,
            "assumption": self.assumption,
        }


def device_facts(kind: str, gpus: int = 1, memory_bytes: int | None = None) -> DeviceFacts:
    if kind == "cpu":
        memory = memory_bytes or CPU_MEMORY
        note = (
            f"CPU at {CPU_PEAK_FLOPS / 1e9:.0f} GFLOP/s fp32 peak (2 Zen 5 cores, measured), "
            f"{CPU_UTILISATION:.0%} utilisation; "
            + (
                f"{memory / GB:.1f} GB memory as stated"
                if memory_bytes
                else f"{memory / GB:.0f} GB memory assumed (a common CI runner; set gpu_memory to state yours)"
            )
            + "; local compute, no cost"
        )
        return DeviceFacts("cpu", 1, memory, "cpu", CPU_PEAK_FLOPS, CPU_UTILISATION, 0.0, CPU_BANDWIDTH, note)
    gpu = _reference_gpu(memory_bytes)
    memory = memory_bytes or gpu.memory_bytes
    stated = "as stated" if memory_bytes else "assumed"
    note = (
        f"{gpus} x {gpu.name}-class GPU: {memory / GB:.0f} GB each ({stated}), {gpu.bf16_flops / 1e12:.0f} TFLOP/s "
        f"bf16 peak, {GPU_UTILISATION:.0%} utilisation, ${gpu.usd_per_hour:.2f}/GPU-hour"
    )
    return DeviceFacts(
        "cuda", max(1, gpus), memory, gpu.name, gpu.bf16_flops, GPU_UTILISATION, gpu.usd_per_hour, gpu.bandwidth, note
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


def decode_ms(params: int, tokens: int, device: DeviceFacts) -> float:
    """Latency of one response: decoding is bound by reading the weights once per token."""
    weight_bytes = params * (2 if device.kind == "cuda" else 4)
    return tokens * weight_bytes / device.bandwidth * 1000
