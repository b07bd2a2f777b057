"""The training memory model (R-METHOD-BY-MEMORY): bytes per device for full, LoRA, DoRA and QLoRA.

Precision follows what the runtime does (``ftc.runtime.train.common.model_dtype``): a full tune
loads fp32 master weights on every device and autocasts the compute, so weights, gradients and
AdamW states are fp32 (4 + 4 + 8 = 16 B/param, the transformers docs' mixed-precision figure
less the transient 16-bit weight copy); pure-16-bit AdamW (8 B/param) is never run, so it is
never planned either. LoRA keeps the frozen base (2 B/param bf16)
plus ~16 B per adapter parameter (fp32 weight, grad, two Adam states). QLoRA stores the base in
NF4 with double quantisation (~0.52 B/param) but keeps embeddings and the LM head in bf16.

Activations per token and layer ~ (6h + 4i) values (norm inputs, q/k/v, attention output, the
gated MLP's four intermediates; SDPA keeps no s x s score matrix), in the compute dtype. With
gradient checkpointing only each layer's input is kept, plus one layer recomputed at a time.
The logits (vocab x tokens, plus the fp32 log-softmax and its gradient) are often the largest
single tensor. On CPU the total is scaled by a factor measured on this machine (see below).
"""

from __future__ import annotations

from dataclasses import dataclass

from ftc.compiler.plan.model_table import ModelSpec, linear_shapes

GIB = 1 << 30
NF4_BYTES = 0.516  # 4 bits + double-quantised absmax (block 64): 4.127 bits/param
ADAPTER_BYTES = 16  # fp32 weight 4 + grad 4 + Adam m and v 8
ADAPTER_DTYPE_BYTES = 4  # a frozen adapter copy (DPO's reference): its fp32 weights only
FULL_STATE_BYTES = 4  # a full tune's weights, gradients and each Adam state: fp32 on every device
METHODS = ("full", "lora", "dora", "qlora")
# CUDA: context + cuBLAS workspace. CPU: the Python process with torch and transformers imported
# (231 MB, measured) and what the first forward pass adds beyond the weights (224 MB: the allocator's
# and oneDNN's workspace), with ftc's own modules rounded up.
OVERHEAD = {"cuda": 1 * GIB, "cpu": 480 * 10**6}
# Measured on this machine (2 Zen 5 cores, torch 2.13 CPU, transformers 5, peft 0.21): a LoRA r=16
# all-linear fp32 step of SmolLM2-135M peaks at 1.98 GB RSS for 1 x 192 tokens, 4.16 GB for
# 4 x 192 and 2.93 GB for 4 x 128 (the estimate: 1.89, 4.10, 3.12). The slope, 3.8 MB/token, is 2.2x the fused-kernel count below: eager CPU kernels keep
# norm and rotary intermediates, PEFT keeps a dropout copy of each adapted input, and freed
# blocks stay with the allocator. GPU estimates are checked against ANCHORS.md instead.
CPU_EAGER_FACTOR = 2.2


@dataclass(frozen=True)
class MemoryEstimate:
    method: str
    weights: int
    gradients: int
    optimizer: int
    adapters: int
    activations: int
    overhead: int
    gpus: int = 1  # > 1: weights, gradients, optimizer and adapters are sharded (FSDP FULL_SHARD)
    gradient_checkpointing: bool = False
    # Frozen models held beside the trained one: ("reference", bytes) for DPO/KTO after SFT,
    # ("teacher", bytes) for logit distillation. Empty for SFT, ORPO, and DPO/KTO on a fresh LoRA
    # (their reference is the base with the adapter disabled: no second copy).
    held: tuple[tuple[str, int], ...] = ()

    @property
    def peak(self) -> int:
        """Bytes on the busiest device."""
        return (
            self.weights
            + self.gradients
            + self.optimizer
            + self.adapters
            + self.activations
            + self.overhead
            + sum(b for _, b in self.held)
        )

    def breakdown(self) -> dict[str, int]:
        return {
            "weights": self.weights,
            "gradients": self.gradients,
            "optimizer": self.optimizer,
            "adapters": self.adapters,
            "activations": self.activations,
            "overhead": self.overhead,
            **dict(self.held),
        }


PRECISION_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}  # train.precision -> bytes per weight


def dtype_bytes(device: str) -> int:
    return 2 if device == "cuda" else 4


def adapter_params(spec: ModelSpec, r: int) -> int:
    """LoRA on every linear layer of every block: r x (in + out) per layer."""
    return spec.layers * sum(r * (i + o) for i, o in linear_shapes(spec))


def _embedding_params(spec: ModelSpec) -> int:
    return spec.vocab * spec.hidden * (1 if spec.tied else 2)


def _layer_params(spec: ModelSpec) -> int:
    return sum(i * o for i, o in linear_shapes(spec))


def activation_bytes(spec: ModelSpec, seq_len: int, micro_batch: int, device: str, checkpointing: bool) -> int:
    a = dtype_bytes(device)
    tokens = seq_len * micro_batch
    per_layer = tokens * a * (6 * spec.hidden + 4 * spec.intermediate)
    if checkpointing:
        body = spec.layers * tokens * spec.hidden * a + per_layer
    else:
        body = spec.layers * per_layer
    logits = tokens * spec.vocab * (a + 8)  # logits, fp32 log-softmax kept for backward, fp32 gradient
    return int((body + logits) * (CPU_EAGER_FACTOR if device == "cpu" else 1.0))


