"""`ftc device profile`: measure the rates the plan's cost model uses on this machine's CPU, with
the embedded model and the runtime's own code paths (``ftc.shared.device_profile`` reads them).

Each figure is timed after a warm-up, so one-off costs (first kernels, allocator growth) are not in
it: a LoRA run of the SFT trainer (the median of the steps after its first), a prompt prefill,
greedy decoding steps at one row and at the plan's batch (the runtime's KV cache and LM head), a
model load, and the imports of a fresh process. About a minute and a half on a 2-core machine.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ftc.shared.device_profile import VERSION

TRAIN_ROWS = 16
TRAIN_BATCH = 4  # the plan's CPU micro-batch (hparams.CPU_BATCH)
TRAIN_STEPS = 4  # the first is a warm-up
PROMPT_WORDS, ANSWER_WORDS = 110, 90  # ~220 tokens a row with the chat template, like a ticket
PREFILL_ROWS, PREFILL_TOKENS = 4, 256
DECODE_CONTEXT, DECODE_STEPS = 300, 16
# The rows a CPU decodes at once: the plan's batch of 8 widened 4x (ftc.shared.decode_batch). A
# step's time grows less than linearly with its rows (1 -> 8 rows added 12% of a step a row here,
# 1 -> 16 rows 8%): the per-row share is measured at the width generation runs at.
WIDE = 32
IMPORTS = "torch, transformers, peft, trl"  # what a run's first model step imports
WORDS = (
    "the order arrived late and the box was damaged so please send a replacement or refund my card "
    "payment today because I need the printer for work next week thanks for the quick help with "
    "this account login error when I reset the password email never comes"
).split()


@dataclass(frozen=True)
class Measured:
    train_tokens_per_s: float
    prefill_tokens_per_s: float
    decode_step_s: float  # one row
    wide_step_s: float  # WIDE rows
    model_load_s: float


def measure(say: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Run every measurement and return the profile (``ftc.shared.device_profile`` format)."""
    import torch

    from ftc.runtime.generate import apply_thread_setting
    from ftc.runtime.models import EMBEDDED_BASE, resolve_model

    apply_thread_setting()
    model_dir = resolve_model(EMBEDDED_BASE)
    say("loading the embedded model")
    load_s, loaded = _load(model_dir)
    params = sum(p.numel() for p in loaded.model.parameters())
    say("prefill and decoding")
    prefill = _prefill_rate(loaded.model)
    one, wide = _decode_step(loaded.model, 1), _decode_step(loaded.model, WIDE)
    del loaded
    say(f"a LoRA run of {TRAIN_STEPS} steps")
    train = _train_rate(model_dir)
    say("importing the libraries in a fresh process")
    imports = _import_seconds()
    m = Measured(train, prefill, one, wide, load_s)
    return {
        "version": VERSION,
        "kind": "cpu",
        "measured_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "processor": _processor(),
        "cores": os.cpu_count() or 1,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "model": EMBEDDED_BASE,
        "params": params,
        "train_flops_per_s": round(4 * params * m.train_tokens_per_s),
        "prefill_flops_per_s": round(2 * params * m.prefill_tokens_per_s),
        "decode_bytes_per_s": round(4 * params / m.decode_step_s),
        "row_step": round(max(0.0, (m.wide_step_s / m.decode_step_s - 1) / (WIDE - 1)), 4),
        "model_load_s": round(m.model_load_s, 2),
        "import_s": round(imports, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "tokens_per_s": {"train": round(m.train_tokens_per_s, 1), "prefill": round(m.prefill_tokens_per_s, 1)},
        "decode_step_ms": {"1": round(one * 1000, 1), str(WIDE): round(wide * 1000, 1)},
    }


def _import_seconds() -> float:
    """Wall seconds a fresh interpreter takes to import what a run's first model step imports (the
    files are in the page cache by now, as they are for a run after this one); the faster of two,
    as an import is CPU-bound work a neighbour's burst easily slows."""
    times = []
    for _ in range(2):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {IMPORTS}"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _load(model_dir: Path):  # noqa: ANN202 - (seconds, generate.Loaded)
    from ftc.runtime.generate import load_model

    load_model(model_dir)  # the first load reads the files from disk; a step's load finds them cached
    start = time.perf_counter()
    loaded = load_model(model_dir)
    return time.perf_counter() - start, loaded


def _tokens(n: int, rows: int, seed: int) -> Any:
    import torch

    return torch.randint(100, 40000, (rows, n), generator=torch.Generator().manual_seed(seed))


def _prefill_rate(model) -> float:  # noqa: ANN001
    import torch

    ids = _tokens(PREFILL_TOKENS, PREFILL_ROWS, 1)
    mask = torch.ones_like(ids)
    times = []
    with torch.inference_mode():
        for _ in range(3):  # the first is a warm-up
            start = time.perf_counter()
            model(input_ids=ids, attention_mask=mask, logits_to_keep=1)
            times.append(time.perf_counter() - start)
    return PREFILL_ROWS * PREFILL_TOKENS / min(times[1:])


def _decode_step(model, rows: int) -> float:  # noqa: ANN001
    """Seconds of one greedy decoding step of ``rows`` rows after a DECODE_CONTEXT-token prompt, as
    ``generate.greedy`` takes it (the runtime's KV cache and LM head, an argmax a step): the prompt
    is read untimed, then DECODE_STEPS steps are timed; the best of two runs. (Timing whole
    generations of different lengths and subtracting left the prefill's noise in the step.)"""
    import torch
    from transformers import DynamicCache

    from ftc.runtime import kv_cache
    from ftc.runtime.greedy_head import argmax_exact_head

    ids = _tokens(DECODE_CONTEXT, rows, 2)
    growing = kv_cache.supports_growing(model)
    best = float("inf")
    with torch.inference_mode(), argmax_exact_head(model):
        for _ in range(2):
            capacity = DECODE_CONTEXT + DECODE_STEPS + 1
            cache = kv_cache.new_cache(model, rows, capacity) if growing else DynamicCache(config=model.config)
            mask = torch.ones_like(ids)
            logits = model(input_ids=ids, attention_mask=mask, cache=cache, logits_to_keep=1).logits
            token, last = logits[:, -1].argmax(-1), torch.full((rows, 1), DECODE_CONTEXT - 1)
            start = time.perf_counter()
            for _ in range(DECODE_STEPS):
                mask, last = torch.cat([mask, mask.new_ones((rows, 1))], 1), last + 1
                logits = model(
                    input_ids=token[:, None], attention_mask=mask, position_ids=last, cache=cache, logits_to_keep=1
                ).logits
                token = logits[:, -1].argmax(-1)
            best = min(best, (time.perf_counter() - start) / DECODE_STEPS)
    return best


def _rows() -> list[Any]:
    from ftc.runtime.prompting import to_example

    rng = random.Random(0)
    rows = []
    for _ in range(TRAIN_ROWS):
        ask = " ".join(rng.choice(WORDS) for _ in range(PROMPT_WORDS))
        answer = " ".join(rng.choice(WORDS) for _ in range(ANSWER_WORDS))
        messages = [{"role": "user", "content": ask}, {"role": "assistant", "content": answer}]
        rows.append(to_example({"messages": messages}, "chat", "Answer the customer."))
    return rows


def _train_rate(model_dir: Path) -> float:
    """Tokens/s of the SFT trainer's LoRA steps after the first (the plan's CPU settings: rank 16
    on every linear layer, no adapter dropout, micro-batch 4), timed between step ends."""
    from transformers import TrainerCallback

    from ftc.runtime.train.sft import build_trainer

    ends: list[float] = []

    class StepClock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN003, ANN201, ARG002
            ends.append(time.perf_counter())

    hp = {
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.0,  # the plan's CPU rule (R-HPARAM-DEFAULTS): no adapter dropout on a CPU
        "target_modules": "all-linear",
        "lr": 2e-4,
        "batch": TRAIN_BATCH,
        "max_steps": TRAIN_STEPS,
        "save_steps": 10_000,
        "max_length": 1024,
        "seed": 1,
    }
    with tempfile.TemporaryDirectory(prefix="ftc-profile-") as tmp:
        trainer, _ = build_trainer(model_dir, _rows(), None, hp, Path(tmp), callbacks=[StepClock()])
        per_row = sum(len(ids) for ids in trainer.train_dataset["input_ids"]) / len(trainer.train_dataset)
        trainer.train()
    steps = [b - a for a, b in zip(ends, ends[1:])]
    if not steps:
        raise RuntimeError(f"the profile's LoRA run ended after {len(ends)} steps")
    # the median step: one step slowed by a neighbour on a shared machine does not move it
    return TRAIN_BATCH * per_row / statistics.median(steps)
