"""Hub dataset names and split slices, shared by the recipe checks, the planner and the runtime.

A data source names a Hugging Face dataset as ``path = "hf://owner/name"``, with an optional
``split`` in the ``datasets`` slice syntax (``train``, ``train[:20%]``, ``train[100:]``). The
checks validate the text, the planner counts the rows a slice keeps without loading anything
(the same arithmetic ``datasets`` uses), and the runtime hands the split to ``load_dataset``.
"""

from __future__ import annotations

import re
from pathlib import Path

PREFIX = "hf://"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
_SPLIT = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)(?:\[(?P<start>-?\d+%?)?:(?P<stop>-?\d+%?)?\])?")
SPLIT_FORMS = "a split name with an optional slice: train, train[:20%], train[10%:], train[:1000]"


def is_hub_path(path: str | Path) -> bool:
    return str(path).startswith(PREFIX)


def hub_dataset(path: str) -> str | None:
    """``hf://owner/name`` -> ``owner/name``; None when the rest is not a repository id."""
    rest = path[len(PREFIX) :].strip("/")
    return rest if _ID.fullmatch(rest) and ".." not in rest else None


def split_problem(split: str) -> str | None:
    """Why ``split`` is not a split the slice syntax allows, or None."""
    m = _SPLIT.fullmatch(split)
    if m is None:
        return f"`{split}` is not a split; write {SPLIT_FORMS}"
    for bound in (m["start"], m["stop"]):
        if bound and bound.endswith("%") and not -100 <= int(bound[:-1]) <= 100:
            return f"`{bound}` is not a percentage between -100% and 100%"
    return None


def percent_slice(split: str) -> tuple[str, float, float] | None:
    """`train[:95%]` -> ("train", 0.0, 95.0): a slice whose bounds are non-negative percentages
    (an open bound is 0% or 100%); None for a whole split, a slice in rows or a negative bound."""
    m = _SPLIT.fullmatch(split.replace(" ", ""))
    if m is None or "[" not in split:
        return None
    bounds = ((m["start"], 0.0), (m["stop"], 100.0))
    if any(b and (not b.endswith("%") or b.startswith("-")) for b, _ in bounds):
        return None
    lo, hi = (float(b[:-1]) if b else default for b, default in bounds)
    return (m["name"], lo, hi) if 0 <= lo < hi <= 100 else None


def split_name(split: str) -> str:
    m = _SPLIT.fullmatch(split)
    return m["name"] if m else split


def _bound(text: str | None, n: int) -> int | None:
    if not text:
        return None
    if text.endswith("%"):
        # datasets' ReadInstruction (rounding "closest"): a percent boundary is round(pct * n / 100)
        return int(round(int(text[:-1]) * n / 100.0))
    return int(text)


def slice_rows(split: str, n: int) -> int:
    """How many of a split's ``n`` rows the slice keeps (Python slice semantics, as datasets)."""
    m = _SPLIT.fullmatch(split)
    if m is None:
        return n
    return len(range(n)[_bound(m["start"], n) : _bound(m["stop"], n)])


# Split sizes the overlap of two slices is tested at: slices in rows and in percent (and negative
# bounds) only compare at a known size, so a pair is disjoint when it is disjoint at every one.
_PROBE_SIZES = (1, 7, 100, 999, 10_007, 1_000_003)


def _rows(split: str, n: int) -> range:
    m = _SPLIT.fullmatch(split)
    return range(n) if m is None else range(n)[_bound(m["start"], n) : _bound(m["stop"], n)]


def splits_overlap(a: str, b: str) -> bool:
    """Whether two splits of one hub dataset can share rows: the same split name, and slices that
    meet at some split size (``train[:95%]`` and ``train[95%:]`` never do; ``train`` and ``test``
    are different splits)."""
    if split_name(a) != split_name(b):
        return False
    for n in _PROBE_SIZES:
        x, y = _rows(a, n), _rows(b, n)
        if len(x) and len(y) and max(x.start, y.start) < min(x.stop, y.stop):
            return True
    return False
