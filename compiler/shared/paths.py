"""Where ftc keeps things on disk, for the compiler and the runtime alike."""

from __future__ import annotations

import os
from pathlib import Path

EMBEDDED_BASE = "smollm2-135m-instruct"


# A relative path or glob that leaves its folder: absolute (/, ~, a drive) or with a `..` component.
# The recipe check (FTR109) and the plan schema refuse the same ones.
LEAVES_FOLDER = r"^(/|~|[A-Za-z]:[\\/])|(^|[\\/])\.\.([\\/]|$)"


def ftc_home() -> Path:
    """``$FTC_HOME`` (``~`` expanded), else ``~/.cache/ftc``: converted models and run caches.
    Absolute: a relative ``FTC_HOME`` means the folder under the directory ftc started in, also for
    what ftc hands to other processes and links (a launched rank, a symlinked home)."""
    return Path(os.environ.get("FTC_HOME") or Path.home() / ".cache" / "ftc").expanduser().absolute()


def model_cache(name: str) -> Path:
    """The folder a model converted or fetched by ftc lives in."""
    return ftc_home() / "models" / name


def rubric_is_file(rubric: str) -> bool:
    """A judge's rubric names a file (one line ending .md or .txt), as ``runtime.judge.rubric_text``
    reads it; any other rubric is the text itself."""
    return "\n" not in rubric and rubric.endswith((".md", ".txt"))
