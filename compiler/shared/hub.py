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
