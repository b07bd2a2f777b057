"""Where a step's time and memory went: seconds inside the trainer and the generator, and the
step's peak RSS. The executor resets both before a step and records them in its step.json, so
``ftc run``'s own overhead (loading, data, scoring, caching) is the wall time less the work, and
the plan's time and memory estimates can be checked against measured figures (``bench/``).

Process-wide on purpose: the trainer and the generator are called from many steps and helpers,
and threading a timer through each call would touch every signature for a figure only the
executor reads. Work done in another process (a distributed launch) is not seen here."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_work: dict[str, float] = {}


def add(kind: str, seconds: float) -> None:
    """Count ``seconds`` of ``kind`` work ("train" or "generate") in the running step."""
    _work[kind] = _work.get(kind, 0.0) + seconds


@contextmanager
def work(kind: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        add(kind, time.perf_counter() - start)


def take() -> dict[str, float]:
    """The work counted since the last ``take``, rounded to milliseconds, and a fresh count."""
    out = {k: round(v, 3) for k, v in sorted(_work.items())}
    _work.clear()
    return out


def release_memory() -> None:
    """Free what earlier steps left before the next one starts: the trainers and models they built
    sit in reference cycles until a full collection, and glibc keeps freed heap pages resident
    until trimmed. Without this a step measured its own peak on top of the earlier steps' leftovers:
    on a shrunk quickstart run the eval step's peak fell from 3,139 MB to 1,883 MB and the export's
    from 2,437 MB to 845 MB (the training step's stayed ~2.8 GB).

    The survivors of that collection (imported modules, the run's own state) are then frozen, so
    the next step's full collections, this one and the libraries' own (accelerate collects as every
    trainer ends), skip them: with torch, transformers, peft and trl imported that is ~385k objects,
    0.38 s a collection, against ~10 ms for what a step builds. ``thaw`` puts them back."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: its allocator returns memory its own way
        pass
    gc.freeze()


def thaw() -> None:
    """Undo ``release_memory``'s freezing, as a run ends: a frozen object that became cyclic garbage
    since (a caller's model released after the run) is collectable again."""
    import gc

    gc.unfreeze()


def reset_peak_rss() -> None:
    """Start a new peak-RSS window (Linux: writing 5 to /proc/self/clear_refs resets VmHWM).
    Elsewhere the peak stays the process's, which is an upper bound."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_bytes() -> int | None:
    """The peak resident set since the last reset (VmHWM), or the process's (getrusage)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak) if sys.platform == "darwin" else int(peak) * 1024
    except (ImportError, OSError):
        return None
