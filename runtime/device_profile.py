"""`ftc device profile`: measure the rates the plan's cost model uses on this machine's CPU, with
the embedded model and the runtime's own code paths (``ftc.shared.device_profile`` reads them).

Each figure is timed after a warm-up, so one-off costs (first kernels, allocator growth) are not in
it: a LoRA run of the SFT trainer (the steps after its first), a prompt prefill, and greedy
decoding at one row and at the plan's batch (the runtime's KV cache and LM head). About a minute on
a 2-core machine.
"""

from __future__ import annotations

import os
import platform
import random
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
WIDE = 8  # the plan's generation batch (estimates.BATCH)
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
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "tokens_per_s": {"train": round(m.train_tokens_per_s, 1), "prefill": round(m.prefill_tokens_per_s, 1)},
        "decode_step_ms": {"1": round(one * 1000, 1), str(WIDE): round(wide * 1000, 1)},
    }


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
    """Seconds of one greedy decoding step of ``rows`` rows over a DECODE_CONTEXT-token prompt:
    the runtime's decoder (``generate.greedy``, its KV cache and LM head) run for DECODE_STEPS + 1
    tokens and for 1, the difference over DECODE_STEPS. No stop token: every row runs each step."""
    import torch

    from ftc.runtime import kv_cache
    from ftc.runtime.generate import greedy

    ids = _tokens(DECODE_CONTEXT, rows, 2)
    mask = torch.ones_like(ids)

    def run(new: int) -> float:
        cache = kv_cache.new_cache(model, rows, DECODE_CONTEXT + new) if kv_cache.supports_growing(model) else None
        start = time.perf_counter()
        with torch.inference_mode():
            greedy(model, ids, mask, max_new_tokens=new, stop_ids=[], cache=cache)
        return time.perf_counter() - start

    run(2)  # warm-up
    short = min(run(1) for _ in range(2))
    long = min(run(DECODE_STEPS + 1) for _ in range(2))
    return max(long - short, 1e-6) / DECODE_STEPS


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
    timed = len(ends) - 1
    if timed < 1:
        raise RuntimeError(f"the profile's LoRA run ended after {len(ends)} steps")
    return timed * TRAIN_BATCH * per_row / (ends[-1] - ends[0])