def estimate(
    spec: ModelSpec,
    method: str,
    device: str,
    seq_len: int,
    micro_batch: int,
    *,
    lora_r: int = 16,
    checkpointing: bool = False,
    gpus: int = 1,
    precision: str = "auto",
    sequences: int = 1,
    held: tuple[tuple[str, int], ...] = (),
) -> MemoryEstimate:
    """Peak training memory per device. ``gpus`` > 1 shards the states across devices (FSDP).
    ``precision`` (train.precision): the dtype a frozen LoRA/DoRA base loads in (auto: the device's).
    ``sequences``: sequences per row in one forward (2 for DPO and ORPO: chosen and rejected are
    concatenated into one batch); ``held``: frozen models beside it (see ``MemoryEstimate.held``)."""
    if method not in METHODS:
        raise ValueError(f"no memory model for method {method!r}")
    w = dtype_bytes(device)
    p = spec.params
    frozen = PRECISION_BYTES.get(precision, w) if method in ("lora", "dora") else w
    weights, grads, optim, adapters = p * frozen, 0, 0, 0
    extra = 0
    if method == "full":
        # fp32 master weights, gradients and Adam states whatever the device (the runtime's
        # model_dtype): a pure-bf16 estimate halves the truth and plans an OOM.
        weights, grads, optim = p * FULL_STATE_BYTES, p * FULL_STATE_BYTES, 2 * p * FULL_STATE_BYTES
    else:
        n = adapter_params(spec, lora_r)
        if method == "dora":
            n += spec.layers * sum(o for _, o in linear_shapes(spec))  # the magnitude vectors
            extra = _layer_params(spec) * w  # W + BA is materialised per layer to take its norm
        adapters = n * 4
        grads, optim = n * 4, n * 8
        if method == "qlora":
            emb = _embedding_params(spec)
            weights = int((p - emb) * NF4_BYTES) + emb * 2
            extra = _layer_params(spec) * 2  # one layer dequantised to bf16 at a time
    shard = max(1, gpus)
    if shard > 1:
        gathered = FULL_STATE_BYTES if method == "full" else w  # a layer gathers in its parameters' dtype
        extra += _layer_params(spec) * gathered  # FSDP gathers one full layer at a time
    acts = activation_bytes(spec, seq_len, micro_batch * max(1, sequences), device, checkpointing)
    return MemoryEstimate(
        method=method,
        weights=weights // shard,
        gradients=grads // shard,
        optimizer=optim // shard,
        adapters=adapters // shard,
        activations=acts + extra,
        overhead=OVERHEAD.get(device, GIB),
        gpus=shard,
        gradient_checkpointing=checkpointing,
        held=held,
    )


def teacher_logits_bytes(teacher: ModelSpec, seq_len: int, micro_batch: int, device: str) -> int:
    """Logit distillation holds the teacher (weights in the compute dtype) and, each step, its
    logits over the batch in fp32 (the KL reads them in fp32); it keeps no activations (no_grad)."""
    return teacher.params * dtype_bytes(device) + seq_len * micro_batch * teacher.vocab * 4


def inference_bytes(spec: ModelSpec, device: str) -> int:
    """Memory to serve the model (weights + a small KV cache + overhead): for the baseline step."""
    return spec.params * dtype_bytes(device) + OVERHEAD.get(device, GIB)


PERPLEXITY_SCORED = 768  # tokens a window of ftc.runtime.perplexity scores (its stride)
# The fp32 logits of a window's scored positions and the loss's chunk of them (log-softmax): the
# pass peaked 296 MB above a steady state that had forwarded a whole window (measured on the
# embedded model's 49,152-entry vocabulary, the quickstart's general text and holdout answers),
# 2 copies of 768 rows. Windows of 512 gave 234 MB the same way.
LOGIT_COPIES = 2.0


def generation_bytes(
    spec: ModelSpec,
    device: str,
    prompt_tokens: int,
    new_tokens: int,
    batch: int,
    embedder_bytes: int = 0,
    shared: int = 0,
    prefill_rows: int | None = None,
) -> int:
    """Peak of a generation step (baseline, eval): the weights and runtime overhead, then the larger
    of its two phases: generating (the KV cache of a batch of the longest prompts and the
    prefill's transient) and the perplexity pass, which runs after the cache is freed. Measured on
    the reference CPU (each step's peak RSS; the quickstart and two more recipes), weights +
    overhead alone under-estimated it by 20-50%: the prefill of a batch of long few-shot or
    retrieval prompts holds the attention scores (batch x heads x prompt^2) and the gated MLP's
    intermediates; the perplexity pass holds a window's scored logits over the whole vocabulary
    (2 fp32 copies). A nearest-shot search or retrieval also keeps the embedder loaded. ``shared``:
    a prefix every prompt starts with, prefilled once: each row's cache holds a copy of it, each
    row's prefill reads only its own tokens (against the whole prompt). ``prefill_rows``: rows
    whose prompts are read at once, when fewer than the rows decoded together (decode_batch)."""
    a = dtype_bytes(device)
    own = prompt_tokens - min(shared, prompt_tokens)
    kv = batch * spec.layers * 2 * spec.kv_heads * spec.dim_head * (prompt_tokens + new_tokens) * a
    chunk = min(batch, prefill_rows or batch)
    prefill = chunk * (spec.heads * own * prompt_tokens + 3 * own * spec.intermediate) * a
    perplexity = int(PERPLEXITY_SCORED * spec.vocab * 4 * LOGIT_COPIES)
    return inference_bytes(spec, device) + max(kv + prefill, perplexity) + embedder_bytes
