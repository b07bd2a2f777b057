"""A measured CPU profile: this machine's own rates, written by ``ftc device profile`` and read by
the planner in place of the reference machine's constants (``ftc.compiler.plan.costs``).

The reference constants describe one 2-core machine; another CPU of the same core count ran the
same LoRA step 1.5x slower and its prompt prefill 1.9x slower, so estimates made with them were off
by 45% there. A profile measures the rates the cost model uses, with the embedded model and the
runtime's own code: training (LoRA tokens/s as FLOP/s), prefill (FLOP/s), a batch-1 decoding
step (weight bytes/s), what each further row adds to a step, the seconds a step spends loading
its model, and the seconds a run's first model step spends importing the libraries. The file is JSON in ``$FTC_HOME/device/cpu.json``; ``FTC_DEVICE_PROFILE`` names another
file, or ``off`` to plan with the reference constants.

The file is input like any other: one that is unreadable, malformed or out of range is not used,
and the plan says why in its device assumption instead of failing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from ftc.shared.paths import ftc_home

ENV = "FTC_DEVICE_PROFILE"
VERSION = 1
MAX_BYTES = 64 * 1024  # a profile is a few hundred bytes; a bigger file is not one
# Plausible ranges: a value outside them is a broken or hand-edited file, not a machine.
RANGES: dict[str, tuple[float, float]] = {
    "train_flops_per_s": (1e8, 1e15),
    "prefill_flops_per_s": (1e8, 1e15),
    "decode_bytes_per_s": (1e7, 1e13),
    "row_step": (0.0, 2.0),
    "model_load_s": (0.0, 600.0),
    "import_s": (0.0, 600.0),
    "threads": (1, 4096),
}


@dataclass(frozen=True)
class CpuProfile:
    path: str
    sha256: str
    measured_at: str
    processor: str
    threads: int
    train_flops_per_s: float  # a LoRA step: 4 x params x tokens/s
    prefill_flops_per_s: float  # reading a prompt: 2 x params x tokens/s
    decode_bytes_per_s: float  # fp32 weight bytes / one batch-1 decoding step
    row_step: float  # what each further row adds to a decoding step, as a share of a batch-1 step
    model_load_s: float
    import_s: float  # a run's first model step imports torch, transformers, peft and trl

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "sha256": self.sha256, "measured_at": self.measured_at}

    def describe(self) -> str:
        return (
            f"CPU profiled on this machine ({self.processor}, {self.threads} threads, {self.measured_at[:10]}, "
            f"{self.path}): LoRA training {self.train_flops_per_s / 1e9:.0f} GFLOP/s, prefill "
            f"{self.prefill_flops_per_s / 1e9:.0f} GFLOP/s, decoding {self.decode_bytes_per_s / 1e9:.1f} GB/s "
            f"(+{self.row_step:.0%} a row), model load {self.model_load_s:.1f} s, imports {self.import_s:.1f} s"
        )


def default_path() -> Path:
    return ftc_home() / "device" / "cpu.json"


def wanted_path() -> Path | None:
    """The profile the planner reads: ``FTC_DEVICE_PROFILE`` (a path, or off), else the default."""
    value = os.environ.get(ENV, "").strip()
    if value.lower() in ("off", "none", "0", "false"):
        return None
    return Path(value).expanduser() if value else default_path()


def load() -> tuple[CpuProfile | None, str | None]:
    """(the profile, None), (None, why it was not used), or (None, None) when there is none."""
    path = wanted_path()
    if path is None or (not path.exists() and not os.environ.get(ENV, "").strip()):
        return None, None
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as err:
        return None, f"the device profile {path} could not be read ({err.strerror or err})"
    if len(raw) > MAX_BYTES:
        return None, f"the device profile {path} is larger than {MAX_BYTES // 1024} KB: not a profile"
    try:
        return parse(raw, str(path)), None
    except ValueError as err:
        return None, f"the device profile {path} was not used: {err}; run `ftc device profile` again"


def parse(raw: bytes, path: str) -> CpuProfile:
    """A profile from a file's bytes; ValueError says what is wrong with it."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"not JSON ({err})") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if data.get("version") != VERSION:
        raise ValueError(f"version {data.get('version')!r}, this ftc reads version {VERSION}")
    if data.get("kind") != "cpu":
        raise ValueError(f"kind {data.get('kind')!r}, not 'cpu'")
    values = {key: _number(data, key, low, high) for key, (low, high) in RANGES.items()}
    return CpuProfile(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        measured_at=_text(data, "measured_at"),
        processor=_text(data, "processor"),
        threads=int(values.pop("threads")),
        **values,
    )


def _number(data: dict[str, object], key: str, low: float, high: float) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"'{key}' is {json.dumps(value)}, not a number")
    if not low <= value <= high:
        raise ValueError(f"'{key}' = {value:g} is outside {low:g}..{high:g}")
    return float(value)


def _text(data: dict[str, object], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ValueError(f"'{key}' is missing or not a short string")
    # The processor's name is shown in the plan: printable characters only.
    return "".join(ch if ch.isprintable() else "?" for ch in value.strip())
