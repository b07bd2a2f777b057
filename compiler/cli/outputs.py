"""Checks on the files a command is told to write (``--out``), made before any work: a typo must
never overwrite a recipe, a data file or anything else that is not an earlier output of the same
kind. Usage errors (exit 2) naming the flag."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

from ftc.shared.errors import UsageError

MAX_OUTPUT_BYTES = 10_000_000  # an earlier output is a few KB; a larger file is something else


def check_output(flag: str, out: str | Path, suffix: str, kind: str, is_ours: Callable[[object], bool]) -> None:
    """``out`` must end in ``suffix``; an existing file there may be replaced only when it holds
    JSON that ``is_ours`` recognises as an earlier output."""
    _refuse_unless_ours(flag, Path(out), suffix, kind, lambda path: _holds(path, is_ours))


def check_text_output(flag: str, out: str | Path, suffix: str, kind: str, marker: str) -> None:
    """``check_output`` for a text output: an existing file may be replaced only when it opens
    with ``marker``, the first line every earlier output of this kind has, or is empty (a file
    made ready for it, as ``mktemp`` does)."""
    _refuse_unless_ours(flag, Path(out), suffix, kind, lambda path: _opens_with(path, marker))


def _refuse_unless_ours(flag: str, target: Path, suffix: str, kind: str, ours: Callable[[Path], bool]) -> None:
    if target.suffix != suffix:
        raise UsageError(f"error: {flag}: {target}: {kind} is written to a *{suffix} file")
    if os.path.lexists(target) and not ours(target):
        raise UsageError(
            f"error: {flag}: {target} exists and is not {kind}; refusing to overwrite it\n"
            "hint: choose another file name, or remove the file first"
        )


def _opens_with(path: Path, marker: str) -> bool:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return False
        if st.st_size == 0:
            return True
        with open(path, "rb") as fh:
            return fh.read(len(marker.encode())).decode("utf-8", "replace") == marker
    except OSError:
        return False


def _holds(path: Path, is_ours: Callable[[object], bool]) -> bool:
    """Whether a regular file of bounded size holds JSON that ``is_ours`` accepts (a FIFO, a
    device, a folder or a broken link is never an earlier output)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_OUTPUT_BYTES:
            return False
        with open(path, "rb") as fh:
            doc = json.loads(fh.read(MAX_OUTPUT_BYTES))
    except (OSError, ValueError, RecursionError):
        return False
    return is_ours(doc)


def is_plan(doc: object) -> bool:
    return isinstance(doc, dict) and "plan_version" in doc


def is_device_profile(doc: object) -> bool:
    return isinstance(doc, dict) and doc.get("kind") == "cpu" and "version" in doc
